#!/bin/sh
# Runs every libFuzzer target of a build for a bounded time.
#
#   fuzz/run-libfuzzer.sh BUILDDIR SECONDS [EXTRA LIBFUZZER ARGS...]
#
# BUILDDIR must be a clang build with a sanitizer, e.g.
#   CC=clang CXX=clang++ meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
#   ninja -C build-asan
# Each <target>_libfuzzer runs on a copy of fuzz/corpus/<target> in a
# temporary directory (the repository is never written), with
# fuzz/<target>.dict, for SECONDS. Crash, leak and timeout reproducers go to
# an artifacts directory whose path is printed; minimise one with
#   BUILDDIR/fuzz/<target>_libfuzzer -minimize_crash=1 -runs=10000 ARTIFACT
# and add it to fuzz/corpus/<target>/ under its SHA-256.
# fuzz/<target>.seeds may list more seed directories, one per line, relative
# to the repository root (e.g. ../shared/conformance/... data that is read in
# place, never copied into the repository).
# Exit status: 0 when no target crashed, 1 otherwise, 2 on bad usage.
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILDDIR SECONDS [LIBFUZZER ARGS...]" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
case $seconds in
'' | *[!0-9]*)
    echo "$0: SECONDS must be a number, not '$seconds'" >&2
    exit 2
    ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
max_len=65536 # SYF_MAX_INPUT in fuzz_common.h

targets=$(find "$build/fuzz" -maxdepth 2 -type f -name '*_libfuzzer' -perm -u+x 2>/dev/null | sort)
if [ -z "$targets" ]; then
    echo "$0: no *_libfuzzer binaries in $build/fuzz." >&2
    echo "Configure with clang and a sanitizer, e.g." >&2
    echo "  CC=clang CXX=clang++ meson setup BUILDDIR -Db_sanitize=address,undefined -Db_lundef=false" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sy-fuzz.XXXXXX") || exit 2
artifacts=$work/artifacts
mkdir -p "$artifacts"
echo "work directory: $work"
echo "crash artifacts: $artifacts"

# Leaks are checked per input by the harness itself; LSan at exit catches the rest.
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
SY_PLUGIN_PATH=
export ASAN_OPTIONS UBSAN_OPTIONS SY_PLUGIN_PATH

failed=""
for exe in $targets; do
    name=$(basename "$exe" _libfuzzer)
    corpus=$work/corpus/$name
    mkdir -p "$corpus"
    if [ -d "$here/corpus/$name" ]; then
        cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null
    fi
    if [ -f "$here/$name.seeds" ]; then
        while IFS= read -r dir; do
            case $dir in '' | '#'*) continue ;; esac
            if [ -d "$here/../$dir" ]; then
                find "$here/../$dir" -type f -exec sh -c \
                    'for f; do cp "$f" "$0/seed-$(basename "$f")"; done' "$corpus" {} +
            else
                echo "   (seed directory $dir not found: skipped)"
            fi
        done <"$here/$name.seeds"
    fi
    seeds=$(find "$corpus" -type f | wc -l)
    dict=""
    [ -f "$here/$name.dict" ] && dict="-dict=$here/$name.dict"
    log=$work/$name.log
    echo
    echo "== $name: $seeds seeds, ${seconds}s"
    echo "   $exe $dict -max_total_time=$seconds -timeout=5 -rss_limit_mb=2048" \
        "-max_len=$max_len -print_final_stats=1 -artifact_prefix=$artifacts/$name- $corpus $*"
    # shellcheck disable=SC2086 # $dict is one word or none
    "$exe" $dict -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
        -max_len="$max_len" -print_final_stats=1 \
        -artifact_prefix="$artifacts/$name-" "$corpus" "$@" >"$log" 2>&1
    rc=$?
    # The last status line, and the final stats.
    grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 | sed 's/^/   /'
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' \
        "$log" | sed 's/^/   /'
    echo "   corpus now $(find "$corpus" -type f | wc -l) inputs; log: $log"
    if [ $rc -ne 0 ]; then
        echo "   FAILED (exit $rc):"
        grep -E 'ERROR: |SUMMARY: |switchyard fuzz invariant|runtime error|Test unit written to' \
            "$log" | head -n 20 | sed 's/^/   /'
        failed="$failed $name"
    fi
done

echo
if [ -n "$failed" ]; then
    echo "crashes in:$failed (artifacts in $artifacts)"
    exit 1
fi
echo "no crashes; artifacts directory $artifacts is empty"
exit 0
