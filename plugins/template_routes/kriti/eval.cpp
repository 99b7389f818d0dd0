// Evaluation (upstream Eval.hs). Results are built in the caller's Arena and
// share everything they can: literals point into the Program, lookups into
// the bindings' values, tail() into its argument. Recursion follows the
// tree, whose depth compile() bounded; every allocation, range iteration and
// unit of work is counted against the Limits.
#include <cmath>
#include <cstdarg>
#include <cstring>

#include "ast.hpp"
#include "internal.hpp"

namespace kriti {

using namespace detail;

namespace {

const Value kEmptyItems[1] = {};

// Range binders, innermost first, linked through the C stack.
struct Scope {
    Str name;
    Value value;
    const Scope *next;
};

struct Evaluator {
    Arena &arena;
    const Limits &limits;
    Error *err;
    const FunctionTable *fns;
    const Binding *bindings;
    size_t binding_count;
    size_t arena_start;
    Slots *slots = nullptr;
    uint64_t iterations = 0;
    Budget steps;
    Span call_span;  // of the running function's argument (for its errors)

    Evaluator(Arena &a, const Limits &l, Error *e, const FunctionTable *f, const Binding *b, size_t nb)
        : arena(a), limits(l), err(e), fns(f), bindings(b), binding_count(nb), arena_start(a.used()) {
        steps.limit = l.max_eval_steps;
    }

    // errors are out of line, to keep the recursive frames small
    __attribute__((noinline, cold)) bool fail(ErrorCode code, const Span &sp, const char *fmt, ...)
        __attribute__((format(printf, 4, 5))) {
        va_list ap;
        va_start(ap, fmt);
        set_error_v(err, code, sp, fmt, ap);
        va_end(ap);
        return false;
    }

    __attribute__((noinline, cold)) bool type_error(const Span &sp, const Value &actual, const char *expected) {
        return fail(ErrorCode::TypeError, sp, "Couldn't match expected type '%s' with actual type '%s'", expected,
                    type_name(actual));
    }

    void *alloc(size_t size, size_t align, const Span &sp) {
        // with the worst-case alignment padding, so used() never passes the limit
        size_t used = arena.used() - arena_start;
        size_t need = size + align;
        if (need < size || need > limits.max_output_bytes || used > limits.max_output_bytes - need) {
            fail(ErrorCode::LimitError, sp, "Output size limit exceeded (max_output_bytes = %zu)",
                 limits.max_output_bytes);
            return nullptr;
        }
        void *p = arena.alloc(size ? size : 1, align);
        if (!p) fail(ErrorCode::MemoryError, sp, "Out of memory: the allocator refused %zu bytes", size);
        return p;
    }

    template <typename T>
    T *alloc_array(size_t n, const Span &sp) {
        if (n > SIZE_MAX / sizeof(T)) n = SIZE_MAX / sizeof(T);
        void *p = alloc(n * sizeof(T), alignof(T), sp);
        if (!p) return nullptr;
        T *t = static_cast<T *>(p);
        for (size_t i = 0; i < n; i++) new (t + i) T();
        return t;
    }

    bool charge(uint64_t units, const Span &sp) {
        steps.used += units;
        if (!steps.exhausted()) return true;
        return fail(ErrorCode::LimitError, sp, "Evaluation step limit exceeded (max_eval_steps = %llu)",
                    static_cast<unsigned long long>(limits.max_eval_steps));
    }

    bool check_steps(const Span &sp) { return charge(0, sp); }

    bool check_string(size_t len, const Span &sp) {
        if (len <= limits.max_string_bytes && len <= UINT32_MAX) return true;
        return fail(ErrorCode::LimitError, sp, "String length limit exceeded (max_string_bytes = %zu)",
                    limits.max_string_bytes);
    }

    bool lookup_var(const Node *n, const Scope *scope, Value *out) {
        const Str &name = n->str;
        for (const Scope *s = scope; s; s = s->next) {
            if (s->name.len == name.len && std::memcmp(s->name.ptr, name.ptr, name.len) == 0) {
                *out = s->value;
                return true;
            }
        }
        for (size_t i = binding_count; i-- > 0;) {
            const Binding &b = bindings[i];
            if (b.name_len == name.len && std::memcmp(b.name, name.ptr, name.len) == 0) {
                *out = b.value;
                return true;
            }
        }
        return fail(ErrorCode::NameError, n->span, "Variable '%.*s' not in scope", static_cast<int>(name.len),
                    name.ptr);
    }

    // An array index as upstream's toBoundedInteger @Int.
    static bool as_index(const Value &v, int64_t *i) {
        if (v.type != Type::Number) return false;
        double d = v.num;
        if (!(d == std::floor(d)) || d < -9223372036854775808.0 || d >= 9223372036854775808.0) return false;
        *i = static_cast<int64_t>(d);
        return true;
    }

