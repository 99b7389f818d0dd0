// Plans that wait (sy_plan_init_async): a selector that answered SY_EPENDING
// is asked again whenever the router publishes a snapshot (its answer may
// have arrived, e.g. shard_map's allocations) and when its retry hint is due,
// on the I/O engine's thread. Waiting is bounded in number (plan.max_waiting)
// and time (plan.wait_timeout_ms), and every waiter hears back exactly once:
// ready, failed, timed out or canceled.
#include "connect/asio.hpp"
#include "connect/io.hpp"
#include "plan/plan.hpp"
#include "request/request.hpp"
#include "util/error.hpp"

namespace sy {

struct Waiter {
    Waiter *next = nullptr;
    const sy_request *req;
    void *storage;
    size_t size;
    sy_plan_cb cb;
    void *data;
    uint64_t deadline_ns; // mono_ns
    uint64_t retry_ns;    // the selector's hint, due then
    uint32_t timeout_ms;
    const char *bound; // what set timeout_ms, for the timeout's message
    sy_error last = SY_STRUCT_INIT(sy_error); // why it still waits
};

struct PlanWaits {
    Router *r;
    asio::steady_timer timer;
    // Under r->waits_mu.
    Waiter *list = nullptr;
    uint32_t count = 0; // listed, and being retried (out of the list meanwhile)
    bool retry_posted = false;
    bool stopped = false;

