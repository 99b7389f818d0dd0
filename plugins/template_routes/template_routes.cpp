// template_routes: Hasura's dynamic database routing as a selector.
//
// A Kriti template over the request's context picks the primary, the read
// replicas, the default (replicas for reads when there are any, else the
// primary) or a member of the connection set. The template is compiled once
// at load and checked against the config; each plan evaluates it in an
// arena on the stack and keeps only the decision. Read replicas: a uniformly
// random one first (seeded with "seed"), the others after it in turn.
// Targets carry the endpoint's url so a database client can use it.
#include <switchyard/plugin.h>
#include <switchyard/template_routes.h>

#include <cstdio>
#include <cstring>
#include <new>

#include "common/interface.hpp"
#include "common/steps.hpp"
#include "template_routes/template_routes.hpp"

namespace tr {
namespace {

constexpr size_t kStackArena = 4096;

void *k_alloc(size_t size, size_t align, void *ud) {
    const auto *h = static_cast<const sy_host *>(ud);
    return h->alloc(h, size, align);
}
void k_free(void *p, size_t size, void *ud) {
    const auto *h = static_cast<const sy_host *>(ud);
    h->free(h, p, size);
}

Instance *inst_of(void *p) { return static_cast<Instance *>(p); }

void tr_destroy(void *instance) {
    Instance *in = inst_of(instance);
    config_free(in);
    in->~Instance();
}

int tr_create(void *instance, const sy_host *host, const sy_json *config, const char *path, sy_error *err) {
    Instance *in = new (instance) Instance();
    in->host = host;
    in->ka = kriti::Allocator{k_alloc, k_free, const_cast<sy_host *>(host)};
    int rc = config_load(in, config, path, err);
    if (rc != SY_OK) tr_destroy(instance);
    return rc;
}

uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct Plan {
    const Instance *in;
    Decision d;
    uint32_t first; // the replica drawn
    uint32_t i;     // targets given
};

constexpr const char kViaPrimary[] = "{\"routing_to\":\"primary\",\"value\":null}";
constexpr const char kViaDefault[] = "{\"routing_to\":\"default\",\"value\":null}";
constexpr const char kViaReplicas[] = "{\"routing_to\":\"read_replicas\",\"value\":null}";

int tr_plan_init(void *instance, const void *, const sy_topology *, const sy_request_view *req, void *plan_state,
                 sy_error *err) {
    const Instance *in = inst_of(instance);
    alignas(16) unsigned char stack[kStackArena];
    kriti::Arena arena(in->ka, stack, sizeof stack);
    auto *p = static_cast<Plan *>(plan_state);
    kriti::Value result;
    int rc = resolve(in, in->cfg.program, in->cfg.use, (req->fields & SY_REQ_CONTEXT) ? req->context : nullptr,
                     arena, &p->d, &result, err);
    if (rc != SY_OK) return rc;
    p->in = in;
    p->i = 0;
    p->first = 0;
    if (p->d.to_replicas) {
        const Config &c = in->cfg;
        uint64_t draw = c.seeded ? splitmix(c.seed + const_cast<Instance *>(in)->draws.fetch_add(1, std::memory_order_relaxed))
                                 : in->host->random_u64(in->host);
        p->first = static_cast<uint32_t>(((draw >> 32) * c.replica_count) >> 32); // uniform, no modulo bias
    }
    return SY_OK;
}

void fill(sy_target *t, const Endpoint &e, const char *via) {
    t->node = e.name;
    t->host = e.host;
    t->port = e.port;
    t->url = e.url;
    SY_TARGET_ADD_VIA_DETAIL(t, kPluginName, via);
}

// One target for a connection set or the primary, the replicas in turn
// from a random first.
int tr_plan_advance(void *, void *plan_state) {
    auto *p = static_cast<Plan *>(plan_state);
    const Decision &d = p->d;
    uint32_t n = d.routing_to != RoutingTo::ConnectionSet && d.to_replicas ? p->in->cfg.replica_count : 1;
    if (p->i >= n) return 0;
    p->i++;
    return 1;
}

void tr_plan_fill(void *, void *plan_state, sy_target *t) {
    const auto *p = static_cast<const Plan *>(plan_state);
    const Config &c = p->in->cfg;
    const Decision &d = p->d;
    if (d.routing_to == RoutingTo::ConnectionSet) {
        fill(t, c.members[d.member], c.members[d.member].via);
    } else if (d.to_replicas) {
        uint32_t k = (p->first + p->i - 1) % c.replica_count;
        fill(t, c.replicas[k], d.routing_to == RoutingTo::Default ? kViaDefault : kViaReplicas);
    } else {
        fill(t, c.primary, d.routing_to == RoutingTo::Default ? kViaDefault : kViaPrimary);
    }
}

// ---------------------------------------------------------------- test interface

int test_resolve(void *instance, const char *request_json, size_t len, const char *template_text,
                 size_t template_len, char *out, size_t cap, size_t *out_len, sy_error *err) {
    if (!instance) return SY_EINVAL;
    const Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    if (!request_json || (!out && cap)) {
        h->set_error(err, SY_EINVAL, "", "template_routes resolve: request_json is required");
        return SY_EINVAL;
    }
    kriti::Program *own = nullptr;
    const kriti::Program *prog = in->cfg.program;
    ContextUse use = in->cfg.use;
    if (template_text) {
        if (int rc = template_compile(in, template_text, template_len, "template", &own, &use, err)) return rc;
        prog = own;
    }
    sy_json *doc = nullptr;
    int rc = h->json_parse(h, request_json, len, &doc, err);
    if (rc != SY_OK) {
        if (err) err->code = SY_EREQUEST;
        rc = SY_EREQUEST;
    } else if (h->json_type(doc) != SY_JSON_OBJECT) {
        h->set_error(err, SY_EREQUEST, "", "a request is a JSON object");
        rc = SY_EREQUEST;
    }
    if (rc == SY_OK) {
        const sy_json *ctx = h->json_get(doc, "context");
        if (h->json_type(ctx) != SY_JSON_MISSING && h->json_type(ctx) != SY_JSON_OBJECT) {
            h->set_error(err, SY_EREQUEST, "context", "expected an object");
            rc = SY_EREQUEST;
        }
        // the shape the core checks for planned requests
        for (const sy_json *m = rc ? nullptr : h->json_first(ctx); m; m = h->json_next(m)) {
            const char *k = h->json_key(m);
            if ((std::strcmp(k, "headers") && std::strcmp(k, "session") && std::strcmp(k, "query")) ||
                h->json_type(m) != SY_JSON_OBJECT) {
                h->set_error(err, SY_EREQUEST, "context", "context.%.100s: expected one of the objects headers, "
                             "session and query", k);
                rc = SY_EREQUEST;
                break;
            }
        }
        alignas(16) unsigned char stack[kStackArena];
        kriti::Arena arena(in->ka, stack, sizeof stack);
        Decision d;
        kriti::Value result;
        if (rc == SY_OK) rc = resolve(in, prog, use, h->json_type(ctx) == SY_JSON_OBJECT ? ctx : nullptr, arena, &d, &result, err);
        if (rc == SY_OK) {
            char value[256] = "null";
            if (d.routing_to == RoutingTo::ConnectionSet) {
                const char *name = in->cfg.members[d.member].name;
                size_t n = 0;
                value[n++] = '"';
                for (const char *s = name; *s && n + 8 < sizeof value; s++) {
                    if (*s == '"' || *s == '\\') value[n++] = '\\';
                    value[n++] = *s;
                }
                value[n++] = '"';
                value[n] = '\0';
            }
            int head = std::snprintf(out, cap, "{\"routing_to\":\"%s\",\"value\":%s,\"yielded\":",
                                     routing_name(d.routing_to), value);
            size_t total = static_cast<size_t>(head);
            size_t at = total < cap ? total : cap;
            total += kriti::write_json(result, out ? out + at : nullptr, cap - at);
            if (total + 1 < cap) {
                out[total] = '}';
                out[total + 1] = '\0';
            }
            total += 1;
            if (out_len) *out_len = total;
            if (total >= cap) {
                h->set_error(err, SY_ETOOSMALL, "", "the answer needs %zu bytes, the buffer has %zu", total + 1, cap);
                rc = SY_ETOOSMALL;
            }
        }
    }
    if (doc) h->json_free(h, doc);
    if (own) kriti::program_free(own);
    return rc;
}

const sy_template_routes_test kTestIface = {sizeof(sy_template_routes_test), SY_TEMPLATE_ROUTES_TEST_VERSION,
                                            test_resolve};

int tr_get_interface(void *, const char *name, uint32_t min_version, const void **iface) {
    return syp::offer_interface(name, min_version, iface, SY_TEMPLATE_ROUTES_TEST, SY_TEMPLATE_ROUTES_TEST_VERSION, &kTestIface);
}

const sy_plugin kPlugin = {
    SY_PLUGIN_ABI_VERSION,
    sizeof(sy_plugin),
    kPluginName,
    "Hasura-style dynamic routing: a Kriti template picks the primary, read replicas or a connection-set member",
    SY_ROLE_SELECTOR,
    sizeof(Instance),
    sizeof(Plan),
    0,
    tr_create,
    tr_destroy,
    nullptr,
    nullptr,
    tr_plan_init,
    syp::next_by_steps<tr_plan_advance, tr_plan_fill>,
    nullptr,
    nullptr,
    tr_get_interface,
    tr_plan_advance,
    tr_plan_fill,
    nullptr,
};

} // namespace
} // namespace tr

SY_PLUGIN_DEFINE(template_routes, tr::kPlugin)
