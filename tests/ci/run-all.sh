#!/usr/bin/env bash
# Every check switchyard has, in the order CI runs them:
#
#   bash tests/ci/run-all.sh
#
#   1. gcc build (debugoptimized) and every test suite (unit, fuzzing replay, examples),
#      then the ABI baseline check (tests/abi/check-abi.sh)
#   2. the syctl contract checker (../shared/contract/check-syctl)
#   3. install check: meson install --destdir, then pkg-config and a C program
#      built against the installed copy with nothing but cc and pkg-config
#   4. clang build with ASan + UBSan, every test suite
#   5. clang build with TSan, the thread-relevant tests
#   6. libFuzzer smoke runs (60 s per target) on the ASan build
#   7. benchmarks (numbers are printed, never judged)
#
# Build directories are build-ci-* in the repository root (git-ignored) and are
# set up fresh each run; SY_CI_REUSE=1 keeps them and builds incrementally.
# Made for 2 cores: ninja -j2, meson test --num-processes 2.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../.." && pwd))
cd "$root"

jobs=${SY_CI_JOBS:-2}
shared=$(realpath -m "$root/../shared")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sy-ci.XXXXXX")

# ---------------------------------------------------------------- step bookkeeping

run_start=$(date +%s)
current=""
step_start=0
timings=()

fmt_time() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

begin() {
    current=$1
    step_start=$(date +%s)
    printf '\n======== %s  [%s]\n' "$current" "$(date +%H:%M:%S)"
}

end() {
    local took=$(($(date +%s) - step_start))
    timings+=("$(printf '%8s  %s' "$(fmt_time "$took")" "$current")${1:+  ($1)}")
    printf -- '-------- %s: ok in %s\n' "$current" "$(fmt_time "$took")"
    current=""
}

on_exit() {
    local rc=$?
    rm -rf "$tmp"
    echo
    echo "======== summary"
    local t
    for t in "${timings[@]+"${timings[@]}"}"; do echo "$t"; done
    if [ -n "$current" ]; then
        printf '%8s  %s  FAILED (exit %d)\n' "$(fmt_time $(($(date +%s) - step_start)))" "$current" "$rc"
    fi
    echo "   total  $(fmt_time $(($(date +%s) - run_start)))"
    if [ "$rc" -ne 0 ]; then
        echo "run-all: FAILED${current:+ in step: $current}" >&2
    else
        echo "run-all: all steps passed"
    fi
}
trap on_exit EXIT

# "Ok: 40, Fail: 0, ..." from a meson test log, for the summary.
counts() {
    sed -n 's/^\(Ok\|Expected Fail\|Fail\|Unexpected Pass\|Skipped\|Timeout\):[[:space:]]*\([1-9][0-9]*\).*$/\1 \2/p' "$1" |
        paste -sd, - | sed 's/,/, /g'
}

# meson setup DIR [ARGS...], fresh unless SY_CI_REUSE=1.
setup() {
    local dir=$1
    shift
    if [ "${SY_CI_REUSE:-0}" = 1 ] && [ -f "$dir/meson-private/coredata.dat" ]; then
        meson setup --reconfigure "$dir" "$@"
    else
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}

# ---------------------------------------------------------------- 0. dependencies

begin "0. dependencies (tests/ci/install-deps.sh)"
bash tests/ci/install-deps.sh
end

# ---------------------------------------------------------------- 1. gcc

begin "1. gcc build + all tests (build-ci-gcc)"
CC=gcc CXX=g++ setup build-ci-gcc --buildtype=debugoptimized
ninja -C build-ci-gcc -j"$jobs"
meson test -C build-ci-gcc --print-errorlogs --num-processes "$jobs" | tee "$tmp/gcc.log"
# The ABI guard once more, outside meson: its test there is skipped when
# abidiff is missing; here a missing tool fails the run.
bash tests/abi/check-abi.sh build-ci-gcc
end "$(counts "$tmp/gcc.log")"

