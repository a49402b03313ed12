"""Option tables for configurable components: each option has a default, a check and a one-line doc.

Optimizers and schedules declare their options with these, so the config validator, ``gdtrain list``
and the error messages all come from one place.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional

from .errors import ConfigError
from .registry import nearest, quoted, shown

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
        try:
            finite = math.isfinite(v)
        except OverflowError:  # an integer too large for a float
            finite = False
        if not finite:
            return "must be a finite number"
        if low is not None and (v <= low if low_open else v < low):
            return f"must be {'>' if low_open else '>='} {low:g}"
        if high is not None and (v >= high if high_open else v > high):
            return f"must be {'<' if high_open else '<='} {high:g}"
        return None

    check.schema = _bounds({"type": "number"}, low, high, low_open, high_open)
    return check


INT_MAX = 2 ** 63 - 1  # the largest integer any option takes (a 64-bit integer: seeds, epochs, ...)


def whole(v):
    """A whole float (3.0, 1e3) as the int it stands for; anything else unchanged."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def integer(low: int | None = None, high: int | None = None) -> Check:
    """An integer within the bounds. A whole float such as 3.0 or 1e3 counts (``converted`` makes it an int);
    a boolean does not (true is not 1)."""

    def check(v):
        v = whole(v)
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            return "must be an integer"
        if low is not None and v < low:
            return f"must be >= {low}"
        if v > (INT_MAX if high is None else high):
            return f"must be <= {INT_MAX if high is None else high}"
        return None

    check.schema = _bounds({"type": "integer"}, low, high)
    check.convert = whole
    return check


def converted(check: Check, value):
    """``value`` as the option stores it once ``check`` has passed it (3.0 -> 3 for an integer)."""
    convert = getattr(check, "convert", None)
    return value if convert is None or value is None else convert(value)


def pair(low: float, high: float) -> Check:
    """Two numbers in [low, high), such as Adam's betas."""

    def check(v):
        if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_number(x) for x in v)):
            return "must be a list of two numbers"
        if not all(low <= x < high for x in v):
            return f"must be two numbers in [{low:g}, {high:g})"
        return None

    check.schema = {"type": "array", "items": _bounds({"type": "number"}, low, high, high_open=True),
                    "minItems": 2, "maxItems": 2}
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

    check.schema = {"type": "array", "items": _bounds({"type": "integer"}, low, None), "minItems": 1,
                    "uniqueItems": True}
    return check


def optional(check: Check) -> Check:
    """``check``, or null."""
    wrapped = lambda v: None if v is None else check(v)  # noqa: E731
    if hasattr(check, "schema"):
        wrapped.schema = nullable(check.schema)
    if hasattr(check, "convert"):
        wrapped.convert = check.convert
    return wrapped


def boolean(v) -> Optional[str]:
    return None if isinstance(v, bool) else "must be true or false"


boolean.schema = {"type": "boolean"}


def choice(*values: str) -> Check:
    def check(v):
        return None if v in values else f"must be one of {', '.join(values)}"

    check.schema = {"type": "string", "enum": list(values)}
    return check


# --- JSON Schema of a check ------------------------------------------------------------------------
# Each check above carries ``check.schema``, the JSON Schema (draft 2020-12) of the values it accepts, so
# ``gdtrain schema`` is generated from the same checks the validator runs (see schema.py). A check without
# one (an ad-hoc function) leaves the schema to the field's type annotation.

def _bounds(schema: dict, low, high, low_open: bool = False, high_open: bool = False) -> dict:
    if low is not None:
        schema["exclusiveMinimum" if low_open else "minimum"] = low
    if high is not None:
        schema["exclusiveMaximum" if high_open else "maximum"] = high
    return schema


def nullable(schema: dict) -> dict:
    """``schema`` or null."""
    schema = dict(schema)
    kind = schema.get("type")
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list):
        schema["type"] = kind if "null" in kind else [*kind, "null"]
    elif "enum" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


_SHORT = reprlib.Repr()  # a few items and levels of a container, never all of it (YAML aliases can nest deep)
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict, _SHORT.maxset = 3, 8, 8, 8, 8
_SHORT.maxstring = _SHORT.maxother = 60


def describe(value, limit: int = 80) -> str:
    """A value as a message shows it: strings quoted, booleans as YAML writes them, long ones cut short."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, int) and value.bit_length() > 3 * limit:  # repr() refuses beyond 4300 digits
        text = f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    else:
        try:
            text = _SHORT.repr(value)
        except ValueError:  # such a huge integer inside a container
            text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def inline(value) -> str:
    """A value as YAML writes it in one line: true, null, [0.9, 0.999], {units: 64}, 1e-08; REQUIRED as 'required'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text if len(text) <= 10 else f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {inline(v)}" for k, v in value.items()) + "}"
    return str(value)


def resolve_options(table: Mapping[str, Option], given: Mapping[str, Any], path: str, owner: str) -> Dict[str, Any]:
    """Defaults filled in and every given option checked; ConfigError naming ``path.option`` otherwise."""
    resolved = {}
    for key, value in given.items():
        if key not in table:
            guess = nearest(key, table)
            hint = f"; did you mean '{guess}'?" if guess else ""
            valid = ", ".join(table) or "none"
            raise ConfigError(f"{path}.{shown(key)}: {owner} takes no option {quoted(key)}{hint} "
                              f"(its options: {valid})")
        problem = table[key].check(value)
        if problem:
            raise ConfigError(f"{path}.{key}: {problem}, got {describe(value)}")
        resolved[key] = converted(table[key].check, value)
    for key, option in table.items():
        if key not in resolved and option.required:
            raise ConfigError(f"{path}.{key}: missing; {owner} needs it ({option.doc})")
    return {key: resolved.get(key, option.default) for key, option in table.items()}


def describe_component(spec: Mapping[str, Any], table: Mapping[str, Option]) -> str:
    """'sgd(lr=0.1, momentum=0.9)': a resolved spec's name and the options that differ from their defaults in
    ``table`` (lr always shown)."""
    options = ", ".join(f"{k}={v}" for k, v in spec.items()
                        if k != "name" and (k == "lr" or k not in table or table[k].default != v))
    return f"{spec['name']}({options})"
