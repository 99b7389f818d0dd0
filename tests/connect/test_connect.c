/* The connector end to end, against real sockets on loopback that the test
 * starts itself: fail-over past a refused port and past a listener whose
 * backlog is full (the SYN is dropped: a real timeout), pools (reuse, a
 * connection the peer closed is never handed out), circuit breakers (with a
 * fake clock), the asynchronous connect on the library's thread and on the
 * caller's, cancellation at router free, misuse, and a stress run that must
 * leak no file descriptor. Then client_routes targets: resolved at every
 * connect with a random pick among the answers (against a fake DNS, see
 * below), the SNI they send, and pools drained when a route changes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <switchyard/client_routes.h>
#include <switchyard/switchyard.h>

#include "support/connect_run.h"
#include "support/echo_server.h"
#include "support/plugin_dir.h"

#define MAXA CONNECT_RUN_MAX

/* ---------------------------------------------------------------- helpers */

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

/* A loopback port nobody listens on. */
static int dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A listener that never accepts, its queue filled, so further SYNs are
 * dropped and a connect to it hangs until the connector gives up. */
typedef struct blackhole {
    int listen_fd;
    int fillers[32];
    int nfill;
    int port;
} blackhole;

static void blackhole_start(blackhole *b) {
    memset(b, 0, sizeof *b);
    b->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(b->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(b->listen_fd, 0), 0);
    assert_int_equal(getsockname(b->listen_fd, (struct sockaddr *)&a, &len), 0);
    b->port = ntohs(a.sin_port);
    for (;;) { /* fill until a connect no longer completes */
        assert_true(b->nfill < 32);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        b->fillers[b->nfill++] = fd;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) continue;
        assert_int_equal(errno, EINPROGRESS);
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 100) == 0) break;
    }
}

static void blackhole_stop(blackhole *b) {
    for (int i = 0; i < b->nfill; i++) close(b->fillers[i]);
    close(b->listen_fd);
}

static _Atomic uint64_t fake_now = 1000000000;
static uint64_t fake_clock(void *data) {
    (void)data;
    return atomic_load(&fake_now);
}

/* A router from cfg, which must load. */
static sy_router *new_router(const char *cfg, const sy_router_options *o) {
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_new(cfg, strlen(cfg), o, &r, &err);
    if (rc) fprintf(stderr, "router: %s: %s\n", err.path, err.message);
    assert_int_equal(rc, SY_OK);
    return r;
}

/* A router whose static routes are `routes`, with `connect` as its connect section. */
static sy_router *router_with(const char *routes, const char *connect, const sy_router_options *o) {
    char cfg[8192];
    snprintf(cfg, sizeof cfg,
             "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"static_routes\", "
             "\"config\": {\"routes\": %s}}, \"connect\": %s}",
             plugin_dir(), routes, connect ? connect : "{}");
    return new_router(cfg, o);
}

/* Two routes for node "svc": first (weight 30) then second (weight 20);
 * "first" alone also answers node "first". */
static sy_router *two_routes(int first, int second, const char *connect,
                             const sy_router_options *o) {
    char routes[512];
    snprintf(routes, sizeof routes,
             "[{\"pattern\": \"^(svc|first)$\", \"weight\": 30, \"host\": \"127.0.0.1\", \"port\": %d},"
             " {\"pattern\": \"^svc$\", \"weight\": 20, \"host\": \"127.0.0.1\", \"port\": %d}]",
             first, second);
    return router_with(routes, connect, o);
}

static sy_request *request_for(sy_router *r, const char *node) {
    sy_request *q = NULL;
    assert_int_equal(sy_request_new(r, &q, NULL), SY_OK);
    assert_int_equal(sy_request_set_node(q, node), SY_OK);
    return q;
}

/* The server's thread accepts after the kernel completed the connect: wait for it. */
static unsigned long accepted(const echo_server *srv, unsigned long want) {
    for (int i = 0; i < 200 && echo_server_accepted(srv) < want; i++) usleep(5000);
    usleep(5000); /* and a little more, to see one too many */
    return echo_server_accepted(srv);
}

/* ---------------------------------------------------------------- fail-over */

static void refused_then_live(void **state) {
    (void)state;
    echo_server srv;
    int live = echo_server_start(&srv, ECHO_MODE_ECHO);
    assert_true(live > 0);
    int dead = dead_port();
    sy_router *r = two_routes(dead, live, NULL, NULL);
    run x;
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(x.count, 2);
    assert_int_equal(x.at[0].status, SY_ECONNECT);
    assert_int_equal(x.at[0].outcome, SY_OUTCOME_REFUSED);
    assert_int_equal(x.at[0].port, dead);
    assert_non_null(strstr(x.at[0].message, "refused"));
    assert_int_equal(x.at[1].status, SY_OK);
    assert_int_equal(x.at[1].outcome, SY_OUTCOME_SUCCESS);
    assert_int_equal(x.at[1].port, live);
    sy_conn_info info = SY_STRUCT_INIT(sy_conn_info);
    assert_int_equal(sy_conn_get_info(x.conn, &info), SY_OK);
    assert_int_equal(info.port, live);
    assert_false(info.tls);
    assert_true(info.fd >= 0);
    assert_string_equal(info.host, "127.0.0.1");
    echo_text(x.conn, "ping");
    sy_conn_close(x.conn);
    sy_router_free(r);
    echo_server_stop(&srv);
}

