"""Parity with PyTorch autograd (skipped when torch is not installed).

The issue's acceptance criterion, through the real product path (data file → config → fit → model.npz):
one full-batch step with lr 1 from ``model.init_from`` weights moves every weight by exactly PyTorch's
autograd gradient (float64, rel err < 1e-8) for every activation and loss, with and without L2.
Then the same gradients straight from ``Network.loss_and_grad``, and the activations and losses alone.

Relative error per tensor: rel(a, t) = max|a − t| / max(|a| + |t|).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from helpers import random_weights, rel_err

torch = pytest.importorskip("torch")
F = torch.nn.functional

from gdtrain.activations import ACTIVATIONS  # noqa: E402
from gdtrain.config import from_dict  # noqa: E402
from gdtrain.experiment import fit  # noqa: E402
from gdtrain.losses import LOSSES  # noqa: E402
from gdtrain.network import Network  # noqa: E402

ACT_NAMES = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"]
LOSS_NAMES = ["mse", "mae", "bce", "cross_entropy", "hinge"]
pytestmark = pytest.mark.usefixtures("torch_float64")

NAMES = ["W1", "b1", "W2", "b2", "W3", "b3"]

TORCH_ACT = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": lambda z: F.elu(z, alpha=1.0),
    "softplus": F.softplus,  # beta 1, threshold 20: the tests keep |z| < 20, where it is exactly log(1 + e^z)
}


def torch_loss(name: str, z, y):
    if name == "mse":
        return F.mse_loss(z, y)
    if name == "mae":
        return F.l1_loss(z, y)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(z, y.to(z.dtype).reshape(-1, 1))
    if name == "cross_entropy":
        return F.cross_entropy(z, y)
    if name == "hinge":
        return F.multi_margin_loss(z, y)
    raise KeyError(name)






# --- a tiny problem: n = 16, d = 3, hidden 5 and 4 ---------------------------------------------------------

N, D, H1, H2 = 16, 3, 5, 4


def problem(loss_name: str, seed: int = 0):
    """(X, y, weights) with every class present in unequal counts; pre-activations kept in |z| < 20."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    if loss_name in ("mse", "mae"):
        y, n_out = rng.normal(size=(N, 2)), 2
    else:
        K = 2 if loss_name == "bce" else 3
        counts = [9, 7] if K == 2 else [7, 5, 4]
        y = rng.permutation(np.repeat(np.arange(K), counts)).astype(np.int64)
        n_out = 1 if K == 2 else K
    return X, y, random_weights([D, H1, H2, n_out], rng, 0.7, 0.2)


def torch_objective(act: str, loss_name: str, X, y, weights, l2: float, check_range: bool = True):
    """(J + λΣ‖W‖², {name: leaf tensor}) built with torch ops on the same weights."""
    P = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    a = torch.tensor(X)
    pre = []
    for i, phi in ((1, TORCH_ACT[act]), (2, TORCH_ACT[act]), (3, TORCH_ACT["identity"])):
        z = a @ P[f"W{i}"].T + P[f"b{i}"]
        pre.append(z.detach())
        a = phi(z)
    yt = torch.tensor(y)
    J = torch_loss(loss_name, a, yt)
    if l2:
        J = J + l2 * sum((P[w] ** 2).sum() for w in ("W1", "W2", "W3"))
    if check_range:  # below softplus's threshold, and no pre-activation at a relu kink
        assert max(float(p.abs().max()) for p in pre[:2]) < 20
        assert min(float(p.abs().min()) for p in pre[:2]) > 1e-6
    return J, P


def torch_gradient(act, loss_name, X, y, weights, l2):
    J, P = torch_objective(act, loss_name, X, y, weights, l2)
    J.backward()
    return float(J.detach()), {k: P[k].grad.numpy().copy() for k in P}


def write_problem(tmp_path, X, y, weights):
    data, init = tmp_path / "data.npz", tmp_path / "init.npz"
    np.savez(data, X=X, y=y)
    np.savez(init, **weights)
    return data, init


