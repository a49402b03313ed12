"""The training loop: batches → forward → loss → backward → clip → optimizer step, epoch after epoch.

Modes (the three classic variants of gradient descent):
  batch      one step per epoch on the whole training set:   θ := θ − η ∇θ J(θ)
  sgd        one step per sample, in a fresh random order:    θ := θ − η ∇θ L(yᵢ, f(xᵢ; θ))
  minibatch  one step per batch B of ``batch_size`` samples:  θ := θ − η (1/m) Σ_{i∈B} ∇θ L(yᵢ, f(xᵢ; θ))

One step: g = ∇θ(J + penalty) on the batch → clipping (clipping.py) → the optimizer's update with the
schedule's η (optimizers.py, schedules.py), on the trained parameters only (``net.trainable``: frozen tensors
and batch norm's running statistics are never stepped). In batch mode a line search may choose the step length
instead (linesearch.py). After each epoch: evaluation on the validation split, the schedule advances,
the convergence criteria are checked (convergence.py), and the best epoch so far is remembered
(``keep: best`` — subgradient descent is not a descent method, so its last iterate need not be its best),
early stopping is consulted (early_stopping.py) and the named warnings are checked (diagnostics.py).

Divergence (divergence.py): a non-finite loss, gradient norm or weight stops the run during its epoch, and so does
an epoch whose training loss ran away (more than 1e4 x its lowest, and above the first epoch's) once it is
recorded. The network then holds the weights of the best epoch (by ``monitor``, as ``keep: best`` would keep;
the loop always keeps a copy of them for this), or those it started from when no epoch completed.

The loop never prints: it hands an ``EpochRecord`` to a listener after every epoch (the CLI's reporter,
the metrics.csv writer, a notebook's callback) and returns a ``TrainResult``. Everything it carries from
one epoch to the next is in a ``LoopState``, which a checkpoint saves together with the optimizer's and the
schedule's state and the random generators: a run resumed from it continues exactly where it stopped.
``stop_requested`` (polled after every update) ends the run at a safe point: a half-done epoch is undone,
so the network holds the weights of the last completed epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from .clipping import clip_by_norm, clip_by_value
from .convergence import Criteria
from .diagnostics import Diagnostics, TrainingWarning
from .divergence import Runaway
from .early_stopping import EarlyStopping
from .linesearch import SearchResult, search
from .losses import Loss
from .monitor import EpochMeter, evaluate, tracked_names
from .targets import TargetScaling
from .state import NamedState


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val: Dict[str, float]  # validation metrics ({} without a validation split)
    lr: float  # the learning rate used in this epoch (at its first step; with a line search, the accepted step)
    grad_norms: Dict[str, float]  # grad_norm and grad_norm_W1, ... averaged over the epoch's steps
    layer_stats: Dict[str, float]  # weight norms, update ratios, dead / saturated fractions (monitor.EpochMeter)
    clip_fraction: float  # share of the epoch's steps where clipping fired
    steps: int
    seconds: float  # training time since the start of the run
    warnings: List[TrainingWarning] = field(default_factory=list)  # named warnings first raised this epoch
    train: Dict[str, float] = field(default_factory=dict)  # metrics of the training batches (monitor.EpochMeter)

    @classmethod
    def columns(cls, val_metrics: List[str], net, train_metrics: Sequence[str] = ()) -> List[str]:
        """metrics.csv's header for a run with these validation (and training-batch) metrics and this network."""
        grads = {"grad_norm": 0.0, **{f"grad_norm_{name}": 0.0 for name in tracked_names(net)}}
        stats = dict.fromkeys(EpochMeter.columns(net), 0.0)
        return list(cls(0, 0.0, dict.fromkeys(val_metrics, 0.0), 0.0, grads, stats, 0.0, 0, 0.0,
                        train=dict.fromkeys(train_metrics, 0.0)).row())

    def row(self) -> Dict[str, float]:
        """The metrics.csv row: epoch, train_loss, train_accuracy (classification), val_*, lr, grad norms,
        layer stats, clip_fraction, seconds."""
        row: Dict[str, float] = {"epoch": self.epoch, "train_loss": self.train_loss}
        row.update({f"train_{k}": v for k, v in self.train.items()})
        row.update({f"val_{k}": v for k, v in self.val.items()})
        row["lr"] = self.lr
        row.update(self.grad_norms)
        row.update(self.layer_stats)
        row["clip_fraction"] = self.clip_fraction
        row["seconds"] = round(self.seconds, 4)
        return row

    def logged(self) -> Dict[str, float]:
        """The values schedules, early stopping and stopping rules may watch, by their metrics.csv names."""
        return {"train_loss": self.train_loss, **{f"val_{k}": v for k, v in self.val.items()}, **self.grad_norms}


