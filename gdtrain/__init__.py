"""gdtrain: neural networks trained by hand-written, vectorized NumPy backpropagation.

The command line (``gdtrain fit``, ``gdtrain gradcheck``) is a thin layer over this package; a
notebook can use the same pieces::

    from gdtrain.config import load_config
    from gdtrain.experiment import fit
    result = fit(load_config("configs/digits.yaml"))
    result.summary["test"]["accuracy"]
"""

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here; gdtrain --version prints it)