static void timeout_then_live(void **state) {
    (void)state;
    echo_server srv;
    int live = echo_server_start(&srv, ECHO_MODE_ECHO);
    blackhole bh;
    blackhole_start(&bh);
    sy_router *r = two_routes(bh.port, live, "{\"timeout_ms\": 250}", NULL);
    run x;
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(x.count, 2);
    assert_int_equal(x.at[0].status, SY_ETIMEOUT);
    assert_int_equal(x.at[0].outcome, SY_OUTCOME_TIMEOUT);
    assert_true(x.at[0].elapsed_ns >= 240000000ull);
    assert_true(x.at[0].elapsed_ns < 2000000000ull);
    assert_non_null(strstr(x.at[0].message, "timed out after 250 ms"));
    assert_int_equal(x.at[1].status, SY_OK);
    echo_text(x.conn, "ping");
    sy_conn_close(x.conn);

    /* The per-call option wins over the config. */
    sy_connect_options o = SY_STRUCT_INIT(sy_connect_options);
    o.timeout_ms = 60;
    connect_run(r, "svc", &o, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_true(x.at[0].elapsed_ns < 240000000ull);
    assert_non_null(strstr(x.at[0].message, "timed out after 60 ms"));
    sy_conn_close(x.conn);

    /* A deadline for the whole connect stops the walk. */
    o.timeout_ms = 0;
    o.deadline_ms = 80;
    connect_run(r, "first", &o, &x);
    assert_int_equal(x.rc, SY_ETIMEOUT);
    assert_null(x.conn);
    sy_router_free(r);
    blackhole_stop(&bh);
    echo_server_stop(&srv);
}

static void all_fail_names_each(void **state) {
    (void)state;
    int a = dead_port(), b = dead_port();
    sy_router *r = two_routes(a, b, NULL, NULL);
    run x;
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_ECONNECT);
    assert_null(x.conn);
    assert_int_equal(x.count, 2);
    char pa[16], pb[16];
    snprintf(pa, sizeof pa, ":%d", a);
    snprintf(pb, sizeof pb, ":%d", b);
    assert_non_null(strstr(x.err.message, pa));
    assert_non_null(strstr(x.err.message, pb));
    assert_non_null(strstr(x.err.message, "refused"));

    /* max_attempts bounds the walk. */
    sy_connect_options o = SY_STRUCT_INIT(sy_connect_options);
    o.max_attempts = 1;
    connect_run(r, "svc", &o, &x);
    assert_int_equal(x.count, 1);

    /* A plan with no target at all: SY_ENOROUTE from the selector. */
    connect_run(r, "nobody", NULL, &x);
    assert_int_equal(x.rc, SY_ENOROUTE);
    assert_int_equal(x.count, 0);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- pools */

static void pool_reuses_and_drops_closed(void **state) {
    (void)state;
    echo_server srv;
    int live = echo_server_start(&srv, ECHO_MODE_ECHO);
    sy_router *r = two_routes(live, live, "{\"pool\": {\"max_idle\": 2}}", NULL);
    run x;
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    echo_text(x.conn, "ping");
    sy_conn_release(x.conn);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_true(x.at[0].flags & SY_ATTEMPT_POOLED);
    sy_conn_info info = SY_STRUCT_INIT(sy_conn_info);
    sy_conn_get_info(x.conn, &info);
    assert_true(info.reused);
    echo_text(x.conn, "ping");
    assert_int_equal(accepted(&srv, 1), 1);

    /* Without the pool: a new connection. */
    sy_connect_options o = SY_STRUCT_INIT(sy_connect_options);
    o.flags = SY_CONNECT_NO_POOL;
    run y;
    connect_run(r, "svc", &o, &y);
    assert_int_equal(y.rc, SY_OK);
    assert_false(y.at[0].flags & SY_ATTEMPT_POOLED);
    assert_int_equal(accepted(&srv, 2), 2);
    sy_conn_release(y.conn);
    sy_conn_release(x.conn);

    /* Stats show the idle connections. */
    char buf[4096];
    size_t len = 0;
    assert_int_equal(sy_router_connect_stats(r, buf, sizeof buf, &len, NULL), SY_OK);
    assert_non_null(strstr(buf, "\"idle\":2"));
    sy_router_free(r);
    echo_server_stop(&srv);

    /* A server that closes what it accepts: the pooled connection is seen
     * closed at checkout and dropped, never handed out. */
    int closer = echo_server_start(&srv, ECHO_MODE_CLOSE);
    r = two_routes(closer, closer, "{\"pool\": {\"max_idle\": 2}}", NULL);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    sy_conn_release(x.conn);
    for (int i = 0; i < 100 && echo_server_open(&srv) > 0; i++) usleep(10000);
    usleep(20000);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_false(x.at[0].flags & SY_ATTEMPT_POOLED);
    assert_int_equal(accepted(&srv, 2), 2);
    sy_conn_close(x.conn);
    sy_router_free(r);
    echo_server_stop(&srv);
}

/* ---------------------------------------------------------------- circuits */

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static int circuit_of(sy_router *r, int port, char *state, size_t cap) {
    char buf[8192], key[64];
    size_t len = 0;
    assert_int_equal(sy_router_connect_stats(r, buf, sizeof buf, &len, NULL), SY_OK);
    snprintf(key, sizeof key, "\"endpoint\":\"127.0.0.1:%d\"", port);
    const char *e = strstr(buf, key);
    if (!e) return 0;
    const char *c = strstr(e, "\"circuit\":\"");
    assert_non_null(c);
    c += strlen("\"circuit\":\"");
    size_t n = strcspn(c, "\"");
    snprintf(state, cap, "%.*s", (int)n, c);
    return 1;
}

static void circuit_breaker(void **state) {
    (void)state;
    echo_server srv;
    int live = echo_server_start(&srv, ECHO_MODE_ECHO);
    int dead = dead_port();
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.clock_ns = fake_clock;
    sy_router *r = two_routes(dead, live, "{\"circuit\": {\"failures\": 2, \"retry_ms\": 1000}}", &o);
    char st[32];
    run x;
    for (int i = 0; i < 2; i++) {
        connect_run(r, "svc", NULL, &x);
        assert_int_equal(x.rc, SY_OK);
        assert_int_equal(x.count, 2);
        sy_conn_close(x.conn);
    }
    assert_true(circuit_of(r, dead, st, sizeof st));
    assert_string_equal(st, "open");

    /* Open: tried after the others, so the live one goes first. */
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(x.count, 1);
    assert_int_equal(x.at[0].port, live);
    sy_conn_close(x.conn);

    /* Open but the only target: still tried (moved last, not dropped). */
    connect_run(r, "first", NULL, &x);
    assert_int_equal(x.rc, SY_ECONNECT);
    assert_int_equal(x.count, 1);
    assert_true(x.at[0].flags & SY_ATTEMPT_CIRCUIT_OPEN);

    /* After the retry period one probe goes through, in plan order; it fails: open again. */
    atomic_fetch_add(&fake_now, 1500000000ull);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(x.count, 2);
    assert_true(x.at[0].flags & SY_ATTEMPT_PROBE);
    assert_int_equal(x.at[0].port, dead);
    sy_conn_close(x.conn);
    assert_true(circuit_of(r, dead, st, sizeof st));
    assert_string_equal(st, "open");

    /* The endpoint comes back: the next probe succeeds and closes the circuit. */
    int lfd = listen_on(dead);
    atomic_fetch_add(&fake_now, 1500000000ull);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(x.count, 1);
    assert_true(x.at[0].flags & SY_ATTEMPT_PROBE);
    assert_int_equal(x.at[0].port, dead);
    sy_conn_close(x.conn);
    assert_true(circuit_of(r, dead, st, sizeof st));
    assert_string_equal(st, "closed");
    close(lfd);

    /* The statistics count every attempt. */
    char buf[4096];
    size_t len = 0;
    assert_int_equal(sy_router_connect_stats(r, buf, 8, &len, NULL), SY_ETOOSMALL);
    assert_true(len > 8);
    assert_int_equal(sy_router_connect_stats(r, buf, sizeof buf, &len, NULL), SY_OK);
    assert_int_equal(strlen(buf) + 1, len);
    assert_non_null(strstr(buf, "\"attempts\":5,\"failures\":4"));
    sy_router_free(r);
    echo_server_stop(&srv);
}

/* ---------------------------------------------------------------- async */

typedef struct done_box {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int rc;
    sy_conn *conn;
    size_t count;
    sy_attempt at[MAXA];
    char message[SY_ERROR_MESSAGE_MAX];
} done_box;

static void on_done(int status, sy_conn *conn, const sy_attempt *attempts, size_t n,
                    const sy_error *err, void *data) {
    done_box *b = data;
    pthread_mutex_lock(&b->mu);
    b->rc = status;
    b->conn = conn;
    b->count = n;
    for (size_t i = 0; i < n && i < MAXA; i++) b->at[i] = attempts[i];
    snprintf(b->message, sizeof b->message, "%s", err ? err->message : "");
    b->done = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void box_init(done_box *b) {
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

static void box_wait(done_box *b) {
    pthread_mutex_lock(&b->mu);
    while (!b->done) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

static void async_on_library_thread(void **state) {
    (void)state;
    echo_server srv;
    int live = echo_server_start(&srv, ECHO_MODE_ECHO);
    blackhole bh;
    blackhole_start(&bh);
    int dead = dead_port();
    char routes[512];
    snprintf(routes, sizeof routes,
             "[{\"pattern\": \"^svc$\", \"weight\": 30, \"host\": \"127.0.0.1\", \"port\": %d},"
             " {\"pattern\": \"^s.c$\", \"weight\": 20, \"host\": \"127.0.0.1\", \"port\": %d},"
             " {\"pattern\": \"^sv.$\", \"weight\": 10, \"host\": \"localhost\", \"port\": %d}]",
             dead, bh.port, live);
    sy_router *r = router_with(routes, "{\"timeout_ms\": 150}", NULL);
    sy_request *q = request_for(r, "svc");
    done_box b;
    box_init(&b);
    assert_int_equal(sy_router_connect_async(r, q, NULL, on_done, &b, NULL), SY_OK);
    box_wait(&b);
    assert_int_equal(b.rc, SY_OK);
    assert_int_equal(b.count, 3);
    assert_int_equal(b.at[0].outcome, SY_OUTCOME_REFUSED);
    assert_int_equal(b.at[1].outcome, SY_OUTCOME_TIMEOUT);
    assert_int_equal(b.at[2].outcome, SY_OUTCOME_SUCCESS);
    assert_string_equal(b.at[2].host, "localhost"); /* resolved by Asio's resolver */
    echo_text(b.conn, "ping");
    sy_conn_close(b.conn);
    /* sy_router_run_once belongs to SY_IO_CALLER routers. */
    assert_int_equal(sy_router_run_once(r, 0), SY_EMISUSE);
    sy_request_free(q);
    sy_router_free(r);
    blackhole_stop(&bh);
    echo_server_stop(&srv);
}

static void async_on_caller_thread(void **state) {
    (void)state;
    echo_server srv;
    int live = echo_server_start(&srv, ECHO_MODE_ECHO);
    int dead = dead_port();
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.io_mode = SY_IO_CALLER;
    sy_router *r = two_routes(dead, live, NULL, &o);
    sy_request *q = request_for(r, "svc");
    done_box b;
    box_init(&b);
    assert_int_equal(sy_router_connect_async(r, q, NULL, on_done, &b, NULL), SY_OK);
    assert_false(b.done); /* nothing runs until the caller runs it */
    int handlers = 0;
    for (int i = 0; i < 200 && !b.done; i++) {
        int n = sy_router_run_once(r, 50);
        assert_true(n >= 0);
        handlers += n;
    }
    assert_true(b.done);
    assert_true(handlers > 0);
    assert_int_equal(b.rc, SY_OK);
    assert_int_equal(b.count, 2);
    assert_int_equal(b.at[0].outcome, SY_OUTCOME_REFUSED);
    echo_text(b.conn, "ping");
    sy_conn_close(b.conn);

    /* A connect still pending when the router goes: SY_ECANCELED, once. */
    blackhole bh;
    blackhole_start(&bh);
    sy_router *r2 = two_routes(bh.port, bh.port, NULL, &o);
    sy_request *q2 = request_for(r2, "svc");
    done_box c;
    box_init(&c);
    assert_int_equal(sy_router_connect_async(r2, q2, NULL, on_done, &c, NULL), SY_OK);
    sy_router_run_once(r2, 20);
    assert_false(c.done);
    sy_router_free(r2);
    assert_true(c.done);
    assert_int_equal(c.rc, SY_ECANCELED);
    sy_request_free(q2);
    blackhole_stop(&bh);

    sy_request_free(q);
    sy_router_free(r);
    echo_server_stop(&srv);
}

/* ---------------------------------------------------------------- misuse */

static void misuse_is_an_error(void **state) {
    (void)state;
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_conn *c = NULL;
    assert_int_equal(sy_router_connect(NULL, NULL, NULL, &c, NULL, &err), SY_EINVAL);
    assert_non_null(strstr(err.message, "sy_router_connect"));
    assert_int_equal(sy_router_connect_async(NULL, NULL, NULL, NULL, NULL, NULL), SY_EINVAL);
    assert_int_equal(sy_router_run_once(NULL, 0), SY_EINVAL);
    assert_int_equal(sy_conn_send(NULL, "x", 1, 0, &err), SY_EINVAL);
    size_t got;
    char buf[4];
    assert_int_equal(sy_conn_recv(NULL, buf, sizeof buf, 0, &got, &err), SY_EINVAL);
    sy_conn_info info = SY_STRUCT_INIT(sy_conn_info);
    assert_int_equal(sy_conn_get_info(NULL, &info), SY_EINVAL);
    sy_conn_close(NULL);
    sy_conn_release(NULL);
    size_t len;
    assert_int_equal(sy_router_connect_stats(NULL, buf, sizeof buf, &len, NULL), SY_EINVAL);

    /* Bad connect sections name the path. */
    const char *bad[] = {
        "{\"timeout_ms\": 0}", "{\"pool\": {\"max_idle\": -1}}", "{\"circuit\": []}",
        "{\"tls\": {\"ca_file\": \"/nonexistent/ca.pem\"}}", "{\"tls\": {\"cert_file\": \"/etc/hostname\"}}",
        "{\"nope\": 1}",
    };
    const char *paths[] = {"connect.timeout_ms", "connect.pool.max_idle", "connect.circuit",
                           "connect.tls.ca_file", "connect.tls", "connect.nope"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg,
                 "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"static_routes\", "
                 "\"config\": {\"routes\": []}}, \"connect\": %s}",
                 plugin_dir(), bad[i]);
        sy_router *r = NULL;
        err = SY_STRUCT_INIT(sy_error);
        assert_int_equal(sy_router_new(cfg, strlen(cfg), NULL, &r, &err), SY_ECONFIG);
        assert_string_equal(err.path, paths[i]);
        assert_null(r);
    }
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.io_mode = 7;
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"static_routes\", "
             "\"config\": {\"routes\": []}}}", plugin_dir());
    sy_router *r = NULL;
    assert_int_equal(sy_router_new(cfg, strlen(cfg), &o, &r, &err), SY_EINVAL);
    assert_non_null(strstr(err.message, "io_mode"));
}

/* ---------------------------------------------------------------- stress */

typedef struct stress_arg {
    sy_router *r;
    int n;
    atomic_int *failures;
} stress_arg;

static void *stress_thread(void *p) {
    stress_arg *a = p;
    sy_request *q = NULL;
    sy_request_new(a->r, &q, NULL);
    sy_request_set_node(q, "svc");
    for (int i = 0; i < a->n; i++) {
        sy_conn *c = NULL;
        sy_error err = SY_STRUCT_INIT(sy_error);
        if (sy_router_connect(a->r, q, NULL, &c, NULL, &err) != SY_OK) {
            atomic_fetch_add(a->failures, 1);
            continue;
        }
        char buf[4];
        size_t got = 0;
        if (sy_conn_send(c, "abcd", 4, 2000, &err) || sy_conn_recv(c, buf, 4, 2000, &got, &err) ||
            got == 0)
            atomic_fetch_add(a->failures, 1);
        if (i % 3 == 0) sy_conn_close(c);
        else sy_conn_release(c);
    }
    sy_request_free(q);
    return NULL;
}

static void stress_no_fd_leak(void **state) {
    (void)state;
    /* Counted around the server too: its end of each connection closes a
     * moment after ours, so only a stopped server gives an exact count. */
    int before = count_fds();
    echo_server srv;
    int live = echo_server_start(&srv, ECHO_MODE_ECHO);
    int dead = dead_port();
    sy_router *r = two_routes(dead, live, "{\"pool\": {\"max_idle\": 4}, \"circuit\": {\"failures\": 0}}", NULL);
    enum { THREADS = 4, EACH = 750 };
    pthread_t t[THREADS];
    atomic_int failures = 0;
    stress_arg a = {r, EACH, &failures};
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, stress_thread, &a);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    sy_router_free(r);
    unsigned long accepted_total = echo_server_accepted(&srv);
    echo_server_stop(&srv);
    int after = count_fds();
    printf("stress: %d connects from %d threads, %lu accepted by the server, fds before %d after %d\n",
           THREADS * EACH, THREADS, accepted_total, before, after);
    assert_int_equal(before, after);
}

/* ---------------------------------------------------------------- fake DNS */

/* The connector resolves names with getaddrinfo (through Asio). This
 * program defines getaddrinfo and freeaddrinfo itself, so the dynamic
 * linker binds libswitchyard's calls to them (an executable's definitions
 * come first): names ending in ".sy-test" get the answers a test set and
 * are counted; every other name goes to the C library. No hook in the
 * library: the test sees exactly the lookups a real resolver would. */
#define FAKE_NAMES 8
#define FAKE_ADDRS 8

typedef struct fake_name {
    char name[64];
    char ips[FAKE_ADDRS][16];
    int n;
    unsigned long lookups;
} fake_name;

typedef struct fake_answer {
    struct addrinfo ai[FAKE_ADDRS];
    struct sockaddr_in sa[FAKE_ADDRS];
} fake_answer;

static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static fake_name fakes[FAKE_NAMES];
static fake_answer *fake_live[64]; /* ours, for freeaddrinfo to tell */

static int fake_ours(const char *node) {
    size_t n = node ? strlen(node) : 0;
    return n > 8 && strcmp(node + n - 8, ".sy-test") == 0;
}

/* name answers with the comma-separated IPv4 addresses in csv ("": no address). */
static void fake_dns_set(const char *name, const char *csv) {
    pthread_mutex_lock(&fake_mu);
    fake_name *f = NULL;
    for (int i = 0; i < FAKE_NAMES && !f; i++)
        if (!strcmp(fakes[i].name, name) || !fakes[i].name[0]) f = &fakes[i];
    if (!f) {
        pthread_mutex_unlock(&fake_mu);
        fail_msg("more than %d fake names", FAKE_NAMES);
        return;
    }
    snprintf(f->name, sizeof f->name, "%s", name);
    f->n = 0;
    for (const char *p = csv; *p && f->n < FAKE_ADDRS;) {
        size_t k = strcspn(p, ",");
        snprintf(f->ips[f->n++], sizeof f->ips[0], "%.*s", (int)k, p);
        p += k + (p[k] == ',');
    }
    pthread_mutex_unlock(&fake_mu);
}

static unsigned long fake_dns_lookups(const char *name) {
    unsigned long n = 0;
    pthread_mutex_lock(&fake_mu);
    for (int i = 0; i < FAKE_NAMES; i++)
        if (!strcmp(fakes[i].name, name)) n = fakes[i].lookups;
    pthread_mutex_unlock(&fake_mu);
    return n;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
    if (!fake_ours(node)) {
        int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) = NULL;
        void *sym = dlsym(RTLD_NEXT, "getaddrinfo");
        memcpy(&real, &sym, sizeof real); /* ISO C has no object-to-function cast */
        return real ? real(node, service, hints, res) : EAI_FAIL;
    }
    if (hints && hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET) return EAI_NONAME;
    pthread_mutex_lock(&fake_mu);
    fake_name *f = NULL;
    for (int i = 0; i < FAKE_NAMES && !f; i++)
        if (!strcmp(fakes[i].name, node)) f = &fakes[i];
    if (!f || !f->n) {
        if (f) f->lookups++;
        pthread_mutex_unlock(&fake_mu);
        return EAI_NONAME;
    }
    f->lookups++;
    fake_answer *a = calloc(1, sizeof *a);
    int slot = -1;
    for (int i = 0; a && i < 64 && slot < 0; i++)
        if (!fake_live[i]) slot = i;
    if (!a || slot < 0) {
        pthread_mutex_unlock(&fake_mu);
        free(a);
        return EAI_MEMORY;
    }
    fake_live[slot] = a;
    for (int i = 0; i < f->n; i++) {
        a->sa[i].sin_family = AF_INET;
        inet_pton(AF_INET, f->ips[i], &a->sa[i].sin_addr);
        a->ai[i].ai_family = AF_INET;
        a->ai[i].ai_socktype = hints && hints->ai_socktype ? hints->ai_socktype : SOCK_STREAM;
        a->ai[i].ai_protocol = hints && hints->ai_protocol ? hints->ai_protocol : IPPROTO_TCP;
        a->ai[i].ai_addrlen = sizeof a->sa[i];
        a->ai[i].ai_addr = (struct sockaddr *)&a->sa[i];
        a->ai[i].ai_next = i + 1 < f->n ? &a->ai[i + 1] : NULL;
    }
    pthread_mutex_unlock(&fake_mu);
    *res = &a->ai[0];
    return 0;
}

