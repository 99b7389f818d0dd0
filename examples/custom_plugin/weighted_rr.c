/*
 * weighted_rr: a selector plugin written outside the switchyard tree, the way
 * a user writes one. Plain C11, one file, no link to libswitchyard: the core
 * hands it the sy_host services table and that is all it uses.
 *
 * Build and install (see the Makefile beside it):
 *   cc -std=c11 -O2 -Wall -Wextra $(pkg-config --cflags switchyard) -shared -fPIC \
 *      -o weighted_rr.so weighted_rr.c
 *   install -m 755 weighted_rr.so "$(pkg-config --variable=plugindir switchyard)"
 *
 * Config, every key optional:
 *   {"weights": {"<node id>": 3, ...},  integers 1..1000, by topology node id
 *    "default_weight": 1,               for nodes not in "weights"
 *    "max_failures": 3,                 consecutive failures before a node is
 *                                       no longer a first pick (0: never)
 *    "start": 0}                        first position in the weighted cycle
 *                                       (absent: random, so processes spread)
 *
 * A plan: the next node of a weighted round robin over the up nodes, then the
 * other up nodes, then the down nodes as a last resort.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <switchyard/plugin.h>

#define WRR_NAME "weighted_rr"
#define WRR_MAX_WEIGHT 1000 /* bounds the per-snapshot round table (below) */

typedef struct wrr_weight {
    char *id; /* copied: the config JSON is only valid during create */
    size_t id_size;
    uint32_t weight;
} wrr_weight;

/* The instance: the host allocates it zeroed and shares it between threads. */
typedef struct wrr {
    const sy_host *host;
    wrr_weight *weights;
    size_t weight_count, weight_cap; /* filled, allocated (the host's free wants the size) */
    uint32_t default_weight, max_weight, max_failures;
    /* One ticket per plan, shared by every thread: fetch_add hands each plan
     * its own position in the cycle. Relaxed order is enough, nothing else is
     * published through it. Kept across topology changes. */
    atomic_uint_fast64_t next;
} wrr;

/* Outcome counters per node. on_outcome and plan_init run concurrently on
 * many threads, so plain integers would be a data race. */
typedef struct wrr_stats {
    atomic_uint consecutive;
    atomic_uint_fast64_t failures;
} wrr_stats;

/* Per topology snapshot, built by attach, read-only afterwards (but for the
 * atomics). The cycle is interleaved: round k holds every up node of weight
 * > k, so weights a=3 b=2 c=1 give a b c | a b | a. With the up nodes sorted
 * by weight, round k is a prefix of that order, and the p-th pick of the
 * cycle is one binary search over round_start: no table of every pick. */
typedef struct wrr_state {
    size_t size; /* of this one allocation */
    size_t node_count, up_count;
    uint32_t rounds;       /* the highest weight of an up node */
    uint64_t *round_start; /* [rounds + 1]: picks before round k; [rounds] = cycle length */
    uint32_t *order;       /* node indices: up nodes by weight (stable), then down ones */
    uint32_t *weight;      /* by node index */
    wrr_stats *stats;      /* by node index */
} wrr_state;

/* Lives in the plan storage the caller gives the core: no heap in plans. */
typedef struct wrr_plan {
    const wrr_state *st;
    const sy_topology *topology; /* plan_next gets no topology: keep it */
    uint32_t first;   /* position in order[] of the first target */
    uint32_t emitted; /* targets returned so far */
    char detail[80];  /* via detail of the last target: valid until the next one */
} wrr_plan;

/* ---------------------------------------------------------------- config */

