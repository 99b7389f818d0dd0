/* Malformed configs: each one fails with the right status, names the JSON
 * path of the offending element and says why; sy_config_check reports every
 * independent error, not only the first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/switchyard.h>

/* "@P@" in a config stands for the plugin directory. */
static const char *expand(const char *tmpl) {
    static char buf[8192];
    const char *dir = getenv("SY_PLUGIN_DIR");
    if (!dir) dir = "build/plugins";
    size_t n = 0;
    for (const char *c = tmpl; *c;) {
        if (strncmp(c, "@P@", 3) == 0) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", dir);
            c += 3;
        } else {
            buf[n++] = *c++;
        }
        assert_true(n < sizeof buf - 1);
    }
    buf[n] = 0;
    return buf;
}

#define PP "\"plugin_path\": [\"@P@\"]"
#define RR "\"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\"}}"
#define NODE(extra) "{\"topology\": {\"nodes\": [{\"host\": \"10.0.0.1\", \"port\": 1}, {" extra "}]}, " PP ", " RR "}"

typedef struct bad_config {
    const char *json;
    int code;
    const char *path;    /* exact */
    const char *message; /* substring */
} bad_config;

static const bad_config kBad[] = {
    /* JSON itself */
    {"{\"selector\": }", SY_ECONFIG, "", "line 1, column 14"},
    {"{\n  \"selector\": {\"plugin\": \"x\"},\n  oops\n}", SY_ECONFIG, "", "JSON syntax error at line 3"},
    {"", SY_ECONFIG, "", "empty document"},
    {"{\"selector\": {\"plugin\": \"default_policy\"}} trailing", SY_ECONFIG, "", "line 1, column 44, near 't'"},
    {"[1, 2]", SY_ECONFIG, "", "a config is a JSON object, got an array"},
    /* top level */
    {"{" PP ", " RR ", \"selectors\": {}}", SY_ECONFIG, "selectors", "unknown key"},
    {"{" PP ", " RR ", " RR "}", SY_ECONFIG, "selector", "duplicate key"},
    {"{" PP "}", SY_ECONFIG, "selector", "needs a selector"},
    {"{" PP ", \"selector\": \"default_policy\"}", SY_ECONFIG, "selector", "expected an object"},
    {"{" PP ", \"selector\": {\"config\": {}}}", SY_ECONFIG, "selector.plugin", "expected a plugin name string, got nothing"},
    {"{" PP ", \"selector\": {\"plugin\": 7}}", SY_ECONFIG, "selector.plugin", "got a number"},
    {"{" PP ", \"selector\": {\"plugin\": \"no_such_plugin\"}}", SY_EPLUGIN, "selector.plugin",
     "plugin 'no_such_plugin' not found in: "},
    {"{" PP ", \"selector\": {\"plugin\": \"default_policy\", \"extra\": 1}}", SY_ECONFIG, "selector.extra", "unknown key"},
    {"{" PP ", \"selector\": {\"plugin\": \"address_map\", \"config\": {\"map\": {}}}}", SY_ECONFIG,
     "selector.plugin", "not a selector"},
    {"{" PP ", " RR ", \"translators\": {}}", SY_ECONFIG, "translators", "expected an array"},
    {"{" PP ", " RR ", \"translators\": [{\"plugin\": \"default_policy\"}]}", SY_ECONFIG, "translators[0].plugin",
     "not a translator"},
    {"{" PP ", " RR ", \"translators\": [{\"plugin\": \"address_map\", \"config\": []}]}", SY_ECONFIG,
     "translators[0].config", "expected an object, got an array"},
    {"{\"plugin_path\": \"@P@\", " RR "}", SY_ECONFIG, "plugin_path", "expected an array"},
    {"{\"plugin_path\": [\"@P@\", 3], " RR "}", SY_ECONFIG, "plugin_path[1]", "non-empty directory string"},
    /* topology */
    {"{\"topology\": [], " PP ", " RR "}", SY_ECONFIG, "topology", "expected an object, got an array"},
    {"{\"topology\": {\"nodes\": {}}, " PP ", " RR "}", SY_ECONFIG, "topology.nodes", "expected an array"},
    {"{\"topology\": {\"hosts\": []}, " PP ", " RR "}", SY_ECONFIG, "topology.hosts", "unknown key"},
    {NODE("\"port\": 2"), SY_ECONFIG, "topology.nodes[1].host", "non-empty host"},
    {NODE("\"host\": \"h\""), SY_ECONFIG, "topology.nodes[1].port", "needs a port"},
    {NODE("\"host\": \"h\", \"port\": 0"), SY_ECONFIG, "topology.nodes[1].port", "1..65535"},
    {NODE("\"host\": \"h\", \"port\": 70000"), SY_ECONFIG, "topology.nodes[1].port", "1..65535, got 70000"},
    {NODE("\"host\": \"h\", \"port\": \"9042\""), SY_ECONFIG, "topology.nodes[1].port", "got a string"},
    {NODE("\"host\": \"h\", \"port\": 90.5"), SY_ECONFIG, "topology.nodes[1].port", "got 90.5"},
    {NODE("\"host\": \"10.0.0.1\", \"port\": 1"), SY_ECONFIG, "topology.nodes[1].id",
     "duplicate node id '10.0.0.1:1'"},
    {NODE("\"host\": \"h\", \"port\": 2, \"up\": \"yes\""), SY_ECONFIG, "topology.nodes[1].up", "expected true or false"},
    {NODE("\"host\": \"h\", \"port\": 2, \"tokens\": [\"1\", \"x12\"]"), SY_ECONFIG, "topology.nodes[1].tokens[1]",
     "signed 64-bit integer"},
    {NODE("\"host\": \"h\", \"port\": 2, \"tokens\": [\"9223372036854775808\"]"), SY_ECONFIG,
     "topology.nodes[1].tokens[0]", "outside the signed 64-bit range"},
    {NODE("\"host\": \"h\", \"port\": 2, \"tokens\": [1e300]"), SY_ECONFIG, "topology.nodes[1].tokens[0]",
     "give 64-bit values as strings"},
    {NODE("\"host\": \"h\", \"port\": 2, \"shards\": -1"), SY_ECONFIG, "topology.nodes[1].shards", "0..65535"},
    {"{\"topology\": {\"keyspaces\": [{\"name\": \"ks\", \"strategy\": \"Simple\"}]}, " PP ", " RR "}", SY_ECONFIG,
     "topology.keyspaces[0].strategy", "SimpleStrategy"},
    {"{\"topology\": {\"keyspaces\": [{\"name\": \"ks\", \"strategy\": \"SimpleStrategy\", \"replication\": {}}]}, " PP
     ", " RR "}",
     SY_ECONFIG, "topology.keyspaces[0].replication.replication_factor", "needs a replication_factor"},
    {"{\"topology\": {\"keyspaces\": [{\"name\": \"ks\", \"strategy\": \"NetworkTopologyStrategy\","
     " \"replication\": {\"dc1\": -3}}]}, " PP ", " RR "}",
     SY_ECONFIG, "topology.keyspaces[0].replication.dc1", "0..1000"},
    {"{\"topology\": {\"keyspaces\": [{\"strategy\": \"SimpleStrategy\"}]}, " PP ", " RR "}", SY_ECONFIG,
     "topology.keyspaces[0].name", "non-empty name"},
    /* connect */
    {"{" PP ", " RR ", \"connect\": {\"timeout_ms\": 0}}", SY_ECONFIG, "connect.timeout_ms", "1..3600000"},
    {"{" PP ", " RR ", \"connect\": {\"retries\": 1}}", SY_ECONFIG, "connect.retries", "unknown key"},
    {"{" PP ", " RR ", \"connect\": {\"tls\": true}}", SY_ECONFIG, "connect.tls", "expected an object"},
    /* plugins' own configs, under the stage's path */
    {"{" PP ", \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": []}}}", SY_ECONFIG,
     "selector.config.mode", "expected one of"},
    {"{" PP ", \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mood\": 1}}}", SY_ECONFIG,
     "selector.config.mood", "unknown key"},
    {"{" PP ", \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"preferred_rack\": \"r1\"}}}", SY_ECONFIG,
     "selector.config.preferred_rack", "needs \"preferred_datacenter\""},
    {"{" PP ", \"selector\": {\"plugin\": \"default_policy\", \"config\":"
     " {\"latency_awareness\": {\"exclusion_threshold\": 1}}}}",
     SY_ECONFIG, "selector.config.latency_awareness.exclusion_threshold", "a number > 1"},
    {"{" PP ", \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"single_target\"}}}", SY_ECONFIG,
     "selector.config.target", "needs a \"target\""},
    {"{" PP ", " RR ", \"translators\": [{\"plugin\": \"address_map\", \"config\": {\"map\": {\"bad\": \"h:1\"}}}]}",
     SY_ECONFIG, "translators[0].config.map[\"bad\"]", "missing port"},
    {"{" PP ", " RR ", \"translators\": [{\"plugin\": \"address_map\", \"config\": {\"map\": {\"h:1\": \"[::1:2\"}}}]}",
     SY_ECONFIG, "translators[0].config.map[\"h:1\"]", "missing ']'"},
};

