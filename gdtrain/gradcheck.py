"""Numerical gradient checking: backpropagation's gradient against central differences, in float64.

For every parameter θⱼ (Uma Mahesh, "Backpropagation and Gradient Descent", §24; Goodfellow, Bengio &
Courville, Deep Learning §11.5):

    ∂J/∂θⱼ ≈ [J(θ + ε eⱼ) − J(θ − ε eⱼ)] / (2ε)

and per tensor (W1, b1, ...) the relative error

    rel = max_j |aⱼ − nⱼ| / max(max_j (|aⱼ| + |nⱼ|), tiny)

A tensor passes when rel < threshold, or when max_j |aⱼ − nⱼ| < atol: a gradient that is exactly 0
(e.g. the output biases of a balanced hinge problem) has no meaningful relative error, and the
difference quotient's rounding noise is about ε_mach·|J|/ε ≈ 1e−10·|J| at ε = 1e−6.

J is the full training objective (loss + L2 and L1 penalties), with dropout masks held fixed (the same
seeded masks in every evaluation). Where a perturbation moves a ReLU input, an MAE residual, a hinge
margin or (with L1) a weight across its kink, the difference quotient is meaningless there; such entries
are counted as ``kinks`` and left out of the error, never silently failed.

The 2 × (number of parameters) evaluations of J are batched (``numeric_gradient``): a perturbation of a
parameter of layer l changes nothing below that layer, so the rest of the network is evaluated for
thousands of perturbed parameter vectors in one pass of stacked matrix products.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from .activations import ACTIVATIONS
from .config import model_from_dict
from .errors import ConfigError
from .experiment import setup
from .losses import LOSSES, Loss
from .layers import BatchNorm, Dense, Residual, build_layers
from .network import Network
from .problems import check_points, make_problem
from .threads import choose_for, limited

TINY = 1e-30


@dataclass
class TensorCheck:
    name: str
    size: int
    checked: int
    kinks: int
    max_abs_error: float
    rel_error: float
    passed: bool


MAX_BATCH_VALUES = 1 << 22  # floats per batched forward pass (about 32 MB in float64)


@dataclass
class _Base:
    """One forward pass of the unperturbed network, with what the perturbed passes reuse."""

    inputs: List[np.ndarray]  # A(l−1): each layer's input
    pre: List[np.ndarray]  # Z(l)
    masks: List[Optional[np.ndarray]]  # the dropout masks (scaled by 1/(1 − p)), held fixed
    logits: np.ndarray


def training_mode(net: Network) -> bool:
    """Whether J is evaluated as training sees it: with dropout (masks held fixed) or batch norm's batch
    statistics (batch norm couples the samples, so J is the loss of the whole fixed batch)."""
    return any(getattr(layer, "dropout", 0) > 0 or isinstance(layer, BatchNorm) for layer in net.all_layers())


def is_dense_stack(net: Network) -> bool:
    """A plain stack of Dense layers: the batched fast path below applies."""
    return all(isinstance(layer, Dense) and layer.norm is None for layer in net.layers)


def _base_pass(net: Network, X: np.ndarray, dropout_seed: int) -> _Base:
    z = net.forward(X, training=training_mode(net), rng=np.random.default_rng(dropout_seed))
    return _Base([layer.last_input for layer in net.layers], [layer.pre_activation.copy() for layer in net.layers],
                 [layer.dropout_mask for layer in net.layers], z)


def _kinks_differ(kinks, base: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """(K,) whether each perturbed pass put some point on the other side of a kink than the base pass."""
    if kinks is None:
        return np.zeros(len(batch), dtype=bool)
    moved = kinks(batch.reshape((-1,) + base.shape[1:])).reshape(batch.shape) != kinks(base)[None]
    return moved.reshape(len(batch), -1).any(axis=1)


def _perturbed_objectives(net: Network, base: _Base, y: np.ndarray, loss: Loss, layer: int, shift: np.ndarray,
                          rows: np.ndarray):
    """J (data loss) and kink flags for K perturbed networks at once: the pre-activation of ``layer`` becomes
    Z + shift[k] in column rows[k] (K, n) — everything below the layer is unchanged, so only the rest of the
    network is recomputed, for all K perturbations in one batched pass."""
    K, n = shift.shape
    z = np.repeat(base.pre[layer][None], K, axis=0)
    z[np.arange(K), :, rows] += shift
    moved = np.zeros(K, dtype=bool)
    a = None  # the perturbed activations of the layer before
    for i in range(layer, len(net.layers)):
        dense = net.layers[i]
        if i > layer:
            z = (a.reshape(K * n, -1) @ dense.W.T + dense.b).reshape(K, n, -1)
        if i < len(net.layers) - 1:  # the output layer is linear: the loss owns its non-linearity
            moved |= _kinks_differ(dense.activation.kinks, base.pre[i], z)
            a = dense.activation.forward(z)
            if base.masks[i] is not None:
                a = a * base.masks[i]
    logits = z.reshape(K * n, -1)
    y_all = np.tile(y, (K,) + (1,) * (y.ndim - 1)) if y.ndim > 1 else np.tile(y, K)
    if loss.kinks is not None:
        flags = loss.kinks(logits, y_all)
        moved |= (flags.reshape((K, n) + flags.shape[1:]) != loss.kinks(base.logits, y)[None]).reshape(K, -1).any(axis=1)
    return loss.per_sample(logits, y_all).reshape(K, n).mean(axis=1), moved


def numeric_gradient(net: Network, X: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0, l1: float = 0.0,
                     epsilon: float = 1e-6, dropout_seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Central differences [J(θ + εeⱼ) − J(θ − εeⱼ)] / 2ε for every parameter j, and whether each is valid
    (no kink crossed). J = data loss + λΣ‖W‖² + λ₁Σ|W|, dropout masks held fixed.

    Perturbing θⱼ in layer l only changes that layer's pre-activation Z(l) — by ±ε·A(l−1)[:, c] in column r for
    W(l)[r, c], by ±ε for b(l)[r] — so the layers below are computed once and the perturbed networks are
    pushed through the rest of the network many at a time (MAX_BATCH_VALUES floats per pass). The penalties
    are differenced entry by entry, exactly as written. Networks with other layers (batch norm, residual
    blocks, an output activation) take ``numeric_gradient_by_entry``."""
    if not is_dense_stack(net):
        return numeric_gradient_by_entry(net, X, y, loss, l2, l1, epsilon, dropout_seed)
    base = _base_pass(net, X, dropout_seed)
    n = len(X)
    numeric = np.zeros(net.size)
    valid = np.ones(net.size, dtype=bool)
    widest = max(net.sizes[1:])
    chunk = max(1, MAX_BATCH_VALUES // (n * widest))
    for layer_index, dense in enumerate(net.layers):
        name_w, name_b = dense.weight_name, dense.bias_name
        for name, is_weight in ((name_w, True), (name_b, False)):
            flat = net.params[net.slices[name]]
            for start in range(0, flat.size, chunk):
                j = np.arange(start, min(start + chunk, flat.size))
                if is_weight:
                    rows, cols = np.divmod(j, dense.fan_in)
                    step = epsilon * base.inputs[layer_index][:, cols].T  # (K, n)
                else:
                    rows, step = j, np.full((len(j), n), epsilon)
                plus, moved_plus = _perturbed_objectives(net, base, y, loss, layer_index, step, rows)
                minus, moved_minus = _perturbed_objectives(net, base, y, loss, layer_index, -step, rows)
                difference = plus - minus
                ok = ~(moved_plus | moved_minus)
                if is_weight:
                    difference, ok = _penalty_difference(flat[j], difference, ok, l2, l1, epsilon)
                offset = net.slices[name].start
                numeric[offset + j] = difference / (2 * epsilon)
                valid[offset + j] = ok
    return numeric, valid


def _penalty_difference(w, difference, ok, l2: float, l1: float, epsilon: float):
    """Add the penalties' differences λ[(w + ε)² − (w − ε)²] + λ₁[|w + ε| − |w − ε|] for weights ``w``; an L1 kink
    crossed (w ± ε of another sign than w) makes the entry invalid."""
    difference = difference + l2 * ((w + epsilon) ** 2 - (w - epsilon) ** 2)
    if l1:
        difference = difference + l1 * (np.abs(w + epsilon) - np.abs(w - epsilon))
        ok = ok & (np.sign(w + epsilon) == np.sign(w)) & (np.sign(w - epsilon) == np.sign(w))
    return difference, ok


def numeric_gradient_by_entry(net: Network, X: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0,
                              l1: float = 0.0, epsilon: float = 1e-6,
                              dropout_seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """The same central differences for any network, one parameter at a time: each J(θ ± εeⱼ) is a whole
    forward pass over the fixed batch (training mode where dropout or batch norm need it: the same dropout
    masks every time, batch norm's statistics of the batch). An entry is invalid where some layer's value or
    the loss crossed a kink (the layers' ``kink_sides`` and ``loss.kinks`` differ from the base pass). Batch
    norm's running statistics, which training-mode passes update, are put back afterwards."""
    training = training_mode(net)
    saved = net.params.copy()

    def data_loss():
        z = net.forward(X, training=training, rng=np.random.default_rng(dropout_seed))
        sides = [side.copy() for layer in net.all_layers() for side in layer.kink_sides()]
        if loss.kinks is not None:
            sides.append(loss.kinks(z, y))
        return loss.value(z, y), sides

    def same(a, b):
        return all(np.array_equal(u, v) for u, v in zip(a, b))

    _, base_sides = data_loss()
    numeric = np.zeros(net.size)
    valid = np.ones(net.size, dtype=bool)
    try:
        for name in net.names:
            sl = net.slices[name]
            for j in range(sl.start, sl.stop):
                w = saved[j]
                net.params[j] = w + epsilon
                plus, plus_sides = data_loss()
                net.params[j] = w - epsilon
                minus, minus_sides = data_loss()
                net.params[j] = w
                difference, ok = plus - minus, same(plus_sides, base_sides) and same(minus_sides, base_sides)
                if net.specs[name].penalized:
                    difference, ok = _penalty_difference(w, difference, ok, l2, l1, epsilon)
                numeric[j], valid[j] = difference / (2 * epsilon), ok
    finally:
        net.params[...] = saved
    return numeric, valid


def check_gradients(net: Network, X: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0,
                    epsilon: float = 1e-6, threshold: float = 1e-6, dropout_seed: int = 0,
                    atol: float = 1e-8, l1: float = 0.0) -> List[TensorCheck]:
    """Compare ``net``'s backprop gradient with central differences, one row per parameter tensor."""
    if net.dtype != np.float64:
        raise ValueError("gradient checking needs a float64 network")
    saved = net.params.copy()  # batch norm's running statistics: training-mode passes update them
    net.loss_and_grad(X, y, loss, l2, training=training_mode(net), rng=np.random.default_rng(dropout_seed), l1=l1,
                      frozen_grad=True)
    analytic = net.grad.copy()
    net.params[...] = saved
    numeric, valid = numeric_gradient(net, X, y, loss, l2, l1, epsilon, dropout_seed)
    checks = []
    for name in net.names:  # frozen tensors too: their gradient is checked, though nothing trains them
        sl = net.slices[name]
        a, n, ok = analytic[sl], numeric[sl], valid[sl]
        diff = np.abs(a - n)[ok]
        abs_err = float(diff.max(initial=0.0))
        rel = abs_err / max(float((np.abs(a) + np.abs(n))[ok].max(initial=0.0)), TINY)
        checks.append(TensorCheck(name, int(a.size), int(ok.sum()), int((~ok).sum()), abs_err, rel,
                                  rel < threshold or abs_err < atol))
    return checks


# --- which error dominates a failure: the step ε or the gradient? ---------------------------------------
#
# The central difference has two errors besides a wrong analytic gradient (Taylor's theorem; floating point):
#   truncation  [J(θ + ε) − J(θ − ε)]/2ε − J′(θ) ≈ ε² J‴(θ)/6      ∝ ε²
#   round-off   ≈ ε_mach |J| / ε  (J's rounding, divided by 2ε)      ∝ 1/ε
# and an error of the analytic gradient itself does not depend on ε at all (∝ ε⁰). So the check is repeated at
# ε/4 and the errors of the tensors that failed are compared: error ∝ ε^k with k = log(ratio) / log(1/4) says
# which of the three it is (k ≈ 2, −1 or 0). A factor 4 rather than 2 keeps the three far apart (÷16, ×4, ×1)
# even though the largest round-off error over a tensor's entries is noisy.

DEFAULT_EPSILON = 1e-6  # the recommended step: both errors about 1e-10 · |J| in float64
STEP_FACTOR = 4  # the check is repeated at ε / STEP_FACTOR


@dataclass
class StepDiagnosis:
    """Why a gradient check failed, from how its error changed at ε/4 (``ratio`` = error(ε/4) / error(ε), over the
    tensors that failed) and, for another ε, whether the recommended one passes."""

    epsilon: float
    ratio: float
    failed: List[str]
    passes_at_default: Optional[bool] = None  # None: ε is the recommended one

    @property
    def order(self) -> float:
        """k in error ∝ ε^k: 2 truncation, −1 round-off, 0 a wrong gradient."""
        if not (np.isfinite(self.ratio) and self.ratio > 0):
            return float("nan")
        return float(np.log(self.ratio) / np.log(1 / STEP_FACTOR))

    @property
    def cause(self) -> str:
        """truncation (k ≳ 1) | round-off (k ≲ −0.5) | gradient (|k| ≤ 0.25: backprop is wrong) | mixed."""
        k = self.order
        if not np.isfinite(k):
            return "mixed"
        if k >= 1:
            return "truncation"
        if k <= -0.5:
            return "round-off"
        if abs(k) <= 0.25:
            return "gradient"
        return "mixed"

    def message(self) -> str:
        eps, smaller = f"{self.epsilon:g}", f"{self.epsilon / STEP_FACTOR:g}"
        if not (np.isfinite(self.ratio) and self.ratio > 0):
            change = "changed"
        elif 0.9 <= self.ratio <= 1.1:
            change = f"stayed as it was (×{self.ratio:.2f})"
        else:
            change = f"fell {1 / self.ratio:.1f}×" if self.ratio < 1 else f"grew {self.ratio:.1f}×"
        scaling = f"at ε = {smaller} the error {change} (error ∝ ε^{round(self.order, 1) + 0.0:g})"
        if self.passes_at_default is None and self.cause in ("truncation", "round-off"):
            kind = "truncation error (ε²)" if self.cause == "truncation" else "round-off (1/ε)"
            return (f"{scaling}: what is left is the difference quotient's own {kind}, about as small as central "
                    f"differences get in float64 at the recommended ε = {eps} — the --threshold or --atol may be "
                    "too strict.")
        text = {
            "truncation": f"ε = {eps} is too large: {scaling}, the central difference's truncation error "
                          "ε²·J‴/6 — the step, not backpropagation, dominates the error.",
            "round-off": f"ε = {eps} is too small: {scaling}, round-off ε_mach·|J|/ε — J(θ + ε) and J(θ − ε) "
                         "differ only in their last digits.",
            "gradient": f"{scaling}: the error does not depend on the step, so it is not the difference quotient's — "
                        f"backpropagation's gradient of {', '.join(self.failed)} is wrong.",
            "mixed": f"{scaling}: neither truncation (ε²), round-off (1/ε) nor a wrong gradient (ε⁰) alone "
                     "explains it (a kink nearby?).",
        }[self.cause]
        if self.passes_at_default is not None:
            text += (f" At the recommended ε = {DEFAULT_EPSILON:g} every tensor passes."
                     if self.passes_at_default else f" At the recommended ε = {DEFAULT_EPSILON:g} it fails too.")
        return text


def diagnose_step(check, epsilon: float, checks: List[TensorCheck], names: Optional[List[str]] = None) -> StepDiagnosis:
    """Re-run ``check(ε)`` (a list of TensorCheck in the same order as ``checks``) at ε/4 — and at the recommended
    ε when ``epsilon`` is another — and compare the errors of the tensors that failed (``names``: how to call
    them, default their tensor names)."""
    failed = [i for i, c in enumerate(checks) if not c.passed]
    names = names or [c.name for c in checks]
    smaller = check(epsilon / STEP_FACTOR)
    before = max(checks[i].max_abs_error for i in failed)
    after = max(smaller[i].max_abs_error for i in failed)
    ratio = after / before if before > 0 else float("nan")
    default = None
    if not np.isclose(epsilon, DEFAULT_EPSILON, rtol=1e-9, atol=0):
        default = all(c.passed for c in check(DEFAULT_EPSILON))
    return StepDiagnosis(epsilon, ratio, list(dict.fromkeys(names[i] for i in failed)), default)


# --- the self-test: every activation x loss on a small random network ------------------------------

def random_problem(loss: Loss, rng: np.random.Generator, n: int = 12, n_inputs: int = 4,
                   n_classes: int = 3, n_targets: int = 2) -> Tuple[np.ndarray, np.ndarray, int]:
    """(X, y, n_outputs) for a loss: class indices for classification, float columns for regression."""
    X = rng.normal(size=(n, n_inputs))
    if loss.task == "regression":
        return X, rng.normal(size=(n, n_targets)), n_targets
    k = 2 if loss.single_logit else n_classes
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)  # every class present, counts unequal (balanced classes can zero a gradient exactly)
    return X, y, loss.n_outputs(k, 1)


def self_test(epsilon: float = 1e-6, threshold: float = 1e-6, atol: float = 1e-8, seed: int = 0, l2: float = 0.01,
              dropout: float = 0.25, activations: Optional[List[str]] = None,
              losses: Optional[List[str]] = None) -> Dict[Tuple[str, str], List[TensorCheck]]:
    """Check a 4-5-4-out network (dropout on the first hidden layer, L2 on) for each activation x loss."""
    results = {}
    for act in activations or ACTIVATIONS.names():
        for loss_name in losses or LOSSES.names():
            loss = LOSSES.get(loss_name)
            rng = np.random.default_rng(seed)
            X, y, n_out = random_problem(loss, rng)
            net = Network([X.shape[1], 5, 4, n_out], [act, act, "identity"], [dropout, 0.0, 0.0])
            net.params[...] = rng.normal(0.0, 0.5, net.size)
            results[(act, loss_name)] = check_gradients(net, X, y, loss, l2, epsilon, threshold, seed, atol)
    return results


def diagnose_self_tests(results: Dict[Tuple[str, str], List[TensorCheck]], layers: Dict[str, List[TensorCheck]],
                        epsilon: float, threshold: float = 1e-6, atol: float = 1e-8) -> StepDiagnosis:
    """``diagnose_step`` for the self-tests (``self_test`` and ``layer_self_test`` results at ``epsilon``)."""
    def flat(matrix, by_layer):
        checks = [c for pair in matrix for c in matrix[pair]] + [c for name in by_layer for c in by_layer[name]]
        names = [f"{a} x {l}" for (a, l), cs in matrix.items() for _ in cs] + [n for n, cs in by_layer.items() for _ in cs]
        return checks, names

    def check(eps: float) -> List[TensorCheck]:
        return flat(self_test(eps, threshold, atol), layer_self_test(eps, threshold, atol))[0]

    checks, names = flat(results, layers)
    return diagnose_step(check, epsilon, checks, names)


# Networks of every layer type: (loss, model.hidden, output_activation). Each is checked in training mode on
# one fixed batch (batch norm couples the samples, so J is the batch's loss), with L2 on and dropout in one.
LAYER_NETWORKS: Dict[str, Tuple[str, list, str]] = {
    "batchnorm": ("cross_entropy", [{"units": 5, "activation": "tanh"}, {"type": "batchnorm"},
                                    {"units": 4, "activation": "sigmoid", "dropout": 0.25}], "identity"),
    "batchnorm (no affine)": ("mse", [{"units": 5, "activation": "tanh"},
                                      {"type": "batchnorm", "affine": False, "eps": 0.1}], "identity"),
    "residual": ("cross_entropy", [{"units": 5, "activation": "tanh"},
                                   {"type": "residual", "hidden": [{"units": 3, "activation": "sigmoid"},
                                                                   {"units": 5, "activation": "tanh"}]}], "identity"),
    "residual + projection": ("mse", [{"type": "residual", "projection": True,
                                       "hidden": [{"units": 5, "activation": "tanh"}, {"type": "batchnorm"}]}],
                              "identity"),
    "output sigmoid": ("mse", [{"units": 5, "activation": "tanh"}], "sigmoid"),
    "output tanh": ("mae", [{"units": 5, "activation": "sigmoid"}], "tanh"),
    "output softmax": ("mse", [{"units": 5, "activation": "tanh"}], "softmax"),
    "dense → batchnorm → tanh": ("cross_entropy", [{"units": 5, "activation": "tanh", "batchnorm": True}], "identity"),
}


def layer_network(hidden: list, n_inputs: int, n_outputs: int, output_activation: str = "identity") -> Network:
    """A float64 Network from ``model.hidden``-style entries (validated as a config's would be)."""
    model = model_from_dict({"hidden": hidden, "output_activation": output_activation})
    return Network(build_layers(model.hidden, n_inputs, n_outputs, model.output_activation))


def layer_self_test(epsilon: float = 1e-6, threshold: float = 1e-6, atol: float = 1e-8, seed: int = 0,
                    l2: float = 0.01) -> Dict[str, List[TensorCheck]]:
    """Check a small network of each layer type (LAYER_NETWORKS), random parameters around their defaults."""
    results = {}
    for name, (loss_name, hidden, output) in LAYER_NETWORKS.items():
        loss = LOSSES.get(loss_name)
        rng = np.random.default_rng(seed)
        X, y, n_out = random_problem(loss, rng)
        net = layer_network(hidden, X.shape[1], n_out, output)
        net.params[:net.size] = rng.normal(0.0, 0.5, net.size)
        for spec in net.specs.values():  # γ near 1, as training starts it
            if spec.kind == "scale":
                net.params[net.slices[spec.name]] += 1.0
        results[name] = check_gradients(net, X, y, loss, l2, epsilon, threshold, seed, atol)
    return results


# Deliberate mistakes a learner can plant to watch gradient checking catch them (``gdtrain gradcheck --bug``):
# name -> (what is wrong, the activation it needs or None).
BUGS: Dict[str, Tuple[str, Optional[str]]] = {
    "tanh-derivative": ("tanh'(z) written as 1 − tanh z (the square forgotten)", "tanh"),
    "sigmoid-derivative": ("σ'(z) written as σ(z) (the factor 1 − σ(z) forgotten)", "sigmoid"),
    "relu-derivative": ("relu'(z) = 1 everywhere (the gate on z > 0 forgotten)", "relu"),
    "l2-gradient": ("the L2 penalty λ‖W‖² differentiated as λW instead of 2λW (needs regularization.l2 > 0)", None),
    "output-delta": ("the output delta ŷ − y not divided by the batch size n", None),
    "batchnorm-mean-terms": ("batch norm's ∂L/∂x written as γ G/√(σ² + ε), without the mean terms (μ and σ² depend "
                             "on every sample); shows in the tensors below the batch norm", None),
    "residual-skip": ("a residual block's ∂L/∂x without the skip path's G (only the block's gradient passed down); "
                      "shows in the tensors below the block", None),
}
_WRONG_DERIVATIVES = {
    "tanh-derivative": lambda z, a: 1 - a,
    "sigmoid-derivative": lambda z, a: a,
    "relu-derivative": lambda z, a: np.ones_like(z),
}


def _batchnorm_without_mean_terms(layer: BatchNorm):
    def backward(delta, need_input_grad=True, reuse=False):
        if layer.affine:
            np.sum(delta * layer.normalized, axis=0, out=layer.g_gamma)
            np.sum(delta, axis=0, out=layer.g_beta)
        g = delta * layer.gamma if layer.affine else delta
        return g * layer._inv_std if need_input_grad else None

    return backward


def _residual_without_skip(layer: Residual):
    def backward(delta, need_input_grad=True, reuse=False):
        g = delta.copy()
        for i in range(len(layer.block) - 1, -1, -1):
            g = layer.block[i].backward(g, need_input_grad or i > 0, reuse)
        if layer.projection is not None:
            layer.projection.backward(delta.copy(), False, reuse)
        return g

    return backward


_WRONG_LAYERS = {"batchnorm-mean-terms": (BatchNorm, "batchnorm", _batchnorm_without_mean_terms),
                 "residual-skip": (Residual, "residual", _residual_without_skip)}


def plant_bug(name: str, net: Network, loss: Loss, l2: float) -> Loss:
    """Break ``net``'s backpropagation (not its forward pass) as ``BUGS[name]`` says; returns the loss to use."""
    what, activation = BUGS[name]
    if activation is not None:
        hidden = net.dense_layers()[:-1]
        layers = [layer for layer in hidden if layer.activation.name == activation]
        if not layers:
            raise ConfigError(f"--bug {name}: the network has no {activation} layer to plant it in")
        for layer in layers:
            layer.activation = dataclasses.replace(layer.activation, derivative=_WRONG_DERIVATIVES[name])
        return loss
    if name in _WRONG_LAYERS:
        cls, kind, wrong = _WRONG_LAYERS[name]
        layers = [layer for layer in net.all_layers() if isinstance(layer, cls)]
        if not layers:
            raise ConfigError(f"--bug {name}: the network has no {kind} layer to plant it in "
                              f"(add {{type: {kind}, ...}} to model.hidden)")
        for layer in layers:
            layer.backward = wrong(layer)
        return loss
    if name == "l2-gradient":
        if not l2:
            raise ConfigError("--bug l2-gradient: needs regularization.l2 > 0 (--set regularization.l2=0.01)")
        right = net.loss_and_grad

        def halved_penalty_gradient(*args, **kwargs):
            value = right(*args, **kwargs)
            for W, gW in net.penalized:
                gW -= l2 * W  # 2λW - λW = λW
            return value

        net.loss_and_grad = halved_penalty_gradient
        return loss
    right_delta = loss.value_and_delta

    def undivided(z, y):
        value, delta = right_delta(z, y)
        return value, delta * len(z)

    return dataclasses.replace(loss, value_and_delta=undivided)


def check_config(config, samples: int = 32, epsilon: float = 1e-6, threshold: float = 1e-6,
                 atol: float = 1e-8, bug: Optional[str] = None) -> Tuple[List[TensorCheck], Dict[str, object]]:
    """Gradient-check the network a config describes, in float64, on its first ``samples`` training rows
    (with a deliberate ``bug`` from BUGS planted in backpropagation, to see the check catch it), with the BLAS
    threads ``training.threads`` asks for (auto: the thread policy for products of ``samples`` rows)."""
    if config.problem is not None:
        return check_problem(config, epsilon, threshold, atol, bug)
    built = setup(dataclasses.replace(config, dtype="float64"))
    net, loss, data = built.net, built.loss, built.data
    if bug is not None:
        loss = plant_bug(bug, net, loss, config.regularization.l2)
    X, y = data.X_train[:samples], data.y_train[:samples]

    threads = choose_for(net, len(X), config.training.threads)

    def check(eps: float) -> List[TensorCheck]:
        with limited(threads):
            return check_gradients(net, X, y, loss, config.regularization.l2, eps, threshold, config.seed, atol,
                                   l1=config.regularization.l1)

    checks = check(epsilon)
    diagnosis = diagnose_step(check, epsilon, checks) if not all(c.passed for c in checks) else None
    return checks, {"samples": len(X), "parameters": net.size, "sizes": net.sizes, "net": net, "loss": loss,
                    "diagnosis": diagnosis, "threads": threads}


def check_problem(config, epsilon: float = 1e-6, threshold: float = 1e-6, atol: float = 1e-8,
                  bug: Optional[str] = None) -> Tuple[List[TensorCheck], Dict[str, object]]:
    """A 2-D problem's analytic gradient against central differences (f(θ + εeᵢ) − f(θ − εeᵢ))/2ε, at the
    points ``problems.check_points`` chooses (the start, beside each minimizer, a few points of its map). A
    perturbation that crosses a kink of a non-smooth function (l1: an axis) is counted and left out."""
    if bug is not None:
        raise ConfigError("--bug: plants a mistake in backpropagation, and a problem has no network (its gradient is "
                          "a formula); leave --bug out")
    problem = make_problem(config.problem)
    checks = []
    for name, theta in check_points(problem):
        analytic = problem.gradient(theta)
        numeric = np.empty(2)
        ok = np.ones(2, dtype=bool)
        for i in range(2):
            step = np.zeros(2)
            step[i] = epsilon
            numeric[i] = (problem.value(theta + step) - problem.value(theta - step)) / (2 * epsilon)
            if not problem.function.smooth and abs(theta[i]) <= epsilon:
                ok[i] = False  # the perturbation crosses a kink
        abs_err = float(np.abs(analytic - numeric)[ok].max(initial=0.0))
        rel = abs_err / max(float((np.abs(analytic) + np.abs(numeric))[ok].max(initial=0.0)), TINY)
        label = f"{name} ({theta[0]:.4g}, {theta[1]:.4g})"
        checks.append(TensorCheck(label, 2, int(ok.sum()), int((~ok).sum()), abs_err, rel,
                                  rel < threshold or abs_err < atol))
    return checks, {"samples": 0, "parameters": 2, "sizes": [2], "net": None, "loss": None, "diagnosis": None,
                    "title": f"gradient check of {problem.describe()}: ∇f = {problem.function.gradient_formula} "
                             f"against central differences, float64, ε={epsilon:g}"}
