/* Malformed configs: each one fails with the right status, names the JSON
 * path of the offending element and says why. sy_config_check reports every
 * independent error, not only the first. Failed calls leave the out-parameter
 * alone. */
#define _POSIX_C_SOURCE 200809L
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

/* ---------------------------------------------------------------- helpers */

/* Copies tmpl into buf with every "@P@" replaced by the plugin directory. */
static const char *expand(char *buf, size_t size, const char *tmpl) {
    const char *dir = plugin_dir();
    assert_null(strpbrk(dir, "\"\\")); /* pasted into JSON as is */
    size_t n = 0;
    for (const char *c = tmpl; *c;) {
        if (strncmp(c, "@P@", 3) == 0) {
            int w = snprintf(buf + n, size - n, "%s", dir);
            assert_true(w > 0 && (size_t)w < size - n);
            n += (size_t)w;
            c += 3;
        } else {
            assert_true(n + 1 < size);
            buf[n++] = *c++;
        }
    }
    buf[n] = 0;
    return buf;
}

/* A router pointer a failed call must leave as it was. */
#define SENTINEL ((sy_router *)(uintptr_t)0x5e77)

/* Building blocks: a plugin path, a valid selector, a config with a second
 * node whose members are `extra`. */
#define PP "\"plugin_path\": [\"@P@\"]"
#define RR "\"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\"}}"
#define DP(cfg) "{" PP ", \"selector\": {\"plugin\": \"default_policy\", \"config\": " cfg "}}"
#define AM(cfg) "{" PP ", " RR ", \"translators\": [{\"plugin\": \"address_map\", \"config\": " cfg "}]}"
#define TOPO(t) "{\"topology\": " t ", " PP ", " RR "}"
#define NODE(extra) TOPO("{\"nodes\": [{\"host\": \"10.0.0.1\", \"port\": 1}, {" extra "}]}")
#define KS(ks) TOPO("{\"keyspaces\": [" ks "]}")

typedef struct bad_config {
    const char *json;    /* "@P@" is the plugin directory */
    int code;
    const char *path;    /* exact */
    const char *message; /* substring; "@P@" expanded too */
} bad_config;

