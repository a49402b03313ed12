"""``gdtrain sweep``: the grid and its labels, every point validated first, sweep.csv's rows against the runs' own
metrics.csv, ranking, diverged points, --resume after a real SIGTERM, and the executor backends (serial, local
processes, Dask on a LocalCluster at 127.0.0.1) giving identical results, also when a Dask worker is SIGKILLed
mid-sweep. Tiny problems (iris, a few epochs) keep the module fast."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import gdtrain.race.dask_backend

from gdtrain import plot as plots
from gdtrain.cli import app
from gdtrain.config import from_dict
from gdtrain.errors import ConfigError
from gdtrain.race.sweep import plan_sweep, point_config, run_sweep
from gdtrain.sweep_space import grid_points, parse_grid_options, point_label, sample_points

REPO = Path(__file__).resolve().parents[1]
ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
TIMING = ("seconds",)


def tiny(**sections):
    raw = {"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 8, "activation": "tanh"}]},
           "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1},
           "training": {"epochs": 3, "batch_size": 16, "checkpoint_every": 100}, "monitor": {"warnings": False}}
    raw.update(sections)
    return raw


def write_config(tmp_path, raw, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def invoke(args):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def without_timing(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


# --- the search space ---------------------------------------------------------------------------------------

def test_grid_options_parse_values_as_yaml_and_points_vary_the_first_key_slowest():
    grid = parse_grid_options(["optimizer.lr=1e-3,0.1", "model.hidden.0.activation=relu,tanh",
                               "training.epochs=2"])
    assert grid == {"optimizer.lr": [0.001, 0.1], "model.hidden.0.activation": ["relu", "tanh"],
                    "training.epochs": [2]}
    assert isinstance(grid["training.epochs"][0], int)
    points = grid_points(grid)
    assert [(p["optimizer.lr"], p["model.hidden.0.activation"]) for p in points] == [
        (0.001, "relu"), (0.001, "tanh"), (0.1, "relu"), (0.1, "tanh")]
    assert point_label(points[1]) == "lr=0.001_activation=tanh_epochs=2"
    assert point_label({"a.units": 1, "b.units": 2}) == "a.units=1_b.units=2"  # a shared last part: whole paths
    assert sample_points(points, 2, seed=0) == sample_points(points, 2, seed=0)  # seeded
    assert all(p in points for p in sample_points(points, 2, seed=0)) and len(sample_points(points, 9, 0)) == 4


@pytest.mark.parametrize("items, message", [
    (["optimizer.lr"], "--grid: expected KEY=V1,V2"),
    (["optimizer.lr=0.1,,1"], "--grid: expected KEY=V1,V2"),
    (["optimizer.lr=0.1,0.1"], "--grid.optimizer.lr: a value is listed twice"),
    (["seed=1,2"], "--grid.seed: cannot be swept"),
    (["optimizer.lr=1", "optimizer.lr=2"], "--grid: optimizer.lr is given twice"),
])
def test_bad_grid_options_are_one_line_naming_the_option(items, message):
    with pytest.raises(ConfigError, match="^" + message.replace(".", r"\.")):
        parse_grid_options(items)


def test_one_bad_value_refuses_the_whole_sweep_before_anything_runs(tmp_path):
    config = write_config(tmp_path, tiny())
    out = tmp_path / "sweep"
    result = invoke(["sweep", config, "--grid", "optimizer.lr=0.1,-1", "--grid", "training.epochs=2", "--out", out])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: sweep point lr=-1_epochs=2 (optimizer.lr=-1, training.epochs=2): optimizer.lr: must be > 0, got -1"]
    assert not out.exists()
    typo = invoke(["sweep", config, "--grid", "model.hiden.0.units=4", "--out", out])
    assert typo.exit_code == 2 and "model.hiden: unknown key; did you mean 'hidden'?" in typo.output
    metric = invoke(["sweep", config, "--grid", "optimizer.lr=0.1", "--metric", "val_r2", "--out", out])
    assert metric.exit_code == 2 and "--metric: val_r2 needs a regression loss" in metric.output
    nothing = invoke(["sweep", config, "--out", out])
    assert nothing.exit_code == 2 and "sweep: nothing to sweep" in nothing.output


def test_a_point_that_changes_the_optimizer_starts_a_fresh_section_at_the_base_lr():
    config = from_dict(tiny(optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9}))
    sweep = plan_sweep(config, grid={"optimizer.name": ["sgd", "adam"], "optimizer.weight_decay": [0.0, 0.01]})
    adam = point_config(sweep, sweep.points[3], seed=4)
    assert adam.optimizer["name"] == "adam" and adam.optimizer["lr"] == 0.05
    assert adam.optimizer["weight_decay"] == 0.01 and adam.seed == 4 and adam.sweep is None
    assert point_config(sweep, sweep.points[0], seed=0).optimizer["momentum"] == 0.0  # sgd anew: defaults


# --- a sweep end to end --------------------------------------------------------------------------------------

def test_sweep_csv_has_a_row_per_point_and_seed_with_the_runs_own_metrics(tmp_path):
    config = write_config(tmp_path, tiny())
    out = tmp_path / "sweep"
    result = invoke(["sweep", config, "--grid", "optimizer.lr=0.01,0.5", "--grid", "model.hidden.0.units=2,8",
                     "--seeds", 2, "--out", out])
    assert result.exit_code == 0, result.output
    rows = read_rows(out / "sweep.csv")
    assert [(r["point"], r["seed"]) for r in rows] == [(p, s) for p in ("lr=0.01_units=2", "lr=0.01_units=8",
                                                                         "lr=0.5_units=2", "lr=0.5_units=8")
                                                       for s in ("0", "1")]
    assert list(rows[0])[:5] == ["point", "optimizer.lr", "model.hidden.0.units", "seed", "status"]
    for r in rows:  # the best and final metric are the run's own metrics.csv column
        history = [float(m["val_accuracy"]) for m in plots.read_metrics(out / r["run_dir"] / "metrics.csv")]
        assert r["run_dir"] == f"{r['point']}/seed-{r['seed']}" and r["status"] == "completed"
        assert float(r["best_val_accuracy"]) == max(history) and float(r["final_val_accuracy"]) == history[-1]
        assert history.index(max(history)) + 1 == int(r["best_epoch"])
        resolved = yaml.safe_load((out / r["run_dir"] / "config.yaml").read_text())
        assert resolved["optimizer"]["lr"] == float(r["optimizer.lr"]) and resolved["seed"] == int(r["seed"])
        assert resolved["model"]["hidden"][0]["units"] == int(r["model.hidden.0.units"]) and "sweep" not in resolved
    plan = json.loads((out / "sweep.json").read_text())
    means = {}
    for r in rows:
        means.setdefault(r["point"], []).append(float(r["best_val_accuracy"]))
    expected = sorted(means, key=lambda p: -sum(means[p]) / 2)
    assert [s["label"] for s in plan["ranking"]] == expected
    assert plan["ranking"][0]["best"]["mean"] == pytest.approx(sum(means[expected[0]]) / 2)
    assert f"best point: {expected[0]}" in result.output
    assert "best val_accuracy against optimizer.lr" in result.output  # the chart
    again = invoke(["plot", out])  # gdtrain plot DIR redraws the ranking and chart
    assert again.exit_code == 0 and "best val_accuracy against optimizer.lr" in again.output
    assert again.output.index(expected[0]) < again.output.index(expected[-1])


def test_the_sweep_section_and_a_diverged_point(tmp_path):
    raw = tiny(data={"source": "diabetes"}, loss="mse", optimizer={"name": "sgd", "lr": 0.01},
               sweep={"grid": {"optimizer.lr": [0.01, 1.0e6]}, "metric": "train_loss"})
    out = tmp_path / "sweep"
    result = invoke(["sweep", write_config(tmp_path, raw), "--out", out])
    assert result.exit_code == 0, result.output  # a diverged point is a row, not a failed sweep
    rows = {r["point"]: r for r in read_rows(out / "sweep.csv")}
    assert rows["lr=1000000"]["status"] == "diverged" and rows["lr=1000000"]["diverged_epoch"]
    assert rows["lr=0.01"]["status"] == "completed" and math.isfinite(float(rows["lr=0.01"]["best_train_loss"]))
    plan = json.loads((out / "sweep.json").read_text())
    assert [s["label"] for s in plan["ranking"]] == ["lr=0.01", "lr=1000000"] and plan["ranking"][1]["diverged"] == 1


def test_local_processes_give_the_serial_results(tmp_path):
    config = from_dict(tiny())
    sweep = plan_sweep(config, grid={"optimizer.lr": [0.05, 0.2], "model.hidden.0.units": [4, 8]})
    serial = run_sweep(sweep, out=str(tmp_path / "serial"))
    parallel = run_sweep(sweep, out=str(tmp_path / "parallel"), workers=2)
    assert without_timing(serial.rows) == without_timing(parallel.rows) and len(serial.rows) == 4


def _cli_env():
    return {**os.environ, **ENV, "PYTHONPATH": os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH")]
                                                                if p)}


def test_sigterm_keeps_finished_rows_and_resume_runs_only_the_missing_ones(tmp_path):
    config = write_config(tmp_path, tiny(training={"epochs": 400, "batch_size": 16, "checkpoint_every": 1000}))
    out = tmp_path / "sweep"
    args = [sys.executable, "-m", "gdtrain", "sweep", str(config), "--grid", "optimizer.lr=0.01,0.02,0.05,0.1,0.2"]
    proc = subprocess.Popen(args + ["--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_cli_env())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "sweep.csv").is_file() and len(read_rows(out / "sweep.csv")) >= 1:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    kept = read_rows(out / "sweep.csv")
    if proc.returncode == 0:
        pytest.skip("the sweep finished before the signal arrived")
    assert proc.returncode == 143, stderr
    assert f"--resume {out}" in stderr and "Traceback" not in stderr
    finished = [r for r in kept if r["status"] == "completed"]
    assert 1 <= len(finished) < 5
    before = {r["point"]: (out / r["run_dir"] / "model.npz").stat().st_mtime_ns for r in finished}
    resumed = subprocess.run(args + ["--resume", str(out)], capture_output=True, text=True, env=_cli_env(), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({5 - len(finished)} runs trained)" in resumed.stdout
    rows = read_rows(out / "sweep.csv")
    assert [r["point"] for r in rows] == ["lr=0.01", "lr=0.02", "lr=0.05", "lr=0.1", "lr=0.2"]
    assert all(r["status"] == "completed" for r in rows)
    assert {r["point"]: r for r in rows if r["point"] in before} == {r["point"]: r for r in finished}
    assert {p: (out / p / "model.npz").stat().st_mtime_ns for p in before} == before  # not trained again
    other = invoke(["sweep", config, "--grid", "optimizer.lr=0.3", "--resume", out])
    assert other.exit_code == 2 and "holds a different sweep" in other.output


# --- Dask: a LocalCluster on 127.0.0.1 (real processes, no mocks) ------------------------------------------------

def _need_dask():
    return pytest.importorskip("distributed", reason="the Dask tests need dask[distributed] (gdtrain[dask])")


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes on 127.0.0.1, shared by the tests that give its address."""
    distributed = _need_dask()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as local:
        yield local


