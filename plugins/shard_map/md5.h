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

static inline uint32_t sy_md5_rol(uint32_t x, unsigned c) { return (x << c) | (x >> (32u - c)); }

static inline uint32_t sy_md5_le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* One 64-byte block into the state h: RFC 1321's 64 steps written out, so
 * every shift, constant and message index is an immediate. */
/* Written so that x (the previous step's result, the chain's critical
 * input) meets as few operations as possible: the rest is ready earlier.
 * G's two halves share no bit, so + is |, and x & z is one operation
 * where (y ^ (z & (x ^ y))) puts three after x; H xors y and z first. Each
 * step of the chain is then 4-5 cycles (one MD5 about 96 ns back to back;
 * the other forms cost about 112). */
#define SY_MD5_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define SY_MD5_G(x, y, z) (((x) & (z)) + ((y) & ~(z)))
#define SY_MD5_H(x, y, z) ((x) ^ ((y) ^ (z)))
#define SY_MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))
#define SY_MD5_STEP(f, a, b, c, d, x, s, k)                                            \
    do {                                                                               \
        (a) += f((b), (c), (d)) + (x) + (k);                                           \
        (a) = sy_md5_rol((a), (s)) + (b);                                              \
    } while (0)

static inline void sy_md5_compress(uint32_t h[4], const uint32_t m[16]) {
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    SY_MD5_STEP(SY_MD5_F, a, b, c, d, m[0], 7, 0xd76aa478u);
    SY_MD5_STEP(SY_MD5_F, d, a, b, c, m[1], 12, 0xe8c7b756u);
    SY_MD5_STEP(SY_MD5_F, c, d, a, b, m[2], 17, 0x242070dbu);
    SY_MD5_STEP(SY_MD5_F, b, c, d, a, m[3], 22, 0xc1bdceeeu);
    SY_MD5_STEP(SY_MD5_F, a, b, c, d, m[4], 7, 0xf57c0fafu);
    SY_MD5_STEP(SY_MD5_F, d, a, b, c, m[5], 12, 0x4787c62au);
    SY_MD5_STEP(SY_MD5_F, c, d, a, b, m[6], 17, 0xa8304613u);
    SY_MD5_STEP(SY_MD5_F, b, c, d, a, m[7], 22, 0xfd469501u);
    SY_MD5_STEP(SY_MD5_F, a, b, c, d, m[8], 7, 0x698098d8u);
    SY_MD5_STEP(SY_MD5_F, d, a, b, c, m[9], 12, 0x8b44f7afu);
    SY_MD5_STEP(SY_MD5_F, c, d, a, b, m[10], 17, 0xffff5bb1u);
    SY_MD5_STEP(SY_MD5_F, b, c, d, a, m[11], 22, 0x895cd7beu);
    SY_MD5_STEP(SY_MD5_F, a, b, c, d, m[12], 7, 0x6b901122u);
    SY_MD5_STEP(SY_MD5_F, d, a, b, c, m[13], 12, 0xfd987193u);
    SY_MD5_STEP(SY_MD5_F, c, d, a, b, m[14], 17, 0xa679438eu);
    SY_MD5_STEP(SY_MD5_F, b, c, d, a, m[15], 22, 0x49b40821u);
    SY_MD5_STEP(SY_MD5_G, a, b, c, d, m[1], 5, 0xf61e2562u);
    SY_MD5_STEP(SY_MD5_G, d, a, b, c, m[6], 9, 0xc040b340u);
    SY_MD5_STEP(SY_MD5_G, c, d, a, b, m[11], 14, 0x265e5a51u);
    SY_MD5_STEP(SY_MD5_G, b, c, d, a, m[0], 20, 0xe9b6c7aau);
    SY_MD5_STEP(SY_MD5_G, a, b, c, d, m[5], 5, 0xd62f105du);
    SY_MD5_STEP(SY_MD5_G, d, a, b, c, m[10], 9, 0x02441453u);
    SY_MD5_STEP(SY_MD5_G, c, d, a, b, m[15], 14, 0xd8a1e681u);
    SY_MD5_STEP(SY_MD5_G, b, c, d, a, m[4], 20, 0xe7d3fbc8u);
    SY_MD5_STEP(SY_MD5_G, a, b, c, d, m[9], 5, 0x21e1cde6u);
    SY_MD5_STEP(SY_MD5_G, d, a, b, c, m[14], 9, 0xc33707d6u);
    SY_MD5_STEP(SY_MD5_G, c, d, a, b, m[3], 14, 0xf4d50d87u);
    SY_MD5_STEP(SY_MD5_G, b, c, d, a, m[8], 20, 0x455a14edu);
    SY_MD5_STEP(SY_MD5_G, a, b, c, d, m[13], 5, 0xa9e3e905u);
    SY_MD5_STEP(SY_MD5_G, d, a, b, c, m[2], 9, 0xfcefa3f8u);
    SY_MD5_STEP(SY_MD5_G, c, d, a, b, m[7], 14, 0x676f02d9u);
    SY_MD5_STEP(SY_MD5_G, b, c, d, a, m[12], 20, 0x8d2a4c8au);
    SY_MD5_STEP(SY_MD5_H, a, b, c, d, m[5], 4, 0xfffa3942u);
    SY_MD5_STEP(SY_MD5_H, d, a, b, c, m[8], 11, 0x8771f681u);
    SY_MD5_STEP(SY_MD5_H, c, d, a, b, m[11], 16, 0x6d9d6122u);
    SY_MD5_STEP(SY_MD5_H, b, c, d, a, m[14], 23, 0xfde5380cu);
    SY_MD5_STEP(SY_MD5_H, a, b, c, d, m[1], 4, 0xa4beea44u);
    SY_MD5_STEP(SY_MD5_H, d, a, b, c, m[4], 11, 0x4bdecfa9u);
    SY_MD5_STEP(SY_MD5_H, c, d, a, b, m[7], 16, 0xf6bb4b60u);
    SY_MD5_STEP(SY_MD5_H, b, c, d, a, m[10], 23, 0xbebfbc70u);
    SY_MD5_STEP(SY_MD5_H, a, b, c, d, m[13], 4, 0x289b7ec6u);
    SY_MD5_STEP(SY_MD5_H, d, a, b, c, m[0], 11, 0xeaa127fau);
    SY_MD5_STEP(SY_MD5_H, c, d, a, b, m[3], 16, 0xd4ef3085u);
    SY_MD5_STEP(SY_MD5_H, b, c, d, a, m[6], 23, 0x04881d05u);
    SY_MD5_STEP(SY_MD5_H, a, b, c, d, m[9], 4, 0xd9d4d039u);
    SY_MD5_STEP(SY_MD5_H, d, a, b, c, m[12], 11, 0xe6db99e5u);
    SY_MD5_STEP(SY_MD5_H, c, d, a, b, m[15], 16, 0x1fa27cf8u);
    SY_MD5_STEP(SY_MD5_H, b, c, d, a, m[2], 23, 0xc4ac5665u);
    SY_MD5_STEP(SY_MD5_I, a, b, c, d, m[0], 6, 0xf4292244u);
    SY_MD5_STEP(SY_MD5_I, d, a, b, c, m[7], 10, 0x432aff97u);
    SY_MD5_STEP(SY_MD5_I, c, d, a, b, m[14], 15, 0xab9423a7u);
    SY_MD5_STEP(SY_MD5_I, b, c, d, a, m[5], 21, 0xfc93a039u);
    SY_MD5_STEP(SY_MD5_I, a, b, c, d, m[12], 6, 0x655b59c3u);
    SY_MD5_STEP(SY_MD5_I, d, a, b, c, m[3], 10, 0x8f0ccc92u);
    SY_MD5_STEP(SY_MD5_I, c, d, a, b, m[10], 15, 0xffeff47du);
    SY_MD5_STEP(SY_MD5_I, b, c, d, a, m[1], 21, 0x85845dd1u);
    SY_MD5_STEP(SY_MD5_I, a, b, c, d, m[8], 6, 0x6fa87e4fu);
    SY_MD5_STEP(SY_MD5_I, d, a, b, c, m[15], 10, 0xfe2ce6e0u);
    SY_MD5_STEP(SY_MD5_I, c, d, a, b, m[6], 15, 0xa3014314u);
    SY_MD5_STEP(SY_MD5_I, b, c, d, a, m[13], 21, 0x4e0811a1u);
    SY_MD5_STEP(SY_MD5_I, a, b, c, d, m[4], 6, 0xf7537e82u);
    SY_MD5_STEP(SY_MD5_I, d, a, b, c, m[11], 10, 0xbd3af235u);
    SY_MD5_STEP(SY_MD5_I, c, d, a, b, m[2], 15, 0x2ad7d2bbu);
    SY_MD5_STEP(SY_MD5_I, b, c, d, a, m[9], 21, 0xeb86d391u);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}
