"""Output that fits (issue 15): epoch lines within the terminal's width, plain ASCII-safe piped output for every
command, gradcheck's hint on a bad ε, ``gdtrain --version``, and the training accuracy next to the validation one."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

import gdtrain
from gdtrain.render.catalog import explanations
from gdtrain.render.fit import FitReporter
from gdtrain.cli import app
from gdtrain.resources import find_config
from gdtrain.config import from_dict, load_config
from gdtrain.experiment import fit, setup
from gdtrain.network import Network

REPO = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX_DRAWING = re.compile("[\u2500-\u259f]")  # box drawing and block elements
PIPED = {"CI": None, "NO_COLOR": None, "FORCE_COLOR": None, "TERM": "xterm-256color"}  # piped, nothing else


def read_rows(run_dir):
    with open(Path(run_dir) / "metrics.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- epoch lines that fit the terminal ------------------------------------------------------------

def fit_on_terminal(name: str, width: int, tmp_path: Path, epochs: int, **overrides) -> list:
    """``gdtrain fit NAME`` rendered on a fake terminal ``width`` columns wide: the lines, without colour codes."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=True, highlight=False, markup=False)
    reporter = FitReporter(console=console, chart=True)
    config = load_config(find_config(name), overrides={"training.epochs": epochs, **overrides})
    result = fit(config, out=str(tmp_path / f"{name}-{width}"), on_start=reporter.start, on_epoch=reporter.epoch)
    reporter.finish(result)
    return ANSI.sub("", buffer.getvalue()).splitlines()


NUMBER = r"-?[0-9][0-9.e+-]*"
EPOCH_LINE = re.compile(r"^epoch +\d+/\d+ ")
CLASSIFICATION_LINE = re.compile(rf"^epoch +\d+/\d+  train {NUMBER} +acc [01]\.\d{{4}}  val {NUMBER} +acc [01]\.\d{{4}}")
REGRESSION_LINE = re.compile(rf"^epoch +\d+/\d+  train {NUMBER} +val {NUMBER} +r2 {NUMBER}")


@pytest.mark.parametrize("name, epochs, line", [
    ("vanishing", 4, CLASSIFICATION_LINE),  # 8 weight layers
    ("vanishing_batchnorm", 3, CLASSIFICATION_LINE),
    ("vanishing_residual", 3, CLASSIFICATION_LINE),
    ("cosine_warmup", 3, CLASSIFICATION_LINE),  # a changing lr
    ("exploding", 3, REGRESSION_LINE),  # regression, clipping
], ids=["vanishing", "vanishing_batchnorm", "vanishing_residual", "cosine_warmup", "exploding"])
@pytest.mark.parametrize("width", [80, 200])
def test_fit_output_fits_the_terminal(tmp_path, name, epochs, line, width):
    lines = fit_on_terminal(name, width, tmp_path, epochs)
    assert max(len(text) for text in lines) <= width, "\n".join(t for t in lines if len(t) > width)
    epoch_lines = [text for text in lines if EPOCH_LINE.match(text)]
    assert len(epoch_lines) == epochs  # every epoch, whole: the key figures always there
    assert all(line.match(text) for text in epoch_lines), epoch_lines
    if width == 200:  # room for everything: lr, |g|, every layer's gradient norm, the seconds
        assert all(" lr " in text and " |g| " in text and "W1 " in text and text.endswith("s") for text in epoch_lines)
        assert not any("in the layer table, every" in text for text in lines)
    if name == "exploding":
        assert all("clipped 100%" in text for text in epoch_lines)
    if name == "cosine_warmup":  # the lr changes: it keeps its column even at 80
        assert all(" lr " in text for text in epoch_lines)


def test_a_narrow_terminal_moves_the_layer_norms_to_a_periodic_layer_table(tmp_path):
    lines = fit_on_terminal("vanishing", 80, tmp_path, 12)
    epoch_lines = [i for i, text in enumerate(lines) if EPOCH_LINE.match(text)]
    assert not any("[W1" in lines[i] for i in epoch_lines)
    note = next(i for i, text in enumerate(lines) if "‖∂J/∂W‖: in the layer table, every 10 lines" in text)
    assert note == epoch_lines[0] + 1
    tables = [i for i, text in enumerate(lines) if text.startswith("layer ") and "units" in text]
    # after epoch 1, after epoch 11 (10 lines on) and the final one
    assert len(tables) == 3 and tables[0] == note + 1
    assert lines[tables[1] - 1].startswith("epoch 11/12")
    for i in tables:
        rows = [text.split()[0] for text in lines[i + 1:i + 9]]
        assert rows == [f"W{k}" for k in range(1, 9)]


