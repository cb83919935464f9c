#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (release mode: the numerical tests are
# heavy in debug), then the Python package, built and installed from this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

echo "== Rust: cargo test --release (all crates but the Python binding)"
cargo test --release --workspace --exclude cronos-py

echo "== Python: build and install the package, then pytest"
python3 -m pip install --quiet --disable-pip-version-check maturin numpy scikit-learn pytest safetensors pandas
python3 -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./crates/cronos-py
CRONOS_CLI="$CARGO_TARGET_DIR/release/cronos" python3 -m pytest crates/cronos-py/tests -q
