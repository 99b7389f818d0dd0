// service_map: Casty's service discovery and contact-point failover as a
// selector (Casty's ClusterClient: lookup(ServiceKey) over the last
// topology snapshot, and the topology subscriber's contact points).
//
// A request {"service": "payment"} (optional "service_filter": {attribute:
// value}) plans that service's instances from the current topology's
// "services" registry: up ones first, the preferred datacenter first,
// rotated per request, demoted and down ones last. {"contact": true} plans
// where to (re)subscribe for topology: the endpoint that delivered the last
// one (the topology's "source"), the configured contact_points, then members
// learned from topologies, rotating one further per liveness window without
// an update. Where Casty falls short, on purpose: the rotation goes on after
// the first topology, learned members are really planned (and remembered,
// so losing every seed is survivable), and the topology's age is visible
// (sy_router_topology_age, "stale" in the contact plan's via).
//
// Outcomes (sy_router_report) demote an endpoint for a liveness window
// after a connection failure, and a success ends it; contact endpoints and
// service instances at the same address share that state.
//
//   {"contact_points": ["host:port", ...], "liveness_ms": 10000,
//    "preferred_datacenter": "dc1", "seed": 0}
#include <switchyard/plugin.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>

#include "address_map/hostport.hpp"
#include "common/fail.hpp"
#include "common/json_keys.hpp"
#include "common/json_path.hpp"
#include "common/steps.hpp"
#include "common/strings.hpp"
#include "service_map/plan.hpp"
#include "service_map/state.hpp"

