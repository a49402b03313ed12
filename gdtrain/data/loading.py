"""``load_data(config)``: the Dataset a run trains on, from ``config.data``.

The table is read (sources), its targets encoded (classification: class indices 0..K−1 in the sorted order of
the labels, ints or strings; regression: float columns), split (splits.split_indices, stratified for classes),
standardized with the training split's μ, σ and cast to the config's dtype; every step checks what it can get
wrong and says so with the file, the row and the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import ConfigError, DataError
from ..options import describe
from ..registry import shown
from ..targets import TargetScaling
from .builtin import DATASETS
from .sources import check_labels_key, load_table, read_table
from .splits import split_indices, standardize
from .table import Table, first_nonfinite


MANY_CLASSES = 20  # more distinct labels than this and than half the rows: a continuous target, not classes


@dataclass
class Dataset:
    task: str  # "classification" | "regression"
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: Optional[np.ndarray]  # class labels in index order (classification)
    feature_names: List[str]
    target_names: List[str]
    mean: Optional[np.ndarray] = None  # standardization: z = (x − mean) / scale
    scale: Optional[np.ndarray] = None
    source: str = ""
    splits: Dict[str, int] = field(default_factory=dict)
    target_scaling: Optional[TargetScaling] = None  # data.standardize_target: the y_* are (y − μ_y)/σ_y

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return 0 if self.classes is None else len(self.classes)

    @property
    def n_targets(self) -> int:
        return 1 if self.y_train.ndim == 1 else self.y_train.shape[1]


def _label(value) -> str:
    """A class label as a message shows it: 3, not np.int64(3); cat, not np.str_('cat')."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return shown(value)


def _concatenate_labels(table: Table, test_table: Table) -> np.ndarray:
    """Training and test labels in one array (numbers and text alike compared as text when the kinds differ)."""
    a, b = table.y, test_table.y
    if (a.dtype.kind in "US") != (b.dtype.kind in "US"):
        a, b = a.astype(str), b.astype(str)
    return np.concatenate([a, b])


def _check_same_features(test_table: Table, table: Table) -> None:
    """A separate test file must have the training file's features: as many, and (both CSV) the same names in order."""
    n_test, n = test_table.X.shape[1], table.X.shape[1]
    if n_test != n:
        raise DataError(f"{test_table.source}: has {n_test} feature columns, the training data ({table.source}) has "
                        f"{n}; the test file needs the same features")
    if table.named_columns and test_table.named_columns and test_table.feature_names != table.feature_names:
        j = next(j for j, (a, b) in enumerate(zip(test_table.feature_names, table.feature_names)) if a != b)
        raise DataError(f"{test_table.source}: feature column {j + 1} is '{test_table.feature_names[j]}', but "
                        f"'{table.feature_names[j]}' in the training data ({table.source}); the test file needs the "
                        "same features in the same order")


def _check_range(X: np.ndarray, split: str, source: str, names: List[str], standardized: bool) -> None:
    """The network's inputs in float32 must still be finite (float32 ends at ±3.4e38)."""
    bad = first_nonfinite(X)
    if bad is not None:
        limit = f"±{np.finfo(X.dtype).max:.3g}"
        where = f"after standardizing, in the {split} split" if standardized else limit
        fix = "" if standardized else " or data.standardize: true"
        raise DataError(f"{source}: column '{names[bad[1]]}' has values beyond {X.dtype.name}'s range ({where}); use "
                        f"dtype: float64{fix}")


def _check_target_range(y: np.ndarray, dtype, source: str, names: List[str]) -> None:
    """Regression targets (float64) must fit the run's dtype too: beyond float32's ±3.4e38 they would be ±inf."""
    limit = float(np.finfo(dtype).max)
    bad = np.argwhere(np.abs(y) > limit)
    if len(bad):
        i, j = bad[0]
        column = f"target column '{names[j]}'" if j < len(names) else "the target"
        raise DataError(f"{source}: {column} has values beyond {np.dtype(dtype).name}'s range (±{limit:.3g}, e.g. "
                        f"{y[i, j]:.3g}); use dtype: float64 or rescale the target")


