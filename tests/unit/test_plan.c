/* The plan pipeline, with probe plugins registered statically: plans are
 * lazy, translators run in chain order with their own scratch, a target a
 * translator cannot translate keeps its place with an error, storage is the
 * caller's, a plan keeps its snapshot across topology updates, and outcomes
 * reach every plugin of the chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <switchyard/plugin.h>

/* ---------------------------------------------------------------- probe selector */

/* Counters shared by every probe instance (tests run one at a time). */
static int g_plan_init, g_plan_next, g_attach, g_detach, g_outcomes_sel, g_outcomes_tr;
static uint32_t g_last_outcome_kind;
static uint64_t g_plan_clock; /* host->now_ns() as plan_init saw it */

typedef struct sel_instance {
    const sy_host *host;
    int fail; /* plan_init fails with SY_ENOROUTE */
} sel_instance;

typedef struct sel_plan {
    const sy_topology *topo;
    size_t pos;
} sel_plan;

static int sel_create(void *instance, const sy_host *host, const sy_json *config, const char *path,
                      sy_error *err) {
    sel_instance *s = instance;
    s->host = host;
    const sy_json *f = host->json_get(config, "fail");
    if (f && host->json_type(f) != SY_JSON_TRUE && host->json_type(f) != SY_JSON_FALSE) {
        host->set_error(err, SY_ECONFIG, path, "fail: expected a boolean");
        return SY_ECONFIG;
    }
    s->fail = host->json_type(f) == SY_JSON_TRUE;
    return SY_OK;
}

static void sel_destroy(void *instance) { (void)instance; }

static int sel_attach(void *instance, const sy_topology *topology, void **state, sy_error *err) {
    (void)instance;
    (void)err;
    g_attach++;
    *state = (void *)topology; /* any non-NULL marker: detach counts it */
    return SY_OK;
}

static void sel_detach(void *instance, void *state) {
    (void)instance;
    assert_non_null(state);
    g_detach++;
}

/* Set: the next failing plan_init reloads this router to this config
 * first, so the plan's snapshot is retired while the plan holds it. */
static sy_router *g_reload_router;
static const char *g_reload_config;

static int sel_plan_init(void *instance, const void *state, const sy_topology *topology,
                         const sy_request_view *request, void *plan_state, sy_error *err) {
    sel_instance *s = instance;
    (void)request;
    assert_ptr_equal(state, topology);
    g_plan_init++;
    g_plan_clock = s->host->now_ns(s->host);
    if (s->fail) {
        if (g_reload_router) {
            sy_router *r = g_reload_router;
            g_reload_router = NULL;
            sy_error rerr = SY_STRUCT_INIT(sy_error);
            assert_int_equal(sy_router_reload(r, g_reload_config, strlen(g_reload_config), NULL, NULL, &rerr), SY_OK);
        }
        s->host->set_error(err, SY_ENOROUTE, "", "tp_sel: asked to fail");
        return SY_ENOROUTE;
    }
    sel_plan *p = plan_state;
    p->topo = topology;
    p->pos = 0;
    return SY_OK;
}

static int sel_plan_next(void *instance, void *plan_state, sy_target *target) {
    (void)instance;
    sel_plan *p = plan_state;
    if (p->pos >= p->topo->node_count) return 0;
    g_plan_next++;
    const sy_node *n = SY_TOPOLOGY_NODE(p->topo, p->pos);
    target->node = n->id;
    target->host = n->host;
    target->port = n->port;
    target->node_index = (uint32_t)p->pos++;
    SY_TARGET_ADD_VIA(target, "tp_sel");
    return 1;
}

static void sel_on_outcome(void *instance, const void *state, const sy_topology *topology,
                           const sy_target *target, const sy_outcome *outcome) {
    assert_ptr_equal(state, topology); /* the current snapshot's state */
    (void)instance;
    (void)target;
    g_outcomes_sel++;
    g_last_outcome_kind = outcome->kind;
}

static const sy_plugin kSel = {
    .abi_version = SY_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sy_plugin),
    .name = "tp_sel",
    .description = "probe selector: the topology's nodes in order",
    .roles = SY_ROLE_SELECTOR,
    .instance_size = sizeof(sel_instance),
    .plan_state_size = sizeof(sel_plan),
    .create = sel_create,
    .destroy = sel_destroy,
    .attach = sel_attach,
    .detach = sel_detach,
    .plan_init = sel_plan_init,
    .plan_next = sel_plan_next,
    .on_outcome = sel_on_outcome,
};

