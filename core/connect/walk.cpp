#include "connect/walk.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <optional>

#include "plan/plan.hpp"
#include "router/readers.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace sy {

namespace {

const char *outcome_word(uint32_t k) {
    switch (k) {
    case SY_OUTCOME_TIMEOUT: return "timeout";
    case SY_OUTCOME_REFUSED: return "refused";
    case SY_OUTCOME_RESET: return "reset";
    case SY_OUTCOME_TLS_ERROR: return "tls error";
    case SY_OUTCOME_RESOLVE_ERROR: return "resolve error";
    default: return "error";
    }
}

constexpr size_t kOwnAttempts = 64; // what an async connect keeps for its callback

// The connect's deadline before it has a plan (hence a generation): the
// caller's, else the current configuration's; 0: none.
uint32_t deadline_now(Router *r, const sy_connect_options &o, uint32_t *wait_timeout_ms = nullptr) {
    Snapshot *s = snapshot_acquire(r);
    uint32_t d = o.deadline_ms ? o.deadline_ms : s->gen->connect.deadline_ms;
    if (wait_timeout_ms) *wait_timeout_ms = s->gen->plan.wait_timeout_ms;
    snapshot_release(s);
    return d;
}

// A blocking connect whose plan is pending (shard_map asked its locator)
// waits for it as sy_plan_init_async would: retried on every publish and
// when the selector's hint is due, bounded by the connect deadline and
// plan.wait_timeout_ms. It sleeps on the caller's thread, so it needs no
// I/O engine and works in either io_mode.
class PendingWait {
public:
    PendingWait(Router *r, const sy_connect_options &o) : r_(r) {
        uint32_t deadline = deadline_now(r, o, &limit_ms_);
        if (deadline && deadline < limit_ms_) limit_ms_ = deadline;
        until_ns_ = mono_ns() + uint64_t{limit_ms_} * 1000000u;
        r_->blocked.fetch_add(1);
    }
    ~PendingWait() { r_->blocked.fetch_sub(1); }
    PendingWait(const PendingWait &) = delete;
    PendingWait &operator=(const PendingWait &) = delete;

    // Read before each try: a publish after it ends the next wait at once.
    uint64_t mark() {
        std::lock_guard<std::mutex> g(r_->waits_mu);
        return r_->publishes;
    }
    // After SY_EPENDING: true to try again, false when the time is up.
    bool wait(uint64_t seen, const sy_error &why) {
        uint64_t now = mono_ns();
        if (now >= until_ns_) return false;
        uint64_t hint = uint64_t{why.retry_after_ms ? why.retry_after_ms : 10u} * 1000000u;
        uint64_t left = until_ns_ - now;
        std::unique_lock<std::mutex> l(r_->waits_mu);
        r_->published_cv.wait_for(l, std::chrono::nanoseconds(hint < left ? hint : left),
                                  [&] { return r_->publishes != seen; });
        return true;
    }
    uint32_t limit_ms() const { return limit_ms_; }

private:
    Router *r_;
    uint32_t limit_ms_;
    uint64_t until_ns_;
};

} // namespace

Walk::~Walk() {
    if (plan_) sy_plan_release(plan_);
    if (storage_ && storage_ != &small_) cx_->alloc.free(storage_, storage_size_);
    for (Candidate *c : deferred_) cx_->alloc.destroy(c);
}

