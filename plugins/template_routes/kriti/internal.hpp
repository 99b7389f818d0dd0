// Helpers shared by the library's files; not part of the public API.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <new>

#include "kriti/kriti.hpp"

namespace kriti::detail {

// Sets code, span and a printf-formatted message (truncated on a UTF-8
// boundary). Returns false so callers can `return fail(...)`.
bool set_error(Error *err, ErrorCode code, const Span &span, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool set_error_v(Error *err, ErrorCode code, const Span &span, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

inline Span join(const Span &a, const Span &b) {
    Span s;
    bool a_first = a.start_line < b.start_line ||
                   (a.start_line == b.start_line && a.start_col <= b.start_col);
    s.start_line = a_first ? a.start_line : b.start_line;
    s.start_col = a_first ? a.start_col : b.start_col;
    bool a_last = a.end_line > b.end_line || (a.end_line == b.end_line && a.end_col >= b.end_col);
    s.end_line = a_last ? a.end_line : b.end_line;
    s.end_col = a_last ? a.end_col : b.end_col;
    return s;
}

template <typename T>
T *arena_array(Arena &arena, size_t n) {
    if (n == 0) n = 1;  // a valid, distinct pointer even for empty arrays
    if (n > SIZE_MAX / sizeof(T)) return nullptr;
    void *p = arena.alloc(n * sizeof(T), alignof(T));
    if (!p) return nullptr;
    T *t = static_cast<T *>(p);
    for (size_t i = 0; i < n; i++) new (t + i) T();
    return t;
}

// ---------------------------------------------------------------- UTF-8

// Decodes one code point at s[0..n) (n > 0). Returns its byte length, or 0
// when the bytes are not well-formed UTF-8 (overlongs, surrogates and values
// above U+10FFFF included).
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
// Encodes cp (<= 0x10FFFF) into out[4]; returns the byte count.
size_t utf8_encode(uint32_t cp, char *out);
// Code points in s (s must be valid UTF-8).
size_t utf8_count(const char *s, size_t n);
// Byte length of the code point starting at s[0] (s valid UTF-8).
inline size_t utf8_len(unsigned char lead) {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
// The largest prefix of s[0..n) that does not cut a code point.
size_t utf8_trim(const char *s, size_t n);

// Data.Char.isSpace: \t \n \v \f \r and Unicode category Zs.
bool is_space(uint32_t cp);
// Data.Char.isLetter, for the ranges the case tables cover (others: false
// unless clearly a letter block).
bool is_letter(uint32_t cp);

enum class CaseMap { Lower, Upper, Title, Fold };
// Full case mapping of one code point: writes 1..3 code points to out and
// returns how many.
size_t case_map(uint32_t cp, CaseMap m, uint32_t out[3]);

// ---------------------------------------------------------------- values

const char *type_name(const Value &v);  // aeson's: Object, Array, String, Number, Boolean, Null

// Shortest decimal digits of a finite, nonzero |d|: value = 0.DIGITS * 10^exp.
// Returns the digit count (<= 17).
int shortest_digits(double d, char digits[32], int *exp);
// Writes a number the aeson way into out (at least 400 bytes); returns length.
size_t format_number(double d, char *out);

// Removes duplicate keys in place (keeping each key's first position) with
// either the first or the last value, updating *n. scratch: room for *n
// indices when *n > kDedupeInline (unused, may be nullptr, otherwise).
constexpr uint32_t kDedupeInline = 16;
void dedupe_members(Member *m, uint32_t *n, bool keep_last, uint32_t *scratch);

// Work units against a limit. Walks that exhaust it stop early with a
// meaningless answer: the caller reports the limit instead.
struct Budget {
    uint64_t used = 0;
    uint64_t limit = UINT64_MAX;
    bool exhausted() const { return used > limit; }
};

// Equality and ordering that charge the budget per element and key visited
// (nullptr: uncharged and unbounded).
bool equal_counted(const Value &a, const Value &b, Budget *budget);
int compare_counted(const Value &a, const Value &b, Budget *budget);

}  // namespace kriti::detail

namespace kriti::detail {

// Compact JSON of v (no NUL): its length, and writing it into exactly that
// many bytes.
size_t json_length(const Value &v);
void json_emit(const Value &v, char *out);

// ---------------------------------------------------------------- decisions

struct Node;
// A Bound node's value from the slots: the slot's value, null when absent
// through `?`; false when a required value is absent (the lookup on `$`
// must then tell its error).
bool read_bound(const Node *n, const Slots &s, Value *out);
// n is an if/elif/else over comparisons of bound values and literals down
// to bound values or literals (decide.cpp).
bool is_decision(const Node *n);
// Evaluates such a program from the slots; false when a required bound
// value is absent (the general evaluator must then tell its error).
bool decide(const Node *n, const Slots &s, Value *out);

}  // namespace kriti::detail
