// The proxy-tunnel codec (core/connect/proxy.cpp) byte by byte: the exact
// requests of HTTP CONNECT and SOCKS5 (with and without a credential, to a
// name, an IPv4 and an IPv6 literal), every reply fed whole, one byte at a
// time and in odd chunks as a peeking caller would, success and each failure
// with its status, message and outcome, and the bytes after a reply left to
// the tunnel.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka.h has no extern "C" of its own
extern "C" {
#include <cmocka.h>
}

#include <cstdio>
#include <cstring>
#include <string>

#include "connect/proxy.hpp"

using namespace std::string_literals;
using sy::net::Tunnel;

namespace {

const char *const kHop = "proxy 127.0.0.1:8888";
const char *const kSocksHop = "proxy 127.0.0.1:1080";
// Whole, one byte at a time, and chunks that straddle the message boundaries.
const size_t kChunks[] = {SIZE_MAX, 1, 2, 3, 7};

sy_error new_error() { return SY_STRUCT_INIT(sy_error); }

// A conversation: sends whatever the tunnel has to send (collected in
// `sent`), then feeds the proxy's bytes `chunk` at a time, as a caller that
// peeks: what the tunnel did not use is fed again.
struct Conv {
    int rc = 1;
    size_t used = 0; // of the reply, in total
    std::string sent;
    sy_error err = new_error();
};

Conv drive(Tunnel &t, const std::string &reply, size_t chunk) {
    Conv c;
    size_t pos = 0;
    for (int guard = 0; guard < 100000; guard++) {
        size_t len = 0;
        const uint8_t *o = t.out(&len);
        if (len) {
            c.sent.append(reinterpret_cast<const char *>(o), len);
            t.wrote(len);
            continue;
        }
        if (pos >= reply.size()) break; // needs more than the proxy sent
        size_t n = reply.size() - pos < chunk ? reply.size() - pos : chunk;
        size_t used = SIZE_MAX;
        c.rc = t.feed(reinterpret_cast<const uint8_t *>(reply.data()) + pos, n, &used, &c.err);
        assert_true(used <= n);
        pos += used;
        if (c.rc != 1) break;
        // Progress: all of it is used, or the next request waits to be sent.
        if (used < n) {
            size_t pending = 0;
            t.out(&pending);
            assert_true(pending > 0);
        }
    }
    c.used = pos;
    return c;
}

void start_ok(Tunnel &t, uint32_t proto, const char *host, uint32_t port, const char *cookie) {
    sy_error e = new_error();
    int rc = t.start(proto, host, port, cookie, proto == SY_PROXY_SOCKS5 ? kSocksHop : kHop, &e);
    if (rc != SY_OK) std::fprintf(stderr, "start: %s\n", e.message);
    assert_int_equal(rc, SY_OK);
}

std::string first_request(Tunnel &t) {
    size_t len = 0;
    const uint8_t *o = t.out(&len);
    return std::string(reinterpret_cast<const char *>(o), len);
}

void assert_bytes(const std::string &got, const std::string &want) {
    if (got != want) {
        std::fprintf(stderr, "got %zu bytes:", got.size());
        for (unsigned char c : got) std::fprintf(stderr, " %02x", c);
        std::fprintf(stderr, "\nwant %zu bytes:", want.size());
        for (unsigned char c : want) std::fprintf(stderr, " %02x", c);
        std::fprintf(stderr, "\n");
    }
    assert_int_equal(got.size(), want.size());
    assert_memory_equal(got.data(), want.data(), want.size());
}

// ---------------------------------------------------------------- HTTP requests

void test_http_request_bytes(void **) {
    Tunnel t;
    start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
    assert_bytes(first_request(t), "CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n");

    start_ok(t, SY_PROXY_HTTP_CONNECT, "10.1.2.3", 9042, nullptr);
    assert_bytes(first_request(t), "CONNECT 10.1.2.3:9042 HTTP/1.1\r\nHost: 10.1.2.3:9042\r\n\r\n");

    for (const char *v6 : {"::1", "[::1]"}) {
        start_ok(t, SY_PROXY_HTTP_CONNECT, v6, 443, nullptr);
        assert_bytes(first_request(t), "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n");
    }

    // base64("alice:s3cret") = YWxpY2U6czNjcmV0
    start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, "alice:s3cret");
    assert_bytes(first_request(t), "CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n"
                                   "Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n");
    // Padding: 1 and 2 bytes left over.
    start_ok(t, SY_PROXY_HTTP_CONNECT, "h", 1, "a:b");
    assert_bytes(first_request(t), "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n"
                                   "Proxy-Authorization: Basic YTpi\r\n\r\n");
    start_ok(t, SY_PROXY_HTTP_CONNECT, "h", 65535, "ab:c");
    assert_bytes(first_request(t), "CONNECT h:65535 HTTP/1.1\r\nHost: h:65535\r\n"
                                   "Proxy-Authorization: Basic YWI6Yw==\r\n\r\n");
    start_ok(t, SY_PROXY_HTTP_CONNECT, "h", 2, "ab:cd");
    assert_bytes(first_request(t), "CONNECT h:2 HTTP/1.1\r\nHost: h:2\r\n"
                                   "Proxy-Authorization: Basic YWI6Y2Q=\r\n\r\n");
    // An empty cookie is no credential.
    start_ok(t, SY_PROXY_HTTP_CONNECT, "h", 3, "");
    assert_bytes(first_request(t), "CONNECT h:3 HTTP/1.1\r\nHost: h:3\r\n\r\n");
}

