// Kriti's grammar (upstream Grammar.y, an LALR grammar) as recursive
// descent over the token array:
//
//   expr  = atom binop atom | ident "(" expr ")" | "not" expr | atom | "{{" expr "}}"
//   atom  = (ident | json | "(" expr ")" | if | range) { "." ident | "[" "'" text "'" "]"
//           | "[" atom "]" | "?" { field } }
//
// Binary operators take atoms and never chain; `{{ if` and `{{ range` start
// atoms, any other `{{` an expression. Recursion and tree depth are bounded
// by Limits::max_depth, so no template can exhaust the C stack.
#include <algorithm>
#include <cstring>

#include "ast.hpp"
#include "internal.hpp"
#include "lexer.hpp"

namespace kriti {

using namespace detail;

namespace {

bool is_word(const Token &t, const char *src, const char *w) {
    if (t.kind != Tok::Ident) return false;
    size_t n = std::strlen(w);
    return t.end - t.start == n && std::memcmp(src + t.start, w, n) == 0;
}

bool is_reserved(const Token &t, const char *src) {
    static const char *const words[] = {"if", "elif", "else", "end", "null", "range", "in", "not"};
    for (const char *w : words)
        if (is_word(t, src, w)) return true;
    return false;
}

// A growable array in the program arena (outgrown copies stay behind: the
// waste is at most the final size).
template <typename T>
struct Vec {
    T *items = nullptr;
    uint32_t count = 0;
    uint32_t cap = 0;
    bool push(Arena &a, const T &v) {
        if (count == cap) {
            uint32_t ncap = cap ? cap * 2 : 4;
            T *n = arena_array<T>(a, ncap);
            if (!n) return false;
            for (uint32_t i = 0; i < count; i++) n[i] = items[i];
            items = n;
            cap = ncap;
        }
        items[count++] = v;
        return true;
    }
};

struct Parser {
    const Token *toks;
    size_t n;
    size_t i = 0;
    const char *src;
    Arena &arena;
    const Limits &limits;
    uint32_t max_depth;
    Span end_span;
    Error *err;

    Parser(const TokenList &tl, const char *s, Arena &a, const Limits &l, Span end, Error *e)
        : toks(tl.items), n(tl.count), src(s), arena(a), limits(l), end_span(end), err(e) {
        max_depth = l.max_depth < kMaxDepthCap ? l.max_depth : kMaxDepthCap;
    }

    const Token *peek(size_t k = 0) const { return i + k < n ? &toks[i + k] : nullptr; }

    // Upstream's `failure`: the token that cannot be shifted, or the end.
    // Out of line: its message buffer must not sit in every recursive frame.
    __attribute__((noinline, cold)) Node *unexpected(const Token *t) {
        if (!t) {
            Span sp = end_span;
            if (n) {
                sp.start_line = toks[n - 1].span.end_line;
                sp.start_col = toks[n - 1].span.end_col;
            } else {
                sp.start_line = 0;
                sp.start_col = 1;
            }
            set_error(err, ErrorCode::ParseError, sp, "ParseError: Empty token stream.");
            return nullptr;
        }
        char shown[kErrorMessageMax];
        token_display(*t, src, shown, sizeof shown - 32);
        set_error(err, ErrorCode::ParseError, t->span, "Unexpected token '%s'.", shown);
        return nullptr;
    }

    const Token *expect(Tok kind) {
        const Token *t = peek();
        if (!t || t->kind != kind) {
            unexpected(t);
            return nullptr;
        }
        i++;
        return t;
    }

    const Token *expect_word(const char *w) {
        const Token *t = peek();
        if (!t || !is_word(*t, src, w)) {
            unexpected(t);
            return nullptr;
        }
        i++;
        return t;
    }

    // An identifier usable as a name: not one of the reserved words.
    const Token *expect_name() {
        const Token *t = peek();
        if (!t || t->kind != Tok::Ident || is_reserved(*t, src)) {
            unexpected(t);
            return nullptr;
        }
        i++;
        return t;
    }

    __attribute__((noinline, cold)) Node *depth_error(const Span &sp) {
        set_error(err, ErrorCode::LimitError, sp, "Nesting depth limit exceeded (max_depth = %u)", limits.max_depth);
        return nullptr;
    }

    __attribute__((noinline, cold)) Node *oom() {
        const Token *t = peek();
        set_error(err, ErrorCode::MemoryError, t ? t->span : end_span, "Out of memory while parsing");
        return nullptr;
    }

