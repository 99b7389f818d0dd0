// NUL-terminated copies through the host allocator, freed with their length
// (the host's free takes the size), as plugins keep config strings.
#pragma once
#include <switchyard/plugin.h>

#include <cstring>

namespace syp {

inline char *dup(const sy_host *h, const char *s) {
    size_t n = std::strlen(s);
    auto *p = static_cast<char *>(h->alloc(h, n + 1, 1));
    if (p) std::memcpy(p, s, n + 1);
    return p;
}

inline void sfree(const sy_host *h, const char *s) {
    if (s) h->free(h, const_cast<char *>(s), std::strlen(s) + 1);
}

} // namespace syp