def test_a_medium_terminal_keeps_a_compact_form_of_the_layer_norms(tmp_path):
    lines = fit_on_terminal("vanishing", 100, tmp_path, 2)
    epoch_lines = [text for text in lines if EPOCH_LINE.match(text)]
    assert len(epoch_lines) == 2
    assert all(re.search(r"\[W1 [0-9.e-]+ … W8 [0-9.e-]+\]$", text) for text in epoch_lines), epoch_lines
    assert max(len(text) for text in lines) <= 100


def test_epoch_layout_gives_way_in_order_and_never_goes_back():
    from gdtrain.render.epoch_line import EpochLine
    from gdtrain.train import EpochRecord

    norms = {"grad_norm": 0.595, **{f"grad_norm_W{k}": 10.0 ** (k - 6) for k in range(1, 9)}}
    record = EpochRecord(7, 2.345, {"loss": 2.307, "accuracy": 0.1004}, 0.1, norms, {}, 0.0, 40, 1.25,
                         train={"accuracy": 0.10087})
    wide = EpochLine(40).line(record, 200)
    assert wide == ("epoch  7/40  train 2.345    acc 0.1009  val 2.307    acc 0.1004  lr 0.1    |g| 0.595   "
                    "[W1 1.0e-05 W2 1.0e-04 W3 0.001 W4 0.01 W5 0.1 W6 1 W7 10 W8 1e+02]  1.2s")
    layout = EpochLine(40)
    assert layout.line(record, 116).endswith("[W1 1.0e-05 … W8 1e+02]  1.2s")  # 1. compact (116 characters)
    assert layout.line(record, 200).endswith("[W1 1.0e-05 … W8 1e+02]  1.2s")  # ... and it stays so
    assert layout.line(record, 115) == ("epoch  7/40  train 2.345  acc 0.1009  val 2.307  acc 0.1004  lr 0.1    "
                                        "|g| 0.595   [W1 1.0e-05 … W8 1e+02]")  # 2. no seconds, narrower columns
    assert " lr " not in layout.line(record, 105)  # 3. a constant lr goes (the header shows it) (96)
    assert not layout.layers_in_table
    assert layout.line(record, 95) == "epoch  7/40  train 2.345  acc 0.1009  val 2.307  acc 0.1004  |g| 0.595"
    assert layout.layers_in_table  # 4. the per-layer norms go to the layer table
    assert layout.line(record, 69) == "epoch  7/40  train 2.345  acc 0.1009  val 2.307  acc 0.1004"  # 5. no |g|
    assert layout.line(record, 40) == "epoch 7/40 train 2.345 acc 0.1009 val 2.307 acc 0.1004"  # never shorter
    changing = EpochLine(40, lr_changes=True)
    assert changing.line(record, 80) == "epoch  7/40  train 2.345  acc 0.1009  val 2.307  acc 0.1004  lr 0.1    |g| 0.595"
    assert changing.line(record, 77) == "epoch  7/40  train 2.345  acc 0.1009  val 2.307  acc 0.1004  lr 0.1"


# --- every command's piped output is plain text ---------------------------------------------------

TINY = {"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 6, "activation": "tanh"}]},
        "training": {"mode": "batch", "epochs": 3}}


def test_every_command_piped_is_plain_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    rows = tmp_path / "rows.csv"
    rows.write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    runner = CliRunner()
    commands = [
        ["fit", config, "--out", "run", "--chart"],
        ["gradcheck"],
        ["gradcheck", config, "--samples", 8],
        ["evaluate", "run"],
        ["predict", "run", rows],
        ["plot", "run"],
        ["compare-optimizers", config, "--optimizers", "sgd,adam", "--epochs", 2, "--out", "race"],
        ["plot", "race"],
        ["list"], ["list", "optimizers"], ["list", "config"],
        ["explain", "adam"], ["explain", "sgd"],
        ["init", "starter.yaml"],
        ["validate", config], ["validate", config, "--data", "--quiet"],
        ["schema"],
        ["--version"],
    ]
    for args in commands:
        result = runner.invoke(app, [str(a) for a in args], env=PIPED)
        assert result.exit_code == 0, (args, result.output[-2000:])
        assert result.output.strip(), args
        assert "\x1b" not in result.output, args
        drawn = sorted(set(BOX_DRAWING.findall(result.output)))
        assert not drawn, (args, drawn)
    # the plot of a run is drawn with ASCII axes
    plotted = runner.invoke(app, ["plot", "run"], env=PIPED).output
    assert re.search(r"^ +\S+ \+", plotted, re.M) and re.search(r"^ +\+[+-]+$", plotted, re.M)


