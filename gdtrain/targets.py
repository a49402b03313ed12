"""Standardized regression targets (``data.standardize_target``), as scikit-learn's TransformedTargetRegressor
with a StandardScaler.

The network learns the targets in standard units and every number a user reads is in the target's own units:

    fit (training split only)   μ_y = mean(y),  σ_y = std(y)          per target column (σ_y = 1 for a constant one)
    what the network learns     u = (y − μ_y) / σ_y
    what it predicts            ŷ = μ_y + σ_y · û                      (predict, evaluate, the metrics)

The loss (train_loss, val_loss, summary.json's ``loss``) is the objective the network minimizes, so it is in
standard units: with mse it is the mse divided by σ_y². mse, mae and r2 are computed on ŷ against y, in the
target's units (r2 is the same in both). μ_y and σ_y are stored in model.npz (``y_mean``, ``y_scale``).

When to use it: a regression target far from unit scale (diabetes' disease progression, 25 to 346, σ_y ≈ 77;
prices, counts). The residuals, and with them the gradients, are then σ_y times those of the standardized target,
and the output weights must grow σ_y-fold: only a tiny lr trains (diabetes.yaml without it: lr 0.001; 0.003
diverges). Standardized, the lr of the other standardized problems works (diabetes.yaml: 0.05), and the first
outputs (≈ 0) start at the mean instead of a hundred units away. It changes nothing a model can represent: a
linear model's optimum in standard units is the least-squares fit in the original ones, mapped by ŷ = μ_y + σ_y û.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class TargetScaling:
    """u = (y − mean)/scale per target column, and back; float64 arithmetic whatever the network's dtype."""

    mean: np.ndarray  # (k,) float64
    scale: np.ndarray  # (k,) float64, > 0

    @classmethod
    def fit(cls, y_train: np.ndarray) -> TargetScaling:
        """The training split's per-column mean and (population) standard deviation, as StandardScaler."""
        y = np.asarray(y_train, dtype=np.float64).reshape(len(y_train), -1)
        mean, scale = y.mean(axis=0), y.std(axis=0)
        scale[scale < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)] = 1.0  # a constant column
        return cls(mean, scale)

    def transform(self, y: np.ndarray, dtype=np.float64) -> np.ndarray:
        """u = (y − mean)/scale, as the network's dtype (C-contiguous)."""
        u = (np.asarray(y, dtype=np.float64).reshape(len(y), -1) - self.mean) / self.scale
        return np.ascontiguousarray(u, dtype=dtype)

    def inverse(self, u: np.ndarray) -> np.ndarray:
        """ŷ = mean + scale · u in float64 (a prediction in the target's units)."""
        return self.mean + self.scale * np.asarray(u, dtype=np.float64).reshape(len(u), -1)


def original_units(scaling: Optional[TargetScaling], values: np.ndarray) -> np.ndarray:
    """``values`` (outputs or targets in the network's units) in the target's units: unchanged without scaling."""
    return values if scaling is None else scaling.inverse(values)
