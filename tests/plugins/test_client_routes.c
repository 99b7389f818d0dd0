/* client_routes through the public API: round_robin selects three nodes by
 * host_id, client_routes translates them. Config checks, translation (TLS
 * port, hostname override, no route, no shard port), stickiness across a
 * full refresh, events that touch only the pairs they name, and planning
 * without allocation. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/client_routes.h>
#include <switchyard/switchyard.h>

#include "support/plugin_dir.h"

#include "support/counting_alloc.h"

#define A "11111111-1111-1111-1111-111111111111"
#define B "22222222-2222-2222-2222-222222222222"
#define C "33333333-3333-3333-3333-333333333333"

/* The whole router config around client_routes' config. */
static int full_config(char *buf, size_t cap, const char *cr_config) {
    return snprintf(buf, cap,
                     "{\"plugin_path\": [\"%s\"], \"topology\": {\"nodes\": ["
                     "{\"id\": \"" A "\", \"host\": \"10.0.0.1\", \"port\": 9042},"
                     "{\"id\": \"" B "\", \"host\": \"10.0.0.2\", \"port\": 9042},"
                     "{\"id\": \"" C "\", \"host\": \"10.0.0.3\", \"port\": 9042}]},"
                     " \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\", \"seed\": 0}},"
                     " \"translators\": [{\"plugin\": \"client_routes\", \"config\": %s}]}",
                     plugin_dir(), cr_config);
}

static int make(const char *cr_config, const sy_router_options *o, sy_router **out, sy_error *err) {
    static char buf[1 << 14];
    int n = full_config(buf, sizeof buf, cr_config);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    *err = (sy_error){.struct_size = sizeof *err};
    *out = NULL;
    return sy_router_new(buf, (size_t)n, o, out, err);
}

