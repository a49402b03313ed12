"""``gdtrain plot`` and plot.py: the text charts' geometry, the log-scale gradient panel, edge cases, the PNG."""

from __future__ import annotations

import csv
import math
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gdtrain.cli import app
from gdtrain.plot import MARKERS, chart, grad_chart, loss_chart, plot_lines, read_metrics

ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BOX_DRAWING = re.compile("[\u2500-\u259f]")


def invoke(args):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


def write_metrics(run_dir: Path, rows):
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return run_dir


def vanishing_rows(epochs=30):
    """Three layers whose gradient norms sit 5 orders of magnitude apart: W1 = 1e-6, W2 = 1e-3, W3 = 1e-1."""
    return [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "lr": 0.1, "grad_norm": 0.1,
             "grad_norm_W1": 1e-6 * (1 + 0.01 * e), "grad_norm_W2": 1e-3, "grad_norm_W3": 1e-1, "seconds": e}
            for e in range(1, epochs + 1)]


ASCII_AXIS = re.compile(r"^ *\S* [+|](?![+-]*-[+-]*$)")  # a y-axis row as piped output draws it: ' 1.2 +*', '     | o'


def canvas(lines):
    """The plot-area rows of a chart: the lines drawn against the y-axis (box-drawing or, piped, ASCII)."""
    return [line for line in lines if "┤" in line or "│" in line or ASCII_AXIS.match(line)]


def marker_rows(lines, marker):
    """Indices (top = 0) of the plot-area rows where ``marker`` appears, right of the y-axis."""
    rows = canvas(lines)
    return [i for i, line in enumerate(rows) if marker in line.split("┤" if "┤" in line else "│", 1)[1]]


@pytest.mark.parametrize("width,height", [(40, 5), (72, 10), (120, 20)])
def test_chart_has_the_requested_geometry(width, height):
    result = loss_chart(vanishing_rows(), width, height)
    assert len(canvas(result.lines)) == height
    assert max(len(line) for line in result.lines) == width
    axis = next(line for line in result.lines if "└" in line)
    assert len(axis) == width
    assert all("\x1b" not in line for line in result.lines)
    ticks = result.lines[result.lines.index(axis) + 1].split()
    assert ticks[0] == "1" and ticks[-1] in ("30", "epoch") and "30" in ticks[-2:]


def test_one_marker_per_series_and_a_legend():
    lines = loss_chart(vanishing_rows(), 60, 10).lines
    assert "* train_loss   o val_loss" in lines
    assert marker_rows(lines, "*") and marker_rows(lines, "o")
    # both losses fall: the first epoch's marker is in the top row, the last in the bottom rows
    assert marker_rows(lines, "o")[0] == 0


def test_log_scale_orders_the_layers():
    lines = grad_chart(vanishing_rows(), 60, 12).lines
    assert "gradient norm per layer ‖∂J/∂W‖, log scale" in lines[0]
    assert "* W1   o W2   + W3" in lines
    w1, w2, w3 = (marker_rows(lines, m) for m in "*o+")
    assert w1 and w2 and w3
    assert min(w1) > max(w2) > max(w3)  # W1 (1e-6) below W2 (1e-3) below W3 (1e-1)
    assert w1 == [11] and w3 == [0]  # the extremes of the axis
    labels = [line.split("┤")[0].strip() for line in canvas(lines) if "┤" in line]
    assert labels[0] == "0.1" and labels[-1] == "1e-06"  # tick labels in powers of ten
    assert any(line.startswith("epoch 30: ‖∂J/∂W1‖ / ‖∂J/∂W3‖ = 1.3e-05") for line in lines)


def test_nan_inf_and_zero_values_are_skipped_on_the_log_scale():
    rows = vanishing_rows(10)
    rows[2]["grad_norm_W1"] = math.nan
    rows[3]["grad_norm_W1"] = 0.0
    rows[4]["grad_norm_W2"] = math.inf
    rows[5]["train_loss"] = math.nan
    lines = grad_chart(rows, 50, 8).lines
    assert "(3 values not drawn: NaN, inf or ≤ 0)" in lines
    assert marker_rows(lines, "*") == [7]
    lines = loss_chart(rows, 50, 8).lines
    assert "(1 value not drawn: NaN or inf)" in lines
    everything_bad = chart([1, 2], {"W1": [0.0, math.nan]}, 40, 5, log=True)
    assert "* W1 (nothing to draw)" in everything_bad.lines
    assert len(canvas(everything_bad.lines)) == 5


def test_a_single_epoch():
    rows = vanishing_rows(1)
    for result in (loss_chart(rows, 40, 6), grad_chart(rows, 40, 6)):
        assert len(canvas(result.lines)) == 6
        axis_index = next(i for i, line in enumerate(result.lines) if "└" in line)
        assert result.lines[axis_index + 1].split() == ["1", "epoch"]
    lines = grad_chart(rows, 40, 6).lines
    assert min(marker_rows(lines, "*")) > max(marker_rows(lines, "+"))


