/* Requests from JSON and field by field, as a plugin sees them: every
 * contract field, every malformed one named by its path, and a failed parse
 * leaves nothing half-set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/plugin.h>

/* ---------------------------------------------------------------- probe */

/* What the selector saw in its last plan_init. */
static struct seen {
    uint32_t fields;
    uint8_t key[64];
    size_t key_len;
    int64_t token;
    char keyspace[32], table[32], node[32], entity_type[32], entity_id[32];
    uint32_t consistency, lwt;
    char header_x[32];   /* context.headers.x */
    char session_role[32]; /* context.session["x-hasura-role"] */
    int has_document;
} g;

static const sy_host *g_host;

static void copy(char *dst, size_t size, const char *src) { snprintf(dst, size, "%s", src ? src : "(null)"); }

static int probe_create(void *instance, const sy_host *host, const sy_json *config, const char *path,
                        sy_error *err) {
    (void)instance, (void)config, (void)path, (void)err;
    g_host = host;
    return SY_OK;
}
static void probe_destroy(void *instance) { (void)instance; }
static int probe_plan_init(void *instance, const void *state, const sy_topology *topology,
                           const sy_request_view *q, void *plan_state, sy_error *err) {
    (void)instance, (void)state, (void)topology, (void)plan_state, (void)err;
    memset(&g, 0, sizeof g);
    g.fields = q->fields;
    g.key_len = q->key_len < sizeof g.key ? q->key_len : sizeof g.key;
    if (q->key) memcpy(g.key, q->key, g.key_len);
    g.token = q->token;
    copy(g.keyspace, sizeof g.keyspace, q->keyspace);
    copy(g.table, sizeof g.table, q->table);
    copy(g.node, sizeof g.node, q->node);
    copy(g.entity_type, sizeof g.entity_type, q->entity_type);
    copy(g.entity_id, sizeof g.entity_id, q->entity_id);
    g.consistency = q->consistency;
    g.lwt = q->lwt;
    const sy_host *h = g_host;
    copy(g.header_x, sizeof g.header_x, h->json_string(h->json_get(h->json_get(q->context, "headers"), "x")));
    copy(g.session_role, sizeof g.session_role,
         h->json_string(h->json_get(h->json_get(q->context, "session"), "x-hasura-role")));
    g.has_document = q->document != NULL;
    return SY_OK;
}
static int probe_plan_next(void *instance, void *plan_state, sy_target *target) {
    (void)instance, (void)plan_state, (void)target;
    return 0;
}

static const sy_plugin kProbe = {
    .abi_version = SY_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sy_plugin),
    .name = "request_probe",
    .roles = SY_ROLE_SELECTOR,
    .instance_size = 8,
    .plan_state_size = 8,
    .create = probe_create,
    .destroy = probe_destroy,
    .plan_init = probe_plan_init,
    .plan_next = probe_plan_next,
};

static sy_router *g_router;
static sy_request *g_req;

static int setup(void **state) {
    (void)state;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_register_plugin(&kProbe, &err), SY_OK);
    const char *config = "{\"selector\": {\"plugin\": \"request_probe\"}}";
    assert_int_equal(sy_router_new(config, strlen(config), NULL, &g_router, &err), SY_OK);
    assert_int_equal(sy_request_new(g_router, &g_req, &err), SY_OK);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    sy_request_free(g_req);
    sy_router_free(g_router);
    return 0;
}

/* Runs plan_init so the probe records the request. */
static void observe(void) {
    sy_plan_storage st;
    sy_plan *p = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_plan_init(g_router, g_req, &st, sizeof st, &p, &err), SY_OK);
    sy_plan_release(p);
}

static int parse(const char *json, sy_error *err) {
    *err = SY_STRUCT_INIT(sy_error);
    return sy_request_parse_json(g_req, json, strlen(json), err);
}

/* ---------------------------------------------------------------- tests */

