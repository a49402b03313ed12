"""Layers: what a network is made of, on one protocol that the rest of gdtrain asks instead of guessing.

A layer declares its **tensors** (``tensors()``: stable names such as W1, b1, gamma2, running_mean2, their
shapes, whether they are trained and whether the L2/L1 penalty applies), computes ``forward(x, training)``
caching what ``backward`` needs, and ``backward(delta)`` writes its parameter gradients into views of the
network's flat ∇θ and returns the delta for the layer below. ``Network`` lays θ out from the declarations
and binds each layer to its views (``bind``). Non-trainable state (batch norm's running statistics) is
declared too, with ``kind="state"``: it lives in the same flat vector after the parameters, so snapshots,
checkpoints and early stopping carry it with the weights, but no gradient or optimizer touches it.

Dense (the textbook z(ℓ) = W(ℓ) a(ℓ−1) + b(ℓ), a(ℓ) = φ(z(ℓ)), batch-first):

    Z = A_prev Wᵀ + b            W: (fan_out, fan_in), A_prev: (n, fan_in), Z: (n, fan_out)
    A = φ(Z) ⊙ M / (1 − p)       M ~ Bernoulli(1 − p): inverted dropout, training only
    δ = (G ⊙ M / (1 − p)) ⊙ φ'(Z)            G = ∂L/∂A (the loss hands the output layer δ = ∂L/∂Z directly)
    ∂L/∂W = δᵀ A_prev,  ∂L/∂b = Σ_rows δ,  ∂L/∂A_prev = δ W     (Nielsen's BP4 δ aᵀ and BP2 W(ℓ)ᵀ δ(ℓ),
                                                                 Neural Networks and Deep Learning, ch. 2)

BatchNorm (torch.nn.BatchNorm1d, per feature j over the batch of n rows):

    training:   μ = mean(x),  σ² = mean((x − μ)²)  (biased),  x̂ = (x − μ)/√(σ² + ε),  y = γ x̂ + β
                running_mean ← (1 − m) running_mean + m μ
                running_var  ← (1 − m) running_var  + m σ² n/(n − 1)   (unbiased)
    evaluation: x̂ = (x − running_mean)/√(running_var + ε)
    backward (training): ∂L/∂γ = Σ G ⊙ x̂,  ∂L/∂β = Σ G,
                         ∂L/∂x = (γ / (n √(σ² + ε))) (n G − Σ G − x̂ Σ (G ⊙ x̂))
    (the last two sums are the "mean terms": they are there because μ and σ² depend on every row)

Residual (He et al. 2016):  y = x + block(x), or y = P x + block(x) with ``projection`` (P a learned linear
map, a Dense layer with no activation) when the block changes the width;  ∂L/∂x = ∂L/∂x|block + G (or Pᵀ G).

OutputActivation (model.output_activation, where the loss does not own the output): ŷ = ψ(z) for sigmoid or
tanh, with δ = G ⊙ ψ'(z); softmax ŷ_k = e^{z_k}/Σ_j e^{z_j}, with δ = ŷ ⊙ (G − Σ_k G_k ŷ_k).

A new kind of layer is its class here, its entry in ``LAYER_TYPES`` (with its config options, see
config/sections.py) and its docs and tests: see docs/extending.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .activations import ACTIVATIONS, Activation
from .constant_arrays import filled
from .errors import ConfigError, GdtrainError
from .init import INITIALIZERS, default_initializer
from .losses import softmax
from .registry import Registry


class BatchTooSmall(GdtrainError):
    """Batch normalization in training mode was given a batch of one row (as torch, it refuses)."""

    exit_code = 2


def column_sums(a: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Σ over the rows of a batch ``a`` (n × width): the vector 1ᵀa, as one BLAS matrix-vector product.

    The same sums as ``a.sum(axis=0)``, added in another order (so the last bits may differ). NumPy reduces a
    C-ordered batch along axis 0 in a strided loop: 5.7 µs for 128 × 256 float32 against 1.7 µs here, and
    21.8 µs against 2.1 µs for digits' full batch, 1259 × 32 (AVX-512 EPYC, both kernel paths, docs/performance.md).
    """
    return np.dot(filled(1, len(a), a.dtype), a, out=out)


