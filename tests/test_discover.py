"""The discovery commands (issue 7): list, explain, init, validate, schema, --help examples and completion.

Everything they show is read from the registries and Option tables, so these tests compare the output with
those tables (not with copies of them). Plain output is forced with CI=true; no colour codes may appear.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gdtrain import catalog, shipped_configs
from gdtrain.activations import ACTIVATIONS
from gdtrain.cli import app
from gdtrain.config import Config, from_dict, load_config, parse_yaml, to_dict
from gdtrain.config_keys import config_keys
from gdtrain.data import DATASETS
from gdtrain.early_stopping import OPTIONS as EARLY_STOPPING_OPTIONS
from gdtrain.errors import ConfigError
from gdtrain.ideas import REFERENCES
from gdtrain.init import INITIALIZERS
from gdtrain.linesearch import LINE_SEARCHES
from gdtrain.losses import LOSSES
from gdtrain.optimizers import ALIASES, OPTIMIZERS, Adam
from gdtrain.problems import FUNCTIONS
from gdtrain.options import REQUIRED, inline
from gdtrain.schedules import COMMON_OPTIONS, SCHEDULES, Cosine

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "configs").glob("*.yaml"))
ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}


@pytest.fixture
def runner():
    return CliRunner()


def run(runner, *args, code=0, **kwargs):
    result = runner.invoke(app, [str(a) for a in args], env=ENV, **kwargs)
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "\x1b[" not in result.output, "colour codes in plain output"
    assert "Traceback" not in result.output
    return result


# --- list -------------------------------------------------------------------------------------------

REGISTRIES = {"optimizers": OPTIMIZERS, "schedules": SCHEDULES, "line-searches": LINE_SEARCHES, "losses": LOSSES,
              "activations": ACTIVATIONS, "initializers": INITIALIZERS, "datasets": DATASETS}


def test_list_without_argument_names_every_registry_entry(runner):
    out = run(runner, "list").output
    names = re.findall(r"[\w\-\[\].]+", out)
    for kind, registry in REGISTRIES.items():
        assert kind in names, kind
        for name in registry:
            assert name in names, (kind, name)
    for alias in ALIASES:
        assert alias in names
    for option in EARLY_STOPPING_OPTIONS:
        assert option in out
    for section in ("data", "model", "optimizer", "schedule", "training", "monitor"):
        assert section in names
    assert "quickstart" in names and "gdtrain explain NAME" in out


@pytest.mark.parametrize("family", list(REGISTRIES))
def test_list_family_names_every_entry(runner, family):
    out = run(runner, "list", family).output
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and line[2] != " "]
    expected = list(REGISTRIES[family]) + (list(ALIASES) if family == "optimizers" else [])
    assert [name for name in listed if name in expected] == expected


def _options_shown(out: str, name: str) -> dict:
    """The `key=value` pairs on the line under ``name``'s line, parsed as YAML ('(required)' -> REQUIRED)."""
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
    text = lines[row + 1].strip()
    shown = {}
    for key, value, required in re.findall(r"(\w+)=(\[[^\]]*\]|[^,]+)|(\w+) \(required\)", text):
        if required:
            shown[required] = REQUIRED
        else:
            shown[key] = parse_yaml(value.strip())
    return shown


def _same(shown, table):
    assert list(shown) == list(table)
    for key, option in table.items():
        if isinstance(option.default, float):
            assert shown[key] == pytest.approx(option.default, rel=1e-5), key
        else:
            assert shown[key] == option.default, key


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_list_optimizers_shows_the_option_table(runner, name):
    _same(_options_shown(run(runner, "list", "optimizers").output, name), OPTIMIZERS.get(name).OPTIONS)


@pytest.mark.parametrize("name", [n for n in SCHEDULES if SCHEDULES.get(n).OPTIONS])
def test_list_schedules_shows_the_option_table(runner, name):
    _same(_options_shown(run(runner, "list", "schedules").output, name), SCHEDULES.get(name).OPTIONS)


@pytest.mark.parametrize("name", list(LINE_SEARCHES))
def test_list_line_searches_shows_the_option_table(runner, name):
    _same(_options_shown(run(runner, "list", "line-searches").output, name), LINE_SEARCHES.get(name).options)


