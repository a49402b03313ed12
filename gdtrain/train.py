"""The training loop: batches → forward → loss → backward → clip → optimizer step, epoch after epoch.

Modes (the seeds' three variants of gradient descent):
  batch      one step per epoch on the whole training set:   θ := θ − η ∇θ J(θ)
  sgd        one step per sample, in a fresh random order:    θ := θ − η ∇θ L(yᵢ, f(xᵢ; θ))
  minibatch  one step per batch B of ``batch_size`` samples:  θ := θ − η (1/m) Σ_{i∈B} ∇θ L(yᵢ, f(xᵢ; θ))

One step: g = ∇θ(J + penalty) on the batch → clipping (clipping.py) → the optimizer's update with the
schedule's η (optimizers.py, schedules.py). In batch mode a line search may choose the step length
instead (linesearch.py). After each epoch: evaluation on the validation split, the schedule advances,
the convergence criteria are checked (convergence.py), and the best epoch so far is remembered
(``keep: best`` — subgradient descent is not a descent method, so its last iterate need not be its best).

The loop never prints: it hands an ``EpochRecord`` to a listener after every epoch (the CLI's reporter,
the metrics.csv writer, a notebook's callback) and returns a ``TrainResult``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

from .clipping import clip_by_norm, clip_by_value
from .convergence import Criteria
from .linesearch import SearchResult, search
from .losses import Loss
from .monitor import GradNormMeter, evaluate


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val: Dict[str, float]  # validation metrics ({} without a validation split)
    lr: float  # the learning rate used in this epoch (at its first step; with a line search, the accepted step)
    grad_norms: Dict[str, float]  # grad_norm and grad_norm_W1, ... averaged over the epoch's steps
    clip_fraction: float  # share of the epoch's steps where clipping fired
    steps: int
    seconds: float  # training time since the start of the run

    @classmethod
    def columns(cls, val_metrics: List[str], weight_names: List[str]) -> List[str]:
        """metrics.csv's header for a run with these validation metrics and weight tensors."""
        grads = {"grad_norm": 0.0, **{f"grad_norm_{name}": 0.0 for name in weight_names}}
        return list(cls(0, 0.0, dict.fromkeys(val_metrics, 0.0), 0.0, grads, 0.0, 0, 0.0).row())

    def row(self) -> Dict[str, float]:
        """The metrics.csv row: epoch, train_loss, val_*, lr, grad norms, clip_fraction, seconds."""
        row: Dict[str, float] = {"epoch": self.epoch, "train_loss": self.train_loss}
        row.update({f"val_{k}": v for k, v in self.val.items()})
        row["lr"] = self.lr
        row.update(self.grad_norms)
        row["clip_fraction"] = self.clip_fraction
        row["seconds"] = round(self.seconds, 4)
        return row


@dataclass
class TrainResult:
    stop_reason: str  # "completed" | "diverged" | "tol_loss" | "tol_grad" | "tol_step" | "line_search"
    epochs: int  # epochs completed
    seconds: float
    best_epoch: int
    best_value: float
    monitor: str  # what "best" is measured by: val_loss, or train_loss without validation data
    history: List[EpochRecord] = field(default_factory=list)
    message: str = ""
    kept_epoch: int = 0  # the epoch whose weights the network holds at the end


Listener = Callable[[EpochRecord], None]


def batch_size_for(mode: str, batch_size: int, n: int) -> int:
    return n if mode == "batch" else 1 if mode == "sgd" else min(batch_size, n)


class LineSearchStep:
    """One full-batch step whose length a line search picks: θ ← θ + t d with d = −∇J(θ) (see linesearch.py)."""

    def __init__(self, spec, net, loss: Loss, X: np.ndarray, y: np.ndarray, l2: float, l1: float):
        self.spec, self.net, self.loss, self.X, self.y, self.l2, self.l1 = spec, net, loss, X, y, l2, l1
        self.theta0 = np.empty_like(net.params)
        self.direction = np.empty_like(net.params)

    def _move(self, t: float) -> None:
        np.multiply(self.direction, t, out=self.net.params)
        self.net.params += self.theta0

    def _phi(self, t: float) -> float:
        self._move(t)
        return self.net.objective(self.X, self.y, self.loss, self.l2, self.l1)

    def _phi_slope(self, t: float):
        self._move(t)
        value = self.net.loss_and_grad(self.X, self.y, self.loss, self.l2, training=False, l1=self.l1)
        return value, float(np.vdot(self.net.grad, self.direction))

    def __call__(self, value: float) -> SearchResult:
        """Search from the current θ, whose objective is ``value`` and gradient ``net.grad``; moves θ."""
        self.theta0[...] = self.net.params
        np.negative(self.net.grad, out=self.direction)
        slope0 = -float(np.vdot(self.direction, self.direction))
        result = search(self.spec, self._phi, self._phi_slope, value, slope0)
        self._move(result.step)
        return result


