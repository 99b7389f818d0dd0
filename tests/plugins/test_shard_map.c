/* shard_map through the public API: Casty's MD5 shard vectors, owner then
 * replicas, epoch fencing, eviction after a connect failure, config errors
 * and allocation-free plans. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/shard_map.h>
#include <switchyard/switchyard.h>

#include "support/plugin_dir.h"

#include "support/counting_alloc.h"

static int make(const char *config, const sy_router_options *o, sy_router **out, sy_error *err) {
    static char buf[1 << 13];
    int n = snprintf(buf, sizeof buf,
                     "{\"plugin_path\": [\"%s\"], \"topology\": {\"nodes\": ["
                     "{\"id\": \"n1\", \"host\": \"10.0.0.1\", \"port\": 25520},"
                     "{\"id\": \"n2\", \"host\": \"10.0.0.2\", \"port\": 25520},"
                     "{\"id\": \"n3\", \"host\": \"10.0.0.3\", \"port\": 25520}]},"
                     " \"selector\": {\"plugin\": \"shard_map\", \"config\": %s}}",
                     plugin_dir(), config);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    *err = (sy_error){.struct_size = sizeof *err};
    *out = NULL;
    return sy_router_new(buf, (size_t)n, o, out, err);
}

static sy_router *must(const char *config) {
    sy_router *r;
    sy_error err;
    int rc = make(config, NULL, &r, &err);
    if (rc != SY_OK) fail_msg("%s: %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

static const sy_shard_map_allocations *iface(sy_router *r, void **inst) {
    const void *a;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_get_interface(r, "shard_map", SY_SHARD_MAP_ALLOCATIONS, 1, &a, inst, &err)) fail_msg("%s", err.message);
    return a;
}

static char g_first_via[128]; /* via_detail of the last plan's first target */

/* "n2 n3" for the entity's plan, or a negative status. Target strings of
 * the plan's own storage are copied out before the release. */
static int plan(sy_router *r, const char *type, const char *id, char *out, size_t cap, sy_target *first) {
    sy_request *q;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    assert_int_equal(sy_request_set_entity(q, type, id), SY_OK);
    sy_plan_storage st;
    sy_plan *p;
    int rc = sy_plan_init(r, q, &st, sizeof st, &p, &err);
    out[0] = 0;
    if (rc == SY_OK) {
        sy_target t = SY_STRUCT_INIT(sy_target);
        int k = 0;
        while (sy_plan_next(p, &t) == 1) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s%s", l ? " " : "", t.node);
            if (k++ == 0) {
                if (first) *first = t;
                snprintf(g_first_via, sizeof g_first_via, "%s", t.via_detail[0] ? t.via_detail[0] : "");
            }
        }
        sy_plan_release(p);
    }
    sy_request_free(q);
    return rc;
}

static const char kTypes[] = "\"shard_types\": [{\"type\": \"counter\", \"num_shards\": 100},"
                             " {\"type\": \"e\", \"num_shards\": 10}, {\"type\": \"big\", \"num_shards\": 1024}]";

/* The vectors of Casty's entity_shard (MD5[0:4] big-endian mod N). */
static void test_md5_vectors(void **state) {
    (void)state;
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{%s}", kTypes);
    sy_router *r = must(cfg);
    void *inst;
    const sy_shard_map_allocations *a = iface(r, &inst);
    static const struct {
        const char *type, *id;
        uint32_t shard;
    } v[] = {{"counter", "user-42", 87}, {"counter", "alice", 70}, {"e", "e-0", 0}, {"e", "e-1", 6}, {"big", "entity-1", 1018}};
    sy_error err = SY_STRUCT_INIT(sy_error);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t s = UINT32_MAX;
        assert_int_equal(a->shard_of(inst, v[i].type, v[i].id, &s, &err), SY_OK);
        assert_int_equal(s, v[i].shard);
    }
    uint32_t s;
    assert_int_equal(a->shard_of(inst, "nope", "x", &s, &err), SY_EUNKNOWN);
    sy_router_free(r);
}

