/*
 * syctl plan: the targets of a request's plan, in order, as text lines or as
 * one JSON array (contract: DESIGN.md "The command-line tool syctl").
 */
#include "syctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* ---------------------------------------------------------------- text */

static const char *or_dash(const char *s) { return s && s[0] ? s : "-"; }

static void print_text(size_t index, const sy_target *t) {
    printf("%zu  %s  ", index, or_dash(t->node));
    if (t->error) {
        printf("error: %s", t->error);
    } else {
        char shard[16] = "-", weight[16] = "-";
        if (t->flags & SY_TARGET_HAS_SHARD) snprintf(shard, sizeof shard, "%d", (int)t->shard);
        if (t->flags & SY_TARGET_HAS_WEIGHT)
            snprintf(weight, sizeof weight, "%d", (int)t->weight);
        if (t->host && t->port)
            printf(strchr(t->host, ':') ? "[%s]:%u" : "%s:%u", t->host, (unsigned)t->port);
        else
            fputs(or_dash(t->host), stdout);
        printf("  dc=%s rack=%s shard=%s weight=%s tls=%s", or_dash(t->datacenter),
               or_dash(t->rack), shard, weight, (t->flags & SY_TARGET_TLS) ? "yes" : "no");
        if (t->url) printf(" url=%s", t->url);
        if (t->flags & SY_TARGET_REPLICA) fputs(" replica", stdout);
        if (t->flags & SY_TARGET_DOWN) fputs(" down", stdout);
    }
    uint32_t via = t->via_count < SY_VIA_MAX ? t->via_count : SY_VIA_MAX;
    for (uint32_t i = 0; i < via; i++)
        printf("%s%s", i ? " > " : "  via ", or_dash(t->via[i]));
    putchar('\n');
}

/* ---------------------------------------------------------------- JSON */

static int add_string(cJSON *obj, const char *key, const char *s) {
    return (s ? cJSON_AddStringToObject(obj, key, s) : cJSON_AddNullToObject(obj, key)) != NULL;
}

static int add_number(cJSON *obj, const char *key, int present, double n) {
    return (present ? cJSON_AddNumberToObject(obj, key, n) : cJSON_AddNullToObject(obj, key)) !=
           NULL;
}

/* A via entry: the plugin's name, or {"plugin": name, ...what it used}
 * when the plugin described it. */
static cJSON *via_entry(const char *plugin, const char *detail) {
    cJSON *d = detail ? cJSON_Parse(detail) : NULL;
    if (!cJSON_IsObject(d)) {
        cJSON_Delete(d);
        return cJSON_CreateString(plugin ? plugin : "");
    }
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "plugin", plugin ? plugin : "") != NULL;
    while (ok && d->child) {
        cJSON *m = cJSON_DetachItemViaPointer(d, d->child);
        if (!cJSON_AddItemToObject(o, m->string, m)) {
            cJSON_Delete(m);
            ok = 0;
        }
    }
    cJSON_Delete(d);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int add_profile(cJSON *obj, const sy_tls_profile *p) {
    cJSON *o = cJSON_AddObjectToObject(obj, "tls_profile");
    return o && add_string(o, "ca_file", p->ca_file) && add_string(o, "ca_dir", p->ca_dir) &&
           add_string(o, "cert_file", p->cert_file) && add_string(o, "key_file", p->key_file) &&
           add_string(o, "server_name", p->server_name) &&
           cJSON_AddBoolToObject(o, "insecure_skip_verify", p->insecure_skip_verify != 0);
}

static int add_proxies(cJSON *obj, const sy_proxy_hop *hops, uint32_t count) {
    cJSON *a = cJSON_AddArrayToObject(obj, "proxies");
    int ok = a != NULL;
    for (uint32_t i = 0; ok && i < count; i++) {
        const sy_proxy_hop *h = &hops[i];
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(a, o);
        if (!ok) {
            cJSON_Delete(o);
            break;
        }
        ok = add_string(o, "node", h->node) && add_string(o, "host", h->host) &&
             add_number(o, "port", h->host != NULL && h->port, h->port) &&
             add_string(o, "protocol", h->protocol == SY_PROXY_SOCKS5 ? "socks5" : "http_connect") &&
             cJSON_AddBoolToObject(o, "tls", h->tls != 0) != NULL &&
             (!h->cookie || add_string(o, "cookie", h->cookie));
    }
    return ok;
}

