//! Safe Rust API over libswitchyard, the connection-routing library.
//!
//! ```no_run
//! use switchyard::{ConnectOptions, Router};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let router = Router::open("examples/demo/cluster.json")?;
//! let mut req = router.request()?;
//! req.key(b"user:42")?.keyspace("shop")?;
//! for target in router.plan(&req)? {
//!     let t = target?;
//!     println!("{} {}:{}", t.node, t.host.as_deref().unwrap_or("-"), t.port);
//! }
//! # Ok(()) }
//! ```
//!
//! Ownership follows the C ABI: a [`Router`] is shared freely between threads
//! (`Send + Sync`, [`Router::reload`] included); a [`Request`], a [`Plan`] and
//! a [`Conn`] have one owner each (`Send`, not `Sync`). Every handle is
//! released in `Drop`.
//!
//! A [`Request`] is reusable: plan it as often as needed (its setters and
//! [`Request::clear`] change it in place). [`Plan::next_ref`] walks a plan
//! without copying its targets: a [`TargetRef`] borrows the library's strings
//! until the next call.

use std::borrow::Cow;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

pub use switchyard_sys as sys;
use sys::SyInit;

// ====================================================================== errors

/// A failed call: the status code, its symbolic name, the JSON path of the
/// offending element (`""` when not applicable) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// A negative `SY_E*` code (see the `sys::SY_E*` constants).
    pub code: i32,
    /// `"SY_ECONFIG"`, ...
    pub name: String,
    pub path: String,
    pub message: String,
    /// With `SY_EPENDING`: when retrying makes sense, in milliseconds (else 0).
    pub retry_after_ms: u32,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn cstr_opt(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the library hands out NUL-terminated strings valid for the call.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    // str::from_utf8 checks ASCII a word at a time; to_string_lossy walks the
    // bytes one by one even when they are valid. Plans copy a dozen strings.
    Some(match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    })
}

