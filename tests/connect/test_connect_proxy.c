/* Proxy hops through the connector with real proxies from Debian packages
 * started on loopback (tinyproxy: HTTP CONNECT; microsocks: SOCKS5), routed
 * by static_routes proxy routes: one hop of each kind, credentials, a
 * two-hop chain, and a proxy that cannot reach the target, after which the
 * connect falls over to the next target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/switchyard.h>

#include "support/connect_run.h"
#include "support/echo_server.h"
#include "support/plugin_dir.h"
#include "support/proxies.h"


static echo_server echo;
static int echo_port;
static test_proxy tiny, socks, socks_auth;

static int setup(void **state) {
    (void)state;
    echo_port = echo_server_start(&echo, ECHO_MODE_ECHO);
    if (echo_port <= 0) return -1;
    int rc = tinyproxy_start(&tiny, NULL, NULL);
    if (!rc) rc = microsocks_start(&socks, NULL, NULL);
    if (!rc) rc = microsocks_start(&socks_auth, "sy", "s3cret");
    if (rc == TEST_PROXY_NOT_INSTALLED)
        fprintf(stderr, "tinyproxy or microsocks is not installed (tests/ci/install-deps.sh)\n");
    return rc;
}

static int teardown(void **state) {
    (void)state;
    test_proxy_stop(&tiny);
    test_proxy_stop(&socks);
    test_proxy_stop(&socks_auth);
    echo_server_stop(&echo);
    return 0;
}

static sy_router *router_with(const char *config) {
    char cfg[8192];
    snprintf(cfg, sizeof cfg,
             "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"static_routes\", "
             "\"config\": %s}, \"connect\": {\"timeout_ms\": 3000}}",
             plugin_dir(), config);
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_new(cfg, strlen(cfg), NULL, &r, &err);
    if (rc) fprintf(stderr, "router: %s: %s\n", err.path, err.message);
    assert_int_equal(rc, SY_OK);
    return r;
}

/* node "svc" reached through proxy node "px" at port, asked with protocol. */
static sy_router *one_hop(int port, const char *protocol, const char *cookie, int dest_port) {
    char config[2048];
    snprintf(config, sizeof config,
             "{\"routes\": [{\"pattern\": \"^px$\", \"host\": \"127.0.0.1\", \"port\": %d%s%s%s}],"
             " \"proxy_routes\": [{\"pattern\": \"^svc$\", \"to\": \"127.0.0.1:%d\", \"proxy\": \"px\","
             " \"protocol\": \"%s\"}]}",
             port, cookie ? ", \"cookie\": \"" : "", cookie ? cookie : "", cookie ? "\"" : "",
             dest_port, protocol);
    return router_with(config);
}

static void through_one(int port, const char *protocol, const char *cookie) {
    sy_router *r = one_hop(port, protocol, cookie, echo_port);
    run x;
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(x.count, 1);
    assert_int_equal(x.at[0].proxy_count, 1);
    assert_int_equal(x.at[0].port, echo_port);
    sy_conn_info info = SY_STRUCT_INIT(sy_conn_info);
    sy_conn_get_info(x.conn, &info);
    assert_int_equal(info.proxy_count, 1);
    char peer[32];
    snprintf(peer, sizeof peer, "127.0.0.1:%d", port);
    assert_string_equal(info.peer, peer); /* the first hop is what we dialled */
    echo_text(x.conn, "through");
    sy_conn_close(x.conn);
    sy_router_free(r);
}

static void http_connect_hop(void **state) {
    (void)state;
    through_one(tiny.port, "http_connect", NULL);
}

static void socks5_hop(void **state) {
    (void)state;
    through_one(socks.port, "socks5", NULL);
}

static void socks5_credentials(void **state) {
    (void)state;
    through_one(socks_auth.port, "socks5", "sy:s3cret");
    sy_router *r = one_hop(socks_auth.port, "socks5", "sy:wrong", echo_port);
    run x;
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_ECONNECT);
    assert_non_null(strstr(x.at[0].message, "socks5"));
    sy_router_free(r);
    r = one_hop(socks_auth.port, "socks5", NULL, echo_port);
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_ECONNECT);
    assert_non_null(strstr(x.at[0].message, "authentication"));
    sy_router_free(r);
}

/* microsocks is dialled and asked (SOCKS5) for tinyproxy, which is asked
 * (HTTP CONNECT) for the echo server. */
static void two_hop_chain(void **state) {
    (void)state;
    char config[2048];
    snprintf(config, sizeof config,
             "{\"routes\": [{\"pattern\": \"^ms$\", \"host\": \"127.0.0.1\", \"port\": %d}],"
             " \"proxy_routes\": ["
             "{\"pattern\": \"^svc$\", \"to\": \"127.0.0.1:%d\", \"proxy\": \"tp\", \"protocol\": \"http_connect\"},"
             "{\"pattern\": \"^tp$\", \"to\": \"127.0.0.1:%d\", \"proxy\": \"ms\", \"protocol\": \"socks5\"}]}",
             socks.port, echo_port, tiny.port);
    sy_router *r = router_with(config);
    run x;
    connect_run(r, "svc", NULL, &x);
    assert_int_equal(x.rc, SY_OK);
    assert_int_equal(x.at[0].proxy_count, 2);
    echo_text(x.conn, "through");
    sy_conn_close(x.conn);
    sy_router_free(r);
}

/* The proxy cannot reach the first destination: that attempt fails with the
 * proxy's answer and the next target connects. */
static void proxy_refusal_falls_over(void **state) {
    (void)state;
    int dead = test_free_port();
    const struct {
        int port;
        const char *protocol;
    } cases[] = {{tiny.port, "http_connect"}, {socks.port, "socks5"}};
    for (size_t i = 0; i < 2; i++) {
        char config[2048];
        snprintf(config, sizeof config,
                 "{\"routes\": [{\"pattern\": \"^px$\", \"host\": \"127.0.0.1\", \"port\": %d}],"
                 " \"proxy_routes\": ["
                 "{\"pattern\": \"^svc$\", \"weight\": 10, \"to\": \"127.0.0.1:%d\", \"proxy\": \"px\", \"protocol\": \"%s\"},"
                 "{\"pattern\": \"^sv.$\", \"weight\": 5, \"to\": \"127.0.0.1:%d\", \"proxy\": \"px\", \"protocol\": \"%s\"}]}",
                 cases[i].port, dead, cases[i].protocol, echo_port, cases[i].protocol);
        sy_router *r = router_with(config);
        run x;
        connect_run(r, "svc", NULL, &x);
        assert_int_equal(x.rc, SY_OK);
        assert_int_equal(x.count, 2);
        assert_int_equal(x.at[0].status, SY_ECONNECT);
        assert_non_null(strstr(x.at[0].message, cases[i].protocol));
        assert_int_equal(x.at[1].status, SY_OK);
        echo_text(x.conn, "through");
        sy_conn_close(x.conn);
        sy_router_free(r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(http_connect_hop),
        cmocka_unit_test(socks5_hop),
        cmocka_unit_test(socks5_credentials),
        cmocka_unit_test(two_hop_chain),
        cmocka_unit_test(proxy_refusal_falls_over),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
