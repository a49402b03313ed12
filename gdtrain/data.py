"""Data: built-in and synthetic datasets, CSV / NPZ / MNIST IDX files, the seeded split and standardization.

``load_data(config)`` returns a ``Dataset`` with train / validation / test arrays already in the
config's dtype. Classification targets become class indices 0..K−1 in the sorted order of the labels
(ints or strings); regression targets are float columns. Standardization z = (x − μ)/σ uses μ, σ of the
training split only, and travels with the model so predictions use the same transform.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .errors import ConfigError, DataError
from .options import describe
from .registry import Registry, shown, unknown_name_message
from .resources import shipped_file
from .rundir import refuse_special_file
from .targets import TargetScaling


CHUNK = 8192  # rows per pass over a large array (finite checks, standardization)
MANY_CLASSES = 20  # more distinct labels than this and than half the rows: a continuous target, not classes


@dataclass
class Table:
    """Raw features and targets as loaded, before splitting."""

    X: np.ndarray  # (n, d) float64, or float32 when a binary file stores float32 (never copied to widen it)
    y: np.ndarray  # (n,) labels of any kind, or (n, k) floats
    feature_names: List[str]
    target_names: List[str]
    source: str
    named_columns: bool = False  # feature names come from a file's header (CSV), not made up
    lines: Optional[np.ndarray] = None  # the file line of each row (CSV), for messages


@dataclass
class Dataset:
    task: str  # "classification" | "regression"
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: Optional[np.ndarray]  # class labels in index order (classification)
    feature_names: List[str]
    target_names: List[str]
    mean: Optional[np.ndarray] = None  # standardization: z = (x − mean) / scale
    scale: Optional[np.ndarray] = None
    source: str = ""
    splits: Dict[str, int] = field(default_factory=dict)
    target_scaling: Optional[TargetScaling] = None  # data.standardize_target: the y_* are (y − μ_y)/σ_y

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return 0 if self.classes is None else len(self.classes)

    @property
    def n_targets(self) -> int:
        return 1 if self.y_train.ndim == 1 else self.y_train.shape[1]


# --- synthetic generators: (n_samples, noise, rng) -> (X, y) ---------------------------------------

def make_xor(n: int, noise: float, rng: np.random.Generator):
    """Four Gaussian clusters at (±1, ±1); the class is x₁ > 0 XOR x₂ > 0 — no line separates it."""
    corners = rng.integers(0, 2, size=(n, 2)) * 2 - 1
    X = corners + rng.normal(0, noise, size=(n, 2))
    return X, (corners[:, 0] * corners[:, 1] < 0).astype(int)


def make_spirals(n: int, noise: float, rng: np.random.Generator):
    """Two interleaved spiral arms, one per class."""
    y = np.arange(n) % 2
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    arm = np.where(y == 0, 1.0, -1.0)
    X = np.column_stack([arm * t * np.cos(t), arm * t * np.sin(t)]) / (3 * np.pi)
    return X + rng.normal(0, noise, X.shape), y


def make_moons(n: int, noise: float, rng: np.random.Generator):
    """Two interleaving half circles (as scikit-learn's make_moons)."""
    n_out = n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n - n_out)
    X = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   np.column_stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)])])
    y = np.r_[np.zeros(n_out, int), np.ones(n - n_out, int)]
    return X + rng.normal(0, noise, X.shape), y


def make_blobs(n: int, noise: float, rng: np.random.Generator):
    """Three Gaussian blobs of std ``noise`` around centres drawn in [−5, 5]²."""
    centres = rng.uniform(-5, 5, size=(3, 2))
    y = np.arange(n) % 3
    return centres[y] + rng.normal(0, noise, size=(n, 2)), y


def make_sine(n: int, noise: float, rng: np.random.Generator):
    """Regression: y = sin(x) + ε on x ∈ [−π, π]."""
    x = rng.uniform(-np.pi, np.pi, size=(n, 1))
    return x, np.sin(x) + rng.normal(0, noise, size=(n, 1))


@dataclass(frozen=True)
class Builtin:
    name: str
    task: str
    description: str
    generator: Optional[Callable] = None  # synthetic; otherwise a CSV shipped in gdtrain.datasets
    n_samples: int = 0
    noise: float = 0.0
    recipe: str = ""  # synthetic: how the generator draws the samples (`gdtrain explain NAME` shows it)


