"""Config text in and out: the YAML dialect, ``--set`` overrides, reading a config file and dumping the resolved one.

The dialect is YAML (PyYAML's safe loader) that also reads ``1e-3`` as a number, refuses a key given twice in one
mapping and reports a scalar it cannot build at its line and column. ``--set a.b.c=value`` assignments (values
parsed as YAML) change the raw mapping before it is validated, so they are checked like the file. ``to_dict`` gives
the resolved config (every default filled in) written to the run directory; ``dump_yaml`` its YAML, which reads
back the same.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import yaml

from ..errors import ConfigError
from ..options import describe
from ..rundir import refuse_special_file
from .sections import PROBLEM_EXCLUDES, Config
from .validate import from_dict


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads 1e-3 as a number (YAML 1.1 wants 1.0e-3), refuses a key given twice in one
    mapping (plain YAML keeps the last one silently) and reports a scalar it cannot build (``2001-13-45``,
    ``!!int x``) as a YAML error at its line and column."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            kind = str(node.tag).rsplit(":", 1)[-1]
            text = node.value if isinstance(node.value, str) else node.id
            reason = (str(exc).splitlines() or [""])[0][:100]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {describe(text, 40)} as {kind} ({reason})", node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                if key in first:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {describe(key, 40)} (first on line {first[key] + 1}); "
                                    "give each key once", key_node.start_mark)
                first[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes the strings _Loader would read as numbers ('1e-3'), so a dump reads back the same."""


for _cls in (_Loader, _Dumper):
    _cls.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
        list("-+0123456789."),
    )


def parse_yaml(text: str, source: str = "config"):
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply (more than a config needs)") from None


def apply_override(raw: Dict[str, Any], assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a raw config mapping, in place."""
    key_path, sep, text = assignment.partition("=")
    if not sep or not key_path.strip():
        raise ConfigError(f"--set {assignment}: expected key.path=value")
    value = parse_yaml(text, f"--set {key_path}") if text.strip() else None
    set_path(raw, key_path.strip(), value)


def set_path(raw: Dict[str, Any], key_path: str, value: Any) -> None:
    """Set ``raw[a][b][c] = value`` for ``key_path`` 'a.b.c' (list items by index: 'model.hidden.0.units')."""
    keys = key_path.split(".")
    if not all(keys):
        raise ConfigError(f"{key_path}: expected a dotted key path such as training.epochs")
    node: Any = raw
    for i, key in enumerate(keys[:-1]):
        if isinstance(node, list):
            child = node[int(key)] if key.isdigit() and int(key) < len(node) else None
            if isinstance(child, int) and not isinstance(child, bool):  # `hidden: [32, 16]` shorthand
                child = node[int(key)] = {"units": child}
        else:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            elif isinstance(child, str) and key in ("optimizer", "schedule"):
                child = node[key] = {"name": child}
        if not isinstance(child, (dict, list)):
            raise ConfigError(f"{key_path}: '{'.'.join(keys[:i + 1])}' is not a section")
        node = child
    last = keys[-1]
    if isinstance(node, list):
        if not (last.isdigit() and int(last) < len(node)):
            raise ConfigError(f"{key_path}: no list item '{last}'")
        node[int(last)] = value
    else:
        node[last] = value


MAX_CONFIG_BYTES = 4 * 2 ** 20  # a config is a page of YAML; anything this large is a mistake (or a data file)


def _mib(n: int) -> str:
    return f"{n / 2 ** 20:g} MiB"


def load_config(path: Union[str, Path], overrides: Optional[Dict[str, Any]] = None,
                assignments: Optional[List[str]] = None) -> Config:
    """Read, override and validate a config file.

    ``overrides`` maps key paths to values (``{"training.epochs": 5}``); ``assignments`` are
    ``--set``-style strings. Both are applied before validation so they are checked like the file.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a YAML config file")
    refuse_special_file(path, error=ConfigError)
    try:
        with open(path, "rb") as f:  # at most one byte past the limit: a huge file (or /dev/zero) is never read whole
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            size = path.stat().st_size if path.is_file() else 0
            shown = f"{size / 2 ** 20:.1f} MiB" if size > MAX_CONFIG_BYTES else f"more than {_mib(MAX_CONFIG_BYTES)}"
            raise ConfigError(f"{path}: the config file is {shown}, more than the {_mib(MAX_CONFIG_BYTES)} a config "
                              "may have; is it a data file? (name data files in data.source)")
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text's universal newlines
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read the config file (UnicodeDecodeError: not UTF-8 text, "
                          f"{exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    raw = parse_yaml(text, str(path))
    if raw is None:
        raise ConfigError(f"{path}: the file is empty; expected a mapping such as 'data: {{source: digits}}'")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a YAML mapping of keys to values, got {describe(raw)}")
    raw = copy.deepcopy(raw)
    for assignment in assignments or []:
        apply_override(raw, assignment)
    for key_path, value in (overrides or {}).items():
        if value is not None:
            set_path(raw, key_path, value)
    return from_dict(raw, base_dir=str(path.parent), name=path.stem)


def to_dict(config: Config) -> Dict[str, Any]:
    """The resolved config as plain data (every default filled in), ready for YAML."""
    out = {}
    for f in fields(config):
        if f.metadata.get("internal"):
            continue
        value = getattr(config, f.name)
        if value is None and f.metadata.get("omit_null"):  # an optional section left out stays out
            continue
        if config.problem is not None and f.name in PROBLEM_EXCLUDES:  # what the problem replaces
            continue
        out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else copy.deepcopy(value)
    return out


def dump_yaml(config: Config) -> str:
    return yaml.dump(to_dict(config), Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=100)
