/* Plugin loading through the public API: static registration, the search
 * path, and each way a shared object is refused. The plugins are the
 * purpose-built fixtures of tests/fixtures, found through $SY_FIXTURE_DIR.
 *
 * Static registrations are process-wide and permanent, so every test
 * registers what it needs itself (registration is idempotent) and no two
 * tests give one name different meanings. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NOLOAD */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <switchyard/plugin.h>

/* ---------------------------------------------------------------- fixtures */

/* Every fixture module (as in tests/fixtures/meson.build), to tell which
 * ones a router left loaded. */
static const char *const kFixtures[] = {
    "fx_good",       "fx_old_struct",   "fx_iface",      "fx_pair",
    "fx_pair_clash", "fx_clash_static", "fx_shadowed",   "fx_create_fails",
    "fx_no_entry",   "fx_future_abi",   "fx_small_struct", "fx_no_destroy",
    "fx_wrong_name", "fx_dup_twice",    "fx_query_error", "fx_undefined",
};
#define FIXTURE_COUNT (sizeof kFixtures / sizeof kFixtures[0])

/* fx_iface's interface "fx.iface" version 2; the fixture has the same
 * definition (plugin and application share it, the core does not see it). */
typedef struct fx_iface_v2 {
    uint32_t struct_size;
    uint32_t version;
    int (*value)(void *instance);
} fx_iface_v2;

static const char *fixture_dir(void) {
    const char *d = getenv("SY_FIXTURE_DIR");
    return d && *d ? d : "tests/fixtures";
}

static void fixture_file(char *dst, size_t size, const char *name) {
    int n = snprintf(dst, size, "%s/%s.so", fixture_dir(), name);
    assert_true(n > 0 && (size_t)n < size);
}

/* Replaces each "@D@" in tmpl with the fixture directory. */
static void expand(char *dst, size_t size, const char *tmpl) {
    const char *dir = fixture_dir();
    size_t dlen = strlen(dir), used = 0;
    assert_null(strpbrk(dir, "\"\\")); /* pasted into JSON as is */
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "@D@", 3) == 0) {
            assert_true(used + dlen < size);
            memcpy(dst + used, dir, dlen);
            used += dlen;
            p += 3;
        } else {
            assert_true(used + 1 < size);
            dst[used++] = *p++;
        }
    }
    dst[used] = 0;
}

static int module_loaded(const char *name) {
    char file[4096];
    fixture_file(file, sizeof file, name);
    void *h = dlopen(file, RTLD_NOW | RTLD_NOLOAD);
    if (!h) return 0;
    dlclose(h);
    return 1;
}

/* Bit i: kFixtures[i] is loaded in this process. */
static uint32_t loaded_mask(void) {
    uint32_t m = 0;
    for (size_t i = 0; i < FIXTURE_COUNT; i++)
        if (module_loaded(kFixtures[i])) m |= 1u << i;
    return m;
}

/* A leaked dlopen handle keeps a module mapped after its router is gone. */
static void assert_loaded_unchanged(uint32_t before) {
    uint32_t now = loaded_mask();
    for (size_t i = 0; i < FIXTURE_COUNT; i++)
        if ((now ^ before) & (1u << i))
            fail_msg("%s.so is %s loaded than before", kFixtures[i],
                     now & (1u << i) ? "still" : "no longer");
}

