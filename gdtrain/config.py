"""The YAML config: loaded into dataclasses, every default filled in, every value checked.

A problem is a ``ConfigError`` whose message starts with the key path and says what is expected
(``optimizer.lr: must be > 0, got -0.1``; ``trainig: unknown key; did you mean 'training'?``).
README.md describes the config and ``gdtrain list config`` every key; ``to_dict`` gives the resolved config
written to the run directory.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import yaml

from .activations import ACTIVATIONS
from .contestants import resolve_contestants, resolve_modes, resolve_target_metric
from .errors import ConfigError
from .rundir import refuse_special_file
from .init import INITIALIZERS
from .layers import OUTPUT_ACTIVATIONS
from .losses import LOSSES
from .metrics import WATCHABLE, check_watchable
from .early_stopping import resolve_early_stopping
from .linesearch import resolve_line_search
from .optimizers import resolve_optimizer
from .options import boolean, choice, converted, describe, integer, number, optional, whole
from .registry import nearest, shown, unknown_name_message
from .schedules import resolve_schedule
from .sweep_space import resolve_grid


# Sizes beyond anything a NumPy network on one machine trains: refused up front rather than failing to allocate.
MAX_UNITS = 100_000  # units in one hidden layer
MAX_HIDDEN_WEIGHTS = 100_000_000  # weights between consecutive hidden layers, all together (800 MB in float64)
MAX_SAMPLES = 10_000_000  # samples a synthetic dataset generates


def _string(v):
    if not (isinstance(v, str) and v):
        return "must be a non-empty string"
    if not v.isprintable():
        return "must be one line of printable text"
    return None


def _target(v):
    if isinstance(v, str) and v and v.isprintable():
        return None
    if isinstance(v, list) and v and all(isinstance(s, str) and s and s.isprintable() for s in v):
        return None
    return "must be a column name or a list of column names"


def _option(default=None, check=None, doc="", factory=None, convert=None):
    """A config field: ``check(value)`` says what is wrong (or None); ``convert(value, path)`` builds it."""
    meta = {"check": check, "doc": doc, "convert": convert}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    source: str = _option("digits", _string, "built-in dataset name or a .csv / .npz / MNIST .idx[.gz] path")
    target: Optional[Union[str, List[str]]] = _option(None, optional(_target), "CSV target column(s); default: the last")
    labels: Optional[str] = _option(None, optional(_string), "IDX labels file (default: inferred from source)")
    test_source: Optional[str] = _option(None, optional(_string), "separate test file (then test_split is unused)")
    test_labels: Optional[str] = _option(None, optional(_string), "IDX labels file of test_source")
    validation_split: float = _option(0.15, number(0, 1, high_open=True), "fraction held out for validation")
    test_split: float = _option(0.15, number(0, 1, high_open=True), "fraction held out for testing")
    standardize: bool = _option(True, boolean, "z-score features with the training split's mean and std")
    standardize_target: bool = _option(False, boolean, "regression: train on (y − mean)/std of the training split; "
                                                       "predictions and mse / mae in the target's units")
    n_samples: Optional[int] = _option(None, optional(integer(4, MAX_SAMPLES)), "synthetic datasets: number of samples")
    noise: Optional[float] = _option(None, optional(number(0)), "synthetic datasets: noise level")


@dataclass
class LayerConfig:
    """A dense layer (``type: dense``, the default; a bare int is one with ReLU)."""

    type: str = _option("dense", choice("dense"), "dense (the default) | batchnorm | residual")
    units: int = _option(None, integer(1, MAX_UNITS), "number of units")
    activation: str = _option("relu", _string, "activation function")
    dropout: float = _option(0.0, number(0, 1, high_open=True), "inverted-dropout rate after the activation")
    init: Optional[str] = _option(None, optional(_string), "initializer (default: model.init)")
    batchnorm: bool = _option(False, boolean, "dense → batchnorm → activation: φ applied to BN(z) (torch's Linear → "
                                              "BatchNorm1d → ReLU), with batchnorm's defaults")
    trainable: bool = _option(True, boolean, "false: hold W and b fixed (frozen; and γ, β with batchnorm)")


@dataclass
class BatchNormConfig:
    """``type: batchnorm``: torch.nn.BatchNorm1d over the features of the layer before."""

    type: str = _option("batchnorm", choice("batchnorm"), "batchnorm")
    momentum: float = _option(0.1, number(0, 1), "running statistics: r ← (1 − momentum) r + momentum · batch value")
    eps: float = _option(1e-5, number(0, low_open=True), "ε in x̂ = (x − μ)/√(σ² + ε)")
    affine: bool = _option(True, boolean, "learn the scale γ and shift β (y = γ x̂ + β)")
    trainable: bool = _option(True, boolean, "false: hold γ and β fixed (frozen)")


@dataclass
class ResidualConfig:
    """``type: residual``: y = x + block(x), the block being its own ``hidden:`` list."""

    type: str = _option("residual", choice("residual"), "residual")
    hidden: List[Any] = _option(convert=lambda raw, path: _hidden(raw, path, allow_empty=False), factory=list,
                                doc="the block's layers (as model.hidden); it must end at its input's width")
    projection: bool = _option(False, boolean, "y = P x + block(x) with a learned linear map P on the skip path")
    trainable: bool = _option(True, boolean, "false: hold every tensor of the block fixed (frozen)")


LAYER_CONFIGS = {"dense": LayerConfig, "batchnorm": BatchNormConfig, "residual": ResidualConfig}


def _hidden(raw, path, allow_empty: bool = True) -> List[Any]:
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: must be a list of layers like {{units: 64, activation: relu}}, got {describe(raw)}")
    if not raw and not allow_empty:
        raise ConfigError(f"{path}: must list at least one layer, got []")
    layers = []
    for i, item in enumerate(raw):
        item = whole(item)  # `hidden: [64.0]` is `hidden: [64]`
        if isinstance(item, int) and not isinstance(item, bool):
            item = {"units": item}
        kind = item.get("type", "dense") if isinstance(item, dict) else "dense"
        if not isinstance(kind, str) or kind not in LAYER_CONFIGS:
            raise ConfigError(f"{path}[{i}].type: {unknown_name_message('layer type', kind, LAYER_CONFIGS)}")
        layer = _build(LAYER_CONFIGS[kind], item, f"{path}[{i}]")
        if kind == "dense" and layer.units is None:
            raise ConfigError(f"{path}[{i}].units: missing (how many units the layer has)")
        layers.append(layer)
    return layers


def _nested_numbers(v) -> bool:
    if isinstance(v, list):
        return bool(v) and all(_nested_numbers(x) for x in v)
    return number()(v) is None


def _init_from(v):
    if _string(v) is None:
        return None
    if isinstance(v, dict) and v and all(isinstance(k, str) and _nested_numbers(x) for k, x in v.items()):
        return None
    return "must be the path of an .npz file, or a mapping of tensor names to (nested lists of) numbers"


_init_from.schema = {"anyOf": [{"type": "string", "minLength": 1},
                               {"type": "object", "minProperties": 1, "additionalProperties": {
                                   "anyOf": [{"type": "number"}, {"type": "array"}]}}]}


def _names(v):
    if not (isinstance(v, list) and all(isinstance(x, str) and x and x.isprintable() for x in v)):
        return "must be a list of tensor names such as [b1, b2]"
    return None


_names.schema = {"type": "array", "items": {"type": "string", "minLength": 1}}


@dataclass
class ModelConfig:
    hidden: List[Union[LayerConfig, BatchNormConfig, ResidualConfig]] = _option(
        convert=_hidden, doc="hidden layers (type: dense, batchnorm, residual); [] is a linear model",
                                factory=lambda: [LayerConfig(units=64, activation="relu")])
    output_activation: str = _option("identity", choice(*OUTPUT_ACTIVATIONS),
                                     "ŷ = ψ(z) for mse / mae: identity | sigmoid | tanh | softmax "
                                     "(bce, cross_entropy and hinge own the output)")
    freeze: List[str] = _option(check=_names, factory=list, doc="tensors to hold fixed, by name (W1, b1, gamma2, ...)")
    init: Optional[str] = _option(None, optional(_string), "initializer for every layer (default: by activation)")
    init_from: Optional[Union[str, Dict[str, Any]]] = _option(
        None, optional(_init_from), "the starting tensors: an .npz with W1, b1, W2, b2, ..., or those arrays "
                                    "written out ({W1: [[0.15, 0.2], [0.25, 0.3]], b1: [0.35, 0.35], ...})")


def model_from_dict(raw: Dict[str, Any]) -> ModelConfig:
    """A validated ``model:`` section from plain data (model.npz stores it as JSON; tests build networks with it)."""
    model = _build(ModelConfig, raw, "model")
    _check_layer_names(model.hidden, "model.hidden")
    return model


def dense_layers(hidden: List[Any], path: str = "model.hidden"):
    """(key path, config) of every dense layer, those inside residual blocks included, in order."""
    for i, layer in enumerate(hidden):
        if isinstance(layer, ResidualConfig):
            yield from dense_layers(layer.hidden, f"{path}[{i}].hidden")
        elif isinstance(layer, LayerConfig):
            yield f"{path}[{i}]", layer


def has_batchnorm(hidden: List[Any]) -> bool:
    return any(isinstance(layer, BatchNormConfig) or (isinstance(layer, ResidualConfig) and has_batchnorm(layer.hidden))
               or (isinstance(layer, LayerConfig) and layer.batchnorm) for layer in hidden)


@dataclass
class RegularizationConfig:
    l2: float = _option(0.0, number(0), "λ in J + λ Σ‖W‖² (weights only)")
    l1: float = _option(0.0, number(0), "λ₁ in J + λ₁ Σ|W| (weights only; subgradient λ₁ sign(W))")


@dataclass
class ClipConfig:
    norm: Optional[float] = _option(None, optional(number(0, low_open=True)), "max global gradient norm")
    value: Optional[float] = _option(None, optional(number(0, low_open=True)), "max absolute gradient entry")


def _component(resolve):
    def convert(raw, path):
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: must be a name or a mapping like {{name: ..., option: value}}, got {describe(raw)}")
        return resolve(raw, path)

    return convert


def _race_line_searches(raw, path):
    from .landscape_race import resolve_line_search_contestants

    return resolve_line_search_contestants(raw, path)


def _problem(raw, path):
    from .problems import resolve_problem

    return resolve_problem(raw, path)


PROBLEM_EXCLUDES = ("data", "model", "loss", "regularization")  # what a problem: replaces (omitted from the dump)


def _check_problem_keys(raw: Any) -> Any:
    """A raw config with ``problem:``: refuse the sections it replaces, and train it full-batch (a problem has no
    samples: every step uses the exact ∇f). Returns the raw config to build."""
    if not (isinstance(raw, dict) and raw.get("problem") is not None):
        return raw
    for key in PROBLEM_EXCLUDES:
        if key in raw:
            why = ("f is the whole objective" if key == "regularization"
                   else "a problem replaces data, model and loss")
            raise ConfigError(f"{key}: problem and {key} exclude each other ({why}); remove {key} (or problem)")
    training = raw.get("training")
    if isinstance(training, dict):
        mode = training.get("mode", "batch")
        if mode != "batch":
            raise ConfigError(f"training.mode: a problem has no samples to batch, every step uses the exact "
                              f"gradient ∇f (mode batch), got {describe(mode)}")
        raw = dict(raw, training=dict(training, mode="batch"))
    elif training is None:
        raw = dict(raw, training={"mode": "batch"})
    return raw


def _line_search(raw, path):
    if raw is None:
        return None
    return _component(resolve_line_search)(raw, path)


def _early_stopping(raw, path):
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping like {{monitor: val_loss, patience: 10}} (or true / null), "
                          f"got {describe(raw)}")
    return resolve_early_stopping(raw, path)


def _auto_or_count(v) -> Optional[str]:
    """A check for keys that take "auto" or a whole number >= 1 (training.threads, logging.every)."""
    return None if v == "auto" or integer(1)(v) is None else "must be auto or an integer >= 1"


_auto_or_count.schema = {"anyOf": [{"type": "string", "enum": ["auto"]}, {"type": "integer", "minimum": 1}]}
_auto_or_count.convert = lambda v: v if v == "auto" else whole(v)


@dataclass
class TrainingConfig:
    mode: str = _option("minibatch", choice("batch", "sgd", "minibatch"), "batch | sgd | minibatch")
    batch_size: int = _option(32, integer(1), "mini-batch size (minibatch mode)")
    epochs: int = _option(100, integer(0), "number of passes over the training data (the most it runs)")
    line_search: Optional[Dict[str, Any]] = _option(None, convert=_line_search,
                                                    doc="backtracking | wolfe: choose each step's length (batch mode)")
    keep: str = _option("last", choice("last", "best"), "which weights model.npz holds: the last or the best epoch's")
    tol_loss: Optional[float] = _option(None, optional(number(0, low_open=True)),
                                        "stop when the training loss changes by less than this fraction over `patience` epochs")
    tol_grad: Optional[float] = _option(None, optional(number(0, low_open=True)), "stop when the gradient norm is below this")
    tol_step: Optional[float] = _option(None, optional(number(0, low_open=True)),
                                        "stop when an epoch moves the parameters by less than this (Euclidean norm)")
    patience: int = _option(5, integer(1), "epochs over which tol_loss measures the change")
    early_stopping: Optional[Dict[str, Any]] = _option(
        None, convert=_early_stopping, doc="{monitor, patience, min_delta, mode, restore_best} (Keras semantics)")
    checkpoint_every: int = _option(1, integer(1), "write checkpoint.npz every this many epochs")
    checkpoint_seconds: float = _option(1.0, number(0), "... and at most once per this many seconds (0: no limit; "
                                                         "an interruption and the end of the run always write it)")
    threads: Union[str, int] = _option("auto", _auto_or_count, "BLAS threads: auto (1 for small products, more for large "
                                                        "ones; gdtrain/threads.py) or a number")


@dataclass
class MonitorConfig:
    warnings: bool = _option(True, boolean, "print named warnings (vanishing / exploding gradients, ...)")
    vanishing_ratio: float = _option(1e-2, number(0, 1, low_open=True),
                                     "warn when a layer's ‖∂J/∂W‖ is below this fraction of the last layer's")
    exploding_factor: float = _option(1e3, number(1, low_open=True),
                                      "warn when the gradient norm grows this many times over its first epoch")
    dead_fraction: float = _option(0.5, number(0, 1, low_open=True), "warn when this share of a ReLU layer is dead")
    saturated_fraction: float = _option(0.5, number(0, 1, low_open=True),
                                        "warn when this share of sigmoid/tanh activations is saturated")
    saturation_derivative: float = _option(1e-2, number(0, 1, low_open=True, high_open=True),
                                           "φ'(z) below this counts as saturated")
    rising_epochs: int = _option(3, integer(1), "warn when the training loss rises this many epochs in a row")
    rising_factor: float = _option(2.0, number(1), "... and ends above this many times the first epoch's loss")


_every = _auto_or_count


@dataclass
class LoggingConfig:
    """How often a run reports: runs of thousands of short epochs need not print or write every one."""

    every: Union[str, int] = _option("auto", _every, "a terminal line every this many epochs (auto: about 30 "
                                                      "lines in all); the first, last and stopping epochs always")
    metrics_every: int = _option(1, integer(1), "a metrics.csv row every this many epochs (and the run's last)")


def _resolved_by(resolve):
    """A converter that hands a given (non-null) value to ``resolve`` (a contestants.py function: the race's own
    tables check it)."""

    def convert(raw, path):
        return None if raw is None else resolve(raw, path)

    return convert


DEFAULT_LR_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)


def _lr_grid(v):
    if not (isinstance(v, list) and v and all(number(0, low_open=True)(x) is None for x in v)):
        return "must be a non-empty list of numbers > 0 (factors of each contestant's lr)"
    return None


_lr_grid.schema = {"type": "array", "minItems": 1, "items": {"type": "number", "exclusiveMinimum": 0}}


@dataclass
class CompareConfig:
    """``gdtrain compare-optimizers``: who races, on how many seeds, and what counts as reaching the target."""

    optimizers: Optional[List[Dict[str, Any]]] = _option(
        None, convert=_resolved_by(resolve_contestants),
        doc="contestants: names or {name, label, lr, ...}; null: all, at their defaults")
    modes: Optional[List[str]] = _option(None, convert=_resolved_by(resolve_modes),
                                         doc="race batch / sgd / minibatch with the optimizer section instead")
    seeds: int = _option(1, integer(1), "repeat the race with seeds seed, seed + 1, ...")
    tune_lr: bool = _option(False, boolean, "choose each contestant's lr from lr_grid by best validation loss first")
    lr_grid: List[float] = _option(check=_lr_grid, factory=lambda: list(DEFAULT_LR_GRID),
                                   doc="factors of each contestant's lr that tune_lr tries")
    target_loss: Optional[float] = _option(None, optional(number(0)), "report when train_loss <= this is reached")
    target_metric: Optional[Dict[str, float]] = _option(None, convert=_resolved_by(resolve_target_metric),
                                                        doc="{val_accuracy: 0.95}: report when it is reached")
    line_searches: Optional[List[Dict[str, Any]]] = _option(
        None, convert=lambda raw, path: None if raw is None else _race_line_searches(raw, path),
        doc="problem races: also race gradient descent with these line searches ([backtracking, {name: wolfe, "
            "label: ...}])")


def _watchable(v):
    return None if v in WATCHABLE else f"must be one of {', '.join(WATCHABLE)}"


_watchable.schema = {"type": "string", "enum": list(WATCHABLE)}


@dataclass
class SweepConfig:
    """``gdtrain sweep``: the grid of config keys and values to search, the seeds and the metric to rank by."""

    grid: Optional[Dict[str, List[Any]]] = _option(None, convert=_resolved_by(resolve_grid),
                                                   doc="{key.path: [v1, v2, ...]}: every combination is a point")
    seeds: int = _option(1, integer(1), "run every point with seeds seed, seed + 1, ...")
    random: Optional[int] = _option(None, optional(integer(1)), "run only this many points of the grid, drawn "
                                                                "with the config's seed")
    metric: Optional[str] = _option(None, optional(_watchable), "rank the points by this epoch metric's best "
                                                                "value (default: val_accuracy / val_r2, else train_loss)")


@dataclass
class Config:
    seed: int = _option(0, integer(0), "same seed + same config => identical results")
    dtype: str = _option("float64", choice("float64", "float32"), "float64 | float32")
    data: DataConfig = _option(factory=DataConfig, convert=lambda raw, path: _build(DataConfig, raw, path))
    model: ModelConfig = _option(factory=ModelConfig, convert=lambda raw, path: _build(ModelConfig, raw, path))
    loss: str = _option("cross_entropy", _string, "mse | mae | bce | cross_entropy | hinge")
    regularization: RegularizationConfig = _option(factory=RegularizationConfig, convert=lambda raw, path: _build(RegularizationConfig, raw, path))
    optimizer: Dict[str, Any] = _option(convert=_component(resolve_optimizer), doc="name and torch.optim options",
                                        factory=lambda: resolve_optimizer({"name": "sgd"}))  # = `optimizer: sgd`
    schedule: Dict[str, Any] = _option(convert=_component(resolve_schedule), doc="learning-rate schedule",
                                       factory=lambda: resolve_schedule({"name": "constant"}))
    clip: ClipConfig = _option(factory=ClipConfig, convert=lambda raw, path: _build(ClipConfig, raw, path))
    training: TrainingConfig = _option(factory=TrainingConfig, convert=lambda raw, path: _build(TrainingConfig, raw, path))
    monitor: MonitorConfig = _option(factory=MonitorConfig, convert=lambda raw, path: _build(MonitorConfig, raw, path))
    logging: LoggingConfig = _option(factory=LoggingConfig, convert=lambda raw, path: _build(LoggingConfig, raw, path))
    output: Optional[str] = _option(None, optional(_string), "run directory (default: runs/<config name>)")
    problem: Optional[Dict[str, Any]] = field(default=None, metadata={
        "check": None, "omit_null": True, "convert": lambda raw, path: None if raw is None else _problem(raw, path),
        "doc": "a 2-D test function instead of data / model / loss: {function: rosenbrock, start: [-1.2, 1.0]} "
               "(gdtrain list functions)"})
    compare: Optional[CompareConfig] = field(default=None, metadata={
        "check": None, "doc": "gdtrain compare-optimizers settings (null: none)", "omit_null": True,
        "convert": lambda raw, path: None if raw is None else _build(CompareConfig, raw, path)})
    sweep: Optional[SweepConfig] = field(default=None, metadata={
        "check": None, "doc": "gdtrain sweep settings (null: none)", "omit_null": True,
        "convert": lambda raw, path: None if raw is None else _build(SweepConfig, raw, path)})
    # Where relative paths in the file are looked up besides the working directory (not a YAML key).
    base_dir: Optional[str] = field(default=None, repr=False, compare=False, metadata={"internal": True})
    name: str = field(default="run", repr=False, compare=False, metadata={"internal": True})

    def resolve_path(self, value: str) -> Path:
        """A path from the config: as given if it exists, else relative to the config file's folder."""
        path = Path(value).expanduser()
        if not path.is_absolute() and not path.exists() and self.base_dir:
            candidate = Path(self.base_dir) / path
            if candidate.exists():
                return candidate
        return path


