"""Training safety: named warnings, divergence, early stopping, checkpoints, exact resume, signals, crashes.

Every run is small (digits / iris / diabetes, a few epochs) so the file stays fast. What is checked:
  - the warnings of diagnostics.py, end to end and on crafted numbers (boundaries included), and the
    diagnostic columns of metrics.csv against independent NumPy computations;
  - a diverging run: exit 1, one clear message, finite weights;
  - early stopping with Keras's semantics, derived independently from metrics.csv;
  - checkpoint + resume: an interrupted run (in process, by SIGINT / SIGTERM, by kill -9) resumed ends with
    exactly (bitwise) the weights and the metrics.csv rows of an uninterrupted run;
  - resume refusals: a changed config, a missing checkpoint, --resume with --out.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from gdtrain import checkpoint
from gdtrain.cli import app
from gdtrain.config import from_dict, load_config
from gdtrain.diagnostics import Diagnostics
from gdtrain.errors import ConfigError
from gdtrain.experiment import fit

ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
RUN_FILES = ["checkpoint.npz", "config.yaml", "metrics.csv", "model.npz", "summary.json"]
WEIGHTS = ("W1", "b1", "W2", "b2")


# --- helpers --------------------------------------------------------------------------------------

@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, args):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def lines(text):
    return [line for line in text.splitlines() if line.strip()]


def run(tmp_path, name, raw, **kwargs):
    """fit() on a raw config dict into tmp_path/name."""
    return fit(from_dict(copy.deepcopy(raw)), out=str(tmp_path / name), **kwargs)


def with_(raw, **sections):
    """A deep copy of ``raw`` with top-level sections replaced/merged (dicts merged one level deep)."""
    out = copy.deepcopy(raw)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def read_rows(run_dir):
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def column(run_dir, name):
    return [float(r[name]) for r in read_rows(run_dir)]


def without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def load_model(run_dir):
    with np.load(Path(run_dir) / "model.npz") as archive:
        return {name: archive[name] for name in archive.files if name[0] in "Wb" and name[1:].isdigit()}


def assert_same_weights(a, b):
    wa, wb = load_model(a), load_model(b)
    assert sorted(wa) == sorted(wb)
    for name in wa:
        assert np.array_equal(wa[name], wb[name]), (name, float(np.max(np.abs(wa[name] - wb[name]))))


def summary_of(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())


def keras_early_stopping(values, patience, min_delta=0.0, mode="min"):
    """(stop epoch or None, best epoch) by Keras's EarlyStopping, re-derived: improved iff v < best − min_delta
    (mode min) or v > best + min_delta (mode max); stop once `patience` epochs in a row did not improve."""
    best, best_epoch, wait = (math.inf if mode == "min" else -math.inf), 0, 0
    for epoch, v in enumerate(values, start=1):
        wait += 1
        if (v < best - min_delta) if mode == "min" else (v > best + min_delta):
            best, best_epoch, wait = v, epoch, 0
        elif wait >= patience:
            return epoch, best_epoch
    return None, best_epoch


# --- 1. vanishing gradients ------------------------------------------------------------------------

SIGMOID8 = {"seed": 0, "data": {"source": "digits"},
            "model": {"hidden": [{"units": 32, "activation": "sigmoid"} for _ in range(7)]},
            "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1}, "training": {"epochs": 2}}


def test_vanishing_gradients_in_a_deep_sigmoid_net(runner, tmp_path):
    config = tmp_path / "sigmoid8.yaml"
    config.write_text(yaml.safe_dump(SIGMOID8))
    out = tmp_path / "deep"
    result = invoke(runner, ["fit", config, "--out", out])
    assert result.exit_code == 0, result.output
    assert result.output.count("vanishing gradients") == 1  # given once per run, though both epochs qualify

    summary = summary_of(out)
    vanishing = [w for w in summary["warnings"] if w["name"] == "vanishing_gradients"]
    assert len(vanishing) == 1
    assert vanishing[0]["epoch"] == 1
    message = vanishing[0]["message"]
    assert f"warning (epoch 1): {message}" in result.output

    # The layers named are exactly those whose mean ‖∂J/∂W‖ in epoch 1 is below 1e-2 x the last layer's.
    first = read_rows(out)[0]
    norms = {f"W{i}": float(first[f"grad_norm_W{i}"]) for i in range(1, 9)}
    below = [name for name in list(norms)[:-1] if norms[name] < 1e-2 * norms["W8"]]
    assert below[0] == "W1" and "W7" not in below  # the signal shrinks on its way back
    assert norms["W1"] < 1e-3 * norms["W8"]
    assert f"the gradient norms of {', '.join(below)} are below 0.01 x the last layer's" in message
    assert "W1 " in message and "W8 " in message
    for name in norms:
        if name not in below and name != "W8":
            assert f"{name} " not in message.split("(")[1].split(";")[0], name

    # relu + he_normal with 2 hidden layers: gradients reach the first layer; no warning.
    healthy = with_(SIGMOID8, model={"hidden": [{"units": 32, "activation": "relu", "init": "he_normal"}] * 2})
    config.write_text(yaml.safe_dump(healthy))
    result = invoke(runner, ["fit", config, "--out", tmp_path / "relu"])
    assert result.exit_code == 0, result.output
    assert "vanishing gradients" not in result.output and "warning (" not in result.output
    assert summary_of(tmp_path / "relu")["warnings"] == []
    first = read_rows(tmp_path / "relu")[0]
    assert float(first["grad_norm_W1"]) > 0.1 * float(first["grad_norm_W3"])


def test_monitor_warnings_false_silences_but_still_measures(runner, tmp_path):
    config = tmp_path / "quiet.yaml"
    config.write_text(yaml.safe_dump(with_(SIGMOID8, monitor={"warnings": False})))
    result = invoke(runner, ["fit", config, "--out", tmp_path / "quiet"])
    assert result.exit_code == 0, result.output
    assert "warning (" not in result.output and "vanishing gradients" not in result.output
    assert summary_of(tmp_path / "quiet")["warnings"] == []
    rows = read_rows(tmp_path / "quiet")
    assert len(rows) == 2
    # The measurements are the same as with warnings on (same seed), and still show the vanishing.
    loud = run(tmp_path, "loud", SIGMOID8)
    assert [w["name"] for w in loud.summary["warnings"]] == ["vanishing_gradients"]
    assert without_seconds(rows) == without_seconds(read_rows(tmp_path / "loud"))
    assert float(rows[0]["grad_norm_W1"]) < 1e-2 * float(rows[0]["grad_norm_W8"])


def examine(diag, epoch=1, loss=1.0, norms=None, stats=None, activations=("relu",)):
    norms = norms if norms is not None else {"grad_norm": 1.0, "grad_norm_W1": 1.0, "grad_norm_W2": 1.0}
    return diag.examine(epoch, loss, norms, stats or {}, list(activations))


def test_vanishing_ratio_boundary():
    # exactly at the ratio (0.01 x 1.0 == 0.01) does not warn; just below does
    assert examine(Diagnostics(), norms={"grad_norm": 1, "grad_norm_W1": 0.01, "grad_norm_W2": 1.0}) == []
    found = examine(Diagnostics(), epoch=4,
                    norms={"grad_norm": 1, "grad_norm_W1": 0.0099, "grad_norm_W2": 0.5, "grad_norm_W3": 1.0})
    assert [(w.name, w.epoch) for w in found] == [("vanishing_gradients", 4)]
    assert "the gradient norms of W1 are below 0.01 x the last layer's (W1 0.0099; W3 1)" in found[0].message
    # every layer under the ratio is named, in order; a custom ratio is used and printed
    diag = Diagnostics(vanishing_ratio=0.5)
    found = examine(diag, norms={"grad_norm": 1, "grad_norm_W1": 0.1, "grad_norm_W2": 0.4, "grad_norm_W3": 0.5,
                                 "grad_norm_W4": 1.0})
    assert "the gradient norms of W1, W2 are below 0.5 x" in found[0].message
    assert "W3 0.5" not in found[0].message
    # given once per run
    assert examine(diag, epoch=2, norms={"grad_norm": 1, "grad_norm_W1": 0.0, "grad_norm_W2": 1.0}) == []
    # a linear model (one layer) and a zero last-layer gradient never warn
    assert examine(Diagnostics(), norms={"grad_norm": 1, "grad_norm_W1": 1e-9}) == []
    assert examine(Diagnostics(), norms={"grad_norm": 0, "grad_norm_W1": 0.0, "grad_norm_W2": 0.0}) == []


# --- 2. the other warnings ------------------------------------------------------------------------

def test_exploding_gradients_against_the_first_epoch():
    diag = Diagnostics()
    assert examine(diag, norms={"grad_norm": 2.0}) == []  # the first epoch sets the reference
    assert diag.first_grad_norm == 2.0
    assert examine(diag, epoch=2, norms={"grad_norm": 2000.0}) == []  # exactly 1e3 x: not more than
    found = examine(diag, epoch=3, norms={"grad_norm": 2000.5})
    assert [(w.name, w.epoch) for w in found] == [("exploding_gradients", 3)]
    assert "grew from 2 to 2e+03 (more than 1000 x)" in found[0].message
    assert examine(diag, epoch=4, norms={"grad_norm": 1e9}) == []  # once per run
    diag = Diagnostics(exploding_factor=10)
    examine(diag, norms={"grad_norm": 1.0})
    assert [w.name for w in examine(diag, epoch=2, norms={"grad_norm": 10.5})] == ["exploding_gradients"]
    zero = Diagnostics()
    examine(zero, norms={"grad_norm": 0.0})
    assert examine(zero, epoch=2, norms={"grad_norm": 1e30}) == []  # no reference to grow from


def test_dead_relus_and_saturated_units_thresholds():
    norms = {"grad_norm": 1.0}
    diag = Diagnostics()
    assert examine(diag, norms=norms, stats={"dead_fraction_1": 0.49, "saturated_fraction_2": 0.4999},
                   activations=["relu", "tanh", "identity"]) == []
    found = examine(diag, epoch=2, norms=norms, stats={"dead_fraction_1": 0.5, "saturated_fraction_2": 0.5},
                    activations=["relu", "tanh", "identity"])
    assert [(w.name, w.epoch) for w in found] == [("dead_relus", 2), ("saturated_units", 2)]
    assert "dead ReLUs: 50% of the units of hidden layer 1 were inactive on every sample" in found[0].message
    assert "saturated units: 50% of the activations of hidden layer 2 (tanh)" in found[1].message
    assert examine(diag, epoch=3, norms=norms, stats={"dead_fraction_1": 1.0, "saturated_fraction_2": 1.0},
                   activations=["relu", "tanh", "identity"]) == []
    # custom thresholds; the layer number and activation come from the key
    diag = Diagnostics(dead_fraction=0.2, saturated_fraction=0.9)
    found = examine(diag, norms=norms, stats={"dead_fraction_3": 0.2, "saturated_fraction_1": 0.89},
                    activations=["sigmoid", "relu", "relu", "identity"])
    assert [w.name for w in found] == ["dead_relus"]
    assert "hidden layer 3" in found[0].message
    found = examine(diag, epoch=2, norms=norms, stats={"saturated_fraction_1": 0.9},
                    activations=["sigmoid", "relu", "relu", "identity"])
    assert [w.name for w in found] == ["saturated_units"] and "(sigmoid)" in found[0].message


def test_lr_too_large_fires_on_the_third_rise_and_a_dip_resets():
    norms = {"grad_norm": 1.0}
    diag = Diagnostics()
    names = [[w.name for w in examine(diag, epoch=e, loss=v, norms=norms)]
             for e, v in enumerate([1.0, 2.0, 3.0, 2.5, 3.0, 3.0, 3.5, 4.0, 5.0], start=1)]
    # rises: 2, 3 (two in a row) | dip 2.5 | 3.0 | equal 3.0 resets | 3.5, 4.0, 5.0: the third rise warns
    assert names == [[], [], [], [], [], [], [], [], ["lr_too_large"]]
    diag = Diagnostics()
    found = [examine(diag, epoch=e, loss=v, norms=norms) for e, v in enumerate([1, 2, 3, 4, 5], start=1)]
    assert [len(f) for f in found] == [0, 0, 0, 1, 0]  # on the 3rd rise (epoch 4), once
    assert found[3][0].epoch == 4
    assert "rose 3 epochs in a row (1 → 2 → 3 → 4), to more than 2 x the first epoch's 1" in found[3][0].message
    diag = Diagnostics(rising_epochs=1)
    assert examine(diag, loss=1.0, norms=norms) == []
    assert examine(diag, epoch=2, loss=1.1, norms=norms) == []  # rose, but not above 2 x the first epoch's
    assert [w.name for w in examine(diag, epoch=3, loss=2.1, norms=norms)] == ["lr_too_large"]


def test_warnings_false_gives_nothing_but_keeps_state():
    diag = Diagnostics(warnings=False)
    assert examine(diag, norms={"grad_norm": 1.0, "grad_norm_W1": 1e-9, "grad_norm_W2": 1.0},
                   stats={"dead_fraction_1": 1.0}) == []
    assert diag.first_grad_norm == 1.0 and diag.given == []


def test_dead_relus_end_to_end_with_a_huge_lr(tmp_path):
    # raw pixel values (0..16) and lr 0.5: the first epoch's big steps push every ReLU's z below 0 for good
    raw = {"seed": 0, "data": {"source": "digits", "standardize": False},
           "model": {"hidden": [{"units": 32, "activation": "relu"}]}, "loss": "cross_entropy",
           "optimizer": {"name": "sgd", "lr": 0.5}, "training": {"epochs": 3}}
    result = run(tmp_path, "dead", raw)
    dead = column(result.run_dir, "dead_fraction_1")
    assert dead[0] < 0.5 and dead[1:] == [1.0, 1.0]
    warnings = [(w["name"], w["epoch"]) for w in result.summary["warnings"]]
    assert warnings == [("dead_relus", 2)]
    assert "100% of the units of hidden layer 1" in result.summary["warnings"][0]["message"]
    # all dead: nothing reaches W1 any more; the network predicts a constant (loss ≈ ln 10)
    assert column(result.run_dir, "grad_norm_W1")[1:] == [0.0, 0.0]
    assert abs(column(result.run_dir, "train_loss")[-1] - math.log(10)) < 0.05


def test_saturated_tanh_end_to_end_with_a_large_lr(tmp_path):
    raw = {"seed": 0, "data": {"source": "digits"}, "model": {"hidden": [{"units": 32, "activation": "tanh"}]},
           "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 5.0}, "training": {"epochs": 3}}
    result = run(tmp_path, "sat", raw)
    saturated = column(result.run_dir, "saturated_fraction_1")
    assert min(saturated) >= 0.5
    assert [(w["name"], w["epoch"]) for w in result.summary["warnings"]] == [("saturated_units", 1)]
    assert f"{saturated[0]:.0%} of the activations of hidden layer 1 (tanh)" in result.summary["warnings"][0]["message"]
    tame = run(tmp_path, "tame", with_(raw, optimizer={"lr": 0.05}))
    assert max(column(tame.run_dir, "saturated_fraction_1")) < 0.1
    assert tame.summary["warnings"] == []


def test_metrics_columns_match_numpy_in_batch_mode(tmp_path):
    """weight norms, update ratios, gradient norms, train_loss and saturation of the last epoch, recomputed
    from the weights of runs of N-1 and N epochs (same seed: the N run passes through the N-1 weights)."""
    lr, n = 0.5, 5
    raw = {"seed": 3, "data": {"source": "iris"}, "model": {"hidden": [{"units": 16, "activation": "tanh"}]},
           "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": lr},
           "training": {"mode": "batch", "epochs": n, "keep": "last"}}
    last = run(tmp_path, "n", raw)
    before = run(tmp_path, "n_minus_1", with_(raw, training={"epochs": n - 1}))
    w, w0 = load_model(last.run_dir), load_model(before.run_dir)
    row = read_rows(last.run_dir)[-1]
    assert int(row["epoch"]) == n

    def close(csv_value, exact):
        assert float(csv_value) == pytest.approx(exact, rel=1e-9, abs=1e-300)

    for name in ("W1", "W2"):
        close(row[f"weight_norm_{name}"], np.linalg.norm(w[name]))
        close(row[f"update_ratio_{name}"], np.linalg.norm(w[name] - w0[name]) / np.linalg.norm(w0[name]))

    # The gradient at the N-1 weights, by hand: tanh layer, softmax + cross-entropy.
    X, y = last.data.X_train, last.data.y_train
    z1 = X @ w0["W1"].T + w0["b1"]
    a1 = np.tanh(z1)
    z2 = a1 @ w0["W2"].T + w0["b2"]
    z2 = z2 - z2.max(axis=1, keepdims=True)
    p = np.exp(z2) / np.exp(z2).sum(axis=1, keepdims=True)
    onehot = np.eye(p.shape[1])[y]
    loss = float(-np.mean(np.log(p[np.arange(len(y)), y])))
    d2 = (p - onehot) / len(y)
    g = {"W2": d2.T @ a1, "b2": d2.sum(0)}
    d1 = (d2 @ w0["W2"]) * (1 - a1 ** 2)
    g.update({"W1": d1.T @ X, "b1": d1.sum(0)})
    close(row["train_loss"], loss)  # batch mode: J at the start of the step
    close(row["grad_norm_W1"], np.linalg.norm(g["W1"]))
    close(row["grad_norm_W2"], np.linalg.norm(g["W2"]))
    close(row["grad_norm"], math.sqrt(sum(float(np.sum(v ** 2)) for v in g.values())))
    # plain sgd: ‖ΔW1‖ = η‖∂J/∂W1‖ and W_N = W_{N-1} − η g exactly as computed
    close(row["update_ratio_W1"], lr * np.linalg.norm(g["W1"]) / np.linalg.norm(w0["W1"]))
    np.testing.assert_allclose(w["W1"], w0["W1"] - lr * g["W1"], rtol=1e-10, atol=1e-12)
    threshold = math.atanh(math.sqrt(1 - 1e-2))  # 1 − tanh² z < 1e-2
    close(row["saturated_fraction_1"], float(np.mean(np.abs(z1) > threshold)))
    assert float(row["clip_fraction"]) == 0.0


def test_dead_and_saturated_fractions_on_a_crafted_network(tmp_path):
    """init_from: 4 of 16 ReLUs with W = 0, b = −100 (never fire) and 4 of 16 tanh units with W = 0, b = 50
    (always in the tail): dead_fraction_1 = saturated_fraction_2 = 0.25 exactly."""
    rng = np.random.default_rng(7)
    weights = {"W1": rng.normal(0, math.sqrt(2 / 64), (16, 64)), "b1": np.zeros(16),
               "W2": rng.normal(0, 0.01, (16, 16)), "b2": np.zeros(16),
               "W3": rng.normal(0, 0.3, (10, 16)), "b3": np.zeros(10)}
    weights["W1"][[1, 5, 9, 13]] = 0.0
    weights["b1"][[1, 5, 9, 13]] = -100.0
    weights["W2"][[0, 2, 4, 6]] = 0.0
    weights["b2"][[0, 2, 4, 6]] = 50.0
    np.savez(tmp_path / "init.npz", **weights)
    raw = {"seed": 0, "data": {"source": "digits"},
           "model": {"hidden": [{"units": 16, "activation": "relu"}, {"units": 16, "activation": "tanh"}],
                     "init_from": str(tmp_path / "init.npz")},
           "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.05},
           "training": {"epochs": 2, "batch_size": 64},
           "monitor": {"dead_fraction": 0.25, "saturated_fraction": 0.25}}
    result = run(tmp_path, "crafted", raw)
    assert column(result.run_dir, "dead_fraction_1") == [0.25, 0.25]
    saturated = column(result.run_dir, "saturated_fraction_2")
    assert saturated[0] == 0.25
    warnings = {w["name"]: w for w in result.summary["warnings"]}
    assert sorted(warnings) == ["dead_relus", "saturated_units"]
    assert warnings["dead_relus"]["epoch"] == 1 and "25% of the units of hidden layer 1" in warnings["dead_relus"]["message"]
    assert "hidden layer 2 (tanh)" in warnings["saturated_units"]["message"]
    # the dead units got no gradient at all: their weights are untouched
    model = load_model(result.run_dir)
    assert np.array_equal(model["W1"][[1, 5, 9, 13]], weights["W1"][[1, 5, 9, 13]])
    assert np.array_equal(model["b1"][[1, 5, 9, 13]], weights["b1"][[1, 5, 9, 13]])
    assert not np.array_equal(model["W1"][0], weights["W1"][0])
    # thresholds just above the measured fractions: no warning
    quiet = run(tmp_path, "quiet", with_(raw, monitor={"dead_fraction": 0.26, "saturated_fraction": 0.26}))
    assert quiet.summary["warnings"] == []
    assert column(quiet.run_dir, "dead_fraction_1") == [0.25, 0.25]


# --- 3. divergence --------------------------------------------------------------------------------

def test_divergence_exits_1_with_a_clear_message_and_finite_weights(runner, tmp_path):
    raw = {"seed": 0, "data": {"source": "diabetes"}, "model": {"hidden": [{"units": 16, "activation": "relu"}]},
           "loss": "mse", "optimizer": {"name": "sgd", "lr": 1e6}, "training": {"epochs": 5}}
    config = tmp_path / "diverge.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    result = invoke(runner, ["fit", config, "--out", out])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    summary = summary_of(out)
    assert summary["stop_reason"] == "diverged"
    epoch = summary["epochs"] + 1
    assert f"training diverged at epoch {epoch}:" in result.output
    assert "last finite loss:" in result.output
    message = next(line for line in lines(result.output) if line.startswith("training diverged"))
    assert message == summary["message"]
    last = message.split("last finite loss: ")[1].split(")")[0]
    assert math.isfinite(float(last))
    model = load_model(out)
    assert all(np.isfinite(v).all() for v in model.values())
    # the weights kept are those at the start of the diverging epoch: a run of epoch − 1 epochs
    before = run(tmp_path, "before", with_(raw, training={"epochs": epoch - 1}))
    assert before.summary["stop_reason"] == "completed"
    assert_same_weights(out, before.run_dir)
    assert len(read_rows(out)) == epoch - 1


# --- 4. early stopping ----------------------------------------------------------------------------

# 64 ReLUs on 300 noisy patients: val_loss bottoms out after ~20 epochs while train_loss keeps falling.
OVERFIT = {"seed": 0, "data": {"source": "diabetes"}, "model": {"hidden": [{"units": 64, "activation": "relu"}]},
           "loss": "mse", "optimizer": {"name": "sgd", "lr": 1e-4},
           "training": {"mode": "minibatch", "batch_size": 16, "epochs": 200, "early_stopping": {"patience": 5}}}


def test_early_stopping_restores_the_best_epoch(tmp_path):
    result = run(tmp_path, "es", OVERFIT)
    s = result.summary
    val = column(result.run_dir, "val_loss")
    stop, best = keras_early_stopping(val, patience=5)
    assert stop is not None and stop < 200
    assert s["stop_reason"] == "early_stopping"
    assert s["epochs"] == len(val) == stop == best + 5
    assert s["kept_epoch"] == s["best_epoch"] == best
    assert s["message"].startswith("val_loss did not improve for 5 epochs (patience 5); best ")
    assert s["message"].endswith(f"at epoch {best}")
    assert column(result.run_dir, "train_loss")[-1] < column(result.run_dir, "train_loss")[best - 1]  # overfitting
    assert s["validation"]["loss"] == pytest.approx(val[best - 1], rel=1e-9)
    # the weights are bitwise those of a run of exactly best_epoch epochs
    exact = run(tmp_path, "exact", with_(OVERFIT, training={"epochs": best}))
    assert exact.summary["stop_reason"] == "completed"
    assert_same_weights(result.run_dir, exact.run_dir)

    # restore_best: false keeps the last epoch's weights
    last = run(tmp_path, "last", with_(OVERFIT, training={"early_stopping": {"patience": 5, "restore_best": False}}))
    assert last.summary["epochs"] == stop and last.summary["kept_epoch"] == stop
    assert last.summary["stop_reason"] == "early_stopping"
    plain = run(tmp_path, "plain", with_(OVERFIT, training={"epochs": stop, "early_stopping": None}))
    assert_same_weights(last.run_dir, plain.run_dir)
    assert last.summary["validation"]["loss"] == pytest.approx(val[stop - 1], rel=1e-9)


def test_early_stopping_min_delta(tmp_path):
    val = column(run(tmp_path, "ref", OVERFIT).run_dir, "val_loss")
    for min_delta in (30.0, 200.0):
        stop, best = keras_early_stopping(val, patience=5, min_delta=min_delta)
        result = run(tmp_path, f"d{min_delta:g}", with_(OVERFIT, training={
            "early_stopping": {"patience": 5, "min_delta": min_delta}}))
        assert result.summary["epochs"] == stop == best + 5
        assert result.summary["kept_epoch"] == best
        assert column(result.run_dir, "val_loss") == val[:stop]  # same trajectory, cut earlier or later
        assert f"at epoch {best}" in result.summary["message"]
    assert keras_early_stopping(val, 5, 200.0)[1] < keras_early_stopping(val, 5, 0.0)[1]  # the case bites


def test_early_stopping_mode_max_on_val_accuracy(tmp_path):
    raw = {"seed": 0, "data": {"source": "digits"}, "model": {"hidden": [{"units": 32, "activation": "relu"}]},
           "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
           "training": {"batch_size": 64, "epochs": 30, "early_stopping": {"monitor": "val_accuracy", "patience": 3}}}
    result = run(tmp_path, "acc", raw)
    acc = column(result.run_dir, "val_accuracy")
    stop, best = keras_early_stopping(acc, patience=3, mode="max")
    assert stop is not None and result.summary["stop_reason"] == "early_stopping"
    assert result.summary["epochs"] == stop == best + 3
    assert result.summary["kept_epoch"] == best
    assert max(acc[best:]) <= acc[best - 1]  # ties do not count as improvements
    assert result.summary["validation"]["accuracy"] == pytest.approx(acc[best - 1], abs=1e-9)
    assert result.summary["message"].startswith("val_accuracy did not improve for 3 epochs")
    # explicit mode max with min_delta
    delta = run(tmp_path, "delta", with_(raw, training={
        "early_stopping": {"monitor": "val_accuracy", "patience": 3, "mode": "max", "min_delta": 0.004}}))
    stop, best = keras_early_stopping(column(delta.run_dir, "val_accuracy"), 3, 0.004, mode="max")
    assert delta.summary["epochs"] == stop and delta.summary["kept_epoch"] == best
    # mode min on accuracy (a misconfiguration, but Keras would obey): stops patience epochs after epoch 1
    wrong = run(tmp_path, "wrong", with_(raw, training={
        "early_stopping": {"monitor": "val_accuracy", "patience": 2, "mode": "min"}}))
    stop, best = keras_early_stopping(column(wrong.run_dir, "val_accuracy"), 2, mode="min")
    assert (wrong.summary["epochs"], wrong.summary["kept_epoch"]) == (stop, best)


@pytest.mark.parametrize("early, sections, fragment", [
    ({"monitor": "val_accuracy"}, {}, "training.early_stopping.monitor: val_accuracy needs a classification loss"),
    ({"monitor": "val_loss"}, {"data": {"source": "diabetes", "validation_split": 0}},
     "training.early_stopping.monitor: val_loss needs validation data"),
    ({"patience": 3, "patiance": 4}, {}, "training.early_stopping.patiance:"),
    ({"min_delta": -1}, {}, "training.early_stopping.min_delta:"),
    ({"monitor": "val_acc"}, {}, "training.early_stopping.monitor:"),
])
def test_early_stopping_config_errors(runner, tmp_path, early, sections, fragment):
    raw = with_(OVERFIT, training={"epochs": 2, "early_stopping": early}, **sections)
    with pytest.raises(ConfigError) as caught:
        from_dict(copy.deepcopy(raw))
    assert str(caught.value).startswith(fragment)
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = invoke(runner, ["fit", config, "--out", tmp_path / "out"])
    assert result.exit_code == 2
    assert lines(result.output) == [f"error: {caught.value}"]
    assert not (tmp_path / "out").exists()


# --- 5. checkpoint + exact resume, in process -----------------------------------------------------

class StopAfter:
    """stop_requested that returns True once ``epochs`` epochs are done and it has been polled ``polls`` more
    times (0: before the next epoch starts; k > 0: after the k-th update of the next epoch)."""

    def __init__(self, epochs, polls=0):
        self.epochs, self.polls = epochs, polls
        self.done = 0
        self.calls = 0  # polls since the epoch boundary
        self.total = 0

    def on_epoch(self, record):
        self.done = record.epoch

    def __call__(self):
        self.total += 1
        if self.done >= self.epochs:
            self.calls += 1
            return self.calls > self.polls
        return False


def interrupt_and_resume(tmp_path, raw, stop_after, polls, tag):
    """Fit ``raw`` stopped after ``stop_after`` epochs (+ ``polls`` polls), check the stopped run directory,
    resume it, and check it against an uninterrupted run. Returns (resumed summary, reference run)."""
    reference = run(tmp_path, f"{tag}_ref", raw)
    stopper = StopAfter(stop_after, polls)
    stopped = run(tmp_path, f"{tag}_int", raw, on_epoch=stopper.on_epoch, stop_requested=stopper)
    s = stopped.summary
    assert s["stop_reason"] == "interrupted"
    assert s["epochs"] == stop_after
    expected = (f"interrupted before epoch {stop_after + 1}" if polls == 0
                else f"interrupted during epoch {stop_after + 1}; it is not kept")
    assert s["message"] == expected
    assert stopper.calls == polls + 1
    rows = read_rows(stopped.run_dir)
    assert [int(r["epoch"]) for r in rows] == list(range(1, stop_after + 1))
    assert without_seconds(rows) == without_seconds(read_rows(reference.run_dir)[:stop_after])
    saved = checkpoint.load(stopped.run_dir / "checkpoint.npz")
    assert saved["meta"]["epoch"] == stop_after
    # the interrupted run's model.npz holds the weights of its last completed epoch: the checkpoint's
    # (a half-done epoch is undone); with keep: best or restore_best, those of the best epoch so far
    model = load_model(stopped.run_dir)
    if s["kept_epoch"] == stop_after:
        flat = np.concatenate([model[f"{k}{i}"].ravel() for i in range(1, len(model) // 2 + 1) for k in "Wb"])
        assert np.array_equal(flat, saved["arrays"]["params"])
    else:
        early = raw["training"].get("early_stopping")
        restores = raw["training"].get("keep") == "best" or (early is not None and early.get("restore_best", True))
        assert restores and 1 <= s["kept_epoch"] < stop_after

    resumed = fit(from_dict(copy.deepcopy(raw)), resume=str(stopped.run_dir))
    assert resumed.run_dir == stopped.run_dir
    assert resumed.summary["resumed_from_epoch"] == stop_after
    assert_same_weights(stopped.run_dir, reference.run_dir)
    rows, ref_rows = read_rows(stopped.run_dir), read_rows(reference.run_dir)
    assert [int(r["epoch"]) for r in rows] == [int(r["epoch"]) for r in ref_rows]  # no duplicates, no gaps
    assert without_seconds(rows) == without_seconds(ref_rows)
    for key in ("stop_reason", "epochs", "best_epoch", "best_value", "kept_epoch", "best_train_loss",
                "train", "validation", "test", "warnings"):
        assert resumed.summary[key] == reference.summary[key], key
    return resumed, reference


ADAM_DROPOUT_COSINE = {
    "seed": 0, "data": {"source": "digits"},
    "model": {"hidden": [{"units": 32, "activation": "relu", "dropout": 0.2},
                         {"units": 16, "activation": "tanh", "dropout": 0.1}]},
    "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.003},
    "schedule": {"name": "cosine", "warmup_epochs": 1, "warmup_start_factor": 0.2},
    "training": {"mode": "minibatch", "batch_size": 64, "epochs": 6}}


@pytest.mark.parametrize("polls", [0, 7], ids=["between_epochs", "mid_epoch"])
def test_resume_adam_dropout_cosine_is_exact(tmp_path, polls):
    resumed, reference = interrupt_and_resume(tmp_path, ADAM_DROPOUT_COSINE, 3, polls, "adam")
    assert resumed.summary["stop_reason"] == "completed" and resumed.summary["epochs"] == 6
    lrs = column(reference.run_dir, "lr")
    assert len(set(lrs)) == 6  # the schedule really moves


def test_stop_requested_is_polled_after_every_update_and_before_every_epoch(tmp_path):
    raw = with_(ADAM_DROPOUT_COSINE, training={"epochs": 2})
    stopper = StopAfter(99)
    result = run(tmp_path, "polls", raw, on_epoch=stopper.on_epoch, stop_requested=stopper)
    steps = math.ceil(result.data.splits["train"] / 64)
    assert stopper.total == 2 * (1 + steps)


def test_resume_momentum_plateau_keep_best_early_stopping(tmp_path):
    """State that must survive: momentum buffers, plateau's counters and reduced lr, keep: best's weights,
    early stopping's best and wait, the warnings given."""
    raw = {"seed": 0, "data": {"source": "digits"}, "model": {"hidden": [{"units": 32, "activation": "relu"}]},
           "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
           "schedule": {"name": "plateau", "patience": 0, "factor": 0.5},
           "training": {"batch_size": 64, "epochs": 12, "keep": "best",
                        "early_stopping": {"monitor": "val_accuracy", "patience": 3, "restore_best": False}}}
    # stopped after epoch 6: the best val_loss (keep: best) and the best val_accuracy (early stopping) lie
    # behind, early stopping is waiting, and plateau is about to cut the lr again: all of it must be restored
    resumed, reference = interrupt_and_resume(tmp_path, raw, 6, 0, "plateau")
    s = reference.summary
    assert s["stop_reason"] == "early_stopping" and 6 < s["epochs"] < 12  # early stopping fired after the resume
    lrs = column(reference.run_dir, "lr")
    assert lrs[0] == 0.1 and lrs[6] < lrs[5] and lrs[-1] < lrs[6]  # plateau cut the lr after the resume, twice
    val = column(reference.run_dir, "val_loss")
    best = int(np.argmin(val)) + 1
    assert s["kept_epoch"] == s["best_epoch"] == best < 6  # keep: best (by val_loss), from before the stop
    accuracy = column(reference.run_dir, "val_accuracy")
    stop, best_accuracy = keras_early_stopping(accuracy, 3, mode="max")
    assert s["epochs"] == stop and best_accuracy < 6  # early stopping was waiting when interrupted
    # and mid-epoch
    interrupt_and_resume(tmp_path, raw, 6, 5, "plateau_mid")


