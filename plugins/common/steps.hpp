// plan_next for a selector that plans in two steps (plan_advance, then
// plan_fill): cores before 0.3 call only plan_next, so each such selector
// hands this out as its plan_next too.
#pragma once
#include <switchyard/plugin.h>

namespace syp {

template <int (*Advance)(void *, void *), void (*Fill)(void *, void *, sy_target *)>
int next_by_steps(void *instance, void *plan_state, sy_target *target) {
    int rc = Advance(instance, plan_state);
    if (rc <= 0) return rc;
    Fill(instance, plan_state, target);
    return 1;
}

} // namespace syp