void freeaddrinfo(struct addrinfo *ai) {
    pthread_mutex_lock(&fake_mu);
    for (int i = 0; i < 64; i++)
        if (fake_live[i] && &fake_live[i]->ai[0] == ai) {
            free(fake_live[i]);
            fake_live[i] = NULL;
            pthread_mutex_unlock(&fake_mu);
            return;
        }
    pthread_mutex_unlock(&fake_mu);
    void (*real)(struct addrinfo *) = NULL;
    void *sym = dlsym(RTLD_NEXT, "freeaddrinfo");
    memcpy(&real, &sym, sizeof real);
    if (real) real(ai);
}

/* ---------------------------------------------------------------- client_routes */

#define NODE_A "11111111-1111-1111-1111-111111111111"

/* One node, NODE_A, reached through client_routes configured with cr (an
 * object's members, without braces). */
static sy_router *cr_router(const char *cr, const char *connect, const sy_router_options *o) {
    char cfg[8192];
    snprintf(cfg, sizeof cfg,
             "{\"plugin_path\": [\"%s\"], \"topology\": {\"nodes\": [{\"id\": \"" NODE_A "\", \"host\": \"10.9.9.9\","
             " \"port\": 9042}]}, \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\"}},"
             " \"translators\": [{\"plugin\": \"client_routes\", \"config\": {%s}}], \"connect\": %s}",
             plugin_dir(), cr, connect ? connect : "{}");
    return new_router(cfg, o);
}

