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

// Per node, in one byte so plans touch no node struct to classify: its tier
// and whether it is up.
constexpr uint8_t kTierMask = 3, kUp = 4;

struct DefaultState {
    StateHeader head;
    Places places;
    Ring ring;
    uint32_t local_dc;         // its id, UINT32_MAX when no node is in it
    const uint8_t *node_bits;  // per node: tier | kUp
    const uint32_t *alive[3];  // up nodes of each tier, in topology order
    uint32_t alive_len[3];
    const uint32_t *down[3];   // down nodes of each tier
    uint32_t down_len[3];
    // Per replica group, per ring position: each replica's phase without
    // latency demotion (keys, width bytes a position, 0xff: down or a DC
    // not allowed) and the replica phases they fill (live, a bit each).
    // Node states are fixed for a snapshot, so a plan without demotion
    // reads them instead of classifying its replicas.
    const uint8_t *const *keys;
    const uint8_t *const *live;
    // Per replica group, per ring position (at most 8 replicas): which
    // replicas are in its first live phase, a bit each. A byte a position
    // stays in L1 where the keys do not, so a pick draws its first target
    // without waiting for them.
    const uint8_t *const *lead;
    bool remote;               // other DCs may be planned (no preferred DC, or failover)
    bool token_aware;          // token_aware is on and the ring has tokens
    uint32_t planned;          // nodes a plan can yield at all
    uint32_t list_phases[2];   // list phases with nodes: [0] without, [1] with latency demotion
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
    uint32_t start;           // rotation offset of a list phase; a replica phase's first draw
    uint32_t live;            // phases that may yield something (bit per phase)
    uint8_t lwt;
    uint8_t demote;           // latency awareness has a minimum to judge by
    uint8_t keyed;            // the replicas' phases are known: pre, or else rkey
    uint8_t remote;           // other DCs are allowed
    uint8_t entered;          // the phase's buffer is built (2: only its first draw, see lazy)
    uint8_t ready;            // plan_init drew the first target: plan_advance only reports it
    uint32_t buf_len;
    uint32_t cur;               // the target plan_advance moved to, for plan_fill
    uint32_t cur_replica;
    uint64_t rep_filter;        // bit (node % 64) of each replica, once list phases begin
    const uint8_t *pre;         // the snapshot's keys for this position, or NULL: rkey
    uint64_t lazy;              // a replica phase's matches (dm_match) until its list is built
    uint32_t buf[kMaxReplicas];
    uint8_t rkey[kMaxReplicas]; // each replica's phase, 0xff: down
};

// Fills st->keys and st->live (see DefaultState). false: out of memory.
inline bool dm_key_groups(const sy_host *h, DefaultState *st) {
    const Ring &ring = st->ring;
    if (!ring.group_count) return true;
    auto *keys = state_array<const uint8_t *>(h, &st->head, ring.group_count);
    auto *live = state_array<const uint8_t *>(h, &st->head, ring.group_count);
    auto *lead = state_array<const uint8_t *>(h, &st->head, ring.group_count);
    if (!keys || !live || !lead) return false;
    for (uint32_t g = 0; g < ring.group_count; g++) {
        const ReplicaGroup &grp = ring.groups[g];
        // + 8: plans read the keys in whole words (dm_select)
        auto *k = state_array<uint8_t>(h, &st->head, ring.len * grp.width + 8);
        auto *m = state_array<uint8_t>(h, &st->head, ring.len);
        auto *first = state_array<uint8_t>(h, &st->head, ring.len);
        if (!k || !m || !first) return false;
        for (size_t at = 0; at < ring.len; at++) {
            const uint32_t *reps = grp.reps + at * grp.width;
            uint8_t mask = 0;
            for (uint32_t i = 0; i < grp.counts[at]; i++) {
                uint8_t b = st->node_bits[reps[i]];
                uint8_t key = 0xff;
                if ((b & kUp) && ((b & kTierMask) != kRemote || st->remote)) {
                    key = b & kTierMask;
                    mask = static_cast<uint8_t>(mask | (1u << key));
                }
                k[at * grp.width + i] = key;
            }
            m[at] = mask;
            uint8_t bits = 0;
            for (uint32_t i = 0; mask && i < grp.counts[at] && i < 8; i++)
                if (k[at * grp.width + i] == __builtin_ctz(mask)) bits = static_cast<uint8_t>(bits | (1u << i));
            first[at] = bits;
        }
        keys[g] = k;
        live[g] = m;
        lead[g] = first;
        st->ring.bytes += ring.len * (grp.width + 2);
    }
    st->keys = keys;
    st->live = live;
    st->lead = lead;
    return true;
}

