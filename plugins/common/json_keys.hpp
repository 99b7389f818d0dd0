// Checking a config object's keys: plugins refuse unknown and repeated keys
// with an error naming the key.
#pragma once
#include <switchyard/plugin.h>

#include <cstring>

namespace syp {

// The first member key of obj that is not in allowed (NULL-terminated) or
// repeats an earlier one, with *why set to "unknown key" or "duplicate
// key"; NULL when every key is fine.
inline const char *bad_key(const sy_host *h, const sy_json *obj, const char *const *allowed, const char **why) {
    size_t n = h->json_count(obj);
    for (size_t i = 0; i < n; i++) {
        const char *k = h->json_key(h->json_at(obj, i));
        const char *const *a = allowed;
        while (*a && std::strcmp(*a, k) != 0) a++;
        if (!*a) {
            *why = "unknown key";
            return k;
        }
        for (size_t j = 0; j < i; j++)
            if (std::strcmp(h->json_key(h->json_at(obj, j)), k) == 0) {
                *why = "duplicate key";
                return k;
            }
    }
    return nullptr;
}

} // namespace syp
