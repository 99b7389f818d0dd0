/* default_policy, mode "default": replica placement against a plain
 * reference implementation of Cassandra's, every ordering tier, LWT order,
 * shuffling, latency awareness on a fake clock, down nodes, empty-plan
 * reasons, Scylla shards, and no allocation while planning. */
#define _POSIX_C_SOURCE 200809L
#include <time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/switchyard.h>

/* ---------------------------------------------------------------- plumbing */

#define MAXT 64

typedef struct tgt {
    char node[32];
    char dc[16];
    char rack[16];
    uint32_t flags;
    int32_t shard;
    uint32_t node_index;
} tgt;

static uint64_t g_now = 1000000000ull; /* the fake clock, ns */
static uint64_t fake_clock(void *ud) {
    (void)ud;
    return g_now;
}

static size_t g_allocs;
static void *count_alloc(size_t size, size_t align, void *ud) {
    (void)ud;
    void *p = NULL;
    g_allocs++;
    if (align < sizeof(void *)) align = sizeof(void *);
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : NULL;
}
static void count_free(void *p, size_t size, void *ud) {
    (void)size, (void)ud;
    free(p);
}

static sy_router *router_ex(const char *topology, const char *selector, int *rc_out, sy_error *err) {
    const char *dir = getenv("SY_PLUGIN_DIR");
    size_t cap = strlen(topology) + strlen(selector) + 512;
    char *buf = malloc(cap);
    assert_non_null(buf);
    int n = snprintf(buf, cap,
                     "{\"plugin_path\": [\"%s\"], \"topology\": %s,"
                     " \"selector\": {\"plugin\": \"default_policy\", \"config\": %s}}",
                     dir ? dir : "build/plugins", topology, selector);
    static sy_allocator a = {.struct_size = sizeof(sy_allocator), .alloc = count_alloc, .free = count_free};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    o.clock_ns = fake_clock;
    sy_router *r = NULL;
    *err = SY_STRUCT_INIT(sy_error);
    *rc_out = sy_router_new(buf, (size_t)n, &o, &r, err);
    free(buf);
    return r;
}

