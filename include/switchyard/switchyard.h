/*
 * switchyard: connection routing with a stable C ABI.
 *
 * This header is for applications. Plugin authors include
 * <switchyard/plugin.h>, which includes this one.
 *
 * Conventions (see README "The C ABI"):
 *  - every function returns plain int: SY_OK (0) or a negative SY_E* code;
 *  - detail goes into a caller-provided sy_error (never thread-local state);
 *  - out-parameters are untouched on failure; *_free(NULL) is a no-op;
 *  - every struct crossing the ABI starts with uint32_t struct_size and only
 *    grows at its tail; fill it with SY_STRUCT_INIT(T) (or sizeof);
 *  - thread-safety: a sy_router is shared freely between threads for plan,
 *    connect, report and updates; a sy_request, a sy_plan and a sy_conn have
 *    a single owner.
 */
#ifndef SWITCHYARD_H
#define SWITCHYARD_H

#include <stddef.h>
#include <stdint.h>

#include <switchyard/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SY_API
#if defined(_WIN32)
#define SY_API __declspec(dllimport)
#elif defined(__GNUC__)
#define SY_API __attribute__((visibility("default")))
#else
#define SY_API
#endif
#endif

/* Fill the leading struct_size of an ABI struct, zeroing the rest. */
#ifdef __cplusplus
#define SY_STRUCT_INIT(T) ([] { T v_{}; v_.struct_size = (uint32_t)sizeof(T); return v_; }())
#else
#define SY_STRUCT_INIT(T) ((T){ .struct_size = (uint32_t)sizeof(T) })
#endif

/* ---------------------------------------------------------------- status */

/* XX(NAME, value, "text"). Codes only grow; values never change. */
#define SY_STATUS_MAP(XX)                                                          \
    XX(OK, 0, "success")                                                           \
    XX(EINVAL, -1, "invalid argument")                                             \
    XX(ENOMEM, -2, "out of memory")                                                \
    XX(ECONFIG, -3, "invalid configuration")                                       \
    XX(EREQUEST, -4, "invalid request")                                            \
    XX(ETOPOLOGY, -5, "invalid topology")                                          \
    XX(ENOROUTE, -6, "no route to any target")                                     \
    XX(EPLUGIN, -7, "plugin could not be loaded")                                  \
    XX(EABI, -8, "incompatible ABI version")                                       \
    XX(EUNKNOWN, -9, "no such name")                                               \
    XX(ETAKEN, -10, "name already in use")                                         \
    XX(EUNSUPPORTED, -11, "operation not supported")                               \
    XX(EMISUSE, -12, "library misuse")                                             \
    XX(ETOOSMALL, -13, "buffer too small")                                         \
    XX(ETOONEW, -14, "struct is newer than this library")                          \
    XX(ELIMIT, -15, "limit exceeded")                                              \
    XX(ETIMEOUT, -16, "timed out")                                                 \
    XX(ECONNECT, -17, "connection failed")                                         \
    XX(ETLS, -18, "TLS failure")                                                   \
    XX(EIO, -19, "I/O error")                                                      \
    XX(ECALLBACK, -20, "callback failed")                                          \
    XX(EINTERNAL, -21, "internal error")                                           \
    XX(ETRANSLATE, -22, "target could not be translated")                         \
    XX(ECANCELED, -23, "operation canceled")                                       \
    XX(EPENDING, -24, "not ready yet: retry later")

enum sy_status {
#define SY_STATUS_ENUM_(name, value, text) SY_##name = value,
    SY_STATUS_MAP(SY_STATUS_ENUM_)
#undef SY_STATUS_ENUM_
    SY_STATUS_MIN_ = -24
};

/* Fixed text for a status code; never NULL ("unknown status" if unknown). */
SY_API const char *sy_status_str(int status);
/* The code's symbolic name, e.g. "SY_ENOROUTE"; never NULL. */
SY_API const char *sy_status_name(int status);

