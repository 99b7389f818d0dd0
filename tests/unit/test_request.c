/* Requests from JSON and field by field, as a selector sees them: every
 * contract field, every malformed one named by its path, a failed parse
 * leaves nothing half-set, and the setters refuse misuse. */
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

/* A copy of the request view the probe saw in its last plan_init. */
static struct seen {
    uint32_t fields;
    int key_is_null;
    uint8_t key[64];
    size_t key_len;
    int64_t token;
    char keyspace[32], table[32], node[32], entity_type[32], entity_id[32];
    uint32_t consistency, lwt;
    int has_context, has_document;
    char header_x[32];     /* context.headers.x */
    char session_role[32]; /* context.session["x-hasura-role"] */
    char operation[32];    /* context.query.operation_type */
    char doc_extra[32];    /* document.extra, a key the core does not know */
    size_t keyspace_len;
    int keyspace_word_dirty; /* a non-zero byte between the NUL and the end of its word */
} g;

static const sy_host *g_host;

static void copy(char *dst, size_t size, const char *src) { snprintf(dst, size, "%s", src ? src : "(null)"); }

/* The string at obj.a.b through the host's JSON helpers, or NULL. */
static const char *json_path(const sy_json *obj, const char *a, const char *b) {
    return g_host->json_string(g_host->json_get(g_host->json_get(obj, a), b));
}

static int probe_create(void *instance, const sy_host *host, const sy_json *config, const char *path, sy_error *err) {
    (void)instance, (void)config, (void)path, (void)err;
    g_host = host;
    return SY_OK;
}
static void probe_destroy(void *instance) { (void)instance; }
static int probe_plan_init(void *instance, const void *state, const sy_topology *topology, const sy_request_view *q,
                           void *plan_state, sy_error *err) {
    (void)instance, (void)state, (void)topology, (void)err;
    memset(&g, 0, sizeof g);
    g.fields = q->fields;
    g.key_is_null = q->key == NULL;
    g.key_len = q->key_len;
    if (q->key) memcpy(g.key, q->key, q->key_len < sizeof g.key ? q->key_len : sizeof g.key);
    g.token = q->token;
    copy(g.keyspace, sizeof g.keyspace, q->keyspace);
    if (q->struct_size >= offsetof(sy_request_view, keyspace_len) + sizeof q->keyspace_len) {
        g.keyspace_len = q->keyspace_len;
        /* plans compare names in whole words: the NUL's word is zero-padded */
        if (q->keyspace)
            for (size_t i = q->keyspace_len; i < (q->keyspace_len / 8 + 1) * 8; i++)
                g.keyspace_word_dirty |= q->keyspace[i] != 0;
    } else {
        g.keyspace_len = (size_t)-1;
    }
    copy(g.table, sizeof g.table, q->table);
    copy(g.node, sizeof g.node, q->node);
    copy(g.entity_type, sizeof g.entity_type, q->entity_type);
    copy(g.entity_id, sizeof g.entity_id, q->entity_id);
    g.consistency = q->consistency;
    g.lwt = q->lwt;
    g.has_context = q->context != NULL;
    g.has_document = q->document != NULL;
    copy(g.header_x, sizeof g.header_x, json_path(q->context, "headers", "x"));
    copy(g.session_role, sizeof g.session_role, json_path(q->context, "session", "x-hasura-role"));
    copy(g.operation, sizeof g.operation, json_path(q->context, "query", "operation_type"));
    copy(g.doc_extra, sizeof g.doc_extra, g_host->json_string(g_host->json_get(q->document, "extra")));
    *(int *)plan_state = 0;
    return SY_OK;
}
/* One target, then the end. */
static int probe_plan_next(void *instance, void *plan_state, sy_target *target) {
    (void)instance;
    int *done = plan_state;
    if (*done) return 0;
    *done = 1;
    target->node = "probe";
    target->host = "127.0.0.1";
    target->port = 1;
    return 1;
}

static const sy_plugin kProbe = {
    .abi_version = SY_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sy_plugin),
    .name = "test_request_probe",
    .roles = SY_ROLE_SELECTOR,
    .instance_size = 8,
    .plan_state_size = sizeof(int),
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
    if (sy_register_plugin(&kProbe, &err) != SY_OK) return -1;
    const char *config = "{\"selector\": {\"plugin\": \"test_request_probe\"}}";
    if (sy_router_new(config, strlen(config), NULL, &g_router, &err) != SY_OK) return -1;
    if (sy_request_new(g_router, &g_req, &err) != SY_OK) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    sy_request_free(g_req);
    sy_router_free(g_router);
    return 0;
}