@dataclass
class TrainSettings:
    """How to train (from the config's training, regularization, clip and schedule sections)."""

    mode: str = "minibatch"
    batch_size: int = 32
    epochs: int = 100  # the epoch to stop after (counted from the start of the run, resumed or not)
    l2: float = 0.0
    l1: float = 0.0
    clip_norm: Optional[float] = None
    clip_value: Optional[float] = None
    schedule_per_step: bool = False
    line_search: Optional[Dict[str, Any]] = None
    keep: str = "last"
    criteria: Criteria = field(default_factory=Criteria)
    checkpoint_every: int = 1
    checkpoint_seconds: float = 0.0  # at most one checkpoint per this many seconds (the CLI's default: 1)
    target: Optional[TargetScaling] = None  # data.standardize_target: val metrics in the target's units


@dataclass
class LoopState(NamedState):
    """Everything the loop carries from one epoch to the next (what a checkpoint saves besides the weights,
    the optimizer, the schedule and the random generators)."""

    epoch: int = 0  # epochs completed
    seconds: float = 0.0  # training time so far
    best_epoch: int = 0  # by ``monitor`` (val_loss, or train_loss without validation data)
    best_value: float = math.inf
    losses: List[float] = field(default_factory=list)  # train_loss of every epoch so far
    last_finite: float = math.nan  # the last finite step loss (for the divergence message)
    warnings: List[Dict[str, Any]] = field(default_factory=list)
    best_params: Optional[np.ndarray] = None  # the best epoch's weights (what keep: best and a divergence keep)
    early: Optional[EarlyStopping] = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    stop_reason: Optional[str] = None  # set once the run has ended for good (early stopping, a criterion, ...)
    stop_message: str = ""

    STATE = ("epoch", "seconds", "best_epoch", "best_value", "losses", "last_finite", "warnings", "stop_reason",
             "stop_message")

    def to_checkpoint(self):
        """(meta, arrays): plain data for JSON and the arrays to store next to it."""
        meta = self.state_dict()
        meta["diagnostics"] = self.diagnostics.state_dict()
        meta["early"] = self.early.state_dict() if self.early is not None else None
        arrays = {}
        if self.best_params is not None:
            arrays["best_params"] = self.best_params
        if self.early is not None and self.early.best_params is not None:
            arrays["early_best_params"] = self.early.best_params
        return meta, arrays

    def load_checkpoint(self, meta, arrays) -> None:
        """Restore from ``to_checkpoint``'s output (``early`` and ``diagnostics`` already built from the config)."""
        self.load_state_dict(meta)
        self.diagnostics.load_state_dict(meta["diagnostics"])
        if self.early is not None and meta["early"] is not None:
            self.early.load_state_dict(meta["early"])
            if "early_best_params" in arrays:
                self.early.best_params = np.array(arrays["early_best_params"])
        if "best_params" in arrays:
            self.best_params = np.array(arrays["best_params"])