/* ---------------------------------------------------------------- version */

/* SY_VERSION_HEX of the library actually linked. */
SY_API uint32_t sy_version(void);
SY_API const char *sy_version_string(void);
/* SY_ABI_VERSION of the library actually linked. */
SY_API uint32_t sy_abi_version(void);

/* ---------------------------------------------------------------- errors */

#define SY_ERROR_PATH_MAX 128
#define SY_ERROR_MESSAGE_MAX 384

/* Caller-provided detail for a failed call. path is the JSON path of the
 * offending config/request/topology element ("" when not applicable). */
typedef struct sy_error {
    uint32_t struct_size;
    int code;
    char path[SY_ERROR_PATH_MAX];
    char message[SY_ERROR_MESSAGE_MAX];
    /* Since 0.3. With SY_EPENDING: when retrying makes sense, in
     * milliseconds from now (0 with any other code). */
    uint32_t retry_after_ms;
} sy_error;

/* ---------------------------------------------------------------- allocator */

typedef void *(*sy_alloc_fn)(size_t size, size_t align, void *user_data);
typedef void (*sy_free_fn)(void *ptr, size_t size, void *user_data);

/* Serves every allocation of the router, its plugins and its requests.
 * free receives the size that was asked for. Must be thread-safe when the
 * router is shared. Copied at router creation. */
typedef struct sy_allocator {
    uint32_t struct_size;
    sy_alloc_fn alloc;
    sy_free_fn free;
    void *user_data;
} sy_allocator;

/* ---------------------------------------------------------------- logging */

enum sy_log_level {
    SY_LOG_ERROR = 1,
    SY_LOG_WARN = 2,
    SY_LOG_INFO = 3,
    SY_LOG_DEBUG = 4,
    SY_LOG_TRACE = 5
};

/* source: "core" or the plugin's name. */
typedef void (*sy_log_fn)(uint32_t level, const char *source, const char *message,
                          void *user_data);
typedef void (*sy_destroy_fn)(void *user_data);

/* ---------------------------------------------------------------- resolver */

/* An endpoint a resolver answers with. */
typedef struct sy_endpoint {
    uint32_t struct_size;
    uint32_t port;
    const char *host; /* copied by the library before resolve returns */
    uint32_t tls;     /* bool */
} sy_endpoint;

/* Resolves a node name (DNS SRV, Consul, a registrar...) into up to cap
 * endpoints written to out[0..]; out[i].struct_size is preset. Returns how
 * many were written (0: the name is unknown), or a negative SY_E* code.
 * Called from planning threads, never concurrently for one name: it may
 * block, but every plan that reaches the resolver waits for it. */
typedef int (*sy_resolve_fn)(const char *name, sy_endpoint *out, size_t cap, void *user_data);

#define SY_RESOLVE_MAX_ENDPOINTS 8

typedef struct sy_resolver {
    uint32_t struct_size;
    sy_resolve_fn resolve;
    void *user_data;
    sy_destroy_fn destroy;   /* called on user_data at router free */
    uint32_t ttl_ms;         /* 0: 5000 */
    uint32_t cache_entries;  /* names cached at once; 0: 256 */
} sy_resolver;

/* ---------------------------------------------------------------- router */

typedef struct sy_router sy_router;