static sy_router *router(const char *topology, const char *selector) {
    int rc;
    sy_error err;
    sy_router *r = router_ex(topology, selector, &rc, &err);
    if (rc != SY_OK) fail_msg("sy_router_new: %s at %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

/* Plans `request` (JSON); returns the count or a negative status. */
static int plan(sy_router *r, const char *request, tgt *out, sy_error *err_out) {
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    if (sy_request_parse_json(q, request, strlen(request), &err) != SY_OK)
        fail_msg("request %s: %s", request, err.message);
    sy_plan_storage st;
    sy_plan *p = NULL;
    int rc = sy_plan_init(r, q, &st, sizeof st, &p, &err);
    if (err_out) *err_out = err;
    int n = 0;
    if (rc == SY_OK) {
        sy_target t = SY_STRUCT_INIT(sy_target);
        while ((rc = sy_plan_next(p, &t)) == 1) {
            assert_true(n < MAXT);
            tgt *c = &out[n++];
            memset(c, 0, sizeof *c);
            snprintf(c->node, sizeof c->node, "%s", t.node);
            snprintf(c->dc, sizeof c->dc, "%s", t.datacenter ? t.datacenter : "");
            snprintf(c->rack, sizeof c->rack, "%s", t.rack ? t.rack : "");
            c->flags = t.flags;
            c->shard = (t.flags & SY_TARGET_HAS_SHARD) ? t.shard : -1;
            c->node_index = t.node_index;
        }
        assert_int_equal(rc, 0);
        sy_plan_release(p);
        rc = n;
    }
    sy_request_free(q);
    return rc;
}

static int must_plan(sy_router *r, const char *request, tgt *out) {
    sy_error err;
    int n = plan(r, request, out, &err);
    if (n < 0) fail_msg("plan %s: %s: %s", request, sy_status_name(n), err.message);
    return n;
}

static int is_replica(const tgt *t) { return (t->flags & SY_TARGET_REPLICA) != 0; }
static int is_down(const tgt *t) { return (t->flags & SY_TARGET_DOWN) != 0; }

/* ---------------------------------------------------------------- random topologies */

static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

#define MAXN 24
#define MAXTOK 8

typedef struct node {
    char id[16];
    int dc, rack, up, shards;
    int ntok;
    int64_t tok[MAXTOK];
} node;

typedef struct topo {
    int n, ndc;
    node nodes[MAXN];
    int simple_rf;
    int nts_rf[3];
} topo;

static void random_topo(topo *t) {
    memset(t, 0, sizeof *t);
    t->ndc = 1 + (int)(rnd() % 3);
    for (int d = 0; d < t->ndc; d++) {
        int nodes = 1 + (int)(rnd() % 6), racks = 1 + (int)(rnd() % 3);
        for (int i = 0; i < nodes && t->n < MAXN; i++) {
            node *x = &t->nodes[t->n];
            snprintf(x->id, sizeof x->id, "d%dn%d", d, i);
            x->dc = d;
            x->rack = (int)(rnd() % (uint64_t)racks);
            x->up = rnd() % 5 != 0;
            x->shards = (int)(rnd() % 3) * 4;
            x->ntok = 1 + (int)(rnd() % MAXTOK);
            for (int k = 0; k < x->ntok; k++) x->tok[k] = (int64_t)rnd();
            t->n++;
        }
        t->nts_rf[d] = (int)(rnd() % 5);
    }
    t->simple_rf = 1 + (int)(rnd() % 4);
    /* A third of the rings are skewed: every token in a narrow band, so the
     * ring's radix buckets hold many tokens each (or none). */
    if (rnd() % 3 == 0) {
        int64_t base = (int64_t)rnd();
        for (int i = 0; i < t->n; i++)
            for (int k = 0; k < t->nodes[i].ntok; k++)
                t->nodes[i].tok[k] = (int64_t)((uint64_t)base + rnd() % 4096);
    }
}

/* A token to look up: mostly random, else exactly a ring token, one either
 * side of it, or an extreme (the edges of the ring's radix index). */
static int64_t probe_token(const topo *t) {
    const node *x = &t->nodes[rnd() % (uint64_t)t->n];
    int64_t ring = x->tok[rnd() % (uint64_t)x->ntok];
    switch (rnd() % 8) {
    case 0: return ring;
    case 1: return ring == INT64_MIN ? ring : ring - 1;
    case 2: return ring == INT64_MAX ? ring : ring + 1;
    case 3: return rnd() % 2 ? INT64_MIN : INT64_MAX;
    default: return (int64_t)rnd();
    }
}

static char *topo_json(const topo *t) {
    size_t cap = 64 * 1024;
    char *b = malloc(cap);
    size_t n = (size_t)snprintf(b, cap, "{\"nodes\": [");
    for (int i = 0; i < t->n; i++) {
        const node *x = &t->nodes[i];
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"id\": \"%s\", \"host\": \"10.0.%d.%d\", \"port\": 9042, \"datacenter\": \"dc%d\","
                              " \"rack\": \"r%d\", \"up\": %s, \"shards\": %d, \"tokens\": [",
                              i ? "," : "", x->id, x->dc, i + 1, x->dc, x->rack, x->up ? "true" : "false", x->shards);
        for (int k = 0; k < x->ntok; k++) n += (size_t)snprintf(b + n, cap - n, "%s\"%lld\"", k ? "," : "", (long long)x->tok[k]);
        n += (size_t)snprintf(b + n, cap - n, "]}");
    }
    n += (size_t)snprintf(b + n, cap - n,
                          "], \"keyspaces\": [{\"name\": \"simple\", \"strategy\": \"SimpleStrategy\","
                          " \"replication\": {\"replication_factor\": %d}},"
                          " {\"name\": \"nts\", \"strategy\": \"NetworkTopologyStrategy\", \"replication\": {",
                          t->simple_rf);
    for (int d = 0; d < t->ndc; d++) n += (size_t)snprintf(b + n, cap - n, "%s\"dc%d\": %d", d ? "," : "", d, t->nts_rf[d]);
    snprintf(b + n, cap - n, "}}]}");
    return b;
}

/* Cassandra's placement, the plain way: one walk of the whole ring from the
 * token, every datacenter at once. Returns the replicas in the order found. */
static int reference_replicas(const topo *t, int64_t token, int nts, int *out) {
    int64_t toks[MAXN * MAXTOK];
    int owner[MAXN * MAXTOK];
    int r = 0;
    for (int i = 0; i < t->n; i++)
        for (int k = 0; k < t->nodes[i].ntok; k++) {
            /* insertion sort by (token, node) */
            int at = r++;
            while (at && (toks[at - 1] > t->nodes[i].tok[k] || (toks[at - 1] == t->nodes[i].tok[k] && owner[at - 1] > i))) {
                toks[at] = toks[at - 1];
                owner[at] = owner[at - 1];
                at--;
            }
            toks[at] = t->nodes[i].tok[k];
            owner[at] = i;
        }
    int start = 0;
    while (start < r && toks[start] < token) start++;
    if (start == r) start = 0;
    int count = 0;
    int left[3] = {0}, repeats[3] = {0}, seen_racks[3][8], nseen[3] = {0};
    int need = 0;
    if (nts) {
        for (int d = 0; d < t->ndc; d++) {
            int nodes = 0, racks = 0, rack_has[8] = {0};
            for (int i = 0; i < t->n; i++)
                if (t->nodes[i].dc == d) {
                    nodes++;
                    if (!rack_has[t->nodes[i].rack]++) racks++;
                }
            left[d] = t->nts_rf[d] < nodes ? t->nts_rf[d] : nodes;
            repeats[d] = t->nts_rf[d] - racks;
            need += left[d];
        }
    } else {
        need = t->simple_rf < t->n ? t->simple_rf : t->n;
    }
    for (int step = 0; step < r && count < need; step++) {
        int x = owner[(start + step) % r];
        int have = 0;
        for (int i = 0; i < count; i++) have |= out[i] == x;
        if (have) continue;
        if (nts) {
            int d = t->nodes[x].dc;
            if (!left[d]) continue;
            int rk = t->nodes[x].rack, seen = 0;
            for (int i = 0; i < nseen[d]; i++) seen |= seen_racks[d][i] == rk;
            if (seen) {
                if (repeats[d] <= 0) continue;
                repeats[d]--;
            } else {
                seen_racks[d][nseen[d]++] = rk;
            }
            left[d]--;
        }
        out[count++] = x;
    }
    return count;
}

/* ---------------------------------------------------------------- placement */

/* LWT without a preferred datacenter plans every live replica first, in
 * ring order: exactly the reference's list, minus nodes that are down. */
static void test_placement_matches_cassandra(void **state) {
    (void)state;
    int checked = 0;
    for (int round = 0; round < 60; round++) {
        topo t;
        random_topo(&t);
        char *json = topo_json(&t);
        sy_router *r = router(json, "{\"seed\": 1}");
        for (int probe = 0; probe < 25; probe++) {
            int64_t token = probe_token(&t);
            for (int nts = 0; nts < 2; nts++) {
                int want[MAXN];
                int nw = reference_replicas(&t, token, nts, want);
                char req[160];
                snprintf(req, sizeof req, "{\"token\": \"%lld\", \"keyspace\": \"%s\", \"lwt\": true}",
                         (long long)token, nts ? "nts" : "simple");
                tgt got[MAXT];
                int n = must_plan(r, req, got);
                assert_int_equal(n, t.n); /* every node, once */
                int k = 0;
                for (int i = 0; i < nw; i++) {
                    if (!t.nodes[want[i]].up) continue;
                    if (strcmp(got[k].node, t.nodes[want[i]].id) != 0 || !is_replica(&got[k]))
                        fail_msg("round %d token %lld %s: target %d is %s, want replica %s", round, (long long)token,
                                 nts ? "nts" : "simple", k, got[k].node, t.nodes[want[i]].id);
                    k++;
                }
                /* nothing after them is an up replica */
                for (int i = k; i < n; i++) assert_false(is_replica(&got[i]) && !is_down(&got[i]));
                checked++;
            }
        }
        sy_router_free(r);
        free(json);
    }
    assert_int_equal(checked, 60 * 25 * 2);
}

/* NetworkTopologyStrategy by hand: 3 racks, RF 3, one rack per replica
 * although the ring meets two nodes of rack r1 first. */
static void test_nts_prefers_distinct_racks(void **state) {
    (void)state;
    sy_router *r = router("{\"nodes\": ["
                          "{\"id\": \"a\", \"host\": \"10.0.0.1\", \"port\": 1, \"datacenter\": \"dc1\", \"rack\": \"r1\", \"tokens\": [\"100\"]},"
                          "{\"id\": \"b\", \"host\": \"10.0.0.2\", \"port\": 1, \"datacenter\": \"dc1\", \"rack\": \"r1\", \"tokens\": [\"200\"]},"
                          "{\"id\": \"c\", \"host\": \"10.0.0.3\", \"port\": 1, \"datacenter\": \"dc1\", \"rack\": \"r2\", \"tokens\": [\"300\"]},"
                          "{\"id\": \"d\", \"host\": \"10.0.0.4\", \"port\": 1, \"datacenter\": \"dc1\", \"rack\": \"r3\", \"tokens\": [\"400\"]},"
                          "{\"id\": \"e\", \"host\": \"10.0.0.5\", \"port\": 1, \"datacenter\": \"dc2\", \"rack\": \"r1\", \"tokens\": [\"250\"]}],"
                          " \"keyspaces\": [{\"name\": \"k\", \"strategy\": \"NetworkTopologyStrategy\","
                          " \"replication\": {\"dc1\": 3, \"dc2\": 1}}]}",
                          "{}");
    tgt t[MAXT];
    assert_int_equal(must_plan(r, "{\"token\": 50, \"keyspace\": \"k\", \"lwt\": true}", t), 5);
    /* ring from 100: a(r1) b(r1: skipped, rack repeats = 0) e(dc2) c(r2) d(r3) */
    assert_string_equal(t[0].node, "a");
    assert_string_equal(t[1].node, "e");
    assert_string_equal(t[2].node, "c");
    assert_string_equal(t[3].node, "d");
    assert_string_equal(t[4].node, "b");
    for (int i = 0; i < 4; i++) assert_true(is_replica(&t[i]));
    assert_false(is_replica(&t[4]));
    /* a token past the last wraps to the first */
    assert_int_equal(must_plan(r, "{\"token\": 401, \"keyspace\": \"k\", \"lwt\": true}", t), 5);
    assert_string_equal(t[0].node, "a");
    sy_router_free(r);
}

/* Twelve nodes, one token each (0, 100, ...), over dc0/dc1 and racks
 * r0-r2, then the opening of the keyspace list: returns its length. */
static size_t twelve_nodes(char *topo, size_t size) {
    size_t n = (size_t)snprintf(topo, size, "{\"nodes\": [");
    for (int i = 0; i < 12; i++)
        n += (size_t)snprintf(topo + n, size - n,
                              "%s{\"id\": \"n%d\", \"host\": \"10.0.0.%d\", \"port\": 1, \"datacenter\": \"dc%d\","
                              " \"rack\": \"r%d\", \"tokens\": [%d]}",
                              i ? "," : "", i, i + 1, i % 2, i % 3, i * 100);
    return n + (size_t)snprintf(topo + n, size - n, "], \"keyspaces\": [");
}

/* Keyspaces that replicate differently each get their own precomputed
 * replicas: twenty of them in one snapshot, every one right. */
static void test_many_replications(void **state) {
    (void)state;
    char topo[8192];
    size_t n = twelve_nodes(topo, sizeof topo);
    for (int rf = 1; rf <= 10; rf++)
        n += (size_t)snprintf(topo + n, sizeof topo - n,
                              "%s{\"name\": \"s%d\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": %d}},"
                              "{\"name\": \"t%d\", \"strategy\": \"NetworkTopologyStrategy\", \"replication\": {\"dc0\": %d, \"dc1\": 1}}",
                              rf > 1 ? "," : "", rf, rf, rf, rf);
    snprintf(topo + n, sizeof topo - n, "]}");
    sy_router *r = router(topo, "{}");
    tgt t[MAXT];
    for (int rf = 1; rf <= 10; rf++) {
        char req[96];
        int want[2] = {rf, (rf < 6 ? rf : 6) + 1}; /* dc0 has 6 nodes */
        for (int nts = 0; nts < 2; nts++) {
            snprintf(req, sizeof req, "{\"token\": 50, \"keyspace\": \"%c%d\", \"lwt\": true}", nts ? 't' : 's', rf);
            int got = must_plan(r, req, t), reps = 0;
            assert_int_equal(got, 12);
            for (int i = 0; i < got; i++) reps += is_replica(&t[i]);
            if (reps != want[nts]) fail_msg("%s: %d replicas, want %d", req, reps, want[nts]);
        }
    }
    sy_router_free(r);
}

