package switchyard

/*
#include <stdlib.h>
#include <switchyard/switchyard.h>
*/
import "C"

import (
	"encoding/json"
	"unsafe"
)

// Consistency is an enum sy_consistency.
type Consistency uint32

const (
	ConsistencyUnset       Consistency = C.SY_CONSISTENCY_UNSET
	ConsistencyAny         Consistency = C.SY_CONSISTENCY_ANY
	ConsistencyOne         Consistency = C.SY_CONSISTENCY_ONE
	ConsistencyTwo         Consistency = C.SY_CONSISTENCY_TWO
	ConsistencyThree       Consistency = C.SY_CONSISTENCY_THREE
	ConsistencyQuorum      Consistency = C.SY_CONSISTENCY_QUORUM
	ConsistencyAll         Consistency = C.SY_CONSISTENCY_ALL
	ConsistencyLocalQuorum Consistency = C.SY_CONSISTENCY_LOCAL_QUORUM
	ConsistencyEachQuorum  Consistency = C.SY_CONSISTENCY_EACH_QUORUM
	ConsistencySerial      Consistency = C.SY_CONSISTENCY_SERIAL
	ConsistencyLocalSerial Consistency = C.SY_CONSISTENCY_LOCAL_SERIAL
	ConsistencyLocalOne    Consistency = C.SY_CONSISTENCY_LOCAL_ONE
)

// Entity names a sharded entity (shard_map).
type Entity struct {
	Type, ID string
}

// Request is what to route. Every field is optional; each plugin reads what
// it needs. A Request is plain Go data: it is turned into a sy_request for
// each call, so one Request may be used from many goroutines.
type Request struct {
	Key         []byte // partition key: the token is computed from it
	Token       *int64 // overrides the key's token
	Keyspace    string
	Table       string
	Consistency Consistency
	LWT         bool
	Node        string // a node name (static_routes)
	Entity      *Entity
	ContextJSON []byte // {"headers": {}, "session": {}, "query": {...}}

	json []byte // from RequestFromJSON: parsed first, then the fields above apply
}

// RequestFromJSON makes a request from the contract's request JSON (see
// README "A config"). The fields of the result, when set, apply on top.
// The JSON is checked for syntax here and for meaning at each call.
func RequestFromJSON(text []byte) (*Request, error) {
	if !json.Valid(text) {
		return nil, &Error{Code: C.SY_EREQUEST, Name: "SY_EREQUEST", Message: "request is not valid JSON"}
	}
	return &Request{json: append([]byte(nil), text...)}, nil
}

// build makes the C request; the caller frees it with sy_request_free.
func (q *Request) build(cr *C.sy_router) (*C.sy_request, error) {
	var req *C.sy_request
	cerr := newCError()
	if rc := C.sy_request_new(cr, &req, &cerr); rc != C.SY_OK {
		return nil, newError(rc, &cerr)
	}
	if q == nil {
		return req, nil
	}
	if err := q.fill(req, &cerr); err != nil {
		C.sy_request_free(req)
		return nil, err
	}
	return req, nil
}

func (q *Request) fill(req *C.sy_request, cerr *C.sy_error) error {
	check := func(rc C.int, field string) error {
		if rc == C.SY_OK {
			return nil
		}
		e := newError(rc, cerr)
		if e.Path == "" {
			e.Path = field
		}
		return e
	}
	str := func(s string, set func(*C.char) C.int, field string) error {
		if s == "" {
			return nil
		}
		cs := C.CString(s)
		defer C.free(unsafe.Pointer(cs))
		return check(set(cs), field)
	}
	bytes := func(b []byte, set func(*C.char, C.size_t) C.int, field string) error {
		if b == nil {
			return nil
		}
		p := C.CBytes(b)
		defer C.free(p)
		return check(set((*C.char)(p), C.size_t(len(b))), field)
	}
	steps := []func() error{
		func() error {
			return bytes(q.json, func(p *C.char, n C.size_t) C.int { return C.sy_request_parse_json(req, p, n, cerr) }, "")
		},
		func() error {
			return bytes(q.Key, func(p *C.char, n C.size_t) C.int { return C.sy_request_set_key(req, unsafe.Pointer(p), n) }, "key")
		},
		func() error {
			if q.Token == nil {
				return nil
			}
			return check(C.sy_request_set_token(req, C.int64_t(*q.Token)), "token")
		},
		func() error {
			return str(q.Keyspace, func(s *C.char) C.int { return C.sy_request_set_keyspace(req, s) }, "keyspace")
		},
		func() error {
			return str(q.Table, func(s *C.char) C.int { return C.sy_request_set_table(req, s) }, "table")
		},
		func() error {
			if q.Consistency == ConsistencyUnset {
				return nil
			}
			return check(C.sy_request_set_consistency(req, C.uint32_t(q.Consistency)), "consistency")
		},
		func() error {
			if !q.LWT {
				return nil
			}
			return check(C.sy_request_set_lwt(req, 1), "lwt")
		},
		func() error {
			return str(q.Node, func(s *C.char) C.int { return C.sy_request_set_node(req, s) }, "node")
		},
		func() error {
			if q.Entity == nil {
				return nil
			}
			t, id := C.CString(q.Entity.Type), C.CString(q.Entity.ID)
			defer C.free(unsafe.Pointer(t))
			defer C.free(unsafe.Pointer(id))
			return check(C.sy_request_set_entity(req, t, id), "entity")
		},
		func() error {
			return bytes(q.ContextJSON, func(p *C.char, n C.size_t) C.int {
				return C.sy_request_set_context_json(req, p, n, cerr)
			}, "context")
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
