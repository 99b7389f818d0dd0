// Kriti: Hasura's JSON template language (hasura/kriti-lang @ daf56ed),
// re-implemented for switchyard's template_routes plugin.
//
// Include as "kriti/kriti.hpp" (kriti_dep adds plugins/template_routes to the
// include path).
//
// A template is compiled once into an immutable Program and evaluated many
// times, concurrently if wanted, each evaluation with its own Arena:
//
//   kriti::Program *prog;
//   kriti::Error err;
//   if (!kriti::compile(src, len, kriti::Limits{}, kriti::default_allocator(), &prog, &err)) ...
//   alignas(16) char stack[4096];
//   kriti::Arena arena(kriti::default_allocator(), stack, sizeof stack);
//   kriti::Binding b{"$", 1, input};
//   kriti::Value out;
//   if (!kriti::eval(prog, &b, 1, kriti::builtins(), arena, kriti::Limits{}, &out, &err)) ...
//   ... use out (valid while prog, input and arena live) ...
//   arena.reset();
//   kriti::program_free(prog);
//
// Nothing here throws, uses RTTI or calls global new/malloc: every allocation
// goes through the Allocator given to compile() or to the Arena.
//
// Differences from upstream, on purpose:
//  - Parse errors carry the offending token's real span (upstream reports the
//    end of input); "ParseError: Empty token stream." spans from the end of
//    the last token to the end of input; a lex error spans the offending
//    character and its message quotes the whole template only as far as the
//    message buffer allows.
//  - Things that crash upstream are Function Errors: tail([]), tail(""),
//    inverse(0), and inverse(x) when 1/x has no finite decimal expansion
//    (inverse(3)): upstream's Scientific division throws there, so we refuse
//    deterministically rather than return a rounded double.
//  - Numbers are IEEE doubles (upstream: arbitrary-precision Scientific).
//    Integer literals wrap modulo 2^64 like upstream's Int; a number literal
//    outside the double range is a Limit Error.
//  - A \uXXXX escape naming a lone UTF-16 surrogate becomes U+FFFD (upstream
//    crashes while decoding it); templates must be valid UTF-8 (else Lex Error).
//  - Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic
//    (U+0000-U+017F, U+0370-U+03FF, U+0400-U+04FF), including the special
//    cases there (ß -> SS/Ss/ss, ŉ, İ, ı, ſ, ς, µ); other characters are left
//    as they are (upstream: all of Unicode).
//  - Limits (below) bound every template and every evaluation; exceeding one
//    is a "Limit Error". An allocator failure is a "Memory Error". Neither is
//    caught by an optional chain's `?` (Kriti errors in its base are).
//  - Object literals keep their first duplicate key (as upstream); objects in
//    values keep insertion order (upstream's are unordered maps), and object
//    members are evaluated in source order (upstream: hash order), which only
//    decides which of two errors in one object is reported.
//
// Kept as upstream: && and || evaluate both sides; `\/` in a string yields the
// two characters `\/`; binary operators take atoms and do not chain;
// {{ else }} is mandatory; functions are only those in the FunctionTable
// passed to eval (nullptr: none, so even `not` is a Name Error, as runEval).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kriti {

// ---------------------------------------------------------------- allocator

// alloc returns memory aligned to align (a power of two, at most 16) or
// nullptr; free receives the size that was asked for. Must be thread-safe if
// Programs or Arenas sharing it are used from several threads.
struct Allocator {
    void *(*alloc)(size_t size, size_t align, void *ud);
    void (*free)(void *p, size_t size, void *ud);
    void *ud;
};

// malloc/free: for tests and tools.
const Allocator &default_allocator();

// ---------------------------------------------------------------- values

enum class Type : uint8_t { Null, False, True, Number, String, Array, Object };

struct Member;

// A JSON value. Strings are UTF-8, length-aware and not NUL-terminated.
// Objects keep insertion order and have unique keys. A Value never owns its
// storage: it points into an Arena, a Program or the caller's data.
struct Value {
    Type type = Type::Null;
    uint32_t len = 0;  // bytes of a string, elements of an array or object
    union {
        double num;
        const char *str;
        const Value *items;
        const Member *members;
    };

    Value() : num(0) {}
    static Value null() { return Value(); }
    static Value boolean(bool b) {
        Value v;
        v.type = b ? Type::True : Type::False;
        return v;
    }
    static Value number(double d) {
        Value v;
        v.type = Type::Number;
        v.num = d;
        return v;
    }
    static Value string(const char *s, uint32_t n) {
        Value v;
        v.type = Type::String;
        v.len = n;
        v.str = s;
        return v;
    }
    static Value array(const Value *items, uint32_t n) {
        Value v;
        v.type = Type::Array;
        v.len = n;
        v.items = items;
        return v;
    }
    static Value object(const Member *members, uint32_t n) {
        Value v;
        v.type = Type::Object;
        v.len = n;
        v.members = members;
        return v;
    }
    bool is_bool() const { return type == Type::True || type == Type::False; }
};

struct Member {
    const char *key;
    uint32_t key_len;
    Value value;
};

// The member named key, or nullptr.
const Value *find_member(const Value &object, const char *key, size_t key_len);

