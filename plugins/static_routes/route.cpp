// One route from its config element: fields checked (host and port when the
// route is added, not when it is first dialled), the pattern compiled once
// with PCRE2 and its JIT, and the strings a target hands out made once.
#include "static_routes/routes.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>

#include "address_map/hostport.hpp"
#include "common/json_keys.hpp"
#include "common/json_path.hpp"
#include "common/strings.hpp"

namespace sr {

void *pcre_malloc(size_t size, void *data) {
    const sy_host *h = static_cast<PcreMem *>(data)->host;
    auto *p = static_cast<char *>(h->alloc(h, size + 16, 16));
    if (!p) return nullptr;
    std::memcpy(p, &size, sizeof size);
    return p + 16;
}

void pcre_free(void *p, void *data) {
    if (!p) return;
    const sy_host *h = static_cast<PcreMem *>(data)->host;
    char *b = static_cast<char *>(p) - 16;
    size_t size;
    std::memcpy(&size, b, sizeof size);
    h->free(h, b, size + 16);
}

const char *name_host(const char *name, size_t len, size_t *host_len) {
    const char *at = static_cast<const char *>(std::memchr(name, '@', len));
    if (!at || at + 1 == name + len) return nullptr;
    *host_len = static_cast<size_t>(name + len - (at + 1));
    return at + 1;
}

bool split_hostport(const char *s, char *buf, size_t size, uint32_t *port) {
    syp::Endpoint ep;
    if (syp::parse_endpoint(s, &ep) != nullptr) return false;
    if (!syp::hp_copy(buf, size, ep.host, ep.host_len)) return false;
    *port = ep.port;
    return true;
}

namespace {

// A growable string over the host allocator, for the JSON a route hands out.
struct Buf {
    const sy_host *h;
    char *p = nullptr;
    size_t len = 0, cap = 0;
    bool oom = false;
    explicit Buf(const sy_host *host) : h(host) {}
    ~Buf() {
        if (p) h->free(h, p, cap);
    }
    void put(const char *s, size_t n) {
        if (oom) return;
        if (len + n + 1 > cap) {
            size_t nc = cap ? cap : 128;
            while (len + n + 1 > nc) nc *= 2;
            auto *np = static_cast<char *>(h->alloc(h, nc, 1));
            if (!np) {
                oom = true;
                return;
            }
            if (p) {
                std::memcpy(np, p, len);
                h->free(h, p, cap);
            }
            p = np;
            cap = nc;
        }
        std::memcpy(p + len, s, n);
        len += n;
        p[len] = '\0';
    }
    void str(const char *s) { put(s, std::strlen(s)); }
    void quoted(const char *s) {
        put("\"", 1);
        for (; *s; s++) {
            unsigned char c = static_cast<unsigned char>(*s);
            char esc[8];
            if (c == '"' || c == '\\') {
                esc[0] = '\\';
                esc[1] = static_cast<char>(c);
                put(esc, 2);
            } else if (c < 0x20) {
                std::snprintf(esc, sizeof esc, "\\u%04x", c);
                put(esc, 6);
            } else {
                put(s, 1);
            }
        }
        put("\"", 1);
    }
    void key(const char *k) {
        if (len > 1) put(",", 1);
        quoted(k);
        put(":", 1);
    }
    void num(long long v) {
        char b[32];
        int n = std::snprintf(b, sizeof b, "%lld", v);
        put(b, static_cast<size_t>(n));
    }
    // Hands the string over (exactly sized, freed with strlen + 1).
    char *take() {
        if (oom || !p) return nullptr;
        auto *out = static_cast<char *>(h->alloc(h, len + 1, 1));
        if (out) std::memcpy(out, p, len + 1);
        return out;
    }
};

using syp::dup;
using syp::sfree;

const char *type_name(const sy_host *h, const sy_json *v) {
    switch (h->json_type(v)) {
    case SY_JSON_NULL: return "null";
    case SY_JSON_FALSE:
    case SY_JSON_TRUE: return "a boolean";
    case SY_JSON_NUMBER: return "a number";
    case SY_JSON_STRING: return "a string";
    case SY_JSON_ARRAY: return "an array";
    case SY_JSON_OBJECT: return "an object";
    default: return "nothing";
    }
}

// Errors name the route's path plus the field.
struct Ctx {
    const sy_host *h;
    const char *path;
    sy_error *err;

