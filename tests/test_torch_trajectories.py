"""Whole training trajectories against PyTorch (skipped when torch is not installed).

The acceptance criterion, through the real product path (data file → config → ``fit`` → run directory):
20–30 full-batch epochs from ``model.init_from`` weights, for every optimizer and its options, every
learning-rate schedule (with warm-up, per epoch and per step), gradient clipping by norm and by value, and
the L2 penalty with weight decay, end with the weights PyTorch reaches from the same start with the same
``torch.optim`` optimizer, ``torch.optim.lr_scheduler`` scheduler and ``torch.nn.utils`` clipping
(float64, rel err < 1e-8 per tensor). Along the way metrics.csv's ``lr`` column is the rate torch used in
each epoch (``param_groups[0]["lr"]`` before ``scheduler.step()``), its ``train_loss`` column the objective
J + λΣ‖W‖² at the start of each epoch's step, and ``grad_norm`` the global gradient norm before clipping.

One torch epoch mirrors one gdtrain step: zero_grad → J.backward() → clip → opt.step() → sched.step()
(ReduceLROnPlateau is stepped with that epoch's J, the value gdtrain logs as train_loss).

Relative error per tensor: rel(a, t) = max|a − t| / max(|a| + |t|).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional

import numpy as np
import pytest
from helpers import random_weights, rel_err

torch = pytest.importorskip("torch")
F = torch.nn.functional

from gdtrain.config import from_dict  # noqa: E402
from gdtrain.experiment import fit  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_float64")

NAMES = ["W1", "b1", "W2", "b2", "W3", "b3"]
WEIGHTS = ["W1", "W2", "W3"]
WEIGHT_RTOL = 1e-8  # final weights, per tensor
CSV_RTOL = 1e-9  # metrics.csv writes 10 significant digits

TORCH_OPTIMIZERS = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
                    "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}






# --- the problem: n = 40, d = 3, hidden 6 tanh and 5 tanh; 3 classes or 2 regression targets ----------------

N, D, H1, H2 = 40, 3, 6, 5


def problem(loss_name: str, seed: int = 0):
    """(X, y, weights): targets a smooth function of X, so every optimizer has a long way downhill."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    mix = rng.normal(size=(D, 3))
    scores = np.tanh(X @ mix) + 0.3 * (X ** 2) @ rng.normal(size=(D, 3))
    if loss_name == "mse":
        y = scores[:, :2] + 0.05 * rng.normal(size=(N, 2))
        n_out = 2
    else:
        y = np.argmax(scores, axis=1).astype(np.int64)
        n_out = 3
        assert np.bincount(y, minlength=3).min() >= 4  # every class present
    return X, y, random_weights([D, H1, H2, n_out], rng, 0.6, 0.1)


def torch_objective(loss_name: str, Xt, yt, P: Dict[str, Any], l2: float):
    a = Xt
    for i in (1, 2, 3):
        z = a @ P[f"W{i}"].T + P[f"b{i}"]
        a = torch.tanh(z) if i < 3 else z
    J = F.mse_loss(a, yt) if loss_name == "mse" else F.cross_entropy(a, yt)
    if l2:
        J = J + l2 * sum((P[w] ** 2).sum() for w in WEIGHTS)
    return J


# --- the cases ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    optimizer: Dict[str, Any]  # gdtrain's optimizer section; the same options build torch's optimizer
    schedule: Optional[Dict[str, Any]] = None
    torch_schedule: Optional[Callable] = None  # optimizer -> torch scheduler (built explicitly, names differ)
    clip: Dict[str, float] = field(default_factory=dict)
    l2: float = 0.0
    loss: str = "cross_entropy"
    epochs: int = 25
    plateau: bool = False  # scheduler.step(J) (ReduceLROnPlateau) instead of scheduler.step()


LRS = torch.optim.lr_scheduler