    PlanWaits(Router *router, Io *io) : r(router), timer(io_context(io)) {}
};

namespace {

uint64_t due_ns(const Waiter *w) { return w->retry_ns < w->deadline_ns ? w->retry_ns : w->deadline_ns; }

uint64_t add_ms(uint64_t t, uint32_t ms) { return t + uint64_t{ms} * 1000000u; }

void retry_all(PlanWaits *pw);

// I/O thread: the timer to the earliest due waiter.
void rearm(PlanWaits *pw) {
    uint64_t next = UINT64_MAX;
    {
        std::lock_guard<std::mutex> g(pw->r->waits_mu);
        if (pw->stopped) return;
        for (const Waiter *w = pw->list; w; w = w->next)
            if (due_ns(w) < next) next = due_ns(w);
    }
    if (next == UINT64_MAX) {
        pw->timer.cancel();
        return;
    }
    uint64_t now = mono_ns();
    pw->timer.expires_after(std::chrono::nanoseconds(next > now ? next - now : 0));
    pw->timer.async_wait([pw](const asio::error_code &ec) {
        if (!ec) retry_all(pw);
    });
}

void complete(PlanWaits *pw, Waiter *w, int rc, sy_plan *plan, const sy_error *err) {
    w->cb(rc, plan, err, w->data);
    pw->r->alloc.destroy(w);
}

// I/O thread: every waiter tries again; those still pending wait on.
void retry_all(PlanWaits *pw) {
    Router *r = pw->r;
    Waiter *batch;
    {
        std::lock_guard<std::mutex> g(r->waits_mu);
        if (pw->stopped) return;
        batch = pw->list;
        pw->list = nullptr;
        pw->retry_posted = false; // a publish from now on needs another pass
    }
    Waiter *keep = nullptr;
    uint32_t done = 0;
    while (Waiter *w = batch) {
        batch = w->next;
        sy_plan *plan = nullptr;
        sy_error err = SY_STRUCT_INIT(sy_error);
        int rc = plan_start(r, w->req, w->storage, w->size, &plan, nullptr, &err);
        uint64_t now = mono_ns();
        if (rc == SY_EPENDING && now < w->deadline_ns) {
            w->last = err;
            w->retry_ns = add_ms(now, retry_after(&err));
            w->next = keep;
            keep = w;
            continue;
        }
        done++;
        if (rc == SY_EPENDING) {
            w->last = err; // formatted from, not into
            fail(&err, SY_ETIMEOUT, w->last.path, "still pending after %u ms (%s): %s", w->timeout_ms, w->bound,
                 w->last.message);
            rc = SY_ETIMEOUT;
        }
        complete(pw, w, rc, rc == SY_OK ? plan : nullptr, rc == SY_OK ? nullptr : &err);
    }
    {
        std::lock_guard<std::mutex> g(r->waits_mu);
        while (Waiter *w = keep) {
            keep = w->next;
            w->next = pw->list;
            pw->list = w;
        }
        pw->count -= done;
        r->waiting.store(pw->count);
    }
    rearm(pw);
}

// The engine stopped (the router is being freed): nobody waits any more.
void stopped(void *data) {
    auto *pw = static_cast<PlanWaits *>(data);
    Router *r = pw->r;
    Waiter *list;
    {
        std::lock_guard<std::mutex> g(r->waits_mu);
        pw->stopped = true;
        list = pw->list;
        pw->list = nullptr;
        pw->count = 0;
        r->waiting.store(0);
        r->waits = nullptr;
    }
    while (Waiter *w = list) {
        list = w->next;
        sy_error err = SY_STRUCT_INIT(sy_error);
        fail(&err, SY_ECANCELED, "", "the router was freed before the plan was ready: %s", w->last.message);
        complete(pw, w, SY_ECANCELED, nullptr, &err);
    }
    r->alloc.destroy(pw);
}

// waits_mu held.
PlanWaits *waits_get(Router *r, sy_error *err) {
    if (r->waits) return r->waits;
    Io *io = io_acquire(r->connector, err);
    if (!io) return nullptr;
    auto *pw = r->alloc.make<PlanWaits>(r, io);
    if (!pw) {
        fail(err, SY_ENOMEM, "", "out of memory");
        return nullptr;
    }
    io_at_stop(io, stopped, pw);
    r->waits = pw;
    return pw;
}

void post_retry(PlanWaits *pw) { // waits_mu held
    if (pw->retry_posted || pw->stopped) return;
    pw->retry_posted = true;
    asio::post(pw->timer.get_executor(), [pw] { retry_all(pw); });
}

} // namespace

void plan_waits_wake(Router *r) {
    // The snapshot is published before the counts are read: a waiter that
    // counted itself after this read plans on the new snapshot anyway.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (r->waiting.load() == 0 && r->blocked.load() == 0) return;
    std::lock_guard<std::mutex> g(r->waits_mu);
    if (r->waits && r->waiting.load()) post_retry(r->waits);
    r->publishes++;
    r->published_cv.notify_all();
}

int plan_start_waiting(Router *r, const sy_request *req, void *storage, size_t size, sy_plan **out,
                       sy_plan_cb cb, void *data, uint32_t max_wait_ms, const char *bound, sy_error *err) {
    PlanSettings ps;
    sy_error e; // whole, whatever the size of the caller's
    e.struct_size = sizeof e;
    int rc = plan_start(r, req, storage, size, out, &ps, &e);
    if (rc != SY_EPENDING) {
        if (rc != SY_OK) copy_error(err, &e);
        return rc;
    }
    auto *w = r->alloc.make<Waiter>();
    if (!w) return fail(err, SY_ENOMEM, "", "out of memory");
    w->req = req;
    w->storage = storage;
    w->size = size;
    w->cb = cb;
    w->data = data;
    w->timeout_ms = ps.wait_timeout_ms;
    w->bound = "plan.wait_timeout_ms";
    if (max_wait_ms && max_wait_ms < ps.wait_timeout_ms) {
        w->timeout_ms = max_wait_ms;
        w->bound = bound;
    }
    uint64_t now = mono_ns();
    w->deadline_ns = add_ms(now, w->timeout_ms);
    w->retry_ns = add_ms(now, e.retry_after_ms);
    w->last = e;
    std::lock_guard<std::mutex> g(r->waits_mu);
    PlanWaits *pw = waits_get(r, err);
    if (!pw) {
        r->alloc.destroy(w);
        return err ? err->code : SY_ENOMEM;
    }
    if (pw->count >= ps.max_waiting) {
        r->alloc.destroy(w);
        return fail(err, SY_ELIMIT, e.path, "%u plans wait already (plan.max_waiting); this one would wait for: %s",
                    pw->count, e.message);
    }
    w->next = pw->list;
    pw->list = w;
    pw->count++;
    r->waiting.store(pw->count);
    // A publish between the first try and now found nobody waiting: a pass
    // at once covers it, and arms the timer for this waiter's hint.
    post_retry(pw);
    copy_error(err, &e);
    return SY_EPENDING;
}

} // namespace sy

using namespace sy;

extern "C" {

SY_API int sy_plan_init_async(sy_router *router, const sy_request *req, void *storage, size_t size,
                              sy_plan **out, sy_plan_cb cb, void *data, sy_error *err) {
    if (!valid_router(router) || !valid_request(req) || !storage || !out || !cb)
        return fail(err, SY_EINVAL, "",
                    "sy_plan_init_async: router, request, storage, out and cb are required");
    return plan_start_waiting(reinterpret_cast<Router *>(router), req, storage, size, out, cb, data, 0, nullptr,
                              err);
}
}