void test_partial_writes(void **) {
    Tunnel t;
    start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
    std::string all = first_request(t);
    t.wrote(8);
    assert_bytes(first_request(t), all.substr(8));
    t.wrote(all.size()); // more than is left: clamps
    size_t len = 99;
    t.out(&len);
    assert_int_equal(len, 0);
}

// ---------------------------------------------------------------- HTTP replies

void test_http_200(void **) {
    const std::string header = "HTTP/1.1 200 Connection established\r\n"
                               "Proxy-agent: tinyproxy/1.11.1\r\n"
                               "X-Other: a, b\r\n"
                               "\r\n";
    for (size_t chunk : kChunks) {
        Tunnel t;
        start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
        Conv c = drive(t, header + "TUNNEL DATA\r\n\r\n", chunk);
        assert_int_equal(c.rc, 0);
        assert_int_equal(c.used, header.size()); // the tunnel's bytes are left alone
        assert_true(t.open());
        assert_int_equal(t.http_status(), 200);
        // Open: more input is not the proxy's.
        size_t used = 99;
        sy_error e = new_error();
        assert_int_equal(t.feed(reinterpret_cast<const uint8_t *>("x"), 1, &used, &e), 0);
        assert_int_equal(used, 0);
    }
}

void test_http_200_variants(void **) {
    struct {
        const char *reply;
        size_t header;
    } cases[] = {
        {"HTTP/1.0 200 OK\n\nrest", 17},               // bare LF
        {"HTTP/1.1 200\r\n\r\nrest", 16},              // no reason phrase
        {"HTTP/1.1 204 No Content\r\nA: b\n\r\n", 32}, // mixed line ends
        {"HTTP/1.1 299 Whatever\r\n\r\n", 25},
        {"HTTP/1.1 200 OK\r\n\r\r\nA: b\r\n\n", 27}, // "\r\r\n" is no empty line
        {"HTTP/1.1 200 OK\r\nA:\rb\r\n\r\n", 25},
    };
    for (auto &k : cases) {
        for (size_t chunk : kChunks) {
            Tunnel t;
            start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
            Conv c = drive(t, k.reply, chunk);
            if (c.rc != 0) std::fprintf(stderr, "%s: %s\n", k.reply, c.err.message);
            assert_int_equal(c.rc, 0);
            assert_int_equal(c.used, k.header);
        }
    }
}

void test_http_needs_more(void **) {
    Tunnel t;
    start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
    Conv c = drive(t, "HTTP/1.1 200 OK\r\nA: b\r\n", 1);
    assert_int_equal(c.rc, 1);
    assert_int_equal(c.used, 23); // all of it: a peeking caller makes progress
    assert_false(t.open());
}

