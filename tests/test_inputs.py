"""Issue 14: inputs that used to reach "internal error" or give silently wrong output.

  - a model.npz that does not match itself is refused on load (inference.model_file.check_model), one line naming the
    array;
  - regression metrics are computed in float64 (r2 of huge targets);
  - float32 regression targets beyond float32's range are refused like features;
  - an .npz member that is not .npy data, an IDX header with a silly ndim: one clean line;
  - the memory estimate of the whole network (input and output layers included) against the machine's memory;
  - a config file larger than 4 MiB is refused before parsing;
  - a stdout that cannot encode Unicode gets ASCII symbols instead of a UnicodeEncodeError.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gdtrain.cli import app

ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
REPO = Path(__file__).resolve().parent.parent
IRIS_CSV = REPO / "datasets" / "iris.csv"
CANCER_CSV = REPO / "datasets" / "breast_cancer.csv"
DIABETES_CSV = REPO / "datasets" / "diabetes.csv"


def invoke(args, **kwargs):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV, **kwargs)


def error_message(result, code: int = 2) -> str:
    """The one error line of a refused command, after checking the contract (exit code, no traceback, stdout empty)."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert result.stdout == "", result.stdout
    return lines[0][len("error: "):]


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# --- 1. a model.npz that does not match itself --------------------------------------------------------

