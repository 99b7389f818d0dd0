// Murmur3Partitioner tokens. Cassandra's implementation (and therefore every
// driver's) differs from the reference MurmurHash3 in one place: the tail
// bytes are read as *signed* Java bytes, so a byte >= 0x80 is sign-extended
// before it is shifted in. Tokens must match the cluster's, so we do the same.
#include "hash/murmur3.hpp"

#include <cstring>

#include <switchyard/switchyard.h>

namespace sy {

namespace {

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline uint64_t fmix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

inline uint64_t load_le64(const uint8_t *p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

// A tail byte as Java reads it: signed, then widened to 64 bits.
inline uint64_t tail_byte(const uint8_t *p, size_t i, int shift) {
    return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(p[i]))) << shift;
}

constexpr uint64_t c1 = 0x87c37b91114253d5ull;
constexpr uint64_t c2 = 0x4cf5ad432745937full;

} // namespace

int64_t murmur3_token(const void *key, size_t len) {
    if (len == 0) return INT64_MIN;
    const auto *data = static_cast<const uint8_t *>(key);
    const size_t blocks = len / 16;
    uint64_t h1 = 0, h2 = 0;

    for (size_t i = 0; i < blocks; i++) {
        uint64_t k1 = load_le64(data + i * 16);
        uint64_t k2 = load_le64(data + i * 16 + 8);
        k1 *= c1;
        k1 = rotl(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl(h1, 27);
        h1 += h2;
        h1 = h1 * 5 + 0x52dce729;
        k2 *= c2;
        k2 = rotl(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        h2 = rotl(h2, 31);
        h2 += h1;
        h2 = h2 * 5 + 0x38495ab5;
    }

    const uint8_t *tail = data + blocks * 16;
    uint64_t k1 = 0, k2 = 0;
    switch (len & 15) {
    case 15: k2 ^= tail_byte(tail, 14, 48); [[fallthrough]];
    case 14: k2 ^= tail_byte(tail, 13, 40); [[fallthrough]];
    case 13: k2 ^= tail_byte(tail, 12, 32); [[fallthrough]];
    case 12: k2 ^= tail_byte(tail, 11, 24); [[fallthrough]];
    case 11: k2 ^= tail_byte(tail, 10, 16); [[fallthrough]];
    case 10: k2 ^= tail_byte(tail, 9, 8); [[fallthrough]];
    case 9:
        k2 ^= tail_byte(tail, 8, 0);
        k2 *= c2;
        k2 = rotl(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        [[fallthrough]];
    case 8: k1 ^= tail_byte(tail, 7, 56); [[fallthrough]];
    case 7: k1 ^= tail_byte(tail, 6, 48); [[fallthrough]];
    case 6: k1 ^= tail_byte(tail, 5, 40); [[fallthrough]];
    case 5: k1 ^= tail_byte(tail, 4, 32); [[fallthrough]];
    case 4: k1 ^= tail_byte(tail, 3, 24); [[fallthrough]];
    case 3: k1 ^= tail_byte(tail, 2, 16); [[fallthrough]];
    case 2: k1 ^= tail_byte(tail, 1, 8); [[fallthrough]];
    case 1:
        k1 ^= tail_byte(tail, 0, 0);
        k1 *= c1;
        k1 = rotl(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        break;
    default: break;
    }

    h1 ^= len;
    h2 ^= len;
    h1 += h2;
    h2 += h1;
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 += h2;
    auto token = static_cast<int64_t>(h1);
    return token == INT64_MIN ? INT64_MAX : token;
}

} // namespace sy

extern "C" SY_API int64_t sy_murmur3_token(const void *key, size_t len) {
    if (!key && len) return INT64_MIN;
    return sy::murmur3_token(key, len);
}
