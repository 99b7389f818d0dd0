/* A malloc-backed sy_allocator that counts allocations, for tests that
 * check planning allocates nothing: compare counting_allocations() before
 * and after. Thread-safe. Header-only: one copy per test program. */
#ifndef SY_TEST_COUNTING_ALLOC_H
#define SY_TEST_COUNTING_ALLOC_H

#include <stdlib.h>

#include <switchyard/switchyard.h>

static size_t g_counted_allocs;

static void *counting_alloc(size_t size, size_t align, void *ud) {
    (void)ud;
    __atomic_add_fetch(&g_counted_allocs, 1, __ATOMIC_RELAXED);
    void *p = NULL;
    return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) ? NULL : p;
}

static void counting_free(void *p, size_t size, void *ud) {
    (void)size;
    (void)ud;
    free(p);
}

static size_t counting_allocations(void) { return __atomic_load_n(&g_counted_allocs, __ATOMIC_RELAXED); }

/* Router options whose allocator counts; *a must outlive the router. */
static sy_router_options counting_options(sy_allocator *a) {
    *a = (sy_allocator){.struct_size = sizeof *a, .alloc = counting_alloc, .free = counting_free};
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = a;
    return o;
}

#endif
