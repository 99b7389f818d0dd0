package switchyard

/*
#include <stdlib.h>
#include <string.h>
#include <switchyard/switchyard.h>

extern void syGoLog(uint32_t level, char *source, char *message, uintptr_t h);
extern void syGoRelease(uintptr_t h);
extern int syGoResolve(char *name, sy_endpoint *out, size_t cap, uintptr_t h);

static void sy_go_log(uint32_t level, const char *source, const char *message, void *u) {
	syGoLog(level, (char *)source, (char *)message, (uintptr_t)u);
}
static void sy_go_release(void *u) { syGoRelease((uintptr_t)u); }
static int sy_go_resolve(const char *name, sy_endpoint *out, size_t cap, void *u) {
	return syGoResolve((char *)name, out, cap, (uintptr_t)u);
}

static void sy_go_set_log(sy_router_options *o, uintptr_t h) {
	o->log = sy_go_log;
	o->log_user_data = (void *)h;
	o->log_destroy = sy_go_release;
}
static void sy_go_set_resolver(sy_resolver *r, uintptr_t h) {
	r->resolve = sy_go_resolve;
	r->user_data = (void *)h;
	r->destroy = sy_go_release;
}
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// LogLevel is an enum sy_log_level.
type LogLevel uint32

const (
	LogError LogLevel = C.SY_LOG_ERROR
	LogWarn  LogLevel = C.SY_LOG_WARN
	LogInfo  LogLevel = C.SY_LOG_INFO
	LogDebug LogLevel = C.SY_LOG_DEBUG
	LogTrace LogLevel = C.SY_LOG_TRACE
)

// Endpoint is what a resolver answers a node name with.
type Endpoint struct {
	Host string
	Port int
	TLS  bool
}

// Options are the router options (sy_router_options). The zero value, like
// a nil *Options, means the library's defaults.
type Options struct {
	// Log receives the library's messages up to LogLevel (0: LogWarn). It
	// may be called from any thread, concurrently.
	Log      func(level LogLevel, source, message string)
	LogLevel LogLevel
	// PluginPath is searched before the config's plugin_path; relative
	// entries of the config are tried against BaseDir too.
	PluginPath []string
	BaseDir    string
	// Resolve answers a node name for plugins that fall back to the host's
	// resolver (static_routes). nil: none. It must be safe for concurrent
	// use (it is never called concurrently for one name). Answers are
	// cached for ResolveTTL (0: 5 s), ResolveCacheEntries names (0: 256).
	Resolve             func(name string) ([]Endpoint, error)
	ResolveTTL          time.Duration
	ResolveCacheEntries int
}

// Router is a loaded config: a topology and a plugin chain. It is safe for
// concurrent use; Close frees it (a finalizer does if it is forgotten).
type Router struct {
	mu sync.RWMutex // held shared by every call into the C router, exclusively by Close
	r  *C.sy_router

	// A reload may destroy the plugin instances that interface pointers
	// (StaticRoutes, ClientRoutes) refer to: ifaceMu is held shared by every
	// call through such a pointer and exclusively by Reload, always inside
	// mu (shared). ifaceGen counts reloads; a pluginIface looks its pointers
	// up again when it changed.
	ifaceMu  sync.RWMutex
	ifaceGen uint64
}

// Open loads the config file at path. opts may be nil.
func Open(path string, opts *Options) (*Router, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return newRouter(opts, func(o *C.sy_router_options, out **C.sy_router, e *C.sy_error) C.int {
		return C.sy_router_new_from_file(cpath, o, out, e)
	})
}

// OpenConfig loads a config given as JSON text. opts may be nil.
func OpenConfig(config []byte, opts *Options) (*Router, error) {
	buf := C.CBytes(config)
	defer C.free(buf)
	return newRouter(opts, func(o *C.sy_router_options, out **C.sy_router, e *C.sy_error) C.int {
		return C.sy_router_new((*C.char)(buf), C.size_t(len(config)), o, out, e)
	})
}

func newRouter(opts *Options, create func(*C.sy_router_options, **C.sy_router, *C.sy_error) C.int) (*Router, error) {
	// The options and everything they point to live in C memory for the call.
	copts := (*C.sy_router_options)(C.calloc(1, C.sizeof_sy_router_options))
	copts.struct_size = C.sizeof_sy_router_options
	var frees []unsafe.Pointer
	var cbs []*callbacks
	defer func() {
		for _, p := range frees {
			C.free(p)
		}
		C.free(unsafe.Pointer(copts))
	}()
	if opts != nil {
		copts.log_level = C.uint32_t(opts.LogLevel)
		if opts.Log != nil {
			cb := newCallbacks(&callbacks{log: opts.Log})
			cbs = append(cbs, cb)
			C.sy_go_set_log(copts, C.uintptr_t(cb.handle))
		}
		if n := len(opts.PluginPath); n > 0 {
			arr := (**C.char)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
			frees = append(frees, unsafe.Pointer(arr))
			for i, p := range opts.PluginPath {
				cs := C.CString(p)
				frees = append(frees, unsafe.Pointer(cs))
				unsafe.Slice(arr, n)[i] = cs
			}
			copts.plugin_path = arr
			copts.plugin_path_count = C.size_t(n)
		}
		if opts.BaseDir != "" {
			cs := C.CString(opts.BaseDir)
			frees = append(frees, unsafe.Pointer(cs))
			copts.base_dir = cs
		}
		if opts.Resolve != nil {
			cb := newCallbacks(&callbacks{resolve: opts.Resolve})
			cbs = append(cbs, cb)
			res := (*C.sy_resolver)(C.calloc(1, C.sizeof_sy_resolver))
			frees = append(frees, unsafe.Pointer(res))
			res.struct_size = C.sizeof_sy_resolver
			res.ttl_ms = C.uint32_t(opts.ResolveTTL / time.Millisecond)
			res.cache_entries = C.uint32_t(opts.ResolveCacheEntries)
			C.sy_go_set_resolver(res, C.uintptr_t(cb.handle))
			copts.resolver = res
		}
	}
	var out *C.sy_router
	cerr := newCError()
	if rc := create(copts, &out, &cerr); rc != C.SY_OK {
		// The library keeps the callbacks' user data only on success (and
		// may already have released it): release it, once.
		for _, cb := range cbs {
			cb.release()
		}
		return nil, newError(rc, &cerr)
	}
	r := &Router{r: out}
	runtime.SetFinalizer(r, (*Router).Close)
	return r, nil
}

// Close frees the router and the callbacks it holds. It waits for calls in
// progress; later calls return ErrClosed. Connections opened by the router
// stay usable. Close is idempotent and always returns nil.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.r != nil {
		C.sy_router_free(r.r)
		r.r = nil
		runtime.SetFinalizer(r, nil)
	}
	return nil
}

// use runs f with the C router held open, or returns ErrClosed.
func (r *Router) use(f func(*C.sy_router) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.r == nil {
		return ErrClosed
	}
	err := f(r.r)
	runtime.KeepAlive(r)
	return err
}

// Epoch is the number of the current topology snapshot (1 after creation),
// or 0 after Close.
func (r *Router) Epoch() uint64 {
	var ep uint64
	_ = r.use(func(cr *C.sy_router) error {
		ep = uint64(C.sy_router_epoch(cr))
		return nil
	})
	return ep
}

// Node is a topology node (the config's topology.nodes[] element).
type Node struct {
	ID         string
	Name       string
	Host       string
	Port       int
	Datacenter string
	Rack       string
	Shards     int
	Tokens     []int64
	Down       bool
}

// Keyspace is a keyspace's replication: SimpleStrategy with
// ReplicationFactor, or NetworkTopologyStrategy with DCs (datacenter name to
// replication factor).
type Keyspace struct {
	Name              string
	Strategy          string // "SimpleStrategy", "NetworkTopologyStrategy", "LocalStrategy"
	ReplicationFactor int
	DCs               map[string]int
}

// Topology is a whole topology, as UpdateTopology replaces it.
type Topology struct {
	Nodes     []Node
	Keyspaces []Keyspace
}

// MarshalJSON writes the config's {"nodes", "keyspaces"} form.
func (t Topology) MarshalJSON() ([]byte, error) {
	type node struct {
		ID         string   `json:"id,omitempty"`
		Name       string   `json:"name,omitempty"`
		Host       string   `json:"host"`
		Port       int      `json:"port"`
		Datacenter string   `json:"datacenter,omitempty"`
		Rack       string   `json:"rack,omitempty"`
		Shards     int      `json:"shards,omitempty"`
		Tokens     []string `json:"tokens,omitempty"` // strings: a double cannot hold every int64
		Up         bool     `json:"up"`
	}
	type keyspace struct {
		Name        string         `json:"name"`
		Strategy    string         `json:"strategy,omitempty"`
		Replication map[string]int `json:"replication,omitempty"`
	}
	nodes := make([]node, len(t.Nodes))
	for i, n := range t.Nodes {
		nodes[i] = node{ID: n.ID, Name: n.Name, Host: n.Host, Port: n.Port, Datacenter: n.Datacenter,
			Rack: n.Rack, Shards: n.Shards, Up: !n.Down}
		for _, tok := range n.Tokens {
			nodes[i].Tokens = append(nodes[i].Tokens, strconv.FormatInt(tok, 10))
		}
	}
	kss := make([]keyspace, len(t.Keyspaces))
	for i, k := range t.Keyspaces {
		rep := map[string]int{}
		for dc, rf := range k.DCs {
			rep[dc] = rf
		}
		if k.ReplicationFactor > 0 {
			rep["replication_factor"] = k.ReplicationFactor
		}
		kss[i] = keyspace{k.Name, k.Strategy, rep}
	}
	return json.Marshal(struct {
		Nodes     []node     `json:"nodes"`
		Keyspaces []keyspace `json:"keyspaces"`
	}{nodes, kss})
}

// UpdateTopology replaces the topology; plans already started keep the old
// snapshot.
func (r *Router) UpdateTopology(t Topology) error {
	js, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return r.UpdateTopologyJSON(js)
}

// UpdateTopologyJSON replaces the topology from its JSON form
// {"nodes": [...], "keyspaces": [...]}.
func (r *Router) UpdateTopologyJSON(topology []byte) error {
	return r.use(func(cr *C.sy_router) error {
		buf := C.CBytes(topology)
		defer C.free(buf)
		cerr := newCError()
		if rc := C.sy_router_update_topology_json(cr, (*C.char)(buf), C.size_t(len(topology)), &cerr); rc != C.SY_OK {
			return newError(rc, &cerr)
		}
		return nil
	})
}

// ConnectStats returns the per-endpoint connect statistics as JSON text.
func (r *Router) ConnectStats() ([]byte, error) {
	var out []byte
	err := r.use(func(cr *C.sy_router) error {
		size := C.size_t(4096)
		for {
			buf := (*C.char)(C.malloc(size))
			var n C.size_t
			cerr := newCError()
			rc := C.sy_router_connect_stats(cr, buf, size, &n, &cerr)
			if rc == C.SY_OK {
				out = C.GoBytes(unsafe.Pointer(buf), C.int(C.strlen(buf)))
			}
			C.free(unsafe.Pointer(buf))
			if rc == C.SY_ETOOSMALL && n > size {
				size = n
				continue
			}
			if rc != C.SY_OK {
				return newError(rc, &cerr)
			}
			return nil
		}
	})
	return out, err
}

// getInterface looks up a plugin's typed interface on an open router. The
// pointers stay valid until a reload replaces the plugin: use them under
// ifaceMu (see pluginIface).
func getInterface(cr *C.sy_router, plugin, name string, version int) (vtable, instance unsafe.Pointer, err error) {
	cp, cn := C.CString(plugin), C.CString(name)
	defer C.free(unsafe.Pointer(cp))
	defer C.free(unsafe.Pointer(cn))
	cerr := newCError()
	if rc := C.sy_router_get_interface(cr, cp, cn, C.uint32_t(version), &vtable, &instance, &cerr); rc != C.SY_OK {
		return nil, nil, newError(rc, &cerr)
	}
	return vtable, instance, nil
}

// pluginIface is a plugin's extension interface (its vtable and instance),
// looked up again after a reload, which may have replaced the instance or
// removed the plugin from the chain.
type pluginIface struct {
	r       *Router
	plugin  string
	name    string
	version int

	mu       sync.Mutex // guards the pointers and the generation they belong to
	gen      uint64
	vtable   unsafe.Pointer
	instance unsafe.Pointer
}

// lookupIface looks the interface up now, so that a chain without the
// plugin fails here (ErrUnknown).
func (r *Router) lookupIface(plugin, name string, version int) (*pluginIface, error) {
	p := &pluginIface{r: r, plugin: plugin, name: name, version: version}
	if err := p.call(func(unsafe.Pointer, unsafe.Pointer) error { return nil }); err != nil {
		return nil, err
	}
	return p, nil
}

// call runs f with the interface's current pointers, valid for the whole
// call: the router is held open and no reload runs meanwhile.
func (p *pluginIface) call(f func(vtable, instance unsafe.Pointer) error) error {
	return p.r.use(func(cr *C.sy_router) error {
		p.r.ifaceMu.RLock()
		defer p.r.ifaceMu.RUnlock()
		p.mu.Lock()
		if p.vtable == nil || p.gen != p.r.ifaceGen {
			vt, inst, err := getInterface(cr, p.plugin, p.name, p.version)
			if err != nil {
				p.mu.Unlock()
				return err
			}
			p.vtable, p.instance, p.gen = vt, inst, p.r.ifaceGen
		}
		vt, inst := p.vtable, p.instance
		p.mu.Unlock()
		return f(vt, inst)
	})
}

// Version is the version string of the library actually linked.
func Version() string { return C.GoString(C.sy_version_string()) }
