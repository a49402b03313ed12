"""Nothing lost, nobody surprised (issue 14): a closed stdout, a dying compare-optimizers, failed writes.

  - ``gdtrain fit ... | head -3`` (or quitting ``less``): training goes on, the run directory is complete and
    resumable, exit 0 and a note on stderr;
  - compare-optimizers --workers N: SIGTERM stops it like Ctrl-C (exit 143) and leaves no worker running; a
    worker whose parent was killed with -9 exits by itself;
  - write failures (disk full, the run directory deleted, a name too long, a read-only folder): one line
    naming the file and the OS's reason, exit 1 for a failed run and 2 for bad usage, nothing saved lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
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
