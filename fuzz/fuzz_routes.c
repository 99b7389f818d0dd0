/*
 * Fuzz target: static_routes' patterns against names.
 *
 * The input is lines: the first says how to build the table ('u' anywhere in
 * it: unanchored), then patterns up to an empty line, then names. Each
 * pattern becomes a route (weight = its line number % 3, port = 1000 + its
 * index), loaded from the config and, in a second router, added one by one
 * through the table interface. It checks that
 *  - a bad pattern is a config error carrying PCRE2's offset, the same
 *    through the config and through add (which keeps the table unchanged);
 *  - each name plans, without allocating, exactly the routes an
 *    independent PCRE2 match says match it, heavier first and in insertion
 *    order among equals (skipped for a name a pattern hits its limit on);
 *  - query() agrees with the plan; a repeat plan (from the cache) agrees
 *    with the first; removing a route removes it from the next plan;
 *  - everything allocated is freed.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/static_routes.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROUTES 24
#define MAX_NAMES 8
#define MAX_LINE 200

struct input {
    int anchored;
    char patterns[MAX_ROUTES][MAX_LINE + 1];
    size_t npat;
    char names[MAX_NAMES][MAX_LINE + 1];
    size_t nnames;
};

static void split(const uint8_t *data, size_t size, struct input *in) {
    memset(in, 0, sizeof *in);
    in->anchored = 1;
    size_t line = 0, start = 0;
    int in_names = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n') continue;
        size_t n = i - start;
        const char *s = (const char *)data + start;
        start = i + 1;
        if (line++ == 0) {
            in->anchored = memchr(s, 'u', n) == NULL;
            continue;
        }
        if (n == 0 && !in_names) {
            in_names = 1;
            continue;
        }
        if (n == 0 || n > MAX_LINE || memchr(s, 0, n)) continue;
        if (!in_names && in->npat < MAX_ROUTES) memcpy(in->patterns[in->npat++], s, n);
        else if (in_names && in->nnames < MAX_NAMES) memcpy(in->names[in->nnames++], s, n);
    }
}

/* s as the inside of a JSON string. */
static size_t escape(char *out, size_t cap, const char *s) {
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = 0;
    return n;
}

static size_t route_json(char *out, size_t cap, const char *pattern, size_t i) {
    char esc[MAX_LINE * 6 + 1];
    escape(esc, sizeof esc, pattern);
    return (size_t)snprintf(out, cap, "{\"pattern\": \"%s\", \"weight\": %zu, \"host\": \"10.0.0.1\", \"port\": %zu}",
                            esc, (i + 1) % 3, 1000 + i);
}

/* What an independent match says: route indices in plan order, or -1 when
 * a pattern fails on the name (a limit). */
static int expected(const struct input *in, const int *ok, const char *name, size_t *out) {
    size_t n = 0;
    for (int w = 2; w >= 0; w--) {
        for (size_t i = 0; i < in->npat; i++) {
            if (!ok[i] || (int)((i + 1) % 3) != w) continue;
            int ec;
            PCRE2_SIZE eo;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)in->patterns[i], PCRE2_ZERO_TERMINATED,
                                           in->anchored ? PCRE2_ANCHORED | PCRE2_ENDANCHORED : 0, &ec, &eo, NULL);
            if (!re) syf_fail("pattern %zu compiled in the router but not here", i);
            pcre2_match_data *md = pcre2_match_data_create(1, NULL);
            pcre2_match_context *mc = pcre2_match_context_create(NULL);
            pcre2_set_match_limit(mc, 100000);
            pcre2_set_depth_limit(mc, 1000);
            int rc = pcre2_match(re, (PCRE2_SPTR)name, strlen(name), 0, 0, md, mc);
            pcre2_match_context_free(mc);
            pcre2_match_data_free(md);
            pcre2_code_free(re);
            if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) return -1;
            if (rc >= 0) out[n++] = i;
        }
    }
    return (int)n;
}

/* Plans name; fills ports[] with the targets' ports. Returns the count or a
 * negative status. */
static int plan_ports(sy_router *r, const char *name, uint32_t *ports) {
    sy_request *req = NULL;
    sy_error err = {.struct_size = sizeof err};
    if (sy_request_new(r, &req, &err) != SY_OK || sy_request_set_node(req, name) != SY_OK)
        syf_fail("request setup failed");
    int n = syf_plan(r, req); /* checks: no allocation, no node twice... */
    if (n > 0) {
        sy_plan_storage st;
        sy_plan *p;
        if (sy_plan_init(r, req, &st, sizeof st, &p, &err) != SY_OK) syf_fail("second plan_init failed");
        sy_target t = SY_STRUCT_INIT(sy_target);
        int k = 0;
        while (sy_plan_next(p, &t) == 1 && k < MAX_ROUTES) ports[k++] = t.port;
        sy_plan_release(p);
        if (k != n) syf_fail("a repeat plan of '%s' has %d targets, the first had %d", name, k, n);
    }
    sy_request_free(req);
    return n;
}