def test_list_values_read_as_yaml_writes_them(runner):
    out = run(runner, "list", "optimizers").output
    assert "lr=0.001, betas=[0.9, 0.999], eps=1e-08, weight_decay=0.0, amsgrad=false, eps_form=torch" in out
    assert "momentum  alias: sgd with momentum=0.9" in out
    assert "nesterov  alias: sgd with momentum=0.9, nesterov=true" in out
    assert OPTIMIZERS.get("adam").summary in out  # its record's one-line summary
    schedules = run(runner, "list", "schedule").output  # the singular works too
    assert "step_size (required), gamma=0.1" in schedules
    shared = next(line for line in schedules.splitlines() if line.startswith("  every schedule also takes: "))
    for name, option in COMMON_OPTIONS.items():
        assert f"{name}={inline(option.default)}" in shared
    for name, loss in LOSSES.items():
        assert loss.formula in run(runner, "list", "losses").output
    datasets = run(runner, "list", "datasets").output
    for name, builtin in DATASETS.items():
        assert builtin.description in datasets


def test_list_config_shows_every_key_with_its_default(runner):
    out = run(runner, "list", "config").output
    keys = [k.path for k in config_keys()]
    assert {"seed", "data.source", "model.hidden[].activation", "optimizer", "training.early_stopping",
            "compare.lr_grid"} <= set(keys)
    for key in keys:
        assert re.search(rf"(^|\s){re.escape(key)}:?(\s|$)", out, flags=re.M), key
    assert re.search(r"training\.epochs\s+100\s", out)
    assert re.search(r"data\.source\s+digits\s", out)


def test_list_unknown_family_suggests_the_nearest(runner):
    result = run(runner, "list", "optimisers", code=2)
    assert "did you mean 'optimizers'?" in result.output
    assert len(result.output.strip().splitlines()) == 1


# --- explain ----------------------------------------------------------------------------------------

def test_explain_adam_quotes_the_code(runner):
    out = run(runner, "explain", "adam").output
    assert out.startswith("adam  —  optimizer")
    assert Adam.formula in out
    assert "from gdtrain/optimizers.py\n" + "".join(f"  {line}\n" for line in Adam.rule.splitlines()) in out
    assert "eps_form: hat               θ ← θ − η_t m / (√v + ε̂),  η_t = η √(1 − β₂ᵗ)/(1 − β₁ᵗ)" in out
    assert "adamw (torch.optim.AdamW)" not in out  # adam's rule, not adamw's
    for name, option in Adam.OPTIONS.items():
        assert re.search(rf"^  {name}\s+{re.escape(inline(option.default))}\s+{re.escape(option.doc)}$",
                         out, flags=re.M), name
    assert "torch.optim.Adam" in out
    assert "optimizer: {name: adam, lr: 0.001}" in out
    usages = [line.split()[0] for line in out.split("shipped configs")[1].splitlines() if line.strip()]
    assert usages[0] == "configs/adam.yaml"  # the config about adam comes first
    assert "gdtrain fit adam" in out


def test_explain_an_alias(runner):
    out = run(runner, "explain", "momentum").output
    assert "(alias of sgd)" in out
    assert OPTIMIZERS.get("sgd").formula in out
    assert "momentum_form: textbook" in out  # sgd's rule
    assert re.search(r"^  momentum\s+0\.9\s", out, flags=re.M)  # the alias's preset as the default
    assert "torch.optim.SGD(lr=0.01, momentum=0.9)" in out  # our sgd lr differs from torch's 0.001
    assert "configs/ill_conditioned.yaml" in out  # sgd with momentum 0.9, spelt out


def test_explain_a_schedule(runner):
    out = run(runner, "explain", "cosine").output
    assert Cosine.formula in out
    assert "torch.optim.lr_scheduler.CosineAnnealingLR" in out
    assert "Warm-up (any schedule)" in out
    for name in list(Cosine.OPTIONS) + list(COMMON_OPTIONS):
        assert re.search(rf"^  {name}\s", out, flags=re.M), name
    assert "configs/cosine_warmup.yaml" in out
    step = run(runner, "explain", "step").output
    assert re.search(r"^  step_size\s+required\s", step, flags=re.M)


