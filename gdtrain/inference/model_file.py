"""Every check that a model.npz matches itself, before any of it is used.

rundir.read_model reads the file (its format is rundir's); ``check_model`` builds the network the file describes
(from its ``model`` section, or from ``activations`` and the W shapes of an older file) and holds every array
against it: shapes, dtypes, finite values, one class per output, positive scales. A problem is one DataError
naming the file and the array.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import rundir
from ..activations import ACTIVATIONS
from ..config import model_from_dict
from ..errors import ConfigError, DataError
from ..layers import Dense, build_layers
from ..losses import LOSSES, Loss
from ..network import Network


def plural(n: int, word: str) -> str:
    """'1 entry', '2 entries', '3 weight matrices', '4 outputs': a count and its noun."""
    if n == 1:
        return f"{n} {word}"
    if word.endswith("matrix"):
        return f"{n} {word[:-1]}ces"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


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
        raise _Bad(name, f"has {plural(len(value), 'entry')}, the network needs {length}")
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
        for a in activations:
            try:
                ACTIVATIONS.get(a)
            except ConfigError:
                raise _Bad("activations", f"names an unknown activation {a!r}") from None
        n_dense = sum(1 for name in stored.tensors if name[:1] == "W" and name[1:].isdigit())
        if n_dense != len(activations):
            raise _Bad("activations", f"has {plural(len(activations), 'entry')}, but the file has "
                       f"{plural(n_dense, 'weight matrix')} (W1, W2, ...)")
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
                raise _Bad("target_names", f"has {plural(len(targets), 'entry')}, but the network has "
                           f"{plural(n_out, 'output')} (one per target)")
        else:
            if targets is not None and len(targets) != 1:
                raise _Bad("target_names", f"has {plural(len(targets), 'entry')}; a classification model has one "
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
                    raise _Bad("classes", f"has {plural(len(classes), 'label')}; loss {loss.name} has two "
                               "classes (from one output)")
            elif len(classes) != n_out:
                raise _Bad("classes", f"has {plural(len(classes), 'label')}, but the network has "
                           f"{plural(n_out, 'output')} (one per class)")
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
            raise _Bad(name, f"has shape {_shape(value.shape)}, the network has {plural(n_out, 'output')}")
        if value.dtype.kind not in "fiu" or not np.all(np.isfinite(value)):
            raise _Bad(name, "must hold finite numbers")
    if np.any(arrays["y_scale"] <= 0):
        raise _Bad("y_scale", "has values that are zero or negative (a standard deviation is > 0)")
