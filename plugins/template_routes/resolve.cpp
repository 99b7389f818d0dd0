// One request through the template: the context Hasura builds (headers with
// their names really lowercased, session keys lowercased, the operation),
// evaluation, and the result read the way Hasura reads it — "PRIMARY",
// "DEFAULT", "READ_REPLICAS", {"type": "connection_set", "name": ...} — plus
// a bare member name. Strings are not copied: the context points into the
// request, only lowercased names go to the arena.
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common/fail.hpp"
#include "common/words.hpp"
#include "template_routes/template_routes.hpp"

namespace tr {

const char *routing_name(RoutingTo r) {
    switch (r) {
    case RoutingTo::Primary: return "primary";
    case RoutingTo::ReadReplicas: return "read_replicas";
    case RoutingTo::Default: return "default";
    case RoutingTo::ConnectionSet: return "connection_set";
    }
    return "?";
}

namespace {

// ASCII A-Z of 8 bytes at once: 0x80 in each byte that is one, exactly
// (every byte is masked to 7 bits before the adds, so nothing carries into
// its neighbour; bytes >= 0x80 are never flagged).
inline uint64_t upper_bytes(uint64_t x) {
    constexpr uint64_t ones = ~uint64_t{0} / 255, low7 = ones * 127;
    uint64_t t = x & low7;
    return ((ones * (127 + 91) - t) & ~x & (t + ones * (127 - 64))) & (ones * 128);
}

// The name lowercased into dst (n bytes); false when it had no capital,
// so the caller can keep pointing at the request's own text.
bool lowered(const char *name, size_t n, char *dst) {
    uint64_t any = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, name + i, 8);
        uint64_t up = upper_bytes(w);
        any |= up;
        w |= up >> 2; // 0x80 -> 0x20: the lowercase bit
        std::memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++) {
        char c = name[i];
        bool up = c >= 'A' && c <= 'Z';
        any |= up;
        dst[i] = up ? static_cast<char>(c | 0x20) : c;
    }
    return any != 0;
}

// The name, lowercased, equals want (as the template spells it: a want
// with a capital never matches, as in Hasura's lowercased maps).
bool same_lowered(const char *name, const char *want, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, x;
        std::memcpy(&w, name + i, 8);
        std::memcpy(&x, want + i, 8);
        if ((w | upper_bytes(w) >> 2) != x) return false;
    }
    for (; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
        if (c != want[i]) return false;
    }
    return true;
}

// Values bound chains read, filled while the request is scanned.
struct SlotValues {
    const kriti::Value *ptr[kMaxSlots];
    union Storage { // written before read: no constructor to run per request
        kriti::Value v;
        Storage() {}
    } val[kMaxSlots];
    void set(uint32_t i, const char *s) {
        val[i].v = kriti::Value::string(s, static_cast<uint32_t>(std::strlen(s)));
        ptr[i] = &val[i].v;
    }
};