    int fail(const char *field, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5))) {
        char p[SY_ERROR_PATH_MAX * 2];
        size_t len = 0;
        int n = std::snprintf(p, sizeof p, "%s", path);
        len = n > 0 ? (static_cast<size_t>(n) < sizeof p ? static_cast<size_t>(n) : sizeof p - 1) : 0;
        if (field) syp::path_append_key(p, sizeof p, &len, field);
        char msg[SY_ERROR_MESSAGE_MAX];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        h->set_error(err, code, p, "%s", msg);
        return code;
    }
};

int get_string(Ctx &c, const sy_json *obj, const char *key, bool required, size_t max,
               const char **out) {
    const sy_json *v = c.h->json_get(obj, key);
    *out = nullptr;
    if (c.h->json_type(v) == SY_JSON_MISSING) {
        if (required) return c.fail(key, SY_ECONFIG, "required (a string)");
        return SY_OK;
    }
    const char *s = c.h->json_string(v);
    if (!s) return c.fail(key, SY_ECONFIG, "expected a string, got %s", type_name(c.h, v));
    size_t n = std::strlen(s);
    if (n == 0) return c.fail(key, SY_ECONFIG, "must not be empty");
    if (n > max) return c.fail(key, SY_ECONFIG, "%zu bytes is over the limit of %zu", n, max);
    *out = s;
    return SY_OK;
}

int get_bool(Ctx &c, const sy_json *obj, const char *key, int *out) {
    const sy_json *v = c.h->json_get(obj, key);
    uint32_t t = c.h->json_type(v);
    if (t == SY_JSON_MISSING) return SY_OK;
    if (t != SY_JSON_TRUE && t != SY_JSON_FALSE)
        return c.fail(key, SY_ECONFIG, "expected true or false, got %s", type_name(c.h, v));
    *out = t == SY_JSON_TRUE;
    return SY_OK;
}

int get_int(Ctx &c, const sy_json *obj, const char *key, long long lo, long long hi,
            long long *out) {
    const sy_json *v = c.h->json_get(obj, key);
    uint32_t t = c.h->json_type(v);
    if (t == SY_JSON_MISSING) return SY_OK;
    double d = c.h->json_number(v);
    if (t != SY_JSON_NUMBER || d != std::floor(d) || d < static_cast<double>(lo) ||
        d > static_cast<double>(hi))
        return c.fail(key, SY_ECONFIG, "expected an integer in %lld..%lld, got %s", lo, hi,
                      t == SY_JSON_NUMBER ? "another number" : type_name(c.h, v));
    *out = static_cast<long long>(d);
    return SY_OK;
}

int check_keys(Ctx &c, const sy_json *obj, const char *const *allowed) {
    const char *why = nullptr;
    if (const char *k = syp::bad_key(c.h, obj, allowed, &why)) return c.fail(k, SY_ECONFIG, "%s", why);
    return SY_OK;
}

// A host name, IPv4 literal or IPv6 literal (brackets allowed): NULL or why not.
const char *check_host(const char *s) {
    size_t n = std::strlen(s);
    if (std::strchr(s, ':')) {
        char buf[64];
        const char *a = s;
        size_t an = n;
        if (s[0] == '[') {
            if (s[n - 1] != ']') return "an IPv6 literal in '[' needs its ']'";
            a = s + 1;
            an = n - 2;
        }
        unsigned char addr[16];
        if (!syp::hp_copy(buf, sizeof buf, a, an) || inet_pton(AF_INET6, buf, addr) != 1)
            return "not a host name or IP address (give the port in \"port\")";
        return nullptr;
    }
    syp::Endpoint ep;
    return syp::hp_check_host(s, n, &ep);
}