int Walk::begin(const sy_request *req, const sy_connect_options *opts, sy_attempt *attempts,
                size_t cap, bool async, sy_error *err, sy_plan_cb when_ready, void *ready_data) {
    sy_connect_options o = SY_STRUCT_INIT(sy_connect_options);
    if (opts) {
        if (opts->struct_size < offsetof(sy_connect_options, flags) + sizeof(uint32_t))
            return fail(err, SY_EINVAL, "", "sy_connect_options.struct_size %u is too small",
                        opts->struct_size);
        std::memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    }
    max_attempts_ = o.max_attempts;
    flags_ = o.flags;
    opt_timeout_ms_ = o.timeout_ms;
    opt_deadline_ms_ = o.deadline_ms;
    start_ns_ = mono_ns();
    if (async) {
        if (!own_.reserve(kOwnAttempts)) return fail(err, SY_ENOMEM, "", "out of memory");
        out_ = own_.data();
        cap_ = kOwnAttempts;
    } else if (attempts && cap) {
        // sy_attempt and sy_connect_result grow together: a caller's result
        // struct_size tells its header, hence its sy_attempt (one size so far).
        out_ = attempts;
        cap_ = cap;
    }
    // A reload between asking the size and starting the plan may grow it:
    // ask again then. A pending plan is waited for (blocking connects).
    std::optional<PendingWait> pending;
    for (int tries = 0;; tries++) {
        size_t need = sy_router_plan_size(reinterpret_cast<sy_router *>(r_));
        if (storage_ && storage_ != &small_) cx_->alloc.free(storage_, storage_size_);
        storage_ = &small_;
        storage_size_ = sizeof small_;
        if (need > sizeof small_ || async) { // async walks outlive the caller's stack
            if (!(storage_ = cx_->alloc.alloc(need, alignof(std::max_align_t))))
                return fail(err, SY_ENOMEM, "", "out of memory");
            storage_size_ = need;
        }
        uint64_t seen = pending ? pending->mark() : 0;
        sy_error e; // whole, whatever the size of the caller's
        e.struct_size = sizeof e;
        int rc = sy_plan_init(reinterpret_cast<sy_router *>(r_), req, storage_, storage_size_, &plan_, &e);
        if (rc == SY_EPENDING && async && when_ready) {
            // From here the waiter owns storage_ until when_ready runs; the
            // walk touches nothing else before adopt().
            rc = plan_start_waiting(r_, req, storage_, storage_size_, &plan_, when_ready, ready_data,
                                    deadline_now(r_, o), "the connect's deadline", &e);
            if (rc == SY_EPENDING) return SY_EPENDING;
        }
        if (rc == SY_EPENDING && !async) {
            if (!pending) { // the first time: count this walk as waiting, then try once more
                pending.emplace(r_, o);
                tries--;
                continue;
            }
            if (pending->wait(seen, e)) {
                tries--;
                continue;
            }
            return fail(err, SY_ETIMEOUT, e.path, "the plan was still pending after %u ms: %s", pending->limit_ms(),
                        e.message);
        }
        if (rc != SY_ETOOSMALL || tries == 3) {
            if (rc) {
                copy_error(err, &e);
                return rc;
            }
            break;
        }
    }
    started();
    return SY_OK;
}

void Walk::adopt(sy_plan *plan) {
    plan_ = plan;
    started();
}

void Walk::started() {
    // The walk keeps its plan, hence the generation it started on, and
    // follows that generation's settings to its end. The deadline counts
    // from the call, waiting for the plan included.
    cfg_ = &reinterpret_cast<const PlanHeader *>(plan_)->snap->gen->connect;
    timeout_ms_ = opt_timeout_ms_ ? opt_timeout_ms_ : cfg_->timeout_ms;
    deadline_ms_ = opt_deadline_ms_ ? opt_deadline_ms_ : cfg_->deadline_ms;
    deadline_ns_ = deadline_ms_ ? start_ns_ + uint64_t{deadline_ms_} * 1000000u : 0;
}

uint32_t Walk::attempt_ms() const {
    if (!deadline_ns_) return timeout_ms_;
    uint64_t now = mono_ns();
    uint64_t left = now < deadline_ns_ ? (deadline_ns_ - now + 999999) / 1000000 : 0;
    return left < timeout_ms_ ? static_cast<uint32_t>(left) : timeout_ms_;
}