DATASETS: Registry[Builtin] = Registry("dataset")
for _b in (
    Builtin("iris", "classification", "150 irises, 4 measurements, 3 species (Fisher 1936)"),
    Builtin("digits", "classification", "1797 handwritten digits, 8x8 pixels, 10 classes (UCI)"),
    Builtin("breast_cancer", "classification", "569 tumours, 30 features, malignant/benign (UCI WDBC)"),
    Builtin("wine", "classification", "178 wines, 13 chemical features, 3 cultivars (UCI)"),
    Builtin("diabetes", "regression", "442 patients, 10 features, disease progression (Efron et al. 2004)"),
    Builtin("backprop_by_hand", "regression", "one sample, inputs (0.05, 0.10), targets (0.01, 0.99): the classic "
                                              "hand-worked backpropagation example (Mazur 2015)"),
    Builtin("xor", "classification", "XOR of two signs: no linear model solves it", make_xor, 400, 0.25,
            "Four Gaussian clusters at (±1, ±1); the class is x₁ > 0 XOR x₂ > 0 — no line separates it."),
    Builtin("spirals", "classification", "two interleaved spirals", make_spirals, 600, 0.03,
            "Two interleaved spiral arms, one per class."),
    Builtin("moons", "classification", "two interleaving half moons", make_moons, 400, 0.15,
            "Two interleaving half circles (as scikit-learn's make_moons)."),
    Builtin("blobs", "classification", "three Gaussian blobs", make_blobs, 300, 1.0,
            "Three Gaussian blobs of std ``noise`` around centres drawn in [−5, 5]²."),
    Builtin("sine", "regression", "y = sin(x) + noise", make_sine, 400, 0.1,
            "Regression: y = sin(x) + ε on x ∈ [−π, π]."),
):
    DATASETS.add(_b.name, _b)


# --- file readers ---------------------------------------------------------------------------------

def _read_bytes(path: Path) -> bytes:
    refuse_special_file(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a data file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise DataError(f"{path}: not a valid gzip file ({exc})") from None
    return raw


def _existing_file(path: Path) -> Path:
    """``path``, or the DataError _read_bytes would give for a missing file or a directory."""
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a data file")
    if not path.exists():
        raise DataError(f"{path}: no such file")
    refuse_special_file(path)
    return path


def read_csv_cells(path: Path, text: Optional[str] = None) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """(header, cells, lines) of a CSV with a header row: the stripped column names, the non-blank data rows as
    a 2-D array of strings, and the file line each row ends on (the header is line 1). Every row must have as
    many fields as the header, and the header must not repeat a name."""
    if text is None:
        try:
            text = _read_bytes(path).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=None))  # \n, \r\n and a lone \r all end a line
    rows, lines = [], []
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise DataError(f"{path}: the file is empty; expected a header row and data rows")
    header = [h.strip() for h in rows[0]]
    body, lines = rows[1:], np.array(lines[1:])
    if len(header) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if sep in header[0]:
                raise DataError(f"{path}: the header is one column {describe(header[0], 60)}; its fields are "
                                f"separated by {name}, expected commas")
    empty = [i for i, h in enumerate(header) if not h]
    if empty:
        raise DataError(f"{path}: column {empty[0] + 1} of the header has no name; every column needs one")
    unprintable = [i for i, h in enumerate(header) if not h.isprintable()]
    if unprintable:
        raise DataError(f"{path}: column {unprintable[0] + 1} of the header, {describe(header[unprintable[0]], 40)}, "
                        "holds a line break or control character; a column name is one line of text")
    if not body:
        raise DataError(f"{path}: has a header but no data rows")
    for line, row in zip(lines, body):
        if len(row) != len(header):
            raise DataError(f"{path}: row {line} has {len(row)} fields, the header has {len(header)}")
    if len(set(header)) != len(header):
        twice = next(h for i, h in enumerate(header) if h in header[:i])
        raise DataError(f"{path}: the header repeats a column name ('{twice}')")
    return header, np.array(body, dtype=str), lines