int readable(Ctx &c, const char *field, const char *file, bool dir) {
    struct stat st;
    if (stat(file, &st) != 0)
        return c.fail(field, SY_ECONFIG, "%s: %s", file, std::strerror(errno));
    if (dir != S_ISDIR(st.st_mode))
        return c.fail(field, SY_ECONFIG, "%s: %s", file, dir ? "not a directory" : "is a directory");
    if (access(file, R_OK) != 0) return c.fail(field, SY_ECONFIG, "%s: not readable", file);
    return SY_OK;
}

const char *const kStaticKeys[] = {"pattern", "weight", "host", "port", "tls", "tls_profile", "cookie",
                                   "flags", "log_level", "resolver", nullptr};
const char *const kProxyKeys[] = {"pattern", "to", "proxy", "max_hop", "protocol", "weight", "cookie",
                                  "flags", nullptr};
const char *const kProfileKeys[] = {"ca_file", "ca_dir", "cert_file", "key_file", "server_name",
                                    "insecure_skip_verify", nullptr};
const char *const kLevels[] = {"", "error", "warn", "info", "debug", "trace"};

int parse_profile(Ctx &rc, const sy_json *v, Route *r) {
    const sy_host *h = rc.h;
    if (h->json_type(v) != SY_JSON_OBJECT)
        return rc.fail("tls_profile", SY_ECONFIG, "expected an object, got %s", type_name(h, v));
    char path[SY_ERROR_PATH_MAX * 2];
    size_t len = 0;
    int n = std::snprintf(path, sizeof path, "%s", rc.path);
    len = n > 0 ? (static_cast<size_t>(n) < sizeof path ? static_cast<size_t>(n) : sizeof path - 1) : 0;
    syp::path_append_key(path, sizeof path, &len, "tls_profile");
    Ctx c{h, path, rc.err};
    if (int e = check_keys(c, v, kProfileKeys)) return e;
    const char *ca = nullptr, *cadir = nullptr, *cert = nullptr, *key = nullptr, *sni = nullptr;
    int skip = 0;
    if (int e = get_string(c, v, "ca_file", false, 4096, &ca)) return e;
    if (int e = get_string(c, v, "ca_dir", false, 4096, &cadir)) return e;
    if (int e = get_string(c, v, "cert_file", false, 4096, &cert)) return e;
    if (int e = get_string(c, v, "key_file", false, 4096, &key)) return e;
    if (int e = get_string(c, v, "server_name", false, syp::kMaxHostName, &sni)) return e;
    if (int e = get_bool(c, v, "insecure_skip_verify", &skip)) return e;
    if ((cert == nullptr) != (key == nullptr))
        return c.fail(cert ? "key_file" : "cert_file", SY_ECONFIG,
                      "a client certificate needs both cert_file and key_file");
    if (ca && readable(c, "ca_file", ca, false)) return rc.err->code;
    if (cadir && readable(c, "ca_dir", cadir, true)) return rc.err->code;
    if (cert && readable(c, "cert_file", cert, false)) return rc.err->code;
    if (key && readable(c, "key_file", key, false)) return rc.err->code;
    if (sni) {
        syp::Endpoint ep;
        if (const char *why = syp::hp_check_host(sni, std::strlen(sni), &ep))
            return c.fail("server_name", SY_ECONFIG, "%s", why);
    }
    sy_tls_profile &p = r->profile;
    p.struct_size = sizeof p;
    p.insecure_skip_verify = skip ? 1u : 0u;
    if ((ca && !(p.ca_file = dup(h, ca))) || (cadir && !(p.ca_dir = dup(h, cadir))) ||
        (cert && !(p.cert_file = dup(h, cert))) || (key && !(p.key_file = dup(h, key))) ||
        (sni && !(p.server_name = dup(h, sni))))
        return c.fail(nullptr, SY_ENOMEM, "out of memory");
    r->has_profile = true;
    return SY_OK;
}

