"""The package works with numpy alone: run a script with scikit-learn made unimportable."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys, pickle, warnings, tempfile, os
    sys.modules["sklearn"] = None  # import sklearn -> ImportError
    import numpy as np
    import cronos
    from cronos import _base
    assert not _base.HAVE_SKLEARN
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3)); y = np.abs(X[:, 0]) + X[:, 1]
    r = cronos.ConvexReLURegressor(n_patterns=16, max_iter=200).fit(X, y)
    assert r.score(X, y) > 0.9, r.score(X, y)
    c = cronos.GatedReLUClassifier(n_patterns=8, max_iter=100).fit(X, np.where(y > 1, "a", "b"))
    assert c.score(X, np.where(y > 1, "a", "b")) > 0.8
    assert c.get_params()["n_patterns"] == 8
    c.set_params(n_patterns=4); assert c.n_patterns == 4
    assert "GatedReLUClassifier(" in repr(c)
    pickle.loads(pickle.dumps(r)).predict(X)
    try:
        cronos.ConvexReLURegressor().predict(X)
    except ValueError as e:
        assert "not fitted" in str(e)
    try:
        Xn = X.copy(); Xn[0, 0] = np.nan
        cronos.ConvexReLURegressor().fit(Xn, y)
        raise SystemExit("NaN accepted")
    except ValueError as e:
        assert "NaN" in str(e)
    d = tempfile.mkdtemp(); p = os.path.join(d, "m.safetensors")
    c.save(p); c2 = cronos.load(p)
    assert (c2.predict(X) == c.predict(X)).all()
    print("ok")
    """
)


def test_numpy_only():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