/* ---------------------------------------------------------------- two-step probe selector */

/* tp_step: the same nodes in order through plan_advance/plan_fill;
 * {"error_at": k}: the k-th advance (from 0) fails with SY_ENOROUTE. */
static int g_advance, g_fill;

typedef struct step_instance {
    int error_at;
    int serial;        /* which creation this is */
    int inherit_fails; /* {"inherit_fails": true} */
} step_instance;

static int g_step_serial, g_inherits, g_inherited_from;

typedef struct step_plan {
    const sy_topology *topo;
    size_t pos; /* the next node; the current is pos - 1 */
    int advances;
    const step_instance *in;
} step_plan;

static int step_create(void *instance, const sy_host *host, const sy_json *config, const char *path,
                       sy_error *err) {
    (void)path;
    (void)err;
    step_instance *s = instance;
    const sy_json *e = host->json_get(config, "error_at");
    s->error_at = e ? (int)host->json_number(e) : -1;
    s->inherit_fails = host->json_type(host->json_get(config, "inherit_fails")) == SY_JSON_TRUE;
    s->serial = ++g_step_serial;
    return SY_OK;
}

static int step_inherit(void *instance, void *previous, sy_error *err) {
    (void)err;
    step_instance *s = instance;
    const step_instance *prev = previous;
    g_inherits++;
    g_inherited_from = prev->serial;
    return s->inherit_fails ? SY_ENOMEM : SY_OK;
}

static void step_destroy(void *instance) { (void)instance; }

static int step_plan_init(void *instance, const void *state, const sy_topology *topology,
                          const sy_request_view *request, void *plan_state, sy_error *err) {
    (void)state;
    (void)request;
    (void)err;
    step_plan *p = plan_state;
    p->topo = topology;
    p->pos = 0;
    p->advances = 0;
    p->in = instance;
    return SY_OK;
}

static int step_plan_advance(void *instance, void *plan_state) {
    (void)instance;
    step_plan *p = plan_state;
    g_advance++;
    if (p->advances++ == p->in->error_at) return SY_ENOROUTE;
    if (p->pos >= p->topo->node_count) return 0;
    p->pos++;
    return 1;
}

static void step_plan_fill(void *instance, void *plan_state, sy_target *target) {
    (void)instance;
    step_plan *p = plan_state;
    g_fill++;
    const sy_node *n = SY_TOPOLOGY_NODE(p->topo, p->pos - 1);
    target->node = n->id;
    target->host = n->host;
    target->port = n->port;
    target->node_index = (uint32_t)(p->pos - 1);
    SY_TARGET_ADD_VIA(target, "tp_step");
}

static int step_plan_next(void *instance, void *plan_state, sy_target *target) {
    (void)instance;
    (void)plan_state;
    (void)target;
    fail_msg("tp_step: a core that has plan_advance and plan_fill never calls plan_next");
    return SY_EINTERNAL;
}

static const sy_plugin kStep = {
    .abi_version = SY_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sy_plugin),
    .name = "tp_step",
    .description = "probe selector: the topology's nodes in order, in two steps",
    .roles = SY_ROLE_SELECTOR,
    .instance_size = sizeof(step_instance),
    .plan_state_size = sizeof(step_plan),
    .create = step_create,
    .destroy = step_destroy,
    .plan_init = step_plan_init,
    .plan_next = step_plan_next,
    .plan_advance = step_plan_advance,
    .plan_fill = step_plan_fill,
    .inherit = step_inherit,
};

/* Half of the pair: refused at registration. */
static const sy_plugin kHalfStep = {
    .abi_version = SY_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sy_plugin),
    .name = "tp_half_step",
    .roles = SY_ROLE_SELECTOR,
    .instance_size = sizeof(step_instance),
    .plan_state_size = sizeof(step_plan),
    .create = step_create,
    .destroy = step_destroy,
    .plan_init = step_plan_init,
    .plan_next = step_plan_next,
    .plan_advance = step_plan_advance,
};

/* ---------------------------------------------------------------- probe translator */

/* {"tag": "a", "refuse": "<node id>"}: host becomes "<tag>-<host>", written
 * into the translator's scratch; the refused node gets an error. */
