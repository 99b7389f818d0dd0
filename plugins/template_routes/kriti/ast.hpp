// The syntax tree of a compiled template (upstream's ValueExt). Nodes, their
// arrays and their strings live in the Program's arena and never change
// after compile().
#pragma once

#include <cstdint>

#include "kriti/kriti.hpp"

namespace kriti::detail {

enum class NodeKind : uint8_t {
    Null,
    Bool,
    Number,
    String,     // literal text (a piece of a string template, or a ['key'])
    StringTem,  // "…{{ e }}…": parts are String nodes and expressions
    Array,
    Object,
    Var,
    Field,     // required lookup: base.key, base['key'], base[expr]
    Optional,  // base?steps… (null on any miss)
    If,
    Binary,
    Range,
    Call,
    Bound,     // a Field/Optional chain the host serves from a slot (bind_paths)
};

enum class BinOp : uint8_t { Gt, Lt, Gte, Lte, NotEq, Eq, And, Or, In, Default };

struct Node;

struct Str {
    const char *ptr;
    uint32_t len;
};

struct ObjField {
    Str key;
    Node *value;
};

// A lookup step: .key (index == nullptr) or [index].
struct Step {
    Str key;
    Node *index;
};

struct Branch {
    Node *cond;
    Node *body;
    Span span;  // of a non-boolean condition's Type Error: the whole if, or `elif cond`
};

struct ListData {
    Node **items;  // Array elements, StringTem parts
};
struct FieldData {
    Node *base;
    Step step;
};
struct OptionalData {
    Node *base;
    Step *steps;  // count of them
};
struct IfData {
    Branch *branches;  // count of them: the if, then the elifs
    Node *otherwise;
};
struct BinaryData {
    Node *lhs, *rhs;
};
struct RangeData {
    Str index;  // ptr == nullptr for `_`
    Str binder;
    Node *iterable;
    Node *body;
};
struct CallData {
    Str name;
    Node *arg;
};
struct BoundData {
    Node *orig;     // the chain as parsed: evaluated when no slots are given
    uint32_t slot;
    bool optional;  // the chain's last node is `?`: an absent value reads null
};

struct Node {
    NodeKind kind;
    BinOp op;
    uint16_t depth;  // 1 + the deepest child
    uint32_t count;  // items, parts, fields, steps, branches
    Span span;
    union {
        double num;
        bool boolean;
        Str str;  // String, Var
        ListData list;
        ObjField *fields;
        FieldData field;
        OptionalData opt;
        IfData iff;
        BinaryData bin;
        RangeData range;
        CallData call;
        BoundData bound;
    };
    Node() : kind(NodeKind::Null), op(BinOp::Eq), depth(1), count(0), num(0) {}
};

}  // namespace kriti::detail

namespace kriti {

struct Program {
    Allocator alloc;
    Arena arena;
    detail::Node *root = nullptr;
    const char *src = nullptr;  // a copy, in arena
    size_t src_len = 0;
    // bind_paths() found the whole program a decision over bound values
    // (decide.cpp): eval with slots takes that path.
    bool decision = false;
    explicit Program(const Allocator &a) : alloc(a), arena(a) {}
};

}  // namespace kriti
