// Idle connections per endpoint. A connection the peer closed (or that has
// unread bytes: a protocol out of step) is dropped at checkout, never handed
// out; idle ones past their timeout go too. A drained endpoint (its route
// changed) closes its idle ones and refuses those still out when they come
// back.
#include <poll.h>

#include <cstring>

#include "connect/conn.hpp"
#include "util/text.hpp"

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
    if (conn->drain_gen != e->drain_gen) return false; // its route changed while it was out
    if (e->idle_count >= c->cfg.pool_max_idle) return false;
    conn->idle_since = connector_now(c);
    conn->next_idle = e->idle;
    e->idle = conn;
    e->idle_count++;
    return true;
}

int connector_drain(Connector *c, const char *host, uint32_t port) {
    char key[300];
    // Longer names never became endpoints (candidate_from refuses them).
    if (std::strlen(host) > 255) return SY_OK;
    format_endpoint(key, sizeof key, host, port);
    Conn *dead = nullptr;
    {
        std::lock_guard<std::mutex> g(c->mu);
        Endpoint *e = endpoint_get(c, key, false);
        if (!e) return SY_OK; // never connected there: nothing pooled, nothing out
        e->drain_gen++;
        while (Conn *x = e->idle) {
            e->idle = x->next_idle;
            x->next_idle = dead;
            dead = x;
        }
        e->idle_count = 0;
    }
    while (dead) { // closed outside the lock, as at checkout
        Conn *n = dead->next_idle;
        conn_destroy(dead, true);
        dead = n;
    }
    return SY_OK;
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