def read_csv(path: Path, target=None, text: Optional[str] = None) -> Table:
    """A CSV with a header row; ``target`` names the target column(s), default the last one."""
    header, cells, lines = read_csv_cells(path, text)
    width = len(header)
    targets = [target] if isinstance(target, str) else list(target or [header[-1]])
    for name in targets:
        if name not in header:
            raise DataError(f"{path}: no target column '{name}' (columns: {', '.join(header)})")
    t_idx = [header.index(name) for name in targets]
    f_idx = [i for i in range(width) if i not in t_idx]
    if not f_idx:
        raise DataError(f"{path}: no feature columns besides the target")
    try:
        X = _to_float(cells[:, f_idx], path, [header[i] for i in f_idx], lines)
    except DataError as exc:
        raise DataError(f"{exc}{_target_hint(cells, f_idx, header, target)}") from None
    y_cells = np.char.strip(cells[:, t_idx])
    blank = np.argwhere(y_cells == "")
    if len(blank):
        i, j = blank[0]
        raise DataError(f"{path}: row {lines[i]}, column '{targets[j]}': the target is empty; every row needs one")
    return Table(X, y_cells[:, 0] if len(t_idx) == 1 else y_cells, [header[i] for i in f_idx], targets, str(path),
                 named_columns=True, lines=lines)


def _target_hint(cells: np.ndarray, f_idx: List[int], header: List[str], target) -> str:
    """'; if 'fruit' holds what to predict, set data.target: fruit ...' when exactly one feature column is not
    numbers, and no row of it is (not a typo in a column of numbers): most likely the labels, read as a feature
    because the target is another column (by default the last)."""
    text = [i for i in f_idx if not _numeric(cells[:, i])]
    if len(text) != 1 or any(_is_float(cell) for cell in cells[:, text[0]]):  # labels: text in every row
        return ""
    now = f"data.target is {target!r}" if isinstance(target, str) else (
        f"the target is the last column, {header[-1]!r}" if not target else f"data.target is {list(target)}")
    name = header[text[0]]
    return f"; if '{name}' holds what to predict, set data.target: {name} ({now})"


def _numeric(column: np.ndarray) -> bool:
    """Every cell of a column of CSV strings reads as a number (float() is the judge, as in _to_float)."""
    try:
        column.astype(np.float64)
        return True
    except ValueError:
        return all(_is_float(cell) for cell in column)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _to_float(cells: np.ndarray, path: Path, names: List[str], lines: np.ndarray) -> np.ndarray:
    try:
        X = cells.astype(np.float64)
    except ValueError:  # find the cell (Python's float() is the judge: it reads what NumPy may not)
        X = np.empty(cells.shape, np.float64)
        for i in range(cells.shape[0]):
            for j in range(cells.shape[1]):
                try:
                    X[i, j] = float(cells[i, j])
                except ValueError:
                    raise DataError(f"{path}: row {lines[i]}, column '{names[j]}': not a number: "
                                    f"{describe(str(cells[i, j]), 60)}") from None
    _check_finite(X, path, names, lines)
    return X


def _check_finite(X: np.ndarray, path, names: List[str], lines: Optional[np.ndarray] = None) -> None:
    """Features must be finite; the message names the row (file line for CSV, index otherwise) and column."""
    bad = _first_nonfinite(X)
    if bad is not None:
        i, j = bad
        row = lines[i] if lines is not None else i
        raise DataError(f"{path}: row {row}, column '{names[j]}': {X[i, j]} (features must be finite numbers)")


def _first_nonfinite(X: np.ndarray) -> Optional[Tuple[int, int]]:
    """(row, column) of the first NaN or ±inf in a 2-D array, or None."""
    for start in range(0, len(X), CHUNK):  # in chunks: no full-size temporary for a large data set
        bad = ~np.isfinite(X[start:start + CHUNK])
        if bad.any():
            i, j = np.argwhere(bad)[0]
            return int(i) + start, int(j)
    return None


