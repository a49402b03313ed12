"""What gdtrain offers, read from the tables the code runs on: ``gdtrain list``, ``explain`` and ``init``.

Every component family keeps a ``Registry`` (optimizers, schedules, line searches and early stopping
also an ``Option`` table per entry). This module turns those tables into plain records that report.py
renders, so a listing cannot drift from the code: a new optimizer, option or default shows up by itself.
An explanation quotes the docstrings that sit next to the implementations (the formulas live there)
and names the shipped configs that use the component.

    families()            the component families: datasets, activations, losses, initializers, optimizers,
                          schedules, line-searches, early-stopping
    explain("adam")       formula, docstring block, options, torch equivalent, shipped configs, tour stops
    explain("dropout")    an idea of the tour (ideas.py): formula, what it does, keys, configs, tour stops, reading
    config_keys()         every config key with its default and doc (the dataclasses in config.py)
    templates()           the shipped configs, as starters for ``gdtrain init``
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import textwrap
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import ConfigError, GdtrainError
from .options import REQUIRED, Option
from .registry import nearest, unknown_name_message
from .resources import shipped_files


# --- records ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OptionInfo:
    """One option of a component: its default (``REQUIRED`` when it has none) and its one-line doc."""

    name: str
    default: Any
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Entry:
    """One registered component (or an alias of one, like ``momentum`` = sgd with momentum 0.9)."""

    name: str
    description: str  # one line: the class docstring's first line, the formula, or Builtin.description
    options: Tuple[OptionInfo, ...] = ()
    alias_of: Optional[str] = None
    preset: Mapping[str, Any] = field(default_factory=dict)  # an alias's options that differ from the defaults
    task: Optional[str] = None  # losses and datasets: classification | regression
    formula: str = ""


@dataclass(frozen=True)
class Family:
    """A registry as the CLI shows it: ``optimizers`` holds the entries a config names at ``optimizer``."""

    name: str  # plural, as typed after `gdtrain list`
    kind: str  # singular, as in the error messages
    key: str  # where a config names one
    entries: Tuple[Entry, ...]
    shared: Tuple[OptionInfo, ...] = ()  # options every entry takes besides its own (schedules' warm-up)
    module: str = ""  # the module whose docstring gives the formulas

    def get(self, name: str) -> Entry:
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def names(self) -> List[str]:
        return [e.name for e in self.entries]


@dataclass(frozen=True)
class Usage:
    """A shipped config that names a component, and where."""

    name: str  # the config's stem: `gdtrain fit NAME` runs it
    path: str  # as shown: configs/NAME.yaml
    keys: Tuple[str, ...]  # the key paths that name the component
    about: str  # the first sentence of the config's comment header
    featured: bool  # the config is about this component (its name or its header says so)
    command: str  # how to run it: gdtrain fit NAME (gdtrain compare-optimizers NAME for a race's contestants)


@dataclass
class Explanation:
    """Everything `gdtrain explain NAME` shows about one component."""

    family: Family
    entry: Entry
    summary: str  # one line
    formula: str
    source: str  # gdtrain/optimizers.py
    block: str  # the docstring lines about this component (dedented), '' when there are none
    context: List[str]  # further docstring paragraphs that bear on it
    options: Tuple[OptionInfo, ...]
    shared: Tuple[OptionInfo, ...]
    equivalent: Optional[str]  # torch.optim.Adam, ...
    example: str  # how a config names it
    notes: List[str]
    usages: List[Usage]


@dataclass(frozen=True)
class ConfigKey:
    """One key of the config: its dotted path, default and doc (sections have ``section`` set)."""

    path: str
    default: Any
    doc: str
    section: bool = False
    required: bool = False


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    path: Path


# --- docstrings -------------------------------------------------------------------------------------

def first_line(doc: Optional[str]) -> str:
    """The first non-empty line of a docstring, without pointers such as "(see module doc)"."""
    for line in (doc or "").strip().splitlines():
        if line.strip():
            return re.sub(r"\s*\([^()]*module doc\)", "", line.strip())
    return ""


def _starts_with_name(line: str, name: str) -> bool:
    return line.startswith(name) and (len(line) == len(name) or line[len(name)] in " \t(")


def docstring_block(doc: Optional[str], name: str) -> str:
    """The lines of ``doc`` about ``name``: the line that starts with the name, and the indented lines under it.

    This is how the modules lay out their formulas (``adam (torch.optim.Adam)  options: ...`` followed by the
    update rule, indented; or a row of a table). Dedented; '' when no line starts with the name.
    """
    lines = textwrap.dedent((doc or "").strip("\n")).splitlines()
    for i, line in enumerate(lines):
        if _starts_with_name(line, name):
            block = [line]
            for following in lines[i + 1:]:
                if not following.strip() or not following[0].isspace():
                    break
                block.append(following)
            return "\n".join(l.rstrip() for l in block)
    return ""


def docstring_paragraphs(doc: Optional[str]) -> List[str]:
    """The paragraphs (blocks between blank lines) of a docstring, dedented."""
    text = textwrap.dedent((doc or "").strip("\n"))
    return [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]


def docstring_table(doc: Optional[str]) -> Tuple[List[str], Dict[str, List[str]]]:
    """An reST simple table in a docstring: (header cells, {first cell: cells}); continuation rows are joined."""
    lines = textwrap.dedent((doc or "").strip("\n")).splitlines()
    borders = [i for i, line in enumerate(lines) if re.fullmatch(r"=+( +=+)+", line.strip())]
    if len(borders) < 3:
        return [], {}
    starts = [m.start() for m in re.finditer(r"=+", lines[borders[0]])]

    def cells(line: str) -> List[str]:
        bounds = starts[1:] + [None]
        return [line[a:b].strip() for a, b in zip(starts, bounds)]

    header = cells(lines[borders[0] + 1])
    rows: Dict[str, List[str]] = {}
    last = None
    for line in lines[borders[1] + 1:borders[2]]:
        row = cells(line)
        if row[0]:
            rows[row[0]] = row
            last = row[0]
        elif last is not None:
            rows[last] = [f"{a} {b}".strip() for a, b in zip(rows[last], row)]
    return header, rows


def table_header(doc: Optional[str]) -> str:
    """The header row of a docstring's table (the line starting with 'name'), or ''."""
    for line in textwrap.dedent((doc or "").strip("\n")).splitlines():
        if _starts_with_name(line, "name"):
            return line.rstrip()
    return ""


