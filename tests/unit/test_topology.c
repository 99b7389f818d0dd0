/* Topology updates from JSON and from C arrays: a good update publishes a
 * new epoch that new plans see; a bad one names where and why and changes
 * nothing; older (smaller) structs from old callers still work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/plugin.h>

/* ---------------------------------------------------------------- a probe selector */

/* Records the topology view the last plan saw, then plans its nodes in order. */
static char g_seen[16][64];
static size_t g_seen_count;
static const sy_topology *g_topo;

typedef struct probe_plan {
    const sy_topology *t;
    size_t pos;
} probe_plan;

static int probe_create(void *instance, const sy_host *host, const sy_json *config, const char *path,
                        sy_error *err) {
    (void)instance, (void)host, (void)config, (void)path, (void)err;
    return SY_OK;
}
static void probe_destroy(void *instance) { (void)instance; }
static int probe_plan_init(void *instance, const void *state, const sy_topology *topology,
                           const sy_request_view *request, void *plan_state, sy_error *err) {
    (void)instance, (void)state, (void)request, (void)err;
    probe_plan *p = plan_state;
    p->t = topology;
    p->pos = 0;
    g_topo = topology;
    return SY_OK;
}
static int probe_plan_next(void *instance, void *plan_state, sy_target *target) {
    (void)instance;
    probe_plan *p = plan_state;
    if (p->pos >= p->t->node_count) return 0;
    const sy_node *n = SY_TOPOLOGY_NODE(p->t, p->pos);
    target->node = n->id;
    target->host = n->host;
    target->port = n->port;
    p->pos++;
    return 1;
}

static const sy_plugin kProbe = {
    .abi_version = SY_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sy_plugin),
    .name = "topo_probe",
    .roles = SY_ROLE_SELECTOR,
    .instance_size = 8,
    .plan_state_size = sizeof(probe_plan),
    .create = probe_create,
    .destroy = probe_destroy,
    .plan_init = probe_plan_init,
    .plan_next = probe_plan_next,
};

/* ---------------------------------------------------------------- helpers */

static sy_router *router(const char *topology_json) {
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_register_plugin(&kProbe, &err), SY_OK);
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "{\"topology\": %s, \"selector\": {\"plugin\": \"topo_probe\"}}",
                     topology_json);
    sy_router *r = NULL;
    int rc = sy_router_new(buf, (size_t)n, NULL, &r, &err);
    if (rc != SY_OK) fail_msg("sy_router_new: %s: %s", err.path, err.message);
    return r;
}

/* Plans once; the ids seen go to g_seen, joined by spaces into `joined`. */
static const char *plan_ids(sy_router *r) {
    static char joined[1024];
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    joined[0] = 0;
    g_seen_count = 0;
    while (sy_plan_next(p, &t) == 1) {
        snprintf(g_seen[g_seen_count++ % 16], 64, "%s", t.node);
        size_t n = strlen(joined);
        snprintf(joined + n, sizeof joined - n, "%s%s", n ? " " : "", t.node);
    }
    sy_plan_release(p);
    sy_request_free(q);
    return joined;
}

static int update_json(sy_router *r, const char *json, sy_error *err) {
    *err = SY_STRUCT_INIT(sy_error);
    return sy_router_update_topology_json(r, json, strlen(json), err);
}

/* ---------------------------------------------------------------- JSON */

