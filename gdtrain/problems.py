"""2-D test functions: the pictures every optimization course draws, as objectives gradient descent can run on.

A config names one instead of data / model / loss (``problem: {function: rosenbrock, start: [-1.2, 1.0]}``);
the optimizer, schedule, clipping, line search and stopping rules are the same config keys, and each epoch is
one step θ ← θ − η ∇f(θ) (or the optimizer's update) from the point θ = (x, y). Every gradient is analytic
(``gdtrain gradcheck`` checks it against central differences); each function's known minimizers x* and
minimum f* are what metrics.csv's ``distance`` (to the nearest x*) and the race's ``f − f* < tol`` use.

Each function is a ``TestFunction`` record in ``FUNCTIONS``: f and its gradient, as code and as formulas, its
known minimizers and minimum, its options, and ``rule`` — f, ∇f and where its minimizers lie, with what
gradient descent does on it: what `gdtrain explain NAME` prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from .errors import ConfigError
from .options import Option, describe, number, resolve_options
from .registry import Registry

Vector = np.ndarray  # a point θ = (x, y)


@dataclass(frozen=True)
class TestFunction:
    """One 2-D test function: f, its (sub)gradient, its known minimizers, where a picture of it should look."""

    value: Callable[[Vector, Mapping[str, Any]], float]
    gradient: Callable[[Vector, Mapping[str, Any]], Vector]
    minimizers: Callable[[Mapping[str, Any]], List[Tuple[float, float]]]  # [] when there is none (saddle)
    minimum: Callable[[Mapping[str, Any]], float]  # f*; −inf when f is unbounded below
    formula: str
    gradient_formula: str
    start: Tuple[float, float]  # the classic starting point (problem.start's default)
    window: Callable[[Mapping[str, Any]], Tuple[float, float, float, float]]  # (x0, x1, y0, y1) of its map
    options: Dict[str, Option] = field(default_factory=dict)
    smooth: bool = True  # False: a subgradient at the kinks (l1)
    stationary: Tuple[Tuple[float, float], ...] = ()  # what distance measures from when there is no minimizer
    rule: str = ""  # f, ∇f, the minimizers and what gradient descent does: what `gdtrain explain` prints
    references: Tuple[str, ...] = ()  # keys of ideas.REFERENCES

    __test__ = False  # (not a pytest test class, whatever its name)


def _fixed(*points):
    return lambda opts: [tuple(map(float, p)) for p in points]


def _zero(opts) -> float:
    return 0.0


def _square(half: float, cx: float = 0.0, cy: float = 0.0):
    return lambda opts: (cx - half, cx + half, cy - half, cy + half)


def quadratic_matrix(opts: Mapping[str, Any]) -> np.ndarray:
    """A = R diag(1, κ) Rᵀ, R the rotation by ``angle`` degrees."""
    a = math.radians(opts["angle"])
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return R @ np.diag([1.0, float(opts["condition_number"])]) @ R.T


def _quadratic(p, o):
    return 0.5 * float(p @ quadratic_matrix(o) @ p)


def _quadratic_grad(p, o):
    return quadratic_matrix(o) @ p


def _rosenbrock(p, o):
    x, y = p.tolist()
    return (o["a"] - x) ** 2 + o["b"] * (y - x * x) ** 2


def _rosenbrock_grad(p, o):
    x, y = p.tolist()
    return np.array([-2 * (o["a"] - x) - 4 * o["b"] * x * (y - x * x), 2 * o["b"] * (y - x * x)])


def _beale_terms(p):
    x, y = p
    return 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y ** 3


def _beale(p, o):
    return sum(u * u for u in _beale_terms(p))


def _beale_grad(p, o):
    x, y = p
    u1, u2, u3 = _beale_terms(p)
    return np.array([2 * u1 * (y - 1) + 2 * u2 * (y * y - 1) + 2 * u3 * (y ** 3 - 1),
                     2 * u1 * x + 4 * u2 * x * y + 6 * u3 * x * y * y])


def _himmelblau(p, o):
    x, y = p
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


def _himmelblau_grad(p, o):
    x, y = p
    u, v = x * x + y - 11, x + y * y - 7
    return np.array([4 * x * u + 2 * v, 2 * u + 4 * y * v])


def _booth(p, o):
    x, y = p
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def _booth_grad(p, o):
    x, y = p
    return np.array([10 * x + 8 * y - 34, 8 * x + 10 * y - 38])


def _saddle(p, o):
    x, y = p
    return x * x - y * y


def _saddle_grad(p, o):
    return np.array([2.0, -2.0]) * p


def _l1(p, o):
    return float(np.abs(p).sum())


def _l1_grad(p, o):
    return np.sign(p)


def _rastrigin(p, o):
    return 20.0 + float(np.sum(p * p - 10 * np.cos(2 * math.pi * p)))


def _rastrigin_grad(p, o):
    return 2 * p + 20 * math.pi * np.sin(2 * math.pi * p)


def _quadratic_window(opts):
    return (-5.0, 5.0, -5.0, 5.0)


def _rosenbrock_window(opts):
    a = float(opts["a"])
    return (-2.0 * max(abs(a), 1), 2.0 * max(abs(a), 1), -1.0, max(3.0, a * a + 1))


FUNCTIONS: Registry[TestFunction] = Registry("function")
FUNCTIONS.add("quadratic", TestFunction(
    _quadratic, _quadratic_grad, _fixed((0, 0)), _zero, "½ xᵀAx,  A = R diag(1, κ) Rᵀ", "A x", (-4.0, 1.0),
    _quadratic_window, {
        "condition_number": Option(10.0, number(1), "κ = L/μ: A's eigenvalues are μ = 1 and L = κ"),
        "angle": Option(0.0, number(-360, 360), "rotation of A's eigenvectors, in degrees (0: the axes)")},
    references=("nocedal",), rule="""\
