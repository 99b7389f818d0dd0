// Mode "single_target": a plan of exactly one target.
//
// The target is, in this order: the topology node whose id equals "target";
// else, when "target" is host:port, the node with that address (so it keeps
// its id, datacenter and state); else a synthetic target with that host and
// port whose node is the "target" string itself. attach() resolves the node
// once per snapshot. A down node is still planned (flagged SY_TARGET_DOWN):
// the caller asked for it by name. Anything else is SY_ENOROUTE.
#pragma once

#include "default_policy/node_stats.hpp"
#include "default_policy/policy.hpp"

namespace syp::dp {

struct SingleTargetState {
    StateHeader head;
    uint32_t node_index; // kNoNode: not in this topology
};

struct SingleTargetPlan {
    const Policy *policy;
    const SingleTargetState *state;
    uint32_t done;
};

inline int st_attach(Policy *p, const sy_topology *t, StateHeader **out, sy_error *err) {
    const sy_host *h = p->host;
    auto *st = reinterpret_cast<SingleTargetState *>(
        state_new(h, sizeof(SingleTargetState), Mode::single_target, t));
    if (!st) {
        h->set_error(err, SY_ENOMEM, "", "default_policy: out of memory");
        return SY_ENOMEM;
    }
    st->node_index = kNoNode;
    for (size_t i = 0; i < t->node_count && st->node_index == kNoNode; i++)
        if (str_eq(SY_TOPOLOGY_NODE(t, i)->id, p->cfg.target.s)) st->node_index = static_cast<uint32_t>(i);
    for (size_t i = 0; i < t->node_count && st->node_index == kNoNode && p->target_is_endpoint; i++) {
        const sy_node *n = SY_TOPOLOGY_NODE(t, i);
        if (n->host && compare_endpoints(classify_host(n->host, n->port), p->target_ep) == 0)
            st->node_index = static_cast<uint32_t>(i);
    }
    *out = &st->head;
    return SY_OK;
}

inline int st_plan_init(const Policy *p, const SingleTargetState *st, void *plan_state, sy_error *err) {
    if (st->node_index == kNoNode && !p->target_is_endpoint) {
        p->host->set_error(err, SY_ENOROUTE, "",
                           "default_policy: single_target '%.200s' is not a node id of the topology "
                           "(%zu nodes) and not host:port",
                           p->cfg.target.s, st->head.topology->node_count);
        return SY_ENOROUTE;
    }
    auto *plan = static_cast<SingleTargetPlan *>(plan_state);
    plan->policy = p;
    plan->state = st;
    plan->done = 0;
    return SY_OK;
}

inline int st_plan_advance(SingleTargetPlan *plan) {
    if (plan->done) return 0;
    plan->done = 1;
    return 1;
}

inline void st_plan_fill(const SingleTargetPlan *plan, sy_target *target) {
    const SingleTargetState *st = plan->state;
    if (st->node_index != kNoNode) {
        fill_node_target(st->head.topology, st->node_index, target);
        return;
    }
    const Policy *p = plan->policy;
    target->node = p->cfg.target.s;
    target->host = p->target_host.s;
    target->port = p->target_ep.port;
    target->node_index = kNoNode;
    SY_TARGET_ADD_VIA(target, kPluginName);
}

} // namespace syp::dp