/* Keyspaces are found by their names' words (a request view since 0.3):
 * names that share words, end on a word boundary, or differ only in the
 * last byte each find their own replication; unknown names find none. */
static void test_keyspace_names(void **state) {
    (void)state;
    static const struct {
        const char *name;
        int rf; /* 0: not in the topology */
    } ks[] = {
        {"ks", 1},
        {"x", 2},
        {"abcdefgh", 3},         /* one word, the NUL in the next */
        {"abcdefghijklmnop", 4}, /* two words */
        {"abcdefghijklmnoq", 5}, /* differs in the last byte */
        {"abcdefgh_", 6},
        {"a_keyspace_name_of_forty_bytes_or_so_xx", 7},
        {"k", 0},
        {"abcdefg", 0},
        {"abcdefghi", 0},
        {"abcdefghijklmno", 0},
        {"abcdefghijklmnopq", 0},
        {"ks_long_name_99", 0},
        {"", 0},
    };
    char topo[16384];
    size_t n = twelve_nodes(topo, sizeof topo);
    const char *sep = "";
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        if (!ks[i].rf) continue;
        n += (size_t)snprintf(topo + n, sizeof topo - n,
                              "%s{\"name\": \"%s\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": %d}}",
                              sep, ks[i].name, ks[i].rf);
        sep = ",";
    }
    /* 30 more sharing their first word: the hash table probes past them */
    for (int i = 0; i < 30; i++)
        n += (size_t)snprintf(topo + n, sizeof topo - n,
                              ",{\"name\": \"ks_long_name_%02d\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": %d}}",
                              i, i % 10 + 1);
    snprintf(topo + n, sizeof topo - n, "]}");
    sy_router *r = router(topo, "{}");
    tgt t[MAXT];
    char req[128];
    for (size_t i = 0; i < sizeof ks / sizeof ks[0] + 30; i++) {
        char name[48];
        int want;
        if (i < sizeof ks / sizeof ks[0]) {
            snprintf(name, sizeof name, "%s", ks[i].name);
            want = ks[i].rf;
        } else {
            int k = (int)(i - sizeof ks / sizeof ks[0]);
            snprintf(name, sizeof name, "ks_long_name_%02d", k);
            want = k % 10 + 1;
        }
        snprintf(req, sizeof req, "{\"token\": 50, \"keyspace\": \"%s\", \"lwt\": true}", name);
        int got = must_plan(r, req, t), reps = 0;
        assert_int_equal(got, 12);
        for (int j = 0; j < got; j++) reps += is_replica(&t[j]);
        if (reps != want) fail_msg("keyspace '%s': %d replicas, want %d", name, reps, want);
    }
    sy_router_free(r);
}

