"""Learning-rate schedules: η as a function of the epoch t (or, with ``per: step``, of the update count t).

A schedule is stateful, like torch.optim.lr_scheduler: ``lr`` is the rate for the coming epoch and
``step()`` advances it once the epoch is done (t = 0 for the first epoch). η₀ is the optimizer's ``lr``.
Each one equals its torch counterpart (checked in the tests); the state (t, and plateau's counters) is
explicit so that a checkpoint can save it.

Each schedule is one class, and the class is its record: ``OPTIONS``, ``formula`` (η_t in one line), ``rule``
(its row of the table of schedules, as `gdtrain explain NAME` prints it), ``equivalent`` (the
torch.optim.lr_scheduler class), ``references`` and ``context`` — ``WARMUP`` (below), the linear warm-up any
schedule takes.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any, Dict, Mapping, Optional, Tuple

from .errors import ConfigError
from .metrics import WATCHABLE
from .options import REQUIRED, Option, choice, increasing_integers, integer, number, optional, resolve_options
from .registry import Registry
from .state import NamedState

COMMON_OPTIONS = {
    "per": Option("epoch", choice("epoch", "step"), "advance once per epoch (default) or once per update"),
    "warmup_epochs": Option(0, integer(0), "linear warm-up length W (in updates with per: step)"),
    "warmup_start_factor": Option(1 / 3, number(0, 1, low_open=True), "warm-up starts at η₀ · this factor"),
}
MONITORS = WATCHABLE  # the epoch metrics plateau may watch (metrics.py)
# The warm-up COMMON_OPTIONS configure: what `gdtrain explain` prints after every schedule's rule
WARMUP = """\
Warm-up (any schedule): with ``warmup_epochs: W`` the first W epochs ramp linearly,
η_t = η₀ (s + (1 − s) t/W) for t < W with s = ``warmup_start_factor``, and the schedule then runs from its own
t = 0 — torch's SequentialLR([LinearLR(s, total_iters=W), schedule], milestones=[W])."""


class Schedule(NamedState):
    OPTIONS: Dict[str, Option] = {}
    formula = ""  # η_t in one line: `gdtrain list schedules`, `explain`, the schema's description
    rule = ""  # its row of the table of schedules: what `gdtrain explain` prints under "from gdtrain/schedules.py"
    equivalent: Optional[str] = None  # the torch.optim.lr_scheduler class it equals
    context: Tuple[str, ...] = (WARMUP,)  # the paragraphs `gdtrain explain` prints after the rule
    references: Tuple[str, ...] = ()  # keys of ideas.REFERENCES

    def __init__(self, base_lr: float, **options: Any):
        self.base_lr = float(base_lr)
        self.options = options
        self.t = 0  # how many times step() has been called
        self.lr = self.base_lr

    def step(self, metrics: Optional[Mapping[str, float]] = None) -> None:
        """Advance one epoch (or update); ``metrics`` are the epoch's logged values (plateau reads one)."""
        self.t += 1
        self.lr = self.lr_at(self.t)

    def lr_at(self, t: int) -> float:
        raise NotImplementedError

    STATE = ("t", "lr")  # what a checkpoint saves (plain numbers)


class Constant(Schedule):
    formula = "η_t = η₀"
    rule = "constant       η_t = η₀"

    def lr_at(self, t):
        return self.base_lr


GAMMA = "multiplicative factor γ"


