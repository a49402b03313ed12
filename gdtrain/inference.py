"""Using a trained run: load model.npz, evaluate it on labelled data, predict on new rows.

``gdtrain evaluate`` and ``gdtrain predict`` call this module; a notebook can too:

    model = load_model("runs/iris")
    report = evaluate_run("runs/iris")                  # the run's own test split, rebuilt from config.yaml
    report = evaluate_run("runs/iris", "new.csv")       # any labelled .csv / .npz
    table = predict_file("runs/iris", "new.csv")        # table.header, table.rows; to_csv(table)

Inputs. Features are matched to the model's ``feature_names``: a CSV by column name (any order, extra
columns ignored), an .npz (arrays ``X`` and ``y``) by position. They are standardized with the
z = (x − μ)/σ stored in model.npz (``x_mean``, ``x_scale``: the training split's, never re-fitted) and
cast to the network's dtype. Targets: the CSV column(s) named by the model's ``target_names``, or the
npz's ``y``; class labels map to the stored ``classes`` (a label the model never saw is an error).

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

Prediction outputs. Classification: the predicted label as stored in ``classes`` and, per class,
``prob_<label>``: softmax(z) for cross_entropy; for bce the one logit gives p = σ(z) for the second
class and 1 − p for the first. A hinge model has no probabilities: its columns are the raw class
scores ``score_<label>`` (the prediction is their argmax). Regression: one column per target name.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import rundir
from .config import model_from_dict
from .errors import ConfigError, DataError, GdtrainError
from .layers import build_layers
from .losses import LOSSES, Loss
from .network import Network
from .targets import TargetScaling, original_units

PathLike = Union[str, Path]


# --- the model ------------------------------------------------------------------------------------

@dataclass
class Model:
    """A trained network with what prediction needs: its loss, feature / target names, classes, scaling."""

    net: Network
    loss: Loss
    feature_names: List[str]
    target_names: List[str]
    classes: Optional[np.ndarray]  # class labels in index order (classification)
    x_mean: Optional[np.ndarray]  # standardization z = (x − x_mean) / x_scale; None when the run had none
    x_scale: Optional[np.ndarray]
    run_dir: Path
    target_scaling: Optional[TargetScaling] = None  # data.standardize_target: ŷ = y_mean + y_scale · output

    @property
    def task(self) -> str:
        return self.loss.task

    @property
    def n_features(self) -> int:
        return self.net.n_inputs

    def standardize(self, X: np.ndarray) -> np.ndarray:
        """Raw float64 features → the network's input: (x − x_mean)/x_scale in float64, then its dtype.

        This is the arithmetic data.load_data does, so a run's own rows come out bit for bit the same.
        """
        from .data import standardize

        return standardize(np.asarray(X, dtype=np.float64), self.x_mean, self.x_scale, self.net.dtype)

    def standardize_checked(self, X: np.ndarray, source: str) -> np.ndarray:
        """``standardize``, and a DataError when a value leaves the network's dtype's range (±3.4e38 in float32)
        rather than predictions silently computed from ±inf."""
        with np.errstate(over="ignore"):
            out = self.standardize(X)
        if out.dtype != np.float64 and out.size and not np.all(np.isfinite(out)):
            j = int(np.argwhere(~np.isfinite(out))[0][1])
            name = self.feature_names[j] if j < len(self.feature_names) else f"x{j}"
            raise DataError(f"{source}: column '{name}' has values beyond {out.dtype.name}'s range (after "
                            "standardizing with the model's x_mean and x_scale), the model's dtype")
        return out

    def logits(self, X_std: np.ndarray) -> np.ndarray:
        from .monitor import logits

        with np.errstate(over="ignore", invalid="ignore"):
            return logits(self.net, X_std)

    def labels(self) -> List[str]:
        """The class labels as text (whole-number labels without a decimal point)."""
        return [label_text(c) for c in self.classes] if self.classes is not None else []


def label_text(label) -> str:
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        return str(int(label))
    return str(label)


class _Bad(Exception):
    """One problem of a model.npz: the array it is in and what is wrong (check_model turns it into a DataError)."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"'{name}' {problem}")


def _shape(shape) -> str:
    return str(tuple(int(n) for n in shape))


def _text_array(arrays: Dict[str, np.ndarray], name: str, length: Optional[int], what: str) -> Optional[List[str]]:
    """A 1-D array of text (or numbers) of ``length`` items, as strings; None when absent."""
    if name not in arrays:
        return None
    value = arrays[name]
    if value.ndim != 1:
        raise _Bad(name, f"must be a list of {what}, got an array of shape {_shape(value.shape)}")
    if value.dtype.kind not in "USiu":
        raise _Bad(name, f"must hold {what} as text, got dtype {value.dtype}")
    if length is not None and len(value) != length:
        raise _Bad(name, f"has {_plural(len(value), 'entry')}, the network needs {length}")
    return [str(v) for v in value]