    Node *node(NodeKind kind, const Span &sp, uint32_t child_depth) {
        if (child_depth + 1 > max_depth) return depth_error(sp);
        Node *nd = arena_array<Node>(arena, 1);
        if (!nd) return oom();
        nd->kind = kind;
        nd->span = sp;
        nd->depth = static_cast<uint16_t>(child_depth + 1);
        return nd;
    }

    Str text(const Token &t) {
        uint32_t len;
        const char *p = token_text(t, src, &len);
        if (t.small_len) {  // decoded bytes live in the token array: copy them
            char *c = static_cast<char *>(arena.alloc(len, 1));
            if (!c) return Str{nullptr, 0};
            std::memcpy(c, p, len);
            p = c;
        }
        return Str{p, len};
    }

    // Consecutive text tokens [from, to) as one string.
    bool joined_text(size_t from, size_t to, Str *out) {
        if (to - from == 1) {
            *out = text(toks[from]);
            return out->ptr != nullptr;
        }
        size_t total = 0;
        for (size_t k = from; k < to; k++) {
            uint32_t len;
            token_text(toks[k], src, &len);
            total += len;
        }
        char *c = static_cast<char *>(arena.alloc(total ? total : 1, 1));
        if (!c) return false;
        size_t o = 0;
        for (size_t k = from; k < to; k++) {
            uint32_t len;
            const char *p = token_text(toks[k], src, &len);
            std::memcpy(c + o, p, len);
            o += len;
        }
        *out = Str{c, static_cast<uint32_t>(total)};
        return true;
    }

    static bool is_binop(const Token *t, const char *src, BinOp *op) {
        if (!t) return false;
        switch (t->kind) {
        case Tok::Gt: *op = BinOp::Gt; return true;
        case Tok::Lt: *op = BinOp::Lt; return true;
        case Tok::Gte: *op = BinOp::Gte; return true;
        case Tok::Lte: *op = BinOp::Lte; return true;
        case Tok::NotEq: *op = BinOp::NotEq; return true;
        case Tok::Eq: *op = BinOp::Eq; return true;
        case Tok::And: *op = BinOp::And; return true;
        case Tok::Or: *op = BinOp::Or; return true;
        case Tok::DQuestion: *op = BinOp::Default; return true;
        case Tok::Ident:
            if (is_word(*t, src, "in")) {
                *op = BinOp::In;
                return true;
            }
            return false;
        default: return false;
        }
    }

    bool too_deep(uint32_t d) {
        if (d <= max_depth) return false;
        const Token *t = peek();
        depth_error(t ? t->span : end_span);
        return true;
    }

    Node *expr(uint32_t d) {
        if (too_deep(d)) return nullptr;
        const Token *t = peek();
        if (!t) return unexpected(t);
        if (t->kind == Tok::LLBrace) {
            const Token *t2 = peek(1);
            if (!(t2 && (is_word(*t2, src, "if") || is_word(*t2, src, "range")))) {
                i++;
                Node *e = expr(d + 1);
                if (!e || !expect(Tok::RRBrace)) return nullptr;
                return e;
            }
        } else if (is_word(*t, src, "not")) {
            i++;
            Node *e = expr(d + 1);
            if (!e) return nullptr;
            Node *c = node(NodeKind::Call, join(t->span, e->span), e->depth);
            if (!c) return nullptr;
            c->call = CallData{Str{"not", 3}, e};
            return c;
        } else if (t->kind == Tok::Ident && !is_reserved(*t, src) && peek(1) && peek(1)->kind == Tok::LParen) {
            i += 2;
            Node *e = expr(d + 1);
            if (!e) return nullptr;
            const Token *close = expect(Tok::RParen);
            if (!close) return nullptr;
            Node *c = node(NodeKind::Call, join(t->span, close->span), e->depth);
            if (!c) return nullptr;
            c->call = CallData{text(*t), e};
            return c;
        }
        Node *a = atom(d);
        if (!a) return nullptr;
        BinOp op;
        if (!is_binop(peek(), src, &op)) return a;
        i++;
        Node *b = atom(d);
        if (!b) return nullptr;
        Node *bin = node(NodeKind::Binary, join(a->span, b->span), std::max(a->depth, b->depth));
        if (!bin) return nullptr;
        bin->op = op;
        bin->bin = BinaryData{a, b};
        return bin;
    }

