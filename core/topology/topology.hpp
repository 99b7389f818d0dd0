// The immutable topology model: nodes, racks, shards, tokens, keyspaces.
// Built once per update (from JSON or C arrays), then only read.
#pragma once
#include <switchyard/plugin.h>

#include <atomic>

#include "json/json.hpp"
#include "util/alloc.hpp"

namespace sy {

struct Topology {
    explicit Topology(const Alloc &a) : alloc(a), arena(alloc) {}
    ~Topology();

    Alloc alloc;
    Arena arena;
    sy_node *nodes = nullptr;
    size_t node_count = 0;
    sy_keyspace *keyspaces = nullptr;
    size_t keyspace_count = 0;
    cJSON *document = nullptr; // owned
    sy_topology view{};        // epoch 0: each snapshot has its own copy with its epoch
    // Snapshots share a topology when only plugin state changed (republish).
    std::atomic<uint32_t> refs{1};
};

// obj may be NULL (empty topology). Takes ownership of doc (the JSON value obj
// lives in, or NULL) whatever the outcome. Errors use `code` and `path`.
int topology_from_json(const Alloc &a, cJSON *doc, const cJSON *obj, Path &path, int code,
                       Topology **out, sy_error *err);
int topology_from_desc(const Alloc &a, const sy_topology_desc *desc, Topology **out,
                       sy_error *err);
// Drops a reference; the last one frees.
void topology_free(Topology *t);
inline Topology *topology_ref(Topology *t) {
    t->refs.fetch_add(1, std::memory_order_relaxed);
    return t;
}

} // namespace sy
