#include "connect/tls.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "connect/ip_literal.hpp"
#include "util/error.hpp"

// The DRBG of a config is used by every session made from it, on any thread:
// Debian builds mbedTLS with MBEDTLS_THREADING_C and MBEDTLS_THREADING_PTHREAD,
// which makes mbedtls_ctr_drbg_random lock the context's own mutex.
#if !defined(MBEDTLS_THREADING_C) || !defined(MBEDTLS_THREADING_PTHREAD)
#error "mbedTLS must be built with MBEDTLS_THREADING_C and MBEDTLS_THREADING_PTHREAD"
#endif

namespace sy::net {

namespace {

// Used when neither ca_file nor ca_dir is set: Debian's (and Ubuntu's) bundle
// of the system's trusted CAs, kept by the ca-certificates package.
const char kSystemCaFile[] = "/etc/ssl/certs/ca-certificates.crt";

// x25519 and P-256 first: the fast ones, and mbedTLS (as client) offers them
// in this order. P-384/P-521 stay acceptable because the list also bounds the
// curves a server's certificate key may use.
const mbedtls_ecp_group_id kCurves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                        MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_SECP521R1,
                                        MBEDTLS_ECP_DP_NONE};

const char *mbed_reason(int rc, char *buf, size_t cap) {
    mbedtls_strerror(rc, buf, cap);
    if (!buf[0]) std::snprintf(buf, cap, "mbedTLS error -0x%04x", static_cast<unsigned>(-rc));
    return buf;
}

// mbedTLS 2.28 computes an EC group's fixed-point table on the first
// multiplication by its generator and stores it in the group, so the first
// two threads verifying with one CA key (or signing with one client key)
// would race on it. Computing it here, before the config is shared, leaves
// only reads for later.
int warm_ec_key(mbedtls_pk_context *pk, mbedtls_ctr_drbg_context *drbg) {
    mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);
    if (t != MBEDTLS_PK_ECKEY && t != MBEDTLS_PK_ECKEY_DH && t != MBEDTLS_PK_ECDSA) return 0;
    mbedtls_ecp_group *grp = &mbedtls_pk_ec(*pk)->grp;
    if (grp->T || mbedtls_ecp_get_type(grp) != MBEDTLS_ECP_TYPE_SHORT_WEIERSTRASS) return 0;
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

bool readable(const char *path, int *e) {
    if (access(path, R_OK) == 0) return true;
    *e = errno;
    return false;
}

} // namespace

struct TlsConfig {
    Alloc a;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt own_cert;
    mbedtls_pk_context own_key;
    bool verify = true;
    bool has_own = false;
    char *server_name = nullptr;
    char trust[200] = {}; // where trusted CAs come from, for "unknown CA" messages

    explicit TlsConfig(const Alloc &al) : a(al) {
        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&drbg);
        mbedtls_ssl_config_init(&conf);
        mbedtls_x509_crt_init(&ca);
        mbedtls_x509_crt_init(&own_cert);
        mbedtls_pk_init(&own_key);
    }
    ~TlsConfig() {
        mbedtls_ssl_config_free(&conf);
        mbedtls_x509_crt_free(&ca);
        mbedtls_x509_crt_free(&own_cert);
        mbedtls_pk_free(&own_key);
        mbedtls_ctr_drbg_free(&drbg);
        mbedtls_entropy_free(&entropy);
        a.strfree(server_name);
    }
    TlsConfig(const TlsConfig &) = delete;
    TlsConfig &operator=(const TlsConfig &) = delete;
};

