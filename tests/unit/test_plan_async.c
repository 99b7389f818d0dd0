/* sy_plan_init_async: plans that wait for their selector (shard_map asking
 * its locator), retried on publish and on the selector's retry hint, bounded
 * by plan.max_waiting and plan.wait_timeout_ms, canceled when the router
 * goes; in both I/O modes. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <switchyard/shard_map.h>
#include <switchyard/switchyard.h>

#include "support/plugin_dir.h"

static sy_router *router_from(const char *json, int n, uint32_t io_mode) {
    assert_true(n > 0);
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.io_mode = io_mode;
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_new(json, (size_t)n, &o, &r, &err);
    if (rc) fail_msg("%s: %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

static sy_router *make(const char *extra, uint32_t io_mode) {
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
                     "{\"plugin_path\": [\"%s\"], %s \"topology\": {\"nodes\": ["
                     "{\"id\": \"n1\", \"host\": \"10.0.0.1\", \"port\": 25520},"
                     "{\"id\": \"n3\", \"host\": \"10.0.0.3\", \"port\": 25520}]},"
                     " \"selector\": {\"plugin\": \"shard_map\", \"config\": {\"shard_types\": "
                     "[{\"type\": \"counter\", \"num_shards\": 100}], \"allocations\": "
                     "[{\"type\": \"counter\", \"shard\": 87, \"node\": \"n1\"}],"
                     " \"locate\": {\"backoff_ms\": 40, \"backoff_max_ms\": 40, \"answer_timeout_ms\": 5000}}}}",
                     plugin_dir(), extra);
    assert_true((size_t)n < sizeof buf);
    return router_from(buf, n, io_mode);
}

/* The locator: counts asks, answers from within locate when told to. */
static struct {
    int asks;
    const sy_shard_map_allocations *a;
    void *inst;
    const char *answer; /* node to name from within locate, or NULL */
} g_loc;

static void apply_owner(uint32_t shard, const char *node) {
    char json[160];
    int n = snprintf(json, sizeof json, "{\"allocations\": [{\"type\": \"counter\", \"shard\": %u, \"node\": \"%s\"}]}",
                     shard, node);
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(g_loc.a->apply(g_loc.inst, json, (size_t)n, &err), SY_OK);
}

static int locate_cb(const char *type, uint32_t shard, void *ud) {
    (void)type;
    (void)ud;
    __atomic_add_fetch(&g_loc.asks, 1, __ATOMIC_SEQ_CST);
    if (g_loc.answer) apply_owner(shard, g_loc.answer);
    return SY_OK;
}

static void set_locator(sy_router *r) {
    memset(&g_loc, 0, sizeof g_loc);
    const void *a;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_get_interface(r, "shard_map", SY_SHARD_MAP_ALLOCATIONS, 2, &a, &g_loc.inst, &err), SY_OK);
    g_loc.a = a;
    sy_shard_locator l = SY_STRUCT_INIT(sy_shard_locator);
    l.locate = locate_cb;
    assert_int_equal(g_loc.a->set_locator(g_loc.inst, &l, &err), SY_OK);
}

/* One asynchronous plan and what its callback saw. */
typedef struct {
    sy_request *req;
    sy_plan_storage st;
    int calls;
    int status;
    char first[32];
    char message[SY_ERROR_MESSAGE_MAX];
    pthread_t thread;
} Wait;

static void on_plan(int status, sy_plan *plan, const sy_error *err, void *data) {
    Wait *w = data;
    w->status = status;
    w->thread = pthread_self();
    w->first[0] = 0;
    w->message[0] = 0;
    if (status == SY_OK) {
        assert_non_null(plan);
        assert_null(err);
        sy_target t = SY_STRUCT_INIT(sy_target);
        if (sy_plan_next(plan, &t) == 1) snprintf(w->first, sizeof w->first, "%s", t.node);
        sy_plan_release(plan);
    } else {
        assert_null(plan);
        assert_non_null(err);
        assert_int_equal(err->code, status);
        snprintf(w->message, sizeof w->message, "%s", err->message);
    }
    __atomic_add_fetch(&w->calls, 1, __ATOMIC_SEQ_CST);
}

