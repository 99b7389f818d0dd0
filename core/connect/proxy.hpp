// The proxy-tunnel layer: asks one proxy hop to open a TCP tunnel, with HTTP
// CONNECT or SOCKS5 (RFC 1928, username/password of RFC 1929). A pure codec:
// no I/O, no heap, no clock. The caller moves the bytes:
//
//   t.start(protocol, host, port, cookie, "proxy 10.0.0.1:3128", &err);
//   loop: send t.out() and report it with t.wrote(n);
//         peek (MSG_PEEK) what the proxy sent, t.feed() it, then take exactly
//         *used bytes off the socket: what follows the reply is the tunnel's.
//
// feed() consumes every byte it is given while it needs more input, unless a
// reply is complete and the next request is waiting in out() (SOCKS5), so a
// peeking caller always makes progress.
#pragma once
#include <switchyard/switchyard.h>

#include <cstddef>
#include <cstdint>

namespace sy::net {

// Limits: a destination host is at most 255 bytes, a credential at most
// 255 (user) + 1 (':') + 255 (password); an HTTP reply header (status line
// included) at most 8 KiB.
constexpr size_t kProxyHostMax = 255;
constexpr size_t kProxyCredentialMax = 255 + 1 + 255;
constexpr size_t kProxyHttpHeaderMax = 8192;

// One hop's tunnel handshake: asks the proxy we are connected to, to open a
// TCP tunnel to dest_host:dest_port. Pure: the caller moves the bytes.
class Tunnel {
public:
    // protocol: SY_PROXY_HTTP_CONNECT or SY_PROXY_SOCKS5. cookie: the
    // credential "user:password", or NULL or "" for none (HTTP: header
    // Proxy-Authorization: Basic base64(cookie); SOCKS5: RFC 1929
    // username/password, offering the methods {no-auth, user/pass} when a
    // cookie is given, {no-auth} otherwise). dest_host: a name, an IPv4
    // literal or an IPv6 literal (with or without brackets). hop_name: text
    // used in messages, e.g. "proxy 127.0.0.1:8888" (NULL: "proxy").
    // Errors (SY_EINVAL): a bad protocol, an empty or too long host, a host
    // with spaces or control characters, port 0 or > 65535, a SOCKS5 cookie
    // without ':' or with an empty user, a too long credential.
    // May be called again to start over.
    int start(uint32_t protocol, const char *dest_host, uint32_t dest_port, const char *cookie,
              const char *hop_name, sy_error *err);
    // Bytes to send now (len 0: nothing; wait for input, or done).
    const uint8_t *out(size_t *len) const;
    // n of the bytes from out() were sent.
    void wrote(size_t n);
    // Feeds received bytes. Consumes only what belongs to the proxy's reply
    // (never bytes after it: those belong to the tunnel); *used tells how
    // many. Returns 1: need more input (send out() first if it has bytes);
    // 0: the tunnel is open; <0: failure: SY_ECONNECT for a refusal by the
    // proxy or the target, SY_EIO for a malformed reply, SY_ELIMIT for an
    // HTTP reply header over 8 KiB, SY_EINVAL when not started. Any HTTP
    // status but 2xx is a refusal (401 and 407 say the credential is missing
    // or wrong); a refusal is reported as soon as its status line is in.
    // Once open or failed, further calls consume nothing and return the same.
    int feed(const uint8_t *data, size_t len, size_t *used, sy_error *err);
    // The kind of outcome a failure is: SY_OUTCOME_REFUSED (SOCKS5 reply 5;
    // HTTP 502/503, or a reason phrase saying "refused"), SY_OUTCOME_TIMEOUT
    // (SOCKS5 reply 6, HTTP 504), SY_OUTCOME_OTHER_ERROR otherwise.
    uint32_t failure_outcome() const { return outcome_; }

    bool open() const { return state_ == State::Open; }
    bool failed() const { return state_ == State::Failed; }
    uint32_t protocol() const { return protocol_; }
    // The HTTP status of the reply (0: none yet); the SOCKS5 reply code of the
    // CONNECT reply (-1: none yet).
    int http_status() const { return http_status_; }
    int socks_reply() const { return socks_reply_; }

private:
    enum class State : uint8_t {
        Idle,        // not started
        HttpStatus,  // reading the status line
        HttpHeaders, // 2xx: reading the header block up to its empty line
        SocksMethod, // VER METHOD
        SocksAuth,   // VER STATUS (RFC 1929)
        SocksReply,  // VER REP RSV ATYP BND.ADDR BND.PORT
        Open,
        Failed,
    };
    enum class HostKind : uint8_t { Name, Ipv4, Ipv6 };

    int feed_http(const uint8_t *data, size_t len, size_t *used, sy_error *err);
    int feed_socks(const uint8_t *data, size_t len, size_t *used, sy_error *err);
    int http_status_line(sy_error *err);
    void socks_send_auth();
    void socks_send_connect();
    int bail(sy_error *err, int code, uint32_t outcome, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
    const char *proto_name() const;

    State state_ = State::Idle;
    uint32_t protocol_ = 0;
    uint32_t outcome_ = SY_OUTCOME_OTHER_ERROR;
    int status_ = SY_OK;     // the failure's status, for calls after it
    int http_status_ = 0;
    int socks_reply_ = -1;
    uint32_t port_ = 0;
    HostKind kind_ = HostKind::Name;
    size_t host_len_ = 0;
    size_t user_len_ = 0, pass_len_ = 0; // SOCKS5: the credential split at ':'
    bool have_cred_ = false;

    size_t out_len_ = 0, out_pos_ = 0;
    size_t in_len_ = 0;   // SOCKS5: bytes of the current reply; HTTP: of the status line kept
    size_t need_ = 0;     // SOCKS5 CONNECT reply: its length, once the address type is known
    size_t line_ = 0;     // HTTP: bytes of the current line (a CR not yet counted)
    bool cr_ = false;     // HTTP headers: the last byte was a CR (content unless LF follows)
    size_t total_ = 0;    // HTTP: bytes of the reply header so far

    uint8_t addr_[16] = {};                 // Ipv4 / Ipv6: the address
    char host_[kProxyHostMax + 1] = {};     // without brackets
    char dest_[136] = {};                   // "host:port" for messages (long hosts cut)
    char hop_[272] = {};
    char cred_[kProxyCredentialMax + 1] = {};
    // The largest request: CONNECT with both Host and a Basic credential.
    uint8_t out_[1536];
    // SOCKS5: the largest reply (domain ATYP); HTTP: the status line as kept.
    uint8_t in_[4 + 1 + 255 + 2];
};

const char *proxy_protocol_name(uint32_t protocol); // "http_connect", "socks5", "unknown"

} // namespace sy::net