fn carray(a: &[c_char]) -> String {
    let bytes: Vec<u8> = a.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The symbolic name of a status code, e.g. `"SY_ENOROUTE"`.
pub fn status_name(code: i32) -> String {
    cstr_opt(unsafe { sys::sy_status_name(code) }).unwrap_or_default()
}

/// The fixed text of a status code, e.g. `"no route to any target"`.
pub fn status_str(code: i32) -> String {
    cstr_opt(unsafe { sys::sy_status_str(code) }).unwrap_or_default()
}

impl Error {
    /// An error with only a code (for calls that take no `sy_error`).
    pub fn from_code(code: i32) -> Error {
        Error { code, name: status_name(code), path: String::new(), message: status_str(code), retry_after_ms: 0 }
    }

    fn from_raw(rc: c_int, e: &sys::sy_error) -> Error {
        let mut err = Error::from_code(rc);
        err.path = carray(&e.path);
        err.retry_after_ms = e.retry_after_ms;
        let msg = carray(&e.message);
        if !msg.is_empty() {
            err.message = msg;
        }
        err
    }

    fn invalid(message: &str) -> Error {
        Error { message: message.to_string(), ..Error::from_code(sys::SY_EINVAL) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match e.code {
            sys::SY_ETIMEOUT => io::ErrorKind::TimedOut,
            sys::SY_ECONNECT => io::ErrorKind::ConnectionRefused,
            sys::SY_EINVAL => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// A refused reload ([`Router::reload`]): every error the library found in
/// the new config, not only the first. The router keeps its previous
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadError {
    /// The first error: the reload's status (the same as `errors[0]`).
    pub error: Error,
    /// Every error found, in the order the library reported them (at least
    /// one).
    pub errors: Vec<Error>,
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errors.len() <= 1 {
            return write!(f, "{}", self.error);
        }
        write!(f, "reload refused, {} errors: ", self.errors.len())?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ReloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<ReloadError> for Error {
    fn from(e: ReloadError) -> Error {
        e.error
    }
}

impl From<Error> for ReloadError {
    fn from(e: Error) -> ReloadError {
        ReloadError { errors: vec![e.clone()], error: e }
    }
}

/// `sy_diag_fn` of a reload: each error into the `Vec<Error>` behind `user`.
unsafe extern "C" fn diag_trampoline(e: *const sys::sy_error, user: *mut c_void) {
    if e.is_null() || user.is_null() {
        return;
    }
    let out = &mut *(user as *mut Vec<Error>);
    let e = &*e;
    // Nothing may unwind into C (an allocation failure aborts anyway).
    let _ = catch_unwind(AssertUnwindSafe(|| {
        out.push(Error::from_raw(if e.code == sys::SY_OK { sys::SY_ECONFIG } else { e.code }, e))
    }));
}

fn check(rc: c_int, e: &sys::sy_error) -> Result<()> {
    if rc == sys::SY_OK {
        Ok(())
    } else {
        Err(Error::from_raw(rc, e))
    }
}

fn check_code(rc: c_int) -> Result<()> {
    if rc == sys::SY_OK {
        Ok(())
    } else {
        Err(Error::from_code(rc))
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid("string contains a NUL byte"))
}

fn opt_cstring(s: Option<&str>) -> Result<Option<CString>> {
    s.map(cstring).transpose()
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

// ====================================================================== version

/// The version of the library actually linked, e.g. `"0.2.0"`.
pub fn version_string() -> String {
    cstr_opt(unsafe { sys::sy_version_string() }).unwrap_or_default()
}

/// `SY_ABI_VERSION` of the library actually linked.
pub fn abi_version() -> u32 {
    unsafe { sys::sy_abi_version() }
}

/// Murmur3Partitioner token of a key, as Cassandra computes it.
pub fn murmur3_token(key: &[u8]) -> i64 {
    unsafe { sys::sy_murmur3_token(key.as_ptr().cast(), key.len()) }
}

// ====================================================================== logging

/// Log levels (`enum sy_log_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    fn from_raw(v: u32) -> Level {
        match v {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => Level::Trace,
        }
    }
}

/// A log callback: `(level, source, message)`; `source` is `"core"` or a
/// plugin's name. Called from any thread that uses the router.
pub type LogFn = Box<dyn Fn(Level, &str, &str) + Send + Sync>;

/// Router options beyond the config.
#[derive(Default)]
pub struct Options {
    /// Receives the router's log lines (none when `None`).
    pub log: Option<LogFn>,
    /// The most verbose level delivered; `None`: the library default (warn).
    pub log_level: Option<Level>,
    /// Searched for plugins before the config's `plugin_path`.
    pub plugin_path: Vec<String>,
    /// Relative `plugin_path` entries of the config are also tried here.
    pub base_dir: Option<String>,
}

// The boxed closure lives in an Arc handed to C as log_user_data; the C side
// drops its reference through log_destroy_trampoline.
type LogState = LogFn;

unsafe extern "C" fn log_trampoline(level: u32, source: *const c_char, message: *const c_char, user: *mut c_void) {
    let f = &*(user as *const LogState);
    let source =
        if source.is_null() { std::borrow::Cow::Borrowed("") } else { CStr::from_ptr(source).to_string_lossy() };
    let message =
        if message.is_null() { std::borrow::Cow::Borrowed("") } else { CStr::from_ptr(message).to_string_lossy() };
    // A panic must not unwind into C.
    let _ = catch_unwind(AssertUnwindSafe(|| f(Level::from_raw(level), &source, &message)));
}

unsafe extern "C" fn log_destroy_trampoline(user: *mut c_void) {
    drop(Arc::from_raw(user as *const LogState));
}

// ====================================================================== router

/// A router: a config, its plugin chain and the current topology snapshot.
///
/// `Router` is `Send + Sync`: the C library documents `sy_router` as shared
/// freely between threads for planning, connecting, reporting and topology
/// updates (updates publish a new immutable snapshot; readers never block),
/// and the only Rust state it carries (the log closure) is `Send + Sync`.
pub struct Router {
    raw: NonNull<sys::sy_router>,
    _log: Option<Arc<LogState>>,
    /// Reloads done. A reload may destroy the plugin instance a
    /// [`StaticRoutes`] points to: its calls hold this shared, a reload holds
    /// it exclusively, and a changed count makes it look the instance up again.
    ifaces: RwLock<u64>,
}

// SAFETY: see the type's documentation; sy_router is thread-safe by contract.
unsafe impl Send for Router {}
unsafe impl Sync for Router {}

enum Source<'a> {
    Json(&'a str),
    File(&'a Path),
}

impl Router {
    /// Creates a router from a JSON config file.
    pub fn open(path: impl AsRef<Path>) -> Result<Router> {
        Self::create(Source::File(path.as_ref()), Options::default())
    }

    /// Creates a router from JSON config text.
    pub fn from_json(json: &str) -> Result<Router> {
        Self::create(Source::Json(json), Options::default())
    }

    /// Creates a router from JSON config text with options (log callback...).
    pub fn with_options(json: &str, opts: Options) -> Result<Router> {
        Self::create(Source::Json(json), opts)
    }

    /// Creates a router from a JSON config file with options.
    pub fn open_with_options(path: impl AsRef<Path>, opts: Options) -> Result<Router> {
        Self::create(Source::File(path.as_ref()), opts)
    }

    fn create(src: Source<'_>, opts: Options) -> Result<Router> {
        let mut copts = sys::sy_router_options::init();
        let paths: Vec<CString> = opts.plugin_path.iter().map(|p| cstring(p)).collect::<Result<_>>()?;
        let path_ptrs: Vec<*const c_char> = paths.iter().map(|p| p.as_ptr()).collect();
        let base_dir = opt_cstring(opts.base_dir.as_deref())?;
        if !path_ptrs.is_empty() {
            copts.plugin_path = path_ptrs.as_ptr();
            copts.plugin_path_count = path_ptrs.len();
        }
        copts.base_dir = opt_ptr(&base_dir);
        copts.log_level = opts.log_level.map_or(0, |l| l as u32);
        let log = opts.log.map(Arc::new);
        if let Some(log) = &log {
            copts.log = Some(log_trampoline);
            copts.log_user_data = Arc::into_raw(Arc::clone(log)) as *mut c_void;
            copts.log_destroy = Some(log_destroy_trampoline);
        }

        let mut err = sys::sy_error::init();
        let mut out: *mut sys::sy_router = ptr::null_mut();
        let rc = unsafe {
            match src {
                Source::Json(j) => sys::sy_router_new(j.as_ptr().cast(), j.len(), &copts, &mut out, &mut err),
                Source::File(p) => {
                    let p = cstring(&p.to_string_lossy())?;
                    sys::sy_router_new_from_file(p.as_ptr(), &copts, &mut out, &mut err)
                }
            }
        };
        if rc != sys::SY_OK || out.is_null() {
            // Depending on where creation failed, the library may or may not
            // have called log_destroy: the reference count tells which.
            if let Some(log) = &log {
                if Arc::strong_count(log) == 2 {
                    unsafe { drop(Arc::from_raw(copts.log_user_data as *const LogState)) };
                }
            }
            return Err(Error::from_raw(if rc == 0 { sys::SY_EINTERNAL } else { rc }, &err));
        }
        Ok(Router { raw: NonNull::new(out).unwrap(), _log: log, ifaces: RwLock::new(0) })
    }

    /// The raw handle, for calls this crate does not wrap.
    pub fn as_raw(&self) -> *mut sys::sy_router {
        self.raw.as_ptr()
    }

    /// Monotonic number of the current topology snapshot (1 after creation).
    pub fn epoch(&self) -> u64 {
        unsafe { sys::sy_router_epoch(self.raw.as_ptr()) }
    }

    /// Bytes of plan storage this router's chain needs.
    pub fn plan_size(&self) -> usize {
        unsafe { sys::sy_router_plan_size(self.raw.as_ptr()) }
    }

    /// A new, empty request for this router.
    pub fn request(&self) -> Result<Request<'_>> {
        Request::new(self)
    }

    /// Replaces the topology: `{"nodes": [...], "keyspaces": [...]}`.
    pub fn update_topology_json(&self, json: &str) -> Result<()> {
        let mut err = sys::sy_error::init();
        let rc = unsafe {
            sys::sy_router_update_topology_json(self.raw.as_ptr(), json.as_ptr().cast(), json.len(), &mut err)
        };
        check(rc, &err)
    }

    /// Replaces the router's configuration (plugin chain, connect settings,
    /// topology defaults) with `json`, atomically (`sy_router_reload`): plans
    /// already started finish on the old chain, later ones use the new one; a
    /// stage whose plugin and config are unchanged keeps its instance and its
    /// state. Other threads go on planning, connecting and updating meanwhile;
    /// reloads are serialized. Relative `plugin_path` entries are resolved
    /// against [`Options::base_dir`].
    ///
    /// A config with errors changes nothing; the [`ReloadError`] lists every
    /// error found (`?` turns it into its first [`Error`]).
    ///
    /// A [`StaticRoutes`] of this router follows reloads (see there). The
    /// log callback must not reload (the library serializes reloads with a
    /// lock it holds while logging).
    pub fn reload(&self, json: &str) -> Result<(), ReloadError> {
        self.reload_from(Source::Json(json))
    }

    /// [`Router::reload`] from a config file (`sy_router_reload_file`);
    /// relative `plugin_path` entries are resolved against its directory.
    pub fn reload_file(&self, path: impl AsRef<Path>) -> Result<(), ReloadError> {
        self.reload_from(Source::File(path.as_ref()))
    }

    fn reload_from(&self, src: Source<'_>) -> Result<(), ReloadError> {
        let path = match src {
            Source::File(p) => Some(cstring(&p.to_string_lossy())?),
            Source::Json(_) => None,
        };
        let mut errors: Vec<Error> = Vec::new();
        let mut err = sys::sy_error::init();
        let user = (&mut errors as *mut Vec<Error>).cast::<c_void>();
        let rc = {
            // No StaticRoutes call runs during the reload, which may destroy
            // the instance it uses.
            let mut reloads = self.ifaces.write().unwrap_or_else(PoisonError::into_inner);
            let rc = unsafe {
                match (src, &path) {
                    (Source::Json(j), _) => sys::sy_router_reload(
                        self.raw.as_ptr(),
                        j.as_ptr().cast(),
                        j.len(),
                        Some(diag_trampoline),
                        user,
                        &mut err,
                    ),
                    (Source::File(_), p) => sys::sy_router_reload_file(
                        self.raw.as_ptr(),
                        p.as_ref().map_or(ptr::null(), |p| p.as_ptr()),
                        Some(diag_trampoline),
                        user,
                        &mut err,
                    ),
                }
            };
            if rc == sys::SY_OK {
                *reloads += 1;
            }
            rc
        };
        if rc == sys::SY_OK {
            return Ok(());
        }
        let first = Error::from_raw(rc, &err);
        if errors.is_empty() {
            // Failures before the config is read (a missing file) reach err only.
            errors.push(first.clone());
        }
        Err(ReloadError { error: first, errors })
    }

    /// Starts a lazy plan for `req`; iterate it for the targets.
    pub fn plan<'a>(&'a self, req: &'a Request<'_>) -> Result<Plan<'a>> {
        // Left uninitialised, as C callers leave theirs: the plan writes what
        // it reads, and zeroing 1 KiB per plan is wasted.
        let mut storage: Box<MaybeUninit<sys::sy_plan_storage>> = Box::new(MaybeUninit::uninit());
        let mut err = sys::sy_error::init();
        let mut plan: *mut sys::sy_plan = ptr::null_mut();
        let rc = unsafe {
            sys::sy_plan_init(
                self.raw.as_ptr(),
                req.raw.as_ptr(),
                storage.as_mut_ptr().cast(),
                std::mem::size_of::<sys::sy_plan_storage>(),
                &mut plan,
                &mut err,
            )
        };
        check(rc, &err)?;
        Ok(Plan { raw: plan, _storage: storage, done: false, target: sys::sy_target::init(), _life: PhantomData })
    }

    /// Feeds what happened at a target back to the plugins that produced it.
    pub fn report(&self, target: &Target, outcome: Outcome) -> Result<()> {
        let node = cstring(&target.node)?;
        let host = opt_cstring(target.host.as_deref())?;
        let dc = opt_cstring(target.datacenter.as_deref())?;
        let rack = opt_cstring(target.rack.as_deref())?;
        let url = opt_cstring(target.url.as_deref())?;
        let error = opt_cstring(target.error.as_deref())?;
        let cookie = opt_cstring(target.cookie.as_deref())?;
        let via: Vec<CString> = target.via.iter().take(sys::SY_VIA_MAX).map(|v| cstring(v)).collect::<Result<_>>()?;
        let mut t = sys::sy_target::init();
        t.flags = target.flags;
        t.node = node.as_ptr();
        t.host = opt_ptr(&host);
        t.port = target.port as u32;
        if let Some(s) = target.shard {
            t.shard = s;
            t.flags |= sys::SY_TARGET_HAS_SHARD;
        }
        if let Some(w) = target.weight {
            t.weight = w;
            t.flags |= sys::SY_TARGET_HAS_WEIGHT;
        }
        if target.tls {
            t.flags |= sys::SY_TARGET_TLS;
        }
        t.datacenter = opt_ptr(&dc);
        t.rack = opt_ptr(&rack);
        t.url = opt_ptr(&url);
        t.error = opt_ptr(&error);
        for (i, v) in via.iter().enumerate() {
            t.via[i] = v.as_ptr();
        }
        t.via_count = via.len() as u32;
        t.node_index = target.node_index;
        t.epoch = target.epoch;
        t.cookie = opt_ptr(&cookie);
        t.user_flags = target.user_flags;
        t.log_level = target.log_level;
        let o = sys::sy_outcome {
            struct_size: std::mem::size_of::<sys::sy_outcome>() as u32,
            kind: outcome.kind as u32,
            latency_ns: outcome.latency.as_nanos().min(u64::MAX as u128) as u64,
        };
        // The CStrings above outlive the call.
        check_code(unsafe { sys::sy_router_report(self.raw.as_ptr(), &t, &o) })
    }

    /// Plans `req` and tries its targets in order until one connects.
    /// On failure the error carries every attempt made.
    pub fn connect(&self, req: &Request<'_>, opts: ConnectOptions) -> Result<(Conn, Vec<Attempt>), ConnectError> {
        let copts = opts.to_raw();
        let cap = opts.max_recorded_attempts.max(1);
        let mut attempts = vec![sys::sy_attempt::init(); cap];
        let mut res = sys::sy_connect_result::init();
        res.attempts = attempts.as_mut_ptr();
        res.attempt_cap = cap;
        let mut err = sys::sy_error::init();
        let mut conn: *mut sys::sy_conn = ptr::null_mut();
        let rc = unsafe {
            sys::sy_router_connect(self.raw.as_ptr(), req.raw.as_ptr(), &copts, &mut conn, &mut res, &mut err)
        };
        let made: Vec<Attempt> = attempts[..res.attempt_count.min(cap)].iter().map(Attempt::from_raw).collect();
        if rc != sys::SY_OK || conn.is_null() {
            let code = if rc == sys::SY_OK { sys::SY_EINTERNAL } else { rc };
            return Err(ConnectError { error: Error::from_raw(code, &err), attempts: made });
        }
        Ok((Conn { raw: NonNull::new(conn).unwrap(), timeout: opts.io_timeout }, made))
    }

    /// Per-endpoint connect statistics as JSON text.
    pub fn connect_stats(&self) -> Result<String> {
        let mut cap = 4096usize;
        loop {
            let mut buf = vec![0u8; cap];
            let mut len = 0usize;
            let mut err = sys::sy_error::init();
            let rc = unsafe {
                sys::sy_router_connect_stats(self.raw.as_ptr(), buf.as_mut_ptr().cast(), cap, &mut len, &mut err)
            };
            if rc == sys::SY_ETOOSMALL && len > cap {
                cap = len;
                continue;
            }
            check(rc, &err)?;
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            buf.truncate(end);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
    }

    /// static_routes' run-time table (`static_routes.table` v1), when the
    /// router's chain has a static_routes plugin.
    pub fn static_routes(&self) -> Result<StaticRoutes<'_>> {
        let reloads = self.ifaces.read().unwrap_or_else(PoisonError::into_inner);
        let (table, instance) = self.static_routes_raw()?;
        let cache = IfaceCache { reloads: *reloads, table, instance };
        drop(reloads);
        Ok(StaticRoutes { router: self, cache: Mutex::new(cache) })
    }

    /// The current `static_routes.table` pointers: valid until the next reload.
    fn static_routes_raw(&self) -> Result<(*const sys::sy_static_routes_table, *mut c_void)> {
        let mut iface: *const c_void = ptr::null();
        let mut inst: *mut c_void = ptr::null_mut();
        let mut err = sys::sy_error::init();
        let rc = unsafe {
            sys::sy_router_get_interface(
                self.raw.as_ptr(),
                c"static_routes".as_ptr(),
                sys::SY_STATIC_ROUTES_TABLE.as_ptr().cast(),
                sys::SY_STATIC_ROUTES_TABLE_VERSION,
                &mut iface,
                &mut inst,
                &mut err,
            )
        };
        check(rc, &err)?;
        if iface.is_null() {
            return Err(Error::from_code(sys::SY_EUNSUPPORTED));
        }
        Ok((iface.cast(), inst))
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        unsafe { sys::sy_router_free(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router").field("epoch", &self.epoch()).finish()
    }
}

// ====================================================================== requests

/// Consistency levels (`enum sy_consistency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    Unset = 0,
    Any = 1,
    One = 2,
    Two = 3,
    Three = 4,
    Quorum = 5,
    All = 6,
    LocalQuorum = 7,
    EachQuorum = 8,
    Serial = 9,
    LocalSerial = 10,
    LocalOne = 11,
}

/// A request, built field by field or parsed from JSON. Belongs to the
/// router it was made for. `Send`, not `Sync`.
pub struct Request<'r> {
    raw: NonNull<sys::sy_request>,
    _router: PhantomData<&'r Router>,
}

// SAFETY: a sy_request has a single owner but is not tied to a thread.
unsafe impl Send for Request<'_> {}

impl<'r> Request<'r> {
    /// A new, empty request.
    pub fn new(router: &'r Router) -> Result<Request<'r>> {
        let mut err = sys::sy_error::init();
        let mut out: *mut sys::sy_request = ptr::null_mut();
        let rc = unsafe { sys::sy_request_new(router.raw.as_ptr(), &mut out, &mut err) };
        check(rc, &err)?;
        Ok(Request { raw: NonNull::new(out).unwrap(), _router: PhantomData })
    }

    /// A request parsed from the contract's JSON (`{"key": ..., "keyspace": ...}`).
    pub fn from_json(router: &'r Router, json: &str) -> Result<Request<'r>> {
        let mut r = Request::new(router)?;
        r.parse_json(json)?;
        Ok(r)
    }

    /// Replaces the request's content with the JSON request.
    pub fn parse_json(&mut self, json: &str) -> Result<&mut Self> {
        let mut err = sys::sy_error::init();
        let rc = unsafe { sys::sy_request_parse_json(self.raw.as_ptr(), json.as_ptr().cast(), json.len(), &mut err) };
        check(rc, &err)?;
        Ok(self)
    }

    /// Empties the request for reuse.
    pub fn clear(&mut self) -> &mut Self {
        unsafe { sys::sy_request_clear(self.raw.as_ptr()) };
        self
    }

    /// Partition key bytes (the Murmur3 token is computed from them).
    pub fn key(&mut self, key: &[u8]) -> Result<&mut Self> {
        check_code(unsafe { sys::sy_request_set_key(self.raw.as_ptr(), key.as_ptr().cast(), key.len()) })?;
        Ok(self)
    }

    pub fn token(&mut self, token: i64) -> Result<&mut Self> {
        check_code(unsafe { sys::sy_request_set_token(self.raw.as_ptr(), token) })?;
        Ok(self)
    }

    pub fn keyspace(&mut self, keyspace: &str) -> Result<&mut Self> {
        let c = cstring(keyspace)?;
        check_code(unsafe { sys::sy_request_set_keyspace(self.raw.as_ptr(), c.as_ptr()) })?;
        Ok(self)
    }

    pub fn table(&mut self, table: &str) -> Result<&mut Self> {
        let c = cstring(table)?;
        check_code(unsafe { sys::sy_request_set_table(self.raw.as_ptr(), c.as_ptr()) })?;
        Ok(self)
    }

    pub fn consistency(&mut self, c: Consistency) -> Result<&mut Self> {
        check_code(unsafe { sys::sy_request_set_consistency(self.raw.as_ptr(), c as u32) })?;
        Ok(self)
    }

    pub fn lwt(&mut self, lwt: bool) -> Result<&mut Self> {
        check_code(unsafe { sys::sy_request_set_lwt(self.raw.as_ptr(), lwt as c_int) })?;
        Ok(self)
    }

    /// A node name (static_routes, service names...).
    pub fn node(&mut self, node: &str) -> Result<&mut Self> {
        let c = cstring(node)?;
        check_code(unsafe { sys::sy_request_set_node(self.raw.as_ptr(), c.as_ptr()) })?;
        Ok(self)
    }

    /// A sharded entity (shard_map).
    pub fn entity(&mut self, kind: &str, id: &str) -> Result<&mut Self> {
        let (k, i) = (cstring(kind)?, cstring(id)?);
        check_code(unsafe { sys::sy_request_set_entity(self.raw.as_ptr(), k.as_ptr(), i.as_ptr()) })?;
        Ok(self)
    }

    /// `{"headers": {}, "session": {}, "query": {...}}` as JSON text.
    pub fn context_json(&mut self, json: &str) -> Result<&mut Self> {
        let mut err = sys::sy_error::init();
        let rc =
            unsafe { sys::sy_request_set_context_json(self.raw.as_ptr(), json.as_ptr().cast(), json.len(), &mut err) };
        check(rc, &err)?;
        Ok(self)
    }

    /// The raw handle, for calls this crate does not wrap.
    pub fn as_raw(&self) -> *mut sys::sy_request {
        self.raw.as_ptr()
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request").field("raw", &self.raw).finish()
    }
}

impl Drop for Request<'_> {
    fn drop(&mut self) {
        unsafe { sys::sy_request_free(self.raw.as_ptr()) }
    }
}

// ====================================================================== plans

/// One target of a plan, copied out of the library's borrowed strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Node id / route node name / member name.
    pub node: String,
    /// `None` when `error` is set.
    pub host: Option<String>,
    /// 0 when `error` is set.
    pub port: u16,
    pub shard: Option<i32>,
    pub weight: Option<i32>,
    pub datacenter: Option<String>,
    pub rack: Option<String>,
    pub url: Option<String>,
    pub tls: bool,
    /// The plugins that produced / translated it, selector first.
    pub via: Vec<String>,
    /// What each `via` entry used, as JSON text (same length as `via`).
    pub via_detail: Vec<Option<String>>,
    /// Set when a translator could not translate the target.
    pub error: Option<String>,
    pub cookie: Option<String>,
    /// Raw `enum sy_target_flags` bits.
    pub flags: u32,
    /// Plugin-defined flag bits, and the names of those set.
    pub user_flags: u64,
    pub flag_names: Vec<String>,
    pub log_level: u32,
    /// Index in the topology snapshot, or `u32::MAX`.
    pub node_index: u32,
    /// Snapshot the target came from.
    pub epoch: u64,
}

impl Target {
    pub fn is_replica(&self) -> bool {
        self.flags & sys::SY_TARGET_REPLICA != 0
    }
    pub fn is_down(&self) -> bool {
        self.flags & sys::SY_TARGET_DOWN != 0
    }

    fn from_raw(t: &sys::sy_target) -> Target {
        let n = (t.via_count as usize).min(sys::SY_VIA_MAX);
        let flag_names = if t.flag_names.is_null() {
            Vec::new()
        } else {
            (0..t.flag_name_count as usize).filter_map(|i| cstr_opt(unsafe { *t.flag_names.add(i) })).collect()
        };
        Target {
            node: cstr_opt(t.node).unwrap_or_default(),
            host: cstr_opt(t.host),
            port: t.port as u16,
            shard: (t.flags & sys::SY_TARGET_HAS_SHARD != 0).then_some(t.shard),
            weight: (t.flags & sys::SY_TARGET_HAS_WEIGHT != 0).then_some(t.weight),
            datacenter: cstr_opt(t.datacenter),
            rack: cstr_opt(t.rack),
            url: cstr_opt(t.url),
            tls: t.flags & sys::SY_TARGET_TLS != 0,
            via: t.via[..n].iter().map(|&p| cstr_opt(p).unwrap_or_default()).collect(),
            via_detail: t.via_detail[..n].iter().map(|&p| cstr_opt(p)).collect(),
            error: cstr_opt(t.error),
            cookie: cstr_opt(t.cookie),
            flags: t.flags,
            user_flags: t.user_flags,
            flag_names,
            log_level: t.log_level,
            node_index: t.node_index,
            epoch: t.epoch,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, &self.error) {
            (Some(h), _) => write!(f, "{} {}:{}", self.node, h, self.port)?,
            (None, Some(e)) => write!(f, "{} (error: {})", self.node, e)?,
            (None, None) => write!(f, "{} -", self.node)?,
        }
        if !self.via.is_empty() {
            write!(f, " via {}", self.via.join(","))?;
        }
        Ok(())
    }
}

/// A lazy plan: an iterator of targets, computed one at a time. The plan's
/// state lives in a boxed `sy_plan_storage`; it is released on drop.
/// `Send`, not `Sync`.
pub struct Plan<'a> {
    raw: *mut sys::sy_plan,
    _storage: Box<MaybeUninit<sys::sy_plan_storage>>,
    done: bool,
    /// What [`Plan::next_ref`] filled last (a [`TargetRef`] borrows it).
    target: sys::sy_target,
    _life: PhantomData<(&'a Router, &'a Request<'a>)>,
}

// SAFETY: a plan has a single owner; it only reads the (const) request and
// the thread-safe router.
unsafe impl Send for Plan<'_> {}

impl Iterator for Plan<'_> {
    type Item = Result<Target>;

    fn next(&mut self) -> Option<Result<Target>> {
        if self.done {
            return None;
        }
        let mut t = sys::sy_target::init();
        let rc = unsafe { sys::sy_plan_next(self.raw, &mut t) };
        match rc {
            1 => Some(Ok(Target::from_raw(&t))),
            0 => {
                self.done = true;
                None
            }
            rc => {
                self.done = true;
                Some(Err(Error::from_code(rc)))
            }
        }
    }
}

impl std::iter::FusedIterator for Plan<'_> {}

impl Plan<'_> {
    /// The next target, borrowed: no copy and no allocation. The
    /// [`TargetRef`] borrows the plan (and the library's strings, valid until
    /// the next `sy_plan_next`), so it is gone before the next call; use
    /// [`TargetRef::to_target`] to keep one. A lending iterator:
    ///
    /// ```no_run
    /// # fn f(router: &switchyard::Router, req: &switchyard::Request<'_>) -> switchyard::Result<()> {
    /// let mut plan = router.plan(req)?;
    /// while let Some(t) = plan.next_ref() {
    ///     let t = t?;
    ///     println!("{} {}:{}", t.node(), t.host().unwrap_or_default(), t.port());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// It may be mixed with [`Iterator::next`] on the same plan.
    pub fn next_ref(&mut self) -> Option<Result<TargetRef<'_>>> {
        if self.done {
            return None;
        }
        // No need to clear the target between calls: the library writes
        // every field of it (via[] up to via_count, the only entries read).
        let rc = unsafe { sys::sy_plan_next(self.raw, &mut self.target) };
        match rc {
            1 => Some(Ok(TargetRef { raw: &self.target })),
            0 => {
                self.done = true;
                None
            }
            rc => {
                self.done = true;
                Some(Err(Error::from_code(rc)))
            }
        }
    }
}