static void assert_contains(const char *haystack, const char *needle) {
    if (!strstr(haystack, needle)) fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* ---------------------------------------------------------------- counting allocator */

typedef struct counting {
    size_t allocs;
    size_t live_blocks;
    size_t live_bytes;
    size_t size_mismatches; /* free() told another size than alloc() got */
    size_t watch_size;      /* allocations of exactly this size are counted */
    size_t watch_hits;
} counting;

/* The asked size and the padding sit in the 16 bytes before the block. */
static void *count_alloc(size_t size, size_t align, void *user_data) {
    counting *c = user_data;
    size_t pad = align > 16 ? align : 16;
    size_t total = (pad + size + pad - 1) / pad * pad;
    unsigned char *base = aligned_alloc(pad, total);
    if (!base) return NULL;
    unsigned char *p = base + pad;
    memcpy(p - 16, &size, sizeof size);
    memcpy(p - 8, &pad, sizeof pad);
    c->allocs++;
    c->live_blocks++;
    c->live_bytes += size;
    if (size == c->watch_size) c->watch_hits++;
    return p;
}

static void count_free(void *ptr, size_t size, void *user_data) {
    counting *c = user_data;
    if (!ptr) return;
    unsigned char *p = ptr;
    size_t asked, pad;
    memcpy(&asked, p - 16, sizeof asked);
    memcpy(&pad, p - 8, sizeof pad);
    if (asked != size) c->size_mismatches++;
    c->live_blocks--;
    c->live_bytes -= asked;
    free(p - pad);
}

typedef struct counted_opts {
    counting count;
    sy_allocator alloc;
    sy_router_options opts;
} counted_opts;

/* One per process, not on a test's stack: a router that a failed assertion
 * left behind is freed by the teardown, through this allocator. */
static counted_opts g_counted;

static counted_opts *counted_new(void) {
    counted_opts *co = &g_counted;
    memset(co, 0, sizeof *co);
    co->alloc = (sy_allocator){.struct_size = sizeof(sy_allocator),
                               .alloc = count_alloc,
                               .free = count_free,
                               .user_data = &co->count};
    co->opts = (sy_router_options){.struct_size = sizeof(sy_router_options),
                                   .allocator = &co->alloc};
    return co;
}

static void assert_all_freed(const counting *c) {
    assert_true(c->allocs > 0); /* else the router ignored the allocator */
    if (c->live_blocks || c->live_bytes)
        fail_msg("%zu block(s), %zu byte(s) never freed", c->live_blocks, c->live_bytes);
    assert_int_equal(c->size_mismatches, 0);
}

/* ---------------------------------------------------------------- routers */

/* Routers and dlopen handles a test holds: the teardown releases what a
 * failed assertion left behind, so one failure neither leaks (ASan) nor
 * leaves modules loaded for the next test's checks. */
#define MAX_HELD 8
static sy_router *g_routers[MAX_HELD];
static void *g_handles[MAX_HELD];

static void hold(void **slots, void *p) {
    for (size_t i = 0; i < MAX_HELD; i++)
        if (!slots[i]) {
            slots[i] = p;
            return;
        }
    fail_msg("more than %d held objects", MAX_HELD);
}

static int drop(void **slots, void *p) {
    for (size_t i = 0; i < MAX_HELD; i++)
        if (slots[i] == p) {
            slots[i] = NULL;
            return 1;
        }
    return 0;
}

static void router_free(sy_router *r) {
    drop((void **)g_routers, r);
    sy_router_free(r);
}

static int release_held(void **state) {
    (void)state;
    /* slots are cleared first: a crash in here must not repeat next time */
    for (size_t i = 0; i < MAX_HELD; i++) {
        sy_router *r = g_routers[i];
        void *h = g_handles[i];
        g_routers[i] = NULL;
        g_handles[i] = NULL;
        if (r) sy_router_free(r);
        if (h) dlclose(h);
    }
    return 0;
}


#define SEL(name) "{\"plugin_path\": [\"@D@\"], \"selector\": {\"plugin\": \"" name "\"}}"
#define TR(name)                                                                            \
    "{\"plugin_path\": [\"@D@\"], \"selector\": {\"plugin\": \"fx_good\"},"                 \
    " \"translators\": [{\"plugin\": \"" name "\"}]}"

static const char kGoodConfig[] =
    "{\"plugin_path\": [\"@D@\"], \"selector\": {\"plugin\": \"fx_good\", \"config\": {}}}";

static int new_router(const char *tmpl, const sy_router_options *opts, sy_router **out,
                      sy_error *err) {
    char json[8192];
    expand(json, sizeof json, tmpl);
    *err = (sy_error){.struct_size = sizeof(sy_error)};
    *out = NULL;
    return sy_router_new(json, strlen(json), opts, out, err);
}

static sy_router *must_router(const char *tmpl, const sy_router_options *opts) {
    sy_router *r = NULL;
    sy_error err;
    int rc = new_router(tmpl, opts, &r, &err);
    if (rc != SY_OK)
        fail_msg("sy_router_new: %s at \"%s\": %s", sy_status_name(rc), err.path, err.message);
    assert_non_null(r);
    hold((void **)g_routers, r);
    return r;
}

/* Router creation must fail with code at path, a message containing each
 * non-NULL needle ("@D@" expanded), the out-parameter untouched, every byte
 * it allocated freed and no module left loaded. line: the caller's. */
static void expect_fail_at(int line, const char *tmpl, int code, const char *path,
                           const char *n1, const char *n2, const char *n3) {
    static char untouched;
    counted_opts *co = counted_new();
    uint32_t before = loaded_mask();
    char json[8192];
    expand(json, sizeof json, tmpl);
    sy_error err = {.struct_size = sizeof err};
    sy_router *r = (sy_router *)(void *)&untouched;
    int rc = sy_router_new(json, strlen(json), &co->opts, &r, &err);
    if (r != (sy_router *)(void *)&untouched) {
        if (rc == SY_OK) hold((void **)g_routers, r);
        fail_msg("line %d: *out was written", line);
    }
    if (rc != code)
        fail_msg("line %d: expected %s, got %s at \"%s\": %s", line, sy_status_name(code),
                 sy_status_name(rc), err.path, err.message);
    if (err.code != code)
        fail_msg("line %d: returned %s but err.code is %d (%s), path \"%s\", message \"%s\"",
                 line, sy_status_name(rc), err.code, sy_status_name(err.code), err.path,
                 err.message);
    if (strcmp(err.path, path) != 0)
        fail_msg("line %d: err.path is \"%s\", expected \"%s\"", line, err.path, path);
    const char *needles[] = {n1, n2, n3};
    for (size_t i = 0; i < 3; i++) {
        if (!needles[i]) continue;
        char want[1024];
        expand(want, sizeof want, needles[i]);
        if (!strstr(err.message, want))
            fail_msg("line %d: \"%s\" does not contain \"%s\"", line, err.message, want);
    }
    assert_all_freed(&co->count);
    assert_loaded_unchanged(before);
}
#define expect_fail(...) expect_fail_at(__LINE__, __VA_ARGS__)

typedef struct seen {
    size_t count;
    char node[32];
    char host[32];
    uint32_t port;
    uint32_t via_count;
    char via[SY_VIA_MAX][32];
    sy_target first; /* for sy_router_report; strings are the plugins' statics */
} seen;

/* Runs one plan and records its first target. */
static void plan_one(sy_router *r, seen *s) {
    sy_error err = {.struct_size = sizeof err};
    sy_request *req = NULL;
    assert_int_equal(sy_request_new(r, &req, &err), SY_OK);
    sy_plan_storage storage;
    assert_true(sy_router_plan_size(r) <= sizeof storage);
    sy_plan *plan = NULL;
    int rc = sy_plan_init(r, req, &storage, sizeof storage, &plan, &err);
    if (rc != SY_OK) fail_msg("sy_plan_init: %s: %s", sy_status_name(rc), err.message);
    memset(s, 0, sizeof *s);
    sy_target t = {.struct_size = sizeof t};
    int more;
    while ((more = sy_plan_next(plan, &t)) == 1) {
        if (s->count++ == 0) {
            snprintf(s->node, sizeof s->node, "%s", t.node ? t.node : "");
            snprintf(s->host, sizeof s->host, "%s", t.host ? t.host : "");
            s->port = t.port;
            s->via_count = t.via_count;
            for (uint32_t i = 0; i < t.via_count && i < SY_VIA_MAX; i++)
                snprintf(s->via[i], sizeof s->via[i], "%s", t.via[i]);
            s->first = t;
        }
        t = (sy_target){.struct_size = sizeof t};
    }
    assert_int_equal(more, 0);
    sy_plan_release(plan);
    sy_request_free(req);
}

/* ---------------------------------------------------------------- static plugins */

typedef struct st_plan {
    uint32_t emitted;
} st_plan;

static int st_create(void *instance, const sy_host *host, const sy_json *config,
                     const char *config_path, sy_error *err) {
    (void)instance;
    (void)host;
    (void)config;
    (void)config_path;
    (void)err;
    return SY_OK;
}

static void st_destroy(void *instance) { (void)instance; }

static int st_plan_init(void *instance, const void *state, const sy_topology *topology,
                        const sy_request_view *request, void *plan_state, sy_error *err) {
    (void)instance;
    (void)state;
    (void)topology;
    (void)request;
    (void)err;
    ((st_plan *)plan_state)->emitted = 0;
    return SY_OK;
}

static int st_emit(void *plan_state, sy_target *target, const char *host) {
    st_plan *p = plan_state;
    if (p->emitted++) return 0;
    target->node = "static-node";
    target->host = host;
    target->port = 7000;
    SY_TARGET_ADD_VIA(target, "static");
    return 1;
}

/* Two behaviours, to tell which of two same-named vtables a router uses. */
static int st_next_a(void *instance, void *plan_state, sy_target *target) {
    (void)instance;
    return st_emit(plan_state, target, "198.51.100.1");
}

static int st_next_b(void *instance, void *plan_state, sy_target *target) {
    (void)instance;
    return st_emit(plan_state, target, "198.51.100.2");
}

#define STATIC_SELECTOR(plugin_name, next)                                                  \
    {                                                                                       \
        .abi_version = SY_PLUGIN_ABI_VERSION, .struct_size = sizeof(sy_plugin),             \
        .name = plugin_name, .description = "test: static selector",                       \
        .roles = SY_ROLE_SELECTOR, .instance_size = 8, .plan_state_size = sizeof(st_plan), \
        .create = st_create, .destroy = st_destroy, .plan_init = st_plan_init,              \
        .plan_next = next                                                                   \
    }

static const sy_plugin st_sel_a = STATIC_SELECTOR("fx_static_sel", st_next_a);
static const sy_plugin st_sel_b = STATIC_SELECTOR("fx_static_sel", st_next_b);
static const sy_plugin st_shadow = STATIC_SELECTOR("fx_shadowed", st_next_a);
static const sy_plugin st_taken = STATIC_SELECTOR("fx_taken_static", st_next_a);
static const sy_plugin st_regbad_good = STATIC_SELECTOR("fx_reg_bad", st_next_a);

static void must_register(const sy_plugin *p) {
    sy_error err = {.struct_size = sizeof err};
    int rc = sy_register_plugin(p, &err);
    if (rc != SY_OK) fail_msg("sy_register_plugin: %s: %s", sy_status_name(rc), err.message);
}

/* ---------------------------------------------------------------- registration */

static void test_register_null_is_einval(void **state) {
    (void)state;
    sy_error err = {.struct_size = sizeof err};
    assert_int_equal(sy_register_plugin(NULL, &err), SY_EINVAL);
    assert_int_equal(err.code, SY_EINVAL);
    assert_true(err.message[0] != 0);
    assert_int_equal(sy_register_plugin(NULL, NULL), SY_EINVAL); /* err is optional */
}

static void test_register_same_vtable_twice_is_idempotent(void **state) {
    (void)state;
    sy_error err = {.struct_size = sizeof err};
    assert_int_equal(sy_register_plugin(&st_sel_a, &err), SY_OK);
    assert_int_equal(sy_register_plugin(&st_sel_a, &err), SY_OK);
}

static void test_register_other_vtable_with_taken_name_is_etaken(void **state) {
    (void)state;
    must_register(&st_sel_a);
    sy_error err = {.struct_size = sizeof err};
    assert_int_equal(sy_register_plugin(&st_sel_b, &err), SY_ETAKEN);
    assert_int_equal(err.code, SY_ETAKEN);
    assert_contains(err.message, "'fx_static_sel' is already registered");
    /* the first registration still answers to the name */
    sy_router *r = must_router("{\"selector\": {\"plugin\": \"fx_static_sel\"}}", NULL);
    seen s;
    plan_one(r, &s);
    assert_string_equal(s.host, "198.51.100.1");
    router_free(r);
}

static void expect_register_fails(const sy_plugin *vt, int code, const char *needle) {
    sy_error err = {.struct_size = sizeof err};
    int rc = sy_register_plugin(vt, &err);
    if (rc != code)
        fail_msg("expected %s, got %s: %s", sy_status_name(code), sy_status_name(rc), err.message);
    assert_int_equal(err.code, code);
    assert_contains(err.message, needle);
}

static void test_register_rejects_bad_vtables(void **state) {
    (void)state;
    /* static: a vtable wrongly accepted must not dangle for later tests */
    static sy_plugin bad[6];
    for (size_t i = 0; i < 6; i++) bad[i] = st_regbad_good;
    bad[0].abi_version = 0;
    bad[1].abi_version = SY_PLUGIN_ABI_VERSION + 1;
    bad[2].struct_size = (uint32_t)offsetof(sy_plugin, destroy);
    bad[3].name = NULL;
    bad[4].name = "";
    bad[5].create = NULL;
    char small[64];
    snprintf(small, sizeof small, "struct_size %u is too small",
             (unsigned)offsetof(sy_plugin, destroy));
    char future[64];
    snprintf(future, sizeof future, "plugin ABI version %d", SY_PLUGIN_ABI_VERSION + 1);
    expect_register_fails(&bad[0], SY_EABI, "plugin ABI version 0");
    expect_register_fails(&bad[1], SY_EABI, future);
    expect_register_fails(&bad[2], SY_EPLUGIN, small);
    expect_register_fails(&bad[3], SY_EPLUGIN, "no name");
    expect_register_fails(&bad[4], SY_EPLUGIN, "no name");
    expect_register_fails(&bad[5], SY_EPLUGIN, "lacks create or destroy");
    /* none of the refused ones took the name */
    must_register(&st_regbad_good);
}

static void test_static_plugin_needs_no_plugin_path(void **state) {
    (void)state;
    must_register(&st_sel_a);
    counted_opts *co = counted_new();
    sy_router *r = must_router("{\"selector\": {\"plugin\": \"fx_static_sel\"}}", &co->opts);
    seen s;
    plan_one(r, &s);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.host, "198.51.100.1");
    assert_string_equal(s.via[0], "static");
    router_free(r);
    assert_all_freed(&co->count);
}