/* ---------------------------------------------------------------- tiers */

static int tier_of(const tgt *t, const char *dc, const char *rack) {
    int local = !dc || strcmp(t->dc, dc) == 0;
    int in_rack = local && rack && strcmp(t->rack, rack) == 0;
    int tier = in_rack ? 0 : local ? 1 : 2;
    int group = is_down(t) ? 2 : is_replica(t) ? 0 : 1;
    return group * 3 + tier;
}

static void check_tiers(const char *selector, const char *dc, const char *rack, int failover) {
    for (int round = 0; round < 40; round++) {
        topo t;
        random_topo(&t);
        t.ndc = t.ndc < 2 ? 2 : t.ndc; /* dc1 must exist: make sure one node is there */
        if (t.n < MAXN) {
            node *x = &t.nodes[t.n++];
            memset(x, 0, sizeof *x);
            snprintf(x->id, sizeof x->id, "extra");
            x->dc = 1;
            x->rack = 0;
            x->up = 1;
            x->ntok = 1;
            x->tok[0] = (int64_t)rnd();
        }
        char *json = topo_json(&t);
        sy_router *r = router(json, selector);
        int expected = 0;
        for (int i = 0; i < t.n; i++) expected += failover || !dc || t.nodes[i].dc == 1;
        for (int probe = 0; probe < 20; probe++) {
            char req[160];
            snprintf(req, sizeof req, "{\"token\": \"%lld\", \"keyspace\": \"%s\"%s}", (long long)rnd(),
                     probe & 1 ? "nts" : "simple", probe & 2 ? ", \"consistency\": \"LOCAL_SERIAL\"" : "");
            tgt got[MAXT];
            int n = must_plan(r, req, got);
            assert_int_equal(n, expected);
            int last = -1;
            for (int i = 0; i < n; i++) {
                int k = tier_of(&got[i], dc, rack);
                if (k < last)
                    fail_msg("%s %s: target %d (%s, dc %s rack %s, flags %x) in tier %d after tier %d", selector, req,
                             i, got[i].node, got[i].dc, got[i].rack, got[i].flags, k, last);
                last = k;
                if (!failover && dc) assert_string_equal(got[i].dc, dc);
                for (int j = 0; j < i; j++) assert_string_not_equal(got[i].node, got[j].node);
                /* replicas carry the shard of the token when their node is sharded */
                if (is_replica(&got[i]) && !is_down(&got[i]))
                    assert_true((got[i].shard >= 0) == (t.nodes[got[i].node_index].shards > 0));
                if (!is_replica(&got[i])) assert_int_equal(got[i].shard, -1);
            }
        }
        sy_router_free(r);
        free(json);
    }
}

static void test_tier_order(void **state) {
    (void)state;
    check_tiers("{\"seed\": 3}", NULL, NULL, 1);
    check_tiers("{\"preferred_datacenter\": \"dc1\"}", "dc1", NULL, 0);
    check_tiers("{\"preferred_datacenter\": \"dc1\", \"permit_dc_failover\": true}", "dc1", NULL, 1);
    check_tiers("{\"preferred_datacenter\": \"dc1\", \"preferred_rack\": \"r0\", \"permit_dc_failover\": true}", "dc1",
                "r0", 1);
    check_tiers("{\"preferred_datacenter\": \"dc1\", \"preferred_rack\": \"r1\", \"enable_shuffling\": false}", "dc1",
                "r1", 0);
}

/* ---------------------------------------------------------------- fixed topology */

/* dc1: a (r1), b (r1), c (r2), x (r2, down); dc2: d, e (down). One token
 * each; NTS dc1: 2, dc2: 1. From a token <= 10 the dc1 replicas are a and c:
 * b shares a's rack and RF 2 over 2 racks allows no repeat. dc2's is d. */
