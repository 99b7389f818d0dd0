#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "support/tls_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#define MAX_CONNS 64
/* How long a connection waits for its peer before giving up. */
#define PEER_WAIT_MS 10000

typedef struct conn {
    struct tls_server *srv;
    int fd;
    pthread_t thread;
    int used;     /* thread started, not joined yet */
    int finished; /* thread done (mu) */
} conn;

struct tls_server {
    tls_server_mode mode;
    char *greeting;
    int listen_fd;
    int wake[2]; /* readable once stopping: every poll watches it */
    int port;
    pthread_t accept_thread;
    int accept_started;
    pthread_mutex_t mu;
    char sni[256];
    int sni_seen;
    unsigned accepted, handshakes;
    conn conns[MAX_CONNS]; /* accept thread only, then tls_server_stop */
    int silent_fds[MAX_CONNS];
    int n_silent;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt cert, client_ca;
    mbedtls_pk_context key;
};

/* The default curve list starts with the slow ones. */
static const mbedtls_ecp_group_id kCurves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                               MBEDTLS_ECP_DP_NONE};

static int report(const char *what, const char *path, int rc) {
    char buf[160];
    mbedtls_strerror(rc, buf, sizeof buf);
    fprintf(stderr, "tls_server: %s %s: %s (-0x%04x)\n", what, path ? path : "", buf,
            (unsigned)-rc);
    return -1;
}

/* mbedTLS 2.28 fills an EC group's fixed-point table lazily, in place:
 * done once here, before connection threads share the key. */
static int warm_ec(mbedtls_pk_context *pk, mbedtls_ctr_drbg_context *drbg) {
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY) return 0;
    mbedtls_ecp_group *grp = &mbedtls_pk_ec(*pk)->grp;
    if (grp->T) return 0;
    mbedtls_ecp_point r;
    mbedtls_mpi m;
    mbedtls_ecp_point_init(&r);
    mbedtls_mpi_init(&m);
    int rc = mbedtls_mpi_lset(&m, 2);
    if (!rc) rc = mbedtls_ecp_mul(grp, &r, &m, &grp->G, mbedtls_ctr_drbg_random, drbg);
    mbedtls_mpi_free(&m);
    mbedtls_ecp_point_free(&r);
    return rc;
}

/* 1: fd ready; 0: stopping or timed out; -1: poll failed. */
static int wait_fd(tls_server *s, int fd, short events, int timeout_ms) {
    struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = s->wake[0], .events = POLLIN}};
    for (;;) {
        int r = poll(p, 2, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0 || p[1].revents) return 0;
        return 1;
    }
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
    int fd = *(const int *)ctx;
    for (;;) {
        ssize_t r = send(fd, buf, len, MSG_NOSIGNAL);
        if (r >= 0) return (int)r;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
        return errno == ECONNRESET || errno == EPIPE ? MBEDTLS_ERR_NET_CONN_RESET
                                                     : MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
    int fd = *(const int *)ctx;
    for (;;) {
        ssize_t r = recv(fd, buf, len, 0);
        if (r >= 0) return (int)r;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
        return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

static int on_sni(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len) {
    (void)ssl;
    tls_server *s = p;
    pthread_mutex_lock(&s->mu);
    if (len >= sizeof s->sni) len = sizeof s->sni - 1;
    memcpy(s->sni, name, len);
    s->sni[len] = 0;
    s->sni_seen = 1;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Waits out WANT_READ/WANT_WRITE of an mbedTLS call; 0 when it is time to give up. */
static int wait_want(tls_server *s, int fd, int rc) {
    if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) return 0;
    return wait_fd(s, fd, rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT, PEER_WAIT_MS) > 0;
}

static int write_all(tls_server *s, mbedtls_ssl_context *ssl, int fd, const unsigned char *buf,
                     size_t len) {
    size_t off = 0;
    while (off < len) {
        int rc = mbedtls_ssl_write(ssl, buf + off, len - off);
        if (rc > 0)
            off += (size_t)rc;
        else if (!wait_want(s, fd, rc))
            return -1;
    }
    return 0;
}

/* FIN instead of RST: stop sending, then read until the client closes, so
 * nothing the client sent is left unread when the socket is closed. */
static void graceful_close(tls_server *s, int fd) {
    shutdown(fd, SHUT_WR);
    char buf[4096];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r > 0) continue;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(s, fd, POLLIN, PEER_WAIT_MS) > 0)
            continue;
        return;
    }
}

