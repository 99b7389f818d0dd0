/*
 * MD5 (RFC 1321) for shard_map's entity -> shard: Casty hashes every entity
 * id with it, so each entity plan does too. Ids are short, and mbedTLS's
 * generic path (context set-up, buffered update, a volatile wipe of the
 * context at the end) cost more than the one 64-byte block they need; this
 * is the block function and the padding, on the stack, nothing else. Not
 * for anything that needs MD5's (broken) security: it only spreads ids.
 *
 * Plain C99 so the C tests can compare it with mbedTLS byte for byte.
 */
#ifndef SY_SHARD_MAP_MD5_H
#define SY_SHARD_MAP_MD5_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const uint32_t sy_md5_k[64] = {
    0xd76aa478u, 0xe8c7b756u, 0x242070dbu, 0xc1bdceeeu, 0xf57c0fafu, 0x4787c62au, 0xa8304613u, 0xfd469501u,
    0x698098d8u, 0x8b44f7afu, 0xffff5bb1u, 0x895cd7beu, 0x6b901122u, 0xfd987193u, 0xa679438eu, 0x49b40821u,
    0xf61e2562u, 0xc040b340u, 0x265e5a51u, 0xe9b6c7aau, 0xd62f105du, 0x02441453u, 0xd8a1e681u, 0xe7d3fbc8u,
    0x21e1cde6u, 0xc33707d6u, 0xf4d50d87u, 0x455a14edu, 0xa9e3e905u, 0xfcefa3f8u, 0x676f02d9u, 0x8d2a4c8au,
    0xfffa3942u, 0x8771f681u, 0x6d9d6122u, 0xfde5380cu, 0xa4beea44u, 0x4bdecfa9u, 0xf6bb4b60u, 0xbebfbc70u,
    0x289b7ec6u, 0xeaa127fau, 0xd4ef3085u, 0x04881d05u, 0xd9d4d039u, 0xe6db99e5u, 0x1fa27cf8u, 0xc4ac5665u,
    0xf4292244u, 0x432aff97u, 0xab9423a7u, 0xfc93a039u, 0x655b59c3u, 0x8f0ccc92u, 0xffeff47du, 0x85845dd1u,
    0x6fa87e4fu, 0xfe2ce6e0u, 0xa3014314u, 0x4e0811a1u, 0xf7537e82u, 0xbd3af235u, 0x2ad7d2bbu, 0xeb86d391u,
};

static inline uint32_t sy_md5_rol(uint32_t x, unsigned c) { return (x << c) | (x >> (32u - c)); }

static inline uint32_t sy_md5_le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* One 64-byte block into the state h. The four rounds differ in their
 * function, message schedule and shifts; loops the compiler unrolls. */
static inline void sy_md5_block(uint32_t h[4], const unsigned char *blk) {
    static const unsigned char s[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
    uint32_t m[16];
    for (int i = 0; i < 16; i++) m[i] = sy_md5_le32(blk + 4 * i);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
#define SY_MD5_STEP(f, g, r)                                                          \
    do {                                                                              \
        uint32_t f_ = a + (f) + sy_md5_k[i] + m[(g)];                                 \
        a = d;                                                                        \
        d = c;                                                                        \
        c = b;                                                                        \
        b = b + sy_md5_rol(f_, s[(r)][i & 3]);                                        \
    } while (0)
    for (int i = 0; i < 16; i++) SY_MD5_STEP((b & c) | (~b & d), i, 0);
    for (int i = 16; i < 32; i++) SY_MD5_STEP((d & b) | (~d & c), (5 * i + 1) & 15, 1);
    for (int i = 32; i < 48; i++) SY_MD5_STEP(b ^ c ^ d, (3 * i + 5) & 15, 2);
    for (int i = 48; i < 64; i++) SY_MD5_STEP(c ^ (b | ~d), (7 * i) & 15, 3);
#undef SY_MD5_STEP
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

/* The 16-byte digest of data[0..len). */
static inline void sy_md5(const void *data, size_t len, unsigned char out[16]) {
    uint32_t h[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    const unsigned char *p = (const unsigned char *)data;
    size_t left = len;
    for (; left >= 64; left -= 64, p += 64) sy_md5_block(h, p);
    /* the tail, 0x80, zeros, the length in bits (little-endian): 1 or 2 blocks */
    unsigned char tail[128];
    memset(tail, 0, sizeof tail);
    if (left) memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t n = left < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8u;
    for (int i = 0; i < 8; i++) tail[n - 8 + (size_t)i] = (unsigned char)(bits >> (8 * i));
    sy_md5_block(h, tail);
    if (n == 128) sy_md5_block(h, tail + 64);
    for (int i = 0; i < 4; i++) {
        out[4 * i] = (unsigned char)h[i];
        out[4 * i + 1] = (unsigned char)(h[i] >> 8);
        out[4 * i + 2] = (unsigned char)(h[i] >> 16);
        out[4 * i + 3] = (unsigned char)(h[i] >> 24);
    }
}

#endif
