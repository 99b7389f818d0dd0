// Per-node outcome statistics, kept per snapshot, fed by on_outcome.
//
// Each snapshot's state holds one NodeStats per topology node. attach()
// carries the numbers of nodes that are still there over from the previous
// state (by node id), so a node removed from the topology is forgotten with
// its snapshot, and memory never grows with the number of updates. An
// outcome recorded into the old state while the new one is being built is
// lost: these are statistics, not accounting.
//
// Latency awareness is the ScyllaDB drivers' algorithm: a time-decayed
// average avg = (1 - w) * l + w * prev with w = ln(d + 1) / d and
// d = (now - last) / scale; a global minimum over nodes with enough
// measurements, recomputed lazily when update_rate has passed (no thread of
// our own); and a node is penalised while it has enough measurements, a
// fresh average (younger than retry_period) and avg > threshold * min.
// Unlike the Rust driver, the minimum only counts fresh averages, so one
// node that was fast long ago cannot penalise everybody forever.
#pragma once

#include <cmath>

#include "default_policy/policy.hpp"

namespace syp::dp {

struct NodeStats {
    std::atomic<uint64_t> successes;
    std::atomic<uint64_t> failures;
    std::atomic<uint64_t> avg_bits; // double, ns
    std::atomic<uint64_t> stamp_ns; // time of the last measurement
    std::atomic<uint64_t> measures;
    std::atomic<uint32_t> busy;     // writers take turns on the average
};

inline uint64_t to_bits(double d) {
    uint64_t b;
    std::memcpy(&b, &d, sizeof b);
    return b;
}

inline double from_bits(uint64_t b) {
    double d;
    std::memcpy(&d, &b, sizeof d);
    return d;
}

// FNV-1a, never 0.
inline uint64_t id_hash(const char *s) {
    uint64_t x = 0xcbf29ce484222325ull;
    for (; *s; s++) x = (x ^ static_cast<unsigned char>(*s)) * 0x100000001b3ull;
    return x ? x : 1;
}

constexpr uint32_t kNoNode = UINT32_MAX;

// The index of node `id` in st's topology, or kNoNode.
inline uint32_t find_node(const StateHeader *st, const char *id) {
    if (!id || !st->id_slots) return kNoNode;
    for (uint64_t at = id_hash(id) & st->id_mask;; at = (at + 1) & st->id_mask) {
        uint32_t v = st->id_slots[at];
        if (v == 0) return kNoNode;
        if (str_eq(SY_TOPOLOGY_NODE(st->topology, v - 1)->id, id)) return v - 1;
    }
}

// The node a reported target is, in this state's topology.
inline uint32_t resolve_target(const StateHeader *st, const sy_target *t) {
    const sy_topology *topo = st->topology;
    if (t->epoch == topo->epoch && t->node_index < topo->node_count &&
        str_eq(SY_TOPOLOGY_NODE(topo, t->node_index)->id, t->node))
        return t->node_index;
    return find_node(st, t->node);
}

// Builds the statistics and the id table of a new state, carrying numbers
// over from the newest state attached before it.
inline int stats_attach(Policy *p, StateHeader *st, sy_error *err) {
    const sy_host *h = p->host;
    const sy_topology *t = st->topology;
    size_t n = t->node_count;
    uint64_t slots = 16;
    while (slots < 2 * static_cast<uint64_t>(n)) slots *= 2;
    st->stats = state_array<NodeStats>(h, st, n ? n : 1);
    auto *id_slots = state_array<uint32_t>(h, st, slots);
    if (!st->stats || !id_slots) {
        h->set_error(err, SY_ENOMEM, "", "default_policy: out of memory for the statistics of %zu nodes", n);
        return SY_ENOMEM;
    }
    st->id_slots = id_slots;
    st->id_mask = slots - 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t at = id_hash(SY_TOPOLOGY_NODE(t, i)->id) & st->id_mask;
        while (id_slots[at]) at = (at + 1) & st->id_mask;
        id_slots[at] = static_cast<uint32_t>(i + 1);
    }
    if (const StateHeader *prev = p->latest) {
        for (size_t i = 0; i < n; i++) {
            uint32_t j = find_node(prev, SY_TOPOLOGY_NODE(t, i)->id);
            if (j == kNoNode) continue;
            const NodeStats &a = prev->stats[j];
            NodeStats &b = st->stats[i];
            b.successes.store(a.successes.load(std::memory_order_relaxed), std::memory_order_relaxed);
            b.failures.store(a.failures.load(std::memory_order_relaxed), std::memory_order_relaxed);
            b.avg_bits.store(a.avg_bits.load(std::memory_order_relaxed), std::memory_order_relaxed);
            b.stamp_ns.store(a.stamp_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
            b.measures.store(a.measures.load(std::memory_order_relaxed), std::memory_order_relaxed);
        }
    }
    // Live states form a list in attach order; the newest is the tail.
    st->prev = p->latest;
    st->next = nullptr;
    if (p->latest) p->latest->next = st;
    p->latest = st;
    return SY_OK;
}

// Before st is freed. When st is the newest (its publication failed, or the
// router is going away), the newest live state before it takes its place.
inline void stats_detach(Policy *p, StateHeader *st) {
    if (st->prev) st->prev->next = st->next;
    if (st->next) st->next->prev = st->prev;
    if (p->latest == st) p->latest = st->prev;
}

// Which outcomes measure a node's speed: answers and slow failures. Fast
// failures (refused, reset, TLS, resolution, overload) say nothing of it.
inline bool measures_latency(uint32_t kind) {
    return kind == SY_OUTCOME_SUCCESS || kind == SY_OUTCOME_TIMEOUT || kind == SY_OUTCOME_OTHER_ERROR;
}

// Any thread.
inline void stats_record(const Policy *p, NodeStats &s, const sy_outcome *o, uint64_t now) {
    if (o->kind == SY_OUTCOME_SUCCESS) s.successes.fetch_add(1, std::memory_order_relaxed);
    else s.failures.fetch_add(1, std::memory_order_relaxed);
    const LatencyConfig &lc = p->cfg.latency;
    if (!lc.enabled || !measures_latency(o->kind) || o->latency_ns == 0) return;
    while (s.busy.exchange(1, std::memory_order_acquire)) {
    }
    double l = static_cast<double>(o->latency_ns);
    uint64_t n = s.measures.load(std::memory_order_relaxed);
    double avg = l;
    if (n) {
        uint64_t last = s.stamp_ns.load(std::memory_order_relaxed);
        double prev = from_bits(s.avg_bits.load(std::memory_order_relaxed));
        double d = now > last ? static_cast<double>(now - last) / static_cast<double>(lc.scale_ns) : 0;
        double w = d > 0 ? std::log1p(d) / d : 1.0;
        avg = (1 - w) * l + w * prev;
    }
    s.avg_bits.store(to_bits(avg), std::memory_order_relaxed);
    s.stamp_ns.store(now, std::memory_order_relaxed);
    s.measures.store(n + 1, std::memory_order_relaxed);
    s.busy.store(0, std::memory_order_release);
}

inline bool fresh(const LatencyConfig &lc, uint64_t stamp, uint64_t now) {
    return now < stamp || now - stamp < lc.retry_period_ns;
}

// Recomputes the global minimum when update_rate has passed since the last
// time; one caller does it, the others go on.
inline void maybe_update_min(Policy *p, const StateHeader *st, uint64_t now) {
    const LatencyConfig &lc = p->cfg.latency;
    uint64_t last = p->min_updated_ns.load(std::memory_order_relaxed);
    if (last && now >= last && now - last < lc.update_rate_ns) return;
    if (last && now < last) return; // a clock that went back: wait for it
    if (!p->min_updated_ns.compare_exchange_strong(last, now ? now : 1, std::memory_order_relaxed)) return;
    double min = INFINITY;
    for (size_t i = 0; i < st->topology->node_count; i++) {
        const NodeStats &s = st->stats[i];
        if (s.measures.load(std::memory_order_relaxed) < lc.minimum_measurements) continue;
        if (!fresh(lc, s.stamp_ns.load(std::memory_order_relaxed), now)) continue;
        double avg = from_bits(s.avg_bits.load(std::memory_order_relaxed));
        if (avg < min) min = avg;
    }
    p->min_avg_bits.store(to_bits(min), std::memory_order_relaxed);
}

// Whether node i is too slow to be tried before the others right now.
inline bool penalised(const Policy *p, const StateHeader *st, uint32_t i, uint64_t now) {
    const LatencyConfig &lc = p->cfg.latency;
    double min = from_bits(p->min_avg_bits.load(std::memory_order_relaxed));
    if (!(min < INFINITY)) return false;
    const NodeStats &s = st->stats[i];
    if (s.measures.load(std::memory_order_relaxed) < lc.minimum_measurements) return false;
    if (!fresh(lc, s.stamp_ns.load(std::memory_order_relaxed), now)) return false;
    return from_bits(s.avg_bits.load(std::memory_order_relaxed)) > lc.exclusion_threshold * min;
}

} // namespace syp::dp
