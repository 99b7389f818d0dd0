/*
 * syctl: the command-line tool (see DESIGN.md "The command-line tool syctl").
 *
 * Shared between its files; it uses only the public <switchyard/switchyard.h>.
 *  - syctl.c: the command table, argument parsing, usage, main();
 *  - load.c:  reading files, loading the router and the request, messages;
 *  - plan.c:  `syctl plan`;
 *  - check.c: `syctl check`;
 *  - template.c: `syctl template`;
 *  - connect.c: `syctl connect`.
 * A command is one function `int syctl_cmd_X(const syctl_args *)` returning an
 * exit code, plus one row in the table of syctl.c.
 */
#ifndef SYCTL_H
#define SYCTL_H

#include <stddef.h>

#include <switchyard/switchyard.h>

/* Exit codes (contract). */
enum syctl_exit {
    SYCTL_EXIT_OK = 0,
    SYCTL_EXIT_NOROUTE = 1, /* the plan has no target at all */
    SYCTL_EXIT_BAD = 2      /* bad usage, config or request */
};

/* The options of every command; a command accepts a subset (see syctl.c). */
typedef struct syctl_args {
    const char *command;
    const char *config;   /* -c FILE ("-": stdin) */
    const char *request;  /* -r FILE ("-": stdin) */
    const char *template_name; /* -t TEMPLATE */
    int json;             /* --json */
    size_t limit;         /* --limit N; 0: every target */
    int verbose;          /* -v, repeatable: raises the log level */
    const char *reload;   /* --reload FILE (plan): a second config to reload into the router */
} syctl_args;

/* Commands. */
int syctl_cmd_plan(const syctl_args *args);
int syctl_cmd_check(const syctl_args *args);
int syctl_cmd_template(const syctl_args *args);
int syctl_cmd_connect(const syctl_args *args);

/* ---- load.c */

/* The name a file goes by in messages ("<stdin>" for "-"). */
const char *syctl_file_name(const char *path);

/* Reads a whole file ("-": stdin) into a NUL-terminated heap buffer.
 * On failure prints `syctl: FILE: cannot read: REASON` and returns -1. */
int syctl_read_file(const char *path, char **text, size_t *len);

/* Router options for a config file: base_dir is the file's directory, log
 * messages go to stderr. dir is caller storage for base_dir. */
void syctl_router_options(const syctl_args *args, sy_router_options *opts, char *dir,
                          size_t dir_size);

/* Loads the router of args->config; prints the error and returns NULL on failure. */
sy_router *syctl_load_router(const syctl_args *args);

/* Loads the router of args->config and parses args->request for it; prints
 * the error and returns -1 (both NULL) on failure, 0 on success. */
int syctl_load(const syctl_args *args, sy_router **router, sy_request **req);

/* Prints `syctl: FILE: PATH: MESSAGE` (FILE and PATH left out when NULL or
 * empty; the code's text when the message is empty). */
void syctl_print_error(const char *file, const sy_error *err, int code);

#endif
