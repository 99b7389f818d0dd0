#!/usr/bin/env bash
# run.sh BUILD_DIR [ITERATIONS]
#
# What a plan costs through each binding, next to the same plan from C:
# bench_plan_c (C), BenchmarkPlan* in bindings/go/bench_test.go (Go) and the
# example bench_plan of the switchyard crate (Rust) plan the same request
# (examples/demo/request.json) on the same router (examples/demo/cluster.json:
# round robin over 3 up nodes of 4, then address_map), against BUILD_DIR's
# library and plugins. Prints one table: ns per operation (medians of 7
# runs), the overhead over C in ns and %, and heap allocations per operation;
# the rows fast_full and fast_reuse are each binding's fast path (Go: a
# PreparedRequest; Rust: Plan::next_ref), next to the same C whole plan.
# Numbers are printed, never judged: the exit status only says whether the
# benchmarks ran. Go or Rust is left out (with a note) when its toolchain is
# missing. On 2 cores: about 7 s, 20 s when the Go test binary and the Rust
# example are compiled first (caches in BUILD_DIR, as for the bindings' tests).
#
# Meson runs it as the benchmark 'bindings_plan_overhead':
#   meson test -C BUILD_DIR --benchmark --verbose bindings_plan_overhead
set -euo pipefail

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR [ITERATIONS]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
iterations=${2:-100000}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export SY_BUILD_ROOT=${SY_BUILD_ROOT:-$build}
export SY_SOURCE_ROOT=${SY_SOURCE_ROOT:-$src}
export SY_PLUGIN_DIR=${SY_PLUGIN_DIR:-$build/plugins}
export SY_LIB_DIR=${SY_LIB_DIR:-$build/core}
export SY_INCLUDE_DIRS=${SY_INCLUDE_DIRS:-$src/include:$build/include}
export HOME="${HOME:-$SY_BUILD_ROOT}"
if [[ -n "${SY_SANITIZED:-}" && "${SY_SANITIZED}" != none ]]; then
    echo "SKIP: library built with -Db_sanitize=${SY_SANITIZED}: its timings mean nothing"
    exit 77
fi

config=$src/examples/demo/cluster.json
request=$src/examples/demo/request.json
bench_c=$build/bindings/bench_plan_c
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sy-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/results"

[ -x "$bench_c" ] || { echo "run.sh: $bench_c not built (ninja -C $build bindings/bench_plan_c)" >&2; exit 1; }
# C runs first and last: a shared machine drifts by tens of percent within a
# minute, so C's figures are the mean of the two.
echo "== C: $bench_c"
"$bench_c" "$config" "$request" "$iterations" | tee -a "$tmp/results"

echo "== Go: go test -bench '^BenchmarkPlan' (bindings/go)"
if command -v go >/dev/null; then
    cflags=""
    IFS=: read -r -a incs <<<"$SY_INCLUDE_DIRS"
    for d in "${incs[@]}"; do cflags+=" -I$d"; done
    # The same environment as bindings/go/run-tests.sh, without -race.
    (
        export CGO_ENABLED=1 CGO_CFLAGS="-O2 -g${cflags}"
        export CGO_LDFLAGS="-L$SY_LIB_DIR -Wl,-rpath,$SY_LIB_DIR"
        export GOFLAGS=-buildvcs=false GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local GOWORK=off
        export GOCACHE="$SY_BUILD_ROOT/go-cache" GOPATH="$SY_BUILD_ROOT/go-path"
        export GOMODCACHE="$GOPATH/pkg/mod"
        cd "$src/bindings/go"
        # Go's plans cost about 10x C's: a tenth of the iterations, 7 runs.
        go test -tags switchyard_buildtree -run '^$' -bench '^BenchmarkPlan' -benchmem \
            -benchtime "$((iterations / 10 + 1))x" -count 7 .
    ) | tee "$tmp/go.out"
    # BenchmarkPlanFull-2  10001  5432 ns/op  4216 B/op  60 allocs/op
    awk '$1 ~ /^BenchmarkPlan/ && $4 == "ns/op" {
        name = $1; sub(/-[0-9]+$/, "", name)
        c = name == "BenchmarkPlanFirst" ? "first" : name == "BenchmarkPlanFull" ? "full" : \
            name == "BenchmarkPlanFullFields" ? "reqf_full" : \
            name == "BenchmarkPlanPreparedFull" ? "prep_full" : \
            name == "BenchmarkPlanPreparedAppend" ? "prep_append" : ""
        if (c != "") print "RUN go " c " " $3 " " $7
    }' "$tmp/go.out" >>"$tmp/results"
else
    echo "no go: Go left out"
fi

