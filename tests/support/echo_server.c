/* A loopback TCP server for tests: see echo_server.h. */
#include "support/echo_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_BUF 16384

struct echo_conn {
    int fd;            /* -1: free slot */
    size_t len, off;   /* bytes to send back: buf[off, len) */
    unsigned char buf[ECHO_BUF];
};

static void conn_close(echo_server *srv, struct echo_conn *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = c->off = 0;
    __atomic_sub_fetch(&srv->open, 1, __ATOMIC_RELAXED);
}

/* Sends what is pending; 0 while the connection lives, -1 once closed. */
static int conn_flush(echo_server *srv, struct echo_conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n > 0) {
            c->off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        conn_close(srv, c);
        return -1;
    }
    c->len = c->off = 0;
    return 0;
}

static void conn_read(echo_server *srv, struct echo_conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (n > 0) {
            if (srv->mode != ECHO_MODE_ECHO) continue; /* HOLD: discard */
            c->len = (size_t)n;
            c->off = 0;
            if (conn_flush(srv, c) < 0 || c->len) return; /* closed, or wait for POLLOUT */
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        conn_close(srv, c); /* EOF or error */
        return;
    }
}

static void *echo_thread(void *arg)
{
    echo_server *srv = arg;
    struct echo_conn *conns = srv->conns;
    struct pollfd pfd[2 + ECHO_SERVER_MAX_CONNS];
    int slot[2 + ECHO_SERVER_MAX_CONNS];
    for (;;) {
        nfds_t n = 0;
        pfd[n++] = (struct pollfd){ .fd = srv->wake_fd[0], .events = POLLIN };
        int room = 0;
        for (int i = 0; i < ECHO_SERVER_MAX_CONNS; i++) {
            if (conns[i].fd < 0) {
                room = 1;
                continue;
            }
            slot[n] = i;
            pfd[n++] = (struct pollfd){ .fd = conns[i].fd,
                                        .events = conns[i].len ? POLLOUT : POLLIN };
        }
        nfds_t listen_at = n;
        if (room) pfd[n++] = (struct pollfd){ .fd = srv->listen_fd, .events = POLLIN };
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pfd[0].revents) break; /* stop() */
        for (nfds_t k = 1; k < listen_at; k++) {
            struct echo_conn *c = &conns[slot[k]];
            if (!pfd[k].revents || c->fd < 0) continue;
            if (c->len) {
                if (pfd[k].revents & (POLLERR | POLLNVAL)) conn_close(srv, c);
                else conn_flush(srv, c);
            } else {
                conn_read(srv, c);
            }
        }
        if (room && pfd[listen_at].revents) {
            for (;;) {
                int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) break; /* EAGAIN, or a connection gone before accept */
                __atomic_add_fetch(&srv->accepted, 1, __ATOMIC_RELAXED);
                if (srv->mode == ECHO_MODE_CLOSE) {
                    close(fd);
                    continue;
                }
                int i = 0;
                while (i < ECHO_SERVER_MAX_CONNS && conns[i].fd >= 0) i++;
                if (i == ECHO_SERVER_MAX_CONNS) {
                    close(fd); /* full: the peer sees EOF */
                    break;
                }
                int one = 1; /* answer each chunk at once */
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[i].fd = fd;
                conns[i].len = conns[i].off = 0;
                __atomic_add_fetch(&srv->open, 1, __ATOMIC_RELAXED);
            }
        }
    }
    for (int i = 0; i < ECHO_SERVER_MAX_CONNS; i++)
        if (conns[i].fd >= 0) conn_close(srv, &conns[i]);
    return NULL;
}

int echo_server_start_on(echo_server *srv, enum echo_mode mode, const char *ip)
{
    memset(srv, 0, sizeof *srv);
    srv->listen_fd = srv->wake_fd[0] = srv->wake_fd[1] = -1;
    srv->mode = mode;
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        sl = sizeof *a6;
    } else {
        return -EINVAL;
    }
    int err = 0;
    struct echo_conn *conns = calloc(ECHO_SERVER_MAX_CONNS, sizeof *conns);
    if (!conns) return -ENOMEM;
    for (int i = 0; i < ECHO_SERVER_MAX_CONNS; i++) conns[i].fd = -1;
    srv->conns = conns;
    int one = 1;
    srv->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (srv->listen_fd < 0 ||
        setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(srv->listen_fd, (struct sockaddr *)&ss, sl) != 0 ||
        listen(srv->listen_fd, 128) != 0 ||
        getsockname(srv->listen_fd, (struct sockaddr *)&ss, &sl) != 0 ||
        pipe2(srv->wake_fd, O_CLOEXEC) != 0) {
        err = errno ? errno : EIO;
    } else {
        srv->port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
        err = pthread_create(&srv->thread, NULL, echo_thread, srv);
    }
    if (err) {
        if (srv->listen_fd >= 0) close(srv->listen_fd);
        if (srv->wake_fd[0] >= 0) close(srv->wake_fd[0]);
        if (srv->wake_fd[1] >= 0) close(srv->wake_fd[1]);
        free(conns);
        memset(srv, 0, sizeof *srv);
        srv->listen_fd = srv->wake_fd[0] = srv->wake_fd[1] = -1;
        return -err;
    }
    srv->running = 1;
    return srv->port;
}

int echo_server_start(echo_server *srv, enum echo_mode mode)
{
    return echo_server_start_on(srv, mode, "127.0.0.1");
}

void echo_server_stop(echo_server *srv)
{
    if (!srv->running) return;
    ssize_t w;
    do w = write(srv->wake_fd[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(srv->thread, NULL);
    close(srv->listen_fd);
    close(srv->wake_fd[0]);
    close(srv->wake_fd[1]);
    free(srv->conns);
    srv->conns = NULL;
    srv->listen_fd = srv->wake_fd[0] = srv->wake_fd[1] = -1;
    srv->running = 0;
}

unsigned long echo_server_accepted(const echo_server *srv)
{
    return __atomic_load_n(&srv->accepted, __ATOMIC_RELAXED);
}

unsigned long echo_server_open(const echo_server *srv)
{
    return __atomic_load_n(&srv->open, __ATOMIC_RELAXED);
}
