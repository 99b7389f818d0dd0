// shard_map: Casty's sharded-entity routing as a selector.
//
// A request's entity {type, id} lands on a shard exactly as Casty computes
// it (MD5 of the UTF-8 id, first 4 bytes big-endian, modulo the type's
// num_shards); the plan is the shard's owning node, then its replicas, from
// allocations the host feeds (the config, or the shard_map.allocations
// interface) with epoch fencing: an allocation older than the shard's
// current one is ignored.
//
// A shard without a usable owner is a miss: the host's locator is asked
// (once per answer timeout, backing off while unanswered) and the plan is
// SY_EPENDING until the answer is applied. Evictions (a connect failure for
// a node, or the topology marking it down) live in the instance, so they
// outlast snapshots; each evicted shard is re-located after a jittered
// backoff. All of it is off the hit path, which reads one more word only.
#include <switchyard/plugin.h>
#include <switchyard/shard_map.h>


#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>

#include "common/fail.hpp"
#include "common/interface.hpp"
#include "common/steps.hpp"
#include "common/strings.hpp"
#include "common/table_swap.hpp"
#include "common/words.hpp"
#include "common/json_keys.hpp"
#include "common/json_path.hpp"
#include "shard_map/md5.h"

namespace {

constexpr const char kPluginName[] = "shard_map";
constexpr uint32_t kMaxTypes = 64;
// Allocations are kept in a dense array per type (about 90 bytes a shard):
// bounded so that a small config cannot claim a large heap.
constexpr uint32_t kMaxShards = 1u << 16; // all types together
constexpr uint32_t kMaxReplicas = 8;
constexpr uint32_t kMaxEvicted = 256; // nodes evicted at once (older ones are forgotten first)
constexpr uint64_t kForever = UINT64_MAX;
constexpr uint64_t kMs = 1000000;

// locate.*: how misses are asked about, and how long evictions last.
struct LocateCfg {
    uint32_t answer_timeout_ms = 1000; // an ask still unanswered then is asked again
    uint32_t retry_hint_ms = 10;       // what a plan waiting for an answer is told
    uint32_t backoff_ms = 500;         // re-locate after an eviction (Casty: 0.5 s) ...
    uint32_t backoff_max_ms = 30000;   // ... doubling per unanswered ask, up to this
    uint32_t max_locating = 1024;      // shards asked about at once
    uint32_t evict_ms = 5000;          // a failed node is left out this long (Casty: 5 s)
};

// Per shard, in the instance: where its (re-)location stands. due == 0:
// nothing scheduled, ask at the first miss.
struct Locate {
    std::atomic<uint64_t> due{0};   // now_ns when the next ask may go out
    std::atomic<uint32_t> tries{0}; // asks since the shard last had a usable owner
    std::atomic<uint32_t> asked{0}; // 1: an ask is out (counted in Instance::locating)
};

// The host's locator, shared by an instance and the one that inherits it
// on a reload (both may plan at once): called under its own mutex, so it
// never runs twice at once; destroyed with its last holder.
struct SharedLocator {
    std::atomic<uint32_t> refs{1};
    std::mutex call_mu;
    sy_shard_locator l{};
};

void locator_unref(const sy_host *h, SharedLocator *x) {
    if (!x || x->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (x->l.destroy) x->l.destroy(x->l.user_data);
    x->~SharedLocator();
    h->free(h, x, sizeof *x);
}

struct Evicted {
    char *id;
    uint64_t until; // now_ns; kForever: while the topology says down
};

struct Allocation {
    char *node = nullptr; // NULL: no known owner
    char *replicas[kMaxReplicas] = {};
    uint32_t replica_count = 0;
    uint64_t epoch = 0;
};

struct Type {
    char *name = nullptr;
    size_t name_len = 0;
    uint32_t num_shards = 0;
    uint64_t mod_magic = 0; // shard_mod's reciprocal of num_shards
    char via[80] = {};   // {"type":"<name>","shard": (the shard and '}' follow per plan)
    uint32_t via_len = 0;
    // Per shard, "<shard>}" and its NUL in 8 bytes (shards < 2^16): a plan
    // appends it with one store instead of printing the number.
    uint64_t *via_tail = nullptr;
};

// Immutable once built: an allocation per shard of each type.
struct Table {
    std::atomic<uint32_t> refs{1};
    Allocation *shards[kMaxTypes] = {};
};

struct Instance {
    const sy_host *host = nullptr;
    Type types[kMaxTypes];
    uint32_t type_count = 0;
    std::mutex mu;
    std::atomic<Table *> current{nullptr};
    LocateCfg lc;
    Locate *loc[kMaxTypes] = {};
    std::atomic<uint32_t> locating{0};
    std::mutex loc_mu; // locator (the pointer; calls hold the locator's own mutex)
    SharedLocator *locator = nullptr;
    std::atomic<bool> has_locator{false};
    std::mutex evict_mu; // evicted[]
    Evicted evicted[kMaxEvicted] = {};
    uint32_t evicted_count = 0;
};

// Per snapshot: allocations resolved to topology indices, and evictions.
struct State {
    Table *table;
    int32_t *owner[kMaxTypes];                 // per shard: node index or -1
    int32_t *replicas[kMaxTypes];              // per shard: kMaxReplicas indices, -1 padded
    std::atomic<uint64_t> *evicted;            // per topology node: until (now_ns), 0: not
    size_t nodes;
};

Instance *inst_of(void *p) { return static_cast<Instance *>(p); }

// in's locator with a reference taken (loc_mu guards the pointer), or NULL.
SharedLocator *locator_ref(Instance *in) {
    std::lock_guard<std::mutex> g(in->loc_mu);
    SharedLocator *x = in->locator;
    if (x) x->refs.fetch_add(1, std::memory_order_relaxed);
    return x;
}

using syp::dup;
using syp::sfree;

// v % n without a division (Lemire's fastmod: exact for 32-bit v and n;
// magic = UINT64_MAX / n + 1). A division is tens of cycles of the plan.
__extension__ typedef unsigned __int128 u128;
uint64_t mod_magic(uint32_t n) { return UINT64_MAX / n + 1; }
uint32_t shard_mod(uint32_t v, uint32_t n, uint64_t magic) {
    return static_cast<uint32_t>((static_cast<u128>(magic * v) * n) >> 64);
}

uint32_t shard_of(const char *id, size_t len, const Type &ty) {
    return shard_mod(sy_md5_prefix32(id, len), ty.num_shards, ty.mod_magic);
}

int type_index(const Instance *in, const char *name, size_t len) {
    for (uint32_t i = 0; i < in->type_count; i++)
        if (in->types[i].name_len == len && syp::same_bytes(in->types[i].name, name, len)) return static_cast<int>(i);
    return -1;
}
int type_index(const Instance *in, const char *name) {
    return type_index(in, name, std::strlen(name));
}

void clear_alloc(const sy_host *h, Allocation &a) {
    sfree(h, a.node);
    for (uint32_t r = 0; r < a.replica_count; r++) sfree(h, a.replicas[r]);
    a = Allocation{};
}

void table_free(const Instance *in, Table *t) {
    const sy_host *h = in->host;
    for (uint32_t i = 0; i < in->type_count; i++) {
        if (!t->shards[i]) continue;
        for (uint32_t s = 0; s < in->types[i].num_shards; s++) clear_alloc(h, t->shards[i][s]);
        h->free(h, t->shards[i], in->types[i].num_shards * sizeof(Allocation));
    }
    t->~Table();
    h->free(h, t, sizeof(Table));
}

void table_unref(const Instance *in, Table *t) {
    if (t && t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) table_free(in, t);
}

// a takes a copy of o's owner and replicas (a is empty). false: out of
// memory, with what was copied left in a for its table to free.
bool copy_alloc(const sy_host *h, Allocation &a, const Allocation &o) {
    a.epoch = o.epoch;
    if (!(a.node = dup(h, o.node))) return false;
    for (uint32_t r = 0; r < o.replica_count; r++, a.replica_count++)
        if (!(a.replicas[r] = dup(h, o.replicas[r]))) return false;
    return true;
}

// A copy of old (or an empty table), to change before publishing.
Table *table_copy(const Instance *in, const Table *old) {
    const sy_host *h = in->host;
    void *m = h->alloc(h, sizeof(Table), alignof(Table));
    if (!m) return nullptr;
    Table *t = new (m) Table();
    for (uint32_t i = 0; i < in->type_count; i++) {
        uint32_t n = in->types[i].num_shards;
        t->shards[i] = static_cast<Allocation *>(h->alloc(h, n * sizeof(Allocation), alignof(Allocation)));
        if (!t->shards[i]) {
            table_free(in, t);
            return nullptr;
        }
        for (uint32_t s = 0; s < n; s++) new (&t->shards[i][s]) Allocation();
        for (uint32_t s = 0; old && s < n; s++) {
            const Allocation &o = old->shards[i][s];
            if (o.node && !copy_alloc(h, t->shards[i][s], o)) {
                table_free(in, t);
                return nullptr;
            }
        }
    }
    return t;
}

// Applies {"type", "shard", "node", "replicas", "epoch"} entries to t.
int apply_list(const Instance *in, Table *t, const sy_json *list, const char *base, int code, sy_error *err) {
    const sy_host *h = in->host;
    if (h->json_type(list) != SY_JSON_ARRAY) return syp::fail(h, err, code, base, "expected an array of allocations");
    size_t i = 0;
    for (const sy_json *v = h->json_first(list); v; v = h->json_next(v), i++) {
        char path[SY_ERROR_PATH_MAX];
        std::snprintf(path, sizeof path, "%.100s[%zu]", base, i);
        if (h->json_type(v) != SY_JSON_OBJECT) return syp::fail(h, err, code, path, "expected an object");
        static const char *const kKeys[] = {"type", "shard", "node", "replicas", "epoch", nullptr};
        const char *why = nullptr;
        if (const char *k = syp::bad_key(h, v, kKeys, &why)) return syp::fail(h, err, code, path, "%s '%.60s'", why, k);
        const char *type = h->json_string(h->json_get(v, "type"));
        int ti = type ? type_index(in, type) : -1;
        if (ti < 0) return syp::fail(h, err, code, path, "type: '%.100s' is not one of shard_types", type ? type : "");
        uint32_t n = in->types[ti].num_shards;
        const sy_json *sv = h->json_get(v, "shard");
        double sd = h->json_number(sv);
        if (h->json_type(sv) != SY_JSON_NUMBER || sd != std::floor(sd) || sd < 0 || sd >= n)
            return syp::fail(h, err, code, path, "shard: expected an integer in 0..%u", n - 1);
        const char *node = h->json_string(h->json_get(v, "node"));
        if (!node || !*node) return syp::fail(h, err, code, path, "node: expected a topology node id");
        const sy_json *ev = h->json_get(v, "epoch");
        double ed = h->json_number(ev);
        if (h->json_type(ev) != SY_JSON_MISSING &&
            (h->json_type(ev) != SY_JSON_NUMBER || ed != std::floor(ed) || ed < 0 || ed > 9007199254740991.0))
            return syp::fail(h, err, code, path, "epoch: expected an integer >= 0");
        const sy_json *rv = h->json_get(v, "replicas");
        if (h->json_type(rv) != SY_JSON_MISSING &&
            (h->json_type(rv) != SY_JSON_ARRAY || h->json_count(rv) > kMaxReplicas))
            return syp::fail(h, err, code, path, "replicas: expected an array of at most %u node ids", kMaxReplicas);
        for (const sy_json *r = h->json_type(rv) == SY_JSON_ARRAY ? h->json_first(rv) : nullptr; r; r = h->json_next(r))
            if (!h->json_string(r) || !*h->json_string(r))
                return syp::fail(h, err, code, path, "replicas: expected node ids");
        Allocation &a = t->shards[ti][static_cast<uint32_t>(sd)];
        auto epoch = static_cast<uint64_t>(h->json_type(ev) == SY_JSON_NUMBER ? ed : 0);
        if (a.node && epoch < a.epoch) continue; // fenced: an older snapshot
        clear_alloc(h, a);
        a.epoch = epoch;
        bool ok = (a.node = dup(h, node)) != nullptr;
        for (const sy_json *r = h->json_type(rv) == SY_JSON_ARRAY ? h->json_first(rv) : nullptr; ok && r; r = h->json_next(r))
            ok = (a.replicas[a.replica_count++] = dup(h, h->json_string(r))) != nullptr;
        if (!ok) return syp::fail(h, err, SY_ENOMEM, path, "out of memory");
    }
    return SY_OK;
}

// ---------------------------------------------------------------- lifetime

void sm_destroy(void *instance) {
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    table_unref(in, in->current.exchange(nullptr));
    for (uint32_t i = 0; i < in->type_count; i++) {
        if (in->loc[i]) h->free(h, in->loc[i], in->types[i].num_shards * sizeof(Locate));
        if (in->types[i].via_tail) h->free(h, in->types[i].via_tail, in->types[i].num_shards * sizeof(uint64_t));
        sfree(h, in->types[i].name);
    }
    for (uint32_t i = 0; i < in->evicted_count; i++) sfree(h, in->evicted[i].id);
    locator_unref(h, in->locator);
    in->~Instance();
}

// "locate": {"answer_timeout_ms", "retry_hint_ms", "backoff_ms", "backoff_max_ms", "max_locating", "evict_ms"}
int parse_locate(Instance *in, const sy_json *v, const char *path, sy_error *err) {
    const sy_host *h = in->host;
    char p[SY_ERROR_PATH_MAX];
    std::snprintf(p, sizeof p, "%.100s.locate", path);
    if (h->json_type(v) == SY_JSON_MISSING) return SY_OK;
    if (h->json_type(v) != SY_JSON_OBJECT) return syp::fail(h, err, SY_ECONFIG, p, "expected an object");
    static const char *const kKeys[] = {"answer_timeout_ms", "retry_hint_ms", "backoff_ms", "backoff_max_ms",
                                        "max_locating", "evict_ms", nullptr};
    const char *why = nullptr;
    if (const char *k = syp::bad_key(h, v, kKeys, &why)) return syp::fail(h, err, SY_ECONFIG, p, "%s '%.60s'", why, k);
    struct Field {
        const char *key;
        uint32_t *out;
        uint32_t min, max;
    } fields[] = {{"answer_timeout_ms", &in->lc.answer_timeout_ms, 1, 3600000},
                  {"retry_hint_ms", &in->lc.retry_hint_ms, 1, 60000},
                  {"backoff_ms", &in->lc.backoff_ms, 1, 3600000},
                  {"backoff_max_ms", &in->lc.backoff_max_ms, 1, 86400000},
                  {"max_locating", &in->lc.max_locating, 1, kMaxShards},
                  {"evict_ms", &in->lc.evict_ms, 0, 86400000}};
    for (const Field &f : fields) {
        const sy_json *x = h->json_get(v, f.key);
        if (h->json_type(x) == SY_JSON_MISSING) continue;
        double d = h->json_number(x);
        if (h->json_type(x) != SY_JSON_NUMBER || d != std::floor(d) || d < f.min || d > f.max)
            return syp::fail(h, err, SY_ECONFIG, p, "%s: expected an integer in %u..%u", f.key, f.min, f.max);
        *f.out = static_cast<uint32_t>(d);
    }
    if (in->lc.backoff_max_ms < in->lc.backoff_ms)
        return syp::fail(h, err, SY_ECONFIG, p, "backoff_max_ms: expected at least backoff_ms (%u)", in->lc.backoff_ms);
    return SY_OK;
}

int sm_create(void *instance, const sy_host *h, const sy_json *cfg, const char *path, sy_error *err) {
    Instance *in = new (instance) Instance();
    in->host = h;
    int rc = SY_OK;
    char p[SY_ERROR_PATH_MAX];
    if (h->version < 2 || !h->json_first || !h->republish)
        rc = syp::fail(h, err, SY_EABI, path, "shard_map needs host services version 2");
    else if (h->json_type(cfg) != SY_JSON_OBJECT)
        rc = syp::fail(h, err, SY_ECONFIG, path, "expected an object with \"shard_types\"");
    static const char *const kConfigKeys[] = {"shard_types", "allocations", "locate", nullptr};
    const char *why = nullptr;
    if (const char *k = rc ? nullptr : syp::bad_key(h, cfg, kConfigKeys, &why)) {
        size_t n = static_cast<size_t>(std::snprintf(p, sizeof p, "%.100s", path));
        syp::path_append_key(p, sizeof p, &n, k);
        rc = syp::fail(h, err, SY_ECONFIG, p, "%s", why);
    }
    const sy_json *types = rc ? nullptr : h->json_get(cfg, "shard_types");
    std::snprintf(p, sizeof p, "%.100s.shard_types", path);
    if (rc == SY_OK && (h->json_type(types) != SY_JSON_ARRAY || h->json_count(types) == 0 ||
                        h->json_count(types) > kMaxTypes))
        rc = syp::fail(h, err, SY_ECONFIG, p, "expected 1 to %u {\"type\", \"num_shards\"}", kMaxTypes);
    size_t i = 0;
    uint32_t total = 0;
    for (const sy_json *v = rc ? nullptr : h->json_first(types); v && rc == SY_OK; v = h->json_next(v), i++) {
        char tp[SY_ERROR_PATH_MAX];
        std::snprintf(tp, sizeof tp, "%.100s[%zu]", p, i);
        const char *name = h->json_string(h->json_get(v, "type"));
        const sy_json *nv = h->json_get(v, "num_shards");
        double n = h->json_number(nv);
        if (!name || !*name) rc = syp::fail(h, err, SY_ECONFIG, tp, "type: expected a non-empty string");
        else if (type_index(in, name) >= 0) rc = syp::fail(h, err, SY_ECONFIG, tp, "type '%.100s' is given twice", name);
        else if (h->json_type(nv) != SY_JSON_NUMBER || n != std::floor(n) || n < 1 || n > kMaxShards - total)
            rc = syp::fail(h, err, SY_ECONFIG, tp, "num_shards: expected an integer in 1..%u (at most %u shards in all)",
                           kMaxShards - total, kMaxShards);
        else if (h->json_count(v) != 2)
            rc = syp::fail(h, err, SY_ECONFIG, tp, "a shard type has exactly \"type\" and \"num_shards\"");
        else if (!(in->types[in->type_count].name = dup(h, name)))
            rc = syp::fail(h, err, SY_ENOMEM, tp, "out of memory");
        else {
            Type &ty = in->types[in->type_count++];
            ty.name_len = std::strlen(name);
            ty.num_shards = static_cast<uint32_t>(n);
            ty.mod_magic = mod_magic(ty.num_shards);
            total += ty.num_shards;
            size_t vl = static_cast<size_t>(std::snprintf(ty.via, sizeof ty.via, "{\"type\":\""));
            syp::json_escape_into(ty.via, sizeof ty.via - 12, &vl, name); // room for ","shard":NNNNNNN}
            std::snprintf(ty.via + vl, sizeof ty.via - vl, "\",\"shard\":");
            ty.via_len = static_cast<uint32_t>(std::strlen(ty.via));
        }
    }
    if (rc == SY_OK) rc = parse_locate(in, h->json_get(cfg, "locate"), path, err);
    for (uint32_t ti = 0; rc == SY_OK && ti < in->type_count; ti++) {
        uint32_t n = in->types[ti].num_shards;
        in->loc[ti] = static_cast<Locate *>(h->alloc(h, n * sizeof(Locate), alignof(Locate)));
        uint64_t *tail = static_cast<uint64_t *>(h->alloc(h, n * sizeof(uint64_t), alignof(uint64_t)));
        in->types[ti].via_tail = tail;
        if (!in->loc[ti] || !tail) rc = syp::fail(h, err, SY_ENOMEM, path, "out of memory");
        for (uint32_t k = 0; rc == SY_OK && k < n; k++) {
            new (&in->loc[ti][k]) Locate();
            static_assert(kMaxShards <= 100000, "a shard, '}' and NUL fit in 8 bytes");
            char text[8] = {}, digits[8];
            int nd = 0, w = 0;
            for (uint32_t v = k; nd == 0 || v; v /= 10) digits[nd++] = static_cast<char>('0' + v % 10);
            while (nd) text[w++] = digits[--nd];
            text[w] = '}';
            std::memcpy(&tail[k], text, sizeof text);
        }
    }
    Table *t = rc ? nullptr : table_copy(in, nullptr);
    if (rc == SY_OK && !t) rc = syp::fail(h, err, SY_ENOMEM, path, "out of memory");
    const sy_json *allocs = rc ? nullptr : h->json_get(cfg, "allocations");
    if (rc == SY_OK && h->json_type(allocs) != SY_JSON_MISSING) {
        std::snprintf(p, sizeof p, "%.100s.allocations", path);
        rc = apply_list(in, t, allocs, p, SY_ECONFIG, err);
    }
    if (t && rc == SY_OK) in->current.store(t);
    else if (t) table_unref(in, t);
    if (rc != SY_OK) sm_destroy(instance);
    return rc;
}

// ---------------------------------------------------------------- snapshots

int32_t node_index(const sy_topology *topo, const char *id) {
    for (size_t i = 0; i < topo->node_count; i++) {
        const sy_node *n = SY_TOPOLOGY_NODE(topo, i);
        if (n->id && std::strcmp(n->id, id) == 0) return static_cast<int32_t>(i);
    }
    return -1;
}

// Node ids sorted once per snapshot, so resolving every allocation is a
// binary search instead of a scan of the topology.
struct NodeIndex {
    const sy_topology *topo;
    int32_t *order; // topology indices sorted by id (nodes without an id left out)
    size_t count;

    const char *id(int32_t i) const { return SY_TOPOLOGY_NODE(topo, i)->id; }
    int32_t find(const char *want) const {
        size_t lo = 0, hi = count;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = std::strcmp(id(order[mid]), want);
            if (c == 0) return order[mid];
            if (c < 0) lo = mid + 1;
            else hi = mid;
        }
        return -1;
    }
};

// evict_mu held: the k-th record goes, the last one takes its place.
void forget_eviction(Instance *in, uint32_t k) {
    sfree(in->host, in->evicted[k].id);
    in->evicted[k] = in->evicted[--in->evicted_count];
    in->evicted[in->evicted_count] = Evicted{};
}

void carry_evictions(Instance *in, State *st, const NodeIndex &ix, uint64_t now) {
    std::lock_guard<std::mutex> g(in->evict_mu);
    for (uint32_t k = 0; k < in->evicted_count;) {
        Evicted &e = in->evicted[k];
        if (e.until <= now) { // over: forget it
            forget_eviction(in, k);
            continue;
        }
        int32_t idx = ix.find(e.id);
        if (idx >= 0 && st->evicted[idx].load(std::memory_order_relaxed) != kForever)
            st->evicted[idx].store(e.until, std::memory_order_relaxed);
        k++;
    }
}

bool index_nodes(const sy_host *h, const sy_topology *topo, NodeIndex *ix) {
    ix->topo = topo;
    ix->count = 0;
    ix->order = static_cast<int32_t *>(h->alloc(h, (topo->node_count ? topo->node_count : 1) * sizeof(int32_t),
                                                alignof(int32_t)));
    if (!ix->order) return false;
    for (size_t i = 0; i < topo->node_count; i++)
        if (SY_TOPOLOGY_NODE(topo, i)->id) ix->order[ix->count++] = static_cast<int32_t>(i);
    std::sort(ix->order, ix->order + ix->count,
              [ix](int32_t a, int32_t b) { return std::strcmp(ix->id(a), ix->id(b)) < 0; });
    return true;
}

// ---------------------------------------------------------------- misses and evictions

// Exponential backoff with "equal jitter": a random point in [d/2, d], so
// the shards of one failed node are not all asked about at once.
uint64_t backoff_ns(const Instance *in, uint32_t tries) {
    uint64_t d = in->lc.backoff_ms;
    for (uint32_t i = 0; i < tries && d < in->lc.backoff_max_ms; i++) d *= 2;
    if (d > in->lc.backoff_max_ms) d = in->lc.backoff_max_ms;
    d *= kMs;
    return d / 2 + in->host->random_u64(in->host) % (d / 2 + 1);
}

void locate_clear(Instance *in, Locate &l) {
    l.due.store(0, std::memory_order_relaxed);
    l.tries.store(0, std::memory_order_relaxed);
    if (l.asked.exchange(0)) in->locating.fetch_sub(1);
}

// The shard lost its owner: ask again after a backoff, not at once (the
// coordinator has likely not noticed the failure yet).
void locate_schedule(Instance *in, Locate &l, uint64_t now) {
    l.due.store(now + backoff_ns(in, l.tries.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    if (l.asked.exchange(0)) in->locating.fetch_sub(1);
}

// Whether node idx is left out now; an eviction found expired is cleared.
// Out of line: plans check every node they yield, and almost none is.
[[gnu::noinline]] bool evicted_until(const Instance *in, const State *st, int32_t idx, uint64_t until) {
    if (until == kForever || until > in->host->now_ns(in->host)) return true;
    st->evicted[idx].compare_exchange_strong(until, 0, std::memory_order_relaxed);
    return false;
}
inline bool is_evicted(const Instance *in, const State *st, int32_t idx) {
    uint64_t until = st->evicted[idx].load(std::memory_order_relaxed);
    return until != 0 && evicted_until(in, st, idx, until);
}

// After attach resolved the allocations: shards with a usable owner stop
// being located; shards of an evicted node get a re-locate scheduled.
void settle_locates(Instance *in, const State *st, uint64_t now) {
    for (uint32_t ti = 0; ti < in->type_count; ti++) {
        for (uint32_t s = 0; s < in->types[ti].num_shards; s++) {
            Locate &l = in->loc[ti][s];
            int32_t owner = st->owner[ti][s];
            bool usable = owner >= 0 && st->evicted[owner].load(std::memory_order_relaxed) == 0;
            if (usable) {
                if (l.due.load(std::memory_order_relaxed) || l.tries.load(std::memory_order_relaxed)) locate_clear(in, l);
            } else if (owner >= 0 && l.due.load(std::memory_order_relaxed) == 0) {
                locate_schedule(in, l, now);
            }
        }
    }
}

// Every shard owned by node idx is re-located (on_outcome's failure path).
void evict_node(Instance *in, const State *st, int32_t idx, const char *id, uint64_t now) {
    const sy_host *h = in->host;
    uint64_t until = now + uint64_t{in->lc.evict_ms} * kMs;
    uint64_t cur = st->evicted[idx].load(std::memory_order_relaxed);
    if (cur != kForever) st->evicted[idx].store(until, std::memory_order_relaxed);
    if (id) {
        std::lock_guard<std::mutex> g(in->evict_mu);
        uint32_t k = 0;
        while (k < in->evicted_count && std::strcmp(in->evicted[k].id, id) != 0) k++;
        if (k == in->evicted_count) {
            if (k == kMaxEvicted) { // full: forget the one that ends first
                k = 0;
                for (uint32_t j = 1; j < kMaxEvicted; j++)
                    if (in->evicted[j].until < in->evicted[k].until) k = j;
                sfree(h, in->evicted[k].id);
                in->evicted[k].id = nullptr;
            }
            if ((in->evicted[k].id = dup(h, id)) && k == in->evicted_count) in->evicted_count++;
        }
        if (in->evicted[k].id) in->evicted[k].until = until;
    }
    for (uint32_t ti = 0; ti < in->type_count; ti++)
        for (uint32_t s = 0; s < in->types[ti].num_shards; s++)
            if (st->owner[ti][s] == idx) locate_schedule(in, in->loc[ti][s], now);
}

// A success for the node ends its eviction (not a topology's "down").
void unevict_node(Instance *in, const State *st, int32_t idx, const char *id) {
    uint64_t cur = st->evicted[idx].load(std::memory_order_relaxed);
    if (cur == 0 || cur == kForever) return;
    st->evicted[idx].compare_exchange_strong(cur, 0, std::memory_order_relaxed);
    if (!id) return;
    std::lock_guard<std::mutex> g(in->evict_mu);
    for (uint32_t k = 0; k < in->evicted_count; k++) {
        if (std::strcmp(in->evicted[k].id, id) != 0) continue;
        forget_eviction(in, k);
        return;
    }
}

void state_free(const Instance *in, State *st) {
    const sy_host *h = in->host;
    for (uint32_t i = 0; i < in->type_count; i++) {
        uint32_t n = in->types[i].num_shards;
        if (st->owner[i]) h->free(h, st->owner[i], n * sizeof(int32_t));
        if (st->replicas[i]) h->free(h, st->replicas[i], n * kMaxReplicas * sizeof(int32_t));
    }
    if (st->evicted) h->free(h, st->evicted, (st->nodes ? st->nodes : 1) * sizeof(std::atomic<uint64_t>));
    table_unref(in, st->table);
    h->free(h, st, sizeof(State));
}

int sm_attach(void *instance, const sy_topology *topo, void **state, sy_error *err) {
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    auto *st = static_cast<State *>(h->alloc(h, sizeof(State), alignof(State)));
    if (!st) return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    std::memset(static_cast<void *>(st), 0, sizeof(State));
    st->table = in->current.load();
    st->table->refs.fetch_add(1, std::memory_order_relaxed);
    st->nodes = topo->node_count;
    st->evicted = static_cast<std::atomic<uint64_t> *>(
        h->alloc(h, (st->nodes ? st->nodes : 1) * sizeof(std::atomic<uint64_t>), alignof(std::atomic<uint64_t>)));
    NodeIndex ix{};
    bool ok = st->evicted != nullptr && index_nodes(h, topo, &ix);
    uint64_t now = h->now_ns(h);
    for (size_t i = 0; ok && i < st->nodes; i++)
        new (&st->evicted[i]) std::atomic<uint64_t>(SY_TOPOLOGY_NODE(topo, i)->up ? 0 : kForever);
    if (ok) carry_evictions(in, st, ix, now);
    for (uint32_t ti = 0; ok && ti < in->type_count; ti++) {
        uint32_t n = in->types[ti].num_shards;
        st->owner[ti] = static_cast<int32_t *>(h->alloc(h, n * sizeof(int32_t), alignof(int32_t)));
        st->replicas[ti] = static_cast<int32_t *>(h->alloc(h, n * kMaxReplicas * sizeof(int32_t), alignof(int32_t)));
        ok = st->owner[ti] && st->replicas[ti];
        for (uint32_t s = 0; ok && s < n; s++) {
            const Allocation &a = st->table->shards[ti][s];
            int32_t owner = a.node ? ix.find(a.node) : -1;
            st->owner[ti][s] = owner;
            int32_t *rep = st->replicas[ti] + s * kMaxReplicas;
            for (uint32_t r = 0; r < kMaxReplicas; r++) {
                int32_t x = r < a.replica_count ? ix.find(a.replicas[r]) : -1;
                // a node named twice (or the owner again) is planned once
                for (uint32_t q = 0; q < r && x >= 0; q++)
                    if (rep[q] == x) x = -1;
                rep[r] = x == owner ? -1 : x;
            }
        }
    }
    if (ix.order) h->free(h, ix.order, (topo->node_count ? topo->node_count : 1) * sizeof(int32_t));
    if (!ok) {
        state_free(in, st);
        return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    }
    settle_locates(in, st, now);
    *state = st;
    return SY_OK;
}

void sm_detach(void *instance, void *state) { state_free(inst_of(instance), static_cast<State *>(state)); }

// ---------------------------------------------------------------- plans

struct Plan {
    Instance *in;
    const State *st;
    const sy_topology *topo;
    int32_t list[kMaxReplicas + 1]; // owner then replicas
    uint32_t i;                     // the next in list; the current is i - 1
    char via[96];
};

// A plan for a shard without a usable owner: ask the locator when it is
// time (one ask per shard at a time, backing off while unanswered) and tell
// the caller when to try again.
[[gnu::noinline, gnu::cold]] int miss(Instance *in, const State *st, int ti, uint32_t shard, int32_t owner,
                                      const sy_topology *topo, sy_error *err) {
    const sy_host *h = in->host;
    const char *type = in->types[ti].name;
    char why[160];
    if (owner < 0) {
        std::snprintf(why, sizeof why, "has no known owner");
    } else {
        bool down = st->evicted[owner].load(std::memory_order_relaxed) == kForever;
        std::snprintf(why, sizeof why, "lost its owner '%.60s' (%s)", SY_TOPOLOGY_NODE(topo, owner)->id,
                      down ? "down in the topology" : "evicted after a connect failure");
    }
    if (!in->has_locator.load(std::memory_order_acquire))
        return syp::fail(h, err, SY_ENOROUTE, "entity", "shard %u of '%.100s' %s, and no locator is set", shard,
                         type, why);
    uint64_t now = h->now_ns(h);
    Locate &l = in->loc[ti][shard];
    uint64_t due = l.due.load(std::memory_order_relaxed);
    uint64_t hint_ns = uint64_t{in->lc.retry_hint_ms} * kMs;
    int rc = SY_EPENDING;
    if (due <= now) {
        uint32_t tries = l.tries.load(std::memory_order_relaxed);
        if (!l.asked.load() && in->locating.load() >= in->lc.max_locating)
            return syp::fail(h, err, SY_ELIMIT, "entity",
                             "shard %u of '%.100s' %s, and %u shards are being located already (locate.max_locating)",
                             shard, type, why, in->lc.max_locating);
        uint64_t wait = uint64_t{in->lc.answer_timeout_ms} * kMs;
        if (tries) {
            uint64_t b = backoff_ns(in, tries);
            if (b > wait) wait = b;
        }
        if (l.due.compare_exchange_strong(due, now + wait)) {
            if (!l.asked.exchange(1)) in->locating.fetch_add(1);
            l.tries.fetch_add(1, std::memory_order_relaxed);
            int lrc = SY_OK;
            if (SharedLocator *x = locator_ref(in)) {
                {
                    std::lock_guard<std::mutex> g(x->call_mu);
                    lrc = x->l.locate(type, shard, x->l.user_data);
                }
                locator_unref(h, x);
            }
            if (lrc < 0 && h->log_enabled(h, SY_LOG_WARN))
                h->log(h, SY_LOG_WARN, "the locator failed for shard %u of '%.100s' (%d): asking again after a backoff",
                       shard, type, lrc);
            syp::fail(h, err, rc, "entity", "shard %u of '%.100s' %s: asked the locator (ask %u)", shard, type, why,
                      tries + 1);
        } else {
            syp::fail(h, err, rc, "entity", "shard %u of '%.100s' %s: an ask is out", shard, type, why);
        }
    } else if (l.asked.load()) {
        syp::fail(h, err, rc, "entity", "shard %u of '%.100s' %s: an ask is out", shard, type, why);
    } else { // a re-locate scheduled after an eviction
        hint_ns = due - now;
        syp::fail(h, err, rc, "entity", "shard %u of '%.100s' %s: re-locating in %llu ms", shard, type, why,
                  static_cast<unsigned long long>((hint_ns + kMs - 1) / kMs));
    }
    if (err && err->struct_size >= offsetof(sy_error, retry_after_ms) + sizeof err->retry_after_ms)
        err->retry_after_ms = static_cast<uint32_t>((hint_ns + kMs - 1) / kMs);
    return rc;
}

int sm_plan_init(void *instance, const void *state, const sy_topology *topo, const sy_request_view *req,
                 void *plan_state, sy_error *err) {
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    const auto *st = static_cast<const State *>(state);
    if (!(req->fields & SY_REQ_ENTITY) || !req->entity_type || !req->entity_id)
        return syp::fail(h, err, SY_EREQUEST, "entity", "shard_map plans an entity: the request has no {\"type\", \"id\"}");
    // the lengths from a core that gives them (0.3), else measured
    bool lens = req->struct_size >= offsetof(sy_request_view, entity_id_len) + sizeof req->entity_id_len;
    size_t type_len = lens ? req->entity_type_len : std::strlen(req->entity_type);
    size_t id_len = lens ? req->entity_id_len : std::strlen(req->entity_id);
    int ti = type_index(in, req->entity_type, type_len);
    if (ti < 0)
        return syp::fail(h, err, SY_EREQUEST, "entity.type", "'%.100s' is not a configured shard type", req->entity_type);
    uint32_t shard = shard_of(req->entity_id, id_len, in->types[ti]);
    int32_t owner = st->owner[ti][shard];
    if (owner < 0 || is_evicted(in, st, owner)) return miss(in, st, ti, shard, owner, topo, err);
    auto *p = static_cast<Plan *>(plan_state);
    p->in = in;
    p->st = st;
    p->topo = topo;
    p->i = 0;
    p->list[0] = owner;
    std::memcpy(p->list + 1, st->replicas[ti] + shard * kMaxReplicas, kMaxReplicas * sizeof(int32_t));
    // the via detail without printf: the type's prefix, then "<shard>}"
    const Type &ty = in->types[ti];
    static_assert(sizeof p->via >= sizeof ty.via + sizeof(uint64_t), "room for the prefix and the shard's tail");
    std::memcpy(p->via, ty.via, sizeof ty.via); // whole: a fixed size copies inline
    std::memcpy(p->via + ty.via_len, &ty.via_tail[shard], sizeof(uint64_t));
    return SY_OK;
}

int sm_plan_advance(void *, void *plan_state) {
    auto *p = static_cast<Plan *>(plan_state);
    while (p->i < kMaxReplicas + 1) {
        uint32_t k = p->i++;
        int32_t idx = p->list[k];
        if (idx >= 0 && (k == 0 || !is_evicted(p->in, p->st, idx))) return 1;
    }
    return 0;
}

void sm_plan_fill(void *, void *plan_state, sy_target *t) {
    const auto *p = static_cast<const Plan *>(plan_state);
    uint32_t k = p->i - 1;
    int32_t idx = p->list[k];
    const sy_node *n = SY_TOPOLOGY_NODE(p->topo, idx);
    t->node = n->id;
    t->host = n->host;
    t->port = n->port;
    t->datacenter = n->datacenter;
    t->rack = n->rack;
    t->node_index = static_cast<uint32_t>(idx);
    if (k > 0) t->flags |= SY_TARGET_REPLICA;
    if (!n->up) t->flags |= SY_TARGET_DOWN;
    SY_TARGET_ADD_VIA_DETAIL(t, kPluginName, p->via);
}

// A node that failed to connect is evicted (its shards re-located after a
// backoff); one that answered is not any more.
void sm_on_outcome(void *instance, const void *state, const sy_topology *topo, const sy_target *t,
                   const sy_outcome *o) {
    Instance *in = inst_of(instance);
    const auto *st = static_cast<const State *>(state);
    if (!st) return;
    bool failed = o->kind == SY_OUTCOME_TIMEOUT || o->kind == SY_OUTCOME_REFUSED || o->kind == SY_OUTCOME_RESET ||
                  o->kind == SY_OUTCOME_RESOLVE_ERROR;
    if (!failed && o->kind != SY_OUTCOME_SUCCESS) return;
    int32_t idx = -1;
    if (t->epoch == topo->epoch && t->node_index < st->nodes) idx = static_cast<int32_t>(t->node_index);
    else if (t->node) idx = node_index(topo, t->node);
    if (idx < 0) return;
    const char *id = SY_TOPOLOGY_NODE(topo, idx)->id;
    if (!failed) unevict_node(in, st, idx, id);
    else if (in->lc.evict_ms) evict_node(in, st, idx, id, in->host->now_ns(in->host));
}

// ---------------------------------------------------------------- interface

int a_apply(void *instance, const char *json, size_t len, sy_error *err) {
    if (!instance) return SY_EINVAL;
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    sy_json *doc = nullptr;
    if (!json || h->json_parse(h, json, len, &doc, err) != SY_OK) {
        if (err) err->code = SY_EREQUEST;
        return json ? SY_EREQUEST : SY_EINVAL;
    }
    std::lock_guard<std::mutex> g(in->mu);
    Table *old = in->current.load();
    Table *t = table_copy(in, old);
    int rc = t ? apply_list(in, t, h->json_get(doc, "allocations"), "allocations", SY_EREQUEST, err)
               : syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    h->json_free(h, doc);
    if (rc != SY_OK) {
        if (t) table_unref(in, t);
        return rc;
    }
    return syp::swap_and_republish(h, in->current, t, [in](Table *x) { table_unref(in, x); }, err);
}

int a_shard_of(void *instance, const char *type, const char *id, uint32_t *shard, sy_error *err) {
    if (!instance) return SY_EINVAL;
    const Instance *in = inst_of(instance);
    if (!type || !id || !shard) return syp::fail(in->host, err, SY_EINVAL, "", "type, id and shard are required");
    int ti = type_index(in, type);
    if (ti < 0) return syp::fail(in->host, err, SY_EUNKNOWN, "", "'%.100s' is not a configured shard type", type);
    *shard = shard_of(id, std::strlen(id), in->types[ti]);
    return SY_OK;
}

int a_set_locator(void *instance, const sy_shard_locator *l, sy_error *err) {
    if (!instance) return SY_EINVAL;
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    SharedLocator *next = nullptr;
    if (l) {
        if (l->struct_size < offsetof(sy_shard_locator, user_data) + sizeof(void *) || !l->locate)
            return syp::fail(h, err, SY_EINVAL, "", "a locator needs its struct_size and locate");
        void *m = h->alloc(h, sizeof(SharedLocator), alignof(SharedLocator));
        if (!m) return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
        next = new (m) SharedLocator();
        std::memcpy(&next->l, l, l->struct_size < sizeof next->l ? l->struct_size : sizeof next->l);
        next->l.struct_size = sizeof next->l;
    }
    SharedLocator *old;
    {
        std::lock_guard<std::mutex> g(in->loc_mu);
        old = in->locator;
        in->locator = next;
        in->has_locator.store(next != nullptr, std::memory_order_release);
    }
    locator_unref(h, old);
    return SY_OK;
}

// A reload replaced prev (its config changed): the allocations of the
// types both have with the same shard count, the evictions, and the
// locator carry over. prev may be planning and taking answers meanwhile:
// its table is referenced under its mutex, the rest read under theirs.
int sm_inherit(void *instance, void *previous, sy_error *err) {
    Instance *in = inst_of(instance);
    Instance *prev = inst_of(previous);
    const sy_host *h = in->host;
    Table *theirs = syp::pin_current(prev->mu, prev->current);
    Table *mine = in->current.load();
    Table *t = table_copy(in, mine);
    bool ok = t != nullptr;
    for (uint32_t i = 0; ok && theirs && i < in->type_count; i++) {
        const Type &ty = in->types[i];
        int pi = type_index(prev, ty.name, ty.name_len);
        if (pi < 0 || prev->types[pi].num_shards != ty.num_shards) continue; // shards mean other ids now
        for (uint32_t sh = 0; ok && sh < ty.num_shards; sh++) {
            const Allocation &o = theirs->shards[pi][sh];
            Allocation &a = t->shards[i][sh];
            if (!o.node || (a.node && a.epoch >= o.epoch)) continue; // the config's own, unless older
            clear_alloc(h, a);
            ok = copy_alloc(h, a, o);
        }
    }
    table_unref(prev, theirs);
    if (!ok) {
        if (t) table_unref(in, t);
        return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    }
    in->current.store(t); // not published yet: no plan reads it
    table_unref(in, mine);
    {
        std::lock_guard<std::mutex> g(prev->evict_mu);
        for (uint32_t k = 0; k < prev->evicted_count && in->evicted_count < kMaxEvicted; k++) {
            char *id = dup(h, prev->evicted[k].id);
            if (!id) return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
            in->evicted[in->evicted_count++] = Evicted{id, prev->evicted[k].until};
        }
    }
    if (SharedLocator *x = locator_ref(prev)) { // in is not published: no one else reads its locator
        in->locator = x;
        in->has_locator.store(true, std::memory_order_release);
    }
    return SY_OK;
}

const sy_shard_map_allocations kIface = {sizeof(sy_shard_map_allocations), SY_SHARD_MAP_ALLOCATIONS_VERSION, a_apply,
                                         a_shard_of, a_set_locator};

int sm_get_interface(void *, const char *name, uint32_t min_version, const void **iface) {
    return syp::offer_interface(name, min_version, iface, SY_SHARD_MAP_ALLOCATIONS, SY_SHARD_MAP_ALLOCATIONS_VERSION, &kIface);
}

const sy_plugin kPlugin = {
    SY_PLUGIN_ABI_VERSION,
    sizeof(sy_plugin),
    kPluginName,
    "Casty-style sharded entities: MD5 shard of an entity id, then the shard's owner and replicas",
    SY_ROLE_SELECTOR,
    sizeof(Instance),
    sizeof(Plan),
    0,
    sm_create,
    sm_destroy,
    sm_attach,
    sm_detach,
    sm_plan_init,
    syp::next_by_steps<sm_plan_advance, sm_plan_fill>,
    nullptr,
    sm_on_outcome,
    sm_get_interface,
    sm_plan_advance,
    sm_plan_fill,
    sm_inherit,
};

} // namespace

SY_PLUGIN_DEFINE(shard_map, kPlugin)
