// Per-endpoint statistics and circuit breakers. An open circuit does not
// drop its endpoint from plans: the connector tries it after every other
// target, so a request still succeeds when it is the only one left.
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "connect/conn.hpp"

namespace sy {

namespace {

uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ static_cast<unsigned char>(*s)) * 1099511628211ull;
    return h;
}

const char *circuit_name(Circuit c) {
    switch (c) {
    case Circuit::Open: return "open";
    case Circuit::HalfOpen: return "half_open";
    default: return "closed";
    }
}

} // namespace

Endpoint *endpoint_get(Connector *c, const char *key, bool create) {
    uint64_t h = fnv1a(key);
    Endpoint **b = &c->buckets[h % kEndpointBuckets];
    for (Endpoint *e = *b; e; e = e->next)
        if (e->hash == h && std::strcmp(e->key, key) == 0) return e;
    if (!create || c->endpoint_count >= c->cfg.max_endpoints) return nullptr;
    Endpoint *e = c->alloc.make<Endpoint>();
    if (!e) return nullptr;
    if (!(e->key = c->alloc.strdup(key))) {
        c->alloc.destroy(e);
        return nullptr;
    }
    e->hash = h;
    e->next = *b;
    *b = e;
    c->endpoint_count++;
    return e;
}

int endpoint_admit(Connector *c, Endpoint *e, uint64_t now) {
    if (!e || !c->cfg.circuit_failures) return 0;
    switch (e->circuit) {
    case Circuit::Closed: return 0;
    case Circuit::HalfOpen: return -1; // the probe is out: wait for it
    case Circuit::Open:
        if (now - e->opened_ns < uint64_t{c->cfg.circuit_retry_ms} * 1000000u) return -1;
        e->circuit = Circuit::HalfOpen;
        e->probing = true;
        return 1;
    }
    return 0;
}

void endpoint_record(Connector *c, Endpoint *e, bool ok, uint64_t elapsed_ns, uint64_t now) {
    if (!e) return;
    e->attempts++;
    e->probing = false;
    if (ok) {
        e->latency_sum_ms += static_cast<double>(elapsed_ns) / 1e6;
        e->latency_n++;
        e->consecutive = 0;
        e->circuit = Circuit::Closed;
        return;
    }
    e->failures++;
    e->consecutive++;
    if (!c->cfg.circuit_failures) return;
    if (e->circuit == Circuit::HalfOpen || e->consecutive >= c->cfg.circuit_failures) {
        e->circuit = Circuit::Open;
        e->opened_ns = now;
    }
}

namespace {

// Appends formatted text, counting what does not fit.
struct Out {
    char *buf;
    size_t cap;
    size_t n = 0;
    void put(const char *fmt, ...) __attribute__((format(printf, 2, 3))) {
        char tmp[512];
        va_list ap;
        va_start(ap, fmt);
        int k = std::vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        size_t m = static_cast<size_t>(k) < sizeof tmp ? static_cast<size_t>(k) : sizeof tmp - 1;
        if (buf && n + m < cap) std::memcpy(buf + n, tmp, m);
        n += m;
    }
};

} // namespace

// mu held. Writes as much as fits; *len is the whole size, NUL included.
int endpoint_stats_json(Connector *c, char *buf, size_t cap, size_t *len) {
    Out o{buf, cap};
    o.put("{\"endpoints\":[");
    bool first = true;
    for (Endpoint *b : c->buckets) {
        for (Endpoint *e = b; e; e = e->next) {
            double avg = e->latency_n ? e->latency_sum_ms / static_cast<double>(e->latency_n) : 0;
            // Keys are host:port made by us: no character needs escaping
            // except a quote or backslash a hostile host name might carry.
            o.put("%s{\"endpoint\":\"", first ? "" : ",");
            for (const char *k = e->key; *k; k++) {
                if (*k == '"' || *k == '\\') o.put("\\%c", *k);
                else if (static_cast<unsigned char>(*k) < 0x20) o.put("\\u%04x", *k);
                else o.put("%c", *k);
            }
            o.put("\",\"attempts\":%llu,\"failures\":%llu,\"consecutive_failures\":%llu,"
                  "\"latency_avg_ms\":%.3f,\"circuit\":\"%s\",\"idle\":%u}",
                  static_cast<unsigned long long>(e->attempts),
                  static_cast<unsigned long long>(e->failures),
                  static_cast<unsigned long long>(e->consecutive), avg, circuit_name(e->circuit),
                  e->idle_count);
            first = false;
        }
    }
    o.put("]}");
    *len = o.n + 1;
    if (!buf || o.n + 1 > cap) return SY_ETOOSMALL;
    buf[o.n] = 0;
    return SY_OK;
}

} // namespace sy
