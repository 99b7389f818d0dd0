/* default_policy through the public API: a router built from config JSON
 * that loads the plugin from $SY_PLUGIN_DIR. */
#define _POSIX_C_SOURCE 200809L
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

#include "support/plugin_dir.h"

/* a, b, c up; d down. */
static const char *const kTopo =
    "{\"nodes\": ["
    "{\"id\": \"a\", \"host\": \"10.0.0.1\", \"port\": 9042, \"datacenter\": \"dc1\", \"rack\": \"r1\"},"
    "{\"id\": \"b\", \"host\": \"10.0.0.2\", \"port\": 9042, \"datacenter\": \"dc1\", \"rack\": \"r2\"},"
    "{\"id\": \"c\", \"host\": \"10.0.0.3\", \"port\": 9042, \"datacenter\": \"dc2\", \"rack\": \"r1\"},"
    "{\"id\": \"d\", \"host\": \"10.0.0.4\", \"port\": 9042, \"datacenter\": \"dc2\", \"rack\": \"r1\","
    " \"up\": false}]}";

#define MAX_TARGETS 16

typedef struct copied_target {
    char node[64];
    char host[64];
    char datacenter[32];
    char rack[32];
    char via[SY_VIA_MAX][32];
    uint32_t via_count;
    uint32_t port;
    uint32_t flags;
    uint32_t node_index;
    uint64_t epoch;
    int has_datacenter;
} copied_target;

static void copy_str(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src ? src : "");
}

/* ---------------------------------------------------------------- logging */

static char g_log[8192];

static void capture_log(uint32_t level, const char *source, const char *message, void *user_data) {
    (void)user_data;
    size_t len = strlen(g_log);
    if (strcmp(source, "default_policy") != 0) return;
    snprintf(g_log + len, sizeof g_log - len, "%u %s\n", level, message);
}

/* ---------------------------------------------------------------- helpers */

static int new_router_opts(const char *topology, const char *selector_config, const sy_router_options *opts,
                           sy_router **out, sy_error *err) {
    static char buf[16384];
    const char *dir = plugin_dir();
    assert_null(strpbrk(dir, "\"\\")); /* pasted into JSON as is */
    int n = snprintf(buf, sizeof buf,
                     "{\"plugin_path\": [\"%s\"], \"topology\": %s,"
                     " \"selector\": {\"plugin\": \"default_policy\"%s%s}}",
                     dir, topology, selector_config ? ", \"config\": " : "",
                     selector_config ? selector_config : "");
    assert_true(n > 0 && (size_t)n < sizeof buf);
    *err = (sy_error){.struct_size = sizeof(sy_error)};
    *out = NULL;
    return sy_router_new(buf, (size_t)n, opts, out, err);
}

static sy_router *must_router(const char *topology, const char *selector_config) {
    sy_router *r = NULL;
    sy_error err;
    int rc = new_router_opts(topology, selector_config, NULL, &r, &err);
    if (rc != SY_OK) fail_msg("sy_router_new: %s: %s: %s", sy_status_name(rc), err.path, err.message);
    assert_non_null(r);
    return r;
}

/* Runs one plan with an empty request; returns sy_plan_init's status and
 * copies up to MAX_TARGETS targets. */