@dataclass(frozen=True)
class TensorSpec:
    """One tensor a layer declares.

    kind: "weight" (the L2/L1 penalty applies), "bias", "scale" (γ), "shift" (β), or "state" (not a parameter:
    no gradient, never trained; batch norm's running statistics).
    """

    name: str
    shape: Tuple[int, ...]
    kind: str
    trainable: bool = True

    @property
    def is_parameter(self) -> bool:
        return self.kind != "state"

    @property
    def penalized(self) -> bool:
        return self.kind == "weight"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


class Layer:
    """The protocol; see the module docstring. Subclasses set ``width_in``, ``width_out`` and ``kind``."""

    kind = "layer"
    width_in: int
    width_out: int

    def __init__(self):
        self._buffers: Dict[str, np.ndarray] = {}
        self.p: Dict[str, np.ndarray] = {}  # name -> view into θ
        self.g: Dict[str, np.ndarray] = {}  # name -> view into ∇θ

    # --- declarations and binding -------------------------------------------------------------

    def tensors(self) -> List[TensorSpec]:
        """This layer's own tensors (not its children's)."""
        return []

    def children(self) -> List["Layer"]:
        return []

    def walk(self) -> Iterator["Layer"]:
        """This layer and every layer inside it, in the order they run."""
        yield self
        for child in self.children():
            yield from child.walk()

    def bind(self, params: Dict[str, np.ndarray], grads: Dict[str, np.ndarray]) -> None:
        names = [t.name for t in self.tensors()]
        self.p = {name: params[name] for name in names}
        self.g = {name: grads[name] for name in names}

    def initialize(self, rng: np.random.Generator, default_init: Optional[str]) -> None:
        """Fill the tensors with their starting values (weights drawn from ``rng``)."""

    def describe(self) -> str:
        """A few words for ``fit``'s header: '64 relu', 'batchnorm', 'residual(64 relu)'."""
        return self.kind

    def buffer(self, name: str, rows: int, width: int, dtype) -> np.ndarray:
        """A reusable (rows, width) array (grown when a larger batch comes)."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape[0] < rows or buf.shape[1] != width or buf.dtype != np.dtype(dtype):
            buf = self._buffers[name] = np.empty((rows, width), dtype=dtype)
        return buf[:rows]

    # --- computing ----------------------------------------------------------------------------

    def forward(self, x: np.ndarray, training: bool = False, rng: Optional[np.random.Generator] = None,
                reuse: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, delta: np.ndarray, need_input_grad: bool = True, reuse: bool = False) -> Optional[np.ndarray]:
        raise NotImplementedError

    def kink_sides(self) -> List[np.ndarray]:
        """Which side of its non-differentiable points each value of the last forward pass lay on (ReLU: z > 0).
        Gradient checking compares these before and after a perturbation: a difference quotient across a kink
        is meaningless."""
        return []


class Dense(Layer):
    """A fully-connected layer (see the module docstring).

    With ``reuse=True`` (the training step, ``Network.loss_and_grad``) forward and backward write into
    buffers the layer keeps, sized for the largest batch seen, instead of allocating new arrays every step;
    what they return is then only valid until the layer's next such call.
    """

    kind = "dense"

    def __init__(self, index: int, fan_in: int, units: int, activation: str = "identity", dropout: float = 0.0,
                 init: Optional[str] = None, trainable: bool = True, norm: Optional["BatchNorm"] = None):
        super().__init__()
        self.index, self.width_in, self.width_out = index, int(fan_in), int(units)
        self.norm = norm  # ``batchnorm: true``: dense → batchnorm → activation, φ applied to BN(Z)
        self.activation: Activation = ACTIVATIONS.get(activation)
        self.dropout = float(dropout)
        self.init = init
        self.trainable = trainable
        self.role = ""  # "projection": a residual block's skip-path map
        self._x = self._z = self._a = self._mask = None

    def children(self) -> List[Layer]:
        return [self.norm] if self.norm is not None else []

    @property
    def weight_name(self) -> str:
        return f"W{self.index}"

    @property
    def bias_name(self) -> str:
        return f"b{self.index}"

    def tensors(self) -> List[TensorSpec]:
        return [TensorSpec(self.weight_name, (self.width_out, self.width_in), "weight", self.trainable),
                TensorSpec(self.bias_name, (self.width_out,), "bias", self.trainable)]

    def bind(self, params, grads) -> None:
        super().bind(params, grads)
        self.W, self.b = self.p[self.weight_name], self.p[self.bias_name]
        self.gW, self.gb = self.g[self.weight_name], self.g[self.bias_name]

    @property
    def fan_in(self) -> int:
        return self.width_in

    @property
    def fan_out(self) -> int:
        return self.width_out

    def initialize(self, rng, default_init) -> None:
        name = self.init or default_init or default_initializer(self.activation.name)
        self.W[...] = INITIALIZERS.get(name)(self.fan_in, self.fan_out, rng)
        self.b[...] = 0

    def describe(self) -> str:
        act = "" if self.activation.name == "identity" else f" {self.activation.name}"
        if self.norm is not None:
            act = f" → batchnorm →{act or ' identity'}"
        return f"{self.width_out}{act}" + (f" (dropout {self.dropout:g})" if self.dropout else "")

    def forward(self, x, training=False, rng=None, reuse=False):
        n, dtype = x.shape[0], self.W.dtype
        if reuse:
            z = np.matmul(x, self.W.T, out=self.buffer("z", n, self.fan_out, dtype))
            z += self.b
            if self.norm is not None:
                z = self.norm.forward(z, training, rng, reuse)
            a = self.activation.forward(z, out=self.buffer("a", n, self.fan_out, dtype))
        else:
            z = x @ self.W.T
            z += self.b
            if self.norm is not None:
                z = self.norm.forward(z, training, rng, reuse)
            a = self.activation.forward(z)
        self._x, self._z, self._a, self._mask = x, z, a, None
        if training and self.dropout > 0.0:
            keep = 1.0 - self.dropout
            scale = a.dtype.type(1.0 / keep)
            if reuse:  # the same draws as below, into the layer's buffers
                u = rng.random(dtype=a.dtype, out=self.buffer("mask", n, self.fan_out, a.dtype))
                kept = np.less(u, keep, out=self.buffer("kept", n, self.fan_out, bool))
                self._mask = np.multiply(kept, scale, out=u)
                return np.multiply(a, self._mask, out=self.buffer("dropped", n, self.fan_out, a.dtype))
            self._mask = (rng.random(a.shape, dtype=a.dtype) < keep) * scale
            return a * self._mask
        return a

    def backward(self, delta, need_input_grad=True, reuse=False):
        """δ from ∂L/∂A (overwritten when ``reuse``); fills ∂W and ∂b; returns ∂L/∂A_prev."""
        if reuse:
            if self._mask is not None:
                delta *= self._mask
            delta = self.activation.backward(self._z, self._a, delta, out=delta)
        else:
            if self._mask is not None:
                delta = delta * self._mask
            delta = self.activation.backward(self._z, self._a, delta)
        if self.norm is not None:
            delta = self.norm.backward(delta, True, reuse)
        np.matmul(delta.T, self._x, out=self.gW)  # ∂J/∂W = δᵀ A_prev
        column_sums(delta, out=self.gb)  # ∂J/∂b = Σ_rows δ
        if not need_input_grad:
            return None
        return np.matmul(delta, self.W, out=self.buffer("dx", len(delta), self.fan_in, self.W.dtype) if reuse else None)

    @property
    def pre_activation(self) -> np.ndarray:
        """What φ was applied to in the last forward pass: Z (BN(Z) with ``norm``); diagnostics, gradient checking."""
        return self._z

    @property
    def last_input(self) -> np.ndarray:
        """A_prev of the last forward pass."""
        return self._x

    @property
    def dropout_mask(self) -> Optional[np.ndarray]:
        """M / (1 − p) of the last training forward pass, or None."""
        return self._mask

    def kink_sides(self):
        kinks = self.activation.kinks
        return [] if kinks is None else [kinks(self._z)]


class BatchNorm(Layer):
    """Batch normalization over the features, as torch.nn.BatchNorm1d (see the module docstring)."""

    kind = "batchnorm"

    def __init__(self, index: int, width: int, momentum: float = 0.1, eps: float = 1e-5, affine: bool = True,
                 trainable: bool = True):
        super().__init__()
        self.index, self.width_in, self.width_out = index, int(width), int(width)
        self.momentum, self.eps, self.affine, self.trainable = float(momentum), float(eps), bool(affine), trainable
        self._centred = self._inv_std = self._scale = None
        self._training = False

    def names(self) -> Dict[str, str]:
        i = self.index
        return {"gamma": f"gamma{i}", "beta": f"beta{i}", "mean": f"running_mean{i}", "var": f"running_var{i}"}

    def tensors(self) -> List[TensorSpec]:
        n, shape = self.names(), (self.width_out,)
        out = []
        if self.affine:
            out += [TensorSpec(n["gamma"], shape, "scale", self.trainable), TensorSpec(n["beta"], shape, "shift",
                                                                                       self.trainable)]
        return out + [TensorSpec(n["mean"], shape, "state", False), TensorSpec(n["var"], shape, "state", False)]

    def bind(self, params, grads) -> None:
        super().bind(params, grads)
        n = self.names()
        self.running_mean, self.running_var = self.p[n["mean"]], self.p[n["var"]]
        if self.affine:
            self.gamma, self.beta = self.p[n["gamma"]], self.p[n["beta"]]
            self.g_gamma, self.g_beta = self.g[n["gamma"]], self.g[n["beta"]]

    def initialize(self, rng, default_init) -> None:
        if self.affine:
            self.gamma[...], self.beta[...] = 1, 0
        self.running_mean[...], self.running_var[...] = 0, 1

    def describe(self) -> str:
        return "batchnorm"

    def forward(self, x, training=False, rng=None, reuse=False):
        """y = γ x̂ + β, computed as (x − μ) ⊙ (γ/√(σ² + ε)) + β: the centred batch x − μ is what ``backward``
        keeps (x̂ itself is never formed: one pass fewer)."""
        n, width, dtype = len(x), self.width_out, x.dtype
        self._training = training
        centred = self.buffer("centred", n, width, dtype) if reuse else np.empty_like(x)
        if training:
            if n < 2:
                raise BatchTooSmall("batch normalization in training needs batches of at least 2 samples, got a "
                                    "batch of 1 (training.batch_size: 1 or mode: sgd, or one sample left over); "
                                    "use a larger batch_size, or a layer without batchnorm")
            mean = column_sums(x) / dtype.type(n)
            np.subtract(x, mean, out=centred)  # x − μ
            var = np.einsum("ij,ij->j", centred, centred) / dtype.type(n)  # biased: what normalizes the batch
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += m * mean
            self.running_var *= 1 - m
            self.running_var += (m * n / (n - 1)) * var  # unbiased: what torch keeps
        else:
            np.subtract(x, self.running_mean, out=centred)
            var = self.running_var
        self._inv_std = (1.0 / np.sqrt(var + self.eps)).astype(dtype, copy=False)
        self._centred = centred
        self._scale = scale = self._inv_std * self.gamma if self.affine else self._inv_std  # γs = γ/√(σ² + ε)
        y = np.multiply(centred, scale, out=self.buffer("y", n, width, dtype) if reuse else None)
        if self.affine:
            y += self.beta
        return y

    @property
    def normalized(self) -> np.ndarray:
        """x̂ = (x − μ)/√(σ² + ε) of the last forward pass (a new array: the layer keeps x − μ)."""
        return self._centred * self._inv_std

    def backward(self, delta, need_input_grad=True, reuse=False):
        """∂γ, ∂β and ∂L/∂x from the kept x − μ (``delta`` is overwritten when ``reuse``). With s = 1/√(σ² + ε),
        x̂ = (x − μ) s, so Σ G ⊙ x̂ = s Σ G ⊙ (x − μ), and ∂L/∂x of the module docstring is

            ∂L/∂x = γs G − (x − μ) ⊙ (γ s³ Σ G ⊙ (x − μ))/n − γs Σ G/n

        three vectors and four passes over the batch."""
        centred, inv_std, n = self._centred, self._inv_std, len(delta)
        sum_g = column_sums(delta, out=self.g_beta if self.affine else None)  # Σ G = ∂β
        sum_gc = np.einsum("ij,ij->j", delta, centred)  # Σ G ⊙ (x − μ)
        if self.affine:
            np.multiply(sum_gc, inv_std, out=self.g_gamma)  # ∂γ = Σ G ⊙ x̂
        if not need_input_grad:
            return None
        scale = self._scale  # γs, from the forward pass
        if not self._training:  # running statistics are constants
            return np.multiply(delta, scale, out=delta if reuse else None)
        inv_n = delta.dtype.type(1.0 / n)
        dx = np.multiply(centred, scale * inv_std * inv_std * sum_gc * inv_n,
                         out=self.buffer("dx", n, self.width_in, delta.dtype) if reuse else None)
        dx += scale * sum_g * inv_n
        scaled = np.multiply(delta, scale, out=delta if reuse else None)  # γs G
        return np.subtract(scaled, dx, out=dx)


class Residual(Layer):
    """y = x + block(x), or P x + block(x) with a projection (see the module docstring)."""

    kind = "residual"

    def __init__(self, block: List[Layer], projection: Optional[Dense] = None):
        super().__init__()
        self.block, self.projection = block, projection
        if projection is not None:
            projection.role = "projection"
        self.width_in, self.width_out = block[0].width_in, block[-1].width_out

    def children(self) -> List[Layer]:
        return self.block + ([self.projection] if self.projection is not None else [])

    def describe(self) -> str:
        inner = " → ".join(layer.describe() for layer in self.block)
        return f"residual({inner}{' + projection' if self.projection is not None else ''})"

    def forward(self, x, training=False, rng=None, reuse=False):
        a = x
        for layer in self.block:
            a = layer.forward(a, training, rng, reuse)
        skip = x if self.projection is None else self.projection.forward(x, training, rng, reuse)
        if reuse:
            return np.add(a, skip, out=self.buffer("y", len(x), self.width_out, a.dtype))
        return a + skip

    def backward(self, delta, need_input_grad=True, reuse=False):
        # The block's layers may overwrite the delta they are given (reuse): the skip path keeps its own copy.
        g = delta
        if reuse:
            g = self.buffer("g", len(delta), self.width_out, delta.dtype)
            g[...] = delta
        for i in range(len(self.block) - 1, -1, -1):
            g = self.block[i].backward(g, need_input_grad or i > 0, reuse)
        if self.projection is not None:
            skip = self.projection.backward(delta, need_input_grad, reuse)
        else:
            skip = delta
        if not need_input_grad:
            return None
        return g + skip

    def kink_sides(self):
        return [side for layer in self.children() for side in layer.kink_sides()]


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    return softmax(z)


OUTPUT_ACTIVATIONS = ("identity", "sigmoid", "tanh", "softmax")  # model.output_activation (identity: no layer)


class OutputActivation(Layer):
    """ŷ = ψ(z) on the network's last layer, for losses that do not own the output (mse, mae)."""

    kind = "output_activation"

    def __init__(self, name: str, width: int):
        super().__init__()
        self.name, self.width_in, self.width_out = name, width, width
        self._z = self._a = None

    def describe(self) -> str:
        return self.name

    def forward(self, x, training=False, rng=None, reuse=False):
        self._z = x
        self._a = _softmax_rows(x) if self.name == "softmax" else ACTIVATIONS.get(self.name).forward(x)
        return self._a

    def backward(self, delta, need_input_grad=True, reuse=False):
        a = self._a
        if self.name == "softmax":
            return a * (delta - np.sum(delta * a, axis=1, keepdims=True))
        return ACTIVATIONS.get(self.name).backward(self._z, a, delta)