def test_resume_after_the_best_epoch_restores_early_stoppings_best_weights(tmp_path):
    best = run(tmp_path, "probe", OVERFIT).summary["kept_epoch"]
    resumed, reference = interrupt_and_resume(tmp_path, OVERFIT, best + 2, 0, "restore")
    assert resumed.summary["stop_reason"] == "early_stopping"
    assert resumed.summary["kept_epoch"] == best < resumed.summary["epochs"]


def test_resume_keeps_the_warnings_given(tmp_path):
    """A warning given before the interruption is not given again after the resume."""
    raw = with_(SIGMOID8, training={"epochs": 4})
    resumed, reference = interrupt_and_resume(tmp_path, raw, 2, 0, "warned")
    assert [(w["name"], w["epoch"]) for w in resumed.summary["warnings"]] == [("vanishing_gradients", 1)]
    assert all(not r.warnings for r in resumed.train.history)  # nothing new in epochs 3 and 4


def test_resume_with_per_step_schedule(tmp_path):
    raw = {"seed": 1, "data": {"source": "digits"}, "model": {"hidden": [{"units": 32, "activation": "tanh"}]},
           "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.2, "momentum": 0.5, "nesterov": True},
           "schedule": {"name": "cosine", "per": "step", "warmup_epochs": 30},
           "training": {"batch_size": 64, "epochs": 5}}
    interrupt_and_resume(tmp_path, raw, 2, 0, "step_between")
    resumed, reference = interrupt_and_resume(tmp_path, raw, 3, 11, "step_mid")
    assert len(set(column(reference.run_dir, "lr"))) == 5  # the first step's lr of each epoch differs


