"""Training through the Python API: fit(), train(), optimizers, clipping and the run directory.

Everything here asserts values (accuracies, exact update rules, file contents), on small data and few
epochs so the whole file runs in a few seconds.
"""

from __future__ import annotations

import copy
import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from gdtrain.clipping import clip_by_norm, clip_by_value
from gdtrain.config import Config, from_dict, load_config, set_path
from gdtrain.errors import ConfigError
from gdtrain.experiment import build_network, fit, seed_streams
from gdtrain.losses import LOSSES
from gdtrain.network import Network
from gdtrain.optimizers import make_optimizer, resolve_optimizer
from gdtrain.schedules import make_schedule
from gdtrain.train import TrainSettings, train

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO / "datasets"
CONFIGS = REPO / "configs"

LAYER_COLUMNS = ["weight_norm_W1", "weight_norm_W2", "update_ratio_W1", "update_ratio_W2"]
# iris and sine use a tanh hidden layer (saturation is measured), diabetes a relu one (dead units are)
CLASSIFIER_COLUMNS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "grad_norm", "grad_norm_W1",
                      "grad_norm_W2", *LAYER_COLUMNS, "saturated_fraction_1", "clip_fraction", "seconds"]
REGRESSOR_COLUMNS = ["epoch", "train_loss", "val_loss", "val_mse", "val_mae", "val_r2", "lr", "grad_norm",
                     "grad_norm_W1", "grad_norm_W2", *LAYER_COLUMNS, "saturated_fraction_1", "clip_fraction", "seconds"]
RELU_REGRESSOR_COLUMNS = [c if c != "saturated_fraction_1" else "dead_fraction_1" for c in REGRESSOR_COLUMNS]


# --- helpers --------------------------------------------------------------------------------------

def with_overrides(raw, paths):
    """``raw`` with each dotted key path in ``paths`` set (the same helper --set uses)."""
    for path, value in paths.items():
        set_path(raw, path, value)
    return raw


def raw_config(**paths):
    """A small config dict (iris, 16 tanh units, batch 16, 5 epochs); ``paths`` override dotted keys."""
    raw = {
        "seed": 0,
        "data": {"source": "iris", "validation_split": 0.2, "test_split": 0.2},
        "model": {"hidden": [{"units": 16, "activation": "tanh"}]},
        "loss": "cross_entropy",
        "optimizer": {"name": "sgd", "lr": 0.1},
        "training": {"mode": "minibatch", "batch_size": 16, "epochs": 5},
    }
    return with_overrides(raw, paths)


def make_config(name="run", **paths) -> Config:
    return from_dict(raw_config(**paths), name=name)


def run(tmp_path, name="run", raw=None, **paths):
    """fit() a config into tmp_path/<name>; returns the RunResult."""
    config = from_dict(raw if raw is not None else raw_config(**paths), name=name)
    return fit(config, out=str(tmp_path / name))


