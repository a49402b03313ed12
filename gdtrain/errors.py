"""The errors gdtrain raises on purpose. The CLI turns each into one line and an exit code."""


class GdtrainError(Exception):
    """Base class: a problem the user can fix. ``exit_code`` is what the CLI exits with."""

    exit_code = 2


class ConfigError(GdtrainError):
    """A config value is wrong. The message starts with the key path: ``optimizer.lr: must be > 0, got -0.1``."""


class DataError(GdtrainError):
    """A data file or built-in dataset cannot be used. The message names the file (and row/column)."""


class TrainingFailed(GdtrainError):
    """Training could not go on (for example it diverged)."""

    exit_code = 1
