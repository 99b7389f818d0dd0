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
// first via_count entries mean anything: via[] is not cleared. The rest is
// zeroed in two runs of wide stores (15 stores, not one per field), so each
// field must be zero when fresh, except those set after the runs.
static_assert(sizeof(sy_target) == 272, "a field added to sy_target must be fresh in fresh_target");
static_assert(offsetof(sy_target, node) == 8 && offsetof(sy_target, via) == 72 &&
                  offsetof(sy_target, via_count) == 136 && offsetof(sy_target, node_index) == 140 &&
                  offsetof(sy_target, epoch) == 144 && offsetof(sy_target, cookie) == 152,
              "fresh_target's runs: node..error, then cookie..the end");
typedef uint64_t Chunk __attribute__((vector_size(16)));
template <size_t From, size_t To> inline void zero_run(sy_target *t) {
    static_assert(From % 8 == 0 && To % 8 == 0, "whole words");
    auto *b = reinterpret_cast<unsigned char *>(t);
    const Chunk z = {0, 0};
    size_t i = From;
#pragma GCC unroll 8
    for (; i + sizeof(Chunk) <= To; i += sizeof(Chunk)) std::memcpy(b + i, &z, sizeof z);
    if (i < To) std::memset(b + i, 0, 8);
}
inline void fresh_target(sy_target *t, uint64_t epoch) {
    t->struct_size = sizeof *t;
    t->flags = 0;
    zero_run<offsetof(sy_target, node), offsetof(sy_target, via)>(t);
    t->via_count = 0;
    t->node_index = UINT32_MAX;
    t->epoch = epoch;
    // Via_detail included: a plugin built before it appends to via[] only,
    // and its entries must read NULL.
    zero_run<offsetof(sy_target, cookie), sizeof(sy_target)>(t);
}

// 272 bytes in 16-byte moves: memcpy of this size becomes `rep movsq`,
// whose start-up alone costs more than the copy. Unaligned moves: a
// target is only 8-byte aligned.
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

// sy_plan_init's failures, out of line: its fast path keeps fewer values
// alive across the selector's call.
[[gnu::noinline, gnu::cold]] int storage_too_small(Snapshot *s, size_t size, sy_error *err) {
    size_t need = s->gen->plan_size; // read before the release: it may free the generation
    snapshot_release(s);
    return fail(err, SY_ETOOSMALL, "", "plan storage of %zu bytes is too small: this router needs %zu", size,
                need);
}

[[gnu::noinline, gnu::cold]] int plan_init_failed(PlanHeader *h, int rc, sy_error *err) {
    Snapshot *s = h->snap;
    // The name is the plugin's (loaded until the router goes); the instance
    // holding it may go with the release, on a retired snapshot.
    const char *name = s->gen->chain[0]->vt.name;
    snapshot_release(s);
    return plugin_failed(err, rc, "", name, "plan_init");
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
    // A reload may have grown it since the caller asked.
    if (__builtin_expect(size < g->plan_size, 0)) return storage_too_small(s, size, err);
    auto *h = static_cast<PlanHeader *>(storage);
    h->magic = 0;
    h->done = 0;
    h->router = r;
    h->snap = s;
    h->req = &as_request(req)->view;
    const Instance &sel = *g->chain[0];
    void *state = static_cast<char *>(storage) + g->state_offset;
    h->sel = sel.mem;
    h->state = state;
    h->advance = sel.vt.plan_advance;
    h->fill = sel.vt.plan_fill;
    h->translators = static_cast<uint32_t>(g->chain_len - 1);
    if (err) clear_error(err);
    int rc = sel.vt.plan_init(sel.mem, s->states[0], &s->view, h->req, state, err);
    if (__builtin_expect(rc != SY_OK, 0)) return plan_init_failed(h, rc, err);
    h->magic = kPlanMagic;
    *out = reinterpret_cast<sy_plan *>(storage);
    return SY_OK;
}

// Every translator over the selector's target, in chain order. Out of
// line: a plan without translators keeps sy_plan_next's fast path small.
[[gnu::noinline]] void translate_all(PlanHeader *h, sy_target *t) {
    Snapshot *s = h->snap;
    const Generation *g = s->gen;
    for (size_t i = 1; i < g->chain_len && !t->error; i++) {
        const Instance &tr = *g->chain[i];
        char *scratch = reinterpret_cast<char *>(h) + kPlanScratchOffset + (i - 1) * SY_TRANSLATE_SCRATCH;
        int rc = tr.vt.translate(tr.mem, s->states[i], &s->view, h->req, t, scratch, SY_TRANSLATE_SCRATCH);
        if (rc != SY_OK && !t->error) t->error = sy_status_str(rc);
    }
    if (t->error) {
        t->host = nullptr;
        t->port = 0;
    }
}

// A one-step selector's plan_next.
inline int h_next(PlanHeader *h, sy_target *t) {
    const Instance &sel = *h->snap->gen->chain[0];
    return sel.vt.plan_next(h->sel, h->state, t);
}

// An older caller's smaller struct: the target built on the stack, its
// prefix copied out, via entries past the count zeroed.
inline void copy_prefix(sy_target *target, sy_target *t, uint32_t want) {
    uint32_t n = t->via_count < SY_VIA_MAX ? t->via_count : SY_VIA_MAX;
    for (uint32_t i = n; i < SY_VIA_MAX; i++) t->via[i] = nullptr;
    std::memcpy(target, t, want);
    target->struct_size = want;
}

// sy_plan_next off its fast path: a finished plan, a selector in one step
// (plan_next), an older caller's smaller struct.
[[gnu::noinline]] int next_other(PlanHeader *h, sy_target *target) {
    uint32_t want = target->struct_size;
    if (want < offsetof(sy_target, port) + sizeof(uint32_t)) return SY_EINVAL;
    if (h->done) return 0;
    uint64_t epoch = h->snap->view.epoch;
    if (!h->fill && want >= sizeof(sy_target)) {
        // plan_next fills the target in place; a copy of what the caller
        // had restores it at the end or on error. The copy is wide and reads
        // stores long retired; building the target aside and copying it out
        // field by field cost twice as much.
        alignas(16) unsigned char saved[sizeof(sy_target)];
        copy_whole(saved, target);
        fresh_target(target, epoch);
        int rc = h_next(h, target);
        if (rc <= 0) {
            copy_whole(target, saved);
            h->done = 1;
            return rc;
        }
        if (h->translators) translate_all(h, target);
        target->struct_size = want;
        return 1;
    }
    // An older caller's smaller struct: built on the stack, its prefix
    // copied out.
    sy_target t;
    fresh_target(&t, epoch);
    if (h->fill) {
        int rc = h->advance(h->sel, h->state);
        if (rc <= 0) {
            h->done = 1;
            return rc;
        }
        h->fill(h->sel, h->state, &t);
    } else if (int rc = h_next(h, &t); rc <= 0) {
        h->done = 1;
        return rc;
    }
    if (h->translators) translate_all(h, &t);
    copy_prefix(target, &t, want);
    return 1;
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
    if (!h || h->magic != kPlanMagic || !target) return SY_EINVAL;
    uint32_t want = target->struct_size;
    if (__builtin_expect(!h->fill || want < sizeof(sy_target) || h->done, 0)) return next_other(h, target);
    // A selector in two steps says whether there is a target before any is
    // touched: the end and errors leave the caller's as it was.
    int rc = h->advance(h->sel, h->state);
    if (rc <= 0) {
        h->done = 1;
        return rc;
    }
    fresh_target(target, h->snap->view.epoch);
    h->fill(h->sel, h->state, target);
    if (h->translators) translate_all(h, target);
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
