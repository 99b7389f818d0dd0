package switchyard

/*
#include <stdlib.h>
#include <string.h>
#include <switchyard/switchyard.h>

// What a reload returns: its status, err (the first error) and every error
// the library reported, copied by sy_go_reload_collect into a C array (no
// callback into Go). Freed with sy_go_reload_free.
typedef struct sy_go_reload {
	int rc;
	sy_error err;
	sy_error *diags;
	size_t count, cap;
	size_t lost; // reported errors not kept for lack of memory
} sy_go_reload;

static void sy_go_reload_collect(const sy_error *e, void *u) {
	sy_go_reload *r = (sy_go_reload *)u;
	if (r->count == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 8;
		sy_error *n = (sy_error *)realloc(r->diags, cap * sizeof *n);
		if (!n) {
			r->lost++;
			return;
		}
		r->diags = n;
		r->cap = cap;
	}
	sy_error *d = &r->diags[r->count++];
	memset(d, 0, sizeof *d);
	size_t n = e->struct_size < sizeof *d ? e->struct_size : sizeof *d;
	memcpy(d, e, n);
	d->struct_size = sizeof *d;
	d->path[SY_ERROR_PATH_MAX - 1] = 0;
	d->message[SY_ERROR_MESSAGE_MAX - 1] = 0;
}

// sy_router_reload (path == NULL) or sy_router_reload_file. NULL when out
// of memory.
static sy_go_reload *sy_go_reload_run(uintptr_t router, const char *json, size_t len, const char *path) {
	sy_go_reload *r = (sy_go_reload *)calloc(1, sizeof *r);
	if (!r) return NULL;
	r->err.struct_size = sizeof r->err;
	sy_router *rt = (sy_router *)router;
	if (path)
		r->rc = sy_router_reload_file(rt, path, sy_go_reload_collect, r, &r->err);
	else
		r->rc = sy_router_reload(rt, json, len, sy_go_reload_collect, r, &r->err);
	return r;
}

static void sy_go_reload_free(sy_go_reload *r) {
	if (r) free(r->diags);
	free(r);
}
*/
import "C"

import (
	"strconv"
	"strings"
	"unsafe"
)

// ReloadError is a refused reload: every error the library found in the
// new config (not only the first), in the order it reported them. The
// router keeps its previous configuration.
//
// errors.Is(err, ErrPlugin) is true when any of the errors has that code;
// errors.As(err, &e) with e an *Error gives the first one (Unwrap), whose
// code is the reload's status.
type ReloadError struct {
	Errors []*Error // at least one
}

func (e *ReloadError) Error() string {
	if len(e.Errors) == 0 {
		return "switchyard: reload refused"
	}
	if len(e.Errors) == 1 {
		return e.Errors[0].Error()
	}
	var b strings.Builder
	b.WriteString("switchyard: reload refused, ")
	b.WriteString(strconv.Itoa(len(e.Errors)))
	b.WriteString(" errors: ")
	for i, x := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.TrimPrefix(x.Error(), "switchyard: "))
	}
	return b.String()
}

// Unwrap returns the first error: the reload's status.
func (e *ReloadError) Unwrap() error {
	if len(e.Errors) == 0 {
		return nil
	}
	return e.Errors[0]
}

// Is reports whether any of the errors matches target (see Error.Is).
func (e *ReloadError) Is(target error) bool {
	for _, x := range e.Errors {
		if x.Is(target) {
			return true
		}
	}
	return false
}

// Reload replaces the router's configuration (plugin chain, connect
// settings, topology defaults) with config, atomically (sy_router_reload):
// plans already started finish on the old chain, later ones use the new
// one; a stage whose plugin and config are unchanged keeps its instance and
// state. Plans, connects and topology updates go on meanwhile, from any
// goroutine; reloads are serialized. Relative plugin_path entries are
// resolved against Options.BaseDir.
//
// A config with errors changes nothing: the error is a *ReloadError listing
// every error found (or ErrClosed after Close).
func (r *Router) Reload(config []byte) error {
	if config == nil {
		config = []byte{}
	}
	return r.reload(config, "")
}

// ReloadFile is Reload with the config file at path (sy_router_reload_file);
// relative plugin_path entries are resolved against the file's directory.
func (r *Router) ReloadFile(path string) error {
	return r.reload(nil, path)
}

func (r *Router) reload(config []byte, path string) error {
	return r.use(func(cr *C.sy_router) error {
		var cpath *C.char
		if config == nil {
			cpath = C.CString(path)
			defer C.free(unsafe.Pointer(cpath))
		}
		js, jsLen := cBytes(config)
		// No call through a plugin interface runs during the reload, which
		// may destroy the instance it points to (see pluginIface).
		r.ifaceMu.Lock()
		res := C.sy_go_reload_run(cHandle(unsafe.Pointer(cr)), js, jsLen, cpath)
		if res != nil && res.rc == C.SY_OK {
			r.ifaceGen++
		}
		r.ifaceMu.Unlock()
		if res == nil {
			return newError(C.SY_ENOMEM, nil)
		}
		defer C.sy_go_reload_free(res)
		if res.rc == C.SY_OK {
			return nil
		}
		e := &ReloadError{}
		if n := int(res.count); n > 0 {
			diags := unsafe.Slice(res.diags, n)
			for i := range diags {
				code := diags[i].code
				if code == C.SY_OK {
					code = res.rc
				}
				e.Errors = append(e.Errors, newError(code, &diags[i]))
			}
		} else {
			// Failures before the config is read (a missing file) reach
			// err only.
			e.Errors = append(e.Errors, newError(res.rc, &res.err))
		}
		if res.lost > 0 {
			x := newError(C.SY_ENOMEM, nil)
			x.Message = strconv.Itoa(int(res.lost)) + " more error(s) lost: out of memory"
			e.Errors = append(e.Errors, x)
		}
		return e
	})
}