# --- the registry of layer types the config's model.hidden may name ---------------------------------

@dataclass(frozen=True)
class LayerType:
    """A config entry's ``type:``: what it is, and its formula for ``gdtrain list``/``explain``."""

    name: str
    summary: str
    formula: str
    build: Callable  # build(entry config, input width, Numbering, key path) -> Layer
    references: Tuple[str, ...] = ()  # keys of ideas.REFERENCES


LAYER_TYPES: Registry[LayerType] = Registry("layer type")


class Numbering:
    """Names the layers' tensors as they are built: the k-th dense layer (in the order the layers run, those in
    residual blocks and their projections included) owns Wk and bk, the k-th batch norm gammak, betak,
    running_meank and running_vark. A Dense-only network is W1, b1, ..., WL, bL as before layers were a protocol."""

    def __init__(self):
        self.counts: Dict[str, int] = {}

    def next(self, kind: str) -> int:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return self.counts[kind]


def build_sequence(entries, width: int, numbering: Numbering, path: str) -> List[Layer]:
    """The layers for a list of layer configs (``model.hidden`` or a residual block's ``hidden``)."""
    layers = []
    for i, entry in enumerate(entries):
        layer = LAYER_TYPES.get(entry.type, f"{path}[{i}].type").build(entry, width, numbering, f"{path}[{i}]")
        if not entry.trainable:
            for inner in layer.walk():
                inner.trainable = False
        layers.append(layer)
        width = layer.width_out
    return layers


