"""The JSON Schema (draft 2020-12) of a gdtrain config, generated from the code that validates configs.

Editors that read JSON Schema (VS Code's YAML extension, PyCharm, ...) then complete keys and names and
flag mistakes as you type:  ``gdtrain schema --out gdtrain.schema.json`` and, as a config's first line,
``# yaml-language-server: $schema=gdtrain.schema.json``.

Where each part comes from, so the schema cannot drift from the validator:

- sections and keys: the dataclasses of config/sections.py (``additionalProperties: false`` everywhere, as the
  validator rejects unknown keys); descriptions: each field's doc; defaults: the dataclasses' defaults;
- types and bounds: the ``check.schema`` that options.number / integer / choice / pair / ... attach to the
  checks they return (minimum / exclusiveMinimum / maximum / enum), else the field's type annotation;
- component names (loss, activations, initializers, datasets) from their registries; ``optimizer``,
  ``schedule`` and ``training.line_search`` as a name or a mapping that is one of a set of branches (oneOf),
  one per name, each with that component's own Option table (defaults, bounds, required options) and its
  record's ``summary`` or ``formula`` as the description.

A schema cannot say everything the validator checks (validation_split + test_split < 1, nesterov needs
momentum, a line search needs full batch, ...): ``gdtrain validate`` remains the final word.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .activations import ACTIVATIONS
from .config import LAYER_CONFIGS, Config
from .contestants import LABEL, MODES, TARGETS
from .data import DATASETS
from .early_stopping import OPTIONS as EARLY_STOPPING_OPTIONS
from .init import INITIALIZERS
from .linesearch import LINE_SEARCHES
from .losses import LOSSES
from .optimizers import ALIASES, OPTIMIZERS
from .options import Option, nullable
from .problems import FUNCTIONS
from .schedules import COMMON_OPTIONS, SCHEDULES

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _names(registry) -> List[str]:
    return list(registry.names())


def _options(table: Mapping[str, Option], preset: Optional[Mapping[str, Any]] = None) -> Tuple[Dict, List[str]]:
    """(properties, required) of an Option table; ``preset`` overrides defaults (an alias's)."""
    preset = preset or {}
    properties, required = {}, []
    for name, option in table.items():
        schema = {"description": option.doc} if option.doc else {}
        schema.update(copy.deepcopy(getattr(option.check, "schema", {})))
        if option.required:
            required.append(name)
        else:
            schema["default"] = _json(preset.get(name, option.default))
        properties[name] = schema
    return properties, required


def _by_name(branches: List[Tuple[str, str, Mapping[str, Option], Mapping[str, Any]]], default_name: str,
             extra: Optional[Dict[str, Dict]] = None) -> Dict:
    """A name, or a mapping that is exactly one branch: {name: <const>, ...that name's options}.

    ``branches`` are (name, description, option table, preset defaults). The name may be left out of the
    mapping for ``default_name`` (the validator's default).
    """
    one_of = []
    for name, description, table, preset in branches:
        properties, required = _options(table, preset)
        branch = {"title": name}
        if description:
            branch["description"] = description
        branch.update({
            "type": "object",
            "properties": {"name": {"const": name}, **(extra or {}), **properties},
            "required": ([] if name == default_name else ["name"]) + required,
            "additionalProperties": False,
        })
        one_of.append(branch)
    names = [b[0] for b in branches]
    return {"anyOf": [{"type": "string", "enum": names}, {"type": "object", "oneOf": one_of}]}


def optimizer_schema(extra: Optional[Dict[str, Dict]] = None) -> Dict:
    branches = [(name, cls.summary, cls.OPTIONS, {}) for name, cls in OPTIMIZERS.items()]
    for alias, (base, preset) in ALIASES.items():
        given = ", ".join(f"{k}: {v}" for k, v in preset.items())
        branches.append((alias, f"{base} with {given}", OPTIMIZERS.get(base).OPTIONS, preset))
    return _by_name(branches, "sgd", extra)


def schedule_schema() -> Dict:
    return _by_name([(name, cls.formula, {**COMMON_OPTIONS, **cls.OPTIONS}, {}) for name, cls in SCHEDULES.items()],
                    "constant")


def line_search_schema() -> Dict:
    return nullable(_by_name([(name, method.formula, method.options, {}) for name, method in LINE_SEARCHES.items()],
                             "backtracking"))


def early_stopping_schema() -> Dict:
    properties, required = _options(EARLY_STOPPING_OPTIONS)
    return {"anyOf": [{"type": "null"}, {"type": "boolean"},
                      {"type": "object", "properties": properties, "required": required,
                       "additionalProperties": False}]}


def _hidden_schema() -> Dict:
    """model.hidden (and a residual block's hidden): a list of layers, each a bare int or a mapping of one type."""
    kinds = []
    for name, cls in LAYER_CONFIGS.items():  # dense needs its units; another type is named by its type
        kind = _section(cls)
        kind["required"] = ["units"] if name == "dense" else ["type"]
        kinds.append(kind)
    return {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 1,
                                                  "description": "shorthand for {units: N} (a ReLU layer)"}] + kinds}}


def _layer_list_schema() -> Dict:
    """A residual block's ``hidden``: the same layer list, by reference (it may nest)."""
    return {"$ref": "#/$defs/layers"}


def _label_property() -> Dict:
    return {"label": {"type": "string", "pattern": LABEL.pattern,
                      "description": "the contestant's name and run directory (default: its name)"}}


def _contestants_schema() -> Dict:
    item = optimizer_schema(extra=_label_property())
    return nullable({"type": "array", "minItems": 1, "items": item})


def _line_search_contestants_schema() -> Dict:
    item = _by_name([(name, method.formula, method.options, {}) for name, method in LINE_SEARCHES.items()],
                    "backtracking", _label_property())
    return nullable({"type": "array", "minItems": 1, "items": item})


