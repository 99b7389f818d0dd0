// JSON paths in plugins' error messages, spelled the way the core spells
// them (`a.b[2]["odd key"]`), so a path reads the same whoever reports it.
#pragma once

#include <cstddef>
#include <cstring>

namespace syp {

// Appends s as the inside of a JSON string (quotes and backslashes escaped,
// control bytes as \u00XX) to buf at *len, truncating to fit; keeps a NUL.
inline void json_escape_into(char *buf, size_t size, size_t *len, const char *s) {
    static const char hex[] = "0123456789abcdef";
    for (; *s; s++) {
        unsigned char c = static_cast<unsigned char>(*s);
        char tmp[7];
        size_t k = 0;
        if (c == '"' || c == '\\') {
            tmp[k++] = '\\';
            tmp[k++] = static_cast<char>(c);
        } else if (c < 0x20) {
            tmp[k++] = '\\';
            tmp[k++] = 'u';
            tmp[k++] = '0';
            tmp[k++] = '0';
            tmp[k++] = hex[c >> 4];
            tmp[k++] = hex[c & 15];
        } else {
            tmp[k++] = static_cast<char>(c);
        }
        if (*len + k + 1 > size) break;
        std::memcpy(buf + *len, tmp, k);
        *len += k;
    }
    if (size) buf[*len < size ? *len : size - 1] = '\0';
}

// Whether a key is written `.key` (else `["key"]`): the core's rule.
inline bool path_ident(const char *k) {
    if (!*k || (*k >= '0' && *k <= '9')) return false;
    for (; *k; k++) {
        char c = *k;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

// Appends key to the path in buf at *len, truncating to fit; keeps a NUL.
inline void path_append_key(char *buf, size_t size, size_t *len, const char *key) {
    auto put = [&](const char *s) {
        size_t n = std::strlen(s);
        if (*len + n + 1 > size) n = size > *len + 1 ? size - *len - 1 : 0;
        std::memcpy(buf + *len, s, n);
        *len += n;
        buf[*len] = '\0';
    };
    if (path_ident(key)) {
        if (*len) put(".");
        put(key);
        return;
    }
    put("[\"");
    json_escape_into(buf, size > 2 ? size - 2 : size, len, key);
    put("\"]");
}

} // namespace syp
