// The connector's TLS layer (core/connect/tls.cpp) called directly, against
// TLS servers on loopback (tests/support/tls_server.c) with certificates
// made at run time (tests/support/certs.c). A small poll() loop plays the
// connector. The last case checks that no file descriptor and no byte of the
// layer's allocator leaked.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka.h has no extern "C" of its own
extern "C" {
#include <cmocka.h>
}

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "connect/tls.hpp"
#include "support/certs.h"
#include "support/tls_server.h"

namespace net = sy::net;

namespace {

test_certs g_certs;
int g_fds_before = -1;
std::atomic<long> g_live_bytes{0};

void *count_alloc(size_t size, size_t align, void *) {
    void *p = nullptr;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1))
        return nullptr;
    g_live_bytes += static_cast<long>(size);
    return p;
}

void count_free(void *p, size_t size, void *) {
    g_live_bytes -= static_cast<long>(size);
    std::free(p);
}

sy::Alloc test_alloc() {
    static sy_allocator a = {sizeof(sy_allocator), count_alloc, count_free, nullptr};
    return sy::Alloc::from(&a);
}

int count_fds() {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (struct dirent *e = readdir(d))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; // the directory's own
}

int64_t now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

sy_error new_error() { return SY_STRUCT_INIT(sy_error); }

// A non-blocking socket connected to 127.0.0.1:port, or -1.
int tcp_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0) return fd;
    if (errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (poll(&p, 1, 5000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
            soerr == 0)
            return fd;
    }
    close(fd);
    return -1;
}

bool wait_for(int fd, net::Want w, int timeout_ms) {
    pollfd p{fd, static_cast<short>(w == net::Want::Write ? POLLOUT : POLLIN), 0};
    return poll(&p, 1, timeout_ms) == 1;
}

struct Client {
    net::TlsConfig *config = nullptr; // owned unless from a cache
    net::TlsSession *session = nullptr;
    int fd = -1;
    bool only_reads = true; // every Want the handshake returned was Read
};

void close_client(Client *c, bool notify = true) {
    net::tls_session_free(c->session, notify);
    if (c->fd >= 0) close(c->fd);
    net::tls_config_free(c->config);
    *c = Client{};
}

// Drives the handshake like the connector: poll on what it wants, until done,
// failed, or cap_ms ran out (SY_ETIMEOUT).
int drive(Client *c, int cap_ms, sy_error *err) {
    int64_t end = now_ms() + cap_ms;
    for (;;) {
        net::Want w;
        int rc = net::tls_handshake(c->session, &w, err);
        if (rc || w == net::Want::Done) return rc;
        if (w != net::Want::Read) c->only_reads = false;
        int64_t left = end - now_ms();
        if (left <= 0 || !wait_for(c->fd, w, static_cast<int>(left))) return SY_ETIMEOUT;
    }
}

// Connects to the server's port and handshakes with a config of its own (or
// `shared`), host as the target. The status of the first step that failed.
int open_client(const net::TlsSettings &st, int port, const char *host, Client *c, sy_error *err,
                int cap_ms = 5000, const net::TlsConfig *shared = nullptr) {
    *c = Client{};
    const net::TlsConfig *config = shared;
    if (!config) {
        int rc = net::tls_config_new(test_alloc(), st, &c->config, err);
        if (rc) return rc;
        config = c->config;
    }
    if ((c->fd = tcp_connect(port)) < 0) return SY_ECONNECT;
    int rc = net::tls_session_new(test_alloc(), config, c->fd, host, &c->session, err);
    if (rc) return rc;
    return drive(c, cap_ms, err);
}