void test_http_403(void **) {
    const std::string reply = "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden";
    for (size_t chunk : kChunks) {
        Tunnel t;
        start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
        Conv c = drive(t, reply, chunk);
        assert_int_equal(c.rc, SY_ECONNECT);
        assert_int_equal(c.err.code, SY_ECONNECT);
        assert_string_equal(c.err.message, "proxy 127.0.0.1:8888 (http_connect) refused the tunnel "
                                           "to db.example:5432: HTTP/1.1 403 Forbidden");
        assert_int_equal(t.failure_outcome(), SY_OUTCOME_OTHER_ERROR);
        assert_int_equal(t.http_status(), 403);
        assert_true(t.failed());
        assert_true(c.used <= 24); // at most through the status line
        // Failed: stays failed, consumes nothing.
        size_t used = 99;
        sy_error e = new_error();
        assert_int_equal(t.feed(reinterpret_cast<const uint8_t *>("x"), 1, &used, &e), SY_ECONNECT);
        assert_int_equal(used, 0);
        assert_non_null(std::strstr(e.message, "already failed"));
    }
}

void test_http_407(void **) {
    const std::string reply = "HTTP/1.0 407 Proxy Authentication Required\r\n"
                              "Proxy-Authenticate: Basic realm=\"Tinyproxy\"\r\n\r\n";
    for (size_t chunk : kChunks) {
        Tunnel t;
        start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
        Conv c = drive(t, reply, chunk);
        assert_int_equal(c.rc, SY_ECONNECT);
        assert_string_equal(c.err.message,
                            "proxy 127.0.0.1:8888 (http_connect): the proxy requires authentication "
                            "and no credential was given: HTTP/1.0 407 Proxy Authentication Required");

        start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, "alice:s3cret");
        c = drive(t, reply, chunk);
        assert_int_equal(c.rc, SY_ECONNECT);
        assert_string_equal(c.err.message, "proxy 127.0.0.1:8888 (http_connect): the proxy rejected "
                                           "the credential: HTTP/1.0 407 Proxy Authentication Required");
        assert_null(std::strstr(c.err.message, "s3cret"));
        assert_null(std::strstr(c.err.message, "YWxpY2U6czNjcmV0"));
        assert_int_equal(t.failure_outcome(), SY_OUTCOME_OTHER_ERROR);
    }
    // tinyproxy answers a wrong credential with 401.
    Tunnel t;
    start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, "alice:wrong");
    Conv c = drive(t, "HTTP/1.0 401 Unauthorized\r\n\r\n", SIZE_MAX);
    assert_int_equal(c.rc, SY_ECONNECT);
    assert_non_null(std::strstr(c.err.message, "rejected the credential: HTTP/1.0 401 Unauthorized"));
}

void test_http_outcomes(void **) {
    struct {
        const char *status;
        int code;
        uint32_t outcome;
    } cases[] = {
        {"HTTP/1.1 502 Bad Gateway", 502, SY_OUTCOME_REFUSED},
        {"HTTP/1.1 503 Service Unavailable", 503, SY_OUTCOME_REFUSED},
        {"HTTP/1.1 504 Gateway Timeout", 504, SY_OUTCOME_TIMEOUT},
        {"HTTP/1.1 500 Connection Refused", 500, SY_OUTCOME_REFUSED},
        {"HTTP/1.1 500 Unable to connect", 500, SY_OUTCOME_OTHER_ERROR},
        {"HTTP/1.1 404 Not Found", 404, SY_OUTCOME_OTHER_ERROR},
        {"HTTP/1.1 100 Continue", 100, SY_OUTCOME_OTHER_ERROR},
        {"HTTP/1.1 302 Found", 302, SY_OUTCOME_OTHER_ERROR},
        {"HTTP/1.1 600 Odd", 600, SY_OUTCOME_OTHER_ERROR},
    };
    for (auto &k : cases) {
        Tunnel t;
        start_ok(t, SY_PROXY_HTTP_CONNECT, "::1", 5432, nullptr);
        Conv c = drive(t, std::string(k.status) + "\r\n\r\n", SIZE_MAX);
        assert_int_equal(c.rc, SY_ECONNECT);
        assert_int_equal(t.http_status(), k.code);
        assert_int_equal(t.failure_outcome(), k.outcome);
        char want[256];
        std::snprintf(want, sizeof want,
                      "proxy 127.0.0.1:8888 (http_connect) refused the tunnel to [::1]:5432: %s",
                      k.status);
        assert_string_equal(c.err.message, want);
    }
}

