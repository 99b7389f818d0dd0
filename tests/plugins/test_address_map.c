/* address_map through the public API: default_policy (round_robin) selects,
 * address_map translates; both load from $SY_PLUGIN_DIR. */
#define _POSIX_C_SOURCE 200112L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/switchyard.h>

#include "support/plugin_dir.h"

#define MAX_TARGETS 16

typedef struct copied_target {
    char node[64];
    char host[64];
    char via[SY_VIA_MAX][32];
    uint32_t via_count;
    uint32_t port;
    int has_error;
} copied_target;

static int new_router_opts(const char *topology, const char *selector_config, const char *translators,
                           const sy_router_options *opts, sy_router **out, sy_error *err) {
    static char buf[16384];
    const char *dir = plugin_dir();
    assert_null(strpbrk(dir, "\"\\")); /* pasted into JSON as is */
    int n = snprintf(buf, sizeof buf,
                     "{\"plugin_path\": [\"%s\"], \"topology\": %s,"
                     " \"selector\": {\"plugin\": \"default_policy\", \"config\": %s},"
                     " \"translators\": %s}",
                     dir, topology, selector_config, translators);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    *err = (sy_error){.struct_size = sizeof(sy_error)};
    *out = NULL;
    return sy_router_new(buf, (size_t)n, opts, out, err);
}

/* One address_map translator with `config` after a round_robin selector. */
static int new_router(const char *topology, const char *map_config, sy_router **out, sy_error *err) {
    static char tr[8192];
    int n = snprintf(tr, sizeof tr, "[{\"plugin\": \"address_map\", \"config\": %s}]", map_config);
    assert_true(n > 0 && (size_t)n < sizeof tr);
    return new_router_opts(topology, "{\"mode\": \"round_robin\", \"seed\": 0}", tr, NULL, out, err);
}

static sy_router *must_router(const char *topology, const char *map_config) {
    sy_router *r = NULL;
    sy_error err;
    int rc = new_router(topology, map_config, &r, &err);
    if (rc != SY_OK) fail_msg("sy_router_new: %s: %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

static size_t plan(sy_router *r, copied_target *out) {
    sy_request *req = NULL;
    sy_error err = {.struct_size = sizeof err};
    assert_int_equal(sy_request_new(r, &req, &err), SY_OK);
    sy_plan_storage storage;
    sy_plan *p = NULL;
    int rc = sy_plan_init(r, req, &storage, sizeof storage, &p, &err);
    if (rc != SY_OK) fail_msg("sy_plan_init: %s: %s", sy_status_name(rc), err.message);
    size_t n = 0;
    sy_target t = {.struct_size = sizeof t};
    int more;
    while ((more = sy_plan_next(p, &t)) == 1) {
        assert_true(n < MAX_TARGETS);
        copied_target *c = &out[n++];
        memset(c, 0, sizeof *c);
        snprintf(c->node, sizeof c->node, "%s", t.node ? t.node : "");
        snprintf(c->host, sizeof c->host, "%s", t.host ? t.host : "");
        c->port = t.port;
        c->has_error = t.error != NULL;
        c->via_count = t.via_count;
        for (uint32_t i = 0; i < t.via_count && i < SY_VIA_MAX; i++)
            snprintf(c->via[i], sizeof c->via[i], "%s", t.via[i]);
        t = (sy_target){.struct_size = sizeof t};
    }
    assert_int_equal(more, 0);
    sy_plan_release(p);
    sy_request_free(req);
    return n;
}

static const copied_target *find(const copied_target *t, size_t n, const char *node) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].node, node) == 0) return &t[i];
    fail_msg("node '%s' is not in the plan", node);
    return NULL;
}

static void assert_translated(const copied_target *t, const char *host, uint32_t port) {
    assert_string_equal(t->host, host);
    assert_int_equal(t->port, port);
    assert_false(t->has_error);
    assert_int_equal(t->via_count, 2);
    assert_string_equal(t->via[0], "default_policy");
    assert_string_equal(t->via[1], "address_map");
}

