"""The Python API for notebooks (issue 15): gdtrain.fit / load / load_config, Run, Model, typed errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gdtrain

REPO = Path(__file__).resolve().parent.parent


def installed_copy(tmp_path: Path) -> Path:
    """A site-packages folder laid out as `pip install .` lays gdtrain out (configs and datasets inside the
    package, no checkout around it), so that nothing can fall back to the clone's folders."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "gdtrain", site / "gdtrain", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "configs", site / "gdtrain" / "configs", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "datasets", site / "gdtrain" / "datasets", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def run_python(code: str, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def run_installed(tmp_path: Path, code: str):
    """``code`` run by the installed copy, in an empty working folder outside the clone: (stdout, site, folder)."""
    site = installed_copy(tmp_path)
    work = tmp_path / "notebook"
    work.mkdir()
    done = run_python(code, work, site)
    assert done.returncode == 0, done.stderr
    return done.stdout, site, work


def test_load_config_by_name_from_an_installed_package_outside_the_clone(tmp_path):
    """Issue 15: `gdtrain.load_config("quickstart")` failed outside the clone (no such attribute, and
    gdtrain.config.load_config("quickstart") said "no such config file")."""
    out, site, _ = run_installed(tmp_path, "import gdtrain; c = gdtrain.load_config('quickstart'); "
                                           "print(gdtrain.__file__); "
                                           "print(c.name, c.data.source, c.optimizer['lr'], c.training.epochs)")
    where, values = out.splitlines()
    assert where.startswith(str(site))
    assert values == "quickstart digits 0.1 40"


def test_fit_a_shipped_config_by_name_from_an_installed_package(tmp_path):
    """The shipped config and its built-in data set are found inside the package; the run lands in the
    working folder's runs/<name>, as `gdtrain fit iris` does."""
    out, _, work = run_installed(tmp_path, "import gdtrain; run = gdtrain.fit('iris', epochs=2, verbose=False); "
                                           "print(run.dir, run.stop_reason, len(run.metrics), "
                                           "run.model.predict([[5.1, 3.5, 1.4, 0.2]])[0])")
    assert out.split() == ["runs/iris", "completed", "2", "setosa"]
    assert sorted(p.name for p in (work / "runs" / "iris").iterdir() if not p.name.startswith(".")) == [
        "checkpoint.npz", "config.yaml", "metrics.csv", "model.npz", "summary.json"]


def test_import_gdtrain_stays_cheap():
    """`import gdtrain` loads no NumPy, YAML, rich or typer: the API comes on first attribute access."""
    code = ("import sys, gdtrain; print(sorted(m for m in ('numpy', 'yaml', 'rich', 'typer', 'gdtrain.api') "
            "if m in sys.modules)); gdtrain.fit; print('gdtrain.api' in sys.modules, 'rich' in sys.modules)")
    done = run_python(code, REPO, REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True False"]
    assert "fit" in dir(gdtrain) and gdtrain.fit is gdtrain.api.fit
    with pytest.raises(AttributeError, match="no attribute 'fitt'"):
        _ = gdtrain.fitt


# --- fit: the CLI's run, file for file --------------------------------------------------------------

def cli(*args):
    from typer.testing import CliRunner

    from gdtrain.cli import app

    return CliRunner().invoke(app, list(args))


def metrics_without_time(path: Path):
    rows = [line.split(",") for line in path.read_text().splitlines()]
    drop = rows[0].index("seconds")
    return [row[:drop] + row[drop + 1:] for row in rows]


def test_fit_leaves_the_run_directory_the_cli_leaves(tmp_path):
    run = gdtrain.fit("iris", epochs=5, seed=3, set={"optimizer.lr": 0.2}, out=tmp_path / "api", verbose=False)
    done = cli("fit", "iris", "--epochs", "5", "--seed", "3", "--set", "optimizer.lr=0.2", "--out",
               str(tmp_path / "cli"), "--no-chart")
    assert done.exit_code == 0, done.output
    assert run.dir == tmp_path / "api" and run.stop_reason == "completed" and not run.diverged
    assert (run.dir / "config.yaml").read_text() == (tmp_path / "cli" / "config.yaml").read_text()
    assert metrics_without_time(run.dir / "metrics.csv") == metrics_without_time(tmp_path / "cli" / "metrics.csv")
    with np.load(run.dir / "model.npz") as a, np.load(tmp_path / "cli" / "model.npz") as b:
        assert a.files == b.files
        for name in a.files:
            assert np.array_equal(a[name], b[name]), name
    saved = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert {k: v for k, v in run.summary.items() if k != "seconds"} == {k: v for k, v in saved.items()
                                                                        if k != "seconds"}
    assert run.config.seed == 3 and run.config.training.epochs == 5 and run.config.optimizer["lr"] == 0.2


def test_run_metrics_are_the_rows_of_metrics_csv(tmp_path):
    run = gdtrain.fit("iris", epochs=4, out=tmp_path / "r", verbose=False)
    rows = run.metrics
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4] and isinstance(rows[0]["epoch"], int)
    header = (run.dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert list(rows[0]) == header
    last = (run.dir / "metrics.csv").read_text().splitlines()[-1].split(",")
    assert rows[-1]["train_loss"] == float(last[header.index("train_loss")])
    assert rows[-1]["val_accuracy"] == pytest.approx(run.summary["validation"]["accuracy"], rel=1e-9)  # (10 digits)
    accuracy = run.summary["test"]["accuracy"]
    assert repr(run) == f"Run('{run.dir}', completed after 4 epochs, test accuracy {accuracy:.4g})"


def test_metrics_frame_needs_pandas(tmp_path, monkeypatch):
    run = gdtrain.fit("iris", epochs=2, out=tmp_path / "r", verbose=False)
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"needs pandas \(pip install pandas\); Run.metrics has the same rows"):
        run.metrics_frame()


