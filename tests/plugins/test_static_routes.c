/* static_routes through the public API: config, lookup order, anchoring,
 * the resolver and its merge rule, proxy chains, the table interface, the
 * lookup cache, ReDoS limits, and changes while other threads plan. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <switchyard/static_routes.h>
#include <switchyard/switchyard.h>

#include "support/plugin_dir.h"

#include "support/counting_alloc.h"

#define MAX_TARGETS 32

typedef struct copied {
    char node[96], host[96], cookie[64], via[160], error[200];
    char flags[128], proxies[256], sni[64];
    uint32_t port, log_level;
    int32_t weight;
    int tls, has_weight;
    uint64_t user_flags;
} copied;

static int make_opts(const char *selector, const char *translators, const char *topology,
                     const sy_router_options *opts, sy_router **out, sy_error *err) {
    static char buf[1 << 16];
    int n = snprintf(buf, sizeof buf,
                     "{\"plugin_path\": [\"%s\"], \"topology\": %s, \"selector\": %s, \"translators\": %s}",
                     plugin_dir(), topology ? topology : "{\"nodes\": []}", selector,
                     translators ? translators : "[]");
    assert_true(n > 0 && (size_t)n < sizeof buf);
    *err = (sy_error){.struct_size = sizeof(sy_error)};
    *out = NULL;
    return sy_router_new(buf, (size_t)n, opts, out, err);
}

/* A router whose selector is static_routes with `config`. */
static int make(const char *config, const sy_router_options *opts, sy_router **out, sy_error *err) {
    static char sel[1 << 15];
    int n = snprintf(sel, sizeof sel, "{\"plugin\": \"static_routes\", \"config\": %s}", config);
    assert_true(n > 0 && (size_t)n < sizeof sel);
    return make_opts(sel, NULL, NULL, opts, out, err);
}