int parse_flags(Ctx &c, const sy_json *v, FlagNames &reg, Route *r) {
    const sy_host *h = c.h;
    if (h->json_type(v) == SY_JSON_MISSING) return SY_OK;
    if (h->json_type(v) != SY_JSON_ARRAY)
        return c.fail("flags", SY_ECONFIG, "expected an array of names, got %s", type_name(h, v));
    size_t n = h->json_count(v);
    if (n > kMaxFlags) return c.fail("flags", SY_ECONFIG, "%zu flags is over the limit of %zu", n, kMaxFlags);
    if (n == 0) return SY_OK;
    r->flag_names = static_cast<const char **>(h->alloc(h, n * sizeof(char *), alignof(char *)));
    if (!r->flag_names) return c.fail("flags", SY_ENOMEM, "out of memory");
    r->flag_cap = static_cast<uint32_t>(n);
    for (size_t i = 0; i < n; i++) {
        const char *s = h->json_string(h->json_at(v, i));
        char field[32];
        std::snprintf(field, sizeof field, "flags[%zu]", i);
        if (!s || !*s || std::strlen(s) > 64)
            return c.fail(nullptr, SY_ECONFIG, "%s: expected a flag name of 1 to 64 bytes", field);
        uint32_t bit = 0;
        while (bit < reg.count && std::strcmp(reg.names[bit], s) != 0) bit++;
        if (bit == reg.count) {
            if (reg.count == kMaxFlags)
                return c.fail(nullptr, SY_ELIMIT, "%s: '%s' would be distinct flag name #%zu; a table has at most %zu",
                              field, s, kMaxFlags + 1, kMaxFlags);
            if (!(reg.names[reg.count] = dup(h, s))) return c.fail(nullptr, SY_ENOMEM, "out of memory");
            reg.count++;
        }
        if (r->flags & (1ull << bit))
            return c.fail(nullptr, SY_ECONFIG, "%s: '%s' is given twice", field, s);
        r->flags |= 1ull << bit;
        r->flag_names[r->flag_count++] = reg.names[bit]; // the registry outlives routes
    }
    return SY_OK;
}

// The literal text an anchored pattern's matches start with, read from the
// pattern: up to the first metacharacter, minus a last character a
// quantifier makes optional; none when an alternation at the top level could
// bypass it. Conservative: a shorter prefix only costs a PCRE2 call.
size_t literal_prefix(const char *p, char *out, size_t cap) {
    int depth = 0;
    bool esc = false, cls = false;
    for (const char *q = p; *q; q++) { // a top-level '|' voids any prefix
        if (esc) {
            esc = false;
        } else if (*q == '\\') {
            esc = true;
        } else if (cls) {
            cls = *q != ']';
        } else if (*q == '[') {
            cls = true;
        } else if (*q == '(') {
            depth++;
        } else if (*q == ')') {
            depth--;
        } else if (*q == '|' && depth <= 0) {
            return 0;
        }
    }
    const char *q = p;
    if (*q == '^') q++;
    size_t n = 0;
    while (*q && n < cap) {
        char ch = *q;
        size_t step = 1;
        if (ch == '\\') {
            char e = q[1];
            // escaped punctuation is itself; letters and digits are classes
            if (!e || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) break;
            ch = e;
            step = 2;
        } else if (std::strchr("^$.|?*+()[]{}", ch)) {
            break;
        }
        char next = q[step];
        if (next == '?' || next == '*' || next == '{') break; // this one is optional
        if (next == '+') { // this one is there at least once, nothing after is literal
            out[n++] = ch;
            break;
        }
        out[n++] = ch;
        q += step;
    }
    return n;
}