typedef struct tr_instance {
    char tag[16];
    char refuse[32];
} tr_instance;

static int tr_create(void *instance, const sy_host *host, const sy_json *config, const char *path,
                     sy_error *err) {
    tr_instance *t = instance;
    const char *tag = host->json_string(host->json_get(config, "tag"));
    const char *refuse = host->json_string(host->json_get(config, "refuse"));
    if (!tag || strlen(tag) >= sizeof t->tag) {
        char p[SY_ERROR_PATH_MAX];
        snprintf(p, sizeof p, "%s.tag", path);
        host->set_error(err, SY_ECONFIG, p, "expected a short string");
        return SY_ECONFIG;
    }
    snprintf(t->tag, sizeof t->tag, "%s", tag);
    snprintf(t->refuse, sizeof t->refuse, "%s", refuse ? refuse : "");
    return SY_OK;
}

static int tr_translate(void *instance, const void *state, const sy_topology *topology,
                        const sy_request_view *request, sy_target *target, char *scratch,
                        size_t scratch_size) {
    const tr_instance *t = instance;
    (void)state;
    (void)topology;
    (void)request;
    assert_int_equal(scratch_size, SY_TRANSLATE_SCRATCH);
    if (t->refuse[0] && target->node && strcmp(target->node, t->refuse) == 0) {
        snprintf(scratch, scratch_size, "tp_tr %s: no route for %s", t->tag, target->node);
        target->error = scratch;
        return SY_ETRANSLATE;
    }
    snprintf(scratch, scratch_size, "%s-%s", t->tag, target->host);
    target->host = scratch;
    SY_TARGET_ADD_VIA(target, "tp_tr");
    return SY_OK;
}

static void tr_on_outcome(void *instance, const void *state, const sy_topology *topology,
                          const sy_target *target, const sy_outcome *outcome) {
    (void)state;
    (void)topology;
    (void)instance;
    (void)target;
    (void)outcome;
    g_outcomes_tr++;
}

static void tr_destroy(void *instance) { (void)instance; }

static const sy_plugin kTr = {
    .abi_version = SY_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sy_plugin),
    .name = "tp_tr",
    .description = "probe translator: prefixes the host with a tag",
    .roles = SY_ROLE_TRANSLATOR,
    .instance_size = sizeof(tr_instance),
    .create = tr_create,
    .destroy = tr_destroy,
    .translate = tr_translate,
    .on_outcome = tr_on_outcome,
};

/* ---------------------------------------------------------------- helpers */

static const char *const kTopo3 =
    "{\"nodes\": [{\"id\": \"a\", \"host\": \"10.0.0.1\", \"port\": 1},"
    " {\"id\": \"b\", \"host\": \"10.0.0.2\", \"port\": 2},"
    " {\"id\": \"c\", \"host\": \"10.0.0.3\", \"port\": 3}]}";

static sy_router *router_of(const char *selector, const char *selector_config, const char *translators) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf,
                     "{\"topology\": %s, \"selector\": {\"plugin\": \"%s\", \"config\": %s},"
                     " \"translators\": %s}",
                     kTopo3, selector, selector_config, translators);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_new(buf, (size_t)n, NULL, &r, &err);
    if (rc != SY_OK) fail_msg("sy_router_new: %s: %s: %s", sy_status_name(rc), err.path, err.message);
    return r;
}

static int reload_to(sy_router *r, const char *selector, const char *selector_config, sy_error *err) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "{\"topology\": %s, \"selector\": {\"plugin\": \"%s\", \"config\": %s}}", kTopo3,
                     selector, selector_config);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    return sy_router_reload(r, buf, (size_t)n, NULL, NULL, err);
}

static sy_router *router(const char *selector_config, const char *translators) {
    return router_of("tp_sel", selector_config, translators);
}

static int setup(void **state) {
    (void)state;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_register_plugin(&kSel, &err), SY_OK);
    assert_int_equal(sy_register_plugin(&kTr, &err), SY_OK);
    assert_int_equal(sy_register_plugin(&kStep, &err), SY_OK);
    g_plan_init = g_plan_next = g_attach = g_detach = g_outcomes_sel = g_outcomes_tr = 0;
    g_advance = g_fill = 0;
    return 0;
}

/* ---------------------------------------------------------------- tests */

/* The plan's next target ("a", port 1) into a caller's struct that ends
 * before datacenter: its prefix filled, nothing past it touched. */