static int run_plan(sy_router *r, copied_target *out, size_t *count, sy_error *err) {
    sy_request *req = NULL;
    sy_error e = {.struct_size = sizeof e};
    assert_int_equal(sy_request_new(r, &req, &e), SY_OK);
    sy_plan_storage storage;
    assert_true(sy_router_plan_size(r) <= sizeof storage);
    sy_plan *plan = NULL;
    *err = (sy_error){.struct_size = sizeof(sy_error)};
    *count = 0;
    int rc = sy_plan_init(r, req, &storage, sizeof storage, &plan, err);
    if (rc == SY_OK) {
        sy_target t = {.struct_size = sizeof t};
        int more;
        while ((more = sy_plan_next(plan, &t)) == 1) {
            assert_true(*count < MAX_TARGETS);
            copied_target *c = &out[(*count)++];
            memset(c, 0, sizeof *c);
            copy_str(c->node, sizeof c->node, t.node);
            copy_str(c->host, sizeof c->host, t.host);
            copy_str(c->datacenter, sizeof c->datacenter, t.datacenter);
            copy_str(c->rack, sizeof c->rack, t.rack);
            c->has_datacenter = t.datacenter != NULL;
            c->via_count = t.via_count;
            for (uint32_t i = 0; i < t.via_count && i < SY_VIA_MAX; i++) copy_str(c->via[i], sizeof c->via[i], t.via[i]);
            c->port = t.port;
            c->flags = t.flags;
            c->node_index = t.node_index;
            c->epoch = t.epoch;
            t = (sy_target){.struct_size = sizeof t};
        }
        assert_int_equal(more, 0);
        sy_plan_release(plan);
    }
    sy_request_free(req);
    return rc;
}

static size_t plan_ok(sy_router *r, copied_target *out) {
    size_t n = 0;
    sy_error err;
    int rc = run_plan(r, out, &n, &err);
    if (rc != SY_OK) fail_msg("sy_plan_init: %s: %s", sy_status_name(rc), err.message);
    return n;
}

static int order_of(const char *id, const char *order) {
    const char *p = strchr(order, id[0]);
    assert_true(id[0] && !id[1] && p);
    return (int)(p - order);
}

/* ---------------------------------------------------------------- round_robin */

static void test_round_robin_rotates_over_up_nodes(void **state) {
    (void)state;
    sy_router *r = must_router(kTopo, "{\"mode\": \"round_robin\"}");
    copied_target t[MAX_TARGETS];
    int prev_first = -1;
    for (int k = 0; k < 7; k++) {
        size_t n = plan_ok(r, t);
        assert_int_equal(n, 3);
        int seen[3] = {0, 0, 0};
        for (size_t i = 0; i < n; i++) {
            assert_string_not_equal(t[i].node, "d");
            int o = order_of(t[i].node, "abc");
            seen[o]++;
            if (i > 0) assert_int_equal(o, (order_of(t[i - 1].node, "abc") + 1) % 3);
        }
        assert_int_equal(seen[0], 1);
        assert_int_equal(seen[1], 1);
        assert_int_equal(seen[2], 1);
        int first = order_of(t[0].node, "abc");
        if (prev_first >= 0) assert_int_equal(first, (prev_first + 1) % 3);
        prev_first = first;
    }
    sy_router_free(r);
}

static void test_round_robin_target_fields(void **state) {
    (void)state;
    /* seed 0: the first plan starts at the first up node. */
    sy_router *r = must_router(kTopo, "{\"mode\": \"round_robin\", \"seed\": 0}");
    assert_true(sy_router_plan_size(r) <= SY_PLAN_STORAGE_SIZE);
    copied_target t[MAX_TARGETS];
    assert_int_equal(plan_ok(r, t), 3);
    assert_string_equal(t[0].node, "a");
    assert_string_equal(t[0].host, "10.0.0.1");
    assert_int_equal(t[0].port, 9042);
    assert_string_equal(t[0].datacenter, "dc1");
    assert_string_equal(t[0].rack, "r1");
    assert_int_equal(t[0].node_index, 0);
    assert_int_equal(t[0].flags & (SY_TARGET_HAS_SHARD | SY_TARGET_DOWN), 0);
    assert_int_equal(t[0].via_count, 1);
    assert_string_equal(t[0].via[0], "default_policy");
    assert_int_equal(t[0].epoch, sy_router_epoch(r));
    assert_string_equal(t[1].node, "b");
    assert_int_equal(t[1].node_index, 1);
    assert_string_equal(t[2].node, "c");
    assert_string_equal(t[2].datacenter, "dc2");
    /* the next plan starts one node later */
    assert_int_equal(plan_ok(r, t), 3);
    assert_string_equal(t[0].node, "b");
    sy_router_free(r);

    r = must_router(kTopo, "{\"mode\": \"round_robin\", \"seed\": 2}");
    assert_int_equal(plan_ok(r, t), 3);
    assert_string_equal(t[0].node, "c");
    assert_string_equal(t[1].node, "a");
    sy_router_free(r);
}