inline int dm_attach(Policy *p, const sy_topology *t, StateHeader **out, sy_error *err) {
    const sy_host *h = p->host;
    auto *st = reinterpret_cast<DefaultState *>(state_new(h, sizeof(DefaultState), Mode::standard, t));
    if (!st) {
        h->set_error(err, SY_ENOMEM, "", "default_policy: out of memory");
        return SY_ENOMEM;
    }
    StateHeader *head = &st->head;
    size_t n = t->node_count;
    auto *bits = state_array<uint8_t>(h, head, n);
    uint32_t *alive = state_array<uint32_t>(h, head, n), *down = state_array<uint32_t>(h, head, n);
    int rc = SY_ENOMEM;
    if (bits && alive && down && build_places(h, head, &st->places))
        rc = build_ring(h, head, st->places, &st->ring);
    if (rc != SY_OK) {
        h->set_error(err, SY_ENOMEM, "", "default_policy: out of memory for a ring of %zu nodes", n);
        state_free(h, head);
        return rc;
    }
    const char *dc = p->cfg.preferred_dc.s, *rack = p->cfg.preferred_rack.s;
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
    uint32_t count[2][3] = {};
    for (size_t i = 0; i < n; i++) {
        const sy_node *node = SY_TOPOLOGY_NODE(t, i);
        uint8_t k = kDc;
        if (dc && st->places.dc[i] != st->local_dc) k = kRemote;
        else if (dc && rack && str_eq(node->rack, rack)) k = kRack;
        rack_seen |= k == kRack;
        bits[i] = static_cast<uint8_t>(k | (node->up ? kUp : 0));
        count[node->up ? 0 : 1][k]++;
    }
    // Each tier's nodes are contiguous in `alive` / `down`, in topology order.
    uint32_t at[2][3] = {{0, count[0][0], count[0][0] + count[0][1]}, {0, count[1][0], count[1][0] + count[1][1]}};
    for (int k = 0; k < 3; k++) {
        st->alive[k] = alive + at[0][k];
        st->down[k] = down + at[1][k];
        st->alive_len[k] = count[0][k];
        st->down_len[k] = count[1][k];
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t k = bits[i] & kTierMask, up = (bits[i] & kUp) ? 0 : 1;
        (up == 0 ? alive : down)[at[up][k]++] = static_cast<uint32_t>(i);
    }
    if (rack && !rack_seen && st->local_dc != UINT32_MAX)
        h->log(h, SY_LOG_WARN, "preferred_rack '%s' has no node in datacenter '%s' (topology epoch %llu)", rack, dc,
               static_cast<unsigned long long>(t->epoch));
    st->node_bits = bits;
    // What every plan of this snapshot needs to know up front.
    st->remote = !dc || p->cfg.permit_dc_failover;
    st->token_aware = p->cfg.token_aware && st->ring.len;
    for (uint32_t k = 0; k < (st->remote ? 3u : 2u); k++) {
        st->planned += st->alive_len[k] + st->down_len[k];
        if (st->alive_len[k]) {
            st->list_phases[0] |= 1u << (kOtherFirst + k);
            st->list_phases[1] |= (1u << (kOtherFirst + k)) | (1u << (kOtherFirst + 3 + k));
        }
        if (st->down_len[k]) {
            st->list_phases[0] |= 1u << (kDownFirst + k);
            st->list_phases[1] |= 1u << (kDownFirst + k);
        }
    }
    if (!dm_key_groups(h, st)) {
        h->set_error(err, SY_ENOMEM, "", "default_policy: out of memory for a ring of %zu nodes", n);
        state_free(h, head);
        return SY_ENOMEM;
    }
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

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "dm_select reads key i from byte i of a word");
static_assert(kMaxReplicas % 8 == 0, "rkey is read in whole words");

// Of the (up to) eight keys at keys[0..n), those equal to ph: 0x80 in
// their bytes. A bit per match, so filtering takes no branch per replica
// (which ones match changes from token to token, and mispredicted). keys
// must be readable in a whole word.
inline uint64_t dm_match(const uint8_t *keys, uint32_t n, uint32_t ph) {
    constexpr uint64_t ones = ~uint64_t{0} / 255, low7 = ones * 0x7f;
    uint64_t w;
    std::memcpy(&w, keys, sizeof w);
    uint64_t x = w ^ (ones * ph);
    uint64_t eq = ~(((x & low7) + low7) | x | low7);
    return n < 8 ? eq & ((uint64_t{1} << (8 * n)) - 1) : eq;
}

