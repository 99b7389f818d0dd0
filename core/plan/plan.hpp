// The layout of a plan inside caller storage.
#pragma once
#include "router/router.hpp"

namespace sy {

struct PlanHeader {
    uint32_t magic;
    uint32_t done;
    Router *router;
    Snapshot *snap;
    const sy_request_view *req;
    // What every sy_plan_next needs, copied out of the generation at init:
    // one line read instead of a chain of dependent loads
    // (snapshot -> generation -> instance -> vtable).
    void *sel;                                  // the selector instance
    void *state;                                // its plan state, in this storage
    int (*advance)(void *, void *);             // set with fill: a two-step selector
    void (*fill)(void *, void *, sy_target *);  // NULL: plan_next (one step)
    uint32_t translators;                       // chain length - 1
};

// Storage: header | SY_TRANSLATE_SCRATCH per translator | selector state.
constexpr size_t kPlanScratchOffset = (sizeof(PlanHeader) + 15) / 16 * 16;
inline size_t plan_state_offset(size_t translators) {
    return kPlanScratchOffset + (translators * SY_TRANSLATE_SCRATCH + 15) / 16 * 16;
}

// What sy_plan_init does; settings (may be NULL) gets the generation's plan
// settings, for plans that wait (plan/wait.cpp).
int plan_start(Router *r, const sy_request *req, void *storage, size_t size, sy_plan **out,
               PlanSettings *settings, sy_error *err);

// sy_plan_init_async, waiting at most max_wait_ms (0: plan.wait_timeout_ms
// alone); `bound` names what set the tighter limit in the timeout's message.
int plan_start_waiting(Router *r, const sy_request *req, void *storage, size_t size, sy_plan **out,
                       sy_plan_cb cb, void *data, uint32_t max_wait_ms, const char *bound, sy_error *err);

// After every publish: waiting plans try again (a no-op when none wait).
void plan_waits_wake(Router *r);

} // namespace sy
