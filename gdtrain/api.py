"""The Python API for notebooks: ``gdtrain.fit``, ``gdtrain.load``, ``gdtrain.load_config``; ``Run`` and ``Model``.

    import gdtrain
    run = gdtrain.fit("quickstart", epochs=5, out="runs/nb", set={"optimizer.lr": 0.05})
    run.summary["test"]["accuracy"], run.metrics[-1]["val_loss"], run.dir
    run.model.predict(X), run.model.predict_proba(X), run.model.evaluate(X, y)
    run = gdtrain.load("runs/nb")                      # a finished run, from its directory

This is the CLI's ``gdtrain fit`` / ``evaluate`` / ``predict`` without the shell: the same code paths
(config.load_config validates, experiment.fit trains and writes the run directory, inference.load_model
reads model.npz back), so a run started here is the run the CLI would have made, file for file, and a
mistake raises the error the CLI would have printed, as a typed exception (errors.py):

    GdtrainError                 anything the user can fix; ``str(exc)`` is the CLI's one-line message
      ConfigError                a config value or key (``optimizer.lr: must be > 0, got -0.1``)
        RunDirInUse              another run holds the run directory's lock
      DataError                  a data file, a run directory, or arrays given to predict / evaluate
      TrainingFailed             training could not go on

Overrides. ``epochs=`` and ``seed=`` are ``--epochs`` and ``--seed``; ``set=`` is ``--set``: a mapping of
dotted key paths to Python values (``{"optimizer.lr": 0.05, "model.hidden.0.units": 32}``; ``None`` is
YAML's null, e.g. ``{"training.line_search": None}``), or ``--set``-style strings (``"optimizer.lr=0.05"``,
values read as YAML). Overrides are applied to the raw config before it is validated, exactly as on the
command line.

Progress. ``verbose=True`` prints what ``gdtrain fit`` prints (header, epoch lines, named warnings, the
final table; in Jupyter through rich's notebook output); ``verbose=False`` prints nothing. Ctrl-C (the
notebook's interrupt) stops at the end of the current step and keeps everything learned: ``fit`` returns
the run with ``stop_reason == "interrupted"`` (a second Ctrl-C raises KeyboardInterrupt at once). Only
SIGINT is caught; a host process's SIGTERM handling is left alone.
"""

from __future__ import annotations

import copy
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import numpy as np

from . import inference, rundir
from .config import Config, apply_override, from_dict, set_path, to_dict
from .config import load_config as load_config_file
from .data.table import check_finite
from .errors import ConfigError, DataError
from .experiment import fit as run_fit
from .inference.evaluation import Split, evaluate_model
from .inference.inputs import Rows, encode_targets
from .interrupt import GracefulStop
from .plot import read_metrics
from .resources import find_config
from .targets import original_units

PathLike = Union[str, os.PathLike]
ConfigLike = Union[PathLike, Config, Mapping[str, Any]]
Overrides = Union[None, Mapping[str, Any], str, Iterable[str]]


# --- configs ----------------------------------------------------------------------------------------

def _split_overrides(overrides: Overrides) -> "tuple[Dict[str, Any], List[str]]":
    """``set=`` as (values by key path, ``--set`` strings). A null value goes as the string ``key=`` (which
    config.apply_override reads as null), since config.load_config skips None in its overrides mapping."""
    if overrides is None:
        return {}, []
    if isinstance(overrides, str):
        return {}, [overrides]
    if isinstance(overrides, Mapping):
        values, assignments = {}, []
        for key, value in overrides.items():
            if not isinstance(key, str):
                raise ConfigError(f"set: keys are dotted key paths such as 'optimizer.lr', got {key!r}")
            if value is None:
                assignments.append(f"{key}=")
            else:
                values[key] = value
        return values, assignments
    items = list(overrides)
    if not all(isinstance(item, str) for item in items):
        raise ConfigError("set: expected a mapping {'optimizer.lr': 0.05} or strings such as 'optimizer.lr=0.05'")
    return {}, items


