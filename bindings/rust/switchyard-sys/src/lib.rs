//! Raw, hand-written declarations of the switchyard C ABI
//! (`<switchyard/switchyard.h>` and `<switchyard/static_routes.h>`).
//!
//! Every struct mirrors the C layout exactly (LP64 layout pinned by
//! `tests/abi/test_abi_layout.c` and by this crate's `tests/layout.rs`).
//! Structs that cross the ABI start with `struct_size`: build them with
//! [`SyInit::init`], the equivalent of `SY_STRUCT_INIT(T)`.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

// ------------------------------------------------------------------ status
pub const SY_OK: c_int = 0;
pub const SY_EINVAL: c_int = -1;
pub const SY_ENOMEM: c_int = -2;
pub const SY_ECONFIG: c_int = -3;
pub const SY_EREQUEST: c_int = -4;
pub const SY_ETOPOLOGY: c_int = -5;
pub const SY_ENOROUTE: c_int = -6;
pub const SY_EPLUGIN: c_int = -7;
pub const SY_EABI: c_int = -8;
pub const SY_EUNKNOWN: c_int = -9;
pub const SY_ETAKEN: c_int = -10;
pub const SY_EUNSUPPORTED: c_int = -11;
pub const SY_EMISUSE: c_int = -12;
pub const SY_ETOOSMALL: c_int = -13;
pub const SY_ETOONEW: c_int = -14;
pub const SY_ELIMIT: c_int = -15;
pub const SY_ETIMEOUT: c_int = -16;
pub const SY_ECONNECT: c_int = -17;
pub const SY_ETLS: c_int = -18;
pub const SY_EIO: c_int = -19;
pub const SY_ECALLBACK: c_int = -20;
pub const SY_EINTERNAL: c_int = -21;
pub const SY_ETRANSLATE: c_int = -22;
pub const SY_ECANCELED: c_int = -23;
pub const SY_EPENDING: c_int = -24;

// ------------------------------------------------------------------ limits
pub const SY_ERROR_PATH_MAX: usize = 128;
pub const SY_ERROR_MESSAGE_MAX: usize = 384;
pub const SY_RESOLVE_MAX_ENDPOINTS: usize = 8;
pub const SY_VIA_MAX: usize = 8;
pub const SY_PLAN_STORAGE_SIZE: usize = 1024;
pub const SY_ATTEMPT_NODE_MAX: usize = 128;
pub const SY_ATTEMPT_HOST_MAX: usize = 256;
pub const SY_ATTEMPT_MESSAGE_MAX: usize = 256;

// ------------------------------------------------------------------ enums (uint32_t fields)
pub const SY_LOG_ERROR: u32 = 1;
pub const SY_LOG_WARN: u32 = 2;
pub const SY_LOG_INFO: u32 = 3;
pub const SY_LOG_DEBUG: u32 = 4;
pub const SY_LOG_TRACE: u32 = 5;

pub const SY_IO_THREAD: u32 = 0;
pub const SY_IO_CALLER: u32 = 1;

pub const SY_STRATEGY_NONE: u32 = 0;
pub const SY_STRATEGY_SIMPLE: u32 = 1;
pub const SY_STRATEGY_NETWORK_TOPOLOGY: u32 = 2;
pub const SY_STRATEGY_LOCAL: u32 = 3;

pub const SY_CONSISTENCY_UNSET: u32 = 0;
pub const SY_CONSISTENCY_ANY: u32 = 1;
pub const SY_CONSISTENCY_ONE: u32 = 2;
pub const SY_CONSISTENCY_TWO: u32 = 3;
pub const SY_CONSISTENCY_THREE: u32 = 4;
pub const SY_CONSISTENCY_QUORUM: u32 = 5;
pub const SY_CONSISTENCY_ALL: u32 = 6;
pub const SY_CONSISTENCY_LOCAL_QUORUM: u32 = 7;
pub const SY_CONSISTENCY_EACH_QUORUM: u32 = 8;
pub const SY_CONSISTENCY_SERIAL: u32 = 9;
pub const SY_CONSISTENCY_LOCAL_SERIAL: u32 = 10;
pub const SY_CONSISTENCY_LOCAL_ONE: u32 = 11;