static void next_into_old_struct(sy_plan *p) {
    union {
        sy_target t;
        unsigned char bytes[sizeof(sy_target)];
    } u;
    memset(&u, 0x77, sizeof u);
    const uint32_t old_size = (uint32_t)offsetof(sy_target, datacenter);
    u.t.struct_size = old_size;
    assert_int_equal(sy_plan_next(p, &u.t), 1);
    assert_int_equal(u.t.struct_size, old_size);
    assert_string_equal(u.t.node, "a");
    assert_int_equal(u.t.port, 1);
    for (size_t i = old_size; i < sizeof u; i++) assert_int_equal(u.bytes[i], 0x77);
}

static void test_plan_is_lazy(void **state) {
    (void)state;
    sy_router *r = router("{}", "[]");
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    assert_int_equal(g_plan_init, 1);
    assert_int_equal(g_plan_next, 0); /* nothing computed before it is asked for */
    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.node, "a");
    assert_int_equal(g_plan_next, 1);
    sy_plan_release(p); /* the rest is never computed */
    assert_int_equal(g_plan_next, 1);
    sy_request_free(q);
    sy_router_free(r);
}

/* A target need only be 8-byte aligned (a field of a Rust or Go struct):
 * one at 8 mod 16 is filled and, at the end, left as it was. */
static void test_target_aligned_to_8(void **state) {
    (void)state;
    sy_router *r = router("{}", "[]");
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    _Alignas(16) unsigned char buf[sizeof(sy_target) + 16];
    sy_target *t = (sy_target *)(buf + 8);
    sy_target init = SY_STRUCT_INIT(sy_target);
    memcpy(t, &init, sizeof init);
    const char *last = NULL;
    int n = 0;
    while (sy_plan_next(p, t) == 1) {
        assert_non_null(t->node);
        last = t->node;
        n++;
    }
    assert_int_equal(n, 3);
    assert_ptr_equal(t->node, last);
    assert_int_equal(t->struct_size, sizeof(sy_target));
    sy_plan_release(p);
    sy_request_free(q);
    sy_router_free(r);
}

static void test_translators_run_in_order(void **state) {
    (void)state;
    sy_router *r = router("{}", "[{\"plugin\": \"tp_tr\", \"config\": {\"tag\": \"first\"}},"
                                " {\"plugin\": \"tp_tr\", \"config\": {\"tag\": \"second\"}}]");
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    static const char *const hosts[] = {"second-first-10.0.0.1", "second-first-10.0.0.2",
                                        "second-first-10.0.0.3"};
    sy_target t = SY_STRUCT_INIT(sy_target);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sy_plan_next(p, &t), 1);
        assert_string_equal(t.host, hosts[i]);
        assert_int_equal(t.port, (uint32_t)(i + 1));
        assert_int_equal(t.via_count, 3);
        assert_string_equal(t.via[0], "tp_sel");
        assert_string_equal(t.via[1], "tp_tr");
        assert_string_equal(t.via[2], "tp_tr");
        assert_null(t.error);
        assert_int_equal(t.epoch, 1);
        assert_int_equal(t.node_index, (uint32_t)i);
    }
    assert_int_equal(sy_plan_next(p, &t), 0);
    assert_string_equal(t.node, "c"); /* the end leaves *target untouched */
    assert_int_equal(t.via_count, 3);
    assert_string_equal(t.via[2], "tp_tr");
    assert_int_equal(sy_plan_next(p, &t), 0); /* the end is sticky */
    sy_plan_release(p);
    assert_int_equal(sy_plan_next(p, &t), SY_EINVAL); /* released */
    sy_plan_release(p);                               /* twice: no-op */
    sy_request_free(q);
    sy_router_free(r);
}

static void test_untranslatable_target_keeps_its_place(void **state) {
    (void)state;
    sy_router *r = router("{}", "[{\"plugin\": \"tp_tr\", \"config\": {\"tag\": \"x\", \"refuse\": \"b\"}},"
                                " {\"plugin\": \"tp_tr\", \"config\": {\"tag\": \"y\"}}]");
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.host, "y-x-10.0.0.1");
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.node, "b");
    assert_non_null(t.error);
    assert_string_equal(t.error, "tp_tr x: no route for b");
    assert_null(t.host);
    assert_int_equal(t.port, 0);
    assert_int_equal(t.via_count, 1); /* the second translator never saw it */
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.node, "c");
    assert_null(t.error);
    assert_string_equal(t.host, "y-x-10.0.0.3");
    assert_int_equal(sy_plan_next(p, &t), 0);
    sy_plan_release(p);
    sy_request_free(q);
    sy_router_free(r);
}