/* base + key as the core spells JSON paths: a.b, or a["odd key"]. */
static void join_path(char *out, size_t size, const char *base, const char *key) {
    int ident = *key && !(*key >= '0' && *key <= '9');
    for (const char *c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            ident = 0;
    size_t n = (size_t)snprintf(out, size, "%s%s", base, !ident ? "[\"" : *base ? "." : "");
    for (const char *c = key; *c && n + 4 < size; c++) {
        if (!ident && (*c == '"' || *c == '\\')) out[n++] = '\\';
        out[n++] = *c;
    }
    if (!ident && n + 3 < size) out[n++] = '"', out[n++] = ']';
    out[n < size ? n : size - 1] = '\0';
}

static int config_error(const sy_host *h, sy_error *err, const char *base, const char *key,
                        const char *message, const sy_json *got) {
    char path[SY_ERROR_PATH_MAX], what[64];
    join_path(path, sizeof path, base, key);
    switch (h->json_type(got)) {
    case SY_JSON_NUMBER: snprintf(what, sizeof what, "%.15g", h->json_number(got)); break;
    case SY_JSON_STRING: snprintf(what, sizeof what, "\"%.40s\"", h->json_string(got)); break;
    case SY_JSON_OBJECT: snprintf(what, sizeof what, "an object"); break;
    case SY_JSON_ARRAY: snprintf(what, sizeof what, "an array"); break;
    case SY_JSON_MISSING: what[0] = '\0'; break;
    case SY_JSON_NULL: snprintf(what, sizeof what, "null"); break;
    default: snprintf(what, sizeof what, "a boolean");
    }
    h->set_error(err, SY_ECONFIG, path, "%s%s%s", message, what[0] ? ", got " : "", what);
    return SY_ECONFIG;
}

/* JSON numbers are doubles: accept only whole ones in [lo, hi]. The range
 * test comes first, so the cast below is always defined (NaN fails it). */
static int get_int(const sy_host *h, const sy_json *v, long long lo, long long hi, long long *out) {
    double x = h->json_number(v);
    if (h->json_type(v) != SY_JSON_NUMBER || !(x >= (double)lo && x <= (double)hi) ||
        x != (double)(long long)x)
        return 0;
    *out = (long long)x;
    return 1;
}

static void wrr_destroy(void *instance) {
    wrr *w = instance;
    const sy_host *h = w->host;
    for (size_t i = 0; i < w->weight_count; i++) h->free(h, w->weights[i].id, w->weights[i].id_size);
    if (w->weights) h->free(h, w->weights, w->weight_cap * sizeof *w->weights);
    w->weights = NULL;
    w->weight_count = w->weight_cap = 0;
}

static int parse_weights(wrr *w, const sy_json *map, const char *base, sy_error *err) {
    const sy_host *h = w->host;
    if (h->json_type(map) != SY_JSON_OBJECT)
        return config_error(h, err, base, "weights", "expected an object {\"<node id>\": weight}",
                            map);
    size_t n = h->json_count(map);
    if (n == 0) return SY_OK;
    /* weight_count grows as entries are filled: destroy frees exactly what exists. */
    if (!(w->weights = h->alloc(h, n * sizeof *w->weights, _Alignof(wrr_weight)))) goto oom;
    w->weight_cap = n;
    char path[SY_ERROR_PATH_MAX];
    join_path(path, sizeof path, base, "weights");
    for (const sy_json *m = h->json_first(map); m; m = h->json_next(m)) {
        const char *id = h->json_key(m);
        long long v;
        for (size_t i = 0; i < w->weight_count; i++)
            if (strcmp(w->weights[i].id, id) == 0)
                return config_error(h, err, path, id, "duplicate node id", NULL);
        if (!get_int(h, m, 1, WRR_MAX_WEIGHT, &v))
            return config_error(h, err, path, id, "expected an integer weight 1..1000", m);
        wrr_weight *e = &w->weights[w->weight_count];
        e->id_size = strlen(id) + 1;
        if (!(e->id = h->alloc(h, e->id_size, 1))) goto oom;
        memcpy(e->id, id, e->id_size);
        e->weight = (uint32_t)v;
        w->weight_count++;
        if (e->weight > w->max_weight) w->max_weight = e->weight;
    }
    return SY_OK;
oom:
    h->set_error(err, SY_ENOMEM, base, "out of memory");
    return SY_ENOMEM;
}

static int wrr_create(void *instance, const sy_host *host, const sy_json *config,
                      const char *config_path, sy_error *err) {
    wrr *w = instance;
    const char *base = config_path ? config_path : "";
    w->host = host;
    w->default_weight = w->max_weight = 1;
    w->max_failures = 3;
    /* json_first/json_next came with host services version 2: an older core
     * would load this plugin (same plugin ABI) but lack them. Say so. */
    if (host->version < 2) {
        host->set_error(err, SY_EUNSUPPORTED, base,
                        WRR_NAME " needs host services version 2, this core has %u",
                        (unsigned)host->version);
        return SY_EUNSUPPORTED;
    }
    long long start = -1, v;
    static const char *const keys[] = {"weights", "default_weight", "max_failures", "start"};
    for (const sy_json *m = host->json_first(config); m; m = host->json_next(m)) {
        const char *key = host->json_key(m);
        size_t k = 0;
        while (k < 4 && strcmp(keys[k], key) != 0) k++;
        int rc = SY_OK;
        if (k == 4)
            rc = config_error(host, err, base, key,
                              "unknown key (expected weights, default_weight, max_failures or start)",
                              NULL);
        else if (host->json_get(config, key) != m) /* json_get finds the first of a name */
            rc = config_error(host, err, base, key, "duplicate key", NULL);
        else if (k == 0) rc = parse_weights(w, m, base, err);
        else if (k == 1 && !get_int(host, m, 1, WRR_MAX_WEIGHT, &v))
            rc = config_error(host, err, base, key, "expected an integer weight 1..1000", m);
        else if (k == 1) w->default_weight = (uint32_t)v;
        else if (k == 2 && !get_int(host, m, 0, 1000000, &v))
            rc = config_error(host, err, base, key, "expected an integer 0..1000000 (0: never skip)", m);
        else if (k == 2) w->max_failures = (uint32_t)v;
        else if (k == 3 && !get_int(host, m, 0, 9007199254740991LL, &start))
            rc = config_error(host, err, base, key, "expected an integer >= 0", m);
        if (rc != SY_OK) {
            wrr_destroy(w); /* the core calls destroy only after a successful create */
            return rc;
        }
    }
    if (w->default_weight > w->max_weight) w->max_weight = w->default_weight;
    atomic_init(&w->next, start >= 0 ? (uint_fast64_t)start : host->random_u64(host));
    return SY_OK;
}

/* ---------------------------------------------------------------- snapshots */

static int wrr_attach(void *instance, const sy_topology *t, void **state, sy_error *err) {
    wrr *w = instance;
    const sy_host *h = w->host;
    size_t n = t->node_count;
    /* One allocation: the state, then its arrays (each offset keeps 8-byte alignment). */
    size_t off_stats = (sizeof(wrr_state) + 15) & ~(size_t)15;
    size_t off_round = off_stats + n * sizeof(wrr_stats);
    size_t off_order = off_round + ((size_t)w->max_weight + 1) * sizeof(uint64_t);
    size_t off_weight = off_order + ((n * sizeof(uint32_t) + 7) & ~(size_t)7);
    size_t size = off_weight + n * sizeof(uint32_t);
    char *mem = n < ((size_t)1 << 40) ? h->alloc(h, size, 16) : NULL;
    if (!mem) {
        h->set_error(err, SY_ENOMEM, "", WRR_NAME ": out of memory for %zu nodes", n);
        return SY_ENOMEM;
    }
    memset(mem, 0, size);
    wrr_state *st = (wrr_state *)(void *)mem;
    st->size = size;
    st->node_count = n;
    st->stats = (wrr_stats *)(void *)(mem + off_stats);
    st->round_start = (uint64_t *)(void *)(mem + off_round);
    st->order = (uint32_t *)(void *)(mem + off_order);
    st->weight = (uint32_t *)(void *)(mem + off_weight);
    for (size_t i = 0; i < n; i++) {
        atomic_init(&st->stats[i].consecutive, 0);
        atomic_init(&st->stats[i].failures, 0);
        st->weight[i] = w->default_weight;
    }
    /* Weights by id: O(weights x nodes), fine for a hand-written map. A
     * weight naming no node is most likely a typo: warn, do not fail, since
     * a later topology may bring the node. */
    for (size_t j = 0; j < w->weight_count; j++) {
        size_t i = 0;
        while (i < n && strcmp(SY_TOPOLOGY_NODE(t, i)->id, w->weights[j].id) != 0) i++;
        if (i < n) st->weight[i] = w->weights[j].weight;
        else h->log(h, SY_LOG_WARN, "weights names node '%s', which topology epoch %llu lacks",
                    w->weights[j].id, (unsigned long long)t->epoch);
    }
    /* Counting sort of the up nodes by weight, heaviest first, ties in
     * topology order; down nodes after them in topology order. */
    uint32_t count[WRR_MAX_WEIGHT + 2] = {0};
    for (size_t i = 0; i < n; i++)
        if (SY_TOPOLOGY_NODE(t, i)->up) count[WRR_MAX_WEIGHT - st->weight[i] + 1]++, st->up_count++;
    for (size_t k = 1; k <= WRR_MAX_WEIGHT + 1; k++) count[k] += count[k - 1];
    size_t down = st->up_count;
    for (size_t i = 0; i < n; i++) {
        size_t at = SY_TOPOLOGY_NODE(t, i)->up ? count[WRR_MAX_WEIGHT - st->weight[i]]++ : down++;
        st->order[at] = (uint32_t)i;
    }
    /* Round k holds the first "nodes of weight > k" entries of order[]. */
    st->rounds = st->up_count ? st->weight[st->order[0]] : 0;
    size_t in_round = st->up_count;
    for (uint32_t k = 0; k < st->rounds; k++) {
        while (st->weight[st->order[in_round - 1]] <= k) in_round--;
        st->round_start[k + 1] = st->round_start[k] + in_round;
    }
    *state = st;
    return SY_OK;
}

static void wrr_detach(void *instance, void *state) {
    const sy_host *h = ((wrr *)instance)->host;
    h->free(h, state, ((wrr_state *)state)->size);
}

/* ---------------------------------------------------------------- plans */

static int skipped(const wrr *w, const wrr_state *st, uint32_t pos) {
    const atomic_uint *c = &st->stats[st->order[pos]].consecutive;
    return w->max_failures && atomic_load_explicit(c, memory_order_relaxed) >= w->max_failures;
}

static int wrr_plan_init(void *instance, const void *state, const sy_topology *t,
                         const sy_request_view *request, void *plan_state, sy_error *err) {
    wrr *w = instance;
    const wrr_state *st = state;
    wrr_plan *p = plan_state;
    (void)request; /* a weighted round robin ignores what is asked */
    if (t->node_count == 0) {
        w->host->set_error(err, SY_ENOROUTE, "", WRR_NAME ": the topology has no nodes");
        return SY_ENOROUTE;
    }
    p->st = st;
    p->topology = t; /* the plan pins its snapshot: valid until release */
    p->first = 0;
    p->emitted = 0;
    if (st->up_count == 0) return SY_OK; /* only down nodes: plan them anyway */
    uint64_t ticket = atomic_fetch_add_explicit(&w->next, 1, memory_order_relaxed);
    uint64_t pick = ticket % st->round_start[st->rounds]; /* position in the cycle */
    uint32_t lo = 0, hi = st->rounds; /* the round holding pick */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (st->round_start[mid] <= pick) lo = mid;
        else hi = mid;
    }
    p->first = (uint32_t)(pick - st->round_start[lo]);
    /* A node that keeps failing is passed over as first pick (the next one in
     * rotation takes its turn), but stays in the plan. Only the first pick
     * looks at the counters: one read per plan, so concurrent outcomes can
     * never make a plan list a node twice or drop one. */
    for (uint32_t i = 0; i < st->up_count && skipped(w, st, p->first); i++)
        p->first = (uint32_t)((p->first + 1) % st->up_count);
    return SY_OK;
}

