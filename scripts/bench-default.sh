#!/usr/bin/env bash
# The default job against the fair Adam reference, side by side on the same machine:
#   1. `cronos train` with no flags (gated ReLU, squared loss, β chosen by the path on a 90/10
#      split, then a certified refit on all rows), read through `--json`;
#   2. `scripts/adam_torch.py`: a PyTorch Adam MLP of 64 hidden units whose learning rate
#      and epoch are chosen on a 10% validation split (never on the test set).
# Prints wall time, test accuracy (and cronos' certified gap and peak RSS) of both, the time
# ratio, and `uptime` before and after (the machine may be shared: read timings with the load).
#   bash scripts/bench-default.sh                 # the default job: 60,000 rows, 10 classes
#   bash scripts/bench-default.sh --classes 2,4   # a pair of classes (flags go to both jobs)
#   bash scripts/bench-default.sh --n-train 10000
# Needs torch (`python3 -m pip install torch`); set CRONOS_BIN to skip the cargo build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${CRONOS_BIN:-}" ]; then
    cargo build --release -q -p cronos-cli
    CRONOS_BIN="$CARGO_TARGET_DIR/release/cronos"
fi
python3 -c "import torch" 2>/dev/null || { echo "error: torch is not installed (python3 -m pip install torch)" >&2; exit 2; }
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# the flags both jobs understand: --classes A,B and --n-train N
ADAM_ARGS=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --classes|--n-train) ADAM_ARGS+=("${args[$i]}" "${args[$((i + 1))]}") ;;
        --classes=*|--n-train=*) ADAM_ARGS+=("${args[$i]}") ;;
    esac
done

echo "before: $(uptime)"
/usr/bin/time -f "%e %M" -o "$OUT/cronos.time" \
    "$CRONOS_BIN" train --json --quiet --force --out "$OUT/model.safetensors" "$@" > "$OUT/cronos.json"
echo "after cronos: $(uptime)"
/usr/bin/time -f "%e %M" -o "$OUT/adam.time" \
    python3 scripts/adam_torch.py "${ADAM_ARGS[@]}" > "$OUT/adam.log"
echo "after adam: $(uptime)"
sed 's/^/  adam: /' "$OUT/adam.log" | head -n -1

python3 - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
c = json.loads(open(f"{out}/cronos.json").read().strip().splitlines()[-1])
a = json.loads(open(f"{out}/adam.log").read().strip().splitlines()[-1])
cw, crss = open(f"{out}/cronos.time").read().split()
aw, _ = open(f"{out}/adam.time").read().split()
def get(d, *keys):
    for k in keys:
        d = d.get(k, {}) if isinstance(d, dict) else {}
    return d if d != {} else None
tacc = c.get("test_accuracy", get(c, "metrics", "test_accuracy"))
gap = c.get("relative_gap", get(c, "metrics", "relative_gap"))
print("| job | wall s | test accuracy | certified gap | notes |")
print("|---|---|---|---|---|")
print(f"| cronos train (defaults) | {float(cw):.1f} (total_seconds {c.get('total_seconds', float('nan')):.1f}; path {c.get('path_seconds', float('nan')):.1f}) | {100 * tacc:.2f}% | {gap:.1e} | status {c.get('status')}, β/β_max {c.get('beta_fraction')}, peak RSS {int(crss) / 1024:.0f} MB |")
print(f"| PyTorch Adam 784-64, lr and epoch by validation | {float(aw):.1f} (grid {a['total_seconds']:.1f}) | {100 * a['test_accuracy']:.2f}% | – | lr {a['lr']:g}, epoch {a['epoch']}, validation {100 * a['validation_accuracy']:.2f}% |")
print(f"time ratio cronos / Adam grid: {float(cw) / float(aw):.2f}; accuracy difference: {100 * (tacc - a['test_accuracy']):+.2f} points")
EOF