static void test_static_plugin_shadows_file(void **state) {
    (void)state;
    char file[4096];
    fixture_file(file, sizeof file, "fx_shadowed");
    assert_int_equal(access(file, F_OK), 0); /* the file is there to be found */
    must_register(&st_shadow);
    sy_router *r = must_router(SEL("fx_shadowed"), NULL);
    assert_false(module_loaded("fx_shadowed")); /* not even opened */
    seen s;
    plan_one(r, &s);
    assert_string_equal(s.host, "198.51.100.1");
    router_free(r);
}

/* ---------------------------------------------------------------- loading */

static void test_load_good_from_fixture_dir(void **state) {
    (void)state;
    uint32_t before = loaded_mask();
    assert_false(module_loaded("fx_good"));
    counted_opts *co = counted_new();
    co->count.watch_size = 77; /* fx_good's instance allocation */
    sy_router *r = must_router(kGoodConfig, &co->opts);
    assert_true(module_loaded("fx_good"));
    assert_int_equal(co->count.watch_hits, 1); /* sy_host alloc is the router's allocator */
    seen s;
    plan_one(r, &s);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.node, "fx-node");
    assert_string_equal(s.host, "192.0.2.1");
    assert_int_equal(s.port, 9042);
    assert_int_equal(s.via_count, 1);
    assert_string_equal(s.via[0], "fx_good");
    /* no get_interface hook */
    sy_error err = {.struct_size = sizeof err};
    const void *iface = NULL;
    void *inst = NULL;
    assert_int_equal(sy_router_get_interface(r, "fx_good", "fx.iface", 1, &iface, &inst, &err),
                     SY_EUNSUPPORTED);
    assert_int_equal(err.code, SY_EUNSUPPORTED);
    assert_contains(err.message, "fx_good");
    assert_null(iface);
    assert_null(inst);
    router_free(r);
    assert_all_freed(&co->count); /* includes fx_good's blob: destroy() ran */
    assert_loaded_unchanged(before);
}

