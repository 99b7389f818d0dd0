// static_routes: Ergo's static routing table as a selector and a translator.
//
// As a selector, a request's "node" name plans, in order: the static routes
// whose pattern matches it, by weight (higher first, ties in insertion
// order); then, if none matched or "fallthrough" is set, what the host's
// resolver answers for the name; then the proxy routes that match it. An
// empty plan is SY_ENOROUTE naming the node. As a translator it rewrites a
// target through the first static route matching the target's node name.
//
// Every path merges a route over a base endpoint the same way: the route's
// host, port and tls win when set, the base fills the rest. The base is the
// name's @host part (a plain route), the resolver's answer (a route with
// "resolver": true, or the resolver stage), or the target's own address
// (translation).
//
// The table can change at run time through the "static_routes.table"
// interface (<switchyard/static_routes.h>): a change builds a new immutable
// table and republishes the router's snapshot, so plans never block and
// never see half a change. Repeat lookups are answered from a per-snapshot
// cache (lookup.hpp).
#include <switchyard/plugin.h>
#include <switchyard/static_routes.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>

#include "common/fail.hpp"
#include "common/interface.hpp"
#include "common/json_keys.hpp"
#include "common/json_path.hpp"
#include "common/table_swap.hpp"
#include "static_routes/lookup.hpp"
#include "static_routes/routes.hpp"

