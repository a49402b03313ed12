"""Optimizers: exact update rules, state, options, and parity with torch.optim and scikit-learn.

Part 1 derives the first two or three steps of every optimizer by hand (the update rules written out
with plain NumPy on 2–3 numbers, never by calling gdtrain) and checks ``Optimizer.step`` against them.
Part 2 checks the documented claims (torch vs textbook momentum, torch vs "hat" epsilon). Part 3 steps
every optimizer next to torch.optim and scikit-learn's MLP optimizers (skipped when they are not
installed). Part 4 is option validation and defaults; part 5 float32.

Relative error: rel(a, b) = max|a − b| / max(|a| + |b|).
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from helpers import rel_err

from gdtrain.errors import ConfigError
from gdtrain.optimizers import OPTIMIZERS, make_optimizer, resolve_optimizer
from gdtrain.schedules import make_schedule, resolve_schedule

RTOL = 1e-14


# --- helpers --------------------------------------------------------------------------------------

def run(spec, theta0, grads, lrs, dtype=np.float64):
    """Step a fresh optimizer through fixed ``grads`` and ``lrs``; returns (optimizer, [θ after each step])."""
    optimizer = make_optimizer(resolve_optimizer(spec), len(theta0), dtype)
    params = np.array(theta0, dtype=dtype)
    trajectory = []
    for g, lr in zip(grads, lrs):
        optimizer.step(params, np.array(g, dtype=dtype), lr)  # a copy: step may overwrite the gradient
        trajectory.append(params.copy())
    return optimizer, trajectory


def check(trajectory, expected, rtol=RTOL):
    assert len(trajectory) == len(expected)
    for t, (got, want) in enumerate(zip(trajectory, expected), start=1):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0, err_msg=f"after step {t}")




# A fixed quadratic problem: the gradient g = Aθ − b depends on θ, so a wrong step changes every later one.
SIZE = 5
_rng = np.random.default_rng(1234)
_M = _rng.normal(size=(SIZE, SIZE))
A = _M @ _M.T / SIZE + 0.5 * np.eye(SIZE)
B = _rng.normal(size=SIZE)
THETA0 = _rng.normal(size=SIZE)


def quad_grad(theta):
    return A @ theta - B


def changing_lr(t, base=0.05):
    """A learning rate that changes at every step t = 0, 1, ... (as a schedule may make it)."""
    return base * (1.0 + 0.5 * math.sin(1.3 * t)) / (1.0 + 0.05 * t)


def run_quadratic(spec, steps, lr_of_t, dtype=np.float64):
    optimizer = make_optimizer(resolve_optimizer(spec), SIZE, dtype)
    params = THETA0.astype(dtype)
    trajectory = []
    for t in range(steps):
        optimizer.step(params, quad_grad(params).astype(dtype), lr_of_t(t))
        trajectory.append(params.copy())
    return optimizer, trajectory


# Two small problems for the hand derivations.
TH0 = np.array([1.0, -2.0, 0.5])
G1, G2, G3 = np.array([0.5, -1.0, 2.0]), np.array([1.0, 1.0, -0.5]), np.array([-1.0, 2.0, 0.25])


# --- 1. hand-derived first steps ------------------------------------------------------------------

def test_sgd_plain_two_steps():
    opt, traj = run({"name": "sgd", "lr": 0.1}, TH0, [G1, G2], [0.1, 0.2])
    # θ1 = θ0 − 0.1·g1,  θ2 = θ1 − 0.2·g2 (written out as decimals)
    check(traj, [np.array([0.95, -1.9, 0.3]), np.array([0.75, -2.1, 0.4])])
    assert opt.state == {"step": 2}  # plain SGD keeps no buffer


def test_sgd_momentum_torch_form_three_steps():
    mu = 0.9
    theta0, g = np.array([1.0, -2.0]), [np.array([0.5, -1.0]), np.array([0.25, 0.5]), np.array([-1.0, 2.0])]
    opt, traj = run({"name": "sgd", "lr": 0.1, "momentum": mu}, theta0, g, [0.1, 0.1, 0.05])
    # b1 = g1 = [0.5, −1];                     θ1 = θ0 − 0.1 b1 = [0.95, −1.9]
    # b2 = 0.9 b1 + g2 = [0.7, −0.4];          θ2 = θ1 − 0.1 b2 = [0.88, −1.86]
    # b3 = 0.9 b2 + g3 = [−0.37, 1.64];        θ3 = θ2 − 0.05 b3 = [0.8985, −1.942]
    check(traj, [np.array([0.95, -1.9]), np.array([0.88, -1.86]), np.array([0.8985, -1.942])])
    np.testing.assert_allclose(opt.state["momentum_buffer"], [-0.37, 1.64], rtol=RTOL)
    assert opt.state["step"] == 3


def test_sgd_dampening_and_weight_decay_three_steps():
    mu, d, wd = 0.5, 0.2, 0.1
    lr1, lr2, lr3 = 0.1, 0.05, 0.2
    # d_t = g_t + wd·θ_{t−1};  b1 = d1 (no dampening on the first step), b_t = μ b + (1 − d) d_t;  θ ← θ − η b
    d1 = G1 + wd * TH0
    b1 = d1
    th1 = TH0 - lr1 * b1
    d2 = G2 + wd * th1
    b2 = mu * b1 + (1 - d) * d2
    th2 = th1 - lr2 * b2
    d3 = G3 + wd * th2
    b3 = mu * b2 + (1 - d) * d3
    th3 = th2 - lr3 * b3
    opt, traj = run({"name": "sgd", "lr": lr1, "momentum": mu, "dampening": d, "weight_decay": wd},
                    TH0, [G1, G2, G3], [lr1, lr2, lr3])
    check(traj, [th1, th2, th3])
    np.testing.assert_allclose(opt.state["momentum_buffer"], b3, rtol=RTOL)
    # First step by hand in decimals: d1 = [0.6, −1.2, 2.05], θ1 = [0.94, −1.88, 0.295].
    np.testing.assert_allclose(traj[0], [0.94, -1.88, 0.295], rtol=RTOL)


def test_sgd_nesterov_torch_form_three_steps():
    mu = 0.9
    lr1, lr2, lr3 = 0.1, 0.1, 0.05
    # b as in momentum; θ ← θ − η (g + μ b)
    b1 = G1
    th1 = TH0 - lr1 * (G1 + mu * b1)
    b2 = mu * b1 + G2
    th2 = th1 - lr2 * (G2 + mu * b2)
    b3 = mu * b2 + G3
    th3 = th2 - lr3 * (G3 + mu * b3)
    opt, traj = run({"name": "sgd", "lr": lr1, "momentum": mu, "nesterov": True}, TH0, [G1, G2, G3], [lr1, lr2, lr3])
    check(traj, [th1, th2, th3])
    # First step in decimals: θ1 = θ0 − 0.1·1.9·g1 = [0.905, −1.81, 0.12].
    np.testing.assert_allclose(traj[0], [0.905, -1.81, 0.12], rtol=RTOL)
    np.testing.assert_allclose(opt.state["momentum_buffer"], b3, rtol=RTOL)


@pytest.mark.parametrize("dampening", [0.0, 0.3])
def test_sgd_textbook_form_three_steps(dampening):
    mu = 0.9
    lr1, lr2, lr3 = 0.1, 0.05, 0.2
    # v1 = −η1 g1 (no dampening at t = 1);  v_t = μ v − η_t (1 − d) g_t;  θ ← θ + v
    v1 = -lr1 * G1
    th1 = TH0 + v1
    v2 = mu * v1 - lr2 * (1 - dampening) * G2
    th2 = th1 + v2
    v3 = mu * v2 - lr3 * (1 - dampening) * G3
    th3 = th2 + v3
    opt, traj = run({"name": "sgd", "lr": lr1, "momentum": mu, "dampening": dampening, "momentum_form": "textbook"},
                    TH0, [G1, G2, G3], [lr1, lr2, lr3])
    check(traj, [th1, th2, th3])
    np.testing.assert_allclose(opt.state["velocity"], v3, rtol=RTOL)
    assert "momentum_buffer" not in opt.state
    # Decimals for dampening 0: θ1 = [0.95, −1.9, 0.3]; v2 = [−0.095, 0.04, −0.155], θ2 = [0.855, −1.86, 0.145].
    if dampening == 0.0:
        np.testing.assert_allclose(traj[1], [0.855, -1.86, 0.145], rtol=RTOL)


def test_sgd_textbook_nesterov_three_steps():
    mu = 0.9
    lr1, lr2, lr3 = 0.1, 0.05, 0.2
    # v ← μ v − η g (v1 = −η1 g1);  θ ← θ + μ v − η g
    v1 = -lr1 * G1
    th1 = TH0 + mu * v1 - lr1 * G1
    v2 = mu * v1 - lr2 * G2
    th2 = th1 + mu * v2 - lr2 * G2
    v3 = mu * v2 - lr3 * G3
    th3 = th2 + mu * v3 - lr3 * G3
    opt, traj = run({"name": "sgd", "lr": lr1, "momentum": mu, "nesterov": True, "momentum_form": "textbook"},
                    TH0, [G1, G2, G3], [lr1, lr2, lr3])
    check(traj, [th1, th2, th3])
    np.testing.assert_allclose(traj[0], [0.905, -1.81, 0.12], rtol=RTOL)  # = torch nesterov's first step
    np.testing.assert_allclose(opt.state["velocity"], v3, rtol=RTOL)


def test_adagrad_lr_decay_and_initial_accumulator_three_steps():
    lr_decay, s0, eps = 0.5, 0.1, 1e-10
    lr1, lr2, lr3 = 0.1, 0.1, 0.2
    # s ← s + g²  (s starts at s0);  θ ← θ − η/(1 + (t − 1)·lr_decay) · g/(√s + ε)
    s1 = s0 + G1 ** 2
    th1 = TH0 - lr1 / (1 + 0 * lr_decay) * G1 / (np.sqrt(s1) + eps)
    s2 = s1 + G2 ** 2
    th2 = th1 - lr2 / (1 + 1 * lr_decay) * G2 / (np.sqrt(s2) + eps)
    s3 = s2 + G3 ** 2
    th3 = th2 - lr3 / (1 + 2 * lr_decay) * G3 / (np.sqrt(s3) + eps)
    opt, traj = run({"name": "adagrad", "lr": lr1, "lr_decay": lr_decay, "initial_accumulator_value": s0},
                    TH0, [G1, G2, G3], [lr1, lr2, lr3])
    check(traj, [th1, th2, th3])
    np.testing.assert_allclose(opt.state["sum"], s3, rtol=RTOL)
    # Second component in decimals: s1 = 1.1, s2 = 2.1, s3 = 6.1.
    np.testing.assert_allclose(opt.state["sum"][1], 6.1, rtol=RTOL)


def test_rmsprop_plain_three_steps():
    alpha, eps = 0.99, 1e-8  # torch's defaults
    lr1, lr2, lr3 = 0.01, 0.02, 0.01
    # v ← α v + (1 − α) g²  (v0 = 0);  θ ← θ − η g/(√v + ε)
    v1 = (1 - alpha) * G1 ** 2
    th1 = TH0 - lr1 * G1 / (np.sqrt(v1) + eps)
    v2 = alpha * v1 + (1 - alpha) * G2 ** 2
    th2 = th1 - lr2 * G2 / (np.sqrt(v2) + eps)
    v3 = alpha * v2 + (1 - alpha) * G3 ** 2
    th3 = th2 - lr3 * G3 / (np.sqrt(v3) + eps)
    opt, traj = run({"name": "rmsprop", "lr": lr1}, TH0, [G1, G2, G3], [lr1, lr2, lr3])
    check(traj, [th1, th2, th3])
    np.testing.assert_allclose(opt.state["square_avg"], v3, rtol=RTOL)
    assert set(opt.state) == {"step", "square_avg"}
    # First step: every |Δθ| ≈ η/√(1 − α) = 0.1 (the well-known large first RMSprop step).
    np.testing.assert_allclose(np.abs(traj[0] - TH0), 0.1, rtol=1e-6)


def test_rmsprop_centered_with_momentum_three_steps():
    alpha, mu, eps = 0.9, 0.5, 1e-8
    lr1, lr2, lr3 = 0.01, 0.02, 0.01
    # v ← αv + (1 − α)g²;  ḡ ← αḡ + (1 − α)g;  D = √(v − ḡ²) + ε;  b ← μb + g/D (b0 = 0);  θ ← θ − η b
    v1, a1 = (1 - alpha) * G1 ** 2, (1 - alpha) * G1
    b1 = G1 / (np.sqrt(v1 - a1 ** 2) + eps)
    th1 = TH0 - lr1 * b1
    v2, a2 = alpha * v1 + (1 - alpha) * G2 ** 2, alpha * a1 + (1 - alpha) * G2
    b2 = mu * b1 + G2 / (np.sqrt(v2 - a2 ** 2) + eps)
    th2 = th1 - lr2 * b2
    v3, a3 = alpha * v2 + (1 - alpha) * G3 ** 2, alpha * a2 + (1 - alpha) * G3
    b3 = mu * b2 + G3 / (np.sqrt(v3 - a3 ** 2) + eps)
    th3 = th2 - lr3 * b3
    opt, traj = run({"name": "rmsprop", "lr": lr1, "alpha": alpha, "momentum": mu, "centered": True},
                    TH0, [G1, G2, G3], [lr1, lr2, lr3])
    check(traj, [th1, th2, th3])
    np.testing.assert_allclose(opt.state["square_avg"], v3, rtol=RTOL)
    np.testing.assert_allclose(opt.state["grad_avg"], a3, rtol=RTOL)
    np.testing.assert_allclose(opt.state["momentum_buffer"], b3, rtol=RTOL)
    # First step: v − ḡ² = α(1 − α)g², so |Δθ| = η/√(α(1 − α)) = 0.01/0.3 for every entry.
    np.testing.assert_allclose(np.abs(traj[0] - TH0), 0.01 / 0.3, rtol=1e-6)


def adam_by_hand(theta0, grads, lrs, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
                 form="torch", decoupled=False):
    """Adam written out for the hand-derived tests (explicit per step, t = 1, 2, ...)."""
    th, m, v, vmax = theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0), np.zeros_like(theta0)
    out = []
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        if decoupled:
            th = th * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * th
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        vmax = np.maximum(vmax, v)
        vv = vmax if amsgrad else v
        if form == "torch":
            m_hat, v_hat = m / (1 - beta1 ** t), vv / (1 - beta2 ** t)
            th = th - lr * m_hat / (np.sqrt(v_hat) + eps)
        else:
            lr_t = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
            th = th - lr_t * m / (np.sqrt(vv) + eps)
        out.append(th.copy())
    return out, m, v, vmax


def test_adam_plain_three_steps():
    lrs = [0.1, 0.05, 0.02]
    # Step 1 by hand: m̂ = g1, v̂ = g1², so θ1 = θ0 − η g1/(|g1| + ε) = θ0 − 0.1·sign(g1) (up to ε).
    th1 = TH0 - 0.1 * G1 / (np.abs(G1) + 1e-8)
    # Step 2: m = 0.09 g1 + 0.1 g2, v = 0.000999 g1² + 0.001 g2² (β₁ = 0.9, β₂ = 0.999).
    m2 = 0.9 * 0.1 * G1 + 0.1 * G2
    v2 = 0.999 * 0.001 * G1 ** 2 + 0.001 * G2 ** 2
    th2 = th1 - 0.05 * (m2 / (1 - 0.9 ** 2)) / (np.sqrt(v2 / (1 - 0.999 ** 2)) + 1e-8)
    expected, m3, v3, _ = adam_by_hand(TH0, [G1, G2, G3], lrs)
    np.testing.assert_allclose(expected[0], th1, rtol=RTOL)
    np.testing.assert_allclose(expected[1], th2, rtol=RTOL)
    opt, traj = run({"name": "adam", "lr": 0.1}, TH0, [G1, G2, G3], lrs)
    check(traj, expected)
    np.testing.assert_allclose(opt.state["exp_avg"], m3, rtol=RTOL)
    np.testing.assert_allclose(opt.state["exp_avg_sq"], v3, rtol=RTOL)
    assert set(opt.state) == {"step", "exp_avg", "exp_avg_sq"}
    np.testing.assert_allclose(traj[0], [0.9, -1.9, 0.4], rtol=1e-8)  # θ0 − 0.1·sign(g1)


def test_adam_amsgrad_with_custom_betas_three_steps():
    beta1, beta2 = 0.8, 0.95
    # g1 large, then small: v2 = 0.95·0.05·4 + 0.05·0.01 < v1 = 0.2, so AMSGrad keeps v1.
    g = [np.array([2.0, -2.0]), np.array([0.1, 0.1]), np.array([0.1, -0.3])]
    theta0 = np.array([1.0, -1.0])
    lrs = [0.1, 0.1, 0.05]
    v1 = 0.05 * g[0] ** 2
    v2 = 0.95 * v1 + 0.05 * g[1] ** 2
    assert np.all(v2 < v1)
    m1 = 0.2 * g[0]
    m2 = 0.8 * m1 + 0.2 * g[1]
    th1 = theta0 - 0.1 * (m1 / 0.2) / (np.sqrt(v1 / 0.05) + 1e-8)
    th2 = th1 - 0.1 * (m2 / (1 - 0.8 ** 2)) / (np.sqrt(v1 / (1 - 0.95 ** 2)) + 1e-8)  # max(v1, v2) = v1
    expected, m3, v3, vmax3 = adam_by_hand(theta0, g, lrs, beta1, beta2, amsgrad=True)
    np.testing.assert_allclose(expected[:2], [th1, th2], rtol=RTOL)
    opt, traj = run({"name": "adam", "lr": 0.1, "betas": [beta1, beta2], "amsgrad": True}, theta0, g, lrs)
    check(traj, expected)
    np.testing.assert_allclose(opt.state["exp_avg"], m3, rtol=RTOL)
    np.testing.assert_allclose(opt.state["exp_avg_sq"], v3, rtol=RTOL)
    np.testing.assert_allclose(opt.state["max_exp_avg_sq"], vmax3, rtol=RTOL)
    assert np.all(opt.state["max_exp_avg_sq"] > opt.state["exp_avg_sq"])  # the maximum is really in use
    _, plain = run({"name": "adam", "lr": 0.1, "betas": [beta1, beta2]}, theta0, g, lrs)
    assert rel_err(plain[1] - plain[0], traj[1] - traj[0]) > 5e-3  # step 2 differs clearly (√0.2 vs √0.1905)


def test_adam_eps_form_hat_three_steps():
    eps, lrs = 1e-3, [0.1, 0.05, 0.02]
    # θ ← θ − η √(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√v + ε);  step 1: m = 0.1 g1, v = 0.001 g1².
    th1 = TH0 - 0.1 * math.sqrt(0.001) / 0.1 * (0.1 * G1) / (np.sqrt(0.001 * G1 ** 2) + eps)
    expected, _, _, _ = adam_by_hand(TH0, [G1, G2, G3], lrs, eps=eps, form="hat")
    np.testing.assert_allclose(expected[0], th1, rtol=RTOL)
    opt, traj = run({"name": "adam", "lr": 0.1, "eps": eps, "eps_form": "hat"}, TH0, [G1, G2, G3], lrs)
    check(traj, expected)
    # First step as a closed form: Δθ = −η g/(|g| + ε/√(1 − β₂)).
    np.testing.assert_allclose(traj[0] - TH0, -0.1 * G1 / (np.abs(G1) + eps / math.sqrt(0.001)), rtol=1e-13)


def test_adamw_three_steps():
    wd, lrs = 0.1, [0.1, 0.05, 0.02]
    # θ ← θ(1 − η·wd), then Adam's step with the raw gradient (no decay in m or v).
    th1 = TH0 * (1 - 0.1 * wd) - 0.1 * G1 / (np.abs(G1) + 1e-8)
    expected, m3, v3, _ = adam_by_hand(TH0, [G1, G2, G3], lrs, weight_decay=wd, decoupled=True)
    np.testing.assert_allclose(expected[0], th1, rtol=RTOL)
    opt, traj = run({"name": "adamw", "lr": 0.1, "weight_decay": wd}, TH0, [G1, G2, G3], lrs)
    check(traj, expected)
    np.testing.assert_allclose(opt.state["exp_avg"], m3, rtol=RTOL)  # moments see g only
    np.testing.assert_allclose(opt.state["exp_avg_sq"], v3, rtol=RTOL)
    np.testing.assert_allclose(traj[0], [0.99 - 0.1, -1.98 + 0.1, 0.495 - 0.1], rtol=1e-8)
    # Coupled Adam with the same weight_decay is a different trajectory.
    _, coupled = run({"name": "adam", "lr": 0.1, "weight_decay": wd}, TH0, [G1, G2, G3], lrs)
    assert rel_err(coupled[-1], traj[-1]) > 1e-4


# --- 2. documented claims -------------------------------------------------------------------------

@pytest.mark.parametrize("options", [{"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                     {"momentum": 0.7, "dampening": 0.2, "weight_decay": 0.01}],
                         ids=["momentum", "nesterov", "dampening+wd"])
def test_torch_and_textbook_momentum_are_one_trajectory_at_constant_lr(options):
    spec = {"name": "sgd", "lr": 0.05, **options}
    lr = 0.05
    torch_opt, torch_traj = run_quadratic({**spec, "momentum_form": "torch"}, 20, lambda t: lr)
    text_opt, text_traj = run_quadratic({**spec, "momentum_form": "textbook"}, 20, lambda t: lr)
    for t, (a, b) in enumerate(zip(torch_traj, text_traj)):
        assert rel_err(a, b) < 1e-12, t
    # v = −η b
    assert rel_err(text_opt.state["velocity"], -lr * torch_opt.state["momentum_buffer"]) < 1e-12
    assert rel_err(torch_traj[-1], THETA0) > 0.1  # the trajectory really went somewhere


@pytest.mark.parametrize("nesterov", [False, True])
def test_torch_and_textbook_momentum_differ_under_a_changing_lr(nesterov):
    spec = {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": nesterov}

    def decaying(t):
        return 0.1 * 0.7 ** t

    _, torch_traj = run_quadratic({**spec, "momentum_form": "torch"}, 20, decaying)
    _, text_traj = run_quadratic({**spec, "momentum_form": "textbook"}, 20, decaying)
    assert rel_err(torch_traj[0], text_traj[0]) < 1e-14  # step 1 is −η g in both
    assert rel_err(torch_traj[-1], text_traj[-1]) > 1e-2  # a clear difference, not rounding
    # Step 2 by hand: torch moves by −η2(μ g1 + g2), textbook by −μ η1 g1 − η2 g2 (nesterov aside).
    if not nesterov:
        g1 = quad_grad(THETA0)
        th1 = THETA0 - 0.1 * g1
        g2 = quad_grad(th1)
        np.testing.assert_allclose(torch_traj[1], th1 - 0.07 * (0.9 * g1 + g2), rtol=1e-13)
        np.testing.assert_allclose(text_traj[1], th1 - 0.9 * 0.1 * g1 - 0.07 * g2, rtol=1e-13)


def test_eps_form_hat_differs_from_torch_with_a_large_eps_in_the_first_steps():
    eps = 0.1
    g = [np.array([1.0, -0.5]), np.array([0.5, 0.25])]
    theta0 = np.array([0.0, 0.0])
    _, torch_traj = run({"name": "adam", "lr": 0.1, "eps": eps}, theta0, g, [0.1, 0.1])
    _, hat_traj = run({"name": "adam", "lr": 0.1, "eps": eps, "eps_form": "hat"}, theta0, g, [0.1, 0.1])
    # Step 1: torch −η g/(|g| + ε);  hat −η g/(|g| + ε/√(1 − β₂)) with ε/√0.001 ≈ 3.16.
    np.testing.assert_allclose(torch_traj[0], [-0.1 / 1.1, 0.05 / 0.6], rtol=RTOL)
    np.testing.assert_allclose(hat_traj[0], [-0.1 / (1 + 0.1 / math.sqrt(0.001)),
                                             0.05 / (0.5 + 0.1 / math.sqrt(0.001))], rtol=RTOL)
    assert np.all(np.abs(torch_traj[0]) > 2.5 * np.abs(hat_traj[0]))
    assert rel_err(torch_traj[1], hat_traj[1]) > 0.3
    # With a tiny ε the two forms agree to ~ε/|g|.
    _, a = run({"name": "adam", "lr": 0.1, "eps": 1e-12}, theta0, g, [0.1, 0.1])
    _, b = run({"name": "adam", "lr": 0.1, "eps": 1e-12, "eps_form": "hat"}, theta0, g, [0.1, 0.1])
    assert rel_err(a[1], b[1]) < 1e-9


# --- 3a. parity with torch.optim ------------------------------------------------------------------

TORCH_CASES = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("sgd", {"momentum": 0.5, "dampening": 0.3, "weight_decay": 0.01}),
    ("adagrad", {"lr_decay": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.01}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True, "momentum": 0.9}),
    ("rmsprop", {"weight_decay": 0.05}),
    ("adam", {}),
    ("adam", {"amsgrad": True, "betas": [0.8, 0.95], "weight_decay": 0.01}),
    ("adamw", {}),
    ("adamw", {"amsgrad": True}),
]
TORCH_CLASS = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}
TORCH_STATE_KEYS = ("momentum_buffer", "sum", "square_avg", "grad_avg", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def case_id(case):
    name, options = case
    return name + ("[" + ",".join(f"{k}={v}" for k, v in options.items()) + "]" if options else "")


@pytest.mark.parametrize("case", TORCH_CASES, ids=case_id)
def test_matches_torch_optim_for_25_steps_with_a_changing_lr(case):
    torch = pytest.importorskip("torch")
    name, options = case
    steps = 25
    torch_options = {k: tuple(v) if k == "betas" else v for k, v in options.items()}
    p_t = torch.tensor(THETA0.copy(), dtype=torch.float64, requires_grad=True)
    opt_t = getattr(torch.optim, TORCH_CLASS[name])([p_t], lr=changing_lr(0), **torch_options)
    A_t, B_t = torch.tensor(A), torch.tensor(B)

    optimizer = make_optimizer(resolve_optimizer({"name": name, "lr": changing_lr(0), **options}), SIZE, np.float64)
    params = THETA0.copy()
    for t in range(steps):
        lr = changing_lr(t)
        for group in opt_t.param_groups:
            group["lr"] = lr
        with torch.no_grad():
            p_t.grad = A_t @ p_t - B_t
        opt_t.step()
        optimizer.step(params, quad_grad(params), lr)
        assert rel_err(params, p_t.detach().numpy()) < 1e-12, f"params after step {t + 1}"

    state_t = opt_t.state[p_t]
    torch_keys = {k for k in state_t if k != "step"}
    assert torch_keys <= set(TORCH_STATE_KEYS)
    assert torch_keys == {k for k in optimizer.state if k != "step"}
    for key in torch_keys:
        assert rel_err(optimizer.state[key], state_t[key].numpy()) < 1e-12, key
    if "step" in state_t:
        assert optimizer.state["step"] == int(state_t["step"]) == steps
    assert rel_err(params, THETA0) > 1e-3  # the 25 steps moved the parameters


def test_torch_parity_check_can_fail():
    """Guard for the parity test: a different option set is far from torch's trajectory."""
    torch = pytest.importorskip("torch")
    p_t = torch.tensor(THETA0.copy(), dtype=torch.float64, requires_grad=True)
    opt_t = torch.optim.Adam([p_t], lr=0.05)
    _, traj = run_quadratic({"name": "adam", "lr": 0.05, "eps_form": "hat", "eps": 0.1}, 5, lambda t: 0.05)
    for _ in range(5):
        with torch.no_grad():
            p_t.grad = torch.tensor(A) @ p_t - torch.tensor(B)
        opt_t.step()
    assert rel_err(traj[-1], p_t.detach().numpy()) > 1e-3


