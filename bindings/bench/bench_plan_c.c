/* bench_plan_c: the C side of the binding overhead benchmark (run.sh). The
 * same router and request as bindings/go/bench_test.go and
 * bindings/rust/switchyard/examples/bench_plan.rs: examples/demo/cluster.json
 * (round robin over 3 up nodes of 4, address_map), examples/demo/request.json.
 * Prints ns per operation, the median of 7 runs, and heap allocations per
 * plan (through the router's allocator):
 *
 *   bench_plan_c CONFIG REQUEST_JSON [ITERATIONS]   (default 200000 per run)
 *
 * Cases, the same in each language:
 *   first     plan + first target + release, the request built once
 *   full      the whole plan (3 targets), the request built once
 *   req_full  the request built from the JSON text, the whole plan, the
 *             request freed: what the Go binding does for every Plan call
 *   reqf_full the same request set field by field (key, keyspace, table,
 *             consistency), the whole plan, the request freed
 * Plugins come from SY_PLUGIN_DIR. Output lines "RESULT c CASE NS ALLOCS"
 * are what run.sh reads.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/switchyard.h>

#include "bench_util.h"

typedef struct bench {
    sy_router *router;
    sy_request *req;
    char *req_json;
    size_t req_len;
    size_t targets;
    volatile uint32_t sink;
} bench;

static double plan_first(void *ctx, long n) {
    bench *b = ctx;
    sy_plan_storage st;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        sy_plan *p = NULL;
        if (sy_plan_init(b->router, b->req, &st, sizeof st, &p, NULL) != SY_OK) abort();
        sy_target t = SY_STRUCT_INIT(sy_target);
        if (sy_plan_next(p, &t) != 1) abort();
        b->sink += t.port + (uint32_t)t.node[0];
        sy_plan_release(p);
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static size_t one_plan(bench *b, const sy_request *req) {
    sy_plan_storage st;
    sy_plan *p = NULL;
    size_t count = 0;
    if (sy_plan_init(b->router, req, &st, sizeof st, &p, NULL) != SY_OK) abort();
    sy_target t = SY_STRUCT_INIT(sy_target);
    while (sy_plan_next(p, &t) == 1) {
        b->sink += t.port + (uint32_t)t.node[0];
        count++;
    }
    sy_plan_release(p);
    return count;
}

static double plan_full(void *ctx, long n) {
    bench *b = ctx;
    size_t count = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) count += one_plan(b, b->req);
    double ns = (double)(bench_now_ns() - t0) / (double)n;
    b->targets = count / (size_t)n;
    return ns;
}

static double request_plan_full(void *ctx, long n) {
    bench *b = ctx;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        sy_request *req = NULL;
        if (sy_request_new(b->router, &req, NULL) != SY_OK) abort();
        if (sy_request_parse_json(req, b->req_json, b->req_len, NULL) != SY_OK) abort();
        one_plan(b, req);
        sy_request_free(req);
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static double request_fields_plan_full(void *ctx, long n) {
    bench *b = ctx;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        sy_request *req = NULL;
        if (sy_request_new(b->router, &req, NULL) != SY_OK || sy_request_set_key(req, "user:42", 7) != SY_OK ||
            sy_request_set_keyspace(req, "shop") != SY_OK || sy_request_set_table(req, "carts") != SY_OK ||
            sy_request_set_consistency(req, SY_CONSISTENCY_LOCAL_QUORUM) != SY_OK)
            abort();
        one_plan(b, req);
        sy_request_free(req);
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[*len] = 0;
    return buf;
}

static void report(bench *b, const char *name, bench_fn fn, long iterations) {
    double ns = bench_median(fn, b, iterations);
    size_t before = g_allocs;
    fn(b, 1000);
    double allocs = (double)(g_allocs - before) / 1000.0;
    printf("RESULT c %s %.1f %.2f\n", name, ns, allocs);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_plan_c CONFIG REQUEST_JSON [ITERATIONS]\n");
        return 2;
    }
    long iterations = argc > 3 ? atol(argv[3]) : 200000;
    if (iterations <= 0) iterations = 200000;
    const char *dir = getenv("SY_PLUGIN_DIR");
    const char *path[1] = {dir ? dir : "build/plugins"};

    sy_allocator a = SY_STRUCT_INIT(sy_allocator);
    a.alloc = bench_alloc;
    a.free = bench_free;
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    o.plugin_path = path;
    o.plugin_path_count = 1;
    bench b = {0};
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_new_from_file(argv[1], &o, &b.router, &err) != SY_OK) {
        fprintf(stderr, "bench_plan_c: %s: %s: %s\n", argv[1], err.path, err.message);
        return 1;
    }
    b.req_json = read_file(argv[2], &b.req_len);
    if (sy_request_new(b.router, &b.req, &err) != SY_OK ||
        sy_request_parse_json(b.req, b.req_json, b.req_len, &err) != SY_OK) {
        fprintf(stderr, "bench_plan_c: %s: %s: %s\n", argv[2], err.path, err.message);
        return 1;
    }
    printf("# bench_plan_c: libswitchyard %s, %ld iterations per run, median of %d runs\n",
           sy_version_string(), iterations, BENCH_RUNS);
    report(&b, "first", plan_first, iterations);
    report(&b, "full", plan_full, iterations);
    printf("# targets per plan: %zu\n", b.targets);
    report(&b, "req_full", request_plan_full, iterations / 2);
    report(&b, "reqf_full", request_fields_plan_full, iterations / 2);
    sy_request_free(b.req);
    sy_router_free(b.router);
    return 0;
}
