"""MNIST's IDX files: magic bytes 0 0 TYPE NDIM, NDIM big-endian int32 dimensions, then the data.

Images (n, rows, cols) become rows of n_features = rows·cols pixels, uint8 pixels scaled to [0, 1]; the labels
come from the matching labels file (train-images-idx3-ubyte → train-labels-idx1-ubyte), or data.labels.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import DataError
from .table import Table, check_finite, read_bytes


IDX_MAX_NDIM = 16  # NumPy's arrays stop at 32 or 64; a real IDX file has 1 to 4
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (the MNIST format): magic 0 0 type ndim, big-endian int32 dims, then the data."""
    raw = read_bytes(path)
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
        check_finite(X, images, names)
    if y.dtype.kind in "iu":
        y = y.astype(np.int64)
    elif not np.all(np.isfinite(y)):
        raise DataError(f"{labels_path}: label {int(np.flatnonzero(~np.isfinite(y))[0])} is "
                        f"{y[~np.isfinite(y)][0]}; labels must be finite numbers")
    return Table(X, y, names, ["label"], str(images))


def is_idx(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith((".idx", "-ubyte", ".ubyte")) or ".idx" in name