/// One target of a plan as the library hands it out ([`Plan::next_ref`]):
/// its strings are borrowed, nothing is copied. The accessors return
/// `Cow::Borrowed` for UTF-8 text (always, in practice), a lossy copy
/// otherwise, as [`Target`] does.
#[derive(Clone, Copy)]
pub struct TargetRef<'p> {
    raw: &'p sys::sy_target,
}

/// Borrows a library string for `'p` (`None` for NULL).
fn cstr_ref<'p>(p: *const c_char) -> Option<Cow<'p, str>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the plan's strings stay valid while the TargetRef borrows it.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    Some(match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    })
}

impl<'p> TargetRef<'p> {
    /// Node id / route node name / member name.
    pub fn node(&self) -> Cow<'p, str> {
        cstr_ref(self.raw.node).unwrap_or_default()
    }
    /// `None` when [`TargetRef::error`] is set.
    pub fn host(&self) -> Option<Cow<'p, str>> {
        cstr_ref(self.raw.host)
    }
    /// 0 when [`TargetRef::error`] is set.
    pub fn port(&self) -> u16 {
        self.raw.port as u16
    }
    pub fn shard(&self) -> Option<i32> {
        (self.raw.flags & sys::SY_TARGET_HAS_SHARD != 0).then_some(self.raw.shard)
    }
    pub fn weight(&self) -> Option<i32> {
        (self.raw.flags & sys::SY_TARGET_HAS_WEIGHT != 0).then_some(self.raw.weight)
    }
    pub fn datacenter(&self) -> Option<Cow<'p, str>> {
        cstr_ref(self.raw.datacenter)
    }
    pub fn rack(&self) -> Option<Cow<'p, str>> {
        cstr_ref(self.raw.rack)
    }
    pub fn url(&self) -> Option<Cow<'p, str>> {
        cstr_ref(self.raw.url)
    }
    pub fn tls(&self) -> bool {
        self.raw.flags & sys::SY_TARGET_TLS != 0
    }
    pub fn is_replica(&self) -> bool {
        self.raw.flags & sys::SY_TARGET_REPLICA != 0
    }
    pub fn is_down(&self) -> bool {
        self.raw.flags & sys::SY_TARGET_DOWN != 0
    }
    /// The plugins that produced / translated it, selector first.
    pub fn via(&self) -> impl ExactSizeIterator<Item = Cow<'p, str>> + 'p {
        let raw = self.raw;
        raw.via[..(raw.via_count as usize).min(sys::SY_VIA_MAX)].iter().map(|&p| cstr_ref(p).unwrap_or_default())
    }
    /// What each `via` entry used, as JSON text (as many as `via`).
    pub fn via_detail(&self) -> impl ExactSizeIterator<Item = Option<Cow<'p, str>>> + 'p {
        let raw = self.raw;
        raw.via_detail[..(raw.via_count as usize).min(sys::SY_VIA_MAX)].iter().map(|&p| cstr_ref(p))
    }
    /// Set when a translator could not translate the target.
    pub fn error(&self) -> Option<Cow<'p, str>> {
        cstr_ref(self.raw.error)
    }
    pub fn cookie(&self) -> Option<Cow<'p, str>> {
        cstr_ref(self.raw.cookie)
    }
    /// Raw `enum sy_target_flags` bits.
    pub fn flags(&self) -> u32 {
        self.raw.flags
    }
    /// Plugin-defined flag bits.
    pub fn user_flags(&self) -> u64 {
        self.raw.user_flags
    }
    /// The names of the bits set in `user_flags`.
    pub fn flag_names(&self) -> impl ExactSizeIterator<Item = Cow<'p, str>> + 'p {
        let raw = self.raw;
        let names: &'p [*const c_char] = if raw.flag_names.is_null() {
            &[]
        } else {
            // SAFETY: flag_name_count pointers, valid as long as the target.
            unsafe { std::slice::from_raw_parts(raw.flag_names, raw.flag_name_count as usize) }
        };
        names.iter().map(|&p| cstr_ref(p).unwrap_or_default())
    }
    pub fn log_level(&self) -> u32 {
        self.raw.log_level
    }
    /// Index in the topology snapshot, or `u32::MAX`.
    pub fn node_index(&self) -> u32 {
        self.raw.node_index
    }
    /// Snapshot the target came from.
    pub fn epoch(&self) -> u64 {
        self.raw.epoch
    }
    /// An owned copy (what [`Iterator::next`] on the plan returns), to keep
    /// beyond the next call or to pass to [`Router::report`].
    pub fn to_target(&self) -> Target {
        Target::from_raw(self.raw)
    }
    /// The C target itself; its strings are valid for `'p`.
    pub fn as_raw(&self) -> &'p sys::sy_target {
        self.raw
    }
}

