"""The raw table every reader returns, and what the readers share: a data file's bytes (gunzipped when its
name ends in .gz, with a message for a missing file, a directory or a device) and the check that features are
finite numbers (the message names the row, as a file line for CSV or an index otherwise, and the column).
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from ..errors import DataError
from ..rundir import refuse_special_file


CHUNK = 8192  # rows per pass over a large array (finite checks, standardization)


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


def read_bytes(path: Path) -> bytes:
    """The bytes of a data file, gunzipped when its name ends in .gz; a DataError for a missing file, a directory,
    a device or a file that cannot be read."""
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


def existing_file(path: Path) -> Path:
    """``path``, or the DataError read_bytes would give for a missing file or a directory."""
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a data file")
    if not path.exists():
        raise DataError(f"{path}: no such file")
    refuse_special_file(path)
    return path


def check_finite(X: np.ndarray, path, names: List[str], lines: Optional[np.ndarray] = None) -> None:
    """Features must be finite; the message names the row (file line for CSV, index otherwise) and column."""
    bad = first_nonfinite(X)
    if bad is not None:
        i, j = bad
        row = lines[i] if lines is not None else i
        raise DataError(f"{path}: row {row}, column '{names[j]}': {X[i, j]} (features must be finite numbers)")


def first_nonfinite(X: np.ndarray) -> Optional[Tuple[int, int]]:
    """(row, column) of the first NaN or ±inf in a 2-D array, or None."""
    for start in range(0, len(X), CHUNK):  # in chunks: no full-size temporary for a large data set
        bad = ~np.isfinite(X[start:start + CHUNK])
        if bad.any():
            i, j = np.argwhere(bad)[0]
            return int(i) + start, int(j)
    return None
