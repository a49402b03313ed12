"""Learning-rate schedules: η as a function of the epoch (or, with ``per: step``, of the update count).

A schedule is stateful, like torch.optim.lr_scheduler: ``lr`` is the rate for the coming epoch and
``step()`` advances it once the epoch is done. Its state is explicit so that a checkpoint can save it.

constant    η_t = η₀
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from .options import Option, choice, resolve_options
from .registry import Registry

COMMON_OPTIONS = {
    "per": Option("epoch", choice("epoch", "step"), "advance once per epoch (default) or once per update"),
}


class Schedule:
    OPTIONS: Dict[str, Option] = {}
    formula = ""

    def __init__(self, base_lr: float, **options: Any):
        self.base_lr = float(base_lr)
        self.options = options
        self.t = 0  # how many times step() has been called
        self.lr = self.base_lr

    def step(self, metric: float | None = None) -> None:
        self.t += 1
        self.lr = self.compute_lr()

    def compute_lr(self) -> float:
        raise NotImplementedError


class Constant(Schedule):
    """η_t = η₀."""

    formula = "η_t = η₀"

    def compute_lr(self) -> float:
        return self.base_lr


SCHEDULES: Registry[type] = Registry("schedule")
SCHEDULES.add("constant", Constant)


def resolve_schedule(spec: Mapping[str, Any], path: str = "schedule") -> Dict[str, Any]:
    spec = dict(spec)
    name = spec.pop("name", "constant")
    cls = SCHEDULES.get(name, f"{path}.name")
    return {"name": name, **resolve_options({**COMMON_OPTIONS, **cls.OPTIONS}, spec, path, f"schedule '{name}'")}


def make_schedule(spec: Mapping[str, Any], base_lr: float) -> Schedule:
    options = {k: v for k, v in spec.items() if k not in ("name", *COMMON_OPTIONS)}
    return SCHEDULES.get(spec["name"])(base_lr, **options)
