#!/usr/bin/env bash
# check-abi.sh BUILD_DIR            compare the built library with the baseline
# check-abi.sh --update BUILD_DIR   rewrite the baseline from the built library
#
# The ABI of libswitchyard.so.1 as libabigail sees it (the exported functions,
# their signatures, and the layout of every type they reach in the public
# headers) is pinned in tests/abi/libswitchyard.abi. This script dumps the
# freshly built library the same way (abidw), compares the two (abidiff,
# whose report it prints), then checks every struct member by member
# (abi_members.py). It fails on anything our conventions do not allow:
#
#   - a function removed, or its symbol gone (or its version node changed);
#   - a changed signature: a parameter or return type changed, a parameter
#     added or removed;
#   - a struct or union reached from the API changed other than by appending
#     members after its old end: a member removed, moved, inserted before the
#     end, retyped (callback signatures included) or renamed; the size shrunk;
#   - a new member placed in the old tail padding: callers built against the
#     baseline pass the old sizeof as struct_size, which covers that padding,
#     so the library could not tell the new member from garbage;
#   - the soname or the architecture changed;
#   - a function of the baseline no longer declared in the public headers
#     (still exported, but callers' sources no longer compile).
#
# New exported functions and members appended after the old end pass (they
# are printed). tests/abi/abi.suppr lets abidiff accept tail growth of sy_*
# structs; abi_members.py checks what that suppression cannot. The build must
# have debug info (buildtype debug or debugoptimized); the baseline is made
# with gcc on x86_64 (LP64), as CI builds build-ci-gcc. Needs abidw and
# abidiff (libabigail; Debian: abigail-tools) and python3: without them the
# check fails, it is not skipped.
#
# Exit: 0 compatible, 1 incompatible (or a tool error), 2 usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
baseline=$here/libswitchyard.abi
suppr=$here/abi.suppr

usage() {
    echo "usage: $0 [--update] BUILD_DIR" >&2
    exit 2
}
update=0
if [ "${1:-}" = --update ]; then
    update=1
    shift
