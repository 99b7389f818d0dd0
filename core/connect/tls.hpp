// The TLS client layer of the connector, on mbedTLS 2.28: shared immutable
// configs (trust store, client certificate, RNG) and one non-blocking session
// per connection. Every failure message names the host and the reason.
#pragma once
#include <switchyard/switchyard.h>

#include <cstddef>

#include "util/alloc.hpp"

namespace sy::net {

// TLS settings for one connection: the route's profile merged over
// connect.tls (done by the caller). NULL = unset.
struct TlsSettings {
    const char *ca_file = nullptr, *ca_dir = nullptr, *cert_file = nullptr, *key_file = nullptr,
               *server_name = nullptr;
    bool insecure_skip_verify = false;
};

// Immutable once built; shared by many connections on many threads. Must
// outlive every session made from it.
struct TlsConfig;
// Errors: SY_ETLS naming the file and the reason (unreadable, not a
// certificate, key does not match, cert_file without key_file...), SY_ENOMEM.
int tls_config_new(const Alloc &a, const TlsSettings &s, TlsConfig **out, sy_error *err);
void tls_config_free(TlsConfig *c);

// A thread-safe cache of configs keyed by the settings' content (the strings,
// not the pointers), so a CA file is parsed once, not per connect. It keeps
// every config it built until tls_cache_free: a config handed out is never
// evicted, so it stays valid while sessions use it. At most max_entries
// distinct settings are kept; one more is SY_ELIMIT (a router has one
// setting per TLS profile, so a small bound suffices). Failures are not
// cached: the next get tries again.
struct TlsCache;
TlsCache *tls_cache_new(const Alloc &a, size_t max_entries); // NULL: out of memory
void tls_cache_free(TlsCache *c); // after every session using its configs is freed
int tls_cache_get(TlsCache *c, const TlsSettings &s, const TlsConfig **out, sy_error *err);
size_t tls_cache_size(TlsCache *c); // configs held (tests, stats)

enum class Want { Done = 0, Read = 1, Write = 2 };

// One connection; single owner.
struct TlsSession;
// fd: a connected NON-BLOCKING TCP socket (already through any proxy tunnel).
// host: the target host, copied; it is the SNI and the name verified unless
// the config's server_name is set. An IP literal (v4, or v6 with or without
// brackets) gets no SNI (RFC 6066) and is verified against the certificate's
// iPAddress subjectAltNames. Errors: SY_EINVAL (no name, longer than 255),
// SY_ENOMEM, SY_ETLS.
int tls_session_new(const Alloc &a, const TlsConfig *c, int fd, const char *host, TlsSession **out,
                    sy_error *err);
// Drives the handshake. SY_OK + Done: finished. SY_OK + Read/Write: wait for
// the fd, then call again. SY_ETLS: failed, the message says why ("certificate
// verification failed for localhost: unknown CA ...", "... certificate
// expired", "... host name mismatch (...)", "TLS handshake with localhost
// failed: connection reset during the handshake" / "peer closed the
// connection during the handshake" / "the server sent a fatal alert ...").
int tls_handshake(TlsSession *s, Want *want, sy_error *err);
// Non-blocking I/O after the handshake. SY_OK, *n > 0: bytes moved. SY_OK,
// *n == 0, *want Read/Write: would block. tls_read SY_OK, *n == 0, *want Done:
// the peer closed (close_notify or EOF). Errors: SY_EIO (socket: reset,
// broken pipe) or SY_ETLS (protocol), with a message; SY_EMISUSE before the
// handshake is done.
// After tls_write returned Read/Write, call it again with the same buf and
// len (mbedTLS holds a partly sent record). A call writes at most one record
// (16 KiB): loop for more.
int tls_write(TlsSession *s, const void *buf, size_t len, size_t *n, Want *want, sy_error *err);
int tls_read(TlsSession *s, void *buf, size_t cap, size_t *n, Want *want, sy_error *err);
// Decrypted bytes buffered: readable without waiting for the fd. mbedTLS reads
// exactly one record at a time in TLS, so no undecrypted bytes hide behind it.
size_t tls_pending(const TlsSession *s);
// "TLSv1.2" and "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384" style names; NULL
// before the handshake is done.
const char *tls_version(const TlsSession *s);
const char *tls_ciphersuite(const TlsSession *s);
// Frees; sends close_notify first (best effort, never blocks) when notify and
// the handshake was done. Does NOT close fd (the caller owns it). NULL is a no-op.
void tls_session_free(TlsSession *s, bool notify);

} // namespace sy::net
