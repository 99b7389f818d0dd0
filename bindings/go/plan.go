package switchyard

/*
#include <stdlib.h>
#include <string.h>
#include <switchyard/switchyard.h>

// A plan in one C block: the target sy_plan_next fills, the request (freed
// with the plan), plan_init's status and error, then the plan's storage. Go
// hands C no Go pointer: with one, cgo checks the memory it points to on
// every call (for a sy_target, with its 26 pointer fields, that cost 3 times
// the call itself) and the variable moves to the Go heap. The C handles go
// as uintptr_t: they point to C memory, which the Go runtime neither moves
// nor frees, and a pointer argument, even to C memory, costs a check and an
// allocation per call.
typedef struct sy_go_plan {
	sy_target target;
	sy_plan *plan;
	sy_request *req;
	int rc;
	sy_error err;
} sy_go_plan;

// sy_router_plan_size, the storage's malloc and sy_plan_init in one call.
// NULL when out of memory; otherwise check rc (and err), then end it.
static sy_go_plan *sy_go_plan_start(uintptr_t router, uintptr_t request) {
	sy_router *r = (sy_router *)router;
	sy_request *req = (sy_request *)request;
	size_t size = sy_router_plan_size(r);
	if (size < sizeof(sy_plan_storage)) size = sizeof(sy_plan_storage);
	size_t head = (sizeof(sy_go_plan) + 15) & ~(size_t)15;
	sy_go_plan *p = (sy_go_plan *)malloc(head + size);
	if (!p) return NULL;
	p->plan = NULL;
	p->req = req;
	p->err.struct_size = sizeof p->err;
	p->err.code = 0;
	p->err.path[0] = p->err.message[0] = 0;
	p->rc = sy_plan_init(r, req, (char *)p + head, size, &p->plan, &p->err);
	return p;
}

static int sy_go_plan_next(uintptr_t plan) {
	sy_go_plan *p = (sy_go_plan *)plan;
	memset(&p->target, 0, sizeof p->target);
	p->target.struct_size = sizeof p->target;
	return sy_plan_next(p->plan, &p->target);
}

// Releases the plan, frees the request and the block.
static void sy_go_plan_end(uintptr_t plan) {
	sy_go_plan *p = (sy_go_plan *)plan;
	if (p->rc == SY_OK) sy_plan_release(p->plan);
	sy_request_free(p->req);
	free(p);
}
*/
import "C"

import (
	"time"
	"unsafe"
)

// Target flags (enum sy_target_flags), in Target.Flags.
const (
	TargetHasShard    = C.SY_TARGET_HAS_SHARD
	TargetHasWeight   = C.SY_TARGET_HAS_WEIGHT
	TargetTLS         = C.SY_TARGET_TLS
	TargetReplica     = C.SY_TARGET_REPLICA
	TargetDown        = C.SY_TARGET_DOWN
	TargetNoShardPort = C.SY_TARGET_NO_SHARD_PORT
)

// TLSProfile is a target's TLS material (static_routes' tls_profile).
type TLSProfile struct {
	InsecureSkipVerify bool
	CAFile, CADir      string
	CertFile, KeyFile  string
	ServerName         string
}

// ProxyHop is one hop a connection to a target tunnels through.
type ProxyHop struct {
	Protocol string // "http_connect" or "socks5"
	Node     string
	Host     string // "": resolved when connecting
	Port     int
	TLS      bool
	Cookie   string
}

// Target is one step of a plan, copied out of the C plan.
type Target struct {
	Node       string
	Host       string // "" when Error is set
	Port       int    // 0 when Error is set
	Shard      *int
	Weight     *int
	Datacenter string
	Rack       string
	URL        string
	TLS        bool
	Replica    bool
	Down       bool
	Error      string   // set when a translator could not translate the target
	Via        []string // the plugins that produced and translated it, in order
	ViaDetail  []string // what each one used, as JSON text ("" when nothing)
	Cookie     string
	TLSProfile *TLSProfile
	FlagNames  []string
	UserFlags  uint64
	LogLevel   LogLevel // 0: the router's
	Proxies    []ProxyHop
	Flags      uint32 // raw enum sy_target_flags
	NodeIndex  uint32 // index in the topology snapshot, or 0xFFFFFFFF
	Epoch      uint64 // snapshot the target came from
}

func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

func copyTarget(t *C.sy_target) Target {
	var g Target
	fillTarget(&g, t, nil)
	return g
}