// Sends len bytes and reads them back, both directions at once so that a big
// payload cannot deadlock on full socket buffers. false on any failure.
bool echo(Client *c, size_t len) {
    unsigned char *out = static_cast<unsigned char *>(std::malloc(len));
    unsigned char *in = static_cast<unsigned char *>(std::malloc(len));
    for (size_t i = 0; i < len; i++) out[i] = static_cast<unsigned char>(i * 7 + 3);
    size_t sent = 0, got = 0, chunk = 0;
    bool ok = true;
    int64_t end = now_ms() + 5000;
    sy_error err = new_error();
    while (ok && got < len) {
        short events = 0;
        bool progress = false;
        size_t n;
        net::Want w;
        if (sent < len) {
            // After Want::Write the same buffer and length must come again.
            if (!chunk) chunk = len - sent < 40000 ? len - sent : 40000;
            if (net::tls_write(c->session, out + sent, chunk, &n, &w, &err)) {
                ok = false;
                break;
            }
            if (n) {
                sent += n;
                chunk = 0;
                progress = true;
            } else {
                events |= w == net::Want::Write ? POLLOUT : POLLIN;
            }
        }
        if (net::tls_read(c->session, in + got, len - got, &n, &w, &err)) {
            ok = false;
            break;
        }
        if (n) {
            got += n;
            progress = true;
        } else if (w == net::Want::Done) {
            ok = false; // the server closed
            break;
        } else {
            events |= w == net::Want::Write ? POLLOUT : POLLIN;
        }
        if (progress) continue;
        int64_t left = end - now_ms();
        pollfd p{c->fd, events, 0};
        if (left <= 0 || poll(&p, 1, static_cast<int>(left)) < 0) ok = false;
    }
    if (!ok) std::fprintf(stderr, "echo failed after %zu/%zu bytes: %s\n", got, len, err.message);
    ok = ok && std::memcmp(in, out, len) == 0;
    std::free(out);
    std::free(in);
    return ok;
}

// Reads until cap bytes, the peer's close (*closed) or 5 s.
size_t read_some(Client *c, char *buf, size_t cap, bool *closed, int *rc_out) {
    size_t got = 0;
    *closed = false;
    *rc_out = SY_OK;
    int64_t end = now_ms() + 5000;
    while (got < cap) {
        size_t n;
        net::Want w;
        sy_error err = new_error();
        int rc = net::tls_read(c->session, buf + got, cap - got, &n, &w, &err);
        if (rc) {
            *rc_out = rc;
            break;
        }
        if (n) {
            got += n;
            continue;
        }
        if (w == net::Want::Done) {
            *closed = true;
            break;
        }
        int64_t left = end - now_ms();
        if (left <= 0 || !wait_for(c->fd, w, static_cast<int>(left))) break;
    }
    return got;
}

tls_server *start(tls_server_mode mode, const char *cert, const char *client_ca = nullptr,
                  const char *greeting = nullptr) {
    tls_server_options o{};
    o.mode = mode;
    o.cert_file = cert;
    o.key_file = g_certs.server_key;
    o.client_ca_file = client_ca;
    o.greeting = greeting;
    tls_server *s = tls_server_start(&o);
    assert_non_null(s);
    return s;
}

net::TlsSettings trusting_ca() {
    net::TlsSettings st;
    st.ca_file = g_certs.ca_cert;
    return st;
}

bool has(const char *text, const char *part) { return std::strstr(text, part) != nullptr; }

// A handshake expected to fail: its status and message.
int expect_failure(tls_server *srv, const net::TlsSettings &st, const char *host, sy_error *err) {
    Client c;
    int rc = open_client(st, tls_server_port(srv), host, &c, err);
    close_client(&c);
    if (getenv("SY_TEST_VERBOSE"))
        std::fprintf(stderr, "  %s: %s\n", sy_status_name(rc), err->message);
    return rc;
}

// ---------------------------------------------------------------- fixtures

int group_setup(void **) {
    g_fds_before = count_fds();
    return test_certs_make(&g_certs);
}

int group_teardown(void **) {
    test_certs_cleanup(&g_certs);
    return 0;
}

// ---------------------------------------------------------------- cases