static void assert_unchanged(const copied_target *t, const char *host, uint32_t port) {
    assert_string_equal(t->host, host);
    assert_int_equal(t->port, port);
    assert_false(t->has_error);
    assert_int_equal(t->via_count, 1);
    assert_string_equal(t->via[0], "default_policy");
}

/* ---------------------------------------------------------------- translation */

static const char *const kTopo =
    "{\"nodes\": ["
    "{\"id\": \"v4\", \"host\": \"10.0.1.10\", \"port\": 25520},"
    "{\"id\": \"v6\", \"host\": \"::1\", \"port\": 9042},"
    "{\"id\": \"v6long\", \"host\": \"0:0:0:0:0:0:0:2\", \"port\": 9042},"
    "{\"id\": \"name\", \"host\": \"node-a.internal\", \"port\": 9042},"
    "{\"id\": \"NAME\", \"host\": \"NODE-B.Internal\", \"port\": 9042},"
    "{\"id\": \"to6\", \"host\": \"10.0.1.12\", \"port\": 1},"
    "{\"id\": \"same\", \"host\": \"10.0.1.13\", \"port\": 2},"
    "{\"id\": \"other\", \"host\": \"10.0.1.11\", \"port\": 25520},"
    "{\"id\": \"otherport\", \"host\": \"10.0.1.10\", \"port\": 25521},"
    "{\"id\": \"down\", \"host\": \"10.0.1.99\", \"port\": 25520, \"up\": false}]}";

static const char *const kMap =
    "{\"map\": {"
    "\"10.0.1.10:25520\": \"127.0.0.1:25520\","
    "\"[::1]:9042\": \"127.0.0.1:19042\","
    "\"[::2]:9042\": \"127.0.0.1:19043\","
    "\"node-a.internal:9042\": \"tunnel:1\","
    "\"node-b.internal:9042\": \"Tunnel-B:2\","
    "\"10.0.1.12:1\": \"[0:0:0:0:0:ffff:7f00:1]:4000\","
    "\"10.0.1.13:2\": \"10.0.1.13:2\","
    "\"10.0.1.99:25520\": \"127.0.0.1:9\"}}";

static void test_translates_mapped_addresses(void **state) {
    (void)state;
    sy_router *r = must_router(kTopo, kMap);
    copied_target t[MAX_TARGETS];
    size_t n = plan(r, t);
    assert_int_equal(n, 9); /* the down node is not planned */
    assert_translated(find(t, n, "v4"), "127.0.0.1", 25520);
    assert_translated(find(t, n, "v6"), "127.0.0.1", 19042);
    /* [::2] in the map matches the node's 0:0:0:0:0:0:0:2 */
    assert_translated(find(t, n, "v6long"), "127.0.0.1", 19043);
    assert_translated(find(t, n, "name"), "tunnel", 1);
    /* host names compare case-insensitively */
    assert_translated(find(t, n, "NAME"), "Tunnel-B", 2);
    /* IPv6 values come out canonical and without brackets */
    assert_translated(find(t, n, "to6"), "::ffff:127.0.0.1", 4000);
    /* identity fallback: no entry, no change, no via */
    assert_unchanged(find(t, n, "other"), "10.0.1.11", 25520);
    assert_unchanged(find(t, n, "otherport"), "10.0.1.10", 25521);
    /* an entry mapping an address onto itself changes nothing either */
    assert_unchanged(find(t, n, "same"), "10.0.1.13", 2);
    sy_router_free(r);
}

static void test_equivalent_ipv6_spelling(void **state) {
    (void)state;
    /* the map's long spelling matches the node's short one */
    sy_router *r = must_router("{\"nodes\": [{\"id\": \"n\", \"host\": \"::1\", \"port\": 9042}]}",
                               "{\"map\": {\"[0:0:0:0:0:0:0:1]:9042\": \"127.0.0.1:19042\"}}");
    copied_target t[MAX_TARGETS];
    assert_int_equal(plan(r, t), 1);
    assert_translated(&t[0], "127.0.0.1", 19042);
    sy_router_free(r);
    /* and the other way round, with a bracketed node host */
    r = must_router("{\"nodes\": [{\"id\": \"n\", \"host\": \"[0000::0001]\", \"port\": 9042}]}",
                    "{\"map\": {\"[::1]:9042\": \"[::ffff:1.2.3.4]:1\"}}");
    assert_int_equal(plan(r, t), 1);
    assert_translated(&t[0], "::ffff:1.2.3.4", 1);
    sy_router_free(r);
}

