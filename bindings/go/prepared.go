package switchyard

/*
#include <stdlib.h>
#include <string.h>
#include <switchyard/switchyard.h>

// A prepared request in one C block, kept from plan to plan: the target
// sy_plan_next fills, the open plan (NULL between plans), the request, the
// plan storage and the detail of a failed sy_plan_init. As for sy_go_plan
// (plan.go), Go hands C no Go pointer and passes the handles as uintptr_t.
typedef struct sy_go_prep {
	sy_target target;
	sy_plan *plan;
	sy_request *req;
	int init_failed; // the last sy_go_prep_first failed in sy_plan_init: err says why
	sy_error err;
	size_t size;
	void *storage;
} sy_go_prep;

// Takes ownership of request. NULL when out of memory (request not freed).
static sy_go_prep *sy_go_prep_new(uintptr_t request, size_t size) {
	sy_go_prep *p = (sy_go_prep *)calloc(1, sizeof *p);
	if (!p) return NULL;
	if (size < sizeof(sy_plan_storage)) size = sizeof(sy_plan_storage);
	p->storage = malloc(size); // malloc's alignment covers the plan's
	if (!p->storage) {
		free(p);
		return NULL;
	}
	p->size = size;
	p->req = (sy_request *)request;
	p->err.struct_size = sizeof p->err;
	return p;
}

// The next target into p->target: 1, or 0 at the end and < 0 on error, the
// plan then released.
static int sy_go_prep_next(uintptr_t prep) {
	sy_go_prep *p = (sy_go_prep *)prep;
	memset(&p->target, 0, sizeof p->target);
	p->target.struct_size = sizeof p->target;
	int rc = sy_plan_next(p->plan, &p->target);
	if (rc <= 0) {
		sy_plan_release(p->plan);
		p->plan = NULL;
	}
	return rc;
}

// Starts a plan and fetches its first target, in one call: sy_plan_init
// (the storage grows when a reload made the chain need more), then
// sy_go_prep_next. A failed sy_plan_init sets init_failed and err.
static int sy_go_prep_first(uintptr_t router, uintptr_t prep) {
	sy_go_prep *p = (sy_go_prep *)prep;
	sy_router *r = (sy_router *)router;
	if (p->plan) { // not expected: Go ends every plan it starts
		sy_plan_release(p->plan);
		p->plan = NULL;
	}
	p->init_failed = 0;
	for (int tries = 0;; tries++) {
		p->err.code = 0;
		p->err.path[0] = p->err.message[0] = 0;
		int rc = sy_plan_init(r, p->req, p->storage, p->size, &p->plan, &p->err);
		if (rc == SY_OK) break;
		p->plan = NULL;
		if (rc == SY_ETOOSMALL && tries < 4) {
			size_t need = sy_router_plan_size(r);
			if (need > p->size) {
				void *s = malloc(need);
				if (s) {
					free(p->storage);
					p->storage = s;
					p->size = need;
				}
			}
			if (need <= p->size) continue;
		}
		p->init_failed = 1;
		return rc;
	}
	return sy_go_prep_next(prep);
}

// Ends a plan stopped before its end.
static void sy_go_prep_stop(uintptr_t prep) {
	sy_go_prep *p = (sy_go_prep *)prep;
	if (p->plan) sy_plan_release(p->plan);
	p->plan = NULL;
}

// Frees the request, the storage and the block. No plan is open here (Go
// ends each one within the call that started it, with the router held
// open): releasing one now could outlive the router.
static void sy_go_prep_free(uintptr_t prep) {
	sy_go_prep *p = (sy_go_prep *)prep;
	sy_request_free(p->req);
	free(p->storage);
	free(p);
}
*/
import "C"

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// livePrepared counts the PreparedRequests not yet freed (for tests).
var livePrepared atomic.Int64