void test_echo_with_ca_file(void **) {
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.server_cert);
    Client c;
    sy_error err = new_error();
    int rc = open_client(trusting_ca(), tls_server_port(srv), "localhost", &c, &err);
    if (rc) std::fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, SY_OK);
    assert_string_equal(net::tls_version(c.session), "TLSv1.2");
    assert_non_null(net::tls_ciphersuite(c.session));
    assert_true(has(net::tls_ciphersuite(c.session), "ECDHE"));
    assert_true(echo(&c, 11));
    // Bigger than a record and than the socket buffers: partial writes.
    assert_true(echo(&c, 3 * 1024 * 1024));
    char sni[256];
    assert_int_equal(tls_server_last_sni(srv, sni, sizeof sni), 1);
    assert_string_equal(sni, "localhost");
    close_client(&c);
    tls_server_stop(srv);
}

void test_echo_with_ca_dir(void **) {
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.server_cert);
    net::TlsSettings st;
    st.ca_dir = g_certs.ca_dir;
    Client c;
    sy_error err = new_error();
    int rc = open_client(st, tls_server_port(srv), "localhost", &c, &err);
    if (rc) std::fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, SY_OK);
    assert_true(echo(&c, 1000));
    close_client(&c);
    tls_server_stop(srv);
}

void test_ip_host_sends_no_sni_and_checks_ip_san(void **) {
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.server_cert);
    Client c;
    sy_error err = new_error();
    int rc = open_client(trusting_ca(), tls_server_port(srv), "127.0.0.1", &c, &err);
    if (rc) std::fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, SY_OK);
    assert_true(echo(&c, 100));
    char sni[256] = "unset";
    assert_int_equal(tls_server_last_sni(srv, sni, sizeof sni), 0);
    assert_string_equal(sni, "");
    assert_int_equal(tls_server_handshakes(srv), 1);
    close_client(&c);
    tls_server_stop(srv);

    // The same address against a certificate without it.
    srv = start(TLS_SERVER_ECHO, g_certs.other_cert);
    err = new_error();
    assert_int_equal(expect_failure(srv, trusting_ca(), "127.0.0.1", &err), SY_ETLS);
    assert_true(has(err.message, "certificate verification failed for 127.0.0.1"));
    assert_true(has(err.message, "host name mismatch"));
    assert_true(has(err.message, "other.example"));
    tls_server_stop(srv);
}

void test_server_name_overrides_host(void **) {
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.other_cert);
    net::TlsSettings st = trusting_ca();
    st.server_name = "other.example";
    Client c;
    sy_error err = new_error();
    int rc = open_client(st, tls_server_port(srv), "127.0.0.1", &c, &err);
    if (rc) std::fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, SY_OK);
    assert_true(echo(&c, 10));
    char sni[256];
    assert_int_equal(tls_server_last_sni(srv, sni, sizeof sni), 1);
    assert_string_equal(sni, "other.example");
    close_client(&c);

    // And a server_name the certificate is not for fails, naming both.
    st.server_name = "localhost";
    err = new_error();
    assert_int_equal(expect_failure(srv, st, "10.1.2.3", &err), SY_ETLS);
    assert_true(has(err.message, "10.1.2.3 (server name localhost)"));
    assert_true(has(err.message, "host name mismatch (certificate is not for localhost"));
    tls_server_stop(srv);
}

void test_unknown_ca(void **) {
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.unknown_ca_cert);
    sy_error err = new_error();
    assert_int_equal(expect_failure(srv, trusting_ca(), "localhost", &err), SY_ETLS);
    assert_true(has(err.message, "certificate verification failed for localhost: unknown CA"));
    assert_true(has(err.message, g_certs.ca_cert));
    assert_false(has(err.message, "mismatch"));
    tls_server_stop(srv);
}

void test_expired_and_not_yet_valid(void **) {
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.expired_cert);
    sy_error err = new_error();
    assert_int_equal(expect_failure(srv, trusting_ca(), "localhost", &err), SY_ETLS);
    assert_true(
        has(err.message, "certificate verification failed for localhost: certificate expired"));
    assert_false(has(err.message, "unknown CA"));
    tls_server_stop(srv);

    srv = start(TLS_SERVER_ECHO, g_certs.future_cert);
    err = new_error();
    assert_int_equal(expect_failure(srv, trusting_ca(), "localhost", &err), SY_ETLS);
    assert_true(has(err.message, "certificate not yet valid"));
    tls_server_stop(srv);
}

