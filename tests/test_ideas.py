"""`gdtrain explain IDEA` (issue 15): every idea the tour teaches, from the table in gdtrain/ideas.py.

The table is checked against what it points at: its keys against the config's own tables, its configs and
commands against configs/ (each command's --set overrides validated), its tour stops against docs/tour.md,
its references against docs/references.md, its "see also" names against `gdtrain explain` itself.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gdtrain import catalog, ideas, shipped_configs
from gdtrain.cli import app
from gdtrain.config import load_config
from gdtrain.errors import ConfigError
from gdtrain.resources import find_config

REPO = Path(__file__).resolve().parents[1]
ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
TOUR_TEXT = (REPO / "docs" / "tour.md").read_text(encoding="utf-8")


def explain(*args, code=0):
    result = CliRunner().invoke(app, ["explain", *args], env=ENV)
    assert result.exit_code == code, result.output
    return result.output


def tour_sections():
    """{stop number: (title, text)} from docs/tour.md's '## N. Title' headings."""
    parts = re.split(r"^## (\d+)\. (.+)$", TOUR_TEXT, flags=re.MULTILINE)
    return {int(parts[i]): (parts[i + 1].strip(), parts[i + 2]) for i in range(1, len(parts), 3)}


def test_the_tour_table_is_docs_tour_md():
    assert {n: title for n, (title, _) in tour_sections().items()} == ideas.TOUR, \
        "docs/tour.md's stops changed: update TOUR (and the ideas' tour stops) in gdtrain/ideas.py"


def test_every_tour_stop_is_explained_by_an_idea_or_a_component():
    covered = {n for idea in ideas.IDEAS.values() for n in idea.tour}
    covered |= {n for stops in ideas.COMPONENT_TOUR.values() for n in stops}
    assert covered == set(ideas.TOUR)
    for n in ideas.TOUR:  # and each stop has an idea of its own, not only components
        assert any(n in idea.tour for idea in ideas.IDEAS.values()) or n in (6, 14), n


def test_the_ideas_the_issue_names_are_there():
    for name in ("dropout", "l2", "l1", "gradient_clipping", "early_stopping", "line_search", "training_modes",
                 "gradient_checking", "vanishing_gradients", "exploding_gradients"):
        assert ideas.find(name) is not None or catalog.find(name), name
    for alias, idea in (("batch", "training_modes"), ("SGD-mode", None), ("mini-batch", "training_modes"),
                        ("stochastic", "training_modes"), ("L2-Regularization", "l2"), ("clipping", "gradient_clipping"),
                        ("gradcheck", "gradient_checking"), ("Vanishing", "vanishing_gradients"), ("backprop",
                                                                                                 "backpropagation")):
        found = ideas.find(alias)
        assert (found.name if found else None) == idea, alias


def test_names_and_aliases_never_shadow_a_component_or_a_list():
    components = {catalog.normalize(n) for n in catalog.every_name()}
    lists = {catalog.normalize(n) for n in catalog.list_names()}
    seen = set()
    for idea in ideas.IDEAS.values():
        for name in (idea.name, *idea.aliases):
            assert name == catalog.normalize(name), name  # stored as `gdtrain explain` compares them
            assert name not in lists and name not in seen, name
            if name in components:  # l1: the penalty's idea and the 2-D test function; explain shows both
                assert name in SHARED_NAMES and name == idea.name, name
            seen.add(name)


SHARED_NAMES = {"l1"}  # an idea's name that is also a component's


def test_a_name_shared_by_an_idea_and_a_component_explains_both():
    for name in SHARED_NAMES:
        kinds = [type(item).__name__ for item in catalog.explain(name)]
        assert "IdeaExplanation" in kinds and len(kinds) >= 2, (name, kinds)


@pytest.mark.parametrize("name", list(ideas.IDEAS))
def test_explain_each_idea(name):
    idea = ideas.IDEAS[name]
    out = explain(name)
    assert out.split()[0] == name and idea.title in out
    assert idea.formula.splitlines()[0] in out and "what it does" in out
    assert idea.what.split()[0] in out and idea.what.split()[-1] in out
    for key in idea.keys:
        info = catalog.key_info(key)
        assert info is not None, f"{name}: {key} is not a config key"
        assert re.search(rf"^  {re.escape(key)}  .*{re.escape(info.doc[:30])}", out, re.MULTILINE), key
    for stem in idea.configs:
        assert f"configs/{stem}.yaml" in out
    for n in idea.tour:
        assert re.search(rf"^  tour stop {n} +docs/tour.md +{re.escape(ideas.TOUR[n])}$", out, re.MULTILINE)
    for command in idea.commands:
        assert f"try: {command}" in out
    flat = " ".join(out.split())  # (the reading is wrapped to the terminal)
    for key, where in idea.reading:
        assert ideas.citation(key, where) in flat
    assert idea.configs or idea.commands, f"{name}: nothing to run"


