// The JSON value model: lookup, aeson's Eq and Ord, aeson's number format,
// JSON text in and out.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "internal.hpp"
#include "value.hpp"

namespace kriti {

using namespace detail;

const Value *find_member(const Value &object, const char *key, size_t key_len) {
    if (object.type != Type::Object) return nullptr;
    for (uint32_t i = 0; i < object.len; i++) {
        const Member &m = object.members[i];
        // the first byte before the call: most members differ there
        if (m.key_len == key_len && (key_len == 0 || (m.key[0] == key[0] && std::memcmp(m.key, key, key_len) == 0)))
            return &m.value;
    }
    return nullptr;
}

bool equal(const Value &a, const Value &b) { return equal_counted(a, b, nullptr); }
int compare(const Value &a, const Value &b) { return compare_counted(a, b, nullptr); }

namespace detail {

const char *type_name(const Value &v) {
    switch (v.type) {
    case Type::Object: return "Object";
    case Type::Array: return "Array";
    case Type::String: return "String";
    case Type::Number: return "Number";
    case Type::True:
    case Type::False: return "Boolean";
    case Type::Null: return "Null";
    }
    return "Null";
}

namespace {

bool same_key(const Member &a, const Member &b) {
    return a.key_len == b.key_len && (a.key_len == 0 || std::memcmp(a.key, b.key, a.key_len) == 0);
}

int compare_bytes(const char *a, size_t an, const char *b, size_t bn) {
    size_t n = an < bn ? an : bn;
    int c = n ? std::memcmp(a, b, n) : 0;  // UTF-8 byte order is code point order
    if (c) return c < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

// aeson's constructor order
int rank(Type t) {
    switch (t) {
    case Type::Object: return 0;
    case Type::Array: return 1;
    case Type::String: return 2;
    case Type::Number: return 3;
    case Type::False:
    case Type::True: return 4;
    case Type::Null: return 5;
    }
    return 5;
}

// The member with the smallest key greater than `after` (nullptr: the
// smallest), or nullptr. Objects have unique keys, so this walks them in
// key order without scratch memory.
const Member *next_in_order(const Value &o, const Member *after, Budget *steps) {
    const Member *best = nullptr;
    if (steps) steps->used += o.len;
    for (uint32_t i = 0; i < o.len; i++) {
        const Member *m = &o.members[i];
        if (after && compare_bytes(m->key, m->key_len, after->key, after->key_len) <= 0) continue;
        if (!best || compare_bytes(m->key, m->key_len, best->key, best->key_len) < 0) best = m;
    }
    return best;
}

}  // namespace

bool equal_counted(const Value &a, const Value &b, Budget *steps) {
    if (steps && ++steps->used > steps->limit) return false;
    if (a.type != b.type) return false;
    switch (a.type) {
    case Type::Null:
    case Type::False:
    case Type::True: return true;
    case Type::Number: return a.num == b.num;
    case Type::String:
        if (steps) steps->used += a.len / 64;
        return a.len == b.len && (a.len == 0 || std::memcmp(a.str, b.str, a.len) == 0);
    case Type::Array:
        if (a.len != b.len) return false;
        if (a.items == b.items) return true;
        for (uint32_t i = 0; i < a.len; i++)
            if (!equal_counted(a.items[i], b.items[i], steps)) return false;
        return !(steps && steps->exhausted());
    case Type::Object:
        if (a.len != b.len) return false;
        if (a.members == b.members) return true;
        for (uint32_t i = 0; i < a.len; i++) {
            const Member &m = a.members[i];
            const Value *other;
            if (same_key(m, b.members[i])) {
                other = &b.members[i].value;
            } else {
                if (steps && (steps->used += b.len) > steps->limit) return false;
                other = find_member(b, m.key, m.key_len);
                if (!other) return false;
            }
            if (!equal_counted(m.value, *other, steps)) return false;
        }
        return true;
    }
    return false;
}

int compare_counted(const Value &a, const Value &b, Budget *steps) {
    if (steps && ++steps->used > steps->limit) return 0;
    int ra = rank(a.type), rb = rank(b.type);
    if (ra != rb) return ra < rb ? -1 : 1;
    switch (a.type) {
    case Type::Null: return 0;
    case Type::False:
    case Type::True: return a.type == b.type ? 0 : a.type == Type::False ? -1 : 1;
    case Type::Number: return a.num < b.num ? -1 : a.num > b.num ? 1 : 0;
    case Type::String:
        if (steps) steps->used += (a.len < b.len ? a.len : b.len) / 64;
        return compare_bytes(a.str, a.len, b.str, b.len);
    case Type::Array:
        if (a.items == b.items && a.len == b.len) return 0;
        for (uint32_t i = 0; i < a.len && i < b.len; i++) {
            if (steps && steps->exhausted()) return 0;
            int c = compare_counted(a.items[i], b.items[i], steps);
            if (c) return c;
        }
        return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
    case Type::Object: {
        // Map's Ord: the ascending (key, value) lists, lexicographically
        if (a.members == b.members && a.len == b.len) return 0;
        const Member *ma = next_in_order(a, nullptr, steps);
        const Member *mb = next_in_order(b, nullptr, steps);
        while (ma && mb) {
            int c = compare_bytes(ma->key, ma->key_len, mb->key, mb->key_len);
            if (c) return c;
            c = compare_counted(ma->value, mb->value, steps);
            if (c) return c;
            if (steps && steps->exhausted()) return 0;
            ma = next_in_order(a, ma, steps);
            mb = next_in_order(b, mb, steps);
        }
        return ma ? 1 : mb ? -1 : 0;
    }
    }
    return 0;
}

// ---------------------------------------------------------------- numbers

int shortest_digits(double d, char digits[32], int *exp) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific);
    int n = 0;
    const char *p = buf;
    for (; p < r.ptr && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && n < 31) digits[n++] = *p;
    int e = 0;
    if (p < r.ptr) std::from_chars(p + (p[1] == '+' ? 2 : 1), r.ptr, e);
    while (n > 1 && digits[n - 1] == '0') n--;
    digits[n] = 0;
    *exp = e + 1;
    return n;
}

size_t format_number(double d, char *out) {
    size_t n = 0;
    if (d == 0 || !std::isfinite(d)) {  // -0 prints as 0; non-finite never reaches here
        out[0] = '0';
        return 1;
    }
    if (d < 0) out[n++] = '-';
    double a = std::fabs(d);
    if (a < 9223372036854775808.0 && a == std::floor(a)) {
        uint64_t v = static_cast<uint64_t>(a);
        char tmp[24];
        int k = 0;
        while (v) {
            tmp[k++] = static_cast<char>('0' + v % 10);
            v /= 10;
        }
        while (k) out[n++] = tmp[--k];
        return n;
    }
    char digits[32];
    int e;
    int nd = shortest_digits(a, digits, &e);
    if (a == std::floor(a)) {  // integral beyond 2^63: digits then zeros, as aeson
        std::memcpy(out + n, digits, static_cast<size_t>(nd));
        n += static_cast<size_t>(nd);
        for (int i = nd; i < e; i++) out[n++] = '0';
        return n;
    }
    if (e < 0 || e > 7) {  // Scientific's Generic format: d.ddde<e-1>
        out[n++] = digits[0];
        out[n++] = '.';
        if (nd == 1) {
            out[n++] = '0';
        } else {
            std::memcpy(out + n, digits + 1, static_cast<size_t>(nd - 1));
            n += static_cast<size_t>(nd - 1);
        }
        out[n++] = 'e';
        auto r = std::to_chars(out + n, out + n + 8, e - 1);
        return static_cast<size_t>(r.ptr - out);
    }
    if (e == 0) {
        out[n++] = '0';
        out[n++] = '.';
        std::memcpy(out + n, digits, static_cast<size_t>(nd));
        return n + static_cast<size_t>(nd);
    }
    // 0 < e <= 7 and not integral, so nd > e
    std::memcpy(out + n, digits, static_cast<size_t>(e));
    n += static_cast<size_t>(e);
    out[n++] = '.';
    std::memcpy(out + n, digits + e, static_cast<size_t>(nd - e));
    return n + static_cast<size_t>(nd - e);
}

NumberStatus parse_number(const char *s, size_t n, double *out) {
    auto r = std::from_chars(s, s + n, *out, std::chars_format::general);
    if (r.ec == std::errc() && r.ptr == s + n) return std::isfinite(*out) ? NumberStatus::Ok : NumberStatus::Overflow;
    if (r.ec != std::errc::result_out_of_range) return NumberStatus::Invalid;
    // Out of range: overflow or underflow? Compare the decimal magnitude.
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    long mag = 0;
    bool seen = false, dot = false;
    for (; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            dot = true;
            continue;
        }
        if (s[i] != '0') seen = true;
        if (!dot && seen) mag++;
        if (dot && !seen) mag--;
    }
    long e = 0;
    if (i < n) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
        for (; i < n; i++) {
            if (e < 100000) e = e * 10 + (s[i] - '0');
        }
        if (eneg) e = -e;
    }
    if (!seen || mag + e <= 0) {
        *out = neg ? -0.0 : 0.0;
        return NumberStatus::Ok;
    }
    return NumberStatus::Overflow;
}

