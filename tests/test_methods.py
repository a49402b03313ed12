"""Line search, subgradient descent (L1, keep: best), convergence criteria and schedules inside fit().

The issue's acceptance checks live here: backtracking line search on L2-regularized logistic regression never
raises the loss and beats fixed-step GD; subgradient descent on least absolute deviations comes within 0.1% of
the linear program's optimum (SciPy as the reference, skipped without it).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from gdtrain.config import from_dict
from gdtrain.errors import ConfigError
from gdtrain.experiment import fit
from gdtrain.gradcheck import check_gradients
from gdtrain.linesearch import backtracking, resolve_line_search, strong_wolfe
from gdtrain.losses import LOSSES
from gdtrain.network import Network

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def read_rows(run_dir):
    with open(Path(run_dir) / "metrics.csv", newline="", encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def fit_raw(tmp_path, raw, name="run"):
    return fit(from_dict(raw, name=name), out=str(tmp_path / name))


def shipped(name, **overrides):
    """A shipped config with dotted keys overridden (a None value clears the key)."""
    raw = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    for key, value in overrides.items():
        *sections, last = key.split(".")
        node = raw
        for section in sections:
            node = node.setdefault(section, {})
        node[last] = value
    return from_dict(raw, name=name)


# --- line search on a function of one variable ------------------------------------------------------

def quadratic(curvature=4.0, start=1.0):
    """φ(t) = f(x + t d) for f(x) = c x²/2 at x = start along d = −f'(start)."""
    d = -curvature * start

    def phi(t):
        x = start + t * d
        return 0.5 * curvature * x * x

    def phi_slope(t):
        x = start + t * d
        return phi(t), curvature * x * d

    return phi, phi_slope, phi(0.0), phi_slope(0.0)[1]


def test_backtracking_takes_the_first_armijo_step_of_the_halving_sequence():
    phi, phi_slope, phi0, slope0 = quadratic(curvature=4.0)  # exact minimizer along d at t = 1/4
    result = backtracking(phi, phi_slope, phi0, slope0, initial_step=4.0, shrink=0.5, c1=1e-4)
    # t = 4, 2, 1, 0.5 overshoot to |x| >= 1 (no decrease); t = 0.25 lands on the minimum.
    assert result.ok and result.step == 0.25 and result.evaluations == 5
    assert result.value == 0.0
    # A looser c1 accepts the first step that lowers f enough: t = 0.5 gives x = −1, no decrease at all,
    # so it is still 0.25; from t₀ = 0.3 the first trial already satisfies Armijo.
    assert backtracking(phi, phi_slope, phi0, slope0, initial_step=0.3).step == 0.3


def test_backtracking_gives_up_on_an_ascent_direction():
    phi, phi_slope, phi0, slope0 = quadratic()
    result = backtracking(lambda t: phi(-t), None, phi0, -slope0, max_halvings=10)
    assert not result.ok and result.step == 0.0 and result.evaluations == 11 and result.value == phi0


@pytest.mark.parametrize("curvature, start_step", [(4.0, 1.0), (0.01, 1.0), (100.0, 1.0), (4.0, 1e-4)])
def test_strong_wolfe_step_satisfies_both_conditions(curvature, start_step):
    phi, phi_slope, phi0, slope0 = quadratic(curvature)
    c1, c2 = 1e-4, 0.9
    result = strong_wolfe(phi, phi_slope, phi0, slope0, initial_step=start_step, c1=c1, c2=c2)
    assert result.ok
    value, slope = phi_slope(result.step)
    assert value <= phi0 + c1 * result.step * slope0
    assert abs(slope) <= c2 * abs(slope0)
    assert value == result.value


def test_wolfe_needs_c1_below_c2():
    with pytest.raises(ConfigError, match=r"^training\.line_search\.c2: must be greater than c1"):
        resolve_line_search({"name": "wolfe", "c1": 0.5, "c2": 0.4})


# --- line search through fit() ------------------------------------------------------------------------