static const char *const kFixed =
    "{\"nodes\": ["
    "{\"id\": \"a\", \"host\": \"10.0.0.1\", \"port\": 1, \"datacenter\": \"dc1\", \"rack\": \"r1\", \"tokens\": [10], \"shards\": 4},"
    "{\"id\": \"b\", \"host\": \"10.0.0.2\", \"port\": 1, \"datacenter\": \"dc1\", \"rack\": \"r1\", \"tokens\": [20]},"
    "{\"id\": \"c\", \"host\": \"10.0.0.3\", \"port\": 1, \"datacenter\": \"dc1\", \"rack\": \"r2\", \"tokens\": [30]},"
    "{\"id\": \"x\", \"host\": \"10.0.0.9\", \"port\": 1, \"datacenter\": \"dc1\", \"rack\": \"r2\", \"tokens\": [40], \"up\": false},"
    "{\"id\": \"d\", \"host\": \"10.0.1.1\", \"port\": 1, \"datacenter\": \"dc2\", \"rack\": \"r1\", \"tokens\": [15]},"
    "{\"id\": \"e\", \"host\": \"10.0.1.2\", \"port\": 1, \"datacenter\": \"dc2\", \"rack\": \"r1\", \"tokens\": [25], \"up\": false}],"
    " \"keyspaces\": [{\"name\": \"k\", \"strategy\": \"NetworkTopologyStrategy\", \"replication\": {\"dc1\": 2, \"dc2\": 1}},"
    " {\"name\": \"s\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": 3}}]}";

static void test_fixed_plan_order(void **state) {
    (void)state;
    tgt t[MAXT];
    sy_router *r = router(kFixed, "{\"preferred_datacenter\": \"dc1\", \"preferred_rack\": \"r2\", \"permit_dc_failover\": true}");
    /* LWT: local rack replica (c), local DC replica (a), remote replica (d),
     * non-replica local DC (b), then down: x (local), e (remote) */
    assert_int_equal(must_plan(r, "{\"token\": \"-9219783007514621794\", \"keyspace\": \"k\", \"lwt\": true}", t), 6);
    const char *order[] = {"c", "a", "d", "b", "x", "e"};
    for (int i = 0; i < 6; i++) assert_string_equal(t[i].node, order[i]);
    assert_true(is_replica(&t[0]) && is_replica(&t[1]) && is_replica(&t[2]));
    assert_false(is_replica(&t[3]));
    assert_true(is_down(&t[4]) && is_down(&t[5]));
    /* a is sharded: the token's shard (a gocql vector: 4 shards, 12 bits ignored) */
    assert_int_equal(t[1].shard, 3);
    assert_int_equal(t[0].shard, -1);
    sy_router_free(r);

    /* no failover: dc2 never appears, even down */
    r = router(kFixed, "{\"preferred_datacenter\": \"dc1\"}");
    assert_int_equal(must_plan(r, "{\"token\": 5, \"keyspace\": \"k\"}", t), 4);
    for (int i = 0; i < 4; i++) assert_string_equal(t[i].dc, "dc1");
    assert_true(is_replica(&t[0]) && is_replica(&t[1]));
    assert_string_equal(t[2].node, "b");
    assert_string_equal(t[3].node, "x");
    sy_router_free(r);
}

/* Shards against the gocql / scylla-rust-driver vectors (4 shards, 12 ignored bits). */
static void test_shards(void **state) {
    (void)state;
    const char *topo = "{\"nodes\": [{\"id\": \"a\", \"host\": \"h\", \"port\": 1, \"shards\": 4, \"tokens\": [0]}],"
                       " \"keyspaces\": [{\"name\": \"k\", \"strategy\": \"SimpleStrategy\","
                       " \"replication\": {\"replication_factor\": 1}}]}";
    static const struct {
        const char *selector;
        const char *token;
        int shard;
    } v[] = {
        {"{}", "-9219783007514621794", 3},
        {"{}", "9222582454147032830", 3},
        {"{}", "0", 0},                       /* 2^63 << 12 wraps to 0 */
        {"{\"shard_ignore_msb\": 0}", "0", 2}, /* one half of the ring */
        {"{\"shard_ignore_msb\": 0}", "-9223372036854775808", 0},
        {"{\"shard_ignore_msb\": 0}", "9223372036854775807", 3},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sy_router *r = router(topo, v[i].selector);
        char req[128];
        snprintf(req, sizeof req, "{\"token\": \"%s\", \"keyspace\": \"k\"}", v[i].token);
        tgt t[MAXT];
        assert_int_equal(must_plan(r, req, t), 1);
        assert_true(is_replica(&t[0]));
        if (t[0].shard != v[i].shard) fail_msg("token %s %s: shard %d, want %d", v[i].token, v[i].selector, t[0].shard, v[i].shard);
        sy_router_free(r);
    }
}

/* ---------------------------------------------------------------- token awareness */

static void test_token_unaware_requests(void **state) {
    (void)state;
    tgt t[MAXT];
    sy_router *r = router(kFixed, "{\"preferred_datacenter\": \"dc1\"}");
    static const char *const reqs[] = {
        "{}",                                    /* no key */
        "{\"key\": \"user:1\"}",                 /* no keyspace */
        "{\"token\": 5, \"keyspace\": \"nope\"}", /* unknown keyspace */
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        int n = must_plan(r, reqs[i], t);
        assert_int_equal(n, 4);
        for (int j = 0; j < n; j++) assert_false(is_replica(&t[j]));
        assert_string_equal(t[3].node, "x"); /* down last */
    }
    sy_router_free(r);
    r = router(kFixed, "{\"preferred_datacenter\": \"dc1\", \"token_aware\": false}");
    assert_int_equal(must_plan(r, "{\"token\": 5, \"keyspace\": \"k\"}", t), 4);
    for (int j = 0; j < 4; j++) assert_false(is_replica(&t[j]));
    sy_router_free(r);
}