// ---------------------------------------------------------------- dedupe

void dedupe_members(Member *m, uint32_t *count, bool keep_last, uint32_t *idx) {
    uint32_t n = *count;
    if (n < 2) return;
    if (n <= kDedupeInline) {
        uint32_t out = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t j = 0;
            while (j < out && !same_key(m[j], m[i])) j++;
            if (j < out) {
                if (keep_last) m[j].value = m[i].value;
                continue;
            }
            m[out++] = m[i];
        }
        *count = out;
        return;
    }
    for (uint32_t i = 0; i < n; i++) idx[i] = i;
    std::sort(idx, idx + n, [m](uint32_t a, uint32_t b) {
        int c = compare_bytes(m[a].key, m[a].key_len, m[b].key, m[b].key_len);
        return c < 0 || (c == 0 && a < b);
    });
    bool any = false;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && same_key(m[idx[i]], m[idx[j]])) j++;
        if (j - i > 1) {
            any = true;
            if (keep_last) m[idx[i]].value = m[idx[j - 1]].value;
            for (uint32_t k = i + 1; k < j; k++) m[idx[k]].key = nullptr;  // dropped
        }
        i = j;
    }
    if (!any) return;
    uint32_t out = 0;
    for (uint32_t i = 0; i < n; i++)
        if (m[i].key) m[out++] = m[i];
    *count = out;
}

}  // namespace detail

