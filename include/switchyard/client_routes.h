/*
 * client_routes' table interface: feed the rows of system.client_routes
 * (ScyllaDB Cloud PrivateLink / PSC) into a running router.
 *
 *   const sy_client_routes_table *t; void *inst;
 *   sy_router_get_interface(router, "client_routes", SY_CLIENT_ROUTES_TABLE,
 *                           SY_CLIENT_ROUTES_TABLE_VERSION, (const void **)&t, &inst, &err);
 *
 * A row is {"connection_id", "host_id" (a UUID), "address", "port",
 * "tls_port"}; rows of connection ids the config does not name are ignored.
 * Each change publishes a new snapshot: plans never block. With the config's
 * "drain_on_change": true, a change that moves a node to another endpoint
 * (host or port), or drops it, drains the node's old endpoint in the
 * router's connector (sy_host version 3): idle pooled connections to it
 * close, and those in use close at sy_conn_release.
 */
#ifndef SWITCHYARD_CLIENT_ROUTES_H
#define SWITCHYARD_CLIENT_ROUTES_H

#include <switchyard/switchyard.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SY_CLIENT_ROUTES_TABLE "client_routes.table"
#define SY_CLIENT_ROUTES_TABLE_VERSION 1

typedef struct sy_client_routes_table {
    uint32_t struct_size;
    uint32_t version;
    /* A full refresh: rows_json is a JSON array of rows; hosts absent from
     * it are dropped. A node keeps its connection id while that id still
     * has a row for it. */
    int (*replace_all)(void *instance, const char *rows_json, size_t len, sy_error *err);
    /* A CLIENT_ROUTES_CHANGE event: {"change": "UPDATE_NODES",
     * "connection_ids": [...], "host_ids": [...], "rows": [...]} with the
     * two id lists parallel (pair i) and rows the ones re-read for exactly
     * those pairs. A pair with a row is created or updated; a pair without
     * one is deleted, and only that pair. Mismatched lists: SY_EREQUEST. */
    int (*apply_event)(void *instance, const char *event_json, size_t len, sy_error *err);
    /* The current table as a JSON array of rows, each with "sticky": true on
     * the connection id its host uses. Writes at most cap bytes
     * (NUL-terminated) and sets *out_len to the full length; SY_ETOOSMALL
     * when it did not fit. */
    int (*list)(void *instance, char *out, size_t cap, size_t *out_len, sy_error *err);
} sy_client_routes_table;

#ifdef __cplusplus
}
#endif
#endif
