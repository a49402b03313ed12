"""Bad input (issue 7): every broken config, data file, ``init_from``, ``--resume`` or ``--out`` gives a clear message,
the right exit code, and loses nothing.

Each case runs the real CLI (typer's CliRunner, plain output with CI=true; a few through ``python -m gdtrain``
in a subprocess) and checks that
  - the exit code is 2 (bad usage, config or data; 1 is kept for training failures and internal errors);
  - stderr holds one or two lines, the first starting with "error: ", and stdout nothing;
  - the message starts with the offending key path (config) or file (data), and says what is expected;
  - no traceback is printed, and no run directory is left behind.
tests/test_config.py, tests/test_data.py, tests/test_cli.py and tests/test_safety.py check many single
messages word for word; this file is the battery across every category, through the command line.

Decisions the cases pin down (README.md, "The config" and "The run directory"):
  - a key given twice in one YAML mapping is an error naming the key and both lines (plain YAML keeps the
    last one silently);
  - a whole float is an integer (``epochs: 3.0`` and ``epochs: 1e3`` are 3 and 1000), 2.5 is not; a boolean
    is never a number (``lr: true`` is an error, not 1);
  - a built-in dataset must get a loss of its kind (cross_entropy on diabetes, mse on digits are errors);
  - an explicit non-empty ``--out`` is refused unless ``--overwrite``; without ``--out`` a run never
    overwrites: it moves on to runs/NAME-2, -3, ...
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from gdtrain.cli import app

ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
MODEL = "model: {hidden: [3]}\ntraining: {epochs: 1}\n"


# --- helpers --------------------------------------------------------------------------------------

@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, args):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def error_message(result, code: int = 2) -> str:
    """The one error message of a refused command (its 1-2 stderr lines joined), after checking the contract."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert result.stdout == "", result.stdout
    return " ".join(lines)[len("error: "):]


def _permissions_bind() -> bool:
    """Whether a file with mode 000 is really unreadable here (not for root, unless it dropped CAP_DAC_OVERRIDE)."""
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_text("x")
        probe.chmod(0)
        try:
            probe.read_text()
        except PermissionError:
            return True
        finally:
            probe.chmod(0o600)
    return False


needs_permissions = pytest.mark.skipif(not _permissions_bind(), reason="this user reads a file whatever its mode "
                                                                       "(root)")


def csv_text(header: str, rows) -> str:
    return header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)


ROWS = [(i, (i * 7) % 5, i % 2) for i in range(20)]
GOOD_CSV = csv_text("a,b,y", ROWS)


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def idx(array, code: int = 0x08) -> bytes:
    array = np.asarray(array)
    dtype = {0x08: ">u1", 0x0D: ">f4"}[code]
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.astype(dtype).tobytes()


IMAGES = np.arange(20 * 2 * 3).reshape(20, 2, 3) % 256
LABELS = np.arange(20) % 2


@dataclass
class Case:
    """A config (YAML text; {d} is the case's folder), the files it reads, and what the error must say.

    ``starts``: the message starts with this ({d} and {config} filled in); ``contains``: fragments it holds too.
    """

    config: str
    starts: str
    contains: Tuple[str, ...] = ()
    files: Dict[str, Union[str, bytes]] = field(default_factory=dict)
    args: Tuple[str, ...] = ()


def run_case(runner, tmp_path, case: Case) -> str:
    folder = tmp_path / "case"
    folder.mkdir()
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    config = folder / "c.yaml"
    config.write_text(case.config.replace("{d}", str(folder)), encoding="utf-8")
    out = tmp_path / "out"
    message = error_message(invoke(runner, ["fit", config, "--out", out, *case.args]))
    fill = {"{d}": str(folder), "{config}": str(config)}
    expected = case.starts
    for key, value in fill.items():
        expected = expected.replace(key, value)
    assert message.startswith(expected), (message, expected)
    for fragment in case.contains:
        for key, value in fill.items():
            fragment = fragment.replace(key, value)
        assert fragment in message, (fragment, message)
    assert not out.exists()  # nothing trained, nothing written
    return message


def data_case(files, starts, *contains, extra: str = "", loss: str = "", source: str = "x.csv") -> Case:
    """A case whose config reads {d}/<source> (by default the file x.csv)."""
    config = f"data: {{source: '{{d}}/{source}'{extra}}}\n" + MODEL + (f"loss: {loss}\n" if loss else "")
    return Case(config, starts, contains, files)


# --- 1. configs -----------------------------------------------------------------------------------

