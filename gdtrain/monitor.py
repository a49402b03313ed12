"""What training measures: evaluation metrics and the gradient norms seen during an epoch.

Metrics (evaluation mode, no dropout):
  classification  loss, accuracy = mean(ŷ_class == y)
  regression      loss, mse = mean((ŷ − y)²), mae = mean|ŷ − y|, r2 = 1 − Σ(y − ŷ)²/Σ(y − ȳ)²
                  (r2 averaged over target columns, as scikit-learn's r2_score)

Training accuracy (classification): the share of training samples the network classified right *during* the
epoch's steps, read from the outputs of the same forward pass that computes the loss (no extra pass), so with
dropout on and with the weights moving between batches — Keras's ``accuracy``: Σ correct / Σ samples over the
epoch's batches (in batch mode, the accuracy at the start of the epoch's one step). It is not the accuracy of the
epoch's final weights; that is summary.json's train accuracy.

Gradient norms: the global norm ‖∇θJ‖₂ over all parameters (before clipping) and ‖∂J/∂W(ℓ)‖₂ per
layer, averaged over the epoch's update steps. Uma Mahesh's advice "monitor gradient norms to diagnose
vanishing or exploding behavior" ("Backpropagation and Gradient Descent", §27) is this.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional

import numpy as np

from .losses import Loss, predicted_classes
from .targets import TargetScaling, original_units
from .threads import squared_norm

EVAL_CHUNK = 2048  # rows per forward pass when evaluating large splits (bounded temporaries)


def logits(net, X: np.ndarray) -> np.ndarray:
    if len(X) <= EVAL_CHUNK:
        return net.forward(X)
    return np.concatenate([net.forward(X[i:i + EVAL_CHUNK]) for i in range(0, len(X), EVAL_CHUNK)])


def evaluate(net, loss: Loss, X: np.ndarray, y: np.ndarray, target: Optional[TargetScaling] = None) -> Dict[str, float]:
    """Loss and task metrics of ``net`` on (X, y); an empty dict for an empty split.

    With a ``target`` scaling (data.standardize_target) y is in standard units, as the network learns it: the loss
    stays there (it is the objective), mse / mae / r2 are computed in the target's units (targets.py)."""
    if len(X) == 0:
        return {}
    z = logits(net, X)
    out = {"loss": loss.value(z, y)}
    if loss.task == "classification":
        out["accuracy"] = float(np.mean(predicted_classes(loss, z) == y))
    else:
        out.update(regression_metrics(original_units(target, z), original_units(target, y)))
    return out


def regression_metrics(pred: np.ndarray, y: np.ndarray) -> Dict[str, float]:
    """mse, mae and r2 in float64 whatever the network's dtype (float32 squares overflow at |y| ≈ 1.8e19)."""
    pred, y = np.asarray(pred, dtype=np.float64), np.asarray(y, dtype=np.float64)
    residual = pred - y
    ss_res = np.sum(residual ** 2, axis=0)
    ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), 0.0)
    return {"mse": float(np.mean(residual ** 2)), "mae": float(np.mean(np.abs(residual))), "r2": float(np.mean(r2))}


def train_metric_names(task: str) -> List[str]:
    """The metrics measured on the training batches as they are trained (metrics.csv's train_<name>)."""
    return ["accuracy"] if task == "classification" else []


def saturation_threshold(activation: str, derivative: float) -> Optional[float]:
    """|z| beyond which φ'(z) < ``derivative`` for a saturating activation (None for the others).

    sigmoid: σ' = σ(1 − σ) < d  ⟺  |z| > log(s/(1 − s)),  s = (1 + √(1 − 4d))/2
    tanh:    1 − tanh² z < d    ⟺  |z| > atanh(√(1 − d))
    """
    if activation == "sigmoid" and derivative < 0.25:
        s = (1 + math.sqrt(1 - 4 * derivative)) / 2
        return math.log(s / (1 - s))
    if activation == "tanh" and derivative < 1:
        return math.atanh(math.sqrt(1 - derivative))
    return None


