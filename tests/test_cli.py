"""The ``gdtrain`` command line, end to end: CliRunner on the typer app and a few real subprocesses.

Plain output is forced with CI=true (no colours, no progress bar), so the output can be checked line by line.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import gdtrain.experiment
from gdtrain.cli import app
from gdtrain.inference import load_model

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SHIPPED = sorted(CONFIGS.glob("*.yaml"))
ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], env=ENV, **kwargs)


def lines(text):
    return [line for line in text.splitlines() if line.strip()]


def write_config(tmp_path, name, raw):
    path = tmp_path / name
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw))
    return path


def small_config(**sections):
    raw = {"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 8, "activation": "tanh"}]},
           "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1}, "training": {"epochs": 2}}
    raw.update(sections)
    return raw


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- fit ------------------------------------------------------------------------------------------

def check_fit_run_dir(out, epochs=2, seed=1, lr=0.05):
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "config.yaml", "metrics.csv", "model.npz",
                                                     "summary.json"]
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["training"]["epochs"] == epochs
    assert resolved["seed"] == seed
    assert resolved["optimizer"]["lr"] == lr
    assert resolved["optimizer"]["momentum"] == 0.0  # resolved: defaults filled in
    rows = read_rows(out / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    assert all(float(r["lr"]) == lr for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "completed" and summary["epochs"] == epochs
    with np.load(out / "model.npz") as model:
        assert {"W1", "b1", "W2", "b2"} <= set(model.files)
    return summary


def test_fit_with_overrides_cli_runner(runner, tmp_path):
    out = tmp_path / "run"
    result = invoke(runner, ["fit", CONFIGS / "quickstart.yaml", "--out", out, "--epochs", 2, "--seed", 1,
                             "--set", "optimizer.lr=0.05"])
    assert result.exit_code == 0, result.output
    summary = check_fit_run_dir(out)
    text = result.output
    assert "\x1b[" not in text
    assert "Traceback" not in text
    out_lines = lines(text)
    assert any(line.startswith("epoch 1/2") for line in out_lines)
    assert any(line.startswith("epoch 2/2") for line in out_lines)
    assert any(line.startswith("run dir") and line.endswith(str(out)) for line in out_lines)
    assert any(line.startswith("saved to") and line.endswith(str(out)) for line in out_lines)
    assert "sgd(lr=0.05)" in text
    assert "completed after 2 epochs" in text
    # The final table shows the summary's test accuracy.
    test_line = next(line for line in out_lines if line.startswith("test"))
    assert float(test_line.split()[-1]) == pytest.approx(summary["test"]["accuracy"], abs=5e-5)


def test_fit_with_overrides_real_subprocess(tmp_path):
    exe = shutil.which("gdtrain")
    assert exe is not None, "the gdtrain console script is not on PATH"
    out = tmp_path / "run"
    proc = subprocess.run([exe, "fit", str(CONFIGS / "quickstart.yaml"), "--out", str(out), "--epochs", "2",
                           "--seed", "1", "--set", "optimizer.lr=0.05"],
                          capture_output=True, text=True, env={**os.environ, **ENV}, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_fit_run_dir(out)
    assert "\x1b[" not in proc.stdout + proc.stderr
    assert "epoch 1/2" in proc.stdout and "epoch 2/2" in proc.stdout
    assert str(out) in proc.stdout
    assert proc.stderr == ""


def test_same_seed_twice_gives_identical_metrics(runner, tmp_path):
    for name in ("a", "b"):
        result = invoke(runner, ["fit", CONFIGS / "iris.yaml", "--out", tmp_path / name, "--epochs", 3])
        assert result.exit_code == 0, result.output

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert strip(read_rows(tmp_path / "a" / "metrics.csv")) == strip(read_rows(tmp_path / "b" / "metrics.csv"))


def test_fit_a_shipped_config_by_name(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ folder here: the name must resolve to the shipped file
    out = tmp_path / "q"
    result = invoke(runner, ["fit", "quickstart", "--epochs", 1, "--out", out])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["epochs"] == 1
    shipped = yaml.safe_load((CONFIGS / "quickstart.yaml").read_text())
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["model"]["hidden"][0]["units"] == shipped["model"]["hidden"][0]["units"]
    assert resolved["data"]["source"] == shipped["data"]["source"]
    assert len(read_rows(out / "metrics.csv")) == 1


def test_fit_default_output_is_runs_stem(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, "tiny.yaml", small_config())
    for expected in ("tiny", "tiny-2"):
        result = invoke(runner, ["fit", config])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "runs" / expected / "summary.json").is_file()
        assert f"runs/{expected}" in result.output


def test_fit_refuses_a_used_out_dir_without_overwrite(runner, tmp_path):
    config = write_config(tmp_path, "tiny.yaml", small_config())
    out = tmp_path / "out"
    assert invoke(runner, ["fit", config, "--out", out]).exit_code == 0
    refused = invoke(runner, ["fit", config, "--out", out])
    assert refused.exit_code == 2
    assert lines(refused.output) == [lines(refused.output)[0]]
    assert refused.output.startswith("error: output:")
    assert "--overwrite" in refused.output
    again = invoke(runner, ["fit", config, "--out", out, "--overwrite", "--epochs", 1])
    assert again.exit_code == 0, again.output
    assert len(read_rows(out / "metrics.csv")) == 1


# --- bad input: exit 2, one line, no traceback ----------------------------------------------------

BAD_CONFIGS = {
    "unknown_key": ("seed: 0\ntrainig: {epochs: 2}\n", ["trainig", "unknown key", "training"]),
    "bad_lr": ("optimizer: {name: sgd, lr: -0.1}\n", ["optimizer.lr", "> 0", "-0.1"]),
    "string_lr": ("optimizer: {name: sgd, lr: fast}\n", ["optimizer.lr", "number"]),
    "unknown_loss": ("loss: crossentropy\n", ["loss:", "crossentropy", "cross_entropy"]),
    "unknown_option": ("optimizer: {name: sgd, lr: 0.1, momentun: 0.9}\n", ["optimizer.momentun", "momentum"]),
    "bad_activation": ("model: {hidden: [{units: 4, activation: relux}]}\n", ["model.hidden[0].activation", "relu"]),
    "bad_mode": ("training: {mode: full}\n", ["training.mode", "batch"]),
    "invalid_yaml": ("seed: [0\n  x: :\n", ["invalid YAML", "line 2"]),
    "not_a_mapping": ("- 1\n- 2\n", ["mapping"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_one_error_line_with_exit_2(runner, tmp_path, case):
    text, expected = BAD_CONFIGS[case]
    config = write_config(tmp_path, f"{case}.yaml", text)
    result = invoke(runner, ["fit", config, "--out", tmp_path / "out"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    out = lines(result.output)
    assert len(out) == 1, result.output
    assert out[0].startswith("error: ")
    for fragment in expected:
        assert fragment in out[0], (fragment, out[0])
    assert result.stdout == ""  # errors go to stderr
    assert not (tmp_path / "out").exists()  # nothing was trained


def test_missing_config_file(runner, tmp_path):
    result = invoke(runner, ["fit", tmp_path / "nope.yaml"])
    assert result.exit_code == 2
    assert lines(result.output) == [f"error: {tmp_path / 'nope.yaml'}: no such config file"]


def test_bad_override_names_the_key(runner, tmp_path):
    result = invoke(runner, ["fit", CONFIGS / "iris.yaml", "--set", "optimizer.lr=-1", "--out", tmp_path / "o"])
    assert result.exit_code == 2
    assert lines(result.output) == ["error: optimizer.lr: must be > 0, got -1"]
    result = invoke(runner, ["fit", CONFIGS / "iris.yaml", "--set", "optimizer.lr", "--out", tmp_path / "o"])
    assert result.exit_code == 2
    assert lines(result.output)[0].startswith("error: --set optimizer.lr")


def test_bad_config_in_a_real_subprocess_has_no_traceback(tmp_path):
    config = write_config(tmp_path, "bad.yaml", "optimizer: {name: sgd, lr: -0.1}\n")
    proc = subprocess.run([shutil.which("gdtrain") or "gdtrain", "fit", str(config)], capture_output=True,
                          text=True, env={**os.environ, **ENV}, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == "error: optimizer.lr: must be > 0, got -0.1"


def test_bad_data_names_the_file(runner, tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("a,b,y\n1,2,0\n3,x,1\n5,6,0\n7,8,1\n1,2,0\n3,4,1\n")
    config = write_config(tmp_path, "bad_data.yaml", small_config(data={"source": str(data)}))
    result = invoke(runner, ["fit", config, "--out", tmp_path / "out"])
    assert result.exit_code == 2, result.output
    out = lines(result.output)
    assert len(out) == 1 and "Traceback" not in result.output
    assert out[0] == f"error: {data}: row 3, column 'b': not a number: 'x'"


def test_missing_data_file(runner, tmp_path):
    config = write_config(tmp_path, "missing_data.yaml", small_config(data={"source": "missing.csv"}))
    result = invoke(runner, ["fit", config, "--out", tmp_path / "out"])
    assert result.exit_code == 2
    out = lines(result.output)
    assert len(out) == 1 and out[0].startswith("error: ") and "missing.csv" in out[0]


def test_ragged_csv_names_file_and_row(runner, tmp_path):
    data = tmp_path / "ragged.csv"
    data.write_text("a,b,y\n1,2,0\n3,4\n5,6,1\n")
    config = write_config(tmp_path, "ragged.yaml", small_config(data={"source": str(data)}))
    result = invoke(runner, ["fit", config, "--out", tmp_path / "out"])
    assert result.exit_code == 2
    assert lines(result.output) == [f"error: {data}: row 3 has 2 fields, the header has 3"]


# --- training failure: exit 1 ---------------------------------------------------------------------

def test_diverging_run_exits_1(runner, tmp_path):
    config = write_config(tmp_path, "diverge.yaml", small_config(
        data={"source": "diabetes"}, loss="mse", optimizer={"name": "sgd", "lr": 1e6}, training={"epochs": 3}))
    out = tmp_path / "out"
    result = invoke(runner, ["fit", config, "--out", out])
    assert result.exit_code == 1, result.output
    assert "diverged" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "diverged"
    assert summary["message"].startswith(f"training diverged at epoch {summary['epochs'] + 1}:")
    assert summary["message"] in lines(result.output)  # printed whole, on one line
    assert f"diverged after {summary['epochs']} epochs" in result.output


# --- gradcheck ------------------------------------------------------------------------------------

def test_gradcheck_self_test(runner):
    result = invoke(runner, ["gradcheck"])
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    assert out[-1] == "43/43 networks pass"  # 7 activations x 5 losses, and 8 networks of other layer types
    header = next(line for line in out if "activation \\ loss" in line)
    for loss in ("mse", "mae", "bce", "cross_entropy", "hinge"):
        assert loss in header
    rows = {line.split()[0]: line for line in out if line.split()[0] in
            ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus")}
    assert len(rows) == 7
    assert all(row.count(" ok") == 5 for row in rows.values()), rows
    layer_rows = [line.strip() for line in out if line.strip().startswith(("batchnorm", "residual", "output ", "dense →"))]
    assert len(layer_rows) == 8 and all(row.endswith(" ok") for row in layer_rows), layer_rows
    assert "FAIL" not in result.output


def test_gradcheck_batchnorm_bug_in_a_config(runner, tmp_path):
    config = tmp_path / "bn.yaml"
    config.write_text("data: {source: iris}\nmodel: {hidden: [{units: 6, activation: tanh}, {type: batchnorm}, "
                      "{units: 5, activation: tanh}]}\n", encoding="utf-8")
    assert invoke(runner, ["gradcheck", config, "--samples", 16]).exit_code == 0
    result = invoke(runner, ["gradcheck", config, "--samples", 16, "--bug", "batchnorm-mean-terms"])
    assert result.exit_code == 1, result.output
    assert lines(result.output)[-2] == "FAILED: W1, b1"
    assert lines(result.output)[-1].endswith("backpropagation's gradient of W1, b1 is wrong.")  # the hint
    result = invoke(runner, ["gradcheck", CONFIGS / "iris.yaml", "--bug", "residual-skip"])
    assert result.exit_code == 2
    assert "--bug residual-skip: the network has no residual layer" in result.output


def test_gradcheck_config(runner):
    result = invoke(runner, ["gradcheck", CONFIGS / "iris.yaml", "--samples", 8])
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    assert "on 8 training samples" in result.output
    rows = {}
    for line in out:
        cells = [c for c in line.replace("│", " ").replace("|", " ").split() if c]
        if cells and cells[0] in ("W1", "b1", "W2", "b2"):
            rows[cells[0]] = cells
    assert list(rows) == ["W1", "b1", "W2", "b2"]
    sizes = {name: int(cells[1]) for name, cells in rows.items()}
    assert sizes == {"W1": 16 * 4, "b1": 16, "W2": 3 * 16, "b2": 3}  # 4 → 16 tanh → 3 (iris.yaml)
    for cells in rows.values():
        assert cells[-1] == "pass"
        assert float(cells[-2]) < 1e-6  # rel error
    assert out[-1] == "all tensors pass"


def test_gradcheck_can_fail(runner):
    result = invoke(runner, ["gradcheck", CONFIGS / "iris.yaml", "--samples", 4, "--threshold", "1e-30",
                             "--atol", "0"])
    assert result.exit_code == 1, result.output
    assert lines(result.output)[-2] == "FAILED: W1, b1, W2, b2"
    assert lines(result.output)[-1].endswith("the --threshold or --atol may be too strict.")  # the hint
    assert result.output.count("FAIL") >= 4


def test_gradcheck_bad_config(runner, tmp_path):
    config = write_config(tmp_path, "bad.yaml", "loss: crossentropy\n")
    result = invoke(runner, ["gradcheck", config])
    assert result.exit_code == 2
    assert lines(result.output)[0].startswith("error: loss:")


# --- help -----------------------------------------------------------------------------------------

def test_help_lists_commands(runner):
    result = invoke(runner, ["--help"])
    assert result.exit_code == 0
    assert "fit" in result.output and "gradcheck" in result.output
    fit_help = invoke(runner, ["fit", "--help"])
    assert fit_help.exit_code == 0
    for option in ("--set", "--out", "--epochs", "--seed", "--overwrite"):
        assert option in fit_help.output, option
    gradcheck_help = invoke(runner, ["gradcheck", "--help"])
    assert gradcheck_help.exit_code == 0
    assert "--samples" in gradcheck_help.output and "--threshold" in gradcheck_help.output


def test_python_m_gdtrain_help():
    proc = subprocess.run([sys.executable, "-m", "gdtrain", "--help"], capture_output=True, text=True,
                          env={**os.environ, **ENV}, timeout=60)
    assert proc.returncode == 0
    assert "fit" in proc.stdout and "gradcheck" in proc.stdout


# --- internal errors ------------------------------------------------------------------------------

def _boom(*args, **kwargs):
    raise RuntimeError("boom")


def test_internal_error_is_one_line_with_exit_1(runner, tmp_path, monkeypatch):
    monkeypatch.setattr(gdtrain.experiment, "fit", _boom)
    result = invoke(runner, ["fit", CONFIGS / "iris.yaml", "--out", tmp_path / "out"])
    assert result.exit_code == 1
    out = lines(result.output)
    assert len(out) == 1, result.output
    assert out[0].startswith("error: internal error: RuntimeError: boom")
    assert "run with --debug" in out[0]
    assert "Traceback" not in result.output


def test_internal_error_with_debug_propagates(runner, tmp_path, monkeypatch):
    monkeypatch.setattr(gdtrain.experiment, "fit", _boom)
    result = invoke(runner, ["--debug", "fit", CONFIGS / "iris.yaml", "--out", tmp_path / "out"])
    assert isinstance(result.exception, RuntimeError)
    assert str(result.exception) == "boom"
    assert result.exit_code != 0
    # --debug does not stick: the next invocation without it is back to one line.
    again = invoke(runner, ["fit", CONFIGS / "iris.yaml", "--out", tmp_path / "out2"])
    assert again.exit_code == 1 and "run with --debug" in again.output


def test_interrupt_exits_130(runner, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gdtrain.experiment, "fit", interrupted)
    result = invoke(runner, ["fit", CONFIGS / "iris.yaml", "--out", tmp_path / "out"])
    assert result.exit_code == 130
    assert lines(result.output) == ["error: interrupted"]


# --- every shipped config -------------------------------------------------------------------------

@pytest.mark.parametrize("config", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_config_runs(runner, tmp_path, config):
    out = tmp_path / config.stem
    result = invoke(runner, ["fit", config, "--epochs", 2, "--out", out])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "completed"
    assert summary["epochs"] == 2
    assert len(read_rows(out / "metrics.csv")) == 2
    shipped = yaml.safe_load(config.read_text())
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    if "problem" in shipped:  # a 2-D test function (tests/test_landscapes.py): no network, the point's columns
        assert resolved["problem"]["function"] == shipped["problem"]["function"]
        assert list(read_rows(out / "metrics.csv")[0])[4:9] == ["x", "y", "f", "step_length", "distance"]
        return
    assert resolved["loss"] == shipped.get("loss", "cross_entropy")
    if "lr" in shipped["optimizer"]:  # (a line search picks its own steps and gives none)
        assert resolved["optimizer"]["lr"] == shipped["optimizer"]["lr"]
    header = list(read_rows(out / "metrics.csv")[0])
    net = load_model(out).net
    n_dense = len(net.dense_layers())
    if all(isinstance(layer, int) or "type" not in layer for layer in shipped["model"]["hidden"]):
        assert n_dense == len(shipped["model"]["hidden"]) + 1
    # one column per weight tensor W1 ... (and batch norm's gamma, beta): every parameter tensor but the biases
    tracked = [name for name in net.names if not re.fullmatch(r"b\d+", name)]
    assert [c for c in header if c.startswith("grad_norm_")] == [f"grad_norm_{name}" for name in tracked]
    assert sum(c.startswith("grad_norm_W") for c in header) == n_dense
    assert "Traceback" not in result.output and "\x1b[" not in result.output


# --- logging.every / logging.metrics_every ----------------------------------------------------------

def epoch_numbers(text):
    return [int(line.split()[1].split("/")[0]) for line in lines(text) if line.startswith("epoch ")]


def test_logging_every_sets_the_terminal_lines(runner, tmp_path):
    args = ["fit", CONFIGS / "quickstart.yaml", "--epochs", 7, "--no-chart"]
    result = invoke(runner, [*args, "--out", tmp_path / "a", "--set", "logging.every=3"])
    assert result.exit_code == 0, result.output
    assert epoch_numbers(result.output) == [1, 3, 6, 7]  # the first, every 3rd, the last
    result = invoke(runner, [*args, "--out", tmp_path / "b"])  # auto: 7 epochs need no thinning
    assert epoch_numbers(result.output) == list(range(1, 8))
    result = invoke(runner, [*args, "--out", tmp_path / "c", "--epochs", 100, "--set", "optimizer.lr=1e-4"])
    assert epoch_numbers(result.output) == [1] + list(range(4, 100, 4)) + [100]  # auto: ⌈100/30⌉ = 4


def read_epochs(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_metrics_every_writes_every_kth_row_and_the_last(runner, tmp_path):
    args = ["fit", CONFIGS / "quickstart.yaml", "--no-chart"]
    full, sparse = tmp_path / "full", tmp_path / "sparse"
    assert invoke(runner, [*args, "--epochs", 10, "--out", full]).exit_code == 0
    result = invoke(runner, [*args, "--epochs", 10, "--out", sparse, "--set", "logging.metrics_every=4"])
    assert result.exit_code == 0, result.output
    assert read_epochs(full) == list(range(1, 11))
    assert read_epochs(sparse) == [4, 8, 10]
    with open(full / "metrics.csv", newline="") as f:
        every = {r["epoch"]: r for r in csv.DictReader(f)}
    with open(sparse / "metrics.csv", newline="") as f:
        for row in csv.DictReader(f):  # the rows written are the full run's rows (but for the clock)
            assert {k: v for k, v in row.items() if k != "seconds"} == \
                   {k: v for k, v in every[row["epoch"]].items() if k != "seconds"}
    # a run that stops early (tol_grad met at once) still writes the epoch it stopped at
    stopped = tmp_path / "stopped"
    result = invoke(runner, [*args, "--epochs", 10, "--out", stopped, "--set", "logging.metrics_every=4",
                             "--set", "training.tol_grad=1e3"])
    assert result.exit_code == 0, result.output
    assert read_epochs(stopped) == [1]
    assert json.loads((stopped / "summary.json").read_text())["stop_reason"] == "tol_grad"
