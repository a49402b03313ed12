"""2-D test functions (issue 18): their gradients and minimizers, the runs on them checked against theory, the
run directory, the race, the maps and the bad input.

Every theory check reads the path back from metrics.csv (x, y, f, step_length, distance), as a user would.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gdtrain.cli import app
from gdtrain.config import from_dict, load_config
from gdtrain.errors import ConfigError
from gdtrain.experiment import fit
from gdtrain.gradcheck import check_problem
from gdtrain.landscape import path_map
from gdtrain.problems import FUNCTIONS, check_points, make_problem, resolve_problem

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def run(tmp_path, problem, name="run", **sections):
    """fit a problem config; (summary, metrics.csv rows as floats)."""
    config = from_dict({"problem": problem, **sections})
    result = fit(config, out=str(tmp_path / name))
    with open(result.run_dir / "metrics.csv") as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return result.summary, rows


def column(rows, key):
    return np.array([row[key] for row in rows])


# --- the functions ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FUNCTIONS.names())
def test_analytic_gradients_match_central_differences(name):
    config = from_dict({"problem": {"function": name}})
    checks, _ = check_problem(config)
    assert len(checks) == len(check_points(make_problem(config.problem)))
    assert all(c.passed for c in checks), [(c.name, c.rel_error) for c in checks]
    assert max(c.rel_error for c in checks) < 1e-6


def test_a_wrong_gradient_fails_the_check(monkeypatch):
    from gdtrain import problems

    booth = FUNCTIONS.get("booth")
    wrong = problems.TestFunction(booth.value, lambda p, o: booth.gradient(p, o) * np.array([1.0, 1.01]),
                                  booth.minimizers, booth.minimum, booth.formula, booth.gradient_formula, booth.start,
                                  booth.window)
    monkeypatch.setitem(FUNCTIONS._items, "booth", wrong)
    checks, _ = check_problem(from_dict({"problem": {"function": "booth"}}))
    assert not all(c.passed for c in checks)


@pytest.mark.parametrize("name", [n for n in FUNCTIONS.names() if n != "saddle"])
def test_each_known_minimizer_is_stationary_with_the_documented_minimum(name):
    problem = make_problem(resolve_problem({"function": name}))
    assert problem.minimizers
    for point in problem.minimizers:
        assert problem.value(point) == pytest.approx(problem.minimum, abs=1e-12)
        assert np.linalg.norm(problem.gradient(point)) < 1e-10  # (l1: its subgradient at the kink is 0 by convention)


def test_himmelblau_has_four_minima_and_rosenbrock_follows_a():
    assert len(make_problem(resolve_problem("himmelblau")).minimizers) == 4
    assert make_problem(resolve_problem({"function": "rosenbrock", "a": 2})).minimizers == [(2.0, 4.0)]
    saddle = make_problem(resolve_problem("saddle"))
    assert saddle.minimizers == [] and saddle.minimum == -math.inf
    assert saddle.distance([3.0, 4.0]) == 5.0  # measured from the saddle point


def test_quadratic_has_eigenvalues_one_and_kappa_along_the_rotated_axes():
    from gdtrain.problems import quadratic_matrix

    A = quadratic_matrix({"condition_number": 50.0, "angle": 30.0})
    values, vectors = np.linalg.eigh(A)
    assert values == pytest.approx([1.0, 50.0])
    slow = vectors[:, 0] * np.sign(vectors[0, 0])
    assert slow == pytest.approx([math.cos(math.radians(30)), math.sin(math.radians(30))])


# --- checked against theory ---------------------------------------------------------------------------------

KAPPA = 50.0


def test_gd_with_step_2_over_L_plus_mu_contracts_by_exactly_kappa_minus_1_over_kappa_plus_1(tmp_path):
    # along the slowest eigendirection (angle 30°: R·(1, 0)) every step multiplies the distance by (κ − 1)/(κ + 1)
    a = math.radians(30)
    start = [3 * math.cos(a), 3 * math.sin(a)]
    summary, rows = run(tmp_path, {"function": "quadratic", "condition_number": KAPPA, "angle": 30, "start": start},
                        optimizer={"name": "sgd", "lr": 2 / (KAPPA + 1)}, training={"epochs": 60})
    d = np.concatenate([[3.0], column(rows, "distance")])
    assert d[1:] / d[:-1] == pytest.approx(np.full(60, (KAPPA - 1) / (KAPPA + 1)), rel=1e-8)
    assert summary["problem"]["distance"] == pytest.approx(3 * ((KAPPA - 1) / (KAPPA + 1)) ** 60, rel=1e-8)


def test_gd_with_step_1_over_L_follows_the_textbook_bounds(tmp_path):
    # f(x_k) − f* ≤ L‖x₀ − x*‖²/(2k) (convex, step 1/L) and ≤ (1 − μ/L)^k (f(x₀) − f*) (μ-strongly convex);
    # from a start on the slowest axis the quadratic meets f_k = (1 − 1/κ)^(2k) f₀ exactly
    start = np.array([-4.0, 1.0])
    problem = make_problem(resolve_problem({"function": "quadratic", "condition_number": KAPPA, "start": list(start)}))
    _, rows = run(tmp_path, problem.as_dict(), optimizer={"name": "sgd", "lr": 1 / KAPPA}, training={"epochs": 100})
    f, k = column(rows, "f"), np.arange(1, 101)
    f0, r0 = problem.value(start), float(np.linalg.norm(start))
    assert (f <= KAPPA * r0 ** 2 / (2 * k)).all()
    assert (f <= (1 - 1 / KAPPA) ** k * f0 * (1 + 1e-9)).all()
    _, rows = run(tmp_path, {"function": "quadratic", "condition_number": KAPPA, "start": [-4.0, 0.0]}, name="axis",
                  optimizer={"name": "sgd", "lr": 1 / KAPPA}, training={"epochs": 100})
    assert column(rows, "f") == pytest.approx(8.0 * (1 - 1 / KAPPA) ** (2 * k), rel=1e-8)


def test_heavy_ball_with_its_optimal_parameters_reaches_the_accelerated_rate(tmp_path):
    rate = (math.sqrt(KAPPA) - 1) / (math.sqrt(KAPPA) + 1)
    lr, beta = 4 / (math.sqrt(KAPPA) + 1) ** 2, rate ** 2
    _, rows = run(tmp_path, {"function": "quadratic", "condition_number": KAPPA, "start": [-4.0, 1.0]},
                  optimizer={"name": "sgd", "lr": lr, "momentum": beta}, training={"epochs": 400})
    d = column(rows, "distance")
    measured = (d[-1] / d[-101]) ** (1 / 100)  # over the last 100 steps
    assert measured == pytest.approx(rate, rel=0.01)
    gd = (KAPPA - 1) / (KAPPA + 1)
    assert measured < gd - 0.2  # far faster than the best plain gradient descent


def test_backtracking_on_rosenbrock_reaches_the_minimizer_with_armijo_at_every_step(tmp_path):
    c1 = 1e-4
    summary, rows = run(tmp_path, {"function": "rosenbrock", "start": [-1.2, 1.0]},
                        training={"epochs": 30000, "tol_grad": 2e-7,
                                  "line_search": {"name": "backtracking", "initial_step": 1.0, "c1": c1}})
    assert summary["stop_reason"] == "tol_grad"
    assert summary["problem"]["distance"] < 1e-6
    assert math.dist((rows[-1]["x"], rows[-1]["y"]), (1.0, 1.0)) < 1e-6
    # one row: train_loss = f(θ_{k−1}), grad_norm = ‖∇f(θ_{k−1})‖, lr = the accepted t, f = f(θ_k)
    f, before, t, g = column(rows, "f"), column(rows, "train_loss"), column(rows, "lr"), column(rows, "grad_norm")
    assert (t > 0).all()
    slack = 1e-9 * np.abs(before)  # metrics.csv keeps 10 significant digits
    assert (f <= before - c1 * t * g ** 2 + slack).all()
    assert (f[:-1] == before[1:]).all()  # each step starts where the last one ended


def test_subgradient_with_c_over_sqrt_t_steps_keeps_the_best_iterate_and_its_value_falls_like_1_over_sqrt_t(tmp_path):
    c, steps = 0.1, 1600
    summary, rows = run(tmp_path, {"function": "l1", "start": [1.0, 0.6]}, optimizer={"name": "sgd", "lr": c},
                        schedule={"name": "inverse_sqrt"}, training={"epochs": steps, "keep": "best"})
    values = np.concatenate([[1.6], column(rows, "f")])  # f(θ₀), f(θ₁), ...
    best = np.minimum.accumulate(values)
    # the subgradient method's bound: min_{k<t} f(θ_k) − f* ≤ (R² + G² Σ η_k²) / (2 Σ η_k), G² = 2 here
    eta = c / np.sqrt(np.arange(1, steps + 1))
    bound = (np.linalg.norm([1.0, 0.6]) ** 2 + 2 * np.cumsum(eta ** 2)) / (2 * np.cumsum(eta))
    assert (best[1:] <= bound).all()
    # and like 1/√t, no faster: best_t · √t stays within a small band once the kink is reached
    t = np.array([100, 400, 1600])
    scaled = best[t] * np.sqrt(t)
    assert scaled.max() / scaled.min() < 3
    assert best[1600] < best[100] / 2
    assert summary["problem"]["f"] == pytest.approx(min(column(rows, "train_loss")))  # keep: best


@pytest.mark.parametrize("eta", [0.01, 0.04])
def test_subgradient_with_a_constant_step_stalls_at_a_distance_proportional_to_the_step(tmp_path, eta):
    # once at the kink each coordinate flips between a and a − η (0 ≤ a ≤ η): one of the two is ≥ η/2 away
    _, rows = run(tmp_path, {"function": "l1", "start": [0.9871, 0.6123]}, optimizer={"name": "sgd", "lr": eta},
                  training={"epochs": 400})
    d = column(rows, "distance")
    assert eta / 2 <= d[-40:].max() <= math.sqrt(2) * eta
    assert d[-40:].max() == pytest.approx(d[-140:-100].max(), rel=1e-9)  # no progress in the last 100 steps
    assert d[-40:].min() > eta / 20  # (the start is not on the step's grid: it never lands on the kink)


def test_a_saddle_is_a_stationary_point_gd_converges_to_from_its_stable_direction_and_escapes_otherwise(tmp_path):
    stuck, _ = run(tmp_path, {"function": "saddle", "start": [1.0, 0.0]}, name="stuck",
                   optimizer={"name": "sgd", "lr": 0.1}, training={"epochs": 100, "tol_grad": 1e-6})
    assert stuck["stop_reason"] == "tol_grad" and stuck["problem"]["distance"] < 1e-6
    away, rows = run(tmp_path, {"function": "saddle", "start": [1.0, 1e-6]}, name="away",
                     optimizer={"name": "sgd", "lr": 0.1}, training={"epochs": 100, "tol_grad": 1e-6})
    assert away["stop_reason"] == "completed"
    assert column(rows, "y") == pytest.approx(1e-6 * 1.2 ** np.arange(1, 101), rel=1e-8)  # y grows by 1 + 2η


# --- the run directory and the commands -----------------------------------------------------------------------

def test_fit_writes_the_usual_run_directory_with_the_point_columns(tmp_path):
    _, rows = run(tmp_path, {"function": "booth", "start": [-5.0, -5.0]}, optimizer={"name": "sgd", "lr": 0.05},
                  training={"epochs": 5})
    folder = tmp_path / "run"
    assert {p.name for p in folder.iterdir()} >= {"config.yaml", "metrics.csv", "model.npz", "checkpoint.npz",
                                                  "summary.json"}
    header = (folder / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header == ["epoch", "train_loss", "lr", "grad_norm", "x", "y", "f", "step_length", "distance",
                      "clip_fraction", "seconds"]
    # the first step by hand: ∇f(−5, −5) = (10x + 8y − 34, 8x + 10y − 38) = (−124, −128)
    g = np.array([-124.0, -128.0])
    first = np.array([-5.0, -5.0]) - 0.05 * g
    assert (rows[0]["x"], rows[0]["y"]) == pytest.approx(tuple(first))
    assert rows[0]["grad_norm"] == pytest.approx(np.linalg.norm(g))
    assert rows[0]["step_length"] == pytest.approx(0.05 * np.linalg.norm(g))
    assert rows[0]["distance"] == pytest.approx(math.dist(first, (1, 3)))
    assert rows[0]["train_loss"] == pytest.approx((-5 - 10 - 7) ** 2 + (-10 - 5 - 5) ** 2)
    with np.load(folder / "model.npz") as archive:
        assert archive["xy"] == pytest.approx([rows[-1]["x"], rows[-1]["y"]])
    saved = json.loads((folder / "summary.json").read_text())
    assert saved["problem"]["nearest"] == [1.0, 3.0] and saved["problem"]["f_star"] == 0.0
    import yaml

    saved_config = yaml.safe_load((folder / "config.yaml").read_text())
    assert "problem" in saved_config and not {"data", "model", "loss", "regularization"} & set(saved_config)
    assert saved_config["training"]["mode"] == "batch"


def test_a_problem_run_resumes_exactly(tmp_path):
    raw = {"problem": {"function": "rosenbrock"}, "optimizer": {"name": "adam", "lr": 0.01}, "training": {"epochs": 40}}
    whole = fit(from_dict(raw), out=str(tmp_path / "whole"))
    fit(from_dict(dict(raw, training={"epochs": 15})), out=str(tmp_path / "part"))
    resumed = fit(from_dict(raw), resume=str(tmp_path / "part"))
    assert resumed.net.params.tolist() == whole.net.params.tolist()
    assert (tmp_path / "part" / "metrics.csv").read_text().splitlines()[-1].split(",")[:-1] == \
        (tmp_path / "whole" / "metrics.csv").read_text().splitlines()[-1].split(",")[:-1]


runner = CliRunner()


def test_cli_fit_draws_the_path_on_the_contour_map(tmp_path):
    result = runner.invoke(app, ["fit", str(CONFIGS / "quadratic.yaml"), "--out", str(tmp_path / "q"), "--chart",
                                 "--epochs", "40"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "problem   quadratic(condition_number=50, angle=0) from (-4, 1)" in out
    assert "o path (40 steps)  S start  * minimizer" in out
    map_lines = [line for line in out.splitlines() if "|" in line and ("o" in line or "S" in line)]
    assert any("S" in line for line in map_lines) and any("*" in line for line in out.splitlines())
    assert "ended at" in out and "distance to (0, 0)" in out
    assert "\x1b[" not in out  # plain when not a terminal


def test_path_map_marks_the_start_the_minimizer_and_each_path():
    problem = make_problem(resolve_problem({"function": "booth", "start": [-5.0, -5.0]}))
    chart = path_map(problem, {"a": np.array([[-5.0, -5.0], [1.0, 3.0]]), "b": np.array([[-5.0, -5.0], [8.0, -8.0]])},
                     width=60, height=12)
    text = "\n".join(chart.lines[:-1])  # (the last line is the legend)
    assert text.count("S") == 1 and text.count("*") == 1
    assert "1" in text and "2" in text and "1 a  2 b  S start  * minimizer" in chart.lines[-1]
    assert {series for _, _, series in chart.marks} == {0, 1}
    # the start is where (−5, −5) falls on the (−10..10)² window: 12 rows, 40 columns after "-10 |"
    # (row ⌊(10 − (−5))/20 · 12⌋ = 9, column ⌊(−5 + 10)/20 · 40⌋ = 10), the minimizer (1, 3) at row 4, column 22
    assert chart.lines[9].index("S") == 5 + 10
    assert chart.lines[4].index("*") == 5 + 22


def test_compare_optimizers_races_on_a_problem(tmp_path):
    result = runner.invoke(app, ["compare-optimizers", str(CONFIGS / "quadratic.yaml"), "--out",
                                 str(tmp_path / "race")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "race" / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["label"] for r in rows] == ["heavy-ball", "nesterov", "gd"]
    steps = {r["label"]: int(r["steps_to_target"]) for r in rows}
    assert steps["heavy-ball"] < steps["nesterov"] < steps["gd"]
    assert all(float(r["final_distance"]) < 1e-3 for r in rows)
    assert "1 heavy-ball  2 nesterov  3 gd" in result.output
    assert (tmp_path / "race" / "gd" / "metrics.csv").exists()
    assert json.loads((tmp_path / "race" / "summary.json").read_text())["winner"] == "heavy-ball"


def test_a_line_search_contestant_races_too(tmp_path):
    config = load_config(CONFIGS / "rosenbrock.yaml", overrides={"training.epochs": 50})
    from gdtrain.race import problem_race

    race = problem_race.plan(config)
    assert [c.label for c in race.contestants] == ["gd", "momentum", "adam", "backtracking"]
    result = problem_race.run(race, out=str(tmp_path / "race"))
    search = next(o for o in result.standings if o.label == "backtracking")
    with open(Path(search.run_dir) / "metrics.csv") as f:
        assert all(float(row["f"]) <= float(row["train_loss"]) for row in csv.DictReader(f))


@pytest.mark.parametrize("name", ["quadratic", "rosenbrock", "l1_subgradient", "saddle"])
def test_shipped_problem_configs_run(tmp_path, name):
    result = runner.invoke(app, ["fit", name, "--out", str(tmp_path / name), "--epochs", "20"])
    assert result.exit_code == 0, result.output


def test_png_and_gif(tmp_path):
    pytest.importorskip("matplotlib")
    result = runner.invoke(app, ["fit", "rosenbrock", "--out", str(tmp_path / "r"), "--epochs", "20", "--png",
                                 str(tmp_path / "path.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "path.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(app, ["compare-optimizers", "saddle", "--out", str(tmp_path / "s"), "--epochs", "10",
                                 "--png", str(tmp_path / "race.png"), "--gif", str(tmp_path / "race.gif")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "race.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "race.gif").read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    # fit --png on a network run saves its two chart panels (as gdtrain plot --png does)
    result = runner.invoke(app, ["fit", "xor", "--out", str(tmp_path / "x"), "--epochs", "2", "--png",
                                 str(tmp_path / "xor.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "xor.png").read_bytes()[:4] == b"\x89PNG"
    result = runner.invoke(app, ["compare-optimizers", "xor", "--optimizers", "sgd", "--epochs", "1", "--out",
                                 str(tmp_path / "nx"), "--gif", str(tmp_path / "n.gif")])
    assert result.exit_code == 2 and "--gif: animates the paths of a problem race" in result.output


def test_gradcheck_and_explain_on_problems(tmp_path, monkeypatch):
    from gdtrain import shipped_configs

    # the configs of this checkout (an editable install elsewhere would list its own)
    monkeypatch.setattr(shipped_configs, "shipped_configs", lambda: sorted((p.stem, p) for p in CONFIGS.glob("*.yaml")))
    result = runner.invoke(app, ["gradcheck", "rosenbrock"])
    assert result.exit_code == 0 and "all points pass" in result.output
    result = runner.invoke(app, ["explain", "himmelblau"])
    assert result.exit_code == 0
    assert "(x² + y − 11)² + (x + y² − 7)²" in result.output and "(3, 2)" in result.output
    assert "(-2.805, 3.131)" in result.output and "f* = 0" in result.output
    result = runner.invoke(app, ["explain", "rosenbrock"])
    assert "configs/rosenbrock.yaml" in result.output and "∇f" in result.output


# --- bad input --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, message", [
    ({"problem": {"function": "rosenbrok"}},
     "problem.function: unknown function 'rosenbrok'; did you mean 'rosenbrock'?"),
    ({"problem": {"function": "booth", "start": [1.0, 2.0, 3.0]}},
     "problem.start: must be a point [x, y] of 2 numbers (the function is 2-D), got 3 numbers"),
    ({"problem": {"function": "booth", "start": [1.0, float("nan")]}}, "problem.start[1]: must be a finite number"),
    ({"problem": {"function": "booth", "start": [1.0, float("inf")]}}, "problem.start[1]: must be a finite number"),
    ({"problem": {"function": "booth", "start": 1.0}}, "problem.start: must be a point [x, y]"),
    ({"problem": {"function": "rosenbrock"}, "data": {"source": "iris"}},
     "data: problem and data exclude each other"),
    ({"problem": {"function": "rosenbrock"}, "model": {"hidden": []}}, "model: problem and model exclude each other"),
    ({"problem": {"function": "rosenbrock"}, "loss": "mse"}, "loss: problem and loss exclude each other"),
    ({"problem": {"function": "quadratic", "condition_number": 0.5}},
     "problem.condition_number: must be >= 1, got 0.5"),
    ({"problem": {"function": "booth", "a": 1}}, "problem.a: function 'booth' takes no option 'a'"),
    ({"problem": {"function": "booth"}, "training": {"mode": "minibatch"}},
     "training.mode: a problem has no samples to batch"),
    ({"problem": {"function": "booth"}, "training": {"early_stopping": True}},
     "training.early_stopping.monitor: val_loss needs validation data, and a problem has none"),
    ({"problem": {"function": "booth"}, "regularization": {"l2": 0.1}},
     "regularization: problem and regularization exclude each other (f is the whole objective)"),
    ({"compare": {"line_searches": ["backtracking"]}}, "compare.line_searches: races line searches on a problem:"),
    ({"problem": {"function": "booth"}, "compare": {"line_searches": ["backtrack"]}},
     "compare.line_searches[0].name: unknown line search 'backtrack'; did you mean 'backtracking'?"),
])
def test_bad_problem_configs_are_one_line_naming_the_key(raw, message):
    with pytest.raises(ConfigError) as err:
        from_dict(raw)
    assert str(err.value).startswith(message), str(err.value)


def test_bad_problem_input_through_the_cli_is_exit_2_and_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("problem: {function: himmelblau, start: [1.0]}\ndata: {source: iris}\n")
    result = runner.invoke(app, ["fit", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: data: problem and data exclude each other (a problem replaces data, model and loss); remove data "
        "(or problem)"]
    bad.write_text("problem: {function: himmelblau, start: [1.0]}\n")
    result = runner.invoke(app, ["fit", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "problem.start: must be a point [x, y] of 2 numbers" in result.output
    result = runner.invoke(app, ["compare-optimizers", "saddle", "--seeds", "3", "--out", str(tmp_path / "y")])
    assert result.exit_code == 2 and "--seeds: a problem race has no randomness" in result.output
    result = runner.invoke(app, ["compare-optimizers", "saddle", "--workers", "2", "--out", str(tmp_path / "z")])
    assert result.exit_code == 2 and "--workers: a problem race runs its contestants one after the other" in \
        result.output and not (tmp_path / "z").exists()


def test_validate_evaluate_and_predict_on_a_problem_run(tmp_path):
    result = runner.invoke(app, ["validate", "rosenbrock", "--data", "-q"])
    assert result.exit_code == 0
    assert result.output.strip().endswith("is valid: problem rosenbrock(a=1, b=100) from (-1.2, 1); sgd(lr=0.001), "
                                          "full batch, 3000 epochs")
    assert runner.invoke(app, ["fit", "quadratic", "--out", str(tmp_path / "b"), "--epochs", "3"]).exit_code == 0
    for command in (["evaluate", str(tmp_path / "b")], ["predict", str(tmp_path / "b"), str(tmp_path / "b" / "x.csv")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2
        assert "holds the point of a problem: run (a 2-D test function), not a network" in result.output


@pytest.mark.parametrize("width", [80, 200])
def test_a_problem_run_fits_the_terminal(tmp_path, width):
    """Step lines, header and ending of `gdtrain fit` on a problem fit an 80- and a 200-column terminal."""
    import io
    import re

    from rich.console import Console

    from gdtrain.render.landscape import ProblemReporter
    from gdtrain.resources import find_config
    from gdtrain.config import load_config
    from gdtrain.experiment import fit

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=True, highlight=False, markup=False)
    reporter = ProblemReporter(console=console, chart=True)
    config = load_config(find_config("rosenbrock"), overrides={"training.epochs": 5})
    reporter.finish(fit(config, out=str(tmp_path / "rb"), on_start=reporter.start, on_epoch=reporter.epoch))
    lines = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text) for text in buffer.getvalue().splitlines()]
    assert max(len(text) for text in lines) <= width
    steps = [text for text in lines if text.startswith("step ")]
    assert len(steps) == 5 and all(" x " in t and " y " in t and " f " in t for t in steps)
    assert all((" lr " in t) == (width == 200) for t in steps)
