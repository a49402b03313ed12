"""The unit of work of races and sweeps: one ``fit`` of a config and a seed → a run directory and its result row.

A ``Job`` is plain data (a validated Config, a seed, the run directory to write); ``run_job`` trains it
(``experiment.fit``) and measures it into an ``Outcome`` of plain numbers, so that it can run in this process, in a
spawned worker process or on a Dask worker and come back pickled. The run's own files are in ``job.out``.

Stopping: ``STOP`` set → the running run stops at its next safe point (fit's ``stop_requested``) and saves what
it learned; ``IDLE`` is set while this process trains nothing (an orphaned worker waits for it before exiting).
Both are this process's own (executor.py and dask_backend.py set and watch them).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

from ..config import Config
from ..contestants import Target
from ..errors import GdtrainError
from ..experiment import fit
from ..metrics import primary_metric
from ..train import batch_size_for

STOP = threading.Event()  # set: the running run(s) of this process stop at a safe point (fit's stop_requested)
IDLE = threading.Event()  # set while this process trains no run
IDLE.set()


@dataclass
class Job:
    """One ``fit``: a contestant on a seed (phase "race"), or one lr of its tuning grid (phase "tune")."""

    phase: str
    label: str
    seed: int
    lr: float
    mode: str
    name: str  # the optimizer
    config: Config
    out: str  # its run directory


@dataclass
class Outcome:
    """What a run reports back: plain numbers, picklable (it comes back from a worker process)."""

    phase: str
    label: str
    seed: int
    lr: float
    mode: str
    name: str
    run_dir: str
    batch_size: int = 0
    status: str = "failed"  # the run's stop_reason, or "failed" (message says why)
    message: str = ""
    initial_loss: Optional[float] = None
    final_train_loss: Optional[float] = None
    best_val_loss: Optional[float] = None
    best_val_metric: Optional[float] = None
    epochs: int = 0
    diverged_epoch: Optional[int] = None
    seconds: float = 0.0
    n_train: int = 0
    history: Dict[str, List[float]] = field(default_factory=dict)  # per epoch: train_loss, val_*, steps, seconds
    # filled in by the race (they depend on its target): the first epoch meeting it, the training seconds,
    # the optimizer steps and the sample gradients (steps × batch size) up to then; None when never met
    epochs_to_target: Optional[int] = None
    seconds_to_target: Optional[float] = None
    updates_to_target: Optional[int] = None
    grads_to_target: Optional[int] = None

    @property
    def ok(self) -> bool:
        return self.status not in ("diverged", "failed")


def _finite_or_none(value) -> Optional[float]:
    return float(value) if value is not None and math.isfinite(value) else None


def run_job(job: Job, stop_requested: Optional[Callable[[], bool]] = None) -> Outcome:
    """Train one run (``experiment.fit``) and measure it. Runs in a worker process when racing in parallel.
    ``stop_requested`` (default: this process's ``STOP``) is polled at every safe point of the run."""
    out = Outcome(job.phase, job.label, job.seed, job.lr, job.mode, job.name, job.out)
    history: Dict[str, List[float]] = {"train_loss": [], "steps": [], "seconds": []}
    reg = job.config.regularization

    def on_start(info) -> None:
        data = info.data
        out.n_train = len(data.X_train)
        out.batch_size = batch_size_for(job.config.training.mode, job.config.training.batch_size, out.n_train)
        with np.errstate(over="ignore", invalid="ignore"):
            out.initial_loss = float(info.net.objective(data.X_train, data.y_train, info.loss, reg.l2, reg.l1))

    def on_epoch(record) -> None:
        history["train_loss"].append(float(record.train_loss))
        for key, value in record.val.items():
            history.setdefault(f"val_{key}", []).append(float(value))
        history["steps"].append(int(record.steps))
        history["seconds"].append(float(record.seconds))

    IDLE.clear()
    try:
        result = fit(job.config, out=job.out, overwrite=True, on_start=on_start, on_epoch=on_epoch,
                     stop_requested=stop_requested or STOP.is_set)
    except GdtrainError as exc:
        out.message = str(exc)
        out.history = history
        return out
    finally:
        IDLE.set()
    summary, data = result.summary, result.data
    # fit has evaluated the training split already (its data loss); the objective adds the penalty
    with np.errstate(over="ignore", invalid="ignore"):
        final = summary["train"]["loss"] + result.net.penalty(reg.l2, reg.l1)
    out.final_train_loss = _finite_or_none(final)
    out.status, out.message = summary["stop_reason"], summary.get("message", "")
    out.epochs, out.seconds = summary["epochs"], float(summary["seconds"])
    if out.status == "diverged":
        out.diverged_epoch = summary["diverged_epoch"]
    val = [v for v in history.get("val_loss", []) if math.isfinite(v)]
    out.best_val_loss = min(val) if val else None
    metric = [v for v in history.get(f"val_{primary_metric(data.task)}", []) if math.isfinite(v)]
    out.best_val_metric = max(metric) if metric else None  # accuracy and r2: higher is better
    out.history = history
    return out


def apply_target(outcome: Outcome, target: Optional[Target]) -> None:
    """Fill in when ``outcome`` first met ``target`` (at the end of an epoch), or leave None (never)."""
    outcome.epochs_to_target = outcome.seconds_to_target = outcome.updates_to_target = None
    outcome.grads_to_target = None
    if target is None:
        return
    values = outcome.history.get(target.name, [])
    for i, value in enumerate(values):
        if target.reached(value):
            outcome.epochs_to_target = i + 1
            outcome.seconds_to_target = outcome.history["seconds"][i]
            outcome.updates_to_target = int(sum(outcome.history["steps"][:i + 1]))
            outcome.grads_to_target = (i + 1) * outcome.n_train  # every epoch takes one gradient per sample
            return