impl fmt::Debug for TargetRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetRef")
            .field("node", &self.node())
            .field("host", &self.host())
            .field("port", &self.port())
            .field("via", &self.via().collect::<Vec<_>>())
            .field("error", &self.error())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for TargetRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.host(), self.error()) {
            (Some(h), _) => write!(f, "{} {}:{}", self.node(), h, self.port())?,
            (None, Some(e)) => write!(f, "{} (error: {})", self.node(), e)?,
            (None, None) => write!(f, "{} -", self.node())?,
        }
        let mut via = self.via().peekable();
        if via.peek().is_some() {
            f.write_str(" via ")?;
            for (i, v) in via.enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                f.write_str(&v)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Plan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan").field("done", &self.done).finish()
    }
}

impl Drop for Plan<'_> {
    fn drop(&mut self) {
        // Released before the storage box is freed (fields drop after this).
        unsafe { sys::sy_plan_release(self.raw) }
    }
}

// ====================================================================== outcomes

/// `enum sy_outcome_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    Success = 0,
    Timeout = 1,
    Refused = 2,
    Reset = 3,
    TlsError = 4,
    ResolveError = 5,
    Overloaded = 6,
    OtherError = 7,
}

impl OutcomeKind {
    pub fn from_raw(v: u32) -> OutcomeKind {
        match v {
            0 => OutcomeKind::Success,
            1 => OutcomeKind::Timeout,
            2 => OutcomeKind::Refused,
            3 => OutcomeKind::Reset,
            4 => OutcomeKind::TlsError,
            5 => OutcomeKind::ResolveError,
            6 => OutcomeKind::Overloaded,
            _ => OutcomeKind::OtherError,
        }
    }
}