namespace {

int load_ca_file(TlsConfig *c, const char *what, const char *path, bool strict, sy_error *err) {
    char why[160];
    int e = 0;
    if (!readable(path, &e))
        return fail(err, SY_ETLS, "", "cannot read %s %s: %s", what, path, std::strerror(e));
    int rc = mbedtls_x509_crt_parse_file(&c->ca, path);
    if (rc < 0)
        return fail(err, SY_ETLS, "", "%s %s holds no usable CA certificate: %s", what, path,
                    mbed_reason(rc, why, sizeof why));
    // A positive rc counts certificates mbedTLS could not parse; a big
    // system bundle may hold a few, a file given by the user must not.
    if (rc > 0 && strict)
        return fail(err, SY_ETLS, "", "%s %s: %d certificate(s) could not be parsed", what, path,
                    rc);
    if (c->ca.version == 0) return fail(err, SY_ETLS, "", "%s %s holds no certificate", what, path);
    return SY_OK;
}

int load_ca_dir(TlsConfig *c, const char *path, sy_error *err) {
    char why[160];
    int e = 0;
    if (!readable(path, &e))
        return fail(err, SY_ETLS, "", "cannot read ca_dir %s: %s", path, std::strerror(e));
    // Every file of the directory is parsed; those that are not certificates
    // are skipped (a positive rc counts them).
    int rc = mbedtls_x509_crt_parse_path(&c->ca, path);
    if (rc < 0)
        return fail(err, SY_ETLS, "", "cannot load ca_dir %s: %s", path,
                    mbed_reason(rc, why, sizeof why));
    if (c->ca.version == 0) return fail(err, SY_ETLS, "", "ca_dir %s holds no certificate", path);
    return SY_OK;
}

int load_trust(TlsConfig *c, const TlsSettings &s, sy_error *err) {
    int rc = 0;
    if (s.ca_file && (rc = load_ca_file(c, "ca_file", s.ca_file, true, err))) return rc;
    if (s.ca_dir && (rc = load_ca_dir(c, s.ca_dir, err))) return rc;
    if (s.ca_file && s.ca_dir)
        std::snprintf(c->trust, sizeof c->trust, "ca_file %s or ca_dir %s", s.ca_file, s.ca_dir);
    else if (s.ca_file)
        std::snprintf(c->trust, sizeof c->trust, "ca_file %s", s.ca_file);
    else if (s.ca_dir)
        std::snprintf(c->trust, sizeof c->trust, "ca_dir %s", s.ca_dir);
    else {
        int e = 0;
        if (!readable(kSystemCaFile, &e))
            return fail(err, SY_ETLS, "",
                        "no CA to verify servers with: set ca_file or ca_dir "
                        "(or insecure_skip_verify); the system store %s is unusable: %s",
                        kSystemCaFile, std::strerror(e));
        if ((rc = load_ca_file(c, "system CA store", kSystemCaFile, false, err))) return rc;
        std::snprintf(c->trust, sizeof c->trust, "the system store %s", kSystemCaFile);
    }
    for (mbedtls_x509_crt *crt = &c->ca; crt && crt->version; crt = crt->next)
        if ((rc = warm_ec_key(&crt->pk, &c->drbg)))
            return fail(err, SY_ETLS, "", "cannot prepare the CA keys of %s (mbedTLS -0x%04x)",
                        c->trust, static_cast<unsigned>(-rc));
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, nullptr);
    return SY_OK;
}

int load_own(TlsConfig *c, const TlsSettings &s, sy_error *err) {
    char why[160];
    int e = 0;
    if (!readable(s.cert_file, &e))
        return fail(err, SY_ETLS, "", "cannot read cert_file %s: %s", s.cert_file,
                    std::strerror(e));
    if (!readable(s.key_file, &e))
        return fail(err, SY_ETLS, "", "cannot read key_file %s: %s", s.key_file, std::strerror(e));
    int rc = mbedtls_x509_crt_parse_file(&c->own_cert, s.cert_file);
    if (rc != 0 || c->own_cert.version == 0)
        return fail(err, SY_ETLS, "", "cert_file %s is not a usable certificate: %s", s.cert_file,
                    rc < 0 ? mbed_reason(rc, why, sizeof why) : "some of it could not be parsed");
    rc = mbedtls_pk_parse_keyfile(&c->own_key, s.key_file, nullptr);
    if (rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED)
        return fail(err, SY_ETLS, "",
                    "key_file %s is encrypted; only unencrypted keys are supported", s.key_file);
    if (rc)
        return fail(err, SY_ETLS, "", "key_file %s is not a usable private key: %s", s.key_file,
                    mbed_reason(rc, why, sizeof why));
    if (mbedtls_pk_check_pair(&c->own_cert.pk, &c->own_key))
        return fail(err, SY_ETLS, "", "key_file %s does not match the certificate in cert_file %s",
                    s.key_file, s.cert_file);
    if ((rc = warm_ec_key(&c->own_key, &c->drbg)))
        return fail(err, SY_ETLS, "", "cannot prepare key_file %s (mbedTLS -0x%04x)", s.key_file,
                    static_cast<unsigned>(-rc));
    if ((rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->own_cert, &c->own_key)))
        return fail(err, rc == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SY_ENOMEM : SY_ETLS, "",
                    "cannot use cert_file %s: %s", s.cert_file, mbed_reason(rc, why, sizeof why));
    c->has_own = true;
    return SY_OK;
}