def _build(cls, raw, path: str):
    """A ``cls`` instance from a mapping, checking keys, types and ranges field by field."""
    if raw is None:
        raw = {}
    where = path or "config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping of keys to values, got {describe(raw)}")
    known = [f for f in fields(cls) if not f.metadata.get("internal")]
    names = {f.name for f in known}
    for key in raw:
        if key not in names:
            guess = nearest(key, names)
            hint = f"did you mean '{guess}'?" if guess else f"valid keys: {', '.join(sorted(names))}"
            raise ConfigError(f"{path + '.' if path else ''}{shown(key)}: unknown key; {hint}")
    values = {}
    for f in known:
        if f.name not in raw:
            continue
        key_path = f"{path}.{f.name}" if path else f.name
        value = raw[f.name]
        if f.metadata["convert"] is not None:
            value = f.metadata["convert"](value, key_path)
        else:
            problem = f.metadata["check"](value)
            if problem:
                raise ConfigError(f"{key_path}: {problem}, got {describe(value)}")
            value = converted(f.metadata["check"], value)
        values[f.name] = value
    return cls(**values)


def _check_names(config: Config) -> None:
    LOSSES.get(config.loss, "loss")
    if config.model.init is not None:
        INITIALIZERS.get(config.model.init, "model.init")
    _check_layer_names(config.model.hidden, "model.hidden")
    if config.model.output_activation != "identity":
        loss = LOSSES.get(config.loss, "loss")
        if loss.owns_output:
            owned = {"scores": "raw class scores"}.get(loss.owns_output, loss.owns_output)
            raise ConfigError(f"model.output_activation: {config.model.output_activation} cannot be used with loss "
                              f"{config.loss}, which owns the output ({owned}, fused with the loss); leave it "
                              "identity, or use loss mse / mae")