// fillTarget copies t into *g (which it overwrites), its strings through
// cache (nil: a fresh copy of each).
func fillTarget(g *Target, t *C.sy_target, cache *strCache) {
	*g = Target{
		Node:       cache.get(t.node),
		Host:       cache.get(t.host),
		Port:       int(t.port),
		Datacenter: cache.get(t.datacenter),
		Rack:       cache.get(t.rack),
		URL:        cache.get(t.url),
		Error:      cache.get(t.error),
		Cookie:     cache.get(t.cookie),
		UserFlags:  uint64(t.user_flags),
		LogLevel:   LogLevel(t.log_level),
		Flags:      uint32(t.flags),
		NodeIndex:  uint32(t.node_index),
		Epoch:      uint64(t.epoch),
	}
	g.TLS = g.Flags&TargetTLS != 0
	g.Replica = g.Flags&TargetReplica != 0
	g.Down = g.Flags&TargetDown != 0
	if g.Flags&TargetHasShard != 0 {
		s := int(t.shard)
		g.Shard = &s
	}
	if g.Flags&TargetHasWeight != 0 {
		w := int(t.weight)
		g.Weight = &w
	}
	if n := int(t.via_count); n > 0 {
		if n > C.SY_VIA_MAX {
			n = C.SY_VIA_MAX
		}
		// One allocation for both slices (capped: appending to one
		// cannot overwrite the other).
		both := make([]string, 2*n)
		g.Via, g.ViaDetail = both[:n:n], both[n:]
		for i := 0; i < n; i++ {
			g.Via[i] = cache.get(t.via[i])
			g.ViaDetail[i] = cache.get(t.via_detail[i])
		}
	}
	if p := t.tls_profile; p != nil {
		g.TLSProfile = &TLSProfile{InsecureSkipVerify: p.insecure_skip_verify != 0,
			CAFile: cache.get(p.ca_file), CADir: cache.get(p.ca_dir), CertFile: cache.get(p.cert_file),
			KeyFile: cache.get(p.key_file), ServerName: cache.get(p.server_name)}
	}
	if t.flag_names != nil && t.flag_name_count > 0 {
		names := unsafe.Slice(t.flag_names, int(t.flag_name_count))
		g.FlagNames = make([]string, len(names))
		for i, n := range names {
			g.FlagNames[i] = cache.get(n)
		}
	}
	if t.proxies != nil && t.proxy_count > 0 {
		hops := unsafe.Slice(t.proxies, int(t.proxy_count))
		g.Proxies = make([]ProxyHop, len(hops))
		for i, h := range hops {
			proto := "http_connect"
			if h.protocol == C.SY_PROXY_SOCKS5 {
				proto = "socks5"
			}
			g.Proxies[i] = ProxyHop{Protocol: proto, Node: cache.get(h.node),
				Host: cache.get(h.host), Port: int(h.port), TLS: h.tls != 0, Cookie: cache.get(h.cookie)}
		}
	}
}

// strCache hands out the Go copies of C strings it has seen before, so that
// the targets of repeated plans share them instead of allocating each one
// again (node names, hosts, datacenters, plugin names come from the
// router's snapshot and repeat from plan to plan). A hit needs the same
// address and the same bytes, so a reused address never yields a stale
// string. 4-way set associative by address, 128 entries (3 KiB): a plan's
// couple of dozen strings rarely evict each other. Not safe for concurrent
// use.
type strCache struct {
	slots [strCacheSets * strCacheWays]struct {
		p uintptr
		s string
	}
	victim uint8 // the way replaced next, in turn
}

const (
	strCacheSetBits = 5
	strCacheSets    = 1 << strCacheSetBits
	strCacheWays    = 4
)

func (c *strCache) get(p *C.char) string {
	if p == nil {
		return ""
	}
	if c == nil {
		return C.GoString(p)
	}
	addr := uintptr(unsafe.Pointer(p))
	// Fibonacci hashing: strings packed a few bytes apart spread out.
	set := c.slots[(uint64(addr)*0x9E3779B97F4A7C15>>(64-strCacheSetBits))*strCacheWays:][:strCacheWays]
	for i := range set {
		if set[i].p == addr {
			if cStringIs(p, set[i].s) {
				return set[i].s
			}
			s := C.GoString(p) // the same address, another string now
			set[i].s = s
			return s
		}
	}
	s := C.GoString(p)
	slot := &set[c.victim%strCacheWays]
	c.victim++
	slot.p, slot.s = addr, s
	return s
}

// cStringIs reports whether the NUL-terminated p holds s, reading no byte
// past p's terminator (s, from C.GoString, holds no NUL).
func cStringIs(p *C.char, s string) bool {
	b := unsafe.Pointer(p)
	for i := 0; i < len(s); i++ {
		if *(*byte)(unsafe.Add(b, i)) != s[i] {
			return false
		}
	}
	return *(*byte)(unsafe.Add(b, len(s))) == 0
}

// Plan returns the targets for req, in order. An empty plan is an error
// (errors.Is(err, ErrNoRoute)).
func (r *Router) Plan(req *Request) ([]Target, error) {
	return r.PlanN(req, 0)
}