/* ---------------------------------------------------------------- shuffling */

static void append(char *buf, size_t size, const char *s) {
    size_t n = strlen(buf), k = strlen(s);
    assert_true(n + k + 2 <= size);
    memcpy(buf + n, s, k);
    buf[n + k] = ',';
    buf[n + k + 1] = 0;
}

/* Replicas of the simple keyspace for token 5: a, d, b (RF 3, ring order). */
static void first_counts(sy_router *r, const char *req, int plans, int *a, int *d, int *b) {
    *a = *d = *b = 0;
    tgt t[MAXT];
    for (int i = 0; i < plans; i++) {
        must_plan(r, req, t);
        *a += strcmp(t[0].node, "a") == 0;
        *d += strcmp(t[0].node, "d") == 0;
        *b += strcmp(t[0].node, "b") == 0;
    }
}

static void test_shuffling(void **state) {
    (void)state;
    int a, d, b;
    sy_router *r = router(kFixed, "{}");
    first_counts(r, "{\"token\": 5, \"keyspace\": \"s\"}", 300, &a, &d, &b);
    assert_int_equal(a + d + b, 300);
    assert_true(a > 50 && d > 50 && b > 50); /* each replica leads about a third of the time */
    /* LWT: always ring order */
    first_counts(r, "{\"token\": 5, \"keyspace\": \"s\", \"consistency\": \"SERIAL\"}", 50, &a, &d, &b);
    assert_int_equal(a, 50);
    sy_router_free(r);

    /* shuffling off: one permutation, every time */
    r = router(kFixed, "{\"enable_shuffling\": false}");
    tgt first[MAXT], t[MAXT];
    int n = must_plan(r, "{\"token\": 5, \"keyspace\": \"s\"}", first);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(must_plan(r, "{\"token\": 5, \"keyspace\": \"s\"}", t), n);
        for (int j = 0; j < 3; j++) assert_string_equal(t[j].node, first[j].node);
    }
    sy_router_free(r);
}

static void test_seeded_plans_repeat(void **state) {
    (void)state;
    char seq[2][4096];
    for (int run = 0; run < 2; run++) {
        sy_router *r = router(kFixed, "{\"seed\": 42, \"permit_dc_failover\": true}");
        seq[run][0] = 0;
        tgt t[MAXT];
        for (int i = 0; i < 40; i++) {
            char req[96];
            snprintf(req, sizeof req, "{\"token\": %d, \"keyspace\": \"%s\"}", i * 7, i & 1 ? "s" : "k");
            int n = must_plan(r, req, t);
            for (int j = 0; j < n; j++) append(seq[run], sizeof seq[run], t[j].node);
        }
        sy_router_free(r);
    }
    assert_string_equal(seq[0], seq[1]);
    /* another seed, another sequence */
    sy_router *r = router(kFixed, "{\"seed\": 43, \"permit_dc_failover\": true}");
    char other[4096] = "";
    tgt t[MAXT];
    for (int i = 0; i < 40; i++) {
        char req[96];
        snprintf(req, sizeof req, "{\"token\": %d, \"keyspace\": \"%s\"}", i * 7, i & 1 ? "s" : "k");
        int n = must_plan(r, req, t);
        for (int j = 0; j < n; j++) append(other, sizeof other, t[j].node);
    }
    assert_string_not_equal(seq[0], other);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- latency awareness */

/* dc1: a, b, c (replicas of keyspace s, RF 3) and n (never a replica: no token). */
static const char *const kLatTopo =
    "{\"nodes\": ["
    "{\"id\": \"a\", \"host\": \"10.0.0.1\", \"port\": 1, \"tokens\": [10]},"
    "{\"id\": \"b\", \"host\": \"10.0.0.2\", \"port\": 1, \"tokens\": [20]},"
    "{\"id\": \"c\", \"host\": \"10.0.0.3\", \"port\": 1, \"tokens\": [30]},"
    "{\"id\": \"n\", \"host\": \"10.0.0.4\", \"port\": 1}],"
    " \"keyspaces\": [{\"name\": \"s\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": 3}}]}";

static void report(sy_router *r, const char *node, uint32_t kind, uint64_t latency_ns) {
    sy_target t = SY_STRUCT_INIT(sy_target);
    t.node = node;
    t.via[0] = "default_policy";
    t.via_count = 1;
    t.node_index = UINT32_MAX; /* found by id */
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    o.kind = kind;
    o.latency_ns = latency_ns;
    assert_int_equal(sy_router_report(r, &t, &o), SY_OK);
}

/* Where c comes in 100 plans: the largest and smallest index seen. */
static void position_of_c(sy_router *r, const char *req, int *min_at, int *max_at) {
    *min_at = 99;
    *max_at = -1;
    tgt t[MAXT];
    for (int i = 0; i < 100; i++) {
        int n = must_plan(r, req, t);
        for (int j = 0; j < n; j++)
            if (strcmp(t[j].node, "c") == 0) {
                if (j < *min_at) *min_at = j;
                if (j > *max_at) *max_at = j;
            }
        assert_string_equal(t[n - 1].node, "n"); /* never a replica behind the non-replica */
    }
}

