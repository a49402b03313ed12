"""What training measures: evaluation metrics and the gradient norms seen during an epoch.

Metrics (evaluation mode, no dropout):
  classification  loss, accuracy = mean(ŷ_class == y)
  regression      loss, mse = mean((ŷ − y)²), mae = mean|ŷ − y|, r2 = 1 − Σ(y − ŷ)²/Σ(y − ȳ)²
                  (r2 averaged over target columns, as scikit-learn's r2_score)

Gradient norms: the global norm ‖∇θJ‖₂ over all parameters (before clipping) and ‖∂J/∂W(ℓ)‖₂ per
layer, averaged over the epoch's update steps. The seeds' advice "monitor gradient norms to diagnose
vanishing or exploding behaviour" is this.
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np

from .losses import Loss, predicted_classes

EVAL_CHUNK = 8192  # rows per forward pass when evaluating large splits


def logits(net, X: np.ndarray) -> np.ndarray:
    if len(X) <= EVAL_CHUNK:
        return net.forward(X)
    return np.concatenate([net.forward(X[i:i + EVAL_CHUNK]) for i in range(0, len(X), EVAL_CHUNK)])


def evaluate(net, loss: Loss, X: np.ndarray, y: np.ndarray) -> Dict[str, float]:
    """Loss and task metrics of ``net`` on (X, y); an empty dict for an empty split."""
    if len(X) == 0:
        return {}
    z = logits(net, X)
    out = {"loss": loss.value(z, y)}
    if loss.task == "classification":
        out["accuracy"] = float(np.mean(predicted_classes(loss, z) == y))
    else:
        out.update(regression_metrics(z, y))
    return out


def regression_metrics(pred: np.ndarray, y: np.ndarray) -> Dict[str, float]:
    residual = pred.astype(np.float64) - y
    ss_res = np.sum(residual ** 2, axis=0)
    ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), 0.0)
    return {"mse": float(np.mean(residual ** 2)), "mae": float(np.mean(np.abs(residual))), "r2": float(np.mean(r2))}


def metric_names(task: str) -> List[str]:
    """The keys ``evaluate`` returns for a task, in order."""
    return ["loss", "accuracy"] if task == "classification" else ["loss", "mse", "mae", "r2"]


def primary_metric(task: str) -> str:
    """The metric shown next to the loss: accuracy for classification, r2 for regression."""
    return "accuracy" if task == "classification" else "r2"


class GradNormMeter:
    """Accumulates the global and per-layer gradient norms of each step; ``means()`` per epoch."""

    def __init__(self, net):
        self.net = net
        self.names: List[str] = net.weight_names()
        self.reset()

    def reset(self) -> None:
        self.steps = 0
        self.total = 0.0
        self.clipped = 0
        self.layers = np.zeros(len(self.names))

    def add(self) -> float:
        """Record the current gradient; returns its global norm."""
        grad = self.net.grad
        norm = float(np.sqrt(np.vdot(grad, grad)))
        for i, layer in enumerate(self.net.layers):
            self.layers[i] += np.sqrt(np.vdot(layer.gW, layer.gW))
        self.total += norm
        self.steps += 1
        return norm

    def means(self) -> Dict[str, float]:
        steps = max(self.steps, 1)
        out = {"grad_norm": self.total / steps}
        out.update({f"grad_norm_{name}": float(v / steps) for name, v in zip(self.names, self.layers)})
        return out