static void test_owner_replicas_fencing_eviction(void **state) {
    (void)state;
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{%s, \"allocations\": [{\"type\": \"counter\", \"shard\": 87, \"node\": \"n2\", \"replicas\": [\"n3\", \"n1\"], \"epoch\": 3}]}",
             kTypes);
    sy_router *r = must(cfg);
    void *inst;
    const sy_shard_map_allocations *a = iface(r, &inst);
    char got[64];
    sy_target first;
    assert_int_equal(plan(r, "counter", "user-42", got, sizeof got, &first), SY_OK);
    assert_string_equal(got, "n2 n3 n1");
    assert_string_equal(first.host, "10.0.0.2");
    assert_string_equal(g_first_via, "{\"type\":\"counter\",\"shard\":87}");
    /* an older epoch is ignored; a newer one wins */
    sy_error err = SY_STRUCT_INIT(sy_error);
    const char *older = "{\"allocations\": [{\"type\": \"counter\", \"shard\": 87, \"node\": \"n1\", \"epoch\": 2}]}";
    assert_int_equal(a->apply(inst, older, strlen(older), &err), SY_OK);
    assert_int_equal(plan(r, "counter", "user-42", got, sizeof got, NULL), SY_OK);
    assert_string_equal(got, "n2 n3 n1");
    const char *newer = "{\"allocations\": [{\"type\": \"counter\", \"shard\": 87, \"node\": \"n1\", \"epoch\": 4}]}";
    assert_int_equal(a->apply(inst, newer, strlen(newer), &err), SY_OK);
    assert_int_equal(plan(r, "counter", "user-42", got, sizeof got, &first), SY_OK);
    assert_string_equal(got, "n1");
    /* a connect failure on n1 evicts its shards until allocations come again */
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    o.kind = SY_OUTCOME_REFUSED;
    assert_int_equal(sy_router_report(r, &first, &o), SY_OK);
    assert_int_equal(plan(r, "counter", "user-42", got, sizeof got, NULL), SY_ENOROUTE);
    assert_int_equal(a->apply(inst, newer, strlen(newer), &err), SY_OK);
    assert_int_equal(plan(r, "counter", "user-42", got, sizeof got, NULL), SY_OK);
    /* a slow success evicts nothing */
    o.kind = SY_OUTCOME_SUCCESS;
    assert_int_equal(sy_router_report(r, &first, &o), SY_OK);
    assert_int_equal(plan(r, "counter", "user-42", got, sizeof got, NULL), SY_OK);
    /* a shard nobody owns, an unknown type, no entity */
    assert_int_equal(plan(r, "counter", "alice", got, sizeof got, NULL), SY_ENOROUTE);
    assert_int_equal(plan(r, "nope", "alice", got, sizeof got, NULL), SY_EREQUEST);
    const char *bad = "{\"allocations\": [{\"type\": \"counter\", \"shard\": 100, \"node\": \"n1\"}]}";
    assert_int_equal(a->apply(inst, bad, strlen(bad), &err), SY_EREQUEST);
    assert_non_null(strstr(err.message, "0..99"));
    sy_router_free(r);
}

static void test_config_errors(void **state) {
    (void)state;
    static const struct {
        const char *config, *path, *message;
    } cases[] = {
        {"{}", "selector.config.shard_types", "expected 1 to"},
        {"{\"shard_types\": [{\"type\": \"c\", \"num_shards\": 0}]}", "selector.config.shard_types[0]", "num_shards"},
        {"{\"shard_types\": [{\"type\": \"c\", \"num_shards\": 2}, {\"type\": \"c\", \"num_shards\": 3}]}",
         "selector.config.shard_types[1]", "given twice"},
        {"{\"shard_types\": [{\"type\": \"c\", \"num_shards\": 2}], \"allocations\": [{\"type\": \"d\", \"shard\": 0,"
         " \"node\": \"n1\"}]}", "selector.config.allocations[0]", "not one of shard_types"},
        {"{\"shard_types\": [{\"type\": \"c\", \"num_shards\": 2}], \"colour\": 1}", "selector.config.colour", "unknown key"},
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

static void test_plans_allocate_nothing(void **state) {
    (void)state;
    sy_allocator al;
    sy_router_options o = counting_options(&al);
    sy_router *r;
    sy_error err;
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{%s, \"allocations\": [{\"type\": \"counter\", \"shard\": 87, \"node\": \"n2\"}]}", kTypes);
    assert_int_equal(make(cfg, &o, &r, &err), SY_OK);
    sy_request *q;
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    assert_int_equal(sy_request_set_entity(q, "counter", "user-42"), SY_OK);
    for (int i = 0; i < 3; i++) {
        size_t before = counting_allocations();
        sy_plan_storage st;
        sy_plan *p;
        assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
        sy_target t = SY_STRUCT_INIT(sy_target);
        assert_int_equal(sy_plan_next(p, &t), 1);
        assert_string_equal(t.node, "n2");
        sy_plan_release(p);
        assert_int_equal(counting_allocations(), before);
    }
    sy_request_free(q);
    sy_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5_vectors),
        cmocka_unit_test(test_owner_replicas_fencing_eviction),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_plans_allocate_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