static void test_load_old_struct_size(void **state) {
    (void)state;
    sy_router *r = must_router(SEL("fx_old_struct"), NULL);
    char file[4096];
    fixture_file(file, sizeof file, "fx_old_struct");
    void *h = dlopen(file, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    hold(g_handles, h);
    int *outcomes = dlsym(h, "fx_old_struct_outcome_calls");
    int *ifaces = dlsym(h, "fx_old_struct_interface_calls");
    assert_non_null(outcomes);
    assert_non_null(ifaces);
    seen s;
    plan_one(r, &s);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.via[0], "fx_old_struct");
    sy_outcome o = {.struct_size = sizeof o, .kind = SY_OUTCOME_SUCCESS, .latency_ns = 1000};
    assert_int_equal(sy_router_report(r, &s.first, &o), SY_OK);
    assert_int_equal(*outcomes, 0); /* on_outcome lies past struct_size */
    sy_error err = {.struct_size = sizeof err};
    const void *iface = NULL;
    void *inst = NULL;
    assert_int_equal(
        sy_router_get_interface(r, "fx_old_struct", "fx.iface", 1, &iface, &inst, &err),
        SY_EUNSUPPORTED);
    assert_int_equal(*ifaces, 0); /* so does get_interface */
    assert_null(iface);
    drop(g_handles, h);
    dlclose(h);
    router_free(r);
}

