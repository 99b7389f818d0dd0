/*
 * Fuzz target: the config parser (sy_router_new, sy_config_check).
 *
 * The input is a config document. It runs once without allocation failures
 * (the reference) and, when the input's schedule says so (see
 * fuzz_common.h), once more with failures injected. It checks that
 *  - a failure returns a known status, fills sy_error with the same code and
 *    a message, and leaves *out untouched;
 *  - a router that was built starts at epoch 1, plans an empty and a keyed
 *    request without allocating, and frees everything it allocated;
 *  - sy_config_check reports every error it returns (the first one being
 *    the returned code) and agrees with sy_router_new;
 *  - an injected allocation failure either changes nothing or comes back as
 *    SY_ENOMEM;
 *  - sy_router_reload of the same config into its own router succeeds and
 *    plans; into a router built from another config it fails exactly as
 *    sy_router_new did, leaving the old config serving (same epoch, plans).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef SYF_WRAP_STATIC_ROUTES
/* Built a second time as fuzz_route_config: the input is then the config
 * object of static_routes (routes, proxy routes, TLS profiles), so every
 * mutation lands in the route parser instead of the outer config. */
static const char wrap_head[] = "{\"selector\": {\"plugin\": \"static_routes\", \"config\": ";
static const char wrap_tail[] = "}}";
#elif defined(SYF_WRAP_CLIENT_ROUTES)
/* ... and as fuzz_client_routes: client_routes' config (proxies and rows)
 * behind a round-robin selector over three nodes named by host_id. */
static const char wrap_head[] =
    "{\"topology\": {\"nodes\": ["
    "{\"id\": \"11111111-1111-1111-1111-111111111111\", \"host\": \"10.0.0.1\", \"port\": 9042},"
    "{\"id\": \"22222222-2222-2222-2222-222222222222\", \"host\": \"10.0.0.2\", \"port\": 9042},"
    "{\"id\": \"33333333-3333-3333-3333-333333333333\", \"host\": \"10.0.0.3\", \"port\": 9042}]},"
    " \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\"}},"
    " \"translators\": [{\"plugin\": \"client_routes\", \"config\": ";
static const char wrap_tail[] = "}]}";
#elif defined(SYF_WRAP_SHARD_MAP)
/* ... and as fuzz_shard_map: shard_map's shard types and allocations. */
static const char wrap_head[] =
    "{\"topology\": {\"nodes\": [{\"id\": \"n1\", \"host\": \"10.0.0.1\", \"port\": 25520},"
    " {\"id\": \"n2\", \"host\": \"10.0.0.2\", \"port\": 25520}]},"
    " \"selector\": {\"plugin\": \"shard_map\", \"config\": ";
static const char wrap_tail[] = "}}";
#elif defined(SYF_WRAP_SERVICE_MAP)
/* ... and as fuzz_service_map: a topology (nodes, the services registry,
 * its source) that service_map indexes, planned by service and contact. */
static const char wrap_head[] =
    "{\"selector\": {\"plugin\": \"service_map\", \"config\": {\"contact_points\":"
    " [\"seed-1.example.com:25520\", \"10.0.0.9:25520\", \"[::1]:25520\"],"
    " \"preferred_datacenter\": \"dc1\", \"liveness_ms\": 1000, \"seed\": 1}},"
    " \"topology\": ";
static const char wrap_tail[] = "}";
#endif

struct outcome {
    int rc;           /* sy_router_new */
    sy_error err;
    unsigned long injected;
    int check_rc;     /* sy_config_check */
    unsigned reports;
    sy_error first;   /* its first report */
    unsigned long check_injected;
};

static void on_diag(const sy_error *error, void *user_data)
{
    struct outcome *o = user_data;
    if (!error) syf_fail("sy_config_check reported a NULL error");
    syf_check_error("sy_config_check report", error->code, error);
    if (o->reports++ == 0) o->first = *error;
    if (o->reports > 100000) syf_fail("sy_config_check reported more than 100000 errors");
}

static void plan_requests(sy_router *router)
{
    sy_request *req = NULL;
    sy_error err = { .struct_size = (uint32_t)sizeof(sy_error) };
    int rc = sy_request_new(router, &req, &err);
    if (rc != SY_OK) syf_fail("sy_request_new: %s: %s", sy_status_name(rc), err.message);
    syf_plan(router, req);
    if (sy_request_set_key(req, "fuzz", 4) != SY_OK) syf_fail("sy_request_set_key failed");
    if (sy_request_set_keyspace(req, "ks") != SY_OK) syf_fail("sy_request_set_keyspace failed");
    syf_plan(router, req);
    /* a node name: what static_routes plans */
    if (sy_request_set_node(req, "prod-db1@example.com") != SY_OK) syf_fail("sy_request_set_node failed");
    syf_plan(router, req);
    /* an entity: what shard_map plans (user-42 is shard 87 of 100) */
    if (sy_request_set_entity(req, "counter", "user-42") != SY_OK) syf_fail("sy_request_set_entity failed");
    syf_plan(router, req);
#ifdef SYF_WRAP_SERVICE_MAP
    /* what service_map plans: a service (filtered or not), the contact points */
    static const char *const svc_requests[] = {
        "{\"service\": \"payment\"}", "{\"service\": \"payment\", \"service_filter\": {\"zone\": \"a\"}}",
        "{\"service\": \"svc\", \"service_filter\": {\"v\": 1, \"tls\": true}}", "{\"contact\": true}"};
    for (size_t i = 0; i < sizeof svc_requests / sizeof svc_requests[0]; i++) {
        if (sy_request_parse_json(req, svc_requests[i], strlen(svc_requests[i]), &err) != SY_OK)
            syf_fail("sy_request_parse_json: %s", err.message);
        syf_plan(router, req);
    }
#endif
    sy_request_free(req);
}

