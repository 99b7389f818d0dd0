/* TLS through the connector, against mbedTLS servers on loopback with
 * certificates made at test time: each fault (unknown CA, expired, another
 * host's certificate, a server that never answers the handshake, one that
 * resets) fails its attempt with the right kind and reason, and the connect
 * falls over to the next target. Plus profiles from routes and from
 * connect.tls, client certificates, pooled TLS connections, async TLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/switchyard.h>

#include "support/certs.h"
#include "support/connect_run.h"
#include "support/plugin_dir.h"
#include "support/tls_server.h"

#define MAXA CONNECT_RUN_MAX

static test_certs certs;

static int setup(void **state) {
    (void)state;
    return test_certs_make(&certs);
}

static int teardown(void **state) {
    (void)state;
    test_certs_cleanup(&certs);
    return 0;
}

static tls_server *serve(tls_server_mode mode, const char *cert, const char *client_ca) {
    tls_server_options o = {.mode = mode, .cert_file = cert, .key_file = certs.server_key,
                            .client_ca_file = client_ca};
    tls_server *s = tls_server_start(&o);
    assert_non_null(s);
    return s;
}

/* Routes for node "svc" in the order given (weights 40, 30, ...), each on
 * 127.0.0.1 with TLS; `profile` is the routes' tls_profile JSON (or NULL). */
static sy_router *tls_routes(const int *ports, int n, const char *host, const char *profile,
                             const char *connect, const sy_router_options *o) {
    static const char *patterns[] = {"^svc$", "^s.c$", "^sv.$", "^.vc$"};
    char routes[4096] = "[";
    for (int i = 0; i < n; i++) {
        size_t k = strlen(routes);
        snprintf(routes + k, sizeof routes - k,
                 "%s{\"pattern\": \"%s\", \"weight\": %d, \"host\": \"%s\", \"port\": %d, "
                 "\"tls\": true%s%s}",
                 i ? ", " : "", patterns[i], 40 - 10 * i, host, ports[i],
                 profile ? ", \"tls_profile\": " : "", profile ? profile : "");
    }
    strcat(routes, "]");
    char cfg[8192];
    snprintf(cfg, sizeof cfg,
             "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"static_routes\", "
             "\"config\": {\"routes\": %s}}, \"connect\": %s}",
             plugin_dir(), routes, connect ? connect : "{\"timeout_ms\": 2000}");
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_new(cfg, strlen(cfg), o, &r, &err);
    if (rc) fprintf(stderr, "router: %s: %s\n", err.path, err.message);
    assert_int_equal(rc, SY_OK);
    return r;
}

static char profile_ca[1024];

static const char *ca_profile(void) {
    snprintf(profile_ca, sizeof profile_ca, "{\"ca_file\": \"%s\"}", certs.ca_cert);
    return profile_ca;
}

/* One bad server first, a good one second: the bad attempt fails as
 * expected and the good one connects. */
static void falls_over(tls_server *bad, int status, uint32_t outcome, const char *why,
                       const char *connect) {
    tls_server *good = serve(TLS_SERVER_ECHO, certs.server_cert, NULL);
    int ports[2] = {tls_server_port(bad), tls_server_port(good)};
    sy_router *r = tls_routes(ports, 2, "localhost", ca_profile(), connect, NULL);
    run x;
    connect_run(r, "svc", NULL, &x);
    if (x.rc) fprintf(stderr, "connect: %s\n", x.err.message);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(x.count, 2);
    if (x.at[0].status != status || !strstr(x.at[0].message, why))
        fail_msg("first attempt: %s: %s (wanted %s, '%s')", sy_status_name(x.at[0].status),
                 x.at[0].message, sy_status_name(status), why);
    assert_int_equal(x.at[0].outcome, outcome);
    assert_true(x.at[0].flags & SY_ATTEMPT_TLS);
    assert_int_equal(x.at[1].status, SY_OK);
    sy_conn_info info = SY_STRUCT_INIT(sy_conn_info);
    assert_int_equal(sy_conn_get_info(x.conn, &info), SY_OK);
    assert_true(info.tls);
    assert_non_null(info.tls_version);
    assert_non_null(info.tls_ciphersuite);
    echo_text(x.conn, "hello");
    sy_conn_close(x.conn);
    sy_router_free(r);
    tls_server_stop(good);
    tls_server_stop(bad);
}