static int wrr_plan_next(void *instance, void *plan_state, sy_target *target) {
    wrr_plan *p = plan_state;
    const wrr_state *st = p->st;
    (void)instance;
    if (p->emitted >= st->node_count) return 0;
    uint32_t k = p->emitted++, pos = k;
    const char *pick = "down";
    if (k < st->up_count) { /* the first pick, then the other up nodes in rotation */
        pos = (uint32_t)((p->first + k) % st->up_count);
        pick = k == 0 ? "weighted" : "failover";
    }
    uint32_t i = st->order[pos];
    const sy_node *node = SY_TOPOLOGY_NODE(p->topology, i);
    /* Strings point into the snapshot, which outlives the plan. */
    target->node = node->id;
    target->host = node->host;
    target->port = node->port;
    target->datacenter = node->datacenter;
    target->rack = node->rack;
    target->node_index = i; /* lets on_outcome skip a lookup by id */
    target->weight = (int32_t)st->weight[i];
    target->flags |= SY_TARGET_HAS_WEIGHT | (node->up ? 0u : SY_TARGET_DOWN);
    /* What we used, shown by syctl plan --json in "via". snprintf into the
     * plan state: no allocation, valid until the next plan_next. */
    snprintf(p->detail, sizeof p->detail, "{\"pick\":\"%s\",\"consecutive_failures\":%u}", pick,
             atomic_load_explicit(&st->stats[i].consecutive, memory_order_relaxed));
    SY_TARGET_ADD_VIA_DETAIL(target, WRR_NAME, p->detail);
    return 1;
}

