"""``gdtrain compare-optimizers``: fair starts, identical batches, serial = parallel, divergence, tuning, targets,
the CSV's columns and the bare demo. Tiny problems (iris, a few epochs) keep the module fast."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import gdtrain.experiment
import gdtrain.race.executor
from gdtrain import race as compare
from gdtrain.cli import app
from gdtrain.config import from_dict, load_config, to_dict
from gdtrain.errors import ConfigError
from gdtrain.experiment import setup

REPO = Path(__file__).resolve().parents[1]
ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
DOCUMENTED = ["optimizer", "lr", "seed", "initial_loss", "final_train_loss", "best_val_loss", "best_val_metric",
              "epochs_to_target", "seconds_to_target", "seconds", "status"]


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, args):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def tiny(**sections):
    raw = {"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 8, "activation": "tanh"}]},
           "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1},
           "training": {"epochs": 3, "batch_size": 16, "checkpoint_every": 10}, "monitor": {"warnings": False}}
    raw.update(sections)
    return raw


def write_config(tmp_path, raw, name="race.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def without_timing(rows):
    return [{k: v for k, v in row.items() if k not in ("seconds", "seconds_to_target")} for row in rows]


# --- fairness -------------------------------------------------------------------------------------------

class RecordingRng:
    """Stands in for the shuffle generator inside ``train`` and records every permutation it hands out."""

    def __init__(self, rng, log):
        self.rng, self.log = rng, log

    def permutation(self, n):
        order = self.rng.permutation(n)
        self.log.append(order.copy())
        return order

    def __getattr__(self, name):  # anything else (its state, for checkpoints) is the generator's
        return getattr(self.rng, name)


def record_training(monkeypatch):
    """Patch the training loop ``fit`` calls: record θ₀ and the batch orders of every run, in run order."""
    runs = []
    real_train = gdtrain.experiment.train

    def recording_train(net, loss, X, y, X_val, y_val, optimizer, schedule, settings=None, *, shuffle_rng=None,
                        **kwargs):
        run = {"theta0": net.params.copy(), "orders": [], "optimizer": type(optimizer).__name__}
        runs.append(run)
        return real_train(net, loss, X, y, X_val, y_val, optimizer, schedule, settings,
                          shuffle_rng=RecordingRng(shuffle_rng, run["orders"]), **kwargs)

    monkeypatch.setattr(gdtrain.experiment, "train", recording_train)
    return runs


def test_contestants_share_initial_weights_and_batch_order(tmp_path, monkeypatch):
    runs = record_training(monkeypatch)
    config = from_dict(tiny(compare={"optimizers": ["sgd", "momentum", {"name": "adam", "lr": 0.01}], "seeds": 2}))
    result = compare.run(compare.plan(config), out=str(tmp_path / "race"))

    assert [r["optimizer"] for r in runs] == ["SGD", "SGD", "Adam"] * 2  # seed 0's three, then seed 1's
    for seed_runs in (runs[:3], runs[3:]):
        for other in seed_runs[1:]:
            np.testing.assert_array_equal(other["theta0"], seed_runs[0]["theta0"])
            assert len(other["orders"]) == 3  # one permutation per epoch
            for a, b in zip(other["orders"], seed_runs[0]["orders"]):
                np.testing.assert_array_equal(a, b)
    # ... and the seeds really differ (the check above is not vacuous)
    assert not np.array_equal(runs[0]["theta0"], runs[3]["theta0"])
    assert not np.array_equal(runs[0]["orders"][0], runs[3]["orders"][0])

    # initial_loss: J(θ₀) on the training split, the same within a seed, and what setup() builds
    rows = read_rows(result.out_dir / "comparison.csv")
    for seed in (0, 1):
        built = setup(compare.contestant_config(result.race, result.race.contestants[0], seed))
        expected = built.net.objective(built.data.X_train, built.data.y_train, built.loss)
        values = {float(r["initial_loss"]) for r in rows if r["seed"] == str(seed)}
        assert len(values) == 1 and values.pop() == pytest.approx(expected, rel=1e-9)
    assert result.fair


def test_modes_race_same_start_and_counts_updates(tmp_path):
    config = from_dict(tiny(training={"epochs": 2, "batch_size": 16, "checkpoint_every": 10}))
    race = compare.plan(config, modes="batch,sgd,minibatch", target_loss=10.0)  # reached after the first epoch
    assert [c.label for c in race.contestants] == ["batch", "sgd", "minibatch"]
    assert all(c.optimizer == config.optimizer for c in race.contestants)
    result = compare.run(race, out=str(tmp_path / "modes"))
    rows = {r["optimizer"]: r for r in read_rows(result.out_dir / "comparison.csv")}
    n = result.outcomes[0].n_train
    assert n == len(setup(config).data.X_train) > 16
    assert len({r["initial_loss"] for r in rows.values()}) == 1
    assert {k: (r["mode"], int(r["batch_size"])) for k, r in rows.items()} == {
        "batch": ("batch", n), "sgd": ("sgd", 1), "minibatch": ("minibatch", 16)}
    # one epoch to the target: updates = that epoch's steps, sample gradients = n in every mode
    assert {k: int(r["updates_to_target"]) for k, r in rows.items()} == {"batch": 1, "sgd": n, "minibatch": math.ceil(n / 16)}
    assert all(int(r["grads_to_target"]) == n and r["epochs_to_target"] == "1" for r in rows.values())
    for label in rows:
        metrics = read_rows(result.out_dir / label / "metrics.csv")
        assert len(metrics) == 2


# --- serial = parallel ----------------------------------------------------------------------------------

def test_serial_and_parallel_give_identical_results(runner, tmp_path):
    config = write_config(tmp_path, tiny(compare={"optimizers": ["sgd", "momentum", "adagrad", "adam"], "seeds": 2}))
    serial = invoke(runner, ["compare-optimizers", config, "--out", tmp_path / "serial", "--target-loss", 0.9])
    assert serial.exit_code == 0, serial.output
    exe = shutil.which("gdtrain")
    assert exe is not None
    proc = subprocess.run([exe, "compare-optimizers", str(config), "--out", str(tmp_path / "parallel"),
                           "--target-loss", "0.9", "--workers", "2"],
                          capture_output=True, text=True, env={**os.environ, **ENV}, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^workers   2 processes, (up to )?\d+ BLAS threads? each( \(auto: 1 for small products\))?$", proc.stdout,
                     re.M)
    a, b = read_rows(tmp_path / "serial" / "comparison.csv"), read_rows(tmp_path / "parallel" / "comparison.csv")
    assert len(a) == 8
    assert without_timing(a) == without_timing(b)
    for row in a:  # every run's metrics too, epoch by epoch
        run = Path(row["run_dir"])
        ma, mb = read_rows(tmp_path / "serial" / run / "metrics.csv"), read_rows(tmp_path / "parallel" / run / "metrics.csv")
        assert without_timing(ma) == without_timing(mb)
    sa = json.loads((tmp_path / "serial" / "summary.json").read_text())
    sb = json.loads((tmp_path / "parallel" / "summary.json").read_text())
    assert sa["winner"] == sb["winner"] and sa["initial_loss"] == sb["initial_loss"]
    assert sb["workers"] == 2 and sb["blas_threads_per_worker"] >= 1


def test_workers_limit_blas_threads_only_while_the_pool_lives(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with compare.limited_blas_env(1):
        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["OMP_NUM_THREADS"] == "7" and "OPENBLAS_NUM_THREADS" not in os.environ
    monkeypatch.setattr(gdtrain.race.executor, "available_cores", lambda: 8)  # where blas_threads reads it
    assert [compare.blas_threads(w) for w in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


# --- divergence, tuning, targets ------------------------------------------------------------------------

def test_a_diverging_contestant_does_not_stop_the_race(runner, tmp_path):
    config = write_config(tmp_path, tiny(data={"source": "diabetes"}, loss="mse", compare={"optimizers": [
        {"name": "sgd", "lr": 0.01}, {"name": "sgd", "lr": 1e6, "label": "boom"}, {"name": "adam", "lr": 0.05}]}))
    result = invoke(runner, ["compare-optimizers", config, "--out", tmp_path / "race"])
    assert result.exit_code == 0, result.output
    rows = {r["optimizer"]: r for r in read_rows(tmp_path / "race" / "comparison.csv")}
    assert rows["boom"]["status"] == "diverged"
    epoch = int(rows["boom"]["diverged_epoch"])
    assert epoch == int(rows["boom"]["epochs"]) + 1 <= 3
    assert rows["sgd"]["status"] == rows["adam"]["status"] == "completed"
    assert rows["sgd"]["epochs"] == rows["adam"]["epochs"] == "3"
    summary = json.loads((tmp_path / "race" / "summary.json").read_text())
    assert summary["winner"] in ("sgd", "adam")
    assert summary["contestants"][-1]["label"] == "boom" and summary["contestants"][-1]["diverged"] == 1
    boom_line = next(line for line in result.output.splitlines() if line.split()[1:2] == ["boom"])
    assert f"diverged at epoch {epoch}" in boom_line
    run_summary = json.loads((tmp_path / "race" / "boom" / "summary.json").read_text())
    assert run_summary["stop_reason"] == "diverged"


def test_tuning_picks_the_grid_lr_with_the_best_validation_loss(runner, tmp_path):
    config = write_config(tmp_path, tiny(compare={"optimizers": [{"name": "sgd", "lr": 0.1}, "adam"],
                                                  "lr_grid": [0.1, 1, 10]}))
    result = invoke(runner, ["compare-optimizers", config, "--out", tmp_path / "race", "--tune-lr"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "race" / "summary.json").read_text())
    rows = {r["optimizer"]: r for r in read_rows(tmp_path / "race" / "comparison.csv")}
    for label, default in (("sgd", 0.1), ("adam", 0.001)):
        grid = [float(f"{default * f:.3g}") for f in (0.1, 1, 10)]
        tuning = summary["tuning"]["contestants"][label]
        assert [r["lr"] for r in tuning["results"]] == grid and tuning["default_lr"] == default
        # the best validation loss of each grid run, read back from its own metrics.csv
        best = {lr: min(float(m["val_loss"]) for m in read_rows(tmp_path / "race" / "tuning" / label / f"lr-{lr:g}" /
                                                                 "metrics.csv"))
                for lr in grid}
        assert tuning["chosen_lr"] == min(best, key=best.get)
        assert float(rows[label]["lr"]) == tuning["chosen_lr"]  # the race ran with it
    assert "learning-rate tuning on seed 0" in result.output


def test_choose_lr_skips_diverged_runs_and_breaks_ties():
    def outcome(lr, val, status="completed", final=1.0):
        o = compare.Outcome("tune", "x", 0, lr, "minibatch", "sgd", "d", status=status, final_train_loss=final)
        o.best_val_loss = val
        return o

    assert compare.choose_lr([outcome(0.1, 0.5), outcome(1.0, 0.01, "diverged"), outcome(0.3, 0.2)]) == 0.3
    assert compare.choose_lr([outcome(0.1, 0.2, final=0.5), outcome(0.3, 0.2, final=0.4)]) == 0.3
    assert compare.choose_lr([outcome(1.0, 0.1, "diverged"), outcome(3.0, None, "failed")]) is None
    assert compare.tuning_grid(0.001, [0.1, 0.3, 1, 3, 10]) == [0.0001, 0.0003, 0.001, 0.003, 0.01]


def test_targets_epochs_and_seconds_or_never(tmp_path):
    config = from_dict(tiny(training={"epochs": 4, "batch_size": 16, "checkpoint_every": 10}, compare={
        "optimizers": [{"name": "sgd", "lr": 0.0001}, {"name": "adam", "lr": 0.05}]}))
    result = compare.run(compare.plan(config, target_metric="val_accuracy=0.9"), out=str(tmp_path / "race"))
    rows = {r["optimizer"]: r for r in read_rows(result.out_dir / "comparison.csv")}
    assert rows["sgd"]["epochs_to_target"] == rows["sgd"]["seconds_to_target"] == "never"
    metrics = read_rows(result.out_dir / "adam" / "metrics.csv")
    first = next(int(m["epoch"]) for m in metrics if float(m["val_accuracy"]) >= 0.9)
    assert rows["adam"]["epochs_to_target"] == str(first)
    assert float(rows["adam"]["seconds_to_target"]) == pytest.approx(float(metrics[first - 1]["seconds"]), abs=1e-4)
    # the same race with a train-loss target nobody reaches
    result = compare.run(compare.plan(config, target_loss=1e-9), out=str(tmp_path / "race2"))
    assert {r["epochs_to_target"] for r in read_rows(result.out_dir / "comparison.csv")} == {"never"}


# --- outputs --------------------------------------------------------------------------------------------

def test_done_when_digits_three_optimizers(runner, tmp_path):
    """The issue's check: digits, tanh hidden layer, mini-batch 64, 8 epochs, --optimizers sgd,momentum,adam."""
    out = tmp_path / "race"
    result = invoke(runner, ["compare-optimizers", "quickstart", "--optimizers", "sgd,momentum,adam",
                             "--set", "model.hidden.0.activation=tanh", "--set", "training.batch_size=64",
                             "--epochs", 8, "--out", out])
    assert result.exit_code == 0, result.output
    rows = read_rows(out / "comparison.csv")
    assert list(rows[0]) == DOCUMENTED + list(compare.EXTRA_COLUMNS)
    assert [r["optimizer"] for r in rows] == ["sgd", "momentum", "adam"]
    assert [float(r["lr"]) for r in rows] == [0.01, 0.01, 0.001]  # the documented defaults (sgd's: 0.01)
    assert len({r["initial_loss"] for r in rows}) == 1
    assert all(float(r["final_train_loss"]) < float(r["initial_loss"]) for r in rows)
    assert all(r["status"] == "completed" and r["epochs"] == "8" and r["batch_size"] == "64" for r in rows)
    table = [line.split() for line in result.output.splitlines()
             if line.split()[:1] in (["1"], ["2"], ["3"]) and line.rstrip().endswith("completed")]
    assert sorted(line[1] for line in table) == ["adam", "momentum", "sgd"]
    assert {line[1]: line[line.index("★") + 1 if "★" in line else 2] for line in table} == {
        "sgd": "0.01", "momentum": "0.01", "adam": "0.001"}
    assert "★" in next(line for line in result.output.splitlines() if line.startswith("winner:"))
    for label in ("sgd", "momentum", "adam"):  # each an ordinary run directory
        assert {p.name for p in (out / label).iterdir()} >= {"config.yaml", "metrics.csv", "model.npz", "summary.json"}
        resolved = yaml.safe_load((out / label / "config.yaml").read_text())
        assert "compare" not in resolved and resolved["training"]["batch_size"] == 64
        assert len(read_rows(out / label / "metrics.csv")) == 8


