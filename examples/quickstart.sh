#!/usr/bin/env bash
# switchyard quick start: install what is missing, build, and plan a request.
#
#   bash examples/quickstart.sh
#
# Builds a release build in ./build (kept if it already exists), then plans
# the request of examples/demo/request.json against the 3-node cluster of
# examples/demo/cluster.json (plus one node that is down): with syctl, as
# text and as JSON, and from C with examples/plan_request.c.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
heading() {
    printf '\n%s== %s%s\n' "$bold" "$*" "$plain"
}
show() {
    printf '$ %s\n' "$*"
    "$@"
}

heading "1. Dependencies (tests/ci/install-deps.sh)"
bash tests/ci/install-deps.sh

heading "2. Build (meson + ninja, release, in ./build)"
if [ ! -f build/meson-private/coredata.dat ]; then
    show meson setup build --buildtype=release
fi
show ninja -C build

syctl=build/core/syctl/syctl
config=examples/demo/cluster.json
request=examples/demo/request.json

heading "3. The demo cluster and request"
echo "$config:"
echo "  nodes node-a, node-b, node-c (up) and node-d (down) at 10.0.1.10..13:9042;"
echo "  selector default_policy, mode round_robin (the down node is left out; seed 0"
echo "  makes the starting node reproducible, without it each router starts at random);"
echo "  translator address_map maps each logical address to a loopback tunnel port"
echo "  (127.0.0.1:19042..19045)."
echo "$request: $(tr -s ' \n' ' ' <"$request")"

heading "4. The plan, as text (syctl plan)"
show "$syctl" plan -c "$config" -r "$request"

heading "5. The same plan as JSON (syctl plan --json): what tools should parse"
show "$syctl" plan -c "$config" -r "$request" --json

heading "6. From C: the same request planned twice by one router (round robin moves on)"
echo "(examples/plan_request.c; the README walks through it)"
show build/examples/plan_request "$config" 2

heading "7. Token-aware on two datacenters (examples/demo/two_dc.json, mode default)"
echo "2 DCs x 3 nodes, 4 tokens and 4 shards each, keyspace shop with NTS {dc1: 2, dc2: 2},"
echo "preferred_datacenter dc1: the key's dc1 replicas come first, with their shard."
show "$syctl" plan -c examples/demo/two_dc.json -r "$request"

heading "Done"
echo "Next: 'build/core/syctl/syctl help', README.md, and 'bash tests/ci/run-all.sh' for every test."
