/* bench_service_map: service lookups over a registry of 1,000 services x
 * 10 instances (100 nodes in two datacenters, the preferred one first).
 * A lookup is sy_plan_init plus the first target, measured three ways: one
 * request asked again and again (a client's "payment"), 64 requests for
 * services spread over the registry in turn, and 1,024 requests over the
 * whole registry (each lookup then misses the CPU caches for its request
 * object and its registry entries). Then the whole 10-target plan, a lookup
 * with a service_filter, and a whole contact plan. Prints ns per operation
 * (median of 7 runs), allocations per operation and the router's memory.
 * Printed, never judged.
 *
 *   bench_service_map [ITERATIONS]   (default 300000)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <switchyard/switchyard.h>

#include "bench_util.h"

#define SERVICES 1000
#define INSTANCES 10
#define NODES 100
#define REQS 1024

typedef struct bench {
    sy_router *router;
    sy_request *req[REQS];
    sy_request *filtered[REQS];
    sy_request *contact;
    volatile uint32_t sink;
} bench;

static double run(bench *b, sy_request *const *reqs, long n, int whole) {
    sy_plan_storage st;
    uint64_t t0 = bench_now_ns();
    sy_target t = SY_STRUCT_INIT(sy_target); /* reused, as a driver does */
    for (long i = 0; i < n; i++) {
        sy_plan *p = NULL;
        if (sy_plan_init(b->router, reqs[i % REQS], &st, sizeof st, &p, NULL) != SY_OK) abort();
        if (sy_plan_next(p, &t) != 1) abort();
        b->sink += t.port;
        while (whole && sy_plan_next(p, &t) == 1) b->sink += t.port;
        sy_plan_release(p);
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

/* The first `distinct` requests in turn. */
static double lookup_of(bench *b, long n, int distinct) {
    sy_request *reqs[REQS];
    for (int i = 0; i < REQS; i++) reqs[i] = b->req[i % distinct];
    return run(b, reqs, n, 0);
}
static double lookup_hot(void *ctx, long n) { return lookup_of(ctx, n, 1); }
static double lookup_64(void *ctx, long n) { return lookup_of(ctx, n, 64); }
static double lookup(void *ctx, long n) { return run(ctx, ((bench *)ctx)->req, n, 0); }
static double whole_plan(void *ctx, long n) { return run(ctx, ((bench *)ctx)->req, n, 1); }
static double filtered(void *ctx, long n) { return run(ctx, ((bench *)ctx)->filtered, n, 0); }

static double contact(void *ctx, long n) {
    bench *b = ctx;
    sy_request *one[REQS];
    for (int i = 0; i < REQS; i++) one[i] = b->contact;
    return run(b, one, n, 1);
}

/* ns per op and allocations per op of one measurement. */
static void measure(const char *what, bench_fn fn, bench *b, long iters) {
    size_t a0 = g_allocs;
    double ns = bench_median(fn, b, iters);
    double allocs = (double)(g_allocs - a0) / (double)(iters * BENCH_RUNS + iters / 10 + 1);
    printf("service_map %s: %.1f ns (best run %.1f), %.2f allocs\n", what, ns, g_bench_best, allocs);
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 300000;
    static char cfg[1 << 21];
    const char *dir = getenv("SY_PLUGIN_DIR");
    size_t n = (size_t)snprintf(cfg, sizeof cfg, "{\"plugin_path\": [\"%s\"], \"topology\": {\"nodes\": [",
                                dir ? dir : "build/plugins");
    for (int i = 0; i < NODES; i++)
        n += (size_t)snprintf(cfg + n, sizeof cfg - n,
                              "%s{\"id\": \"n%d\", \"host\": \"10.0.%d.%d\", \"port\": 25520, \"datacenter\": \"dc%d\"%s}",
                              i ? "," : "", i, i / 50, i % 50, i % 2 + 1, i % 17 == 3 ? ", \"up\": false" : "");
    n += (size_t)snprintf(cfg + n, sizeof cfg - n, "], \"services\": [");
    for (int s = 0; s < SERVICES; s++) {
        n += (size_t)snprintf(cfg + n, sizeof cfg - n, "%s{\"key\": \"service-%d\", \"instances\": [", s ? "," : "", s);
        for (int k = 0; k < INSTANCES; k++)
            n += (size_t)snprintf(cfg + n, sizeof cfg - n, "%s{\"node\": \"n%d\", \"port\": %d, \"attributes\": {\"zone\": \"%c\"}}",
                                  k ? "," : "", (s * 7 + k * 13) % NODES, 8000 + s % 100, 'a' + k % 3);
        n += (size_t)snprintf(cfg + n, sizeof cfg - n, "]}");
    }
    n += (size_t)snprintf(cfg + n, sizeof cfg - n,
                          "], \"source\": \"10.0.0.1:25520\"}, \"selector\": {\"plugin\": \"service_map\", \"config\":"
                          " {\"contact_points\": [\"seed-1:25520\", \"seed-2:25520\"], \"preferred_datacenter\": \"dc1\","
                          " \"seed\": 0}}}");
    if (n >= sizeof cfg) abort();
    sy_allocator a = {.struct_size = sizeof a, .alloc = bench_alloc, .free = bench_free};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    bench b = {0};
    sy_error err = SY_STRUCT_INIT(sy_error);
    uint64_t t0 = bench_now_ns();
    if (sy_router_new(cfg, n, &o, &b.router, &err) != SY_OK) {
        fprintf(stderr, "bench_service_map: %s: %s\n", err.path, err.message);
        return 1;
    }
    double build_ms = (double)(bench_now_ns() - t0) / 1e6;
    size_t live = g_live, peak = g_peak;
    for (int i = 0; i < REQS; i++) {
        char q[96];
        int s = (i * 389) % SERVICES; /* spread over the registry */
        int qn = snprintf(q, sizeof q, "{\"service\": \"service-%d\"}", s);
        if (sy_request_new(b.router, &b.req[i], &err) != SY_OK || sy_request_parse_json(b.req[i], q, (size_t)qn, &err) != SY_OK)
            abort();
        qn = snprintf(q, sizeof q, "{\"service\": \"service-%d\", \"service_filter\": {\"zone\": \"b\"}}", s);
        if (sy_request_new(b.router, &b.filtered[i], &err) != SY_OK ||
            sy_request_parse_json(b.filtered[i], q, (size_t)qn, &err) != SY_OK)
            abort();
    }
    if (sy_request_new(b.router, &b.contact, &err) != SY_OK || sy_request_parse_json(b.contact, "{\"contact\": true}", 17, &err) != SY_OK)
        abort();
    printf("service_map registry: %d services x %d instances over %d nodes: router %.1f MB live (peak %.1f MB while"
           " building), built in %.0f ms\n",
           SERVICES, INSTANCES, NODES, (double)live / 1e6, (double)peak / 1e6, build_ms);
    measure("lookup, one request again and again (plan_init + first target)", lookup_hot, &b, iters);
    measure("lookup, 64 requests over the registry in turn", lookup_64, &b, iters);
    measure("lookup, 1024 requests over all 1000 services (cache-cold)", lookup, &b, iters);
    measure("whole plan (10 targets)", whole_plan, &b, iters / 4);
    measure("lookup with service_filter", filtered, &b, iters);
    measure("contact plan (whole: source, 2 seeds, 99 members)", contact, &b, iters / 20);
    for (int i = 0; i < REQS; i++) {
        sy_request_free(b.req[i]);
        sy_request_free(b.filtered[i]);
    }
    sy_request_free(b.contact);
    sy_router_free(b.router);
    return 0;
}