static int count_visit(const sy_route_info *ri, void *ud) {
    (void)ri;
    ++*(int *)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > SYF_MAX_INPUT) return 0;
    syf_init();
    syf_begin(data, size);
    static struct input in;
    split(data, size, &in);

    /* the config router, with every pattern */
    static char cfg[MAX_ROUTES * (MAX_LINE * 6 + 128) + 256];
    size_t n = (size_t)snprintf(cfg, sizeof cfg, "{\"selector\": {\"plugin\": \"static_routes\", \"config\": "
                                                 "{\"anchored\": %s, \"routes\": [", in.anchored ? "true" : "false");
    for (size_t i = 0; i < in.npat; i++) {
        if (i) cfg[n++] = ',';
        n += route_json(cfg + n, sizeof cfg - n, in.patterns[i], i);
    }
    n += (size_t)snprintf(cfg + n, sizeof cfg - n, "]}}}");
    sy_router *whole = NULL;
    sy_error err = {.struct_size = sizeof err};
    int whole_rc = sy_router_new(cfg, n, syf_options(), &whole, &err);
    if (whole_rc != SY_OK) syf_check_error("sy_router_new", whole_rc, &err);

    /* the API router: routes added one at a time; bad ones refused */
    char empty[96];
    int en = snprintf(empty, sizeof empty, "{\"selector\": {\"plugin\": \"static_routes\", \"config\": {\"anchored\": %s}}}",
                      in.anchored ? "true" : "false");
    sy_router *api = NULL;
    if (sy_router_new(empty, (size_t)en, syf_options(), &api, &err) != SY_OK)
        syf_fail("empty static_routes router: %s", err.message);
    const sy_static_routes_table *tb;
    void *inst;
    if (sy_router_get_interface(api, "static_routes", SY_STATIC_ROUTES_TABLE, 1, (const void **)&tb, &inst, &err))
        syf_fail("no table interface: %s", err.message);
    int ok[MAX_ROUTES];
    int all_ok = 1;
    for (size_t i = 0; i < in.npat; i++) {
        char rj[MAX_LINE * 6 + 128];
        size_t rn = route_json(rj, sizeof rj, in.patterns[i], i);
        int rc = tb->add(inst, SY_ROUTE_STATIC, rj, rn, &err);
        ok[i] = rc == SY_OK;
        if (rc != SY_OK) {
            syf_check_error("add", rc, &err);
            if (rc != SY_ETAKEN && rc != SY_ECONFIG) syf_fail("add: unexpected %s: %s", sy_status_name(rc), err.message);
            if (rc == SY_ECONFIG && !strstr(err.message, "PCRE2 error at offset"))
                syf_fail("a refused pattern without PCRE2's reason: %s", err.message);
            all_ok = 0;
        }
    }
    /* the config takes exactly what add takes (duplicates aside) */
    if ((whole_rc == SY_OK) != all_ok) {
        int dup_only = 1;
        for (size_t i = 0; i < in.npat; i++)
            if (!ok[i]) {
                int seen = 0;
                for (size_t j = 0; j < i; j++) seen |= strcmp(in.patterns[i], in.patterns[j]) == 0;
                dup_only &= seen;
            }
        if (!dup_only || whole_rc == SY_OK)
            syf_fail("config says %s, add accepted %s", sy_status_name(whole_rc), all_ok ? "all" : "not all");
    }

    int removed = 0;
    for (size_t k = 0; k < in.nnames; k++) {
        const char *name = in.names[k];
        size_t want[MAX_ROUTES];
        int nw = expected(&in, ok, name, want);
        uint32_t ports[MAX_ROUTES];
        int got = plan_ports(api, name, ports);
        /* a limit (here or in the JIT): reported, never a hang */
        if (nw < 0 || got == SY_ELIMIT) continue;
        if (got == SY_ENOROUTE) got = 0;
        if (got != nw) syf_fail("'%s': %d targets planned, %d routes match", name, got, nw);
        for (int i = 0; i < got; i++)
            if (ports[i] != 1000 + want[i])
                syf_fail("'%s': target %d is route %u, expected route %zu", name, i, ports[i] - 1000, want[i]);
        int visits = 0;
        int qrc = tb->query(inst, name, count_visit, &visits, &err);
        if (visits != nw || (nw == 0) != (qrc == SY_ENOROUTE))
            syf_fail("'%s': query visited %d (%s), %d match", name, visits, sy_status_name(qrc), nw);
        if (whole_rc == SY_OK && !removed) { /* same tables until the first remove */
            uint32_t wp[MAX_ROUTES];
            int wg = plan_ports(whole, name, wp);
            if (wg == SY_ENOROUTE) wg = 0;
            if (wg != got || memcmp(wp, ports, (size_t)got * sizeof *ports) != 0)
                syf_fail("'%s': the config router plans %d targets, the API router %d", name, wg, got);
        }
        /* removing the first match takes it out of the next plan */
        if (got > 0) {
            if (tb->remove(inst, SY_ROUTE_STATIC, in.patterns[want[0]], &err) != SY_OK)
                syf_fail("remove '%s': %s", in.patterns[want[0]], err.message);
            ok[want[0]] = 0;
            removed = 1;
            int again = plan_ports(api, name, ports);
            if (again == SY_ENOROUTE) again = 0;
            if (again != got - 1) syf_fail("'%s': %d targets after removing one of %d", name, again, got);
        }
    }
    sy_router_free(api);
    sy_router_free(whole);
    syf_end();
    return 0;
}
