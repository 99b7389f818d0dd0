package switchyard

// The Go side of the binding overhead benchmark (bindings/bench/run.sh): the
// same router and request as bindings/bench/bench_plan_c.c and the Rust
// example bench_plan, examples/demo/cluster.json (round robin over 3 up
// nodes of 4, then address_map) and examples/demo/request.json. A Request
// is plain Go data: every Router.Plan call builds the C request from it, so
// the BenchmarkPlan{First,Full,FullFields} cases include that. The
// BenchmarkPlanPrepared* cases are the fast path: a PreparedRequest, built
// once, planned again and again.
//
//	go test -tags switchyard_buildtree -run '^$' -bench '^BenchmarkPlan' -benchmem

import (
	"os"
	"path/filepath"
	"testing"
)

var benchSink int

func benchDemoRouter(b *testing.B) *Router {
	dir := os.Getenv("SY_PLUGIN_DIR")
	if dir == "" {
		b.Skip("SY_PLUGIN_DIR is not set (run through bindings/bench/run.sh or meson test --benchmark)")
	}
	r, err := Open(filepath.Join("..", "..", "examples", "demo", "cluster.json"), &Options{PluginPath: []string{dir}})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func benchDemoRequest(b *testing.B) *Request {
	text, err := os.ReadFile(filepath.Join("..", "..", "examples", "demo", "request.json"))
	if err != nil {
		b.Fatal(err)
	}
	req, err := RequestFromJSON(text)
	if err != nil {
		b.Fatal(err)
	}
	return req
}

func benchPlan(b *testing.B, req *Request, limit, want int) {
	r := benchDemoRouter(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts, err := r.PlanN(req, limit)
		if err != nil || len(ts) != want {
			b.Fatalf("PlanN: %d targets, %v", len(ts), err)
		}
		for j := range ts {
			benchSink += ts[j].Port + len(ts[j].Node)
		}
	}
}

// First target only (PlanN stops the lazy plan there), request from JSON.
func BenchmarkPlanFirst(b *testing.B) { benchPlan(b, benchDemoRequest(b), 1, 1) }

// The whole plan (3 targets), request from JSON.
func BenchmarkPlanFull(b *testing.B) { benchPlan(b, benchDemoRequest(b), 0, 3) }

// The whole plan, the same request given as fields (setters, no JSON).
func BenchmarkPlanFullFields(b *testing.B) {
	benchPlan(b, &Request{Key: []byte("user:42"), Keyspace: "shop", Table: "carts",
		Consistency: ConsistencyLocalQuorum}, 0, 3)
}

func benchPrepared(b *testing.B) *PreparedRequest {
	r := benchDemoRouter(b)
	p, err := r.Prepare(benchDemoRequest(b))
	if err != nil {
		b.Fatalf("Prepare: %v", err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

// The whole plan of a PreparedRequest (the request built once).
func BenchmarkPlanPreparedFull(b *testing.B) {
	p := benchPrepared(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts, err := p.Plan()
		if err != nil || len(ts) != 3 {
			b.Fatalf("Plan: %d targets, %v", len(ts), err)
		}
		for j := range ts {
			benchSink += ts[j].Port + len(ts[j].Node)
		}
	}
}

// The same, the targets appended to one reused slice.
func BenchmarkPlanPreparedAppend(b *testing.B) {
	p := benchPrepared(b)
	var ts []Target
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		ts, err = p.AppendPlan(ts[:0], 0)
		if err != nil || len(ts) != 3 {
			b.Fatalf("AppendPlan: %d targets, %v", len(ts), err)
		}
		for j := range ts {
			benchSink += ts[j].Port + len(ts[j].Node)
		}
	}
}
