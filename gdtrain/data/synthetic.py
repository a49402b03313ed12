"""Synthetic data sets: generators (n_samples, noise, rng) -> (X, y), seeded by the run's "data" stream.

Each docstring's first line is what ``gdtrain explain`` says of the data set.
"""

from __future__ import annotations

import numpy as np


def make_xor(n: int, noise: float, rng: np.random.Generator):
    """Four Gaussian clusters at (±1, ±1); the class is x₁ > 0 XOR x₂ > 0 — no line separates it."""
    corners = rng.integers(0, 2, size=(n, 2)) * 2 - 1
    X = corners + rng.normal(0, noise, size=(n, 2))
    return X, (corners[:, 0] * corners[:, 1] < 0).astype(int)


def make_spirals(n: int, noise: float, rng: np.random.Generator):
    """Two interleaved spiral arms, one per class."""
    y = np.arange(n) % 2
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    arm = np.where(y == 0, 1.0, -1.0)
    X = np.column_stack([arm * t * np.cos(t), arm * t * np.sin(t)]) / (3 * np.pi)
    return X + rng.normal(0, noise, X.shape), y


def make_moons(n: int, noise: float, rng: np.random.Generator):
    """Two interleaving half circles (as scikit-learn's make_moons)."""
    n_out = n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n - n_out)
    X = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   np.column_stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)])])
    y = np.r_[np.zeros(n_out, int), np.ones(n - n_out, int)]
    return X + rng.normal(0, noise, X.shape), y


def make_blobs(n: int, noise: float, rng: np.random.Generator):
    """Three Gaussian blobs of std ``noise`` around centres drawn in [−5, 5]²."""
    centres = rng.uniform(-5, 5, size=(3, 2))
    y = np.arange(n) % 3
    return centres[y] + rng.normal(0, noise, size=(n, 2)), y


def make_sine(n: int, noise: float, rng: np.random.Generator):
    """Regression: y = sin(x) + ε on x ∈ [−π, π]."""
    x = rng.uniform(-np.pi, np.pi, size=(n, 1))
    return x, np.sin(x) + rng.normal(0, noise, size=(n, 1))
