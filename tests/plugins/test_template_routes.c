/* template_routes through the public API: Hasura's documented templates,
 * the meaning of each result, load-time checks, the test interface, bypass
 * rules, allocation-free planning and planning from many threads. */
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

#include "support/counting_alloc.h"
#include <switchyard/template_routes.h>

static const char kEndpoints[] =
    "\"primary\": {\"host\": \"10.0.0.1\", \"port\": 5432, \"url\": \"postgres://primary/db\"},"
    "\"read_replicas\": [{\"name\": \"r1\", \"host\": \"10.0.0.2\", \"port\": 5432},"
    "                    {\"name\": \"r2\", \"host\": \"10.0.0.3\", \"port\": 5432}],"
    "\"connection_set\": [{\"name\": \"tenant_a\", \"host\": \"10.1.0.1\", \"port\": 5432, \"url\": \"postgres://a/db\"},"
    "                     {\"name\": \"tenant_b\", \"host\": \"10.2.0.1\", \"port\": 5432}]";

/* A router over template `t` (JSON-escaped) and `extra` config members. */
static int make(const char *t, const char *extra, const sy_router_options *o, sy_router **out, sy_error *err) {
    static char buf[1 << 14];
    int n = snprintf(buf, sizeof buf,
                     "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"template_routes\", \"config\": "
                     "{\"template\": \"%s\", %s}}}",
                     plugin_dir(), t, extra ? extra : kEndpoints);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    *err = (sy_error){.struct_size = sizeof *err};
    *out = NULL;
    return sy_router_new(buf, (size_t)n, o, out, err);
}