/* Plans once so the probe records the request; the plan has one target. */
static void observe(void) {
    sy_plan_storage st;
    sy_plan *p = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_plan_init(g_router, g_req, &st, sizeof st, &p, &err), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.node, "probe");
    assert_int_equal(sy_plan_next(p, &t), 0);
    sy_plan_release(p);
}

static int parse(const char *json, sy_error *err) {
    *err = SY_STRUCT_INIT(sy_error);
    return sy_request_parse_json(g_req, json, strlen(json), err);
}

/* Parses a request that must be valid, then observes it. */
static void parse_ok(const char *json) {
    sy_error err;
    int rc = parse(json, &err);
    if (rc != SY_OK) fail_msg("%s: %s at '%s': %s", json, sy_status_name(rc), err.path, err.message);
    observe();
}

#define assert_i64(a, b)                                                                                      \
    do {                                                                                                      \
        int64_t a_ = (a), b_ = (b);                                                                           \
        if (a_ != b_) fail_msg("%s == %lld, want %lld", #a, (long long)a_, (long long)b_);                    \
    } while (0)

/* Cassandra's Murmur3Partitioner token of "test". */
#define TEST_TOKEN (-6017608668500074083LL)

static const uint32_t kAllFields = SY_REQ_KEY | SY_REQ_TOKEN | SY_REQ_KEYSPACE | SY_REQ_TABLE | SY_REQ_CONSISTENCY |
                                   SY_REQ_LWT | SY_REQ_NODE | SY_REQ_ENTITY | SY_REQ_CONTEXT;

/* ---------------------------------------------------------------- from JSON */

static void test_every_field(void **state) {
    (void)state;
    parse_ok("{\"key\": \"test\", \"keyspace\": \"shop\", \"table\": \"carts\", \"consistency\": \"local_quorum\","
             " \"lwt\": true, \"node\": \"api@host\", \"entity\": {\"type\": \"cart\", \"id\": 42},"
             " \"context\": {\"headers\": {\"x\": \"1\"}, \"session\": {\"x-hasura-role\": \"admin\"},"
             " \"query\": {\"operation_type\": \"query\", \"operation_name\": \"Q\"}}, \"extra\": \"kept\"}");
    assert_int_equal(g.fields, kAllFields);
    assert_int_equal(g.key_len, 4);
    assert_memory_equal(g.key, "test", 4);
    assert_i64(g.token, TEST_TOKEN);
    assert_string_equal(g.keyspace, "shop");
    assert_string_equal(g.table, "carts");
    assert_int_equal(g.consistency, SY_CONSISTENCY_LOCAL_QUORUM);
    assert_int_equal(g.lwt, 1);
    assert_string_equal(g.node, "api@host");
    assert_string_equal(g.entity_type, "cart");
    assert_string_equal(g.entity_id, "42"); /* a numeric id is its decimal text */
    assert_string_equal(g.header_x, "1");
    assert_string_equal(g.session_role, "admin");
    assert_string_equal(g.operation, "query");
    assert_true(g.has_document);
    assert_string_equal(g.doc_extra, "kept"); /* unknown keys stay for plugins */
}

static void test_key_and_token(void **state) {
    (void)state;
    /* the key's token is Cassandra's, and the public helper agrees */
    parse_ok("{\"key\": \"test\"}");
    assert_int_equal(g.fields, SY_REQ_KEY | SY_REQ_TOKEN);
    assert_i64(g.token, TEST_TOKEN);
    assert_i64(sy_murmur3_token("test", 4), TEST_TOKEN);

    /* an explicit token wins over the key's, as a string or a number */
    parse_ok("{\"key\": \"test\", \"token\": \"-42\"}");
    assert_i64(g.token, -42);
    assert_int_equal(g.fields, SY_REQ_KEY | SY_REQ_TOKEN);
    assert_memory_equal(g.key, "test", 4);
    parse_ok("{\"token\": 7, \"key\": \"test\"}"); /* whatever the order of the keys */
    assert_i64(g.token, 7);
    parse_ok("{\"token\": \"-9223372036854775808\"}");
    assert_i64(g.token, INT64_MIN);
    assert_int_equal(g.fields, SY_REQ_TOKEN);
    assert_true(g.key_is_null);
    parse_ok("{\"token\": -9007199254740991}");
    assert_i64(g.token, -9007199254740991LL);

    /* key_hex: the same bytes give the same token; binary keys keep NULs */
    parse_ok("{\"key_hex\": \"74657374\"}");
    assert_int_equal(g.key_len, 4);
    assert_memory_equal(g.key, "test", 4);
    assert_i64(g.token, TEST_TOKEN);
    parse_ok("{\"key_hex\": \"00FFab\"}");
    assert_int_equal(g.key_len, 3);
    assert_memory_equal(g.key, "\x00\xff\xab", 3);
    assert_i64(g.token, sy_murmur3_token("\x00\xff\xab", 3));
    /* an empty key is Cassandra's minimum token */
    parse_ok("{\"key_hex\": \"\"}");
    assert_int_equal(g.fields, SY_REQ_KEY | SY_REQ_TOKEN);
    assert_int_equal(g.key_len, 0);
    assert_i64(g.token, INT64_MIN);
}

static void test_consistency_names(void **state) {
    (void)state;
    static const struct {
        const char *name;
        uint32_t value;
    } kNames[] = {
        {"ANY", SY_CONSISTENCY_ANY},
        {"one", SY_CONSISTENCY_ONE},
        {"Two", SY_CONSISTENCY_TWO},
        {"THREE", SY_CONSISTENCY_THREE},
        {"quorum", SY_CONSISTENCY_QUORUM},
        {"aLL", SY_CONSISTENCY_ALL},
        {"Local_Quorum", SY_CONSISTENCY_LOCAL_QUORUM},
        {"each_quorum", SY_CONSISTENCY_EACH_QUORUM},
        {"SERIAL", SY_CONSISTENCY_SERIAL},
        {"local_serial", SY_CONSISTENCY_LOCAL_SERIAL},
        {"LOCAL_ONE", SY_CONSISTENCY_LOCAL_ONE},
    };
    for (size_t i = 0; i < sizeof kNames / sizeof kNames[0]; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"consistency\": \"%s\"}", kNames[i].name);
        parse_ok(json);
        assert_int_equal(g.fields, SY_REQ_CONSISTENCY);
        assert_int_equal(g.consistency, kNames[i].value);
    }
}