def _mentions(paragraph: str, name: str) -> bool:
    pattern = re.escape(name).replace("_", "[_ -]")
    return re.search(rf"(?<![\w`]){pattern}(?![\w(])", paragraph, flags=re.IGNORECASE) is not None


# --- the families -----------------------------------------------------------------------------------

def _options(table: Mapping[str, Option], preset: Optional[Mapping[str, Any]] = None) -> Tuple[OptionInfo, ...]:
    preset = preset or {}
    return tuple(OptionInfo(name, preset.get(name, option.default), option.doc) for name, option in table.items())


def _module_doc(module: str) -> str:
    return importlib.import_module(f"gdtrain.{module}").__doc__ or ""


def _schedule_torch(name: str) -> Optional[str]:
    block = docstring_block(_module_doc("schedules"), name)
    match = re.search(r"\(([A-Z]\w+)\)", block)
    return f"torch.optim.lr_scheduler.{match.group(1)}" if match else None


def _optimizer_torch(name: str) -> Optional[str]:
    match = re.search(r"\((torch\.optim\.\w+)\)", docstring_block(_module_doc("optimizers"), name))
    return match.group(1) if match else None


def _loss_torch(name: str) -> Optional[str]:
    _, rows = docstring_table(_module_doc("losses"))
    found = re.findall(r"\((?:torch )?([A-Za-z_]\w*)\)", rows.get(name, ["", ""])[1])
    if not found:
        return None
    found = found[-1]  # the last parenthesized name in the cell: "(torch mse_loss)", "(BCEWithLogits)"
    if found[0].isupper():
        return f"torch.nn.{found}{'' if found.endswith('Loss') else 'Loss'}"
    return f"torch.nn.functional.{found}"


def _optimizers() -> Family:
    from .optimizers import ALIASES, OPTIMIZERS

    entries = [Entry(name, first_line(cls.__doc__), _options(cls.OPTIONS), formula=cls.formula)
               for name, cls in OPTIMIZERS.items()]
    for alias, (base, preset) in ALIASES.items():
        cls = OPTIMIZERS.get(base)
        given = ", ".join(f"{k}={inline(v)}" for k, v in preset.items())
        entries.append(Entry(alias, f"{base} with {given}", _options(cls.OPTIONS, preset), alias_of=base,
                             preset=dict(preset), formula=cls.formula))
    return Family("optimizers", "optimizer", "optimizer", tuple(entries), module="optimizers")