def test_seeds_give_mean_std_and_wins(tmp_path):
    config = from_dict(tiny(compare={"optimizers": ["sgd", {"name": "adam", "lr": 0.05}], "seeds": 3}))
    result = compare.run(compare.plan(config), out=str(tmp_path / "race"))
    rows = read_rows(result.out_dir / "comparison.csv")
    assert [(r["optimizer"], r["seed"], r["run_dir"]) for r in rows] == [
        (label, str(seed), f"{label}/seed-{seed}") for seed in (0, 1, 2) for label in ("sgd", "adam")]
    summary = json.loads((result.out_dir / "summary.json").read_text())
    assert sum(c["wins"] for c in summary["contestants"]) == 3
    adam = next(c for c in summary["contestants"] if c["label"] == "adam")
    values = [float(r["best_val_loss"]) for r in rows if r["optimizer"] == "adam"]
    assert adam["best_val_loss"]["mean"] == pytest.approx(np.mean(values), rel=1e-9)
    assert adam["best_val_loss"]["std"] == pytest.approx(np.std(values, ddof=1), rel=1e-6)
    assert summary["contestants"][0]["rank"] == 1 and summary["winner"] == summary["contestants"][0]["label"]
    assert set(summary["initial_loss"]) == {"0", "1", "2"}


