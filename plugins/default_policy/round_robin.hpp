// Modes "round_robin" and, until the token-aware policy lands, "default".
//
// attach() lists the snapshot's up nodes once, grouped in tiers; a plan holds
// a pointer to that list, a start offset taken from the instance's rotation
// counter and its position, and computes one target per plan_next():
// position p of tier [b, e) is node idx[b + (start + p - b) mod (e - b)].
//
//  round_robin: one tier, every up node in topology order. Down nodes are
//               never listed.
//  default (interim): with "preferred_datacenter", up nodes of that DC come
//               first (those of "preferred_rack" before the rest of the DC),
//               then, only if "permit_dc_failover", up nodes of other DCs.
//               Without a preferred DC it is round_robin. Token awareness,
//               shuffling and latency awareness are NOT implemented yet: the
//               config keys are validated and ignored, and create() says so
//               at INFO.
#pragma once

#include "default_policy/policy.hpp"

namespace syp::dp {

constexpr uint32_t kMaxTiers = 3;

struct RoundRobinState {
    StateHeader head;
    uint32_t node_count; // nodes in the topology
    uint32_t up_count;   // up nodes in the topology
    uint32_t dc_nodes;   // nodes in the preferred DC (any state)
    uint32_t count;      // nodes listed (all tiers)
    uint32_t tier_count;
    uint32_t tier_end[kMaxTiers];
    const uint32_t *idx() const { return reinterpret_cast<const uint32_t *>(this + 1); }
    uint32_t *idx() { return reinterpret_cast<uint32_t *>(this + 1); }
};

struct RoundRobinPlan {
    const RoundRobinState *state;
    uint64_t start;
    uint32_t pos;
};

inline int rr_attach(Policy *p, const sy_topology *t, void **out, sy_error *err) {
    const sy_host *h = p->host;
    uint32_t n = static_cast<uint32_t>(t->node_count);
    size_t size = sizeof(RoundRobinState) + (n ? n : 1) * sizeof(uint32_t);
    auto *st = static_cast<RoundRobinState *>(state_alloc(h, size, p->cfg.mode, t));
    if (!st) {
        h->set_error(err, SY_ENOMEM, "", "default_policy: out of memory for %u nodes", n);
        return SY_ENOMEM;
    }
    st->node_count = n;
    const char *dc = p->cfg.mode == Mode::standard ? p->cfg.preferred_dc.s : nullptr;
    const char *rack = dc ? p->cfg.preferred_rack.s : nullptr;
    // Tier k admits a node when tier_of(node) == k; -1 never.
    auto tier_of = [&](const sy_node *node) -> int {
        if (!dc) return 0;
        if (!str_eq(node->datacenter, dc)) return p->cfg.permit_dc_failover ? 2 : -1;
        return rack && !str_eq(node->rack, rack) ? 1 : 0;
    };
    for (uint32_t i = 0; i < n; i++) {
        const sy_node *node = SY_TOPOLOGY_NODE(t, i);
        if (node->up) st->up_count++;
        if (dc && str_eq(node->datacenter, dc)) st->dc_nodes++;
    }
    for (int tier = 0; tier < static_cast<int>(kMaxTiers); tier++) {
        uint32_t before = st->count;
        for (uint32_t i = 0; i < n; i++) {
            const sy_node *node = SY_TOPOLOGY_NODE(t, i);
            if (node->up && tier_of(node) == tier) st->idx()[st->count++] = i;
        }
        if (st->count != before) st->tier_end[st->tier_count++] = st->count;
    }
    if (dc && st->dc_nodes == 0 && n)
        h->log(h, SY_LOG_WARN, "preferred_datacenter '%s' has no node in topology epoch %llu", dc,
               static_cast<unsigned long long>(t->epoch));
    *out = st;
    return SY_OK;
}

inline int rr_plan_init(Policy *p, const RoundRobinState *st, void *plan_state, sy_error *err) {
    const sy_host *h = p->host;
    if (st->count == 0) {
        const char *dc = st->head.mode == Mode::standard ? p->cfg.preferred_dc.s : nullptr;
        if (st->node_count == 0)
            h->set_error(err, SY_ENOROUTE, "", "default_policy: the topology has no nodes");
        else if (st->up_count == 0)
            h->set_error(err, SY_ENOROUTE, "", "default_policy: none of the %u nodes is up",
                         st->node_count);
        else if (dc && st->dc_nodes == 0)
            h->set_error(err, SY_ENOROUTE, "",
                         "default_policy: preferred_datacenter '%s' has no node (%u nodes are up in other "
                         "datacenters and permit_dc_failover is false)",
                         dc, st->up_count);
        else if (dc)
            h->set_error(err, SY_ENOROUTE, "",
                         "default_policy: none of the %u nodes of preferred_datacenter '%s' is up (%u nodes "
                         "are up in other datacenters and permit_dc_failover is false)",
                         st->dc_nodes, dc, st->up_count);
        else
            h->set_error(err, SY_ENOROUTE, "", "default_policy: no node to plan");
        return SY_ENOROUTE;
    }
    auto *plan = static_cast<RoundRobinPlan *>(plan_state);
    plan->state = st;
    plan->start = p->rotation.fetch_add(1, std::memory_order_relaxed);
    plan->pos = 0;
    return SY_OK;
}

inline int rr_plan_next(RoundRobinPlan *plan, sy_target *target) {
    const RoundRobinState *st = plan->state;
    if (plan->pos >= st->count) return 0;
    uint32_t begin = 0;
    for (uint32_t k = 0; k < st->tier_count; k++) {
        uint32_t end = st->tier_end[k];
        if (plan->pos < end) {
            uint32_t size = end - begin;
            uint32_t at = begin + static_cast<uint32_t>((plan->start + (plan->pos - begin)) % size);
            fill_node_target(st->head.topology, st->idx()[at], target);
            plan->pos++;
            return 1;
        }
        begin = end;
    }
    return 0; // unreachable: tier_end[tier_count - 1] == count
}

} // namespace syp::dp
