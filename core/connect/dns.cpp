// Names to addresses. Literals skip the resolver; answers of Asio's resolver
// are cached per name for connect.resolve.ttl_ms (failures are not cached,
// so a name that comes back is used at once). A target flagged
// SY_TARGET_RESOLVE_EACH (a proxy name behind which addresses come and go:
// client_routes) never reads the cache, so a DNS cut-over is seen at the next
// connect; its fresh answer is still stored for the targets that may.
#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

#include "connect/asio.hpp"
#include "connect/conn.hpp"
#include "connect/ip_literal.hpp"

namespace sy {

struct DnsEntry {
    DnsEntry *next;
    char *host;
    uint64_t expires_ns;
    Addrs addrs;
};

void addrs_set_port(Addrs *a, uint32_t port) {
    for (uint32_t i = 0; i < a->n; i++) {
        if (a->a[i].ss_family == AF_INET)
            reinterpret_cast<sockaddr_in *>(&a->a[i])->sin_port = htons(static_cast<uint16_t>(port));
        else
            reinterpret_cast<sockaddr_in6 *>(&a->a[i])->sin6_port =
                htons(static_cast<uint16_t>(port));
    }
}

bool addrs_from_literal(const char *host, uint32_t port, Addrs *out) {
    unsigned char ip[16];
    size_t len = 0;
    if (!net::ip_literal(host, ip, &len)) return false;
    std::memset(&out->a[0], 0, sizeof out->a[0]);
    if (len == 4) {
        auto *s4 = reinterpret_cast<sockaddr_in *>(&out->a[0]);
        s4->sin_family = AF_INET;
        std::memcpy(&s4->sin_addr, ip, 4);
        out->len[0] = sizeof *s4;
    } else {
        auto *s6 = reinterpret_cast<sockaddr_in6 *>(&out->a[0]);
        s6->sin6_family = AF_INET6;
        std::memcpy(&s6->sin6_addr, ip, 16);
        out->len[0] = sizeof *s6;
    }
    out->n = 1;
    addrs_set_port(out, port);
    return true;
}

bool dns_cached(Connector *c, const char *host, uint32_t port, Addrs *out) {
    uint64_t now = mono_ns();
    std::lock_guard<std::mutex> g(c->mu);
    for (DnsEntry **link = &c->dns; *link; link = &(*link)->next) {
        DnsEntry *e = *link;
        if (std::strcmp(e->host, host) != 0) continue;
        if (now >= e->expires_ns) return false; // dns_store replaces it
        *link = e->next; // most recently used first
        e->next = c->dns;
        c->dns = e;
        *out = e->addrs;
        addrs_set_port(out, port);
        return true;
    }
    return false;
}

bool addrs_known(Connector *c, const char *host, uint32_t port, bool fresh, Addrs *out) {
    return addrs_from_literal(host, port, out) || (!fresh && dns_cached(c, host, port, out));
}

void addrs_put_first(Addrs *a, uint64_t r) {
    if (a->n < 2) return;
    uint32_t k = static_cast<uint32_t>(r % a->n);
    if (!k) return;
    sockaddr_storage ss = a->a[k];
    socklen_t len = a->len[k];
    std::memmove(&a->a[1], &a->a[0], k * sizeof a->a[0]);
    std::memmove(&a->len[1], &a->len[0], k * sizeof a->len[0]);
    a->a[0] = ss;
    a->len[0] = len;
}

void dns_store(Connector *c, const char *host, const Addrs &a) {
    if (!a.n) return;
    std::lock_guard<std::mutex> g(c->mu); // cfg too: a reload updates it
    if (!c->cfg.resolve_ttl_ms) return;
    uint64_t exp = mono_ns() + uint64_t{c->cfg.resolve_ttl_ms} * 1000000u;
    DnsEntry **link = &c->dns, **last = nullptr;
    size_t n = 0;
    for (; *link; link = &(*link)->next, n++) {
        if (std::strcmp((*link)->host, host) == 0) {
            (*link)->addrs = a;
            (*link)->expires_ns = exp;
            return;
        }
        last = link;
    }
    DnsEntry *e = nullptr;
    if (n >= c->cfg.resolve_cache && last) { // reuse the least recently used
        e = *last;
        *last = nullptr;
        c->alloc.strfree(e->host);
        c->dns_count--;
    } else {
        e = c->alloc.make<DnsEntry>();
        if (!e) return;
    }
    if (!(e->host = c->alloc.strdup(host))) {
        c->alloc.destroy(e);
        return;
    }
    e->addrs = a;
    e->expires_ns = exp;
    e->next = c->dns;
    c->dns = e;
    c->dns_count++;
}

void dns_free_all(Connector *c) {
    while (DnsEntry *e = c->dns) {
        c->dns = e->next;
        c->alloc.strfree(e->host);
        c->alloc.destroy(e);
    }
    c->dns_count = 0;
}

int dns_resolve_blocking(const char *host, uint32_t port, Addrs *out, char *msg, size_t msg_size) {
    asio::io_context io;
    asio::ip::tcp::resolver res(io);
    asio::error_code ec;
    auto results = res.resolve(host, "", ec);
    if (ec) {
        std::snprintf(msg, msg_size, "%s", ec.message().c_str());
        return SY_ECONNECT;
    }
    return addrs_from_results(results, port, out, msg, msg_size);
}

} // namespace sy
