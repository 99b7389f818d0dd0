// One target tried: TCP connect, proxy tunnels, TLS, as a step machine that
// never blocks. It says which readiness of its socket it waits for; the
// blocking connect waits with poll(), the asynchronous one with Asio.
#pragma once
#include "connect/connector.hpp"
#include "connect/proxy.hpp"

namespace sy {

// A plan target copied out of the plan, so it outlives sy_plan_next. Its
// strings point into its own buffers, and a copy points into the copy's.
struct Candidate {
    sy_target t;
    char node[256];
    char host[256];
    char datacenter[128];
    char rack[128];
    char endpoint[272]; // "host:port", the circuit breaker's key
    bool deferred = false;
    bool probe = false;
    Endpoint *ep = nullptr; // its statistics, circuit and pool (NULL: table full)
    uint64_t drain_gen = 0; // ep's when the walk took it: a later drain keeps its connection out of the pool

    Candidate() = default;
    Candidate(const Candidate &o) { *this = o; }
    Candidate &operator=(const Candidate &o);
};

// Copies *t; false when its host does not fit (the message says so).
bool candidate_from(Candidate *c, const sy_target *t);

// Hop i of a target's proxy chain (the array's stride is its first struct_size).
inline const sy_proxy_hop *hop_at(const sy_target &t, uint32_t i) {
    size_t stride = t.proxies[0].struct_size;
    return reinterpret_cast<const sy_proxy_hop *>(reinterpret_cast<const char *>(t.proxies) +
                                                  i * stride);
}

inline const char *hop_host(const sy_proxy_hop *h) { return h->host ? h->host : h->node; }

enum class Step { Done, Read, Write, Failed };

class Attempt {
public:
    Attempt(Connector *cx, const Candidate *cand, const ConnectSettings *cfg)
        : cx_(cx), cfg_(cfg), c_(cand) {}
    ~Attempt() { abort(); }
    Attempt(const Attempt &) = delete;
    Attempt &operator=(const Attempt &) = delete;

    // The first hop: where the TCP connection goes.
    const char *first_host() const;
    uint32_t first_port() const;
    // The first hop is the target itself and it asks for a fresh lookup at
    // every connect (SY_TARGET_RESOLVE_EACH): the drivers skip the DNS cache
    // and start() tries a random one of the answers first. Behind proxy
    // hops the target's name is the last hop's to resolve, not ours.
    bool resolve_each() const;
    // Starts with the first hop's addresses (resolved by the driver).
    Step start(const Addrs &a);
    // The socket is ready as asked (or the driver polls anyway).
    // connected: the driver's poll reported POLLOUT and nothing else, which
    // on Linux means the TCP connect succeeded (a failure adds POLLERR and
    // POLLHUP), so SO_ERROR need not be asked: in a VM a syscall is a
    // measurable part of a loopback connect.
    Step resume(bool connected = false);
    // The driver's clock ran out: fail with SY_ETIMEOUT.
    void timed_out(uint32_t ms);
    // The driver could not resolve the first hop.
    void resolve_failed(const char *why);
    void fail(int status, uint32_t outcome, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

    int fd() const { return fd_; }
    int status() const { return status_; }
    uint32_t outcome() const { return outcome_; }
    const char *message() const { return msg_; }
    const char *phase() const;
    // After Done: the connection's pieces, now the caller's.
    int take_fd(net::TlsSession **tls, char *peer, size_t peer_size);
    void abort();

private:
    enum class State { Idle, Connecting, Tunneling, Handshaking, Done, Failed };
    Step connect_next();   // next address of the first hop
    Step after_connect();  // tunnel or TLS or done
    Step start_tunnel();
    Step tunnel();
    Step start_tls();
    Step handshake();
    Step errno_fail(int e, const char *what);

    Connector *cx_;
    const ConnectSettings *cfg_; // the walk's: TLS defaults
    const Candidate *c_;
    State st_ = State::Idle;
    Addrs addrs_;
    uint32_t ai_ = 0;
    int fd_ = -1;
    uint32_t hop_ = 0; // tunnel being negotiated: proxies[hop_] is asked for the next
    net::Tunnel tun_;
    net::TlsSession *tls_ = nullptr;
    int status_ = SY_OK;
    uint32_t outcome_ = SY_OUTCOME_SUCCESS;
    char peer_[64] = {};
    char msg_[SY_ATTEMPT_MESSAGE_MAX] = {};
};

} // namespace sy
