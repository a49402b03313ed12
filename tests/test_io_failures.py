"""Nothing lost, nobody surprised (issue 14): a closed stdout, a dying compare-optimizers, failed writes.

  - ``gdtrain fit ... | head -3`` (or quitting ``less``): training goes on, the run directory is complete and
    resumable, exit 0 and a note on stderr;
  - compare-optimizers --workers N: SIGTERM stops it like Ctrl-C (exit 143) and leaves no worker running; a
    worker whose parent was killed with -9 exits by itself;
  - write failures (disk full, the run directory deleted, a name too long, a read-only folder): one line
    naming the file and the OS's reason, exit 1 for a failed run and 2 for bad usage, nothing saved lost.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}


def gdtrain(*args):
    return [sys.executable, "-m", "gdtrain", *[str(a) for a in args]]


def summary_of(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())


def metric_epochs(run_dir):
    lines = (Path(run_dir) / "metrics.csv").read_text().splitlines()
    return [int(line.split(",")[0]) for line in lines[1:]]


RUN_FILES = ["checkpoint.npz", "config.yaml", "metrics.csv", "model.npz", "summary.json"]


# --- 1. a closed stdout ---------------------------------------------------------------------------

@pytest.mark.parametrize("read, merged", [(3, False), (12, False), (3, True)],
                         ids=["head-3", "less-quit-mid-run", "stderr-too"])
def test_a_closed_stdout_never_loses_the_run(tmp_path, read, merged):
    """`gdtrain fit quickstart | head -3`: the reader goes away after a few lines; the run still completes."""
    epochs, out = 300, tmp_path / "run"
    proc = subprocess.Popen(gdtrain("fit", "quickstart", "--epochs", epochs, "--out", out), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT if merged else subprocess.PIPE, text=True,
                            env={**os.environ, **ENV}, cwd=tmp_path)
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    try:
        head = [proc.stdout.readline() for _ in range(read)]
        proc.stdout.close()  # what head does after its lines, and less when you quit it
        code = proc.wait(timeout=120)
        stderr = "" if merged else proc.stderr.read()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert head[0].startswith("data      digits"), head
    if not merged:
        assert "epoch 300/300" not in "".join(head)  # the pipe was closed during training, not after it
    assert code == 0, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    if not merged:
        assert "stdout was closed (broken pipe): training goes on" in stderr
        assert f"completed after {epochs} epochs" in stderr and f"saved to {out}" in stderr
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
    summary = summary_of(out)
    assert summary["stop_reason"] == "completed" and summary["epochs"] == epochs
    assert metric_epochs(out) == list(range(1, epochs + 1))

    # and it resumes: a few more epochs from its checkpoint
    more = subprocess.run(gdtrain("fit", "quickstart", "--epochs", epochs + 5, "--resume", out), capture_output=True,
                          text=True, env={**os.environ, **ENV}, cwd=tmp_path, timeout=120)
    assert more.returncode == 0, more.stdout + more.stderr
    assert f"resuming  after epoch {epochs}" in more.stdout
    assert summary_of(out)["epochs"] == epochs + 5
    assert metric_epochs(out) == list(range(1, epochs + 6))


# --- 2. compare-optimizers leaves no orphans --------------------------------------------------------

def children(pid):
    """The pids of a process's children (psutil-free: /proc/PID/task/*/children, Linux)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid):
    """Running (a zombie, dead but not reaped by whoever adopted it, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def race_files(folder):
    return {str(p): p.stat().st_mtime_ns for p in Path(folder).rglob("*") if p.is_file()}


def start_race(tmp_path, epochs=20000):
    """compare-optimizers with 2 workers on long runs; returns (proc, out, worker pids) once both train. Its
    output goes to files (tmp_path/stdout, stderr): a worker left running would hold a pipe open."""
    if not Path("/proc/self/task").is_dir():
        pytest.skip("needs Linux's /proc to find the worker processes")
    out = tmp_path / "race"
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        proc = subprocess.Popen(gdtrain("compare-optimizers", "quickstart", "--optimizers", "sgd,momentum,adam",
                                        "--workers", 2, "--epochs", epochs, "--out", out),
                                stdout=stdout, stderr=stderr, env={**os.environ, **ENV}, cwd=tmp_path)
    deadline = time.monotonic() + 60
    try:
        while True:
            assert proc.poll() is None, outputs(tmp_path)
            assert time.monotonic() < deadline, "the race did not start"
            training = [d for d in ("sgd", "momentum") if (out / d / "metrics.csv").exists()
                        and (out / d / "metrics.csv").read_text().count("\n") >= 3]
            if len(training) == 2:
                break
            time.sleep(0.02)
        workers = [pid for pid in children(proc.pid) if "spawn_main" in cmdline(pid)]
        assert len(workers) == 2, [cmdline(pid) for pid in children(proc.pid)]
    except BaseException:
        kill_all(children(proc.pid))
        proc.kill()
        proc.wait(timeout=30)
        raise
    return proc, out, workers


def outputs(tmp_path):
    return (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()


def wait_gone(pids, seconds=10):
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def kill_all(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_compare_signal_stops_the_workers_keeps_the_runs_and_exits_128_plus_signal(tmp_path, sig):
    proc, out, workers = start_race(tmp_path)
    try:
        proc.send_signal(sig)  # to the main process only (kill PID), not to the process group
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = "still running 30 s after the signal"
        left = wait_gone(workers)
    finally:
        kill_all(workers)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    stdout, stderr = outputs(tmp_path)
    assert code == 128 + sig, stdout + stderr
    assert "Traceback" not in stdout + stderr and "internal error" not in stderr
    assert left == [], "worker processes still running after compare-optimizers exited"
    assert f"race interrupted by {sig.name}: the workers are stopped" in stderr
    assert "stopped at a safe point" in stderr and "nothing was ranked" in stderr
    # what each worker was training stopped at a safe point and was saved (and resumes); nothing more is written
    for label in ("sgd", "momentum"):
        summary = summary_of(out / label)
        assert summary["stop_reason"] == "interrupted" and summary["epochs"] >= 1
        assert (out / label / "checkpoint.npz").exists() and (out / label / "model.npz").exists()
    assert not (out / "adam").exists()  # never started
    before = race_files(out)
    time.sleep(0.5)
    assert race_files(out) == before


def test_compare_workers_exit_by_themselves_when_the_main_process_is_killed(tmp_path):
    proc, out, workers = start_race(tmp_path)
    try:
        proc.kill()  # kill -9: no handler runs in the main process
        proc.wait(timeout=30)
        left = wait_gone(workers)
    finally:
        kill_all(workers)
    assert left == [], "orphaned workers kept training after their parent was killed with -9"
    for label in ("sgd", "momentum"):  # each orphan stopped at a safe point and saved its run before exiting
        assert summary_of(out / label)["stop_reason"] == "interrupted"
    before = race_files(out)
    time.sleep(0.5)
    assert race_files(out) == before


# --- 3. write failures: one line naming the file and the OS's reason ------------------------------------

@pytest.fixture
def cli():
    from typer.testing import CliRunner

    from gdtrain.cli import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], env=ENV)


def error_lines(result):
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def test_a_full_disk_mid_run_is_one_line_exit_1_and_keeps_the_last_checkpoint(cli, tmp_path, monkeypatch):
    from gdtrain import checkpoint, rundir

    real, calls = rundir.atomic_write, []

    def full_disk(path, data):  # the third checkpoint (end of epoch 3) meets a full disk
        if Path(path).name == rundir.CHECKPOINT:
            calls.append(path)
            if len(calls) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    monkeypatch.setattr(rundir, "atomic_write", full_disk)
    out = tmp_path / "run"
    result = cli("fit", "quickstart", "--epochs", 6, "--set", "training.checkpoint_seconds=0", "--out", out)
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert error_lines(result) == [f"error: {out}: No space left on device (ENOSPC); what was saved before is kept"]
    assert checkpoint.load(out / "checkpoint.npz")["meta"]["epoch"] == 2  # the last good one, intact
    assert metric_epochs(out)[:2] == [1, 2]

    monkeypatch.setattr(rundir, "atomic_write", real)  # space freed: the run resumes from epoch 2
    result = cli("fit", "quickstart", "--epochs", 6, "--set", "training.checkpoint_seconds=0", "--resume", out)
    assert result.exit_code == 0, result.output
    assert "resuming  after epoch 2" in result.output
    assert summary_of(out)["stop_reason"] == "completed" and metric_epochs(out) == list(range(1, 7))


def test_a_name_too_long_for_out_is_exit_2(cli, tmp_path):
    out = tmp_path / ("x" * 300)
    result = cli("fit", "quickstart", "--epochs", 1, "--out", out)
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    [line] = error_lines(result)
    assert line.startswith(f"error: {out}") and line.endswith("File name too long (ENAMETOOLONG)")


def test_the_run_directory_deleted_mid_run_is_one_line_exit_1(cli, tmp_path, monkeypatch):
    import shutil

    from gdtrain.render.fit import FitReporter

    real = FitReporter.epoch

    def epoch(self, record):
        real(self, record)
        if record.epoch == 2:
            shutil.rmtree(out)

    monkeypatch.setattr(FitReporter, "epoch", epoch)
    out = tmp_path / "run"
    result = cli("fit", "quickstart", "--epochs", 5, "--set", "training.checkpoint_seconds=0", "--out", out)
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    [line] = error_lines(result)
    assert line == f"error: {out}: No such file or directory (ENOENT); the folder was removed while gdtrain was writing in it"


def test_a_read_only_folder_with_overwrite_is_exit_2(cli, tmp_path, monkeypatch):
    """(As root a chmod'ed folder stays writable, so the refusal is the OS's EROFS, raised by Path.unlink.)"""
    import pathlib

    out = tmp_path / "run"
    assert cli("fit", "quickstart", "--epochs", 1, "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def read_only(self, missing_ok=False):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(pathlib.Path, "unlink", read_only)
    result = cli("fit", "quickstart", "--epochs", 1, "--out", out, "--overwrite")
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    [line] = error_lines(result)
    assert line.startswith(f"error: {out}/") and line.endswith("Read-only file system (EROFS)")
    # nothing saved was lost (the run's lock file stays too: the patched unlink cannot remove it; a later run
    # takes over a lock whose process is gone)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".lock"} == before
