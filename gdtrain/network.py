"""A feed-forward network of layers (layers.py) over one flat parameter vector.

Every tensor the layers declare lives in one contiguous vector ``params`` and every gradient in ``grad``
of the same layout; each layer's tensors are views into them. The layout follows the declarations, in
three parts:

    params = [ trainable parameters | frozen parameters | state (batch norm's running statistics) ]
             '------- trainable ------'
             '------------- parameters -------------'

For a Dense-only network with nothing frozen that is W1, b1, W2, b2, ... in order, each W row-major of
shape (fan_out, fan_in). Optimizers and clipping work in place on the first part only (``trainable``,
``trainable_grad``), so no update rule, weight decay included, ever moves a frozen tensor or the running
statistics. Snapshots (the best epoch, early stopping, an undone epoch) and checkpoints copy the whole
vector, so the running statistics travel with the weights they belong to.

The training objective is the textbook J_reg(θ) = J(θ) + λ R(θ) with R(θ) = Σ_ℓ ‖W(ℓ)‖² (weights only,
not biases, γ or β), whose gradient adds 2λW(ℓ) to ∂J/∂W(ℓ). An L1 term λ₁ Σ_ℓ Σ|W(ℓ)| may be added too: it
is convex but has a kink at 0, so it contributes the subgradient λ₁ sign(W(ℓ)) (0 at exactly 0) —
subgradient descent.
"""

from __future__ import annotations

import copy
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np

from .layers import Dense, Layer, TensorSpec
from .losses import Loss
from .threads import squared_norm


