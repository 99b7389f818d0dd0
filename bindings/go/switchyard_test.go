package switchyard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func pluginDir(t testing.TB) string {
	d := os.Getenv("SY_PLUGIN_DIR")
	if d == "" {
		t.Skip("SY_PLUGIN_DIR is not set (run through run-tests.sh or meson test)")
	}
	return d
}

// config builds a router config with the given selector and translators.
func config(t testing.TB, topology, selector, translators string) []byte {
	if topology == "" {
		topology = `{"nodes": []}`
	}
	if translators == "" {
		translators = "[]"
	}
	dir, _ := json.Marshal(pluginDir(t))
	return []byte(fmt.Sprintf(`{"plugin_path": [%s], "topology": %s, "selector": %s, "translators": %s}`,
		dir, topology, selector, translators))
}

const fourNodes = `{"nodes": [
  {"id": "node-a", "host": "10.0.1.10", "port": 9042, "datacenter": "dc1", "rack": "r1"},
  {"id": "node-b", "host": "10.0.1.11", "port": 9042, "datacenter": "dc1", "rack": "r2"},
  {"id": "node-c", "host": "10.0.1.12", "port": 9042, "datacenter": "dc1", "rack": "r3"},
  {"id": "node-d", "host": "10.0.1.13", "port": 9042, "datacenter": "dc1", "rack": "r1", "up": false}]}`