/* Absent fields are absent; a false lwt is still a given lwt. */
static void test_absent_and_false(void **state) {
    (void)state;
    parse_ok("{}");
    assert_int_equal(g.fields, 0);
    assert_true(g.key_is_null);
    assert_true(g.has_document);
    assert_false(g.has_context);
    parse_ok("{\"lwt\": false}");
    assert_int_equal(g.fields, SY_REQ_LWT);
    assert_int_equal(g.lwt, 0);
    parse_ok("{\"lwt\": true, \"context\": {}}");
    assert_int_equal(g.fields, SY_REQ_LWT | SY_REQ_CONTEXT);
    assert_int_equal(g.lwt, 1);
    assert_true(g.has_context);
    assert_string_equal(g.header_x, "(null)");
}

static void test_entity_ids(void **state) {
    (void)state;
    parse_ok("{\"entity\": {\"type\": \"user\", \"id\": \"u-1\"}}");
    assert_int_equal(g.fields, SY_REQ_ENTITY);
    assert_string_equal(g.entity_type, "user");
    assert_string_equal(g.entity_id, "u-1");
    parse_ok("{\"entity\": {\"id\": -7, \"type\": \"shard\"}}");
    assert_string_equal(g.entity_id, "-7");
    parse_ok("{\"entity\": {\"type\": \"t\", \"id\": 9007199254740991}}");
    assert_string_equal(g.entity_id, "9007199254740991");
    parse_ok("{\"entity\": {\"type\": \"t\", \"id\": 0}}");
    assert_string_equal(g.entity_id, "0");
}

typedef struct bad_request {
    const char *json;
    const char *path;
    const char *message;
} bad_request;

