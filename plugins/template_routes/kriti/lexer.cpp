// Kriti's lexer: four modes as upstream's start codes. <0> (top level) and
// <expr> (inside {{ }}) skip whitespace and # comments and differ only in
// that <expr> reads "}}" as one token that leaves it; <string> ("…") reads
// text, escapes and {{; <literal> ('…') reads verbatim text.
#include <cstdio>
#include <cstring>

#include "internal.hpp"
#include "lexer.hpp"
#include "value.hpp"

namespace kriti::detail {

namespace {

enum Mode : uint8_t { kTop, kExpr, kString, kLiteral };

constexpr size_t kModeCap = 2 * kMaxDepthCap + 8;

struct Lexer {
    const char *s;
    size_t n;
    size_t pos = 0;
    uint32_t line = 0, col = 1;
    TokenList *out;
    Error *err;
    const Limits &limits;
    uint8_t modes[kModeCap];
    size_t depth = 1;  // modes[0] is kTop
    size_t max_modes;

    Lexer(const char *src, size_t len, TokenList *o, Error *e, const Limits &l)
        : s(src), n(len), out(o), err(e), limits(l) {
        modes[0] = kTop;
        uint32_t d = l.max_depth < kMaxDepthCap ? l.max_depth : kMaxDepthCap;
        max_modes = 2 * static_cast<size_t>(d) + 2;
    }

    unsigned char at(size_t k) const { return k < n ? static_cast<unsigned char>(s[k]) : 0; }
    bool has(size_t k) const { return k < n; }