typedef struct sy_router_options {
    uint32_t struct_size;
    const sy_allocator *allocator; /* NULL: malloc/free */
    sy_log_fn log;                 /* NULL: no logging */
    void *log_user_data;
    sy_destroy_fn log_destroy;     /* called on log_user_data at router free */
    uint32_t log_level;            /* 0: SY_LOG_WARN */
    /* Searched before the config's plugin_path. */
    const char *const *plugin_path;
    size_t plugin_path_count;
    /* Relative plugin_path entries of the config are tried against this
     * directory too (syctl passes the config file's directory). */
    const char *base_dir;
    /* A monotonic clock in nanoseconds for everything time-based (latency
     * averages, liveness windows); NULL: CLOCK_MONOTONIC. Tests and
     * simulations pass a fake one. Must be thread-safe. */
    uint64_t (*clock_ns)(void *user_data);
    void *clock_user_data;
    /* Since 0.2. Discovery for plugins that fall back to the host's
     * resolver (static_routes): NULL means none. Answers are cached per name
     * for resolve_ttl_ms (0: 5000); failures are not cached. */
    struct sy_resolver *resolver;
    /* Since 0.3. Who runs asynchronous connects: SY_IO_THREAD (a library
     * thread started by the first sy_router_connect_async) or SY_IO_CALLER
     * (the application calls sy_router_run_once from a thread of its own). */
    uint32_t io_mode;
} sy_router_options;

enum sy_io_mode {
    SY_IO_THREAD = 0,
    SY_IO_CALLER = 1
};

/* Creates a router from a JSON config (see README "Config"). opts may be NULL. */
SY_API int sy_router_new(const char *config_json, size_t len, const sy_router_options *opts,
                         sy_router **out, sy_error *err);
SY_API int sy_router_new_from_file(const char *path, const sy_router_options *opts,
                                   sy_router **out, sy_error *err);
SY_API void sy_router_free(sy_router *router);

/* Validates a config and its plugins without keeping a router; calls report
 * for every error found (not only the first). Returns SY_OK or the first
 * error's code. */
typedef void (*sy_diag_fn)(const sy_error *error, void *user_data);
SY_API int sy_config_check(const char *config_json, size_t len, const sy_router_options *opts,
                           sy_diag_fn report, void *user_data);

/* Since 0.3. Replaces the router's configuration (plugin chain, connect
 * settings, topology defaults) with a new one, atomically:
 *  - plans started before finish on the old chain; plans started after use
 *    the new one; the old chain's plugins are destroyed when the last plan
 *    (or connect) using them ends;
 *  - a stage whose plugin and config are unchanged keeps its instance and
 *    its state (latency averages, route tables changed through its
 *    interface); the connector keeps its pools, circuits and DNS cache;
 *  - a stage whose config changed gets a new instance that inherits what
 *    the host fed the old one where the plugin can (0.3: client_routes'
 *    rows, shard_map's allocations, evictions and locator);
 *  - the config's topology replaces the current one only when it differs
 *    from the previous config's (an unchanged or absent section keeps what
 *    was published since);
 *  - a config with errors changes nothing: report (may be NULL) gets every
 *    error, err the first.
 * Plugin interfaces and instances obtained from sy_router_get_interface are
 * valid until a reload replaces that plugin. sy_router_plan_size() may grow:
 * storage sized before a reload gets SY_ETOOSMALL from sy_plan_init if it
 * is too small for the new chain (SY_PLAN_STORAGE_SIZE covers in-tree
 * plugins). Plugin files stay loaded until the router is freed. Reloads are
 * serialized; planning and connecting go on meanwhile without blocking.
 * sy_router_reload_file resolves relative plugin_path entries against the
 * file's directory; sy_router_reload against the router's base_dir. */
SY_API int sy_router_reload(sy_router *router, const char *config_json, size_t len,
                            sy_diag_fn report, void *user_data, sy_error *err);
SY_API int sy_router_reload_file(sy_router *router, const char *path, sy_diag_fn report,
                                 void *user_data, sy_error *err);

/* ---------------------------------------------------------------- topology */

enum sy_replication_strategy {
    SY_STRATEGY_NONE = 0,
    SY_STRATEGY_SIMPLE = 1,
    SY_STRATEGY_NETWORK_TOPOLOGY = 2,
    SY_STRATEGY_LOCAL = 3
};