/* Appends one target to array; 0 when out of memory. */
static int add_json(cJSON *array, const sy_target *t) {
    cJSON *obj = cJSON_CreateObject();
    if (!obj) return 0;
    if (!cJSON_AddItemToArray(array, obj)) {
        cJSON_Delete(obj);
        return 0;
    }
    int reachable = t->error == NULL;
    int ok = add_string(obj, "node", t->node);
    ok = ok && add_string(obj, "host", reachable ? t->host : NULL);
    ok = ok && add_number(obj, "port", reachable && t->port, t->port);
    ok = ok && add_number(obj, "shard", (t->flags & SY_TARGET_HAS_SHARD) != 0, t->shard);
    ok = ok && add_string(obj, "datacenter", t->datacenter);
    ok = ok && add_string(obj, "rack", t->rack);
    ok = ok && add_number(obj, "weight", (t->flags & SY_TARGET_HAS_WEIGHT) != 0, t->weight);
    ok = ok && cJSON_AddBoolToObject(obj, "tls", (t->flags & SY_TARGET_TLS) != 0);
    ok = ok && cJSON_AddBoolToObject(obj, "replica", (t->flags & SY_TARGET_REPLICA) != 0);
    ok = ok && cJSON_AddBoolToObject(obj, "down", (t->flags & SY_TARGET_DOWN) != 0);
    ok = ok && add_string(obj, "url", t->url);
    cJSON *via = ok ? cJSON_AddArrayToObject(obj, "via") : NULL;
    ok = via != NULL;
    uint32_t count = t->via_count < SY_VIA_MAX ? t->via_count : SY_VIA_MAX;
    for (uint32_t i = 0; ok && i < count; i++) {
        cJSON *entry = via_entry(t->via[i], t->via_detail[i]);
        ok = entry && cJSON_AddItemToArray(via, entry);
        if (!ok) cJSON_Delete(entry);
    }
    if (ok && t->cookie) ok = add_string(obj, "cookie", t->cookie);
    if (ok && t->tls_profile) ok = add_profile(obj, t->tls_profile);
    if (ok && t->flag_name_count) {
        cJSON *flags = cJSON_AddArrayToObject(obj, "flags");
        ok = flags != NULL;
        for (uint32_t i = 0; ok && i < t->flag_name_count; i++) {
            cJSON *f = cJSON_CreateString(t->flag_names[i]);
            ok = f && cJSON_AddItemToArray(flags, f);
            if (!ok) cJSON_Delete(f);
        }
    }
    if (ok && t->log_level >= SY_LOG_ERROR && t->log_level <= SY_LOG_TRACE) {
        static const char *const levels[] = {"", "error", "warn", "info", "debug", "trace"};
        ok = add_string(obj, "log_level", levels[t->log_level]);
    }
    if (ok && t->proxy_count) ok = add_proxies(obj, t->proxies, t->proxy_count);
    if (ok && t->error) ok = add_string(obj, "error", t->error);
    return ok;
}

static int print_json(const cJSON *array) {
    char *text = cJSON_Print(array);
    if (!text) return 0;
    fputs(text, stdout);
    putchar('\n');
    cJSON_free(text);
    return 1;
}

/* ---------------------------------------------------------------- plan */

/* Iterates the plan into stdout (text) or array (JSON); returns an exit code. */
static int walk(const syctl_args *args, sy_plan *plan, cJSON *array) {
    const char *file = syctl_file_name(args->request);
    size_t count = 0;
    while (args->limit == 0 || count < args->limit) {
        sy_target target = SY_STRUCT_INIT(sy_target);
        int rc = sy_plan_next(plan, &target);
        if (rc == 0) break;
        if (rc < 0) {
            if (rc == SY_ENOROUTE && count == 0) break;
            fprintf(stderr, "syctl: %s: target %zu: %s (%s)\n", file, count + 1,
                    sy_status_str(rc), sy_status_name(rc));
            return SYCTL_EXIT_BAD;
        }
        count++;
        if (!array) {
            print_text(count, &target);
        } else if (!add_json(array, &target)) {
            fprintf(stderr, "syctl: %s\n", sy_status_str(SY_ENOMEM));
            return SYCTL_EXIT_BAD;
        }
    }
    if (count == 0) {
        fprintf(stderr, "syctl: %s: no route: the plan has no target\n", file);
        return SYCTL_EXIT_NOROUTE;
    }
    return SYCTL_EXIT_OK;
}

