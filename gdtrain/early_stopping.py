"""Early stopping (Keras's EarlyStopping): stop when a monitored metric has stopped improving.

What `gdtrain list early-stopping` and `explain early_stopping` say about it is ``SUMMARY``, ``RULE`` (the rule,
its conventions and where it comes from), ``EQUIVALENT`` and ``REFERENCES`` below, next to ``OPTIONS``.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional

import numpy as np

from .metrics import WATCHABLE, mode_for
from .options import Option, boolean, choice, integer, number, resolve_options
from .state import NamedState

SUMMARY = "Early stopping (Keras's EarlyStopping): stop when a monitored metric has stopped improving."
RULE = """\
After every epoch, with m the monitored value (default val_loss) and best the best value so far:
    improved  ⟺  m < best − min_delta   (mode min)      or   m > best + min_delta   (mode max)
    wait ← 0 on an improvement, else wait ← wait + 1;  stop once wait ≥ patience
``restore_best: true`` leaves the network with the weights of the best epoch. (Keras restores them only
when it stopped early; here they are also restored when the run reaches ``epochs`` first.)
Mode ``auto`` is max for accuracy and r2, min for everything else. Early stopping is a
regularizer that needs no penalty term: it ends training where the validation error bottoms out
(Goodfellow, Bengio & Courville, Deep Learning §7.8; Prechelt, "Early Stopping — But When?")."""
EQUIVALENT = "keras.callbacks.EarlyStopping"
REFERENCES = ("goodfellow", "prechelt")  # keys of ideas.REFERENCES

OPTIONS = {
    "monitor": Option("val_loss", choice(*WATCHABLE, "grad_norm"), "the logged metric to watch"),
    "patience": Option(10, integer(0), "epochs without improvement before stopping"),
    "min_delta": Option(0.0, number(0), "smallest change that counts as an improvement"),
    "mode": Option("auto", choice("auto", "min", "max"), "min: lower is better; auto: max for accuracy and r2"),
    "restore_best": Option(True, boolean, "end with the best epoch's weights"),
}


def resolve_early_stopping(spec: Mapping[str, Any], path: str = "training.early_stopping") -> Dict[str, Any]:
    spec = dict(spec)
    spec.pop("name", None)
    resolved = resolve_options(OPTIONS, spec, path, "early stopping")
    if resolved["mode"] == "auto":
        resolved["mode"] = mode_for(resolved["monitor"])
    return resolved


class EarlyStopping(NamedState):
    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0, mode: str = "min",
                 restore_best: bool = True):
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.restore_best = restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_params: Optional[np.ndarray] = None

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, logged: Mapping[str, float], params: np.ndarray) -> bool:
        """Record the epoch; True when training should stop now."""
        value = logged[self.monitor]
        self.wait += 1
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                if self.best_params is None:
                    self.best_params = params.copy()
                else:
                    self.best_params[...] = params
            return False
        return self.wait >= self.patience

    def message(self) -> str:
        return (f"{self.monitor} did not improve for {self.wait} epochs (patience {self.patience}); "
                f"best {self.best:.4g} at epoch {self.best_epoch}")

    STATE = ("best", "best_epoch", "wait")
