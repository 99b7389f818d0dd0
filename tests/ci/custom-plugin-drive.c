/*
 * Drives examples/custom_plugin (weighted_rr) through the installed library
 * in one process, for tests/ci/check-custom-plugin.sh: what syctl cannot show
 * because it makes one plan per run.
 *
 *   custom-plugin-drive CONFIG THREADS PLANS_PER_THREAD
 *
 * CONFIG must be the example's config with "start": 0. Prints lines the
 * script compares (it exits non-zero only when it cannot run at all):
 *   refused: <status> <path> of a config with a negative weight
 *   sequence: <first target of each of 6 consecutive plans>
 *   concurrent: <node>=<times first> ... bad=<plans not of the promised shape>
 *   after: <first targets of the next 6 plans> (THREADS * PLANS_PER_THREAD a
 *          multiple of 6: the cycle starts afresh unless a ticket was lost)
 *   failures: <first targets of 6 plans after 3 failures of node-a> detail=<via detail of node-a>
 *   recovered: <first targets of 6 plans after node-a succeeded once>
 *   moved: the same as failures, after a topology change, for an old target
 *   allocator: bad_frees=<frees whose size was not the allocation's> outstanding=<bytes>
 *              (a bad config is created and refused first, so its clean-up counts too)
 *   log: <each log line of the plugin>
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/switchyard.h>

#define CYCLE 6 /* weights 3 + 2 + 1 of the example's up nodes */

static sy_router *router;
static sy_request *request;
static size_t plans_per_thread;

/* An allocator that checks what the core and the plugin hand back: the size
 * given to free must be the size allocated (sy_host.free is sized). Each
 * block is preceded by {offset to the malloc'ed start, size}. */
static atomic_long outstanding, bad_frees;
static void *checked_alloc(size_t size, size_t align, void *data) {
    (void)data;
    size_t head = align > 16 ? align : 16;
    unsigned char *p = aligned_alloc(head, (head + size + head - 1) / head * head);
    if (!p) return NULL;
    size_t meta[2] = {head, size};
    memcpy(p + head - sizeof meta, meta, sizeof meta);
    atomic_fetch_add(&outstanding, (long)size);
    return p + head;
}
static void checked_free(void *ptr, size_t size, void *data) {
    (void)data;
    if (!ptr) return;
    size_t meta[2];
    memcpy(meta, (unsigned char *)ptr - sizeof meta, sizeof meta);
    if (meta[1] != size) atomic_fetch_add(&bad_frees, 1);
    atomic_fetch_sub(&outstanding, (long)meta[1]);
    free((unsigned char *)ptr - meta[0]);
}

static void on_log(uint32_t level, const char *source, const char *message, void *data) {
    (void)data;
    printf("log: %u %s: %s\n", (unsigned)level, source, message);
}

static void die(const char *what, int rc, const sy_error *err) {
    fprintf(stderr, "custom-plugin-drive: %s: %s%s%s%s%s\n", what, sy_status_name(rc),
            err && err->path[0] ? " at " : "", err ? err->path : "", err ? ": " : "",
            err ? err->message : "");
    exit(1);
}

/* One plan: copies the first target's node into first (and its via detail
 * into detail when asked); returns 1 when the plan has the promised shape:
 * every node once, up nodes first, down node-d last. */
static int plan_once(char *first, size_t size, char *detail, size_t detail_size, sy_target *first_target) {
    _Alignas(16) unsigned char storage[SY_PLAN_STORAGE_SIZE];
    sy_plan *plan = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_plan_init(router, request, storage, sizeof storage, &plan, &err);
    if (rc != SY_OK) die("sy_plan_init", rc, &err);
    sy_target t = SY_STRUCT_INIT(sy_target);
    unsigned seen = 0, count = 0, ok = 1;
    while ((rc = sy_plan_next(plan, &t)) == 1) {
        const char *n = t.node;
        unsigned bit = strcmp(n, "node-a") == 0 ? 1 : strcmp(n, "node-b") == 0 ? 2
                     : strcmp(n, "node-c") == 0 ? 4 : strcmp(n, "node-d") == 0 ? 8 : 16;
        if ((seen & bit) || bit == 16) ok = 0;
        seen |= bit;
        if (count == 3 && !(bit == 8 && (t.flags & SY_TARGET_DOWN))) ok = 0;
        if (count == 0) {
            snprintf(first, size, "%s", n);
            if (first_target) *first_target = t; /* strings stay valid: node ids live in the snapshot */
        }
        if (detail && bit == 1) snprintf(detail, detail_size, "%s", t.via_detail[0] ? t.via_detail[0] : "-");
        count++;
    }
    if (rc < 0) die("sy_plan_next", rc, NULL);
    sy_plan_release(plan);
    return ok && count == 4 && seen == 15;
}

static void sequence(const char *label, int with_detail) {
    char line[256] = "", first[64], detail[128] = "";
    for (int i = 0; i < CYCLE; i++) {
        plan_once(first, sizeof first, with_detail ? detail : NULL, sizeof detail, NULL);
        strcat(strcat(line, " "), first);
    }
    printf("%s:%s%s%s\n", label, line, with_detail ? " detail=" : "", with_detail ? detail : "");
}

typedef struct tally { size_t a, b, c, other, bad; } tally;

