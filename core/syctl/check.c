/*
 * syctl check: validates a config and its plugins, printing every error the
 * core reports as `syctl: FILE: PATH: MESSAGE (STATUS_NAME)`; `ok` when valid.
 */
#include "syctl.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct check_state {
    const char *file;
    size_t errors;
} check_state;

static void report(const sy_error *err, void *user_data) {
    check_state *state = user_data;
    state->errors++;
    fprintf(stderr, "syctl: %s: ", state->file);
    if (err->path[0]) fprintf(stderr, "%s: ", err->path);
    fprintf(stderr, "%s (%s)\n", err->message[0] ? err->message : sy_status_str(err->code),
            sy_status_name(err->code));
}

int syctl_cmd_check(const syctl_args *args) {
    char *text = NULL;
    size_t len = 0;
    if (syctl_read_file(args->config, &text, &len) != 0) return SYCTL_EXIT_BAD;

    char dir[4096];
    sy_router_options opts;
    syctl_router_options(args, &opts, dir, sizeof dir);
    check_state state = { syctl_file_name(args->config), 0 };
    int rc = sy_config_check(text, len, &opts, report, &state);
    free(text);

    if (rc == SY_OK && state.errors == 0) {
        puts("ok");
        return SYCTL_EXIT_OK;
    }
    if (state.errors == 0)
        fprintf(stderr, "syctl: %s: %s (%s)\n", state.file, sy_status_str(rc), sy_status_name(rc));
    return SYCTL_EXIT_BAD;
}