def _widened_member(archive, name: str) -> Optional[np.ndarray]:
    """A 2-D float32 member of an .npz read as float64 row block by row block, so that no full float32 copy
    sits next to the float64 one (a float64 run of a large float32 data set); None when it is not such a
    member (then the caller reads it as stored)."""
    try:
        with archive.zip.open(f"{name}.npy") as f:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                return None
            shape, fortran, stored = read_header(f)
            if fortran or len(shape) != 2 or stored != np.dtype("<f4"):
                return None
            out = np.empty(shape, np.float64)
            rows = max(1, CHUNK * 64 // max(shape[1], 1))
            for start in range(0, shape[0], rows):
                k = min(rows, shape[0] - start)
                raw = f.read(k * shape[1] * 4)
                if len(raw) != k * shape[1] * 4:
                    return None
                out[start:start + k] = np.frombuffer(raw, "<f4").reshape(k, shape[1])
            return out
    except (KeyError, ValueError, OSError, AttributeError):
        return None


def is_zip_archive(source) -> bool:
    """Whether a path or an in-memory file holds a zip archive (what .npz files are); OSError if unreadable."""
    if isinstance(source, io.BytesIO):
        is_zip = zipfile.is_zipfile(source)
        source.seek(0)
        return is_zip
    with open(source, "rb") as f:
        return zipfile.is_zipfile(f)


def require_zip_archive(source, name: str, not_zip: str, error: type = DataError) -> None:
    """``error("NAME: ...")`` unless ``source`` is a readable zip archive — np.load would otherwise try the file
    as a pickle, and say so. ``not_zip`` says what was expected instead."""
    try:
        is_zip = is_zip_archive(source)
    except OSError as exc:
        raise error(f"{name}: cannot read ({exc.strerror or exc})") from None
    if not is_zip:
        raise error(f"{name}: {not_zip}")


def refused_object_array(exc: Exception) -> bool:
    """Whether ``np.load(..., allow_pickle=False)`` refused an object array (its message is the only sign)."""
    return "allow_pickle" in str(exc)


def read_npz(path: Path, widen: bool = False) -> Table:
    """An .npz archive holding arrays ``X`` (n, d) and ``y`` (n,) or (n, k).

    X keeps float32 when stored so (no widened copy of a large data set), unless ``widen`` (a float64 run):
    then it is widened while it is read."""
    try:
        source = io.BytesIO(_read_bytes(path)) if path.suffix == ".gz" else _existing_file(path)
        require_zip_archive(source, str(path), "not a readable .npz archive (not a zip file); expected arrays X "
                                               "and y saved with numpy.savez")
        with np.load(source, allow_pickle=False) as archive:
            missing = [k for k in ("X", "y") if k not in archive.files]
            if missing:
                raise DataError(f"{path}: no array '{missing[0]}' (found: {', '.join(archive.files) or 'none'}); "
                                "expected X (samples x features) and y")
            X = _widened_member(archive, "X") if widen else None
            X = archive["X"] if X is None else X
            y = archive["y"]
            for name, value in (("X", X), ("y", y)):
                not_npy_member(value, path, name)
    except DataError:
        raise
    except Exception as exc:  # a corrupt or foreign file: zipfile, pickle and format errors alike
        if refused_object_array(exc):
            raise DataError(f"{path}: holds an object array, which gdtrain never unpickles; save X and y as numeric "
                            "(or, for y, string) arrays") from None
        raise DataError(f"{path}: not a readable .npz archive ({exc.__class__.__name__}: {exc})") from None
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise DataError(f"{path}: X must be 2-D (samples x features), got shape {X.shape}")
    if y.ndim not in (1, 2) or len(y) != len(X):
        raise DataError(f"{path}: y has shape {y.shape} but X has {len(X)} rows")
    if y.ndim == 2 and y.shape[1] == 0:
        raise DataError(f"{path}: y has no columns (shape {y.shape})")
    if len(X) == 0:
        raise DataError(f"{path}: X has no rows")
    if X.shape[1] == 0:
        raise DataError(f"{path}: X has no feature columns (shape {X.shape})")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: X must be numeric, got dtype {X.dtype}")
    if y.dtype.kind not in "biufUS":
        raise DataError(f"{path}: y must hold numbers or strings (class labels or targets), got dtype {y.dtype}")
    if X.dtype not in (np.float32, np.float64):  # float32 stays float32: no widened copy of a large data set
        X = X.astype(np.float64)
    names = [f"x{j}" for j in range(X.shape[1])]
    _check_finite(X, path, names)
    return Table(X, y, names, ["y"] if y.ndim == 1 else [f"y{k}" for k in range(y.shape[1])], str(path))


def not_npy_member(value, path, name: str) -> None:
    """np.load hands back the raw bytes of an archive member that is not .npy data (no NumPy magic): refuse it."""
    if not isinstance(value, np.ndarray):
        raise DataError(f"{path}: member {name}.npy is not NumPy .npy data (no .npy header); expected arrays X and y "
                        "saved with numpy.savez")


IDX_MAX_NDIM = 16  # NumPy's arrays stop at 32 or 64; a real IDX file has 1 to 4
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (the MNIST format): magic 0 0 type ndim, big-endian int32 dims, then the data."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise DataError(f"{path}: bad IDX magic number {raw[:4].hex() or '(empty)'}; expected 0000 08|09|0b|0c|0d|0e ndim")
    ndim = raw[3]
    if ndim > IDX_MAX_NDIM:
        raise DataError(f"{path}: IDX header declares {ndim} dimensions (its 4th byte); gdtrain reads at most "
                        f"{IDX_MAX_NDIM} (MNIST images have 3, labels 1): corrupt or not an IDX file")
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, 4))
    if any(d < 0 for d in dims):
        raise DataError(f"{path}: IDX header has a negative dimension, dims {dims} (corrupt)")
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = math.prod(dims) * dtype.itemsize
    payload = raw[4 + 4 * ndim:]
    if len(payload) != expected:
        raise DataError(f"{path}: IDX payload is {len(payload)} bytes, dims {dims} need {expected} (truncated or corrupt)")
    return np.frombuffer(payload, dtype).reshape(dims)