RUNS = {
    "iris": ("data: {source: iris}\nmodel: {hidden: [3]}\ntraining: {epochs: 1}\n", IRIS_CSV),
    "bce": ("data: {source: breast_cancer}\nloss: bce\nmodel: {hidden: [3]}\ntraining: {epochs: 1}\n", CANCER_CSV),
    "reg": ("data: {source: diabetes}\nloss: mse\nmodel: {hidden: [3]}\noptimizer: {name: adam, lr: 0.01}\n"
            "training: {epochs: 1}\n", DIABETES_CSV),
    "res": ("data: {source: iris}\nmodel: {hidden: [{units: 4, batchnorm: true}, {type: residual, hidden: [4, 4]}, "
            "{type: batchnorm}]}\ntraining: {epochs: 1}\n", IRIS_CSV),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    out = {}
    for name, (config, _) in RUNS.items():
        path = folder / f"{name}.yaml"
        path.write_text(config)
        result = invoke(["fit", path, "--out", folder / name])
        assert result.exit_code == 0, result.output
        out[name] = folder / name
    return out


def _model_section(run_dir: Path) -> dict:
    return json.loads(str(np.load(run_dir / "model.npz")["model"]))


# (run, changes to model.npz's arrays (None removes one), the array the message names, a fragment of it)
MODEL_CASES = {
    "activations_0d": ("iris", {"activations": np.array("relu")}, "activations", "must be a list"),
    "activations_short": ("iris", {"activations": np.array(["relu"])}, "activations", "has 1 entry"),
    "activations_short_old_file": ("iris", {"activations": np.array(["relu"]), "model": None}, "activations",
                                   "has 1 entry, but the file has 2 weight matrices"),
    "activations_0d_old_file": ("iris", {"activations": np.array("relu"), "model": None}, "activations",
                                "must be a list"),
    "classes_0d": ("iris", {"classes": np.array("setosa")}, "classes", "must be a list of class labels"),
    "classes_2d": ("iris", {"classes": np.array([["a", "b", "c"]])}, "classes", "must be a list of class labels"),
    "classes_short": ("iris", {"classes": np.array(["a", "b"])}, "classes", "has 2 labels, but the network has 3"),
    "classes_long": ("iris", {"classes": np.array(["a", "b", "c", "d"])}, "classes",
                     "has 4 labels, but the network has 3 outputs"),
    "classes_duplicate": ("iris", {"classes": np.array(["a", "a", "c"])}, "classes", "duplicate"),
    "classes_missing": ("iris", {"classes": None}, "classes", "is missing"),
    "bce_three_classes": ("bce", {"classes": np.array([0, 1, 2])}, "classes", "has 3 labels; loss bce has two"),
    "bce_one_class": ("bce", {"classes": np.array([0])}, "classes", "has 1 label; loss bce has two"),
    "bce_on_three_outputs": ("iris", {"loss": np.array("bce")}, "loss", "but the network has 3 outputs"),
    "loss_not_a_name": ("iris", {"loss": np.array(["cross_entropy"])}, "loss", "must be one loss name"),
    "loss_unknown": ("iris", {"loss": np.array("foo")}, "loss", "unknown loss 'foo'"),
    "regression_loss_on_classes": ("iris", {"loss": np.array("mse")}, "target_names",
                                   "has 1 entry, but the network has 3 outputs"),
    "feature_names_0d": ("iris", {"feature_names": np.array("x")}, "feature_names", "must be a list"),
    "feature_names_short": ("iris", {"feature_names": np.array(["a", "b"])}, "feature_names",
                            "has 2 entries, the network needs 4"),
    "target_names_0d": ("reg", {"target_names": np.array("target")}, "target_names", "must be a list"),
    "target_names_long": ("reg", {"target_names": np.array(["a", "b"])}, "target_names",
                          "has 2 entries, but the network has 1 output"),
    "string_weights": ("iris", {"W1": np.full((3, 4), "a")}, "W1", "must hold float32 or float64 numbers"),
    "integer_weights": ("iris", {"W2": np.zeros((3, 3), dtype=np.int64)}, "W2", "got dtype int64"),
    "complex_weights": ("iris", {"W1": np.zeros((3, 4)) + 1j}, "W1", "got dtype complex128"),
    "mixed_dtypes": ("iris", {"W2": np.zeros((3, 3), dtype=np.float32)}, "W2", "has dtype float32, but W1"),
    "nan_weights": ("iris", {"W2": np.full((3, 3), np.nan)}, "W2", "NaN or infinite"),
    "inf_bias": ("iris", {"b1": np.array([0.0, np.inf, 0.0])}, "b1", "NaN or infinite"),
    "x_scale_zero": ("iris", {"x_scale": np.zeros(4)}, "x_scale", "zero or negative"),
    "x_scale_negative": ("iris", {"x_scale": -np.ones(4)}, "x_scale", "zero or negative"),
    "x_scale_nan": ("iris", {"x_scale": np.full(4, np.nan)}, "x_scale", "NaN or infinite"),
    "x_scale_text": ("iris", {"x_scale": np.full(4, "a")}, "x_scale", "must hold numbers"),
    "x_mean_inf": ("iris", {"x_mean": np.full(4, np.inf)}, "x_mean", "NaN or infinite"),
    "x_mean_short": ("iris", {"x_mean": np.zeros(3)}, "x_mean", "has shape (3,), the network takes 4 inputs"),
    "x_scale_missing": ("iris", {"x_scale": None}, "x_scale", "is missing"),
    "W2_wrong_shape": ("iris", {"W2": np.zeros((3, 5))}, "W2", "has shape (3, 5), the network the file describes "
                                                             "needs (3, 3)"),
    "b1_wrong_shape": ("iris", {"b1": np.zeros(5)}, "b1", "has shape (5,)"),
    "W1_1d": ("iris", {"W1": np.zeros(12)}, "W1", "must be 2-D"),
    "extra_tensor": ("iris", {"W3": np.zeros((3, 3)), "b3": np.zeros(3)}, "W3", "is not a tensor of the network"),
    "gamma_wrong_shape": ("res", {"gamma2": np.ones(5)}, "gamma2", "has shape (5,)"),
    "running_var_missing": ("res", {"running_var1": None}, "running_var1", "is missing"),
    "running_var_negative": ("res", {"running_var1": -np.ones(4)}, "running_var1", "negative"),
    "model_not_json": ("iris", {"model": np.array("{")}, "model", "is not the JSON of a model section"),
    "model_not_a_mapping": ("iris", {"model": np.array("[1]")}, "model", "(a mapping)"),
    "model_not_a_string": ("iris", {"model": np.array(["{}"])}, "model", "must be one JSON string"),
    "model_bad_section": ("iris", {"model": np.array(json.dumps({"hidden": "x"}))}, "model",
                          "is not a valid model section (model.hidden: must be a list"),
    "model_other_widths": ("iris", {"model": "hidden=[5]"}, "W1", "has shape (3, 4), the network the file "
                                                                  "describes needs (5, 4)"),
    "model_more_layers": ("iris", {"model": "hidden=[3, 3]"}, "W3", "is missing"),
}


def _broken_run(runs, tmp_path, run: str, changes: dict) -> Path:
    arrays = dict(np.load(runs[run] / "model.npz"))
    for name, value in changes.items():
        if value is None:
            arrays.pop(name, None)
        elif isinstance(value, str) and value.startswith("hidden="):
            arrays[name] = np.array(json.dumps({**_model_section(runs[run]), "hidden": json.loads(value[7:])}))
        else:
            arrays[name] = value
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "model.npz").write_bytes(npz_bytes(**arrays))
    shutil.copy(runs[run] / "config.yaml", folder / "config.yaml")
    return folder


