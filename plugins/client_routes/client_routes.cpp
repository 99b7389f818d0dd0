// client_routes: ScyllaDB Cloud "client routes" (PrivateLink / PSC) as a
// translator, after scylla-rust-driver's unstable-client-routes.
//
// Every node is reached through a proxy endpoint looked up by the node's
// host_id in rows of system.client_routes, {connection_id, host_id, address,
// port, tls_port}, for the connection ids the config lists in "proxies". A
// node reachable through several keeps its current (sticky) connection id
// while that id still has a row, else takes the first in the configured
// order. Host = the proxy's configured hostname, else the row's address;
// port = tls_port for TLS targets, else port. A node without a route is an
// error on its target, never a silent direct connection. Targets get
// SY_TARGET_NO_SHARD_PORT: proxies do not keep source ports; and
// SY_TARGET_RESOLVE_EACH: a proxy name is an NLB whose addresses change
// under it (cut-overs), so the connector resolves it at every connect and
// spreads connects over its addresses.
//
// With "drain_on_change": true, a table change that moves a node to another
// endpoint (host or port), or drops it, asks the host (sy_host version 3) to
// drain the node's old endpoint, so no pooled connection keeps reaching the
// node's old address through a proxy port that may now mean another node.
// A reload to a config with it does the same between the old instance's
// table and the new one's (a renamed proxy host, a dropped connection id).
//
// Rows come from the config (static setups) and through the typed interface
// client_routes.table (<switchyard/client_routes.h>): a full refresh, or a
// CLIENT_ROUTES_CHANGE event that touches only the pairs it names. Each
// change builds an immutable table and republishes the snapshot; attach maps
// every topology node to its route once, so translating is an index.
#include <switchyard/client_routes.h>
#include <switchyard/plugin.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>

#include "address_map/hostport.hpp"
#include "common/fail.hpp"
#include "common/interface.hpp"
#include "common/strings.hpp"
#include "common/table_swap.hpp"
#include "common/json_keys.hpp"
#include "common/json_path.hpp"

