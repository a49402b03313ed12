"""One training run from a config: data → network → train → run directory. The CLI's ``fit`` calls this.

    result = fit(load_config("configs/digits.yaml"), out="runs/digits")
    result.summary["test"]["accuracy"], result.run_dir

Randomness comes from four independent streams spawned from ``config.seed`` (data split, weight
init, shuffling, dropout), so changing e.g. the optimizer never changes the initial weights or the
order of the batches: the same seed and config give identical results.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import numpy as np

from . import checkpoint, rundir
from .config import Config, dump_yaml, from_dict, parse_yaml, to_dict
from .config.memory import check_memory
from .convergence import Criteria
from .diagnostics import Diagnostics
from .early_stopping import EarlyStopping
from .data import Dataset, load_data
from .data.npz_files import refused_object_array, require_zip_archive
from .errors import ConfigError
from .layers import BatchNorm, build_layers
from .losses import LOSSES, Loss
from .metrics import metric_names
from .monitor import evaluate, train_metric_names
from .network import Network
from .optimizers import make_optimizer
from .problem_model import point_dataset, point_model, point_summary
from .schedules import make_schedule
from .threads import ThreadChoice, choose_for, limited
from .train import EpochRecord, LoopState, TrainResult, TrainSettings, batch_size_for, train

STREAMS = ("data", "init", "shuffle", "dropout")


def seed_streams(seed: int) -> Dict[str, np.random.Generator]:
    """Independent generators for each source of randomness, all from one seed."""
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, np.random.SeedSequence(seed).spawn(len(STREAMS)))}


def build_network(config: Config, n_inputs: int, n_outputs: int, rng: np.random.Generator) -> Network:
    """The network the config describes (layers.build_layers), initialized layer by layer in order (each W by
    its initializer, biases 0, batch norm's γ = 1, β = 0 and running statistics 0 and 1)."""
    model = config.model
    net = Network(build_layers(model.hidden, n_inputs, n_outputs, model.output_activation), dtype=config.dtype,
                  freeze=model.freeze)
    unknown = [name for name in model.freeze if name not in net.specs]
    state = [name for name in model.freeze if name in net.specs and not net.specs[name].is_parameter]
    if unknown or state:
        what = (f"'{unknown[0]}' is not a tensor of this network" if unknown
                else f"'{state[0]}' is batch-norm state, which is never trained")
        raise ConfigError(f"model.freeze: {what}; its parameter tensors are {', '.join(net.names)}")
    net.initialize(rng, model.init)
    return net


def load_initial_weights(net: Network, path: Path) -> None:
    """Set the weights from an .npz of W1, b1, W2, b2, ...; a ConfigError names any mismatch."""
    set_initial_weights(net, read_initial_weights(path), f"model.init_from: {path}")


def read_initial_weights(path: Path) -> Dict[str, np.ndarray]:
    """The arrays of an .npz that model.init_from names; a ConfigError for a file that is not one."""
    if path.is_dir():
        raise ConfigError(f"model.init_from: {path}: is a directory, expected an .npz file of W1, b1, W2, b2, ...")
    if not path.exists():
        raise ConfigError(f"model.init_from: {path}: no such file")
    rundir.refuse_special_file(path, f"model.init_from: {path}", ConfigError)
    require_zip_archive(path, f"model.init_from: {path}", "not a readable .npz (not a zip file); expected arrays "
                                                         "W1, b1, W2, b2, ... saved with numpy.savez", ConfigError)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as exc:
        if refused_object_array(exc):
            raise ConfigError(f"model.init_from: {path}: holds an object array, which gdtrain never unpickles; "
                              "the weights must be numeric arrays") from None
        raise ConfigError(f"model.init_from: {path}: not a readable .npz ({exc.__class__.__name__}: {exc})") from None
    if "W1" not in arrays and "params" in arrays and "meta" in arrays:
        raise ConfigError(f"model.init_from: {path}: is a checkpoint.npz; give the run's model.npz (or continue the "
                          "run with --resume RUN_DIR)")
    return arrays


def inline_initial_weights(source: Dict[str, Any], net: Network) -> Dict[str, np.ndarray]:
    """The arrays of ``model.init_from: {W1: [[...]], b1: [...], ...}``; a ConfigError names a ragged array or
    a name the network has no tensor of."""
    arrays = {}
    for name, value in source.items():
        if name not in net.shapes:
            raise ConfigError(f"model.init_from.{name}: not a tensor of this network; its tensors are "
                              f"{', '.join(net.names)}")
        try:
            arrays[name] = np.asarray(value, dtype=np.float64)
        except ValueError:
            raise ConfigError(f"model.init_from.{name}: rows of different lengths; expected a rectangular "
                              "array of numbers") from None
    return arrays


def set_initial_weights(net: Network, arrays: Dict[str, np.ndarray], where: str) -> None:
    """Set every parameter tensor (and the batch-norm state, where given) from ``arrays``; a ConfigError names
    a missing tensor, a wrong shape or values that are not finite numbers."""
    for name, shape in net.shapes.items():
        if name not in arrays and not net.specs[name].is_parameter:
            continue  # batch norm's running statistics start from 0 and 1 unless the file has them
        if name not in arrays:
            raise ConfigError(f"{where}: no array '{name}' (the network needs {', '.join(net.names)})")
        if arrays[name].shape != shape:
            raise ConfigError(f"{where}: {name} has shape {arrays[name].shape}, "
                              f"the network needs {shape} (from a different network or data?)")
        if arrays[name].dtype.kind not in "biuf":
            raise ConfigError(f"{where}: {name} must hold numbers, got dtype {arrays[name].dtype}")
        if not np.isfinite(arrays[name]).all():
            raise ConfigError(f"{where}: {name} has NaN or infinite values")
    net.set_weights(arrays)


def check_loss_fits_data(loss: Loss, data: Dataset) -> None:
    if loss.single_logit and data.n_classes != 2:
        raise ConfigError(f"loss: bce is for two classes, the data has {data.n_classes}; use cross_entropy")


def check_batches_fit_batchnorm(net: Network, training, n_train: int) -> None:
    """Batch normalization cannot normalize a batch of one sample in training (torch refuses it too): refuse a
    mode or batch size that would give one, before anything is written."""
    if not any(isinstance(layer, BatchNorm) for layer in net.all_layers()):
        return
    bs = batch_size_for(training.mode, training.batch_size, n_train)
    if bs == 1 or n_train % bs == 1:
        if training.mode == "sgd":
            what = "training.mode: sgd trains on batches of 1 sample"
        elif bs == n_train:
            what = f"training: the training split has {n_train} sample"
        elif bs == 1:
            what = "training.batch_size: 1 gives batches of 1 sample"
        else:
            what = f"training.batch_size: {bs} leaves a last batch of 1 sample ({n_train} training samples)"
        raise ConfigError(f"{what}, and batch normalization in training needs at least 2 per batch; use a "
                          "batch size that leaves no single sample over, or no batchnorm layer")


@dataclass
class RunInfo:
    """What the reporter shows before the first epoch."""

    config: Config
    data: Dataset
    net: Network
    loss: Loss
    run_dir: Path
    resumed_from: int = 0  # the epoch a resumed run continues after (0 for a new run)
    resumed: bool = False  # a resumed run (which may continue after epoch 0: interrupted during its first)
    threads: Optional[ThreadChoice] = None  # the BLAS threads the training uses, and why (threads.py)


@dataclass
class RunResult:
    run_dir: Path
    summary: Dict[str, Any]
    net: Network
    data: Dataset
    train: TrainResult = field(repr=False, default=None)


def save_model(path: Path, net: Network, data: Dataset, config: Config) -> None:
    """model.npz (rundir.save_model): the tensors plus what prediction needs (classes, standardization, layers)."""
    rundir.save_model(path, net.weights(), model=to_dict(config)["model"],
                      activations=[layer.activation.name for layer in net.dense_layers()], loss=config.loss,
                      config_text=dump_yaml(config), feature_names=data.feature_names, target_names=data.target_names,
                      classes=data.classes, x_mean=data.mean, x_scale=data.scale, target_scaling=data.target_scaling)


@dataclass
class Setup:
    """Everything a config builds before training: the loss, the data, the initialized network, the RNGs."""

    loss: Loss
    data: Dataset
    net: Network
    rngs: Dict[str, np.random.Generator]


def setup(config: Config) -> Setup:
    """Load the data and build and initialize the network (from ``init_from`` when given). A ``problem:`` config
    gets its 2-D point instead (problem_model.py: no data, no loss; θ₀ = problem.start)."""
    rngs = seed_streams(config.seed)
    if config.problem is not None:
        model = point_model(config)
        return Setup(None, point_dataset(model.problem), model, rngs)
    loss = LOSSES.get(config.loss, "loss")
    data = load_data(config, rngs["data"], loss.task)
    check_loss_fits_data(loss, data)
    check_memory(config, data.n_features, loss.n_outputs(data.n_classes, data.n_targets), len(data.X_train))
    net = build_network(config, data.n_features, loss.n_outputs(data.n_classes, data.n_targets), rngs["init"])
    source = config.model.init_from
    if isinstance(source, dict):  # the tensors written out in the config
        set_initial_weights(net, inline_initial_weights(source, net), "model.init_from")
    elif source:
        load_initial_weights(net, config.resolve_path(source))
    return Setup(loss, data, net, rngs)


def best_train_loss(result: TrainResult) -> Dict[str, Any]:
    """The lowest training loss (loss + penalty) of the run and its epoch: what subgradient descent is judged by."""
    if not result.losses:
        return {"best_train_loss": None, "best_train_epoch": 0}
    best = int(np.argmin(result.losses))
    return {"best_train_loss": result.losses[best], "best_train_epoch": best + 1}


def train_settings(config: Config) -> TrainSettings:
    tc = config.training
    return TrainSettings(mode=tc.mode, batch_size=tc.batch_size, epochs=tc.epochs, l2=config.regularization.l2,
                         l1=config.regularization.l1, clip_norm=config.clip.norm, clip_value=config.clip.value,
                         schedule_per_step=config.schedule["per"] == "step", line_search=tc.line_search,
                         keep=tc.keep, criteria=Criteria(tc.tol_loss, tc.tol_grad, tc.tol_step, tc.patience),
                         checkpoint_every=tc.checkpoint_every, checkpoint_seconds=tc.checkpoint_seconds)


def new_loop_state(config: Config) -> LoopState:
    """The state of a run that has not started: early stopping and the warnings' thresholds from the config."""
    early = config.training.early_stopping
    return LoopState(early=EarlyStopping(**early) if early is not None else None,
                     diagnostics=Diagnostics(**dataclasses.asdict(config.monitor)))


# Keys that may change when a run is resumed: they change neither the model, nor the data, nor the steps taken.
RESUMABLE_CHANGES = ("training.epochs", "training.checkpoint_every", "training.checkpoint_seconds",
                     "training.threads", "monitor", "logging", "output", "compare")


def check_resumable(config: Config, saved_text: str, where: Path) -> None:
    """A ConfigError naming the first setting in which ``config`` differs from the run being resumed. The saved
    config is resolved again first, so keys added to gdtrain since the run was written (say, model.freeze) take
    their defaults rather than count as changes."""
    def flat(node, prefix=""):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from flat(value, f"{prefix}{key}.")
        else:
            yield prefix[:-1], node

    try:
        saved_config = to_dict(from_dict(parse_yaml(saved_text, str(where))))
    except ConfigError as exc:
        raise ConfigError(f"--resume: {where}: the config saved in it is damaged ({exc})") from None
    saved, current = dict(flat(saved_config)), dict(flat(to_dict(config)))
    for key in sorted(set(saved) | set(current)):
        if any(key == k or key.startswith(k + ".") for k in RESUMABLE_CHANGES):
            continue
        if saved.get(key) != current.get(key):
            raise ConfigError(f"--resume: {key} is {current.get(key)!r} in this config but {saved.get(key)!r} in the "
                              f"run being resumed ({where}); only {', '.join(RESUMABLE_CHANGES)} may change")


def fit(config: Config, out: Optional[str] = None, overwrite: bool = False,
        on_start: Optional[Callable[[RunInfo], None]] = None,
        on_epoch: Optional[Callable[[EpochRecord], None]] = None, resume: Optional[str] = None,
        stop_requested: Optional[Callable[[], bool]] = None) -> RunResult:
    """Train as ``config`` says and leave a run directory; see the module docstring.

    ``resume``: a run directory whose checkpoint.npz to continue from (same config; ``training.epochs`` may
    grow). ``stop_requested`` is polled after every update; when it returns True the run stops at the last
    completed epoch (stop_reason "interrupted") and everything learned so far is saved.
    """
    built = setup(config)
    loss, data, net = built.loss, built.data, built.net
    optimizer = make_optimizer(config.optimizer, net.n_trainable, net.dtype)
    tc = config.training
    check_batches_fit_batchnorm(net, tc, data.splits["train"])
    steps_per_epoch = math.ceil(data.splits["train"] / batch_size_for(tc.mode, tc.batch_size, data.splits["train"]))
    schedule = make_schedule(config.schedule, config.optimizer["lr"],
                             tc.epochs * (steps_per_epoch if config.schedule["per"] == "step" else 1))
    state = new_loop_state(config)
    train_rngs = {"shuffle": built.rngs["shuffle"], "dropout": built.rngs["dropout"]}
    config_text = dump_yaml(config)
    columns = EpochRecord.columns(metric_names(loss.task) if len(data.X_val) else [], net,
                                  train_metric_names(loss.task) if loss is not None else [])  # (a problem: no loss)

    if resume is not None:
        run_dir = Path(resume)
        held = rundir.lock(run_dir, "--resume") if run_dir.is_dir() else None
    else:
        source = None
        if config.base_dir:  # the config file being run (load_config), which --overwrite must not delete
            source = next((p for p in (Path(config.base_dir) / f"{config.name}{suffix}" for suffix in (".yaml", ".yml"))
                           if p.exists()), None)
        run_dir, held = rundir.claim(out or config.output, f"runs/{config.name}", overwrite, source)
    try:
        return _fit_locked(config, run_dir, resume, on_start, on_epoch, stop_requested, built, optimizer, schedule,
                           state, train_rngs, config_text, columns)
    finally:
        if held is not None:
            held.release()


def _fit_locked(config, run_dir, resume, on_start, on_epoch, stop_requested, built, optimizer, schedule, state,
                train_rngs, config_text, columns) -> RunResult:
    """``fit`` once the run directory is locked."""
    loss, data, net, rngs = built.loss, built.data, built.net, built.rngs
    if resume is not None:
        saved = checkpoint.load(run_dir / rundir.CHECKPOINT)
        for name in (rundir.CONFIG, rundir.METRICS, rundir.MODEL, rundir.SUMMARY):
            if (run_dir / name).is_dir():
                raise ConfigError(f"--resume: {run_dir / name} is a directory; a run directory holds a file there")
        check_resumable(config, saved["meta"]["config"], run_dir / rundir.CHECKPOINT)
        checkpoint.restore(saved, net=net, optimizer=optimizer, schedule=schedule, rngs=train_rngs, state=state)
        rundir.remove_leftovers(run_dir)
        rundir.truncate_metrics(run_dir / rundir.METRICS, state.epoch, columns)
    rundir.atomic_write(run_dir / rundir.CONFIG, config_text)
    tc = config.training
    threads = choose_for(net, batch_size_for(tc.mode, tc.batch_size, len(data.X_train)), tc.threads)
    if resume is not None and tc.threads == "auto" and saved["meta"].get("threads"):
        # the run started with this many threads: a resumed run ends bit for bit where an uninterrupted one would
        threads = ThreadChoice(int(saved["meta"]["threads"]), "auto: as the run started")
    if on_start is not None:
        on_start(RunInfo(config, data, net, loss, run_dir, state.epoch, resume is not None, threads))
    metrics = rundir.MetricsWriter(run_dir / rundir.METRICS, columns, config.logging.metrics_every)

    def record_epoch(record: EpochRecord) -> None:
        metrics.write(record.row())
        if on_epoch is not None:
            on_epoch(record)

    def save_checkpoint(loop: LoopState) -> None:
        checkpoint.save(run_dir / rundir.CHECKPOINT, net=net, optimizer=optimizer, schedule=schedule, rngs=train_rngs,
                        state=loop, config_text=config_text, threads=threads.threads)

    try:
        with limited(threads), np.errstate(over="ignore", invalid="ignore", under="ignore"):  # overflow: the divergence guard's job
            settings = dataclasses.replace(train_settings(config), target=data.target_scaling)
            result = train(net, loss, data.X_train, data.y_train, data.X_val, data.y_val, optimizer, schedule,
                           settings, shuffle_rng=rngs["shuffle"], dropout_rng=rngs["dropout"],
                           state=state, on_epoch=record_epoch, on_checkpoint=save_checkpoint,
                           stop_requested=stop_requested)
    finally:
        metrics.close()
    if config.problem is not None:  # a 2-D problem: model.npz holds the point, summary.json where it ended
        rundir.save_npz(run_dir / rundir.MODEL, net.weights())
        final = {"train": {"loss": net.f()}, "problem": point_summary(net)}
    else:
        save_model(run_dir / rundir.MODEL, net, data, config)
        with np.errstate(over="ignore", invalid="ignore"):
            final = {split: evaluate(net, loss, X, y, data.target_scaling) for split, X, y in (
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
        "threads": threads.threads,
        **final,
        "warnings": result.warnings,
    }
    if result.diverged_epoch is not None:
        summary["diverged_epoch"], summary["diverged_cause"] = result.diverged_epoch, result.diverged_cause
    if resume is not None:
        summary["resumed_from_epoch"] = saved["meta"]["epoch"]
    if result.message:
        summary["message"] = result.message
    rundir.save_json(run_dir / rundir.SUMMARY, summary)
    return RunResult(run_dir, summary, net, data, result)