    const Value *member(const Value &obj, const char *key, size_t len, const Span &sp) {
        if (!charge(obj.len / 16, sp)) return nullptr;
        return find_member(obj, key, len);
    }

    bool eval_field(const Node *n, const Scope *scope, Value *out) {
        const Node *base_node = n->field.base;
        const Step &st = n->field.step;
        Value base;
        if (!eval(base_node, scope, &base)) return false;
        if (!st.index) {
            if (base.type != Type::Object) return type_error(base_node->span, base, "Object");
            const Value *v = member(base, st.key.ptr, st.key.len, n->span);
            if (!v) {
                if (err->code == ErrorCode::LimitError) return false;
                return fail(ErrorCode::AttributeError, n->span, "'Object' has no attritubte '%.*s'.",
                            static_cast<int>(st.key.len), st.key.ptr);
            }
            *out = *v;
            return true;
        }
        if (base.type == Type::Object) {
            Value key;
            if (!eval(st.index, scope, &key)) return false;
            if (key.type != Type::String) return type_error(base_node->span, key, "String");
            const Value *v = member(base, key.str, key.len, n->span);
            if (!v) {
                if (err->code == ErrorCode::LimitError) return false;
                return fail(ErrorCode::AttributeError, n->span, "'Object' has no attritubte '%.*s'.",
                            static_cast<int>(key.len), key.str);
            }
            *out = *v;
            return true;
        }
        if (base.type == Type::Array) {
            Value idx;
            if (!eval(st.index, scope, &idx)) return false;
            int64_t i;
            if (!as_index(idx, &i)) return type_error(n->span, idx, "Integer");
            if (i < 0 || static_cast<uint64_t>(i) >= base.len)
                return fail(ErrorCode::IndexError, n->span, "Can only range over an array");
            *out = base.items[i];
            return true;
        }
        return type_error(base_node->span, base, "Object");
    }

    bool eval_optional(const Node *n, const Scope *scope, Value *out) {
        const Node *base_node = n->opt.base;
        Value base;
        if (!eval(base_node, scope, &base)) {
            // upstream catches any error of the base; our resource errors
            // are not Kriti's to catch
            if (err->code == ErrorCode::LimitError || err->code == ErrorCode::MemoryError) return false;
            err->code = ErrorCode::None;
            err->message[0] = 0;
            base = Value::null();
        }
        // index expressions are evaluated, strictly, before the walk
        Value *keys = nullptr;
        bool any_index = false;
        for (uint32_t i = 0; i < n->count; i++) any_index = any_index || n->opt.steps[i].index;
        if (any_index) {
            keys = alloc_array<Value>(n->count, n->span);
            if (!keys) return false;
            for (uint32_t i = 0; i < n->count; i++) {
                const Step &st = n->opt.steps[i];
                if (st.index && !eval(st.index, scope, &keys[i])) return false;
            }
        }
        if (base.type == Type::Null) {
            *out = Value::null();
            return true;
        }
        if (base.type != Type::Object && base.type != Type::Array)
            return type_error(base_node->span, base, "Object");
        Value cur = base;
        for (uint32_t i = 0; i < n->count; i++) {
            const Step &st = n->opt.steps[i];
            Value key = st.index ? keys[i] : Value::string(st.key.ptr, st.key.len);
            const Value *next = nullptr;
            int64_t idx;
            if (key.type == Type::String && cur.type == Type::Object) {
                next = member(cur, key.str, key.len, n->span);
                if (!next && err->code == ErrorCode::LimitError) return false;
            } else if (cur.type == Type::Array && as_index(key, &idx)) {
                if (idx >= 0 && static_cast<uint64_t>(idx) < cur.len) next = &cur.items[idx];
            }
            if (!next) {
                *out = Value::null();
                return true;
            }
            cur = *next;
        }
        *out = cur;
        return true;
    }

    bool eval_string(const Node *n, const Scope *scope, Value *out) {
        if (n->count == 0) {
            *out = Value::string("", 0);
            return true;
        }
        if (n->count == 1 && n->list.items[0]->kind == NodeKind::String) {
            *out = Value::string(n->list.items[0]->str.ptr, n->list.items[0]->str.len);
            return true;
        }
        Value *vals = alloc_array<Value>(n->count, n->span);
        if (!vals) return false;
        size_t total = 0;
        for (uint32_t i = 0; i < n->count; i++) {
            if (!eval(n->list.items[i], scope, &vals[i])) return false;
            // strings go in raw, anything else as compact JSON
            size_t len = vals[i].type == Type::String ? vals[i].len : json_length(vals[i]);
            if (vals[i].type != Type::String && !charge(len / 16, n->span)) return false;
            total += len;
            if (!check_string(total, n->span)) return false;
        }
        char *buf = static_cast<char *>(alloc(total, 1, n->span));
        if (!buf) return false;
        size_t o = 0;
        for (uint32_t i = 0; i < n->count; i++) {
            const Value &v = vals[i];
            if (v.type == Type::String) {
                if (v.len) std::memcpy(buf + o, v.str, v.len);
                o += v.len;
            } else {
                size_t len = json_length(v);
                json_emit(v, buf + o);
                o += len;
            }
        }
        *out = Value::string(buf, static_cast<uint32_t>(total));
        return true;
    }

