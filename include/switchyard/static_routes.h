/*
 * static_routes' table interface: change and inspect a running router's
 * routing table. Look it up with
 *
 *   const sy_static_routes_table *t; void *inst;
 *   sy_router_get_interface(router, "static_routes", SY_STATIC_ROUTES_TABLE,
 *                           SY_STATIC_ROUTES_TABLE_VERSION, (const void **)&t, &inst, &err);
 *
 * and pass inst back as each method's first argument. Every change publishes
 * a new snapshot: plans already started finish on the table they began with,
 * new plans see the change; no plan ever blocks on or sees half a change.
 * Methods are thread-safe (changes are serialised).
 */
#ifndef SWITCHYARD_STATIC_ROUTES_H
#define SWITCHYARD_STATIC_ROUTES_H

#include <switchyard/switchyard.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SY_STATIC_ROUTES_TABLE "static_routes.table"
#define SY_STATIC_ROUTES_TABLE_VERSION 1

enum sy_route_kind {
    SY_ROUTE_STATIC = 1, /* an element of the config's "routes" */
    SY_ROUTE_PROXY = 2   /* an element of the config's "proxy_routes" */
};

/* A route as a visitor sees it; valid during the callback only. */
typedef struct sy_route_info {
    uint32_t struct_size;
    uint32_t kind;     /* enum sy_route_kind */
    const char *pattern;
    int32_t weight;
    uint32_t position; /* place in the lookup order of its kind, from 0 */
    const char *json;  /* the route as a config element, normalised */
} sy_route_info;

/* Return 0 to go on, anything else to stop (the method returns SY_OK). */
typedef int (*sy_route_visit_fn)(const sy_route_info *route, void *user_data);

typedef struct sy_static_routes_table {
    uint32_t struct_size;
    uint32_t version;
    /* Adds a route given as JSON text, one element of "routes" or
     * "proxy_routes" (kind). SY_ETAKEN if a route of that kind has the same
     * pattern text (the old one is kept); SY_ECONFIG with PCRE2's message and
     * offset for a bad pattern, or naming the bad field. */
    int (*add)(void *instance, uint32_t kind, const char *route_json, size_t len, sy_error *err);
    /* Removes the route of that kind whose pattern text is exactly pattern;
     * SY_EUNKNOWN if there is none. */
    int (*remove)(void *instance, uint32_t kind, const char *pattern, sy_error *err);
    /* Visits every route (static, then proxy) that matches name, in lookup
     * order (weight, higher first; equal weights in insertion order);
     * SY_ENOROUTE if none matches. */
    int (*query)(void *instance, const char *name, sy_route_visit_fn visit, void *user_data,
                 sy_error *err);
    /* Visits every route, static then proxy, in lookup order. */
    int (*list)(void *instance, sy_route_visit_fn visit, void *user_data, sy_error *err);
} sy_static_routes_table;

#ifdef __cplusplus
}
#endif
#endif