static sy_router *must(const char *config, const sy_router_options *opts) {
    sy_router *r = NULL;
    sy_error err;
    int rc = make(config, opts, &r, &err);
    if (rc != SY_OK) fail_msg("sy_router_new: %s: %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

static void copy_target(const sy_target *t, copied *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->node, sizeof c->node, "%s", t->node ? t->node : "");
    snprintf(c->host, sizeof c->host, "%s", t->host ? t->host : "");
    snprintf(c->cookie, sizeof c->cookie, "%s", t->cookie ? t->cookie : "");
    snprintf(c->error, sizeof c->error, "%s", t->error ? t->error : "");
    if (t->via_count) snprintf(c->via, sizeof c->via, "%s", t->via_detail[t->via_count - 1] ? t->via_detail[t->via_count - 1] : "");
    for (uint32_t i = 0; i < t->flag_name_count; i++) {
        size_t l = strlen(c->flags);
        snprintf(c->flags + l, sizeof c->flags - l, "%s%s", i ? "," : "", t->flag_names[i]);
    }
    for (uint32_t i = 0; i < t->proxy_count; i++) {
        const sy_proxy_hop *h = &t->proxies[i];
        size_t l = strlen(c->proxies);
        snprintf(c->proxies + l, sizeof c->proxies - l, "%s%s=%s:%u/%s", i ? " > " : "", h->node,
                 h->host ? h->host : "?", h->port, h->protocol == SY_PROXY_SOCKS5 ? "socks5" : "http");
    }
    if (t->tls_profile && t->tls_profile->server_name)
        snprintf(c->sni, sizeof c->sni, "%s", t->tls_profile->server_name);
    c->port = t->port;
    c->log_level = t->log_level;
    c->weight = t->weight;
    c->has_weight = (t->flags & SY_TARGET_HAS_WEIGHT) != 0;
    c->tls = (t->flags & SY_TARGET_TLS) != 0;
    c->user_flags = t->user_flags;
}

/* Plans `node`: the number of targets, or a negative status (err filled). */
static int plan_node(sy_router *r, const char *node, copied *out, sy_error *err) {
    sy_request *req = NULL;
    *err = (sy_error){.struct_size = sizeof *err};
    assert_int_equal(sy_request_new(r, &req, err), SY_OK);
    if (node) assert_int_equal(sy_request_set_node(req, node), SY_OK);
    sy_plan_storage storage;
    sy_plan *p = NULL;
    int rc = sy_plan_init(r, req, &storage, sizeof storage, &p, err);
    if (rc != SY_OK) {
        sy_request_free(req);
        return rc;
    }
    int n = 0;
    sy_target t = SY_STRUCT_INIT(sy_target);
    while ((rc = sy_plan_next(p, &t)) == 1) {
        assert_true(n < MAX_TARGETS);
        copy_target(&t, &out[n++]);
    }
    sy_plan_release(p);
    sy_request_free(req);
    return rc < 0 ? rc : n;
}

static int must_plan(sy_router *r, const char *node, copied *out) {
    sy_error err;
    int n = plan_node(r, node, out, &err);
    if (n < 0) fail_msg("plan %s: %s: %s", node, sy_status_name(n), err.message);
    return n;
}

static const sy_static_routes_table *table_of(sy_router *r, void **inst) {
    const void *iface = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_get_interface(r, "static_routes", SY_STATIC_ROUTES_TABLE,
                                     SY_STATIC_ROUTES_TABLE_VERSION, &iface, inst, &err);
    if (rc != SY_OK) fail_msg("get_interface: %s", err.message);
    return iface;
}

/* ---------------------------------------------------------------- Ergo's examples */

/* docs.ergo.services "Static routes": an exact name, a prefix, a suffix and a
 * complex pattern; with anchored: false the patterns search, as Go's
 * regexp.MatchString does. */
static void test_ergo_doc_examples(void **state) {
    (void)state;
    sy_router *r = must("{\"anchored\": false, \"routes\": ["
                        "{\"pattern\": \"node@example.com\", \"host\": \"10.0.0.1\", \"port\": 4370},"
                        "{\"pattern\": \"^prod-\", \"host\": \"10.0.1.1\", \"port\": 4370, \"weight\": 1},"
                        "{\"pattern\": \"@staging\\\\.local$\", \"host\": \"10.0.2.1\", \"port\": 4370},"
                        "{\"pattern\": \"^(api|web)-[0-9]+@cluster-(east|west)$\", \"host\": \"10.0.3.1\", \"port\": 4370}"
                        "]}", NULL);
    copied t[MAX_TARGETS];
    assert_int_equal(must_plan(r, "node@example.com", t), 1);
    assert_string_equal(t[0].host, "10.0.0.1");
    /* substring semantics: Ergo's "node@example.com" also matches this */
    assert_int_equal(must_plan(r, "mynode@example.com", t), 1);
    assert_int_equal(must_plan(r, "prod-db@staging.local", t), 2);
    assert_string_equal(t[0].host, "10.0.1.1"); /* weight 1 before weight 0 */
    assert_string_equal(t[1].host, "10.0.2.1");
    assert_int_equal(must_plan(r, "api-12@cluster-west", t), 1);
    assert_string_equal(t[0].host, "10.0.3.1");
    sy_error err;
    assert_int_equal(plan_node(r, "api-x@cluster-west", t, &err), SY_ENOROUTE);
    assert_non_null(strstr(err.message, "api-x@cluster-west"));
    sy_router_free(r);
}

/* Ergo: two routes for one node with different weights; the heavier first. */
static void test_two_weights_one_node(void **state) {
    (void)state;
    sy_router *r = must("{\"routes\": ["
                        "{\"pattern\": \"db@example\\\\.com\", \"host\": \"10.0.0.2\", \"port\": 4370, \"weight\": 100},"
                        "{\"pattern\": \"db@.*\", \"host\": \"10.0.0.1\", \"port\": 4370, \"weight\": 200}"
                        "]}", NULL);
    copied t[MAX_TARGETS];
    assert_int_equal(must_plan(r, "db@example.com", t), 2);
    assert_string_equal(t[0].host, "10.0.0.1");
    assert_int_equal(t[0].weight, 200);
    assert_string_equal(t[1].host, "10.0.0.2");
    assert_int_equal(t[1].weight, 100);
    assert_string_equal(t[0].via, "{\"pattern\":\"db@.*\",\"weight\":200}");
    sy_router_free(r);
}

/* ---------------------------------------------------------------- order, anchoring */

static void test_equal_weights_keep_insertion_order(void **state) {
    (void)state;
    /* 9 routes: more than one cache entry holds, so the scan goes on */
    sy_router *r = must("{\"routes\": ["
                        "{\"pattern\": \"n.*\", \"host\": \"h1\", \"port\": 1},"
                        "{\"pattern\": \"n\", \"host\": \"h2\", \"port\": 2, \"weight\": 3},"
                        "{\"pattern\": \".*\", \"host\": \"h3\", \"port\": 3},"
                        "{\"pattern\": \"[n]\", \"host\": \"h4\", \"port\": 4},"
                        "{\"pattern\": \"(n)\", \"host\": \"h5\", \"port\": 5, \"weight\": -1},"
                        "{\"pattern\": \"n?\", \"host\": \"h6\", \"port\": 6},"
                        "{\"pattern\": \"n+\", \"host\": \"h7\", \"port\": 7},"
                        "{\"pattern\": \"n*\", \"host\": \"h8\", \"port\": 8, \"weight\": 3},"
                        "{\"pattern\": \"(?:n)\", \"host\": \"h9\", \"port\": 9}"
                        "]}", NULL);
    copied t[MAX_TARGETS];
    const char *want[] = {"h2", "h8", "h1", "h3", "h4", "h6", "h7", "h9", "h5"};
    for (int round = 0; round < 3; round++) { /* cold, then from the cache */
        assert_int_equal(must_plan(r, "n", t), 9);
        for (int i = 0; i < 9; i++) assert_string_equal(t[i].host, want[i]);
    }
    /* a route added later goes after its equals */
    void *inst;
    const sy_static_routes_table *tb = table_of(r, &inst);
    sy_error err = SY_STRUCT_INIT(sy_error);
    const char *add = "{\"pattern\": \"nn?\", \"host\": \"h10\", \"port\": 10, \"weight\": 3}";
    assert_int_equal(tb->add(inst, SY_ROUTE_STATIC, add, strlen(add), &err), SY_OK);
    assert_int_equal(must_plan(r, "n", t), 10);
    assert_string_equal(t[2].host, "h10");
    assert_string_equal(t[3].host, "h1");
    sy_router_free(r);
}

static void test_anchoring(void **state) {
    (void)state;
    const char *routes = "\"routes\": [{\"pattern\": \"node\", \"host\": \"10.0.0.1\", \"port\": 1}]";
    char cfg[256];
    copied t[MAX_TARGETS];
    sy_error err;
    snprintf(cfg, sizeof cfg, "{%s}", routes);
    sy_router *r = must(cfg, NULL);
    assert_int_equal(must_plan(r, "node", t), 1);
    assert_int_equal(plan_node(r, "mynode@host", t, &err), SY_ENOROUTE);
    assert_int_equal(plan_node(r, "node2", t, &err), SY_ENOROUTE);
    sy_router_free(r);
    snprintf(cfg, sizeof cfg, "{\"anchored\": false, %s}", routes);
    r = must(cfg, NULL);
    assert_int_equal(must_plan(r, "mynode@host", t), 1);
    assert_int_equal(must_plan(r, "node2", t), 1);
    assert_int_equal(plan_node(r, "nod", t, &err), SY_ENOROUTE);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- fields */

static void test_route_fields_reach_the_target(void **state) {
    (void)state;
    sy_router *r = must("{\"routes\": [{\"pattern\": \"prod-db[0-9]+@example\\\\.com\", \"weight\": 7,"
                        " \"host\": \"10.0.0.1\", \"port\": 4370, \"tls_profile\": {\"server_name\": \"db.example.com\","
                        " \"insecure_skip_verify\": false}, \"cookie\": \"s3cret\", \"flags\": [\"remote_spawn\","
                        " \"fragmentation\"], \"log_level\": \"debug\"},"
                        "{\"pattern\": \"prod-.*\", \"port\": 4371, \"flags\": [\"fragmentation\"]}]}", NULL);
    copied t[MAX_TARGETS];
    assert_int_equal(must_plan(r, "prod-db1@example.com", t), 2);
    assert_string_equal(t[0].node, "prod-db1@example.com");
    assert_int_equal(t[0].port, 4370);
    assert_true(t[0].tls); /* a TLS profile implies TLS */
    assert_string_equal(t[0].sni, "db.example.com");
    assert_string_equal(t[0].cookie, "s3cret");
    assert_string_equal(t[0].flags, "remote_spawn,fragmentation");
    assert_int_equal(t[0].user_flags, 3);
    assert_int_equal(t[0].log_level, SY_LOG_DEBUG);
    /* no host: the name's @host part, as Ergo; a flag keeps its bit */
    assert_string_equal(t[1].host, "example.com");
    assert_int_equal(t[1].port, 4371);
    assert_false(t[1].tls);
    assert_int_equal(t[1].user_flags, 2);
    /* no host and no @host: the target says why */
    assert_int_equal(must_plan(r, "prod-x", t), 1);
    assert_string_equal(t[0].host, "");
    assert_non_null(strstr(t[0].error, "no @host part"));
    sy_router_free(r);
}

typedef struct bad_case {
    const char *config;
    int code;
    const char *path;
    const char *message;
} bad_case;

static void test_config_errors(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"{\"routes\": [{\"pattern\": \"a(b\", \"port\": 1}]}", SY_ECONFIG, "selector.config.routes[0].pattern",
         "PCRE2 error at offset 3: missing closing parenthesis"},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 0}]}", SY_ECONFIG, "selector.config.routes[0].port",
         "expected an integer in 1..65535"},
        {"{\"routes\": [{\"pattern\": \"a\"}]}", SY_ECONFIG, "selector.config.routes[0].port",
         "required (1..65535) unless the route uses the resolver"},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 70000}]}", SY_ECONFIG, "selector.config.routes[0].port",
         "expected an integer in 1..65535"},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 1, \"host\": \"bad host\"}]}", SY_ECONFIG,
         "selector.config.routes[0].host", "'bad host'"},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 1, \"host\": \"10.0.0.1:80\"}]}", SY_ECONFIG,
         "selector.config.routes[0].host", "give the port in \"port\""},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 1}, {\"pattern\": \"a\", \"port\": 2}]}", SY_ECONFIG,
         "selector.config.routes[1]", "pattern 'a' is given twice"},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 1, \"colour\": 1}]}", SY_ECONFIG,
         "selector.config.routes[0].colour", "unknown key"},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 1, \"tls\": false, \"tls_profile\": {}}]}", SY_ECONFIG,
         "selector.config.routes[0].tls_profile", "\"tls\" is false"},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 1, \"tls_profile\": {\"cert_file\": \"/etc/hostname\"}}]}",
         SY_ECONFIG, "selector.config.routes[0].tls_profile.key_file", "needs both cert_file and key_file"},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 1, \"tls_profile\": {\"ca_file\": \"/nonexistent/ca.pem\"}}]}",
         SY_ECONFIG, "selector.config.routes[0].tls_profile.ca_file", "/nonexistent/ca.pem: No such file"},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 1, \"log_level\": \"loud\"}]}", SY_ECONFIG,
         "selector.config.routes[0].log_level", "expected \"error\""},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 1, \"flags\": [\"x\", \"x\"]}]}", SY_ECONFIG,
         "selector.config.routes[0]", "'x' is given twice"},
        {"{\"routes\": [{\"pattern\": \"\", \"port\": 1}]}", SY_ECONFIG, "selector.config.routes[0].pattern",
         "must not be empty"},
        {"{\"routes\": [{\"pattern\": \"a\", \"port\": 1, \"weight\": 1.5}]}", SY_ECONFIG,
         "selector.config.routes[0].weight", "expected an integer"},
        {"{\"anchored\": \"yes\"}", SY_ECONFIG, "selector.config.anchored", "expected true or false"},
        {"{\"routes\": {}}", SY_ECONFIG, "selector.config.routes", "expected an array"},
        {"{\"proxy_routes\": [{\"pattern\": \"a\", \"to\": \"b:1\"}]}", SY_ECONFIG,
         "selector.config.proxy_routes[0].proxy", "required"},
        {"{\"proxy_routes\": [{\"pattern\": \"a\", \"to\": \"b:1\", \"proxy\": \"p\", \"protocol\": \"ftp\"}]}",
         SY_ECONFIG, "selector.config.proxy_routes[0].protocol", "expected \"http_connect\" or \"socks5\""},
        {"{\"proxy_routes\": [{\"pattern\": \"a\", \"to\": \"b:1\", \"proxy\": \"p\", \"max_hop\": 9}]}",
         SY_ECONFIG, "selector.config.proxy_routes[0].max_hop", "1..8"},
        {"{\"proxy_routes\": [{\"pattern\": \"a\", \"to\": \"nowhere\", \"proxy\": \"p\"}]}", SY_ECONFIG,
         "selector.config.proxy_routes", "destination 'nowhere' has no address"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sy_router *r = NULL;
        sy_error err;
        int rc = make(cases[i].config, NULL, &r, &err);
        if (rc != cases[i].code || strcmp(err.path, cases[i].path) != 0 ||
            !strstr(err.message, cases[i].message))
            fail_msg("case %zu %s: got %s at '%s': %s", i, cases[i].config, sy_status_name(rc), err.path,
                     err.message);
        assert_null(r);
    }
}