static void test_every_field(void **state) {
    (void)state;
    sy_error err;
    assert_int_equal(parse("{\"key\": \"test\", \"keyspace\": \"shop\", \"table\": \"carts\","
                           " \"consistency\": \"local_quorum\", \"lwt\": true, \"node\": \"api@host\","
                           " \"entity\": {\"type\": \"cart\", \"id\": 42},"
                           " \"context\": {\"headers\": {\"x\": \"1\"}, \"session\": {\"x-hasura-role\": \"admin\"},"
                           " \"query\": {\"operation_type\": \"query\"}}, \"plugin_extra\": [1]}",
                           &err),
                     SY_OK);
    observe();
    const uint32_t all = SY_REQ_KEY | SY_REQ_TOKEN | SY_REQ_KEYSPACE | SY_REQ_TABLE | SY_REQ_CONSISTENCY |
                         SY_REQ_LWT | SY_REQ_NODE | SY_REQ_ENTITY | SY_REQ_CONTEXT;
    assert_int_equal(g.fields, all);
    assert_int_equal(g.key_len, 4);
    assert_memory_equal(g.key, "test", 4);
    assert_true(g.token == -6017608668500074083LL); /* Cassandra's Murmur3 of "test" */
    assert_string_equal(g.keyspace, "shop");
    assert_string_equal(g.table, "carts");
    assert_int_equal(g.consistency, SY_CONSISTENCY_LOCAL_QUORUM);
    assert_int_equal(g.lwt, 1);
    assert_string_equal(g.node, "api@host");
    assert_string_equal(g.entity_type, "cart");
    assert_string_equal(g.entity_id, "42");
    assert_string_equal(g.header_x, "1");
    assert_string_equal(g.session_role, "admin");
    assert_true(g.has_document); /* unknown keys are kept for plugins */
}

static void test_key_hex_and_token(void **state) {
    (void)state;
    sy_error err;
    assert_int_equal(parse("{\"key_hex\": \"74657374\"}", &err), SY_OK);
    observe();
    assert_int_equal(g.key_len, 4);
    assert_memory_equal(g.key, "test", 4);
    assert_true(g.token == -6017608668500074083LL);
    /* binary keys, with a NUL inside */
    assert_int_equal(parse("{\"key_hex\": \"00FFab\"}", &err), SY_OK);
    observe();
    assert_int_equal(g.key_len, 3);
    assert_memory_equal(g.key, "\x00\xff\xab", 3);
    /* an explicit token wins over the key's */
    assert_int_equal(parse("{\"key\": \"test\", \"token\": \"-42\"}", &err), SY_OK);
    observe();
    assert_true(g.token == -42);
    assert_true(g.fields & SY_REQ_KEY);
    assert_int_equal(parse("{\"token\": 7}", &err), SY_OK);
    observe();
    assert_true(g.token == 7);
    assert_int_equal(g.fields, SY_REQ_TOKEN);
}

typedef struct bad_request {
    const char *json;
    const char *path;
    const char *message;
} bad_request;

static const bad_request kBad[] = {
    {"{\"key\": 5}", "key", "expected a string, got a number"},
    {"{\"key\": \"a\", \"key_hex\": \"00\"}", "key_hex", "either key or key_hex"},
    {"{\"key_hex\": \"abc\"}", "key_hex", "odd number of hex digits"},
    {"{\"key_hex\": \"0g\"}", "key_hex", "invalid hex digit at offset 1"},
    {"{\"key_hex\": []}", "key_hex", "expected a hex string"},
    {"{\"token\": \"12abc\"}", "token", "signed 64-bit integer"},
    {"{\"token\": 1.5}", "token", "not an exact integer"},
    {"{\"token\": true}", "token", "expected an integer"},
    {"{\"keyspace\": 1}", "keyspace", "expected a string"},
    {"{\"consistency\": \"STRONG\"}", "consistency", "expected a consistency level"},
    {"{\"consistency\": 3}", "consistency", "expected a consistency level"},
    {"{\"lwt\": \"yes\"}", "lwt", "expected true or false"},
    {"{\"entity\": {\"type\": \"cart\"}}", "entity.id", "needs a type and an id"},
    {"{\"entity\": {\"id\": \"1\"}}", "entity.type", "needs a type and an id"},
    {"{\"entity\": {\"type\": \"c\", \"id\": 1.5}}", "entity.id", "not an exact integer"},
    {"{\"entity\": {\"type\": \"c\", \"id\": 1e300}}", "entity.id", "not an exact integer"},
    {"{\"entity\": {\"type\": \"c\", \"id\": \"1\", \"shard\": 2}}", "entity.shard", "unknown key"},
    {"{\"entity\": \"cart:1\"}", "entity", "expected an object"},
    {"{\"context\": []}", "context", "expected an object"},
    {"{\"context\": {\"headers\": \"x\"}}", "context.headers", "expected an object"},
    {"{\"context\": {\"cookies\": {}}}", "context.cookies", "unknown key"},
    {"[]", "", "a request is a JSON object"},
    {"{\"key\": \"a\"", "", "unexpected end of input"},
};