/// What happened at a target, for [`Router::report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub kind: OutcomeKind,
    pub latency: Duration,
}

impl Outcome {
    pub fn new(kind: OutcomeKind, latency: Duration) -> Outcome {
        Outcome { kind, latency }
    }
}

// ====================================================================== connecting

/// Options of [`Router::connect`]; zero means the config's default.
#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
    /// Per attempt; `None`: the config's `connect.timeout_ms`.
    pub timeout: Option<Duration>,
    /// Whole connect; `None`: the config's `connect.deadline_ms`.
    pub deadline: Option<Duration>,
    /// 0: every target of the plan.
    pub max_attempts: u32,
    /// Always open a new connection (`SY_CONNECT_NO_POOL`).
    pub no_pool: bool,
    /// How many attempts are recorded (default 32).
    pub max_recorded_attempts: usize,
    /// Timeout of the returned connection's reads and writes (`None`: none).
    pub io_timeout: Option<Duration>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: None,
            deadline: None,
            max_attempts: 0,
            no_pool: false,
            max_recorded_attempts: 32,
            io_timeout: None,
        }
    }
}

fn millis(d: Option<Duration>) -> u32 {
    d.map_or(0, |d| d.as_millis().clamp(1, u32::MAX as u128) as u32)
}

impl ConnectOptions {
    fn to_raw(self) -> sys::sy_connect_options {
        let mut o = sys::sy_connect_options::init();
        o.timeout_ms = millis(self.timeout);
        o.deadline_ms = millis(self.deadline);
        o.max_attempts = self.max_attempts;
        o.flags = if self.no_pool { sys::SY_CONNECT_NO_POOL } else { 0 };
        o
    }
}

