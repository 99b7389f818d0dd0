// default_policy: the instance, its config and what every mode shares.
//
// File layout (one translation unit, default_policy.cpp, includes the rest):
//   policy.hpp         instance, config, per-snapshot state header, target filling
//   node_stats.hpp     per-node outcome counters and latency averages, per snapshot
//   ring.hpp           token ring, replica placement, Scylla shards
//   default_mode.hpp   mode "default": token/DC/rack/latency-aware plans
//   round_robin.hpp    mode "round_robin"
//   single_target.hpp  mode "single_target"
//   default_policy.cpp config parsing, the vtable and the per-mode dispatch
#pragma once

#include <switchyard/plugin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "address_map/hostport.hpp"

namespace syp::dp {

constexpr const char kPluginName[] = "default_policy";

enum class Mode : uint32_t { standard = 0 /* "default" */, round_robin = 1, single_target = 2 };

inline const char *mode_name(Mode m) {
    switch (m) {
    case Mode::round_robin: return "round_robin";
    case Mode::single_target: return "single_target";
    case Mode::standard: break;
    }
    return "default";
}

// A string copied out of the config into host memory.
struct OwnedString {
    char *s = nullptr;
    size_t size = 0;

    bool assign(const sy_host *h, const char *text) {
        size_t n = std::strlen(text) + 1;
        s = static_cast<char *>(h->alloc(h, n, 1));
        if (!s) return false;
        std::memcpy(s, text, n);
        size = n;
        return true;
    }
    void reset(const sy_host *h) {
        if (s) h->free(h, s, size);
        s = nullptr;
        size = 0;
    }
};

// "latency_awareness": ScyllaDB's LatencyAwarenessBuilder defaults, in ns.
struct LatencyConfig {
    bool enabled = false;
    double exclusion_threshold = 2.0;
    uint64_t scale_ns = 100'000'000;
    uint64_t retry_period_ns = 10'000'000'000;
    uint64_t update_rate_ns = 100'000'000;
    uint64_t minimum_measurements = 50;
};

struct Config {
    Mode mode = Mode::standard;
    OwnedString target;         // single_target: node id or host:port
    OwnedString preferred_dc;   // "preferred_datacenter"
    OwnedString preferred_rack; // "preferred_rack" (needs a datacenter)
    bool token_aware = true;
    bool permit_dc_failover = false;
    bool enable_shuffling = true;
    bool has_seed = false;
    int64_t seed = 0;
    uint32_t shard_ignore_msb = 12; // Scylla's SCYLLA_SHARDING_IGNORE_MSB
    LatencyConfig latency;
};

struct StateHeader;

struct Policy {
    const sy_host *host = nullptr;
    Config cfg;
    OwnedString config_path; // for errors found at attach
    // single_target: the target parsed as host:port, when it is one.
    bool target_is_endpoint = false;
    Endpoint target_ep;      // target_ep.host points into target_host
    OwnedString target_host; // IPv6 without brackets, as a connector wants it
    // Successive plans start at successive nodes / draw fresh randomness.
    std::atomic<uint64_t> rotation{0};
    // The newest live state, whose statistics the next attach carries over
    // (the tail of the live states' list). Written by attach/detach only,
    // which the host serialises.
    StateHeader *latest = nullptr;
    bool attached_once = false;
    // Latency awareness: the global minimum average (double bits; +inf: none
    // yet) and when it was last recomputed.
    std::atomic<uint64_t> min_avg_bits{0x7ff0000000000000ull};
    std::atomic<uint64_t> min_updated_ns{0};
};

struct NodeStats;

// A block a state owns: freed with it. 16 bytes, so payloads stay 16-aligned.
struct Block {
    Block *next;
    size_t size; // of the whole allocation
};

// Every per-snapshot state starts with this: the blocks it owns, the node
// statistics outcomes feed, and an id -> node index table to find a node of
// an older snapshot's target.
struct StateHeader {
    Mode mode;
    const sy_topology *topology; // lives as long as the snapshot and the state
    StateHeader *prev, *next;    // live states, in attach order
    size_t size;                 // of the state itself
    Block *blocks;               // any number: one per array, two per replication
    NodeStats *stats;            // topology->node_count of them
    const uint32_t *id_slots;    // node index + 1, 0 free; id_mask + 1 slots
    uint64_t id_mask;
};

inline bool str_eq(const char *a, const char *b) { return a && b && std::strcmp(a, b) == 0; }

// Allocates a zeroed block (16-byte aligned) the state owns; NULL when out of memory.
inline void *state_block(const sy_host *h, StateHeader *st, size_t size) {
    size_t total = sizeof(Block) + (size ? size : 1);
    auto *b = static_cast<Block *>(h->alloc(h, total, 16));
    if (!b) return nullptr;
    std::memset(static_cast<void *>(b), 0, total);
    b->next = st->blocks;
    b->size = total;
    st->blocks = b;
    return b + 1;
}

template <class T> T *state_array(const sy_host *h, StateHeader *st, size_t n) {
    static_assert(alignof(T) <= 16, "blocks are 16-byte aligned");
    return static_cast<T *>(state_block(h, st, n * sizeof(T)));
}

// A state of `size` bytes that owns itself as its first block.
inline StateHeader *state_new(const sy_host *h, size_t size, Mode mode, const sy_topology *t) {
    auto *s = static_cast<StateHeader *>(h->alloc(h, size, alignof(std::max_align_t)));
    if (!s) return nullptr;
    std::memset(static_cast<void *>(s), 0, size);
    s->mode = mode;
    s->topology = t;
    s->size = size;
    return s;
}

inline void state_free(const sy_host *h, StateHeader *s) {
    for (Block *b = s->blocks; b;) {
        Block *next = b->next;
        h->free(h, b, b->size);
        b = next;
    }
    h->free(h, s, s->size);
}

// Fills what a topology node tells about a target, and the caller's flags
// (one write of flags, not one per flag). The core has already set
// struct_size and epoch.
inline void fill_node_target(const sy_topology *t, uint32_t index, sy_target *target, uint32_t flags = 0) {
    const sy_node *n = SY_TOPOLOGY_NODE(t, index);
    target->node = n->id;
    target->host = n->host;
    target->port = n->port;
    target->datacenter = n->datacenter;
    target->rack = n->rack;
    target->node_index = index;
    target->flags |= flags | (n->up ? 0u : static_cast<uint32_t>(SY_TARGET_DOWN));
    SY_TARGET_ADD_VIA(target, kPluginName);
}

// splitmix64: the plan's own small random stream.
inline uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

__extension__ typedef unsigned __int128 u128;

// Uniform in [0, n) without a division (Lemire); n > 0.
inline uint32_t random_below(uint64_t *state, uint32_t n) {
    return static_cast<uint32_t>((static_cast<u128>(next_random(state)) * n) >> 64);
}

} // namespace syp::dp
