#!/bin/bash
# ReLU vs gated vs logistic/softmax through the CLI on the bundled Fashion-MNIST, one run at a
# time (README: "ReLU vs gated vs logistic/softmax"). Prints one table row per run.
#   bash scripts/bench-losses.sh        (about 17 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p cronos-cli
B=$PWD/target/release/cronos
D=$PWD/data/fashion-mnist
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {
    uptime | sed 's/.*load/load/' >&2
    "$B" train "$D" "$@" --json --out "$out/m.safetensors" --force 2>/dev/null > "$out/r.json"
    python3 - "$out/r.json" "$*" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"| {sys.argv[2]} | {j['status']} | {j['relative_gap']:.1e} | {j['constraint_violation']:.1e} | {100 * j['test_accuracy']:.2f}% | {j['total_seconds']:.1f} |")
PY
}
echo "| flags | status | certified gap | cone violation | test | total s |"
echo "|---|---|---|---|---|---|"
run --classes 2,4
run --classes 2,4 --relu
run --classes 2,4 --loss logistic
run --classes 0,2,4
run --classes 0,2,4 --loss softmax --time-limit 300
run --classes 0,2,4 --relu --time-limit 300