static void test_json_updates_publish_epochs(void **state) {
    (void)state;
    sy_router *r = router("{\"nodes\": [{\"host\": \"10.0.0.1\", \"port\": 9042}, {\"host\": \"::1\", \"port\": 19042}]}");
    assert_int_equal(sy_router_epoch(r), 1);
    /* ids default to host:port, IPv6 in brackets */
    assert_string_equal(plan_ids(r), "10.0.0.1:9042 [::1]:19042");

    sy_error err;
    assert_int_equal(update_json(r, "{\"nodes\": [{\"id\": \"n1\", \"name\": \"first\", \"host\": \"h1\", \"port\": 1,"
                                    " \"datacenter\": \"dc1\", \"rack\": \"r1\", \"shards\": 8, \"up\": false,"
                                    " \"tokens\": [\"-9223372036854775808\", 42, \"9223372036854775807\"]}]}",
                                 &err),
                     SY_OK);
    assert_int_equal(sy_router_epoch(r), 2);
    assert_string_equal(plan_ids(r), "n1");
    assert_int_equal(g_topo->epoch, 2);
    const sy_node *n = SY_TOPOLOGY_NODE(g_topo, 0);
    assert_string_equal(n->name, "first");
    assert_string_equal(n->datacenter, "dc1");
    assert_string_equal(n->rack, "r1");
    assert_int_equal(n->shards, 8);
    assert_int_equal(n->up, 0);
    assert_int_equal(n->token_count, 3);
    assert_true(n->tokens[0] == INT64_MIN);
    assert_true(n->tokens[1] == 42);
    assert_true(n->tokens[2] == INT64_MAX);
    assert_non_null(g_topo->document); /* extension fields stay readable */

    /* an empty topology is valid */
    assert_int_equal(update_json(r, "{}", &err), SY_OK);
    assert_int_equal(sy_router_epoch(r), 3);
    assert_string_equal(plan_ids(r), "");
    sy_router_free(r);
}

static void test_keyspaces(void **state) {
    (void)state;
    sy_router *r = router("{}");
    sy_error err;
    assert_int_equal(update_json(r, "{\"keyspaces\": ["
                                    "{\"name\": \"a\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": \"3\"}},"
                                    "{\"name\": \"b\", \"strategy\": \"org.apache.cassandra.locator.NetworkTopologyStrategy\","
                                    " \"replication\": {\"class\": \"NetworkTopologyStrategy\", \"dc1\": 3, \"dc2\": \"2\"}},"
                                    "{\"name\": \"system\", \"strategy\": \"LocalStrategy\"}]}",
                                 &err),
                     SY_OK);
    plan_ids(r);
    assert_int_equal(g_topo->keyspace_count, 3);
    const sy_keyspace *a = SY_TOPOLOGY_KEYSPACE(g_topo, 0), *b = SY_TOPOLOGY_KEYSPACE(g_topo, 1);
    assert_int_equal(a->strategy, SY_STRATEGY_SIMPLE);
    assert_int_equal(a->replication_factor, 3);
    assert_int_equal(b->strategy, SY_STRATEGY_NETWORK_TOPOLOGY);
    assert_int_equal(b->dc_count, 2); /* "class" is not a datacenter */
    assert_string_equal(b->dcs[0].datacenter, "dc1");
    assert_int_equal(b->dcs[0].replication_factor, 3);
    assert_string_equal(b->dcs[1].datacenter, "dc2");
    assert_int_equal(b->dcs[1].replication_factor, 2);
    assert_int_equal(b->dcs[1].struct_size, sizeof(sy_dc_replication));
    assert_int_equal(SY_TOPOLOGY_KEYSPACE(g_topo, 2)->strategy, SY_STRATEGY_LOCAL);
    sy_router_free(r);
}

typedef struct bad_topology {
    const char *json;
    const char *path;
    const char *message;
} bad_topology;

static const bad_topology kBad[] = {
    {"[]", "", "expected an object, got an array"},
    {"{\"nodes\": [{\"host\": \"h\", \"port\": 1}, 7]}", "nodes[1]", "expected an object"},
    {"{\"nodes\": [{\"host\": \"h\", \"port\": 1, \"tokens\": [9007199254740993]}]}", "nodes[0].tokens[0]",
     "give 64-bit values as strings"},
    {"{\"nodes\": [{\"host\": \"h\", \"port\": 1, \"tokens\": [\" 5\"]}]}", "nodes[0].tokens[0]", "signed 64-bit"},
    {"{\"nodes\": [{\"host\": \"h\", \"port\": 1, \"tokens\": {}}]}", "nodes[0].tokens", "expected an array"},
    {"{\"nodes\": [{\"id\": \"\", \"host\": \"h\", \"port\": 1}]}", "nodes[0].id", "must not be empty"},
    {"{\"nodes\": [{\"id\": \"x\", \"host\": \"h\", \"port\": 1}, {\"id\": \"x\", \"host\": \"g\", \"port\": 2}]}",
     "nodes[1].id", "duplicate node id 'x'"},
    {"{\"keyspaces\": [{\"name\": \"k\", \"strategy\": \"NetworkTopologyStrategy\", \"replication\": {\"d\": 1, \"d\": 2}}]}",
     "keyspaces[0].replication.d", "duplicate datacenter"},
    {"{\"keyspaces\": [{\"name\": \"k\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": 1}},"
     " {\"name\": \"k\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": 1}}]}",
     "keyspaces[1].name", "duplicate keyspace 'k'"},
    {"{\"keyspaces\": [{\"name\": \"k\", \"strategy\": \"SimpleStrategy\", \"replication\": []}]}",
     "keyspaces[0].replication", "expected an object"},
    {"{\"services\": {}}", "services", "expected an array"},
    {"{\"nodes\": [{\"host\": \"h\", \"port\": 1}", "", "unexpected end of input"},
};

