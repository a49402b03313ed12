"""The named warnings (diagnostics.py) on every shipped config and every variant the tour runs.

A warning a learner cannot trust is worse than none, so each shipped config is trained as shipped (every one
in full, none shortened: a shorter run could only miss a warning; the slowest, overfitting and its two tour
variants, take about 2 s each with one BLAS thread, the whole file about 15 s on a loaded 2-core machine) and
the exact set of named warnings it gives is asserted: the ones the tour explains (docs/tour.md) and nothing else. Then the
lr_too_large rule on crafted loss curves: the mini-batch noise, dropout, momentum and subgradient curves of
the shipped configs stay quiet, a real blow-up warns, and the printed figures differ at the precision printed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gdtrain.config import load_config
from gdtrain.diagnostics import Diagnostics
from gdtrain.experiment import fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# config -> the named warnings it gives (docs/tour.md says why for each non-empty one)
SHIPPED = {
    "adam": set(),
    "backprop_by_hand": set(),
    "compare": set(),
    "cosine_warmup": set(),
    "diabetes": set(),
    "digits": set(),
    # tour stop 14: Adam's first steps at lr 0.01 on targets in the hundreds kill 36 of layer 2's 64 ReLUs for good
    "early_stopping": {"dead_relus"},
    "exploding": set(),
    "ill_conditioned": set(),
    "iris": set(),
    "learning_rate": set(),
    "line_search": set(),
    "modes": set(),
    "overfitting": set(),
    "quickstart": set(),
    "sine": set(),
    "subgradient": set(),
    "vanishing": {"vanishing_gradients"},  # tour stop 10
    "vanishing_batchnorm": set(),
    "vanishing_residual": set(),
    "xor": set(),
    "xor_linear": set(),
    # configs that other work adds (issue 18's problems, the l1 penalty): checked there against this rule
    "l1_subgradient": set(),
    "quadratic": set(),
    "rosenbrock": set(),
    "saddle": set(),
}
PRESENT = sorted(p.stem for p in CONFIGS.glob("*.yaml"))

# the tour's --set variants (docs/tour.md): (config, assignments) -> warnings, and whether the run diverges
TOO_LARGE = {"lr_too_large", "exploding_gradients"}
VARIANTS = {
    "lr-small": ("learning_rate", ["optimizer.lr=0.001"], set(), False),
    "lr-too-large": ("learning_rate", ["optimizer.lr=1"], TOO_LARGE, True),  # stop 4
    "plain-gd": ("ill_conditioned", ["optimizer.momentum=0"], set(), False),
    "standardized": ("ill_conditioned", ["data.standardize=true", "optimizer.lr=0.1"], set(), False),  # momentum
    "no-clip": ("exploding", ["clip.norm=null"], TOO_LARGE, True),  # stop 12
    "deep-relu": ("vanishing", ["model.hidden=[32, 32, 32, 32, 32, 32, 32]"], set(), False),
    "l2": ("overfitting", ["regularization.l2=0.001"], set(), False),
    "dropout": ("overfitting", ["model.hidden.0.dropout=0.5", "model.hidden.1.dropout=0.5"], set(), False),
    "constant-step": ("subgradient", ["schedule=constant"], set(), False),
    "fixed-step": ("line_search", ["training.line_search=null", "optimizer.lr=0.01"], set(), False),
    "sgd-mode": ("modes", ["training.mode=sgd"], set(), False),
    "step-schedule": ("cosine_warmup", ["schedule={name: step, step_size: 10, gamma: 0.5}"], set(), False),
    "exponential": ("cosine_warmup", ["schedule={name: exponential, gamma: 0.9}"], set(), False),
    # 10 000 steps of Mazur's one-hidden-layer net: W1's gradient is small because the inputs are (0.05, 0.10),
    # not because a signal vanished through many layers
    "mazur-10000": ("backprop_by_hand", ["training.epochs=10000"], set(), False),
}


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """These networks are small: with two BLAS threads on a loaded 2-core machine overfitting.yaml's wide layers
    take 15 x longer (34 s against 2.2 s measured), so the runs here use one. The warnings do not depend on it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def warnings_of(tmp_path, name, assignments=()):
    result = fit(load_config(CONFIGS / f"{name}.yaml", assignments=list(assignments)), out=str(tmp_path / "run"))
    return result.summary


def test_every_shipped_config_is_listed():
    assert [name for name in PRESENT if name not in SHIPPED] == []  # a new config must say what it warns about


@pytest.mark.parametrize("name", PRESENT)
def test_shipped_config_gives_exactly_its_warnings(tmp_path, name):
    summary = warnings_of(tmp_path, name)
    given = {w["name"] for w in summary["warnings"]}
    assert given == SHIPPED[name], [w["message"] for w in summary["warnings"]]
    assert summary["stop_reason"] != "diverged", summary.get("message")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_tour_variant_gives_exactly_its_warnings(tmp_path, variant):
    name, assignments, expected, diverges = VARIANTS[variant]
    summary = warnings_of(tmp_path, name, assignments)
    assert {w["name"] for w in summary["warnings"]} == expected, [w["message"] for w in summary["warnings"]]
    assert (summary["stop_reason"] == "diverged") == diverges, summary.get("message")


