/*
 * template_routes' test interface: what a template routes a request to,
 * without planning or connecting (Hasura's pg_test_connection_template).
 *
 *   const sy_template_routes_test *t; void *inst;
 *   sy_router_get_interface(router, "template_routes", SY_TEMPLATE_ROUTES_TEST,
 *                           SY_TEMPLATE_ROUTES_TEST_VERSION, (const void **)&t, &inst, &err);
 */
#ifndef SWITCHYARD_TEMPLATE_ROUTES_H
#define SWITCHYARD_TEMPLATE_ROUTES_H

#include <switchyard/switchyard.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SY_TEMPLATE_ROUTES_TEST "template_routes.test"
#define SY_TEMPLATE_ROUTES_TEST_VERSION 1

typedef struct sy_template_routes_test {
    uint32_t struct_size;
    uint32_t version;
    /* Resolves request_json (a request as in the contract; only its
     * "context" is read) with the configured template, or with
     * template_text when it is not NULL (compiled and checked like the
     * config's, then dropped). On success writes, NUL-terminated, at most cap
     * bytes of {"routing_to": "primary"|"read_replicas"|"default"|
     * "connection_set", "value": <member name or null>, "yielded": <what the
     * template yielded>} and sets *out_len to the full length (SY_ETOOSMALL
     * when it did not fit). A template that fails is SY_ECONFIG (compiling)
     * or SY_EREQUEST (evaluating), with the Kriti error kind, message and
     * span (line 0-based, columns 1-based) in err. Thread-safe. */
    int (*resolve)(void *instance, const char *request_json, size_t len, const char *template_text,
                   size_t template_len, char *out, size_t cap, size_t *out_len, sy_error *err);
} sy_template_routes_test;

#ifdef __cplusplus
}
#endif
#endif
