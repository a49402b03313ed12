"""``gdtrain evaluate`` and ``gdtrain predict`` (inference.py), checked against independent computations.

Two tiny runs are trained once per module: iris (16 tanh units, softmax + cross-entropy) and sine
(mse regression). The reference numbers come from the RunResult that ``experiment.fit`` returns (its
network and its standardized splits) and from formulas written out here, and scikit-learn's when it is
installed.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import gdtrain.rundir
from gdtrain.cli import app
from gdtrain.config import from_dict
from gdtrain.experiment import fit
from gdtrain.inference import evaluate_run, load_model, predict_file
from gdtrain.inference.inputs import map_labels
from gdtrain.losses import LOSSES, softmax
from gdtrain.monitor import evaluate

REPO = Path(__file__).resolve().parents[1]
IRIS_CSV = REPO / "datasets" / "iris.csv"
ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}


def invoke(args):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


def lines(text):
    return [line for line in text.splitlines() if line.strip()]


def train(out: Path, **raw):
    config = {"seed": 0, "model": {"hidden": [{"units": 16, "activation": "tanh"}]},
              "optimizer": {"name": "sgd", "lr": 0.3}, "training": {"mode": "batch", "epochs": 15}}
    config.update(raw)
    return fit(from_dict(config, name=out.name), out=str(out))


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    return train(tmp_path_factory.mktemp("runs") / "iris", data={"source": "iris", "validation_split": 0.2,
                                                                 "test_split": 0.2}, loss="cross_entropy")


@pytest.fixture(scope="module")
def sine(tmp_path_factory):
    return train(tmp_path_factory.mktemp("runs") / "sine", data={"source": "sine", "n_samples": 120},
                 loss="mse", training={"mode": "minibatch", "batch_size": 16, "epochs": 5})


def raw_iris():
    """Iris as in the shipped CSV: the header and rows of text."""
    with open(IRIS_CSV, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_csv(path: Path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv_text(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


# --- evaluate on the run's own test split --------------------------------------------------------

def test_evaluate_reproduces_the_summary_test_metrics_exactly(iris, sine):
    for run in (iris, sine):
        summary = json.loads((run.run_dir / "summary.json").read_text())
        ev = evaluate_run(run.run_dir)
        assert ev.split == "test" and ev.rows == run.data.splits["test"]
        assert ev.metrics == summary["test"]  # loss and accuracy / mse, mae, r2, bit for bit
    assert set(evaluate_run(sine.run_dir).metrics) == {"loss", "mse", "mae", "r2"}


def test_evaluate_uses_the_stored_standardization(iris):
    with np.load(iris.run_dir / "model.npz") as model:
        np.testing.assert_array_equal(model["x_mean"], iris.data.mean)
        np.testing.assert_array_equal(model["x_scale"], iris.data.scale)


def test_per_class_scores_and_confusion_matrix_match_an_independent_computation(iris):
    X, y = iris.data.X_test, iris.data.y_test
    pred = np.argmax(iris.net.forward(X), axis=1)
    labels = [str(c) for c in iris.data.classes]
    K = len(labels)
    expected = np.zeros((K, K), int)
    for t, p in zip(y, pred):
        expected[t, p] += 1
    ev = evaluate_run(iris.run_dir)
    assert ev.labels == labels == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(ev.confusion, expected)
    for k, scores in enumerate(ev.per_class):
        tp, fp, fn = np.sum((pred == k) & (y == k)), np.sum((pred == k) & (y != k)), np.sum((pred != k) & (y == k))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        assert (scores.label, scores.support) == (labels[k], int(np.sum(y == k)))
        assert scores.precision == pytest.approx(precision, abs=1e-15)
        assert scores.recall == pytest.approx(recall, abs=1e-15)
        assert scores.f1 == pytest.approx(f1, abs=1e-15)
    assert ev.metrics["accuracy"] == np.trace(expected) / len(y)


def test_per_class_scores_match_scikit_learn(iris):
    metrics = pytest.importorskip("sklearn.metrics")
    y = iris.data.y_test
    pred = np.argmax(iris.net.forward(iris.data.X_test), axis=1)
    ev = evaluate_run(iris.run_dir)
    np.testing.assert_array_equal(ev.confusion, metrics.confusion_matrix(y, pred, labels=[0, 1, 2]))
    p, r, f, s = metrics.precision_recall_fscore_support(y, pred, labels=[0, 1, 2], zero_division=0)
    np.testing.assert_allclose([c.precision for c in ev.per_class], p, rtol=0, atol=1e-15)
    np.testing.assert_allclose([c.recall for c in ev.per_class], r, rtol=0, atol=1e-15)
    np.testing.assert_allclose([c.f1 for c in ev.per_class], f, rtol=0, atol=1e-15)
    np.testing.assert_array_equal([c.support for c in ev.per_class], s)
    for average in ("macro", "weighted"):
        p, r, f, _ = metrics.precision_recall_fscore_support(y, pred, average=average, zero_division=0)
        ours = ev.averages[f"{average} avg"]
        assert (ours.precision, ours.recall, ours.f1) == pytest.approx((p, r, f), abs=1e-15)


def test_evaluate_cli_prints_metrics_classes_and_the_confusion_matrix(iris):
    result = invoke(["evaluate", iris.run_dir])
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    ev = evaluate_run(iris.run_dir)
    assert out[0] == f"evaluated on the test split of iris: {ev.rows} rows"
    assert out[1].split() == ["loss", "accuracy"]
    assert [float(v) for v in out[2].split()] == pytest.approx([ev.metrics["loss"], ev.metrics["accuracy"]], rel=1e-3)
    assert out[3].split() == ["class", "precision", "recall", "f1", "support"]
    for line, scores in zip(out[4:7], ev.per_class):
        assert line.split() == [scores.label, f"{scores.precision:.4f}", f"{scores.recall:.4f}", f"{scores.f1:.4f}",
                                str(scores.support)]
    start = out.index("confusion matrix (rows: true class, columns: predicted class)")
    assert out[start + 1].split()[-3:] == ["setosa", "versicolor", "virginica"]
    for line, label, row in zip(out[start + 2:], ev.labels, ev.confusion):
        assert line.split() == [label] + [str(v) for v in row]


def test_evaluate_cli_regression(sine):
    result = invoke(["evaluate", sine.run_dir])
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    assert out[1].split() == ["loss", "mse", "mae", "r2"]
    summary = json.loads((sine.run_dir / "summary.json").read_text())["test"]
    assert [float(v) for v in out[2].split()] == pytest.approx([summary[k] for k in ("loss", "mse", "mae", "r2")],
                                                               rel=1e-3)
    assert "confusion" not in result.output


def test_a_run_without_a_test_split_falls_back_to_validation_then_training(tmp_path):
    data = {"source": "xor", "n_samples": 40, "test_split": 0.0, "validation_split": 0.25}
    run = train(tmp_path / "noval", data=data, loss="cross_entropy", training={"mode": "batch", "epochs": 2})
    ev = evaluate_run(run.run_dir)
    assert ev.split == "validation" and ev.metrics == run.summary["validation"]
    assert "no test split" in ev.notes[0]
    run = train(tmp_path / "none", data={**data, "validation_split": 0.0}, loss="cross_entropy",
                training={"mode": "batch", "epochs": 2})
    ev = evaluate_run(run.run_dir)
    assert ev.split == "training" and ev.metrics == run.summary["train"]
    result = invoke(["evaluate", run.run_dir])
    assert result.exit_code == 0, result.output
    assert lines(result.output)[:2] == [
        "note: the run has no test split (data.test_split is 0 and no data.test_source): evaluating on the training split",
        "evaluated on the training split of xor: 40 rows"]


def test_float32_run_reproduces_its_summary(tmp_path):
    run = train(tmp_path / "f32", dtype="float32", data={"source": "iris"}, loss="cross_entropy",
                training={"mode": "batch", "epochs": 3})
    assert evaluate_run(run.run_dir).metrics == run.summary["test"]


# --- evaluate on a file -----------------------------------------------------------------------------

def direct_metrics(run, X_raw, labels):
    """Evaluate rows by hand: standardize with the run's training mean/std, map labels to class indices."""
    X = (np.asarray(X_raw, float) - run.data.mean) / run.data.scale
    y = np.array([list(run.data.classes).index(label) for label in labels])
    return evaluate(run.net, LOSSES.get("cross_entropy"), X, y), y