static const bad_request kBad[] = {
    {"{\"key\": 5}", "key", "expected a string, got a number"},
    {"{\"key\": null}", "key", "expected a string, got null"},
    {"{\"key\": \"a\", \"key_hex\": \"00\"}", "key_hex", "give either key or key_hex, not both"},
    {"{\"key_hex\": \"abc\"}", "key_hex", "odd number of hex digits"},
    {"{\"key_hex\": \"0g\"}", "key_hex", "invalid hex digit at offset 1"},
    {"{\"key_hex\": \"zz\"}", "key_hex", "invalid hex digit at offset 0"},
    {"{\"key_hex\": \"0x12\"}", "key_hex", "invalid hex digit at offset 1"},
    {"{\"key_hex\": []}", "key_hex", "expected a hex string, got an array"},
    {"{\"token\": \"12abc\"}", "token", "expected a signed 64-bit integer, got \"12abc\""},
    {"{\"token\": \"\"}", "token", "signed 64-bit integer"},
    {"{\"token\": \"9223372036854775808\"}", "token", "outside the signed 64-bit range"},
    {"{\"token\": 1.5}", "token", "not an exact integer"},
    {"{\"token\": 9007199254740993}", "token", "give 64-bit values as strings"},
    {"{\"token\": true}", "token", "expected an integer (string or number), got a boolean"},
    {"{\"keyspace\": 1}", "keyspace", "expected a string, got a number"},
    {"{\"table\": []}", "table", "expected a string, got an array"},
    {"{\"node\": {}}", "node", "expected a string, got an object"},
    {"{\"consistency\": \"STRONG\"}", "consistency", "expected a consistency level"},
    {"{\"consistency\": \"LOCAL-QUORUM\"}", "consistency", "expected a consistency level"},
    {"{\"consistency\": \"\"}", "consistency", "expected a consistency level"},
    {"{\"consistency\": 5}", "consistency", "expected a consistency level"},
    {"{\"lwt\": \"yes\"}", "lwt", "expected true or false, got a string"},
    {"{\"lwt\": 1}", "lwt", "expected true or false, got a number"},
    {"{\"entity\": {\"type\": \"cart\"}}", "entity.id", "an entity needs a type and an id"},
    {"{\"entity\": {\"id\": \"1\"}}", "entity.type", "an entity needs a type and an id"},
    {"{\"entity\": {}}", "entity.type", "needs a type and an id"},
    {"{\"entity\": {\"type\": 5, \"id\": \"1\"}}", "entity.type", "expected a string, got a number"},
    {"{\"entity\": {\"type\": \"c\", \"id\": true}}", "entity.id", "expected a string, got a boolean"},
    {"{\"entity\": {\"type\": \"c\", \"id\": 1.5}}", "entity.id", "not an exact integer"},
    {"{\"entity\": {\"type\": \"c\", \"id\": 1e300}}", "entity.id", "not an exact integer"},
    {"{\"entity\": {\"type\": \"c\", \"id\": \"1\", \"shard\": 2}}", "entity.shard", "unknown key"},
    {"{\"entity\": \"cart:1\"}", "entity", "expected an object, got a string"},
    {"{\"context\": []}", "context", "expected an object, got an array"},
    {"{\"context\": {\"headers\": \"x\"}}", "context.headers", "expected an object, got a string"},
    {"{\"context\": {\"session\": null}}", "context.session", "expected an object, got null"},
    {"{\"context\": {\"query\": [1]}}", "context.query", "expected an object, got an array"},
    {"{\"context\": {\"cookies\": {}}}", "context.cookies", "unknown key"},
    {"{\"context\": {\"headers\": {}, \"headers\": {}}}", "context.headers", "duplicate key"},
    {"[]", "", "a request is a JSON object, got an array"},
    {"\"key\"", "", "a request is a JSON object, got a string"},
    {"{\"key\": \"a\"", "", "line 1, column 12: unexpected end of input"},
    {"{\"key\": \"a\"} {}", "", "line 1, column 14, near '{'"},
    {"", "", "empty document"},
};

/* Each bad request is refused with its path, and leaves the request empty
 * even though a full request was parsed into it just before. */
