/* sy_router_reload: the chain swaps atomically; plans already started end on
 * the old one; a bad config changes nothing and reports every error; an
 * unchanged plugin keeps its instance and state; an old chain's plugins go
 * when its last plan ends; {"from_env": ...} strings. The last test reloads
 * while threads plan (CI runs it under TSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/static_routes.h>
#include <switchyard/switchyard.h>

/* ---------------------------------------------------------------- counting allocator */

/* fx_good's instance holds a host allocation of exactly this size: its
 * count tells whether an fx_good instance is alive. */
#define FX_GOOD_BLOB_SIZE 77

static atomic_long g_live_bytes, g_live_blobs, g_bad_frees;

static void *count_alloc(size_t size, size_t align, void *ud) {
    (void)ud;
    (void)align;
    size_t *h = malloc(16 + size);
    if (!h) return NULL;
    *h = size;
    atomic_fetch_add(&g_live_bytes, (long)size);
    if (size == FX_GOOD_BLOB_SIZE) atomic_fetch_add(&g_live_blobs, 1);
    return (char *)h + 16;
}

static void count_free(void *p, size_t size, void *ud) {
    (void)ud;
    if (!p) return;
    size_t *h = (size_t *)((char *)p - 16);
    if (*h != size) atomic_fetch_add(&g_bad_frees, 1);
    atomic_fetch_sub(&g_live_bytes, (long)size);
    if (size == FX_GOOD_BLOB_SIZE) atomic_fetch_sub(&g_live_blobs, 1);
    free(h);
}

static const sy_allocator g_alloc = {.struct_size = sizeof(sy_allocator),
                                     .alloc = count_alloc,
                                     .free = count_free};

/* ---------------------------------------------------------------- configs */

static const char *plugin_dirs[2];

#define TOPO3                                                                                   \
    "\"topology\": {\"nodes\": ["                                                               \
    "{\"id\": \"n0\", \"host\": \"10.1.0.1\", \"port\": 9042},"                                 \
    "{\"id\": \"n1\", \"host\": \"10.1.0.2\", \"port\": 9042},"                                 \
    "{\"id\": \"n2\", \"host\": \"10.1.0.3\", \"port\": 9042}]}"

/* A: fx_good, one fixed target "fx-node". */
static const char kFx[] = "{" TOPO3 ", \"selector\": {\"plugin\": \"fx_good\"}}";
/* B: round robin over n0..n2. */
static const char kRr[] = "{" TOPO3 ", \"selector\": {\"plugin\": \"default_policy\", "
                          "\"config\": {\"mode\": \"round_robin\", \"seed\": 1}}}";