    bool eval_if(const Node *n, const Scope *scope, Value *out) {
        for (uint32_t i = 0; i < n->count; i++) {
            const Branch &b = n->iff.branches[i];
            Value c;
            if (!eval(b.cond, scope, &c)) return false;
            if (c.type == Type::True) return eval(b.body, scope, out);
            if (c.type != Type::False) return type_error(b.span, c, "Boolean");
        }
        return eval(n->iff.otherwise, scope, out);
    }

    bool eval_binary(const Node *n, const Scope *scope, Value *out) {
        Value a, b;
        if (!eval(n->bin.lhs, scope, &a)) return false;
        if (n->op == BinOp::Default) {
            if (a.type != Type::Null) {
                *out = a;
                return true;
            }
            return eval(n->bin.rhs, scope, out);
        }
        // no short-circuit: upstream evaluates both sides of && and || too
        if (!eval(n->bin.rhs, scope, &b)) return false;
        bool r = false;
        switch (n->op) {
        case BinOp::Eq: r = equal_counted(a, b, &steps); break;
        case BinOp::NotEq: r = !equal_counted(a, b, &steps); break;
        case BinOp::Lt: r = compare_counted(a, b, &steps) < 0; break;
        case BinOp::Gt: r = compare_counted(a, b, &steps) > 0; break;
        case BinOp::Lte: r = compare_counted(a, b, &steps) <= 0; break;
        case BinOp::Gte: r = compare_counted(a, b, &steps) >= 0; break;
        case BinOp::And:
        case BinOp::Or:
            if (!a.is_bool()) return type_error(n->span, b.is_bool() ? a : b, "Boolean");
            if (!b.is_bool()) return type_error(n->span, b, "Boolean");
            r = n->op == BinOp::And ? (a.type == Type::True && b.type == Type::True)
                                    : (a.type == Type::True || b.type == Type::True);
            break;
        case BinOp::In:
            if (b.type == Type::Object) {
                if (a.type != Type::String) return type_error(n->span, a, "String");
                const Value *m = member(b, a.str, a.len, n->span);
                if (!m && err->code == ErrorCode::LimitError) return false;
                r = m != nullptr;
            } else if (b.type == Type::Array) {
                for (uint32_t i = 0; i < b.len && !r && !steps.exhausted(); i++)
                    r = equal_counted(a, b.items[i], &steps);
            } else {
                return type_error(n->span, b, "Array");
            }
            break;
        case BinOp::Default: break;
        }
        if (!check_steps(n->span)) return false;
        *out = Value::boolean(r);
        return true;
    }

    bool eval_range(const Node *n, const Scope *scope, Value *out) {
        Value xs;
        if (!eval(n->range.iterable, scope, &xs)) return false;
        if (xs.type != Type::Array) return type_error(n->span, xs, "Array");
        Value *items = xs.len ? alloc_array<Value>(xs.len, n->span) : nullptr;
        if (xs.len && !items) return false;
        for (uint32_t i = 0; i < xs.len; i++) {
            if (++iterations > limits.max_range_iterations)
                return fail(ErrorCode::LimitError, n->span,
                            "Range iteration limit exceeded (max_range_iterations = %llu)",
                            static_cast<unsigned long long>(limits.max_range_iterations));
            // the index is bound after the element, so it wins a name clash
            // as in upstream's fromList
            Scope elem{n->range.binder, xs.items[i], scope};
            Scope index{n->range.index, Value::number(i), &elem};
            const Scope *inner = n->range.index.ptr ? &index : &elem;
            if (!eval(n->range.body, inner, &items[i])) return false;
        }
        *out = Value::array(items ? items : kEmptyItems, xs.len);
        return true;
    }

    bool eval_call(const Node *n, const Scope *scope, Value *out);

    bool eval_bound(const Node *n, const Scope *scope, Value *out) {
        if (!slots) return eval(n->bound.orig, scope, out);
        if (read_bound(n, *slots, out)) return true;
        slots->missed = true;
        return fail(ErrorCode::InvalidPath, n->span, "A bound path has no value: evaluate without slots");
    }