def test_metrics_frame_is_a_dataframe_of_the_rows(tmp_path):
    pandas = pytest.importorskip("pandas")
    run = gdtrain.fit("iris", epochs=3, out=tmp_path / "r", verbose=False)
    frame = run.metrics_frame()
    assert isinstance(frame, pandas.DataFrame) and list(frame["epoch"]) == [1, 2, 3]
    assert list(frame.columns) == list(run.metrics[0])
    assert frame["train_loss"].iloc[-1] == run.metrics[-1]["train_loss"]


def test_verbose_prints_the_cli_progress_and_quiet_prints_nothing(tmp_path, capsys):
    gdtrain.fit("iris", epochs=3, out=tmp_path / "loud", chart=False)
    out = capsys.readouterr().out
    assert "network   4 → 16 tanh → 3" in out and "epoch 3/3  train" in out
    assert f"saved to  {tmp_path / 'loud'}" in out
    gdtrain.fit("iris", epochs=3, out=tmp_path / "quiet", verbose=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_interrupt_keeps_what_was_learned_and_resume_continues(tmp_path, monkeypatch):
    """Ctrl-C (SIGINT) during the second epoch: fit returns the run, stopped at a safe point with its files."""
    from gdtrain.render.fit import FitReporter

    original = FitReporter.epoch

    def epoch(self, record):
        original(self, record)
        if record.epoch == 2:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(FitReporter, "epoch", epoch)
    run = gdtrain.fit("iris", epochs=6, out=tmp_path / "r", chart=False)
    assert run.stop_reason == "interrupted" and run.summary["epochs"] == 2 and len(run.metrics) == 2
    assert (run.dir / "checkpoint.npz").is_file() and (run.dir / "model.npz").is_file()
    monkeypatch.setattr(FitReporter, "epoch", original)
    resumed = gdtrain.fit("iris", epochs=6, resume=run.dir, verbose=False)
    assert resumed.stop_reason == "completed" and [r["epoch"] for r in resumed.metrics] == [1, 2, 3, 4, 5, 6]
    straight = gdtrain.fit("iris", epochs=6, out=tmp_path / "straight", verbose=False)
    with np.load(resumed.dir / "model.npz") as a, np.load(straight.dir / "model.npz") as b:
        assert np.array_equal(a["W1"], b["W1"])  # the interrupted and resumed run is the uninterrupted one


# --- overrides and configs --------------------------------------------------------------------------

def test_load_config_overrides_spellings():
    config = gdtrain.load_config("iris", epochs=7, seed=5, set={"optimizer.lr": 0.05, "model.hidden.0.units": 8,
                                                                "model.init": None})
    assert (config.training.epochs, config.seed, config.optimizer["lr"]) == (7, 5, 0.05)
    assert config.model.hidden[0].units == 8 and config.model.init is None
    same = gdtrain.load_config("iris", set=["optimizer.lr=0.05", "model.hidden=[8]"])
    assert same.optimizer["lr"] == 0.05 and same.model.hidden[0].units == 8
    assert gdtrain.load_config("iris", set="training.mode=minibatch").training.mode == "minibatch"
    assert gdtrain.load_config("iris").name == "iris"


def test_load_config_from_a_mapping_and_from_a_config(tmp_path):
    raw = {"data": {"source": "xor"}, "model": {"hidden": [4]}, "loss": "cross_entropy",
           "training": {"epochs": 3}}
    config = gdtrain.load_config(raw, set={"optimizer.lr": 0.3})
    assert config.data.source == "xor" and config.optimizer["lr"] == 0.3 and raw == {
        "data": {"source": "xor"}, "model": {"hidden": [4]}, "loss": "cross_entropy", "training": {"epochs": 3}}
    assert gdtrain.load_config(config) is config
    again = gdtrain.load_config(config, epochs=9)
    assert again.training.epochs == 9 and config.training.epochs == 3 and again.optimizer["lr"] == 0.3
    run = gdtrain.fit(raw, out=tmp_path / "xor", verbose=False)
    assert run.summary["epochs"] == 3
    with pytest.raises(TypeError, match="expected a shipped config's name, a path, a mapping or a Config, got int"):
        gdtrain.load_config(3)


def test_errors_are_typed_and_carry_the_cli_message(tmp_path):
    with pytest.raises(gdtrain.ConfigError) as caught:
        gdtrain.fit("iris", set={"optimizer.lr": -0.1}, verbose=False)
    assert isinstance(caught.value, gdtrain.GdtrainError) and caught.value.exit_code == 2
    done = cli("fit", "iris", "--set", "optimizer.lr=-0.1")
    assert done.exit_code == 2 and done.output.strip() == f"error: {caught.value}"
    assert str(caught.value) == "optimizer.lr: must be > 0, got -0.1"
    with pytest.raises(gdtrain.ConfigError, match=r"^training.epoch: unknown key; did you mean 'epochs'\?$"):
        gdtrain.load_config("iris", set={"training.epoch": 3})
    with pytest.raises(gdtrain.ConfigError, match="no such config file"):
        gdtrain.load_config(tmp_path / "missing.yaml")
    with pytest.raises(gdtrain.DataError, match="no such run directory"):
        gdtrain.load(tmp_path / "nowhere")
    with pytest.raises(gdtrain.ConfigError, match=r"use either resume=RUN_DIR .* or out=DIR"):
        gdtrain.fit("iris", out=tmp_path / "a", resume=tmp_path / "b", verbose=False)
    gdtrain.fit("iris", epochs=1, out=tmp_path / "taken", verbose=False)
    with pytest.raises(gdtrain.ConfigError, match="already holds a run"):
        gdtrain.fit("iris", epochs=1, out=tmp_path / "taken", verbose=False)
    assert gdtrain.fit("iris", epochs=1, out=tmp_path / "taken", overwrite=True, verbose=False).summary["epochs"] == 1


# --- the model on NumPy arrays ----------------------------------------------------------------------

def iris_rows():
    import csv

    with open(REPO / "datasets" / "iris.csv", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array([[float(v) for v in row[:4]] for row in rows[1:]]), np.array([row[4] for row in rows[1:]])


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    return gdtrain.fit("iris", epochs=30, out=tmp_path_factory.mktemp("api") / "iris", verbose=False)


def test_predict_and_predict_proba_match_gdtrain_predict(iris_run, tmp_path):
    from gdtrain.inference import predict_file

    header, X, y = iris_rows()
    picked = X[::15]
    path = tmp_path / "rows.csv"
    lines = [",".join(header[:4])] + [",".join(repr(float(v)) for v in row) for row in picked]
    path.write_text("\n".join(lines) + "\n")
    table = predict_file(iris_run.dir, path)
    model = iris_run.model
    assert list(model.predict(picked)) == [row[0] for row in table.rows]
    probs = model.predict_proba(picked)
    assert probs.shape == (len(picked), 3) and np.allclose(probs.sum(axis=1), 1.0)
    assert np.array_equal(probs, np.array([[float(v) for v in row[1:]] for row in table.rows]))
    assert table.header[1:] == [f"prob_{c}" for c in model.classes]
    assert model.decision_function(picked).shape == (len(picked), 3)
    assert model.feature_names == header[:4] and model.task == "classification" and model.loss == "cross_entropy"
    assert list(model.weights) == ["W1", "b1", "W2", "b2"] and model.weights["W1"].shape == (16, 4)


def test_evaluate_matches_gdtrain_evaluate_data(iris_run, tmp_path):
    from gdtrain.inference import evaluate_run

    header, X, y = iris_rows()
    expected = evaluate_run(iris_run.dir, REPO / "datasets" / "iris.csv").metrics
    got = iris_run.model.evaluate(X, y)
    assert got == expected and set(got) == {"loss", "accuracy"} and 0.5 < got["accuracy"] <= 1.0
    assert got["accuracy"] == np.mean(iris_run.model.predict(X) == y)


def test_a_dataframe_is_matched_by_column_name(iris_run):
    header, X, _ = iris_rows()

    class Frame:  # what the API asks of a pandas DataFrame: columns, column selection, to_numpy
        def __init__(self, columns, values):
            self.columns, self.values = list(columns), values

        def __getitem__(self, names):
            return Frame(names, self.values[:, [self.columns.index(n) for n in names]])

        def to_numpy(self):
            return self.values

    shuffled = Frame(header[3::-1] + ["extra"], np.hstack([X[:, ::-1], np.zeros((len(X), 1))]))
    assert np.array_equal(iris_run.model.predict_proba(shuffled), iris_run.model.predict_proba(X))
    with pytest.raises(gdtrain.DataError, match="X: missing feature column 'petal_width'"):
        iris_run.model.predict(Frame(header[:3], X[:, :3]))


def test_bad_arrays_raise_data_errors(iris_run):
    model = iris_run.model
    header, X, y = iris_rows()
    with pytest.raises(gdtrain.DataError, match=r"got shape \(4,\); one sample is X.reshape\(1, -1\)"):
        model.predict(X[0])
    with pytest.raises(gdtrain.DataError, match=r"expected an array of shape \(n_samples, 4\).*got shape \(150, 3\)"):
        model.predict(X[:, :3])
    with pytest.raises(gdtrain.DataError, match="X: must hold numbers"):
        model.predict(np.array([["a", "b", "c", "d"]]))
    bad = X[:2].copy()
    bad[1, 2] = np.nan
    with pytest.raises(gdtrain.DataError, match="X: row 1, column 'petal_length': nan"):
        model.predict(bad)
    with pytest.raises(gdtrain.DataError, match="y: 2 values for 150 rows of X"):
        model.evaluate(X, y[:2])
    with pytest.raises(gdtrain.DataError, match="label 'rose' is not a class the model was trained on"):
        model.evaluate(X[:2], np.array(["setosa", "rose"]))


def test_regression_predict_and_evaluate(tmp_path):
    run = gdtrain.fit("sine", epochs=3, out=tmp_path / "sine", verbose=False)
    model = run.model
    X = np.linspace(-3, 3, 7)
    assert model.predict(X).shape == (7,)  # one feature: a 1-D array is a column
    assert model.predict(X[:, None]).shape == (7,) and model.task == "regression"
    metrics = model.evaluate(X[:, None], np.sin(X))
    assert set(metrics) == {"loss", "mse", "mae", "r2"} and metrics["loss"] == metrics["mse"]
    assert np.isclose(metrics["mse"], np.mean((model.predict(X) - np.sin(X)) ** 2))
    with pytest.raises(gdtrain.DataError, match="a regression model .* gives values, not probabilities"):
        model.predict_proba(X)


def test_load_gives_back_the_run(iris_run):
    again = gdtrain.load(iris_run.dir)
    assert again.summary == iris_run.summary and again.metrics == iris_run.metrics
    assert again.config.training.epochs == 30 and again.config.name == "iris"
    header, X, _ = iris_rows()
    assert np.array_equal(again.model.predict_proba(X), iris_run.model.predict_proba(X))


# --- the docs page ----------------------------------------------------------------------------------

def test_the_python_api_page_runs_as_written(tmp_path, monkeypatch):
    """docs/python-api.md, every example, with doctest (in an empty folder: its runs go to runs/ there)."""
    import doctest

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    result = doctest.testfile(str(REPO / "docs" / "python-api.md"), module_relative=False, globs={},
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted >= 25 and result.failed == 0
    assert (tmp_path / "runs" / "iris-nb" / "model.npz").is_file()


def test_a_standardized_target_is_predicted_in_its_own_units(tmp_path):
    """data.standardize_target: Model.predict undoes (y − μ)/σ as `gdtrain predict` does."""
    from gdtrain.inference import predict_file

    run = gdtrain.fit("diabetes", epochs=2, out=tmp_path / "diabetes", verbose=False)
    lines = (REPO / "datasets" / "diabetes.csv").read_text().splitlines()[:6]
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")  # the features, no target
    X = np.array([[float(v) for v in line.split(",")[:-1]] for line in lines[1:]])
    expected = [float(row[0]) for row in predict_file(run.dir, path).rows]
    got = run.model.predict(X)
    assert np.allclose(got, expected, rtol=1e-6) and got.min() > 20  # the target's units (25..346), not standard