bool Walk::next() {
    for (;;) {
        if (deadline_ns_ && mono_ns() >= deadline_ns_) {
            status_ = SY_ETIMEOUT;
            size_t n = std::strlen(why_);
            std::snprintf(why_ + n, sizeof why_ - n, "%sthe connect deadline of %u ms passed",
                          n ? "; " : "", deadline_ms_);
            return false;
        }
        if (max_attempts_ && tried_ >= max_attempts_) return false;
        if (!plan_done_) {
            sy_target t = SY_STRUCT_INIT(sy_target);
            int rc = sy_plan_next(plan_, &t);
            if (rc < 0) {
                status_ = rc;
                size_t n = std::strlen(why_);
                std::snprintf(why_ + n, sizeof why_ - n, "%sthe plan failed: %s", n ? "; " : "",
                              sy_status_str(rc));
                return false;
            }
            if (rc == 0) {
                plan_done_ = true;
                continue;
            }
            targets_++;
            if (!candidate_from(&cur_, &t)) {
                record(SY_EINVAL, SY_OUTCOME_OTHER_ERROR, SY_ATTEMPT_SKIPPED, 0,
                       "host name longer than 255 bytes");
                continue;
            }
            if (t.error || !t.host) {
                record(SY_ETRANSLATE, SY_OUTCOME_OTHER_ERROR, SY_ATTEMPT_SKIPPED, 0,
                       t.error ? t.error : "target without a host");
                continue;
            }
            int admit = 0;
            {
                std::lock_guard<std::mutex> g(cx_->mu);
                cur_.ep = endpoint_get(cx_, cur_.endpoint, true);
                cur_.drain_gen = cur_.ep ? cur_.ep->drain_gen : 0;
                admit = endpoint_admit(cx_, cur_.ep, connector_now(cx_));
            }
            if (admit < 0) { // open circuit: after everything else
                Candidate *d = cx_->alloc.make<Candidate>(cur_);
                if (d) d->deferred = true;
                if (d && deferred_.push(d)) continue;
                cx_->alloc.destroy(d);
                // out of memory: try it now rather than lose it
            }
            cur_.probe = admit > 0;
            return take_cur();
        }
        if (next_deferred_ < deferred_.size()) {
            cur_ = *deferred_[next_deferred_++];
            return take_cur();
        }
        return false;
    }
}

