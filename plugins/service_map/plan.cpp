// service_map's plans (see plan.hpp). A lookup reads only the snapshot's
// State and the request: no I/O, no lock, no allocation; the clock only
// when an endpoint has failed (service plans) or to age the topology
// (contact plans).
#include "service_map/plan.hpp"

#include <cstring>

#include "common/fail.hpp"
#include "common/json_path.hpp"

namespace syp::svc {

namespace {

const char *const kContactVia[3] = {"{\"contact\":\"source\"}", "{\"contact\":\"configured\"}",
                                    "{\"contact\":\"learned\"}"};
// The topology is older than the liveness window: every target says so.
const char *const kContactViaStale[3] = {"{\"contact\":\"source\",\"stale\":true}",
                                         "{\"contact\":\"configured\",\"stale\":true}",
                                         "{\"contact\":\"learned\",\"stale\":true}"};

enum ServicePhase : uint32_t { kPreferred, kOthers, kPreferredDemoted, kOthersDemoted, kDown, kServiceEnd };
enum ContactPhase : uint32_t { kHealthy, kDemoted, kContactDown, kContactEnd };

bool demoted(const ServiceMap *m, Plan *p, const Endpoint *e) {
    uint64_t f = e->failed.load(std::memory_order_relaxed);
    if (!f) return false;
    if (!p->now1) p->now1 = m->host->now_ns(m->host) + 1;
    return f + m->liveness_ns > p->now1; // failed within the last window (or since the plan began)
}

bool bit(const Plan *p, uint32_t i) { return (p->skipped[i / 64] >> (i % 64)) & 1; }
void set_bit(Plan *p, uint32_t i) { p->skipped[i / 64] |= uint64_t{1} << (i % 64); }

// strcmp's answer to "equal?", without the call when the first bytes differ.
bool same(const char *a, const char *b) { return a[0] == b[0] && std::strcmp(a, b) == 0; }

bool matches(const Plan *p, const Instance &x) {
    for (uint32_t f = 0; f < p->filter_count; f++) {
        const Filter &w = p->filters[f];
        const Attr *a = nullptr;
        for (uint32_t i = 0; i < x.attr_count && !a; i++)
            if (same(x.attrs[i].key, w.key)) a = &x.attrs[i];
        if (!a || a->type != w.type) return false;
        if (w.type == SY_JSON_STRING && !same(a->str, w.str)) return false;
        if (w.type == SY_JSON_NUMBER && !(a->num == w.num)) return false;
    }
    return true;
}

// Moves to the next phase that can plan anything; empty ones cost nothing.
void service_phase(Plan *p, uint32_t phase) {
    const Service *s = p->svc;
    for (; phase < kServiceEnd; phase++) {
        bool demoted_phase = phase == kPreferredDemoted || phase == kOthersDemoted;
        if (demoted_phase && !p->check) continue;
        uint32_t lo = phase == kDown ? s->up : phase == kOthers || phase == kOthersDemoted ? s->preferred : 0;
        uint32_t hi = phase == kDown ? s->count : phase == kPreferred || phase == kPreferredDemoted ? s->preferred : s->up;
        if (hi > lo) {
            p->lo = lo;
            p->hi = hi;
            p->start = p->rot % (hi - lo);
            break;
        }
    }
    p->phase = phase;
    p->pos = 0;
}

int service_advance(const ServiceMap *m, Plan *p) {
    const Service *s = p->svc;
    while (p->phase < kServiceEnd) {
        uint32_t size = p->hi - p->lo;
        while (p->pos < size) {
            uint32_t k = p->start + p->pos++;
            uint32_t at = p->lo + (k < size ? k : k - size);
            const Instance &x = s->instances[at];
            if (p->filter_count && !matches(p, x)) continue;
            if (p->phase == kPreferred || p->phase == kOthers) {
                if (p->check && at < kMaxDemotable && demoted(m, p, x.endpoint)) {
                    set_bit(p, at);
                    continue;
                }
            } else if (p->phase != kDown && !bit(p, at)) {
                continue;
            }
            p->cur = at;
            return 1;
        }
        service_phase(p, p->phase + 1);
    }
    return 0;
}

// An instance or a contact point: the same fields.
template <class Endpoint> void fill_from(const Endpoint &x, const char *via, sy_target *t) {
    t->node = x.node;
    t->host = x.host;
    t->port = x.port;
    t->datacenter = x.datacenter;
    t->rack = x.rack;
    t->node_index = x.node_index;
    if (x.down) t->flags |= SY_TARGET_DOWN;
    SY_TARGET_ADD_VIA_DETAIL(t, kPluginName, via);
}

void service_fill(const Plan *p, sy_target *t) { fill_from(p->svc->instances[p->cur], p->svc->via, t); }

int contact_advance(const ServiceMap *m, Plan *p) {
    const State *st = p->st;
    uint32_t n = st->contact_count;
    while (p->phase < kContactEnd) {
        while (p->pos < n) {
            uint32_t k = p->start + p->pos++;
            uint32_t at = k < n ? k : k - n;
            const Contact &c = st->contacts[at];
            if (p->phase == kHealthy) {
                if (c.down) continue;
                if (p->check && demoted(m, p, c.endpoint)) {
                    set_bit(p, at);
                    continue;
                }
            } else if (p->phase == kDemoted ? !bit(p, at) : !c.down) {
                continue;
            }
            p->cur = at;
            return 1;
        }
        p->phase = p->phase == kHealthy && !p->check ? kContactDown : p->phase + 1;
        p->pos = 0;
    }
    return 0;
}

void contact_fill(const Plan *p, sy_target *t) {
    const Contact &c = p->st->contacts[p->cur];
    fill_from(c, p->via[c.kind], t);
}

// "service_filter": {"zone": "a", ...} into the plan (the request outlives it).
int read_filters(const sy_host *h, const sy_json *f, Plan *p, sy_error *err) {
    if (h->json_type(f) != SY_JSON_OBJECT)
        return fail(h, err, SY_EREQUEST, "service_filter", "expected an object of attribute values");
    p->filter_count = 0;
    for (const sy_json *v = h->json_first(f); v; v = h->json_next(v)) {
        char path[SY_ERROR_PATH_MAX] = "service_filter";
        size_t len = std::strlen(path);
        path_append_key(path, sizeof path, &len, h->json_key(v));
        uint32_t type = h->json_type(v);
        if (type != SY_JSON_STRING && type != SY_JSON_NUMBER && type != SY_JSON_TRUE && type != SY_JSON_FALSE)
            return fail(h, err, SY_EREQUEST, path, "expected a string, a number or a boolean");
        if (p->filter_count == kMaxFilters)
            return fail(h, err, SY_EREQUEST, path, "at most %u attributes can be filtered on", kMaxFilters);
        for (uint32_t i = 0; i < p->filter_count; i++)
            if (std::strcmp(p->filters[i].key, h->json_key(v)) == 0) return fail(h, err, SY_EREQUEST, path, "duplicate key");
        p->filters[p->filter_count++] = Filter{h->json_key(v), h->json_string(v), h->json_number(v), type};
    }
    return SY_OK;
}

int service_init(ServiceMap *m, const State *st, const sy_json *service, const sy_json *filter, Plan *p,
                 sy_error *err) {
    const sy_host *h = m->host;
    const char *key = h->json_string(service);
    if (!key || !*key) return fail(h, err, SY_EREQUEST, "service", "expected a non-empty service key");
    if (!st->have_topology)
        return fail(h, err, SY_ENOROUTE, "service",
                    "no topology has arrived yet: service '%.100s' cannot be looked up before the first one", key);
    const Service *s = find_service(st, key);
    if (!s)
        return fail(h, err, SY_EUNKNOWN, "service", "no service '%.100s' in the topology (it has %u)", key,
                    st->service_count);
    if (!s->count) return fail(h, err, SY_ENOROUTE, "service", "service '%.100s' has no instances", key);
    p->svc = s;
    p->filter_count = 0;
    if (filter) {
        if (int rc = read_filters(h, filter, p, err)) return rc;
        // Never an empty success: no match is an error that says so.
        bool any = false;
        for (uint32_t i = 0; i < s->count && !any; i++) any = matches(p, s->instances[i]);
        if (!any)
            return fail(h, err, SY_ENOROUTE, "service_filter", "none of the %u instances of '%.100s' matches", s->count,
                        key);
    }
    // A locked add: requests from many threads rotate exactly, as they do
    // from one.
    p->rot = static_cast<uint32_t>(m->rotation.fetch_add(1, std::memory_order_relaxed));
    service_phase(p, kPreferred);
    // The first target's instance: its cache line is on its way while the
    // core finishes the plan's start.
    if (p->phase < kServiceEnd) __builtin_prefetch(&s->instances[p->lo + p->start]);
    return SY_OK;
}

int contact_init(ServiceMap *m, const State *st, Plan *p, sy_error *err) {
    const sy_host *h = m->host;
    if (!st->contact_count)
        return fail(h, err, SY_ENOROUTE, "contact",
                    "no contact endpoint: contact_points is empty and no topology has named a source or members");
    uint64_t now = h->now_ns(h);
    p->now1 = now + 1;
    // Each full liveness window of silence rotates the plan one endpoint
    // further: past the source that went silent, then on through the rest.
    uint64_t age = now > st->published_ns ? now - st->published_ns : 0;
    uint64_t silent = age > m->liveness_ns ? (age - 1) / m->liveness_ns : 0;
    p->start = static_cast<uint32_t>(silent % st->contact_count);
    p->via = silent ? kContactViaStale : kContactVia;
    p->svc = nullptr;
    p->phase = kHealthy;
    p->pos = 0;
    return SY_OK;
}

} // namespace

int plan_init(void *instance, const void *state, const sy_topology *, const sy_request_view *req, void *plan_state,
              sy_error *err) {
    auto *m = static_cast<ServiceMap *>(instance);
    const sy_host *h = m->host;
    const auto *st = static_cast<const State *>(state);
    const sy_json *doc =
        req->struct_size >= offsetof(sy_request_view, document) + sizeof(req->document) ? req->document : nullptr;
    if (!doc || !st)
        return fail(h, err, SY_EREQUEST, "",
                    "service_map reads the request's JSON: {\"service\": \"<key>\"} or {\"contact\": true}");
    // One pass over the request's members: the core keeps keys it does not
    // know in the document for plugins.
    const sy_json *service = nullptr, *filter = nullptr, *contact = nullptr;
    for (const sy_json *v = h->json_first(doc); v; v = h->json_next(v)) {
        const char *k = h->json_key(v);
        size_t n = std::strlen(k);
        if (syp::is_literal(k, n, "service")) service = v;
        else if (syp::is_literal(k, n, "service_filter")) filter = v;
        else if (syp::is_literal(k, n, "contact")) contact = v;
    }
    uint32_t ct = contact ? h->json_type(contact) : uint32_t{SY_JSON_MISSING};
    if (contact && ct != SY_JSON_TRUE && ct != SY_JSON_FALSE)
        return fail(h, err, SY_EREQUEST, "contact", "expected true or false");
    if (service && ct == SY_JSON_TRUE)
        return fail(h, err, SY_EREQUEST, "contact", "a request plans a service or the contact points, not both");
    if (filter && !service) return fail(h, err, SY_EREQUEST, "service_filter", "a filter needs a \"service\"");
    auto *p = static_cast<Plan *>(plan_state);
    p->st = st;
    p->now1 = 0;
    p->check = st->failures.load(std::memory_order_relaxed);
    if (p->check) std::memset(p->skipped, 0, sizeof p->skipped);
    if (service) return service_init(m, st, service, filter, p, err);
    if (ct == SY_JSON_TRUE) return contact_init(m, st, p, err);
    return fail(h, err, SY_EREQUEST, "", "service_map plans {\"service\": \"<key>\"} or {\"contact\": true}: the request has neither");
}

int plan_advance(void *instance, void *plan_state) {
    const auto *m = static_cast<const ServiceMap *>(instance);
    auto *p = static_cast<Plan *>(plan_state);
    return p->svc ? service_advance(m, p) : contact_advance(m, p);
}

void plan_fill(void *, void *plan_state, sy_target *target) {
    const auto *p = static_cast<const Plan *>(plan_state);
    if (p->svc) service_fill(p, target);
    else contact_fill(p, target);
}


} // namespace syp::svc