/* ---------------------------------------------------------------- resolver */

typedef struct fake_resolver {
    atomic_int calls;
} fake_resolver;

static int fake_resolve(const char *name, sy_endpoint *out, size_t cap, void *ud) {
    fake_resolver *f = ud;
    atomic_fetch_add(&f->calls, 1);
    assert_true(cap >= 2);
    if (strcmp(name, "fail@x") == 0) return SY_EIO;
    if (strncmp(name, "known", 5) != 0) return 0;
    out[0].host = "192.0.2.1";
    out[0].port = 5001;
    out[0].tls = 1;
    out[1].host = "192.0.2.2";
    out[1].port = 5002;
    return 2;
}

static uint64_t g_now = 1000000000ull;
static uint64_t fake_clock(void *ud) {
    (void)ud;
    return g_now;
}

static sy_router_options resolver_opts(sy_resolver *res, fake_resolver *f) {
    *res = SY_STRUCT_INIT(sy_resolver);
    res->resolve = fake_resolve;
    res->user_data = f;
    res->ttl_ms = 1000;
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.resolver = res;
    o.clock_ns = fake_clock;
    return o;
}

/* One merge rule on every path: the route's set fields win. */
static void test_resolver_merge_rule(void **state) {
    (void)state;
    fake_resolver f = {0};
    sy_resolver res;
    sy_router_options o = resolver_opts(&res, &f);
    sy_router *r = must("{\"routes\": ["
                        "{\"pattern\": \"known-a\", \"resolver\": true, \"weight\": 2},"
                        "{\"pattern\": \"known-b\", \"resolver\": true, \"host\": \"10.9.9.9\", \"tls\": false, \"cookie\": \"c\"},"
                        "{\"pattern\": \"known-c\", \"resolver\": true, \"port\": 7000}]}", &o);
    copied t[MAX_TARGETS];
    /* nothing set: the resolver's answer as it is */
    assert_int_equal(must_plan(r, "known-a", t), 2);
    assert_string_equal(t[0].host, "192.0.2.1");
    assert_int_equal(t[0].port, 5001);
    assert_true(t[0].tls);
    assert_int_equal(t[0].weight, 2);
    assert_string_equal(t[0].via, "{\"pattern\":\"known-a\",\"weight\":2,\"resolver\":true}");
    assert_string_equal(t[1].host, "192.0.2.2");
    assert_false(t[1].tls);
    /* host and tls from the route, port from the resolver */
    assert_int_equal(must_plan(r, "known-b", t), 2);
    assert_string_equal(t[0].host, "10.9.9.9");
    assert_int_equal(t[0].port, 5001);
    assert_false(t[0].tls);
    assert_string_equal(t[0].cookie, "c");
    /* port from the route */
    assert_int_equal(must_plan(r, "known-c", t), 2);
    assert_string_equal(t[1].host, "192.0.2.2");
    assert_int_equal(t[1].port, 7000);
    sy_router_free(r);
}

