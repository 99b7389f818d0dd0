// sy_conn: the same send/receive over TCP and TLS, with timeouts, and
// release back to the endpoint's pool.
#include "connect/conn.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.hpp"

namespace sy {

void conn_destroy(Conn *c, bool notify) {
    if (c->tls) net::tls_session_free(c->tls, notify && !c->broken);
    if (c->fd >= 0) close(c->fd);
    Connector *cx = c->cx;
    if (c->pool_key) cx->alloc.free(c->pool_key, c->pool_key_size);
    c->magic = 0;
    cx->alloc.destroy(c);
    connector_unref(cx);
}

namespace {

// Waits for the socket; SY_OK when ready, SY_ETIMEOUT when `until` (0: never) passed.
int wait_fd(Conn *c, bool read, uint64_t until, const char *op, sy_error *err) {
    for (;;) {
        int ms = -1;
        if (until) {
            uint64_t now = mono_ns();
            if (now >= until)
                return fail(err, SY_ETIMEOUT, "", "%s %s:%u timed out", op, c->host, c->port);
            ms = static_cast<int>((until - now + 999999) / 1000000);
        }
        pollfd p{c->fd, static_cast<short>(read ? POLLIN : POLLOUT), 0};
        int n = poll(&p, 1, ms);
        if (n > 0) return SY_OK;
        if (n < 0 && errno != EINTR) {
            c->broken = true;
            return fail(err, SY_EIO, "", "poll: %s", std::strerror(errno));
        }
    }
}

int io_error(Conn *c, int e, const char *op, sy_error *err) {
    c->broken = true;
    return fail(err, e == ECONNRESET || e == EPIPE ? SY_ECONNECT : SY_EIO, "", "%s %s:%u: %s", op,
                c->host, c->port, std::strerror(e));
}

uint64_t until_of(uint32_t timeout_ms) {
    return timeout_ms ? mono_ns() + uint64_t{timeout_ms} * 1000000u : 0;
}

} // namespace

} // namespace sy

using namespace sy;

extern "C" {

SY_API int sy_conn_send(sy_conn *conn, const void *buf, size_t len, uint32_t timeout_ms,
                        sy_error *err) {
    if (!valid_conn(conn) || (!buf && len))
        return fail(err, SY_EINVAL, "", "sy_conn_send: a connection and a buffer are required");
    Conn *c = reinterpret_cast<Conn *>(conn);
    if (c->broken) return fail(err, SY_EIO, "", "send to %s:%u: the connection failed before", c->host, c->port);
    uint64_t until = until_of(timeout_ms);
    const char *p = static_cast<const char *>(buf);
    while (len) {
        size_t n = 0;
        bool read = false;
        if (c->tls) {
            net::Want w = net::Want::Done;
            if (int rc = net::tls_write(c->tls, p, len, &n, &w, err)) {
                c->broken = true;
                return rc;
            }
            read = w == net::Want::Read;
        } else {
            ssize_t k = send(c->fd, p, len, MSG_NOSIGNAL);
            if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return io_error(c, errno, "send to", err);
            n = k > 0 ? static_cast<size_t>(k) : 0;
        }
        p += n;
        len -= n;
        if (!n)
            if (int rc = wait_fd(c, read, until, "send to", err)) return rc;
    }
    return SY_OK;
}

SY_API int sy_conn_recv(sy_conn *conn, void *buf, size_t cap, uint32_t timeout_ms, size_t *got,
                        sy_error *err) {
    if (!valid_conn(conn) || !buf || !cap || !got)
        return fail(err, SY_EINVAL, "", "sy_conn_recv: a connection, a buffer and got are required");
    Conn *c = reinterpret_cast<Conn *>(conn);
    if (c->broken) return fail(err, SY_EIO, "", "receive from %s:%u: the connection failed before", c->host, c->port);
    uint64_t until = until_of(timeout_ms);
    for (;;) {
        bool write = false;
        if (c->tls) {
            size_t n = 0;
            net::Want w = net::Want::Done;
            if (int rc = net::tls_read(c->tls, buf, cap, &n, &w, err)) {
                c->broken = true;
                return rc;
            }
            if (n || w == net::Want::Done) {
                if (!n) c->broken = true; // closed: not reusable
                *got = n;
                return SY_OK;
            }
            write = w == net::Want::Write;
        } else {
            ssize_t k = recv(c->fd, buf, cap, 0);
            if (k >= 0) {
                if (!k) c->broken = true;
                *got = static_cast<size_t>(k);
                return SY_OK;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return io_error(c, errno, "receive from", err);
        }
        if (int rc = wait_fd(c, !write, until, "receive from", err)) return rc;
    }
}

SY_API int sy_conn_get_info(const sy_conn *conn, sy_conn_info *info) {
    if (!valid_conn(conn) || !info || info->struct_size < offsetof(sy_conn_info, host) + sizeof(char *))
        return SY_EINVAL;
    const Conn *c = reinterpret_cast<const Conn *>(conn);
    sy_conn_info i = SY_STRUCT_INIT(sy_conn_info);
    i.fd = c->fd;
    i.tls = c->tls != nullptr;
    i.reused = c->reused;
    i.port = c->port;
    i.proxy_count = c->proxy_count;
    i.node = c->node;
    i.host = c->host;
    i.peer = c->peer;
    i.tls_version = c->tls ? net::tls_version(c->tls) : nullptr;
    i.tls_ciphersuite = c->tls ? net::tls_ciphersuite(c->tls) : nullptr;
    uint32_t size = info->struct_size < sizeof i ? info->struct_size : sizeof i;
    std::memcpy(info, &i, size);
    info->struct_size = size;
    return SY_OK;
}

SY_API void sy_conn_release(sy_conn *conn) {
    if (!valid_conn(conn)) return;
    Conn *c = reinterpret_cast<Conn *>(conn);
    c->reused = false;
    if (!pool_checkin(c->cx, c)) conn_destroy(c, true);
}

SY_API void sy_conn_close(sy_conn *conn) {
    if (!valid_conn(conn)) return;
    conn_destroy(reinterpret_cast<Conn *>(conn), true);
}
}