    bool eval(const Node *n, const Scope *scope, Value *out) {
        if (!charge(1, n->span)) return false;
        switch (n->kind) {
        case NodeKind::Null: *out = Value::null(); return true;
        case NodeKind::Bool: *out = Value::boolean(n->boolean); return true;
        case NodeKind::Number: *out = Value::number(n->num); return true;
        case NodeKind::String: *out = Value::string(n->str.ptr, n->str.len); return true;
        case NodeKind::StringTem: return eval_string(n, scope, out);
        case NodeKind::Array: {
            Value *items = n->count ? alloc_array<Value>(n->count, n->span) : nullptr;
            if (n->count && !items) return false;
            for (uint32_t i = 0; i < n->count; i++)
                if (!eval(n->list.items[i], scope, &items[i])) return false;
            *out = Value::array(items ? items : kEmptyItems, n->count);
            return true;
        }
        case NodeKind::Object: {
            Member *ms = n->count ? alloc_array<Member>(n->count, n->span) : nullptr;
            if (n->count && !ms) return false;
            for (uint32_t i = 0; i < n->count; i++) {
                ms[i].key = n->fields[i].key.ptr;
                ms[i].key_len = n->fields[i].key.len;
                if (!eval(n->fields[i].value, scope, &ms[i].value)) return false;
            }
            *out = Value::object(ms, n->count);
            return true;
        }
        case NodeKind::Var: return lookup_var(n, scope, out);
        case NodeKind::Field: return eval_field(n, scope, out);
        case NodeKind::Optional: return eval_optional(n, scope, out);
        case NodeKind::If: return eval_if(n, scope, out);
        case NodeKind::Binary: return eval_binary(n, scope, out);
        case NodeKind::Range: return eval_range(n, scope, out);
        case NodeKind::Call: return eval_call(n, scope, out);
        case NodeKind::Bound: return eval_bound(n, scope, out);
        }
        return fail(ErrorCode::InvalidPath, n->span, "Invalid node");
    }
};

bool Evaluator::eval_call(const Node *n, const Scope *scope, Value *out) {
    Value arg;
    if (!eval(n->call.arg, scope, &arg)) return false;
    const Str &name = n->call.name;
    FunctionFn fn = nullptr;
    for (size_t i = 0; fns && i < fns->count && !fn; i++) {
        const char *fname = fns->entries[i].name;
        if (std::strlen(fname) == name.len && std::memcmp(fname, name.ptr, name.len) == 0) fn = fns->entries[i].fn;
    }
    if (!fn)
        return fail(ErrorCode::NameError, n->span, "Variable '%.*s' not in scope", static_cast<int>(name.len),
                    name.ptr);
    CallContext ctx{this};
    Span saved = call_span;
    call_span = n->call.arg->span;
    err->code = ErrorCode::None;
    bool ok = fn(ctx, arg, out);
    call_span = saved;
    if (!ok) {
        if (err->code == ErrorCode::None)
            return fail(ErrorCode::FunctionError, n->call.arg->span, "Function '%.*s' failed",
                        static_cast<int>(name.len), name.ptr);
        return false;
    }
    return check_steps(n->span);
}

}  // namespace

void *CallContext::alloc(size_t size, size_t align) {
    auto *ev = static_cast<Evaluator *>(impl_);
    return ev->alloc(size, align, ev->call_span);
}

bool CallContext::check_string(size_t len) {
    auto *ev = static_cast<Evaluator *>(impl_);
    return ev->check_string(len, ev->call_span);
}

bool CallContext::charge(uint64_t units) {
    auto *ev = static_cast<Evaluator *>(impl_);
    return ev->charge(units, ev->call_span);
}

bool CallContext::error(const char *fmt, ...) {
    auto *ev = static_cast<Evaluator *>(impl_);
    va_list ap;
    va_start(ap, fmt);
    set_error_v(ev->err, ErrorCode::FunctionError, ev->call_span, fmt, ap);
    va_end(ap);
    return false;
}

bool eval(const Program *program, const Binding *bindings, size_t binding_count, const FunctionTable *functions,
          Arena &arena, const Limits &limits, Value *out, Error *err, Slots *slots) {
    Error scratch;
    if (!err) err = &scratch;
    err->code = ErrorCode::None;
    err->message[0] = 0;
    if (!program || !program->root)
        return set_error(err, ErrorCode::InvalidPath, Span{}, "No program to evaluate");
    if (slots) {
        slots->missed = false;
        if (program->decision) {
            if (decide(program->root, *slots, out)) return true;
            slots->missed = true;
            return set_error(err, ErrorCode::InvalidPath, program->root->span,
                             "A bound path has no value: evaluate without slots");
        }
    }
    Evaluator ev(arena, limits, err, functions, bindings, binding_count);
    ev.slots = slots;
    Value v;
    if (!ev.eval(program->root, nullptr, &v)) return false;
    *out = v;
    return true;
}

}  // namespace kriti