def build_layers(hidden, n_inputs: int, n_outputs: int, output_activation: str = "identity") -> List[Layer]:
    """model.hidden, then the output layer (linear), then ``output_activation`` unless it is identity."""
    numbering = Numbering()
    layers = build_sequence(hidden, n_inputs, numbering, "model.hidden")
    width = layers[-1].width_out if layers else n_inputs
    layers.append(Dense(numbering.next("dense"), width, n_outputs, "identity"))
    if output_activation != "identity":
        layers.append(OutputActivation(output_activation, n_outputs))
    return layers


def _build_dense(entry, width, numbering, path) -> Layer:
    index = numbering.next("dense")
    norm = BatchNorm(numbering.next("batchnorm"), entry.units) if entry.batchnorm else None
    return Dense(index, width, entry.units, entry.activation, entry.dropout, entry.init, norm=norm)


def _build_batchnorm(entry, width, numbering, path) -> Layer:
    return BatchNorm(numbering.next("batchnorm"), width, entry.momentum, entry.eps, entry.affine)


def _build_residual(entry, width, numbering, path) -> Layer:
    block = build_sequence(entry.hidden, width, numbering, f"{path}.hidden")
    end = block[-1].width_out
    projection = None
    if entry.projection:
        projection = Dense(numbering.next("dense"), width, end, "identity")
    elif end != width:
        raise ConfigError(f"{path}: the residual block ends at width {end} but its input has width {width}, so "
                          f"x + block(x) cannot be added; make the block's last layer {width} units wide, or set "
                          "projection: true (a learned linear map on the skip path)")
    return Residual(block, projection)


for _type in (
    LayerType("dense", "fully-connected layer with an activation and optional dropout",
              "z = W a + b,  a' = φ(z) (⊙ dropout mask / (1 − p) in training); batchnorm: true gives "
              "a' = φ(BN(z))", _build_dense),
    LayerType("batchnorm", "batch normalization over the features (torch.nn.BatchNorm1d)",
              "x̂ = (x − μ_B)/√(σ²_B + ε),  y = γ x̂ + β;  running statistics in evaluation", _build_batchnorm,
              ("ioffe",)),
    LayerType("residual", "a block of layers with a skip connection",
              "y = x + block(x)  (or P x + block(x) with projection: true)", _build_residual, ("resnet",)),
):
    LAYER_TYPES.add(_type.name, _type)
