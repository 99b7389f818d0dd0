// Ergo's static-route lookup (ergo.services/ergo node/static.go), rebuilt
// for comparison with switchyard's static_routes: routes in a sync.Map keyed
// by pattern text; a lookup ranges over every route, runs
// regexp.MatchString on each, collects the matches and sorts them by weight
// (sort.Slice, higher first). No cache: every lookup is cold. Same table and
// names as tests/bench/bench_static_routes.c.
//
//	go run . [iterations]
package main

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

type route struct {
	re     *regexp.Regexp
	host   string
	port   uint16
	weight int
}

type table struct{ routes sync.Map }

func (t *table) add(pattern string, r route) error {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return err
	}
	r.re = re
	if _, exists := t.routes.LoadOrStore(pattern, r); exists {
		return fmt.Errorf("taken")
	}
	return nil
}

func (t *table) lookup(name string) ([]route, bool) {
	var found []route
	t.routes.Range(func(_, v any) bool {
		r := v.(route)
		if r.re.MatchString(name) {
			found = append(found, r)
		}
		return true
	})
	if len(found) == 0 {
		return nil, false
	}
	sort.Slice(found, func(i, j int) bool { return found[i].weight > found[j].weight })
	return found, true
}

func median(f func(n int) float64, n int) float64 {
	f(n/10 + 1)
	r := make([]float64, 7)
	for i := range r {
		r[i] = f(n)
	}
	sort.Float64s(r)
	return r[3]
}

func main() {
	iters := 20000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil {
			iters = v
		}
	}
	fmt.Printf("Ergo-style lookups (sync.Map range + regexp.MatchString + sort.Slice), Go %s, median of 7 runs\n",
		runtime.Version())
	for _, n := range []int{10, 100, 1000, 10000} {
		t := &table{}
		for i := 0; i < n; i++ {
			p := fmt.Sprintf(`^%csvc%d-[a-z]+@dc[0-9]\.example\.com$`, 'a'+i%26, i)
			if err := t.add(p, route{host: "10.0.0.1", port: uint16(1024 + i%60000), weight: i % 5}); err != nil {
				panic(err)
			}
		}
		k := n / 2
		hit := fmt.Sprintf("%csvc%d-api@dc1.example.com", 'a'+k%26, k)
		miss := "asvc-unknown@nowhere.example.org"
		sink := 0
		run := func(name string, want bool) func(int) float64 {
			return func(m int) float64 {
				start := time.Now()
				for i := 0; i < m; i++ {
					rs, ok := t.lookup(name)
					if ok != want {
						panic("unexpected lookup result")
					}
					sink += len(rs)
				}
				return float64(time.Since(start).Nanoseconds()) / float64(m)
			}
		}
		m := iters
		if n >= 1000 {
			m = iters / (n / 100)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		hitNs := median(run(hit, true), m)
		runtime.ReadMemStats(&ms)
		allocs := float64(ms.Mallocs-before) / float64(7*m+m/10+1)
		missNs := median(run(miss, false), m)
		fmt.Printf("N=%d routes\n  hit  %12.1f ns   %.2f allocs\n  miss %12.1f ns\n", n, hitNs, allocs, missNs)
		_ = sink
	}
}