static void test_round_robin_no_up_node(void **state) {
    (void)state;
    sy_router *r = must_router("{\"nodes\": [{\"id\": \"a\", \"host\": \"10.0.0.1\", \"port\": 1, \"up\": false},"
                               " {\"id\": \"b\", \"host\": \"10.0.0.2\", \"port\": 1, \"up\": false}]}",
                               "{\"mode\": \"round_robin\"}");
    copied_target t[MAX_TARGETS];
    size_t n;
    sy_error err;
    assert_int_equal(run_plan(r, t, &n, &err), SY_ENOROUTE);
    assert_int_equal(err.code, SY_ENOROUTE);
    assert_non_null(strstr(err.message, "none of the 2 nodes is up"));
    sy_router_free(r);

    r = must_router("{\"nodes\": []}", "{\"mode\": \"round_robin\"}");
    assert_int_equal(run_plan(r, t, &n, &err), SY_ENOROUTE);
    assert_non_null(strstr(err.message, "no nodes"));
    sy_router_free(r);
}

static void test_topology_update_changes_plan(void **state) {
    (void)state;
    sy_router *r = must_router(kTopo, "{\"mode\": \"round_robin\", \"seed\": 0}");
    copied_target t[MAX_TARGETS];
    assert_int_equal(plan_ok(r, t), 3);
    uint64_t epoch = sy_router_epoch(r);
    static const char update[] =
        "{\"nodes\": ["
        "{\"id\": \"x\", \"host\": \"10.1.0.1\", \"port\": 9042},"
        "{\"id\": \"a\", \"host\": \"10.0.0.1\", \"port\": 9042, \"up\": false},"
        "{\"id\": \"y\", \"host\": \"10.1.0.2\", \"port\": 9043}]}";
    sy_error err = {.struct_size = sizeof err};
    assert_int_equal(sy_router_update_topology_json(r, update, sizeof update - 1, &err), SY_OK);
    assert_int_equal(sy_router_epoch(r), epoch + 1);
    for (int k = 0; k < 3; k++) {
        size_t n = plan_ok(r, t);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
            assert_true(strcmp(t[i].node, "x") == 0 || strcmp(t[i].node, "y") == 0);
            assert_int_equal(t[i].epoch, epoch + 1);
        }
        assert_string_not_equal(t[0].node, t[1].node);
        if (strcmp(t[0].node, "y") == 0) {
            assert_string_equal(t[0].host, "10.1.0.2");
            assert_int_equal(t[0].port, 9043);
            assert_int_equal(t[0].node_index, 2);
        }
    }
    sy_router_free(r);
}

/* ---------------------------------------------------------------- single_target */

static void test_single_target_by_id(void **state) {
    (void)state;
    /* a down node is still planned when named, flagged down */
    sy_router *r = must_router(kTopo, "{\"mode\": \"single_target\", \"target\": \"d\"}");
    copied_target t[MAX_TARGETS];
    assert_int_equal(plan_ok(r, t), 1);
    assert_string_equal(t[0].node, "d");
    assert_string_equal(t[0].host, "10.0.0.4");
    assert_int_equal(t[0].port, 9042);
    assert_int_equal(t[0].node_index, 3);
    assert_true(t[0].flags & SY_TARGET_DOWN);
    assert_string_equal(t[0].via[0], "default_policy");
    sy_router_free(r);

    r = must_router(kTopo, "{\"mode\": \"single_target\", \"target\": \"b\"}");
    for (int k = 0; k < 3; k++) {
        assert_int_equal(plan_ok(r, t), 1);
        assert_string_equal(t[0].node, "b");
        assert_int_equal(t[0].flags & SY_TARGET_DOWN, 0);
        assert_string_equal(t[0].datacenter, "dc1");
    }
    sy_router_free(r);
}