// Structural JSON equality (aeson's Eq): numbers by value, objects unordered.
bool equal(const Value &a, const Value &b);
// aeson's Ord Value: Object < Array < String < Number < Bool < Null between
// types; within a type, objects compare as their key-sorted member lists,
// arrays and strings lexicographically (strings by code point), false < true.
int compare(const Value &a, const Value &b);

// ---------------------------------------------------------------- arena

// A bump allocator. The first block may be the caller's buffer (e.g. 4 KB on
// the stack, 16-byte aligned); further blocks come from the Allocator when
// it fills up. reset() rewinds to the start and KEEPS the grown blocks for
// reuse, so a warmed-up arena serves later evaluations without allocating;
// release() (and the destructor) frees the grown blocks. Not thread-safe: one
// Arena per thread / evaluation.
class Arena {
public:
    explicit Arena(const Allocator &a, void *buffer = nullptr, size_t buffer_size = 0);
    ~Arena();
    Arena(const Arena &) = delete;
    Arena &operator=(const Arena &) = delete;

    // nullptr when the Allocator fails.
    void *alloc(size_t size, size_t align);
    void reset();
    void release();
    // Bytes handed out since the last reset() (with alignment padding).
    size_t used() const { return used_; }
    // Blocks obtained from the Allocator and still held.
    size_t grown_blocks() const;
    const Allocator &allocator() const { return a_; }

private:
    struct Block;
    Allocator a_;
    Block *grown_ = nullptr;    // allocated blocks, in order of use
    Block *current_ = nullptr;  // block being filled
    char *buf_ = nullptr;
    size_t buf_size_ = 0;
    char *ptr_ = nullptr;
    char *end_ = nullptr;
    size_t used_ = 0;
    bool in_first_ = false;
    void *grow(size_t size, size_t align);
};

// ---------------------------------------------------------------- errors

struct Span {
    // Line 0-based, column 1-based, end exclusive; columns count code points.
    uint32_t start_line = 0, start_col = 1, end_line = 0, end_col = 1;
};

enum class ErrorCode : uint8_t {
    None,
    InvalidPath,     // "Invalid Path" (upstream never raises it)
    AttributeError,  // "Attribute Error"
    NameError,       // "Name Error"
    TypeError,       // "Type Error"
    IndexError,      // "Index Error"
    ParseError,      // "Parse Error"
    LexError,        // "Lex Error"
    FunctionError,   // "Function Error"
    LimitError,      // "Limit Error"  (ours: a Limits bound was exceeded)
    MemoryError,     // "Memory Error" (ours: the Allocator failed)
};

constexpr size_t kErrorMessageMax = 512;

struct Error {
    ErrorCode code = ErrorCode::None;
    Span span;
    char message[kErrorMessageMax];  // NUL-terminated, truncated on a UTF-8 boundary
    // Not zero-filled: an Error sits on the stack of every evaluation.
    Error() { message[0] = '\0'; }
};

const char *error_code_name(ErrorCode code);

// Upstream's serialized form:
// {"error_code":"Parse Error","message":"...","source_position":{"start_line":0,...}}
// Writes at most cap bytes (NUL-terminated when cap > 0); returns the length
// the whole text needs, without the NUL.
size_t write_error_json(const Error &err, char *buf, size_t cap);

// ---------------------------------------------------------------- limits

// Templates are untrusted input: every resource they can consume is bounded.
struct Limits {
    size_t max_template_bytes = 64 * 1024;
    // Nesting of the syntax tree (and of the lexer's {{ / " modes). Parser
    // and evaluator recurse at most this deep, a few hundred bytes of C
    // stack per level; values above kMaxDepthCap are treated as kMaxDepthCap.
    uint32_t max_depth = 64;
    // range iterations, all ranges of one evaluation together
    uint64_t max_range_iterations = 10000;
    // Arena bytes one evaluation may take (the output and its temporaries)
    size_t max_output_bytes = 1024 * 1024;
    // Length of any string an evaluation builds
    size_t max_string_bytes = 64 * 1024;
    // Work units of one evaluation: one per node evaluated plus the elements
    // and bytes functions, comparisons and lookups walk (bounds CPU time)
    uint64_t max_eval_steps = 1000000;
};

constexpr uint32_t kMaxDepthCap = 1000;

// ---------------------------------------------------------------- JSON text

// Parses RFC 8259 JSON into arena memory (strings are copied, UTF-8 checked,
// \u escapes decoded with surrogate pairs joined and lone ones as U+FFFD).
// Duplicate object keys: the last value wins, at the first key's position.
// Errors are Parse Errors with the position. max_depth bounds nesting.
bool parse_json(const char *text, size_t len, Arena &arena, Value *out, Error *err,
                uint32_t max_depth = 512);

// Compact JSON as aeson encodes it: integral numbers without ".0", others in
// the shortest form that reads back exactly, in aeson's notation (0.1 <= |x|
// < 10^7 fixed, else 1.5e-2 style). Writes at most cap bytes and NUL-
// terminates when cap > 0; returns the length the whole text needs (without
// the NUL): the output is complete when the result < cap.
size_t write_json(const Value &v, char *buf, size_t cap);

