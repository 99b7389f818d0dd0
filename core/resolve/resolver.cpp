// Resolver cache: a fixed number of slots picked by the name's hash, each
// under its own mutex. A miss calls the user's resolver with the slot held,
// so one name is never resolved twice at once and a burst of plans for it
// waits for one answer instead of stampeding discovery. Answers are copied
// into the slot (the callback's strings need live only during the call) and
// readers copy one endpoint out at a time into their own buffer, so nothing
// they hold can be freed under them.
#include "resolve/resolver.hpp"

#include <cstring>
#include <ctime>
#include <mutex>
#include <new>

#include "router/router.hpp"
#include "util/error.hpp"

namespace sy {

namespace {

constexpr uint32_t kDefaultTtlMs = 5000;
constexpr uint32_t kDefaultEntries = 256;
constexpr size_t kMaxName = 255;
constexpr size_t kMaxHost = 255;

struct Cached {
    uint32_t port;
    uint32_t tls;
    uint32_t host_off;
};

struct Slot {
    std::mutex mu;
    bool valid = false;
    uint64_t expires = 0;
    uint32_t count = 0;
    char name[kMaxName + 1] = {};
    Cached eps[SY_RESOLVE_MAX_ENDPOINTS] = {};
    char pool[SY_RESOLVE_MAX_ENDPOINTS * (kMaxHost + 1)] = {};
};

uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ static_cast<unsigned char>(*s)) * 1099511628211ull;
    return h;
}

uint64_t now_ns(const Router *r) {
    if (r->clock_fn) return r->clock_fn(r->clock_data);
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

} // namespace

struct Resolver {
    Alloc alloc;
    sy_resolve_fn fn = nullptr;
    void *user = nullptr;
    sy_destroy_fn destroy = nullptr;
    uint64_t ttl_ns = 0;
    Slot *slots = nullptr;
    size_t nslots = 0;
    explicit Resolver(const Alloc &a) : alloc(a) {}
};

int resolver_new(const Alloc &a, const sy_resolver *cfg, Resolver **out, sy_error *err) {
    *out = nullptr;
    if (!cfg) return SY_OK;
    if (cfg->struct_size < offsetof(sy_resolver, cache_entries) + sizeof(uint32_t))
        return fail(err, SY_EINVAL, "", "sy_resolver.struct_size %u is too small", cfg->struct_size);
    if (!cfg->resolve) return fail(err, SY_EINVAL, "", "sy_resolver.resolve is NULL");
    if (cfg->cache_entries > 65536)
        return fail(err, SY_EINVAL, "", "sy_resolver.cache_entries %u is over 65536",
                    cfg->cache_entries);
    Resolver *r = a.make<Resolver>(a);
    if (!r) return fail(err, SY_ENOMEM, "", "out of memory");
    r->fn = cfg->resolve;
    r->user = cfg->user_data;
    r->destroy = cfg->destroy;
    r->ttl_ns = static_cast<uint64_t>(cfg->ttl_ms ? cfg->ttl_ms : kDefaultTtlMs) * 1000000ull;
    r->nslots = cfg->cache_entries ? cfg->cache_entries : kDefaultEntries;
    void *mem = a.alloc(r->nslots * sizeof(Slot), alignof(Slot));
    if (!mem) {
        a.destroy(r);
        return fail(err, SY_ENOMEM, "", "out of memory");
    }
    r->slots = static_cast<Slot *>(mem);
    for (size_t i = 0; i < r->nslots; i++) new (&r->slots[i]) Slot();
    *out = r;
    return SY_OK;
}

void resolver_free(Resolver *r) {
    if (!r) return;
    if (r->destroy) r->destroy(r->user);
    for (size_t i = 0; i < r->nslots; i++) r->slots[i].~Slot();
    r->alloc.free(r->slots, r->nslots * sizeof(Slot));
    Alloc a = r->alloc;
    a.destroy(r);
}

void resolver_disarm(Resolver *r) {
    if (r) r->destroy = nullptr;
}

namespace {

// Slot held. Calls the user's resolver and keeps what it answers.
int refill(Router *router, Resolver *r, Slot &s, const char *name, size_t name_len,
           sy_error *err) {
    sy_endpoint eps[SY_RESOLVE_MAX_ENDPOINTS];
    for (sy_endpoint &e : eps) e = SY_STRUCT_INIT(sy_endpoint);
    s.valid = false;
    int n = r->fn(name, eps, SY_RESOLVE_MAX_ENDPOINTS, r->user);
    if (n < 0)
        return fail(err, n < SY_STATUS_MIN_ ? SY_ECALLBACK : n, "",
                    "resolver failed for '%.200s': %s", name, sy_status_str(n));
    if (n > SY_RESOLVE_MAX_ENDPOINTS)
        return fail(err, SY_ECALLBACK, "", "resolver answered %d endpoints for '%.200s' (at most %d)",
                    n, name, SY_RESOLVE_MAX_ENDPOINTS);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const sy_endpoint &e = eps[i];
        size_t hl = e.host ? std::strlen(e.host) : 0;
        if (hl == 0 || hl > kMaxHost || e.port == 0 || e.port > 65535)
            return fail(err, SY_ECALLBACK, "",
                        "resolver answered '%.200s' with a bad endpoint #%d (host of %zu bytes, "
                        "port %u)", name, i, hl, e.port);
        std::memcpy(s.pool + off, e.host, hl + 1);
        s.eps[i] = Cached{e.port, e.tls ? 1u : 0u, static_cast<uint32_t>(off)};
        off += hl + 1;
    }
    std::memcpy(s.name, name, name_len + 1);
    s.count = static_cast<uint32_t>(n);
    s.expires = now_ns(router) + r->ttl_ns;
    s.valid = true;
    return SY_OK;
}

} // namespace

int resolver_lookup(Router *router, Resolver *r, const char *name, size_t index,
                    sy_endpoint *out, char *buf, size_t buf_size, sy_error *err) {
    if (!r) return fail(err, SY_EUNSUPPORTED, "", "the router has no resolver (sy_router_options.resolver)");
    if (!name || !out || !buf) return fail(err, SY_EINVAL, "", "resolve: name, out and buf are required");
    size_t name_len = std::strlen(name);
    if (name_len == 0 || name_len > kMaxName)
        return fail(err, SY_EINVAL, "", "resolve: a name is 1 to %zu bytes, got %zu", kMaxName, name_len);
    Slot &s = r->slots[fnv1a(name) % r->nslots];
    std::lock_guard<std::mutex> g(s.mu);
    bool fresh = s.valid && std::strcmp(s.name, name) == 0 && now_ns(router) < s.expires;
    if (!fresh) {
        if (int rc = refill(router, r, s, name, name_len, err)) return rc;
    }
    if (index >= s.count) return 0;
    const Cached &c = s.eps[index];
    const char *host = s.pool + c.host_off;
    size_t hl = std::strlen(host);
    if (hl + 1 > buf_size)
        return fail(err, SY_ETOOSMALL, "", "resolve: host of %zu bytes does not fit %zu", hl, buf_size);
    std::memcpy(buf, host, hl + 1);
    uint32_t size = out->struct_size;
    sy_endpoint e = SY_STRUCT_INIT(sy_endpoint);
    e.port = c.port;
    e.tls = c.tls;
    e.host = buf;
    std::memcpy(out, &e, size && size < sizeof e ? size : sizeof e);
    out->struct_size = size ? size : sizeof e;
    return 1;
}

} // namespace sy
