// HTTP CONNECT and SOCKS5 tunnel handshakes as a byte codec (see proxy.hpp).
#include "connect/proxy.hpp"

#include <arpa/inet.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "util/error.hpp"

namespace sy::net {

namespace {

// How much of an HTTP status line is kept for messages.
constexpr size_t kStatusKeep = 160;
// "HTTP/1.x NNN": the fixed part of a status line.
constexpr size_t kStatusFixed = 12;

constexpr uint8_t kSocksVersion = 5;
constexpr uint8_t kMethodNone = 0x00;
constexpr uint8_t kMethodUserPass = 0x02;
constexpr uint8_t kMethodNoneAcceptable = 0xff;
constexpr uint8_t kAtypIpv4 = 1, kAtypName = 3, kAtypIpv6 = 4;

const char *socks_reply_text(unsigned rep) {
    switch (rep) {
    case 1: return "general SOCKS server failure";
    case 2: return "connection not allowed by the proxy's rules";
    case 3: return "network unreachable";
    case 4: return "host unreachable";
    case 5: return "connection refused by destination";
    case 6: return "TTL expired (timed out)";
    case 7: return "command not supported";
    case 8: return "address type not supported";
    default: return "unassigned failure code";
    }
}

// Standard base64 with padding; out holds 4 * ceil(n / 3) bytes.
size_t base64(const uint8_t *in, size_t n, uint8_t *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = static_cast<uint32_t>(in[i]) << 16;
        if (i + 1 < n) v |= static_cast<uint32_t>(in[i + 1]) << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = static_cast<uint8_t>(tab[(v >> 18) & 63]);
        out[o++] = static_cast<uint8_t>(tab[(v >> 12) & 63]);
        out[o++] = static_cast<uint8_t>(i + 1 < n ? tab[(v >> 6) & 63] : '=');
        out[o++] = static_cast<uint8_t>(i + 2 < n ? tab[v & 63] : '=');
    }
    return o;
}

bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

// Printable ASCII of s[0, n) into out (out_size > 0), other bytes as '?'.
void printable(const uint8_t *s, size_t n, char *out, size_t out_size) {
    size_t k = 0;
    for (; k < n && k + 1 < out_size; k++)
        out[k] = s[k] >= 0x20 && s[k] < 0x7f ? static_cast<char>(s[k]) : '?';
    out[k] = 0;
}

bool contains_nocase(const char *s, const char *word) {
    size_t w = std::strlen(word);
    for (; *s; s++) {
        size_t i = 0;
        while (i < w && s[i] && (s[i] | 0x20) == word[i]) i++;
        if (i == w) return true;
    }
    return false;
}

// Appends to a fixed buffer; the callers size it for the largest message.
struct Writer {
    uint8_t *buf;
    size_t cap;
    size_t len = 0;
    void put(const void *p, size_t n) {
        if (n > cap - len) n = cap - len; // cannot happen: the buffers fit the limits
        std::memcpy(buf + len, p, n);
        len += n;
    }
    void put(const char *s) { put(s, std::strlen(s)); }
    void byte(uint8_t b) { put(&b, 1); }
};

} // namespace

const char *proxy_protocol_name(uint32_t protocol) {
    switch (protocol) {
    case SY_PROXY_HTTP_CONNECT: return "http_connect";
    case SY_PROXY_SOCKS5: return "socks5";
    default: return "unknown";
    }
}

const char *Tunnel::proto_name() const { return proxy_protocol_name(protocol_); }

int Tunnel::bail(sy_error *err, int code, uint32_t outcome, const char *fmt, ...) {
    state_ = State::Failed;
    status_ = code;
    outcome_ = outcome;
    out_len_ = out_pos_ = 0;
    va_list ap;
    va_start(ap, fmt);
    sy::vfail(err, code, "", fmt, ap);
    va_end(ap);
    return code;
}

