// The Kriti lexer (upstream Lexer.x): the whole template becomes a token
// array before parsing starts, so a lex error anywhere wins over a parse
// error, as upstream.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kriti/kriti.hpp"

namespace kriti::detail {

enum class Tok : uint8_t {
    Int,
    Num,
    True,
    False,
    StrBegin,
    StrEnd,
    StrText,  // a piece of a "…" string or a '…' key
    Ident,    // includes $, if, elif, else, end, null, range, in, not
    SQuote,
    Colon,
    Dot,
    Comma,
    Question,
    DQuestion,
    Eq,
    NotEq,
    Gt,
    Lt,
    Gte,
    Lte,
    And,
    Or,
    Underscore,
    Assign,
    LBrace,
    RBrace,
    LLBrace,
    RRBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
};

struct Token {
    Tok kind;
    uint8_t small_len;  // StrText from an escape: the decoded bytes are in small
    char small[4];
    uint32_t start, end;  // bytes of the source
    Span span;
    double num;  // Int and Num
};

struct TokenList {
    Token *items = nullptr;
    size_t count = 0;
    size_t cap = 0;
    Allocator alloc{};
    void release();
};

// Tokens of src; positions as upstream (line 0-based, column 1-based in code
// points). end_span receives the position after the last character.
bool lex(const char *src, size_t len, const Limits &limits, const Allocator &alloc, TokenList *out,
         Span *end_span, Error *err);

// The text upstream's serializeToken shows for a token in "Unexpected token".
// Writes at most cap - 1 bytes and a NUL.
void token_display(const Token &t, const char *src, char *buf, size_t cap);

// A token's text: the decoded bytes of an escape, or the source slice.
inline const char *token_text(const Token &t, const char *src, uint32_t *len) {
    if (t.small_len) {
        *len = t.small_len;
        return t.small;
    }
    *len = t.end - t.start;
    return src + t.start;
}

}  // namespace kriti::detail