int compile(Ctx &c, const PcreMem &mem, const Options &opt, const char *pattern, Route *r) {
    pcre2_compile_context *cc = pcre2_compile_context_create(mem.gctx);
    if (!cc) return c.fail("pattern", SY_ENOMEM, "out of memory");
    int ecode = 0;
    PCRE2_SIZE eoff = 0;
    uint32_t flags = opt.anchored ? (PCRE2_ANCHORED | PCRE2_ENDANCHORED) : 0;
    r->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), std::strlen(pattern), flags, &ecode,
                            &eoff, cc);
    pcre2_compile_context_free(cc);
    if (!r->code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ecode, msg, sizeof msg) < 0) std::snprintf(reinterpret_cast<char *>(msg), sizeof msg, "error %d", ecode);
        return c.fail("pattern", ecode == PCRE2_ERROR_NOMEMORY || ecode == PCRE2_ERROR_HEAP_FAILED ? SY_ENOMEM : SY_ECONFIG,
                      "PCRE2 error at offset %zu: %s", static_cast<size_t>(eoff), msg);
    }
    // Without JIT a match needs heap frames: only where PCRE2 has no JIT
    // for the pattern, never because memory ran short here.
    int jrc = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE);
    if (jrc == PCRE2_ERROR_NOMEMORY) return c.fail("pattern", SY_ENOMEM, "out of memory (PCRE2 JIT)");
    r->jit = jrc == 0;
    if (!opt.anchored) return SY_OK;
    // The bytes a name can start with: a partial match of each single byte
    // tells whether some name beginning with it could match.
    // PCRE2 refuses partial matching with PCRE2_ENDANCHORED: probe a copy
    // compiled without it (what a name can start with does not depend on it).
    pcre2_compile_context *pc = pcre2_compile_context_create(mem.gctx);
    pcre2_code *probe = pc ? pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), std::strlen(pattern),
                                           PCRE2_ANCHORED, &ecode, &eoff, pc)
                           : nullptr;
    if (pc) pcre2_compile_context_free(pc);
    pcre2_match_data *md = probe ? pcre2_match_data_create(1, mem.gctx) : nullptr;
    if (!md) {
        if (probe) pcre2_code_free(probe);
        return c.fail("pattern", SY_ENOMEM, "out of memory");
    }
    bool all = true;
    for (int b = 0; b < 256; b++) {
        auto byte = static_cast<unsigned char>(b);
        int rc = pcre2_match(probe, &byte, 1, 0, PCRE2_PARTIAL_SOFT | PCRE2_NO_JIT, md, nullptr);
        if (rc >= 0 || rc == PCRE2_ERROR_PARTIAL)
            r->first[b >> 3] = static_cast<uint8_t>(r->first[b >> 3] | (1u << (b & 7)));
        else if (rc != PCRE2_ERROR_NOMATCH)
            all = false; // unsure: keep the pattern in every bucket
    }
    pcre2_match_data_free(md);
    pcre2_code_free(probe);
    r->first_known = all;
    char pre[256];
    if (size_t n = literal_prefix(pattern, pre, sizeof pre)) {
        r->prefix = static_cast<char *>(c.h->alloc(c.h, n + 1, 1));
        if (!r->prefix) return c.fail("pattern", SY_ENOMEM, "out of memory");
        std::memcpy(r->prefix, pre, n);
        r->prefix[n] = '\0';
        r->prefix_len = static_cast<uint32_t>(n);
    }
    return SY_OK;
}

