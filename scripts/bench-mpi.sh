#!/usr/bin/env bash
# Benchmark of distributed training on the bundled Fashion-MNIST (60,000 × 784, 10 classes,
# P = 64, ReLU, f32): seconds per ADMM iteration in one process and on 1 and 2 MPI ranks,
# bytes summed over ranks per iteration, and the cost model for K machines (README section
# "Distributed training"). Needs OpenMPI; builds the CLI with `--features mpi`.
#   bash scripts/bench-mpi.sh [ITERATIONS]     (default 6; ~1 min per configuration here)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ITERS="${1:-6}"
cargo build --release -q -p cronos-cli --features mpi
BIN="$CARGO_TARGET_DIR/release/cronos"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
COMMON=(train --max-iter "$ITERS" --beta-fraction 1e-3 --json --quiet --force)

run() { # name, command...
    local name="$1"; shift
    "$@" --out "$OUT/$name.safetensors" > "$OUT/$name.json"
    echo "$name" >> "$OUT/order"
}
run "1 process, 2 threads"            "$BIN" "${COMMON[@]}" --threads 2
run "1 rank, 2 threads (MPI path)"    mpirun -np 1 --bind-to none "$BIN" "${COMMON[@]}" --distributed --threads 2
run "1 rank, 1 thread"                mpirun -np 1 --bind-to core "$BIN" "${COMMON[@]}" --distributed --threads 1
run "2 ranks, 1 thread each"          mpirun -np 2 --bind-to core "$BIN" "${COMMON[@]}" --distributed --threads 1

python3 - "$OUT" <<'EOF'
import json, math, sys, os
out = sys.argv[1]
rows = []
for name in open(os.path.join(out, "order")).read().split("\n"):
    if not name:
        continue
    j = json.load(open(os.path.join(out, name + ".json")))
    per_it = j.get("seconds_per_iteration") or j["seconds"] / j["admm_iterations"]
    rows.append((name, per_it, j.get("allreduce_bytes_per_iteration"), j["cg_iterations"] / j["admm_iterations"], j["setup_seconds"], j["objective"]))
print("| configuration | s / ADMM iteration | bytes summed / iteration (per rank) | CG / iteration | setup s | objective |")
print("|---|---|---|---|---|---|")
for r in rows:
    b = "–" if r[2] is None else f"{r[2] / 1e6:.1f} MB"
    print(f"| {r[0]} | {r[1]:.2f} | {b} | {r[3]:.1f} | {r[4]:.1f} | {r[5]:.6e} |")
# cost model: compute ∝ n·d·P/K (one machine = the 2-thread process), communication per
# iteration = 2⌈log2 K⌉ tree steps (reduce + broadcast) × the bytes summed, at bandwidth bw
t1 = rows[0][1]
b = rows[-1][2]
print()
print(f"cost model: T(K) = {t1:.2f} s / K  +  2·ceil(log2 K) · {b / 1e6:.1f} MB / bandwidth")
for label, bw in [("10 Gb/s", 1.25e9), ("100 Gb/s", 12.5e9)]:
    k = 2
    while t1 / k > 2 * math.ceil(math.log2(k)) * b / bw:
        k += 1
    print(f"  {label}: communication exceeds compute from K = {k} machines (compute {t1 / k * 1e3:.0f} ms, communication {2 * math.ceil(math.log2(k)) * b / bw * 1e3:.0f} ms per iteration)")
EOF