def _schedules() -> Family:
    from .schedules import COMMON_OPTIONS, SCHEDULES

    entries = []
    for name, cls in SCHEDULES.items():
        torch = _schedule_torch(name)
        description = cls.formula + (f"  ({torch.rsplit('.', 1)[-1]})" if torch else "")
        entries.append(Entry(name, description, _options(cls.OPTIONS), formula=cls.formula))
    return Family("schedules", "schedule", "schedule", tuple(entries), _options(COMMON_OPTIONS), "schedules")


def _line_searches() -> Family:
    from .linesearch import LINE_SEARCHES

    entries = [Entry(name, method.formula, _options(method.options), formula=method.formula)
               for name, method in LINE_SEARCHES.items()]
    return Family("line-searches", "line search", "training.line_search", tuple(entries), module="linesearch")


def _early_stopping() -> Family:
    from . import early_stopping

    entry = Entry("early_stopping", first_line(early_stopping.__doc__), _options(early_stopping.OPTIONS))
    return Family("early-stopping", "stopping rule", "training.early_stopping", (entry,), module="early_stopping")


def _losses() -> Family:
    from .losses import LOSSES

    entries = [Entry(name, f"{loss.task}: {loss.formula}", task=loss.task, formula=loss.formula)
               for name, loss in LOSSES.items()]
    return Family("losses", "loss", "loss", tuple(entries), module="losses")


def _activations() -> Family:
    from .activations import ACTIVATIONS

    entries = [Entry(name, act.formula, formula=act.formula) for name, act in ACTIVATIONS.items()]
    return Family("activations", "activation", "model.hidden[].activation", tuple(entries), module="activations")


def _layers() -> Family:
    from .config import LAYER_CONFIGS
    from .layers import LAYER_TYPES

    entries = []
    for name, kind in LAYER_TYPES.items():
        cls = LAYER_CONFIGS[name]
        defaults = cls()
        options = tuple(OptionInfo(f.name, getattr(defaults, f.name), f.metadata.get("doc", ""))
                        for f in dataclasses.fields(cls) if f.name != "type")
        entries.append(Entry(name, f"{kind.summary}: {kind.formula}", options, formula=kind.formula))
    return Family("layers", "layer type", "model.hidden[].type", tuple(entries), module="layers")


def _initializers() -> Family:
    from .init import INITIALIZERS

    header, rows = docstring_table(_module_doc("init"))
    entries = []
    for name in INITIALIZERS:
        cells = rows.get(name, [name, "", ""])
        formula = cells[1] if len(cells) > 1 else ""
        extra = cells[2] if len(cells) > 2 else ""
        if extra and not extra.startswith("("):
            extra = f"({header[2] if len(header) > 2 else 'note'} {extra})"
        entries.append(Entry(name, f"{formula}  {extra}".strip(), formula=formula))
    return Family("initializers", "initializer", "model.init", tuple(entries), module="init")


def _datasets() -> Family:
    from .data import DATASETS

    entries = []
    for name, builtin in DATASETS.items():
        options: Tuple[OptionInfo, ...] = ()
        if builtin.generator is not None:
            options = (OptionInfo("n_samples", builtin.n_samples, "data.n_samples: number of samples"),
                       OptionInfo("noise", builtin.noise, "data.noise: noise level"))
        entries.append(Entry(name, builtin.description, options, task=builtin.task))
    return Family("datasets", "dataset", "data.source", tuple(entries), module="data")


def _functions() -> Family:
    from .problems import FUNCTIONS

    entries = [Entry(name, f"f = {fn.formula}",
                     (OptionInfo("start", list(fn.start), "the starting point [x, y]"), *_options(fn.options)),
                     formula=fn.formula) for name, fn in FUNCTIONS.items()]
    return Family("functions", "test function", "problem.function", tuple(entries), module="problems")


_BUILDERS: Tuple[Callable[[], Family], ...] = (_datasets, _layers, _activations, _losses, _initializers, _optimizers,
                                                _schedules, _line_searches, _early_stopping, _functions)


def families() -> List[Family]:
    """Every component family, in the order a config meets them."""
    return [build() for build in _BUILDERS]


EXTRA_LISTS = ("ideas", "config", "templates")  # `gdtrain list` also shows these (not components)


