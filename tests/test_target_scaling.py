"""data.standardize_target (issue 15): the network learns (y − μ_y)/σ_y of the training split; predictions and
mse / mae / r2 come back in the target's units (as scikit-learn's TransformedTargetRegressor); μ_y, σ_y live in
model.npz; refused for classification. Small linear problems, full batch, so the runs converge exactly."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from gdtrain.cli import app
from gdtrain.config import from_dict
from gdtrain.errors import ConfigError
from gdtrain.experiment import fit, setup
from gdtrain.inference import evaluate_run, load_model, predict_file
from gdtrain.targets import TargetScaling

ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
COEF, INTERCEPT = np.array([40.0, -20.0, 10.0]), 300.0  # a target far from unit scale


@pytest.fixture(scope="module")
def linear_csv(tmp_path_factory):
    """y = 300 + 40 x₁ − 20 x₂ + 10 x₃ + noise (σ 5): 120 rows."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3))
    y = INTERCEPT + X @ COEF + rng.normal(0, 5, 120)
    path = tmp_path_factory.mktemp("data") / "linear.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "c", "y"])
        writer.writerows(np.column_stack([X, y]).tolist())
    return path


def config(csv_path, standardize_target: bool, **training):
    raw = {"seed": 0, "data": {"source": str(csv_path), "validation_split": 0.2, "test_split": 0.2,
                               "standardize_target": standardize_target},
           "model": {"hidden": []}, "loss": "mse", "optimizer": {"name": "sgd", "lr": 0.3},
           "training": {"mode": "batch", "epochs": 300, **training}, "monitor": {"warnings": False}}
    return from_dict(raw, name="linear")


