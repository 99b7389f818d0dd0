// Asynchronous connects on Asio. Each step of an attempt that would block
// becomes an async_wait on its socket, raced by a timer; a generation number
// per attempt discards the handler that lost the race. The socket is
// registered with the reactor only while a wait is out, so the attempt may
// close or replace it between steps.
#include <thread>

#include "connect/asio.hpp"
#include "connect/io.hpp"
#include "connect/walk.hpp"
#include "util/error.hpp"

namespace sy {

struct Op;

struct Io {
    asio::io_context ctx{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{ctx.get_executor()};
    std::thread thread;
    std::mutex mu; // ops
    Op *ops = nullptr;
    void (*at_stop)(void *) = nullptr; // io_at_stop
    void *at_stop_data = nullptr;
};

struct Op {
    Op *prev = nullptr, *next = nullptr;
    Router *r;
    Connector *cx;
    Io *io;
    Walk walk;
    Attempt *att = nullptr;
    asio::posix::stream_descriptor sd;
    asio::steady_timer timer;
    asio::ip::tcp::resolver resolver;
    sy_connect_cb cb;
    void *data;
    uint64_t gen = 0; // of the current attempt
    uint64_t t0 = 0;
    uint32_t ms = 0;
    bool expired = false;
    // Handlers Asio still owes us: a cancelled wait still runs its handler,
    // so the op is freed by the last one, never under one.
    uint32_t pending = 0;
    bool done = false;

