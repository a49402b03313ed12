"""Line search: instead of a fixed η, choose each step's length t along the descent direction d = −∇f(θ).

Along the line, φ(t) = f(θ + t d) and φ'(t) = ∇f(θ + t d)·d; at t = 0, φ'(0) = −‖g‖² < 0. The accepted t
replaces the learning rate (it is logged in the lr column). Full-batch mode only: the conditions compare
values of one fixed objective, which a changing mini-batch is not.

Each method is a ``LineSearchMethod`` record in ``LINE_SEARCHES``: the search, its options, its conditions in
one line (``formula``) and in full (``rule``, what `gdtrain explain NAME` prints).

When no t is found within the budget, the search reports failure and the step is not taken (the
objective is flat to numerical precision along d, or d is not a descent direction). So does a t whose update
leaves θ unchanged in floating point (θ + t d == θ, every component): φ(t) == φ(0) then passes the Armijo test
as soon as c1 t ‖g‖² is below the resolution of φ(0), yet nothing moved — that is a failure too (``stalled``),
never an accepted step (the training loop checks it, since only it holds θ).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Tuple

from .errors import ConfigError
from .options import Option, integer, number, resolve_options
from .registry import Registry

Phi = Callable[[float], float]  # t ↦ f(θ + t d)
PhiSlope = Callable[[float], Tuple[float, float]]  # t ↦ (f(θ + t d), ∇f(θ + t d)·d)


@dataclass
class SearchResult:
    step: float  # the accepted t (0.0 when the search failed)
    value: float  # φ(step)
    evaluations: int  # objective evaluations spent
    ok: bool
    stalled: bool = False  # failed because θ + t d rounds back to θ: the "accepted" step would not move it


def backtracking(phi: Phi, phi_slope: PhiSlope, phi0: float, slope0: float, *, initial_step: float = 1.0,
                 shrink: float = 0.5, c1: float = 1e-4, max_halvings: int = 50) -> SearchResult:
    """Armijo backtracking: the first t = t₀ρᵏ (k = 0..max_halvings) with φ(t) ≤ φ(0) + c1 t φ'(0)."""
    t = float(initial_step)
    for k in range(max_halvings + 1):
        value = phi(t)
        if value <= phi0 + c1 * t * slope0:
            return SearchResult(t, value, k + 1, True)
        t *= shrink
    return SearchResult(0.0, phi0, max_halvings + 1, False)


def strong_wolfe(phi: Phi, phi_slope: PhiSlope, phi0: float, slope0: float, *, initial_step: float = 1.0,
                 c1: float = 1e-4, c2: float = 0.9, max_evals: int = 30) -> SearchResult:
    """A step satisfying the strong Wolfe conditions (bracketing, then bisection; see wolfe's ``rule``)."""
    evals = 0

    def armijo(t: float, value: float) -> bool:
        return value <= phi0 + c1 * t * slope0

    def curvature(slope: float) -> bool:
        return abs(slope) <= -c2 * slope0

    def zoom(lo: float, value_lo: float, hi: float) -> SearchResult:
        nonlocal evals
        while evals < max_evals:
            t = 0.5 * (lo + hi)
            value, slope = phi_slope(t)
            evals += 1
            if not armijo(t, value) or value >= value_lo:
                hi = t
            else:
                if curvature(slope):
                    return SearchResult(t, value, evals, True)
                if slope * (hi - lo) >= 0:
                    hi = lo
                lo, value_lo = t, value
        # Out of budget: the best sufficient-decrease point found so far, if any.
        return SearchResult(lo, value_lo, evals, lo > 0)

    prev_t, prev_value = 0.0, phi0
    t = float(initial_step)
    while evals < max_evals:
        value, slope = phi_slope(t)
        evals += 1
        if not armijo(t, value) or (prev_t > 0 and value >= prev_value):
            return zoom(prev_t, prev_value, t)
        if curvature(slope):
            return SearchResult(t, value, evals, True)
        if slope >= 0:
            return zoom(t, value, prev_t)
        prev_t, prev_value = t, value
        t *= 2.0
    return SearchResult(prev_t, prev_value, evals, prev_t > 0)