@dataclass
class TrainResult:
    stop_reason: str  # completed | diverged | interrupted | early_stopping | tol_loss | tol_grad | tol_step | line_search
    epochs: int  # epochs completed (in the whole run, a resumed one included)
    seconds: float
    best_epoch: int
    best_value: float
    monitor: str  # what "best" is measured by: val_loss, or train_loss without validation data
    history: List[EpochRecord] = field(default_factory=list)  # the epochs trained by this call
    message: str = ""
    kept_epoch: int = 0  # the epoch whose weights the network holds at the end
    warnings: List[Dict[str, Any]] = field(default_factory=list)
    losses: List[float] = field(default_factory=list)  # train_loss of every epoch of the run
    diverged_epoch: Optional[int] = None  # the epoch a diverged run stopped in
    diverged_cause: str = ""  # what diverged: "the loss became inf (last finite loss: 3.5e+305)", ...


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
        if result.ok and np.array_equal(self.net.params, self.theta0):  # θ + t d == θ: nothing moved
            self.net.params[...] = self.theta0
            return SearchResult(0.0, value, result.evaluations, False, stalled=True)
        return result


def train(net, loss: Loss, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
          optimizer, schedule, settings: Optional[TrainSettings] = None, *,
          shuffle_rng: Optional[np.random.Generator] = None, dropout_rng: Optional[np.random.Generator] = None,
          state: Optional[LoopState] = None, on_epoch: Optional[Listener] = None,
          on_checkpoint: Optional[Callable[[LoopState], None]] = None,
          stop_requested: Optional[Callable[[], bool]] = None) -> TrainResult:
    """Train ``net`` in place, from ``state`` (a fresh run by default), and return how it went.

    See the module docstring. ``on_checkpoint(state)`` is called after every ``checkpoint_every``-th epoch
    (unless one was written less than ``checkpoint_seconds`` ago) and when the run ends or is interrupted,
    with the state as the epoch left it (before any best weights are restored).
    """
    s = settings or TrainSettings()
    state = state if state is not None else LoopState()
    n = len(X)
    bs = batch_size_for(s.mode, s.batch_size, n)
    shuffle_rng = shuffle_rng if shuffle_rng is not None else np.random.default_rng(0)
    dropout_rng = dropout_rng if dropout_rng is not None else np.random.default_rng(1)
    can_stop = stop_requested is not None  # (without it, no epoch is ever interrupted: nothing to snapshot)
    stop_requested = stop_requested or (lambda: False)
    x_buf = np.empty((bs,) + X.shape[1:], X.dtype)
    y_buf = np.empty((bs,) + y.shape[1:], y.dtype)
    meter = EpochMeter(net, state.diagnostics.saturation_derivative, loss)
    tally = meter.outputs_listener  # training accuracy, from the loss pass's own outputs
    monitor = "val_loss" if len(X_val) else "train_loss"
    # The batch-mode train_loss is J at the start of the epoch's step, so the weights it judges are those.
    best_judges_start = monitor == "train_loss" and bs == n
    if state.best_params is None:
        state.best_params = net.params.copy()
    runaway = Runaway.of(state.losses)
    searcher = LineSearchStep(s.line_search, net, loss, X, y, s.l2, s.l1) if s.line_search else None
    result = TrainResult("completed", state.epoch, state.seconds, state.best_epoch, state.best_value, monitor)
    started = time.perf_counter() - state.seconds
    last_good = net.params.copy()  # θ at the start of the epoch: what a failed or interrupted epoch returns to
    before_last = net.params.copy()  # θ before the epoch's last update (for the update-to-weight ratios)
    # A resumed run that had already ended (early stopping, a criterion) has nothing left to do.
    stop = (state.stop_reason, state.stop_message) if state.stop_reason else None
    # The checkpoint on disk: a resumed run's; none for a new run (-1), so that one interrupted before its first
    # epoch completes still writes a checkpoint (of epoch 0, the initial state) that --resume can continue.
    saved_epoch, saved_at = (state.epoch if state.epoch else -1), -math.inf
    rngs = {"shuffle": shuffle_rng, "dropout": dropout_rng}
    for epoch in range(state.epoch + 1, s.epochs + 1):
        if stop is not None:
            break
        # Is the last completed epoch's checkpoint missing from disk (checkpoint_every > 1, or throttled by
        # checkpoint_seconds)? An interruption must then write it, from the state as this epoch found it.
        unsaved = on_checkpoint is not None and state.epoch != saved_epoch
        if stop_requested():
            stop = ("interrupted", f"interrupted before epoch {epoch}")
            if unsaved:
                on_checkpoint(state)
            break
        meter.reset()
        epoch_lr = schedule.lr
        last_good[...] = net.params
        finite_at_start = state.last_finite
        rewind = EpochStart(optimizer, schedule, rngs) if unsaved and can_stop else None
        order = None if bs == n else shuffle_rng.permutation(n)
        loss_sum = 0.0
        for start in range(0, n, bs):
            if order is None:
                xb, yb = X, y
            else:
                idx = order[start:start + bs]
                xb, yb = x_buf[:len(idx)], y_buf[:len(idx)]
                np.take(X, idx, axis=0, out=xb, mode="clip")  # (idx is valid: "clip" skips a buffered copy)
                np.take(y, idx, axis=0, out=yb, mode="clip")
            value = net.loss_and_grad(xb, yb, loss, s.l2, training=True, rng=dropout_rng, l1=s.l1, on_outputs=tally)
            norm = meter.add()
            if not (math.isfinite(value) and math.isfinite(norm)):
                what = f"the loss became {value}" if not math.isfinite(value) else f"the gradient norm became {norm}"
                return _diverged(result, state, net, last_good, epoch, what, started, s.keep)
            state.last_finite = value
            loss_sum += value
            if start + bs >= n:
                before_last[...] = net.params
            if searcher is not None:
                found = searcher(value)
                epoch_lr = found.step
                if found.stalled:
                    stop = ("line_search", f"the line search's step leaves θ unchanged in floating point "
                                           f"(θ − t·g == θ, gradient norm {norm:.2g}) at epoch {epoch}: no step can "
                                           "make progress at this precision; the minimum is reached as closely as "
                                           f"{net.dtype.name} can show it")
                elif not found.ok:
                    stop = ("line_search", f"the line search found no step that lowers the objective after "
                                           f"{found.evaluations} trials (gradient norm {norm:.2g}) at epoch {epoch}: "
                                           "it is flat to numerical precision along −∇J")
            else:
                if s.clip_norm is not None:
                    meter.clipped += clip_by_norm(net.trainable_grad, s.clip_norm, norm)[1]
                elif s.clip_value is not None:
                    meter.clipped += clip_by_value(net.trainable_grad, s.clip_value)
                optimizer.step(net.trainable, net.trainable_grad, schedule.lr)
                if s.schedule_per_step:
                    schedule.step()
            if stop_requested():  # undo the epoch in progress
                net.params[...] = last_good
                state.last_finite = finite_at_start
                stop = ("interrupted", f"interrupted during epoch {epoch}; it is not kept")
                if rewind is not None:
                    rewind.restore(optimizer, schedule, rngs)
                    on_checkpoint(state)
                break
        if stop is not None and stop[0] == "interrupted":
            break
        if not np.isfinite(net.params).all():  # finite losses, but the last update overflowed
            return _diverged(result, state, net, last_good, epoch, "the weights became non-finite", started, s.keep)
        optimizer.flush_subnormals()
        record = _finish_epoch(state, net, loss, X_val, y_val, meter, before_last, epoch, loss_sum, epoch_lr,
                               started, s.target)
        logged = record.logged()
        if not s.schedule_per_step:
            schedule.step(logged)
        result.history.append(record)
        current = logged[monitor]
        if current < state.best_value or state.best_epoch == 0:
            state.best_epoch, state.best_value = epoch, current
            if state.best_params is not None:
                state.best_params[...] = last_good if best_judges_start else net.params
        if on_epoch is not None:
            on_epoch(record)
        ran_away = runaway.update(epoch, record.train_loss)
        if ran_away is not None:
            return _diverged(result, state, net, last_good, epoch, ran_away, started, s.keep)
        if stop is None and state.early is not None and state.early.update(epoch, logged, net.params):
            stop = ("early_stopping", state.early.message())
        if stop is None and s.criteria.active:
            step_norm = (float(np.linalg.norm(net.trainable - last_good[:net.n_trainable]))
                         if s.criteria.tol_step is not None else math.inf)
            stop = s.criteria.check(epoch, state.losses, record.grad_norms["grad_norm"], step_norm)
        if stop is not None:
            state.stop_reason, state.stop_message = stop
        due = epoch % s.checkpoint_every == 0 and time.perf_counter() - saved_at >= s.checkpoint_seconds
        if on_checkpoint is not None and (stop is not None or due or epoch == s.epochs):
            on_checkpoint(state)
            saved_epoch, saved_at = epoch, time.perf_counter()
    if stop is not None:
        result.stop_reason, result.message = stop
    return _finish(result, state, net, started, s.keep)


