// Mode "round_robin": every up node, each plan starting one node further.
//
// attach() lists the snapshot's up nodes once; a plan holds a pointer to
// that list and a start offset taken from the instance's rotation counter,
// and computes one target per plan_next(). Down nodes are never planned.
#pragma once

#include "default_policy/policy.hpp"

namespace syp::dp {

struct RoundRobinState {
    StateHeader head;
    uint32_t count;     // up nodes listed
    const uint32_t *up; // their indices, in topology order
};

struct RoundRobinPlan {
    const RoundRobinState *state;
    uint32_t start;
    uint32_t pos;
};

inline int rr_attach(Policy *p, const sy_topology *t, StateHeader **out, sy_error *err) {
    const sy_host *h = p->host;
    auto *st = reinterpret_cast<RoundRobinState *>(state_new(h, sizeof(RoundRobinState), Mode::round_robin, t));
    auto *up = st ? state_array<uint32_t>(h, &st->head, t->node_count) : nullptr;
    if (!up) {
        if (st) state_free(h, &st->head);
        h->set_error(err, SY_ENOMEM, "", "default_policy: out of memory for %zu nodes", t->node_count);
        return SY_ENOMEM;
    }
    for (size_t i = 0; i < t->node_count; i++)
        if (SY_TOPOLOGY_NODE(t, i)->up) up[st->count++] = static_cast<uint32_t>(i);
    st->up = up;
    *out = &st->head;
    return SY_OK;
}

inline int rr_plan_init(Policy *p, const RoundRobinState *st, void *plan_state, sy_error *err) {
    const sy_host *h = p->host;
    if (st->count == 0) {
        size_t n = st->head.topology->node_count;
        if (n == 0) h->set_error(err, SY_ENOROUTE, "", "default_policy: the topology has no nodes");
        else h->set_error(err, SY_ENOROUTE, "", "default_policy: none of the %zu nodes is up", n);
        return SY_ENOROUTE;
    }
    auto *plan = static_cast<RoundRobinPlan *>(plan_state);
    plan->state = st;
    // A locked add: plans from many threads still go round exactly (the
    // bindings' tests count it), which a plain load and store would not.
    plan->start = static_cast<uint32_t>(p->rotation.fetch_add(1, std::memory_order_relaxed) % st->count);
    plan->pos = 0;
    return SY_OK;
}

inline int rr_plan_advance(RoundRobinPlan *plan) {
    if (plan->pos >= plan->state->count) return 0;
    plan->pos++;
    return 1;
}

inline void rr_plan_fill(const RoundRobinPlan *plan, sy_target *target) {
    const RoundRobinState *st = plan->state;
    uint32_t at = plan->start + plan->pos - 1;
    fill_node_target(st->head.topology, st->up[at < st->count ? at : at - st->count], target);
}

} // namespace syp::dp
