"""Activation functions φ and their derivatives, as used by backpropagation.

Each activation is an ``Activation`` record in ``ACTIVATIONS``: φ, φ', where φ has kinks, and what
`gdtrain list activations` and `explain` say about it (``formula``, and ``context``: the paragraphs below that
bear on it — ``BACKPROP``, how backpropagation uses φ', and ``COMPUTING``, how φ and φ' are computed here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np

from .constant_arrays import filled
from .registry import Registry

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0

# What `gdtrain explain` prints about an activation besides its formula (the records' ``context``):
BACKPROP = """\
Forward:   a = φ(z)
Backward:  δ = ∂L/∂z = ∂L/∂a ⊙ φ'(z)        (equation BP2 of Nielsen, Neural Networks and Deep Learning, ch. 2:
                                              δ(ℓ) = (W(ℓ+1)ᵀ δ(ℓ+1)) ⊙ φ'(z(ℓ)))"""
COMPUTING = """\
Each activation gives ``forward(z)`` and its ``derivative(z, a)``, written in terms of whichever of z or
a makes it cheapest (σ' = a(1 − a), tanh' = 1 − a²); ``backward(z, a, grad_a)`` = grad_a ⊙ φ'(z). Both
take ``out=`` so the training step can work in buffers it reuses. ``kinks`` marks activations
that are not differentiable somewhere (ReLU at 0): gradient checking must not difference across a kink."""


@dataclass(frozen=True)
class Activation:
    """An activation φ: forward, derivative and kinks, and what `gdtrain explain` prints about it."""

    name: str
    formula: str
    forward: Callable[..., np.ndarray]  # forward(z, out=None): φ(z), written into ``out`` when given
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]  # φ'(z), from z or from a = φ(z)
    kinks: Optional[Callable[[np.ndarray], np.ndarray]] = None  # which side of each kink z lies on
    context: Tuple[str, ...] = (BACKPROP,)  # the paragraphs `gdtrain explain` prints after the formula

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.forward(z)

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
        """δ = ∂L/∂a ⊙ φ'(z) (written into ``out`` when given, e.g. grad_a itself)."""
        return np.multiply(grad_a, self.derivative(z, a), out=out)


def sigmoid(z: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(−z)), computed without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.divide(np.where(z >= 0, 1.0, e).astype(z.dtype, copy=False), 1.0 + e, out=out)


def _identity(z, out=None):
    return z


RELU_CACHED_ZEROS = 1 << 20  # larger batches compare with the scalar 0 (no cached vector that long)


def _relu(z, out=None):
    """max(z, 0), against an array of zeros (constant_arrays.filled) where z is contiguous and not huge.

    NumPy compares with a scalar in a loop it does not vectorize: np.maximum(z, 0) took 12.9 µs for
    128 × 256 float32 and np.maximum(z, zeros) 4.2 µs, the same values bit for bit (NaN, ±0 and ±inf
    included; docs/performance.md)."""
    if z.size > RELU_CACHED_ZEROS or not z.flags.c_contiguous:
        return np.maximum(z, 0, out=out)
    return np.maximum(z, filled(0, z.shape, z.dtype), out=out)


def _tanh(z, out=None):
    return np.tanh(z, out=out)


def _positive(z):
    return z > 0


def _leaky(z, out=None):
    return np.where(z > 0, z, z * z.dtype.type(LEAKY_SLOPE))


def _leaky_derivative(z, a):
    return np.where(z > 0, z.dtype.type(1), z.dtype.type(LEAKY_SLOPE))


def _elu(z, out=None):
    return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0)))


def _elu_derivative(z, a):
    return np.where(z > 0, 1, a + ELU_ALPHA).astype(z.dtype, copy=False)


def _softplus(z, out=None):
    return np.logaddexp(z.dtype.type(0), z, out=out)


ACTIVATIONS: Registry[Activation] = Registry("activation")
for _act in (
    Activation("identity", "φ(z) = z;  φ'(z) = 1", _identity, lambda z, a: 1),
    Activation("sigmoid", "σ(z) = 1/(1 + e^−z);  σ'(z) = σ(z)(1 − σ(z))", sigmoid, lambda z, a: a * (1 - a)),
    Activation("tanh", "φ(z) = tanh z;  φ'(z) = 1 − tanh² z", _tanh, lambda z, a: 1 - a * a,
               context=(BACKPROP, COMPUTING)),
    Activation("relu", "φ(z) = max(0, z);  φ'(z) = 1[z > 0]", _relu, lambda z, a: z > 0, _positive,
               context=(BACKPROP, COMPUTING)),
    Activation(
        "leaky_relu",
        f"φ(z) = z if z > 0 else {LEAKY_SLOPE}·z;  φ'(z) = 1 or {LEAKY_SLOPE}",
        _leaky,
        _leaky_derivative,
        _positive,
    ),
    Activation(
        "elu",
        f"φ(z) = z if z > 0 else α(e^z − 1), α = {ELU_ALPHA:g};  φ'(z) = 1 or φ(z) + α",
        _elu,
        _elu_derivative,
    ),
    Activation("softplus", "φ(z) = log(1 + e^z);  φ'(z) = σ(z)", _softplus, lambda z, a: sigmoid(z)),
):
    ACTIVATIONS.add(_act.name, _act)