void test_http_header_limit(void **) {
    // A header of exactly 8192 bytes is fine; one more byte is not.
    std::string status = "HTTP/1.1 200 OK\r\n";
    std::string filler = "X-Pad: ";
    size_t pad = 8192 - status.size() - filler.size() - 2 - 2;
    std::string exact = status + filler + std::string(pad, 'a') + "\r\n\r\n";
    assert_int_equal(exact.size(), 8192);
    std::string over = status + filler + std::string(pad + 1, 'a') + "\r\n\r\n";
    for (size_t chunk : kChunks) {
        Tunnel t;
        start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
        Conv c = drive(t, exact + "tunnel", chunk);
        assert_int_equal(c.rc, 0);
        assert_int_equal(c.used, 8192);

        start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
        c = drive(t, over, chunk);
        assert_int_equal(c.rc, SY_ELIMIT);
        assert_string_equal(c.err.message, "proxy 127.0.0.1:8888 (http_connect): the proxy's reply "
                                           "header is over 8192 bytes");
        assert_int_equal(c.used, 8193);
    }
    // An endless status line hits the limit too.
    Tunnel t;
    start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
    Conv c = drive(t, "HTTP/1.1 200 " + std::string(9000, 'x'), 100);
    assert_int_equal(c.rc, SY_ELIMIT);
}

void test_http_malformed(void **) {
    struct {
        std::string reply;
        size_t used; // where it is noticed
    } cases[] = {
        {"SSH-2.0-OpenSSH_9.2\r\n", 1},
        {"\x05\x00"s, 1},               // a SOCKS5 reply
        {"HTTP/2 200\r\n\r\n", 6},
        {"HTTP/1.x 200 OK\r\n\r\n", 8},
        {"HTTP/1.1  200 OK\r\n\r\n", 10},
        {"HTTP/1.1 20 OK\r\n\r\n", 12},
        {"HTTP/1.1 2000 OK\r\n\r\n", 13},
        {"HTTP/1.1 200OK\r\n\r\n", 13},
        {"HTTP/1.1 200\rX\r\n\r\n", 16},
        {"HTTP/1.1 099 Low\r\n\r\n", 18},
        {"HTTP/1.1\r\n\r\n", 9},
        {"\r\n\r\n", 1},
    };
    for (auto &k : cases) {
        for (size_t chunk : kChunks) {
            Tunnel t;
            start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
            Conv c = drive(t, k.reply, chunk);
            if (c.rc != SY_EIO || c.used != k.used)
                std::fprintf(stderr, "'%s' chunk %zu: rc %d used %zu: %s\n", k.reply.c_str(), chunk,
                             c.rc, c.used, c.err.message);
            assert_int_equal(c.rc, SY_EIO);
            assert_int_equal(c.used, k.used);
            assert_non_null(std::strstr(c.err.message, "proxy 127.0.0.1:8888 (http_connect): "
                                                       "malformed reply: the status line '"));
            assert_int_equal(t.failure_outcome(), SY_OUTCOME_OTHER_ERROR);
        }
    }
    // Control bytes of a status line are not copied into the message.
    Tunnel t;
    start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
    Conv c = drive(t, "HTTP/1.1 403 \x01\x7f\xff bad\r\n\r\n", SIZE_MAX);
    assert_int_equal(c.rc, SY_ECONNECT);
    assert_non_null(std::strstr(c.err.message, ": HTTP/1.1 403 ??? bad"));
}

// ---------------------------------------------------------------- SOCKS5

const std::string kMethodNone = "\x05\x00"s;
const std::string kConnectOk4 = "\x05\x00\x00\x01\x7f\x00\x00\x01\x1f\x90"s; // 127.0.0.1:8080

void test_socks_request_bytes(void **) {
    struct {
        const char *host;
        std::string connect;
    } cases[] = {
        {"10.1.2.3", "\x05\x01\x00\x01\x0a\x01\x02\x03\x15\x38"s},
        {"::1", "\x05\x01\x00\x04"s + std::string(15, '\0') + "\x01\x15\x38"s},
        {"[::1]", "\x05\x01\x00\x04"s + std::string(15, '\0') + "\x01\x15\x38"s},
        {"2001:db8::ff00:42:8329",
         "\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\xff\x00\x00\x42\x83\x29\x15\x38"s},
        {"db.example", "\x05\x01\x00\x03\x0a"s + "db.example" + "\x15\x38"s},
        {"1.2.3", "\x05\x01\x00\x03\x05"s + "1.2.3" + "\x15\x38"s}, // not a literal: a name
    };
    for (auto &k : cases) {
        Tunnel t;
        start_ok(t, SY_PROXY_SOCKS5, k.host, 5432, nullptr);
        Conv c = drive(t, kMethodNone + kConnectOk4, SIZE_MAX);
        assert_int_equal(c.rc, 0);
        assert_bytes(c.sent, "\x05\x01\x00"s + k.connect);
    }
    // The longest name: 255 bytes.
    std::string name(255, 'n');
    Tunnel t;
    start_ok(t, SY_PROXY_SOCKS5, name.c_str(), 1, nullptr);
    Conv c = drive(t, kMethodNone + kConnectOk4, 1);
    assert_int_equal(c.rc, 0);
    assert_bytes(c.sent, "\x05\x01\x00"s + "\x05\x01\x00\x03\xff"s + name + "\x00\x01"s);
}