void test_host_name_mismatch(void **) {
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.other_cert);
    sy_error err = new_error();
    assert_int_equal(expect_failure(srv, trusting_ca(), "localhost", &err), SY_ETLS);
    assert_true(has(err.message, "certificate verification failed for localhost: host name "
                                 "mismatch (certificate is not for localhost; it is for "
                                 "other.example)"));
    tls_server_stop(srv);
}

void test_insecure_skip_verify(void **) {
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.unknown_ca_cert);
    net::TlsSettings st;
    st.insecure_skip_verify = true;
    Client c;
    sy_error err = new_error();
    int rc = open_client(st, tls_server_port(srv), "not-the-name.example", &c, &err);
    if (rc) std::fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, SY_OK);
    assert_true(echo(&c, 64));
    close_client(&c);
    tls_server_stop(srv);
}

void test_system_store_fallback(void **) {
    // Neither ca_file nor ca_dir: the system store, which does not know our CA.
    net::TlsSettings st;
    net::TlsConfig *config = nullptr;
    sy_error err = new_error();
    int rc = net::tls_config_new(test_alloc(), st, &config, &err);
    if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) != 0) {
        assert_int_equal(rc, SY_ETLS);
        assert_true(has(err.message, "set ca_file or ca_dir"));
        return;
    }
    assert_int_equal(rc, SY_OK);
    net::tls_config_free(config);
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.server_cert);
    err = new_error();
    assert_int_equal(expect_failure(srv, st, "localhost", &err), SY_ETLS);
    assert_true(has(err.message, "unknown CA"));
    assert_true(has(err.message, "system store"));
    tls_server_stop(srv);
}

void test_client_certificate(void **) {
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.server_cert, g_certs.ca_cert);
    sy_error err = new_error();
    assert_int_equal(expect_failure(srv, trusting_ca(), "localhost", &err), SY_ETLS);
    assert_true(has(err.message, "TLS handshake with localhost failed"));
    assert_true(has(err.message, "client certificate"));

    net::TlsSettings st = trusting_ca();
    st.cert_file = g_certs.client_cert;
    st.key_file = g_certs.client_key;
    Client c;
    err = new_error();
    int rc = open_client(st, tls_server_port(srv), "localhost", &c, &err);
    if (rc) std::fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, SY_OK);
    assert_true(echo(&c, 5000));
    close_client(&c);
    assert_int_equal(tls_server_handshakes(srv), 1);
    tls_server_stop(srv);
}

void test_silent_server_never_completes(void **) {
    tls_server *srv = start(TLS_SERVER_SILENT, nullptr);
    Client c;
    sy_error err = new_error();
    int64_t t0 = now_ms();
    int rc = open_client(trusting_ca(), tls_server_port(srv), "localhost", &c, &err, 200);
    int64_t took = now_ms() - t0;
    assert_int_equal(rc, SY_ETIMEOUT); // the caller's clock ran out; the layer kept waiting
    assert_true(c.only_reads);
    assert_true(took >= 190);
    assert_null(net::tls_version(c.session));
    // Still waiting, not failed.
    net::Want w;
    assert_int_equal(net::tls_handshake(c.session, &w, &err), SY_OK);
    assert_int_equal(static_cast<int>(w), static_cast<int>(net::Want::Read));
    close_client(&c);
    assert_int_equal(tls_server_accepted(srv), 1);
    tls_server_stop(srv);
}

void test_reset_and_hangup_during_handshake(void **) {
    tls_server *srv = start(TLS_SERVER_RESET, nullptr);
    sy_error err = new_error();
    int rc = expect_failure(srv, trusting_ca(), "localhost", &err);
    assert_true(rc == SY_ETLS || rc == SY_EIO);
    assert_true(has(err.message, "localhost"));
    assert_true(has(err.message, "connection reset during the handshake"));
    tls_server_stop(srv);

    srv = start(TLS_SERVER_HANGUP, nullptr);
    err = new_error();
    rc = expect_failure(srv, trusting_ca(), "localhost", &err);
    assert_int_equal(rc, SY_ETLS);
    assert_true(has(err.message, "peer closed the connection during the handshake"));
    tls_server_stop(srv);
}