static const bad_config kBad[] = {
    /* JSON syntax: the position is part of the message */
    {"{\"selector\": }", SY_ECONFIG, "", "JSON syntax error at line 1, column 14, near '}'"},
    {"{\n  \"selector\": {\"plugin\": \"x\"},\n  oops\n}", SY_ECONFIG, "", "JSON syntax error at line 3, column "},
    {"{\"selector\": {\"plugin\": \"default_policy\"}", SY_ECONFIG, "", "line 1, column 42: unexpected end of input"},
    {"{\"selector\": \"abc", SY_ECONFIG, "", "unexpected end of input"},
    {"", SY_ECONFIG, "", "line 1, column 1: empty document"},
    /* trailing garbage after the document */
    {"{" PP ", " RR "} trailing", SY_ECONFIG, "", "near 't'"},
    {"{} {}", SY_ECONFIG, "", "line 1, column 4, near '{'"},
    /* the root */
    {"[1, 2]", SY_ECONFIG, "", "a config is a JSON object, got an array"},
    {"\"config\"", SY_ECONFIG, "", "got a string"},
    {"null", SY_ECONFIG, "", "got null"},
    {"42", SY_ECONFIG, "", "got a number"},
    /* top-level keys */
    {"{" PP ", " RR ", \"selectors\": {}}", SY_ECONFIG, "selectors", "unknown key"},
    {"{" PP ", " RR ", " RR "}", SY_ECONFIG, "selector", "duplicate key"},
    {"{" PP "}", SY_ECONFIG, "selector", "a config needs a selector"},
    {"{}", SY_ECONFIG, "selector", "needs a selector"},
    /* the selector stage */
    {"{" PP ", \"selector\": \"default_policy\"}", SY_ECONFIG, "selector", "expected an object {\"plugin\", \"config\"}, got a string"},
    {"{" PP ", \"selector\": null}", SY_ECONFIG, "selector", "got null"},
    {"{" PP ", \"selector\": {\"config\": {}}}", SY_ECONFIG, "selector.plugin", "expected a plugin name string, got nothing"},
    {"{" PP ", \"selector\": {\"plugin\": 7}}", SY_ECONFIG, "selector.plugin", "expected a plugin name string, got a number"},
    {"{" PP ", \"selector\": {\"plugin\": \"\"}}", SY_ECONFIG, "selector.plugin", "expected a plugin name string"},
    {"{" PP ", \"selector\": {\"plugin\": \"no_such_plugin\"}}", SY_EPLUGIN, "selector.plugin",
     "plugin 'no_such_plugin' not found in: @P@"},
    {"{" PP ", \"selector\": {\"plugin\": \"../default_policy\"}}", SY_EPLUGIN, "selector.plugin",
     "'../default_policy' is not a plugin name"},
    {"{" PP ", \"selector\": {\"plugin\": \"default_policy\", \"extra\": 1}}", SY_ECONFIG, "selector.extra", "unknown key"},
    {"{" PP ", \"selector\": {\"plugin\": \"default_policy\", \"config\": []}}", SY_ECONFIG, "selector.config",
     "expected an object, got an array"},
    /* a translator as selector, a selector as translator */
    {"{" PP ", \"selector\": {\"plugin\": \"address_map\", \"config\": {\"map\": {}}}}", SY_ECONFIG, "selector.plugin",
     "plugin 'address_map' is not a selector"},
    {"{" PP ", " RR ", \"translators\": [{\"plugin\": \"default_policy\"}]}", SY_ECONFIG, "translators[0].plugin",
     "plugin 'default_policy' is not a translator"},
    /* translators */
    {"{" PP ", " RR ", \"translators\": {}}", SY_ECONFIG, "translators", "expected an array, got an object"},
    {"{" PP ", " RR ", \"translators\": null}", SY_ECONFIG, "translators", "expected an array, got null"},
    {"{" PP ", " RR ", \"translators\": [5]}", SY_ECONFIG, "translators[0]", "expected an object {\"plugin\", \"config\"}"},
    {"{" PP ", " RR ", \"translators\": [{\"plugin\": \"address_map\", \"config\": {\"map\": {}}}, {}]}", SY_ECONFIG,
     "translators[1].plugin", "expected a plugin name string, got nothing"},
    {"{" PP ", " RR ", \"translators\": [{\"plugin\": \"address_map\", \"config\": []}]}", SY_ECONFIG,
     "translators[0].config", "expected an object, got an array"},
    /* plugin_path */
    {"{\"plugin_path\": \"@P@\", " RR "}", SY_ECONFIG, "plugin_path", "expected an array of directory strings, got a string"},
    {"{\"plugin_path\": [\"@P@\", 3], " RR "}", SY_ECONFIG, "plugin_path[1]", "expected a non-empty directory string"},
    {"{\"plugin_path\": [\"\"], " RR "}", SY_ECONFIG, "plugin_path[0]", "non-empty directory string"},
    /* topology */
    {TOPO("[]"), SY_ECONFIG, "topology", "expected an object, got an array"},
    {TOPO("{\"nodes\": {}}"), SY_ECONFIG, "topology.nodes", "expected an array, got an object"},
    {TOPO("{\"keyspaces\": 1}"), SY_ECONFIG, "topology.keyspaces", "expected an array, got a number"},
    {TOPO("{\"hosts\": []}"), SY_ECONFIG, "topology.hosts", "unknown key"},
    {TOPO("{\"nodes\": [{\"host\": \"h\", \"port\": 1}, \"n2\"]}"), SY_ECONFIG, "topology.nodes[1]", "expected an object"},
    {NODE("\"port\": 2"), SY_ECONFIG, "topology.nodes[1].host", "a node needs a non-empty host"},
    {NODE("\"host\": \"\", \"port\": 2"), SY_ECONFIG, "topology.nodes[1].host", "non-empty host"},
    {NODE("\"host\": 10, \"port\": 2"), SY_ECONFIG, "topology.nodes[1].host", "expected a string, got a number"},
    {NODE("\"host\": \"h\""), SY_ECONFIG, "topology.nodes[1].port", "a node needs a port"},
    {NODE("\"host\": \"h\", \"port\": 0"), SY_ECONFIG, "topology.nodes[1].port", "1..65535, got 0"},
    {NODE("\"host\": \"h\", \"port\": 70000"), SY_ECONFIG, "topology.nodes[1].port", "1..65535, got 70000"},
    {NODE("\"host\": \"h\", \"port\": \"9042\""), SY_ECONFIG, "topology.nodes[1].port", "1..65535, got a string"},
    {NODE("\"host\": \"h\", \"port\": 90.5"), SY_ECONFIG, "topology.nodes[1].port", "1..65535, got 90.5"},
    {NODE("\"host\": \"h\", \"port\": 2, \"hostname\": \"x\""), SY_ECONFIG, "topology.nodes[1].hostname", "unknown key"},
    {NODE("\"host\": \"h\", \"port\": 2, \"port\": 3"), SY_ECONFIG, "topology.nodes[1].port", "duplicate key"},
    /* the second node's default id, host:port, is the first one's */
    {NODE("\"host\": \"10.0.0.1\", \"port\": 1"), SY_ECONFIG, "topology.nodes[1].id", "duplicate node id '10.0.0.1:1'"},
    {NODE("\"id\": \"10.0.0.1:1\", \"host\": \"h\", \"port\": 2"), SY_ECONFIG, "topology.nodes[1].id",
     "duplicate node id '10.0.0.1:1' (also node 0)"},
    {NODE("\"id\": \"\", \"host\": \"h\", \"port\": 2"), SY_ECONFIG, "topology.nodes[1].id", "must not be empty"},
    {NODE("\"host\": \"h\", \"port\": 2, \"up\": \"yes\""), SY_ECONFIG, "topology.nodes[1].up", "expected true or false, got a string"},
    {NODE("\"host\": \"h\", \"port\": 2, \"shards\": -1"), SY_ECONFIG, "topology.nodes[1].shards", "0..65535"},
    /* tokens */
    {NODE("\"host\": \"h\", \"port\": 2, \"tokens\": \"1\""), SY_ECONFIG, "topology.nodes[1].tokens", "expected an array, got a string"},
    {NODE("\"host\": \"h\", \"port\": 2, \"tokens\": [\"1\", \"x12\"]"), SY_ECONFIG, "topology.nodes[1].tokens[1]",
     "expected a signed 64-bit integer, got \"x12\""},
    {NODE("\"host\": \"h\", \"port\": 2, \"tokens\": [\"12 \"]"), SY_ECONFIG, "topology.nodes[1].tokens[0]",
     "signed 64-bit integer"},
    {NODE("\"host\": \"h\", \"port\": 2, \"tokens\": [\"9223372036854775808\"]"), SY_ECONFIG,
     "topology.nodes[1].tokens[0]", "\"9223372036854775808\" is outside the signed 64-bit range"},
    {NODE("\"host\": \"h\", \"port\": 2, \"tokens\": [\"-9223372036854775809\"]"), SY_ECONFIG,
     "topology.nodes[1].tokens[0]", "outside the signed 64-bit range"},
    {NODE("\"host\": \"h\", \"port\": 2, \"tokens\": [1e300]"), SY_ECONFIG, "topology.nodes[1].tokens[0]",
     "give 64-bit values as strings"},
    {NODE("\"host\": \"h\", \"port\": 2, \"tokens\": [true]"), SY_ECONFIG, "topology.nodes[1].tokens[0]",
     "expected an integer (string or number), got a boolean"},
    /* keyspaces */
    {KS("{\"name\": \"ks\", \"strategy\": \"Simple\"}"), SY_ECONFIG, "topology.keyspaces[0].strategy",
     "expected \"SimpleStrategy\" or \"NetworkTopologyStrategy\""},
    {KS("{\"name\": \"ks\"}"), SY_ECONFIG, "topology.keyspaces[0].strategy", "SimpleStrategy"},
    {KS("{\"name\": \"ks\", \"strategy\": \"SimpleStrategy\"}"), SY_ECONFIG,
     "topology.keyspaces[0].replication.replication_factor", "SimpleStrategy needs a replication_factor"},
    {KS("{\"name\": \"ks\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"dc1\": 3}}"), SY_ECONFIG,
     "topology.keyspaces[0].replication.replication_factor", "needs a replication_factor"},
    {KS("{\"name\": \"ks\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": \"three\"}}"),
     SY_ECONFIG, "topology.keyspaces[0].replication.replication_factor", "an integer 0..1000"},
    {KS("{\"name\": \"ks\", \"strategy\": \"NetworkTopologyStrategy\", \"replication\": {\"dc1\": -3}}"), SY_ECONFIG,
     "topology.keyspaces[0].replication.dc1", "replication factor must be an integer 0..1000"},
    {KS("{\"name\": \"ks\", \"strategy\": \"NetworkTopologyStrategy\", \"replication\": [3]}"), SY_ECONFIG,
     "topology.keyspaces[0].replication", "expected an object, got an array"},
    {KS("{\"strategy\": \"SimpleStrategy\"}"), SY_ECONFIG, "topology.keyspaces[0].name", "a keyspace needs a non-empty name"},
    {KS("{\"name\": \"a\", \"strategy\": \"LocalStrategy\"}, {\"name\": \"a\", \"strategy\": \"LocalStrategy\"}"),
     SY_ECONFIG, "topology.keyspaces[1].name", "duplicate keyspace 'a'"},
    /* connect */
    {"{" PP ", " RR ", \"connect\": {\"timeout_ms\": 0}}", SY_ECONFIG, "connect.timeout_ms", "expected an integer in 1..3600000, got 0"},
    {"{" PP ", " RR ", \"connect\": {\"timeout_ms\": -1}}", SY_ECONFIG, "connect.timeout_ms", "1..3600000"},
    {"{" PP ", " RR ", \"connect\": {\"timeout_ms\": 2.5}}", SY_ECONFIG, "connect.timeout_ms", "got 2.5"},
    {"{" PP ", " RR ", \"connect\": {\"timeout_ms\": \"2000\"}}", SY_ECONFIG, "connect.timeout_ms", "got a string"},
    {"{" PP ", " RR ", \"connect\": {\"retries\": 1}}", SY_ECONFIG, "connect.retries", "unknown key"},
    {"{" PP ", " RR ", \"connect\": {\"tls\": true}}", SY_ECONFIG, "connect.tls", "expected an object, got a boolean"},
    {"{" PP ", " RR ", \"connect\": []}", SY_ECONFIG, "connect", "expected an object, got an array"},
    /* default_policy's own config, under the stage's path */
    {DP("{\"mode\": []}"), SY_ECONFIG, "selector.config.mode",
     "expected one of \"default\", \"round_robin\", \"single_target\", got an array"},
    {DP("{\"mode\": \"fastest\"}"), SY_ECONFIG, "selector.config.mode", "got \"fastest\""},
    {DP("{\"mood\": 1}"), SY_ECONFIG, "selector.config.mood", "unknown key"},
    {DP("{\"preferred_rack\": \"r1\"}"), SY_ECONFIG, "selector.config.preferred_rack", "needs \"preferred_datacenter\""},
    {DP("{\"latency_awareness\": {\"exclusion_threshold\": 1}}"), SY_ECONFIG,
     "selector.config.latency_awareness.exclusion_threshold", "expected a number > 1, got 1"},
    {DP("{\"latency_awareness\": {\"exclusion_threshold\": 0.5}}"), SY_ECONFIG,
     "selector.config.latency_awareness.exclusion_threshold", "a number > 1"},
    {DP("{\"latency_awareness\": {\"exclusion_threshold\": \"2\"}}"), SY_ECONFIG,
     "selector.config.latency_awareness.exclusion_threshold", "got \"2\""},
    {DP("{\"latency_awareness\": {\"threshold\": 2}}"), SY_ECONFIG, "selector.config.latency_awareness.threshold",
     "unknown key"},
    {DP("{\"latency_awareness\": true}"), SY_ECONFIG, "selector.config.latency_awareness", "expected an object"},
    {DP("{\"mode\": \"single_target\"}"), SY_ECONFIG, "selector.config.target", "needs a \"target\""},
    {DP("{\"mode\": \"round_robin\", \"preferred_datacenter\": \"dc1\"}"), SY_ECONFIG,
     "selector.config.preferred_datacenter", "only used with \"mode\": \"default\""},
    /* address_map's own config: a bad entry is named by its key */
    {AM("{\"map\": {\"bad\": \"h:1\"}}"), SY_ECONFIG, "translators[0].config.map[\"bad\"]",
     "key is not host:port: missing port"},
    {AM("{\"map\": {\"h:1\": \"[::1:2\"}}"), SY_ECONFIG, "translators[0].config.map[\"h:1\"]", "missing ']'"},
    {AM("{\"map\": {\"h:0\": \"g:1\"}}"), SY_ECONFIG, "translators[0].config.map[\"h:0\"]", "port must be a number 1..65535"},
    {AM("{\"map\": {\"h:1\": 5}}"), SY_ECONFIG, "translators[0].config.map[\"h:1\"]",
     "expected a \"host:port\" string, got a number"},
    {AM("{\"map\": {\"h:1\": \"::1:5\"}}"), SY_ECONFIG, "translators[0].config.map[\"h:1\"]", "IPv6 addresses need brackets"},
    {AM("{\"map\": {\"[::1]:1\": \"a:1\", \"[0:0::1]:1\": \"b:1\"}}"), SY_ECONFIG,
     "translators[0].config.map[\"[0:0::1]:1\"]", "duplicate key: the same address as map[\"[::1]:1\"]"},
    {AM("{\"map\": []}"), SY_ECONFIG, "translators[0].config.map", "expected an object"},
    {AM("{\"maps\": {}}"), SY_ECONFIG, "translators[0].config.maps", "unknown key"},
    {AM("{}"), SY_ECONFIG, "translators[0].config", "address_map needs {\"map\""},
};

