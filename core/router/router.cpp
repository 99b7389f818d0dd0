// Router lifetime, snapshot publication, outcomes and interface lookup.
#include "router/router.hpp"

#include <cstdarg>
#include <cstdio>
#include <thread>

#include "connect/connector.hpp"
#include "plan/plan.hpp"
#include "router/readers.hpp"
#include "resolve/resolver.hpp"
#include "util/error.hpp"

namespace sy {

namespace {

void snapshot_destroy(Snapshot *s) {
    Router *r = s->router;
    if (Generation *g = s->gen) {
        for (size_t i = g->chain_len; i-- > 0;) {
            const Instance &in = *g->chain[i];
            if (in.vt.detach && s->states[i]) in.vt.detach(in.mem, s->states[i]);
        }
        generation_unref(r, g);
    }
    topology_free(s->topo);
    r->alloc.destroy(s);
}

// Set while this thread holds update_mu: a plan released from inside a
// plugin hook the writer runs must not try to take it again.
thread_local bool tl_writing = false;

struct WriteLock {
    explicit WriteLock(Router *r) : g(r->update_mu) { tl_writing = true; }
    ~WriteLock() { tl_writing = false; }
    std::lock_guard<std::mutex> g;
};

// Frees the retired snapshots no plan uses any more (all of them when the
// router goes away). Writers only (update_mu held), so plugins' attach and
// detach never run concurrently. No plan can pin a retired snapshot anew, so
// once its slots sum to zero it stays unused.
void drain_retired(Router *r, bool all) {
    Snapshot **link = &r->retired;
    while (Snapshot *s = *link) {
        int64_t users = 0;
        for (const Stripe &k : s->refs) users += k.n.load(std::memory_order_acquire);
        if (users && !all) {
            link = &s->retired_next;
            continue;
        }
        *link = s->retired_next;
        snapshot_destroy(s);
    }
}

} // namespace

void snapshot_release_retired(Router *r) {
    if (tl_writing) return;
    // This may have been the last plan on an old snapshot (and its
    // generation's plugins): free it now unless a writer is at work (it
    // drains after publishing).
    std::unique_lock<std::mutex> l(r->update_mu, std::try_to_lock);
    if (!l) return;
    tl_writing = true;
    drain_retired(r, false);
    tl_writing = false;
}

void instance_unref(Router *r, Instance *in) {
    if (in->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (in->created) in->vt.destroy(in->mem);
    r->alloc.free(in->mem, in->mem_size);
    json_delete(r->alloc, in->config);
    r->alloc.destroy(in);
}

void generation_unref(Router *r, Generation *g) {
    if (!g || g->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    for (size_t i = g->chain_len; i-- > 0;) instance_unref(r, g->chain[i]);
    connect_settings_free(r->alloc, &g->connect);
    json_delete(r->alloc, g->topology_src);
    r->alloc.destroy(g);
}

namespace {

// update_mu held.
int publish_locked(Router *r, Snapshot *s, sy_error *err) {
    s->view = s->topo->view;
    s->view.epoch = r->epoch.load() + 1;
    const Generation *g = s->gen;
    for (size_t i = 0; i < g->chain_len; i++) {
        const Instance &in = *g->chain[i];
        if (!in.vt.attach) continue;
        clear_error(err);
        int rc = in.vt.attach(in.mem, &s->view, &s->states[i], err);
        if (rc != SY_OK) {
            s->states[i] = nullptr;
            rc = plugin_failed(err, rc, "topology", in.vt.name, "attach");
            snapshot_destroy(s);
            return rc;
        }
    }
    Snapshot *old = r->current.exchange(s);
    r->epoch.store(s->view.epoch);
    // A reader may have loaded `old` but not yet counted itself in.
    readers_wait(r);
    if (old) {
        old->retired.store(true, std::memory_order_release);
        old->retired_next = r->retired;
        r->retired = old;
    }
    drain_retired(r, false);
    plan_waits_wake(r); // what a waiting plan waits for may have come with it
    return SY_OK;
}

} // namespace

int router_publish(Router *r, Topology *t, sy_error *err) {
    Snapshot *s = r->alloc.make<Snapshot>();
    if (!s) {
        topology_free(t);
        return fail(err, SY_ENOMEM, "", "out of memory");
    }
    s->router = r;
    s->topo = t;
    WriteLock g(r);
    s->gen = r->gen;
    s->gen->refs.fetch_add(1, std::memory_order_relaxed);
    // The topology's age starts here; republish keeps it (same topology).
    t->view.published_ns = router_now(r);
    return publish_locked(r, s, err);
}

int router_republish(Router *r, sy_error *err) {
    Snapshot *s = r->alloc.make<Snapshot>();
    if (!s) return fail(err, SY_ENOMEM, "", "out of memory");
    s->router = r;
    WriteLock g(r);
    Snapshot *cur = r->current.load();
    if (!cur) {
        r->alloc.destroy(s);
        return SY_OK; // still configuring: the first publish attaches anyway
    }
    s->gen = r->gen;
    s->gen->refs.fetch_add(1, std::memory_order_relaxed);
    s->topo = topology_ref(cur->topo);
    return publish_locked(r, s, err);
}

int router_publish_generation(Router *r, Generation *gen, Topology *t, sy_error *err) {
    Snapshot *s = r->alloc.make<Snapshot>();
    if (!s) {
        topology_free(t);
        return fail(err, SY_ENOMEM, "", "out of memory");
    }
    s->router = r;
    WriteLock g(r);
    Snapshot *cur = r->current.load();
    if (t) {
        s->topo = t;
        t->view.published_ns = router_now(r);
    } else if (cur) {
        s->topo = topology_ref(cur->topo);
    } else {
        r->alloc.destroy(s);
        return fail(err, SY_EINTERNAL, "", "no topology to publish the configuration over");
    }
    s->gen = gen;
    gen->refs.fetch_add(1, std::memory_order_relaxed); // the snapshot's
    int rc = publish_locked(r, s, err);
    if (rc) return rc; // s is gone with its reference; the caller keeps its own
    Generation *old = r->gen;
    r->gen = gen; // the caller's reference, now the router's
    r->plan_size.store(gen->plan_size, std::memory_order_release);
    generation_unref(r, old);
    return SY_OK;
}

uint64_t router_now(const Router *r) { return r->clock_fn ? r->clock_fn(r->clock_data) : mono_ns(); }

void router_vlog(const Router *r, uint32_t level, const char *source, const char *fmt,
                 va_list ap) {
    if (!r->log_fn || level > r->log_level) return;
    char msg[512];
    std::vsnprintf(msg, sizeof msg, fmt, ap);
    r->log_fn(level, source ? source : "core", msg, r->log_data);
}

void router_log(const Router *r, uint32_t level, const char *source, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    router_vlog(r, level, source, fmt, ap);
    va_end(ap);
}

void router_destroy(Router *r) {
    // Connects in flight use the plugins: they end first.
    if (r->connector) connector_release_router(r->connector);
    r->connector = nullptr;
    if (Snapshot *s = r->current.exchange(nullptr)) {
        WriteLock g(r);
        s->retired_next = r->retired;
        r->retired = s;
        drain_retired(r, true); // plans must have ended: the router is going away
    }
    generation_unref(r, r->gen);
    r->gen = nullptr;
    plugin_unload_all(r);
    resolver_free(r->resolver);
    for (size_t i = 0; i < r->opt_plugin_path.size(); i++) r->alloc.strfree(r->opt_plugin_path[i]);
    r->alloc.strfree(r->opt_base_dir);
    if (r->log_destroy) r->log_destroy(r->log_data);
    r->magic = 0;
    Alloc a = r->alloc;
    a.destroy(r);
}

} // namespace sy

using namespace sy;

extern "C" {

SY_API void sy_router_free(sy_router *router) {
    if (!valid_router(router)) return;
    router_destroy(reinterpret_cast<Router *>(router));
}

SY_API int sy_router_update_topology(sy_router *router, const sy_topology_desc *topology,
                                     sy_error *err) {
    if (!valid_router(router) || !topology)
        return fail(err, SY_EINVAL, "", "sy_router_update_topology: router and topology are required");
    Router *r = reinterpret_cast<Router *>(router);
    Topology *t = nullptr;
    int rc = topology_from_desc(r->alloc, topology, &t, err);
    if (rc) return rc;
    return router_publish(r, t, err);
}

SY_API int sy_router_update_topology_json(sy_router *router, const char *json, size_t len,
                                          sy_error *err) {
    if (!valid_router(router) || !json)
        return fail(err, SY_EINVAL, "", "sy_router_update_topology_json: router and json are required");
    Router *r = reinterpret_cast<Router *>(router);
    cJSON *doc = nullptr;
    if (int rc = json_parse(r->alloc, json, len, SY_ETOPOLOGY, "", &doc, err)) return rc;
    Topology *t = nullptr;
    Path path;
    int rc = topology_from_json(r->alloc, doc, doc, path, SY_ETOPOLOGY, &t, err);
    if (rc) return rc;
    return router_publish(r, t, err);
}

SY_API uint64_t sy_router_epoch(const sy_router *router) {
    if (!valid_router(router)) return 0;
    return reinterpret_cast<const Router *>(router)->epoch.load();
}

SY_API int sy_router_topology_age(const sy_router *router, uint64_t *age_ns) {
    if (!valid_router(router) || !age_ns) return SY_EINVAL;
    // Pinning the snapshot only counts a reader in: the router is not changed.
    Router *r = const_cast<Router *>(reinterpret_cast<const Router *>(router));
    Snapshot *s = snapshot_acquire(r);
    uint64_t at = s->view.published_ns;
    snapshot_release(s);
    uint64_t now = router_now(r);
    *age_ns = now > at ? now - at : 0;
    return SY_OK;
}

SY_API int sy_router_report(sy_router *router, const sy_target *target,
                            const sy_outcome *outcome) {
    if (!valid_router(router) || !target || !outcome ||
        target->struct_size < offsetof(sy_target, port) + sizeof(uint32_t) ||
        outcome->struct_size < offsetof(sy_outcome, latency_ns) + sizeof(uint64_t) ||
        outcome->kind > SY_OUTCOME_OTHER_ERROR)
        return SY_EINVAL;
    Router *r = reinterpret_cast<Router *>(router);
    // Plugins read the full current layout: widen an older caller's struct.
    sy_target t{};
    std::memcpy(&t, target, target->struct_size < sizeof t ? target->struct_size : sizeof t);
    Snapshot *s = snapshot_acquire(r);
    const Generation *g = s->gen;
    for (size_t i = 0; i < g->chain_len; i++) {
        const Instance &in = *g->chain[i];
        if (in.vt.on_outcome) in.vt.on_outcome(in.mem, s->states[i], &s->view, &t, outcome);
    }
    snapshot_release(s);
    return SY_OK;
}

SY_API int sy_router_get_interface(sy_router *router, const char *plugin, const char *iface,
                                   uint32_t min_version, const void **iface_out,
                                   void **instance_out, sy_error *err) {
    if (!valid_router(router) || !plugin || !iface || !iface_out || !instance_out)
        return fail(err, SY_EINVAL, "", "sy_router_get_interface: every argument is required");
    Router *r = reinterpret_cast<Router *>(router);
    // The instance outlives this call as long as the current generation
    // keeps it (until a reload that changes this plugin or its config).
    Snapshot *s = snapshot_acquire(r);
    const Generation *g = s->gen;
    const Instance *in = nullptr;
    for (size_t i = 0; i < g->chain_len && !in; i++)
        if (std::strcmp(g->chain[i]->vt.name, plugin) == 0) in = g->chain[i];
    const void *p = nullptr;
    int rc = !in ? SY_EUNKNOWN : !in->vt.get_interface ? SY_EUNSUPPORTED
                                                        : in->vt.get_interface(in->mem, iface, min_version, &p);
    if (rc == SY_OK && p) {
        *iface_out = p;
        *instance_out = in->mem;
    }
    bool found = in != nullptr, has_interfaces = in && in->vt.get_interface; // the release may free in
    snapshot_release(s);
    if (rc == SY_OK && p) return SY_OK;
    if (!found) return fail(err, SY_EUNKNOWN, "", "no plugin '%.64s' in this router's chain", plugin);
    if (!has_interfaces)
        return fail(err, SY_EUNSUPPORTED, "", "plugin '%.64s' has no extension interfaces", plugin);
    return fail(err, rc > 0 ? SY_EINTERNAL : rc != SY_OK ? rc : SY_EUNSUPPORTED, "",
                "plugin '%.64s' has no interface '%.64s' of version >= %u", plugin, iface,
                min_version);
}
}
