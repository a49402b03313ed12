"""The seeded split and standardization.

``split_indices`` permutes the rows with the run's seeded "data" stream and cuts them into training, validation
and test: per class when stratified (each class keeps its share), each count rounded half up. Standardization
z = (x − μ)/σ uses μ, σ of the training split only, and travels with the model so predictions use the same
transform.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .table import CHUNK


def split_indices(n: int, strata: Optional[np.ndarray], val_frac: float, test_frac: float,
                  rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded (train, val, test) index arrays; stratified (per-class proportions) when ``strata`` is given."""
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == c) for c in np.unique(strata)]
    train, val, test = [], [], []
    for group in groups:
        group = rng.permutation(group)
        n_test = int(test_frac * len(group) + 0.5)  # rounded half up
        n_val = int(val_frac * len(group) + 0.5)
        test.append(group[:n_test])
        val.append(group[n_test:n_test + n_val])
        train.append(group[n_test + n_val:])
    return tuple(rng.permutation(np.concatenate(part)).astype(np.intp) for part in (train, val, test))


def standardize(X: np.ndarray, mean: Optional[np.ndarray], scale: Optional[np.ndarray], dtype) -> np.ndarray:
    """The network's input: z = (x − mean)/scale computed in float64, stored in ``dtype`` (C-contiguous).

    Without a mean it is only cast (no copy when X already is ``dtype``). Row chunks keep the float64
    temporaries small; the values are the same as whole-array arithmetic.
    """
    dtype = np.dtype(dtype)
    if mean is None:
        return np.ascontiguousarray(X, dtype=dtype)
    out = np.empty(X.shape, dtype=dtype)
    for start in range(0, len(X), CHUNK):
        rows = slice(start, start + CHUNK)
        out[rows] = (X[rows].astype(np.float64, copy=False) - mean) / scale
    return out