// ---------------------------------------------------------------- write_json

namespace {

struct Writer {
    char *buf;
    size_t cap;
    size_t n = 0;
    void put(const char *s, size_t len) {
        if (n < cap) {
            size_t room = cap - 1 - n;  // keep one byte for the NUL
            std::memcpy(buf + n, s, len < room ? len : room);
        }
        n += len;
    }
    void ch(char c) { put(&c, 1); }
};

void write_string(Writer &w, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    w.ch('"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        w.put(s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': w.put("\\\"", 2); break;
        case '\\': w.put("\\\\", 2); break;
        case '\n': w.put("\\n", 2); break;
        case '\r': w.put("\\r", 2); break;
        case '\t': w.put("\\t", 2); break;
        default: {  // aeson: other controls as \u00xx, lowercase hex
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            w.put(e, 6);
        }
        }
    }
    w.put(s + run, len - run);
    w.ch('"');
}

void write_value(Writer &w, const Value &v) {
    switch (v.type) {
    case Type::Null: w.put("null", 4); break;
    case Type::False: w.put("false", 5); break;
    case Type::True: w.put("true", 4); break;
    case Type::Number: {
        char tmp[400];
        w.put(tmp, format_number(v.num, tmp));
        break;
    }
    case Type::String: write_string(w, v.str, v.len); break;
    case Type::Array:
        w.ch('[');
        for (uint32_t i = 0; i < v.len; i++) {
            if (i) w.ch(',');
            write_value(w, v.items[i]);
        }
        w.ch(']');
        break;
    case Type::Object:
        w.ch('{');
        for (uint32_t i = 0; i < v.len; i++) {
            if (i) w.ch(',');
            write_string(w, v.members[i].key, v.members[i].key_len);
            w.ch(':');
            write_value(w, v.members[i].value);
        }
        w.ch('}');
        break;
    }
}

}  // namespace

size_t detail::json_length(const Value &v) {
    Writer w{nullptr, 0};
    write_value(w, v);
    return w.n;
}

void detail::json_emit(const Value &v, char *out) {
    Writer w{out, SIZE_MAX};
    write_value(w, v);
}

size_t write_json(const Value &v, char *buf, size_t cap) {
    Writer w{buf, cap};
    write_value(w, v);
    if (cap > 0) buf[w.n < cap ? w.n : cap - 1] = 0;
    return w.n;
}

// ---------------------------------------------------------------- parse_json

namespace {

// Children of the containers being parsed wait on one stack; a container
// that closes moves its own into an exact-size arena array. The stack starts
// on the C stack and grows through the arena's Allocator.
struct JsonParser {
    const char *s;
    size_t n;
    size_t i = 0;
    Arena &arena;
    Error *err;
    uint32_t max_depth;
    Member inline_stack[64];
    Member *stack = inline_stack;
    size_t top = 0;
    size_t cap = 64;
    const char *what = nullptr;  // error, if any
    size_t where = 0;