@pytest.mark.parametrize("name", sorted(MODEL_CASES))
def test_a_model_that_does_not_match_itself_is_refused(runs, tmp_path, name):
    run, changes, array, fragment = MODEL_CASES[name]
    folder = _broken_run(runs, tmp_path, run, changes)
    data = RUNS[run][1]
    for args in (["predict", folder, data], ["evaluate", folder, "--data", data], ["evaluate", folder]):
        message = error_message(invoke(args))
        assert message.startswith(f"{folder / 'model.npz'}: inconsistent model: '{array}' "), message
        assert fragment in message, message


def test_the_good_models_still_load(runs):
    from gdtrain.inference import load_model

    for name, run_dir in runs.items():
        model = load_model(run_dir)
        assert model.n_features == {"iris": 4, "res": 4, "bce": 30, "reg": 10}[name]
        result = invoke(["predict", run_dir, RUNS[name][1]])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert len({len(line.split(",")) for line in lines}) == 1  # every row as wide as the header


# --- 2. regression metrics in float64 ---------------------------------------------------------------

def test_r2_of_huge_float32_targets_does_not_overflow_to_one():
    from gdtrain.monitor import regression_metrics

    y = (np.arange(20) % 3 * 1e19).astype(np.float32).reshape(-1, 1)
    pred = np.zeros_like(y)
    metrics = regression_metrics(pred, y)
    y64 = y.astype(np.float64)
    expected = 1 - np.sum(y64 ** 2) / np.sum((y64 - y64.mean()) ** 2)
    assert metrics["r2"] == pytest.approx(expected, rel=1e-12)
    assert metrics["r2"] < 0  # predicting 0 for targets of mean 1e19 is worse than the mean
    assert metrics["mse"] == pytest.approx(float(np.mean(y64 ** 2)), rel=1e-12)


# --- 3. float32 regression targets beyond float32's range ---------------------------------------------

def test_float32_targets_beyond_float32_range_are_refused(tmp_path):
    data = tmp_path / "big.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{i * 7 % 5},{i % 3 * 1e39 + 1}\n" for i in range(20)))
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{source: '{data}'}}\nloss: mse\ndtype: float32\nmodel: {{hidden: [3]}}\n"
                      "training: {epochs: 1}\n")
    message = error_message(invoke(["fit", config, "--out", tmp_path / "out"]))
    assert message.startswith(f"{data}: target column 'y' has values beyond float32's range (±3.4e+38"), message
    assert "use dtype: float64" in message
    assert not (tmp_path / "out").exists()


def test_evaluating_a_float32_model_on_targets_beyond_its_range_is_refused(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data: {source: diabetes}\nloss: mse\ndtype: float32\nmodel: {hidden: [3]}\n"
                      "optimizer: {name: adam, lr: 0.01}\ntraining: {epochs: 1}\n")
    assert invoke(["fit", config, "--out", tmp_path / "run"]).exit_code == 0
    lines = DIABETES_CSV.read_text().splitlines()
    data = tmp_path / "big.csv"
    data.write_text("\n".join(lines[:5]) + "\n" + lines[5].rsplit(",", 1)[0] + ",1e39\n")
    message = error_message(invoke(["evaluate", tmp_path / "run", "--data", data]))
    assert "the target has values beyond float32's range" in message, message