// A {name: string} map of the context (headers, session): every value is
// checked to be a string; the bound slots of `kind` take the value of the
// name they ask for (the last spelling of it wins, as in Hasura's map); and
// when `map` is given, the map is built with names lowercased.
int scan_map(const sy_host *h, const sy_json *obj, const char *what, const ContextUse &use, SlotKind kind,
             uint32_t kind_slots, SlotValues &sv, kriti::Arena &a, kriti::Value *map, sy_error *err) {
    kriti::Member *m = nullptr;
    if (map) {
        size_t n = h->json_count(obj);
        m = n ? static_cast<kriti::Member *>(a.alloc(n * sizeof(kriti::Member), alignof(kriti::Member))) : nullptr;
        if (n && !m) return syp::fail(h, err, SY_ENOMEM, "context", "out of memory");
    }
    uint32_t k = 0;
    for (const sy_json *v = h->json_first(obj); v; v = h->json_next(v)) {
        const char *s = h->json_string(v);
        if (!s)
            return syp::fail(h, err, SY_EREQUEST, "context", "context.%s[\"%.100s\"]: expected a string", what,
                             h->json_key(v));
        if (!map && !kind_slots) continue;
        const char *key = h->json_key(v);
        size_t kl = std::strlen(key);
        for (uint32_t i = 0, seen = 0; seen < kind_slots; i++) {
            const SlotSpec &sp = use.slots[i];
            if (sp.kind != kind) continue;
            seen++;
            if (sp.len == kl && same_lowered(key, sp.name, kl)) sv.set(i, s);
        }
        if (!map) continue;
        // A name without capitals (HTTP/2 names, most session keys) is used
        // as the request has it; only a lowercased one goes to the arena.
        char tmp[128];
        char *low = kl <= sizeof tmp ? tmp : static_cast<char *>(a.alloc(kl, 1));
        if (!low) return syp::fail(h, err, SY_ENOMEM, "context", "out of memory");
        const char *lk = key;
        if (lowered(key, kl, low)) {
            if (low == tmp) {
                if (!(low = static_cast<char *>(a.alloc(kl, 1))))
                    return syp::fail(h, err, SY_ENOMEM, "context", "out of memory");
                std::memcpy(low, tmp, kl);
            }
            lk = low;
        }
        // a name given twice in two spellings: the last wins, as Hasura's map
        uint32_t at = k;
        for (uint32_t j = 0; j < k; j++)
            if (m[j].key_len == kl && std::memcmp(m[j].key, lk, kl) == 0) at = j;
        m[at] = kriti::Member{lk, static_cast<uint32_t>(kl),
                              kriti::Value::string(s, static_cast<uint32_t>(std::strlen(s)))};
        if (at == k) k++;
    }
    if (map) *map = kriti::Value::object(m, k);
    return SY_OK;
}

using syp::is_literal;

int operation(const sy_host *h, const sy_json *query, kriti::Arena &a, kriti::Value *out, Operation *op,
              sy_error *err) {
    auto *m = static_cast<kriti::Member *>(a.alloc(2 * sizeof(kriti::Member), alignof(kriti::Member)));
    if (!m) return syp::fail(h, err, SY_ENOMEM, "context", "out of memory");
    uint32_t k = 0;
    bool seen_type = false, seen_name = false;
    for (const sy_json *v = h->json_first(query); v; v = h->json_next(v)) {
        const char *key = h->json_key(v);
        const char *s = h->json_string(v);
        size_t kl = std::strlen(key), n = s ? std::strlen(s) : 0;
        if (is_literal(key, kl, "operation_type") && !seen_type) {
            seen_type = true;
            if (s && is_literal(s, n, "query")) *op = Operation::Query;
            else if (s && is_literal(s, n, "mutation")) *op = Operation::Mutation;
            else if (s && is_literal(s, n, "subscription")) *op = Operation::Subscription;
            else
                return syp::fail(h, err, SY_EREQUEST, "context.query.operation_type",
                            "operation type can only be one of the following: query, mutation or subscription");
            m[k++] = kriti::Member{"operation_type", 14, kriti::Value::string(s, static_cast<uint32_t>(n))};
        } else if (is_literal(key, kl, "operation_name") && !seen_name) {
            seen_name = true;
            if (!s) return syp::fail(h, err, SY_EREQUEST, "context.query.operation_name", "expected a string");
            m[k++] = kriti::Member{"operation_name", 14, kriti::Value::string(s, static_cast<uint32_t>(n))};
        } else {
            return syp::fail(h, err, SY_EREQUEST, "context.query", "context.query.%.100s: unknown or repeated key", key);
        }
    }
    *out = kriti::Value::object(m, k);
    return SY_OK;
}

bool str_is(const kriti::Value &v, const char *s) {
    return v.type == kriti::Type::String && v.len == std::strlen(s) && std::memcmp(v.str, s, v.len) == 0;
}

int32_t member_index(const Config &c, const char *name, uint32_t len) {
    for (uint32_t i = 0; i < c.member_count; i++)
        if (std::strlen(c.members[i].name) == len && std::memcmp(c.members[i].name, name, len) == 0)
            return static_cast<int32_t>(i);
    return -1;
}

bool bypassed(const Instance *in, const kriti::Value &headers, const kriti::Value &session) {
    for (uint32_t i = 0; i < in->cfg.bypass_count; i++) {
        const Bypass &b = in->cfg.bypass[i];
        const kriti::Value *v = kriti::find_member(b.session ? session : headers, b.name, std::strlen(b.name));
        if (v && str_is(*v, b.equals)) return true;
    }
    return false;
}

