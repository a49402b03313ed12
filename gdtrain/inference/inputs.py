"""Reading a .csv / .npz / MNIST IDX file for a model, and its targets as the loss takes them.

Inputs. Features are matched to the model's ``feature_names``: a CSV by column name (any order, extra
columns ignored), an .npz (arrays ``X`` and ``y``) by position. They are standardized with the
z = (x − μ)/σ stored in model.npz (``x_mean``, ``x_scale``: the training split's, never re-fitted) and
cast to the network's dtype. Targets: the CSV column(s) named by the model's ``target_names``, or the
npz's ``y``; class labels map to the stored ``classes`` (a label the model never saw is an error).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from .. import rundir
from ..data.csv_files import read_csv_cells, to_float
from ..data.idx_files import is_idx, read_idx, read_idx_pair
from ..data.npz_files import not_npy_member, read_npz
from ..data.table import check_finite, read_bytes
from ..errors import DataError
from .model import Model, PathLike, label_text
from .model_file import plural


@dataclass
class Rows:
    """Rows read from a file, features in the model's order (raw, float64), targets when the file has them."""

    X: np.ndarray
    y: Optional[np.ndarray]  # raw targets: labels (n,) or floats (n, k); None when the file has none
    source: str
    target_columns: List[str] = field(default_factory=list)  # where the targets came from (for messages)


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def read_csv_rows(path: Path, model: Model) -> Rows:
    """A CSV with a header: the model's feature columns by name (any order), its target columns if present."""
    header, cells, lines = read_csv_cells(path)
    missing = [name for name in model.feature_names if name not in header]
    if missing:
        raise DataError(f"{path}: missing feature {'column' if len(missing) == 1 else 'columns'} {_names(missing)} "
                        f"(the model was trained on {', '.join(model.feature_names)})")
    f_idx = [header.index(name) for name in model.feature_names]
    X = to_float(np.char.strip(cells[:, f_idx]), path, model.feature_names, lines)
    present = [name for name in model.target_names if name in header]
    y = None
    if present:
        if len(present) < len(model.target_names):
            absent = [n for n in model.target_names if n not in header]
            raise DataError(f"{path}: has target {_names(present)} but not {_names(absent)}; give all of the "
                            "model's target columns or none")
        y_cells = np.char.strip(cells[:, [header.index(name) for name in present]])
        y = y_cells[:, 0] if len(present) == 1 else y_cells
    return Rows(X, y, str(path), present)


def read_npz_rows(path: Path, model: Model, need_target: bool) -> Rows:
    """An .npz archive: ``X`` (n, d) with the model's d features in order; ``y`` when present (or needed)."""
    source = io.BytesIO(read_bytes(path))  # read (and decompressed) once, for the listing and for X
    try:
        with np.load(source, allow_pickle=False) as archive:
            files = list(archive.files)
    except Exception as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc.__class__.__name__}: {exc})") from None
    if "y" in files or need_target:
        table = read_npz(path)  # its checks: X and y present, shapes agree, X numeric and finite
        X, y = table.X, table.y
    else:
        if "X" not in files:
            raise DataError(f"{path}: no array 'X' (found: {', '.join(files) or 'none'}); expected X (samples x "
                            "features)")
        try:
            source.seek(0)
            with np.load(source, allow_pickle=False) as archive:
                X = archive["X"]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:  # an object array, or a damaged member
            raise DataError(f"{path}: cannot read X ({exc})") from None
        not_npy_member(X, path, "X")
        X = X[:, None] if X.ndim == 1 else X
        if X.ndim != 2 or len(X) == 0:
            raise DataError(f"{path}: X must be 2-D (samples x features) with at least one row, got shape {X.shape}")
        if X.dtype.kind not in "biuf":  # not complex either: its imaginary part would be dropped silently
            raise DataError(f"{path}: X must be numeric, got dtype {X.dtype}")
        X = X.astype(np.float64)
        check_finite(X, path, model.feature_names if X.shape[1] == model.n_features else
                      [f"x{j}" for j in range(X.shape[1])])
        y = None
    if X.shape[1] != model.n_features:
        raise DataError(f"{path}: X has {plural(X.shape[1], 'feature')}, the model takes {model.n_features} "
                        f"({', '.join(model.feature_names)}, in this order)")
    return Rows(X, y, str(path), ["y"] if y is not None else [])


