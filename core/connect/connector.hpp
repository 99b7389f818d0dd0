// The connector: what a router keeps to open connections along its plans.
// Endpoints (host:port) carry statistics, a circuit breaker and an idle
// pool; names resolved through DNS are cached; TLS configurations are built
// once per distinct profile. Everything here sits behind one mutex: connects
// cost tens of microseconds, so a short critical section is not the limit.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>

#include "connect/settings.hpp"
#include "connect/tls.hpp"
#include "util/alloc.hpp"
#include "util/clock.hpp"

namespace sy {

struct Router;
struct Conn;
struct Io;

constexpr uint32_t kConnMagic = 0x43594453; // "SDYC"
constexpr size_t kMaxAddrs = 8;
constexpr size_t kEndpointBuckets = 256;

struct Addrs {
    uint32_t n = 0;
    sockaddr_storage a[kMaxAddrs];
    socklen_t len[kMaxAddrs];
};

enum class Circuit : uint8_t { Closed, Open, HalfOpen };

struct Endpoint {
    Endpoint *next = nullptr; // hash chain
    uint64_t hash = 0;
    char *key = nullptr;      // "host:port"
    size_t key_size = 0;
    uint64_t attempts = 0, failures = 0, consecutive = 0;
    double latency_sum_ms = 0; // successful attempts only
    uint64_t latency_n = 0;
    Circuit circuit = Circuit::Closed;
    bool probing = false;      // the half-open probe is out
    uint64_t opened_ns = 0;    // router clock
    Conn *idle = nullptr;      // newest first
    uint32_t idle_count = 0;
    // Bumped by each drain: a connection dialled under an older value goes
    // to an endpoint whose route changed since, so it is never pooled.
    uint64_t drain_gen = 0;
};

struct DnsEntry;

struct Connector {
    Alloc alloc;
    ConnectSettings cfg; // the current generation's limits, under mu; no strings (walks read theirs)
    uint64_t (*clock_fn)(void *) = nullptr;
    void *clock_data = nullptr;
    std::atomic<int64_t> refs{1}; // the router, and each live connection
    std::mutex mu;                // endpoints, pools, DNS cache, TLS cache creation
    Endpoint *buckets[kEndpointBuckets] = {};
    size_t endpoint_count = 0;
    DnsEntry *dns = nullptr;      // most recently used first
    size_t dns_count = 0;
    net::TlsCache *tls = nullptr; // built on the first TLS connect
    Io *io = nullptr;             // async engine, built on the first async connect
    uint32_t io_mode = SY_IO_THREAD;
    bool accepting = true;        // false once the router is gone: no pooling

    explicit Connector(const Alloc &a) : alloc(a) {}
};

int connector_new(Router *r, const ConnectSettings &cfg, uint32_t io_mode, Connector **out,
                  sy_error *err);
// A reload's settings: pools, circuits and the DNS cache follow them.
void connector_update(Connector *c, const ConnectSettings &cfg);
// The router lets go: pending async connects complete with SY_ECANCELED,
// idle connections close; live connections keep the rest until they end.
void connector_release_router(Connector *c);
void connector_unref(Connector *c);

uint64_t connector_now(const Connector *c); // the router's clock, ns

// Endpoint bookkeeping (connect/endpoint.cpp). mu held.
// key: "host:port" ("[v6]:port"), as format_endpoint writes it.
Endpoint *endpoint_get(Connector *c, const char *key, bool create);
// Whether the endpoint may be tried now: 0 yes, 1 yes as the half-open
// probe, -1 not now (its circuit is open).
int endpoint_admit(Connector *c, Endpoint *e, uint64_t now);
void endpoint_record(Connector *c, Endpoint *e, bool ok, uint64_t elapsed_ns, uint64_t now);
int endpoint_stats_json(Connector *c, char *buf, size_t cap, size_t *len);

// Idle pools (connect/pool.cpp).
Conn *pool_checkout(Connector *c, Endpoint *e, const char *pool_key);
bool pool_checkin(Connector *c, Conn *conn); // false: not kept, the caller closes it
void pool_drain_all(Connector *c);
// sy_host.drain_endpoint: closes host:port's idle connections and keeps
// those in use from coming back (see Endpoint::drain_gen). Always SY_OK.
int connector_drain(Connector *c, const char *host, uint32_t port);

// DNS (connect/dns.cpp). Literal addresses need no lookup.
bool addrs_from_literal(const char *host, uint32_t port, Addrs *out);
bool dns_cached(Connector *c, const char *host, uint32_t port, Addrs *out);
// What a connect may use without resolving: a literal, else (unless
// `fresh`: SY_TARGET_RESOLVE_EACH) a cached answer.
bool addrs_known(Connector *c, const char *host, uint32_t port, bool fresh, Addrs *out);
// Moves the r-th address (r taken modulo the count) to the front, the
// others keeping their order (IPv4 before IPv6): the one tried first.
void addrs_put_first(Addrs *a, uint64_t r);
void dns_store(Connector *c, const char *host, const Addrs &a);
void dns_free_all(Connector *c);
int dns_resolve_blocking(const char *host, uint32_t port, Addrs *out, char *msg, size_t msg_size);
void addrs_set_port(Addrs *a, uint32_t port);

// plugin/host.cpp: sy_host.random_u64's generator (per thread, lock-free).
uint64_t random_u64();

} // namespace sy
