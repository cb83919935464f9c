#!/usr/bin/env bash
# Wide- and tall-data benchmark (issue 14): synthetic teacher data of the paper's shapes
# (scripts/gen-teacher.py), trained with the issue's check command
#   cronos train --train F.npz --test G.npz --patterns 32 --beta-fraction 1e-3 --json
# and reported as time, ADMM iterations, certified gap, test accuracy and peak RSS
# (/usr/bin/time -v) as a ratio to the bytes of X (n · d · 4, f32).
#   bash scripts/bench-wide.sh [SHAPE ...]      SHAPE = ROWSxCOLS, default 2000x87723
#   EXTRA="--relu" bash scripts/bench-wide.sh 500x20000     (extra train flags)
#   bash scripts/bench-wide.sh 2000x87723 1000000x128 1000000x768    (the README's table)
# Test rows: a quarter of the training rows, at most 100,000.
# Data is cached in ${WIDE_DATA:-/tmp/cronos-wide-data}; each run has a time limit of
# ${TIME_LIMIT:-600} s.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
DATA="${WIDE_DATA:-/tmp/cronos-wide-data}"
SHAPES=("$@")
[ ${#SHAPES[@]} -eq 0 ] && SHAPES=(2000x87723)
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"
cargo build --release -q -p cronos-cli
BIN="$CARGO_TARGET_DIR/release/cronos"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

echo "load before: $(uptime)" >&2
for shape in "${SHAPES[@]}"; do
    n="${shape%x*}"; d="${shape#*x}"
    dir="$DATA/${n}x${d}"
    if [ ! -f "$dir/train.npz" ] || [ ! -f "$dir/test.npz" ]; then
        python3 scripts/gen-teacher.py --rows "$n" --cols "$d" --test-rows $(( n / 4 < 100000 ? n / 4 : 100000 )) --seed 0 --out "$dir" >&2
    fi
    set +e
    /usr/bin/time -v "$BIN" train --train "$dir/train.npz" --test "$dir/test.npz" --patterns 32 \
        --beta-fraction 1e-3 --json --quiet --force --time-limit "${TIME_LIMIT:-600}" "${EXTRA_ARGS[@]}" \
        --out "$OUT/$shape.safetensors" > "$OUT/$shape.json" 2> "$OUT/$shape.time"
    echo "$?" > "$OUT/$shape.rc"
    set -e
    echo "$shape" >> "$OUT/order"
done
echo "load after: $(uptime)" >&2

python3 - "$OUT" <<'EOF'
import json, os, re, sys
out = sys.argv[1]
print("| n × d (f32) | X | status | time s | setup s | iterations | gap | test acc | peak RSS | RSS / X |")
print("|---|---|---|---|---|---|---|---|---|---|")
for shape in open(os.path.join(out, "order")).read().split():
    n, d = map(int, shape.split("x"))
    xb = n * d * 4
    t = open(os.path.join(out, shape + ".time")).read()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
    rss = int(m.group(1)) * 1024 if m else float("nan")
    rc = open(os.path.join(out, shape + ".rc")).read().strip()
    try:
        j = json.loads(open(os.path.join(out, shape + ".json")).read().strip().splitlines()[-1])
    except Exception:
        err = [l for l in t.splitlines() if l.strip() and not l.startswith("\t")][-1:]
        print(f"| {n:,} × {d:,} | {xb/1e9:.2f} GB | exit {rc}: {' '.join(err)[:120]} | | | | | | {rss/1e9:.2f} GB | {rss/xb:.2f} |")
        continue
    g = lambda k: j.get(k)
    acc = g("test_accuracy")
    print(f"| {n:,} × {d:,} | {xb/1e9:.2f} GB | {g('status')} | {g('total_seconds'):.1f} | {g('setup_seconds') or 0:.1f} | "
          f"{g('admm_iterations')} | {g('relative_gap'):.1e} | {acc if acc is None else f'{acc:.3f}'} | {rss/1e9:.2f} GB | {rss/xb:.2f} |")
EOF