def list_names() -> List[str]:
    """What `gdtrain list` accepts: the families, then config and templates."""
    return [f.name for f in families()] + list(EXTRA_LISTS)


def normalize(name: str) -> str:
    return str(name).strip().lower().replace("-", "_")


def resolve_list_name(name: str) -> str:
    """'optimizer', 'line_search', 'Line-Searches' -> the name `gdtrain list` knows; ConfigError otherwise."""
    wanted = normalize(name)
    for known in list_names():
        plain = normalize(known)
        if wanted in (plain, plain.rstrip("s"), plain.removesuffix("es")):
            return known
    raise ConfigError(unknown_name_message("list", name, list_names()))


def family(name: str) -> Family:
    wanted = resolve_list_name(name)
    for fam in families():
        if fam.name == wanted:
            return fam
    raise ConfigError(unknown_name_message("component family", name, [f.name for f in families()]))


def every_name() -> List[str]:
    """Every component name `gdtrain explain` knows (aliases included)."""
    return [e.name for fam in families() for e in fam.entries]


def find(name: str) -> List[Tuple[Family, Entry]]:
    wanted = normalize(name)
    return [(fam, e) for fam in families() for e in fam.entries if normalize(e.name) == wanted]


# --- shipped configs --------------------------------------------------------------------------------

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
    from .data import DATASETS
    from .optimizers import ALIASES, resolve_optimizer

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


def usages(fam: Family, entry: Entry) -> List[Usage]:
    """The shipped configs that name ``entry``; the ones about it (by file name or comment header) first."""
    from .config import parse_yaml

    found = []
    for stem, path in shipped_configs():
        try:
            text = path.read_text(encoding="utf-8")
            raw = parse_yaml(text, str(path))
        except (GdtrainError, OSError, UnicodeDecodeError):
            continue
        if not isinstance(raw, dict):
            continue
        keys = tuple(dict.fromkeys(key for family_name, name, key in _named_components(raw)
                                   if family_name == fam.name and name == entry.name))
        if not keys:
            continue
        header = config_header(text)
        featured = stem == entry.name or any(_mentions(line, entry.name) for line in header[:3])
        command = f"gdtrain {'compare-optimizers' if keys == ('compare.optimizers',) else 'fit'} {stem}"
        found.append(Usage(stem, f"configs/{stem}.yaml", keys, header_summary(header), featured, command))
    return sorted(found, key=lambda u: (not u.featured, u.name))


# --- explanations -----------------------------------------------------------------------------------

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


def _example(fam: Family, entry: Entry) -> str:
    name = entry.name
    if fam.name == "optimizers":
        lr = next((o.default for o in entry.options if o.name == "lr"), None)
        return f"optimizer: {{name: {name}, lr: {inline(lr)}}}    (or just  optimizer: {name})"
    if fam.name == "schedules":
        required = "".join(f", {o.name}: …" for o in entry.options if o.required)
        return f"schedule: {{name: {name}{required}}}" + ("" if required else f"    (or just  schedule: {name})")
    if fam.name == "line-searches":
        return f"training: {{mode: batch, line_search: {{name: {name}}}}}"
    if fam.name == "early-stopping":
        return "training: {early_stopping: {monitor: val_loss, patience: 10}}    (or  early_stopping: true)"
    if fam.name == "losses":
        return f"loss: {name}"
    if fam.name == "activations":
        return f"model: {{hidden: [{{units: 64, activation: {name}}}]}}"
    if fam.name == "initializers":
        return f"model: {{init: {name}}}    (or one layer's:  {{units: 64, init: {name}}})"
    if fam.name == "datasets":
        return f"data: {{source: {name}}}"
    if fam.name == "functions":
        start = next(o.default for o in entry.options if o.name == "start")
        return f"problem: {{function: {name}, start: {inline(start)}}}    (instead of data, model and loss)"
    return f"{fam.key}: {name}"


def _tour_note(stops: Sequence[int]) -> str:
    from .ideas import TOUR

    return "; ".join(f"tour stop {n}: {TOUR[n]}" for n in stops) + " (docs/tour.md)"