def test_evaluate_data_csv_with_shuffled_columns_equals_evaluating_the_rows_directly(iris, tmp_path):
    header, rows = raw_iris()
    order = [3, 4, 0, 2, 1]  # petal_width, species, sepal_length, petal_length, sepal_width
    path = write_csv(tmp_path / "shuffled.csv", [header[i] for i in order], [[r[i] for i in order] for r in rows])
    expected, y = direct_metrics(iris, [[float(v) for v in r[:4]] for r in rows], [r[4] for r in rows])
    ev = evaluate_run(iris.run_dir, path)
    assert ev.split == "file" and ev.rows == 150
    assert ev.metrics == pytest.approx(expected, rel=1e-14, abs=0)
    pred = np.argmax(iris.net.forward((np.array([[float(v) for v in r[:4]] for r in rows]) - iris.data.mean)
                                      / iris.data.scale), axis=1)
    np.testing.assert_array_equal(ev.confusion, np.bincount(y * 3 + pred, minlength=9).reshape(3, 3))
    result = invoke(["evaluate", iris.run_dir, "--data", path])
    assert result.exit_code == 0, result.output
    assert lines(result.output)[0] == f"evaluated on {path}: 150 rows"


def test_evaluate_data_npz_by_position_agrees_with_csv(iris, tmp_path):
    header, rows = raw_iris()
    csv_path = write_csv(tmp_path / "rows.csv", header, rows[::3])
    npz_path = tmp_path / "rows.npz"
    np.savez(npz_path, X=np.array([[float(v) for v in r[:4]] for r in rows[::3]]), y=np.array([r[4] for r in rows[::3]]))
    a, b = evaluate_run(iris.run_dir, csv_path), evaluate_run(iris.run_dir, npz_path)
    assert a.metrics == b.metrics
    np.testing.assert_array_equal(a.confusion, b.confusion)