typedef struct reports {
    int count;
    char paths[8][SY_ERROR_PATH_MAX];
    char messages[8][SY_ERROR_MESSAGE_MAX];
    int codes[8];
} reports;

static void collect(const sy_error *e, void *user_data) {
    reports *r = user_data;
    if (r->count < 8) {
        snprintf(r->paths[r->count], sizeof r->paths[0], "%s", e->path);
        snprintf(r->messages[r->count], sizeof r->messages[0], "%s", e->message);
        r->codes[r->count] = e->code;
    }
    r->count++;
}

/* ---------------------------------------------------------------- tests */

/* Every row fails as specified, sy_router_new and sy_config_check agree.
 * All rows run; the mismatches are listed together. */
static void test_each_bad_config(void **state) {
    (void)state;
    size_t n = sizeof kBad / sizeof kBad[0];
    assert_true(n >= 25);
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        char json[4096], want[1024];
        expand(json, sizeof json, kBad[i].json);
        expand(want, sizeof want, kBad[i].message);
        sy_router *r = SENTINEL;
        sy_error err = SY_STRUCT_INIT(sy_error);
        int rc = sy_router_new(json, strlen(json), NULL, &r, &err);
        if (rc != kBad[i].code || err.code != rc || strcmp(err.path, kBad[i].path) != 0 || !strstr(err.message, want)) {
            print_error("case %zu: %s\n  got  %s at '%s': %s\n  want %s at '%s': ...%s...\n", i, kBad[i].json,
                        sy_status_name(rc), err.path, err.message, sy_status_name(kBad[i].code), kBad[i].path, want);
            failures++;
        }
        if (r != SENTINEL) {
            print_error("case %zu: the router out-parameter was written on failure\n", i);
            failures++;
            if (rc == SY_OK) sy_router_free(r);
        }
        /* check mode finds the same first error */
        reports rep;
        memset(&rep, 0, sizeof rep);
        int crc = sy_config_check(json, strlen(json), NULL, collect, &rep);
        if (crc != kBad[i].code || rep.count < 1 || rep.codes[0] != crc || strcmp(rep.paths[0], kBad[i].path) != 0) {
            print_error("case %zu: sy_config_check gave %s with %d report(s), first at '%s'\n", i, sy_status_name(crc),
                        rep.count, rep.count ? rep.paths[0] : "");
            failures++;
        }
        /* and without a callback, just the code */
        if (sy_config_check(json, strlen(json), NULL, NULL, NULL) != kBad[i].code) {
            print_error("case %zu: sy_config_check without a callback disagrees\n", i);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* The plugin-not-found message names the plugin and every directory it
 * searched: the options' directories first, then the config's. */
static void test_not_found_lists_directories(void **state) {
    (void)state;
    const char *dirs[] = {"/nonexistent/one"};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.plugin_path = dirs;
    o.plugin_path_count = 1;
    const char *json = "{\"plugin_path\": [\"/nonexistent/two\"], \"selector\": {\"plugin\": \"ghost\"}}";
    sy_router *r = SENTINEL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new(json, strlen(json), &o, &r, &err), SY_EPLUGIN);
    assert_int_equal(err.code, SY_EPLUGIN);
    assert_string_equal(err.path, "selector.plugin");
    assert_non_null(strstr(err.message, "plugin 'ghost' not found in: /nonexistent/one, /nonexistent/two"));
    assert_ptr_equal(r, SENTINEL);
}

/* Several independent errors: one report each, in processing order, and the
 * return value is the first one's code. */
static void test_check_reports_every_error(void **state) {
    (void)state;
    char json[4096];
    expand(json, sizeof json,
           "{" PP ", \"topology\": {\"nodes\": [{\"host\": \"h\"}]},"
           " \"connect\": {\"timeout_ms\": -1},"
           " \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": 1}},"
           " \"translators\": [{\"plugin\": \"address_map\", \"config\": {\"map\": {\"x\": \"y:1\"}}},"
           " {\"plugin\": \"nope\"}]}");
    reports rep;
    memset(&rep, 0, sizeof rep);
    assert_int_equal(sy_config_check(json, strlen(json), NULL, collect, &rep), SY_ECONFIG);
    assert_int_equal(rep.count, 5);
    assert_string_equal(rep.paths[0], "topology.nodes[0].port");
    assert_string_equal(rep.paths[1], "connect.timeout_ms");
    assert_string_equal(rep.paths[2], "selector.config.mode");
    assert_string_equal(rep.paths[3], "translators[0].config.map[\"x\"]");
    assert_string_equal(rep.paths[4], "translators[1].plugin");
    for (int i = 0; i < 4; i++) assert_int_equal(rep.codes[i], SY_ECONFIG);
    assert_int_equal(rep.codes[4], SY_EPLUGIN);
    assert_non_null(strstr(rep.messages[0], "needs a port"));
    assert_non_null(strstr(rep.messages[4], "'nope'"));

    /* the return value is the first error's code, whatever comes later */
    expand(json, sizeof json, "{" PP ", \"selector\": {\"plugin\": \"ghost\"}, \"translators\": [{\"plugin\": \"default_policy\"}]}");
    memset(&rep, 0, sizeof rep);
    assert_int_equal(sy_config_check(json, strlen(json), NULL, collect, &rep), SY_EPLUGIN);
    assert_int_equal(rep.count, 2);
    assert_string_equal(rep.paths[0], "selector.plugin");
    assert_int_equal(rep.codes[0], SY_EPLUGIN);
    assert_string_equal(rep.paths[1], "translators[0].plugin");
    assert_int_equal(rep.codes[1], SY_ECONFIG);

    expand(json, sizeof json, "{" PP ", \"selector\": {\"plugin\": \"ghost\"}, \"connect\": {\"pool\": 1}}");
    memset(&rep, 0, sizeof rep);
    assert_int_equal(sy_config_check(json, strlen(json), NULL, collect, &rep), SY_ECONFIG);
    assert_int_equal(rep.count, 2);
    assert_string_equal(rep.paths[0], "connect.pool");
    assert_string_equal(rep.paths[1], "selector.plugin");

    /* top-level keys are checked first, wherever they stand */
    expand(json, sizeof json, "{" PP ", \"selector\": {\"plugin\": \"ghost\"}, \"extra\": 1}");
    memset(&rep, 0, sizeof rep);
    assert_int_equal(sy_config_check(json, strlen(json), NULL, collect, &rep), SY_ECONFIG);
    assert_int_equal(rep.count, 2);
    assert_string_equal(rep.paths[0], "extra");
    assert_string_equal(rep.paths[1], "selector.plugin");
}