int make_strings(Ctx &c, Route *r) {
    const sy_host *h = c.h;
    Buf via(h), js(h);
    via.put("{", 1);
    js.put("{", 1);
    if (r->kind == SY_ROUTE_STATIC) {
        via.key("pattern");
        via.quoted(r->pattern);
        via.key("weight");
        via.num(r->weight);
        if (r->resolver) {
            via.key("resolver");
            via.str("true");
        }
    } else {
        via.key("proxy_route");
        via.quoted(r->pattern);
        via.key("weight");
        via.num(r->weight);
        via.key("proxy");
        via.quoted(r->proxy);
    }
    via.put("}", 1);
    js.key("pattern");
    js.quoted(r->pattern);
    js.key("weight");
    js.num(r->weight);
    if (r->kind == SY_ROUTE_STATIC) {
        if (r->host) {
            js.key("host");
            js.quoted(r->host);
        }
        if (r->port) {
            js.key("port");
            js.num(r->port);
        }
        if (r->tls >= 0) {
            js.key("tls");
            js.str(r->tls ? "true" : "false");
        }
        if (r->has_profile) {
            const sy_tls_profile &p = r->profile;
            js.key("tls_profile");
            js.put("{", 1);
            size_t mark = js.len;
            const char *names[] = {"ca_file", "ca_dir", "cert_file", "key_file", "server_name"};
            const char *vals[] = {p.ca_file, p.ca_dir, p.cert_file, p.key_file, p.server_name};
            for (int i = 0; i < 5; i++) {
                if (!vals[i]) continue;
                if (js.len > mark) js.put(",", 1);
                js.quoted(names[i]);
                js.put(":", 1);
                js.quoted(vals[i]);
            }
            if (js.len > mark) js.put(",", 1);
            js.str(p.insecure_skip_verify ? "\"insecure_skip_verify\":true}" : "\"insecure_skip_verify\":false}");
        }
        if (r->log_level) {
            js.key("log_level");
            js.quoted(kLevels[r->log_level]);
        }
        if (r->resolver) {
            js.key("resolver");
            js.str("true");
        }
    } else {
        js.key("to");
        js.quoted(r->to);
        js.key("proxy");
        js.quoted(r->proxy);
        js.key("max_hop");
        js.num(r->max_hop);
        js.key("protocol");
        js.quoted(r->protocol == SY_PROXY_SOCKS5 ? "socks5" : "http_connect");
    }
    if (r->cookie) {
        js.key("cookie");
        js.quoted(r->cookie);
    }
    if (r->flag_count) {
        js.key("flags");
        js.put("[", 1);
        for (uint32_t i = 0; i < r->flag_count; i++) {
            if (i) js.put(",", 1);
            js.quoted(r->flag_names[i]);
        }
        js.put("]", 1);
    }
    js.put("}", 1);
    r->via = via.take();
    r->json = js.take();
    if (!r->via || !r->json) return c.fail(nullptr, SY_ENOMEM, "out of memory");
    return SY_OK;
}