    JsonParser(const char *text, size_t len, Arena &a, Error *e, uint32_t d)
        : s(text), n(len), arena(a), err(e), max_depth(d) {}
    ~JsonParser() {
        if (stack != inline_stack) arena.allocator().free(stack, cap * sizeof(Member), arena.allocator().ud);
    }

    bool fail(const char *msg, size_t at) {
        if (!what) {
            what = msg;
            where = at;
        }
        return false;
    }

    bool push(const Member &m) {
        if (top == cap) {
            size_t ncap = cap * 2;
            const Allocator &a = arena.allocator();
            auto *ns = static_cast<Member *>(a.alloc(ncap * sizeof(Member), alignof(Member), a.ud));
            if (!ns) return fail("out of memory", i);
            std::memcpy(static_cast<void *>(ns), stack, top * sizeof(Member));
            if (stack != inline_stack) a.free(stack, cap * sizeof(Member), a.ud);
            stack = ns;
            cap = ncap;
        }
        stack[top++] = m;
        return true;
    }

    void ws() {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    }

    bool literal(const char *word, size_t len) {
        if (n - i < len || std::memcmp(s + i, word, len) != 0) return fail("invalid literal", i);
        i += len;
        return true;
    }

    static int hexval(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    bool hex4(size_t at, uint32_t *v) {
        if (n - at < 4) return false;
        uint32_t r = 0;
        for (size_t k = 0; k < 4; k++) {
            int h = hexval(s[at + k]);
            if (h < 0) return false;
            r = r << 4 | static_cast<uint32_t>(h);
        }
        *v = r;
        return true;
    }

    // Decodes the string at s[i] (after the quote) into out (nullptr: just
    // validate and measure). Leaves i after the closing quote when out is set.
    bool string_body(char *out, size_t *len) {
        size_t j = i, o = 0;
        while (true) {
            if (j >= n) return fail("unterminated string", i - 1);
            unsigned char c = static_cast<unsigned char>(s[j]);
            if (c == '"') break;
            if (c < 0x20) return fail("control character in string", j);
            if (c == '\\') {
                if (j + 1 >= n) return fail("unterminated string", i - 1);
                char e = s[j + 1];
                char simple = 0;
                switch (e) {
                case '"': simple = '"'; break;
                case '\\': simple = '\\'; break;
                case '/': simple = '/'; break;
                case 'b': simple = '\b'; break;
                case 'f': simple = '\f'; break;
                case 'n': simple = '\n'; break;
                case 'r': simple = '\r'; break;
                case 't': simple = '\t'; break;
                case 'u': break;
                default: return fail("invalid escape", j);
                }
                if (simple) {
                    if (out) out[o] = simple;
                    o++;
                    j += 2;
                    continue;
                }
                uint32_t cp;
                if (!hex4(j + 2, &cp)) return fail("invalid \\u escape", j);
                j += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (n - j >= 6 && s[j] == '\\' && s[j + 1] == 'u' && hex4(j + 2, &lo) && lo >= 0xDC00 &&
                        lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        j += 6;
                    } else {
                        cp = 0xFFFD;
                    }
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    cp = 0xFFFD;
                }
                char tmp[4];
                size_t k = utf8_encode(cp, tmp);
                if (out) std::memcpy(out + o, tmp, k);
                o += k;
                continue;
            }
            size_t k = 1;
            if (c >= 0x80) {
                uint32_t cp;
                k = utf8_decode(reinterpret_cast<const unsigned char *>(s + j), n - j, &cp);
                if (!k) return fail("invalid UTF-8", j);
            }
            if (out) std::memcpy(out + o, s + j, k);
            o += k;
            j += k;
        }
        if (o > UINT32_MAX) return fail("string too long", i);
        *len = o;
        if (out) i = j + 1;
        return true;
    }

    bool string(const char **str, uint32_t *len) {
        i++;  // the quote
        size_t need;
        if (!string_body(nullptr, &need)) return false;
        char *p = static_cast<char *>(arena.alloc(need ? need : 1, 1));
        if (!p) return fail("out of memory", i);
        size_t got;
        if (!string_body(p, &got)) return false;
        *str = p;
        *len = static_cast<uint32_t>(got);
        return true;
    }