class Network:
    def __init__(self, layers: Sequence, activations: Optional[Sequence[str]] = None,
                 dropouts: Optional[Sequence[float]] = None, dtype=np.float64, freeze: Iterable[str] = ()):
        """``layers``: Layer objects in order. As a shorthand for a stack of Dense layers, ``layers`` may be the
        sizes [n_inputs, hidden..., n_outputs] with one activation name per layer (the output layer's is usually
        'identity': the loss owns the output non-linearity) and optional dropout rates.

        ``freeze``: names of parameter tensors to hold fixed, besides those a layer declares untrainable."""
        if activations is not None:
            sizes = [int(s) for s in layers]
            if len(activations) != len(sizes) - 1:
                raise ValueError("need one activation per layer")
            drops = [float(p) for p in (dropouts or [0.0] * len(activations))]
            layers = [Dense(i, fan_in, fan_out, act, drop) for i, (fan_in, fan_out, act, drop)
                      in enumerate(zip(sizes[:-1], sizes[1:], activations, drops), start=1)]
        self.layers: List[Layer] = list(layers)
        self.dtype = np.dtype(dtype)
        declared = [spec for layer in self.all_layers() for spec in layer.tensors()]
        frozen = set(freeze)
        specs = [TensorSpec(s.name, s.shape, s.kind, s.trainable and s.name not in frozen) for s in declared]
        parameters = [s for s in specs if s.is_parameter]
        ordered = ([s for s in parameters if s.trainable] + [s for s in parameters if not s.trainable]
                   + [s for s in specs if not s.is_parameter])
        self.specs: Dict[str, TensorSpec] = {s.name: s for s in ordered}
        self.shapes = {s.name: s.shape for s in ordered}
        self.slices: Dict[str, slice] = {}
        start = 0
        for s in ordered:
            self.slices[s.name] = slice(start, start + s.size)
            start += s.size
        self.n_trainable = sum(s.size for s in parameters if s.trainable)
        self.size = sum(s.size for s in parameters)  # the parameters (trainable and frozen), not the state
        self.params = np.zeros(start, dtype=self.dtype)
        self.grad = np.zeros(start, dtype=self.dtype)
        self.trainable = self.params[:self.n_trainable]
        self.trainable_grad = self.grad[:self.n_trainable]
        self._frozen_grad = self.grad[self.n_trainable:]
        p, g = self.views(self.params), self.views(self.grad)
        for layer in self.all_layers():
            layer.bind(p, g)
        # (W, ∂W) of every tensor the L2/L1 penalty applies to
        self.penalized = [(p[s.name], g[s.name]) for s in specs if s.penalized]

    # --- structure ----------------------------------------------------------------------------

    def all_layers(self) -> List[Layer]:
        """Every layer, those inside residual blocks included, in the order they run."""
        return [inner for layer in self.layers for inner in layer.walk()]

    def dense_layers(self) -> List[Dense]:
        return [layer for layer in self.all_layers() if isinstance(layer, Dense)]

    @property
    def n_inputs(self) -> int:
        return self.layers[0].width_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].width_out

    @property
    def names(self) -> List[str]:
        """The parameter tensors' names (trainable and frozen; not the state), in the layers' order."""
        return [name for name in self.declared_names() if self.specs[name].is_parameter]

    def declared_names(self) -> List[str]:
        """Every tensor's name (state included) in the order the layers declare them."""
        return [spec.name for layer in self.all_layers() for spec in layer.tensors()]

    def weight_names(self) -> List[str]:
        """The tensors the penalty applies to (W1, W2, ...): their gradient norms are what training shows."""
        return [name for name in self.names if self.specs[name].penalized]

    def frozen_names(self) -> List[str]:
        return [name for name in self.names if not self.specs[name].trainable]

    def state_names(self) -> List[str]:
        return [name for name in self.declared_names() if not self.specs[name].is_parameter]

    @property
    def sizes(self) -> List[int]:
        """[n_inputs, width after each top-level layer...]."""
        return [self.n_inputs] + [layer.width_out for layer in self.layers]

    # --- parameters ---------------------------------------------------------------------------

    def views(self, flat: np.ndarray) -> Dict[str, np.ndarray]:
        """Named views (W1, b1, ...) into any flat vector laid out like ``params``."""
        return {name: flat[self.slices[name]].reshape(shape) for name, shape in self.shapes.items()}

    def set_weights(self, arrays: Dict[str, np.ndarray]) -> None:
        """Set every tensor from ``arrays`` (the state too, where given)."""
        for name, view in self.views(self.params).items():
            if name in arrays or self.specs[name].is_parameter:
                view[...] = arrays[name]

    def weights(self) -> Dict[str, np.ndarray]:
        """A copy of every tensor (parameters and state), by name, in the layers' order."""
        views = self.views(self.params)
        return {name: views[name].copy() for name in self.declared_names()}

    def initialize(self, rng: np.random.Generator, default_init: Optional[str] = None) -> None:
        """Every layer's starting values, layer by layer in order (each W from ``rng``)."""
        for layer in self.all_layers():
            layer.initialize(rng, default_init)

    # --- forward and backward -----------------------------------------------------------------

    def forward(self, X: np.ndarray, training: bool = False,
                rng: Optional[np.random.Generator] = None, reuse: bool = False) -> np.ndarray:
        """The outputs for a batch X of shape (n, n_inputs). ``reuse``: into the layers' buffers (see Dense)."""
        a = X
        for layer in self.layers:
            a = layer.forward(a, training, rng, reuse)
        return a

    def backward(self, delta: np.ndarray, reuse: bool = False) -> None:
        """Backpropagate δ = ∂L/∂(outputs) and fill ``grad``: each layer hands the one below its ∂L/∂input."""
        for i in range(len(self.layers) - 1, -1, -1):
            delta = self.layers[i].backward(delta, need_input_grad=i > 0, reuse=reuse)

    def penalty(self, l2: float, l1: float = 0.0) -> float:
        """λ Σ_ℓ ‖W(ℓ)‖² + λ₁ Σ_ℓ Σ|W(ℓ)| (weights only)."""
        value = 0.0
        if l2:
            value += l2 * sum(squared_norm(W) for W, _ in self.penalized)
        if l1:
            value += l1 * sum(float(np.abs(W).sum()) for W, _ in self.penalized)
        return value

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0,
                      training: bool = True, rng: Optional[np.random.Generator] = None, l1: float = 0.0,
                      frozen_grad: bool = False,
                      on_outputs: Optional[Callable[[np.ndarray, np.ndarray], None]] = None) -> float:
        """One forward and backward pass; fills ``grad`` with ∇θ(J + penalty) and returns J + penalty.

        ``on_outputs(z, y)``, when given, sees the forward pass's outputs before backpropagation (training
        accuracy is measured from them, without a second forward pass).

        The penalty's gradient: 2λW (L2) and the subgradient λ₁ sign(W) (L1), added to each ∂J/∂W. Frozen
        tensors get a zero gradient (they are not trained, and a clipping norm does not count them, as in torch)
        unless ``frozen_grad`` (gradient checking checks them too).
        """
        z = self.forward(X, training, rng, reuse=True)
        if on_outputs is not None:
            on_outputs(z, y)
        value, delta = loss.value_and_delta(z, y)
        self.backward(delta, reuse=True)
        if l2:
            factor = self.dtype.type(2 * l2)
            for W, gW in self.penalized:
                gW += factor * W
        if l1:
            factor = self.dtype.type(l1)
            for W, gW in self.penalized:
                gW += factor * np.sign(W)
        if not frozen_grad and self._frozen_grad.size:
            self._frozen_grad[...] = 0
        return value + self.penalty(l2, l1)

    def objective(self, X: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0, l1: float = 0.0) -> float:
        """J + penalty without gradients and without dropout (what a line search evaluates)."""
        return loss.value(self.forward(X), y) + self.penalty(l2, l1)

    def copy(self, dtype=None) -> "Network":
        """An independent network with the same layers and the same θ (cast to ``dtype`` when given)."""
        twin = Network([copy.deepcopy(layer) for layer in self.layers], dtype=dtype or self.dtype,
                       freeze=self.frozen_names())
        twin.params[...] = self.params
        return twin

    def describe(self) -> str:
        """'64 → 64 relu (dropout 0.2) → batchnorm → 10': input size, then each layer."""
        return " → ".join([str(self.n_inputs)] + [layer.describe() for layer in self.layers])
