"""Optimizer races: the same problem, the same start, the same mini-batches; only the optimizer (or the mode) differs.

    race = plan(load_config("configs/compare.yaml"), optimizers=["sgd", "momentum", "adam"], seeds=3)
    result = run(race, out="runs/race", workers=2)
    result.winner, result.standings[0].stats["best_val_loss"]

The protocol (docs/compare.md):

- **Fair by construction.** Every contestant is an ordinary ``experiment.fit`` of the base config with only the
  optimizer (or ``training.mode``) replaced and the seed set. The four random streams of
  ``experiment.seed_streams`` (data split, weight init, shuffling, dropout) depend on the seed alone, so within a
  seed every contestant starts from the same θ₀ on the same split and sees the same sequence of mini-batches
  (for the same mode and batch size) and the same dropout masks. ``initial_loss`` = J(θ₀) + penalty on the
  training split, measured by each contestant before its first step, proves it: it is identical across a seed.
- **Contestants.** Optimizer names use their documented (torch.optim) defaults; ``compare.optimizers`` in the
  config gives full control (``{name: sgd, lr: 0.1, momentum: 0.9, label: heavy-ball}``). A mode race runs the
  config's optimizer in each of ``batch``, ``sgd`` (one sample per step) and ``minibatch``.
- **Tuning** (``tune_lr``, DeepOBS-style): each contestant's lr × every factor of ``lr_grid`` (×0.1 … ×10,
  log-spaced) is trained on the first seed; the lr with the lowest best validation loss wins (diverged runs
  excluded); then the race runs with the chosen lrs.
- **Seeds.** The race repeats with seeds ``seed, seed + 1, ...``; statistics are mean ± sample std over seeds.
- **Ranking.** Contestants that never diverged first, then by the lowest mean best validation loss (without
  validation data: the final training loss), ties by the final training loss. A seed's winner is ranked the same
  way within the seed; ``wins`` counts them.
- **Target.** ``train_loss ≤ X`` (``target_loss``) or a validation metric (``{val_accuracy: 0.95}``) at the end
  of an epoch: the epochs, the training seconds, the updates (optimizer steps) and the sample gradients
  (updates × batch size) it took; ``never`` when it was not reached.
- **Parallel** (``workers`` > 1): the runs go to spawned processes whose BLAS libraries are limited to
  cores // workers threads (set in the environment before the workers import NumPy). Each run is the same
  deterministic computation, so the results equal a serial run's (only the seconds differ).

The library never prints: ``run`` reports progress through ``on_event`` (report.py renders it) and returns a
``RaceResult``; ``write_outputs`` leaves comparison.csv and summary.json next to the contestants' run directories.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from . import rundir
from .config import DEFAULT_LR_GRID, CompareConfig, Config, from_dict, to_dict
from .errors import ConfigError, GdtrainError, TrainingFailed
from .interrupt import GracefulStop
from .optimizers import ALIASES, OPTIMIZERS, resolve_optimizer
from .options import describe
from .registry import unknown_name_message
from .threads import available_cores

MODES = ("batch", "sgd", "minibatch")
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
TARGETS = ("train_loss", "val_loss", "val_accuracy", "val_mse", "val_mae", "val_r2")
HIGHER_IS_BETTER = ("val_accuracy", "val_r2")
TUNING_DIR = "tuning"  # DIR/tuning/<label>/lr-<lr>/: the tuning runs (so no contestant may be called that)
# A contestant label names its run directory (also the pattern of the JSON Schema, where $ ends the text;
# in Python it may match before a final newline, hence fullmatch).
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=@-]{0,39}$")

# comparison.csv: the documented columns first, then the extras (docs/compare.md).
COLUMNS = ("optimizer", "lr", "seed", "initial_loss", "final_train_loss", "best_val_loss", "best_val_metric",
           "epochs_to_target", "seconds_to_target", "seconds", "status")
EXTRA_COLUMNS = ("name", "mode", "batch_size", "epochs", "diverged_epoch", "updates_to_target", "grads_to_target",
                 "run_dir")


# --- the contestants' table ---------------------------------------------------------------------------

def optimizer_names() -> List[str]:
    """Every name a contestant may use: the optimizers and their aliases (momentum, nesterov)."""
    return OPTIMIZERS.names() + list(ALIASES)


def _check_label(label, path: str) -> str:
    if not isinstance(label, str) or not LABEL.fullmatch(label):
        raise ConfigError(f"{path}: must be a name of at most 40 letters, digits and _ . + = @ - (it names the "
                          f"contestant's run directory), got {describe(label)}")
    if label == TUNING_DIR:
        raise ConfigError(f"{path}: '{TUNING_DIR}' is reserved (DIR/{TUNING_DIR}/ holds the tuning runs)")
    return label


def _unique(wanted: str, taken: set) -> str:
    label, k = wanted, 1
    while label in taken:
        k += 1
        label = f"{wanted}-{k}"
    return label


def resolve_contestants(raw, path: str = "compare.optimizers") -> List[Dict[str, Any]]:
    """``[{label, name, **options}]`` from a list of names or ``{name, label, **options}`` mappings.

    Each item is checked like the ``optimizer`` section (``compare.optimizers[2].lr: must be > 0``). A label
    defaults to the name as written (aliases keep theirs: ``momentum``); repeated ones get -2, -3, ...
    """
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: must be a non-empty list of optimizers such as [sgd, momentum, "
                          f"{{name: adam, lr: 0.003}}], got {describe(raw)}")
    items = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be an optimizer name or a mapping like {{name: adam, lr: 0.003}}, "
                              f"got {describe(item)}")
        item = dict(item)
        label = item.pop("label", None)
        if "name" not in item:
            raise ConfigError(f"{where}.name: missing (one of {', '.join(optimizer_names())})")
        name = item["name"]
        spec = resolve_optimizer(item, where)
        if label is not None:
            _check_label(label, f"{where}.label")
        items.append((where, label, name, spec))
    explicit = set()
    for where, label, _, _ in items:
        if label is not None:
            if label in explicit:
                raise ConfigError(f"{where}.label: '{label}' is used twice; each contestant needs its own label")
            explicit.add(label)
    taken, out = set(explicit), []
    for where, label, name, spec in items:
        if label is None:
            label = _unique(_check_label(str(name), f"{where}.name"), taken)
            taken.add(label)
        out.append({"label": label, **spec})
    return out


def parse_list(text: str, option: str) -> List[str]:
    """'sgd, momentum,adam' -> ['sgd', 'momentum', 'adam'] (a ConfigError for an empty item)."""
    names = [part.strip() for part in str(text).split(",")]
    if not names or any(not n for n in names):
        raise ConfigError(f"{option}: expected a comma-separated list such as sgd,momentum,adam, got {text!r}")
    return names


def parse_optimizers(text: str, option: str = "--optimizers") -> List[Dict[str, Any]]:
    """The contestants a ``--optimizers sgd,momentum,adam`` list names, at their documented defaults."""
    names = parse_list(text, option)
    valid = optimizer_names()
    for name in names:
        if name not in valid:
            raise ConfigError(f"{option}: {unknown_name_message('optimizer', name, valid)}")
    return resolve_contestants(names, option)


def resolve_modes(raw, path: str = "compare.modes") -> List[str]:
    if isinstance(raw, str):
        raw = parse_list(raw, path)
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: must be a non-empty list of {', '.join(MODES)}, got {describe(raw)}")
    for mode in raw:
        if mode not in MODES:
            raise ConfigError(f"{path}: {unknown_name_message('mode', mode, MODES)}")
    if len(set(raw)) != len(raw):
        raise ConfigError(f"{path}: a mode is named twice: {', '.join(raw)}")
    return list(raw)


def resolve_target_metric(raw, path: str = "compare.target_metric") -> Dict[str, float]:
    """``{val_accuracy: 0.95}`` from that mapping or from 'val_accuracy=0.95'."""
    if isinstance(raw, str):
        name, sep, text = raw.partition("=")
        try:
            raw = {name.strip(): float(text)} if sep else None
        except ValueError:
            raw = None
        if raw is None:
            raise ConfigError(f"{path}: expected NAME=VALUE such as val_accuracy=0.95, got {describe(text or name)}")
    if not (isinstance(raw, dict) and len(raw) == 1):
        raise ConfigError(f"{path}: must be one metric and its target, such as {{val_accuracy: 0.95}}, "
                          f"got {describe(raw)}")
    (name, value), = raw.items()
    if name not in TARGETS:
        raise ConfigError(f"{path}: {unknown_name_message('target metric', name, TARGETS)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{path}.{name}: must be a finite number, got {describe(value)}")
    return {name: float(value)}


@dataclass(frozen=True)
class Target:
    """``train_loss ≤ 0.1`` or ``val_accuracy ≥ 0.95``, checked at the end of every epoch."""

    name: str
    value: float

    @property
    def higher_is_better(self) -> bool:
        return self.name in HIGHER_IS_BETTER

    def reached(self, value: Optional[float]) -> bool:
        if value is None or not math.isfinite(value):
            return False
        return value >= self.value if self.higher_is_better else value <= self.value

    def __str__(self) -> str:
        return f"{self.name} {'≥' if self.higher_is_better else '≤'} {self.value:g}"


# --- the plan -------------------------------------------------------------------------------------------

@dataclass
class Contestant:
    label: str
    optimizer: Dict[str, Any]  # a resolved optimizer spec (alias expanded, defaults filled in)
    mode: str
    source: str = ""  # where it was defined, for error messages (compare.optimizers[1], --optimizers, ...)

    @property
    def lr(self) -> float:
        return self.optimizer["lr"]


@dataclass
class Race:
    """Who races on which config, with which seeds, tuning and target (see ``plan``)."""

    config: Config
    kind: str  # "optimizers" | "modes"
    contestants: List[Contestant]
    seeds: List[int]
    tune_lr: bool = False
    lr_grid: List[float] = field(default_factory=lambda: list(DEFAULT_LR_GRID))
    target: Optional[Target] = None

    @property
    def has_validation(self) -> bool:
        return self.config.data.validation_split > 0


def _task(config: Config) -> str:
    from .losses import LOSSES

    return LOSSES.get(config.loss, "loss").task


def _target(config: Config, section: CompareConfig, target_loss, target_metric) -> Optional[Target]:
    if target_loss is not None and target_metric is not None:
        raise ConfigError("--target-loss: give either --target-loss or --target-metric, not both")
    if target_loss is not None or target_metric is not None:
        path = "--target-loss" if target_loss is not None else "--target-metric"
        if target_loss is not None:
            if not math.isfinite(target_loss):
                raise ConfigError(f"--target-loss: must be a finite number, got {target_loss}")
            spec = {"train_loss": float(target_loss)}
        else:
            spec = resolve_target_metric(target_metric, path)
    elif section.target_loss is not None and section.target_metric is not None:
        raise ConfigError("compare.target_metric: give either compare.target_loss or compare.target_metric, not both")
    elif section.target_loss is not None:
        path, spec = "compare.target_loss", {"train_loss": float(section.target_loss)}
    elif section.target_metric is not None:
        path, spec = "compare.target_metric", section.target_metric
    else:
        return None
    (name, value), = spec.items()
    if name.startswith("val_") and config.data.validation_split == 0:
        raise ConfigError(f"{path}: {name} needs validation data (data.validation_split > 0); use train_loss")
    task = _task(config)
    if name == "val_accuracy" and task != "classification":
        raise ConfigError(f"{path}: val_accuracy needs a classification loss, got loss {config.loss}; use val_r2")
    if name in ("val_mse", "val_mae", "val_r2") and task != "regression":
        raise ConfigError(f"{path}: {name} needs a regression loss, got loss {config.loss}; use val_accuracy")
    return Target(name, value)


def plan(config: Config, optimizers: Optional[Union[str, Sequence[str]]] = None,
         modes: Optional[Union[str, Sequence[str]]] = None, seeds: Optional[int] = None,
         tune_lr: Optional[bool] = None, target_loss: Optional[float] = None,
         target_metric: Optional[str] = None) -> Race:
    """The race ``config`` and the command line describe; every contestant's config is validated here.

    The arguments (the command line's options) override the config's ``compare:`` section. ``optimizers``: names
    at their documented defaults (a comma-separated string or a list). ``modes``: race these training modes with
    one optimizer (the config's ``optimizer``, or the single one ``optimizers`` names).
    """
    section = config.compare or CompareConfig()
    cli_optimizers = None
    if optimizers is not None:
        text = optimizers if isinstance(optimizers, str) else ",".join(optimizers)
        cli_optimizers = parse_optimizers(text)
    if modes is not None:
        mode_list = resolve_modes(modes if isinstance(modes, str) else list(modes), "--modes")
    elif cli_optimizers is None and section.modes is not None:
        if section.optimizers is not None:
            raise ConfigError("compare.modes: a mode race runs the optimizer section's optimizer; remove "
                              "compare.optimizers (or compare.modes)")
        mode_list = section.modes
    else:
        mode_list = None

    if mode_list is not None:
        if cli_optimizers is not None and len(cli_optimizers) != 1:
            raise ConfigError(f"--modes: races one optimizer in several modes; --optimizers names "
                              f"{len(cli_optimizers)} (give one, or leave it out to use the config's optimizer)")
        spec = ({k: v for k, v in cli_optimizers[0].items() if k != "label"} if cli_optimizers is not None
                else dict(config.optimizer))
        source = "--modes" if modes is not None else "compare.modes"
        contestants = [Contestant(mode, dict(spec), mode, source) for mode in mode_list]
        kind = "modes"
    else:
        if cli_optimizers is not None:
            specs, source = cli_optimizers, "--optimizers"
        elif section.optimizers is not None:
            specs, source = section.optimizers, "compare.optimizers"
        else:
            specs, source = resolve_contestants(list(DEFAULT_OPTIMIZERS), "compare.optimizers"), "default contestants"
        contestants = []
        for i, item in enumerate(specs):
            spec = {k: v for k, v in item.items() if k != "label"}
            where = f"{source}[{i}]" if source == "compare.optimizers" else source
            contestants.append(Contestant(item["label"], spec, config.training.mode, where))
        kind = "optimizers"

    n_seeds = section.seeds if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ConfigError(f"--seeds: must be an integer >= 1, got {describe(n_seeds)}")
    tune = section.tune_lr if tune_lr is None else bool(tune_lr)
    if tune and config.data.validation_split == 0:
        raise ConfigError("compare.tune_lr: choosing the learning rate by validation loss needs validation data "
                          "(data.validation_split > 0)")
    if tune and config.training.line_search is not None:
        raise ConfigError("compare.tune_lr: training.line_search picks every step's length; there is no lr to tune")
    race = Race(config, kind, contestants, [config.seed + i for i in range(n_seeds)], tune,
                list(section.lr_grid), _target(config, section, target_loss, target_metric))
    for c in contestants:  # every contestant's config is checked before anything trains
        contestant_config(race, c, race.seeds[0])
    from .experiment import setup

    setup(contestant_config(race, contestants[0], race.seeds[0]))  # and the data: a DataError now, not per run
    return race


def effective_workers(race: Race, workers: int) -> int:
    """No more worker processes than the largest phase has runs."""
    runs = len(race.contestants) * len(race.seeds)
    if race.tune_lr:
        runs = max(runs, len(race.contestants) * len(race.lr_grid))
    return max(1, min(int(workers), runs))


def contestant_config(race: Race, contestant: Contestant, seed: int, lr: Optional[float] = None) -> Config:
    """The base config with this contestant's optimizer (and mode) and ``seed``: what its run trains."""
    raw = to_dict(race.config)
    raw.pop("compare", None)
    raw["optimizer"] = dict(contestant.optimizer, **({"lr": lr} if lr is not None else {}))
    raw["training"]["mode"] = contestant.mode
    raw["seed"] = seed
    raw["output"] = None
    try:
        return from_dict(raw, base_dir=race.config.base_dir, name=race.config.name)
    except ConfigError as exc:
        raise ConfigError(f"{contestant.source} ({contestant.label}): {exc}") from None


def tuning_grid(lr: float, factors: Sequence[float]) -> List[float]:
    """lr × each factor, to 3 significant digits (0.001 × 0.3 = 0.0003), without repeats."""
    out: List[float] = []
    for f in factors:
        value = float(f"{lr * f:.3g}")
        if value not in out:
            out.append(value)
    return out


# --- one run ----------------------------------------------------------------------------------------------

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


def run_job(job: Job) -> Outcome:
    """Train one run (``experiment.fit``) and measure it. Runs in a worker process when racing in parallel."""
    import numpy as np

    from .experiment import fit
    from .monitor import primary_metric
    from .train import batch_size_for

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

    _IDLE.clear()
    try:
        result = fit(job.config, out=job.out, overwrite=True, on_start=on_start, on_epoch=on_epoch,
                     stop_requested=_STOP.is_set)
    except GdtrainError as exc:
        out.message = str(exc)
        out.history = history
        return out
    finally:
        _IDLE.set()
    summary, data = result.summary, result.data
    # fit has evaluated the training split already (its data loss); the objective adds the penalty
    with np.errstate(over="ignore", invalid="ignore"):
        final = summary["train"]["loss"] + result.net.penalty(reg.l2, reg.l1)
    out.final_train_loss = _finite_or_none(final)
    out.status, out.message = summary["stop_reason"], summary.get("message", "")
    out.epochs, out.seconds = summary["epochs"], float(summary["seconds"])
    if out.status == "diverged":
        out.diverged_epoch = out.epochs + 1
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


# --- running many runs, serially or in worker processes -----------------------------------------------------

@dataclass
class RaceEvent:
    """Progress: ``kind`` is "phase" (a phase starts: "tune" or "race"), "start" or "done" (a run)."""

    kind: str
    phase: str
    job: Optional[Job] = None
    outcome: Optional[Outcome] = None
    done: int = 0
    total: int = 0
    running: List[Job] = field(default_factory=list)


Listener = Callable[[RaceEvent], None]
BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                  "NUMEXPR_NUM_THREADS")


def blas_threads(workers: int) -> int:
    """BLAS threads per worker, so that the workers together use the cores once: cores // workers (at least 1)."""
    return max(1, available_cores() // max(1, workers))


@contextlib.contextmanager
def limited_blas_env(threads: int) -> Iterator[None]:
    """The BLAS thread variables set to ``threads`` while worker processes are started (a BLAS library reads them
    when it is loaded, so they must be in a worker's environment before it imports NumPy); restored after."""
    saved = {name: os.environ.get(name) for name in BLAS_VARIABLES}
    os.environ.update({name: str(threads) for name in BLAS_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- stopping a race: a signal in the main process, the main process's death in a worker ------------------------

_STOP = threading.Event()  # set: the running run(s) of this process stop at a safe point (fit's stop_requested)
_IDLE = threading.Event()  # set while this process trains no run
_IDLE.set()
_STOPPED_BY: Dict[str, int] = {}  # "signum": the signal RaceStop caught
ORPHAN_POLL_SECONDS = 0.2  # how often a worker checks that the process that started it is alive
ORPHAN_GRACE_SECONDS = 30.0  # how long an orphaned worker may take to save its run before it exits anyway


class RaceInterrupted(GdtrainError):
    """SIGINT or SIGTERM stopped the race (exit code 128 + the signal: 130, 143); the message says what is kept."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class RaceStop(GracefulStop):
    """SIGINT (Ctrl-C) and SIGTERM during a race: the first stops every running run at a safe point (in this
    process, and by SIGTERM in each worker), starts nothing more, and ``run`` raises RaceInterrupted; a second
    Ctrl-C raises KeyboardInterrupt at once. Outside the main thread it does nothing.

        with RaceStop(on_first=lambda: print("stopping...")):
            compare.run(race, workers=2)
    """

    def __init__(self, on_first: Optional[Callable[[], None]] = None):
        super().__init__(on_first, signals=(signal.SIGINT, signal.SIGTERM))

    def first(self, signum: int) -> None:
        _STOPPED_BY["signum"] = signum
        _STOP.set()
        super().first(signum)

    def __enter__(self) -> "RaceStop":
        _STOP.clear()
        _STOPPED_BY.clear()
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        _STOP.clear()
        _STOPPED_BY.clear()


def _stop_signal() -> int:
    """The signal that stopped the race (SIGINT when it was stopped without one, e.g. by a library caller)."""
    return _STOPPED_BY.get("signum") or signal.SIGINT


def _watch_parent(parent: int) -> None:
    """A worker's watchdog thread: once the process that started it is gone (killed, even with -9), stop the
    running run at a safe point (it saves what it learned) and exit, instead of training on as an orphan."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_SECONDS)
    _STOP.set()
    _IDLE.wait(ORPHAN_GRACE_SECONDS)
    os._exit(1)


def _worker_init(parent: int) -> None:
    """Each worker process, once: SIGINT / SIGTERM (from the race, or Ctrl-C reaching the process group) stop its
    run at a safe point; a watchdog ends it when its parent dies."""
    def stop(signum, frame) -> None:
        _STOP.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    threading.Thread(target=_watch_parent, args=(parent,), name="gdtrain-orphan-watchdog", daemon=True).start()


class Runner:
    """Runs jobs in this process (workers = 1) or in a pool of spawned processes, reporting each start and end.

    Results come back in the jobs' order whatever order they finish in. A pool keeps at most ``workers`` jobs in
    flight, so "running" in the progress is what is running.
    """

    def __init__(self, workers: int = 1, on_event: Optional[Listener] = None):
        self.workers = max(1, int(workers))
        self.on_event = on_event or (lambda event: None)
        self.pool = None
        self._env = None

    def __enter__(self) -> "Runner":
        if self.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._env = limited_blas_env(blas_threads(self.workers))
            self._env.__enter__()
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_worker_init, initargs=(os.getpid(),))
        return self

    def _signal_workers(self, sig: int) -> None:
        for pid in list(getattr(self.pool, "_processes", None) or {}):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.pool is not None:
            if exc_type is not None:  # (a bug, a second Ctrl-C): no worker trains on unattended
                self._signal_workers(signal.SIGTERM)
            self.pool.shutdown(wait=exc_type is None, cancel_futures=True)
            self.pool = None
        if self._env is not None:
            self._env.__exit__(None, None, None)
            self._env = None

    def run(self, jobs: Sequence[Job], phase: str) -> List[Outcome]:
        self.on_event(RaceEvent("phase", phase, total=len(jobs)))
        return self._serial(jobs, phase) if self.pool is None else self._parallel(jobs, phase)

    def _interrupted(self, phase: str, finished: List[Outcome], total: int) -> RaceInterrupted:
        stopped = [o for o in finished if o.status == "interrupted"]
        done = len(finished) - len(stopped)
        where = sorted({str(Path(o.run_dir).parent) for o in finished}) if finished else []
        kept = (f"{done} of {total} {'tuning ' if phase == 'tune' else ''}runs finished"
                + (f", {len(stopped)} stopped at a safe point (resumable with gdtrain fit --resume)" if stopped else "")
                + (f"; their run directories are kept in {', '.join(where)}" if where else ""))
        signum = _stop_signal()
        return RaceInterrupted(f"race interrupted by {signal.Signals(signum).name}: the workers are stopped; {kept}; "
                               "nothing was ranked", signum)

    def _serial(self, jobs, phase) -> List[Outcome]:
        outcomes = []
        for i, job in enumerate(jobs):
            if _STOP.is_set():
                raise self._interrupted(phase, outcomes, len(jobs))
            self.on_event(RaceEvent("start", phase, job, done=i, total=len(jobs), running=[job]))
            outcomes.append(run_job(job))
            self.on_event(RaceEvent("done", phase, job, outcomes[-1], done=i + 1, total=len(jobs)))
        if _STOP.is_set():
            raise self._interrupted(phase, outcomes, len(jobs))
        return outcomes

    def _parallel(self, jobs, phase) -> List[Outcome]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        results: Dict[int, Outcome] = {}
        in_flight: Dict[Any, int] = {}
        pending = list(range(len(jobs)))
        signalled = False
        while pending or in_flight:
            if _STOP.is_set():
                pending = []  # start nothing more; the running runs stop at a safe point and report back
                if not signalled:
                    self._signal_workers(signal.SIGTERM)
                    signalled = True
            while pending and len(in_flight) < self.workers:
                i = pending.pop(0)
                in_flight[self.pool.submit(run_job, jobs[i])] = i
                self.on_event(RaceEvent("start", phase, jobs[i], done=len(results), total=len(jobs),
                                        running=[jobs[k] for k in sorted(in_flight.values())]))
            if not in_flight:
                break
            # (a timeout, so that a signal's flag is seen while every worker is busy)
            finished, _ = wait(list(in_flight), timeout=0.1, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: in_flight[f]):
                i = in_flight.pop(future)
                try:
                    results[i] = future.result()  # a worker's exception (a bug) propagates
                except BrokenProcessPool as exc:
                    if _STOP.is_set():  # a worker stopped while it was still starting
                        continue
                    raise TrainingFailed(f"a worker process stopped abruptly while training {jobs[i].label} "
                                         f"(seed {jobs[i].seed}): {exc}; try --workers 1") from None
                self.on_event(RaceEvent("done", phase, jobs[i], results[i], done=len(results), total=len(jobs),
                                        running=[jobs[k] for k in sorted(in_flight.values())]))
        if _STOP.is_set():
            raise self._interrupted(phase, [results[i] for i in sorted(results)], len(jobs))
        return [results[i] for i in range(len(jobs))]


# --- the race -----------------------------------------------------------------------------------------------

@dataclass
class Stat:
    """mean ± sample std of a quantity over seeds (std None with one value), and how many values it has."""

    mean: Optional[float]
    std: Optional[float]
    n: int

    @classmethod
    def of(cls, values: Sequence[Optional[float]]) -> "Stat":
        xs = [float(v) for v in values if v is not None and math.isfinite(v)]
        if not xs:
            return cls(None, None, 0)
        mean = sum(xs) / len(xs)
        std = math.sqrt(sum((x - mean) * (x - mean) for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
        return cls(mean, std, len(xs))

    def as_dict(self) -> Dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "n": self.n}


STAT_FIELDS = ("initial_loss", "final_train_loss", "best_val_loss", "best_val_metric", "epochs_to_target",
               "seconds_to_target", "updates_to_target", "grads_to_target", "seconds")


@dataclass
class Standing:
    """One contestant over all seeds: its statistics, wins and rank."""

    contestant: Contestant
    outcomes: List[Outcome]
    stats: Dict[str, Stat] = field(default_factory=dict)
    rank: int = 0
    wins: int = 0
    winner: bool = False

    @property
    def label(self) -> str:
        return self.contestant.label

    @property
    def lr(self) -> float:
        return self.contestant.lr

    @property
    def diverged(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.status == "diverged"]

    @property
    def failed(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def reached(self) -> int:
        return sum(1 for o in self.outcomes if o.epochs_to_target is not None)


@dataclass
class Tuning:
    """One contestant's learning-rate search on the first seed."""

    label: str
    default_lr: float
    grid: List[float]
    outcomes: List[Outcome]
    chosen_lr: Optional[float]  # None when every lr of the grid diverged (the race keeps default_lr)

    @property
    def at_edge(self) -> bool:
        """The chosen lr is the grid's smallest or largest: the best one may lie beyond the grid."""
        return self.chosen_lr is not None and len(self.grid) > 1 and self.chosen_lr in (min(self.grid), max(self.grid))

    def as_dict(self) -> Dict[str, Any]:
        return {"default_lr": self.default_lr, "chosen_lr": self.chosen_lr, "at_edge": self.at_edge,
                "results": [{"lr": o.lr, "best_val_loss": o.best_val_loss, "final_train_loss": o.final_train_loss,
                             "status": o.status, "run_dir": o.run_dir} for o in self.outcomes]}


@dataclass
class RaceResult:
    race: Race
    out_dir: Path
    outcomes: List[Outcome]  # the race's runs, seed by seed, contestants in order
    standings: List[Standing]  # ranked
    tuning: List[Tuning] = field(default_factory=list)
    workers: int = 1
    seconds: float = 0.0  # wall time of the whole race, tuning included
    metric: str = "accuracy"

    @property
    def winner(self) -> Optional[Standing]:
        return next((s for s in self.standings if s.winner), None)

    @property
    def ranked_by(self) -> str:
        return "best_val_loss" if self.race.has_validation else "final_train_loss"

    def initial_losses(self) -> Dict[int, List[Optional[float]]]:
        """seed → every contestant's J(θ₀) (None for a run that failed before measuring it): identical within a
        seed when the race is fair."""
        out: Dict[int, List[Optional[float]]] = {}
        for o in self.outcomes:
            out.setdefault(o.seed, []).append(o.initial_loss)
        return out

    @property
    def fair(self) -> bool:
        """Every measured J(θ₀) of a seed is the same number."""
        return all(len({v for v in values if v is not None}) <= 1 for values in self.initial_losses().values())


def default_out(config: Config) -> str:
    return "runs/compare" if config.name == "compare" else f"runs/compare-{config.name}"


def _sort_key(outcome_or_stats, by_val: bool):
    def clean(v):
        return v if v is not None and math.isfinite(v) else math.inf

    if isinstance(outcome_or_stats, Outcome):
        o = outcome_or_stats
        return (clean(o.best_val_loss) if by_val else 0.0, clean(o.final_train_loss))
    s = outcome_or_stats
    return (clean(s["best_val_loss"].mean) if by_val else 0.0, clean(s["final_train_loss"].mean))


def rank(race: Race, outcomes: Sequence[Outcome]) -> List[Standing]:
    """Standings in rank order (see the module docstring), with each seed's winner counted."""
    by_val = race.has_validation
    standings = [Standing(c, [o for o in outcomes if o.label == c.label]) for c in race.contestants]
    for s in standings:
        s.stats = {name: Stat.of([getattr(o, name) for o in s.outcomes]) for name in STAT_FIELDS}
    for seed in race.seeds:
        ok = [o for o in outcomes if o.seed == seed and o.ok]
        if ok:
            best = min(ok, key=lambda o: _sort_key(o, by_val))
            next(s for s in standings if s.label == best.label).wins += 1
    order = sorted(standings, key=lambda s: (len(s.diverged) + len(s.failed) > 0, _sort_key(s.stats, by_val)))
    for i, s in enumerate(order, start=1):
        s.rank = i
    if order and not order[0].diverged and not order[0].failed:
        order[0].winner = True
    return order


def _run_dir(out_dir: Path, label: str, seed: int, n_seeds: int) -> str:
    return str(out_dir / label if n_seeds == 1 else out_dir / label / f"seed-{seed}")


def _job(race: Race, c: Contestant, seed: int, out: str, phase: str, lr: Optional[float] = None) -> Job:
    config = contestant_config(race, c, seed, lr)
    return Job(phase, c.label, seed, config.optimizer["lr"], c.mode, c.optimizer["name"], config, out)


def choose_lr(outcomes: Sequence[Outcome]) -> Optional[float]:
    """The grid lr with the lowest best validation loss (ties: the lower final train loss, then the smaller lr);
    diverged and failed runs are out. None when no run qualifies."""
    ok = [o for o in outcomes if o.ok and o.best_val_loss is not None]
    if not ok:
        return None
    return min(ok, key=lambda o: (o.best_val_loss, o.final_train_loss if o.final_train_loss is not None else math.inf,
                                  o.lr)).lr


def prepare_dir(race: Race, out: Optional[str] = None, overwrite: bool = False) -> Path:
    """The race's directory, created: ``out``, refused when it holds files unless ``overwrite``; by default
    runs/compare-<config name> (runs/compare for the demo), moving on to -2, -3, ... rather than overwriting."""
    return rundir.prepare(out, default_out(race.config), overwrite)


def run(race: Race, out: Optional[str] = None, overwrite: bool = False, workers: int = 1,
        on_event: Optional[Listener] = None) -> RaceResult:
    """Tune (when asked), race every contestant on every seed, rank them and write comparison.csv and
    summary.json to the race's directory (see ``prepare_dir``); each run's directory is DIR/<label>[/seed-<s>]."""
    from .monitor import primary_metric

    started = time.perf_counter()
    out_dir = prepare_dir(race, out, overwrite)
    workers = effective_workers(race, workers)
    tunings: List[Tuning] = []
    with Runner(workers, on_event) as runner:
        if race.tune_lr:
            jobs, grids = [], []
            for c in race.contestants:
                grid = tuning_grid(c.lr, race.lr_grid)
                grids.append(grid)
                jobs += [_job(race, c, race.seeds[0], str(out_dir / TUNING_DIR / c.label / f"lr-{lr:g}"), "tune", lr)
                         for lr in grid]
            outcomes = runner.run(jobs, "tune")
            contestants = []
            for c, grid in zip(race.contestants, grids):
                mine = [o for o in outcomes if o.label == c.label]
                chosen = choose_lr(mine)
                tunings.append(Tuning(c.label, c.lr, grid, mine, chosen))
                contestants.append(c if chosen is None else replace(c, optimizer={**c.optimizer, "lr": chosen}))
            race = replace(race, contestants=contestants)
        jobs = [_job(race, c, seed, _run_dir(out_dir, c.label, seed, len(race.seeds)), "race")
                for seed in race.seeds for c in race.contestants]
        outcomes = runner.run(jobs, "race")
    for o in outcomes:
        apply_target(o, race.target)
    result = RaceResult(race, out_dir, outcomes, rank(race, outcomes), tunings, workers,
                        time.perf_counter() - started, primary_metric(_task(race.config)))
    write_outputs(result)
    return result


# --- outputs ------------------------------------------------------------------------------------------------

def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _relative(path: str, out_dir: Path) -> str:
    try:
        return str(Path(path).relative_to(out_dir))
    except ValueError:
        return path


def csv_rows(result: RaceResult) -> List[Dict[str, str]]:
    """comparison.csv's rows: one per contestant and seed, in the order they were run."""
    rows = []
    targeted = result.race.target is not None
    for o in result.outcomes:
        def to_target(value):
            return _cell(value) if value is not None else ("never" if targeted else "")

        rows.append({
            "optimizer": o.label, "lr": _cell(float(o.lr)), "seed": str(o.seed), "initial_loss": _cell(o.initial_loss),
            "final_train_loss": _cell(o.final_train_loss), "best_val_loss": _cell(o.best_val_loss),
            "best_val_metric": _cell(o.best_val_metric), "epochs_to_target": to_target(o.epochs_to_target),
            "seconds_to_target": to_target(o.seconds_to_target), "seconds": _cell(o.seconds), "status": o.status,
            "name": o.name, "mode": o.mode, "batch_size": str(o.batch_size), "epochs": str(o.epochs),
            "diverged_epoch": _cell(o.diverged_epoch), "updates_to_target": to_target(o.updates_to_target),
            "grads_to_target": to_target(o.grads_to_target), "run_dir": _relative(o.run_dir, result.out_dir),
        })
    return rows


def summary_dict(result: RaceResult) -> Dict[str, Any]:
    """summary.json: the protocol, the initial losses per seed, the ranked contestants' statistics, the tuning."""
    race = result.race
    winner = result.winner
    return {
        "config": race.config.name,
        "kind": race.kind,
        "seeds": race.seeds,
        "epochs": race.config.training.epochs,
        "target": None if race.target is None else {"name": race.target.name, "value": race.target.value,
                                                     "higher_is_better": race.target.higher_is_better},
        "ranked_by": result.ranked_by,
        "metric": result.metric,
        "winner": winner.label if winner else None,
        "fair": result.fair,
        "initial_loss": {str(seed): values for seed, values in result.initial_losses().items()},
        "contestants": [{
            "rank": s.rank, "label": s.label, "winner": s.winner, "optimizer": s.contestant.optimizer,
            "lr": s.lr, "mode": s.contestant.mode, "runs": len(s.outcomes), "wins": s.wins,
            "diverged": len(s.diverged), "failed": len(s.failed),
            "reached_target": s.reached if race.target is not None else None,
            **{name: s.stats[name].as_dict() for name in STAT_FIELDS},
            "status": [o.status for o in s.outcomes],
            "diverged_epochs": [o.diverged_epoch for o in s.diverged],
            "messages": [o.message for o in s.outcomes if o.message and not o.ok],
            "run_dirs": [_relative(o.run_dir, result.out_dir) for o in s.outcomes],
        } for s in result.standings],
        "tuning": None if not race.tune_lr else {
            "seed": race.seeds[0], "factors": race.lr_grid, "chosen_by": "best_val_loss",
            "contestants": {t.label: t.as_dict() for t in result.tuning}},
        "workers": result.workers,
        "blas_threads_per_worker": blas_threads(result.workers) if result.workers > 1 else None,
        "seconds": round(result.seconds, 3),
    }


def write_outputs(result: RaceResult) -> None:
    """DIR/comparison.csv and DIR/summary.json (written atomically)."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS + EXTRA_COLUMNS))
    writer.writeheader()
    writer.writerows(csv_rows(result))
    rundir.atomic_write(result.out_dir / "comparison.csv", buffer.getvalue())
    rundir.save_json(result.out_dir / "summary.json", summary_dict(result))


# --- curves -------------------------------------------------------------------------------------------------

def epoch_curves(result: RaceResult, key: str = "train_loss") -> Dict[str, List[float]]:
    """label → ``key`` per epoch, averaged over the seeds that reached the epoch (NaN where none did)."""
    n = max((len(o.history.get(key, [])) for o in result.outcomes), default=0)
    curves = {}
    for s in sorted(result.standings, key=lambda s: result.race.contestants.index(s.contestant)):
        values = []
        for i in range(n):
            xs = [o.history[key][i] for o in s.outcomes if len(o.history.get(key, [])) > i
                  and math.isfinite(o.history[key][i])]
            values.append(sum(xs) / len(xs) if xs else math.nan)
        curves[s.label] = values
    return curves


def time_curves(result: RaceResult, points: int = 60) -> tuple:
    """(times, label → train_loss, unit) on a common time grid from 0, for the first seed's runs: at time t, the
    train_loss of the last epoch finished by t (NaN before the first one and after the run ended). The unit is
    "ms" for races shorter than 10 s, else "s" (so the axis ends on a whole number). For comparing modes per second."""
    first = result.race.seeds[0]
    runs = {o.label: o for o in result.outcomes if o.seed == first}
    end = max((o.history["seconds"][-1] for o in runs.values() if o.history.get("seconds")), default=0.0)
    unit, scale = ("s", 1.0) if end >= 10 else ("ms", 1e-3)
    top = max(1, math.ceil(end / scale))
    grid = [top * k / (points - 1) for k in range(points)]
    curves = {}
    for c in result.race.contestants:
        o = runs.get(c.label)
        secs, losses = (o.history.get("seconds", []), o.history.get("train_loss", [])) if o else ([], [])
        values = []
        for x in grid:
            t = x * scale
            done = [i for i, s in enumerate(secs) if s <= t]
            previous = x - top / (points - 1)  # the run ended within this step: still show its last value
            values.append(losses[done[-1]] if done and previous * scale < secs[-1] else math.nan)
        curves[c.label] = values
    return grid, curves, unit


def use_log_scale(curves: Mapping[str, Sequence[float]]) -> bool:
    """A log y-axis when every value is positive and they span more than a factor of 10."""
    values = [v for vs in curves.values() for v in vs if math.isfinite(v)]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 10


def save_png(result: RaceResult, path: Union[str, Path]) -> None:
    """The overlaid curves as a PNG: train loss and (with validation data) val loss per epoch, mean over seeds with
    the seeds' range shaded; a mode race adds train loss against training seconds. Needs matplotlib."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    rundir.require_folder(path)  # before the drawing
    keys = ["train_loss"] + (["val_loss"] if result.race.has_validation else [])
    panels = len(keys) + (1 if result.race.kind == "modes" else 0)
    fig = Figure(figsize=(8, 3.2 * panels), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    for ax, key in zip(axes, keys):
        curves = epoch_curves(result, key)
        for s in sorted(result.standings, key=lambda s: result.race.contestants.index(s.contestant)):
            values = curves[s.label]
            epochs = list(range(1, len(values) + 1))
            label = f"{s.label} (lr {s.lr:g})" + (" ★" if s.winner else "")
            line, = ax.plot(epochs, values, label=label)
            if len(s.outcomes) > 1:
                lo = [min((o.history[key][i] for o in s.outcomes if len(o.history.get(key, [])) > i), default=math.nan)
                      for i in range(len(values))]
                hi = [max((o.history[key][i] for o in s.outcomes if len(o.history.get(key, [])) > i), default=math.nan)
                      for i in range(len(values))]
                ax.fill_between(epochs, lo, hi, color=line.get_color(), alpha=0.15)
        if use_log_scale(curves):
            ax.set_yscale("log")
        ax.set_ylabel(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    if result.race.kind == "modes":
        ax = axes[-1]
        runs = [o for o in result.outcomes if o.seed == result.race.seeds[0]]
        for o in runs:  # each run's own epochs, at the time each ended
            ax.plot(o.history.get("seconds", []), o.history.get("train_loss", []), marker=".", label=o.label)
        if use_log_scale({o.label: o.history.get("train_loss", []) for o in runs}):
            ax.set_yscale("log")
        ax.set_ylabel("train_loss")
        ax.set_xlabel(f"training seconds (seed {result.race.seeds[0]})")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    seeds = result.race.seeds
    fig.suptitle(f"{result.race.config.name}: {len(result.standings)} contestants, "
                 + (f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}, mean and range"))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    rundir.write_file(path, buffer.getvalue())