def test_resume_extending_epochs_equals_a_longer_run(tmp_path):
    raw = with_(ADAM_DROPOUT_COSINE, schedule={"name": "step", "step_size": 3, "gamma": 0.5},
                training={"epochs": 4})
    short = run(tmp_path, "short", raw)
    assert short.summary["stop_reason"] == "completed"
    resumed = fit(from_dict(with_(raw, training={"epochs": 8})), resume=str(short.run_dir))
    assert resumed.summary["epochs"] == 8 and resumed.summary["resumed_from_epoch"] == 4
    fresh = run(tmp_path, "fresh", with_(raw, training={"epochs": 8}))
    assert_same_weights(short.run_dir, fresh.run_dir)
    assert without_seconds(read_rows(short.run_dir)) == without_seconds(read_rows(fresh.run_dir))
    assert yaml.safe_load((short.run_dir / "config.yaml").read_text())["training"]["epochs"] == 8


@pytest.mark.parametrize("polls", [0, 5], ids=["between_epochs", "mid_epoch"])
def test_interrupted_run_saves_a_checkpoint_of_its_last_epoch(tmp_path, polls):
    """checkpoint_every 5, stopped after epoch 3 (between epochs, or 5 updates into epoch 4): the interruption
    writes epoch 3's checkpoint itself — with the optimizer, schedule and random generators as epoch 3 left
    them — and a resume ends exactly like an uninterrupted run."""
    raw = with_(ADAM_DROPOUT_COSINE, training={"checkpoint_every": 5})
    stopper = StopAfter(3, polls)
    stopped = run(tmp_path, "ce5", raw, on_epoch=stopper.on_epoch, stop_requested=stopper)
    assert stopped.summary["stop_reason"] == "interrupted" and stopped.summary["epochs"] == 3
    saved = checkpoint.load(stopped.run_dir / "checkpoint.npz")
    assert saved["meta"]["epoch"] == 3
    resumed = fit(from_dict(copy.deepcopy(raw)), resume=str(stopped.run_dir))
    assert resumed.summary["resumed_from_epoch"] == 3
    reference = run(tmp_path, "ref", raw)
    assert_same_weights(stopped.run_dir, reference.run_dir)
    assert without_seconds(read_rows(stopped.run_dir)) == without_seconds(read_rows(reference.run_dir))