CONFIG_CASES = {
    # YAML syntax, with line and column
    "yaml_bad_indent": Case("seed: 1\ntraining:\n  epochs: 3\n   batch_size: 4\n",
                            "{config}: invalid YAML (line 4, column 14): mapping values are not allowed here"),
    "yaml_unclosed_flow": Case("seed: 1\ndata: {source: iris\n", "{config}: invalid YAML (line 3, column 1)",
                               ("expected ',' or '}'",)),
    "yaml_tab_indent": Case("seed: 0\n\tdata: {source: iris}\n", "{config}: invalid YAML (line 2, column 1)",
                            ("'\\t'",)),
    "yaml_duplicate_key": Case("seed: 0\ndata: {source: iris}\nseed: 1\n",
                               "{config}: invalid YAML (line 3, column 1): duplicate key 'seed' (first on line 1)"),
    "yaml_duplicate_nested_key": Case("training:\n  epochs: 2\n  batch_size: 4\n  epochs: 3\n",
                                      "{config}: invalid YAML (line 4, column 3): duplicate key 'epochs' "
                                      "(first on line 2)"),
    "yaml_duplicate_in_flow": Case("optimizer: {name: sgd, lr: 0.1, lr: 0.2}\n",
                                   "{config}: invalid YAML (line 1, column 33): duplicate key 'lr'"),
    "yaml_bad_date": Case("output: 2001-13-45\n", "{config}: invalid YAML (line 1, column 9): cannot read "
                                                  "'2001-13-45' as timestamp"),
    "yaml_bad_explicit_int": Case("seed: !!int seven\n", "{config}: invalid YAML (line 1, column 7): cannot read "
                                                         "'seven' as int"),
    "yaml_huge_int_literal": Case("seed: " + "9" * 5000 + "\n", "{config}: invalid YAML (line 1, column 7): "
                                                                "cannot read '9999"),
    "yaml_python_tag": Case("seed: !!python/object/apply:os.system [ls]\n",
                            "{config}: invalid YAML (line 1, column 7): could not determine a constructor"),
    "yaml_unhashable_key": Case("? [a, b]\n: 1\n", "{config}: invalid YAML (line 1, column 3): found unhashable key"),
    "yaml_nested_too_deep": Case("data: " + "[" * 3000 + "]" * 3000 + "\n",
                                 "{config}: invalid YAML: nested too deeply"),
    # empty files and documents that are not a mapping
    "empty_file": Case("", "{config}: the file is empty; expected a mapping such as 'data: {source: digits}'"),
    "comments_only": Case("# nothing here\n\n", "{config}: the file is empty"),
    "explicit_null": Case("null\n", "{config}: the file is empty"),
    "yaml_list": Case("- seed: 1\n- data: {source: iris}\n", "{config}: must be a YAML mapping of keys to values, "
                                                             "got [{'seed': 1}, {'data': {'source': 'iris'}}]"),
    "yaml_scalar": Case("just some words\n", "{config}: must be a YAML mapping of keys to values, "
                                             "got 'just some words'"),
    # unknown keys at every level, with the nearest valid name
    "unknown_top_key": Case("sed: 3\n", "sed: unknown key; did you mean 'seed'?"),
    "unknown_data_key": Case("data: {source: iris, validation_splt: 0.1}\n",
                             "data.validation_splt: unknown key; did you mean 'validation_split'?"),
    "unknown_layer_key": Case("model: {hidden: [8, {unit: 4}]}\n", "model.hidden[1].unit: unknown key; "
                                                                   "did you mean 'units'?"),
    "unknown_monitor_key": Case("monitor: {warning: false}\n", "monitor.warning: unknown key; "
                                                               "did you mean 'warnings'?"),
    "unknown_compare_key": Case("compare: {optimisers: [sgd]}\n", "compare.optimisers: unknown key; "
                                                                  "did you mean 'optimizers'?"),
    "unknown_key_far_from_all": Case("zzzzzz: 1\n", "zzzzzz: unknown key; valid keys: clip, compare, data"),
    "unknown_key_not_text": Case("data: {1: 2}\n", "data.1: unknown key; valid keys: labels"),
    "unknown_key_with_line_break": Case('"trai\\nning": {}\n', "trai\\nning: unknown key"),
    "optimizer_option_typo": Case("optimizer: {name: adam, betas1: 0.9}\n",
                                  "optimizer.betas1: optimizer 'adam' takes no option 'betas1'; did you mean 'betas'?"),
    "schedule_option_typo": Case("schedule: {name: step, step_siz: 2}\n",
                                 "schedule.step_siz: schedule 'step' takes no option 'step_siz'; "
                                 "did you mean 'step_size'?"),
    "line_search_option_typo": Case("training: {mode: batch, line_search: {name: backtracking, shrnk: 0.5}}\n",
                                    "training.line_search.shrnk: line search 'backtracking' takes no option 'shrnk'"),
    "early_stopping_option_typo": Case("training: {early_stopping: {patiance: 3}}\n",
                                       "training.early_stopping.patiance: early stopping takes no option "
                                       "'patiance'; did you mean 'patience'?"),
    "contestant_option_typo": Case("compare: {optimizers: [{name: adam, lrr: 0.01}]}\n",
                                   "compare.optimizers[0].lrr: optimizer 'adam' takes no option 'lrr'; "
                                   "did you mean 'lr'?"),
    # wrong types
    "bool_for_number": Case("optimizer: {name: sgd, lr: true}\n", "optimizer.lr: must be a number, got true"),
    "yes_for_integer": Case("training: {batch_size: yes}\n", "training.batch_size: must be an integer, got true"),
    "quoted_number": Case("regularization: {l2: '0.01'}\n", "regularization.l2: must be a number, got '0.01'"),
    "nan_number": Case("optimizer: {name: sgd, lr: .nan}\n", "optimizer.lr: must be a finite number, got nan"),
    "inf_number": Case("clip: {norm: .inf}\n", "clip.norm: must be a finite number, got inf"),
    "overflowing_float": Case("optimizer: {name: sgd, lr: 1e400}\n", "optimizer.lr: must be a finite number, got inf"),
    "huge_integer_for_float": Case("optimizer: {lr: " + "1" * 400 + "}\n",
                                   "optimizer.lr: must be a finite number, got an integer of about 400 digits"),
    "fractional_epochs": Case("training: {epochs: 2.5}\n", "training.epochs: must be an integer, got 2.5"),
    "infinite_epochs": Case("training: {epochs: .inf}\n", "training.epochs: must be an integer, got inf"),
    "string_seed": Case("seed: abc\n", "seed: must be an integer, got 'abc'"),
    "list_for_section": Case("training: [1, 2]\n", "training: must be a mapping of keys to values, got [1, 2]"),
    "mapping_for_name": Case("loss: {name: mse}\n", "loss: must be a non-empty string, got {'name': 'mse'}"),
    "float16_dtype": Case("dtype: float16\n", "dtype: must be one of float64, float32, got 'float16'"),
    "null_layer": Case("model: {hidden: [null]}\n", "model.hidden[0].units: missing (how many units the layer has)"),
    "empty_layer": Case("model:\n  hidden:\n    -\n", "model.hidden[0].units: missing"),
    "string_layer": Case("model: {hidden: ['64']}\n", "model.hidden[0]: must be a mapping of keys to values, "
                                                      "got '64'"),
    "hidden_not_a_list": Case("model: {hidden: 64 relu}\n", "model.hidden: must be a list of layers"),
    "betas_not_a_pair": Case("optimizer: {name: adam, betas: 0.9}\n",
                             "optimizer.betas: must be a list of two numbers, got 0.9"),
    "schedule_option_type": Case("schedule: {name: step, step_size: two}\n",
                                 "schedule.step_size: must be an integer, got 'two'"),
    "schedule_milestones_order": Case("schedule: {name: multistep, milestones: [5, 3]}\n",
                                      "schedule.milestones: must be increasing integers >= 1, got [5, 3]"),
    "schedule_not_a_mapping": Case("schedule: [step]\n", "schedule: must be a name or a mapping"),
    "early_stopping_string": Case("training: {early_stopping: val_loss}\n",
                                  "training.early_stopping: must be a mapping like {monitor: val_loss, patience: 10} "
                                  "(or true / null), got 'val_loss'"),
    "path_with_line_break": Case('data: {source: "a\\nb.csv"}\n', "data.source: must be one line of printable text, "
                                                                 "got 'a\\nb.csv'"),
    "output_not_text": Case("output: 5\n", "output: must be a non-empty string, got 5"),
    "target_not_text": Case("data: {target: 5}\n", "data.target: must be a column name or a list of column names"),
    # out of range
    "lr_zero": Case("optimizer: {name: sgd, lr: 0}\n", "optimizer.lr: must be > 0, got 0"),
    "lr_negative": Case("optimizer: {name: adam, lr: -1e-3}\n", "optimizer.lr: must be > 0, got -0.001"),
    "batch_size_zero": Case("training: {batch_size: 0}\n", "training.batch_size: must be >= 1, got 0"),
    "epochs_negative": Case("training: {epochs: -1}\n", "training.epochs: must be >= 0, got -1"),
    "dropout_one": Case("model: {hidden: [{units: 4, dropout: 1}]}\n", "model.hidden[0].dropout: must be < 1, got 1"),
    "dropout_negative": Case("model: {hidden: [{units: 4, dropout: -0.1}]}\n",
                             "model.hidden[0].dropout: must be >= 0, got -0.1"),
    "splits_leave_no_training": Case("data: {validation_split: 0.6, test_split: 0.5}\n",
                                     "data.validation_split: validation_split + test_split must leave training data "
                                     "(< 1), got 0.6 + 0.5"),
    "validation_split_one": Case("data: {validation_split: 1.0}\n", "data.validation_split: must be < 1, got 1.0"),
    "clip_norm_negative": Case("clip: {norm: -1}\n", "clip.norm: must be > 0, got -1"),
    "clip_value_zero": Case("clip: {value: 0}\n", "clip.value: must be > 0, got 0"),
    "l1_negative": Case("regularization: {l1: -0.5}\n", "regularization.l1: must be >= 0, got -0.5"),
    "seed_negative": Case("seed: -3\n", "seed: must be >= 0, got -3"),
    "units_zero": Case("model: {hidden: [0]}\n", "model.hidden[0].units: must be >= 1, got 0"),
    "units_huge": Case("model: {hidden: [100000000000000]}\n", "model.hidden[0].units: must be <= 100000"),
    "hidden_weights_huge": Case("model: {hidden: [100000, 100000]}\n", "model.hidden: 10,000,000,000 weights between "
                                                                       "the hidden layers; at most 100,000,000"),
    "n_samples_small": Case("data: {source: xor, n_samples: 3}\n", "data.n_samples: must be >= 4, got 3"),
    "n_samples_huge": Case("data: {source: xor, n_samples: 100000000000000}\n",
                           "data.n_samples: must be <= 10000000, got 100000000000000"),
    "betas_one": Case("optimizer: {name: adam, betas: [0.9, 1.0]}\n",
                      "optimizer.betas: must be two numbers in [0, 1), got [0.9, 1.0]"),
    "patience_zero": Case("training: {patience: 0}\n", "training.patience: must be >= 1, got 0"),
    "logging_every_zero": Case("logging: {every: 0}\n", "logging.every: must be auto or an integer >= 1, got 0"),
    "logging_every_word": Case("logging: {every: often}\n",
                               "logging.every: must be auto or an integer >= 1, got 'often'"),
    "metrics_every_zero": Case("logging: {metrics_every: 0}\n", "logging.metrics_every: must be >= 1, got 0"),
    "gamma_zero": Case("schedule: {name: exponential, gamma: 0}\n", "schedule.gamma: must be > 0, got 0"),
    # unknown names, with the nearest one
    "unknown_dataset": Case("data: {source: irsi}\n", "data.source: unknown dataset 'irsi'; did you mean 'iris'?",
                            ("and no such file",)),
    "unknown_activation": Case("model: {hidden: [{units: 4, activation: rleu}]}\n",
                               "model.hidden[0].activation: unknown activation 'rleu'; did you mean 'relu'?"),
    "unknown_loss": Case("loss: crossentropy\n", "loss: unknown loss 'crossentropy'; did you mean 'cross_entropy'?"),
    "unknown_optimizer": Case("optimizer: adma\n", "optimizer.name: unknown optimizer 'adma'; did you mean 'adam'?"),
    "unknown_schedule": Case("schedule: {name: cosin}\n", "schedule.name: unknown schedule 'cosin'; "
                                                          "did you mean 'cosine'?"),
    "unknown_initializer": Case("model: {init: he_norml}\n", "model.init: unknown initializer 'he_norml'; "
                                                             "did you mean 'he_normal'?"),
    "unknown_line_search": Case("training: {mode: batch, line_search: wolf}\n",
                                "training.line_search.name: unknown line search 'wolf'; did you mean 'wolfe'?"),
    "unknown_monitor": Case("training: {early_stopping: {monitor: val_acc}}\n",
                            "training.early_stopping.monitor: must be one of val_loss"),
    "unknown_mode": Case("training: {mode: full_batch}\n", "training.mode: must be one of batch, sgd, minibatch"),
    "unknown_contestant": Case("compare: {optimizers: [sgd, adma]}\n",
                               "compare.optimizers[1].name: unknown optimizer 'adma'; did you mean 'adam'?"),
    # options the chosen component does not take
    "sgd_has_no_betas": Case("optimizer: {name: sgd, betas: [0.9, 0.99]}\n",
                             "optimizer.betas: optimizer 'sgd' takes no option 'betas' (its options: lr, momentum"),
    "constant_has_no_gamma": Case("schedule: {name: constant, gamma: 0.5}\n",
                                  "schedule.gamma: schedule 'constant' takes no option 'gamma'"),
    "step_needs_step_size": Case("schedule: step\n", "schedule.step_size: missing; schedule 'step' needs it"),
    # combinations that make no sense
    "line_search_with_minibatches": Case("training: {line_search: backtracking}\n",
                                         "training.line_search: needs training.mode: batch, got minibatch"),
    "line_search_with_momentum": Case("optimizer: momentum\ntraining: {mode: batch, line_search: backtracking}\n",
                                      "training.line_search: steps along −∇J itself, so the optimizer must be plain "
                                      "sgd"),
    "line_search_with_dropout": Case("model: {hidden: [{units: 4, dropout: 0.5}]}\n"
                                     "training: {mode: batch, line_search: backtracking}\n",
                                     "model.hidden[0].dropout: a line search needs a deterministic objective"),
    "wolfe_c2_below_c1": Case("training: {mode: batch, line_search: {name: wolfe, c1: 0.5, c2: 0.4}}\n",
                              "training.line_search.c2: must be greater than c1 (0.5), got 0.4"),
    "clip_norm_and_value": Case("clip: {norm: 1.0, value: 0.5}\n",
                                "clip: set either clip.norm or clip.value, not both"),
    "nesterov_without_momentum": Case("optimizer: {name: sgd, nesterov: true}\n",
                                      "optimizer.nesterov: needs momentum > 0 and dampening 0"),
    "bce_with_three_classes": Case("data: {source: iris}\nloss: bce\n" + MODEL,
                                   "loss: bce is for two classes, the data has 3; use cross_entropy"),
    "cross_entropy_on_regression_dataset": Case("data: {source: diabetes}\nloss: cross_entropy\n" + MODEL,
                                                "loss: cross_entropy is a classification loss, but diabetes is a "
                                                "regression dataset; use mse or mae"),
    "mse_on_classification_dataset": Case("data: {source: digits}\nloss: mse\n" + MODEL,
                                          "loss: mse is a regression loss, but digits is a classification dataset"),
    "hinge_on_sine": Case("data: {source: sine}\nloss: hinge\n" + MODEL,
                          "loss: hinge is a classification loss, but sine is a regression dataset"),
    "plateau_without_validation": Case("data: {source: iris, validation_split: 0}\nschedule: plateau\n",
                                       "schedule.monitor: val_loss needs validation data (data.validation_split > 0)"),
    "plateau_per_step": Case("schedule: {name: plateau, per: step}\n",
                             "schedule.per: plateau watches an epoch's metrics, so it can only step per epoch"),
    "early_stopping_monitor_of_other_task": Case("training: {early_stopping: {monitor: val_r2}}\n",
                                                 "training.early_stopping.monitor: val_r2 needs a regression loss, "
                                                 "got loss cross_entropy; use val_accuracy"),
    "early_stopping_without_validation": Case("data: {validation_split: 0}\ntraining: {early_stopping: true}\n",
                                              "training.early_stopping.monitor: val_loss needs validation data"),
    "n_samples_for_a_shipped_dataset": Case("data: {source: iris, n_samples: 50}\n" + MODEL,
                                            "data.n_samples: only the synthetic datasets (xor, spirals, moons, blobs, "
                                            "sine) take it, not iris; remove data.n_samples"),
    "target_on_synthetic_dataset": Case("data: {source: xor, target: y}\n" + MODEL,
                                        "data.target: xor is a synthetic dataset with one target; remove data.target"),
    # layers (issue: layers)
    "unknown_layer_type": Case("model: {hidden: [{type: batchnrom}]}\n",
                               "model.hidden[0].type: unknown layer type 'batchnrom'; did you mean 'batchnorm'?"),
    "residual_widths_differ": Case("data: {source: iris}\nmodel: {hidden: [8, {type: residual, hidden: [4]}]}\n",
                                   "model.hidden[1]: the residual block ends at width 4 but its input has width 8",
                                   ("projection: true",)),
    "residual_widths_differ_nested": Case(
        "data: {source: iris}\nmodel: {hidden: [8, {type: residual, hidden: [{type: residual, hidden: [3]}]}]}\n",
        "model.hidden[1].hidden[0]: the residual block ends at width 3 but its input has width 8"),
    "residual_without_layers": Case("model: {hidden: [{type: residual, hidden: []}]}\n",
                                    "model.hidden[0].hidden: must list at least one layer"),
    "batchnorm_option_of_dense": Case("model: {hidden: [{type: batchnorm, units: 4}]}\n",
                                      "model.hidden[0].units: unknown key"),
    "freeze_unknown_tensor": Case("data: {source: iris}\nmodel: {hidden: [4], freeze: [b3]}\n",
                                  "model.freeze: 'b3' is not a tensor of this network; its parameter tensors are "
                                  "W1, b1, W2, b2"),
    "freeze_running_statistics": Case("data: {source: iris}\nmodel: {hidden: [4, {type: batchnorm}], "
                                      "freeze: [running_var1]}\n",
                                      "model.freeze: 'running_var1' is batch-norm state, which is never trained"),
    "output_activation_owned_by_the_loss": Case("model: {output_activation: softmax}\n",
                                                "model.output_activation: softmax cannot be used with loss "
                                                "cross_entropy, which owns the output"),
    "output_activation_owned_by_hinge": Case("model: {output_activation: sigmoid}\nloss: hinge\n",
                                             "model.output_activation: sigmoid cannot be used with loss hinge"),
    "unknown_output_activation": Case("model: {output_activation: relu}\n",
                                      "model.output_activation: must be one of identity, sigmoid, tanh, softmax"),
    "batchnorm_with_sgd": Case("data: {source: iris}\nmodel: {hidden: [4, {type: batchnorm}]}\n"
                               "training: {mode: sgd}\n",
                               "training.mode: sgd trains on batches of 1 sample, and batch normalization in "
                               "training needs at least 2 per batch"),
    "batchnorm_last_batch_of_one": Case("data: {source: iris, validation_split: 0, test_split: 0}\n"
                                        "model: {hidden: [4, {type: batchnorm}]}\ntraining: {batch_size: 149}\n",
                                        "training.batch_size: 149 leaves a last batch of 1 sample (150 training "
                                        "samples)"),
    "batchnorm_with_line_search": Case("model: {hidden: [4, {type: batchnorm}]}\n"
                                       "training: {mode: batch, line_search: backtracking}\n",
                                       "training.line_search: evaluates the objective without training mode"),
    "init_from_inline_unknown_tensor": Case("data: {source: iris}\nmodel: {hidden: [4], init_from: {W7: [1]}}\n",
                                            "model.init_from.W7: not a tensor of this network"),
    "init_from_inline_ragged": Case("data: {source: iris}\nmodel: {hidden: [4], init_from: {W1: [[1, 2], [3]]}}\n",
                                    "model.init_from.W1: rows of different lengths"),
    "init_from_inline_wrong_shape": Case("data: {source: iris}\nmodel: {hidden: [4], init_from: {W1: [1, 2]}}\n",
                                         "model.init_from: W1 has shape (2,), the network needs (4, 4)"),
    "one_sample_with_a_validation_split": Case("data: {source: backprop_by_hand, target: [y1, y2]}\nloss: mse\n",
                                               "backprop_by_hand: needs at least 2 samples, got 1"),
    # the compare section
    "compare_empty_optimizers": Case("compare: {optimizers: []}\n", "compare.optimizers: must be a non-empty list"),
    "compare_seeds_zero": Case("compare: {seeds: 0}\n", "compare.seeds: must be >= 1, got 0"),
    "compare_unknown_mode": Case("compare: {modes: [batch, full]}\n", "compare.modes: unknown mode 'full'"),
    "compare_duplicate_labels": Case("compare: {optimizers: [{name: sgd, label: a}, {name: adam, label: a}]}\n",
                                     "compare.optimizers[1].label: 'a' is used twice"),
    "compare_label_with_newline": Case('compare: {optimizers: [{name: sgd, label: "fast\\n"}]}\n',
                                       "compare.optimizers[0].label: must be a name of at most 40 letters"),
    "compare_reserved_label": Case("compare: {optimizers: [{name: sgd, label: tuning}]}\n",
                                   "compare.optimizers[0].label: 'tuning' is reserved"),
    "compare_bad_lr_grid": Case("compare: {lr_grid: [0.1, -1]}\n", "compare.lr_grid: must be a non-empty list of "
                                                                   "numbers > 0"),
    "compare_two_target_metrics": Case("compare: {target_metric: {val_accuracy: 0.9, val_loss: 0.1}}\n",
                                       "compare.target_metric: must be one metric and its target"),
    "compare_unknown_target_metric": Case("compare: {target_metric: {val_acc: 0.9}}\n",
                                          "compare.target_metric: unknown target metric 'val_acc'; "
                                          "did you mean 'val_accuracy'?"),
}


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_bad_config(runner, tmp_path, name):
    run_case(runner, tmp_path, CONFIG_CASES[name])