def read_metrics(run_dir):
    with open(Path(run_dir) / "metrics.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return reader.fieldnames, rows


def load_model(run_dir):
    with np.load(Path(run_dir) / "model.npz", allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def weight_sq_norm(arrays):
    return sum(float(np.sum(arrays[k].astype(np.float64) ** 2)) for k in arrays if k.startswith("W"))


def digits_raw(**paths):
    raw = {
        "seed": 0,
        "data": {"source": "digits"},
        "model": {"hidden": [{"units": 64, "activation": "relu"}]},
        "loss": "cross_entropy",
        "optimizer": {"name": "sgd", "lr": 0.1},
        "training": {"mode": "minibatch", "batch_size": 32, "epochs": 40},
    }
    return with_overrides(raw, paths)


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
    """The issue's acceptance run in float64 and float32 (shared: about 0.4 s each)."""
    base = tmp_path_factory.mktemp("digits")
    out = {}
    for dtype in ("float64", "float32"):
        config = from_dict(digits_raw(dtype=dtype), name=f"digits_{dtype}")
        out[dtype] = fit(config, out=str(base / dtype))
    return out


# --- accuracy -------------------------------------------------------------------------------------

def test_digits_acceptance_run_reaches_96_percent(digits_runs):
    result = digits_runs["float64"]
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["stop_reason"] == "completed"
    assert summary["epochs"] == 40
    assert summary["test"]["accuracy"] >= 0.96
    assert summary["test"]["accuracy"] == pytest.approx(result.summary["test"]["accuracy"])
    # The training split is learnt even better than the test split.
    assert summary["train"]["accuracy"] >= summary["test"]["accuracy"] - 0.01
    assert summary["train"]["accuracy"] >= 0.98


def test_xor_is_solved_by_a_hidden_layer_but_not_by_a_linear_model(tmp_path):
    raw = yaml.safe_load((CONFIGS / "xor.yaml").read_text())
    solved = fit(from_dict(copy.deepcopy(raw), name="xor"), out=str(tmp_path / "xor"))
    assert solved.summary["test"]["accuracy"] >= 0.95
    assert solved.summary["stop_reason"] == "completed"

    raw["model"]["hidden"] = []
    linear = fit(from_dict(raw, name="xor_linear"), out=str(tmp_path / "linear"))
    assert linear.summary["test"]["accuracy"] < 0.7
    assert set(load_model(linear.run_dir)) >= {"W1", "b1"}
    assert "W2" not in load_model(linear.run_dir)  # really a linear model: one layer
    header, _ = read_metrics(linear.run_dir)
    assert [c for c in header if c.startswith("grad_norm_")] == ["grad_norm_W1"]


# --- reproducibility ------------------------------------------------------------------------------

def test_same_seed_same_config_gives_identical_results(tmp_path):
    a = run(tmp_path, "a", **{"training.epochs": 4})
    b = run(tmp_path, "b", **{"training.epochs": 4})
    c = run(tmp_path, "c", **{"training.epochs": 4, "seed": 1})

    def without_seconds(run_dir):
        header, rows = read_metrics(run_dir)
        return header, [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    assert without_seconds(a.run_dir) == without_seconds(b.run_dir)
    wa, wb, wc = load_model(a.run_dir), load_model(b.run_dir), load_model(c.run_dir)
    for name in ("W1", "b1", "W2", "b2"):
        assert np.array_equal(wa[name], wb[name]), name
    assert not np.array_equal(wa["W1"], wc["W1"])
    assert not np.array_equal(wa["W2"], wc["W2"])
    assert a.summary["test"] == b.summary["test"]


# --- modes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, batch_size", [("batch", 32), ("sgd", 32), ("minibatch", 32), ("minibatch", 7)])
def test_steps_per_epoch_follow_the_mode(tmp_path, mode, batch_size):
    result = run(tmp_path, **{"training.mode": mode, "training.batch_size": batch_size, "training.epochs": 2})
    n = len(result.data.X_train)
    assert n == result.data.splits["train"] == 90  # iris: 150 − 30 validation − 30 test
    expected = {"batch": 1, "sgd": n, "minibatch": math.ceil(n / batch_size)}[mode]
    assert [r.steps for r in result.train.history] == [expected, expected]


def _iris_problem(dtype=np.float64):
    config = make_config(**{"regularization.l2": 0.01, "training.mode": "batch"})
    from gdtrain.data import load_data

    loss = LOSSES.get("cross_entropy")
    rngs = seed_streams(0)
    data = load_data(config, rngs["data"], loss.task)
    net = build_network(config, data.n_features, data.n_classes, rngs["init"])
    return config, loss, data, net


def test_batch_mode_train_loss_is_the_objective_at_the_start_of_each_step():
    config, loss, data, net = _iris_problem()
    l2 = config.regularization.l2
    initial = net.objective(data.X_train, data.y_train, loss, l2)
    probe = net.copy()
    probe.params[...] = net.params
    probe.loss_and_grad(data.X_train, data.y_train, loss, l2)
    initial_norms = {"grad_norm": np.linalg.norm(probe.grad),
                     **{f"grad_norm_W{i}": np.linalg.norm(layer.gW) for i, layer in enumerate(probe.layers, 1)}}
    after_epoch = []
    optimizer = make_optimizer(config.optimizer, net.size, net.dtype)
    schedule = make_schedule(config.schedule, config.optimizer["lr"])
    result = train(net, loss, data.X_train, data.y_train, data.X_val, data.y_val, optimizer, schedule,
                   TrainSettings(mode="batch", epochs=3, l2=l2),
                   on_epoch=lambda record: after_epoch.append(net.objective(data.X_train, data.y_train, loss, l2)))
    losses = [r.train_loss for r in result.history]
    assert losses[0] == pytest.approx(initial, rel=1e-12)
    # Epoch k+1's train loss is the objective of the network as epoch k left it.
    assert losses[1] == pytest.approx(after_epoch[0], rel=1e-12)
    assert losses[2] == pytest.approx(after_epoch[1], rel=1e-12)
    assert losses[0] > losses[1] > losses[2]
    assert [r.steps for r in result.history] == [1, 1, 1]
    # With one step per epoch the reported gradient norms are those of that one (full-batch) gradient.
    assert set(result.history[0].grad_norms) == set(initial_norms)
    for key, value in initial_norms.items():
        assert result.history[0].grad_norms[key] == pytest.approx(value, rel=1e-12), key


# --- optimizers -----------------------------------------------------------------------------------

def _net_and_grad(seed=0):
    rng = np.random.default_rng(seed)
    net = Network([4, 5, 3], ["tanh", "identity"])
    net.params[...] = rng.normal(0, 0.5, net.size)
    X, y = rng.normal(size=(10, 4)), rng.integers(0, 3, 10)
    net.loss_and_grad(X, y, LOSSES.get("cross_entropy"))
    return net, X, y


def test_plain_sgd_step_moves_params_by_exactly_minus_lr_grad():
    net, _, _ = _net_and_grad()
    spec = resolve_optimizer({"name": "sgd", "lr": 0.1})
    assert spec == {"name": "sgd", "lr": 0.1, "momentum": 0.0, "dampening": 0.0, "nesterov": False,
                    "weight_decay": 0.0, "momentum_form": "torch"}
    optimizer = make_optimizer(spec, net.size, net.dtype)
    before, grad = net.params.copy(), net.grad.copy()
    assert np.abs(grad).max() > 0
    optimizer.step(net.params, net.grad, 0.1)
    assert np.array_equal(net.params, before - 0.1 * grad)
    assert optimizer.state["step"] == 1


def reference_sgd(params, grads, lrs, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    """torch.optim.SGD's documented update, re-derived in NumPy."""
    p = params.copy()
    buf = None
    trajectory = []
    for t, (g, lr) in enumerate(zip(grads, lrs)):
        d_p = g + weight_decay * p if weight_decay else g.copy()
        if momentum:
            if t == 0:
                buf = d_p.copy()
            else:
                buf = momentum * buf + (1 - dampening) * d_p
            d_p = d_p + momentum * buf if nesterov else buf
        p = p - lr * d_p
        trajectory.append(p.copy())
    return trajectory


SGD_CASES = [
    {"momentum": 0.9},
    {"momentum": 0.9, "nesterov": True},
    {"momentum": 0.5, "dampening": 0.3},
    {"momentum": 0.9, "weight_decay": 0.01},
    {"weight_decay": 0.1},
    {"momentum": 0.8, "nesterov": True, "weight_decay": 0.05},
]


@pytest.mark.parametrize("options", SGD_CASES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_sgd_variants_match_torch_rule_for_three_steps(options):
    rng = np.random.default_rng(1)
    size = 7
    params = rng.normal(size=size)
    grads = [rng.normal(size=size) for _ in range(3)]
    lrs = [0.1, 0.05, 0.02]  # the schedule may change η between steps
    expected = reference_sgd(params, grads, lrs, **options)

    optimizer = make_optimizer(resolve_optimizer({"name": "sgd", "lr": 0.1, **options}), size, np.float64)
    p = params.copy()
    for t in range(3):
        optimizer.step(p, grads[t].copy(), lrs[t])  # the optimizer may overwrite the gradient
        np.testing.assert_allclose(p, expected[t], rtol=1e-13, atol=1e-15)
    # Sanity: the reference itself is not plain SGD (the option really changes the trajectory).
    plain = reference_sgd(params, grads, lrs)
    assert not np.allclose(plain[-1], expected[-1])


@pytest.mark.parametrize("alias, options", [("momentum", {"momentum": 0.9}),
                                            ("nesterov", {"momentum": 0.9, "nesterov": True})])
def test_optimizer_aliases_expand_to_sgd_with_momentum(alias, options):
    spec = resolve_optimizer({"name": alias, "lr": 0.01})
    assert spec["name"] == "sgd"
    assert {k: spec[k] for k in options} == options


@pytest.mark.parametrize("options", SGD_CASES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_sgd_matches_torch_optim_sgd_when_installed(options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    params = rng.normal(size=6)
    grads = [rng.normal(size=6) for _ in range(3)]
    lrs = [0.1, 0.05, 0.02]
    p_t = torch.tensor(params.copy(), dtype=torch.float64, requires_grad=True)
    opt_t = torch.optim.SGD([p_t], lr=lrs[0], **options)
    optimizer = make_optimizer(resolve_optimizer({"name": "sgd", "lr": lrs[0], **options}), 6, np.float64)
    p = params.copy()
    for g, lr in zip(grads, lrs):
        for group in opt_t.param_groups:
            group["lr"] = lr
        p_t.grad = torch.tensor(g, dtype=torch.float64)
        opt_t.step()
        optimizer.step(p, g.copy(), lr)
        np.testing.assert_allclose(p, p_t.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_nesterov_without_momentum_is_rejected():
    with pytest.raises(ConfigError, match=r"optimizer\.nesterov"):
        resolve_optimizer({"name": "sgd", "lr": 0.1, "nesterov": True})


# --- clipping -------------------------------------------------------------------------------------

def test_clip_by_norm_rescales_above_the_threshold():
    g = np.array([3.0, 4.0, 0.0, -12.0])  # ‖g‖ = 13
    original = g.copy()
    norm, fired = clip_by_norm(g, 1.0)
    assert norm == pytest.approx(13.0, rel=1e-15)
    assert fired is True
    np.testing.assert_allclose(g, original * (1.0 / (13.0 + 1e-6)), rtol=1e-15)
    assert np.linalg.norm(g) == pytest.approx(13.0 / (13.0 + 1e-6), rel=1e-14)
    # Direction is kept.
    np.testing.assert_allclose(g / np.linalg.norm(g), original / 13.0, rtol=1e-14)


def test_clip_by_norm_leaves_small_gradients_alone():
    g = np.array([0.3, -0.4])
    original = g.copy()
    norm, fired = clip_by_norm(g, 1.0)
    assert norm == pytest.approx(0.5)
    assert fired is False
    assert np.array_equal(g, original)
    # A precomputed norm is used as given and returned.
    norm, fired = clip_by_norm(g, 2.0, norm=0.5)
    assert (norm, fired) == (0.5, False)


def test_clip_by_norm_matches_torch_formula_exactly_at_c():
    g = np.array([6.0, 8.0])  # ‖g‖ = 10
    norm, fired = clip_by_norm(g, 5.0)
    assert norm == 10.0 and fired
    np.testing.assert_allclose(g, np.array([6.0, 8.0]) * 5.0 / (10.0 + 1e-6), rtol=1e-15)


def test_clip_by_value_clamps_each_entry():
    g = np.array([-3.0, -0.5, 0.0, 0.2, 7.0])
    assert clip_by_value(g, 1.0) is True
    assert np.array_equal(g, np.array([-1.0, -0.5, 0.0, 0.2, 1.0]))
    h = np.array([-0.5, 0.5])
    assert clip_by_value(h, 1.0) is False
    assert np.array_equal(h, np.array([-0.5, 0.5]))


def test_fit_with_a_tiny_clip_norm_reports_clipping(tmp_path):
    clipped = run(tmp_path, "clipped", **{"clip.norm": 1e-3, "training.epochs": 3})
    _, rows = read_metrics(clipped.run_dir)
    fractions = [float(r["clip_fraction"]) for r in rows]
    assert all(f > 0 for f in fractions)
    assert fractions == [1.0, 1.0, 1.0]  # every gradient of this network is far above 1e-3
    free = run(tmp_path, "free", **{"training.epochs": 3})
    _, rows = read_metrics(free.run_dir)
    assert [float(r["clip_fraction"]) for r in rows] == [0.0, 0.0, 0.0]
    # Tiny steps: the clipped run barely moves away from the (shared) initial weights.
    w0 = run(tmp_path, "init", **{"training.epochs": 0})
    moved_clipped = np.abs(load_model(clipped.run_dir)["W1"] - load_model(w0.run_dir)["W1"]).max()
    moved_free = np.abs(load_model(free.run_dir)["W1"] - load_model(w0.run_dir)["W1"]).max()
    assert moved_clipped < 0.1 * 1e-3 * 20  # ≤ lr · c per step, 5 steps/epoch x 3 epochs (+ margin)
    assert moved_free > 10 * moved_clipped


def test_fit_with_clip_value_reports_clipping(tmp_path):
    result = run(tmp_path, **{"clip.value": 1e-4, "training.epochs": 2})
    _, rows = read_metrics(result.run_dir)
    assert [float(r["clip_fraction"]) for r in rows] == [1.0, 1.0]


# --- dtype ----------------------------------------------------------------------------------------

def test_float32_end_to_end(digits_runs):
    r32, r64 = digits_runs["float32"], digits_runs["float64"]
    model = load_model(r32.run_dir)
    for name in ("W1", "b1", "W2", "b2"):
        assert model[name].dtype == np.float32, name
    assert r32.net.params.dtype == np.float32
    assert r32.data.X_train.dtype == np.float32
    assert load_model(r64.run_dir)["W1"].dtype == np.float64
    assert r32.summary["stop_reason"] == "completed"
    assert abs(r32.summary["test"]["accuracy"] - r64.summary["test"]["accuracy"]) <= 0.03
    assert math.isfinite(r32.summary["test"]["loss"])


# --- regularization -------------------------------------------------------------------------------

def test_l2_shrinks_the_weights(tmp_path):
    plain = run(tmp_path, "plain", **{"training.epochs": 30})
    decayed = run(tmp_path, "l2", **{"training.epochs": 30, "regularization.l2": 0.01})
    w_plain, w_l2 = weight_sq_norm(load_model(plain.run_dir)), weight_sq_norm(load_model(decayed.run_dir))
    assert w_l2 < w_plain
    assert w_l2 < 0.9 * w_plain  # a clear effect, not rounding


def test_l2_penalty_and_gradient():
    net, X, y = _net_and_grad()
    loss = LOSSES.get("cross_entropy")
    base = net.loss_and_grad(X, y, loss, 0.0)
    g0 = net.grad.copy()
    value = net.loss_and_grad(X, y, loss, 0.1)
    w2 = sum(float(np.sum(layer.W ** 2)) for layer in net.layers)
    assert value == pytest.approx(base + 0.1 * w2, rel=1e-14)
    views0, views = net.views(g0), net.views(net.grad)
    for i, layer in enumerate(net.layers, start=1):
        np.testing.assert_allclose(views[f"W{i}"], views0[f"W{i}"] + 0.2 * layer.W, rtol=1e-13)
        np.testing.assert_array_equal(views[f"b{i}"], views0[f"b{i}"])  # biases are not penalized


# --- divergence -----------------------------------------------------------------------------------

def test_divergence_is_detected_and_the_last_finite_weights_are_kept(tmp_path):
    raw = {"seed": 0, "data": {"source": "diabetes"}, "loss": "mse",
           "model": {"hidden": [{"units": 16, "activation": "relu"}]},
           "optimizer": {"name": "sgd", "lr": 1e6}, "training": {"epochs": 5}}
    result = fit(from_dict(copy.deepcopy(raw), name="diverge"), out=str(tmp_path / "d"))
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["stop_reason"] == "diverged"
    assert "diverged" in summary["message"]
    assert summary["epochs"] < 5
    model = load_model(result.run_dir)
    for name in ("W1", "b1", "W2", "b2"):
        assert np.isfinite(model[name]).all(), name
    # It diverges within epoch 1, so the kept weights are the initial ones (a 0-epoch run's).
    raw["training"]["epochs"] = 0
    initial = fit(from_dict(raw, name="init"), out=str(tmp_path / "i"))
    assert initial.summary["stop_reason"] == "completed"
    for name in ("W1", "b1", "W2", "b2"):
        assert np.array_equal(model[name], load_model(initial.run_dir)[name]), name
    # summary.json is valid JSON (no NaN/Infinity literals) and its metrics are finite or null.
    assert "NaN" not in (result.run_dir / "summary.json").read_text()


def _diabetes_raw(lr, epochs):
    return {"seed": 0, "data": {"source": "diabetes"}, "loss": "mse",
            "model": {"hidden": [{"units": 16, "activation": "relu"}]},
            "optimizer": {"name": "sgd", "lr": lr}, "training": {"epochs": epochs}}


def test_divergence_in_a_later_epoch_keeps_the_last_completed_epoch(tmp_path):
    # lr 0.003 on raw-scale diabetes targets blows up in epoch 4 (3 epochs complete).
    late = fit(from_dict(_diabetes_raw(0.003, 30), name="late"), out=str(tmp_path / "late"))
    assert late.summary["stop_reason"] == "diverged"
    assert "diverged at epoch 4" in late.summary["message"]
    assert late.summary["epochs"] == 3
    _, rows = read_metrics(late.run_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    # The weights kept are exactly those a 3-epoch run ends with.
    short = fit(from_dict(_diabetes_raw(0.003, 3), name="short"), out=str(tmp_path / "short"))
    assert short.summary["stop_reason"] == "completed"
    kept, reference = load_model(late.run_dir), load_model(short.run_dir)
    for name in ("W1", "b1", "W2", "b2"):
        assert np.array_equal(kept[name], reference[name]), name
    assert late.summary["validation"] == short.summary["validation"]


@pytest.mark.parametrize("case", ["diverged_in_epoch_1", "zero_epochs"])
def test_metrics_csv_exists_even_when_no_epoch_completes(tmp_path, case):
    raw = _diabetes_raw(1e6, 5) if case == "diverged_in_epoch_1" else _diabetes_raw(0.001, 0)
    result = fit(from_dict(raw, name=case), out=str(tmp_path / case))
    assert result.summary["epochs"] == 0
    header, rows = read_metrics(result.run_dir)
    assert header == RELU_REGRESSOR_COLUMNS
    assert rows == []


# --- dropout --------------------------------------------------------------------------------------

def test_dropout_changes_training_but_not_evaluation(tmp_path):
    def hidden(p):
        return [{"units": 32, "activation": "relu", "dropout": p}]

    with_dropout = run(tmp_path, "drop", **{"model.hidden": hidden(0.5), "training.epochs": 3})
    without = run(tmp_path, "nodrop", **{"model.hidden": hidden(0.0), "training.epochs": 3})
    # Same seed: same initial weights and batch order; only the dropout masks differ.
    assert not np.array_equal(load_model(with_dropout.run_dir)["W1"], load_model(without.run_dir)["W1"])

    net, X = with_dropout.net, with_dropout.data.X_test
    assert [layer.dropout for layer in net.layers] == [0.5, 0.0]
    first = net.forward(X)
    assert np.array_equal(first, net.forward(X, training=False))
    assert np.array_equal(first, net.forward(X, training=False, rng=np.random.default_rng(123)))
    # In training mode the masks make forward passes random; the expected scale is kept (inverted dropout).
    rng = np.random.default_rng(0)
    t1, t2 = net.forward(X, training=True, rng=rng), net.forward(X, training=True, rng=rng)
    assert not np.array_equal(t1, t2)
    assert not np.array_equal(t1, first)
    # The summary's metrics are the deterministic evaluation.
    loss = LOSSES.get("cross_entropy")
    acc = float(np.mean(np.argmax(first, axis=1) == with_dropout.data.y_test))
    assert with_dropout.summary["test"]["accuracy"] == pytest.approx(acc)
    assert with_dropout.summary["test"]["loss"] == pytest.approx(loss.value(first, with_dropout.data.y_test))


def test_inverted_dropout_scales_kept_units():
    net = Network([3, 1000, 1], ["identity", "identity"], [0.25, 0.0])
    net.layers[0].W[...] = 1.0  # every hidden unit = sum of inputs
    X = np.ones((1, 3))
    net.forward(X, training=True, rng=np.random.default_rng(0))
    a = net.layers[1].last_input  # the hidden activations after dropout, as fed to the output layer
    kept = a[a != 0]
    assert np.allclose(kept, 3.0 / 0.75)
    assert 0.2 < 1 - kept.size / a.size < 0.3


# --- run directory artifacts ----------------------------------------------------------------------

def test_metrics_csv_columns_rows_and_values(tmp_path):
    result = run(tmp_path, **{"training.epochs": 4, "optimizer.lr": 0.07})
    header, rows = read_metrics(result.run_dir)
    assert header == CLASSIFIER_COLUMNS
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    for row, record in zip(rows, result.train.history):
        assert float(row["lr"]) == 0.07
        assert float(row["grad_norm"]) > 0
        assert float(row["grad_norm_W1"]) > 0 and float(row["grad_norm_W2"]) > 0
        assert float(row["clip_fraction"]) == 0.0
        assert float(row["train_loss"]) == pytest.approx(record.train_loss, rel=1e-9)
        assert float(row["val_loss"]) == pytest.approx(record.val["loss"], rel=1e-9)
        assert 0.0 <= float(row["val_accuracy"]) <= 1.0
        # The global norm is averaged per step, so it is at most the sum of the per-layer means
        # plus the biases' share; at least each layer's own norm.
        assert float(row["grad_norm"]) >= max(float(row["grad_norm_W1"]), float(row["grad_norm_W2"])) - 1e-9
    seconds = [float(r["seconds"]) for r in rows]
    assert seconds == sorted(seconds) and seconds[0] >= 0
    assert float(rows[-1]["val_loss"]) == pytest.approx(result.summary["validation"]["loss"], rel=1e-9)
    assert float(rows[-1]["val_accuracy"]) == pytest.approx(result.summary["validation"]["accuracy"])


def test_metrics_csv_for_regression(tmp_path):
    raw = {"seed": 0, "data": {"source": "sine", "n_samples": 120}, "loss": "mse",
           "model": {"hidden": [{"units": 8, "activation": "tanh"}]},
           "optimizer": {"name": "sgd", "lr": 0.05}, "training": {"epochs": 3, "batch_size": 16}}
    result = fit(from_dict(raw, name="sine"), out=str(tmp_path / "sine"))
    header, rows = read_metrics(result.run_dir)
    assert header == REGRESSOR_COLUMNS
    assert len(rows) == 3
    for row in rows:
        assert float(row["val_mse"]) == pytest.approx(float(row["val_loss"]), rel=1e-9)  # mse loss
        assert float(row["val_mae"]) > 0
        assert float(row["val_r2"]) <= 1.0
        assert float(row["grad_norm_W1"]) > 0 and float(row["grad_norm_W2"]) > 0
    summary = result.summary
    assert set(summary["test"]) == {"loss", "mse", "mae", "r2"}
    assert summary["test"]["mse"] == pytest.approx(summary["test"]["loss"])
    # r2 = 1 − SS_res/SS_tot on the test split, recomputed here.
    pred = result.net.forward(result.data.X_test)
    y = result.data.y_test
    r2 = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert summary["test"]["r2"] == pytest.approx(r2, rel=1e-9)
    assert summary["test"]["mae"] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-9)


def test_summary_json_contents_and_best_epoch(tmp_path):
    result = run(tmp_path, **{"training.epochs": 12, "optimizer.lr": 0.5})
    summary = json.loads((result.run_dir / "summary.json").read_text())
    for key in ("stop_reason", "epochs", "seconds", "best_epoch", "train", "validation", "test"):
        assert key in summary, key
    assert summary["stop_reason"] == "completed"
    assert summary["epochs"] == 12
    assert summary["seconds"] >= 0
    for split in ("train", "validation", "test"):
        assert set(summary[split]) == {"loss", "accuracy"}
        assert 0 <= summary[split]["accuracy"] <= 1
    _, rows = read_metrics(result.run_dir)
    val_losses = [float(r["val_loss"]) for r in rows]
    assert summary["best_epoch"] == int(np.argmin(val_losses)) + 1
    assert 1 <= summary["best_epoch"] <= 12


def test_best_epoch_is_not_always_the_last(tmp_path):
    # diabetes overfits (see configs/diabetes.yaml): the validation loss bottoms out before the end.
    raw = yaml.safe_load((CONFIGS / "diabetes.yaml").read_text())
    assert raw["training"]["epochs"] == 40
    result = fit(from_dict(raw, name="diabetes"), out=str(tmp_path / "d"))
    _, rows = read_metrics(result.run_dir)
    assert len(rows) == 40
    val_losses = [float(r["val_loss"]) for r in rows]
    assert result.summary["best_epoch"] == int(np.argmin(val_losses)) + 1
    assert result.summary["best_epoch"] < 40
    assert result.summary["best_by"] == "val_loss"
    assert set(result.summary["test"]) == {"loss", "mse", "mae", "r2"}


def test_model_npz_contents_and_config(tmp_path):
    result = run(tmp_path, **{"training.epochs": 2})
    model = load_model(result.run_dir)
    for key in ("W1", "b1", "W2", "b2", "classes", "x_mean", "x_scale", "activations", "loss", "config"):
        assert key in model, key
    assert model["W1"].shape == (16, 4) and model["b1"].shape == (16,)
    assert model["W2"].shape == (3, 16) and model["b2"].shape == (3,)
    assert list(model["classes"]) == ["setosa", "versicolor", "virginica"]
    assert list(model["activations"]) == ["tanh", "identity"]
    assert str(model["loss"]) == "cross_entropy"
    stored = yaml.safe_load(str(model["config"]))
    assert stored == yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert stored["model"]["hidden"][0]["units"] == 16
    assert stored["training"]["epochs"] == 2
    for name in ("W1", "b1", "W2", "b2"):
        assert np.array_equal(model[name], result.net.weights()[name])


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_stored_model_predicts_raw_test_data(tmp_path):
    """model.npz alone (weights + standardization + classes) reproduces the summary's test accuracy."""
    with open(DATASETS / "digits.csv", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    _write_csv(train_csv, header, rows[:1400])
    _write_csv(test_csv, header, rows[1400:])
    raw = digits_raw(**{"data.source": str(train_csv), "data.test_source": str(test_csv),
                        "training.epochs": 8})
    result = fit(from_dict(raw, name="digits_files"), out=str(tmp_path / "run"))
    assert result.data.splits["test"] == len(rows) - 1400

    model = load_model(result.run_dir)
    # Standardization is fitted on the training split only (not validation, not the test file).
    train_rows = np.array(rows[:1400], dtype=np.float64)[:, :-1]
    X_train_raw = result.data.X_train * model["x_scale"] + model["x_mean"]
    np.testing.assert_allclose(model["x_mean"], X_train_raw.mean(axis=0), atol=1e-9)
    assert len(X_train_raw) < len(train_rows)  # validation rows were held out of the fit
    assert not np.allclose(model["x_mean"], train_rows.mean(axis=0))
    varying = X_train_raw.std(axis=0) > 0
    np.testing.assert_allclose(result.data.X_train[:, varying].std(axis=0), 1.0, rtol=1e-9)
    data = np.array(rows[1400:], dtype=np.float64)
    X, labels = data[:, :-1], data[:, -1].astype(int)
    a = (X - model["x_mean"]) / model["x_scale"]
    layers = sorted(int(k[1:]) for k in model if k.startswith("W"))
    acts = {"relu": lambda z: np.maximum(z, 0), "identity": lambda z: z}
    for i, act in zip(layers, model["activations"]):
        a = acts[str(act)](a @ model[f"W{i}"].T + model[f"b{i}"])
    predicted = model["classes"][np.argmax(a, axis=1)]
    accuracy = float(np.mean(predicted == labels))
    assert accuracy == pytest.approx(result.summary["test"]["accuracy"], abs=1e-12)
    assert accuracy > 0.8


# --- where runs go --------------------------------------------------------------------------------

def _config_file(tmp_path, stem="mystem", epochs=1):
    path = tmp_path / "configs" / f"{stem}.yaml"
    path.parent.mkdir(exist_ok=True)
    raw = raw_config(**{"training.epochs": epochs})
    path.write_text(yaml.safe_dump(raw))
    return path


def test_default_run_dir_is_runs_config_stem_and_never_overwritten(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(_config_file(tmp_path))
    first = fit(config)
    assert first.run_dir.resolve() == (tmp_path / "runs" / "mystem").resolve()
    second = fit(load_config(_config_file(tmp_path)))
    assert second.run_dir.resolve() == (tmp_path / "runs" / "mystem-2").resolve()
    third = fit(load_config(_config_file(tmp_path)))
    assert third.run_dir.resolve() == (tmp_path / "runs" / "mystem-3").resolve()
    for r in (first, second, third):
        assert sorted(p.name for p in r.run_dir.iterdir()) == ["checkpoint.npz", "config.yaml", "metrics.csv",
                                                                "model.npz", "summary.json"]


def test_explicit_out_refuses_a_used_directory_unless_overwrite(tmp_path):
    out = tmp_path / "out"
    fit(make_config(**{"training.epochs": 3}), out=str(out))
    before = (out / "summary.json").read_text()
    with pytest.raises(ConfigError, match="output"):
        fit(make_config(**{"training.epochs": 2}), out=str(out))
    assert (out / "summary.json").read_text() == before  # untouched
    again = fit(make_config(**{"training.epochs": 2}), out=str(out), overwrite=True)
    assert again.run_dir == out
    _, rows = read_metrics(out)
    assert len(rows) == 2  # replaced, not appended to
    assert json.loads((out / "summary.json").read_text())["epochs"] == 2
    assert yaml.safe_load((out / "config.yaml").read_text())["training"]["epochs"] == 2


def test_explicit_empty_out_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    result = fit(make_config(**{"training.epochs": 1}), out=str(out))
    assert result.run_dir == out
    assert (out / "model.npz").is_file()


def test_init_from_a_saved_model_continues_from_its_weights(tmp_path):
    trained = run(tmp_path, "trained", **{"training.epochs": 3})
    resumed = run(tmp_path, "resumed", **{"training.epochs": 0,
                                          "model.init_from": str(trained.run_dir / "model.npz")})
    fresh = run(tmp_path, "fresh", **{"training.epochs": 0})
    for name in ("W1", "b1", "W2", "b2"):
        assert np.array_equal(load_model(resumed.run_dir)[name], load_model(trained.run_dir)[name]), name
    assert not np.array_equal(load_model(fresh.run_dir)["W1"], load_model(trained.run_dir)["W1"])
    assert resumed.summary["test"] == trained.summary["test"]  # same seed: same split, same weights

    result = run(tmp_path, **{"training.epochs": 1})
    resolved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert resolved["optimizer"] == {"name": "sgd", "lr": 0.1, "momentum": 0.0, "dampening": 0.0,
                                     "nesterov": False, "weight_decay": 0.0, "momentum_form": "torch"}
    assert resolved["dtype"] == "float64"
    assert resolved["clip"] == {"norm": None, "value": None}
    assert resolved["regularization"] == {"l2": 0.0, "l1": 0.0}
    assert resolved["data"]["standardize"] is True
    # The resolved file is itself a valid config that gives the same network.
    assert from_dict(resolved).model.hidden[0].units == 16


def test_a_run_checkpointed_before_the_layer_keys_existed_resumes_exactly(tmp_path):
    """A checkpoint whose saved config lacks keys added since (model.output_activation, model.freeze, a layer's
    type, batchnorm and trainable) resumes: those keys take their defaults instead of counting as changes."""
    raw = {"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 6, "activation": "tanh"}]},
           "optimizer": {"name": "adam", "lr": 0.01}, "training": {"batch_size": 16, "epochs": 2}}
    whole = fit(from_dict({**raw, "training": {"batch_size": 16, "epochs": 4}}), out=str(tmp_path / "whole"))
    fit(from_dict(raw), out=str(tmp_path / "part"))
    path = tmp_path / "part" / "checkpoint.npz"
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays["meta"]))
    saved = yaml.safe_load(meta["config"])
    for key in ("output_activation", "freeze"):
        del saved["model"][key]
    for key in ("type", "batchnorm", "trainable"):
        del saved["model"]["hidden"][0][key]
    meta["config"] = yaml.safe_dump(saved)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    resumed = fit(from_dict({**raw, "training": {"batch_size": 16, "epochs": 4}}), resume=str(tmp_path / "part"))
    assert np.array_equal(resumed.net.params, whole.net.params)
