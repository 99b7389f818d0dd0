/*
 * syctl connect: connects along the plan (sy_router_connect) and prints
 * every attempt (target, outcome, elapsed) and the one that connected. The
 * connection is closed at once: this is a reachability check.
 */
#include "syctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define MAX_ATTEMPTS 64

static const char *outcome_name(const sy_attempt *a) {
    if (a->flags & SY_ATTEMPT_SKIPPED) return "skipped";
    switch (a->outcome) {
    case SY_OUTCOME_SUCCESS: return "connected";
    case SY_OUTCOME_TIMEOUT: return "timeout";
    case SY_OUTCOME_REFUSED: return "refused";
    case SY_OUTCOME_RESET: return "reset";
    case SY_OUTCOME_TLS_ERROR: return "tls_error";
    case SY_OUTCOME_RESOLVE_ERROR: return "resolve_error";
    case SY_OUTCOME_OVERLOADED: return "overloaded";
    default: return "error";
    }
}

static cJSON *attempt_json(const sy_attempt *a) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "node", a->node);
    if (a->host[0]) cJSON_AddStringToObject(o, "host", a->host);
    else cJSON_AddNullToObject(o, "host");
    if (a->port) cJSON_AddNumberToObject(o, "port", a->port);
    else cJSON_AddNullToObject(o, "port");
    cJSON_AddBoolToObject(o, "tls", (a->flags & SY_ATTEMPT_TLS) != 0);
    cJSON_AddStringToObject(o, "outcome", outcome_name(a));
    cJSON_AddStringToObject(o, "status", sy_status_name(a->status));
    cJSON_AddNumberToObject(o, "elapsed_ms", (double)a->elapsed_ns / 1e6);
    if (a->message[0]) cJSON_AddStringToObject(o, "error", a->message);
    if (a->proxy_count) cJSON_AddNumberToObject(o, "proxy_hops", a->proxy_count);
    if (a->flags & SY_ATTEMPT_POOLED) cJSON_AddBoolToObject(o, "pooled", 1);
    if (a->flags & SY_ATTEMPT_CIRCUIT_OPEN) cJSON_AddStringToObject(o, "circuit", "open");
    if (a->flags & SY_ATTEMPT_PROBE) cJSON_AddStringToObject(o, "circuit", "half_open");
    return o;
}

int syctl_cmd_connect(const syctl_args *args) {
    sy_router *router = NULL;
    sy_request *req = NULL;
    if (syctl_load(args, &router, &req) != 0) return SYCTL_EXIT_BAD;
    sy_attempt *attempts = calloc(MAX_ATTEMPTS, sizeof *attempts);
    sy_connect_result res = SY_STRUCT_INIT(sy_connect_result);
    res.attempts = attempts;
    res.attempt_cap = attempts ? MAX_ATTEMPTS : 0;
    sy_conn *conn = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_connect(router, req, NULL, &conn, &res, &err);
    size_t shown = res.attempt_count < res.attempt_cap ? res.attempt_count : res.attempt_cap;
    sy_conn_info info = SY_STRUCT_INIT(sy_conn_info);
    if (conn) sy_conn_get_info(conn, &info);

    if (args->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(doc, "attempts");
        for (size_t i = 0; i < shown; i++) cJSON_AddItemToArray(arr, attempt_json(&attempts[i]));
        if (conn) {
            cJSON *c = cJSON_AddObjectToObject(doc, "connected");
            cJSON_AddStringToObject(c, "node", info.node);
            cJSON_AddStringToObject(c, "host", info.host);
            cJSON_AddNumberToObject(c, "port", info.port);
            cJSON_AddStringToObject(c, "peer", info.peer);
            cJSON_AddBoolToObject(c, "tls", info.tls != 0);
            if (info.tls_version) cJSON_AddStringToObject(c, "tls_version", info.tls_version);
            if (info.proxy_count) cJSON_AddNumberToObject(c, "proxy_hops", info.proxy_count);
        } else {
            cJSON_AddNullToObject(doc, "connected");
            cJSON_AddStringToObject(doc, "status", sy_status_name(rc));
            cJSON_AddStringToObject(doc, "error", err.message);
        }
        char *text = cJSON_Print(doc);
        if (text) puts(text);
        cJSON_free(text);
        cJSON_Delete(doc);
    } else {
        for (size_t i = 0; i < shown; i++) {
            const sy_attempt *a = &attempts[i];
            printf("attempt %zu: %s %s:%u%s  %s  %.3f ms%s%s\n", i + 1, a->node[0] ? a->node : "-",
                   a->host[0] ? a->host : "-", a->port, (a->flags & SY_ATTEMPT_TLS) ? " (tls)" : "",
                   outcome_name(a), (double)a->elapsed_ns / 1e6, a->message[0] ? "  " : "",
                   a->message);
        }
        if (conn)
            printf("connected: %s %s:%u via %s%s%s\n", info.node, info.host, info.port, info.peer,
                   info.tls_version ? " " : "", info.tls_version ? info.tls_version : "");
    }
    int code = SYCTL_EXIT_OK;
    if (!conn) {
        if (!args->json || rc == SY_EREQUEST || rc == SY_EINVAL) syctl_print_error(NULL, &err, rc);
        code = rc == SY_EREQUEST || rc == SY_EINVAL || rc == SY_ECONFIG ? SYCTL_EXIT_BAD
                                                                        : SYCTL_EXIT_NOROUTE;
    }
    sy_conn_close(conn);
    free(attempts);
    sy_request_free(req);
    sy_router_free(router);
    return code;
}
