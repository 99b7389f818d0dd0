// One target, step by step: every socket is non-blocking and every step
// returns what it waits for, so the same code serves both drivers.
#include "connect/attempt.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "util/error.hpp"
#include "util/text.hpp"

namespace sy {

namespace {

void format_addr(const sockaddr_storage &ss, char *out, size_t cap) {
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET) {
        const auto *s4 = reinterpret_cast<const sockaddr_in *>(&ss);
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        format_endpoint(out, cap, ip, ntohs(s4->sin_port));
    } else {
        const auto *s6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        format_endpoint(out, cap, ip, ntohs(s6->sin6_port));
    }
}

} // namespace

Candidate &Candidate::operator=(const Candidate &o) {
    if (this == &o) return *this;
    std::memcpy(static_cast<void *>(this), &o, sizeof *this); // plain data throughout
    t.node = o.t.node ? node : nullptr;
    t.host = o.t.host ? host : nullptr;
    t.datacenter = o.t.datacenter ? datacenter : nullptr;
    t.rack = o.t.rack ? rack : nullptr;
    return *this;
}

bool candidate_from(Candidate *c, const sy_target *t) {
    c->t = *t;
    c->deferred = c->probe = false;
    copy_str(c->node, sizeof c->node, t->node);
    copy_str(c->datacenter, sizeof c->datacenter, t->datacenter);
    copy_str(c->rack, sizeof c->rack, t->rack);
    c->t.node = t->node ? c->node : nullptr;
    c->t.datacenter = t->datacenter ? c->datacenter : nullptr;
    c->t.rack = t->rack ? c->rack : nullptr;
    c->host[0] = c->endpoint[0] = 0;
    if (!t->host) {
        c->t.host = nullptr;
        return true;
    }
    if (std::strlen(t->host) >= sizeof c->host) return false;
    std::strcpy(c->host, t->host);
    c->t.host = c->host;
    format_endpoint(c->endpoint, sizeof c->endpoint, c->host, t->port);
    return true;
}

const char *Attempt::first_host() const {
    return c_->t.proxy_count ? hop_host(hop_at(c_->t, 0)) : c_->t.host;
}

uint32_t Attempt::first_port() const {
    return c_->t.proxy_count ? hop_at(c_->t, 0)->port : c_->t.port;
}

bool Attempt::resolve_each() const {
    return (c_->t.flags & SY_TARGET_RESOLVE_EACH) && !c_->t.proxy_count;
}

const char *Attempt::phase() const {
    switch (st_) {
    case State::Tunneling: return "waiting for a proxy to open the tunnel";
    case State::Handshaking: return "in the TLS handshake";
    default: return "connecting";
    }
}

void Attempt::fail(int status, uint32_t outcome, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(msg_, sizeof msg_, fmt, ap);
    va_end(ap);
    status_ = status;
    outcome_ = outcome;
    st_ = State::Failed;
    abort();
}

