// address_map: a translator from logical endpoints to tunnel endpoints.
//
// Casty's ClusterClient dials through an address_map, falling back to the
// logical address when it has no entry. This plugin does the same from a
// static table:
//   {"map": {"10.0.1.10:25520": "127.0.0.1:25520", "[::1]:9042": "127.0.0.1:19042"}}
// A target whose (host, port) is a key is rewritten to the value and gets
// "address_map" in its via list; any other target passes through unchanged.
//
// Keys are compared after normalisation: IPv4 and IPv6 literals as binary
// addresses (so [::1] and [0:0:0:0:0:0:0:1] are one key), host names case-
// insensitively. create() builds a sorted array. attach() looks up every
// topology node once per snapshot, so translating a node's target is an
// array index; any other target (a synthetic one, or one an earlier
// translator rewrote) is classified on the stack and binary-searched. Neither
// path allocates.
#include <switchyard/plugin.h>

#include <algorithm>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>

#include "address_map/hostport.hpp"

namespace {

constexpr const char kPluginName[] = "address_map";

struct Entry {
    syp::Endpoint from;     // from.host points into the instance's pool
    const char *to_host;    // in the pool; IPv6 without brackets
    uint32_t to_port;
    uint32_t source_index;  // member index in the config's map (for messages)
    bool identity;          // the value names the same endpoint as the key
};

struct AddressMap {
    const sy_host *host = nullptr;
    Entry *entries = nullptr;
    size_t count = 0;
    char *pool = nullptr;
    size_t pool_size = 0;
};

void release(AddressMap *m) {
    if (m->entries) m->host->free(m->host, m->entries, m->count * sizeof(Entry));
    if (m->pool) m->host->free(m->host, m->pool, m->pool_size);
    m->entries = nullptr;
    m->pool = nullptr;
}

const char *type_name(const sy_host *h, const sy_json *v) {
    switch (h->json_type(v)) {
    case SY_JSON_NULL: return "null";
    case SY_JSON_FALSE: return "false";
    case SY_JSON_TRUE: return "true";
    case SY_JSON_NUMBER: return "a number";
    case SY_JSON_STRING: return "a string";
    case SY_JSON_ARRAY: return "an array";
    case SY_JSON_OBJECT: return "an object";
    default: return "nothing";
    }
}

// Errors name config_path plus a suffix: ".map" or `.map["KEY"]`.
struct Errors {
    const sy_host *host;
    const char *base;
    sy_error *err;

    int fail(const char *suffix_key, bool map_key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5))) {
        char path[SY_ERROR_PATH_MAX * 2];
        size_t len = 0;
        int n = std::snprintf(path, sizeof path, "%s", base);
        len = n > 0 ? std::min(static_cast<size_t>(n), sizeof path - 1) : 0;
        if (map_key) syp::path_append_key(path, sizeof path, &len, "map");
        // a map key is always quoted: it is an address, not a name
        if (map_key && suffix_key) {
            std::snprintf(path + len, sizeof path - len, "[\"");
            len += std::strlen(path + len);
            syp::json_escape_into(path, sizeof path - 2, &len, suffix_key);
            std::snprintf(path + len, sizeof path - len, "\"]");
        } else if (suffix_key) {
            syp::path_append_key(path, sizeof path, &len, suffix_key);
        }
        char msg[SY_ERROR_MESSAGE_MAX];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        host->set_error(err, SY_ECONFIG, path, "%s", msg);
        return SY_ECONFIG;
    }
};

int check_keys(const sy_host *h, const sy_json *config, Errors &e, const sy_json **map) {
    size_t n = h->json_count(config);
    for (size_t i = 0; i < n; i++) {
        const char *key = h->json_key(h->json_at(config, i));
        if (!key) continue;
        if (std::strcmp(key, "map") != 0) return e.fail(key, false, "unknown key (address_map takes only \"map\")");
        if (*map) return e.fail(key, false, "duplicate key");
        *map = h->json_at(config, i);
    }
    if (!*map) {
        h->set_error(e.err, SY_ECONFIG, e.base, "address_map needs {\"map\": {\"host:port\": \"host:port\", ...}}");
        return SY_ECONFIG;
    }
    if (h->json_type(*map) != SY_JSON_OBJECT)
        return e.fail("map", false, "expected an object of \"host:port\": \"host:port\", got %s",
                      type_name(h, *map));
    return SY_OK;
}