static void test_bad_requests(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof kBad / sizeof kBad[0]; i++) {
        sy_error err;
        /* a good request first: a failed parse must leave none of it behind */
        assert_int_equal(parse("{\"key\": \"k\", \"keyspace\": \"ks\", \"node\": \"n\"}", &err), SY_OK);
        int rc = parse(kBad[i].json, &err);
        if (rc != SY_EREQUEST || err.code != rc || strcmp(err.path, kBad[i].path) != 0 ||
            !strstr(err.message, kBad[i].message))
            fail_msg("case %zu: %s\n  got %s at '%s': %s", i, kBad[i].json, sy_status_name(rc), err.path, err.message);
        observe();
        assert_int_equal(g.fields, 0);
        assert_false(g.has_document);
    }
}

static void test_setters(void **state) {
    (void)state;
    sy_request_clear(g_req);
    assert_int_equal(sy_request_set_key(g_req, "primary_key", 11), SY_OK);
    assert_int_equal(sy_request_set_keyspace(g_req, "ks"), SY_OK);
    assert_int_equal(sy_request_set_table(g_req, "t"), SY_OK);
    assert_int_equal(sy_request_set_consistency(g_req, SY_CONSISTENCY_SERIAL), SY_OK);
    assert_int_equal(sy_request_set_lwt(g_req, 7), SY_OK);
    assert_int_equal(sy_request_set_node(g_req, "n@h"), SY_OK);
    assert_int_equal(sy_request_set_entity(g_req, "user", "u1"), SY_OK);
    sy_error err = SY_STRUCT_INIT(sy_error);
    const char *ctx = "{\"headers\": {\"x\": \"h\"}}";
    assert_int_equal(sy_request_set_context_json(g_req, ctx, strlen(ctx), &err), SY_OK);
    observe();
    assert_true(g.token == -1632642444691073360LL);
    assert_string_equal(g.keyspace, "ks");
    assert_string_equal(g.table, "t");
    assert_int_equal(g.consistency, SY_CONSISTENCY_SERIAL);
    assert_int_equal(g.lwt, 1);
    assert_string_equal(g.node, "n@h");
    assert_string_equal(g.entity_id, "u1");
    assert_string_equal(g.header_x, "h");
    assert_false(g.has_document);

    /* setting NULL removes a field; a bad value changes nothing */
    assert_int_equal(sy_request_set_keyspace(g_req, NULL), SY_OK);
    assert_int_equal(sy_request_set_consistency(g_req, SY_CONSISTENCY_LOCAL_ONE + 1), SY_EINVAL);
    assert_int_equal(sy_request_set_entity(g_req, "only-type", NULL), SY_EINVAL);
    assert_int_equal(sy_request_set_key(g_req, NULL, 3), SY_EINVAL);
    assert_int_equal(sy_request_set_context_json(g_req, "[1]", 3, &err), SY_EREQUEST);
    assert_string_equal(err.path, "context");
    assert_int_equal(sy_request_set_context_json(g_req, "{", 1, &err), SY_EREQUEST);
    observe();
    assert_false(g.fields & SY_REQ_KEYSPACE);
    assert_int_equal(g.consistency, SY_CONSISTENCY_SERIAL);
    assert_string_equal(g.entity_type, "user");
    assert_string_equal(g.header_x, "h");
    assert_int_equal(sy_request_set_consistency(g_req, SY_CONSISTENCY_UNSET), SY_OK);
    observe();
    assert_false(g.fields & SY_REQ_CONSISTENCY);

    /* clear empties everything */
    sy_request_clear(g_req);
    observe();
    assert_int_equal(g.fields, 0);

    /* misuse */
    assert_int_equal(sy_request_set_key(NULL, "k", 1), SY_EINVAL);
    assert_int_equal(sy_request_parse_json(g_req, NULL, 0, &err), SY_EINVAL);
    sy_request_free(NULL);
}

/* A request stays valid across many reuses, with growing and shrinking keys. */
static void test_reuse(void **state) {
    (void)state;
    char key[300];
    for (int i = 0; i < 300; i += 7) {
        memset(key, 'a' + i % 26, (size_t)i);
        assert_int_equal(sy_request_set_key(g_req, key, (size_t)i), SY_OK);
        observe();
        assert_int_equal(g.key_len, (size_t)(i < 64 ? i : 64));
        assert_true(g.token == sy_murmur3_token(key, (size_t)i));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_key_hex_and_token),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_setters),
        cmocka_unit_test(test_reuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
