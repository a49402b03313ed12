"""The catalog: ``gdtrain list`` and ``gdtrain explain`` (what a config can name, with options, defaults and
formulas), ``gdtrain init`` (a commented starter config), ``gdtrain validate`` (the resolved config) and
``gdtrain schema`` (the JSON Schema for editors). catalog.py and schema.py read the tables the code runs on;
render/catalog.py prints them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from .common import ConfigArg, SetOpt, app, guarded, read_config

# lazy: start-up (`gdtrain --help` imports no NumPy): the library, gdtrain.render and json are imported in the
# commands; the shell-completion helpers import catalog.py only when a name is being completed


def _completer(names):
    """Shell completion for an argument: the names that start with what was typed."""

    def complete(incomplete: str):
        try:
            return [name for name in names() if name.startswith(incomplete)]
        except Exception:  # completion must never print a traceback into the shell
            return []

    return complete


def _list_names():
    from ..catalog import list_names

    return list_names()


def _component_names():
    from ..catalog import explain_names

    return explain_names()


def _template_names():
    from ..shipped_configs import templates

    return [t.name for t in templates()] + ["list"]


@app.command("list", short_help="List components with their options and defaults.")
@guarded
def list_(
    what: Annotated[Optional[str], typer.Argument(
        metavar="[WHAT]", show_default=False, autocompletion=_completer(_list_names),
        help="datasets, activations, losses, initializers, optimizers, schedules, line-searches, early-stopping, "
             "config or templates (singular works too). Without it: every family in one line each.")] = None,
):
    """List what a config can name: each component's options with their defaults and a one-line description,
    read from the same tables the code runs on.

    \b
    Examples:
      gdtrain list                  every family, one line each
      gdtrain list optimizers       names, options=defaults, descriptions (aliases marked)
      gdtrain list schedules
      gdtrain list config           every config key with its default and meaning
    """
    from .. import catalog
    from ..config_keys import config_keys
    from ..ideas import IDEAS
    from ..render.catalog import (catalog_overview, config_keys_listing, family_listing, ideas_listing,
                                  templates_listing)
    from ..render.terminal import make_console
    from ..shipped_configs import DEFAULT_TEMPLATE, templates

    console = make_console()
    if what is None:
        catalog_overview(catalog.families(), config_keys(), templates(), console)
        return
    name = catalog.resolve_list_name(what)
    if name == "ideas":
        ideas_listing(list(IDEAS.values()), console)
    elif name == "config":
        config_keys_listing(config_keys(), console)
    elif name == "templates":
        templates_listing(templates(), console, DEFAULT_TEMPLATE)
    else:
        family_listing(catalog.family(name), console)


@app.command(short_help="Formula, options and shipped configs of a component.")
@guarded
def explain(
    name: Annotated[str, typer.Argument(
        metavar="NAME", show_default=False, autocompletion=_completer(_component_names),
        help="An optimizer (or alias), schedule, line search, loss, activation, initializer or dataset, or an "
             "idea of the tour (dropout, l2, gradient_clipping, ...: gdtrain list ideas).")],
):
    """A learner's cheat sheet for one component, straight from the records the code runs on: the update rule or
    formula, its options with defaults and meanings, the PyTorch equivalent, and the shipped configs that
    use it. A misspelt name gets the nearest one (exit code 2).

    \b
    Examples:
      gdtrain explain adam          Adam's update rule, options, torch.optim.Adam, configs/adam.yaml
      gdtrain explain momentum      an alias: sgd with momentum 0.9
      gdtrain explain cosine        a schedule, with warm-up
      gdtrain explain cross_entropy
      gdtrain explain relu
      gdtrain explain dropout       an idea: formula, keys, configs and tour stops that show it
    """
    from .. import catalog
    from ..render.catalog import explanations
    from ..render.terminal import make_console

    explanations(catalog.explain(name), make_console())


@app.command(short_help="Write a commented starter config.")
@guarded
def init(
    path: Annotated[Optional[str], typer.Argument(
        metavar="[PATH]", show_default=False,
        help="Where to write the config (default: gdtrain.yaml in the current folder; a folder gets "
             "gdtrain.yaml inside it).")] = None,
    template: Annotated[str, typer.Option(
        "--template", "-t", autocompletion=_completer(_template_names),
        help="The shipped config to start from; 'list' shows them all.")] = "quickstart",
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
):
    """Write a commented starter config, copied from a shipped one, and say what to run next.

    \b
    Examples:
      gdtrain init                                  gdtrain.yaml from the quickstart template
      gdtrain init --template list                  the templates (every shipped config)
      gdtrain init --template adam experiments/adam.yaml
      gdtrain init my.yaml --force                  overwrite my.yaml
    """
    from .. import shipped_configs
    from ..render.catalog import init_done, templates_listing
    from ..render.terminal import make_console
    from ..rundir import write_file

    console = make_console()
    if template == "list":
        templates_listing(shipped_configs.templates(), console, shipped_configs.DEFAULT_TEMPLATE)
        return
    chosen = shipped_configs.template(template)
    target = Path(path if path is not None else "gdtrain.yaml")
    if target.is_dir():
        target = target / "gdtrain.yaml"
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists; choose another PATH, or pass --force to overwrite it")
    write_file(target, shipped_configs.starter_text(chosen, str(target)), error=ConfigError)
    init_done(target, chosen, console)


@app.command(short_help="Check a config and print the resolved one.")
@guarded
def validate(
    config: ConfigArg,
    set_: SetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the one-line summary.")] = False,
    data: Annotated[bool, typer.Option("--data", help="Also load the data and build the network (catches missing "
                                                      "files and bad columns; shows the splits and sizes).")] = False,
):
    """Check a config and print the resolved one: every default filled in, as YAML, ending with a one-line
    summary (a YAML comment, so the output is itself a config). A problem is one line naming the key, exit code 2.

    \b
    Examples:
      gdtrain validate gdtrain.yaml
      gdtrain validate configs/adam.yaml --set optimizer.lr=0.01 --quiet
      gdtrain validate configs/iris.yaml --data       also load the data
      gdtrain validate quickstart > resolved.yaml
    """
    from ..config import dump_yaml
    from ..render.catalog import config_summary, validation_report
    from ..render.terminal import make_console

    cfg = read_config(config, assignments=set_)
    built = None
    if data:
        from ..experiment import setup  # (the data and the network: only with --data)

        built = setup(cfg)
    console = make_console()
    validation_report(dump_yaml(cfg), config_summary(cfg, config, built), console, quiet)


@app.command(short_help="Print the JSON Schema of the config (for editors).")
@guarded
def schema(
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Write it to this file (default: stdout).")] = None,
):
    """Print the JSON Schema (draft 2020-12) of the config, generated from the validator's own tables, so
    editors can complete and check YAML configs as you type.

    \b
    Examples:
      gdtrain schema > gdtrain.schema.json
      gdtrain schema --out gdtrain.schema.json
      then, as the first line of a config (VS Code's YAML extension and others):
      # yaml-language-server: $schema=gdtrain.schema.json
    """
    import json

    from ..render.catalog import schema_written
    from ..render.terminal import can_encode_unicode, make_console
    from ..rundir import write_file
    from ..schema import config_schema

    text = json.dumps(config_schema(), indent=2, ensure_ascii=out is None and not can_encode_unicode()) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    target = Path(out)
    if target.is_dir():
        raise ConfigError(f"{out}: is a folder; --out takes a file name such as gdtrain.schema.json")
    write_file(target, text, out, ConfigError)
    schema_written(out, make_console())