namespace sr {
namespace {

constexpr const char kResolverVia[] = "{\"resolver\":true}";

struct Instance {
    const sy_host *host = nullptr;
    PcreMem mem{};
    Options opt;
    std::mutex mu;                     // serialises table changes
    std::atomic<Table *> current{nullptr};
    uint64_t next_seq = 0;
    FlagNames flags;
};

Instance *inst_of(void *p) { return static_cast<Instance *>(p); }

// ---------------------------------------------------------------- config

int read_options(const sy_host *h, const sy_json *cfg, const char *base, Options *o, sy_error *err) {
    static const char *const keys[] = {"anchored", "fallthrough", "routes", "proxy_routes", "match_limit",
                                       "depth_limit", "cache_size", nullptr};
    char path[SY_ERROR_PATH_MAX * 2];
    auto at_key = [&](const char *k) {
        size_t len = static_cast<size_t>(std::snprintf(path, sizeof path, "%s", base));
        if (len >= sizeof path) len = sizeof path - 1;
        syp::path_append_key(path, sizeof path, &len, k);
        return path;
    };
    const char *why = nullptr;
    if (const char *k = syp::bad_key(h, cfg, keys, &why)) return syp::fail(h, err, SY_ECONFIG, at_key(k), "%s", why);
    for (const sy_json *m = h->json_first(cfg); m; m = h->json_next(m)) {
        const char *k = h->json_key(m);
        at_key(k);
        uint32_t t = h->json_type(m);
        if (!std::strcmp(k, "anchored") || !std::strcmp(k, "fallthrough")) {
            if (t != SY_JSON_TRUE && t != SY_JSON_FALSE)
                return syp::fail(h, err, SY_ECONFIG, path, "expected true or false");
            (k[0] == 'a' ? o->anchored : o->fallthrough) = t == SY_JSON_TRUE;
        } else if (!std::strcmp(k, "routes") || !std::strcmp(k, "proxy_routes")) {
            if (t != SY_JSON_ARRAY) return syp::fail(h, err, SY_ECONFIG, path, "expected an array of routes");
        } else {
            double d = h->json_number(m);
            bool cache = !std::strcmp(k, "cache_size");
            double lo = cache ? 0 : 1, hi = cache ? 1 << 20 : 1e9;
            if (t != SY_JSON_NUMBER || !(d >= lo && d <= hi) || d != static_cast<double>(static_cast<long long>(d)))
                return syp::fail(h, err, SY_ECONFIG, path, "expected an integer in %.0f..%.0f", lo, hi);
            auto v = static_cast<uint32_t>(d);
            if (cache) o->cache_size = v;
            else if (k[0] == 'm') o->match_limit = v;
            else o->depth_limit = v;
        }
    }
    return SY_OK;
}

void release_routes(const sy_host *h, Route **rs, size_t n) {
    for (size_t i = 0; i < n; i++) route_unref(h, rs[i]);
}

// Same kind, same text: Ergo's ErrTaken.
const Route *find_pattern(Route *const *rs, size_t n, uint32_t kind, const char *pattern) {
    for (size_t i = 0; i < n; i++)
        if (rs[i]->kind == kind && std::strcmp(rs[i]->pattern, pattern) == 0) return rs[i];
    return nullptr;
}

int load_config(Instance *in, const sy_json *cfg, const char *base, sy_error *err) {
    const sy_host *h = in->host;
    const sy_json *lists[2] = {h->json_get(cfg, "routes"), h->json_get(cfg, "proxy_routes")};
    size_t total = h->json_count(lists[0]) + h->json_count(lists[1]);
    auto **rs = static_cast<Route **>(h->alloc(h, (total ? total : 1) * sizeof(Route *), alignof(Route *)));
    if (!rs) return syp::fail(h, err, SY_ENOMEM, base, "out of memory");
    size_t n = 0;
    int rc = SY_OK;
    for (int l = 0; l < 2 && rc == SY_OK; l++) {
        const char *key = l ? "proxy_routes" : "routes";
        uint32_t kind = l ? SY_ROUTE_PROXY : SY_ROUTE_STATIC;
        size_t count = h->json_count(lists[l]);
        for (size_t i = 0; i < count && rc == SY_OK; i++) {
            char path[SY_ERROR_PATH_MAX * 2];
            size_t len = static_cast<size_t>(std::snprintf(path, sizeof path, "%s", base));
            if (len >= sizeof path) len = sizeof path - 1;
            syp::path_append_key(path, sizeof path, &len, key);
            std::snprintf(path + len, sizeof path - len, "[%zu]", i);
            Route *r = nullptr;
            rc = route_build(h, in->mem, in->opt, kind, h->json_at(lists[l], i), path, in->next_seq++,
                             in->flags, &r, err);
            if (rc != SY_OK) break;
            if (find_pattern(rs, n, kind, r->pattern)) {
                rc = syp::fail(h, err, SY_ECONFIG, path, "pattern '%.200s' is given twice", r->pattern);
                route_unref(h, r);
                break;
            }
            rs[n++] = r;
        }
    }
    Table *t = nullptr;
    if (rc == SY_OK) {
        rc = table_build(h, in->mem, in->opt, rs, n, &t, err);
        if (rc != SY_OK && err && err->path[0]) { // "proxy_routes" → under the config's path
            char full[SY_ERROR_PATH_MAX * 2 + 2];
            std::snprintf(full, sizeof full, "%s.%s", base, err->path);
            size_t fl = std::strlen(full);
            if (fl >= sizeof err->path) fl = sizeof err->path - 1;
            std::memcpy(err->path, full, fl);
            err->path[fl] = '\0';
        }
    }
    if (rc == SY_OK) in->current.store(t);
    release_routes(h, rs, n); // the table holds its own references
    h->free(h, rs, (total ? total : 1) * sizeof(Route *));
    if (rc != SY_OK && err && !err->path[0]) std::snprintf(err->path, sizeof err->path, "%s", base);
    return rc;
}

void free_flags(const sy_host *h, FlagNames &f) {
    for (uint32_t i = 0; i < f.count; i++) h->free(h, f.names[i], std::strlen(f.names[i]) + 1);
    f.count = 0;
}

void sr_destroy(void *instance);

int sr_create(void *instance, const sy_host *host, const sy_json *config, const char *config_path,
              sy_error *err) {
    Instance *in = new (instance) Instance();
    in->host = host;
    in->mem.host = host;
    in->mem.gctx = pcre2_general_context_create(pcre_malloc, pcre_free, &in->mem);
    int rc = SY_OK;
    if (!in->mem.gctx) rc = syp::fail(host, err, SY_ENOMEM, config_path, "out of memory");
    else if (config && host->json_type(config) != SY_JSON_OBJECT)
        rc = syp::fail(host, err, SY_ECONFIG, config_path, "expected an object");
    else if (config && (rc = read_options(host, config, config_path, &in->opt, err)) == SY_OK)
        rc = load_config(in, config, config_path, err);
    else if (!config)
        rc = load_config(in, nullptr, config_path, err);
    if (rc != SY_OK) {
        sr_destroy(instance);
        return rc;
    }
    return SY_OK;
}

void sr_destroy(void *instance) {
    Instance *in = inst_of(instance);
    table_unref(in->current.exchange(nullptr));
    free_flags(in->host, in->flags);
    if (in->mem.gctx) pcre2_general_context_free(in->mem.gctx);
    in->~Instance();
}

// ---------------------------------------------------------------- snapshots

int sr_attach(void *instance, const sy_topology *, void **state, sy_error *err) {
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    auto *st = static_cast<State *>(h->alloc(h, sizeof(State), alignof(State)));
    if (!st) return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    new (st) State();
    uint32_t n = 0;
    if (in->opt.cache_size) {
        n = 1;
        while (n < in->opt.cache_size) n <<= 1;
        st->slots = static_cast<CacheSlot *>(h->alloc(h, n * sizeof(CacheSlot), alignof(CacheSlot)));
        if (!st->slots) {
            h->free(h, st, sizeof(State));
            return syp::fail(h, err, SY_ENOMEM, "", "out of memory (a lookup cache of %u entries)", n);
        }
        for (uint32_t i = 0; i < n; i++) new (&st->slots[i]) CacheSlot();
    }
    st->nslots = n;
    st->table = table_ref(in->current.load());
    *state = st;
    return SY_OK;
}

void sr_detach(void *instance, void *state) {
    const sy_host *h = inst_of(instance)->host;
    auto *st = static_cast<State *>(state);
    table_unref(st->table);
    if (st->slots) h->free(h, st->slots, st->nslots * sizeof(CacheSlot));
    h->free(h, st, sizeof(State));
}

// The matches of a name: from the cache, else scanned (and cached).
int lookup(const Instance *in, const State &st, const char *name, size_t len, Matches *m,
           sy_error *err) {
    uint64_t hash = name_hash(name, len);
    if (cache_get(st, name, len, hash, m)) return SY_OK;
    StackMatcher sm;
    if (!sm.init()) return syp::fail(in->host, err, SY_ENOMEM, "", "static_routes: no room for match data");
    const Route *bad = nullptr;
    if (int rc = scan(*st.table, name, len, 0, sm, in->mem.gctx, m, &bad))
        return match_error(in->host, err, rc, *bad, name);
    cache_put(st, name, len, hash, *m);
    return SY_OK;
}

// ---------------------------------------------------------------- targets


// The one merge rule: the route's fields win where set.
void apply_route(const Route &r, const char *base_host, uint32_t base_port, bool base_tls, sy_target *t) {
    t->host = r.host ? r.host : base_host;
    t->port = r.port ? r.port : base_port;
    bool tls = r.tls >= 0 ? r.tls > 0 : base_tls;
    t->flags = (t->flags & ~uint32_t{SY_TARGET_TLS}) | (tls ? uint32_t{SY_TARGET_TLS} : 0u) | SY_TARGET_HAS_WEIGHT;
    t->weight = r.weight;
    if (r.cookie) t->cookie = r.cookie;
    if (r.has_profile) t->tls_profile = &r.profile;
    if (r.flag_count) {
        t->user_flags = r.flags;
        t->flag_names = r.flag_names;
        t->flag_name_count = r.flag_count;
    }
    if (r.log_level) t->log_level = r.log_level;
    SY_TARGET_ADD_VIA_DETAIL(t, kPluginName, r.via);
}

enum Phase : uint32_t { kStatic = 0, kResolver = 1, kProxy = 2, kDone = 3 };

struct Plan {
    const Instance *in;
    const State *st;
    const char *name;
    uint32_t len;
    uint32_t phase;
    bool matched;    // some static route matched
    uint32_t i;      // next in m
    uint32_t sub;    // next resolver endpoint (a resolver route, or the resolver stage)
    uint32_t proxy_pos;
    Matches m;
    char host_buf[256];
    char why[192];   // a target's error text
};

int sr_plan_init(void *instance, const void *state, const sy_topology *, const sy_request_view *req,
                 void *plan_state, sy_error *err) {
    const Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    const auto *st = static_cast<const State *>(state);
    if (!(req->fields & SY_REQ_NODE) || !req->node || !req->node[0])
        return syp::fail(h, err, SY_EREQUEST, "node", "static_routes plans a node name: the request has no \"node\"");
    size_t len = std::strlen(req->node);
    if (len > kMaxName)
        return syp::fail(h, err, SY_EREQUEST, "node", "a node name is at most %zu bytes, got %zu", kMaxName, len);
    auto *p = static_cast<Plan *>(plan_state);
    p->in = in;
    p->st = st;
    p->name = req->node;
    p->len = static_cast<uint32_t>(len);
    p->i = 0;
    p->sub = 0;
    p->proxy_pos = 0;
    if (int rc = lookup(in, *st, p->name, len, &p->m, err)) return rc;
    p->matched = p->m.count > 0;
    p->phase = kStatic;
    if (p->matched) return SY_OK;
    // Nothing static: the plan is the resolver's answer, then proxy routes.
    // Say so now if both are empty, naming the node.
    // A warm miss comes here on every plan: nothing below clears or sets
    // up more than it uses (a zeroed sy_error alone is 524 bytes).
    const Table &t = *st->table;
    char why[200];
    why[0] = 0;
    if (h->version >= 2 && h->resolve) {
        sy_endpoint ep = SY_STRUCT_INIT(sy_endpoint);
        sy_error rerr;
        rerr.struct_size = sizeof rerr;
        rerr.code = SY_OK;
        rerr.path[0] = 0;
        rerr.message[0] = 0;
        int rc = h->resolve(h, p->name, 0, &ep, p->host_buf, sizeof p->host_buf, err ? &rerr : nullptr);
        if (rc == 1) return SY_OK;
        if (err && rc < 0 && rc != SY_EUNSUPPORTED)
            std::snprintf(why, sizeof why, " (resolver: %.150s)", rerr.message);
        else if (rc == 0) std::snprintf(why, sizeof why, " (the resolver does not know it)");
    }
    if (t.proxy_count) {
        StackMatcher sm;
        if (!sm.init()) return syp::fail(h, err, SY_ENOMEM, "", "static_routes: no room for match data");
        for (uint32_t j = 0; j < t.proxy_count; j++) {
            int rc = match_one(t, *t.proxies[j], p->name, len, sm, in->mem.gctx);
            if (rc < 0) return match_error(h, err, rc, *t.proxies[j], p->name);
            if (rc == 1) {
                p->phase = kResolver;
                return SY_OK;
            }
        }
    }
    return syp::fail(h, err, SY_ENOROUTE, "node", "no route to '%.200s': no static or proxy route matches%s",
                   p->name, why);
}

void start_target(const Plan *p, sy_target *t) { t->node = p->name; }

int next_resolved(Plan *p, sy_target *t, const Route *r) {
    const sy_host *h = p->in->host;
    if (h->version < 2 || !h->resolve) return 0;
    sy_endpoint ep = SY_STRUCT_INIT(sy_endpoint);
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = h->resolve(h, p->name, p->sub, &ep, p->host_buf, sizeof p->host_buf, &err);
    if (rc != 1) {
        if (rc < 0 && rc != SY_EUNSUPPORTED && h->log_enabled(h, SY_LOG_DEBUG))
            h->log(h, SY_LOG_DEBUG, "resolver for '%s': %s", p->name, err.message);
        return 0;
    }
    p->sub++;
    start_target(p, t);
    if (r) {
        apply_route(*r, ep.host, ep.port, ep.tls != 0, t);
    } else {
        t->host = ep.host;
        t->port = ep.port;
        if (ep.tls) t->flags |= SY_TARGET_TLS;
        SY_TARGET_ADD_VIA_DETAIL(t, kPluginName, kResolverVia);
    }
    return 1;
}

int sr_plan_next(void *, void *plan_state, sy_target *t) {
    auto *p = static_cast<Plan *>(plan_state);
    const Table &tab = *p->st->table;
    for (;;) {
        switch (p->phase) {
        case kStatic: {
            if (p->i == p->m.count) {
                if (p->m.resume != kEnd) {
                    StackMatcher sm;
                    if (!sm.init()) return SY_ENOMEM;
                    const Route *bad = nullptr;
                    int rc = scan(tab, p->name, p->len, p->m.resume, sm, p->in->mem.gctx, &p->m, &bad);
                    if (rc) return match_error(p->in->host, nullptr, rc, *bad, p->name);
                    p->i = 0;
                    continue;
                }
                p->phase = p->matched && !tab.opt.fallthrough ? kDone : kResolver;
                p->sub = 0;
                continue;
            }
            const Route &r = *tab.routes[p->m.idx[p->i]];
            if (r.resolver) {
                if (next_resolved(p, t, &r)) return 1;
                p->i++;
                p->sub = 0;
                continue;
            }
            p->i++;
            start_target(p, t);
            size_t hl = 0; // the name's @host, NUL-terminated, only when the route has no host
            const char *base = r.host ? nullptr : name_host(p->name, p->len, &hl);
            apply_route(r, base, 0, false, t);
            if (!t->host) {
                std::snprintf(p->why, sizeof p->why,
                              "route '%.60s' has no host and '%.60s' has no @host part", r.pattern, p->name);
                t->error = p->why;
            }
            return 1;
        }
        case kResolver:
            if (next_resolved(p, t, nullptr)) return 1;
            p->phase = kProxy;
            continue;
        case kProxy: {
            StackMatcher sm;
            bool ready = false;
            while (p->proxy_pos < tab.proxy_count) {
                uint32_t j = p->proxy_pos++;
                const Route &r = *tab.proxies[j];
                if (!ready && !(ready = sm.init())) return SY_ENOMEM;
                int rc = match_one(tab, r, p->name, p->len, sm, p->in->mem.gctx);
                if (rc < 0) return match_error(p->in->host, nullptr, rc, r, p->name);
                if (rc == 0) continue;
                const Chain &c = tab.chains[j];
                start_target(p, t);
                t->host = c.dest_host;
                t->port = c.dest_port;
                t->flags |= SY_TARGET_HAS_WEIGHT;
                t->weight = r.weight;
                if (r.cookie) t->cookie = r.cookie;
                if (r.flag_count) {
                    t->user_flags = r.flags;
                    t->flag_names = r.flag_names;
                    t->flag_name_count = r.flag_count;
                }
                t->proxies = c.hops;
                t->proxy_count = c.hop_count;
                SY_TARGET_ADD_VIA_DETAIL(t, kPluginName, r.via);
                return 1;
            }
            p->phase = kDone;
            continue;
        }
        default:
            return 0;
        }
    }
}

// ---------------------------------------------------------------- translation

int sr_translate(void *instance, const void *state, const sy_topology *topo, const sy_request_view *,
                 sy_target *t, char *, size_t) {
    const Instance *in = inst_of(instance);
    const auto *st = static_cast<const State *>(state);
    const char *name = t->node;
    if (t->node_index < topo->node_count && t->epoch == topo->epoch) {
        const sy_node *n = SY_TOPOLOGY_NODE(topo, t->node_index);
        if (n->name) name = n->name;
    }
    if (!name) return SY_OK;
    size_t len = std::strlen(name);
    if (len > kMaxName) return SY_OK;
    Matches m;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (int rc = lookup(in, *st, name, len, &m, &err)) {
        t->error = rc == SY_ELIMIT ? "static_routes: a pattern hit its match limit on this name"
                                   : "static_routes: matching failed";
        return SY_ETRANSLATE;
    }
    if (!m.count) return SY_OK;
    const Route &r = *st->table->routes[m.idx[0]];
    apply_route(r, t->host, t->port, (t->flags & SY_TARGET_TLS) != 0, t);
    return SY_OK;
}

// ---------------------------------------------------------------- table interface

// The current table with a reference, so visitors run without the lock.
Table *current_ref(Instance *in) {
    std::lock_guard<std::mutex> g(in->mu);
    return table_ref(in->current.load());
}

// mu held. Installs t and republishes; on failure the old table stays.
int install(Instance *in, Table *t, sy_error *err) {
    return syp::swap_and_republish(in->host, in->current, t, table_unref, err);
}

int collect(const Table &t, Route **out) {
    int n = 0;
    for (uint32_t i = 0; i < t.count; i++) out[n++] = t.routes[i];
    for (uint32_t i = 0; i < t.proxy_count; i++) out[n++] = t.proxies[i];
    return n;
}

bool valid_kind(uint32_t kind) { return kind == SY_ROUTE_STATIC || kind == SY_ROUTE_PROXY; }

int table_add(void *instance, uint32_t kind, const char *json, size_t len, sy_error *err) {
    if (!instance) return SY_EINVAL;
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    if (!json || !valid_kind(kind))
        return syp::fail(h, err, SY_EINVAL, "", "static_routes add: kind must be SY_ROUTE_STATIC or SY_ROUTE_PROXY and json non-NULL");
    if (h->version < 2 || !h->republish)
        return syp::fail(h, err, SY_EUNSUPPORTED, "", "this host cannot republish snapshots (host version %u)", h->version);
    sy_json *doc = nullptr;
    if (h->json_parse(h, json, len, &doc, err) != SY_OK) {
        if (err) err->code = SY_ECONFIG;
        return SY_ECONFIG;
    }
    std::lock_guard<std::mutex> g(in->mu);
    Route *r = nullptr;
    int rc = route_build(h, in->mem, in->opt, kind, doc, "route", in->next_seq++, in->flags, &r, err);
    h->json_free(h, doc);
    if (rc != SY_OK) return rc;
    Table *cur = in->current.load();
    size_t n = cur->count + cur->proxy_count;
    auto **rs = static_cast<Route **>(h->alloc(h, (n + 1) * sizeof(Route *), alignof(Route *)));
    if (!rs) {
        route_unref(h, r);
        return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    }
    collect(*cur, rs);
    if (find_pattern(rs, n, kind, r->pattern)) {
        rc = syp::fail(h, err, SY_ETAKEN, "route.pattern", "a %s route with pattern '%.200s' exists (kept)",
                     kind == SY_ROUTE_STATIC ? "static" : "proxy", r->pattern);
    } else {
        rs[n] = r;
        Table *t = nullptr;
        rc = table_build(h, in->mem, in->opt, rs, n + 1, &t, err);
        if (rc == SY_OK) rc = install(in, t, err);
    }
    route_unref(h, r);
    h->free(h, rs, (n + 1) * sizeof(Route *));
    return rc;
}

int table_remove(void *instance, uint32_t kind, const char *pattern, sy_error *err) {
    if (!instance) return SY_EINVAL;
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    if (!pattern || !valid_kind(kind))
        return syp::fail(h, err, SY_EINVAL, "", "static_routes remove: kind must be SY_ROUTE_STATIC or SY_ROUTE_PROXY and pattern non-NULL");
    if (h->version < 2 || !h->republish)
        return syp::fail(h, err, SY_EUNSUPPORTED, "", "this host cannot republish snapshots (host version %u)", h->version);
    std::lock_guard<std::mutex> g(in->mu);
    Table *cur = in->current.load();
    size_t n = cur->count + cur->proxy_count;
    auto **rs = static_cast<Route **>(h->alloc(h, (n ? n : 1) * sizeof(Route *), alignof(Route *)));
    if (!rs) return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    collect(*cur, rs);
    size_t k = 0;
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (!found && rs[i]->kind == kind && std::strcmp(rs[i]->pattern, pattern) == 0) {
            found = true;
            continue;
        }
        rs[k++] = rs[i];
    }
    int rc;
    if (!found) {
        rc = syp::fail(h, err, SY_EUNKNOWN, "", "no %s route with pattern '%.200s'",
                     kind == SY_ROUTE_STATIC ? "static" : "proxy", pattern);
    } else {
        Table *t = nullptr;
        rc = table_build(h, in->mem, in->opt, rs, k, &t, err);
        if (rc == SY_OK) rc = install(in, t, err);
    }
    h->free(h, rs, (n ? n : 1) * sizeof(Route *));
    return rc;
}

int visit_route(const Route &r, uint32_t position, sy_route_visit_fn visit, void *ud) {
    sy_route_info info = SY_STRUCT_INIT(sy_route_info);
    info.kind = r.kind;
    info.pattern = r.pattern;
    info.weight = r.weight;
    info.position = position;
    info.json = r.json;
    return visit(&info, ud);
}

int table_query(void *instance, const char *name, sy_route_visit_fn visit, void *ud, sy_error *err) {
    if (!instance) return SY_EINVAL;
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    if (!name || !visit) return syp::fail(h, err, SY_EINVAL, "", "static_routes query: name and visit are required");
    size_t len = std::strlen(name);
    Table *t = current_ref(in);
    pcre2_match_data *md = pcre2_match_data_create(1, in->mem.gctx);
    int rc = md ? SY_ENOROUTE : syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    for (int l = 0; l < 2 && md; l++) {
        uint32_t n = l ? t->proxy_count : t->count;
        for (uint32_t i = 0; i < n; i++) {
            const Route &r = l ? *t->proxies[i] : *t->routes[i];
            int m = route_match(*t, r, name, len, md);
            if (m < 0) {
                rc = match_error(h, err, m, r, name);
                l = 2;
                break;
            }
            if (m == 0) continue;
            rc = SY_OK;
            if (visit_route(r, i, visit, ud)) {
                l = 2;
                break;
            }
        }
    }
    if (md) pcre2_match_data_free(md);
    table_unref(t);
    if (rc == SY_ENOROUTE) syp::fail(h, err, SY_ENOROUTE, "", "no route matches '%.200s'", name);
    return rc;
}

int table_list(void *instance, sy_route_visit_fn visit, void *ud, sy_error *err) {
    if (!instance) return SY_EINVAL;
    Instance *in = inst_of(instance);
    if (!visit) return syp::fail(in->host, err, SY_EINVAL, "", "static_routes list: visit is required");
    Table *t = current_ref(in);
    bool stop = false;
    for (uint32_t i = 0; i < t->count && !stop; i++) stop = visit_route(*t->routes[i], i, visit, ud) != 0;
    for (uint32_t i = 0; i < t->proxy_count && !stop; i++) stop = visit_route(*t->proxies[i], i, visit, ud) != 0;
    table_unref(t);
    return SY_OK;
}

const sy_static_routes_table kTableIface = {
    sizeof(sy_static_routes_table), SY_STATIC_ROUTES_TABLE_VERSION, table_add, table_remove, table_query,
    table_list,
};

int sr_get_interface(void *, const char *name, uint32_t min_version, const void **iface) {
    return syp::offer_interface(name, min_version, iface, SY_STATIC_ROUTES_TABLE, SY_STATIC_ROUTES_TABLE_VERSION, &kTableIface);
}

static_assert(sizeof(Plan) <= 768, "the plan fits SY_PLAN_STORAGE_SIZE beside two translators");

const sy_plugin kPlugin = {
    SY_PLUGIN_ABI_VERSION,
    sizeof(sy_plugin),
    kPluginName,
    "Ergo-style static routes: PCRE2 patterns on node names, weights, TLS profiles, proxy routes, resolver fallback",
    SY_ROLE_SELECTOR | SY_ROLE_TRANSLATOR,
    sizeof(Instance),
    sizeof(Plan),
    0,
    sr_create,
    sr_destroy,
    sr_attach,
    sr_detach,
    sr_plan_init,
    sr_plan_next,
    sr_translate,
    nullptr,
    sr_get_interface,
    nullptr,
    nullptr,
    nullptr,
};

} // namespace
} // namespace sr

SY_PLUGIN_DEFINE(static_routes, sr::kPlugin)