int Tunnel::start(uint32_t protocol, const char *dest_host, uint32_t dest_port,
                  const char *cookie, const char *hop_name, sy_error *err) {
    state_ = State::Idle;
    protocol_ = protocol;
    outcome_ = SY_OUTCOME_OTHER_ERROR;
    status_ = SY_OK;
    http_status_ = 0;
    socks_reply_ = -1;
    port_ = 0;
    kind_ = HostKind::Name;
    host_len_ = user_len_ = pass_len_ = 0;
    have_cred_ = false;
    cr_ = false;
    out_len_ = out_pos_ = in_len_ = need_ = line_ = total_ = 0;
    host_[0] = dest_[0] = cred_[0] = 0;
    std::snprintf(hop_, sizeof hop_, "%s", hop_name && *hop_name ? hop_name : "proxy");

    const char *proto = proto_name();
    if (protocol != SY_PROXY_HTTP_CONNECT && protocol != SY_PROXY_SOCKS5)
        return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR,
                    "%s: unknown proxy protocol %u (expected http_connect or socks5)", hop_,
                    protocol);

    // The destination host: a name, or an IP literal (IPv6 with or without brackets).
    if (!dest_host || !*dest_host)
        return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR, "%s (%s): empty destination host",
                    hop_, proto);
    size_t n = strnlen(dest_host, kProxyHostMax + 3);
    const char *h = dest_host;
    bool bracketed = h[0] == '[';
    if (bracketed) {
        if (n < 3 || h[n - 1] != ']')
            return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR,
                        "%s (%s): destination host '%.64s' has a '[' without a closing ']'",
                        hop_, proto, h);
        h++;
        n -= 2;
    }
    if (n > kProxyHostMax)
        return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR,
                    "%s (%s): destination host is over %zu bytes", hop_, proto, kProxyHostMax);
    for (size_t i = 0; i < n; i++) {
        auto c = static_cast<unsigned char>(h[i]);
        if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']')
            return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR,
                        "%s (%s): destination host has a space, bracket or control character "
                        "at byte %zu",
                        hop_, proto, i + (bracketed ? 1 : 0));
    }
    std::memcpy(host_, h, n);
    host_[n] = 0;
    host_len_ = n;
    if (!bracketed && inet_pton(AF_INET, host_, addr_) == 1) {
        kind_ = HostKind::Ipv4;
    } else if (inet_pton(AF_INET6, host_, addr_) == 1) {
        kind_ = HostKind::Ipv6;
    } else if (bracketed || std::memchr(host_, ':', n)) {
        return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR,
                    "%s (%s): destination host '%.64s' is not a valid IPv6 address", hop_, proto,
                    host_);
    }
    if (dest_port == 0 || dest_port > 65535)
        return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR,
                    "%s (%s): destination port %u is not 1..65535", hop_, proto, dest_port);
    port_ = dest_port;
    // For messages: "host:port", "[v6]:port"; a very long name is cut.
    const char *cut = host_len_ > 96 ? "..." : "";
    if (kind_ == HostKind::Ipv6)
        std::snprintf(dest_, sizeof dest_, "[%.100s]:%u", host_, port_);
    else
        std::snprintf(dest_, sizeof dest_, "%.96s%s:%u", host_, cut, port_);

    // The credential: never part of any message.
    if (cookie && *cookie) {
        size_t c = strnlen(cookie, kProxyCredentialMax + 1);
        if (c > kProxyCredentialMax)
            return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR,
                        "%s (%s): the credential is over %zu bytes", hop_, proto,
                        kProxyCredentialMax);
        if (protocol == SY_PROXY_SOCKS5) {
            const char *colon = static_cast<const char *>(std::memchr(cookie, ':', c));
            if (!colon)
                return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR,
                            "%s (socks5): the credential has no ':' between user and password",
                            hop_);
            user_len_ = static_cast<size_t>(colon - cookie);
            pass_len_ = c - user_len_ - 1;
            if (user_len_ == 0)
                return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR,
                            "%s (socks5): the credential has an empty user", hop_);
            if (user_len_ > 255 || pass_len_ > 255)
                return bail(err, SY_EINVAL, SY_OUTCOME_OTHER_ERROR,
                            "%s (socks5): the credential's %s is over 255 bytes", hop_,
                            user_len_ > 255 ? "user" : "password");
        }
        std::memcpy(cred_, cookie, c);
        cred_[c] = 0;
        have_cred_ = true;
    }

    Writer w{out_, sizeof out_};
    if (protocol == SY_PROXY_HTTP_CONNECT) {
        // CONNECT host:port HTTP/1.1, Host: the same, then the credential.
        char authority[kProxyHostMax + 2 + 1 + 5 + 1];
        std::snprintf(authority, sizeof authority, kind_ == HostKind::Ipv6 ? "[%s]:%u" : "%s:%u",
                      host_, port_);
        w.put("CONNECT ");
        w.put(authority);
        w.put(" HTTP/1.1\r\nHost: ");
        w.put(authority);
        w.put("\r\n");
        if (have_cred_) {
            uint8_t b64[(kProxyCredentialMax + 2) / 3 * 4];
            size_t b = base64(reinterpret_cast<const uint8_t *>(cred_), std::strlen(cred_), b64);
            w.put("Proxy-Authorization: Basic ");
            w.put(b64, b);
            w.put("\r\n");
        }
        w.put("\r\n");
        state_ = State::HttpStatus;
    } else {
        w.byte(kSocksVersion);
        if (have_cred_) {
            w.byte(2);
            w.byte(kMethodNone);
            w.byte(kMethodUserPass);
        } else {
            w.byte(1);
            w.byte(kMethodNone);
        }
        state_ = State::SocksMethod;
    }
    out_len_ = w.len;
    return SY_OK;
}

