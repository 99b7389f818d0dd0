/* shard_map through the public API: Casty's MD5 shard vectors, owner then
 * replicas, epoch fencing, eviction after a connect failure, config errors
 * and allocation-free plans. */
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
#include <time.h>

#include <switchyard/shard_map.h>
#include <switchyard/switchyard.h>

#include "support/plugin_dir.h"

#include "support/counting_alloc.h"

#include <mbedtls/md5.h>

#include "shard_map/md5.h"

/* The whole router config around shard_map's config. */
static int full_config(char *buf, size_t cap, const char *config) {
    return snprintf(buf, cap,
                     "{\"plugin_path\": [\"%s\"], \"topology\": {\"nodes\": ["
                     "{\"id\": \"n1\", \"host\": \"10.0.0.1\", \"port\": 25520},"
                     "{\"id\": \"n2\", \"host\": \"10.0.0.2\", \"port\": 25520},"
                     "{\"id\": \"n3\", \"host\": \"10.0.0.3\", \"port\": 25520}]},"
                     " \"selector\": {\"plugin\": \"shard_map\", \"config\": %s}}",
                     plugin_dir(), config);
}

static int make(const char *config, const sy_router_options *o, sy_router **out, sy_error *err) {
    static char buf[1 << 13];
    int n = full_config(buf, sizeof buf, config);
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

    /* Beyond the vectors: the plugin's modulo (a multiply, no division)
     * against the digest's prefix % N, for shard counts from 1 to the
     * maximum and ids of every length up to two blocks. */
    static const uint32_t counts[] = {1, 2, 3, 7, 10, 100, 1000, 1024, 4099, 65535, 65536};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        snprintf(cfg, sizeof cfg, "{\"shard_types\": [{\"type\": \"t\", \"num_shards\": %u}]}", counts[c]);
        r = must(cfg);
        a = iface(r, &inst);
        char id[140];
        uint32_t x = 777u + (uint32_t)c;
        for (size_t len = 1; len < sizeof id; len++) {
            for (size_t k = 0; k < len; k++) id[k] = (char)('!' + (x = x * 1103515245u + 12345u) % 90u);
            id[len] = 0;
            unsigned char d[16];
            sy_md5(id, len, d);
            uint32_t prefix = ((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) | ((uint32_t)d[2] << 8) | d[3];
            assert_int_equal(sy_md5_prefix32(id, len), prefix);
            assert_int_equal(a->shard_of(inst, "t", id, &s, &err), SY_OK);
            assert_int_equal(s, prefix % counts[c]);
        }
        sy_router_free(r);
    }
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
    sy_router_free(r);
    /* the shard in the detail at one and four digits */
    snprintf(cfg, sizeof cfg,
             "{%s, \"allocations\": [{\"type\": \"e\", \"shard\": 0, \"node\": \"n1\"},"
             " {\"type\": \"big\", \"shard\": 1018, \"node\": \"n3\"}]}",
             kTypes);
    r = must(cfg);
    a = iface(r, &inst);
    assert_int_equal(plan(r, "e", "e-0", got, sizeof got, &first), SY_OK);
    assert_string_equal(g_first_via, "{\"type\":\"e\",\"shard\":0}");
    assert_int_equal(plan(r, "big", "entity-1", got, sizeof got, &first), SY_OK);
    assert_string_equal(got, "n3");
    assert_string_equal(g_first_via, "{\"type\":\"big\",\"shard\":1018}");
    sy_router_free(r);
    snprintf(cfg, sizeof cfg,
             "{%s, \"allocations\": [{\"type\": \"counter\", \"shard\": 87, \"node\": \"n2\", \"replicas\": [\"n3\", \"n1\"], \"epoch\": 3}]}",
             kTypes);
    r = must(cfg);
    a = iface(r, &inst);
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
    /* a connect failure on n1 evicts it: its shards miss (no locator here),
     * and an answer naming n1 again does not bring it back (as Casty
     * rejects a location naming a failed node), a republish neither */
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    o.kind = SY_OUTCOME_REFUSED;
    assert_int_equal(sy_router_report(r, &first, &o), SY_OK);
    assert_int_equal(plan(r, "counter", "user-42", got, sizeof got, NULL), SY_ENOROUTE);
    assert_int_equal(a->apply(inst, newer, strlen(newer), &err), SY_OK);
    assert_int_equal(plan(r, "counter", "user-42", got, sizeof got, NULL), SY_ENOROUTE);
    /* a success reported for n1 ends its eviction */
    o.kind = SY_OUTCOME_SUCCESS;
    assert_int_equal(sy_router_report(r, &first, &o), SY_OK);
    assert_int_equal(plan(r, "counter", "user-42", got, sizeof got, NULL), SY_OK);
    assert_string_equal(got, "n1");
    /* a slow success evicts nothing */
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


/* The plugin's own MD5 is RFC 1321's: its test suite, and mbedTLS on every
 * length from 0 to 300 (one and two final blocks, whole blocks). */
static void test_md5_matches_rfc_and_mbedtls(void **state) {
    (void)state;
    static const struct {
        const char *in, *hex;
    } rfc[] = {{"", "d41d8cd98f00b204e9800998ecf8427e"},
               {"a", "0cc175b9c0f1b6a831c399e269772661"},
               {"abc", "900150983cd24fb0d6963f7d28e17f72"},
               {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
               {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
               {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
               {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a"}};
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        unsigned char d[16];
        char hex[33];
        sy_md5(rfc[i].in, strlen(rfc[i].in), d);
        for (int k = 0; k < 16; k++) snprintf(hex + 2 * k, 3, "%02x", d[k]);
        assert_string_equal(hex, rfc[i].hex);
    }
    unsigned char buf[300];
    uint32_t x = 12345;
    for (size_t len = 0; len <= sizeof buf; len++) {
        for (size_t k = 0; k < len; k++) buf[k] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
        unsigned char mine[16], theirs[16];
        sy_md5(buf, len, mine);
        assert_int_equal(mbedtls_md5_ret(buf, len, theirs), 0);
        assert_memory_equal(mine, theirs, 16);
        /* the shard's word alone: one block (stopped after step 61, words
         * past the id folded away) or more */
        uint32_t prefix = ((uint32_t)theirs[0] << 24) | ((uint32_t)theirs[1] << 16) | ((uint32_t)theirs[2] << 8) | theirs[3];
        assert_int_equal(sy_md5_prefix32(buf, len), prefix);
    }
}

/* ---------------------------------------------------------------- misses, locate, eviction */

static uint64_t g_now = 1000000000ull; /* the routers' fake clock (ns) */
static uint64_t fake_clock(void *ud) {
    (void)ud;
    return __atomic_load_n(&g_now, __ATOMIC_ACQUIRE);
}
static void advance_ms(uint64_t ms) { __atomic_add_fetch(&g_now, ms * 1000000ull, __ATOMIC_RELEASE); }

/* What the locator was asked, and an optional synchronous answer. */
static struct {
    int calls;
    char type[32];
    uint32_t shard;
    int destroyed;
    const sy_shard_map_allocations *a; /* set: answer from within locate ... */
    void *inst;
    const char *node;                  /* ... naming this node */
} g_loc;

static int locate_cb(const char *type, uint32_t shard, void *ud) {
    assert_ptr_equal(ud, &g_loc);
    __atomic_add_fetch(&g_loc.calls, 1, __ATOMIC_RELAXED);
    snprintf(g_loc.type, sizeof g_loc.type, "%s", type);
    g_loc.shard = shard;
    if (g_loc.a) {
        char json[256];
        int n = snprintf(json, sizeof json, "{\"allocations\": [{\"type\": \"%s\", \"shard\": %u, \"node\": \"%s\"}]}", type,
                         shard, g_loc.node);
        sy_error err = SY_STRUCT_INIT(sy_error);
        assert_int_equal(g_loc.a->apply(g_loc.inst, json, (size_t)n, &err), SY_OK);
    }
    return SY_OK;
}
static void locate_destroy(void *ud) {
    assert_ptr_equal(ud, &g_loc);
    g_loc.destroyed++;
}

static const sy_shard_map_allocations *with_locator(sy_router *r, void **inst) {
    memset(&g_loc, 0, sizeof g_loc);
    const void *a;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_get_interface(r, "shard_map", SY_SHARD_MAP_ALLOCATIONS, 2, &a, inst, &err), SY_OK);
    const sy_shard_map_allocations *al = a;
    sy_shard_locator l = SY_STRUCT_INIT(sy_shard_locator);
    l.locate = locate_cb;
    l.user_data = &g_loc;
    l.destroy = locate_destroy;
    assert_int_equal(al->set_locator(*inst, &l, &err), SY_OK);
    return al;
}

/* sy_plan_init's status, with err (retry hint, message) kept. */
static int try_plan(sy_router *r, const char *type, const char *id, sy_error *err, char *first, size_t cap) {
    sy_request *q;
    assert_int_equal(sy_request_new(r, &q, err), SY_OK);
    assert_int_equal(sy_request_set_entity(q, type, id), SY_OK);
    sy_plan_storage st;
    sy_plan *p;
    *err = (sy_error){.struct_size = sizeof *err, .retry_after_ms = 12345};
    int rc = sy_plan_init(r, q, &st, sizeof st, &p, err);
    if (first) first[0] = 0;
    if (rc == SY_OK) {
        sy_target t = SY_STRUCT_INIT(sy_target);
        if (sy_plan_next(p, &t) == 1 && first) snprintf(first, cap, "%s", t.node);
        sy_plan_release(p);
        assert_int_equal(err->retry_after_ms, 0);
    }
    sy_request_free(q);
    return rc;
}

static sy_router *fake_clock_router(const char *locate_cfg) {
    static sy_router_options o;
    o = (sy_router_options){.struct_size = sizeof o, .clock_ns = fake_clock};
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{%s, \"allocations\": [{\"type\": \"counter\", \"shard\": 87, \"node\": \"n2\", \"replicas\": [\"n3\"]}], \"locate\": %s}",
             kTypes, locate_cfg);
    sy_router *r;
    sy_error err;
    int rc = make(cfg, &o, &r, &err);
    if (rc != SY_OK) fail_msg("%s: %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

/* A miss asks the locator once, says when to retry, asks again only after
 * the answer timeout, and plans as soon as the answer is applied. */
static void test_miss_asks_the_locator(void **state) {
    (void)state;
    sy_router *r = fake_clock_router("{\"answer_timeout_ms\": 100, \"retry_hint_ms\": 7, \"backoff_ms\": 400, \"backoff_max_ms\": 1600}");
    void *inst;
    const sy_shard_map_allocations *a = with_locator(r, &inst);
    sy_error err;
    char first[32];
    /* alice is shard 70 of counter: nobody owns it */
    assert_int_equal(try_plan(r, "counter", "alice", &err, first, sizeof first), SY_EPENDING);
    assert_int_equal(err.code, SY_EPENDING);
    assert_int_equal(err.retry_after_ms, 7);
    assert_string_equal(err.path, "entity");
    assert_non_null(strstr(err.message, "shard 70 of 'counter' has no known owner: asked the locator (ask 1)"));
    assert_int_equal(g_loc.calls, 1);
    assert_string_equal(g_loc.type, "counter");
    assert_int_equal(g_loc.shard, 70);
    /* asked already: no second ask before the answer timeout */
    advance_ms(99);
    assert_int_equal(try_plan(r, "counter", "alice", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(g_loc.calls, 1);
    assert_non_null(strstr(err.message, "an ask is out"));
    advance_ms(1);
    assert_int_equal(try_plan(r, "counter", "alice", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(g_loc.calls, 2);
    assert_non_null(strstr(err.message, "(ask 2)"));
    /* unanswered twice: the next ask waits for the backoff (400 ms doubled
     * once, jittered into [400, 800]), not just the answer timeout */
    advance_ms(399);
    assert_int_equal(try_plan(r, "counter", "alice", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(g_loc.calls, 2);
    advance_ms(401);
    assert_int_equal(try_plan(r, "counter", "alice", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(g_loc.calls, 3);
    /* the answer: planned at once, on the named node */
    const char *ans = "{\"allocations\": [{\"type\": \"counter\", \"shard\": 70, \"node\": \"n3\", \"epoch\": 1}]}";
    assert_int_equal(a->apply(inst, ans, strlen(ans), &err), SY_OK);
    assert_int_equal(try_plan(r, "counter", "alice", &err, first, sizeof first), SY_OK);
    assert_string_equal(first, "n3");
    assert_int_equal(g_loc.calls, 3);
    /* a locator answering from within locate: the next plan has it */
    g_loc.a = a;
    g_loc.inst = inst;
    g_loc.node = "n1";
    assert_int_equal(try_plan(r, "e", "e-1", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(try_plan(r, "e", "e-1", &err, first, sizeof first), SY_OK);
    assert_string_equal(first, "n1");
    /* removing the locator: misses are SY_ENOROUTE again, saying so */
    assert_int_equal(a->set_locator(inst, NULL, &err), SY_OK);
    assert_int_equal(g_loc.destroyed, 1);
    assert_int_equal(try_plan(r, "counter", "bob", &err, NULL, 0), SY_ENOROUTE);
    assert_non_null(strstr(err.message, "no locator is set"));
    assert_int_equal(err.retry_after_ms, 0);
    sy_shard_locator bad = SY_STRUCT_INIT(sy_shard_locator);
    assert_int_equal(a->set_locator(inst, &bad, &err), SY_EINVAL);
    sy_router_free(r);
}

/* A reload that changes shard_map's config replaces its instance: the new
 * one inherits the allocations the host applied (for types whose shard
 * count is unchanged; the config's own allocations win), and the locator,
 * shared until the old instance goes and destroyed exactly once. */
static void test_reload_inherits(void **state) {
    (void)state;
    sy_router *r = fake_clock_router("{\"answer_timeout_ms\": 100}");
    void *inst;
    const sy_shard_map_allocations *a = with_locator(r, &inst);
    sy_error err = SY_STRUCT_INIT(sy_error);
    const char *ans = "{\"allocations\": [{\"type\": \"counter\", \"shard\": 70, \"node\": \"n3\", \"epoch\": 1},"
                      " {\"type\": \"e\", \"shard\": 6, \"node\": \"n1\", \"epoch\": 1},"
                      " {\"type\": \"counter\", \"shard\": 87, \"node\": \"n3\", \"epoch\": 2}]}";
    assert_int_equal(a->apply(inst, ans, strlen(ans), &err), SY_OK);
    char first[32];
    assert_int_equal(try_plan(r, "e", "e-1", &err, first, sizeof first), SY_OK);
    assert_string_equal(first, "n1");

    /* e now has 20 shards; counter's shard 87 and 3 come from the config
     * (87 at an older epoch than the applied one, 3 new); another timeout */
    char cfg[1024], full[1 << 13];
    snprintf(cfg, sizeof cfg,
             "{\"shard_types\": [{\"type\": \"counter\", \"num_shards\": 100}, {\"type\": \"e\", \"num_shards\": 20}],"
             " \"allocations\": [{\"type\": \"counter\", \"shard\": 87, \"node\": \"n1\", \"epoch\": 1},"
             " {\"type\": \"counter\", \"shard\": 3, \"node\": \"n2\"}], \"locate\": {\"answer_timeout_ms\": 200}}");
    int n = full_config(full, sizeof full, cfg);
    assert_int_equal(sy_router_reload(r, full, (size_t)n, NULL, NULL, &err), SY_OK);
    void *inst2;
    const sy_shard_map_allocations *a2 = iface(r, &inst2);
    assert_ptr_not_equal(inst2, inst); /* replaced, not kept */
    assert_int_equal(g_loc.destroyed, 0);
    assert_int_equal(try_plan(r, "counter", "alice", &err, first, sizeof first), SY_OK); /* shard 70, applied */
    assert_string_equal(first, "n3");
    assert_int_equal(try_plan(r, "counter", "user-42", &err, first, sizeof first), SY_OK); /* 87: epoch 2 beats 1 */
    assert_string_equal(first, "n3");
    /* e's ids map to other shards now: nothing carried, the locator asked */
    int calls = g_loc.calls;
    assert_int_equal(try_plan(r, "e", "e-1", &err, NULL, 0), SY_EPENDING);
    assert_non_null(strstr(err.message, "asked the locator"));
    assert_int_equal(g_loc.calls, calls + 1);
    /* the locator goes with the last instance holding it, once */
    assert_int_equal(a2->set_locator(inst2, NULL, &err), SY_OK);
    assert_int_equal(g_loc.destroyed, 1);
    assert_int_equal(try_plan(r, "e", "e-2", &err, NULL, 0), SY_ENOROUTE);
    sy_router_free(r);
    assert_int_equal(g_loc.destroyed, 1);
}

/* Reloads that replace the instance while threads plan misses: the shared
 * locator is asked from the old and the new instances but never twice at
 * once, and is destroyed exactly once, with the router. */
static struct {
    int in_call, overlaps, calls, destroyed;
} g_shared;

static int shared_locate(const char *type, uint32_t shard, void *ud) {
    (void)type;
    (void)shard;
    (void)ud;
    if (__atomic_exchange_n(&g_shared.in_call, 1, __ATOMIC_ACQ_REL)) __atomic_add_fetch(&g_shared.overlaps, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_shared.calls, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&g_shared.in_call, 0, __ATOMIC_RELEASE);
    return SY_OK;
}
static void shared_destroy(void *ud) {
    (void)ud;
    __atomic_add_fetch(&g_shared.destroyed, 1, __ATOMIC_RELAXED);
}

/* Waits (at most 10 s of real time) until the locator has been asked more
 * than n times: on a loaded 2-core machine the planners may not have run
 * yet. 1 when it has. */
static int calls_pass(int n) {
    for (int i = 0; i < 10000; i++) {
        if (__atomic_load_n(&g_shared.calls, __ATOMIC_ACQUIRE) > n) return 1;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return 0;
}

static volatile int g_stop;
static void *miss_planner(void *arg) {
    sy_router *r = arg;
    char id[32];
    for (unsigned i = 0; !__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE); i++) {
        snprintf(id, sizeof id, "x-%p-%u", (void *)&id, i % 4096);
        sy_error err;
        int rc = try_plan(r, "big", id, &err, NULL, 0);
        if (rc != SY_EPENDING && rc != SY_OK && rc != SY_ELIMIT) return (void *)1;
        advance_ms(1); /* asks repeat after the 1 ms answer timeout */
    }
    return NULL;
}

static void test_reload_while_locating(void **state) {
    (void)state;
    memset(&g_shared, 0, sizeof g_shared);
    sy_router *r = fake_clock_router("{\"answer_timeout_ms\": 1}");
    void *inst;
    const sy_shard_map_allocations *a = iface(r, &inst);
    sy_shard_locator l = SY_STRUCT_INIT(sy_shard_locator);
    l.locate = shared_locate;
    l.destroy = shared_destroy;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(a->set_locator(inst, &l, &err), SY_OK);
    g_stop = 0;
    pthread_t th[3];
    for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&th[i], NULL, miss_planner, r), 0);
    /* the reloads run while the planners locate ... */
    assert_true(calls_pass(0));
    char cfg[1024], full[1 << 13];
    for (int k = 0; k < 40; k++) {
        snprintf(cfg, sizeof cfg, "{%s, \"locate\": {\"answer_timeout_ms\": %d}}", kTypes, 1 + k % 2);
        int n = full_config(full, sizeof full, cfg);
        assert_int_equal(sy_router_reload(r, full, (size_t)n, NULL, NULL, &err), SY_OK);
    }
    /* ... and the locator the last instance inherited is still asked */
    assert_true(calls_pass(__atomic_load_n(&g_shared.calls, __ATOMIC_ACQUIRE)));
    __atomic_store_n(&g_stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++) {
        void *rv;
        assert_int_equal(pthread_join(th[i], &rv), 0);
        assert_null(rv);
    }
    assert_int_equal(g_shared.overlaps, 0);
    assert_int_equal(g_shared.destroyed, 0);
    sy_router_free(r);
    assert_int_equal(g_shared.destroyed, 1);
}

/* A failed owner is evicted: its shards are re-located after a jittered
 * backoff, an answer naming it again is not trusted, its eviction ends with
 * evict_ms. */
static void test_eviction_relocates_with_backoff(void **state) {
    (void)state;
    sy_router *r = fake_clock_router("{\"answer_timeout_ms\": 100, \"backoff_ms\": 400, \"backoff_max_ms\": 1600, \"evict_ms\": 3000}");
    void *inst;
    const sy_shard_map_allocations *a = with_locator(r, &inst);
    sy_error err;
    char first[32];
    /* n1 owns the 10 shards of type e; user-42 (counter 87) is on n2 */
    char json[2048] = "{\"allocations\": [";
    for (int s = 0; s < 10; s++) {
        size_t l = strlen(json);
        snprintf(json + l, sizeof json - l, "%s{\"type\": \"e\", \"shard\": %d, \"node\": \"n1\", \"epoch\": 1}", s ? "," : "", s);
    }
    strcat(json, "]}");
    assert_int_equal(a->apply(inst, json, strlen(json), &err), SY_OK);
    assert_int_equal(try_plan(r, "e", "e-0", &err, first, sizeof first), SY_OK);
    assert_string_equal(first, "n1");
    sy_target t = SY_STRUCT_INIT(sy_target);
    t.node = "n1";
    t.node_index = UINT32_MAX;
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    o.kind = SY_OUTCOME_TIMEOUT;
    assert_int_equal(sy_router_report(r, &t, &o), SY_OK);
    /* every shard of n1 waits for its own re-locate, in [200, 400] ms */
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int i = 0; i < 200 && hi - lo < 20; i++) { /* ids until shards differ */
        char id[16];
        snprintf(id, sizeof id, "x%d", i);
        assert_int_equal(try_plan(r, "e", id, &err, NULL, 0), SY_EPENDING);
        assert_non_null(strstr(err.message, "lost its owner 'n1' (evicted after a connect failure): re-locating in"));
        assert_in_range(err.retry_after_ms, 200, 400);
        if (err.retry_after_ms < lo) lo = err.retry_after_ms;
        if (err.retry_after_ms > hi) hi = err.retry_after_ms;
    }
    assert_true(hi - lo >= 20); /* jittered, not all at once */
    assert_int_equal(g_loc.calls, 0);
    /* user-42's shard was not on n1 */
    assert_int_equal(try_plan(r, "counter", "user-42", &err, first, sizeof first), SY_OK);
    /* a republish (a topology update) keeps the eviction */
    const char *topo = "{\"nodes\": [{\"id\": \"n1\", \"host\": \"10.0.0.1\", \"port\": 25520},"
                       "{\"id\": \"n2\", \"host\": \"10.0.0.2\", \"port\": 25520},"
                       "{\"id\": \"n3\", \"host\": \"10.0.0.3\", \"port\": 25520}]}";
    assert_int_equal(sy_router_update_topology_json(r, topo, strlen(topo), &err), SY_OK);
    assert_int_equal(try_plan(r, "e", "e-0", &err, NULL, 0), SY_EPENDING);
    /* due: asked */
    advance_ms(400);
    assert_int_equal(try_plan(r, "e", "e-0", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(g_loc.calls, 1);
    assert_int_equal(g_loc.shard, 0);
    /* the coordinator names n1 again: still evicted, asked again later */
    const char *same = "{\"allocations\": [{\"type\": \"e\", \"shard\": 0, \"node\": \"n1\", \"epoch\": 2}]}";
    assert_int_equal(a->apply(inst, same, strlen(same), &err), SY_OK);
    assert_int_equal(try_plan(r, "e", "e-0", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(g_loc.calls, 1);
    advance_ms(800);
    assert_int_equal(try_plan(r, "e", "e-0", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(g_loc.calls, 2);
    /* another node: planned at once, the replica-less shard moved */
    const char *moved = "{\"allocations\": [{\"type\": \"e\", \"shard\": 0, \"node\": \"n3\", \"epoch\": 3}]}";
    assert_int_equal(a->apply(inst, moved, strlen(moved), &err), SY_OK);
    assert_int_equal(try_plan(r, "e", "e-0", &err, first, sizeof first), SY_OK);
    assert_string_equal(first, "n3");
    /* evict_ms over: n1 serves its other shards again */
    advance_ms(3000);
    assert_int_equal(try_plan(r, "e", "e-1", &err, first, sizeof first), SY_OK);
    assert_string_equal(first, "n1");
    sy_router_free(r);
}

/* A node the topology marks down is evicted while down, replicas too. */
static void test_down_node_is_evicted(void **state) {
    (void)state;
    sy_router *r = fake_clock_router("{\"backoff_ms\": 100}");
    void *inst;
    with_locator(r, &inst);
    sy_error err;
    const char *down2 = "{\"nodes\": [{\"id\": \"n1\", \"host\": \"10.0.0.1\", \"port\": 25520},"
                        "{\"id\": \"n2\", \"host\": \"10.0.0.2\", \"port\": 25520, \"up\": false},"
                        "{\"id\": \"n3\", \"host\": \"10.0.0.3\", \"port\": 25520, \"up\": false}]}";
    assert_int_equal(sy_router_update_topology_json(r, down2, strlen(down2), &err), SY_OK);
    assert_int_equal(try_plan(r, "counter", "user-42", &err, NULL, 0), SY_EPENDING);
    assert_non_null(strstr(err.message, "lost its owner 'n2' (down in the topology): re-locating in"));
    assert_in_range(err.retry_after_ms, 50, 100);
    /* a success reported does not overrule the topology */
    sy_target t = SY_STRUCT_INIT(sy_target);
    t.node = "n2";
    t.node_index = UINT32_MAX;
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    assert_int_equal(sy_router_report(r, &t, &o), SY_OK);
    assert_int_equal(try_plan(r, "counter", "user-42", &err, NULL, 0), SY_EPENDING);
    advance_ms(100);
    assert_int_equal(try_plan(r, "counter", "user-42", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(g_loc.calls, 1);
    /* n2 up again, its replica n3 still down: the owner alone */
    const char *up2 = "{\"nodes\": [{\"id\": \"n1\", \"host\": \"10.0.0.1\", \"port\": 25520},"
                      "{\"id\": \"n2\", \"host\": \"10.0.0.2\", \"port\": 25520},"
                      "{\"id\": \"n3\", \"host\": \"10.0.0.3\", \"port\": 25520, \"up\": false}]}";
    assert_int_equal(sy_router_update_topology_json(r, up2, strlen(up2), &err), SY_OK);
    char got[64];
    assert_int_equal(plan(r, "counter", "user-42", got, sizeof got, NULL), SY_OK);
    assert_string_equal(got, "n2");
    sy_router_free(r);
}

/* At most max_locating shards are asked about at once. */
static void test_max_locating(void **state) {
    (void)state;
    sy_router *r = fake_clock_router("{\"max_locating\": 2}");
    void *inst;
    const sy_shard_map_allocations *a = with_locator(r, &inst);
    sy_error err;
    assert_int_equal(try_plan(r, "e", "e-0", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(try_plan(r, "e", "e-1", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(try_plan(r, "counter", "alice", &err, NULL, 0), SY_ELIMIT);
    assert_non_null(strstr(err.message, "2 shards are being located already (locate.max_locating)"));
    /* one of them answered: room again */
    const char *ans = "{\"allocations\": [{\"type\": \"e\", \"shard\": 0, \"node\": \"n1\"}]}";
    assert_int_equal(a->apply(inst, ans, strlen(ans), &err), SY_OK);
    assert_int_equal(try_plan(r, "counter", "alice", &err, NULL, 0), SY_EPENDING);
    assert_int_equal(g_loc.calls, 3);
    sy_router_free(r);
}

static void test_locate_config_errors(void **state) {
    (void)state;
    static const struct {
        const char *locate, *message;
    } cases[] = {
        {"1", "expected an object"},
        {"{\"answer_timeout_ms\": 0}", "answer_timeout_ms: expected an integer in 1..3600000"},
        {"{\"backoff_ms\": 100, \"backoff_max_ms\": 50}", "backoff_max_ms: expected at least backoff_ms (100)"},
        {"{\"max_locating\": 1.5}", "max_locating: expected an integer"},
        {"{\"retries\": 3}", "unknown key 'retries'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg, "{%s, \"locate\": %s}", kTypes, cases[i].locate);
        sy_router *r;
        sy_error err;
        int rc = make(cfg, NULL, &r, &err);
        if (rc != SY_ECONFIG || strcmp(err.path, "selector.config.locate") || !strstr(err.message, cases[i].message))
            fail_msg("case %zu: %s at '%s': %s", i, sy_status_name(rc), err.path, err.message);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5_vectors),
        cmocka_unit_test(test_md5_matches_rfc_and_mbedtls),
        cmocka_unit_test(test_owner_replicas_fencing_eviction),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_plans_allocate_nothing),
        cmocka_unit_test(test_miss_asks_the_locator),
        cmocka_unit_test(test_eviction_relocates_with_backoff),
        cmocka_unit_test(test_down_node_is_evicted),
        cmocka_unit_test(test_max_locating),
        cmocka_unit_test(test_locate_config_errors),
        cmocka_unit_test(test_reload_inherits),
        cmocka_unit_test(test_reload_while_locating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
