package switchyard

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The two configs the reload tests switch between: roundRobin's (round
// robin, then address_map to 127.0.0.1) and the same without a translator.
func mappedConfig(t testing.TB) []byte {
	return config(t, fourNodes, `{"plugin": "default_policy", "config": {"mode": "round_robin", "seed": 0}}`,
		`[{"plugin": "address_map", "config": {"map": {"10.0.1.10:9042": "127.0.0.1:19042",
		  "10.0.1.11:9042": "127.0.0.1:19043", "10.0.1.12:9042": "127.0.0.1:19044"}}}]`)
}

func unmappedConfig(t testing.TB) []byte {
	return config(t, fourNodes, `{"plugin": "default_policy", "config": {"mode": "round_robin", "seed": 0}}`, "")
}

// planKind says which of the two configs planned ts: "mapped", "unmapped",
// or a description of what is wrong with it.
func planKind(ts []Target) string {
	if len(ts) != 3 {
		return fmt.Sprintf("%d targets: %+v", len(ts), ts)
	}
	kind := ""
	for _, tg := range ts {
		k := "?"
		switch via := strings.Join(tg.Via, ">"); {
		case via == "default_policy>address_map" && tg.Host == "127.0.0.1":
			k = "mapped"
		case via == "default_policy" && strings.HasPrefix(tg.Host, "10.0.1.") && tg.Port == 9042:
			k = "unmapped"
		}
		if k == "?" || (kind != "" && k != kind) {
			return fmt.Sprintf("a mixed or unknown plan: %+v", ts)
		}
		kind = k
	}
	return kind
}

// badConfig has three errors: an unknown key, a bad node, a missing plugin.
func badConfig(t testing.TB) []byte {
	dir, _ := json.Marshal(pluginDir(t))
	return []byte(`{"plugin_path": [` + string(dir) + `], "bogus": 1,
	  "topology": {"nodes": [{"id": "x", "host": "10.0.0.1", "port": 70000}]},
	  "selector": {"plugin": "no_such_plugin"}}`)
}

