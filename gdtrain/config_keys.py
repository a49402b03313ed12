"""Every key of the config with its default and doc, read from config/sections.py's dataclasses: what
`gdtrain list config` prints and where `gdtrain explain IDEA` finds the defaults of the keys an idea names.

A section (``data``, ``model``, ...) is a row of its own, with the keys under it; ``model.hidden`` lists each
layer type's keys once, as ``model.hidden[].KEY``.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, List, Optional

from .config import Config


@dataclass(frozen=True)
class ConfigKey:
    """One key of the config: its dotted path, default and doc (sections have ``section`` set)."""

    path: str
    default: Any
    doc: str
    section: bool = False
    required: bool = False


def config_keys() -> List[ConfigKey]:
    """Every key of the config, in file order, with its default and doc (from config/sections.py's dataclasses)."""
    return _key_rows(Config, "")


def _key_rows(cls, prefix: str) -> List[ConfigKey]:
    hints = typing.get_type_hints(cls)
    defaults = cls()
    rows = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        path = f"{prefix}{f.name}"
        value = getattr(defaults, f.name)
        doc = f.metadata.get("doc", "")
        section = _dataclass_in(hints[f.name])
        check = f.metadata.get("check")
        required = check is not None and value is None and check(value) is not None
        if section is not None:
            rows.append(ConfigKey(path, None if value is None else dataclasses.asdict(value), doc, True))
            rows += _key_rows(section, f"{path}.")
            continue
        if dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        elif isinstance(value, list):
            value = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
        rows.append(ConfigKey(path, value, doc, required=required))
        seen = set()
        for item in _list_item_dataclasses(hints[f.name]):  # (model.hidden: each layer type's keys, once)
            for row in _key_rows(item, f"{path}[]."):
                if row.path not in seen:
                    seen.add(row.path)
                    rows.append(row)
    return rows


def _dataclass_in(hint) -> Optional[type]:
    """The dataclass a section field holds (``DataConfig``, ``Optional[CompareConfig]``), else None."""
    if dataclasses.is_dataclass(hint):
        return hint
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union and len(args) == 1 and dataclasses.is_dataclass(args[0]):
        return args[0]
    return None


def _list_item_dataclasses(hint) -> List[type]:
    """The dataclasses a list field's items may be (``List[LayerConfig]``, ``List[Union[A, B]]``)."""
    if typing.get_origin(hint) in (list, List):
        args = typing.get_args(hint)
        if args and typing.get_origin(args[0]) is typing.Union:
            args = typing.get_args(args[0])
        return [arg for arg in args if dataclasses.is_dataclass(arg)]
    return []
