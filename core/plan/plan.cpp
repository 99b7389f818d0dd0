// Plans: lazy, in caller storage, no allocation. The selector yields one
// target at a time; each translator rewrites it on the way out.
#include "plan/plan.hpp"

#include <cstring>

#include "request/request.hpp"
#include "util/error.hpp"

namespace sy {
namespace {
PlanHeader *header(sy_plan *p) { return reinterpret_cast<PlanHeader *>(p); }

constexpr sy_target make_fresh_target() {
    sy_target t{};
    t.struct_size = sizeof t;
    t.node_index = UINT32_MAX;
    return t;
}
constexpr sy_target kFreshTarget = make_fresh_target();

// Copies a whole target with 16-byte moves. A plain struct copy of this size
// compiles to `rep movs`/`rep stos`, whose start-up cost was half of a
// warm plan; the barrier keeps the loop from being turned back into one.
static_assert(sizeof(sy_target) % 16 == 0, "targets copy in 16-byte blocks");
inline void copy_target(sy_target *dst, const sy_target *src) {
    using Block = unsigned char __attribute__((vector_size(16)));
    auto *d = reinterpret_cast<unsigned char *>(dst);
    const auto *s = reinterpret_cast<const unsigned char *>(src);
    for (size_t i = 0; i < sizeof(sy_target); i += 16) {
        Block b; // targets are only 8-byte aligned: unaligned 16-byte moves
        __builtin_memcpy(&b, s + i, 16);
        __builtin_memcpy(d + i, &b, 16);
        __asm__("" ::: "memory");
    }
}
} // namespace
} // namespace sy

using namespace sy;

extern "C" {

SY_API size_t sy_router_plan_size(const sy_router *router) {
    if (!valid_router(router)) return 0;
    return reinterpret_cast<const Router *>(router)->plan_size;
}

SY_API int sy_plan_init(sy_router *router, const sy_request *req, void *storage, size_t size,
                        sy_plan **out, sy_error *err) {
    if (!valid_router(router) || !valid_request(req) || !storage || !out)
        return fail(err, SY_EINVAL, "", "sy_plan_init: router, request, storage and out are required");
    Router *r = reinterpret_cast<Router *>(router);
    if (reinterpret_cast<uintptr_t>(storage) % alignof(uint64_t))
        return fail(err, SY_EINVAL, "", "plan storage must be 8-byte aligned");
    if (size < r->plan_size)
        return fail(err, SY_ETOOSMALL, "", "plan storage of %zu bytes is too small: this router needs %zu",
                    size, r->plan_size);
    Snapshot *s = snapshot_acquire(r);
    auto *h = static_cast<PlanHeader *>(storage);
    h->magic = 0;
    h->done = 0;
    h->router = r;
    h->snap = s;
    h->req = &as_request(req)->view;
    const Instance &sel = r->chain[0];
    void *state = static_cast<char *>(storage) + r->state_offset;
    clear_error(err);
    int rc = sel.vt.plan_init(sel.mem, s->states[0], &s->view, h->req, state, err);
    if (rc != SY_OK) {
        snapshot_release(s);
        return plugin_failed(err, rc, "", sel.vt.name, "plan_init");
    }
    h->magic = kPlanMagic;
    *out = reinterpret_cast<sy_plan *>(storage);
    return SY_OK;
}

SY_API int sy_plan_next(sy_plan *plan, sy_target *target) {
    PlanHeader *h = header(plan);
    if (!h || h->magic != kPlanMagic || !target ||
        target->struct_size < offsetof(sy_target, port) + sizeof(uint32_t))
        return SY_EINVAL;
    if (h->done) return 0;
    Router *r = h->router;
    Snapshot *s = h->snap;
    const sy_topology *topo = &s->view;
    // Built on the stack and copied out: *target stays untouched at the end
    // of the plan or on error, and an older caller's smaller struct gets the
    // prefix it knows.
    sy_target t;
    copy_target(&t, &kFreshTarget);
    t.epoch = topo->epoch;
    const Instance &sel = r->chain[0];
    int rc = sel.vt.plan_next(sel.mem, reinterpret_cast<char *>(h) + r->state_offset, &t);
    if (rc <= 0) {
        h->done = 1;
        return rc;
    }
    for (size_t i = 1; i < r->chain_len && !t.error; i++) {
        const Instance &tr = r->chain[i];
        char *scratch = reinterpret_cast<char *>(h) + kPlanScratchOffset + (i - 1) * SY_TRANSLATE_SCRATCH;
        rc = tr.vt.translate(tr.mem, s->states[i], topo, h->req, &t, scratch, SY_TRANSLATE_SCRATCH);
        if (rc != SY_OK && !t.error) t.error = sy_status_str(rc);
    }
    if (t.error) {
        t.host = nullptr;
        t.port = 0;
    }
    uint32_t want = target->struct_size;
    if (want >= sizeof t) {
        copy_target(target, &t);
    } else {
        std::memcpy(target, &t, want);
    }
    target->struct_size = want;
    return 1;
}

SY_API void sy_plan_release(sy_plan *plan) {
    PlanHeader *h = header(plan);
    if (!h || h->magic != kPlanMagic) return;
    h->magic = 0;
    snapshot_release(h->snap);
}
}