int build(TlsConfig *c, const TlsSettings &s, sy_error *err) {
    char why[160];
    if (!s.cert_file != !s.key_file)
        return fail(err, SY_ETLS, "",
                    "cert_file and key_file go together: %s is set (%s) but %s "
                    "is not",
                    s.cert_file ? "cert_file" : "key_file", s.cert_file ? s.cert_file : s.key_file,
                    s.cert_file ? "key_file" : "cert_file");
    static const unsigned char kPers[] = "switchyard tls";
    int rc =
        mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, kPers, sizeof kPers - 1);
    if (rc)
        return fail(err, SY_ETLS, "", "cannot seed the TLS random generator: %s",
                    mbed_reason(rc, why, sizeof why));
    rc = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                     MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc)
        return fail(err, SY_ETLS, "", "cannot set up TLS: %s", mbed_reason(rc, why, sizeof why));
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_curves(&c->conf, kCurves);
    c->verify = !s.insecure_skip_verify;
    mbedtls_ssl_conf_authmode(&c->conf,
                              c->verify ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);
    if (c->verify && (rc = load_trust(c, s, err))) return rc;
    if (s.cert_file && (rc = load_own(c, s, err))) return rc;
    if (s.server_name) {
        if (!s.server_name[0] || std::strlen(s.server_name) > MBEDTLS_SSL_MAX_HOST_NAME_LEN)
            return fail(err, SY_ETLS, "", "server_name must be 1..%d characters",
                        MBEDTLS_SSL_MAX_HOST_NAME_LEN);
        if (!(c->server_name = c->a.strdup(s.server_name)))
            return fail(err, SY_ENOMEM, "", "out of memory");
    }
    return SY_OK;
}

} // namespace

int tls_config_new(const Alloc &a, const TlsSettings &s, TlsConfig **out, sy_error *err) {
    TlsConfig *c = a.make<TlsConfig>(a);
    if (!c) return fail(err, SY_ENOMEM, "", "out of memory");
    int rc = build(c, s, err);
    if (rc) {
        a.destroy(c);
        return rc;
    }
    *out = c;
    return SY_OK;
}

void tls_config_free(TlsConfig *c) {
    if (!c) return;
    Alloc a = c->a;
    a.destroy(c);
}

// ---------------------------------------------------------------- cache

namespace {

struct CacheEntry {
    CacheEntry *next;
    char *key;
    size_t key_size;
    TlsConfig *config;
};

// The settings as one byte string: per field a set/unset byte then its text.
char *settings_key(const Alloc &a, const TlsSettings &s, size_t *size) {
    const char *f[] = {s.ca_file, s.ca_dir, s.cert_file, s.key_file, s.server_name};
    size_t n = 1;
    for (const char *v : f) n += 2 + (v ? std::strlen(v) : 0);
    char *k = static_cast<char *>(a.alloc(n, 1));
    if (!k) return nullptr;
    char *p = k;
    *p++ = s.insecure_skip_verify ? '1' : '0';
    for (const char *v : f) {
        *p++ = v ? 's' : '-';
        size_t l = v ? std::strlen(v) : 0;
        std::memcpy(p, v ? v : "", l);
        p += l;
        *p++ = 0;
    }
    *size = n;
    return k;
}

} // namespace