// ---------------------------------------------------------------- programs

struct Program;

// Compiles a template. On success *out owns the syntax tree (allocated with
// allocator, which must outlive it) and is immutable: many threads may
// evaluate it at once. On failure *out is nullptr and err says why (Parse,
// Lex, Limit or Memory Error).
bool compile(const char *src, size_t len, const Limits &limits, const Allocator &allocator,
             Program **out, Error *err);
void program_free(Program *program);

// A variable of the evaluation context; upstream binds the input to "$".
// Later bindings shadow earlier ones of the same name.
struct Binding {
    const char *name;
    size_t name_len;
    Value value;
};

// ---------------------------------------------------------------- functions

// Handed to a function: allocation from the evaluation's arena (within its
// limits) and error reporting.
class CallContext {
public:
    // nullptr (with the Limit or Memory Error already set) when it fails.
    void *alloc(size_t size, size_t align);
    // A string of len bytes may be built (else Limit Error set, false).
    bool check_string(size_t len);
    // Charges work units against max_eval_steps (false: Limit Error set).
    bool charge(uint64_t units);
    // Sets a Function Error with this message; returns false. (Not "fail":
    // CMocka defines that as a macro.)
    bool error(const char *fmt, ...) __attribute__((format(printf, 2, 3)));

    void *impl_;  // the evaluator
};

// Returns false after setting an error through ctx.
using FunctionFn = bool (*)(CallContext &ctx, const Value &arg, Value *out);

struct FunctionEntry {
    const char *name;
    FunctionFn fn;
};

struct FunctionTable {
    const FunctionEntry *entries;
    size_t count;
};

// The 15 functions of upstream's basicFuncMap: empty size inverse head tail
// toCaseFold toLower toUpper toTitle escapeUri toPairs fromPairs removeNulls
// concat not.
const FunctionTable *builtins();

// ---------------------------------------------------------------- evaluation

// Evaluates program against the bindings. functions: nullptr for none (like
// upstream's runEval). The result lives in arena and may point into program
// and into the bindings' values: it is valid while all three are. On failure
// err says why and the arena holds garbage until reset(). With a caller
// buffer large enough for the temporaries (4 KB for a typical routing
// template) an evaluation makes no Allocator call.
//
// slots: values for the chains bind_paths() bound (nullptr: evaluate them
// as lookups on `$`, which then must be bound whole). See Slots.
struct Slots;
bool eval(const Program *program, const Binding *bindings, size_t binding_count,
          const FunctionTable *functions, Arena &arena, const Limits &limits, Value *out,
          Error *err, Slots *slots = nullptr);

// ---------------------------------------------------------------- analysis

struct PathStep {
    const char *key;
    uint32_t key_len;
    bool optional;  // reached through `?` (a miss gives null, not an error)
};

using PathCallback = void (*)(const PathStep *steps, size_t count, const Span &span, void *ud);

// Calls back once for every lookup chain rooted at the variable `$` (not
// rebound by a range) whose leading steps are literal keys (.key, ['key'],
// ["key"]), with those leading keys (at least one) and the span of the chain
// up to the last of them. E.g. `$.connection_set.tenant_a[$.i]` gives
// [connection_set, tenant_a] (and [i] for the index). Useful to check at
// config load that every `$.connection_set.<name>` a template uses exists.
// A use of `$` whole, or through a computed first key, calls back with no
// steps (count 0): then any part of `$` may be read.
// Needs ~24 KB of scratch from the Program's Allocator: false if that fails.
bool for_each_path(const Program *program, PathCallback callback, void *ud);

// ---------------------------------------------------------------- bound paths

// A host that builds `$` from its own data can answer the lookups it knows
// without building it: `$.request.headers?['x-tenant']` becomes one read of
// a slot the host filled from the request. bind_paths() offers the host
// every chain for_each_path() reports, once each, with `bindable` true when
// the chain is exactly its keys: `$`, literal required keys (.k, ['k']),
// then, if any, one `?` with literal keys after it (the steps marked
// optional) ending the chain. The callback returns a slot number for a
// bindable chain it wants to serve, or -1 to leave it a lookup on `$`. A
// slot stands for "the value the keys reach, or absent", so with optional
// steps the host must bind only when the value before them is always an
// object, an array, null or missing: `?` on a string is a Type Error. Call it once, after compile()
// and before the Program is shared. A bound chain keeps its parsed form: an
// eval() without slots evaluates it as before.
using BindCallback = int32_t (*)(const PathStep *steps, size_t count, bool bindable, void *ud);
bool bind_paths(Program *program, BindCallback callback, void *ud);

// What eval() reads bound chains from: values[slot], nullptr for a value
// that is absent. Absent through `?` (the chain's last node) is null, as
// the lookup would give. Absent on a required chain is the lookup's error,
// whose exact kind and message only the lookup on `$` can tell: eval sets
// `missed` and fails. When eval fails with missed set, evaluate again
// without slots and with `$` bound whole (the answer is then upstream's).
struct Slots {
    const Value *const *values;
    bool missed = false;
};

}  // namespace kriti