def test_the_too_large_arm_warns_at_epoch_4_and_5_with_distinct_figures(tmp_path):
    summary = warnings_of(tmp_path, "learning_rate", ["optimizer.lr=1"])
    found = {w["name"]: w for w in summary["warnings"]}
    assert found["lr_too_large"]["epoch"] == 4 and found["exploding_gradients"]["epoch"] == 5
    message = found["lr_too_large"]["message"]
    assert message.startswith("the learning rate may be too large: the training loss rose 3 epochs in a row")
    assert "(2.8e+04 → 1.1e+05 → 4.3e+06 → 2.1e+08)" in message


# --- the lr_too_large rule on crafted curves ----------------------------------------------------------

def epochs_warned(losses, **thresholds):
    """(epoch, message) of every lr_too_large warning a run with these epoch losses gets."""
    diag = Diagnostics(**thresholds)
    out = []
    for epoch, loss in enumerate(losses, start=1):
        for w in diag.examine(epoch, loss, {"grad_norm": 1.0}, {}, ["identity"]):
            out.append((w.epoch, w.message))
    return out


# The first epochs of shipped runs that the old rule ("rose 3 epochs in a row") called too large.
MOMENTUM = [27700, 17600, 8390, 4250, 5230, 10800, 15400, 13900, 9010, 5140, 3280, 4250, 7280, 8860, 7620]
DROPOUT = [3.18, 1.96, 1.25, 0.48, 0.284, 0.0622, 0.0783, 0.0854, 0.102, 0.0776, 0.0882, 0.105, 0.124, 0.0597]
SUBGRADIENT = [152.1, 148.9, 63.12, 113.5, 276.5, 110, 214.2, 111.1] + [43.04, 43.05, 43.06, 43.07, 43.03]
DIGITS = [1.6, 0.702, 0.478, 0.0663, 0.0755, 0.0702, 0.072, 0.0783, 0.0695, 0.0626, 0.0641, 0.0674, 0.0727]
PLATEAU = [0.5779, 0.58, 0.6229, 0.6072, 0.58, 0.59, 0.60, 0.61, 0.62, 0.63]  # noise around the start


@pytest.mark.parametrize("curve", [MOMENTUM, DROPOUT, SUBGRADIENT, DIGITS, PLATEAU],
                         ids=["momentum", "dropout", "subgradient", "digits", "plateau"])
def test_noise_momentum_and_subgradient_bounces_do_not_warn(curve):
    assert epochs_warned(curve) == []


def test_a_loss_climbing_above_twice_its_start_warns_once():
    warned = epochs_warned([27700, 112000, 4.31e6, 2.14e8, 1.07e10, 5.3e11])
    assert [epoch for epoch, _ in warned] == [4]
    # climbing, but still below 2 x the first epoch's 10: not yet; above it after the third rise: warns
    assert [e for e, _ in epochs_warned([10, 5, 8, 12, 19, 18])] == []
    assert [e for e, _ in epochs_warned([10, 5, 8, 12, 21])] == [5]
    assert "more than 2 x the first epoch's 10" in epochs_warned([10, 5, 8, 12, 21])[0][1]
    # the factor is a monitor setting
    assert [e for e, _ in epochs_warned([10, 5, 8, 12, 19], rising_factor=1.5)] == [5]


def test_the_printed_path_differs_at_the_precision_printed():
    (epoch, message), = epochs_warned([10, 25, 25.01, 25.02, 25.03])
    assert epoch == 4  # the third rise in a row
    path = re.search(r"\(([^()]*→[^()]*)\)", message).group(1).split(" → ")
    assert path == ["10", "25", "25.01", "25.02"]  # 2 significant digits would print 25 → 25 → 25
    assert len(set(path)) == len(path)
    (_, message), = epochs_warned([1, 3.0, 3.0000001, 3.0000002, 3.0000003])
    path = re.search(r"\(([^()]*→[^()]*)\)", message).group(1).split(" → ")
    assert len(set(path)) == len(path), path


def test_vanishing_needs_a_deep_network():
    # one hidden layer: W1's gradient is small when the inputs are (no signal vanished on the way back)
    diag = Diagnostics()
    assert diag.examine(1, 1.0, {"grad_norm": 1.0, "grad_norm_W1": 1e-4, "grad_norm_W2": 1.0}, {},
                        ["sigmoid", "sigmoid"]) == []
    # two hidden layers and more: the ratio rule, as before
    found = Diagnostics().examine(1, 1.0, {"grad_norm": 1.0, "grad_norm_W1": 1e-4, "grad_norm_W2": 0.5,
                                           "grad_norm_W3": 1.0}, {}, ["sigmoid", "sigmoid", "identity"])
    assert [w.name for w in found] == ["vanishing_gradients"]