def test_backtracking_never_raises_the_loss_and_beats_fixed_step_gd(tmp_path):
    """The issue's check: breast_cancer, L2-regularized logistic regression, full batch, 150 epochs."""
    searched = fit(shipped("line_search", **{"training.tol_grad": None}), out=str(tmp_path / "searched"))
    fixed = fit(shipped("line_search", **{"optimizer.lr": 0.01, "training.tol_grad": None,
                                          "training.line_search": None}), out=str(tmp_path / "fixed"))
    rows, fixed_rows = read_rows(searched.run_dir), read_rows(fixed.run_dir)
    assert len(rows) == len(fixed_rows) == 150
    losses = [r["train_loss"] for r in rows]
    assert all(b <= a for a, b in zip(losses, losses[1:])), "the objective rose"
    assert losses[-1] < 0.3 * fixed_rows[-1]["train_loss"]  # 0.0497 vs 0.230
    assert searched.summary["train"]["loss"] < fixed.summary["train"]["loss"]
    # Armijo at every step: f(θ_{e}) ≤ f(θ_{e−1}) − c1 t ‖g‖², read from the log (train_loss of epoch e + 1 is
    # f after epoch e's step; grad_norm is ‖∇f‖ at the epoch's start), up to the CSV's 10 digits.
    for before, after in zip(rows, rows[1:]):
        t = before["lr"]
        assert t in {16.0 * 0.5 ** k for k in range(51)}
        bound = before["train_loss"] - 1e-4 * t * before["grad_norm"] ** 2
        assert after["train_loss"] <= bound + 1e-9 * before["train_loss"]
    assert rows[0]["lr"] == 8.0 and rows[1]["lr"] == 16.0  # the first step had to shrink once


def test_wolfe_line_search_converges_without_raising_the_loss(tmp_path):
    config = shipped("line_search", **{"training.tol_grad": None, "training.epochs": 60,
                                       "training.line_search": "wolfe"})
    result = fit(config, out=str(tmp_path / "wolfe"))
    losses = [r["train_loss"] for r in read_rows(result.run_dir)]
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.06 and result.summary["stop_reason"] == "completed"


def test_line_search_stops_cleanly_when_no_step_lowers_the_objective(tmp_path):
    # At the optimum (to numerical precision) Armijo cannot hold: the run stops, weights untouched.
    config = shipped("line_search", **{"training.tol_grad": None, "training.epochs": 3000,
                                       "training.line_search.max_halvings": 3})
    result = fit(config, out=str(tmp_path / "flat"))
    assert result.summary["stop_reason"] == "line_search"
    assert "no step that lowers the objective" in result.summary["message"]
    rows = read_rows(result.run_dir)
    assert rows[-1]["lr"] == 0.0 and result.summary["epochs"] == len(rows) < 3000
    assert rows[-1]["grad_norm"] < 1e-8


@pytest.mark.parametrize("change, message", [
    ({"training.mode": "minibatch"}, r"training\.line_search: needs training\.mode: batch, got minibatch"),
    ({"training.mode": "sgd"}, r"training\.line_search: needs training\.mode: batch, got sgd"),
    ({"optimizer": {"name": "adam"}}, r"training\.line_search: steps along −∇J itself.*got adam"),
    ({"optimizer": {"name": "momentum"}}, r"training\.line_search: steps along −∇J itself"),
    ({"optimizer": {"name": "sgd", "weight_decay": 0.1}}, r"training\.line_search: steps along −∇J itself"),
    ({"schedule": {"name": "exponential", "gamma": 0.9}}, r"training\.line_search: chooses the step length itself; "
                                                          r"remove the schedule"),
    ({"clip": {"norm": 1.0}}, r"training\.line_search: chooses the step length itself; remove clip"),
    ({"model": {"hidden": [{"units": 4, "dropout": 0.5}]}}, r"model\.hidden\[0\]\.dropout: a line search needs "
                                                            r"a deterministic objective"),
    ({"training": {"mode": "batch", "line_search": {"name": "backtracking", "shrink": 1.5}}},
     r"training\.line_search\.shrink: must be < 1, got 1\.5"),
    ({"training": {"mode": "batch", "line_search": "armijo"}},
     r"training\.line_search\.name: unknown line search 'armijo'"),
    ({"training": {"mode": "batch", "line_search": {"name": "wolfe", "shrink": 0.5}}},
     r"training\.line_search\.shrink: line search 'wolfe' takes no option 'shrink'"),
])
def test_line_search_config_errors_say_why(change, message):
    raw = yaml.safe_load((CONFIGS / "line_search.yaml").read_text())
    for key, value in change.items():
        if "." in key:
            section, field = key.split(".")
            raw[section][field] = value
        else:
            raw[key] = value
    with pytest.raises(ConfigError, match=message):
        from_dict(raw)


