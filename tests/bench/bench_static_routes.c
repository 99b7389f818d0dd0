/* bench_static_routes: static_routes lookups at 10 to 10,000 patterns, warm
 * (the per-snapshot cache) and cold (cache off: every lookup scans), for a
 * name one route matches (hit) and a name none matches (miss). A lookup is
 * sy_plan_init plus walking the plan to its end. Prints ns per lookup
 * (median of 7 runs), ns per candidate pattern on cold lookups (patterns
 * the first-byte prefilter lets through), heap allocations per lookup and
 * the router's memory. tests/bench/peers/ergo_routes runs Ergo's algorithm
 * on the same table for comparison. Numbers are printed, never judged.
 *
 *   bench_static_routes [ITERATIONS]   (default 200000, fewer for slow cases)
 *
 * The table: route i has pattern ^<c>svc<i>-[a-z]+@dc[0-9]\.example\.com$
 * with c = 'a' + i % 26 and weight i % 5; the hit name is route N/2's.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <switchyard/switchyard.h>

#include "bench_util.h"

typedef struct bench {
    sy_router *router;
    sy_request *req;
    int expect; /* targets per lookup */
    volatile uint32_t sink;
} bench;

static double lookup(void *ctx, long n) {
    bench *b = ctx;
    sy_plan_storage st;
    uint64_t t0 = bench_now_ns();
    sy_target t = SY_STRUCT_INIT(sy_target); /* reused, as a driver does */
    for (long i = 0; i < n; i++) {
        sy_plan *p = NULL;
        int rc = sy_plan_init(b->router, b->req, &st, sizeof st, &p, NULL);
        if (rc == SY_ENOROUTE && b->expect == 0) continue;
        if (rc != SY_OK) abort();
        int k = 0;
        while (sy_plan_next(p, &t) == 1) {
            b->sink += t.port;
            k++;
        }
        if (k != b->expect) abort();
        sy_plan_release(p);
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static sy_router *make(int routes, int cache, size_t *bytes) {
    const char *dir = getenv("SY_PLUGIN_DIR");
    size_t cap = (size_t)routes * 140 + 512;
    char *cfg = malloc(cap);
    if (!cfg) abort();
    size_t n = (size_t)snprintf(cfg, cap,
                                "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"static_routes\","
                                " \"config\": {\"cache_size\": %d, \"routes\": [",
                                dir ? dir : "build/plugins", cache);
    for (int i = 0; i < routes; i++)
        n += (size_t)snprintf(cfg + n, cap - n,
                              "%s{\"pattern\": \"^%csvc%d-[a-z]+@dc[0-9]\\\\.example\\\\.com$\", \"weight\": %d,"
                              " \"host\": \"10.%d.%d.%d\", \"port\": %d}",
                              i ? "," : "", 'a' + i % 26, i, i % 5, i / 62500, i / 250 % 250, i % 250 + 1,
                              1024 + i % 60000);
    n += (size_t)snprintf(cfg + n, cap - n, "]}}}");
    sy_allocator a = {.struct_size = sizeof a, .alloc = bench_alloc, .free = bench_free};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    size_t before = g_live;
    if (sy_router_new(cfg, n, &o, &r, &err) != SY_OK) {
        fprintf(stderr, "bench_static_routes: %s: %s\n", err.path, err.message);
        abort();
    }
    *bytes = g_live - before;
    free(cfg);
    return r;
}

static void measure(const char *what, bench *b, const char *name, int expect, long iters, int candidates) {
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_request_set_node(b->req, name) != SY_OK) abort();
    b->expect = expect;
    lookup(b, 10); /* fill the cache */
    size_t a0 = g_allocs;
    double ns = bench_median(lookup, b, iters), best = g_bench_best;
    double allocs = (double)(g_allocs - a0) / (double)(iters * BENCH_RUNS + iters / 10 + 1);
    (void)err;
    if (candidates > 0)
        printf("  %-10s %10.1f ns   %6.1f ns/candidate (%d)   %.2f allocs\n", what, ns, ns / candidates,
               candidates, allocs);
    else
        printf("  %-10s %10.1f ns   %28s   %.2f allocs   (best run %.1f ns)\n", what, ns, "", allocs, best);
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    const int sizes[] = {10, 100, 1000, 10000};
    printf("static_routes lookups (plan_init + the whole plan), median of %d runs\n", BENCH_RUNS);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        char hit[96];
        int k = n / 2;
        snprintf(hit, sizeof hit, "%csvc%d-api@dc1.example.com", 'a' + k % 26, k);
        const char *miss = "asvc-unknown@nowhere.example.org";
        /* patterns a cold lookup of each name runs: those starting with its first byte */
        int cand_hit = (n + 25 - (k % 26)) / 26, cand_miss = (n + 25) / 26;
        size_t warm_bytes = 0, cold_bytes = 0;
        bench w = {.router = make(n, 1024, &warm_bytes)};
        bench c = {.router = make(n, 0, &cold_bytes)};
        sy_error err = SY_STRUCT_INIT(sy_error);
        if (sy_request_new(w.router, &w.req, &err) || sy_request_new(c.router, &c.req, &err)) abort();
        printf("N=%d routes (router %.1f KiB; the lookup cache adds %.1f KiB per snapshot)\n", n,
               (double)cold_bytes / 1024.0, (double)(warm_bytes - cold_bytes) / 1024.0);
        long cold_iters = iters / (n >= 1000 ? n / 100 : 1);
        measure("warm hit", &w, hit, 1, iters, 0);
        measure("warm miss", &w, miss, 0, iters, 0);
        measure("cold hit", &c, hit, 1, cold_iters, cand_hit);
        measure("cold miss", &c, miss, 0, cold_iters, cand_miss);
        sy_request_free(w.req);
        sy_request_free(c.req);
        sy_router_free(w.router);
        sy_router_free(c.router);
    }
    return 0;
}
