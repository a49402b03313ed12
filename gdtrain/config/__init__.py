"""The YAML config: loaded into dataclasses, every default filled in, every value checked.

A problem is a ``ConfigError`` whose message starts with the key path and says what is expected
(``optimizer.lr: must be > 0, got -0.1``; ``trainig: unknown key; did you mean 'training'?``).
README.md describes the config and ``gdtrain list config`` every key; ``to_dict`` gives the resolved config
written to the run directory.

Modules, each one concern: ``sections`` (the dataclasses: every key, its default, its check and its doc),
``validate`` (``from_dict``: the checks across keys), ``yaml_io`` (the YAML dialect, ``--set`` overrides,
``load_config``, ``to_dict`` and ``dump_yaml``) and ``memory`` (will the network fit in this machine's memory:
``check_memory``, which builds the layers and so sits above them; import it from ``gdtrain.config.memory``).
"""

from .sections import (DEFAULT_LR_GRID, LAYER_CONFIGS, BatchNormConfig, ClipConfig, CompareConfig,  # noqa: F401
                       Config, DataConfig, LayerConfig, LoggingConfig, ModelConfig, MonitorConfig,
                       RegularizationConfig, ResidualConfig, SweepConfig, TrainingConfig)
from .validate import from_dict, model_from_dict  # noqa: F401
from .yaml_io import apply_override, dump_yaml, load_config, parse_yaml, set_path, to_dict  # noqa: F401
