/* A TLS test server on 127.0.0.1 (an ephemeral port), in its own threads:
 * plain C11 + pthreads + mbedTLS, for C and C++ tests. */
#ifndef SY_TEST_TLS_SERVER_H
#define SY_TEST_TLS_SERVER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tls_server_mode {
    TLS_SERVER_ECHO = 0,   /* handshake, then echo bytes back until the client closes */
    TLS_SERVER_SILENT = 1, /* accept TCP, never send anything, hold the socket until stopped */
    TLS_SERVER_RESET = 2,  /* accept, wait for the ClientHello, close with SO_LINGER 0: RST */
    TLS_SERVER_CLOSE = 3,  /* handshake, send greeting, close_notify, close */
    TLS_SERVER_DROP = 4,   /* handshake, send greeting, close TCP without close_notify */
    TLS_SERVER_HANGUP = 5  /* accept, wait for the ClientHello, close TCP (FIN) unanswered */
} tls_server_mode;

typedef struct tls_server_options {
    tls_server_mode mode;
    const char *cert_file; /* PEM; needed by every mode that handshakes */
    const char *key_file;
    const char *client_ca_file; /* non-NULL: require a client certificate issued by it */
    const char *greeting;       /* CLOSE/DROP: sent after the handshake; may be NULL */
} tls_server_options;

typedef struct tls_server tls_server;

/* Listening when it returns; NULL (with a message on stderr) on failure. */
tls_server *tls_server_start(const tls_server_options *o);
int tls_server_port(const tls_server *s);
/* The server name (SNI) of the latest connection's ClientHello, into buf:
 * returns 1 when it carried one, 0 when it did not ("" in buf). */
int tls_server_last_sni(tls_server *s, char *buf, size_t cap);
unsigned tls_server_accepted(tls_server *s);   /* TCP connections accepted */
unsigned tls_server_handshakes(tls_server *s); /* TLS handshakes completed */
/* Stops accepting, ends every connection, joins every thread, closes every
 * socket and frees. NULL is a no-op. */
void tls_server_stop(tls_server *s);

#ifdef __cplusplus
}
#endif
#endif