static void test_bad_requests(void **state) {
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof kBad / sizeof kBad[0]; i++) {
        parse_ok("{\"key\": \"k\", \"keyspace\": \"ks\", \"table\": \"t\", \"consistency\": \"ONE\", \"lwt\": true,"
                 " \"node\": \"n\", \"entity\": {\"type\": \"t\", \"id\": \"i\"}, \"context\": {\"headers\": {\"x\": \"1\"}}}");
        assert_int_equal(g.fields, kAllFields);
        sy_error err;
        int rc = parse(kBad[i].json, &err);
        if (rc != SY_EREQUEST || err.code != rc || strcmp(err.path, kBad[i].path) != 0 ||
            !strstr(err.message, kBad[i].message)) {
            print_error("case %zu: %s\n  got  %s at '%s': %s\n  want SY_EREQUEST at '%s': ...%s...\n", i,
                        kBad[i].json, sy_status_name(rc), err.path, err.message, kBad[i].path, kBad[i].message);
            failures++;
        }
        observe();
        if (g.fields != 0 || !g.key_is_null || g.key_len != 0 || g.token != 0 || g.consistency != 0 || g.lwt != 0 ||
            strcmp(g.keyspace, "(null)") != 0 || strcmp(g.node, "(null)") != 0 ||
            strcmp(g.entity_type, "(null)") != 0 || g.has_context || g.has_document) {
            print_error("case %zu: %s left fields 0x%x, keyspace %s, token %lld\n", i, kBad[i].json, g.fields,
                        g.keyspace, (long long)g.token);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Only len bytes are parsed. */
static void test_length_is_respected(void **state) {
    (void)state;
    const char *json = "{\"key\": \"test\"}{\"key\": \"other\"} garbage";
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_parse_json(g_req, json, 15, &err), SY_OK);
    observe();
    assert_i64(g.token, TEST_TOKEN);
    /* a heap copy with no terminator (ASan catches an over-read) */
    char *exact = malloc(15);
    assert_non_null(exact);
    memcpy(exact, json, 15);
    assert_int_equal(sy_request_parse_json(g_req, exact, 15, &err), SY_OK);
    free(exact);
    observe();
    assert_memory_equal(g.key, "test", 4);
    assert_int_equal(sy_request_parse_json(g_req, json, 14, &err), SY_EREQUEST);
    assert_non_null(strstr(err.message, "unexpected end of input"));
}

/* ---------------------------------------------------------------- setters */

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
    const char *ctx = "{\"headers\": {\"x\": \"h\"}, \"query\": {\"operation_type\": \"mutation\"}}";
    assert_int_equal(sy_request_set_context_json(g_req, ctx, strlen(ctx), &err), SY_OK);
    observe();
    assert_int_equal(g.fields, kAllFields);
    assert_int_equal(g.key_len, 11);
    assert_memory_equal(g.key, "primary_key", 11);
    assert_i64(g.token, sy_murmur3_token("primary_key", 11));
    assert_string_equal(g.keyspace, "ks");
    assert_string_equal(g.table, "t");
    assert_int_equal(g.consistency, SY_CONSISTENCY_SERIAL);
    assert_int_equal(g.lwt, 1); /* any non-zero is true */
    assert_string_equal(g.node, "n@h");
    assert_string_equal(g.entity_type, "user");
    assert_string_equal(g.entity_id, "u1");
    assert_string_equal(g.header_x, "h");
    assert_string_equal(g.operation, "mutation");
    assert_false(g.has_document); /* nothing was parsed */

    /* the setters copy: the caller's buffers may change afterwards */
    char ks[8] = "mine";
    assert_int_equal(sy_request_set_keyspace(g_req, ks), SY_OK);
    strcpy(ks, "gone");
    /* an explicit token set after the key wins */
    assert_int_equal(sy_request_set_key(g_req, "test", 4), SY_OK);
    assert_int_equal(sy_request_set_token(g_req, -1), SY_OK);
    /* NULL removes a string field; UNSET removes the consistency */
    assert_int_equal(sy_request_set_table(g_req, NULL), SY_OK);
    assert_int_equal(sy_request_set_node(g_req, NULL), SY_OK);
    assert_int_equal(sy_request_set_entity(g_req, NULL, NULL), SY_OK);
    assert_int_equal(sy_request_set_consistency(g_req, SY_CONSISTENCY_UNSET), SY_OK);
    assert_int_equal(sy_request_set_lwt(g_req, 0), SY_OK);
    observe();
    assert_string_equal(g.keyspace, "mine");
    assert_i64(g.token, -1);
    assert_memory_equal(g.key, "test", 4);
    assert_int_equal(g.fields, SY_REQ_KEY | SY_REQ_TOKEN | SY_REQ_KEYSPACE | SY_REQ_LWT | SY_REQ_CONTEXT);
    assert_string_equal(g.table, "(null)");
    assert_string_equal(g.node, "(null)");
    assert_string_equal(g.entity_id, "(null)");
    assert_int_equal(g.consistency, SY_CONSISTENCY_UNSET);
    assert_int_equal(g.lwt, 0);

    /* an empty key is allowed (NULL with length 0 too): the minimum token */
    assert_int_equal(sy_request_set_key(g_req, NULL, 0), SY_OK);
    observe();
    assert_int_equal(g.key_len, 0);
    assert_i64(g.token, INT64_MIN);
}