# --- subgradient descent ------------------------------------------------------------------------------

def lad_optimum(X, y):
    """min (1/n) Σ|Xw + b − y| as a linear program: variables (w, b, u), u ≥ ±(Xw + b − y)."""
    linprog = pytest.importorskip("scipy.optimize").linprog
    n, d = X.shape
    c = np.r_[np.zeros(d + 1), np.ones(n) / n]
    upper = np.c_[X, np.ones(n), -np.eye(n)]
    lower = np.c_[-X, -np.ones(n), -np.eye(n)]
    result = linprog(c, A_ub=np.r_[upper, lower], b_ub=np.r_[y, -y],
                     bounds=[(None, None)] * (d + 1) + [(0, None)] * n, method="highs")
    assert result.status == 0
    return result.fun


def test_subgradient_descent_on_lad_comes_within_a_tenth_of_a_percent_of_the_lp_optimum(tmp_path):
    result = fit(shipped("subgradient"), out=str(tmp_path / "lad"))
    optimum = lad_optimum(result.data.X_train, result.data.y_train[:, 0])
    best = result.summary["best_train_loss"]
    assert optimum <= best < optimum * 1.001, (best, optimum)
    # keep: best — model.npz holds the best iterate, whose loss is the best training loss
    assert result.summary["train"]["loss"] == pytest.approx(best, rel=1e-12)
    assert result.summary["kept_epoch"] == result.summary["best_train_epoch"] == result.summary["best_epoch"]
    # the same η₀ held constant bounces far from the optimum (why the schedule matters)
    constant = fit(shipped("subgradient", **{"schedule": "constant", "training.epochs": 2000}),
                   out=str(tmp_path / "constant"))
    assert constant.summary["best_train_loss"] > optimum * 1.5


def test_keep_best_versus_last_without_validation(tmp_path):
    """Constant-step subgradient descent bounces: the last iterate is worse than the best one."""
    raw = yaml.safe_load((CONFIGS / "subgradient.yaml").read_text())
    raw["schedule"] = "constant"
    raw["optimizer"]["lr"] = 30.0
    raw["training"]["epochs"] = 300
    last = fit_raw(tmp_path, raw | {"training": {**raw["training"], "keep": "last"}}, "last")
    best = fit_raw(tmp_path, raw, "best")
    rows = read_rows(best.run_dir)
    losses = [r["train_loss"] for r in rows]
    i = int(np.argmin(losses))
    assert best.summary["best_epoch"] == best.summary["kept_epoch"] == i + 1
    # batch mode: epoch e's train_loss is J at the weights the epoch started from, and those are kept
    assert best.summary["train"]["loss"] == pytest.approx(min(losses), rel=1e-9)
    assert last.summary["kept_epoch"] == 300
    assert last.summary["train"]["loss"] > best.summary["train"]["loss"]


def test_keep_best_with_validation_keeps_the_best_validation_epoch(tmp_path):
    raw = {"seed": 1, "data": {"source": "diabetes"}, "model": {"hidden": [{"units": 32, "activation": "relu"}]},
           "loss": "mse", "optimizer": {"name": "sgd", "lr": 0.001},
           "training": {"mode": "minibatch", "batch_size": 16, "epochs": 40, "keep": "best"}}
    result = fit_raw(tmp_path, raw)
    val = [r["val_loss"] for r in read_rows(result.run_dir)]
    assert result.summary["kept_epoch"] == result.summary["best_epoch"] == int(np.argmin(val)) + 1 < 40
    assert result.summary["validation"]["loss"] == pytest.approx(min(val), rel=1e-9)