const uint8_t *Tunnel::out(size_t *len) const {
    *len = out_pos_ < out_len_ ? out_len_ - out_pos_ : 0;
    return out_ + out_pos_;
}

void Tunnel::wrote(size_t n) {
    size_t left = out_len_ - out_pos_;
    out_pos_ += n < left ? n : left;
}

int Tunnel::feed(const uint8_t *data, size_t len, size_t *used, sy_error *err) {
    size_t ignored = 0;
    if (!used) used = &ignored;
    *used = 0;
    if (!data) len = 0;
    switch (state_) {
    case State::Idle:
        return sy::fail(err, SY_EINVAL, "", "%s: proxy tunnel fed before it was started", hop_);
    case State::Open: return 0;
    case State::Failed:
        return sy::fail(err, status_, "", "%s (%s): the tunnel handshake has already failed",
                        hop_, proto_name());
    case State::HttpStatus:
    case State::HttpHeaders: return feed_http(data, len, used, err);
    default: return feed_socks(data, len, used, err);
    }
}

// ---------------------------------------------------------------- HTTP CONNECT

int Tunnel::feed_http(const uint8_t *data, size_t len, size_t *used, sy_error *err) {
    static const char prefix[] = "HTTP/1.";
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (++total_ > kProxyHttpHeaderMax) {
            *used = i + 1;
            return bail(err, SY_ELIMIT, SY_OUTCOME_OTHER_ERROR,
                        "%s (http_connect): the proxy's reply header is over %zu bytes", hop_,
                        kProxyHttpHeaderMax);
        }
        if (state_ == State::HttpHeaders) {
            // A line is empty when it is "\r\n" or "\n"; any other CR is content.
            if (c == '\n') {
                if (line_ == 0) { // the empty line: the tunnel starts after it
                    *used = i + 1;
                    state_ = State::Open;
                    return 0;
                }
                line_ = 0;
                cr_ = false;
            } else {
                line_ += cr_ ? 1 : 0;
                cr_ = c == '\r';
                line_ += cr_ ? 0 : 1;
            }
            continue;
        }
        // The status line: "HTTP/1.x NNN reason", checked as it comes so that
        // a peer that is no HTTP proxy fails at its first wrong byte.
        if (c == '\n') {
            *used = i + 1;
            int rc = http_status_line(err);
            if (rc <= 0) return rc;
            continue;
        }
        size_t pos = line_++;
        bool ok = pos < 7    ? c == static_cast<uint8_t>(prefix[pos])
                  : pos == 7 ? is_digit(c)
                  : pos == 8 ? c == ' '
                  : pos < 12 ? is_digit(c)
                  : pos == 12 ? c == ' ' || c == '\r'
                              : true;
        if (in_len_ < kStatusKeep) in_[in_len_++] = c;
        if (!ok) {
            *used = i + 1;
            char text[kStatusKeep + 1];
            printable(in_, in_len_, text, sizeof text);
            return bail(err, SY_EIO, SY_OUTCOME_OTHER_ERROR,
                        "%s (http_connect): malformed reply: the status line '%s' is not "
                        "'HTTP/1.x NNN reason'",
                        hop_, text);
        }
    }
    *used = len;
    return 1;
}