/* keyspace_len is the name's length, and its word holding the NUL is zero
 * after it, even where a longer name was before (sy_request_view). */
static void test_keyspace_words(void **state) {
    (void)state;
    static const char *const names[] = {"a_keyspace_of_twenty_nine_ch", "ks", "seven_7", "eight_88", "", "sixteen_chars_16",
                                        "x"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        sy_request_clear(g_req);
        assert_int_equal(sy_request_set_keyspace(g_req, "a_much_longer_name_than_any_of_them_here"), SY_OK);
        assert_int_equal(sy_request_set_keyspace(g_req, names[i]), SY_OK);
        observe();
        assert_string_equal(g.keyspace, names[i]);
        assert_int_equal(g.keyspace_len, strlen(names[i]));
        assert_false(g.keyspace_word_dirty);
        /* the same through JSON */
        char json[128];
        snprintf(json, sizeof json, "{\"keyspace\": \"%s\"}", names[i]);
        parse_ok(json);
        assert_int_equal(g.keyspace_len, strlen(names[i]));
        assert_false(g.keyspace_word_dirty);
    }
    assert_int_equal(sy_request_set_keyspace(g_req, NULL), SY_OK);
    observe();
    assert_int_equal(g.keyspace_len, 0);
}

/* Misuse is SY_EINVAL and changes nothing. */
static void test_setter_misuse(void **state) {
    (void)state;
    sy_request_clear(g_req);
    assert_int_equal(sy_request_set_key(g_req, "k", 1), SY_OK);
    assert_int_equal(sy_request_set_consistency(g_req, SY_CONSISTENCY_QUORUM), SY_OK);
    assert_int_equal(sy_request_set_entity(g_req, "type", "id"), SY_OK);

    /* a NULL request */
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_set_key(NULL, "k", 1), SY_EINVAL);
    assert_int_equal(sy_request_set_token(NULL, 1), SY_EINVAL);
    assert_int_equal(sy_request_set_keyspace(NULL, "ks"), SY_EINVAL);
    assert_int_equal(sy_request_set_table(NULL, "t"), SY_EINVAL);
    assert_int_equal(sy_request_set_consistency(NULL, SY_CONSISTENCY_ONE), SY_EINVAL);
    assert_int_equal(sy_request_set_lwt(NULL, 1), SY_EINVAL);
    assert_int_equal(sy_request_set_node(NULL, "n"), SY_EINVAL);
    assert_int_equal(sy_request_set_entity(NULL, "t", "i"), SY_EINVAL);
    assert_int_equal(sy_request_set_context_json(NULL, "{}", 2, &err), SY_EINVAL);
    assert_int_equal(sy_request_parse_json(NULL, "{}", 2, &err), SY_EINVAL);
    assert_int_equal(err.code, SY_EINVAL);

    /* bad values */
    assert_int_equal(sy_request_set_consistency(g_req, SY_CONSISTENCY_LOCAL_ONE + 1), SY_EINVAL);
    assert_int_equal(sy_request_set_consistency(g_req, UINT32_MAX), SY_EINVAL);
    assert_int_equal(sy_request_set_entity(g_req, "only-type", NULL), SY_EINVAL);
    assert_int_equal(sy_request_set_entity(g_req, NULL, "only-id"), SY_EINVAL);
    assert_int_equal(sy_request_set_key(g_req, NULL, 3), SY_EINVAL);
    assert_int_equal(sy_request_set_context_json(g_req, NULL, 0, &err), SY_EINVAL);
    assert_int_equal(sy_request_set_context_json(g_req, "[1]", 3, &err), SY_EREQUEST);
    assert_string_equal(err.path, "context");
    assert_non_null(strstr(err.message, "expected an object"));
    assert_int_equal(sy_request_set_context_json(g_req, "{", 1, &err), SY_EREQUEST);
    assert_string_equal(err.path, "context");
    assert_non_null(strstr(err.message, "unexpected end of input"));
    observe();
    assert_int_equal(g.fields, SY_REQ_KEY | SY_REQ_TOKEN | SY_REQ_CONSISTENCY | SY_REQ_ENTITY);
    assert_int_equal(g.consistency, SY_CONSISTENCY_QUORUM);
    assert_string_equal(g.entity_type, "type");
    assert_memory_equal(g.key, "k", 1);
    assert_false(g.has_context);

    /* a failed parse clears what the setters set */
    assert_int_equal(sy_request_parse_json(g_req, NULL, 0, &err), SY_EINVAL);
    assert_int_equal(sy_request_parse_json(g_req, "{\"lwt\": 0}", 10, &err), SY_EREQUEST);
    observe();
    assert_int_equal(g.fields, 0);
}