static const sy_client_routes_table *cr_table(sy_router *r, void **inst) {
    const void *t = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_get_interface(r, "client_routes", SY_CLIENT_ROUTES_TABLE, 1, &t, inst, &err))
        fail_msg("%s", err.message);
    return t;
}

static void cr_call(int (*fn)(void *, const char *, size_t, sy_error *), void *inst, const char *json) {
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = fn(inst, json, strlen(json), &err);
    if (rc != SY_OK) fail_msg("%s: %s: %s", json, sy_status_name(rc), err.message);
}

/* The "idle" count of endpoint host:port in the connect statistics, or -1
 * when the connector does not know it. */
static int idle_of(sy_router *r, const char *host, int port) {
    char buf[8192], key[128];
    size_t len = 0;
    assert_int_equal(sy_router_connect_stats(r, buf, sizeof buf, &len, NULL), SY_OK);
    snprintf(key, sizeof key, "\"endpoint\":\"%s:%d\"", host, port);
    const char *e = strstr(buf, key);
    if (!e) return -1;
    const char *i = strstr(e, "\"idle\":");
    assert_non_null(i);
    return atoi(i + strlen("\"idle\":"));
}

/* The peer address of a connection, without its port. */
static void peer_ip(sy_conn *c, char *out, size_t cap) {
    sy_conn_info info = SY_STRUCT_INIT(sy_conn_info);
    assert_int_equal(sy_conn_get_info(c, &info), SY_OK);
    snprintf(out, cap, "%.*s", (int)strcspn(info.peer, ":"), info.peer);
}

