#!/usr/bin/env python3
"""Seeded synthetic data of the CRONOS paper's shapes (issue 14), as .npy and .npz.

A random two-layer ReLU teacher on a 32-dimensional latent z ~ N(0, I) labels each row
(two balanced classes, 0/1, split at the teacher's median score); the features are the
latent seen through a random linear map A (32 × d) plus Gaussian noise:

    x = z A / sqrt(32) + noise · e,   y = 1[relu(z W1 + b1) w2 > median].

Rows are generated in chunks straight into memory-mapped .npy files, so generating
2,000 × 87,723 or 10^6 × 768 needs little memory. The .npz (zip, stored, not deflated)
holds x.npy and y.npy under the names `cronos train --train F.npz` reads. Same seed, same
bytes: the teacher comes from the seed, the train and test rows from two derived streams.

    python3 scripts/gen-teacher.py --rows 2000 --cols 87723 --test-rows 500 --out DIR
      -> DIR/train.npz, DIR/test.npz (and DIR/{train,test}_{x,y}.npy with --keep-npy)
"""
import argparse
import os
import zipfile

import numpy as np

LATENT = 32
HIDDEN = 64
CHUNK = 8192


def teacher(seed, cols):
    rng = np.random.default_rng([seed, 0])
    a = rng.standard_normal((LATENT, cols), dtype=np.float32) / np.float32(np.sqrt(LATENT))
    w1 = rng.standard_normal((LATENT, HIDDEN)) / np.sqrt(LATENT)
    b1 = 0.5 * rng.standard_normal(HIDDEN)
    w2 = rng.standard_normal(HIDDEN) / np.sqrt(HIDDEN)
    return a, w1, b1, w2


def scores(z, w1, b1, w2):
    return np.maximum(z @ w1 + b1, 0.0) @ w2


def write_split(path_x, path_y, rows, params, stream, noise, dtype, threshold):
    """Writes rows into memory-mapped .npy files; returns the scores' median when
    `threshold` is None (the training split defines it)."""
    a, w1, b1, w2 = params
    cols = a.shape[1]
    x = np.lib.format.open_memmap(path_x, mode="w+", dtype=dtype, shape=(rows, cols))
    rng = np.random.default_rng(stream)
    s_all = np.empty(rows)
    for r0 in range(0, rows, CHUNK):
        r1 = min(rows, r0 + CHUNK)
        z = rng.standard_normal((r1 - r0, LATENT)).astype(np.float32)
        e = rng.standard_normal((r1 - r0, cols), dtype=np.float32)
        x[r0:r1] = (z @ a + np.float32(noise) * e).astype(dtype)
        s_all[r0:r1] = scores(z.astype(np.float64), w1, b1, w2)
    x.flush()
    del x
    t = float(np.median(s_all)) if threshold is None else threshold
    np.save(path_y, (s_all > t).astype(np.int64))
    return t


def bundle(npz, path_x, path_y):
    tmp = npz + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.write(path_x, "x.npy")
        zf.write(path_y, "y.npy")
    os.replace(tmp, npz)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--cols", type=int, required=True)
    ap.add_argument("--test-rows", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", type=float, default=0.5, help="std of the feature noise (signal std ≈ 1)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64", "float16"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--keep-npy", action="store_true", help="keep the .npy files next to the .npz")
    args = ap.parse_args()
    if args.rows < 2 or args.cols < 1 or args.test_rows < 0:
        ap.error(f"need --rows >= 2 and --cols >= 1 (got {args.rows} × {args.cols})")
    os.makedirs(args.out, exist_ok=True)
    params = teacher(args.seed, args.cols)
    t = None
    for name, rows, stream in [("train", args.rows, [args.seed, 1]), ("test", args.test_rows, [args.seed, 2])]:
        if rows == 0:
            continue
        px, py = (os.path.join(args.out, f"{name}_{v}.npy") for v in "xy")
        t = write_split(px, py, rows, params, stream, args.noise, np.dtype(args.dtype), t)
        bundle(os.path.join(args.out, f"{name}.npz"), px, py)
        if not args.keep_npy:
            os.remove(px)
            os.remove(py)
        print(f"{name}: {rows} × {args.cols} {args.dtype} -> {os.path.join(args.out, name + '.npz')}")


if __name__ == "__main__":
    main()