static void test_check_good_config(void **state) {
    (void)state;
    char json[1024];
    expand(json, sizeof json,
           "{" PP ", \"topology\": {\"nodes\": [{\"host\": \"10.0.0.1\", \"port\": 9042}]}, " RR
           ", \"translators\": [{\"plugin\": \"address_map\", \"config\": {\"map\": {\"10.0.0.1:9042\": \"127.0.0.1:1\"}}}],"
           " \"connect\": {\"timeout_ms\": 2000, \"tls\": {}, \"pool\": {}}}");
    reports rep;
    memset(&rep, 0, sizeof rep);
    assert_int_equal(sy_config_check(json, strlen(json), NULL, collect, &rep), SY_OK);
    assert_int_equal(rep.count, 0);
    assert_int_equal(sy_config_check(json, strlen(json), NULL, NULL, NULL), SY_OK);
    /* and the same text makes a router */
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new(json, strlen(json), NULL, &r, &err), SY_OK);
    assert_non_null(r);
    sy_router_free(r);
    /* misuse */
    assert_int_equal(sy_config_check(NULL, 0, NULL, collect, &rep), SY_EINVAL);
    assert_int_equal(rep.count, 0);
}

/* Only len bytes are read: the rest of the buffer is not part of the config,
 * and the text need not be NUL-terminated at all. */
