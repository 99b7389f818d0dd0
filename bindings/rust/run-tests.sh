#!/usr/bin/env bash
# Tests the Rust crates against this build tree (cargo test --offline), then
# builds and runs examples/rust. Meson runs it with SY_BUILD_ROOT,
# SY_SOURCE_ROOT, SY_PLUGIN_DIR, SY_LIB_DIR, SY_INCLUDE_DIRS and SY_SANITIZED.
set -euo pipefail

: "${SY_BUILD_ROOT:?}" "${SY_SOURCE_ROOT:?}" "${SY_PLUGIN_DIR:?}" "${SY_LIB_DIR:?}"
if [[ -n "${SY_SANITIZED:-}" && "${SY_SANITIZED}" != none ]]; then
	echo "SKIP: library built with -Db_sanitize=${SY_SANITIZED}; a non-ASan Rust binary cannot load it"
	exit 77
fi
command -v cargo >/dev/null || { echo "SKIP: no cargo"; exit 77; }

export SWITCHYARD_LIB_DIR="$SY_LIB_DIR"
export SY_PLUGIN_DIR
# Build output stays in the build tree, never under the sources.
export CARGO_TARGET_DIR="$SY_BUILD_ROOT/cargo-target"
export CARGO_TERM_COLOR=never
export HOME="${HOME:-$SY_BUILD_ROOT}"

cd "$SY_SOURCE_ROOT"
echo "== cargo test (switchyard-sys, switchyard)"
cargo test --offline --manifest-path bindings/rust/Cargo.toml --workspace

echo "== examples/rust"
cargo run --offline --manifest-path examples/rust/Cargo.toml --bin plan_connect
