package switchyard

/*
#include <stdlib.h>
#include <switchyard/client_routes.h>

static int sy_go_cr_replace_all(const void *t, void *i, const char *json, size_t len, sy_error *err) {
	return ((const sy_client_routes_table *)t)->replace_all(i, json, len, err);
}
static int sy_go_cr_apply_event(const void *t, void *i, const char *json, size_t len, sy_error *err) {
	return ((const sy_client_routes_table *)t)->apply_event(i, json, len, err);
}
static int sy_go_cr_list(const void *t, void *i, char *out, size_t cap, size_t *len, sy_error *err) {
	return ((const sy_client_routes_table *)t)->list(i, out, cap, len, err);
}
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"unsafe"
)

// ClientRoute is a row of system.client_routes. A zero port is sent as
// null (a missing column).
type ClientRoute struct {
	ConnectionID string `json:"connection_id"`
	HostID       string `json:"host_id"`
	Address      string `json:"address"`
	Port         int    `json:"port,omitempty"`
	TLSPort      int    `json:"tls_port,omitempty"`
	// Sticky is set by List on the connection id its host uses; ignored
	// when sending rows.
	Sticky bool `json:"sticky,omitempty"`
}

// ClientRoutesEvent is a CLIENT_ROUTES_CHANGE event: pair i is
// (ConnectionIDs[i], HostIDs[i]) and Rows the rows re-read for those pairs.
type ClientRoutesEvent struct {
	Change        string        `json:"change"` // "UPDATE_NODES"
	ConnectionIDs []string      `json:"connection_ids"`
	HostIDs       []string      `json:"host_ids"`
	Rows          []ClientRoute `json:"rows"`
}

// ClientRoutes is the client_routes plugin's table ("client_routes.table"
// v1). Its methods are safe for concurrent use. Like StaticRoutes, it
// follows reloads: after one it works on the new chain's client_routes
// instance, or returns ErrUnknown when the new chain has none.
type ClientRoutes struct {
	t *pluginIface
}

// ClientRoutes returns the table of the router's client_routes plugin
// (ErrUnknown when the chain has none).
func (r *Router) ClientRoutes() (*ClientRoutes, error) {
	t, err := r.lookupIface("client_routes", C.SY_CLIENT_ROUTES_TABLE, C.SY_CLIENT_ROUTES_TABLE_VERSION)
	if err != nil {
		return nil, err
	}
	return &ClientRoutes{t: t}, nil
}

type crCall func(vt, inst unsafe.Pointer, json *C.char, n C.size_t, err *C.sy_error) C.int

func (c *ClientRoutes) send(v interface{}, call crCall) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.t.call(func(vt, inst unsafe.Pointer) error {
		buf := C.CBytes(js)
		defer C.free(buf)
		cerr := newCError()
		if rc := call(vt, inst, (*C.char)(buf), C.size_t(len(js)), &cerr); rc != C.SY_OK {
			return newError(rc, &cerr)
		}
		return nil
	})
}

// ReplaceAll is a full refresh: hosts absent from rows are dropped.
func (c *ClientRoutes) ReplaceAll(rows []ClientRoute) error {
	if rows == nil {
		rows = []ClientRoute{}
	}
	return c.send(rows, func(vt, inst unsafe.Pointer, js *C.char, n C.size_t, e *C.sy_error) C.int {
		return C.sy_go_cr_replace_all(vt, inst, js, n, e)
	})
}

// ApplyEvent applies a CLIENT_ROUTES_CHANGE event.
func (c *ClientRoutes) ApplyEvent(ev ClientRoutesEvent) error {
	if ev.Change == "" {
		ev.Change = "UPDATE_NODES"
	}
	if ev.Rows == nil {
		ev.Rows = []ClientRoute{}
	}
	return c.send(ev, func(vt, inst unsafe.Pointer, js *C.char, n C.size_t, e *C.sy_error) C.int {
		return C.sy_go_cr_apply_event(vt, inst, js, n, e)
	})
}

// List returns the current rows.
func (c *ClientRoutes) List() ([]ClientRoute, error) {
	var text []byte
	err := c.t.call(func(vt, inst unsafe.Pointer) error {
		size := C.size_t(4096)
		for {
			buf := (*C.char)(C.malloc(size))
			var n C.size_t
			cerr := newCError()
			rc := C.sy_go_cr_list(vt, inst, buf, size, &n, &cerr)
			if rc == C.SY_OK {
				text = bytes.TrimRight(C.GoBytes(unsafe.Pointer(buf), C.int(n)), "\x00")
			}
			C.free(unsafe.Pointer(buf))
			if rc == C.SY_ETOOSMALL && n >= size {
				size = n + 1
				continue
			}
			if rc != C.SY_OK {
				return newError(rc, &cerr)
			}
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	var rows []ClientRoute
	if err := json.Unmarshal(text, &rows); err != nil {
		return nil, err
	}
	return rows, nil
}
