"""What ``data.source`` and ``data.test_source`` name, read as a raw Table: a built-in data set, or a file read
by its kind (.csv, .npz, MNIST IDX; each optionally gzipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ConfigError, DataError
from ..registry import unknown_name_message
from ..resources import shipped_file
from .builtin import DATASETS
from .csv_files import read_csv
from .idx_files import is_idx, read_idx_pair
from .npz_files import read_npz
from .table import Table


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
    check_labels_key("data.labels", labels, path)
    return read_table(path, config.data.target, labels, config.dtype)


def check_labels_key(key: str, labels: Optional[Path], source: Path) -> None:
    if labels is not None and not is_idx(source):
        raise ConfigError(f"{key}: names the labels file of MNIST IDX images, but {source} is not an IDX file; "
                          f"remove {key}")
