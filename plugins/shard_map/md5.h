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

/* RFC 1321's 64 steps as a list, S(function, a, b, c, d, message word,
 * shift, constant), so every shift, constant and message index is an
 * immediate wherever the list is expanded. Split after step 61: the first
 * word of the digest is final there (the last three steps write d, c, b),
 * and a shard needs only that word. */
#define SY_MD5_STEPS_TO_A(S, M) \
    S(F, a, b, c, d, M(0), 7, 0xd76aa478u) \
    S(F, d, a, b, c, M(1), 12, 0xe8c7b756u) \
    S(F, c, d, a, b, M(2), 17, 0x242070dbu) \
    S(F, b, c, d, a, M(3), 22, 0xc1bdceeeu) \
    S(F, a, b, c, d, M(4), 7, 0xf57c0fafu) \
    S(F, d, a, b, c, M(5), 12, 0x4787c62au) \
    S(F, c, d, a, b, M(6), 17, 0xa8304613u) \
    S(F, b, c, d, a, M(7), 22, 0xfd469501u) \
    S(F, a, b, c, d, M(8), 7, 0x698098d8u) \
    S(F, d, a, b, c, M(9), 12, 0x8b44f7afu) \
    S(F, c, d, a, b, M(10), 17, 0xffff5bb1u) \
    S(F, b, c, d, a, M(11), 22, 0x895cd7beu) \
    S(F, a, b, c, d, M(12), 7, 0x6b901122u) \
    S(F, d, a, b, c, M(13), 12, 0xfd987193u) \
    S(F, c, d, a, b, M(14), 17, 0xa679438eu) \
    S(F, b, c, d, a, M(15), 22, 0x49b40821u) \
    S(G, a, b, c, d, M(1), 5, 0xf61e2562u) \
    S(G, d, a, b, c, M(6), 9, 0xc040b340u) \
    S(G, c, d, a, b, M(11), 14, 0x265e5a51u) \
    S(G, b, c, d, a, M(0), 20, 0xe9b6c7aau) \
    S(G, a, b, c, d, M(5), 5, 0xd62f105du) \
    S(G, d, a, b, c, M(10), 9, 0x02441453u) \
    S(G, c, d, a, b, M(15), 14, 0xd8a1e681u) \
    S(G, b, c, d, a, M(4), 20, 0xe7d3fbc8u) \
    S(G, a, b, c, d, M(9), 5, 0x21e1cde6u) \
    S(G, d, a, b, c, M(14), 9, 0xc33707d6u) \
    S(G, c, d, a, b, M(3), 14, 0xf4d50d87u) \
    S(G, b, c, d, a, M(8), 20, 0x455a14edu) \
    S(G, a, b, c, d, M(13), 5, 0xa9e3e905u) \
    S(G, d, a, b, c, M(2), 9, 0xfcefa3f8u) \
    S(G, c, d, a, b, M(7), 14, 0x676f02d9u) \
    S(G, b, c, d, a, M(12), 20, 0x8d2a4c8au) \
    S(H, a, b, c, d, M(5), 4, 0xfffa3942u) \
    S(H, d, a, b, c, M(8), 11, 0x8771f681u) \
    S(H, c, d, a, b, M(11), 16, 0x6d9d6122u) \
    S(H, b, c, d, a, M(14), 23, 0xfde5380cu) \
    S(H, a, b, c, d, M(1), 4, 0xa4beea44u) \
    S(H, d, a, b, c, M(4), 11, 0x4bdecfa9u) \
    S(H, c, d, a, b, M(7), 16, 0xf6bb4b60u) \
    S(H, b, c, d, a, M(10), 23, 0xbebfbc70u) \
    S(H, a, b, c, d, M(13), 4, 0x289b7ec6u) \
    S(H, d, a, b, c, M(0), 11, 0xeaa127fau) \
    S(H, c, d, a, b, M(3), 16, 0xd4ef3085u) \
    S(H, b, c, d, a, M(6), 23, 0x04881d05u) \
    S(H, a, b, c, d, M(9), 4, 0xd9d4d039u) \
    S(H, d, a, b, c, M(12), 11, 0xe6db99e5u) \
    S(H, c, d, a, b, M(15), 16, 0x1fa27cf8u) \
    S(H, b, c, d, a, M(2), 23, 0xc4ac5665u) \
    S(I, a, b, c, d, M(0), 6, 0xf4292244u) \
    S(I, d, a, b, c, M(7), 10, 0x432aff97u) \
    S(I, c, d, a, b, M(14), 15, 0xab9423a7u) \
    S(I, b, c, d, a, M(5), 21, 0xfc93a039u) \
    S(I, a, b, c, d, M(12), 6, 0x655b59c3u) \
    S(I, d, a, b, c, M(3), 10, 0x8f0ccc92u) \
    S(I, c, d, a, b, M(10), 15, 0xffeff47du) \
    S(I, b, c, d, a, M(1), 21, 0x85845dd1u) \
    S(I, a, b, c, d, M(8), 6, 0x6fa87e4fu) \
    S(I, d, a, b, c, M(15), 10, 0xfe2ce6e0u) \
    S(I, c, d, a, b, M(6), 15, 0xa3014314u) \
    S(I, b, c, d, a, M(13), 21, 0x4e0811a1u) \
    S(I, a, b, c, d, M(4), 6, 0xf7537e82u)
#define SY_MD5_STEPS_REST(S, M) \
    S(I, d, a, b, c, M(11), 10, 0xbd3af235u) \
    S(I, c, d, a, b, M(2), 15, 0x2ad7d2bbu) \
    S(I, b, c, d, a, M(9), 21, 0xeb86d391u)