static void test_two_routers_share_a_module(void **state) {
    (void)state;
    uint32_t before = loaded_mask();
    sy_router *a = must_router(kGoodConfig, NULL);
    sy_router *b = must_router(kGoodConfig, NULL);
    router_free(a);
    /* b's reference keeps the code mapped */
    assert_true(module_loaded("fx_good"));
    seen s;
    plan_one(b, &s);
    assert_string_equal(s.host, "192.0.2.1");
    router_free(b);
    assert_loaded_unchanged(before);
}

static void test_second_plugin_of_a_module_is_found(void **state) {
    (void)state;
    char file[4096];
    fixture_file(file, sizeof file, "fx_pair_extra");
    assert_int_not_equal(access(file, F_OK), 0); /* only fx_pair.so provides it */
    counted_opts *co = counted_new();
    sy_router *r = must_router("{\"plugin_path\": [\"@D@\"], \"selector\": {\"plugin\": \"fx_pair\"},"
                               " \"translators\": [{\"plugin\": \"fx_pair_extra\"}]}",
                               &co->opts);
    seen s;
    plan_one(r, &s);
    assert_int_equal(s.port, 9043);
    assert_int_equal(s.via_count, 2);
    assert_string_equal(s.via[0], "fx_pair");
    assert_string_equal(s.via[1], "fx_pair_extra");
    router_free(r);
    assert_all_freed(&co->count);
}

static void test_search_path_order(void **state) {
    (void)state;
    /* options' dirs come first, then the config's, in order; dirs that lack
     * the file are skipped */
    const char *const opt_dirs[] = {"/nonexistent/sy-opt"};
    sy_router_options o = {.struct_size = sizeof o, .plugin_path = opt_dirs,
                           .plugin_path_count = 1};
    static const char kTwoDirs[] =
        "{\"plugin_path\": [\"/nonexistent/sy-cfg\", \"@D@\"], \"selector\": {\"plugin\": \"%s\"}}";
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, kTwoDirs, "fx_good");
    sy_router *r = must_router(tmpl, &o);
    router_free(r);
    snprintf(tmpl, sizeof tmpl, kTwoDirs, "fx_nowhere");
    sy_error err;
    assert_int_equal(new_router(tmpl, &o, &r, &err), SY_EPLUGIN);
    assert_null(r);
    assert_string_equal(err.path, "selector.plugin");
    char want[1024];
    expand(want, sizeof want,
           "plugin 'fx_nowhere' not found in: /nonexistent/sy-opt, /nonexistent/sy-cfg, @D@");
    assert_contains(err.message, want);
}

