"""Messages that point at the fix (issue 15): a CSV whose label column is text, caught by `validate --data` with a
suggestion of `data.target`; a component name in the wrong case (`activation: ReLU`) gets the right one."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gdtrain.cli import app
from gdtrain.config import from_dict
from gdtrain.errors import ConfigError
from gdtrain.experiment import setup
from gdtrain.registry import nearest

ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
FRUIT = ("fruit,weight,diameter\napple,150,7.5\npear,170,6.8\napple,140,7.1\npear,180,6.5\n"
         "apple,155,7.4\npear,175,6.9\napple,145,7.2\npear,165,6.6\n")


def invoke(*args, cwd=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def fruit(tmp_path):
    (tmp_path / "fruit.csv").write_text(FRUIT)
    config = tmp_path / "fruit.yaml"
    config.write_text(f"data: {{source: {tmp_path / 'fruit.csv'}}}\nmodel: {{hidden: [4]}}\ntraining: {{epochs: 2}}\n")
    return config


def test_validate_data_catches_a_text_label_column_and_suggests_data_target(fruit, tmp_path):
    """The issue's case: the labels ('fruit') are text and not the last column, so they are read as a feature."""
    line = one_error_line(invoke("validate", fruit, "--data"))
    assert "row 2, column 'fruit': not a number: 'apple'" in line
    assert "data.target: fruit" in line and "'diameter'" in line  # what to set, and what the target is now
    fit_line = one_error_line(invoke("fit", fruit, "--out", tmp_path / "run"))  # fit says the same
    assert fit_line == line
    # with the suggestion applied, both work: two classes, two features
    ok = invoke("validate", fruit, "--data", "--quiet", "--set", "data.target=fruit")
    assert ok.exit_code == 0, ok.output
    assert "2 features, 2 classes" in ok.output


def test_no_target_suggestion_when_several_columns_are_text(tmp_path):
    (tmp_path / "two.csv").write_text("fruit,colour,weight\napple,red,150\npear,green,170\napple,red,140\n"
                                      "pear,green,180\n")
    config = tmp_path / "two.yaml"
    config.write_text(f"data: {{source: {tmp_path / 'two.csv'}, validation_split: 0, test_split: 0}}\n")
    line = one_error_line(invoke("validate", config, "--data"))
    assert "column 'fruit': not a number: 'apple'" in line and "data.target" not in line


def test_an_explicit_target_is_named_in_the_suggestion(tmp_path):
    (tmp_path / "f.csv").write_text(FRUIT)
    config = tmp_path / "f.yaml"
    config.write_text(f"data: {{source: {tmp_path / 'f.csv'}, target: weight}}\nloss: mse\n")
    line = one_error_line(invoke("validate", config, "--data"))
    assert "data.target: fruit" in line and "data.target is 'weight'" in line


@pytest.mark.parametrize("given, expected", [("ReLU", "relu"), ("Tanh", "tanh"), ("SIGMOID", "sigmoid"),
                                             ("LeakyReLU", "leaky_relu"), ("relu", "relu")])
def test_nearest_ignores_case(given, expected):
    assert nearest(given, ["elu", "identity", "leaky_relu", "relu", "sigmoid", "softplus", "tanh"]) == expected


def test_activation_in_the_wrong_case_gets_a_suggestion(tmp_path):
    """The issue's case, exactly: `activation: ReLU`."""
    config = tmp_path / "c.yaml"
    config.write_text("data: {source: xor}\nloss: bce\nmodel: {hidden: [{units: 4, activation: ReLU}]}\n")
    line = one_error_line(invoke("validate", config))
    assert line.startswith("error: model.hidden[0].activation: unknown activation 'ReLU'; did you mean 'relu'?")
    assert "names are lower case" in line


@pytest.mark.parametrize("raw, message", [
    ({"loss": "MSE", "data": {"source": "sine"}}, "loss: unknown loss 'MSE'; did you mean 'mse'?"),
    ({"model": {"init": "He_Normal"}}, "model.init: unknown initializer 'He_Normal'; did you mean 'he_normal'?"),
    ({"optimizer": "Adam"}, "optimizer.name: unknown optimizer 'Adam'; did you mean 'adam'?"),
    ({"optimizer": "Momentum"}, "optimizer.name: unknown optimizer 'Momentum'; did you mean 'momentum'?"),
    ({"schedule": "Cosine"}, "schedule.name: unknown schedule 'Cosine'; did you mean 'cosine'?"),
    ({"data": {"source": "Iris"}}, "data.source: unknown dataset 'Iris'; did you mean 'iris'?"),
])
def test_every_named_component_gets_the_case_insensitive_suggestion(raw, message):
    with pytest.raises(ConfigError) as err:
        setup(from_dict(raw))  # a dataset name is checked when the data is loaded
    assert str(err.value).startswith(message)


def test_a_misspelt_alias_is_suggested_and_listed():
    with pytest.raises(ConfigError) as err:
        from_dict({"optimizer": "momentun"})
    text = str(err.value)
    assert "did you mean 'momentum'?" in text and "nesterov" in text


def test_the_starter_config_shows_how_to_point_at_a_csv_and_name_its_target(tmp_path):
    """`gdtrain init` copies configs/quickstart.yaml: its commented lines, uncommented, train on your own CSV."""
    from pathlib import Path

    from gdtrain.shipped_configs import Template, starter_text
    from gdtrain.config import load_config

    template = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
    text = starter_text(Template("quickstart", "", template), "gdtrain.yaml")
    commented = [line for line in text.splitlines() if line.lstrip().startswith(("# source:", "# target:"))]
    assert [line.split("#")[1].split(":")[0].strip() for line in commented] == ["source", "target"]
    (tmp_path / "my_data.csv").write_text(FRUIT.replace("fruit,", "label,"))
    mine = text.replace("  source: digits", "  # source: digits").replace("  # source: my_data.csv", "  source: my_data.csv")
    mine = mine.replace("  # target: label", "  target: label")
    (tmp_path / "gdtrain.yaml").write_text(mine)
    config = load_config(tmp_path / "gdtrain.yaml")
    assert config.data.source == "my_data.csv" and config.data.target == "label"
    result = invoke("validate", tmp_path / "gdtrain.yaml", "--data", "--quiet")
    assert result.exit_code == 0, result.output
    assert "my_data.csv (" in result.output and "2 features, 2 classes" in result.output  # found next to the config


def test_no_target_suggestion_for_a_typo_in_a_column_of_numbers(tmp_path):
    (tmp_path / "typo.csv").write_text("a,b,y\n1,2,0\n3,abc,1\n5,6,0\n7,8,1\n")
    config = tmp_path / "typo.yaml"
    config.write_text(f"data: {{source: {tmp_path / 'typo.csv'}, validation_split: 0, test_split: 0}}\n")
    line = one_error_line(invoke("validate", config, "--data"))
    assert line.endswith("row 3, column 'b': not a number: 'abc'")