def test_bare_demo_runs(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, ["compare-optimizers", "--epochs", 2])
    assert result.exit_code == 0, result.output
    out = tmp_path / "runs" / "compare"
    rows = read_rows(out / "comparison.csv")
    assert [r["optimizer"] for r in rows] == list(compare.DEFAULT_OPTIMIZERS)
    assert len({r["initial_loss"] for r in rows}) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"] == "compare" and summary["tuning"]["factors"] == [0.1, 0.3, 1, 3, 10]
    assert all(len(t["results"]) == 5 for t in summary["tuning"]["contestants"].values())
    assert "train loss per epoch" in result.output and "winner:" in result.output
    assert "Traceback" not in result.output
    # a second race never overwrites the first
    again = invoke(runner, ["compare-optimizers", "--epochs", 1, "--no-tune-lr", "--optimizers", "adam"])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "runs" / "compare-2" / "adam" / "metrics.csv").is_file()


def test_an_explicit_out_is_not_overwritten_without_overwrite(runner, tmp_path):
    config = write_config(tmp_path, tiny(compare={"optimizers": ["adam"]}))
    out = tmp_path / "race"
    assert invoke(runner, ["compare-optimizers", config, "--out", out]).exit_code == 0
    refused = invoke(runner, ["compare-optimizers", config, "--out", out])
    assert refused.exit_code == 2
    assert refused.output.strip() == f"error: output: {out} already holds a run; choose another --out or pass --overwrite"
    assert invoke(runner, ["compare-optimizers", config, "--out", out, "--overwrite"]).exit_code == 0


