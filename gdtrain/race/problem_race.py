"""Optimizer races on a 2-D test function: every contestant from the same start, every path on one contour map.

    from gdtrain.race import problem_race
    race = problem_race.plan(load_config("configs/rosenbrock.yaml"))
    result = problem_race.run(race, out="runs/compare-rosenbrock")
    result.standings[0].label, result.standings[0].steps_to_target

``gdtrain compare-optimizers`` comes here when the config has a ``problem:``. A contestant is an ordinary
``experiment.fit`` of the config with only the optimizer replaced (``compare.optimizers`` or ``--optimizers``, as
in a network race), or plain gradient descent with a line search (``compare.line_searches``). A problem has no
data and no randomness, so there are no seeds, no mini-batches and no tuning: the race is one deterministic run
per contestant, run one after the other (each takes milliseconds).

The table (``comparison.csv``, one row per contestant, best first):
  steps_to_target   the first step k with f(θ_k) − f* < tol (``--target-loss`` / ``compare.target_loss``, default
                    1e-6); empty when never reached (always, on ``saddle``: f* = −∞)
  final_f, final_gap, final_distance, final_grad_norm    f(θ), f − f*, ‖θ − x*‖ (the nearest), ‖∇f(θ)‖ at the end
  status            the run's stop_reason: completed, diverged, line_search, tol_grad, ...
Ranking: runs that did not diverge first, then the target reached in the fewest steps, then the lowest final gap
(the lowest final f when f* is unknown), then the smallest final distance.

Unlike the rest of the race package, this module stands above the rendering it reuses (landscape.py reads each
path back from metrics.csv, render/describe.py describes each contestant), so ``gdtrain.race`` does not import it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from .. import plot, rundir
from ..config import Config, from_dict, to_dict
from ..contestants import DEFAULT_OPTIMIZERS, parse_optimizers, resolve_contestants
from ..errors import ConfigError
from ..experiment import fit
from ..landscape import path_from_rows
from ..linesearch import LINE_SEARCHES
from ..optimizers import describe_optimizer
from ..options import describe, describe_component
from ..problems import make_problem

DEFAULT_TOL = 1e-6
COLUMNS = ("label", "method", "lr", "steps", "steps_to_target", "final_f", "final_gap", "final_distance",
           "final_grad_norm", "x", "y", "status", "run_dir")


@dataclass
class Contestant:
    label: str
    optimizer: Dict[str, Any]  # a resolved optimizer spec (plain sgd for a line search)
    line_search: Optional[Dict[str, Any]] = None

    def describe(self) -> str:
        """'momentum = sgd(lr=0.001, momentum=0.9)' or 'backtracking = gradient descent with backtracking(...)'."""
        if self.line_search is not None:
            spec = self.line_search
            return f"{self.label} = GD + {describe_component(spec, LINE_SEARCHES.get(spec['name']).options)}"
        return f"{self.label} = {describe_optimizer(self.optimizer)}"


@dataclass
class Race:
    config: Config
    contestants: List[Contestant]
    tol: float

    @property
    def problem(self):
        return make_problem(self.config.problem)


def plan(config: Config, optimizers: Optional[str] = None, modes: Optional[str] = None, seeds: Optional[int] = None,
         tune_lr: Optional[bool] = None, target_loss: Optional[float] = None,
         target_metric: Optional[str] = None) -> Race:
    """The race on ``config.problem`` (the arguments are compare-optimizers' options, as for ``compare.plan``)."""
    section = config.compare
    refused = [(modes is not None or (section is not None and section.modes is not None), "--modes",
                "a problem has no samples, so every mode is the same full-gradient step"),
               ((seeds or 1) > 1 or (section is not None and section.seeds > 1), "--seeds",
                "a problem race has no randomness: every seed gives the same paths"),
               (bool(tune_lr) or (tune_lr is None and section is not None and section.tune_lr), "--tune-lr",
                "tuning chooses by validation loss, and a problem has no validation data"),
               (target_metric is not None or (section is not None and section.target_metric is not None),
                "--target-metric", "a problem has no validation metrics; use --target-loss TOL (f − f* < TOL)")]
    for bad, option, why in refused:
        if bad:
            raise ConfigError(f"{option}: {why}")
    if optimizers is not None:
        specs, searches = parse_optimizers(optimizers), []
    else:
        specs = (section.optimizers if section is not None and section.optimizers is not None
                 else resolve_contestants(list(DEFAULT_OPTIMIZERS)))
        searches = section.line_searches if section is not None and section.line_searches else []
    contestants = [Contestant(item["label"], {k: v for k, v in item.items() if k != "label"}) for item in specs]
    labels = {c.label for c in contestants}
    for item in searches:
        if item["label"] in labels:
            raise ConfigError(f"compare.line_searches: the label '{item['label']}' is also an optimizer's; give it "
                              "another (label: ...)")
        contestants.append(Contestant(item["label"], {"name": "sgd"},
                                      {k: v for k, v in item.items() if k != "label"}))
    tol = target_loss if target_loss is not None else (
        section.target_loss if section is not None and section.target_loss is not None else DEFAULT_TOL)
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ConfigError(f"--target-loss: the tolerance of f − f* must be a number > 0, got {describe(tol)}")
    race = Race(config, contestants, float(tol))
    for c in contestants:  # every contestant's config is checked before anything runs
        contestant_config(race, c)
    return race


def contestant_config(race: Race, contestant: Contestant) -> Config:
    """The config with this contestant's optimizer (or line search), and no compare section."""
    raw = to_dict(race.config)
    raw.pop("compare", None)
    raw["optimizer"] = dict(contestant.optimizer)
    if contestant.line_search is not None:
        raw["schedule"] = {"name": "constant"}
        raw["clip"] = {"norm": None, "value": None}
    raw["training"]["line_search"] = contestant.line_search
    raw["output"] = None
    try:
        return from_dict(raw, base_dir=race.config.base_dir, name=race.config.name)
    except ConfigError as exc:
        raise ConfigError(f"compare ({contestant.label}): {exc}") from None


@dataclass
class Outcome:
    label: str
    method: str
    lr: Optional[float]
    run_dir: str
    path: np.ndarray  # θ₀, θ₁, ... (the start and each step's point)
    f: List[float]  # f(θ₀), f(θ₁), ...
    status: str
    message: str = ""
    steps_to_target: Optional[int] = None
    summary: Dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.path) - 1

    @property
    def final(self) -> Dict[str, Any]:
        return self.summary.get("problem", {})