static void test_single_target_by_address(void **state) {
    (void)state;
    copied_target t[MAX_TARGETS];
    /* the address of a topology node: that node */
    sy_router *r = must_router(kTopo, "{\"mode\": \"single_target\", \"target\": \"10.0.0.3:9042\"}");
    assert_int_equal(plan_ok(r, t), 1);
    assert_string_equal(t[0].node, "c");
    assert_int_equal(t[0].node_index, 2);
    assert_string_equal(t[0].rack, "r1");
    sy_router_free(r);

    /* any other address: a synthetic target */
    r = must_router(kTopo, "{\"mode\": \"single_target\", \"target\": \"10.9.9.9:7000\"}");
    assert_int_equal(plan_ok(r, t), 1);
    assert_string_equal(t[0].node, "10.9.9.9:7000");
    assert_string_equal(t[0].host, "10.9.9.9");
    assert_int_equal(t[0].port, 7000);
    assert_int_equal(t[0].node_index, UINT32_MAX);
    assert_false(t[0].has_datacenter);
    assert_int_equal(t[0].via_count, 1);
    assert_string_equal(t[0].via[0], "default_policy");
    sy_router_free(r);

    r = must_router(kTopo, "{\"mode\": \"single_target\", \"target\": \"[0:0::1]:7001\"}");
    assert_int_equal(plan_ok(r, t), 1);
    assert_string_equal(t[0].node, "[0:0::1]:7001");
    assert_string_equal(t[0].host, "::1");
    assert_int_equal(t[0].port, 7001);
    sy_router_free(r);

    r = must_router(kTopo, "{\"mode\": \"single_target\", \"target\": \"db-1.example:7002\"}");
    assert_int_equal(plan_ok(r, t), 1);
    assert_string_equal(t[0].host, "db-1.example");
    assert_int_equal(t[0].port, 7002);
    sy_router_free(r);

    /* an IPv6 node's default id is [host]:port; its address matches too */
    r = must_router("{\"nodes\": [{\"host\": \"::1\", \"port\": 9042}, {\"id\": \"v6\", \"host\": \"fe80::2\","
                    " \"port\": 9042}]}",
                    "{\"mode\": \"single_target\", \"target\": \"[FE80:0::2]:9042\"}");
    assert_int_equal(plan_ok(r, t), 1);
    assert_string_equal(t[0].node, "v6");
    assert_int_equal(t[0].node_index, 1);
    sy_router_free(r);
    r = must_router("{\"nodes\": [{\"host\": \"::1\", \"port\": 9042}]}",
                    "{\"mode\": \"single_target\", \"target\": \"[::1]:9042\"}");
    assert_int_equal(plan_ok(r, t), 1);
    assert_string_equal(t[0].node, "[::1]:9042");
    assert_int_equal(t[0].node_index, 0);
    sy_router_free(r);
}

static void test_single_target_not_found(void **state) {
    (void)state;
    sy_router *r = must_router(kTopo, "{\"mode\": \"single_target\", \"target\": \"nope\"}");
    copied_target t[MAX_TARGETS];
    size_t n = 99;
    sy_error err;
    assert_int_equal(run_plan(r, t, &n, &err), SY_ENOROUTE);
    assert_int_equal(n, 0);
    assert_int_equal(err.code, SY_ENOROUTE);
    assert_non_null(strstr(err.message, "'nope'"));

    /* ... until a topology update brings it */
    static const char update[] = "{\"nodes\": [{\"id\": \"nope\", \"host\": \"10.2.0.1\", \"port\": 9042}]}";
    sy_error uerr = {.struct_size = sizeof uerr};
    assert_int_equal(sy_router_update_topology_json(r, update, sizeof update - 1, &uerr), SY_OK);
    assert_int_equal(plan_ok(r, t), 1);
    assert_string_equal(t[0].node, "nope");
    assert_string_equal(t[0].host, "10.2.0.1");
    sy_router_free(r);
}

/* ---------------------------------------------------------------- outcomes */

