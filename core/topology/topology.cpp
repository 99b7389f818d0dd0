#include "topology/topology.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sy {

namespace {

const char *const kTopologyKeys[] = {"nodes", "keyspaces", "services", "source", nullptr};
const char *const kNodeKeys[] = {"id",     "name",   "host", "port", "datacenter",
                                 "rack",   "shards", "tokens", "up", nullptr};
const char *const kKeyspaceKeys[] = {"name", "strategy", "replication", nullptr};
const char *const kServiceKeys[] = {"key", "instances", nullptr};
const char *const kInstanceKeys[] = {"node", "host", "port", "attributes", nullptr};

// Shared by the JSON and C paths so both validate alike.
struct NodeSpec {
    const char *id = nullptr, *name = nullptr, *host = nullptr;
    const char *datacenter = nullptr, *rack = nullptr;
    int64_t port = 0, shards = 0;
    bool up = true;
};

int store_node(Topology &t, const NodeSpec &s, const int64_t *tokens, size_t ntokens, Path &path,
               int code, sy_error *err) {
    if (!s.host || !*s.host) {
        PathScope ps(path, "host");
        return fail(err, code, path.c_str(), "a node needs a non-empty host");
    }
    if (s.port < 1 || s.port > 65535) {
        PathScope ps(path, "port");
        return fail(err, code, path.c_str(), "port must be 1..65535, got %lld",
                    static_cast<long long>(s.port));
    }
    if (s.shards < 0 || s.shards > 65535) {
        PathScope ps(path, "shards");
        return fail(err, code, path.c_str(), "shards must be 0..65535, got %lld",
                    static_cast<long long>(s.shards));
    }
    sy_node &n = t.nodes[t.node_count];
    n = sy_node{};
    n.struct_size = sizeof(sy_node);
    const char *id = s.id;
    if (!id) { // host:port ([host]:port for IPv6), in the snapshot's arena
        bool v6 = std::strchr(s.host, ':') != nullptr;
        size_t n = std::strlen(s.host) + 10;
        char *idbuf = static_cast<char *>(t.arena.alloc(n, 1));
        if (!idbuf) return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
        std::snprintf(idbuf, n, v6 ? "[%s]:%lld" : "%s:%lld", s.host, static_cast<long long>(s.port));
        id = idbuf;
    }
    if (!*id) {
        PathScope ps(path, "id");
        return fail(err, code, path.c_str(), "node id must not be empty");
    }
    for (size_t i = 0; i < t.node_count; i++)
        if (std::strcmp(t.nodes[i].id, id) == 0) {
            PathScope ps(path, "id");
            return fail(err, code, path.c_str(), "duplicate node id '%.100s' (also node %zu)", id,
                        i);
        }
    n.id = s.id ? t.arena.strdup(id) : id;
    n.name = s.name ? t.arena.strdup(s.name) : n.id;
    n.host = t.arena.strdup(s.host);
    n.port = static_cast<uint32_t>(s.port);
    n.datacenter = t.arena.strdup(s.datacenter);
    n.rack = t.arena.strdup(s.rack);
    n.shards = static_cast<uint32_t>(s.shards);
    n.up = s.up;
    if (ntokens) {
        auto *tk = static_cast<int64_t *>(t.arena.alloc(ntokens * sizeof(int64_t), 8));
        if (!tk) return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
        std::memcpy(tk, tokens, ntokens * sizeof(int64_t));
        n.tokens = tk;
        n.token_count = ntokens;
    }
    if (!n.id || !n.name || !n.host || (s.datacenter && !n.datacenter) || (s.rack && !n.rack))
        return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
    t.node_count++;
    return SY_OK;
}

int parse_strategy(const char *s, uint32_t *out) {
    const char *dot = std::strrchr(s, '.'); // org.apache.cassandra.locator.X
    const char *b = dot ? dot + 1 : s;
    if (std::strcmp(b, "SimpleStrategy") == 0) *out = SY_STRATEGY_SIMPLE;
    else if (std::strcmp(b, "NetworkTopologyStrategy") == 0) *out = SY_STRATEGY_NETWORK_TOPOLOGY;
    else if (std::strcmp(b, "LocalStrategy") == 0 || std::strcmp(b, "EverywhereStrategy") == 0)
        *out = SY_STRATEGY_LOCAL;
    else return SY_EINVAL;
    return SY_OK;
}

constexpr uint32_t kMaxRf = 1000;

// A replication factor as Cassandra stores it: a number or a numeric string.
int parse_rf(const cJSON *v, Path &path, int code, uint32_t *out, sy_error *err) {
    int64_t x = -1;
    if (cJSON_IsString(v) || cJSON_IsNumber(v)) {
        sy_error e2 = SY_STRUCT_INIT(sy_error);
        if (json_int64(v, path, code, &x, &e2) != SY_OK) x = -1;
    }
    if (x < 0 || x > kMaxRf)
        return fail(err, code, path.c_str(), "replication factor must be an integer 0..%u", kMaxRf);
    *out = static_cast<uint32_t>(x);
    return SY_OK;
}

int store_keyspace(Topology &t, const cJSON *k, Path &path, int code, sy_error *err) {
    if (!cJSON_IsObject(k)) return fail(err, code, path.c_str(), "expected an object");
    int rc = json_check_keys(k, kKeyspaceKeys, path, code, err);
    if (rc) return rc;
    const char *name = nullptr, *strategy = nullptr;
    if ((rc = json_opt_string(k, "name", path, code, &name, err))) return rc;
    if ((rc = json_opt_string(k, "strategy", path, code, &strategy, err))) return rc;
    if (!name || !*name) {
        PathScope ps(path, "name");
        return fail(err, code, path.c_str(), "a keyspace needs a non-empty name");
    }
    for (size_t i = 0; i < t.keyspace_count; i++)
        if (std::strcmp(t.keyspaces[i].name, name) == 0) {
            PathScope ps(path, "name");
            return fail(err, code, path.c_str(), "duplicate keyspace '%.100s'", name);
        }
    sy_keyspace &ks = t.keyspaces[t.keyspace_count];
    ks = sy_keyspace{};
    ks.struct_size = sizeof(sy_keyspace);
    if (!strategy || parse_strategy(strategy, &ks.strategy) != SY_OK) {
        PathScope ps(path, "strategy");
        return fail(err, code, path.c_str(),
                    "expected \"SimpleStrategy\" or \"NetworkTopologyStrategy\"");
    }
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(k, "replication");
    PathScope ps(path, "replication");
    if (rep && !cJSON_IsObject(rep))
        return fail(err, code, path.c_str(), "expected an object, got %s", json_type_name(rep));
    if (ks.strategy == SY_STRATEGY_SIMPLE) {
        const cJSON *rf = cJSON_GetObjectItemCaseSensitive(rep, "replication_factor");
        if (!rf) {
            PathScope ps2(path, "replication_factor");
            return fail(err, code, path.c_str(), "SimpleStrategy needs a replication_factor");
        }
        static const char *const keys[] = {"replication_factor", "class", nullptr};
        if ((rc = json_check_keys(rep, keys, path, code, err))) return rc;
        PathScope ps2(path, "replication_factor");
        if ((rc = parse_rf(rf, path, code, &ks.replication_factor, err))) return rc;
    } else if (ks.strategy == SY_STRATEGY_NETWORK_TOPOLOGY) {
        size_t n = 0;
        for (const cJSON *m = rep ? rep->child : nullptr; m; m = m->next) n++;
        auto *dcs = static_cast<sy_dc_replication *>(
            t.arena.alloc((n ? n : 1) * sizeof(sy_dc_replication), alignof(sy_dc_replication)));
        if (!dcs) return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
        size_t i = 0;
        for (const cJSON *m = rep ? rep->child : nullptr; m; m = m->next) {
            if (std::strcmp(m->string, "class") == 0) continue; // as system_schema stores it
            PathScope ps2(path, m->string);
            for (size_t j = 0; j < i; j++)
                if (std::strcmp(dcs[j].datacenter, m->string) == 0)
                    return fail(err, code, path.c_str(), "duplicate datacenter");
            if ((rc = parse_rf(m, path, code, &dcs[i].replication_factor, err))) return rc;
            dcs[i].struct_size = sizeof(sy_dc_replication);
            dcs[i].datacenter = t.arena.strdup(m->string);
            if (!dcs[i].datacenter) return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
            i++;
        }
        ks.dcs = dcs;
        ks.dc_count = i;
    }
    ks.name = t.arena.strdup(name);
    if (!ks.name) return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
    t.keyspace_count++;
    return SY_OK;
}

int parse_node(Topology &t, const cJSON *n, Vec<int64_t> &tokens, Path &path, int code,
               sy_error *err) {
    if (!cJSON_IsObject(n)) return fail(err, code, path.c_str(), "expected an object");
    int rc = json_check_keys(n, kNodeKeys, path, code, err);
    if (rc) return rc;
    NodeSpec s;
    if ((rc = json_opt_string(n, "id", path, code, &s.id, err))) return rc;
    if ((rc = json_opt_string(n, "name", path, code, &s.name, err))) return rc;
    if ((rc = json_opt_string(n, "host", path, code, &s.host, err))) return rc;
    if ((rc = json_opt_string(n, "datacenter", path, code, &s.datacenter, err))) return rc;
    if ((rc = json_opt_string(n, "rack", path, code, &s.rack, err))) return rc;
    if ((rc = json_opt_bool(n, "up", path, code, &s.up, err))) return rc;
    if (!cJSON_GetObjectItemCaseSensitive(n, "port")) {
        PathScope ps(path, "port");
        return fail(err, code, path.c_str(), "a node needs a port");
    }
    if ((rc = json_opt_int(n, "port", path, code, 1, 65535, &s.port, err))) return rc;
    if ((rc = json_opt_int(n, "shards", path, code, 0, 65535, &s.shards, err))) return rc;
    tokens.clear();
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(n, "tokens");
    if (tk) {
        PathScope ps(path, "tokens");
        if (!cJSON_IsArray(tk))
            return fail(err, code, path.c_str(), "expected an array, got %s", json_type_name(tk));
        size_t i = 0;
        for (const cJSON *v = tk->child; v; v = v->next, i++) {
            PathScope pi(path, i);
            int64_t x;
            if ((rc = json_int64(v, path, code, &x, err))) return rc;
            if (!tokens.push(x)) return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
        }
    }
    return store_node(t, s, tokens.data(), tokens.size(), path, code, err);
}

// "host:port" or "[v6]:port": a non-empty host and a port 1..65535.
bool is_host_port(const char *s) {
    const char *colon = std::strrchr(s, ':');
    if (!colon || colon == s || !colon[1]) return false;
    if (s[0] == '[' ? colon[-1] != ']' || colon - s < 3 : std::memchr(s, ':', static_cast<size_t>(colon - s)) != nullptr)
        return false;
    long port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || (port = port * 10 + (*p - '0')) > 65535) return false;
    }
    return port >= 1;
}