def load_config(config: ConfigLike, *, epochs: Optional[int] = None, seed: Optional[int] = None,
                set: Overrides = None) -> Config:
    """A validated, resolved Config (every default filled in), as ``gdtrain validate`` prints it.

    ``config``: the name of a shipped config (``"quickstart"``, found inside the installed package), a
    path to a YAML file, a mapping with the YAML file's content, or a Config (returned as is, or with the
    overrides applied to its resolved values). ``epochs``, ``seed`` and ``set`` as in ``fit``.
    A ConfigError (with the CLI's message) when anything is wrong.
    """
    values, assignments = _split_overrides(set)
    values.update({key: value for key, value in (("training.epochs", epochs), ("seed", seed)) if value is not None})
    if isinstance(config, Config):
        if not values and not assignments:
            return config
        raw, base_dir, name = to_dict(config), config.base_dir, config.name
    elif isinstance(config, Mapping):
        raw, base_dir, name = copy.deepcopy(dict(config)), os.getcwd(), "run"
    elif isinstance(config, (str, os.PathLike)):
        return load_config_file(find_config(os.fspath(config)), overrides=values, assignments=assignments)
    else:
        raise TypeError(f"config: expected a shipped config's name, a path, a mapping or a Config, got "
                        f"{type(config).__name__}")
    for assignment in assignments:
        apply_override(raw, assignment)
    for key_path, value in values.items():
        set_path(raw, key_path, value)
    return from_dict(raw, base_dir=base_dir, name=name)


# --- the model --------------------------------------------------------------------------------------

