// static_routes' model: routes (compiled once, shared by every table that
// holds them) and immutable tables (routes in lookup order, first-byte
// buckets, proxy chains). A change builds a new table; plans keep the one
// their snapshot pinned.
#pragma once
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <switchyard/plugin.h>
#include <switchyard/static_routes.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace sr {

constexpr const char kPluginName[] = "static_routes";
constexpr size_t kMaxPattern = 1024;
constexpr size_t kMaxName = 255;   // node names planned or queried
constexpr uint32_t kMaxHopLimit = 8; // sy_proxy_hop chains never grow past this
constexpr size_t kMaxFlags = 64;     // distinct flag names: one bit each

// PCRE2 memory through the host allocator; PCRE2's free passes no size, so
// each block carries it in a 16-byte header.
struct PcreMem {
    const sy_host *host;
    pcre2_general_context *gctx;
};
void *pcre_malloc(size_t size, void *data);
void pcre_free(void *p, void *data);

// Options of the whole table (the config's top level).
struct Options {
    bool anchored = true;
    bool fallthrough = false;
    uint32_t match_limit = 100000;
    uint32_t depth_limit = 1000;
    uint32_t cache_size = 1024;
};

struct Route {
    std::atomic<uint32_t> refs{1};
    uint32_t kind = SY_ROUTE_STATIC;
    uint64_t seq = 0;             // insertion order: ties keep it
    int32_t weight = 0;
    char *pattern = nullptr;
    pcre2_code *code = nullptr;
    bool jit = false;
    // Anchored patterns only: bytes a matching name can start with.
    bool first_known = false;
    uint8_t first[32] = {};
    // Anchored patterns only: literal text every matching name starts with.
    char *prefix = nullptr;
    uint32_t prefix_len = 0;
    // static
    char *host = nullptr;         // NULL: the name's @host part (or what the resolver says)
    uint32_t port = 0;            // 0: from the resolver
    int tls = -1;                 // -1: not set (resolver's answer, else off)
    bool resolver = false;
    sy_tls_profile profile{};     // used when has_profile (strings owned)
    bool has_profile = false;
    char *cookie = nullptr;
    uint64_t flags = 0;
    const char **flag_names = nullptr;
    uint32_t flag_count = 0;
    uint32_t flag_cap = 0;
    uint32_t log_level = 0;
    // proxy
    char *to = nullptr;
    char *proxy = nullptr;
    uint32_t max_hop = kMaxHopLimit;
    uint32_t protocol = SY_PROXY_HTTP_CONNECT;
    // presentation
    char *via = nullptr;          // {"pattern":...,"weight":N,...}
    char *json = nullptr;         // the route as a normalised config element
};

// A proxy route resolved against its table: where the tunnel ends and the
// hops on the way (hosts NULL when the connector must resolve the hop).
struct Chain {
    const char *dest_host = nullptr;
    uint32_t dest_port = 0;
    sy_proxy_hop hops[kMaxHopLimit];
    uint32_t hop_count = 0;
    char bufs[kMaxHopLimit + 1][kMaxName + 1]; // hosts taken from "to": "host:port"
};

struct Table {
    std::atomic<uint32_t> refs{1};
    const sy_host *host = nullptr;
    Options opt;
    pcre2_match_context *mctx = nullptr; // limits, shared read-only
    Route **routes = nullptr;   // static routes in lookup order
    uint32_t count = 0;
    Route **proxies = nullptr;  // proxy routes in lookup order
    Chain *chains = nullptr;    // parallel to proxies
    uint32_t proxy_count = 0;
    uint32_t routes_cap = 0, proxies_cap = 0; // what the arrays were allocated for
    // first-byte buckets over static routes (anchored tables): positions in
    // ascending order; `any` holds routes whose first byte is unknown.
    uint32_t *bucket_off = nullptr; // 257 entries
    uint32_t *bucket_pos = nullptr;
    uint32_t bucket_total = 0;
    uint32_t *any_pos = nullptr;
    uint32_t any_count = 0;
};

// Flag names get their bit once and keep it for the instance's life.
struct FlagNames {
    char *names[kMaxFlags] = {};
    uint32_t count = 0;
};

// Compiles one route from its config element. path names it for errors.
// On success *out has one reference.
int route_build(const sy_host *host, const PcreMem &mem, const Options &opt, uint32_t kind,
                const sy_json *v, const char *path, uint64_t seq, FlagNames &flags, Route **out,
                sy_error *err);
void route_unref(const sy_host *host, Route *r);

// A table over routes (each gaining a reference). Fails when a proxy chain
// cannot be resolved or is too long; path names the element at fault.
int table_build(const sy_host *host, const PcreMem &mem, const Options &opt, Route *const *routes,
                size_t n, Table **out, sy_error *err);
void table_unref(Table *t);
inline Table *table_ref(Table *t) {
    t->refs.fetch_add(1, std::memory_order_relaxed);
    return t;
}

// Matching one pattern against a name: 1 match, 0 none, else PCRE2's
// negative code (a limit hit, or an error). md is the caller's match data.
int route_match(const Table &t, const Route &r, const char *name, size_t len,
                pcre2_match_data *md);
// The message for route_match's negative code, naming the pattern and name.
int match_error(const sy_host *host, sy_error *err, int rc, const Route &r, const char *name);

// The host part of an Ergo-style name ("node@host" → "host"), or NULL.
const char *name_host(const char *name, size_t len, size_t *host_len);

// "host:port" literal → host (into buf) and port; false if it is not one.
bool split_hostport(const char *s, char *buf, size_t size, uint32_t *port);

} // namespace sr