namespace {

void append(char *buf, size_t cap, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void append(char *buf, size_t cap, size_t *n, const char *fmt, ...) {
    if (*n >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = std::vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0) *n += static_cast<size_t>(k);
}

} // namespace

bool Walk::take_cur() {
    tried_++;
    size_t n = copy_str(pool_key_, sizeof pool_key_, cur_.endpoint);
    if (cur_.t.flags & SY_TARGET_TLS) {
        const sy_tls_profile *p = cur_.t.tls_profile;
        append(pool_key_, sizeof pool_key_, &n, "|tls:%s|sni:%s",
               p && p->cert_file ? p->cert_file : "", p && p->server_name ? p->server_name : "");
    }
    for (uint32_t i = 0; i < cur_.t.proxy_count && cur_.t.proxies[0].struct_size; i++) {
        const sy_proxy_hop *h = hop_at(cur_.t, i);
        const char *host = hop_host(h);
        append(pool_key_, sizeof pool_key_, &n, "|via:%s:%u", host ? host : "", h->port);
    }
    return true;
}

void Walk::record(int status, uint32_t outcome, uint32_t flags, uint64_t elapsed,
                  const char *msg) {
    if (count_ < cap_) {
        sy_attempt &a = out_[count_]; // filled in place: 672 bytes not copied
        std::memset(&a, 0, offsetof(sy_attempt, message) + 1);
        a.struct_size = sizeof a;
        a.status = status;
        a.outcome = outcome;
        a.flags = flags | ((cur_.t.flags & SY_TARGET_TLS) ? uint32_t{SY_ATTEMPT_TLS} : 0u);
        a.elapsed_ns = elapsed;
        a.port = cur_.t.port;
        a.proxy_count = cur_.t.proxy_count;
        copy_str(a.node, sizeof a.node, cur_.t.node);
        copy_str(a.host, sizeof a.host, cur_.t.host);
        copy_str(a.message, sizeof a.message, msg);
    }
    count_++;
    if (status != SY_OK) {
        if (!(flags & SY_ATTEMPT_SKIPPED)) status_ = status;
        // The summary keeps what fits: every attempt is in the array anyway.
        size_t n = std::strlen(why_);
        if (n + 8 < sizeof why_)
            std::snprintf(why_ + n, sizeof why_ - n, "%s%s (%s): %s", n ? "; " : "",
                          cur_.t.node ? cur_.t.node : "?", cur_.endpoint[0] ? cur_.endpoint : "-",
                          msg ? msg : outcome_word(outcome));
    }
}

void Walk::finished(const Attempt &a, uint64_t elapsed_ns, uint64_t end_ns) {
    uint32_t flags = (cur_.deferred ? uint32_t{SY_ATTEMPT_CIRCUIT_OPEN} : 0u) |
                     (cur_.probe ? uint32_t{SY_ATTEMPT_PROBE} : 0u);
    bool ok = a.status() == SY_OK;
    record(a.status(), a.outcome(), flags, elapsed_ns, ok ? "" : a.message());
    uint64_t now = cx_->clock_fn ? connector_now(cx_) : end_ns; // the same clock: no second read
    {
        std::lock_guard<std::mutex> g(cx_->mu);
        endpoint_record(cx_, cur_.ep, ok, elapsed_ns, now);
    }
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    o.kind = a.outcome();
    o.latency_ns = elapsed_ns;
    sy_router_report(reinterpret_cast<sy_router *>(r_), &cur_.t, &o);
}

Conn *Walk::from_pool() {
    if ((flags_ & SY_CONNECT_NO_POOL) || !cfg_->pool_max_idle || !cur_.ep) return nullptr;
    Conn *c = pool_checkout(cx_, cur_.ep, pool_key_);
    if (c) {
        record(SY_OK, SY_OUTCOME_SUCCESS, SY_ATTEMPT_POOLED, 0, "");
        // A reused connection ends a half-open probe without proving anything new.
        if (cur_.probe) {
            std::lock_guard<std::mutex> g(cx_->mu);
            cur_.ep->probing = false;
            if (cur_.ep->circuit == Circuit::HalfOpen) cur_.ep->circuit = Circuit::Open;
        }
    }
    return c;
}

Conn *Walk::make_conn(Attempt &a, sy_error *err) {
    Conn *c = cx_->alloc.make<Conn>(cx_);
    if (c) c->pool_key = cx_->alloc.strdup(pool_key_);
    if (!c || !c->pool_key) {
        if (c) cx_->alloc.destroy(c);
        fail(err, SY_ENOMEM, "", "out of memory");
        return nullptr;
    }
    c->pool_key_size = std::strlen(pool_key_) + 1;
    c->fd = a.take_fd(&c->tls, c->peer, sizeof c->peer);
    c->port = cur_.t.port;
    c->proxy_count = cur_.t.proxy_count;
    c->endpoint = cur_.ep;
    // Read when the walk took the target: a drain during the dial means the
    // address may already be stale, so this connection is not pooled.
    c->drain_gen = cur_.drain_gen;
    copy_str(c->node, sizeof c->node, cur_.t.node);
    copy_str(c->host, sizeof c->host, cur_.t.host);
    cx_->refs.fetch_add(1);
    return c;
}

int Walk::failure(sy_error *err) const {
    if (!targets_)
        return fail(err, SY_ENOROUTE, "", "the plan for this request has no target");
    int st = status_ ? status_ : SY_ENOROUTE; // nothing was tried: every target was skipped
    return fail(err, st, "", "no target connected (%zu attempt(s)): %s", count_, why_);
}

} // namespace sy
