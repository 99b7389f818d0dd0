// Fuzz target: the proxy-tunnel reply parsers (core/connect/proxy.cpp), HTTP
// CONNECT and SOCKS5, on arbitrary bytes from the proxy.
//
// Input: the first byte picks the handshake,
//   bit 0     protocol: 0 HTTP CONNECT, 1 SOCKS5
//   bit 1     with a credential ("fuzz-user:fuzz-pass")
//   bits 2-3  destination: a name, an IPv4 literal, an IPv6 literal, a
//             255-byte name
//   bits 4-7  seed of the chunk sizes
// and the rest is what the proxy sends. It is fed the way the connector
// feeds it: everything the tunnel has to send is sent first, then the
// proxy's bytes are peeked at in chunks of pseudo-random size, and what
// feed() used is taken off; the rest is fed again.
//
// It checks that
//  - feed() never uses more than it was given, and when it needs more it
//    used everything or has a request waiting (a peeking caller progresses);
//  - a failure is SY_ECONNECT, SY_EIO or SY_ELIMIT with sy_error.code equal,
//    a NUL-terminated message that names the hop and never the credential,
//    and a valid outcome kind; once open or failed, feed() uses nothing;
//  - on success the bytes used are exactly the reply: an HTTP header block
//    that ends with its empty line, or a whole SOCKS5 reply for its address
//    type;
//  - the answer (status, bytes used, message, bytes sent) does not depend on
//    how the input was split: whole, in random chunks, byte by byte.
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "connect/proxy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

const char *const kHop = "proxy 192.0.2.1:3128";
const char *const kCookie = "fuzz-user:fuzz-pass";
constexpr size_t kMaxInput = 64 * 1024; // SYF_MAX_INPUT

[[noreturn]] __attribute__((format(printf, 1, 2))) void die(const char *fmt, ...) {
    std::fprintf(stderr, "switchyard fuzz invariant: ");
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "\n");
    std::abort();
}

struct Result {
    int rc = 1;
    size_t used = 0;
    size_t sent = 0;
    uint8_t sent_bytes[4096];
    sy_error err;
};

enum class Split { Whole, Random, Bytes };

