// Plans: lazy, in caller storage, no allocation. The selector yields one
// target at a time; each translator rewrites it on the way out.
#include "plan/plan.hpp"
#include "router/readers.hpp"

#include <cstring>

#include "request/request.hpp"
#include "util/error.hpp"

namespace sy {
namespace {
PlanHeader *header(sy_plan *p) { return reinterpret_cast<PlanHeader *>(p); }

// A target is 272 bytes, mostly via[] and via_detail[], of which only the
// first via_count entries mean anything: via[] is not cleared.
static_assert(sizeof(sy_target) == 272, "a field added to sy_target must be set in fresh_target");
inline void fresh_target(sy_target *t, uint64_t epoch) {
    t->struct_size = sizeof *t;
    t->flags = 0;
    t->node = nullptr;
    t->host = nullptr;
    t->port = 0;
    t->shard = 0;
    t->weight = 0;
    t->datacenter = nullptr;
    t->rack = nullptr;
    t->url = nullptr;
    t->error = nullptr;
    t->via_count = 0;
    t->node_index = UINT32_MAX;
    t->epoch = epoch;
    t->cookie = nullptr;
    t->user_flags = 0;
    // A plugin built before via_detail appends to via[] only: its entries
    // must read NULL.
    for (auto &d : t->via_detail) d = nullptr;
    t->tls_profile = nullptr;
    t->flag_names = nullptr;
    t->flag_name_count = 0;
    t->log_level = 0;
    t->proxies = nullptr;
    t->proxy_count = 0;
}

// 272 bytes in 16-byte moves: memcpy of this size becomes `rep movsq`,
// whose start-up alone costs more than the copy. Unaligned moves: a
// target is only 8-byte aligned.
typedef uint64_t Chunk __attribute__((vector_size(16)));
static_assert(sizeof(sy_target) % sizeof(Chunk) == 0, "a target is whole chunks");
inline void copy_whole(void *dst, const void *src) {
    auto *d = static_cast<unsigned char *>(dst);
    const auto *s = static_cast<const unsigned char *>(src);
#pragma GCC unroll 17
    for (size_t i = 0; i < sizeof(sy_target); i += sizeof(Chunk)) {
        Chunk c;
        std::memcpy(&c, s + i, sizeof c);
        std::memcpy(d + i, &c, sizeof c);
    }
}

// The body of sy_plan_init, inlined there: a pick is a few hundred
// instructions, so a call layer and an out-of-line error reset show.
[[gnu::always_inline]] inline int start(Router *r, const sy_request *req, void *storage, size_t size,
                                        sy_plan **out, PlanSettings *settings, sy_error *err) {
    if (reinterpret_cast<uintptr_t>(storage) % alignof(uint64_t))
        return fail(err, SY_EINVAL, "", "plan storage must be 8-byte aligned");
    Snapshot *s = snapshot_acquire(r);
    const Generation *g = s->gen;
    if (settings) *settings = g->plan;
    if (size < g->plan_size) { // a reload may have grown it since the caller asked
        size_t need = g->plan_size; // read before the release: it may free g
        snapshot_release(s);
        return fail(err, SY_ETOOSMALL, "", "plan storage of %zu bytes is too small: this router needs %zu",
                    size, need);
    }
    auto *h = static_cast<PlanHeader *>(storage);
    h->magic = 0;
    h->done = 0;
    h->router = r;
    h->snap = s;
    h->req = &as_request(req)->view;
    const Instance &sel = *g->chain[0];
    void *state = static_cast<char *>(storage) + g->state_offset;
    if (err) clear_error(err);
    int rc = sel.vt.plan_init(sel.mem, s->states[0], &s->view, h->req, state, err);
    if (rc != SY_OK) {
        // The name is the plugin's (loaded until the router goes); the
        // instance holding it may go with the release, on a retired snapshot.
        const char *name = sel.vt.name;
        snapshot_release(s);
        return plugin_failed(err, rc, "", name, "plan_init");
    }
    h->magic = kPlanMagic;
    *out = reinterpret_cast<sy_plan *>(storage);
    return SY_OK;
}

// Every translator over the selector's target, in chain order.
[[gnu::always_inline]] inline void translate_all(PlanHeader *h, const Generation *g, Snapshot *s,
                                                 const sy_topology *topo, sy_target *t) {
    for (size_t i = 1; i < g->chain_len && !t->error; i++) {
        const Instance &tr = *g->chain[i];
        char *scratch = reinterpret_cast<char *>(h) + kPlanScratchOffset + (i - 1) * SY_TRANSLATE_SCRATCH;
        int rc = tr.vt.translate(tr.mem, s->states[i], topo, h->req, t, scratch, SY_TRANSLATE_SCRATCH);
        if (rc != SY_OK && !t->error) t->error = sy_status_str(rc);
    }
    if (t->error) {
        t->host = nullptr;
        t->port = 0;
    }
}

// An older caller's smaller struct: the target built on the stack, its
// prefix copied out, via entries past the count zeroed.
inline void copy_prefix(sy_target *target, sy_target *t, uint32_t want) {
    uint32_t n = t->via_count < SY_VIA_MAX ? t->via_count : SY_VIA_MAX;
    for (uint32_t i = n; i < SY_VIA_MAX; i++) t->via[i] = nullptr;
    std::memcpy(target, t, want);
    target->struct_size = want;
}

} // namespace

int plan_start(Router *r, const sy_request *req, void *storage, size_t size, sy_plan **out,
               PlanSettings *settings, sy_error *err) {
    return start(r, req, storage, size, out, settings, err);
}

} // namespace sy

