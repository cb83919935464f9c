"""PyTorch Adam reference for `cronos train`: a 784-H-K MLP (one hidden ReLU layer, softmax
cross-entropy; one logit for two classes) trained by Adam on the bundled Fashion-MNIST, with the
learning rate AND the epoch chosen on a stratified 10% validation split of the training rows
(never on the test set). The test accuracy reported is the one of the chosen (lr, epoch).

    python3 scripts/adam_torch.py [--classes 2,4] [--n-train N] [--hidden 64] [--epochs 20]
                                  [--lrs 3e-4,1e-3,3e-3,1e-2,3e-2] [--threads 2] [--seed 0]

Prints one line per learning rate and a final JSON line with `test_accuracy`, `lr`, `epoch`,
`validation_accuracy` and `total_seconds` (the whole grid: what tuning Adam costs).
"""
import argparse, gzip, json, os, time
import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "fashion-mnist")


def idx(name, offset):
    with gzip.open(os.path.join(ROOT, name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load(split):
    p = "train" if split == "train" else "t10k"
    x = idx(f"{p}-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255.0
    return x, idx(f"{p}-labels-idx1-ubyte.gz", 8).astype(np.int64)


def pick(x, y, classes, n):
    """Rows of the given classes (first n of them), labels re-coded 0..K-1 in the given order."""
    if classes:
        keep = np.isin(y, classes)
        x, y = x[keep], y[keep]
        y = np.searchsorted(np.array(sorted(classes)), y)
        order = np.argsort(np.argsort(classes))  # position of each sorted class in `classes`
        y = order[y]
    if n is not None:
        x, y = x[:n], y[:n]
    return x, y


def stratified_split(y, fraction, seed):
    rng = np.random.default_rng(seed)
    va = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        rng.shuffle(rows)
        va.extend(rows[: int(round(len(rows) * fraction))])
    va = np.sort(np.array(va, dtype=np.int64))
    tr = np.setdiff1d(np.arange(len(y)), va)
    return tr, va


def accuracy(net, x, y, k):
    with torch.no_grad():
        s = net(x)
        pred = (s[:, 0] > 0).long() if k == 2 else s.argmax(1)
        return (pred == y).float().mean().item()


def run(lr, a, k, data):
    xtr, ytr, xva, yva, xte, yte = data
    torch.manual_seed(a.seed)
    out = 1 if k == 2 else k
    net = torch.nn.Sequential(torch.nn.Linear(784, a.hidden), torch.nn.ReLU(), torch.nn.Linear(a.hidden, out))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    lossf = torch.nn.BCEWithLogitsLoss() if k == 2 else torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(a.seed)
    curve = []  # (validation, test) after each epoch
    for _ in range(a.epochs):
        perm = torch.randperm(len(ytr), generator=g)
        for i in range(0, len(ytr), a.batch):
            b = perm[i : i + a.batch]
            s = net(xtr[b])
            loss = lossf(s[:, 0], ytr[b].float()) if k == 2 else lossf(s, ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        curve.append((accuracy(net, xva, yva, k), accuracy(net, xte, yte, k)))
    return curve


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--classes", default="")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lrs", default="3e-4,1e-3,3e-3,1e-2,3e-2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    classes = [int(c) for c in a.classes.split(",") if c]
    t0 = time.time()
    x, y = pick(*load("train"), classes, a.n_train)
    xte, yte = pick(*load("test"), classes, None)
    k = len(classes) if classes else 10
    tr, va = stratified_split(y, 0.1, a.seed)
    T = torch.from_numpy
    data = (T(x[tr]), T(y[tr]), T(x[va]), T(y[va]), T(xte), T(yte))
    best = None
    for lr in [float(v) for v in a.lrs.split(",")]:
        t1 = time.time()
        curve = run(lr, a, k, data)
        e = max(range(len(curve)), key=lambda i: (curve[i][0], -i))  # best validation, earliest on ties
        print(f"lr {lr:g}: best validation {curve[e][0]:.4f} at epoch {e + 1}, test there {curve[e][1]:.4f}, {time.time() - t1:.1f}s", flush=True)
        if best is None or curve[e][0] > best["validation_accuracy"]:
            best = {"lr": lr, "epoch": e + 1, "validation_accuracy": curve[e][0], "test_accuracy": curve[e][1]}
    best["total_seconds"] = time.time() - t0
    best["train_rows"] = len(tr)
    print(json.dumps(best))


if __name__ == "__main__":
    main()