quadratic     options: condition_number κ (10), angle (0, degrees)
    f(x) = ½ xᵀ A x,   A = R diag(μ, L) Rᵀ,  μ = 1, L = κ,  R the rotation by ``angle``
    ∇f(x) = A x
    minimizer (0, 0), f* = 0. The slowest eigendirection (eigenvalue μ) is R·(1, 0): the x-axis at angle 0.
    Gradient descent with step η contracts each eigencomponent by |1 − ηλ|; with η = 2/(L + μ) the slowest
    factor is (κ − 1)/(κ + 1), with η = 1/L the loss obeys f(x_k) ≤ (1 − 1/κ)^(2k) f(x_0). Heavy-ball momentum
    with η = 4/(√L + √μ)², β = ((√κ − 1)/(√κ + 1))² converges like ((√κ − 1)/(√κ + 1))^k (Polyak 1964)."""))
FUNCTIONS.add("rosenbrock", TestFunction(
    _rosenbrock, _rosenbrock_grad, lambda o: [(float(o["a"]), float(o["a"]) ** 2)], _zero,
    "(a − x)² + b (y − x²)²", "(−2(a − x) − 4bx(y − x²), 2b(y − x²))", (-1.2, 1.0), _rosenbrock_window, {
        "a": Option(1.0, number(), "the minimizer is (a, a²)"),
        "b": Option(100.0, number(0, low_open=True), "the valley's steepness")},
    rule="""\
rosenbrock    options: a (1), b (100)
    f(x, y) = (a − x)² + b (y − x²)²
    ∇f = (−2(a − x) − 4b x (y − x²),  2b (y − x²))
    minimizer (a, a²), f* = 0: a long, curved, flat-bottomed valley (Rosenbrock 1960)."""))
FUNCTIONS.add("beale", TestFunction(
    _beale, _beale_grad, _fixed((3, 0.5)), _zero, "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
    "Σᵢ 2uᵢ ∂uᵢ  (uᵢ the brackets)", (1.0, 1.0), _square(4.5), rule="""\
beale
    f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²
    ∇f = (2u₁(y − 1) + 2u₂(y² − 1) + 2u₃(y³ − 1),  2u₁x + 4u₂xy + 6u₃xy²)   (uᵢ the three brackets)
    minimizer (3, 0.5), f* = 0; flat plateaus and sharp ridges near the corners."""))
FUNCTIONS.add("himmelblau", TestFunction(
    _himmelblau, _himmelblau_grad,
    _fixed((3.0, 2.0), (-2.805118086952745, 3.131312518250573), (-3.779310253377747, -3.2831859912861696),
           (3.5844283403304917, -1.8481265269644036)), _zero,
    "(x² + y − 11)² + (x + y² − 7)²", "(4x(x² + y − 11) + 2(x + y² − 7), 2(x² + y − 11) + 4y(x + y² − 7))",
    (0.0, 0.0), _square(5.0), rule="""\
