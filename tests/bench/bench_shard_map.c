/* bench_shard_map: an entity's plan — Casty's MD5 shard, then the owner —
 * i.e. sy_plan_init plus the first target, over 1024 different entity ids.
 * Prints ns per plan (median of 7 runs) and allocations. Printed, never
 * judged.
 *
 *   bench_shard_map [ITERATIONS]   (default 300000)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <switchyard/switchyard.h>

#include "bench_util.h"

#define IDS 1024

typedef struct bench {
    sy_router *router;
    sy_request *req[IDS];
    volatile uint32_t sink;
} bench;

static double entity_plan(void *ctx, long n) {
    bench *b = ctx;
    sy_plan_storage st;
    uint64_t t0 = bench_now_ns();
    sy_target t = SY_STRUCT_INIT(sy_target); /* reused, as a driver does */
    for (long i = 0; i < n; i++) {
        sy_plan *p = NULL;
        if (sy_plan_init(b->router, b->req[i % IDS], &st, sizeof st, &p, NULL) != SY_OK) abort();
        if (sy_plan_next(p, &t) != 1) abort();
        b->sink += t.port;
        sy_plan_release(p);
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 300000;
    static char cfg[1 << 17];
    const char *dir = getenv("SY_PLUGIN_DIR");
    size_t n = (size_t)snprintf(cfg, sizeof cfg,
                                "{\"plugin_path\": [\"%s\"], \"topology\": {\"nodes\": ["
                                "{\"id\": \"n1\", \"host\": \"10.0.0.1\", \"port\": 25520},"
                                "{\"id\": \"n2\", \"host\": \"10.0.0.2\", \"port\": 25520},"
                                "{\"id\": \"n3\", \"host\": \"10.0.0.3\", \"port\": 25520}]},"
                                " \"selector\": {\"plugin\": \"shard_map\", \"config\": {\"shard_types\":"
                                " [{\"type\": \"counter\", \"num_shards\": 100}], \"allocations\": [",
                                dir ? dir : "build/plugins");
    for (int s = 0; s < 100; s++)
        n += (size_t)snprintf(cfg + n, sizeof cfg - n, "%s{\"type\": \"counter\", \"shard\": %d, \"node\": \"n%d\","
                              " \"replicas\": [\"n%d\"]}", s ? "," : "", s, s % 3 + 1, (s + 1) % 3 + 1);
    n += (size_t)snprintf(cfg + n, sizeof cfg - n, "]}}}");
    sy_allocator a = {.struct_size = sizeof a, .alloc = bench_alloc, .free = bench_free};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    bench b = {0};
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_new(cfg, n, &o, &b.router, &err) != SY_OK) {
        fprintf(stderr, "bench_shard_map: %s: %s\n", err.path, err.message);
        return 1;
    }
    for (int i = 0; i < IDS; i++) {
        char id[32];
        snprintf(id, sizeof id, "user-%d", i);
        if (sy_request_new(b.router, &b.req[i], &err) != SY_OK || sy_request_set_entity(b.req[i], "counter", id) != SY_OK)
            abort();
    }
    size_t a0 = g_allocs;
    double ns = bench_median(entity_plan, &b, iters);
    double best = g_bench_best;
    double allocs = (double)(g_allocs - a0) / (double)(iters * BENCH_RUNS + iters / 10 + 1);
    printf("shard_map entity plan (MD5 shard + owner, 1024 ids, 100 shards): %.1f ns (best run %.1f), %.2f allocs\n",
           ns, best, allocs);
    for (int i = 0; i < IDS; i++) sy_request_free(b.req[i]);
    sy_router_free(b.router);
    return 0;
}
