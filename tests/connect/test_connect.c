/* The connector end to end, against real sockets on loopback that the test
 * starts itself: fail-over past a refused port and past a listener whose
 * backlog is full (the SYN is dropped: a real timeout), pools (reuse, a
 * connection the peer closed is never handed out), circuit breakers (with a
 * fake clock), the asynchronous connect on the library's thread and on the
 * caller's, cancellation at router free, misuse, and a stress run that must
 * leak no file descriptor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* A router whose static routes are `routes`, with `connect` as its connect section. */
static sy_router *router_with(const char *routes, const char *connect, const sy_router_options *o) {
    char cfg[8192];
    snprintf(cfg, sizeof cfg,
             "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"static_routes\", "
             "\"config\": {\"routes\": %s}}, \"connect\": %s}",
             plugin_dir(), routes, connect ? connect : "{}");
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_new(cfg, strlen(cfg), o, &r, &err);
    if (rc) fprintf(stderr, "router: %s: %s\n", err.path, err.message);
    assert_int_equal(rc, SY_OK);
    return r;
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