static void test_bad_updates_change_nothing(void **state) {
    (void)state;
    sy_router *r = router("{\"nodes\": [{\"id\": \"keep\", \"host\": \"10.0.0.1\", \"port\": 1}]}");
    for (size_t i = 0; i < sizeof kBad / sizeof kBad[0]; i++) {
        sy_error err;
        int rc = update_json(r, kBad[i].json, &err);
        if (rc != SY_ETOPOLOGY || err.code != rc || strcmp(err.path, kBad[i].path) != 0 ||
            !strstr(err.message, kBad[i].message))
            fail_msg("case %zu: %s\n  got %s at '%s': %s", i, kBad[i].json, sy_status_name(rc), err.path,
                     err.message);
        assert_int_equal(sy_router_epoch(r), 1);
        assert_string_equal(plan_ids(r), "keep");
    }
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_update_topology_json(r, NULL, 0, &err), SY_EINVAL);
    assert_int_equal(sy_router_update_topology_json(NULL, "{}", 2, &err), SY_EINVAL);
    assert_int_equal(sy_router_update_topology(r, NULL, &err), SY_EINVAL);
    assert_int_equal(sy_router_epoch(r), 1);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- C arrays */

static void test_c_arrays(void **state) {
    (void)state;
    sy_router *r = router("{}");
    static const int64_t tokens[] = {-5, 5};
    sy_node nodes[2] = {SY_STRUCT_INIT(sy_node), SY_STRUCT_INIT(sy_node)};
    nodes[0].id = "a";
    nodes[0].host = "10.0.0.1";
    nodes[0].port = 9042;
    nodes[0].up = 1;
    nodes[0].tokens = tokens;
    nodes[0].token_count = 2;
    nodes[1].host = "fe80::1"; /* id defaults to [fe80::1]:9043 */
    nodes[1].port = 9043;
    nodes[1].datacenter = "dc9";
    sy_dc_replication dcs[1] = {{.struct_size = sizeof(sy_dc_replication), .replication_factor = 2, .datacenter = "dc9"}};
    sy_keyspace ks = SY_STRUCT_INIT(sy_keyspace);
    ks.name = "k";
    ks.strategy = SY_STRATEGY_NETWORK_TOPOLOGY;
    ks.dcs = dcs;
    ks.dc_count = 1;
    sy_topology_desc d = SY_STRUCT_INIT(sy_topology_desc);
    d.nodes = nodes;
    d.node_count = 2;
    d.keyspaces = &ks;
    d.keyspace_count = 1;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_update_topology(r, &d, &err), SY_OK);
    assert_int_equal(sy_router_epoch(r), 2);
    assert_string_equal(plan_ids(r), "a [fe80::1]:9043");
    /* the core copied everything: the caller's arrays may go away */
    const sy_node *a = SY_TOPOLOGY_NODE(g_topo, 0);
    assert_ptr_not_equal(a->host, nodes[0].host);
    assert_ptr_not_equal(a->tokens, tokens);
    assert_int_equal(a->token_count, 2);
    assert_true(a->tokens[1] == 5);
    assert_int_equal(SY_TOPOLOGY_NODE(g_topo, 1)->up, 0);
    assert_null(g_topo->document);
    const sy_keyspace *k = SY_TOPOLOGY_KEYSPACE(g_topo, 0);
    assert_string_equal(k->dcs[0].datacenter, "dc9");
    assert_int_equal(k->dcs[0].replication_factor, 2);

    /* each refusal names the element and changes nothing */
    nodes[1].port = 70000;
    assert_int_equal(sy_router_update_topology(r, &d, &err), SY_ETOPOLOGY);
    assert_string_equal(err.path, "nodes[1].port");
    nodes[1].port = 1;
    nodes[1].host = NULL;
    assert_int_equal(sy_router_update_topology(r, &d, &err), SY_ETOPOLOGY);
    assert_string_equal(err.path, "nodes[1].host");
    nodes[1].host = "h";
    nodes[0].token_count = 3;
    nodes[0].tokens = NULL;
    assert_int_equal(sy_router_update_topology(r, &d, &err), SY_EINVAL);
    assert_string_equal(err.path, "nodes[0]");
    nodes[0].tokens = tokens;
    nodes[0].token_count = 2;
    dcs[0].datacenter = NULL;
    assert_int_equal(sy_router_update_topology(r, &d, &err), SY_ETOPOLOGY);
    assert_string_equal(err.path, "keyspaces[0]");
    dcs[0].datacenter = "dc9";
    dcs[0].struct_size = 4;
    assert_int_equal(sy_router_update_topology(r, &d, &err), SY_EINVAL);
    dcs[0].struct_size = sizeof(sy_dc_replication);
    d.node_count = 3;
    d.nodes = NULL;
    assert_int_equal(sy_router_update_topology(r, &d, &err), SY_EINVAL);
    assert_int_equal(sy_router_epoch(r), 2);
    assert_string_equal(plan_ids(r), "a [fe80::1]:9043");
    sy_router_free(r);
}