static sy_router *open_router(const char *json, bool counting) {
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.plugin_path = plugin_dirs;
    o.plugin_path_count = 2;
    if (counting) o.allocator = &g_alloc;
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_new(json, strlen(json), &o, &r, &err);
    if (rc != SY_OK) fail_msg("sy_router_new: %s at %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

static void must_reload(sy_router *r, const char *json) {
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_reload(r, json, strlen(json), NULL, NULL, &err);
    if (rc != SY_OK) fail_msg("sy_router_reload: %s at %s: %s", sy_status_name(rc), err.path, err.message);
}

/* The plan for req (NULL: an empty request) as "node,node,...". */
static int plan_str(sy_router *r, const char *node, char *out, size_t cap) {
    sy_request *req = NULL;
    assert_int_equal(sy_request_new(r, &req, NULL), SY_OK);
    if (node) assert_int_equal(sy_request_set_node(req, node), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_plan_init(r, req, &st, sizeof st, &p, &err);
    if (rc != SY_OK) fail_msg("sy_plan_init: %s: %s", sy_status_name(rc), err.message);
    sy_target t = SY_STRUCT_INIT(sy_target);
    size_t n = 0;
    out[0] = 0;
    int count = 0;
    while ((rc = sy_plan_next(p, &t)) == 1) {
        n += (size_t)snprintf(out + n, cap - n, "%s%s", count ? "," : "", t.node ? t.node : "?");
        count++;
    }
    sy_plan_release(p);
    sy_request_free(req);
    assert_int_equal(rc, 0);
    return count;
}

/* ---------------------------------------------------------------- the swap */

static void test_reload_swaps_the_chain(void **state) {
    (void)state;
    sy_router *r = open_router(kFx, false);
    char buf[256];
    assert_int_equal(plan_str(r, NULL, buf, sizeof buf), 1);
    assert_string_equal(buf, "fx-node");
    uint64_t e0 = sy_router_epoch(r);
    must_reload(r, kRr);
    assert_true(sy_router_epoch(r) > e0);
    assert_int_equal(plan_str(r, NULL, buf, sizeof buf), 3);
    assert_non_null(strstr(buf, "n0"));
    must_reload(r, kFx);
    assert_int_equal(plan_str(r, NULL, buf, sizeof buf), 1);
    assert_string_equal(buf, "fx-node");
    sy_router_free(r);
}

/* A plan begun before the reload yields the old chain's targets to its end;
 * the old plugin lives until then, and goes when the plan is released. */
static void test_started_plan_ends_on_old_chain(void **state) {
    (void)state;
    atomic_store(&g_live_bytes, 0);
    atomic_store(&g_live_blobs, 0);
    sy_router *r = open_router(kFx, true);
    assert_int_equal(atomic_load(&g_live_blobs), 1);
    sy_request *req = NULL;
    assert_int_equal(sy_request_new(r, &req, NULL), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, req, &st, sizeof st, &p, NULL), SY_OK);

    must_reload(r, kRr);
    char buf[256];
    assert_int_equal(plan_str(r, NULL, buf, sizeof buf), 3); /* new plans: the new chain */
    assert_int_equal(atomic_load(&g_live_blobs), 1);           /* fx_good still alive for p */

    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.node, "fx-node");
    assert_int_equal(sy_plan_next(p, &t), 0);
    sy_plan_release(p); /* the last plan on the old chain: fx_good goes now */
    assert_int_equal(atomic_load(&g_live_blobs), 0);

    sy_request_free(req);
    sy_router_free(r);
    assert_int_equal(atomic_load(&g_live_bytes), 0);
    assert_int_equal(atomic_load(&g_bad_frees), 0);
}

/* ---------------------------------------------------------------- failures */

typedef struct diags {
    int count;
    char paths[8][SY_ERROR_PATH_MAX];
    char msgs[8][SY_ERROR_MESSAGE_MAX];
} diags;

static void collect(const sy_error *e, void *ud) {
    diags *d = ud;
    if (d->count < 8) {
        snprintf(d->paths[d->count], sizeof d->paths[0], "%s", e->path);
        snprintf(d->msgs[d->count], sizeof d->msgs[0], "%s", e->message);
    }
    d->count++;
}

static void test_failed_reload_changes_nothing(void **state) {
    (void)state;
    atomic_store(&g_live_bytes, 0);
    sy_router *r = open_router(kRr, true);
    char before[256], after[256];
    plan_str(r, NULL, before, sizeof before);
    uint64_t e0 = sy_router_epoch(r);
    long bytes = atomic_load(&g_live_bytes);

    /* three errors: an unknown key, a bad topology node, a missing plugin */
    static const char bad[] =
        "{\"bogus\": 1, \"topology\": {\"nodes\": [{\"id\": \"x\", \"port\": 70000}]},"
        " \"selector\": {\"plugin\": \"no_such_plugin\"}}";
    diags d = {0};
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_reload(r, bad, sizeof bad - 1, collect, &d, &err);
    assert_int_not_equal(rc, SY_OK);
    assert_true(d.count >= 3);
    assert_string_equal(d.paths[0], "bogus");
    assert_int_equal(err.code, rc); /* err: the first error */
    assert_string_equal(err.path, "bogus");
    bool named_plugin = false;
    for (int i = 0; i < d.count && i < 8; i++)
        if (strstr(d.msgs[i], "no_such_plugin")) named_plugin = true;
    assert_true(named_plugin);

    /* without report: the first error only */
    sy_error err2 = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_reload(r, "{\"selector\": 3}", 15, NULL, NULL, &err2), SY_ECONFIG);
    assert_string_equal(err2.path, "selector");
    /* not JSON at all */
    assert_int_equal(sy_router_reload(r, "{", 1, NULL, NULL, &err2), SY_ECONFIG);

    assert_int_equal(sy_router_epoch(r), e0);
    assert_int_equal(atomic_load(&g_live_bytes), bytes); /* the failed builds left nothing */
    plan_str(r, NULL, after, sizeof after);
    assert_int_equal(strlen(after), strlen(before));
    assert_non_null(strstr(after, "n0"));

    /* misuse */
    assert_int_equal(sy_router_reload(NULL, kFx, sizeof kFx - 1, NULL, NULL, &err2), SY_EINVAL);
    assert_int_equal(sy_router_reload(r, NULL, 0, NULL, NULL, NULL), SY_EINVAL);
    assert_int_equal(sy_router_reload_file(r, NULL, NULL, NULL, NULL), SY_EINVAL);
    assert_int_equal(sy_router_reload_file(r, "/nonexistent/sy.json", NULL, NULL, &err2), SY_ECONFIG);
    assert_non_null(strstr(err2.message, "/nonexistent/sy.json"));
    sy_router_free(r);
    assert_int_equal(atomic_load(&g_live_bytes), 0);
}

