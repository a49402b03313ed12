"""Property tests of the bad-input contract (issue 7): whatever a config or a data file holds, gdtrain either
accepts it or says what is wrong in one line naming the key or the file — it never fails with another exception.

  1. random YAML documents, built from the real config keys at every level (plus random ones) and random
     values, as Python data, as YAML text, as raw text and as random bytes; and shipped configs with random
     edits (a character deleted or inserted, lines swapped or duplicated, a tab)
       -> config.from_dict / parse_yaml / load_config succeed or raise ConfigError;
  2. random bytes written as .csv / .csv.gz / .npz / .idx / -ubyte(.gz) files, random CSV text from hostile
     tokens, and valid files mutated (truncated, bytes flipped, NaN / empty / text cells inserted)
       -> data.read_table and data.load_data succeed or raise DataError / ConfigError;
  3. ``gdtrain fit --epochs 1`` on tiny random configs through the CLI -> exit 0, 1 or 2 and never a traceback.

hypothesis is not a test dependency of the package (``pip install '.[test]'``): without it this module is
skipped. .ci/run installs it. Every test is derandomized (the same examples on every run) so CI is stable.
"""

from __future__ import annotations

import copy
import functools
import gzip
import io
import os
import re
import struct
import tempfile
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from gdtrain import config as config_module  # noqa: E402
from gdtrain.activations import ACTIVATIONS  # noqa: E402
from gdtrain.cli import app  # noqa: E402
from gdtrain.config import dump_yaml, from_dict, load_config, parse_yaml, to_dict  # noqa: E402
from gdtrain.data import DATASETS, load_data, read_table  # noqa: E402
from gdtrain.early_stopping import OPTIONS as EARLY_OPTIONS  # noqa: E402
from gdtrain.errors import ConfigError, DataError, GdtrainError  # noqa: E402
from gdtrain.init import INITIALIZERS  # noqa: E402
from gdtrain.linesearch import LINE_SEARCHES  # noqa: E402
from gdtrain.losses import LOSSES  # noqa: E402
from gdtrain.optimizers import ALIASES, OPTIMIZERS  # noqa: E402
from gdtrain.schedules import COMMON_OPTIONS, SCHEDULES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "configs").glob("*.yaml"))
ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}


# GDTRAIN_FUZZ_SCALE=20 pytest tests/test_fuzz.py: a longer hunt with fresh random examples (CI uses the default 1:
# the same examples every run).
SCALE = float(os.environ.get("GDTRAIN_FUZZ_SCALE", "1"))