struct KeyAt {
    const char *key;
    size_t index;
};

// One instance of a service: a topology node, or its own host and port (or
// both: its own address on that node, whose datacenter and state it takes).
int check_instance(const cJSON *in, const Vec<const char *> &ids, Path &path, int code,
                   sy_error *err) {
    if (!cJSON_IsObject(in)) return fail(err, code, path.c_str(), "expected an object, got %s", json_type_name(in));
    int rc = json_check_keys(in, kInstanceKeys, path, code, err);
    const char *node = nullptr, *host = nullptr;
    int64_t port = 0;
    if (rc || (rc = json_opt_string(in, "node", path, code, &node, err)) ||
        (rc = json_opt_string(in, "host", path, code, &host, err)) ||
        (rc = json_opt_int(in, "port", path, code, 1, 65535, &port, err)))
        return rc;
    if (node) {
        const char *const *end = ids.data() + ids.size();
        const char *const *at = std::lower_bound(ids.data(), end, node,
                                                 [](const char *a, const char *b) { return std::strcmp(a, b) < 0; });
        if (at == end || std::strcmp(*at, node) != 0) {
            PathScope ps(path, "node");
            return fail(err, code, path.c_str(), "'%.100s' is not a node of this topology", node);
        }
    }
    if (host && !*host) {
        PathScope ps(path, "host");
        return fail(err, code, path.c_str(), "a host must not be empty");
    }
    if (!node && (!host || !port))
        return fail(err, code, path.c_str(), "an instance needs a \"node\", or a \"host\" and a \"port\"");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(in, "attributes");
    if (!attrs) return SY_OK;
    PathScope ps(path, "attributes");
    if (!cJSON_IsObject(attrs))
        return fail(err, code, path.c_str(), "expected an object, got %s", json_type_name(attrs));
    for (const cJSON *a = attrs->child; a; a = a->next) {
        PathScope pa(path, a->string);
        for (const cJSON *o = attrs->child; o != a; o = o->next)
            if (std::strcmp(o->string, a->string) == 0) return fail(err, code, path.c_str(), "duplicate key");
        if (!cJSON_IsString(a) && !cJSON_IsNumber(a) && !cJSON_IsBool(a))
            return fail(err, code, path.c_str(), "an attribute is a string, a number or a boolean, got %s",
                        json_type_name(a));
    }
    return SY_OK;
}

