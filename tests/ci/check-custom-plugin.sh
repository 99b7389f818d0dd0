#!/usr/bin/env bash
# The out-of-tree plugin example (examples/custom_plugin) against an installed
# switchyard, the way a new user meets it: copy the example somewhere else,
# build it with nothing but cc and pkg-config, install it into the plugin
# directory, route with the installed syctl.
#
#   bash tests/ci/check-custom-plugin.sh DESTDIR LIBDIR BINDIR [WORKDIR]
#
# DESTDIR  what `meson install --destdir` was given
# LIBDIR   the configured libdir, absolute (e.g. /usr/local/lib/x86_64-linux-gnu)
# BINDIR   the configured bindir, absolute (e.g. /usr/local/bin)
# WORKDIR  an empty or new directory outside the source tree (default: a
#          fresh temporary one, removed at exit)
#
# The plugin is installed into DESTDIR's plugindir. Every check prints what it
# expected and what it got, and the script exits non-zero at the first that fails.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: $0 DESTDIR LIBDIR BINDIR [WORKDIR]" >&2
    exit 2
fi
dest=$(realpath -m "$1")
libdir=$2
bindir=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -eq 4 ]; then
    work=$(realpath -m "$4")
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/sy-custom-plugin.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi

lib=$dest$libdir
syctl_bin=$dest$bindir/syctl
failed() {
    echo "check-custom-plugin: FAILED: $*" >&2
    exit 1
}
# expect WHAT EXPECTED GOT
expect() {
    if [ "$2" != "$3" ]; then
        printf 'check-custom-plugin: FAILED: %s\n  expected: %s\n  got:      %s\n' "$1" "$2" "$3" >&2
        exit 1
    fi
    printf 'ok: %s: %s\n' "$1" "$3"
}

