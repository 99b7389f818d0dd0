/* What the benchmarks share: a counting allocator (allocations per
 * operation, live and peak bytes), a monotonic clock, and the median of
 * RUNS timed runs after a warm-up. Header-only: each bench is one program. */
#ifndef SY_BENCH_UTIL_H
#define SY_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define BENCH_RUNS 7

static size_t g_allocs, g_live, g_peak;

static void *bench_alloc(size_t size, size_t align, void *ud) {
    (void)align;
    (void)ud;
    size_t *h = malloc(16 + size);
    if (!h) return NULL;
    *h = size;
    g_allocs++;
    g_live += size;
    if (g_live > g_peak) g_peak = g_live;
    return (char *)h + 16;
}

static void bench_free(void *p, size_t size, void *ud) {
    (void)ud;
    if (!p) return;
    g_live -= size;
    free((char *)p - 16);
}

static uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef double (*bench_fn)(void *ctx, long iterations); /* returns ns per op */

/* The fastest run of the last bench_median: on a shared VM the median
 * carries the neighbours' noise, the best run is the code's own cost. Both
 * are printed. */
static double g_bench_best;

static double bench_median(bench_fn fn, void *ctx, long iterations) {
    double r[BENCH_RUNS];
    fn(ctx, iterations / 10 + 1); /* warm-up */
    for (int i = 0; i < BENCH_RUNS; i++) r[i] = fn(ctx, iterations);
    qsort(r, BENCH_RUNS, sizeof r[0], bench_cmp_double);
    g_bench_best = r[0];
    return r[BENCH_RUNS / 2];
}

#endif