static void test_resolver_fallback_and_ttl(void **state) {
    (void)state;
    fake_resolver f = {0};
    sy_resolver res;
    sy_router_options o = resolver_opts(&res, &f);
    sy_router *r = must("{\"routes\": [{\"pattern\": \"static@.*\", \"host\": \"10.0.0.1\", \"port\": 1}]}", &o);
    copied t[MAX_TARGETS];
    sy_error err;
    /* no static match: the resolver answers, via says so */
    assert_int_equal(must_plan(r, "known@x", t), 2);
    assert_string_equal(t[0].host, "192.0.2.1");
    assert_string_equal(t[0].via, "{\"resolver\":true}");
    int calls = atomic_load(&f.calls);
    assert_int_equal(must_plan(r, "known@x", t), 2);
    assert_int_equal(atomic_load(&f.calls), calls); /* cached */
    g_now += 1500000000ull;                          /* past the TTL */
    assert_int_equal(must_plan(r, "known@x", t), 2);
    assert_int_equal(atomic_load(&f.calls), calls + 1);
    /* a static match without fallthrough never asks the resolver */
    calls = atomic_load(&f.calls);
    assert_int_equal(must_plan(r, "static@x", t), 1);
    assert_int_equal(atomic_load(&f.calls), calls);
    /* unknown and failing names: no route, and the message says why */
    assert_int_equal(plan_node(r, "nobody", t, &err), SY_ENOROUTE);
    assert_non_null(strstr(err.message, "the resolver does not know it"));
    assert_int_equal(plan_node(r, "fail@x", t, &err), SY_ENOROUTE);
    assert_non_null(strstr(err.message, "resolver failed for 'fail@x'"));
    sy_router_free(r);
}

