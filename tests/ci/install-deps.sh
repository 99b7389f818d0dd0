#!/usr/bin/env bash
# Installs what switchyard needs to build and test on Debian 12 (bookworm).
#
#   bash tests/ci/install-deps.sh
#
# Asks dpkg first and installs only what is missing, so a second run needs no
# network and takes a fraction of a second. Runs as root, or through sudo
# when not root and sudo exists. Never prompts.
set -euo pipefail

packages=(
    meson ninja-build pkg-config   # build system
    gcc g++                        # the default toolchain
    clang libclang-rt-14-dev       # clang builds: sanitizers and libFuzzer
    llvm                           # llvm-symbolizer for sanitizer stack traces
    libasio-dev                    # standalone Asio (connector)
    libmbedtls-dev                 # TLS
    libpcre2-dev                   # route patterns
    libcjson-dev                   # JSON
    libcmocka-dev                  # unit tests
    python3                        # the syctl contract checker
    binutils                       # readelf, nm (ABI checks)
    abigail-tools                  # abidw/abidiff: the ABI baseline check
    golang-go                      # Go binding, Go peer benchmarks
    postgresql libpq-dev           # the read/write-split example (examples/postgres)
    tinyproxy microsocks           # real proxies for the connector's proxy-hop tests
)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: dpkg-query not found: this script is for Debian 12" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo DEBIAN_FRONTEND=noninteractive)
else
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: not root and no sudo: install them as root, then run again" >&2
    exit 1
fi

echo "install-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