    Op(Router *router, Connector *c, Io *i, sy_connect_cb f, void *d)
        : r(router), cx(c), io(i), walk(router, c), sd(i->ctx), timer(i->ctx), resolver(i->ctx),
          cb(f), data(d) {}
};

int addrs_from_results(const asio::ip::tcp::resolver::results_type &r, uint32_t port, Addrs *out,
                       char *msg, size_t msg_size) {
    out->n = 0;
    for (int pass = 0; pass < 2; pass++) { // IPv4 first
        for (const auto &e : r) {
            const asio::ip::tcp::endpoint ep = e.endpoint();
            if (ep.address().is_v4() != (pass == 0) || out->n == kMaxAddrs) continue;
            std::memset(&out->a[out->n], 0, sizeof out->a[out->n]);
            std::memcpy(&out->a[out->n], ep.data(), ep.size());
            out->len[out->n] = static_cast<socklen_t>(ep.size());
            out->n++;
        }
    }
    if (!out->n) {
        std::snprintf(msg, msg_size, "no addresses");
        return SY_ECONNECT;
    }
    addrs_set_port(out, port);
    return SY_OK;
}

namespace {

void op_next(Op *op);

void op_unlink(Io *io, Op *op) {
    std::lock_guard<std::mutex> g(io->mu);
    if (op->prev) op->prev->next = op->next;
    else io->ops = op->next;
    if (op->next) op->next->prev = op->prev;
    op->prev = op->next = nullptr;
}

// A wait may be out or not: cancelling none is not an error here.
void cancel_wait(Op *op) {
    asio::error_code ignored;
    op->sd.cancel(ignored);
}

void op_destroy(Op *op) {
    op_unlink(op->io, op);
    op->sd.release();
    if (op->att) op->cx->alloc.destroy(op->att);
    op->cx->alloc.destroy(op);
}

// A handler starts: false when the op already completed (then the last
// handler frees it).
bool op_enter(Op *op) {
    op->pending--;
    if (!op->done) return true;
    if (!op->pending) op_destroy(op);
    return false;
}

void op_complete(Op *op, int rc, Conn *conn, const sy_error *err) {
    // The attempts live in the walk: call back first, then free.
    op->cb(rc, reinterpret_cast<sy_conn *>(conn), op->walk.attempts(), op->walk.attempt_count(),
           err, op->data);
    op->done = true;
    cancel_wait(op);
    op->timer.cancel();
    op->resolver.cancel();
    if (!op->pending) op_destroy(op);
}

void op_fail(Op *op) {
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = op->walk.failure(&err);
    op_complete(op, rc, nullptr, &err);
}

// The current attempt says what it waits for (or that it ended).
void op_step(Op *op, Step s) {
    if ((s == Step::Read || s == Step::Write) && op->expired) {
        op->att->timed_out(op->ms);
        s = Step::Failed;
    }
    if (s == Step::Read || s == Step::Write) {
        asio::error_code ec;
        op->sd.assign(op->att->fd(), ec);
        if (ec) {
            op->att->fail(SY_EIO, SY_OUTCOME_OTHER_ERROR, "cannot wait on the socket: %s",
                          ec.message().c_str());
            s = Step::Failed;
        } else {
            uint64_t gen = op->gen;
            op->pending++;
            op->sd.async_wait(s == Step::Read ? asio::posix::stream_descriptor::wait_read
                                              : asio::posix::stream_descriptor::wait_write,
                              [op, gen](const asio::error_code &) {
                                  if (!op_enter(op) || op->gen != gen) return;
                                  op->sd.release(); // the attempt may close the socket now
                                  op_step(op, op->expired ? Step::Read : op->att->resume());
                              });
            return;
        }
    }
    op->timer.cancel();
    op->gen++;
    uint64_t end = mono_ns();
    op->walk.finished(*op->att, end - op->t0, end);
    if (s == Step::Done) {
        sy_error err = SY_STRUCT_INIT(sy_error);
        Conn *c = op->walk.make_conn(*op->att, &err);
        op->cx->alloc.destroy(op->att);
        op->att = nullptr;
        op_complete(op, c ? SY_OK : SY_ENOMEM, c, c ? nullptr : &err);
        return;
    }
    op->cx->alloc.destroy(op->att);
    op->att = nullptr;
    op_next(op);
}

void op_start(Op *op, const Addrs &a) { op_step(op, op->att->start(a)); }

// The plan an async connect waited for (plan/wait.cpp, on the I/O thread;
// or while the router is freed, with SY_ECANCELED).
void op_plan_ready(int status, sy_plan *plan, const sy_error *err, void *data) {
    auto *op = static_cast<Op *>(data);
    if (status != SY_OK) return op_complete(op, status, nullptr, err);
    op->walk.adopt(plan);
    op_next(op);
}

void op_next(Op *op) {
    if (!op->walk.next()) return op_fail(op);
    if (Conn *c = op->walk.from_pool()) return op_complete(op, SY_OK, c, nullptr);
    op->att = op->cx->alloc.make<Attempt>(op->cx, &op->walk.cur(), &op->walk.settings());
    if (!op->att) {
        sy_error err = SY_STRUCT_INIT(sy_error);
        fail(&err, SY_ENOMEM, "", "out of memory");
        return op_complete(op, SY_ENOMEM, nullptr, &err);
    }
    op->gen++;
    op->expired = false;
    op->t0 = mono_ns();
    op->ms = op->walk.attempt_ms();
    uint64_t gen = op->gen;
    op->timer.expires_after(std::chrono::milliseconds(op->ms));
    op->pending++;
    op->timer.async_wait([op, gen](const asio::error_code &ec) {
        if (!op_enter(op) || ec || op->gen != gen) return;
        op->expired = true;
        // Wake whatever the attempt waits on; its handler sees `expired`.
        cancel_wait(op);
        op->resolver.cancel();
    });
    const char *h = op->att->first_host();
    uint32_t port = op->att->first_port();
    Addrs addrs;
    if (!h) {
        op->att->resolve_failed("no host name");
        return op_step(op, Step::Failed);
    }
    if (addrs_known(op->cx, h, port, op->att->resolve_each(), &addrs)) return op_start(op, addrs);
    op->pending++;
    op->resolver.async_resolve(
        h, "", [op, gen, port](const asio::error_code &ec,
                               asio::ip::tcp::resolver::results_type results) {
            if (!op_enter(op) || op->gen != gen) return;
            if (op->expired) return op_step(op, Step::Read); // reports the timeout
            Addrs a;
            char why[200];
            if (ec || addrs_from_results(results, port, &a, why, sizeof why) != SY_OK) {
                op->att->resolve_failed(ec ? ec.message().c_str() : why);
                return op_step(op, Step::Failed);
            }
            dns_store(op->cx, op->att->first_host(), a);
            op_start(op, a);
        });
}

Io *io_get(Connector *c, sy_error *err) {
    std::lock_guard<std::mutex> g(c->mu);
    if (c->io) return c->io;
    if (!c->accepting) {
        fail(err, SY_EMISUSE, "", "the router is being freed");
        return nullptr;
    }
    Io *io = c->alloc.make<Io>();
    if (!io) {
        fail(err, SY_ENOMEM, "", "out of memory");
        return nullptr;
    }
    if (c->io_mode == SY_IO_THREAD) io->thread = std::thread([io] { io->ctx.run(); });
    c->io = io;
    return io;
}

} // namespace

Io *io_acquire(Connector *c, sy_error *err) { return io_get(c, err); }

asio::io_context &io_context(Io *io) { return io->ctx; }

void io_at_stop(Io *io, void (*fn)(void *), void *data) {
    std::lock_guard<std::mutex> g(io->mu);
    io->at_stop = fn;
    io->at_stop_data = data;
}

void io_shutdown(Connector *c) {
    Io *io = nullptr;
    {
        std::lock_guard<std::mutex> g(c->mu);
        io = c->io;
        c->io = nullptr;
    }
    if (!io) return;
    io->work.reset();
    io->ctx.stop();
    if (io->thread.joinable()) io->thread.join();
    if (io->at_stop) io->at_stop(io->at_stop_data);
    // Ops stay listed until their last handler ran; the stopped context will
    // never run the rest. Those not yet completed are told so.
    while (Op *op = io->ops) {
        op->pending = 0;
        if (op->done) {
            op_destroy(op);
            continue;
        }
        sy_error err = SY_STRUCT_INIT(sy_error);
        fail(&err, SY_ECANCELED, "", "the router was freed before the connect finished");
        op_complete(op, SY_ECANCELED, nullptr, &err);
    }
    c->alloc.destroy(io);
}

} // namespace sy

using namespace sy;

extern "C" {

SY_API int sy_router_connect_async(sy_router *router, const sy_request *req,
                                   const sy_connect_options *opts, sy_connect_cb cb, void *data,
                                   sy_error *err) {
    if (!valid_router(router) || !req || !cb)
        return fail(err, SY_EINVAL, "", "sy_router_connect_async: router, req and cb are required");
    Router *r = reinterpret_cast<Router *>(router);
    Connector *cx = r->connector;
    Io *io = io_get(cx, err);
    if (!io) return err ? err->code : SY_ENOMEM;
    Op *op = cx->alloc.make<Op>(r, cx, io, cb, data);
    if (!op) return fail(err, SY_ENOMEM, "", "out of memory");
    // Listed first: a plan that waits may come back on the I/O thread before
    // begin() returns, and the router's teardown must find the op.
    {
        std::lock_guard<std::mutex> g(io->mu);
        op->next = io->ops;
        if (io->ops) io->ops->prev = op;
        io->ops = op;
    }
    int rc = op->walk.begin(req, opts, nullptr, 0, true, err, op_plan_ready, op);
    if (rc == SY_EPENDING) {
        if (err) clear_error(err); // started: op_plan_ready goes on
        return SY_OK;
    }
    if (rc) {
        op_unlink(io, op);
        cx->alloc.destroy(op);
        return rc;
    }
    op->pending++;
    asio::post(io->ctx, [op] {
        if (op_enter(op)) op_next(op);
    });
    return SY_OK;
}

SY_API int sy_router_run_once(sy_router *router, uint32_t timeout_ms) {
    if (!valid_router(router)) return SY_EINVAL;
    Connector *cx = reinterpret_cast<Router *>(router)->connector;
    if (cx->io_mode != SY_IO_CALLER) return SY_EMISUSE;
    sy_error err = SY_STRUCT_INIT(sy_error);
    Io *io = io_get(cx, &err);
    if (!io) return err.code;
    size_t n = io->ctx.run_one_for(std::chrono::milliseconds(timeout_ms));
    if (n) n += io->ctx.poll();
    if (io->ctx.stopped()) io->ctx.restart();
    return static_cast<int>(n > INT32_MAX ? INT32_MAX : n);
}
}
