// The proxy-tunnel codec against real proxies on loopback: tinyproxy (HTTP
// CONNECT) and microsocks (SOCKS5), each with and without a credential,
// started by the test from the Debian packages (tests/support/proxies.c),
// in front of an echo server (tests/support/echo_server.c). Each case opens
// a blocking socket to a proxy, runs the handshake the way the connector
// does (peek, feed, take exactly what was used), then sends bytes through
// the tunnel and reads them back. Wrong or missing credentials and a closed
// destination port fail with the right status and message; a chain
// microsocks -> tinyproxy -> echo works; no test leaks a descriptor.
//
// A missing proxy binary skips the cases that need it (exit 77 when any
// case was skipped, so meson shows SKIP); with SY_REQUIRE_PROXIES=1 in the
// environment it fails them instead.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka.h has no extern "C" of its own
extern "C" {
#include <cmocka.h>
}

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "connect/proxy.hpp"
#include "support/echo_server.h"
#include "support/proxies.h"

using sy::net::Tunnel;

namespace {

const char *const kUser = "alice";
const char *const kPass = "s3cret-Pw";
const char *const kCookie = "alice:s3cret-Pw";
const char *const kWrongCookie = "alice:wrong";

struct World {
    echo_server echo{};
    int echo_port = -1;
    echo_server echo6{}; // on ::1, when the machine has IPv6 loopback
    int echo6_port = -1;
    test_proxy http{}, http_auth{}, socks{}, socks_auth{};
    int http_rc = -1, http_auth_rc = -1, socks_rc = -1, socks_auth_rc = -1;
};
World g;
bool g_skipped = false; // a proxy is not installed
int g_fds_before_test = 0;

int count_fds() {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (dirent *e = readdir(d))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; // the directory's own descriptor
}

bool require_proxies() {
    const char *v = std::getenv("SY_REQUIRE_PROXIES");
    return v && *v && std::strcmp(v, "0") != 0;
}

// The proxy is up, or the case is skipped (not installed) or fails.
void need(int rc, const test_proxy &p, const char *what) {
    if (rc == TEST_PROXY_NOT_INSTALLED) {
        if (require_proxies())
            fail_msg("%s is not installed (SY_REQUIRE_PROXIES is set): run tests/ci/install-deps.sh",
                     test_proxy_name(static_cast<test_proxy_kind>(p.kind)));
        std::fprintf(stderr, "%s: %s is not installed: skipped\n", what,
                     test_proxy_name(static_cast<test_proxy_kind>(p.kind)));
        g_skipped = true;
        skip();
    }
    if (rc != 0) fail_msg("%s (%s) did not start: see above", what,
                          test_proxy_name(static_cast<test_proxy_kind>(p.kind)));
}

int connect_to(const char *ip, uint16_t port) {
    sockaddr_storage ss{};
    socklen_t sl;
    auto *a4 = reinterpret_cast<sockaddr_in *>(&ss);
    auto *a6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        sl = sizeof *a4;
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &a6->sin6_addr), 1);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        sl = sizeof *a6;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    timeval tv{5, 0}; // no case hangs: a stuck read fails it
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1; // no Nagle wait on each echoed chunk
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<sockaddr *>(&ss), sl) != 0) {
        int e = errno;
        close(fd);
        fail_msg("connect %s:%u: %s", ip, port, std::strerror(e));
    }
    return fd;
}

// The handshake as the connector runs it: send what the tunnel has, peek
// at what the proxy sent, feed it, take exactly *used bytes off the socket.
int handshake(int fd, Tunnel &t, uint32_t proto, const char *host, uint32_t port,
              const char *cookie, uint16_t hop_port, sy_error *err) {
    char hop[64];
    std::snprintf(hop, sizeof hop, "proxy 127.0.0.1:%u", hop_port);
    int rc = t.start(proto, host, port, cookie, hop, err);
    if (rc) return rc;
    uint8_t buf[2048];
    for (;;) {
        size_t len = 0;
        const uint8_t *o = t.out(&len);
        if (len) {
            ssize_t n = send(fd, o, len, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) fail_msg("send to %s: %s", hop, std::strerror(errno));
            t.wrote(static_cast<size_t>(n));
            continue;
        }
        ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            std::snprintf(err->message, sizeof err->message, "%s closed the connection", hop);
            return err->code = SY_EIO;
        }
        if (n < 0) fail_msg("recv from %s: %s", hop, std::strerror(errno));
        size_t used = SIZE_MAX;
        rc = t.feed(buf, static_cast<size_t>(n), &used, err);
        assert_true(used <= static_cast<size_t>(n));
        if (used) assert_int_equal(recv(fd, buf, used, 0), static_cast<ssize_t>(used));
        if (rc != 1) return rc;
    }
}