fi
[ $# -eq 1 ] || usage
[ -d "$1" ] || { echo "check-abi: no build directory $1" >&2; exit 2; }
build=$(cd "$1" && pwd)
lib=$build/core/libswitchyard.so.1

for tool in abidw abidiff readelf python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "check-abi: FAIL: $tool not found (abidw, abidiff: install abigail-tools, i.e. libabigail)"
        exit 1
    fi
done
if [ ! -e "$lib" ]; then
    echo "check-abi: FAIL: $lib not found (build it first: ninja -C $1)"
    exit 1
fi
if ! readelf -S --wide "$lib" | grep -q '\.debug_info'; then
    echo "check-abi: FAIL: $lib has no debug info; configure with --buildtype=debugoptimized (or debug)"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The ABI of the library as XML: only what the exported functions reach,
# only types from the public headers (others, like the definition of the
# opaque sy_router, are dropped), and nothing that depends on where or on
# what machine it was built: no paths, no source lines, no DT_NEEDED list,
# type ids hashed from the types. The translation units' names are made
# relative to the source root (they are the build's relative paths).
dump() {
    abidw --headers-dir "$src/include/switchyard" \
        --headers-dir "$build/include/switchyard" \
        --exported-interfaces-only --drop-private-types \
        --no-corpus-path --no-comp-dir-path --no-show-locs --no-elf-needed \
        --type-id-style hash \
        --out-file "$tmp/raw.abi" "$lib"
    sed -E "s#(<abi-instr [^>]*path=')[^']*/(core/)#\1\2#" "$tmp/raw.abi" >"$1"
}

abi_summary() {
    printf '%s functions, %s types\n' "$(grep -c '<elf-symbol ' "$1")" \
        "$(grep -c -E '<(class-decl|union-decl|enum-decl|typedef-decl) ' "$1")"
}

if [ "$update" = 1 ]; then
    dump "$tmp/new.abi"
    mv "$tmp/new.abi" "$baseline"
    echo "check-abi: wrote $baseline from $lib: $(abi_summary "$baseline")"
    exit 0
fi

if [ ! -f "$baseline" ]; then
    echo "check-abi: FAIL: no baseline $baseline; make it with: bash $0 --update $1"
    exit 1
fi
dump "$tmp/new.abi"
echo "check-abi: baseline $(basename "$baseline"): $(abi_summary "$baseline")"
echo "check-abi: built    $(basename "$lib"): $(abi_summary "$tmp/new.abi")"

# abidiff's exit status is a bit set: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible ABI change (a removed function or variable or symbol, a
# soname or architecture change). Bit 4 alone covers everything else it
# reports, compatible or not: added functions, signature changes, type
# changes not suppressed by abi.suppr. So a report with bit 4 is read again
# without the added functions (--no-added-syms): whatever is left is a
# change we do not allow.
run_abidiff() {
    local rc=0
    abidiff --no-default-suppression --no-show-locs --show-bytes --suppressions "$suppr" "$@" \
        "$baseline" "$tmp/new.abi" >"$tmp/report" 2>&1 || rc=$?
    return "$rc"
}
rc=0
run_abidiff || rc=$?
echo "---- abidiff $(basename "$baseline") <built> (exit $rc)"
cat "$tmp/report"
echo "----"
remedy="If this is deliberate: a binary-incompatible change needs a new ABI major (sy_abi in meson.build: the soname and SY_ABI_VERSION), then a new baseline: bash tests/abi/check-abi.sh --update BUILD_DIR (a rename that keeps the layout needs only the new baseline)"
if [ $((rc & 3)) -ne 0 ]; then
    echo "check-abi: FAIL: abidiff could not compare (exit $rc)"
    exit 1
fi
fail=0
added=0
if [ $((rc & 8)) -ne 0 ]; then
    echo "check-abi: FAIL: incompatible ABI change: something was removed, or the soname or architecture changed (see above)."
    fail=1
elif [ $((rc & 4)) -ne 0 ]; then
    rc2=0
    run_abidiff --no-added-syms || rc2=$?
    if [ $((rc2 & ~4)) -ne 0 ]; then
        echo "check-abi: FAIL: abidiff --no-added-syms exit $rc2:"
        cat "$tmp/report"
        exit 1
    fi
    if [ $((rc2 & 4)) -ne 0 ]; then
        echo "check-abi: FAIL: ABI change beyond additions and tail growth (a changed signature, or a type changed other than by appending members at its end; see above)."
        fail=1
    else
        added=1
    fi
fi

# What the suppression cannot tell apart (see abi_members.py): existing
# members of every struct, by name, offset and type; new ones only at or
# after the old size.
mrc=0
python3 "$here/abi_members.py" "$baseline" "$tmp/new.abi" || mrc=$?
if [ "$mrc" -eq 1 ]; then
    if [ "$fail" = 0 ]; then
        # abidiff's own view, unsuppressed, of what the suppression hid.
        abidiff --no-default-suppression --no-show-locs --show-bytes "$baseline" "$tmp/new.abi" >"$tmp/report" 2>&1 || true
        echo "---- abidiff without abi.suppr"
        cat "$tmp/report"
        echo "----"
    fi
    echo "check-abi: FAIL: a struct changed other than by appending members after its old end (see above)."
    fail=1
elif [ "$mrc" -ne 0 ]; then
    echo "check-abi: FAIL: abi_members.py could not compare (exit $mrc)"
    exit 1
fi

# The library may still export a function the headers no longer declare:
# binaries keep working, but every caller's source breaks. Each function of
# the baseline must stay declared in include/switchyard/.
undeclared=""
for f in $(grep -o "<function-decl name='sy_[A-Za-z0-9_]*'" "$baseline" | sed "s/.*name='//; s/'//" | sort -u); do
    grep -qE "^SY_API[^;]*[^A-Za-z0-9_]$f[[:space:]]*\(" "$src"/include/switchyard/*.h || undeclared="$undeclared $f"
done
if [ -n "$undeclared" ]; then
    echo "check-abi: FAIL: no longer declared in include/switchyard/*.h:$undeclared"
    fail=1
fi

if [ "$fail" != 0 ]; then
    echo "check-abi: $remedy"
    exit 1
fi
if [ "$added" = 1 ]; then
    echo "check-abi: ok: compatible additions only (new functions listed above, maybe appended struct members)."
    echo "check-abi: additions are pinned once the baseline is refreshed (at a release): bash tests/abi/check-abi.sh --update BUILD_DIR"
else
    echo "check-abi: ok: no ABI change beyond struct members appended after the old end (if any)"
fi