static int run(const syctl_args *args, sy_router *router, const sy_request *req,
               cJSON *array) {
    sy_plan_storage local;
    void *storage = &local;
    size_t size = sizeof local;
    void *heap = NULL;
    size_t need = sy_router_plan_size(router);
    if (need > size) {
        heap = malloc(need);
        if (!heap) {
            fprintf(stderr, "syctl: %s\n", sy_status_str(SY_ENOMEM));
            return SYCTL_EXIT_BAD;
        }
        storage = heap;
        size = need;
    }

    sy_plan *plan = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_plan_init(router, req, storage, size, &plan, &err);
    int code;
    if (rc != SY_OK) {
        syctl_print_error(syctl_file_name(args->request), &err, rc);
        code = rc == SY_ENOROUTE ? SYCTL_EXIT_NOROUTE : SYCTL_EXIT_BAD;
    } else {
        code = walk(args, plan, array);
        sy_plan_release(plan);
    }
    free(heap);
    return code;
}

/* Reports each error of a refused reload as `syctl: FILE: PATH: MESSAGE`. */
static void print_reload_error(const sy_error *err, void *user_data) {
    syctl_print_error(syctl_file_name(user_data), err, err->code);
}

/* --reload: the second config into the same router, as an application's
 * sy_router_reload would. Returns an exit code. */
static int reload(const syctl_args *args, sy_router *router) {
    char *text = NULL;
    size_t len = 0;
    if (syctl_read_file(args->reload, &text, &len) != 0) return SYCTL_EXIT_BAD;
    int rc = sy_router_reload(router, text, len, print_reload_error, (void *)args->reload, NULL);
    free(text);
    if (rc != SY_OK) {
        fprintf(stderr, "syctl: %s: reload refused (%s): the first config still serves\n",
                syctl_file_name(args->reload), sy_status_name(rc));
        return SYCTL_EXIT_BAD;
    }
    return SYCTL_EXIT_OK;
}

/* Plans into a fresh array (JSON) or stdout (text). */
static int plan_once(const syctl_args *args, sy_router *router, const sy_request *req,
                     cJSON **array) {
    if (args->json && !(*array = cJSON_CreateArray())) {
        fprintf(stderr, "syctl: %s\n", sy_status_str(SY_ENOMEM));
        return SYCTL_EXIT_BAD;
    }
    return run(args, router, req, *array);
}

int syctl_cmd_plan(const syctl_args *args) {
    sy_router *router = NULL;
    sy_request *req = NULL;
    if (syctl_load(args, &router, &req) != 0) return SYCTL_EXIT_BAD;

    cJSON *before = NULL, *after = NULL, *out = NULL;
    if (args->reload && !args->json)
        printf("# before: %s (epoch %llu)\n", syctl_file_name(args->config),
               (unsigned long long)sy_router_epoch(router));
    int code = plan_once(args, router, req, &before);
    if (args->reload && code != SYCTL_EXIT_BAD) {
        /* Both plans print; the exit code is the second's: it is the preview. */
        fflush(stdout);
        code = reload(args, router);
        if (code == SYCTL_EXIT_OK) {
            if (!args->json)
                printf("# after reload: %s (epoch %llu)\n", syctl_file_name(args->reload),
                       (unsigned long long)sy_router_epoch(router));
            code = plan_once(args, router, req, &after);
        }
    }
    out = before;
    if (args->json && args->reload) {
        /* {"before": [...], "after": [...]}: one document, as without --reload */
        out = code == SYCTL_EXIT_OK || code == SYCTL_EXIT_NOROUTE ? cJSON_CreateObject() : NULL;
        if (out && (!cJSON_AddItemToObject(out, "before", before) || (before = NULL) ||
                    !cJSON_AddItemToObject(out, "after", after) || (after = NULL))) {
            cJSON_Delete(out);
            out = NULL;
        }
        if (!out && (code == SYCTL_EXIT_OK || code == SYCTL_EXIT_NOROUTE)) {
            fprintf(stderr, "syctl: %s\n", sy_status_str(SY_ENOMEM));
            code = SYCTL_EXIT_BAD;
        }
    }
    /* JSON: the whole document or nothing; an empty array when there is no route. */
    if (out && (code == SYCTL_EXIT_OK || code == SYCTL_EXIT_NOROUTE) && !print_json(out)) {
        fprintf(stderr, "syctl: %s\n", sy_status_str(SY_ENOMEM));
        code = SYCTL_EXIT_BAD;
    }

    if (out != before) cJSON_Delete(out);
    cJSON_Delete(before);
    cJSON_Delete(after);
    sy_request_free(req);
    sy_router_free(router);
    return code;
}