/// One target tried while connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// `SY_OK` (0) or why it failed (`SY_ECONNECT`, `SY_ETIMEOUT`...).
    pub status: i32,
    /// The outcome reported to the plugins.
    pub outcome: OutcomeKind,
    /// Raw `enum sy_attempt_flags` bits.
    pub flags: u32,
    pub elapsed: Duration,
    pub node: String,
    pub host: String,
    pub port: u16,
    pub proxy_count: u32,
    /// `""` on success.
    pub message: String,
}

impl Attempt {
    fn from_raw(a: &sys::sy_attempt) -> Attempt {
        Attempt {
            status: a.status,
            outcome: OutcomeKind::from_raw(a.outcome),
            flags: a.flags,
            elapsed: Duration::from_nanos(a.elapsed_ns),
            node: carray(&a.node),
            host: carray(&a.host),
            port: a.port as u16,
            proxy_count: a.proxy_count,
            message: carray(&a.message),
        }
    }

    pub fn ok(&self) -> bool {
        self.status == sys::SY_OK
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{} {:?} {:.3} ms",
            self.node,
            self.host,
            self.port,
            self.outcome,
            self.elapsed.as_secs_f64() * 1e3
        )?;
        if !self.message.is_empty() {
            write!(f, " ({})", self.message)?;
        }
        Ok(())
    }
}