@dataclass(frozen=True)
class LineSearchMethod:
    """A line search and what `gdtrain list line-searches` and `explain` say about it."""

    search: Callable[..., SearchResult]
    options: Dict[str, Option]
    formula: str  # the conditions in one line
    rule: str = ""  # in full: what `gdtrain explain` prints under "from gdtrain/linesearch.py"
    references: Tuple[str, ...] = ()  # keys of ideas.REFERENCES


INITIAL_STEP = Option(1.0, number(0, low_open=True), "the first trial step t₀ of every search")
C1 = Option(1e-4, number(0, 1, low_open=True, high_open=True), "sufficient-decrease constant c1")

LINE_SEARCHES: Registry[LineSearchMethod] = Registry("line search")
LINE_SEARCHES.add("backtracking", LineSearchMethod(backtracking, {
    "initial_step": INITIAL_STEP,
    "shrink": Option(0.5, number(0, 1, low_open=True, high_open=True), "t ← shrink · t after a failed trial"),
    "c1": C1,
    "max_halvings": Option(50, integer(0), "shrinks before giving up"),
}, "t ← ρt until f(θ − t g) ≤ f(θ) − c1 t ‖g‖²", references=("nocedal",), rule="""\
backtracking (Armijo)     options: initial_step t₀, shrink ρ, c1, max_halvings
    t ← t₀;  while φ(t) > φ(0) + c1 t φ'(0):  t ← ρ t
    With d = −g the sufficient-decrease (Armijo) condition reads f(θ − t g) ≤ f(θ) − c1 t ‖g‖², so an
    accepted step never raises the objective."""))
LINE_SEARCHES.add("wolfe", LineSearchMethod(strong_wolfe, {
    "initial_step": INITIAL_STEP,
    "c1": C1,
    "c2": Option(0.9, number(0, 1, low_open=True, high_open=True), "curvature constant c2 (c1 < c2 < 1)"),
    "max_evals": Option(30, integer(1), "objective + gradient evaluations before giving up"),
}, "f(θ + t d) ≤ f(θ) + c1 t ∇f·d  and  |∇f(θ + t d)·d| ≤ c2 |∇f·d|", references=("nocedal",), rule="""\
wolfe (strong Wolfe)      options: initial_step t₀, c1, c2, max_evals
    find t with   φ(t) ≤ φ(0) + c1 t φ'(0)        (sufficient decrease)
             and  |φ'(t)| ≤ c2 |φ'(0)|             (curvature: the slope has flattened)
    by expanding t (doubling) until a bracket holds a point, then bisecting it (Nocedal & Wright,
    Numerical Optimization, Algorithms 3.5 and 3.6). Each trial of the curvature condition costs a
    gradient, so it takes fewer, better steps than backtracking at a higher cost per step."""))


def resolve_line_search(spec: Mapping[str, Any], path: str = "training.line_search") -> Dict[str, Any]:
    """``{name, **options}`` with defaults filled and values checked."""
    spec = dict(spec)
    name = spec.pop("name", "backtracking")
    method = LINE_SEARCHES.get(name, f"{path}.name")
    options = resolve_options(method.options, spec, path, f"line search '{name}'")
    if name == "wolfe" and not options["c1"] < options["c2"]:
        raise ConfigError(f"{path}.c2: must be greater than c1 ({options['c1']:g}), got {options['c2']:g}")
    return {"name": name, **options}


def search(spec: Mapping[str, Any], phi: Phi, phi_slope: PhiSlope, phi0: float, slope0: float) -> SearchResult:
    """Run the line search a resolved spec describes."""
    options = {k: v for k, v in spec.items() if k != "name"}
    return LINE_SEARCHES.get(spec["name"]).search(phi, phi_slope, phi0, slope0, **options)
