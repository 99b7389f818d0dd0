// Building a snapshot's State (attach): the service registry from the
// topology's "services", the contact endpoints (the topology's "source", the
// configured points, members learned from this and earlier snapshots), and
// one demotion stamp per endpoint, carried over from the state before.
//
// The core has checked the registry's shape (topology.cpp); what does not fit
// here anyway (a C topology has no document) is skipped, never trusted.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <new>

#include "address_map/hostport.hpp"
#include "common/fail.hpp"
#include "common/json_path.hpp"
#include "service_map/state.hpp"

namespace syp::svc {

namespace {

constexpr uint32_t kContactMark = UINT32_MAX;

// Open-addressing tables stay at most half full.
uint32_t table_size(size_t n) {
    uint32_t s = 8;
    while (s < 2 * n) s <<= 1;
    return s;
}

uint32_t json_port(const sy_host *h, const sy_json *v) {
    double d = h->json_number(v);
    if (h->json_type(v) != SY_JSON_NUMBER || d != std::floor(d) || d < 1 || d > 65535) return 0;
    return static_cast<uint32_t>(d);
}

struct Builder {
    ServiceMap *m;
    const sy_host *h;
    const sy_topology *topo;
    State *st;
    const State *prev;
    uint32_t *by_id; // node indices sorted by id
    Instance *scratch; // one service's instances before they are put in tier order

    const sy_node *node(uint32_t i) const { return SY_TOPOLOGY_NODE(topo, i); }

    int32_t find_node(const char *id) const {
        size_t lo = 0, hi = topo->node_count;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = std::strcmp(node(by_id[mid])->id, id);
            if (c == 0) return static_cast<int32_t>(by_id[mid]);
            if (c < 0) lo = mid + 1;
            else hi = mid;
        }
        return -1;
    }

    // The endpoint at host:port, added when new (host must outlive the
    // state), with the stamp it had in the state before.
    Endpoint *endpoint(const char *host, uint32_t port) {
        if (auto *e = const_cast<Endpoint *>(find_endpoint(st, host, port))) return e;
        if (st->endpoint_count == st->endpoint_cap) return nullptr; // cannot happen: capacity is an upper bound
        uint32_t idx = st->endpoint_count++;
        Endpoint *e = new (&st->endpoints[idx]) Endpoint{host, port, 0, hash_endpoint(host, port), {0}};
        uint64_t was = 0;
        if (prev) {
            if (const Endpoint *p = find_endpoint(prev, host, port)) was = p->failed.load(std::memory_order_relaxed);
        }
        if (was) {
            e->failed.store(was, std::memory_order_relaxed);
            st->failures.store(true, std::memory_order_relaxed);
        }
        uint32_t i = static_cast<uint32_t>(e->hash) & st->endpoint_mask;
        while (st->endpoint_slots[i]) i = (i + 1) & st->endpoint_mask;
        st->endpoint_slots[i] = idx + 1;
        return e;
    }