static void *conn_main(void *arg) {
    conn *c = arg;
    tls_server *s = c->srv;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_init(&ssl);
    int rc = mbedtls_ssl_setup(&ssl, &s->conf);
    if (rc) goto out;
    mbedtls_ssl_set_bio(&ssl, &c->fd, bio_send, bio_recv, NULL);
    while ((rc = mbedtls_ssl_handshake(&ssl)) != 0) {
        if (wait_want(s, c->fd, rc)) continue;
        if (rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
            mbedtls_ssl_send_alert_message(&ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                           MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
        graceful_close(s, c->fd);
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    s->handshakes++;
    pthread_mutex_unlock(&s->mu);
    if (s->mode == TLS_SERVER_ECHO) {
        unsigned char buf[16384];
        for (;;) {
            rc = mbedtls_ssl_read(&ssl, buf, sizeof buf);
            if (rc > 0) {
                if (write_all(s, &ssl, c->fd, buf, (size_t)rc)) break;
            } else if (!wait_want(s, c->fd, rc)) {
                if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) mbedtls_ssl_close_notify(&ssl);
                break;
            }
        }
    } else {
        if (s->greeting)
            write_all(s, &ssl, c->fd, (const unsigned char *)s->greeting, strlen(s->greeting));
        if (s->mode == TLS_SERVER_CLOSE)
            while (wait_want(s, c->fd, mbedtls_ssl_close_notify(&ssl))) {
            }
        graceful_close(s, c->fd);
    }
out:
    mbedtls_ssl_free(&ssl);
    close(c->fd);
    pthread_mutex_lock(&s->mu);
    c->finished = 1;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void start_conn(tls_server *s, int fd) {
    conn *free_slot = NULL;
    for (int i = 0; i < MAX_CONNS; i++) {
        conn *c = &s->conns[i];
        if (c->used) {
            pthread_mutex_lock(&s->mu);
            int done = c->finished;
            pthread_mutex_unlock(&s->mu);
            if (!done) continue;
            pthread_join(c->thread, NULL);
            c->used = 0;
        }
        if (!free_slot) free_slot = c;
    }
    if (!free_slot) {
        fprintf(stderr, "tls_server: more than %d connections at once\n", MAX_CONNS);
        close(fd);
        return;
    }
    free_slot->srv = s;
    free_slot->fd = fd;
    free_slot->finished = 0;
    if (pthread_create(&free_slot->thread, NULL, conn_main, free_slot) != 0) {
        close(fd);
        return;
    }
    free_slot->used = 1;
}

static void *accept_main(void *arg) {
    tls_server *s = arg;
    while (wait_fd(s, s->listen_fd, POLLIN, -1) > 0) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, "tls_server: accept: %s\n", strerror(errno));
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&s->mu);
        s->accepted++;
        s->sni[0] = 0;
        s->sni_seen = 0;
        pthread_mutex_unlock(&s->mu);
        if (s->mode == TLS_SERVER_RESET || s->mode == TLS_SERVER_HANGUP) {
            /* After the ClientHello: the client's connect has surely
             * completed, so the client meets the RST or FIN in the handshake. */
            wait_fd(s, fd, POLLIN, PEER_WAIT_MS);
            if (s->mode == TLS_SERVER_RESET) {
                struct linger l = {.l_onoff = 1, .l_linger = 0};
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            } else {
                graceful_close(s, fd);
            }
            close(fd);
        } else if (s->mode == TLS_SERVER_SILENT) {
            if (s->n_silent < MAX_CONNS)
                s->silent_fds[s->n_silent++] = fd;
            else
                close(fd);
        } else {
            start_conn(s, fd);
        }
    }
    return NULL;
}

