/* The user allocator: it serves every allocation of the core and the
 * plugins, frees get the size that was asked for, planning allocates nothing
 * once warmed up, and every allocation failure is survived and reported as
 * SY_ENOMEM without a leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/switchyard.h>

/* ---------------------------------------------------------------- counting allocator */

/* Each block carries a header with its size, so free() can check the size
 * the library passes back. */
typedef struct counter {
    size_t allocs, frees, live_bytes, peak_bytes;
    size_t fail_at; /* 1-based allocation number that fails; 0: never */
    size_t failed;
    size_t bad_sizes;
} counter;

typedef struct header {
    size_t size;
    size_t pad; /* keeps the payload 16-byte aligned */
} header;

static void *count_alloc(size_t size, size_t align, void *ud) {
    counter *c = ud;
    if (c->fail_at && c->allocs + c->failed + 1 == c->fail_at) {
        c->failed++;
        return NULL;
    }
    if (align > 16) return NULL; /* the library never asks for more */
    header *h = malloc(sizeof(header) + size);
    if (!h) return NULL;
    h->size = size;
    c->allocs++;
    c->live_bytes += size;
    if (c->live_bytes > c->peak_bytes) c->peak_bytes = c->live_bytes;
    return h + 1;
}

static void count_free(void *p, size_t size, void *ud) {
    counter *c = ud;
    if (!p) return;
    header *h = (header *)p - 1;
    if (h->size != size) c->bad_sizes++;
    c->frees++;
    c->live_bytes -= h->size;
    free(h);
}

static sy_allocator allocator_for(counter *c) {
    sy_allocator a = SY_STRUCT_INIT(sy_allocator);
    a.alloc = count_alloc;
    a.free = count_free;
    a.user_data = c;
    return a;
}

/* ---------------------------------------------------------------- configs */

static char g_config[8192];

static const char *config(const char *selector_config, int with_map) {
    const char *dir = getenv("SY_PLUGIN_DIR");
    int n = snprintf(
        g_config, sizeof g_config,
        "{\"plugin_path\": [\"%s\"],"
        " \"topology\": {\"nodes\": ["
        "  {\"id\": \"a\", \"host\": \"10.0.1.1\", \"port\": 9042, \"datacenter\": \"dc1\", \"rack\": \"r1\", \"tokens\": [\"-100\"]},"
        "  {\"id\": \"b\", \"host\": \"10.0.1.2\", \"port\": 9042, \"datacenter\": \"dc1\", \"rack\": \"r2\", \"tokens\": [\"0\"]},"
        "  {\"id\": \"c\", \"host\": \"10.0.1.3\", \"port\": 9042, \"datacenter\": \"dc1\", \"rack\": \"r3\", \"tokens\": [\"100\"]}],"
        "  \"keyspaces\": [{\"name\": \"ks\", \"strategy\": \"SimpleStrategy\", \"replication\": {\"replication_factor\": 2}}]},"
        " \"selector\": {\"plugin\": \"default_policy\", \"config\": %s}%s}",
        dir ? dir : "build/plugins", selector_config,
        with_map ? ", \"translators\": [{\"plugin\": \"address_map\", \"config\": {\"map\": {"
                   "\"10.0.1.1:9042\": \"127.0.0.1:19001\", \"10.0.1.2:9042\": \"127.0.0.1:19002\","
                   " \"10.0.1.3:9042\": \"[::1]:19003\"}}}]"
                 : "");
    assert_true(n > 0 && (size_t)n < sizeof g_config);
    return g_config;
}