@pytest.mark.parametrize("override, expected", [
    ("optimizer.lr=-1", "optimizer.lr: must be > 0, got -1"),
    ("training.epochs=1.5", "training.epochs: must be an integer, got 1.5"),
    ("model.hidden.0.activation=rleu", "model.hidden[0].activation: unknown activation 'rleu'"),
    ("optimizer.momentun=0.9", "optimizer.momentun: optimizer 'sgd' takes no option 'momentun'"),
    ("data.source=[1", "--set data.source: invalid YAML (line 1, column 3)"),
    ("data={a: 1, a: 2}", "--set data: invalid YAML (line 1, column 8): duplicate key 'a'"),
])
def test_bad_override_is_checked_like_the_file(runner, tmp_path, override, expected):
    config = tmp_path / "c.yaml"
    config.write_text("data: {source: iris}\n" + MODEL)
    message = error_message(invoke(runner, ["fit", config, "--set", override, "--out", tmp_path / "out"]))
    assert message.startswith(expected), message
    assert not (tmp_path / "out").exists()


def test_config_that_is_a_directory(runner, tmp_path):
    assert error_message(invoke(runner, ["fit", tmp_path])) == f"{tmp_path}: is a directory, expected a YAML config file"


def test_config_that_is_not_utf8(runner, tmp_path):
    config = tmp_path / "latin1.yaml"
    config.write_bytes(b"seed: 1\n# caf\xe9\n")
    assert error_message(invoke(runner, ["fit", config])).startswith(
        f"{config}: cannot read the config file (UnicodeDecodeError: not UTF-8 text, invalid continuation byte at "
        "byte 13)")


