"""Named warnings about how training is going, each given once per run, in plain words with the figures.

The practical failure modes of Uma Mahesh's "Backpropagation and Gradient Descent" (§19-§21, §26; see
docs/references.md), checked after every epoch from what the epoch measured (monitor.py):

vanishing_gradients   in a network of at least two hidden layers, a layer's ‖∂J/∂W(l)‖ is below
                      ``vanishing_ratio`` (1e-2) times the last layer's: the signal shrinks on its way back
                      (repeated factors φ'(z) < 1, e.g. deep sigmoid nets). With one hidden layer there is no
                      "way back" to shrink along: ∂J/∂W1 = δ(1) xᵀ is small when the inputs are.
exploding_gradients   the gradient norm grew to more than ``exploding_factor`` (1e3) times its first-epoch value
dead_relus            a ReLU layer where at least ``dead_fraction`` (0.5) of the units were inactive (z ≤ 0) on
                      every sample of the epoch: they get no gradient and stop learning
saturated_units       a sigmoid/tanh layer where at least ``saturated_fraction`` (0.5) of the activations sit in
                      the flat tails (φ'(z) < ``saturation_derivative``, 1e-2)
lr_too_large          the training loss J_t rose ``rising_epochs`` (3) epochs in a row, J_{t-3} < ... < J_t, and
                      ended above ``rising_factor`` (2) times the first epoch's J_1: the steps are undoing what
                      was learned and more. The second condition is what makes it trustworthy: mini-batch
                      noise, dropout, momentum's overshoots and subgradient steps all make the loss rise for a
                      few epochs, but on a healthy run it stays below where it started; a step that is too
                      large (η > 2/L on a quadratic) makes the loss grow geometrically, past J_1 within epochs.

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
    rising_factor: float = 2.0
    # state (saved in checkpoints)
    given: List[str] = field(default_factory=list)  # names of the warnings already given
    first_grad_norm: Optional[float] = None
    rising: List[float] = field(default_factory=list)  # the current run of rising training losses
    first_loss: Optional[float] = None  # J_1, the training loss of the run's first epoch

    STATE = ("given", "first_grad_norm", "rising", "first_loss")

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """(A checkpoint written before ``first_loss`` existed: the first epoch after the resume sets it.)"""
        super().load_state_dict({"first_loss": None, **state})

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
        if len(layers) < 3 or not layers[-1][1] > 0:  # at least two hidden layers (see the module docstring)
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
        if self.first_loss is None:
            self.first_loss = loss
        if self.rising and loss > self.rising[-1]:
            self.rising.append(loss)
        else:
            self.rising = [loss]
        if len(self.rising) > self.rising_epochs and loss > self.rising_factor * self.first_loss:
            path = " → ".join(distinct(self.rising))
            return [("lr_too_large",
                     f"the learning rate may be too large: the training loss rose {len(self.rising) - 1} epochs in a row "
                     f"({path}), to more than {self.rising_factor:g} x the first epoch's {_g(self.first_loss)}. "
                     "Try a lower optimizer.lr, a schedule, or clipping.")]
        return []


def distinct(values: List[float], digits: int = 2, most: int = 12) -> List[str]:
    """``values`` printed with the fewest significant digits (at least ``digits``) at which neighbours differ."""
    for d in range(digits, most + 1):
        out = [f"{v:.{d}g}" for v in values]
        if all(a != b for a, b in zip(out, out[1:])):
            return out
    return [repr(v) for v in values]
