// Decisions: the shape routing templates take — if/elif/else over
// comparisons of bound values and literals, each branch a bound value or a
// literal — evaluated straight from the slots. The general evaluator's
// bookkeeping (work units, arena, error spans) is there for what such a
// program cannot do: it allocates nothing, cannot fail but for a required
// bound value being absent, and does work bounded by its own size. Results
// are exactly the general evaluator's; anything outside the shape is left
// to it.
#include <cstring>

#include "ast.hpp"
#include "internal.hpp"

namespace kriti::detail {

namespace {

bool is_operand(const Node *n) {
    switch (n->kind) {
    case NodeKind::Null:
    case NodeKind::Bool:
    case NodeKind::Number:
    case NodeKind::String:
    case NodeKind::Bound: return true;
    case NodeKind::StringTem: return n->count == 0 || (n->count == 1 && n->list.items[0]->kind == NodeKind::String);
    default: return false;
    }
}

// Always a boolean, never an error.
bool is_condition(const Node *n) {
    if (n->kind == NodeKind::Bool) return true;
    if (n->kind != NodeKind::Binary) return false;
    switch (n->op) {
    case BinOp::And:
    case BinOp::Or: return is_condition(n->bin.lhs) && is_condition(n->bin.rhs);
    case BinOp::Eq:
    case BinOp::NotEq:
    case BinOp::Lt:
    case BinOp::Gt:
    case BinOp::Lte:
    case BinOp::Gte: return is_operand(n->bin.lhs) && is_operand(n->bin.rhs);
    default: return false;
    }
}

// -1: a required bound value is absent.
int operand(const Node *n, const Slots &s, Value *out) {
    switch (n->kind) {
    case NodeKind::Bound: return read_bound(n, s, out) ? 1 : -1;
    case NodeKind::String: *out = Value::string(n->str.ptr, n->str.len); return 1;
    case NodeKind::StringTem:
        *out = n->count ? Value::string(n->list.items[0]->str.ptr, n->list.items[0]->str.len) : Value::string("", 0);
        return 1;
    case NodeKind::Number: *out = Value::number(n->num); return 1;
    case NodeKind::Bool: *out = Value::boolean(n->boolean); return 1;
    default: *out = Value::null(); return 1;
    }
}

bool same(const Value &a, const Value &b) {
    if (a.type == Type::String && b.type == Type::String)
        return a.len == b.len && (a.len == 0 || std::memcmp(a.str, b.str, a.len) == 0);
    return equal(a, b);
}

// 0 false, 1 true, -1 absent (as operand).
int condition(const Node *n, const Slots &s) {
    if (n->kind == NodeKind::Bool) return n->boolean;
    if (n->op == BinOp::And || n->op == BinOp::Or) {
        // both sides, as upstream: an absent value on either decides
        int a = condition(n->bin.lhs, s);
        if (a < 0) return a;
        int b = condition(n->bin.rhs, s);
        if (b < 0) return b;
        return n->op == BinOp::And ? (a & b) : (a | b);
    }
    Value a, b;
    if (operand(n->bin.lhs, s, &a) < 0 || operand(n->bin.rhs, s, &b) < 0) return -1;
    switch (n->op) {
    case BinOp::Eq: return same(a, b);
    case BinOp::NotEq: return !same(a, b);
    case BinOp::Lt: return compare(a, b) < 0;
    case BinOp::Gt: return compare(a, b) > 0;
    case BinOp::Lte: return compare(a, b) <= 0;
    case BinOp::Gte: return compare(a, b) >= 0;
    default: return -1;
    }
}

}  // namespace

bool read_bound(const Node *n, const Slots &s, Value *out) {
    if (const Value *v = s.values[n->bound.slot]) {
        *out = *v;
        return true;
    }
    *out = Value::null();
    return n->bound.optional;
}

bool is_decision(const Node *n) {
    if (n->kind != NodeKind::If) return is_operand(n);
    for (uint32_t i = 0; i < n->count; i++)
        if (!is_condition(n->iff.branches[i].cond) || !is_decision(n->iff.branches[i].body)) return false;
    return is_decision(n->iff.otherwise);
}

bool decide(const Node *n, const Slots &s, Value *out) {
    while (n->kind == NodeKind::If) {
        const Node *next = n->iff.otherwise;
        for (uint32_t i = 0; i < n->count; i++) {
            int c = condition(n->iff.branches[i].cond, s);
            if (c < 0) return false;
            if (c) {
                next = n->iff.branches[i].body;
                break;
            }
        }
        n = next;
    }
    return operand(n, s, out) > 0;
}

}  // namespace kriti::detail