def _problem_schema() -> Dict:
    """``problem:``: a function's name, or {function, start, **its options} (problems.resolve_problem)."""
    start = {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"},
             "description": "the starting point [x, y]"}
    branches = []
    for name, fn in FUNCTIONS.items():
        properties, required = _options(fn.options)
        branches.append({"title": name, "description": f"f = {fn.formula}", "type": "object",
                         "properties": {"function": {"const": name}, "start": start, **properties},
                         "required": ["function"] + required, "additionalProperties": False})
    return nullable({"anyOf": [{"type": "string", "enum": _names(FUNCTIONS)}, {"type": "object", "oneOf": branches}]})


def _modes_schema() -> Dict:
    return nullable({"anyOf": [{"type": "array", "minItems": 1, "uniqueItems": True,
                                "items": {"type": "string", "enum": list(MODES)}},
                               {"type": "string", "description": "comma-separated: batch,sgd,minibatch"}]})


def _sweep_grid_schema() -> Dict:
    scalar = {"type": ["number", "string", "boolean", "null"]}
    return nullable({"type": "object", "minProperties": 1, "propertyNames": {"pattern": r"^[^.]+(\.[^.]+)*$"},
                     "additionalProperties": {"anyOf": [scalar, {"type": "array", "minItems": 1, "items": scalar}]},
                     "description": "config key path → the values to try"})


def _target_metric_schema() -> Dict:
    return nullable({"anyOf": [
        {"type": "object", "minProperties": 1, "maxProperties": 1, "propertyNames": {"enum": list(TARGETS)},
         "additionalProperties": {"type": "number"}},
        {"type": "string", "pattern": rf"^\s*({'|'.join(TARGETS)})\s*=", "description": "NAME=VALUE"}]})


def _names_schema(registry, nullable_: bool = False) -> Callable[[], Dict]:
    def build():
        schema = {"type": "string", "enum": _names(registry)}
        return nullable(schema) if nullable_ else schema

    return build


def _source_schema() -> Dict:
    return {"anyOf": [{"type": "string", "enum": _names(DATASETS), "description": "a built-in dataset"},
                      {"type": "string", "minLength": 1, "description": "a .csv / .npz / MNIST .idx[.gz] file"}]}


# Keys whose values the validator checks with code a check's schema cannot describe (a conversion, or a
# name looked up in a registry after parsing): (dataclass name, field) -> schema builder.
_SPECIAL: Dict[Tuple[str, str], Callable[[], Dict]] = {
    ("Config", "loss"): _names_schema(LOSSES),
    ("Config", "optimizer"): optimizer_schema,
    ("Config", "schedule"): schedule_schema,
    ("DataConfig", "source"): _source_schema,
    ("ModelConfig", "hidden"): _layer_list_schema,
    ("ResidualConfig", "hidden"): _layer_list_schema,
    ("ModelConfig", "init"): _names_schema(INITIALIZERS, nullable_=True),
    ("LayerConfig", "activation"): _names_schema(ACTIVATIONS),
    ("LayerConfig", "init"): _names_schema(INITIALIZERS, nullable_=True),
    ("TrainingConfig", "line_search"): line_search_schema,
    ("TrainingConfig", "early_stopping"): early_stopping_schema,
    ("CompareConfig", "optimizers"): _contestants_schema,
    ("CompareConfig", "modes"): _modes_schema,
    ("CompareConfig", "target_metric"): _target_metric_schema,
    ("CompareConfig", "line_searches"): _line_search_contestants_schema,
    ("Config", "problem"): _problem_schema,
    ("SweepConfig", "grid"): _sweep_grid_schema,
}


def _json(value) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def _from_type(hint) -> Dict:
    """The schema of a type annotation (for checks that carry no schema of their own)."""
    if dataclasses.is_dataclass(hint):
        return nullable(_section(hint))  # a section may be left empty (null): every key takes its default
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        options = [a for a in args if a is not type(None)]
        inner = _from_type(options[0]) if len(options) == 1 else {"anyOf": [_from_type(a) for a in options]}
        return nullable(inner) if len(options) < len(args) else inner
    if origin in (list, List):
        return {"type": "array", "items": _from_type(args[0]) if args else {}}
    if origin in (dict, Dict):
        return {"type": "object"}
    return {str: {"type": "string", "minLength": 1}, bool: {"type": "boolean"}, int: {"type": "integer"},
            float: {"type": "number"}}.get(hint, {})


def _section(cls) -> Dict:
    """An object schema for a config dataclass: one property per field, nothing else allowed."""
    hints = typing.get_type_hints(cls)
    defaults = cls()
    properties = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        special = _SPECIAL.get((cls.__name__, f.name))
        check = f.metadata.get("check")
        if special is not None:
            schema = special()
        elif check is not None and hasattr(check, "schema"):
            schema = copy.deepcopy(check.schema)
        else:
            schema = _from_type(hints[f.name])
        doc = f.metadata.get("doc")
        if doc:
            schema = {"description": doc, **schema}
        default = getattr(defaults, f.name)
        if check is None or check(default) is None:  # (a required key, like a layer's units, has no default)
            schema["default"] = _json(default)
        properties[f.name] = schema
    return {"type": "object", "properties": properties, "additionalProperties": False}


def config_schema() -> Dict:
    """The JSON Schema of a config file (draft 2020-12)."""
    body = _section(Config)
    body.pop("default", None)
    return {"$schema": DRAFT, "title": "gdtrain config",
            "description": "A gdtrain training config (YAML). Every key has a default; a config only says what "
                           "differs. Generated by `gdtrain schema` from gdtrain's own validator.",
            **body, "$defs": {"layers": _hidden_schema()}}
