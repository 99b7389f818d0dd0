/* Real proxies for tests: see proxies.h. */
#include "support/proxies.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS 2000
#define START_TRIES 3 /* a free port taken by someone else before the proxy binds it */

const char *test_proxy_name(enum test_proxy_kind kind)
{
    return kind == TEST_PROXY_TINYPROXY ? "tinyproxy" : kind == TEST_PROXY_MICROSOCKS ? "microsocks" : "?";
}

static int executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

const char *test_proxy_binary(enum test_proxy_kind kind)
{
    static char found[2][512];
    const char *name = test_proxy_name(kind);
    if (kind != TEST_PROXY_TINYPROXY && kind != TEST_PROXY_MICROSOCKS) return NULL;
    char *out = found[kind == TEST_PROXY_TINYPROXY ? 0 : 1];
    const char *env = getenv(kind == TEST_PROXY_TINYPROXY ? "SY_TEST_TINYPROXY" : "SY_TEST_MICROSOCKS");
    if (env && *env) return executable(env) ? env : NULL;
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/bin:/usr/sbin:/usr/local/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (!*d) continue;
        int n = snprintf(out, sizeof found[0], "%s/%s", d, name);
        if (n > 0 && (size_t)n < sizeof found[0] && executable(out)) return out;
    }
    return NULL;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

uint16_t test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* 1 when 127.0.0.1:port accepts a connection now. */
static int port_accepts(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void print_log(const test_proxy *p)
{
    FILE *f = fopen(p->log, "r");
    if (!f) return;
    char line[512];
    fprintf(stderr, "---- %s log (%s)\n", test_proxy_name(p->kind), p->log);
    while (fgets(line, sizeof line, f)) fputs(line, stderr);
    fprintf(stderr, "----\n");
    fclose(f);
}

static int write_tinyproxy_conf(const char *conf, const char *log, uint16_t port,
                                const char *user, const char *pass)
{
    FILE *f = fopen(conf, "w");
    if (!f) return -1;
    /* Without ConnectPort lines, tinyproxy 1.11 allows CONNECT to every port.
     * No User/Group: it stays the current user (as root it warns and does so). */
    fprintf(f,
            "Port %u\n"
            "Listen 127.0.0.1\n"
            "Timeout 30\n"
            "MaxClients 64\n"
            "Allow 127.0.0.1\n"
            "LogLevel Info\n"
            "LogFile \"%s\"\n",
            port, log);
    if (user) fprintf(f, "BasicAuth %s %s\n", user, pass ? pass : "");
    return fclose(f) == 0 ? 0 : -1;
}

/* Reaps the child if it exited; 1 when it did (its status printed). */
static int child_exited(test_proxy *p)
{
    int status = 0;
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r != p->pid) return 0;
    if (WIFEXITED(status))
        fprintf(stderr, "%s exited with status %d\n", test_proxy_name(p->kind), WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "%s was killed by signal %d\n", test_proxy_name(p->kind), WTERMSIG(status));
    p->pid = 0;
    return 1;
}

static void remove_dir(test_proxy *p)
{
    if (!p->dir[0]) return;
    char path[256];
    snprintf(path, sizeof path, "%s/tinyproxy.conf", p->dir);
    unlink(path);
    unlink(p->log);
    rmdir(p->dir);
    p->dir[0] = 0;
    p->log[0] = 0;
}

/* One attempt on a fresh free port: 0, or -1 (the child is gone). */
static int start_once(test_proxy *p, const char *bin, const char *user, const char *pass)
{
    uint16_t port = test_free_port();
    if (!port) {
        fprintf(stderr, "%s: no free port on 127.0.0.1: %s\n", test_proxy_name(p->kind), strerror(errno));
        return -1;
    }
    char conf[256], port_s[16];
    snprintf(port_s, sizeof port_s, "%u", port);
    const char *argv[12];
    int n = 0;
    argv[n++] = bin;
    if (p->kind == TEST_PROXY_TINYPROXY) {
        snprintf(conf, sizeof conf, "%s/tinyproxy.conf", p->dir);
        if (write_tinyproxy_conf(conf, p->log, port, user, pass) != 0) {
            fprintf(stderr, "tinyproxy: cannot write %s: %s\n", conf, strerror(errno));
            return -1;
        }
        argv[n++] = "-d"; /* foreground */
        argv[n++] = "-c";
        argv[n++] = conf;
    } else {
        argv[n++] = "-i";
        argv[n++] = "127.0.0.1";
        argv[n++] = "-p";
        argv[n++] = port_s;
        if (user) {
            argv[n++] = "-u";
            argv[n++] = user;
            argv[n++] = "-P";
            argv[n++] = pass ? pass : "";
        }
    }
    argv[n] = NULL;

    /* Opened before fork: between fork and exec only async-signal-safe calls. */
    int log_fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", test_proxy_name(p->kind), p->log, strerror(errno));
        if (log_fd >= 0) close(log_fd);
        if (null_fd >= 0) close(null_fd);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        /* Every other descriptor is close-on-exec or closed here, so the
         * proxy holds none of the test's sockets. */
        for (int fd = 3; fd < 1024; fd++) close(fd);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(log_fd);
    close(null_fd);
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", test_proxy_name(p->kind), strerror(errno));
        return -1;
    }
    p->pid = pid;
    p->port = port;
    long deadline = now_ms() + START_TIMEOUT_MS;
    for (;;) {
        if (child_exited(p)) return -1;
        if (port_accepts(port)) return 0;
        if (now_ms() > deadline) {
            fprintf(stderr, "%s: 127.0.0.1:%u accepts no connection after %d ms\n",
                    test_proxy_name(p->kind), port, START_TIMEOUT_MS);
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            p->pid = 0;
            return -1;
        }
        sleep_ms(10);
    }
}

int test_proxy_start(test_proxy *p, enum test_proxy_kind kind, const char *user, const char *pass)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    if ((user == NULL) != (pass == NULL)) {
        fprintf(stderr, "%s: give both user and password, or neither\n", test_proxy_name(kind));
        return -1;
    }
    const char *bin = test_proxy_binary(kind);
    if (!bin) return TEST_PROXY_NOT_INSTALLED;
    const char *tmp = getenv("TMPDIR");
    snprintf(p->dir, sizeof p->dir, "%s/sy-proxy.XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(p->dir)) {
        fprintf(stderr, "%s: mkdtemp %s: %s\n", test_proxy_name(kind), p->dir, strerror(errno));
        p->dir[0] = 0;
        return -1;
    }
    snprintf(p->log, sizeof p->log, "%s/%s.log", p->dir, test_proxy_name(kind));
    for (int i = 0; i < START_TRIES; i++) {
        if (start_once(p, bin, user, pass) == 0) return 0;
    }
    fprintf(stderr, "%s: could not be started (%d tries)\n", test_proxy_name(kind), START_TRIES);
    print_log(p);
    remove_dir(p);
    return -1;
}

int tinyproxy_start(test_proxy *p, const char *user, const char *pass)
{
    return test_proxy_start(p, TEST_PROXY_TINYPROXY, user, pass);
}

int microsocks_start(test_proxy *p, const char *user, const char *pass)
{
    return test_proxy_start(p, TEST_PROXY_MICROSOCKS, user, pass);
}

void test_proxy_stop(test_proxy *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        long deadline = now_ms() + STOP_TIMEOUT_MS;
        int status;
        pid_t r;
        while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 && now_ms() < deadline) sleep_ms(5);
        if (r == 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
        }
        p->pid = 0;
    }
    remove_dir(p);
}
