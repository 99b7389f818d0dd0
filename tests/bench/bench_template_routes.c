/* bench_template_routes: one request through template_routes — building
 * Hasura's context from the request, evaluating the template and decoding
 * the result — i.e. sy_plan_init plus the first target, for the templates of
 * Hasura's dynamic-routing documentation. Prints ns per request (median of
 * 7 runs) and heap allocations per request; kriti-lang takes 2.3-3.0 us for
 * the same work (../shared/research/peers-and-limits.md). Printed, never
 * judged.
 *
 *   bench_template_routes [ITERATIONS]   (default 300000)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <switchyard/switchyard.h>

#include "bench_util.h"

typedef struct bench {
    sy_router *router;
    sy_request *req;
    const char *want;
    volatile uint32_t sink;
} bench;

static double one_request(void *ctx, long n) {
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

static const char kEndpoints[] =
    "\"primary\": {\"host\": \"10.0.0.1\", \"port\": 5432, \"url\": \"postgres://primary/db\"},"
    "\"read_replicas\": [{\"name\": \"r1\", \"host\": \"10.0.0.2\", \"port\": 5432},"
    "{\"name\": \"r2\", \"host\": \"10.0.0.3\", \"port\": 5432}],"
    "\"connection_set\": [{\"name\": \"tenant_a\", \"host\": \"10.1.0.1\", \"port\": 5432},"
    "{\"name\": \"tenant_b\", \"host\": \"10.2.0.1\", \"port\": 5432}]";

static const struct {
    const char *what, *template, *request, *want;
} kCases[] = {
    {"no stale reads (header)",
     "{{ if ($.request.query.operation_type == \\\"query\\\") && ($.request.headers?['no-stale-read'] == \\\"true\\\") }}"
     " {{$.primary}} {{ else }} {{$.default}} {{ end }}",
     "{\"context\": {\"headers\": {\"Authorization\": \"Bearer x\", \"No-Stale-Read\": \"true\", \"User-Agent\": \"bench\"},"
     " \"session\": {\"x-hasura-role\": \"user\", \"x-hasura-user-id\": \"42\"}, \"query\": {\"operation_type\": \"query\","
     " \"operation_name\": \"GetOrders\"}}}",
     "primary"},
    {"role + tenant connection set",
     "{{ if $.request.session?['x-hasura-role'] == \\\"manager\\\" }} {{$.primary}}"
     " {{ elif $.request.session?['x-hasura-tenant-id'] == \\\"a\\\" }} {{$.connection_set.tenant_a}}"
     " {{ elif $.request.session?['x-hasura-tenant-id'] == \\\"b\\\" }} {{$.connection_set.tenant_b}}"
     " {{ else }} {{$.default}} {{ end }}",
     "{\"context\": {\"headers\": {\"Authorization\": \"Bearer x\"}, \"session\": {\"x-hasura-role\": \"user\","
     " \"x-hasura-tenant-id\": \"b\"}, \"query\": {\"operation_type\": \"query\", \"operation_name\": \"GetOrders\"}}}",
     "tenant_b"},
    {"operation type split",
     "{{ if $.request.query.operation_type == \\\"mutation\\\" }} {{$.primary}} {{ else }} {{$.read_replicas}} {{ end }}",
     "{\"context\": {\"headers\": {}, \"session\": {\"x-hasura-role\": \"user\"}, \"query\": {\"operation_type\": \"mutation\","
     " \"operation_name\": \"AddOrder\"}}}",
     "primary"},
};

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 300000;
    const char *dir = getenv("SY_PLUGIN_DIR");
    sy_allocator a = {.struct_size = sizeof a, .alloc = bench_alloc, .free = bench_free};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    printf("template_routes per request (context + eval + decode), median of %d runs\n", BENCH_RUNS);
    for (size_t i = 0; i < sizeof kCases / sizeof kCases[0]; i++) {
        char cfg[4096];
        int n = snprintf(cfg, sizeof cfg,
                         "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"template_routes\","
                         " \"config\": {\"template\": \"%s\", %s}}}",
                         dir ? dir : "build/plugins", kCases[i].template, kEndpoints);
        bench b = {0};
        sy_error err = SY_STRUCT_INIT(sy_error);
        size_t before = g_live;
        if (sy_router_new(cfg, (size_t)n, &o, &b.router, &err) != SY_OK ||
            sy_request_new(b.router, &b.req, &err) != SY_OK ||
            sy_request_parse_json(b.req, kCases[i].request, strlen(kCases[i].request), &err) != SY_OK) {
            fprintf(stderr, "bench_template_routes: %s: %s\n", err.path, err.message);
            return 1;
        }
        size_t bytes = g_live - before;
        size_t a0 = g_allocs;
        double ns = bench_median(one_request, &b, iters);
        double allocs = (double)(g_allocs - a0) / (double)(iters * BENCH_RUNS + iters / 10 + 1);
        printf("  %-30s %8.1f ns (best run %.1f)   %.2f allocs   (router + request %.1f KiB)\n", kCases[i].what, ns,
               g_bench_best, allocs,
               (double)bytes / 1024.0);
        sy_request_free(b.req);
        sy_router_free(b.router);
    }
    return 0;
}
