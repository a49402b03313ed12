"""The built-in data sets by name (``data.source: iris``): CSV files shipped in gdtrain.datasets, and the
synthetic generators with their default size and noise. ``gdtrain list datasets`` and ``explain`` read this
registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..registry import Registry
from .synthetic import make_blobs, make_moons, make_sine, make_spirals, make_xor


@dataclass(frozen=True)
class Builtin:
    name: str
    task: str
    description: str
    generator: Optional[Callable] = None  # synthetic; otherwise a CSV shipped in gdtrain.datasets
    n_samples: int = 0
    noise: float = 0.0
    recipe: str = ""  # synthetic: how the generator draws the samples (`gdtrain explain NAME` shows it)


DATASETS: Registry[Builtin] = Registry("dataset")
for _b in (
    Builtin("iris", "classification", "150 irises, 4 measurements, 3 species (Fisher 1936)"),
    Builtin("digits", "classification", "1797 handwritten digits, 8x8 pixels, 10 classes (UCI)"),
    Builtin("breast_cancer", "classification", "569 tumours, 30 features, malignant/benign (UCI WDBC)"),
    Builtin("wine", "classification", "178 wines, 13 chemical features, 3 cultivars (UCI)"),
    Builtin("diabetes", "regression", "442 patients, 10 features, disease progression (Efron et al. 2004)"),
    Builtin("backprop_by_hand", "regression", "one sample, inputs (0.05, 0.10), targets (0.01, 0.99): the classic "
                                              "hand-worked backpropagation example (Mazur 2015)"),
    Builtin("xor", "classification", "XOR of two signs: no linear model solves it", make_xor, 400, 0.25,
            "Four Gaussian clusters at (±1, ±1); the class is x₁ > 0 XOR x₂ > 0 — no line separates it."),
    Builtin("spirals", "classification", "two interleaved spirals", make_spirals, 600, 0.03,
            "Two interleaved spiral arms, one per class."),
    Builtin("moons", "classification", "two interleaving half moons", make_moons, 400, 0.15,
            "Two interleaving half circles (as scikit-learn's make_moons)."),
    Builtin("blobs", "classification", "three Gaussian blobs", make_blobs, 300, 1.0,
            "Three Gaussian blobs of std ``noise`` around centres drawn in [−5, 5]²."),
    Builtin("sine", "regression", "y = sin(x) + noise", make_sine, 400, 0.1,
            "Regression: y = sin(x) + ε on x ∈ [−π, π]."),
):
    DATASETS.add(_b.name, _b)
