/* A TCP server on loopback for tests, on an ephemeral port, served by one
 * thread (poll loop, non-blocking sockets, up to ECHO_SERVER_MAX_CONNS
 * connections at a time):
 *
 *   echo_server srv;
 *   int port = echo_server_start(&srv, ECHO_MODE_ECHO);   // > 0, or -errno
 *   ... connect to 127.0.0.1:port ...
 *   echo_server_stop(&srv);   // joins the thread, closes every socket
 *
 * Plain C11 + pthreads; usable from C++. Its sockets are close-on-exec, so
 * a child process (a proxy started by the test) does not keep them open. */
#ifndef SY_TEST_ECHO_SERVER_H
#define SY_TEST_ECHO_SERVER_H

#include <pthread.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ECHO_SERVER_MAX_CONNS 64

enum echo_mode {
    ECHO_MODE_ECHO = 0,  /* sends back every byte received, until the peer closes */
    ECHO_MODE_CLOSE = 1, /* accepts, then closes at once: the peer reads EOF */
    ECHO_MODE_HOLD = 2   /* accepts, reads and discards, never answers nor closes */
};

typedef struct echo_server {
    int listen_fd;
    int wake_fd[2];       /* stop() writes to [1]; the thread polls [0] */
    uint16_t port;
    int mode;             /* enum echo_mode */
    int running;
    pthread_t thread;
    void *conns;          /* the thread's connection table */
    unsigned long accepted; /* read with echo_server_accepted() */
    unsigned long open;     /* read with echo_server_open() */
} echo_server;

/* Listens on 127.0.0.1 on an ephemeral port. Returns the port, or -errno
 * (srv is then stopped, and echo_server_stop() on it does nothing). */
int echo_server_start(echo_server *srv, enum echo_mode mode);
/* The same on another loopback address: "127.0.0.1", "::1". */
int echo_server_start_on(echo_server *srv, enum echo_mode mode, const char *ip);
/* Stops the thread and closes every socket. Safe to call twice. */
void echo_server_stop(echo_server *srv);
/* Connections accepted so far, and open now. */
unsigned long echo_server_accepted(const echo_server *srv);
unsigned long echo_server_open(const echo_server *srv);

#ifdef __cplusplus
}
#endif

#endif