static void test_relative_plugin_path_uses_base_dir(void **state) {
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fixture_dir());
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir || dir[0] != '/') skip(); /* needs an absolute fixture dir */
    *slash = 0;
    char tmpl[8192];
    snprintf(tmpl, sizeof tmpl,
             "{\"plugin_path\": [\"%s\"], \"selector\": {\"plugin\": \"fx_good\"}}", slash + 1);
    sy_router_options o = {.struct_size = sizeof o, .base_dir = dir};
    /* from "/", the relative entry can only resolve against base_dir */
    int cwd = open(".", O_RDONLY | O_DIRECTORY);
    assert_true(cwd >= 0);
    assert_int_equal(chdir("/"), 0);
    sy_router *r = NULL;
    sy_error err;
    int rc = new_router(tmpl, &o, &r, &err);
    assert_int_equal(fchdir(cwd), 0);
    close(cwd);
    if (rc != SY_OK) fail_msg("%s at \"%s\": %s", sy_status_name(rc), err.path, err.message);
    router_free(r);
}

/* ---------------------------------------------------------------- refused modules */

static void test_missing_entry_symbol(void **state) {
    (void)state;
    expect_fail(SEL("fx_no_entry"), SY_EPLUGIN, "selector.plugin", "@D@/fx_no_entry.so",
                "no symbol sy_plugin_query", NULL);
}

static void test_future_abi_version(void **state) {
    (void)state;
    char why[64];
    snprintf(why, sizeof why, "plugin ABI version %d", SY_PLUGIN_ABI_VERSION + 1);
    expect_fail(SEL("fx_future_abi"), SY_EABI, "selector.plugin", "@D@/fx_future_abi.so", why,
                "'fx_future_abi'");
}

static void test_struct_size_too_small(void **state) {
    (void)state;
    char why[64];
    snprintf(why, sizeof why, "struct_size %u is too small", (unsigned)offsetof(sy_plugin, destroy));
    expect_fail(SEL("fx_small_struct"), SY_EPLUGIN, "selector.plugin", "@D@/fx_small_struct.so",
                why, NULL);
}

static void test_missing_destroy(void **state) {
    (void)state;
    expect_fail(TR("fx_no_destroy"), SY_EPLUGIN, "translators[0].plugin",
                "@D@/fx_no_destroy.so", "lacks create or destroy", NULL);
}

static void test_name_differs_from_file(void **state) {
    (void)state;
    expect_fail(SEL("fx_wrong_name"), SY_EPLUGIN, "selector.plugin", "@D@/fx_wrong_name.so",
                "does not provide a plugin named 'fx_wrong_name'", "it has 'something_else'");
}

static void test_name_enumerated_twice(void **state) {
    (void)state;
    expect_fail(SEL("fx_dup_twice"), SY_ETAKEN, "selector.plugin", "@D@/fx_dup_twice.so",
                "'fx_dup_twice' is already registered", NULL);
}

static void test_name_taken_by_static_registration(void **state) {
    (void)state;
    static const char kBoth[] =
        "{\"plugin_path\": [\"@D@\"], \"selector\": {\"plugin\": \"fx_clash_static\"},"
        " \"translators\": [{\"plugin\": \"fx_taken_static\"}]}";
    /* fine while the name is free: the clash below is the registration's doing */
    sy_router *r = must_router(kBoth, NULL);
    seen s;
    plan_one(r, &s);
    assert_int_equal(s.via_count, 2);
    assert_string_equal(s.via[1], "fx_taken_static");
    router_free(r);
    must_register(&st_taken);
    expect_fail(SEL("fx_clash_static"), SY_ETAKEN, "selector.plugin", "@D@/fx_clash_static.so",
                "plugin name 'fx_taken_static' is already registered", NULL);
}

static void test_name_taken_by_other_module(void **state) {
    (void)state;
    expect_fail("{\"plugin_path\": [\"@D@\"], \"selector\": {\"plugin\": \"fx_pair\"},"
                " \"translators\": [{\"plugin\": \"fx_pair_clash\"}]}",
                SY_ETAKEN, "translators[0].plugin", "@D@/fx_pair_clash.so",
                "plugin name 'fx_pair_extra' is already registered", "by @D@/fx_pair.so");
}

static void test_query_error(void **state) {
    (void)state;
    expect_fail(TR("fx_query_error"), SY_EPLUGIN, "translators[0].plugin",
                "@D@/fx_query_error.so", "sy_plugin_query failed at index 1", NULL);
}

static void test_not_a_shared_object(void **state) {
    (void)state;
    expect_fail(SEL("fx_garbage"), SY_EPLUGIN, "selector.plugin", "@D@/fx_garbage.so",
                "cannot load", NULL);
}

static void test_unresolved_symbol(void **state) {
    (void)state;
    expect_fail(SEL("fx_undefined"), SY_EPLUGIN, "selector.plugin", "@D@/fx_undefined.so",
                "cannot load", "fx_symbol_nobody_defines");
}

static void test_plugin_not_found(void **state) {
    (void)state;
    expect_fail(TR("fx_nowhere"), SY_EPLUGIN, "translators[0].plugin",
                "plugin 'fx_nowhere' not found in: @D@", NULL, NULL);
}