// The request's part of `$`, as scanning its context gave it.
struct RequestContext {
    kriti::Value headers = kriti::Value::object(nullptr, 0);
    kriti::Value session = kriti::Value::object(nullptr, 0);
    kriti::Value query;
    bool has_query = false;
};

// Checks the request's context, fills the bound slots from it and builds
// the maps asked for.
int scan_context(const sy_host *h, const ContextUse &use, const sy_json *context, bool headers_map,
                 bool session_map, SlotValues &sv, kriti::Arena &arena, RequestContext *rc_out, Operation *op,
                 sy_error *err) {
    RequestContext &cx = *rc_out;
    // the core checked the context's shape: {"headers", "session", "query"} objects
    for (const sy_json *m = context ? h->json_first(context) : nullptr; m; m = h->json_next(m)) {
        const char *key = h->json_key(m);
        int rc = SY_OK;
        if (key[0] == 'h') {
            rc = scan_map(h, m, "headers", use, SlotKind::Header, use.header_slots, sv, arena,
                          headers_map ? &cx.headers : nullptr, err);
        } else if (key[0] == 's') {
            rc = scan_map(h, m, "session", use, SlotKind::Session, use.session_slots, sv, arena,
                          session_map ? &cx.session : nullptr, err);
        } else if (key[0] == 'q') {
            rc = operation(h, m, arena, &cx.query, op, err);
            cx.has_query = true;
            for (uint32_t i = 0; rc == SY_OK && i < use.slot_count; i++) {
                SlotKind k = use.slots[i].kind;
                if (k == SlotKind::OperationType) sv.ptr[i] = kriti::find_member(cx.query, "operation_type", 14);
                if (k == SlotKind::OperationName) sv.ptr[i] = kriti::find_member(cx.query, "operation_name", 14);
            }
        }
        if (rc) return rc;
    }
    return SY_OK;
}

// `$`: the request's part, then the config's constants.
int dollar(const Instance *in, const RequestContext &cx, kriti::Arena &arena, kriti::Binding *b, sy_error *err) {
    auto *req = static_cast<kriti::Member *>(arena.alloc(3 * sizeof(kriti::Member), alignof(kriti::Member)));
    auto *top = static_cast<kriti::Member *>(arena.alloc(5 * sizeof(kriti::Member), alignof(kriti::Member)));
    if (!req || !top) return syp::fail(in->host, err, SY_ENOMEM, "context", "out of memory");
    req[0] = kriti::Member{"headers", 7, cx.headers};
    req[1] = kriti::Member{"session", 7, cx.session};
    if (cx.has_query) req[2] = kriti::Member{"query", 5, cx.query};
    top[0] = kriti::Member{"request", 7, kriti::Value::object(req, cx.has_query ? 3 : 2)};
    std::memcpy(top + 1, in->fixed, 4 * sizeof(kriti::Member));
    *b = kriti::Binding{"$", 1, kriti::Value::object(top, 5)};
    return SY_OK;
}

} // namespace