static void unknown_ca(void **state) {
    (void)state;
    falls_over(serve(TLS_SERVER_ECHO, certs.unknown_ca_cert, NULL), SY_ETLS, SY_OUTCOME_TLS_ERROR,
               "unknown CA", NULL);
}

static void expired(void **state) {
    (void)state;
    falls_over(serve(TLS_SERVER_ECHO, certs.expired_cert, NULL), SY_ETLS, SY_OUTCOME_TLS_ERROR,
               "expired", NULL);
}

static void other_host(void **state) {
    (void)state;
    falls_over(serve(TLS_SERVER_ECHO, certs.other_cert, NULL), SY_ETLS, SY_OUTCOME_TLS_ERROR,
               "host name mismatch", NULL);
}

static void silent_handshake_times_out(void **state) {
    (void)state;
    falls_over(serve(TLS_SERVER_SILENT, certs.server_cert, NULL), SY_ETIMEOUT, SY_OUTCOME_TIMEOUT,
               "in the TLS handshake", "{\"timeout_ms\": 300}");
}

static void reset_during_handshake(void **state) {
    (void)state;
    falls_over(serve(TLS_SERVER_RESET, certs.server_cert, NULL), SY_ETLS, SY_OUTCOME_RESET,
               "reset", NULL);
}

static void profiles_and_defaults(void **state) {
    (void)state;
    tls_server *odd = serve(TLS_SERVER_ECHO, certs.unknown_ca_cert, NULL);
    tls_server *good = serve(TLS_SERVER_ECHO, certs.server_cert, NULL);
    int p1[1] = {tls_server_port(odd)};
    run x;
    /* insecure_skip_verify, only when asked for */
    sy_router *r = tls_routes(p1, 1, "localhost", "{\"insecure_skip_verify\": true}", NULL, NULL);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    sy_conn_close(x.conn);
    sy_router_free(r);

    /* connect.tls is the default profile; a route's profile wins field by field */
    int p2[1] = {tls_server_port(good)};
    char connect[1024];
    snprintf(connect, sizeof connect, "{\"tls\": {\"ca_file\": \"%s\"}}", certs.ca_cert);
    r = tls_routes(p2, 1, "localhost", NULL, connect, NULL);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    echo_text(x.conn, "hello");
    sy_conn_close(x.conn);
    sy_router_free(r);

    /* by IP: verified against the certificate's IP address, no SNI sent */
    r = tls_routes(p2, 1, "127.0.0.1", ca_profile(), NULL, NULL);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    char sni[64];
    assert_int_equal(tls_server_last_sni(good, sni, sizeof sni), 0);
    sy_conn_close(x.conn);
    sy_router_free(r);

    /* server_name overrides the name verified and sent */
    char prof[1024];
    snprintf(prof, sizeof prof, "{\"ca_file\": \"%s\", \"server_name\": \"localhost\"}", certs.ca_cert);
    r = tls_routes(p2, 1, "127.0.0.1", prof, NULL, NULL);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(tls_server_last_sni(good, sni, sizeof sni), 1);
    assert_string_equal(sni, "localhost");
    sy_conn_close(x.conn);
    sy_router_free(r);

    /* the CA as a directory */
    snprintf(prof, sizeof prof, "{\"ca_dir\": \"%s\"}", certs.ca_dir);
    r = tls_routes(p2, 1, "localhost", prof, NULL, NULL);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    sy_conn_close(x.conn);
    sy_router_free(r);
    tls_server_stop(odd);
    tls_server_stop(good);
}