static int start(sy_router *r, Wait *w, const char *id, sy_error *err) {
    memset(w, 0, sizeof *w);
    assert_int_equal(sy_request_new(r, &w->req, err), SY_OK);
    assert_int_equal(sy_request_set_entity(w->req, "counter", id), SY_OK);
    sy_plan *p = NULL;
    int rc = sy_plan_init_async(r, w->req, &w->st, sizeof w->st, &p, on_plan, w, err);
    if (rc == SY_OK) {
        sy_target t = SY_STRUCT_INIT(sy_target);
        assert_int_equal(sy_plan_next(p, &t), 1);
        snprintf(w->first, sizeof w->first, "%s", t.node);
        sy_plan_release(p);
    } else {
        assert_null(p);
    }
    return rc;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* SY_IO_CALLER: runs the engine until w completed (or ms passed). */
static void run_until(sy_router *r, Wait *w, uint32_t ms) {
    uint64_t end = now_ms() + ms;
    while (!__atomic_load_n(&w->calls, __ATOMIC_SEQ_CST) && now_ms() < end) assert_true(sy_router_run_once(r, 10) >= 0);
}

static void wait_thread(Wait *w, uint32_t ms) {
    uint64_t end = now_ms() + ms;
    while (!__atomic_load_n(&w->calls, __ATOMIC_SEQ_CST) && now_ms() < end) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* A hit plans at once, a miss waits for its answer, an error fails at once. */
static void test_ready_pending_failed(void **state) {
    (void)state;
    sy_router *r = make("", SY_IO_CALLER);
    set_locator(r);
    sy_error err = SY_STRUCT_INIT(sy_error);
    Wait hit, miss, bad;
    assert_int_equal(start(r, &hit, "user-42", &err), SY_OK); /* shard 87 */
    assert_string_equal(hit.first, "n1");
    assert_int_equal(start(r, &miss, "alice", &err), SY_EPENDING); /* shard 70 */
    assert_int_equal(err.code, SY_EPENDING);
    assert_non_null(strstr(err.message, "shard 70 of 'counter' has no known owner: asked the locator"));
    assert_int_equal(g_loc.asks, 1);
    /* nothing arrives: the waiter waits (a pass or two, no callback) */
    run_until(r, &miss, 60);
    assert_int_equal(miss.calls, 0);
    assert_int_equal(g_loc.asks, 1);
    apply_owner(70, "n3");
    run_until(r, &miss, 2000);
    assert_int_equal(miss.calls, 1);
    assert_int_equal(miss.status, SY_OK);
    assert_string_equal(miss.first, "n3");
    memset(&bad, 0, sizeof bad);
    assert_int_equal(sy_request_new(r, &bad.req, &err), SY_OK);
    assert_int_equal(sy_request_set_entity(bad.req, "nope", "x"), SY_OK);
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init_async(r, bad.req, &bad.st, sizeof bad.st, &p, on_plan, &bad, &err), SY_EREQUEST);
    assert_string_equal(err.path, "entity.type");
    assert_int_equal(sy_plan_init_async(r, bad.req, &bad.st, sizeof bad.st, &p, NULL, &bad, &err), SY_EINVAL);
    run_until(r, &bad, 20);
    assert_int_equal(bad.calls, 0);
    /* sy_plan_init itself stays synchronous */
    assert_int_equal(sy_plan_init(r, miss.req, &miss.st, sizeof miss.st, &p, &err), SY_OK);
    sy_plan_release(p);
    sy_request_free(hit.req);
    sy_request_free(miss.req);
    sy_request_free(bad.req);
    sy_router_free(r);
}

/* With no publish at all, the selector's retry hint brings the retry: an
 * evicted owner's shard is re-located after its backoff. */
static void test_retry_on_hint(void **state) {
    (void)state;
    sy_router *r = make("", SY_IO_CALLER);
    set_locator(r);
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_target t = SY_STRUCT_INIT(sy_target);
    t.node = "n1";
    t.node_index = UINT32_MAX;
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    o.kind = SY_OUTCOME_REFUSED;
    assert_int_equal(sy_router_report(r, &t, &o), SY_OK);
    Wait w;
    assert_int_equal(start(r, &w, "user-42", &err), SY_EPENDING);
    assert_non_null(strstr(err.message, "re-locating in"));
    /* the backoff (20-40 ms, jittered) less the time since the report: this
     * router runs on the real clock, and a slow (TSan) run spends some */
    assert_in_range(err.retry_after_ms, 1, 40);
    assert_int_equal(g_loc.asks, 0);
    g_loc.answer = "n3"; /* the coordinator moved it */
    run_until(r, &w, 2000);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.status, SY_OK);
    assert_string_equal(w.first, "n3");
    assert_int_equal(g_loc.asks, 1);
    sy_request_free(w.req);
    sy_router_free(r);
}

