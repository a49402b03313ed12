"""Issue 18's line-search bug: a step whose update leaves θ unchanged in floating point (θ − t·g == θ) is a
line-search failure, not an accepted step.

Reproduced as the issue reports it: L2 logistic regression (configs/line_search.yaml) with tol_grad 1e-13, which
no float64 gradient reaches. Before the fix backtracking halved t until θ − t·g rounded back to θ, "accepted" that
t (φ(t) == φ(0) passes φ(t) ≤ φ(0) − c1 t ‖g‖² once c1 t ‖g‖² is below φ(0)'s resolution) and went on doing so
every epoch: all the epochs ran with an update ratio of exactly 0 from epoch ~600 on. 1,000 epochs (not the
issue's 200,000) show it.
"""

from __future__ import annotations

import csv
from pathlib import Path

from gdtrain.config import load_config
from gdtrain.experiment import fit

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "line_search.yaml"


def test_a_step_that_leaves_theta_unchanged_stops_the_run_as_a_line_search_failure(tmp_path):
    config = load_config(CONFIG, overrides={"training.epochs": 1000, "training.tol_grad": 1e-13})
    result = fit(config, out=str(tmp_path / "run"))
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    s = result.summary
    assert s["stop_reason"] == "line_search"
    assert s["epochs"] < 1000
    assert "unchanged in floating point" in s["message"]
    # every epoch before the one that stopped moved θ: no accepted step with an update ratio of exactly 0;
    # the stopping epoch took no step (as for a search that finds nothing)
    assert len(rows) == s["epochs"]
    assert all(float(r["update_ratio_W1"]) > 0 for r in rows[:-1])
    assert float(rows[-1]["update_ratio_W1"]) == 0.0
    assert float(rows[-1]["lr"]) == 0.0