static void test_fallthrough(void **state) {
    (void)state;
    fake_resolver f = {0};
    sy_resolver res;
    sy_router_options o = resolver_opts(&res, &f);
    sy_router *r = must("{\"fallthrough\": true, \"routes\": [{\"pattern\": \"known.*\", \"host\": \"10.0.0.1\", \"port\": 1}],"
                        " \"proxy_routes\": [{\"pattern\": \"known.*\", \"to\": \"10.5.5.5:99\", \"proxy\": \"gw@10.0.0.7\"}]}", &o);
    copied t[MAX_TARGETS];
    /* static, then the resolver's two, then the proxy route */
    assert_int_equal(must_plan(r, "known@x", t), 4);
    assert_string_equal(t[0].host, "10.0.0.1");
    assert_string_equal(t[1].host, "192.0.2.1");
    assert_string_equal(t[2].host, "192.0.2.2");
    assert_string_equal(t[3].host, "10.5.5.5");
    assert_string_equal(t[3].proxies, "gw@10.0.0.7=?:0/http"); /* hop left to the connector's resolver */
    sy_router_free(r);
}

/* ---------------------------------------------------------------- proxies */

static void test_proxy_chains_and_max_hop(void **state) {
    (void)state;
    /* edge is reached through gw2, which sits behind gw1 (static route) */
    sy_router *r = must("{\"routes\": [{\"pattern\": \"gw1\", \"host\": \"10.0.0.1\", \"port\": 1080, \"cookie\": \"k1\"}],"
                        " \"proxy_routes\": ["
                        "{\"pattern\": \"edge@.*\", \"to\": \"10.2.0.1:4370\", \"proxy\": \"gw2\", \"weight\": 5, \"cookie\": \"ce\"},"
                        "{\"pattern\": \"gw2\", \"to\": \"10.1.0.1:3128\", \"proxy\": \"gw1\", \"protocol\": \"socks5\"}]}", NULL);
    copied t[MAX_TARGETS];
    assert_int_equal(must_plan(r, "edge@dc2", t), 1);
    assert_string_equal(t[0].host, "10.2.0.1");
    assert_int_equal(t[0].port, 4370);
    assert_string_equal(t[0].cookie, "ce");
    /* dial gw1 first (asked by SOCKS5 to reach gw2), then gw2 (HTTP CONNECT to edge) */
    assert_string_equal(t[0].proxies, "gw1=10.0.0.1:1080/socks5 > gw2=10.1.0.1:3128/http");
    sy_router_free(r);

    /* a loop of proxies is refused at load with the hop limit */
    sy_router *bad = NULL;
    sy_error err;
    int rc = make("{\"proxy_routes\": ["
                  "{\"pattern\": \"a\", \"to\": \"10.0.0.1:1\", \"proxy\": \"b\", \"max_hop\": 3},"
                  "{\"pattern\": \"b\", \"to\": \"10.0.0.2:1\", \"proxy\": \"a\"}]}", NULL, &bad, &err);
    assert_int_equal(rc, SY_ELIMIT);
    assert_non_null(strstr(err.message, "more than max_hop"));
    assert_null(bad);

    /* adding a route that makes a chain too long is refused, the table kept */
    r = must("{\"proxy_routes\": [{\"pattern\": \"a\", \"to\": \"10.0.0.1:1\", \"proxy\": \"b\", \"max_hop\": 1}]}", NULL);
    void *inst;
    const sy_static_routes_table *tb = table_of(r, &inst);
    const char *add = "{\"pattern\": \"b\", \"to\": \"10.0.0.2:1\", \"proxy\": \"c\"}";
    err = (sy_error){.struct_size = sizeof err};
    assert_int_equal(tb->add(inst, SY_ROUTE_PROXY, add, strlen(add), &err), SY_ELIMIT);
    assert_int_equal(must_plan(r, "a", t), 1);
    assert_string_equal(t[0].proxies, "b=?:0/http");
    sy_router_free(r);
}