# --- 3b. parity with scikit-learn's MLP optimizers ------------------------------------------------

def _split(x):
    return [x[:2].copy(), x[2:].copy()]  # two "layers", as sklearn keeps coefs_ and intercepts_ apart


@pytest.mark.parametrize("eps", [1e-8, 0.1])
def test_sklearn_adam_is_the_hat_form(eps):
    pytest.importorskip("sklearn")
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    lr, steps = 0.05, 25
    sk_params = _split(THETA0)
    sk = AdamOptimizer(sk_params, learning_rate_init=lr, beta_1=0.9, beta_2=0.999, epsilon=eps)
    _, traj = run_quadratic({"name": "adam", "lr": lr, "eps": eps, "eps_form": "hat"}, steps, lambda t: lr)
    _, torch_form = run_quadratic({"name": "adam", "lr": lr, "eps": eps}, steps, lambda t: lr)
    for t in range(steps):
        sk.update_params(sk_params, _split(quad_grad(np.concatenate(sk_params))))
        assert rel_err(np.concatenate(sk_params), traj[t]) < 1e-12, t
    if eps == 0.1:  # where √v is near ε the torch form is a different trajectory
        assert rel_err(torch_form[-1], traj[-1]) > 1e-3


@pytest.mark.parametrize("lr_schedule", ["constant", "invscaling"])
@pytest.mark.parametrize("nesterov", [False, True])
def test_sklearn_sgd_is_the_textbook_form(nesterov, lr_schedule):
    pytest.importorskip("sklearn")
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    lr0, steps = 0.05, 25
    sk_params = _split(THETA0)
    sk = SGDOptimizer(sk_params, learning_rate_init=lr0, lr_schedule=lr_schedule, momentum=0.9,
                      nesterov=nesterov, power_t=0.5)
    # invscaling: η = η₀/(t + 1)^0.5 after iteration_ends(t), gdtrain's inverse_sqrt schedule.
    name = "constant" if lr_schedule == "constant" else "inverse_sqrt"
    schedule = make_schedule(resolve_schedule({"name": name}), lr0)
    spec = {"name": "sgd", "lr": lr0, "momentum": 0.9, "nesterov": nesterov, "momentum_form": "textbook"}
    optimizer = make_optimizer(resolve_optimizer(spec), SIZE, np.float64)
    params = THETA0.copy()
    for t in range(steps):
        assert sk.learning_rate == pytest.approx(schedule.lr, rel=1e-15)
        sk.update_params(sk_params, _split(quad_grad(np.concatenate(sk_params))))
        optimizer.step(params, quad_grad(params), schedule.lr)
        assert rel_err(np.concatenate(sk_params), params) < 1e-12, t
        sk.iteration_ends(t + 1)
        schedule.step()
    np.testing.assert_allclose(np.concatenate(sk.velocities), optimizer.state["velocity"], rtol=1e-11, atol=1e-15)
    if lr_schedule == "invscaling":  # under a changing η the torch form is not scikit-learn's
        torch_form = make_optimizer(resolve_optimizer({**spec, "momentum_form": "torch"}), SIZE, np.float64)
        schedule, p = make_schedule(resolve_schedule({"name": name}), lr0), THETA0.copy()
        for _ in range(steps):
            torch_form.step(p, quad_grad(p), schedule.lr)
            schedule.step()
        assert rel_err(p, params) > 1e-3