// Bytes go through the tunnel to the echo server and come back.
void echo_through(int fd, size_t total) {
    char out[1000], in[1000]; // one proxy read each: no Nagle stall inside the proxies
    size_t done = 0;
    unsigned seed = static_cast<unsigned>(total);
    while (done < total) {
        size_t n = total - done < sizeof out ? total - done : sizeof out;
        for (size_t i = 0; i < n; i++) out[i] = static_cast<char>((seed = seed * 1103515245u + 12345u) >> 16);
        assert_int_equal(send(fd, out, n, MSG_NOSIGNAL), static_cast<ssize_t>(n));
        size_t got = 0;
        while (got < n) {
            ssize_t r = recv(fd, in + got, n - got, 0);
            if (r <= 0) fail_msg("echo through the tunnel: %s", r == 0 ? "EOF" : std::strerror(errno));
            got += static_cast<size_t>(r);
        }
        assert_memory_equal(in, out, n);
        done += n;
    }
}

void ping(int fd) {
    assert_int_equal(send(fd, "ping", 4, MSG_NOSIGNAL), 4);
    char in[5] = {};
    size_t got = 0;
    while (got < 4) {
        ssize_t r = recv(fd, in + got, 4 - got, 0);
        if (r <= 0) fail_msg("ping through the tunnel: %s", r == 0 ? "EOF" : std::strerror(errno));
        got += static_cast<size_t>(r);
    }
    assert_string_equal(in, "ping");
}

// One tunnel through one proxy to the echo server, with a ping.
void tunnel_ok(const test_proxy &p, uint32_t proto, const char *cookie) {
    int fd = connect_to("127.0.0.1", p.port);
    Tunnel t;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = handshake(fd, t, proto, "127.0.0.1", static_cast<uint32_t>(g.echo_port), cookie,
                       p.port, &err);
    if (rc != 0) {
        close(fd);
        fail_msg("tunnel through %s: %s: %s", test_proxy_name(static_cast<test_proxy_kind>(p.kind)),
                 sy_status_name(rc), err.message);
    }
    assert_true(t.open());
    ping(fd);
    echo_through(fd, 64 * 1024);
    close(fd);
}

// A tunnel that must fail: returns the status; the message is in *err.
int tunnel_fails(const test_proxy &p, uint32_t proto, const char *host, uint32_t port,
                 const char *cookie, Tunnel &t, sy_error *err) {
    int fd = connect_to("127.0.0.1", p.port);
    int rc = handshake(fd, t, proto, host, port, cookie, p.port, err);
    close(fd);
    std::fprintf(stderr, "  expected failure: %s: %s\n", sy_status_name(rc), err->message);
    return rc;
}

void assert_contains(const char *s, const char *part) {
    if (!std::strstr(s, part)) fail_msg("'%s' does not contain '%s'", s, part);
}

// ---------------------------------------------------------------- setup

int group_setup(void **) {
    g.echo_port = echo_server_start(&g.echo, ECHO_MODE_ECHO);
    if (g.echo_port <= 0) {
        std::fprintf(stderr, "echo server: %s\n", std::strerror(-g.echo_port));
        return -1;
    }
    g.echo6_port = echo_server_start_on(&g.echo6, ECHO_MODE_ECHO, "::1");
    g.http_rc = tinyproxy_start(&g.http, nullptr, nullptr);
    g.http_auth_rc = tinyproxy_start(&g.http_auth, kUser, kPass);
    g.socks_rc = microsocks_start(&g.socks, nullptr, nullptr);
    g.socks_auth_rc = microsocks_start(&g.socks_auth, kUser, kPass);
    return 0;
}