typedef struct sy_node {
    uint32_t struct_size;
    const char *id;         /* unique; defaults to "host:port" */
    const char *name;       /* defaults to id */
    const char *host;
    uint32_t port;
    const char *datacenter; /* may be NULL */
    const char *rack;       /* may be NULL */
    uint32_t shards;        /* 0: not sharded */
    uint32_t up;            /* bool */
    const int64_t *tokens;
    size_t token_count;
} sy_node;

/* An element of sy_keyspace.dcs; the array's stride is dcs[0].struct_size. */
typedef struct sy_dc_replication {
    uint32_t struct_size;
    uint32_t replication_factor;
    const char *datacenter;
} sy_dc_replication;

typedef struct sy_keyspace {
    uint32_t struct_size;
    const char *name;
    uint32_t strategy;            /* enum sy_replication_strategy */
    uint32_t replication_factor;  /* SimpleStrategy */
    const sy_dc_replication *dcs; /* NetworkTopologyStrategy */
    size_t dc_count;
} sy_keyspace;

/* A topology as C arrays. nodes[i] are laid out with a stride of
 * nodes[0].struct_size (and the same for keyspaces), so older callers work. */
typedef struct sy_topology_desc {
    uint32_t struct_size;
    const sy_node *nodes;
    size_t node_count;
    const sy_keyspace *keyspaces;
    size_t keyspace_count;
} sy_topology_desc;

/* Replace the topology. The new snapshot is published atomically: plans
 * already started keep the old one; readers never block. */
SY_API int sy_router_update_topology(sy_router *router, const sy_topology_desc *topology,
                                     sy_error *err);
/* Same from JSON: {"nodes": [...], "keyspaces": [...]}. */
SY_API int sy_router_update_topology_json(sy_router *router, const char *json, size_t len,
                                          sy_error *err);
/* Monotonic number of the current snapshot (1 after creation). */
SY_API uint64_t sy_router_epoch(const sy_router *router);
/* Since 0.3. How old the current topology is: *age_ns = now minus the time
 * it was published (by sy_router_new, or the last sy_router_update_topology
 * or _json), on the router's clock (sy_router_options.clock_ns). A plugin
 * republishing its own tables does not reset it. Hosts compare it with their
 * liveness window, to see a stale topology rather than serve it silently. */
SY_API int sy_router_topology_age(const sy_router *router, uint64_t *age_ns);

/* ---------------------------------------------------------------- requests */

enum sy_consistency {
    SY_CONSISTENCY_UNSET = 0,
    SY_CONSISTENCY_ANY = 1,
    SY_CONSISTENCY_ONE = 2,
    SY_CONSISTENCY_TWO = 3,
    SY_CONSISTENCY_THREE = 4,
    SY_CONSISTENCY_QUORUM = 5,
    SY_CONSISTENCY_ALL = 6,
    SY_CONSISTENCY_LOCAL_QUORUM = 7,
    SY_CONSISTENCY_EACH_QUORUM = 8,
    SY_CONSISTENCY_SERIAL = 9,
    SY_CONSISTENCY_LOCAL_SERIAL = 10,
    SY_CONSISTENCY_LOCAL_ONE = 11
};

/* A request: single owner. Reuse it with sy_request_clear() to avoid
 * allocations; setters copy their arguments. */
typedef struct sy_request sy_request;

SY_API int sy_request_new(sy_router *router, sy_request **out, sy_error *err);
SY_API void sy_request_free(sy_request *req);
SY_API void sy_request_clear(sy_request *req);
/* Parses the request JSON of the contract into req (cleared first). */
SY_API int sy_request_parse_json(sy_request *req, const char *json, size_t len, sy_error *err);
/* Partition key bytes; the Murmur3 token is computed from them, replacing
 * a token set before (set the token after the key to override it). In JSON,
 * "key" is text up to its first NUL: give binary keys as "key_hex". */
