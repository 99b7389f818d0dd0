/*
 * Corpus replay without libFuzzer: feeds every file named on the command line
 * (directories are walked recursively, in sorted order) to the harness's
 * LLVMFuzzerTestOneInput and prints TAP.
 *
 * Each input sits in its own malloc of exactly its size, so ASan reports a
 * read one byte past the end. An alarm bounds each input; a crash or timeout
 * names the input on stderr. Exit status: 0 when every input passed.
 *
 *   fuzz_config_replay fuzz/corpus/fuzz_config crash-1234
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a harness, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_TIMEOUT_DEFAULT 10u

struct file_list {
    char **paths;
    size_t count;
    size_t cap;
};

static const char *volatile current_input = "(none)";

static void write_str(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

/* Async-signal-safe: names the input, then dies of the same signal. */
static void on_fatal_signal(int sig)
{
    write_str(sig == SIGALRM ? "\nreplay: timeout on input " : "\nreplay: crashed on input ");
    write_str((const char *)current_input);
    write_str("\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

static int list_add(struct file_list *l, const char *path)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->paths, cap * sizeof *p);
        if (!p) return -1;
        l->paths = p;
        l->cap = cap;
    }
    l->paths[l->count] = strdup(path);
    if (!l->paths[l->count]) return -1;
    l->count++;
    return 0;
}

/* Adds path, or every regular file below it. Hidden entries are skipped. */
static int collect(struct file_list *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) return list_add(l, path);
    DIR *dir = opendir(path);
    if (!dir) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        size_t n = strlen(path) + 1 + strlen(e->d_name) + 1;
        char *child = malloc(n);
        if (!child) {
            rc = -1;
            break;
        }
        snprintf(child, n, "%s/%s", path, e->d_name);
        rc = collect(l, child);
        free(child);
    }
    closedir(dir);
    return rc;
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a whole file into a malloc of exactly its size (1 byte if empty). */
static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc(len > 0 ? (size_t)len : 1);
        if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    if (buf) *size = (size_t)len;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n"
                        "Runs the fuzz target on each input (TAP on stdout).\n"
                        "Env: SY_FUZZ_TIMEOUT seconds per input (default %u).\n",
                argv[0], REPLAY_TIMEOUT_DEFAULT);
        return 2;
    }
    unsigned timeout = REPLAY_TIMEOUT_DEFAULT;
    const char *t = getenv("SY_FUZZ_TIMEOUT");
    if (t && *t) timeout = (unsigned)strtoul(t, NULL, 10);

    struct file_list files = { NULL, 0, 0 };
    for (int i = 1; i < argc; i++) {
        if (collect(&files, argv[i]) != 0) {
            printf("Bail out! cannot read %s\n", argv[i]);
            return 1;
        }
    }
    if (files.count == 0) {
        printf("Bail out! no inputs in the given paths\n");
        return 1;
    }
    qsort(files.paths, files.count, sizeof *files.paths, compare_paths);

    static const int fatal[] = { SIGALRM, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], on_fatal_signal);

    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);

    printf("1..%zu\n", files.count);
    fflush(stdout);
    size_t passed = 0, failed = 0;
    for (size_t i = 0; i < files.count; i++) {
        const char *path = files.paths[i];
        size_t size = 0;
        unsigned char *data = read_file(path, &size);
        if (!data) {
            printf("not ok %zu - %s # cannot read: %s\n", i + 1, path, strerror(errno));
            failed++;
            continue;
        }
        current_input = path;
        alarm(timeout);
        int rc = LLVMFuzzerTestOneInput(data, size);
        alarm(0);
        current_input = "(none)";
        free(data);
        /* 0, or -1 ("do not add to the corpus") in newer libFuzzer. */
        if (rc == 0 || rc == -1) {
            printf("ok %zu - %s (%zu bytes)\n", i + 1, path, size);
            passed++;
        } else {
            printf("not ok %zu - %s # returned %d\n", i + 1, path, rc);
            failed++;
        }
        fflush(stdout);
    }
    printf("# %zu passed, %zu failed\n", passed, failed);
    for (size_t i = 0; i < files.count; i++) free(files.paths[i]);
    free(files.paths);
    return failed ? 1 : 0;
}