static void *worker(void *arg) {
    tally *t = arg;
    char first[64];
    for (size_t i = 0; i < plans_per_thread; i++) {
        if (!plan_once(first, sizeof first, NULL, 0, NULL)) t->bad++;
        if (strcmp(first, "node-a") == 0) t->a++;
        else if (strcmp(first, "node-b") == 0) t->b++;
        else if (strcmp(first, "node-c") == 0) t->c++;
        else t->other++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: custom-plugin-drive CONFIG THREADS PLANS_PER_THREAD\n");
        return 2;
    }
    size_t threads = strtoul(argv[2], NULL, 10);
    plans_per_thread = strtoul(argv[3], NULL, 10);
    if (threads < 1 || threads > 64) return 2;

    sy_allocator alloc = SY_STRUCT_INIT(sy_allocator);
    alloc.alloc = checked_alloc;
    alloc.free = checked_free;
    sy_router_options opts = SY_STRUCT_INIT(sy_router_options);
    opts.allocator = &alloc;
    opts.log = on_log;
    opts.log_level = SY_LOG_INFO;
    sy_error err = SY_STRUCT_INIT(sy_error);

    /* 0. A config refused half-way through "weights": what create had
     * copied must be freed, with the right sizes. */
    static const char bad[] =
        "{\"topology\": {\"nodes\": [{\"id\": \"n\", \"host\": \"h\", \"port\": 1}]},"
        " \"selector\": {\"plugin\": \"weighted_rr\","
        " \"config\": {\"weights\": {\"n\": 2, \"m\": 3, \"o\": -1}}}}";
    int rc = sy_router_new(bad, strlen(bad), &opts, &router, &err);
    printf("refused: %s %s\n", sy_status_name(rc), rc != SY_OK ? err.path : "-");
    if (rc == SY_OK) sy_router_free(router);

    rc = sy_router_new_from_file(argv[1], &opts, &router, &err);
    if (rc != SY_OK) die(argv[1], rc, &err);
    if ((rc = sy_request_new(router, &request, &err)) != SY_OK) die("sy_request_new", rc, &err);
    if (sy_router_plan_size(router) > SY_PLAN_STORAGE_SIZE) die("plan size", SY_ETOOSMALL, NULL);

    /* 1. Consecutive plans walk the weighted cycle. */
    sequence("sequence", 0);

    /* 2. Plans from many threads at once: the shared counter hands out every
     * position exactly once, so whole cycles give exact counts. */
    pthread_t tid[64];
    tally tallies[64];
    memset(tallies, 0, sizeof tallies);
    for (size_t i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, worker, &tallies[i]) != 0) die("pthread_create", SY_EINTERNAL, NULL);
    tally sum = {0, 0, 0, 0, 0};
    for (size_t i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        sum.a += tallies[i].a, sum.b += tallies[i].b, sum.c += tallies[i].c;
        sum.other += tallies[i].other, sum.bad += tallies[i].bad;
    }
    printf("concurrent: node-a=%zu node-b=%zu node-c=%zu other=%zu bad=%zu\n", sum.a, sum.b, sum.c,
           sum.other, sum.bad);
    fflush(stdout);

    sequence("after", 0);

    /* 3. Three failures of node-a: it is no longer a first pick... */
    sy_target a = SY_STRUCT_INIT(sy_target);
    char first[64];
    plan_once(first, sizeof first, NULL, 0, &a); /* position 0 of the cycle: node-a */
    for (int i = 0; i < CYCLE - 1; i++) plan_once(first, sizeof first, NULL, 0, NULL); /* back to position 0 */
    if (strcmp(a.node, "node-a") != 0) die("the cycle is off: no node-a target to fail", SY_EINTERNAL, NULL);
    sy_outcome fail = SY_STRUCT_INIT(sy_outcome), ok = SY_STRUCT_INIT(sy_outcome);
    fail.kind = SY_OUTCOME_REFUSED;
    ok.kind = SY_OUTCOME_SUCCESS;
    for (int i = 0; i < 3; i++) sy_router_report(router, &a, &fail);
    fflush(stdout);
    sequence("failures", 1);
    /* ...until it succeeds once. */
    sy_router_report(router, &a, &ok);
    fflush(stdout);
    sequence("recovered", 0);

    /* 4. A new topology (node-a moved last; counters start afresh with the
     * snapshot): an outcome for a target of the old snapshot must be counted
     * for node-a, found by id, not for whatever node now has its old index. */
    static const char moved[] =
        "{\"nodes\": [{\"id\": \"node-b\", \"host\": \"10.0.2.11\", \"port\": 9042},"
        " {\"id\": \"node-c\", \"host\": \"10.0.2.12\", \"port\": 9042},"
        " {\"id\": \"node-d\", \"host\": \"10.0.2.13\", \"port\": 9042, \"up\": false},"
        " {\"id\": \"node-a\", \"host\": \"10.0.2.10\", \"port\": 9042}]}";
    sy_target old = SY_STRUCT_INIT(sy_target); /* the old snapshot, and the strings in it, may be gone */
    old.node = "node-a";
    old.node_index = a.node_index; /* 0: node-b's index in the new topology */
    old.epoch = a.epoch;
    if ((rc = sy_router_update_topology_json(router, moved, strlen(moved), &err)) != SY_OK)
        die("sy_router_update_topology_json", rc, &err);
    for (int i = 0; i < 3; i++) sy_router_report(router, &old, &fail);
    fflush(stdout);
    sequence("moved", 1);

    sy_request_free(request);
    sy_router_free(router);
    printf("allocator: bad_frees=%ld outstanding=%ld\n", atomic_load(&bad_frees), atomic_load(&outstanding));
    return 0;
}