SY_API int sy_request_set_key(sy_request *req, const void *key, size_t len);
SY_API int sy_request_set_token(sy_request *req, int64_t token);
SY_API int sy_request_set_keyspace(sy_request *req, const char *keyspace);
SY_API int sy_request_set_table(sy_request *req, const char *table);
SY_API int sy_request_set_consistency(sy_request *req, uint32_t consistency);
SY_API int sy_request_set_lwt(sy_request *req, int lwt);
SY_API int sy_request_set_node(sy_request *req, const char *node);
SY_API int sy_request_set_entity(sy_request *req, const char *type, const char *id);
/* {"headers": {}, "session": {}, "query": {...}} as JSON text. */
SY_API int sy_request_set_context_json(sy_request *req, const char *json, size_t len,
                                       sy_error *err);

/* Murmur3Partitioner token of a key, exactly as Cassandra computes it. */
SY_API int64_t sy_murmur3_token(const void *key, size_t len);

/* ---------------------------------------------------------------- plans */

enum sy_target_flags {
    SY_TARGET_HAS_SHARD = 1u << 0,
    SY_TARGET_HAS_WEIGHT = 1u << 1,
    SY_TARGET_TLS = 1u << 2,
    SY_TARGET_REPLICA = 1u << 3,
    SY_TARGET_DOWN = 1u << 4,
    /* advanced (source-port) shard awareness must not be used */
    SY_TARGET_NO_SHARD_PORT = 1u << 5,
    /* Since 0.3: resolve host afresh at every connect (no DNS cache) and use
     * one of its addresses at random (client_routes: DNS cut-overs) */
    SY_TARGET_RESOLVE_EACH = 1u << 6
};

#define SY_VIA_MAX 8

/* TLS material for one target (static_routes' tls_profile). NULL strings
 * fall back to the connect defaults. */
typedef struct sy_tls_profile {
    uint32_t struct_size;
    uint32_t insecure_skip_verify; /* bool: off unless asked for */
    const char *ca_file;
    const char *ca_dir;
    const char *cert_file;
    const char *key_file;
    const char *server_name; /* SNI and the name verified; NULL: the host */
} sy_tls_profile;

enum sy_proxy_protocol {
    SY_PROXY_HTTP_CONNECT = 1,
    SY_PROXY_SOCKS5 = 2
};

/* One hop a connection tunnels through on its way to a target. */
typedef struct sy_proxy_hop {
    uint32_t struct_size;
    uint32_t protocol;  /* enum sy_proxy_protocol: how to ask this hop to go on */
    const char *node;   /* the hop's node name */
    const char *host;   /* NULL: resolve node when connecting */
    uint32_t port;
    uint32_t tls;       /* bool */
    const char *cookie; /* credential for the hop, may be NULL */
} sy_proxy_hop;

/* One target of a plan. Strings are borrowed: they point into the router's
 * immutable snapshot or the plan's storage, and are valid until the next
 * sy_plan_next() on the same plan or its release. */
typedef struct sy_target {
    uint32_t struct_size;
    uint32_t flags;          /* enum sy_target_flags */
    const char *node;        /* node id / route node name / member name */
    const char *host;        /* NULL when error is set */
    uint32_t port;           /* 0 when error is set */
    int32_t shard;           /* valid with SY_TARGET_HAS_SHARD */
    int32_t weight;          /* valid with SY_TARGET_HAS_WEIGHT */
    const char *datacenter;  /* may be NULL */
    const char *rack;        /* may be NULL */
    const char *url;         /* may be NULL */
    const char *error;       /* set when a translator could not translate it */
    const char *via[SY_VIA_MAX]; /* plugins that produced / translated it: the first via_count */
    uint32_t via_count;
    uint32_t node_index;     /* index in the topology snapshot, or UINT32_MAX */
    uint64_t epoch;          /* snapshot the target came from */
    const char *cookie;      /* credential handed to the caller, may be NULL */
    uint64_t user_flags;     /* plugin-defined flags bitmask */
    /* Since 0.2 */
    /* What via[i] used to produce or translate the target, as a JSON object
     * text (e.g. {"pattern":"^db@.*$","weight":10}), or NULL. */
    const char *via_detail[SY_VIA_MAX];
    const sy_tls_profile *tls_profile; /* NULL: the connect defaults */
    const char *const *flag_names;     /* names of the bits set in user_flags */
    uint32_t flag_name_count;
    uint32_t log_level;                /* enum sy_log_level for this target; 0: the router's */
    const sy_proxy_hop *proxies;       /* hops to tunnel through, first hop first */
    uint32_t proxy_count;
} sy_target;