// The service registry: [{"key", "instances": [...]}], keys unique.
int check_services(const Topology &t, const cJSON *svc, Path &path, int code, sy_error *err) {
    Vec<const char *> ids(t.alloc); // node ids, sorted, for instances' "node"
    Vec<KeyAt> keys(t.alloc);
    if (!ids.reserve(t.node_count ? t.node_count : 1))
        return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
    for (size_t i = 0; i < t.node_count; i++) ids.push(t.nodes[i].id);
    std::sort(ids.begin(), ids.end(), [](const char *a, const char *b) { return std::strcmp(a, b) < 0; });
    size_t i = 0;
    for (const cJSON *s = svc->child; s; s = s->next, i++) {
        PathScope pi(path, i);
        if (!cJSON_IsObject(s)) return fail(err, code, path.c_str(), "expected an object, got %s", json_type_name(s));
        int rc = json_check_keys(s, kServiceKeys, path, code, err);
        const char *key = nullptr;
        if (rc || (rc = json_opt_string(s, "key", path, code, &key, err))) return rc;
        if (!key || !*key) {
            PathScope pk(path, "key");
            return fail(err, code, path.c_str(), "a service needs a non-empty key");
        }
        if (!keys.push(KeyAt{key, i})) return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
        const cJSON *ins = cJSON_GetObjectItemCaseSensitive(s, "instances");
        if (!ins) continue;
        PathScope pn(path, "instances");
        if (!cJSON_IsArray(ins)) return fail(err, code, path.c_str(), "expected an array, got %s", json_type_name(ins));
        size_t j = 0;
        for (const cJSON *in = ins->child; in; in = in->next, j++) {
            PathScope pj(path, j);
            if ((rc = check_instance(in, ids, path, code, err))) return rc;
        }
    }
    // A key given twice would leave which one a lookup finds to chance.
    // Sorted by key, then position: a repeat names the later of the two.
    std::sort(keys.begin(), keys.end(), [](const KeyAt &a, const KeyAt &b) {
        int c = std::strcmp(a.key, b.key);
        return c ? c < 0 : a.index < b.index;
    });
    for (size_t k = 1; k < keys.size(); k++)
        if (std::strcmp(keys[k - 1].key, keys[k].key) == 0) {
            PathScope pi(path, keys[k].index);
            PathScope pk(path, "key");
            return fail(err, code, path.c_str(), "duplicate service key '%.100s' (also services[%zu])", keys[k].key,
                        keys[k - 1].index);
        }
    return SY_OK;
}

} // namespace