/// A failed connect: why, and every attempt made.
#[derive(Debug, Clone)]
pub struct ConnectError {
    pub error: Error,
    pub attempts: Vec<Attempt>,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} attempt(s))", self.error, self.attempts.len())
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<ConnectError> for Error {
    fn from(e: ConnectError) -> Error {
        e.error
    }
}

/// Details of an open connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The socket; use it directly only without TLS.
    pub fd: i32,
    pub tls: bool,
    /// Came from the pool.
    pub reused: bool,
    pub port: u16,
    pub proxy_count: u32,
    pub node: String,
    pub host: String,
    /// The address connected to (the first hop when proxied).
    pub peer: String,
    pub tls_version: Option<String>,
    pub tls_ciphersuite: Option<String>,
}

/// An open connection (TCP or TLS, maybe through proxies): `Read + Write`.
/// Dropping it closes it; [`Conn::release`] hands it back to the pool.
/// `Send`, not `Sync`. It may outlive its router (then it closes instead of
/// pooling).
pub struct Conn {
    raw: NonNull<sys::sy_conn>,
    timeout: Option<Duration>,
}

// SAFETY: a sy_conn has a single owner and is not tied to a thread.
unsafe impl Send for Conn {}

impl Conn {
    /// Timeout of each read and write (`None`: wait forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    pub fn info(&self) -> Result<ConnInfo> {
        let mut i = sys::sy_conn_info::init();
        check_code(unsafe { sys::sy_conn_get_info(self.raw.as_ptr(), &mut i) })?;
        Ok(ConnInfo {
            fd: i.fd,
            tls: i.tls != 0,
            reused: i.reused != 0,
            port: i.port as u16,
            proxy_count: i.proxy_count,
            node: cstr_opt(i.node).unwrap_or_default(),
            host: cstr_opt(i.host).unwrap_or_default(),
            peer: cstr_opt(i.peer).unwrap_or_default(),
            tls_version: cstr_opt(i.tls_version),
            tls_ciphersuite: cstr_opt(i.tls_ciphersuite),
        })
    }

    /// Sends all of `buf` (the same over TCP and TLS).
    pub fn send(&mut self, buf: &[u8]) -> Result<()> {
        let mut err = sys::sy_error::init();
        let rc = unsafe {
            sys::sy_conn_send(self.raw.as_ptr(), buf.as_ptr().cast(), buf.len(), millis(self.timeout), &mut err)
        };
        check(rc, &err)
    }

    /// Receives up to `buf.len()` bytes (at least one); `Ok(0)`: the peer closed.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut err = sys::sy_error::init();
        let mut got = 0usize;
        let rc = unsafe {
            sys::sy_conn_recv(
                self.raw.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                millis(self.timeout),
                &mut got,
                &mut err,
            )
        };
        check(rc, &err)?;
        Ok(got)
    }

    /// Hands the connection back to its endpoint's pool.
    pub fn release(self) {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        unsafe { sys::sy_conn_release(raw) }
    }

    /// Closes the connection now (the same as dropping it).
    pub fn close(self) {}

    pub fn as_raw(&self) -> *mut sys::sy_conn {
        self.raw.as_ptr()
    }
}