def _check_layer_names(hidden, path: str) -> None:
    for i, layer in enumerate(hidden):
        if isinstance(layer, ResidualConfig):
            _check_layer_names(layer.hidden, f"{path}[{i}].hidden")
        elif isinstance(layer, LayerConfig):
            ACTIVATIONS.get(layer.activation, f"{path}[{i}].activation")
            if layer.init is not None:
                INITIALIZERS.get(layer.init, f"{path}[{i}].init")


def _check_sizes(config: Config) -> None:
    units = [layer.units for _, layer in dense_layers(config.model.hidden)]
    weights = sum(a * b for a, b in zip(units, units[1:]))
    if weights > MAX_HIDDEN_WEIGHTS:
        raise ConfigError(f"model.hidden: {weights:,} weights between the hidden layers; at most "
                          f"{MAX_HIDDEN_WEIGHTS:,} fit in memory with their gradients and optimizer state")


MEMORY_COPIES = 4  # the parameters, their gradients and an optimizer's state (Adam: two), as one estimate
ACTIVATION_COPIES = 4  # per layer and batch row: its input, pre-activation, output and backward buffer


def machine_memory() -> Optional[int]:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError, TypeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB"


def memory_estimate(config: Config, n_inputs: int, n_outputs: int, n_train: int) -> Tuple[int, int, int]:
    """(parameters, bytes for them with gradients and optimizer state, bytes of one batch's activations) of the
    network ``config`` describes on data of ``n_inputs`` features and ``n_outputs`` outputs; nothing allocated."""
    from .layers import build_layers
    from .train import batch_size_for

    layers = build_layers(config.model.hidden, n_inputs, n_outputs, config.model.output_activation)
    inner = [inner for layer in layers for inner in layer.walk()]
    n_params = sum(math.prod(spec.shape) for layer in inner for spec in layer.tensors())
    itemsize = np.dtype(config.dtype).itemsize
    rows = batch_size_for(config.training.mode, config.training.batch_size, max(n_train, 1))
    widths = n_inputs + sum(layer.width_out for layer in inner)
    return n_params, MEMORY_COPIES * n_params * itemsize, ACTIVATION_COPIES * rows * widths * itemsize


