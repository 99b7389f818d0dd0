/*
 * syctl template: what a template_routes template routes a request to,
 * without planning or connecting (contract: {"routing_to", "value"}; we add
 * "yielded", what the template gave). -t gives a template to try instead
 * of the config's: its text, or @FILE.
 */
#include "syctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <switchyard/template_routes.h>

int syctl_cmd_template(const syctl_args *args) {
    sy_router *router = syctl_load_router(args);
    if (!router) return SYCTL_EXIT_BAD;
    int code = SYCTL_EXIT_BAD;
    char *request = NULL, *tfile = NULL;
    size_t request_len = 0, tlen = 0;
    const char *ttext = args->template_name;
    const sy_template_routes_test *t = NULL;
    void *inst = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_router_get_interface(router, "template_routes", SY_TEMPLATE_ROUTES_TEST,
                                     SY_TEMPLATE_ROUTES_TEST_VERSION, (const void **)&t, &inst, &err);
    if (rc != SY_OK) {
        fprintf(stderr, "syctl: %s: the config has no template_routes: %s\n", syctl_file_name(args->config),
                err.message);
        goto out;
    }
    if (syctl_read_file(args->request, &request, &request_len) != 0) goto out;
    if (ttext && ttext[0] == '@') {
        if (syctl_read_file(ttext + 1, &tfile, &tlen) != 0) goto out;
        ttext = tfile;
    } else if (ttext) {
        tlen = strlen(ttext);
    }
    char buf[8192];
    size_t need = 0;
    rc = t->resolve(inst, request, request_len, ttext, tlen, buf, sizeof buf, &need, &err);
    if (rc != SY_OK) {
        syctl_print_error(ttext && rc == SY_ECONFIG ? "-t" : syctl_file_name(args->request), &err, rc);
        code = rc == SY_ENOROUTE ? SYCTL_EXIT_NOROUTE : SYCTL_EXIT_BAD;
        goto out;
    }
    cJSON *doc = cJSON_Parse(buf);
    char *text = doc ? cJSON_Print(doc) : NULL;
    fputs(text ? text : buf, stdout);
    putchar('\n');
    cJSON_free(text);
    cJSON_Delete(doc);
    code = SYCTL_EXIT_OK;
out:
    free(request);
    free(tfile);
    sy_router_free(router);
    return code;
}
