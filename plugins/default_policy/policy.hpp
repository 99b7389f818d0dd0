// default_policy: the instance, its config and what every mode shares.
//
// File layout (one translation unit, default_policy.cpp, includes the rest):
//   policy.hpp         instance, config, per-snapshot state header, target filling
//   outcome_stats.hpp  per-node success/failure counters fed by on_outcome
//   round_robin.hpp    modes "round_robin" and (for now) "default"
//   single_target.hpp  mode "single_target"
//   default_policy.cpp config parsing, the vtable and the per-mode dispatch
// The token/DC/latency-aware "default" mode will get its own default_mode.hpp
// with its own per-snapshot state and plan state (a member of PlanState).
#pragma once

#include <switchyard/plugin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "address_map/hostport.hpp"
#include "default_policy/outcome_stats.hpp"

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

// "latency_awareness": validated and kept, not used yet (the full default
// mode uses it). Defaults are ScyllaDB's LatencyAwarenessBuilder's.
struct LatencyConfig {
    bool enabled = false;
    double exclusion_threshold = 2.0;
    double scale_ms = 100;
    double retry_period_ms = 10000;
    double update_rate_ms = 100;
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
    LatencyConfig latency;
};

struct Policy {
    const sy_host *host = nullptr;
    Config cfg;
    // single_target: the target parsed as host:port, when it is one.
    bool target_is_endpoint = false;
    Endpoint target_ep;       // target_ep.host points into target_host
    OwnedString target_host;  // IPv6 without brackets, as a connector wants it
    // Successive plans start at successive nodes.
    std::atomic<uint64_t> rotation{0};
    OutcomeStats stats;
};

// Every per-snapshot state starts with this, so detach can free any of them.
struct StateHeader {
    size_t alloc_size;
    Mode mode;
    const sy_topology *topology; // lives as long as the snapshot and the state
};

inline void *state_alloc(const sy_host *h, size_t size, Mode mode, const sy_topology *t) {
    auto *s = static_cast<StateHeader *>(h->alloc(h, size, alignof(std::max_align_t)));
    if (!s) return nullptr;
    std::memset(static_cast<void *>(s), 0, size);
    s->alloc_size = size;
    s->mode = mode;
    s->topology = t;
    return s;
}

inline bool str_eq(const char *a, const char *b) { return a && b && std::strcmp(a, b) == 0; }

// Fills what a topology node tells about a target. The core has already set
// struct_size and epoch; no shard is chosen, so SY_TARGET_HAS_SHARD stays off.
inline void fill_node_target(const sy_topology *t, uint32_t index, sy_target *target) {
    const sy_node *n = SY_TOPOLOGY_NODE(t, index);
    target->node = n->id;
    target->host = n->host;
    target->port = n->port;
    target->datacenter = n->datacenter;
    target->rack = n->rack;
    target->node_index = index;
    if (!n->up) target->flags |= SY_TARGET_DOWN;
    SY_TARGET_ADD_VIA(target, kPluginName);
}

} // namespace syp::dp