static void test_latency_demotes_and_retries(void **state) {
    (void)state;
    g_now = 1000000000ull;
    sy_router *r = router(kLatTopo, "{\"latency_awareness\": {\"minimum_measurements\": 5, \"update_rate_ms\": 100,"
                                    " \"retry_period_ms\": 10000, \"scale_ms\": 100, \"exclusion_threshold\": 2}}");
    const char *req = "{\"token\": 5, \"keyspace\": \"s\"}";
    int lo, hi;
    position_of_c(r, req, &lo, &hi);
    assert_int_equal(lo, 0); /* no measurements: c leads as often as anyone */

    for (int i = 0; i < 10; i++) {
        g_now += 10000000; /* 10 ms apart */
        report(r, "a", SY_OUTCOME_SUCCESS, 1000000);
        report(r, "b", SY_OUTCOME_TIMEOUT, 1200000); /* slow failures measure too */
        report(r, "c", SY_OUTCOME_SUCCESS, 10000000);
        report(r, "c", SY_OUTCOME_REFUSED, 1);         /* fast failures do not */
    }
    g_now += 200000000; /* past update_rate: the minimum is computed */
    position_of_c(r, req, &lo, &hi);
    assert_int_equal(lo, 2); /* demoted: after a and b... */
    assert_int_equal(hi, 2); /* ...but before the non-replica, and in pick too */

    /* LWT: ring order, latency or not */
    const char *lwt = "{\"token\": 25, \"keyspace\": \"s\", \"lwt\": true}";
    position_of_c(r, lwt, &lo, &hi);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 0);

    /* a and b keep answering; c gets no traffic. Within retry_period it stays
     * demoted, after it it is tried again. */
    uint64_t c_last = g_now - 200000000;
    while (g_now < c_last + 9000000000ull) {
        g_now += 500000000;
        report(r, "a", SY_OUTCOME_SUCCESS, 1000000);
        report(r, "b", SY_OUTCOME_SUCCESS, 1000000);
    }
    position_of_c(r, req, &lo, &hi);
    assert_int_equal(lo, 2);
    while (g_now < c_last + 10500000000ull) {
        g_now += 500000000;
        report(r, "a", SY_OUTCOME_SUCCESS, 1000000);
        report(r, "b", SY_OUTCOME_SUCCESS, 1000000);
    }
    position_of_c(r, req, &lo, &hi);
    assert_int_equal(lo, 0); /* back among the others */
    sy_router_free(r);
}

/* A stale minimum ages out; a node that leaves the topology is forgotten. */
static void test_latency_forgets(void **state) {
    (void)state;
    g_now = 5000000000ull;
    sy_router *r = router(kLatTopo, "{\"latency_awareness\": {\"minimum_measurements\": 3, \"retry_period_ms\": 1000}}");
    const char *req = "{\"token\": 5, \"keyspace\": \"s\"}";
    for (int i = 0; i < 5; i++) {
        g_now += 1000000;
        report(r, "a", SY_OUTCOME_SUCCESS, 1000000);
        report(r, "c", SY_OUTCOME_SUCCESS, 9000000);
    }
    g_now += 200000000;
    int lo, hi;
    position_of_c(r, req, &lo, &hi);
    assert_int_equal(lo, 2);

    /* c leaves and comes back: its history is gone */
    const char *without_c = "{\"nodes\": ["
                            "{\"id\": \"a\", \"host\": \"10.0.0.1\", \"port\": 1, \"tokens\": [10]},"
                            "{\"id\": \"b\", \"host\": \"10.0.0.2\", \"port\": 1, \"tokens\": [20]},"
                            "{\"id\": \"n\", \"host\": \"10.0.0.4\", \"port\": 1}],"
                            " \"keyspaces\": [{\"name\": \"s\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": 3}}]}";
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_update_topology_json(r, without_c, strlen(without_c), &err), SY_OK);
    report(r, "c", SY_OUTCOME_SUCCESS, 9000000); /* a node it does not know: ignored */
    assert_int_equal(sy_router_update_topology_json(r, kLatTopo, strlen(kLatTopo), &err), SY_OK);
    g_now += 200000000;
    position_of_c(r, req, &lo, &hi);
    assert_int_equal(lo, 0);

    /* a keeps its history across updates: c penalised again after 3 slow answers */
    for (int i = 0; i < 3; i++) {
        g_now += 1000000;
        report(r, "c", SY_OUTCOME_SUCCESS, 9000000);
        report(r, "a", SY_OUTCOME_SUCCESS, 1000000);
    }
    g_now += 200000000;
    position_of_c(r, req, &lo, &hi);
    assert_int_equal(lo, 2);

    /* everybody silent for longer than retry_period: no fresh minimum, no demotion */
    g_now += 2000000000ull;
    position_of_c(r, req, &lo, &hi);
    assert_int_equal(lo, 0);
    sy_router_free(r);
}

/* ---------------------------------------------------------------- empty plans */

static void test_empty_plan_reasons(void **state) {
    (void)state;
    tgt t[MAXT];
    sy_error err;
    sy_router *r = router(kFixed, "{\"preferred_datacenter\": \"dc2\"}");
    const char *only_dc1 = "{\"nodes\": [{\"id\": \"a\", \"host\": \"h\", \"port\": 1, \"datacenter\": \"dc1\"}]}";
    sy_error uerr = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_update_topology_json(r, only_dc1, strlen(only_dc1), &uerr), SY_OK);
    assert_int_equal(plan(r, "{}", t, &err), SY_ENOROUTE);
    assert_non_null(strstr(err.message, "preferred_datacenter 'dc2' has no node"));
    assert_non_null(strstr(err.message, "permit_dc_failover is false"));
    assert_int_equal(sy_router_update_topology_json(r, "{}", 2, &uerr), SY_OK);
    assert_int_equal(plan(r, "{}", t, &err), SY_ENOROUTE);
    assert_non_null(strstr(err.message, "the topology has no nodes"));
    sy_router_free(r);

    /* with failover the other DCs serve */
    r = router(kFixed, "{\"preferred_datacenter\": \"dc2\", \"permit_dc_failover\": true}");
    assert_int_equal(sy_router_update_topology_json(r, only_dc1, strlen(only_dc1), &uerr), SY_OK);
    assert_int_equal(must_plan(r, "{}", t), 1);
    assert_string_equal(t[0].node, "a");
    sy_router_free(r);

    /* all down: still planned, as a last resort */
    r = router("{\"nodes\": [{\"id\": \"a\", \"host\": \"h\", \"port\": 1, \"up\": false}]}", "{}");
    assert_int_equal(must_plan(r, "{}", t), 1);
    assert_true(is_down(&t[0]));
    sy_router_free(r);

    /* a preferred DC the config's own topology lacks: a config error */
    int rc;
    r = router_ex(kFixed, "{\"preferred_datacenter\": \"dc3\"}", &rc, &err);
    assert_null(r);
    assert_int_equal(rc, SY_ECONFIG);
    assert_string_equal(err.path, "selector.config.preferred_datacenter");
    assert_non_null(strstr(err.message, "'dc3'"));
}

