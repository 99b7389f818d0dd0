// An IP address written as text: IPv4, or IPv6 with or without brackets.
#pragma once
#include <arpa/inet.h>

#include <cstddef>
#include <cstring>

namespace sy::net {

// Writes the address bytes (4 or 16) into addr; false for a host name.
inline bool ip_literal(const char *host, unsigned char addr[16], size_t *len) {
    if (inet_pton(AF_INET, host, addr) == 1) {
        *len = 4;
        return true;
    }
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = std::strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof buf) {
        std::memcpy(buf, host + 1, n - 2);
        buf[n - 2] = 0;
        host = buf;
    }
    if (inet_pton(AF_INET6, host, addr) == 1) {
        *len = 16;
        return true;
    }
    return false;
}

} // namespace sy::net