# --- 4. options -----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, key", [
    ({"name": "sgd", "betas": [0.9, 0.99]}, "betas"),
    ({"name": "adam", "momentum": 0.9}, "momentum"),
    ({"name": "adamw", "nesterov": True}, "nesterov"),
    ({"name": "adagrad", "alpha": 0.9}, "alpha"),
    ({"name": "rmsprop", "amsgrad": True}, "amsgrad"),
    ({"name": "adam", "momentum_form": "textbook"}, "momentum_form"),
    ({"name": "sgd", "eps_form": "hat"}, "eps_form"),
    ({"name": "momentum", "betas": [0.9, 0.99]}, "betas"),
])
def test_an_option_the_optimizer_does_not_take_is_named(spec, key):
    with pytest.raises(ConfigError) as info:
        resolve_optimizer(spec)
    name = {"momentum": "sgd"}.get(spec["name"], spec["name"])
    assert str(info.value).startswith(f"optimizer.{key}: optimizer '{name}' takes no option '{key}'")


@pytest.mark.parametrize("betas, problem", [
    ([0.9], "must be a list of two numbers"),
    (0.9, "must be a list of two numbers"),
    ([0.9, 0.99, 0.999], "must be a list of two numbers"),
    (["a", 0.9], "must be a list of two numbers"),
    ([True, 0.9], "must be a list of two numbers"),
    ([1.0, 0.999], "must be two numbers in [0, 1)"),
    ([0.9, -0.1], "must be two numbers in [0, 1)"),
])
def test_bad_betas(betas, problem):
    with pytest.raises(ConfigError) as info:
        resolve_optimizer({"name": "adam", "betas": betas})
    assert str(info.value).startswith(f"optimizer.betas: {problem}")