// A whole status line is in (its LF not kept); returns 1 to read the headers.
int Tunnel::http_status_line(sy_error *err) {
    if (in_len_ == line_ && in_len_ && in_[in_len_ - 1] == '\r') {
        in_len_--;
        line_--;
    }
    char text[kStatusKeep + 1];
    printable(in_, in_len_, text, sizeof text);
    if (line_ < kStatusFixed || (line_ > kStatusFixed && in_[kStatusFixed] != ' ') ||
        in_[9] == '0')
        return bail(err, SY_EIO, SY_OUTCOME_OTHER_ERROR,
                    "%s (http_connect): malformed reply: the status line '%s' is not "
                    "'HTTP/1.x NNN reason'",
                    hop_, text);
    int code = (in_[9] - '0') * 100 + (in_[10] - '0') * 10 + (in_[11] - '0');
    http_status_ = code;
    if (code >= 200 && code < 300) {
        state_ = State::HttpHeaders;
        line_ = 0;
        cr_ = false;
        return 1;
    }
    // 407 asks for a credential; a proxy answering CONNECT with 401 means the
    // same (tinyproxy 1.11 sends 401 for a wrong credential, 407 for none).
    if (code == 407 || code == 401)
        return bail(err, SY_ECONNECT, SY_OUTCOME_OTHER_ERROR,
                    have_cred_ ? "%s (http_connect): the proxy rejected the credential: %s"
                               : "%s (http_connect): the proxy requires authentication and no "
                                 "credential was given: %s",
                    hop_, text);
    uint32_t outcome = SY_OUTCOME_OTHER_ERROR;
    if (code == 502 || code == 503 || contains_nocase(text + kStatusFixed, "refused"))
        outcome = SY_OUTCOME_REFUSED;
    else if (code == 504)
        outcome = SY_OUTCOME_TIMEOUT;
    return bail(err, SY_ECONNECT, outcome, "%s (http_connect) refused the tunnel to %s: %s", hop_,
                dest_, text);
}

// ---------------------------------------------------------------- SOCKS5

void Tunnel::socks_send_auth() {
    // RFC 1929: VER 1, ULEN, UNAME, PLEN, PASSWD.
    Writer w{out_, sizeof out_};
    w.byte(1);
    w.byte(static_cast<uint8_t>(user_len_));
    w.put(cred_, user_len_);
    w.byte(static_cast<uint8_t>(pass_len_));
    w.put(cred_ + user_len_ + 1, pass_len_);
    out_len_ = w.len;
    out_pos_ = 0;
}

void Tunnel::socks_send_connect() {
    // VER 5, CMD 1 (CONNECT), RSV 0, ATYP, DST.ADDR, DST.PORT.
    Writer w{out_, sizeof out_};
    w.byte(kSocksVersion);
    w.byte(1);
    w.byte(0);
    switch (kind_) {
    case HostKind::Ipv4:
        w.byte(kAtypIpv4);
        w.put(addr_, 4);
        break;
    case HostKind::Ipv6:
        w.byte(kAtypIpv6);
        w.put(addr_, 16);
        break;
    case HostKind::Name:
        w.byte(kAtypName);
        w.byte(static_cast<uint8_t>(host_len_));
        w.put(host_, host_len_);
        break;
    }
    w.byte(static_cast<uint8_t>(port_ >> 8));
    w.byte(static_cast<uint8_t>(port_ & 0xff));
    out_len_ = w.len;
    out_pos_ = 0;
}