class EpochMeter:
    """What one epoch's steps measured, tensor by tensor ("monitor gradient norms", Mahesh §27).

    The tracked tensors are every parameter tensor but the biases: the weights W<l> and batch norm's γ and β.
    Per step (``add``, right after backpropagation, before clipping):
      grad_norm           ‖∇θJ‖₂ over all trained parameters         (averaged over the epoch's steps)
      grad_norm_<name>    ‖∂J/∂name‖₂ of each tracked tensor           (averaged over the epoch's steps)
      dead_fraction_<l>   ReLU layers: the share of units that got no gradient at any step of the epoch
                          (∂J/∂b_j = 0 at every step: the unit was inactive, z ≤ 0, on every sample)
      saturated_fraction_<l>  sigmoid/tanh layers: the share of activations (samples × units) in the
                          flat tails, where φ'(z) < ``saturation_derivative`` (default 1e-2)
    (<l> is the dense layer's number, as in W<l>.)
    Per epoch (``layer_stats``, after its last update):
      weight_norm_<name>  ‖name‖₂
      update_ratio_<name> ‖Δ‖ / ‖name‖ of the epoch's last update (a healthy rule of thumb: about 1e-3)
    """

    def __init__(self, net, saturation_derivative: float = 1e-2, loss: Optional[Loss] = None):
        self.net = net
        self.loss = loss if loss is not None and loss.task == "classification" else None
        self.names: List[str] = tracked_names(net)
        grads = net.views(net.grad)
        self.grads = [(name, grads[name], name in self.names) for name in net.names]
        hidden = [layer for layer in net.dense_layers() if layer is not net.dense_layers()[-1]]
        self.relu_layers = [(layer.index, layer) for layer in hidden if layer.activation.name == "relu"]
        self.saturating = [(layer.index, layer, t) for layer in hidden
                           if (t := saturation_threshold(layer.activation.name, saturation_derivative)) is not None]
        self.reset()

    def reset(self) -> None:
        self.steps = 0
        self.total = 0.0
        self.clipped = 0
        self.correct = 0  # training samples classified right in the epoch's forward passes ...
        self.seen = 0  # ... out of these
        self.layers = np.zeros(len(self.names))
        self.touched = {i: np.zeros(layer.fan_out, dtype=bool) for i, layer in self.relu_layers}
        self.saturated = {i: 0 for i, _, _ in self.saturating}
        self.activations = {i: 0 for i, _, _ in self.saturating}

    def add(self) -> float:
        """Record the current gradient; returns its global norm."""
        squares = 0.0  # ‖∇θJ‖² = Σ over tensors: one pass over the gradient, not two
        k = 0
        for _, g, tracked in self.grads:
            g2 = squared_norm(g)
            squares += g2
            if tracked:
                self.layers[k] += math.sqrt(g2)
                k += 1
        norm = math.sqrt(squares)
        for i, layer in self.relu_layers:
            if self.net.specs[layer.bias_name].trainable and layer.norm is None:
                self.touched[i] |= layer.gb != 0
            else:  # a frozen bias has no gradient, and after batch norm Σ_rows ∂J/∂z is 0 whatever the unit did
                self.touched[i] |= (layer.pre_activation > 0).any(axis=0)
        for i, layer, threshold in self.saturating:
            z = layer.pre_activation
            self.saturated[i] += int(np.count_nonzero(z > threshold) + np.count_nonzero(z < -threshold))
            self.activations[i] += z.size
        self.total += norm
        self.steps += 1
        return norm

    def count_correct(self, z: np.ndarray, y: np.ndarray) -> None:
        """Tally a training batch's outputs ``z`` (the loss pass's own, before backpropagation) against ``y``."""
        self.correct += int(np.count_nonzero(self.loss.classes(z) == y))
        self.seen += len(y)

    @property
    def outputs_listener(self):
        """What ``Network.loss_and_grad`` should hand each batch's outputs to (None: nothing to measure)."""
        return self.count_correct if self.loss is not None else None

    def train_metrics(self) -> Dict[str, float]:
        """{"accuracy": Σ correct / Σ samples} over the epoch's batches (classification), else {}."""
        if self.loss is None:
            return {}
        return {"accuracy": self.correct / self.seen if self.seen else math.nan}

    def means(self) -> Dict[str, float]:
        steps = max(self.steps, 1)
        out = {"grad_norm": self.total / steps}
        out.update({f"grad_norm_{name}": float(v / steps) for name, v in zip(self.names, self.layers)})
        return out

    def unit_fractions(self) -> Dict[str, float]:
        out = {f"dead_fraction_{i}": float(1 - self.touched[i].mean()) for i, _ in self.relu_layers}
        out.update({f"saturated_fraction_{i}": self.saturated[i] / max(self.activations[i], 1)
                    for i, _, _ in self.saturating})
        return out

    def layer_stats(self, before_last_update: np.ndarray) -> Dict[str, float]:
        """Weight norms and update-to-weight ratios; ``before_last_update`` is θ before the epoch's last update."""
        before, now = self.net.views(before_last_update), self.net.views(self.net.params)
        norms, ratios = {}, {}
        for name in self.names:
            old, new = before[name], now[name]
            change = new - old
            norms[f"weight_norm_{name}"] = float(np.sqrt(np.vdot(new, new)))
            ratios[f"update_ratio_{name}"] = float(np.sqrt(np.vdot(change, change)) / max(np.sqrt(np.vdot(old, old)), 1e-30))
        extra = getattr(self.net, "epoch_stats", None)  # a 2-D problem's point: x, y, f, ... (problem_model.py)
        return {**norms, **ratios, **self.unit_fractions(), **(extra(before_last_update, self.net.params) if extra else {})}

    @staticmethod
    def columns(net) -> List[str]:
        """The diagnostic column names for ``net`` (after grad_norm_*), in metrics.csv order."""
        meter = EpochMeter(net)
        names = meter.names
        return ([f"weight_norm_{n}" for n in names] + [f"update_ratio_{n}" for n in names]
                + list(meter.unit_fractions()) + list(getattr(net, "epoch_columns", ())))


def tracked_names(net) -> List[str]:
    """The tensors whose gradient norm, norm and update ratio training shows: all parameters but the biases
    (and a 2-D problem's point, whose columns are x, y, f, ...)."""
    return [name for name in net.names if net.specs[name].kind not in ("bias", "point")]
