"""Data loading (DESIGN.md §3 data section, §5b): built-ins, files, seeded stratified split, standardization."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from gdtrain.config import from_dict
from gdtrain.data import load_data, split_indices
from gdtrain.errors import ConfigError, DataError

CLASSIFICATION, REGRESSION = "classification", "regression"


def config_for(source, **data):
    return from_dict({"data": {"source": str(source), **data}})


def load(source, task=CLASSIFICATION, seed=0, dtype=None, **data):
    raw = {"data": {"source": str(source), **data}}
    if dtype:
        raw["dtype"] = dtype
    return load_data(from_dict(raw), np.random.default_rng(seed), task)


def data_error(source, task=CLASSIFICATION, **data) -> str:
    with pytest.raises(DataError) as info:
        load(source, task, **data)
    return str(info.value)


def write_csv(path, header, rows):
    path.write_text(header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows), encoding="utf-8")
    return path


def assert_split_sizes(dataset, n):
    sizes = dataset.splits
    assert sizes["train"] + sizes["validation"] + sizes["test"] == n
    assert (len(dataset.X_train), len(dataset.X_val), len(dataset.X_test)) == (
        sizes["train"], sizes["validation"], sizes["test"])
    assert len(dataset.y_train) == sizes["train"] and len(dataset.y_val) == sizes["validation"]
    assert len(dataset.y_test) == sizes["test"]


# --- built-in datasets ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, task, n, d, classes", [
    ("iris", CLASSIFICATION, 150, 4, ["setosa", "versicolor", "virginica"]),
    ("digits", CLASSIFICATION, 1797, 64, list(range(10))),
    ("breast_cancer", CLASSIFICATION, 569, 30, [0, 1]),
    ("wine", CLASSIFICATION, 178, 13, [0, 1, 2]),
    ("diabetes", REGRESSION, 442, 10, None),
    ("xor", CLASSIFICATION, 400, 2, [0, 1]),
    ("spirals", CLASSIFICATION, 600, 2, [0, 1]),
    ("moons", CLASSIFICATION, 400, 2, [0, 1]),
    ("blobs", CLASSIFICATION, 300, 2, [0, 1, 2]),
    ("sine", REGRESSION, 400, 1, None),
])
def test_builtin_dataset(name, task, n, d, classes):
    dataset = load(name, task, validation_split=0.2, test_split=0.1)
    assert dataset.task == task and dataset.source == name
    assert_split_sizes(dataset, n)
    assert dataset.n_features == d
    for X in (dataset.X_train, dataset.X_val, dataset.X_test):
        assert X.shape[1] == d and X.dtype == np.float64 and np.all(np.isfinite(X))
    if classes is None:
        assert dataset.classes is None and dataset.n_classes == 0
        assert dataset.y_train.shape == (dataset.splits["train"], 1) and dataset.y_train.dtype == np.float64
        assert dataset.y_test.shape == (dataset.splits["test"], 1)
        assert dataset.n_targets == 1
    else:
        assert dataset.classes.tolist() == classes and dataset.n_classes == len(classes)
        everything = np.concatenate([dataset.y_train, dataset.y_val, dataset.y_test])
        assert everything.ndim == 1 and everything.dtype.kind == "i"
        assert set(np.unique(everything)) == set(range(len(classes)))


def test_iris_split_is_stratified():
    dataset = load("iris", validation_split=0.2, test_split=0.2)
    assert dataset.splits == {"train": 90, "validation": 30, "test": 30}
    # 50 of each species: 30 / 10 / 10 per class
    assert np.bincount(dataset.y_train).tolist() == [30, 30, 30]
    assert np.bincount(dataset.y_val).tolist() == [10, 10, 10]
    assert np.bincount(dataset.y_test).tolist() == [10, 10, 10]
    assert dataset.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert dataset.target_names == ["species"]


def test_unknown_builtin_name_is_a_config_error_with_suggestion():
    with pytest.raises(ConfigError) as info:
        load("irsi")
    message = str(info.value)
    assert message.startswith("data.source: unknown dataset 'irsi'; did you mean 'iris'?")
    assert "and no such file" in message


def test_builtin_honours_data_target():
    dataset = load("diabetes", REGRESSION, target="bmi", validation_split=0.0, test_split=0.0, standardize=False)
    assert dataset.target_names == ["bmi"]
    assert dataset.n_features == 10 and "bmi" not in dataset.feature_names and "target" in dataset.feature_names
    # the first patient of the shipped file: age 59, bmi 32.1, target 151
    row = np.flatnonzero((dataset.X_train[:, 0] == 59) & (dataset.X_train[:, -1] == 151))
    assert len(row) == 1 and dataset.y_train[row[0], 0] == 32.1


# --- split -----------------------------------------------------------------------------------------------

def test_split_indices_cover_everything_once():
    train, val, test = split_indices(103, None, 0.2, 0.1, np.random.default_rng(3))
    assert (len(train), len(val), len(test)) == (72, 21, 10)
    everything = np.concatenate([train, val, test])
    assert np.array_equal(np.sort(everything), np.arange(103))
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert train.dtype == np.intp


def test_split_indices_are_seeded():
    strata = np.arange(200) % 3
    a = split_indices(200, strata, 0.15, 0.15, np.random.default_rng(42))
    b = split_indices(200, strata, 0.15, 0.15, np.random.default_rng(42))
    c = split_indices(200, strata, 0.15, 0.15, np.random.default_rng(43))
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not all(np.array_equal(x, z) for x, z in zip(a, c))
    assert not np.array_equal(a[0], np.sort(a[0]))  # shuffled, not in file order


def test_split_indices_are_stratified():
    counts = [50, 30, 7, 113]
    strata = np.repeat(np.arange(4), counts)
    np.random.default_rng(0).shuffle(strata)
    train, val, test = split_indices(len(strata), strata, 0.2, 0.15, np.random.default_rng(1))
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(len(strata)))
    for c, count in enumerate(counts):
        n_val, n_test = np.sum(strata[val] == c), np.sum(strata[test] == c)
        n_train = np.sum(strata[train] == c)
        assert abs(n_val - 0.2 * count) <= 1
        assert abs(n_test - 0.15 * count) <= 1
        assert n_train + n_val + n_test == count


def test_zero_fractions_keep_everything_for_training():
    train, val, test = split_indices(10, None, 0.0, 0.0, np.random.default_rng(0))
    assert len(val) == len(test) == 0 and np.array_equal(np.sort(train), np.arange(10))


def test_load_data_is_seeded():
    a = load("wine", seed=1)
    b = load("wine", seed=1)
    c = load("wine", seed=2)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.X_train, c.X_train)


# --- standardization -------------------------------------------------------------------------------------

@pytest.fixture
def regression_csv(tmp_path):
    rng = np.random.default_rng(5)
    raw = np.column_stack([rng.normal(3.0, 2.0, 60), rng.uniform(-10, 40, 60), np.full(60, 7.0),
                           rng.normal(0, 1, 60)])
    rows = [[f"{v:.6f}" for v in row] for row in raw]
    path = write_csv(tmp_path / "reg.csv", "a,b,const,target", rows)
    return path, np.array(rows, dtype=float)


def test_standardization_uses_the_training_split_only(regression_csv):
    path, table = regression_csv
    dataset = load(path, REGRESSION, validation_split=0.2, test_split=0.2)
    # The file has no random part, so the split is the first use of the generator.
    train, val, test = split_indices(60, None, 0.2, 0.2, np.random.default_rng(0))
    X = table[:, :3]
    mean = X[train].mean(axis=0)
    scale = X[train].std(axis=0)
    scale[2] = 1.0  # constant column
    np.testing.assert_allclose(dataset.mean, mean)
    np.testing.assert_allclose(dataset.scale, scale)
    np.testing.assert_allclose(dataset.X_train, (X[train] - mean) / scale)
    np.testing.assert_allclose(dataset.X_val, (X[val] - mean) / scale)
    np.testing.assert_allclose(dataset.X_test, (X[test] - mean) / scale)
    np.testing.assert_allclose(dataset.y_val, table[val, 3:])
    # training columns are z-scores; the constant column is all zeros with scale 1
    np.testing.assert_allclose(dataset.X_train[:, :2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(dataset.X_train[:, :2].std(axis=0), 1, atol=1e-12)
    assert dataset.scale[2] == 1.0 and np.all(dataset.X_train[:, 2] == 0) and np.all(dataset.X_test[:, 2] == 0)
    # not the statistics of all the data
    assert not np.allclose(dataset.mean[:2], X[:, :2].mean(axis=0))


def test_standardize_false_keeps_raw_values(regression_csv):
    path, table = regression_csv
    dataset = load(path, REGRESSION, standardize=False, validation_split=0.2, test_split=0.2)
    assert dataset.mean is None and dataset.scale is None
    train, _, test = split_indices(60, None, 0.2, 0.2, np.random.default_rng(0))
    np.testing.assert_array_equal(dataset.X_train, table[train, :3])
    np.testing.assert_array_equal(dataset.X_test, table[test, :3])


def test_constant_non_representable_column_gets_scale_one(tmp_path):
    path = write_csv(tmp_path / "c.csv", "a,c,y", [(i, 0.1, i % 2) for i in range(40)])
    dataset = load(path, validation_split=0.2, test_split=0.2)
    assert dataset.scale[1] == 1.0
    np.testing.assert_allclose(dataset.X_train[:, 1], 0.0, atol=1e-12)  # only centred, up to rounding


@pytest.mark.parametrize("task, source", [(CLASSIFICATION, "wine"), (REGRESSION, "diabetes"), (REGRESSION, "sine")])
def test_float32_config_gives_float32_arrays(task, source):
    dataset = load(source, task, dtype="float32")
    for X in (dataset.X_train, dataset.X_val, dataset.X_test):
        assert X.dtype == np.float32 and X.flags["C_CONTIGUOUS"]
    if task == REGRESSION:
        assert dataset.y_train.dtype == dataset.y_test.dtype == np.float32
    else:
        assert dataset.y_train.dtype.kind == "i"
    reference = load(source, task)
    np.testing.assert_allclose(dataset.X_train, reference.X_train, rtol=1e-6, atol=1e-6)


# --- CSV -------------------------------------------------------------------------------------------------

@pytest.fixture
def animals_csv(tmp_path):
    rows = [(i, (i * i) % 7, 2.5 * i, ["cat", "ant", "bee"][i % 3]) for i in range(30)]
    return write_csv(tmp_path / "animals.csv", "size, legs ,weight,kind", rows)


def test_csv_with_string_labels(animals_csv):
    dataset = load(animals_csv, validation_split=0.2, test_split=0.2)
    assert dataset.feature_names == ["size", "legs", "weight"]  # header cells are stripped
    assert dataset.target_names == ["kind"]
    assert dataset.classes.tolist() == ["ant", "bee", "cat"]  # sorted
    assert dataset.splits == {"train": 18, "validation": 6, "test": 6}
    # row i has kind index [2, 0, 1][i % 3]; recover i from the unstandardized 'size' column
    for X, y in ((dataset.X_train, dataset.y_train), (dataset.X_test, dataset.y_test)):
        size = np.rint(X[:, 0] * dataset.scale[0] + dataset.mean[0]).astype(int)
        assert np.array_equal(y, np.array([2, 0, 1])[size % 3])


def test_csv_numeric_labels_sorted_as_numbers(tmp_path):
    rows = [(i, i % 2, [10, 9, 2][i % 3]) for i in range(30)]
    path = write_csv(tmp_path / "n.csv", "a,b,label", rows)
    dataset = load(path, validation_split=0.0, test_split=0.0, standardize=False)
    assert dataset.classes.tolist() == [2, 9, 10]
    a = dataset.X_train[:, 0].astype(int)
    assert np.array_equal(dataset.y_train, np.array([2, 1, 0])[a % 3])


def test_csv_target_column_by_name(tmp_path):
    rows = [(i, (i * 3) % 4, 0.5 * i) for i in range(24)]
    path = write_csv(tmp_path / "t.csv", "x,cls,z", rows)
    dataset = load(path, target="cls", validation_split=0.0, test_split=0.0, standardize=False)
    assert dataset.feature_names == ["x", "z"] and dataset.target_names == ["cls"]
    assert dataset.classes.tolist() == [0, 1, 2, 3]
    x = dataset.X_train[:, 0].astype(int)
    assert np.array_equal(dataset.y_train, (x * 3) % 4)
    np.testing.assert_array_equal(dataset.X_train[:, 1], 0.5 * x)


def test_csv_list_of_targets_for_regression(tmp_path):
    rows = [(i, i % 5, 2 * i + 1, 0.25 * i) for i in range(20)]
    path = write_csv(tmp_path / "multi.csv", "x,u,y1,y2", rows)
    dataset = load(path, REGRESSION, target=["y1", "y2"], validation_split=0.25, test_split=0.25,
                   standardize=False)
    assert dataset.y_train.shape == (10, 2) and dataset.y_test.shape == (5, 2)
    assert dataset.n_targets == 2 and dataset.target_names == ["y1", "y2"]
    assert dataset.feature_names == ["x", "u"]
    x = dataset.X_train[:, 0]
    np.testing.assert_array_equal(dataset.y_train, np.column_stack([2 * x + 1, 0.25 * x]))


def test_csv_gz_works(tmp_path, animals_csv):
    gz = tmp_path / "animals.csv.gz"
    gz.write_bytes(gzip.compress(animals_csv.read_bytes()))
    a = load(animals_csv)
    b = load(gz)
    assert b.classes.tolist() == ["ant", "bee", "cat"]
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)


def test_csv_with_utf8_bom_and_blank_trailing_lines(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa,y\n1,0\n2,1\n3,0\n4,1\n\n\n".encode("utf-8"))
    dataset = load(path, validation_split=0.0, test_split=0.0, standardize=False)
    assert dataset.feature_names == ["a"]
    assert sorted(dataset.X_train[:, 0].tolist()) == [1, 2, 3, 4]


@pytest.mark.parametrize("text, expected", [
    ("", "the file is empty; expected a header row and data rows"),
    ("\n\n", "the file is empty; expected a header row and data rows"),
    ("a,b,y\n", "has a header but no data rows"),
    ("a,b,y\n1,2,0\n3,1\n", "row 3 has 2 fields, the header has 3"),
    ("a,b,y\n1,2,0\n3,4,1,5\n4,5,0\n", "row 3 has 4 fields, the header has 3"),
    ("a,b,y\n1,2,0\n3,abc,1\n", "row 3, column 'b': not a number: 'abc'"),
    ("a,b,y\n1,2,0\n3,4,1\n5,,0\n", "row 4, column 'b': not a number: ''"),
    ("a,b,y\n1,2,0\n3,nan,1\n", "row 3, column 'b': nan (features must be finite numbers)"),
    ("a,b,y\n1,2,0\n3,1,1\ninf,0,1\n", "row 4, column 'a': inf (features must be finite numbers)"),
    ("a,b,y\n1,2,0\n3,1,1\n2,-inf,1\n", "row 4, column 'b': -inf (features must be finite numbers)"),
    ("a,a,y\n1,2,0\n3,1,1\n", "the header repeats a column name ('a')"),
    ("y\n0\n1\n", "no feature columns besides the target"),
])
def test_bad_csv(tmp_path, text, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    assert data_error(path) == f"{path}: {expected}"


def test_bad_csv_row_number_counts_blank_lines(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("a,b,y\n\n1,2,0\n3,x,1\n", encoding="utf-8")  # the bad cell is on line 4
    assert data_error(path) == f"{path}: row 4, column 'b': not a number: 'x'"


def test_csv_missing_target_column(animals_csv):
    assert data_error(animals_csv, target="species") == (
        f"{animals_csv}: no target column 'species' (columns: size, legs, weight, kind)")


def test_csv_non_numeric_column_used_as_feature(animals_csv):
    # with 'legs' as the target, the string column 'kind' becomes a feature
    assert data_error(animals_csv, target="legs") == (
        f"{animals_csv}: row 2, column 'kind': not a number: 'cat'; if 'kind' holds what to predict, set "
        "data.target: kind (data.target is 'legs')")


def test_continuous_target_for_classification_suggests_regression(tmp_path):
    path = write_csv(tmp_path / "cont.csv", "a,y", [(i, 0.37 * i) for i in range(20)])
    message = data_error(path)
    assert message.startswith(f"{path}: the target has non-integer values, so it is continuous")
    assert "mse" in message and "mae" in message


def test_string_target_for_regression(animals_csv):
    assert data_error(animals_csv, REGRESSION) == (
        f"{animals_csv}: row 2, column 'kind': the target 'cat' is not a number; a regression loss (mse, mae) needs "
        "numbers")


def test_two_targets_for_classification(tmp_path):
    path = write_csv(tmp_path / "two.csv", "a,y1,y2", [(i, i % 2, i % 3) for i in range(20)])
    assert data_error(path, target=["y1", "y2"]) == f"{path}: classification needs one target column, got 2"


def test_single_class(tmp_path):
    path = write_csv(tmp_path / "one.csv", "a,b,y", [(i, i % 4, "same") for i in range(20)])
    assert data_error(path) == f"{path}: the target has a single class (same); need at least 2"


def test_nonexistent_file(tmp_path):
    path = tmp_path / "missing.csv"
    assert data_error(path) == f"{path}: no such file"
    assert data_error(tmp_path / "missing.txt") == f"{tmp_path / 'missing.txt'}: no such file"


def test_unknown_extension(tmp_path):
    path = tmp_path / "table.txt"
    path.write_text("a,y\n1,0\n2,1\n")
    assert data_error(path) == (f"{path}: unknown file type '.txt'; expected .csv, .npz or MNIST .idx/-ubyte "
                                "(optionally .gz)")


def test_directory_instead_of_file(tmp_path):
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    assert data_error(folder) == f"{folder}: is a directory, expected a data file"


def test_broken_gzip(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(b"this is not gzip")
    assert data_error(path).startswith(f"{path}: not a valid gzip file")


def test_csv_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"a,y\n1,caf\xe9\n2,tea\n")
    assert data_error(path).startswith(f"{path}: not a UTF-8 text file")


def test_too_few_samples(tmp_path):
    path = write_csv(tmp_path / "tiny.csv", "a,y", [(1, 0)])
    assert data_error(path) == (f"{path}: needs at least 2 samples, got 1 (a single sample trains alone with "
                                "data.validation_split: 0 and data.test_split: 0)")


# --- separate test file ------------------------------------------------------------------------------------

@pytest.fixture
def train_csv(tmp_path):
    return write_csv(tmp_path / "train.csv", "a,b,y", [(i, (i * i) % 7, i % 2) for i in range(20)])


def test_test_source_csv_is_the_test_split(tmp_path, train_csv):
    test_rows = [(100 + i, i % 5, i % 2) for i in range(6)]
    test = write_csv(tmp_path / "test.csv", "a,b,y", test_rows)
    dataset = load(train_csv, test_source=str(test), validation_split=0.2, test_split=0.5)
    assert dataset.splits == {"train": 16, "validation": 4, "test": 6}  # test_split unused
    np.testing.assert_allclose(dataset.X_test * dataset.scale + dataset.mean, np.array(test_rows, float)[:, :2])
    assert dataset.y_test.tolist() == [0, 1, 0, 1, 0, 1]
    # standardized with the training split's statistics
    np.testing.assert_allclose(dataset.X_train.mean(axis=0), 0, atol=1e-12)


@pytest.mark.parametrize("header, rows, shown", [
    ("a,c,y", [(i, i % 5, i % 2) for i in range(6)],
     "feature column 2 is 'c', but 'b' in the training data ({train}); the test file needs the same features in "
     "the same order"),
    ("b,a,y", [(i, i % 5, i % 2) for i in range(6)],
     "feature column 1 is 'b', but 'a' in the training data ({train}); the test file needs the same features in "
     "the same order"),
    ("a,b,c,y", [(i, i % 5, 1, i % 2) for i in range(6)],
     "has 3 feature columns, the training data ({train}) has 2; the test file needs the same features"),
])
def test_test_source_with_different_columns(tmp_path, train_csv, header, rows, shown):
    test = write_csv(tmp_path / "test.csv", header, rows)
    assert data_error(train_csv, test_source=str(test)) == f"{test}: {shown.format(train=train_csv)}"


def test_test_source_with_different_columns_than_a_csv_gz(tmp_path, train_csv):
    gz = tmp_path / "train.csv.gz"
    gz.write_bytes(gzip.compress(train_csv.read_bytes()))
    test = write_csv(tmp_path / "test.csv", "a,c,y", [(i, i % 5, i % 2) for i in range(6)])
    with pytest.raises(DataError, match="feature column 2 is 'c', but 'b' in the training data"):
        load(gz, test_source=str(test))


# --- NPZ -------------------------------------------------------------------------------------------------

def test_npz(tmp_path):
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.arange(20) % 2
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=y)
    dataset = load(path, validation_split=0.2, test_split=0.2, standardize=False)
    assert dataset.splits == {"train": 12, "validation": 4, "test": 4}  # 2 of each class in val and test
    assert dataset.feature_names == ["x0", "x1"] and dataset.target_names == ["y"]
    assert dataset.classes.tolist() == [0, 1]
    rows = (dataset.X_train[:, 0] / 2).astype(int)
    np.testing.assert_array_equal(dataset.X_train, X[rows])
    np.testing.assert_array_equal(dataset.y_train, y[rows])


def test_npz_one_dimensional_X_and_regression_y(tmp_path):
    path = tmp_path / "r.npz"
    np.savez(path, X=np.linspace(0, 1, 10), y=np.linspace(0, 2, 10))
    dataset = load(path, REGRESSION, validation_split=0.0, test_split=0.0, standardize=False)
    assert dataset.X_train.shape == (10, 1) and dataset.y_train.shape == (10, 1)
    np.testing.assert_allclose(dataset.y_train, 2 * dataset.X_train)


@pytest.mark.parametrize("arrays, expected", [
    ({"Z": np.zeros((4, 2)), "y": np.zeros(4)},
     "no array 'X' (found: Z, y); expected X (samples x features) and y"),
    ({"X": np.zeros((4, 2))}, "no array 'y' (found: X); expected X (samples x features) and y"),
    ({"X": np.zeros((4, 2)), "y": np.zeros(3)}, "y has shape (3,) but X has 4 rows"),
    ({"X": np.zeros((4, 2, 2)), "y": np.zeros(4)}, "X must be 2-D (samples x features), got shape (4, 2, 2)"),
    ({"X": np.array([["a", "b"]] * 4), "y": np.arange(4) % 2}, "X must be numeric, got dtype <U1"),
    ({"X": np.array([[1.0, 2.0], [np.nan, 1.0]]), "y": np.array([0, 1])},
     "row 1, column 'x0': nan (features must be finite numbers)"),
])
def test_bad_npz(tmp_path, arrays, expected):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    assert data_error(path) == f"{path}: {expected}"


@pytest.mark.parametrize("content", [b"PK\x03\x04" + b"garbage" * 20, b"\x00\x01 hello", b""])
def test_corrupt_npz(tmp_path, content):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(content)
    assert data_error(path).startswith(f"{path}: not a readable .npz archive (")


def test_npy_file_named_npz(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))
    assert data_error(path).startswith(f"{path}: not a readable .npz archive (")


# --- IDX (MNIST) ------------------------------------------------------------------------------------------

def idx_images(images: np.ndarray) -> bytes:
    return struct.pack(">IIII", 0x00000803, *images.shape) + images.astype(np.uint8).tobytes()


def idx_labels(labels) -> bytes:
    labels = np.asarray(labels, dtype=np.uint8)
    return struct.pack(">II", 0x00000801, len(labels)) + labels.tobytes()


@pytest.fixture
def mnist(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(20, 3, 2)).astype(np.uint8)
    labels = np.arange(20) % 4
    images[:, 0, 0] = np.arange(20)  # pixel 0 identifies the image
    return tmp_path, images, labels


def _check_mnist(dataset, images, labels):
    assert dataset.X_train.shape[1] == 6
    assert dataset.classes.tolist() == [0, 1, 2, 3]
    assert dataset.feature_names == [f"px{j}" for j in range(6)] and dataset.target_names == ["label"]
    for X, y in ((dataset.X_train, dataset.y_train), (dataset.X_val, dataset.y_val)):
        assert X.min() >= 0.0 and X.max() <= 1.0
        ids = np.rint(X[:, 0] * 255).astype(int)
        np.testing.assert_allclose(X, images[ids].reshape(len(ids), 6) / 255.0)
        assert np.array_equal(y, labels[ids])


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_pair_with_inferred_labels(mnist, suffix):
    folder, images, labels = mnist
    pack = gzip.compress if suffix else (lambda b: b)
    (folder / f"train-images-idx3-ubyte{suffix}").write_bytes(pack(idx_images(images)))
    (folder / f"train-labels-idx1-ubyte{suffix}").write_bytes(pack(idx_labels(labels)))
    dataset = load(folder / f"train-images-idx3-ubyte{suffix}", standardize=False,
                   validation_split=0.2, test_split=0.2)
    assert dataset.splits == {"train": 12, "validation": 4, "test": 4}
    _check_mnist(dataset, images, labels)


def test_idx_explicit_labels(mnist):
    folder, images, labels = mnist
    (folder / "pictures.idx").write_bytes(idx_images(images))
    (folder / "answers.idx").write_bytes(idx_labels(labels))
    dataset = load(folder / "pictures.idx", labels=str(folder / "answers.idx"), standardize=False,
                   validation_split=0.2, test_split=0.2)
    _check_mnist(dataset, images, labels)
    message = data_error(folder / "pictures.idx")
    assert message.startswith(f"{folder / 'pictures.idx'}: cannot infer the labels file; set data.labels")


def test_idx_test_source_and_test_labels(mnist):
    folder, images, labels = mnist
    (folder / "train-images-idx3-ubyte").write_bytes(idx_images(images))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_labels(labels))
    test_images = np.full((5, 3, 2), 255, np.uint8)
    test_images[:, 0, 0] = np.arange(5)
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_images(test_images))
    (folder / "t10k-answers").write_bytes(idx_labels([3, 2, 1, 0, 3]))
    dataset = load(folder / "train-images-idx3-ubyte", standardize=False, validation_split=0.2, test_split=0.5,
                   test_source=str(folder / "t10k-images-idx3-ubyte"), test_labels=str(folder / "t10k-answers"))
    assert dataset.splits == {"train": 16, "validation": 4, "test": 5}
    np.testing.assert_allclose(dataset.X_test, test_images.reshape(5, 6) / 255.0)
    assert dataset.y_test.tolist() == [3, 2, 1, 0, 3]


def test_idx_bad_magic(mnist):
    folder, images, labels = mnist
    path = folder / "bad-images-idx3-ubyte"
    path.write_bytes(b"\x12\x34" + idx_images(images)[2:])
    (folder / "bad-labels-idx1-ubyte").write_bytes(idx_labels(labels))
    assert data_error(path).startswith(f"{path}: bad IDX magic number 12340803")


@pytest.mark.parametrize("which", ["images", "labels"])
def test_idx_truncated_payload(mnist, which):
    folder, images, labels = mnist
    data = {"images": idx_images(images), "labels": idx_labels(labels)}
    data[which] = data[which][:-3]
    (folder / "cut-images-idx3-ubyte").write_bytes(data["images"])
    (folder / "cut-labels-idx1-ubyte").write_bytes(data["labels"])
    bad = folder / ("cut-images-idx3-ubyte" if which == "images" else "cut-labels-idx1-ubyte")
    message = data_error(folder / "cut-images-idx3-ubyte")
    assert message.startswith(f"{bad}: IDX payload is ")
    assert "(truncated or corrupt)" in message


def test_idx_truncated_header(mnist):
    folder, images, _ = mnist
    path = folder / "short-images-idx3-ubyte"
    path.write_bytes(idx_images(images)[:7])
    assert data_error(path) == f"{path}: truncated IDX header"


def test_idx_missing_labels_file(mnist):
    folder, images, _ = mnist
    (folder / "lone-images-idx3-ubyte").write_bytes(idx_images(images))
    labels = folder / "lone-labels-idx1-ubyte"
    assert data_error(folder / "lone-images-idx3-ubyte") == f"{labels}: no such file"


def test_idx_label_count_mismatch(mnist):
    folder, images, labels = mnist
    (folder / "odd-images-idx3-ubyte").write_bytes(idx_images(images))
    (folder / "odd-labels-idx1-ubyte").write_bytes(idx_labels(labels[:15]))
    assert data_error(folder / "odd-images-idx3-ubyte").startswith(
        f"{folder / 'odd-labels-idx1-ubyte'}: 15 labels of shape (15,) for 20 images")


# --- synthetic generators ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, task", [("xor", CLASSIFICATION), ("spirals", CLASSIFICATION),
                                        ("moons", CLASSIFICATION), ("blobs", CLASSIFICATION),
                                        ("sine", REGRESSION)])
def test_synthetic_is_seeded_and_sized(name, task):
    a = load(name, task, seed=3, n_samples=60)
    b = load(name, task, seed=3, n_samples=60)
    c = load(name, task, seed=4, n_samples=60)
    assert_split_sizes(a, 60)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.mean, b.mean)
    assert not np.array_equal(a.mean, c.mean)


def raw_points(name, task, **data):
    dataset = load(name, task, standardize=False, validation_split=0.0, test_split=0.0, **data)
    return dataset.X_train, dataset.y_train


def test_xor_noise_zero_puts_points_on_the_corners():
    X, y = raw_points("xor", CLASSIFICATION, n_samples=40, noise=0.0)
    assert X.shape == (40, 2)
    assert set(np.unique(X)) == {-1.0, 1.0}
    assert np.array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))
    X_noisy, _ = raw_points("xor", CLASSIFICATION, n_samples=40, noise=0.5)
    assert len(np.unique(X_noisy)) == 80


def test_moons_noise_zero_lies_on_the_half_circles():
    X, y = raw_points("moons", CLASSIFICATION, n_samples=50, noise=0.0)
    assert X.shape == (50, 2) and np.bincount(y).tolist() == [25, 25]
    outer, inner = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0)


def test_sine_noise_zero_is_exact():
    X, y = raw_points("sine", REGRESSION, n_samples=30, noise=0.0)
    assert X.shape == (30, 1) and y.shape == (30, 1)
    np.testing.assert_allclose(y, np.sin(X))
    X, y = raw_points("sine", REGRESSION, n_samples=2000, noise=0.2)
    assert 0.17 < np.std(y - np.sin(X)) < 0.23


def test_blobs_noise_is_the_cluster_spread():
    X, y = raw_points("blobs", CLASSIFICATION, n_samples=3000, noise=0.5)
    assert np.bincount(y).tolist() == [1000, 1000, 1000]
    for c in range(3):
        assert np.all(np.abs(X[y == c].std(axis=0) - 0.5) < 0.05)


def test_synthetic_defaults():
    assert load("spirals", validation_split=0.0, test_split=0.0).splits["train"] == 600
    assert load("blobs", validation_split=0.0, test_split=0.0).splits["train"] == 300