// A bit per replica (DefaultState::lead) in dm_match's form: 0x80 in byte
// i for bit i. Each byte keeps its own bit of the byte-wise copies, and
// adding 0x7f carries any of them into the byte's top bit.
inline uint64_t dm_spread(uint8_t bits) {
    constexpr uint64_t ones = ~uint64_t{0} / 255, low7 = ones * 0x7f;
    return (((bits * ones) & 0x8040201008040201ull) + low7) & ~low7;
}

// The replicas whose key is ph, in ring order, into buf.
inline uint32_t dm_select(const uint8_t *keys, const uint32_t *reps, uint32_t n, uint32_t ph, uint32_t *buf) {
    uint32_t len = 0;
    for (uint32_t base = 0; base < n; base += 8)
        for (uint64_t eq = dm_match(keys + base, n - base, ph); eq; eq &= eq - 1)
            buf[len++] = reps[base + (__builtin_ctzll(eq) >> 3)];
    return len;
}

inline bool dm_is_replica(const DefaultPlan *pl, uint32_t node) {
    // Most nodes of a list phase are not replicas: one bit test says so.
    if (!((pl->rep_filter >> (node & 63)) & 1)) return false;
    for (uint32_t i = 0; i < pl->rep_count; i++)
        if (pl->reps[i] == node) return true;
    return false;
}

// Whether latency awareness puts the node in the penalised pass.
inline bool dm_slow(const DefaultPlan *pl, uint32_t node) {
    return pl->demote && penalised(pl->p, &pl->st->head, node, pl->now);
}

inline void dm_emit(const DefaultPlan *pl, uint32_t node, bool replica, sy_target *target) {
    const sy_topology *t = pl->st->head.topology;
    uint32_t flags = 0;
    if (replica) {
        flags = SY_TARGET_REPLICA;
        if (uint32_t shards = SY_TOPOLOGY_NODE(t, node)->shards) {
            target->shard = shard_of(pl->token, shards, pl->p->cfg.shard_ignore_msb);
            flags |= SY_TARGET_HAS_SHARD;
        }
    }
    fill_node_target(t, node, target, flags);
}

// Each replica's phase (pass * 3 + tier), once per plan; LWT replicas are
// never demoted, so their ring order holds.
inline void dm_key_replicas(DefaultPlan *pl) {
    const DefaultState *st = pl->st;
    uint32_t live = pl->live & ~0x3fu;
    for (uint32_t i = 0; i < pl->rep_count; i++) {
        uint8_t b = st->node_bits[pl->reps[i]];
        uint8_t key = 0xff; // down (planned with the down nodes), or a DC not allowed
        if ((b & kUp) && ((b & kTierMask) != kRemote || pl->remote)) {
            key = static_cast<uint8_t>((b & kTierMask) + (!pl->lwt && dm_slow(pl, pl->reps[i]) ? 3 : 0));
            live |= 1u << key;
        }
        pl->rkey[i] = key;
    }
    pl->live = live;
    pl->keyed = 1;
}

inline int dm_yield(DefaultPlan *pl, uint32_t node, bool replica) {
    pl->cur = node;
    pl->cur_replica = replica;
    return 1;
}

// A replica phase's first target without building its list (at most 8
// replicas, eq their matches in dm_match's form): most plans stop at their
// first target. A second one builds the list, with this first draw applied
// (entered == 2). The draw comes from fresh with use_fresh, else from the
// plan's sequence. false: no replica of the phase.
inline bool dm_draw_first(DefaultPlan *pl, uint64_t eq, bool use_fresh, uint64_t fresh) {
    if (!eq) return false;
    // One multiply sums the match bytes into prefix counts: byte i of cum
    // is the number of matches in bytes 0..i, its top byte the total
    // (baseline x86-64 has no popcnt). The j-th match is the first byte
    // whose count passes j: found without a loop of j steps, which
    // mispredicted on most picks (j is random). Counts are <= 8: no borrow
    // between bytes.
    constexpr uint64_t ones = ~uint64_t{0} / 255, high = ones << 7;
    uint64_t cum = (eq >> 7) * ones;
    auto count = static_cast<uint32_t>(cum >> 56);
    uint32_t j = pl->lwt    ? 0
                 : use_fresh ? static_cast<uint32_t>((static_cast<u128>(fresh) * count) >> 64)
                         : random_below(&pl->rng, count);
    uint64_t past = ((cum | high) - (j + 1) * ones) & high;
    pl->lazy = eq;
    pl->start = j;
    pl->buf_len = count;
    pl->pos = 1;
    pl->entered = 2;
    dm_yield(pl, pl->reps[__builtin_ctzll(past) >> 3], true);
    return true;
}

