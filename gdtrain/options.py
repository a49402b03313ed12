"""Option tables for configurable components: each option has a default, a check and a one-line doc.

Optimizers and schedules declare their options with these, so the config validator, ``gdtrain list``
and the error messages all come from one place.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional

from .errors import ConfigError
from .registry import nearest

Check = Callable[[Any], Optional[str]]  # returns what is expected, or None when the value is fine


class _Required:
    """The default of an option that has none (torch's positional arguments, e.g. StepLR's step_size)."""

    def __repr__(self) -> str:
        return "required"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Option:
    default: Any
    check: Check
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def number(low: float | None = None, high: float | None = None, *, low_open=False, high_open=False) -> Check:
    """A real number within the given bounds (open or closed)."""

    def check(v):
        if not _is_number(v):
            return "must be a number"
        if not math.isfinite(v):
            return "must be a finite number"
        if low is not None and (v <= low if low_open else v < low):
            return f"must be {'>' if low_open else '>='} {low:g}"
        if high is not None and (v >= high if high_open else v > high):
            return f"must be {'<' if high_open else '<='} {high:g}"
        return None

    return check


def integer(low: int | None = None) -> Check:
    def check(v):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            return "must be an integer"
        if low is not None and v < low:
            return f"must be >= {low}"
        return None

    return check


def pair(low: float, high: float) -> Check:
    """Two numbers in [low, high), such as Adam's betas."""

    def check(v):
        if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_number(x) for x in v)):
            return "must be a list of two numbers"
        if not all(low <= x < high for x in v):
            return f"must be two numbers in [{low:g}, {high:g})"
        return None

    return check


def increasing_integers(low: int = 1) -> Check:
    """A non-empty, strictly increasing list of integers >= low (MultiStepLR's milestones)."""

    def check(v):
        if not (isinstance(v, (list, tuple)) and v and all(isinstance(x, numbers.Integral) and not isinstance(x, bool)
                                                           for x in v)):
            return "must be a non-empty list of integers"
        if v[0] < low or any(b <= a for a, b in zip(v, v[1:])):
            return f"must be increasing integers >= {low}"
        return None

    return check


def optional(check: Check) -> Check:
    """``check``, or null."""
    return lambda v: None if v is None else check(v)


def boolean(v) -> Optional[str]:
    return None if isinstance(v, bool) else "must be true or false"


def choice(*values: str) -> Check:
    def check(v):
        return None if v in values else f"must be one of {', '.join(values)}"

    return check


def describe(value) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def resolve_options(table: Mapping[str, Option], given: Mapping[str, Any], path: str, owner: str) -> Dict[str, Any]:
    """Defaults filled in and every given option checked; ConfigError naming ``path.option`` otherwise."""
    resolved = {}
    for key, value in given.items():
        if key not in table:
            guess = nearest(key, table)
            hint = f"; did you mean '{guess}'?" if guess else ""
            valid = ", ".join(table) or "none"
            raise ConfigError(f"{path}.{key}: {owner} takes no option '{key}'{hint} (its options: {valid})")
        problem = table[key].check(value)
        if problem:
            raise ConfigError(f"{path}.{key}: {problem}, got {describe(value)}")
        resolved[key] = value
    for key, option in table.items():
        if key not in resolved and option.required:
            raise ConfigError(f"{path}.{key}: missing; {owner} needs it ({option.doc})")
    return {key: resolved.get(key, option.default) for key, option in table.items()}
