"""NumPy .npz archives: arrays ``X`` (samples x features) and ``y`` ((n,) labels or targets, or (n, k)), as
numpy.savez writes them, optionally gzipped.

Nothing is ever unpickled (np.load with allow_pickle=False): an object array is refused with a message, and a
file that is not a zip archive is refused before np.load would try it as a pickle (the same guards serve
model.init_from). X keeps float32 when stored so, no widened copy of a large data set, unless the run is
float64: then it is widened while it is read, row block by row block.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import DataError
from .table import CHUNK, Table, check_finite, existing_file, read_bytes


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
        source = io.BytesIO(read_bytes(path)) if path.suffix == ".gz" else existing_file(path)
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
    check_finite(X, path, names)
    return Table(X, y, names, ["y"] if y.ndim == 1 else [f"y{k}" for k in range(y.shape[1])], str(path))


def not_npy_member(value, path, name: str) -> None:
    """np.load hands back the raw bytes of an archive member that is not .npy data (no NumPy magic): refuse it."""
    if not isinstance(value, np.ndarray):
        raise DataError(f"{path}: member {name}.npy is not NumPy .npy data (no .npy header); expected arrays X and y "
                        "saved with numpy.savez")
