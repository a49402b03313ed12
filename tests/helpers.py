"""Small helpers shared by the test modules (pytest puts this folder on sys.path)."""

from __future__ import annotations

import numpy as np


def rel_err(a, b) -> float:
    """max|a − b| / max(|a| + |b|): the per-tensor relative error (0 when both are exactly 0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    num = float(np.max(np.abs(a - b), initial=0.0))
    return 0.0 if num == 0.0 else num / float(np.max(np.abs(a) + np.abs(b)))


def random_weights(sizes, rng: np.random.Generator, w_scale: float, b_scale: float) -> dict:
    """{W1, b1, W2, b2, ...} for layer sizes [n_in, ..., n_out]: W ~ N(0, w_scale²), b ~ N(0, b_scale²)."""
    weights = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        weights[f"W{i}"] = rng.normal(0.0, w_scale, (fan_out, fan_in))
        weights[f"b{i}"] = rng.normal(0.0, b_scale, fan_out)
    return weights
