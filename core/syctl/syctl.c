/*
 * syctl: the command table, argument parsing and usage.
 *
 * Adding a command is one function (see syctl.h) and one row in `commands`;
 * a row whose `run` is NULL parses its arguments and then says it is not
 * available in this build.
 */
#include "syctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Option bits: which options a command accepts and requires. */
enum {
    OPT_CONFIG = 1u << 0,
    OPT_REQUEST = 1u << 1,
    OPT_JSON = 1u << 2,
    OPT_LIMIT = 1u << 3,
    OPT_TEMPLATE = 1u << 4,
    OPT_VERBOSE = 1u << 5,
    OPT_HELP = 1u << 6,
    OPT_RELOAD = 1u << 7
};

typedef struct syctl_option {
    char short_name; /* 0: long only */
    const char *long_name;
    unsigned bit;
    const char *value; /* name of its value in messages; NULL: a flag */
} syctl_option;

static const syctl_option options[] = {
    { 'c', "config", OPT_CONFIG, "CONFIG" },
    { 'r', "request", OPT_REQUEST, "REQUEST" },
    { 0, "json", OPT_JSON, NULL },
    { 0, "limit", OPT_LIMIT, "N" },
    { 0, "reload", OPT_RELOAD, "CONFIG2" },
    { 't', "template", OPT_TEMPLATE, "TEMPLATE" },
    { 'v', "verbose", OPT_VERBOSE, NULL },
    { 'h', "help", OPT_HELP, NULL },
};

typedef struct syctl_command {
    const char *name;
    const char *synopsis; /* after "syctl NAME " */
    const char *summary;
    unsigned accepts;  /* OPT_* */
    unsigned requires; /* OPT_* */
    int (*run)(const syctl_args *args);
    const char *needs; /* with run == NULL: what this build lacks */
} syctl_command;