int resolve(const Instance *in, const kriti::Program *program, const ContextUse &use, const sy_json *context,
            kriti::Arena &arena, Decision *d, kriti::Value *result, sy_error *err) {
    const sy_host *h = in->host;
    const Config &c = in->cfg;
    *d = Decision{};
    bool want_headers = use.headers, want_session = use.session;
    for (uint32_t i = 0; i < c.bypass_count; i++) (c.bypass[i].session ? want_session : want_headers) = true;
    SlotValues sv;
    for (uint32_t i = 0; i < use.slot_count; i++) sv.ptr[i] = use.slots[i].constant;
    RequestContext cx;
    if (int rc = scan_context(h, use, context, want_headers, want_session, sv, arena, &cx, &d->op, err)) return rc;
    if (bypassed(in, cx.headers, cx.session)) {
        *result = kriti::Value::string("PRIMARY", 7);
        return SY_OK;
    }
    // `$` itself only when some lookup on it is left unbound: otherwise
    // evaluation reads slots alone (and names no `$` it could miss).
    kriti::Binding b{"$", 1, kriti::Value::null()};
    size_t bound = 0;
    if (use.dollar) {
        if (int rc = dollar(in, cx, arena, &b, err)) return rc;
        bound = 1;
    }
    const kriti::FunctionTable *fns = c.functions ? kriti::builtins() : nullptr;
    kriti::Error ke;
    kriti::Slots slots{sv.ptr};
    bool ok = kriti::eval(program, &b, bound, fns, arena, in->limits, result, &ke, use.slot_count ? &slots : nullptr);
    if (!ok && slots.missed) {
        // A required bound chain found nothing: the lookup's own error (or
        // what an enclosing `?` makes of it) comes from `$` built whole.
        if (!want_headers || !want_session || !bound) {
            cx = RequestContext{};
            Operation op;
            if (int rc = scan_context(h, use, context, true, true, sv, arena, &cx, &op, err)) return rc;
            if (int rc = dollar(in, cx, arena, &b, err)) return rc;
        }
        ok = kriti::eval(program, &b, 1, fns, arena, in->limits, result, &ke);
    }
    if (!ok)
        return syp::fail(h, err, ke.code == kriti::ErrorCode::MemoryError ? SY_ENOMEM : SY_EREQUEST, "context",
                    "template: %s at line %u, columns %u-%u: %s", kriti::error_code_name(ke.code),
                    ke.span.start_line, ke.span.start_col, ke.span.end_col, ke.message);
    const kriti::Value &v = *result;
    const kriti::Value &set = in->fixed[3].value;
    int32_t constant_member = -1; // the template yielded a member's constant itself
    for (uint32_t i = 0; v.type == kriti::Type::Object && i < set.len; i++)
        if (v.members == set.members[i].value.members) constant_member = static_cast<int32_t>(i);
    if (constant_member >= 0) {
        d->routing_to = RoutingTo::ConnectionSet;
        d->member = constant_member;
    } else if (str_is(v, "PRIMARY")) {
        d->routing_to = RoutingTo::Primary;
    } else if (str_is(v, "DEFAULT")) {
        d->routing_to = RoutingTo::Default;
    } else if (str_is(v, "READ_REPLICAS")) {
        d->routing_to = RoutingTo::ReadReplicas;
    } else if (v.type == kriti::Type::Object || v.type == kriti::Type::String) {
        const kriti::Value *ty = v.type == kriti::Type::Object ? kriti::find_member(v, "type", 4) : nullptr;
        const kriti::Value *nm = v.type == kriti::Type::Object ? kriti::find_member(v, "name", 4) : &v;
        if ((v.type == kriti::Type::Object && (!ty || !str_is(*ty, "connection_set"))) || !nm ||
            nm->type != kriti::Type::String || nm->len == 0) {
            char shown[160];
            size_t need = kriti::write_json(v, shown, sizeof shown);
            return syp::fail(h, err, SY_EREQUEST, "context",
                        "the template yielded %s%s, not \"PRIMARY\", \"DEFAULT\", \"READ_REPLICAS\", a "
                        "connection_set member or its name", shown, need >= sizeof shown ? "..." : "");
        }
        d->routing_to = RoutingTo::ConnectionSet;
        d->member = member_index(c, nm->str, nm->len);
        if (d->member < 0)
            return syp::fail(h, err, SY_EREQUEST, "context", "the template routes to connection_set member '%.*s', "
                        "which is not configured", static_cast<int>(nm->len > 100 ? 100 : nm->len), nm->str);
    } else {
        char shown[160];
        size_t need = kriti::write_json(v, shown, sizeof shown);
        return syp::fail(h, err, SY_EREQUEST, "context",
                    "the template yielded %s%s, not \"PRIMARY\", \"DEFAULT\", \"READ_REPLICAS\" or a "
                    "connection_set member", shown, need >= sizeof shown ? "..." : "");
    }
    // Where it lands: mutations only ever go to the primary (or a named member).
    bool reads = d->op != Operation::Mutation;
    if (d->routing_to == RoutingTo::ReadReplicas) {
        if (!reads)
            return syp::fail(h, err, SY_EREQUEST, "context", "the template routes a mutation to read_replicas: "
                        "mutations need the primary");
        if (c.replica_count == 0)
            return syp::fail(h, err, SY_ENOROUTE, "context", "the template routes to read_replicas but none are configured");
        d->to_replicas = true;
    } else if (d->routing_to == RoutingTo::Default) {
        d->to_replicas = reads && c.replica_count > 0;
    }
    return SY_OK;
}

} // namespace tr
