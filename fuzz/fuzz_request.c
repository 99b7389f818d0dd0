/*
 * Fuzz target: the request parser (sy_request_parse_json, and
 * sy_request_set_context_json on the same bytes).
 *
 * Each input is parsed into a request of a router built from one of a few
 * fixed configs (chosen by a hash of the input; a new router per run, so
 * the leak check is exact), then planned. It checks that
 *  - a failed parse is SY_EREQUEST (or SY_ENOMEM / SY_ELIMIT) with a
 *    message, and leaves a request that can be cleared and planned;
 *  - the same bytes parsed again into the used request give the same
 *    answer, and the plans over it end and allocate nothing;
 *  - an injected allocation failure (the input runs once without failures,
 *    as the reference, and, when its schedule says so, once with them)
 *    either changes nothing or comes back as SY_ENOMEM;
 *  - everything allocated is freed.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOPOLOGY                                                                           \
    "\"topology\": {\"nodes\": ["                                                          \
    "{\"id\": \"n1\", \"host\": \"10.0.1.1\", \"port\": 9042, \"datacenter\": \"dc1\","    \
    " \"rack\": \"r1\", \"shards\": 2, \"tokens\": [\"-6148914691236517206\", 42]},"        \
    "{\"id\": \"n2\", \"host\": \"10.0.1.2\", \"port\": 9042, \"datacenter\": \"dc1\","    \
    " \"rack\": \"r2\", \"tokens\": [0]},"                                                 \
    "{\"id\": \"n3\", \"host\": \"10.0.2.1\", \"port\": 9042, \"datacenter\": \"dc2\","    \
    " \"rack\": \"r1\", \"tokens\": [\"6148914691236517206\"]},"                           \
    "{\"id\": \"n4\", \"host\": \"10.0.2.2\", \"port\": 9142, \"datacenter\": \"dc2\","    \
    " \"rack\": \"r2\", \"tokens\": [\"3074457345618258603\"], \"up\": false}],"            \
    " \"keyspaces\": ["                                                                    \
    "{\"name\": \"ks\", \"strategy\": \"NetworkTopologyStrategy\","                        \
    " \"replication\": {\"dc1\": 2, \"dc2\": 2}},"                                         \
    "{\"name\": \"simple\", \"strategy\": \"SimpleStrategy\","                             \
    " \"replication\": {\"replication_factor\": 2}}]}"

#define ADDRESS_MAP                                                                        \
    "\"translators\": [{\"plugin\": \"address_map\","                                      \
    " \"config\": {\"map\": {\"10.0.1.1:9042\": \"127.0.0.1:19042\","                      \
    " \"10.0.2.1:9042\": \"[::1]:29042\"}}}]"

static const char *const configs[] = {
    "{" TOPOLOGY ", \"selector\": {\"plugin\": \"default_policy\", \"config\": {"
    "\"preferred_datacenter\": \"dc1\", \"preferred_rack\": \"r1\","
    " \"permit_dc_failover\": true, \"seed\": 7}}, " ADDRESS_MAP "}",

    "{" TOPOLOGY ", \"selector\": {\"plugin\": \"default_policy\", \"config\": {"
    "\"mode\": \"round_robin\", \"seed\": 3}}}",

    "{" TOPOLOGY ", \"selector\": {\"plugin\": \"default_policy\", \"config\": {"
    "\"mode\": \"single_target\", \"target\": \"n2\"}}, " ADDRESS_MAP "}",

    "{" TOPOLOGY ", \"selector\": {\"plugin\": \"default_policy\", \"config\": {"
    "\"token_aware\": false, \"preferred_datacenter\": \"dc2\", \"seed\": 1,"
    " \"latency_awareness\": {\"exclusion_threshold\": 2.0, \"minimum_measurements\": 1}}}}",

    "{" TOPOLOGY ", \"selector\": {\"plugin\": \"default_policy\", \"config\": {"
    "\"enable_shuffling\": false, \"shard_ignore_msb\": 8}}, " ADDRESS_MAP "}",
};

static void check_parse_error(const char *what, int rc, const sy_error *err)
{
    syf_check_error(what, rc, err);
    if (rc != SY_EREQUEST && rc != SY_ENOMEM && rc != SY_ELIMIT)
        syf_fail("%s: failed with %s (%s: %s); expected SY_EREQUEST", what, sy_status_name(rc),
                 err->path, err->message);
}

struct outcome {
    int rc; /* sy_request_parse_json */
    sy_error err;
    unsigned long injected;
    int ctx_rc; /* sy_request_set_context_json */
    sy_error ctx_err;
    unsigned long ctx_injected;
};