/* Listeners on 127.0.0.1 .. 127.0.0.n, all on one port: a name whose
 * answers are those addresses reaches a listener whichever it picks. */
typedef struct multi_listener {
    int fd[FAKE_ADDRS];
    int n;
    int port;
} multi_listener;

static void multi_listen(multi_listener *m, int n) {
    for (int tries = 0; tries < 20; tries++) {
        memset(m, 0, sizeof *m);
        m->port = dead_port();
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            char ip[16];
            snprintf(ip, sizeof ip, "127.0.0.%d", i + 1);
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)m->port)};
            inet_pton(AF_INET, ip, &a.sin_addr);
            ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 64) == 0;
            if (ok) m->fd[m->n++] = fd;
            else close(fd);
        }
        if (ok) return;
        for (int i = 0; i < m->n; i++) close(m->fd[i]);
    }
    fail_msg("cannot listen on 127.0.0.1..%d with one port", n);
}

/* Accepts and closes whatever the listeners have queued. */
static void multi_drain(multi_listener *m) {
    for (int i = 0; i < m->n; i++)
        for (int fd; (fd = accept(m->fd[i], NULL, NULL)) >= 0;) close(fd);
}

static void multi_stop(multi_listener *m) {
    for (int i = 0; i < m->n; i++) close(m->fd[i]);
}