static void test_length_is_respected(void **state) {
    (void)state;
    char good[1024], buf[2048];
    expand(good, sizeof good, "{" PP ", " RR "}");
    size_t n = strlen(good);
    snprintf(buf, sizeof buf, "%s{{{ garbage", good);
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new(buf, n, NULL, &r, &err), SY_OK);
    sy_router_free(r);

    /* an exact-size heap copy without a terminator (ASan catches an over-read) */
    char *exact = malloc(n);
    assert_non_null(exact);
    memcpy(exact, good, n);
    r = NULL;
    assert_int_equal(sy_router_new(exact, n, NULL, &r, &err), SY_OK);
    sy_router_free(r);
    free(exact);

    /* one byte short is a truncated document */
    r = SENTINEL;
    assert_int_equal(sy_router_new(buf, n - 1, NULL, &r, &err), SY_ECONFIG);
    assert_non_null(strstr(err.message, "unexpected end of input"));
    assert_ptr_equal(r, SENTINEL);

    /* trailing whitespace is fine, trailing anything else is not */
    snprintf(buf, sizeof buf, "%s \n\t\r\n", good);
    r = NULL;
    assert_int_equal(sy_router_new(buf, strlen(buf), NULL, &r, &err), SY_OK);
    sy_router_free(r);
    snprintf(buf, sizeof buf, "%s\n,", good);
    r = SENTINEL;
    assert_int_equal(sy_router_new(buf, strlen(buf), NULL, &r, &err), SY_ECONFIG);
    assert_non_null(strstr(err.message, "line 2, column 1, near ','"));
    assert_ptr_equal(r, SENTINEL);
}