    // A lookup step after `.` or `[`; the opening token is next.
    bool step(uint32_t d, Step *st, const Token **last, uint32_t *depth) {
        const Token *t = peek();
        *depth = 0;
        if (t->kind == Tok::Dot) {
            i++;
            const Token *id = expect_name();
            if (!id) return false;
            st->key = text(*id);
            st->index = nullptr;
            *last = id;
            return true;
        }
        i++;  // [
        const Token *q = peek();
        Node *idx;
        if (q && q->kind == Tok::SQuote) {
            i++;
            const Token *txt = expect(Tok::StrText);
            if (!txt || !expect(Tok::SQuote)) return false;
            idx = node(NodeKind::String, txt->span, 0);
            if (!idx) return false;
            idx->str = text(*txt);
        } else {
            idx = atom(d + 1);
            if (!idx) return false;
        }
        const Token *close = expect(Tok::RBracket);
        if (!close) return false;
        st->key = Str{nullptr, 0};
        st->index = idx;
        *last = close;
        *depth = idx->depth;
        return true;
    }

    Node *atom(uint32_t d) {
        if (too_deep(d)) return nullptr;
        Node *a = primary(d);
        while (a) {
            const Token *t = peek();
            if (!t) break;
            if (t->kind == Tok::Dot || t->kind == Tok::LBracket) {
                Step st;
                const Token *last;
                uint32_t sd;
                if (!step(d, &st, &last, &sd)) return nullptr;
                Node *f = node(NodeKind::Field, join(a->span, last->span), std::max<uint32_t>(a->depth, sd));
                if (!f) return nullptr;
                f->field = FieldData{a, st};
                a = f;
            } else if (t->kind == Tok::Question) {
                i++;
                Vec<Step> steps;
                uint32_t deepest = a->depth;
                while (peek() && (peek()->kind == Tok::Dot || peek()->kind == Tok::LBracket)) {
                    Step st;
                    const Token *last;
                    uint32_t sd;
                    if (!step(d, &st, &last, &sd)) return nullptr;
                    if (!steps.push(arena, st)) return oom();
                    deepest = std::max(deepest, sd);
                }
                // upstream: the span of an optional chain is its base's
                Node *o = node(NodeKind::Optional, a->span, deepest);
                if (!o) return nullptr;
                o->opt = OptionalData{a, steps.items};
                o->count = steps.count;
                a = o;
            } else {
                break;
            }
        }
        return a;
    }

    Node *primary(uint32_t d) {
        const Token *t = peek();
        if (!t) return unexpected(t);
        switch (t->kind) {
        case Tok::Ident: {
            if (is_word(*t, src, "null")) {
                i++;
                return node(NodeKind::Null, t->span, 0);
            }
            if (is_reserved(*t, src)) return unexpected(t);
            i++;
            Node *v = node(NodeKind::Var, t->span, 0);
            if (v) v->str = text(*t);
            return v;
        }
        case Tok::True:
        case Tok::False: {
            i++;
            Node *b = node(NodeKind::Bool, t->span, 0);
            if (b) b->boolean = t->kind == Tok::True;
            return b;
        }
        case Tok::Int:
        case Tok::Num: {
            i++;
            Node *num = node(NodeKind::Number, t->span, 0);
            if (num) num->num = t->num;
            return num;
        }
        case Tok::StrBegin: return string(d);
        case Tok::LBracket: return array(d);
        case Tok::LBrace: return object(d);
        case Tok::LParen: {
            i++;
            Node *e = expr(d + 1);
            if (!e || !expect(Tok::RParen)) return nullptr;
            return e;  // upstream keeps the inner span
        }
        case Tok::LLBrace: {
            const Token *t2 = peek(1);
            if (t2 && is_word(*t2, src, "if")) return iff(d);
            if (t2 && is_word(*t2, src, "range")) return range(d);
            return unexpected(t2);
        }
        default: return unexpected(t);
        }
    }

    Node *string(uint32_t d) {
        const Token *open = peek();
        i++;
        Vec<Node *> parts;
        uint32_t deepest = 0;
        while (true) {
            const Token *t = peek();
            if (!t) return unexpected(t);
            if (t->kind == Tok::StrEnd) break;
            if (t->kind == Tok::StrText) {
                size_t from = i;
                while (peek() && peek()->kind == Tok::StrText) i++;
                Str s;
                if (!joined_text(from, i, &s)) return oom();
                Node *p = node(NodeKind::String, join(toks[from].span, toks[i - 1].span), 0);
                if (!p) return nullptr;
                p->str = s;
                if (!parts.push(arena, p)) return oom();
                continue;
            }
            if (t->kind != Tok::LLBrace) return unexpected(t);
            i++;
            Node *e = expr(d + 1);
            if (!e || !expect(Tok::RRBrace)) return nullptr;
            if (!parts.push(arena, e)) return oom();
            deepest = std::max<uint32_t>(deepest, e->depth);
        }
        const Token *close = peek();
        i++;
        Node *s = node(NodeKind::StringTem, join(open->span, close->span), deepest);
        if (!s) return nullptr;
        s->list = ListData{parts.items};
        s->count = parts.count;
        return s;
    }

