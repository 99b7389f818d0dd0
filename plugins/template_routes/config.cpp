// template_routes' config: endpoints checked when loaded, the template
// compiled once and checked against them, the constant part of the template
// context built once.
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "address_map/hostport.hpp"
#include "common/json_keys.hpp"
#include "common/strings.hpp"
#include "common/json_path.hpp"
#include "template_routes/template_routes.hpp"

namespace tr {
namespace {

int vset(const sy_host *h, sy_error *err, int code, const char *path, const char *key, const char *fmt,
         va_list ap) {
    if (!err) return code;
    char p[SY_ERROR_PATH_MAX * 2];
    size_t len = 0;
    int n = std::snprintf(p, sizeof p, "%s", path);
    len = n > 0 ? (static_cast<size_t>(n) < sizeof p ? static_cast<size_t>(n) : sizeof p - 1) : 0;
    if (key) syp::path_append_key(p, sizeof p, &len, key);
    char msg[SY_ERROR_MESSAGE_MAX];
    std::vsnprintf(msg, sizeof msg, fmt, ap);
    h->set_error(err, code, p, "%s", msg);
    return code;
}

int set(const sy_host *h, sy_error *err, int code, const char *path, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
int set(const sy_host *h, sy_error *err, int code, const char *path, const char *key, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(h, err, code, path, key, fmt, ap);
    va_end(ap);
    return code;
}

using syp::dup;
using syp::sfree;

bool keys_ok(const sy_host *h, const sy_json *obj, const char *const *allowed, const char *path, sy_error *err,
             int *rc) {
    const char *why = nullptr;
    const char *k = syp::bad_key(h, obj, allowed, &why);
    if (k) *rc = set(h, err, SY_ECONFIG, path, k, "%s", why);
    return k == nullptr;
}

// A string member: NULL when absent; rc set when present but not a
// non-empty string.
const char *str(const sy_host *h, const sy_json *obj, const char *key, const char *path, sy_error *err, int *rc) {
    const sy_json *v = h->json_get(obj, key);
    if (h->json_type(v) == SY_JSON_MISSING) return nullptr;
    const char *s = h->json_string(v);
    if (!s || !*s) *rc = set(h, err, SY_ECONFIG, path, key, "expected a non-empty string");
    return s && *s ? s : nullptr;
}

int endpoint(Instance *in, const sy_json *v, const char *path, bool named, Endpoint *e, sy_error *err) {
    const sy_host *h = in->host;
    static const char *const kNamed[] = {"name", "host", "port", "url", "url_from_env", nullptr};
    static const char *const kPrimary[] = {"host", "port", "url", "url_from_env", nullptr};
    int rc = SY_OK;
    if (h->json_type(v) != SY_JSON_OBJECT) return set(h, err, SY_ECONFIG, path, nullptr, "expected an object");
    if (!keys_ok(h, v, named ? kNamed : kPrimary, path, err, &rc)) return rc;
    const char *name = named ? str(h, v, "name", path, err, &rc) : "primary";
    const char *host = str(h, v, "host", path, err, &rc);
    const char *url = str(h, v, "url", path, err, &rc);
    const char *env = str(h, v, "url_from_env", path, err, &rc);
    if (rc) return rc;
    if (named && !name) return set(h, err, SY_ECONFIG, path, "name", "required (a non-empty string)");
    if (!host) return set(h, err, SY_ECONFIG, path, "host", "required (a host name or IP address)");
    syp::Endpoint ep;
    if (const char *why = syp::hp_check_host(host, std::strlen(host), &ep))
        if (!std::strchr(host, ':')) return set(h, err, SY_ECONFIG, path, "host", "'%s': %s", host, why);
    const sy_json *pv = h->json_get(v, "port");
    double port = h->json_number(pv);
    if (h->json_type(pv) != SY_JSON_NUMBER || port != std::floor(port) || port < 1 || port > 65535)
        return set(h, err, SY_ECONFIG, path, "port", "required: an integer in 1..65535");
    if (url && env) return set(h, err, SY_ECONFIG, path, "url_from_env", "give url or url_from_env, not both");
    if (env) {
        url = std::getenv(env);
        if (!url || !*url)
            return set(h, err, SY_ECONFIG, path, "url_from_env", "environment variable '%s' is not set", env);
    }
    e->port = static_cast<uint32_t>(port);
    if (!(e->name = dup(h, name)) || !(e->host = dup(h, host)) ||
        (url && !(e->url = dup(h, url))))
        return set(h, err, SY_ENOMEM, path, nullptr, "out of memory");
    if (named) {
        char via[320];
        size_t n = 0;
        via[0] = '\0';
        size_t l = static_cast<size_t>(std::snprintf(via, sizeof via, "{\"routing_to\":\"connection_set\",\"value\":\""));
        n = l;
        syp::json_escape_into(via, sizeof via - 3, &n, name);
        std::snprintf(via + n, sizeof via - n, "\"}");
        if (!(e->via = dup(h, via))) return set(h, err, SY_ENOMEM, path, nullptr, "out of memory");
    }
    return SY_OK;
}

void endpoint_free(const sy_host *h, Endpoint &e) {
    sfree(h, e.name);
    sfree(h, e.host);
    sfree(h, e.url);
    sfree(h, e.via);
    e = Endpoint{};
}

int endpoints(Instance *in, const sy_json *cfg, const char *key, const char *base, Endpoint **out, uint32_t *count,
              sy_error *err) {
    const sy_host *h = in->host;
    const sy_json *list = h->json_get(cfg, key);
    if (h->json_type(list) == SY_JSON_MISSING) return SY_OK;
    if (h->json_type(list) != SY_JSON_ARRAY) return set(h, err, SY_ECONFIG, base, key, "expected an array");
    size_t n = h->json_count(list);
    if (n == 0) return SY_OK;
    if (n > 1024) return set(h, err, SY_ECONFIG, base, key, "%zu entries is over the limit of 1024", n);
    *out = static_cast<Endpoint *>(h->alloc(h, n * sizeof(Endpoint), alignof(Endpoint)));
    if (!*out) return set(h, err, SY_ENOMEM, base, key, "out of memory");
    for (size_t i = 0; i < n; i++) new (&(*out)[i]) Endpoint();
    *count = static_cast<uint32_t>(n);
    for (size_t i = 0; i < n; i++) {
        char path[SY_ERROR_PATH_MAX * 2];
        size_t len = static_cast<size_t>(std::snprintf(path, sizeof path, "%s", base));
        if (len >= sizeof path) len = sizeof path - 1;
        syp::path_append_key(path, sizeof path, &len, key);
        std::snprintf(path + len, sizeof path - len, "[%zu]", i);
        if (int rc = endpoint(in, h->json_at(list, i), path, true, &(*out)[i], err)) return rc;
        for (size_t j = 0; j < i; j++)
            if (std::strcmp((*out)[j].name, (*out)[i].name) == 0)
                return set(h, err, SY_ECONFIG, path, "name", "'%s' is also the name of %s[%zu]", (*out)[i].name, key, j);
    }
    return SY_OK;
}

int bypass(Instance *in, const sy_json *cfg, const char *base, sy_error *err) {
    const sy_host *h = in->host;
    const sy_json *list = h->json_get(cfg, "bypass");
    if (h->json_type(list) == SY_JSON_MISSING) return SY_OK;
    if (h->json_type(list) != SY_JSON_ARRAY)
        return set(h, err, SY_ECONFIG, base, "bypass", "expected an array of {\"session\" or \"header\", \"equals\"}");
    size_t n = h->json_count(list);
    if (n == 0) return SY_OK;
    if (n > 64) return set(h, err, SY_ECONFIG, base, "bypass", "at most 64 rules");
    Config &c = in->cfg;
    c.bypass = static_cast<Bypass *>(h->alloc(h, n * sizeof(Bypass), alignof(Bypass)));
    if (!c.bypass) return set(h, err, SY_ENOMEM, base, "bypass", "out of memory");
    for (size_t i = 0; i < n; i++) new (&c.bypass[i]) Bypass();
    c.bypass_count = static_cast<uint32_t>(n);
    static const char *const kKeys[] = {"session", "header", "equals", nullptr};
    for (size_t i = 0; i < n; i++) {
        char path[SY_ERROR_PATH_MAX * 2];
        std::snprintf(path, sizeof path, "%s.bypass[%zu]", base, i);
        const sy_json *v = h->json_at(list, i);
        int rc = SY_OK;
        if (h->json_type(v) != SY_JSON_OBJECT) return set(h, err, SY_ECONFIG, path, nullptr, "expected an object");
        if (!keys_ok(h, v, kKeys, path, err, &rc)) return rc;
        const char *s = str(h, v, "session", path, err, &rc);
        const char *hd = str(h, v, "header", path, err, &rc);
        const char *eq = str(h, v, "equals", path, err, &rc);
        if (rc) return rc;
        if (!s == !hd) return set(h, err, SY_ECONFIG, path, nullptr, "give one of \"session\" or \"header\"");
        if (!eq) return set(h, err, SY_ECONFIG, path, "equals", "required (a string)");
        const char *name = s ? s : hd;
        Bypass &b = c.bypass[i];
        b.session = s != nullptr;
        b.name = dup(h, name);
        b.equals = dup(h, eq);
        if (!b.name || !b.equals) return set(h, err, SY_ENOMEM, path, nullptr, "out of memory");
        for (char *p = b.name; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = static_cast<char>(*p - 'A' + 'a');
    }
    return SY_OK;
}

// The constant members of `$`, in the shape Hasura gives them.
int build_constants(Instance *in, sy_error *err) {
    const sy_host *h = in->host;
    void *m = h->alloc(h, sizeof(kriti::Arena), alignof(kriti::Arena));
    if (!m) return set(h, err, SY_ENOMEM, "", nullptr, "out of memory");
    in->consts = new (m) kriti::Arena(in->ka);
    kriti::Arena &a = *in->consts;
    const Config &c = in->cfg;
    auto *fixed = static_cast<kriti::Member *>(a.alloc(4 * sizeof(kriti::Member), alignof(kriti::Member)));
    auto *set_members = c.member_count ? static_cast<kriti::Member *>(
                                             a.alloc(c.member_count * sizeof(kriti::Member), alignof(kriti::Member)))
                                       : nullptr;
    if (!fixed || (c.member_count && !set_members)) return set(h, err, SY_ENOMEM, "", nullptr, "out of memory");
    for (uint32_t i = 0; i < c.member_count; i++) {
        auto *kv = static_cast<kriti::Member *>(a.alloc(2 * sizeof(kriti::Member), alignof(kriti::Member)));
        if (!kv) return set(h, err, SY_ENOMEM, "", nullptr, "out of memory");
        const char *name = c.members[i].name;
        auto nl = static_cast<uint32_t>(std::strlen(name));
        kv[0] = kriti::Member{"type", 4, kriti::Value::string("connection_set", 14)};
        kv[1] = kriti::Member{"name", 4, kriti::Value::string(name, nl)};
        set_members[i] = kriti::Member{name, nl, kriti::Value::object(kv, 2)};
    }
    fixed[0] = kriti::Member{"primary", 7, kriti::Value::string("PRIMARY", 7)};
    fixed[1] = kriti::Member{"read_replicas", 13, kriti::Value::string("READ_REPLICAS", 13)};
    fixed[2] = kriti::Member{"default", 7, kriti::Value::string("DEFAULT", 7)};
    fixed[3] = kriti::Member{"connection_set", 14, kriti::Value::object(set_members, c.member_count)};
    in->fixed = fixed;
    return SY_OK;
}

bool key_is(const kriti::PathStep &st, const char *s) {
    return st.key_len == std::strlen(s) && std::memcmp(st.key, s, st.key_len) == 0;
}

struct PathCheck {
    const Instance *in;
    int rc = SY_OK;
    char message[SY_ERROR_MESSAGE_MAX] = {};
};

void check_path(const kriti::PathStep *steps, size_t n, const kriti::Span &span, void *ud) {
    auto *pc = static_cast<PathCheck *>(ud);
    if (pc->rc != SY_OK || n == 0) return;
    const Config &c = pc->in->cfg;
    if (key_is(steps[0], "read_replicas") && c.replica_count == 0) {
        pc->rc = SY_ECONFIG;
        std::snprintf(pc->message, sizeof pc->message,
                      "the template routes to $.read_replicas (line %u, columns %u-%u) but no read_replicas are "
                      "configured", span.start_line, span.start_col, span.end_col);
        return;
    }
    if (!key_is(steps[0], "connection_set") || n < 2) return;
    for (uint32_t i = 0; i < c.member_count; i++)
        if (key_is(steps[1], c.members[i].name)) return;
    pc->rc = SY_ECONFIG;
    std::snprintf(pc->message, sizeof pc->message,
                  "the template uses $.connection_set.%.*s (line %u, columns %u-%u) but connection_set has no "
                  "member '%.*s'",
                  static_cast<int>(steps[1].key_len > 100 ? 100 : steps[1].key_len), steps[1].key, span.start_line,
                  span.start_col, span.end_col, static_cast<int>(steps[1].key_len > 100 ? 100 : steps[1].key_len),
                  steps[1].key);
}

// What the template reads from a request. Chains the request or the config
// answers directly (`$.request.headers?['x']`, `$.request.query.
// operation_type`, `$.primary`, `$.connection_set.a`) are bound to slots:
// the request's values are picked out while it is scanned. Building a map
// lowercases and de-duplicates every name, the larger part of a request's
// cost, so a map is built only when some unbound lookup can reach it (or
// `$` is used whole, or through a computed key).
struct Binder {
    const Instance *in;
    ContextUse *use;
};

int32_t slot_for(ContextUse &u, SlotKind kind, const kriti::PathStep *name, const kriti::Value *constant) {
    for (uint32_t i = 0; i < u.slot_count; i++) {
        const SlotSpec &sp = u.slots[i];
        if (sp.kind != kind || sp.constant != constant) continue;
        if (!name || (sp.len == name->key_len && std::memcmp(sp.name, name->key, sp.len) == 0))
            return static_cast<int32_t>(i);
    }
    if (u.slot_count == kMaxSlots) return -1;
    SlotSpec &sp = u.slots[u.slot_count];
    sp.kind = kind;
    sp.constant = constant;
    if (name) {
        sp.name = name->key;
        sp.len = name->key_len;
    }
    if (kind == SlotKind::Header) u.header_slots++;
    if (kind == SlotKind::Session) u.session_slots++;
    return static_cast<int32_t>(u.slot_count++);
}

int32_t bound_slot(const Instance *in, ContextUse &u, const kriti::PathStep *st, size_t n) {
    const kriti::Member *fixed = in->fixed;
    if (n == 1)
        for (uint32_t i = 0; i < 4; i++)
            if (key_is(st[0], fixed[i].key)) return slot_for(u, SlotKind::Constant, nullptr, &fixed[i].value);
    if (n == 2 && key_is(st[0], "connection_set")) {
        const kriti::Value &set = fixed[3].value;
        for (uint32_t i = 0; i < set.len; i++)
            if (st[1].key_len == set.members[i].key_len &&
                std::memcmp(st[1].key, set.members[i].key, st[1].key_len) == 0)
                return slot_for(u, SlotKind::Constant, nullptr, &set.members[i].value);
        return -1;
    }
    if (n != 3 || !key_is(st[0], "request")) return -1;
    if (key_is(st[1], "headers")) return slot_for(u, SlotKind::Header, &st[2], nullptr);
    if (key_is(st[1], "session")) return slot_for(u, SlotKind::Session, &st[2], nullptr);
    if (key_is(st[1], "query") && key_is(st[2], "operation_type"))
        return slot_for(u, SlotKind::OperationType, nullptr, nullptr);
    if (key_is(st[1], "query") && key_is(st[2], "operation_name"))
        return slot_for(u, SlotKind::OperationName, nullptr, nullptr);
    return -1;
}

int32_t bind_path(const kriti::PathStep *steps, size_t n, bool bindable, void *ud) {
    auto *b = static_cast<Binder *>(ud);
    ContextUse &u = *b->use;
    if (bindable) {
        int32_t slot = bound_slot(b->in, u, steps, n);
        if (slot >= 0) return slot;
    }
    // left a lookup on `$`: `$` is built, and these maps in it
    u.dollar = true;
    if (n == 0 || (n == 1 && key_is(steps[0], "request"))) {
        u.headers = u.session = true;
    } else if (key_is(steps[0], "request")) {
        if (key_is(steps[1], "headers")) u.headers = true;
        if (key_is(steps[1], "session")) u.session = true;
    }
    return -1;
}

} // namespace

int template_compile(const Instance *in, const char *src, size_t len, const char *path, kriti::Program **out,
                     ContextUse *use, sy_error *err) {
    const sy_host *h = in->host;
    kriti::Error ke;
    if (!kriti::compile(src, len, in->limits, in->ka, out, &ke))
        return set(h, err, ke.code == kriti::ErrorCode::MemoryError ? SY_ENOMEM : SY_ECONFIG, path, nullptr,
                   "%s at line %u, columns %u-%u: %s", kriti::error_code_name(ke.code), ke.span.start_line,
                   ke.span.start_col, ke.span.end_col, ke.message);
    PathCheck pc{in};
    ContextUse u;
    u.headers = u.session = u.dollar = false;
    Binder binder{in, &u};
    if (!kriti::for_each_path(*out, check_path, &pc) || (pc.rc == SY_OK && !kriti::bind_paths(*out, bind_path, &binder))) {
        pc.rc = SY_ENOMEM;
        std::snprintf(pc.message, sizeof pc.message, "out of memory");
    }
    if (pc.rc != SY_OK) {
        kriti::program_free(*out);
        *out = nullptr;
        return set(h, err, pc.rc, path, nullptr, "%s", pc.message);
    }
    if (use) *use = u;
    return SY_OK;
}

int config_load(Instance *in, const sy_json *cfg, const char *base, sy_error *err) {
    const sy_host *h = in->host;
    static const char *const kKeys[] = {"template", "primary", "read_replicas", "connection_set", "seed",
                                        "bypass", "functions", nullptr};
    int rc = SY_OK;
    if (h->json_type(cfg) != SY_JSON_OBJECT)
        return set(h, err, SY_ECONFIG, base, nullptr, "expected an object with a \"template\"");
    if (!keys_ok(h, cfg, kKeys, base, err, &rc)) return rc;
    Config &c = in->cfg;
    const sy_json *fv = h->json_get(cfg, "functions");
    uint32_t ft = h->json_type(fv);
    if (ft != SY_JSON_MISSING && ft != SY_JSON_TRUE && ft != SY_JSON_FALSE)
        return set(h, err, SY_ECONFIG, base, "functions", "expected true or false");
    c.functions = ft != SY_JSON_FALSE;
    const sy_json *sv = h->json_get(cfg, "seed");
    if (h->json_type(sv) != SY_JSON_MISSING) {
        double s = h->json_number(sv);
        if (h->json_type(sv) != SY_JSON_NUMBER || s != std::floor(s) || s < 0 || s > 9007199254740991.0)
            return set(h, err, SY_ECONFIG, base, "seed", "expected an integer in 0..2^53-1");
        c.seeded = true;
        c.seed = static_cast<uint64_t>(s);
    }
    const sy_json *pv = h->json_get(cfg, "primary");
    if (h->json_type(pv) != SY_JSON_MISSING) {
        char path[SY_ERROR_PATH_MAX * 2];
        std::snprintf(path, sizeof path, "%s.primary", base);
        if ((rc = endpoint(in, pv, path, false, &c.primary, err))) return rc;
        c.has_primary = true;
    } else {
        return set(h, err, SY_ECONFIG, base, "primary", "required: the primary {\"host\", \"port\"}");
    }
    if ((rc = endpoints(in, cfg, "read_replicas", base, &c.replicas, &c.replica_count, err))) return rc;
    if ((rc = endpoints(in, cfg, "connection_set", base, &c.members, &c.member_count, err))) return rc;
    if ((rc = bypass(in, cfg, base, err))) return rc;
    const char *t = str(h, cfg, "template", base, err, &rc);
    if (rc) return rc;
    if (!t) return set(h, err, SY_ECONFIG, base, "template", "required: a Kriti template");
    c.template_len = std::strlen(t);
    if (!(c.template_text = dup(h, t))) return set(h, err, SY_ENOMEM, base, nullptr, "out of memory");
    if ((rc = build_constants(in, err))) return rc;
    char tpath[SY_ERROR_PATH_MAX * 2];
    std::snprintf(tpath, sizeof tpath, "%s.template", base);
    return template_compile(in, c.template_text, c.template_len, tpath, &c.program, &c.use, err);
}

void config_free(Instance *in) {
    const sy_host *h = in->host;
    Config &c = in->cfg;
    if (c.program) kriti::program_free(c.program);
    if (c.template_text) h->free(h, c.template_text, c.template_len + 1);
    endpoint_free(h, c.primary);
    for (uint32_t i = 0; i < c.replica_count; i++) endpoint_free(h, c.replicas[i]);
    for (uint32_t i = 0; i < c.member_count; i++) endpoint_free(h, c.members[i]);
    if (c.replicas) h->free(h, c.replicas, c.replica_count * sizeof(Endpoint));
    if (c.members) h->free(h, c.members, c.member_count * sizeof(Endpoint));
    for (uint32_t i = 0; i < c.bypass_count; i++) {
        sfree(h, c.bypass[i].name);
        sfree(h, c.bypass[i].equals);
    }
    if (c.bypass) h->free(h, c.bypass, c.bypass_count * sizeof(Bypass));
    if (in->consts) {
        in->consts->~Arena();
        h->free(h, in->consts, sizeof(kriti::Arena));
    }
    c = Config{};
    in->consts = nullptr;
}

} // namespace tr