def test_a_constant_series_sits_in_the_middle():
    lines = chart([1, 2, 3, 4], {"loss": [0.5] * 4}, 40, 9).lines
    assert marker_rows(lines, "*") == [4]
    lines = chart([1, 2, 3], {"W1": [0.0] * 3}, 40, 9).lines  # constant 0: fine on a linear axis
    assert marker_rows(lines, "*") == [4]


def test_many_epochs_are_downsampled_to_the_width():
    rows = [{"epoch": e, "train_loss": 1.0 / e, "grad_norm_W1": 1e-3, "grad_norm_W2": 1.0} for e in range(1, 5001)]
    lines = plot_lines(rows, 50, 8)
    assert max(len(line) for line in lines) == 50
    assert len(canvas(lines)) == 16  # two panels of 8 rows


def test_a_run_without_validation_has_no_val_loss_series():
    rows = [{k: v for k, v in row.items() if k != "val_loss"} for row in vanishing_rows(5)]
    lines = loss_chart(rows, 40, 5).lines
    assert "* train_loss" in lines and not any("val_loss" in line for line in lines)
    assert len(MARKERS) == len(set(MARKERS))


def test_plot_cli_prints_both_panels(tmp_path):
    run = write_metrics(tmp_path / "run", vanishing_rows())
    result = invoke(["plot", run, "--width", 64, "--height", 8])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{run / 'metrics.csv'}: 30 epochs"
    assert "loss" in lines and "* W1   o W2   + W3" in lines
    assert len(canvas(lines)) == 16
    assert max(len(line) for line in lines[1:]) == 64
    assert "\x1b[" not in result.output
    assert not BOX_DRAWING.search(result.output)  # piped: the axes are drawn with '|', '+' and '-'
    assert sum(1 for line in lines if "-" in line and set(line.strip()) == {"+", "-"}) == 2  # two x-axes


def test_plot_reads_a_real_run(tmp_path):
    from gdtrain.config import from_dict
    from gdtrain.experiment import fit

    config = from_dict({"seed": 0, "data": {"source": "xor", "n_samples": 40},
                        "model": {"hidden": [{"units": 4, "activation": "sigmoid"}, {"units": 4, "activation": "sigmoid"}]},
                        "training": {"mode": "batch", "epochs": 4}})
    run = fit(config, out=str(tmp_path / "run")).run_dir
    rows = read_metrics(run / "metrics.csv")
    assert len(rows) == 4 and {"grad_norm_W1", "grad_norm_W2", "grad_norm_W3"} <= set(rows[0])
    result = invoke(["plot", run, "--width", 60, "--height", 6])
    assert result.exit_code == 0, result.output
    assert "* W1   o W2   + W3" in result.output


def test_plot_png_is_a_valid_png(tmp_path):
    pytest.importorskip("matplotlib")
    run = write_metrics(tmp_path / "run", vanishing_rows())
    png = tmp_path / "curves.png"
    result = invoke(["plot", run, "--png", png, "--width", 50, "--height", 5])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    assert result.output.splitlines()[-1] == f"saved {png}"


