"""The shipped configs (configs/*.yaml) as the catalog uses them: which components each one names, what its
comment header says, and the starters ``gdtrain init`` copies.

    shipped_configs()          (stem, path) of every shipped config
    usages("optimizers", "adam")  the shipped configs that name adam (for `gdtrain explain adam`), the ones
                               about it first
    config_usage("dropout")    one shipped config as an idea's explanation lists it
    templates(), template(NAME), starter_text(...)   `gdtrain init`
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple

from .config import parse_yaml
from .data import DATASETS
from .errors import ConfigError, GdtrainError
from .optimizers import ALIASES, resolve_optimizer
from .registry import unknown_name_message
from .resources import shipped_files


@dataclass(frozen=True)
class Usage:
    """A shipped config that names a component, and where."""

    name: str  # the config's stem: `gdtrain fit NAME` runs it
    path: str  # as shown: configs/NAME.yaml
    keys: Tuple[str, ...]  # the key paths that name the component
    about: str  # the first sentence of the config's comment header
    featured: bool  # the config is about this component (its name or its header says so)
    command: str  # how to run it: gdtrain fit NAME (gdtrain compare-optimizers NAME for a race's contestants)


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    path: Path


def shipped_configs() -> List[Tuple[str, Path]]:
    """(stem, path) of every shipped config, by name: package data once installed, else the checkout's configs/."""
    return sorted(shipped_files("configs", ".yaml").items())


def config_header(text: str) -> List[str]:
    """The comment lines a config starts with, without '# '."""
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line[1:].removeprefix(" ").rstrip())
    return header


def header_summary(header: Sequence[str]) -> str:
    """The first sentence of a config's comment header (its first paragraph, lines joined)."""
    words = []
    for line in header:
        if not line.strip() or line.startswith(" "):
            break
        words.append(line.strip())
    text = " ".join(words)
    match = re.search(r"(?<=[.!?])\s+(?=[^\sa-z])", text)
    return text[:match.start()] if match else text


def _mentions(line: str, name: str) -> bool:
    """``name`` as a word of ``line``, any case, '_' matching '_', ' ' or '-' (cross_entropy: cross-entropy)."""
    pattern = re.escape(name).replace("_", "[_ -]")
    return re.search(rf"(?<![\w`]){pattern}(?![\w(])", line, flags=re.IGNORECASE) is not None


# --- which components a config names ----------------------------------------------------------------

def _layer_usages(hidden) -> List[Tuple[str, str, str]]:
    """(family, name, key) of what a ``model.hidden`` list names: layer types, activations, initializers."""
    out = []
    for layer in hidden if isinstance(hidden, list) else []:
        if isinstance(layer, int) and not isinstance(layer, bool):
            out.append(("activations", "relu", "model.hidden"))  # `hidden: [64, 32]` is ReLU layers
        elif isinstance(layer, dict):
            if isinstance(layer.get("type"), str):
                out.append(("layers", layer["type"], "model.hidden[].type"))
            if isinstance(layer.get("activation"), str):
                out.append(("activations", layer["activation"], "model.hidden[].activation"))
            if isinstance(layer.get("init"), str):
                out.append(("initializers", layer["init"], "model.hidden[].init"))
            out += _layer_usages(layer.get("hidden"))  # a residual block's layers
    return out


def _component_name(raw, default: Optional[str] = None) -> Optional[str]:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        name = raw.get("name", default)
        return name if isinstance(name, str) else None
    return None