static void test_files(void **state) {
    (void)state;
    /* a missing file is named in the message */
    sy_router *r = SENTINEL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new_from_file("/nonexistent/dir/conf.json", NULL, &r, &err), SY_ECONFIG);
    assert_int_equal(err.code, SY_ECONFIG);
    assert_non_null(strstr(err.message, "/nonexistent/dir/conf.json"));
    assert_non_null(strstr(err.message, "cannot open"));
    assert_ptr_equal(r, SENTINEL);

    /* errors inside a file read like errors in a string */
    char path[] = "/tmp/sy_test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    char json[1024];
    expand(json, sizeof json, "{" PP ",\n " RR ",\n \"connect\": {\"timeout_ms\": 0}}\n");
    fputs(json, f);
    fclose(f);
    assert_int_equal(sy_router_new_from_file(path, NULL, &r, &err), SY_ECONFIG);
    assert_string_equal(err.path, "connect.timeout_ms");
    assert_ptr_equal(r, SENTINEL);

    /* and a good file makes a router */
    f = fopen(path, "w");
    assert_non_null(f);
    expand(json, sizeof json, "{" PP ", " RR "}");
    fputs(json, f);
    fclose(f);
    r = NULL;
    assert_int_equal(sy_router_new_from_file(path, NULL, &r, &err), SY_OK);
    assert_non_null(r);
    sy_router_free(r);
    remove(path);

    /* misuse */
    r = SENTINEL;
    assert_int_equal(sy_router_new_from_file(NULL, NULL, &r, &err), SY_EINVAL);
    assert_int_equal(sy_router_new(NULL, 0, NULL, &r, &err), SY_EINVAL);
    assert_int_equal(sy_router_new("{}", 2, NULL, NULL, &err), SY_EINVAL);
    assert_ptr_equal(r, SENTINEL);
}

