/*
 * Fuzz target: the topology parser (sy_router_update_topology_json).
 *
 * Each input is applied to a router built from a fixed valid config (a new
 * router per run, so the leak check covers the update exactly). It checks
 * that
 *  - a failed update returns a known status with a message, and leaves the
 *    router on its old snapshot (same epoch), still able to plan;
 *  - a successful update advances the epoch by one, and plans over the new
 *    snapshot end, allocate nothing and carry the new epoch;
 *  - the same update applied again gives the same answer;
 *  - an injected allocation failure (the input runs once without failures,
 *    as the reference, and, when its schedule says so, once with them)
 *    either changes nothing or comes back as SY_ENOMEM;
 *  - the router frees everything it allocated.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base_config[] =
    "{\"topology\": {\"nodes\": ["
    "{\"id\": \"n1\", \"host\": \"10.0.1.1\", \"port\": 9042, \"datacenter\": \"dc1\","
    " \"rack\": \"r1\", \"shards\": 2, \"tokens\": [\"-6148914691236517206\"]},"
    "{\"id\": \"n2\", \"host\": \"10.0.1.2\", \"port\": 9042, \"datacenter\": \"dc1\","
    " \"rack\": \"r2\", \"tokens\": [0]},"
    "{\"id\": \"n3\", \"host\": \"10.0.2.1\", \"port\": 9042, \"datacenter\": \"dc2\","
    " \"rack\": \"r1\", \"tokens\": [\"6148914691236517206\"], \"up\": false}],"
    " \"keyspaces\": ["
    "{\"name\": \"ks\", \"strategy\": \"NetworkTopologyStrategy\","
    " \"replication\": {\"dc1\": 2, \"dc2\": 1}}]},"
    " \"selector\": {\"plugin\": \"default_policy\","
    " \"config\": {\"preferred_datacenter\": \"dc1\", \"permit_dc_failover\": true, \"seed\": 7}},"
    " \"translators\": [{\"plugin\": \"address_map\","
    " \"config\": {\"map\": {\"10.0.1.1:9042\": \"127.0.0.1:19042\"}}}]}";

/* Plans the requests a driver would send over the current snapshot. */
static void plan_requests(sy_router *router)
{
    sy_request *req = NULL;
    sy_error err = { .struct_size = (uint32_t)sizeof(sy_error) };
    int rc = sy_request_new(router, &req, &err);
    if (rc != SY_OK) syf_fail("sy_request_new: %s: %s", sy_status_name(rc), err.message);
    syf_plan(router, req); /* no key: round robin over the nodes */
    if (sy_request_set_keyspace(req, "ks") != SY_OK ||
        sy_request_set_key(req, "fuzz", 4) != SY_OK)
        syf_fail("request setters failed");
    syf_plan(router, req); /* token-aware */
    if (sy_request_set_token(req, INT64_MIN) != SY_OK ||
        sy_request_set_consistency(req, SY_CONSISTENCY_LOCAL_QUORUM) != SY_OK ||
        sy_request_set_lwt(req, 1) != SY_OK)
        syf_fail("request setters failed");
    syf_plan(router, req); /* the lowest token, LWT */
    if (sy_request_set_keyspace(req, "missing") != SY_OK) syf_fail("request setters failed");
    syf_plan(router, req); /* a keyspace the topology does not have */
    sy_request_free(req);
}

struct outcome {
    int rc;
    sy_error err;
    unsigned long injected;
};

static void run(const uint8_t *data, size_t size, int inject, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    o->err.struct_size = (uint32_t)sizeof(sy_error);

    sy_router *router = NULL;
    sy_error err = { .struct_size = (uint32_t)sizeof(sy_error) };
    int rc = sy_router_new(base_config, sizeof base_config - 1, syf_options(), &router, &err);
    if (rc != SY_OK)
        syf_fail("fixture router: %s at %s: %s", sy_status_name(rc), err.path, err.message);

    uint64_t before = sy_router_epoch(router);
    unsigned long injected = syf_injected();
    syf_arm(inject);
    o->rc = sy_router_update_topology_json(router, (const char *)data, size, &o->err);
    syf_arm(0);
    o->injected = syf_injected() - injected;
    uint64_t after = sy_router_epoch(router);
    syf_note("sy_router_update_topology_json: %s (%s: %s), epoch %llu -> %llu",
             sy_status_name(o->rc), o->rc ? o->err.path : "", o->rc ? o->err.message : "",
             (unsigned long long)before, (unsigned long long)after);
    if (o->rc == SY_OK) {
        if (after != before + 1)
            syf_fail("update succeeded but the epoch went from %llu to %llu",
                     (unsigned long long)before, (unsigned long long)after);
    } else {
        syf_check_error("sy_router_update_topology_json", o->rc, &o->err);
        if (after != before)
            syf_fail("update failed (%s) but the epoch went from %llu to %llu",
                     sy_status_name(o->rc), (unsigned long long)before,
                     (unsigned long long)after);
    }
    plan_requests(router);

    /* Same input again on the updated router: the same answer. */
    if (!inject) {
        sy_error err2 = { .struct_size = (uint32_t)sizeof(sy_error) };
        int rc2 = sy_router_update_topology_json(router, (const char *)data, size, &err2);
        syf_check_outcome("sy_router_update_topology_json (again)", o->rc, &o->err, rc2, &err2,
                          0);
        if (rc2 == SY_OK) {
            if (sy_router_epoch(router) != after + 1) syf_fail("second update: epoch did not advance");
            plan_requests(router);
        }
    }

    sy_router_free(router);
    syf_end();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SYF_MAX_INPUT) return 0;
    syf_init();
    int inject = syf_begin(data, size);

    struct outcome ref;
    run(data, size, 0, &ref);
    if (inject) {
        struct outcome o;
        run(data, size, 1, &o);
        syf_check_outcome("sy_router_update_topology_json", ref.rc, &ref.err, o.rc, &o.err,
                          o.injected);
    }
    return 0;
}