    // "host:port" ("[v6]:port") for what has no node id.
    const char *label(const char *host, uint32_t port) {
        size_t n = std::strlen(host) + 10;
        auto *p = static_cast<char *>(st->arena.alloc(n, 1));
        if (p) std::snprintf(p, n, std::strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
        return p;
    }

    bool read_attrs(const sy_json *obj, Instance &x) {
        if (h->json_type(obj) != SY_JSON_OBJECT) return true;
        auto *a = st->arena.array<Attr>(h->json_count(obj));
        if (!a) return false;
        uint32_t n = 0;
        for (const sy_json *v = h->json_first(obj); v; v = h->json_next(v)) {
            uint32_t t = h->json_type(v);
            if (t != SY_JSON_STRING && t != SY_JSON_NUMBER && t != SY_JSON_TRUE && t != SY_JSON_FALSE) continue;
            a[n++] = Attr{h->json_key(v), h->json_string(v), h->json_number(v), t};
        }
        x.attrs = a;
        x.attr_count = n;
        return true;
    }

    // One service: its instances checked, deduplicated by address, then in
    // tier order at *next. False when out of memory.
    bool add_service(const sy_json *v, uint32_t si, Instance *all, uint32_t *next) {
        const char *key = h->json_string(h->json_get(v, "key"));
        if (!key || !*key || find_service(st, key)) return true;
        uint32_t n = 0;
        const sy_json *ins = h->json_get(v, "instances");
        for (const sy_json *in = h->json_type(ins) == SY_JSON_ARRAY ? h->json_first(ins) : nullptr; in;
             in = h->json_next(in)) {
            const char *id = h->json_string(h->json_get(in, "node"));
            int32_t ni = id ? find_node(id) : -1;
            if (id && ni < 0) continue;
            const sy_node *nd = ni >= 0 ? node(static_cast<uint32_t>(ni)) : nullptr;
            const char *host = h->json_string(h->json_get(in, "host"));
            uint32_t port = json_port(h, h->json_get(in, "port"));
            if (!host && nd) host = nd->host;
            if (!port && nd) port = nd->port;
            if (!host || !*host || !port) continue;
            Endpoint *e = endpoint(host, port);
            if (!e) return false;
            if (e->mark == si + 1) continue; // the same address twice in one service: once
            e->mark = si + 1;
            Instance &x = scratch[n];
            x = Instance{};
            x.node = nd ? nd->id : label(host, port);
            x.host = host;
            x.port = port;
            x.endpoint = e;
            x.datacenter = nd ? nd->datacenter : nullptr;
            x.rack = nd ? nd->rack : nullptr;
            x.down = nd && !nd->up;
            x.node_index = nd && port == nd->port && std::strcmp(host, nd->host) == 0 ? static_cast<uint32_t>(ni) : UINT32_MAX;
            if (!x.node || !read_attrs(h->json_get(in, "attributes"), x)) return false;
            n++;
        }
        // Tier order, each tier in the order the topology lists it.
        const char *pdc = m->preferred_dc;
        auto tier = [pdc](const Instance &x) {
            if (x.down) return 2;
            return pdc && x.datacenter && std::strcmp(x.datacenter, pdc) == 0 ? 0 : 1;
        };
        Service &s = st->services[st->service_count];
        s = Service{};
        Instance *out = all + *next;
        uint32_t k = 0;
        for (int t = 0; t < 3; t++) {
            for (uint32_t i = 0; i < n; i++)
                if (tier(scratch[i]) == t) out[k++] = scratch[i];
            if (t == 0) s.preferred = k;
            if (t == 1) s.up = k;
        }
        s.count = n;
        s.instances = out;
        *next += n;
        s.key = key;
        size_t key_len;
        s.hash = hash_str(key, &key_len);
        s.key_len = static_cast<uint32_t>(key_len);
        std::memcpy(s.prefix, key, key_len < kKeyPrefix ? key_len : kKeyPrefix);
        // {"service":"<key>"}: the via detail of every target of this service
        size_t cap = 6 * key_len + 16, len = 12;
        auto *via = static_cast<char *>(st->arena.alloc(cap, 1));
        if (!via) return false;
        std::memcpy(via, "{\"service\":\"", len);
        json_escape_into(via, cap - 2, &len, key);
        std::memcpy(via + len, "\"}", 3);
        s.via = via;
        uint32_t i = static_cast<uint32_t>(s.hash) & st->service_mask;
        while (st->service_slots[i]) i = (i + 1) & st->service_mask;
        st->service_slots[i] = service_slot(s.hash, ++st->service_count);
        return true;
    }

    // A contact endpoint, unless its address is already one.
    bool add_contact(uint32_t kind, const char *host, uint32_t port, const char *node, const char *dc,
                     const char *rack, uint32_t node_index, uint32_t down) {
        Endpoint *e = endpoint(host, port);
        if (!e) return false;
        if (e->mark == kContactMark) return true;
        e->mark = kContactMark;
        st->contacts[st->contact_count++] = Contact{node, host, dc, rack, e, port, node_index, kind, down};
        if (kind == kLearned) st->learned_count++;
        return true;
    }

    // The source, named after the node at its address when this topology
    // has one (its id, datacenter and state), else by its "host:port".
    bool add_source(const char *host, uint32_t port, const char *text) {
        for (size_t i = 0; i < topo->node_count; i++) {
            const sy_node *nd = node(static_cast<uint32_t>(i));
            if (nd->port == port && std::strcmp(nd->host, host) == 0)
                return add_contact(kSource, host, port, nd->id, nd->datacenter, nd->rack, static_cast<uint32_t>(i), !nd->up);
        }
        return add_contact(kSource, host, port, text, nullptr, nullptr, UINT32_MAX, 0);
    }

    // A contact of the state before, its strings copied: that state goes
    // away before this one.
    bool carry_contact(const Contact &c) {
        if (const Endpoint *e = find_endpoint(st, c.host, c.port); e && e->mark == kContactMark) return true;
        Arena &a = st->arena;
        const char *host = a.dup(c.host), *node = a.dup(c.node);
        const char *dc = c.datacenter ? a.dup(c.datacenter) : nullptr, *rack = c.rack ? a.dup(c.rack) : nullptr;
        if (!host || !node || (c.datacenter && !dc) || (c.rack && !rack)) return false;
        if (c.kind == kSource) return add_source(host, c.port, node);
        return add_contact(c.kind, host, c.port, node, dc, rack, UINT32_MAX, c.down);
    }

    bool contacts() {
        st->contacts = st->arena.array<Contact>(kMaxContacts);
        if (!st->contacts) return false;
        // 1. Who delivered this topology, else whoever delivered the last one.
        const char *src = h->json_string(h->json_get(topo->document, "source"));
        syp::Endpoint ep;
        if (src && !parse_endpoint(src, &ep)) {
            char buf[kMaxHostName + 1];
            const char *host = format_host(ep, buf, sizeof buf) ? st->arena.dup(buf) : nullptr;
            const char *text = st->arena.dup(src);
            if (!host || !text || !add_source(host, ep.port, text)) return false;
        } else if (prev && prev->contact_count && prev->contacts[0].kind == kSource) {
            if (!carry_contact(prev->contacts[0])) return false;
        }
        // 2. The configured points.
        for (uint32_t i = 0; i < m->point_count; i++) {
            const ContactPoint &p = m->points[i];
            if (!add_contact(kConfigured, p.host, p.port, p.text, nullptr, nullptr, UINT32_MAX, 0)) return false;
        }
        // 3. Members: this topology's nodes (up ones first), then those
        // learned from earlier topologies, so losing every seed and every
        // current member still leaves somewhere to ask.
        for (uint32_t want_up = 1, pass = 0; pass < 2; pass++, want_up = 0) {
            for (size_t i = 0; i < topo->node_count && st->learned_count < kMaxLearned; i++) {
                const sy_node *nd = node(static_cast<uint32_t>(i));
                if ((nd->up != 0) != (want_up != 0)) continue;
                if (!add_contact(kLearned, nd->host, nd->port, nd->id, nd->datacenter, nd->rack,
                                 static_cast<uint32_t>(i), !nd->up))
                    return false;
            }
        }
        for (uint32_t i = 0; prev && i < prev->contact_count && st->learned_count < kMaxLearned; i++)
            if (prev->contacts[i].kind == kLearned && !carry_contact(prev->contacts[i])) return false;
        return true;
    }

    bool build() {
        const sy_json *doc = topo->document;
        st->have_topology = doc != nullptr || topo->node_count > 0;
        st->published_ns = topo->struct_size >= offsetof(sy_topology, published_ns) + sizeof(uint64_t)
                               ? topo->published_ns
                               : h->now_ns(h);
        by_id = st->arena.array<uint32_t>(topo->node_count);
        if (!by_id) return false;
        for (size_t i = 0; i < topo->node_count; i++) by_id[i] = static_cast<uint32_t>(i);
        std::sort(by_id, by_id + topo->node_count,
                  [this](uint32_t a, uint32_t b) { return std::strcmp(node(a)->id, node(b)->id) < 0; });
        // Sizes first: every array is allocated once.
        const sy_json *svcs = h->json_get(doc, "services");
        if (h->json_type(svcs) != SY_JSON_ARRAY) svcs = nullptr;
        size_t nsvc = 0, total = 0, widest = 0;
        for (const sy_json *v = svcs ? h->json_first(svcs) : nullptr; v; v = h->json_next(v), nsvc++) {
            size_t n = h->json_count(h->json_get(v, "instances"));
            total += n;
            widest = n > widest ? n : widest;
        }
        size_t prev_learned = prev ? prev->learned_count + 1 : 0; // + its source
        st->endpoint_cap = static_cast<uint32_t>(total + topo->node_count + m->point_count + prev_learned + 1);
        uint32_t eslots = table_size(st->endpoint_cap), sslots = table_size(nsvc);
        st->endpoint_mask = eslots - 1;
        st->service_mask = sslots - 1;
        st->endpoints = st->arena.array<Endpoint>(st->endpoint_cap);
        st->endpoint_slots = st->arena.array<uint32_t>(eslots);
        st->services = st->arena.array<Service>(nsvc);
        st->service_slots = st->arena.array<uint64_t>(sslots);
        auto *all = st->arena.array<Instance>(total);
        scratch = st->arena.array<Instance>(widest);
        if (!st->endpoints || !st->endpoint_slots || !st->services || !st->service_slots || !all || !scratch)
            return false;
        uint32_t next = 0, si = 0;
        for (const sy_json *v = svcs ? h->json_first(svcs) : nullptr; v; v = h->json_next(v), si++)
            if (!add_service(v, si, all, &next)) return false;
        return contacts();
    }
};

} // namespace

int build_state(ServiceMap *m, const sy_topology *topo, State **out, sy_error *err) {
    const sy_host *h = m->host;
    auto *st = static_cast<State *>(h->alloc(h, sizeof(State), alignof(State)));
    if (!st) return fail(h, err, SY_ENOMEM, "", "service_map: out of memory");
    std::memset(static_cast<void *>(st), 0, sizeof(State));
    new (st) State();
    st->arena.init(h);
    st->prev = m->latest;
    Builder b{m, h, topo, st, m->latest, nullptr, nullptr};
    if (!b.build()) {
        free_state(m, st);
        return fail(h, err, SY_ENOMEM, "", "service_map: out of memory for %zu nodes", topo->node_count);
    }
    *out = st;
    return SY_OK;
}

void free_state(ServiceMap *m, State *st) {
    st->arena.release();
    st->~State();
    m->host->free(m->host, st, sizeof(State));
}

} // namespace syp::svc
