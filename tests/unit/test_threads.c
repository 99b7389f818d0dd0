/* One router shared by many threads: planners, a reporter and a writer that
 * keeps replacing the topology (from JSON and from C arrays). Every plan must
 * come whole from one snapshot, never half of two, and nothing may leak.
 * CI also runs this under TSan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <switchyard/switchyard.h>

#define PLANNERS 4
#define UPDATES 400

/* Odd epochs hold nodes e0..e2, even epochs o0..o4: the epoch of a target
 * tells which set every target of its plan must belong to. */
#define ODD_NODES 3
#define EVEN_NODES 5

static atomic_size_t g_live_bytes, g_allocs, g_bad_sizes;

static void *count_alloc(size_t size, size_t align, void *ud) {
    (void)ud;
    (void)align;
    size_t *h = malloc(16 + size);
    if (!h) return NULL;
    *h = size;
    atomic_fetch_add(&g_live_bytes, size);
    atomic_fetch_add(&g_allocs, 1);
    return (char *)h + 16;
}

static void count_free(void *p, size_t size, void *ud) {
    (void)ud;
    if (!p) return;
    size_t *h = (size_t *)((char *)p - 16);
    if (*h != size) atomic_fetch_add(&g_bad_sizes, 1); /* no cmocka asserts off the main thread */
    atomic_fetch_sub(&g_live_bytes, size);
    free(h);
}

static char g_odd_json[2048];

static void build_odd_json(void) {
    size_t n = (size_t)snprintf(g_odd_json, sizeof g_odd_json, "{\"nodes\": [");
    for (int i = 0; i < ODD_NODES; i++)
        n += (size_t)snprintf(g_odd_json + n, sizeof g_odd_json - n,
                              "%s{\"id\": \"e%d\", \"host\": \"10.0.0.%d\", \"port\": 9042}", i ? "," : "",
                              i, i + 1);
    snprintf(g_odd_json + n, sizeof g_odd_json - n, "]}");
}

/* The even topology as C arrays. */
static int update_even(sy_router *r) {
    static const char *const ids[EVEN_NODES] = {"o0", "o1", "o2", "o3", "o4"};
    static const char *const hosts[EVEN_NODES] = {"10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4",
                                                  "10.0.1.5"};
    static const int64_t tokens[EVEN_NODES] = {-200, -100, 0, 100, 200};
    sy_node nodes[EVEN_NODES];
    for (int i = 0; i < EVEN_NODES; i++) {
        nodes[i] = (sy_node){.struct_size = sizeof(sy_node), .id = ids[i], .host = hosts[i],
                             .port = 9042, .datacenter = "dc1", .up = 1, .tokens = &tokens[i],
                             .token_count = 1};
    }
    sy_topology_desc d = SY_STRUCT_INIT(sy_topology_desc);
    d.nodes = nodes;
    d.node_count = EVEN_NODES;
    sy_error err = SY_STRUCT_INIT(sy_error);
    return sy_router_update_topology(r, &d, &err);
}

typedef struct shared {
    sy_router *router;
    atomic_int stop;
    atomic_size_t plans;
    atomic_size_t mixed; /* plans whose targets came from two snapshots */
    atomic_size_t wrong; /* a target from the wrong node set, or a count mismatch */
} shared;

static void *planner(void *arg) {
    shared *s = arg;
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_request_new(s->router, &q, &err) != SY_OK) return (void *)1;
    sy_plan_storage st;
    while (!atomic_load(&s->stop)) {
        sy_plan *p = NULL;
        if (sy_plan_init(s->router, q, &st, sizeof st, &p, &err) != SY_OK) {
            atomic_fetch_add(&s->wrong, 1);
            continue;
        }
        sy_target t = SY_STRUCT_INIT(sy_target);
        uint64_t epoch = 0;
        int count = 0;
        while (sy_plan_next(p, &t) == 1) {
            if (count == 0) epoch = t.epoch;
            if (t.epoch != epoch) atomic_fetch_add(&s->mixed, 1);
            char want = (t.epoch & 1) ? 'e' : 'o';
            if (!t.node || t.node[0] != want || !t.host) atomic_fetch_add(&s->wrong, 1);
            count++;
            /* outcomes flow back concurrently with everything else */
            sy_outcome o = SY_STRUCT_INIT(sy_outcome);
            o.kind = (count & 1) ? SY_OUTCOME_SUCCESS : SY_OUTCOME_TIMEOUT;
            o.latency_ns = 1000;
            sy_router_report(s->router, &t, &o);
            t = SY_STRUCT_INIT(sy_target);
        }
        if (count != ((epoch & 1) ? ODD_NODES : EVEN_NODES)) atomic_fetch_add(&s->wrong, 1);
        sy_plan_release(p);
        atomic_fetch_add(&s->plans, 1);
    }
    sy_request_free(q);
    return NULL;
}