/* Written so that b (the previous step's result, the chain's critical
 * input) meets as few operations as possible: the rest is ready earlier.
 * G's two halves share no bit, so + is |, and x & z is one operation
 * where (y ^ (z & (x ^ y))) puts three after x; H xors y and z first. Each
 * step of the chain is then 4-5 cycles, about 273 for a shard's word: a
 * latency floor (85 ns one after another on the CI-like machine). */
#define SY_MD5_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define SY_MD5_G(x, y, z) (((x) & (z)) + ((y) & ~(z)))
#define SY_MD5_H(x, y, z) ((x) ^ ((y) ^ (z)))
#define SY_MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))
#define SY_MD5_STEP(f, a, b, c, d, x, s, k)                                            \
    do {                                                                               \
        (a) += SY_MD5_##f((b), (c), (d)) + (x) + (k);                                  \
        (a) = sy_md5_rol((a), (s)) + (b);                                              \
    } while (0);

/* One 64-byte block into the state h. */
#define SY_MD5_WORD(i) m[i]
static inline void sy_md5_compress(uint32_t h[4], const uint32_t m[16]) {
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    SY_MD5_STEPS_TO_A(SY_MD5_STEP, SY_MD5_WORD)
    SY_MD5_STEPS_REST(SY_MD5_STEP, SY_MD5_WORD)
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

/* The digest's first word for a message of one block whose words past
 * W (but the length, word 14) are zero: an id shorter than 4 * W - 1
 * bytes. Those words are then constants the compiler folds away, and the
 * rest fit in registers: no spills, a quarter fewer instructions. */
#define SY_MD5_FIRST_WORD(name, W)                                                     \
    static inline uint32_t name(const uint32_t m[16]) {                                \
        uint32_t a = 0x67452301u, b = 0xefcdab89u, c = 0x98badcfeu, d = 0x10325476u;   \
        SY_MD5_STEPS_TO_A(SY_MD5_STEP, W)                                              \
        (void)b, (void)c, (void)d;                                                     \
        return a + 0x67452301u;                                                        \
    }
#define SY_MD5_W4(i) ((i) < 4 || (i) == 14 ? m[i] : 0u)
#define SY_MD5_W8(i) ((i) < 8 || (i) == 14 ? m[i] : 0u)
#define SY_MD5_W14(i) ((i) <= 14 ? m[i] : 0u)
SY_MD5_FIRST_WORD(sy_md5_first_word4, SY_MD5_W4)
SY_MD5_FIRST_WORD(sy_md5_first_word8, SY_MD5_W8)
SY_MD5_FIRST_WORD(sy_md5_first_word14, SY_MD5_W14)
#undef SY_MD5_FIRST_WORD
#undef SY_MD5_W4
#undef SY_MD5_W8
#undef SY_MD5_W14
#undef SY_MD5_WORD
#undef SY_MD5_F
#undef SY_MD5_G
#undef SY_MD5_H
#undef SY_MD5_I
#undef SY_MD5_STEP
#undef SY_MD5_STEPS_TO_A
#undef SY_MD5_STEPS_REST

/* The last block's message words for the message's last left (< 64)
 * bytes at p: the tail and its padding (0x80, zeros); sy_md5_length puts
 * the length in where it fits. Built as words in registers: writing
 * them as bytes into a buffer and reading that back as words made every
 * word load wait on a failed store-to-load forward. */
static inline void sy_md5_tail(const unsigned char *p, size_t left, uint32_t m[16]) {
    size_t full = left / 4, rest = left % 4;
    for (int i = 0; i < 16; i++) m[i] = 0; /* a fixed size: a few wide stores */
    for (size_t i = 0; i < full; i++) m[i] = sy_md5_le32(p + 4 * i);
    uint32_t w = 0x80u << (8 * rest);
    for (size_t k = 0; k < rest; k++) w |= (uint32_t)p[4 * full + k] << (8 * k);
    m[full] = w;
}

/* The message's length in bits, in the last block's last two words. */
static inline void sy_md5_length(uint32_t m[16], size_t len) {
    uint64_t bits = (uint64_t)len * 8u;
    m[14] = (uint32_t)bits;
    m[15] = (uint32_t)(bits >> 32);
}

/* The state after data[0..len). */
static inline void sy_md5_state(const void *data, size_t len, uint32_t h[4]) {
    h[0] = 0x67452301u;
    h[1] = 0xefcdab89u;
    h[2] = 0x98badcfeu;
    h[3] = 0x10325476u;
    const unsigned char *p = (const unsigned char *)data;
    size_t left = len;
    for (; left >= 64; left -= 64, p += 64) sy_md5_block(h, p);
    uint32_t m[16];
    sy_md5_tail(p, left, m);
    if (left >= 56) { /* no room for the length: one more block */
        sy_md5_compress(h, m);
        for (int i = 0; i < 16; i++) m[i] = 0;
    }
    sy_md5_length(m, len);
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
 * shard count. Ids are short: one block, most words zero. */
static inline uint32_t sy_md5_prefix32(const void *data, size_t len) {
    uint32_t a;
    if (len < 56) {
        uint32_t m[16];
        sy_md5_tail((const unsigned char *)data, len, m);
        sy_md5_length(m, len);
        a = len < 16 ? sy_md5_first_word4(m) : len < 32 ? sy_md5_first_word8(m) : sy_md5_first_word14(m);
    } else {
        uint32_t h[4];
        sy_md5_state(data, len, h);
        a = h[0];
    }
    return ((a & 0xffu) << 24) | ((a & 0xff00u) << 8) | ((a >> 8) & 0xff00u) | (a >> 24);
}

#endif