static int setup_tls(tls_server *s, const tls_server_options *o) {
    int rc = mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy,
                                   (const unsigned char *)"sy-tls-server", 13);
    if (rc) return report("seeding the DRBG", NULL, rc);
    rc = mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                     MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc) return report("ssl config", NULL, rc);
    mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &s->drbg);
    mbedtls_ssl_conf_curves(&s->conf, kCurves);
    mbedtls_ssl_conf_sni(&s->conf, on_sni, s);
    if (!o->cert_file || !o->key_file) {
        fprintf(stderr, "tls_server: cert_file and key_file are required\n");
        return -1;
    }
    if ((rc = mbedtls_x509_crt_parse_file(&s->cert, o->cert_file)))
        return report("loading", o->cert_file, rc);
    if ((rc = mbedtls_pk_parse_keyfile(&s->key, o->key_file, NULL)))
        return report("loading", o->key_file, rc);
    if ((rc = warm_ec(&s->key, &s->drbg))) return report("preparing", o->key_file, rc);
    if ((rc = mbedtls_ssl_conf_own_cert(&s->conf, &s->cert, &s->key)))
        return report("using", o->cert_file, rc);
    if (o->client_ca_file) {
        if ((rc = mbedtls_x509_crt_parse_file(&s->client_ca, o->client_ca_file)))
            return report("loading", o->client_ca_file, rc);
        for (mbedtls_x509_crt *c = &s->client_ca; c && c->version; c = c->next)
            if ((rc = warm_ec(&c->pk, &s->drbg))) return report("preparing", o->client_ca_file, rc);
        mbedtls_ssl_conf_ca_chain(&s->conf, &s->client_ca, NULL);
        mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
        mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    return 0;
}

static int listen_loopback(tls_server *s) {
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0) return -1;
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->listen_fd, 64) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return 0;
}

tls_server *tls_server_start(const tls_server_options *o) {
    tls_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->mode = o->mode;
    s->listen_fd = s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->mu, NULL);
    mbedtls_entropy_init(&s->entropy);
    mbedtls_ctr_drbg_init(&s->drbg);
    mbedtls_ssl_config_init(&s->conf);
    mbedtls_x509_crt_init(&s->cert);
    mbedtls_x509_crt_init(&s->client_ca);
    mbedtls_pk_init(&s->key);
    int handshakes =
        o->mode != TLS_SERVER_SILENT && o->mode != TLS_SERVER_RESET && o->mode != TLS_SERVER_HANGUP;
    if (o->greeting && !(s->greeting = strdup(o->greeting))) goto fail;
    if (handshakes && setup_tls(s, o)) goto fail;
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        s->wake[0] = s->wake[1] = -1;
        fprintf(stderr, "tls_server: pipe: %s\n", strerror(errno));
        goto fail;
    }
    if (listen_loopback(s)) {
        fprintf(stderr, "tls_server: listening on 127.0.0.1: %s\n", strerror(errno));
        goto fail;
    }
    if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0) {
        fprintf(stderr, "tls_server: cannot start a thread\n");
        goto fail;
    }
    s->accept_started = 1;
    return s;
fail:
    tls_server_stop(s);
    return NULL;
}

int tls_server_port(const tls_server *s) { return s->port; }

int tls_server_last_sni(tls_server *s, char *buf, size_t cap) {
    pthread_mutex_lock(&s->mu);
    int seen = s->sni_seen;
    if (cap) snprintf(buf, cap, "%s", seen ? s->sni : "");
    pthread_mutex_unlock(&s->mu);
    return seen;
}

unsigned tls_server_accepted(tls_server *s) {
    pthread_mutex_lock(&s->mu);
    unsigned n = s->accepted;
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned tls_server_handshakes(tls_server *s) {
    pthread_mutex_lock(&s->mu);
    unsigned n = s->handshakes;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void tls_server_stop(tls_server *s) {
    if (!s) return;
    if (s->wake[1] >= 0) {
        ssize_t r;
        do r = write(s->wake[1], "x", 1);
        while (r < 0 && errno == EINTR);
    }
    if (s->accept_started) pthread_join(s->accept_thread, NULL);
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i].used) pthread_join(s->conns[i].thread, NULL);
    for (int i = 0; i < s->n_silent; i++) close(s->silent_fds[i]);
    if (s->listen_fd >= 0) close(s->listen_fd);
    if (s->wake[0] >= 0) close(s->wake[0]);
    if (s->wake[1] >= 0) close(s->wake[1]);
    mbedtls_ssl_config_free(&s->conf);
    mbedtls_x509_crt_free(&s->cert);
    mbedtls_x509_crt_free(&s->client_ca);
    mbedtls_pk_free(&s->key);
    mbedtls_ctr_drbg_free(&s->drbg);
    mbedtls_entropy_free(&s->entropy);
    pthread_mutex_destroy(&s->mu);
    free(s->greeting);
    free(s);
}
