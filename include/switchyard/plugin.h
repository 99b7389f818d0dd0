/*
 * switchyard plugin ABI: for authors of routing plugins.
 *
 * A plugin is a shared object exporting one entry symbol,
 * SY_PLUGIN_ENTRY_NAME, that enumerates constant sy_plugin vtables. A plugin
 * never links against libswitchyard: it reaches the host only through the
 * versioned sy_host services table it is given at create (allocator, log,
 * JSON helpers, clock, RNG, Murmur3).
 *
 * Lifecycle and threading:
 *  - the host allocates instance_size bytes (16-byte aligned, zeroed) from the
 *    router's allocator and calls create() in that memory; destroy() undoes it;
 *  - attach() builds per-snapshot derived state (e.g. a token ring) each time
 *    the topology changes; detach() frees it when no plan uses it any more.
 *    attach/detach never run concurrently with each other for one instance;
 *  - plan_init/plan_next/translate run concurrently from many threads against
 *    immutable state: they must not allocate, block or mutate shared state
 *    except through atomics;
 *  - on_outcome runs concurrently too, against the current snapshot's state
 *    (use atomics in per-snapshot or per-instance counters).
 */
#ifndef SWITCHYARD_PLUGIN_H
#define SWITCHYARD_PLUGIN_H

#include <stdarg.h>
#include <switchyard/switchyard.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI of the sy_plugin vtable. A core loads plugins whose abi_version is in
 * [SY_PLUGIN_ABI_MIN, SY_PLUGIN_ABI_VERSION]. */
#define SY_PLUGIN_ABI_MIN 1
#define SY_PLUGIN_ABI_VERSION 1

/* ---------------------------------------------------------------- JSON */

/* A read-only JSON value owned by the host. */
typedef struct sy_json sy_json;

enum sy_json_type {
    SY_JSON_MISSING = 0,
    SY_JSON_NULL = 1,
    SY_JSON_FALSE = 2,
    SY_JSON_TRUE = 3,
    SY_JSON_NUMBER = 4,
    SY_JSON_STRING = 5,
    SY_JSON_ARRAY = 6,
    SY_JSON_OBJECT = 7
};

/* ---------------------------------------------------------------- topology view */

/* An immutable topology snapshot as plugins see it. Index nodes with
 * SY_TOPOLOGY_NODE: the stride is the core's sizeof(sy_node). */
typedef struct sy_topology {
    uint32_t struct_size;
    uint64_t epoch;
    const sy_node *nodes;
    size_t node_count;
    size_t node_stride;
    const sy_keyspace *keyspaces;
    size_t keyspace_count;
    size_t keyspace_stride;
    /* The JSON the topology came from (for extension fields such as
     * "services"), or NULL; nodes' "tokens" are removed from it: read them
     * from nodes[]. */
    const sy_json *document;
    /* Since 0.3: when the core published this topology, on sy_host.now_ns's
     * clock (the router's); republishing a plugin's own tables keeps it, so
     * now_ns() - published_ns is sy_router_topology_age(). */
    uint64_t published_ns;
} sy_topology;

#define SY_TOPOLOGY_NODE(t, i) \
    ((const sy_node *)(const void *)((const char *)(t)->nodes + (size_t)(i) * (t)->node_stride))
#define SY_TOPOLOGY_KEYSPACE(t, i)                                                      \
    ((const sy_keyspace *)(const void *)((const char *)(t)->keyspaces +                 \
                                         (size_t)(i) * (t)->keyspace_stride))

/* ---------------------------------------------------------------- request view */

enum sy_request_fields {
    SY_REQ_KEY = 1u << 0,
    SY_REQ_TOKEN = 1u << 1, /* set by an explicit token or computed from the key */
    SY_REQ_KEYSPACE = 1u << 2,
    SY_REQ_TABLE = 1u << 3,
    SY_REQ_CONSISTENCY = 1u << 4,
    SY_REQ_LWT = 1u << 5,
    SY_REQ_NODE = 1u << 6,
    SY_REQ_ENTITY = 1u << 7,
    SY_REQ_CONTEXT = 1u << 8
};

