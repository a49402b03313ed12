"""The shipped worked examples give the numbers their comments (and docs/tour.md) promise.

backprop_by_hand.yaml is Matt Mazur's "A Step by Step Backpropagation Example": one step of plain gradient
descent must reproduce his error and updated weights. vanishing_batchnorm.yaml and vanishing_residual.yaml
are vanishing.yaml cured: no vanishing-gradients warning, and they learn.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from gdtrain.config import load_config
from gdtrain.experiment import fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# Mazur's numbers (to the 9 digits his post prints).
MAZUR_E_TOTAL = 0.298371109
MAZUR_W1 = [[0.149780716, 0.19956143], [0.24975114, 0.29950229]]  # w1+ w2+ / w3+ w4+
MAZUR_W2 = [[0.35891648, 0.408666186], [0.511301270, 0.561370121]]  # w5+ w6+ / w7+ w8+


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_backprop_by_hand_reproduces_mazur(tmp_path):
    result = fit(load_config(CONFIGS / "backprop_by_hand.yaml"), out=str(tmp_path / "run"))
    run = Path(result.run_dir)
    rows = list(csv.DictReader(open(run / "metrics.csv", encoding="utf-8")))
    assert len(rows) == 1
    assert float(rows[0]["train_loss"]) == pytest.approx(MAZUR_E_TOTAL, abs=1e-8)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["best_train_loss"] == pytest.approx(MAZUR_E_TOTAL, abs=1e-8)
    assert summary["warnings"] == []

    model = np.load(run / "model.npz")
    np.testing.assert_allclose(model["W2"], MAZUR_W2, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model["W1"], MAZUR_W1, rtol=0, atol=1e-8)
    assert model["W1"][0, 0] == pytest.approx(0.14978072, abs=1e-8)
    # frozen: bit for bit what init_from gave
    assert model["b1"].tolist() == [0.35, 0.35]
    assert model["b2"].tolist() == [0.60, 0.60]

    # the final table's train loss is E after the step: a forward pass with the new weights
    x, t = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    out = sigmoid(model["W2"] @ sigmoid(model["W1"] @ x + model["b1"]) + model["b2"])
    assert summary["train"]["loss"] == pytest.approx(0.5 * np.sum((t - out) ** 2), abs=1e-12)
    assert summary["train"]["loss"] == pytest.approx(0.291027774, abs=1e-9)


CURES = ["vanishing_batchnorm", "vanishing_residual"]
CURED_ACCURACY = 0.85  # measured at seed 0: 0.96 and 0.94 (seeds 1 and 2: 0.91 to 0.95)


def _fit(tmp_path, name):
    result = fit(load_config(CONFIGS / f"{name}.yaml"), out=str(tmp_path / name))
    rows = list(csv.DictReader(open(Path(result.run_dir) / "metrics.csv", encoding="utf-8")))
    grad_w1 = [float(row["grad_norm_W1"]) for row in rows]
    return result.summary, grad_w1


def test_vanishing_warns_and_stays_at_chance(tmp_path):
    summary, grad_w1 = _fit(tmp_path, "vanishing")
    assert "vanishing_gradients" in [w["name"] for w in summary["warnings"]]
    assert summary["test"]["accuracy"] < 0.2
    assert max(grad_w1) < 1e-3


@pytest.mark.parametrize("name", CURES)
def test_the_cures_learn_without_the_warning(tmp_path, name):
    summary, grad_w1 = _fit(tmp_path, name)
    assert summary["warnings"] == [], [w["name"] for w in summary["warnings"]]  # no named warning at all
    assert summary["test"]["accuracy"] > CURED_ACCURACY
    assert min(grad_w1) > 0.1  # vanishing.yaml: 7e-05
