"""The catalog in the terminal: ``gdtrain list`` (every family in a line, or one family's entries with their
options and defaults), ``explain`` (one component's cheat sheet, or an idea of the tour), ``init`` (the templates,
the file written), ``validate`` (the resolved config and its one-line summary) and ``schema`` (the file written).

The records come from catalog.py, which reads them from the registries and Option tables the code runs on;
nothing here knows a component by name.
"""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.text import Text

from ..options import inline
from ..ideas import names as idea_names
from ..problems import make_problem
from .describe import describe_hidden, describe_network, describe_run, describe_splits


# --- list, explain, init ------------------------------------------------------------------------------------------

def option_list(options) -> str:
    """'lr=0.001, betas=[0.9, 0.999], step_size (required)': options with their defaults, as YAML writes them."""
    return ", ".join(f"{o.name} (required)" if o.required else f"{o.name}={inline(o.default)}" for o in options)


def _label(text: str, width: int) -> Text:
    return Text(f"{text:<{width}}", style="bold")


def _columns(console: Console, rows, styles=(), indent: str = "") -> None:
    """Rows of cells in aligned columns (the last one free), without a table's trailing padding."""
    rows = [[str(c) for c in row] for row in rows]
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows if len(row) > i) for i in range(max(len(r) for r in rows))]
    for row in rows:
        line = Text(indent)
        for i, cell in enumerate(row):
            last = i == len(row) - 1
            line.append(cell if last else f"{cell:<{widths[i]}}  ", style=styles[i] if i < len(styles) else None)
        console.print(line, soft_wrap=True)


def catalog_overview(families, keys, templates, console: Console) -> None:
    """`gdtrain list`: every family's names in one line each, where a config names them, and what to run next."""
    rows = [("list", "in a config", "names")]
    for fam in families:
        names = [e.name for e in fam.entries if not e.alias_of]
        aliases = [e.name for e in fam.entries if e.alias_of]
        text = ", ".join(names) + (f"; aliases {', '.join(aliases)}" if aliases else "")
        if fam.name == "early-stopping":
            text = option_list(fam.entries[0].options)
        rows.append((fam.name, fam.key, text))
    rows.append(("ideas", "gdtrain explain IDEA", ", ".join(idea_names())))
    rows.append(("config", "(every key)", ", ".join(k.path for k in keys if "." not in k.path)))
    rows.append(("templates", "gdtrain init -t NAME", ", ".join(t.name for t in templates)))
    _columns(console, rows, ("bold", "cyan"))
    console.print()
    console.print("gdtrain list WHAT: options, defaults and descriptions  ·  gdtrain explain NAME: the formula, "
                  "what each option means, the shipped configs that use it", soft_wrap=True)


def family_listing(fam, console: Console) -> None:
    """`gdtrain list optimizers`: one line per entry (name, description), its options and defaults under it."""
    width = max(len(e.name) for e in fam.entries) + 2
    how = {"optimizers": "optimizer: {name: NAME, option: value, ...}  (a bare name takes every default)",
           "schedules": "schedule: {name: NAME, option: value, ...}",
           "line-searches": "training: {mode: batch, line_search: {name: NAME, option: value, ...}}",
           "early-stopping": "training: {early_stopping: {option: value, ...}}  (or true: every default)"}
    console.print(f"{fam.name}  —  {how.get(fam.name, f'{fam.key}: NAME')}", soft_wrap=True)
    for e in fam.entries:
        line = Text("  ")
        line.append(_label(e.name, width))
        if e.alias_of:
            line.append(f"alias: {e.description}")
            console.print(line, soft_wrap=True)
            continue
        line.append(e.description)
        console.print(line, soft_wrap=True)
        if e.options:
            console.print(Text(" " * (width + 2) + option_list(e.options), style="dim"), soft_wrap=True)
    if fam.shared:
        console.print(f"  every {fam.kind} also takes: {option_list(fam.shared)}", soft_wrap=True)
    console.print()
    console.print("gdtrain explain NAME: the formula, what each option means, the shipped configs that use it",
                  soft_wrap=True)