void test_socks_success(void **) {
    // Bound addresses of each type, fully read before the tunnel is open.
    const std::string replies[] = {
        kConnectOk4,
        "\x05\x00\x00\x04"s + std::string(16, '\x11') + "\x00\x50"s,
        "\x05\x00\x00\x03\x0bproxy.local\x04\x38"s,
        "\x05\x00\x00\x03\x00\x00\x00"s, // an empty name
        "\x05\x00\x07\x01\x00\x00\x00\x00\x00\x00"s, // RSV is ignored
    };
    for (auto &r : replies) {
        for (size_t chunk : kChunks) {
            Tunnel t;
            start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, nullptr);
            Conv c = drive(t, kMethodNone + r + "TUNNEL", chunk);
            assert_int_equal(c.rc, 0);
            assert_int_equal(c.used, 2 + r.size()); // "TUNNEL" is left
            assert_true(t.open());
            assert_int_equal(t.socks_reply(), 0);
            // One byte short is not open.
            start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, nullptr);
            c = drive(t, kMethodNone + r.substr(0, r.size() - 1), chunk);
            assert_int_equal(c.rc, 1);
            assert_false(t.open());
        }
    }
}

void test_socks_auth(void **) {
    const std::string auth_req = "\x01\x05"s + "alice" + "\x06"s + "s3cret";
    const std::string connect_req = "\x05\x01\x00\x03\x0a"s + "db.example" + "\x15\x38"s;
    for (size_t chunk : kChunks) {
        Tunnel t;
        start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, "alice:s3cret");
        assert_bytes(first_request(t), "\x05\x02\x00\x02"s);
        Conv c = drive(t, "\x05\x02"s + "\x01\x00"s + kConnectOk4 + "T", chunk);
        assert_int_equal(c.rc, 0);
        assert_int_equal(c.used, 2 + 2 + kConnectOk4.size());
        assert_bytes(c.sent, "\x05\x02\x00\x02"s + auth_req + connect_req);

        // A server that says 5 instead of 1 in its auth reply is tolerated.
        start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, "alice:s3cret");
        c = drive(t, "\x05\x02"s + "\x05\x00"s + kConnectOk4, chunk);
        assert_int_equal(c.rc, 0);

        // The proxy may pick no-auth even when a credential is offered.
        start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, "alice:s3cret");
        c = drive(t, kMethodNone + kConnectOk4, chunk);
        assert_int_equal(c.rc, 0);
        assert_bytes(c.sent, "\x05\x02\x00\x02"s + connect_req);

        // Rejected: RFC 1929 status != 0.
        start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, "alice:s3cret");
        c = drive(t, "\x05\x02"s + "\x01\x01"s + kConnectOk4, chunk);
        assert_int_equal(c.rc, SY_ECONNECT);
        assert_int_equal(c.used, 4);
        assert_bytes(c.sent, "\x05\x02\x00\x02"s + auth_req); // no CONNECT sent
        assert_string_equal(c.err.message, "proxy 127.0.0.1:1080 (socks5): proxy rejected the "
                                           "credential (username/password status 1)");
        assert_null(std::strstr(c.err.message, "s3cret"));
        assert_int_equal(t.failure_outcome(), SY_OUTCOME_OTHER_ERROR);
    }
    // An empty password is sent as PLEN 0.
    Tunnel t;
    start_ok(t, SY_PROXY_SOCKS5, "h", 1, "u:");
    Conv c = drive(t, "\x05\x02"s + "\x01\x00"s + kConnectOk4, SIZE_MAX);
    assert_int_equal(c.rc, 0);
    assert_bytes(c.sent, "\x05\x02\x00\x02"s + "\x01\x01u\x00"s + "\x05\x01\x00\x03\x01h\x00\x01"s);
}