static void test_three_node_round_robin_translated(void **state) {
    (void)state;
    sy_router *r = must_router("{\"nodes\": ["
                               "{\"id\": \"a\", \"host\": \"10.0.1.1\", \"port\": 9042},"
                               "{\"id\": \"b\", \"host\": \"10.0.1.2\", \"port\": 9042},"
                               "{\"id\": \"c\", \"host\": \"10.0.1.3\", \"port\": 9042},"
                               "{\"id\": \"d\", \"host\": \"10.0.1.4\", \"port\": 9042, \"up\": false}]}",
                               "{\"map\": {\"10.0.1.1:9042\": \"127.0.0.1:19001\","
                               " \"10.0.1.2:9042\": \"127.0.0.1:19002\","
                               " \"10.0.1.3:9042\": \"127.0.0.1:19003\","
                               " \"10.0.1.4:9042\": \"127.0.0.1:19004\"}}");
    copied_target t[MAX_TARGETS];
    static const char *const order[] = {"a", "b", "c"};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(plan(r, t), 3);
        for (int i = 0; i < 3; i++) {
            const char *id = order[(k + i) % 3];
            assert_string_equal(t[i].node, id);
            assert_translated(&t[i], "127.0.0.1", (uint32_t)(19001 + (id[0] - 'a')));
        }
    }
    sy_router_free(r);
}