def config_keys_listing(keys, console: Console) -> None:
    """`gdtrain list config`: every key with its default and doc (sections as headings)."""
    def shown(k) -> str:
        default = "(required)" if k.required else inline(k.default)
        return default if len(default) <= 40 else default[:37] + "..."

    width = max(len(k.path) for k in keys) + 2
    default_width = max(len(shown(k)) for k in keys if not k.section) + 2
    for k in keys:
        if k.section:
            console.print(Text(f"{k.path}:" + (f"  {k.doc}" if k.doc else ""), style="bold"), soft_wrap=True)
            continue
        line = Text(f"  {k.path:<{width}}")
        line.append(f"{shown(k):<{default_width}}", style="cyan")
        line.append(k.doc)
        console.print(line, soft_wrap=True)


def templates_listing(templates, console: Console, default: str = "") -> None:
    """`gdtrain init --template list`: the shipped configs, each with the first sentence of its header."""
    width = max(len(t.name) for t in templates) + 2
    console.print("templates (the shipped configs): gdtrain init --template NAME [PATH]")
    for t in templates:
        line = Text("  ")
        line.append(_label(t.name, width))
        line.append(t.description + ("  (default)" if t.name == default else ""))
        console.print(line, soft_wrap=True)


def _heading(console: Console, text: str) -> None:
    console.print()
    console.print(Text(text, style="bold underline"))


def _indented(console: Console, text: str, indent: str = "  ") -> None:
    for line in text.splitlines():
        console.print(indent + line if line.strip() else "", soft_wrap=True)


def explanation(ex, console: Console, max_usages: int = 8) -> None:
    """`gdtrain explain NAME`: the cheat sheet of one component, straight from the records the code runs on (catalog.py)."""
    entry, fam = ex.entry, ex.family
    title = Text(entry.name, style="bold")
    title.append(f"  —  {fam.kind}" + (f" (alias of {entry.alias_of})" if entry.alias_of else ""))
    console.print(title)
    console.print(ex.summary, soft_wrap=True)
    if ex.formula and ex.formula not in ex.summary:
        _heading(console, {"optimizers": "update rule", "line-searches": "rule"}.get(fam.name, "formula"))
        _indented(console, ex.formula)
    if ex.block or ex.context:
        _heading(console, f"from {ex.source}")
    if ex.block:
        _indented(console, ex.block)
    for i, paragraph in enumerate(ex.context):
        if i or ex.block:
            console.print()
        _indented(console, paragraph)
    if ex.options or ex.shared:
        _heading(console, "options (default)")
        rows = [(o.name, "required" if o.required else inline(o.default), o.doc) for o in ex.options]
        rows += [(o.name, inline(o.default), f"{o.doc} (every {fam.kind})") for o in ex.shared]
        _columns(console, rows, ("bold", "cyan"), indent="  ")
    _heading(console, "in a config")
    _indented(console, ex.example)
    if ex.equivalent:
        _heading(console, "equivalent")
        _indented(console, ex.equivalent)
    if ex.notes:
        _heading(console, "notes")
        for note in ex.notes:
            console.print(f"  {note}", soft_wrap=True)
    _heading(console, "shipped configs")
    if not ex.usages:
        console.print(f"  no shipped config names {entry.name}; start from one (gdtrain init) and set {fam.key}",
                      soft_wrap=True)
    _columns(console, [(u.path, ", ".join(u.keys), u.command, u.about) for u in ex.usages[:max_usages]],
             ("bold", "cyan", "dim"), indent="  ")
    if len(ex.usages) > max_usages:
        rest = ex.usages[max_usages:]
        console.print(f"  and {len(rest)} more: {', '.join(u.path for u in rest)}", soft_wrap=True)


def explanations(items, console: Console) -> None:
    for i, ex in enumerate(items):
        if i:
            console.print()
            console.rule(characters="─" if console.is_terminal else "-")
        (idea_explanation if hasattr(ex, "idea") else explanation)(ex, console)


