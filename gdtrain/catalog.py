"""What gdtrain offers, read from the records the code runs on: ``gdtrain list`` and ``gdtrain explain``.

Every component family keeps a ``Registry`` of records (optimizers, schedules, line searches and early
stopping also an ``Option`` table per entry), and each record carries what is said about it as fields —
formula, summary, rule, equivalent, context, references (registry.py lists them). This module turns those
records into the plain ``Family`` / ``Entry`` / ``Explanation`` records that render/catalog.py renders, so a listing
cannot drift from the code: a new optimizer, option or default shows up by itself. No docstring is read.

    families()            the component families: datasets, layers, activations, losses, initializers,
                          optimizers, schedules, line-searches, early-stopping, functions
    explain("adam")       formula, rule, options, torch equivalent, shipped configs, tour stops
    explain("dropout")    an idea of the tour (ideas.py): formula, what it does, keys, configs, tour stops, reading

The shipped configs that use a component are shipped_configs.py's; every config key with its default is
config_keys.py's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from . import early_stopping, ideas
from .activations import ACTIVATIONS
from .config import LAYER_CONFIGS
from .config_keys import config_keys
from .data import DATASETS
from .errors import ConfigError
from .init import INITIALIZERS, default_initializer
from .layers import LAYER_TYPES
from .linesearch import LINE_SEARCHES
from .losses import LOSSES
from .losses import RULE_HEADER as LOSS_RULE_HEADER
from .optimizers import ALIASES, OPTIMIZERS
from .options import REQUIRED, Option, inline
from .problems import FUNCTIONS, make_problem, resolve_problem
from .registry import nearest, unknown_name_message
from .schedules import COMMON_OPTIONS, SCHEDULES
from .shipped_configs import Usage, config_usage, usages


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
    description: str  # one line for `gdtrain list`: the summary, the formula, or Builtin.description
    options: Tuple[OptionInfo, ...] = ()
    alias_of: Optional[str] = None
    preset: Mapping[str, Any] = field(default_factory=dict)  # an alias's options that differ from the defaults
    task: Optional[str] = None  # losses and datasets: classification | regression
    formula: str = ""
    summary: str = ""  # the first line of `gdtrain explain` ('': the description)
    rule: str = ""  # the rule in full (under the family's rule_header)
    context: Tuple[str, ...] = ()  # further paragraphs about it
    equivalent: Optional[str] = None  # torch.optim.Adam, torch.optim.SGD(lr=0.01, momentum=0.9), ...
    references: Tuple[str, ...] = ()  # keys of ideas.REFERENCES


@dataclass(frozen=True)
class Family:
    """A registry as the CLI shows it: ``optimizers`` holds the entries a config names at ``optimizer``."""

    name: str  # plural, as typed after `gdtrain list`
    kind: str  # singular, as in the error messages
    key: str  # where a config names one
    entries: Tuple[Entry, ...]
    shared: Tuple[OptionInfo, ...] = ()  # options every entry takes besides its own (schedules' warm-up)
    module: str = ""  # the module that holds the records
    rule_header: str = ""  # the header of a table whose rows are the entries' rules (losses, initializers)

    def get(self, name: str) -> Entry:
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def names(self) -> List[str]:
        return [e.name for e in self.entries]


@dataclass
class Explanation:
    """Everything `gdtrain explain NAME` shows about one component."""

    family: Family
    entry: Entry
    summary: str  # one line
    formula: str
    source: str  # gdtrain/optimizers.py
    block: str  # the rule in full (under its table's header), '' when there is none
    context: List[str]  # further paragraphs that bear on it
    options: Tuple[OptionInfo, ...]
    shared: Tuple[OptionInfo, ...]
    equivalent: Optional[str]  # torch.optim.Adam, ...
    example: str  # how a config names it
    notes: List[str]
    usages: List[Usage]
    reading: List[str] = field(default_factory=list)  # full citations of its references


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


# --- the families -----------------------------------------------------------------------------------

def _options(table: Mapping[str, Option], preset: Optional[Mapping[str, Any]] = None) -> Tuple[OptionInfo, ...]:
    preset = preset or {}
    return tuple(OptionInfo(name, preset.get(name, option.default), option.doc) for name, option in table.items())


def _torch_call(cls, preset: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """The torch.optim class with the arguments it needs to match: our defaults that differ, an alias's preset."""
    args = {**{k: cls.OPTIONS[k].default for k in cls.TORCH_DEFAULTS}, **(preset or {})}
    if cls.equivalent and args:
        return cls.equivalent + "(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"
    return cls.equivalent