// Space a parsed value's host needs in the pool (IPv6 is re-formatted).
size_t value_host_size(const syp::Endpoint &v) {
    return v.kind == syp::AddrKind::ipv6 ? INET6_ADDRSTRLEN : v.host_len + 1;
}

// Validates every member; on success *pool_size is what the strings need.
int validate(const sy_host *h, const sy_json *map, Errors &e, size_t *pool_size) {
    size_t n = h->json_count(map);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const sy_json *m = h->json_at(map, i);
        const char *key = h->json_key(m);
        if (!key) return e.fail("map", false, "member %zu has no name", i);
        syp::Endpoint from, to;
        if (const char *why = syp::parse_endpoint(key, &from))
            return e.fail(key, true, "key is not host:port: %s", why);
        const char *value = h->json_string(m);
        if (!value) return e.fail(key, true, "expected a \"host:port\" string, got %s", type_name(h, m));
        if (const char *why = syp::parse_endpoint(value, &to))
            return e.fail(key, true, "value \"%.200s\" is not host:port: %s", value, why);
        total += from.host_len + 1 + value_host_size(to);
    }
    *pool_size = total ? total : 1;
    return SY_OK;
}

char *pool_put(char **cursor, const char *s, size_t n) {
    char *out = *cursor;
    std::memcpy(out, s, n);
    out[n] = '\0';
    *cursor += n + 1;
    return out;
}

int am_create(void *instance, const sy_host *host, const sy_json *config, const char *config_path,
              sy_error *err) {
    auto *m = new (instance) AddressMap();
    m->host = host;
    Errors e{host, config_path ? config_path : "", err};
    if (host->json_type(config) != SY_JSON_OBJECT) {
        host->set_error(err, SY_ECONFIG, e.base,
                        "address_map needs {\"map\": {\"host:port\": \"host:port\", ...}}");
        return SY_ECONFIG;
    }
    const sy_json *map = nullptr;
    size_t pool_size = 0;
    int rc = check_keys(host, config, e, &map);
    if (rc == SY_OK) rc = validate(host, map, e, &pool_size);
    if (rc != SY_OK) return rc;

    size_t n = host->json_count(map);
    if (n) {
        m->entries = static_cast<Entry *>(host->alloc(host, n * sizeof(Entry), alignof(Entry)));
        if (!m->entries) {
            host->set_error(err, SY_ENOMEM, e.base, "out of memory");
            return SY_ENOMEM;
        }
        m->count = n;
    }
    m->pool = static_cast<char *>(host->alloc(host, pool_size, 1));
    if (!m->pool) {
        release(m);
        host->set_error(err, SY_ENOMEM, e.base, "out of memory");
        return SY_ENOMEM;
    }
    m->pool_size = pool_size;

    char *cursor = m->pool;
    for (size_t i = 0; i < n; i++) {
        const sy_json *member = host->json_at(map, i);
        syp::Endpoint from, to;
        syp::parse_endpoint(host->json_key(member), &from); // validated above
        syp::parse_endpoint(host->json_string(member), &to);
        Entry &en = *new (&m->entries[i]) Entry();
        en.from = from;
        en.from.host = pool_put(&cursor, from.host, from.host_len);
        en.identity = syp::compare_endpoints(from, to) == 0;
        if (to.kind == syp::AddrKind::ipv6) {
            syp::format_host(to, cursor, INET6_ADDRSTRLEN);
            en.to_host = cursor;
            cursor += INET6_ADDRSTRLEN;
        } else {
            en.to_host = pool_put(&cursor, to.host, to.host_len);
        }
        en.to_port = to.port;
        en.source_index = static_cast<uint32_t>(i);
    }

    std::sort(m->entries, m->entries + m->count, [](const Entry &a, const Entry &b) {
        int c = syp::compare_endpoints(a.from, b.from);
        return c != 0 ? c < 0 : a.source_index < b.source_index;
    });
    for (size_t i = 1; i < m->count; i++) {
        const Entry &a = m->entries[i - 1], &b = m->entries[i];
        if (syp::compare_endpoints(a.from, b.from) != 0) continue;
        const char *first = host->json_key(host->json_at(map, a.source_index));
        const char *again = host->json_key(host->json_at(map, b.source_index));
        char first_esc[160];
        size_t len = 0;
        syp::json_escape_into(first_esc, sizeof first_esc, &len, first);
        e.fail(again, true, "duplicate key: the same address as map[\"%s\"]", first_esc);
        release(m);
        return SY_ECONFIG;
    }
    host->log(host, SY_LOG_DEBUG, "%zu map entries", m->count);
    return SY_OK;
}

