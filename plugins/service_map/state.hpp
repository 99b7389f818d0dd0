// What service_map keeps: the config (per instance) and, per topology
// snapshot, the service registry, the contact endpoints and each
// endpoint's demotion stamp.
//
// A snapshot's State is built once by attach (build.cpp) and then only read
// by plans, without locks; outcomes write nothing but the endpoints' atomic
// stamps. One stamp per distinct host:port, shared by every service
// instance and contact endpoint at that address, so a failure reported
// against a contact endpoint demotes it everywhere, and the other way round.
#pragma once
#include <switchyard/plugin.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "common/words.hpp"
#include "service_map/arena.hpp"

namespace syp::svc {

constexpr const char kPluginName[] = "service_map";
constexpr uint32_t kMaxContactPoints = 64;
constexpr uint32_t kMaxLearned = 256; // members remembered as contact endpoints
constexpr uint32_t kMaxContacts = 1 + kMaxContactPoints + kMaxLearned;
constexpr uint32_t kMaxFilters = 8;
// A plan tracks the demoted instances it skipped in a bitset: the first
// kMaxDemotable up instances of a service can be demoted, later ones never.
constexpr uint32_t kMaxDemotable = 512;
static_assert(kMaxContacts <= kMaxDemotable, "every contact endpoint can be demoted");
constexpr uint64_t kDefaultLivenessMs = 10000;

// ---------------------------------------------------------------- config

struct ContactPoint {
    char *text; // as configured: "host:port", the target's node
    char *host; // bare (IPv6 without brackets), as targets carry it
    uint32_t port;
};

struct State;

struct ServiceMap {
    const sy_host *host = nullptr;
    ContactPoint points[kMaxContactPoints] = {};
    uint32_t point_count = 0;
    uint64_t liveness_ns = kDefaultLivenessMs * 1000000u;
    char *preferred_dc = nullptr;
    std::atomic<uint64_t> rotation{0}; // successive service plans start one instance further
    // The state attached last: the next attach carries its source, learned
    // members and stamps over (attach and detach only; never concurrent).
    State *latest = nullptr;
};

// ---------------------------------------------------------------- snapshot

using syp::load64;

// A string's hash and its length (keys and hosts are short, and a lookup
// hashes one per request).
inline uint64_t hash_str(const char *s, size_t *len) {
    *len = std::strlen(s);
    return syp::hash_bytes(s, *len);
}

inline uint64_t hash_endpoint(const char *host, uint32_t port) {
    size_t n;
    return (hash_str(host, &n) ^ port) * 0x9e3779b97f4a7c15ull;
}

struct Endpoint {
    const char *host;
    uint32_t port;
    uint32_t mark; // attach only: who took it last (a service, or the contact list)
    uint64_t hash;
    // 0: healthy; else the clock of the last failure + 1 (so a fake clock's
    // 0 still counts). Written by outcomes, hence mutable in a const state.
    mutable std::atomic<uint64_t> failed;
};

struct Attr {
    const char *key;
    const char *str; // SY_JSON_STRING
    double num;      // SY_JSON_NUMBER
    uint32_t type;   // SY_JSON_STRING, _NUMBER, _TRUE or _FALSE
};

// One cache line: a lookup's first target reads one instance.
struct alignas(64) Instance {
    const char *node; // the node's id, or "host:port" for an instance without one
    const char *host;
    const char *datacenter;
    const char *rack;
    const Attr *attrs;
    const Endpoint *endpoint;
    uint32_t port;
    // The node's index when the instance is at the node's own address
    // (a node comes at most once in a plan), else UINT32_MAX.
    uint32_t node_index;
    uint32_t attr_count;
    uint32_t down; // its node is down
};

constexpr size_t kKeyPrefix = 16;

// Instances in tier order: [0, preferred) up in the preferred datacenter,
// [preferred, up) other up ones, [up, count) down ones. One cache line with
// the key's first bytes, so a lookup of a short key touches nothing else.
struct alignas(64) Service {
    const Instance *instances;
    const char *via; // {"service":"<key>"}
    const char *key;
    uint64_t hash;
    uint32_t key_len;
    uint32_t preferred, up, count;
    char prefix[kKeyPrefix]; // the key's first bytes, NUL-padded
};
static_assert(sizeof(Service) == 64 && sizeof(Instance) == 64, "a cache line each");

enum ContactKind : uint32_t { kSource = 0, kConfigured = 1, kLearned = 2 };

struct Contact {
    const char *node; // a learned member's id, else "host:port"
    const char *host;
    const char *datacenter;
    const char *rack;
    const Endpoint *endpoint;
    uint32_t port;
    uint32_t node_index; // a node of this snapshot, else UINT32_MAX
    uint32_t kind;       // ContactKind
    uint32_t down;       // a member this snapshot says is down
};

struct State {
    Arena arena; // everything below lives in it
    State *prev; // the latest state when this one was attached
    bool have_topology;
    uint64_t published_ns;
    Service *services;
    uint32_t service_count;
    uint32_t service_mask; // service_slots has mask + 1 entries (service_slot), 0 empty
    uint64_t *service_slots;
    Endpoint *endpoints;
    uint32_t endpoint_count, endpoint_cap;
    uint32_t endpoint_mask;
    uint32_t *endpoint_slots;
    // Source first (if known), then the configured points, then learned members.
    Contact *contacts;
    uint32_t contact_count;
    uint32_t learned_count;
    // Some endpoint has been reported failed: plans look at the stamps.
    mutable std::atomic<bool> failures;
};

// key (len bytes) equals the service's key, whose length is len too. The
// prefix holds its first bytes: a short key is compared without leaving
// the service's cache line, with word loads where the length allows.
inline bool same_key(const Service &sv, const char *key, size_t len) {
    if (len >= 8 && len <= kKeyPrefix)
        return load64(sv.prefix) == load64(key) && load64(sv.prefix + len - 8) == load64(key + len - 8);
    if (len < 8) {
        for (size_t i = 0; i < len; i++)
            if (sv.prefix[i] != key[i]) return false;
        return true;
    }
    return load64(sv.prefix) == load64(key) && load64(sv.prefix + 8) == load64(key + 8) &&
           std::memcmp(sv.key + kKeyPrefix, key + kKeyPrefix, len - kKeyPrefix) == 0;
}

// A slot: the service's index + 1, and the top half of its hash as a tag,
// so a probe past another service (or a miss) reads no Service line.
inline uint64_t service_slot(uint64_t hash, uint32_t index1) { return (hash & 0xffffffff00000000ull) | index1; }

// Inlined into the lookup: it is most of it.
[[gnu::always_inline]] inline const Service *find_service(const State *st, const char *key) {
    size_t len;
    uint64_t h = hash_str(key, &len);
    uint64_t tag = h & 0xffffffff00000000ull;
    for (uint32_t i = static_cast<uint32_t>(h) & st->service_mask;; i = (i + 1) & st->service_mask) {
        uint64_t s = st->service_slots[i];
        if (!s) return nullptr;
        if ((s & 0xffffffff00000000ull) != tag) continue;
        const Service &sv = st->services[static_cast<uint32_t>(s) - 1];
        if (sv.hash == h && sv.key_len == len && same_key(sv, key, len)) return &sv;
    }
}

inline const Endpoint *find_endpoint(const State *st, const char *host, uint32_t port) {
    if (!st->endpoint_slots) return nullptr;
    uint64_t h = hash_endpoint(host, port);
    for (uint32_t i = static_cast<uint32_t>(h) & st->endpoint_mask;; i = (i + 1) & st->endpoint_mask) {
        uint32_t e = st->endpoint_slots[i];
        if (!e) return nullptr;
        const Endpoint &ep = st->endpoints[e - 1];
        if (ep.hash == h && ep.port == port && std::strcmp(ep.host, host) == 0) return &ep;
    }
}

// build.cpp
int build_state(ServiceMap *m, const sy_topology *topo, State **out, sy_error *err);
void free_state(ServiceMap *m, State *st);

} // namespace syp::svc
