package switchyard

// Go functions the C library calls back, through cgo handles. A file with
// //export may only declare in its preamble: the C trampolines that adapt
// the library's signatures live in router.go.

/*
#include <stdlib.h>
#include <switchyard/switchyard.h>
#include <switchyard/static_routes.h>
*/
import "C"

import (
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"
)

// callbacks is what a router's log_user_data / resolver user_data handle
// refers to. release deletes the handle once, whoever calls it first (the
// library's destroy callback, or Open after a failed creation).
type callbacks struct {
	handle cgo.Handle
	once   sync.Once
	log    func(level LogLevel, source, message string)

	resolve func(name string) ([]Endpoint, error)
	mu      sync.Mutex
	hosts   map[string]*C.char // host strings handed to the library, freed at release
}

// liveCallbacks counts the callback handles not yet released (for tests).
var liveCallbacks atomic.Int64

func newCallbacks(cb *callbacks) *callbacks {
	cb.handle = cgo.NewHandle(cb)
	liveCallbacks.Add(1)
	return cb
}

func (cb *callbacks) release() {
	cb.once.Do(func() {
		liveCallbacks.Add(-1)
		cb.handle.Delete()
		cb.mu.Lock()
		for _, p := range cb.hosts {
			C.free(unsafe.Pointer(p))
		}
		cb.hosts = nil
		cb.mu.Unlock()
	})
}

// cstring interns a host string for the resolver: the library copies it
// after the callback returns, so it has to outlive the call.
func (cb *callbacks) cstring(s string) *C.char {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.hosts == nil {
		cb.hosts = map[string]*C.char{}
	}
	p, ok := cb.hosts[s]
	if !ok {
		p = C.CString(s)
		cb.hosts[s] = p
	}
	return p
}

//export syGoLog
func syGoLog(level C.uint32_t, source, message *C.char, h C.uintptr_t) {
	cb := cgo.Handle(h).Value().(*callbacks)
	if cb.log != nil {
		cb.log(LogLevel(level), C.GoString(source), C.GoString(message))
	}
}

//export syGoRelease
func syGoRelease(h C.uintptr_t) {
	cgo.Handle(h).Value().(*callbacks).release()
}

//export syGoResolve
func syGoResolve(name *C.char, out *C.sy_endpoint, capacity C.size_t, h C.uintptr_t) C.int {
	cb := cgo.Handle(h).Value().(*callbacks)
	eps, err := cb.resolve(C.GoString(name))
	if err != nil {
		if e, ok := err.(*Error); ok && e.Code < 0 {
			return C.int(e.Code)
		}
		return C.SY_ECALLBACK
	}
	slots := unsafe.Slice(out, int(capacity))
	n := 0
	for _, ep := range eps {
		if n == len(slots) {
			break
		}
		slots[n].port = C.uint32_t(ep.Port)
		slots[n].host = cb.cstring(ep.Host)
		slots[n].tls = 0
		if ep.TLS {
			slots[n].tls = 1
		}
		n++
	}
	return C.int(n)
}

//export syGoRouteVisit
func syGoRouteVisit(info *C.sy_route_info, h C.uintptr_t) C.int {
	routes := cgo.Handle(h).Value().(*[]RouteInfo)
	*routes = append(*routes, RouteInfo{
		Kind:     RouteKind(info.kind),
		Pattern:  C.GoString(info.pattern),
		Weight:   int(info.weight),
		Position: int(info.position),
		JSON:     C.GoString(info.json),
	})
	return 0
}