struct TlsCache {
    Alloc a;
    size_t max;
    std::mutex mu;
    CacheEntry *head = nullptr;
    size_t count = 0;

    TlsCache(const Alloc &al, size_t m) : a(al), max(m) {}

    TlsConfig *find(const char *key, size_t size) const {
        for (CacheEntry *e = head; e; e = e->next)
            if (e->key_size == size && std::memcmp(e->key, key, size) == 0) return e->config;
        return nullptr;
    }
};

TlsCache *tls_cache_new(const Alloc &a, size_t max_entries) {
    return a.make<TlsCache>(a, max_entries);
}

void tls_cache_free(TlsCache *c) {
    if (!c) return;
    Alloc a = c->a;
    for (CacheEntry *e = c->head, *next; e; e = next) {
        next = e->next;
        tls_config_free(e->config);
        a.free(e->key, e->key_size);
        a.destroy(e);
    }
    a.destroy(c);
}

size_t tls_cache_size(TlsCache *c) {
    std::lock_guard<std::mutex> g(c->mu);
    return c->count;
}

int tls_cache_get(TlsCache *c, const TlsSettings &s, const TlsConfig **out, sy_error *err) {
    size_t size = 0;
    char *key = settings_key(c->a, s, &size);
    if (!key) return fail(err, SY_ENOMEM, "", "out of memory");
    auto full = [&] {
        c->a.free(key, size);
        return fail(err, SY_ELIMIT, "", "too many distinct TLS settings: the cache holds %zu",
                    c->max);
    };
    {
        std::lock_guard<std::mutex> g(c->mu);
        if (TlsConfig *hit = c->find(key, size)) {
            c->a.free(key, size);
            *out = hit;
            return SY_OK;
        }
        if (c->count >= c->max) return full();
    }
    // Built unlocked: parsing a CA bundle takes milliseconds and must not
    // hold up connects that hit the cache. Two threads may build the same
    // config; the second one to finish drops its copy.
    TlsConfig *built = nullptr;
    int rc = tls_config_new(c->a, s, &built, err);
    if (rc) {
        c->a.free(key, size);
        return rc;
    }
    CacheEntry *e = c->a.make<CacheEntry>();
    if (!e) {
        tls_config_free(built);
        c->a.free(key, size);
        return fail(err, SY_ENOMEM, "", "out of memory");
    }
    std::lock_guard<std::mutex> g(c->mu);
    if (TlsConfig *hit = c->find(key, size)) {
        tls_config_free(built);
        c->a.destroy(e);
        c->a.free(key, size);
        *out = hit;
        return SY_OK;
    }
    if (c->count >= c->max) {
        tls_config_free(built);
        c->a.destroy(e);
        return full();
    }
    *e = CacheEntry{c->head, key, size, built};
    c->head = e;
    c->count++;
    *out = built;
    return SY_OK;
}

// ---------------------------------------------------------------- sessions

struct TlsSession {
    Alloc a;
    const TlsConfig *config;
    int fd;
    mbedtls_ssl_context ssl;
    bool done = false;   // handshake finished
    bool failed = false; // handshake failed: the session is unusable
    int io_errno = 0;    // errno of the last failed send/recv
    bool by_ip = false;  // name is an IP literal: no SNI, iPAddress SAN check
    unsigned char ip[16] = {};
    size_t ip_len = 0;
    char host[MBEDTLS_SSL_MAX_HOST_NAME_LEN + 1] = {};
    char name[MBEDTLS_SSL_MAX_HOST_NAME_LEN + 1] = {}; // the name verified
    char cert_names[160] = {}; // what the peer's certificate is for, for mismatch messages

    TlsSession(const Alloc &al, const TlsConfig *c, int f) : a(al), config(c), fd(f) {
        mbedtls_ssl_init(&ssl);
    }
    ~TlsSession() { mbedtls_ssl_free(&ssl); }
    TlsSession(const TlsSession &) = delete;
    TlsSession &operator=(const TlsSession &) = delete;
};