def _optimizers() -> Family:
    entries = [Entry(name, cls.summary, _options(cls.OPTIONS), formula=cls.formula, rule=cls.rule,
                     equivalent=_torch_call(cls), references=cls.references)
               for name, cls in OPTIMIZERS.items()]
    for alias, (base, preset) in ALIASES.items():
        cls = OPTIMIZERS.get(base)
        given = ", ".join(f"{k}={inline(v)}" for k, v in preset.items())
        description = f"{base} with {given}"
        entries.append(Entry(alias, description, _options(cls.OPTIONS, preset), alias_of=base, preset=dict(preset),
                             formula=cls.formula, summary=f"{description}  —  {cls.summary}", rule=cls.rule,
                             equivalent=_torch_call(cls, preset), references=cls.references))
    return Family("optimizers", "optimizer", "optimizer", tuple(entries), module="optimizers")


def _schedules() -> Family:
    entries = []
    for name, cls in SCHEDULES.items():
        short = f"  ({cls.equivalent.rsplit('.', 1)[-1]})" if cls.equivalent else ""
        entries.append(Entry(name, cls.formula + short, _options(cls.OPTIONS), formula=cls.formula, rule=cls.rule,
                             context=cls.context, equivalent=cls.equivalent, references=cls.references))
    return Family("schedules", "schedule", "schedule", tuple(entries), _options(COMMON_OPTIONS), "schedules")


def _line_searches() -> Family:
    entries = [Entry(name, method.formula, _options(method.options), formula=method.formula, rule=method.rule,
                     references=method.references)
               for name, method in LINE_SEARCHES.items()]
    return Family("line-searches", "line search", "training.line_search", tuple(entries), module="linesearch")


def _early_stopping() -> Family:
    entry = Entry("early_stopping", early_stopping.SUMMARY, _options(early_stopping.OPTIONS), rule=early_stopping.RULE,
                  equivalent=early_stopping.EQUIVALENT, references=early_stopping.REFERENCES)
    return Family("early-stopping", "stopping rule", "training.early_stopping", (entry,), module="early_stopping")


def _losses() -> Family:
    entries = [Entry(name, f"{loss.task}: {loss.formula}", task=loss.task, formula=loss.formula, rule=loss.rule,
                     context=loss.context, equivalent=loss.equivalent)
               for name, loss in LOSSES.items()]
    return Family("losses", "loss", "loss", tuple(entries), module="losses", rule_header=LOSS_RULE_HEADER)


def _activations() -> Family:
    entries = [Entry(name, act.formula, formula=act.formula, context=act.context) for name, act in ACTIVATIONS.items()]
    return Family("activations", "activation", "model.hidden[].activation", tuple(entries), module="activations")


def _layers() -> Family:
    entries = []
    for name, kind in LAYER_TYPES.items():
        cls = LAYER_CONFIGS[name]
        defaults = cls()
        options = tuple(OptionInfo(f.name, getattr(defaults, f.name), f.metadata.get("doc", ""))
                        for f in dataclasses.fields(cls) if f.name != "type")
        entries.append(Entry(name, f"{kind.summary}: {kind.formula}", options, formula=kind.formula,
                             references=kind.references))
    return Family("layers", "layer type", "model.hidden[].type", tuple(entries), module="layers")


def _initializers() -> Family:
    """Each initializer's rule is its row of a table of them: name, distribution, the activations it suits."""
    name_width = max(len(name) for name in INITIALIZERS) + 2
    formula_width = max(len(init.formula) for _, init in INITIALIZERS.items()) + 1
    entries = []
    for name, init in INITIALIZERS.items():
        note = f"(suits {init.suits})" if init.suits else f"({init.origin})" if init.origin else ""
        row = f"{name:<{name_width}}{init.formula:<{formula_width}}{init.suits or note}"
        entries.append(Entry(name, f"{init.formula}  {note}".strip(), formula=init.formula, rule=row.rstrip(),
                             references=init.references))
    header = f"{'name':<{name_width}}{'distribution':<{formula_width}}suits"
    return Family("initializers", "initializer", "model.init", tuple(entries), module="init", rule_header=header)


def _datasets() -> Family:
    entries = []
    for name, builtin in DATASETS.items():
        options: Tuple[OptionInfo, ...] = ()
        if builtin.generator is not None:
            options = (OptionInfo("n_samples", builtin.n_samples, "data.n_samples: number of samples"),
                       OptionInfo("noise", builtin.noise, "data.noise: noise level"))
        entries.append(Entry(name, builtin.description, options, task=builtin.task))
    return Family("datasets", "dataset", "data.source", tuple(entries), module="data/builtin")


def _functions() -> Family:
    entries = [Entry(name, f"f = {fn.formula}",
                     (OptionInfo("start", list(fn.start), "the starting point [x, y]"), *_options(fn.options)),
                     formula=fn.formula, rule=fn.rule, references=fn.references) for name, fn in FUNCTIONS.items()]
    return Family("functions", "test function", "problem.function", tuple(entries), module="problems")