class Model:
    """A trained network for NumPy arrays, as ``gdtrain predict`` / ``evaluate`` use it (model.npz).

    Inputs are raw feature rows, shape (n_samples, n_features), in ``feature_names`` order (a pandas
    DataFrame is matched by column name); they are standardized with the training split's stored
    z = (x − μ)/σ, as in training. Evaluation mode throughout: no dropout, batch norm's running statistics.

        predict(X)           class labels (as in ``classes``), or values: (n,) for one target, (n, k) for k
        predict_proba(X)     (n, n_classes) probabilities, columns in ``classes`` order: softmax(z) for
                             cross_entropy, [1 − σ(z), σ(z)] for bce; hinge has none (decision_function)
        decision_function(X) the raw outputs z, (n, n_outputs): class scores, or the regression values
        evaluate(X, y)       {"loss", "accuracy"} or {"loss", "mse", "mae", "r2"}, as summary.json
    """

    def __init__(self, model: inference.Model):
        self._model = model

    # what it is
    @property
    def task(self) -> str:
        """'classification' or 'regression'."""
        return self._model.task

    @property
    def classes(self) -> Optional[np.ndarray]:
        """The class labels in output order (classification), else None."""
        return self._model.classes

    @property
    def feature_names(self) -> List[str]:
        return list(self._model.feature_names)

    @property
    def target_names(self) -> List[str]:
        return list(self._model.target_names)

    @property
    def n_features(self) -> int:
        return self._model.n_features

    @property
    def loss(self) -> str:
        return self._model.loss.name

    @property
    def weights(self) -> Dict[str, np.ndarray]:
        """Copies of the tensors by their model.npz names: W1, b1, W2, b2, ... (batch norm's too)."""
        return {name: np.array(value) for name, value in self._model.net.weights().items()}

    @property
    def network(self):
        """The underlying network.Network (forward, backward, layers)."""
        return self._model.net

    def __repr__(self) -> str:
        return (f"Model({self._model.net.describe()}, loss={self.loss}, task={self.task}, "
                f"from {self._model.run_dir / rundir.MODEL})")

    # inputs
    def _features(self, X, what: str = "X") -> np.ndarray:
        """Raw rows as float64 (n, n_features), checked: numeric, finite, the model's number of columns."""
        names = self._model.feature_names
        if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a pandas DataFrame: its columns by name
            columns = [str(c) for c in X.columns]
            missing = [name for name in names if name not in columns]
            if missing:
                raise DataError(f"{what}: missing feature column{'s' if len(missing) > 1 else ''} "
                                f"{', '.join(repr(m) for m in missing)} (the model was trained on "
                                f"{', '.join(names)})")
            X = X[[X.columns[columns.index(name)] for name in names]].to_numpy()
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise DataError(f"{what}: must hold numbers, got dtype {X.dtype}")
        if X.ndim == 1 and self.n_features == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[1] != self.n_features:
            one = "; one sample is X.reshape(1, -1)" if X.ndim == 1 and len(X) == self.n_features else ""
            raise DataError(f"{what}: expected an array of shape (n_samples, {self.n_features}) (features "
                            f"{', '.join(names)}), got shape {X.shape}{one}")
        X = X.astype(np.float64)
        check_finite(X, what, names)
        return self._model.standardize_checked(X, what)

    def _targets(self, y, n: int) -> np.ndarray:
        """True values as the loss takes them: class indices through ``classes``, or float columns."""
        y = np.asarray(y)
        if len(y) != n:
            raise DataError(f"y: {len(y)} values for {n} rows of X")
        return encode_targets(self._model, Rows(np.empty((n, 0)), y, "y"))

    # outputs
    def decision_function(self, X) -> np.ndarray:
        """The network's raw outputs z for the rows of X, shape (n, n_outputs)."""
        return np.asarray(self._model.logits(self._features(X)), dtype=np.float64)

    def predict(self, X) -> np.ndarray:
        """Class labels (classification) or predicted values (regression) for the rows of X."""
        z = self.decision_function(X)
        if self.task == "regression":
            z = original_units(self._model.target_scaling, z)  # data.standardize_target: the target's own units
            return z[:, 0] if z.shape[1] == 1 else z
        return np.asarray(self.classes)[self._model.loss.classes(z)]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), columns in ``classes`` order; each row sums to 1."""
        if self.task != "classification":
            raise DataError(f"predict_proba: a regression model ({self.loss}) gives values, not probabilities; "
                            "use predict")
        if self._model.loss.owns_output == "scores":
            raise DataError(f"predict_proba: a {self.loss} model gives class scores, not probabilities; use "
                            "decision_function (or a cross_entropy model)")
        _, p = self._model.loss.class_columns(self.decision_function(X), self._model.labels())
        return p

    def evaluate(self, X, y) -> Dict[str, float]:
        """Loss and metrics on labelled rows, as ``gdtrain evaluate --data`` and summary.json compute them:
        the data loss (no L2/L1 penalty) and accuracy, or mse, mae and r2."""
        X_std = self._features(X)
        if len(X_std) == 0:
            raise DataError("X: no rows; nothing to evaluate")
        split = Split(X_std, self._targets(y, len(X_std)), "arrays", "X")
        return dict(evaluate_model(self._model, split).metrics)


# --- runs -------------------------------------------------------------------------------------------

@dataclass
class Run:
    """A run directory and what it holds: ``dir``, ``summary`` (summary.json), ``config`` (the resolved
    config.yaml), ``model`` (model.npz as a Model), ``metrics`` (metrics.csv, one dict per epoch)."""

    dir: Path
    summary: Dict[str, Any]
    config: Optional[Config]
    model: Model

    @property
    def metrics(self) -> List[Dict[str, Any]]:
        """metrics.csv, one dict per recorded epoch: epoch (int), train_loss, val_loss, val_<metric>, lr,
        grad_norm, grad_norm_W1, ..., seconds (floats; an empty cell is NaN). Read afresh on each access."""
        rows = read_metrics(self.dir / rundir.METRICS)
        for row in rows:
            row["epoch"] = int(row["epoch"])
        return rows

    def metrics_frame(self):
        """metrics.csv as a pandas DataFrame (needs pandas; ``metrics`` has the same rows as dicts)."""
        try:
            import pandas  # lazy: pandas is optional (only this method uses it)
        except ImportError:
            raise ImportError("Run.metrics_frame() needs pandas (pip install pandas); Run.metrics has the same "
                              "rows as a list of dicts") from None
        rows = self.metrics
        return pandas.DataFrame(rows, columns=list(rows[0]) if rows else None)

    @property
    def stop_reason(self) -> str:
        """completed, early_stopping, converged, diverged, interrupted, ... (summary.json's stop_reason)."""
        return self.summary.get("stop_reason", "")

    @property
    def diverged(self) -> bool:
        return self.stop_reason == "diverged"

    def __repr__(self) -> str:
        s = self.summary
        parts = [f"{s.get('stop_reason', '?')} after {s.get('epochs', '?')} epochs"]
        for split in ("test", "validation"):
            metrics = s.get(split) or {}
            key = "accuracy" if "accuracy" in metrics else "r2" if "r2" in metrics else None
            if key is not None and metrics.get(key) is not None:
                parts.append(f"{split} {key} {metrics[key]:.4g}")
                break
        return f"Run('{self.dir}', {', '.join(parts)})"


def _read_summary(folder: Path) -> Dict[str, Any]:
    path = folder / rundir.SUMMARY
    if not path.is_file():
        raise DataError(f"{folder}: no summary.json (the run has not finished, or this is not a run directory)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(summary, dict):
        raise DataError(f"{path}: not a run summary (expected a JSON object)")
    return summary


def load(run_dir: PathLike) -> Run:
    """The finished (or interrupted) run in ``run_dir``: its summary, config, model and metrics.
    A DataError when the folder is not a run directory or a file in it cannot be used."""
    folder = Path(run_dir)
    model = Model(inference.load_model(folder))  # its checks first: no such folder, no model.npz, ...
    summary = _read_summary(folder)
    config = None
    if (folder / rundir.CONFIG).is_file():
        try:
            config = load_config_file(folder / rundir.CONFIG)
        except ConfigError as exc:
            raise DataError(f"{folder / rundir.CONFIG}: the run's config cannot be read back ({exc})") from None
        config.name = folder.name  # (config.yaml would name it "config")
    return Run(folder, summary, config, model)


# --- training ---------------------------------------------------------------------------------------

def fit(config: ConfigLike, *, out: Optional[PathLike] = None, epochs: Optional[int] = None,
        seed: Optional[int] = None, set: Overrides = None, overwrite: bool = False,
        resume: Optional[PathLike] = None, verbose: bool = True, chart: Optional[bool] = None) -> Run:
    """Train as ``gdtrain fit`` does and return the Run; see the module docstring.

    ``config``: a shipped config's name, a path, a mapping or a Config (as ``load_config``).
    ``out``: the run directory (default: the config's ``output``, else runs/<config name>); a non-empty one
    is refused unless ``overwrite=True``. ``resume``: a run directory to continue from its checkpoint
    (``epochs`` may grow). ``verbose``: print the CLI's progress, or nothing. ``chart``: the loss and
    gradient-norm charts at the end (default: when the output is a terminal).
    """
    if resume is not None and out is not None:
        raise ConfigError("use either resume=RUN_DIR (continue that run) or out=DIR (a new run), not both")
    cfg = load_config(config, epochs=epochs, seed=seed, set=set)
    reporter = None
    if verbose:
        from .render.fit import FitReporter  # lazy: rich costs ~30 ms of the API's import; verbose=False never needs it

        reporter = FitReporter(chart=chart)
    notice = (lambda text: reporter.console.print(text, soft_wrap=True)) if verbose else (lambda text: None)
    with GracefulStop(on_first=lambda: notice("stopping at the end of this step (interrupt again to quit at once)"),
                      signals=(signal.SIGINT,)) as stop:
        try:
            result = run_fit(cfg, out=None if out is None else os.fspath(out), overwrite=overwrite,
                             on_start=reporter.start if reporter else None,
                             on_epoch=reporter.epoch if reporter else None,
                             resume=None if resume is None else os.fspath(resume), stop_requested=stop)
        finally:
            if reporter is not None:
                reporter.stop_progress()
        if reporter is not None:
            reporter.finish(result)
    if result.summary["stop_reason"] == "interrupted":
        notice(f"interrupted: saved what {result.summary['epochs']} epochs learned in {result.run_dir}; continue "
               f"with gdtrain.fit(..., resume={str(result.run_dir)!r})")
    return Run(Path(result.run_dir), result.summary, cfg, Model(inference.load_model(result.run_dir)))
