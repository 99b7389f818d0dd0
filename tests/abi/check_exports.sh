#!/usr/bin/env bash
# check_exports.sh LIBSWITCHYARD EXPORTS_TXT [PLUGIN.so ...]
# The library exports exactly the sy_* functions listed in EXPORTS_TXT (one
# name per line, '#' comments), under the version node SWITCHYARD_1.0, and its
# soname carries the ABI major; each plugin exports only its entry symbols.
set -euo pipefail
lib=$1 want=$2
shift 2
fail=0

got=$(nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | sed 's/@.*//' | sort)
expected=$(grep -v '^#' "$want" | sed '/^$/d' | sort)
bad=$(echo "$got" | grep -v '^sy_' || true)
if [ -n "$bad" ]; then
    echo "not sy_ symbols exported by $lib:"; echo "$bad" | sed 's/^/  /'; fail=1
fi
added=$(comm -23 <(echo "$got") <(echo "$expected"))
removed=$(comm -13 <(echo "$got") <(echo "$expected"))
if [ -n "$added" ]; then
    echo "exported but not in $(basename "$want") (add them on purpose):"; echo "$added" | sed 's/^/  /'; fail=1
fi
if [ -n "$removed" ]; then
    echo "in $(basename "$want") but no longer exported (an ABI break):"; echo "$removed" | sed 's/^/  /'; fail=1
fi
unversioned=$(objdump -T "$lib" | awk '/ sy_/ && $0 !~ /SWITCHYARD_1\.0/ { print $NF }')
if [ -n "$unversioned" ]; then
    echo "exported without the SWITCHYARD_1.0 version node:"; echo "$unversioned" | sed 's/^/  /'; fail=1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != libswitchyard.so.1 ]; then
    echo "soname is '$soname', expected libswitchyard.so.1"; fail=1
fi

for p in "$@"; do
    extra=$(nm -D --defined-only "$p" | awk '$2 != "A" { print $3 }' | grep -v '^sy_plugin_\(.*_\)\?query$' || true)
    if [ -n "$extra" ]; then
        echo "$(basename "$p") exports more than its entry symbols:"; echo "$extra" | sed 's/^/  /'; fail=1
    fi
done

echo "$(echo "$got" | wc -l) symbols exported by $(basename "$lib"), soname $soname, $# plugins checked"
exit $fail
