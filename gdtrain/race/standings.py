"""A race's standings: each contestant's statistics over seeds, its wins and rank; the tuning's choice of lr.

Ranking: contestants that never diverged first, then by the lowest mean best validation loss (without validation
data: the final training loss), ties by the final training loss. A seed's winner is ranked the same way within the
seed; ``wins`` counts them. Statistics are mean ± sample std over seeds (``Stat``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .job import Outcome
from .plan import Contestant, Race

@dataclass
class Stat:
    """mean ± sample std of a quantity over seeds (std None with one value), and how many values it has."""

    mean: Optional[float]
    std: Optional[float]
    n: int

    @classmethod
    def of(cls, values: Sequence[Optional[float]]) -> "Stat":
        xs = [float(v) for v in values if v is not None and math.isfinite(v)]
        if not xs:
            return cls(None, None, 0)
        mean = sum(xs) / len(xs)
        std = math.sqrt(sum((x - mean) * (x - mean) for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
        return cls(mean, std, len(xs))

    def as_dict(self) -> Dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "n": self.n}


STAT_FIELDS = ("initial_loss", "final_train_loss", "best_val_loss", "best_val_metric", "epochs_to_target",
               "seconds_to_target", "updates_to_target", "grads_to_target", "seconds")


@dataclass
class Standing:
    """One contestant over all seeds: its statistics, wins and rank."""

    contestant: Contestant
    outcomes: List[Outcome]
    stats: Dict[str, Stat] = field(default_factory=dict)
    rank: int = 0
    wins: int = 0
    winner: bool = False

    @property
    def label(self) -> str:
        return self.contestant.label

    @property
    def lr(self) -> float:
        return self.contestant.lr

    @property
    def diverged(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.status == "diverged"]

    @property
    def failed(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def reached(self) -> int:
        return sum(1 for o in self.outcomes if o.epochs_to_target is not None)


@dataclass
class Tuning:
    """One contestant's learning-rate search on the first seed."""

    label: str
    default_lr: float
    grid: List[float]
    outcomes: List[Outcome]
    chosen_lr: Optional[float]  # None when every lr of the grid diverged (the race keeps default_lr)

    @property
    def at_edge(self) -> bool:
        """The chosen lr is the grid's smallest or largest: the best one may lie beyond the grid."""
        return self.chosen_lr is not None and len(self.grid) > 1 and self.chosen_lr in (min(self.grid), max(self.grid))

    def as_dict(self) -> Dict[str, Any]:
        return {"default_lr": self.default_lr, "chosen_lr": self.chosen_lr, "at_edge": self.at_edge,
                "results": [{"lr": o.lr, "best_val_loss": o.best_val_loss, "final_train_loss": o.final_train_loss,
                             "status": o.status, "run_dir": o.run_dir} for o in self.outcomes]}


@dataclass
class RaceResult:
    race: Race
    out_dir: Path
    outcomes: List[Outcome]  # the race's runs, seed by seed, contestants in order
    standings: List[Standing]  # ranked
    tuning: List[Tuning] = field(default_factory=list)
    workers: int = 1
    seconds: float = 0.0  # wall time of the whole race, tuning included
    metric: str = "accuracy"

    @property
    def winner(self) -> Optional[Standing]:
        return next((s for s in self.standings if s.winner), None)

    @property
    def ranked_by(self) -> str:
        return "best_val_loss" if self.race.has_validation else "final_train_loss"

    def initial_losses(self) -> Dict[int, List[Optional[float]]]:
        """seed → every contestant's J(θ₀) (None for a run that failed before measuring it): identical within a
        seed when the race is fair."""
        out: Dict[int, List[Optional[float]]] = {}
        for o in self.outcomes:
            out.setdefault(o.seed, []).append(o.initial_loss)
        return out

    @property
    def fair(self) -> bool:
        """Every measured J(θ₀) of a seed is the same number."""
        return all(len({v for v in values if v is not None}) <= 1 for values in self.initial_losses().values())


def _sort_key(outcome_or_stats, by_val: bool):
    def clean(v):
        return v if v is not None and math.isfinite(v) else math.inf

    if isinstance(outcome_or_stats, Outcome):
        o = outcome_or_stats
        return (clean(o.best_val_loss) if by_val else 0.0, clean(o.final_train_loss))
    s = outcome_or_stats
    return (clean(s["best_val_loss"].mean) if by_val else 0.0, clean(s["final_train_loss"].mean))


def rank(race: Race, outcomes: Sequence[Outcome]) -> List[Standing]:
    """Standings in rank order (see the module docstring), with each seed's winner counted."""
    by_val = race.has_validation
    standings = [Standing(c, [o for o in outcomes if o.label == c.label]) for c in race.contestants]
    for s in standings:
        s.stats = {name: Stat.of([getattr(o, name) for o in s.outcomes]) for name in STAT_FIELDS}
    for seed in race.seeds:
        ok = [o for o in outcomes if o.seed == seed and o.ok]
        if ok:
            best = min(ok, key=lambda o: _sort_key(o, by_val))
            next(s for s in standings if s.label == best.label).wins += 1
    order = sorted(standings, key=lambda s: (len(s.diverged) + len(s.failed) > 0, _sort_key(s.stats, by_val)))
    for i, s in enumerate(order, start=1):
        s.rank = i
    if order and not order[0].diverged and not order[0].failed:
        order[0].winner = True
    return order


def choose_lr(outcomes: Sequence[Outcome]) -> Optional[float]:
    """The grid lr with the lowest best validation loss (ties: the lower final train loss, then the smaller lr);
    diverged and failed runs are out. None when no run qualifies."""
    ok = [o for o in outcomes if o.ok and o.best_val_loss is not None]
    if not ok:
        return None
    return min(ok, key=lambda o: (o.best_val_loss, o.final_train_loss if o.final_train_loss is not None else math.inf,
                                  o.lr)).lr