namespace {

int bio_send(void *ctx, const unsigned char *buf, size_t len) {
    auto *s = static_cast<TlsSession *>(ctx);
    for (;;) {
        ssize_t r = ::send(s->fd, buf, len, MSG_NOSIGNAL);
        if (r >= 0) return static_cast<int>(r); // mbedTLS never asks for more than a record
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
        s->io_errno = errno;
        return errno == ECONNRESET || errno == EPIPE ? MBEDTLS_ERR_NET_CONN_RESET
                                                     : MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

int bio_recv(void *ctx, unsigned char *buf, size_t len) {
    auto *s = static_cast<TlsSession *>(ctx);
    for (;;) {
        ssize_t r = ::recv(s->fd, buf, len, 0);
        if (r >= 0) return static_cast<int>(r); // 0: EOF, which mbedTLS reports as CONN_EOF
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
        s->io_errno = errno;
        return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

// Calls f(tag, value, length) for each GeneralName of crt's subjectAltName.
// mbedTLS 2.28 documents crt->subject_alt_names as listing only dNSName and
// otherName entries (2.28.3 happens to keep them all), so the extension is
// read from the raw DER instead.
template <class F> void for_each_san(const mbedtls_x509_crt *crt, F f) {
    if (!(crt->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME) || !crt->v3_ext.p) return;
    static const char kOid[] = MBEDTLS_OID_SUBJECT_ALT_NAME;
    unsigned char *p = crt->v3_ext.p;
    const unsigned char *end = p + crt->v3_ext.len;
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
        return;
    end = p + len;
    while (p < end) {
        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
            return;
        const unsigned char *ext_end = p + len;
        size_t oid_len, val_len;
        if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID)) return;
        const unsigned char *oid = p;
        p += oid_len;
        int critical = 0;
        (void)mbedtls_asn1_get_bool(&p, ext_end, &critical); // optional
        if (mbedtls_asn1_get_tag(&p, ext_end, &val_len, MBEDTLS_ASN1_OCTET_STRING)) return;
        if (oid_len == sizeof kOid - 1 && std::memcmp(oid, kOid, oid_len) == 0) {
            const unsigned char *vend = p + val_len;
            if (mbedtls_asn1_get_tag(&p, vend, &len,
                                     MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
                return;
            vend = p + len;
            while (p < vend) {
                unsigned char tag = *p++;
                if (mbedtls_asn1_get_len(&p, vend, &len)) return;
                f(tag, p, len);
                p += len;
            }
            return;
        }
        p = const_cast<unsigned char *>(ext_end);
    }
}

void append_name(char *buf, size_t cap, const char *name, size_t len) {
    size_t used = std::strlen(buf);
    if (used + 2 >= cap) return;
    std::snprintf(buf + used, cap - used, "%s%.*s", used ? ", " : "", static_cast<int>(len), name);
}

constexpr unsigned char kSanDns = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME;
constexpr unsigned char kSanIp = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS;

// Records the names of the peer's certificate and, when the name to verify is
// an IP literal, checks it against the iPAddress SANs (mbedTLS only matches
// dNSName and CN itself).
int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
    auto *s = static_cast<TlsSession *>(ctx);
    if (depth != 0) return 0;
    s->cert_names[0] = 0;
    bool ip_match = false;
    for_each_san(crt, [&](unsigned char tag, const unsigned char *v, size_t len) {
        if (tag == kSanDns) {
            append_name(s->cert_names, sizeof s->cert_names, reinterpret_cast<const char *>(v),
                        len);
        } else if (tag == kSanIp && (len == 4 || len == 16)) {
            char text[INET6_ADDRSTRLEN];
            if (inet_ntop(len == 4 ? AF_INET : AF_INET6, v, text, sizeof text))
                append_name(s->cert_names, sizeof s->cert_names, text, std::strlen(text));
            if (s->by_ip && len == s->ip_len && std::memcmp(v, s->ip, len) == 0) ip_match = true;
        }
    });
    if (!s->cert_names[0]) {
        for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next)
            if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
                append_name(s->cert_names, sizeof s->cert_names,
                            reinterpret_cast<const char *>(n->val.p), n->val.len);
                break;
            }
    }
    if (s->by_ip && !ip_match) *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    return 0;
}

const char *alert_name(int alert) {
    switch (alert) {
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE: return "handshake failure";
    case MBEDTLS_SSL_ALERT_MSG_NO_CERT: return "no certificate";
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT: return "bad certificate";
    case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT: return "unsupported certificate";
    case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED: return "certificate revoked";
    case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED: return "certificate expired";
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN: return "certificate unknown";
    case MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER: return "illegal parameter";
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA: return "unknown CA";
    case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED: return "access denied";
    case MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR: return "decode error";
    case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR: return "decrypt error";
    case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION: return "protocol version";
    case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY: return "insufficient security";
    case MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR: return "internal error";
    case MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME: return "unrecognized name";
    case MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL: return "no application protocol";
    case 116: return "certificate required"; // TLS 1.3 servers
    default: return nullptr;
    }
}

// "localhost", or "10.0.0.5 (verified as db.example)" when server_name differs.
void target_text(const TlsSession *s, char *buf, size_t cap) {
    if (std::strcmp(s->host, s->name) == 0)
        std::snprintf(buf, cap, "%s", s->host);
    else
        std::snprintf(buf, cap, "%s (server name %s)", s->host, s->name);
}

// Appends "; " and a formatted reason to buf.
__attribute__((format(printf, 3, 4))) void add_reason(char *buf, size_t cap, const char *fmt, ...) {
    size_t used = std::strlen(buf);
    if (used && used + 2 < cap) {
        std::memcpy(buf + used, "; ", 3);
        used += 2;
    }
    if (used + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf + used, cap - used, fmt, ap);
    va_end(ap);
}

int verify_failed(TlsSession *s, sy_error *err) {
    uint32_t flags = mbedtls_ssl_get_verify_result(&s->ssl);
    char why[SY_ERROR_MESSAGE_MAX] = {};
    uint32_t known = MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_EXPIRED |
                     MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCERT_CN_MISMATCH |
                     MBEDTLS_X509_BADCERT_REVOKED;
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
        add_reason(why, sizeof why, "unknown CA (not issued by a CA from %s)", s->config->trust);
    if (flags & MBEDTLS_X509_BADCERT_EXPIRED) add_reason(why, sizeof why, "certificate expired");
    if (flags & MBEDTLS_X509_BADCERT_FUTURE)
        add_reason(why, sizeof why, "certificate not yet valid");
    if (flags & MBEDTLS_X509_BADCERT_REVOKED) add_reason(why, sizeof why, "certificate revoked");
    if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
        if (s->cert_names[0])
            add_reason(why, sizeof why,
                       "host name mismatch (certificate is not for %s; it is for %s)", s->name,
                       s->cert_names);
        else
            add_reason(why, sizeof why, "host name mismatch (certificate is not for %s)", s->name);
    }
    if (flags & ~known) {
        char info[512];
        if (mbedtls_x509_crt_verify_info(info, sizeof info, "", flags & ~known) > 0) {
            // One line per flag.
            char *save = nullptr;
            for (char *line = strtok_r(info, "\n", &save); line;
                 line = strtok_r(nullptr, "\n", &save))
                add_reason(why, sizeof why, "%s", line);
        }
    }
    if (!why[0]) add_reason(why, sizeof why, "the certificate was rejected");
    char target[2 * sizeof s->host + 20];
    target_text(s, target, sizeof target);
    return fail(err, SY_ETLS, "", "certificate verification failed for %s: %s", target, why);
}

int handshake_failed(TlsSession *s, int rc, sy_error *err) {
    s->failed = true;
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) return verify_failed(s, err);
    char why[256];
    char mbed[128];
    switch (rc) {
    case MBEDTLS_ERR_SSL_CONN_EOF:
        std::snprintf(why, sizeof why, "peer closed the connection during the handshake");
        break;
    case MBEDTLS_ERR_NET_CONN_RESET:
        std::snprintf(why, sizeof why, "connection reset during the handshake");
        break;
    case MBEDTLS_ERR_NET_SEND_FAILED:
    case MBEDTLS_ERR_NET_RECV_FAILED:
        std::snprintf(why, sizeof why, "%s failed during the handshake: %s",
                      rc == MBEDTLS_ERR_NET_SEND_FAILED ? "send" : "recv",
                      std::strerror(s->io_errno));
        break;
    case MBEDTLS_ERR_SSL_INVALID_RECORD:
    case MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO:
        std::snprintf(why, sizeof why,
                      "the server's reply is not a TLS handshake (is the port "
                      "plaintext?): %s",
                      mbed_reason(rc, mbed, sizeof mbed));
        break;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
        int alert = s->ssl.in_msg && s->ssl.in_msglen >= 2 ? s->ssl.in_msg[1] : -1;
        const char *name = alert_name(alert);
        if (name)
            std::snprintf(why, sizeof why, "the server sent a fatal alert: %s", name);
        else
            std::snprintf(why, sizeof why, "the server sent a fatal alert (%d)", alert);
        break;
    }
    default: std::snprintf(why, sizeof why, "%s", mbed_reason(rc, mbed, sizeof mbed)); break;
    }
    // mbedTLS saw a CertificateRequest: the likeliest cause of the failure.
    const char *hint = s->ssl.client_auth && !s->config->has_own
                           ? " (the server asked for a client certificate and none is "
                             "configured: set cert_file and key_file)"
                           : "";
    char target[2 * sizeof s->host + 20];
    target_text(s, target, sizeof target);
    return fail(err, SY_ETLS, "", "TLS handshake with %s failed: %s%s", target, why, hint);
}