def test_explain_rules_between_entries_are_ascii_when_piped():
    from gdtrain import catalog

    entries = catalog.explain("adam") + catalog.explain("sgd")  # (no name explains two entries today)
    for terminal, rule in ((False, "-"), (True, "─")):
        buffer = io.StringIO()
        explanations(entries, Console(file=buffer, width=60, force_terminal=terminal, color_system=None))
        lines = ANSI.sub("", buffer.getvalue()).splitlines()
        assert rule * 60 in lines
        assert bool(BOX_DRAWING.search(buffer.getvalue())) == terminal


def test_gradcheck_into_a_real_pipe_draws_ascii_tables():
    """The issue's report, as it was: `gdtrain gradcheck | cat` drew box-drawing tables."""
    out = subprocess.run([sys.executable, "-m", "gdtrain", "gradcheck", "iris", "--samples", "8"],
                         capture_output=True, text=True, encoding="utf-8", cwd=REPO,
                         env={**_clean_env(), "PYTHONPATH": str(REPO)}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert not BOX_DRAWING.search(out.stdout) and "\x1b" not in out.stdout
    lines = out.stdout.splitlines()
    assert lines[1].split() == ["tensor", "|", "size", "|", "checked", "|", "kinks", "|", "max", "|a−n|", "|",
                                "rel", "error", "|"]
    assert set(lines[2]) == {"-", "+"}
    assert [line.split()[0] for line in lines[3:7]] == ["W1", "b1", "W2", "b2"]


def _clean_env():
    import os

    return {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR")}


# --- gdtrain --version ----------------------------------------------------------------------------

def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"gdtrain {gdtrain.__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+", gdtrain.__version__)
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" in project["project"]["dynamic"]  # the package metadata is read from gdtrain.__version__
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "gdtrain.__version__"}


# --- training accuracy ----------------------------------------------------------------------------

def test_train_accuracy_in_batch_mode_is_the_accuracy_of_the_step_s_starting_weights(tmp_path):
    """Batch mode, no dropout: epoch k's train_accuracy is the accuracy of the weights epoch k starts from, read
    from the loss pass (as train_loss is that pass's objective)."""
    config = from_dict(TINY, name="tiny")
    built = setup(config)
    start = float(np.mean(built.loss.classes(built.net.forward(built.data.X_train)) == built.data.y_train))
    one = fit(from_dict({**TINY, "training": {"mode": "batch", "epochs": 1}}, name="one"), out=str(tmp_path / "one"))
    rows = read_rows(fit(config, out=str(tmp_path / "three")).run_dir)
    assert float(rows[0]["train_accuracy"]) == pytest.approx(start, abs=1e-9)
    assert float(rows[1]["train_accuracy"]) == pytest.approx(one.summary["train"]["accuracy"], abs=1e-9)
    assert list(rows[0])[:4] == ["epoch", "train_loss", "train_accuracy", "val_loss"]


def test_train_accuracy_of_mini_batches_is_the_mean_over_samples(tmp_path):
    """Weights frozen, so every batch sees the same network: Σ correct / Σ samples over the epoch's batches equals
    the accuracy on the whole training split — also with a last batch smaller than the others (102 = 6 × 16 + 6),
    where a plain mean of the batch accuracies would not."""
    raw = {**TINY, "model": {"hidden": [{"units": 6, "activation": "tanh"}], "freeze": ["W1", "b1", "W2", "b2"]},
           "training": {"mode": "minibatch", "batch_size": 16, "epochs": 2}}
    result = fit(from_dict(raw, name="frozen"), out=str(tmp_path / "frozen"))
    assert result.data.splits["train"] % 16 != 0
    for record in result.train.history:
        assert record.train["accuracy"] == pytest.approx(result.summary["train"]["accuracy"], abs=1e-12)


