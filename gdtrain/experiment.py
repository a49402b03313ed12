"""One training run from a config: data → network → train → run directory. The CLI's ``fit`` calls this.

    result = fit(load_config("configs/digits.yaml"), out="runs/digits")
    result.summary["test"]["accuracy"], result.run_dir

Randomness comes from four independent streams spawned from ``config.seed`` (data split, weight
init, shuffling, dropout), so changing e.g. the optimizer never changes the initial weights or the
order of the batches: the same seed and config give identical results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import numpy as np

from . import rundir
from .config import Config, dump_yaml
from .convergence import Criteria
from .data import Dataset, load_data
from .errors import ConfigError
from .init import INITIALIZERS, default_initializer
from .losses import LOSSES, Loss
from .monitor import evaluate, metric_names
from .network import Network
from .optimizers import make_optimizer
from .schedules import make_schedule
from .train import EpochRecord, TrainResult, batch_size_for, train

STREAMS = ("data", "init", "shuffle", "dropout")


def seed_streams(seed: int) -> Dict[str, np.random.Generator]:
    """Independent generators for each source of randomness, all from one seed."""
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, np.random.SeedSequence(seed).spawn(len(STREAMS)))}


def build_network(config: Config, n_inputs: int, n_outputs: int, rng: np.random.Generator) -> Network:
    """The network the config describes, initialized (each W by its initializer, biases 0)."""
    hidden = config.model.hidden
    activations = [layer.activation for layer in hidden] + ["identity"]
    net = Network([n_inputs] + [layer.units for layer in hidden] + [n_outputs], activations,
                  [layer.dropout for layer in hidden] + [0.0], dtype=config.dtype)
    for i, layer in enumerate(net.layers):
        name = (hidden[i].init if i < len(hidden) else None) or config.model.init or default_initializer(activations[i])
        layer.W[...] = INITIALIZERS.get(name)(layer.fan_in, layer.fan_out, rng)
    return net


def load_initial_weights(net: Network, path: Path) -> None:
    """Set the weights from an .npz of W1, b1, W2, b2, ...; a ConfigError names any mismatch."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise ConfigError(f"model.init_from: {path}: no such file") from None
    except Exception as exc:
        raise ConfigError(f"model.init_from: {path}: not a readable .npz ({exc.__class__.__name__}: {exc})") from None
    for name, shape in net.shapes.items():
        if name not in arrays:
            raise ConfigError(f"model.init_from: {path}: no array '{name}' (the network needs {', '.join(net.names)})")
        if arrays[name].shape != shape:
            raise ConfigError(f"model.init_from: {path}: {name} has shape {arrays[name].shape}, "
                              f"the network needs {shape}")
        if not np.isfinite(arrays[name]).all():
            raise ConfigError(f"model.init_from: {path}: {name} has NaN or infinite values")
    net.set_weights(arrays)


def check_loss_fits_data(loss: Loss, data: Dataset) -> None:
    if loss.name == "bce" and data.n_classes != 2:
        raise ConfigError(f"loss: bce is for two classes, the data has {data.n_classes}; use cross_entropy")


@dataclass
class RunInfo:
    """What the reporter shows before the first epoch."""

    config: Config
    data: Dataset
    net: Network
    loss: Loss
    run_dir: Path


@dataclass
class RunResult:
    run_dir: Path
    summary: Dict[str, Any]
    net: Network
    data: Dataset
    train: TrainResult = field(repr=False, default=None)


def model_arrays(net: Network, data: Dataset, config: Config) -> Dict[str, np.ndarray]:
    """model.npz: the weights plus what prediction needs (classes, standardization, architecture)."""
    arrays: Dict[str, np.ndarray] = dict(net.weights())
    arrays["activations"] = np.array(net.activation_names)
    arrays["loss"] = np.array(config.loss)
    arrays["feature_names"] = np.array(data.feature_names)
    arrays["target_names"] = np.array(data.target_names)
    arrays["config"] = np.array(dump_yaml(config))
    if data.classes is not None:
        arrays["classes"] = data.classes
    if data.mean is not None:
        arrays["x_mean"], arrays["x_scale"] = data.mean, data.scale
    return arrays