// A port that answers in plain text: no thread needed, the test plays both ends.
void test_plaintext_server(void **) {
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(lfd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, reinterpret_cast<sockaddr *>(&a), &len), 0);
    Client c;
    sy_error err = new_error();
    assert_int_equal(net::tls_config_new(test_alloc(), trusting_ca(), &c.config, &err), SY_OK);
    c.fd = tcp_connect(ntohs(a.sin_port));
    assert_true(c.fd >= 0);
    int sfd = accept(lfd, nullptr, nullptr);
    assert_true(sfd >= 0);
    const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(send(sfd, reply, sizeof reply - 1, MSG_NOSIGNAL), sizeof reply - 1);
    assert_int_equal(
        net::tls_session_new(test_alloc(), c.config, c.fd, "localhost", &c.session, &err), SY_OK);
    int rc = drive(&c, 5000, &err);
    if (getenv("SY_TEST_VERBOSE"))
        std::fprintf(stderr, "  %s: %s\n", sy_status_name(rc), err.message);
    assert_int_equal(rc, SY_ETLS);
    assert_true(has(err.message, "TLS handshake with localhost failed: the server's reply is not a "
                                 "TLS handshake"));
    close_client(&c);
    close(sfd);
    close(lfd);
}

void test_config_errors(void **) {
    net::TlsConfig *config = nullptr;
    sy_error err = new_error();
    net::TlsSettings st;
    st.ca_file = "/nonexistent/sy-test/ca.pem";
    assert_int_equal(net::tls_config_new(test_alloc(), st, &config, &err), SY_ETLS);
    assert_true(has(err.message, "/nonexistent/sy-test/ca.pem"));
    assert_true(has(err.message, "No such file"));
    assert_null(config);

    st.ca_file = g_certs.server_key; // a key, not a certificate
    err = new_error();
    assert_int_equal(net::tls_config_new(test_alloc(), st, &config, &err), SY_ETLS);
    assert_true(has(err.message, g_certs.server_key));
    assert_true(has(err.message, "ca_file"));

    st = trusting_ca();
    st.ca_dir = "/nonexistent/sy-test-dir";
    err = new_error();
    assert_int_equal(net::tls_config_new(test_alloc(), st, &config, &err), SY_ETLS);
    assert_true(has(err.message, "ca_dir /nonexistent/sy-test-dir"));

    st = trusting_ca();
    st.cert_file = g_certs.client_cert;
    err = new_error();
    assert_int_equal(net::tls_config_new(test_alloc(), st, &config, &err), SY_ETLS);
    assert_true(has(err.message, "cert_file"));
    assert_true(has(err.message, "key_file"));

    st = trusting_ca();
    st.key_file = g_certs.client_key;
    err = new_error();
    assert_int_equal(net::tls_config_new(test_alloc(), st, &config, &err), SY_ETLS);
    assert_true(has(err.message, "cert_file"));
    assert_true(has(err.message, "key_file"));

    st.cert_file = g_certs.client_cert;
    st.key_file = g_certs.server_key;
    err = new_error();
    assert_int_equal(net::tls_config_new(test_alloc(), st, &config, &err), SY_ETLS);
    assert_true(has(err.message, "does not match"));
    assert_null(config);
}