def test_interrupted_with_sparse_checkpoints_still_resumes_exactly(tmp_path):
    """checkpoint_every 2, stopped after epoch 3: the checkpoint holds epoch 3; a resume ends exactly like an
    uninterrupted run, metrics.csv not duplicated."""
    raw = with_(ADAM_DROPOUT_COSINE, training={"checkpoint_every": 2})
    stopper = StopAfter(3)
    stopped = run(tmp_path, "ce2", raw, on_epoch=stopper.on_epoch, stop_requested=stopper)
    assert stopped.summary["epochs"] == 3 and len(read_rows(stopped.run_dir)) == 3
    epoch = checkpoint.load(stopped.run_dir / "checkpoint.npz")["meta"]["epoch"]
    assert epoch == 3
    resumed = fit(from_dict(copy.deepcopy(raw)), resume=str(stopped.run_dir))
    assert resumed.summary["resumed_from_epoch"] == epoch
    reference = run(tmp_path, "ref", raw)
    assert_same_weights(stopped.run_dir, reference.run_dir)
    assert without_seconds(read_rows(stopped.run_dir)) == without_seconds(read_rows(reference.run_dir))


def test_resuming_with_more_epochs_keeps_the_cosine_length_the_run_started_with(tmp_path):
    """cosine with t_max: null anneals over the run's length when it starts; a resume that raises epochs continues
    that same curve (as torch's CosineAnnealingLR does past T_max) instead of jumping to a new one."""
    raw = with_(ADAM_DROPOUT_COSINE, schedule={"name": "cosine", "t_max": None, "warmup_epochs": 0},
                training={"epochs": 4})
    first = run(tmp_path, "c4", raw)
    fit(from_dict(with_(raw, training={"epochs": 8})), resume=str(first.run_dir))
    lrs = [float(r["lr"]) for r in read_rows(first.run_dir)]
    assert lrs == pytest.approx([0.0015 * (1 + math.cos(math.pi * t / 4)) for t in range(8)], rel=1e-9, abs=1e-15)