def test_explain_a_loss(runner):
    out = run(runner, "explain", "cross_entropy").output
    assert LOSSES.get("cross_entropy").formula in out
    assert "torch.nn.functional.cross_entropy" in out
    assert "(softmax(z) − onehot(y))/n" in out  # its row of the losses table
    assert "configs/quickstart.yaml" in out
    assert "loss: cross_entropy" in out
    mae = run(runner, "explain", "mae").output
    assert "torch.nn.functional.l1_loss" in mae and "subgradient" in mae and "configs/subgradient.yaml" in mae
    assert "torch.nn.BCEWithLogitsLoss" in run(runner, "explain", "bce").output


def test_explain_an_activation(runner):
    out = run(runner, "explain", "relu").output
    assert ACTIVATIONS.get("relu").formula in out
    assert "Backward:  δ = ∂L/∂z" in out
    assert "he_normal" in out and "kink" in out
    assert "xavier_uniform" in run(runner, "explain", "tanh").output


def test_what_list_and_explain_show_is_fields_of_the_records():
    """Nothing reads a docstring: each component's summary, rule, equivalent and references are its record's."""
    for name, cls in OPTIMIZERS.items():
        assert cls.summary and cls.formula and cls.rule.split()[0] == name, name
        assert cls.equivalent and cls.equivalent.startswith("torch.optim."), name
    for name, cls in SCHEDULES.items():
        assert cls.formula and cls.rule.split()[0] == name, name
    for name, method in LINE_SEARCHES.items():
        assert method.rule.split()[0] == name, name
    for name, loss in LOSSES.items():
        assert loss.rule.split()[0] == name and loss.equivalent.startswith("torch.nn."), name
    for name, fn in FUNCTIONS.items():
        assert fn.rule.split()[0] == name, name
    for fam in catalog.families():
        for entry in fam.entries:
            assert entry.description, (fam.name, entry.name)
            assert set(entry.references) <= set(REFERENCES), (fam.name, entry.name)
    header, row = catalog.explain("he_normal")[0].block.splitlines()  # the initializers' table, computed
    assert row.index("N(0, 2/fan_in)") == header.index("distribution") and row.endswith("relu family")


def test_explain_every_component(runner):
    for name in catalog.every_name():
        out = run(runner, "explain", name).output
        assert out.split()[0] == name
        assert "in a config" in out and "shipped configs" in out


def test_explain_forgives_case_and_dashes(runner):
    assert run(runner, "explain", "Cross-Entropy").output.startswith("cross_entropy")


@pytest.mark.parametrize("typo, meant", [("adma", "adam"), ("cosin", "cosine"), ("crossentropy", "cross_entropy"),
                                         ("rleu", "relu"), ("nesterof", "nesterov")])
def test_explain_a_misspelt_name_suggests_the_right_one(runner, typo, meant):
    result = run(runner, "explain", typo, code=2)
    assert f"did you mean '{meant}'?" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_explain_nothing_close(runner):
    result = run(runner, "explain", "xyzzy", code=2)
    assert "nothing called 'xyzzy'" in result.output and "did you mean" not in result.output
    assert "gdtrain list schedules" in run(runner, "explain", "schedules", code=2).output


# --- init -------------------------------------------------------------------------------------------

def test_init_writes_a_config_that_loads_and_trains(runner, tmp_path, monkeypatch):
    from gdtrain.experiment import fit

    monkeypatch.chdir(tmp_path)
    out = run(runner, "init").output
    path = tmp_path / "gdtrain.yaml"
    assert path.is_file()
    assert "gdtrain validate gdtrain.yaml" in out and "gdtrain fit gdtrain.yaml" in out
    text = path.read_text()
    assert text.startswith("# A gdtrain config, started from the 'quickstart' template")
    assert (REPO / "configs" / "quickstart.yaml").read_text() in text  # the template, comments and all
    config = load_config(path, overrides={"training.epochs": 1})
    assert config == load_config(REPO / "configs" / "quickstart.yaml", overrides={"training.epochs": 1})
    result = fit(config, out=str(tmp_path / "run"))
    assert result.summary["epochs"] == 1 and result.summary["stop_reason"] == "completed"


