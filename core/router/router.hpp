// The router: its plugin chain and the snapshot it publishes to readers.
#pragma once
#include <switchyard/plugin.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "connect/settings.hpp"
#include "json/json.hpp"
#include "topology/topology.hpp"
#include "util/alloc.hpp"
#include "util/clock.hpp"

namespace sy {

constexpr uint32_t kRouterMagic = 0x52594453;  // "SDYR"
constexpr uint32_t kRequestMagic = 0x51594453; // "SDYQ"
constexpr uint32_t kPlanMagic = 0x50594453;    // "SDYP"
constexpr size_t kMaxChain = 1 + 15;          // selector + translators

struct Router;

// What a plugin instance sees as its host: the services table first, so a
// `const sy_host *` converts back to its context.
struct HostCtx {
    sy_host host;
    Router *router;
};

// The config's "plan" section: bounds on plans that wait (sy_plan_init_async).
struct PlanSettings {
    uint32_t max_waiting = 1024;    // plans waiting at once; more are SY_ELIMIT
    uint32_t wait_timeout_ms = 5000; // a plan still pending then fails with SY_ETIMEOUT
};

// A created plugin instance. Generations share an instance whose plugin and
// config a reload left unchanged, so its state (latency averages, route
// tables changed through its interface) lives on.
struct Instance {
    sy_plugin vt{};  // the plugin's vtable, zero-extended to this core's size
    const sy_plugin *src = nullptr; // the vtable it came from: same pointer, same plugin
    const char *origin = nullptr; // file it came from, or "static"
    void *mem = nullptr;          // instance_size bytes
    size_t mem_size = 0;
    HostCtx host{};
    bool created = false;
    bool selector = false;
    cJSON *config = nullptr;      // a copy of its config (NULL: none given)
    std::atomic<int32_t> refs{1}; // generations using it
};

// One configuration: a plugin chain and the connect settings that came with
// it. Snapshots pin their generation, so plans started before a reload end
// on the chain they began with; the last snapshot of an old generation
// destroys the instances no newer generation kept.
struct Generation {
    std::atomic<int32_t> refs{1}; // the router while current, and each snapshot
    Instance *chain[kMaxChain] = {};
    size_t chain_len = 0; // chain[0] is the selector
    size_t plan_size = 0;
    size_t state_offset = 0;
    ConnectSettings connect; // owned
    PlanSettings plan;
    cJSON *topology_src = nullptr; // the config's topology section, to tell it unchanged
};

// A counter on a cache line of its own: threads count themselves on their
// own slot (router/readers.hpp), so planning from many threads shares no
// written line. Padded rather than aligned, so user allocators are never
// asked for more than 16.
constexpr size_t kOwnedSlots = 32;    // threads with counters of their own
constexpr size_t kSharedStripes = 8;  // the others share these, with locked adds
constexpr size_t kRefSlots = kOwnedSlots + kSharedStripes;
struct Stripe {
    std::atomic<int64_t> n{0};
    char pad[64 - sizeof(std::atomic<int64_t>)];
};

// One published state: topology + each chain instance's derived state.
struct Snapshot {
    Stripe refs[kRefSlots]; // plans using it; a plan may end on another slot: only the sum counts
    Router *router = nullptr;
    Generation *gen = nullptr; // a reference: the chain plans of this snapshot use
    Topology *topo = nullptr;  // a reference: republished snapshots share it
    sy_topology view{};        // topo's view with this snapshot's epoch
    void *states[kMaxChain] = {};
    Snapshot *retired_next = nullptr;
    // Set once retired: the plan that ends its last use frees it then.
    std::atomic<bool> retired{false};
};

struct LoadedModule {
    void *handle;
    char *path;
};

struct Router {
    uint32_t magic = kRouterMagic;
    Alloc alloc;
    sy_log_fn log_fn = nullptr;
    void *log_data = nullptr;
    sy_destroy_fn log_destroy = nullptr;
    uint32_t log_level = SY_LOG_WARN;
    uint64_t (*clock_fn)(void *) = nullptr; // NULL: CLOCK_MONOTONIC
    void *clock_data = nullptr;

    Vec<LoadedModule> modules{alloc};
    Vec<const sy_plugin *> loaded{alloc}; // vtables enumerated from modules
    Vec<const char *> loaded_origin{alloc};
    // Writers (reload_mu): the current configuration. Readers go through
    // their snapshot's generation instead.
    Generation *gen = nullptr;
    std::atomic<size_t> plan_size{0}; // the current generation's
    std::mutex reload_mu;             // one configuration change at a time
    // What a reload needs from the creation options (owned copies).
    Vec<char *> opt_plugin_path{alloc};
    char *opt_base_dir = nullptr;
    struct Connector *connector = nullptr; // connect/connector.hpp
    struct Resolver *resolver = nullptr; // resolve/resolver.cpp
    // plan/wait.cpp: plans waiting for their selector, built on first use.
    std::mutex waits_mu;
    struct PlanWaits *waits = nullptr;
    std::atomic<uint32_t> waiting{0}; // so a publish with none waiting costs a load
    // Blocking connects whose plan is pending (connect/walk.cpp) sleep on
    // published_cv until a publish bumps `publishes` (under waits_mu).
    std::condition_variable published_cv;
    uint64_t publishes = 0;
    std::atomic<uint32_t> blocked{0};

    // Readers: acquire() never blocks. Writers: update_mu, then wait out the
    // readers that may have loaded the previous snapshot (router/readers.hpp).
    std::atomic<Snapshot *> current{nullptr};
    Stripe windows[kOwnedSlots]; // odd while that slot's thread is pinning
    std::atomic<uint64_t> reader_epoch{0};
    Stripe readers[2][kSharedStripes];
    Snapshot *retired = nullptr; // writers only: snapshots plans may still use
    std::atomic<uint64_t> epoch{0};
    std::mutex update_mu;

    explicit Router(const Alloc &a) : alloc(a) {}
};

// Builds a snapshot over t (taking ownership) and publishes it.
int router_publish(Router *r, Topology *t, sy_error *err);
// Publishes a new snapshot over the current topology (plugin state changed).
int router_republish(Router *r, sy_error *err);
// Publishes gen (taking the caller's reference) as the current generation,
// over t when given (taking ownership), else over the current topology.
// On failure nothing changes.
int router_publish_generation(Router *r, Generation *gen, Topology *t, sy_error *err);
void generation_unref(Router *r, Generation *g);
void instance_unref(Router *r, Instance *in);

// The router's clock (sy_router_options.clock_ns, else CLOCK_MONOTONIC), as
// sy_host.now_ns reads it.
uint64_t router_now(const Router *r);

void router_log(const Router *r, uint32_t level, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void router_vlog(const Router *r, uint32_t level, const char *source, const char *fmt,
                 va_list ap);

// plugin/host.cpp
void host_init(HostCtx *h, Router *r, const char *plugin_name);

// plugin/registry.cpp: finds `name` (static registrations, then the search
// path) and loads it into the router. path names the config element.
struct SearchPath {
    const char *dirs[64];
    size_t count = 0;
};
int plugin_find(Router *r, const char *name, const SearchPath &sp, const char *path,
                const sy_plugin **vt, const char **origin, sy_error *err);
void plugin_unload_all(Router *r);
void router_destroy(Router *r);

inline bool valid_router(const sy_router *r) {
    return r && reinterpret_cast<const Router *>(r)->magic == kRouterMagic;
}

} // namespace sy