/* A round_robin router over the odd topology on the counting allocator,
 * with `translators` (a JSON array, or NULL for none). */
static sy_router *counted_router(const char *translators) {
    build_odd_json();
    sy_allocator a = SY_STRUCT_INIT(sy_allocator);
    a.alloc = count_alloc;
    a.free = count_free;
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.allocator = &a;
    const char *dir = getenv("SY_PLUGIN_DIR");
    char config[4096];
    int n = snprintf(config, sizeof config,
                     "{\"plugin_path\": [\"%s\"], \"topology\": %s,"
                     " \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\"}}%s%s}",
                     dir ? dir : "build/plugins", g_odd_json, translators ? ", \"translators\": " : "",
                     translators ? translators : "");
    assert_true(n > 0 && (size_t)n < sizeof config);
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_new(config, (size_t)n, &o, &r, &err) != SY_OK) fail_msg("%s: %s", err.path, err.message);
    return r;
}

static void test_plans_while_topology_changes(void **state) {
    (void)state;
    shared s;
    memset(&s, 0, sizeof s);
    sy_error err = SY_STRUCT_INIT(sy_error);
    s.router = counted_router("[{\"plugin\": \"address_map\", \"config\": {\"map\": "
                              "{\"10.0.0.1:9042\": \"127.0.0.1:1\", \"10.0.1.5:9042\": \"127.0.0.1:5\"}}}]");
    assert_int_equal(sy_router_epoch(s.router), 1);

    pthread_t threads[PLANNERS];
    for (int i = 0; i < PLANNERS; i++) assert_int_equal(pthread_create(&threads[i], NULL, planner, &s), 0);

    size_t seen_before = 0;
    for (int u = 0; u < UPDATES; u++) {
        /* epoch 1 is odd; each update flips parity */
        if (sy_router_epoch(s.router) & 1)
            assert_int_equal(update_even(s.router), SY_OK);
        else
            assert_int_equal(sy_router_update_topology_json(s.router, g_odd_json, strlen(g_odd_json), &err), SY_OK);
        /* let planners run between updates: they must make progress */
        if (u % 50 == 49) {
            while (atomic_load(&s.plans) < seen_before + PLANNERS) sched_yield();
            seen_before = atomic_load(&s.plans);
        }
    }
    atomic_store(&s.stop, 1);
    for (int i = 0; i < PLANNERS; i++) {
        void *ret = NULL;
        assert_int_equal(pthread_join(threads[i], &ret), 0);
        assert_null(ret);
    }
    assert_int_equal(sy_router_epoch(s.router), 1 + UPDATES);
    assert_int_equal(atomic_load(&s.mixed), 0);
    assert_int_equal(atomic_load(&s.wrong), 0);
    assert_true(atomic_load(&s.plans) >= 8 * PLANNERS);
    printf("# %zu plans on %d threads across %d topology updates\n", atomic_load(&s.plans), PLANNERS,
           UPDATES);
    sy_router_free(s.router);
    assert_int_equal(atomic_load(&g_live_bytes), 0);
    assert_int_equal(atomic_load(&g_bad_sizes), 0);
}

/* Routers are independent: creating and freeing them on several threads at
 * once (plugins are dlopen'ed and closed concurrently) is safe. */
static void *churn(void *arg) {
    const char *config = arg;
    for (int i = 0; i < 20; i++) {
        sy_router *r = NULL;
        sy_error err = SY_STRUCT_INIT(sy_error);
        if (sy_router_new(config, strlen(config), NULL, &r, &err) != SY_OK) return (void *)1;
        sy_request *q = NULL;
        if (sy_request_new(r, &q, &err) != SY_OK) return (void *)2;
        sy_plan_storage st;
        sy_plan *p = NULL;
        if (sy_plan_init(r, q, &st, sizeof st, &p, &err) != SY_OK) return (void *)3;
        sy_target t = SY_STRUCT_INIT(sy_target);
        if (sy_plan_next(p, &t) != 1) return (void *)4;
        sy_plan_release(p);
        sy_request_free(q);
        sy_router_free(r);
    }
    return NULL;
}

static void test_routers_on_many_threads(void **state) {
    (void)state;
    build_odd_json();
    const char *dir = getenv("SY_PLUGIN_DIR");
    static char config[4096];
    snprintf(config, sizeof config,
             "{\"plugin_path\": [\"%s\"], \"topology\": %s,"
             " \"selector\": {\"plugin\": \"default_policy\", \"config\": {\"mode\": \"round_robin\"}},"
             " \"translators\": [{\"plugin\": \"address_map\", \"config\": {\"map\": {}}}]}",
             dir ? dir : "build/plugins", g_odd_json);
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&threads[i], NULL, churn, config), 0);
    for (int i = 0; i < 4; i++) {
        void *ret = (void *)9;
        assert_int_equal(pthread_join(threads[i], &ret), 0);
        assert_null(ret);
    }
}