/* A client_routes target is resolved at every connect, blocking or async,
 * and each connect starts on a random one of the answers; a DNS cut-over is
 * seen at the next connect. A target without SY_TARGET_RESOLVE_EACH (a
 * static route to the same name) keeps using the cached answer. */
static void cr_resolves_each_connect(void **state) {
    (void)state;
    multi_listener m;
    multi_listen(&m, 4);
    const char *name = "nlb-each.sy-test";
    fake_dns_set(name, "127.0.0.1,127.0.0.2,127.0.0.3");
    char cr[512];
    snprintf(cr, sizeof cr,
             "\"proxies\": [{\"connection_id\": \"pl-a\", \"hostname\": \"%s\"}], \"routes\": [{\"connection_id\":"
             " \"pl-a\", \"host_id\": \"" NODE_A "\", \"address\": \"ignored\", \"port\": %d}]",
             name, m.port);
    sy_router *r = cr_router(cr, "{\"resolve\": {\"ttl_ms\": 600000}}", NULL);
    sy_connect_options o = SY_STRUCT_INIT(sy_connect_options);
    o.flags = SY_CONNECT_NO_POOL;
    enum { N = 90 };
    int used[4] = {0};
    unsigned long before = fake_dns_lookups(name);
    run x;
    for (int i = 0; i < N; i++) {
        connect_run(r, NODE_A, &o, &x);
        assert_int_equal(x.rc, SY_OK);
        assert_string_equal(x.at[0].host, name);
        char ip[64];
        peer_ip(x.conn, ip, sizeof ip);
        int k = ip[strlen(ip) - 1] - '1';
        assert_true(strncmp(ip, "127.0.0.", 8) == 0 && strlen(ip) == 9 && k >= 0 && k < 3);
        used[k]++;
        sy_conn_close(x.conn);
        multi_drain(&m);
    }
    /* one lookup per connect: the cache was not read */
    assert_int_equal(fake_dns_lookups(name) - before, N);
    /* each address is the first try about N/3 times: P(count < 10) < 1e-6 */
    printf("resolve each: %d connects over 3 answers: %d, %d, %d\n", N, used[0], used[1], used[2]);
    for (int k = 0; k < 3; k++) assert_true(used[k] >= 10);

    /* A cut-over: the next connect goes to the new address. */
    fake_dns_set(name, "127.0.0.4");
    connect_run(r, NODE_A, &o, &x);
    assert_int_equal(x.rc, SY_OK);
    char ip[64];
    peer_ip(x.conn, ip, sizeof ip);
    assert_string_equal(ip, "127.0.0.4");
    sy_conn_close(x.conn);
    multi_drain(&m);

    /* The async connect resolves afresh too. */
    fake_dns_set(name, "127.0.0.2");
    sy_request *q = request_for(r, NODE_A);
    before = fake_dns_lookups(name);
    done_box b;
    box_init(&b);
    assert_int_equal(sy_router_connect_async(r, q, &o, on_done, &b, NULL), SY_OK);
    box_wait(&b);
    assert_int_equal(b.rc, SY_OK);
    assert_int_equal(fake_dns_lookups(name) - before, 1);
    peer_ip(b.conn, ip, sizeof ip);
    assert_string_equal(ip, "127.0.0.2");
    sy_conn_close(b.conn);
    sy_request_free(q);
    sy_router_free(r);
    multi_drain(&m);

    /* Without the flag (static_routes): one lookup, then the cache, even
     * across a cut-over, for the TTL. */
    const char *cached = "db-cached.sy-test";
    fake_dns_set(cached, "127.0.0.1,127.0.0.2,127.0.0.3");
    char routes[256];
    snprintf(routes, sizeof routes, "[{\"pattern\": \"^svc$\", \"host\": \"%s\", \"port\": %d}]", cached, m.port);
    r = router_with(routes, "{\"resolve\": {\"ttl_ms\": 600000}}", NULL);
    for (int i = 0; i < 10; i++) {
        connect_run(r, "svc", &o, &x);
        assert_int_equal(x.rc, SY_OK);
        peer_ip(x.conn, ip, sizeof ip);
        assert_string_equal(ip, "127.0.0.1"); /* the answers in order: the first */
        sy_conn_close(x.conn);
        multi_drain(&m);
        if (i == 4) fake_dns_set(cached, "127.0.0.4");
    }
    assert_int_equal(fake_dns_lookups(cached), 1);
    sy_router_free(r);
    multi_stop(&m);
}

/* A TLS "server" that reads the ClientHello, keeps its server name (SNI)
 * and hangs up: what the client sends is all these tests look at, so no
 * certificate is needed (test_connect_tls.c covers handshakes). */
typedef struct hello_catcher {
    int listen_fd;
    int wake[2];
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    int hellos;        /* ClientHellos parsed */
    int sni_present;   /* the latest one carried a server name */
    char sni[256];
} hello_catcher;

/* 1 with the host_name of a ClientHello record's server_name extension in
 * out, 0 without one, -1 when b is not a whole ClientHello record. */