def _idx_labels_path(images: Path, labels: Optional[str]) -> Path:
    if labels:
        return Path(labels)
    name = images.name
    for old, new in (("images-idx3", "labels-idx1"), ("images", "labels")):
        if old in name:
            return images.with_name(name.replace(old, new))
    raise DataError(f"{images}: cannot infer the labels file; set data.labels (e.g. train-labels-idx1-ubyte.gz)")


def read_idx_pair(images: Path, labels: Optional[Path]) -> Table:
    """MNIST-style images and labels: images flattened to rows, uint8 pixels scaled to [0, 1]."""
    X = read_idx(images)
    labels_path = _idx_labels_path(images, labels and str(labels))
    y = read_idx(labels_path)
    if X.ndim < 2:
        raise DataError(f"{images}: expected images (n, rows, cols) or rows (n, d), got shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise DataError(f"{labels_path}: {len(y)} labels of shape {y.shape} for {len(X)} images in {images}")
    if len(X) == 0 or X[0].size == 0:
        raise DataError(f"{images}: no images in it (shape {X.shape})")
    pixels, floats = X.dtype == np.uint8, X.dtype.kind == "f"
    X = X.reshape(len(X), -1).astype(np.float64)
    if pixels:
        X /= 255.0
    names = [f"px{j}" for j in range(X.shape[1])]
    if floats:
        _check_finite(X, images, names)
    if y.dtype.kind in "iu":
        y = y.astype(np.int64)
    elif not np.all(np.isfinite(y)):
        raise DataError(f"{labels_path}: label {int(np.flatnonzero(~np.isfinite(y))[0])} is "
                        f"{y[~np.isfinite(y)][0]}; labels must be finite numbers")
    return Table(X, y, names, ["label"], str(images))


def is_idx(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith((".idx", "-ubyte", ".ubyte")) or ".idx" in name


def read_table(path: Path, target=None, labels: Optional[Path] = None, dtype="float64") -> Table:
    """Dispatch on the file name: .csv[.gz], .npz, IDX (.idx / -ubyte, optionally .gz)."""
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return read_csv(path, target)
    if target is not None:
        raise ConfigError(f"data.target: names a CSV column, but {path} is not a CSV file (an .npz holds its "
                          "target in y, MNIST IDX in the labels file); remove data.target")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a data file")
    if name.endswith((".npz", ".npz.gz")):
        return read_npz(path, widen=np.dtype(dtype) == np.float64)
    if is_idx(path):
        return read_idx_pair(path, labels)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    raise DataError(f"{path}: unknown file type '{path.suffix}'; expected .csv, .npz or MNIST .idx/-ubyte (optionally .gz)")


def load_table(source: str, config, rng: np.random.Generator) -> Table:
    """The built-in dataset called ``source``, or the file it names."""
    if not (source in DATASETS and DATASETS.get(source).generator is not None):
        for key in ("n_samples", "noise"):
            if getattr(config.data, key) is not None:
                synthetic = ", ".join(name for name, b in DATASETS.items() if b.generator is not None)
                raise ConfigError(f"data.{key}: only the synthetic datasets ({synthetic}) take it, not {source}; "
                                  f"remove data.{key}")
    if source in DATASETS:
        builtin = DATASETS.get(source)
        if config.data.labels:
            raise ConfigError(f"data.labels: names the labels file of MNIST IDX images, but {source} is a built-in "
                              "dataset; remove data.labels")
        if builtin.generator is not None:
            if config.data.target is not None:
                raise ConfigError(f"data.target: {source} is a synthetic dataset with one target; remove data.target")
            n = config.data.n_samples or builtin.n_samples
            noise = builtin.noise if config.data.noise is None else config.data.noise
            X, y = builtin.generator(n, noise, rng)
            names = [f"x{j + 1}" for j in range(X.shape[1])]
            return Table(np.asarray(X, float), y, names, ["y"], source)
        path = shipped_file("datasets", f"{source}.csv")
        if path is None:
            raise DataError(f"{source}: the built-in dataset file {source}.csv is missing from the installation")
        table = read_csv(Path(f"{source}.csv"), config.data.target, text=path.read_text(encoding="utf-8"))
        table.source = source
        return table
    path = config.resolve_path(source)
    if not path.exists() and "/" not in source and "." not in source:
        raise ConfigError(f"data.source: {unknown_name_message('dataset', source, DATASETS.names())}, "
                          "and no such file")
    labels = config.resolve_path(config.data.labels) if config.data.labels else None
    _check_labels_key("data.labels", labels, path)
    return read_table(path, config.data.target, labels, config.dtype)


def _check_labels_key(key: str, labels: Optional[Path], source: Path) -> None:
    if labels is not None and not is_idx(source):
        raise ConfigError(f"{key}: names the labels file of MNIST IDX images, but {source} is not an IDX file; "
                          f"remove {key}")


# --- targets --------------------------------------------------------------------------------------

def _label(value) -> str:
    """A class label as a message shows it: 3, not np.int64(3); cat, not np.str_('cat')."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return shown(value)


def _concatenate_labels(table: Table, test_table: Table) -> np.ndarray:
    """Training and test labels in one array (numbers and text alike compared as text when the kinds differ)."""
    a, b = table.y, test_table.y
    if (a.dtype.kind in "US") != (b.dtype.kind in "US"):
        a, b = a.astype(str), b.astype(str)
    return np.concatenate([a, b])


def _check_same_features(test_table: Table, table: Table) -> None:
    """A separate test file must have the training file's features: as many, and (both CSV) the same names in order."""
    n_test, n = test_table.X.shape[1], table.X.shape[1]
    if n_test != n:
        raise DataError(f"{test_table.source}: has {n_test} feature columns, the training data ({table.source}) has "
                        f"{n}; the test file needs the same features")
    if table.named_columns and test_table.named_columns and test_table.feature_names != table.feature_names:
        j = next(j for j, (a, b) in enumerate(zip(test_table.feature_names, table.feature_names)) if a != b)
        raise DataError(f"{test_table.source}: feature column {j + 1} is '{test_table.feature_names[j]}', but "
                        f"'{table.feature_names[j]}' in the training data ({table.source}); the test file needs the "
                        "same features in the same order")


def _check_range(X: np.ndarray, split: str, source: str, names: List[str], standardized: bool) -> None:
    """The network's inputs in float32 must still be finite (float32 ends at ±3.4e38)."""
    bad = _first_nonfinite(X)
    if bad is not None:
        limit = f"±{np.finfo(X.dtype).max:.3g}"
        where = f"after standardizing, in the {split} split" if standardized else limit
        fix = "" if standardized else " or data.standardize: true"
        raise DataError(f"{source}: column '{names[bad[1]]}' has values beyond {X.dtype.name}'s range ({where}); use "
                        f"dtype: float64{fix}")


def _check_target_range(y: np.ndarray, dtype, source: str, names: List[str]) -> None:
    """Regression targets (float64) must fit the run's dtype too: beyond float32's ±3.4e38 they would be ±inf."""
    limit = float(np.finfo(dtype).max)
    bad = np.argwhere(np.abs(y) > limit)
    if len(bad):
        i, j = bad[0]
        column = f"target column '{names[j]}'" if j < len(names) else "the target"
        raise DataError(f"{source}: {column} has values beyond {np.dtype(dtype).name}'s range (±{limit:.3g}, e.g. "
                        f"{y[i, j]:.3g}); use dtype: float64 or rescale the target")


def _row(i: int, lines: Optional[np.ndarray]) -> str:
    """How a message names row ``i``: its file line (CSV), else its index."""
    return f"row {lines[i] if lines is not None else i}"


def encode_classes(y: np.ndarray, source: str, lines: Optional[np.ndarray] = None,
                   column: str = "") -> Tuple[np.ndarray, np.ndarray]:
    """(class indices, sorted class labels). Numeric labels must be whole numbers."""
    if y.ndim == 2 and y.shape[1] == 1:  # a column vector (n, 1)
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{source}: classification needs one target column, got {y.shape[1]}")
    where = f", column '{column}'" if column else ""
    if y.dtype.kind in "US":
        try:  # numbers stored as text (CSV): compare them as numbers
            numeric = y.astype(np.float64)
            y = numeric
        except ValueError:
            pass
    if y.dtype.kind == "f":
        y = y.astype(np.float64, copy=False)
        bad = np.flatnonzero(~np.isfinite(y))
        if len(bad):
            raise DataError(f"{source}: {_row(bad[0], lines)}{where}: the target is {y[bad[0]]}; a class label must "
                            "be a whole number or a name")
        if not np.all(y == np.round(y)):
            raise DataError(f"{source}: the target has non-integer values, so it is continuous: use loss mse or mae "
                            "for regression, or give class labels")
        if np.all(np.abs(y) < 2.0 ** 53):  # exactly representable: whole numbers become ints
            y = y.astype(np.int64)
    classes, index = np.unique(y, return_inverse=True)
    if len(classes) > max(MANY_CLASSES, len(y) // 2):
        raise DataError(f"{source}: the target has {len(classes)} distinct values in {len(y)} rows, too many to be "
                        "classes: for a continuous target use loss mse or mae, else check data.target")
    return index.reshape(-1).astype(np.intp), classes


def as_regression_target(y: np.ndarray, source: str, lines: Optional[np.ndarray] = None,
                         columns: Optional[List[str]] = None) -> np.ndarray:
    y2 = y.reshape(len(y), -1)

    def cell(i, j):
        column = f", column '{columns[j]}'" if columns and j < len(columns) else ""
        return f"{_row(i, lines)}{column}"

    try:
        out = y2.astype(np.float64)
    except (ValueError, TypeError):
        for i, j in np.ndindex(*y2.shape):
            try:
                float(y2[i, j])
            except (ValueError, TypeError):
                raise DataError(f"{source}: {cell(i, j)}: the target {describe(str(y2[i, j]), 40)} is not a number; "
                                "a regression loss (mse, mae) needs numbers") from None
        raise DataError(f"{source}: the target must be numeric for a regression loss (mse, mae)") from None
    bad = np.argwhere(~np.isfinite(out))
    if len(bad):
        i, j = bad[0]
        raise DataError(f"{source}: {cell(i, j)}: the target is {out[i, j]} (targets must be finite numbers)")
    return out


# --- split and standardize ------------------------------------------------------------------------

def split_indices(n: int, strata: Optional[np.ndarray], val_frac: float, test_frac: float,
                  rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded (train, val, test) index arrays; stratified (per-class proportions) when ``strata`` is given."""
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == c) for c in np.unique(strata)]
    train, val, test = [], [], []
    for group in groups:
        group = rng.permutation(group)
        n_test = int(test_frac * len(group) + 0.5)  # rounded half up
        n_val = int(val_frac * len(group) + 0.5)
        test.append(group[:n_test])
        val.append(group[n_test:n_test + n_val])
        train.append(group[n_test + n_val:])
    return tuple(rng.permutation(np.concatenate(part)).astype(np.intp) for part in (train, val, test))


def standardize(X: np.ndarray, mean: Optional[np.ndarray], scale: Optional[np.ndarray], dtype) -> np.ndarray:
    """The network's input: z = (x − mean)/scale computed in float64, stored in ``dtype`` (C-contiguous).

    Without a mean it is only cast (no copy when X already is ``dtype``). Row chunks keep the float64
    temporaries small; the values are the same as whole-array arithmetic.
    """
    dtype = np.dtype(dtype)
    if mean is None:
        return np.ascontiguousarray(X, dtype=dtype)
    out = np.empty(X.shape, dtype=dtype)
    for start in range(0, len(X), CHUNK):
        rows = slice(start, start + CHUNK)
        out[rows] = (X[rows].astype(np.float64, copy=False) - mean) / scale
    return out


def load_data(config, rng: np.random.Generator, task: str) -> Dataset:
    """Load, encode, split and standardize the data named by ``config.data`` for a ``task``."""
    dc = config.data
    if dc.source in DATASETS and dc.target is None and DATASETS.get(dc.source).task != task:
        use = "mse or mae" if task == "classification" else "cross_entropy, bce (two classes) or hinge"
        raise ConfigError(f"loss: {config.loss} is a {task} loss, but {dc.source} is a "
                          f"{DATASETS.get(dc.source).task} dataset; use {use}")
    table = load_table(dc.source, config, rng)
    held_out = dc.validation_split > 0 or (dc.test_split > 0 and not dc.test_source)
    if len(table.X) < 2 and (held_out or len(table.X) == 0):
        raise DataError(f"{table.source}: needs at least 2 samples, got {len(table.X)} (a single sample trains "
                        "alone with data.validation_split: 0 and data.test_split: 0)")
    test_table = None
    if dc.test_source:
        labels = config.resolve_path(dc.test_labels) if dc.test_labels else None
        _check_labels_key("data.test_labels", labels, config.resolve_path(dc.test_source))
        test_table = read_table(config.resolve_path(dc.test_source), dc.target, labels, config.dtype)
        _check_same_features(test_table, table)
    classes = None
    if task == "classification":
        if test_table is not None:  # each file's labels checked on their own first, so a message names the file
            encode_classes(test_table.y, test_table.source, test_table.lines, test_table.target_names[0])
        all_y = table.y if test_table is None else _concatenate_labels(table, test_table)
        index, classes = encode_classes(all_y, table.source, table.lines, table.target_names[0])
        if len(classes) < 2:
            raise DataError(f"{table.source}: the target has a single class ({_label(classes[0])}); need at least 2")
        y, y_test_file = index[:len(table.y)], index[len(table.y):]
        unseen = np.setdiff1d(y_test_file, y)
        if len(unseen):
            raise DataError(f"{test_table.source}: has class {_label(classes[unseen[0]])!r} that the training data "
                            f"({table.source}) never shows")
        strata = y
    else:
        y = as_regression_target(table.y, table.source, table.lines, table.target_names)
        y_test_file = None if test_table is None else as_regression_target(
            test_table.y, test_table.source, test_table.lines, test_table.target_names)
        if y_test_file is not None and y_test_file.shape[1] != y.shape[1]:
            raise DataError(f"{test_table.source}: has {y_test_file.shape[1]} target columns, {table.source} has "
                            f"{y.shape[1]}")
        strata = None
    test_frac = 0.0 if test_table is not None else dc.test_split
    if dc.validation_split == 0 and test_frac == 0:  # all of it trains: keep the file's order, copy nothing
        tr, va, te = np.arange(len(y)), np.arange(0), np.arange(0)
    else:
        tr, va, te = split_indices(len(y), strata, dc.validation_split, test_frac, rng)
    if len(tr) == 0:
        raise ConfigError(f"data.validation_split: the splits leave no training data: {len(y)} rows in {table.source}, "
                          f"{len(va)} for validation and {len(te)} for testing (rounded per class); lower the splits")
    X_train = table.X if len(tr) == len(table.X) and np.array_equal(tr, np.arange(len(tr))) else table.X[tr]
    X_val = table.X[va]
    X_test, y_test = (table.X[te], y[te]) if test_table is None else (test_table.X, y_test_file)
    mean = scale = None
    dtype = np.dtype(config.dtype)
    if dc.standardize:
        with np.errstate(over="ignore", invalid="ignore"):
            mean = X_train.mean(axis=0, dtype=np.float64)
            scale = X_train.std(axis=0, dtype=np.float64)
        bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(scale)))
        if len(bad):
            raise DataError(f"{table.source}: column '{table.feature_names[bad[0]]}': values too large to standardize "
                            "(their mean or standard deviation overflows); rescale the column")
        # a constant column (up to rounding, as scikit-learn's StandardScaler judges it) is only centred
        scale[scale < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)] = 1.0
    with np.errstate(over="ignore"):  # beyond float32's range: found just below
        X_train, X_val, X_test = (standardize(X, mean, scale, dtype) for X in (X_train, X_val, X_test))
    if dtype != np.float64:
        test_source = table.source if test_table is None else test_table.source
        for split, X, source in (("training", X_train, table.source), ("validation", X_val, table.source),
                                 ("test", X_test, test_source)):
            _check_range(X, split, source, table.feature_names, dc.standardize)
    if task == "regression" and dtype != np.float64:
        _check_target_range(y, dtype, table.source, table.target_names)
        if y_test_file is not None:
            _check_target_range(y_test_file, dtype, test_table.source, test_table.target_names)
    target_scaling = TargetScaling.fit(y[tr]) if task == "regression" and dc.standardize_target else None
    if task == "classification":
        y_cast = lambda a: a  # noqa: E731
    elif target_scaling is not None:
        y_cast = lambda a: target_scaling.transform(a, dtype)  # noqa: E731
    else:
        y_cast = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return Dataset(task, X_train, y_cast(y[tr]), X_val, y_cast(y[va]), X_test, y_cast(y_test),
                   classes, table.feature_names, table.target_names, mean, scale, table.source,
                   {"train": len(tr), "validation": len(va), "test": len(X_test)}, target_scaling)
