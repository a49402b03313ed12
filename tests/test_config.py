"""The YAML config contract (DESIGN.md §3): defaults, validation messages, YAML niceties, overrides, paths."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import yaml

from gdtrain.config import (
    Config,
    apply_override,
    dump_yaml,
    from_dict,
    load_config,
    parse_yaml,
    to_dict,
)
from gdtrain.data import load_data
from gdtrain.errors import ConfigError, GdtrainError


def config_error(raw) -> str:
    """The message of the ConfigError that ``from_dict(raw)`` raises."""
    with pytest.raises(ConfigError) as info:
        from_dict(raw)
    return str(info.value)


def write(path, text: str):
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


# --- defaults and round trip ----------------------------------------------------------------------

EXPECTED_DEFAULTS = {
    "seed": 0,
    "dtype": "float64",
    "data": {
        "source": "digits",
        "target": None,
        "labels": None,
        "test_source": None,
        "test_labels": None,
        "validation_split": 0.15,
        "test_split": 0.15,
        "standardize": True,
        "standardize_target": False,
        "n_samples": None,
        "noise": None,
    },
    "model": {
        "hidden": [{"type": "dense", "units": 64, "activation": "relu", "dropout": 0.0, "init": None,
                    "batchnorm": False, "trainable": True}],
        "output_activation": "identity",
        "freeze": [],
        "init": None,
        "init_from": None,
    },
    "loss": "cross_entropy",
    "regularization": {"l2": 0.0, "l1": 0.0},
    # torch.optim.SGD defaults for everything but lr: 0.01 (Keras's), as `optimizer: sgd` gives (issue 15)
    "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.0, "dampening": 0.0, "nesterov": False,
                  "weight_decay": 0.0, "momentum_form": "torch"},
    "schedule": {"name": "constant", "per": "epoch", "warmup_epochs": 0, "warmup_start_factor": 1 / 3},
    "clip": {"norm": None, "value": None},
    "training": {"mode": "minibatch", "batch_size": 32, "epochs": 100, "line_search": None, "keep": "last",
                 "tol_loss": None, "tol_grad": None, "tol_step": None, "patience": 5, "early_stopping": None,
                 "checkpoint_every": 1, "checkpoint_seconds": 1.0, "threads": "auto"},
    "monitor": {"warnings": True, "vanishing_ratio": 0.01, "exploding_factor": 1000.0, "dead_fraction": 0.5,
                "saturated_fraction": 0.5, "saturation_derivative": 0.01, "rising_epochs": 3,
                "rising_factor": 2.0},
    "logging": {"every": "auto", "metrics_every": 1},
    "output": None,
}


def test_empty_mapping_gives_design_defaults():
    config = from_dict({})
    assert to_dict(config) == EXPECTED_DEFAULTS
    assert config.seed == 0 and config.dtype == "float64"
    assert config.data.source == "digits"
    assert config.data.validation_split == 0.15 and config.data.test_split == 0.15
    assert config.data.standardize is True
    assert config.loss == "cross_entropy"
    assert config.regularization.l2 == 0.0
    assert config.optimizer["name"] == "sgd" and config.optimizer["lr"] == 0.01
    assert config.schedule["name"] == "constant"
    assert config.clip.norm is None and config.clip.value is None
    assert (config.training.mode, config.training.batch_size, config.training.epochs) == ("minibatch", 32, 100)


def test_null_sections_take_defaults():
    config = from_dict({"data": None, "training": None})
    assert to_dict(config) == EXPECTED_DEFAULTS


def test_defaults_are_not_shared_between_configs():
    a, b = from_dict({}), from_dict({})
    a.model.hidden.append("x")
    a.optimizer["lr"] = 5.0
    assert len(b.model.hidden) == 1 and b.optimizer["lr"] == 0.01


def test_from_dict_does_not_mutate_its_input():
    raw = {"optimizer": "momentum", "model": {"hidden": [8, {"units": 4}]}}
    before = yaml.safe_dump(raw)
    from_dict(raw)
    assert yaml.safe_dump(raw) == before


def test_default_round_trip_through_yaml():
    config = from_dict({})
    text = dump_yaml(config)
    again = from_dict(parse_yaml(text))
    assert to_dict(again) == to_dict(config) == EXPECTED_DEFAULTS
    assert again == config


def test_full_config_round_trip_through_yaml():
    raw = parse_yaml(textwrap.dedent("""
        seed: 7
        dtype: float32
        data: {source: x.csv, target: [a, b], validation_split: 0.1, test_split: 0.2, standardize: false,
               n_samples: 50, noise: 0.01}
        model: {hidden: [{units: 8, activation: tanh, dropout: 0.25, init: xavier_normal}, 4], init: he_uniform}
        loss: mse
        regularization: {l2: 1e-5}
        optimizer: {name: nesterov, lr: 3e-4, weight_decay: 1e-6}
        schedule: {name: constant, per: step}
        clip: {norm: 5}
        training: {mode: sgd, batch_size: 1, epochs: 0}
        output: runs/x
    """))
    config = from_dict(raw)
    resolved = to_dict(config)
    assert resolved["optimizer"] == {"name": "sgd", "lr": 3e-4, "momentum": 0.9, "dampening": 0.0,
                                     "nesterov": True, "weight_decay": 1e-6, "momentum_form": "torch"}
    assert resolved["model"]["hidden"][1] == {"type": "dense", "units": 4, "activation": "relu", "dropout": 0.0,
                                              "init": None, "batchnorm": False, "trainable": True}
    assert resolved["regularization"] == {"l2": 1e-5, "l1": 0.0}
    text = dump_yaml(config)
    for parse in (parse_yaml, yaml.safe_load):  # the dump is plain YAML 1.1 too
        again = from_dict(parse(text))
        assert to_dict(again) == resolved
        assert again == config


# --- unknown keys ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ({"trainig": {"epochs": 3}}, "trainig: unknown key; did you mean 'training'?"),
    ({"data": {"sorce": "iris"}}, "data.sorce: unknown key; did you mean 'source'?"),
    ({"model": {"hidden": [{"units": 3, "activaton": "tanh"}]}},
     "model.hidden[0].activaton: unknown key; did you mean 'activation'?"),
    ({"model": {"hidden": [4, {"units": 3, "dropuot": 0.1}]}},
     "model.hidden[1].dropuot: unknown key; did you mean 'dropout'?"),
    ({"regularization": {"l3": 0.1}}, "regularization.l3: unknown key; did you mean 'l2'?"),
    ({"clip": {"norms": 1.0}}, "clip.norms: unknown key; did you mean 'norm'?"),
])
def test_unknown_key_names_path_and_nearest(raw, expected):
    assert config_error(raw) == expected


def test_unknown_key_without_a_close_name_lists_valid_keys():
    message = config_error({"zzzzzz": 1})
    assert message.startswith("zzzzzz: unknown key; valid keys: ")
    assert ("clip, compare, data, dtype, logging, loss, model, monitor, optimizer, output, problem, regularization, "
            "schedule, seed, sweep, training") in message


def test_internal_fields_are_not_yaml_keys():
    assert config_error({"base_dir": "/tmp"}).startswith("base_dir: unknown key")


# --- wrong types ------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ({"seed": "x"}, "seed: must be an integer, got 'x'"),
    ({"seed": True}, "seed: must be an integer, got true"),
    ({"training": {"epochs": 1.5}}, "training.epochs: must be an integer, got 1.5"),
    ({"data": {"standardize": "yes"}}, "data.standardize: must be true or false, got 'yes'"),
    ({"optimizer": {"lr": "0.1"}}, "optimizer.lr: must be a number, got '0.1'"),
    ({"dtype": "float16"}, "dtype: must be one of float64, float32, got 'float16'"),
    ({"training": {"mode": "minibtch"}}, "training.mode: must be one of batch, sgd, minibatch, got 'minibtch'"),
    ({"data": {"source": ""}}, "data.source: must be a non-empty string, got ''"),
    ({"data": {"target": 5}}, "data.target: must be a column name or a list of column names, got 5"),
    ({"output": 5}, "output: must be a non-empty string, got 5"),
    ({"data": [1, 2]}, "data: must be a mapping of keys to values, got [1, 2]"),
    ({"optimizer": 5}, "optimizer: must be a name or a mapping like {name: ..., option: value}, got 5"),
])
def test_wrong_type_names_path(raw, expected):
    assert config_error(raw) == expected


# --- out of range -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ({"optimizer": {"lr": -0.1}}, "optimizer.lr: must be > 0, got -0.1"),
    ({"optimizer": {"name": "sgd", "lr": 0}}, "optimizer.lr: must be > 0, got 0"),
    ({"training": {"batch_size": 0}}, "training.batch_size: must be >= 1, got 0"),
    ({"training": {"epochs": -1}}, "training.epochs: must be >= 0, got -1"),
    ({"seed": -1}, "seed: must be >= 0, got -1"),
    ({"model": {"hidden": [{"units": 3, "dropout": 1.0}]}}, "model.hidden[0].dropout: must be < 1, got 1.0"),
    ({"model": {"hidden": [{"units": 0}]}}, "model.hidden[0].units: must be >= 1, got 0"),
    ({"model": {"hidden": [0]}}, "model.hidden[0].units: must be >= 1, got 0"),
    ({"clip": {"norm": -1.0}}, "clip.norm: must be > 0, got -1.0"),
    ({"clip": {"value": 0}}, "clip.value: must be > 0, got 0"),
    ({"regularization": {"l2": -0.5}}, "regularization.l2: must be >= 0, got -0.5"),
    ({"data": {"validation_split": 1.0}}, "data.validation_split: must be < 1, got 1.0"),
    ({"data": {"test_split": -0.1}}, "data.test_split: must be >= 0, got -0.1"),
    ({"data": {"n_samples": 3}}, "data.n_samples: must be >= 4, got 3"),
    ({"optimizer": {"momentum": -0.9}}, "optimizer.momentum: must be >= 0, got -0.9"),
])
def test_out_of_range_names_path(raw, expected):
    assert config_error(raw) == expected


@pytest.mark.parametrize("val, test", [(0.5, 0.5), (0.6, 0.45), (0.9, 0.3)])
def test_splits_summing_to_one_or_more(val, test):
    message = config_error({"data": {"validation_split": val, "test_split": test}})
    assert message == (f"data.validation_split: validation_split + test_split must leave training data (< 1), "
                       f"got {val:g} + {test:g}")


def test_splits_sum_is_not_checked_with_a_separate_test_source():
    config = from_dict({"data": {"source": "a.csv", "test_source": "b.csv", "validation_split": 0.5, "test_split": 0.5}})
    assert config.data.test_source == "b.csv"


def test_nan_learning_rate_is_rejected():
    with pytest.raises(ConfigError, match=r"^optimizer\.lr: "):
        from_dict(parse_yaml("optimizer: {name: sgd, lr: .nan}"))


def test_nan_split_is_a_config_error():
    with pytest.raises(GdtrainError, match=r"^data\.validation_split: "):
        config = from_dict(parse_yaml("data: {source: iris, validation_split: .nan}"))
        load_data(config, np.random.default_rng(0), "classification")


# --- unknown names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ({"loss": "crossentropy"},
     "loss: unknown loss 'crossentropy'; did you mean 'cross_entropy'? (valid: bce, cross_entropy, hinge, mae, mse)"),
    ({"model": {"hidden": [{"units": 3, "activation": "rleu"}]}},
     "model.hidden[0].activation: unknown activation 'rleu'; did you mean 'relu'? "
     "(valid: elu, identity, leaky_relu, relu, sigmoid, softplus, tanh)"),
    ({"optimizer": "sgdd"}, "optimizer.name: unknown optimizer 'sgdd'; did you mean 'sgd'?"),
    ({"optimizer": {"name": "sgdd", "lr": 0.1}}, "optimizer.name: unknown optimizer 'sgdd'; did you mean 'sgd'?"),
    ({"model": {"init": "he_norml"}}, "model.init: unknown initializer 'he_norml'; did you mean 'he_normal'?"),
    ({"model": {"hidden": [{"units": 3, "init": "xavier_unifrom"}]}},
     "model.hidden[0].init: unknown initializer 'xavier_unifrom'; did you mean 'xavier_uniform'?"),
    ({"schedule": "constnat"}, "schedule.name: unknown schedule 'constnat'; did you mean 'constant'?"),
])
def test_unknown_name_with_suggestion(raw, expected):
    message = config_error(raw)
    assert message.startswith(expected)
    assert "(valid: " in message


def test_option_the_optimizer_does_not_take():
    message = config_error({"optimizer": {"name": "sgd", "betas": [0.9, 0.99]}})
    assert message == ("optimizer.betas: optimizer 'sgd' takes no option 'betas' "
                       "(its options: lr, momentum, dampening, nesterov, weight_decay, momentum_form)")


def test_misspelt_optimizer_option_gets_a_suggestion():
    message = config_error({"optimizer": {"name": "sgd", "momentun": 0.9}})
    assert message.startswith("optimizer.momentun: optimizer 'sgd' takes no option 'momentun'; did you mean 'momentum'?")


def test_option_the_schedule_does_not_take():
    assert config_error({"schedule": {"name": "constant", "gamma": 0.5}}).startswith(
        "schedule.gamma: schedule 'constant' takes no option 'gamma'")


@pytest.mark.parametrize("optimizer", [
    {"name": "sgd", "nesterov": True},
    {"name": "sgd", "nesterov": True, "momentum": 0.0},
    {"name": "sgd", "nesterov": True, "momentum": 0.9, "dampening": 0.1},
    {"name": "nesterov", "momentum": 0},
])
def test_nesterov_needs_momentum_and_no_dampening(optimizer):
    assert config_error({"optimizer": optimizer}) == (
        "optimizer.nesterov: needs momentum > 0 and dampening 0 (as torch.optim.SGD)")


def test_clip_norm_and_value_together():
    assert config_error({"clip": {"norm": 1.0, "value": 0.5}}) == "clip: set either clip.norm or clip.value, not both"


@pytest.mark.parametrize("hidden, shown", [(5, "5"), ("relu", "'relu'"), ({"units": 3}, "{'units': 3}"), (None, "None")])
def test_hidden_must_be_a_list(hidden, shown):
    assert config_error({"model": {"hidden": hidden}}) == (
        "model.hidden: must be a list of layers like {units: 64, activation: relu}, got " + shown)


def test_layer_without_units():
    assert config_error({"model": {"hidden": [8, {"activation": "tanh"}]}}) == (
        "model.hidden[1].units: missing (how many units the layer has)")


def test_layer_that_is_not_a_mapping():
    assert config_error({"model": {"hidden": [True]}}) == "model.hidden[0]: must be a mapping of keys to values, got true"


# --- documents ----------------------------------------------------------------------------------------

def test_empty_document():
    message = config_error(None)
    assert message.startswith("config: the file is empty")


@pytest.mark.parametrize("raw, shown", [([1, 2], "[1, 2]"), ("abc", "'abc'"), (3, "3")])
def test_non_mapping_document(raw, shown):
    assert config_error(raw) == f"config: must be a mapping of keys to values, got {shown}"


def test_empty_file(tmp_path):
    path = write(tmp_path / "empty.yaml", "# only a comment\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: the file is empty; expected a mapping such as 'data: {{source: digits}}'"


def test_non_mapping_file(tmp_path):
    path = write(tmp_path / "list.yaml", "- 1\n- 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: must be a YAML mapping of keys to values, got [1, 2]"


def test_invalid_yaml_reports_line_and_column(tmp_path):
    path = write(tmp_path / "bad.yaml", "seed: 1\ntraining:\n  epochs: 3\n   batch_size: 4\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: invalid YAML (line 4, column 14): ")
    assert "mapping values are not allowed here" in message


def test_invalid_yaml_unclosed_flow_mapping():
    with pytest.raises(ConfigError) as info:
        parse_yaml("seed: 1\ndata: {source: iris\n", "c.yaml")
    assert str(info.value).startswith("c.yaml: invalid YAML (line 3, column 1): expected ',' or '}'")


def test_missing_config_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: no such config file"


def test_config_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"seed: 1\n# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: cannot read the config file (UnicodeDecodeError")


# --- YAML niceties ------------------------------------------------------------------------------------

def test_exponent_without_dot_is_a_float():
    raw = parse_yaml("optimizer: {name: sgd, lr: 1e-3}\nregularization: {l2: 5E-4}\nclip: {norm: +1e+1}\n")
    assert raw["optimizer"]["lr"] == 1e-3 and isinstance(raw["optimizer"]["lr"], float)
    assert raw["regularization"]["l2"] == 5e-4
    assert raw["clip"]["norm"] == 10.0
    config = from_dict(raw)
    assert config.optimizer["lr"] == 0.001


def test_exponent_loader_leaves_other_scalars_alone():
    raw = parse_yaml("a: [1e, e5, 12, 1.5, abc, '1e-3', .5e1]")
    assert raw["a"] == ["1e", "e5", 12, 1.5, "abc", "1e-3", 5.0]
    # and it does not change PyYAML's global SafeLoader
    assert yaml.safe_load("lr: 1e-3") == {"lr": "1e-3"}


@pytest.mark.parametrize("text, expected", [
    ("optimizer: momentum", {"name": "sgd", "momentum": 0.9, "nesterov": False}),
    ("optimizer: nesterov", {"name": "sgd", "momentum": 0.9, "nesterov": True}),
    ("optimizer: {name: momentum, momentum: 0.5, lr: 0.2}", {"name": "sgd", "momentum": 0.5, "lr": 0.2}),
    ("optimizer: {lr: 0.05}", {"name": "sgd", "momentum": 0.0, "lr": 0.05}),
])
def test_optimizer_shorthand(text, expected):
    optimizer = from_dict(parse_yaml(text)).optimizer
    assert set(optimizer) == {"name", "lr", "momentum", "dampening", "nesterov", "weight_decay", "momentum_form"}
    for key, value in expected.items():
        assert optimizer[key] == value
    assert optimizer["dampening"] == 0.0 and optimizer["weight_decay"] == 0.0


def test_schedule_string_shorthand():
    assert from_dict(parse_yaml("schedule: constant")).schedule == {
        "name": "constant", "per": "epoch", "warmup_epochs": 0, "warmup_start_factor": 1 / 3}


def test_hidden_int_shorthand():
    hidden = from_dict(parse_yaml("model: {hidden: [32, 16]}")).model.hidden
    assert [(layer.units, layer.activation, layer.dropout, layer.init) for layer in hidden] == [
        (32, "relu", 0.0, None), (16, "relu", 0.0, None)]


def test_empty_hidden_is_a_linear_model():
    assert from_dict({"model": {"hidden": []}}).model.hidden == []


# --- overrides ----------------------------------------------------------------------------------------

BASE_YAML = """
    seed: 1
    data: {source: digits}
    model:
      hidden:
        - {units: 32, activation: tanh}
        - 16
    optimizer: momentum
    training: {epochs: 10, batch_size: 8}