def test_dask_gives_the_serial_results_for_a_sweep_and_a_race(tmp_path, cluster):
    config = write_config(tmp_path, tiny(compare={"optimizers": ["sgd", {"name": "adam", "lr": 0.01}], "seeds": 2}))
    grid = ["--grid", "optimizer.lr=0.05,0.2", "--grid", "model.hidden.0.units=4,8"]
    serial = invoke(["sweep", config, *grid, "--out", tmp_path / "serial"])
    dask = invoke(["sweep", config, *grid, "--out", tmp_path / "dask", "--cluster", "local:2"])
    assert serial.exit_code == 0 and dask.exit_code == 0, dask.output
    assert without_timing(read_rows(tmp_path / "dask" / "sweep.csv")) == without_timing(
        read_rows(tmp_path / "serial" / "sweep.csv"))
    assert "on local:2" in dask.output
    race_serial = invoke(["compare-optimizers", config, "--out", tmp_path / "race-serial"])
    race_dask = invoke(["compare-optimizers", config, "--out", tmp_path / "race-dask",
                        "--cluster", cluster.scheduler_address])  # (a scheduler by its address)
    assert race_serial.exit_code == 0 and race_dask.exit_code == 0, race_dask.output
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "seconds_to_target")} for r in rows]
    assert strip(read_rows(tmp_path / "race-dask" / "comparison.csv")) == strip(
        read_rows(tmp_path / "race-serial" / "comparison.csv"))