int group_teardown(void **) {
    test_proxy_stop(&g.http);
    test_proxy_stop(&g.http_auth);
    test_proxy_stop(&g.socks);
    test_proxy_stop(&g.socks_auth);
    echo_server_stop(&g.echo6);
    echo_server_stop(&g.echo);
    return 0;
}

// The echo server runs in this process: once a test closed its sockets, the
// proxies close theirs to the echo server, which then closes its own. Wait
// for that (up to 3 s) before counting.
void settle() {
    for (int i = 0; i < 300; i++) {
        if (echo_server_open(&g.echo) == 0 && echo_server_open(&g.echo6) == 0) return;
        usleep(10 * 1000);
    }
    std::fprintf(stderr, "the echo server still has %lu connection(s) open after 3 s\n",
                 echo_server_open(&g.echo) + echo_server_open(&g.echo6));
}

int count_setup(void **) {
    settle();
    g_fds_before_test = count_fds();
    return 0;
}

int count_teardown(void **) {
    settle();
    int now = count_fds();
    if (now != g_fds_before_test) {
        std::fprintf(stderr, "descriptor leak: %d open before the case, %d after\n",
                     g_fds_before_test, now);
        return -1;
    }
    return 0;
}

// ---------------------------------------------------------------- HTTP CONNECT

void test_http_tunnel(void **) {
    need(g.http_rc, g.http, "tinyproxy");
    tunnel_ok(g.http, SY_PROXY_HTTP_CONNECT, nullptr);
    // Twice more: each connection its own tunnel.
    tunnel_ok(g.http, SY_PROXY_HTTP_CONNECT, nullptr);
    tunnel_ok(g.http, SY_PROXY_HTTP_CONNECT, nullptr);
}

void test_http_auth(void **) {
    need(g.http_auth_rc, g.http_auth, "tinyproxy with BasicAuth");
    tunnel_ok(g.http_auth, SY_PROXY_HTTP_CONNECT, kCookie);

    Tunnel t;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = tunnel_fails(g.http_auth, SY_PROXY_HTTP_CONNECT, "127.0.0.1",
                          static_cast<uint32_t>(g.echo_port), nullptr, t, &err);
    assert_int_equal(rc, SY_ECONNECT);
    assert_contains(err.message, "(http_connect): the proxy requires authentication and no "
                                 "credential was given: HTTP/1.0 407");
    assert_int_equal(t.http_status(), 407);

    err = SY_STRUCT_INIT(sy_error);
    rc = tunnel_fails(g.http_auth, SY_PROXY_HTTP_CONNECT, "127.0.0.1",
                      static_cast<uint32_t>(g.echo_port), kWrongCookie, t, &err);
    assert_int_equal(rc, SY_ECONNECT);
    // tinyproxy 1.11 answers a wrong credential with 401, not 407.
    assert_contains(err.message, "(http_connect): the proxy rejected the credential: HTTP/1.0 40");
    assert_null(std::strstr(err.message, "wrong"));
}

void test_http_closed_port(void **) {
    need(g.http_rc, g.http, "tinyproxy");
    uint16_t closed = test_free_port();
    assert_true(closed > 0);
    Tunnel t;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = tunnel_fails(g.http, SY_PROXY_HTTP_CONNECT, "127.0.0.1", closed, nullptr, t, &err);
    assert_int_equal(rc, SY_ECONNECT);
    assert_int_equal(err.code, SY_ECONNECT);
    char want[128];
    std::snprintf(want, sizeof want, "proxy 127.0.0.1:%u (http_connect) refused the tunnel to 127.0.0.1:%u: HTTP/1.",
                  g.http.port, closed);
    assert_contains(err.message, want);
    assert_true(t.http_status() >= 400); // tinyproxy: 500 Unable to connect
}

// ---------------------------------------------------------------- SOCKS5

void test_socks_tunnel(void **) {
    need(g.socks_rc, g.socks, "microsocks");
    tunnel_ok(g.socks, SY_PROXY_SOCKS5, nullptr);
    tunnel_ok(g.socks, SY_PROXY_SOCKS5, nullptr);
    // A credential offered to a proxy that needs none: it picks no-auth.
    tunnel_ok(g.socks, SY_PROXY_SOCKS5, kCookie);
}