def _notes(fam: Family, entry: Entry) -> List[str]:
    from .ideas import COMPONENT_TOUR, IDEAS

    notes = []
    if entry.name in COMPONENT_TOUR:
        notes.append(_tour_note(COMPONENT_TOUR[entry.name]))
    ideas = [idea.name for idea in IDEAS.values() if entry.name in idea.see]
    if ideas:
        notes.append(f"the idea{'s' if len(ideas) > 1 else ''} behind it: "
                     + ", ".join(f"gdtrain explain {name}" for name in ideas))
    if entry.alias_of:
        given = ", ".join(f"{k}: {inline(v)}" for k, v in entry.preset.items())
        notes.append(f"an alias: {entry.name} is {{name: {entry.alias_of}, {given}}} (ALIASES in optimizers.py); "
                     f"every {entry.alias_of} option can still be set")
    if fam.name == "activations":
        from .activations import ACTIVATIONS
        from .init import default_initializer

        notes.append(f"default initializer for a {entry.name} layer: {default_initializer(entry.name)}")
        if ACTIVATIONS.get(entry.name).kinks is not None:
            notes.append("not differentiable everywhere: `gdtrain gradcheck` counts perturbations that cross a "
                         "kink and leaves them out")
    if fam.name == "initializers":
        from .activations import ACTIVATIONS
        from .init import default_initializer

        users = [a for a in ACTIVATIONS if default_initializer(a) == entry.name]
        if users:
            notes.append(f"the default for {', '.join(users)} layers (model.init: null)")
    if fam.name == "losses":
        from .losses import LOSSES

        loss = LOSSES.get(entry.name)
        if loss.owns_output:
            owned = {"scores": "the raw class scores"}.get(loss.owns_output, f"the {loss.owns_output}")
            notes.append(f"task: {loss.task}; the last layer is linear and the loss owns the output ({owned}, "
                         "fused with it), so model.output_activation stays identity")
        else:
            notes.append(f"task: {loss.task}; ŷ is the last layer's output after model.output_activation "
                         "(identity by default; sigmoid, tanh or softmax)")
    if fam.name == "functions":
        from .landscape import describe_function
        from .problems import FUNCTIONS, make_problem, resolve_problem

        fn = FUNCTIONS.get(entry.name)
        notes.append(f"{'subgradient' if not fn.smooth else 'gradient'}: ∇f = {fn.gradient_formula} (analytic; "
                     "gdtrain gradcheck CONFIG checks it against central differences)")
        notes.append(describe_function(make_problem(resolve_problem({"function": entry.name}))).split(", ", 1)[1]
                     + " (with the default options)")
    if fam.name == "datasets":
        from .data import DATASETS

        builtin = DATASETS.get(entry.name)
        if builtin.generator is not None:
            notes.append(f"synthetic and seeded: {first_line(builtin.generator.__doc__)}")
        else:
            notes.append(f"shipped as datasets/{entry.name}.csv (sources and licences: datasets/README.md)")
        notes.append(f"task: {builtin.task}")
    return notes


def _context(fam: Family, entry: Entry, block: str) -> List[str]:
    """Paragraphs of the module docstring that bear on the entry besides its own block."""
    doc = _module_doc(fam.module)
    paragraphs = docstring_paragraphs(doc)
    chosen = []
    if fam.name == "activations":
        chosen += [p for p in paragraphs if p.startswith("Forward:")]
    if fam.name == "schedules":
        chosen += [p for p in paragraphs if p.startswith("Warm-up")]
    if fam.name in ("losses", "activations", "initializers"):
        name = entry.alias_of or entry.name
        chosen += [p for p in paragraphs[1:] if _mentions(p, name) and "====" not in p]
    first = block.splitlines()[0] if block else None
    return [p for p in dict.fromkeys(chosen) if not (first and first in p)]


def _block(fam: Family, entry: Entry) -> str:
    doc = _module_doc(fam.module)
    name = entry.alias_of or entry.name
    if fam.name == "early-stopping":
        return "\n\n".join(docstring_paragraphs(doc)[1:])
    if fam.name == "datasets":
        return ""
    block = docstring_block(doc, name)
    header = table_header(doc)
    if block and header:  # a row of a table: show its header too
        block = f"{header}\n{block}"
    return block


def _equivalent(fam: Family, entry: Entry) -> Optional[str]:
    name = entry.alias_of or entry.name
    if fam.name == "optimizers":
        from .optimizers import OPTIMIZERS

        torch = _optimizer_torch(name)
        cls = OPTIMIZERS.get(name)  # the arguments torch needs to match: our defaults that differ, the preset
        args = {**{k: cls.OPTIONS[k].default for k in cls.TORCH_DEFAULTS}, **(entry.preset or {})}
        if torch and args:
            torch += "(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"
        return torch
    if fam.name == "schedules":
        return _schedule_torch(name)
    if fam.name == "losses":
        return _loss_torch(name)
    if fam.name == "early-stopping":
        return "keras.callbacks.EarlyStopping"
    return None


