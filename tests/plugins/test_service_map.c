/* service_map through the public API: the registry and its updates,
 * filters, ordering (preferred datacenter, rotation, down last), errors
 * before the first topology and for unknown keys, the contact plan's order,
 * its rotation after the liveness window on a fake clock, learned members
 * once every seed is gone, demotion by outcomes, config and registry errors,
 * allocation-free lookups, and the demo config of examples/service_map. */
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

#include "support/counting_alloc.h"
#include "support/plugin_dir.h"

#define MS 1000000ull

/* ---------------------------------------------------------------- helpers */

static uint64_t g_now; /* the fake clock, in ns */
static uint64_t fake_clock(void *ud) {
    (void)ud;
    return g_now;
}

static sy_router_options clock_options(void) {
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.clock_ns = fake_clock;
    return o;
}

/* A router over `topology` (JSON object text, or NULL for none) with
 * service_map configured by `config`. */
static int make(const char *topology, const char *config, const sy_router_options *o, sy_router **out,
                sy_error *err) {
    static char buf[1 << 14];
    int n = snprintf(buf, sizeof buf, "{\"plugin_path\": [\"%s\"],%s%s%s \"selector\": {\"plugin\": \"service_map\", \"config\": %s}}",
                     plugin_dir(), topology ? " \"topology\": " : "", topology ? topology : "", topology ? "," : "",
                     config);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    *err = (sy_error){.struct_size = sizeof *err};
    *out = NULL;
    return sy_router_new(buf, (size_t)n, o, out, err);
}

static sy_router *must(const char *topology, const char *config, const sy_router_options *o) {
    sy_router *r;
    sy_error err;
    int rc = make(topology, config, o, &r, &err);
    if (rc != SY_OK) fail_msg("%s at '%s': %s", sy_status_name(rc), err.path, err.message);
    return r;
}

static void update(sy_router *r, const char *topology) {
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_update_topology_json(r, topology, strlen(topology), &err);
    if (rc != SY_OK) fail_msg("update: %s at '%s': %s", sy_status_name(rc), err.path, err.message);
}

static sy_error g_err;          /* the last plan's error */
static char g_via[8][128];      /* via_detail of the last plan's targets */
static uint32_t g_flags[8];     /* and their flags */
static uint32_t g_index[8];     /* and their node_index */

/* "a b c" (the targets' node) for a request's plan, or a negative status
 * with g_err filled. */
static int plan(sy_router *r, const char *request, char *out, size_t cap) {
    sy_request *q;
    g_err = (sy_error){.struct_size = sizeof g_err};
    assert_int_equal(sy_request_new(r, &q, &g_err), SY_OK);
    if (sy_request_parse_json(q, request, strlen(request), &g_err) != SY_OK) fail_msg("request: %s", g_err.message);
    sy_plan_storage st;
    sy_plan *p;
    int rc = sy_plan_init(r, q, &st, sizeof st, &p, &g_err);
    out[0] = 0;
    if (rc == SY_OK) {
        sy_target t = SY_STRUCT_INIT(sy_target);
        int k = 0;
        while (sy_plan_next(p, &t) == 1) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s%s", l ? " " : "", t.node);
            if (k < 8) {
                snprintf(g_via[k], sizeof g_via[k], "%s", t.via_detail[0] ? t.via_detail[0] : "");
                g_flags[k] = t.flags;
                g_index[k] = t.node_index;
            }
            k++;
            assert_int_equal(t.via_count, 1);
            assert_string_equal(t.via[0], "service_map");
        }
        sy_plan_release(p);
    }
    sy_request_free(q);
    return rc;
}

static void expect_plan(sy_router *r, const char *request, const char *want) {
    char got[1024];
    int rc = plan(r, request, got, sizeof got);
    if (rc != SY_OK) fail_msg("%s: %s at '%s': %s", request, sy_status_name(rc), g_err.path, g_err.message);
    if (strcmp(got, want) != 0) fail_msg("%s: got \"%s\", want \"%s\"", request, got, want);
}

