package switchyard

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestPreparedRequest(t *testing.T) {
	r := roundRobin(t, nil)
	req := &Request{Keyspace: "shop", Key: []byte("user:42")}
	p, err := r.Prepare(req)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	firsts := map[string]bool{}
	for i := 0; i < 3; i++ {
		plan, err := p.Plan()
		if err != nil || planKind(plan) != "mapped" {
			t.Fatalf("plan %d: %v, %v", i, planKind(plan), err)
		}
		firsts[plan[0].Node] = true
		// The same targets as Router.Plan gives for the same request (in
		// another order: round robin moves on by one per plan).
		want, err := r.Plan(req)
		if err != nil {
			t.Fatal(err)
		}
		byNode := map[string]Target{}
		for _, w := range want {
			byNode[w.Node] = w
		}
		for _, got := range plan {
			if !reflect.DeepEqual(got, byNode[got.Node]) {
				t.Errorf("prepared target %+v, Router.Plan's %+v", got, byNode[got.Node])
			}
		}
	}
	if len(firsts) != 3 {
		t.Errorf("round robin started at %v over three prepared plans", firsts)
	}
	if plan, err := p.PlanN(1); err != nil || len(plan) != 1 {
		t.Errorf("PlanN(1): %+v, %v", plan, err)
	}
	// AppendPlan reuses the caller's slice.
	buf := make([]Target, 0, 8)
	for i := 0; i < 3; i++ {
		out, err := p.AppendPlan(buf[:0], 0)
		if err != nil || len(out) != 3 || &out[0] != &buf[:1][0] {
			t.Fatalf("AppendPlan: %d targets, %v, same array %v", len(out), err, len(out) > 0 && &out[0] == &buf[:1][0])
		}
	}
	out, err := p.AppendPlan([]Target{{Node: "mine"}}, 2)
	if err != nil || len(out) != 3 || out[0].Node != "mine" || out[1].Host != "127.0.0.1" {
		t.Errorf("AppendPlan after one: %+v, %v", out, err)
	}

	// A reload reaches it.
	if err := r.Reload(unmappedConfig(t)); err != nil {
		t.Fatal(err)
	}
	if plan, err := p.Plan(); err != nil || planKind(plan) != "unmapped" {
		t.Errorf("prepared plan after Reload: %v, %v", planKind(plan), err)
	}

	// Errors: a bad request fails at Prepare; a plan with no target is
	// ErrNoRoute, as from Router.Plan.
	bad, _ := RequestFromJSON([]byte(`{"consistency": "SOMETIMES"}`))
	if _, err := r.Prepare(bad); !errors.Is(err, ErrRequest) {
		t.Errorf("Prepare(bad): %v", err)
	}
	sr := staticRoutes(t, `[{"pattern": "^svc$", "host": "127.0.0.1", "port": 1001}]`)
	// A change to the Request after Prepare does not reach it.
	svc := &Request{Node: "svc"}
	ps, err := sr.Prepare(svc)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	svc.Node = "nobody"
	if plan, err := ps.Plan(); err != nil || len(plan) != 1 || plan[0].Port != 1001 {
		t.Errorf("prepared plan for svc: %+v, %v", plan, err)
	}
	none, err := sr.Prepare(&Request{Node: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	_, want := sr.Plan(&Request{Node: "nobody"})
	if _, err := none.Plan(); !errors.Is(err, ErrNoRoute) || err.Error() != want.Error() {
		t.Errorf("empty prepared plan: %v, Router.Plan: %v", err, want)
	}
	empty, err := sr.Prepare(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()

	// Close, twice; then ErrClosed. A Router's Close reaches the others.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Plan(); !errors.Is(err, ErrClosed) {
		t.Errorf("Plan after Close: %v", err)
	}
	sr.Close()
	if _, err := empty.Plan(); !errors.Is(err, ErrClosed) {
		t.Errorf("Plan after the router's Close: %v", err)
	}
	if _, err := sr.Prepare(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Prepare after Close: %v", err)
	}
}

func TestPreparedRequestFinalizer(t *testing.T) {
	r := roundRobin(t, nil)
	before := livePrepared.Load()
	func() {
		for i := 0; i < 10; i++ {
			p, err := r.Prepare(&Request{Keyspace: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Plan(); err != nil {
				t.Fatal(err)
			}
		}
	}()
	if livePrepared.Load() != before+10 {
		t.Fatalf("%d live prepared requests, want %d", livePrepared.Load(), before+10)
	}
	for i := 0; i < 50 && livePrepared.Load() != before; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := livePrepared.Load() - before; n != 0 {
		t.Errorf("the finalizers left %d prepared requests", n)
	}
}

// Each goroutine owns its prepared request (the intended use), and a few
// share one more (allowed: their plans are serialised). Run with -race.
func TestPreparedConcurrently(t *testing.T) {
	r := roundRobin(t, nil)
	shared, err := r.Prepare(&Request{Keyspace: "shop", Key: []byte("shared")})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 24; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			p := shared
			if g >= 4 {
				own, err := r.Prepare(&Request{Keyspace: "shop", Key: []byte(fmt.Sprint("k", g))})
				if err != nil {
					errs <- err
					return
				}
				defer own.Close()
				p = own
			}
			var buf []Target
			for i := 0; i < 200; i++ {
				var err error
				if buf, err = p.AppendPlan(buf[:0], 0); err == nil && planKind(buf) != "mapped" {
					err = errors.New(planKind(buf))
				}
				if err == nil && i%50 == 0 {
					err = r.Report(buf[0], Outcome{Kind: OutcomeSuccess, Latency: time.Millisecond})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Closing a PreparedRequest or its Router while goroutines plan with it.
func TestPreparedCloseWhilePlanning(t *testing.T) {
	r := roundRobin(t, nil)
	var wg sync.WaitGroup
	var ps []*PreparedRequest
	for g := 0; g < 6; g++ {
		p, err := r.Prepare(nil)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := p.Plan(); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Error(err)
					}
					return
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	ps[0].Close()
	ps[1].Close()
	time.Sleep(10 * time.Millisecond)
	r.Close()
	wg.Wait()
	for _, p := range ps {
		p.Close()
	}
}

// Topology updates free the old snapshot, whose addresses new strings may
// reuse: the prepared request's string cache must never hand out a stale
// copy.
func TestPreparedFollowsTopology(t *testing.T) {
	r, err := OpenConfig(unmappedConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := r.Prepare(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := 0; i < 40; i++ {
		topo := Topology{}
		for n := 0; n < 3; n++ {
			topo.Nodes = append(topo.Nodes, Node{ID: fmt.Sprintf("n%d-%d", n, i%7), Host: fmt.Sprintf("10.%d.0.%d", i, n),
				Port: 9000 + n, Datacenter: fmt.Sprintf("dc%d", i%3), Rack: fmt.Sprint("r", i%2)})
		}
		if err := r.UpdateTopology(topo); err != nil {
			t.Fatal(err)
		}
		plan, err := p.Plan()
		if err != nil || len(plan) != 3 {
			t.Fatalf("plan %d: %+v, %v", i, plan, err)
		}
		for _, tg := range plan {
			n := tg.Port - 9000
			if tg.Node != fmt.Sprintf("n%d-%d", n, i%7) || tg.Host != fmt.Sprintf("10.%d.0.%d", i, n) ||
				tg.Datacenter != fmt.Sprintf("dc%d", i%3) || tg.Rack != fmt.Sprint("r", i%2) {
				t.Fatalf("update %d: stale target %+v", i, tg)
			}
		}
	}
}