static void test_name_with_path_is_refused(void **state) {
    (void)state;
    /* a name must not reach outside the search path */
    expect_fail(SEL("../fixtures/fx_good"), SY_EPLUGIN, "selector.plugin",
                "'../fixtures/fx_good' is not a plugin name", NULL, NULL);
    expect_fail(SEL(".."), SY_EPLUGIN, "selector.plugin", "'..' is not a plugin name", NULL,
                NULL);
}

static void test_role_mismatch(void **state) {
    (void)state;
    expect_fail(TR("fx_pair"), SY_ECONFIG, "translators[0].plugin",
                "plugin 'fx_pair' is not a translator", NULL, NULL);
}

/* ---------------------------------------------------------------- create() fails */

typedef struct pinned {
    void *handle;
    int *creates;
    int *destroys;
} pinned;

/* Our own reference keeps the module's counters alive across the core's
 * dlopen/dlclose. */
static pinned pin_create_fails(void) {
    char file[4096];
    fixture_file(file, sizeof file, "fx_create_fails");
    pinned p;
    p.handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!p.handle) fail_msg("dlopen %s: %s", file, dlerror());
    hold(g_handles, p.handle);
    p.creates = dlsym(p.handle, "fx_create_fails_creates");
    p.destroys = dlsym(p.handle, "fx_create_fails_destroys");
    assert_non_null(p.creates);
    assert_non_null(p.destroys);
    *p.creates = *p.destroys = 0;
    return p;
}

static void unpin(pinned *p) {
    drop(g_handles, p->handle);
    dlclose(p->handle);
    /* gone now: the failed router dropped its own handle */
    assert_false(module_loaded("fx_create_fails"));
}

static void test_create_fails_as_selector(void **state) {
    (void)state;
    pinned p = pin_create_fails();
    expect_fail(SEL("fx_create_fails"), SY_ECONFIG, "selector.config.threshold",
                "threshold is required", NULL, NULL);
    assert_int_equal(*p.creates, 1);
    assert_int_equal(*p.destroys, 0); /* no destroy after a failed create */
    unpin(&p);
}

static void test_create_fails_as_translator(void **state) {
    (void)state;
    pinned p = pin_create_fails();
    /* fx_good was created first: its destroy must run (its blob is counted) */
    expect_fail(TR("fx_create_fails"), SY_ECONFIG, "translators[0].config.threshold",
                "threshold is required", NULL, NULL);
    assert_int_equal(*p.creates, 1);
    assert_int_equal(*p.destroys, 0);
    unpin(&p);
}

static void test_create_fails_without_detail(void **state) {
    (void)state;
    pinned p = pin_create_fails();
    /* a plugin returning a positive code and no error: the caller still gets
     * a status and an sy_error that says which plugin failed */
    expect_fail("{\"plugin_path\": [\"@D@\"], \"selector\": {\"plugin\": \"fx_create_fails\","
                " \"config\": {\"rc\": 1, \"silent\": true}}}",
                SY_EINTERNAL, "selector.config", "fx_create_fails", NULL, NULL);
    assert_int_equal(*p.destroys, 0);
    unpin(&p);
}

/* ---------------------------------------------------------------- interfaces */

static sy_router *iface_router(void) {
    return must_router("{\"plugin_path\": [\"@D@\"], \"selector\": {\"plugin\": \"fx_iface\","
                       " \"config\": {\"value\": 42}}}",
                       NULL);
}

static void test_interface_versions(void **state) {
    (void)state;
    sy_router *r = iface_router();
    for (uint32_t v = 1; v <= 2; v++) {
        sy_error err = {.struct_size = sizeof err};
        const void *iface = NULL;
        void *inst = NULL;
        int rc = sy_router_get_interface(r, "fx_iface", "fx.iface", v, &iface, &inst, &err);
        if (rc != SY_OK) fail_msg("min_version %u: %s: %s", v, sy_status_name(rc), err.message);
        const fx_iface_v2 *t = iface;
        assert_non_null(t);
        assert_int_equal(t->version, 2);
        assert_true(t->struct_size >= sizeof *t);
        assert_int_equal(t->value(inst), 42); /* inst is the configured instance */
    }
    static char sentinel;
    const void *iface = &sentinel;
    void *inst = &sentinel;
    sy_error err = {.struct_size = sizeof err};
    assert_int_equal(sy_router_get_interface(r, "fx_iface", "fx.iface", 3, &iface, &inst, &err),
                     SY_EUNSUPPORTED);
    assert_int_equal(err.code, SY_EUNSUPPORTED);
    assert_contains(err.message, "'fx.iface' of version >= 3");
    assert_ptr_equal(iface, &sentinel); /* out-parameters untouched on failure */
    assert_ptr_equal(inst, &sentinel);
    router_free(r);
}