static void expect_error(sy_router *r, const char *request, int code, const char *path, const char *message) {
    char got[1024];
    int rc = plan(r, request, got, sizeof got);
    if (rc != code || strcmp(g_err.path, path) != 0 || !strstr(g_err.message, message))
        fail_msg("%s: %s at '%s': %s (want %s at '%s': ...%s...)", request, sy_status_name(rc), g_err.path,
                 g_err.message, sy_status_name(code), path, message);
}

static void report(sy_router *r, const char *host, uint32_t port, const char *node, uint32_t kind) {
    sy_target t = SY_STRUCT_INIT(sy_target);
    t.host = host;
    t.port = port;
    t.node = node;
    t.node_index = UINT32_MAX;
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    o.kind = kind;
    assert_int_equal(sy_router_report(r, &t, &o), SY_OK);
}

static const char kNodes[] =
    "\"nodes\": ["
    "{\"id\": \"a\", \"host\": \"10.0.1.1\", \"port\": 25520, \"datacenter\": \"dc1\"},"
    "{\"id\": \"b\", \"host\": \"10.0.1.2\", \"port\": 25520, \"datacenter\": \"dc1\"},"
    "{\"id\": \"c\", \"host\": \"10.0.2.1\", \"port\": 25520, \"datacenter\": \"dc2\"},"
    "{\"id\": \"d\", \"host\": \"10.0.1.3\", \"port\": 25520, \"datacenter\": \"dc1\", \"up\": false}]";

/* ---------------------------------------------------------------- registry */

/* A plan lists the service's instances; an update publishes a new registry,
 * and a plan started before it keeps the old one. */