static const syctl_command commands[] = {
    { "plan", "-c CONFIG -r REQUEST|- [--json] [--limit N] [--reload CONFIG2]",
      "print the plan for a request: its targets, in order",
      OPT_CONFIG | OPT_REQUEST | OPT_JSON | OPT_LIMIT | OPT_RELOAD | OPT_VERBOSE,
      OPT_CONFIG | OPT_REQUEST,
      syctl_cmd_plan, NULL },
    { "check", "-c CONFIG", "validate a config and its plugins, printing every error",
      OPT_CONFIG | OPT_VERBOSE, OPT_CONFIG, syctl_cmd_check, NULL },
    { "connect", "-c CONFIG -r REQUEST|- [--json]",
      "connect along the plan, printing every attempt and the one that succeeded",
      OPT_CONFIG | OPT_REQUEST | OPT_JSON | OPT_VERBOSE, OPT_CONFIG | OPT_REQUEST,
      syctl_cmd_connect, NULL },
    { "template", "-c CONFIG -r REQUEST|- [-t TEMPLATE]",
      "show what a template routes to, without connecting",
      OPT_CONFIG | OPT_REQUEST | OPT_TEMPLATE | OPT_VERBOSE, OPT_CONFIG | OPT_REQUEST,
      syctl_cmd_template, NULL },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void print_command_usage(FILE *f, const syctl_command *cmd) {
    fprintf(f, "usage: syctl %s %s\n", cmd->name, cmd->synopsis);
    fprintf(f, "       %s\n", cmd->summary);
}

static void print_usage(FILE *f) {
    fputs("usage: syctl COMMAND [OPTIONS]\n"
          "       syctl help [COMMAND] | --help | --version\n"
          "\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < COUNT(commands); i++) {
        fprintf(f, "  %s %s\n", commands[i].name, commands[i].synopsis);
        fprintf(f, "      %s%s\n", commands[i].summary,
                commands[i].run ? "" : " (not in this build)");
    }
    fputs("\n"
          "options:\n"
          "  -c, --config FILE         the router config (JSON); \"-\" reads stdin\n"
          "  -r, --request FILE        the request (JSON); \"-\" reads stdin\n"
          "      --json                print JSON instead of text\n"
          "      --limit N             stop after N targets\n"
          "      --reload CONFIG2      plan, reload CONFIG2 into the same router, plan again\n"
          "  -t, --template TEMPLATE   a template to use instead of the config's (text, or @FILE)\n"
          "  -v, --verbose             log what plugins say (repeat for more)\n"
          "  -h, --help                print this help\n"
          "      --version             print the versions of syctl and libswitchyard\n"
          "\n"
          "exit status: 0 success, 1 no route, 2 bad usage, config or request\n",
          f);
}

static void print_version(void) {
    printf("syctl %s (libswitchyard %s, ABI %u)\n", SY_VERSION_STRING, sy_version_string(),
           (unsigned)sy_abi_version());
}

static const syctl_command *find_command(const char *name) {
    for (size_t i = 0; i < COUNT(commands); i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

#if defined(__GNUC__)
#define SYCTL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SYCTL_PRINTF(f, a)
#endif

/* A usage error: message, then the command's usage (or the whole usage). */
SYCTL_PRINTF(2, 3) static int usage_error(const syctl_command *cmd, const char *fmt, ...) {
    va_list ap;
    fputs("syctl: ", stderr);
    if (cmd) fprintf(stderr, "%s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd)
        print_command_usage(stderr, cmd);
    else
        print_usage(stderr);
    return SYCTL_EXIT_BAD;
}

static int parse_limit(const syctl_command *cmd, const char *text, size_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long n = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    if (!end || *end || errno || n == 0 || (size_t)n != n)
        return usage_error(cmd, "--limit: expected a positive integer, got '%s'", text);
    *out = (size_t)n;
    return SYCTL_EXIT_OK;
}

/* Stores one option's value; returns an exit code (OK to go on). */
static int set_option(const syctl_command *cmd, const syctl_option *opt, const char *value,
                      unsigned *seen, syctl_args *args) {
    if (!(cmd->accepts & opt->bit) && opt->bit != OPT_HELP)
        return usage_error(cmd, "option '--%s' is not valid for this command", opt->long_name);
    if ((*seen & opt->bit) && opt->bit != OPT_VERBOSE)
        return usage_error(cmd, "option '--%s' given twice", opt->long_name);
    *seen |= opt->bit;
    switch (opt->bit) {
    case OPT_CONFIG: args->config = value; break;
    case OPT_REQUEST: args->request = value; break;
    case OPT_TEMPLATE: args->template_name = value; break;
    case OPT_JSON: args->json = 1; break;
    case OPT_VERBOSE: args->verbose++; break;
    case OPT_LIMIT: return parse_limit(cmd, value, &args->limit);
    case OPT_RELOAD: args->reload = value; break;
    default: break;
    }
    return SYCTL_EXIT_OK;
}

static const syctl_option *find_long(const char *name, size_t len) {
    for (size_t i = 0; i < COUNT(options); i++)
        if (strlen(options[i].long_name) == len && strncmp(options[i].long_name, name, len) == 0)
            return &options[i];
    return NULL;
}

static const syctl_option *find_short(char c) {
    for (size_t i = 0; i < COUNT(options); i++)
        if (options[i].short_name && options[i].short_name == c) return &options[i];
    return NULL;
}

/* Parses argv[first..argc) into args: `--name VALUE`, `--name=VALUE`,
 * `-x VALUE`, `-xVALUE` and bundled flags (`-vv`). Returns an exit code;
 * *help is set when -h was given. */
static int parse_options(const syctl_command *cmd, int argc, char **argv, int first,
                         syctl_args *args, int *help) {
    unsigned seen = 0;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == 0 || strcmp(arg, "--") == 0)
            return usage_error(cmd, "unexpected argument '%s'", arg);
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            const syctl_option *opt = find_long(name, eq ? (size_t)(eq - name) : strlen(name));
            if (!opt) return usage_error(cmd, "unknown option '%s'", arg);
            const char *value = NULL;
            if (opt->value) {
                if (eq)
                    value = eq + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else
                    return usage_error(cmd, "option '%s' needs a value", arg);
            } else if (eq) {
                return usage_error(cmd, "option '%s' takes no value", arg);
            }
            int rc = set_option(cmd, opt, value, &seen, args);
            if (rc != SYCTL_EXIT_OK) return rc;
            continue;
        }
        for (const char *c = arg + 1; *c; c++) {
            const syctl_option *opt = find_short(*c);
            if (!opt) return usage_error(cmd, "unknown option '%s'", arg);
            const char *value = NULL;
            if (opt->value) {
                if (c[1])
                    value = c + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else
                    return usage_error(cmd, "option '%s' needs a value", arg);
            }
            int rc = set_option(cmd, opt, value, &seen, args);
            if (rc != SYCTL_EXIT_OK) return rc;
            if (opt->value) break;
        }
    }
    *help = (seen & OPT_HELP) != 0;
    if (*help) return SYCTL_EXIT_OK;
    if ((cmd->requires & OPT_CONFIG) && !args->config)
        return usage_error(cmd, "missing %s", "-c CONFIG");
    if ((cmd->requires & OPT_REQUEST) && !args->request)
        return usage_error(cmd, "missing %s", "-r REQUEST");
    if (args->config && args->request && strcmp(args->config, "-") == 0 &&
        strcmp(args->request, "-") == 0)
        return usage_error(cmd, "%s", "-c and -r cannot both read stdin");
    if (args->reload && strcmp(args->reload, "-") == 0 &&
        ((args->config && strcmp(args->config, "-") == 0) ||
         (args->request && strcmp(args->request, "-") == 0)))
        return usage_error(cmd, "%s", "only one of -c, -r and --reload can read stdin");
    return SYCTL_EXIT_OK;
}

static int cmd_help(int argc, char **argv) {
    if (argc <= 2) {
        print_usage(stdout);
        return SYCTL_EXIT_OK;
    }
    if (argc > 3) return usage_error(NULL, "help: unexpected argument '%s'", argv[3]);
    const syctl_command *cmd = find_command(argv[2]);
    if (!cmd) return usage_error(NULL, "help: unknown command '%s'", argv[2]);
    print_command_usage(stdout, cmd);
    return SYCTL_EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage_error(NULL, "%s", "missing command");
    const char *name = argv[1];
    if (strcmp(name, "help") == 0) return cmd_help(argc, argv);
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        print_usage(stdout);
        return SYCTL_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        print_version();
        return SYCTL_EXIT_OK;
    }
    const syctl_command *cmd = find_command(name);
    if (!cmd) return usage_error(NULL, "unknown command '%s'", name);

    syctl_args args = { .command = cmd->name };
    int help = 0;
    int rc = parse_options(cmd, argc, argv, 2, &args, &help);
    if (rc != SYCTL_EXIT_OK) return rc;
    if (help) {
        print_command_usage(stdout, cmd);
        return SYCTL_EXIT_OK;
    }
    if (!cmd->run) {
        fprintf(stderr, "syctl: '%s' is not available in this build (needs %s)\n", cmd->name,
                cmd->needs);
        return SYCTL_EXIT_BAD;
    }
    rc = cmd->run(&args);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "syctl: cannot write the output: %s\n", strerror(errno));
        return SYCTL_EXIT_BAD;
    }
    return rc;
}