void test_socks_auth(void **) {
    need(g.socks_auth_rc, g.socks_auth, "microsocks with -u/-P");
    tunnel_ok(g.socks_auth, SY_PROXY_SOCKS5, kCookie);

    Tunnel t;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = tunnel_fails(g.socks_auth, SY_PROXY_SOCKS5, "127.0.0.1",
                          static_cast<uint32_t>(g.echo_port), nullptr, t, &err);
    assert_int_equal(rc, SY_ECONNECT);
    char want[128];
    std::snprintf(want, sizeof want, "proxy 127.0.0.1:%u (socks5): proxy requires authentication and no credential was given",
                  g.socks_auth.port);
    assert_string_equal(err.message, want);

    err = SY_STRUCT_INIT(sy_error);
    rc = tunnel_fails(g.socks_auth, SY_PROXY_SOCKS5, "127.0.0.1",
                      static_cast<uint32_t>(g.echo_port), kWrongCookie, t, &err);
    assert_int_equal(rc, SY_ECONNECT);
    assert_contains(err.message, "(socks5): proxy rejected the credential (username/password status ");
    assert_null(std::strstr(err.message, "wrong"));
}

void test_socks_closed_port(void **) {
    need(g.socks_rc, g.socks, "microsocks");
    uint16_t closed = test_free_port();
    assert_true(closed > 0);
    Tunnel t;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = tunnel_fails(g.socks, SY_PROXY_SOCKS5, "127.0.0.1", closed, nullptr, t, &err);
    assert_int_equal(rc, SY_ECONNECT);
    char want[160];
    std::snprintf(want, sizeof want,
                  "proxy 127.0.0.1:%u (socks5) could not open the tunnel to 127.0.0.1:%u: "
                  "connection refused by destination (reply 5)",
                  g.socks.port, closed);
    assert_string_equal(err.message, want);
    assert_int_equal(t.socks_reply(), 5);
    assert_int_equal(t.failure_outcome(), SY_OUTCOME_REFUSED);
}

// ---------------------------------------------------------------- chains, IPv6

// microsocks -> tinyproxy -> echo: a SOCKS5 tunnel to tinyproxy's port, then
// an HTTP CONNECT through it.
void chain(const test_proxy &socks, const test_proxy &http, const char *cookie) {
    int fd = connect_to("127.0.0.1", socks.port);
    Tunnel t1, t2;
    sy_error err = SY_STRUCT_INIT(sy_error);
    int rc = handshake(fd, t1, SY_PROXY_SOCKS5, "127.0.0.1", http.port, cookie, socks.port, &err);
    if (rc) {
        close(fd);
        fail_msg("hop 1: %s", err.message);
    }
    rc = handshake(fd, t2, SY_PROXY_HTTP_CONNECT, "127.0.0.1", static_cast<uint32_t>(g.echo_port),
                   cookie, http.port, &err);
    if (rc) {
        close(fd);
        fail_msg("hop 2: %s", err.message);
    }
    ping(fd);
    echo_through(fd, 32 * 1024);
    close(fd);
}

void test_chain(void **) {
    need(g.socks_rc, g.socks, "microsocks");
    need(g.http_rc, g.http, "tinyproxy");
    unsigned long before = echo_server_accepted(&g.echo);
    chain(g.socks, g.http, nullptr);
    assert_int_equal(echo_server_accepted(&g.echo), before + 1);
    need(g.socks_auth_rc, g.socks_auth, "microsocks with -u/-P");
    need(g.http_auth_rc, g.http_auth, "tinyproxy with BasicAuth");
    chain(g.socks_auth, g.http_auth, kCookie);

    // The second hop refuses: the chain fails with hop 2's message.
    int fd = connect_to("127.0.0.1", g.socks.port);
    Tunnel t1, t2;
    sy_error err = SY_STRUCT_INIT(sy_error);
    assert_int_equal(handshake(fd, t1, SY_PROXY_SOCKS5, "127.0.0.1", g.http_auth.port, nullptr,
                               g.socks.port, &err),
                     0);
    int rc = handshake(fd, t2, SY_PROXY_HTTP_CONNECT, "127.0.0.1",
                       static_cast<uint32_t>(g.echo_port), nullptr, g.http_auth.port, &err);
    close(fd);
    assert_int_equal(rc, SY_ECONNECT);
    char want[64];
    std::snprintf(want, sizeof want, "proxy 127.0.0.1:%u (http_connect)", g.http_auth.port);
    assert_contains(err.message, want);
}