/* An old caller's sy_node ends at token_count (a newer core may have added
 * fields): the array is strided by nodes[0].struct_size. Smaller than the
 * first version is refused. */
static void test_old_node_struct(void **state) {
    (void)state;
    sy_router *r = router("{}");
    const size_t v1 = offsetof(sy_node, token_count) + sizeof(size_t);
    _Alignas(16) unsigned char raw[3 * sizeof(sy_node) + 64];
    memset(raw, 0xCC, sizeof raw); /* garbage between the short structs */
    const char *ids[] = {"x", "y", "z"};
    const size_t stride = v1 + 16; /* the caller's struct is padded: the core must honour it */
    for (size_t i = 0; i < 3; i++) {
        sy_node n = SY_STRUCT_INIT(sy_node);
        n.struct_size = (uint32_t)stride;
        n.id = ids[i];
        n.host = "10.1.1.1";
        n.port = (uint32_t)(100 + i);
        n.up = 1;
        memcpy(raw + i * stride, &n, v1);
    }
    sy_topology_desc d = SY_STRUCT_INIT(sy_topology_desc);
    d.nodes = (const sy_node *)(const void *)raw;
    d.node_count = 3;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_update_topology(r, &d, &err), SY_OK);
    assert_string_equal(plan_ids(r), "x y z");

    sy_node small = SY_STRUCT_INIT(sy_node);
    small.struct_size = (uint32_t)offsetof(sy_node, tokens);
    small.host = "h";
    small.port = 1;
    d.nodes = &small;
    d.node_count = 1;
    assert_int_equal(sy_router_update_topology(r, &d, &err), SY_EINVAL);
    assert_non_null(strstr(err.message, "struct_size"));

    sy_topology_desc old = SY_STRUCT_INIT(sy_topology_desc);
    old.struct_size = 8;
    assert_int_equal(sy_router_update_topology(r, &old, &err), SY_EINVAL);
    assert_string_equal(plan_ids(r), "x y z");
    sy_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_updates_publish_epochs),
        cmocka_unit_test(test_keyspaces),
        cmocka_unit_test(test_bad_updates_change_nothing),
        cmocka_unit_test(test_c_arrays),
        cmocka_unit_test(test_old_node_struct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