Topology::~Topology() { json_delete(alloc, document); }

void topology_free(Topology *t) {
    if (!t || t->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    Alloc a = t->alloc;
    a.destroy(t);
}

static void finish_view(Topology &t) {
    t.view.struct_size = sizeof(sy_topology);
    t.view.nodes = t.nodes;
    t.view.node_count = t.node_count;
    t.view.node_stride = sizeof(sy_node);
    t.view.keyspaces = t.keyspaces;
    t.view.keyspace_count = t.keyspace_count;
    t.view.keyspace_stride = sizeof(sy_keyspace);
    t.view.document = reinterpret_cast<const sy_json *>(t.document);
}

int topology_from_json(const Alloc &a, cJSON *doc, const cJSON *obj, Path &path, int code,
                       Topology **out, sy_error *err) {
    Topology *t = a.make<Topology>(a);
    if (!t) {
        json_delete(a, doc);
        return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
    }
    t->document = doc;
    int rc = SY_OK;
    Vec<int64_t> tokens(a);
    if (obj) {
        if (!cJSON_IsObject(obj)) {
            rc = fail(err, code, path.c_str(), "expected an object, got %s", json_type_name(obj));
            goto done;
        }
        if ((rc = json_check_keys(obj, kTopologyKeys, path, code, err))) goto done;
        cJSON *nodes = cJSON_GetObjectItemCaseSensitive(obj, "nodes"); // obj lives in doc, which we own
        const cJSON *kss = cJSON_GetObjectItemCaseSensitive(obj, "keyspaces");
        const cJSON *svc = cJSON_GetObjectItemCaseSensitive(obj, "services");
        if (nodes && !cJSON_IsArray(nodes)) {
            PathScope ps(path, "nodes");
            rc = fail(err, code, path.c_str(), "expected an array, got %s", json_type_name(nodes));
            goto done;
        }
        if (kss && !cJSON_IsArray(kss)) {
            PathScope ps(path, "keyspaces");
            rc = fail(err, code, path.c_str(), "expected an array, got %s", json_type_name(kss));
            goto done;
        }
        if (svc && !cJSON_IsArray(svc)) {
            PathScope ps(path, "services");
            rc = fail(err, code, path.c_str(), "expected an array, got %s", json_type_name(svc));
            goto done;
        }
        size_t nn = static_cast<size_t>(cJSON_GetArraySize(nodes));
        size_t nk = static_cast<size_t>(cJSON_GetArraySize(kss));
        t->nodes = static_cast<sy_node *>(t->arena.alloc((nn ? nn : 1) * sizeof(sy_node)));
        t->keyspaces =
            static_cast<sy_keyspace *>(t->arena.alloc((nk ? nk : 1) * sizeof(sy_keyspace)));
        if (!t->nodes || !t->keyspaces) {
            rc = fail(err, SY_ENOMEM, path.c_str(), "out of memory");
            goto done;
        }
        {
            PathScope ps(path, "nodes");
            size_t i = 0;
            for (const cJSON *n = nodes ? nodes->child : nullptr; n; n = n->next, i++) {
                PathScope pi(path, i);
                if ((rc = parse_node(*t, n, tokens, path, code, err))) goto done;
            }
        }
        {
            PathScope ps(path, "keyspaces");
            size_t i = 0;
            for (const cJSON *k = kss ? kss->child : nullptr; k; k = k->next, i++) {
                PathScope pi(path, i);
                if ((rc = store_keyspace(*t, k, path, code, err))) goto done;
            }
        }
        if (svc) {
            PathScope ps(path, "services");
            if ((rc = check_services(*t, svc, path, code, err))) goto done;
        }
        if (const cJSON *src = cJSON_GetObjectItemCaseSensitive(obj, "source")) {
            // The contact endpoint the host received this topology from.
            PathScope ps(path, "source");
            if (!cJSON_IsString(src) || !is_host_port(src->valuestring)) {
                rc = fail(err, code, path.c_str(), "expected \"host:port\" (the endpoint this topology came from)");
                goto done;
            }
        }
        // The tokens now live in the nodes; a large ring's token strings
        // would otherwise double its memory in the kept document.
        if (doc && nodes) {
            JsonScope scope(a);
            for (cJSON *n = nodes->child; n; n = n->next) cJSON_DeleteItemFromObjectCaseSensitive(n, "tokens");
        }
    }
    finish_view(*t);
done:
    if (rc) {
        topology_free(t);
        return rc;
    }
    *out = t;
    return SY_OK;
}

int topology_from_desc(const Alloc &a, const sy_topology_desc *d, Topology **out, sy_error *err) {
    const int code = SY_ETOPOLOGY;
    if (!d || d->struct_size < offsetof(sy_topology_desc, keyspace_count) + sizeof(size_t))
        return fail(err, SY_EINVAL, "", "topology descriptor missing or too old (struct_size)");
    if ((d->node_count && !d->nodes) || (d->keyspace_count && !d->keyspaces))
        return fail(err, SY_EINVAL, "", "a count is set but its array is NULL");
    size_t nstride = d->node_count ? d->nodes[0].struct_size : 0;
    size_t kstride = d->keyspace_count ? d->keyspaces[0].struct_size : 0;
    if (d->node_count && nstride < offsetof(sy_node, token_count) + sizeof(size_t))
        return fail(err, SY_EINVAL, "nodes[0].struct_size", "sy_node.struct_size is too small");
    if (d->keyspace_count && kstride < offsetof(sy_keyspace, dc_count) + sizeof(size_t))
        return fail(err, SY_EINVAL, "keyspaces[0].struct_size",
                    "sy_keyspace.struct_size is too small");
    Topology *t = a.make<Topology>(a);
    if (!t) return fail(err, SY_ENOMEM, "", "out of memory");
    int rc = SY_OK;
    Path path;
    t->nodes = static_cast<sy_node *>(
        t->arena.alloc((d->node_count ? d->node_count : 1) * sizeof(sy_node)));
    t->keyspaces = static_cast<sy_keyspace *>(
        t->arena.alloc((d->keyspace_count ? d->keyspace_count : 1) * sizeof(sy_keyspace)));
    if (!t->nodes || !t->keyspaces) {
        rc = fail(err, SY_ENOMEM, "", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < d->node_count; i++) {
        const auto *src = reinterpret_cast<const sy_node *>(
            reinterpret_cast<const char *>(d->nodes) + i * nstride);
        sy_node n{}; // an older, smaller struct reads as zero-filled
        std::memcpy(&n, src, nstride < sizeof n ? nstride : sizeof n);
        PathScope ps(path, "nodes");
        PathScope pi(path, i);
        if (n.struct_size != nstride) {
            rc = fail(err, SY_EINVAL, path.c_str(), "struct_size differs from nodes[0]");
            goto done;
        }
        if (n.token_count && !n.tokens) {
            rc = fail(err, SY_EINVAL, path.c_str(), "token_count is set but tokens is NULL");
            goto done;
        }
        NodeSpec s;
        s.id = n.id;
        s.name = n.name;
        s.host = n.host;
        s.datacenter = n.datacenter;
        s.rack = n.rack;
        s.port = n.port;
        s.shards = n.shards;
        s.up = n.up != 0;
        if ((rc = store_node(*t, s, n.tokens, n.token_count, path, code, err))) goto done;
    }
    for (size_t i = 0; i < d->keyspace_count; i++) {
        const auto *src = reinterpret_cast<const sy_keyspace *>(
            reinterpret_cast<const char *>(d->keyspaces) + i * kstride);
        sy_keyspace k{};
        std::memcpy(&k, src, kstride < sizeof k ? kstride : sizeof k);
        PathScope ps(path, "keyspaces");
        PathScope pi(path, i);
        if (!k.name || !*k.name || k.strategy == SY_STRATEGY_NONE || k.strategy > SY_STRATEGY_LOCAL ||
            (k.dc_count && !k.dcs)) {
            rc = fail(err, code, path.c_str(), "keyspace needs a name, a known strategy and "
                                               "dcs when dc_count is set");
            goto done;
        }
        if (k.replication_factor > kMaxRf) { // as the JSON path checks it
            rc = fail(err, code, path.c_str(), "replication factor must be 0..%u, got %u", kMaxRf,
                      k.replication_factor);
            goto done;
        }
        for (size_t j = 0; j < t->keyspace_count; j++)
            if (std::strcmp(t->keyspaces[j].name, k.name) == 0) {
                rc = fail(err, code, path.c_str(), "duplicate keyspace '%.100s'", k.name);
                goto done;
            }
        sy_keyspace &dst = t->keyspaces[t->keyspace_count];
        dst = k;
        dst.struct_size = sizeof(sy_keyspace);
        dst.name = t->arena.strdup(k.name);
        sy_dc_replication *dcs = nullptr;
        if (k.dc_count) {
            size_t dstride = k.dcs[0].struct_size;
            if (dstride < offsetof(sy_dc_replication, datacenter) + sizeof(char *)) {
                rc = fail(err, SY_EINVAL, path.c_str(), "dcs[0].struct_size is too small");
                goto done;
            }
            dcs = static_cast<sy_dc_replication *>(
                t->arena.alloc(k.dc_count * sizeof(sy_dc_replication)));
            if (!dcs) {
                rc = fail(err, SY_ENOMEM, "", "out of memory");
                goto done;
            }
            for (size_t j = 0; j < k.dc_count; j++) {
                sy_dc_replication src{};
                std::memcpy(&src, reinterpret_cast<const char *>(k.dcs) + j * dstride,
                            dstride < sizeof src ? dstride : sizeof src);
                if (src.replication_factor > kMaxRf) {
                    rc = fail(err, code, path.c_str(), "dcs[%zu]: replication factor must be 0..%u, got %u", j,
                              kMaxRf, src.replication_factor);
                    goto done;
                }
                if (src.struct_size != dstride || !src.datacenter) {
                    rc = fail(err, code, path.c_str(),
                              "dcs[%zu]: struct_size differs from dcs[0] or datacenter is NULL", j);
                    goto done;
                }
                for (size_t m = 0; m < j; m++)
                    if (std::strcmp(dcs[m].datacenter, src.datacenter) == 0) {
                        rc = fail(err, code, path.c_str(), "dcs[%zu]: duplicate datacenter '%.100s'",
                                  j, src.datacenter);
                        goto done;
                    }
                dcs[j].struct_size = sizeof(sy_dc_replication);
                dcs[j].datacenter = t->arena.strdup(src.datacenter);
                dcs[j].replication_factor = src.replication_factor;
                if (!dcs[j].datacenter) {
                    rc = fail(err, SY_ENOMEM, "", "out of memory");
                    goto done;
                }
            }
        }
        dst.dcs = dcs;
        if (!dst.name) {
            rc = fail(err, SY_ENOMEM, "", "out of memory");
            goto done;
        }
        t->keyspace_count++;
    }
    finish_view(*t);
done:
    if (rc) {
        topology_free(t);
        return rc;
    }
    *out = t;
    return SY_OK;
}

} // namespace sy
