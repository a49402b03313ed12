"""Predicting: a table of one row per input row, as ``gdtrain predict`` writes it (CSV).

Prediction outputs. Classification: the predicted label as stored in ``classes`` and, per class,
``prob_<label>``: softmax(z) for cross_entropy; for bce the one logit gives p = σ(z) for the second
class and 1 − p for the first. A hinge model has no probabilities: its columns are the raw class
scores ``score_<label>`` (the prediction is their argmax). Regression: one column per target name.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import List

import numpy as np

from ..targets import original_units
from .inputs import read_rows
from .model import Model, PathLike, load_model


@dataclass
class Predictions:
    """A table of predictions: ``header`` and one list of cells per input row."""

    header: List[str]
    rows: List[List[str]]
    source: str


def _number(value) -> str:
    """The shortest text that reads back as the same float64."""
    return repr(float(value))


def predict_rows(model: Model, X_raw: np.ndarray, source: str = "") -> Predictions:
    """Predictions for raw feature rows (in the model's feature order)."""
    z = model.logits(model.standardize_checked(X_raw, source or "input"))
    if model.task == "regression":
        values = original_units(model.target_scaling, z)  # data.standardize_target: back to the target's units
        return Predictions(list(model.target_names), [[_number(v) for v in row] for row in values], source)
    labels = model.labels()
    pred = model.loss.classes(z)
    columns, values = model.loss.class_columns(z, labels)
    rows = [[labels[k]] + [_number(v) for v in row] for k, row in zip(pred, values)]
    return Predictions(["prediction"] + columns, rows, source)


def predict_file(run_dir: PathLike, path: PathLike) -> Predictions:
    """Predictions of RUN_DIR's model for every row of a .csv / .npz file (any target in it is ignored)."""
    model = load_model(run_dir)
    rows = read_rows(path, model, need_target=False)
    return predict_rows(model, rows.X, rows.source)


def to_csv(predictions: Predictions) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(predictions.header)
    writer.writerows(predictions.rows)
    return buffer.getvalue()