def test_png_of_the_overlaid_curves(runner, tmp_path):
    pytest.importorskip("matplotlib")
    config = write_config(tmp_path, tiny(compare={"optimizers": ["sgd", "adam"], "seeds": 2}))
    png = tmp_path / "curves.png"
    result = invoke(runner, ["compare-optimizers", config, "--out", tmp_path / "race", "--png", png])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_docs_describe_every_column():
    text = (REPO / "docs" / "compare.md").read_text(encoding="utf-8")
    for column in compare.COLUMNS + compare.EXTRA_COLUMNS:
        assert f"`{column}`" in text, column


# --- the compare: section and the plan ------------------------------------------------------------------

def test_compare_section_round_trips_and_is_absent_by_default():
    assert "compare" not in to_dict(from_dict({}))
    config = from_dict({"compare": {"optimizers": ["momentum", {"name": "adam", "lr": 0.003}, "adam",
                                                   {"name": "sgd", "label": "adam"}], "seeds": 2}})
    labels = [item["label"] for item in config.compare.optimizers]
    assert labels == ["momentum", "adam-2", "adam-3", "adam"]  # explicit labels keep theirs, defaults get suffixes
    assert config.compare.optimizers[0]["name"] == "sgd" and config.compare.optimizers[0]["momentum"] == 0.9
    again = from_dict(yaml.safe_load(yaml.safe_dump(to_dict(config))))
    assert again.compare == config.compare


