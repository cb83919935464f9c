"""scipy.sparse input: kept sparse from the estimator to the Rust solver.

CSR and CSC matrices (and arrays) are accepted (other formats are converted to CSR). They are
never densified: preprocessing scales columns without centering (centering would make every
entry non-zero; the bias column absorbs the offset instead), and the solver receives the CSR
parts, which it stores sparse (or dense, only when the data are dense enough for the dense
kernels to be faster; see the README).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

try:
    import scipy.sparse as _sp
except ImportError:  # pragma: no cover - scipy comes with scikit-learn
    _sp = None


def is_sparse(X) -> bool:
    """Whether X is a scipy.sparse matrix or array."""
    return _sp is not None and _sp.issparse(X)


def to_csr(X, dtype=None):
    """X as a canonical CSR matrix of a float dtype (float32 kept, anything else float64),
    with finite values; duplicates summed."""
    if dtype is None:
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    X = _sp.csr_matrix(X, dtype=dtype)
    if not np.isfinite(X.data).all():
        raise ValueError("Input X contains NaN or infinity.")
    X.sum_duplicates()
    return X


def column_stats(X, w: Optional[np.ndarray], kind: str) -> Tuple[np.ndarray, np.ndarray]:
    """(offset, scale) of the preprocessing of sparse X: offset 0 always. 'standardize' divides
    by each column's (weighted) standard deviation, like StandardScaler(with_mean=False);
    'scale01' divides by the largest |value| (for non-negative data exactly min/max scaling
    to [0, 1], since the minimum of a sparse column is 0)."""
    # the statistics of the CLI's sparse training (cronos_model::sparse_column_stats)
    from ._cronos import preprocess_stats

    return preprocess_stats(rust_parts(X), kind, sample_weight=None if w is None else np.ascontiguousarray(w, dtype=np.float64))


def scale_columns(X, scale: np.ndarray, dtype):
    """X with column j divided by scale[j], as CSR of `dtype` (still sparse). A division, not a
    product with 1/scale: the entries are then those of the dense (X - 0) / scale, bit for bit."""
    X = to_csr(X, dtype).copy()
    X.data = (X.data / scale.astype(dtype)[X.indices]).astype(dtype, copy=False)
    return X


def rust_parts(X):
    """The form `cronos._cronos.fit` takes sparse x in: (indptr, indices, data, (n, d)), int64
    offsets and indices, float data."""
    X = to_csr(X, X.dtype)
    return (
        np.ascontiguousarray(X.indptr, dtype=np.int64),
        np.ascontiguousarray(X.indices, dtype=np.int64),
        np.ascontiguousarray(X.data),
        (int(X.shape[0]), int(X.shape[1])),
    )
