"""Weight initializers. ``W`` has shape (fan_out, fan_in); biases start at 0.

Each initializer is an ``Initializer`` record in ``INITIALIZERS``: how it draws W, the distribution it draws
from (``formula``) and the activations it suits — what `gdtrain list initializers` and `explain` show.

Glorot/Xavier keeps the variance of activations and gradients about constant through sigmoid/tanh
layers; He doubles it to make up for ReLU zeroing half its inputs. Poor initialization is one of the
causes of vanishing and exploding gradients (Glorot & Bengio, "Understanding the difficulty of training
deep feedforward neural networks", 2010).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Tuple

import numpy as np

from .registry import Registry


@dataclass(frozen=True)
class Initializer:
    """One initializer: ``draw(fan_in, fan_out, rng)`` gives W, shape (fan_out, fan_in); calling it draws."""

    name: str
    formula: str  # the distribution W is drawn from
    draw: Callable[[int, int, np.random.Generator], np.ndarray]
    suits: str = ""  # the activations it is made for
    origin: str = ""  # where a fixed-scale one comes from (Keras RandomNormal)
    references: Tuple[str, ...] = ()  # keys of ideas.REFERENCES

    def __call__(self, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
        return self.draw(fan_in, fan_out, rng)


INITIALIZERS: Registry[Initializer] = Registry("initializer")
for _init in (
    Initializer("normal", "N(0, 0.05²)", lambda fan_in, fan_out, rng: rng.normal(0.0, 0.05, (fan_out, fan_in)),
                origin="Keras RandomNormal"),
    Initializer("uniform", "U(−0.05, 0.05)",
                lambda fan_in, fan_out, rng: rng.uniform(-0.05, 0.05, (fan_out, fan_in)), origin="Keras RandomUniform"),
    Initializer("xavier_uniform", "U(−√(6/(fan_in + fan_out)), +√(6/(fan_in + fan_out)))",
                lambda fan_in, fan_out, rng: rng.uniform(-1, 1, (fan_out, fan_in)) * np.sqrt(6.0 / (fan_in + fan_out)),
                suits="sigmoid, tanh, linear", references=("glorot",)),
    Initializer("xavier_normal", "N(0, 2/(fan_in + fan_out))",
                lambda fan_in, fan_out, rng: rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_out, fan_in)),
                suits="sigmoid, tanh, linear", references=("glorot",)),
    Initializer("he_uniform", "U(−√(6/fan_in), +√(6/fan_in))",
                lambda fan_in, fan_out, rng: rng.uniform(-1, 1, (fan_out, fan_in)) * np.sqrt(6.0 / fan_in),
                suits="relu family", references=("he_init",)),
    Initializer("he_normal", "N(0, 2/fan_in)",
                lambda fan_in, fan_out, rng: rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_out, fan_in)),
                suits="relu family", references=("he_init",)),
):
    INITIALIZERS.add(_init.name, _init)

RELU_FAMILY = {"relu", "leaky_relu", "elu"}


def default_initializer(activation: str) -> str:
    """He for the ReLU family, Glorot/Xavier for everything else (sigmoid, tanh, softplus, linear)."""
    return "he_normal" if activation in RELU_FAMILY else "xavier_uniform"
