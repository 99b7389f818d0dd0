/* Shared parts of the switchyard fuzz harnesses; see fuzz_common.h. */
#include "fuzz_common.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- failures */

void syf_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("switchyard fuzz invariant: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

static int syf_verbose;

void syf_note(const char *fmt, ...)
{
    if (!syf_verbose) return;
    va_list ap;
    fputs("  ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

uint64_t syf_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < size; i++) {
        h ^= data[i];
        h *= 0x100000001b3u;
    }
    return h;
}

/* ---------------------------------------------------------------- allocator */

/*
 * Each block is [padding][header][size bytes]: the user pointer is followed
 * by exactly `size` bytes, so ASan sees an overrun at the first byte past
 * the end. The header records the size asked for, checked against the size
 * given back to free (the allocator contract is a sized free).
 */
#define SYF_MAGIC 0x5946u /* "FY" */
#define SYF_DEAD 0xdeadu
/* No single allocation of a 64 KiB input has a reason to be this large. */
#define SYF_ALLOC_LIMIT ((size_t)64 << 20)

typedef struct syf_header {
    size_t size;
    uint32_t offset; /* from the start of the block to the user pointer */
    uint16_t magic;
    uint16_t align_log2;
} syf_header;

enum syf_mode { SYF_NONE, SYF_ONCE, SYF_EVERY };

static struct {
    atomic_size_t live_bytes;
    atomic_size_t live_blocks;
    atomic_ulong attempts;  /* every call to alloc, armed or not */
    atomic_ulong served;    /* successful allocations */
    atomic_ulong injected;  /* failed on purpose */
    atomic_int armed;
    atomic_ulong armed_index; /* allocations seen since the last arm */
    /* schedule */
    enum syf_mode mode;
    unsigned long once_at; /* SYF_ONCE: the n-th armed allocation fails */
    unsigned long every;   /* SYF_EVERY: 1 in `every` fails, pseudo-randomly */
    uint64_t rng;
    int disabled; /* SY_FUZZ_NO_FAIL=1 in the environment */
} g;

static uint64_t syf_rand(void)
{
    /* xorshift64*: deterministic per input, so replays reproduce. */
    uint64_t x = g.rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g.rng = x;
    return x * 0x2545f4914f6cdd1du;
}

static int syf_should_fail(void)
{
    if (!atomic_load(&g.armed)) return 0;
    unsigned long n = atomic_fetch_add(&g.armed_index, 1) + 1;
    switch (g.mode) {
    case SYF_ONCE:
        return n == g.once_at;
    case SYF_EVERY:
        return syf_rand() % g.every == 0;
    case SYF_NONE:
    default:
        return 0;
    }
}

static void *syf_alloc(size_t size, size_t align, void *user_data)
{
    (void)user_data;
    atomic_fetch_add(&g.attempts, 1);
    if (align == 0 || (align & (align - 1)) != 0)
        syf_fail("alloc(%zu) asked for alignment %zu, not a power of two", size, align);
    if (align > 4096) syf_fail("alloc(%zu) asked for alignment %zu", size, align);
    if (size > SYF_ALLOC_LIMIT)
        syf_fail("alloc of %zu bytes from an input of at most %d bytes", size, SYF_MAX_INPUT);
    if (syf_should_fail()) {
        atomic_fetch_add(&g.injected, 1);
        return NULL;
    }
    size_t offset = sizeof(syf_header);
    if (offset < align) offset = align;
    offset = (offset + align - 1) & ~(align - 1);
    size_t block_align = align < sizeof(void *) ? sizeof(void *) : align;
    void *block = NULL;
    if (posix_memalign(&block, block_align, offset + size) != 0) return NULL;
    unsigned char *user = (unsigned char *)block + offset;
    syf_header h;
    h.size = size;
    h.offset = (uint32_t)offset;
    h.magic = SYF_MAGIC;
    h.align_log2 = 0;
    while (((size_t)1 << h.align_log2) < align) h.align_log2++;
    memcpy(user - sizeof h, &h, sizeof h);
    atomic_fetch_add(&g.live_bytes, size);
    atomic_fetch_add(&g.live_blocks, 1);
    atomic_fetch_add(&g.served, 1);
    return user;
}

static void syf_free(void *ptr, size_t size, void *user_data)
{
    (void)user_data;
    if (!ptr) return;
    unsigned char *user = ptr;
    syf_header h;
    memcpy(&h, user - sizeof h, sizeof h);
    if (h.magic == SYF_DEAD) syf_fail("double free of %p (%zu bytes)", ptr, size);
    if (h.magic != SYF_MAGIC) syf_fail("free of %p: not from this allocator or header overwritten", ptr);
    if (h.size != size)
        syf_fail("free of %p with size %zu, but %zu bytes were allocated", ptr, size, h.size);
    if (atomic_load(&g.live_blocks) == 0) syf_fail("free with no live allocation");
    h.magic = SYF_DEAD;
    memcpy(user - sizeof h, &h, sizeof h);
    atomic_fetch_sub(&g.live_bytes, size);
    atomic_fetch_sub(&g.live_blocks, 1);
    free(user - h.offset);
}

static const sy_allocator syf_allocator = {
    .struct_size = (uint32_t)sizeof(sy_allocator),
    .alloc = syf_alloc,
    .free = syf_free,
    .user_data = NULL,
};

static sy_router_options syf_opts;

const sy_router_options *syf_options(void)
{
    return &syf_opts;
}

int syf_begin(const uint8_t *data, size_t size)
{
    if (atomic_load(&g.live_blocks) != 0)
        syf_fail("%zu allocations live before the input started", atomic_load(&g.live_blocks));
    uint64_t h = syf_hash(data, size);
    atomic_store(&g.armed, 0);
    atomic_store(&g.armed_index, 0);
    atomic_store(&g.attempts, 0);
    atomic_store(&g.served, 0);
    atomic_store(&g.injected, 0);
    g.rng = h | 1;
    /* Half the inputs run without failures so the parsers see their whole
     * input; a quarter fail one allocation; a quarter fail 1 in N. */
    switch (g.disabled ? 0 : (h >> 60) & 3) {
    case 2:
        g.mode = SYF_ONCE;
        g.once_at = 1 + (unsigned long)((h >> 8) % 512);
        break;
    case 3:
        g.mode = SYF_EVERY;
        g.every = 2 + (unsigned long)((h >> 8) % 31);
        break;
    default:
        g.mode = SYF_NONE;
        break;
    }
    if (g.mode == SYF_ONCE) syf_note("schedule: allocation %lu of each armed call fails", g.once_at);
    else if (g.mode == SYF_EVERY) syf_note("schedule: 1 armed allocation in %lu fails", g.every);
    else syf_note("schedule: no allocation failures");
    return g.mode != SYF_NONE;
}

void syf_arm(int on)
{
    atomic_store(&g.armed_index, 0);
    atomic_store(&g.armed, on != 0);
}

unsigned long syf_injected(void)
{
    return atomic_load(&g.injected);
}

unsigned long syf_alloc_count(void)
{
    return atomic_load(&g.served);
}

void syf_end(void)
{
    atomic_store(&g.armed, 0);
    size_t blocks = atomic_load(&g.live_blocks);
    size_t bytes = atomic_load(&g.live_bytes);
    if (blocks != 0 || bytes != 0)
        syf_fail("leak: %zu allocations (%zu bytes) still live after everything was freed "
                 "(%lu allocation failures injected)",
                 blocks, bytes, atomic_load(&g.injected));
}

void syf_check_outcome(const char *what, int ref_rc, const sy_error *ref, int rc,
                       const sy_error *err, unsigned long injected)
{
    if (injected && rc == SY_ENOMEM) return;
    if (rc != ref_rc)
        syf_fail("%s: %s without allocation failures, but %s (%s: %s) with %lu injected; "
                 "an allocation failure must be reported as SY_ENOMEM",
                 what, sy_status_name(ref_rc), sy_status_name(rc), err ? err->path : "",
                 err ? err->message : "", injected);
    if (rc != SY_OK && ref && err &&
        (strcmp(ref->path, err->path) != 0 || strcmp(ref->message, err->message) != 0))
        syf_fail("%s: failed as \"%s: %s\" without allocation failures, but as \"%s: %s\" "
                 "with %lu injected",
                 what, ref->path, ref->message, err->path, err->message, injected);
}

/* ---------------------------------------------------------------- plugins */

/* meson passes SY_FUZZ_STATIC_PLUGINS(X) as X(default_policy)X(address_map)...
 * for every in-tree plugin compiled into this executable. */
#ifdef SY_FUZZ_STATIC_PLUGINS
#define SYF_DECLARE_(name) int sy_plugin_##name##_query(uint32_t index, const sy_plugin **out);
SY_FUZZ_STATIC_PLUGINS(SYF_DECLARE_)
#undef SYF_DECLARE_
#define SYF_ENTRY_(name) { #name, sy_plugin_##name##_query },
static const struct {
    const char *name;
    sy_plugin_query_fn query;
} syf_static_plugins[] = { SY_FUZZ_STATIC_PLUGINS(SYF_ENTRY_) { NULL, NULL } };
#undef SYF_ENTRY_
#else
static const struct {
    const char *name;
    sy_plugin_query_fn query;
} syf_static_plugins[] = { { NULL, NULL } };
#endif

void syf_init(void)
{
    static int done;
    if (done) return;
    done = 1;
    const char *nofail = getenv("SY_FUZZ_NO_FAIL");
    g.disabled = nofail && *nofail && strcmp(nofail, "0") != 0;
    const char *verbose = getenv("SY_FUZZ_VERBOSE");
    syf_verbose = verbose && *verbose && strcmp(verbose, "0") != 0;
    syf_opts = (sy_router_options){ .struct_size = (uint32_t)sizeof(sy_router_options) };
    syf_opts.allocator = &syf_allocator;
    for (size_t i = 0; syf_static_plugins[i].name; i++) {
        const sy_plugin *vt = NULL;
        for (uint32_t index = 0;; index++) {
            int rc = syf_static_plugins[i].query(index, &vt);
            if (rc == 0) break;
            if (rc < 0 || !vt)
                syf_fail("sy_plugin_%s_query(%u) failed: %s", syf_static_plugins[i].name,
                         index, sy_status_str(rc));
            sy_error err = { .struct_size = (uint32_t)sizeof(sy_error) };
            rc = sy_register_plugin(vt, &err);
            if (rc != SY_OK && rc != SY_ETAKEN)
                syf_fail("sy_register_plugin(%s): %s: %s", syf_static_plugins[i].name,
                         sy_status_name(rc), err.message);
        }
    }
}

/* ---------------------------------------------------------------- checks */

static int syf_known_status(int rc)
{
    return strcmp(sy_status_str(rc), "unknown status") != 0;
}

static size_t syf_bounded_len(const char *s, size_t cap, const char *what, const char *field)
{
    const char *nul = memchr(s, 0, cap);
    if (!nul) syf_fail("%s: sy_error.%s is not NUL-terminated", what, field);
    return (size_t)(nul - s);
}

void syf_check_error(const char *what, int rc, const sy_error *err)
{
    if (rc >= 0) syf_fail("%s: expected a failure, got %d", what, rc);
    if (!syf_known_status(rc)) syf_fail("%s: returned %d, which is not a status code", what, rc);
    if (rc == SY_ENOMEM && syf_injected() == 0)
        syf_fail("%s: SY_ENOMEM although no allocation failed", what);
    if (!err) return;
    size_t mlen = syf_bounded_len(err->message, sizeof err->message, what, "message");
    syf_bounded_len(err->path, sizeof err->path, what, "path");
    if (err->code != rc)
        syf_fail("%s: returned %s but sy_error.code is %d (%s)", what, sy_status_name(rc),
                 err->code, sy_status_name(err->code));
    if (mlen == 0) syf_fail("%s: %s with an empty message", what, sy_status_name(rc));
}

static void syf_check_string(const char *s, const char *field, int required)
{
    if (!s) {
        if (required) syf_fail("plan target: %s is NULL", field);
        return;
    }
    /* strlen makes ASan check the string is readable and terminated. */
    size_t n = strlen(s);
    if (required && n == 0) syf_fail("plan target: %s is empty", field);
}

static void syf_check_target(const sy_target *t, uint64_t epoch)
{
    syf_check_string(t->node, "node", 0);
    syf_check_string(t->datacenter, "datacenter", 0);
    syf_check_string(t->rack, "rack", 0);
    syf_check_string(t->url, "url", 0);
    syf_check_string(t->cookie, "cookie", 0);
    if (t->error) {
        syf_check_string(t->error, "error", 1);
        if (t->host || t->port)
            syf_fail("plan target with error \"%s\" still has host/port", t->error);
    } else {
        syf_check_string(t->host, "host", 1);
        if (t->port < 1 || t->port > 65535) syf_fail("plan target port %u", t->port);
    }
    if (t->via_count > SY_VIA_MAX) syf_fail("plan target via_count %u", t->via_count);
    for (uint32_t i = 0; i < t->via_count; i++) syf_check_string(t->via[i], "via[i]", 1);
    if (t->epoch != epoch)
        syf_fail("plan target from epoch %llu, router is at %llu", (unsigned long long)t->epoch,
                 (unsigned long long)epoch);
}

/* A plan longer than this does not end. */
#define SYF_PLAN_MAX (1 << 20)

int syf_plan(sy_router *router, const sy_request *req)
{
    size_t need = sy_router_plan_size(router);
    if (need == 0) syf_fail("sy_router_plan_size is 0");
    uint64_t epoch = sy_router_epoch(router);
    unsigned long before = atomic_load(&g.attempts);
    sy_plan *const sentinel = (sy_plan *)(uintptr_t)0x5f5f;
    sy_plan *plan = sentinel;
    sy_error err = { .struct_size = (uint32_t)sizeof(sy_error) };

    /* Storage one byte short is refused cleanly. A long translator chain
     * may need more than SY_PLAN_STORAGE_SIZE; then that is refused too. */
    sy_plan_storage fixed;
    memset(&fixed, 0xa5, sizeof fixed);
    if (need > SY_PLAN_STORAGE_SIZE)
        syf_note("sy_router_plan_size %zu > SY_PLAN_STORAGE_SIZE %d", need, SY_PLAN_STORAGE_SIZE);
    size_t short_size = need <= SY_PLAN_STORAGE_SIZE ? need - 1 : SY_PLAN_STORAGE_SIZE;
    int rc = sy_plan_init(router, req, &fixed, short_size, &plan, &err);
    if (rc != SY_ETOOSMALL)
        syf_fail("sy_plan_init with %zu of the %zu bytes needed returned %s", short_size, need,
                 sy_status_name(rc));
    syf_check_error("sy_plan_init (storage too small)", rc, &err);
    if (plan != sentinel) syf_fail("sy_plan_init failed but changed *out");

    /* Exactly the size asked for, on the heap: ASan catches a plan that
     * writes past what sy_router_plan_size() promised. */
    void *storage = malloc(need);
    if (!storage) syf_fail("out of memory for %zu bytes of plan storage", need);
    memset(storage, 0xa5, need);
    err = (sy_error){ .struct_size = (uint32_t)sizeof(sy_error) };
    rc = sy_plan_init(router, req, storage, need, &plan, &err);
    if (rc != SY_OK) {
        syf_note("sy_plan_init: %s (%s: %s)", sy_status_name(rc), err.path, err.message);
        syf_check_error("sy_plan_init", rc, &err);
        if (plan != sentinel) syf_fail("sy_plan_init failed but changed *out");
    } else {
        if (!plan) syf_fail("sy_plan_init succeeded with a NULL plan");
        int n = 0;
        /* No topology node comes twice in one plan. */
        static unsigned char seen[(1 << 16) / 8];
        memset(seen, 0, sizeof seen);
        for (;;) {
            sy_target t = { .struct_size = (uint32_t)sizeof(sy_target) };
            int next = sy_plan_next(plan, &t);
            if (next == 0) break;
            if (next < 0) {
                if (!syf_known_status(next))
                    syf_fail("sy_plan_next returned %d, not a status code", next);
                if (next == SY_ENOMEM) syf_fail("sy_plan_next: SY_ENOMEM while planning");
                rc = next;
                break;
            }
            if (next != 1) syf_fail("sy_plan_next returned %d", next);
            syf_check_target(&t, epoch);
            if (t.node_index < (1u << 16)) {
                unsigned char bit = (unsigned char)(1u << (t.node_index & 7));
                if (seen[t.node_index >> 3] & bit)
                    syf_fail("node %u ('%s') comes twice in one plan", t.node_index, t.node ? t.node : "");
                seen[t.node_index >> 3] |= bit;
            }
            if (++n > SYF_PLAN_MAX) syf_fail("plan does not end after %d targets", n);
        }
        /* After the end, the plan stays at its end. */
        if (rc == SY_OK) {
            sy_target t = { .struct_size = (uint32_t)sizeof(sy_target) };
            int again = sy_plan_next(plan, &t);
            if (again != 0) syf_fail("sy_plan_next after the end returned %d", again);
            rc = n;
        }
        sy_plan_release(plan);
    }
    free(storage);
    if (plan != sentinel) syf_note("plan: %d (%s)", rc, rc >= 0 ? "targets" : sy_status_name(rc));
    unsigned long after = atomic_load(&g.attempts);
    if (after != before)
        syf_fail("planning made %lu allocation(s); plans must not allocate", after - before);
    return rc;
}
