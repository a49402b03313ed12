"""Numerical gradient checking: backpropagation's gradient against central differences, in float64.

For every parameter θⱼ (the seeds' §24):

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from .activations import ACTIVATIONS
from .losses import LOSSES, Loss
from .network import Network

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


def _kink_signature(net: Network, loss: Loss, z: np.ndarray, y: np.ndarray) -> bytes:
    """Which side of every kink the forward pass is on (empty when nothing has kinks)."""
    parts = []
    for layer in net.layers:
        if layer.activation.kinks is not None:
            parts.append(np.packbits(layer.activation.kinks(layer.pre_activation)).tobytes())
    if loss.kinks is not None:
        parts.append(np.asarray(loss.kinks(z, y)).tobytes())
    return b"".join(parts)


def check_gradients(net: Network, X: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0,
                    epsilon: float = 1e-6, threshold: float = 1e-6, dropout_seed: int = 0,
                    atol: float = 1e-8, l1: float = 0.0) -> List[TensorCheck]:
    """Compare ``net``'s backprop gradient with central differences, one row per parameter tensor."""
    if net.dtype != np.float64:
        raise ValueError("gradient checking needs a float64 network")
    has_dropout = any(layer.dropout > 0 for layer in net.layers)

    def objective() -> Tuple[float, bytes]:
        rng = np.random.default_rng(dropout_seed)
        z = net.forward(X, training=has_dropout, rng=rng)
        signature = _kink_signature(net, loss, z, y)
        if l1:  # |w| has its kink at w = 0
            signature += b"".join(np.sign(layer.W).tobytes() for layer in net.layers)
        return loss.value(z, y) + net.penalty(l2, l1), signature

    net.loss_and_grad(X, y, loss, l2, training=has_dropout, rng=np.random.default_rng(dropout_seed), l1=l1)
    analytic = net.grad.copy()
    _, base_signature = objective()
    numeric = np.zeros_like(analytic)
    valid = np.ones(net.size, dtype=bool)
    theta = net.params
    for j in range(net.size):
        saved = theta[j]
        theta[j] = saved + epsilon
        f_plus, s_plus = objective()
        theta[j] = saved - epsilon
        f_minus, s_minus = objective()
        theta[j] = saved
        numeric[j] = (f_plus - f_minus) / (2 * epsilon)
        valid[j] = s_plus == base_signature and s_minus == base_signature
    checks = []
    for name, sl in net.slices.items():
        a, n, ok = analytic[sl], numeric[sl], valid[sl]
        diff = np.abs(a - n)[ok]
        abs_err = float(diff.max(initial=0.0))
        rel = abs_err / max(float((np.abs(a) + np.abs(n))[ok].max(initial=0.0)), TINY)
        checks.append(TensorCheck(name, int(a.size), int(ok.sum()), int((~ok).sum()), abs_err, rel,
                                  rel < threshold or abs_err < atol))
    return checks


# --- the self-test: every activation x loss on a small random network ------------------------------

def random_problem(loss: Loss, rng: np.random.Generator, n: int = 12, n_inputs: int = 4,
                   n_classes: int = 3, n_targets: int = 2) -> Tuple[np.ndarray, np.ndarray, int]:
    """(X, y, n_outputs) for a loss: class indices for classification, float columns for regression."""
    X = rng.normal(size=(n, n_inputs))
    if loss.task == "regression":
        return X, rng.normal(size=(n, n_targets)), n_targets
    k = 2 if loss.name == "bce" else n_classes
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


def check_config(config, samples: int = 32, epsilon: float = 1e-6, threshold: float = 1e-6,
                 atol: float = 1e-8) -> Tuple[List[TensorCheck], Dict[str, object]]:
    """Gradient-check the network a config describes, in float64, on its first ``samples`` training rows."""
    import dataclasses

    from .experiment import setup

    built = setup(dataclasses.replace(config, dtype="float64"))
    net, loss, data = built.net, built.loss, built.data
    X, y = data.X_train[:samples], data.y_train[:samples]
    checks = check_gradients(net, X, y, loss, config.regularization.l2, epsilon, threshold, config.seed, atol,
                             l1=config.regularization.l1)
    return checks, {"samples": len(X), "parameters": net.size, "sizes": net.sizes, "net": net, "loss": loss}