/* plan.wait_timeout_ms and plan.max_waiting. */
static void test_bounds(void **state) {
    (void)state;
    sy_router *r = make("\"plan\": {\"max_waiting\": 2, \"wait_timeout_ms\": 80},", SY_IO_CALLER);
    set_locator(r);
    sy_error err = SY_STRUCT_INIT(sy_error);
    Wait a, b, c;
    uint64_t t0 = now_ms();
    assert_int_equal(start(r, &a, "alice", &err), SY_EPENDING);
    assert_int_equal(start(r, &b, "bob", &err), SY_EPENDING);
    assert_int_equal(start(r, &c, "carol", &err), SY_ELIMIT);
    assert_non_null(strstr(err.message, "2 plans wait already (plan.max_waiting)"));
    run_until(r, &a, 3000);
    run_until(r, &b, 3000);
    assert_true(now_ms() - t0 >= 80);
    assert_int_equal(a.status, SY_ETIMEOUT);
    assert_non_null(strstr(a.message, "still pending after 80 ms (plan.wait_timeout_ms)"));
    if (!strstr(a.message, "has no known owner")) fail_msg("%s", a.message);
    assert_int_equal(b.status, SY_ETIMEOUT);
    assert_int_equal(a.calls + b.calls, 2);
    /* room again */
    sy_request_free(c.req);
    assert_int_equal(start(r, &c, "carol", &err), SY_EPENDING);
    sy_request_free(a.req);
    sy_request_free(b.req);
    /* freeing the router tells the waiter */
    sy_router_free(r);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, SY_ECANCELED);
    assert_non_null(strstr(c.message, "freed before the plan was ready"));
    sy_request_free(c.req);
}

/* SY_IO_THREAD: the answer arrives from another thread, the callback runs on
 * the library's. */
static void test_io_thread(void **state) {
    (void)state;
    sy_router *r = make("", SY_IO_THREAD);
    set_locator(r);
    sy_error err = SY_STRUCT_INIT(sy_error);
    Wait w, x;
    assert_int_equal(start(r, &w, "alice", &err), SY_EPENDING);
    assert_int_equal(start(r, &x, "bob", &err), SY_EPENDING);
    apply_owner(70, "n3");
    wait_thread(&w, 5000);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.status, SY_OK);
    assert_string_equal(w.first, "n3");
    assert_false(pthread_equal(w.thread, pthread_self()));
    assert_int_equal(x.calls, 0);
    sy_router_free(r); /* x is still waiting */
    assert_int_equal(x.calls, 1);
    assert_int_equal(x.status, SY_ECANCELED);
    sy_request_free(w.req);
    sy_request_free(x.req);
}