def test_resuming_a_run_that_stopped_early_trains_nothing_more(tmp_path):
    raw = {"seed": 0, "data": {"source": "diabetes"}, "loss": "mse",
           "model": {"hidden": [{"units": 64, "activation": "relu"}, {"units": 64, "activation": "relu"}]},
           "optimizer": {"name": "adam", "lr": 0.01},
           "training": {"mode": "minibatch", "batch_size": 16, "epochs": 300, "early_stopping": {"patience": 5}}}
    stopped = run(tmp_path, "es", raw)
    assert stopped.summary["stop_reason"] == "early_stopping" and stopped.summary["epochs"] < 300
    rows, weights = read_rows(stopped.run_dir), (stopped.run_dir / "model.npz").read_bytes()
    again = fit(from_dict(copy.deepcopy(raw)), resume=str(stopped.run_dir))
    assert again.summary["stop_reason"] == "early_stopping" and again.summary["epochs"] == stopped.summary["epochs"]
    assert again.summary["message"] == stopped.summary["message"]
    assert read_rows(stopped.run_dir) == rows
    assert np.array_equal(np.load(stopped.run_dir / "model.npz")["W1"], np.load(io.BytesIO(weights))["W1"])


# --- 6. / 7. real signals and kill -9 -------------------------------------------------------------