/* Plans live in caller storage: no heap allocation while planning. */
typedef struct sy_plan sy_plan;

/* Storage large enough for any in-tree plugin's plan; sy_router_plan_size()
 * tells the exact need of a router's chain. */
#define SY_PLAN_STORAGE_SIZE 1024
typedef union sy_plan_storage {
    unsigned char bytes[SY_PLAN_STORAGE_SIZE];
    uint64_t align_u64_;
    double align_double_;
    void *align_ptr_;
} sy_plan_storage;

SY_API size_t sy_router_plan_size(const sy_router *router);

/* Starts a plan for req in storage. Computes nothing beyond what the first
 * sy_plan_next() needs. On success *out points into storage and must be
 * released with sy_plan_release(). req may be freed after this returns only
 * if it is not needed by the plan: keep it alive until release. */
SY_API int sy_plan_init(sy_router *router, const sy_request *req, void *storage, size_t size,
                        sy_plan **out, sy_error *err);
/* sy_plan_init returns SY_EPENDING when the selector cannot plan yet but
 * will soon (shard_map asked the host's locate callback for a shard's
 * owner): err->retry_after_ms says when to try again, or use
 * sy_plan_init_async, which waits for it. */

/* Since 0.3. Completion of sy_plan_init_async: SY_OK with the plan, ready in
 * the caller's storage (release it with sy_plan_release), or why not (plan
 * NULL): the plan's own error, SY_ETIMEOUT when plan.wait_timeout_ms passed,
 * SY_ECANCELED when the router was freed first. err is valid during the
 * call only. */
typedef void (*sy_plan_cb)(int status, sy_plan *plan, const sy_error *err, void *data);

/* Since 0.3. sy_plan_init that waits instead of returning SY_EPENDING:
 *  - SY_OK: the plan is ready now in *out (no waiting, no callback);
 *  - SY_EPENDING: it waits; cb runs exactly once, on the I/O thread (see
 *    sy_router_options.io_mode), when the plan is ready or has failed. It is
 *    retried each time the router publishes a snapshot (a location arrived)
 *    and when the selector's retry hint is due. req and storage must stay
 *    valid until cb runs;
 *  - any other code: it failed at once, err says why; cb never runs.
 * At most plan.max_waiting plans wait at once (SY_ELIMIT beyond). */
SY_API int sy_plan_init_async(sy_router *router, const sy_request *req, void *storage, size_t size,
                              sy_plan **out, sy_plan_cb cb, void *data, sy_error *err);

/* 1 and *target filled; 0 at the end; < 0 on error. */
SY_API int sy_plan_next(sy_plan *plan, sy_target *target);
SY_API void sy_plan_release(sy_plan *plan);

/* ---------------------------------------------------------------- outcomes */

enum sy_outcome_kind {
    SY_OUTCOME_SUCCESS = 0,
    SY_OUTCOME_TIMEOUT = 1,
    SY_OUTCOME_REFUSED = 2,
    SY_OUTCOME_RESET = 3,
    SY_OUTCOME_TLS_ERROR = 4,
    SY_OUTCOME_RESOLVE_ERROR = 5,
    SY_OUTCOME_OVERLOADED = 6,
    SY_OUTCOME_OTHER_ERROR = 7
};

typedef struct sy_outcome {
    uint32_t struct_size;
    uint32_t kind;       /* enum sy_outcome_kind */
    uint64_t latency_ns;
} sy_outcome;

