"""gdtrain: neural networks trained by hand-written, vectorized NumPy backpropagation.

The command line (``gdtrain fit``, ``gdtrain gradcheck``, ...) is a thin layer over this package; a
notebook uses the same code through a small API (docs/python-api.md)::

    import gdtrain
    run = gdtrain.fit("quickstart", epochs=5, out="runs/nb", verbose=False)
    run.summary["test"]["accuracy"], run.metrics[-1]["val_loss"]
    run.model.predict(X)                       # also predict_proba(X), evaluate(X, y)
    run = gdtrain.load("runs/nb")
    config = gdtrain.load_config("quickstart", set={"optimizer.lr": 0.05})

Errors are typed (gdtrain.GdtrainError and its subclasses ConfigError, DataError, TrainingFailed), with the
messages the CLI prints. ``import gdtrain`` imports nothing heavy: the API is loaded on first use.
"""

from .errors import ConfigError, DataError, GdtrainError, TrainingFailed

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here; gdtrain --version prints it)

_API = ("fit", "load", "load_config", "Run", "Model")

__all__ = ["fit", "load", "load_config", "Run", "Model", "GdtrainError", "ConfigError", "DataError", "TrainingFailed",
           "__version__"]


def __getattr__(name: str):
    """``gdtrain.fit`` and the rest of the API, imported from gdtrain.api on first access (PEP 562)."""
    if name in _API:
        from . import api  # lazy: `import gdtrain` (and the CLI's start-up) stays free of numpy until the API is used

        return getattr(api, name)
    raise AttributeError(f"module 'gdtrain' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_API))
