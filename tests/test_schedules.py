"""Learning-rate schedules and gradient clipping: exact values, torch parity and option validation.

The learning-rate sequences are derived by hand (η used in epoch t = 0, 1, ..., i.e. ``schedule.lr``
before ``schedule.step()``), then compared over 40 epochs with torch.optim.lr_scheduler (its η of epoch
t is ``param_groups[0]["lr"]`` before ``scheduler.step()``), skipped when torch is not installed.
Clipping is compared with torch.nn.utils on the same numbers split over several tensors.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest

from gdtrain.clipping import clip_by_norm, clip_by_value
from gdtrain.errors import ConfigError
from gdtrain.schedules import SCHEDULES, make_schedule, resolve_schedule

RTOL = 1e-14
SQ2 = math.sqrt(2.0)


# --- helpers --------------------------------------------------------------------------------------

def lrs(spec, base_lr, epochs=12, total=None, metrics=None, monitor="val_loss"):
    """η of epochs 0 .. epochs − 1 (``metrics``: one value per epoch, or one dict per epoch)."""
    schedule = make_schedule(resolve_schedule(spec), base_lr, total)
    out = []
    for t in range(epochs):
        out.append(schedule.lr)
        if metrics is None:
            schedule.step(None)
        else:
            m = metrics[t]
            schedule.step(m if isinstance(m, dict) else {monitor: m})
    return out


def plateau_lrs(options, base_lr, metrics, **kw):
    """η of epochs 0 .. len(metrics): the first len(metrics) epochs each report one metric."""
    schedule = make_schedule(resolve_schedule({"name": "plateau", **options}), base_lr)
    monitor = options.get("monitor", "val_loss")
    out = []
    for m in metrics:
        out.append(schedule.lr)
        schedule.step(m if isinstance(m, dict) else {monitor: m})
    out.append(schedule.lr)
    return out


def assert_seq(got, expected, rtol=RTOL, atol=0.0):
    assert len(got) == len(expected)
    np.testing.assert_allclose(np.array(got), np.array(expected, dtype=np.float64), rtol=rtol, atol=atol)


# --- 1. hand-derived sequences --------------------------------------------------------------------

def test_constant():
    assert lrs({"name": "constant"}, 0.1) == [0.1] * 12
    assert resolve_schedule({}) == {"name": "constant", "per": "epoch", "warmup_epochs": 0,
                                    "warmup_start_factor": 1 / 3}


def test_step():
    assert_seq(lrs({"name": "step", "step_size": 3, "gamma": 0.5}, 0.8),
               [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1])
    # default γ = 0.1
    assert_seq(lrs({"name": "step", "step_size": 4}, 1.0), [1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01])


def test_multistep():
    assert_seq(lrs({"name": "multistep", "milestones": [2, 5, 9]}, 1.0),
               [1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001])
    assert_seq(lrs({"name": "multistep", "milestones": [1, 2, 10], "gamma": 0.5}, 2.0),
               [2, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_exponential():
    assert_seq(lrs({"name": "exponential", "gamma": 0.5}, 1.0), [2.0 ** -t for t in range(12)])
    assert_seq(lrs({"name": "exponential", "gamma": 0.9}, 0.1, epochs=3), [0.1, 0.09, 0.081])


def test_cosine_with_t_max_and_eta_min_including_beyond_t_max():
    # η_t = 0.1 + 1.0·(1 + cos(πt/4))/2; past T it rises again (period 2T), as CosineAnnealingLR.
    up, down = 0.1 + (1 + SQ2 / 2) / 2, 0.1 + (1 - SQ2 / 2) / 2
    assert_seq(lrs({"name": "cosine", "t_max": 4, "eta_min": 0.1}, 1.1),
               [1.1, up, 0.6, down, 0.1, down, 0.6, up, 1.1, up, 0.6, down], rtol=1e-14)


def test_cosine_t_max_null_uses_the_run_length():
    # total 6 epochs: T = 6, η reaches η_min = 0 at t = 6.
    got = lrs({"name": "cosine"}, 1.0, epochs=7, total=6)
    assert_seq(got, [1, (1 + math.sqrt(3) / 2) / 2, 0.75, 0.5, 0.25, (1 - math.sqrt(3) / 2) / 2, 0], atol=1e-16)
    # With warm-up W = 2 the cosine spans the remaining total − W = 8 epochs, from its own t = 0.
    got = lrs({"name": "cosine", "warmup_epochs": 2, "warmup_start_factor": 0.5}, 1.0, epochs=11, total=10)
    expected = [0.5, 0.75] + [(1 + math.cos(math.pi * k / 8)) / 2 for k in range(9)]
    assert_seq(got, expected, atol=1e-16)
    assert got[-1] == pytest.approx(0.0, abs=1e-16) and got[6] == pytest.approx(0.5, rel=1e-15)
    # An explicit t_max is kept whatever the total.
    assert lrs({"name": "cosine", "t_max": 2}, 1.0, epochs=3, total=100)[2] == pytest.approx(0.0, abs=1e-16)


def test_inverse_time():
    assert_seq(lrs({"name": "inverse_time", "decay": 0.5}, 1.0),
               [1, 2 / 3, 0.5, 0.4, 1 / 3, 2 / 7, 0.25, 2 / 9, 0.2, 2 / 11, 1 / 6, 2 / 13])
    assert_seq(lrs({"name": "inverse_time"}, 0.6, epochs=4), [0.6, 0.3, 0.2, 0.15])  # default decay 1


def test_inverse_sqrt():
    assert_seq(lrs({"name": "inverse_sqrt"}, 1.0), [1 / math.sqrt(t + 1) for t in range(12)])
    assert_seq(lrs({"name": "inverse_sqrt"}, 0.3, epochs=4), [0.3, 0.3 / SQ2, 0.3 / math.sqrt(3), 0.15])


def test_plateau_patience():
    # patience 2: the lr drops after the third epoch in a row without improvement.
    metrics = [1.0, 0.9, 0.95, 0.91, 0.92, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.91]
    #          best best bad1  bad2  bad3→½  best bad1  bad2  bad3→¼ bad1 bad2 bad3→⅛
    got = plateau_lrs({"patience": 2, "factor": 0.5}, 1.0, metrics)
    assert_seq(got, [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125])


def test_plateau_relative_threshold():
    # threshold 0.1 (rel): only m < 0.9·best counts as an improvement.
    metrics = [1.0, 0.95, 0.92, 0.85, 0.80, 0.70, 0.69, 0.68]
    #          best bad1  bad2→.1 best bad1  best  bad1  bad2→.01
    got = plateau_lrs({"patience": 1, "threshold": 0.1}, 1.0, metrics)
    assert_seq(got, [1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01])
    # With the default threshold 1e-4 every one of these epochs is an improvement.
    assert plateau_lrs({"patience": 1}, 1.0, metrics) == [1.0] * 9


def test_plateau_absolute_threshold():
    # threshold 0.05 (abs): only m < best − 0.05 counts.
    metrics = [1.0, 0.96, 0.94, 0.90, 0.895, 0.88, 0.80]
    #          best bad1  best  bad1  bad2→½  best best
    got = plateau_lrs({"patience": 1, "factor": 0.5, "threshold": 0.05, "threshold_mode": "abs"}, 1.0, metrics)
    assert_seq(got, [1, 1, 1, 1, 1, 0.5, 0.5, 0.5])


def test_plateau_mode_max_with_cooldown_reads_the_monitored_metric():
    # val_accuracy stuck at 0.5, patience 0, cooldown 2: a reduction, then two epochs' rest, and so on.
    # val_loss keeps rising, which mode max would count as improvement: it must not be read.
    metrics = [{"val_accuracy": 0.5, "val_loss": 1.0 + t} for t in range(10)]
    got = plateau_lrs({"monitor": "val_accuracy", "mode": "max", "patience": 0, "cooldown": 2, "factor": 0.5},
                      1.0, metrics)
    assert_seq(got, [1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125])
    # Rising accuracy: never a reduction.
    rising = [{"val_accuracy": 0.5 + 0.01 * t, "val_loss": 1.0} for t in range(10)]
    assert plateau_lrs({"monitor": "val_accuracy", "mode": "max", "patience": 0}, 1.0, rising) == [1.0] * 11


def test_plateau_min_lr():
    got = plateau_lrs({"patience": 0, "factor": 0.1, "min_lr": 0.005}, 1.0, [1.0] * 6)
    assert_seq(got, [1, 1, 0.1, 0.01, 0.005, 0.005, 0.005])


def test_plateau_eps_skips_tiny_reductions():
    # Halving 1.25e-8 would change η by 6.25e-9 < eps = 1e-8: skipped from then on.
    got = plateau_lrs({"patience": 0, "factor": 0.5}, 1e-7, [1.0] * 6)
    assert_seq(got, [1e-7, 1e-7, 5e-8, 2.5e-8, 1.25e-8, 1.25e-8, 1.25e-8])
    got = plateau_lrs({"patience": 0, "factor": 0.5, "eps": 0.0}, 1e-7, [1.0] * 6)
    assert_seq(got, [1e-7, 1e-7, 5e-8, 2.5e-8, 1.25e-8, 6.25e-9, 3.125e-9])


def test_warmup_then_step_from_its_own_t0():
    # W = 3, s = 0.25: η₀(s + (1 − s)t/W) = 0.25, 0.5, 0.75; then step (size 2, γ ½) from its t = 0.
    got = lrs({"name": "step", "step_size": 2, "gamma": 0.5, "warmup_epochs": 3, "warmup_start_factor": 0.25}, 1.0)
    assert_seq(got, [0.25, 0.5, 0.75, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625])


def test_warmup_default_start_factor_and_exponential():
    got = lrs({"name": "constant", "warmup_epochs": 4}, 1.0, epochs=7)
    assert_seq(got, [1 / 3, 0.5, 2 / 3, 5 / 6, 1, 1, 1])
    got = lrs({"name": "exponential", "gamma": 0.5, "warmup_epochs": 2, "warmup_start_factor": 0.5}, 0.8, epochs=7)
    assert_seq(got, [0.4, 0.6, 0.8, 0.4, 0.2, 0.1, 0.05])


def test_the_registry_holds_exactly_the_schedules_tested_here():
    assert SCHEDULES.names() == ["constant", "step", "multistep", "exponential", "cosine", "inverse_time",
                                 "inverse_sqrt", "plateau"]


# --- 2. parity with torch.optim.lr_scheduler ------------------------------------------------------

EPOCHS = 40


def torch_lrs(torch, make, base_lr, epochs=EPOCHS, metrics=None):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=base_lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = make(torch.optim.lr_scheduler, optimizer)
        out = []
        for t in range(epochs):
            out.append(float(optimizer.param_groups[0]["lr"]))
            optimizer.step()  # no gradient: a no-op, keeps torch's call order
            if metrics is None:
                scheduler.step()
            else:
                scheduler.step(metrics[t])
    return out


def assert_lrs_close(got, expected, base_lr):
    assert len(got) == len(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15 * base_lr)


TORCH_SCHEDULES = [
    ({"name": "step", "step_size": 7, "gamma": 0.3}, lambda L, o: L.StepLR(o, step_size=7, gamma=0.3)),
    ({"name": "step", "step_size": 1}, lambda L, o: L.StepLR(o, step_size=1)),
    ({"name": "multistep", "milestones": [3, 10, 11, 25], "gamma": 0.5},
     lambda L, o: L.MultiStepLR(o, milestones=[3, 10, 11, 25], gamma=0.5)),
    ({"name": "exponential", "gamma": 0.9}, lambda L, o: L.ExponentialLR(o, gamma=0.9)),
    ({"name": "cosine", "t_max": 15, "eta_min": 0.01}, lambda L, o: L.CosineAnnealingLR(o, T_max=15, eta_min=0.01)),
    ({"name": "cosine", "t_max": 10}, lambda L, o: L.CosineAnnealingLR(o, T_max=10)),
    ({"name": "cosine", "t_max": 1, "eta_min": 0.02}, lambda L, o: L.CosineAnnealingLR(o, T_max=1, eta_min=0.02)),
]


def spec_id(x):
    return "-".join(f"{k}={v}" for k, v in x.items()) if isinstance(x, dict) else ""


@pytest.mark.parametrize("spec, make", TORCH_SCHEDULES, ids=[spec_id(s) for s, _ in TORCH_SCHEDULES])
def test_matches_torch_scheduler_over_40_epochs(spec, make):
    torch = pytest.importorskip("torch")
    base_lr = 0.5
    got = lrs(spec, base_lr, epochs=EPOCHS)
    expected = torch_lrs(torch, make, base_lr)
    assert_lrs_close(got, expected, base_lr)
    assert len(set(np.round(got, 12))) >= 2  # the sequence really changes


def noisy_loss(t):
    """Falls with noise, bumps up at t = 18..21, then stalls from t = 25 on (so even patience 10 fires)."""
    if t >= 25:
        return 1 / 6 + 0.01 * ((3 * t) % 4)
    return 1.0 / (1.0 + 0.2 * t) + 0.05 * math.sin(2.1 * t) + (0.3 if 18 <= t < 22 else 0.0)


PLATEAU_CASES = [
    ({}, "min"),
    ({"patience": 2, "factor": 0.5}, "min"),
    ({"patience": 1, "cooldown": 2, "threshold": 0.05, "threshold_mode": "abs", "factor": 0.3}, "min"),
    ({"patience": 3, "threshold": 0.1}, "min"),
    ({"mode": "max", "monitor": "val_accuracy", "patience": 0, "factor": 0.7, "min_lr": 0.05}, "max"),
    ({"mode": "max", "monitor": "val_accuracy", "patience": 1, "threshold": 0.02, "threshold_mode": "abs",
      "cooldown": 1}, "max"),
    ({"patience": 0, "factor": 0.5, "eps": 0.02}, "min"),
]


@pytest.mark.parametrize("options, mode", PLATEAU_CASES, ids=[spec_id(o) or "defaults" for o, _ in PLATEAU_CASES])
def test_plateau_matches_reduce_lr_on_plateau(options, mode):
    torch = pytest.importorskip("torch")
    base_lr = 0.5
    values = [noisy_loss(t) if mode == "min" else 1.0 - noisy_loss(t) / 2 for t in range(EPOCHS)]
    monitor = options.get("monitor", "val_loss")
    got = lrs({"name": "plateau", **options}, base_lr, epochs=EPOCHS, metrics=values, monitor=monitor)
    torch_options = {k: v for k, v in options.items() if k != "monitor"}
    expected = torch_lrs(torch, lambda L, o: L.ReduceLROnPlateau(o, **torch_options), base_lr, metrics=values)
    assert_lrs_close(got, expected, base_lr)
    assert got[-1] < base_lr  # at least one reduction happened


WARMUP_CASES = [
    ({"name": "step", "step_size": 5, "gamma": 0.5}, lambda L, o: L.StepLR(o, step_size=5, gamma=0.5)),
    ({"name": "exponential", "gamma": 0.93}, lambda L, o: L.ExponentialLR(o, gamma=0.93)),
    ({"name": "cosine", "t_max": 12, "eta_min": 0.01}, lambda L, o: L.CosineAnnealingLR(o, T_max=12, eta_min=0.01)),
]


@pytest.mark.parametrize("warmup, start", [(5, 0.1), (3, 1 / 3), (1, 0.5)])
@pytest.mark.parametrize("spec, make", WARMUP_CASES, ids=["step", "exponential", "cosine"])
def test_warmup_matches_sequential_linear_lr(spec, make, warmup, start):
    torch = pytest.importorskip("torch")
    base_lr = 0.4

    def sequential(L, o):
        linear = L.LinearLR(o, start_factor=start, total_iters=warmup)
        return L.SequentialLR(o, [linear, make(L, o)], milestones=[warmup])

    full = {**spec, "warmup_epochs": warmup}
    if start != 1 / 3:
        full["warmup_start_factor"] = start
    got = lrs(full, base_lr, epochs=EPOCHS)
    expected = torch_lrs(torch, sequential, base_lr)
    assert_lrs_close(got, expected, base_lr)
    assert got[0] == pytest.approx(base_lr * start, rel=1e-15)


def test_schedule_defaults_equal_torch():
    torch = pytest.importorskip("torch")
    L = torch.optim.lr_scheduler

    def defaults(cls, skip=("self", "optimizer", "last_epoch")):
        return {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items() if k not in skip}

    plateau = resolve_schedule({"name": "plateau"})
    torch_plateau = defaults(L.ReduceLROnPlateau)
    for key, value in torch_plateau.items():
        assert plateau[key] == value, key
    assert resolve_schedule({"name": "step", "step_size": 2})["gamma"] == defaults(L.StepLR)["gamma"]
    assert resolve_schedule({"name": "multistep", "milestones": [2]})["gamma"] == defaults(L.MultiStepLR)["gamma"]
    assert resolve_schedule({"name": "cosine"})["eta_min"] == defaults(L.CosineAnnealingLR)["eta_min"]
    assert resolve_schedule({})["warmup_start_factor"] == defaults(L.LinearLR)["start_factor"]


# --- 3. config errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("spec, key", [
    ({"name": "step"}, "step_size"),
    ({"name": "step", "gamma": 0.5}, "step_size"),
    ({"name": "multistep"}, "milestones"),
    ({"name": "exponential"}, "gamma"),
])
def test_missing_required_option(spec, key):
    with pytest.raises(ConfigError) as info:
        resolve_schedule(spec)
    assert str(info.value).startswith(f"schedule.{key}: missing; schedule '{spec['name']}' needs it")


@pytest.mark.parametrize("milestones, problem", [
    ([5, 3], "must be increasing integers >= 1"),
    ([3, 3], "must be increasing integers >= 1"),
    ([0, 2], "must be increasing integers >= 1"),
    ([], "must be a non-empty list of integers"),
    ([1.5, 3], "must be a non-empty list of integers"),
    (4, "must be a non-empty list of integers"),
])
def test_bad_milestones(milestones, problem):
    with pytest.raises(ConfigError) as info:
        resolve_schedule({"name": "multistep", "milestones": milestones})
    assert str(info.value).startswith(f"schedule.milestones: {problem}")


def test_plateau_cannot_step_per_update():
    with pytest.raises(ConfigError, match=r"^schedule\.per: plateau"):
        resolve_schedule({"name": "plateau", "per": "step"})
    assert resolve_schedule({"name": "cosine", "per": "step"})["per"] == "step"  # the others can


@pytest.mark.parametrize("spec, key, hint", [
    ({"name": "cosine", "step_size": 3}, "step_size", None),
    ({"name": "step", "step_size": 3, "gama": 0.5}, "gama", "gamma"),
    ({"name": "constant", "gamma": 0.5}, "gamma", None),
    ({"name": "plateau", "patient": 3}, "patient", "patience"),
    ({"name": "exponential", "gamma": 0.9, "warmup": 3}, "warmup", "warmup_epochs"),
])
def test_unknown_option_is_named(spec, key, hint):
    with pytest.raises(ConfigError) as info:
        resolve_schedule(spec)
    message = str(info.value)
    assert message.startswith(f"schedule.{key}: schedule '{spec['name']}' takes no option '{key}'")
    if hint:
        assert f"did you mean '{hint}'?" in message


@pytest.mark.parametrize("spec, key", [
    ({"name": "step", "step_size": 0}, "step_size"),
    ({"name": "step", "step_size": 2.5}, "step_size"),
    ({"name": "exponential", "gamma": 0}, "gamma"),
    ({"name": "cosine", "t_max": 0}, "t_max"),
    ({"name": "plateau", "factor": 1.0}, "factor"),
    ({"name": "plateau", "mode": "maximum"}, "mode"),
    ({"name": "plateau", "monitor": "val_acc"}, "monitor"),
    ({"name": "constant", "warmup_start_factor": 0}, "warmup_start_factor"),
    ({"name": "constant", "warmup_epochs": -1}, "warmup_epochs"),
    ({"name": "constant", "per": "batch"}, "per"),
])
def test_out_of_range_values_are_named(spec, key):
    with pytest.raises(ConfigError, match=rf"^schedule\.{key}: "):
        resolve_schedule(spec)


def test_unknown_schedule_name():
    with pytest.raises(ConfigError, match=r"^schedule\.name: unknown schedule 'cosin'; did you mean 'cosine'\?"):
        resolve_schedule({"name": "cosin"})


# --- 4. clipping vs torch.nn.utils ----------------------------------------------------------------

CLIP_GRAD = np.array([0.3, -2.0, 1.5, 0.25, -0.75, 3.0, -0.1])  # ‖g‖ = √15.8525
CLIP_NORM = math.sqrt(float(np.sum(CLIP_GRAD ** 2)))
SPLITS = [[2, 3, 2], [4, 3]]


def torch_clip(torch, grad, sizes, fn, *args):
    tensors, start = [], 0
    for n in sizes:
        p = torch.zeros(n, dtype=torch.float64, requires_grad=True)
        p.grad = torch.tensor(grad[start:start + n].copy(), dtype=torch.float64)
        tensors.append(p)
        start += n
    returned = fn(tensors, *args)
    return np.concatenate([p.grad.numpy() for p in tensors]), returned


@pytest.mark.parametrize("sizes", SPLITS)
@pytest.mark.parametrize("max_norm, fires", [
    (1.0, True),                    # far below ‖g‖
    (CLIP_NORM, True),              # c = ‖g‖: coefficient c/(‖g‖ + 1e-6) < 1, so it still rescales
    (CLIP_NORM + 5e-7, True),       # still inside the 1e-6
    (CLIP_NORM + 2e-6, False),      # just outside
    (100.0, False),
], ids=["c=1", "c=norm", "c=norm+5e-7", "c=norm+2e-6", "c=100"])
def test_clip_by_norm_matches_clip_grad_norm(sizes, max_norm, fires):
    torch = pytest.importorskip("torch")
    g = CLIP_GRAD.copy()
    norm, fired = clip_by_norm(g, max_norm)
    expected, total = torch_clip(torch, CLIP_GRAD, sizes, torch.nn.utils.clip_grad_norm_, max_norm)
    assert fired is fires
    assert norm == pytest.approx(float(total), rel=1e-14)
    assert norm == pytest.approx(CLIP_NORM, rel=1e-15)
    np.testing.assert_allclose(g, expected, rtol=1e-13, atol=0)
    # The coefficient, by hand: c/(‖g‖ + 1e-6) when below 1.
    coef = max_norm / (CLIP_NORM + 1e-6)
    np.testing.assert_allclose(g, CLIP_GRAD * min(1.0, coef), rtol=1e-14)
    if fires:
        assert not np.array_equal(g, CLIP_GRAD)
    else:
        assert np.array_equal(g, CLIP_GRAD)


@pytest.mark.parametrize("sizes", SPLITS)
@pytest.mark.parametrize("value, fires", [(0.5, True), (2.0, True), (3.0, False), (10.0, False)])
def test_clip_by_value_matches_clip_grad_value(sizes, value, fires):
    torch = pytest.importorskip("torch")
    g = CLIP_GRAD.copy()
    fired = clip_by_value(g, value)
    expected, _ = torch_clip(torch, CLIP_GRAD, sizes, torch.nn.utils.clip_grad_value_, value)
    assert fired is fires
    assert np.array_equal(g, expected)
    assert np.array_equal(g, np.clip(CLIP_GRAD, -value, value))


def test_clip_by_norm_without_torch_at_the_1e6_boundary():
    # The 1e-6 alone decides: c = ‖g‖ rescales by ‖g‖/(‖g‖ + 1e-6).
    g = np.array([3.0, 4.0])
    norm, fired = clip_by_norm(g, 5.0)
    assert (norm, fired) == (5.0, True)
    np.testing.assert_allclose(g, [3.0 * 5 / (5 + 1e-6), 4.0 * 5 / (5 + 1e-6)], rtol=1e-15)
    h = np.array([3.0, 4.0])
    assert clip_by_norm(h, 5.0 + 1.5e-6) == (5.0, False)
    assert np.array_equal(h, [3.0, 4.0])