    // Consumes one code point (validated). false: invalid UTF-8 here.
    bool adv() {
        unsigned char c = static_cast<unsigned char>(s[pos]);
        if (c < 0x80) {
            pos++;
            if (c == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
            return true;
        }
        uint32_t cp;
        size_t k = utf8_decode(reinterpret_cast<const unsigned char *>(s + pos), n - pos, &cp);
        if (!k) return false;
        pos += k;
        col++;
        return true;
    }
    // ASCII only
    void adv_ascii(size_t k) {
        pos += k;
        col += static_cast<uint32_t>(k);
    }

    Span here() const {
        Span sp;
        sp.start_line = sp.end_line = line;
        sp.start_col = col;
        sp.end_col = col;
        return sp;
    }

    bool lex_error() {
        // Upstream: "Invalid Lexeme: '<whole source>'". The quoted source is
        // cut to fit the message, and invalid UTF-8 shows as U+FFFD.
        Span sp = here();
        sp.end_col = col + 1;
        char quoted[kErrorMessageMax];
        size_t q = 0, room = sizeof quoted - 32;
        bool cut = false;
        for (size_t k = 0; k < n;) {
            uint32_t cp;
            size_t len = utf8_decode(reinterpret_cast<const unsigned char *>(s + k), n - k, &cp);
            const char *src = s + k;
            char repl[3] = {'\xEF', '\xBF', '\xBD'};
            size_t w = len;
            if (!len) {
                src = repl;
                w = 3;
                len = 1;
            } else if (cp == 0) {
                src = repl;  // a NUL would end the message
                w = 3;
            }
            if (q + w > room) {
                cut = true;
                break;
            }
            std::memcpy(quoted + q, src, w);
            q += w;
            k += len;
        }
        quoted[q] = 0;
        return set_error(err, ErrorCode::LexError, sp, "Invalid Lexeme: '%s%s'", quoted, cut ? "..." : "");
    }

    bool limit_error() {
        Span sp = here();
        sp.end_col = col + 1;
        return set_error(err, ErrorCode::LimitError, sp, "Nesting depth limit exceeded (max_depth = %u)",
                         limits.max_depth);
    }

    bool push_mode(Mode m) {
        if (depth >= max_modes) return limit_error();
        modes[depth++] = m;
        return true;
    }
    void pop_mode() {
        if (depth > 1) depth--;
    }

    bool emit(Tok kind, size_t start, uint32_t sline, uint32_t scol, const char *small = nullptr,
              size_t small_len = 0, double num = 0) {
        if (out->count == out->cap) {
            size_t ncap = out->cap ? out->cap * 2 : 64;
            auto *nt = static_cast<Token *>(out->alloc.alloc(ncap * sizeof(Token), alignof(Token), out->alloc.ud));
            if (!nt) return set_error(err, ErrorCode::MemoryError, here(), "Out of memory while lexing");
            if (out->count) std::memcpy(static_cast<void *>(nt), out->items, out->count * sizeof(Token));
            if (out->items) out->alloc.free(out->items, out->cap * sizeof(Token), out->alloc.ud);
            out->items = nt;
            out->cap = ncap;
        }
        Token &t = out->items[out->count++];
        t.kind = kind;
        t.small_len = static_cast<uint8_t>(small_len);
        if (small_len) std::memcpy(t.small, small, small_len);
        t.start = static_cast<uint32_t>(start);
        t.end = static_cast<uint32_t>(pos);
        t.span.start_line = sline;
        t.span.start_col = scol;
        t.span.end_line = line;
        t.span.end_col = col;
        t.num = num;
        return true;
    }

    // A fixed-width ASCII symbol.
    bool sym(Tok kind, size_t width) {
        size_t start = pos;
        uint32_t sl = line, sc = col;
        adv_ascii(width);
        return emit(kind, start, sl, sc);
    }

    static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
    static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
    static int hexval(unsigned char c) {
        if (is_digit(c)) return c - '0';
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
        return -1;
    }

    bool number() {
        size_t start = pos;
        size_t p = pos + (at(pos) == '-' ? 1 : 0);
        size_t int_end = p;
        while (is_digit(at(int_end))) int_end++;
        // decimal: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        size_t d = p;
        if (at(d) == '0') {
            d++;
        } else {
            while (is_digit(at(d))) d++;
        }
        if (at(d) == '.' && is_digit(at(d + 1))) {
            d += 2;
            while (is_digit(at(d))) d++;
        }
        if ((at(d) == 'e' || at(d) == 'E')) {
            size_t e = d + 1;
            if (at(e) == '+' || at(e) == '-') e++;
            if (is_digit(at(e))) {
                while (is_digit(at(e))) e++;
                d = e;
            }
        }
        uint32_t sl = line, sc = col;
        if (int_end >= d) {  // the longest match, or a tie: alex takes the earlier rule (int)
            uint64_t v = 0;  // upstream reads an Int: wraps modulo 2^64
            for (size_t k = p; k < int_end; k++) v = v * 10 + static_cast<uint64_t>(s[k] - '0');
            if (p != start) v = 0 - v;
            adv_ascii(int_end - start);
            return emit(Tok::Int, start, sl, sc, nullptr, 0, static_cast<double>(static_cast<int64_t>(v)));
        }
        double num;
        NumberStatus st = parse_number(s + start, d - start, &num);
        adv_ascii(d - start);
        if (st != NumberStatus::Ok) {
            Span sp;
            sp.start_line = sl;
            sp.start_col = sc;
            sp.end_line = line;
            sp.end_col = col;
            return set_error(err, ErrorCode::LimitError, sp,
                             "Number literal '%.*s' is outside the double range (max 1.7976931348623157e308)",
                             static_cast<int>(d - start > 64 ? 64 : d - start), s + start);
        }
        return emit(Tok::Num, start, sl, sc, nullptr, 0, num);
    }

    bool ident() {
        size_t start = pos;
        uint32_t sl = line, sc = col;
        size_t p = pos;
        if (at(p) == '$') {
            p++;
            if (!is_alpha(at(p))) {
                adv_ascii(1);
                return emit(Tok::Ident, start, sl, sc);
            }
        }
        p++;  // the letter
        while (true) {
            unsigned char c = at(p);
            if (!has(p) || !(is_alpha(c) || is_digit(c) || c == '$' || c == '_' || c == '-')) break;
            p++;
        }
        adv_ascii(p - start);
        size_t len = p - start;
        if (len == 4 && std::memcmp(s + start, "true", 4) == 0) return emit(Tok::True, start, sl, sc);
        if (len == 5 && std::memcmp(s + start, "false", 5) == 0) return emit(Tok::False, start, sl, sc);
        return emit(Tok::Ident, start, sl, sc);
    }

    bool top_or_expr(bool expr) {
        unsigned char c = at(pos);
        switch (c) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case '\f':
        case '\v': adv(); return true;
        case '#':
            while (pos < n && s[pos] != '\n')
                if (!adv()) return lex_error();
            return true;
        case '"':
            if (!sym(Tok::StrBegin, 1)) return false;
            return push_mode(kString);
        case '\'':
            if (!sym(Tok::SQuote, 1)) return false;
            return push_mode(kLiteral);
        case '{':
            if (at(pos + 1) == '{' && has(pos + 1)) {
                if (!push_mode(kExpr)) return false;
                return sym(Tok::LLBrace, 2);
            }
            return sym(Tok::LBrace, 1);
        case '}':
            if (expr && at(pos + 1) == '}' && has(pos + 1)) {
                pop_mode();
                return sym(Tok::RRBrace, 2);
            }
            return sym(Tok::RBrace, 1);
        case ':': return at(pos + 1) == '=' ? sym(Tok::Assign, 2) : sym(Tok::Colon, 1);
        case '.': return sym(Tok::Dot, 1);
        case ',': return sym(Tok::Comma, 1);
        case '?': return at(pos + 1) == '?' ? sym(Tok::DQuestion, 2) : sym(Tok::Question, 1);
        case '=': return at(pos + 1) == '=' ? sym(Tok::Eq, 2) : lex_error();
        case '!': return at(pos + 1) == '=' ? sym(Tok::NotEq, 2) : lex_error();
        case '>': return at(pos + 1) == '=' ? sym(Tok::Gte, 2) : sym(Tok::Gt, 1);
        case '<': return at(pos + 1) == '=' ? sym(Tok::Lte, 2) : sym(Tok::Lt, 1);
        case '&': return at(pos + 1) == '&' ? sym(Tok::And, 2) : lex_error();
        case '|': return at(pos + 1) == '|' ? sym(Tok::Or, 2) : lex_error();
        case '_': return sym(Tok::Underscore, 1);
        case '[': return sym(Tok::LBracket, 1);
        case ']': return sym(Tok::RBracket, 1);
        case '(': return sym(Tok::LParen, 1);
        case ')': return sym(Tok::RParen, 1);
        default: break;
        }
        if (is_digit(c) || (c == '-' && has(pos + 1) && is_digit(at(pos + 1)))) return number();
        if (c == '$' || is_alpha(c)) return ident();
        return lex_error();
    }