static void test_storage_rules(void **state) {
    (void)state;
    sy_router *r = router("{}", "[{\"plugin\": \"tp_tr\", \"config\": {\"tag\": \"t\"}}]");
    size_t need = sy_router_plan_size(r);
    assert_true(need > 0);
    assert_true(need <= SY_PLAN_STORAGE_SIZE);
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    static uint64_t buf[SY_PLAN_STORAGE_SIZE / 8 + 2];
    sy_plan *p = NULL;

    assert_int_equal(sy_plan_init(r, q, buf, need - 1, &p, &err), SY_ETOOSMALL);
    assert_null(p);
    char want[64];
    snprintf(want, sizeof want, "needs %zu", need);
    assert_non_null(strstr(err.message, want));

    assert_int_equal(sy_plan_init(r, q, (char *)buf + 4, need, &p, &err), SY_EINVAL);
    assert_non_null(strstr(err.message, "aligned"));
    assert_null(p);

    /* exactly plan_size bytes is enough, and nothing is written past them */
    memset(buf, 0xEE, sizeof buf);
    assert_int_equal(sy_plan_init(r, q, buf, need, &p, &err), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    while (sy_plan_next(p, &t) == 1) {}
    sy_plan_release(p);
    for (size_t i = need; i < sizeof buf; i++) assert_int_equal(((unsigned char *)buf)[i], 0xEE);

    assert_int_equal(sy_plan_init(r, q, NULL, need, &p, &err), SY_EINVAL);
    sy_request_free(q);
    sy_router_free(r);
}

static void test_selector_error_propagates(void **state) {
    (void)state;
    sy_router *r = router("{\"fail\": true}", "[]");
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = (sy_plan *)0x1;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_ENOROUTE);
    assert_ptr_equal(p, (sy_plan *)0x1); /* untouched on failure */
    assert_string_equal(err.message, "tp_sel: asked to fail");
    assert_int_equal(err.code, SY_ENOROUTE);
    sy_request_free(q);
    sy_router_free(r); /* the failed plan released its snapshot: no leak under ASan */
}

/* A plan_init that fails on a snapshot a reload retired meanwhile: its
 * release frees the old chain, and the error is reported without reading
 * it (ASan catches a read of the freed instance). */
static void test_failed_plan_on_retired_snapshot(void **state) {
    (void)state;
    sy_router *r = router("{\"fail\": true}", "[]");
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "{\"topology\": %s, \"selector\": {\"plugin\": \"tp_sel\", \"config\": {}}}", kTopo3);
    g_reload_router = r;
    g_reload_config = cfg;
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_ENOROUTE);
    assert_null(g_reload_router); /* the reload happened inside */
    assert_non_null(strstr(err.message, "asked to fail"));
    assert_int_equal(g_detach, 1); /* the old chain is gone already */
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK); /* the new one plans */
    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(sy_plan_next(p, &t), 1);
    sy_plan_release(p);
    sy_request_free(q);
    sy_router_free(r);
}

/* A plan keeps the snapshot it started on; its per-snapshot state is
 * detached only after the plan ends. */
static void test_plan_keeps_its_snapshot(void **state) {
    (void)state;
    sy_router *r = router("{}", "[]");
    assert_int_equal(g_attach, 1);
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.node, "a");

    const char *topo2 = "{\"nodes\": [{\"id\": \"z\", \"host\": \"10.9.9.9\", \"port\": 9}]}";
    assert_int_equal(sy_router_update_topology_json(r, topo2, strlen(topo2), &err), SY_OK);
    assert_int_equal(sy_router_epoch(r), 2);
    assert_int_equal(g_attach, 2);
    assert_int_equal(g_detach, 0); /* the running plan still uses epoch 1 */

    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.node, "b");
    assert_string_equal(t.host, "10.0.0.2");
    assert_int_equal(t.epoch, 1);
    sy_plan_release(p);

    sy_plan *p2 = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p2, &err), SY_OK);
    assert_int_equal(sy_plan_next(p2, &t), 1);
    assert_string_equal(t.node, "z");
    assert_int_equal(t.epoch, 2);
    assert_int_equal(sy_plan_next(p2, &t), 0);
    sy_plan_release(p2);

    /* epochs 1 and 2 are freed by the next writer (or the router's end) */
    assert_int_equal(sy_router_update_topology_json(r, topo2, strlen(topo2), &err), SY_OK);
    assert_int_equal(g_detach, 2);
    sy_request_free(q);
    sy_router_free(r);
    assert_int_equal(g_detach, g_attach);
}