static void test_plan_config_errors(void **state) {
    (void)state;
    static const struct {
        const char *plan, *path, *message;
    } cases[] = {
        {"1", "plan", "expected an object"},
        {"{\"max_waiting\": -1}", "plan.max_waiting", ""},
        {"{\"wait_timeout_ms\": 0}", "plan.wait_timeout_ms", ""},
        {"{\"waiters\": 3}", "plan.waiters", "unknown key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cfg[256];
        snprintf(cfg, sizeof cfg, "{\"plan\": %s, \"topology\": {\"nodes\": []}, \"selector\": {\"plugin\": \"nope\"}}",
                 cases[i].plan);
        sy_error err = SY_STRUCT_INIT(sy_error);
        sy_router *r = NULL;
        int rc = sy_router_new(cfg, strlen(cfg), NULL, &r, &err);
        if (rc != SY_ECONFIG || strcmp(err.path, cases[i].path) || !strstr(err.message, cases[i].message))
            fail_msg("case %zu: %s at '%s': %s", i, sy_status_name(rc), err.path, err.message);
        assert_null(r);
    }
}

/* ---------------------------------------------------------------- blocking connects */

/* A listening socket on loopback: connects to it complete in the kernel. */
static int listener(uint32_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* n2 listens on loopback; no shard has an owner yet. */
static sy_router *make_loopback(uint32_t port) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf,
                     "{\"plugin_path\": [\"%s\"], \"topology\": {\"nodes\": ["
                     "{\"id\": \"n1\", \"host\": \"10.0.0.1\", \"port\": 25520},"
                     "{\"id\": \"n2\", \"host\": \"127.0.0.1\", \"port\": %u}]},"
                     " \"selector\": {\"plugin\": \"shard_map\", \"config\": {\"shard_types\": "
                     "[{\"type\": \"counter\", \"num_shards\": 100}],"
                     " \"locate\": {\"answer_timeout_ms\": 5000}}}}",
                     plugin_dir(), port);
    assert_true((size_t)n < sizeof buf);
    return router_from(buf, n, SY_IO_CALLER);
}

static void *answer_later(void *arg) {
    (void)arg;
    struct timespec ts = {0, 40 * 1000000};
    nanosleep(&ts, NULL);
    apply_owner(70, "n2");
    return NULL;
}

/* sy_router_connect waits for a pending plan (on the caller's thread, woken
 * by the publish that brings the answer), and gives up at its deadline. */
static void test_connect_waits_for_the_plan(void **state) {
    (void)state;
    uint32_t port;
    int fd = listener(&port);
    sy_router *r = make_loopback(port);
    set_locator(r);
    sy_request *req;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &req, &err), SY_OK);
    assert_int_equal(sy_request_set_entity(req, "counter", "alice"), SY_OK); /* shard 70 */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, answer_later, NULL), 0);
    uint64_t t0 = now_ms();
    sy_conn *c = NULL;
    int rc = sy_router_connect(r, req, NULL, &c, NULL, &err);
    uint64_t took = now_ms() - t0;
    assert_int_equal(pthread_join(th, NULL), 0);
    if (rc) fail_msg("%s: %s", sy_status_name(rc), err.message);
    assert_true(took >= 30);   /* it did wait for the answer */
    assert_true(took < 2000); /* woken by the publish, not by plan.wait_timeout_ms */
    sy_conn_info info = SY_STRUCT_INIT(sy_conn_info);
    assert_int_equal(sy_conn_get_info(c, &info), SY_OK);
    assert_int_equal(info.port, port);
    assert_string_equal(info.node, "n2");
    sy_conn_close(c);
    assert_int_equal(g_loc.asks, 1);

    /* no answer: the connect's deadline ends the wait, and says why */
    sy_request *other;
    assert_int_equal(sy_request_new(r, &other, &err), SY_OK);
    assert_int_equal(sy_request_set_entity(other, "counter", "user-42"), SY_OK); /* shard 87 */
    sy_connect_options o = SY_STRUCT_INIT(sy_connect_options);
    o.deadline_ms = 120;
    t0 = now_ms();
    c = NULL;
    assert_int_equal(sy_router_connect(r, other, &o, &c, NULL, &err), SY_ETIMEOUT);
    took = now_ms() - t0;
    assert_null(c);
    assert_true(took >= 110 && took < 3000);
    assert_non_null(strstr(err.message, "the plan was still pending after 120 ms"));
    assert_non_null(strstr(err.message, "shard 87 of 'counter' has no known owner"));
    assert_int_equal(g_loc.asks, 2); /* asked once: the answer timeout is 5 s */
    sy_request_free(other);
    sy_request_free(req);
    sy_router_free(r);
    close(fd);
}

/* An asynchronous connect and what its callback saw. */
typedef struct {
    int calls;
    int status;
    size_t attempts;
    char node[16];
    char message[SY_ERROR_MESSAGE_MAX];
} Conn;