static void test_interface_of_plugin_not_in_chain(void **state) {
    (void)state;
    sy_router *r = iface_router();
    sy_error err = {.struct_size = sizeof err};
    const void *iface = NULL;
    void *inst = NULL;
    /* fx_good is a fine plugin, just not in this router */
    assert_int_equal(sy_router_get_interface(r, "fx_good", "fx.iface", 1, &iface, &inst, &err),
                     SY_EUNKNOWN);
    assert_int_equal(err.code, SY_EUNKNOWN);
    assert_contains(err.message, "'fx_good'");
    assert_null(iface);
    assert_int_equal(sy_router_get_interface(r, "fx_iface", "fx.iface", 1, NULL, &inst, &err),
                     SY_EINVAL);
    router_free(r);
}

static void test_interface_null_is_unsupported(void **state) {
    (void)state;
    sy_router *r = iface_router();
    sy_error err = {.struct_size = sizeof err};
    const void *iface = NULL;
    void *inst = NULL;
    /* SY_OK without an interface is no interface */
    assert_int_equal(sy_router_get_interface(r, "fx_iface", "fx.null", 1, &iface, &inst, &err),
                     SY_EUNSUPPORTED);
    assert_int_equal(err.code, SY_EUNSUPPORTED);
    assert_null(iface);
    assert_null(inst);
    /* the plugin's own failure status passes through */
    assert_int_equal(sy_router_get_interface(r, "fx_iface", "fx.other", 1, &iface, &inst, &err),
                     SY_EUNKNOWN);
    assert_int_equal(err.code, SY_EUNKNOWN);
    assert_null(iface);
    router_free(r);
}

static void test_interface_positive_return_is_an_error(void **state) {
    (void)state;
    sy_router *r = iface_router();
    sy_error err = {.struct_size = sizeof err};
    const void *iface = NULL;
    void *inst = NULL;
    /* a positive return is no status: the ABI promises SY_OK or < 0, as
     * create/attach/plan_init already map it to SY_EINTERNAL */
    int rc = sy_router_get_interface(r, "fx_iface", "fx.positive", 1, &iface, &inst, &err);
    if (rc >= 0) fail_msg("returned %d (%s): %s", rc, sy_status_name(rc), err.message);
    assert_int_equal(err.code, rc);
    assert_null(iface);
    router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_register_null_is_einval, release_held),
        cmocka_unit_test_teardown(test_register_same_vtable_twice_is_idempotent, release_held),
        cmocka_unit_test_teardown(test_register_other_vtable_with_taken_name_is_etaken, release_held),
        cmocka_unit_test_teardown(test_register_rejects_bad_vtables, release_held),
        cmocka_unit_test_teardown(test_static_plugin_needs_no_plugin_path, release_held),
        cmocka_unit_test_teardown(test_static_plugin_shadows_file, release_held),
        cmocka_unit_test_teardown(test_load_good_from_fixture_dir, release_held),
        cmocka_unit_test_teardown(test_load_old_struct_size, release_held),
        cmocka_unit_test_teardown(test_two_routers_share_a_module, release_held),
        cmocka_unit_test_teardown(test_second_plugin_of_a_module_is_found, release_held),
        cmocka_unit_test_teardown(test_search_path_order, release_held),
        cmocka_unit_test_teardown(test_relative_plugin_path_uses_base_dir, release_held),
        cmocka_unit_test_teardown(test_missing_entry_symbol, release_held),
        cmocka_unit_test_teardown(test_future_abi_version, release_held),
        cmocka_unit_test_teardown(test_struct_size_too_small, release_held),
        cmocka_unit_test_teardown(test_missing_destroy, release_held),
        cmocka_unit_test_teardown(test_name_differs_from_file, release_held),
        cmocka_unit_test_teardown(test_name_enumerated_twice, release_held),
        cmocka_unit_test_teardown(test_name_taken_by_static_registration, release_held),
        cmocka_unit_test_teardown(test_name_taken_by_other_module, release_held),
        cmocka_unit_test_teardown(test_query_error, release_held),
        cmocka_unit_test_teardown(test_not_a_shared_object, release_held),
        cmocka_unit_test_teardown(test_unresolved_symbol, release_held),
        cmocka_unit_test_teardown(test_plugin_not_found, release_held),
        cmocka_unit_test_teardown(test_name_with_path_is_refused, release_held),
        cmocka_unit_test_teardown(test_role_mismatch, release_held),
        cmocka_unit_test_teardown(test_create_fails_as_selector, release_held),
        cmocka_unit_test_teardown(test_create_fails_as_translator, release_held),
        cmocka_unit_test_teardown(test_create_fails_without_detail, release_held),
        cmocka_unit_test_teardown(test_interface_versions, release_held),
        cmocka_unit_test_teardown(test_interface_of_plugin_not_in_chain, release_held),
        cmocka_unit_test_teardown(test_interface_null_is_unsupported, release_held),
        cmocka_unit_test_teardown(test_interface_positive_return_is_an_error, release_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
