package switchyard

/*
#include <stdlib.h>
#include <string.h>
#include <switchyard/switchyard.h>

// What sy_go_request_build returns: the request, or the failure: its code,
// the library's detail (malloc'd, for Go to read and free; NULL if out of
// memory) and the step that failed.
typedef struct sy_go_built {
	sy_request *req;
	sy_error *err;
	int rc;
	const char *field;
} sy_go_built;

static sy_go_built sy_go_build_fail(sy_request *req, int rc, const sy_error *e, const char *field) {
	sy_go_built b = {NULL, NULL, rc, field};
	sy_request_free(req);
	b.err = (sy_error *)malloc(sizeof *b.err);
	if (b.err) memcpy(b.err, e, sizeof *e);
	return b;
}

// The whole request in one cgo call, in the order Request documents: the
// JSON first, then the fields. Every cgo call costs about 60 ns, more than
// most setters, and a Go pointer to a sy_error would escape to the heap: so
// the error lives on the C stack here and reaches Go only on failure.
// Strings are NUL-terminated; NULL (or has_* = 0) means unset.
static sy_go_built sy_go_request_build(uintptr_t router, const char *json, size_t json_len,
		const char *key, size_t key_len, int has_key, int has_token, int64_t token,
		const char *keyspace, const char *table, uint32_t consistency, int lwt,
		const char *node, const char *entity_type, const char *entity_id,
		const char *context, size_t context_len) {
	sy_router *r = (sy_router *)router;
	sy_error e;
	e.struct_size = sizeof e;
	e.code = 0;
	e.path[0] = e.message[0] = 0;
	sy_go_built b = {NULL, NULL, SY_OK, ""};
	int rc = sy_request_new(r, &b.req, &e);
	if (rc != SY_OK) return sy_go_build_fail(NULL, rc, &e, "");
	sy_request *q = b.req;
	if (json && (rc = sy_request_parse_json(q, json, json_len, &e)) != SY_OK)
		return sy_go_build_fail(q, rc, &e, "");
	if (has_key && (rc = sy_request_set_key(q, key, key_len)) != SY_OK)
		return sy_go_build_fail(q, rc, &e, "key");
	if (has_token && (rc = sy_request_set_token(q, token)) != SY_OK)
		return sy_go_build_fail(q, rc, &e, "token");
	if (keyspace && (rc = sy_request_set_keyspace(q, keyspace)) != SY_OK)
		return sy_go_build_fail(q, rc, &e, "keyspace");
	if (table && (rc = sy_request_set_table(q, table)) != SY_OK)
		return sy_go_build_fail(q, rc, &e, "table");
	if (consistency && (rc = sy_request_set_consistency(q, consistency)) != SY_OK)
		return sy_go_build_fail(q, rc, &e, "consistency");
	if (lwt && (rc = sy_request_set_lwt(q, 1)) != SY_OK)
		return sy_go_build_fail(q, rc, &e, "lwt");
	if (node && (rc = sy_request_set_node(q, node)) != SY_OK)
		return sy_go_build_fail(q, rc, &e, "node");
	if (entity_type && (rc = sy_request_set_entity(q, entity_type, entity_id)) != SY_OK)
		return sy_go_build_fail(q, rc, &e, "entity");
	if (context && (rc = sy_request_set_context_json(q, context, context_len, &e)) != SY_OK)
		return sy_go_build_fail(q, rc, &e, "context");
	return b;
}
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
// One cgo call (sy_go_request_build) does it all; byte fields are passed
// without a copy (the library copies what it keeps, and the memory holds no
// Go pointers), strings as NUL-terminated copies in one Go buffer.
func (q *Request) build(cr *C.sy_router) (*C.sy_request, error) {
	if q == nil {
		q = &Request{}
	}
	n := 0
	for _, s := range [...]string{q.Keyspace, q.Table, q.Node} {
		if s != "" {
			n += len(s) + 1
		}
	}
	if q.Entity != nil {
		n += len(q.Entity.Type) + len(q.Entity.ID) + 2
	}
	buf := make([]byte, 0, n)
	cstr := func(s string, always bool) *C.char {
		if s == "" && !always {
			return nil
		}
		off := len(buf)
		buf = append(append(buf, s...), 0) // within cap: earlier pointers stay valid
		return (*C.char)(unsafe.Pointer(&buf[off]))
	}
	keyspace, table, node := cstr(q.Keyspace, false), cstr(q.Table, false), cstr(q.Node, false)
	var etype, eid *C.char
	if q.Entity != nil {
		etype, eid = cstr(q.Entity.Type, true), cstr(q.Entity.ID, true)
	}
	js, jsLen := cBytes(q.json)
	key, keyLen := cBytes(q.Key)
	ctx, ctxLen := cBytes(q.ContextJSON)
	var hasToken C.int
	var token C.int64_t
	if q.Token != nil {
		hasToken, token = 1, C.int64_t(*q.Token)
	}
	var lwt C.int
	if q.LWT {
		lwt = 1
	}
	b := C.sy_go_request_build(cHandle(unsafe.Pointer(cr)), js, jsLen, key, keyLen, cBool(q.Key != nil),
		hasToken, token, keyspace, table, C.uint32_t(q.Consistency), lwt, node, etype, eid, ctx, ctxLen)
	if b.rc == C.SY_OK {
		return b.req, nil
	}
	e := newError(b.rc, b.err)
	C.free(unsafe.Pointer(b.err))
	if e.Path == "" {
		e.Path = C.GoString(b.field)
	}
	return nil, e
}

var emptyBytes [1]byte

// cBytes passes b's memory to C for the length of a call: nil stays NULL,
// an empty slice becomes a valid pointer and 0.
func cBytes(b []byte) (*C.char, C.size_t) {
	if b == nil {
		return nil, 0
	}
	if len(b) == 0 {
		return (*C.char)(unsafe.Pointer(&emptyBytes[0])), 0
	}
	return (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

func cBool(v bool) C.int {
	if v {
		return 1
	}
	return 0
}