def test_train_accuracy_costs_no_extra_forward_pass(tmp_path, monkeypatch):
    calls = []
    forward = Network.forward
    monkeypatch.setattr(Network, "forward", lambda self, *a, **k: calls.append(1) or forward(self, *a, **k))
    result = fit(from_dict(TINY, name="tiny"), out=str(tmp_path / "count"))
    assert "accuracy" in result.train.history[0].train
    # per epoch: the training step's pass and the validation pass; then train / validation / test at the end
    assert len(calls) == 3 * 2 + 3


def test_regression_has_no_train_accuracy(tmp_path):
    raw = {"seed": 0, "data": {"source": "sine", "n_samples": 60}, "loss": "mse",
           "model": {"hidden": [{"units": 4, "activation": "tanh"}]}, "training": {"epochs": 2}}
    rows = read_rows(fit(from_dict(raw, name="sine"), out=str(tmp_path / "sine")).run_dir)
    assert not any(key.startswith("train_") and key != "train_loss" for key in rows[0])


# --- gradcheck: which error dominates a failure ----------------------------------------------------

def gradcheck(*args):
    result = CliRunner().invoke(app, ["gradcheck", *[str(a) for a in args]], env={"CI": "true"})
    hints = [line for line in result.output.splitlines() if line.startswith("hint: ")]
    return result, hints


@pytest.mark.parametrize("epsilon, start, cause", [
    ("1e-12", "hint: ε = 1e-12 is too small: at ε = 2.5e-13 the error grew", "round-off ε_mach·|J|/ε"),
    ("1e-2", "hint: ε = 0.01 is too large: at ε = 0.0025 the error fell 16.0× (error ∝ ε^2)", "truncation error"),
])
def test_gradcheck_says_which_error_dominates_a_bad_epsilon(epsilon, start, cause):
    result, hints = gradcheck("iris", "--samples", 8, "--epsilon", epsilon)
    assert result.exit_code == 1 and "FAILED: " in result.output
    assert len(hints) == 1 and hints[0].startswith(start) and cause in hints[0], hints
    assert hints[0].endswith("At the recommended ε = 1e-06 every tensor passes.")


def test_gradcheck_says_a_planted_bug_is_the_gradient_not_the_step():
    result, hints = gradcheck("iris", "--samples", 8, "--bug", "tanh-derivative")
    assert result.exit_code == 1
    assert hints == ["hint: at ε = 2.5e-07 the error stayed as it was (×1.00) (error ∝ ε^0): the error does not "
                     "depend on the step, so it is not the difference quotient's — backpropagation's gradient of "
                     "W1, b1 is wrong."]
    result, hints = gradcheck("iris", "--samples", 8)
    assert result.exit_code == 0 and hints == []


def test_gradcheck_self_test_hint():
    result, hints = gradcheck("--epsilon", "1e-12")
    assert result.exit_code == 1 and len(hints) == 1 and "is too small" in hints[0]


def test_step_diagnosis_classifies_by_how_the_error_scales():
    from gdtrain.gradcheck import DEFAULT_EPSILON, StepDiagnosis, TensorCheck, diagnose_step

    for ratio, order, cause in ((1 / 16, 2.0, "truncation"), (4.0, -1.0, "round-off"), (1.0, 0.0, "gradient"),
                                (0.5, 0.5, "mixed"), (0.0, None, "mixed")):
        d = StepDiagnosis(1e-3, ratio, ["W1"])
        assert d.cause == cause
        if order is not None:
            assert d.order == pytest.approx(order)
    asked = []

    def check(eps, law=lambda e: 5 * e ** 2):  # an error of 5ε² on W1 (truncation); b1 always exact
        asked.append(eps)
        err = law(eps)
        return [TensorCheck("W1", 4, 4, 0, err, err, err < 1e-8), TensorCheck("b1", 2, 2, 0, 0.0, 0.0, True)]

    d = diagnose_step(check, 1e-2, check(1e-2))
    assert asked == [1e-2, 2.5e-3, DEFAULT_EPSILON]
    assert (d.cause, d.failed, d.passes_at_default) == ("truncation", ["W1"], True)
    assert d.ratio == pytest.approx(1 / 16)
    d = diagnose_step(lambda eps: check(eps, lambda e: 0.01), DEFAULT_EPSILON, check(DEFAULT_EPSILON, lambda e: 0.01))
    assert (d.cause, d.passes_at_default) == ("gradient", None)  # at the recommended ε: not re-run there
