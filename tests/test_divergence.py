"""The divergence guard (divergence.py, train.py) and what a diverged run tells the commands that use it.

The tour's too-large learning rate (configs/learning_rate.yaml at η = 1, full-batch linear regression) used to
go on for 179 epochs after its loss passed 1e18, until the numbers overflowed, and keep the last weights. It must
stop at epoch 5, when its training loss (1.1e+10) is more than 1e4 x its lowest (2.8e+04, epoch 1), keep the best
epoch's weights and say so; evaluate and predict on it print a warning line on stderr before anything else.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from gdtrain.cli import app
from gdtrain.config import load_config
from gdtrain.divergence import DIVERGENCE_FACTOR, Runaway
from gdtrain.experiment import fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
TOO_LARGE = ["optimizer.lr=1"]


def invoke(args):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


def weights(run_dir):
    with np.load(Path(run_dir) / "model.npz") as archive:
        return {name: archive[name] for name in archive.files if name[0] in "Wb" and name[1:].isdigit()}


def rows(run_dir):
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "too_large"
    result = invoke(["fit", CONFIGS / "learning_rate.yaml", "--set", "optimizer.lr=1", "--out", out])
    return out, result


def test_the_factor_is_large():
    assert DIVERGENCE_FACTOR == 1e4


def test_a_runaway_loss_stops_the_run_at_once(diverged):
    out, result = diverged
    assert result.exit_code == 1, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "diverged"
    assert summary["diverged_epoch"] == summary["epochs"] == 5
    losses = [float(r["train_loss"]) for r in rows(out)]
    assert len(losses) == 5  # the epoch that ran away is recorded: its line, its row, its warnings
    assert losses[4] > DIVERGENCE_FACTOR * min(losses[:4]) and losses[3] <= DIVERGENCE_FACTOR * min(losses[:3])
    message = summary["message"]
    assert message.startswith("training diverged at epoch 5: the training loss grew to 1.1e+10, more than "
                              "1e+04 x its lowest (2.8e+04 at epoch 1)")
    assert message in result.output.splitlines()
    assert [(w["name"], w["epoch"]) for w in summary["warnings"]] == [("lr_too_large", 4),
                                                                       ("exploding_gradients", 5)]


def test_a_diverged_run_keeps_its_best_epochs_weights(diverged, tmp_path):
    out, _ = diverged
    summary = json.loads((out / "summary.json").read_text())
    best = summary["best_epoch"]
    assert summary["kept_epoch"] == best == 1  # by val_loss: every later step made it worse
    assert f"the weights of epoch {best} (the best val_loss) are kept" in summary["message"]
    reference = fit(load_config(CONFIGS / "learning_rate.yaml", assignments=TOO_LARGE + [f"training.epochs={best}"]),
                    out=str(tmp_path / "ref"))
    kept, expected = weights(out), weights(reference.run_dir)
    assert sorted(kept) == sorted(expected) == ["W1", "b1"]
    for name in kept:
        assert np.array_equal(kept[name], expected[name]), name
    # and the summary's metrics are those weights', finite
    assert summary["validation"] == reference.summary["validation"]
    assert all(math.isfinite(v) for v in summary["test"].values())


def test_runaway_rule():
    check = Runaway()
    assert [check.update(e, v) for e, v in enumerate([100.0, 50.0, 400_000.0, 500_000.0], start=1)] == [None] * 4
    # more than 1e4 x the lowest (50) and above the first epoch's: runs away
    what = check.update(5, 500_001.0)
    assert what == "the training loss grew to 5e+05, more than 1e+04 x its lowest (50 at epoch 2)"
    # a classifier whose loss wobbles near zero has not diverged while it stays below where it started
    near_zero = Runaway()
    assert [near_zero.update(e, v) for e, v in enumerate([1.1, 1e-4, 0.8, 1e-5, 1.0], start=1)] == [None] * 5
    assert near_zero.update(6, 1.2) is not None  # 1.2e5 x the lowest and above the start
    # a resumed run rebuilds the rule from the losses so far
    resumed = Runaway.of([100.0, 50.0, 400_000.0])
    assert (resumed.first, resumed.lowest, resumed.lowest_epoch) == (100.0, 50.0, 2)
    assert resumed.update(4, 500_001.0) is not None
    # non-finite losses are the step guard's (train.py), not this rule's
    assert Runaway().update(1, math.inf) is None


def test_evaluate_and_predict_warn_first_on_a_diverged_run(diverged, tmp_path):
    out, _ = diverged
    expected = ("warning: this run diverged at epoch 5 (the training loss grew to 1.1e+10, more than 1e+04 x its "
                "lowest (2.8e+04 at epoch 1)); model.npz holds its best weights, from epoch 1, which are not a "
                "trained model's")
    evaluation = invoke(["evaluate", out])
    assert evaluation.exit_code == 0, evaluation.output
    assert evaluation.stderr.splitlines()[0] == expected
    assert evaluation.output.splitlines()[0] == expected  # before anything else
    assert "warning" not in evaluation.stdout
    x = tmp_path / "x.csv"
    with np.load(out / "model.npz") as archive:
        columns = [str(c) for c in archive["feature_names"]]
    x.write_text(",".join(columns) + "\n" + ",".join("0.01" for _ in columns) + "\n")
    prediction = invoke(["predict", out, x])
    assert prediction.exit_code == 0, prediction.output
    assert prediction.stderr.splitlines() == [expected]
    assert prediction.stdout.splitlines()[0] == "target"  # the CSV on stdout is untouched
    assert len(prediction.stdout.splitlines()) == 2


def test_a_healthy_run_gets_no_warning(tmp_path):
    out = tmp_path / "healthy"
    assert invoke(["fit", CONFIGS / "learning_rate.yaml", "--set", "training.epochs=3", "--out", out]).exit_code == 0
    evaluation = invoke(["evaluate", out])
    assert evaluation.exit_code == 0 and evaluation.stderr == ""


def test_a_race_counts_the_epoch_a_contestant_ran_away_at(tmp_path):
    raw = yaml.safe_load((CONFIGS / "learning_rate.yaml").read_text())
    raw["training"]["epochs"] = 8
    raw["compare"] = {"optimizers": [{"name": "sgd", "lr": 0.1}, {"name": "sgd", "lr": 1.0, "label": "boom"}],
                      "tune_lr": False}
    config = tmp_path / "race.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = invoke(["compare-optimizers", config, "--out", tmp_path / "race"])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "race" / "comparison.csv", newline="") as f:
        table = {r["optimizer"]: r for r in csv.DictReader(f)}
    assert table["boom"]["status"] == "diverged"
    assert table["boom"]["diverged_epoch"] == table["boom"]["epochs"] == "5"
    assert table["sgd"]["status"] == "completed"
