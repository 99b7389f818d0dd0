// Short strings a word at a time, for lookups that hash and compare a name
// on every plan (service keys, node names): 8-byte loads, the last 1..7
// bytes from an overlapping word, no library call. Never reads past s[n).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace syp {

inline uint64_t load64(const char *p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
}

// Bytes s[i..n) (fewer than 8) as a little-endian word.
inline uint64_t tail64(const char *s, size_t i, size_t n) {
    if (n >= 8) return load64(s + n - 8) >> (8 * (8 - (n - i)));
    uint64_t w = 0;
    for (size_t k = i; k < n; k++) w |= uint64_t{static_cast<unsigned char>(s[k])} << (8 * (k - i));
    return w;
}

// A hash of s[0..n), seeded with n.
inline uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) h = (h ^ load64(s + i)) * 0xff51afd7ed558ccdull;
    if (i < n) h = (h ^ tail64(s, i, n)) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    return h ^ (h >> 32);
}

// a[0..n) == b[0..n).
inline bool same_bytes(const char *a, const char *b, size_t n) {
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i]) return false;
        return true;
    }
    for (size_t i = 0; i + 8 <= n; i += 8)
        if (load64(a + i) != load64(b + i)) return false;
    return load64(a + n - 8) == load64(b + n - 8);
}

// s (n bytes) is exactly the literal: its length first, then a comparison
// the compiler turns into a few word loads.
template <size_t N> inline bool is_literal(const char *s, size_t n, const char (&lit)[N]) {
    return n == N - 1 && std::memcmp(s, lit, N - 1) == 0;
}

} // namespace syp