void Attempt::abort() {
    if (tls_) net::tls_session_free(tls_, false);
    tls_ = nullptr;
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

void Attempt::timed_out(uint32_t ms) {
    char where[96];
    if (st_ == State::Connecting) std::snprintf(where, sizeof where, "connecting to %s", peer_);
    else std::snprintf(where, sizeof where, "%s", phase());
    fail(SY_ETIMEOUT, SY_OUTCOME_TIMEOUT, "timed out after %u ms %s", ms, where);
}

void Attempt::resolve_failed(const char *why) {
    fail(SY_ECONNECT, SY_OUTCOME_RESOLVE_ERROR, "cannot resolve %.200s: %s", first_host(), why);
}

Step Attempt::errno_fail(int e, const char *what) {
    switch (e) {
    case ECONNREFUSED:
        fail(SY_ECONNECT, SY_OUTCOME_REFUSED, "connection refused by %s", what);
        break;
    case ECONNRESET:
    case EPIPE:
        fail(SY_ECONNECT, SY_OUTCOME_RESET, "connection reset by %s", what);
        break;
    case ETIMEDOUT:
        fail(SY_ETIMEOUT, SY_OUTCOME_TIMEOUT, "connection to %s timed out (TCP)", what);
        break;
    default:
        fail(SY_ECONNECT, SY_OUTCOME_OTHER_ERROR, "%s: %s", what, std::strerror(e));
    }
    return Step::Failed;
}

Step Attempt::start(const Addrs &a) {
    addrs_ = a;
    ai_ = 0;
    if (c_->t.proxy_count) {
        if (c_->t.proxies[0].struct_size < sizeof(sy_proxy_hop)) {
            fail(SY_EINVAL, SY_OUTCOME_OTHER_ERROR, "proxy hops of %u bytes (a plugin older than "
                 "this library): cannot read them", c_->t.proxies[0].struct_size);
            return Step::Failed;
        }
        if (c_->t.proxy_count > SY_VIA_MAX) {
            fail(SY_ELIMIT, SY_OUTCOME_OTHER_ERROR, "%u proxy hops: at most %d are followed",
                 c_->t.proxy_count, SY_VIA_MAX);
            return Step::Failed;
        }
    }
    if (!addrs_.n) {
        resolve_failed("no addresses");
        return Step::Failed;
    }
    // Spreads connects over every address a proxy name has, and moves them
    // to new ones at a DNS cut-over; the rest stay as fallbacks within
    // this attempt's time limit.
    if (resolve_each()) addrs_put_first(&addrs_, random_u64());
    return connect_next();
}

Step Attempt::connect_next() {
    int last = ECONNREFUSED;
    while (ai_ < addrs_.n) {
        const sockaddr_storage &ss = addrs_.a[ai_];
        format_addr(ss, peer_, sizeof peer_);
        fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd_ < 0) return errno_fail(errno, "socket()");
        int one = 1;
        setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(fd_, reinterpret_cast<const sockaddr *>(&ss), addrs_.len[ai_]) == 0)
            return after_connect();
        if (errno == EINPROGRESS) {
            st_ = State::Connecting;
            return Step::Write;
        }
        last = errno;
        close(fd_);
        fd_ = -1;
        if (++ai_ < addrs_.n) continue;
    }
    return errno_fail(last, peer_);
}

Step Attempt::resume(bool connected) {
    switch (st_) {
    case State::Connecting: {
        if (connected) return after_connect();
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
        if (e == 0) return after_connect();
        if (e == EINPROGRESS || e == EALREADY) return Step::Write;
        if (ai_ + 1 < addrs_.n) {
            close(fd_);
            fd_ = -1;
            ai_++;
            return connect_next();
        }
        return errno_fail(e, peer_);
    }
    case State::Tunneling: return tunnel();
    case State::Handshaking: return handshake();
    case State::Done: return Step::Done;
    default: return Step::Failed;
    }
}

Step Attempt::after_connect() {
    if (c_->t.proxy_count) {
        hop_ = 0;
        return start_tunnel();
    }
    if (c_->t.flags & SY_TARGET_TLS) return start_tls();
    st_ = State::Done;
    return Step::Done;
}

Step Attempt::start_tunnel() {
    const sy_proxy_hop *h = hop_at(c_->t, hop_);
    char name[300];
    std::snprintf(name, sizeof name, "proxy %.255s:%u", hop_host(h), h->port);
    if (h->tls) {
        fail(SY_EUNSUPPORTED, SY_OUTCOME_OTHER_ERROR,
             "%s: TLS to a proxy hop is not supported (TLS goes end to end, to the target)", name);
        return Step::Failed;
    }
    const char *dhost = c_->t.host;
    uint32_t dport = c_->t.port;
    if (hop_ + 1 < c_->t.proxy_count) {
        const sy_proxy_hop *n = hop_at(c_->t, hop_ + 1);
        dhost = hop_host(n);
        dport = n->port;
    }
    sy_error e = SY_STRUCT_INIT(sy_error);
    if (int rc = tun_.start(h->protocol, dhost, dport, h->cookie, name, &e)) {
        fail(rc, SY_OUTCOME_OTHER_ERROR, "%s", e.message);
        return Step::Failed;
    }
    st_ = State::Tunneling;
    return tunnel();
}