static void run(const uint8_t *data, size_t size, const char *config, int inject,
                struct outcome *o)
{
    memset(o, 0, sizeof *o);
    o->err.struct_size = (uint32_t)sizeof(sy_error);
    o->ctx_err.struct_size = (uint32_t)sizeof(sy_error);
    const char *json = (const char *)data;

    sy_router *router = NULL;
    sy_request *req = NULL;
    sy_error err = { .struct_size = (uint32_t)sizeof(sy_error) };
    int rc = sy_router_new(config, strlen(config), syf_options(), &router, &err);
    if (rc != SY_OK)
        syf_fail("fixture router: %s at %s: %s", sy_status_name(rc), err.path, err.message);
    rc = sy_request_new(router, &req, &err);
    if (rc != SY_OK) syf_fail("sy_request_new: %s: %s", sy_status_name(rc), err.message);

    unsigned long before = syf_injected();
    syf_arm(inject);
    o->rc = sy_request_parse_json(req, json, size, &o->err);
    syf_arm(0);
    o->injected = syf_injected() - before;
    syf_note("sy_request_parse_json: %s (%s: %s)", sy_status_name(o->rc),
             o->rc ? o->err.path : "", o->rc ? o->err.message : "");
    if (o->rc == SY_OK) {
        syf_plan(router, req);
    } else {
        check_parse_error("sy_request_parse_json", o->rc, &o->err);
        syf_plan(router, req); /* whatever a failed parse left must plan safely */
        sy_request_clear(req);
        syf_plan(router, req);
    }

    /* Again into the used request, without failures: the same answer as
     * the reference. */
    sy_error err2 = { .struct_size = (uint32_t)sizeof(sy_error) };
    int rc2 = sy_request_parse_json(req, json, size, &err2);
    if (!inject) syf_check_outcome("sy_request_parse_json (again)", o->rc, &o->err, rc2, &err2, 0);
    else if (rc2 != SY_OK) check_parse_error("sy_request_parse_json (again)", rc2, &err2);
    syf_plan(router, req);

    /* The same bytes as a request context. */
    before = syf_injected();
    syf_arm(inject);
    o->ctx_rc = sy_request_set_context_json(req, json, size, &o->ctx_err);
    syf_arm(0);
    o->ctx_injected = syf_injected() - before;
    syf_note("sy_request_set_context_json: %s (%s: %s)", sy_status_name(o->ctx_rc),
             o->ctx_rc ? o->ctx_err.path : "", o->ctx_rc ? o->ctx_err.message : "");
    if (o->ctx_rc != SY_OK) check_parse_error("sy_request_set_context_json", o->ctx_rc, &o->ctx_err);
    syf_plan(router, req);

    sy_request_free(req);
    sy_router_free(router);
    syf_end();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SYF_MAX_INPUT) return 0;
    syf_init();
    int inject = syf_begin(data, size);
    size_t which = (size_t)(syf_hash(data, size) % (sizeof configs / sizeof configs[0]));
    syf_note("router config %zu", which);

    struct outcome ref;
    run(data, size, configs[which], 0, &ref);
    if (inject) {
        struct outcome o;
        run(data, size, configs[which], 1, &o);
        syf_check_outcome("sy_request_parse_json", ref.rc, &ref.err, o.rc, &o.err, o.injected);
        syf_check_outcome("sy_request_set_context_json", ref.ctx_rc, &ref.ctx_err, o.ctx_rc,
                          &o.ctx_err, o.ctx_injected);
    }
    return 0;
}