"""


def test_load_config_applies_overrides_and_assignments(tmp_path):
    path = write(tmp_path / "exp.yaml", BASE_YAML)
    config = load_config(path, overrides={"training.epochs": 3, "seed": 5},
                         assignments=["optimizer.lr=0.05", "model.hidden.0.units=8", "data.source=iris"])
    assert config.seed == 5
    assert config.training.epochs == 3 and config.training.batch_size == 8
    assert config.optimizer == {"name": "sgd", "lr": 0.05, "momentum": 0.9, "dampening": 0.0,
                                "nesterov": False, "weight_decay": 0.0, "momentum_form": "torch"}
    assert [(layer.units, layer.activation) for layer in config.model.hidden] == [(8, "tanh"), (16, "relu")]
    assert config.data.source == "iris"
    assert config.name == "exp" and config.base_dir == str(tmp_path)


def test_overrides_with_none_are_ignored(tmp_path):
    path = write(tmp_path / "exp.yaml", BASE_YAML)
    config = load_config(path, overrides={"training.epochs": None, "seed": None})
    assert config.training.epochs == 10 and config.seed == 1


def test_load_config_does_not_touch_the_file(tmp_path):
    path = write(tmp_path / "exp.yaml", BASE_YAML)
    before = path.read_text()
    load_config(path, assignments=["seed=9"])
    assert path.read_text() == before


def test_assignment_values_are_parsed_as_yaml(tmp_path):
    path = write(tmp_path / "exp.yaml", BASE_YAML)
    config = load_config(path, assignments=["optimizer.lr=1e-4", "data.standardize=false",
                                            "model.hidden=[4, 2]", "clip.norm=2.5"])
    assert config.optimizer["lr"] == 1e-4
    assert config.data.standardize is False
    assert [layer.units for layer in config.model.hidden] == [4, 2]
    assert config.clip.norm == 2.5


@pytest.mark.parametrize("assignment, expected", [
    ("optimizer.lr=-1", "optimizer.lr: must be > 0, got -1"),
    ("training.epochs=abc", "training.epochs: must be an integer, got 'abc'"),
    ("training.epochs=2.5", "training.epochs: must be an integer, got 2.5"),
    ("seed=", "seed: must be an integer, got None"),
    ("trainig.epochs=3", "trainig: unknown key; did you mean 'training'?"),
    ("optimizer.betas=[0.9, 0.99]", "optimizer.betas: optimizer 'sgd' takes no option 'betas'"),
    ("model.hidden.0.activation=rleu", "model.hidden[0].activation: unknown activation 'rleu'; did you mean 'relu'?"),
    ("epochs", "--set epochs: expected key.path=value"),
    ("=3", "--set =3: expected key.path=value"),
    ("training..epochs=3", "training..epochs: expected a dotted key path"),
    ("seed.x=3", "seed.x: 'seed' is not a section"),
    ("model.hidden.5.units=3", "model.hidden.5.units: 'model.hidden.5' is not a section"),
    ("model.hidden.7=3", "model.hidden.7: no list item '7'"),
    ("training.epochs=[1", "--set training.epochs: invalid YAML (line 1, column 3)"),
])
def test_bad_assignment_is_validated_like_the_file(tmp_path, assignment, expected):
    path = write(tmp_path / "exp.yaml", BASE_YAML)
    with pytest.raises(ConfigError) as info:
        load_config(path, assignments=[assignment])
    assert str(info.value).startswith(expected)


def test_bad_override_is_validated_like_the_file(tmp_path):
    path = write(tmp_path / "exp.yaml", BASE_YAML)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides={"training.epochs": -2})
    assert str(info.value) == "training.epochs: must be >= 0, got -2"


def test_apply_override_expands_string_shorthand_and_creates_sections():
    raw = {"optimizer": "momentum"}
    apply_override(raw, "optimizer.lr=0.2")
    apply_override(raw, "data.source=iris")
    assert raw == {"optimizer": {"name": "momentum", "lr": 0.2}, "data": {"source": "iris"}}
    assert from_dict(raw).optimizer["momentum"] == 0.9


def test_assignment_into_int_shorthand_layer():
    raw = parse_yaml("model: {hidden: [32, 16]}")
    apply_override(raw, "model.hidden.0.units=8")
    assert [layer.units for layer in from_dict(raw).model.hidden] == [8, 16]


# --- relative paths -------------------------------------------------------------------------------------

def test_resolve_path_falls_back_to_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "experiment"
    folder.mkdir()
    (folder / "points.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    path = write(folder / "exp.yaml", "data: {source: points.csv, validation_split: 0.2, test_split: 0.2}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    assert config.resolve_path("points.csv") == folder / "points.csv"
    # a name that exists nowhere is returned as given
    assert config.resolve_path("absent.csv").name == "absent.csv"
    assert not config.resolve_path("absent.csv").is_absolute()
    dataset = load_data(config, np.random.default_rng(0), "classification")
    assert dataset.splits == {"train": 12, "validation": 4, "test": 4}


def test_resolve_path_prefers_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "experiment"
    folder.mkdir()
    (folder / "points.csv").write_text("a,y\n1,0\n")
    (tmp_path / "points.csv").write_text("a,y\n2,1\n")
    path = write(folder / "exp.yaml", "data: {source: points.csv}\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(path)
    resolved = config.resolve_path("points.csv")
    assert resolved.read_text() == "a,y\n2,1\n"
    assert config.resolve_path(str(folder / "points.csv")) == folder / "points.csv"


def test_resolve_path_without_a_config_file_is_as_given(tmp_path):
    config = from_dict({})
    assert isinstance(config, Config) and config.base_dir is None
    assert str(config.resolve_path("some/where.csv")) == "some/where.csv"
