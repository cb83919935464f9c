#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (release mode: the numerical tests are
# heavy in debug), then the Python package, built and installed from this checkout, then the
# distributed (MPI) tests when OpenMPI is installed (`.ci/run` installs it and sets
# CRONOS_REQUIRE_MPI=1, so there a missing mpirun is a failure, not a skip).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# ONNX export is checked against onnxruntime (installed below): a missing one fails, not skips
export CRONOS_REQUIRE_ONNXRUNTIME="${CRONOS_REQUIRE_ONNXRUNTIME:-1}"

echo "== Python packages the tests need (the Rust ONNX test runs onnxruntime)"
python3 -m pip install --quiet --disable-pip-version-check maturin numpy scikit-learn pytest safetensors pandas onnx onnxruntime tqdm

echo "== Rust: cargo test --release (all crates but the Python binding)"
cargo test --release --workspace --exclude cronos-py

echo "== Python: build and install the package, then pytest"
python3 -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./crates/cronos-py
CRONOS_CLI="$CARGO_TARGET_DIR/release/cronos" python3 -m pytest crates/cronos-py/tests -q

# last: building with the `mpi` feature replaces target/release/cronos with an MPI-linked one
echo "== MPI: distributed solves under mpirun -np 2 and -np 3 against one process (--features mpi)"
if command -v mpirun >/dev/null; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # CI runs as root
    cargo test --release -p cronos -p cronos-cli --features cronos/mpi,cronos-cli/mpi --test mpi --test distributed
elif [ "${CRONOS_REQUIRE_MPI:-0}" = 1 ]; then
    echo "mpirun not found (apt-get install openmpi-bin libopenmpi-dev libclang-dev)"; exit 1
else
    echo "skipped: mpirun not found (apt-get install openmpi-bin libopenmpi-dev libclang-dev)"
fi