static void on_conn(int status, sy_conn *conn, const sy_attempt *attempts, size_t attempt_count,
                    const sy_error *err, void *data) {
    (void)attempts;
    Conn *c = data;
    c->status = status;
    c->attempts = attempt_count;
    if (conn) {
        sy_conn_info info = SY_STRUCT_INIT(sy_conn_info);
        if (sy_conn_get_info(conn, &info) == SY_OK) snprintf(c->node, sizeof c->node, "%s", info.node);
        sy_conn_close(conn);
    }
    if (err) snprintf(c->message, sizeof c->message, "%s", err->message);
    __atomic_add_fetch(&c->calls, 1, __ATOMIC_SEQ_CST);
}

static void run_conn(sy_router *r, Conn *c, uint32_t ms) {
    uint64_t end = now_ms() + ms;
    while (!__atomic_load_n(&c->calls, __ATOMIC_SEQ_CST) && now_ms() < end) assert_true(sy_router_run_once(r, 10) >= 0);
}

/* sy_router_connect_async waits for a pending plan on the I/O engine, within
 * its deadline, and hears SY_ECANCELED when the router goes first. */
static void test_connect_async_waits_for_the_plan(void **state) {
    (void)state;
    uint32_t port;
    int fd = listener(&port);
    sy_router *r = make_loopback(port);
    set_locator(r);
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_request *req, *other, *third;
    assert_int_equal(sy_request_new(r, &req, &err), SY_OK);
    assert_int_equal(sy_request_set_entity(req, "counter", "alice"), SY_OK); /* shard 70 */
    assert_int_equal(sy_request_new(r, &other, &err), SY_OK);
    assert_int_equal(sy_request_set_entity(other, "counter", "user-42"), SY_OK); /* shard 87 */
    assert_int_equal(sy_request_new(r, &third, &err), SY_OK);
    assert_int_equal(sy_request_set_entity(third, "counter", "e-1"), SY_OK);

    Conn a = {0}, late = {0}, gone = {0};
    assert_int_equal(sy_router_connect_async(r, req, NULL, on_conn, &a, &err), SY_OK);
    assert_int_equal(err.code, SY_OK);
    run_conn(r, &a, 60);
    assert_int_equal(a.calls, 0); /* no owner yet: it waits */
    apply_owner(70, "n2");
    run_conn(r, &a, 2000);
    assert_int_equal(a.calls, 1);
    if (a.status) fail_msg("%s: %s", sy_status_name(a.status), a.message);
    assert_string_equal(a.node, "n2");
    assert_int_equal(a.attempts, 1);

    /* no answer: the connect's deadline bounds the wait */
    sy_connect_options o = SY_STRUCT_INIT(sy_connect_options);
    o.deadline_ms = 100;
    uint64_t t0 = now_ms();
    assert_int_equal(sy_router_connect_async(r, other, &o, on_conn, &late, &err), SY_OK);
    run_conn(r, &late, 3000);
    assert_int_equal(late.calls, 1);
    assert_int_equal(late.status, SY_ETIMEOUT);
    assert_true(now_ms() - t0 >= 90);
    assert_non_null(strstr(late.message, "still pending after 100 ms (the connect's deadline)"));
    assert_non_null(strstr(late.message, "shard 87 of 'counter' has no known owner"));
    assert_int_equal(late.attempts, 0);

    /* still waiting when the router is freed: canceled, once */
    assert_int_equal(sy_router_connect_async(r, third, NULL, on_conn, &gone, &err), SY_OK);
    run_conn(r, &gone, 30);
    assert_int_equal(gone.calls, 0);
    sy_router_free(r);
    assert_int_equal(gone.calls, 1);
    assert_int_equal(gone.status, SY_ECANCELED);
    sy_request_free(third);
    sy_request_free(other);
    sy_request_free(req);
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_pending_failed),
        cmocka_unit_test(test_retry_on_hint),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_io_thread),
        cmocka_unit_test(test_plan_config_errors),
        cmocka_unit_test(test_connect_waits_for_the_plan),
        cmocka_unit_test(test_connect_async_waits_for_the_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