class Step(Schedule):
    OPTIONS = {"step_size": Option(REQUIRED, integer(1), "epochs between decays"),
               "gamma": Option(0.1, number(0, low_open=True), GAMMA)}
    formula = "η_t = η₀ · γ^⌊t / step_size⌋"
    equivalent = "torch.optim.lr_scheduler.StepLR"
    rule = "step           η_t = η₀ · γ^⌊t / step_size⌋                                   (StepLR)"

    def lr_at(self, t):
        return self.base_lr * self.options["gamma"] ** (t // self.options["step_size"])


class MultiStep(Schedule):
    OPTIONS = {"milestones": Option(REQUIRED, increasing_integers(1), "epochs at which η is multiplied by γ"),
               "gamma": Option(0.1, number(0, low_open=True), GAMMA)}
    formula = "η_t = η₀ · γ^(number of milestones ≤ t)"
    equivalent = "torch.optim.lr_scheduler.MultiStepLR"
    rule = "multistep      η_t = η₀ · γ^(number of milestones ≤ t)                        (MultiStepLR)"

    def lr_at(self, t):
        return self.base_lr * self.options["gamma"] ** bisect_right(self.options["milestones"], t)


class Exponential(Schedule):
    OPTIONS = {"gamma": Option(REQUIRED, number(0, low_open=True), GAMMA + " per epoch")}
    formula = "η_t = η₀ · γ^t"
    equivalent = "torch.optim.lr_scheduler.ExponentialLR"
    rule = "exponential    η_t = η₀ · γ^t                                                  (ExponentialLR)"

    def lr_at(self, t):
        return self.base_lr * self.options["gamma"] ** t


class Cosine(Schedule):
    OPTIONS = {"t_max": Option(None, optional(integer(1)), "half period T (null: the whole run)"),
               "eta_min": Option(0.0, number(0), "the lowest rate η_min")}
    formula = "η_t = η_min + (η₀ − η_min)(1 + cos(π t / T))/2"
    equivalent = "torch.optim.lr_scheduler.CosineAnnealingLR"
    references = ("loshchilov",)
    rule = "cosine         η_t = η_min + (η₀ − η_min)(1 + cos(π t / T))/2                  (CosineAnnealingLR)"

    def state_dict(self):  # t_max may have come from the run's length (null): keep the one the run started with
        return {**super().state_dict(), "t_max": self.options["t_max"]}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.options = {**self.options, "t_max": state["t_max"]}

    def lr_at(self, t):
        eta_min = self.options["eta_min"]
        return eta_min + (self.base_lr - eta_min) * (1 + math.cos(math.pi * t / self.options["t_max"])) / 2


class InverseTime(Schedule):
    OPTIONS = {"decay": Option(1.0, number(0, low_open=True), "decay rate in η₀/(1 + decay·t)")}
    formula = "η_t = η₀ / (1 + decay · t)"
    references = ("robbins_monro",)
    rule = """\
inverse_time   η_t = η₀ / (1 + decay · t)         diminishing step sizes (Robbins & Monro): Σ η_t = ∞,
                                                  η_t → 0, what subgradient descent needs to converge"""

    def lr_at(self, t):
        return self.base_lr / (1 + self.options["decay"] * t)


class InverseSqrt(Schedule):
    formula = "η_t = η₀ / √(t + 1)"
    references = ("robbins_monro", "boyd_subgradient")
    rule = """\
inverse_sqrt   η_t = η₀ / √(t + 1)                diminishing step sizes (Robbins & Monro): Σ η_t = ∞,
                                                  η_t → 0, what subgradient descent needs to converge"""

    def lr_at(self, t):
        return self.base_lr / math.sqrt(t + 1)


class Plateau(Schedule):
    """torch.optim.lr_scheduler.ReduceLROnPlateau, stepped with the epoch's metrics."""

    OPTIONS = {
        "monitor": Option("val_loss", choice(*MONITORS), "the logged metric to watch"),
        "mode": Option("min", choice("min", "max"), "min: lower is better; max: higher is better"),
        "factor": Option(0.1, number(0, 1, low_open=True, high_open=True), "η ← η · factor on a plateau"),
        "patience": Option(10, integer(0), "epochs without improvement before reducing"),
        "threshold": Option(1e-4, number(0), "smallest change that counts as an improvement"),
        "threshold_mode": Option("rel", choice("rel", "abs"), "rel: best·(1 ∓ threshold); abs: best ∓ threshold"),
        "cooldown": Option(0, integer(0), "epochs to wait after a reduction"),
        "min_lr": Option(0.0, number(0), "lower bound on η"),
        "eps": Option(1e-8, number(0), "reductions smaller than this are skipped"),
    }
    formula = "η ← max(η · factor, min_lr) after `patience` epochs without improvement"
    equivalent = "torch.optim.lr_scheduler.ReduceLROnPlateau"
    rule = """\
plateau        η ← max(η · factor, min_lr) when the monitored metric has not improved for
               ``patience`` epochs (improved: m < best·(1 − threshold), mode min)  (ReduceLROnPlateau)"""
    STATE = ("t", "lr", "best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, base_lr, **options):
        super().__init__(base_lr, **options)
        self.best = math.inf if options["mode"] == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def is_better(self, value: float) -> bool:
        o = self.options
        if o["mode"] == "min":
            bound = self.best * (1 - o["threshold"]) if o["threshold_mode"] == "rel" else self.best - o["threshold"]
            return value < bound
        bound = self.best * (1 + o["threshold"]) if o["threshold_mode"] == "rel" else self.best + o["threshold"]
        return value > bound

    def step(self, metrics=None):
        o = self.options
        self.t += 1
        if not metrics or o["monitor"] not in metrics:
            raise ValueError(f"plateau needs the epoch's {o['monitor']} to step, got {metrics!r}")
        value = float(metrics[o["monitor"]])
        if self.is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > o["patience"]:
            new_lr = max(self.lr * o["factor"], o["min_lr"])
            if self.lr - new_lr > o["eps"]:
                self.lr = new_lr
            self.cooldown_counter = o["cooldown"]
            self.num_bad_epochs = 0


class Warmup(Schedule):
    """η_t = η₀(s + (1 − s) t/W) for t < W, then ``inner`` from its own t = 0 (LinearLR, then the schedule)."""

    def __init__(self, inner: Schedule, epochs: int, start_factor: float):
        super().__init__(inner.base_lr)
        self.inner, self.epochs, self.start_factor = inner, epochs, start_factor
        self.lr = self.lr_at(0)

    def step(self, metrics=None):
        self.t += 1
        if self.t > self.epochs:
            self.inner.step(metrics)
        self.lr = self.lr_at(self.t)

    def state_dict(self):
        return {**super().state_dict(), "inner": self.inner.state_dict()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.inner.load_state_dict(state["inner"])

    def lr_at(self, t):
        if t >= self.epochs:
            return self.inner.lr
        s = self.start_factor
        return self.base_lr * (s + (1 - s) * t / self.epochs)


SCHEDULES: Registry[type] = Registry("schedule")
for _name, _cls in (("constant", Constant), ("step", Step), ("multistep", MultiStep), ("exponential", Exponential),
                    ("cosine", Cosine), ("inverse_time", InverseTime), ("inverse_sqrt", InverseSqrt),
                    ("plateau", Plateau)):
    SCHEDULES.add(_name, _cls)


def resolve_schedule(spec: Mapping[str, Any], path: str = "schedule") -> Dict[str, Any]:
    """``{name, **options}`` with defaults filled and values checked."""
    spec = dict(spec)
    name = spec.pop("name", "constant")
    cls = SCHEDULES.get(name, f"{path}.name")
    resolved = {"name": name, **resolve_options({**COMMON_OPTIONS, **cls.OPTIONS}, spec, path, f"schedule '{name}'")}
    if name == "plateau" and resolved["per"] == "step":
        raise ConfigError(f"{path}.per: plateau watches an epoch's metrics, so it can only step per epoch")
    return resolved


def make_schedule(spec: Mapping[str, Any], base_lr: float, total: Optional[int] = None) -> Schedule:
    """The schedule a resolved spec describes; ``total`` (epochs, or updates with per: step) fills t_max: null."""
    options = {k: v for k, v in spec.items() if k not in ("name", *COMMON_OPTIONS)}
    if "t_max" in options and options["t_max"] is None:
        if total is None:
            raise ValueError("cosine with t_max: null needs the run's length: pass total (epochs or updates)")
        options["t_max"] = max(1, total - spec["warmup_epochs"])
    schedule = SCHEDULES.get(spec["name"])(base_lr, **options)
    if spec["warmup_epochs"]:
        schedule = Warmup(schedule, spec["warmup_epochs"], spec["warmup_start_factor"])
    return schedule