@needs_permissions
def test_config_without_read_permission(runner, tmp_path):
    config = tmp_path / "secret.yaml"
    config.write_text("seed: 1\n")
    config.chmod(0)
    try:
        assert error_message(invoke(runner, ["fit", config])) == (
            f"{config}: cannot read the config file (Permission denied)")
    finally:
        config.chmod(0o644)


# --- 2. data files --------------------------------------------------------------------------------

DATA_CASES = {
    # missing, unreadable or of an unknown kind
    "missing_file": data_case({}, "{d}/x.csv: no such file"),
    "unknown_extension": data_case({"x.xlsx": "a,y\n1,0\n"}, "{d}/x.xlsx: unknown file type '.xlsx'; expected .csv, "
                                   ".npz or MNIST .idx/-ubyte (optionally .gz)", source="x.xlsx"),
    "directory": data_case({"x.csv/placeholder": ""}, "{d}/x.csv: is a directory, expected a data file"),
    "directory_without_extension": data_case({"folder/placeholder": ""},
                                             "{d}/folder: is a directory, expected a data file", source="folder"),
    # CSV
    "empty_csv": data_case({"x.csv": ""}, "{d}/x.csv: the file is empty; expected a header row and data rows"),
    "blank_lines_only": data_case({"x.csv": "\n \n\n"}, "{d}/x.csv: the file is empty"),
    "header_only": data_case({"x.csv": "a,b,y\n"}, "{d}/x.csv: has a header but no data rows"),
    "ragged_short_row": data_case({"x.csv": GOOD_CSV + "1,2\n"}, "{d}/x.csv: row 22 has 2 fields, the header has 3"),
    "ragged_long_row": data_case({"x.csv": "a,b,y\n1,2,0,9\n" + GOOD_CSV[6:]},
                                 "{d}/x.csv: row 2 has 4 fields, the header has 3"),
    "unterminated_quote": data_case({"x.csv": 'a,b,y\n"1,2,0\n' + GOOD_CSV[6:]}, "{d}/x.csv: row 22 has 1 fields"),
    "non_numeric_feature": data_case({"x.csv": GOOD_CSV + "1,abc,0\n"},
                                     "{d}/x.csv: row 22, column 'b': not a number: 'abc'"),
    "empty_feature_cell": data_case({"x.csv": GOOD_CSV + ",3,1\n"}, "{d}/x.csv: row 22, column 'a': not a number: ''"),
    "multiline_cell": data_case({"x.csv": 'a,b,y\n"1\n2",3,0\n' + GOOD_CSV[6:]},
                                "{d}/x.csv: row 3, column 'a': not a number: '1\\n2'"),
    "nan_feature": data_case({"x.csv": GOOD_CSV + "nan,3,1\n"},
                             "{d}/x.csv: row 22, column 'a': nan (features must be finite numbers)"),
    "inf_feature": data_case({"x.csv": GOOD_CSV + "1,-inf,1\n"},
                             "{d}/x.csv: row 22, column 'b': -inf (features must be finite numbers)"),
    "overflowing_feature": data_case({"x.csv": GOOD_CSV + "1e999,3,1\n"},
                                     "{d}/x.csv: row 22, column 'a': inf (features must be finite numbers)"),
    "all_nan_column": data_case({"x.csv": csv_text("a,b,y", [(i, "NaN", i % 2) for i in range(20)])},
                                "{d}/x.csv: row 2, column 'b': nan"),
    "missing_target_column": data_case({"x.csv": GOOD_CSV}, "{d}/x.csv: no target column 'label' (columns: a, b, y)",
                                       extra=", target: label"),
    "target_is_the_only_column": data_case({"x.csv": "y\n0\n1\n"},
                                           "{d}/x.csv: no feature columns besides the target"),
    "repeated_column_name": data_case({"x.csv": "a,a,y\n1,2,0\n3,4,1\n"},
                                      "{d}/x.csv: the header repeats a column name ('a')"),
    "unnamed_column": data_case({"x.csv": "a,,y\n1,2,0\n3,4,1\n"},
                                "{d}/x.csv: column 2 of the header has no name; every column needs one"),
    "semicolon_separated": data_case({"x.csv": GOOD_CSV.replace(",", ";")},
                                     "{d}/x.csv: the header is one column 'a;b;y'; its fields are separated by "
                                     "semicolons, expected commas"),
    "tab_separated": data_case({"x.csv": GOOD_CSV.replace(",", "\t")},
                               "{d}/x.csv: the header is one column 'a\\tb\\ty'; its fields are separated by tabs"),
    "not_utf8": data_case({"x.csv": b"a,b,y\n1,2,caf\xe9\n"}, "{d}/x.csv: not a UTF-8 text file (invalid "
                                                              "continuation byte at byte 13)"),
    "binary_garbage": data_case({"x.csv": bytes(range(256))}, "{d}/x.csv: not a UTF-8 text file"),
    "gzip_that_is_not_gzip": data_case({"x.csv.gz": GOOD_CSV}, "{d}/x.csv.gz: not a valid gzip file",
                                       source="x.csv.gz"),
    "gzip_truncated": data_case({"x.csv.gz": gzip.compress(GOOD_CSV.encode())[:30]},
                                "{d}/x.csv.gz: not a valid gzip file", source="x.csv.gz"),
    "too_few_rows": data_case({"x.csv": "a,y\n1,0\n"}, "{d}/x.csv: needs at least 2 samples, got 1"),
    "splits_leave_no_training_rows": data_case({"x.csv": "a,y\n1,0\n2,1\n"},
                                               "data.validation_split: the splits leave no training data: 2 rows in "
                                               "{d}/x.csv, 2 for validation and 0 for testing (rounded per class); "
                                               "lower the splits", extra=", validation_split: 0.5, test_split: 0.45"),
    # targets
    "empty_target_cell": data_case({"x.csv": GOOD_CSV + "1,2,\n"},
                                   "{d}/x.csv: row 22, column 'y': the target is empty; every row needs one"),
    "nan_class_label": data_case({"x.csv": GOOD_CSV + "1,2,nan\n"},
                                 "{d}/x.csv: row 22, column 'y': the target is nan; a class label must be a whole "
                                 "number or a name"),
    "nan_regression_target": data_case({"x.csv": GOOD_CSV + "1,2,nan\n"},
                                       "{d}/x.csv: row 22, column 'y': the target is nan (targets must be finite "
                                       "numbers)", loss="mse"),
    "text_regression_target": data_case({"x.csv": GOOD_CSV + "1,2,high\n"},
                                        "{d}/x.csv: row 22, column 'y': the target 'high' is not a number; a regression "
                                        "loss (mse, mae) needs numbers", loss="mse"),
    "single_class": data_case({"x.csv": csv_text("a,b,y", [(i, i % 3, "same") for i in range(20)])},
                              "{d}/x.csv: the target has a single class (same); need at least 2"),
    "single_value_target": data_case({"x.csv": csv_text("a,b,y", [(i, i % 3, 1) for i in range(20)])},
                                     "{d}/x.csv: the target has a single class (1); need at least 2"),
    "cross_entropy_on_continuous_target": data_case(
        {"x.csv": csv_text("a,y", [(i, 0.37 * i) for i in range(20)])},
        "{d}/x.csv: the target has non-integer values, so it is continuous: use loss mse or mae"),
    "cross_entropy_on_integer_measurements": data_case(
        {"x.csv": csv_text("a,y", [(i, 100 + 3 * i) for i in range(40)])},
        "{d}/x.csv: the target has 40 distinct values in 40 rows, too many to be classes: for a continuous target "
        "use loss mse or mae"),
    "bce_with_three_classes_in_a_file": data_case({"x.csv": csv_text("a,y", [(i, i % 3) for i in range(20)])},
                                                  "loss: bce is for two classes, the data has 3", loss="bce"),
    "two_targets_for_a_classifier": data_case({"x.csv": csv_text("a,y1,y2", [(i, i % 2, i % 3) for i in range(20)])},
                                              "{d}/x.csv: classification needs one target column, got 2",
                                              extra=", target: [y1, y2]"),
    "target_on_npz": data_case({"x.npz": npz(X=np.zeros((6, 2)), y=np.arange(6) % 2)},
                               "data.target: names a CSV column, but {d}/x.npz is not a CSV file",
                               extra=", target: label", source="x.npz"),
    "labels_key_for_a_csv": data_case({"x.csv": GOOD_CSV}, "data.labels: names the labels file of MNIST IDX "
                                      "images, but {d}/x.csv is not an IDX file; remove data.labels",
                                      extra=", labels: y.idx"),
    # a separate test file
    "test_file_missing": data_case({"x.csv": GOOD_CSV}, "{d}/t.csv: no such file", extra=", test_source: '{d}/t.csv'"),
    "test_file_other_columns": data_case({"x.csv": GOOD_CSV, "t.csv": csv_text("a,c,y", ROWS[:5])},
                                         "{d}/t.csv: feature column 2 is 'c', but 'b' in the training data "
                                         "({d}/x.csv); the test file needs the same features in the same order",
                                         extra=", test_source: '{d}/t.csv'"),
    "test_file_more_columns": data_case({"x.csv": GOOD_CSV, "t.csv": csv_text("a,b,c,y", [(1, 2, 3, 0)])},
                                        "{d}/t.csv: has 3 feature columns, the training data ({d}/x.csv) has 2",
                                        extra=", test_source: '{d}/t.csv'"),
    "test_file_unknown_string_label": data_case({"x.csv": GOOD_CSV, "t.csv": "a,b,y\n1,2,cat\n2,3,0\n"},
                                                "{d}/t.csv: has class 'cat' that the training data ({d}/x.csv) "
                                                "never shows", extra=", test_source: '{d}/t.csv'"),
    "test_file_unknown_number_label": data_case({"x.csv": GOOD_CSV, "t.csv": "a,b,y\n1,2,7\n2,3,0\n"},
                                                "{d}/t.csv: has class '7' that the training data",
                                                extra=", test_source: '{d}/t.csv'"),
    "test_file_header_only": data_case({"x.csv": GOOD_CSV, "t.csv": "a,b,y\n"}, "{d}/t.csv: has a header but no data "
                                       "rows", extra=", test_source: '{d}/t.csv'"),
    "test_file_nan_target": data_case({"x.csv": GOOD_CSV, "t.csv": "a,b,y\n1,2,nan\n"},
                                      "{d}/t.csv: row 2, column 'y': the target is nan",
                                      extra=", test_source: '{d}/t.csv'"),
    # .npz
    "npz_without_X": data_case({"x.npz": npz(Z=np.zeros((4, 2)), y=np.zeros(4))},
                               "{d}/x.npz: no array 'X' (found: Z, y); expected X (samples x features) and y",
                               source="x.npz"),
    "npz_without_y": data_case({"x.npz": npz(X=np.zeros((4, 2)))}, "{d}/x.npz: no array 'y' (found: X)",
                               source="x.npz"),
    "npz_length_mismatch": data_case({"x.npz": npz(X=np.zeros((4, 2)), y=np.zeros(3))},
                                     "{d}/x.npz: y has shape (3,) but X has 4 rows", source="x.npz"),
    "npz_X_3d": data_case({"x.npz": npz(X=np.zeros((4, 2, 2)), y=np.zeros(4))},
                          "{d}/x.npz: X must be 2-D (samples x features), got shape (4, 2, 2)", source="x.npz"),
    "npz_X_no_columns": data_case({"x.npz": npz(X=np.zeros((4, 0)), y=np.arange(4) % 2)},
                                  "{d}/x.npz: X has no feature columns (shape (4, 0))", source="x.npz"),
    "npz_X_object": data_case({"x.npz": npz(X=np.array([[1, None]] * 4, dtype=object), y=np.arange(4) % 2)},
                              "{d}/x.npz: holds an object array, which gdtrain never unpickles", source="x.npz"),
    "npz_X_text": data_case({"x.npz": npz(X=np.array([["a", "b"]] * 4), y=np.arange(4) % 2)},
                            "{d}/x.npz: X must be numeric, got dtype <U1", source="x.npz"),
    "npz_y_complex": data_case({"x.npz": npz(X=np.zeros((4, 2)), y=np.arange(4) + 1j)},
                               "{d}/x.npz: y must hold numbers or strings", source="x.npz"),
    "npz_X_nan": data_case({"x.npz": npz(X=np.array([[1.0, 2.0], [np.nan, 1.0]]), y=np.array([0, 1]))},
                           "{d}/x.npz: row 1, column 'x0': nan (features must be finite numbers)", source="x.npz"),
    "npz_garbage": data_case({"x.npz": b"this is not a zip archive"},
                             "{d}/x.npz: not a readable .npz archive (not a zip file)", source="x.npz"),
    "npz_truncated": data_case({"x.npz": npz(X=np.zeros((4, 2)), y=np.zeros(4))[:100]},
                               "{d}/x.npz: not a readable .npz archive", source="x.npz"),
    "npz_gz_not_gzip": data_case({"x.npz.gz": npz(X=np.zeros((4, 2)), y=np.zeros(4))},
                                 "{d}/x.npz.gz: not a valid gzip file", source="x.npz.gz"),
    "values_too_large_to_standardize": data_case({"x.npz": npz(X=np.full((6, 2), 1e308), y=np.arange(6) % 2)},
                                                 "{d}/x.npz: column 'x0': values too large to standardize",
                                                 source="x.npz"),
    "values_beyond_float32": Case("dtype: float32\ndata: {source: '{d}/x.npz', standardize: false}\n" + MODEL,
                                  "{d}/x.npz: column 'x0' has values beyond float32's range (±3.4e+38); use dtype: "
                                  "float64 or data.standardize: true",
                                  files={"x.npz": npz(X=np.full((6, 2), 1e300) * np.arange(1, 7)[:, None],
                                                      y=np.arange(6) % 2)}),
    # MNIST IDX
    "idx_bad_magic": data_case({"x-images-idx3-ubyte": b"\x12\x34" + idx(IMAGES)[2:],
                                "x-labels-idx1-ubyte": idx(LABELS)},
                               "{d}/x-images-idx3-ubyte: bad IDX magic number 12340803", source="x-images-idx3-ubyte"),
    "idx_truncated_payload": data_case({"x-images-idx3-ubyte": idx(IMAGES)[:-5], "x-labels-idx1-ubyte": idx(LABELS)},
                                       "{d}/x-images-idx3-ubyte: IDX payload is 115 bytes, dims (20, 2, 3) need 120 "
                                       "(truncated or corrupt)", source="x-images-idx3-ubyte"),
    "idx_truncated_header": data_case({"x-images-idx3-ubyte": idx(IMAGES)[:7]},
                                      "{d}/x-images-idx3-ubyte: truncated IDX header", source="x-images-idx3-ubyte"),
    "idx_empty": data_case({"x-images-idx3-ubyte": b""}, "{d}/x-images-idx3-ubyte: bad IDX magic number (empty)",
                           source="x-images-idx3-ubyte"),
    "idx_label_count_mismatch": data_case({"x-images-idx3-ubyte": idx(IMAGES), "x-labels-idx1-ubyte": idx(LABELS[:15])},
                                          "{d}/x-labels-idx1-ubyte: 15 labels of shape (15,) for 20 images",
                                          source="x-images-idx3-ubyte"),
    "idx_labels_missing": data_case({"x-images-idx3-ubyte": idx(IMAGES)}, "{d}/x-labels-idx1-ubyte: no such file",
                                    source="x-images-idx3-ubyte"),
    "idx_labels_not_inferable": data_case({"pictures.idx": idx(IMAGES)},
                                          "{d}/pictures.idx: cannot infer the labels file; set data.labels",
                                          source="pictures.idx"),
    "idx_no_images": data_case({"x-images-idx3-ubyte": idx(np.zeros((0, 2, 3))), "x-labels-idx1-ubyte": idx([])},
                               "{d}/x-images-idx3-ubyte: no images in it (shape (0, 2, 3))",
                               source="x-images-idx3-ubyte"),
    "idx_nan_pixels": data_case({"x-images-idx3-ubyte": idx(np.where(IMAGES == 5, np.nan, IMAGES), code=0x0D),
                                 "x-labels-idx1-ubyte": idx(LABELS)},
                                "{d}/x-images-idx3-ubyte: row 0, column 'px5': nan (features must be finite numbers)",
                                source="x-images-idx3-ubyte"),
    "idx_gz_not_gzip": data_case({"x-images-idx3-ubyte.gz": idx(IMAGES), "x-labels-idx1-ubyte.gz": idx(LABELS)},
                                 "{d}/x-images-idx3-ubyte.gz: not a valid gzip file",
                                 source="x-images-idx3-ubyte.gz"),
}