def test_numeric_labels_are_matched_as_numbers():
    classes = np.array([0, 1, 2])
    np.testing.assert_array_equal(map_labels(np.array(["2", "0", "1.0"]), classes, "f"), [2, 0, 1])
    np.testing.assert_array_equal(map_labels(np.array([1, 1, 0]), classes, "f"), [1, 1, 0])
    with pytest.raises(Exception, match="label '3' is not a class"):
        map_labels(np.array(["0", "3"]), classes, "f")
    with pytest.raises(Exception, match="label 'cat' is not a class"):
        map_labels(np.array(["0", "cat"]), classes, "f")


# --- predict --------------------------------------------------------------------------------------

def test_predict_probabilities_are_the_softmax_of_the_networks_logits(iris, tmp_path):
    header, rows = raw_iris()
    order = [2, 0, 3, 1]  # features only, shuffled, no target column
    path = write_csv(tmp_path / "in.csv", [header[i] for i in order], [[r[i] for i in order] for r in rows])
    result = invoke(["predict", iris.run_dir, path])
    assert result.exit_code == 0, result.output
    out_header, out_rows = read_csv_text(result.stdout)
    assert out_header == ["prediction", "prob_setosa", "prob_versicolor", "prob_virginica"]
    X = (np.array([[float(v) for v in r[:4]] for r in rows]) - iris.data.mean) / iris.data.scale
    z = iris.net.forward(X)
    probs = np.array([[float(v) for v in r[1:]] for r in out_rows])
    np.testing.assert_array_equal(probs, softmax(z))  # written with repr: reads back exactly
    assert [r[0] for r in out_rows] == [str(iris.data.classes[k]) for k in np.argmax(z, axis=1)]
    assert {r[0] for r in out_rows} <= {"setosa", "versicolor", "virginica"}


def test_predict_npz_and_csv_agree_and_a_target_column_is_ignored(iris, tmp_path):
    header, rows = raw_iris()
    csv_path = write_csv(tmp_path / "with_target.csv", header, rows)
    npz_path = tmp_path / "x.npz"
    np.savez(npz_path, X=np.array([[float(v) for v in r[:4]] for r in rows]))
    a = predict_file(iris.run_dir, csv_path)
    b = predict_file(iris.run_dir, npz_path)
    assert a.header == b.header and a.rows == b.rows and len(a.rows) == 150


def test_predict_out_writes_atomically_and_summarizes(iris, tmp_path, monkeypatch):
    header, rows = raw_iris()
    path = write_csv(tmp_path / "in.csv", header[:4], [r[:4] for r in rows[:20]])
    written = []
    real = gdtrain.rundir.atomic_write

    def spy(target, data):
        written.append(Path(target))
        real(target, data)

    monkeypatch.setattr(gdtrain.rundir, "atomic_write", spy)
    out = tmp_path / "out" / "pred.csv"
    out.parent.mkdir()
    result = invoke(["predict", iris.run_dir, path, "--out", out])
    assert result.exit_code == 0, result.output
    assert lines(result.output) == [f"wrote 20 predictions to {out}"]
    assert written == [out]
    assert sorted(p.name for p in out.parent.iterdir()) == ["pred.csv"]  # no temporary file left
    assert out.read_text() == invoke(["predict", iris.run_dir, path]).stdout