    bool number(Value *out) {
        size_t start = i;
        if (s[i] == '-') i++;
        if (i >= n || s[i] < '0' || s[i] > '9') return fail("invalid number", start);
        if (s[i] == '0') {
            i++;
        } else {
            while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        }
        if (i < n && s[i] == '.') {
            i++;
            if (i >= n || s[i] < '0' || s[i] > '9') return fail("invalid number", start);
            while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            if (i < n && (s[i] == '+' || s[i] == '-')) i++;
            if (i >= n || s[i] < '0' || s[i] > '9') return fail("invalid number", start);
            while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        }
        double d;
        NumberStatus st = parse_number(s + start, i - start, &d);
        if (st == NumberStatus::Overflow) return fail("number out of range", start);
        if (st != NumberStatus::Ok) return fail("invalid number", start);
        *out = Value::number(d);
        return true;
    }

    bool value(Value *out, uint32_t depth) {
        ws();
        if (i >= n) return fail("unexpected end of input", i);
        char c = s[i];
        switch (c) {
        case 'n':
            *out = Value::null();
            return literal("null", 4);
        case 't':
            *out = Value::boolean(true);
            return literal("true", 4);
        case 'f':
            *out = Value::boolean(false);
            return literal("false", 5);
        case '"': {
            const char *p;
            uint32_t len;
            if (!string(&p, &len)) return false;
            *out = Value::string(p, len);
            return true;
        }
        case '[':
        case '{': {
            if (depth >= max_depth) return fail("nesting too deep", i);
            bool obj = c == '{';
            char close = obj ? '}' : ']';
            i++;
            size_t base = top;
            ws();
            if (i < n && s[i] == close) {
                i++;
            } else {
                while (true) {
                    Member m{nullptr, 0, Value()};
                    if (obj) {
                        ws();
                        if (i >= n || s[i] != '"') return fail("expected a string key", i);
                        if (!string(&m.key, &m.key_len)) return false;
                        ws();
                        if (i >= n || s[i] != ':') return fail("expected ':'", i);
                        i++;
                    }
                    if (!value(&m.value, depth + 1)) return false;
                    if (!push(m)) return false;
                    ws();
                    if (i < n && s[i] == ',') {
                        i++;
                        continue;
                    }
                    if (i < n && s[i] == close) {
                        i++;
                        break;
                    }
                    return fail(obj ? "expected ',' or '}'" : "expected ',' or ']'", i);
                }
            }
            size_t count = top - base;
            if (count > UINT32_MAX) return fail("container too large", i);
            if (obj) {
                Member *ms = arena_array<Member>(arena, count);
                if (!ms) return fail("out of memory", i);
                std::memcpy(static_cast<void *>(ms), stack + base, count * sizeof(Member));
                uint32_t k = static_cast<uint32_t>(count);
                uint32_t *scratch = nullptr;
                if (k > kDedupeInline) {
                    scratch = static_cast<uint32_t *>(arena.alloc(sizeof(uint32_t) * k, alignof(uint32_t)));
                    if (!scratch) return fail("out of memory", i);
                }
                dedupe_members(ms, &k, true, scratch);
                *out = Value::object(ms, k);
            } else {
                Value *vs = arena_array<Value>(arena, count);
                if (!vs) return fail("out of memory", i);
                for (size_t k = 0; k < count; k++) vs[k] = stack[base + k].value;
                *out = Value::array(vs, static_cast<uint32_t>(count));
            }
            top = base;
            return true;
        }
        default:
            if (c == '-' || (c >= '0' && c <= '9')) return number(out);
            return fail("unexpected character", i);
        }
    }
};

// Line (0-based) and column (1-based, code points) of byte offset at.
Span position_of(const char *s, size_t n, size_t at) {
    Span sp;
    uint32_t line = 0, col = 1;
    for (size_t k = 0; k < at && k < n; k++) {
        unsigned char c = static_cast<unsigned char>(s[k]);
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    sp.start_line = sp.end_line = line;
    sp.start_col = col;
    sp.end_col = at < n ? col + 1 : col;
    return sp;
}

}  // namespace

bool parse_json(const char *text, size_t len, Arena &arena, Value *out, Error *err, uint32_t max_depth) {
    JsonParser p(text, len, arena, err, max_depth);
    Value v;
    bool ok = p.value(&v, 0);
    if (ok) {
        p.ws();
        if (p.i < len) ok = p.fail("trailing characters after the value", p.i);
    }
    if (!ok) {
        Span sp = position_of(text, len, p.where);
        ErrorCode code = std::strcmp(p.what, "out of memory") == 0 ? ErrorCode::MemoryError : ErrorCode::ParseError;
        return set_error(err, code, sp, "Invalid JSON: %s at line %u, column %u", p.what, sp.start_line,
                         sp.start_col);
    }
    *out = v;
    return true;
}

}  // namespace kriti