def fuzz(max_examples: int):
    return settings(max_examples=max(1, int(max_examples * SCALE)), deadline=None, derandomize=SCALE == 1,
                    database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# A message is "prefix: what is wrong", the prefix a key path, a file or an option, all on one line.
MESSAGE = re.compile(r"^\S[^\n]*?: \S[^\n]*$")


def check_message(exc: BaseException) -> str:
    assert isinstance(exc, GdtrainError), repr(exc)
    message = str(exc)
    assert MESSAGE.match(message), repr(message)
    assert "Traceback" not in message
    return message


# --- 1. configs ---------------------------------------------------------------------------------------

def _names(table) -> list:
    return [f.name for f in fields(table) if not f.metadata.get("internal")]


# The keys the config knows at each level ("" is the document; "[]" is an item of a list).
SECTIONS = {
    "": _names(config_module.Config),
    "data": _names(config_module.DataConfig),
    "model": _names(config_module.ModelConfig),
    "model.hidden[]": _names(config_module.LayerConfig),
    "regularization": _names(config_module.RegularizationConfig),
    "clip": _names(config_module.ClipConfig),
    "training": _names(config_module.TrainingConfig),
    "monitor": _names(config_module.MonitorConfig),
    "compare": _names(config_module.CompareConfig),
    "optimizer": ["name"] + sorted({key for name in OPTIMIZERS for key in OPTIMIZERS.get(name).OPTIONS}),
    "schedule": ["name"] + sorted(set(COMMON_OPTIONS) | {key for name in SCHEDULES
                                                           for key in SCHEDULES.get(name).OPTIONS}),
    "training.early_stopping": list(EARLY_OPTIONS),
    "training.line_search": ["name"] + sorted({key for name in LINE_SEARCHES
                                                for key in LINE_SEARCHES.get(name).options}),
    "compare.optimizers[]": ["name", "label", "lr", "momentum", "betas", "weight_decay"],
}
# Valid names (and near misses) for the string values, so that documents get past the first check often.
WORDS = sorted(set(
    list(DATASETS) + list(ACTIVATIONS) + list(LOSSES) + list(OPTIMIZERS) + list(ALIASES) + list(SCHEDULES)
    + list(INITIALIZERS) + list(LINE_SEARCHES)
    + ["batch", "sgd", "minibatch", "last", "best", "epoch", "step", "float32", "float64", "float16", "auto", "min",
       "max", "val_loss", "train_loss", "val_accuracy", "val_r2", "val_mae", "grad_norm", "torch", "textbook", "hat",
       "irsi", "adma", "rleu", "crossentropy", "y", "species", "missing.csv", "nope.npz", "1e-3", "0.1", "yes", ""]))

SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(-3, 70), st.integers(), st.sampled_from([0, 1, 2, 10 ** 30, -(10 ** 30), 2 ** 63, 10 ** 5000]),
    st.floats(-2.0, 2.0), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 0.5, 1.0, 3.0, 1e3]),
    st.sampled_from(WORDS), st.text(max_size=10),
)


@functools.lru_cache(maxsize=None)
def value_for(path: str):
    """Random values for the key at ``path``: its section's mapping when it is one, else anything."""
    options = [SCALARS, st.lists(SCALARS, max_size=4)]
    if path in SECTIONS:
        options = [mapping(path), mapping(path), *options]
    if path in ("optimizer", "schedule", "training.line_search", "training.early_stopping"):
        options.append(st.sampled_from(WORDS))
    if path == "model.hidden":
        item = st.one_of(st.integers(-2, 12), mapping("model.hidden[]"), SCALARS)
        options = [st.lists(item, max_size=3), st.lists(item, max_size=3), *options]
    if path == "compare.optimizers":
        item = st.one_of(st.sampled_from(WORDS), mapping("compare.optimizers[]"), SCALARS)
        options = [st.lists(item, max_size=3), *options]
    if path == "compare.target_metric":
        options.append(st.dictionaries(st.sampled_from(WORDS), SCALARS, max_size=2))
    return st.one_of(*options)


@functools.lru_cache(maxsize=None)
def mapping(path: str):
    """A random mapping for the section at ``path``: mostly its real keys, sometimes a random one."""
    prefix = f"{path}." if path else ""
    known = st.sampled_from(SECTIONS[path]).flatmap(lambda key: st.tuples(st.just(key), value_for(prefix + key)))
    stray = st.tuples(st.one_of(st.text(max_size=8), st.integers(), st.just(10 ** 5000), st.none(), st.booleans()),
                      SCALARS)
    return st.lists(st.one_of(known, known, known, stray), max_size=5).map(dict)


DOCUMENTS = mapping("")

# Plausible documents: a shipped (valid) config with one to three keys set to a random value, added or deleted,
# so that the checks after the first key — ranges, names, combinations, the data — get exercised too.
BASES = [parse_yaml(path.read_text(encoding="utf-8"), str(path)) for path in SHIPPED]
EDGES = st.one_of(SCALARS, st.sampled_from([0, -1, 1, 2, 0.5, 0.99, 1.0, 1e-9, 1e9, float("nan"), float("inf"), True,
                                            False, None, "", [], {}, [0.9, 0.999], [1, 2], "val_loss", "batch"]))