/* ---------------------------------------------------------------- outcomes */

static void wrr_on_outcome(void *instance, const void *state, const sy_topology *t,
                           const sy_target *target, const sy_outcome *outcome) {
    const wrr *w = instance;
    const wrr_state *st = state;
    size_t i = target->node_index;
    /* The index is only meaningful in the snapshot the target came from;
     * after a topology change find the node by id (rare, so O(nodes)). */
    if (target->epoch != t->epoch || i >= st->node_count) {
        for (i = 0; i < st->node_count && target->node; i++)
            if (strcmp(SY_TOPOLOGY_NODE(t, i)->id, target->node) == 0) break;
        if (!target->node || i == st->node_count) return; /* the node is gone */
    }
    wrr_stats *s = &st->stats[i];
    const char *id = SY_TOPOLOGY_NODE(t, i)->id;
    if (outcome->kind == SY_OUTCOME_SUCCESS) {
        unsigned before = atomic_exchange_explicit(&s->consecutive, 0, memory_order_relaxed);
        if (w->max_failures && before >= w->max_failures)
            w->host->log(w->host, SY_LOG_INFO, "node %s succeeded again: back in the rotation", id);
        return;
    }
    uint64_t total = atomic_fetch_add_explicit(&s->failures, 1, memory_order_relaxed) + 1;
    unsigned now = atomic_fetch_add_explicit(&s->consecutive, 1, memory_order_relaxed) + 1;
    /* Exactly one thread sees the count reach the limit: one line per episode. */
    if (now == w->max_failures)
        w->host->log(w->host, SY_LOG_WARN,
                     "node %s: %u consecutive failures (%llu in all): "
                     "no longer a first pick until it succeeds",
                     id, now, (unsigned long long)total);
}

/* ---------------------------------------------------------------- the vtable */

static const sy_plugin wrr_plugin = {
    .abi_version = SY_PLUGIN_ABI_VERSION, /* the ABI of the header we compile against */
    .struct_size = sizeof(sy_plugin),
    .name = WRR_NAME, /* must equal the file's basename: weighted_rr.so */
    .description = "weighted round robin over the up nodes, down nodes last",
    .roles = SY_ROLE_SELECTOR,
    .instance_size = sizeof(wrr),
    .plan_state_size = sizeof(wrr_plan),
    .create = wrr_create,
    .destroy = wrr_destroy,
    .attach = wrr_attach,
    .detach = wrr_detach,
    .plan_init = wrr_plan_init,
    .plan_next = wrr_plan_next,
    .on_outcome = wrr_on_outcome,
};

/* Exports sy_plugin_query, the entry symbol the core looks up with dlsym. */
SY_PLUGIN_DEFINE(weighted_rr, wrr_plugin)
