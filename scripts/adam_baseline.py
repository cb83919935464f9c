"""Tuned-Adam baseline: a two-layer ReLU MLP (one hidden layer) trained by Adam on the bundled
Fashion-MNIST, the learning rate picked on a held-out validation split — an independent
(numpy) implementation to measure cronos against.

    python3 scripts/adam_baseline.py [--classes 2,4] [--hidden 64] [--epochs 20] [--loss softmax|squared]

Prints one line per learning rate and a JSON summary: the validation-selected test accuracy, and
`peak_test_accuracy`, the best test accuracy seen at any learning rate and epoch (optimistic: it
peeks at the test set, as a "best test accuracy" in a study does).
"""
import argparse, gzip, json, os, time
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "fashion-mnist")


def idx(name, offset):
    with gzip.open(os.path.join(ROOT, name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load(split):
    p = "train" if split == "train" else "t10k"
    x = idx(f"{p}-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255.0
    return x, idx(f"{p}-labels-idx1-ubyte.gz", 8).astype(np.int64)


def train(x, y, k, hidden, lr, epochs, batch, seed, xv, yv, xte, yte):
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    w1 = (rng.standard_normal((d, hidden)) * np.sqrt(2.0 / d)).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = (rng.standard_normal((hidden, k)) * np.sqrt(1.0 / hidden)).astype(np.float32)
    b2 = np.zeros(k, np.float32)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    best = (-1.0, None)
    peak = 0.0  # the best test accuracy seen at any epoch (an optimistic, test-peeking number)
    for ep in range(epochs):
        perm = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            ib = perm[s:s + batch]
            xb, yb = x[ib], y[ib]
            h = xb @ w1 + b1
            a = np.maximum(h, 0)
            z = a @ w2 + b2
            z -= z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(ib)), yb] -= 1.0
            gz = p / len(ib)
            gw2, gb2 = a.T @ gz, gz.sum(0)
            ga = gz @ w2.T
            ga[h <= 0] = 0
            gw1, gb1 = xb.T @ ga, ga.sum(0)
            t += 1
            for i, g in enumerate([gw1, gb1, gw2, gb2]):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                params[i] -= lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
        acc = accuracy(params, xv, yv)
        peak = max(peak, accuracy(params, xte, yte))
        if acc > best[0]:
            best = (acc, [p.copy() for p in params], ep + 1)
    return best + (peak,)


def accuracy(params, x, y):
    w1, b1, w2, b2 = params
    return float((np.argmax(np.maximum(x @ w1 + b1, 0) @ w2 + b2, 1) == y).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", default="")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lrs", default="3e-4,1e-3,3e-3,1e-2,3e-2")
    ap.add_argument("--val-fraction", type=float, default=1 / 12)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    xtr, ytr = load("train")
    xte, yte = load("test")
    if a.classes:
        cls = [int(c) for c in a.classes.split(",")]
        keep = lambda y: np.isin(y, cls)
        xtr, ytr, xte, yte = xtr[keep(ytr)], ytr[keep(ytr)], xte[keep(yte)], yte[keep(yte)]
        remap = {c: i for i, c in enumerate(cls)}
        ytr, yte = np.array([remap[c] for c in ytr]), np.array([remap[c] for c in yte])
    k = int(ytr.max()) + 1
    rng = np.random.default_rng(a.seed)
    perm = rng.permutation(len(xtr))
    nv = int(round(a.val_fraction * len(xtr)))
    vi, ti = perm[:nv], perm[nv:]
    rows = []
    t0 = time.time()
    for lr in [float(s) for s in a.lrs.split(",")]:
        t1 = time.time()
        acc, params, ep, peak = train(xtr[ti], ytr[ti], k, a.hidden, lr, a.epochs, a.batch, a.seed, xtr[vi], ytr[vi], xte, yte)
        te = accuracy(params, xte, yte)
        rows.append({"lr": lr, "validation_accuracy": acc, "best_epoch": ep, "test_accuracy": te, "peak_test_accuracy": peak, "seconds": time.time() - t1})
        print(f"lr {lr:g}: validation {100 * acc:.2f}% (epoch {ep}), test {100 * te:.2f}% (best test at any epoch {100 * peak:.2f}%), {time.time() - t1:.1f}s", flush=True)
    best = max(rows, key=lambda r: r["validation_accuracy"])
    print(json.dumps({"hidden": a.hidden, "classes": a.classes or "all", "epochs": a.epochs, "chosen_lr": best["lr"],
                      "test_accuracy": best["test_accuracy"],
                      # what a study reporting the best test accuracy seen (any LR, any epoch) would say
                      "peak_test_accuracy": max(r["peak_test_accuracy"] for r in rows), "grid_seconds": time.time() - t0, "runs": rows}))


if __name__ == "__main__":
    main()