_BUILDERS: Tuple[Callable[[], Family], ...] = (_datasets, _layers, _activations, _losses, _initializers, _optimizers,
                                                _schedules, _line_searches, _early_stopping, _functions)


def families() -> List[Family]:
    """Every component family, in the order a config meets them."""
    return [build() for build in _BUILDERS]


EXTRA_LISTS = ("ideas", "config", "templates")  # `gdtrain list` also shows these (not components)


def list_names() -> List[str]:
    """What `gdtrain list` accepts: the families, then ideas, config and templates."""
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


# --- explanations -----------------------------------------------------------------------------------

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
    return "; ".join(f"tour stop {n}: {ideas.TOUR[n]}" for n in stops) + " (docs/tour.md)"


def _notes(fam: Family, entry: Entry) -> List[str]:
    notes = []
    if entry.name in ideas.COMPONENT_TOUR:
        notes.append(_tour_note(ideas.COMPONENT_TOUR[entry.name]))
    behind = [idea.name for idea in ideas.IDEAS.values() if entry.name in idea.see]
    if behind:
        notes.append(f"the idea{'s' if len(behind) > 1 else ''} behind it: "
                     + ", ".join(f"gdtrain explain {name}" for name in behind))
    if entry.alias_of:
        given = ", ".join(f"{k}: {inline(v)}" for k, v in entry.preset.items())
        notes.append(f"an alias: {entry.name} is {{name: {entry.alias_of}, {given}}} (ALIASES in optimizers.py); "
                     f"every {entry.alias_of} option can still be set")
    if fam.name == "activations":
        notes.append(f"default initializer for a {entry.name} layer: {default_initializer(entry.name)}")
        if ACTIVATIONS.get(entry.name).kinks is not None:
            notes.append("not differentiable everywhere: `gdtrain gradcheck` counts perturbations that cross a "
                         "kink and leaves them out")
    if fam.name == "initializers":
        users = [a for a in ACTIVATIONS if default_initializer(a) == entry.name]
        if users:
            notes.append(f"the default for {', '.join(users)} layers (model.init: null)")
    if fam.name == "losses":
        loss = LOSSES.get(entry.name)
        if loss.owns_output:
            owned = {"scores": "the raw class scores"}.get(loss.owns_output, f"the {loss.owns_output}")
            notes.append(f"task: {loss.task}; the last layer is linear and the loss owns the output ({owned}, "
                         "fused with it), so model.output_activation stays identity")
        else:
            notes.append(f"task: {loss.task}; ŷ is the last layer's output after model.output_activation "
                         "(identity by default; sigmoid, tanh or softmax)")
    if fam.name == "functions":
        fn = FUNCTIONS.get(entry.name)
        notes.append(f"{'subgradient' if not fn.smooth else 'gradient'}: ∇f = {fn.gradient_formula} (analytic; "
                     "gdtrain gradcheck CONFIG checks it against central differences)")
        problem = make_problem(resolve_problem({"function": entry.name}))
        notes.append(f"{problem.describe_optimum()} (with the default options)")
    if fam.name == "datasets":
        builtin = DATASETS.get(entry.name)
        if builtin.generator is not None:
            notes.append(f"synthetic and seeded: {builtin.recipe}")
        else:
            notes.append(f"shipped as datasets/{entry.name}.csv (sources and licences: datasets/README.md)")
        notes.append(f"task: {builtin.task}")
    return notes


def _explain(fam: Family, entry: Entry) -> Explanation:
    block = f"{fam.rule_header}\n{entry.rule}" if entry.rule and fam.rule_header else entry.rule
    return Explanation(fam, entry, entry.summary or entry.description, entry.formula, f"gdtrain/{fam.module}.py",
                       block, list(entry.context), entry.options, fam.shared, entry.equivalent, _example(fam, entry),
                       _notes(fam, entry), usages(fam.name, entry.name),
                       [ideas.citation(key) for key in entry.references])


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


def explain_idea(idea: ideas.Idea) -> IdeaExplanation:
    keys = [key_info(path) or KeyInfo(path, None, "") for path in idea.keys]
    return IdeaExplanation(idea, keys, [config_usage(stem) for stem in idea.configs],
                           [(n, ideas.TOUR[n]) for n in idea.tour],
                           [ideas.citation(key, where) for key, where in idea.reading])


def explain_names(aliases: bool = False) -> List[str]:
    """What `gdtrain explain` takes: every component name, then the ideas' names (and their aliases)."""
    return every_name() + list(ideas.names(aliases))


def explain(name: str) -> List[Any]:
    """What `gdtrain explain NAME` shows: the components called NAME (Explanation) or the idea (IdeaExplanation);
    a ConfigError with the nearest name when nothing is called that."""
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
