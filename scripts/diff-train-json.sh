#!/usr/bin/env bash
# Compares `cronos train --json` (and `cronos inspect --json` of the saved model) of two
# binaries on 7 small runs (fixed β, --beta auto, --val-fraction, regression, auto-β
# regression, softmax + balanced weights, pattern pricing): the key sets and every value but
# the timings (keys containing "seconds") must be identical. Exit 1 on any difference.
#   bash scripts/diff-train-json.sh OLD_CRONOS NEW_CRONOS
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 OLD_CRONOS NEW_CRONOS"; exit 2; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
python3 - "$W" <<'PY'
import sys, numpy as np
w = sys.argv[1]; r = np.random.default_rng(0)
x = r.normal(size=(300, 6)).astype(np.float32); y = (x[:, 0] * 2 - x[:, 1] + 0.1 * r.normal(size=300)).astype(np.float32)
np.savetxt(w + "/reg.csv", np.c_[x, y], delimiter=",", fmt="%.6f")
lab = (x[:, 0] + x[:, 2] > 0).astype(np.float32) + (x[:, 3] > 1)
np.save(w + "/cls.npy", np.c_[x, lab].astype(np.float32))
PY
runs() {  # BIN OUTDIR
    local bin=$1 o=$2; mkdir -p "$o"
    run() { local name=$1; shift; "$bin" train "$@" --json --quiet --force --out "$W/m/$name.safetensors" > "$o/$name.json" 2> "$o/$name.err"; "$bin" inspect --json "$W/m/$name.safetensors" > "$o/$name.inspect" 2>&1; }
    mkdir -p "$W/m"
    run fix --classes 0,6 --n-train 600 --n-test 200 --max-iter 3 --beta-fraction 1e-3 --patterns 8 --seed 1
    run auto --classes 0,6 --n-train 600 --n-test 200 --max-iter 20 --patterns 8 --path-points 4 --seed 2
    run val --n-train 800 --n-test 200 --max-iter 10 --val-fraction 0.2 --beta-fraction 1e-3 --patterns 8
    run reg --train "$W/reg.csv" --max-iter 10 --beta 0.01 --patterns 8
    run regauto --train "$W/reg.csv" --max-iter 10 --patterns 8 --path-points 3
    run cls --train "$W/cls.npy" --label-column last --max-iter 10 --beta-fraction 1e-3 --patterns 8 --loss softmax --class-weight balanced
    run price --train "$W/cls.npy" --label-column last --max-iter 10 --beta-fraction 1e-3 --patterns 8 --pricing-rounds 1 --pricing-max-iter 5
}
runs "$1" "$W/old"; runs "$2" "$W/new"
python3 - "$W" <<'PY'
import json, sys, glob, os
w = sys.argv[1]
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if 'seconds' not in k}
    return [strip(x) for x in v] if isinstance(v, list) else v
def load(p):
    t = open(p).read().strip()
    try:
        return json.loads(t)
    except ValueError:
        return {'unparsable': t[:300]}
bad = 0
for f in sorted(glob.glob(w + '/old/*.json')) + sorted(glob.glob(w + '/old/*.inspect')):
    name = os.path.basename(f)
    a, b = load(f), load(w + '/new/' + name)
    if set(a) != set(b):
        bad += 1; print(f'{name}: keys differ: only old {sorted(set(a) - set(b))}, only new {sorted(set(b) - set(a))}')
    elif strip(a) != strip(b):
        bad += 1; print(f'{name}: values differ: ' + ', '.join(k for k in a if strip(a.get(k)) != strip(b.get(k))))
    else:
        print(f'{name}: identical (timings aside)' + (f"; objective {a['objective']}" if 'objective' in a else ''))
sys.exit(1 if bad else 0)
PY
