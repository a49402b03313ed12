"""A 2-D test function (problems.py) as the training loop sees a network: one flat parameter vector θ = (x, y).

The optimizers, schedules, clipping and line search already work on a flat θ with a gradient, so a problem
replaces the network + loss + data of ``train.train`` by ``PointModel``: ``loss_and_grad`` returns f(θ) and
fills ``grad`` with ∇f(θ); there are no samples (one step per epoch, as full-batch mode) and no validation
split. Each epoch's metrics.csv row gains the point's columns (``epoch_stats``):

    x, y          θ_e, the point after the epoch's step
    f             f(θ_e)                     (train_loss is f(θ_{e−1}), the objective where the step started,
                                              and grad_norm ‖∇f(θ_{e−1})‖, the gradient the step used)
    step_length   ‖θ_e − θ_{e−1}‖
    distance      ‖θ_e − x*‖ to the nearest known minimizer (saddle: to the saddle point)

so one row holds everything Armijo's condition needs: f ≤ train_loss − c1 · lr · grad_norm² (lr: the accepted t).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List

import numpy as np

from .data import Dataset
from .layers import TensorSpec
from .problems import Problem, make_problem

POINT = "xy"  # the one tensor's name (model.npz, checkpoint views)
COLUMNS = ("x", "y", "f", "step_length", "distance")


class PointModel:
    """θ = (x, y) and ∇f(θ), with the parts of the Network interface the training loop, the monitor, the line
    search and the checkpoint use (``params``, ``grad``, ``trainable``, ``loss_and_grad``, ``objective``, ...)."""

    epoch_columns = COLUMNS

    def __init__(self, problem: Problem, dtype=np.float64):
        self.problem = problem
        self.dtype = np.dtype(dtype)
        self.params = np.array(problem.start, dtype=self.dtype)
        self.grad = np.zeros(2, dtype=self.dtype)
        self.trainable, self.trainable_grad = self.params, self.grad
        self.n_trainable = self.size = 2
        self.specs = {POINT: TensorSpec(POINT, (2,), "point")}
        self.shapes = {POINT: (2,)}
        self.names: List[str] = [POINT]
        self.sizes = [2]
        self.layers: List[Any] = []

    def all_layers(self) -> list:
        return []

    def dense_layers(self) -> list:
        return []

    def views(self, flat: np.ndarray) -> Dict[str, np.ndarray]:
        return {POINT: flat}

    def weights(self) -> Dict[str, np.ndarray]:
        return {POINT: self.params.copy()}

    def f(self) -> float:
        """f(θ) at the current point, computed in float64."""
        return self.problem.value(self.params)

    def loss_and_grad(self, X=None, y=None, loss=None, l2: float = 0.0, training: bool = True, rng=None,
                      l1: float = 0.0, frozen_grad: bool = False, on_outputs=None) -> float:
        """f(θ), and ∇f(θ) into ``grad`` (the data arguments, and ``on_outputs``, the training-accuracy tally,
        are the network's and are not used)."""
        self.grad[...] = self.problem.gradient(self.params)
        return self.f()

    def objective(self, X=None, y=None, loss=None, l2: float = 0.0, l1: float = 0.0) -> float:
        return self.f()

    def epoch_stats(self, before: np.ndarray, now: np.ndarray) -> Dict[str, float]:
        """The point's metrics.csv columns (module docstring) for θ_{e−1} = ``before`` and θ_e = ``now``."""
        with np.errstate(over="ignore", invalid="ignore"):
            step = float(np.linalg.norm(np.asarray(now, np.float64) - np.asarray(before, np.float64)))
            f = self.problem.value(now) if np.isfinite(now).all() else math.nan
        return {"x": float(now[0]), "y": float(now[1]), "f": f, "step_length": step,
                "distance": self.problem.distance(now)}

    def describe(self) -> str:
        return self.problem.describe()


def point_dataset(problem: Problem) -> Dataset:
    """The stand-in for the data: no features, one "sample" (so every epoch is one full step), no validation."""
    empty = np.zeros((0, 0))
    return Dataset("problem", np.zeros((1, 0)), np.zeros(1), empty, np.zeros(0), empty, np.zeros(0), None, [], [],
                   source=f"problem {problem.name}", splits={"train": 1, "validation": 0, "test": 0})


def point_model(config) -> PointModel:
    return PointModel(make_problem(config.problem), config.dtype)


def point_summary(model: PointModel) -> Dict[str, Any]:
    """What summary.json says about where the run ended: the point, f, the gap to f*, ‖∇f‖, the distance."""
    problem, theta = model.problem, model.params
    finite = bool(np.isfinite(theta).all())
    f = problem.value(theta) if finite else math.nan
    grad = float(np.linalg.norm(problem.gradient(theta))) if finite else math.nan
    nearest = problem.nearest(theta) if finite else None
    return {"function": problem.name, "start": list(problem.start), "x": float(theta[0]), "y": float(theta[1]),
            "f": f, "f_star": problem.minimum, "gap": f - problem.minimum if math.isfinite(problem.minimum) else None,
            "grad_norm": grad, "distance": problem.distance(theta) if finite else math.nan,
            "nearest": list(nearest) if nearest is not None else None,
            "minimizers": [list(p) for p in problem.minimizers]}