void test_cache(void **) {
    net::TlsCache *cache = net::tls_cache_new(test_alloc(), 4);
    assert_non_null(cache);
    // Equal content through different pointers.
    char *ca1 = strdup(g_certs.ca_cert);
    char *ca2 = strdup(g_certs.ca_cert);
    net::TlsSettings a;
    a.ca_file = ca1;
    net::TlsSettings a2;
    a2.ca_file = ca2;
    net::TlsSettings b;
    b.ca_dir = g_certs.ca_dir;
    net::TlsSettings c = a;
    c.server_name = "localhost";
    const net::TlsConfig *pa = nullptr, *pa2 = nullptr, *pb = nullptr, *pc = nullptr;
    sy_error err = new_error();
    assert_int_equal(net::tls_cache_get(cache, a, &pa, &err), SY_OK);
    assert_int_equal(net::tls_cache_get(cache, a2, &pa2, &err), SY_OK);
    assert_ptr_equal(pa, pa2);
    assert_int_equal(net::tls_cache_get(cache, b, &pb, &err), SY_OK);
    assert_int_equal(net::tls_cache_get(cache, c, &pc, &err), SY_OK);
    assert_ptr_not_equal(pa, pb);
    assert_ptr_not_equal(pa, pc);
    assert_ptr_not_equal(pb, pc);
    assert_int_equal(net::tls_cache_size(cache), 3);

    // Failures are not cached.
    net::TlsSettings bad;
    bad.ca_file = "/nonexistent/sy-test/ca.pem";
    const net::TlsConfig *pbad = nullptr;
    for (int i = 0; i < 2; i++) {
        err = new_error();
        assert_int_equal(net::tls_cache_get(cache, bad, &pbad, &err), SY_ETLS);
        assert_true(has(err.message, "/nonexistent/sy-test/ca.pem"));
    }
    assert_null(pbad);
    assert_int_equal(net::tls_cache_size(cache), 3);

    // Full: a new setting is refused, known ones still served.
    net::TlsSettings d = b;
    d.insecure_skip_verify = true;
    net::TlsSettings e = b;
    e.server_name = "x.example";
    const net::TlsConfig *pd = nullptr, *pe = nullptr;
    assert_int_equal(net::tls_cache_get(cache, d, &pd, &err), SY_OK);
    err = new_error();
    assert_int_equal(net::tls_cache_get(cache, e, &pe, &err), SY_ELIMIT);
    assert_true(has(err.message, "TLS settings"));
    assert_null(pe);
    assert_int_equal(net::tls_cache_get(cache, a2, &pa2, &err), SY_OK);
    assert_ptr_equal(pa, pa2);

    // A cached config connects.
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.server_cert);
    Client cl;
    err = new_error();
    int rc = open_client(a, tls_server_port(srv), "localhost", &cl, &err, 5000, pa);
    if (rc) std::fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, SY_OK);
    assert_true(echo(&cl, 100));
    close_client(&cl);
    tls_server_stop(srv);

    std::free(ca1);
    std::free(ca2);
    net::tls_cache_free(cache);
}

void test_read_sees_peer_close(void **) {
    const tls_server_mode modes[] = {TLS_SERVER_CLOSE,
                                     TLS_SERVER_DROP}; // with, without close_notify
    for (tls_server_mode mode : modes) {
        tls_server *srv = start(mode, g_certs.server_cert, nullptr, "hello world");
        Client c;
        sy_error err = new_error();
        int rc = open_client(trusting_ca(), tls_server_port(srv), "localhost", &c, &err);
        if (rc) std::fprintf(stderr, "%s\n", err.message);
        assert_int_equal(rc, SY_OK);
        char buf[64] = {};
        bool closed = false;
        size_t got = read_some(&c, buf, 5, &closed, &rc);
        assert_int_equal(got, 5);
        assert_memory_equal(buf, "hello", 5);
        // The rest of the record is decrypted and buffered.
        assert_int_equal(net::tls_pending(c.session), 6);
        got = read_some(&c, buf, sizeof buf, &closed, &rc);
        assert_int_equal(rc, SY_OK);
        assert_int_equal(got, 6);
        assert_memory_equal(buf, " world", 6);
        assert_true(closed);
        assert_int_equal(net::tls_pending(c.session), 0);
        close_client(&c);
        tls_server_stop(srv);
    }
}