typedef struct sy_request_view {
    uint32_t struct_size;
    uint32_t fields; /* enum sy_request_fields */
    const uint8_t *key;
    size_t key_len;
    int64_t token;
    const char *keyspace;
    const char *table;
    uint32_t consistency; /* enum sy_consistency */
    uint32_t lwt;
    const char *node;
    const char *entity_type;
    const char *entity_id;
    const sy_json *context;  /* {"headers", "session", "query"} or NULL */
    const sy_json *document; /* the request JSON when parsed from JSON, or NULL */
    /* Since 0.3 (struct_size > 96: check it): the byte lengths of
     * entity_type and entity_id, so a plan that hashes or compares them
     * need not measure them again. */
    size_t entity_type_len;
    size_t entity_id_len;
    /* Since 0.3 (struct_size > 112: check it): keyspace's byte length. Its
     * bytes are also readable in whole 8-byte words, zero from the NUL to
     * the end of the word holding it, so a plan can compare a name a word
     * at a time. */
    size_t keyspace_len;
} sy_request_view;

/* ---------------------------------------------------------------- host services */

typedef struct sy_host sy_host;

/* Versioned, append-only. Every function takes the table it came from. */
struct sy_host {
    uint32_t struct_size;
    uint32_t version; /* SY_HOST_VERSION */
    /* Since: 1 */
    void *(*alloc)(const sy_host *host, size_t size, size_t align);
    void (*free)(const sy_host *host, void *ptr, size_t size);
    void (*log)(const sy_host *host, uint32_t level, const char *fmt, ...);
    int (*log_enabled)(const sy_host *host, uint32_t level);
    void (*set_error)(sy_error *err, int code, const char *path, const char *fmt, ...);
    uint64_t (*now_ns)(const sy_host *host);   /* monotonic */
    uint64_t (*random_u64)(const sy_host *host); /* thread-safe, not for crypto */
    int64_t (*murmur3_token)(const void *key, size_t len);
    uint32_t (*json_type)(const sy_json *value); /* SY_JSON_MISSING for NULL */
    const sy_json *(*json_get)(const sy_json *object, const char *key);
    size_t (*json_count)(const sy_json *array_or_object);
    /* i-th element of an array, or i-th member of an object */
    const sy_json *(*json_at)(const sy_json *array_or_object, size_t i);
    const char *(*json_key)(const sy_json *member); /* member name, or NULL */
    const char *(*json_string)(const sy_json *value); /* NULL if not a string */
    double (*json_number)(const sy_json *value);      /* 0 if not a number */
    /* Parses JSON text into a host-owned value freed by json_free. */
    int (*json_parse)(const sy_host *host, const char *text, size_t len, sy_json **out,
                      sy_error *err);
    void (*json_free)(const sy_host *host, sy_json *value);
    const char *plugin_name; /* the instance's plugin name (for messages) */
    /* methods above are in host version 1 */

    /* Since: 2. Publishes a new snapshot over the current topology: attach
     * runs again for every plugin, plans already started keep the old one.
     * For plugins whose own tables change at run time (static_routes' add and
     * remove). Never call it from attach, detach or a plan hook. */
    int (*republish)(const sy_host *host, sy_error *err);
    /* Since: 2. The index-th endpoint the router's resolver (sy_resolver)
     * gives for name, cached for its TTL: 1 with *out filled (its host copied
     * into buf), 0 past the last, SY_EUNSUPPORTED when the router has no
     * resolver, another negative code when resolving failed (err says why). */
    int (*resolve)(const sy_host *host, const char *name, size_t index, sy_endpoint *out,
                   char *buf, size_t buf_size, sy_error *err);
    /* Since: 2. Walks an array's elements or an object's members in O(1)
     * per step (json_at is O(i)): first, then next until NULL. */
    const sy_json *(*json_first)(const sy_json *array_or_object);
    const sy_json *(*json_next)(const sy_json *element);
    /* methods above are in host version 2 */

