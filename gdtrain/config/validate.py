"""The checks across keys, and ``from_dict``: plain data (a parsed YAML document) → a validated ``Config``.

Each section's own keys are checked as it is built (sections.py); what is checked here needs more than one key or
a registry: the names (loss, activations, initializers), a problem replacing data / model / loss, the splits
leaving training data, clip.norm or clip.value, a line search's demands (plain sgd, full batch, a deterministic
objective), and a watched metric existing in the run. A problem is a ``ConfigError`` whose message starts with the
key path and says what is expected (``optimizer.lr: must be > 0, got -0.1``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ..activations import ACTIVATIONS
from ..errors import ConfigError
from ..init import INITIALIZERS
from ..losses import LOSSES
from ..metrics import check_watchable
from ..options import describe
from .sections import (MAX_HIDDEN_WEIGHTS, PROBLEM_EXCLUDES, Config, LayerConfig, ModelConfig, ResidualConfig,
                       build_section, dense_layers, has_batchnorm)


def model_from_dict(raw: Dict[str, Any]) -> ModelConfig:
    """A validated ``model:`` section from plain data (model.npz stores it as JSON; tests build networks with it)."""
    model = build_section(ModelConfig, raw, "model")
    _check_layer_names(model.hidden, "model.hidden")
    return model


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
    config = build_section(Config, _check_problem_keys(raw), "")
    config.base_dir, config.name = base_dir, name
    _check_names(config)
    _check_combinations(config)
    return config