[ -f "$lib/pkgconfig/switchyard.pc" ] || failed "no $libdir/pkgconfig/switchyard.pc under $dest"
[ -x "$syctl_bin" ] || failed "no installed syctl at $bindir/syctl under $dest"
case $work/ in "$root"/*) failed "WORKDIR $work is inside the source tree $root" ;; esac

# ---------------------------------------------------------------- 1. copy

cp -R "$root/examples/custom_plugin" "$work/"
ex=$work/custom_plugin
rm -f "$ex/weighted_rr.so"
echo "copied examples/custom_plugin to $ex: $(cd "$ex" && echo *)"

# ---------------------------------------------------------------- 2. build, install

# pkg-config as a user of the installed copy; the sysroot maps the .pc file's
# paths into DESTDIR.
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags switchyard)
plugindir=$(pkg-config --variable=plugindir switchyard)
echo "pkg-config --cflags switchyard: $cflags"
echo "pkg-config --variable=plugindir switchyard: $plugindir"
# pkgconf prefixes the sysroot to variables, pkg-config does not.
case $plugindir in "$dest"/*) ;; *) plugindir=$dest$plugindir ;; esac
expect "plugindir (under DESTDIR)" "$lib/switchyard" "$plugindir"

cd "$ex"
if command -v make >/dev/null; then
    make -s -B CFLAGS='-O2 -Werror' weighted_rr.so
    [ -f weighted_rr.so ] || failed "make did not build weighted_rr.so"
    echo "make: built weighted_rr.so"
fi
# The README's build line, and the issue's (with --libs: it must link too).
show() {
    echo "\$ $*"
    "$@"
}
# shellcheck disable=SC2086,SC2046 # pkg-config's output is a list of words
{
    show cc -std=c11 -Wall -Wextra -Werror $cflags -shared -fPIC -o weighted_rr.so weighted_rr.c
    show cc $(pkg-config --cflags --libs switchyard) -shared -fPIC -o "$work/weighted_rr-linked.so" weighted_rr.c
}

exported=$(nm -D --defined-only weighted_rr.so | awk '$3 ~ /^sy_/ {print $3}' | sort | paste -sd' ' -)
expect "exported sy_ symbols" "sy_plugin_query sy_plugin_weighted_rr_query" "$exported"
imported=$(nm -D --undefined-only weighted_rr.so | awk '$2 ~ /^sy_/ {print $2}' | paste -sd' ' -)
expect "libswitchyard symbols the plugin needs (it must reach the host only through sy_host)" "" "$imported"

install -d "$plugindir"
install -m 755 weighted_rr.so "$plugindir/"
rm -f weighted_rr.so # from here on only the installed copy can be found
echo "installed: $plugindir/weighted_rr.so"

# ---------------------------------------------------------------- 3. route

# The installed syctl, its library from DESTDIR. A real install searches its
# plugindir by itself; under a DESTDIR that directory is reached through
# SY_PLUGIN_PATH. The config has no plugin_path.
syctl() { LD_LIBRARY_PATH=$lib SY_PLUGIN_PATH=$plugindir "$syctl_bin" "$@"; }
case $(LD_LIBRARY_PATH=$lib ldd "$syctl_bin") in
*"$lib/libswitchyard.so.1"*) ;;
*) failed "the installed syctl does not load $libdir/libswitchyard.so.1 from DESTDIR" ;;
esac
grep -q '"plugin_path"' config.json && failed "config.json must not need a plugin_path"

# One plan as "node(weight,pick[,DOWN])" words, pick being what the via entry
# of weighted_rr says (or the whole via when it is not weighted_rr's).
summary() {
    python3 -c '
import json, sys
words = []
for t in json.load(sys.stdin):
    v = t["via"][0] if t["via"] else None
    pick = v["pick"] if isinstance(v, dict) and v.get("plugin") == "weighted_rr" else "via=" + json.dumps(t["via"])
    words.append("%s(%s,%s%s)" % (t["node"], t["weight"], pick, ",DOWN" if t["down"] else ""))
print(" ".join(words))'
}
# A copy of config.json with selector.config updated by a JSON object.
variant() {
    python3 -c '
import json, sys
c = json.load(open("config.json"))
c["selector"]["config"].update(json.loads(sys.argv[1]))
json.dump(c, open(sys.argv[2], "w"), indent=1)' "$1" "$2"
}
A='node-a(3,weighted) node-b(2,failover) node-c(1,failover) node-d(5,down,DOWN)'
B='node-b(2,weighted) node-c(1,failover) node-a(3,failover) node-d(5,down,DOWN)'
C='node-c(1,weighted) node-a(3,failover) node-b(2,failover) node-d(5,down,DOWN)'

expect "syctl check -c config.json" ok "$(syctl check -c config.json)"

# The example as shipped: no "start", so the cycle starts anywhere.
echo '$ syctl plan -c config.json -r request.json'
syctl plan -c config.json -r request.json | tee "$work/plan.txt"
grep -q 'via weighted_rr$' "$work/plan.txt" || failed "syctl plan's text does not say 'via weighted_rr'"
got=$(syctl plan -c config.json -r request.json --json | summary)
case $got in
"$A" | "$B" | "$C") echo "ok: plan of the shipped config: $got" ;;
*) printf 'check-custom-plugin: FAILED: plan of the shipped config\n  expected one of: %s\n                   %s\n                   %s\n  got: %s\n' \
    "$A" "$B" "$C" "$got" >&2
   exit 1 ;;
esac

# Position p of the cycle (weights a=3 b=2 c=1: a b c a b a) is what the
# (p+1)-th plan of a fresh router gets: one syctl run each, "start": p.
firsts=""
for p in 0 1 2 3 4 5 6; do
    variant "{\"start\": $p}" "$work/start$p.json"
    got=$(syctl plan -c "$work/start$p.json" -r request.json --json | summary)
    case $p in 0 | 3 | 5 | 6) want=$A ;; 1 | 4) want=$B ;; 2) want=$C ;; esac
    expect "plan at cycle position $p" "$want" "$got"
    firsts="$firsts${firsts:+ }${got%%(*}"
done
expect "first targets of cycle positions 0..6" "node-a node-b node-c node-a node-b node-a node-a" "$firsts"

# Several plans in one process (the shared atomic counter, from 4 threads at
# once), outcomes, a topology change and a sized-free checking allocator: a
# small C program built against the installed copy the same way.
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -pthread -o "$work/drive" "$root/tests/ci/custom-plugin-drive.c" \
    $(pkg-config --cflags --libs switchyard)
variant '{"start": 0}' "$work/start0.json"
rc=0
LD_LIBRARY_PATH=$lib SY_PLUGIN_PATH=$plugindir "$work/drive" "$work/start0.json" 4 30000 >"$work/drive.out" || rc=$?
sed 's/^/  | /' "$work/drive.out"
expect "custom-plugin-drive exit status" 0 "$rc"
line() { sed -n "s/^$1: //p" "$work/drive.out" | paste -sd'|' -; }
expect "sy_router_new with a negative weight (in a half-parsed \"weights\")" \
    "SY_ECONFIG selector.config.weights.o" "$(line refused)"
expect "6 consecutive plans in one process" "node-a node-b node-c node-a node-b node-a" "$(line sequence)"
expect "120000 plans from 4 threads: first targets, by weight" \
    "node-a=60000 node-b=40000 node-c=20000 other=0 bad=0" "$(line concurrent)"
expect "the next 6 plans (no ticket lost: the cycle starts afresh)" \
    "node-a node-b node-c node-a node-b node-a" "$(line after)"
expect "after 3 failures of node-a: first targets (node-a passed over, its count in via)" \
    'node-b node-b node-c node-b node-b node-b detail={"pick":"failover","consecutive_failures":3}' "$(line failures)"
expect "after node-a succeeded" "node-a node-b node-c node-a node-b node-a" "$(line recovered)"
expect "failures reported for a target of an older topology" \
    'node-b node-b node-c node-b node-b node-b detail={"pick":"failover","consecutive_failures":3}' "$(line moved)"
expect "sizes given to the allocator's free, bytes left allocated (a refused config included)" \
    "bad_frees=0 outstanding=0" "$(line allocator)"
grep -q '^log: 2 weighted_rr: node node-a: 3 consecutive failures' "$work/drive.out" ||
    failed "no warning 'node node-a: 3 consecutive failures' in the plugin's log"

# Bad configs: `syctl check` exits 2 naming the JSON path and the reason.
bad() { # WHAT CONFIG-UPDATE EXPECTED-LINE
    variant "$2" "$work/bad.json"
    local out rc=0
    out=$(syctl check -c "$work/bad.json" 2>&1) || rc=$?
    expect "syctl check, $1: exit status" 2 "$rc"
    expect "syctl check, $1: message" "syctl: $work/bad.json: $3 (SY_ECONFIG)" "$out"
}
bad "negative weight" '{"weights": {"node-b": -2}}' \
    'selector.config.weights.node-b: expected an integer weight 1..1000, got -2'
bad "zero weight" '{"weights": {"node-a": 0}}' \
    'selector.config.weights.node-a: expected an integer weight 1..1000, got 0'
bad "weight of the wrong type" '{"default_weight": "3"}' \
    'selector.config.default_weight: expected an integer weight 1..1000, got "3"'
bad "unknown key" '{"wieghts": {}}' \
    'selector.config.wieghts: unknown key (expected weights, default_weight, max_failures or start)'

# A weight for a node the topology lacks is likely a typo: a warning, not an error.
variant '{"weights": {"node-x": 2}}' "$work/typo.json"
expect "syctl check, weight of an unknown node" \
    "syctl: warning: weighted_rr: weights names node 'node-x', which topology epoch 1 lacks|ok" \
    "$(syctl check -c "$work/typo.json" 2>&1 | paste -sd'|' -)"

echo "check-custom-plugin: all checks passed"