def test_plot_png_without_matplotlib_is_one_clear_error(tmp_path, monkeypatch):
    run = write_metrics(tmp_path / "run", vanishing_rows())
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    result = invoke(["plot", run, "--png", tmp_path / "x.png"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --png needs matplotlib (pip install matplotlib)"
    assert not (tmp_path / "x.png").exists()


def test_plot_bad_input(tmp_path):
    for args, fragment in (([tmp_path / "nope"], "no such run directory"),
                           ([tmp_path], "metrics.csv: no such file")):
        result = invoke(["plot", *args])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert result.output.startswith("error: ") and fragment in result.output
    (tmp_path / "header").mkdir()
    (tmp_path / "header" / "metrics.csv").write_text("epoch,train_loss\n")
    result = invoke(["plot", tmp_path / "header"])
    assert result.exit_code == 2 and "no epochs recorded yet" in result.output
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "metrics.csv").write_text("epoch,train_loss\n1,abc\n")
    result = invoke(["plot", tmp_path / "junk"])
    assert result.exit_code == 2 and "column 'train_loss': not a number: 'abc'" in result.output
    assert invoke(["plot", tmp_path / "header", "--width", 5]).exit_code == 2  # below the minimum width


def test_a_series_hidden_under_another_says_so():
    lines = chart([1, 2, 3], {"W1": [1e-3, 1e-3, 1e-3], "W2": [1e-3, 1e-3, 1e-3], "W3": [1.0, 1.0, 1.0]},
                  40, 6, log=True).lines
    assert "* W1 (hidden under o W2)   o W2   + W3" in lines
    assert not marker_rows(lines, "*") and marker_rows(lines, "o") == [5] and marker_rows(lines, "+") == [0]


# --- the accuracy / r2 panel and a race redrawn (issue 15) ----------------------------------------

def test_plot_has_an_accuracy_panel_and_regression_an_r2_one(tmp_path):
    from gdtrain.config import from_dict
    from gdtrain.experiment import fit

    base = {"seed": 0, "model": {"hidden": [{"units": 4, "activation": "tanh"}]}, "training": {"epochs": 3}}
    classifier = fit(from_dict({**base, "data": {"source": "iris"}}, name="c"), out=str(tmp_path / "c")).run_dir
    lines = invoke(["plot", classifier, "--width", 60, "--height", 4]).output.splitlines()
    assert [line for line in lines if line in ("loss", "accuracy")] == ["loss", "accuracy"]
    assert "* train_accuracy   o val_accuracy" in lines
    assert len(canvas(lines)) == 3 * 4  # loss, accuracy, gradient norms
    rows = read_metrics(classifier / "metrics.csv")
    top = next(line for line in lines[lines.index("accuracy"):] if ASCII_AXIS.match(line))
    best = max(max(r["train_accuracy"], r["val_accuracy"]) for r in rows)
    assert float(top.split()[0]) == pytest.approx(best, abs=5e-4)  # the axis spans the values drawn
    regressor = fit(from_dict({**base, "data": {"source": "sine", "n_samples": 60}, "loss": "mse"}, name="r"),
                    out=str(tmp_path / "r")).run_dir
    lines = invoke(["plot", regressor, "--width", 60, "--height", 4]).output.splitlines()
    assert "r2" in lines and "* val_r2" in lines and "accuracy" not in lines


def tiny_race(tmp_path, seeds=2):
    from gdtrain import race as compare
    from gdtrain.config import from_dict

    config = from_dict({"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 4, "activation": "tanh"}]},
                        "training": {"mode": "batch", "epochs": 4}}, name="tiny")
    return compare.run(compare.plan(config, optimizers="sgd,adam", seeds=seeds), out=str(tmp_path / "race"))


def test_a_race_read_back_from_its_files_has_the_curves_the_race_drew(tmp_path):
    from gdtrain import race as compare
    from gdtrain.plot import is_race_dir, read_race

    result = tiny_race(tmp_path)
    assert is_race_dir(result.out_dir) and not is_race_dir(result.out_dir / "adam" / "seed-0")
    race = read_race(result.out_dir)
    assert [c.label for c in race.contestants] == [s.label for s in result.standings]  # ranked order
    assert race.seeds == [0, 1] and race.metric == "accuracy" and race.kind == "optimizers"
    for key in ("train_loss", "val_loss", "val_accuracy"):
        live = compare.epoch_curves(result, key)
        again = {label.removesuffix(" ★"): values for label, values in race.curves(key).items()}
        assert again.keys() == live.keys()
        for label in live:
            assert again[label] == pytest.approx(live[label], rel=1e-9)
    winner = result.winner.label
    assert f"{winner} ★" in race.curves("train_loss")


def test_plot_redraws_a_race_directory(tmp_path):
    result = tiny_race(tmp_path)
    out = invoke(["plot", result.out_dir, "--width", 60, "--height", 4])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == f"{result.out_dir}: a race of 2 optimizers on tiny, seeds 0-1, won by {result.winner.label} ★"
    titles = [line for line in lines if line.endswith("per epoch, mean over seeds") or "log scale" in line]
    assert titles[:3] == ["train loss per epoch, mean over seeds", "validation loss per epoch, mean over seeds",
                          "validation accuracy per epoch, mean over seeds"]
    assert len(canvas(lines)) == 3 * 4
    legend = f"* {result.standings[0].label} ★   o {result.standings[1].label}"
    assert lines.count(legend) == 3
    assert not BOX_DRAWING.search(out.output)


def test_plot_race_png(tmp_path):
    pytest.importorskip("matplotlib")
    result = tiny_race(tmp_path, seeds=1)
    png = tmp_path / "race.png"
    out = invoke(["plot", result.out_dir, "--png", png])
    assert out.exit_code == 0, out.output
    assert png.read_bytes()[:8] == PNG_SIGNATURE and out.output.splitlines()[-1] == f"saved {png}"


def test_plot_of_a_broken_race_directory_is_one_line(tmp_path):
    result = tiny_race(tmp_path, seeds=1)
    (result.out_dir / "summary.json").write_text('{"kind": "optimizers"}')
    out = invoke(["plot", result.out_dir])
    assert out.exit_code == 2
    assert out.output.startswith(f"error: {result.out_dir / 'summary.json'}: not a compare-optimizers summary")
    (result.out_dir / "summary.json").write_text("{not json")
    out = invoke(["plot", result.out_dir])
    assert out.exit_code == 2 and "summary.json: cannot read (JSONDecodeError" in out.output
    assert len(out.output.strip().splitlines()) == 1