void test_socks_no_acceptable_method(void **) {
    for (size_t chunk : kChunks) {
        Tunnel t;
        start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, nullptr);
        Conv c = drive(t, "\x05\xff"s, chunk);
        assert_int_equal(c.rc, SY_ECONNECT);
        assert_string_equal(c.err.message, "proxy 127.0.0.1:1080 (socks5): proxy requires "
                                           "authentication and no credential was given");
        start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, "alice:s3cret");
        c = drive(t, "\x05\xff"s, chunk);
        assert_int_equal(c.rc, SY_ECONNECT);
        assert_string_equal(c.err.message, "proxy 127.0.0.1:1080 (socks5): proxy accepted none of "
                                           "the offered authentication methods (none, "
                                           "username/password)");
    }
}

void test_socks_failure_codes(void **) {
    struct {
        uint8_t rep;
        const char *text;
        uint32_t outcome;
    } cases[] = {
        {1, "general SOCKS server failure", SY_OUTCOME_OTHER_ERROR},
        {2, "connection not allowed by the proxy's rules", SY_OUTCOME_OTHER_ERROR},
        {3, "network unreachable", SY_OUTCOME_OTHER_ERROR},
        {4, "host unreachable", SY_OUTCOME_OTHER_ERROR},
        {5, "connection refused by destination", SY_OUTCOME_REFUSED},
        {6, "TTL expired (timed out)", SY_OUTCOME_TIMEOUT},
        {7, "command not supported", SY_OUTCOME_OTHER_ERROR},
        {8, "address type not supported", SY_OUTCOME_OTHER_ERROR},
        {9, "unassigned failure code", SY_OUTCOME_OTHER_ERROR},
        {0xfe, "unassigned failure code", SY_OUTCOME_OTHER_ERROR},
    };
    for (auto &k : cases) {
        for (size_t chunk : kChunks) {
            Tunnel t;
            start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, nullptr);
            std::string reply = kConnectOk4;
            reply[1] = static_cast<char>(k.rep);
            Conv c = drive(t, kMethodNone + reply, chunk);
            assert_int_equal(c.rc, SY_ECONNECT);
            assert_int_equal(c.err.code, SY_ECONNECT);
            char want[256];
            std::snprintf(want, sizeof want,
                          "proxy 127.0.0.1:1080 (socks5) could not open the tunnel to "
                          "db.example:5432: %s (reply %u)",
                          k.text, k.rep);
            assert_string_equal(c.err.message, want);
            assert_int_equal(t.failure_outcome(), k.outcome);
            assert_int_equal(t.socks_reply(), k.rep);
            assert_int_equal(c.used, 4); // method reply + VER REP
        }
    }
}

void test_socks_malformed(void **) {
    struct {
        const char *cookie;
        std::string reply;
        size_t used;
        const char *says;
    } cases[] = {
        {nullptr, "\x04\x5a"s, 1, "version byte 0x04, not a SOCKS5 reply"},
        {nullptr, "HTTP/1.1 400 Bad Request\r\n\r\n", 1, "version byte 0x48, not a SOCKS5 reply"},
        {nullptr, "\x05\x02"s, 2, "chose authentication method 0x02, which was not offered"},
        {"a:b", "\x05\x01"s, 2, "chose authentication method 0x01, which was not offered"},
        {"a:b", "\x05\x02\x02\x00"s, 3, "username/password reply version 0x02"},
        {nullptr, "\x05\x00\x04\x00"s, 3, "CONNECT reply version 0x04"},
        {nullptr, "\x05\x00\x05\x00\x00\x02\x00\x00"s, 6, "unknown address type 2"},
        {nullptr, "\x05\x00\x05\x00\x00\x00\x00\x00"s, 6, "unknown address type 0"},
    };
    for (auto &k : cases) {
        for (size_t chunk : kChunks) {
            Tunnel t;
            start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, k.cookie);
            Conv c = drive(t, k.reply, chunk);
            if (c.rc != SY_EIO) std::fprintf(stderr, "%s\n", c.err.message);
            assert_int_equal(c.rc, SY_EIO);
            assert_int_equal(c.used, k.used);
            assert_non_null(std::strstr(c.err.message, "proxy 127.0.0.1:1080 (socks5): malformed reply: "));
            assert_non_null(std::strstr(c.err.message, k.says));
        }
    }
}