// PreparedRequest is a Request built into a C request once, together with
// its plan storage, for planning the same request many times: a plan then
// costs no request rebuild (no JSON parse, no setters), no allocation in C,
// and one cgo call per target plus one (Router.Plan costs a rebuild and
// three more calls). The strings of its targets are shared with those of
// earlier plans when they are the same (Go strings are immutable), which
// saves most of the allocations of a plan. It sees the Request as it was
// when prepared; later changes to the Request do not reach it.
//
// Plans of a PreparedRequest follow the router: after a Reload or a
// topology update they use the new chain or snapshot.
//
// Concurrency: a C request and its plan storage have one owner, so the
// plans of one PreparedRequest are serialised by a mutex held for the whole
// plan. It is safe to share, but goroutines that plan in parallel should
// each prepare their own (they then run concurrently, like Router.Plan).
//
// Close frees it; a finalizer does if it is forgotten. After Close, or
// after its Router's Close, plans return ErrClosed.
type PreparedRequest struct {
	mu    sync.Mutex // held for each plan and by Close
	r     *Router
	p     *C.sy_go_prep
	cache strCache // the strings of earlier plans, shared by their targets
	last  int      // targets in the last plan: the room Plan makes for the next
}

// Prepare builds req (nil: an empty request) into a PreparedRequest of this
// router. A request the library rejects fails here, with the same error
// Plan would return.
func (r *Router) Prepare(req *Request) (*PreparedRequest, error) {
	var pr *PreparedRequest
	err := r.use(func(cr *C.sy_router) error {
		creq, err := req.build(cr)
		if err != nil {
			return err
		}
		p := C.sy_go_prep_new(cHandle(unsafe.Pointer(creq)), C.sy_router_plan_size(cr))
		if p == nil {
			C.sy_request_free(creq)
			return newError(C.SY_ENOMEM, nil)
		}
		pr = &PreparedRequest{r: r, p: p}
		livePrepared.Add(1)
		runtime.SetFinalizer(pr, (*PreparedRequest).Close)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pr, nil
}

// Plan returns the targets of the prepared request, in order, as
// Router.Plan does.
func (p *PreparedRequest) Plan() ([]Target, error) {
	return p.PlanN(0)
}

// PlanN is Plan stopping after at most limit targets (0: no limit).
func (p *PreparedRequest) PlanN(limit int) ([]Target, error) {
	targets, err := p.AppendPlan(nil, limit)
	if err != nil {
		return nil, err
	}
	return targets, nil
}

// AppendPlan appends the targets of the prepared request (at most limit; 0:
// no limit) to dst and returns the extended slice, so that a caller can
// reuse one slice from plan to plan. On error it returns dst unchanged.
func (p *PreparedRequest) AppendPlan(dst []Target, limit int) ([]Target, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p == nil {
		return dst, ErrClosed
	}
	r := p.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.r == nil {
		return dst, ErrClosed
	}
	ph := cHandle(unsafe.Pointer(p.p))
	start := len(dst)
	rc := C.sy_go_prep_first(cHandle(unsafe.Pointer(r.r)), ph)
	for rc > 0 {
		if dst == nil {
			// Room for as many targets as last time (a typical plan before
			// the first): a Target is large, regrowing copies it.
			size := p.last
			if size == 0 {
				size = planCapacity
			}
			if limit > 0 && limit < size {
				size = limit
			}
			dst = make([]Target, 0, size)
		}
		dst = append(dst, Target{})
		fillTarget(&dst[len(dst)-1], &p.p.target, &p.cache)
		if limit > 0 && len(dst)-start >= limit {
			C.sy_go_prep_stop(ph)
			break
		}
		rc = C.sy_go_prep_next(ph)
	}
	runtime.KeepAlive(p)
	if limit <= 0 && rc == 0 {
		p.last = len(dst) - start
	}
	if rc < 0 {
		if p.p.init_failed != 0 {
			return dst[:start], newError(rc, &p.p.err)
		}
		return dst[:start], newError(rc, nil)
	}
	return dst, nil
}

// Close frees the C request and the plan storage. It waits for a plan in
// progress; later plans return ErrClosed. Close is idempotent and always
// returns nil.
func (p *PreparedRequest) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p != nil {
		C.sy_go_prep_free(cHandle(unsafe.Pointer(p.p)))
		p.p = nil
		livePrepared.Add(-1)
		runtime.SetFinalizer(p, nil)
	}
	return nil
}