def _named_components(raw: Mapping) -> List[Tuple[str, str, str]]:
    """(family name, component name, key path) for every component a raw config names."""
    out: List[Tuple[str, str, str]] = []
    spec = raw.get("optimizer")
    name = _component_name(spec, "sgd")
    if name is not None:
        out.append(("optimizers", name, "optimizer"))
        try:  # sgd with momentum 0.9 is the `momentum` preset even when the config spells it out
            resolved = resolve_optimizer({"name": name} if isinstance(spec, str) else dict(spec))
        except GdtrainError:
            resolved = None
        for alias, (base, preset) in ALIASES.items():
            if name != alias and resolved and resolved["name"] == base and all(
                    resolved.get(k) == v for k, v in preset.items()):
                out.append(("optimizers", alias, "optimizer"))
    compare = raw.get("compare")
    if isinstance(compare, dict) and isinstance(compare.get("optimizers"), list):
        for item in compare["optimizers"]:
            name = _component_name(item)
            if name is not None:
                out.append(("optimizers", name, "compare.optimizers"))
    name = _component_name(raw.get("schedule"), "constant")
    if name is not None:
        out.append(("schedules", name, "schedule"))
    training = raw.get("training") if isinstance(raw.get("training"), dict) else {}
    name = _component_name(training.get("line_search"), "backtracking")
    if name is not None:
        out.append(("line-searches", name, "training.line_search"))
    if training.get("early_stopping") not in (None, False):
        out.append(("early-stopping", "early_stopping", "training.early_stopping"))
    if isinstance(raw.get("loss"), str):
        out.append(("losses", raw["loss"], "loss"))
    model = raw.get("model") if isinstance(raw.get("model"), dict) else {}
    if isinstance(model.get("init"), str):
        out.append(("initializers", model["init"], "model.init"))
    out += _layer_usages(model.get("hidden"))
    problem = raw.get("problem")
    name = _component_name(problem.get("function") if isinstance(problem, dict) else problem)
    if name is not None:
        out.append(("functions", name, "problem.function"))
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    if isinstance(data.get("source"), str) and data["source"] in DATASETS:
        out.append(("datasets", data["source"], "data.source"))
    return out


def usages(family: str, name: str) -> List[Usage]:
    """The shipped configs that name the component ``name`` of ``family`` (the plural `gdtrain list` takes);
    the ones about it (by file name or comment header) first."""
    found = []
    for stem, path in shipped_configs():
        try:
            text = path.read_text(encoding="utf-8")
            raw = parse_yaml(text, str(path))
        except (GdtrainError, OSError, UnicodeDecodeError):
            continue
        if not isinstance(raw, dict):
            continue
        keys = tuple(dict.fromkeys(key for family_name, component, key in _named_components(raw)
                                   if family_name == family and component == name))
        if not keys:
            continue
        header = config_header(text)
        featured = stem == name or any(_mentions(line, name) for line in header[:3])
        command = f"gdtrain {'compare-optimizers' if keys == ('compare.optimizers',) else 'fit'} {stem}"
        found.append(Usage(stem, f"configs/{stem}.yaml", keys, header_summary(header), featured, command))
    return sorted(found, key=lambda u: (not u.featured, u.name))


def config_usage(stem: str) -> Usage:
    """A shipped config as an idea's explanation lists it: its path, how to run it, its first sentence."""
    path = dict(shipped_configs())[stem]
    header = config_header(path.read_text(encoding="utf-8"))
    command = f"gdtrain {'compare-optimizers' if stem in ('compare', 'modes') else 'fit'} {stem}"
    return Usage(stem, f"configs/{stem}.yaml", (), header_summary(header), True, command)


# --- templates (gdtrain init) -----------------------------------------------------------------------

DEFAULT_TEMPLATE = "quickstart"


def templates() -> List[Template]:
    """The shipped configs as starters: the default first, then by name."""
    out = []
    for stem, path in shipped_configs():
        try:
            header = config_header(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        out.append(Template(stem, header_summary(header), path))
    return sorted(out, key=lambda t: (t.name != DEFAULT_TEMPLATE, t.name))


def template(name: str) -> Template:
    for tpl in templates():
        if tpl.name == name:
            return tpl
    raise ConfigError(f"--template: {unknown_name_message('template', name, [t.name for t in templates()])}")


def starter_text(tpl: Template, target: str) -> str:
    """The template's text under a short header that says where it came from and what to run next."""
    head = [
        f"# A gdtrain config, started from the '{tpl.name}' template (gdtrain init --template {tpl.name}).",
        f"# Check it:   gdtrain validate {target}     (prints the resolved config: every default filled in)",
        f"# Train it:   gdtrain fit {target}",
        "# Every key:  gdtrain list config    components: gdtrain list    a formula: gdtrain explain adam",
        "#",
    ]
    return "\n".join(head) + "\n" + tpl.path.read_text(encoding="utf-8")