def _nodes(node, path=()):
    """(path, value) of every node below ``node``; a path is a tuple of keys and list indices."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield path + (key,), value
        yield from _nodes(value, path + (key,))


@st.composite
def plausible_documents(draw):
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        nodes = list(_nodes(doc))
        op = draw(st.sampled_from(["set", "set", "add", "delete"]))
        if op in ("set", "delete") and nodes:
            path, _ = draw(st.sampled_from(nodes))
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            if op == "delete" and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(draw(EDGES))  # a copy: sampled_from hands out one shared {}
        else:  # a known key of a section, with any value
            sections = [("", doc)] + [(".".join(map(str, p)), v) for p, v in nodes
                                      if isinstance(v, dict) and ".".join(map(str, p)) in SECTIONS]
            where, section = draw(st.sampled_from(sections))
            key = draw(st.sampled_from(SECTIONS[where]))
            section[key] = copy.deepcopy(draw(st.one_of(EDGES, value_for(f"{where}.{key}" if where else key))))
    return doc


def check_config(doc):
    """from_dict(doc) succeeds (and the resolved config survives a YAML round trip) or raises a ConfigError."""
    try:
        config = from_dict(doc)
    except ConfigError as exc:
        check_message(exc)
        return None
    again = from_dict(parse_yaml(dump_yaml(config)))
    assert to_dict(again) == to_dict(config)
    return config


@fuzz(300)
@given(DOCUMENTS)
def test_random_config_mappings(doc):
    check_config(doc)


@fuzz(300)
@given(plausible_documents())
def test_plausible_config_documents(doc):
    check_config(doc)


@fuzz(200)
@given(st.one_of(DOCUMENTS, plausible_documents()))
def test_random_config_documents_as_yaml_text(doc):
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except ValueError:  # PyYAML cannot write an integer of more than 4300 digits (Python's str() limit)
        return
    try:
        raw = parse_yaml(text, "fuzz.yaml")
    except ConfigError as exc:
        check_message(exc)
        return
    check_config(raw)


@fuzz(200)
@given(st.one_of(st.text(max_size=200),
                 st.lists(st.sampled_from(["seed: 1", "data:", "  source: iris", "\tepochs: 2", "training: {",
                                           "- 3", "? [a]", ": x", "&a 1", "*a", "*b", "!!python/none x", "!!int x",
                                           "!!float y", "!!timestamp 2001-13-45", "a: 2001-02-30", "optimizer: sgd",
                                           "optimizer: sgd", "'unterminated", "{", "]", "%YAML 1.1", "---", "...",
                                           "model: {hidden: [8, 8]}", "lr: 1e-3", "seed: " + "9" * 5000, "#",
                                           "\ufeffseed: 0", "key: |", "  text", "x: !!binary '@@'"]),
                          max_size=12).map("\n".join)))
def test_random_yaml_text(text):
    try:
        raw = parse_yaml(text, "fuzz.yaml")
    except ConfigError as exc:
        assert check_message(exc).startswith("fuzz.yaml: invalid YAML")
        return
    check_config(raw)


@fuzz(150)
@given(st.binary(max_size=300))
def test_random_bytes_as_a_config_file(tmp_dir, content):
    path = tmp_dir / "random.yaml"
    path.write_bytes(content)
    try:
        load_config(path)
    except ConfigError as exc:
        check_message(exc)


def _mutate_text(text: str, data) -> str:
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["delete", "insert", "swap", "duplicate", "tab", "truncate"]))
        lines = text.split("\n")
        if kind == "delete" and text:
            i = data.draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + 1:]
        elif kind == "insert":
            i = data.draw(st.integers(0, len(text)))
            text = text[:i] + data.draw(st.sampled_from([":", "-", " ", "{", "[", "'", '"', "#", "\t", "0", "x",
                                                         "\n", "&", "*", "!", "%", ",", "?"])) + text[i:]
        elif kind == "swap" and len(lines) > 1:
            i, j = data.draw(st.integers(0, len(lines) - 1)), data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif kind == "duplicate" and lines:
            i = data.draw(st.integers(0, len(lines) - 1))
            text = "\n".join(lines[:i + 1] + [lines[i]] + lines[i + 1:])
        elif kind == "tab" and lines:
            i = data.draw(st.integers(0, len(lines) - 1))
            lines[i] = "\t" + lines[i]
            text = "\n".join(lines)
        elif kind == "truncate" and text:
            text = text[:data.draw(st.integers(0, len(text) - 1))]
    return text


@fuzz(200)
@given(st.sampled_from(SHIPPED), st.data())
def test_mutated_shipped_configs(tmp_dir, shipped, data):
    path = tmp_dir / shipped.name
    path.write_text(_mutate_text(shipped.read_text(encoding="utf-8"), data), encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as exc:
        check_message(exc)


# --- 2. data files ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tmp_dir():
    with tempfile.TemporaryDirectory(prefix="gdtrain-fuzz-") as folder:
        yield Path(folder)


def check_table(path: Path, target=None, labels=None):
    """read_table succeeds with a well-formed Table, or raises a DataError / ConfigError naming the file."""
    try:
        table = read_table(path, target, labels)
    except (DataError, ConfigError) as exc:
        message = check_message(exc)
        assert message.startswith((str(path), str(path.parent), "data.target:")), message
        return None
    assert table.X.ndim == 2 and len(table.X) == len(table.y) > 0 and table.X.shape[1] > 0
    assert table.X.dtype in (np.float32, np.float64) and np.all(np.isfinite(table.X))
    assert len(table.feature_names) == table.X.shape[1]
    return table


def check_load(tmp_dir: Path, source: Path, **data):
    """load_data through a config, for a classifier and a regressor: a Dataset, or a clean error."""
    for loss, task in (("cross_entropy", "classification"), ("mse", "regression")):
        try:
            config = from_dict({"data": {"source": str(source), **data}, "loss": loss})
            dataset = load_data(config, np.random.default_rng(0), task)
        except (DataError, ConfigError) as exc:
            check_message(exc)
            continue
        assert dataset.splits["train"] > 0
        for X in (dataset.X_train, dataset.X_val, dataset.X_test):
            assert np.all(np.isfinite(X))
        if task == "classification":
            assert dataset.n_classes >= 2
        else:
            assert np.all(np.isfinite(dataset.y_train))


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    return (bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
            + np.ascontiguousarray(array, dtype=dtype).tobytes())


NAMES = ["data.csv", "data.csv.gz", "data.npz", "data.npz.gz", "data.idx", "train-images-idx3-ubyte",
         "train-images-idx3-ubyte.gz", "data.txt", "data"]


@fuzz(250)
@given(st.sampled_from(NAMES), st.binary(max_size=400))
def test_random_bytes_as_data_files(tmp_dir, name, content):
    folder = Path(tempfile.mkdtemp(dir=tmp_dir))
    path = folder / name
    path.write_bytes(content)
    (folder / "train-labels-idx1-ubyte").write_bytes(content[::-1])
    check_table(path)


CELLS = st.one_of(
    st.sampled_from(["0", "1", "2", "-1", "3.5", "1e3", "1e400", "-1e400", "nan", "NaN", "inf", "-inf", "", " ",
                     "a", "b", "cat", "1,5", '"1"', '"a,b"', '"', "0x1F", "1_000", "١٢", "\ufeff1", "true", "None",
                     "\x00", "\t", "2.0", "7", "1e-300"]),
    st.text(max_size=6), st.integers(-5, 5).map(str), st.floats(-1e6, 1e6).map(repr))


@st.composite
def csv_texts(draw):
    width = draw(st.integers(1, 4))
    header = draw(st.lists(st.sampled_from(["a", "b", "y", "label", "", "a", "x y", '"q"', "\ufeffa"]),
                           min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(CELLS, min_size=max(0, width - 1), max_size=width + 1), max_size=12))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    separator = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    return ending.join(separator.join(row) for row in [header] + rows) + draw(st.sampled_from(["", ending]))


@fuzz(250)
@given(csv_texts(), st.sampled_from([None, "y", "label", "zz", ["a", "y"]]), st.booleans())
def test_random_csv_text(tmp_dir, text, target, compress):
    folder = Path(tempfile.mkdtemp(dir=tmp_dir))
    path = folder / ("t.csv.gz" if compress else "t.csv")
    raw = text.encode("utf-8", "surrogatepass")
    path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    if check_table(path, target) is not None:
        check_load(folder, path, target=target, validation_split=0.2, test_split=0.2)


def _valid_csv(rng: np.random.Generator, rows: int) -> bytes:
    lines = ["a,b,c,y"] + [f"{rng.normal():.4f},{rng.integers(0, 9)},{rng.uniform(-5, 5):.3f},{i % 3}"
                           for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _valid_files(kind: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n = 24
    if kind == "csv":
        return {"d.csv": _valid_csv(rng, n)}
    if kind == "csv.gz":
        return {"d.csv.gz": gzip.compress(_valid_csv(rng, n), mtime=0)}  # mtime=0: the same bytes every run
    if kind == "npz":
        return {"d.npz": npz_bytes(X=rng.normal(size=(n, 3)), y=np.arange(n) % 3)}
    images = rng.integers(0, 256, size=(n, 2, 3))
    return {"train-images-idx3-ubyte": idx_bytes(images), "train-labels-idx1-ubyte": idx_bytes(np.arange(n) % 3)}


def _mutate_bytes(content: bytes, data) -> bytes:
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert", "cells", "append"]))
    if kind == "truncate":
        return content[:data.draw(st.integers(0, max(0, len(content) - 1)))]
    if kind == "flip" and content:
        out = bytearray(content)
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(out) - 1))
            out[i] = data.draw(st.integers(0, 255))
        return bytes(out)
    if kind == "insert":
        i = data.draw(st.integers(0, len(content)))
        return content[:i] + data.draw(st.sampled_from([b"nan", b"inf", b",", b"\n", b"", b"x", b'"', b"\x00",
                                                         b"\xff", b"1e999", b"\r"])) + content[i:]
    if kind == "cells":  # a CSV cell replaced (NaN, empty, text, a huge number)
        text = content.decode("latin-1")
        cells = [m.start() for m in re.finditer(r"[-0-9.]+", text)]
        if cells:
            i = data.draw(st.sampled_from(cells))
            end = re.match(r"[-0-9.]+", text[i:]).end() + i
            text = text[:i] + data.draw(st.sampled_from(["nan", "", "abc", "1e400", "inf", "-0", "7.5"])) + text[end:]
        return text.encode("latin-1")
    return content + data.draw(st.binary(max_size=20))


@fuzz(250)
@given(st.sampled_from(["csv", "csv.gz", "npz", "idx"]), st.integers(0, 3), st.data())
def test_mutated_valid_data_files(tmp_dir, kind, seed, data):
    folder = Path(tempfile.mkdtemp(dir=tmp_dir))
    files = _valid_files(kind, seed)
    victim = data.draw(st.sampled_from(sorted(files)))
    files[victim] = _mutate_bytes(files[victim], data)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    main = folder / sorted(files)[-1] if kind == "idx" else folder / victim  # the images file for IDX
    if check_table(main) is not None:
        check_load(folder, main, validation_split=0.25, test_split=0.25)


@fuzz(150)
@given(st.sampled_from(["X", "y", "both"]),
       st.sampled_from(["f8", "f4", "f2", "i8", "u1", "b1", "U3", "S3", "c16", "M8[D]", "V8"]),
       st.sampled_from([(6,), (6, 2), (6, 0), (0, 2), (6, 2, 2), (), (5,), (6, 1)]),
       st.sampled_from([None, np.nan, np.inf, 1e300, 7]))
def test_npz_with_odd_arrays(tmp_dir, which, dtype, shape, fill):
    folder = Path(tempfile.mkdtemp(dir=tmp_dir))
    rng = np.random.default_rng(0)
    odd = np.zeros(shape, dtype=dtype)
    if fill is not None and odd.dtype.kind in "fc" and odd.size:
        with np.errstate(over="ignore"):  # 1e300 in float16 is inf: one more odd value
            odd.flat[0] = fill
    arrays = {"X": rng.normal(size=(6, 2)), "y": np.arange(6) % 2}
    if which in ("X", "both"):
        arrays["X"] = odd
    if which in ("y", "both"):
        arrays["y"] = odd
    path = folder / "odd.npz"
    path.write_bytes(npz_bytes(**arrays))
    if check_table(path) is not None:
        check_load(folder, path, validation_split=0.0, test_split=0.0)


# --- 3. the CLI -----------------------------------------------------------------------------------------

# A tiny run that mostly makes sense (most examples train), and half the time one setting that does not.
TINY = st.fixed_dictionaries({
    "data": st.fixed_dictionaries({
        "source": st.sampled_from(["iris", "xor", "sine", "blobs", "moons"]),
        "n_samples": st.sampled_from([None, 24, 40]),
        "validation_split": st.sampled_from([0.0, 0.2, 0.3]),
        "test_split": st.sampled_from([0.0, 0.2]),
        "standardize": st.booleans(),
    }),
    "model": st.fixed_dictionaries({"hidden": st.lists(st.one_of(
        st.integers(1, 6), st.fixed_dictionaries({
            "units": st.integers(1, 6), "activation": st.sampled_from(sorted(ACTIVATIONS)),
            "dropout": st.sampled_from([0.0, 0.3])})), max_size=2)}),
    "optimizer": st.one_of(st.sampled_from(sorted(OPTIMIZERS) + list(ALIASES)), st.fixed_dictionaries({
        "name": st.sampled_from(sorted(OPTIMIZERS)), "lr": st.sampled_from([0.1, 1e-3, 10.0, 1e6])})),
    "schedule": st.sampled_from(["constant", "cosine", {"name": "step", "step_size": 1},
                                 {"name": "exponential", "gamma": 0.5}, {"name": "constant", "warmup_epochs": 2}]),
    "clip": st.sampled_from([{}, {"norm": 1.0}, {"value": 0.5}]),
    "training": st.fixed_dictionaries({
        "mode": st.sampled_from(["batch", "sgd", "minibatch"]),
        "batch_size": st.sampled_from([1, 8, 1000]),
    }),
})
REGRESSION_SOURCES = ("sine",)
BAD = st.sampled_from([
    ("data.standardize", "yes"), ("data.validation_split", 0.9), ("data.n_samples", 3), ("data.source", "irsi"),
    ("loss", "crossentropy"), ("loss", "bce"), ("loss", "hinge"), ("optimizer", {"name": "sgd", "lr": 0}),
    ("optimizer", {"name": "adam", "lr": True}), ("schedule", "plateau"), ("schedule", {"name": "step"}),
    ("clip", {"norm": 1.0, "value": 1.0}), ("training.batch_size", 0), ("training.line_search", "wolfe"),
    ("training.early_stopping", {"monitor": "val_accuracy"}), ("training.early_stopping", {"monitor": "val_r2"}),
    ("training.early_stopping", True), ("model.hidden", [{"units": 3, "dropout": 1.0}]), ("model.init", "he_norml"),
    ("training.epochs", 2.0), ("seed", -1), ("dtype", "float16"), ("trainig", {}), ("data.target", "y"),
])


@st.composite
def tiny_configs(draw):
    raw = draw(TINY)
    raw["loss"] = "mse" if raw["data"]["source"] in REGRESSION_SOURCES else "cross_entropy"
    if draw(st.booleans()):
        key, value = draw(BAD)
        node = raw
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return raw


@fuzz(60)
@given(tiny_configs())
def test_cli_fit_on_tiny_random_configs(tmp_dir, raw):
    folder = Path(tempfile.mkdtemp(dir=tmp_dir))
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["fit", str(path), "--epochs", "1", "--out", str(folder / "run")], env=ENV)
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "internal error" not in result.output, result.output
    if result.exit_code == 2:
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert 1 <= len(errors) <= 2 and errors[0].startswith("error: "), result.stderr
        assert not (folder / "run").exists()  # a refused config trains nothing and leaves nothing behind