pub const SY_TARGET_HAS_SHARD: u32 = 1 << 0;
pub const SY_TARGET_HAS_WEIGHT: u32 = 1 << 1;
pub const SY_TARGET_TLS: u32 = 1 << 2;
pub const SY_TARGET_REPLICA: u32 = 1 << 3;
pub const SY_TARGET_DOWN: u32 = 1 << 4;
pub const SY_TARGET_NO_SHARD_PORT: u32 = 1 << 5;

pub const SY_PROXY_HTTP_CONNECT: u32 = 1;
pub const SY_PROXY_SOCKS5: u32 = 2;

pub const SY_OUTCOME_SUCCESS: u32 = 0;
pub const SY_OUTCOME_TIMEOUT: u32 = 1;
pub const SY_OUTCOME_REFUSED: u32 = 2;
pub const SY_OUTCOME_RESET: u32 = 3;
pub const SY_OUTCOME_TLS_ERROR: u32 = 4;
pub const SY_OUTCOME_RESOLVE_ERROR: u32 = 5;
pub const SY_OUTCOME_OVERLOADED: u32 = 6;
pub const SY_OUTCOME_OTHER_ERROR: u32 = 7;

pub const SY_ATTEMPT_POOLED: u32 = 1 << 0;
pub const SY_ATTEMPT_CIRCUIT_OPEN: u32 = 1 << 1;
pub const SY_ATTEMPT_PROBE: u32 = 1 << 2;
pub const SY_ATTEMPT_SKIPPED: u32 = 1 << 3;
pub const SY_ATTEMPT_TLS: u32 = 1 << 4;

pub const SY_CONNECT_NO_POOL: u32 = 1 << 0;

// ------------------------------------------------------------------ opaque handles
macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
            _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
        }
    )*};
}
opaque!(sy_router, sy_request, sy_plan, sy_conn, sy_plugin);

// ------------------------------------------------------------------ callbacks
pub type sy_alloc_fn = Option<unsafe extern "C" fn(size: usize, align: usize, user_data: *mut c_void) -> *mut c_void>;
pub type sy_free_fn = Option<unsafe extern "C" fn(ptr: *mut c_void, size: usize, user_data: *mut c_void)>;
pub type sy_log_fn =
    Option<unsafe extern "C" fn(level: u32, source: *const c_char, message: *const c_char, user_data: *mut c_void)>;
pub type sy_destroy_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;
pub type sy_clock_fn = Option<unsafe extern "C" fn(user_data: *mut c_void) -> u64>;
pub type sy_resolve_fn = Option<
    unsafe extern "C" fn(name: *const c_char, out: *mut sy_endpoint, cap: usize, user_data: *mut c_void) -> c_int,
>;
pub type sy_diag_fn = Option<unsafe extern "C" fn(error: *const sy_error, user_data: *mut c_void)>;
pub type sy_connect_cb = Option<
    unsafe extern "C" fn(
        status: c_int,
        conn: *mut sy_conn,
        attempts: *const sy_attempt,
        attempt_count: usize,
        err: *const sy_error,
        data: *mut c_void,
    ),
>;

