// An immutable table over shared routes: lookup order (weight, higher
// first; ties in insertion order, so two runs of one config always plan
// alike), first-byte buckets that let a cold lookup skip patterns that cannot
// match, and each proxy route's hop chain worked out once.
#include "static_routes/routes.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>

namespace sr {

int route_match(const Table &t, const Route &r, const char *name, size_t len,
                pcre2_match_data *md) {
    auto subject = reinterpret_cast<PCRE2_SPTR>(name);
    int rc = r.jit ? pcre2_jit_match(r.code, subject, len, 0, 0, md, t.mctx)
                   : pcre2_match(r.code, subject, len, 0, 0, md, t.mctx);
    if (rc >= 0) return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : rc;
}

int match_error(const sy_host *host, sy_error *err, int rc, const Route &r, const char *name) {
    PCRE2_UCHAR msg[160];
    if (pcre2_get_error_message(rc, msg, sizeof msg) < 0)
        std::snprintf(reinterpret_cast<char *>(msg), sizeof msg, "PCRE2 error %d", rc);
    bool limit = rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
                 rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT;
    int code = limit ? SY_ELIMIT : rc == PCRE2_ERROR_NOMEMORY ? SY_ENOMEM : SY_EINTERNAL;
    host->set_error(err, code, "", "static_routes: pattern '%.120s' on name '%.120s': %s%s", r.pattern,
                    name, msg, limit ? " (the pattern backtracks too much: rewrite it or raise match_limit)" : "");
    return code;
}

namespace {

bool before(const Route *a, const Route *b) {
    if (a->weight != b->weight) return a->weight > b->weight;
    return a->seq < b->seq;
}

template <class T> T *alloc_array(const sy_host *h, size_t n) {
    if (n == 0) return nullptr;
    void *p = h->alloc(h, n * sizeof(T), alignof(T));
    return static_cast<T *>(p);
}

template <class T> void free_array(const sy_host *h, T *p, size_t n) {
    if (p) h->free(h, p, n * sizeof(T));
}

// The first static route (not a resolver one) that matches name.
const Route *first_static(const Table &t, const char *name, pcre2_match_data *md) {
    size_t len = std::strlen(name);
    for (uint32_t i = 0; i < t.count; i++) {
        const Route *r = t.routes[i];
        if (!r->resolver && route_match(t, *r, name, len, md) == 1) return r;
    }
    return nullptr;
}

const Route *first_proxy(const Table &t, const char *name, pcre2_match_data *md) {
    size_t len = std::strlen(name);
    for (uint32_t i = 0; i < t.proxy_count; i++)
        if (route_match(t, *t.proxies[i], name, len, md) == 1) return t.proxies[i];
    return nullptr;
}

// Where `to` is: a host:port literal, else what this table's static routes
// say for it (route host, else the name's @host part). host lands in buf.
bool destination(const Table &t, const char *to, char *buf, size_t size, uint32_t *port,
                 pcre2_match_data *md) {
    if (split_hostport(to, buf, size, port)) return true;
    const Route *r = first_static(t, to, md);
    if (!r) return false;
    const char *host = r->host;
    size_t hl = host ? std::strlen(host) : 0;
    if (!host) host = name_host(to, std::strlen(to), &hl);
    if (!host || hl + 1 > size) return false;
    std::memcpy(buf, host, hl);
    buf[hl] = '\0';
    *port = r->port;
    return true;
}

int fail(const sy_host *h, sy_error *err, int code, const Route &p, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int fail(const sy_host *h, sy_error *err, int code, const Route &p, const char *fmt, ...) {
    char msg[SY_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h->set_error(err, code, "proxy_routes", "route '%.100s': %s", p.pattern, msg);
    return code;
}

// Hops from the first dialled to the one that reaches p's destination.
int build_chain(const Table &t, const Route &p, Chain &c, pcre2_match_data *md, sy_error *err) {
    const sy_host *h = t.host;
    if (!destination(t, p.to, c.bufs[0], sizeof c.bufs[0], &c.dest_port, md))
        return fail(h, err, SY_ECONFIG, p,
                    "destination '%.100s' has no address: give \"to\" as host:port or add a static "
                    "route for it", p.to);
    c.dest_host = c.bufs[0];
    // Walk back from the last hop: each hop either has a static route
    // (dialled directly), or is itself behind another proxy route, or is
    // left to the resolver at connect time.
    sy_proxy_hop rev[kMaxHopLimit + 1];
    uint32_t n = 0;
    const char *hop = p.proxy;
    uint32_t protocol = p.protocol;
    for (;;) {
        if (n == p.max_hop)
            return fail(h, err, SY_ELIMIT, p,
                        "reaching its proxy '%.100s' takes more than max_hop %u hops (or the proxies "
                        "route through each other in a loop)", p.proxy, p.max_hop);
        sy_proxy_hop &x = rev[n];
        x = sy_proxy_hop{};
        x.struct_size = sizeof x;
        x.node = hop;
        x.protocol = protocol;
        n++;
        if (const Route *s = first_static(t, hop, md)) {
            size_t hl = 0;
            x.host = s->host ? s->host : nullptr;
            if (!x.host) {
                const char *nh = name_host(hop, std::strlen(hop), &hl);
                if (nh && hl <= kMaxName) {
                    std::memcpy(c.bufs[n], nh, hl);
                    c.bufs[n][hl] = '\0';
                    x.host = c.bufs[n];
                }
            }
            x.port = x.host ? s->port : 0;
            x.tls = s->tls > 0;
            x.cookie = s->cookie;
            break;
        }
        const Route *q = first_proxy(t, hop, md);
        if (!q) break; // the connector resolves the hop by name
        // hop sits behind q: q's proxy is dialled first and asked for hop
        if (!destination(t, q->to, c.bufs[n], sizeof c.bufs[n], &x.port, md))
            return fail(h, err, SY_ECONFIG, *q,
                        "destination '%.100s' has no address: give \"to\" as host:port or add a "
                        "static route for it", q->to);
        x.host = c.bufs[n];
        x.cookie = q->cookie;
        hop = q->proxy;
        protocol = q->protocol;
    }
    c.hop_count = n;
    for (uint32_t i = 0; i < n; i++) c.hops[i] = rev[n - 1 - i];
    return SY_OK;
}

} // namespace

void table_unref(Table *t) {
    if (!t || t->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    const sy_host *h = t->host;
    for (uint32_t i = 0; i < t->count; i++) route_unref(h, t->routes[i]);
    for (uint32_t i = 0; i < t->proxy_count; i++) route_unref(h, t->proxies[i]);
    free_array(h, t->routes, t->routes_cap);
    free_array(h, t->proxies, t->proxies_cap);
    free_array(h, t->chains, t->proxies_cap);
    free_array(h, t->bucket_off, t->bucket_off ? 257 : 0);
    free_array(h, t->bucket_pos, t->bucket_total);
    free_array(h, t->any_pos, t->any_count);
    if (t->mctx) pcre2_match_context_free(t->mctx);
    t->~Table();
    h->free(h, t, sizeof(Table));
}

int table_build(const sy_host *h, const PcreMem &mem, const Options &opt, Route *const *routes,
                size_t n, Table **out, sy_error *err) {
    void *m = h->alloc(h, sizeof(Table), alignof(Table));
    if (!m) {
        h->set_error(err, SY_ENOMEM, "", "out of memory");
        return SY_ENOMEM;
    }
    Table *t = new (m) Table();
    t->host = h;
    t->opt = opt;
    uint32_t ns = 0, np = 0;
    for (size_t i = 0; i < n; i++) (routes[i]->kind == SY_ROUTE_STATIC ? ns : np)++;
    t->routes = alloc_array<Route *>(h, ns);
    t->proxies = alloc_array<Route *>(h, np);
    t->chains = alloc_array<Chain>(h, np);
    t->routes_cap = ns;
    t->proxies_cap = np;
    t->mctx = pcre2_match_context_create(mem.gctx);
    pcre2_match_data *md = pcre2_match_data_create(1, mem.gctx);
    int rc = SY_OK;
    if ((ns && !t->routes) || (np && (!t->proxies || !t->chains)) || !t->mctx || !md) {
        h->set_error(err, SY_ENOMEM, "", "out of memory");
        rc = SY_ENOMEM;
        goto out;
    }
    pcre2_set_match_limit(t->mctx, opt.match_limit);
    pcre2_set_depth_limit(t->mctx, opt.depth_limit);
    for (size_t i = 0; i < n; i++) {
        routes[i]->refs.fetch_add(1, std::memory_order_relaxed);
        if (routes[i]->kind == SY_ROUTE_STATIC) t->routes[t->count++] = routes[i];
        else t->proxies[t->proxy_count++] = routes[i];
    }
    std::sort(t->routes, t->routes + t->count, before);
    std::sort(t->proxies, t->proxies + t->proxy_count, before);
    for (uint32_t j = 0; j < t->proxy_count; j++) new (&t->chains[j]) Chain();

    if (opt.anchored && t->count) {
        t->bucket_off = alloc_array<uint32_t>(h, 257);
        if (!t->bucket_off) {
            h->set_error(err, SY_ENOMEM, "", "out of memory");
            rc = SY_ENOMEM;
            goto out;
        }
        std::memset(t->bucket_off, 0, 257 * sizeof(uint32_t));
        for (uint32_t i = 0; i < t->count; i++) {
            const Route *r = t->routes[i];
            if (!r->first_known) {
                t->any_count++;
                continue;
            }
            for (int b = 0; b < 256; b++)
                if (r->first[b >> 3] & (1u << (b & 7))) t->bucket_off[b + 1]++;
        }
        for (int b = 0; b < 256; b++) t->bucket_off[b + 1] += t->bucket_off[b];
        t->bucket_total = t->bucket_off[256];
        t->bucket_pos = alloc_array<uint32_t>(h, t->bucket_total);
        t->any_pos = alloc_array<uint32_t>(h, t->any_count);
        if ((t->bucket_total && !t->bucket_pos) || (t->any_count && !t->any_pos)) {
            h->set_error(err, SY_ENOMEM, "", "out of memory");
            rc = SY_ENOMEM;
            goto out;
        }
        uint32_t fill[256];
        std::memcpy(fill, t->bucket_off, sizeof fill);
        uint32_t any = 0;
        for (uint32_t i = 0; i < t->count; i++) {
            const Route *r = t->routes[i];
            if (!r->first_known) {
                t->any_pos[any++] = i;
                continue;
            }
            for (int b = 0; b < 256; b++)
                if (r->first[b >> 3] & (1u << (b & 7))) t->bucket_pos[fill[b]++] = i;
        }
    }
    for (uint32_t j = 0; j < t->proxy_count && rc == SY_OK; j++)
        rc = build_chain(*t, *t->proxies[j], t->chains[j], md, err);
out:
    if (md) pcre2_match_data_free(md);
    if (rc != SY_OK) {
        // routes not yet counted in are not released: count what we hold
        table_unref(t);
        return rc;
    }
    *out = t;
    return SY_OK;
}

} // namespace sr