// PlanN is Plan stopping after at most limit targets (0: no limit); the
// plan is lazy, so the targets after the limit are never computed.
func (r *Router) PlanN(req *Request, limit int) ([]Target, error) {
	var targets []Target
	err := r.use(func(cr *C.sy_router) error {
		creq, err := req.build(cr)
		if err != nil {
			return err
		}
		p := C.sy_go_plan_start(cHandle(unsafe.Pointer(cr)), cHandle(unsafe.Pointer(creq)))
		if p == nil {
			C.sy_request_free(creq)
			return newError(C.SY_ENOMEM, nil)
		}
		ph := cHandle(unsafe.Pointer(p))
		defer C.sy_go_plan_end(ph)
		if p.rc != C.SY_OK {
			return newError(p.rc, &p.err)
		}
		for limit <= 0 || len(targets) < limit {
			rc := C.sy_go_plan_next(ph)
			if rc == 0 {
				break
			}
			if rc < 0 {
				return newError(rc, nil)
			}
			if targets == nil {
				// Room for a typical plan: a Target is large, regrowing copies it.
				size := planCapacity
				if limit > 0 && limit < size {
					size = limit
				}
				targets = make([]Target, 0, size)
			}
			targets = append(targets, copyTarget(&p.target))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return targets, nil
}

const planCapacity = 4

// cHandle passes a pointer to C memory (never Go memory) as an integer, so
// cgo neither checks it nor allocates for the check.
func cHandle(p unsafe.Pointer) C.uintptr_t { return C.uintptr_t(uintptr(p)) }

// OutcomeKind is an enum sy_outcome_kind.
type OutcomeKind uint32

const (
	OutcomeSuccess      OutcomeKind = C.SY_OUTCOME_SUCCESS
	OutcomeTimeout      OutcomeKind = C.SY_OUTCOME_TIMEOUT
	OutcomeRefused      OutcomeKind = C.SY_OUTCOME_REFUSED
	OutcomeReset        OutcomeKind = C.SY_OUTCOME_RESET
	OutcomeTLSError     OutcomeKind = C.SY_OUTCOME_TLS_ERROR
	OutcomeResolveError OutcomeKind = C.SY_OUTCOME_RESOLVE_ERROR
	OutcomeOverloaded   OutcomeKind = C.SY_OUTCOME_OVERLOADED
	OutcomeOtherError   OutcomeKind = C.SY_OUTCOME_OTHER_ERROR
)

var outcomeNames = [...]string{"success", "timeout", "refused", "reset", "tls_error",
	"resolve_error", "overloaded", "other_error"}

func (k OutcomeKind) String() string {
	if int(k) < len(outcomeNames) {
		return outcomeNames[k]
	}
	return "unknown"
}

// Outcome is what happened at a target.
type Outcome struct {
	Kind    OutcomeKind
	Latency time.Duration
}

// Report feeds what happened at a target (from Plan) back to the plugins
// that produced it (latency awareness, shard eviction...).
func (r *Router) Report(t Target, o Outcome) error {
	return r.use(func(cr *C.sy_router) error {
		ct := (*C.sy_target)(C.calloc(1, C.sizeof_sy_target))
		defer C.free(unsafe.Pointer(ct))
		var frees []*C.char
		cstr := func(s string) *C.char {
			if s == "" {
				return nil
			}
			p := C.CString(s)
			frees = append(frees, p)
			return p
		}
		defer func() {
			for _, p := range frees {
				C.free(unsafe.Pointer(p))
			}
		}()
		ct.struct_size = C.sizeof_sy_target
		ct.flags = C.uint32_t(t.Flags)
		ct.node = cstr(t.Node)
		ct.host = cstr(t.Host)
		ct.port = C.uint32_t(t.Port)
		if t.Shard != nil {
			ct.shard = C.int32_t(*t.Shard)
		}
		if t.Weight != nil {
			ct.weight = C.int32_t(*t.Weight)
		}
		ct.datacenter = cstr(t.Datacenter)
		ct.rack = cstr(t.Rack)
		ct.url = cstr(t.URL)
		ct.error = cstr(t.Error)
		ct.cookie = cstr(t.Cookie)
		for i, v := range t.Via {
			if i == C.SY_VIA_MAX {
				break
			}
			ct.via[i] = cstr(v)
			ct.via_count = C.uint32_t(i + 1)
		}
		ct.node_index = C.uint32_t(t.NodeIndex)
		ct.epoch = C.uint64_t(t.Epoch)
		ct.user_flags = C.uint64_t(t.UserFlags)
		ct.log_level = C.uint32_t(t.LogLevel)
		out := C.sy_outcome{struct_size: C.sizeof_sy_outcome, kind: C.uint32_t(o.Kind),
			latency_ns: C.uint64_t(o.Latency.Nanoseconds())}
		if rc := C.sy_router_report(cr, ct, &out); rc != C.SY_OK {
			return newError(rc, nil)
		}
		return nil
	})
}