// ------------------------------------------------------------------ structs
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_error {
    pub struct_size: u32,
    pub code: c_int,
    pub path: [c_char; SY_ERROR_PATH_MAX],
    pub message: [c_char; SY_ERROR_MESSAGE_MAX],
    /// Since 0.3: with SY_EPENDING, when to retry (ms).
    pub retry_after_ms: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_allocator {
    pub struct_size: u32,
    pub alloc: sy_alloc_fn,
    pub free: sy_free_fn,
    pub user_data: *mut c_void,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_endpoint {
    pub struct_size: u32,
    pub port: u32,
    pub host: *const c_char,
    pub tls: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_resolver {
    pub struct_size: u32,
    pub resolve: sy_resolve_fn,
    pub user_data: *mut c_void,
    pub destroy: sy_destroy_fn,
    pub ttl_ms: u32,
    pub cache_entries: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_router_options {
    pub struct_size: u32,
    pub allocator: *const sy_allocator,
    pub log: sy_log_fn,
    pub log_user_data: *mut c_void,
    pub log_destroy: sy_destroy_fn,
    pub log_level: u32,
    pub plugin_path: *const *const c_char,
    pub plugin_path_count: usize,
    pub base_dir: *const c_char,
    pub clock_ns: sy_clock_fn,
    pub clock_user_data: *mut c_void,
    pub resolver: *mut sy_resolver,
    pub io_mode: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_node {
    pub struct_size: u32,
    pub id: *const c_char,
    pub name: *const c_char,
    pub host: *const c_char,
    pub port: u32,
    pub datacenter: *const c_char,
    pub rack: *const c_char,
    pub shards: u32,
    pub up: u32,
    pub tokens: *const i64,
    pub token_count: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_dc_replication {
    pub struct_size: u32,
    pub replication_factor: u32,
    pub datacenter: *const c_char,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_keyspace {
    pub struct_size: u32,
    pub name: *const c_char,
    pub strategy: u32,
    pub replication_factor: u32,
    pub dcs: *const sy_dc_replication,
    pub dc_count: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_topology_desc {
    pub struct_size: u32,
    pub nodes: *const sy_node,
    pub node_count: usize,
    pub keyspaces: *const sy_keyspace,
    pub keyspace_count: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_tls_profile {
    pub struct_size: u32,
    pub insecure_skip_verify: u32,
    pub ca_file: *const c_char,
    pub ca_dir: *const c_char,
    pub cert_file: *const c_char,
    pub key_file: *const c_char,
    pub server_name: *const c_char,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_proxy_hop {
    pub struct_size: u32,
    pub protocol: u32,
    pub node: *const c_char,
    pub host: *const c_char,
    pub port: u32,
    pub tls: u32,
    pub cookie: *const c_char,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_target {
    pub struct_size: u32,
    pub flags: u32,
    pub node: *const c_char,
    pub host: *const c_char,
    pub port: u32,
    pub shard: i32,
    pub weight: i32,
    pub datacenter: *const c_char,
    pub rack: *const c_char,
    pub url: *const c_char,
    pub error: *const c_char,
    pub via: [*const c_char; SY_VIA_MAX],
    pub via_count: u32,
    pub node_index: u32,
    pub epoch: u64,
    pub cookie: *const c_char,
    pub user_flags: u64,
    // Since 0.2
    pub via_detail: [*const c_char; SY_VIA_MAX],
    pub tls_profile: *const sy_tls_profile,
    pub flag_names: *const *const c_char,
    pub flag_name_count: u32,
    pub log_level: u32,
    pub proxies: *const sy_proxy_hop,
    pub proxy_count: u32,
}

/// `union sy_plan_storage`: 1024 bytes, aligned for u64/double/pointers.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct sy_plan_storage {
    pub bytes: [u8; SY_PLAN_STORAGE_SIZE],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_outcome {
    pub struct_size: u32,
    pub kind: u32,
    pub latency_ns: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_attempt {
    pub struct_size: u32,
    pub status: c_int,
    pub outcome: u32,
    pub flags: u32,
    pub elapsed_ns: u64,
    pub port: u32,
    pub proxy_count: u32,
    pub node: [c_char; SY_ATTEMPT_NODE_MAX],
    pub host: [c_char; SY_ATTEMPT_HOST_MAX],
    pub message: [c_char; SY_ATTEMPT_MESSAGE_MAX],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_connect_options {
    pub struct_size: u32,
    pub timeout_ms: u32,
    pub deadline_ms: u32,
    pub max_attempts: u32,
    pub flags: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_connect_result {
    pub struct_size: u32,
    pub attempts: *mut sy_attempt,
    pub attempt_cap: usize,
    pub attempt_count: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_conn_info {
    pub struct_size: u32,
    pub fd: c_int,
    pub tls: u32,
    pub reused: u32,
    pub port: u32,
    pub proxy_count: u32,
    pub node: *const c_char,
    pub host: *const c_char,
    pub peer: *const c_char,
    pub tls_version: *const c_char,
    pub tls_ciphersuite: *const c_char,
}

// ------------------------------------------------------------------ static_routes.h
pub const SY_STATIC_ROUTES_TABLE: &[u8] = b"static_routes.table\0";
pub const SY_STATIC_ROUTES_TABLE_VERSION: u32 = 1;
pub const SY_ROUTE_STATIC: u32 = 1;
pub const SY_ROUTE_PROXY: u32 = 2;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_route_info {
    pub struct_size: u32,
    pub kind: u32,
    pub pattern: *const c_char,
    pub weight: i32,
    pub position: u32,
    pub json: *const c_char,
}

pub type sy_route_visit_fn = Option<unsafe extern "C" fn(route: *const sy_route_info, user_data: *mut c_void) -> c_int>;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sy_static_routes_table {
    pub struct_size: u32,
    pub version: u32,
    pub add: Option<
        unsafe extern "C" fn(
            instance: *mut c_void,
            kind: u32,
            route_json: *const c_char,
            len: usize,
            err: *mut sy_error,
        ) -> c_int,
    >,
    pub remove: Option<
        unsafe extern "C" fn(instance: *mut c_void, kind: u32, pattern: *const c_char, err: *mut sy_error) -> c_int,
    >,
    pub query: Option<
        unsafe extern "C" fn(
            instance: *mut c_void,
            name: *const c_char,
            visit: sy_route_visit_fn,
            user_data: *mut c_void,
            err: *mut sy_error,
        ) -> c_int,
    >,
    pub list: Option<
        unsafe extern "C" fn(
            instance: *mut c_void,
            visit: sy_route_visit_fn,
            user_data: *mut c_void,
            err: *mut sy_error,
        ) -> c_int,
    >,
}

// ------------------------------------------------------------------ SY_STRUCT_INIT
/// `SY_STRUCT_INIT(T)`: all fields zero (NULL, 0), `struct_size = sizeof(T)`.
pub trait SyInit: Sized {
    fn init() -> Self;
}
macro_rules! sy_init {
    ($($t:ty),*) => {$(
        impl SyInit for $t {
            fn init() -> Self {
                // SAFETY: every field is an integer, a raw pointer, an Option of a
                // fn pointer or an array of those: all-zero is a valid value.
                let mut v: Self = unsafe { core::mem::zeroed() };
                v.struct_size = core::mem::size_of::<Self>() as u32;
                v
            }
        }
    )*};
}
sy_init!(
    sy_error,
    sy_allocator,
    sy_endpoint,
    sy_resolver,
    sy_router_options,
    sy_node,
    sy_dc_replication,
    sy_keyspace,
    sy_topology_desc,
    sy_tls_profile,
    sy_proxy_hop,
    sy_target,
    sy_outcome,
    sy_attempt,
    sy_connect_options,
    sy_connect_result,
    sy_conn_info,
    sy_route_info,
    sy_static_routes_table
);

// ------------------------------------------------------------------ functions
extern "C" {
    pub fn sy_status_str(status: c_int) -> *const c_char;
    pub fn sy_status_name(status: c_int) -> *const c_char;

    pub fn sy_version() -> u32;
    pub fn sy_version_string() -> *const c_char;
    pub fn sy_abi_version() -> u32;

    pub fn sy_router_new(
        config_json: *const c_char,
        len: usize,
        opts: *const sy_router_options,
        out: *mut *mut sy_router,
        err: *mut sy_error,
    ) -> c_int;
    pub fn sy_router_new_from_file(
        path: *const c_char,
        opts: *const sy_router_options,
        out: *mut *mut sy_router,
        err: *mut sy_error,
    ) -> c_int;
    pub fn sy_router_free(router: *mut sy_router);
    pub fn sy_config_check(
        config_json: *const c_char,
        len: usize,
        opts: *const sy_router_options,
        report: sy_diag_fn,
        user_data: *mut c_void,
    ) -> c_int;
    /// Since 0.3.
    pub fn sy_router_reload(
        router: *mut sy_router,
        config_json: *const c_char,
        len: usize,
        report: sy_diag_fn,
        user_data: *mut c_void,
        err: *mut sy_error,
    ) -> c_int;
    /// Since 0.3.
    pub fn sy_router_reload_file(
        router: *mut sy_router,
        path: *const c_char,
        report: sy_diag_fn,
        user_data: *mut c_void,
        err: *mut sy_error,
    ) -> c_int;

    pub fn sy_router_update_topology(
        router: *mut sy_router,
        topology: *const sy_topology_desc,
        err: *mut sy_error,
    ) -> c_int;
    pub fn sy_router_update_topology_json(
        router: *mut sy_router,
        json: *const c_char,
        len: usize,
        err: *mut sy_error,
    ) -> c_int;
    pub fn sy_router_epoch(router: *const sy_router) -> u64;

    pub fn sy_request_new(router: *mut sy_router, out: *mut *mut sy_request, err: *mut sy_error) -> c_int;
    pub fn sy_request_free(req: *mut sy_request);
    pub fn sy_request_clear(req: *mut sy_request);
    pub fn sy_request_parse_json(req: *mut sy_request, json: *const c_char, len: usize, err: *mut sy_error) -> c_int;
    pub fn sy_request_set_key(req: *mut sy_request, key: *const c_void, len: usize) -> c_int;
    pub fn sy_request_set_token(req: *mut sy_request, token: i64) -> c_int;
    pub fn sy_request_set_keyspace(req: *mut sy_request, keyspace: *const c_char) -> c_int;
    pub fn sy_request_set_table(req: *mut sy_request, table: *const c_char) -> c_int;
    pub fn sy_request_set_consistency(req: *mut sy_request, consistency: u32) -> c_int;
    pub fn sy_request_set_lwt(req: *mut sy_request, lwt: c_int) -> c_int;
    pub fn sy_request_set_node(req: *mut sy_request, node: *const c_char) -> c_int;
    pub fn sy_request_set_entity(req: *mut sy_request, type_: *const c_char, id: *const c_char) -> c_int;
    pub fn sy_request_set_context_json(
        req: *mut sy_request,
        json: *const c_char,
        len: usize,
        err: *mut sy_error,
    ) -> c_int;

    pub fn sy_murmur3_token(key: *const c_void, len: usize) -> i64;

    pub fn sy_router_plan_size(router: *const sy_router) -> usize;
    pub fn sy_plan_init(
        router: *mut sy_router,
        req: *const sy_request,
        storage: *mut c_void,
        size: usize,
        out: *mut *mut sy_plan,
        err: *mut sy_error,
    ) -> c_int;
    pub fn sy_plan_next(plan: *mut sy_plan, target: *mut sy_target) -> c_int;
    pub fn sy_plan_release(plan: *mut sy_plan);

    pub fn sy_router_report(router: *mut sy_router, target: *const sy_target, outcome: *const sy_outcome) -> c_int;

    pub fn sy_router_connect(
        router: *mut sy_router,
        req: *const sy_request,
        opts: *const sy_connect_options,
        out: *mut *mut sy_conn,
        result: *mut sy_connect_result,
        err: *mut sy_error,
    ) -> c_int;
    pub fn sy_router_connect_async(
        router: *mut sy_router,
        req: *const sy_request,
        opts: *const sy_connect_options,
        cb: sy_connect_cb,
        data: *mut c_void,
        err: *mut sy_error,
    ) -> c_int;
    pub fn sy_router_run_once(router: *mut sy_router, timeout_ms: u32) -> c_int;
    pub fn sy_router_connect_stats(
        router: *mut sy_router,
        buf: *mut c_char,
        cap: usize,
        len: *mut usize,
        err: *mut sy_error,
    ) -> c_int;

    pub fn sy_conn_send(
        conn: *mut sy_conn,
        buf: *const c_void,
        len: usize,
        timeout_ms: u32,
        err: *mut sy_error,
    ) -> c_int;
    pub fn sy_conn_recv(
        conn: *mut sy_conn,
        buf: *mut c_void,
        cap: usize,
        timeout_ms: u32,
        got: *mut usize,
        err: *mut sy_error,
    ) -> c_int;
    pub fn sy_conn_get_info(conn: *const sy_conn, info: *mut sy_conn_info) -> c_int;
    pub fn sy_conn_release(conn: *mut sy_conn);
    pub fn sy_conn_close(conn: *mut sy_conn);

    pub fn sy_register_plugin(plugin: *const sy_plugin, err: *mut sy_error) -> c_int;
    pub fn sy_router_get_interface(
        router: *mut sy_router,
        plugin: *const c_char,
        iface: *const c_char,
        min_version: u32,
        iface_out: *mut *const c_void,
        instance_out: *mut *mut c_void,
        err: *mut sy_error,
    ) -> c_int;
}