static void test_each_bad_config(void **state) {
    (void)state;
    size_t n = sizeof kBad / sizeof kBad[0];
    assert_true(n >= 25);
    for (size_t i = 0; i < n; i++) {
        const char *json = expand(kBad[i].json);
        sy_router *r = (sy_router *)0x1;
        sy_error err = SY_STRUCT_INIT(sy_error);
        int rc = sy_router_new(json, strlen(json), NULL, &r, &err);
        if (rc != kBad[i].code || err.code != rc || strcmp(err.path, kBad[i].path) != 0 ||
            !strstr(err.message, kBad[i].message))
            fail_msg("case %zu: %s\n  got %s at '%s': %s\n  want %s at '%s': ...%s...", i, kBad[i].json,
                     sy_status_name(rc), err.path, err.message, sy_status_name(kBad[i].code), kBad[i].path,
                     kBad[i].message);
        assert_ptr_equal(r, (sy_router *)0x1); /* out untouched on failure */

        /* sy_config_check agrees on the first error */
        assert_int_equal(sy_config_check(json, strlen(json), NULL, NULL, NULL), kBad[i].code);
    }
}

/* The plugin-not-found message lists where it looked. */
static void test_not_found_lists_directories(void **state) {
    (void)state;
    const char *dirs[] = {"/nonexistent/one"};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.plugin_path = dirs;
    o.plugin_path_count = 1;
    const char *json = "{\"plugin_path\": [\"/nonexistent/two\"], \"selector\": {\"plugin\": \"ghost\"}}";
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new(json, strlen(json), &o, &r, &err), SY_EPLUGIN);
    assert_non_null(strstr(err.message, "'ghost'"));
    const char *one = strstr(err.message, "/nonexistent/one");
    const char *two = strstr(err.message, "/nonexistent/two");
    assert_non_null(one);
    assert_non_null(two);
    assert_true(one < two); /* options first, then the config */
}

