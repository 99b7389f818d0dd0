/*
 * Read/write splitting over a real PostgreSQL primary and streaming replica
 * (started by run.sh): template_routes picks the server, libpq connects to
 * the url of the planned target, and pg_is_in_recovery() proves where the
 * request landed.
 *
 *   pg_split CONFIG
 *
 * Queries go to the replica; mutations and queries with the header
 * "no-stale-read: true" go to the primary. Exit 0 when every request
 * landed where it should.
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>
#include <switchyard/switchyard.h>

static const struct {
    const char *what;
    const char *request;
    int want_recovery; /* 1: the replica, 0: the primary */
} kRequests[] = {
    {"query", "{\"context\": {\"headers\": {}, \"session\": {\"x-hasura-role\": \"user\"},"
              " \"query\": {\"operation_type\": \"query\", \"operation_name\": \"ListOrders\"}}}", 1},
    {"mutation", "{\"context\": {\"headers\": {}, \"session\": {\"x-hasura-role\": \"user\"},"
                 " \"query\": {\"operation_type\": \"mutation\", \"operation_name\": \"AddOrder\"}}}", 0},
    {"query, no-stale-read", "{\"context\": {\"headers\": {\"No-Stale-Read\": \"true\"}, \"session\": {},"
                             " \"query\": {\"operation_type\": \"query\"}}}", 0},
};

/* Plans request and connects to its first target; returns pg_is_in_recovery()
 * (0 or 1), or -1. */
static int land(sy_router *router, const char *request, char *node, size_t node_size) {
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_request *req = NULL;
    if (sy_request_new(router, &req, &err) != SY_OK ||
        sy_request_parse_json(req, request, strlen(request), &err) != SY_OK) {
        fprintf(stderr, "request: %s: %s\n", err.path, err.message);
        sy_request_free(req);
        return -1;
    }
    sy_plan_storage storage;
    sy_plan *plan = NULL;
    int rc = sy_plan_init(router, req, &storage, sizeof storage, &plan, &err);
    if (rc != SY_OK) {
        fprintf(stderr, "plan: %s: %s\n", sy_status_name(rc), err.message);
        sy_request_free(req);
        return -1;
    }
    int result = -1;
    sy_target t = SY_STRUCT_INIT(sy_target);
    if (sy_plan_next(plan, &t) == 1 && t.url) {
        snprintf(node, node_size, "%s (%s:%u)", t.node, t.host, t.port);
        PGconn *conn = PQconnectdb(t.url);
        if (PQstatus(conn) != CONNECTION_OK) {
            fprintf(stderr, "connect %s: %s", t.url, PQerrorMessage(conn));
        } else {
            PGresult *res = PQexec(conn, "SELECT pg_is_in_recovery()");
            if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
                result = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
            else
                fprintf(stderr, "query: %s", PQerrorMessage(conn));
            PQclear(res);
        }
        PQfinish(conn);
    } else {
        fprintf(stderr, "the plan has no target with a url\n");
    }
    sy_plan_release(plan);
    sy_request_free(req);
    return result;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pg_split CONFIG\n");
        return 2;
    }
    sy_router *router = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    if (sy_router_new_from_file(argv[1], NULL, &router, &err) != SY_OK) {
        fprintf(stderr, "%s: %s: %s\n", argv[1], err.path, err.message);
        return 2;
    }
    int bad = 0;
    for (size_t i = 0; i < sizeof kRequests / sizeof kRequests[0]; i++) {
        char node[128] = "?";
        int recovery = land(router, kRequests[i].request, node, sizeof node);
        int ok = recovery == kRequests[i].want_recovery;
        printf("%-22s -> %-28s pg_is_in_recovery() = %s  %s\n", kRequests[i].what, node,
               recovery < 0 ? "?" : recovery ? "true (replica)" : "false (primary)", ok ? "ok" : "WRONG SERVER");
        bad += !ok;
    }
    sy_router_free(router);
    return bad ? 1 : 0;
}
