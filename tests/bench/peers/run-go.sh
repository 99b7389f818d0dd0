#!/bin/sh
# Runs a Go peer benchmark offline with Debian's Go: run-go.sh DIR [ARGS...]
set -eu
dir=$1
shift
GOCACHE=${GOCACHE:-$(mktemp -d "${TMPDIR:-/tmp}/sy-gocache.XXXXXX")}
GOPATH=${GOPATH:-$GOCACHE/gopath}
GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local
export GOCACHE GOPATH GOFLAGS GOPROXY GO111MODULE GOTOOLCHAIN
cd "$dir"
exec go run . "$@"