def test_shipped_demo_config_loads():
    config = load_config(REPO / "configs" / "compare.yaml")
    race = compare.plan(config)
    assert [c.label for c in race.contestants] == list(compare.DEFAULT_OPTIMIZERS)
    assert race.tune_lr and race.target == compare.Target("train_loss", 0.01)


@pytest.mark.parametrize("section, message", [
    ({"optimizers": ["sgd", {"name": "adam", "lr": -1}]}, "compare.optimizers[1].lr: must be > 0, got -1"),
    ({"optimizers": ["adma"]}, "compare.optimizers[0].name: unknown optimizer 'adma'; did you mean 'adam'?"),
    ({"optimizers": [{"lr": 0.1}]}, "compare.optimizers[0].name: missing"),
    ({"optimizers": [{"name": "sgd", "label": "x"}, {"name": "adam", "label": "x"}]},
     "compare.optimizers[1].label: 'x' is used twice"),
    ({"optimizers": [{"name": "sgd", "label": "a/b"}]}, "compare.optimizers[0].label: must be a name"),
    ({"optimizers": []}, "compare.optimizers: must be a non-empty list"),
    ({"modes": ["batch", "fast"]}, "compare.modes: unknown mode 'fast'"),
    ({"target_metric": {"val_acc": 0.9}}, "compare.target_metric: unknown target metric 'val_acc'; did you mean"),
    ({"seeds": 0}, "compare.seeds: must be >= 1, got 0"),
    ({"lr_grid": [1, -3]}, "compare.lr_grid: must be a non-empty list of numbers > 0"),
    ({"tune": True}, "compare.tune: unknown key; did you mean 'tune_lr'?"),
])
def test_compare_section_errors_name_the_key(section, message):
    with pytest.raises(ConfigError) as info:
        from_dict({"compare": section})
    assert str(info.value).startswith(message)