def test_predict_regression_writes_one_column_per_target(sine, tmp_path):
    x = np.linspace(-3, 3, 7)[:, None]
    path = write_csv(tmp_path / "x.csv", ["x1"], [[repr(float(v))] for v in x[:, 0]])
    result = invoke(["predict", sine.run_dir, path])
    assert result.exit_code == 0, result.output
    header, rows = read_csv_text(result.stdout)
    assert header == ["y"]
    expected = sine.net.forward((x - sine.data.mean) / sine.data.scale)
    np.testing.assert_array_equal(np.array([[float(r[0])] for r in rows]), expected)


def test_predict_bce_gives_both_class_probabilities(tmp_path):
    run = train(tmp_path / "bce", data={"source": "xor", "n_samples": 40}, loss="bce",
                training={"mode": "batch", "epochs": 3})
    X = np.array([[1.0, 1.0], [1.0, -1.0], [-0.5, 0.7]])
    np.savez(tmp_path / "x.npz", X=X)
    table = predict_file(run.run_dir, tmp_path / "x.npz")
    assert table.header == ["prediction", "prob_0", "prob_1"]
    z = run.net.forward((X - run.data.mean) / run.data.scale)[:, 0]
    p1 = 1 / (1 + np.exp(-z))
    got = np.array([[float(v) for v in row[1:]] for row in table.rows])
    np.testing.assert_allclose(got[:, 1], p1, rtol=1e-15)
    np.testing.assert_allclose(got[:, 0], 1 - p1, rtol=1e-15)
    assert [row[0] for row in table.rows] == ["1" if v > 0 else "0" for v in z]


def test_load_model_round_trips_the_network(iris):
    model = load_model(iris.run_dir)
    assert model.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert model.target_names == ["species"] and model.labels() == ["setosa", "versicolor", "virginica"]
    X = iris.data.X_test
    np.testing.assert_array_equal(model.net.forward(X), iris.net.forward(X))


# --- bad input: exit 2, one line, no traceback -----------------------------------------------------