# --- 4. an .npz member that is not .npy data; an IDX header with a silly ndim -------------------------

def _zip(**members) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _idx_header(code: int, dims) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}i", *dims)


LABELS_1 = _idx_header(0x08, [1]) + b"\x00"


@pytest.mark.parametrize("files, expected", [
    ({"x.npz": _zip(**{"X.npy": b"not npy data" * 10, "y.npy": b"junk"})},
     "{d}/x.npz: member X.npy is not NumPy .npy data (no .npy header)"),
    ({"x.npz": _zip(**{"X.npy": npz_bytes(), "y.npy": b"junk"})}, "{d}/x.npz: member"),
    ({"x-images-idx3-ubyte": _idx_header(0x08, [1] * 255) + b"\x00", "x-labels-idx1-ubyte": LABELS_1},
     "{d}/x-images-idx3-ubyte: IDX header declares 255 dimensions (its 4th byte)"),
    ({"x-images-idx3-ubyte": _idx_header(0x08, [-1, 2, 3]), "x-labels-idx1-ubyte": LABELS_1},
     "{d}/x-images-idx3-ubyte: IDX header has a negative dimension"),
], ids=["npz_member_garbage", "npz_member_not_npy", "idx_ndim_255", "idx_negative_dim"])
def test_corrupt_binary_data_is_one_clean_line(tmp_path, files, expected):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    source = next(iter(files))
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{source: '{tmp_path / source}'}}\nmodel: {{hidden: [3]}}\ntraining: {{epochs: 1}}\n")
    message = error_message(invoke(["fit", config, "--out", tmp_path / "out"]))
    assert message.startswith(expected.replace("{d}", str(tmp_path))), message
    assert not (tmp_path / "out").exists()


