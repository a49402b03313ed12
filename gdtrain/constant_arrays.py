"""Read-only arrays of one value, cut from a cached vector: operands that put NumPy and BLAS on their fast paths
(docs/performance.md, "What the hot path does").

    np.maximum(z, 0)   →  np.maximum(z, filled(0, z.shape, z.dtype))   ReLU: NumPy's loop against a scalar is
                                                                        not vectorized (activations.py)
    a.sum(axis=0)      →  np.dot(filled(1, n, a.dtype), a)              the column sums 1ᵀa as one BLAS
                                                                        matrix-vector product (layers.py)
"""

from __future__ import annotations

import math
from typing import Dict, Tuple, Union

import numpy as np

MIN_SIZE = 1 << 16  # the smallest vector cached (grown when a larger array is asked for)
_CACHE: Dict[Tuple[float, np.dtype], np.ndarray] = {}


def filled(value: float, shape: Union[int, Tuple[int, ...]], dtype) -> np.ndarray:
    """A read-only array of ``shape`` and ``dtype`` holding ``value`` everywhere: a view of one cached vector."""
    size = shape if isinstance(shape, int) else math.prod(shape)
    vector = _CACHE.get((value, dtype))  # (called every training step: nothing here that need not be)
    if vector is None or vector.size < size:
        vector = np.full(max(size, MIN_SIZE), value, dtype)
        vector.flags.writeable = False
        _CACHE[(value, dtype)] = vector
    return vector[:size] if isinstance(shape, int) else vector[:size].reshape(shape)