Step Attempt::tunnel() {
    for (;;) {
        size_t len = 0;
        const uint8_t *out = tun_.out(&len);
        if (len) {
            ssize_t n = send(fd_, out, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return Step::Write;
                if (errno == EINTR) continue;
                return errno_fail(errno, peer_);
            }
            tun_.wrote(static_cast<size_t>(n));
            continue;
        }
        uint8_t buf[1024];
        ssize_t n = recv(fd_, buf, sizeof buf, MSG_PEEK);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return Step::Read;
            if (errno == EINTR) continue;
            return errno_fail(errno, peer_);
        }
        const sy_proxy_hop *h = hop_at(c_->t, hop_);
        if (n == 0) {
            fail(SY_ECONNECT, SY_OUTCOME_RESET,
                 "proxy %.255s:%u closed the connection before the tunnel was open", hop_host(h),
                 h->port);
            return Step::Failed;
        }
        size_t used = 0;
        sy_error e = SY_STRUCT_INIT(sy_error);
        int rc = tun_.feed(buf, static_cast<size_t>(n), &used, &e);
        // Take exactly the proxy's reply off the socket: what follows is the tunnel's.
        if (used && recv(fd_, buf, used, 0) != static_cast<ssize_t>(used))
            return errno_fail(errno ? errno : EIO, peer_);
        if (rc < 0) {
            fail(rc, tun_.failure_outcome(), "%s", e.message);
            return Step::Failed;
        }
        if (rc > 0) continue;
        if (++hop_ < c_->t.proxy_count) return start_tunnel();
        if (c_->t.flags & SY_TARGET_TLS) return start_tls();
        st_ = State::Done;
        return Step::Done;
    }
}

Step Attempt::start_tls() {
    const sy_tls_profile *p = c_->t.tls_profile;
    const ConnectSettings &d = *cfg_;
    net::TlsSettings s;
    s.ca_file = p && p->ca_file ? p->ca_file : d.ca_file;
    s.ca_dir = p && p->ca_dir ? p->ca_dir : d.ca_dir;
    s.cert_file = p && p->cert_file ? p->cert_file : d.cert_file;
    s.key_file = p && p->key_file ? p->key_file : d.key_file;
    s.server_name = p && p->server_name ? p->server_name : d.server_name;
    s.insecure_skip_verify = (p && p->insecure_skip_verify) || d.insecure_skip_verify;
    sy_error e = SY_STRUCT_INIT(sy_error);
    net::TlsCache *cache = nullptr;
    {
        std::lock_guard<std::mutex> g(cx_->mu);
        if (!cx_->tls) cx_->tls = net::tls_cache_new(cx_->alloc, 64);
        cache = cx_->tls;
    }
    const net::TlsConfig *conf = nullptr;
    int rc = cache ? net::tls_cache_get(cache, s, &conf, &e) : SY_ENOMEM;
    if (!rc) rc = net::tls_session_new(cx_->alloc, conf, fd_, c_->t.host, &tls_, &e);
    if (rc) {
        fail(rc == SY_ENOMEM ? rc : SY_ETLS, SY_OUTCOME_TLS_ERROR, "%s",
             rc == SY_ENOMEM && !e.message[0] ? "out of memory" : e.message);
        return Step::Failed;
    }
    st_ = State::Handshaking;
    return handshake();
}

Step Attempt::handshake() {
    net::Want w = net::Want::Done;
    sy_error e = SY_STRUCT_INIT(sy_error);
    if (net::tls_handshake(tls_, &w, &e) != SY_OK) {
        bool reset = std::strstr(e.message, "reset") != nullptr;
        fail(SY_ETLS, reset ? SY_OUTCOME_RESET : SY_OUTCOME_TLS_ERROR, "%s", e.message);
        return Step::Failed;
    }
    if (w == net::Want::Read) return Step::Read;
    if (w == net::Want::Write) return Step::Write;
    st_ = State::Done;
    return Step::Done;
}

int Attempt::take_fd(net::TlsSession **tls, char *peer, size_t peer_size) {
    int fd = fd_;
    *tls = tls_;
    copy_str(peer, peer_size, peer_);
    fd_ = -1;
    tls_ = nullptr;
    return fd;
}

} // namespace sy
