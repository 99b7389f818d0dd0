/* bench_plan: what a plan costs. Prints ns per operation (median of 7 runs),
 * heap allocations per plan and the memory a router holds. Numbers are
 * printed, never judged: `meson test --benchmark --verbose`.
 *
 *   bench_plan [ITERATIONS]   (default 200000 per run)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <switchyard/switchyard.h>

#include "bench_util.h"

/* ---------------------------------------------------------------- cases */

typedef struct bench {
    sy_router *router;
    sy_request *req;
    size_t targets; /* per full plan */
    volatile uint32_t sink;
} bench;

static double plan_first(void *ctx, long n) {
    bench *b = ctx;
    sy_plan_storage st;
    uint64_t t0 = bench_now_ns();
    sy_target t = SY_STRUCT_INIT(sy_target); /* reused, as a driver does */
    for (long i = 0; i < n; i++) {
        sy_plan *p = NULL;
        if (sy_plan_init(b->router, b->req, &st, sizeof st, &p, NULL) != SY_OK) abort();
        if (sy_plan_next(p, &t) != 1) abort();
        b->sink += t.port;
        sy_plan_release(p);
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static double plan_full(void *ctx, long n) {
    bench *b = ctx;
    sy_plan_storage st;
    size_t count = 0;
    uint64_t t0 = bench_now_ns();
    sy_target t = SY_STRUCT_INIT(sy_target); /* reused, as a driver does */
    for (long i = 0; i < n; i++) {
        sy_plan *p = NULL;
        if (sy_plan_init(b->router, b->req, &st, sizeof st, &p, NULL) != SY_OK) abort();
        while (sy_plan_next(p, &t) == 1) {
            b->sink += t.port;
            count++;
        }
        sy_plan_release(p);
    }
    double ns = (double)(bench_now_ns() - t0) / (double)n;
    b->targets = count / (size_t)n;
    return ns;
}

static double murmur(void *ctx, long n) {
    bench *b = ctx;
    uint64_t key = 0x0123456789abcdefull;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        key += (uint64_t)i;
        b->sink += (uint32_t)sy_murmur3_token(&key, sizeof key);
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static const char *g_request_json = "{\"key\": \"user:42\", \"keyspace\": \"shop\", \"consistency\": \"LOCAL_QUORUM\"}";

static double parse_request(void *ctx, long n) {
    bench *b = ctx;
    size_t len = strlen(g_request_json);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (sy_request_parse_json(b->req, g_request_json, len, NULL) != SY_OK) abort();
    return (double)(bench_now_ns() - t0) / (double)n;
}

/* ---------------------------------------------------------------- main */

static sy_router *make_router(const char *selector, int nodes, size_t *router_bytes) {
    const char *dir = getenv("SY_PLUGIN_DIR");
    static char config[1 << 16];
    size_t n = (size_t)snprintf(config, sizeof config, "{\"plugin_path\": [\"%s\"], \"topology\": {\"nodes\": [",
                                dir ? dir : "build/plugins");
    for (int i = 0; i < nodes; i++)
        n += (size_t)snprintf(config + n, sizeof config - n,
                              "%s{\"id\": \"node-%d\", \"host\": \"10.0.%d.%d\", \"port\": 9042, \"datacenter\": \"dc1\"}",
                              i ? "," : "", i, i / 250, i % 250 + 1);
    n += (size_t)snprintf(config + n, sizeof config - n,
                          "]}, \"selector\": {\"plugin\": \"default_policy\", \"config\": %s},"
                          " \"translators\": [{\"plugin\": \"address_map\", \"config\": {\"map\": {",
                          selector);
    for (int i = 0; i < nodes; i++)
        n += (size_t)snprintf(config + n, sizeof config - n, "%s\"10.0.%d.%d:9042\": \"127.0.0.1:%d\"",
                              i ? "," : "", i / 250, i % 250 + 1, 19000 + i);
    n += (size_t)snprintf(config + n, sizeof config - n, "}}}]}");
    if (n >= sizeof config) abort();

    sy_allocator a = SY_STRUCT_INIT(sy_allocator);
    a.alloc = bench_alloc;
    a.free = bench_free;
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    size_t before = g_live;
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_new(config, n, &o, &r, &err) != SY_OK) {
        fprintf(stderr, "bench_plan: %s: %s\n", err.path, err.message);
        exit(1);
    }
    *router_bytes = g_live - before;
    return r;
}

static void report(const char *name, const char *selector, int nodes, long iterations) {
    bench b = {0};
    size_t router_bytes = 0;
    b.router = make_router(selector, nodes, &router_bytes);
    if (sy_request_new(b.router, &b.req, NULL) != SY_OK) abort();
    if (sy_request_parse_json(b.req, g_request_json, strlen(g_request_json), NULL) != SY_OK) abort();

    double first = bench_median(plan_first, &b, iterations);
    double full = bench_median(plan_full, &b, iterations);
    size_t allocs_before = g_allocs;
    plan_full(&b, 10000);
    double allocs_per_plan = (double)(g_allocs - allocs_before) / 10000.0;
    printf("%-34s %5d %9.1f %9.1f %7zu %10.3f %9zu %6zu\n", name, nodes, first, full, b.targets,
           allocs_per_plan, router_bytes, sy_router_plan_size(b.router));
    sy_request_free(b.req);
    sy_router_free(b.router);
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 200000;
    if (iterations <= 0) iterations = 200000;
    printf("# bench_plan: %ld iterations per run, median of %d runs, libswitchyard %s\n", iterations, BENCH_RUNS,
           sy_version_string());
    printf("# first: sy_plan_init + first sy_plan_next + release; full: the whole plan\n");
    printf("%-34s %5s %9s %9s %7s %10s %9s %6s\n", "case", "nodes", "first_ns", "full_ns", "targets",
           "allocs/plan", "router_B", "plan_B");
    report("round_robin + address_map", "{\"mode\": \"round_robin\"}", 3, iterations);
    report("round_robin + address_map", "{\"mode\": \"round_robin\"}", 100, iterations / 20);
    report("single_target + address_map", "{\"mode\": \"single_target\", \"target\": \"node-1\"}", 3, iterations);
    report("default (no key) + address_map", "{\"preferred_datacenter\": \"dc1\"}", 3, iterations);

    bench b = {0};
    size_t bytes = 0;
    b.router = make_router("{\"mode\": \"round_robin\"}", 3, &bytes);
    if (sy_request_new(b.router, &b.req, NULL) != SY_OK) abort();
    double parse = bench_median(parse_request, &b, iterations / 4);
    size_t allocs_before = g_allocs;
    parse_request(&b, 1000);
    printf("%-34s %9.1f ns, %.1f allocations each (the JSON document)\n", "sy_request_parse_json (3 fields)",
           parse, (double)(g_allocs - allocs_before) / 1000.0);
    printf("%-34s %9.1f ns\n", "sy_murmur3_token, 8-byte key", bench_median(murmur, &b, iterations * 5));
    sy_request_free(b.req);
    sy_router_free(b.router);
    if (g_live != 0) {
        fprintf(stderr, "bench_plan: %zu bytes not freed\n", g_live);
        return 1;
    }
    return 0;
}
