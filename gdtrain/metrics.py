"""The metrics a run can watch, in one table: their names, which way is better, and which runs have them.

Every epoch logs ``train_loss`` and, with validation data, ``val_<name>`` for each metric ``monitor.evaluate``
returns for the task:

  classification  loss, accuracy
  regression      loss, mse, mae, r2

Higher is better for accuracy and r2 (mode max); lower for the losses and errors (mode min). A watched metric
must exist in the run: ``val_*`` needs validation data, accuracy a classification loss, mse / mae / r2 a
regression loss. The plateau schedule, early stopping, a race's target and a sweep's metric all read this table.
"""

from __future__ import annotations

from typing import List

from .errors import ConfigError

TASK_METRICS = {"classification": ("loss", "accuracy"), "regression": ("loss", "mse", "mae", "r2")}
# the epoch metrics a schedule, early stopping, a race target or a sweep may watch
WATCHABLE = ("val_loss", "train_loss", "val_accuracy", "val_mse", "val_mae", "val_r2")
HIGHER_IS_BETTER = ("val_accuracy", "val_r2")


def metric_names(task: str) -> List[str]:
    """The keys ``evaluate`` returns for a task, in order."""
    return list(TASK_METRICS["classification" if task == "classification" else "regression"])


def primary_metric(task: str) -> str:
    """The metric shown next to the loss: accuracy for classification, r2 for regression."""
    return "accuracy" if task == "classification" else "r2"


def higher_is_better(name: str) -> bool:
    """accuracy and r2 (with or without the ``val_`` prefix): higher is better; everything else: lower."""
    return name in HIGHER_IS_BETTER or f"val_{name}" in HIGHER_IS_BETTER


def mode_for(name: str) -> str:
    """'max' or 'min', as Keras's ``mode="auto"`` chooses it."""
    return "max" if higher_is_better(name) else "min"


def check_watchable(name: str, path: str, task: str, has_validation: bool, loss: str) -> None:
    """A ConfigError naming ``path`` when the run cannot log ``name`` (a run of ``loss`` for ``task``)."""
    if name.startswith("val_") and not has_validation:
        raise ConfigError(f"{path}: {name} needs validation data (data.validation_split > 0); use train_loss")
    if name == "val_accuracy" and task != "classification":
        raise ConfigError(f"{path}: val_accuracy needs a classification loss, got loss {loss}; use val_r2")
    if name in ("val_mse", "val_mae", "val_r2") and task != "regression":
        raise ConfigError(f"{path}: {name} needs a regression loss, got loss {loss}; use val_accuracy")
