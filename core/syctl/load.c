/*
 * syctl: reading files, loading the router and the request, and the one
 * shape of error message: `syctl: FILE: PATH: MESSAGE`.
 */
#include "syctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *syctl_file_name(const char *path) {
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

void syctl_print_error(const char *file, const sy_error *err, int code) {
    const char *message = err && err->message[0] ? err->message : sy_status_str(code);
    fputs("syctl: ", stderr);
    if (file && file[0]) fprintf(stderr, "%s: ", file);
    if (err && err->path[0]) fprintf(stderr, "%s: ", err->path);
    fprintf(stderr, "%s\n", message);
}

int syctl_read_file(const char *path, char **text, size_t *len) {
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "syctl: %s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int error = buf ? 0 : ENOMEM;
    while (!error) {
        if (cap - n < 2) {
            char *bigger = cap <= (size_t)-1 / 2 ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                error = ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) error = errno ? errno : EIO;
            break;
        }
    }
    if (!is_stdin) fclose(f);
    if (error) {
        fprintf(stderr, "syctl: %s: cannot read: %s\n", syctl_file_name(path), strerror(error));
        free(buf);
        return -1;
    }
    buf[n] = 0;
    *text = buf;
    *len = n;
    return 0;
}

static void log_to_stderr(uint32_t level, const char *source, const char *message,
                          void *user_data) {
    static const char *const names[] = { "log", "error", "warning", "info", "debug", "trace" };
    (void)user_data;
    fprintf(stderr, "syctl: %s: %s: %s\n", level < 6 ? names[level] : names[0],
            source ? source : "?", message ? message : "");
}

void syctl_router_options(const syctl_args *args, sy_router_options *opts, char *dir,
                          size_t dir_size) {
    /* The config's directory: relative plugin_path entries are tried there. */
    const char *path = strcmp(args->config, "-") == 0 ? "" : args->config;
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, dir_size, ".");
    else if (slash == path)
        snprintf(dir, dir_size, "/");
    else
        snprintf(dir, dir_size, "%.*s", (int)(slash - path), path);

    *opts = SY_STRUCT_INIT(sy_router_options);
    opts->log = log_to_stderr;
    opts->log_level = SY_LOG_WARN + (uint32_t)(args->verbose < 3 ? args->verbose : 3);
    opts->base_dir = dir;
}

sy_router *syctl_load_router(const syctl_args *args) {
    char dir[4096];
    if (strlen(args->config) >= sizeof dir) {
        fprintf(stderr, "syctl: %s: path too long\n", args->config);
        return NULL;
    }
    sy_router_options opts;
    syctl_router_options(args, &opts, dir, sizeof dir);

    sy_router *router = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc;
    if (strcmp(args->config, "-") == 0) {
        char *text = NULL;
        size_t len = 0;
        if (syctl_read_file(args->config, &text, &len) != 0) return NULL;
        rc = sy_router_new(text, len, &opts, &router, &err);
        free(text);
    } else {
        /* The same message as for a request that cannot be read. */
        FILE *f = fopen(args->config, "rb");
        int readable = f && (fgetc(f) != EOF || !ferror(f));
        int error = errno;
        if (f) fclose(f);
        if (!readable) {
            fprintf(stderr, "syctl: %s: cannot read: %s\n", args->config, strerror(error));
            return NULL;
        }
        rc = sy_router_new_from_file(args->config, &opts, &router, &err);
    }
    if (rc != SY_OK) {
        syctl_print_error(syctl_file_name(args->config), &err, rc);
        return NULL;
    }
    return router;
}

static sy_request *load_request(const syctl_args *args, sy_router *router) {
    char *text = NULL;
    size_t len = 0;
    if (syctl_read_file(args->request, &text, &len) != 0) return NULL;

    sy_request *req = NULL;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = sy_request_new(router, &req, &err);
    if (rc == SY_OK) {
        rc = sy_request_parse_json(req, text, len, &err);
        if (rc != SY_OK) {
            sy_request_free(req);
            req = NULL;
        }
    }
    free(text);
    if (rc != SY_OK) syctl_print_error(syctl_file_name(args->request), &err, rc);
    return req;
}

int syctl_load(const syctl_args *args, sy_router **router, sy_request **req) {
    *req = NULL;
    if (!(*router = syctl_load_router(args))) return -1;
    if ((*req = load_request(args, *router))) return 0;
    sy_router_free(*router);
    *router = NULL;
    return -1;
}
