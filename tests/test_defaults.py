"""Defaults that don't trap (issue 15): one documented default per optimizer, however the section is written,
visible in `fit`'s header, the same in `list`, `explain` and the schema; a race of untuned defaults says so."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from gdtrain import race as compare
from gdtrain.catalog import explain
from gdtrain.cli import app
from gdtrain.config import from_dict, load_config
from gdtrain.optimizers import ALIASES, OPTIMIZERS
from gdtrain.schema import config_schema

ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
# The documented learning rates (docs/optimization.md): sgd Keras's 0.01, the others torch.optim's.
DOCUMENTED_LR = {"sgd": 0.01, "adagrad": 0.01, "rmsprop": 0.01, "adam": 0.001, "adamw": 0.001,
                 "momentum": 0.01, "nesterov": 0.01}


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


def base(**sections):
    raw = {"data": {"source": "iris"}, "model": {"hidden": [{"units": 4, "activation": "tanh"}]},
           "training": {"epochs": 2, "batch_size": 16}, "monitor": {"warnings": False}}
    raw.update(sections)
    return raw


def test_documented_lr_table_is_the_code():
    assert {name: cls.OPTIONS["lr"].default for name, cls in OPTIMIZERS.items()} == {
        k: v for k, v in DOCUMENTED_LR.items() if k in OPTIMIZERS}
    assert all("lr" not in preset for _, preset in ALIASES.values())  # an alias takes its optimizer's lr


@pytest.mark.parametrize("name", sorted(DOCUMENTED_LR))
def test_omitted_bare_mapping_and_set_give_one_lr(tmp_path, name):
    """`optimizer: NAME`, `{name: NAME}`, --set optimizer=NAME and --set optimizer.name=NAME: the same lr."""
    ways = [from_dict(base(optimizer=name)), from_dict(base(optimizer={"name": name}))]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(base()))
    ways += [load_config(path, assignments=[f"optimizer={name}"]),
             load_config(path, assignments=[f"optimizer.name={name}"])]
    assert [c.optimizer["lr"] for c in ways] == [DOCUMENTED_LR[name]] * 4
    assert len({json.dumps(c.optimizer, sort_keys=True) for c in ways}) == 1


def test_omitted_section_is_bare_sgd(tmp_path):
    omitted = from_dict(base())
    assert omitted.optimizer == from_dict(base(optimizer="sgd")).optimizer
    assert omitted.optimizer["lr"] == 0.01 and omitted.optimizer["momentum"] == 0.0
    # --set of one option with the section left out: sgd with its defaults otherwise
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(base()))
    assert load_config(path, assignments=["optimizer.momentum=0.9"]).optimizer["lr"] == 0.01


@pytest.mark.parametrize("written", ["", "optimizer: sgd\n", "optimizer: {name: sgd}\n"])
def test_fit_header_shows_the_resolved_lr(tmp_path, written):
    path = tmp_path / "c.yaml"
    path.write_text("data: {source: iris}\nmodel: {hidden: [4]}\ntraining: {epochs: 1}\n" + written)
    result = invoke("fit", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("training"))
    assert header.split()[1] == "sgd(lr=0.01),"
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["optimizer"]["lr"] == 0.01


def test_list_explain_and_schema_show_the_same_defaults():
    listing = invoke("list", "optimizers")
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    for name in OPTIMIZERS:
        row = lines[next(i for i, line in enumerate(lines) if line.split()[:1] == [name]) + 1]
        assert f"lr={DOCUMENTED_LR[name]:g}," in row
    schema = config_schema()["properties"]["optimizer"]
    assert schema["default"]["lr"] == 0.01
    by_name = {s["title"]: s for s in schema["anyOf"][1]["oneOf"]}
    assert {n: s["properties"]["lr"]["default"] for n, s in by_name.items() if n in OPTIMIZERS} == {
        n: DOCUMENTED_LR[n] for n in OPTIMIZERS}
    for name, lr in DOCUMENTED_LR.items():
        ex, = explain(name)
        assert next(o.default for o in ex.options if o.name == "lr") == lr
    # torch's SGD defaults to 0.001: explain gives the torch call that matches ours exactly
    assert explain("sgd")[0].equivalent == "torch.optim.SGD(lr=0.01)"
    assert explain("momentum")[0].equivalent == "torch.optim.SGD(lr=0.01, momentum=0.9)"
    assert explain("adam")[0].equivalent == "torch.optim.Adam"


def test_contestants_named_alone_take_the_same_defaults():
    specs = compare.parse_optimizers("sgd,momentum,adam")
    assert [(s["label"], s["lr"]) for s in specs] == [("sgd", 0.01), ("momentum", 0.01), ("adam", 0.001)]
    section = from_dict(base(compare={"optimizers": ["sgd", {"name": "sgd"}, {"name": "adam", "label": "a"}]}))
    assert [s["lr"] for s in section.compare.optimizers] == [0.01, 0.01, 0.001]


def race_config(tmp_path, contestants):
    path = tmp_path / "race.yaml"
    path.write_text(yaml.safe_dump(base(compare={"optimizers": contestants})))
    return path


UNTUNED = "every lr is its optimizer's default, not tuned to this problem"


def test_race_of_untuned_defaults_says_so_and_suggests_tune_lr(tmp_path):
    result = invoke("compare-optimizers", race_config(tmp_path, ["sgd", "adam"]),
                    "--out", tmp_path / "race")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("untuned"))
    assert UNTUNED in header and "--tune-lr" in header
    assert any(line.startswith("note: ") and UNTUNED in line for line in lines)  # and again under the table
    summary = json.loads((tmp_path / "race" / "summary.json").read_text())
    assert summary["untuned_defaults"] == ["sgd", "adam"]


def test_race_names_only_the_contestants_left_at_their_default(tmp_path):
    config = from_dict(base(compare={"optimizers": [{"name": "sgd", "lr": 0.1}, "adam"]}))
    race = compare.plan(config)
    assert race.untuned_defaults == ["adam"]
    from gdtrain.render.race import untuned_note

    assert untuned_note(race).startswith("the lr of adam is its optimizer's default")


def test_race_with_chosen_or_tuned_lrs_has_no_note(tmp_path):
    chosen = from_dict(base(compare={"optimizers": [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 0.003}]}))
    assert compare.plan(chosen).untuned_defaults == []
    assert compare.plan(from_dict(base()), optimizers="sgd,adam", tune_lr=True).untuned_defaults == []
    result = invoke("compare-optimizers", race_config(tmp_path, [{"name": "sgd", "lr": 0.1}]), "--out",
                    tmp_path / "race")
    assert result.exit_code == 0, result.output
    assert "untuned" not in result.output and "--tune-lr" not in result.output
    assert json.loads((tmp_path / "race" / "summary.json").read_text())["untuned_defaults"] == []