    bool string_mode() {
        unsigned char c = at(pos);
        size_t start = pos;
        uint32_t sl = line, sc = col;
        if (c == '"') {
            pop_mode();
            return sym(Tok::StrEnd, 1);
        }
        if (c == '{') {
            if (has(pos + 1) && at(pos + 1) == '{') {
                if (!push_mode(kExpr)) return false;
                return sym(Tok::LLBrace, 2);
            }
            adv_ascii(1);
            return emit(Tok::StrText, start, sl, sc);
        }
        if (c == '\\') {
            if (!has(pos + 1)) return lex_error();
            char e = static_cast<char>(at(pos + 1));
            const char *dec = nullptr;
            size_t dec_len = 1;
            switch (e) {
            case '{': dec = "{"; break;
            case '"': dec = "\""; break;
            case '\\': dec = "\\"; break;
            case '/':  // upstream keeps both characters
                dec = "\\/";
                dec_len = 2;
                break;
            case 'b': dec = "\b"; break;
            case 'f': dec = "\f"; break;
            case 'n': dec = "\n"; break;
            case 'r': dec = "\r"; break;
            case 't': dec = "\t"; break;
            case 'u': {
                uint32_t cp = 0;
                for (size_t k = 0; k < 4; k++) {
                    int h = has(pos + 2 + k) ? hexval(at(pos + 2 + k)) : -1;
                    if (h < 0) return lex_error();
                    cp = cp << 4 | static_cast<uint32_t>(h);
                }
                // no surrogate pairing upstream; a lone surrogate is not text
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
                char buf[4];
                size_t k = utf8_encode(cp, buf);
                adv_ascii(6);
                return emit(Tok::StrText, start, sl, sc, buf, k);
            }
            default: return lex_error();
            }
            adv_ascii(2);
            return emit(Tok::StrText, start, sl, sc, dec, dec_len);
        }
        while (pos < n) {
            unsigned char d = static_cast<unsigned char>(s[pos]);
            if (d == '"' || d == '\\' || d == '{') break;
            if (!adv()) return lex_error();
        }
        return emit(Tok::StrText, start, sl, sc);
    }

