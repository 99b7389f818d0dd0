// Walking a plan for a connect: which target comes next (circuit-open ones
// last), what each attempt did, and what the caller and the plugins are told.
// Both drivers (blocking and asynchronous) share it.
#pragma once
#include "connect/attempt.hpp"
#include "connect/conn.hpp"
#include "router/router.hpp"

namespace sy {

class Walk {
public:
    Walk(Router *r, Connector *cx) : r_(r), cx_(cx), deferred_(cx->alloc), own_(cx->alloc) {}
    ~Walk();
    Walk(const Walk &) = delete;
    Walk &operator=(const Walk &) = delete;

    // attempts: the caller's array (may be NULL); an async walk keeps its own
    // (for the callback) and its plan storage on the heap. A pending plan is
    // waited for: a blocking walk sleeps here; an async one with when_ready
    // returns SY_EPENDING and when_ready(ready_data) gets the plan (hand it to
    // adopt()) or why there is none, on the I/O thread.
    int begin(const sy_request *req, const sy_connect_options *opts, sy_attempt *attempts,
              size_t cap, bool async, sy_error *err, sy_plan_cb when_ready = nullptr,
              void *ready_data = nullptr);
    void adopt(sy_plan *plan);
    // The next target to try into cur(); false when there is none (or the
    // deadline or max_attempts ended the walk: then status() says so).
    bool next();
    Candidate &cur() { return cur_; }
    // The connect settings of the configuration the walk started on.
    const ConnectSettings &settings() const { return *cfg_; }
    // An idle pooled connection for cur(), or NULL.
    Conn *from_pool();
    // Per-attempt time limit in ms for cur(), bounded by the deadline.
    uint32_t attempt_ms() const;
    // end_ns: mono_ns() when the attempt ended.
    void finished(const Attempt &a, uint64_t elapsed_ns, uint64_t end_ns);
    // A connection for cur() from a finished attempt.
    Conn *make_conn(Attempt &a, sy_error *err);
    void pooled(Conn *c);

    // After the walk: the error (and status) when nothing connected.
    int failure(sy_error *err) const;
    size_t attempt_count() const { return count_; }
    const sy_attempt *attempts() const { return out_; }

private:
    void record(int status, uint32_t outcome, uint32_t flags, uint64_t elapsed, const char *msg);
    void started(); // the plan is there: its generation's settings apply
    bool take_cur(); // cur_ is the next to try

    Router *r_;
    Connector *cx_;
    sy_plan_storage small_;
    void *storage_ = nullptr; // small_ or heap
    size_t storage_size_ = 0;
    sy_plan *plan_ = nullptr;
    const ConnectSettings *cfg_ = nullptr;
    bool plan_done_ = false;
    Vec<Candidate *> deferred_;
    size_t next_deferred_ = 0;
    Candidate cur_;
    uint32_t timeout_ms_ = 0, max_attempts_ = 0, flags_ = 0, deadline_ms_ = 0;
    uint32_t opt_timeout_ms_ = 0, opt_deadline_ms_ = 0; // the caller's, 0: the config's
    uint64_t start_ns_ = 0, deadline_ns_ = 0;
    sy_attempt *out_ = nullptr;
    size_t cap_ = 0, count_ = 0, tried_ = 0, targets_ = 0;
    // Endpoint + TLS profile + hop chain: which connections are interchangeable.
    char pool_key_[1024] = {};
    Vec<sy_attempt> own_;
    int status_ = SY_OK;          // set when the walk stopped early, or the last failure
    char why_[SY_ERROR_MESSAGE_MAX] = {};
};

} // namespace sy