// Runs one handshake over the proxy's bytes d[0, n).
void run(uint8_t opt, const uint8_t *d, size_t n, Split split, Result *r) {
    static char long_name[256];
    if (!long_name[0]) {
        std::memset(long_name, 'n', 255);
        std::memcpy(long_name + 250, ".test", 5);
    }
    const char *hosts[] = {"db.example", "10.0.0.7", "2001:db8::7", long_name};
    const char *host = hosts[(opt >> 2) & 3];
    uint32_t proto = opt & 1 ? SY_PROXY_SOCKS5 : SY_PROXY_HTTP_CONNECT;
    const char *cookie = opt & 2 ? kCookie : nullptr;
    uint32_t rng = 0x9e3779b9u ^ (static_cast<uint32_t>(opt >> 4) * 0x85ebca6bu) ^
                   static_cast<uint32_t>(n);

    sy::net::Tunnel t;
    r->err = SY_STRUCT_INIT(sy_error);
    if (t.start(proto, host, 5432, cookie, kHop, &r->err) != SY_OK)
        die("start(%s, %s) failed: %s", sy::net::proxy_protocol_name(proto), host, r->err.message);
    size_t pos = 0;
    r->rc = 1;
    r->sent = 0;
    for (size_t steps = 0;; steps++) {
        if (steps > 4 * n + 64) die("no progress after %zu steps", steps);
        size_t len = 0;
        const uint8_t *o = t.out(&len);
        if (len) {
            if (r->sent + len > sizeof r->sent_bytes) die("requests of over %zu bytes", r->sent + len);
            std::memcpy(r->sent_bytes + r->sent, o, len);
            r->sent += len;
            // Sent in two parts, as a socket may take it.
            t.wrote(len / 2);
            t.wrote(len - len / 2);
            t.out(&len);
            if (len) die("out() still has %zu bytes after all were written", len);
            continue;
        }
        if (pos == n) break; // the proxy said all it had; the tunnel wants more
        size_t left = n - pos, k = left;
        if (split == Split::Bytes) {
            k = 1;
        } else if (split == Split::Random) {
            rng = rng * 1664525u + 1013904223u;
            k = 1 + (rng >> 8) % (left < 300 ? left : 300);
        }
        size_t used = SIZE_MAX;
        int rc = t.feed(d + pos, k, &used, &r->err);
        if (used > k) die("feed used %zu of %zu bytes", used, k);
        pos += used;
        r->rc = rc;
        if (rc == 1) {
            size_t pending = 0;
            t.out(&pending);
            if (used < k && !pending)
                die("feed needs more but used %zu of %zu bytes and has nothing to send", used, k);
            if (t.open() || t.failed()) die("feed needs more but the tunnel is open or failed");
            continue;
        }
        break;
    }
    r->used = pos;

    if (r->rc == 1) return;
    // Open or failed: further input is not the reply's.
    sy_error again = SY_STRUCT_INIT(sy_error);
    size_t used = SIZE_MAX;
    int rc = t.feed(reinterpret_cast<const uint8_t *>("x"), 1, &used, &again);
    if (used != 0) die("feed after the end used %zu bytes", used);
    if (rc != r->rc) die("feed after the end returned %d, not %d", rc, r->rc);
    size_t len = 0;
    t.out(&len);
    if (len) die("%zu bytes to send after the end", len);

    if (r->rc == 0) {
        if (!t.open()) die("returned 0 but is not open");
        if (proto == SY_PROXY_HTTP_CONNECT) {
            // The header block, through its empty line.
            if (r->used < 2 || d[r->used - 1] != '\n' ||
                !(d[r->used - 2] == '\n' || (r->used >= 3 && d[r->used - 2] == '\r' && d[r->used - 3] == '\n')))
                die("HTTP tunnel open after %zu bytes that do not end with an empty line", r->used);
            if (t.http_status() < 200 || t.http_status() > 299)
                die("HTTP tunnel open with status %d", t.http_status());
            if (r->used > sy::net::kProxyHttpHeaderMax) die("HTTP header of %zu bytes accepted", r->used);
        } else {
            // The method reply, maybe the auth reply, then the CONNECT reply.
            size_t at = 2;
            if (d[1] == 0x02) at += 2;
            const uint8_t *c = d + at;
            if (r->used < at + 5 || (c[3] == 3 && r->used < at + 7))
                die("SOCKS5 open after %zu bytes", r->used);
            size_t want = c[3] == 1 ? 10 : c[3] == 4 ? 22 : c[3] == 3 ? 7u + c[4] : 0;
            if (c[0] != 5 || c[1] != 0 || !want || r->used != at + want)
                die("SOCKS5 open after %zu bytes, reply at %zu: ver %u rep %u atyp %u", r->used, at,
                    c[0], c[1], c[3]);
            if (t.socks_reply() != 0) die("SOCKS5 open with reply %d", t.socks_reply());
        }
        return;
    }
    if (r->rc != SY_ECONNECT && r->rc != SY_EIO && r->rc != SY_ELIMIT)
        die("failed with %d (%s)", r->rc, sy_status_name(r->rc));
    if (!t.failed()) die("failed but failed() is false");
    if (r->err.code != r->rc) die("returned %d but sy_error.code is %d", r->rc, r->err.code);
    const char *nul = static_cast<const char *>(std::memchr(r->err.message, 0, sizeof r->err.message));
    if (!nul) die("message is not NUL-terminated");
    if (std::strncmp(r->err.message, kHop, std::strlen(kHop)) != 0)
        die("message does not name the hop: %s", r->err.message);
    // The credential never shows, unless the proxy itself sent those bytes.
    for (const char *secret : {"fuzz-pass", "ZnV6ei11c2VyOmZ1enotcGFzcw"}) {
        if (std::strstr(r->err.message, secret) && !memmem(d, n, secret, std::strlen(secret)))
            die("message shows the credential: %s", r->err.message);
    }
    for (const char *m = r->err.message; *m; m++)
        if (static_cast<unsigned char>(*m) < 0x20 || static_cast<unsigned char>(*m) >= 0x7f)
            die("message has byte 0x%02x", static_cast<unsigned char>(*m));
    uint32_t o = t.failure_outcome();
    if (o != SY_OUTCOME_REFUSED && o != SY_OUTCOME_TIMEOUT && o != SY_OUTCOME_OTHER_ERROR)
        die("failure outcome %u", o);
    if (r->rc == SY_ELIMIT && proto != SY_PROXY_HTTP_CONNECT) die("SY_ELIMIT from SOCKS5");
}

void same(const Result &a, const Result &b, const char *how) {
    if (a.rc != b.rc || a.used != b.used || a.sent != b.sent ||
        std::memcmp(a.sent_bytes, b.sent_bytes, a.sent) != 0 ||
        (a.rc < 0 && std::strcmp(a.err.message, b.err.message) != 0))
        die("fed whole: %d after %zu bytes (%s); fed %s: %d after %zu bytes (%s)", a.rc, a.used,
            a.rc < 0 ? a.err.message : "", how, b.rc, b.used, b.rc < 0 ? b.err.message : "");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > kMaxInput) return 0;
    uint8_t opt = data[0];
    static Result whole, chunked, bytes;
    run(opt, data + 1, size - 1, Split::Whole, &whole);
    run(opt, data + 1, size - 1, Split::Random, &chunked);
    same(whole, chunked, "in random chunks");
    run(opt, data + 1, size - 1, Split::Bytes, &bytes);
    same(whole, bytes, "byte by byte");
    return 0;
}
