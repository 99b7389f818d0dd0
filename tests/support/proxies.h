/* Real proxies for tests, from Debian packages, on 127.0.0.1 on a free port:
 * tinyproxy (HTTP CONNECT) and microsocks (SOCKS5), each a child process
 * in the foreground, optionally with a username/password.
 *
 *   test_proxy p;
 *   int rc = tinyproxy_start(&p, NULL, NULL);   // or microsocks_start(&p, "u", "pw")
 *   if (rc == TEST_PROXY_NOT_INSTALLED) skip();  // the binary is missing
 *   assert rc == 0; ... connect to 127.0.0.1:p.port ...
 *   test_proxy_stop(&p);                         // SIGTERM (then SIGKILL), waitpid
 *
 * The binaries are found in $PATH, /usr/bin, /usr/sbin, or given as
 * $SY_TEST_TINYPROXY / $SY_TEST_MICROSOCKS. tinyproxy gets a config file in a
 * mkdtemp directory (removed by stop) with Port, Listen 127.0.0.1,
 * Allow 127.0.0.1, no ConnectPort (so CONNECT may go to any port) and
 * BasicAuth when a user is given; its log is <dir>/tinyproxy.log. A child
 * dies with the thread that started it (PR_SET_PDEATHSIG), so a test that
 * crashes leaves no proxy behind: start and stop from the main thread.
 * Plain C11 + POSIX; usable from C++. */
#ifndef SY_TEST_PROXIES_H
#define SY_TEST_PROXIES_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* test_proxy_start's answer when the proxy's binary is not installed. */
#define TEST_PROXY_NOT_INSTALLED 77

enum test_proxy_kind {
    TEST_PROXY_TINYPROXY = 1,  /* HTTP CONNECT */
    TEST_PROXY_MICROSOCKS = 2  /* SOCKS5 */
};

typedef struct test_proxy {
    int kind;        /* enum test_proxy_kind */
    pid_t pid;       /* 0: not running */
    uint16_t port;
    char dir[64];    /* mkdtemp directory: config and log */
    char log[128];   /* the child's stdout+stderr (and tinyproxy's LogFile) */
} test_proxy;

/* Starts the proxy and waits (up to 5 s) until its port accepts connections.
 * user, pass: a credential it requires (both or neither; NULL: none).
 * Returns 0 (p->port is set), TEST_PROXY_NOT_INSTALLED, or -1 after printing
 * why on stderr (with the proxy's log). */
int test_proxy_start(test_proxy *p, enum test_proxy_kind kind, const char *user,
                     const char *pass);
int tinyproxy_start(test_proxy *p, const char *user, const char *pass);
int microsocks_start(test_proxy *p, const char *user, const char *pass);
/* Stops the child (SIGTERM, SIGKILL after 2 s), reaps it, removes its
 * directory. Safe to call twice, or after a failed start. */
void test_proxy_stop(test_proxy *p);
/* The binary's path, or NULL when not installed. */
const char *test_proxy_binary(enum test_proxy_kind kind);
/* "tinyproxy", "microsocks". */
const char *test_proxy_name(enum test_proxy_kind kind);
/* A port on 127.0.0.1 that was free a moment ago (bound, then closed), so
 * that connecting to it is refused; 0 on failure. */
uint16_t test_free_port(void);

#ifdef __cplusplus
}
#endif

#endif