namespace {

using namespace syp::svc;

constexpr double kMaxLivenessMs = 86400000; // a day
constexpr double kMaxSafeInt = 9007199254740991.0;

ServiceMap *map_of(void *p) { return static_cast<ServiceMap *>(p); }

void sm_destroy(void *instance) {
    ServiceMap *m = map_of(instance);
    for (uint32_t i = 0; i < m->point_count; i++) {
        syp::sfree(m->host, m->points[i].text);
        syp::sfree(m->host, m->points[i].host);
    }
    syp::sfree(m->host, m->preferred_dc);
    m->~ServiceMap();
}

bool is_int(double d) { return d == std::floor(d) && std::fabs(d) <= kMaxSafeInt; }

int read_points(ServiceMap *m, const sy_json *list, const char *path, sy_error *err) {
    const sy_host *h = m->host;
    char p[SY_ERROR_PATH_MAX];
    std::snprintf(p, sizeof p, "%.100s.contact_points", path);
    if (h->json_type(list) != SY_JSON_ARRAY || h->json_count(list) > kMaxContactPoints)
        return syp::fail(h, err, SY_ECONFIG, p, "expected an array of at most %u \"host:port\"", kMaxContactPoints);
    syp::Endpoint seen[kMaxContactPoints];
    uint32_t i = 0;
    for (const sy_json *v = h->json_first(list); v; v = h->json_next(v), i++) {
        std::snprintf(p, sizeof p, "%.100s.contact_points[%u]", path, i);
        const char *text = h->json_string(v);
        if (!text) return syp::fail(h, err, SY_ECONFIG, p, "expected a \"host:port\" string");
        if (const char *why = syp::parse_endpoint(text, &seen[i])) return syp::fail(h, err, SY_ECONFIG, p, "%s", why);
        for (uint32_t j = 0; j < i; j++)
            if (syp::compare_endpoints(seen[j], seen[i]) == 0)
                return syp::fail(h, err, SY_ECONFIG, p, "'%.100s' is contact_points[%u] again", text, j);
        char host[syp::kMaxHostName + 1];
        ContactPoint &cp = m->points[m->point_count];
        bool ok = syp::format_host(seen[i], host, sizeof host) && (cp.text = syp::dup(h, text)) != nullptr &&
                  (cp.host = syp::dup(h, host)) != nullptr;
        cp.port = seen[i].port;
        if (cp.text) m->point_count++; // freed by destroy even when half made
        if (!ok) return syp::fail(h, err, SY_ENOMEM, p, "out of memory");
    }
    return SY_OK;
}

int read_config(ServiceMap *m, const sy_json *cfg, const char *path, sy_error *err) {
    const sy_host *h = m->host;
    char p[SY_ERROR_PATH_MAX];
    if (h->json_type(cfg) == SY_JSON_MISSING || h->json_type(cfg) == SY_JSON_NULL) return SY_OK; // all defaults
    if (h->json_type(cfg) != SY_JSON_OBJECT) return syp::fail(h, err, SY_ECONFIG, path, "expected an object");
    static const char *const kKeys[] = {"contact_points", "liveness_ms", "preferred_datacenter", "seed", nullptr};
    const char *why = nullptr;
    if (const char *k = syp::bad_key(h, cfg, kKeys, &why)) {
        size_t n = static_cast<size_t>(std::snprintf(p, sizeof p, "%.100s", path));
        syp::path_append_key(p, sizeof p, &n, k);
        return syp::fail(h, err, SY_ECONFIG, p, "%s", why);
    }
    const sy_json *points = h->json_get(cfg, "contact_points");
    if (points) {
        if (int rc = read_points(m, points, path, err)) return rc;
    }
    const sy_json *live = h->json_get(cfg, "liveness_ms");
    if (live) {
        double d = h->json_number(live);
        std::snprintf(p, sizeof p, "%.100s.liveness_ms", path);
        if (h->json_type(live) != SY_JSON_NUMBER || !is_int(d) || d < 1 || d > kMaxLivenessMs)
            return syp::fail(h, err, SY_ECONFIG, p, "expected milliseconds, an integer in 1..%.0f", kMaxLivenessMs);
        m->liveness_ns = static_cast<uint64_t>(d) * 1000000u;
    }
    const sy_json *dc = h->json_get(cfg, "preferred_datacenter");
    if (dc) {
        std::snprintf(p, sizeof p, "%.100s.preferred_datacenter", path);
        const char *s = h->json_string(dc);
        if (!s || !*s) return syp::fail(h, err, SY_ECONFIG, p, "expected a datacenter name");
        if (!(m->preferred_dc = syp::dup(h, s))) return syp::fail(h, err, SY_ENOMEM, p, "out of memory");
    }
    const sy_json *seed = h->json_get(cfg, "seed");
    if (seed) {
        double d = h->json_number(seed);
        std::snprintf(p, sizeof p, "%.100s.seed", path);
        if (h->json_type(seed) != SY_JSON_NUMBER || !is_int(d))
            return syp::fail(h, err, SY_ECONFIG, p, "expected an integer");
        // Reproducible plans: the rotation starts at the seed.
        m->rotation.store(static_cast<uint64_t>(static_cast<int64_t>(d)));
    }
    return SY_OK;
}

int sm_create(void *instance, const sy_host *h, const sy_json *cfg, const char *path, sy_error *err) {
    ServiceMap *m = new (instance) ServiceMap();
    m->host = h;
    if (h->version < 2 || !h->json_first || !h->json_next) {
        m->~ServiceMap();
        return syp::fail(h, err, SY_EABI, path, "service_map needs host services version 2");
    }
    // Without a seed, many clients should not all start at the same instance.
    m->rotation.store(h->random_u64(h));
    int rc = read_config(m, cfg, path ? path : "", err);
    if (rc != SY_OK) sm_destroy(instance);
    return rc;
}

int sm_attach(void *instance, const sy_topology *topo, void **state, sy_error *err) {
    ServiceMap *m = map_of(instance);
    State *st = nullptr;
    if (int rc = build_state(m, topo, &st, err)) return rc;
    // The state before is now either published or already rolled back (a
    // publish that fails detaches within it): its own predecessor is no
    // longer needed, and may go away.
    if (m->latest) m->latest->prev = nullptr;
    m->latest = st;
    *state = st;
    return SY_OK;
}

void sm_detach(void *instance, void *state) {
    ServiceMap *m = map_of(instance);
    auto *st = static_cast<State *>(state);
    // Detached while still the latest: its publish failed (or the router is
    // going away), so the one before is current again.
    if (m->latest == st) m->latest = st->prev;
    free_state(m, st);
}

// A connection failure demotes the endpoint for a liveness window; a
// success ends that. The target is found by its host:port, or by its node
// when that is a host:port (a translator may have rewritten the address).
void sm_on_outcome(void *instance, const void *state, const sy_topology *, const sy_target *t, const sy_outcome *o) {
    const ServiceMap *m = map_of(instance);
    const auto *st = static_cast<const State *>(state);
    bool failed = o->kind == SY_OUTCOME_TIMEOUT || o->kind == SY_OUTCOME_REFUSED || o->kind == SY_OUTCOME_RESET ||
                  o->kind == SY_OUTCOME_TLS_ERROR || o->kind == SY_OUTCOME_RESOLVE_ERROR ||
                  o->kind == SY_OUTCOME_OVERLOADED;
    if (!st || (!failed && o->kind != SY_OUTCOME_SUCCESS)) return;
    const Endpoint *e = t->host ? find_endpoint(st, t->host, t->port) : nullptr;
    syp::Endpoint ep;
    char host[syp::kMaxHostName + 1];
    if (!e && t->node && !syp::parse_endpoint(t->node, &ep) && syp::format_host(ep, host, sizeof host))
        e = find_endpoint(st, host, ep.port);
    if (!e) return;
    if (failed) {
        e->failed.store(m->host->now_ns(m->host) + 1, std::memory_order_relaxed);
        st->failures.store(true, std::memory_order_relaxed);
    } else if (e->failed.load(std::memory_order_relaxed)) {
        e->failed.store(0, std::memory_order_relaxed);
    }
}

const sy_plugin kPlugin = {
    SY_PLUGIN_ABI_VERSION,
    sizeof(sy_plugin),
    kPluginName,
    "Casty-style service discovery from the topology's services, and contact-point failover",
    SY_ROLE_SELECTOR,
    sizeof(ServiceMap),
    sizeof(Plan),
    0,
    sm_create,
    sm_destroy,
    sm_attach,
    sm_detach,
    plan_init,
    syp::next_by_steps<plan_advance, plan_fill>,
    nullptr,
    sm_on_outcome,
    nullptr,
    plan_advance,
    plan_fill,
    nullptr,
};

} // namespace

SY_PLUGIN_DEFINE(service_map, kPlugin)