static int client_hello_sni(const unsigned char *b, size_t n, char *out, size_t cap) {
    out[0] = 0;
    if (n < 5 || b[0] != 0x16) return -1;
    size_t rec = (size_t)b[3] << 8 | b[4];
    if (n < 5 + rec) return -1;
    const unsigned char *p = b + 5, *end = b + 5 + rec;
    if (end - p < 4 || p[0] != 1) return -1;
    size_t hl = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    p += 4;
    if ((size_t)(end - p) < hl) return -1;
    end = p + hl;
    if (end - p < 35) return -1;
    p += 34; /* version, random */
    p += 1 + p[0]; /* session id */
    if (end - p < 2) return -1;
    p += 2 + ((size_t)p[0] << 8 | p[1]); /* cipher suites */
    if (end - p < 1) return -1;
    p += 1 + p[0]; /* compression methods */
    if (end - p < 2) return 0; /* no extensions */
    size_t el = (size_t)p[0] << 8 | p[1];
    p += 2;
    if ((size_t)(end - p) < el) return -1;
    end = p + el;
    while (end - p >= 4) {
        unsigned type = (unsigned)p[0] << 8 | p[1];
        size_t len = (size_t)p[2] << 8 | p[3];
        p += 4;
        if ((size_t)(end - p) < len) return -1;
        if (type == 0 && len >= 5 && p[2] == 0) { /* server_name: list, host_name entry */
            size_t nl = (size_t)p[3] << 8 | p[4];
            if (nl + 5 > len || nl >= cap) return -1;
            memcpy(out, p + 5, nl);
            out[nl] = 0;
            return 1;
        }
        p += len;
    }
    return 0;
}