void am_destroy(void *instance) {
    auto *m = static_cast<AddressMap *>(instance);
    release(m);
    m->~AddressMap();
}

// The entry for (host, port), or NULL when it is not mapped.
const Entry *lookup(const AddressMap *m, const char *host, uint32_t port) {
    if (m->count == 0) return nullptr;
    syp::Endpoint key = syp::classify_host(host, port);
    const Entry *lo = m->entries, *hi = m->entries + m->count;
    while (lo < hi) { // lower bound
        const Entry *mid = lo + (hi - lo) / 2;
        if (syp::compare_endpoints(mid->from, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == m->entries + m->count || syp::compare_endpoints(lo->from, key) != 0) return nullptr;
    return lo;
}

// Per snapshot: the entry of each topology node (NULL: not mapped).
struct NodeEntries {
    size_t count;
    const Entry *entry[1]; // count of them
};

size_t node_entries_size(size_t n) {
    return offsetof(NodeEntries, entry) + (n ? n : 1) * sizeof(const Entry *);
}

int am_attach(void *instance, const sy_topology *topology, void **state, sy_error *err) {
    const auto *m = static_cast<const AddressMap *>(instance);
    size_t n = topology->node_count;
    auto *ne = static_cast<NodeEntries *>(m->host->alloc(m->host, node_entries_size(n), alignof(NodeEntries)));
    if (!ne) {
        m->host->set_error(err, SY_ENOMEM, "", "address_map: out of memory for %zu nodes", n);
        return SY_ENOMEM;
    }
    ne->count = n;
    for (size_t i = 0; i < n; i++) {
        const sy_node *node = SY_TOPOLOGY_NODE(topology, i);
        ne->entry[i] = lookup(m, node->host, node->port);
    }
    *state = ne;
    return SY_OK;
}

void am_detach(void *instance, void *state) {
    const auto *m = static_cast<const AddressMap *>(instance);
    auto *ne = static_cast<NodeEntries *>(state);
    m->host->free(m->host, ne, node_entries_size(ne->count));
}

int am_translate(void *instance, const void *state, const sy_topology *topology, const sy_request_view *,
                 sy_target *target, char *, size_t) {
    const auto *m = static_cast<const AddressMap *>(instance);
    if (!target->host || m->count == 0) return SY_OK;
    const Entry *e;
    const auto *ne = static_cast<const NodeEntries *>(state);
    const sy_node *node = ne && target->node_index < ne->count ? SY_TOPOLOGY_NODE(topology, target->node_index)
                                                               : nullptr;
    // The node's own, untouched address: looked up at attach.
    if (node && target->host == node->host && target->port == node->port)
        e = ne->entry[target->node_index];
    else
        e = lookup(m, target->host, target->port);
    if (!e || e->identity) return SY_OK; // unmapped, or mapped onto itself
    target->host = e->to_host;
    target->port = e->to_port;
    SY_TARGET_ADD_VIA(target, kPluginName);
    return SY_OK;
}

const sy_plugin kAddressMap = {
    .abi_version = SY_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sy_plugin),
    .name = kPluginName,
    .description = "maps logical host:port endpoints to tunnel endpoints; others pass through",
    .roles = SY_ROLE_TRANSLATOR,
    .instance_size = sizeof(AddressMap),
    .plan_state_size = 0,
    .reserved_ = 0,
    .create = am_create,
    .destroy = am_destroy,
    .attach = am_attach,
    .detach = am_detach,
    .plan_init = nullptr,
    .plan_next = nullptr,
    .translate = am_translate,
    .on_outcome = nullptr,
    .get_interface = nullptr,
    .plan_advance = nullptr,
    .plan_fill = nullptr,
    .inherit = nullptr,
};

} // namespace

SY_PLUGIN_DEFINE(address_map, kAddressMap)
