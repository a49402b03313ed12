"""Files shipped with gdtrain (built-in datasets, example configs), found after any kind of install.

They are package data (``gdtrain.datasets`` and ``gdtrain.configs``, mapped from the repository's
top-level datasets/ and configs/ folders); running from a source checkout without installing falls
back to those folders.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Dict, Optional

_SOURCE_TREE = Path(__file__).resolve().parent.parent


def shipped_file(kind: str, name: str) -> Optional[Path]:
    """``kind`` is 'datasets' or 'configs'; the path of ``name`` inside it, or None."""
    try:
        candidate = resources.files(f"gdtrain.{kind}").joinpath(name)
        if candidate.is_file():
            return Path(str(candidate))
    except ModuleNotFoundError:
        pass
    fallback = _SOURCE_TREE / kind / name
    return fallback if fallback.is_file() else None


def shipped_files(kind: str, suffix: str) -> Dict[str, Path]:
    """Every file of ``kind`` ('datasets' or 'configs') whose name ends with ``suffix``: {name without it: path}."""
    found: Dict[str, Path] = {}
    try:
        for item in resources.files(f"gdtrain.{kind}").iterdir():
            if item.name.endswith(suffix) and item.is_file():
                found[item.name[:-len(suffix)]] = Path(str(item))
    except (ModuleNotFoundError, TypeError, OSError):
        pass
    if not found:
        found = {p.name[:-len(suffix)]: p for p in (_SOURCE_TREE / kind).glob(f"*{suffix}") if p.is_file()}
    return found


def find_config(name) -> Path:
    """A config path as given, else a config shipped with gdtrain: ``quickstart`` (or ``quickstart.yaml``) is
    ``configs/quickstart.yaml`` wherever gdtrain is installed. A name with a folder in it is always a path."""
    path = Path(name)
    if path.exists() or path.suffix not in ("", ".yaml", ".yml") or "/" in str(name):
        return path
    return shipped_file("configs", f"{path.stem}.yaml") or path