static inline void sy_md5_block(uint32_t h[4], const unsigned char *blk) {
    uint32_t m[16];
    for (int i = 0; i < 16; i++) m[i] = sy_md5_le32(blk + 4 * i);
    sy_md5_compress(h, m);
}
#undef SY_MD5_F
#undef SY_MD5_G
#undef SY_MD5_H
#undef SY_MD5_I
#undef SY_MD5_STEP

/* The state after data[0..len). The tail and its padding (0x80, zeros, the
 * length in bits) are built as message words in registers: writing them
 * as bytes into a buffer and reading that back as words made every word
 * load wait on a failed store-to-load forward. */
static inline void sy_md5_state(const void *data, size_t len, uint32_t h[4]) {
    h[0] = 0x67452301u;
    h[1] = 0xefcdab89u;
    h[2] = 0x98badcfeu;
    h[3] = 0x10325476u;
    const unsigned char *p = (const unsigned char *)data;
    size_t left = len;
    for (; left >= 64; left -= 64, p += 64) sy_md5_block(h, p);
    uint32_t m[16];
    size_t full = left / 4, rest = left % 4;
    for (size_t i = 0; i < full; i++) m[i] = sy_md5_le32(p + 4 * i);
    uint32_t w = 0x80u << (8 * rest);
    for (size_t k = 0; k < rest; k++) w |= (uint32_t)p[4 * full + k] << (8 * k);
    m[full] = w;
    for (size_t i = full + 1; i < 16; i++) m[i] = 0;
    uint64_t bits = (uint64_t)len * 8u;
    if (left >= 56) { /* no room for the length: one more block */
        sy_md5_compress(h, m);
        for (int i = 0; i < 14; i++) m[i] = 0;
    }
    m[14] = (uint32_t)bits;
    m[15] = (uint32_t)(bits >> 32);
    sy_md5_compress(h, m);
}

/* The 16-byte digest of data[0..len). */
static inline void sy_md5(const void *data, size_t len, unsigned char out[16]) {
    uint32_t h[4];
    sy_md5_state(data, len, h);
    for (int i = 0; i < 4; i++) {
        out[4 * i] = (unsigned char)h[i];
        out[4 * i + 1] = (unsigned char)(h[i] >> 8);
        out[4 * i + 2] = (unsigned char)(h[i] >> 16);
        out[4 * i + 3] = (unsigned char)(h[i] >> 24);
    }
}

/* The digest's first 4 bytes read big-endian: what Casty takes modulo the
 * shard count. */
static inline uint32_t sy_md5_prefix32(const void *data, size_t len) {
    uint32_t h[4];
    sy_md5_state(data, len, h);
    return ((h[0] & 0xffu) << 24) | ((h[0] & 0xff00u) << 8) | ((h[0] >> 8) & 0xff00u) | (h[0] >> 24);
}

#endif