def fit_one_step(tmp_path, act, loss_name, l2, data, init):
    config = from_dict({
        "seed": 3,
        "dtype": "float64",
        "data": {"source": str(data), "validation_split": 0, "test_split": 0, "standardize": False},
        "model": {"hidden": [{"units": H1, "activation": act}, {"units": H2, "activation": act}],
                  "init_from": str(init)},
        "loss": loss_name,
        "regularization": {"l2": l2},
        "optimizer": {"name": "sgd", "lr": 1.0},
        "training": {"mode": "batch", "epochs": 1},
    })
    result = fit(config, out=str(tmp_path / "run"))
    with np.load(tmp_path / "run" / "model.npz", allow_pickle=False) as archive:
        model = {k: archive[k] for k in archive.files}
    with open(tmp_path / "run" / "metrics.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return result, model, rows


# --- the acceptance criterion: one full-batch lr-1 step through fit() -------------------------------------

@pytest.mark.parametrize("l2", [0.0, 0.01])
@pytest.mark.parametrize("loss_name", LOSS_NAMES)
@pytest.mark.parametrize("act", ACT_NAMES)
def test_one_full_batch_step_moves_weights_by_torch_gradient(tmp_path, act, loss_name, l2):
    X, y, W0 = problem(loss_name)
    data, init = write_problem(tmp_path, X, y, W0)
    result, model, rows = fit_one_step(tmp_path, act, loss_name, l2, data, init)
    J0, grad = torch_gradient(act, loss_name, X, y, W0, l2)

    assert result.summary["stop_reason"] == "completed" and result.summary["epochs"] == 1
    assert result.data.splits == {"train": N, "validation": 0, "test": 0}
    assert list(model["activations"]) == [act, act, "identity"] and str(model["loss"]) == loss_name
    errors = {}
    for name in NAMES:
        assert model[name].shape == W0[name].shape and model[name].dtype == np.float64, name
        step = W0[name] - model[name]  # lr = 1: θ₁ = θ₀ − ∇J(θ₀)
        errors[name] = rel_err(step, grad[name])
        np.testing.assert_allclose(model[name], W0[name] - grad[name], rtol=1e-12, atol=1e-14, err_msg=name)
        assert np.abs(grad[name]).max() > 1e-6, name  # nothing passes vacuously
    assert max(errors.values()) < 1e-8, errors

    # metrics.csv's epoch-1 train_loss is J + λR at θ₀ (written with 10 significant digits)
    assert len(rows) == 1 and float(rows[0]["train_loss"]) == pytest.approx(J0, rel=1e-9)
    # summary.json's train loss is J at θ₁ (no penalty, evaluation mode)
    J1, _ = torch_objective(act, loss_name, X, y, {k: model[k] for k in NAMES}, 0.0, check_range=False)
    assert result.summary["train"]["loss"] == pytest.approx(float(J1.detach()), rel=1e-12)


# --- Network.loss_and_grad directly vs autograd -------------------------------------------------------

DIRECT_RTOL = 1e-13


@pytest.mark.parametrize("l2", [0.0, 0.01])
@pytest.mark.parametrize("loss_name", LOSS_NAMES)
@pytest.mark.parametrize("act", ACT_NAMES)
def test_loss_and_grad_matches_torch_autograd(act, loss_name, l2):
    X, y, W0 = problem(loss_name, seed=1)
    net = Network([D, H1, H2, W0["W3"].shape[0]], [act, act, "identity"])
    net.set_weights(W0)
    value = net.loss_and_grad(X, y, LOSSES.get(loss_name), l2, training=False)
    J, grad = torch_gradient(act, loss_name, X, y, W0, l2)
    assert value == pytest.approx(J, rel=1e-14)
    g = net.views(net.grad)
    errors = {name: rel_err(g[name], grad[name]) for name in NAMES}
    assert max(errors.values()) < DIRECT_RTOL, errors


# --- the building blocks alone ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ACT_NAMES)
def test_activation_forward_and_derivative_match_torch(name):
    z = np.concatenate([np.linspace(-30, 30, 601), [-800.0, -700.0, -50.0, 50.0, 700.0, 800.0]])
    if name in ("relu", "leaky_relu"):
        z = z[z != 0]
    if name == "softplus":  # torch's softplus is exactly z above its threshold 20 (test_gradients covers z > 20)
        z = z[z <= 20]
    act = ACTIVATIONS.get(name)
    a = act.forward(z)
    d = act.backward(z, a, np.ones_like(z))
    zt = torch.tensor(z, requires_grad=True)
    at = TORCH_ACT[name](zt)
    at.backward(torch.ones_like(zt))
    np.testing.assert_allclose(a, at.detach().numpy(), rtol=1e-14, atol=1e-300)
    # Derivatives written as 1 − a² (tanh) and φ(z) + α (elu: expm1(z) + 1, torch uses e^z) lose the last bits
    # where the derivative is tiny: equal to torch's up to a few ε_mach absolute, relative 1e-14 elsewhere.
    atol = 1e-15 if name in ("tanh", "elu") else 1e-300
    np.testing.assert_allclose(d, zt.grad.numpy(), rtol=1e-14, atol=atol)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_value_and_delta_match_torch(name):
    rng = np.random.default_rng(4)
    n = 12
    if name in ("mse", "mae"):
        z, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
        yt = torch.tensor(y)
    else:
        K = 2 if name == "bce" else 4
        y = rng.integers(0, K, n)
        z = rng.normal(0, 3, size=(n, 1 if K == 2 else K))
        z[0, 0], z[1, -1] = 1000.0, -1000.0  # extreme logits: both must stay exact
        yt = torch.tensor(y)
    value, delta = LOSSES.get(name).value_and_delta(z.copy(), y)
    zt = torch.tensor(z, requires_grad=True)
    Jt = torch_loss(name, zt, yt)
    Jt.backward()
    assert np.isfinite(value) and np.isfinite(delta).all()
    assert value == pytest.approx(float(Jt.detach()), rel=1e-14)
    assert LOSSES.get(name).value(z, y) == pytest.approx(float(Jt.detach()), rel=1e-14)
    np.testing.assert_allclose(delta, zt.grad.numpy(), rtol=1e-13, atol=1e-17)


def test_subgradient_conventions_at_kinks_match_torch():
    """Exactly at a kink: relu'(0) = 0, leaky'(0) = 0.01, elu'(0) = 1, mae residual 0 → 0, hinge margin 0 → inactive."""
    z = np.array([-1.0, 0.0, 1.0])
    for name in ("relu", "leaky_relu", "elu"):
        act = ACTIVATIONS.get(name)
        zt = torch.tensor(z, requires_grad=True)
        TORCH_ACT[name](zt).backward(torch.ones(3))
        np.testing.assert_array_equal(act.backward(z, act.forward(z), np.ones(3)), zt.grad.numpy(), err_msg=name)

    zm, ym = np.array([[0.5, 1.0], [2.0, -1.0]]), np.array([[0.5, 0.0], [2.0, 0.0]])  # two residuals exactly 0
    # hinge: row 0 has margins exactly 0 (1 − 1 + 0) and 1; row 1 has a tie 1 − 2 + 2 = 1 and a margin 0
    zh, yh = np.array([[1.0, 0.0, 1.0], [2.0, 2.0, 1.0]]), np.array([2, 0])
    for name, zz, yy in (("mae", zm, ym), ("hinge", zh, yh)):
        value, delta = LOSSES.get(name).value_and_delta(zz.copy(), yy)
        zt = torch.tensor(zz, requires_grad=True)
        Jt = torch_loss(name, zt, torch.tensor(yy))
        Jt.backward()
        assert value == pytest.approx(float(Jt.detach()), rel=1e-15), name
        np.testing.assert_allclose(delta, zt.grad.numpy(), rtol=1e-15, atol=0, err_msg=name)
