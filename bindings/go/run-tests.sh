#!/usr/bin/env bash
# Vets and tests the Go binding against this build tree (with -race), then
# builds and runs examples/go. Meson runs it with SY_BUILD_ROOT,
# SY_SOURCE_ROOT, SY_PLUGIN_DIR, SY_LIB_DIR, SY_INCLUDE_DIRS and SY_SANITIZED.
set -euo pipefail

: "${SY_BUILD_ROOT:?}" "${SY_SOURCE_ROOT:?}" "${SY_PLUGIN_DIR:?}" "${SY_LIB_DIR:?}"
if [[ -n "${SY_SANITIZED:-}" && "${SY_SANITIZED}" != none ]]; then
	echo "SKIP: library built with -Db_sanitize=${SY_SANITIZED}; cgo with -race does not mix with sanitizers"
	exit 77
fi
command -v go >/dev/null || { echo "SKIP: no go"; exit 77; }

cflags=""
IFS=: read -r -a incs <<<"${SY_INCLUDE_DIRS:-$SY_SOURCE_ROOT/include:$SY_BUILD_ROOT/include}"
for d in "${incs[@]}"; do cflags+=" -I$d"; done

export CGO_ENABLED=1
export CGO_CFLAGS="-O2 -g${cflags}"
export CGO_LDFLAGS="-L$SY_LIB_DIR -Wl,-rpath,$SY_LIB_DIR"
export GOFLAGS=-buildvcs=false
export GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local GOWORK=off
export GOCACHE="$SY_BUILD_ROOT/go-cache"
export GOPATH="$SY_BUILD_ROOT/go-path"
export GOMODCACHE="$GOPATH/pkg/mod"
export HOME="${HOME:-$SY_BUILD_ROOT}"

tags=switchyard_buildtree
cd "$SY_SOURCE_ROOT/bindings/go"
echo "== go vet"
go vet -tags "$tags" ./...
echo "== go test -race"
go test -race -count=1 -tags "$tags" ./...

echo "== examples/go"
cd "$SY_SOURCE_ROOT/examples/go"
bin="$SY_BUILD_ROOT/go-example"
go vet -tags "$tags" ./...
go build -tags "$tags" -o "$bin" .
"$bin"