@pytest.fixture(scope="module")
def runs(linear_csv, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {flag: fit(config(linear_csv, flag), out=str(root / f"std-{flag}")) for flag in (False, True)}


def predictions(run, csv_path) -> np.ndarray:
    table = predict_file(run.run_dir, csv_path)
    assert table.header == ["y"]
    return np.array([[float(v) for v in row] for row in table.rows])


def test_the_fit_is_on_the_training_split_and_the_network_sees_standard_units(linear_csv):
    data = setup(config(linear_csv, True)).data
    raw = setup(config(linear_csv, False)).data  # same seed: the same split, the targets as they are
    scaling = data.target_scaling
    np.testing.assert_allclose(scaling.mean, raw.y_train.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaling.scale, raw.y_train.std(axis=0), rtol=1e-12)
    assert abs(scaling.mean[0] - INTERCEPT) < 20 and 30 < scaling.scale[0] < 60
    for split in ("train", "val", "test"):
        u, y = getattr(data, f"y_{split}"), getattr(raw, f"y_{split}")
        np.testing.assert_allclose(u, (y - scaling.mean) / scaling.scale, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(scaling.inverse(u), y, rtol=1e-12)
    assert abs(data.y_train.mean()) < 1e-12 and abs(data.y_train.std() - 1) < 1e-12
    assert raw.target_scaling is None


def test_predictions_equal_the_unstandardized_model_and_least_squares(runs, linear_csv):
    """A linear model reaches the same optimum in either units: ŷ = μ_y + σ_y û is the least-squares fit."""
    plain, scaled = predictions(runs[False], linear_csv), predictions(runs[True], linear_csv)
    np.testing.assert_allclose(scaled, plain, rtol=1e-9)
    # the independent reference: least squares on the training split, in the original units
    data = setup(config(linear_csv, False)).data
    A = np.column_stack([data.X_train, np.ones(len(data.X_train))])
    solution, *_ = np.linalg.lstsq(A, data.y_train, rcond=None)
    rows = np.loadtxt(linear_csv, delimiter=",", skiprows=1)
    X_all = (rows[:, :3] - data.mean) / data.scale
    np.testing.assert_allclose(scaled, np.column_stack([X_all, np.ones(len(X_all))]) @ solution, rtol=1e-9)


def test_metrics_are_in_the_targets_units_and_the_loss_in_standard_units(runs):
    plain, scaled = runs[False].summary, runs[True].summary
    sigma = float(np.load(runs[True].run_dir / "model.npz")["y_scale"][0])
    for split in ("train", "validation", "test"):
        for metric in ("mse", "mae", "r2"):
            assert scaled[split][metric] == pytest.approx(plain[split][metric], rel=1e-8)
        assert scaled[split]["loss"] == pytest.approx(plain[split]["loss"] / sigma ** 2, rel=1e-8)
        assert plain[split]["loss"] == pytest.approx(plain[split]["mse"], rel=1e-12)
    with open(runs[True].run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 300
    for row in rows[::50]:  # val_loss is the objective (standard units), val_mse the same error in y's units
        assert float(row["val_mse"]) == pytest.approx(float(row["val_loss"]) * sigma ** 2, rel=1e-8)
    assert float(rows[-1]["val_mse"]) == pytest.approx(plain["validation"]["mse"], rel=1e-8)


def test_model_npz_round_trip_and_evaluate(runs, linear_csv):
    run = runs[True]
    stored = np.load(run.run_dir / "model.npz")
    scaling = run.data.target_scaling
    assert stored["y_mean"].tolist() == scaling.mean.tolist() and stored["y_scale"].tolist() == scaling.scale.tolist()
    assert "y_mean" not in np.load(runs[False].run_dir / "model.npz")
    model = load_model(run.run_dir)
    assert model.target_scaling.mean.tolist() == scaling.mean.tolist()
    # evaluate rebuilds the test split: summary.json's numbers exactly
    assert evaluate_run(run.run_dir).metrics == run.summary["test"]
    # evaluate --data: the whole file, metrics against the raw targets computed here from the predictions
    rows = np.loadtxt(linear_csv, delimiter=",", skiprows=1)
    pred = predictions(run, linear_csv)[:, 0]
    metrics = evaluate_run(run.run_dir, linear_csv).metrics
    assert metrics["mse"] == pytest.approx(np.mean((pred - rows[:, 3]) ** 2), rel=1e-9)
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(pred - rows[:, 3])), rel=1e-9)
    assert metrics["loss"] == pytest.approx(metrics["mse"] / scaling.scale[0] ** 2, rel=1e-9)
    result = CliRunner().invoke(app, ["evaluate", str(run.run_dir)], env=ENV)
    assert result.exit_code == 0, result.output
    header, values = [line.split() for line in result.output.splitlines() if line.strip()][1:3]
    assert header == ["loss", "mse", "mae", "r2"]
    assert float(values[1]) == pytest.approx(run.summary["test"]["mse"], rel=1e-3)


def test_predict_cli_writes_the_targets_units(runs, linear_csv):
    result = CliRunner().invoke(app, ["predict", str(runs[True].run_dir), str(linear_csv)], env=ENV)
    assert result.exit_code == 0, result.output
    values = np.array([float(r["y"]) for r in csv.DictReader(io.StringIO(result.output))])
    rows = np.loadtxt(linear_csv, delimiter=",", skiprows=1)
    assert np.sqrt(np.mean((values - rows[:, 3]) ** 2)) < 8  # the noise is σ 5; in standard units it would be ~300


def test_resume_continues_exactly(linear_csv, tmp_path):
    whole = fit(config(linear_csv, True, epochs=12), out=str(tmp_path / "whole"))
    fit(config(linear_csv, True, epochs=5), out=str(tmp_path / "part"))
    resumed = fit(config(linear_csv, True, epochs=12), resume=str(tmp_path / "part"))
    a, b = np.load(whole.run_dir / "model.npz"), np.load(resumed.run_dir / "model.npz")
    for name in ("W1", "b1", "y_mean", "y_scale"):
        assert a[name].tolist() == b[name].tolist()
    assert resumed.summary["test"] == whole.summary["test"]
    assert (tmp_path / "whole" / "metrics.csv").read_text().splitlines()[-1].split(",")[:6] == \
        (tmp_path / "part" / "metrics.csv").read_text().splitlines()[-1].split(",")[:6]


def test_a_constant_target_column_is_only_centred():
    scaling = TargetScaling.fit(np.full((5, 1), 7.0))
    assert scaling.mean.tolist() == [7.0] and scaling.scale.tolist() == [1.0]
    np.testing.assert_array_equal(scaling.inverse(scaling.transform(np.full((2, 1), 9.0))), [[9.0], [9.0]])


@pytest.mark.parametrize("loss", ["cross_entropy", "bce", "hinge"])
def test_refused_for_classification(loss):
    with pytest.raises(ConfigError, match=r"^data.standardize_target: scales a regression target"):
        from_dict({"data": {"source": "breast_cancer", "standardize_target": True}, "loss": loss})


def test_refused_for_classification_in_one_line_exit_2(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"data": {"source": "iris", "standardize_target": True}}))
    for command in ("validate", "fit"):
        result = CliRunner().invoke(app, [command, str(path)], env=ENV)
        assert result.exit_code == 2
        assert result.output.strip().splitlines() == [(
            "error: data.standardize_target: scales a regression target (loss mse or mae); loss cross_entropy "
            "predicts classes, whose labels are not scaled: remove it")]


def test_the_shipped_diabetes_config_uses_it_at_an_ordinary_lr(tmp_path):
    from pathlib import Path

    from gdtrain.config import load_config

    shipped = load_config(Path(__file__).resolve().parents[1] / "configs" / "diabetes.yaml")
    assert shipped.data.standardize_target is True and shipped.optimizer["lr"] >= 0.01
    run = fit(shipped, out=str(tmp_path / "d"))
    assert run.summary["stop_reason"] == "completed" and run.summary["test"]["r2"] > 0.3
    assert run.summary["test"]["mse"] > 1000  # in the target's units (25..346), not standard ones
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["test"] == run.summary["test"]


def test_the_header_says_the_target_is_standardized_and_how(runs, linear_csv, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"data": {"source": str(linear_csv), "standardize_target": True,
                                             "validation_split": 0.2, "test_split": 0.2},
                                    "model": {"hidden": []}, "loss": "mse", "training": {"epochs": 1}}))
    result = CliRunner().invoke(app, ["validate", str(path), "--data", "--quiet"], env=ENV)
    assert result.exit_code == 0, result.output
    scaling = setup(config(linear_csv, True)).data.target_scaling  # the same split (seed 0, same fractions)
    assert "3 features, target standardized: " in result.output
    assert f"μ {scaling.mean[0]:.4g}, σ {scaling.scale[0]:.4g}" in result.output
