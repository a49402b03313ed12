"""The Python API for notebooks (issue 15): gdtrain.fit / load / load_config, Run, Model, typed errors."""

from __future__ import annotations

import os
import shutil
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


def test_load_config_by_name_from_an_installed_package_outside_the_clone(tmp_path):
    """Issue 15: `gdtrain.load_config("quickstart")` failed outside the clone (no such attribute, and
    gdtrain.config.load_config("quickstart") said "no such config file")."""
    site = installed_copy(tmp_path)
    work = tmp_path / "notebook"
    work.mkdir()
    code = ("import gdtrain; c = gdtrain.load_config('quickstart'); "
            "print(gdtrain.__file__); print(c.name, c.data.source, c.optimizer['lr'], c.training.epochs)")
    done = run_python(code, work, site)
    assert done.returncode == 0, done.stderr
    where, values = done.stdout.splitlines()
    assert where.startswith(str(site))
    assert values == "quickstart digits 0.1 40"
