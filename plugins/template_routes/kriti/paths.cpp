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
    PathCallback cb = nullptr;  // for_each_path
    BindCallback bind = nullptr;  // bind_paths: may turn a chain into a Bound node
    Arena *arena = nullptr;       // bind_paths: the Program's, for the chains' parsed forms
    bool failed = false;
    void *ud;
    // one chain at a time: filled and reported before recursing
    const Node *chain[kMaxDepthCap + 1];
    PathStep steps[kMaxDepthCap * 2 + 2];

    // Reports n's chain; true when bind_paths bound it (nothing in it is
    // left to walk: its keys were all literal).
    bool chain_paths(const Node *n, bool shadowed) {
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
            bool whole = true;  // every step literal, and none left out
            for (size_t j = k; j-- > 0 && !stop;) {
                const Node *c = chain[j];
                if (c->kind == NodeKind::Field) {
                    Str key;
                    if (!literal_key(c->field.step, &key) || count >= sizeof steps / sizeof steps[0]) {
                        whole = false;
                        break;
                    }
                    steps[count++] = PathStep{key.ptr, key.len, false};
                    span = c->span;
                    continue;
                }
                for (uint32_t s = 0; s < c->count; s++) {
                    Str key;
                    if (!literal_key(c->opt.steps[s], &key) || count >= sizeof steps / sizeof steps[0]) {
                        stop = true;
                        whole = false;
                        break;
                    }
                    steps[count++] = PathStep{key.ptr, key.len, true};
                    if (c->opt.steps[s].index) span = join(span, c->opt.steps[s].index->span);
                }
            }
            if (cb) {
                cb(steps, count, span, ud); // 0 steps: `$` through a computed key
                return false;
            }
            // A slot stands for lookups whose answer is the value reached or
            // an absence: required keys, then at most one `?` (the outermost
            // node) with keys after it. `$.a?` alone, or a `?` inside the
            // chain, can also fail on the type of a value met on the way.
            for (size_t j = 1; j < k; j++)
                if (chain[j]->kind == NodeKind::Optional) whole = false;
            if (chain[0]->kind == NodeKind::Optional && chain[0]->count == 0) whole = false;
            int32_t slot = bind(steps, count, whole && count > 0, ud);
            if (slot < 0 || !whole || count == 0) return false;
            // n becomes the Bound node; its parsed form moves to a copy
            auto *orig = static_cast<Node *>(arena->alloc(sizeof(Node), alignof(Node)));
            if (!orig) {
                failed = true;
                return false;
            }
            *orig = *n;
            Node *b = const_cast<Node *>(n);
            bool optional = n->kind == NodeKind::Optional;
            b->kind = NodeKind::Bound;
            b->count = 0;
            b->bound = BoundData{orig, static_cast<uint32_t>(slot), optional};
            return true;
        }
        return false;
    }

    void walk(const Node *n, bool shadowed) {
        switch (n->kind) {
        case NodeKind::Null:
        case NodeKind::Bool:
        case NodeKind::Number:
        case NodeKind::String: return;
        case NodeKind::Var:
            if (is_dollar(n->str) && !shadowed) { // `$` used whole
                if (cb)
                    cb(steps, 0, n->span, ud);
                else
                    bind(steps, 0, false, ud);
            }
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
            if (chain_paths(n, shadowed)) return;
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
        case NodeKind::Bound: walk(n->bound.orig, shadowed); return;
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

bool bind_paths(Program *program, BindCallback callback, void *ud) {
    if (!program || !program->root || !callback) return true;
    const Allocator &a = program->alloc;
    void *mem = a.alloc(sizeof(Walker), alignof(Walker), a.ud);
    if (!mem) return false;
    Walker *w = new (mem) Walker{};
    w->bind = callback;
    w->arena = &program->arena;
    w->ud = ud;
    w->walk(program->root, false);
    bool ok = !w->failed;
    program->decision = ok && is_decision(program->root);
    a.free(mem, sizeof(Walker), a.ud);
    return ok;
}

}  // namespace kriti
