// The 15 functions of upstream's CustomFunctions.basicFuncMap. Messages are
// upstream's, including aeson's "parsing X failed, expected Y, but
// encountered Z" for the ones written with aeson parsers. Where upstream
// crashes (tail of an empty array or string, inverse of 0 or of a number
// whose inverse has no finite decimal expansion) we raise a Function Error.
#include <cmath>
#include <cstring>

#include "internal.hpp"

namespace kriti {

using namespace detail;

namespace {

const Value kNoItems[1] = {};

bool mismatch(CallContext &ctx, const char *context, const char *expected, const Value &v) {
    return ctx.error("parsing %s failed, expected %s, but encountered %s", context, expected, type_name(v));
}

// Duplicate keys: the last value wins (at the first key's position).
bool dedupe_with(CallContext &ctx, Member *ms, uint32_t *n) {
    uint32_t *scratch = nullptr;
    if (*n > kDedupeInline) {
        scratch = static_cast<uint32_t *>(ctx.alloc(sizeof(uint32_t) * *n, alignof(uint32_t)));
        if (!scratch) return false;
    }
    dedupe_members(ms, n, true, scratch);
    return true;
}

bool f_empty(CallContext &ctx, const Value &v, Value *out) {
    switch (v.type) {
    case Type::Object:
    case Type::Array: *out = Value::boolean(v.len == 0); return true;
    case Type::String: {
        // T.strip s == "": nothing but white space
        if (!ctx.charge(v.len / 16)) return false;
        const auto *s = reinterpret_cast<const unsigned char *>(v.str);
        for (size_t i = 0; i < v.len;) {
            uint32_t cp;
            size_t k = utf8_decode(s + i, v.len - i, &cp);
            if (!k) break;
            if (!is_space(cp)) {
                *out = Value::boolean(false);
                return true;
            }
            i += k;
        }
        *out = Value::boolean(true);
        return true;
    }
    case Type::Number: *out = Value::boolean(v.num == 0); return true;
    case Type::True:
    case Type::False: return ctx.error("Cannot define emptiness for a boolean");
    case Type::Null: *out = Value::boolean(true); return true;
    }
    return false;
}

bool f_size(CallContext &ctx, const Value &v, Value *out) {
    switch (v.type) {
    case Type::Object:
    case Type::Array: *out = Value::number(v.len); return true;
    case Type::String:
        if (!ctx.charge(v.len / 16)) return false;
        *out = Value::number(static_cast<double>(utf8_count(v.str, v.len)));
        return true;
    case Type::Number: *out = v; return true;
    case Type::True: *out = Value::number(1); return true;
    case Type::False: *out = Value::number(0); return true;
    case Type::Null: *out = Value::number(0); return true;
    }
    return false;
}

// 1/x has a finite decimal expansion iff the numerator of x's shortest
// decimal form has no prime factors but 2 and 5.
bool finite_inverse(double x) {
    char digits[32];
    int e;
    int n = shortest_digits(x, digits, &e);
    uint64_t m = 0;
    for (int i = 0; i < n; i++) m = m * 10 + static_cast<uint64_t>(digits[i] - '0');
    while (m % 2 == 0) m /= 2;
    while (m % 5 == 0) m /= 5;
    return m == 1;
}

bool f_inverse(CallContext &ctx, const Value &v, Value *out) {
    switch (v.type) {
    case Type::Object:
    case Type::Null: *out = v; return true;
    case Type::True: *out = Value::boolean(false); return true;
    case Type::False: *out = Value::boolean(true); return true;
    case Type::Number: {
        char shown[400];
        if (v.num == 0) return ctx.error("Cannot compute inverse of 0: division by zero");
        if (!finite_inverse(v.num)) {
            shown[format_number(v.num, shown)] = 0;
            return ctx.error("Cannot compute inverse of %s: 1/%s has no finite decimal representation", shown,
                            shown);
        }
        double r = 1 / v.num;
        if (!std::isfinite(r)) {
            shown[format_number(v.num, shown)] = 0;
            return ctx.error("Cannot compute inverse of %s: the result is out of range", shown);
        }
        *out = Value::number(r);
        return true;
    }
    case Type::Array: {
        if (v.len == 0) {
            *out = v;
            return true;
        }
        if (!ctx.charge(v.len)) return false;
        auto *items = static_cast<Value *>(ctx.alloc(sizeof(Value) * v.len, alignof(Value)));
        if (!items) return false;
        for (uint32_t i = 0; i < v.len; i++) items[i] = v.items[v.len - 1 - i];
        *out = Value::array(items, v.len);
        return true;
    }
    case Type::String: {
        // reverse by code point, as Data.Text
        if (!ctx.charge(v.len / 16)) return false;
        char *s = static_cast<char *>(ctx.alloc(v.len ? v.len : 1, 1));
        if (!s) return false;
        size_t o = v.len;
        for (size_t i = 0; i < v.len;) {
            size_t k = utf8_len(static_cast<unsigned char>(v.str[i]));
            if (k > v.len - i) k = v.len - i;
            o -= k;
            std::memcpy(s + o, v.str + i, k);
            i += k;
        }
        *out = Value::string(s, v.len);
        return true;
    }
    }
    return false;
}

bool f_head(CallContext &ctx, const Value &v, Value *out) {
    if (v.type == Type::Array) {
        if (v.len == 0) return ctx.error("Empty array");
        *out = v.items[0];
        return true;
    }
    if (v.type == Type::String) {
        if (v.len == 0) return ctx.error("Empty string");
        size_t k = utf8_len(static_cast<unsigned char>(v.str[0]));
        *out = Value::string(v.str, static_cast<uint32_t>(k < v.len ? k : v.len));
        return true;
    }
    return ctx.error("Expected an array or string");
}

bool f_tail(CallContext &ctx, const Value &v, Value *out) {
    // upstream's V.tail / T.tail crash on empty input; we refuse instead
    if (v.type == Type::Array) {
        if (v.len == 0) return ctx.error("Empty array");
        *out = Value::array(v.len > 1 ? v.items + 1 : kNoItems, v.len - 1);
        return true;
    }
    if (v.type == Type::String) {
        if (v.len == 0) return ctx.error("Empty string");
        size_t k = utf8_len(static_cast<unsigned char>(v.str[0]));
        if (k > v.len) k = v.len;
        *out = Value::string(v.str + k, static_cast<uint32_t>(v.len - k));
        return true;
    }
    return ctx.error("Expected an array or string");
}

bool map_case(CallContext &ctx, const Value &v, Value *out, CaseMap mode) {
    if (v.type != Type::String) return mismatch(ctx, "String", "String", v);
    if (!ctx.charge(v.len / 16)) return false;
    const auto *s = reinterpret_cast<const unsigned char *>(v.str);
    // Data.Text's toTitle: the first letter of each word in title case, the
    // rest lower; a word starts after white space (and continues through
    // non-letters once a letter was seen)
    auto convert = [&](char *dst, size_t *len) {
        size_t o = 0;
        bool letter = false;
        for (size_t i = 0; i < v.len;) {
            uint32_t cp;
            size_t k = utf8_decode(s + i, v.len - i, &cp);
            if (!k) {  // not UTF-8: copy the byte as it is
                if (dst) dst[o] = v.str[i];
                o++;
                i++;
                continue;
            }
            i += k;
            CaseMap m = mode;
            if (mode == CaseMap::Title) {
                bool non_space = !is_space(cp);
                if (non_space && letter) {
                    m = CaseMap::Lower;
                } else if (non_space) {
                    m = CaseMap::Title;
                    letter = is_letter(cp);
                } else {
                    letter = false;
                    m = CaseMap::Title;  // spaces map to themselves
                }
            }
            uint32_t mapped[3];
            size_t c = case_map(cp, m, mapped);
            for (size_t j = 0; j < c; j++) {
                char buf[4];
                size_t w = utf8_encode(mapped[j], buf);
                if (dst) std::memcpy(dst + o, buf, w);
                o += w;
            }
        }
        *len = o;
    };
    size_t len;
    convert(nullptr, &len);
    if (!ctx.check_string(len)) return false;
    char *dst = static_cast<char *>(ctx.alloc(len ? len : 1, 1));
    if (!dst) return false;
    convert(dst, &len);
    *out = Value::string(dst, static_cast<uint32_t>(len));
    return true;
}

bool f_case_fold(CallContext &ctx, const Value &v, Value *out) { return map_case(ctx, v, out, CaseMap::Fold); }
bool f_lower(CallContext &ctx, const Value &v, Value *out) { return map_case(ctx, v, out, CaseMap::Lower); }
bool f_upper(CallContext &ctx, const Value &v, Value *out) { return map_case(ctx, v, out, CaseMap::Upper); }
bool f_title(CallContext &ctx, const Value &v, Value *out) { return map_case(ctx, v, out, CaseMap::Title); }

// network-uri's escapeURIString isUnreserved: everything but A-Z a-z 0-9
// - . _ ~ becomes %XX of its UTF-8 bytes, upper-case hex.
bool f_escape_uri(CallContext &ctx, const Value &v, Value *out) {
    if (v.type != Type::String) return mismatch(ctx, "String", "String", v);
    if (!ctx.charge(v.len / 16)) return false;
    auto keep = [](unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '.' || c == '_' || c == '~';
    };
    size_t len = 0;
    for (size_t i = 0; i < v.len; i++) len += keep(static_cast<unsigned char>(v.str[i])) ? 1 : 3;
    if (!ctx.check_string(len)) return false;
    char *dst = static_cast<char *>(ctx.alloc(len ? len : 1, 1));
    if (!dst) return false;
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = static_cast<unsigned char>(v.str[i]);
        if (keep(c)) {
            dst[o++] = static_cast<char>(c);
        } else {
            dst[o++] = '%';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    *out = Value::string(dst, static_cast<uint32_t>(len));
    return true;
}

bool f_to_pairs(CallContext &ctx, const Value &v, Value *out) {
    if (v.type != Type::Object) return mismatch(ctx, "Object", "Object", v);
    if (v.len == 0) {
        *out = Value::array(kNoItems, 0);
        return true;
    }
    if (!ctx.charge(v.len)) return false;
    // one block: the outer array, then a pair of values per member
    auto *outer = static_cast<Value *>(ctx.alloc(sizeof(Value) * 3 * v.len, alignof(Value)));
    if (!outer) return false;
    Value *pairs = outer + v.len;
    for (uint32_t i = 0; i < v.len; i++) {
        const Member &m = v.members[i];
        new (&pairs[2 * i]) Value(Value::string(m.key, m.key_len));
        new (&pairs[2 * i + 1]) Value(m.value);
        new (&outer[i]) Value(Value::array(&pairs[2 * i], 2));
    }
    *out = Value::array(outer, v.len);
    return true;
}

bool f_from_pairs(CallContext &ctx, const Value &v, Value *out) {
    if (v.type != Type::Array) return mismatch(ctx, "Nested Arrays", "Array", v);
    if (!ctx.charge(v.len)) return false;
    for (uint32_t i = 0; i < v.len; i++) {
        const Value &p = v.items[i];
        if (p.type != Type::Array) return mismatch(ctx, "Array of Pair", "Array", p);
        if (p.len != 2) return ctx.error("Expected an array of shape [ [k1,v1], [k2,v2] ... ] - With String keys.");
        if (p.items[0].type != Type::String) return mismatch(ctx, "Key", "String", p.items[0]);
    }
    if (v.len == 0) {
        *out = Value::object(nullptr, 0);
        return true;
    }
    auto *ms = static_cast<Member *>(ctx.alloc(sizeof(Member) * v.len, alignof(Member)));
    if (!ms) return false;
    for (uint32_t i = 0; i < v.len; i++) {
        const Value &p = v.items[i];
        new (&ms[i]) Member{p.items[0].str, p.items[0].len, p.items[1]};
    }
    // aeson's object (a fromList): the last duplicate wins
    uint32_t n = v.len;
    if (!dedupe_with(ctx, ms, &n)) return false;
    *out = Value::object(ms, n);
    return true;
}

bool f_remove_nulls(CallContext &ctx, const Value &v, Value *out) {
    if (v.type != Type::Array) return mismatch(ctx, "Array", "Array", v);
    if (!ctx.charge(v.len)) return false;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < v.len; i++) kept += v.items[i].type != Type::Null;
    if (kept == v.len) {
        *out = v;
        return true;
    }
    if (kept == 0) {
        *out = Value::array(kNoItems, 0);
        return true;
    }
    auto *items = static_cast<Value *>(ctx.alloc(sizeof(Value) * kept, alignof(Value)));
    if (!items) return false;
    uint32_t o = 0;
    for (uint32_t i = 0; i < v.len; i++)
        if (v.items[i].type != Type::Null) new (&items[o++]) Value(v.items[i]);
    *out = Value::array(items, kept);
    return true;
}

// Arrays of arrays concatenate, arrays of strings join, arrays of objects
// merge with the right-most value of a key winning (upstream tries the three
// in this order; the error is the last one's).
bool f_concat(CallContext &ctx, const Value &v, Value *out) {
    if (v.type != Type::Array) return mismatch(ctx, "Array", "Array", v);
    if (!ctx.charge(v.len)) return false;
    auto all = [&](Type t) {
        for (uint32_t i = 0; i < v.len; i++)
            if (v.items[i].type != t) return false;
        return true;
    };
    if (all(Type::Array)) {
        uint64_t total = 0;
        for (uint32_t i = 0; i < v.len; i++) total += v.items[i].len;
        if (total > UINT32_MAX) return ctx.check_string(SIZE_MAX);
        if (!ctx.charge(total)) return false;
        if (total == 0) {
            *out = Value::array(kNoItems, 0);
            return true;
        }
        auto *items = static_cast<Value *>(ctx.alloc(sizeof(Value) * total, alignof(Value)));
        if (!items) return false;
        size_t o = 0;
        for (uint32_t i = 0; i < v.len; i++)
            for (uint32_t j = 0; j < v.items[i].len; j++) new (&items[o++]) Value(v.items[i].items[j]);
        *out = Value::array(items, static_cast<uint32_t>(total));
        return true;
    }
    if (all(Type::String)) {
        size_t total = 0;
        for (uint32_t i = 0; i < v.len; i++) total += v.items[i].len;
        if (!ctx.check_string(total) || !ctx.charge(total / 16)) return false;
        char *s = static_cast<char *>(ctx.alloc(total ? total : 1, 1));
        if (!s) return false;
        size_t o = 0;
        for (uint32_t i = 0; i < v.len; i++) {
            if (v.items[i].len) std::memcpy(s + o, v.items[i].str, v.items[i].len);
            o += v.items[i].len;
        }
        *out = Value::string(s, static_cast<uint32_t>(total));
        return true;
    }
    for (uint32_t i = 0; i < v.len; i++)
        if (v.items[i].type != Type::Object) return mismatch(ctx, "Nested Object", "Object", v.items[i]);
    uint64_t total = 0;
    for (uint32_t i = 0; i < v.len; i++) total += v.items[i].len;
    if (total > UINT32_MAX) return ctx.check_string(SIZE_MAX);
    if (!ctx.charge(total)) return false;
    if (total == 0) {
        *out = Value::object(nullptr, 0);
        return true;
    }
    auto *ms = static_cast<Member *>(ctx.alloc(sizeof(Member) * total, alignof(Member)));
    if (!ms) return false;
    size_t o = 0;
    for (uint32_t i = 0; i < v.len; i++)
        for (uint32_t j = 0; j < v.items[i].len; j++) new (&ms[o++]) Member(v.items[i].members[j]);
    uint32_t n = static_cast<uint32_t>(total);
    if (!dedupe_with(ctx, ms, &n)) return false;
    *out = Value::object(ms, n);
    return true;
}

bool f_not(CallContext &ctx, const Value &v, Value *out) {
    if (!v.is_bool()) return mismatch(ctx, "Bool", "Boolean", v);
    *out = Value::boolean(v.type == Type::False);
    return true;
}

const FunctionEntry kEntries[] = {
    {"empty", f_empty},         {"size", f_size},           {"inverse", f_inverse},
    {"head", f_head},           {"tail", f_tail},           {"toCaseFold", f_case_fold},
    {"toLower", f_lower},       {"toUpper", f_upper},       {"toTitle", f_title},
    {"escapeUri", f_escape_uri}, {"fromPairs", f_from_pairs}, {"toPairs", f_to_pairs},
    {"removeNulls", f_remove_nulls}, {"concat", f_concat},  {"not", f_not},
};

const FunctionTable kBuiltins = {kEntries, sizeof kEntries / sizeof kEntries[0]};

}  // namespace

const FunctionTable *builtins() { return &kBuiltins; }

}  // namespace kriti