@pytest.mark.parametrize("name", list(ideas.IDEAS))
def test_an_ideas_configs_and_commands_run(name):
    """Each shipped config exists; each command names a real config and its --set overrides validate."""
    idea = ideas.IDEAS[name]
    shipped = dict(shipped_configs.shipped_configs())
    for stem in idea.configs:
        assert stem in shipped, stem
    for command in idea.commands:
        words = shlex.split(command)
        assert words[0] == "gdtrain", command
        verb, args = words[1], words[2:]
        if verb in ("fit", "compare-optimizers", "gradcheck") and args and not args[0].startswith("-"):
            assert args[0] in shipped, command
            assignments = [args[i + 1] for i, word in enumerate(args) if word == "--set"]
            load_config(find_config(args[0]), assignments=assignments)  # a ConfigError fails the test
            for flag in ("--modes", "--optimizers", "--bug", "--epochs"):
                if flag in args:
                    assert args.index(flag) + 1 < len(args), command
        elif verb == "explain":
            assert catalog.explain(args[0])
        elif verb == "list":
            catalog.resolve_list_name(args[0])
        elif verb == "plot":
            assert args[0].startswith("runs/") and args[0][5:] in shipped
        else:
            assert verb == "gradcheck" and not args, command


@pytest.mark.parametrize("name", list(ideas.IDEAS))
def test_an_ideas_tour_stops_show_its_configs(name):
    """A tour stop an idea names is about it: the stop's text runs one of the idea's configs."""
    idea = ideas.IDEAS[name]
    sections = tour_sections()
    stems = set(idea.configs) | {shlex.split(c)[2] for c in idea.commands if len(shlex.split(c)) > 2}
    for n in idea.tour:
        text = sections[n][1]
        assert any(re.search(rf"\b{re.escape(stem)}\b", text) for stem in stems), (name, n)


def test_see_also_names_are_explained():
    for idea in ideas.IDEAS.values():
        for other in idea.see:
            assert catalog.explain(other), (idea.name, other)


def test_component_tour_stops_and_ideas_show_in_a_components_explanation():
    for component, stops in ideas.COMPONENT_TOUR.items():
        [(fam, entry)] = catalog.find(component)
        used_by = {u.name for u in shipped_configs.usages(fam.name, entry.name)}
        for n in stops:  # the stop names the component, or runs a shipped config that uses it
            text = tour_sections()[n][1]
            runs = set(re.findall(r"gdtrain (?:fit|compare-optimizers|gradcheck) (\w+)", text))
            named = re.search(rf"\b{re.escape(component)}\b", text, re.IGNORECASE)
            assert named or runs & used_by, (component, n)
    out = explain("adam")
    assert "tour stop 6: Adam, RMSProp and AdaGrad (docs/tour.md)" in out
    assert "the idea behind it: gdtrain explain adaptive_learning_rates" in out
    assert "tour stop 14: Early stopping (docs/tour.md)" in explain("early_stopping")


def test_every_reference_is_in_docs_references_md():
    text = (REPO / "docs" / "references.md").read_text(encoding="utf-8")
    for key, citation in ideas.REFERENCES.items():
        assert citation in text, key
    used = {key for idea in ideas.IDEAS.values() for key, _ in idea.reading}
    assert used == set(ideas.REFERENCES)  # no citation is listed that no idea uses


@pytest.mark.parametrize("typo, meant", [("dropuot", "dropout"), ("vanishing_gradiants", "vanishing_gradients"),
                                         ("gradient_clippng", "gradient_clipping"), ("lerning_rate", "learning_rate"),
                                         ("gradiant_checking", "gradient_checking"), ("minibatsh", "minibatch"),
                                         ("subgradiant", "subgradient")])
def test_a_misspelt_idea_suggests_the_right_one(typo, meant):
    result = CliRunner().invoke(app, ["explain", typo], env=ENV)
    assert result.exit_code == 2
    assert f"did you mean '{meant}'?" in result.output and len(result.output.strip().splitlines()) == 1
    assert catalog.explain(meant)  # and the suggestion is itself explained


def test_an_alias_and_any_spelling_explains_the_idea():
    assert explain("L2-Regularization").split()[0] == "l2"
    assert explain("mini-batch").split()[0] == "training_modes"
    assert explain("Weight Decay").split()[0] == "l2"


def test_explain_line_search_is_the_idea_and_backtracking_the_method():
    assert explain("line_search").startswith("line_search  —  idea (tour stop 8, 17)")
    assert explain("backtracking").startswith("backtracking  —  line search")
    with pytest.raises(ConfigError, match="is a list of components"):
        catalog.explain("schedules")


def test_list_ideas_and_the_overview():
    result = CliRunner().invoke(app, ["list", "ideas"], env=ENV)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("ideas (the concepts the tour teaches)")
    assert [line.split()[0] for line in lines[1:]] == list(ideas.IDEAS)
    assert "  dropout" in result.output and "(tour 13)" in result.output
    overview = CliRunner().invoke(app, ["list"], env=ENV).output
    assert re.search(r"^ideas +gdtrain explain IDEA +gradient_descent, backpropagation, ", overview, re.MULTILINE)


def test_completion_offers_the_ideas():
    assert {"dropout", "gradient_checking", "l2", "l1"} <= set(catalog.explain_names())
