"""A run directory's life (issue 14, "nothing lost, nobody surprised"): the lock that keeps two runs out of one
directory (DIR/.lock), --overwrite and the user's own config, the temp files a kill -9 leaves, half rows in
metrics.csv, Ctrl-C before the first epoch is done (and in the first instants), SIGTERM / SIGHUP, and a
signal that comes after the last epoch."""

from __future__ import annotations

import copy
import csv
import fcntl
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

from gdtrain import checkpoint, rundir
from gdtrain.cli import app
from gdtrain.config import from_dict, load_config
from gdtrain.errors import ConfigError
from gdtrain.experiment import fit

ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
RUN_FILES = ["checkpoint.npz", "config.yaml", "metrics.csv", "model.npz", "summary.json"]
SMALL = {"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 8, "activation": "tanh"}]},
         "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1}, "training": {"epochs": 3}}
# one slow first epoch (batch size 1, a wide network): time to send a signal during it
SLOW = {"seed": 0, "data": {"source": "digits"}, "model": {"hidden": [{"units": 160, "activation": "relu"}]},
        "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.001},
        "training": {"mode": "minibatch", "batch_size": 1, "epochs": 2}}


def gdtrain(*args, cwd, timeout=120, **kwargs):
    return subprocess.run([sys.executable, "-m", "gdtrain", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **ENV}, cwd=cwd, timeout=timeout, **kwargs)


def popen(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "gdtrain", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **ENV}, cwd=cwd)


def write_config(path, raw):
    path.write_text(yaml.safe_dump(raw))
    return path