/* An older caller's smaller sy_target is filled only as far as it reaches. */
static void test_old_target_struct(void **state) {
    (void)state;
    sy_router *r = router("{}", "[]");
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    next_into_old_struct(p);
    /* too small to hold even the port: refused */
    sy_target small = SY_STRUCT_INIT(sy_target);
    small.struct_size = (uint32_t)offsetof(sy_target, port);
    assert_int_equal(sy_plan_next(p, &small), SY_EINVAL);
    sy_plan_release(p);
    sy_request_free(q);
    sy_router_free(r);
}

/* A selector in two steps: each target is filled once, through the
 * translators; the end and an error leave the caller's target exactly as
 * it was (nothing was touched, so nothing is given back). */
static void test_two_step_selector(void **state) {
    (void)state;
    sy_router *r = router_of("tp_step", "{}", "[{\"plugin\": \"tp_tr\", \"config\": {\"tag\": \"t\"}}]");
    sy_request *q = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    sy_target t = SY_STRUCT_INIT(sy_target);
    t.flags = 0xff00; /* a fresh target each time: the caller's flags do not leak in */
    static const char *const hosts[] = {"t-10.0.0.1", "t-10.0.0.2", "t-10.0.0.3"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sy_plan_next(p, &t), 1);
        assert_string_equal(t.host, hosts[i]);
        assert_int_equal(t.node_index, (uint32_t)i);
        assert_int_equal(t.flags, 0);
        assert_int_equal(t.via_count, 2);
        assert_string_equal(t.via[0], "tp_step");
        assert_null(t.via_detail[0]);
        assert_int_equal(t.epoch, 1);
        assert_int_equal(t.struct_size, sizeof(sy_target));
    }
    assert_int_equal(g_fill, 3);
    sy_target before = t;
    assert_int_equal(sy_plan_next(p, &t), 0);
    assert_memory_equal(&t, &before, sizeof t);
    assert_int_equal(sy_plan_next(p, &t), 0); /* sticky, and the selector is not asked again */
    assert_int_equal(g_advance, 4);
    assert_int_equal(g_fill, 3);
    sy_plan_release(p);
    sy_request_free(q);
    sy_router_free(r);

    r = router_of("tp_step", "{\"error_at\": 1}", "[]");
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.node, "a");
    before = t;
    assert_int_equal(sy_plan_next(p, &t), SY_ENOROUTE);
    assert_memory_equal(&t, &before, sizeof t); /* untouched on failure */
    assert_int_equal(sy_plan_next(p, &t), 0);
    sy_plan_release(p);

    /* an older caller's smaller struct: its prefix, nothing past it */
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    next_into_old_struct(p);
    sy_plan_release(p);
    sy_request_free(q);
    sy_router_free(r);

    /* one of the pair without the other is refused */
    assert_int_equal(sy_register_plugin(&kHalfStep, &err), SY_EPLUGIN);
    assert_non_null(strstr(err.message, "only one of plan_advance and plan_fill"));
}

/* A reload that changes a plugin's config makes a new instance, which
 * inherits from the one it replaces; a kept instance inherits nothing; a
 * failed inherit refuses the reload and the old configuration serves on. */