himmelblau
    f(x, y) = (x² + y − 11)² + (x + y² − 7)²
    ∇f = (4x(x² + y − 11) + 2(x + y² − 7),  2(x² + y − 11) + 4y(x + y² − 7))
    four minimizers, all with f* = 0: (3, 2), (−2.805118, 3.131313), (−3.779310, −3.283186),
    (3.584428, −1.848127): which one a method finds depends on where it starts."""))
FUNCTIONS.add("booth", TestFunction(
    _booth, _booth_grad, _fixed((1, 3)), _zero, "(x + 2y − 7)² + (2x + y − 5)²", "(10x + 8y − 34, 8x + 10y − 38)",
    (-5.0, -5.0), _square(10.0), rule="""\
booth
    f(x, y) = (x + 2y − 7)² + (2x + y − 5)²
    ∇f = (10x + 8y − 34,  8x + 10y − 38)
    minimizer (1, 3), f* = 0: a convex quadratic with condition number 9."""))
FUNCTIONS.add("saddle", TestFunction(
    _saddle, _saddle_grad, lambda o: [], lambda o: -math.inf, "x² − y²", "(2x, −2y)", (1.0, 0.001), _square(1.5),
    stationary=((0.0, 0.0),), rule="""\
saddle
    f(x, y) = x² − y²
    ∇f = (2x, −2y)
    no minimizer (f is unbounded below, f* = −∞); (0, 0) is its only stationary point, a saddle, and the
    distance column measures from it. Gradient descent started exactly on y = 0 converges to the saddle
    (∇f = 0 there, yet it is no minimum); any y ≠ 0 grows by (1 + 2η) per step and escapes."""))
FUNCTIONS.add("l1", TestFunction(
    _l1, _l1_grad, _fixed((0, 0)), _zero, "|x| + |y|", "(sign x, sign y)  (a subgradient; 0 at a kink)", (1.0, 0.6),
    _square(1.5), smooth=False, references=("boyd_subgradient",), rule="""\
l1
    f(x, y) = |x| + |y|
    subgradient ∂f = (sign x, sign y)   (0 at a kink: the value the code uses)
    minimizer (0, 0), f* = 0; not differentiable on the axes: subgradient descent with a constant step η
    ends up oscillating at a distance of order η, with steps c/√t its best value falls like O(1/√t)."""))
FUNCTIONS.add("rastrigin", TestFunction(
    _rastrigin, _rastrigin_grad, _fixed((0, 0)), _zero, "20 + Σ (xᵢ² − 10 cos 2πxᵢ)", "2x + 20π sin 2πx",
    (2.2, 2.7), _square(5.12), rule="""\