// After the handshake: what a failed read or write means.
int io_failed(TlsSession *s, int rc, const char *op, sy_error *err) {
    char mbed[128];
    switch (rc) {
    case MBEDTLS_ERR_NET_CONN_RESET:
        return fail(err, SY_EIO, "", "TLS %s on the connection to %s: connection reset by peer", op,
                    s->host);
    case MBEDTLS_ERR_NET_SEND_FAILED:
    case MBEDTLS_ERR_NET_RECV_FAILED:
        return fail(err, SY_EIO, "", "TLS %s on the connection to %s failed: %s", op, s->host,
                    std::strerror(s->io_errno));
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
        int alert = s->ssl.in_msg && s->ssl.in_msglen >= 2 ? s->ssl.in_msg[1] : -1;
        const char *name = alert_name(alert);
        return fail(err, SY_ETLS, "",
                    "TLS %s on the connection to %s: the peer sent a fatal "
                    "alert: %s",
                    op, s->host, name ? name : "unknown");
    }
    default:
        return fail(err, SY_ETLS, "", "TLS %s on the connection to %s failed: %s", op, s->host,
                    mbed_reason(rc, mbed, sizeof mbed));
    }
}

} // namespace

int tls_session_new(const Alloc &a, const TlsConfig *c, int fd, const char *host, TlsSession **out,
                    sy_error *err) {
    if (!c || fd < 0) return fail(err, SY_EINVAL, "", "TLS session: no config or no socket");
    const char *name = c->server_name ? c->server_name : host;
    if (!host) host = name;
    if (!name || !name[0]) return fail(err, SY_EINVAL, "", "TLS session: no host name to verify");
    if (std::strlen(host) > MBEDTLS_SSL_MAX_HOST_NAME_LEN ||
        std::strlen(name) > MBEDTLS_SSL_MAX_HOST_NAME_LEN)
        return fail(err, SY_EINVAL, "",
                    "TLS session: host name longer than %d characters: %.64s...",
                    MBEDTLS_SSL_MAX_HOST_NAME_LEN, host);
    TlsSession *s = a.make<TlsSession>(a, c, fd);
    if (!s) return fail(err, SY_ENOMEM, "", "out of memory starting TLS with %s", host);
    std::snprintf(s->host, sizeof s->host, "%s", host);
    std::snprintf(s->name, sizeof s->name, "%s", name);
    char mbed[128];
    int rc = mbedtls_ssl_setup(&s->ssl, &c->conf);
    s->by_ip = ip_literal(name, s->ip, &s->ip_len);
    // An IP literal: no SNI (RFC 6066), and mbedTLS must not compare it with
    // the dNSNames, so it gets no host name at all; verify_cb checks it.
    if (!rc && !s->by_ip) rc = mbedtls_ssl_set_hostname(&s->ssl, name);
    if (rc) {
        int code = rc == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SY_ENOMEM : SY_ETLS;
        fail(err, code, "", "cannot start TLS with %s: %s", host,
             mbed_reason(rc, mbed, sizeof mbed));
        a.destroy(s);
        return code;
    }
    if (c->verify) mbedtls_ssl_set_verify(&s->ssl, verify_cb, s);
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, nullptr);
    *out = s;
    return SY_OK;
}