class EpochStart:
    """The optimizer's, the schedule's and the random generators' state at the start of an epoch, so that an
    interrupted epoch can be undone completely (not only its weights) and checkpointed as never begun."""

    def __init__(self, optimizer, schedule, rngs: Dict[str, np.random.Generator]):
        self.optimizer = optimizer.state_dict()
        self.schedule = schedule.state_dict()
        self.rngs = {name: rng.bit_generator.state for name, rng in rngs.items()}

    def restore(self, optimizer, schedule, rngs: Dict[str, np.random.Generator]) -> None:
        optimizer.load_state_dict(self.optimizer)
        schedule.load_state_dict(self.schedule)
        for name, rng in rngs.items():
            rng.bit_generator.state = self.rngs[name]


def _finish_epoch(state: LoopState, net, loss, X_val, y_val, meter: EpochMeter, before_last, epoch: int,
                  loss_sum: float, lr: float, started: float, target: Optional[TargetScaling] = None) -> EpochRecord:
    """Evaluate, measure and examine the epoch just trained; update the state; return its record."""
    train_loss = loss_sum / meter.steps
    state.losses.append(train_loss)
    state.epoch = epoch
    val = evaluate(net, loss, X_val, y_val, target)
    grad_norms, layer_stats = meter.means(), meter.layer_stats(before_last)
    warnings = state.diagnostics.examine(epoch, train_loss, grad_norms, layer_stats,
                                         [layer.activation.name for layer in net.dense_layers()])
    state.warnings += [w.as_dict() for w in warnings]
    state.seconds = time.perf_counter() - started
    return EpochRecord(epoch, train_loss, val, lr, grad_norms, layer_stats, meter.clipped / meter.steps,
                       meter.steps, state.seconds, warnings, meter.train_metrics())