SIGNAL_CONFIG = {
    "seed": 0, "data": {"source": "digits"},
    "model": {"hidden": [{"units": 128, "activation": "relu", "dropout": 0.3},
                         {"units": 64, "activation": "tanh", "dropout": 0.1}]},
    "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.001},
    "schedule": {"name": "cosine", "warmup_epochs": 2, "warmup_start_factor": 0.1},
    "training": {"mode": "minibatch", "batch_size": 8, "epochs": 20, "checkpoint_every": 1,
                 "checkpoint_seconds": 0}}


@pytest.fixture(scope="module")
def signal_runs(tmp_path_factory):
    """Config files and their uninterrupted reference runs, by epoch count (made on first use)."""
    root = tmp_path_factory.mktemp("signals")
    cache = {}

    def get(epochs):
        if epochs not in cache:
            config = root / f"signal{epochs}.yaml"
            config.write_text(yaml.safe_dump(with_(SIGNAL_CONFIG, training={"epochs": epochs})))
            reference = fit(load_config(config), out=str(root / f"reference{epochs}"))
            assert reference.summary["stop_reason"] == "completed"
            cache[epochs] = (config, reference.run_dir)
        return cache[epochs]

    return get


def data_rows(path):
    """Complete data rows in a metrics.csv being written (0 if it does not exist yet)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return 0
    return max(text.count("\n") - 1, 0)


def start_and_signal(signal_runs, tmp_path, sig, min_rows):
    """Start `python -m gdtrain fit` in a subprocess, wait for ``min_rows`` epochs in metrics.csv, send ``sig``.

    If the run finished before the signal could be sent, try again with 4x the epochs (a faster machine);
    the test fails rather than passing without having interrupted anything.
    Returns (epochs, config, run_dir, reference_dir, returncode, stdout, stderr)."""
    for epochs in (20, 80, 320):
        config, reference = signal_runs(epochs)
        out = tmp_path / f"{sig.name}{epochs}"
        proc = subprocess.Popen([sys.executable, "-m", "gdtrain", "fit", str(config), "--out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **ENV}, cwd=tmp_path)
        deadline = time.monotonic() + 60
        try:
            while data_rows(out / "metrics.csv") < min_rows and proc.poll() is None:
                assert time.monotonic() < deadline, "the run did not start"
                time.sleep(0.002)
            if proc.poll() is None:
                proc.send_signal(sig)
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        finished = (out / "summary.json").exists() and summary_of(out)["stop_reason"] == "completed"
        if sig == signal.SIGKILL:
            finished = (out / "summary.json").exists()
        if not finished:
            return epochs, config, out, reference, proc.returncode, stdout, stderr
    pytest.fail("the run always finished before it could be interrupted")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_stops_at_a_safe_point_and_resume_is_exact(signal_runs, tmp_path, sig):
    epochs, config, out, reference, code, stdout, stderr = start_and_signal(signal_runs, tmp_path, sig, 3)
    assert code == 128 + sig, stdout + stderr  # 130, 143, 129: the shell's convention
    assert "Traceback" not in stdout + stderr
    summary = summary_of(out)
    done = summary["epochs"]
    assert summary["stop_reason"] == "interrupted"
    assert 3 <= done < epochs
    assert f"--resume {out}" in stderr
    assert f"saved what epochs 1-{done} learned in {out}" in stderr
    assert "stopping at the end of this step" in stderr
    assert f"interrupted after {done} epochs" in stdout
    assert [int(r["epoch"]) for r in read_rows(out)] == list(range(1, done + 1))
    assert checkpoint.load(out / "checkpoint.npz")["meta"]["epoch"] == done
    assert without_seconds(read_rows(out)) == without_seconds(read_rows(reference)[:done])
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "config.yaml", "metrics.csv", "model.npz",
                                                     "summary.json"]

    if sig == signal.SIGINT:  # resume through the CLI, as the message says
        proc = subprocess.run([sys.executable, "-m", "gdtrain", "fit", str(config), "--resume", str(out)],
                              capture_output=True, text=True, env={**os.environ, **ENV}, cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"resuming  after epoch {done}" in proc.stdout
    else:  # and through the API
        fit(load_config(config), resume=str(out))
    resumed, ref = load_model(out), load_model(reference)
    for name in ref:
        assert float(np.max(np.abs(resumed[name] - ref[name]))) == 0.0, name
    assert without_seconds(read_rows(out)) == without_seconds(read_rows(reference))
    assert summary_of(out)["test"] == summary_of(reference)["test"]


def test_graceful_stop_first_signal_sets_a_flag_second_sigint_raises():
    from gdtrain.interrupt import GracefulStop

    notices = []
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    stop = GracefulStop(on_first=lambda: notices.append("stopping"))
    with stop:
        assert stop() is False
        signal.raise_signal(signal.SIGTERM)
        assert stop() is True and notices == ["stopping"]
        signal.raise_signal(signal.SIGTERM)  # SIGTERM again: still a request, never an exception
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # a second Ctrl-C quits at once
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == previous  # handlers restored


def test_kill_9_leaves_a_loadable_checkpoint_and_resume_is_exact(signal_runs, tmp_path):
    epochs, config, out, reference, code, stdout, stderr = start_and_signal(signal_runs, tmp_path, signal.SIGKILL, 2)
    assert code == -signal.SIGKILL
    rows = data_rows(out / "metrics.csv")
    saved = checkpoint.load(out / "checkpoint.npz")
    epoch = saved["meta"]["epoch"]
    assert 1 <= epoch <= rows and rows - epoch <= 1  # metrics are written just before each checkpoint
    assert saved["arrays"]["params"].size > 0 and np.isfinite(saved["arrays"]["params"]).all()
    names = sorted(p.name for p in out.iterdir())
    leftovers = [n for n in names if n not in ("checkpoint.npz", "config.yaml", "metrics.csv", ".lock")]
    assert all(n.startswith(".checkpoint.npz.") for n in leftovers), names
    assert ".lock" in names  # the dead run's lock (rundir.LOCK), taken over by the resume below
    assert "model.npz" not in names and "summary.json" not in names

    # a crash between writing metrics and the checkpoint: a row past the checkpoint, half written
    full = read_rows(out)[0]
    with open(out / "metrics.csv", "a") as f:
        f.write(",".join([str(epoch + 1)] + list(full.values())[1:]) + "\n")
        f.write(f"{epoch + 2},0.123,")
    resumed = fit(load_config(config), resume=str(out))
    assert resumed.summary["resumed_from_epoch"] == epoch
    assert resumed.summary["stop_reason"] == "completed"
    assert_same_weights(out, reference)
    assert without_seconds(read_rows(out)) == without_seconds(read_rows(reference))
    assert (out / "metrics.csv").read_text().count("\n") == epochs + 1
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES  # no lock, no temp file left


# --- 8. resume errors -----------------------------------------------------------------------------

RESUMABLE = {"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 8, "activation": "tanh"}]},
             "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1}, "training": {"epochs": 2}}


@pytest.mark.parametrize("change, key", [
    ({"optimizer": {"name": "sgd", "lr": 0.2}}, "optimizer.lr"),
    ({"model": {"hidden": [{"units": 9, "activation": "tanh"}]}}, "model.hidden"),
    ({"seed": 1}, "seed"),
    ({"regularization": {"l2": 0.01}}, "regularization.l2"),
])
def test_resume_refuses_a_changed_config(runner, tmp_path, change, key):
    config = tmp_path / "a.yaml"
    config.write_text(yaml.safe_dump(RESUMABLE))
    out = tmp_path / "run"
    assert invoke(runner, ["fit", config, "--out", out]).exit_code == 0
    before = {name: (out / name).read_bytes() for name in ("metrics.csv", "checkpoint.npz", "model.npz")}
    changed = tmp_path / "b.yaml"
    changed.write_text(yaml.safe_dump({**RESUMABLE, **change}))
    result = invoke(runner, ["fit", changed, "--resume", out, "--epochs", 4])
    assert result.exit_code == 2, result.output
    out_lines = lines(result.output)
    assert len(out_lines) == 1 and out_lines[0].startswith(f"error: --resume: {key} is ")
    assert "Traceback" not in result.output
    assert {name: (out / name).read_bytes() for name in before} == before  # nothing touched
    with pytest.raises(ConfigError, match=f"--resume: {key} "):
        fit(load_config(changed), resume=str(out))


def test_resume_allows_more_epochs_and_monitor_changes(runner, tmp_path):
    config = tmp_path / "a.yaml"
    config.write_text(yaml.safe_dump(RESUMABLE))
    out = tmp_path / "run"
    assert invoke(runner, ["fit", config, "--out", out]).exit_code == 0
    more = tmp_path / "b.yaml"
    more.write_text(yaml.safe_dump({**RESUMABLE, "monitor": {"warnings": False}, "training": {
        "epochs": 4, "checkpoint_every": 2}}))
    result = invoke(runner, ["fit", more, "--resume", out])
    assert result.exit_code == 0, result.output
    assert "resuming  after epoch 2" in result.output
    assert [int(r["epoch"]) for r in read_rows(out)] == [1, 2, 3, 4]
    fresh = run(tmp_path, "fresh", with_(RESUMABLE, training={"epochs": 4}))
    assert_same_weights(out, fresh.run_dir)


def test_resume_without_a_checkpoint_is_exit_2(runner, tmp_path):
    config = tmp_path / "a.yaml"
    config.write_text(yaml.safe_dump(RESUMABLE))
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke(runner, ["fit", config, "--resume", empty])
    assert result.exit_code == 2
    assert lines(result.output) == [f"error: --resume: {empty / 'checkpoint.npz'} does not exist "
                                    "(a run directory has one after its first epoch)"]
    assert list(empty.iterdir()) == []
    result = invoke(runner, ["fit", config, "--resume", tmp_path / "missing"])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "missing").exists()
    # a corrupt checkpoint is named too
    (empty / "checkpoint.npz").write_bytes(b"not a zip")
    result = invoke(runner, ["fit", config, "--resume", empty])
    assert result.exit_code == 2
    assert lines(result.output)[0].startswith(f"error: --resume: {empty / 'checkpoint.npz'} is not a readable checkpoint")


def test_resume_and_out_together_is_exit_2(runner, tmp_path):
    config = tmp_path / "a.yaml"
    config.write_text(yaml.safe_dump(RESUMABLE))
    out = tmp_path / "run"
    assert invoke(runner, ["fit", config, "--out", out]).exit_code == 0
    result = invoke(runner, ["fit", config, "--resume", out, "--out", tmp_path / "other"])
    assert result.exit_code == 2
    assert len(lines(result.output)) == 1
    assert "--resume" in result.output and "--out" in result.output and "not both" in result.output
    assert not (tmp_path / "other").exists()