def _explain(fam: Family, entry: Entry) -> Explanation:
    from .optimizers import OPTIMIZERS

    summary = entry.description
    if fam.name == "optimizers" and entry.alias_of:
        summary = f"{entry.description}  —  {first_line(OPTIMIZERS.get(entry.alias_of).__doc__)}"
    block = _block(fam, entry)
    return Explanation(fam, entry, summary, entry.formula, f"gdtrain/{fam.module}.py", block,
                       _context(fam, entry, block), entry.options, fam.shared, _equivalent(fam, entry),
                       _example(fam, entry), _notes(fam, entry), usages(fam, entry))


@dataclass
class KeyInfo:
    """A config key an idea names, with its default and doc (from config_keys or a component's options)."""

    path: str
    default: Any
    doc: str


@dataclass
class IdeaExplanation:
    """Everything `gdtrain explain IDEA` shows about an idea of the tour (ideas.py)."""

    idea: Any  # ideas.Idea
    keys: List[KeyInfo]
    usages: List[Usage]  # the shipped configs that show it
    tour: List[Tuple[int, str]]  # (stop, title)
    reading: List[str]  # full citations


def key_info(path: str) -> Optional[KeyInfo]:
    """The default and doc of a key path: a row of config_keys(), or ``optimizer.NAME`` / ``schedule.NAME`` /
    ``training.line_search.NAME`` / ``training.early_stopping.NAME``, an option of such a component; else None."""
    for row in config_keys():
        if row.path == path:
            return KeyInfo(path, row.default, row.doc)
    owners = {"optimizer": "optimizers", "schedule": "schedules", "training.line_search": "line-searches",
              "training.early_stopping": "early-stopping"}
    section, _, option = path.rpartition(".")
    if section in owners:
        fam = family(owners[section])
        for entry in fam.entries:
            for info in entry.options + fam.shared:
                if info.name == option:
                    return KeyInfo(path, info.default, f"{info.doc} ({entry.name}; see gdtrain list {fam.name})")
    return None


def _config_usage(stem: str) -> Usage:
    path = dict(shipped_configs())[stem]
    header = config_header(path.read_text(encoding="utf-8"))
    command = f"gdtrain {'compare-optimizers' if stem in ('compare', 'modes') else 'fit'} {stem}"
    return Usage(stem, f"configs/{stem}.yaml", (), header_summary(header), True, command)


def explain_idea(idea) -> IdeaExplanation:
    from .ideas import TOUR, citation

    keys = [key_info(path) or KeyInfo(path, None, "") for path in idea.keys]
    return IdeaExplanation(idea, keys, [_config_usage(stem) for stem in idea.configs],
                           [(n, TOUR[n]) for n in idea.tour], [citation(key, where) for key, where in idea.reading])


def explain_names(aliases: bool = False) -> List[str]:
    """What `gdtrain explain` takes: every component name, then the ideas' names (and their aliases)."""
    from . import ideas

    return every_name() + list(ideas.names(aliases))


def explain(name: str) -> List[Any]:
    """What `gdtrain explain NAME` shows: the components called NAME (Explanation) or the idea (IdeaExplanation);
    a ConfigError with the nearest name when nothing is called that."""
    from . import ideas

    matches = find(name)
    idea = ideas.find(name)
    if not matches and idea is None:
        try:
            family_name = resolve_list_name(name)
        except ConfigError:
            family_name = None
        if family_name is not None:
            raise ConfigError(f"explain: '{name}' is a list of components, not one; gdtrain list {family_name} "
                              "shows them, gdtrain explain NAME one of them")
        guess = nearest(normalize(name), explain_names(aliases=True))
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise ConfigError(f"explain: nothing called '{name}'{hint} (see gdtrain list and gdtrain list ideas; kinds: "
                          f"{', '.join(f.kind for f in families())}, idea)")
    return [_explain(fam, entry) for fam, entry in matches] + ([explain_idea(idea)] if idea is not None else [])


# --- the config's keys ------------------------------------------------------------------------------

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


def config_keys() -> List[ConfigKey]:
    """Every key of the config, in file order, with its default and doc (from config.py's dataclasses)."""
    from .config import Config

    return _key_rows(Config, "")


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
