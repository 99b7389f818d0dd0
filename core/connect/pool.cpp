// Idle connections per endpoint. A connection the peer closed (or that has
// unread bytes: a protocol out of step) is dropped at checkout, never handed
// out; idle ones past their timeout go too.
#include <poll.h>

#include <cstring>

#include "connect/conn.hpp"

namespace sy {

namespace {

bool still_open(const Conn *c) {
    if (c->tls && net::tls_pending(c->tls)) return false;
    pollfd p{c->fd, POLLIN | POLLRDHUP, 0};
    int n = poll(&p, 1, 0);
    return n == 0; // readable, hung up or in error: not reusable
}

} // namespace

Conn *pool_checkout(Connector *c, Endpoint *e, const char *pool_key) {
    if (!e) return nullptr;
    Conn *dead = nullptr, *found = nullptr;
    uint64_t now = connector_now(c);
    {
        std::lock_guard<std::mutex> g(c->mu); // cfg too: a reload updates it
        for (Conn **link = &e->idle; *link;) {
            Conn *x = *link;
            bool expired = now - x->idle_since > uint64_t{c->cfg.pool_idle_timeout_ms} * 1000000u;
            if (!expired && std::strcmp(x->pool_key, pool_key) != 0) {
                link = &x->next_idle;
                continue;
            }
            *link = x->next_idle;
            e->idle_count--;
            if (!expired && still_open(x)) {
                found = x;
                break;
            }
            x->next_idle = dead;
            dead = x;
        }
    }
    while (dead) { // closed outside the lock
        Conn *n = dead->next_idle;
        conn_destroy(dead, false);
        dead = n;
    }
    if (found) {
        found->next_idle = nullptr;
        found->reused = true;
    }
    return found;
}

bool pool_checkin(Connector *c, Conn *conn) {
    if (conn->broken || !conn->endpoint || !conn->pool_key) return false;
    if (conn->tls && net::tls_pending(conn->tls)) return false;
    std::lock_guard<std::mutex> g(c->mu);
    if (!c->accepting || !c->cfg.pool_max_idle) return false;
    Endpoint *e = conn->endpoint;
    if (e->idle_count >= c->cfg.pool_max_idle) return false;
    conn->idle_since = connector_now(c);
    conn->next_idle = e->idle;
    e->idle = conn;
    e->idle_count++;
    return true;
}

void pool_drain_all(Connector *c) {
    Conn *dead = nullptr;
    {
        std::lock_guard<std::mutex> g(c->mu);
        for (Endpoint *b : c->buckets)
            for (Endpoint *e = b; e; e = e->next) {
                while (Conn *x = e->idle) {
                    e->idle = x->next_idle;
                    x->next_idle = dead;
                    dead = x;
                }
                e->idle_count = 0;
            }
    }
    while (dead) {
        Conn *n = dead->next_idle;
        conn_destroy(dead, true);
        dead = n;
    }
}

} // namespace sy
