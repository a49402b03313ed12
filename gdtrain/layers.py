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
    """A fully-connected layer whose parameters and gradients are views into the network's flat vectors.

    With ``reuse=True`` (the training step, ``Network.loss_and_grad``) forward and backward write into
    buffers the layer keeps, sized for the largest batch seen, instead of allocating new arrays every step;
    what they return is then only valid until the layer's next such call.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, gW: np.ndarray, gb: np.ndarray,
                 activation: Activation, dropout: float = 0.0):
        self.W, self.b, self.gW, self.gb = W, b, gW, gb
        self.activation = activation
        self.dropout = float(dropout)
        self._x = self._z = self._a = self._mask = None
        self._buffers = {}

    @property
    def fan_in(self) -> int:
        return self.W.shape[1]

    @property
    def fan_out(self) -> int:
        return self.W.shape[0]

    def buffer(self, name: str, rows: int, width: int, dtype=None) -> np.ndarray:
        """A reusable (rows, width) array of the layer's dtype, or ``dtype`` (grown when a larger batch comes)."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape[0] < rows or buf.shape[1] != width:
            buf = self._buffers[name] = np.empty((rows, width), dtype=dtype or self.W.dtype)
        return buf[:rows]

    def forward(self, x: np.ndarray, training: bool = False,
                rng: Optional[np.random.Generator] = None, reuse: bool = False) -> np.ndarray:
        n = x.shape[0]
        if reuse:
            z = np.matmul(x, self.W.T, out=self.buffer("z", n, self.fan_out))
            z += self.b
            a = self.activation.forward(z, out=self.buffer("a", n, self.fan_out))
        else:
            z = x @ self.W.T
            z += self.b
            a = self.activation.forward(z)
        self._x, self._z, self._a, self._mask = x, z, a, None
        if training and self.dropout > 0.0:
            keep = 1.0 - self.dropout
            scale = a.dtype.type(1.0 / keep)
            if reuse:  # the same draws as below, into the layer's buffers
                u = rng.random(dtype=a.dtype, out=self.buffer("mask", n, self.fan_out))
                kept = np.less(u, keep, out=self.buffer("kept", n, self.fan_out, bool))
                self._mask = np.multiply(kept, scale, out=u)
                return np.multiply(a, self._mask, out=self.buffer("dropped", n, self.fan_out))
            self._mask = (rng.random(a.shape, dtype=a.dtype) < keep) * scale
            return a * self._mask
        return a

    def backward(self, grad_a: np.ndarray, need_input_grad: bool = True, reuse: bool = False) -> Optional[np.ndarray]:
        """δ from ∂L/∂A (overwritten when ``reuse``); fills gW and gb; returns ∂L/∂A_prev."""
        if reuse:
            if self._mask is not None:
                grad_a *= self._mask
            delta = self.activation.backward(self._z, self._a, grad_a, out=grad_a)
        else:
            if self._mask is not None:
                grad_a = grad_a * self._mask
            delta = self.activation.backward(self._z, self._a, grad_a)
        np.matmul(delta.T, self._x, out=self.gW)
        np.sum(delta, axis=0, out=self.gb)
        if not need_input_grad:
            return None
        return np.matmul(delta, self.W, out=self.buffer("dx", len(delta), self.fan_in) if reuse else None)

    @property
    def pre_activation(self) -> np.ndarray:
        """Z of the last forward pass (used by gradient checking and diagnostics)."""
        return self._z