# ---------------------------------------------------------------- 2. contract

begin "2. syctl contract (../shared/contract/check-syctl)"
if [ ! -f "$shared/contract/check-syctl" ]; then
    echo "run-all: $shared/contract/check-syctl not found." >&2
    echo "run-all: the contract checker lives in shared/ beside the repository ($shared);" >&2
    echo "run-all: check it out there, then run again." >&2
    exit 1
fi
python3 "$shared/contract/check-syctl" build-ci-gcc/core/syctl/syctl build-ci-gcc/plugins
end

# ---------------------------------------------------------------- 3. install

begin "3. install check (meson install --destdir, pkg-config, cc)"
dest=$tmp/destdir
meson install -C build-ci-gcc --destdir "$dest" --quiet
# prefix, libdir, includedir as this build was configured
read -r prefix libdir includedir < <(meson introspect build-ci-gcc --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], o["libdir"], o["includedir"])')
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
case $includedir in /*) ;; *) includedir=$prefix/$includedir ;; esac
lib=$dest$libdir
inc=$dest$includedir
fail() {
    echo "install check: $*" >&2
    echo "installed files:" >&2
    (cd "$dest" && find . -type f -o -type l | sort | sed 's/^/  /') >&2
    exit 1
}

for h in switchyard.h plugin.h version.h static_routes.h template_routes.h client_routes.h shard_map.h; do
    [ -f "$inc/switchyard/$h" ] || fail "missing header $includedir/switchyard/$h"
done
echo "headers: $(cd "$inc/switchyard" && echo *)"

[ -e "$lib/libswitchyard.so.1" ] || fail "missing $libdir/libswitchyard.so.1"
[ -e "$lib/libswitchyard.so" ] || fail "missing the development link $libdir/libswitchyard.so"
soname=$(readelf -d "$lib/libswitchyard.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libswitchyard.so.1 ] || fail "soname is '$soname', expected libswitchyard.so.1"
echo "library: $(cd "$lib" && readlink -f libswitchyard.so.1 | xargs basename), soname $soname"

built_plugins=$(find build-ci-gcc/plugins -maxdepth 1 -name '*.so' -printf '%f\n' | sort)
[ -n "$built_plugins" ] || fail "no plugins were built in build-ci-gcc/plugins"
for p in $built_plugins; do
    [ -f "$lib/switchyard/$p" ] || fail "plugin $p not installed in $libdir/switchyard/"
done
echo "plugins in $libdir/switchyard: $(echo "$built_plugins" | paste -sd' ' -)"

pc=$lib/pkgconfig/switchyard.pc
[ -f "$pc" ] || fail "missing $libdir/pkgconfig/switchyard.pc"
grep -q '^plugindir=' "$pc" || fail "switchyard.pc has no plugindir variable"

# pkg-config as a user of the installed copy would run it; the sysroot maps
# the .pc file's /usr/local/... paths into the destdir.
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs switchyard)
plugindir=$(pkg-config --variable=plugindir switchyard)
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
echo "pkg-config --cflags --libs switchyard: $flags"
echo "pkg-config --variable=plugindir switchyard: $plugindir"
case $plugindir in
"$libdir/switchyard" | "$dest$libdir/switchyard") ;;
*) fail "plugindir is '$plugindir', expected $libdir/switchyard" ;;
esac

# shellcheck disable=SC2086 # $flags is a list of words
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/plan_request" examples/plan_request.c $flags
resolved=$(LD_LIBRARY_PATH=$lib ldd "$tmp/plan_request")
case $resolved in
*"$lib/libswitchyard.so.1"*) ;;
*) fail "the example does not load libswitchyard.so.1 from the installed copy: $resolved" ;;
esac
# Run outside the tree so the demo's relative plugin_path finds nothing: the
# plugins come from the installed plugindir.
(cd "$tmp" && LD_LIBRARY_PATH=$lib SY_PLUGIN_PATH=$lib/switchyard \
    ./plan_request "$root/examples/demo/cluster.json")
# A user's own plugin (examples/custom_plugin), built outside the tree with
# only cc and pkg-config against the installed copy, routed through by syctl.
bash tests/ci/check-custom-plugin.sh "$dest" "$libdir" "$prefix/bin" "$tmp/custom-plugin"
end

# ---------------------------------------------------------------- 4. ASan + UBSan

begin "4. clang ASan+UBSan build + all tests (build-ci-asan)"
CC=clang CXX=clang++ setup build-ci-asan --buildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false
ninja -C build-ci-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-ci-asan --print-errorlogs --num-processes "$jobs" --timeout-multiplier 3 |
    tee "$tmp/asan.log"
end "$(counts "$tmp/asan.log")"

# ---------------------------------------------------------------- 5. TSan

begin "5. clang TSan build + thread tests (build-ci-tsan)"
# clang 14's TSan cannot map its shadow under a kernel with high mmap
# randomisation (vm.mmap_rnd_bits > 28); run without ASLR there.
tsan_wrap=()
printf '#include <pthread.h>\nstatic void *f(void *a) { return a; }\nint main(void) { pthread_t t; pthread_create(&t, 0, f, 0); return pthread_join(t, 0); }\n' >"$tmp/tsan.c"
clang -fsanitize=thread -o "$tmp/tsan" "$tmp/tsan.c"
if ! "$tmp/tsan" >/dev/null 2>&1; then
    if setarch "$(uname -m)" -R "$tmp/tsan" >/dev/null 2>&1; then
        echo "TSan needs ASLR off on this kernel: running the tests under setarch -R"
        tsan_wrap=(setarch "$(uname -m)" -R)
    else
        "$tmp/tsan" || true
        echo "run-all: a trivial TSan program fails on this machine (see above)" >&2
        exit 1
    fi
fi
CC=clang CXX=clang++ setup build-ci-tsan --buildtype=debugoptimized \
    -Db_sanitize=thread -Db_lundef=false
tsan_tests=(threads reload plan plan_async shard_map default_policy default_mode static_routes template_routes connect connect_tls)
missing=$(meson introspect build-ci-tsan --tests | python3 -c '
import json, sys
names = {t["name"] for t in json.load(sys.stdin)}
print(" ".join(n for n in sys.argv[1:] if n not in names))' "${tsan_tests[@]}")
if [ -n "$missing" ]; then
    echo "run-all: build-ci-tsan defines no test named: $missing (see tests/meson.build)" >&2
    exit 1
fi
# meson test builds only what the selected tests need.
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    "${tsan_wrap[@]+"${tsan_wrap[@]}"}" meson test -C build-ci-tsan --print-errorlogs \
    --num-processes "$jobs" --timeout-multiplier 5 "${tsan_tests[@]}" | tee "$tmp/tsan.log"
end "$(counts "$tmp/tsan.log")"

# ---------------------------------------------------------------- 6. libFuzzer

begin "6. libFuzzer smoke runs (fuzz/run-libfuzzer.sh build-ci-asan 60)"
if [ -f fuzz/run-libfuzzer.sh ]; then
    bash fuzz/run-libfuzzer.sh build-ci-asan 60
    end
else
    echo "fuzz/run-libfuzzer.sh not present: skipped"
    end "skipped"
fi

# ---------------------------------------------------------------- 7. benchmarks

begin "7. benchmarks (meson test --benchmark)"
nbench=$(meson introspect build-ci-gcc --benchmarks | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
if [ "$nbench" -eq 0 ]; then
    echo "no benchmarks defined (tests/bench/): nothing to run"
    end "none defined"
else
    meson test -C build-ci-gcc --benchmark --verbose --num-processes 1
    end "$nbench benchmarks"
fi