/* The path of a nested key that is not an identifier is quoted; a very long
 * one is truncated, never overflowing the fixed buffer. */
static void test_odd_keys_in_paths(void **state) {
    (void)state;
    char json[2048];
    char key[600];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = 0;
    snprintf(json, sizeof json, "{\"%s\": 1, \"selector\": {}}", key);
    sy_router *r = SENTINEL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new(json, strlen(json), NULL, &r, &err), SY_ECONFIG);
    assert_int_equal(strlen(err.path), SY_ERROR_PATH_MAX - 1);
    assert_string_equal(err.message, "unknown key");

    char q[1024];
    expand(q, sizeof q, "{" PP ", \"topology\": {\"node list\": []}, " RR "}");
    assert_int_equal(sy_router_new(q, strlen(q), NULL, &r, &err), SY_ECONFIG);
    assert_string_equal(err.path, "topology[\"node list\"]");
    assert_ptr_equal(r, SENTINEL);
}

/* ---------------------------------------------------------------- regressions */

/* A document wrong early and also left open at its end: the error is where
 * cJSON stopped (the '@'), not at the end of the input. Fixed in 68571f4
 * (json.cpp cut_short); before, this read "line 3, column 15: unexpected end
 * of input". */
static void test_syntax_error_position_in_an_open_document(void **state) {
    (void)state;
    const char *json = "{\n \"selector\": @,\n \"topology\": {";
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_router *r = SENTINEL;
    assert_int_equal(sy_router_new(json, strlen(json), NULL, &r, &err), SY_ECONFIG);
    assert_ptr_equal(r, SENTINEL);
    if (!strstr(err.message, "line 2, column 14, near '@'"))
        fail_msg("want the error at line 2, column 14 (the '@'), got: %s", err.message);
    /* the same with an unterminated string after the mistake */
    json = "{\"selector\": @, \"x\": \"abc";
    assert_int_equal(sy_router_new(json, strlen(json), NULL, &r, &err), SY_ECONFIG);
    if (!strstr(err.message, "line 1, column 14, near '@'")) fail_msg("got: %s", err.message);
}

/* An unknown top-level key that is not an identifier is quoted like any
 * nested one (topology["node list"]). Fixed in 68571f4 (config.cpp). */
static void test_top_level_odd_key_is_quoted(void **state) {
    (void)state;
    char json[1024];
    expand(json, sizeof json, "{" PP ", " RR ", \"a b\": 1}");
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_router *r = SENTINEL;
    assert_int_equal(sy_router_new(json, strlen(json), NULL, &r, &err), SY_ECONFIG);
    assert_string_equal(err.message, "unknown key");
    assert_string_equal(err.path, "[\"a b\"]");
}

/* An out-of-range integer is printed exactly: 3600001 once read "got
 * 3.6e+06", apparently in range. Fixed in 68571f4 (json.cpp json_opt_int). */