static sy_router *must(const char *t, const char *extra) {
    sy_router *r;
    sy_error err;
    int rc = make(t, extra, NULL, &r, &err);
    if (rc != SY_OK) fail_msg("%s: %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

/* Plans a request given as JSON; writes "node node ..." into out. */
static int plan(sy_router *r, const char *request, char *out, size_t cap, sy_error *err) {
    sy_request *q = NULL;
    *err = (sy_error){.struct_size = sizeof *err};
    assert_int_equal(sy_request_new(r, &q, err), SY_OK);
    int rc = sy_request_parse_json(q, request, strlen(request), err);
    if (rc != SY_OK) fail_msg("request: %s", err->message);
    sy_plan_storage st;
    sy_plan *p;
    rc = sy_plan_init(r, q, &st, sizeof st, &p, err);
    out[0] = 0;
    if (rc == SY_OK) {
        sy_target t = SY_STRUCT_INIT(sy_target);
        while (sy_plan_next(p, &t) == 1) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s%s", l ? " " : "", t.node);
            assert_string_equal(t.via[0], "template_routes");
        }
        sy_plan_release(p);
    }
    sy_request_free(q);
    return rc;
}

static void expect_plan(sy_router *r, const char *request, const char *want) {
    char got[256];
    sy_error err;
    int rc = plan(r, request, got, sizeof got, &err);
    if (rc != SY_OK) fail_msg("%s: %s: %s", request, sy_status_name(rc), err.message);
    if (strcmp(got, want) != 0) fail_msg("%s: planned '%s', expected '%s'", request, got, want);
}

#define CTX(headers, session, op) \
    "{\"context\": {\"headers\": " headers ", \"session\": " session ", \"query\": {\"operation_type\": \"" op "\"}}}"

/* ---------------------------------------------------------------- Hasura's documentation */

/* dynamic-db-connection.mdx, "no stale reads": a header sends reads to the
 * primary; other reads go to the default (the replicas). Written as the
 * docs mean it: {{ end }} present, and ['no-stale-read'] as a key. */
static void test_doc_no_stale_reads(void **state) {
    (void)state;
    sy_router *r = must("{{ if ($.request.query.operation_type == \\\"query\\\") && "
                        "($.request.headers?['no-stale-read'] == \\\"true\\\") }} {{$.primary}} "
                        "{{ else }} {{$.default}} {{ end }}",
                        NULL);
    /* header names are lowercased, whatever their spelling */
    expect_plan(r, CTX("{\"No-Stale-Read\": \"true\"}", "{}", "query"), "primary");
    char got[64];
    sy_error err;
    assert_int_equal(plan(r, CTX("{}", "{}", "query"), got, sizeof got, &err), SY_OK);
    assert_true(!strcmp(got, "r1 r2") || !strcmp(got, "r2 r1"));
    expect_plan(r, CTX("{}", "{}", "mutation"), "primary"); /* default: writes to the primary */
    sy_router_free(r);
}

/* "Connection sets": route by role and tenant. */
static void test_doc_tenant_connection_set(void **state) {
    (void)state;
    sy_router *r = must("{{ if $.request.session?['x-hasura-role'] == \\\"manager\\\" }} {{$.primary}} "
                        "{{ elif $.request.session?['x-hasura-tenant-id'] == \\\"a\\\" }} {{$.connection_set.tenant_a}} "
                        "{{ elif $.request.session?['x-hasura-tenant-id'] == \\\"b\\\" }} {{$.connection_set.tenant_b}} "
                        "{{ else }} {{$.default}} {{ end }}",
                        NULL);
    expect_plan(r, CTX("{}", "{\"X-Hasura-Role\": \"manager\"}", "query"), "primary");
    expect_plan(r, CTX("{}", "{\"x-hasura-tenant-id\": \"a\"}", "query"), "tenant_a");
    expect_plan(r, CTX("{}", "{\"x-hasura-tenant-id\": \"b\"}", "mutation"), "tenant_b");
    sy_router_free(r);
}

/* "Operation type split": queries to replicas, the rest to the primary. */
static void test_doc_operation_split(void **state) {
    (void)state;
    sy_router *r = must("{{ if $.request.query.operation_type == \\\"query\\\" }} {{$.read_replicas}} "
                        "{{ else }} {{$.primary}} {{ end }}",
                        NULL);
    char got[64];
    sy_error err;
    assert_int_equal(plan(r, CTX("{}", "{}", "query"), got, sizeof got, &err), SY_OK);
    assert_true(!strcmp(got, "r1 r2") || !strcmp(got, "r2 r1"));
    expect_plan(r, CTX("{}", "{}", "subscription"), "primary");
    expect_plan(r, CTX("{}", "{}", "mutation"), "primary");
    sy_router_free(r);
}

/* ---------------------------------------------------------------- results */

static void test_result_meanings(void **state) {
    (void)state;
    char got[64];
    sy_error err;
    /* a mutation sent to read_replicas is an error, not a silent write */
    sy_router *r = must("{{ $.read_replicas }}", NULL);
    assert_int_equal(plan(r, CTX("{}", "{}", "mutation"), got, sizeof got, &err), SY_EREQUEST);
    assert_non_null(strstr(err.message, "mutation"));
    sy_router_free(r);
    /* a bare member name and Hasura's object both select the member */
    r = must("\\\"tenant_b\\\"", NULL);
    expect_plan(r, CTX("{}", "{}", "query"), "tenant_b");
    sy_router_free(r);
    r = must("{\\\"type\\\": \\\"connection_set\\\", \\\"name\\\": \\\"tenant_a\\\"}", NULL);
    expect_plan(r, CTX("{}", "{}", "query"), "tenant_a");
    sy_router_free(r);
    /* a member the config does not have, built at run time */
    r = must("{\\\"type\\\": \\\"connection_set\\\", \\\"name\\\": \\\"{{$.request.session.tenant}}\\\"}", NULL);
    assert_int_equal(plan(r, CTX("{}", "{\"tenant\": \"zz\"}", "query"), got, sizeof got, &err), SY_EREQUEST);
    assert_non_null(strstr(err.message, "connection_set member 'zz', which is not configured"));
    sy_router_free(r);
    /* anything else is named */
    r = must("[1, 2]", NULL);
    assert_int_equal(plan(r, CTX("{}", "{}", "query"), got, sizeof got, &err), SY_EREQUEST);
    assert_non_null(strstr(err.message, "yielded [1,2]"));
    sy_router_free(r);
    /* default without replicas: the primary even for reads */
    r = must("{{ $.default }}", "\"primary\": {\"host\": \"10.0.0.1\", \"port\": 5432}");
    expect_plan(r, CTX("{}", "{}", "query"), "primary");
    sy_router_free(r);
    /* an evaluation error names the Kriti error and its span */
    r = must("{{ $.request.headers.tenant }}", NULL);
    assert_int_equal(plan(r, CTX("{}", "{}", "query"), got, sizeof got, &err), SY_EREQUEST);
    assert_string_equal(err.message,
                        "template: Attribute Error at line 0, columns 4-28: 'Object' has no attritubte 'tenant'.");
    sy_router_free(r);
}

static void test_replica_draw_is_uniform_and_seeded(void **state) {
    (void)state;
    const char *cfg = "\"seed\": 42, \"primary\": {\"host\": \"10.0.0.1\", \"port\": 5432},"
                      "\"read_replicas\": [{\"name\": \"r1\", \"host\": \"10.0.0.2\", \"port\": 1},"
                      "{\"name\": \"r2\", \"host\": \"10.0.0.3\", \"port\": 1},"
                      "{\"name\": \"r3\", \"host\": \"10.0.0.4\", \"port\": 1}]";
    char seq_a[4096] = "", seq_b[4096] = "";
    for (int run = 0; run < 2; run++) {
        sy_router *r = must("{{ $.read_replicas }}", cfg);
        int first[3] = {0};
        for (int i = 0; i < 300; i++) {
            char got[64];
            sy_error err;
            assert_int_equal(plan(r, CTX("{}", "{}", "query"), got, sizeof got, &err), SY_OK);
            assert_int_equal(strlen(got), 8); /* every replica, each once */
            first[got[1] - '1']++;
            char *seq = run ? seq_b : seq_a;
            size_t l = strlen(seq);
            if (l + 2 < 4096) {
                seq[l] = got[1];
                seq[l + 1] = 0;
            }
        }
        for (int k = 0; k < 3; k++) assert_in_range(first[k], 60, 140); /* 100 expected */
        sy_router_free(r);
    }
    assert_string_equal(seq_a, seq_b); /* the same seed, the same draws */
}

static void test_bypass_rule(void **state) {
    (void)state;
    char extra[2048];
    snprintf(extra, sizeof extra, "%s, \"bypass\": [{\"session\": \"X-Hasura-Role\", \"equals\": \"admin\"},"
             " {\"header\": \"x-primary\", \"equals\": \"1\"}]", kEndpoints);
    sy_router *r = must("{{ $.connection_set.tenant_a }}", extra);
    expect_plan(r, CTX("{}", "{\"x-hasura-role\": \"admin\"}", "query"), "primary");
    expect_plan(r, CTX("{\"X-Primary\": \"1\"}", "{}", "query"), "primary");
    expect_plan(r, CTX("{}", "{\"x-hasura-role\": \"user\"}", "query"), "tenant_a");
    sy_router_free(r);
}

/* A map no path of the template reaches is only checked, not built; one it
 * can reach whole (`$`, `$.request`) is built, names lowercased. */
static void test_maps_a_template_cannot_read(void **state) {
    (void)state;
    sy_router *r = must("{{ if $.request.query.operation_type == \\\"query\\\" }} {{$.read_replicas}} "
                        "{{ else }} {{$.primary}} {{ end }}",
                        NULL);
    char got[256];
    sy_error err;
    assert_int_equal(plan(r, CTX("{\"X-A\": 1}", "{}", "query"), got, sizeof got, &err), SY_EREQUEST);
    assert_string_equal(err.message, "context.headers[\"X-A\"]: expected a string");
    assert_int_equal(plan(r, CTX("{}", "{\"k\": null}", "query"), got, sizeof got, &err), SY_EREQUEST);
    assert_string_equal(err.message, "context.session[\"k\"]: expected a string");
    expect_plan(r, CTX("{\"X-A\": \"1\"}", "{\"K\": \"v\"}", "mutation"), "primary");
    sy_router_free(r);

    /* the last one mixes a bound header with `$.request` whole: `$` is built too */
    static const char *const whole[] = {
        "{{ $.request }}", "{{ $ }}",
        "{{ if $.request.headers?['x-a'] == \\\"1\\\" }} {{ $.request }} {{ else }} {{$.primary}} {{ end }}"};
    for (size_t i = 0; i < 3; i++) {
        r = must(whole[i], NULL);
        assert_int_equal(plan(r, CTX("{\"X-A\": \"1\"}", "{\"K\": \"v\"}", "query"), got, sizeof got, &err),
                         SY_EREQUEST);
        if (!strstr(err.message, "\"headers\":{\"x-a\":\"1\"},\"session\":{\"k\":\"v\"}"))
            fail_msg("%s: %s", whole[i], err.message);
        sy_router_free(r);
    }
}

/* Names are lowercased 8 bytes at a time: every capital A-Z and nothing
 * else, whatever its position (the bytes around 'A' and 'Z', a UTF-8 letter
 * and a name longer than the 128-byte scratch included). */
static void test_names_lowercased_exactly(void **state) {
    (void)state;
    sy_router *r = must("{{ if $.request.headers?[\\\"@az[`azé^_-xyz\\\"] == \\\"1\\\" }} {{$.primary}} "
                        "{{ elif $.request.headers?[\\\"@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-xyz"
                        "@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-xyz\\\"] == \\\"2\\\" }} "
                        "{{$.connection_set.tenant_a}} {{ else }} {{$.connection_set.tenant_b}} {{ end }}",
                        NULL);
    expect_plan(r, CTX("{\"@AZ[`azé^_-XYZ\": \"1\"}", "{}", "query"), "primary");
    expect_plan(r, CTX("{\"@az[`AZé^_-xYz\": \"1\"}", "{}", "query"), "primary");
    /* 'É' is not ASCII: it stays as it is, so this name differs */
    expect_plan(r, CTX("{\"@AZ[`AZÉ^_-XYZ\": \"1\"}", "{}", "query"), "tenant_b");
    expect_plan(r, CTX("{\"@AZ[`AZé^_-XYZ@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-xyz"
                       "@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-xyz@az[`azé^_-XyZ\": \"2\"}",
                       "{}", "query"),
                "tenant_a");
    sy_router_free(r);
}

/* Lookups the plugin answers from the request while it scans it (bound
 * chains) mean exactly what the lookups on Hasura's context mean: names as
 * lowercased, the last of two spellings, a template key with a capital
 * never found, and a required value that is absent failing with the
 * lookup's own error. */
static void test_bound_values_as_lookups(void **state) {
    (void)state;
    sy_router *r = must("{{ if $.request.headers?['x-t'] == \\\"a\\\" }} {{$.connection_set.tenant_a}} "
                        "{{ elif $.request.headers?['X-T'] == \\\"a\\\" }} {{$.primary}} "
                        "{{ elif $.request.session?['x-hasura-role'] == \\\"b\\\" }} {{$.connection_set.tenant_b}} "
                        "{{ else }} {{$.primary}} {{ end }}",
                        NULL);
    expect_plan(r, CTX("{\"X-T\": \"a\"}", "{}", "query"), "tenant_a");
    expect_plan(r, CTX("{\"x-t\": \"b\", \"X-t\": \"a\"}", "{}", "query"), "tenant_a");
    expect_plan(r, CTX("{\"x-t\": \"a\", \"X-t\": \"b\"}", "{\"X-Hasura-Role\": \"b\"}", "query"), "tenant_b");
    expect_plan(r, CTX("{\"x-tt\": \"a\", \"x-\": \"a\"}", "{\"x-hasura-rol\": \"b\"}", "query"), "primary");
    sy_router_free(r);

    r = must("{{ if $.request.headers['x-tenant'] == \\\"a\\\" }} {{$.connection_set.tenant_a}} "
             "{{ else }} {{$.connection_set.tenant_b}} {{ end }}",
             NULL);
    expect_plan(r, CTX("{\"X-Tenant\": \"a\"}", "{}", "query"), "tenant_a");
    expect_plan(r, CTX("{\"x-tenant\": \"c\"}", "{}", "query"), "tenant_b");
    char got[256];
    sy_error err;
    assert_int_equal(plan(r, CTX("{\"x-other\": \"a\"}", "{}", "query"), got, sizeof got, &err), SY_EREQUEST);
    if (!strstr(err.message, "Attribute Error") || !strstr(err.message, "'Object' has no attritubte 'x-tenant'."))
        fail_msg("%s", err.message);
    sy_router_free(r);

    r = must("{{ if $.request.query.operation_type == \\\"mutation\\\" }} {{$.primary}} "
             "{{ else }} {{$.read_replicas}} {{ end }}",
             NULL);
    expect_plan(r, CTX("{}", "{}", "mutation"), "primary");
    assert_int_equal(plan(r, "{\"context\": {\"headers\": {}}}", got, sizeof got, &err), SY_EREQUEST);
    if (!strstr(err.message, "'Object' has no attritubte 'query'.")) fail_msg("%s", err.message);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- config */

static void test_config_errors(void **state) {
    (void)state;
    static const struct {
        const char *t, *extra, *path, *message;
        int code;
    } cases[] = {
        {"{{ $.connection_set.tenant_c }}", NULL, "selector.config.template",
         "uses $.connection_set.tenant_c (line 0, columns 4-29) but connection_set has no member 'tenant_c'", SY_ECONFIG},
        {"{{ $.read_replicas }}", "\"primary\": {\"host\": \"h\", \"port\": 1}", "selector.config.template",
         "no read_replicas are configured", SY_ECONFIG},
        {"{{ if }}", NULL, "selector.config.template", "Parse Error at line 0", SY_ECONFIG},
        {"x", "\"primary\": {\"host\": \"h\", \"port\": 1}, \"connection_set\": [{\"name\": \"a\", \"host\": \"h\", \"port\": 1},"
              " {\"name\": \"a\", \"host\": \"h\", \"port\": 2}]",
         "selector.config.connection_set[1].name", "'a' is also the name of connection_set[0]", SY_ECONFIG},
        {"x", "\"primary\": {\"host\": \"h\", \"port\": 1}, \"connection_set\": [{\"name\": \"\", \"host\": \"h\", \"port\": 1}]",
         "selector.config.connection_set[0].name", "expected a non-empty string", SY_ECONFIG},
        {"x", "\"primary\": {\"host\": \"h\", \"port\": 0}", "selector.config.primary.port", "1..65535", SY_ECONFIG},
        {"x", "\"read_replicas\": []", "selector.config.primary", "required", SY_ECONFIG},
        {"x", "\"primary\": {\"host\": \"h\", \"port\": 1, \"url_from_env\": \"SY_TEST_SURELY_UNSET\"}",
         "selector.config.primary.url_from_env", "'SY_TEST_SURELY_UNSET' is not set", SY_ECONFIG},
        {"x", "\"primary\": {\"host\": \"h\", \"port\": 1}, \"colour\": 1", "selector.config.colour", "unknown key", SY_ECONFIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sy_router *r;
        sy_error err;
        int rc = make(cases[i].t, cases[i].extra, NULL, &r, &err);
        if (rc != cases[i].code || strcmp(err.path, cases[i].path) || !strstr(err.message, cases[i].message))
            fail_msg("case %zu: %s at '%s': %s", i, sy_status_name(rc), err.path, err.message);
        assert_null(r);
    }
    /* url_from_env, set: handed through in the target */
    setenv("SY_TEST_DB_URL", "postgres://from-env/db", 1);
    sy_router *r = must("{{ $.primary }}", "\"primary\": {\"host\": \"h\", \"port\": 1, \"url_from_env\": \"SY_TEST_DB_URL\"}");
    sy_request *q;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.url, "postgres://from-env/db");
    sy_plan_release(p);
    sy_request_free(q);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- test interface */

static void test_interface(void **state) {
    (void)state;
    sy_router *r = must("{{ if $.request.session?['x-hasura-tenant-id'] == \\\"a\\\" }} {{$.connection_set.tenant_a}} "
                        "{{ else }} {{$.default}} {{ end }}", NULL);
    const sy_template_routes_test *t;
    void *inst;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_get_interface(r, "template_routes", SY_TEMPLATE_ROUTES_TEST, 1, (const void **)&t,
                                             &inst, &err), SY_OK);
    char out[512];
    size_t n;
    const char *req = CTX("{}", "{\"x-hasura-tenant-id\": \"a\"}", "query");
    assert_int_equal(t->resolve(inst, req, strlen(req), NULL, 0, out, sizeof out, &n, &err), SY_OK);
    assert_string_equal(out, "{\"routing_to\":\"connection_set\",\"value\":\"tenant_a\","
                             "\"yielded\":{\"type\":\"connection_set\",\"name\":\"tenant_a\"}}");
    assert_int_equal(n, strlen(out));
    /* -t: another template, checked the same way, the config's kept */
    const char *other = "{{ $.default }}";
    assert_int_equal(t->resolve(inst, req, strlen(req), other, strlen(other), out, sizeof out, &n, &err), SY_OK);
    assert_string_equal(out, "{\"routing_to\":\"default\",\"value\":null,\"yielded\":\"DEFAULT\"}");
    const char *bad = "{{ $.connection_set.zz }}";
    assert_int_equal(t->resolve(inst, req, strlen(req), bad, strlen(bad), out, sizeof out, &n, &err), SY_ECONFIG);
    /* too small a buffer: the size needed */
    assert_int_equal(t->resolve(inst, req, strlen(req), NULL, 0, out, 10, &n, &err), SY_ETOOSMALL);
    assert_true(n > 10);
    assert_int_equal(t->resolve(inst, "{", 1, NULL, 0, out, sizeof out, &n, &err), SY_EREQUEST);
    assert_int_equal(t->resolve(NULL, req, strlen(req), NULL, 0, out, sizeof out, &n, &err), SY_EINVAL);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- allocations, threads */


static void test_plans_allocate_nothing(void **state) {
    (void)state;
    sy_allocator a;
    sy_router_options o = counting_options(&a);
    sy_router *r;
    sy_error err;
    assert_int_equal(make("{{ if $.request.headers?['no-stale-read'] == \\\"true\\\" }} {{$.primary}} "
                          "{{ elif $.request.session?['x-hasura-tenant-id'] == \\\"a\\\" }} {{$.connection_set.tenant_a}} "
                          "{{ else }} {{$.default}} {{ end }}",
                          NULL, &o, &r, &err), SY_OK);
    sy_request *q;
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    const char *req = CTX("{\"Authorization\": \"x\", \"No-Stale-Read\": \"false\"}", "{\"x-hasura-tenant-id\": \"a\", \"x-hasura-role\": \"user\"}", "query");
    assert_int_equal(sy_request_parse_json(q, req, strlen(req), &err), SY_OK);
    for (int i = 0; i < 3; i++) {
        size_t before = counting_allocations();
        sy_plan_storage st;
        sy_plan *p;
        assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
        sy_target t = SY_STRUCT_INIT(sy_target);
        assert_int_equal(sy_plan_next(p, &t), 1);
        assert_string_equal(t.node, "tenant_a");
        assert_string_equal(t.url, "postgres://a/db");
        sy_plan_release(p);
        assert_int_equal(counting_allocations(), before);
    }
    sy_request_free(q);
    sy_router_free(r);
}

static void *planner(void *arg) {
    sy_router *r = arg;
    for (int i = 0; i < 2000; i++) {
        char got[64];
        sy_error err;
        int tenant = i % 2;
        if (plan(r, tenant ? CTX("{}", "{\"x-hasura-tenant-id\": \"a\"}", "query") : CTX("{}", "{}", "mutation"), got,
                 sizeof got, &err) != SY_OK)
            abort();
        if (strcmp(got, tenant ? "tenant_a" : "primary")) abort();
    }
    return NULL;
}

static void test_many_threads(void **state) {
    (void)state;
    sy_router *r = must("{{ if $.request.session?['x-hasura-tenant-id'] == \\\"a\\\" }} {{$.connection_set.tenant_a}} "
                        "{{ else }} {{$.default}} {{ end }}", NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, planner, r), 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    sy_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_no_stale_reads),
        cmocka_unit_test(test_doc_tenant_connection_set),
        cmocka_unit_test(test_doc_operation_split),
        cmocka_unit_test(test_result_meanings),
        cmocka_unit_test(test_replica_draw_is_uniform_and_seeded),
        cmocka_unit_test(test_bypass_rule),
        cmocka_unit_test(test_maps_a_template_cannot_read),
        cmocka_unit_test(test_names_lowercased_exactly),
        cmocka_unit_test(test_bound_values_as_lookups),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_interface),
        cmocka_unit_test(test_plans_allocate_nothing),
        cmocka_unit_test(test_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
