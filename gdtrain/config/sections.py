"""The config's sections as dataclasses: every key with its default, its check and its one-line doc.

A field is made by ``_option(default, check, doc)``: ``check(value)`` returns what is wrong (or None), and a field
that needs more than a check (a nested section, a list of layers, a registry entry such as the optimizer) has a
``convert(raw, path)`` that builds it or raises the ConfigError. ``build_section`` builds one dataclass from a
mapping field by field (an unknown key gets a suggestion: ``trainig: unknown key; did you mean 'training'?``).
The same metadata drives the JSON Schema (schema.py) and ``gdtrain list config`` (catalog.py); the checks across
keys are validate.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..contestants import resolve_contestants, resolve_line_search_contestants, resolve_modes, resolve_target_metric
from ..early_stopping import resolve_early_stopping
from ..errors import ConfigError
from ..layers import OUTPUT_ACTIVATIONS
from ..linesearch import resolve_line_search
from ..metrics import WATCHABLE
from ..optimizers import resolve_optimizer
from ..options import boolean, choice, converted, describe, integer, number, optional, whole
from ..problems import resolve_problem
from ..registry import nearest, shown, unknown_name_message
from ..schedules import resolve_schedule
from ..sweep_space import resolve_grid


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
        layer = build_section(LAYER_CONFIGS[kind], item, f"{path}[{i}]")
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


PROBLEM_EXCLUDES = ("data", "model", "loss", "regularization")  # what a problem: replaces (omitted from the dump)


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
    """A converter that hands a given (non-null) value to ``resolve``: the module that owns the vocabulary checks it
    (contestants.py the race's contestants and targets, problems.py a problem, sweep_space.py a sweep's grid)."""

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
        None, convert=_resolved_by(resolve_line_search_contestants),
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
    data: DataConfig = _option(factory=DataConfig, convert=lambda raw, path: build_section(DataConfig, raw, path))
    model: ModelConfig = _option(factory=ModelConfig, convert=lambda raw, path: build_section(ModelConfig, raw, path))
    loss: str = _option("cross_entropy", _string, "mse | mae | bce | cross_entropy | hinge")
    regularization: RegularizationConfig = _option(factory=RegularizationConfig, convert=lambda raw, path: build_section(RegularizationConfig, raw, path))
    optimizer: Dict[str, Any] = _option(convert=_component(resolve_optimizer), doc="name and torch.optim options",
                                        factory=lambda: resolve_optimizer({"name": "sgd"}))  # = `optimizer: sgd`
    schedule: Dict[str, Any] = _option(convert=_component(resolve_schedule), doc="learning-rate schedule",
                                       factory=lambda: resolve_schedule({"name": "constant"}))
    clip: ClipConfig = _option(factory=ClipConfig, convert=lambda raw, path: build_section(ClipConfig, raw, path))
    training: TrainingConfig = _option(factory=TrainingConfig, convert=lambda raw, path: build_section(TrainingConfig, raw, path))
    monitor: MonitorConfig = _option(factory=MonitorConfig, convert=lambda raw, path: build_section(MonitorConfig, raw, path))
    logging: LoggingConfig = _option(factory=LoggingConfig, convert=lambda raw, path: build_section(LoggingConfig, raw, path))
    output: Optional[str] = _option(None, optional(_string), "run directory (default: runs/<config name>)")
    problem: Optional[Dict[str, Any]] = field(default=None, metadata={
        "check": None, "omit_null": True, "convert": _resolved_by(resolve_problem),
        "doc": "a 2-D test function instead of data / model / loss: {function: rosenbrock, start: [-1.2, 1.0]} "
               "(gdtrain list functions)"})
    compare: Optional[CompareConfig] = field(default=None, metadata={
        "check": None, "doc": "gdtrain compare-optimizers settings (null: none)", "omit_null": True,
        "convert": lambda raw, path: None if raw is None else build_section(CompareConfig, raw, path)})
    sweep: Optional[SweepConfig] = field(default=None, metadata={
        "check": None, "doc": "gdtrain sweep settings (null: none)", "omit_null": True,
        "convert": lambda raw, path: None if raw is None else build_section(SweepConfig, raw, path)})
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


def build_section(cls, raw, path: str):
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