def check_error(args, *fragments):
    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    out = lines(result.output)
    assert len(out) == 1 and out[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in out[0], (fragment, out[0])
    return out[0]


def test_bad_run_directories(tmp_path, iris):
    check_error(["evaluate", tmp_path / "nope"], "no such run directory")
    (tmp_path / "empty").mkdir()
    check_error(["evaluate", tmp_path / "empty"], "no model.npz")
    check_error(["predict", tmp_path / "empty", IRIS_CSV], "no model.npz")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.npz").write_bytes(b"not a zip")
    check_error(["evaluate", tmp_path / "broken"], "model.npz: not a readable model")


def test_missing_feature_columns_are_named(iris, tmp_path):
    header, rows = raw_iris()
    path = write_csv(tmp_path / "m.csv", header[1:3] + header[4:], [r[1:3] + r[4:] for r in rows[:5]])
    check_error(["evaluate", iris.run_dir, "--data", path], "missing feature columns 'sepal_length', 'petal_width'")
    check_error(["predict", iris.run_dir, path], "missing feature columns 'sepal_length', 'petal_width'")


def test_an_unknown_label_is_named(iris, tmp_path):
    header, rows = raw_iris()
    path = write_csv(tmp_path / "u.csv", header, rows[:3] + [rows[3][:4] + ["rosa"]])
    check_error(["evaluate", iris.run_dir, "--data", path], "'rosa' is not a class", "species",
                "setosa, versicolor, virginica")


def test_unreadable_and_unsuitable_files(iris, tmp_path):
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    check_error(["evaluate", iris.run_dir, "--data", tmp_path / "bin.csv"], "bin.csv", "UTF-8")
    (tmp_path / "bad.npz").write_bytes(b"PK not really")
    check_error(["predict", iris.run_dir, tmp_path / "bad.npz"], "bad.npz", "not a readable .npz")
    check_error(["predict", iris.run_dir, tmp_path / "none.csv"], "none.csv: no such file")
    (tmp_path / "x.txt").write_text("1,2,3\n")
    check_error(["predict", iris.run_dir, tmp_path / "x.txt"], "unknown file type '.txt'")
    np.savez(tmp_path / "three.npz", X=np.ones((4, 3)), y=np.zeros(4))
    check_error(["evaluate", iris.run_dir, "--data", tmp_path / "three.npz"], "X has 3 features, the model takes 4")
    np.savez(tmp_path / "xonly.npz", X=np.ones((4, 4)))
    check_error(["evaluate", iris.run_dir, "--data", tmp_path / "xonly.npz"], "no array 'y'")
    header, rows = raw_iris()
    path = write_csv(tmp_path / "text.csv", header, [rows[0], ["5.0", "oops"] + rows[1][2:]])
    check_error(["predict", iris.run_dir, path], "row 3, column 'sepal_width': not a number: 'oops'")
    path = write_csv(tmp_path / "nolabel.csv", header[:4], [r[:4] for r in rows[:3]])
    check_error(["evaluate", iris.run_dir, "--data", path], "no target column 'species'")
    check_error(["predict", iris.run_dir, path, "--out", tmp_path / "no" / "where.csv"], "no such folder")


def test_a_run_whose_data_changed_or_moved_is_refused(tmp_path, monkeypatch):
    header, rows = raw_iris()
    data = write_csv(tmp_path / "flowers.csv", header, rows)
    run = train(tmp_path / "run", data={"source": str(data)}, loss="cross_entropy",
                training={"mode": "batch", "epochs": 2})
    assert evaluate_run(run.run_dir).metrics == run.summary["test"]
    write_csv(data, header, [[str(float(r[0]) + 0.5)] + r[1:] for r in rows])  # every row changed
    check_error(["evaluate", run.run_dir], "differ from the run's training data", "pass --data FILE")
    data.unlink()
    check_error(["evaluate", run.run_dir], "cannot rebuild the run's data", "flowers.csv: no such file")


# --- models with layers beyond Dense, and model.npz written before them --------------------------------

LAYERED = {"hidden": [{"units": 8, "activation": "tanh"}, {"type": "batchnorm"},
                      {"type": "residual", "hidden": [{"units": 8, "activation": "relu"}]},
                      {"type": "residual", "projection": True, "hidden": [{"units": 5, "activation": "tanh"}]}],
           "freeze": ["b1"]}


def test_a_model_with_batchnorm_and_residual_blocks_is_rebuilt_from_its_model_section(tmp_path):
    result = train(tmp_path / "layered", data={"source": "iris"}, loss="cross_entropy", model=LAYERED)
    with np.load(tmp_path / "layered" / "model.npz") as archive:
        stored = {name: archive[name] for name in archive.files}
    assert json.loads(str(stored["model"]))["hidden"][1] == {"type": "batchnorm", "momentum": 0.1, "eps": 1e-5,
                                                             "affine": True, "trainable": True}
    assert {"gamma1", "beta1", "running_mean1", "running_var1", "W4", "b4", "W5"} <= set(stored)
    assert not np.array_equal(stored["running_mean1"], 0)  # the running statistics are the trained ones
    model = load_model(tmp_path / "layered")
    assert model.net.describe() == result.net.describe()
    assert model.net.frozen_names() == ["b1"]
    X = result.data.X_test
    # evaluation mode: the running statistics, as fit's own evaluation used them
    assert np.array_equal(model.logits(X), result.net.forward(X))
    report = evaluate_run(tmp_path / "layered")
    assert report.metrics["accuracy"] == pytest.approx(result.summary["test"]["accuracy"])


def test_a_dense_only_model_written_before_the_model_section_still_loads(tmp_path, iris):
    old = tmp_path / "old"
    old.mkdir()
    with np.load(iris.run_dir / "model.npz") as archive:
        arrays = {name: archive[name] for name in archive.files if name != "model"}  # the earlier format
    np.savez(old / "model.npz", **arrays)
    (old / "config.yaml").write_bytes((iris.run_dir / "config.yaml").read_bytes())
    before, now = load_model(old), load_model(iris.run_dir)
    assert before.net.describe() == now.net.describe() == "4 → 16 tanh → 3"
    X = iris.data.X_test
    assert np.array_equal(before.logits(X), now.logits(X))
    assert predict_file(old, raw_iris_csv(tmp_path)).rows == predict_file(iris.run_dir, raw_iris_csv(tmp_path)).rows


def raw_iris_csv(tmp_path) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n",
                    encoding="utf-8")
    return path
