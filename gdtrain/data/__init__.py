"""Data: built-in and synthetic datasets, CSV / NPZ / MNIST IDX files, the seeded split and standardization.

``load_data(config)`` returns a ``Dataset`` with train / validation / test arrays already in the
config's dtype. Classification targets become class indices 0..K−1 in the sorted order of the labels
(ints or strings); regression targets are float columns. Standardization z = (x − μ)/σ uses μ, σ of the
training split only, and travels with the model so predictions use the same transform.

Modules, each one concern: ``table`` (the raw Table every reader returns; a file's bytes; the finite check),
``csv_files``, ``npz_files`` and ``idx_files`` (one file format each), ``synthetic`` (the generators),
``builtin`` (the DATASETS registry), ``sources`` (what data.source names, read as a Table), ``splits`` (the
seeded split and standardization) and ``loading`` (load_data: encode, split, standardize into a Dataset).
"""

from .builtin import DATASETS, Builtin  # noqa: F401
from .loading import Dataset, load_data  # noqa: F401
from .sources import load_table, read_table  # noqa: F401
from .splits import split_indices, standardize  # noqa: F401
from .table import Table  # noqa: F401