int Tunnel::feed_socks(const uint8_t *data, size_t len, size_t *used, sy_error *err) {
    if (len && out_pos_ < out_len_)
        return bail(err, SY_EIO, SY_OUTCOME_OTHER_ERROR,
                    "%s (socks5): malformed reply: the proxy sent data before our request was "
                    "complete",
                    hop_);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        in_[in_len_++] = c;
        switch (state_) {
        case State::SocksMethod:
            if (in_len_ == 1 && c != kSocksVersion) {
                *used = i + 1;
                return bail(err, SY_EIO, SY_OUTCOME_OTHER_ERROR,
                            "%s (socks5): malformed reply: version byte 0x%02x, not a SOCKS5 "
                            "reply",
                            hop_, c);
            }
            if (in_len_ < 2) break;
            *used = i + 1;
            in_len_ = 0;
            if (c == kMethodNone) {
                socks_send_connect();
                state_ = State::SocksReply;
                return 1;
            }
            if (c == kMethodUserPass && have_cred_) {
                socks_send_auth();
                state_ = State::SocksAuth;
                return 1;
            }
            if (c == kMethodNoneAcceptable)
                return bail(err, SY_ECONNECT, SY_OUTCOME_OTHER_ERROR,
                            have_cred_ ? "%s (socks5): proxy accepted none of the offered "
                                         "authentication methods (none, username/password)"
                                       : "%s (socks5): proxy requires authentication and no "
                                         "credential was given",
                            hop_);
            return bail(err, SY_EIO, SY_OUTCOME_OTHER_ERROR,
                        "%s (socks5): malformed reply: the proxy chose authentication method "
                        "0x%02x, which was not offered",
                        hop_, c);
        case State::SocksAuth:
            // RFC 1929 says version 1; some servers answer 5.
            if (in_len_ == 1 && c != 1 && c != kSocksVersion) {
                *used = i + 1;
                return bail(err, SY_EIO, SY_OUTCOME_OTHER_ERROR,
                            "%s (socks5): malformed reply: username/password reply version "
                            "0x%02x",
                            hop_, c);
            }
            if (in_len_ < 2) break;
            *used = i + 1;
            in_len_ = 0;
            if (c != 0)
                return bail(err, SY_ECONNECT, SY_OUTCOME_OTHER_ERROR,
                            "%s (socks5): proxy rejected the credential (username/password "
                            "status %u)",
                            hop_, c);
            socks_send_connect();
            state_ = State::SocksReply;
            return 1;
        default: // SocksReply: VER REP RSV ATYP BND.ADDR BND.PORT
            if (in_len_ == 1 && c != kSocksVersion) {
                *used = i + 1;
                return bail(err, SY_EIO, SY_OUTCOME_OTHER_ERROR,
                            "%s (socks5): malformed reply: CONNECT reply version 0x%02x", hop_, c);
            }
            if (in_len_ == 2) {
                socks_reply_ = c;
                if (c != 0) {
                    *used = i + 1;
                    uint32_t outcome = c == 5   ? SY_OUTCOME_REFUSED
                                       : c == 6 ? SY_OUTCOME_TIMEOUT
                                                : SY_OUTCOME_OTHER_ERROR;
                    return bail(err, SY_ECONNECT, outcome,
                                "%s (socks5) could not open the tunnel to %s: %s (reply %u)", hop_,
                                dest_, socks_reply_text(c), c);
                }
            } else if (in_len_ == 4) {
                if (c == kAtypIpv4) {
                    need_ = 4 + 4 + 2;
                } else if (c == kAtypIpv6) {
                    need_ = 4 + 16 + 2;
                } else if (c != kAtypName) {
                    *used = i + 1;
                    return bail(err, SY_EIO, SY_OUTCOME_OTHER_ERROR,
                                "%s (socks5): malformed reply: unknown address type %u in the "
                                "CONNECT reply",
                                hop_, c);
                }
            } else if (in_len_ == 5 && in_[3] == kAtypName) {
                need_ = 4 + 1 + static_cast<size_t>(c) + 2;
            }
            if (need_ && in_len_ == need_) {
                *used = i + 1;
                in_len_ = 0;
                state_ = State::Open;
                return 0;
            }
            break;
        }
    }
    *used = len;
    return 1;
}

} // namespace sy::net
