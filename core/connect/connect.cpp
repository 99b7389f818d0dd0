// The connector's lifetime, the blocking connect and the statistics call.
#include <poll.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "connect/io.hpp"
#include "connect/walk.hpp"
#include "util/error.hpp"

namespace sy {

uint64_t connector_now(const Connector *c) {
    return c->clock_fn ? c->clock_fn(c->clock_data) : mono_ns();
}

int connector_new(Router *r, const ConnectSettings &cfg, uint32_t io_mode, Connector **out,
                  sy_error *err) {
    if (io_mode > SY_IO_CALLER)
        return fail(err, SY_EINVAL, "", "sy_router_options.io_mode %u is not a sy_io_mode",
                    io_mode);
    Connector *c = r->alloc.make<Connector>(r->alloc);
    if (!c) return fail(err, SY_ENOMEM, "", "out of memory");
    connector_update(c, cfg);
    c->clock_fn = r->clock_fn;
    c->clock_data = r->clock_data;
    c->io_mode = io_mode;
    *out = c;
    return SY_OK;
}

void connector_update(Connector *c, const ConnectSettings &cfg) {
    std::lock_guard<std::mutex> g(c->mu);
    c->cfg = cfg;
    // The strings belong to the generation: walks read them from there.
    c->cfg.ca_file = c->cfg.ca_dir = c->cfg.cert_file = c->cfg.key_file = c->cfg.server_name = nullptr;
}

void connector_release_router(Connector *c) {
    if (!c) return;
    {
        std::lock_guard<std::mutex> g(c->mu);
        c->accepting = false;
    }
    io_shutdown(c); // pending async connects complete with SY_ECANCELED
    pool_drain_all(c);
    connector_unref(c);
}

void connector_unref(Connector *c) {
    if (c->refs.fetch_sub(1) != 1) return;
    dns_free_all(c);
    for (Endpoint *&b : c->buckets) {
        while (Endpoint *e = b) {
            b = e->next;
            c->alloc.strfree(e->key);
            c->alloc.destroy(e);
        }
    }
    if (c->tls) net::tls_cache_free(c->tls);
    Alloc a = c->alloc;
    connect_settings_free(a, &c->cfg);
    a.destroy(c);
}

namespace {

// Resolves the attempt's first hop and starts it.
Step start_attempt(Connector *cx, Attempt &a) {
    const char *h = a.first_host();
    uint32_t port = a.first_port();
    Addrs addrs;
    if (!h) {
        a.resolve_failed("no host name");
        return Step::Failed;
    }
    if (addrs_known(cx, h, port, a.resolve_each(), &addrs)) return a.start(addrs);
    char why[200];
    if (dns_resolve_blocking(h, port, &addrs, why, sizeof why) != SY_OK) {
        a.resolve_failed(why);
        return Step::Failed;
    }
    dns_store(cx, h, addrs);
    return a.start(addrs);
}

int connect_blocking(Walk &w, Connector *cx, sy_conn **out, sy_error *err) {
    while (w.next()) {
        if (Conn *c = w.from_pool()) {
            *out = reinterpret_cast<sy_conn *>(c);
            return SY_OK;
        }
        Attempt a(cx, &w.cur(), &w.settings());
        uint64_t t0 = mono_ns();
        uint32_t ms = w.attempt_ms();
        uint64_t until = t0 + uint64_t{ms} * 1000000u;
        Step s = ms ? start_attempt(cx, a) : Step::Read;
        // The clock is read once per wait (the start's reading serves the
        // first): in a VM each read is a measurable part of a loopback connect.
        for (uint64_t now = t0; s == Step::Read || s == Step::Write; now = mono_ns()) {
            if (now >= until) {
                a.timed_out(ms);
                s = Step::Failed;
                break;
            }
            pollfd p{a.fd(), static_cast<short>(s == Step::Read ? POLLIN : POLLOUT), 0};
            int n = poll(&p, 1, static_cast<int>((until - now + 999999) / 1000000));
            if (n < 0 && errno != EINTR) {
                a.fail(SY_EIO, SY_OUTCOME_OTHER_ERROR, "poll: %s", std::strerror(errno));
                s = Step::Failed;
            } else if (n > 0) {
                s = a.resume(p.revents == POLLOUT);
            }
        }
        uint64_t end = mono_ns();
        w.finished(a, end - t0, end);
        if (s == Step::Done) {
            Conn *c = w.make_conn(a, err);
            if (!c) return SY_ENOMEM;
            *out = reinterpret_cast<sy_conn *>(c);
            return SY_OK;
        }
    }
    return w.failure(err);
}

} // namespace

} // namespace sy

using namespace sy;

extern "C" {

SY_API int sy_router_connect(sy_router *router, const sy_request *req,
                             const sy_connect_options *opts, sy_conn **out,
                             sy_connect_result *result, sy_error *err) {
    if (!valid_router(router) || !req || !out)
        return fail(err, SY_EINVAL, "", "sy_router_connect: router, req and out are required");
    if (result && result->struct_size < offsetof(sy_connect_result, attempt_count) + sizeof(size_t))
        return fail(err, SY_EINVAL, "", "sy_connect_result.struct_size %u is too small",
                    result->struct_size);
    Router *r = reinterpret_cast<Router *>(router);
    Walk w(r, r->connector);
    int rc = w.begin(req, opts, result ? result->attempts : nullptr,
                     result ? result->attempt_cap : 0, false, err);
    if (!rc) rc = connect_blocking(w, r->connector, out, err);
    if (result) result->attempt_count = w.attempt_count();
    return rc;
}

SY_API int sy_router_connect_stats(sy_router *router, char *buf, size_t cap, size_t *len,
                                   sy_error *err) {
    if (!valid_router(router) || !len)
        return fail(err, SY_EINVAL, "", "sy_router_connect_stats: router and len are required");
    Connector *c = reinterpret_cast<Router *>(router)->connector;
    std::lock_guard<std::mutex> g(c->mu);
    int rc = endpoint_stats_json(c, buf, cap, len);
    if (rc) return fail(err, rc, "", "the statistics need %zu bytes, the buffer has %zu", *len, cap);
    return SY_OK;
}
}
