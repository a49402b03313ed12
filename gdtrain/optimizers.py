"""Optimizers: in-place update rules over the flat parameter vector, with explicit, named state.

Every optimizer takes the gradient g = ∇θ(J + λR) (after clipping) and the current learning rate η
(from the schedule), and updates θ in place. Option names and defaults are torch.optim's; the state
is a dict of named arrays so a checkpoint can save it and a resumed run continues exactly.

sgd (torch.optim.SGD)
    g ← g + wd·θ                                    (weight_decay: on every parameter, as torch)
    b ← g                          on the first step (momentum μ > 0)
    b ← μ b + (1 − dampening) g    afterwards
    g ← g + μ b  (nesterov)   or   g ← b
    θ ← θ − η g
  With μ = 0 this is the seeds' plain gradient descent θ := θ − η ∇θJ(θ).
  The seeds' (and Keras') textbook momentum v := βv − η∇J, θ := θ + v is the same trajectory when η is
  constant: v = −η b, because then −η b_t = β(−η b_{t−1}) − η g_t. Under a changing η the two differ.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np

from .errors import ConfigError
from .options import Option, boolean, number, resolve_options
from .registry import Registry


class Optimizer:
    """Base class. Subclasses declare ``OPTIONS`` and implement ``step``; state lives in ``self.state``."""

    OPTIONS: Dict[str, Option] = {}
    formula = ""

    def __init__(self, size: int, dtype=np.float64, **options: Any):
        self.options = dict(options)
        self.size, self.dtype = size, np.dtype(dtype)
        self.state: Dict[str, Any] = {"step": 0}

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        """Update ``params`` in place. ``grad`` may be overwritten (it is recomputed every step)."""
        raise NotImplementedError


class SGD(Optimizer):
    """torch.optim.SGD: plain gradient descent, momentum, Nesterov, dampening, weight decay (see module doc)."""

    OPTIONS = {
        "lr": Option(0.001, number(0, low_open=True), "learning rate η"),
        "momentum": Option(0.0, number(0), "momentum factor μ"),
        "dampening": Option(0.0, number(0, 1), "dampening for momentum"),
        "nesterov": Option(False, boolean, "Nesterov momentum: step along g + μb"),
        "weight_decay": Option(0.0, number(0), "adds wd·θ to the gradient (every parameter)"),
    }
    formula = "b ← μb + (1 − dampening)g (b = g at first);  θ ← θ − η·(g + μb if nesterov else b)"

    def __init__(self, size, dtype=np.float64, **options):
        super().__init__(size, dtype, **options)
        if options.get("momentum"):
            self.state["momentum_buffer"] = np.zeros(size, dtype=self.dtype)

    def step(self, params, grad, lr):
        o = self.options
        if o["weight_decay"]:
            grad += self.dtype.type(o["weight_decay"]) * params
        mu = o["momentum"]
        if mu:
            buf = self.state["momentum_buffer"]
            if self.state["step"] == 0:
                buf[...] = grad
            else:
                buf *= self.dtype.type(mu)
                buf += self.dtype.type(1 - o["dampening"]) * grad
            if o["nesterov"]:
                grad += self.dtype.type(mu) * buf
            else:
                grad = buf
        params -= self.dtype.type(lr) * grad
        self.state["step"] += 1


OPTIMIZERS: Registry[type] = Registry("optimizer")
OPTIMIZERS.add("sgd", SGD)
# Named presets: (optimizer, options that differ from its defaults).
ALIASES: Dict[str, tuple] = {
    "momentum": ("sgd", {"momentum": 0.9}),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
}


def resolve_optimizer(spec: Mapping[str, Any], path: str = "optimizer") -> Dict[str, Any]:
    """``{name, **options}`` with the alias expanded, defaults filled and values checked."""
    spec = dict(spec)
    name = spec.pop("name", "sgd")
    if name in ALIASES:
        name, preset = ALIASES[name]
        spec = {**preset, **spec}
    cls = OPTIMIZERS.get(name, f"{path}.name")
    options = resolve_options(cls.OPTIONS, spec, path, f"optimizer '{name}'")
    if name == "sgd" and options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
        raise ConfigError(f"{path}.nesterov: needs momentum > 0 and dampening 0 (as torch.optim.SGD)")
    return {"name": name, **options}


def make_optimizer(spec: Mapping[str, Any], size: int, dtype) -> Optimizer:
    """An optimizer from a resolved spec (see ``resolve_optimizer``)."""
    options = dict(spec)
    name = options.pop("name")
    options.pop("lr", None)  # the learning rate comes from the schedule at every step
    return OPTIMIZERS.get(name)(size, dtype, **options)