int parse(Ctx &c, const PcreMem &mem, const Options &opt, const sy_json *v, FlagNames &flags, Route *r) {
    const sy_host *h = c.h;
    if (h->json_type(v) != SY_JSON_OBJECT)
        return c.fail(nullptr, SY_ECONFIG, "a route is an object, got %s", type_name(h, v));
    bool is_static = r->kind == SY_ROUTE_STATIC;
    if (int e = check_keys(c, v, is_static ? kStaticKeys : kProxyKeys)) return e;
    const char *pattern = nullptr, *cookie = nullptr;
    if (int e = get_string(c, v, "pattern", true, kMaxPattern, &pattern)) return e;
    long long weight = 0;
    if (int e = get_int(c, v, "weight", INT32_MIN, INT32_MAX, &weight)) return e;
    r->weight = static_cast<int32_t>(weight);
    if (int e = get_string(c, v, "cookie", false, 4096, &cookie)) return e;
    if (!(r->pattern = dup(h, pattern)) || (cookie && !(r->cookie = dup(h, cookie))))
        return c.fail(nullptr, SY_ENOMEM, "out of memory");
    if (int e = parse_flags(c, h->json_get(v, "flags"), flags, r)) return e;
    if (is_static) {
        const char *host = nullptr;
        if (int e = get_string(c, v, "host", false, syp::kMaxHostName + 2, &host)) return e;
        if (host) {
            if (const char *why = check_host(host)) return c.fail("host", SY_ECONFIG, "'%s': %s", host, why);
            size_t n = std::strlen(host);
            r->host = host[0] == '[' ? static_cast<char *>(h->alloc(h, n - 1, 1)) : dup(h, host);
            if (!r->host) return c.fail(nullptr, SY_ENOMEM, "out of memory");
            if (host[0] == '[') {
                std::memcpy(r->host, host + 1, n - 2);
                r->host[n - 2] = '\0';
            }
        }
        int resolver = 0, tls = -1;
        if (int e = get_bool(c, v, "resolver", &resolver)) return e;
        if (int e = get_bool(c, v, "tls", &tls)) return e;
        r->resolver = resolver != 0;
        r->tls = tls;
        long long port = 0;
        if (int e = get_int(c, v, "port", r->resolver ? 0 : 1, 65535, &port)) return e;
        if (!r->resolver && port == 0)
            return c.fail("port", SY_ECONFIG, "required (1..65535) unless the route uses the resolver");
        r->port = static_cast<uint32_t>(port);
        const sy_json *prof = h->json_get(v, "tls_profile");
        if (h->json_type(prof) != SY_JSON_MISSING) {
            if (r->tls == 0)
                return c.fail("tls_profile", SY_ECONFIG, "given, but \"tls\" is false");
            if (int e = parse_profile(c, prof, r)) return e;
            r->tls = 1;
        }
        const sy_json *lv = h->json_get(v, "log_level");
        if (h->json_type(lv) != SY_JSON_MISSING) {
            const char *s = h->json_string(lv);
            uint32_t level = 0;
            for (uint32_t i = 1; s && i <= 5; i++)
                if (std::strcmp(s, kLevels[i]) == 0) level = i;
            if (!level)
                return c.fail("log_level", SY_ECONFIG,
                              "expected \"error\", \"warn\", \"info\", \"debug\" or \"trace\"");
            r->log_level = level;
        }
    } else {
        const char *to = nullptr, *proxy = nullptr, *proto = nullptr;
        if (int e = get_string(c, v, "to", true, kMaxName, &to)) return e;
        if (int e = get_string(c, v, "proxy", true, kMaxName, &proxy)) return e;
        if (int e = get_string(c, v, "protocol", false, 32, &proto)) return e;
        long long hop = kMaxHopLimit;
        if (int e = get_int(c, v, "max_hop", 1, kMaxHopLimit, &hop)) return e;
        r->max_hop = static_cast<uint32_t>(hop);
        if (proto && std::strcmp(proto, "socks5") == 0) r->protocol = SY_PROXY_SOCKS5;
        else if (proto && std::strcmp(proto, "http_connect") != 0)
            return c.fail("protocol", SY_ECONFIG, "expected \"http_connect\" or \"socks5\", got '%s'", proto);
        if (!(r->to = dup(h, to)) || !(r->proxy = dup(h, proxy)))
            return c.fail(nullptr, SY_ENOMEM, "out of memory");
    }
    if (int e = compile(c, mem, opt, pattern, r)) return e;
    return make_strings(c, r);
}

void route_free(const sy_host *h, Route *r) {
    if (r->code) pcre2_code_free(r->code);
    sfree(h, r->pattern);
    sfree(h, r->prefix);
    sfree(h, r->host);
    sfree(h, r->cookie);
    sfree(h, r->to);
    sfree(h, r->proxy);
    sfree(h, r->via);
    sfree(h, r->json);
    sfree(h, r->profile.ca_file);
    sfree(h, r->profile.ca_dir);
    sfree(h, r->profile.cert_file);
    sfree(h, r->profile.key_file);
    sfree(h, r->profile.server_name);
    if (r->flag_names) h->free(h, r->flag_names, r->flag_cap * sizeof(char *));
    r->~Route();
    h->free(h, r, sizeof(Route));
}

} // namespace

int route_build(const sy_host *host, const PcreMem &mem, const Options &opt, uint32_t kind,
                const sy_json *v, const char *path, uint64_t seq, FlagNames &flags, Route **out,
                sy_error *err) {
    void *m = host->alloc(host, sizeof(Route), alignof(Route));
    if (!m) {
        host->set_error(err, SY_ENOMEM, path, "out of memory");
        return SY_ENOMEM;
    }
    Route *r = new (m) Route();
    r->kind = kind;
    r->seq = seq;
    Ctx c{host, path, err};
    // flag_names is sized by the config array: remember it for the free
    int rc = parse(c, mem, opt, v, flags, r);
    if (rc != SY_OK) {
        route_unref(host, r);
        return rc;
    }
    *out = r;
    return SY_OK;
}

void route_unref(const sy_host *host, Route *r) {
    if (r && r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) route_free(host, r);
}

} // namespace sr
