"""The trained model a run directory holds: model.npz's network (checked by model_file) with its loss, feature
and target names, class labels and the standardization it was trained with, ready to predict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from .. import rundir
from ..data import standardize
from ..errors import DataError
from ..losses import Loss
from ..monitor import logits
from ..network import Network
from ..targets import TargetScaling
from .model_file import check_model

PathLike = Union[str, Path]


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
        with np.errstate(over="ignore", invalid="ignore"):
            return logits(self.net, X_std)

    def labels(self) -> List[str]:
        """The class labels as text (whole-number labels without a decimal point)."""
        return [label_text(c) for c in self.classes] if self.classes is not None else []


def label_text(label) -> str:
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        return str(int(label))
    return str(label)


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


def diverged_notice(run_dir: PathLike) -> Optional[str]:
    """The warning line ``evaluate`` and ``predict`` print first when the run diverged (from its summary.json),
    or None: a healthy run, or a summary that is missing or unreadable (the model alone still works)."""
    try:
        summary = json.loads((Path(run_dir) / rundir.SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("stop_reason") != "diverged":
        return None
    epoch, cause, kept = summary.get("diverged_epoch"), summary.get("diverged_cause"), summary.get("kept_epoch")
    where = f" at epoch {epoch}" if isinstance(epoch, int) else ""
    why = f" ({cause})" if isinstance(cause, str) and cause else ""
    weights = (f"its best weights, from epoch {kept}" if isinstance(kept, int) and kept > 0
               else "the weights it started from")
    return f"warning: this run diverged{where}{why}; model.npz holds {weights}, which are not a trained model's"