def test_betas_tuple_and_boundary_zero_are_accepted():
    assert resolve_optimizer({"name": "adam", "betas": (0, 0.5)})["betas"] == [0.0, 0.5]


@pytest.mark.parametrize("spec, key", [
    ({"name": "adam", "eps_form": "keras"}, "eps_form"),
    ({"name": "adamw", "eps_form": None}, "eps_form"),
    ({"name": "sgd", "momentum": 0.9, "momentum_form": "classic"}, "momentum_form"),
])
def test_bad_form_values(spec, key):
    with pytest.raises(ConfigError) as info:
        resolve_optimizer(spec)
    assert str(info.value).startswith(f"optimizer.{key}: must be one of ")


@pytest.mark.parametrize("spec, key", [
    ({"name": "sgd", "lr": 0}, "lr"),
    ({"name": "sgd", "momentum": -0.1}, "momentum"),
    ({"name": "sgd", "momentum": 0.9, "dampening": 1.5}, "dampening"),
    ({"name": "adagrad", "lr_decay": -1}, "lr_decay"),
    ({"name": "rmsprop", "alpha": 1.5}, "alpha"),
    ({"name": "rmsprop", "centered": "yes"}, "centered"),
    ({"name": "adam", "amsgrad": 1}, "amsgrad"),
    ({"name": "adamw", "weight_decay": -0.01}, "weight_decay"),
])
def test_out_of_range_option_values_are_named(spec, key):
    with pytest.raises(ConfigError, match=rf"^optimizer\.{key}: "):
        resolve_optimizer(spec)


