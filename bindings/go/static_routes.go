package switchyard

/*
#include <stdlib.h>
#include <switchyard/static_routes.h>

extern int syGoRouteVisit(sy_route_info *info, uintptr_t h);

static int sy_go_route_visit(const sy_route_info *info, void *u) {
	return syGoRouteVisit((sy_route_info *)info, (uintptr_t)u);
}
static int sy_go_sr_add(const void *t, void *i, uint32_t kind, const char *json, size_t len, sy_error *err) {
	return ((const sy_static_routes_table *)t)->add(i, kind, json, len, err);
}
static int sy_go_sr_remove(const void *t, void *i, uint32_t kind, const char *pattern, sy_error *err) {
	return ((const sy_static_routes_table *)t)->remove(i, kind, pattern, err);
}
static int sy_go_sr_query(const void *t, void *i, const char *name, uintptr_t h, sy_error *err) {
	return ((const sy_static_routes_table *)t)->query(i, name, sy_go_route_visit, (void *)h, err);
}
static int sy_go_sr_list(const void *t, void *i, uintptr_t h, sy_error *err) {
	return ((const sy_static_routes_table *)t)->list(i, sy_go_route_visit, (void *)h, err);
}
*/
import "C"

import (
	"encoding/json"
	"runtime/cgo"
	"unsafe"
)

// RouteKind is an enum sy_route_kind.
type RouteKind uint32

const (
	RouteStatic RouteKind = C.SY_ROUTE_STATIC // an element of "routes"
	RouteProxy  RouteKind = C.SY_ROUTE_PROXY  // an element of "proxy_routes"
)

// RouteInfo is a route of the static_routes table.
type RouteInfo struct {
	Kind     RouteKind
	Pattern  string
	Weight   int
	Position int    // place in the lookup order of its kind, from 0
	JSON     string // the route as a config element, normalised
}

// Route is a static route (one element of the config's "routes"); zero
// fields are left out. For other fields use AddJSON.
type Route struct {
	Pattern  string `json:"pattern"`
	Weight   int    `json:"weight,omitempty"`
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port,omitempty"`
	TLS      bool   `json:"tls,omitempty"`
	Resolver bool   `json:"resolver,omitempty"`
	Cookie   string `json:"cookie,omitempty"`
}

// StaticRoutes is the static_routes plugin's table ("static_routes.table"
// v1). Its methods are safe for concurrent use; each change publishes a new
// snapshot that new plans see.
//
// The table follows reloads (Router.Reload): after one, its methods work on
// the static_routes instance of the new chain (the same one when the
// plugin and its config are unchanged), or return ErrUnknown when the new
// chain has none.
type StaticRoutes struct {
	t *pluginIface
}

// StaticRoutes returns the table of the router's static_routes plugin
// (ErrUnknown when the chain has none).
func (r *Router) StaticRoutes() (*StaticRoutes, error) {
	t, err := r.lookupIface("static_routes", C.SY_STATIC_ROUTES_TABLE, C.SY_STATIC_ROUTES_TABLE_VERSION)
	if err != nil {
		return nil, err
	}
	return &StaticRoutes{t: t}, nil
}

// Add adds a static route (ErrTaken if one has the same pattern text).
func (s *StaticRoutes) Add(route Route) error {
	js, err := json.Marshal(route)
	if err != nil {
		return err
	}
	return s.AddJSON(RouteStatic, js)
}

// AddJSON adds a route of that kind given as its config element.
func (s *StaticRoutes) AddJSON(kind RouteKind, route []byte) error {
	return s.t.call(func(vt, inst unsafe.Pointer) error {
		buf := C.CBytes(route)
		defer C.free(buf)
		cerr := newCError()
		if rc := C.sy_go_sr_add(vt, inst, C.uint32_t(kind), (*C.char)(buf), C.size_t(len(route)), &cerr); rc != C.SY_OK {
			return newError(rc, &cerr)
		}
		return nil
	})
}

// Remove removes the route of that kind whose pattern text is exactly
// pattern (ErrUnknown if none).
func (s *StaticRoutes) Remove(kind RouteKind, pattern string) error {
	return s.t.call(func(vt, inst unsafe.Pointer) error {
		cp := C.CString(pattern)
		defer C.free(unsafe.Pointer(cp))
		cerr := newCError()
		if rc := C.sy_go_sr_remove(vt, inst, C.uint32_t(kind), cp, &cerr); rc != C.SY_OK {
			return newError(rc, &cerr)
		}
		return nil
	})
}

// Query returns every route matching name, in lookup order (ErrNoRoute if
// none).
func (s *StaticRoutes) Query(name string) ([]RouteInfo, error) {
	return s.visit(func(vt, inst unsafe.Pointer, h C.uintptr_t, cerr *C.sy_error) C.int {
		cn := C.CString(name)
		defer C.free(unsafe.Pointer(cn))
		return C.sy_go_sr_query(vt, inst, cn, h, cerr)
	})
}

// List returns every route, static then proxy, in lookup order.
func (s *StaticRoutes) List() ([]RouteInfo, error) {
	return s.visit(func(vt, inst unsafe.Pointer, h C.uintptr_t, cerr *C.sy_error) C.int {
		return C.sy_go_sr_list(vt, inst, h, cerr)
	})
}

func (s *StaticRoutes) visit(call func(vt, inst unsafe.Pointer, h C.uintptr_t, cerr *C.sy_error) C.int) ([]RouteInfo, error) {
	var routes []RouteInfo
	err := s.t.call(func(vt, inst unsafe.Pointer) error {
		h := cgo.NewHandle(&routes)
		defer h.Delete()
		cerr := newCError()
		if rc := call(vt, inst, C.uintptr_t(h), &cerr); rc != C.SY_OK {
			return newError(rc, &cerr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return routes, nil
}