// Why a plan of this snapshot has no node at all.
[[gnu::noinline, gnu::cold]] inline int dm_nothing_planned(const Policy *p, const DefaultState *st, sy_error *err) {
    const sy_host *h = p->host;
    size_t n = st->head.topology->node_count;
    if (!n) h->set_error(err, SY_ENOROUTE, "", "default_policy: the topology has no nodes");
    else
        h->set_error(err, SY_ENOROUTE, "",
                     "default_policy: preferred_datacenter '%s' has no node (the %zu nodes are in other "
                     "datacenters and permit_dc_failover is false)",
                     p->cfg.preferred_dc.s, n);
    return SY_ENOROUTE;
}

inline int dm_plan_init(Policy *p, const DefaultState *st, const sy_request_view *q, void *plan_state,
                        sy_error *err) {
    if (__builtin_expect(!st->planned, 0)) return dm_nothing_planned(p, st, err);
    // The token's replicas first: on a large ring that is a chain of loads
    // that miss L1 (radix index, tokens, keys), and the sooner they are
    // issued, the more of the rest runs while they are on their way.
    const uint32_t *reps = nullptr;
    const uint8_t *pre = nullptr;
    uint32_t rep_count = 0;
    uint8_t pre_live = 0, lead = 0;
    if (st->token_aware && (q->fields & SY_REQ_TOKEN) && q->keyspace) {
        // A view since 0.3 gives the name's length and whole words.
        int32_t g = q->struct_size >= offsetof(sy_request_view, keyspace_len) + sizeof q->keyspace_len
                        ? keyspace_group_words(st->ring, q->keyspace, q->keyspace_len)
                        : keyspace_group(st->ring, q->keyspace);
        if (g >= 0) {
            const ReplicaGroup &grp = st->ring.groups[g];
            size_t at = ring_position(st->ring, q->token);
            reps = grp.reps + at * grp.width;
            pre = st->keys[g] + at * grp.width;
            // The first draw reads one of these after the keys: start that
            // load now.
            __builtin_prefetch(reps);
            rep_count = grp.counts[at];
            pre_live = st->live[g][at];
            lead = st->lead[g][at];
        }
    }
    // A seeded sequence (reproducible), or the host's per-thread generator
    // (no shared counter between threads).
    uint64_t r = p->cfg.has_seed ? static_cast<uint64_t>(p->cfg.seed) + p->rotation.fetch_add(1, std::memory_order_relaxed) *
                                                                         0x9e3779b97f4a7c15ull
                                 : p->host->random_u64(p->host);
    auto *pl = static_cast<DefaultPlan *>(plan_state);
    pl->p = p;
    pl->st = st;
    pl->reps = reps;
    pl->rep_count = rep_count;
    pl->pre = pre;
    pl->rep_filter = 0;
    pl->remote = st->remote;
    pl->lwt = is_lwt(q);
    pl->token = q->token;
    pl->rot = r;
    // Shuffling off: every plan draws the same sequence, so a replica set
    // always comes in one fixed permutation (the seed's, or one chosen at
    // create).
    pl->rng = p->cfg.enable_shuffling ? r ^ 0x5851f42d4c957f2dull
                                      : static_cast<uint64_t>(p->cfg.seed) ^ 0x2545f4914f6cdd1dull;
    bool demote = false;
    if (__builtin_expect(p->cfg.latency.enabled, 0)) {
        pl->now = p->host->now_ns(p->host);
        maybe_update_min(p, &st->head, pl->now);
        demote = from_bits(p->min_avg_bits.load(std::memory_order_relaxed)) < INFINITY;
    }
    pl->demote = demote;
    if (__builtin_expect(pre_live && rep_count <= 8 && !demote, 1)) {
        // Most plans: live replicas known from the snapshot, no latency
        // demotion. The first target now, while the replicas are being
        // loaded: plan_advance then only reports it. Shuffling: the draw
        // takes the plan's fresh randomness itself (its high bits; the
        // later draws and the rotation mix it first).
        pl->keyed = 1;
        pl->live = st->list_phases[0] | pre_live;
        pl->phase = static_cast<uint32_t>(__builtin_ctz(pre_live));
        pl->ready = dm_draw_first(pl, dm_spread(lead), p->cfg.enable_shuffling, r);
        return SY_OK;
    }
    pl->phase = rep_count ? kReplicaFirst : kOtherFirst;
    pl->pos = 0;
    pl->entered = 0;
    pl->ready = 0;
    pl->keyed = 0;
    // Phases that may yield: empty ones cost nothing later. Replica phases
    // are narrowed once the replicas are keyed.
    pl->live = st->list_phases[demote] | (rep_count ? 0x3fu : 0);
    if (demote) {
        pl->pre = nullptr; // penalties change by the moment: classify per plan
    } else if (rep_count) {
        pl->live = st->list_phases[0] | pre_live;
        pl->keyed = 1;
    }
    return SY_OK;
}

