"""The search space of ``gdtrain sweep``: which config keys take which values, and the name of each point.

A grid maps dotted key paths (as ``--set`` writes them: ``optimizer.lr``, ``model.hidden.0.units``) to the values
to try; the points are every combination, the first key varying slowest (``itertools.product``, as Hydra's
multirun and scikit-learn's ``ParameterGrid`` order them). ``random: N`` keeps N of those points, drawn without
replacement with the config's seed (scikit-learn's ``ParameterSampler`` over a grid), in grid order.

A point's label names its run directory: ``lr=0.01_units=32`` (each key by its last part, or by its whole path
where two keys share the last part), characters a folder name should not have replaced by ``-``.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import yaml

from .errors import ConfigError
from .options import describe

RESERVED_KEYS = ("seed", "output", "compare", "sweep")  # a sweep sets seed and output itself
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+=@-]")
MAX_LABEL = 120


def _scalar(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (bool, int, str))


def resolve_grid(raw, path: str = "sweep.grid") -> Dict[str, List[Any]]:
    """``{key.path: [v1, v2, ...]}`` checked: dotted keys, non-empty lists of distinct scalars (a single scalar is
    a list of one). Whether each key exists in a config is checked when the points are built."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{path}: must be a mapping of config keys to lists of values, such as "
                          f"{{optimizer.lr: [0.01, 0.1]}}, got {describe(raw)}")
    out: Dict[str, List[Any]] = {}
    for key, values in raw.items():
        where = f"{path}.{key}"
        if not isinstance(key, str) or not key or not all(key.split(".")):
            raise ConfigError(f"{path}: {describe(key)} is not a dotted config key such as optimizer.lr")
        if key.split(".")[0] in RESERVED_KEYS:
            raise ConfigError(f"{where}: cannot be swept (the sweep sets seed and output itself; use --seeds for "
                              "more seeds)")
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ConfigError(f"{where}: must list at least one value")
        for v in values:
            if not _scalar(v):
                raise ConfigError(f"{where}: each value must be a number, a string, true/false or null, "
                                  f"got {describe(v)}")
        if len({repr(v) for v in values}) != len(values):
            raise ConfigError(f"{where}: a value is listed twice: {', '.join(map(format_value, values))}")
        out[key] = list(values)
    return out


def parse_value(text: str) -> Any:
    """A --grid value as YAML reads it: 0.01 → float, 32 → int, relu → str, true → bool, 1e-3 → float."""
    text = text.strip()
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", text):
        return float(text)  # YAML 1.1 wants 1.0e-3; a user writes 1e-3
    return value if _scalar(value) else text


def parse_grid_options(items: Sequence[str], option: str = "--grid") -> Dict[str, List[Any]]:
    """``["optimizer.lr=0.01,0.1", "model.hidden.0.units=32,64"]`` → the grid (checked by ``resolve_grid``)."""
    grid: Dict[str, List[Any]] = {}
    for item in items:
        key, sep, values = str(item).partition("=")
        key = key.strip()
        if not sep or not key or not values.strip() or any(not part.strip() for part in values.split(",")):
            raise ConfigError(f"{option}: expected KEY=V1,V2,... such as optimizer.lr=0.01,0.1, got {item!r}")
        if key in grid:
            raise ConfigError(f"{option}: {key} is given twice; list all its values in one --grid {key}=...")
        grid[key] = [parse_value(part) for part in values.split(",")]
    return resolve_grid(grid, option)


def format_value(value) -> str:
    """How a value is written in labels, tables and sweep.csv: 0.01, 32, relu, true, null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def short_names(keys: Sequence[str]) -> Dict[str, str]:
    """Each key by its last part (``lr``), or by its whole path where two keys share the last part."""
    last = [key.split(".")[-1] for key in keys]
    return {key: (tail if last.count(tail) == 1 else key) for key, tail in zip(keys, last)}


def point_label(values: Dict[str, Any]) -> str:
    """``lr=0.01_units=32``: a folder name for the point with these values."""
    names = short_names(list(values))
    text = "_".join(f"{names[key]}={format_value(v)}" for key, v in values.items())
    text = _UNSAFE.sub("-", text)
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL]


def grid_points(grid: Dict[str, List[Any]]) -> List[Dict[str, Any]]:
    """Every combination, the first key varying slowest."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def sample_points(points: List[Dict[str, Any]], n: int, seed: int) -> List[Dict[str, Any]]:
    """``n`` of ``points`` without replacement, drawn with ``seed``, kept in grid order (all of them when n ≥ len)."""
    if n >= len(points):
        return list(points)
    chosen = np.random.default_rng(seed).choice(len(points), size=n, replace=False)
    return [points[i] for i in sorted(int(i) for i in chosen)]


def unique_labels(points: List[Dict[str, Any]]) -> List[Tuple[str, Dict[str, Any]]]:
    """(label, values) per point; a label that two points would share (values that differ only in characters a
    folder name cannot hold) gets -2, -3, ..."""
    taken: Dict[str, int] = {}
    out = []
    for values in points:
        label = point_label(values)
        if label in taken:
            taken[label] += 1
            label = f"{label}-{taken[label]}"
        else:
            taken[label] = 1
        out.append((label, values))
    return out