/* ---------------------------------------------------------------- allocations */

static void test_no_allocation_while_planning(void **state) {
    (void)state;
    sy_router *r = router(kFixed, "{\"preferred_datacenter\": \"dc1\", \"permit_dc_failover\": true,"
                                  " \"latency_awareness\": {\"minimum_measurements\": 1}}");
    report(r, "a", SY_OUTCOME_SUCCESS, 1000000);
    report(r, "b", SY_OUTCOME_SUCCESS, 9000000);
    g_now += 500000000;
    static const char *const reqs[] = {"{\"key\": \"user:1\", \"keyspace\": \"k\"}",
                                       "{\"key\": \"user:1\", \"keyspace\": \"s\", \"lwt\": true}", "{}"};
    sy_plan_storage st;
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        sy_request *q = NULL;
        sy_error err = SY_STRUCT_INIT(sy_error);
        assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
        assert_int_equal(sy_request_parse_json(q, reqs[i], strlen(reqs[i]), &err), SY_OK);
        size_t before = g_allocs;
        for (int k = 0; k < 200; k++) {
            sy_plan *p = NULL;
            assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
            sy_target t = SY_STRUCT_INIT(sy_target);
            int n = 0;
            while (sy_plan_next(p, &t) == 1 && (k & 1 || n == 0)) n++; /* pick only, or the whole plan */
            sy_plan_release(p);
        }
        assert_int_equal(g_allocs, before);
        sy_request_free(q);
    }
    sy_router_free(r);
}

/* ---------------------------------------------------------------- threads */

typedef struct shared {
    sy_router *r;
    atomic_int stop;
    atomic_int bad;
} shared;

/* Plans token-aware requests and reports every target, as a driver would. */
static void *driver(void *arg) {
    shared *s = arg;
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_request_new(s->r, &q, &err) != SY_OK) return (void *)1;
    sy_plan_storage st;
    uint64_t k = 0;
    while (!atomic_load(&s->stop)) {
        char key[32];
        snprintf(key, sizeof key, "user:%llu", (unsigned long long)k++);
        sy_request_set_key(q, key, strlen(key));
        sy_request_set_keyspace(q, (k & 1) ? "k" : "s");
        sy_plan *p = NULL;
        if (sy_plan_init(s->r, q, &st, sizeof st, &p, &err) != SY_OK) {
            atomic_fetch_add(&s->bad, 1);
            continue;
        }
        sy_target t = SY_STRUCT_INIT(sy_target);
        int n = 0;
        while (sy_plan_next(p, &t) == 1) {
            sy_outcome o = SY_STRUCT_INIT(sy_outcome);
            o.kind = SY_OUTCOME_SUCCESS;
            o.latency_ns = 1000 + (uint64_t)(n++ * 1000);
            sy_router_report(s->r, &t, &o);
        }
        if (n == 0) atomic_fetch_add(&s->bad, 1);
        sy_plan_release(p);
    }
    sy_request_free(q);
    return NULL;
}

static uint64_t real_clock(void *ud) {
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Latency statistics are written by every thread while the topology is
 * replaced underneath: under TSan this is the race check of node_stats. */
static void test_concurrent_outcomes_and_updates(void **state) {
    (void)state;
    const char *dir = getenv("SY_PLUGIN_DIR");
    char config[8192];
    int len = snprintf(config, sizeof config,
                       "{\"plugin_path\": [\"%s\"], \"topology\": %s, \"selector\": {\"plugin\": \"default_policy\","
                       " \"config\": {\"preferred_datacenter\": \"dc1\", \"permit_dc_failover\": true,"
                       " \"latency_awareness\": {\"minimum_measurements\": 2, \"update_rate_ms\": 1}}}}",
                       dir ? dir : "build/plugins", kFixed);
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.clock_ns = real_clock;
    shared s;
    memset(&s, 0, sizeof s);
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new(config, (size_t)len, &o, &s.r, &err), SY_OK);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&th[i], NULL, driver, &s), 0);
    for (int u = 0; u < 200; u++) {
        const char *topo = (u & 1) ? kFixed : kLatTopo;
        /* kLatTopo has no dc1: later snapshots warn, plans use failover */
        assert_int_equal(sy_router_update_topology_json(s.r, topo, strlen(topo), &err), SY_OK);
    }
    atomic_store(&s.stop, 1);
    for (int i = 0; i < 3; i++) {
        void *ret = (void *)1;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    assert_int_equal(atomic_load(&s.bad), 0);
    sy_router_free(s.r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placement_matches_cassandra),
        cmocka_unit_test(test_nts_prefers_distinct_racks),
        cmocka_unit_test(test_many_replications),
        cmocka_unit_test(test_keyspace_names),
        cmocka_unit_test(test_tier_order),
        cmocka_unit_test(test_fixed_plan_order),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_token_unaware_requests),
        cmocka_unit_test(test_shuffling),
        cmocka_unit_test(test_seeded_plans_repeat),
        cmocka_unit_test(test_latency_demotes_and_retries),
        cmocka_unit_test(test_latency_forgets),
        cmocka_unit_test(test_empty_plan_reasons),
        cmocka_unit_test(test_no_allocation_while_planning),
        cmocka_unit_test(test_concurrent_outcomes_and_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