def _row(i: int, lines: Optional[np.ndarray]) -> str:
    """How a message names row ``i``: its file line (CSV), else its index."""
    return f"row {lines[i] if lines is not None else i}"


def encode_classes(y: np.ndarray, source: str, lines: Optional[np.ndarray] = None,
                   column: str = "") -> Tuple[np.ndarray, np.ndarray]:
    """(class indices, sorted class labels). Numeric labels must be whole numbers."""
    if y.ndim == 2 and y.shape[1] == 1:  # a column vector (n, 1)
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{source}: classification needs one target column, got {y.shape[1]}")
    where = f", column '{column}'" if column else ""
    if y.dtype.kind in "US":
        try:  # numbers stored as text (CSV): compare them as numbers
            numeric = y.astype(np.float64)
            y = numeric
        except ValueError:
            pass
    if y.dtype.kind == "f":
        y = y.astype(np.float64, copy=False)
        bad = np.flatnonzero(~np.isfinite(y))
        if len(bad):
            raise DataError(f"{source}: {_row(bad[0], lines)}{where}: the target is {y[bad[0]]}; a class label must "
                            "be a whole number or a name")
        if not np.all(y == np.round(y)):
            raise DataError(f"{source}: the target has non-integer values, so it is continuous: use loss mse or mae "
                            "for regression, or give class labels")
        if np.all(np.abs(y) < 2.0 ** 53):  # exactly representable: whole numbers become ints
            y = y.astype(np.int64)
    classes, index = np.unique(y, return_inverse=True)
    if len(classes) > max(MANY_CLASSES, len(y) // 2):
        raise DataError(f"{source}: the target has {len(classes)} distinct values in {len(y)} rows, too many to be "
                        "classes: for a continuous target use loss mse or mae, else check data.target")
    return index.reshape(-1).astype(np.intp), classes


def as_regression_target(y: np.ndarray, source: str, lines: Optional[np.ndarray] = None,
                         columns: Optional[List[str]] = None) -> np.ndarray:
    y2 = y.reshape(len(y), -1)

    def cell(i, j):
        column = f", column '{columns[j]}'" if columns and j < len(columns) else ""
        return f"{_row(i, lines)}{column}"

    try:
        out = y2.astype(np.float64)
    except (ValueError, TypeError):
        for i, j in np.ndindex(*y2.shape):
            try:
                float(y2[i, j])
            except (ValueError, TypeError):
                raise DataError(f"{source}: {cell(i, j)}: the target {describe(str(y2[i, j]), 40)} is not a number; "
                                "a regression loss (mse, mae) needs numbers") from None
        raise DataError(f"{source}: the target must be numeric for a regression loss (mse, mae)") from None
    bad = np.argwhere(~np.isfinite(out))
    if len(bad):
        i, j = bad[0]
        raise DataError(f"{source}: {cell(i, j)}: the target is {out[i, j]} (targets must be finite numbers)")
    return out


def load_data(config, rng: np.random.Generator, task: str) -> Dataset:
    """Load, encode, split and standardize the data named by ``config.data`` for a ``task``."""
    dc = config.data
    if dc.source in DATASETS and dc.target is None and DATASETS.get(dc.source).task != task:
        use = "mse or mae" if task == "classification" else "cross_entropy, bce (two classes) or hinge"
        raise ConfigError(f"loss: {config.loss} is a {task} loss, but {dc.source} is a "
                          f"{DATASETS.get(dc.source).task} dataset; use {use}")
    table = load_table(dc.source, config, rng)
    held_out = dc.validation_split > 0 or (dc.test_split > 0 and not dc.test_source)
    if len(table.X) < 2 and (held_out or len(table.X) == 0):
        raise DataError(f"{table.source}: needs at least 2 samples, got {len(table.X)} (a single sample trains "
                        "alone with data.validation_split: 0 and data.test_split: 0)")
    test_table = None
    if dc.test_source:
        labels = config.resolve_path(dc.test_labels) if dc.test_labels else None
        check_labels_key("data.test_labels", labels, config.resolve_path(dc.test_source))
        test_table = read_table(config.resolve_path(dc.test_source), dc.target, labels, config.dtype)
        _check_same_features(test_table, table)
    classes = None
    if task == "classification":
        if test_table is not None:  # each file's labels checked on their own first, so a message names the file
            encode_classes(test_table.y, test_table.source, test_table.lines, test_table.target_names[0])
        all_y = table.y if test_table is None else _concatenate_labels(table, test_table)
        index, classes = encode_classes(all_y, table.source, table.lines, table.target_names[0])
        if len(classes) < 2:
            raise DataError(f"{table.source}: the target has a single class ({_label(classes[0])}); need at least 2")
        y, y_test_file = index[:len(table.y)], index[len(table.y):]
        unseen = np.setdiff1d(y_test_file, y)
        if len(unseen):
            raise DataError(f"{test_table.source}: has class {_label(classes[unseen[0]])!r} that the training data "
                            f"({table.source}) never shows")
        strata = y
    else:
        y = as_regression_target(table.y, table.source, table.lines, table.target_names)
        y_test_file = None if test_table is None else as_regression_target(
            test_table.y, test_table.source, test_table.lines, test_table.target_names)
        if y_test_file is not None and y_test_file.shape[1] != y.shape[1]:
            raise DataError(f"{test_table.source}: has {y_test_file.shape[1]} target columns, {table.source} has "
                            f"{y.shape[1]}")
        strata = None
    test_frac = 0.0 if test_table is not None else dc.test_split
    if dc.validation_split == 0 and test_frac == 0:  # all of it trains: keep the file's order, copy nothing
        tr, va, te = np.arange(len(y)), np.arange(0), np.arange(0)
    else:
        tr, va, te = split_indices(len(y), strata, dc.validation_split, test_frac, rng)
    if len(tr) == 0:
        raise ConfigError(f"data.validation_split: the splits leave no training data: {len(y)} rows in {table.source}, "
                          f"{len(va)} for validation and {len(te)} for testing (rounded per class); lower the splits")
    X_train = table.X if len(tr) == len(table.X) and np.array_equal(tr, np.arange(len(tr))) else table.X[tr]
    X_val = table.X[va]
    X_test, y_test = (table.X[te], y[te]) if test_table is None else (test_table.X, y_test_file)
    mean = scale = None
    dtype = np.dtype(config.dtype)
    if dc.standardize:
        with np.errstate(over="ignore", invalid="ignore"):
            mean = X_train.mean(axis=0, dtype=np.float64)
            scale = X_train.std(axis=0, dtype=np.float64)
        bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(scale)))
        if len(bad):
            raise DataError(f"{table.source}: column '{table.feature_names[bad[0]]}': values too large to standardize "
                            "(their mean or standard deviation overflows); rescale the column")
        # a constant column (up to rounding, as scikit-learn's StandardScaler judges it) is only centred
        scale[scale < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)] = 1.0
    with np.errstate(over="ignore"):  # beyond float32's range: found just below
        X_train, X_val, X_test = (standardize(X, mean, scale, dtype) for X in (X_train, X_val, X_test))
    if dtype != np.float64:
        test_source = table.source if test_table is None else test_table.source
        for split, X, source in (("training", X_train, table.source), ("validation", X_val, table.source),
                                 ("test", X_test, test_source)):
            _check_range(X, split, source, table.feature_names, dc.standardize)
    if task == "regression" and dtype != np.float64:
        _check_target_range(y, dtype, table.source, table.target_names)
        if y_test_file is not None:
            _check_target_range(y_test_file, dtype, test_table.source, test_table.target_names)
    target_scaling = TargetScaling.fit(y[tr]) if task == "regression" and dc.standardize_target else None
    if task == "classification":
        y_cast = lambda a: a  # noqa: E731
    elif target_scaling is not None:
        y_cast = lambda a: target_scaling.transform(a, dtype)  # noqa: E731
    else:
        y_cast = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return Dataset(task, X_train, y_cast(y[tr]), X_val, y_cast(y[va]), X_test, y_cast(y_test),
                   classes, table.feature_names, table.target_names, mean, scale, table.source,
                   {"train": len(tr), "validation": len(va), "test": len(X_test)}, target_scaling)