/* ---------------------------------------------------------------- the table API */

typedef struct visited {
    char text[1024];
    int n;
} visited;

static int visit(const sy_route_info *ri, void *ud) {
    visited *v = ud;
    size_t l = strlen(v->text);
    snprintf(v->text + l, sizeof v->text - l, "%s%s/%d/%u/%s", v->n++ ? " " : "", ri->pattern, ri->weight,
             ri->position, ri->kind == SY_ROUTE_STATIC ? "s" : "p");
    return 0;
}

static void test_table_api(void **state) {
    (void)state;
    sy_router *r = must("{\"routes\": [{\"pattern\": \"db@.*\", \"host\": \"10.0.0.1\", \"port\": 1, \"weight\": 1}]}", NULL);
    void *inst;
    const sy_static_routes_table *tb = table_of(r, &inst);
    assert_int_equal(tb->version, 1);
    sy_error err = SY_STRUCT_INIT(sy_error);
    copied t[MAX_TARGETS];
    uint64_t e0 = sy_router_epoch(r);

    /* ErrTaken: same text, old route kept */
    const char *dup = "{\"pattern\": \"db@.*\", \"host\": \"10.0.0.2\", \"port\": 2}";
    assert_int_equal(tb->add(inst, SY_ROUTE_STATIC, dup, strlen(dup), &err), SY_ETAKEN);
    assert_int_equal(must_plan(r, "db@x", t), 1);
    assert_string_equal(t[0].host, "10.0.0.1");
    /* a bad pattern: PCRE2's message and offset */
    const char *bad = "{\"pattern\": \"db[\", \"port\": 2}";
    assert_int_equal(tb->add(inst, SY_ROUTE_STATIC, bad, strlen(bad), &err), SY_ECONFIG);
    assert_non_null(strstr(err.message, "PCRE2 error at offset 3"));
    assert_int_equal(tb->add(inst, SY_ROUTE_STATIC, "{", 1, &err), SY_ECONFIG);

    /* add changes plans at once, through a new snapshot */
    const char *add = "{\"pattern\": \"db@x\", \"host\": \"10.0.0.3\", \"port\": 3, \"weight\": 9}";
    assert_int_equal(tb->add(inst, SY_ROUTE_STATIC, add, strlen(add), &err), SY_OK);
    assert_true(sy_router_epoch(r) > e0);
    assert_int_equal(must_plan(r, "db@x", t), 2);
    assert_string_equal(t[0].host, "10.0.0.3");

    /* query: every match in order, with pattern and weight */
    visited v = {{0}, 0};
    assert_int_equal(tb->query(inst, "db@x", visit, &v, &err), SY_OK);
    assert_string_equal(v.text, "db@x/9/0/s db@.*/1/1/s");
    v = (visited){{0}, 0};
    assert_int_equal(tb->query(inst, "nobody", visit, &v, &err), SY_ENOROUTE);
    assert_int_equal(v.n, 0);
    const char *px = "{\"pattern\": \"db@y\", \"to\": \"10.1.1.1:1\", \"proxy\": \"db@x\"}";
    assert_int_equal(tb->add(inst, SY_ROUTE_PROXY, px, strlen(px), &err), SY_OK);
    v = (visited){{0}, 0};
    assert_int_equal(tb->list(inst, visit, &v, &err), SY_OK);
    assert_string_equal(v.text, "db@x/9/0/s db@.*/1/1/s db@y/0/0/p");

    /* remove: exact text only; ErrUnknown otherwise */
    assert_int_equal(tb->remove(inst, SY_ROUTE_STATIC, "db@.", &err), SY_EUNKNOWN);
    assert_int_equal(tb->remove(inst, SY_ROUTE_PROXY, "db@x", &err), SY_EUNKNOWN);
    assert_int_equal(tb->remove(inst, SY_ROUTE_STATIC, "db@x", &err), SY_OK);
    assert_int_equal(must_plan(r, "db@x", t), 1);
    assert_string_equal(t[0].host, "10.0.0.1");
    assert_int_equal(tb->remove(inst, SY_ROUTE_STATIC, "db@.*", &err), SY_OK);
    assert_int_equal(plan_node(r, "db@x", t, &err), SY_ENOROUTE);
    /* the re-added route is back */
    assert_int_equal(tb->add(inst, SY_ROUTE_STATIC, add, strlen(add), &err), SY_OK);
    assert_int_equal(must_plan(r, "db@x", t), 1);

    /* misuse */
    assert_int_equal(tb->add(NULL, SY_ROUTE_STATIC, add, strlen(add), &err), SY_EINVAL);
    assert_int_equal(tb->add(inst, 7, add, strlen(add), &err), SY_EINVAL);
    assert_int_equal(tb->remove(inst, SY_ROUTE_STATIC, NULL, &err), SY_EINVAL);
    assert_int_equal(tb->query(inst, NULL, visit, &v, &err), SY_EINVAL);
    const void *iface;
    assert_int_equal(sy_router_get_interface(r, "static_routes", SY_STATIC_ROUTES_TABLE, 2, &iface, &inst, &err),
                     SY_EUNSUPPORTED);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- limits, cache */

static void test_redos_is_bounded(void **state) {
    (void)state;
    sy_router *r = must("{\"match_limit\": 10000, \"routes\": [{\"pattern\": \"(a+)+$\", \"host\": \"10.0.0.1\", \"port\": 1}]}",
                        NULL);
    copied t[MAX_TARGETS];
    sy_error err;
    char name[64];
    memset(name, 'a', 40);
    strcpy(name + 40, "!");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(plan_node(r, name, t, &err), SY_ELIMIT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_non_null(strstr(err.message, "(a+)+$"));
    assert_non_null(strstr(err.message, "match limit"));
    /* bounded: far from the 2^40 steps plain backtracking would take */
    assert_true(b.tv_sec - a.tv_sec < 5);
    assert_int_equal(must_plan(r, "aaa", t), 1);
    sy_router_free(r);
}


static void test_warm_lookups_allocate_nothing(void **state) {
    (void)state;
    sy_allocator a;
    sy_router_options o = counting_options(&a);
    char cfg[1 << 15];
    size_t n = (size_t)snprintf(cfg, sizeof cfg, "{\"routes\": [");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(cfg + n, sizeof cfg - n, "%s{\"pattern\": \"node%d@host[0-9]+\", \"host\": \"10.0.%d.%d\", \"port\": %d}",
                              i ? "," : "", i, i / 250, i % 250 + 1, 1000 + i);
    snprintf(cfg + n, sizeof cfg - n, "]}");
    sy_router *r = must(cfg, &o);
    sy_request *req = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &req, &err), SY_OK);
    assert_int_equal(sy_request_set_node(req, "node123@host7"), SY_OK);
    for (int round = 0; round < 3; round++) {
        size_t before = counting_allocations();
        sy_plan_storage st;
        sy_plan *p;
        assert_int_equal(sy_plan_init(r, req, &st, sizeof st, &p, &err), SY_OK);
        sy_target t = SY_STRUCT_INIT(sy_target);
        assert_int_equal(sy_plan_next(p, &t), 1);
        assert_string_equal(t.host, "10.0.0.124");
        assert_int_equal(sy_plan_next(p, &t), 0);
        sy_plan_release(p);
        assert_int_equal(counting_allocations(), before); /* cold (round 0) and warm alike */
    }
    sy_request_free(req);
    sy_router_free(r);
}