def test_predict_on_an_npz_whose_x_is_not_npy_data(runs, tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(_zip(**{"X.npy": b"garbage" * 5}))
    message = error_message(invoke(["predict", runs["iris"], path]))
    assert message.startswith(f"{path}: member X.npy is not NumPy .npy data"), message


# --- 6. a config file larger than 4 MiB ---------------------------------------------------------------

def test_a_huge_config_file_is_refused_before_parsing(tmp_path, monkeypatch):
    from gdtrain.config import yaml_io

    path = tmp_path / "huge.yaml"
    path.write_text("data: {source: iris}\n" + "# padding\n" * (5 * 2 ** 20 // 10))
    parsed = []
    monkeypatch.setattr(yaml_io, "parse_yaml", lambda *a, **k: parsed.append(a) or {})
    size = path.stat().st_size / 2 ** 20
    message = error_message(invoke(["validate", path]))
    assert message.startswith(f"{path}: the config file is {size:.1f} MiB, more than the 4 MiB a config may have"), \
        message
    assert parsed == []


def test_a_config_just_under_the_limit_is_read(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text("data: {source: iris}\r\ntraining: {epochs: 1}\r\n" + "# padding\n" * (3 * 2 ** 20 // 10))
    result = invoke(["validate", path])
    assert result.exit_code == 0, result.output


# --- 7. a stdout that cannot encode Unicode ------------------------------------------------------------

def _cp1252_process(args, cwd):
    env = {**os.environ, **ENV, "PYTHONIOENCODING": "cp1252",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "gdtrain", *map(str, args)], capture_output=True, env=env,
                          timeout=300, cwd=cwd)


@pytest.mark.parametrize("args", [["gradcheck"], ["fit", "quickstart", "--epochs", "2"], ["explain", "adam"],
                                  ["schema"]], ids=["gradcheck", "fit", "explain", "schema"])
def test_a_stdout_that_cannot_encode_unicode_gets_ascii(tmp_path, args):
    proc = _cp1252_process(args, tmp_path)
    stdout, stderr = proc.stdout.decode("cp1252"), proc.stderr.decode("cp1252")
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "UnicodeEncodeError" not in stderr + stdout
    if args[0] == "schema":
        json.loads(stdout)  # lossless: \\uXXXX escapes
    elif args[0] in ("gradcheck", "fit"):
        assert "->" in stdout, stdout  # the network's description, 64 -> 32 relu -> 10


def test_the_ascii_spellings():
    from gdtrain.render.terminal import ascii_fallback, ascii_replace

    ascii_fallback()  # registers the handler
    assert "‖∂L/∂θ‖ → ŷ, naïve".encode("cp1252", "gdtrain-ascii") == b"||dL/dtheta|| -> y_hat, na\xefve"
    assert "‖∂L/∂θ‖ → ŷ, naïve".encode("ascii", "gdtrain-ascii") == b"||dL/dtheta|| -> y_hat, naive"
    assert ascii_replace(UnicodeEncodeError("ascii", "\u4e2d", 0, 1, "x")) == ("?", 1)


# --- 5. the whole network's memory, once the data's width and classes are known --------------------------

def _wide_data(tmp_path, columns: int, rows: int = 4) -> Path:
    path = tmp_path / "wide.npz"
    path.write_bytes(npz_bytes(X=np.zeros((rows, columns), np.float32), y=np.arange(rows) % 2))
    return path


def test_a_network_that_cannot_fit_in_memory_is_refused_before_allocating(tmp_path):
    """200,000 inputs x 100,000 units: 2e10 weights (~600 GiB with gradients and optimizer state) that
    config/validate.py's size check (hidden-to-hidden only) lets through; refused with the estimate before one weight is
    allocated."""
    data = _wide_data(tmp_path, 200_000, rows=2)
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{source: '{data}', validation_split: 0, test_split: 0}}\n"
                      "model: {hidden: [100000]}\ntraining: {epochs: 1}\n")
    assert invoke(["validate", config]).exit_code == 0  # the data's width is not known to validate
    message = error_message(invoke(["fit", config, "--out", tmp_path / "out"]))
    assert message.startswith("model.hidden: the network needs about "), message
    assert "20,000,300,002 parameters for 200000 inputs and 2 outputs" in message
    assert "more than this machine's" in message


def test_the_memory_estimate_counts_the_input_and_output_layers(tmp_path, monkeypatch):
    from gdtrain.config import memory

    monkeypatch.setattr(memory, "machine_memory", lambda: 2 ** 30)  # a 1 GiB machine
    data = _wide_data(tmp_path, 1000)
    config = tmp_path / "c.yaml"
    # 1000 x 40,000 + 40,000 + 40,000 x 2 + 2 = 40,120,002 parameters, x 4 copies x 8 bytes = 1.2 GiB > 1 GiB
    config.write_text(f"data: {{source: '{data}', validation_split: 0, test_split: 0}}\n"
                      "model: {hidden: [40000]}\ntraining: {epochs: 1}\n")
    message = error_message(invoke(["fit", config, "--out", tmp_path / "out"]))
    assert message.startswith("model.hidden: the network needs about 1.2 GiB of memory (40,120,002 parameters"), \
        message
    assert "more than this machine's 1 GiB" in message
    assert not (tmp_path / "out").exists()
    config.write_text(f"data: {{source: '{data}', validation_split: 0, test_split: 0}}\n"
                      "model: {hidden: [30]}\ntraining: {epochs: 1}\n")
    result = invoke(["fit", config, "--out", tmp_path / "small"])
    assert result.exit_code == 0, result.output


def test_predicting_with_a_float32_model_on_features_beyond_its_range_is_refused(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data: {source: iris, standardize: false}\ndtype: float32\nmodel: {hidden: [3]}\n"
                      "training: {epochs: 1}\n")
    assert invoke(["fit", config, "--out", tmp_path / "run"]).exit_code == 0
    lines = IRIS_CSV.read_text().splitlines()
    data = tmp_path / "big.csv"
    data.write_text(lines[0] + "\n" + "1e39," + lines[1].split(",", 1)[1] + "\n")
    message = error_message(invoke(["predict", tmp_path / "run", data]))
    assert message.startswith(f"{data}: column '{lines[0].split(',')[0]}' has values beyond float32's range"), message
