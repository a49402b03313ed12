"""Scoring a model on labelled rows: the run's own test split rebuilt from config.yaml, or a file.

Evaluation (evaluation mode, no dropout; the data loss without the L2/L1 penalty, as summary.json):
  classification  loss, accuracy = mean(ŷ = y), and for each class k
                    precision_k = TP/(TP + FP)      (of the rows predicted k, the share that are k)
                    recall_k    = TP/(TP + FN)      (of the rows that are k, the share predicted k)
                    F1_k        = 2 P R / (P + R)   (harmonic mean)
                    support_k   = #(y = k)
                  a ratio whose denominator is 0 is reported as 0 (scikit-learn's zero_division=0);
                  macro average = plain mean over classes, weighted average = weighted by support;
                  confusion matrix C[i, j] = #(y = i and ŷ = j): rows the true class, columns the prediction
  regression      loss, mse = mean((ŷ − y)²), mae = mean|ŷ − y|, r2 = 1 − Σ(y − ŷ)²/Σ(y − ȳ)²
                  (monitor.regression_metrics; r2 averaged over target columns). A model trained with
                  data.standardize_target (``y_mean``, ``y_scale`` in model.npz) has its loss in standard units
                  and ŷ = y_mean + y_scale · output for mse, mae, r2 and the predictions (targets.py)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import rundir
from ..config import load_config
from ..data import load_data
from ..errors import DataError, GdtrainError
from ..experiment import seed_streams
from ..monitor import evaluate
from .inputs import encode_targets, network_targets, read_rows
from .model import Model, PathLike, load_model


@dataclass
class Split:
    """Standardized inputs and encoded targets ready for the network, and what they are."""

    X: np.ndarray
    y: np.ndarray
    name: str  # "test" | "validation" | "training" | "file"
    source: str
    notes: List[str] = field(default_factory=list)


def run_split(model: Model) -> Split:
    """The run's test split (else validation, else training), rebuilt exactly from RUN_DIR/config.yaml.

    The same config and seed give the same split (data.load_data with the "data" stream of
    experiment.seed_streams). The rows are loaded raw and standardized with model.npz's stored
    x_mean / x_scale — the same float64 arithmetic as training — then cast to the run's dtype.
    """
    config_path = model.run_dir / rundir.CONFIG
    if not config_path.exists():
        raise DataError(f"{model.run_dir}: no config.yaml to rebuild the run's test split from; "
                        "pass --data FILE")
    config = load_config(config_path)
    raw_config = dataclasses.replace(config, dtype="float64", data=dataclasses.replace(
        config.data, standardize=False, standardize_target=False))  # both applied below with the stored values
    try:
        data = load_data(raw_config, seed_streams(config.seed)["data"], model.task)
    except GdtrainError as exc:
        raise DataError(f"{config_path}: cannot rebuild the run's data ({exc}); pass --data FILE") from None
    if data.n_features != model.n_features or (
            model.classes is not None and not np.array_equal(data.classes, model.classes)):
        raise DataError(f"{config_path}: the data it names no longer match model.npz (features or classes "
                        "differ); pass --data FILE")
    if model.x_mean is not None and not np.allclose(data.X_train.mean(axis=0), model.x_mean, rtol=1e-12, atol=0):
        raise DataError(f"{config_path}: the data it names differ from the run's training data (the training "
                        "split's mean is not model.npz's x_mean), so the rebuilt test split would not be the "
                        "run's; pass --data FILE")
    notes = []
    if data.splits["test"]:
        name, X, y = "test", data.X_test, data.y_test
        source = f"{config.data.test_source} (data.test_source)" if config.data.test_source else data.source
    else:
        name, X, y = ("validation", data.X_val, data.y_val) if data.splits["validation"] else \
            ("training", data.X_train, data.y_train)
        source = data.source
        notes.append(f"the run has no test split (data.test_split is 0 and no data.test_source): "
                     f"evaluating on the {name} split")
    if model.task == "regression":
        y = network_targets(model, y)
    return Split(model.standardize(X), y, name, source, notes)


def file_split(model: Model, path: PathLike) -> Split:
    """Labelled rows from a file, matched, standardized and encoded for ``model``."""
    rows = read_rows(path, model, need_target=True)
    return Split(model.standardize_checked(rows.X, rows.source), encode_targets(model, rows), "file", rows.source)


def confusion_matrix(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """C[i, j] = the number of rows of true class i predicted as class j."""
    return np.bincount(np.asarray(y) * n_classes + np.asarray(pred), minlength=n_classes * n_classes).reshape(
        n_classes, n_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


@dataclass
class ClassScores:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


def class_scores(confusion: np.ndarray, labels: Sequence[str]) -> Tuple[List[ClassScores], Dict[str, ClassScores]]:
    """Per-class precision, recall, F1 and support from a confusion matrix, and the macro / weighted averages."""
    tp = np.diag(confusion).astype(np.float64)
    predicted, support = confusion.sum(axis=0), confusion.sum(axis=1)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    per_class = [ClassScores(label, float(p), float(r), float(f), int(s))
                 for label, p, r, f, s in zip(labels, precision, recall, f1, support)]
    total = int(support.sum())
    weights = support / total if total else np.zeros_like(precision)
    averages = {
        "macro avg": ClassScores("macro avg", float(precision.mean()), float(recall.mean()), float(f1.mean()), total),
        "weighted avg": ClassScores("weighted avg", float(weights @ precision), float(weights @ recall),
                                    float(weights @ f1), total),
    }
    return per_class, averages


@dataclass
class Evaluation:
    """What ``gdtrain evaluate`` shows."""

    task: str
    split: str  # "test" | "validation" | "training" | "file"
    source: str
    rows: int
    metrics: Dict[str, float]  # loss, accuracy | loss, mse, mae, r2 (as summary.json)
    labels: List[str] = field(default_factory=list)
    per_class: List[ClassScores] = field(default_factory=list)
    averages: Dict[str, ClassScores] = field(default_factory=dict)
    confusion: Optional[np.ndarray] = None
    notes: List[str] = field(default_factory=list)


def evaluate_model(model: Model, split: Split) -> Evaluation:
    """Loss and metrics of ``model`` on ``split`` (monitor.evaluate, so the numbers match summary.json)."""
    with np.errstate(over="ignore", invalid="ignore"):
        metrics = evaluate(model.net, model.loss, split.X, split.y, model.target_scaling)
    out = Evaluation(model.task, split.name, split.source, len(split.X), metrics, notes=list(split.notes))
    if model.task == "classification":
        pred = model.loss.classes(model.logits(split.X))
        out.labels = model.labels()
        out.confusion = confusion_matrix(split.y, pred, len(out.labels))
        out.per_class, out.averages = class_scores(out.confusion, out.labels)
    return out


def evaluate_run(run_dir: PathLike, data: Optional[PathLike] = None) -> Evaluation:
    """Evaluate RUN_DIR's model on its own test split, or on the labelled file ``data``."""
    model = load_model(run_dir)
    split = run_split(model) if data is None else file_split(model, data)
    if len(split.X) == 0:
        raise DataError(f"{split.source}: the {split.name} split is empty; nothing to evaluate")
    return evaluate_model(model, split)