static void test_reload_inherits(void **state) {
    (void)state;
    g_step_serial = g_inherits = g_inherited_from = 0;
    sy_router *r = router_of("tp_step", "{}", "[]");
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(g_inherits, 0); /* a new router: nothing to inherit from */
    assert_int_equal(reload_to(r, "tp_step", "{\"error_at\": 9}", &err), SY_OK);
    assert_int_equal(g_inherits, 1);
    assert_int_equal(g_inherited_from, 1);
    assert_int_equal(g_step_serial, 2);
    assert_int_equal(reload_to(r, "tp_step", "{\"error_at\": 9}", &err), SY_OK); /* unchanged: kept */
    assert_int_equal(g_inherits, 1);
    assert_int_equal(g_step_serial, 2);
    assert_int_equal(reload_to(r, "tp_sel", "{}", &err), SY_OK); /* another plugin: nothing to inherit */
    assert_int_equal(g_inherits, 1);
    assert_int_equal(reload_to(r, "tp_step", "{}", &err), SY_OK);
    assert_int_equal(g_inherits, 1); /* the previous selector was tp_sel */
    assert_int_equal(reload_to(r, "tp_step", "{\"inherit_fails\": true}", &err), SY_ENOMEM);
    assert_int_equal(g_inherits, 2);
    assert_non_null(strstr(err.message, "inherit"));
    sy_request *q = NULL;
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK); /* the old one serves */
    sy_target t = SY_STRUCT_INIT(sy_target);
    assert_int_equal(sy_plan_next(p, &t), 1);
    assert_string_equal(t.via[0], "tp_step");
    sy_plan_release(p);
    sy_request_free(q);
    sy_router_free(r);
}

static void test_outcomes_reach_every_plugin(void **state) {
    (void)state;
    sy_router *r = router("{}", "[{\"plugin\": \"tp_tr\", \"config\": {\"tag\": \"t\"}}]");
    sy_target t = SY_STRUCT_INIT(sy_target);
    t.node = "a";
    sy_outcome o = SY_STRUCT_INIT(sy_outcome);
    o.kind = SY_OUTCOME_TIMEOUT;
    o.latency_ns = 1500000;
    assert_int_equal(sy_router_report(r, &t, &o), SY_OK);
    assert_int_equal(g_outcomes_sel, 1);
    assert_int_equal(g_outcomes_tr, 1);
    assert_int_equal(g_last_outcome_kind, SY_OUTCOME_TIMEOUT);

    o.kind = SY_OUTCOME_OTHER_ERROR + 1; /* unknown kind */
    assert_int_equal(sy_router_report(r, &t, &o), SY_EINVAL);
    o.kind = SY_OUTCOME_SUCCESS;
    o.struct_size = 4;
    assert_int_equal(sy_router_report(r, &t, &o), SY_EINVAL);
    assert_int_equal(sy_router_report(r, NULL, &o), SY_EINVAL);
    assert_int_equal(g_outcomes_sel, 1);
    sy_router_free(r);
}

static uint64_t fake_clock(void *user_data) { return *(const uint64_t *)user_data; }

/* A router's clock is the caller's when given: plugins' time comes from it. */
static void test_fake_clock_reaches_plugins(void **state) {
    (void)state;
    uint64_t now = 123456789;
    sy_router_options o = SY_STRUCT_INIT(sy_router_options);
    o.clock_ns = fake_clock;
    o.clock_user_data = &now;
    const char *json = "{\"selector\": {\"plugin\": \"tp_sel\"}}";
    sy_router *r = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(sy_router_new(json, strlen(json), &o, &r, &err), SY_OK);
    sy_request *q = NULL;
    assert_int_equal(sy_request_new(r, &q, &err), SY_OK);
    sy_plan_storage st;
    sy_plan *p = NULL;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    sy_plan_release(p);
    assert_true(g_plan_clock == 123456789);
    now += 5000;
    assert_int_equal(sy_plan_init(r, q, &st, sizeof st, &p, &err), SY_OK);
    sy_plan_release(p);
    assert_true(g_plan_clock == 123461789);
    sy_request_free(q);
    sy_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_plan_is_lazy, setup),
        cmocka_unit_test_setup(test_target_aligned_to_8, setup),
        cmocka_unit_test_setup(test_translators_run_in_order, setup),
        cmocka_unit_test_setup(test_untranslatable_target_keeps_its_place, setup),
        cmocka_unit_test_setup(test_storage_rules, setup),
        cmocka_unit_test_setup(test_selector_error_propagates, setup),
        cmocka_unit_test_setup(test_failed_plan_on_retired_snapshot, setup),
        cmocka_unit_test_setup(test_plan_keeps_its_snapshot, setup),
        cmocka_unit_test_setup(test_old_target_struct, setup),
        cmocka_unit_test_setup(test_two_step_selector, setup),
        cmocka_unit_test_setup(test_reload_inherits, setup),
        cmocka_unit_test_setup(test_outcomes_reach_every_plugin, setup),
        cmocka_unit_test_setup(test_fake_clock_reaches_plugins, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
