"""Named warnings about how training is going, each given once per run, in plain words with the figures.

The practical failure modes of Uma Mahesh's "Backpropagation and Gradient Descent" (§19-§21, §26; see
docs/references.md), checked after every epoch from what the epoch measured (monitor.py):

vanishing_gradients   a layer's ‖∂J/∂W(l)‖ is below ``vanishing_ratio`` (1e-2) times the last layer's: the
                      signal shrinks on its way back (repeated factors φ'(z) < 1, e.g. deep sigmoid nets)
exploding_gradients   the gradient norm grew to more than ``exploding_factor`` (1e3) times its first-epoch value
dead_relus            a ReLU layer where at least ``dead_fraction`` (0.5) of the units were inactive (z ≤ 0) on
                      every sample of the epoch: they get no gradient and stop learning
saturated_units       a sigmoid/tanh layer where at least ``saturated_fraction`` (0.5) of the activations sit in
                      the flat tails (φ'(z) < ``saturation_derivative``, 1e-2)
lr_too_large          the training loss rose ``rising_epochs`` (3) epochs in a row

``monitor: {warnings: false}`` silences them (the measurements still go to metrics.csv).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from .state import NamedState

WARNINGS = ("vanishing_gradients", "exploding_gradients", "dead_relus", "saturated_units", "lr_too_large")


@dataclass
class TrainingWarning:
    name: str
    epoch: int
    message: str

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "epoch": self.epoch, "message": self.message}


def _g(value: float) -> str:
    return f"{value:.2g}"


@dataclass
class Diagnostics(NamedState):
    """The thresholds (the config's ``monitor`` section) and what has been seen so far in the run."""

    warnings: bool = True
    vanishing_ratio: float = 1e-2
    exploding_factor: float = 1e3
    dead_fraction: float = 0.5
    saturated_fraction: float = 0.5
    saturation_derivative: float = 1e-2
    rising_epochs: int = 3
    # state (saved in checkpoints)
    given: List[str] = field(default_factory=list)  # names of the warnings already given
    first_grad_norm: Optional[float] = None
    rising: List[float] = field(default_factory=list)  # the current run of rising training losses

    STATE = ("given", "first_grad_norm", "rising")

    def examine(self, epoch: int, train_loss: float, grad_norms: Mapping[str, float],
                layer_stats: Mapping[str, float], activations: List[str]) -> List[TrainingWarning]:
        """The warnings this epoch raises (each name at most once per run)."""
        found = self._vanishing(grad_norms) + self._exploding(grad_norms) + self._units(layer_stats, activations)
        found += self._rising(train_loss)
        out = []
        for name, message in found:
            if self.warnings and name not in self.given:
                self.given.append(name)
                out.append(TrainingWarning(name, epoch, message))
        return out

    def _vanishing(self, norms):
        layers = [(k.removeprefix("grad_norm_"), v) for k, v in norms.items() if k.startswith("grad_norm_W")]
        if len(layers) < 2 or not layers[-1][1] > 0:
            return []
        last_name, last = layers[-1]
        small = [(name, v) for name, v in layers[:-1] if v < self.vanishing_ratio * last]
        if not small:
            return []
        listed = ", ".join(f"{name} {_g(v)}" for name, v in small)
        return [("vanishing_gradients",
                 f"vanishing gradients: the gradient norms of {', '.join(n for n, _ in small)} are below "
                 f"{self.vanishing_ratio:g} x the last layer's ({listed}; {last_name} {_g(last)}), so the first "
                 "layers barely learn. Try relu with he_normal init, fewer layers, or a larger lr for the early layers "
                 "(e.g. adam).")]

    def _exploding(self, norms):
        norm = norms["grad_norm"]
        if self.first_grad_norm is None:
            self.first_grad_norm = norm
            return []
        if self.first_grad_norm > 0 and norm > self.exploding_factor * self.first_grad_norm:
            return [("exploding_gradients",
                     f"exploding gradients: the gradient norm grew from {_g(self.first_grad_norm)} to {_g(norm)} "
                     f"(more than {self.exploding_factor:g} x). Try gradient clipping (clip.norm: 1.0) or a lower lr.")]
        return []

    def _units(self, stats, activations):
        out = []
        for key, value in stats.items():
            if key.startswith("dead_fraction_") and value >= self.dead_fraction:
                layer = int(key.rsplit("_", 1)[1])
                out.append(("dead_relus",
                            f"dead ReLUs: {value:.0%} of the units of hidden layer {layer} were inactive on every sample "
                            "of the epoch, so they get no gradient and stop learning. Try a lower lr, he_normal init, "
                            "or leaky_relu / elu."))
            elif key.startswith("saturated_fraction_") and value >= self.saturated_fraction:
                layer = int(key.rsplit("_", 1)[1])
                out.append(("saturated_units",
                            f"saturated units: {value:.0%} of the activations of hidden layer {layer} "
                            f"({activations[layer - 1]}) are in its flat tails (derivative < "
                            f"{self.saturation_derivative:g}), where gradients vanish. Try standardized inputs, "
                            "xavier init, a lower lr, or relu."))
        return out

    def _rising(self, loss):
        if self.rising and loss > self.rising[-1]:
            self.rising.append(loss)
        else:
            self.rising = [loss]
        if len(self.rising) > self.rising_epochs:
            path = " → ".join(_g(v) for v in self.rising)
            return [("lr_too_large",
                     f"the learning rate may be too large: the training loss rose {len(self.rising) - 1} epochs in a row "
                     f"({path}). Try a lower optimizer.lr, a schedule, or clipping.")]
        return []