func roundRobin(t testing.TB, opts *Options) *Router {
	cfg := config(t, fourNodes, `{"plugin": "default_policy", "config": {"mode": "round_robin", "seed": 0}}`,
		`[{"plugin": "address_map", "config": {"map": {"10.0.1.10:9042": "127.0.0.1:19042",
		  "10.0.1.11:9042": "127.0.0.1:19043", "10.0.1.12:9042": "127.0.0.1:19044"}}}]`)
	r, err := OpenConfig(cfg, opts)
	if err != nil {
		t.Fatalf("OpenConfig: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func staticRoutes(t testing.TB, routes string) *Router {
	r, err := OpenConfig(config(t, "", `{"plugin": "static_routes", "config": {"routes": `+routes+`}}`, ""), nil)
	if err != nil {
		t.Fatalf("OpenConfig: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestPlanRoundRobin(t *testing.T) {
	r := roundRobin(t, nil)
	ports := map[string]int{"node-a": 19042, "node-b": 19043, "node-c": 19044}
	firsts := map[string]bool{}
	for i := 0; i < 3; i++ {
		plan, err := r.Plan(&Request{Keyspace: "shop", Key: []byte("user:42")})
		if err != nil {
			t.Fatal(err)
		}
		if len(plan) != 3 {
			t.Fatalf("plan has %d targets, want 3 (node-d is down): %+v", len(plan), plan)
		}
		seen := map[string]bool{}
		for _, tg := range plan {
			seen[tg.Node] = true
			if tg.Host != "127.0.0.1" || tg.Port != ports[tg.Node] || tg.Datacenter != "dc1" || tg.TLS ||
				tg.Shard != nil || tg.Weight != nil || tg.Error != "" {
				t.Errorf("target %+v", tg)
			}
			if strings.Join(tg.Via, ">") != "default_policy>address_map" {
				t.Errorf("via %q", tg.Via)
			}
			if tg.Epoch != 1 {
				t.Errorf("epoch %d", tg.Epoch)
			}
		}
		if len(seen) != 3 {
			t.Errorf("a node comes twice: %+v", plan)
		}
		firsts[plan[0].Node] = true
	}
	if len(firsts) != 3 {
		t.Errorf("round robin started at %v over three plans", firsts)
	}
	plan, err := r.PlanN(nil, 1)
	if err != nil || len(plan) != 1 {
		t.Fatalf("PlanN(nil, 1) = %v, %v", plan, err)
	}
	if err := r.Report(plan[0], Outcome{Kind: OutcomeSuccess, Latency: time.Millisecond}); err != nil {
		t.Errorf("Report: %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	cfg := config(t, `{"nodes": [{"id": "a", "host": "10.0.0.1", "port": 70000}]}`,
		`{"plugin": "default_policy", "config": {"mode": "round_robin"}}`, "")
	_, err := OpenConfig(cfg, nil)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("OpenConfig: %v, want *Error", err)
	}
	if e.Code != -3 || e.Name != "SY_ECONFIG" || e.Path != "topology.nodes[0].port" || !strings.Contains(e.Message, "1..65535") {
		t.Errorf("error %#v", e)
	}
	if !errors.Is(err, ErrConfig) || errors.Is(err, ErrNoRoute) {
		t.Errorf("errors.Is is wrong for %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.json"), nil); !errors.Is(err, ErrConfig) {
		t.Errorf("Open(missing): %v", err)
	}
	if _, err := OpenConfig([]byte(`{"selector": {"plugin": "no_such_plugin"}}`), nil); err == nil {
		t.Error("unknown plugin accepted")
	}
}

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.json")
	if err := os.WriteFile(path, config(t, fourNodes, `{"plugin": "default_policy", "config": {"mode": "round_robin"}}`, ""), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	plan, err := r.Plan(&Request{})
	if err != nil || len(plan) != 3 || !strings.HasPrefix(plan[0].Host, "10.0.1.1") || plan[0].Via[0] != "default_policy" {
		t.Fatalf("plan %+v, %v", plan, err)
	}
}

func TestRequests(t *testing.T) {
	r := roundRobin(t, nil)
	req, err := RequestFromJSON([]byte(`{"key": "user:42", "keyspace": "shop", "consistency": "LOCAL_QUORUM"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Plan(req); err != nil {
		t.Errorf("plan of a JSON request: %v", err)
	}
	bad, err := RequestFromJSON([]byte(`{"consistency": "SOMETIMES"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Plan(bad)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrRequest) || e.Path == "" {
		t.Errorf("bad request: %#v", err)
	}
	if _, err := RequestFromJSON([]byte(`{`)); !errors.Is(err, ErrRequest) {
		t.Errorf("RequestFromJSON({): %v", err)
	}
	tok := int64(42)
	full := &Request{Key: []byte{0, 1, 2}, Token: &tok, Keyspace: "shop", Table: "carts", Consistency: ConsistencySerial,
		LWT: true, Node: "n", Entity: &Entity{Type: "counter", ID: "user-42"},
		ContextJSON: []byte(`{"headers": {"x": "1"}}`)}
	if _, err := r.Plan(full); err != nil {
		t.Errorf("plan of every field: %v", err)
	}
	if _, err := r.Plan(&Request{ContextJSON: []byte(`[`)}); !errors.Is(err, ErrRequest) {
		t.Errorf("bad context: %v", err)
	}
}

func TestPlanConcurrently(t *testing.T) {
	r := roundRobin(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				plan, err := r.Plan(&Request{Keyspace: "shop", Key: []byte(fmt.Sprintf("k%d-%d", g, i))})
				if err == nil && len(plan) != 3 {
					err = fmt.Errorf("plan of %d targets", len(plan))
				}
				if err == nil && i%50 == 0 {
					err = r.Report(plan[0], Outcome{Kind: OutcomeSuccess, Latency: time.Millisecond})
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

func TestUpdateTopology(t *testing.T) {
	r := roundRobin(t, nil)
	err := r.UpdateTopology(Topology{
		Nodes: []Node{{ID: "x", Host: "10.0.1.10", Port: 9042, Datacenter: "dc1", Tokens: []int64{-9223372036854775807}},
			{ID: "y", Host: "10.0.9.9", Port: 9042, Datacenter: "dc1", Down: true}},
		Keyspaces: []Keyspace{{Name: "shop", Strategy: "NetworkTopologyStrategy", DCs: map[string]int{"dc1": 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Epoch() != 2 {
		t.Errorf("epoch %d, want 2", r.Epoch())
	}
	plan, err := r.Plan(&Request{Keyspace: "shop", Key: []byte("k")})
	if err != nil || len(plan) != 1 || plan[0].Node != "x" || plan[0].Port != 19042 || plan[0].Epoch != 2 {
		t.Fatalf("plan after update: %+v, %v", plan, err)
	}
	if err := r.UpdateTopologyJSON([]byte(`{"nodes": [{"host": "h", "port": 0}]}`)); !errors.Is(err, ErrTopology) && !errors.Is(err, ErrConfig) {
		t.Errorf("bad topology: %v", err)
	} else if err.(*Error).Path == "" {
		t.Errorf("bad topology without a path: %v", err)
	}
}

func TestCloseAndUseAfterClose(t *testing.T) {
	r := roundRobin(t, nil)
	sr, err := r.StaticRoutes()
	if !errors.Is(err, ErrUnknown) && err == nil {
		t.Errorf("StaticRoutes on a chain without it: %v %v", sr, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Plan(&Request{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Plan after Close: %v", err)
	}
	if _, err := r.Connect(context.Background(), &Request{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Close: %v", err)
	}
	if err := r.UpdateTopologyJSON([]byte(`{"nodes": []}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("UpdateTopology after Close: %v", err)
	}
	if err := r.Report(Target{}, Outcome{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Report after Close: %v", err)
	}
	if r.Epoch() != 0 {
		t.Errorf("Epoch after Close")
	}
}

func TestCloseWhilePlanning(t *testing.T) {
	r := roundRobin(t, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := r.Plan(&Request{}); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Error(err)
					}
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	r.Close()
	wg.Wait()
}

func TestFinalizerAndCallbackRelease(t *testing.T) {
	before := liveCallbacks.Load()
	opts := &Options{Log: func(LogLevel, string, string) {}, Resolve: func(string) ([]Endpoint, error) { return nil, nil }}
	func() {
		r, err := OpenConfig(config(t, fourNodes, `{"plugin": "default_policy", "config": {"mode": "round_robin"}}`, ""), opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Plan(&Request{}); err != nil {
			t.Fatal(err)
		}
	}()
	if liveCallbacks.Load() != before+2 {
		t.Fatalf("%d live callback handles, want %d", liveCallbacks.Load(), before+2)
	}
	// The router is unreachable: its finalizer frees it, and the library
	// releases both handles.
	for i := 0; i < 50 && liveCallbacks.Load() != before; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if liveCallbacks.Load() != before {
		t.Errorf("the finalizer did not free the router: %d live handles, want %d", liveCallbacks.Load(), before)
	}
	// A failed creation releases them too.
	if _, err := OpenConfig([]byte(`{}`), opts); err == nil {
		t.Fatal("empty config accepted")
	}
	if liveCallbacks.Load() != before {
		t.Errorf("a failed Open leaked %d handles", liveCallbacks.Load()-before)
	}
}

func TestLogCallback(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	opts := &Options{LogLevel: LogDebug, Log: func(level LogLevel, source, msg string) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf("%d %s %s", level, source, msg))
		mu.Unlock()
	}}
	r := roundRobin(t, opts)
	r.Close()
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, l := range lines {
		if strings.Contains(l, "router ready") && strings.HasPrefix(l, fmt.Sprintf("%d core ", LogInfo)) {
			found = true
		}
	}
	if !found {
		t.Errorf("no 'router ready' info line from core in %q", lines)
	}
	// A failed creation releases the callback handle too (no leak, no panic).
	if _, err := OpenConfig([]byte(`{}`), opts); err == nil {
		t.Error("empty config accepted")
	}
}

func TestStaticRoutesTable(t *testing.T) {
	r := staticRoutes(t, `[{"pattern": "^svc$", "weight": 5, "host": "127.0.0.1", "port": 1001}]`)
	tab, err := r.StaticRoutes()
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Add(Route{Pattern: "^sv.*", Weight: 10, Host: "127.0.0.2", Port: 1002}); err != nil {
		t.Fatal(err)
	}
	if err := tab.Add(Route{Pattern: "^svc$", Port: 1}); !errors.Is(err, ErrTaken) {
		t.Errorf("duplicate Add: %v", err)
	}
	if err := tab.Add(Route{Pattern: "(", Port: 1}); !errors.Is(err, ErrConfig) {
		t.Errorf("bad pattern: %v", err)
	}
	got, err := tab.Query("svc")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Pattern != "^sv.*" || got[0].Weight != 10 || got[1].Pattern != "^svc$" ||
		got[0].Kind != RouteStatic || !strings.Contains(got[1].JSON, "1001") {
		t.Errorf("Query: %+v", got)
	}
	plan, err := r.Plan(&Request{Node: "svc"})
	if err != nil || len(plan) != 2 || plan[0].Host != "127.0.0.2" || plan[0].Port != 1002 || *plan[0].Weight != 10 ||
		!strings.Contains(plan[0].ViaDetail[0], `"weight":10`) {
		t.Errorf("plan: %+v, %v", plan, err)
	}
	if err := tab.Remove(RouteStatic, "^sv.*"); err != nil {
		t.Fatal(err)
	}
	if err := tab.Remove(RouteStatic, "^sv.*"); !errors.Is(err, ErrUnknown) {
		t.Errorf("second Remove: %v", err)
	}
	if _, err := tab.Query("other"); !errors.Is(err, ErrNoRoute) {
		t.Errorf("Query(other): %v", err)
	}
	all, err := tab.List()
	if err != nil || len(all) != 1 {
		t.Errorf("List: %+v, %v", all, err)
	}
	if err := tab.AddJSON(RouteProxy, []byte(`{"pattern": "^edge$", "to": "10.9.9.9:4370", "proxy": "svc", "protocol": "socks5"}`)); err != nil {
		t.Errorf("AddJSON(proxy): %v", err)
	}
	if _, err := r.Plan(&Request{Node: "nobody"}); !errors.Is(err, ErrNoRoute) {
		t.Errorf("plan for an unknown name: %v", err)
	}
	r.Close()
	if _, err := tab.List(); !errors.Is(err, ErrClosed) {
		t.Errorf("List after Close: %v", err)
	}
}

func TestResolver(t *testing.T) {
	opts := &Options{Resolve: func(name string) ([]Endpoint, error) {
		if name == "broken" {
			return nil, errors.New("no")
		}
		return []Endpoint{{Host: "192.0.2.1", Port: 5001, TLS: true}, {Host: "192.0.2.2", Port: 5002}}, nil
	}, ResolveTTL: time.Second}
	cfg := config(t, "", `{"plugin": "static_routes", "config": {"routes": [{"pattern": "^known.*", "resolver": true, "weight": 2}]}}`, "")
	r, err := OpenConfig(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	plan, err := r.Plan(&Request{Node: "known-a"})
	if err != nil || len(plan) != 2 || plan[0].Host != "192.0.2.1" || !plan[0].TLS || plan[1].Port != 5002 {
		t.Fatalf("plan: %+v, %v", plan, err)
	}
	if _, err := r.Plan(&Request{Node: "known-broken"}); err != nil {
		t.Logf("resolver failure: %v", err)
	}
}

func TestClientRoutes(t *testing.T) {
	const a = "11111111-1111-1111-1111-111111111111"
	topo := `{"nodes": [{"id": "` + a + `", "host": "10.0.0.1", "port": 9042}]}`
	cfg := config(t, topo, `{"plugin": "default_policy", "config": {"mode": "round_robin"}}`,
		`[{"plugin": "client_routes", "config": {"proxies": [{"connection_id": "pl-a"}]}}]`)
	r, err := OpenConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tab, err := r.ClientRoutes()
	if err != nil {
		t.Fatal(err)
	}
	plan, err := r.Plan(&Request{})
	if err != nil || len(plan) != 1 || plan[0].Error == "" {
		t.Fatalf("plan without rows: %+v, %v", plan, err)
	}
	if err := tab.ReplaceAll([]ClientRoute{{ConnectionID: "pl-a", HostID: a, Address: "nlb-a", Port: 30001}}); err != nil {
		t.Fatal(err)
	}
	plan, err = r.Plan(&Request{})
	if err != nil || len(plan) != 1 || plan[0].Host != "nlb-a" || plan[0].Port != 30001 || plan[0].Flags&TargetNoShardPort == 0 {
		t.Fatalf("plan with a row: %+v, %v", plan, err)
	}
	rows, err := tab.List()
	if err != nil || len(rows) != 1 || rows[0].Address != "nlb-a" || !rows[0].Sticky {
		t.Errorf("List: %+v, %v", rows, err)
	}
	if err := tab.ApplyEvent(ClientRoutesEvent{ConnectionIDs: []string{"pl-a"}, HostIDs: []string{a},
		Rows: []ClientRoute{{ConnectionID: "pl-a", HostID: a, Address: "nlb-b", Port: 30002}}}); err != nil {
		t.Fatal(err)
	}
	if plan, _ = r.Plan(&Request{}); plan[0].Host != "nlb-b" {
		t.Errorf("plan after the event: %+v", plan)
	}
	if err := tab.ReplaceAll([]ClientRoute{{ConnectionID: "pl-a", HostID: "nope", Address: "x", Port: 1}}); !errors.Is(err, ErrRequest) {
		t.Errorf("bad row: %v", err)
	}
}

// echo serves one connection at a time on loopback, echoing.
func echo(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln
}

// deadPort is a loopback port nothing listens on.
func deadPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestConnectFailover(t *testing.T) {
	live := echo(t).Addr().(*net.TCPAddr).Port
	dead := deadPort(t)
	r := staticRoutes(t, fmt.Sprintf(`[{"pattern": "^svc$", "weight": 10, "host": "127.0.0.1", "port": %d},
		{"pattern": "^sv.$", "weight": 5, "host": "127.0.0.1", "port": %d}]`, dead, live))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := r.ConnectWith(ctx, &Request{Node: "svc"}, ConnectOptions{NoPool: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	at := c.Attempts()
	if len(at) != 2 {
		t.Fatalf("attempts: %+v", at)
	}
	if at[0].Port != dead || at[0].Outcome != OutcomeRefused || !errors.Is(at[0].Err, ErrConnect) || at[0].Message == "" {
		t.Errorf("first attempt: %+v", at[0])
	}
	if at[1].Port != live || at[1].Err != nil || at[1].Outcome != OutcomeSuccess || at[1].Node != "svc" {
		t.Errorf("second attempt: %+v", at[1])
	}
	info := c.Info()
	if info.Port != live || info.TLS || info.Peer != fmt.Sprintf("127.0.0.1:%d", live) || info.FD < 0 {
		t.Errorf("info: %+v", info)
	}
	if c.RemoteAddr().String() != info.Peer || c.LocalAddr().(*net.TCPAddr).Port == 0 {
		t.Errorf("addrs %v %v", c.LocalAddr(), c.RemoteAddr())
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	// Deadlines: a past one fails at once, a near one times out.
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("past deadline: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	_, err = c.Read(buf)
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	c.SetDeadline(time.Time{})
	// Close wakes a blocked reader.
	done := make(chan error)
	go func() {
		_, err := c.Read(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("read after close succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the reader")
	}
	if _, err := c.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestConnectErrors(t *testing.T) {
	dead := deadPort(t)
	r := staticRoutes(t, fmt.Sprintf(`[{"pattern": "^svc$", "host": "127.0.0.1", "port": %d}]`, dead))
	_, err := r.Connect(context.Background(), &Request{Node: "svc"})
	var ce *ConnectError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConnect) || len(ce.Attempts) != 1 || ce.Attempts[0].Outcome != OutcomeRefused {
		t.Errorf("refused: %#v", err)
	}
	if _, err := r.Connect(context.Background(), &Request{Node: "none"}); !errors.Is(err, ErrNoRoute) {
		t.Errorf("no route: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Connect(ctx, &Request{Node: "svc"}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled ctx: %v", err)
	}
}

func TestConnectPooled(t *testing.T) {
	live := echo(t).Addr().(*net.TCPAddr).Port
	r := staticRoutes(t, fmt.Sprintf(`[{"pattern": "^svc$", "host": "127.0.0.1", "port": %d}]`, live))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				c, err := r.Connect(context.Background(), &Request{Node: "svc"})
				if err != nil {
					t.Error(err)
					return
				}
				msg := []byte("hello")
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write(msg); err != nil {
					t.Error(err)
				}
				if _, err := io.ReadFull(c, msg); err != nil || string(msg) != "hello" {
					t.Errorf("echo %q %v", msg, err)
				}
				c.Release()
			}
		}()
	}
	wg.Wait()
	stats, err := r.ConnectStats()
	if err != nil || !strings.Contains(string(stats), "endpoints") {
		t.Errorf("stats: %s, %v", stats, err)
	}
}

func TestVersion(t *testing.T) {
	if Version() == "" {
		t.Error("empty version")
	}
}
