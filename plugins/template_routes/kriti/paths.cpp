// Static analysis for hosts: the literal key paths a template reads from `$`.
#include <cstring>

#include "ast.hpp"
#include "internal.hpp"

namespace kriti {

using namespace detail;

namespace {

bool is_dollar(const Str &s) { return s.ptr && s.len == 1 && s.ptr[0] == '$'; }

// A step whose key is known without evaluating anything.
bool literal_key(const Step &st, Str *key) {
    if (!st.index) {
        *key = st.key;
        return true;
    }
    const Node *ix = st.index;
    if (ix->kind == NodeKind::String) {
        *key = ix->str;
        return true;
    }
    if (ix->kind == NodeKind::StringTem && ix->count == 0) {
        *key = Str{"", 0};
        return true;
    }
    if (ix->kind == NodeKind::StringTem && ix->count == 1 && ix->list.items[0]->kind == NodeKind::String) {
        *key = ix->list.items[0]->str;
        return true;
    }
    return false;
}

struct Walker {
    PathCallback cb;
    void *ud;
    // one chain at a time: filled and reported before recursing
    const Node *chain[kMaxDepthCap + 1];
    PathStep steps[kMaxDepthCap * 2 + 2];

    void chain_paths(const Node *n, bool shadowed) {
        size_t k = 0;
        const Node *cur = n;
        while ((cur->kind == NodeKind::Field || cur->kind == NodeKind::Optional) && k < kMaxDepthCap + 1) {
            chain[k++] = cur;
            cur = cur->kind == NodeKind::Field ? cur->field.base : cur->opt.base;
        }
        const Node *root = cur;
        if (root->kind == NodeKind::Var && is_dollar(root->str) && !shadowed) {
            size_t count = 0;
            Span span = root->span;
            bool stop = false;
            for (size_t j = k; j-- > 0 && !stop;) {
                const Node *c = chain[j];
                if (c->kind == NodeKind::Field) {
                    Str key;
                    if (!literal_key(c->field.step, &key) || count >= sizeof steps / sizeof steps[0]) break;
                    steps[count++] = PathStep{key.ptr, key.len, false};
                    span = c->span;
                    continue;
                }
                for (uint32_t s = 0; s < c->count; s++) {
                    Str key;
                    if (!literal_key(c->opt.steps[s], &key) || count >= sizeof steps / sizeof steps[0]) {
                        stop = true;
                        break;
                    }
                    steps[count++] = PathStep{key.ptr, key.len, true};
                    if (c->opt.steps[s].index) span = join(span, c->opt.steps[s].index->span);
                }
            }
            cb(steps, count, span, ud); // 0 steps: `$` through a computed key
        }
    }

    void walk(const Node *n, bool shadowed) {
        switch (n->kind) {
        case NodeKind::Null:
        case NodeKind::Bool:
        case NodeKind::Number:
        case NodeKind::String: return;
        case NodeKind::Var:
            if (is_dollar(n->str) && !shadowed) cb(steps, 0, n->span, ud); // `$` used whole
            return;
        case NodeKind::StringTem:
        case NodeKind::Array:
            for (uint32_t i = 0; i < n->count; i++) walk(n->list.items[i], shadowed);
            return;
        case NodeKind::Object:
            for (uint32_t i = 0; i < n->count; i++) walk(n->fields[i].value, shadowed);
            return;
        case NodeKind::Field:
        case NodeKind::Optional: {
            chain_paths(n, shadowed);
            // then what the chain contains: index expressions and its root
            const Node *cur = n;
            while (cur->kind == NodeKind::Field || cur->kind == NodeKind::Optional) {
                if (cur->kind == NodeKind::Field) {
                    if (cur->field.step.index) walk(cur->field.step.index, shadowed);
                    cur = cur->field.base;
                } else {
                    for (uint32_t i = 0; i < cur->count; i++)
                        if (cur->opt.steps[i].index) walk(cur->opt.steps[i].index, shadowed);
                    cur = cur->opt.base;
                }
            }
            if (cur->kind != NodeKind::Var) walk(cur, shadowed); // a `$` root was reported with its chain
            return;
        }
        case NodeKind::If:
            for (uint32_t i = 0; i < n->count; i++) {
                walk(n->iff.branches[i].cond, shadowed);
                walk(n->iff.branches[i].body, shadowed);
            }
            walk(n->iff.otherwise, shadowed);
            return;
        case NodeKind::Binary:
            walk(n->bin.lhs, shadowed);
            walk(n->bin.rhs, shadowed);
            return;
        case NodeKind::Range:
            walk(n->range.iterable, shadowed);
            walk(n->range.body, shadowed || is_dollar(n->range.binder) || is_dollar(n->range.index));
            return;
        case NodeKind::Call: walk(n->call.arg, shadowed); return;
        }
    }
};

}  // namespace

bool for_each_path(const Program *program, PathCallback callback, void *ud) {
    if (!program || !program->root || !callback) return true;
    // ~24 KB: too big for a caller's stack to take for granted
    const Allocator &a = program->alloc;
    void *mem = a.alloc(sizeof(Walker), alignof(Walker), a.ud);
    if (!mem) return false;
    Walker *w = new (mem) Walker{};
    w->cb = callback;
    w->ud = ud;
    w->walk(program->root, false);
    a.free(mem, sizeof(Walker), a.ud);
    return true;
}

}  // namespace kriti