void test_misuse(void **) {
    tls_server *srv = start(TLS_SERVER_SILENT, nullptr);
    net::TlsConfig *config = nullptr;
    sy_error err = new_error();
    assert_int_equal(net::tls_config_new(test_alloc(), trusting_ca(), &config, &err), SY_OK);
    int fd = tcp_connect(tls_server_port(srv));
    assert_true(fd >= 0);
    net::TlsSession *s = nullptr;
    assert_int_equal(net::tls_session_new(test_alloc(), config, fd, nullptr, &s, &err), SY_EINVAL);
    assert_int_equal(net::tls_session_new(test_alloc(), config, fd, "localhost", &s, &err), SY_OK);
    size_t n = 1;
    net::Want w;
    assert_int_equal(net::tls_write(s, "x", 1, &n, &w, &err), SY_EMISUSE);
    assert_int_equal(n, 0);
    char buf[4];
    assert_int_equal(net::tls_read(s, buf, sizeof buf, &n, &w, &err), SY_EMISUSE);
    net::tls_session_free(s, true);
    net::tls_session_free(nullptr, true);
    close(fd);
    net::tls_config_free(config);
    net::tls_config_free(nullptr);
    net::tls_cache_free(nullptr);
    tls_server_stop(srv);
    tls_server_stop(nullptr);
}

// Many threads, one cached config: handshakes share its DRBG, CA chain and
// keys (CI runs this under TSan too).
struct ThreadArgs {
    net::TlsCache *cache;
    int port;
    std::atomic<int> *failures;
};

void *connect_thread(void *p) {
    auto *a = static_cast<ThreadArgs *>(p);
    net::TlsSettings st = trusting_ca();
    st.cert_file = g_certs.client_cert;
    st.key_file = g_certs.client_key;
    for (int i = 0; i < 4; i++) {
        sy_error err = new_error();
        const net::TlsConfig *config = nullptr;
        Client c;
        int rc = net::tls_cache_get(a->cache, st, &config, &err);
        if (!rc)
            rc =
                open_client(st, a->port, i % 2 ? "localhost" : "127.0.0.1", &c, &err, 5000, config);
        if (rc || !echo(&c, 2000)) {
            std::fprintf(stderr, "thread connect failed: %s\n", err.message);
            ++*a->failures;
        }
        close_client(&c);
    }
    return nullptr;
}

void test_concurrent_handshakes(void **) {
    tls_server *srv = start(TLS_SERVER_ECHO, g_certs.server_cert, g_certs.ca_cert);
    net::TlsCache *cache = net::tls_cache_new(test_alloc(), 8);
    std::atomic<int> failures{0};
    ThreadArgs args{cache, tls_server_port(srv), &failures};
    pthread_t t[6];
    for (pthread_t &th : t)
        assert_int_equal(pthread_create(&th, nullptr, connect_thread, &args), 0);
    for (pthread_t &th : t) pthread_join(th, nullptr);
    assert_int_equal(failures.load(), 0);
    assert_int_equal(net::tls_cache_size(cache), 1);
    assert_int_equal(tls_server_handshakes(srv), 24);
    net::tls_cache_free(cache);
    tls_server_stop(srv);
}

// Last: everything the cases opened is closed, everything allocated freed.
void test_no_leaks(void **) {
    assert_int_equal(count_fds(), g_fds_before);
    assert_int_equal(g_live_bytes.load(), 0);
}

} // namespace

int main() {
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_with_ca_file),
        cmocka_unit_test(test_echo_with_ca_dir),
        cmocka_unit_test(test_ip_host_sends_no_sni_and_checks_ip_san),
        cmocka_unit_test(test_server_name_overrides_host),
        cmocka_unit_test(test_unknown_ca),
        cmocka_unit_test(test_expired_and_not_yet_valid),
        cmocka_unit_test(test_host_name_mismatch),
        cmocka_unit_test(test_insecure_skip_verify),
        cmocka_unit_test(test_system_store_fallback),
        cmocka_unit_test(test_client_certificate),
        cmocka_unit_test(test_silent_server_never_completes),
        cmocka_unit_test(test_reset_and_hangup_during_handshake),
        cmocka_unit_test(test_plaintext_server),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_read_sees_peer_close),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_concurrent_handshakes),
        cmocka_unit_test(test_no_leaks),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
