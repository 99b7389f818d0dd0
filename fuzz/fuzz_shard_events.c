/*
 * Fuzz target: shard_map's allocation snapshots, topology changes and
 * outcomes, as a running router gets them.
 *
 * The input is a byte program. Each step applies an allocation snapshot
 * through the shard_map.allocations interface (entries built from the bytes:
 * type, shard, owner, replicas, epoch, sometimes an invalid field), marks
 * nodes up or down with a topology update, reports a failure or a success
 * for a node, sets or removes the locator, reloads the router with other
 * locate settings (a new shard_map instance, which must inherit the
 * allocations, evictions and locator), or plans an entity. A model kept
 * here (epoch fencing, all-or-nothing snapshots, evictions that outlive
 * snapshots, down nodes evicted while down, success ending an eviction)
 * says what every plan must be: the usable owner then its usable replicas,
 * each once; SY_EPENDING with a locator and SY_ENOROUTE without one when the
 * owner is missing or evicted. Raw input text is also applied, to a second
 * router, as a snapshot. Everything allocated is freed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/shard_map.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NODES 4   /* n0..n3 in the topology; index 4 names "zz", which is not */
#define SHARDS 8  /* of type "a"; type "b" has 3 */
#define MAXREP 3

typedef struct {
    int owner; /* -1: none; 0..4 */
    int rep[MAXREP];
    int nrep;
    unsigned epoch;
} Alloc;

static struct {
    Alloc a[2][SHARDS];
    int down[NODES];
    int failed[NODES];
    int locator;
} m;

static const unsigned kShards[2] = {SHARDS, 3};
static const char *const kTypes[2] = {"a", "b"};

typedef struct {
    const uint8_t *p, *end;
} Reader;

static unsigned take(Reader *r) { return r->p < r->end ? *r->p++ : 0; }

static int locate(const char *type, uint32_t shard, void *ud) {
    (void)type;
    (void)shard;
    (void)ud;
    return SY_OK;
}

static const char *node_id(int i) {
    static const char *const ids[] = {"n0", "n1", "n2", "n3", "zz"};
    return ids[i];
}

static int usable(int i) { return i >= 0 && i < NODES && !m.down[i] && !m.failed[i]; }

/* An id whose shard of type t is s, found through shard_of. */
static int id_for(const sy_shard_map_allocations *a, void *inst, int t, unsigned s, char *id, size_t cap) {
    sy_error err = SY_STRUCT_INIT(sy_error);
    for (int k = 0; k < 4000; k++) {
        snprintf(id, cap, "k%d", k);
        uint32_t got;
        if (a->shard_of(inst, kTypes[t], id, &got, &err) != SY_OK) syf_fail("shard_of: %s", err.message);
        if (got == s) return 1;
    }
    return 0;
}

static void check_plan(sy_router *r, const sy_shard_map_allocations *a, void *inst, int t, unsigned s) {
    char id[16];
    if (!id_for(a, inst, t, s, id, sizeof id)) return;
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_request *q;
    if (sy_request_new(r, &q, &err) || sy_request_set_entity(q, kTypes[t], id)) syf_fail("request setup failed");
    sy_plan_storage st;
    sy_plan *p;
    int rc = sy_plan_init(r, q, &st, sizeof st, &p, &err);
    const Alloc *al = &m.a[t][s];
    int want_rc = usable(al->owner) ? SY_OK : (m.locator ? SY_EPENDING : SY_ENOROUTE);
    if (rc != want_rc)
        syf_fail("%s/%u: plan is %s (%s), the model says %s", kTypes[t], s, sy_status_name(rc), err.message,
                 sy_status_name(want_rc));
    if (rc != SY_OK) {
        sy_request_free(q);
        return;
    }
    int want[1 + MAXREP], nw = 0;
    want[nw++] = al->owner;
    for (int k = 0; k < al->nrep; k++) {
        int x = al->rep[k], dup = x == al->owner;
        for (int j = 0; j < k; j++) dup |= al->rep[j] == x;
        if (!dup && usable(x)) want[nw++] = x;
    }
    sy_target tg = SY_STRUCT_INIT(sy_target);
    int n = 0;
    while (sy_plan_next(p, &tg) == 1) {
        if (n >= nw || strcmp(tg.node, node_id(want[n])) != 0)
            syf_fail("%s/%u: target %d is %s, the model says %s", kTypes[t], s, n, tg.node,
                     n < nw ? node_id(want[n]) : "nothing");
        n++;
    }
    if (n != nw) syf_fail("%s/%u: %d targets, the model says %d", kTypes[t], s, n, nw);
    sy_plan_release(p);
    sy_request_free(q);
}