// To the next target: 1, or 0 at the end. Every target but one plan_init
// drew (dm_plan_advance below).
[[gnu::noinline]] inline int dm_plan_advance_on(DefaultPlan *pl) {
    const DefaultState *st = pl->st;
    for (;;) {
        if (pl->phase < kOtherFirst && !pl->keyed) dm_key_replicas(pl);
        uint32_t rest = pl->live >> pl->phase;
        if (!rest) {
            pl->phase = kEnd;
            return 0;
        }
        if (!(rest & 1)) { // on to the next phase that may yield (keying is done: it only narrows live)
            pl->phase += static_cast<uint32_t>(__builtin_ctz(rest));
            pl->entered = 0;
        }
        uint32_t ph = pl->phase;
        if (ph < kOtherFirst) { // replicas: filter into buf once, then draw
            if (!pl->entered) {
                pl->pos = 0;
                const uint8_t *keys = pl->pre ? pl->pre : pl->rkey;
                if (pl->rep_count <= 8) {
                    if (dm_draw_first(pl, dm_match(keys, pl->rep_count, ph), false, 0)) return 1;
                    pl->buf_len = 0;
                } else {
                    pl->buf_len = dm_select(keys, pl->reps, pl->rep_count, ph, pl->buf);
                }
                pl->entered = 1;
            } else if (pl->entered == 2) { // the list, as if its first draw had been made on it
                uint32_t n = 0;
                for (uint64_t m = pl->lazy; m; m &= m - 1) pl->buf[n++] = pl->reps[__builtin_ctzll(m) >> 3];
                uint32_t x = pl->buf[pl->start];
                pl->buf[pl->start] = pl->buf[0];
                pl->buf[0] = x;
                pl->entered = 1;
            }
            if (pl->pos < pl->buf_len) {
                if (!pl->lwt) { // partial Fisher-Yates: one draw per target
                    uint32_t j = pl->pos + random_below(&pl->rng, pl->buf_len - pl->pos);
                    uint32_t x = pl->buf[j];
                    pl->buf[j] = pl->buf[pl->pos];
                    pl->buf[pl->pos] = x;
                }
                return dm_yield(pl, pl->buf[pl->pos++], true);
            }
        } else { // a node list from a random offset
            bool down = ph >= kDownFirst;
            uint32_t tier = down ? ph - kDownFirst : (ph - kOtherFirst) % 3;
            bool slow_pass = !down && ph >= kOtherFirst + 3;
            uint32_t n = down ? st->down_len[tier] : st->alive_len[tier];
            const uint32_t *list = down ? st->down[tier] : st->alive[tier];
            if (!pl->entered) {
                if (!pl->rep_filter)
                    for (uint32_t i = 0; i < pl->rep_count; i++) pl->rep_filter |= uint64_t{1} << (pl->reps[i] & 63);
                pl->start = random_below(&pl->rot, n);
                pl->pos = 0;
                pl->entered = 1;
            }
            while (pl->pos < n) {
                uint32_t at = pl->start + pl->pos++;
                uint32_t node = list[at < n ? at : at - n];
                if (down) {
                    return dm_yield(pl, node, dm_is_replica(pl, node));
                }
                if (dm_is_replica(pl, node) || dm_slow(pl, node) != slow_pass) continue;
                return dm_yield(pl, node, false);
            }
        }
        pl->phase++;
        pl->entered = 0;
    }
}

// To the next target (plan_advance): 1, or 0 at the end. Inline: the
// target plan_init drew only needs reporting.
inline int dm_plan_advance(DefaultPlan *pl) {
    if (pl->ready) {
        pl->ready = 0;
        return 1;
    }
    return dm_plan_advance_on(pl);
}

inline void dm_plan_fill(const DefaultPlan *pl, sy_target *target) { dm_emit(pl, pl->cur, pl->cur_replica, target); }

} // namespace syp::dp
