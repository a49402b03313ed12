"""Activation functions φ and their derivatives, as used by backpropagation.

Forward:   a = φ(z)
Backward:  δ = ∂L/∂z = ∂L/∂a ⊙ φ'(z)        (the seed's δ(ℓ) = (W(ℓ+1)ᵀ δ(ℓ+1)) ⊙ φ'(z(ℓ)))

Each activation gives ``forward(z)`` and ``backward(z, a, grad_a)``; the derivative is written in terms
of whichever of z or a makes it cheapest (σ' = a(1 − a), tanh' = 1 − a²). ``kinks`` marks activations
that are not differentiable somewhere (ReLU at 0): gradient checking must not difference across a kink.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .registry import Registry

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0


@dataclass(frozen=True)
class Activation:
    name: str
    formula: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    kinks: Optional[Callable[[np.ndarray], np.ndarray]] = None  # which side of each kink z lies on

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.forward(z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(−z)), computed without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def _identity_backward(z, a, grad_a):
    return grad_a


def _sigmoid_backward(z, a, grad_a):
    return grad_a * a * (1 - a)


def _tanh_backward(z, a, grad_a):
    return grad_a * (1 - a * a)


def _relu_forward(z):
    return np.maximum(z, 0)


def _relu_backward(z, a, grad_a):
    return grad_a * (z > 0)


def _positive(z):
    return z > 0


def _leaky_forward(z):
    return np.where(z > 0, z, z * z.dtype.type(LEAKY_SLOPE))


def _leaky_backward(z, a, grad_a):
    return grad_a * np.where(z > 0, z.dtype.type(1), z.dtype.type(LEAKY_SLOPE))


def _elu_forward(z):
    return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0)))


def _elu_backward(z, a, grad_a):
    return grad_a * np.where(z > 0, 1, a + ELU_ALPHA).astype(z.dtype, copy=False)


def _softplus_forward(z):
    return np.logaddexp(z.dtype.type(0), z)


def _softplus_backward(z, a, grad_a):
    return grad_a * sigmoid(z)


ACTIVATIONS: Registry[Activation] = Registry("activation")
for _act in (
    Activation("identity", "φ(z) = z;  φ'(z) = 1", lambda z: z, _identity_backward),
    Activation("sigmoid", "σ(z) = 1/(1 + e^−z);  σ'(z) = σ(z)(1 − σ(z))", sigmoid, _sigmoid_backward),
    Activation("tanh", "φ(z) = tanh z;  φ'(z) = 1 − tanh² z", np.tanh, _tanh_backward),
    Activation("relu", "φ(z) = max(0, z);  φ'(z) = 1[z > 0]", _relu_forward, _relu_backward, _positive),
    Activation(
        "leaky_relu",
        f"φ(z) = z if z > 0 else {LEAKY_SLOPE}·z;  φ'(z) = 1 or {LEAKY_SLOPE}",
        _leaky_forward,
        _leaky_backward,
        _positive,
    ),
    Activation(
        "elu",
        f"φ(z) = z if z > 0 else α(e^z − 1), α = {ELU_ALPHA:g};  φ'(z) = 1 or φ(z) + α",
        _elu_forward,
        _elu_backward,
    ),
    Activation("softplus", "φ(z) = log(1 + e^z);  φ'(z) = σ(z)", _softplus_forward, _softplus_backward),
):
    ACTIVATIONS.add(_act.name, _act)
