"""Weight initializers. ``W`` has shape (fan_out, fan_in); biases start at 0.

=============== ===================================================== ==========================
name            distribution                                          suits
=============== ===================================================== ==========================
normal          N(0, 0.05²)                                           (Keras RandomNormal)
uniform         U(−0.05, 0.05)                                        (Keras RandomUniform)
xavier_uniform  U(−√(6/(fan_in + fan_out)), +√(6/(fan_in + fan_out))) sigmoid, tanh, linear
xavier_normal   N(0, 2/(fan_in + fan_out))                            sigmoid, tanh, linear
he_uniform      U(−√(6/fan_in), +√(6/fan_in))                         relu family
he_normal       N(0, 2/fan_in)                                        relu family
=============== ===================================================== ==========================

Glorot/Xavier keeps the variance of activations and gradients about constant through sigmoid/tanh
layers; He doubles it to make up for ReLU zeroing half its inputs. Poor initialization is one of the
causes of vanishing and exploding gradients (Glorot & Bengio, "Understanding the difficulty of training
deep feedforward neural networks", 2010).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .registry import Registry

Initializer = Callable[[int, int, np.random.Generator], np.ndarray]

INITIALIZERS: Registry[Initializer] = Registry("initializer")
INITIALIZERS.add("normal", lambda fan_in, fan_out, rng: rng.normal(0.0, 0.05, (fan_out, fan_in)))
INITIALIZERS.add("uniform", lambda fan_in, fan_out, rng: rng.uniform(-0.05, 0.05, (fan_out, fan_in)))
INITIALIZERS.add(
    "xavier_uniform",
    lambda fan_in, fan_out, rng: rng.uniform(-1, 1, (fan_out, fan_in)) * np.sqrt(6.0 / (fan_in + fan_out)),
)
INITIALIZERS.add(
    "xavier_normal",
    lambda fan_in, fan_out, rng: rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_out, fan_in)),
)
INITIALIZERS.add(
    "he_uniform", lambda fan_in, fan_out, rng: rng.uniform(-1, 1, (fan_out, fan_in)) * np.sqrt(6.0 / fan_in)
)
INITIALIZERS.add("he_normal", lambda fan_in, fan_out, rng: rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_out, fan_in)))

RELU_FAMILY = {"relu", "leaky_relu", "elu"}


def default_initializer(activation: str) -> str:
    """He for the ReLU family, Glorot/Xavier for everything else (sigmoid, tanh, softplus, linear)."""
    return "he_normal" if activation in RELU_FAMILY else "xavier_uniform"