func TestReload(t *testing.T) {
	r := roundRobin(t, nil)
	plan, err := r.Plan(&Request{})
	if err != nil || planKind(plan) != "mapped" {
		t.Fatalf("plan before: %v, %v", planKind(plan), err)
	}
	if err := r.Reload(unmappedConfig(t)); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if plan, err = r.Plan(&Request{}); err != nil || planKind(plan) != "unmapped" {
		t.Fatalf("plan after Reload: %v, %v", planKind(plan), err)
	}

	// From a file.
	path := filepath.Join(t.TempDir(), "cluster.json")
	if err := os.WriteFile(path, mappedConfig(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.ReloadFile(path); err != nil {
		t.Fatalf("ReloadFile: %v", err)
	}
	if plan, err = r.Plan(&Request{}); err != nil || planKind(plan) != "mapped" {
		t.Fatalf("plan after ReloadFile: %v, %v", planKind(plan), err)
	}
}

func TestReloadRefusedKeepsThePlan(t *testing.T) {
	r := roundRobin(t, nil)
	err := r.Reload(badConfig(t))
	var re *ReloadError
	if !errors.As(err, &re) {
		t.Fatalf("Reload(bad) = %#v, want a *ReloadError", err)
	}
	if len(re.Errors) < 2 {
		t.Fatalf("%d errors, want every one (>= 2): %v", len(re.Errors), err)
	}
	paths := map[string]bool{}
	plugin := false
	for _, e := range re.Errors {
		if e.Code >= 0 || e.Name == "" || e.Message == "" {
			t.Errorf("error %#v", e)
		}
		paths[e.Path] = true
		if strings.Contains(e.Message, "no_such_plugin") {
			plugin = true
		}
	}
	if !paths["bogus"] || !paths["topology.nodes[0].port"] || !plugin {
		t.Errorf("errors %v", err)
	}
	// The first error is the call's status, and what errors.As finds.
	var first *Error
	if !errors.As(err, &first) || first != re.Errors[0] || first.Path != "bogus" {
		t.Errorf("errors.As(*Error) = %#v", first)
	}
	if !errors.Is(err, ErrConfig) || errors.Is(err, ErrNoRoute) {
		t.Errorf("errors.Is is wrong for %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "bogus") || !strings.Contains(msg, "no_such_plugin") {
		t.Errorf("Error() = %q, want every error", msg)
	}

	// Nothing changed.
	if plan, err := r.Plan(&Request{}); err != nil || planKind(plan) != "mapped" {
		t.Fatalf("plan after a refused reload: %v, %v", planKind(plan), err)
	}
	if r.Epoch() != 1 {
		t.Errorf("epoch %d", r.Epoch())
	}

	// Not JSON; no config at all; a missing file (err only, no report).
	for _, cfg := range [][]byte{[]byte(`{`), nil} {
		if err := r.Reload(cfg); !errors.As(err, &re) || len(re.Errors) != 1 || !errors.Is(err, ErrConfig) {
			t.Errorf("Reload(%q) = %v", cfg, err)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing.json")
	if err := r.ReloadFile(missing); !errors.As(err, &re) || len(re.Errors) != 1 || !errors.Is(err, ErrConfig) ||
		!strings.Contains(re.Errors[0].Message, missing) {
		t.Errorf("ReloadFile(missing) = %v", err)
	}
	r.Close()
	if err := r.Reload(unmappedConfig(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Close: %v", err)
	}
}

// Plans from many goroutines (through Plan and through each goroutine's own
// PreparedRequest) while another reloads back and forth: every plan is
// wholly of one config or the other, and both are seen.
func TestReloadWhilePlanning(t *testing.T) {
	r := roundRobin(t, nil)
	configs := [][]byte{unmappedConfig(t), mappedConfig(t)}
	bad := badConfig(t)
	stop := make(chan struct{})
	var seen [2]atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	stopAll := func() { once.Do(func() { close(stop); wg.Wait() }) }
	defer stopAll() // also when a Fatal below ends the test early
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var prep *PreparedRequest
			if g%2 == 1 {
				var err error
				if prep, err = r.Prepare(&Request{Keyspace: "shop", Key: []byte(fmt.Sprint("k", g))}); err != nil {
					t.Error(err)
					return
				}
				defer prep.Close()
			}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var plan []Target
				var err error
				if prep != nil {
					plan, err = prep.Plan()
				} else {
					plan, err = r.Plan(&Request{Keyspace: "shop", Key: []byte(fmt.Sprint("k", g, "-", i))})
				}
				if err != nil {
					t.Error(err)
					return
				}
				switch k := planKind(plan); k {
				case "mapped":
					seen[0].Add(1)
				case "unmapped":
					seen[1].Add(1)
				default:
					t.Error(k)
					return
				}
			}
		}(g)
	}
	for i := 0; i < 60; i++ {
		if err := r.Reload(configs[i%2]); err != nil {
			t.Fatalf("Reload %d: %v", i, err)
		}
		if i%10 == 0 {
			if err := r.Reload(bad); err == nil {
				t.Fatal("bad config accepted")
			}
		}
		time.Sleep(time.Millisecond)
	}
	stopAll()
	if seen[0].Load() == 0 || seen[1].Load() == 0 {
		t.Errorf("plans seen: %d mapped, %d unmapped; want both", seen[0].Load(), seen[1].Load())
	}
}

// A StaticRoutes table follows reloads: the new chain's instance, or
// ErrUnknown without one; and calls on it may run during reloads.
func TestReloadStaticRoutes(t *testing.T) {
	routes := func(port int) []byte {
		return config(t, "", fmt.Sprintf(`{"plugin": "static_routes", "config": {"routes":
		  [{"pattern": "^svc$", "host": "127.0.0.1", "port": %d}]}}`, port), "")
	}
	r, err := OpenConfig(routes(1001), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tab, err := r.StaticRoutes()
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Add(Route{Pattern: "^extra$", Host: "127.0.0.2", Port: 2}); err != nil {
		t.Fatal(err)
	}
	// Changed config: a new instance, without the route added at run time.
	if err := r.Reload(routes(1002)); err != nil {
		t.Fatal(err)
	}
	all, err := tab.List()
	if err != nil || len(all) != 1 || !strings.Contains(all[0].JSON, "1002") {
		t.Fatalf("List after a reload: %+v, %v", all, err)
	}
	if err := tab.Add(Route{Pattern: "^extra$", Host: "127.0.0.2", Port: 2}); err != nil {
		t.Fatalf("Add on the new instance: %v", err)
	}
	if plan, err := r.Plan(&Request{Node: "extra"}); err != nil || len(plan) != 1 || plan[0].Port != 2 {
		t.Errorf("plan through the new instance: %+v, %v", plan, err)
	}

	// Table calls during reloads (-race, and no use of a destroyed instance).
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := tab.Query("svc"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 40; i++ {
		if err := r.Reload(routes(1003 + i%2)); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()

	// No static_routes in the new chain.
	if err := r.Reload(unmappedConfig(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.List(); !errors.Is(err, ErrUnknown) {
		t.Errorf("List without static_routes: %v", err)
	}
	if _, err := r.StaticRoutes(); !errors.Is(err, ErrUnknown) {
		t.Errorf("StaticRoutes without static_routes: %v", err)
	}
	// And back.
	if err := r.Reload(routes(1005)); err != nil {
		t.Fatal(err)
	}
	if got, err := tab.Query("svc"); err != nil || len(got) != 1 || !strings.Contains(got[0].JSON, "1005") {
		t.Errorf("Query after reloading static_routes: %+v, %v", got, err)
	}
}
