"""Gradients: activations, losses and whole layer stacks against central differences and closed forms.

Every finite-difference check here uses the test's own central-difference code (``central_diff``) and,
where possible, independent reference formulas (``REF_ACT``, ``ref_loss``) rather than gdtrain's
own; ``gdtrain.gradcheck`` is tested separately (it must pass on correct code and fail on wrong code).

Relative error per tensor (as DESIGN.md and gradcheck.py define it):

    rel(a, n) = max|a − n| / max(|a| + |n|)
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import rel_err

from gdtrain.activations import ACTIVATIONS, ELU_ALPHA, LEAKY_SLOPE
from gdtrain.errors import ConfigError
from gdtrain.gradcheck import (LAYER_NETWORKS, check_gradients, layer_network, layer_self_test, numeric_gradient,
                               numeric_gradient_by_entry, plant_bug, random_problem, self_test)
from gdtrain.losses import LOSSES
from gdtrain.network import Network

ACT_NAMES = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"]
LOSS_NAMES = ["mse", "mae", "bce", "cross_entropy", "hinge"]
KINKED_ACTS = {"relu", "leaky_relu"}

H_ELEMENTWISE = 1e-5  # step for derivatives of scalar functions (≈ ε_mach^(1/3))
H_PARAMS = 1e-6  # step for derivatives of the training objective w.r.t. parameters
DROPOUT_SEED = 1234




def central_diff(f, theta: np.ndarray, h: float) -> np.ndarray:
    """[f(θ + h eⱼ) − f(θ − h eⱼ)] / 2h for every entry j of ``theta`` (perturbed in place, restored)."""
    flat = theta.reshape(-1)
    out = np.empty(flat.size, dtype=np.float64)
    for j in range(flat.size):
        saved = flat[j]
        flat[j] = saved + h
        f_plus = f()
        flat[j] = saved - h
        f_minus = f()
        flat[j] = saved
        out[j] = (f_plus - f_minus) / (2 * h)
    return out.reshape(theta.shape)


# --- independent reference formulas -----------------------------------------------------------------
# Written directly from the textbook definitions, valid for moderate z (|z| ≲ 30); no stability tricks.

REF_ACT = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2),
    "tanh": (lambda z: (1.0 - np.exp(-2 * z)) / (1.0 + np.exp(-2 * z)), lambda z: 1.0 / np.cosh(z) ** 2),
    "relu": (lambda z: np.where(z > 0, z, 0.0), lambda z: np.where(z > 0, 1.0, 0.0)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "elu": (lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1.0),
            lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
    "softplus": (lambda z: np.log1p(np.exp(z)), lambda z: 1.0 / (1.0 + np.exp(-z))),
}


def ref_loss(name: str, z: np.ndarray, y: np.ndarray) -> float:
    """The loss from its definition (torch's conventions: means over the batch), for moderate logits."""
    n = len(z)
    if name == "mse":
        return float(sum((z[i, j] - y[i, j]) ** 2 for i in range(n) for j in range(z.shape[1])) / z.size)
    if name == "mae":
        return float(sum(abs(z[i, j] - y[i, j]) for i in range(n) for j in range(z.shape[1])) / z.size)
    if name == "bce":
        s = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return float(-np.mean(y * np.log(s) + (1 - y) * np.log(1 - s)))
    if name == "cross_entropy":
        softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return float(-np.mean(np.log(softmax[np.arange(n), y])))
    if name == "hinge":  # torch.nn.functional.multi_margin_loss(p=1, margin=1, reduction='mean')
        K = z.shape[1]
        per_sample = [sum(max(0.0, 1.0 - z[i, y[i]] + z[i, j]) for j in range(K) if j != y[i]) / K for i in range(n)]
        return float(np.mean(per_sample))
    raise KeyError(name)


def ref_penalty(views, l2: float) -> float:
    return l2 * sum(float(np.sum(w ** 2)) for name, w in views.items() if name.startswith("W"))


def ref_objective(net: Network, X, y, loss_name: str, l2: float) -> float:
    """J + λΣ‖W‖² computed from ``net.views(net.params)`` with the reference formulas (no dropout)."""
    v = net.views(net.params)
    a = X
    for i, act in enumerate([layer.activation.name for layer in net.layers], start=1):
        a = REF_ACT[act][0](a @ v[f"W{i}"].T + v[f"b{i}"])
    return ref_loss(loss_name, a, y) + ref_penalty(v, l2)


# --- 1. activations -----------------------------------------------------------------------------------

def _grid(name: str) -> np.ndarray:
    """z on [−4, 4], away from 0 (the kink of relu / leaky relu and of elu's second derivative)."""
    z = np.linspace(-4.0, 4.0, 801)
    return z[np.abs(z) > 1e-3]


@pytest.mark.parametrize("name", ACT_NAMES)
def test_activation_derivative_matches_central_differences(name):
    act = ACTIVATIONS.get(name)
    z = _grid(name)
    a = act.forward(z)
    deriv = act.backward(z, a, np.ones_like(z))
    numeric = (act.forward(z + H_ELEMENTWISE) - act.forward(z - H_ELEMENTWISE)) / (2 * H_ELEMENTWISE)
    # elementwise: |a − n| ≤ 1e-7 (|a| + |n|)  (also holds where both are exactly 0, relu for z < 0)
    worst = np.max(np.abs(deriv - numeric) / np.maximum(np.abs(deriv) + np.abs(numeric), 1e-300))
    assert worst < 1e-7, f"{name}: worst elementwise relative error {worst:.3g}"
    assert rel_err(deriv, numeric) < 1e-7
    # and against the closed-form derivative
    np.testing.assert_allclose(deriv, REF_ACT[name][1](z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ACT_NAMES)
def test_activation_backward_multiplies_incoming_gradient(name):
    """δ = ∂L/∂a ⊙ φ'(z): backward scales the incoming gradient elementwise."""
    act = ACTIVATIONS.get(name)
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, size=(7, 5))
    g = rng.normal(size=(7, 5))
    a = act.forward(z)
    np.testing.assert_allclose(act.backward(z, a, g), g * REF_ACT[name][1](z), rtol=1e-12, atol=1e-15)
    assert a.shape == z.shape and a.dtype == np.float64


@pytest.mark.parametrize("name", ACT_NAMES)
def test_activation_forward_matches_closed_form(name):
    act = ACTIVATIONS.get(name)
    z = np.linspace(-6.0, 6.0, 241)
    np.testing.assert_allclose(act.forward(z), REF_ACT[name][0](z), rtol=1e-13, atol=1e-15)


def test_activation_conventions_at_the_kink():
    """At exactly z = 0: relu' = 0, leaky' = 0.01 (as torch), elu' = 1, and every forward is 0 or log 2 / ½."""
    z = np.zeros(1)
    one = np.ones(1)
    d = {name: float(ACTIVATIONS.get(name).backward(z, ACTIVATIONS.get(name).forward(z), one)[0]) for name in ACT_NAMES}
    assert d["relu"] == 0.0
    assert d["leaky_relu"] == LEAKY_SLOPE == 0.01
    assert d["elu"] == 1.0
    assert d["sigmoid"] == 0.25 and d["tanh"] == 1.0 and d["softplus"] == 0.5 and d["identity"] == 1.0
    assert ACTIVATIONS.get("softplus").forward(z)[0] == pytest.approx(np.log(2), rel=1e-15)
    assert ACTIVATIONS.get("sigmoid").forward(z)[0] == 0.5


def test_activations_are_stable_and_correct_at_extreme_inputs():
    z = np.array([-800.0, -700.0, -30.0, -1.5, 1.5, 30.0, 700.0, 800.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = {name: ACTIVATIONS.get(name).forward(z) for name in ACT_NAMES}
        derivs = {name: ACTIVATIONS.get(name).backward(z, out[name], np.ones_like(z)) for name in ACT_NAMES}
    for name in ACT_NAMES:
        assert np.isfinite(out[name]).all() and np.isfinite(derivs[name]).all(), name

    s = out["sigmoid"]
    assert s[-1] == 1.0 and s[-2] == 1.0
    assert s[0] == 0.0  # e^-800 ≈ 3.7e-348 is below the smallest float64: 0 is the correctly rounded value
    assert s[1] == pytest.approx(np.exp(-700.0), rel=1e-13)  # ≈ 9.9e-305, kept, not flushed to 0
    assert s[2] == pytest.approx(np.exp(-30.0) / (1 + np.exp(-30.0)), rel=1e-14)
    assert s[3] == pytest.approx(1 / (1 + np.exp(1.5)), rel=1e-15)
    assert s[4] == pytest.approx(1 / (1 + np.exp(-1.5)), rel=1e-15)
    assert derivs["sigmoid"][0] == 0.0 and derivs["sigmoid"][-1] == 0.0
    assert derivs["sigmoid"][1] == pytest.approx(np.exp(-700.0), rel=1e-13)

    sp = out["softplus"]
    assert sp[-1] == 800.0 and sp[-2] == 700.0 and sp[0] == 0.0
    assert sp[1] == pytest.approx(np.exp(-700.0), rel=1e-13)
    np.testing.assert_allclose(sp[2:6], np.log1p(np.exp(z[2:6])), rtol=1e-15)
    np.testing.assert_allclose(derivs["softplus"], s, rtol=1e-15)

    t = out["tanh"]
    assert t[0] == -1.0 and t[-1] == 1.0 and derivs["tanh"][0] == 0.0 and derivs["tanh"][-1] == 0.0

    e = out["elu"]
    assert e[0] == -ELU_ALPHA and e[-1] == 800.0
    assert e[3] == pytest.approx(np.expm1(-1.5), rel=1e-15)
    assert e[2] == pytest.approx(np.exp(-30.0) - 1.0, rel=1e-15)
    assert derivs["elu"][3] == pytest.approx(np.exp(-1.5), rel=1e-14)

    lr = out["leaky_relu"]
    np.testing.assert_array_equal(lr[:4], 0.01 * z[:4])
    np.testing.assert_array_equal(lr[4:], z[4:])
    np.testing.assert_array_equal(out["relu"], np.maximum(z, 0))


# --- 2. losses ------------------------------------------------------------------------------------------

def loss_problem(name: str, seed: int = 0, n: int = 8):
    """(z, y) for a loss with every kink (mae residual 0, hinge margin 0) at least 0.05 away."""
    rng = np.random.default_rng(seed)
    if name in ("mse", "mae"):
        z = rng.normal(size=(n, 2))
        offset = rng.uniform(0.05, 1.0, size=z.shape) * rng.choice([-1.0, 1.0], size=z.shape)
        return z, z + offset
    if name == "bce":
        y = np.array([0, 1] * (n // 2))
        return rng.normal(0, 2, size=(n, 1)), rng.permutation(y)
    K = 3
    y = rng.permutation(np.arange(n) % K)
    for _ in range(100):
        z = rng.normal(0, 1.0, size=(n, K))
        if name != "hinge":
            return z, y
        m = 1 - z[np.arange(n), y][:, None] + z
        m[np.arange(n), y] = np.inf
        if np.abs(m).min() > 0.05 and (m > 0).any() and ((m < 0) & np.isfinite(m)).any():
            return z, y
    raise AssertionError("no kink-free hinge problem found")


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_value_matches_direct_formula(name):
    loss = LOSSES.get(name)
    for seed in range(3):
        z, y = loss_problem(name, seed)
        expected = ref_loss(name, z, y)
        assert loss.value(z, y) == pytest.approx(expected, rel=1e-13, abs=1e-15)
        value, _ = loss.value_and_delta(z.copy(), y)
        assert value == pytest.approx(expected, rel=1e-13, abs=1e-15)


def test_hinge_value_on_a_hand_computed_example():
    """multi_margin_loss([[0.1, 0.2, 0.4, 0.8]], [3]) = (0.3 + 0.4 + 0.6)/4 = 0.325 (torch docs' example)."""
    z = np.array([[0.1, 0.2, 0.4, 0.8]])
    assert LOSSES.get("hinge").value(z, np.array([3])) == pytest.approx(0.325, rel=1e-15)
    value, delta = LOSSES.get("hinge").value_and_delta(z, np.array([3]))
    assert value == pytest.approx(0.325, rel=1e-15)
    np.testing.assert_allclose(delta, [[0.25, 0.25, 0.25, -0.75]], rtol=1e-15)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_delta_matches_central_differences(name):
    loss = LOSSES.get(name)
    for seed in range(3):
        z, y = loss_problem(name, seed)
        _, delta = loss.value_and_delta(z.copy(), y)
        assert delta.shape == z.shape
        numeric = central_diff(lambda: loss.value(z, y), z, H_PARAMS)
        numeric_ref = central_diff(lambda: ref_loss(name, z, y), z, H_PARAMS)
        assert rel_err(delta, numeric) < 1e-7, (seed, rel_err(delta, numeric))
        assert rel_err(delta, numeric_ref) < 1e-7, (seed, rel_err(delta, numeric_ref))


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_delta_matches_closed_form(name):
    """The table in losses.py: 2(z − y)/nk, sign(z − y)/nk, (σ − y)/n, (softmax − onehot)/n, hinge counts."""
    z, y = loss_problem(name, 5)
    _, delta = LOSSES.get(name).value_and_delta(z.copy(), y)
    n = len(z)
    if name == "mse":
        expected = 2 * (z - y) / z.size
    elif name == "mae":
        expected = np.sign(z - y) / z.size
    elif name == "bce":
        expected = (1 / (1 + np.exp(-z)) - y[:, None]) / n
    elif name == "cross_entropy":
        expected = (np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) - np.eye(z.shape[1])[y]) / n
    else:
        rows = np.arange(n)
        active = (1 - z[rows, y][:, None] + z > 0).astype(float)
        active[rows, y] = 0
        active[rows, y] = -active.sum(axis=1)
        expected = active / z.size
    np.testing.assert_allclose(delta, expected, rtol=1e-13, atol=1e-16)


def test_loss_value_and_delta_do_not_modify_logits():
    for name in LOSS_NAMES:
        z, y = loss_problem(name, 2)
        z0 = z.copy()
        LOSSES.get(name).value_and_delta(z, y)
        LOSSES.get(name).value(z, y)
        np.testing.assert_array_equal(z, z0, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_and_bce_are_stable_at_logits_of_1000(dtype):
    ce, bce = LOSSES.get("cross_entropy"), LOSSES.get("bce")
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0], [1000.0, 1000.0, -1000.0]], dtype=dtype)
    y = np.array([0, 0, 1])
    zb = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0], [0.0]], dtype=dtype)
    yb = np.array([1, 0, 0, 1, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        ce_value, ce_delta = ce.value_and_delta(z.copy(), y)
        ce_plain = ce.value(z, y)
        bce_value, bce_delta = bce.value_and_delta(zb.copy(), yb)
        bce_plain = bce.value(zb, yb)
    # row losses: 0, 2000, log 2  |  0, 0, 1000, 1000, log 2
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    for v in (ce_value, ce_plain):
        assert v == pytest.approx((2000 + np.log(2)) / 3, rel=rtol)
    for v in (bce_value, bce_plain):
        assert v == pytest.approx((2000 + np.log(2)) / 5, rel=rtol)
    assert ce_delta.dtype == dtype and bce_delta.dtype == dtype
    np.testing.assert_allclose(ce_delta, np.array([[0, 0, 0], [-1, 1, 0], [0.5, -0.5, 0]]) / 3, rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(bce_delta, np.array([[0], [0], [1], [-1], [-0.5]]) / 5, rtol=rtol, atol=1e-30)


# --- 3. layer stacks: the full gradient of a 2-hidden-layer network -------------------------------------

def stack_problem(act: str, loss_name: str, dropout: float = 0.0, seed: int = 0, dtype=np.float64,
                  drop1: float = 0.0):
    """A [3, 5, 4, out] network with random parameters and (X, y) with every class present, unequal counts.

    The first draw (from ``seed`` on) whose pre-activations, MAE residuals and hinge margins are all
    at least 1e-3 away from their kinks, so that steps of 1e-6 cannot cross one.
    """
    for attempt in range(100):
        net, X, y, loss = _draw_stack_problem(act, loss_name, (drop1, dropout), seed + 1000 * attempt, dtype)
        z = net.forward(X, training=max(drop1, dropout) > 0, rng=np.random.default_rng(DROPOUT_SEED))
        if kink_signature(net, loss_name, z, y)[1] > 1e-3:
            return net, X, y, loss
    raise AssertionError("no kink-free problem found")


def _draw_stack_problem(act, loss_name, dropouts, seed, dtype):
    rng = np.random.default_rng(seed)
    loss = LOSSES.get(loss_name)
    n = 10
    X = rng.normal(size=(n, 3))
    if loss.task == "regression":
        y, n_out = rng.normal(size=(n, 2)), 2
        if loss_name == "mae":  # keep residuals away from the kink
            y = y + np.sign(y) * 0.5
    else:
        K = 2 if loss_name == "bce" else 3
        y = rng.permutation(np.r_[np.arange(K), rng.integers(0, K, n - K)])
        y[:K] = np.arange(K)
        n_out = 1 if loss_name == "bce" else K
    net = Network([3, 5, 4, n_out], [act, act, "identity"], [*dropouts, 0.0], dtype=dtype)
    net.params[...] = rng.normal(0.0, 0.7, net.size)
    return net, X, y, loss


def kink_signature(net: Network, loss_name: str, z: np.ndarray, y: np.ndarray):
    """Which side of every kink the last forward pass is on, and how far the nearest kink is."""
    parts, dist = [], [np.inf]
    for layer, act in [(layer, layer.activation.name) for layer in net.layers]:
        if act in KINKED_ACTS:
            parts.append(layer.pre_activation > 0)
            dist.append(np.abs(layer.pre_activation).min())
    if loss_name == "mae":
        parts.append(z > y)
        dist.append(np.abs(z - y).min())
    if loss_name == "hinge":
        m = 1 - z[np.arange(len(y)), y][:, None] + z
        m[np.arange(len(y)), y] = np.inf
        parts.append(m > 0)
        dist.append(np.abs(m).min())
    return b"".join(np.packbits(p).tobytes() for p in parts), float(min(dist))


def fd_gradient(net: Network, X, y, loss, l2: float, training: bool):
    """Central differences of J + λR over every parameter; asserts no perturbation crosses a kink."""
    signatures = []

    def objective():
        z = net.forward(X, training=training, rng=np.random.default_rng(DROPOUT_SEED))
        signatures.append(kink_signature(net, loss.name, z, y)[0])
        return loss.value(z, y) + net.penalty(l2)

    base = objective()
    numeric = central_diff(objective, net.params, H_PARAMS)
    assert all(s == signatures[0] for s in signatures), "a finite-difference step crossed a kink"
    return base, numeric


# (l2, dropout of hidden layer 1, dropout of hidden layer 2)
VARIANTS = {"plain": (0.0, 0.0, 0.0), "l2": (0.01, 0.0, 0.0), "l2_dropout": (0.01, 0.0, 0.3),
            "l2_dropout_both": (0.01, 0.3, 0.3)}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("loss_name", LOSS_NAMES)
@pytest.mark.parametrize("act", ACT_NAMES)
def test_network_gradient_matches_central_differences(act, loss_name, variant):
    l2, drop1, drop2 = VARIANTS[variant]
    net, X, y, loss = stack_problem(act, loss_name, drop2, drop1=drop1)
    training = drop1 > 0 or drop2 > 0
    value = net.loss_and_grad(X, y, loss, l2, training=training, rng=np.random.default_rng(DROPOUT_SEED))
    analytic = net.grad.copy()
    z = net.forward(X, training=training, rng=np.random.default_rng(DROPOUT_SEED))
    _, distance = kink_signature(net, loss_name, z, y)
    assert distance > 1e-3, "problem too close to a kink for finite differences"

    base, numeric = fd_gradient(net, X, y, loss, l2, training)
    assert value == pytest.approx(base, rel=1e-14)  # same masks in loss_and_grad and in the re-seeded forward
    if not training:  # the differentiated function is the textbook objective
        assert base == pytest.approx(ref_objective(net, X, y, loss_name, l2), rel=1e-12)
    a, nm = net.views(analytic), net.views(numeric)
    errors = {name: rel_err(a[name], nm[name]) for name in net.names}
    assert max(errors.values()) < 1e-7, errors
    for name in net.names:  # no tensor passes vacuously
        assert np.abs(a[name]).max() > 1e-6, name


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_dropout_changes_the_gradient_and_masks_follow_the_rng(act):
    """The dropout variant above really drops units: the mask depends on the rng and alters the gradient."""
    net, X, y, loss = stack_problem(act, "cross_entropy", dropout=0.3)
    net.loss_and_grad(X, y, loss, 0.01, training=True, rng=np.random.default_rng(DROPOUT_SEED))
    g_seed = net.grad.copy()
    net.loss_and_grad(X, y, loss, 0.01, training=True, rng=np.random.default_rng(DROPOUT_SEED))
    np.testing.assert_array_equal(net.grad, g_seed)  # same seed, same masks, same gradient
    net.loss_and_grad(X, y, loss, 0.01, training=False)
    assert rel_err(net.grad, g_seed) > 1e-3
    # inverted dropout: kept activations are scaled by 1/(1 − p), dropped ones are 0
    net.forward(X, training=False)
    a_eval = ACTIVATIONS.get(act).forward(net.layers[1].pre_activation)
    a_train = net.layers[1].forward(net.layers[0].forward(X), training=True, rng=np.random.default_rng(7))
    kept = a_train != 0
    assert 0 < (~kept).sum() < a_train.size
    np.testing.assert_allclose(a_train[kept], a_eval[kept] / 0.7, rtol=1e-14)


def test_l2_penalty_and_gradient_are_on_weights_only():
    net, X, y, loss = stack_problem("tanh", "mse")
    net.loss_and_grad(X, y, loss, 0.0, training=False)
    g0 = net.views(net.grad.copy())
    v0 = net.objective(X, y, loss)
    value = net.loss_and_grad(X, y, loss, 0.25, training=False)
    g1 = net.views(net.grad.copy())
    p = net.views(net.params)
    assert value == pytest.approx(v0 + 0.25 * sum(float(np.sum(p[w] ** 2)) for w in ("W1", "W2", "W3")), rel=1e-14)
    for name in net.names:
        extra = 2 * 0.25 * p[name] if name.startswith("W") else 0.0
        np.testing.assert_allclose(g1[name], g0[name] + extra, rtol=1e-13, atol=1e-16, err_msg=name)


# --- 4. gdtrain.gradcheck: passes on correct code, fails on wrong code ---------------------------------

def test_self_test_passes_for_every_activation_and_loss():
    results = self_test()
    assert set(results) == {(a, l) for a in ACT_NAMES for l in LOSS_NAMES}
    for key, checks in results.items():
        assert [c.name for c in checks] == ["W1", "b1", "W2", "b2", "W3", "b3"], key
        for c in checks:
            assert c.passed, (key, c)
            assert c.rel_error < 1e-6 or c.max_abs_error < 1e-8, (key, c)
            assert c.checked >= 0.9 * c.size and c.checked + c.kinks == c.size, (key, c)


def _tensor_status(checks):
    return {c.name: c.passed for c in checks}


def _wrong_tanh():
    tanh = ACTIVATIONS.get("tanh")
    return dataclasses.replace(tanh, derivative=lambda z, a: 1 - a)  # forgot the square


def test_check_gradients_catches_a_wrong_activation_derivative(monkeypatch):
    net, X, y, loss = stack_problem("tanh", "cross_entropy")
    assert all(c.passed for c in check_gradients(net, X, y, loss, 0.01))
    monkeypatch.setattr(net.layers[0], "activation", _wrong_tanh())  # only the first layer is wrong
    checks = check_gradients(net, X, y, loss, 0.01)
    assert _tensor_status(checks) == {"W1": False, "b1": False, "W2": True, "b2": True, "W3": True, "b3": True}
    assert min(c.rel_error for c in checks if not c.passed) > 1e-3


def test_self_test_catches_a_wrong_registered_activation(monkeypatch):
    monkeypatch.setitem(ACTIVATIONS._items, "tanh", _wrong_tanh())
    results = self_test(activations=["tanh"], losses=["mse", "cross_entropy"])
    for key, checks in results.items():
        # both hidden layers use the wrong derivative; the linear output layer's gradient is still right
        assert _tensor_status(checks) == {"W1": False, "b1": False, "W2": False, "b2": False,
                                          "W3": True, "b3": True}, key


def test_check_gradients_catches_a_slightly_scaled_gradient(monkeypatch):
    net, X, y, loss = stack_problem("sigmoid", "bce")
    original = net.loss_and_grad

    def scaled(*args, **kwargs):
        value = original(*args, **kwargs)
        net.grad *= 1 + 1e-4  # a 0.01 % error everywhere
        return value

    monkeypatch.setattr(net, "loss_and_grad", scaled)
    checks = check_gradients(net, X, y, loss, 0.01)
    assert not any(c.passed for c in checks)
    for c in checks:
        assert c.rel_error == pytest.approx(0.5e-4, rel=0.01)  # |(1+ε)g − g| / |(2+ε)g| ≈ ε/2


def test_check_gradients_catches_a_missing_l2_gradient(monkeypatch):
    net, X, y, loss = stack_problem("softplus", "mse")
    original = net.loss_and_grad
    monkeypatch.setattr(net, "loss_and_grad", lambda X, y, loss, l2=0.0, **kw: original(X, y, loss, 0.0, **kw))
    checks = check_gradients(net, X, y, loss, l2=0.01)
    assert _tensor_status(checks) == {"W1": False, "b1": True, "W2": False, "b2": True, "W3": False, "b3": True}


# --- 5. float32 networks --------------------------------------------------------------------------------

@pytest.mark.parametrize("loss_name", LOSS_NAMES)
@pytest.mark.parametrize("act", ACT_NAMES)
def test_float32_network_runs_in_float32_and_agrees_with_float64(act, loss_name):
    net64, X, y, loss = stack_problem(act, loss_name)
    net32 = net64.copy(dtype=np.float32)
    net32.params[...] = net64.params  # rounded to float32 ...
    net64.params[...] = net32.params  # ... and both nets start from exactly the same values
    X32 = X.astype(np.float32)
    y32 = y.astype(np.float32) if loss.task == "regression" else y

    value32 = net32.loss_and_grad(X32, y32, loss, 0.01, training=False)
    assert net32.params.dtype == net32.grad.dtype == np.float32
    for layer in net32.layers:
        assert layer.pre_activation.dtype == np.float32
        assert layer.W.dtype == layer.gW.dtype == layer.gb.dtype == np.float32
    z32 = net32.forward(X32)
    assert z32.dtype == np.float32
    assert loss.value_and_delta(z32, y32)[1].dtype == np.float32

    value64 = net64.loss_and_grad(X32.astype(np.float64), y, loss, 0.01, training=False)
    assert value32 == pytest.approx(value64, rel=1e-5)
    np.testing.assert_allclose(z32, net64.forward(X32.astype(np.float64)), rtol=1e-4, atol=1e-5)
    g32, g64 = net32.views(net32.grad), net64.views(net64.grad)
    errors = {name: rel_err(g32[name], g64[name]) for name in net32.names}
    assert max(errors.values()) < 1e-4, errors


def test_float32_dropout_network_stays_float32():
    net, X, y, loss = stack_problem("relu", "cross_entropy", dropout=0.3, dtype=np.float32)
    value = net.loss_and_grad(X.astype(np.float32), y, loss, 0.01, training=True, rng=np.random.default_rng(0))
    assert np.isfinite(value) and net.grad.dtype == np.float32 and np.isfinite(net.grad).all()
    assert all(layer.pre_activation.dtype == np.float32 for layer in net.layers)
    assert net.forward(X.astype(np.float32), training=True, rng=np.random.default_rng(0)).dtype == np.float32


def test_check_gradients_refuses_float32_networks():
    net, X, y, loss = stack_problem("tanh", "mse", dtype=np.float32)
    with pytest.raises(ValueError, match="float64"):
        check_gradients(net, X.astype(np.float32), y.astype(np.float32), loss)


def test_check_config_passes_on_a_real_config():
    from gdtrain.config import from_dict
    from gdtrain.gradcheck import check_config

    config = from_dict({"seed": 0, "dtype": "float32", "data": {"source": "iris"},
                        "model": {"hidden": [{"units": 6, "activation": "tanh", "dropout": 0.2}]},
                        "loss": "cross_entropy", "regularization": {"l2": 0.001}})
    checks, info = check_config(config, samples=24)
    assert info["samples"] == 24 and info["parameters"] == 4 * 6 + 6 + 6 * 3 + 3 and info["sizes"] == [4, 6, 3]
    assert [c.name for c in checks] == ["W1", "b1", "W2", "b2"]
    assert all(c.passed and c.checked == c.size for c in checks), checks
    assert max(c.rel_error for c in checks) < 1e-6


# --- planted bugs: gradient checking catches each deliberate mistake ------------------------------

@pytest.mark.parametrize("bug, activation, l2, wrong", [
    ("tanh-derivative", "tanh", 0.0, {"W1", "b1"}),
    ("sigmoid-derivative", "sigmoid", 0.0, {"W1", "b1"}),
    ("relu-derivative", "relu", 0.0, {"W1", "b1"}),
    ("l2-gradient", "tanh", 0.05, {"W1", "W2"}),  # biases carry no penalty
    ("output-delta", "tanh", 0.0, {"W1", "b1", "W2", "b2"}),
])
def test_gradcheck_catches_each_planted_bug(bug, activation, l2, wrong):
    from gdtrain.config import from_dict
    from gdtrain.gradcheck import check_config

    config = from_dict({"data": {"source": "iris"}, "regularization": {"l2": l2},
                        "model": {"hidden": [{"units": 6, "activation": activation}]}})
    clean, _ = check_config(config, samples=24)
    assert all(c.passed for c in clean)
    checks, _ = check_config(config, samples=24, bug=bug)
    assert {c.name for c in checks if not c.passed} == wrong
    assert min(c.rel_error for c in checks if not c.passed) > 1e-3


def test_planting_a_bug_the_network_cannot_hold_is_a_config_error():
    from gdtrain.config import from_dict
    from gdtrain.errors import ConfigError
    from gdtrain.gradcheck import check_config

    config = from_dict({"data": {"source": "iris"}, "model": {"hidden": [{"units": 6, "activation": "tanh"}]}})
    with pytest.raises(ConfigError, match="no relu layer"):
        check_config(config, bug="relu-derivative")
    with pytest.raises(ConfigError, match="needs regularization.l2 > 0"):
        check_config(config, bug="l2-gradient")


# --- 6. layers beyond Dense: batch norm, residual blocks, output activations, frozen tensors -------------

def test_every_layer_type_passes_the_gradient_check():
    results = layer_self_test()
    assert set(results) == set(LAYER_NETWORKS)
    for name, checks in results.items():
        assert all(c.passed for c in checks), (name, [(c.name, c.rel_error) for c in checks])
        assert all(c.checked == c.size for c in checks), name  # no kinks: tanh and sigmoid only
    names = {c.name for checks in results.values() for c in checks}
    assert {"gamma1", "beta1", "W4"} <= names


def test_the_entry_by_entry_difference_agrees_with_the_batched_one_on_a_dense_stack():
    loss = LOSSES.get("cross_entropy")
    rng = np.random.default_rng(3)
    X, y, n_out = random_problem(loss, rng)
    net = Network([X.shape[1], 5, 4, n_out], ["tanh", "relu", "identity"], [0.25, 0.0, 0.0])
    net.params[...] = rng.normal(0.0, 0.5, net.size)
    batched, ok1 = numeric_gradient(net, X, y, loss, l2=0.01, l1=0.02, dropout_seed=4)
    by_entry, ok2 = numeric_gradient_by_entry(net, X, y, loss, l2=0.01, l1=0.02, dropout_seed=4)
    assert np.array_equal(ok1, ok2)
    assert np.allclose(batched[ok1], by_entry[ok1], rtol=1e-7, atol=1e-10)


def _bug_network(name):
    loss_name, hidden, output = LAYER_NETWORKS[name]
    loss = LOSSES.get(loss_name)
    rng = np.random.default_rng(0)
    X, y, n_out = random_problem(loss, rng)
    net = layer_network(hidden, X.shape[1], n_out, output)
    net.params[:net.size] = rng.normal(0.0, 0.5, net.size)
    return net, X, y, loss


@pytest.mark.parametrize("bug, network, wrong", [
    ("batchnorm-mean-terms", "batchnorm", {"W1", "b1"}),  # the tensors below the batch norm
    ("residual-skip", "residual", {"W1", "b1"}),  # below the block; the block's own tensors stay right
])
def test_planted_layer_bugs_are_caught_below_the_layer(bug, network, wrong):
    net, X, y, loss = _bug_network(network)
    assert all(c.passed for c in check_gradients(net, X, y, loss, 0.01))
    plant_bug(bug, net, loss, 0.01)
    checks = check_gradients(net, X, y, loss, 0.01)
    failed = {c.name for c in checks if not c.passed}
    assert failed == wrong, [(c.name, c.rel_error) for c in checks]


def test_a_layer_bug_needs_its_layer():
    net = Network([4, 3, 2], ["tanh", "identity"])
    with pytest.raises(ConfigError, match="--bug residual-skip: the network has no residual layer"):
        plant_bug("residual-skip", net, LOSSES.get("mse"), 0.0)


def test_frozen_tensors_are_still_checked_but_get_no_training_gradient():
    loss = LOSSES.get("mse")
    rng = np.random.default_rng(1)
    X, y, n_out = random_problem(loss, rng)
    net = Network([X.shape[1], 3, n_out], ["sigmoid", "identity"], freeze=["b1", "W2"])
    net.params[...] = rng.normal(0.0, 0.5, net.size)
    checks = {c.name: c for c in check_gradients(net, X, y, loss, 0.01)}
    assert set(checks) == {"W1", "b1", "W2", "b2"} and all(c.passed for c in checks.values())
    assert net.names == ["W1", "b1", "W2", "b2"]
    assert net.n_trainable == net.size - 3 - 3 * n_out  # trained first, then the frozen ones
    net.loss_and_grad(X, y, loss, 0.01)
    grads = net.views(net.grad)
    assert not grads["b1"].any() and not grads["W2"].any() and grads["W1"].any() and grads["b2"].any()