CASES = [
    # optimizers at a constant rate
    Case("sgd-plain", {"name": "sgd", "lr": 0.5}),
    Case("sgd-plain-mse", {"name": "sgd", "lr": 0.2}, loss="mse"),
    Case("sgd-momentum", {"name": "sgd", "lr": 0.1, "momentum": 0.9}),
    Case("sgd-nesterov", {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True}),
    Case("sgd-dampening-wd", {"name": "sgd", "lr": 0.2, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
    Case("adagrad-lr_decay-init_acc", {"name": "adagrad", "lr": 0.1, "lr_decay": 0.01,
                                       "initial_accumulator_value": 0.1}),
    Case("rmsprop-plain", {"name": "rmsprop", "lr": 0.01}),
    Case("rmsprop-centered-momentum-mse", {"name": "rmsprop", "lr": 0.005, "centered": True, "momentum": 0.5},
         loss="mse"),
    Case("adam-plain", {"name": "adam", "lr": 0.05}),
    Case("adam-amsgrad-betas", {"name": "adam", "lr": 0.05, "amsgrad": True, "betas": [0.8, 0.95]}),
    Case("adamw-default-wd", {"name": "adamw", "lr": 0.05}),
    # schedules
    Case("step-sgd-momentum", {"name": "sgd", "lr": 0.1, "momentum": 0.9},
         {"name": "step", "step_size": 5, "gamma": 0.5}, lambda o: LRS.StepLR(o, step_size=5, gamma=0.5)),
    Case("multistep-adam", {"name": "adam", "lr": 0.05},
         {"name": "multistep", "milestones": [5, 12], "gamma": 0.3},
         lambda o: LRS.MultiStepLR(o, milestones=[5, 12], gamma=0.3)),
    Case("exponential-sgd-momentum", {"name": "sgd", "lr": 0.1, "momentum": 0.9},
         {"name": "exponential", "gamma": 0.9}, lambda o: LRS.ExponentialLR(o, gamma=0.9)),
    Case("exponential-per-step-adam", {"name": "adam", "lr": 0.05},
         {"name": "exponential", "gamma": 0.9, "per": "step"}, lambda o: LRS.ExponentialLR(o, gamma=0.9)),
    Case("cosine-adam-past-t_max", {"name": "adam", "lr": 0.05},
         {"name": "cosine", "t_max": 20, "eta_min": 0.001},
         lambda o: LRS.CosineAnnealingLR(o, T_max=20, eta_min=0.001), epochs=30),
    Case("cosine-warmup-sgd-momentum", {"name": "sgd", "lr": 0.1, "momentum": 0.9},
         {"name": "cosine", "t_max": 20, "warmup_epochs": 5, "warmup_start_factor": 0.2},
         lambda o: LRS.SequentialLR(o, [LRS.LinearLR(o, start_factor=0.2, total_iters=5),
                                        LRS.CosineAnnealingLR(o, T_max=20)], milestones=[5]), epochs=30),
    # a rate high enough that the loss zig-zags, so the plateau rule fires (twice, at epochs 20 and 29)
    Case("plateau-train_loss-sgd-momentum", {"name": "sgd", "lr": 0.8, "momentum": 0.9},
         {"name": "plateau", "monitor": "train_loss", "patience": 2, "factor": 0.5},
         lambda o: LRS.ReduceLROnPlateau(o, mode="min", patience=2, factor=0.5), epochs=30, plateau=True),
    # clipping
    Case("clip-norm-sgd-momentum", {"name": "sgd", "lr": 0.1, "momentum": 0.9}, clip={"norm": 0.5}),
    Case("clip-value-adam", {"name": "adam", "lr": 0.05}, clip={"value": 0.1}),
    # the L2 penalty (weights only) together with weight decay (every parameter)
    Case("l2-adam-weight_decay-mse", {"name": "adam", "lr": 0.05, "weight_decay": 0.01}, l2=0.005, loss="mse"),
    # beyond the defaults: every remaining option once
    Case("rmsprop-all-options", {"name": "rmsprop", "lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.02,
                                 "momentum": 0.3, "centered": True}),
    Case("adam-amsgrad-weight_decay-eps", {"name": "adam", "lr": 0.05, "amsgrad": True, "weight_decay": 0.05,
                                           "eps": 1e-6}),
    Case("adamw-amsgrad-wd0.1", {"name": "adamw", "lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    Case("sgd-nesterov-weight_decay", {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True,
                                       "weight_decay": 0.05}),
    Case("adagrad-weight_decay-eps", {"name": "adagrad", "lr": 0.1, "weight_decay": 0.05, "eps": 1e-6}),
    Case("warmup-step-per-step-adam", {"name": "adam", "lr": 0.05},
         {"name": "step", "step_size": 3, "gamma": 0.7, "warmup_epochs": 4, "warmup_start_factor": 0.5, "per": "step"},
         lambda o: LRS.SequentialLR(o, [LRS.LinearLR(o, start_factor=0.5, total_iters=4),
                                        LRS.StepLR(o, step_size=3, gamma=0.7)], milestones=[4])),
    Case("cosine-t_max-null-adam", {"name": "adam", "lr": 0.05},  # t_max: null = the whole run (25 epochs)
         {"name": "cosine", "eta_min": 0.002}, lambda o: LRS.CosineAnnealingLR(o, T_max=25, eta_min=0.002)),
    Case("plateau-cooldown-abs-min_lr-sgd", {"name": "sgd", "lr": 1.5, "momentum": 0.9},
         {"name": "plateau", "monitor": "train_loss", "patience": 1, "factor": 0.7, "cooldown": 2,
          "threshold": 0.01, "threshold_mode": "abs", "min_lr": 0.3},
         lambda o: LRS.ReduceLROnPlateau(o, patience=1, factor=0.7, cooldown=2, threshold=0.01,
                                         threshold_mode="abs", min_lr=0.3), epochs=30, plateau=True),
    Case("clip-norm-l2-rmsprop-mse", {"name": "rmsprop", "lr": 0.02}, clip={"norm": 0.6}, l2=0.01, loss="mse"),
]


# --- both sides -----------------------------------------------------------------------------------------------

def run_gdtrain(tmp_path, case: Case, X, y, W0):
    data, init = tmp_path / "data.npz", tmp_path / "init.npz"
    np.savez(data, X=X, y=y)
    np.savez(init, **W0)
    raw = {
        "seed": 0,
        "dtype": "float64",
        "data": {"source": str(data), "validation_split": 0, "test_split": 0, "standardize": False},
        "model": {"hidden": [{"units": H1, "activation": "tanh"}, {"units": H2, "activation": "tanh"}],
                  "init_from": str(init)},
        "loss": case.loss,
        "regularization": {"l2": case.l2},
        "optimizer": dict(case.optimizer),
        "training": {"mode": "batch", "epochs": case.epochs},
    }
    if case.schedule is not None:
        raw["schedule"] = dict(case.schedule)
    if case.clip:
        raw["clip"] = dict(case.clip)
    result = fit(from_dict(raw), out=str(tmp_path / "run"))
    with np.load(tmp_path / "run" / "model.npz", allow_pickle=False) as archive:
        model = {k: archive[k] for k in NAMES}
    with open(tmp_path / "run" / "metrics.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return result, model, rows


def run_torch(case: Case, X, y, W0):
    """The same trajectory in torch: per epoch (J at the start, lr used, ‖g‖ before clipping, clipped?)."""
    P = {k: torch.tensor(v, requires_grad=True) for k, v in W0.items()}
    params = [P[k] for k in NAMES]
    options = {k: v for k, v in case.optimizer.items() if k != "name"}
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    opt = TORCH_OPTIMIZERS[case.optimizer["name"]](params, **options)
    sched = case.torch_schedule(opt) if case.torch_schedule is not None else None
    Xt, yt = torch.tensor(X), torch.tensor(y)
    history = {"J": [], "lr": [], "grad_norm": [], "clipped": []}
    for _ in range(case.epochs):
        history["lr"].append(float(opt.param_groups[0]["lr"]))
        opt.zero_grad()
        J = torch_objective(case.loss, Xt, yt, P, case.l2)
        J.backward()
        norm = float(torch.sqrt(sum((p.grad ** 2).sum() for p in params)))
        history["J"].append(float(J.detach()))
        history["grad_norm"].append(norm)
        if "norm" in case.clip:
            total = torch.nn.utils.clip_grad_norm_(params, case.clip["norm"])
            history["clipped"].append(float(total) > case.clip["norm"])
        elif "value" in case.clip:
            history["clipped"].append(max(float(p.grad.abs().max()) for p in params) > case.clip["value"])
            torch.nn.utils.clip_grad_value_(params, case.clip["value"])
        opt.step()
        if sched is not None:
            if case.plateau:
                sched.step(history["J"][-1])
            else:
                sched.step()
    final = {k: P[k].detach().numpy().copy() for k in NAMES}
    with torch.no_grad():
        history["J_final"] = float(torch_objective(case.loss, Xt, yt, P, case.l2))
    return final, history


# --- the acceptance criterion ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_full_batch_trajectory_matches_torch(tmp_path, case):
    X, y, W0 = problem(case.loss)
    result, model, rows = run_gdtrain(tmp_path, case, X, y, W0)
    final, hist = run_torch(case, X, y, W0)

    assert result.summary["stop_reason"] == "completed" and result.summary["epochs"] == case.epochs
    assert result.data.splits == {"train": N, "validation": 0, "test": 0}
    assert len(rows) == case.epochs

    # final weights: gdtrain == torch, per tensor
    errors = {name: rel_err(model[name], final[name]) for name in NAMES}
    assert max(errors.values()) < WEIGHT_RTOL, errors

    # metrics.csv, epoch by epoch: the lr used, J at the start of the step, ‖∇J‖ before clipping
    lr = np.array([float(r["lr"]) for r in rows])
    train_loss = np.array([float(r["train_loss"]) for r in rows])
    grad_norm = np.array([float(r["grad_norm"]) for r in rows])
    # (atol: cosine annealing reaches η = 0 exactly at t = T; both sides give 0.0 there today)
    np.testing.assert_allclose(lr, hist["lr"], rtol=CSV_RTOL, atol=1e-15 * case.optimizer["lr"], err_msg="lr")
    np.testing.assert_allclose(train_loss, hist["J"], rtol=CSV_RTOL, atol=0, err_msg="train_loss")
    np.testing.assert_allclose(grad_norm, hist["grad_norm"], rtol=CSV_RTOL, atol=0, err_msg="grad_norm")

    # nothing passes vacuously: the weights travel far and the objective falls
    theta0 = np.concatenate([W0[k].ravel() for k in NAMES])
    theta = np.concatenate([final[k].ravel() for k in NAMES])
    assert np.linalg.norm(theta - theta0) > 0.2 * np.linalg.norm(theta0), case.id
    assert min(rel_err(final[k], W0[k]) for k in NAMES) > 1e-3, case.id  # every tensor moved
    assert hist["J_final"] < 0.8 * hist["J"][0], (case.id, hist["J"][0], hist["J_final"])
    assert train_loss[-1] < train_loss[0]

    # the schedule really changes the rate; clipping fires on some epochs and not on others
    if case.schedule is not None:
        assert len(set(hist["lr"])) >= 3, hist["lr"]
    else:
        assert len(set(hist["lr"])) == 1
    if case.clip:
        clipped = np.array(hist["clipped"])
        assert clipped.any() and not clipped.all(), clipped
        np.testing.assert_array_equal([float(r["clip_fraction"]) for r in rows], clipped.astype(float))