def test_plan_errors(tmp_path):
    base = from_dict(tiny())
    cases = [
        (dict(optimizers="sgd,adma"), "--optimizers: unknown optimizer 'adma'; did you mean 'adam'?"),
        (dict(modes="batch,sgd", optimizers="sgd,adam"), "--modes: races one optimizer"),
        (dict(target_loss=1.0, target_metric="val_loss=1"), "--target-loss: give either"),
        (dict(target_metric="val_r2=0.5"), "--target-metric: val_r2 needs a regression loss"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigError) as info:
            compare.plan(base, **kwargs)
        assert str(info.value).startswith(message), str(info.value)
    no_val = from_dict(tiny(data={"source": "iris", "validation_split": 0}))
    with pytest.raises(ConfigError, match=r"^compare.tune_lr: .* needs validation data"):
        compare.plan(no_val, tune_lr=True)
    with pytest.raises(ConfigError, match=r"^--target-metric: val_accuracy needs validation data"):
        compare.plan(no_val, target_metric="val_accuracy=0.9")
    search = from_dict(tiny(training={"mode": "batch", "line_search": "backtracking"}))
    with pytest.raises(ConfigError, match=r"^--optimizers \(adam\): training.line_search: "):
        compare.plan(search, optimizers="sgd,adam")


def test_command_line_overrides_the_config_section():
    config = from_dict(tiny(compare={"optimizers": ["sgd", "adam"], "seeds": 3, "target_loss": 0.5}))
    race = compare.plan(config, optimizers="rmsprop,nesterov", seeds=1, target_metric="val_accuracy=0.9")
    assert [c.label for c in race.contestants] == ["rmsprop", "nesterov"]
    assert race.contestants[1].optimizer["nesterov"] is True and race.seeds == [0]
    assert race.target == compare.Target("val_accuracy", 0.9) and race.target.reached(0.95)
    race = compare.plan(config, modes=["sgd", "minibatch"])
    assert race.kind == "modes" and [c.mode for c in race.contestants] == ["sgd", "minibatch"]
    assert race.contestants[0].optimizer == config.optimizer and race.seeds == [0, 1, 2]


def test_bad_command_line_is_one_error_line_with_exit_2(runner, tmp_path):
    config = write_config(tmp_path, tiny())
    for args, start in ((["--optimizers", "adma"], "error: --optimizers: unknown optimizer 'adma'"),
                        (["--modes", "fast"], "error: --modes: unknown mode 'fast'"),
                        (["--target-metric", "accuracy"], "error: --target-metric: expected NAME=VALUE")):
        result = invoke(runner, ["compare-optimizers", config, "--out", tmp_path / "x", *args])
        assert result.exit_code == 2, result.output
        assert result.output.strip().startswith(start) and len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "x").exists()  # nothing was started
    missing = write_config(tmp_path, tiny(data={"source": str(tmp_path / "nowhere.csv")}), "missing.yaml")
    result = invoke(runner, ["compare-optimizers", missing, "--out", tmp_path / "x"])
    assert result.exit_code == 2 and result.output.startswith(f"error: {tmp_path / 'nowhere.csv'}"), result.output
    assert not (tmp_path / "x").exists()


def test_help_lists_the_options(runner):
    result = invoke(runner, ["compare-optimizers", "--help"])
    assert result.exit_code == 0
    for option in ("--optimizers", "--modes", "--seeds", "--tune-lr", "--target-loss", "--target-metric",
                   "--workers", "--out", "--png", "--overwrite"):
        assert option in result.output, option
    assert "compare-optimizers" in invoke(runner, ["--help"]).output


def test_stat_mean_and_sample_std():
    stat = compare.Stat.of([1.0, 2.0, None, math.nan, 4.0])
    assert (stat.mean, stat.n) == (pytest.approx(7 / 3), 3)
    assert stat.std == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))
    assert compare.Stat.of([5.0]).std is None and compare.Stat.of([]).mean is None
