// Parsing and comparing "host:port" endpoints without allocating.
//
// Header-only, shared by address_map (its map keys and values) and
// default_policy (single_target's target). Accepted forms:
//   IPv4        10.0.1.10:9042      (dotted quad, as inet_pton(AF_INET) reads it)
//   IPv6        [::1]:9042          (brackets required; any inet_pton spelling)
//   host name   node-a.internal:9042 (letters, digits, '-', '_', dot-separated labels)
// Ports are decimal 1..65535. Two endpoints are equal when their kind and port
// are equal and their addresses are equal as binary (IP) or case-insensitively
// (names), so "[::1]:1" and "[0:0:0:0:0:0:0:1]:1" compare equal.
#pragma once

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/json_path.hpp"

namespace syp {

enum class AddrKind : uint8_t { none = 0, ipv4 = 1, ipv6 = 2, name = 3 };

struct Endpoint {
    AddrKind kind = AddrKind::none;
    uint16_t port = 0;
    uint8_t addr[16] = {}; // ipv4: first 4 bytes; ipv6: 16 bytes
    const char *host = nullptr; // points into the parsed text, brackets excluded
    size_t host_len = 0;
};

constexpr size_t kMaxHostName = 253;
constexpr size_t kMaxLabel = 63;

inline bool hp_is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool hp_is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline char hp_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Copies s[0, n) into buf (NUL-terminated) when it fits; false otherwise.
inline bool hp_copy(char *buf, size_t size, const char *s, size_t n) {
    if (n >= size) return false;
    std::memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

// Decimal port 1..65535 from s[0, n). Digits only: no sign, no spaces.
inline const char *hp_parse_port(const char *s, size_t n, uint16_t *port) {
    if (n == 0) return "empty port (expected host:port)";
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!hp_is_digit(s[i])) return "port must be a number 1..65535";
        v = v * 10 + static_cast<uint32_t>(s[i] - '0');
        if (v > 65535) return "port must be a number 1..65535";
    }
    if (v == 0) return "port must be a number 1..65535";
    *port = static_cast<uint16_t>(v);
    return nullptr;
}

// Checks a host name or IPv4 literal s[0, n) (no brackets, no port) and fills
// ep's kind/addr. Returns NULL or the reason it is not one.
inline const char *hp_check_host(const char *s, size_t n, Endpoint *ep) {
    if (n == 0) return "empty host";
    bool numeric = true; // digits and dots only: must be an IPv4 address
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ':') return "IPv6 addresses need brackets, e.g. [::1]:9042";
        if (!hp_is_digit(s[i]) && s[i] != '.') numeric = false;
    }
    if (numeric) {
        char buf[16];
        if (!hp_copy(buf, sizeof buf, s, n) || inet_pton(AF_INET, buf, ep->addr) != 1)
            return "not a valid IPv4 address";
        ep->kind = AddrKind::ipv4;
        return nullptr;
    }
    if (n > kMaxHostName) return "host name longer than 253 characters";
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0) return "host name has an empty label";
            if (s[i - 1] == '-') return "host name label ends with '-'";
            label = 0;
            continue;
        }
        char c = s[i];
        if (!hp_is_alpha(c) && !hp_is_digit(c) && c != '-' && c != '_')
            return "host name may hold only letters, digits, '-', '_' and '.'";
        if (label == 0 && c == '-') return "host name label starts with '-'";
        if (++label > kMaxLabel) return "host name label longer than 63 characters";
    }
    ep->kind = AddrKind::name;
    return nullptr;
}

// Parses "host:port" (NUL-terminated). Returns NULL and fills *ep, or the
// reason the text is not an endpoint (a static string). ep->host points into s.
inline const char *parse_endpoint(const char *s, Endpoint *ep) {
    Endpoint e;
    size_t n = std::strlen(s);
    if (n == 0) return "empty address (expected host:port)";
    const char *port_text;
    if (s[0] == '[') {
        const char *close = static_cast<const char *>(std::memchr(s, ']', n));
        if (!close) return "missing ']' after the IPv6 address";
        e.host = s + 1;
        e.host_len = static_cast<size_t>(close - s) - 1;
        if (e.host_len == 0) return "empty IPv6 address in brackets";
        if (close[1] != ':')
            return close[1] ? "expected ':' and a port after ']'" : "missing port (expected [IPv6]:port)";
        char buf[64];
        if (!hp_copy(buf, sizeof buf, e.host, e.host_len) || inet_pton(AF_INET6, buf, e.addr) != 1)
            return "not a valid IPv6 address in brackets";
        e.kind = AddrKind::ipv6;
        port_text = close + 2;
    } else {
        const char *colon = std::strrchr(s, ':');
        if (!colon) return "missing port (expected host:port)";
        e.host = s;
        e.host_len = static_cast<size_t>(colon - s);
        if (std::memchr(s, ']', n)) return "']' without a matching '['";
        if (const char *why = hp_check_host(e.host, e.host_len, &e)) return why;
        port_text = colon + 1;
    }
    if (const char *why = hp_parse_port(port_text, std::strlen(port_text), &e.port)) return why;
    *ep = e;
    return nullptr;
}

// Classifies a target's bare host ("10.0.0.1", "::1", "[::1]", "name") with
// the given port, for lookups. Never fails: anything that is not an IP
// literal is compared as a name. No allocation (inet_pton into the struct).
inline Endpoint classify_host(const char *host, uint32_t port) {
    Endpoint e;
    size_t n = std::strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    e.host = host;
    e.host_len = n;
    e.port = port <= 65535 ? static_cast<uint16_t>(port) : 0;
    char buf[64];
    if (hp_copy(buf, sizeof buf, host, n)) {
        if (inet_pton(AF_INET, buf, e.addr) == 1) {
            e.kind = AddrKind::ipv4;
            return e;
        }
        if (inet_pton(AF_INET6, buf, e.addr) == 1) {
            e.kind = AddrKind::ipv6;
            return e;
        }
    }
    e.kind = AddrKind::name;
    return e;
}

// Total order: kind, port, then address bytes or case-folded name.
inline int compare_endpoints(const Endpoint &a, const Endpoint &b) {
    if (a.kind != b.kind) return a.kind < b.kind ? -1 : 1;
    if (a.port != b.port) return a.port < b.port ? -1 : 1;
    switch (a.kind) {
    case AddrKind::ipv4:
        return std::memcmp(a.addr, b.addr, 4);
    case AddrKind::ipv6:
        return std::memcmp(a.addr, b.addr, 16);
    case AddrKind::name: {
        size_t n = a.host_len < b.host_len ? a.host_len : b.host_len;
        for (size_t i = 0; i < n; i++) {
            char x = hp_lower(a.host[i]), y = hp_lower(b.host[i]);
            if (x != y) return x < y ? -1 : 1;
        }
        if (a.host_len != b.host_len) return a.host_len < b.host_len ? -1 : 1;
        return 0;
    }
    case AddrKind::none:
        break;
    }
    return 0;
}

// Writes the endpoint's host as a connector wants it (IPv6 canonical and
// without brackets, others as written) into buf. False if it does not fit.
inline bool format_host(const Endpoint &e, char *buf, size_t size) {
    if (e.kind == AddrKind::ipv6) return inet_ntop(AF_INET6, e.addr, buf, static_cast<socklen_t>(size)) != nullptr;
    return hp_copy(buf, size, e.host, e.host_len);
}

} // namespace syp