static void test_outcomes_counted_per_node(void **state) {
    (void)state;
    sy_router_options opts = {.struct_size = sizeof opts, .log = capture_log, .log_level = SY_LOG_DEBUG};
    sy_router *r = NULL;
    sy_error err;
    assert_int_equal(new_router_opts(kTopo, "{\"mode\": \"single_target\", \"target\": \"a\"}", &opts, &r, &err),
                     SY_OK);
    sy_request *req = NULL;
    assert_int_equal(sy_request_new(r, &req, &err), SY_OK);
    sy_plan_storage storage;
    sy_plan *plan = NULL;
    assert_int_equal(sy_plan_init(r, req, &storage, sizeof storage, &plan, &err), SY_OK);
    sy_target t = {.struct_size = sizeof t};
    assert_int_equal(sy_plan_next(plan, &t), 1);
    sy_outcome ok = {.struct_size = sizeof ok, .kind = SY_OUTCOME_SUCCESS, .latency_ns = 1000000};
    sy_outcome bad = {.struct_size = sizeof bad, .kind = SY_OUTCOME_TIMEOUT, .latency_ns = 2000000};
    g_log[0] = 0;
    assert_int_equal(sy_router_report(r, &t, &ok), SY_OK);
    assert_int_equal(sy_router_report(r, &t, &bad), SY_OK);
    assert_int_equal(sy_router_report(r, &t, &ok), SY_OK);
    assert_non_null(strstr(g_log, "outcome timeout at node 'a'"));
    assert_non_null(strstr(g_log, "1 successes, 1 failures"));
    assert_non_null(strstr(g_log, "2 successes, 1 failures"));
    /* a target some other plugin produced is not counted */
    sy_target foreign = t;
    foreign.via[0] = "someone_else";
    g_log[0] = 0;
    assert_int_equal(sy_router_report(r, &foreign, &ok), SY_OK);
    assert_null(strstr(g_log, "outcome"));
    sy_plan_release(plan);
    sy_request_free(req);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- threads */

/* Plans and outcome reports from several threads while the topology flips
 * between 3 and 40 up nodes (which also grows the outcome counters). Each
 * plan must list exactly the up nodes of the snapshot it started on. */
#define PLANNERS 4
#define PLANS_PER_THREAD 1500

typedef struct planner {
    sy_router *router;
    int failures;
    size_t reported;
} planner;

static void *plan_loop(void *arg) {
    planner *p = arg;
    sy_request *req = NULL;
    sy_error err = {.struct_size = sizeof err};
    if (sy_request_new(p->router, &req, &err) != SY_OK) {
        p->failures++;
        return NULL;
    }
    sy_outcome ok = {.struct_size = sizeof ok, .kind = SY_OUTCOME_SUCCESS, .latency_ns = 1};
    for (int k = 0; k < PLANS_PER_THREAD; k++) {
        sy_plan_storage storage;
        sy_plan *plan = NULL;
        if (sy_plan_init(p->router, req, &storage, sizeof storage, &plan, &err) != SY_OK) {
            p->failures++;
            continue;
        }
        sy_target t = {.struct_size = sizeof t};
        size_t n = 0;
        uint64_t epoch = 0;
        while (sy_plan_next(plan, &t) == 1) {
            if (n == 0) epoch = t.epoch;
            if (t.epoch != epoch || (t.flags & SY_TARGET_DOWN)) p->failures++;
            n++;
            if (sy_router_report(p->router, &t, &ok) == SY_OK) p->reported++;
            t = (sy_target){.struct_size = sizeof t};
        }
        if (n != 3 && n != 40) p->failures++;
        sy_plan_release(plan);
    }
    sy_request_free(req);
    return NULL;
}

static void build_topology(char *buf, size_t size, int nodes) {
    size_t len = (size_t)snprintf(buf, size, "{\"nodes\": [");
    for (int i = 0; i < nodes + 1; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s{\"id\": \"n%d\", \"host\": \"10.3.0.%d\", \"port\": 9042%s}",
                                i ? ", " : "", i, i + 1, i == nodes ? ", \"up\": false" : "");
    snprintf(buf + len, size - len, "]}");
}

static void test_concurrent_plans_and_updates(void **state) {
    (void)state;
    static char small[1024], large[8192];
    build_topology(small, sizeof small, 3);
    build_topology(large, sizeof large, 40);
    sy_router *r = must_router(small, "{\"mode\": \"round_robin\"}");
    planner planners[PLANNERS];
    pthread_t threads[PLANNERS];
    for (int i = 0; i < PLANNERS; i++) {
        planners[i] = (planner){.router = r};
        assert_int_equal(pthread_create(&threads[i], NULL, plan_loop, &planners[i]), 0);
    }
    for (int u = 0; u < 60; u++) {
        const char *topo = u % 2 ? small : large;
        sy_error err = {.struct_size = sizeof err};
        assert_int_equal(sy_router_update_topology_json(r, topo, strlen(topo), &err), SY_OK);
    }
    size_t reported = 0;
    for (int i = 0; i < PLANNERS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(planners[i].failures, 0);
        reported += planners[i].reported;
    }
    assert_true(reported >= (size_t)PLANNERS * PLANS_PER_THREAD * 3);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- config errors */

typedef struct config_case {
    const char *config;
    const char *path;
    const char *message; /* a substring of the message */
} config_case;

static const config_case kConfigCases[] = {
    {"{\"mode\": []}", "selector.config.mode",
     "expected one of \"default\", \"round_robin\", \"single_target\", got an array"},
    {"{\"mode\": \"fastest\"}", "selector.config.mode", "got \"fastest\""},
    {"{\"mode\": 1}", "selector.config.mode", "expected one of"},
    {"{\"mode\": \"round_robin\", \"mode\": \"default\"}", "selector.config.mode", "duplicate key"},
    {"{\"mode\": \"single_target\"}", "selector.config.target", "needs a \"target\""},
    {"{\"mode\": \"single_target\", \"target\": \"\"}", "selector.config.target", "node id or host:port"},
    {"{\"mode\": \"single_target\", \"target\": 7}", "selector.config.target", "got 7"},
    {"{\"mode\": \"single_target\", \"target\": \"[::1:9042\"}", "selector.config.target", "']'"},
    {"{\"mode\": \"single_target\", \"target\": \"10.0.0.1:70000\"}", "selector.config.target", "1..65535"},
    {"{\"mode\": \"single_target\", \"target\": \"::1:9042\"}", "selector.config.target", "brackets"},
    {"{\"mode\": \"single_target\", \"target\": \"a b\"}", "selector.config.target", "spaces"},
    {"{\"mode\": \"round_robin\", \"target\": \"a\"}", "selector.config.target", "only used with"},
    {"{\"preferred_datacenter\": 5}", "selector.config.preferred_datacenter", "expected a non-empty string"},
    {"{\"preferred_datacenter\": \"\"}", "selector.config.preferred_datacenter", "non-empty"},
    {"{\"preferred_rack\": \"r1\"}", "selector.config.preferred_rack", "preferred_datacenter"},
    {"{\"token_aware\": \"yes\"}", "selector.config.token_aware", "expected true or false, got \"yes\""},
    {"{\"permit_dc_failover\": 1}", "selector.config.permit_dc_failover", "expected true or false"},
    {"{\"enable_shuffling\": null}", "selector.config.enable_shuffling", "got null"},
    {"{\"seed\": 1.5}", "selector.config.seed", "expected an integer"},
    {"{\"seed\": \"7\"}", "selector.config.seed", "expected an integer"},
    {"{\"bogus\": 1}", "selector.config.bogus", "unknown key"},
    {"{\"latency_awareness\": 3}", "selector.config.latency_awareness", "expected an object"},
    {"{\"latency_awareness\": {\"exclusion_threshold\": 1}}", "selector.config.latency_awareness.exclusion_threshold",
     "expected a number > 1"},
    {"{\"latency_awareness\": {\"exclusion_threshold\": \"2\"}}",
     "selector.config.latency_awareness.exclusion_threshold", "expected a number > 1"},
    {"{\"latency_awareness\": {\"scale_ms\": 0}}", "selector.config.latency_awareness.scale_ms", "> 0"},
    {"{\"latency_awareness\": {\"retry_period_ms\": \"10s\"}}", "selector.config.latency_awareness.retry_period_ms",
     "a number of ms > 0"},
    {"{\"latency_awareness\": {\"retry_period_ms\": 0}}", "selector.config.latency_awareness.retry_period_ms", "> 0"},
    {"{\"latency_awareness\": {\"minimum_measurements\": 0}}",
     "selector.config.latency_awareness.minimum_measurements", "an integer >= 1"},
    {"{\"shard_ignore_msb\": 64}", "selector.config.shard_ignore_msb", "an integer 0..63"},
    {"{\"mode\": \"round_robin\", \"preferred_datacenter\": \"dc1\"}", "selector.config.preferred_datacenter",
     "only used with \"mode\": \"default\""},
    {"{\"mode\": \"single_target\", \"target\": \"a\", \"latency_awareness\": {}}",
     "selector.config.latency_awareness", "only used with"},
    {"{\"preferred_datacenter\": \"dc9\"}", "selector.config.preferred_datacenter",
     "no node of the topology is in datacenter 'dc9' (it has 'dc1', 'dc2')"},
    {"{\"latency_awareness\": {\"update_rate_ms\": -5}}", "selector.config.latency_awareness.update_rate_ms", "> 0"},
    {"{\"latency_awareness\": {\"minimum_measurements\": 2.5}}",
     "selector.config.latency_awareness.minimum_measurements", "an integer >= 1"},
    {"{\"latency_awareness\": {\"speed\": 1}}", "selector.config.latency_awareness.speed", "unknown key"},
};

static void test_config_errors(void **state) {
    (void)state;
    size_t n = sizeof kConfigCases / sizeof kConfigCases[0];
    for (size_t i = 0; i < n; i++) {
        const config_case *c = &kConfigCases[i];
        sy_router *r = NULL;
        sy_error err;
        int rc = new_router_opts(kTopo, c->config, NULL, &r, &err);
        if (rc != SY_ECONFIG || err.code != SY_ECONFIG || strcmp(err.path, c->path) != 0 ||
            !strstr(err.message, c->message))
            fail_msg("config %s: got %s path '%s' message '%s'; want SY_ECONFIG at '%s' with '%s'", c->config,
                     sy_status_name(rc), err.path, err.message, c->path, c->message);
        assert_null(r);
    }
}

static void test_good_configs(void **state) {
    (void)state;
    static const char *const good[] = {
        "{}",
        "{\"mode\": \"default\", \"preferred_datacenter\": \"dc1\", \"preferred_rack\": \"r1\","
        " \"token_aware\": false, \"permit_dc_failover\": true, \"enable_shuffling\": false, \"seed\": -42,"
        " \"latency_awareness\": {\"exclusion_threshold\": 2.5, \"scale_ms\": 100, \"retry_period_ms\": 5,"
        " \"update_rate_ms\": 50, \"minimum_measurements\": 1}, \"shard_ignore_msb\": 0}",
        "{\"latency_awareness\": {}}",
        "{\"mode\": \"single_target\", \"target\": \"some-host-id\"}",
        "{\"mode\": \"single_target\", \"target\": \"host:9042\"}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        sy_router *r = NULL;
        sy_error err;
        int rc = new_router_opts(kTopo, good[i], NULL, &r, &err);
        if (rc != SY_OK) fail_msg("config %s: %s at '%s': %s", good[i], sy_status_name(rc), err.path, err.message);
        sy_router_free(r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin_rotates_over_up_nodes),
        cmocka_unit_test(test_round_robin_target_fields),
        cmocka_unit_test(test_round_robin_no_up_node),
        cmocka_unit_test(test_topology_update_changes_plan),
        cmocka_unit_test(test_single_target_by_id),
        cmocka_unit_test(test_single_target_by_address),
        cmocka_unit_test(test_single_target_not_found),
        cmocka_unit_test(test_outcomes_counted_per_node),
        cmocka_unit_test(test_concurrent_plans_and_updates),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_good_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