echo "== Rust: cargo run --release --example bench_plan (bindings/rust/switchyard)"
if command -v cargo >/dev/null; then
    (
        export SWITCHYARD_LIB_DIR="$SY_LIB_DIR" CARGO_TARGET_DIR="$SY_BUILD_ROOT/cargo-target"
        export CARGO_TERM_COLOR=never
        cd "$src"
        cargo run --release --offline --quiet --manifest-path bindings/rust/Cargo.toml \
            -p switchyard --example bench_plan -- "$config" "$request" "$iterations"
    ) | tee -a "$tmp/results"
else
    echo "no cargo: Rust left out"
fi

echo "== C again: $bench_c"
"$bench_c" "$config" "$request" "$iterations" | tee -a "$tmp/results"

python3 - "$tmp/results" <<'PY'
import statistics, sys

# (row, what, the case each language runs for it)
rows = [
    ("first", "plan + first target, request built once [1]", {"c": "first", "go": "first", "rust": "first"}),
    ("full", "whole plan (3 targets), request built once [1]", {"c": "full", "go": "full", "rust": "full"}),
    ("full_sys", "whole plan, borrowed strings (Rust: raw FFI) [2]", {"c": "full", "rust": "full_sys"}),
    ("req_full", "request parsed from JSON + whole plan", {"c": "req_full", "go": "full", "rust": "req_full"}),
    ("reqf_full", "request set field by field + whole plan", {"c": "reqf_full", "go": "reqf_full", "rust": "reqf_full"}),
    ("fast_full", "fast path: Go PreparedRequest, Rust next_ref [3]", {"c": "full", "go": "prep_full", "rust": "ref_full"}),
    ("fast_reuse", "the same, Go AppendPlan into a reused slice [3]", {"c": "full", "go": "prep_append"}),
]
ns, allocs, results, runs = {}, {}, {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 5 and f[0] == "RESULT":  # a median of 7 runs (C twice: the mean is taken)
        results.setdefault((f[1], f[2]), []).append(float(f[3]))
        allocs[f[1], f[2]] = f[4]
    elif len(f) == 5 and f[0] == "RUN":  # one Go run: the median is taken here
        runs.setdefault((f[1], f[2]), []).append((float(f[3]), f[4]))
for key, vs in results.items():
    ns[key] = statistics.mean(vs)
for key, rs in runs.items():
    ns[key] = statistics.median(r[0] for r in rs)
    allocs[key] = rs[0][1]


def cell(lang, cases):
    key = (lang, cases.get(lang))
    if key not in ns:
        return "-"
    v = ns[key]
    c = ns.get(("c", cases["c"]))
    if lang == "c" or c is None:
        return "%.0f" % v
    return "%.0f (%+.0f, %+.0f%%)" % (v, v - c, (v - c) / c * 100)


print()
print("binding overhead, ns per operation (median of 7 runs; C: the mean of its runs before and after;")
print("printed, never judged)")
print("%-10s %-50s %6s %24s %24s" % ("case", "what", "C", "Go", "Rust"))
for row, what, cases in rows:
    print("%-10s %-50s %6s %24s %24s" % (row, what, cell("c", cases), cell("go", cases), cell("rust", cases)))
print()
print("heap allocations per operation: C through the router's allocator; Go and Rust")
print("their own heaps only (-benchmem; a counting global allocator), not the library's")
print("%-10s %7s %7s %7s" % ("case", "C", "Go", "Rust"))
for row, _, cases in rows:
    print("%-10s %7s %7s %7s" % (row, *(allocs.get((lang, cases.get(lang)), "-") for lang in ("c", "go", "rust"))))
print()
print("[1] Go's Router.Plan takes a Request, plain Go data, and builds the C request")
print("    from it at every call (here from the JSON), so its first and full rows include")
print("    that, and its req_full row is its full benchmark again. Go's request built once")
print("    is the fast path's PreparedRequest [3].")
print("[2] What the Rust binding would cost without copying each target into an owned")
print("    Target (Strings, Vecs): the same plan through switchyard-sys.")
print("[3] Fast paths, against C's whole plan. Go: PreparedRequest.Plan, the C request and")
print("    plan storage built once, one cgo call per target plus one, target strings shared")
print("    from plan to plan (fast_reuse: AppendPlan into the caller's slice). Rust:")
print("    Plan::next_ref, borrowed targets (TargetRef), only the plan's storage allocated.")
if ("c", "full") in ns:
    c = ns["c", "full"]
    parts = ["C %.0f ns" % c]
    for key, label in ((("go", "full"), "Go"), (("rust", "full"), "Rust")):
        if key in ns:
            parts.append("%s %.0f ns (%+.0f)" % (label, ns[key], ns[key] - c))
    print("whole plan: " + ", ".join(parts))
    parts = []
    for key, label in ((("go", "prep_full"), "Go prepared"), (("go", "prep_append"), "Go prepared+reused slice"),
                       (("rust", "ref_full"), "Rust next_ref")):
        if key in ns:
            parts.append("%s %.0f ns (%+.0f)" % (label, ns[key], ns[key] - c))
    if parts:
        print("fast path:  " + ", ".join(parts))
PY