/* Feeds what happened at a target back to the plugins that produced it. */
SY_API int sy_router_report(sy_router *router, const sy_target *target,
                            const sy_outcome *outcome);

/* ---------------------------------------------------------------- connections */

/* An open connection: single owner. Bytes go through sy_conn_send and
 * sy_conn_recv, which work the same over TCP and TLS. Over plain TCP one
 * thread may send while another receives; over TLS calls must not overlap. */
typedef struct sy_conn sy_conn;

enum sy_attempt_flags {
    SY_ATTEMPT_POOLED = 1u << 0,       /* an idle pooled connection was reused */
    SY_ATTEMPT_CIRCUIT_OPEN = 1u << 1, /* tried last because its circuit was open */
    SY_ATTEMPT_PROBE = 1u << 2,        /* the one probe of a half-open circuit */
    SY_ATTEMPT_SKIPPED = 1u << 3,      /* not tried (a translator error, the deadline) */
    SY_ATTEMPT_TLS = 1u << 4           /* TLS was (to be) negotiated */
};

#define SY_ATTEMPT_NODE_MAX 128
#define SY_ATTEMPT_HOST_MAX 256
#define SY_ATTEMPT_MESSAGE_MAX 256

/* One target tried while connecting. */
typedef struct sy_attempt {
    uint32_t struct_size;
    int status;          /* SY_OK, or why it failed: SY_ETIMEOUT, SY_ECONNECT, SY_ETLS... */
    uint32_t outcome;    /* enum sy_outcome_kind reported to the plugins */
    uint32_t flags;      /* enum sy_attempt_flags */
    uint64_t elapsed_ns;
    uint32_t port;
    uint32_t proxy_count;
    char node[SY_ATTEMPT_NODE_MAX];
    char host[SY_ATTEMPT_HOST_MAX];
    char message[SY_ATTEMPT_MESSAGE_MAX]; /* "" on success */
} sy_attempt;

enum sy_connect_flags {
    SY_CONNECT_NO_POOL = 1u << 0 /* always open a new connection */
};

typedef struct sy_connect_options {
    uint32_t struct_size;
    uint32_t timeout_ms;   /* per attempt; 0: the config's connect.timeout_ms */
    uint32_t deadline_ms;  /* whole connect; 0: connect.deadline_ms (0 there: none) */
    uint32_t max_attempts; /* 0: every target of the plan */
    uint32_t flags;        /* enum sy_connect_flags */
} sy_connect_options;

/* Where a connect writes what it tried. attempts may be NULL; its entries
 * need no initialisation. sy_attempt only grows together with this struct,
 * so struct_size tells the library the size of the caller's sy_attempt. */
typedef struct sy_connect_result {
    uint32_t struct_size;
    sy_attempt *attempts; /* in: caller's array of attempt_cap entries */
    size_t attempt_cap;
    size_t attempt_count; /* out: attempts made (only the first attempt_cap are written) */
} sy_connect_result;

/* Plans req and tries its targets in order until one connects: resolve,
 * TCP connect within the per-attempt timeout, proxy hops, TLS. Targets whose
 * circuit is open are tried last. Every attempt is reported to the plugins
 * as an outcome. On success *out is the connection; when every target
 * failed, returns the last failure's status (SY_ENOROUTE for an empty plan)
 * and err says why each one failed. opts and result may be NULL.
 * Since 0.3: a plan that is pending (SY_EPENDING from sy_plan_init) is
 * waited for on the calling thread, retried on each publish and when the
 * selector's hint is due, up to the connect's deadline and
 * plan.wait_timeout_ms; then SY_ETIMEOUT. */
SY_API int sy_router_connect(sy_router *router, const sy_request *req,
                             const sy_connect_options *opts, sy_conn **out,
                             sy_connect_result *result, sy_error *err);

/* Completion of sy_router_connect_async: conn (NULL on failure) is the
 * callback's to keep; attempts and err are valid during the call only. */
