// Mode "default": ScyllaDB's DefaultPolicy, lazily and without allocation.
//
// A plan walks fixed phases; each yields the nodes that belong to it, so a
// node is in exactly one phase and can never come twice:
//
//   replicas, alive:      local rack, local DC, other DCs     } fast ones first,
//   non-replicas, alive:  local rack, local DC, other DCs     } then penalised
//   down nodes:           local rack, local DC, other DCs       (last resort)
//
// "Other DCs" only when no datacenter is preferred (then every node is
// local) or permit_dc_failover is set. Replicas of a phase come in a random
// order (enable_shuffling; with it off, one fixed permutation, as the Rust
// driver does), or in ring order for LWT. Non-replica and down phases start
// at a random offset of their node list. The first target costs a binary
// search, a filter over the token's replicas and one random draw; nothing
// after it is computed until asked for.
//
// Latency awareness demotes, it never skips: a penalised replica comes after
// the fast replicas but before every non-replica, and LWT replicas keep their
// ring order whatever their latency.
#pragma once

#include "default_policy/node_stats.hpp"
#include "default_policy/policy.hpp"
#include "default_policy/ring.hpp"

namespace syp::dp {

enum Tier : uint8_t { kRack = 0, kDc = 1, kRemote = 2 };

struct DefaultState {
    StateHeader head;
    Places places;
    Ring ring;
    bool dc_preferred;        // a preferred datacenter is configured
    uint32_t local_dc;        // its id, UINT32_MAX when no node is in it
    const uint8_t *tier;      // per node: Tier
    const uint32_t *list[3];  // nodes of each tier, in topology order
    uint32_t list_len[3];
};

enum Phase : uint32_t {
    kReplicaFirst = 0, // 6 phases: pass (fast, penalised) x tier
    kOtherFirst = 6,   // 6 phases: the same for non-replicas
    kDownFirst = 12,   // 3 phases: tiers
    kEnd = 15
};

struct DefaultPlan {
    const Policy *p;
    const DefaultState *st;
    const uint32_t *reps;     // the token's replicas, ring order
    int64_t token;
    uint64_t rng;             // replica order
    uint64_t rot;             // non-replica rotation
    uint64_t now;             // for latency penalties
    uint32_t rep_count;
    uint32_t phase;
    uint32_t pos;             // within the phase
    uint32_t start;           // rotation offset of a list phase
    uint8_t lwt;
    uint8_t demote;           // latency awareness has a minimum to judge by
    uint8_t remote;           // other DCs are allowed
    uint8_t entered;          // the phase's buffer is built
    uint32_t buf_len;
    uint32_t buf[kMaxReplicas];
};

inline int dm_attach(Policy *p, const sy_topology *t, StateHeader **out, sy_error *err) {
    const sy_host *h = p->host;
    auto *st = reinterpret_cast<DefaultState *>(state_new(h, sizeof(DefaultState), Mode::standard, t));
    if (!st) {
        h->set_error(err, SY_ENOMEM, "", "default_policy: out of memory");
        return SY_ENOMEM;
    }
    StateHeader *head = &st->head;
    size_t n = t->node_count;
    auto *tier = state_array<uint8_t>(h, head, n);
    uint32_t *lists[3] = {state_array<uint32_t>(h, head, n), state_array<uint32_t>(h, head, n),
                          state_array<uint32_t>(h, head, n)};
    int rc = SY_ENOMEM;
    if (tier && lists[0] && lists[1] && lists[2] && build_places(h, head, &st->places))
        rc = build_ring(h, head, st->places, &st->ring);
    if (rc != SY_OK) {
        h->set_error(err, SY_ENOMEM, "", "default_policy: out of memory for a ring of %zu nodes", n);
        state_free(h, head);
        return rc;
    }
    const char *dc = p->cfg.preferred_dc.s, *rack = p->cfg.preferred_rack.s;
    st->dc_preferred = dc != nullptr;
    st->local_dc = dc ? find_dc(st->places, dc) : UINT32_MAX;
    if (dc && st->local_dc == UINT32_MAX && n) {
        char have[160] = "";
        size_t used = 0;
        for (uint32_t d = 0; d < st->places.dc_count && used + 1 < sizeof have; d++) {
            int w = std::snprintf(have + used, sizeof have - used, "%s'%s'", d ? ", " : "", st->places.dc_name[d]);
            if (w > 0) used += static_cast<size_t>(w);
        }
        if (!p->attached_once) { // the config and its first topology disagree: say so at load
            char path[SY_ERROR_PATH_MAX];
            std::snprintf(path, sizeof path, "%s%spreferred_datacenter", p->config_path.s ? p->config_path.s : "",
                          p->config_path.s && *p->config_path.s ? "." : "");
            h->set_error(err, SY_ECONFIG, path, "no node of the topology is in datacenter '%s' (it has %s)", dc, have);
            state_free(h, head);
            return SY_ECONFIG;
        }
        h->log(h, SY_LOG_WARN, "preferred_datacenter '%s' has no node in topology epoch %llu (it has %s)", dc,
               static_cast<unsigned long long>(t->epoch), have);
    }
    bool rack_seen = false;
    for (size_t i = 0; i < n; i++) {
        const sy_node *node = SY_TOPOLOGY_NODE(t, i);
        uint8_t k = kDc;
        if (dc && st->places.dc[i] != st->local_dc) k = kRemote;
        else if (dc && rack && str_eq(node->rack, rack)) k = kRack;
        rack_seen |= k == kRack;
        tier[i] = k;
        lists[k][st->list_len[k]++] = static_cast<uint32_t>(i);
    }
    if (rack && !rack_seen && st->local_dc != UINT32_MAX)
        h->log(h, SY_LOG_WARN, "preferred_rack '%s' has no node in datacenter '%s' (topology epoch %llu)", rack, dc,
               static_cast<unsigned long long>(t->epoch));
    st->tier = tier;
    for (int k = 0; k < 3; k++) st->list[k] = lists[k];
    h->log(h, SY_LOG_DEBUG, "epoch %llu: ring of %zu tokens, %u replica groups, %zu bytes",
           static_cast<unsigned long long>(t->epoch), st->ring.len, st->ring.group_count, st->ring.bytes);
    *out = head;
    return SY_OK;
}

inline bool is_lwt(const sy_request_view *q) {
    return ((q->fields & SY_REQ_LWT) && q->lwt) ||
           ((q->fields & SY_REQ_CONSISTENCY) &&
            (q->consistency == SY_CONSISTENCY_SERIAL || q->consistency == SY_CONSISTENCY_LOCAL_SERIAL));
}

inline int dm_plan_init(Policy *p, const DefaultState *st, const sy_request_view *q, void *plan_state,
                        sy_error *err) {
    const sy_host *h = p->host;
    bool remote = !st->dc_preferred || p->cfg.permit_dc_failover;
    uint32_t candidates = st->list_len[kRack] + st->list_len[kDc] + (remote ? st->list_len[kRemote] : 0);
    if (!candidates) {
        size_t n = st->head.topology->node_count;
        if (!n) h->set_error(err, SY_ENOROUTE, "", "default_policy: the topology has no nodes");
        else
            h->set_error(err, SY_ENOROUTE, "",
                         "default_policy: preferred_datacenter '%s' has no node (the %zu nodes are in other "
                         "datacenters and permit_dc_failover is false)",
                         p->cfg.preferred_dc.s, n);
        return SY_ENOROUTE;
    }
    auto *pl = static_cast<DefaultPlan *>(plan_state);
    pl->p = p;
    pl->st = st;
    pl->reps = nullptr;
    pl->rep_count = 0;
    pl->phase = kReplicaFirst;
    pl->pos = 0;
    pl->entered = 0;
    pl->remote = remote;
    pl->lwt = is_lwt(q);
    pl->token = q->token;
    if (p->cfg.token_aware && (q->fields & SY_REQ_TOKEN) && q->keyspace && st->ring.len) {
        int32_t g = keyspace_group(st->ring, q->keyspace);
        if (g >= 0) {
            const ReplicaGroup &grp = st->ring.groups[g];
            size_t at = ring_position(st->ring, q->token);
            pl->reps = grp.reps + at * grp.width;
            pl->rep_count = grp.counts[at];
        }
    }
    if (!pl->rep_count) pl->phase = kOtherFirst;
    // Randomness: a seeded sequence (reproducible), or the host's per-thread
    // generator (no shared counter between threads).
    uint64_t r = p->cfg.has_seed ? static_cast<uint64_t>(p->cfg.seed) + p->rotation.fetch_add(1, std::memory_order_relaxed) *
                                                                         0x9e3779b97f4a7c15ull
                                 : h->random_u64(h);
    pl->rot = r;
    // Shuffling off: every plan draws the same sequence, so a replica set
    // always comes in one fixed permutation (the seed's, or one chosen at
    // create).
    pl->rng = p->cfg.enable_shuffling ? r ^ 0x5851f42d4c957f2dull
                                      : static_cast<uint64_t>(p->cfg.seed) ^ 0x2545f4914f6cdd1dull;
    pl->demote = 0;
    if (p->cfg.latency.enabled) {
        pl->now = h->now_ns(h);
        maybe_update_min(p, &st->head, pl->now);
        pl->demote = from_bits(p->min_avg_bits.load(std::memory_order_relaxed)) < INFINITY;
    }
    return SY_OK;
}

inline bool dm_is_replica(const DefaultPlan *pl, uint32_t node) {
    for (uint32_t i = 0; i < pl->rep_count; i++)
        if (pl->reps[i] == node) return true;
    return false;
}

// Whether a phase's pass takes this node: the fast pass takes everything
// unless demoting; the penalised pass only exists when demoting.
inline bool dm_pass_takes(const DefaultPlan *pl, uint32_t pass, uint32_t node, bool keep_order) {
    if (!pl->demote || keep_order) return pass == 0;
    bool slow = penalised(pl->p, &pl->st->head, node, pl->now);
    return pass == 0 ? !slow : slow;
}

inline void dm_emit(const DefaultPlan *pl, uint32_t node, bool replica, sy_target *target) {
    const sy_topology *t = pl->st->head.topology;
    fill_node_target(t, node, target);
    if (!replica) return;
    target->flags |= SY_TARGET_REPLICA;
    uint32_t shards = SY_TOPOLOGY_NODE(t, node)->shards;
    if (shards) {
        target->shard = shard_of(pl->token, shards, pl->p->cfg.shard_ignore_msb);
        target->flags |= SY_TARGET_HAS_SHARD;
    }
}

inline int dm_plan_next(DefaultPlan *pl, sy_target *target) {
    const DefaultState *st = pl->st;
    const sy_topology *t = st->head.topology;
    while (pl->phase < kEnd) {
        uint32_t ph = pl->phase;
        uint32_t tier = ph < kDownFirst ? (ph % 3) : ph - kDownFirst;
        if (tier == kRemote && !pl->remote) {
            pl->phase++;
            pl->entered = 0;
            continue;
        }
        if (ph < kOtherFirst) { // replicas: filter into buf once, then draw
            uint32_t pass = ph / 3;
            if (!pl->entered) {
                pl->buf_len = 0;
                pl->pos = 0;
                for (uint32_t i = 0; i < pl->rep_count; i++) {
                    uint32_t node = pl->reps[i];
                    if (st->tier[node] != tier || !SY_TOPOLOGY_NODE(t, node)->up) continue;
                    if (dm_pass_takes(pl, pass, node, pl->lwt)) pl->buf[pl->buf_len++] = node;
                }
                pl->entered = 1;
            }
            if (pl->pos < pl->buf_len) {
                if (!pl->lwt) { // partial Fisher-Yates: one draw per target
                    uint32_t j = pl->pos + random_below(&pl->rng, pl->buf_len - pl->pos);
                    uint32_t x = pl->buf[j];
                    pl->buf[j] = pl->buf[pl->pos];
                    pl->buf[pl->pos] = x;
                }
                dm_emit(pl, pl->buf[pl->pos++], true, target);
                return 1;
            }
        } else { // a node list from a random offset
            uint32_t n = st->list_len[tier];
            const uint32_t *list = st->list[tier];
            bool down = ph >= kDownFirst;
            uint32_t pass = down ? 0 : (ph - kOtherFirst) / 3;
            if (!pl->entered) {
                pl->start = n ? random_below(&pl->rot, n) : 0;
                pl->pos = 0;
                pl->entered = 1;
            }
            while (pl->pos < n) {
                uint32_t at = pl->start + pl->pos++;
                uint32_t node = list[at < n ? at : at - n];
                bool up = SY_TOPOLOGY_NODE(t, node)->up;
                if (down) {
                    if (up) continue;
                } else if (!up || dm_is_replica(pl, node) || !dm_pass_takes(pl, pass, node, false)) {
                    continue;
                }
                dm_emit(pl, node, down && dm_is_replica(pl, node), target);
                return 1;
            }
        }
        pl->phase++;
        pl->entered = 0;
    }
    return 0;
}

} // namespace syp::dp