    Node *array(uint32_t d) {
        const Token *open = peek();
        i++;
        Vec<Node *> items;
        uint32_t deepest = 0;
        const Token *close = peek();
        if (close && close->kind == Tok::RBracket) {
            i++;
        } else {
            while (true) {
                Node *e = expr(d + 1);
                if (!e) return nullptr;
                if (!items.push(arena, e)) return oom();
                deepest = std::max<uint32_t>(deepest, e->depth);
                const Token *t = peek();
                if (t && t->kind == Tok::Comma) {
                    i++;
                    continue;
                }
                close = expect(Tok::RBracket);
                if (!close) return nullptr;
                break;
            }
        }
        Node *a = node(NodeKind::Array, join(open->span, close->span), deepest);
        if (!a) return nullptr;
        a->list = ListData{items.items};
        a->count = items.count;
        return a;
    }

    Node *object(uint32_t d) {
        const Token *open = peek();
        i++;
        Vec<ObjField> fields;
        uint32_t deepest = 0;
        const Token *close = peek();
        if (close && close->kind == Tok::RBrace) {
            i++;
        } else {
            while (true) {
                // a key is plain text: no {{ }}
                if (!expect(Tok::StrBegin)) return nullptr;
                size_t from = i;
                while (peek() && peek()->kind == Tok::StrText) i++;
                ObjField f{};
                if (i == from) {
                    f.key = Str{"", 0};
                } else if (!joined_text(from, i, &f.key)) {
                    return oom();
                }
                if (!expect(Tok::StrEnd) || !expect(Tok::Colon)) return nullptr;
                f.value = expr(d + 1);
                if (!f.value) return nullptr;
                deepest = std::max<uint32_t>(deepest, f.value->depth);
                if (!fields.push(arena, f)) return oom();
                const Token *t = peek();
                if (t && t->kind == Tok::Comma) {
                    i++;
                    continue;
                }
                close = expect(Tok::RBrace);
                if (!close) return nullptr;
                break;
            }
        }
        if (!dedupe_first(&fields)) return oom();
        Node *o = node(NodeKind::Object, join(open->span, close->span), deepest);
        if (!o) return nullptr;
        o->fields = fields.items;
        o->count = fields.count;
        return o;
    }

    // Upstream builds the object with fromList over the reversed fields, so
    // the first of duplicate keys wins and the others are never evaluated.
    bool dedupe_first(Vec<ObjField> *f) {
        uint32_t n = f->count;
        if (n < 2) return true;
        auto same = [](const Str &a, const Str &b) {
            return a.len == b.len && (a.len == 0 || std::memcmp(a.ptr, b.ptr, a.len) == 0);
        };
        bool *drop = arena_array<bool>(arena, n);
        if (!drop) return false;
        if (n <= 16) {
            for (uint32_t k = 1; k < n; k++)
                for (uint32_t j = 0; j < k && !drop[k]; j++)
                    if (!drop[j] && same(f->items[j].key, f->items[k].key)) drop[k] = true;
        } else {
            uint32_t *idx = arena_array<uint32_t>(arena, n);
            if (!idx) return false;
            for (uint32_t k = 0; k < n; k++) idx[k] = k;
            ObjField *it = f->items;
            std::sort(idx, idx + n, [it](uint32_t a, uint32_t b) {
                const Str &x = it[a].key, &y = it[b].key;
                size_t m = std::min(x.len, y.len);
                int c = m ? std::memcmp(x.ptr, y.ptr, m) : 0;
                if (c) return c < 0;
                if (x.len != y.len) return x.len < y.len;
                return a < b;
            });
            for (uint32_t k = 1; k < n; k++)
                if (same(it[idx[k - 1]].key, it[idx[k]].key)) drop[idx[k]] = true;
        }
        uint32_t out = 0;
        for (uint32_t k = 0; k < n; k++)
            if (!drop[k]) f->items[out++] = f->items[k];
        f->count = out;
        return true;
    }

