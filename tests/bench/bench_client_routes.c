/* bench_client_routes: what client_routes adds per target. Plans every node
 * of a round-robin topology (N nodes, one route each) with and without the
 * translator; the difference per target is the translation. Prints ns
 * (median of 7 runs) and allocations per plan. Printed, never judged.
 *
 *   bench_client_routes [ITERATIONS]   (default 200000)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <switchyard/switchyard.h>

#include "bench_util.h"

typedef struct bench {
    sy_router *router;
    sy_request *req;
    volatile uint32_t sink;
} bench;

static double full_plan(void *ctx, long n) {
    bench *b = ctx;
    sy_plan_storage st;
    uint64_t t0 = bench_now_ns();
    sy_target t = SY_STRUCT_INIT(sy_target); /* reused, as a driver does */
    for (long i = 0; i < n; i++) {
        sy_plan *p = NULL;
        if (sy_plan_init(b->router, b->req, &st, sizeof st, &p, NULL) != SY_OK) abort();
        while (sy_plan_next(p, &t) == 1) {
            if (t.error) abort();
            b->sink += t.port;
        }
        sy_plan_release(p);
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static sy_router *make(int nodes, int with_routes) {
    static char cfg[1 << 18];
    const char *dir = getenv("SY_PLUGIN_DIR");
    size_t n = (size_t)snprintf(cfg, sizeof cfg, "{\"plugin_path\": [\"%s\"], \"topology\": {\"nodes\": [",
                                dir ? dir : "build/plugins");
    for (int i = 0; i < nodes; i++)
        n += (size_t)snprintf(cfg + n, sizeof cfg - n,
                              "%s{\"id\": \"00000000-0000-0000-0000-%012d\", \"host\": \"10.0.%d.%d\", \"port\": 9042}",
                              i ? "," : "", i, i / 250, i % 250 + 1);
    n += (size_t)snprintf(cfg + n, sizeof cfg - n,
                          "]}, \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\"}}");
    if (with_routes) {
        n += (size_t)snprintf(cfg + n, sizeof cfg - n,
                              ", \"translators\": [{\"plugin\": \"client_routes\", \"config\": {\"proxies\":"
                              " [{\"connection_id\": \"pl-a\"}, {\"connection_id\": \"pl-b\"}], \"routes\": [");
        for (int i = 0; i < nodes; i++)
            n += (size_t)snprintf(cfg + n, sizeof cfg - n,
                                  "%s{\"connection_id\": \"pl-b\", \"host_id\": \"00000000-0000-0000-0000-%012d\","
                                  " \"address\": \"vpce-%d.example.com\", \"port\": %d, \"tls_port\": %d}",
                                  i ? "," : "", i, i, 30000 + i, 31000 + i);
        n += (size_t)snprintf(cfg + n, sizeof cfg - n, "]}}]");
    }
    n += (size_t)snprintf(cfg + n, sizeof cfg - n, "}");
    sy_allocator a = {.struct_size = sizeof a, .alloc = bench_alloc, .free = bench_free};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_new(cfg, n, &o, &r, &err) != SY_OK) {
        fprintf(stderr, "bench_client_routes: %s: %s\n", err.path, err.message);
        abort();
    }
    return r;
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    printf("client_routes translation: whole round-robin plans with and without it, median of %d runs\n", BENCH_RUNS);
    const int sizes[] = {3, 12, 100};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int nodes = sizes[s];
        double ns[2];
        double allocs = 0;
        for (int with = 0; with < 2; with++) {
            bench b = {.router = make(nodes, with)};
            sy_error err = SY_STRUCT_INIT(sy_error);
            if (sy_request_new(b.router, &b.req, &err) != SY_OK) abort();
            long it = iters / (nodes / 3 + 1);
            size_t a0 = g_allocs;
            ns[with] = bench_median(full_plan, &b, it);
            if (with) allocs = (double)(g_allocs - a0) / (double)(it * BENCH_RUNS + it / 10 + 1);
            sy_request_free(b.req);
            sy_router_free(b.router);
        }
        printf("  %3d nodes: plan %8.1f ns without, %8.1f ns with: %5.1f ns per target, %.2f allocs per plan\n", nodes,
               ns[0], ns[1], (ns[1] - ns[0]) / nodes, allocs);
    }
    return 0;
}