void test_socks_early_data(void **) {
    // The proxy may not answer before our request is all sent.
    Tunnel t;
    start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, nullptr);
    t.wrote(1); // 2 of the 3 bytes still to send
    size_t used = 99;
    sy_error e = new_error();
    assert_int_equal(t.feed(reinterpret_cast<const uint8_t *>("\x05\x00"), 2, &used, &e), SY_EIO);
    assert_int_equal(used, 0);
    assert_non_null(std::strstr(e.message, "before our request was complete"));
    // Nothing to send after a failure.
    size_t len = 99;
    t.out(&len);
    assert_int_equal(len, 0);
}

// ---------------------------------------------------------------- start()

void test_start_errors(void **) {
    std::string long_host(256, 'h');
    std::string long_user = std::string(256, 'u') + ":p";
    std::string long_pass = "u:" + std::string(256, 'p');
    std::string long_cookie = std::string(255, 'u') + ":" + std::string(256, 'p');
    struct {
        uint32_t proto;
        const char *host;
        uint32_t port;
        const char *cookie;
        const char *says;
    } cases[] = {
        {0, "db.example", 1, nullptr, "proxy 127.0.0.1:8888: unknown proxy protocol 0"},
        {3, "db.example", 1, nullptr, "proxy 127.0.0.1:8888: unknown proxy protocol 3"},
        {SY_PROXY_HTTP_CONNECT, nullptr, 1, nullptr, "(http_connect): empty destination host"},
        {SY_PROXY_SOCKS5, "", 1, nullptr, "(socks5): empty destination host"},
        {SY_PROXY_SOCKS5, long_host.c_str(), 1, nullptr, "(socks5): destination host is over 255 bytes"},
        {SY_PROXY_HTTP_CONNECT, "db example", 1, nullptr, "space, bracket or control character at byte 2"},
        {SY_PROXY_HTTP_CONNECT, "db\r\nX: y", 1, nullptr, "space, bracket or control character at byte 2"},
        {SY_PROXY_HTTP_CONNECT, "[::1", 1, nullptr, "has a '[' without a closing ']'"},
        {SY_PROXY_HTTP_CONNECT, "[]", 1, nullptr, "has a '[' without a closing ']'"},
        {SY_PROXY_HTTP_CONNECT, "[1.2.3.4]", 1, nullptr, "'1.2.3.4' is not a valid IPv6 address"},
        {SY_PROXY_SOCKS5, "a:b", 1, nullptr, "'a:b' is not a valid IPv6 address"},
        {SY_PROXY_SOCKS5, "fe80::1%eth0", 1, nullptr, "not a valid IPv6 address"},
        {SY_PROXY_SOCKS5, "a]b", 1, nullptr, "bracket or control character at byte 1"},
        {SY_PROXY_HTTP_CONNECT, "db.example", 0, nullptr, "(http_connect): destination port 0 is not 1..65535"},
        {SY_PROXY_SOCKS5, "db.example", 65536, nullptr, "(socks5): destination port 65536 is not 1..65535"},
        {SY_PROXY_SOCKS5, "db.example", 1, "token", "(socks5): the credential has no ':' between user and password"},
        {SY_PROXY_SOCKS5, "db.example", 1, ":pw", "(socks5): the credential has an empty user"},
        {SY_PROXY_SOCKS5, "db.example", 1, long_user.c_str(), "(socks5): the credential's user is over 255 bytes"},
        {SY_PROXY_SOCKS5, "db.example", 1, long_pass.c_str(), "(socks5): the credential's password is over 255 bytes"},
        {SY_PROXY_SOCKS5, "db.example", 1, long_cookie.c_str(), "(socks5): the credential is over 511 bytes"},
        {SY_PROXY_HTTP_CONNECT, "db.example", 1, long_cookie.c_str(), "(http_connect): the credential is over 511 bytes"},
    };
    for (auto &k : cases) {
        Tunnel t;
        sy_error e = new_error();
        int rc = t.start(k.proto, k.host, k.port, k.cookie, kHop, &e);
        if (rc != SY_EINVAL || !std::strstr(e.message, k.says))
            std::fprintf(stderr, "want '%s', got %d: %s\n", k.says, rc, e.message);
        assert_int_equal(rc, SY_EINVAL);
        assert_int_equal(e.code, SY_EINVAL);
        assert_non_null(std::strstr(e.message, k.says));
        assert_non_null(std::strstr(e.message, kHop));
        if (k.cookie) assert_null(std::strstr(e.message, k.cookie));
        size_t len = 99;
        t.out(&len);
        assert_int_equal(len, 0);
        size_t used = 99;
        assert_int_equal(t.feed(reinterpret_cast<const uint8_t *>("x"), 1, &used, &e), SY_EINVAL);
        assert_int_equal(used, 0);
    }
    // Limits that still pass: a 255-byte host (bracketed IPv6 is 2 more),
    // a 255-byte user and password; HTTP takes a cookie without ':'.
    std::string host255(255, 'h');
    std::string cred = std::string(255, 'u') + ":" + std::string(255, 'p');
    Tunnel t;
    start_ok(t, SY_PROXY_SOCKS5, host255.c_str(), 65535, cred.c_str());
    start_ok(t, SY_PROXY_HTTP_CONNECT, host255.c_str(), 65535, cred.c_str());
    start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 1, "token");
    start_ok(t, SY_PROXY_HTTP_CONNECT, "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]", 1, nullptr);
    // No hop name, no error struct: still fine.
    assert_int_equal(t.start(SY_PROXY_SOCKS5, "", 1, nullptr, nullptr, nullptr), SY_EINVAL);
    sy_error e = new_error();
    assert_int_equal(t.start(SY_PROXY_SOCKS5, "", 1, nullptr, nullptr, &e), SY_EINVAL);
    assert_string_equal(e.message, "proxy (socks5): empty destination host");
}