    bool literal_mode() {
        unsigned char c = at(pos);
        if (c == '\'') {
            pop_mode();
            return sym(Tok::SQuote, 1);
        }
        if (c == '{') return lex_error();
        size_t start = pos;
        uint32_t sl = line, sc = col;
        while (pos < n) {
            unsigned char d = static_cast<unsigned char>(s[pos]);
            if (d == '\'' || d == '{') break;
            if (!adv()) return lex_error();
        }
        return emit(Tok::StrText, start, sl, sc);
    }

    bool run() {
        while (pos < n) {
            bool ok;
            switch (modes[depth - 1]) {
            case kTop: ok = top_or_expr(false); break;
            case kExpr: ok = top_or_expr(true); break;
            case kString: ok = string_mode(); break;
            default: ok = literal_mode(); break;
            }
            if (!ok) return false;
        }
        return true;
    }
};

}  // namespace

void TokenList::release() {
    if (items) alloc.free(items, cap * sizeof(Token), alloc.ud);
    items = nullptr;
    count = cap = 0;
}

bool lex(const char *src, size_t len, const Limits &limits, const Allocator &alloc, TokenList *out,
         Span *end_span, Error *err) {
    out->alloc = alloc;
    Lexer lx(src, len, out, err, limits);
    if (!lx.run()) return false;
    *end_span = lx.here();
    return true;
}

void token_display(const Token &t, const char *src, char *buf, size_t cap) {
    const char *fixed = nullptr;
    switch (t.kind) {
    case Tok::Int:
    case Tok::Num:
    case Tok::Ident: {
        uint32_t len;
        const char *p = token_text(t, src, &len);
        std::snprintf(buf, cap, "%.*s", static_cast<int>(len), p);
        return;
    }
    case Tok::StrText: {
        uint32_t len;
        const char *p = token_text(t, src, &len);
        std::snprintf(buf, cap, "\"%.*s\"", static_cast<int>(len), p);
        return;
    }
    case Tok::True: fixed = "true"; break;
    case Tok::False: fixed = "false"; break;
    case Tok::StrBegin:
    case Tok::StrEnd: fixed = "\""; break;
    case Tok::SQuote: fixed = "'"; break;
    case Tok::Colon: fixed = ":"; break;
    case Tok::Dot: fixed = "."; break;
    case Tok::Comma: fixed = ","; break;
    case Tok::Question: fixed = "?"; break;
    case Tok::DQuestion: fixed = "??"; break;
    case Tok::Eq: fixed = "=="; break;
    case Tok::NotEq: fixed = "!="; break;
    case Tok::Gt: fixed = ">"; break;
    case Tok::Lt: fixed = "<"; break;
    case Tok::Gte: fixed = ">="; break;
    case Tok::Lte: fixed = "<="; break;
    case Tok::And: fixed = "&&"; break;
    case Tok::Or: fixed = "||"; break;
    case Tok::Underscore: fixed = "_"; break;
    case Tok::Assign: fixed = ":="; break;
    case Tok::LBrace: fixed = "{"; break;
    case Tok::RBrace: fixed = "}"; break;
    case Tok::LLBrace: fixed = "{{"; break;
    case Tok::RRBrace: fixed = "}}"; break;
    case Tok::LBracket: fixed = "["; break;
    case Tok::RBracket: fixed = "]"; break;
    case Tok::LParen: fixed = "("; break;
    case Tok::RParen: fixed = ")"; break;
    }
    std::snprintf(buf, cap, "%s", fixed ? fixed : "");
}

}  // namespace kriti::detail