/* A snapshot of up to 4 entries; on a bad one the whole snapshot is refused. */
static void step_apply(Reader *rd, const sy_shard_map_allocations *a, void *inst) {
    char json[2048];
    size_t len = (size_t)snprintf(json, sizeof json, "{\"allocations\": [");
    Alloc nx[2][SHARDS];
    memcpy(nx, m.a, sizeof nx);
    int bad = 0;
    unsigned count = 1 + take(rd) % 4;
    for (unsigned e = 0; e < count; e++) {
        unsigned b = take(rd);
        int t = (int)(b & 1);
        unsigned shard = (b >> 1) % (kShards[t] + 1); /* == num_shards: out of range */
        int owner = (int)(take(rd) % 5);
        unsigned nrep = take(rd) % (MAXREP + 1);
        int rep[MAXREP];
        for (unsigned k = 0; k < nrep; k++) rep[k] = (int)(take(rd) % 5);
        unsigned epoch = take(rd) % 6;
        len += (size_t)snprintf(json + len, sizeof json - len, "%s{\"type\": \"%s\", \"shard\": %u, \"node\": \"%s\", \"epoch\": %u, \"replicas\": [",
                                e ? "," : "", kTypes[t], shard, node_id(owner), epoch);
        for (unsigned k = 0; k < nrep; k++)
            len += (size_t)snprintf(json + len, sizeof json - len, "%s\"%s\"", k ? "," : "", node_id(rep[k]));
        len += (size_t)snprintf(json + len, sizeof json - len, "]}");
        if (shard >= kShards[t]) {
            bad = 1;
            continue;
        }
        Alloc *al = &nx[t][shard];
        if (al->owner >= 0 && epoch < al->epoch) continue; /* fenced */
        al->owner = owner;
        al->epoch = epoch;
        al->nrep = (int)nrep;
        memcpy(al->rep, rep, sizeof rep);
    }
    len += (size_t)snprintf(json + len, sizeof json - len, "]}");
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = a->apply(inst, json, len, &err);
    if (rc != (bad ? SY_EREQUEST : SY_OK)) syf_fail("apply %s: %s (%s)", json, sy_status_name(rc), err.message);
    if (rc == SY_EREQUEST) syf_check_error("apply", rc, &err);
    if (!bad) memcpy(m.a, nx, sizeof nx);
}

static void step_topology(Reader *rd, sy_router *r) {
    unsigned bits = take(rd);
    char json[512];
    size_t len = (size_t)snprintf(json, sizeof json, "{\"nodes\": [");
    for (int i = 0; i < NODES; i++) {
        m.down[i] = (bits >> i) & 1;
        len += (size_t)snprintf(json + len, sizeof json - len, "%s{\"id\": \"%s\", \"host\": \"10.0.0.%d\", \"port\": 7000, \"up\": %s}",
                                i ? "," : "", node_id(i), i + 1, m.down[i] ? "false" : "true");
    }
    len += (size_t)snprintf(json + len, sizeof json - len, "]}");
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_update_topology_json(r, json, len, &err)) syf_fail("topology update: %s", err.message);
}

