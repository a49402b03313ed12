"""Who may race and what counts as arriving: the vocabulary of ``compare:`` (and ``--optimizers``), below config.

A contestant is an optimizer as the ``optimizer`` section writes it (a name, or ``{name, label, **options}``)
under a label that names its run directory; a mode race names training modes instead. A target is
``train_loss ≤ X`` or a validation metric reaching a value (``{val_accuracy: 0.95}``), checked at the end of every
epoch. A race on a 2-D problem may also race plain gradient descent with a line search per entry of
``compare.line_searches`` (``[backtracking, {name: wolfe, label: ..., c2: 0.5}]``). The config package checks the
``compare:`` section with these functions; the race package plans with them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from .errors import ConfigError
from .linesearch import resolve_line_search
from .metrics import WATCHABLE, higher_is_better
from .optimizers import ALIASES, OPTIMIZERS, resolve_optimizer
from .options import describe
from .registry import unknown_name_message

MODES = ("batch", "sgd", "minibatch")
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
TARGETS = WATCHABLE  # a target is any watchable epoch metric (metrics.py)
TUNING_DIR = "tuning"  # DIR/tuning/<label>/lr-<lr>/: the tuning runs (so no contestant may be called that)
# A contestant label names its run directory (also the pattern of the JSON Schema, where $ ends the text;
# in Python it may match before a final newline, hence fullmatch).
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=@-]{0,39}$")


def optimizer_names() -> List[str]:
    """Every name a contestant may use: the optimizers and their aliases (momentum, nesterov)."""
    return OPTIMIZERS.names() + list(ALIASES)


def _check_label(label, path: str) -> str:
    if not isinstance(label, str) or not LABEL.fullmatch(label):
        raise ConfigError(f"{path}: must be a name of at most 40 letters, digits and _ . + = @ - (it names the "
                          f"contestant's run directory), got {describe(label)}")
    if label == TUNING_DIR:
        raise ConfigError(f"{path}: '{TUNING_DIR}' is reserved (DIR/{TUNING_DIR}/ holds the tuning runs)")
    return label


def _unique(wanted: str, taken: set) -> str:
    label, k = wanted, 1
    while label in taken:
        k += 1
        label = f"{wanted}-{k}"
    return label


def resolve_contestants(raw, path: str = "compare.optimizers") -> List[Dict[str, Any]]:
    """``[{label, name, **options}]`` from a list of names or ``{name, label, **options}`` mappings.

    Each item is checked like the ``optimizer`` section (``compare.optimizers[2].lr: must be > 0``). A label
    defaults to the name as written (aliases keep theirs: ``momentum``); repeated ones get -2, -3, ...
    """
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: must be a non-empty list of optimizers such as [sgd, momentum, "
                          f"{{name: adam, lr: 0.003}}], got {describe(raw)}")
    items = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be an optimizer name or a mapping like {{name: adam, lr: 0.003}}, "
                              f"got {describe(item)}")
        item = dict(item)
        label = item.pop("label", None)
        if "name" not in item:
            raise ConfigError(f"{where}.name: missing (one of {', '.join(optimizer_names())})")
        name = item["name"]
        spec = resolve_optimizer(item, where)
        if label is not None:
            _check_label(label, f"{where}.label")
        items.append((where, label, name, spec))
    explicit = set()
    for where, label, _, _ in items:
        if label is not None:
            if label in explicit:
                raise ConfigError(f"{where}.label: '{label}' is used twice; each contestant needs its own label")
            explicit.add(label)
    taken, out = set(explicit), []
    for where, label, name, spec in items:
        if label is None:
            label = _unique(_check_label(str(name), f"{where}.name"), taken)
            taken.add(label)
        out.append({"label": label, **spec})
    return out


def resolve_line_search_contestants(raw, path: str = "compare.line_searches") -> List[Dict[str, Any]]:
    """``[{label, name, **options}]`` from a list of line-search names or ``{name, label, **options}`` mappings."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: must be a non-empty list of line searches such as [backtracking, "
                          f"{{name: wolfe, c2: 0.5}}], got {describe(raw)}")
    out, taken = [], set()
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        item = {"name": item} if isinstance(item, str) else item
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be a line-search name or a mapping like {{name: backtracking}}, "
                              f"got {describe(item)}")
        item = dict(item)
        label = item.pop("label", None)
        spec = resolve_line_search(item, where)
        label = spec["name"] if label is None else label
        if not isinstance(label, str) or not LABEL.fullmatch(label):
            raise ConfigError(f"{where}.label: must be a name of at most 40 letters, digits and _ . + = @ - (it "
                              f"names the contestant's run directory), got {describe(label)}")
        if label in taken:
            raise ConfigError(f"{where}.label: '{label}' is used twice; each contestant needs its own label")
        taken.add(label)
        out.append({"label": label, **spec})
    return out