def _finish(result: TrainResult, state: LoopState, net, started: float, keep: str) -> TrainResult:
    """Copy the state into the result and leave the network with the weights to keep."""
    result.epochs, result.best_epoch, result.best_value = state.epoch, state.best_epoch, state.best_value
    result.warnings, result.losses = state.warnings, state.losses
    result.kept_epoch = state.epoch
    early = state.early
    if early is not None and early.restore_best and early.best_params is not None and early.best_epoch != state.epoch:
        net.params[...] = early.best_params
        result.kept_epoch = early.best_epoch
    elif keep == "best" and state.best_epoch:
        net.params[...] = state.best_params
        result.kept_epoch = state.best_epoch
    result.seconds = time.perf_counter() - started
    return result


def _diverged(result: TrainResult, state: LoopState, net, last_good: np.ndarray, epoch: int, what: str,
              started: float, keep: str) -> TrainResult:
    """Stop: keep the best epoch's weights, or those from the start of this epoch when no epoch is complete."""
    _finish(result, state, net, started, keep)
    if state.best_epoch:
        net.params[...] = state.best_params
        result.kept_epoch = state.best_epoch
        kept = f"the weights of epoch {state.best_epoch} (the best {result.monitor})"
    else:
        net.params[...] = last_good
        result.kept_epoch = 0
        kept = f"the weights from the start of epoch {epoch}"
    if epoch > state.epoch:  # stopped during the epoch: a non-finite loss, gradient or weight
        last = "none" if math.isnan(state.last_finite) else f"{state.last_finite:.4g}"
        what += f" (last finite loss: {last})"
    result.stop_reason, result.diverged_epoch, result.diverged_cause = "diverged", epoch, what
    result.message = (f"training diverged at epoch {epoch}: {what}; {kept} are kept. "
                      "Try a lower learning rate, gradient clipping (clip.norm) or standardized inputs.")
    return result