static void test_clear_new_and_free(void **state) {
    (void)state;
    parse_ok("{\"key\": \"test\", \"keyspace\": \"ks\", \"context\": {\"headers\": {\"x\": \"1\"}}}");
    assert_int_equal(g.fields, SY_REQ_KEY | SY_REQ_TOKEN | SY_REQ_KEYSPACE | SY_REQ_CONTEXT);
    sy_request_clear(g_req);
    observe();
    assert_int_equal(g.fields, 0);
    assert_true(g.key_is_null);
    assert_int_equal(g.key_len, 0);
    assert_i64(g.token, 0);
    assert_string_equal(g.keyspace, "(null)");
    assert_false(g.has_context);
    assert_false(g.has_document);
    /* a context set by the setter goes too */
    assert_int_equal(sy_request_set_context_json(g_req, "{\"session\": {}}", 15, NULL), SY_OK);
    sy_request_clear(g_req);
    observe();
    assert_false(g.has_context);

    sy_request_clear(NULL); /* no-op */
    sy_request_free(NULL);  /* no-op */

    sy_request *q = (sy_request *)(uintptr_t)0x5e77;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(NULL, &q, &err), SY_EINVAL);
    assert_int_equal(err.code, SY_EINVAL);
    assert_ptr_equal(q, (sy_request *)(uintptr_t)0x5e77); /* untouched on failure */
    assert_int_equal(sy_request_new(g_router, NULL, &err), SY_EINVAL);
    q = NULL;
    assert_int_equal(sy_request_new(g_router, &q, &err), SY_OK);
    assert_non_null(q);
    sy_request_free(q);
}

/* A request stays valid across many reuses, with growing and shrinking keys. */
static void test_reuse(void **state) {
    (void)state;
    char key[300];
    for (int i = 0; i < 300; i += 7) {
        memset(key, 'a' + i % 26, (size_t)i);
        assert_int_equal(sy_request_set_key(g_req, key, (size_t)i), SY_OK);
        observe();
        assert_int_equal(g.key_len, (size_t)i);
        assert_memory_equal(g.key, key, (size_t)(i < 64 ? i : 64));
        assert_i64(g.token, sy_murmur3_token(key, (size_t)i));
    }
}

/* ---------------------------------------------------------------- known bugs */

/* BUG (core/request/request.cpp:333-348): sy_request_set_context_json only
 * checks that the context is an object. The same context inside a parsed
 * request is checked for its keys (headers, session, query) and that each is
 * an object, so the setter lets through what the parser refuses. */
static void test_set_context_json_validates_like_parse(void **state) {
    (void)state;
    sy_request_clear(g_req);
    sy_error err = SY_STRUCT_INIT(sy_error);
    const char *unknown = "{\"cookies\": {}}";
    assert_int_equal(sy_request_set_context_json(g_req, unknown, strlen(unknown), &err), SY_EREQUEST);
    assert_string_equal(err.path, "context.cookies");
    const char *not_object = "{\"headers\": \"x\"}";
    assert_int_equal(sy_request_set_context_json(g_req, not_object, strlen(not_object), &err), SY_EREQUEST);
    assert_string_equal(err.path, "context.headers");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_key_and_token),
        cmocka_unit_test(test_consistency_names),
        cmocka_unit_test(test_absent_and_false),
        cmocka_unit_test(test_entity_ids),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_setters),
        cmocka_unit_test(test_keyspace_words),
        cmocka_unit_test(test_setter_misuse),
        cmocka_unit_test(test_clear_new_and_free),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_set_context_json_validates_like_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