def parse_list(text: str, option: str) -> List[str]:
    """'sgd, momentum,adam' -> ['sgd', 'momentum', 'adam'] (a ConfigError for an empty item)."""
    names = [part.strip() for part in str(text).split(",")]
    if not names or any(not n for n in names):
        raise ConfigError(f"{option}: expected a comma-separated list such as sgd,momentum,adam, got {text!r}")
    return names


def parse_optimizers(text: str, option: str = "--optimizers") -> List[Dict[str, Any]]:
    """The contestants a ``--optimizers sgd,momentum,adam`` list names, at their documented defaults."""
    names = parse_list(text, option)
    valid = optimizer_names()
    for name in names:
        if name not in valid:
            raise ConfigError(f"{option}: {unknown_name_message('optimizer', name, valid)}")
    return resolve_contestants(names, option)


def resolve_modes(raw, path: str = "compare.modes") -> List[str]:
    if isinstance(raw, str):
        raw = parse_list(raw, path)
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: must be a non-empty list of {', '.join(MODES)}, got {describe(raw)}")
    for mode in raw:
        if mode not in MODES:
            raise ConfigError(f"{path}: {unknown_name_message('mode', mode, MODES)}")
    if len(set(raw)) != len(raw):
        raise ConfigError(f"{path}: a mode is named twice: {', '.join(raw)}")
    return list(raw)


def resolve_target_metric(raw, path: str = "compare.target_metric") -> Dict[str, float]:
    """``{val_accuracy: 0.95}`` from that mapping or from 'val_accuracy=0.95'."""
    if isinstance(raw, str):
        name, sep, text = raw.partition("=")
        try:
            raw = {name.strip(): float(text)} if sep else None
        except ValueError:
            raw = None
        if raw is None:
            raise ConfigError(f"{path}: expected NAME=VALUE such as val_accuracy=0.95, got {describe(text or name)}")
    if not (isinstance(raw, dict) and len(raw) == 1):
        raise ConfigError(f"{path}: must be one metric and its target, such as {{val_accuracy: 0.95}}, "
                          f"got {describe(raw)}")
    (name, value), = raw.items()
    if name not in TARGETS:
        raise ConfigError(f"{path}: {unknown_name_message('target metric', name, TARGETS)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{path}.{name}: must be a finite number, got {describe(value)}")
    return {name: float(value)}


@dataclass(frozen=True)
class Target:
    """``train_loss ≤ 0.1`` or ``val_accuracy ≥ 0.95``, checked at the end of every epoch."""

    name: str
    value: float

    @property
    def higher_is_better(self) -> bool:
        return higher_is_better(self.name)

    def reached(self, value: Optional[float]) -> bool:
        if value is None or not math.isfinite(value):
            return False
        return value >= self.value if self.higher_is_better else value <= self.value

    def __str__(self) -> str:
        return f"{self.name} {'≥' if self.higher_is_better else '≤'} {self.value:g}"