def test_l1_penalty_value_and_subgradient():
    net = Network([3, 2, 1], ["tanh", "identity"])
    net.params[...] = np.arange(net.size) - 4.0  # W1 has an exact 0 entry
    W = [layer.W.copy() for layer in net.layers]
    assert (W[0] == 0).sum() == 1
    X, y = np.ones((4, 3)), np.zeros((4, 1))
    loss = LOSSES.get("mse")
    net.loss_and_grad(X, y, loss, training=False)
    plain = net.grad.copy()
    value = net.loss_and_grad(X, y, loss, l2=0.1, training=False, l1=0.5)
    expected_penalty = 0.1 * sum((w ** 2).sum() for w in W) + 0.5 * sum(np.abs(w).sum() for w in W)
    assert value == pytest.approx(loss.value(net.forward(X), y) + expected_penalty, rel=1e-14)
    g, g0 = net.views(net.grad), net.views(plain)
    for i, w in enumerate(W, start=1):
        np.testing.assert_allclose(g[f"W{i}"], g0[f"W{i}"] + 0.2 * w + 0.5 * np.sign(w), rtol=1e-14)
        np.testing.assert_array_equal(g[f"b{i}"], g0[f"b{i}"])  # biases carry no penalty
    zero = W[0] == 0
    assert g["W1"][zero] == g0["W1"][zero]  # sign(0) = 0: no push at the kink


def test_l1_gradient_passes_finite_differences():
    rng = np.random.default_rng(3)
    net = Network([4, 5, 3], ["tanh", "identity"])
    net.params[...] = rng.normal(0, 0.5, net.size)
    X, y = rng.normal(size=(10, 4)), rng.integers(0, 3, 10)
    checks = check_gradients(net, X, y, LOSSES.get("cross_entropy"), l2=0.01, l1=0.05)
    assert all(c.passed and c.kinks == 0 for c in checks), checks
    # A weight within ε of 0 is a kink of |w|: counted and left out, not failed.
    net.layers[0].W[0, 0] = 1e-9
    checks = check_gradients(net, X, y, LOSSES.get("cross_entropy"), l1=0.05)
    assert checks[0].kinks == 1 and all(c.passed for c in checks)


# --- convergence criteria -----------------------------------------------------------------------------

def iris_batch(**training):
    return {"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 8, "activation": "tanh"}]},
            "optimizer": {"name": "sgd", "lr": 0.5}, "training": {"mode": "batch", "epochs": 2000, **training}}


def test_tol_grad_stops_at_the_first_epoch_below_it(tmp_path):
    result = fit_raw(tmp_path, iris_batch(tol_grad=0.02))
    rows = read_rows(result.run_dir)
    norms = [r["grad_norm"] for r in rows]
    assert result.summary["stop_reason"] == "tol_grad" and result.summary["epochs"] == len(rows) < 2000
    assert norms[-1] < 0.02 and all(n >= 0.02 for n in norms[:-1])
    assert result.summary["message"] == (f"gradient norm {norms[-1]:.2g} < tol_grad 0.02 at epoch {len(rows)}")


def test_tol_loss_compares_with_patience_epochs_before(tmp_path):
    result = fit_raw(tmp_path, iris_batch(tol_loss=1e-3, patience=3))
    losses = [r["train_loss"] for r in read_rows(result.run_dir)]
    change = [abs(losses[e] - losses[e - 3]) / abs(losses[e - 3]) for e in range(3, len(losses))]
    assert result.summary["stop_reason"] == "tol_loss"
    assert change[-1] < 1e-3 and all(c >= 1e-3 for c in change[:-1])
    assert "over 3 epochs < tol_loss 0.001 at epoch" in result.summary["message"]


def test_tol_step_measures_how_far_an_epoch_moved_the_weights(tmp_path):
    result = fit_raw(tmp_path, iris_batch(tol_step=5e-3))
    rows = read_rows(result.run_dir)
    # in batch mode with sgd an epoch moves θ by exactly η‖g‖
    steps = [0.5 * r["grad_norm"] for r in rows]
    assert result.summary["stop_reason"] == "tol_step" and len(rows) < 2000
    assert steps[-1] < 5e-3 * (1 + 1e-6) and all(s >= 5e-3 * (1 - 1e-6) for s in steps[:-1])


def test_without_criteria_the_run_completes(tmp_path):
    result = fit_raw(tmp_path, iris_batch() | {"training": {"mode": "batch", "epochs": 30}})
    assert result.summary["stop_reason"] == "completed" and result.summary["epochs"] == 30


# --- schedules inside fit() ---------------------------------------------------------------------------

