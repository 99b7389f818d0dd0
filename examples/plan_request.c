/*
 * plan_request: ask a router which endpoints serve one request, in order.
 *
 *   plan_request [CONFIG] [TIMES]
 *
 * CONFIG defaults to examples/demo/cluster.json; TIMES (default 1) plans the
 * same request that many times, e.g. to watch round robin move on.
 * Exit status: 0 on success, 1 on any error (printed on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchyard/switchyard.h>

static int fail(const char *what, int rc, const sy_error *err) {
    fprintf(stderr, "plan_request: %s: %s", what, sy_status_str(rc));
    if (err && err->message[0])
        fprintf(stderr, ": %s%s%s", err->path, err->path[0] ? ": " : "", err->message);
    fputc('\n', stderr);
    return 1;
}

int main(int argc, char **argv) {
    const char *config = argc > 1 ? argv[1] : "examples/demo/cluster.json";
    int times = argc > 2 ? atoi(argv[2]) : 1;
    sy_error err = SY_STRUCT_INIT(sy_error);
    sy_router *router = NULL;
    sy_request *req = NULL;
    int rc, status = 0;

    /* One router per config: share it between threads, keep it for the process. */
    if ((rc = sy_router_new_from_file(config, NULL, &router, &err)) != SY_OK)
        return fail(config, rc, &err);
    /* One request per caller: reuse it with sy_request_clear(). */
    if ((rc = sy_request_new(router, &req, &err)) != SY_OK ||
        (rc = sy_request_set_key(req, "user:42", strlen("user:42"))) != SY_OK ||
        (rc = sy_request_set_keyspace(req, "shop")) != SY_OK) {
        status = fail("building the request", rc, &err);
        goto done;
    }

    for (int n = 1; n <= times; n++) {
        sy_plan_storage storage; /* the plan lives here: no heap allocation */
        sy_plan *plan = NULL;
        sy_target t = SY_STRUCT_INIT(sy_target);
        if ((rc = sy_plan_init(router, req, &storage, sizeof storage, &plan, &err)) != SY_OK) {
            status = fail("sy_plan_init", rc, &err);
            goto done;
        }
        printf("plan %d:\n", n);
        for (int i = 1; (rc = sy_plan_next(plan, &t)) == 1; i++) {
            if (t.error)
                printf("  %d. %-8s error: %s", i, t.node, t.error);
            else
                printf("  %d. %-8s %s:%u", i, t.node, t.host, (unsigned)t.port);
            for (uint32_t v = 0; v < t.via_count; v++)
                printf("%s%s", v ? " > " : "  via ", t.via[v]);
            putchar('\n');
        }
        sy_plan_release(plan);
        if (rc < 0) {
            status = fail("sy_plan_next", rc, NULL);
            goto done;
        }
    }

done:
    sy_request_free(req);
    sy_router_free(router);
    return status;
}