    /* Since: 3. Drains the connector's endpoint hostname:port (as a target
     * names it: host and port after translation): its idle pooled
     * connections close now, and those in use close at sy_conn_release
     * instead of going back to the pool. For a plugin whose routes changed
     * under live connections (client_routes' drain_on_change). SY_OK also
     * when the router has no connector or never connected there; SY_EINVAL
     * for a NULL or empty hostname or a port outside 1..65535. Check
     * host->version >= 3 first. Never call it from a plan hook. */
    int (*drain_endpoint)(const sy_host *host, const char *hostname, uint32_t port);
    /* methods above are in host version 3 */
};
#define SY_HOST_VERSION 3

/* ---------------------------------------------------------------- plugin vtable */

enum sy_plugin_role {
    SY_ROLE_SELECTOR = 1u << 0,   /* produces targets for a request */
    SY_ROLE_TRANSLATOR = 1u << 1  /* rewrites how each target is reached */
};

/* Bytes of scratch each translator gets per target. */
#define SY_TRANSLATE_SCRATCH 128

struct sy_plugin {
    uint32_t abi_version; /* SY_PLUGIN_ABI_VERSION the plugin was built with */
    uint32_t struct_size; /* sizeof(sy_plugin) the plugin was built with */
    const char *name;     /* equals the shared object's basename */
    const char *description;
    uint32_t roles;           /* enum sy_plugin_role */
    uint32_t instance_size;   /* bytes the host allocates for an instance */
    uint32_t plan_state_size; /* bytes of plan storage a selector needs */
    uint32_t reserved_;

    /* Since: 1. Required. config is the plugin's "config" object (may be
     * NULL when absent), valid only during create: copy what you keep.
     * config_path is its JSON path for error messages. */
    int (*create)(void *instance, const sy_host *host, const sy_json *config,
                  const char *config_path, sy_error *err);
    /* Since: 1. Required. */
    void (*destroy)(void *instance);
    /* Since: 1. Optional: per-snapshot state (NULL hook: state is NULL). */
    int (*attach)(void *instance, const sy_topology *topology, void **state, sy_error *err);
    void (*detach)(void *instance, void *state);
    /* Since: 1. Selectors: start a plan in plan_state (plan_state_size bytes,
     * 8-byte aligned). Must not compute more than the first target needs. */
    int (*plan_init)(void *instance, const void *state, const sy_topology *topology,
                     const sy_request_view *request, void *plan_state, sy_error *err);
    /* 1 with *target filled, 0 at the end, < 0 on error. */
    int (*plan_next)(void *instance, void *plan_state, sy_target *target);
    /* Since: 1. Translators: rewrite target in place. scratch is this
     * translator's own space for the target's strings (valid as long as the
     * target). On failure set target->error (in scratch or static storage)
     * and return SY_ETRANSLATE; the core then clears host and port. */
    int (*translate)(void *instance, const void *state, const sy_topology *topology,
                     const sy_request_view *request, sy_target *target, char *scratch,
                     size_t scratch_size);
    /* Since: 1. Optional. state and topology are the router's current
     * snapshot when the outcome is reported; the target may come from an
     * older one, so trust target->node_index only when target->epoch equals
     * topology->epoch (else look the node up by target->node). */
    void (*on_outcome)(void *instance, const void *state, const sy_topology *topology,
                       const sy_target *target, const sy_outcome *outcome);
    /* Since: 1. Optional: typed extension interfaces by name and version. */
    int (*get_interface)(void *instance, const char *name, uint32_t min_version,
                         const void **iface);
    /* methods above are in ABI version 1 */

    /* Since 0.3 (struct_size covers them). Optional, selectors, both or
     * neither: the next target in two steps, as a cursor has next and
     * column. plan_advance moves the plan to its next target without
     * touching any target: 1 there is one, 0 the end, < 0 an error.
     * plan_fill then fills the core's fresh target with it, and cannot
     * fail. With them the core keeps no copy of the caller's target to give
     * back untouched at the end or on an error (a copy on every target).
     * plan_next stays required: cores before 0.3 call only it. */
    int (*plan_advance)(void *instance, void *plan_state);
    void (*plan_fill)(void *instance, void *plan_state, sy_target *target);