def train(net, loss: Loss, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
          optimizer, schedule, *, mode: str = "minibatch", batch_size: int = 32, epochs: int = 100,
          l2: float = 0.0, l1: float = 0.0, clip_norm: Optional[float] = None, clip_value: Optional[float] = None,
          shuffle_rng: Optional[np.random.Generator] = None, dropout_rng: Optional[np.random.Generator] = None,
          on_epoch: Optional[Listener] = None, schedule_per_step: bool = False,
          line_search: Optional[Dict] = None, keep: str = "last", criteria: Optional[Criteria] = None) -> TrainResult:
    """Train ``net`` in place and return how it went. See the module docstring for the modes.

    ``line_search`` (batch mode) replaces the optimizer's step; ``keep="best"`` leaves the network with the
    weights of the best epoch (by validation loss, or training loss without validation data);
    ``criteria`` may stop the run before ``epochs``.
    """
    n = len(X)
    bs = batch_size_for(mode, batch_size, n)
    shuffle_rng = shuffle_rng if shuffle_rng is not None else np.random.default_rng(0)
    dropout_rng = dropout_rng if dropout_rng is not None else np.random.default_rng(1)
    x_buf = np.empty((bs,) + X.shape[1:], X.dtype)
    y_buf = np.empty((bs,) + y.shape[1:], y.dtype)
    meter = GradNormMeter(net)
    monitor = "val_loss" if len(X_val) else "train_loss"
    # The batch-mode train_loss is J at the start of the epoch's step, so the weights it judges are those.
    best_judges_start = monitor == "train_loss" and bs == n
    best_params = net.params.copy() if keep == "best" else None
    searcher = LineSearchStep(line_search, net, loss, X, y, l2, l1) if line_search else None
    result = TrainResult("completed", 0, 0.0, 0, math.inf, monitor)
    started = time.perf_counter()
    last_good = net.params.copy()
    last_finite = math.nan  # the last finite step loss, for the divergence message
    losses: List[float] = []
    for epoch in range(1, epochs + 1):
        meter.reset()
        epoch_lr = schedule.lr
        last_good[...] = net.params
        order = None if bs == n else shuffle_rng.permutation(n)
        loss_sum = 0.0
        stop = None
        for start in range(0, n, bs):
            if order is None:
                xb, yb = X, y
            else:
                idx = order[start:start + bs]
                xb, yb = x_buf[:len(idx)], y_buf[:len(idx)]
                np.take(X, idx, axis=0, out=xb)
                np.take(y, idx, axis=0, out=yb)
            value = net.loss_and_grad(xb, yb, loss, l2, training=True, rng=dropout_rng, l1=l1)
            norm = meter.add()
            if not (math.isfinite(value) and math.isfinite(norm)):
                what = f"the loss became {value}" if not math.isfinite(value) else f"the gradient norm became {norm}"
                return _diverged(result, net, last_good, best_params, epoch, what, last_finite, started)
            last_finite = value
            loss_sum += value
            if searcher is not None:
                found = searcher(value)
                epoch_lr = found.step
                if not found.ok:
                    stop = ("line_search", f"the line search found no step that lowers the objective after "
                                           f"{found.evaluations} trials (gradient norm {norm:.2g}) at epoch {epoch}: "
                                           "it is flat to numerical precision along −∇J")
                continue
            if clip_norm is not None:
                meter.clipped += clip_by_norm(net.grad, clip_norm, norm)[1]
            elif clip_value is not None:
                meter.clipped += clip_by_value(net.grad, clip_value)
            optimizer.step(net.params, net.grad, schedule.lr)
            if schedule_per_step:
                schedule.step()
        if not np.isfinite(net.params).all():  # finite losses, but the last update overflowed
            return _diverged(result, net, last_good, best_params, epoch, "the weights became non-finite",
                             last_finite, started)
        train_loss = loss_sum / meter.steps
        losses.append(train_loss)
        val = evaluate(net, loss, X_val, y_val)
        logged = {"train_loss": train_loss, **{f"val_{k}": v for k, v in val.items()}}
        if not schedule_per_step:
            schedule.step(logged)
        record = EpochRecord(epoch, train_loss, val, epoch_lr, meter.means(), meter.clipped / meter.steps,
                             meter.steps, time.perf_counter() - started)
        result.history.append(record)
        result.epochs = epoch
        current = logged[monitor]
        if current < result.best_value or result.best_epoch == 0:
            result.best_epoch, result.best_value = epoch, current
            if best_params is not None:
                best_params[...] = last_good if best_judges_start else net.params
        if on_epoch is not None:
            on_epoch(record)
        if stop is None and criteria is not None and criteria.active:
            step_norm = float(np.linalg.norm(net.params - last_good)) if criteria.tol_step is not None else math.inf
            stop = criteria.check(epoch, losses, record.grad_norms["grad_norm"], step_norm)
        if stop is not None:
            result.stop_reason, result.message = stop
            break
    result.kept_epoch = result.epochs
    if best_params is not None and result.best_epoch:
        net.params[...] = best_params
        result.kept_epoch = result.best_epoch
    result.seconds = time.perf_counter() - started
    return result


def _diverged(result: TrainResult, net, last_good: np.ndarray, best_params: Optional[np.ndarray], epoch: int,
              what: str, last_finite: float, started: float) -> TrainResult:
    """Stop: go back to the weights at the start of this epoch (the last ones with a finite loss),
    or to the best epoch's weights when those are kept."""
    if best_params is not None and result.best_epoch:
        net.params[...] = best_params
        kept, result.kept_epoch = f"the weights of the best epoch ({result.best_epoch})", result.best_epoch
    else:
        net.params[...] = last_good
        kept, result.kept_epoch = f"the weights from the start of epoch {epoch}", epoch - 1
    last = "none" if math.isnan(last_finite) else f"{last_finite:.4g}"
    result.stop_reason = "diverged"
    result.seconds = time.perf_counter() - started
    result.message = (f"training diverged at epoch {epoch}: {what} (last finite loss: {last}); {kept} are kept. "
                      "Try a lower learning rate, gradient clipping (clip.norm) or standardized inputs.")
    return result