static sy_router *new_router(counter *c, const char *json) {
    sy_allocator a = allocator_for(c);
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a; /* copied at creation: a may go out of scope */
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_new(json, strlen(json), &o, &r, &err);
    if (rc != SY_OK) fail_msg("sy_router_new: %s: %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

/* Plans req `times` times, walking every target; returns the targets seen. */
static size_t plan_many(sy_router *r, const sy_request *q, int times) {
    sy_plan_storage st;
    size_t seen = 0;
    for (int i = 0; i < times; i++) {
        sy_plan *p = NULL;
        sy_error err = SY_STRUCT_INIT(sy_error);
        assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
        sy_target t = SY_STRUCT_INIT(sy_target);
        while (sy_plan_next(p, &t) == 1) {
            assert_non_null(t.host);
            seen++;
        }
        sy_plan_release(p);
    }
    return seen;
}

/* ---------------------------------------------------------------- tests */

static void test_planning_allocates_nothing(void **state) {
    (void)state;
    static const char *const selectors[] = {
        "{\"mode\": \"round_robin\"}",
        "{\"mode\": \"single_target\", \"target\": \"b\"}",
        "{\"mode\": \"single_target\", \"target\": \"db.example:5432\"}",
        "{}",
    };
    for (size_t s = 0; s < sizeof selectors / sizeof selectors[0]; s++) {
        counter c = {0};
        sy_router *r = new_router(&c, config(selectors[s], 1));
        sy_request *q = NULL;
        sy_error err = SY_STRUCT_INIT(sy_error);
        assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
        const char *req = "{\"key\": \"user:42\", \"keyspace\": \"ks\", \"consistency\": \"ONE\"}";
        assert_int_equal(sy_request_parse_json(q, req, strlen(req), &err), SY_OK);
        plan_many(r, q, 1); /* warm-up */
        size_t before = c.allocs;
        size_t seen = plan_many(r, q, 1000);
        assert_true(seen >= 1000);
        if (c.allocs != before)
            fail_msg("selector %s: %zu allocations in 1000 plans", selectors[s], c.allocs - before);
        /* reusing the request's buffers for a new key allocates nothing either */
        assert_int_equal(sy_request_set_key(q, "user:43", 7), SY_OK);
        assert_int_equal(sy_request_set_keyspace(q, "ks"), SY_OK);
        assert_int_equal(c.allocs, before);
        sy_request_free(q);
        sy_router_free(r);
        assert_int_equal(c.live_bytes, 0);
        assert_int_equal(c.allocs, c.frees);
        assert_int_equal(c.bad_sizes, 0);
    }
}

/* Every allocation, plugins' included, goes through the user allocator. */
static void test_plugins_use_the_allocator(void **state) {
    (void)state;
    counter plain = {0}, mapped = {0};
    sy_router *r1 = new_router(&plain, config("{\"mode\": \"round_robin\"}", 0));
    sy_router *r2 = new_router(&mapped, config("{\"mode\": \"round_robin\"}", 1));
    /* address_map's table lives in the allocator's memory */
    assert_true(mapped.live_bytes > plain.live_bytes);
    assert_true(mapped.allocs > plain.allocs);
    sy_router_free(r1);
    sy_router_free(r2);
    assert_int_equal(plain.live_bytes, 0);
    assert_int_equal(mapped.live_bytes, 0);
    assert_int_equal(plain.bad_sizes + mapped.bad_sizes, 0);
}

/* An allocator without both functions (or from a struct too small to hold
 * them) falls back to malloc rather than calling NULL. */
static void test_incomplete_allocator_falls_back(void **state) {
    (void)state;
    counter c = {0};
    sy_allocator a = allocator_for(&c);
    a.free = NULL;
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    const char *json = config("{\"mode\": \"round_robin\"}", 0);
    assert_int_equal(sy_router_new(json, strlen(json), &o, &r, &err), SY_OK);
    assert_int_equal(c.allocs, 0);
    sy_router_free(r);
    a = allocator_for(&c);
    a.struct_size = 4;
    assert_int_equal(sy_router_new(json, strlen(json), &o, &r, &err), SY_OK);
    assert_int_equal(c.allocs, 0);
    sy_router_free(r);
}

/* Fails the 1st, 2nd, ... allocation of an operation until it succeeds:
 * each failure is SY_ENOMEM (or an unchanged outcome), and frees all. */
static void test_router_creation_survives_every_allocation_failure(void **state) {
    (void)state;
    const char *json = config("{\"mode\": \"round_robin\"}", 1);
    size_t n;
    for (n = 1; n < 10000; n++) {
        counter c = {0};
        c.fail_at = n;
        sy_allocator a = allocator_for(&c);
        sy_router_options o = SY_STRUCT_INIT(sy_router_options);
        o.allocator = &a;
        sy_router *r = (sy_router *)0x1;
        sy_error err = SY_STRUCT_INIT(sy_error);
        int rc = sy_router_new(json, strlen(json), &o, &r, &err);
        if (rc == SY_OK) {
            if (c.failed) fail_msg("allocation %zu failed, yet the router was created", n);
            c.fail_at = 0;
            sy_request *q = NULL;
            assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
            assert_int_equal(plan_many(r, q, 1), 3); /* the router that survived works */
            sy_request_free(q);
            sy_router_free(r);
            assert_int_equal(c.live_bytes, 0);
            break;
        }
        if (rc != SY_ENOMEM)
            fail_msg("allocation %zu failed: got %s (%s: %s), want SY_ENOMEM", n, sy_status_name(rc),
                     err.path, err.message);
        assert_int_equal(err.code, SY_ENOMEM);
        assert_ptr_equal(r, (sy_router *)0x1);
        if (c.live_bytes != 0) fail_msg("allocation %zu failed: %zu bytes leaked", n, c.live_bytes);
        assert_int_equal(c.bad_sizes, 0);
    }
    assert_true(n > 5 && n < 10000);
}

static void test_topology_and_request_survive_allocation_failures(void **state) {
    (void)state;
    const char *topo = "{\"nodes\": [{\"id\": \"x\", \"host\": \"10.0.0.9\", \"port\": 1, \"tokens\": [\"5\", 7]},"
                       " {\"id\": \"y\", \"host\": \"10.0.0.8\", \"port\": 2, \"datacenter\": \"d\"}],"
                       " \"keyspaces\": [{\"name\": \"k\", \"strategy\": \"NetworkTopologyStrategy\","
                       " \"replication\": {\"d\": 1}}]}";
    const char *req = "{\"key\": \"abc\", \"keyspace\": \"ks\", \"table\": \"t\", \"node\": \"n\","
                      " \"entity\": {\"type\": \"cart\", \"id\": 7}, \"context\": {\"headers\": {\"h\": \"v\"}}}";
    counter c = {0};
    sy_router *r = new_router(&c, config("{\"mode\": \"round_robin\"}", 0));
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int done_topo = 0, done_req = 0;
    for (size_t n = 1; n < 10000 && !(done_topo && done_req); n++) {
        size_t base = c.allocs + c.failed;
        size_t live = c.live_bytes;
        c.fail_at = base + n;
        if (!done_topo) {
            uint64_t epoch = sy_router_epoch(r);
            int rc = sy_router_update_topology_json(r, topo, strlen(topo), &err);
            if (rc == SY_OK) {
                done_topo = c.failed == 0;
                assert_int_equal(sy_router_epoch(r), epoch + 1);
            } else {
                if (rc != SY_ENOMEM) fail_msg("topology, allocation %zu: %s: %s", n, sy_status_name(rc), err.message);
                assert_int_equal(sy_router_epoch(r), epoch); /* nothing published */
                assert_int_equal(c.live_bytes, live);
            }
            c.failed = 0;
        }
        base = c.allocs;
        c.fail_at = base + n;
        if (!done_req) {
            if (!q) {
                if (sy_request_new(r, &q, &err) != SY_OK) {
                    assert_int_equal(err.code, SY_ENOMEM);
                    c.failed = 0;
                    continue;
                }
            }
            int rc = sy_request_parse_json(q, req, strlen(req), &err);
            if (rc == SY_OK) done_req = c.failed == 0;
            else if (rc != SY_ENOMEM) fail_msg("request, allocation %zu: %s: %s", n, sy_status_name(rc), err.message);
            c.failed = 0;
        }
    }
    c.fail_at = 0;
    assert_true(done_topo && done_req);
    sy_request_free(q);
    sy_router_free(r);
    assert_int_equal(c.live_bytes, 0);
    assert_int_equal(c.bad_sizes, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_planning_allocates_nothing),
        cmocka_unit_test(test_plugins_use_the_allocator),
        cmocka_unit_test(test_incomplete_allocator_falls_back),
        cmocka_unit_test(test_router_creation_survives_every_allocation_failure),
        cmocka_unit_test(test_topology_and_request_survive_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
