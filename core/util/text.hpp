// Fixed-buffer strings without printf. A connect formats a handful of names
// per attempt (endpoint, peer, pool key, the attempt record); vsnprintf for
// each cost more than the rest of the attempt's bookkeeping together.
#pragma once
#include <cstdint>
#include <cstring>

namespace sy {

// Copies src (NULL: "") into dst, truncated to cap - 1 bytes; returns the length.
inline size_t copy_str(char *dst, size_t cap, const char *src) {
    size_t n = src ? strnlen(src, cap - 1) : 0;
    std::memcpy(dst, src ? src : "", n);
    dst[n] = 0;
    return n;
}

// Appends src at dst[*n], truncated to the buffer.
inline void append_str(char *dst, size_t cap, size_t *n, const char *src) {
    if (*n < cap) *n += copy_str(dst + *n, cap - *n, src);
}

// Appends a decimal number.
inline void append_uint(char *dst, size_t cap, size_t *n, uint64_t v) {
    char digits[20];
    size_t k = 0;
    do digits[k++] = static_cast<char>('0' + v % 10); while ((v /= 10));
    while (k && *n + 1 < cap) dst[(*n)++] = digits[--k];
    if (*n < cap) dst[*n] = 0;
}

// "host:port", or "[host]:port" when host is an IPv6 literal (has a colon).
inline size_t format_endpoint(char *dst, size_t cap, const char *host, uint32_t port) {
    size_t n = 0;
    bool v6 = host && std::strchr(host, ':');
    if (v6) append_str(dst, cap, &n, "[");
    append_str(dst, cap, &n, host);
    append_str(dst, cap, &n, v6 ? "]:" : ":");
    append_uint(dst, cap, &n, port);
    return n;
}

} // namespace sy