@pytest.mark.parametrize("name", sorted(DATA_CASES))
def test_bad_data(runner, tmp_path, name):
    run_case(runner, tmp_path, DATA_CASES[name])


@needs_permissions
@pytest.mark.parametrize("name", ["x.csv", "x.npz"])
def test_unreadable_data_file(runner, tmp_path, name):
    data = tmp_path / name
    data.write_bytes(GOOD_CSV.encode() if name.endswith(".csv") else npz(X=np.zeros((4, 2)), y=np.arange(4) % 2))
    data.chmod(0)
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{source: '{data}'}}\n" + MODEL)
    try:
        assert error_message(invoke(runner, ["fit", config])) == f"{data}: cannot read (Permission denied)"
    finally:
        data.chmod(0o644)


# Inputs that look odd but are fine: they train (exit 0), and how they are read is part of the contract.
ACCEPTED = {
    "quoted_fields": ('"a","b","y"\n' + "".join(f'"{a}","{b}","{y}"\n' for a, b, y in ROWS), "", 2),
    "utf8_bom": ("\ufeff" + GOOD_CSV, "", 2),
    "crlf_line_endings": (GOOD_CSV.replace("\n", "\r\n"), "", 2),
    "cr_line_endings": (GOOD_CSV.replace("\n", "\r"), "", 2),
    "integer_labels_with_gaps": (csv_text("a,b,y", [(a, b, [0, 5, 9][a % 3]) for a, b, _ in ROWS]), "", 3),
    "negative_labels": (csv_text("a,b,y", [(a, b, -y) for a, b, y in ROWS]), "", 2),
    "labels_written_as_floats": (csv_text("a,b,y", [(a, b, f"{y}.0") for a, b, y in ROWS]), "", 2),
    "string_labels": (csv_text("a,b,y", [(a, b, ["cat", "dog"][y]) for a, b, y in ROWS]), "", 2),
    "whole_float_epochs": (GOOD_CSV, "training: {epochs: 2.0}\n", 2),
    "exponent_epochs": (GOOD_CSV, "training: {epochs: 2e0}\n", 2),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_odd_but_valid_input_trains(runner, tmp_path, name):
    text, extra, n_classes = ACCEPTED[name]
    data = tmp_path / "x.csv"
    data.write_bytes(text.encode("utf-8"))
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{source: '{data}'}}\nmodel: {{hidden: [3]}}\n" + (extra or "training: {epochs: 1}\n"),
                      encoding="utf-8")
    out = tmp_path / "out"
    result = invoke(runner, ["fit", config, "--out", out])
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert isinstance(resolved["training"]["epochs"], int)  # 2.0 and 2e0 are stored as the integer 2
    with np.load(out / "model.npz") as model:
        assert len(model["classes"]) == n_classes
        assert list(model["feature_names"]) == ["a", "b"]