def test_per_step_schedule_advances_once_per_update(tmp_path):
    raw = {"seed": 0, "data": {"source": "iris", "validation_split": 0.2, "test_split": 0.2},
           "model": {"hidden": [4]}, "optimizer": {"name": "sgd", "lr": 0.1},
           "schedule": {"name": "exponential", "gamma": 0.99, "per": "step"},
           "training": {"mode": "minibatch", "batch_size": 10, "epochs": 4}}
    result = fit_raw(tmp_path, raw)
    steps_per_epoch = math.ceil(result.data.splits["train"] / 10)  # 90 training rows → 9 updates per epoch
    assert steps_per_epoch == 9
    lrs = [r["lr"] for r in read_rows(result.run_dir)]
    assert lrs == pytest.approx([0.1 * 0.99 ** (steps_per_epoch * e) for e in range(4)], rel=1e-9)


def test_cosine_t_max_null_spans_the_run_after_the_warm_up(tmp_path):
    raw = iris_batch() | {"training": {"mode": "batch", "epochs": 12},
                          "schedule": {"name": "cosine", "t_max": None, "warmup_epochs": 2, "warmup_start_factor": 0.5}}
    lrs = [r["lr"] for r in read_rows(fit_raw(tmp_path, raw).run_dir)]
    expected = [0.25, 0.375] + [0.25 * (1 + math.cos(math.pi * t / 10)) for t in range(10)]
    assert lrs == pytest.approx(expected, rel=1e-9)


def test_plateau_on_validation_needs_validation_data():
    raw = iris_batch() | {"schedule": {"name": "plateau"}, "data": {"source": "iris", "validation_split": 0}}
    with pytest.raises(ConfigError, match=r"^schedule\.monitor: val_loss needs validation data"):
        from_dict(raw)
    raw["schedule"]["monitor"] = "train_loss"
    assert from_dict(raw).schedule["monitor"] == "train_loss"


def test_plateau_in_fit_reduces_the_rate_when_validation_stalls(tmp_path):
    raw = {"seed": 0, "data": {"source": "diabetes"}, "model": {"hidden": [{"units": 32, "activation": "relu"}]},
           "loss": "mse", "optimizer": {"name": "sgd", "lr": 0.001},
           "schedule": {"name": "plateau", "patience": 2, "factor": 0.5},
           "training": {"mode": "minibatch", "batch_size": 16, "epochs": 30}}
    rows = read_rows(fit_raw(tmp_path, raw).run_dir)
    lrs, val = [r["lr"] for r in rows], [r["val_loss"] for r in rows]
    assert len(rows) == 30 and lrs[0] == 0.001 and lrs[-1] < 0.0001
    # Re-derive the reductions from the logged val_loss (ReduceLROnPlateau, threshold 1e-4 rel, mode min).
    lr, best, bad = 0.001, math.inf, 0
    for epoch, v in enumerate(val[:-1]):
        assert lrs[epoch] == pytest.approx(lr, rel=1e-12)
        if v < best * (1 - 1e-4):
            best, bad = v, 0
        else:
            bad += 1
        if bad > 2:
            lr, bad = lr * 0.5, 0


# --- the documentation keeps up with the code -----------------------------------------------------------

def test_docs_name_every_optimizer_schedule_and_line_search_option():
    from gdtrain.linesearch import LINE_SEARCHES
    from gdtrain.optimizers import OPTIMIZERS
    from gdtrain.schedules import COMMON_OPTIONS, SCHEDULES

    text = (CONFIGS.parent / "docs" / "optimization.md").read_text(encoding="utf-8")
    tables = [(f"optimizer {name}", cls.OPTIONS) for name, cls in OPTIMIZERS.items()]
    tables += [(f"schedule {name}", cls.OPTIONS) for name, cls in SCHEDULES.items()] + [("schedule", COMMON_OPTIONS)]
    tables += [(f"line search {name}", method.options) for name, method in LINE_SEARCHES.items()]
    for owner, options in tables:
        assert f"`{owner.split()[-1]}`" in text or owner == "schedule", owner
        for key in options:
            assert f"`{key}`" in text, f"docs/optimization.md does not mention {owner}'s option {key}"
    readme = (CONFIGS.parent / "README.md").read_text(encoding="utf-8")
    for config in sorted(CONFIGS.glob("*.yaml")):
        assert f"configs/{config.name}" in readme, f"README's table of shipped configs lacks {config.name}"