static void test_translates_synthetic_targets(void **state) {
    (void)state;
    sy_router *r = NULL;
    sy_error err;
    int rc = new_router_opts("{\"nodes\": []}", "{\"mode\": \"single_target\", \"target\": \"DB.example:5432\"}",
                             "[{\"plugin\": \"address_map\", \"config\": {\"map\": {\"db.example:5432\": "
                             "\"127.0.0.1:15432\"}}}]",
                             NULL, &r, &err);
    if (rc != SY_OK) fail_msg("%s: %s", err.path, err.message);
    copied_target t[MAX_TARGETS];
    assert_int_equal(plan(r, t), 1);
    assert_string_equal(t[0].node, "DB.example:5432");
    assert_translated(&t[0], "127.0.0.1", 15432);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- no allocation */

static size_t g_allocs;

static void *count_alloc(size_t size, size_t align, void *ud) {
    (void)ud;
    void *p = NULL;
    g_allocs++;
    if (align < sizeof(void *)) align = sizeof(void *);
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : NULL;
}

static void count_free(void *p, size_t size, void *ud) {
    (void)size;
    (void)ud;
    free(p);
}

static void test_translation_does_not_allocate(void **state) {
    (void)state;
    sy_allocator a = {.struct_size = sizeof a, .alloc = count_alloc, .free = count_free};
    sy_router_options opts = {.struct_size = sizeof opts, .allocator = &a};
    sy_router *r = NULL;
    sy_error err;
    int rc = new_router_opts(kTopo, "{\"mode\": \"round_robin\"}",
                             "[{\"plugin\": \"address_map\", \"config\": {\"map\": {"
                             "\"10.0.1.10:25520\": \"127.0.0.1:25520\", \"[::1]:9042\": \"127.0.0.1:19042\","
                             " \"node-a.internal:9042\": \"tunnel:1\"}}}]",
                             &opts, &r, &err);
    if (rc != SY_OK) fail_msg("%s: %s", err.path, err.message);
    sy_request *req = NULL;
    assert_int_equal(sy_request_new(r, &req, &err), SY_OK);
    sy_plan_storage storage;
    size_t before = g_allocs;
    size_t translated = 0;
    for (int k = 0; k < 20; k++) {
        sy_plan *p = NULL;
        assert_int_equal(sy_plan_init(r, req, &storage, sizeof storage, &p, &err), SY_OK);
        sy_target t = {.struct_size = sizeof t};
        while (sy_plan_next(p, &t) == 1) {
            translated += t.via_count == 2;
            t = (sy_target){.struct_size = sizeof t};
        }
        sy_plan_release(p);
    }
    assert_int_equal(g_allocs, before);
    assert_int_equal(translated, 20 * 3);
    sy_request_free(req);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- config errors */

typedef struct map_case {
    const char *key;   /* JSON text of the key, without quotes */
    const char *value; /* JSON value */
    const char *path_key; /* as the error path spells it */
    const char *message;  /* substring */
} map_case;

static const map_case kMapCases[] = {
    {"10.0.1.10", "\"127.0.0.1:1\"", "10.0.1.10", "missing port"},
    {"10.0.1.10:0", "\"127.0.0.1:1\"", "10.0.1.10:0", "1..65535"},
    {"10.0.1.10:65536", "\"127.0.0.1:1\"", "10.0.1.10:65536", "1..65535"},
    {"10.0.1.10:-1", "\"127.0.0.1:1\"", "10.0.1.10:-1", "1..65535"},
    {"10.0.1.10:", "\"127.0.0.1:1\"", "10.0.1.10:", "empty port"},
    {"host:80x", "\"127.0.0.1:1\"", "host:80x", "1..65535"},
    {"[::1:9042", "\"127.0.0.1:1\"", "[::1:9042", "missing ']'"},
    {"[::1]9042", "\"127.0.0.1:1\"", "[::1]9042", "after ']'"},
    {"[::1]", "\"127.0.0.1:1\"", "[::1]", "missing port"},
    {"::1:9042", "\"127.0.0.1:1\"", "::1:9042", "brackets"},
    {"[]:9042", "\"127.0.0.1:1\"", "[]:9042", "empty IPv6"},
    {"[zz::1]:80", "\"127.0.0.1:1\"", "[zz::1]:80", "not a valid IPv6"},
    {"[10.0.0.1]:80", "\"127.0.0.1:1\"", "[10.0.0.1]:80", "not a valid IPv6"},
    {":9042", "\"127.0.0.1:1\"", ":9042", "empty host"},
    {"300.1.1.1:80", "\"127.0.0.1:1\"", "300.1.1.1:80", "not a valid IPv4"},
    {"1.2.3:80", "\"127.0.0.1:1\"", "1.2.3:80", "not a valid IPv4"},
    {"bad host!:80", "\"127.0.0.1:1\"", "bad host!:80", "letters, digits"},
    {"a..b:80", "\"127.0.0.1:1\"", "a..b:80", "empty label"},
    {"-a.b:80", "\"127.0.0.1:1\"", "-a.b:80", "starts with '-'"},
    {"a]:80", "\"127.0.0.1:1\"", "a]:80", "without a matching '['"},
    {"", "\"127.0.0.1:1\"", "", "empty address"},
    {"a\\\"b:1", "\"127.0.0.1:1\"", "a\\\"b:1", "letters, digits"},
    {"10.0.0.1:1", "\"nowhere\"", "10.0.0.1:1", "value \"nowhere\" is not host:port: missing port"},
    {"10.0.0.1:2", "5", "10.0.0.1:2", "expected a \"host:port\" string, got a number"},
    {"10.0.0.1:3", "\"[::1]\"", "10.0.0.1:3", "value \"[::1]\""},
    {"10.0.0.1:4", "\"h:99999\"", "10.0.0.1:4", "1..65535"},
    {"10.0.0.1:5", "null", "10.0.0.1:5", "got null"},
    {"10.0.0.1:6", "\"\"", "10.0.0.1:6", "empty address"},
};

static void expect_error(const char *config, const char *path, const char *message) {
    sy_router *r = NULL;
    sy_error err;
    int rc = new_router("{\"nodes\": []}", config, &r, &err);
    if (rc != SY_ECONFIG || err.code != SY_ECONFIG || strcmp(err.path, path) != 0 || !strstr(err.message, message))
        fail_msg("config %s: got %s at '%s': '%s'; want SY_ECONFIG at '%s' with '%s'", config, sy_status_name(rc),
                 err.path, err.message, path, message);
    assert_null(r);
}

static void test_malformed_map_entries(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof kMapCases / sizeof kMapCases[0]; i++) {
        const map_case *c = &kMapCases[i];
        char config[512], path[256];
        snprintf(config, sizeof config, "{\"map\": {\"10.9.9.9:1\": \"127.0.0.1:1\", \"%s\": %s}}", c->key, c->value);
        snprintf(path, sizeof path, "translators[0].config.map[\"%s\"]", c->path_key);
        expect_error(config, path, c->message);
    }
}

static void test_other_config_errors(void **state) {
    (void)state;
    /* duplicates after normalisation name the later key and the earlier one */
    expect_error("{\"map\": {\"[::1]:9042\": \"a:1\", \"[0:0:0:0:0:0:0:1]:9042\": \"b:1\"}}",
                 "translators[0].config.map[\"[0:0:0:0:0:0:0:1]:9042\"]", "same address as map[\"[::1]:9042\"]");
    expect_error("{\"map\": {\"Node.Internal:1\": \"a:1\", \"x:2\": \"b:2\", \"node.internal:1\": \"b:1\"}}",
                 "translators[0].config.map[\"node.internal:1\"]", "duplicate key");
    expect_error("{\"map\": {\"a:1\": \"b:1\", \"a:1\": \"c:1\"}}", "translators[0].config.map[\"a:1\"]",
                 "duplicate key");
    expect_error("{\"map\": []}", "translators[0].config.map", "expected an object");
    expect_error("{\"map\": \"10.0.0.1:1=127.0.0.1:1\"}", "translators[0].config.map", "got a string");
    expect_error("{}", "translators[0].config", "needs {\"map\"");
    expect_error("{\"map\": {}, \"extra\": 1}", "translators[0].config.extra", "unknown key");
    expect_error("{\"map\": {}, \"map\": {}}", "translators[0].config.map", "duplicate key");

    /* no "config" at all */
    sy_router *r = NULL;
    sy_error err;
    int rc = new_router_opts("{\"nodes\": []}", "{}", "[{\"plugin\": \"address_map\"}]", NULL, &r, &err);
    assert_int_equal(rc, SY_ECONFIG);
    assert_string_equal(err.path, "translators[0].config");
    assert_null(r);

    /* the path is the failing translator's */
    rc = new_router_opts("{\"nodes\": []}", "{}",
                         "[{\"plugin\": \"address_map\", \"config\": {\"map\": {\"a:1\": \"b:1\"}}},"
                         " {\"plugin\": \"address_map\", \"config\": {\"map\": {\"a:1\": \"b\"}}}]",
                         NULL, &r, &err);
    assert_int_equal(rc, SY_ECONFIG);
    assert_string_equal(err.path, "translators[1].config.map[\"a:1\"]");
    assert_non_null(strstr(err.message, "missing port"));
    assert_null(r);
}

static void test_empty_map_is_identity(void **state) {
    (void)state;
    sy_router *r = must_router("{\"nodes\": [{\"id\": \"a\", \"host\": \"10.0.0.1\", \"port\": 1}]}", "{\"map\": {}}");
    copied_target t[MAX_TARGETS];
    assert_int_equal(plan(r, t), 1);
    assert_unchanged(&t[0], "10.0.0.1", 1);
    sy_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translates_mapped_addresses),
        cmocka_unit_test(test_equivalent_ipv6_spelling),
        cmocka_unit_test(test_three_node_round_robin_translated),
        cmocka_unit_test(test_translates_synthetic_targets),
        cmocka_unit_test(test_translation_does_not_allocate),
        cmocka_unit_test(test_malformed_map_entries),
        cmocka_unit_test(test_other_config_errors),
        cmocka_unit_test(test_empty_map_is_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