def check_memory(config: Config, n_inputs: int, n_outputs: int, n_train: int) -> None:
    """A ConfigError, before anything is allocated, when the whole network (the input and output layers included,
    which _check_sizes cannot see before the data is read) will not fit in this machine's memory."""
    available = machine_memory()
    if not available:
        return
    n_params, params_bytes, batch_bytes = memory_estimate(config, n_inputs, n_outputs, n_train)
    if params_bytes + batch_bytes > available:
        raise ConfigError(f"model.hidden: the network needs about {_gib(params_bytes + batch_bytes)} of memory "
                          f"({n_params:,} parameters for {n_inputs} inputs and {n_outputs} outputs: "
                          f"{_gib(params_bytes)} with their gradients and optimizer state, plus {_gib(batch_bytes)} "
                          f"of activations per batch), more than this machine's {_gib(available)}; use fewer units "
                          "(or a smaller training.batch_size)")


def _check_combinations(config: Config) -> None:
    data = config.data
    _check_sizes(config)
    if data.test_source is None and data.validation_split + data.test_split >= 1:
        raise ConfigError(
            f"data.validation_split: validation_split + test_split must leave training data "
            f"(< 1), got {data.validation_split:g} + {data.test_split:g}")
    if config.clip.norm is not None and config.clip.value is not None:
        raise ConfigError("clip: set either clip.norm or clip.value, not both")
    if data.standardize_target and LOSSES.get(config.loss, "loss").task != "regression":
        raise ConfigError(f"data.standardize_target: scales a regression target (loss mse or mae); loss "
                          f"{config.loss} predicts classes, whose labels are not scaled: remove it")
    if config.training.line_search is not None:
        _check_line_search(config)
    if config.compare is not None and config.compare.line_searches and config.problem is None:
        raise ConfigError("compare.line_searches: races line searches on a problem: config (a 2-D test function); "
                          "a network race takes its contestants from compare.optimizers")
    if config.schedule["name"] == "plateau":
        _check_monitor(config, "schedule.monitor", config.schedule["monitor"])
    if config.training.early_stopping is not None:
        _check_monitor(config, "training.early_stopping.monitor", config.training.early_stopping["monitor"])