static sy_router *must(const char *cr_config) {
    sy_router *r;
    sy_error err;
    int rc = make(cr_config, NULL, &r, &err);
    if (rc != SY_OK) fail_msg("%s: %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

/* "host:port" of each node's target (or "error"), in the order A, B, C. */
static void translate_all(sy_router *r, char out[3][128]) {
    sy_request *q;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    int seen = 0;
    while (sy_plan_next(p, &t) == 1) {
        int i = !strcmp(t.node, A) ? 0 : !strcmp(t.node, B) ? 1 : 2;
        assert_true(t.flags & SY_TARGET_NO_SHARD_PORT);
        /* a proxy name: resolved at every connect (DNS cut-overs) */
        if (!t.error) assert_true(t.flags & SY_TARGET_RESOLVE_EACH);
        if (t.error)
            snprintf(out[i], 128, "error: %s", t.error);
        else
            snprintf(out[i], 128, "%s:%u%s", t.host, t.port, (t.flags & SY_TARGET_TLS) ? " tls" : "");
        seen++;
    }
    assert_int_equal(seen, 3);
    sy_plan_release(p);
    sy_request_free(q);
}

static const char kTwoProxies[] =
    "\"proxies\": [{\"connection_id\": \"pl-a\", \"hostname\": \"vpce-a.example.com\"}, {\"connection_id\": \"pl-b\"}]";

static void test_translation(void **state) {
    (void)state;
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{%s, \"routes\": ["
             "{\"connection_id\": \"pl-a\", \"host_id\": \"" A "\", \"address\": \"nlb-a\", \"port\": 30001, \"tls_port\": 31001},"
             "{\"connection_id\": \"pl-b\", \"host_id\": \"" B "\", \"address\": \"nlb-b\", \"port\": 30002, \"tls_port\": 31002},"
             "{\"connection_id\": \"pl-x\", \"host_id\": \"" C "\", \"address\": \"nlb-x\", \"port\": 30003}]}",
             kTwoProxies);
    sy_router *r = must(cfg);
    char got[3][128];
    translate_all(r, got);
    assert_string_equal(got[0], "vpce-a.example.com:30001"); /* the hostname override, the table's port */
    assert_string_equal(got[1], "nlb-b:30002");
    /* pl-x is not configured: no route, and never the node's own address */
    assert_string_equal(got[2], "error: client_routes: no route for host_id " C " via pl-a, pl-b");
    sy_router_free(r);
    /* TLS: the tls_port */
    snprintf(cfg, sizeof cfg,
             "{%s, \"tls\": true, \"routes\": ["
             "{\"connection_id\": \"pl-b\", \"host_id\": \"" A "\", \"address\": \"nlb-b\", \"port\": 30001, \"tls_port\": 31001},"
             "{\"connection_id\": \"pl-b\", \"host_id\": \"" B "\", \"address\": \"nlb-b\", \"port\": 30002}]}",
             kTwoProxies);
    r = must(cfg);
    translate_all(r, got);
    assert_string_equal(got[0], "nlb-b:31001 tls");
    assert_string_equal(got[1], "error: client_routes: host_id " B " has no tls_port in its route");
    sy_router_free(r);
}

static void test_config_errors(void **state) {
    (void)state;
    static const struct {
        const char *config, *path, *message;
    } cases[] = {
        {"{\"proxies\": []}", "translators[0].config.proxies", "non-empty array"},
        {"{}", "translators[0].config.proxies", "non-empty array"},
        {"{\"proxies\": [{\"connection_id\": \"\"}]}", "translators[0].config.proxies[0]", "connection_id"},
        {"{\"proxies\": [{\"connection_id\": \"a\"}, {\"connection_id\": \"a\"}]}", "translators[0].config.proxies[1]",
         "'a' is given twice"},
        {"{\"proxies\": [{\"connection_id\": \"a\", \"hostname\": \"vpce.example.com:9042\"}]}",
         "translators[0].config.proxies[0]", "no port: the port comes from the routes table"},
        {"{\"proxies\": [{\"connection_id\": \"a\"}], \"routes\": [{\"connection_id\": \"a\", \"host_id\": \"nope\","
         " \"address\": \"x\", \"port\": 1}]}", "translators[0].config.routes[0]", "host_id: expected a UUID"},
        {"{\"proxies\": [{\"connection_id\": \"a\"}], \"routes\": [{\"connection_id\": \"a\", \"host_id\": \"" A "\","
         " \"address\": \"x\", \"port\": 70000}]}", "translators[0].config.routes[0]", "port: expected 1..65535"},
        {"{\"proxies\": [{\"connection_id\": \"a\"}], \"colour\": 1}", "translators[0].config.colour", "unknown key"},
        {"{\"proxies\": [{\"connection_id\": \"a\"}], \"tls\": 1}", "translators[0].config.tls", "expected true or false"},
        {"{\"proxies\": [{\"connection_id\": \"a\"}], \"drain_on_change\": \"yes\"}",
         "translators[0].config.drain_on_change", "expected true or false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sy_router *r;
        sy_error err;
        int rc = make(cases[i].config, NULL, &r, &err);
        if (rc != SY_ECONFIG || strcmp(err.path, cases[i].path) || !strstr(err.message, cases[i].message))
            fail_msg("case %zu: %s at '%s': %s", i, sy_status_name(rc), err.path, err.message);
        assert_null(r);
    }
}

static const sy_client_routes_table *table_of(sy_router *r, void **inst) {
    const void *t;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_get_interface(r, "client_routes", SY_CLIENT_ROUTES_TABLE, 1, &t, inst, &err))
        fail_msg("%s", err.message);
    return t;
}

static void call(int (*fn)(void *, const char *, size_t, sy_error *), void *inst, const char *json) {
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = fn(inst, json, strlen(json), &err);
    if (rc != SY_OK) fail_msg("%s: %s: %s", json, sy_status_name(rc), err.message);
}

#define ROW(conn, id, addr, port) \
    "{\"connection_id\": \"" conn "\", \"host_id\": \"" id "\", \"address\": \"" addr "\", \"port\": " #port "}"

/* A node reachable through pl-a and pl-b keeps the one it uses while that
 * one still has a row; the configured order decides only when it does not. */
static void test_stickiness_across_refresh(void **state) {
    (void)state;
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{%s}", kTwoProxies);
    sy_router *r = must(cfg);
    void *inst;
    const sy_client_routes_table *t = table_of(r, &inst);
    char got[3][128];
    /* only pl-b at first: A sticks to it */
    call(t->replace_all, inst, "[" ROW("pl-b", A, "b1", 1) "]");
    translate_all(r, got);
    assert_string_equal(got[0], "b1:1");
    /* pl-a appears (first in the config's order): A stays on pl-b */
    call(t->replace_all, inst, "[" ROW("pl-a", A, "a1", 2) "," ROW("pl-b", A, "b2", 3) "]");
    translate_all(r, got);
    assert_string_equal(got[0], "b2:3");
    /* pl-b gone: A moves to pl-a */
    call(t->replace_all, inst, "[" ROW("pl-a", A, "a1", 2) "]");
    translate_all(r, got);
    assert_string_equal(got[0], "vpce-a.example.com:2");
    /* a refresh without A drops it */
    call(t->replace_all, inst, "[" ROW("pl-a", B, "a2", 4) "]");
    translate_all(r, got);
    assert_non_null(strstr(got[0], "no route for host_id " A));
    assert_string_equal(got[1], "vpce-a.example.com:4");
    char list[1024];
    size_t n;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(t->list(inst, list, sizeof list, &n, &err), SY_OK);
    assert_string_equal(list, "[{\"connection_id\":\"pl-a\",\"host_id\":\"" B "\",\"address\":\"a2\",\"port\":4,"
                              "\"tls_port\":0,\"sticky\":true}]");
    assert_int_equal(t->list(inst, list, 10, &n, &err), SY_ETOOSMALL);
    sy_router_free(r);
}

static void reload(sy_router *r, const char *cr_config) {
    static char buf[1 << 14];
    int n = full_config(buf, sizeof buf, cr_config);
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_reload(r, buf, (size_t)n, NULL, NULL, &err);
    if (rc != SY_OK) fail_msg("reload: %s: %s: %s", sy_status_name(rc), err.path, err.message);
}

/* A reload that changes client_routes' config replaces its instance: the
 * rows the host fed carry over for the connection ids still configured
 * (by id, whatever their new order), a node keeps its connection id, and a
 * row the new config names itself wins over the carried one. */
static void test_reload_inherits(void **state) {
    (void)state;
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "{%s}", kTwoProxies);
    sy_router *r = must(cfg);
    void *inst;
    const sy_client_routes_table *t = table_of(r, &inst);
    call(t->replace_all, inst, "[" ROW("pl-b", A, "b1", 1) "]");
    call(t->replace_all, inst,
         "[" ROW("pl-a", A, "a1", 2) "," ROW("pl-b", A, "b2", 3) "," ROW("pl-a", B, "a2", 4) "," ROW("pl-b", C, "c1", 5) "]");
    char got[3][128];
    translate_all(r, got);
    assert_string_equal(got[0], "b2:3"); /* sticky on pl-b */
    /* reordered, pl-a's hostname changed, a third id, a static row for C */
    reload(r, "{\"proxies\": [{\"connection_id\": \"pl-b\"}, {\"connection_id\": \"pl-a\", \"hostname\": \"vpce-a2\"},"
              " {\"connection_id\": \"pl-c\"}], \"routes\": [" ROW("pl-b", C, "cfg-c", 9) "]}");
    void *inst2;
    t = table_of(r, &inst2);
    assert_ptr_not_equal(inst2, inst);
    translate_all(r, got);
    assert_string_equal(got[0], "b2:3");      /* still pl-b, though pl-b is now first anyway */
    assert_string_equal(got[1], "vpce-a2:4"); /* carried row, the new hostname */
    assert_string_equal(got[2], "cfg-c:9");   /* the config's own row wins */
    /* pl-b no longer configured: its rows go, A falls back to pl-a */
    reload(r, "{\"proxies\": [{\"connection_id\": \"pl-a\"}]}");
    translate_all(r, got);
    assert_string_equal(got[0], "a1:2");
    assert_string_equal(got[1], "a2:4");
    assert_non_null(strstr(got[2], "no route for host_id " C));
    sy_router_free(r);
}

/* Events: rows for exactly the named pairs; a named pair without a row is a
 * deletion of that pair only; unconfigured ids ignored; lists parallel. */
static void test_events(void **state) {
    (void)state;
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{%s}", kTwoProxies);
    sy_router *r = must(cfg);
    void *inst;
    const sy_client_routes_table *t = table_of(r, &inst);
    char got[3][128];
    call(t->replace_all, inst, "[" ROW("pl-b", A, "b1", 1) "," ROW("pl-b", B, "b1", 2) "," ROW("pl-a", C, "a1", 3) "]");
    uint64_t e = sy_router_epoch(r);
    /* an update of (pl-b, A) and a deletion of (pl-b, B); C untouched; a row
     * for a pair the event does not name is ignored */
    call(t->apply_event, inst,
         "{\"change\": \"UPDATE_NODES\", \"connection_ids\": [\"pl-b\", \"pl-b\", \"pl-z\"],"
         " \"host_ids\": [\"" A "\", \"" B "\", \"" C "\"],"
         " \"rows\": [" ROW("pl-b", A, "b9", 9) "," ROW("pl-a", C, "zz", 99) "]}");
    assert_true(sy_router_epoch(r) > e);
    translate_all(r, got);
    assert_string_equal(got[0], "b9:9");
    assert_non_null(strstr(got[1], "no route for host_id " B));
    assert_string_equal(got[2], "vpce-a.example.com:3");
    /* deleting the sticky pair of a host with another route promotes it */
    call(t->apply_event, inst,
         "{\"connection_ids\": [\"pl-a\"], \"host_ids\": [\"" A "\"], \"rows\": [" ROW("pl-a", A, "a5", 5) "]}");
    call(t->apply_event, inst, "{\"connection_ids\": [\"pl-b\"], \"host_ids\": [\"" A "\"], \"rows\": []}");
    translate_all(r, got);
    assert_string_equal(got[0], "vpce-a.example.com:5");
    sy_error err = SY_STRUCT_INIT(sy_error);
    const char *bad = "{\"connection_ids\": [\"pl-a\", \"pl-b\"], \"host_ids\": [\"" A "\"]}";
    assert_int_equal(t->apply_event(inst, bad, strlen(bad), &err), SY_EREQUEST);
    assert_non_null(strstr(err.message, "parallel"));
    const char *not_uuid = "{\"connection_ids\": [\"pl-a\"], \"host_ids\": [\"x\"]}";
    assert_int_equal(t->apply_event(inst, not_uuid, strlen(not_uuid), &err), SY_EREQUEST);
    const char *wrong = "{\"change\": \"DROP\", \"connection_ids\": [], \"host_ids\": []}";
    assert_int_equal(t->apply_event(inst, wrong, strlen(wrong), &err), SY_EREQUEST);
    assert_int_equal(t->replace_all(inst, "{", 1, &err), SY_EREQUEST);
    /* nothing above changed the table */
    translate_all(r, got);
    assert_string_equal(got[0], "vpce-a.example.com:5");
    assert_int_equal(t->replace_all(NULL, "[]", 2, &err), SY_EINVAL);
    sy_router_free(r);
}

static char drained[2048];

static void on_log(uint32_t level, const char *source, const char *message, void *data) {
    (void)level;
    (void)data;
    size_t n = strlen(drained);
    if (!strcmp(source, "client_routes") && strstr(message, "drain"))
        snprintf(drained + n, sizeof drained - n, "%s\n", message);
}

/* drain_on_change asks the host to drain exactly the endpoints a node no
 * longer uses: the old port of a moved node (both of its ports when its
 * host changed), the endpoints of a node that lost its route; nothing for a
 * node whose endpoint stayed, nor for a new one. (test_connect.c shows what
 * draining does to pooled connections.) */
static void test_drain_on_change_targets(void **state) {
    (void)state;
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.log = on_log;
    o.log_level = SY_LOG_INFO;
    sy_router *r;
    sy_error err;
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{%s, \"drain_on_change\": true}", kTwoProxies);
    assert_int_equal(make(cfg, &o, &r, &err), SY_OK);
    void *inst;
    const sy_client_routes_table *t = table_of(r, &inst);
#define TROW(conn, id, addr, port, tls) \
    "{\"connection_id\": \"" conn "\", \"host_id\": \"" id "\", \"address\": \"" addr "\", \"port\": " #port \
    ", \"tls_port\": " #tls "}"
    call(t->replace_all, inst, "[" TROW("pl-b", A, "b1", 1, 11) "," TROW("pl-b", B, "b2", 2, 12) "," TROW("pl-b", C, "b3", 3, 13) "]");
    assert_string_equal(drained, ""); /* every node is new */
    /* A: port 1 -> 5 (tls_port kept); B: gone; C: unchanged */
    call(t->replace_all, inst, "[" TROW("pl-b", A, "b1", 5, 11) "," TROW("pl-b", C, "b3", 3, 13) "]");
    assert_string_equal(drained, "host_id " A " changed port: drained b1:1\n"
                                 "host_id " B " lost its route: drained b2:2\n"
                                 "host_id " B " lost its route: drained b2:12\n");
    drained[0] = 0;
    /* C moves to pl-a's hostname (an event): both of its ports go */
    call(t->apply_event, inst,
         "{\"connection_ids\": [\"pl-b\", \"pl-a\"], \"host_ids\": [\"" C "\", \"" C "\"], \"rows\": ["
         TROW("pl-a", C, "a3", 3, 13) "]}");
    assert_string_equal(drained, "host_id " C " moved to another host: drained b3:3\n"
                                 "host_id " C " moved to another host: drained b3:13\n");
    drained[0] = 0;
    /* a refused event changes nothing and drains nothing */
    const char *bad = "{\"connection_ids\": [\"pl-a\"], \"host_ids\": [\"" A "\", \"" B "\"]}";
    assert_int_equal(t->apply_event(inst, bad, strlen(bad), &err), SY_EREQUEST);
    call(t->replace_all, inst, "[" TROW("pl-b", A, "b1", 5, 11) "," TROW("pl-a", C, "a3", 3, 13) "]");
    assert_string_equal(drained, "");
    /* a reload that renames pl-a's proxy host: C, on pl-a, moved */
    reload(r, "{\"proxies\": [{\"connection_id\": \"pl-a\", \"hostname\": \"vpce-a2.example.com\"},"
              " {\"connection_id\": \"pl-b\"}], \"drain_on_change\": true}");
    assert_string_equal(drained, "host_id " C " moved to another host: drained vpce-a.example.com:3\n"
                                 "host_id " C " moved to another host: drained vpce-a.example.com:13\n");
    drained[0] = 0;
    /* one that drops pl-b: A, on pl-b only, lost its route */
    reload(r, "{\"proxies\": [{\"connection_id\": \"pl-a\", \"hostname\": \"vpce-a2.example.com\"}],"
              " \"drain_on_change\": true}");
    assert_string_equal(drained, "host_id " A " lost its route: drained b1:5\n"
                                 "host_id " A " lost its route: drained b1:11\n");
    drained[0] = 0;
    sy_router_free(r);
    /* without drain_on_change: never */
    snprintf(cfg, sizeof cfg, "{%s}", kTwoProxies);
    assert_int_equal(make(cfg, &o, &r, &err), SY_OK);
    t = table_of(r, &inst);
    call(t->replace_all, inst, "[" TROW("pl-b", A, "b1", 1, 11) "]");
    call(t->replace_all, inst, "[]");
    assert_string_equal(drained, "");
    sy_router_free(r);
}

static void test_plans_allocate_nothing(void **state) {
    (void)state;
    sy_allocator a;
    sy_router_options o = counting_options(&a);
    sy_router *r;
    sy_error err;
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "{%s, \"routes\": [" ROW("pl-a", A, "a", 1) "," ROW("pl-a", B, "b", 2) "]}", kTwoProxies);
    assert_int_equal(make(cfg, &o, &r, &err), SY_OK);
    sy_request *q;
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    for (int i = 0; i < 3; i++) {
        size_t before = counting_allocations();
        sy_plan_storage st;
        sy_plan *p;
        assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
        sy_target t = SY_STRUCT_INIT(sy_target);
        int n = 0;
        while (sy_plan_next(p, &t) == 1) n++;
        assert_int_equal(n, 3);
        sy_plan_release(p);
        assert_int_equal(counting_allocations(), before);
    }
    sy_request_free(q);
    sy_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translation),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_stickiness_across_refresh),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_drain_on_change_targets),
        cmocka_unit_test(test_plans_allocate_nothing),
        cmocka_unit_test(test_reload_inherits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