void test_not_started(void **) {
    Tunnel t;
    size_t used = 99, len = 99;
    sy_error e = new_error();
    t.out(&len);
    assert_int_equal(len, 0);
    assert_int_equal(t.feed(reinterpret_cast<const uint8_t *>("x"), 1, &used, &e), SY_EINVAL);
    assert_int_equal(used, 0);
    assert_non_null(std::strstr(e.message, "before it was started"));
}

void test_restart(void **) {
    // One object, used for a failed handshake, then a good one.
    Tunnel t;
    start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, nullptr);
    Conv c = drive(t, "\x05\xff"s, SIZE_MAX);
    assert_int_equal(c.rc, SY_ECONNECT);
    start_ok(t, SY_PROXY_HTTP_CONNECT, "db.example", 5432, nullptr);
    c = drive(t, "HTTP/1.1 200 OK\r\n\r\n", SIZE_MAX);
    assert_int_equal(c.rc, 0);
    assert_int_equal(t.socks_reply(), -1);
    start_ok(t, SY_PROXY_SOCKS5, "db.example", 5432, nullptr);
    assert_int_equal(t.http_status(), 0);
    c = drive(t, kMethodNone + kConnectOk4, 1);
    assert_int_equal(c.rc, 0);
}

void test_protocol_names(void **) {
    assert_string_equal(sy::net::proxy_protocol_name(SY_PROXY_HTTP_CONNECT), "http_connect");
    assert_string_equal(sy::net::proxy_protocol_name(SY_PROXY_SOCKS5), "socks5");
    assert_string_equal(sy::net::proxy_protocol_name(0), "unknown");
    assert_string_equal(sy::net::proxy_protocol_name(99), "unknown");
}

} // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_request_bytes),
        cmocka_unit_test(test_partial_writes),
        cmocka_unit_test(test_http_200),
        cmocka_unit_test(test_http_200_variants),
        cmocka_unit_test(test_http_needs_more),
        cmocka_unit_test(test_http_403),
        cmocka_unit_test(test_http_407),
        cmocka_unit_test(test_http_outcomes),
        cmocka_unit_test(test_http_header_limit),
        cmocka_unit_test(test_http_malformed),
        cmocka_unit_test(test_socks_request_bytes),
        cmocka_unit_test(test_socks_success),
        cmocka_unit_test(test_socks_auth),
        cmocka_unit_test(test_socks_no_acceptable_method),
        cmocka_unit_test(test_socks_failure_codes),
        cmocka_unit_test(test_socks_malformed),
        cmocka_unit_test(test_socks_early_data),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_not_started),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_protocol_names),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