static void test_registry_updates(void **state) {
    (void)state;
    char topo[2048];
    snprintf(topo, sizeof topo, "{%s, \"services\": [{\"key\": \"payment\", \"instances\": [{\"node\": \"a\"}, {\"node\": \"b\"}]},"
             " {\"key\": \"ledger\", \"instances\": [{\"host\": \"ledger.internal\", \"port\": 7000}]}]}", kNodes);
    sy_router *r = must(topo, "{\"seed\": 0}", NULL);
    expect_plan(r, "{\"service\": \"payment\"}", "a b");
    assert_int_equal(g_index[0], 0); /* the node's own address: its index */
    assert_string_equal(g_via[0], "{\"service\":\"payment\"}");
    expect_plan(r, "{\"service\": \"ledger\"}", "ledger.internal:7000");
    assert_int_equal(g_index[0], UINT32_MAX);

    /* a plan in flight over the first snapshot */
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_request *q;
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    assert_int_equal(sy_request_parse_json(q, "{\"service\": \"payment\"}", strlen("{\"service\": \"payment\"}"), &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);

    snprintf(topo, sizeof topo, "{%s, \"services\": [{\"key\": \"payment\", \"instances\": [{\"node\": \"c\", \"port\": 8080},"
             " {\"host\": \"10.9.9.9\", \"port\": 8080, \"attributes\": {\"zone\": \"x\"}}]}]}", kNodes);
    update(r, topo);
    sy_target t = SY_STRUCT_INIT(sy_target);
    int n = 0;
    while (sy_plan_next(p, &t) == 1) {
        assert_true(strcmp(t.node, "a") == 0 || strcmp(t.node, "b") == 0);
        n++;
    }
    assert_int_equal(n, 2);
    sy_plan_release(p);
    sy_request_free(q);

    /* the new registry: dc2 instance at its own port (the node's datacenter,
     * no node index), and one without a node */
    char got[256];
    assert_int_equal(plan(r, "{\"service\": \"payment\"}", got, sizeof got), SY_OK);
    assert_true(strcmp(got, "c 10.9.9.9:8080") == 0 || strcmp(got, "10.9.9.9:8080 c") == 0);
    expect_error(r, "{\"service\": \"ledger\"}", SY_EUNKNOWN, "service", "no service 'ledger'");
    sy_router_free(r);
}

/* ---------------------------------------------------------------- ordering */

static void test_ordering(void **state) {
    (void)state;
    char topo[2048];
    snprintf(topo, sizeof topo, "{%s, \"services\": [{\"key\": \"s\", \"instances\": ["
             "{\"node\": \"d\"}, {\"node\": \"c\"}, {\"node\": \"a\"}, {\"node\": \"b\"}]}]}", kNodes);
    /* up in dc1 (a b, rotated), then dc2 (c), then down (d) */
    sy_router *r = must(topo, "{\"preferred_datacenter\": \"dc1\", \"seed\": 0}", NULL);
    expect_plan(r, "{\"service\": \"s\"}", "a b c d");
    assert_true(g_flags[3] & SY_TARGET_DOWN);
    assert_false(g_flags[0] & SY_TARGET_DOWN);
    expect_plan(r, "{\"service\": \"s\"}", "b a c d");
    expect_plan(r, "{\"service\": \"s\"}", "a b c d");
    sy_router_free(r);

    /* no preferred datacenter: every up instance in one rotation, in topology order */
    r = must(topo, "{\"seed\": 1}", NULL);
    expect_plan(r, "{\"service\": \"s\"}", "a b c d");
    expect_plan(r, "{\"service\": \"s\"}", "b c a d");
    expect_plan(r, "{\"service\": \"s\"}", "c a b d");
    sy_router_free(r);

    /* the rotation goes on after later topologies (Casty's stops) */
    r = must(topo, "{\"preferred_datacenter\": \"dc2\", \"seed\": 0}", NULL);
    expect_plan(r, "{\"service\": \"s\"}", "c a b d");
    update(r, topo);
    expect_plan(r, "{\"service\": \"s\"}", "c b a d");
    sy_router_free(r);

    /* without a seed the start is random, the order of tiers is not */
    r = must(topo, "{\"preferred_datacenter\": \"dc1\"}", NULL);
    char got[256];
    assert_int_equal(plan(r, "{\"service\": \"s\"}", got, sizeof got), SY_OK);
    assert_true(strcmp(got, "a b c d") == 0 || strcmp(got, "b a c d") == 0);
    sy_router_free(r);
}

static void test_filters(void **state) {
    (void)state;
    char topo[2048];
    snprintf(topo, sizeof topo, "{%s, \"services\": [{\"key\": \"s\", \"instances\": ["
             "{\"node\": \"a\", \"attributes\": {\"zone\": \"a\", \"v\": 2, \"tls\": true}},"
             "{\"node\": \"b\", \"attributes\": {\"zone\": \"b\", \"v\": 2, \"tls\": false}},"
             "{\"node\": \"c\", \"attributes\": {\"zone\": \"a\", \"v\": 1}},"
             "{\"node\": \"d\", \"attributes\": {\"zone\": \"a\", \"v\": 2}}]}]}", kNodes);
    sy_router *r = must(topo, "{\"seed\": 0}", NULL);
    expect_plan(r, "{\"service\": \"s\", \"service_filter\": {\"zone\": \"a\"}}", "a c d");
    expect_plan(r, "{\"service\": \"s\", \"service_filter\": {\"zone\": \"a\", \"v\": 2}}", "a d");
    expect_plan(r, "{\"service\": \"s\", \"service_filter\": {\"tls\": false}}", "b");
    expect_plan(r, "{\"service\": \"s\", \"service_filter\": {}}", "a b c d"); /* the 4th plan: 3 % 3 */
    /* a number is not its text; an attribute an instance lacks never matches */
    expect_error(r, "{\"service\": \"s\", \"service_filter\": {\"v\": \"2\"}}", SY_ENOROUTE, "service_filter",
                 "none of the 4 instances of 's' matches");
    expect_error(r, "{\"service\": \"s\", \"service_filter\": {\"zone\": \"a\", \"rack\": \"r9\"}}", SY_ENOROUTE,
                 "service_filter", "matches");
    expect_error(r, "{\"service\": \"s\", \"service_filter\": {\"zone\": [\"a\"]}}", SY_EREQUEST,
                 "service_filter.zone", "expected a string, a number or a boolean");
    expect_error(r, "{\"service\": \"s\", \"service_filter\": \"zone=a\"}", SY_EREQUEST, "service_filter",
                 "expected an object");
    expect_error(r, "{\"service_filter\": {\"zone\": \"a\"}}", SY_EREQUEST, "service_filter", "needs a \"service\"");
    expect_error(r, "{\"service\": \"s\", \"service_filter\": {\"a\": 1, \"b\": 1, \"c\": 1, \"d\": 1, \"e\": 1,"
                 " \"f\": 1, \"g\": 1, \"h\": 1, \"i\": 1}}", SY_EREQUEST, "service_filter.i", "at most 8");
    sy_router_free(r);
}

/* ---------------------------------------------------------------- errors */

static void test_errors_before_topology_and_unknown_keys(void **state) {
    (void)state;
    /* no topology yet: an error that says so, never an empty plan */
    sy_router *r = must(NULL, "{\"contact_points\": [\"seed-1:25520\"]}", NULL);
    expect_error(r, "{\"service\": \"payment\"}", SY_ENOROUTE, "service", "no topology has arrived yet");
    expect_plan(r, "{\"contact\": true}", "seed-1:25520"); /* the seeds still are */
    update(r, "{\"nodes\": [], \"services\": [{\"key\": \"empty\"}]}");
    expect_error(r, "{\"service\": \"payment\"}", SY_EUNKNOWN, "service", "no service 'payment' in the topology (it has 1)");
    expect_error(r, "{\"service\": \"empty\"}", SY_ENOROUTE, "service", "service 'empty' has no instances");
    /* a topology without a registry knows no service */
    update(r, "{\"nodes\": [{\"host\": \"h\", \"port\": 1}]}");
    expect_error(r, "{\"service\": \"payment\"}", SY_EUNKNOWN, "service", "(it has 0)");
    /* requests service_map cannot plan */
    expect_error(r, "{\"service\": \"\"}", SY_EREQUEST, "service", "non-empty");
    expect_error(r, "{\"service\": 7}", SY_EREQUEST, "service", "non-empty");
    expect_error(r, "{\"service\": \"s\", \"contact\": true}", SY_EREQUEST, "contact", "not both");
    expect_error(r, "{\"contact\": \"yes\"}", SY_EREQUEST, "contact", "true or false");
    expect_error(r, "{\"contact\": false}", SY_EREQUEST, "", "the request has neither");
    expect_error(r, "{\"key\": \"k\"}", SY_EREQUEST, "", "the request has neither");
    /* a request built with setters has no JSON to read */
    sy_request *q;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    assert_int_equal(sy_request_set_key(q, "k", 1), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_EREQUEST);
    assert_non_null(strstr(err.message, "reads the request's JSON"));
    sy_request_free(q);
    sy_router_free(r);

    /* no contact endpoint at all */
    r = must(NULL, "{}", NULL);
    expect_error(r, "{\"contact\": true}", SY_ENOROUTE, "contact", "no contact endpoint");
    sy_router_free(r);
}

static void test_config_and_registry_errors(void **state) {
    (void)state;
    static const struct {
        const char *topology, *config;
        int code;
        const char *path, *message;
    } cases[] = {
        {NULL, "[]", SY_ECONFIG, "selector.config", "expected an object"},
        {NULL, "{\"contact_points\": \"a:1\"}", SY_ECONFIG, "selector.config.contact_points", "expected an array"},
        {NULL, "{\"contact_points\": [\"a:1\", \"b\"]}", SY_ECONFIG, "selector.config.contact_points[1]", "missing port"},
        {NULL, "{\"contact_points\": [\"a:1\", 2]}", SY_ECONFIG, "selector.config.contact_points[1]", "host:port"},
        {NULL, "{\"contact_points\": [\"A:1\", \"a:1\"]}", SY_ECONFIG, "selector.config.contact_points[1]",
         "is contact_points[0] again"},
        {NULL, "{\"contact_points\": [\"::1:9042\"]}", SY_ECONFIG, "selector.config.contact_points[0]", "brackets"},
        {NULL, "{\"liveness_ms\": 0}", SY_ECONFIG, "selector.config.liveness_ms", "1..86400000"},
        {NULL, "{\"liveness_ms\": 1.5}", SY_ECONFIG, "selector.config.liveness_ms", "integer"},
        {NULL, "{\"preferred_datacenter\": \"\"}", SY_ECONFIG, "selector.config.preferred_datacenter", "datacenter"},
        {NULL, "{\"seed\": \"7\"}", SY_ECONFIG, "selector.config.seed", "integer"},
        {NULL, "{\"liveness\": 5}", SY_ECONFIG, "selector.config.liveness", "unknown key"},
        /* the registry, checked by the core (topology paths) */
        {"{\"services\": [{\"key\": \"s\"}, {\"key\": \"s\"}]}", "{}", SY_ECONFIG, "topology.services[1].key",
         "duplicate service key 's' (also services[0])"},
        {"{\"services\": [{\"key\": \"\"}]}", "{}", SY_ECONFIG, "topology.services[0].key", "non-empty key"},
        {"{\"services\": [{\"key\": \"s\", \"port\": 1}]}", "{}", SY_ECONFIG, "topology.services[0].port", "unknown key"},
        {"{\"services\": [{\"key\": \"s\", \"instances\": {}}]}", "{}", SY_ECONFIG, "topology.services[0].instances",
         "expected an array"},
        {"{\"services\": [{\"key\": \"s\", \"instances\": [{\"node\": \"zz\"}]}]}", "{}", SY_ECONFIG,
         "topology.services[0].instances[0].node", "'zz' is not a node"},
        {"{\"services\": [{\"key\": \"s\", \"instances\": [{\"host\": \"h\"}]}]}", "{}", SY_ECONFIG,
         "topology.services[0].instances[0]", "a \"node\", or a \"host\" and a \"port\""},
        {"{\"services\": [{\"key\": \"s\", \"instances\": [{\"host\": \"h\", \"port\": 70000}]}]}", "{}", SY_ECONFIG,
         "topology.services[0].instances[0].port", ""},
        {"{\"services\": [{\"key\": \"s\", \"instances\": [{\"host\": \"h\", \"port\": 1, \"attributes\": {\"z\": {}}}]}]}",
         "{}", SY_ECONFIG, "topology.services[0].instances[0].attributes.z", "a string, a number or a boolean"},
        {"{\"source\": \"10.0.0.1\"}", "{}", SY_ECONFIG, "topology.source", "host:port"},
        {"{\"source\": \"::1:80\"}", "{}", SY_ECONFIG, "topology.source", "host:port"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sy_router *r;
        sy_error err;
        int rc = make(cases[i].topology, cases[i].config, NULL, &r, &err);
        if (rc != cases[i].code || strcmp(err.path, cases[i].path) || !strstr(err.message, cases[i].message))
            fail_msg("case %zu: %s at '%s': %s", i, sy_status_name(rc), err.path, err.message);
        assert_null(r);
    }
    /* updates name the path from the topology's root */
    sy_router *r = must(NULL, "{}", NULL);
    sy_error err = SY_STRUCT_INIT(sy_error);
    const char *bad = "{\"services\": [{\"key\": \"s\", \"instances\": [{\"port\": 1}]}]}";
    assert_int_equal(sy_router_update_topology_json(r, bad, strlen(bad), &err), SY_ETOPOLOGY);
    assert_string_equal(err.path, "services[0].instances[0]");
    assert_int_equal(sy_router_epoch(r), 1);
    const char *good = "{\"source\": \"[::1]:25520\", \"services\": []}";
    assert_int_equal(sy_router_update_topology_json(r, good, strlen(good), &err), SY_OK);
    expect_plan(r, "{\"contact\": true}", "[::1]:25520");
    sy_router_free(r);
}

/* ---------------------------------------------------------------- contacts */

static const char kSeeds[] = "{\"contact_points\": [\"seed-1:25520\", \"seed-2:25520\"], \"seed\": 0}";

/* The source first, then the configured points, then learned members (up
 * ones first, down ones last and flagged). */
static void test_contact_ordering(void **state) {
    (void)state;
    char topo[2048];
    snprintf(topo, sizeof topo, "{\"source\": \"10.0.0.9:25520\", %s}", kNodes);
    sy_router *r = must(topo, kSeeds, NULL);
    expect_plan(r, "{\"contact\": true}", "10.0.0.9:25520 seed-1:25520 seed-2:25520 a b c d");
    assert_string_equal(g_via[0], "{\"contact\":\"source\"}");
    assert_string_equal(g_via[1], "{\"contact\":\"configured\"}");
    assert_string_equal(g_via[3], "{\"contact\":\"learned\"}");
    assert_true(g_flags[6] & SY_TARGET_DOWN);
    assert_int_equal(g_index[3], 0);
    assert_int_equal(g_index[0], UINT32_MAX);

    /* a source that is a member is named after it, and planned once */
    snprintf(topo, sizeof topo, "{\"source\": \"10.0.2.1:25520\", %s}", kNodes);
    update(r, topo);
    expect_plan(r, "{\"contact\": true}", "c seed-1:25520 seed-2:25520 a b d");
    /* a seed that is a member stays a configured point, and comes once */
    sy_router_free(r);
    snprintf(topo, sizeof topo, "{%s}", kNodes);
    r = must(topo, "{\"contact_points\": [\"10.0.1.2:25520\"]}", NULL);
    expect_plan(r, "{\"contact\": true}", "10.0.1.2:25520 a c d");
    /* a topology without a source keeps the last one known */
    update(r, "{\"source\": \"10.0.0.7:1\", \"nodes\": []}");
    update(r, "{\"nodes\": []}");
    expect_plan(r, "{\"contact\": true}", "10.0.0.7:1 10.0.1.2:25520 a c d");
    sy_router_free(r);
}

/* Once the topology is older than the liveness window, the contact plan
 * moves past the endpoint that went silent, one further per window; a new
 * topology puts its source first again. */
static void test_rotation_after_liveness_window(void **state) {
    (void)state;
    sy_router_options o = clock_options();
    g_now = 0; /* a fake clock may start at 0 */
    sy_router *r = must(NULL, "{\"contact_points\": [\"seed-1:25520\", \"seed-2:25520\"], \"liveness_ms\": 10000}", &o);
    uint64_t age = 1;
    assert_int_equal(sy_router_topology_age(r, &age), SY_OK);
    assert_int_equal(age, 0);
    assert_int_equal(sy_router_topology_age(r, NULL), SY_EINVAL);
    assert_int_equal(sy_router_topology_age(NULL, &age), SY_EINVAL);

    /* no topology yet: Casty's failover, every window to the next seed */
    expect_plan(r, "{\"contact\": true}", "seed-1:25520 seed-2:25520");
    g_now = 10001 * MS;
    expect_plan(r, "{\"contact\": true}", "seed-2:25520 seed-1:25520");
    assert_string_equal(g_via[0], "{\"contact\":\"configured\",\"stale\":true}");

    /* seed-2 delivers at t = 12 s */
    g_now = 12000 * MS;
    char topo[2048];
    snprintf(topo, sizeof topo, "{\"source\": \"seed-2:25520\", %s}", kNodes);
    update(r, topo);
    assert_int_equal(sy_router_topology_age(r, &age), SY_OK);
    assert_int_equal(age, 0);
    expect_plan(r, "{\"contact\": true}", "seed-2:25520 seed-1:25520 a b c d");
    assert_string_equal(g_via[0], "{\"contact\":\"source\"}");
    /* within the window, and at its very end: the source first */
    g_now = 22000 * MS;
    assert_int_equal(sy_router_topology_age(r, &age), SY_OK);
    assert_int_equal(age, 10000 * MS);
    expect_plan(r, "{\"contact\": true}", "seed-2:25520 seed-1:25520 a b c d");
    /* silent for longer: past the source (after the first snapshot too) */
    g_now = 22000 * MS + 1;
    expect_plan(r, "{\"contact\": true}", "seed-1:25520 a b c seed-2:25520 d");
    assert_string_equal(g_via[0], "{\"contact\":\"configured\",\"stale\":true}");
    g_now = 32000 * MS + 1;
    expect_plan(r, "{\"contact\": true}", "a b c seed-2:25520 seed-1:25520 d");
    /* service lookups keep serving the stale topology; the age says so */
    assert_int_equal(sy_router_topology_age(r, &age), SY_OK);
    assert_true(age > 20000 * MS);
    /* a new topology from seed-1 */
    snprintf(topo, sizeof topo, "{\"source\": \"seed-1:25520\", %s}", kNodes);
    update(r, topo);
    expect_plan(r, "{\"contact\": true}", "seed-1:25520 seed-2:25520 a b c d");
    sy_router_free(r);
}

/* Every seed fails: the members learned from topologies take over, also
 * once a later topology no longer lists them. */
static void test_learned_members_after_seeds_are_gone(void **state) {
    (void)state;
    sy_router_options o = clock_options();
    g_now = 1000 * MS;
    char topo[2048];
    snprintf(topo, sizeof topo, "{\"source\": \"seed-1:25520\", %s}", kNodes);
    sy_router *r = must(topo, kSeeds, &o);
    report(r, "seed-1", 25520, "seed-1:25520", SY_OUTCOME_REFUSED);
    report(r, "seed-2", 25520, "seed-2:25520", SY_OUTCOME_TIMEOUT);
    expect_plan(r, "{\"contact\": true}", "a b c seed-1:25520 seed-2:25520 d");
    /* the cluster moves: a new topology lists other members only */
    update(r, "{\"nodes\": [{\"id\": \"e\", \"host\": \"10.0.3.1\", \"port\": 25520}]}");
    expect_plan(r, "{\"contact\": true}", "e a b c seed-1:25520 seed-2:25520 d");
    /* and then none at all: earlier members are still remembered */
    update(r, "{\"nodes\": []}");
    expect_plan(r, "{\"contact\": true}", "e a b c seed-1:25520 seed-2:25520 d");
    /* a demotion lasts a liveness window; the topology is as old, so the
     * plan has also moved past the source */
    g_now += 10001 * MS;
    expect_plan(r, "{\"contact\": true}", "seed-2:25520 e a b c seed-1:25520 d");
    assert_string_equal(g_via[0], "{\"contact\":\"configured\",\"stale\":true}");
    sy_router_free(r);

    /* learned members are bounded: the newest first */
    static char big[1 << 16];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"nodes\": [");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s{\"host\": \"10.1.%d.%d\", \"port\": 1}", i ? "," : "",
                              i / 250, i % 250);
    snprintf(big + n, sizeof big - n, "]}");
    r = must(big, "{}", NULL);
    char *got = malloc(1 << 16);
    assert_int_equal(plan(r, "{\"contact\": true}", got, 1 << 16), SY_OK);
    size_t words = 1;
    for (char *c = got; *c; c++) words += *c == ' ';
    assert_int_equal(words, 256);
    free(got);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- outcomes */

static void test_outcomes_demote(void **state) {
    (void)state;
    sy_router_options o = clock_options();
    g_now = 5000 * MS;
    char topo[2048];
    snprintf(topo, sizeof topo, "{%s, \"services\": [{\"key\": \"s\", \"instances\": ["
             "{\"node\": \"a\"}, {\"node\": \"b\"}, {\"node\": \"c\"}, {\"node\": \"d\"}]}]}", kNodes);
    sy_router *r = must(topo, "{\"preferred_datacenter\": \"dc1\", \"seed\": 0, \"contact_points\": [\"10.0.2.1:25520\"]}", &o);
    /* a failed instance goes after the healthy ones, before the down one */
    report(r, "10.0.1.1", 25520, "a", SY_OUTCOME_REFUSED);
    expect_plan(r, "{\"service\": \"s\"}", "b c a d");
    /* an answer that says nothing about reaching it changes nothing */
    report(r, "10.0.1.1", 25520, "a", SY_OUTCOME_OTHER_ERROR);
    expect_plan(r, "{\"service\": \"s\"}", "b c a d");
    /* a success ends it */
    report(r, "10.0.1.1", 25520, "a", SY_OUTCOME_SUCCESS);
    expect_plan(r, "{\"service\": \"s\"}", "a b c d");
    /* a failure against a contact endpoint demotes the instance at that address */
    report(r, "10.0.2.1", 25520, "10.0.2.1:25520", SY_OUTCOME_TIMEOUT);
    expect_plan(r, "{\"service\": \"s\"}", "b a c d"); /* c demoted: after the healthy, before d */
    expect_plan(r, "{\"contact\": true}", "a b 10.0.2.1:25520 d");
    /* a new topology keeps what is known about an address */
    update(r, topo);
    expect_plan(r, "{\"contact\": true}", "a b 10.0.2.1:25520 d");
    /* found by a node written as host:port when a translator moved the address */
    report(r, "127.0.0.1", 19042, "10.0.2.1:25520", SY_OUTCOME_SUCCESS);
    expect_plan(r, "{\"contact\": true}", "10.0.2.1:25520 a b d");
    /* demotion expires after the liveness window */
    report(r, "10.0.1.2", 25520, "b", SY_OUTCOME_RESET);
    expect_plan(r, "{\"service\": \"s\"}", "a c b d");
    g_now += 10001 * MS;
    expect_plan(r, "{\"service\": \"s\"}", "b a c d");
    sy_router_free(r);
}

/* ---------------------------------------------------------------- speed */

static void test_lookups_allocate_nothing(void **state) {
    (void)state;
    sy_allocator al;
    sy_router_options o = counting_options(&al);
    char topo[2048];
    snprintf(topo, sizeof topo, "{\"source\": \"10.0.0.9:1\", %s, \"services\": [{\"key\": \"s\", \"instances\": ["
             "{\"node\": \"a\", \"attributes\": {\"zone\": \"a\"}}, {\"node\": \"b\"}, {\"node\": \"d\"}]}]}", kNodes);
    sy_router *r;
    sy_error err;
    assert_int_equal(make(topo, kSeeds, &o, &r, &err), SY_OK);
    report(r, "10.0.1.2", 25520, "b", SY_OUTCOME_REFUSED); /* the demotion path too */
    static const char *const requests[] = {"{\"service\": \"s\"}", "{\"service\": \"s\", \"service_filter\": {\"zone\": \"a\"}}",
                                           "{\"contact\": true}"};
    for (size_t k = 0; k < sizeof requests / sizeof requests[0]; k++) {
        sy_request *q;
        assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
        assert_int_equal(sy_request_parse_json(q, requests[k], strlen(requests[k]), &err), SY_OK);
        for (int i = 0; i < 3; i++) {
            size_t before = counting_allocations();
            sy_plan_storage st;
            sy_plan *p;
            assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
            sy_target t = SY_STRUCT_INIT(sy_target);
            int n = 0;
            while (sy_plan_next(p, &t) == 1) n++;
            assert_true(n >= 1);
            sy_plan_release(p);
            assert_int_equal(counting_allocations(), before);
        }
        sy_request_free(q);
    }
    sy_router_free(r);
}

/* ---------------------------------------------------------------- the demo */

static char *slurp(const char *rel) {
    const char *root = getenv("SY_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root ? root : ".", rel);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    static char buf[8][1 << 13];
    static int next;
    char *b = buf[next++ % 8];
    size_t n = fread(b, 1, sizeof buf[0] - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

/* examples/service_map: what syctl plan prints for its two requests. */
static void test_demo_config(void **state) {
    (void)state;
    const char *root = getenv("SY_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/service_map/demo.json", root ? root : ".");
    const char *dirs[] = {plugin_dir()};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.plugin_path = dirs;
    o.plugin_path_count = 1;
    sy_router *r;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_new_from_file(path, &o, &r, &err) != SY_OK) fail_msg("%s: %s", err.path, err.message);
    expect_plan(r, slurp("examples/service_map/payment.json"), "node-a node-b node-c node-d");
    assert_true(g_flags[3] & SY_TARGET_DOWN);
    expect_plan(r, slurp("examples/service_map/contact.json"),
                "node-b seed-1.example.com:25520 seed-2.example.com:25520 node-a node-c node-d");
    expect_plan(r, "{\"service\": \"payment\", \"service_filter\": {\"zone\": \"a\"}}", "node-a node-d");
    expect_plan(r, "{\"service\": \"ledger\"}", "ledger.internal:7000");
    sy_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_updates),
        cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_errors_before_topology_and_unknown_keys),
        cmocka_unit_test(test_config_and_registry_errors),
        cmocka_unit_test(test_contact_ordering),
        cmocka_unit_test(test_rotation_after_liveness_window),
        cmocka_unit_test(test_learned_members_after_seeds_are_gone),
        cmocka_unit_test(test_outcomes_demote),
        cmocka_unit_test(test_lookups_allocate_nothing),
        cmocka_unit_test(test_demo_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