def _paragraph(console: Console, text: str, indent: str = "  ") -> None:
    """Prose wrapped to the terminal (at most 100 columns), indented."""
    width = max(40, min(console.width, 100)) - len(indent)
    for line in textwrap.wrap(text, width, break_on_hyphens=False):
        console.print(indent + line, soft_wrap=True)


def idea_explanation(ex, console: Console) -> None:
    """`gdtrain explain IDEA`: an idea of the tour (ideas.py) — formula, what it does, keys, where to see it."""
    idea = ex.idea
    title = Text(idea.name, style="bold")
    title.append("  —  idea" + (f" (tour stop {', '.join(str(n) for n, _ in ex.tour)})" if ex.tour else ""))
    console.print(title)
    console.print(idea.title, soft_wrap=True)
    _heading(console, "formula")
    _indented(console, idea.formula)
    _heading(console, "what it does")
    _paragraph(console, idea.what)
    if ex.keys:
        _heading(console, "config keys (default)")
        _columns(console, [(k.path, inline(k.default), k.doc) for k in ex.keys], ("bold", "cyan"), indent="  ")
    _heading(console, "where to see it")
    rows = [(u.path, u.command, u.about) for u in ex.usages]
    rows += [(f"tour stop {n}", "docs/tour.md", title_) for n, title_ in ex.tour]
    if rows:
        _columns(console, rows, ("bold", "cyan", "dim"), indent="  ")
    for command in idea.commands:
        console.print(f"  try: {command}", soft_wrap=True)
    if idea.code:
        _heading(console, "in the code")
        console.print("  " + ", ".join(idea.code), soft_wrap=True)
    if idea.see:
        _heading(console, "see also")
        console.print("  " + ", ".join(f"gdtrain explain {name}" for name in idea.see), soft_wrap=True)
    if ex.reading:
        _heading(console, "further reading")
        for ref in ex.reading:
            _paragraph(console, ref, indent="  ")


def ideas_listing(ideas, console: Console) -> None:
    """`gdtrain list ideas`: each idea of the tour with its one-line title and tour stops."""
    width = max(len(idea.name) for idea in ideas) + 2
    console.print("ideas (the concepts the tour teaches): gdtrain explain IDEA")
    for idea in ideas:
        line = Text("  ")
        line.append(_label(idea.name, width))
        line.append(idea.title + (f"  (tour {', '.join(str(n) for n in idea.tour)})" if idea.tour else ""))
        console.print(line, soft_wrap=True)


def init_done(path, tpl, console: Console) -> None:
    console.print(f"wrote {path} from the '{tpl.name}' template: {tpl.description}", soft_wrap=True)
    console.print(f"next: gdtrain validate {path}    then: gdtrain fit {path}", soft_wrap=True)


# --- validate, schema ---------------------------------------------------------------------------------------------

def config_summary(config, source: str, built=None) -> str:
    """One line: what the config trains, on what, with which optimizer (sizes and splits when ``built``)."""
    if config.problem is not None:  # a 2-D test function: no data, no network
        return f"{source} is valid: problem {make_problem(config.problem).describe()}; {describe_run(config)}"
    if built is None:
        data = f"data {config.data.source}"
        network = f"network {describe_hidden(config)}, loss {config.loss}"
    else:
        data = f"data {built.data.source} ({describe_splits(built.data)})"
        network = f"network {describe_network(built.net, built.loss)} ({built.net.size} parameters)"
    return f"{source} is valid: {data}; {network}; {describe_run(config)}"


def validation_report(yaml_text: str, summary: str, console: Console, quiet: bool = False) -> None:
    """`gdtrain validate`: the resolved config (every default filled in) as YAML, the summary as its last line.

    The summary is a YAML comment, so the whole output can be saved and used as a config.
    """
    if quiet:
        console.print(summary, soft_wrap=True)
        return
    console.out(yaml_text.rstrip("\n"), highlight=False)
    console.print(f"# {summary}", soft_wrap=True)


def schema_written(path, console: Console) -> None:
    console.print(f"wrote the JSON Schema of the config to {path}; point an editor at it, e.g. with the first line "
                  f"'# yaml-language-server: $schema={path}' in a config", soft_wrap=True)