void test_ipv6_destination(void **) {
    need(g.socks_rc, g.socks, "microsocks");
    need(g.http_rc, g.http, "tinyproxy");
    if (g.echo6_port <= 0) {
        std::fprintf(stderr, "no IPv6 loopback (::1: %s): skipped\n", std::strerror(-g.echo6_port));
        skip();
    }
    struct {
        const test_proxy *p;
        uint32_t proto;
        const char *host;
    } cases[] = {
        {&g.socks, SY_PROXY_SOCKS5, "::1"},           // ATYP 4
        {&g.socks, SY_PROXY_SOCKS5, "[::1]"},
        {&g.http, SY_PROXY_HTTP_CONNECT, "::1"},      // CONNECT [::1]:port
    };
    for (auto &k : cases) {
        int fd = connect_to("127.0.0.1", k.p->port);
        Tunnel t;
        sy_error err = SY_STRUCT_INIT(sy_error);
        int rc = handshake(fd, t, k.proto, k.host, static_cast<uint32_t>(g.echo6_port), nullptr,
                           k.p->port, &err);
        if (rc) {
            close(fd);
            fail_msg("%s to %s: %s", sy::net::proxy_protocol_name(k.proto), k.host, err.message);
        }
        ping(fd);
        close(fd);
    }
}

// The echo server's other modes, as the connector's tests use them.
void test_echo_server_modes(void **) {
    echo_server closer, holder;
    int cport = echo_server_start(&closer, ECHO_MODE_CLOSE);
    int hport = echo_server_start(&holder, ECHO_MODE_HOLD);
    assert_true(cport > 0 && hport > 0);

    int fd = connect_to("127.0.0.1", static_cast<uint16_t>(cport));
    char c;
    assert_int_equal(recv(fd, &c, 1, 0), 0); // EOF at once
    close(fd);
    assert_int_equal(echo_server_accepted(&closer), 1);

    fd = connect_to("127.0.0.1", static_cast<uint16_t>(hport));
    timeval tv{0, 200 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(send(fd, "ping", 4, MSG_NOSIGNAL), 4);
    errno = 0;
    assert_int_equal(recv(fd, &c, 1, 0), -1); // no answer, not closed
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_int_equal(echo_server_accepted(&holder), 1);
    assert_int_equal(echo_server_open(&holder), 1);
    echo_server_stop(&holder); // closes the held connection
    assert_int_equal(recv(fd, &c, 1, 0), 0);
    close(fd);
    echo_server_stop(&closer);
    echo_server_stop(&closer); // twice is fine
}

} // namespace

int main(void) {
    int before = count_fds();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_http_tunnel, count_setup, count_teardown),
        cmocka_unit_test_setup_teardown(test_http_auth, count_setup, count_teardown),
        cmocka_unit_test_setup_teardown(test_http_closed_port, count_setup, count_teardown),
        cmocka_unit_test_setup_teardown(test_socks_tunnel, count_setup, count_teardown),
        cmocka_unit_test_setup_teardown(test_socks_auth, count_setup, count_teardown),
        cmocka_unit_test_setup_teardown(test_socks_closed_port, count_setup, count_teardown),
        cmocka_unit_test_setup_teardown(test_chain, count_setup, count_teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_destination, count_setup, count_teardown),
        cmocka_unit_test_setup_teardown(test_echo_server_modes, count_setup, count_teardown),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    int after = count_fds();
    if (after != before) {
        std::fprintf(stderr, "descriptor leak: %d open at start, %d after stopping everything\n",
                     before, after);
        return 1;
    }
    std::printf("descriptors: %d at start, %d at the end\n", before, after);
    if (rc == 0 && g_skipped) return 77; // meson: SKIP
    return rc;
}