/* The router a failed config is reloaded into. */
static const char base_config[] =
    "{\"topology\": {\"nodes\": [{\"id\": \"b1\", \"host\": \"10.7.0.1\", \"port\": 1}]},"
    " \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\"}}}";

static void reload_checks(const char *json, size_t size, int inject, int new_rc, sy_router *router)
{
    sy_error err = { .struct_size = (uint32_t)sizeof(sy_error) };
    int own = router == NULL;
    if (own) {
        int rc = sy_router_new(base_config, sizeof base_config - 1, syf_options(), &router, &err);
        if (rc != SY_OK) syf_fail("the base config failed: %s: %s", sy_status_name(rc), err.message);
    }
    uint64_t epoch = sy_router_epoch(router);
    syf_arm(inject);
    int rc = sy_router_reload(router, json, size, NULL, NULL, &err);
    syf_arm(0);
    syf_note("sy_router_reload: %s (%s: %s)", sy_status_name(rc), rc ? err.path : "", rc ? err.message : "");
    if (rc != SY_OK) syf_check_error("sy_router_reload", rc, &err);
    if (!(inject && rc == SY_ENOMEM) && rc != new_rc)
        syf_fail("sy_router_new said %s but sy_router_reload says %s (%s: %s)", sy_status_name(new_rc),
                 sy_status_name(rc), err.path, err.message);
    if (rc != SY_OK && sy_router_epoch(router) != epoch)
        syf_fail("a refused reload moved the epoch from %llu to %llu", (unsigned long long)epoch,
                 (unsigned long long)sy_router_epoch(router));
    if (rc == SY_OK && sy_router_epoch(router) <= epoch) syf_fail("a reload did not publish");
    plan_requests(router);
    if (own) sy_router_free(router);
}

static void run(const char *json, size_t size, int inject, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    o->err.struct_size = (uint32_t)sizeof(sy_error);

    sy_router *const untouched = (sy_router *)(uintptr_t)0x5f5f;
    sy_router *router = untouched;
    unsigned long before = syf_injected();
    syf_arm(inject);
    o->rc = sy_router_new(json, size, syf_options(), &router, &o->err);
    syf_arm(0);
    o->injected = syf_injected() - before;
    syf_note("sy_router_new: %s (%s: %s)", sy_status_name(o->rc), o->rc ? o->err.path : "",
             o->rc ? o->err.message : "");
    if (o->rc == SY_OK) {
        if (!router || router == untouched) syf_fail("sy_router_new: OK without a router");
        if (sy_router_epoch(router) != 1)
            syf_fail("new router at epoch %llu, not 1",
                     (unsigned long long)sy_router_epoch(router));
        plan_requests(router);
        reload_checks(json, size, inject, SY_OK, router);
        sy_router_free(router);
    } else {
        syf_check_error("sy_router_new", o->rc, &o->err);
        if (router != untouched) syf_fail("sy_router_new failed but changed *out");
        if (o->rc != SY_ENOMEM) reload_checks(json, size, inject, o->rc, NULL);
    }
    syf_end();

    before = syf_injected();
    syf_arm(inject);
    o->check_rc = sy_config_check(json, size, syf_options(), on_diag, o);
    syf_arm(0);
    o->check_injected = syf_injected() - before;
    syf_note("sy_config_check: %s, %u error(s) reported", sy_status_name(o->check_rc),
             o->reports);
    if (o->check_rc != SY_OK) {
        syf_check_error("sy_config_check", o->check_rc, NULL);
        if (o->reports == 0)
            syf_fail("sy_config_check returned %s without reporting it",
                     sy_status_name(o->check_rc));
        if (o->first.code != o->check_rc)
            syf_fail("sy_config_check returned %s but first reported %s",
                     sy_status_name(o->check_rc), sy_status_name(o->first.code));
    } else if (o->reports != 0) {
        syf_fail("sy_config_check returned SY_OK after reporting %u error(s)", o->reports);
    }
    syf_end();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SYF_MAX_INPUT) return 0;
    syf_init();
    int inject = syf_begin(data, size);
    const char *json = (const char *)data;
#if defined(SYF_WRAP_STATIC_ROUTES) || defined(SYF_WRAP_CLIENT_ROUTES) || defined(SYF_WRAP_SHARD_MAP) || \
    defined(SYF_WRAP_SERVICE_MAP)
    static char wrapped[sizeof wrap_head + SYF_MAX_INPUT + sizeof wrap_tail];
    memcpy(wrapped, wrap_head, sizeof wrap_head - 1);
    memcpy(wrapped + sizeof wrap_head - 1, data, size);
    memcpy(wrapped + sizeof wrap_head - 1 + size, wrap_tail, sizeof wrap_tail - 1);
    json = wrapped;
    size += sizeof wrap_head - 1 + sizeof wrap_tail - 1;
#endif

    struct outcome ref;
    run(json, size, 0, &ref);
    /* Without failures, checking and building agree on the first error. */
    if (ref.rc != ref.check_rc)
        syf_fail("sy_router_new says %s (%s: %s) but sy_config_check says %s (%s: %s)",
                 sy_status_name(ref.rc), ref.err.path, ref.err.message,
                 sy_status_name(ref.check_rc), ref.first.path, ref.first.message);

    if (inject) {
        struct outcome o;
        run(json, size, 1, &o);
        syf_check_outcome("sy_router_new", ref.rc, &ref.err, o.rc, &o.err, o.injected);
        syf_check_outcome("sy_config_check", ref.check_rc, &ref.first, o.check_rc, &o.first,
                          o.check_injected);
    }
    return 0;
}