/* ---------------------------------------------------------------- state carried */

#define ROUTES_A "\"routes\": [{\"pattern\": \"a\", \"host\": \"10.0.0.1\", \"port\": 1}]"

static const sy_static_routes_table *table_of(sy_router *r, void **inst) {
    const void *iface = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_get_interface(r, "static_routes", SY_STATIC_ROUTES_TABLE,
                                     SY_STATIC_ROUTES_TABLE_VERSION, &iface, inst, &err);
    if (rc != SY_OK) fail_msg("get_interface: %s", err.message);
    return iface;
}

static void test_unchanged_plugin_keeps_its_state(void **state) {
    (void)state;
    static const char v1[] = "{\"selector\": {\"plugin\": \"static_routes\", \"config\": {" ROUTES_A "}}}";
    /* same selector and config; a translator and a topology added */
    static const char v2[] = "{" TOPO3 ", \"selector\": {\"plugin\": \"static_routes\", \"config\": {" ROUTES_A
                             "}}, \"translators\": [{\"plugin\": \"address_map\", \"config\": "
                             "{\"map\": {\"10.0.0.2:2\": \"127.0.0.1:2\"}}}]}";
    /* the selector's config changed */
    static const char v3[] = "{\"selector\": {\"plugin\": \"static_routes\", \"config\": {\"anchored\": true, " ROUTES_A "}}}";
    sy_router *r = open_router(v1, false);
    void *inst1 = NULL;
    const sy_static_routes_table *t = table_of(r, &inst1);
    static const char route_b[] = "{\"pattern\": \"b\", \"host\": \"10.0.0.2\", \"port\": 2}";
    assert_int_equal(t->add(inst1, SY_ROUTE_STATIC, route_b, sizeof route_b - 1, NULL), SY_OK);
    char buf[256];
    assert_int_equal(plan_str(r, "b", buf, sizeof buf), 1);

    must_reload(r, v2);
    void *inst2 = NULL;
    table_of(r, &inst2);
    assert_ptr_equal(inst1, inst2);                        /* the same instance */
    assert_int_equal(plan_str(r, "b", buf, sizeof buf), 1); /* with the route added at run time */

    must_reload(r, v3);
    void *inst3 = NULL;
    table_of(r, &inst3);
    assert_ptr_not_equal(inst3, inst2);
    sy_request *req = NULL;
    assert_int_equal(sy_request_new(r, &req, NULL), SY_OK);
    assert_int_equal(sy_request_set_node(req, "b"), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    int rc = sy_plan_init(r, req, &st, sizeof st, &p, NULL);
    assert_int_not_equal(rc, SY_OK); /* a new table: "b" has no route */
    sy_request_free(req);
    sy_router_free(r);
}

/* Topology: an unchanged section keeps what the application published; a
 * changed one replaces it. */
static void test_topology_section(void **state) {
    (void)state;
    sy_router *r = open_router(kRr, false);
    static const char two[] = "{\"nodes\": [{\"id\": \"m0\", \"host\": \"10.2.0.1\", \"port\": 1},"
                              " {\"id\": \"m1\", \"host\": \"10.2.0.2\", \"port\": 1}]}";
    assert_int_equal(sy_router_update_topology_json(r, two, sizeof two - 1, NULL), SY_OK);
    char buf[256];
    assert_int_equal(plan_str(r, NULL, buf, sizeof buf), 2);
    must_reload(r, kRr); /* same config: the published topology stays */
    assert_int_equal(plan_str(r, NULL, buf, sizeof buf), 2);
    assert_non_null(strstr(buf, "m0"));
    static const char changed[] =
        "{\"topology\": {\"nodes\": [{\"id\": \"k0\", \"host\": \"10.3.0.1\", \"port\": 1}]},"
        " \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\", \"seed\": 1}}}";
    must_reload(r, changed);
    assert_int_equal(plan_str(r, NULL, buf, sizeof buf), 1);
    assert_string_equal(buf, "k0");
    sy_router_free(r);
}

/* ---------------------------------------------------------------- from_env */

static void test_from_env(void **state) {
    (void)state;
    static const char cfg[] =
        "{\"topology\": {\"nodes\": [{\"id\": \"e0\", \"host\": {\"from_env\": \"SY_TEST_RELOAD_HOST\"},"
        " \"port\": 1}]}, \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\"}}}";
    unsetenv("SY_TEST_RELOAD_HOST");
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.plugin_path = plugin_dirs;
    o.plugin_path_count = 2;
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new(cfg, sizeof cfg - 1, &o, &r, &err), SY_ECONFIG);
    assert_null(r);
    assert_string_equal(err.path, "topology.nodes[0].host");
    assert_non_null(strstr(err.message, "SY_TEST_RELOAD_HOST"));
    assert_non_null(strstr(err.message, "not set"));

    setenv("SY_TEST_RELOAD_HOST", "10.9.9.9", 1);
    assert_int_equal(sy_router_new(cfg, sizeof cfg - 1, &o, &r, &err), SY_OK);
    sy_request *req = NULL;
    assert_int_equal(sy_request_new(r, &req, NULL), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, req, &st, sizeof st, &p, NULL), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.host, "10.9.9.9");
    sy_plan_release(p);
    sy_request_free(req);

    /* a reload reads the environment again */
    setenv("SY_TEST_RELOAD_HOST", "10.8.8.8", 1);
    unsetenv("SY_TEST_RELOAD_HOST");
    assert_int_equal(sy_router_reload(r, cfg, sizeof cfg - 1, NULL, NULL, &err), SY_ECONFIG);
    assert_string_equal(err.path, "topology.nodes[0].host");

    /* misuse of from_env itself */
    static const char extra[] = "{\"selector\": {\"plugin\": {\"from_env\": \"HOME\", \"x\": 1}}}";
    assert_int_equal(sy_router_reload(r, extra, sizeof extra - 1, NULL, NULL, &err), SY_ECONFIG);
    assert_string_equal(err.path, "selector.plugin");
    assert_non_null(strstr(err.message, "no other key"));
    static const char notstr[] = "{\"selector\": {\"plugin\": {\"from_env\": 5}}}";
    assert_int_equal(sy_router_reload(r, notstr, sizeof notstr - 1, NULL, NULL, &err), SY_ECONFIG);
    assert_non_null(strstr(err.message, "environment variable"));
    /* in an array, and naming a plugin */
    setenv("SY_TEST_RELOAD_PLUGIN", "fx_good", 1);
    static const char inplugin[] = "{\"selector\": {\"plugin\": {\"from_env\": \"SY_TEST_RELOAD_PLUGIN\"}},"
                                   " \"translators\": [{\"plugin\": {\"from_env\": \"SY_TEST_RELOAD_NOPE\"}}]}";
    assert_int_equal(sy_router_reload(r, inplugin, sizeof inplugin - 1, NULL, NULL, &err), SY_ECONFIG);
    assert_string_equal(err.path, "translators[0].plugin");
    static const char ok[] = "{\"selector\": {\"plugin\": {\"from_env\": \"SY_TEST_RELOAD_PLUGIN\"}}}";
    assert_int_equal(sy_router_reload(r, ok, sizeof ok - 1, NULL, NULL, &err), SY_OK);
    char buf[64];
    assert_int_equal(plan_str(r, NULL, buf, sizeof buf), 1);
    assert_string_equal(buf, "fx-node");
    sy_router_free(r);
}