    Node *iff(uint32_t d) {
        const Token *open = peek();
        i += 2;  // {{ if
        Vec<Branch> branches;
        Node *cond = expr(d + 1);
        if (!cond || !expect(Tok::RRBrace)) return nullptr;
        Node *body = expr(d + 1);
        if (!body) return nullptr;
        if (!branches.push(arena, Branch{cond, body, Span{}})) return oom();
        uint32_t deepest = std::max(cond->depth, body->depth);
        Node *otherwise;
        const Token *close;
        while (true) {
            if (!expect(Tok::LLBrace)) return nullptr;
            const Token *t = peek();
            if (t && is_word(*t, src, "elif")) {
                i++;
                Node *c = expr(d + 1);
                if (!c || !expect(Tok::RRBrace)) return nullptr;
                Node *b = expr(d + 1);
                if (!b) return nullptr;
                if (!branches.push(arena, Branch{c, b, join(t->span, c->span)})) return oom();
                deepest = std::max<uint32_t>(deepest, std::max(c->depth, b->depth));
                continue;
            }
            if (!expect_word("else") || !expect(Tok::RRBrace)) return nullptr;
            otherwise = expr(d + 1);
            if (!otherwise) return nullptr;
            if (!expect(Tok::LLBrace) || !expect_word("end")) return nullptr;
            close = expect(Tok::RRBrace);
            if (!close) return nullptr;
            break;
        }
        deepest = std::max<uint32_t>(deepest, otherwise->depth);
        Span sp = join(open->span, close->span);
        Node *nd = node(NodeKind::If, sp, deepest);
        if (!nd) return nullptr;
        branches.items[0].span = sp;
        nd->iff = IfData{branches.items, otherwise};
        nd->count = branches.count;
        return nd;
    }

    Node *range(uint32_t d) {
        const Token *open = peek();
        i += 2;  // {{ range
        Str index{nullptr, 0};
        const Token *t = peek();
        if (t && t->kind == Tok::Underscore) {
            i++;
        } else {
            const Token *id = expect_name();
            if (!id) return nullptr;
            index = text(*id);
        }
        if (!expect(Tok::Comma)) return nullptr;
        const Token *b = expect_name();
        if (!b || !expect(Tok::Assign)) return nullptr;
        Node *iter = expr(d + 1);
        if (!iter || !expect(Tok::RRBrace)) return nullptr;
        Node *body = expr(d + 1);
        if (!body) return nullptr;
        if (!expect(Tok::LLBrace) || !expect_word("end")) return nullptr;
        const Token *close = expect(Tok::RRBrace);
        if (!close) return nullptr;
        Node *nd = node(NodeKind::Range, join(open->span, close->span), std::max(iter->depth, body->depth));
        if (!nd) return nullptr;
        nd->range = RangeData{index, text(*b), iter, body};
        return nd;
    }

    Node *parse() {
        Node *root = expr(1);
        if (!root) return nullptr;
        if (i < n) return unexpected(peek());
        return root;
    }
};

}  // namespace

bool compile(const char *src, size_t len, const Limits &limits, const Allocator &allocator, Program **out,
             Error *err) {
    *out = nullptr;
    if (len > limits.max_template_bytes || len > UINT32_MAX) {
        Span sp;
        return set_error(err, ErrorCode::LimitError, sp,
                         "Template size limit exceeded: %zu bytes (max_template_bytes = %zu)", len,
                         limits.max_template_bytes);
    }
    void *mem = allocator.alloc(sizeof(Program), alignof(Program), allocator.ud);
    if (!mem) return set_error(err, ErrorCode::MemoryError, Span{}, "Out of memory while compiling");
    Program *p = new (mem) Program(allocator);
    char *copy = static_cast<char *>(p->arena.alloc(len ? len : 1, 1));
    if (!copy) {
        program_free(p);
        return set_error(err, ErrorCode::MemoryError, Span{}, "Out of memory while compiling");
    }
    if (len) std::memcpy(copy, src, len);
    p->src = copy;
    p->src_len = len;

    TokenList toks;
    Span end;
    bool ok = lex(copy, len, limits, allocator, &toks, &end, err);
    if (ok) {
        Parser parser(toks, copy, p->arena, limits, end, err);
        p->root = parser.parse();
        ok = p->root != nullptr;
    }
    toks.release();
    if (!ok) {
        program_free(p);
        return false;
    }
    *out = p;
    return true;
}

void program_free(Program *program) {
    if (!program) return;
    Allocator a = program->alloc;
    program->~Program();
    a.free(program, sizeof(Program), a.ud);
}

}  // namespace kriti