static void test_range_message_shows_the_value(void **state) {
    (void)state;
    char json[1024];
    expand(json, sizeof json, "{" PP ", " RR ", \"connect\": {\"timeout_ms\": 3600001}}");
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_router *r = SENTINEL;
    assert_int_equal(sy_router_new(json, strlen(json), NULL, &r, &err), SY_ECONFIG);
    assert_string_equal(err.path, "connect.timeout_ms");
    if (!strstr(err.message, "got 3600001")) fail_msg("want \"got 3600001\" in: %s", err.message);
}

/* ---------------------------------------------------------------- known bugs */

/* BUG (core/json/json.cpp:104, json_parse: `if (len && cut_short(text, len, pos))`):
 * after a complete document, trailing garbage that opens a bracket as its
 * last byte, or opens a string, is reported as "unexpected end of input" at
 * the very end, as if the config were cut short, while "{} x" or "{} [1,"
 * are reported at the garbage. The document parsed fine, so the error is the
 * garbage at column 4. */
static void test_trailing_garbage_is_not_a_truncation(void **state) {
    (void)state;
    static const char *const kTrailing[] = {"{} {", "{} \"abc"};
    for (size_t i = 0; i < 2; i++) {
        sy_error err = SY_STRUCT_INIT(sy_error);
        sy_router *r = SENTINEL;
        assert_int_equal(sy_router_new(kTrailing[i], strlen(kTrailing[i]), NULL, &r, &err), SY_ECONFIG);
        assert_ptr_equal(r, SENTINEL);
        if (!strstr(err.message, "line 1, column 4, near"))
            fail_msg("%s: want the error at the garbage (column 4), got: %s", kTrailing[i], err.message);
    }
}

/* BUG (plugins/default_policy/default_policy.cpp:56 Parser::fail, :99-105 check_keys, and
 * plugins/address_map/address_map.cpp:78 Errors::fail with map_key false):
 * the plugins append an unknown key to the path raw, so "a b" reads
 * selector.config.a b and "x.y" reads as if nested, while the core (and
 * address_map for map keys) quote such keys: config["a b"]. */
static void test_plugin_odd_keys_are_quoted(void **state) {
    (void)state;
    static const struct {
        const char *json, *path;
    } kCases[] = {
        {DP("{\"a b\": 1}"), "selector.config[\"a b\"]"},
        {DP("{\"latency_awareness\": {\"x.y\": 1}}"), "selector.config.latency_awareness[\"x.y\"]"},
        {AM("{\"map\": {}, \"a b\": 1}"), "translators[0].config[\"a b\"]"},
    };
    for (size_t i = 0; i < sizeof kCases / sizeof kCases[0]; i++) {
        char json[1024];
        expand(json, sizeof json, kCases[i].json);
        sy_error err = SY_STRUCT_INIT(sy_error);
        sy_router *r = SENTINEL;
        assert_int_equal(sy_router_new(json, strlen(json), NULL, &r, &err), SY_ECONFIG);
        assert_non_null(strstr(err.message, "unknown key"));
        if (strcmp(err.path, kCases[i].path) != 0) fail_msg("want path %s, got %s", kCases[i].path, err.path);
    }
}

/* BUG (core/config/config.cpp:352-353, sy_router_new_from_file): the caller's
 * options are copied for their first struct_size bytes and then re-stamped
 * with sizeof(sy_router_options), so a struct sy_router_new refuses as too
 * small is accepted here (and one cut inside a pointer would be read as half
 * a pointer). It should refuse it with SY_EINVAL like sy_router_new. */
static void test_file_refuses_too_small_options(void **state) {
    (void)state;
    char path[] = "/tmp/sy_test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    char json[1024];
    expand(json, sizeof json, "{" PP ", " RR "}");
    fputs(json, f);
    fclose(f);
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.struct_size = 8;
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_router *r = SENTINEL;
    assert_int_equal(sy_router_new(json, strlen(json), &o, &r, &err), SY_EINVAL); /* the reference */
    int rc = sy_router_new_from_file(path, &o, &r, &err);
    remove(path);
    if (rc == SY_OK && r != SENTINEL) sy_router_free(r);
    assert_int_equal(rc, SY_EINVAL);
    assert_ptr_equal(r, SENTINEL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_bad_config),
        cmocka_unit_test(test_not_found_lists_directories),
        cmocka_unit_test(test_check_reports_every_error),
        cmocka_unit_test(test_check_good_config),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_odd_keys_in_paths),
        cmocka_unit_test(test_syntax_error_position_in_an_open_document),
        cmocka_unit_test(test_top_level_odd_key_is_quoted),
        cmocka_unit_test(test_range_message_shows_the_value),
        cmocka_unit_test(test_trailing_garbage_is_not_a_truncation),
        cmocka_unit_test(test_plugin_odd_keys_are_quoted),
        cmocka_unit_test(test_file_refuses_too_small_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