int tls_handshake(TlsSession *s, Want *want, sy_error *err) {
    *want = Want::Done;
    if (s->done) return SY_OK;
    if (s->failed) return fail(err, SY_ETLS, "", "TLS handshake with %s already failed", s->host);
    int rc = mbedtls_ssl_handshake(&s->ssl);
    if (rc == 0) {
        s->done = true;
        return SY_OK;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ) {
        *want = Want::Read;
        return SY_OK;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        *want = Want::Write;
        return SY_OK;
    }
    return handshake_failed(s, rc, err);
}

int tls_write(TlsSession *s, const void *buf, size_t len, size_t *n, Want *want, sy_error *err) {
    *n = 0;
    *want = Want::Done;
    if (!s->done)
        return fail(err, SY_EMISUSE, "", "TLS write to %s before the handshake is done", s->host);
    if (len == 0) return SY_OK;
    int rc = mbedtls_ssl_write(&s->ssl, static_cast<const unsigned char *>(buf), len);
    if (rc > 0) {
        *n = static_cast<size_t>(rc);
        return SY_OK;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ) {
        *want = rc == MBEDTLS_ERR_SSL_WANT_WRITE ? Want::Write : Want::Read;
        return SY_OK;
    }
    return io_failed(s, rc, "write", err);
}

int tls_read(TlsSession *s, void *buf, size_t cap, size_t *n, Want *want, sy_error *err) {
    *n = 0;
    *want = Want::Done;
    if (!s->done)
        return fail(err, SY_EMISUSE, "", "TLS read from %s before the handshake is done", s->host);
    if (cap == 0) {
        *want = Want::Read;
        return SY_OK;
    }
    int rc = mbedtls_ssl_read(&s->ssl, static_cast<unsigned char *>(buf), cap);
    if (rc > 0) {
        *n = static_cast<size_t>(rc);
        return SY_OK;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        *want = rc == MBEDTLS_ERR_SSL_WANT_READ ? Want::Read : Want::Write;
        return SY_OK;
    }
    // Peer closed: close_notify, or a bare EOF (many servers skip close_notify).
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF)
        return SY_OK;
    return io_failed(s, rc, "read", err);
}

size_t tls_pending(const TlsSession *s) { return mbedtls_ssl_get_bytes_avail(&s->ssl); }

const char *tls_version(const TlsSession *s) {
    return s->done ? mbedtls_ssl_get_version(&s->ssl) : nullptr;
}

const char *tls_ciphersuite(const TlsSession *s) {
    return s->done ? mbedtls_ssl_get_ciphersuite(&s->ssl) : nullptr;
}

void tls_session_free(TlsSession *s, bool notify) {
    if (!s) return;
    // A non-blocking socket: the alert goes out now or never.
    if (notify && s->done && !s->failed) (void)mbedtls_ssl_close_notify(&s->ssl);
    Alloc a = s->a;
    a.destroy(s);
}

} // namespace sy::net