typedef void (*sy_connect_cb)(int status, sy_conn *conn, const sy_attempt *attempts,
                              size_t attempt_count, const sy_error *err, void *data);

/* The same without blocking: cb runs once, on the I/O thread (see
 * sy_router_options.io_mode). req must stay valid until cb runs. A failure
 * to start is returned and cb never runs. Since 0.3 a pending plan is waited
 * for as sy_plan_init_async does (it counts against plan.max_waiting), within
 * the connect's deadline; cb says SY_ETIMEOUT when it never came and
 * SY_ECANCELED when the router was freed first. */
SY_API int sy_router_connect_async(sy_router *router, const sy_request *req,
                                   const sy_connect_options *opts, sy_connect_cb cb, void *data,
                                   sy_error *err);

/* SY_IO_CALLER: runs ready I/O and completions, waiting up to timeout_ms
 * for the first. Returns how many handlers ran (0 on timeout) or a negative
 * SY_E* code (SY_EMISUSE with SY_IO_THREAD). */
SY_API int sy_router_run_once(sy_router *router, uint32_t timeout_ms);

/* Per-endpoint connect statistics as a JSON object:
 * {"endpoints": [{"endpoint", "attempts", "failures", "consecutive_failures",
 * "latency_avg_ms", "circuit": "closed"|"open"|"half_open", "idle"}]}.
 * Writes a NUL-terminated text into buf; SY_ETOOSMALL (with *len the size
 * needed, NUL included) when cap is too small. */
SY_API int sy_router_connect_stats(sy_router *router, char *buf, size_t cap, size_t *len,
                                   sy_error *err);

/* Sends all len bytes or fails; SY_ETIMEOUT after timeout_ms (0: none). */
SY_API int sy_conn_send(sy_conn *conn, const void *buf, size_t len, uint32_t timeout_ms,
                        sy_error *err);
/* Receives up to cap bytes (at least one); *got = 0 means the peer closed.
 * SY_ETIMEOUT after timeout_ms (0: wait forever). */
SY_API int sy_conn_recv(sy_conn *conn, void *buf, size_t cap, uint32_t timeout_ms, size_t *got,
                        sy_error *err);

typedef struct sy_conn_info {
    uint32_t struct_size;
    int fd;              /* the socket; use it directly only when tls is 0 */
    uint32_t tls;        /* bool */
    uint32_t reused;     /* bool: came from the pool */
    uint32_t port;       /* the target's port */
    uint32_t proxy_count;
    const char *node;    /* the target: valid while conn lives */
    const char *host;
    const char *peer;    /* the address connected to ("127.0.0.1:9042"; the first hop when proxied) */
    const char *tls_version; /* e.g. "TLSv1.2", NULL without TLS */
    const char *tls_ciphersuite;
} sy_conn_info;

SY_API int sy_conn_get_info(const sy_conn *conn, sy_conn_info *info);
/* Hands an idle connection back to its endpoint's pool (closes it when the
 * pool is full or disabled, or the connection is broken). */
SY_API void sy_conn_release(sy_conn *conn);
SY_API void sy_conn_close(sy_conn *conn);

/* ---------------------------------------------------------------- plugins */

typedef struct sy_plugin sy_plugin;

/* Registers a plugin linked into the program (no dlopen). Process-wide;
 * duplicate names are SY_ETAKEN. */
SY_API int sy_register_plugin(const sy_plugin *plugin, sy_error *err);

/* Looks up a typed extension interface of one of the router's plugin
 * instances (e.g. "static_routes.table", version >= 1). *iface is the
 * interface struct; *instance is passed back to its methods. */
SY_API int sy_router_get_interface(sy_router *router, const char *plugin, const char *iface,
                                   uint32_t min_version, const void **iface_out,
                                   void **instance_out, sy_error *err);

#ifdef __cplusplus
}
#endif
#endif
