"""A feed-forward network of Dense layers over one flat parameter vector.

All parameters live in one contiguous vector ``params`` (W1, b1, W2, b2, ... in that order, each W
row-major of shape (fan_out, fan_in)) and all gradients in ``grad`` of the same layout; each layer's W,
b, ∂W, ∂b are views into them. Optimizers, clipping, checkpoints and gradient checking then work on
one array, in place.

The training objective is the seed's J_reg(θ) = J(θ) + λ R(θ) with R(θ) = Σ_ℓ ‖W(ℓ)‖² (weights only,
not biases), whose gradient adds 2λW(ℓ) to ∂J/∂W(ℓ). An L1 term λ₁ Σ_ℓ Σ|W(ℓ)| may be added too: it is
convex but has a kink at 0, so it contributes the subgradient λ₁ sign(W(ℓ)) (0 at exactly 0) — the
seeds' subgradient descent.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .activations import ACTIVATIONS
from .layers import Dense
from .losses import Loss


class Network:
    def __init__(self, sizes: Sequence[int], activations: Sequence[str],
                 dropouts: Optional[Sequence[float]] = None, dtype=np.float64):
        """``sizes`` = [n_inputs, hidden..., n_outputs]; ``activations`` has one name per layer
        (the output layer's is 'identity': the loss owns the output non-linearity)."""
        if len(activations) != len(sizes) - 1:
            raise ValueError("need one activation per layer")
        self.sizes = [int(s) for s in sizes]
        self.activation_names = list(activations)
        self.dropouts = [float(p) for p in (dropouts or [0.0] * len(activations))]
        self.dtype = np.dtype(dtype)
        shapes: List[Tuple[str, Tuple[int, ...]]] = []
        for i, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            shapes += [(f"W{i}", (fan_out, fan_in)), (f"b{i}", (fan_out,))]
        self.shapes: Dict[str, Tuple[int, ...]] = dict(shapes)
        self.size = sum(int(np.prod(s)) for _, s in shapes)
        self.params = np.zeros(self.size, dtype=self.dtype)
        self.grad = np.zeros(self.size, dtype=self.dtype)
        self.slices: Dict[str, slice] = {}
        start = 0
        for name, shape in shapes:
            stop = start + int(np.prod(shape))
            self.slices[name] = slice(start, stop)
            start = stop
        p, g = self.views(self.params), self.views(self.grad)
        self.layers = [
            Dense(p[f"W{i}"], p[f"b{i}"], g[f"W{i}"], g[f"b{i}"], ACTIVATIONS.get(act), drop)
            for i, (act, drop) in enumerate(zip(self.activation_names, self.dropouts), start=1)
        ]

    # --- parameters ---------------------------------------------------------------------------

    @property
    def names(self) -> List[str]:
        return list(self.shapes)

    def views(self, flat: np.ndarray) -> Dict[str, np.ndarray]:
        """Named views (W1, b1, ...) into any flat vector laid out like ``params``."""
        return {name: flat[self.slices[name]].reshape(shape) for name, shape in self.shapes.items()}

    def weight_names(self) -> List[str]:
        return [n for n in self.names if n.startswith("W")]

    def set_weights(self, arrays: Dict[str, np.ndarray]) -> None:
        for name, view in self.views(self.params).items():
            view[...] = arrays[name]

    def weights(self) -> Dict[str, np.ndarray]:
        """A copy of every parameter tensor, by name."""
        return {name: view.copy() for name, view in self.views(self.params).items()}

    # --- forward and backward -----------------------------------------------------------------

    def forward(self, X: np.ndarray, training: bool = False,
                rng: Optional[np.random.Generator] = None, reuse: bool = False) -> np.ndarray:
        """Logits z(L) for a batch X of shape (n, n_inputs). ``reuse``: into the layers' buffers (see Dense)."""
        a = X
        for layer in self.layers:
            a = layer.forward(a, training, rng, reuse)
        return a

    def backward(self, delta: np.ndarray, reuse: bool = False) -> None:
        """Backpropagate δ(L) = ∂L/∂z(L) and fill ``grad``: δ(ℓ) = (δ(ℓ+1) W(ℓ+1)) ⊙ φ'(z(ℓ))."""
        for i in range(len(self.layers) - 1, -1, -1):
            delta = self.layers[i].backward(delta, need_input_grad=i > 0, reuse=reuse)

    def penalty(self, l2: float, l1: float = 0.0) -> float:
        """λ Σ_ℓ ‖W(ℓ)‖² + λ₁ Σ_ℓ Σ|W(ℓ)| (weights only)."""
        value = 0.0
        if l2:
            value += l2 * sum(float(np.vdot(layer.W, layer.W)) for layer in self.layers)
        if l1:
            value += l1 * sum(float(np.abs(layer.W).sum()) for layer in self.layers)
        return value

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0,
                      training: bool = True, rng: Optional[np.random.Generator] = None, l1: float = 0.0) -> float:
        """One forward and backward pass; fills ``grad`` with ∇θ(J + penalty) and returns J + penalty.

        The penalty's gradient: 2λW (L2) and the subgradient λ₁ sign(W) (L1), added to each ∂J/∂W.
        """
        z = self.forward(X, training, rng, reuse=True)
        value, delta = loss.value_and_delta(z, y)
        self.backward(delta, reuse=True)
        if l2:
            factor = self.dtype.type(2 * l2)
            for layer in self.layers:
                layer.gW += factor * layer.W
        if l1:
            factor = self.dtype.type(l1)
            for layer in self.layers:
                layer.gW += factor * np.sign(layer.W)
        return value + self.penalty(l2, l1)

    def objective(self, X: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0, l1: float = 0.0) -> float:
        """J + penalty without gradients and without dropout (what a line search evaluates)."""
        return loss.value(self.forward(X), y) + self.penalty(l2, l1)