static void client_certificate(void **state) {
    (void)state;
    tls_server *s = serve(TLS_SERVER_ECHO, certs.server_cert, certs.ca_cert);
    int p[1] = {tls_server_port(s)};
    run x;
    sy_router *r = tls_routes(p, 1, "localhost", ca_profile(), NULL, NULL);
    connect_run(r, "svc", NULL, &x);
    assert_int_not_equal(x.rc, SY_OK);
    assert_int_equal(x.at[0].outcome, SY_OUTCOME_TLS_ERROR);
    sy_router_free(r);

    char prof[2048];
    snprintf(prof, sizeof prof, "{\"ca_file\": \"%s\", \"cert_file\": \"%s\", \"key_file\": \"%s\"}",
             certs.ca_cert, certs.client_cert, certs.client_key);
    r = tls_routes(p, 1, "localhost", prof, NULL, NULL);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    echo_text(x.conn, "hello");
    sy_conn_close(x.conn);
    sy_router_free(r);
    tls_server_stop(s);
}

static void pooled_tls_connection(void **state) {
    (void)state;
    tls_server *s = serve(TLS_SERVER_ECHO, certs.server_cert, NULL);
    int p[1] = {tls_server_port(s)};
    sy_router *r = tls_routes(p, 1, "localhost", ca_profile(), NULL, NULL);
    run x;
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    echo_text(x.conn, "hello");
    sy_conn_release(x.conn);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_true(x.at[0].flags & SY_ATTEMPT_POOLED);
    echo_text(x.conn, "hello");
    sy_conn_close(x.conn);
    assert_int_equal(tls_server_handshakes(s), 1);
    sy_router_free(r);
    tls_server_stop(s);
}

typedef struct box {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
    sy_conn *conn;
    size_t count;
    sy_attempt at[MAXA];
} box;

static void on_done(int status, sy_conn *conn, const sy_attempt *a, size_t n, const sy_error *err,
                    void *data) {
    (void)err;
    box *b = data;
    pthread_mutex_lock(&b->mu);
    b->rc = status;
    b->conn = conn;
    b->count = n;
    for (size_t i = 0; i < n && i < MAXA; i++) b->at[i] = a[i];
    b->done = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void async_tls(void **state) {
    (void)state;
    tls_server *bad = serve(TLS_SERVER_ECHO, certs.expired_cert, NULL);
    tls_server *good = serve(TLS_SERVER_ECHO, certs.server_cert, NULL);
    int p[2] = {tls_server_port(bad), tls_server_port(good)};
    sy_router *r = tls_routes(p, 2, "localhost", ca_profile(), NULL, NULL);
    sy_request *q = NULL;
    sy_request_new(r, &q, NULL);
    sy_request_set_node(q, "svc");
    box b = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    assert_int_equal(sy_router_connect_async(r, q, NULL, on_done, &b, NULL), SY_OK);
    pthread_mutex_lock(&b.mu);
    while (!b.done) pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    assert_int_equal(b.rc, SY_OK);
    assert_int_equal(b.count, 2);
    assert_int_equal(b.at[0].status, SY_ETLS);
    assert_non_null(strstr(b.at[0].message, "expired"));
    echo_text(b.conn, "hello");
    sy_conn_close(b.conn);
    sy_request_free(q);
    sy_router_free(r);
    tls_server_stop(bad);
    tls_server_stop(good);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_ca),
        cmocka_unit_test(expired),
        cmocka_unit_test(other_host),
        cmocka_unit_test(silent_handshake_times_out),
        cmocka_unit_test(reset_during_handshake),
        cmocka_unit_test(profiles_and_defaults),
        cmocka_unit_test(client_certificate),
        cmocka_unit_test(pooled_tls_connection),
        cmocka_unit_test(async_tls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