@dataclass
class Setup:
    """Everything a config builds before training: the loss, the data, the initialized network, the RNGs."""

    loss: Loss
    data: Dataset
    net: Network
    rngs: Dict[str, np.random.Generator]


def setup(config: Config) -> Setup:
    """Load the data and build and initialize the network (from ``init_from`` when given)."""
    loss = LOSSES.get(config.loss, "loss")
    rngs = seed_streams(config.seed)
    data = load_data(config, rngs["data"], loss.task)
    check_loss_fits_data(loss, data)
    net = build_network(config, data.n_features, loss.n_outputs(data.n_classes, data.n_targets), rngs["init"])
    if config.model.init_from:
        load_initial_weights(net, config.resolve_path(config.model.init_from))
    return Setup(loss, data, net, rngs)


def best_train_loss(result: TrainResult) -> Dict[str, Any]:
    """The lowest training loss (loss + penalty) of the run and its epoch: what subgradient descent is judged by."""
    if not result.history:
        return {"best_train_loss": None, "best_train_epoch": 0}
    best = min(result.history, key=lambda r: r.train_loss)
    return {"best_train_loss": best.train_loss, "best_train_epoch": best.epoch}


def fit(config: Config, out: Optional[str] = None, overwrite: bool = False,
        on_start: Optional[Callable[[RunInfo], None]] = None,
        on_epoch: Optional[Callable[[EpochRecord], None]] = None) -> RunResult:
    """Train as ``config`` says and leave a run directory; see the module docstring."""
    built = setup(config)
    loss, data, net, rngs = built.loss, built.data, built.net, built.rngs
    optimizer = make_optimizer(config.optimizer, net.size, net.dtype)
    tc = config.training
    steps_per_epoch = math.ceil(data.splits["train"] / batch_size_for(tc.mode, tc.batch_size, data.splits["train"]))
    schedule = make_schedule(config.schedule, config.optimizer["lr"],
                             tc.epochs * (steps_per_epoch if config.schedule["per"] == "step" else 1))

    run_dir = rundir.prepare(out or config.output, f"runs/{config.name}", overwrite)
    rundir.atomic_write(run_dir / "config.yaml", dump_yaml(config))
    if on_start is not None:
        on_start(RunInfo(config, data, net, loss, run_dir))
    val_metrics = metric_names(loss.task) if len(data.X_val) else []
    metrics = rundir.MetricsWriter(run_dir / "metrics.csv", EpochRecord.columns(val_metrics, net.weight_names()))

    def record_epoch(record: EpochRecord) -> None:
        metrics.write(record.row())
        if on_epoch is not None:
            on_epoch(record)

    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught by the divergence guard
            result = train(net, loss, data.X_train, data.y_train, data.X_val, data.y_val, optimizer, schedule,
                           mode=tc.mode, batch_size=tc.batch_size, epochs=tc.epochs,
                           l2=config.regularization.l2, l1=config.regularization.l1,
                           clip_norm=config.clip.norm, clip_value=config.clip.value,
                           shuffle_rng=rngs["shuffle"], dropout_rng=rngs["dropout"], on_epoch=record_epoch,
                           schedule_per_step=config.schedule["per"] == "step", line_search=tc.line_search,
                           keep=tc.keep, criteria=Criteria(tc.tol_loss, tc.tol_grad, tc.tol_step, tc.patience))
    finally:
        metrics.close()
    rundir.save_npz(run_dir / "model.npz", model_arrays(net, data, config))
    with np.errstate(over="ignore", invalid="ignore"):
        final = {split: evaluate(net, loss, X, y) for split, X, y in (
            ("train", data.X_train, data.y_train), ("validation", data.X_val, data.y_val),
            ("test", data.X_test, data.y_test))}
    summary = {
        "stop_reason": result.stop_reason,
        "epochs": result.epochs,
        "seconds": round(result.seconds, 3),
        "best_epoch": result.best_epoch,
        "best_by": result.monitor,
        "best_value": result.best_value if result.best_epoch else None,
        **best_train_loss(result),
        "kept_epoch": result.kept_epoch,
        "parameters": net.size,
        **final,
    }
    if result.message:
        summary["message"] = result.message
    rundir.save_json(run_dir / "summary.json", summary)
    return RunResult(run_dir, summary, net, data, result)