/* More planning threads than the core has slots of their own for (32), in
 * two waves so the second reuses the slots the first handed back, while a
 * writer keeps publishing. */
#define WAVE_THREADS 40
static void test_more_threads_than_slots(void **state) {
    (void)state;
    shared s;
    memset(&s, 0, sizeof s);
    sy_error err = SY_STRUCT_INIT(sy_error);
    s.router = counted_router(NULL);
    for (int wave = 0; wave < 2; wave++) {
        atomic_store(&s.stop, 0);
        size_t before = atomic_load(&s.plans);
        pthread_t threads[WAVE_THREADS];
        for (int i = 0; i < WAVE_THREADS; i++)
            assert_int_equal(pthread_create(&threads[i], NULL, planner, &s), 0);
        for (int u = 0; u < 60; u++) {
            if (sy_router_epoch(s.router) & 1)
                assert_int_equal(update_even(s.router), SY_OK);
            else
                assert_int_equal(
                    sy_router_update_topology_json(s.router, g_odd_json, strlen(g_odd_json), &err), SY_OK);
        }
        while (atomic_load(&s.plans) < before + 4 * WAVE_THREADS) sched_yield();
        atomic_store(&s.stop, 1);
        for (int i = 0; i < WAVE_THREADS; i++) {
            void *ret = NULL;
            assert_int_equal(pthread_join(threads[i], &ret), 0);
            assert_null(ret);
        }
    }
    assert_int_equal(atomic_load(&s.mixed), 0);
    assert_int_equal(atomic_load(&s.wrong), 0);
    sy_router_free(s.router);
    assert_int_equal(atomic_load(&g_live_bytes), 0);
}

/* A plan begun on one thread and ended on another: when it was the last
 * use of a replaced snapshot, that snapshot goes at once, not at the next
 * publish or when the router is freed. */
typedef struct handoff {
    sy_plan *plan;
    size_t live_after;
} handoff;

static void *release_elsewhere(void *arg) {
    handoff *h = arg;
    sy_plan_release(h->plan);
    h->live_after = atomic_load(&g_live_bytes);
    return NULL;
}

static void test_replaced_snapshot_freed_by_last_plan(void **state) {
    (void)state;
    size_t base = atomic_load(&g_live_bytes);
    sy_router *r = counted_router(NULL);
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_request *q = NULL;
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    /* one more publish of the same topology: the steady footprint */
    assert_int_equal(sy_router_update_topology_json(r, g_odd_json, strlen(g_odd_json), &err), SY_OK);
    size_t steady = atomic_load(&g_live_bytes);

    sy_plan_storage st;
    handoff h = {0};
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &h.plan, &err), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(sy_plan_next(h.plan, &t), 1);
    for (int i = 0; i < 5; i++)
        assert_int_equal(sy_router_update_topology_json(r, g_odd_json, strlen(g_odd_json), &err), SY_OK);
    /* the plan pins the snapshot it began on; the four between went at once */
    size_t pinned = atomic_load(&g_live_bytes);
    assert_true(pinned > steady);
    assert_int_equal(sy_plan_next(h.plan, &t), 1); /* still whole */
    assert_non_null(t.host);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_elsewhere, &h), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(h.live_after, steady);

    sy_request_free(q);
    sy_router_free(r);
    assert_int_equal(atomic_load(&g_live_bytes), base);
}

/* A forked child plans and publishes from threads of its own: the kernel
 * sees a new process, which the core registers for membarrier again. */
static void test_forked_child_plans(void **state) {
    (void)state;
    sy_router *warm = counted_router(NULL); /* the parent has registered */
    sy_router_free(warm);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        shared s;
        memset(&s, 0, sizeof s);
        sy_error err = SY_STRUCT_INIT(sy_error);
        s.router = counted_router(NULL);
        pthread_t threads[2];
        for (int i = 0; i < 2; i++)
            if (pthread_create(&threads[i], NULL, planner, &s) != 0) _exit(2);
        for (int u = 0; u < 100; u++) {
            int rc = (sy_router_epoch(s.router) & 1)
                         ? update_even(s.router)
                         : sy_router_update_topology_json(s.router, g_odd_json, strlen(g_odd_json), &err);
            if (rc != SY_OK) _exit(3);
        }
        while (atomic_load(&s.plans) < 100) sched_yield();
        atomic_store(&s.stop, 1);
        for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
        int bad = atomic_load(&s.mixed) || atomic_load(&s.wrong);
        sy_router_free(s.router);
        _exit(bad ? 4 : atomic_load(&g_live_bytes) ? 5 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plans_while_topology_changes),
        cmocka_unit_test(test_routers_on_many_threads),
        cmocka_unit_test(test_more_threads_than_slots),
        cmocka_unit_test(test_replaced_snapshot_freed_by_last_plan),
        cmocka_unit_test(test_forked_child_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