rastrigin
    f(x, y) = 20 + x² − 10 cos 2πx + y² − 10 cos 2πy
    ∇f = (2x + 20π sin 2πx,  2y + 20π sin 2πy)
    global minimizer (0, 0), f* = 0, and a local minimum near every integer point: gradient descent finds
    the one whose basin it starts in."""))


@dataclass
class Problem:
    """A resolved ``problem:`` section: which function, its options, and the start θ₀."""

    name: str
    options: Dict[str, Any]
    start: Tuple[float, float]

    def __post_init__(self):
        self.function: TestFunction = FUNCTIONS.get(self.name)

    def value(self, theta: Vector) -> float:
        """f(θ), in float64 (whatever θ's dtype)."""
        return float(self.function.value(np.asarray(theta, dtype=np.float64), self.options))

    def gradient(self, theta: Vector) -> Vector:
        """∇f(θ) (a subgradient at a kink of l1), in float64."""
        return np.asarray(self.function.gradient(np.asarray(theta, dtype=np.float64), self.options), dtype=np.float64)

    @property
    def minimizers(self) -> List[Tuple[float, float]]:
        return self.function.minimizers(self.options)

    @property
    def minimum(self) -> float:
        return float(self.function.minimum(self.options))

    @property
    def reference_points(self) -> List[Tuple[float, float]]:
        """What ``distance`` is measured to: the known minimizers, else the stationary points (saddle)."""
        return self.minimizers or list(self.function.stationary)

    def distance(self, theta: Vector) -> float:
        """‖θ − x*‖ to the nearest known minimizer (the saddle point for ``saddle``)."""
        points = np.asarray(self.reference_points, dtype=np.float64)
        return float(np.min(np.linalg.norm(points - np.asarray(theta, dtype=np.float64), axis=1)))

    def nearest(self, theta: Vector) -> Tuple[float, float]:
        points = self.reference_points
        return min(points, key=lambda p: math.dist(p, np.asarray(theta, dtype=np.float64)))

    def window(self, paths: Optional[List[np.ndarray]] = None) -> Tuple[float, float, float, float]:
        """(x0, x1, y0, y1) of a map showing the function's region, its minimizers and the start, widened to hold
        ``paths`` (points beyond 4× the region, a diverging path's, are left out)."""
        x0, x1, y0, y1 = self.function.window(self.options)
        w, h = x1 - x0, y1 - y0
        pts = [self.start, *self.reference_points]
        for path in paths or []:
            pts += [tuple(p) for p in np.asarray(path) if np.isfinite(p).all()
                    and x0 - 1.5 * w <= p[0] <= x1 + 1.5 * w and y0 - 1.5 * h <= p[1] <= y1 + 1.5 * h]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        x0, x1 = min(x0, min(xs)), max(x1, max(xs))
        y0, y1 = min(y0, min(ys)), max(y1, max(ys))
        return x0, x1, y0, y1

    def describe_optimum(self) -> str:
        """'minimizer (1, 1), f* = 0', or 'no minimizer (unbounded below); saddle point (0, 0)'."""
        points = self.minimizers
        if points:
            where = ", ".join(f"({x:.4g}, {y:.4g})" for x, y in points)
            return f"minimizer{'s' if len(points) > 1 else ''} {where}, f* = {self.minimum:g}"
        return "no minimizer (unbounded below); saddle point " + ", ".join(
            f"({x:g}, {y:g})" for x, y in self.function.stationary)

    def describe(self) -> str:
        """'rosenbrock(a=1, b=100) from (-1.2, 1)'."""
        opts = ", ".join(f"{k}={v:g}" for k, v in self.options.items())
        return f"{self.name}({opts}) from ({self.start[0]:g}, {self.start[1]:g})"

    def as_dict(self) -> Dict[str, Any]:
        return {"function": self.name, "start": list(self.start), **self.options}


def resolve_problem(raw: Any, path: str = "problem") -> Dict[str, Any]:
    """``{function, start, **options}`` with the function's defaults filled in and every value checked."""
    if isinstance(raw, str):
        raw = {"function": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping like {{function: rosenbrock, start: [-1.2, 1.0]}}, "
                          f"got {describe(raw)}")
    raw = dict(raw)
    if "function" not in raw:
        raise ConfigError(f"{path}.function: missing (one of {', '.join(FUNCTIONS.names())})")
    name = raw.pop("function")
    function = FUNCTIONS.get(name, f"{path}.function")
    start = raw.pop("start", list(function.start))
    if not (isinstance(start, (list, tuple)) and len(start) == 2):
        what = f"{len(start)} numbers" if isinstance(start, (list, tuple)) else describe(start)
        raise ConfigError(f"{path}.start: must be a point [x, y] of 2 numbers (the function is 2-D), got {what}")
    for i, v in enumerate(start):
        if number()(v) is not None:
            raise ConfigError(f"{path}.start[{i}]: must be a finite number, got {describe(v)}")
    options = resolve_options(function.options, raw, path, f"function '{name}'")
    return {"function": name, "start": [float(v) for v in start], **options}


def make_problem(spec: Mapping[str, Any]) -> Problem:
    """The Problem a resolved spec (``resolve_problem``) describes."""
    options = {k: v for k, v in spec.items() if k not in ("function", "start")}
    return Problem(spec["function"], options, (float(spec["start"][0]), float(spec["start"][1])))


def check_points(problem: Problem) -> List[Tuple[str, Vector]]:
    """Where ``gdtrain gradcheck`` compares ∇f with central differences: the start, a point beside each known
    minimizer and a few fixed points of the map (none on an axis, so l1's kinks are not crossed)."""
    x0, x1, y0, y1 = problem.window()
    points = [("start", np.array(problem.start, dtype=np.float64))]
    for i, (mx, my) in enumerate(problem.reference_points):
        points.append((f"near x*{i + 1}" if problem.minimizers else "near the saddle",
                       np.array([mx + 0.1234, my - 0.0789])))
    for fx, fy in ((0.27, 0.63), (0.71, 0.18), (0.43, 0.88)):
        points.append((f"map point ({fx:g}, {fy:g})", np.array([x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)])))
    return points