def _check_monitor(config: Config, path: str, name: str) -> None:
    """A watched metric must exist in this run: val_* needs validation data, accuracy a classifier, r2 a regressor."""
    if name.startswith("val_") and config.problem is not None:
        raise ConfigError(f"{path}: {name} needs validation data, and a problem has none; use train_loss")
    check_watchable(name, path, LOSSES.get(config.loss, "loss").task, config.data.validation_split > 0, config.loss)


def _check_line_search(config: Config) -> None:
    """A line search needs one fixed, deterministic objective and owns the step length."""
    path = "training.line_search"
    if config.training.mode != "batch":
        raise ConfigError(f"{path}: needs training.mode: batch, got {config.training.mode} (a line search compares "
                          "values of one objective, and every mini-batch is a different one)")
    opt = config.optimizer
    if opt["name"] != "sgd" or opt["momentum"] or opt["weight_decay"]:
        raise ConfigError(f"{path}: steps along −∇J itself, so the optimizer must be plain sgd (no momentum, no "
                          f"weight_decay; use regularization.l2 for a penalty the search sees), got {opt['name']}")
    if config.schedule["name"] != "constant":
        raise ConfigError(f"{path}: chooses the step length itself; remove the schedule "
                          f"(got schedule {config.schedule['name']})")
    if config.clip.norm is not None or config.clip.value is not None:
        raise ConfigError(f"{path}: chooses the step length itself; remove clip")
    for where, layer in dense_layers(config.model.hidden):
        if layer.dropout:
            raise ConfigError(f"{where}.dropout: a line search needs a deterministic objective; "
                              "set dropout to 0 or remove training.line_search")
    if has_batchnorm(config.model.hidden):
        raise ConfigError(f"{path}: evaluates the objective without training mode, where batch normalization uses "
                          "its running statistics instead of the batch's; remove the batchnorm layers or the line search")