def test_unreachable_scheduler_is_one_line_and_exit_2_before_any_work(tmp_path, monkeypatch):
    _need_dask()
    monkeypatch.setattr(gdtrain.race.dask_backend, "CONNECT_TIMEOUT", 0.5)
    config = write_config(tmp_path, tiny())
    out = tmp_path / "sweep"
    result = invoke(["sweep", config, "--grid", "optimizer.lr=0.1", "--cluster", "tcp://127.0.0.1:9", "--out", out])
    assert result.exit_code == 2
    assert result.output.startswith("error: --cluster tcp://127.0.0.1:9: no Dask scheduler answered within 0.5 s")
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()
    bad = invoke(["sweep", config, "--grid", "optimizer.lr=0.1", "--cluster", "local:0", "--out", out])
    assert bad.exit_code == 2 and "--cluster: expected local:N" in bad.output


def test_a_dask_worker_killed_mid_sweep_is_retried_and_the_results_are_identical(tmp_path, cluster):
    config = from_dict(tiny(training={"epochs": 40, "batch_size": 16, "checkpoint_every": 100}))
    sweep = plan_sweep(config, grid={"optimizer.lr": [0.02, 0.05, 0.1, 0.2, 0.5, 1.0]})
    serial = run_sweep(sweep, out=str(tmp_path / "serial"))

    def worker_pids():  # each nanny's worker process
        return {nanny.process.pid for nanny in cluster.workers.values() if nanny.process is not None}

    pids, killed = worker_pids(), []
    assert len(pids) == 2

    def kill_the_workers(event):  # at the first result: the workers are busy with (or about to start) the next
        if event.kind == "done" and not killed:
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            killed.extend(pids)

    result = run_sweep(sweep, out=str(tmp_path / "dask"), cluster=cluster.scheduler_address,
                       on_event=kill_the_workers)
    assert killed and worker_pids().isdisjoint(killed)  # the nannies started new workers, which finished the sweep
    assert [r["status"] for r in result.rows] == ["completed"] * 6
    assert without_timing(result.rows) == without_timing(serial.rows)