def read_idx_rows(path: Path, model: Model, need_target: bool) -> Rows:
    """MNIST IDX images (pixels scaled to [0, 1] as in training); labels from the matching labels file."""
    if need_target:
        table = read_idx_pair(path, None)
        X, y = table.X, table.y
    else:
        images = read_idx(path)
        X = images.reshape(len(images), -1).astype(np.float64)
        if images.dtype == np.uint8:
            X /= 255.0
        y = None
    if X.shape[1] != model.n_features:
        raise DataError(f"{path}: images of {X.shape[1]} pixels, the model takes {model.n_features} inputs")
    return Rows(X, y, str(path), ["labels"] if y is not None else [])


def read_rows(path: PathLike, model: Model, need_target: bool) -> Rows:
    """Read a .csv[.gz] / .npz / MNIST IDX file for ``model``; with ``need_target``, its targets are required."""
    path = Path(path)
    name = path.name.lower()
    if not path.exists():
        raise DataError(f"{path}: no such file")
    rundir.refuse_special_file(path)
    if name.endswith((".csv", ".csv.gz")):
        rows = read_csv_rows(path, model)
    elif name.endswith((".npz", ".npz.gz")):
        rows = read_npz_rows(path, model, need_target)
    elif is_idx(path):
        rows = read_idx_rows(path, model, need_target)
    else:
        raise DataError(f"{path}: unknown file type '{path.suffix}'; expected .csv (with a header) or .npz (X, y)")
    if need_target and rows.y is None:
        raise DataError(f"{path}: no target {'column' if len(model.target_names) == 1 else 'columns'} "
                        f"{_names(model.target_names)}; evaluating needs the true values "
                        "(to predict without them, use gdtrain predict)")
    return rows


def encode_targets(model: Model, rows: Rows) -> np.ndarray:
    """Raw targets → what the loss takes: class indices through the stored classes, or float columns."""
    y = rows.y
    where = f"{rows.source}: column '{rows.target_columns[0]}'" if rows.target_columns else rows.source
    if model.task == "regression":
        try:
            y = np.asarray(y).astype(np.float64)
        except ValueError:
            raise DataError(f"{where}: the target must be numeric for a regression model") from None
        y = y.reshape(len(y), -1)
        if y.shape[1] != len(model.target_names):
            raise DataError(f"{rows.source}: {plural(y.shape[1], 'target column')}, the model predicts "
                            f"{len(model.target_names)} ({', '.join(model.target_names)})")
        if not np.all(np.isfinite(y)):
            raise DataError(f"{where}: the target has NaN or infinite values")
        limit = float(np.finfo(model.net.dtype).max)
        if np.any(np.abs(y) > limit):
            raise DataError(f"{where}: the target has values beyond {model.net.dtype.name}'s range (±{limit:.3g}), "
                            "the model's dtype")
        return network_targets(model, y)
    if y.ndim != 1:
        raise DataError(f"{rows.source}: a classification model needs one target column, got {y.shape[1]}")
    return map_labels(y, model.classes, where)


def network_targets(model: Model, y: np.ndarray) -> np.ndarray:
    """Regression targets in the units the network learned them: (y − y_mean)/y_scale with data.standardize_target
    (the stored scaling, never re-fitted), else as they are; the network's dtype."""
    if model.target_scaling is not None:
        return model.target_scaling.transform(y, model.net.dtype)
    return np.ascontiguousarray(y, dtype=model.net.dtype)


def map_labels(y: np.ndarray, classes: np.ndarray, where: str) -> np.ndarray:
    """Class indices of labels ``y`` in ``classes`` (numbers compared as numbers: '2', 2 and 2.0 agree)."""
    if classes.dtype.kind in "iuf":
        try:
            values = np.asarray(y).astype(np.float64)
        except ValueError:
            bad = next(v for v in np.asarray(y).ravel() if not _is_number(v))
            raise DataError(f"{where}: label {label_text(bad)!r} is not a class the model knows "
                            f"(classes: {', '.join(label_text(c) for c in classes)})") from None
        known = classes.astype(np.float64)
    else:
        values = np.char.strip(np.asarray(y).astype(str))
        known = classes.astype(str)
    order = np.argsort(known, kind="stable")
    pos = np.clip(np.searchsorted(known, values, sorter=order), 0, len(known) - 1)
    index = order[pos]
    unknown = known[index] != values
    if unknown.any():
        bad = np.unique(values[unknown])
        shown = ", ".join(repr(label_text(b)) for b in bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise DataError(f"{where}: {'label' if len(bad) == 1 else 'labels'} {shown} "
                        f"{'is not a class' if len(bad) == 1 else 'are not classes'} the model was trained on "
                        f"(classes: {', '.join(label_text(c) for c in classes)})")
    return index.astype(np.intp)


def _is_number(value) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False