typedef struct reports {
    int count;
    char paths[8][SY_ERROR_PATH_MAX];
    int codes[8];
} reports;

static void collect(const sy_error *e, void *ud) {
    reports *r = ud;
    if (r->count < 8) {
        snprintf(r->paths[r->count], sizeof r->paths[0], "%s", e->path);
        r->codes[r->count] = e->code;
    }
    r->count++;
}

static void test_check_reports_every_error(void **state) {
    (void)state;
    const char *json = expand("{" PP ", \"topology\": {\"nodes\": [{\"host\": \"h\"}]},"
                              " \"connect\": {\"timeout_ms\": -1},"
                              " \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": 1}},"
                              " \"translators\": [{\"plugin\": \"address_map\", \"config\": {\"map\": {\"x\": \"y:1\"}}},"
                              " {\"plugin\": \"nope\"}]}");
    reports rep;
    memset(&rep, 0, sizeof rep);
    int rc = sy_config_check(json, strlen(json), NULL, collect, &rep);
    assert_int_equal(rc, SY_ECONFIG); /* the first error's code */
    assert_int_equal(rep.count, 5);
    assert_string_equal(rep.paths[0], "topology.nodes[0].port");
    assert_string_equal(rep.paths[1], "connect.timeout_ms");
    assert_string_equal(rep.paths[2], "selector.config.mode");
    assert_string_equal(rep.paths[3], "translators[0].config.map[\"x\"]");
    assert_string_equal(rep.paths[4], "translators[1].plugin");
    assert_int_equal(rep.codes[4], SY_EPLUGIN);

    /* a good config reports nothing */
    memset(&rep, 0, sizeof rep);
    json = expand("{" PP ", " RR "}");
    assert_int_equal(sy_config_check(json, strlen(json), NULL, collect, &rep), SY_OK);
    assert_int_equal(rep.count, 0);
}

/* Only len bytes are read: the rest of the buffer is not part of the config. */
static void test_length_is_respected(void **state) {
    (void)state;
    const char *good = expand("{" PP ", " RR "}");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s{{{ garbage", good);
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new(buf, strlen(good), NULL, &r, &err), SY_OK);
    sy_router_free(r);
    /* one byte short is a truncated document */
    assert_int_equal(sy_router_new(buf, strlen(good) - 1, NULL, &r, &err), SY_ECONFIG);
    assert_non_null(strstr(err.message, "unexpected end of input"));
}

static void test_missing_file_is_named(void **state) {
    (void)state;
    sy_router *r = (sy_router *)0x1;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new_from_file("/nonexistent/dir/conf.json", NULL, &r, &err), SY_ECONFIG);
    assert_non_null(strstr(err.message, "/nonexistent/dir/conf.json"));
    assert_non_null(strstr(err.message, "cannot open"));
    assert_ptr_equal(r, (sy_router *)0x1);
}

/* The path of a key that is not an identifier is quoted, and a very long
 * one is truncated, never overflowing the fixed buffer. */
static void test_odd_keys_in_paths(void **state) {
    (void)state;
    char json[2048];
    char key[600];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = 0;
    snprintf(json, sizeof json, "{\"%s\": 1, \"selector\": {}}", key);
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new(json, strlen(json), NULL, &r, &err), SY_ECONFIG);
    assert_int_equal(strlen(err.path), SY_ERROR_PATH_MAX - 1);
    assert_string_equal(err.message, "unknown key");

    const char *q = expand("{" PP ", \"topology\": {\"node list\": []}, " RR "}");
    assert_int_equal(sy_router_new(q, strlen(q), NULL, &r, &err), SY_ECONFIG);
    assert_string_equal(err.path, "topology[\"node list\"]");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_bad_config),
        cmocka_unit_test(test_not_found_lists_directories),
        cmocka_unit_test(test_check_reports_every_error),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_missing_file_is_named),
        cmocka_unit_test(test_odd_keys_in_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
