// Fuzz target: Kriti evaluation. An input is a template, optionally
// followed by a NUL byte and a JSON context bound to `$` (without one, or if
// it does not parse, a fixed context shaped like the conformance
// source.json). It checks that
//  - evaluation with the built-ins either gives a value that re-serialises
//    and reads back equal, or a runtime or Limit Error with a message and a
//    well-formed span;
//  - the arena never holds more than Limits::max_output_bytes;
//  - evaluating again in the reset arena gives the same answer and, the
//    arena being warm, makes no allocation;
//  - with an allocation failure injected (for some inputs) the answer is
//    the same, or a Memory Error;
//  - with every chain it can bound to its value in the context (bind_paths,
//    kriti/bind_context.hpp), evaluating from slots — and again without
//    them when a required bound value was absent — gives the same answer
//    (up to Limit Errors: a bound chain costs fewer work units);
//  - nothing stays allocated.
#include <cstdint>
#include <cstring>

#include "kriti/bind_context.hpp"
#include "kriti_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

struct Outcome {
    bool ok = false;
    kriti::Error err;
};

bool same_error(const kriti::Error &a, const kriti::Error &b) {
    return a.code == b.code && std::strcmp(a.message, b.message) == 0;
}

}  // namespace

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > kfuzz::kMaxInput) return 0;
    const char *in = reinterpret_cast<const char *>(data);
    const char *nul = static_cast<const char *>(std::memchr(in, 0, size));
    size_t tmpl_len = nul ? static_cast<size_t>(nul - in) : size;
    uint64_t h = kfuzz::hash(data, size);
    kriti::Limits limits = kfuzz::limits();

    kfuzz::reset(0);
    kriti::Program *prog = nullptr;
    kriti::Error err;
    if (!kriti::compile(in, tmpl_len, limits, kfuzz::allocator(), &prog, &err)) {
        kfuzz::check_error("compile", err, true);
        kfuzz::check_no_leak("failed compile");
        return 0;
    }

    kriti::Arena ctx_arena(kfuzz::allocator());
    kriti::Value context = kfuzz::default_context();
    if (nul) {
        kriti::Value parsed;
        kriti::Error jerr;
        if (kriti::parse_json(nul + 1, size - tmpl_len - 1, ctx_arena, &parsed, &jerr, 256))
            context = parsed;
        else if (jerr.code != kriti::ErrorCode::ParseError)
            kfuzz::invariant("parse_json: %s", kriti::error_code_name(jerr.code));
    }
    kriti::Binding b{"$", 1, context};

    // the reference run, then the same in the warm arena
    Outcome ref;
    size_t allocs_in_eval;
    alignas(16) char stack[4096];
    {
        kriti::Arena arena(kfuzz::allocator(), stack, sizeof stack);
        kriti::Value out;
        size_t before = kfuzz::counts.allocs;
        ref.ok = kriti::eval(prog, &b, 1, kriti::builtins(), arena, limits, &out, &ref.err);
        allocs_in_eval = kfuzz::counts.allocs - before;
        if (arena.used() > limits.max_output_bytes) kfuzz::invariant("arena use %zu over the limit", arena.used());
        if (ref.ok) {
            kfuzz::check_roundtrip(out);
        } else {
            kfuzz::check_error("eval", ref.err, false);
        }
        arena.reset();
        before = kfuzz::counts.allocs;
        kriti::Value again;
        kriti::Error err2;
        bool ok2 = kriti::eval(prog, &b, 1, kriti::builtins(), arena, limits, &again, &err2);
        if (ok2 != ref.ok) kfuzz::invariant("a second evaluation disagrees");
        if (ok2 && !kriti::equal(out, again)) kfuzz::invariant("a second evaluation gives another value");
        if (!ok2 && !same_error(err2, ref.err)) kfuzz::invariant("a second evaluation gives another error");
        if (kfuzz::counts.allocs != before) kfuzz::invariant("a warm arena allocated %zu times", kfuzz::counts.allocs - before);
    }

    // one allocation of a fresh evaluation fails
    if (allocs_in_eval > 0 && h % 4 == 0) {
        kfuzz::reset(1 + (h >> 8) % allocs_in_eval);
        kriti::Arena arena(kfuzz::allocator(), stack, sizeof stack);
        kriti::Value out;
        kriti::Error err3;
        bool ok3 = kriti::eval(prog, &b, 1, kriti::builtins(), arena, limits, &out, &err3);
        if (!kfuzz::counts.injected) kfuzz::invariant("the injected failure did not happen");
        // the same steps as the reference up to the failing allocation, so
        // nothing but a Memory Error can come out
        if (ok3) kfuzz::invariant("an evaluation succeeded despite an allocation failure");
        if (err3.code != kriti::ErrorCode::MemoryError)
            kfuzz::invariant("an allocation failure gave %s: %s", kriti::error_code_name(err3.code), err3.message);
        kfuzz::check_error("eval with a failed allocation", err3, false);
    }
    // the same template with its chains bound to slots
    kriti::Program *bound = nullptr;
    kriti::Error berr;
    kfuzz::reset(0);
    if (!kriti::compile(in, tmpl_len, limits, kfuzz::allocator(), &bound, &berr))
        kfuzz::invariant("a second compile failed: %s", berr.message);
    kriti::ContextBinder binder(context);
    if (!kriti::bind_paths(bound, kriti::ContextBinder::bind, &binder)) kfuzz::invariant("bind_paths failed");
    {
        kriti::Arena arena(kfuzz::allocator(), stack, sizeof stack);
        kriti::Arena ref_arena(kfuzz::allocator());
        kriti::Value want, got;
        kriti::Error e1, e2;
        bool ok1 = kriti::eval(prog, &b, 1, kriti::builtins(), ref_arena, limits, &want, &e1);
        kriti::Slots slots{binder.values};
        bool ok2 = kriti::eval(bound, &b, 1, kriti::builtins(), arena, limits, &got, &e2, &slots);
        if (!ok2 && slots.missed) {
            arena.reset();
            ok2 = kriti::eval(bound, &b, 1, kriti::builtins(), arena, limits, &got, &e2);
        }
        bool limited = (!ok1 && e1.code == kriti::ErrorCode::LimitError) ||
                       (!ok2 && e2.code == kriti::ErrorCode::LimitError);
        if (!limited) {
            if (ok1 != ok2)
                kfuzz::invariant("bound chains: %s where lookups %s", ok2 ? "a value" : e2.message,
                                 ok1 ? "give a value" : e1.message);
            if (ok1 && !kriti::equal(want, got)) kfuzz::invariant("bound chains give another value");
            if (!ok1 && !same_error(e1, e2))
                kfuzz::invariant("bound chains give another error: %s, not %s", e2.message, e1.message);
        }
    }
    kriti::program_free(bound);
    ctx_arena.release();
    kriti::program_free(prog);
    kfuzz::check_no_leak("compile + eval");
    return 0;
}