static void *hello_thread(void *arg) {
    hello_catcher *h = arg;
    for (;;) {
        struct pollfd p[2] = {{h->wake[0], POLLIN, 0}, {h->listen_fd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) continue;
        if (p[0].revents) return NULL;
        int fd = accept(h->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        unsigned char buf[16384 + 5];
        size_t n = 0;
        char sni[256];
        int found = -1;
        while (n < sizeof buf && found < 0) {
            struct pollfd r = {fd, POLLIN, 0};
            if (poll(&r, 1, 3000) <= 0) break;
            ssize_t k = recv(fd, buf + n, sizeof buf - n, 0);
            if (k <= 0) break;
            n += (size_t)k;
            found = client_hello_sni(buf, n, sni, sizeof sni);
        }
        close(fd);
        if (found < 0) continue;
        pthread_mutex_lock(&h->mu);
        h->hellos++;
        h->sni_present = found;
        snprintf(h->sni, sizeof h->sni, "%s", sni);
        pthread_mutex_unlock(&h->mu);
    }
}

static void hello_start(hello_catcher *h) {
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    h->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(h->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(h->listen_fd, 16), 0);
    assert_int_equal(getsockname(h->listen_fd, (struct sockaddr *)&a, &len), 0);
    h->port = ntohs(a.sin_port);
    assert_int_equal(pipe(h->wake), 0);
    assert_int_equal(pthread_create(&h->thread, NULL, hello_thread, h), 0);
}

static void hello_stop(hello_catcher *h) {
    assert_int_equal(write(h->wake[1], "x", 1), 1);
    pthread_join(h->thread, NULL);
    close(h->wake[0]);
    close(h->wake[1]);
    close(h->listen_fd);
    pthread_mutex_destroy(&h->mu);
}

/* Connects the node through client_routes with TLS; returns the SNI the
 * server saw (1: present, 0: none). */
static int sni_through(hello_catcher *h, const char *cr, const char *connect, char *sni, size_t cap) {
    sy_router *r = cr_router(cr, connect, NULL);
    pthread_mutex_lock(&h->mu);
    int before = h->hellos;
    pthread_mutex_unlock(&h->mu);
    run x;
    connect_run(r, NODE_A, NULL, &x);
    /* the catcher hangs up: the handshake fails after the ClientHello */
    assert_int_not_equal(x.rc, SY_OK);
    assert_int_equal(x.count, 1);
    assert_true(x.at[0].flags & SY_ATTEMPT_TLS);
    assert_int_equal(x.at[0].port, h->port);
    int present = -1;
    for (int i = 0; i < 300 && present < 0; i++) {
        pthread_mutex_lock(&h->mu);
        if (h->hellos > before) {
            present = h->sni_present;
            snprintf(sni, cap, "%s", h->sni);
        }
        pthread_mutex_unlock(&h->mu);
        if (present < 0) usleep(10000);
    }
    if (present < 0) fail_msg("no ClientHello reached the server: %s", x.at[0].message);
    sy_router_free(r);
    return present;
}

/* TLS through client routes: SNI is the proxy's hostname (the host the
 * target was translated to), else the row's address, none for an IP
 * literal, and connect.tls.server_name overrides them all. */
static void cr_tls_sni(void **state) {
    (void)state;
    hello_catcher h;
    hello_start(&h);
    fake_dns_set("vpce-a.sy-test", "127.0.0.1");
    fake_dns_set("nlb-b.sy-test", "127.0.0.1");
    char cr[512], sni[256];
    snprintf(cr, sizeof cr,
             "\"proxies\": [{\"connection_id\": \"pl-a\", \"hostname\": \"vpce-a.sy-test\"}], \"tls\": true,"
             " \"routes\": [{\"connection_id\": \"pl-a\", \"host_id\": \"" NODE_A "\", \"address\": \"nlb-a.sy-test\","
             " \"port\": 1, \"tls_port\": %d}]",
             h.port);
    /* no verification: the catcher has no certificate, and the SNI does not depend on it */
    const char *noverify = "{\"tls\": {\"insecure_skip_verify\": true}}";
    assert_int_equal(sni_through(&h, cr, noverify, sni, sizeof sni), 1);
    assert_string_equal(sni, "vpce-a.sy-test");
    assert_int_equal(sni_through(&h, cr,
                                 "{\"tls\": {\"insecure_skip_verify\": true, \"server_name\": \"db.internal.example\"}}",
                                 sni, sizeof sni),
                     1);
    assert_string_equal(sni, "db.internal.example");
    snprintf(cr, sizeof cr,
             "\"proxies\": [{\"connection_id\": \"pl-b\"}], \"tls\": true, \"routes\": [{\"connection_id\": \"pl-b\","
             " \"host_id\": \"" NODE_A "\", \"address\": \"nlb-b.sy-test\", \"port\": 1, \"tls_port\": %d}]",
             h.port);
    assert_int_equal(sni_through(&h, cr, noverify, sni, sizeof sni), 1);
    assert_string_equal(sni, "nlb-b.sy-test");
    snprintf(cr, sizeof cr,
             "\"proxies\": [{\"connection_id\": \"pl-b\"}], \"tls\": true, \"routes\": [{\"connection_id\": \"pl-b\","
             " \"host_id\": \"" NODE_A "\", \"address\": \"127.0.0.1\", \"port\": 1, \"tls_port\": %d}]",
             h.port);
    assert_int_equal(sni_through(&h, cr, noverify, sni, sizeof sni), 0);
    hello_stop(&h);
}

static void wait_open(const echo_server *srv, unsigned long want) {
    for (int i = 0; i < 300 && echo_server_open(srv) != want; i++) usleep(5000);
    assert_int_equal(echo_server_open(srv), want);
}

static void move_event(const sy_client_routes_table *t, void *inst, int port) {
    char ev[512];
    snprintf(ev, sizeof ev,
             "{\"change\": \"UPDATE_NODES\", \"connection_ids\": [\"pl-a\"], \"host_ids\": [\"" NODE_A "\"],"
             " \"rows\": [{\"connection_id\": \"pl-a\", \"host_id\": \"" NODE_A "\", \"address\": \"127.0.0.1\","
             " \"port\": %d}]}",
             port);
    cr_call(t->apply_event, inst, ev);
}

static void move_all(const sy_client_routes_table *t, void *inst, int port) {
    char rows[256];
    snprintf(rows, sizeof rows,
             "[{\"connection_id\": \"pl-a\", \"host_id\": \"" NODE_A "\", \"address\": \"127.0.0.1\", \"port\": %d}]",
             port);
    cr_call(t->replace_all, inst, rows);
}

/* A node's route moves from old to new and back, with one connection idle
 * in the pool and one held by the caller during the move. With
 * drain_on_change the idle one is closed at the move, the held one is not
 * pooled at its release, and the next connect to the old endpoint dials;
 * without it both are pooled and the next connect reuses one. */
static void drain_case(int drain) {
    echo_server old_srv, new_srv;
    int old_port = echo_server_start(&old_srv, ECHO_MODE_ECHO);
    int new_port = echo_server_start(&new_srv, ECHO_MODE_ECHO);
    assert_true(old_port > 0 && new_port > 0);
    char cr[512];
    snprintf(cr, sizeof cr,
             "\"proxies\": [{\"connection_id\": \"pl-a\"}], \"drain_on_change\": %s, \"routes\": [{\"connection_id\":"
             " \"pl-a\", \"host_id\": \"" NODE_A "\", \"address\": \"127.0.0.1\", \"port\": %d}]",
             drain ? "true" : "false", old_port);
    sy_router *r = cr_router(cr, "{\"pool\": {\"max_idle\": 4}}", NULL);
    void *inst;
    const sy_client_routes_table *t = cr_table(r, &inst);
    run idle, held, x;
    connect_run(r, NODE_A, NULL, &idle);
    connect_run(r, NODE_A, NULL, &held);
    assert_int_equal(idle.rc, SY_OK);
    assert_int_equal(held.rc, SY_OK);
    assert_false(held.at[0].flags & SY_ATTEMPT_POOLED);
    assert_int_equal(held.at[0].port, old_port);
    echo_text(idle.conn, "idle");
    echo_text(held.conn, "held");
    sy_conn_release(idle.conn);
    assert_int_equal(idle_of(r, "127.0.0.1", old_port), 1);
    wait_open(&old_srv, 2);

    /* The same row again changes no endpoint: nothing is drained. */
    move_all(t, inst, old_port);
    assert_int_equal(idle_of(r, "127.0.0.1", old_port), 1);

    /* The move (a full refresh): the idle connection closes at once when draining. */
    move_all(t, inst, new_port);
    assert_int_equal(idle_of(r, "127.0.0.1", old_port), drain ? 0 : 1);
    wait_open(&old_srv, drain ? 1 : 2);
    connect_run(r, NODE_A, NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(x.at[0].port, new_port);
    sy_conn_release(x.conn);

    /* The connection held across the move: not pooled when draining. */
    echo_text(held.conn, "still");
    sy_conn_release(held.conn);
    assert_int_equal(idle_of(r, "127.0.0.1", old_port), drain ? 0 : 2);
    wait_open(&old_srv, drain ? 0 : 2);

    /* Back to the old endpoint (an event this time; it drains the new one). */
    move_event(t, inst, old_port);
    assert_int_equal(idle_of(r, "127.0.0.1", new_port), drain ? 0 : 1);
    connect_run(r, NODE_A, NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(x.at[0].port, old_port);
    if (drain) {
        assert_false(x.at[0].flags & SY_ATTEMPT_POOLED);
        assert_int_equal(accepted(&old_srv, 3), 3);
    } else {
        assert_true(x.at[0].flags & SY_ATTEMPT_POOLED);
        assert_int_equal(accepted(&old_srv, 2), 2);
    }
    echo_text(x.conn, "back");
    sy_conn_release(x.conn);

    /* The route deleted: its endpoint is drained too. */
    cr_call(t->apply_event, inst,
            "{\"connection_ids\": [\"pl-a\"], \"host_ids\": [\"" NODE_A "\"], \"rows\": []}");
    assert_int_equal(idle_of(r, "127.0.0.1", old_port), drain ? 0 : 2);
    sy_router_free(r);
    echo_server_stop(&old_srv);
    echo_server_stop(&new_srv);
}

static void cr_drain_on_change(void **state) {
    (void)state;
    drain_case(1);
}

static void cr_no_drain_by_default(void **state) {
    (void)state;
    drain_case(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused_then_live),
        cmocka_unit_test(timeout_then_live),
        cmocka_unit_test(all_fail_names_each),
        cmocka_unit_test(pool_reuses_and_drops_closed),
        cmocka_unit_test(circuit_breaker),
        cmocka_unit_test(async_on_library_thread),
        cmocka_unit_test(async_on_caller_thread),
        cmocka_unit_test(misuse_is_an_error),
        cmocka_unit_test(stress_no_fd_leak),
        cmocka_unit_test(cr_resolves_each_connect),
        cmocka_unit_test(cr_tls_sni),
        cmocka_unit_test(cr_drain_on_change),
        cmocka_unit_test(cr_no_drain_by_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