using namespace sy;

extern "C" {

SY_API size_t sy_router_plan_size(const sy_router *router) {
    if (!valid_router(router)) return 0;
    return reinterpret_cast<const Router *>(router)->plan_size.load(std::memory_order_acquire);
}

SY_API int sy_plan_init(sy_router *router, const sy_request *req, void *storage, size_t size,
                        sy_plan **out, sy_error *err) {
    // valid_request, inline
    if (!valid_router(router) || !req || as_request(req)->magic != kRequestMagic || !storage || !out)
        return fail(err, SY_EINVAL, "", "sy_plan_init: router, request, storage and out are required");
    return start(reinterpret_cast<Router *>(router), req, storage, size, out, nullptr, err);
}

SY_API int sy_plan_next(sy_plan *plan, sy_target *target) {
    PlanHeader *h = header(plan);
    if (!h || h->magic != kPlanMagic || !target ||
        target->struct_size < offsetof(sy_target, port) + sizeof(uint32_t))
        return SY_EINVAL;
    if (h->done) return 0;
    Snapshot *s = h->snap;
    const Generation *g = s->gen;
    const sy_topology *topo = &s->view;
    const Instance &sel = *g->chain[0];
    void *state = reinterpret_cast<char *>(h) + g->state_offset;
    uint32_t want = target->struct_size;
    bool steps = sel.vt.plan_fill != nullptr;
    if (steps) {
        // A selector in two steps says whether there is a target before any
        // is touched: the end and errors leave the caller's as it was.
        int rc = sel.vt.plan_advance(sel.mem, state);
        if (rc <= 0) {
            h->done = 1;
            return rc;
        }
        if (want >= sizeof(sy_target)) {
            fresh_target(target, topo->epoch);
            sel.vt.plan_fill(sel.mem, state, target);
            translate_all(h, g, s, topo, target);
            target->struct_size = want;
            return 1;
        }
    } else if (want >= sizeof(sy_target)) {
        // plan_next fills the target in place; a copy of what the caller
        // had restores it at the end or on error. The copy is wide and reads
        // stores long retired; building the target aside and copying it out
        // field by field cost twice as much.
        alignas(16) unsigned char saved[sizeof(sy_target)];
        copy_whole(saved, target);
        fresh_target(target, topo->epoch);
        int rc = sel.vt.plan_next(sel.mem, state, target);
        if (rc <= 0) {
            copy_whole(target, saved);
            h->done = 1;
            return rc;
        }
        translate_all(h, g, s, topo, target);
        target->struct_size = want;
        return 1;
    }
    // An older caller's smaller struct: built on the stack, its prefix
    // copied out.
    sy_target t;
    fresh_target(&t, topo->epoch);
    if (steps) {
        sel.vt.plan_fill(sel.mem, state, &t);
    } else if (int rc = sel.vt.plan_next(sel.mem, state, &t); rc <= 0) {
        h->done = 1;
        return rc;
    }
    translate_all(h, g, s, topo, &t);
    copy_prefix(target, &t, want);
    return 1;
}

SY_API void sy_plan_release(sy_plan *plan) {
    PlanHeader *h = header(plan);
    if (!h || h->magic != kPlanMagic) return;
    h->magic = 0;
    snapshot_release(h->snap);
}
}