impl io::Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.recv(buf)?)
    }
}

impl io::Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        unsafe { sys::sy_conn_close(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn").field("info", &self.info().ok()).finish()
    }
}

// ====================================================================== static routes

/// `enum sy_route_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    Static = 1,
    Proxy = 2,
}

/// A route as the table reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub kind: RouteKind,
    pub pattern: String,
    pub weight: i32,
    /// Place in the lookup order of its kind, from 0.
    pub position: u32,
    /// The route as a config element, normalised.
    pub json: String,
}

/// static_routes' run-time table of a router. Thread-safe (changes are
/// serialised in the plugin); borrows the router.
///
/// It follows [`Router::reload`]: after one, its methods work on the
/// static_routes instance of the new chain (the same one when the plugin and
/// its config are unchanged), or fail with `SY_EUNKNOWN` when the new chain
/// has none. A reload waits for the table calls in progress.
pub struct StaticRoutes<'r> {
    router: &'r Router,
    cache: Mutex<IfaceCache>,
}

/// A plugin interface's pointers and the reload count they belong to.
struct IfaceCache {
    reloads: u64,
    table: *const sys::sy_static_routes_table,
    instance: *mut c_void,
}

// SAFETY: the table's methods are documented thread-safe; the pointers are
// only used under the router's `ifaces` lock, which keeps reloads (and so
// the instance's destruction) out.
unsafe impl Send for StaticRoutes<'_> {}
unsafe impl Sync for StaticRoutes<'_> {}

impl fmt::Debug for StaticRoutes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticRoutes").finish_non_exhaustive()
    }
}

unsafe extern "C" fn visit_trampoline(route: *const sys::sy_route_info, user: *mut c_void) -> c_int {
    let out = &mut *(user as *mut Vec<RouteInfo>);
    let r = &*route;
    out.push(RouteInfo {
        kind: if r.kind == sys::SY_ROUTE_PROXY { RouteKind::Proxy } else { RouteKind::Static },
        pattern: cstr_opt(r.pattern).unwrap_or_default(),
        weight: r.weight,
        position: r.position,
        json: cstr_opt(r.json).unwrap_or_default(),
    });
    0
}

impl StaticRoutes<'_> {
    /// Runs `f` with the current table and instance, valid for the whole
    /// call: no reload runs meanwhile.
    fn with<T>(&self, f: impl FnOnce(&sys::sy_static_routes_table, *mut c_void) -> Result<T>) -> Result<T> {
        let reloads = self.router.ifaces.read().unwrap_or_else(PoisonError::into_inner);
        let (table, instance) = {
            let mut c = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if c.reloads != *reloads {
                let (table, instance) = self.router.static_routes_raw()?;
                *c = IfaceCache { reloads: *reloads, table, instance };
            }
            (c.table, c.instance)
        };
        // SAFETY: the router's current chain holds this instance until the
        // next reload, which waits for `reloads` to be dropped.
        let r = f(unsafe { &*table }, instance);
        drop(reloads);
        r
    }

    /// Adds a route (one element of `routes` or `proxy_routes`, as JSON).
    pub fn add(&self, kind: RouteKind, route_json: &str) -> Result<()> {
        let c = cstring(route_json)?;
        self.with(|t, instance| {
            let f = t.add.ok_or_else(|| Error::from_code(sys::SY_EUNSUPPORTED))?;
            let mut err = sys::sy_error::init();
            let rc = unsafe { f(instance, kind as u32, c.as_ptr(), route_json.len(), &mut err) };
            check(rc, &err)
        })
    }

    /// Removes the route whose pattern text is exactly `pattern`.
    pub fn remove(&self, kind: RouteKind, pattern: &str) -> Result<()> {
        let c = cstring(pattern)?;
        self.with(|t, instance| {
            let f = t.remove.ok_or_else(|| Error::from_code(sys::SY_EUNSUPPORTED))?;
            let mut err = sys::sy_error::init();
            let rc = unsafe { f(instance, kind as u32, c.as_ptr(), &mut err) };
            check(rc, &err)
        })
    }

    /// Every route matching `name`, in lookup order (`SY_ENOROUTE` if none).
    pub fn query(&self, name: &str) -> Result<Vec<RouteInfo>> {
        let c = cstring(name)?;
        self.with(|t, instance| {
            let f = t.query.ok_or_else(|| Error::from_code(sys::SY_EUNSUPPORTED))?;
            let mut out: Vec<RouteInfo> = Vec::new();
            let mut err = sys::sy_error::init();
            let rc = unsafe {
                f(instance, c.as_ptr(), Some(visit_trampoline), (&mut out as *mut Vec<RouteInfo>).cast(), &mut err)
            };
            check(rc, &err)?;
            Ok(out)
        })
    }

    /// Every route, static then proxy, in lookup order.
    pub fn list(&self) -> Result<Vec<RouteInfo>> {
        self.with(|t, instance| {
            let f = t.list.ok_or_else(|| Error::from_code(sys::SY_EUNSUPPORTED))?;
            let mut out: Vec<RouteInfo> = Vec::new();
            let mut err = sys::sy_error::init();
            let rc = unsafe { f(instance, Some(visit_trampoline), (&mut out as *mut Vec<RouteInfo>).cast(), &mut err) };
            check(rc, &err)?;
            Ok(out)
        })
    }
}