def from_dict(raw: Any, base_dir: Optional[str] = None, name: str = "run") -> Config:
    """A validated Config from a parsed YAML document."""
    if raw is None:
        raise ConfigError("config: the file is empty; expected a mapping such as 'data: {source: digits}'")
    config = _build(Config, _check_problem_keys(raw), "")
    config.base_dir, config.name = base_dir, name
    _check_names(config)
    _check_combinations(config)
    return config


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads 1e-3 as a number (YAML 1.1 wants 1.0e-3), refuses a key given twice in one
    mapping (plain YAML keeps the last one silently) and reports a scalar it cannot build (``2001-13-45``,
    ``!!int x``) as a YAML error at its line and column."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            kind = str(node.tag).rsplit(":", 1)[-1]
            text = node.value if isinstance(node.value, str) else node.id
            reason = (str(exc).splitlines() or [""])[0][:100]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {describe(text, 40)} as {kind} ({reason})", node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                if key in first:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {describe(key, 40)} (first on line {first[key] + 1}); "
                                    "give each key once", key_node.start_mark)
                first[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes the strings _Loader would read as numbers ('1e-3'), so a dump reads back the same."""


for _cls in (_Loader, _Dumper):
    _cls.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
        list("-+0123456789."),
    )


def parse_yaml(text: str, source: str = "config"):
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply (more than a config needs)") from None


def apply_override(raw: Dict[str, Any], assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a raw config mapping, in place."""
    key_path, sep, text = assignment.partition("=")
    if not sep or not key_path.strip():
        raise ConfigError(f"--set {assignment}: expected key.path=value")
    value = parse_yaml(text, f"--set {key_path}") if text.strip() else None
    set_path(raw, key_path.strip(), value)


def set_path(raw: Dict[str, Any], key_path: str, value: Any) -> None:
    """Set ``raw[a][b][c] = value`` for ``key_path`` 'a.b.c' (list items by index: 'model.hidden.0.units')."""
    keys = key_path.split(".")
    if not all(keys):
        raise ConfigError(f"{key_path}: expected a dotted key path such as training.epochs")
    node: Any = raw
    for i, key in enumerate(keys[:-1]):
        if isinstance(node, list):
            child = node[int(key)] if key.isdigit() and int(key) < len(node) else None
            if isinstance(child, int) and not isinstance(child, bool):  # `hidden: [32, 16]` shorthand
                child = node[int(key)] = {"units": child}
        else:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            elif isinstance(child, str) and key in ("optimizer", "schedule"):
                child = node[key] = {"name": child}
        if not isinstance(child, (dict, list)):
            raise ConfigError(f"{key_path}: '{'.'.join(keys[:i + 1])}' is not a section")
        node = child
    last = keys[-1]
    if isinstance(node, list):
        if not (last.isdigit() and int(last) < len(node)):
            raise ConfigError(f"{key_path}: no list item '{last}'")
        node[int(last)] = value
    else:
        node[last] = value


MAX_CONFIG_BYTES = 4 * 2 ** 20  # a config is a page of YAML; anything this large is a mistake (or a data file)


def _mib(n: int) -> str:
    return f"{n / 2 ** 20:g} MiB"


def load_config(path: Union[str, Path], overrides: Optional[Dict[str, Any]] = None,
                assignments: Optional[List[str]] = None) -> Config:
    """Read, override and validate a config file.

    ``overrides`` maps key paths to values (``{"training.epochs": 5}``); ``assignments`` are
    ``--set``-style strings. Both are applied before validation so they are checked like the file.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a YAML config file")
    refuse_special_file(path, error=ConfigError)
    try:
        with open(path, "rb") as f:  # at most one byte past the limit: a huge file (or /dev/zero) is never read whole
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            size = path.stat().st_size if path.is_file() else 0
            shown = f"{size / 2 ** 20:.1f} MiB" if size > MAX_CONFIG_BYTES else f"more than {_mib(MAX_CONFIG_BYTES)}"
            raise ConfigError(f"{path}: the config file is {shown}, more than the {_mib(MAX_CONFIG_BYTES)} a config "
                              "may have; is it a data file? (name data files in data.source)")
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text's universal newlines
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read the config file (UnicodeDecodeError: not UTF-8 text, "
                          f"{exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    raw = parse_yaml(text, str(path))
    if raw is None:
        raise ConfigError(f"{path}: the file is empty; expected a mapping such as 'data: {{source: digits}}'")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a YAML mapping of keys to values, got {describe(raw)}")
    raw = copy.deepcopy(raw)
    for assignment in assignments or []:
        apply_override(raw, assignment)
    for key_path, value in (overrides or {}).items():
        if value is not None:
            set_path(raw, key_path, value)
    return from_dict(raw, base_dir=str(path.parent), name=path.stem)


def to_dict(config: Config) -> Dict[str, Any]:
    """The resolved config as plain data (every default filled in), ready for YAML."""
    out = {}
    for f in fields(config):
        if f.metadata.get("internal"):
            continue
        value = getattr(config, f.name)
        if value is None and f.metadata.get("omit_null"):  # an optional section left out stays out
            continue
        if config.problem is not None and f.name in PROBLEM_EXCLUDES:  # what the problem replaces
            continue
        out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else copy.deepcopy(value)
    return out


def dump_yaml(config: Config) -> str:
    return yaml.dump(to_dict(config), Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=100)
