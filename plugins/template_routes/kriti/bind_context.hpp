// A bind_paths() host over one fixed `$`, for tests and fuzzing: bound
// chains must give exactly what lookups on that `$` give.
//
// A chain is bound to the value its keys reach, or to "absent" when a key
// is missing from an object on the way; a chain that meets a non-object
// before its last key (the value before its optional keys included) is left
// a lookup: its meaning there — null through `?`, or a Type Error — depends
// on the node, not just on the keys.
#pragma once

#include "kriti/kriti.hpp"

namespace kriti {

struct ContextBinder {
    static constexpr uint32_t kMax = 64;
    Value context;
    const Value *values[kMax] = {};
    uint32_t count = 0;

    explicit ContextBinder(const Value &c) : context(c) {}

    static int32_t bind(const PathStep *steps, size_t n, bool bindable, void *ud) {
        auto *b = static_cast<ContextBinder *>(ud);
        if (!bindable || b->count == kMax) return -1;
        const Value *cur = &b->context;
        for (size_t i = 0; i < n && cur; i++) {
            if (cur->type != Type::Object) return -1;
            cur = find_member(*cur, steps[i].key, steps[i].key_len);
        }
        b->values[b->count] = cur;
        return static_cast<int32_t>(b->count++);
    }
};

}  // namespace kriti