static void step_outcome(Reader *rd, sy_router *r) {
    unsigned b = take(rd);
    int i = (int)(b % NODES);
    static const uint32_t kinds[] = {SY_OUTCOME_SUCCESS, SY_OUTCOME_TIMEOUT, SY_OUTCOME_REFUSED, SY_OUTCOME_RESET,
                                     SY_OUTCOME_TLS_ERROR, SY_OUTCOME_RESOLVE_ERROR, SY_OUTCOME_OVERLOADED};
    uint32_t kind = kinds[(b / NODES) % 7];
    sy_target t = SY_STRUCT_INIT(sy_target);
    t.node = node_id(i);
    t.node_index = UINT32_MAX;
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    o.kind = kind;
    if (sy_router_report(r, &t, &o)) syf_fail("report failed");
    if (kind == SY_OUTCOME_TIMEOUT || kind == SY_OUTCOME_REFUSED || kind == SY_OUTCOME_RESET ||
        kind == SY_OUTCOME_RESOLVE_ERROR)
        m.failed[i] = 1;
    else if (kind == SY_OUTCOME_SUCCESS && !m.down[i])
        m.failed[i] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > SYF_MAX_INPUT) return 0;
    syf_init();
    syf_begin(data, size);
    memset(&m, 0, sizeof m);
    for (int t = 0; t < 2; t++)
        for (int s = 0; s < SHARDS; s++) m.a[t][s].owner = -1;
    static const char cfg_fmt[] =
        "{\"topology\": {\"nodes\": [{\"id\": \"n0\", \"host\": \"10.0.0.1\", \"port\": 7000},"
        "{\"id\": \"n1\", \"host\": \"10.0.0.2\", \"port\": 7000},{\"id\": \"n2\", \"host\": \"10.0.0.3\", \"port\": 7000},"
        "{\"id\": \"n3\", \"host\": \"10.0.0.4\", \"port\": 7000}]},"
        " \"selector\": {\"plugin\": \"shard_map\", \"config\": {\"shard_types\": [{\"type\": \"a\", \"num_shards\": 8},"
        " {\"type\": \"b\", \"num_shards\": 3}], \"locate\": {\"evict_ms\": 86400000, \"max_locating\": 65536}}}}";
    /* the same but for a setting that does not change a plan: a reload to
     * it replaces the instance, which inherits the rest */
    static const char cfg_other[] =
        "{\"topology\": {\"nodes\": [{\"id\": \"n0\", \"host\": \"10.0.0.1\", \"port\": 7000},"
        "{\"id\": \"n1\", \"host\": \"10.0.0.2\", \"port\": 7000},{\"id\": \"n2\", \"host\": \"10.0.0.3\", \"port\": 7000},"
        "{\"id\": \"n3\", \"host\": \"10.0.0.4\", \"port\": 7000}]},"
        " \"selector\": {\"plugin\": \"shard_map\", \"config\": {\"shard_types\": [{\"type\": \"a\", \"num_shards\": 8},"
        " {\"type\": \"b\", \"num_shards\": 3}], \"locate\": {\"evict_ms\": 86400000, \"max_locating\": 65536,"
        " \"retry_hint_ms\": 11}}}}";
    int other = 0;
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_new(cfg_fmt, sizeof cfg_fmt - 1, syf_options(), &r, &err)) syf_fail("router: %s", err.message);
    const void *iface;
    void *inst;
    if (sy_router_get_interface(r, "shard_map", SY_SHARD_MAP_ALLOCATIONS, 2, &iface, &inst, &err))
        syf_fail("interface: %s", err.message);
    const sy_shard_map_allocations *a = iface;

    /* the raw text as a snapshot, into a router of its own */
    sy_router *raw = NULL;
    if (sy_router_new(cfg_fmt, sizeof cfg_fmt - 1, syf_options(), &raw, &err)) syf_fail("router: %s", err.message);
    const void *riface;
    void *rinst;
    if (sy_router_get_interface(raw, "shard_map", SY_SHARD_MAP_ALLOCATIONS, 2, &riface, &rinst, &err))
        syf_fail("interface: %s", err.message);
    syf_arm(1);
    int rc = ((const sy_shard_map_allocations *)riface)->apply(rinst, (const char *)data, size, &err);
    syf_arm(0);
    if (rc != SY_OK) syf_check_error("apply (raw)", rc, &err);
    sy_router_free(raw);

    Reader rd = {data, data + size};
    for (int steps = 0; rd.p < rd.end && steps < 64; steps++) {
        unsigned op = take(&rd) % 8;
        switch (op) {
        case 0:
        case 1: step_apply(&rd, a, inst); break;
        case 2: step_topology(&rd, r); break;
        case 3: step_outcome(&rd, r); break;
        case 4: {
            sy_shard_locator l = SY_STRUCT_INIT(sy_shard_locator);
            l.locate = locate;
            m.locator = !m.locator;
            if (a->set_locator(inst, m.locator ? &l : NULL, &err)) syf_fail("set_locator: %s", err.message);
            break;
        }
        case 5: {
            other = !other;
            const char *c = other ? cfg_other : cfg_fmt;
            size_t n = other ? sizeof cfg_other - 1 : sizeof cfg_fmt - 1;
            syf_arm(1);
            rc = sy_router_reload(r, c, n, NULL, NULL, &err);
            syf_arm(0);
            if (rc != SY_OK) { /* only an injected failure; the old instance serves on */
                syf_check_error("reload", rc, &err);
                if (rc != SY_ENOMEM) syf_fail("reload: %s: %s", sy_status_name(rc), err.message);
                other = !other;
                break;
            }
            if (sy_router_get_interface(r, "shard_map", SY_SHARD_MAP_ALLOCATIONS, 2, &iface, &inst, &err))
                syf_fail("interface: %s", err.message);
            a = iface;
            break;
        }
        default: {
            unsigned b = take(&rd);
            int t = (int)(b & 1);
            check_plan(r, a, inst, t, (b >> 1) % kShards[t]);
        }
        }
    }
    /* every shard, at the end */
    for (int t = 0; t < 2; t++)
        for (unsigned s = 0; s < kShards[t]; s++) check_plan(r, a, inst, t, s);
    sy_router_free(r);
    syf_end();
    return 0;
}