/* ---------------------------------------------------------------- connector state */

static void test_connector_state_survives(void **state) {
    (void)state;
    /* a port nothing listens on (refused) and a connect that fails there */
    static const char cfg[] =
        "{\"topology\": {\"nodes\": [{\"id\": \"z\", \"host\": \"127.0.0.1\", \"port\": 1}]},"
        " \"connect\": {\"timeout_ms\": 500}, \"selector\": {\"plugin\": \"default_policy\","
        " \"config\": {\"mode\": \"round_robin\"}}}";
    static const char cfg2[] =
        "{\"topology\": {\"nodes\": [{\"id\": \"z\", \"host\": \"127.0.0.1\", \"port\": 1}]},"
        " \"connect\": {\"timeout_ms\": 700}, \"selector\": {\"plugin\": \"default_policy\","
        " \"config\": {\"mode\": \"round_robin\", \"seed\": 3}}}";
    sy_router *r = open_router(cfg, false);
    sy_request *req = NULL;
    assert_int_equal(sy_request_new(r, &req, NULL), SY_OK);
    sy_conn *c = NULL;
    assert_int_not_equal(sy_router_connect(r, req, NULL, &c, NULL, NULL), SY_OK);
    must_reload(r, cfg2);
    char stats[4096];
    size_t len = 0;
    assert_int_equal(sy_router_connect_stats(r, stats, sizeof stats, &len, NULL), SY_OK);
    assert_non_null(strstr(stats, "127.0.0.1:1")); /* the endpoint's record survived */
    assert_int_not_equal(sy_router_connect(r, req, NULL, &c, NULL, NULL), SY_OK);
    assert_int_equal(sy_router_connect_stats(r, stats, sizeof stats, &len, NULL), SY_OK);
    assert_non_null(strstr(stats, "\"attempts\":2,")); /* counted on from before the reload */
    sy_request_free(req);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- under load */

#define PLANNERS 4
#define RELOADS 200

static atomic_int g_stop;
static atomic_long g_plans, g_bad_plans, g_lost_plans;

static void *planner(void *arg) {
    sy_router *r = arg;
    sy_request *req = NULL;
    if (sy_request_new(r, &req, NULL) != SY_OK) {
        atomic_fetch_add(&g_lost_plans, 1);
        return NULL;
    }
    while (!atomic_load(&g_stop)) {
        sy_plan_storage st;
        sy_plan *p = NULL;
        if (sy_plan_init(r, req, &st, sizeof st, &p, NULL) != SY_OK) {
            atomic_fetch_add(&g_lost_plans, 1);
            continue;
        }
        sy_target t = SY_STRUCT_INIT(sy_target);
        int fx = 0, rr = 0;
        while (sy_plan_next(p, &t) == 1) {
            if (t.node && !strcmp(t.node, "fx-node")) fx++;
            else if (t.node && t.node[0] == 'n') rr++;
        }
        sy_plan_release(p);
        /* whole from one chain: fx_good's one target, or round robin's three */
        if (!((fx == 1 && rr == 0) || (fx == 0 && rr == 3))) atomic_fetch_add(&g_bad_plans, 1);
        atomic_fetch_add(&g_plans, 1);
    }
    sy_request_free(req);
    return NULL;
}

static void test_reload_under_load(void **state) {
    (void)state;
    atomic_store(&g_live_bytes, 0);
    atomic_store(&g_live_blobs, 0);
    sy_router *r = open_router(kFx, true);
    pthread_t th[PLANNERS];
    atomic_store(&g_stop, 0);
    for (int i = 0; i < PLANNERS; i++) assert_int_equal(pthread_create(&th[i], NULL, planner, r), 0);
    /* Reload only once the planners run (a loaded machine may start them
     * late), and go on until they have planned across the reloads. */
    while (atomic_load(&g_plans) + atomic_load(&g_lost_plans) == 0) sched_yield();
    long plans_before = atomic_load(&g_plans);
    for (int i = 0; i < RELOADS || (atomic_load(&g_plans) - plans_before < 1000 && i < 100 * RELOADS); i++) {
        const char *cfg = i % 2 ? kFx : kRr;
        sy_error err = SY_STRUCT_INIT(sy_error);
        int rc = sy_router_reload(r, cfg, strlen(cfg), NULL, NULL, &err);
        if (rc != SY_OK) fail_msg("reload %d: %s", i, err.message);
        if (i % 50 == 0) { /* a failing one now and then changes nothing */
            rc = sy_router_reload(r, "{\"selector\": 1}", 15, NULL, NULL, NULL);
            assert_int_equal(rc, SY_ECONFIG);
        }
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < PLANNERS; i++) pthread_join(th[i], NULL);
    print_message("%ld plans across the reloads\n", atomic_load(&g_plans) - plans_before);
    assert_int_equal(atomic_load(&g_bad_plans), 0);
    assert_int_equal(atomic_load(&g_lost_plans), 0);
    assert_true(atomic_load(&g_plans) > 0);
    sy_router_free(r);
    assert_int_equal(atomic_load(&g_live_blobs), 0);
    assert_int_equal(atomic_load(&g_live_bytes), 0);
    assert_int_equal(atomic_load(&g_bad_frees), 0);
}

int main(void) {
    plugin_dirs[0] = getenv("SY_PLUGIN_DIR");
    plugin_dirs[1] = getenv("SY_FIXTURE_DIR");
    if (!plugin_dirs[0] || !plugin_dirs[1]) {
        fprintf(stderr, "SY_PLUGIN_DIR and SY_FIXTURE_DIR must be set (meson test sets them)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_swaps_the_chain),
        cmocka_unit_test(test_started_plan_ends_on_old_chain),
        cmocka_unit_test(test_failed_reload_changes_nothing),
        cmocka_unit_test(test_unchanged_plugin_keeps_its_state),
        cmocka_unit_test(test_topology_section),
        cmocka_unit_test(test_from_env),
        cmocka_unit_test(test_connector_state_survives),
        cmocka_unit_test(test_reload_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
