"""The dense layer: forward caches what backward needs, backward fills the gradients.

Forward (batch-first form of the seeds' z(ℓ) = W(ℓ) a(ℓ−1) + b(ℓ), a(ℓ) = φ(z(ℓ))):

    Z = A_prev Wᵀ + b            W: (fan_out, fan_in), A_prev: (n, fan_in), Z: (n, fan_out)
    A = φ(Z) ⊙ M / (1 − p)       M ~ Bernoulli(1 − p): inverted dropout, training only

Backward, given G = ∂L/∂A (for the output layer the loss hands over δ = ∂L/∂Z directly):

    δ = (G ⊙ M / (1 − p)) ⊙ φ'(Z)
    ∂L/∂W = δᵀ A_prev             (the seeds' δ aᵀ, summed over the batch; L is already a mean)
    ∂L/∂b = Σ_rows δ
    ∂L/∂A_prev = δ W             (passed to the layer below: W(ℓ)ᵀ δ(ℓ) in the seeds' notation)
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .activations import Activation


class Dense:
    """A fully-connected layer whose parameters and gradients are views into the network's flat vectors."""

    def __init__(self, W: np.ndarray, b: np.ndarray, gW: np.ndarray, gb: np.ndarray,
                 activation: Activation, dropout: float = 0.0):
        self.W, self.b, self.gW, self.gb = W, b, gW, gb
        self.activation = activation
        self.dropout = float(dropout)
        self._x = self._z = self._a = self._mask = None

    @property
    def fan_in(self) -> int:
        return self.W.shape[1]

    @property
    def fan_out(self) -> int:
        return self.W.shape[0]

    def forward(self, x: np.ndarray, training: bool = False,
                rng: Optional[np.random.Generator] = None) -> np.ndarray:
        z = x @ self.W.T
        z += self.b
        a = self.activation.forward(z)
        self._x, self._z, self._a, self._mask = x, z, a, None
        if training and self.dropout > 0.0:
            keep = 1.0 - self.dropout
            mask = rng.random(a.shape, dtype=a.dtype) < keep
            self._mask = mask * a.dtype.type(1.0 / keep)
            return a * self._mask
        return a

    def backward(self, grad_a: np.ndarray, need_input_grad: bool = True) -> Optional[np.ndarray]:
        if self._mask is not None:
            grad_a = grad_a * self._mask
        delta = self.activation.backward(self._z, self._a, grad_a)
        np.matmul(delta.T, self._x, out=self.gW)
        np.sum(delta, axis=0, out=self.gb)
        return delta @ self.W if need_input_grad else None

    @property
    def pre_activation(self) -> np.ndarray:
        """Z of the last forward pass (used by gradient checking and diagnostics)."""
        return self._z