@pytest.mark.parametrize("content", [
    b"\xef\xbb\xbfdata: {source: iris}\nmodel: {hidden: [3]}\ntraining: {epochs: 1}\n",  # a UTF-8 BOM
    b"data: {source: iris}\r\nmodel: {hidden: [3]}\r\ntraining: {epochs: 1}\r\n",  # Windows line endings
], ids=["bom", "crlf"])
def test_config_with_a_bom_or_crlf_is_read(runner, tmp_path, content):
    config = tmp_path / "c.yaml"
    config.write_bytes(content)
    result = invoke(runner, ["fit", config, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.output


def test_number_like_names_survive_the_resolved_config(runner, tmp_path):
    """A column called '1e3' is a string in the config; config.yaml must say so, or evaluate and --resume, which read
    it back, would see the number 1000.0."""
    data = tmp_path / "x.csv"
    data.write_text(csv_text("a,b,1e3", ROWS))
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{source: '{data}', target: '1e3'}}\n" + MODEL)
    out = tmp_path / "out"
    assert invoke(runner, ["fit", config, "--out", out]).exit_code == 0
    assert "target: '1e3'" in (out / "config.yaml").read_text()
    result = invoke(runner, ["evaluate", out])
    assert result.exit_code == 0, result.output
    resumed = invoke(runner, ["fit", config, "--resume", out, "--epochs", 2])
    assert resumed.exit_code == 0, resumed.output


def test_npz_gz_is_read(runner, tmp_path):
    data = tmp_path / "x.npz.gz"
    data.write_bytes(gzip.compress(npz(X=np.arange(40.0).reshape(20, 2), y=np.arange(20) % 2)))
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{source: '{data}'}}\n" + MODEL)
    result = invoke(runner, ["fit", config, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.output


# --- evaluate and predict read data files too --------------------------------------------------------------

@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iris")
    config = folder / "iris.yaml"
    config.write_text("data: {source: iris}\n" + MODEL)
    assert invoke(CliRunner(), ["fit", config, "--out", folder / "run"]).exit_code == 0
    return folder / "run"


IRIS_HEADER = "sepal_length,sepal_width,petal_length,petal_width,species"


@pytest.mark.parametrize("command, name, content, expected", [
    ("predict", "in.csv", None, "{f}: no such file"),
    ("predict", "in.xlsx", b"a", "{f}: unknown file type '.xlsx'; expected .csv (with a header) or .npz (X, y)"),
    ("predict", "in.csv", b"", "{f}: the file is empty; expected a header row and data rows"),
    ("predict", "in.csv", b"sepal_length,sepal_width\n1,2\n",
     "{f}: missing feature columns 'petal_length', 'petal_width' (the model was trained on sepal_length"),
    ("predict", "in.csv", (IRIS_HEADER + "\n1,2,x,4,setosa\n").encode(),
     "{f}: row 2, column 'petal_length': not a number: 'x'"),
    ("predict", "in.npz", npz(X=np.zeros((3, 5))), "{f}: X has 5 features, the model takes 4"),
    ("predict", "in.npz", npz(X=np.ones((3, 4)) + 1j), "{f}: X must be numeric, got dtype complex128"),
    ("predict", "in.npz", npz(X=np.array([[1, None, 2, 3]] * 3, dtype=object)), "{f}: cannot read X"),
    ("predict", "in.npz", b"junk", "{f}: not a readable .npz archive"),
    ("evaluate", "in.csv", (IRIS_HEADER + "\n1,2,3,4,rose\n").encode(),
     "{f}: column 'species': label 'rose' is not a class the model was trained on"),
    ("evaluate", "in.csv", (IRIS_HEADER.rsplit(",", 1)[0] + "\n1,2,3,4\n").encode(),
     "{f}: no target column 'species'; evaluating needs the true values"),
    ("evaluate", "in.npz", npz(X=np.zeros((3, 4)), y=np.zeros(2)), "{f}: y has shape (2,) but X has 3 rows"),
])
def test_evaluate_and_predict_name_the_file(runner, tmp_path, iris_run, command, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    args = [command, iris_run, path] if command == "predict" else [command, iris_run, "--data", path]
    message = error_message(invoke(runner, args))
    assert message.startswith(expected.replace("{f}", str(path))), message


# --- 3. init_from ---------------------------------------------------------------------------------

IRIS_SHAPES = {"W1": (3, 4), "b1": (3,), "W2": (3, 3), "b2": (3,)}  # iris: 4 features -> 3 units -> 3 classes


def weights(**changes):
    arrays = {name: np.full(shape, 0.1) for name, shape in IRIS_SHAPES.items()}
    arrays.update(changes)
    return {name: value for name, value in arrays.items() if value is not None}


INIT_FROM_CASES = {
    "missing": (None, "no such file"),
    "directory": ("dir", "is a directory, expected an .npz file of W1, b1, W2, b2, ..."),
    "not_an_npz": (b"not a zip archive", "not a readable .npz (not a zip file); expected arrays W1, b1, W2, b2, ..."),
    "truncated": (npz(**weights())[:60], "not a readable .npz"),
    "missing_array": (npz(**weights(b2=None)), "no array 'b2' (the network needs W1, b1, W2, b2)"),
    "wrong_shape": (npz(**weights(W1=np.zeros((5, 4)))),
                    "W1 has shape (5, 4), the network needs (3, 4) (from a different network or data?)"),
    "nan": (npz(**weights(W2=np.full((3, 3), np.nan))), "W2 has NaN or infinite values"),
    "inf": (npz(**weights(b1=np.array([0.0, np.inf, 0.0]))), "b1 has NaN or infinite values"),
    "text": (npz(**weights(W1=np.full((3, 4), "a"))), "W1 must hold numbers, got dtype <U1"),
    "object": (npz(**weights(W1=np.full((3, 4), None, dtype=object))),
               "holds an object array, which gdtrain never unpickles"),
    "a_checkpoint": (npz(params=np.zeros(27), meta=np.array("{}")),
                     "is a checkpoint.npz; give the run's model.npz (or continue the run with --resume RUN_DIR)"),
}


@pytest.mark.parametrize("name", sorted(INIT_FROM_CASES))
def test_bad_init_from(runner, tmp_path, name):
    content, expected = INIT_FROM_CASES[name]
    path = tmp_path / "w.npz"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{source: iris}}\nmodel: {{hidden: [3], init_from: '{path}'}}\ntraining: {{epochs: 1}}\n")
    message = error_message(invoke(runner, ["fit", config, "--out", tmp_path / "out"]))
    assert message == f"model.init_from: {path}: {expected}" or message.startswith(
        f"model.init_from: {path}: {expected}"), message
    assert not (tmp_path / "out").exists()


def test_init_from_a_model_of_another_network(runner, tmp_path):
    """A model.npz trained on other data (wine: 13 features) is refused, naming the tensor and both shapes."""
    wine = tmp_path / "wine.yaml"
    wine.write_text("data: {source: wine}\n" + MODEL)
    assert invoke(runner, ["fit", wine, "--out", tmp_path / "wine"]).exit_code == 0
    config = tmp_path / "c.yaml"
    model = tmp_path / "wine" / "model.npz"
    config.write_text(f"data: {{source: iris}}\nmodel: {{hidden: [3], init_from: '{model}'}}\ntraining: {{epochs: 1}}\n")
    assert error_message(invoke(runner, ["fit", config, "--out", tmp_path / "out"])) == (
        f"model.init_from: {model}: W1 has shape (3, 13), the network needs (3, 4) (from a different network or data?)")


# --- 4. --resume ------------------------------------------------------------------------------------

RESUMABLE = "seed: 0\ndata: {source: iris}\nmodel: {hidden: [{units: 4, activation: tanh}]}\ntraining: {epochs: 2}\n"


@pytest.fixture
def finished_run(runner, tmp_path):
    config = tmp_path / "a.yaml"
    config.write_text(RESUMABLE)
    run = tmp_path / "run"
    assert invoke(runner, ["fit", config, "--out", run]).exit_code == 0
    return config, run


def _snapshot(run: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


def _edit_checkpoint(run: Path, **changes) -> None:
    with np.load(run / "checkpoint.npz") as archive:
        arrays = dict(archive)
    meta = json.loads(str(arrays["meta"]))
    for key, value in changes.pop("meta", {}).items():
        if value is None:
            del meta[key]
        else:
            meta[key] = value
    arrays.update(changes)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(run / "checkpoint.npz", **arrays)


def test_resume_problems_name_the_file_and_the_mismatch(runner, tmp_path, finished_run):
    config, run = finished_run
    before = _snapshot(run)

    def refused(args, expected):
        message = error_message(invoke(runner, ["fit", *args]))
        assert message.startswith(expected), (message, expected)
        return message

    # a run directory that does not exist, is empty, or is a file
    refused([config, "--resume", tmp_path / "nowhere"], f"--resume: {tmp_path / 'nowhere' / 'checkpoint.npz'} does "
                                                        "not exist (a run directory has one after its first epoch)")
    assert not (tmp_path / "nowhere").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    refused([config, "--resume", empty], f"--resume: {empty / 'checkpoint.npz'} does not exist")
    afile = tmp_path / "afile"
    afile.write_text("x")
    refused([config, "--resume", afile], f"--resume: {afile} is a file; expected a run directory")
    # a config that no longer matches the run: the key and both values
    other = tmp_path / "other.yaml"
    other.write_text(RESUMABLE.replace("source: iris", "source: wine"))
    refused([other, "--resume", run, "--epochs", 4],
            f"--resume: data.source is 'wine' in this config but 'iris' in the run being resumed "
            f"({run / 'checkpoint.npz'}); only training.epochs")
    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(RESUMABLE.replace("units: 4", "units: 5"))
    assert "model.hidden" in refused([bigger, "--resume", run, "--epochs", 4], "--resume: model.hidden is ")
    assert _snapshot(run) == before  # nothing was touched by the refusals

    # damaged checkpoints and run directories
    def damaged(name, edit, expected):
        copy = tmp_path / name
        shutil.copytree(run, copy)
        edit(copy)
        refused([config, "--resume", copy, "--epochs", 4], expected.replace("{run}", str(copy)))

    damaged("garbage", lambda r: (r / "checkpoint.npz").write_bytes(b"not a zip"),
            "--resume: {run}/checkpoint.npz is not a readable checkpoint")
    damaged("no_meta", lambda r: np.savez(r / "checkpoint.npz", params=np.zeros(35)),
            "--resume: {run}/checkpoint.npz is not a readable checkpoint (KeyError: \"no 'meta' array\")")
    damaged("no_config", lambda r: _edit_checkpoint(r, meta={"config": None}),
            "--resume: {run}/checkpoint.npz is not a complete checkpoint (missing config)")
    damaged("new_format", lambda r: _edit_checkpoint(r, meta={"format": 99}),
            "--resume: {run}/checkpoint.npz has checkpoint format 99, this gdtrain reads 1")
    damaged("other_network", lambda r: _edit_checkpoint(r, params=np.zeros(7)),
            "--resume: {run}/checkpoint.npz has 7 parameters, the network of this config has 35")
    damaged("bad_state", lambda r: _edit_checkpoint(r, meta={"rngs": {"shuffle": 5}}),
            "--resume: {run}/checkpoint.npz: its saved state does not fit this run")
    damaged("bad_saved_config", lambda r: _edit_checkpoint(r, meta={"config": "seed: [0"}),
            "--resume: {run}/checkpoint.npz: the config saved in it is damaged")
    damaged("other_metrics", lambda r: (r / "metrics.csv").write_text("a,b\n1,2\n"),
            "--resume: {run}/metrics.csv does not have the columns this run writes")
    damaged("metrics_folder", lambda r: ((r / "metrics.csv").unlink(), (r / "metrics.csv").mkdir()),
            "--resume: {run}/metrics.csv is a directory")


# --- 5. --out: never silently overwritten ---------------------------------------------------------------

def test_explicit_out_is_refused_with_the_hint_and_left_untouched(runner, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(RESUMABLE)
    out = tmp_path / "out"
    assert invoke(runner, ["fit", config, "--out", out]).exit_code == 0
    before = _snapshot(out)
    message = error_message(invoke(runner, ["fit", config, "--out", out]))
    assert message == f"output: {out} already holds a run; choose another --out or pass --overwrite"
    assert _snapshot(out) == before
    # any non-empty folder counts, not only a run
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    assert "--overwrite" in error_message(invoke(runner, ["fit", config, "--out", notes]))
    assert (notes / "todo.txt").read_text() == "keep me"
    # `output:` in the config is an explicit --out too
    in_config = tmp_path / "in_config.yaml"
    in_config.write_text(RESUMABLE + f"output: '{out}'\n")
    assert error_message(invoke(runner, ["fit", in_config])).startswith(f"output: {out} already holds a run")
    # a file where the folder should be
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert error_message(invoke(runner, ["fit", config, "--out", afile])) == (
        f"output: {afile} exists and is not a directory")
    # --overwrite replaces the run
    again = invoke(runner, ["fit", config, "--out", out, "--overwrite", "--epochs", 1])
    assert again.exit_code == 0, again.output
    assert json.loads((out / "summary.json").read_text())["epochs"] == 1


def test_default_run_directory_moves_on_and_never_overwrites(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "tiny.yaml"
    config.write_text(RESUMABLE)
    snapshots = {}
    for expected in ("tiny", "tiny-2", "tiny-3"):
        result = invoke(runner, ["fit", config])
        assert result.exit_code == 0, result.output
        assert f"runs/{expected}" in result.output
        snapshots[expected] = _snapshot(tmp_path / "runs" / expected)
    for name, files in snapshots.items():
        assert sorted(files) == ["checkpoint.npz", "config.yaml", "metrics.csv", "model.npz", "summary.json"]
        if name != "tiny-3":  # the earlier runs are exactly as they were left
            assert _snapshot(tmp_path / "runs" / name) == files


# --- 6. through a real process: nothing but the message reaches the terminal ------------------------------

def gdtrain_process(args, cwd, *prefix):
    return subprocess.run([sys.executable, *(prefix or ("-m", "gdtrain")), *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **ENV}, timeout=120, cwd=cwd)


@pytest.mark.parametrize("config, files, expected", [
    ("seed: 0\nseed: 1\n", {}, "{config}: invalid YAML (line 2, column 1): duplicate key 'seed' (first on line 1); "
                                "give each key once"),
    ("optimizer: {name: adam, lr: .nan}\n", {}, "optimizer.lr: must be a finite number, got nan"),
    ("data: {source: '{d}/x.csv'}\n" + MODEL, {"x.csv": GOOD_CSV + "1,2\n"},
     "{d}/x.csv: row 22 has 2 fields, the header has 3"),
    ("data: {source: '{d}/x.npz'}\n" + MODEL, {"x.npz": b"junk"},
     "{d}/x.npz: not a readable .npz archive (not a zip file); expected arrays X and y saved with numpy.savez"),
    ("data: {source: '{d}/x-images-idx3-ubyte'}\n" + MODEL, {"x-images-idx3-ubyte": idx(IMAGES)[:-1],
                                                            "x-labels-idx1-ubyte": idx(LABELS)},
     "{d}/x-images-idx3-ubyte: IDX payload is 119 bytes, dims (20, 2, 3) need 120 (truncated or corrupt)"),
], ids=["duplicate_key", "nan_lr", "ragged_csv", "garbage_npz", "truncated_idx"])
def test_python_m_gdtrain_prints_only_the_message(tmp_path, config, files, expected):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    path = tmp_path / "c.yaml"
    path.write_text(config.replace("{d}", str(tmp_path)))
    proc = gdtrain_process(["fit", path, "--out", tmp_path / "out"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == "error: " + expected.replace("{d}", str(tmp_path)).replace("{config}", str(path)) + "\n"
    assert not (tmp_path / "out").exists()


BOOM = ("import sys, gdtrain.experiment as e\n"
        "def boom(*a, **k):\n    raise RuntimeError('boom')\n"
        "e.fit = boom\n"
        "from gdtrain.cli import main\nsys.argv[0] = 'gdtrain'\nmain()\n")


def test_internal_error_in_a_real_process_is_one_line_and_debug_shows_the_traceback(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data: {source: iris}\n" + MODEL)
    proc = gdtrain_process(["fit", config, "--out", tmp_path / "out"], tmp_path, "-c", BOOM)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == "error: internal error: RuntimeError: boom (run with --debug for the traceback)\n"
    debug = gdtrain_process(["--debug", "fit", config, "--out", tmp_path / "out"], tmp_path, "-c", BOOM)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().endswith("RuntimeError: boom")


def test_an_out_directory_that_cannot_be_created_is_a_clear_error(tmp_path):
    from gdtrain.config import from_dict
    from gdtrain.errors import ConfigError
    from gdtrain.experiment import fit

    blocker = tmp_path / "somefile"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match=r"^output: .*somefile/sub: cannot create the run directory"):
        fit(from_dict({"data": {"source": "iris"}, "training": {"epochs": 1}}), out=str(blocker / "sub"))