/* The cache tells apart names that differ in one byte anywhere, at every
 * length around the 8-byte words it hashes and compares: each name plans
 * its own route, cold and then warm. */
static void test_cache_tells_names_apart(void **state) {
    (void)state;
    char cfg[1 << 14];
    char names[3 * 24][32];
    int count = 0;
    size_t n = (size_t)snprintf(cfg, sizeof cfg, "{\"routes\": [");
    for (int len = 1; len <= 24; len++)
        for (int v = 0; v < 3; v++) {
            if (v == 2 && len / 2 == len - 1) continue; /* the same byte as v == 1 */
            char *nm = names[count];
            for (int k = 0; k < len; k++) nm[k] = (char)('a' + k % 26);
            nm[len] = 0;
            if (v) nm[v == 1 ? len - 1 : len / 2] = 'Z'; /* one byte differs: the last, or the middle one */
            n += (size_t)snprintf(cfg + n, sizeof cfg - n, "%s{\"pattern\": \"%s\", \"host\": \"10.0.0.%d\", \"port\": %d}",
                                  count ? "," : "", nm, count % 250 + 1, 1000 + count);
            count++;
        }
    snprintf(cfg + n, sizeof cfg - n, "]}");
    sy_router *r = must(cfg, NULL);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < count; i++) {
            copied out[MAX_TARGETS];
            assert_int_equal(must_plan(r, names[i], out), 1);
            if (out[0].port != (uint32_t)(1000 + i))
                fail_msg("round %d: '%s' planned port %u, want %d", round, names[i], out[0].port, 1000 + i);
        }
    sy_router_free(r);
}