def test_aliases_expand_to_the_full_sgd_spec():
    assert resolve_optimizer({"name": "momentum", "lr": 0.01}) == {
        "name": "sgd", "lr": 0.01, "momentum": 0.9, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0,
        "momentum_form": "torch"}
    assert resolve_optimizer({"name": "nesterov"}) == {
        "name": "sgd", "lr": 0.01, "momentum": 0.9, "dampening": 0.0, "nesterov": True, "weight_decay": 0.0,
        "momentum_form": "torch"}
    # The user's options override the preset.
    spec = resolve_optimizer({"name": "momentum", "momentum": 0.5, "momentum_form": "textbook"})
    assert (spec["name"], spec["momentum"], spec["momentum_form"]) == ("sgd", 0.5, "textbook")
    # ... and the alias steps exactly like the sgd spec it names.
    _, a = run({"name": "nesterov", "lr": 0.1}, TH0, [G1, G2], [0.1, 0.1])
    _, b = run({"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True}, TH0, [G1, G2], [0.1, 0.1])
    assert np.array_equal(a[-1], b[-1])


def test_adamw_weight_decay_defaults_to_0_01_and_adam_to_0():
    assert resolve_optimizer({"name": "adamw"})["weight_decay"] == 0.01
    assert resolve_optimizer({"name": "adam"})["weight_decay"] == 0.0
    # The default really decays: one step from θ with a zero gradient is θ(1 − η·0.01).
    _, traj = run({"name": "adamw", "lr": 0.5}, TH0, [np.zeros(3)], [0.5])
    np.testing.assert_allclose(traj[0], TH0 * (1 - 0.5 * 0.01), rtol=RTOL)


EXPECTED_DEFAULTS = {  # torch.optim's, but sgd's lr: 0.01 (Keras's) where torch's is 0.001 (issue 15)
    "sgd": {"lr": 0.01, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0},
    "adagrad": {"lr": 0.01, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10},
    "rmsprop": {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": False},
    "adam": {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
    "adamw": {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False},
}
GDTRAIN_ONLY = {"sgd": {"momentum_form": "torch"}, "adam": {"eps_form": "torch"}, "adamw": {"eps_form": "torch"}}


@pytest.mark.parametrize("name", list(EXPECTED_DEFAULTS))
def test_defaults(name):
    assert OPTIMIZERS.names() == ["sgd", "adagrad", "rmsprop", "adam", "adamw"]
    assert resolve_optimizer({"name": name}) == {"name": name, **EXPECTED_DEFAULTS[name], **GDTRAIN_ONLY.get(name, {})}


# torch's keyword arguments that are implementation switches, not part of the update rule.
TORCH_SWITCHES = {"self", "params", "foreach", "maximize", "capturable", "differentiable", "fused",
                  "decoupled_weight_decay"}


@pytest.mark.parametrize("name", list(EXPECTED_DEFAULTS))
def test_defaults_equal_torch_signature_defaults(name):
    torch = pytest.importorskip("torch")
    signature = inspect.signature(getattr(torch.optim, TORCH_CLASS[name]).__init__)
    torch_defaults = {k: p.default for k, p in signature.parameters.items() if k not in TORCH_SWITCHES}
    ours = resolve_optimizer({"name": name})
    ours = {k: v for k, v in ours.items() if k != "name" and k not in GDTRAIN_ONLY.get(name, {})}
    assert set(ours) == set(torch_defaults)
    differs = OPTIMIZERS.get(name).TORCH_DEFAULTS  # where ours differ on purpose, the record of torch's is right
    assert {k: torch_defaults[k] for k in differs} == differs
    assert all(ours[k] != v for k, v in differs.items())
    ours.update(differs)
    for key, value in torch_defaults.items():
        expected = list(value) if key == "betas" else value
        assert ours[key] == expected, key


# --- 5. float32 -----------------------------------------------------------------------------------

FLOAT32_CASES = [
    ("sgd", {}), ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", {"momentum": 0.9, "dampening": 0.1, "momentum_form": "textbook"}),
    ("adagrad", {"lr_decay": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.01}),
    ("rmsprop", {"centered": True, "momentum": 0.9, "weight_decay": 0.01}),
    ("adam", {"amsgrad": True, "weight_decay": 0.01}), ("adam", {"eps_form": "hat"}),
    ("adamw", {"amsgrad": True}),
]


@pytest.mark.parametrize("case", FLOAT32_CASES, ids=case_id)
def test_float32_keeps_params_and_state_float32(case):
    name, options = case
    spec = {"name": name, "lr": 0.05, **options}
    opt32, traj32 = run_quadratic(spec, 10, changing_lr, dtype=np.float32)
    _, traj64 = run_quadratic(spec, 10, changing_lr, dtype=np.float64)
    assert all(p.dtype == np.float32 for p in traj32)
    arrays = {k: v for k, v in opt32.state.items() if k != "step"}
    assert arrays or (name == "sgd" and not options)
    for key, value in arrays.items():
        assert value.dtype == np.float32, key
    assert opt32.state["step"] == 10
    # Same trajectory to float32 precision.
    assert rel_err(traj32[-1], traj64[-1]) < 1e-5


# --- part 6: the state as a value (state_dict / load_state_dict) ------------------------------------

STATEFUL_SPECS = [
    {"name": "sgd", "lr": 0.05},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9, "momentum_form": "textbook"},
    {"name": "adagrad", "lr": 0.1, "initial_accumulator_value": 0.1},
    {"name": "rmsprop", "lr": 0.01, "momentum": 0.5, "centered": True},
    {"name": "adam", "lr": 0.01, "amsgrad": True},
    {"name": "adamw", "lr": 0.01},
]


def _steps(optimizer, theta, count):
    for _ in range(count):
        optimizer.step(theta, quad_grad(theta), 0.05)
    return theta


@pytest.mark.parametrize("spec", STATEFUL_SPECS, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_state_dict_round_trip_continues_exactly(spec):
    """Step 3, take the state, step 4 more; a fresh optimizer given the state and θ steps the same 4 bit for bit."""
    first = make_optimizer(resolve_optimizer(spec), SIZE, np.float64)
    theta = _steps(first, THETA0.copy(), 3)
    saved, theta_saved = first.state_dict(), theta.copy()
    assert saved["step"] == 3
    assert set(saved["buffers"]) == {k for k in first.state if k != "step"}
    expected = _steps(first, theta, 4)
    second = make_optimizer(resolve_optimizer(spec), SIZE, np.float64)
    second.load_state_dict(saved)
    np.testing.assert_array_equal(_steps(second, theta_saved, 4), expected)
    assert second.state["step"] == 7


def test_state_dict_is_a_copy_both_ways():
    """Neither the optimizer's later steps nor the caller's edits reach a state_dict taken or given."""
    opt = make_optimizer(resolve_optimizer({"name": "adam", "lr": 0.01}), SIZE, np.float64)
    theta = _steps(opt, THETA0.copy(), 2)
    saved = opt.state_dict()
    m2 = saved["buffers"]["exp_avg"].copy()
    _steps(opt, theta, 1)
    np.testing.assert_array_equal(saved["buffers"]["exp_avg"], m2)  # the optimizer moved on, the value did not
    opt.load_state_dict(saved)
    saved["buffers"]["exp_avg"][:] = 99.0
    np.testing.assert_array_equal(opt.state["exp_avg"], m2)  # the caller's edit did not reach the optimizer


def test_load_state_dict_casts_to_the_optimizers_dtype_and_drops_other_buffers():
    opt = make_optimizer(resolve_optimizer({"name": "sgd", "lr": 0.1, "momentum": 0.9}), SIZE, np.float32)
    _steps(opt, THETA0.astype(np.float32), 2)
    opt.load_state_dict({"step": 1, "buffers": {"momentum_buffer": np.ones(SIZE)}})
    assert opt.state["momentum_buffer"].dtype == np.float32 and opt.state["step"] == 1
    opt.load_state_dict({"step": 0, "buffers": {}})
    assert opt.state == {"step": 0}


@pytest.mark.parametrize("bad, words", [
    ({"step": 2, "buffers": {"exp_avg": np.zeros(SIZE + 1)}}, "'exp_avg' has shape (6,)"),
    ({"step": -1, "buffers": {}}, "step count -1"),
    ({"step": 1.5, "buffers": {}}, "step count 1.5"),
])
def test_load_state_dict_refuses_a_state_that_does_not_fit(bad, words):
    opt = make_optimizer(resolve_optimizer({"name": "adam"}), SIZE, np.float64)
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(bad)
    assert words in str(info.value)