def test_init_refuses_to_overwrite(runner, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("seed: 1\n")
    result = run(runner, "init", path, code=2)
    assert "already exists" in result.output and "--force" in result.output
    assert path.read_text() == "seed: 1\n"
    run(runner, "init", path, "--force", "--template", "iris")
    assert load_config(path).data.source == "iris"


def test_init_into_a_folder_and_a_missing_folder(runner, tmp_path):
    run(runner, "init", tmp_path, "-t", "adam")
    assert load_config(tmp_path / "gdtrain.yaml").optimizer["name"] == "adam"
    result = run(runner, "init", tmp_path / "nowhere" / "x.yaml", code=2)
    assert "no such folder" in result.output


def test_every_template_validates(tmp_path):
    names = [t.name for t in shipped_configs.templates()]
    assert names[0] == "quickstart" and sorted(names) == sorted(p.stem for p in SHIPPED)
    for tpl in shipped_configs.templates():
        path = tmp_path / f"{tpl.name}.yaml"
        path.write_text(shipped_configs.starter_text(tpl, str(path)))
        assert load_config(path) == load_config(tpl.path), tpl.name
        assert tpl.description and not tpl.description.startswith("#")


def test_init_lists_templates_and_rejects_a_bad_one(runner, tmp_path):
    out = run(runner, "init", "--template", "list").output
    for path in SHIPPED:
        assert re.search(rf"^  {path.stem}\s", out, flags=re.M), path.stem
    assert run(runner, "list", "templates").output == out
    result = run(runner, "init", tmp_path / "x.yaml", "--template", "quickstrat", code=2)
    assert "did you mean 'quickstart'?" in result.output and "adam" in result.output
    assert not (tmp_path / "x.yaml").exists()


# --- validate ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_validate_prints_a_resolved_config_that_round_trips(runner, path):
    out = run(runner, "validate", path).output
    last = out.strip().splitlines()[-1]
    assert last.startswith((f"# {path} is valid: data ", f"# {path} is valid: problem "))  # (problem: 2-D functions)
    resolved = parse_yaml(out)
    assert resolved == to_dict(load_config(path))  # every default filled in
    assert from_dict(resolved) == load_config(path)


def test_validate_applies_set_and_quiet(runner):
    out = run(runner, "validate", "quickstart", "--set", "optimizer.name=adam", "--quiet").output
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quickstart is valid:") and "adam(lr=0.1)" in lines[0]


def test_validate_with_data_reports_the_splits(runner):
    out = run(runner, "validate", "iris", "--data", "-q").output
    assert re.search(r"\d+ train / \d+ validation / \d+ test, 4 features, 3 classes", out)
    assert "→ 16 tanh →" in out


def test_validate_bad_config_is_one_line_with_exit_2(runner, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("optimizer: {name: adam, lr: -0.1}\n")
    result = run(runner, "validate", path, code=2)
    assert result.output.strip() == "error: optimizer.lr: must be > 0, got -0.1"
    assert "did you mean 'training'?" in run(runner, "validate", "quickstart", "--set", "trainig.epochs=3",
                                              code=2).output


# --- schema -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    from gdtrain.schema import config_schema

    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_json_from_the_cli(runner, tmp_path):
    schema = json.loads(run(runner, "schema").output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["training"]["properties"]["epochs"]["default"] == 100
    assert props["data"]["properties"]["validation_split"]["exclusiveMaximum"] == 1
    assert props["loss"]["enum"] == list(LOSSES)
    branches = {b["title"]: b for b in props["optimizer"]["anyOf"][1]["oneOf"]}
    assert list(branches) == list(OPTIMIZERS) + list(ALIASES)
    adam = branches["adam"]["properties"]
    assert adam["lr"]["default"] == 0.001 and adam["lr"]["exclusiveMinimum"] == 0
    assert adam["betas"]["default"] == [0.9, 0.999]
    assert branches["momentum"]["properties"]["momentum"]["default"] == 0.9
    steps = {b["title"]: b for b in props["schedule"]["anyOf"][1]["oneOf"]}
    assert "step_size" in steps["step"]["required"]
    out = tmp_path / "gdtrain.schema.json"
    run(runner, "schema", "--out", out)
    assert json.loads(out.read_text()) == schema


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_schema_accepts_every_shipped_config(validator, path):
    raw = parse_yaml(path.read_text())
    assert list(validator.iter_errors(raw)) == []
    assert list(validator.iter_errors(to_dict(from_dict(raw)))) == []  # and its resolved form


def test_schema_accepts_the_defaults_and_the_shorthands(validator):
    for raw in ({}, to_dict(Config()), {"optimizer": "nesterov", "schedule": "inverse_sqrt"},
                {"model": {"hidden": [64, {"units": 8, "activation": "tanh", "init": "xavier_normal"}]}},
                {"data": None, "training": {"early_stopping": True}}, {"optimizer": {"lr": 0.1, "momentum": 0.9}},
                {"training": {"mode": "batch", "line_search": "wolfe"}},
                {"compare": {"optimizers": ["sgd", {"name": "adam", "lr": 0.003, "label": "adam-fast"}],
                             "target_metric": {"val_accuracy": 0.95}, "modes": ["batch", "sgd"]}}):
        assert list(validator.iter_errors(raw)) == [], raw
        from_dict(raw)  # the validator agrees


BAD = [
    {"trainig": {"epochs": 3}},
    {"optimizer": {"name": "adam", "lr": -0.1}},
    {"optimizer": {"name": "adam", "momentum": 0.9}},
    {"optimizer": "adma"},
    {"optimizer": {"name": "sgd", "betas": [0.9, 0.99]}},
    {"optimizer": {"name": "adam", "betas": [0.9, 1.5]}},
    {"schedule": {"name": "step"}},
    {"schedule": {"name": "cosine", "gamma": 0.5}},
    {"loss": "mse2"},
    {"model": {"hidden": [{"units": 0}]}},
    {"model": {"hidden": [{"activation": "tanh"}]}},
    {"model": {"hidden": [{"units": 8, "activation": "relu2"}]}},
    {"model": {"init": "glorot"}},
    {"data": {"validation_split": 1.5}},
    {"data": {"sourse": "iris"}},
    {"training": {"mode": "full"}},
    {"training": {"epochs": -1}},
    {"training": {"early_stopping": {"monitor": "accuracy"}}},
    {"training": {"line_search": {"name": "wolfe", "shrink": 0.5}}},
    {"dtype": "float16"},
    {"seed": "zero"},
    {"clip": {"norm": 0}},
    {"compare": {"optimizers": []}},
    {"compare": {"optimizers": [{"name": "sgd", "label": "-fast"}]}},  # a label starts with a letter or digit
]


@pytest.mark.parametrize("raw", BAD, ids=[json.dumps(b) for b in BAD])
def test_schema_rejects_what_the_validator_rejects(validator, raw):
    assert list(validator.iter_errors(raw)), raw
    with pytest.raises(ConfigError):
        from_dict(raw)


# --- help, completion, plain output -----------------------------------------------------------------

def test_every_command_has_help_with_examples(runner):
    top = run(runner, "--help").output
    assert "--install-completion" in top and "--show-completion" in top and "Examples:" in top
    commands = re.findall(r"^  ([a-z][\w-]+)  ", top.split("Commands:")[1], flags=re.M)
    assert {"fit", "list", "explain", "init", "validate", "schema"} <= set(commands)
    for command in commands:
        out = run(runner, command, "--help").output
        assert "Examples:" in out, command
        assert re.search(rf"^\s+gdtrain {command}\b", out, flags=re.M), command


@pytest.mark.parametrize("words, expected", [("gdtrain explain ad", {"adagrad", "adam", "adamw",
                                                                     "adaptive_learning_rates"}),  # (an idea)
                                             ("gdtrain list opt", {"optimizers"}),
                                             ("gdtrain init --template cos", {"cosine_warmup"})])
def test_shell_completion_of_names(runner, words, expected):
    env = {**ENV, "_GDTRAIN_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - 1)}
    result = runner.invoke(app, [], env=env, prog_name="gdtrain")
    assert result.exit_code == 0
    assert set(result.output.split()) == expected


def test_no_color_without_ci(runner):
    result = runner.invoke(app, ["explain", "adam"], env={"NO_COLOR": "1", "CI": ""})
    assert result.exit_code == 0 and "\x1b[" not in result.output