/* Translation: a default_policy target's node name through the table. */
static void test_translator(void **state) {
    (void)state;
    sy_router *r = NULL;
    sy_error err;
    int rc = make_opts("{\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\", \"seed\": 0}}",
                       "[{\"plugin\": \"static_routes\", \"config\": {\"routes\": ["
                       "{\"pattern\": \"a@dc1\", \"host\": \"127.0.0.1\", \"port\": 19042, \"cookie\": \"t\"},"
                       "{\"pattern\": \"b@.*\", \"resolver\": true, \"tls\": true}]}}]",
                       "{\"nodes\": [{\"id\": \"a\", \"name\": \"a@dc1\", \"host\": \"10.0.0.1\", \"port\": 9042},"
                       "{\"id\": \"b\", \"name\": \"b@dc1\", \"host\": \"10.0.0.2\", \"port\": 9042},"
                       "{\"id\": \"c\", \"host\": \"10.0.0.3\", \"port\": 9042}]}",
                       NULL, &r, &err);
    if (rc != SY_OK) fail_msg("%s: %s", err.path, err.message);
    sy_request *req = NULL;
    assert_int_equal(sy_request_new(r, &req, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p;
    assert_int_equal(sy_plan_init(r, req, &st, sizeof st, &p, &err), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    int seen = 0;
    while (sy_plan_next(p, &t) == 1) {
        if (!strcmp(t.node, "a")) {
            assert_string_equal(t.host, "127.0.0.1");
            assert_int_equal(t.port, 19042);
            assert_string_equal(t.cookie, "t");
            assert_int_equal(t.via_count, 2);
            assert_string_equal(t.via[1], "static_routes");
        } else if (!strcmp(t.node, "b")) { /* the merge rule over the target's own address */
            assert_string_equal(t.host, "10.0.0.2");
            assert_int_equal(t.port, 9042);
            assert_true(t.flags & SY_TARGET_TLS);
        } else {
            assert_string_equal(t.host, "10.0.0.3"); /* no route: unchanged */
            assert_int_equal(t.via_count, 1);
        }
        seen++;
    }
    assert_int_equal(seen, 3);
    sy_plan_release(p);
    sy_request_free(req);
    sy_router_free(r);
}

static void test_request_needs_a_node(void **state) {
    (void)state;
    sy_router *r = must("{\"routes\": []}", NULL);
    copied t[MAX_TARGETS];
    sy_error err;
    assert_int_equal(plan_node(r, NULL, t, &err), SY_EREQUEST);
    assert_string_equal(err.path, "node");
    char big[400];
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(plan_node(r, big, t, &err), SY_EREQUEST);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- threads */

typedef struct shared {
    sy_router *r;
    atomic_int stop;
    atomic_long plans;
} shared;

static void *planner(void *arg) {
    shared *s = arg;
    copied t[MAX_TARGETS];
    sy_error err;
    while (!atomic_load(&s->stop)) {
        int n = plan_node(s->r, "svc-1@pool", t, &err);
        /* always a whole table: the stable route, plus the flapping one or not */
        if (n == 2) {
            if (strcmp(t[0].host, "10.0.0.9") || strcmp(t[1].host, "10.0.0.1")) abort();
        } else if (n != 1 || strcmp(t[0].host, "10.0.0.1")) {
            abort();
        }
        atomic_fetch_add(&s->plans, 1);
    }
    return NULL;
}

static void test_changes_while_planning(void **state) {
    (void)state;
    shared s = {.r = must("{\"routes\": [{\"pattern\": \"svc-[0-9]+@pool\", \"host\": \"10.0.0.1\", \"port\": 1}]}", NULL)};
    void *inst;
    const sy_static_routes_table *tb = table_of(s.r, &inst);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&th[i], NULL, planner, &s), 0);
    /* change the table only once the planners run: a loaded machine may
     * start them after 200 changes are done */
    while (atomic_load(&s.plans) == 0) sched_yield();
    const char *add = "{\"pattern\": \"svc-1@.*\", \"host\": \"10.0.0.9\", \"port\": 9, \"weight\": 5}";
    sy_error err = SY_STRUCT_INIT(sy_error);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(tb->add(inst, SY_ROUTE_STATIC, add, strlen(add), &err), SY_OK);
        assert_int_equal(tb->remove(inst, SY_ROUTE_STATIC, "svc-1@.*", &err), SY_OK);
    }
    atomic_store(&s.stop, 1);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    assert_true(atomic_load(&s.plans) > 0);
    sy_router_free(s.r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ergo_doc_examples),
        cmocka_unit_test(test_two_weights_one_node),
        cmocka_unit_test(test_equal_weights_keep_insertion_order),
        cmocka_unit_test(test_anchoring),
        cmocka_unit_test(test_route_fields_reach_the_target),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_resolver_merge_rule),
        cmocka_unit_test(test_resolver_fallback_and_ttl),
        cmocka_unit_test(test_fallthrough),
        cmocka_unit_test(test_proxy_chains_and_max_hop),
        cmocka_unit_test(test_table_api),
        cmocka_unit_test(test_redos_is_bounded),
        cmocka_unit_test(test_warm_lookups_allocate_nothing),
        cmocka_unit_test(test_cache_tells_names_apart),
        cmocka_unit_test(test_translator),
        cmocka_unit_test(test_request_needs_a_node),
        cmocka_unit_test(test_changes_while_planning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