    /* Since 0.3 (struct_size covers it). Optional. A reload that changes
     * this plugin's config creates a new instance; before the new
     * configuration is attached and published, the core calls inherit on
     * it with the instance it replaces (the same plugin in the same role),
     * so what the host fed at run time (routes, allocations, a locator)
     * is not lost. previous still serves the old configuration, maybe on
     * other threads, and keeps serving if the reload fails later: read it
     * under its own locks and take nothing from it. A failure refuses the
     * reload. */
    int (*inherit)(void *instance, void *previous, sy_error *err);
};

/* The single entry symbol of a plugin shared object: *out = the index-th
 * plugin; returns 1, 0 past the end, < 0 on error. */
#define SY_PLUGIN_ENTRY_NAME "sy_plugin_query"
typedef int (*sy_plugin_query_fn)(uint32_t index, const sy_plugin **out);

#if defined(_WIN32)
#define SY_PLUGIN_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define SY_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SY_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
#define SY_PLUGIN_EXTERN_C_ extern "C"
#else
#define SY_PLUGIN_EXTERN_C_
#endif

/* Emits sy_plugin_<name>_query (for static linking: pass it to
 * sy_register_plugin) and, unless SY_PLUGIN_STATIC is defined, the shared
 * object's entry symbol. */
#define SY_PLUGIN_DEFINE_STATIC_(name, vtable)                                            \
    SY_PLUGIN_EXTERN_C_ SY_PLUGIN_EXPORT int sy_plugin_##name##_query(uint32_t index,     \
                                                                      const sy_plugin **out); \
    SY_PLUGIN_EXTERN_C_ SY_PLUGIN_EXPORT int sy_plugin_##name##_query(uint32_t index,     \
                                                                      const sy_plugin **out) \
    {                                                                                     \
        if (!out) return SY_EINVAL;                                                       \
        if (index != 0) return 0;                                                         \
        *out = &(vtable);                                                                 \
        return 1;                                                                         \
    }
#ifdef SY_PLUGIN_STATIC
#define SY_PLUGIN_DEFINE(name, vtable) SY_PLUGIN_DEFINE_STATIC_(name, vtable)
#else
#define SY_PLUGIN_DEFINE(name, vtable)                                                    \
    SY_PLUGIN_DEFINE_STATIC_(name, vtable)                                                \
    SY_PLUGIN_EXTERN_C_ SY_PLUGIN_EXPORT int sy_plugin_query(uint32_t index,              \
                                                             const sy_plugin **out);      \
    SY_PLUGIN_EXTERN_C_ SY_PLUGIN_EXPORT int sy_plugin_query(uint32_t index,              \
                                                             const sy_plugin **out)       \
    {                                                                                     \
        return sy_plugin_##name##_query(index, out);                                      \
    }
#endif

/* Appends a plugin name to target->via (ignored when full). */
#define SY_TARGET_ADD_VIA(t, plugin_name)                                                 \
    do {                                                                                  \
        if ((t)->via_count < SY_VIA_MAX) (t)->via[(t)->via_count++] = (plugin_name);     \
    } while (0)

/* Since 0.2: the same, with what the plugin used as JSON object text (or
 * NULL) in via_detail when the core's target has that field; the text must
 * live as long as the target. */
#define SY_TARGET_ADD_VIA_DETAIL(t, plugin_name, detail)                                  \
    do {                                                                                  \
        if ((t)->via_count < SY_VIA_MAX) {                                                \
            if ((t)->struct_size >= offsetof(sy_target, via_detail) + sizeof((t)->via_detail)) \
                (t)->via_detail[(t)->via_count] = (detail);                               \
            (t)->via[(t)->via_count++] = (plugin_name);                                   \
        }                                                                                 \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