namespace {

constexpr const char kPluginName[] = "client_routes";
constexpr uint32_t kMaxProxies = 16;
constexpr size_t kUuidLen = 36;

struct Proxy {
    char *connection_id = nullptr;
    char *hostname = nullptr; // NULL: the row's address
    char *via = nullptr;      // {"connection_id":"..."}
};

struct Row {
    char *address = nullptr; // NULL: no row for this (connection id, host)
    uint32_t port = 0;
    uint32_t tls_port = 0;
};

struct Host {
    char host_id[kUuidLen + 1];
    uint32_t sticky = 0;       // proxy index in use
    Row rows[kMaxProxies];
};

// Immutable once built; shared by the snapshots that attached it.
struct Table {
    std::atomic<uint32_t> refs{1};
    Host *hosts = nullptr; // sorted by host_id
    uint32_t count = 0;
};

struct Instance {
    const sy_host *host = nullptr;
    Proxy proxies[kMaxProxies];
    uint32_t proxy_count = 0;
    bool tls = false;         // every connection uses TLS (else the target's TLS flag says)
    bool drain_on_change = false;
    std::mutex mu;
    std::atomic<Table *> current{nullptr};
};

struct State {
    Table *table;
    const Host **by_node; // per topology node, or NULL
    size_t nodes;
};

Instance *inst_of(void *p) { return static_cast<Instance *>(p); }

using syp::dup;
using syp::sfree;

bool is_uuid(const char *s) {
    if (std::strlen(s) != kUuidLen) return false;
    for (size_t i = 0; i < kUuidLen; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

void table_free(const sy_host *h, Table *t) {
    for (uint32_t i = 0; i < t->count; i++)
        for (Row &r : t->hosts[i].rows) sfree(h, r.address);
    if (t->hosts) h->free(h, t->hosts, t->count * sizeof(Host));
    t->~Table();
    h->free(h, t, sizeof(Table));
}

void table_unref(const sy_host *h, Table *t) {
    if (t && t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) table_free(h, t);
}

// ---------------------------------------------------------------- building tables

// A table under construction: hosts in a growable array.
struct Builder {
    const sy_host *h;
    Host *hosts = nullptr;
    uint32_t count = 0, cap = 0;
    bool oom = false;

    ~Builder() {
        if (!hosts) return;
        for (uint32_t i = 0; i < count; i++)
            for (Row &r : hosts[i].rows) sfree(h, r.address);
        h->free(h, hosts, cap * sizeof(Host));
    }
    Host *find(const char *id) {
        for (uint32_t i = 0; i < count; i++)
            if (std::strcmp(hosts[i].host_id, id) == 0) return &hosts[i];
        return nullptr;
    }
    Host *get(const char *id) {
        if (Host *x = find(id)) return x;
        if (count == cap) {
            uint32_t nc = cap ? cap * 2 : 16;
            auto *nh = static_cast<Host *>(h->alloc(h, nc * sizeof(Host), alignof(Host)));
            if (!nh) {
                oom = true;
                return nullptr;
            }
            if (hosts) {
                std::memcpy(nh, hosts, count * sizeof(Host));
                h->free(h, hosts, cap * sizeof(Host));
            }
            hosts = nh;
            cap = nc;
        }
        Host *x = new (&hosts[count++]) Host();
        std::memcpy(x->host_id, id, kUuidLen + 1);
        x->sticky = UINT32_MAX;
        return x;
    }
    bool set(const char *id, uint32_t proxy, const char *address, uint32_t port, uint32_t tls_port) {
        Host *x = get(id);
        if (!x) return false;
        Row &r = x->rows[proxy];
        char *a = dup(h, address);
        if (!a) {
            oom = true;
            return false;
        }
        sfree(h, r.address);
        r = Row{a, port, tls_port};
        return true;
    }
    void drop(const char *id, uint32_t proxy) {
        if (Host *x = find(id)) {
            sfree(h, x->rows[proxy].address);
            x->rows[proxy] = Row{};
        }
    }
    // Copies every row of t.
    bool copy(const Table *t) {
        for (uint32_t i = 0; t && i < t->count; i++)
            for (uint32_t p = 0; p < kMaxProxies; p++) {
                const Row &r = t->hosts[i].rows[p];
                if (r.address && !set(t->hosts[i].host_id, p, r.address, r.port, r.tls_port)) return false;
            }
        return true;
    }
    // Hosts without rows go; stickiness: keep the old id while it has a row,
    // else the first configured one that has.
    Table *finish(const Table *old, uint32_t proxies) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < count; i++) {
            Host &x = hosts[i];
            const Host *prev = nullptr;
            for (uint32_t j = 0; old && j < old->count && !prev; j++)
                if (std::strcmp(old->hosts[j].host_id, x.host_id) == 0) prev = &old->hosts[j];
            x.sticky = UINT32_MAX;
            if (prev && x.rows[prev->sticky].address) x.sticky = prev->sticky;
            for (uint32_t p = 0; p < proxies && x.sticky == UINT32_MAX; p++)
                if (x.rows[p].address) x.sticky = p;
            if (x.sticky == UINT32_MAX) continue; // no row left: the host goes
            if (k != i) std::memcpy(static_cast<void *>(&hosts[k]), &x, sizeof(Host));
            k++;
        }
        count = k;
        std::sort(hosts, hosts + count, [](const Host &a, const Host &b) { return std::strcmp(a.host_id, b.host_id) < 0; });
        void *m = h->alloc(h, sizeof(Table), alignof(Table));
        auto *hs = count ? static_cast<Host *>(h->alloc(h, count * sizeof(Host), alignof(Host))) : nullptr;
        if (!m || (count && !hs)) {
            if (m) h->free(h, m, sizeof(Table));
            if (hs) h->free(h, hs, count * sizeof(Host));
            oom = true;
            return nullptr;
        }
        if (count) std::memcpy(static_cast<void *>(hs), hosts, count * sizeof(Host));
        Table *t = new (m) Table();
        t->hosts = hs;
        t->count = count;
        // the rows' strings now belong to the table
        h->free(h, hosts, cap * sizeof(Host));
        hosts = nullptr;
        count = cap = 0;
        return t;
    }
};

int proxy_index(const Instance *in, const char *conn) {
    for (uint32_t i = 0; i < in->proxy_count; i++)
        if (std::strcmp(in->proxies[i].connection_id, conn) == 0) return static_cast<int>(i);
    return -1;
}

// One row, checked. *proxy < 0 when its connection id is not configured.
int read_row(const Instance *in, const sy_json *v, const char *path, const char **conn, const char **host_id,
             const char **address, uint32_t *port, uint32_t *tls_port, int *proxy, sy_error *err) {
    const sy_host *h = in->host;
    static const char *const kKeys[] = {"connection_id", "host_id", "address", "port", "tls_port", nullptr};
    if (h->json_type(v) != SY_JSON_OBJECT) return syp::fail(h, err, SY_EREQUEST, path, "a row is an object");
    const char *why = nullptr;
    if (const char *k = syp::bad_key(h, v, kKeys, &why))
        return syp::fail(h, err, SY_EREQUEST, path, "%s '%.60s' in a row", why, k);
    *conn = h->json_string(h->json_get(v, "connection_id"));
    *host_id = h->json_string(h->json_get(v, "host_id"));
    *address = h->json_string(h->json_get(v, "address"));
    if (!*conn || !**conn) return syp::fail(h, err, SY_EREQUEST, path, "connection_id: expected a non-empty string");
    if (!*host_id || !is_uuid(*host_id)) return syp::fail(h, err, SY_EREQUEST, path, "host_id: expected a UUID");
    if (!*address || !**address || std::strlen(*address) > syp::kMaxHostName)
        return syp::fail(h, err, SY_EREQUEST, path, "address: expected a host name or IP address");
    const char *names[2] = {"port", "tls_port"};
    uint32_t *outs[2] = {port, tls_port};
    for (int i = 0; i < 2; i++) {
        const sy_json *p = h->json_get(v, names[i]);
        uint32_t t = h->json_type(p);
        *outs[i] = 0;
        if (t == SY_JSON_MISSING || t == SY_JSON_NULL) continue; // a missing column: an error when used
        double d = h->json_number(p);
        if (t != SY_JSON_NUMBER || d != std::floor(d) || d < 1 || d > 65535)
            return syp::fail(h, err, SY_EREQUEST, path, "%s: expected 1..65535 or null", names[i]);
        *outs[i] = static_cast<uint32_t>(d);
    }
    *proxy = proxy_index(in, *conn);
    return SY_OK;
}

int add_rows(const Instance *in, Builder &b, const sy_json *rows, const char *base, sy_error *err) {
    const sy_host *h = in->host;
    if (h->json_type(rows) != SY_JSON_ARRAY) return syp::fail(h, err, SY_EREQUEST, base, "expected an array of rows");
    size_t i = 0;
    for (const sy_json *v = h->json_first(rows); v; v = h->json_next(v), i++) {
        char path[SY_ERROR_PATH_MAX];
        std::snprintf(path, sizeof path, "%.100s[%zu]", base, i);
        const char *conn, *id, *addr;
        uint32_t port, tls_port;
        int p;
        if (int rc = read_row(in, v, path, &conn, &id, &addr, &port, &tls_port, &p, err)) return rc;
        if (p < 0) continue; // a connection id we do not use
        if (!b.set(id, static_cast<uint32_t>(p), addr, port, tls_port))
            return syp::fail(h, err, SY_ENOMEM, path, "out of memory");
    }
    return SY_OK;
}

// mu held: installs t and republishes (old table kept on failure).
int install(Instance *in, Table *t, sy_error *err) {
    const sy_host *h = in->host;
    return syp::swap_and_republish(h, in->current, t, [h](Table *x) { table_unref(h, x); }, err);
}

// The two tables a change went between, kept alive (referenced) until the
// change's drains are done, outside the instance's mutex.
struct Change {
    const sy_host *h;
    Table *before = nullptr, *after = nullptr;
    ~Change() {
        table_unref(h, before);
        table_unref(h, after);
    }
};

const char *host_of(const Instance *in, const Host &x) {
    const char *name = in->proxies[x.sticky].hostname;
    return name ? name : x.rows[x.sticky].address;
}

void drain_one(const Instance *in, const Host &x, const char *host, uint32_t port, const char *why) {
    const sy_host *h = in->host;
    int rc = h->drain_endpoint(h, host, port);
    uint32_t level = rc ? SY_LOG_WARN : SY_LOG_INFO;
    if (!h->log_enabled(h, level)) return;
    if (rc) h->log(h, level, "host_id %s %s: draining %.255s:%u failed (status %d)", x.host_id, why, host, port, rc);
    else h->log(h, level, "host_id %s %s: drained %.255s:%u", x.host_id, why, host, port);
}

// Every endpoint a node used in `before` and no longer uses in `after` (its
// host or that port changed, or the node went) is drained: connections to
// it reach the node's old address, or a proxy port that now means another
// node. Both tables are sorted by host_id. `was` is the instance before
// was read with (another one, with other proxy host names, after a reload).
void drain_changed(const Instance *in, const Table *before, const Table *after, const Instance *was) {
    const sy_host *h = in->host;
    if (h->version < 3 || h->struct_size < offsetof(sy_host, drain_endpoint) + sizeof h->drain_endpoint ||
        !h->drain_endpoint)
        return;
    uint32_t j = 0;
    for (uint32_t i = 0; i < before->count; i++) {
        const Host &x = before->hosts[i];
        while (j < after->count && std::strcmp(after->hosts[j].host_id, x.host_id) < 0) j++;
        const Host *y = j < after->count && !std::strcmp(after->hosts[j].host_id, x.host_id) ? &after->hosts[j] : nullptr;
        const char *old_host = host_of(was, x);
        const Row &o = x.rows[x.sticky];
        bool moved = !y || std::strcmp(old_host, host_of(in, *y)) != 0;
        const char *why = !y ? "lost its route" : moved ? "moved to another host" : "changed port";
        if (o.port && (moved || o.port != y->rows[y->sticky].port)) drain_one(in, x, old_host, o.port, why);
        if (o.tls_port && o.tls_port != o.port && (moved || o.tls_port != y->rows[y->sticky].tls_port))
            drain_one(in, x, old_host, o.tls_port, why);
    }
}

// mu held: builds the table from b over the current one and installs it.
// With drain_on_change, *c keeps both tables for drain_changed() once the
// caller has released mu.
int commit(Instance *in, Builder &b, Change *c, sy_error *err) {
    const sy_host *h = in->host;
    Table *old = in->current.load();
    Table *t = b.finish(old, in->proxy_count);
    if (!t) return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    if (in->drain_on_change) old->refs.fetch_add(1, std::memory_order_relaxed);
    int rc = install(in, t, err);
    if (!in->drain_on_change) return rc;
    if (rc) {
        table_unref(h, old);
        return rc;
    }
    t->refs.fetch_add(1, std::memory_order_relaxed); // still current: mu is held
    c->before = old;
    c->after = t;
    return SY_OK;
}

// ---------------------------------------------------------------- config

void cr_destroy(void *instance) {
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    table_unref(h, in->current.exchange(nullptr));
    for (uint32_t i = 0; i < in->proxy_count; i++) {
        sfree(h, in->proxies[i].connection_id);
        sfree(h, in->proxies[i].hostname);
        sfree(h, in->proxies[i].via);
    }
    in->~Instance();
}

int read_proxies(Instance *in, const sy_json *list, const char *base, sy_error *err) {
    const sy_host *h = in->host;
    char path[SY_ERROR_PATH_MAX];
    std::snprintf(path, sizeof path, "%.100s.proxies", base);
    if (h->json_type(list) != SY_JSON_ARRAY || h->json_count(list) == 0)
        return syp::fail(h, err, SY_ECONFIG, path, "a non-empty array of {\"connection_id\", \"hostname\"} is required");
    if (h->json_count(list) > kMaxProxies)
        return syp::fail(h, err, SY_ECONFIG, path, "at most %u proxies", kMaxProxies);
    size_t i = 0;
    for (const sy_json *v = h->json_first(list); v; v = h->json_next(v), i++) {
        char p[SY_ERROR_PATH_MAX];
        std::snprintf(p, sizeof p, "%.100s[%zu]", path, i);
        if (h->json_type(v) != SY_JSON_OBJECT) return syp::fail(h, err, SY_ECONFIG, p, "expected an object");
        static const char *const kProxyKeys[] = {"connection_id", "hostname", nullptr};
        const char *why = nullptr;
        if (const char *k = syp::bad_key(h, v, kProxyKeys, &why))
            return syp::fail(h, err, SY_ECONFIG, p, "%s '%.60s'", why, k);
        const char *conn = h->json_string(h->json_get(v, "connection_id"));
        const sy_json *hv = h->json_get(v, "hostname");
        const char *host = h->json_string(hv);
        if (!conn || !*conn)
            return syp::fail(h, err, SY_ECONFIG, p, "connection_id: expected a non-empty string");
        if (proxy_index(in, conn) >= 0)
            return syp::fail(h, err, SY_ECONFIG, p, "connection_id '%.100s' is given twice", conn);
        if (h->json_type(hv) != SY_JSON_MISSING) {
            if (!host || !*host) return syp::fail(h, err, SY_ECONFIG, p, "hostname: expected a non-empty string");
            unsigned char a6[16];
            syp::Endpoint ep;
            if (std::strchr(host, ':') ? inet_pton(AF_INET6, host, a6) != 1
                                       : syp::hp_check_host(host, std::strlen(host), &ep) != nullptr)
                return syp::fail(h, err, SY_ECONFIG, p,
                                 "hostname '%.100s' is not a host name (no port: the port comes from the routes table)",
                                 host);
        }
        Proxy &x = in->proxies[in->proxy_count++];
        char via[160];
        size_t n = static_cast<size_t>(std::snprintf(via, sizeof via, "{\"connection_id\":\""));
        syp::json_escape_into(via, sizeof via - 3, &n, conn);
        std::snprintf(via + n, sizeof via - n, "\"}");
        if (!(x.connection_id = dup(h, conn)) || (host && !(x.hostname = dup(h, host))) || !(x.via = dup(h, via)))
            return syp::fail(h, err, SY_ENOMEM, p, "out of memory");
    }
    return SY_OK;
}

// An optional boolean key of the config (absent: false).
int read_flag(const sy_host *h, const sy_json *config, const char *path, const char *key, bool *out, sy_error *err) {
    uint32_t t = h->json_type(h->json_get(config, key));
    if (t != SY_JSON_MISSING && t != SY_JSON_TRUE && t != SY_JSON_FALSE) {
        char p[SY_ERROR_PATH_MAX];
        size_t n = static_cast<size_t>(std::snprintf(p, sizeof p, "%.100s", path));
        syp::path_append_key(p, sizeof p, &n, key);
        return syp::fail(h, err, SY_ECONFIG, p, "expected true or false");
    }
    *out = t == SY_JSON_TRUE;
    return SY_OK;
}

int cr_create(void *instance, const sy_host *host, const sy_json *config, const char *path, sy_error *err) {
    Instance *in = new (instance) Instance();
    in->host = host;
    int rc = SY_OK;
    if (host->version < 2 || !host->json_first || !host->republish)
        rc = syp::fail(host, err, SY_EABI, path, "client_routes needs host services version 2");
    else if (host->json_type(config) != SY_JSON_OBJECT)
        rc = syp::fail(host, err, SY_ECONFIG, path, "expected an object with \"proxies\"");
    static const char *const kConfigKeys[] = {"proxies", "routes", "tls", "drain_on_change", nullptr};
    const char *why = nullptr;
    if (const char *k = rc ? nullptr : syp::bad_key(host, config, kConfigKeys, &why)) {
        char p[SY_ERROR_PATH_MAX];
        size_t n = static_cast<size_t>(std::snprintf(p, sizeof p, "%.100s", path));
        syp::path_append_key(p, sizeof p, &n, k);
        rc = syp::fail(host, err, SY_ECONFIG, p, "%s", why);
    }
    if (rc == SY_OK) rc = read_proxies(in, host->json_get(config, "proxies"), path, err);
    if (rc == SY_OK) rc = read_flag(host, config, path, "tls", &in->tls, err);
    if (rc == SY_OK) rc = read_flag(host, config, path, "drain_on_change", &in->drain_on_change, err);
    if (rc == SY_OK) {
        Builder b{host};
        const sy_json *rows = host->json_get(config, "routes");
        char p[SY_ERROR_PATH_MAX];
        std::snprintf(p, sizeof p, "%.100s.routes", path);
        if (host->json_type(rows) != SY_JSON_MISSING) rc = add_rows(in, b, rows, p, err);
        if (rc == SY_EREQUEST && err) err->code = rc = SY_ECONFIG;
        Table *t = rc == SY_OK ? b.finish(nullptr, in->proxy_count) : nullptr;
        if (rc == SY_OK && !t) rc = syp::fail(host, err, SY_ENOMEM, p, "out of memory");
        if (t) in->current.store(t);
    }
    if (rc != SY_OK) cr_destroy(instance);
    return rc;
}

// ---------------------------------------------------------------- snapshots

const Host *find_host(const Table *t, const char *id) {
    uint32_t lo = 0, hi = t->count;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        int c = std::strcmp(t->hosts[mid].host_id, id);
        if (c == 0) return &t->hosts[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return nullptr;
}

int cr_attach(void *instance, const sy_topology *topo, void **state, sy_error *err) {
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    auto *st = static_cast<State *>(h->alloc(h, sizeof(State), alignof(State)));
    size_t n = topo->node_count;
    auto **by = n ? static_cast<const Host **>(h->alloc(h, n * sizeof(Host *), alignof(Host *))) : nullptr;
    if (!st || (n && !by)) {
        if (st) h->free(h, st, sizeof(State));
        if (by) h->free(h, by, n * sizeof(Host *));
        return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    }
    Table *t = in->current.load();
    t->refs.fetch_add(1, std::memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        const sy_node *node = SY_TOPOLOGY_NODE(topo, i);
        by[i] = node->id ? find_host(t, node->id) : nullptr;
    }
    *st = State{t, by, n};
    *state = st;
    return SY_OK;
}

void cr_detach(void *instance, void *state) {
    const sy_host *h = inst_of(instance)->host;
    auto *st = static_cast<State *>(state);
    table_unref(h, st->table);
    if (st->by_node) h->free(h, st->by_node, st->nodes * sizeof(Host *));
    h->free(h, st, sizeof(State));
}

int cr_translate(void *instance, const void *state, const sy_topology *topo, const sy_request_view *,
                 sy_target *t, char *scratch, size_t scratch_size) {
    const Instance *in = inst_of(instance);
    const auto *st = static_cast<const State *>(state);
    const Host *x = nullptr;
    if (t->node_index < st->nodes && t->epoch == topo->epoch) x = st->by_node[t->node_index];
    else if (t->node) x = find_host(st->table, t->node);
    t->flags |= SY_TARGET_NO_SHARD_PORT;
    if (!x) {
        size_t n = static_cast<size_t>(std::snprintf(scratch, scratch_size, "client_routes: no route for host_id %.36s via",
                                                     t->node ? t->node : "(none)"));
        for (uint32_t i = 0; i < in->proxy_count && n + 2 < scratch_size; i++)
            n += static_cast<size_t>(std::snprintf(scratch + n, scratch_size - n, "%s %s", i ? "," : "",
                                                   in->proxies[i].connection_id));
        t->error = scratch;
        return SY_ETRANSLATE;
    }
    const Proxy &p = in->proxies[x->sticky];
    const Row &r = x->rows[x->sticky];
    bool tls = in->tls || (t->flags & SY_TARGET_TLS);
    uint32_t port = tls ? r.tls_port : r.port;
    if (!port) {
        std::snprintf(scratch, scratch_size, "client_routes: host_id %.36s has no %s in its route", x->host_id,
                      tls ? "tls_port" : "port");
        t->error = scratch;
        return SY_ETRANSLATE;
    }
    t->host = p.hostname ? p.hostname : r.address;
    t->port = port;
    t->flags |= SY_TARGET_RESOLVE_EACH;
    if (tls) t->flags |= SY_TARGET_TLS;
    SY_TARGET_ADD_VIA_DETAIL(t, kPluginName, p.via);
    return SY_OK;
}

// ---------------------------------------------------------------- table interface

int parse(const sy_host *h, const char *json, size_t len, sy_json **doc, sy_error *err) {
    if (!json) return syp::fail(h, err, SY_EINVAL, "", "client_routes: the JSON text is NULL");
    int rc = h->json_parse(h, json, len, doc, err);
    if (rc == SY_OK || rc == SY_ENOMEM) return rc; // running out of memory is not the caller's bad JSON
    if (err) err->code = SY_EREQUEST;
    return SY_EREQUEST;
}

int t_replace_all(void *instance, const char *json, size_t len, sy_error *err) {
    if (!instance) return SY_EINVAL;
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    sy_json *doc = nullptr;
    if (int rc = parse(h, json, len, &doc, err)) return rc;
    Change c{h};
    int rc;
    {
        std::lock_guard<std::mutex> g(in->mu);
        Builder b{h};
        rc = add_rows(in, b, doc, "rows", err);
        h->json_free(h, doc);
        if (rc == SY_OK) rc = commit(in, b, &c, err);
    }
    if (c.before) drain_changed(in, c.before, c.after, in);
    return rc;
}

int t_apply_event(void *instance, const char *json, size_t len, sy_error *err) {
    if (!instance) return SY_EINVAL;
    Instance *in = inst_of(instance);
    const sy_host *h = in->host;
    sy_json *doc = nullptr;
    if (int rc = parse(h, json, len, &doc, err)) return rc;
    const sy_json *change = h->json_get(doc, "change");
    const sy_json *conns = h->json_get(doc, "connection_ids");
    const sy_json *ids = h->json_get(doc, "host_ids");
    const sy_json *rows = h->json_get(doc, "rows");
    int rc = SY_OK;
    if (h->json_type(change) != SY_JSON_MISSING &&
        (!h->json_string(change) || std::strcmp(h->json_string(change), "UPDATE_NODES")))
        rc = syp::fail(h, err, SY_EREQUEST, "change", "the only change is \"UPDATE_NODES\"");
    else if (h->json_type(conns) != SY_JSON_ARRAY || h->json_type(ids) != SY_JSON_ARRAY)
        rc = syp::fail(h, err, SY_EREQUEST, "", "an event needs the arrays connection_ids and host_ids");
    else if (h->json_count(conns) != h->json_count(ids))
        rc = syp::fail(h, err, SY_EREQUEST, "host_ids", "%zu connection_ids but %zu host_ids: the lists are parallel",
                       h->json_count(conns), h->json_count(ids));
    Change ch{h};
    {
        std::lock_guard<std::mutex> g(in->mu);
        Builder b{h};
        if (rc == SY_OK && !b.copy(in->current.load())) rc = syp::fail(h, err, SY_ENOMEM, "", "out of memory");
        // every named pair: deleted unless a row came back for exactly it
        size_t i = 0;
        for (const sy_json *c = rc ? nullptr : h->json_first(conns), *d = h->json_first(ids); c && d;
             c = h->json_next(c), d = h->json_next(d), i++) {
            const char *conn = h->json_string(c), *id = h->json_string(d);
            if (!conn || !id || !is_uuid(id)) {
                char p[48];
                std::snprintf(p, sizeof p, "host_ids[%zu]", i);
                rc = syp::fail(h, err, SY_EREQUEST, p, "a pair is a connection id string and a UUID host id");
                break;
            }
            int proxy = proxy_index(in, conn);
            if (proxy < 0) continue;
            const sy_json *found = nullptr;
            size_t found_at = 0, k = 0;
            for (const sy_json *r = h->json_type(rows) == SY_JSON_ARRAY ? h->json_first(rows) : nullptr; r;
                 r = h->json_next(r), k++) {
                const char *rc_ = h->json_string(h->json_get(r, "connection_id"));
                const char *rh = h->json_string(h->json_get(r, "host_id"));
                if (rc_ && rh && !std::strcmp(rc_, conn) && !std::strcmp(rh, id)) {
                    found = r;
                    found_at = k;
                }
            }
            if (!found) {
                b.drop(id, static_cast<uint32_t>(proxy));
                continue;
            }
            const char *cc, *hh, *addr;
            uint32_t port, tls_port;
            int p2;
            char p[48];
            std::snprintf(p, sizeof p, "rows[%zu]", found_at);
            if ((rc = read_row(in, found, p, &cc, &hh, &addr, &port, &tls_port, &p2, err))) break;
            if (!b.set(id, static_cast<uint32_t>(proxy), addr, port, tls_port)) {
                rc = syp::fail(h, err, SY_ENOMEM, "", "out of memory");
                break;
            }
        }
        if (rows && h->json_type(rows) != SY_JSON_MISSING && h->json_type(rows) != SY_JSON_ARRAY && rc == SY_OK)
            rc = syp::fail(h, err, SY_EREQUEST, "rows", "expected an array of rows");
        h->json_free(h, doc);
        if (rc == SY_OK) rc = commit(in, b, &ch, err);
    }
    if (ch.before) drain_changed(in, ch.before, ch.after, in);
    return rc;
}

int t_list(void *instance, char *out, size_t cap, size_t *out_len, sy_error *err) {
    if (!instance || (!out && cap)) return SY_EINVAL;
    Instance *in = inst_of(instance);
    std::lock_guard<std::mutex> g(in->mu);
    const Table *t = in->current.load();
    // Written straight into out, counting what does not fit: a row has no
    // size bound a fixed buffer could hold (an address of 253 control
    // characters escapes to 1518 bytes), and a cut row would be wrong JSON.
    size_t n = 0;
    auto put_n = [&](const char *s, size_t l) {
        if (n < cap) std::memcpy(out + n, s, std::min(l, cap - n));
        n += l;
    };
    auto put = [&](const char *s) { put_n(s, std::strlen(s)); };
    auto put_escaped = [&](const char *s) {
        for (; *s; s++) {
            char e[8];
            size_t l = 0;
            unsigned char c = static_cast<unsigned char>(*s);
            if (c == '"' || c == '\\') l = static_cast<size_t>(std::snprintf(e, sizeof e, "\\%c", c));
            else if (c < 0x20) l = static_cast<size_t>(std::snprintf(e, sizeof e, "\\u%04x", c));
            else e[l++] = static_cast<char>(c);
            put_n(e, l);
        }
    };
    put("[");
    bool first = true;
    for (uint32_t i = 0; i < t->count; i++)
        for (uint32_t p = 0; p < in->proxy_count; p++) {
            const Row &r = t->hosts[i].rows[p];
            if (!r.address) continue;
            put(first ? "{\"connection_id\":\"" : ",{\"connection_id\":\"");
            put_escaped(in->proxies[p].connection_id);
            put("\",\"host_id\":\"");
            put(t->hosts[i].host_id); // a UUID: nothing to escape
            put("\",\"address\":\"");
            put_escaped(r.address);
            char tail[80];
            std::snprintf(tail, sizeof tail, "\",\"port\":%u,\"tls_port\":%u,\"sticky\":%s}", r.port, r.tls_port,
                          t->hosts[i].sticky == p ? "true" : "false");
            put(tail);
            first = false;
        }
    put("]");
    if (out_len) *out_len = n;
    if (n >= cap) {
        if (cap) out[cap - 1] = '\0';
        return syp::fail(in->host, err, SY_ETOOSMALL, "", "the table needs %zu bytes", n + 1);
    }
    out[n] = '\0';
    return SY_OK;
}

const sy_client_routes_table kIface = {sizeof(sy_client_routes_table), SY_CLIENT_ROUTES_TABLE_VERSION,
                                       t_replace_all, t_apply_event, t_list};

// A reload replaced prev (its config changed): the rows the host fed it
// carry over for the connection ids still configured, where the new
// config names no row of its own for the pair (a static route edited in
// the config wins over the old one). A host keeps its connection id when
// that still has a row. prev may be translating and taking rows meanwhile:
// its table is referenced under its mutex.
int cr_inherit(void *instance, void *previous, sy_error *err) {
    Instance *in = inst_of(instance);
    Instance *prev = inst_of(previous);
    const sy_host *h = in->host;
    Table *theirs = syp::pin_current(prev->mu, prev->current);
    Table *mine = in->current.load();
    int map[kMaxProxies]; // prev's proxy index -> ours, or -1
    for (uint32_t p = 0; p < kMaxProxies; p++)
        map[p] = p < prev->proxy_count ? proxy_index(in, prev->proxies[p].connection_id) : -1;
    Builder b{h};
    bool ok = b.copy(mine);
    for (uint32_t i = 0; ok && theirs && i < theirs->count; i++) {
        const Host &x = theirs->hosts[i];
        const Host *own = b.find(x.host_id);
        for (uint32_t p = 0; ok && p < kMaxProxies; p++) {
            const Row &r = x.rows[p];
            if (!r.address || map[p] < 0 || (own && own->rows[map[p]].address)) continue;
            ok = b.set(x.host_id, static_cast<uint32_t>(map[p]), r.address, r.port, r.tls_port);
            own = b.find(x.host_id);
        }
    }
    Table *t = ok ? b.finish(nullptr, in->proxy_count) : nullptr;
    for (uint32_t i = 0; t && theirs && i < t->count; i++) { // stickiness, by connection id
        Host &x = t->hosts[i];
        const Host *o = find_host(theirs, x.host_id);
        int q = o && o->sticky < kMaxProxies ? map[o->sticky] : -1;
        if (q >= 0 && x.rows[q].address) x.sticky = static_cast<uint32_t>(q);
    }
    // With drain_on_change, what moved is drained now, just before the new
    // config is published (a connect the old one starts in between may
    // still pool an old endpoint; a reload that fails later drained for
    // nothing, which only costs new connections).
    if (t && theirs && in->drain_on_change) drain_changed(in, theirs, t, prev);
    table_unref(h, theirs);
    if (!t) return syp::fail(h, err, SY_ENOMEM, "", "out of memory");
    in->current.store(t); // not published yet: nothing translates with it
    table_unref(h, mine);
    return SY_OK;
}

int cr_get_interface(void *, const char *name, uint32_t min_version, const void **iface) {
    return syp::offer_interface(name, min_version, iface, SY_CLIENT_ROUTES_TABLE, SY_CLIENT_ROUTES_TABLE_VERSION, &kIface);
}

const sy_plugin kPlugin = {
    SY_PLUGIN_ABI_VERSION,
    sizeof(sy_plugin),
    kPluginName,
    "ScyllaDB client routes: every node through a PrivateLink proxy endpoint looked up by host_id",
    SY_ROLE_TRANSLATOR,
    sizeof(Instance),
    0,
    0,
    cr_create,
    cr_destroy,
    cr_attach,
    cr_detach,
    nullptr,
    nullptr,
    cr_translate,
    nullptr,
    cr_get_interface,
    nullptr,
    nullptr,
    cr_inherit,
};

} // namespace

SY_PLUGIN_DEFINE(client_routes, kPlugin)