@dataclass
class RaceResult:
    race: Race
    out_dir: Path
    standings: List[Outcome]

    @property
    def paths(self) -> Dict[str, np.ndarray]:
        return {o.label: o.path for o in self.standings}


def _rank_key(o: Outcome):
    final = o.final
    gap = final.get("gap")
    value = gap if gap is not None else final.get("f")
    value = value if value is not None and math.isfinite(value) else math.inf
    distance = final.get("distance", math.inf)
    return (o.status == "diverged", o.steps_to_target is None, o.steps_to_target or 0, value,
            distance if math.isfinite(distance) else math.inf)


def run(race: Race, out: Optional[str] = None, overwrite: bool = False,
        stop_requested: Optional[Callable[[], bool]] = None,
        on_outcome: Optional[Callable[[Outcome], None]] = None) -> RaceResult:
    """Run every contestant (``experiment.fit`` into DIR/<label>/), rank them and write comparison.csv and
    summary.json."""
    out_dir = rundir.prepare(out, f"runs/compare-{race.config.name}", overwrite)
    problem = race.problem
    outcomes = []
    for c in race.contestants:
        result = fit(contestant_config(race, c), out=str(out_dir / c.label), overwrite=True,
                     stop_requested=stop_requested)
        rows = plot.read_metrics(result.run_dir / rundir.METRICS)
        path = path_from_rows(problem, rows)
        values = [problem.value(path[0])] + [row["f"] for row in rows]
        reached = next((k for k, v in enumerate(values) if math.isfinite(problem.minimum)
                        and v - problem.minimum < race.tol), None)
        outcome = Outcome(c.label, c.describe().split(" = ", 1)[1],
                          None if c.line_search is not None else c.optimizer["lr"], str(result.run_dir), path, values,
                          result.summary["stop_reason"], result.summary.get("message", ""), reached, result.summary)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
        if result.summary["stop_reason"] == "interrupted":
            break
    standings = sorted(outcomes, key=_rank_key)
    result = RaceResult(race, out_dir, standings)
    write_outputs(result)
    return result


def csv_rows(result: RaceResult) -> List[Dict[str, Any]]:
    """comparison.csv's rows, best first (numbers as Python writes them: full precision; None is empty)."""
    rows = []
    for o in result.standings:
        final = o.final
        rows.append({"label": o.label, "method": o.method, "lr": o.lr, "steps": o.steps,
                     "steps_to_target": o.steps_to_target, "final_f": final.get("f"), "final_gap": final.get("gap"),
                     "final_distance": final.get("distance"), "final_grad_norm": final.get("grad_norm"),
                     "x": final.get("x"), "y": final.get("y"), "status": o.status,
                     "run_dir": str(Path(o.run_dir).relative_to(result.out_dir))})
    return rows


def write_outputs(result: RaceResult) -> None:
    """DIR/comparison.csv (COLUMNS, best first) and DIR/summary.json."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(csv_rows(result))
    rundir.atomic_write(result.out_dir / "comparison.csv", buffer.getvalue())
    problem = result.race.problem
    rundir.save_json(result.out_dir / rundir.SUMMARY, {
        "problem": problem.as_dict(), "tol": result.race.tol, "f_star": problem.minimum,
        "winner": result.standings[0].label if result.standings else None,
        "standings": csv_rows(result)})