def _check_tensor(name: str, value: np.ndarray, dtype: Optional[np.dtype]) -> None:
    if value.dtype.kind != "f" or value.dtype not in (np.float32, np.float64):
        raise _Bad(name, f"must hold float32 or float64 numbers, got dtype {value.dtype}")
    if dtype is not None and value.dtype != dtype:
        raise _Bad(name, f"has dtype {value.dtype}, but W1 has {dtype} (one model has one dtype)")
    if not np.all(np.isfinite(value)):
        raise _Bad(name, "has NaN or infinite values")


def _layers_of(stored: rundir.ModelFile, n_in: int, n_out_of) -> Tuple[List, Sequence[str]]:
    """The layers (built, not allocated) and the freeze list the file describes; ``n_out_of(n_dense)`` gives the
    output width from the last dense layer's W."""
    arrays = stored.arrays
    if stored.model is None:
        activations = _text_array(arrays, "activations", None, "activation names")
        if not activations:
            raise _Bad("activations", "is empty; a network has at least one layer")
        from .activations import ACTIVATIONS

        for a in activations:
            try:
                ACTIVATIONS.get(a)
            except ConfigError:
                raise _Bad("activations", f"names an unknown activation {a!r}") from None
        from .layers import Dense

        n_dense = sum(1 for name in stored.tensors if name[:1] == "W" and name[1:].isdigit())
        if n_dense != len(activations):
            raise _Bad("activations", f"has {_plural(len(activations), 'entry')}, but the file has "
                       f"{_plural(n_dense, 'weight matrix')} (W1, W2, ...)")
        sizes = [n_in]
        for i in range(1, len(activations) + 1):
            W = stored.tensors.get(f"W{i}")
            if W is None:
                raise _Bad(f"W{i}", f"is missing: 'activations' has {len(activations)} layers")
            if W.ndim != 2:
                raise _Bad(f"W{i}", f"must be 2-D (fan_out, fan_in), got shape {_shape(W.shape)}")
            sizes.append(W.shape[0])
        layers = [Dense(i, a, b, act) for i, (a, b, act) in enumerate(zip(sizes[:-1], sizes[1:], activations), 1)]
        return layers, ()
    if not isinstance(stored.model, dict):
        raise _Bad("model", f"must be the JSON of a model section (a mapping), got {stored.model!r:.60}")
    try:
        model = model_from_dict(stored.model)
        n_dense = build_layers(model.hidden, n_in, 1)[-1].index  # the output layer's: the last dense one
        layers = build_layers(model.hidden, n_in, n_out_of(n_dense), model.output_activation)
    except (ConfigError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _Bad("model", f"is not a valid model section ({exc})") from None
    return layers, model.freeze


def check_model(stored: rundir.ModelFile, path: Path) -> Tuple[Loss, Network]:
    """Every check that model.npz matches itself, then its loss and network (weights set).

    A problem is a DataError naming the file and the array: a 0-d or mis-sized ``activations``,
    ``classes``, ``feature_names`` or ``target_names``; classes that are not one per output (two for bce's one
    output); tensors missing, extra, of the wrong shape, not float32/float64 or not finite; an ``x_scale``
    that is not positive and finite; a ``model`` that is not a valid model section.
    """
    arrays, tensors = stored.arrays, stored.tensors
    try:
        loss_array = arrays["loss"]
        if loss_array.ndim != 0 or loss_array.dtype.kind != "U":
            raise _Bad("loss", f"must be one loss name, got {loss_array!r:.60}")
        try:
            loss = LOSSES.get(str(loss_array))
        except ConfigError as exc:
            raise _Bad("loss", f"is not a loss gdtrain knows ({exc})") from None
        W1 = tensors["W1"]
        if W1.ndim != 2:
            raise _Bad("W1", f"must be 2-D (fan_out, fan_in), got shape {_shape(W1.shape)}")
        _check_tensor("W1", W1, None)
        n_in = W1.shape[1]

        def n_out_of(n_dense: int) -> int:
            W = tensors.get(f"W{n_dense}")
            if W is None or W.ndim != 2:
                raise _Bad(f"W{n_dense}", "is missing or not 2-D: the 'model' array's network has "
                           f"{n_dense} dense layers")
            return W.shape[0]

        layers, freeze = _layers_of(stored, n_in, n_out_of)
        from .layers import Dense

        specs = [spec for layer in layers for inner in layer.walk() for spec in inner.tensors()]
        for spec in specs:
            value = tensors.get(spec.name)
            if value is None:
                raise _Bad(spec.name, "is missing: the network the file describes has it")
            if value.shape != tuple(spec.shape):
                raise _Bad(spec.name, f"has shape {_shape(value.shape)}, the network the file describes needs "
                           f"{_shape(spec.shape)}")
            _check_tensor(spec.name, value, W1.dtype)
            if spec.name.startswith("running_var") and np.any(value < 0):
                raise _Bad(spec.name, "has negative variances")
        extra = sorted(set(tensors) - {spec.name for spec in specs})
        if extra:
            raise _Bad(extra[0], "is not a tensor of the network the file describes")
        dense = [inner for layer in layers for inner in layer.walk() if isinstance(inner, Dense)]
        if stored.model is not None and "activations" in arrays:
            acts = _text_array(arrays, "activations", len(dense), "activation names")
            if acts != [d.activation.name for d in dense]:
                raise _Bad("activations", f"is {acts}, but the 'model' array's dense layers have "
                           f"{[d.activation.name for d in dense]}")
        n_out = layers[-1].width_out
        if stored.model is not None and loss.owns_output and layers[-1] is not dense[-1]:
            raise _Bad("model", f"has an output_activation, but loss {loss.name} owns the output")
        _text_array(arrays, "feature_names", n_in, "feature names")
        targets = _text_array(arrays, "target_names", None, "target names")
        if loss.task == "regression":
            if targets is not None and len(targets) != n_out:
                raise _Bad("target_names", f"has {_plural(len(targets), 'entry')}, but the network has "
                           f"{_plural(n_out, 'output')} (one per target)")
        else:
            if targets is not None and len(targets) != 1:
                raise _Bad("target_names", f"has {_plural(len(targets), 'entry')}; a classification model has one "
                           "target")
            if "classes" not in arrays:
                raise _Bad("classes", "is missing: a classification model needs its class labels")
            classes = arrays["classes"]
            if classes.ndim != 1 or classes.dtype.kind not in "USiuf":
                raise _Bad("classes", f"must be a list of class labels, got an array of shape "
                           f"{_shape(classes.shape)} and dtype {classes.dtype}")
            if classes.dtype.kind == "f" and not np.all(np.isfinite(classes)):
                raise _Bad("classes", "has NaN or infinite labels")
            if loss.single_logit:
                if n_out != 1:
                    raise _Bad("loss", f"is {loss.name} (two classes from one output), but the network has "
                               f"{n_out} outputs")
                if len(classes) != 2:
                    raise _Bad("classes", f"has {_plural(len(classes), 'label')}; loss {loss.name} has two "
                               "classes (from one output)")
            elif len(classes) != n_out:
                raise _Bad("classes", f"has {_plural(len(classes), 'label')}, but the network has "
                           f"{_plural(n_out, 'output')} (one per class)")
            if len(np.unique(classes)) != len(classes):
                raise _Bad("classes", "has duplicate labels")
        if ("x_mean" in arrays) != ("x_scale" in arrays):
            raise _Bad("x_scale" if "x_mean" in arrays else "x_mean", "is missing (x_mean and x_scale go together)")
        for name in ("x_mean", "x_scale"):
            if name in arrays:
                value = arrays[name]
                if value.shape != (n_in,):
                    raise _Bad(name, f"has shape {_shape(value.shape)}, the network takes {n_in} inputs")
                if value.dtype.kind not in "fiu":
                    raise _Bad(name, f"must hold numbers, got dtype {value.dtype}")
                if not np.all(np.isfinite(value)):
                    raise _Bad(name, "has NaN or infinite values")
        if "x_scale" in arrays and np.any(arrays["x_scale"] <= 0):
            raise _Bad("x_scale", "has values that are zero or negative (a standard deviation is > 0)")
        _check_target_scaling(arrays, loss, n_out)
    except _Bad as exc:
        raise DataError(f"{path}: inconsistent model: {exc}") from None
    net = Network(layers, dtype=W1.dtype, freeze=freeze)
    net.set_weights(tensors)
    return loss, net


def _check_target_scaling(arrays: Dict[str, np.ndarray], loss: Loss, n_out: int) -> None:
    """y_mean and y_scale (data.standardize_target): both or neither, a regression model's, one per output."""
    if ("y_mean" in arrays) != ("y_scale" in arrays):
        raise _Bad("y_scale" if "y_mean" in arrays else "y_mean", "is missing (y_mean and y_scale go together)")
    if "y_mean" not in arrays:
        return
    if loss.task != "regression":
        raise _Bad("y_mean", f"scales a regression target, but loss {loss.name} predicts classes")
    for name in ("y_mean", "y_scale"):
        value = arrays[name]
        if value.shape != (n_out,):
            raise _Bad(name, f"has shape {_shape(value.shape)}, the network has {_plural(n_out, 'output')}")
        if value.dtype.kind not in "fiu" or not np.all(np.isfinite(value)):
            raise _Bad(name, "must hold finite numbers")
    if np.any(arrays["y_scale"] <= 0):
        raise _Bad("y_scale", "has values that are zero or negative (a standard deviation is > 0)")


def load_model(run_dir: PathLike) -> Model:
    """The model a run directory holds (RUN_DIR/model.npz); a DataError says what is missing or inconsistent."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise DataError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: not a run directory (expected a folder holding model.npz)")
    path = run_dir / rundir.MODEL
    if not path.exists():
        raise DataError(f"{run_dir}: no model.npz (the run has not finished, or this is not a run directory)")
    stored = rundir.read_model(path)
    loss, net = check_model(stored, path)
    arrays = stored.arrays
    n_in = net.n_inputs
    feature_names = [str(s) for s in arrays.get("feature_names", [f"x{j}" for j in range(n_in)])]
    target_names = [str(s) for s in arrays.get("target_names", ["y"] if loss.task == "classification" else
                                               ["y"] if net.n_outputs == 1 else
                                               [f"y{j}" for j in range(net.n_outputs)])]
    classes = arrays.get("classes") if loss.task == "classification" else None
    x_mean, x_scale = arrays.get("x_mean"), arrays.get("x_scale")
    if x_mean is not None:
        x_mean, x_scale = x_mean.astype(np.float64), x_scale.astype(np.float64)
    target = (TargetScaling(arrays["y_mean"].astype(np.float64), arrays["y_scale"].astype(np.float64))
              if "y_mean" in arrays else None)
    return Model(net, loss, feature_names, target_names, classes, x_mean, x_scale, run_dir, target)


# --- reading inputs -------------------------------------------------------------------------------

@dataclass
class Rows:
    """Rows read from a file, features in the model's order (raw, float64), targets when the file has them."""

    X: np.ndarray
    y: Optional[np.ndarray]  # raw targets: labels (n,) or floats (n, k); None when the file has none
    source: str
    target_columns: List[str] = field(default_factory=list)  # where the targets came from (for messages)


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    if word.endswith("matrix"):
        return f"{n} {word[:-1]}ces"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def read_csv_rows(path: Path, model: Model) -> Rows:
    """A CSV with a header: the model's feature columns by name (any order), its target columns if present."""
    from .data import _to_float, read_csv_cells

    header, cells, lines = read_csv_cells(path)
    missing = [name for name in model.feature_names if name not in header]
    if missing:
        raise DataError(f"{path}: missing feature {'column' if len(missing) == 1 else 'columns'} {_names(missing)} "
                        f"(the model was trained on {', '.join(model.feature_names)})")
    f_idx = [header.index(name) for name in model.feature_names]
    X = _to_float(np.char.strip(cells[:, f_idx]), path, model.feature_names, lines)
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
    from .data import _check_finite, _read_bytes, not_npy_member, read_npz

    source = io.BytesIO(_read_bytes(path))  # read (and decompressed) once, for the listing and for X
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
        _check_finite(X, path, model.feature_names if X.shape[1] == model.n_features else
                      [f"x{j}" for j in range(X.shape[1])])
        y = None
    if X.shape[1] != model.n_features:
        raise DataError(f"{path}: X has {_plural(X.shape[1], 'feature')}, the model takes {model.n_features} "
                        f"({', '.join(model.feature_names)}, in this order)")
    return Rows(X, y, str(path), ["y"] if y is not None else [])


def read_idx_rows(path: Path, model: Model, need_target: bool) -> Rows:
    """MNIST IDX images (pixels scaled to [0, 1] as in training); labels from the matching labels file."""
    from .data import read_idx, read_idx_pair

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
    from .data import is_idx

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
            raise DataError(f"{rows.source}: {_plural(y.shape[1], 'target column')}, the model predicts "
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


# --- the run's own splits -------------------------------------------------------------------------

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
    from .config import load_config
    from .data import load_data
    from .experiment import seed_streams

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


# --- evaluation -----------------------------------------------------------------------------------

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
    from .monitor import evaluate

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


# --- prediction -----------------------------------------------------------------------------------

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