def rows_of(run_dir):
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def without_seconds(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def hold_lock(folder):
    """Lock ``folder`` as a running gdtrain does: .lock flock-ed, holding this process's pid."""
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


# --- 1. the lock --------------------------------------------------------------------------------------

def test_a_run_directory_in_use_is_refused_with_the_holders_pid(tmp_path):
    config = write_config(tmp_path / "a.yaml", SMALL)
    out = tmp_path / "run"
    assert gdtrain("fit", config, "--out", out, cwd=tmp_path).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    fd = hold_lock(out)
    try:
        for args in (["--out", out, "--overwrite"], ["--resume", out, "--epochs", 5]):
            proc = gdtrain("fit", config, *args, cwd=tmp_path)
            assert proc.returncode == 2, proc.stdout + proc.stderr
            assert f"{out} is in use by pid {os.getpid()}" in proc.stderr
            assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
            assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".lock"} == before  # untouched
        with pytest.raises(ConfigError, match=f"is in use by pid {os.getpid()}"):  # the API too
            fit(load_config(config), out=str(out), overwrite=True)
    finally:
        os.close(fd)
    # the default runs/<name> moves on to runs/<name>-2 rather than share a locked directory
    (tmp_path / "runs" / "a").mkdir(parents=True)
    fd = hold_lock(tmp_path / "runs" / "a")
    try:
        proc = gdtrain("fit", config, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert sorted(p.name for p in (tmp_path / "runs" / "a-2").iterdir()) == RUN_FILES
    finally:
        os.close(fd)


def test_the_lock_is_released_when_the_run_ends_however_it_ends(tmp_path):
    config = write_config(tmp_path / "a.yaml", SMALL)
    out = tmp_path / "run"
    result = fit(load_config(config), out=str(out))
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES  # no .lock left behind
    with pytest.raises(ConfigError):  # an error after the lock was taken: released too
        fit(from_dict({**SMALL, "optimizer": {"name": "sgd", "lr": 0.2}}), resume=str(out))
    assert not (out / ".lock").exists()
    fit(load_config(config), resume=str(out))  # and the directory is usable again
    assert result.run_dir == out


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    config = write_config(tmp_path / "a.yaml", SMALL)
    out = tmp_path / "run"
    out.mkdir()
    pid = dead_pid()
    (out / ".lock").write_text(f"{pid}\n")  # what a kill -9 of the run leaves
    proc = gdtrain("fit", config, "--out", out, cwd=tmp_path)  # (a lock file alone is not "a run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"taking over the stale lock .lock left by pid {pid}, which is no longer running" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
    (out / ".lock").write_text(f"{pid}\n")
    proc = gdtrain("fit", config, "--resume", out, "--epochs", 4, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"left by pid {pid}" in proc.stderr
    assert [int(r["epoch"]) for r in rows_of(out)] == [1, 2, 3, 4]


def test_two_runs_started_together_into_one_directory_do_not_share_it(tmp_path):
    # batch size 1: a first epoch long enough (about a second) that the two runs overlap even on a loaded machine,
    # where one process can start half a second after the other (batch size 4 let the first one finish: [0, 0])
    config = write_config(tmp_path / "a.yaml", {**SLOW, "training": {**SLOW["training"], "epochs": 1}})
    out = tmp_path / "run"
    procs = [popen("fit", config, "--out", out, "--overwrite", cwd=tmp_path) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close(), p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    assert any("is in use by pid" in err for code, err in results if code == 2)
    assert [int(r["epoch"]) for r in rows_of(out)] == [1]


# --- 2. --overwrite and the config being run -------------------------------------------------------

def test_overwrite_refuses_to_delete_the_config_being_run(tmp_path):
    config = write_config(tmp_path / "a.yaml", SMALL)
    out = tmp_path / "run"
    assert gdtrain("fit", config, "--out", out, cwd=tmp_path).returncode == 0
    mine = out / "config.yaml"  # the user edits the run's config and runs it again, into the same directory
    mine.write_text("# my edit\n" + yaml.safe_dump({**SMALL, "optimizer": {"name": "sgd", "lr": 0.05}}))
    text = mine.read_text()
    result = CliRunner().invoke(app, ["fit", str(mine), "--out", str(out), "--overwrite"], env=ENV)
    assert result.exit_code == 2, result.output
    assert [line for line in result.output.splitlines() if line.strip()] == [
        f"error: output: --overwrite would delete {mine}, the config this run was started from; copy it out of "
        f"{out} first, or choose another --out"]
    assert mine.read_text() == text and (out / "model.npz").exists()
    assert not (out / ".lock").exists()
    # a config elsewhere, or one beside the run files under another name, is fine
    other = out / "other.yaml"
    other.write_text(text)
    assert CliRunner().invoke(app, ["fit", str(other), "--out", str(out), "--overwrite"], env=ENV).exit_code == 0
    assert other.read_text() == text


# --- 3. temp files left by kill -9 -------------------------------------------------------------------

@pytest.mark.parametrize("how", ["resume", "overwrite"])
def test_temp_files_of_a_killed_run_are_removed_on_resume_and_overwrite(tmp_path, how):
    config = write_config(tmp_path / "a.yaml", SMALL)
    out = tmp_path / "run"
    fit(load_config(config), out=str(out))
    leftovers = [".checkpoint.npz.k2j4_x9", ".model.npz.abc", ".summary.json.q", ".metrics.csv.z", ".config.yaml.1"]
    for name in leftovers:
        (out / name).write_bytes(b"half")
    (out / ".keep").write_text("the user's")  # not a temp file of gdtrain's: kept
    if how == "resume":
        fit(load_config(config), resume=str(out))
    else:
        fit(load_config(config), out=str(out), overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [".keep"] + RUN_FILES


# --- 4. metrics.csv: whole rows, half rows dropped ---------------------------------------------------

def test_metrics_rows_are_written_whole_in_one_write(tmp_path, monkeypatch):
    writes = []
    real = os.write
    monkeypatch.setattr(rundir.os, "write", lambda fd, data: (writes.append(bytes(data)), real(fd, data))[1])
    writer = rundir.MetricsWriter(tmp_path / "metrics.csv", ["epoch", "loss", "lr"])
    writer.write({"epoch": 1, "loss": 0.5, "lr": 0.1})
    writer.write({"epoch": 2, "loss": 0.25, "lr": None})
    writer.close()
    assert writes == [b"epoch,loss,lr\r\n", b"1,0.5,0.1\r\n", b"2,0.25,\r\n"]


def test_truncate_metrics_drops_half_rows(tmp_path):
    path = tmp_path / "metrics.csv"
    columns = ["epoch", "loss", "val_loss"]
    header = "epoch,loss,val_loss\r\n"
    for tail in ("3,0.4\r\n",          # fewer columns
                 "3,0.4,0.1",          # every column, but cut in the middle of the last number
                 "3,0.4,0.1e",         # ... cut after an exponent's e
                 "3,0.4,1e-\r\n"):     # a value that is not a number
        path.write_text(header + "1,0.6,0.5\r\n2,0.5,0.4\r\n" + tail, newline="")
        rundir.truncate_metrics(path, 3, columns)
        assert path.read_text() == header.replace("\r\n", "\n") + "1,0.6,0.5\n2,0.5,0.4\n", tail
    path.write_text("epoch,lo")  # killed while the header was written
    rundir.truncate_metrics(path, 0, columns)
    assert path.read_text() == "epoch,loss,val_loss\n"


def test_resume_after_a_half_written_last_row_is_clean(tmp_path):
    raw = SMALL
    ref = fit(from_dict(copy.deepcopy({**raw, "training": {"epochs": 4}})), out=str(tmp_path / "ref"))
    out = tmp_path / "run"
    fit(from_dict(copy.deepcopy({**raw, "training": {"epochs": 2}})), out=str(out))
    text = (out / "metrics.csv").read_text()
    cut = text.splitlines()[-1]
    with open(out / "metrics.csv", "a") as f:
        f.write(cut.replace("2,", "3,", 1)[:-3])  # a row for epoch 3 with every column, cut mid-number
    fit(from_dict(copy.deepcopy({**raw, "training": {"epochs": 4}})), resume=str(out))
    assert without_seconds(rows_of(out)) == without_seconds(rows_of(ref.run_dir))
    assert (out / "metrics.csv").read_text().count("\n") == 5


# --- 5. Ctrl-C before the first epoch is complete ----------------------------------------------------

def test_interrupted_in_the_first_epoch_saves_a_resumable_start(tmp_path):
    class StopAt:
        def __init__(self, polls):
            self.polls = polls

        def __call__(self):
            self.polls -= 1
            return self.polls < 0

    raw = {**SMALL, "training": {"mode": "minibatch", "batch_size": 16, "epochs": 3}}
    ref = fit(from_dict(copy.deepcopy(raw)), out=str(tmp_path / "ref"))
    out = tmp_path / "run"
    stopped = fit(from_dict(copy.deepcopy(raw)), out=str(out), stop_requested=StopAt(4))
    assert stopped.summary["stop_reason"] == "interrupted" and stopped.summary["epochs"] == 0
    assert stopped.summary["message"] == "interrupted during epoch 1; it is not kept"
    assert checkpoint.load(out / "checkpoint.npz")["meta"]["epoch"] == 0
    resumed = fit(from_dict(copy.deepcopy(raw)), resume=str(out))
    assert resumed.summary["resumed_from_epoch"] == 0 and resumed.summary["epochs"] == 3
    a, b = np.load(out / "model.npz"), np.load(ref.run_dir / "model.npz")
    assert all(np.array_equal(a[k], b[k]) for k in ("W1", "b1", "W2", "b2"))
    assert without_seconds(rows_of(out)) == without_seconds(rows_of(ref.run_dir))


def wait_for(path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.002)


def test_ctrl_c_in_the_first_epoch_says_so_and_the_resume_works(tmp_path):
    config = write_config(tmp_path / "slow.yaml", SLOW)
    out = tmp_path / "e1"
    proc = popen("fit", config, "--out", out, cwd=tmp_path)
    try:
        wait_for(out / "metrics.csv", proc)  # the header: training is about to start
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert "saved what epochs 1-0" not in stderr
    assert (f"interrupted before any epoch was complete: nothing was learned yet; saved the starting state in {out}; "
            f"resume with: gdtrain fit {config} --resume {out}") in stderr
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
    again = gdtrain("fit", config, "--resume", out, "--set", "training.epochs=1", cwd=tmp_path, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resuming  after epoch 0" in again.stdout
    assert [int(r["epoch"]) for r in rows_of(out)] == [1]


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.5])
def test_ctrl_c_in_the_first_instants_prints_no_traceback(tmp_path, delay):
    config = write_config(tmp_path / "a.yaml", SMALL)
    proc = popen("fit", config, "--out", tmp_path / "run", cwd=tmp_path)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    if "Traceback" in stderr and f"{os.sep}gdtrain{os.sep}" not in stderr:
        return  # Ctrl-C while Python itself was starting (site.py), before any of gdtrain ran: not ours to catch
    assert "Traceback" not in stdout + stderr, stderr
    assert proc.returncode in (0, 130, -signal.SIGINT), stdout + stderr  # (0: it was done already)


# --- 6. a signal after the last epoch ----------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_final_files_are_written_is_not_ignored(tmp_path, monkeypatch, sig):
    import gdtrain.experiment as experiment

    real = experiment.save_model

    def save_model(*args, **kwargs):
        signal.raise_signal(sig)  # training is over; the final files are being written
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "save_model", save_model)
    config = write_config(tmp_path / "a.yaml", SMALL)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["fit", str(config), "--out", str(out)], env=ENV)
    assert result.exit_code == 128 + sig, result.output
    assert f"the run had finished (completed) when the signal came; everything is saved in {out}" in result.output
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
    assert yaml.safe_load((out / "summary.json").read_text())["stop_reason"] == "completed"
