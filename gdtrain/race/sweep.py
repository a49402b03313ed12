"""``gdtrain sweep``: a grid (or random) search over config keys, each point an ordinary run, ranked by a metric.

    sweep = plan_sweep(load_config("configs/digits.yaml"), grid={"optimizer.lr": [0.01, 0.1]}, seeds=3)
    result = run_sweep(sweep, out="runs/sweep-digits", cluster="local:2")
    result.ranking[0].label, result.ranking[0].best.mean

The protocol:

- **Points.** Every combination of the grid's values (``sweep_space``); ``random: N`` keeps N of them. A point's
  run is the base config with its keys set (as ``--set`` would: ``optimizer.name`` starts a fresh optimizer
  section with the base lr, ``schedule.name`` a fresh schedule section) and the seed set; every point's config
  is built and checked before anything trains, so one bad value refuses the whole sweep, naming the point and key.
- **Seeds.** Each point runs with seeds ``seed, seed + 1, ...``: the same data split, initial weights and batches
  across points of a seed (``experiment.seed_streams``), as in a race.
- **The metric** (default: val_accuracy or val_r2 with validation data, else train_loss) is read per epoch;
  ``best`` is its best epoch (max for accuracy and r2, min otherwise), ``final`` its last. A point's score is the
  mean ± sample std over seeds of ``best``; points with a diverged or failed run rank last.
- **Files.** DIR/<label>/ (one seed) or DIR/<label>/seed-<s>/ are normal run directories; DIR/sweep.csv has one
  row per point and seed (swept keys as columns), rewritten atomically as each row arrives, so an interrupted sweep
  keeps every finished run; DIR/sweep.json has the plan and the ranking. ``resume=DIR`` runs only the rows that
  are missing or did not finish (stopped, failed).
"""

from __future__ import annotations

import csv
import io
import json
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import rundir
from ..config import Config, SweepConfig, from_dict, set_path, to_dict
from ..errors import ConfigError
from ..experiment import setup
from ..metrics import WATCHABLE, check_watchable, higher_is_better, primary_metric
from ..registry import unknown_name_message
from ..sweep_space import format_value, grid_points, resolve_grid, sample_points, unique_labels
from .backends import open_runner
from .executor import Listener, RaceEvent, RaceInterrupted
from .job import Job, Outcome
from .plan import task_of
from .standings import Stat

CSV_NAME = "sweep.csv"
JSON_NAME = "sweep.json"
FINISHED = ("completed", "converged", "early_stopped", "diverged")  # statuses a resumed sweep does not run again


@dataclass
class Point:
    label: str
    values: Dict[str, Any]  # key path → value, in the grid's key order


@dataclass
class Sweep:
    config: Config  # the base config (its sweep section read)
    keys: List[str]
    points: List[Point]
    seeds: List[int]
    metric: str
    grid: Dict[str, List[Any]] = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return higher_is_better(self.metric)

    @property
    def runs(self) -> int:
        return len(self.points) * len(self.seeds)


def default_metric(config: Config) -> str:
    """val_accuracy (classification) or val_r2 (regression) with validation data, else train_loss."""
    if config.data.validation_split > 0:
        return f"val_{primary_metric(task_of(config))}"
    return "train_loss"


def point_config(sweep: Sweep, point: Point, seed: int) -> Config:
    """The base config with the point's keys and ``seed`` set: what its run trains."""
    raw = to_dict(sweep.config)
    for section in ("compare", "sweep"):
        raw.pop(section, None)
    for key, value in point.values.items():
        if key == "optimizer.name":  # a fresh optimizer at the base lr: sgd's momentum means nothing to adam
            raw["optimizer"] = {"name": value, "lr": raw["optimizer"]["lr"]}
        elif key == "schedule.name":
            raw["schedule"] = {"name": value}
    for key, value in point.values.items():
        if key not in ("optimizer.name", "schedule.name"):
            set_path(raw, key, value)
    raw["seed"] = seed
    raw["output"] = None
    try:
        return from_dict(raw, base_dir=sweep.config.base_dir, name=sweep.config.name)
    except ConfigError as exc:
        raise ConfigError(f"sweep point {point.label} ({_describe(point)}): {exc}") from None


def _describe(point: Point) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in point.values.items())


def plan_sweep(config: Config, grid: Optional[Dict[str, List[Any]]] = None, seeds: Optional[int] = None,
               random: Optional[int] = None, metric: Optional[str] = None) -> Sweep:
    """The sweep ``config``'s ``sweep:`` section and the command line describe (the arguments win; a ``grid`` key
    replaces the section's values for that key); every point's config is validated here, and the data loaded once."""
    section = config.sweep or SweepConfig()
    merged = dict(section.grid or {})
    merged.update(resolve_grid(grid, "--grid") if grid else {})
    if not merged:
        raise ConfigError("sweep: nothing to sweep; give --grid KEY=V1,V2,... (e.g. --grid optimizer.lr=0.01,0.1) "
                          "or a sweep.grid section")
    n_seeds = section.seeds if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ConfigError(f"--seeds: must be an integer >= 1, got {n_seeds!r}")
    n_random = section.random if random is None else random
    if n_random is not None and (isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 1):
        raise ConfigError(f"--random: must be an integer >= 1, got {n_random!r}")
    points = grid_points(merged)
    if n_random is not None:
        points = sample_points(points, n_random, config.seed)
    name = metric if metric is not None else section.metric or default_metric(config)
    where = "--metric" if metric is not None else "sweep.metric"
    if name not in WATCHABLE:
        raise ConfigError(f"{where}: {unknown_name_message('metric', name, WATCHABLE)}")
    check_watchable(name, where, task_of(config), config.data.validation_split > 0, config.loss)
    sweep = Sweep(config, list(merged), [Point(label, values) for label, values in unique_labels(points)],
                  [config.seed + i for i in range(n_seeds)], name, merged)
    configs = [point_config(sweep, p, sweep.seeds[0]) for p in sweep.points]  # every point, before anything runs
    setup(configs[0])  # and the data: a DataError now, not once per run
    return sweep


def run_dir(out_dir: Path, sweep: Sweep, point: Point, seed: int) -> str:
    return str(out_dir / point.label if len(sweep.seeds) == 1 else out_dir / point.label / f"seed-{seed}")


def jobs_for(sweep: Sweep, out_dir: Path, skip: Sequence[Tuple[str, int]] = ()) -> List[Job]:
    """The runs still to do, point by point and seed by seed, leaving out the (label, seed) pairs in ``skip``."""
    done = set(skip)
    jobs = []
    for point in sweep.points:
        for seed in sweep.seeds:
            if (point.label, seed) in done:
                continue
            config = point_config(sweep, point, seed)
            jobs.append(Job("sweep", point.label, seed, config.optimizer["lr"], config.training.mode,
                            config.optimizer["name"], config, run_dir(out_dir, sweep, point, seed)))
    return jobs


# --- rows ------------------------------------------------------------------------------------------------------

def columns(sweep: Sweep) -> List[str]:
    """sweep.csv's columns: the point, its swept values, the seed, the status, then the numbers."""
    m = sweep.metric
    return (["point"] + sweep.keys + ["seed", "status", f"final_{m}", f"best_{m}", "best_epoch", "final_train_loss",
                                      "best_val_loss", "epochs", "diverged_epoch", "seconds", "run_dir", "message"])


def _cell(value) -> str:
    if value is None:
        return ""
    return format_value(value)


def metric_summary(outcome: Outcome, metric: str, higher: bool) -> Tuple[Optional[float], Optional[float],
                                                                         Optional[int]]:
    """(final, best, best epoch) of ``metric`` over the run's epochs; non-finite values (a diverged epoch) skipped."""
    values = outcome.history.get(metric, [])
    finite = [(v, i + 1) for i, v in enumerate(values) if math.isfinite(v)]
    if not finite:
        return None, None, None
    final = values[-1] if math.isfinite(values[-1]) else None
    if higher:  # (ties: the earliest epoch)
        best, epoch = max(finite, key=lambda pair: (pair[0], -pair[1]))
    else:
        best, epoch = min(finite)
    return final, best, epoch


def row(sweep: Sweep, point: Point, outcome: Outcome, out_dir: Path) -> Dict[str, str]:
    final, best, epoch = metric_summary(outcome, sweep.metric, sweep.higher_is_better)
    try:
        where = str(Path(outcome.run_dir).relative_to(out_dir))
    except ValueError:
        where = outcome.run_dir
    out = {"point": point.label, **{k: _cell(point.values[k]) for k in sweep.keys}, "seed": str(outcome.seed),
           "status": outcome.status, f"final_{sweep.metric}": _cell(final), f"best_{sweep.metric}": _cell(best),
           "best_epoch": _cell(epoch), "final_train_loss": _cell(outcome.final_train_loss),
           "best_val_loss": _cell(outcome.best_val_loss), "epochs": str(outcome.epochs),
           "diverged_epoch": _cell(outcome.diverged_epoch), "seconds": f"{outcome.seconds:.3f}", "run_dir": where,
           "message": outcome.message if outcome.status in ("failed", "diverged") else ""}
    return out


def write_csv(path: Path, header: List[str], rows: List[Dict[str, str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    rundir.atomic_write(path, buffer.getvalue())


def read_csv(path: Path) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- ranking ---------------------------------------------------------------------------------------------------

@dataclass
class PointStanding:
    label: str
    values: Dict[str, str]  # as written in sweep.csv
    best: Stat  # the metric's best epoch, over seeds
    final: Stat
    runs: int
    diverged: int
    failed: int
    seconds: float
    rank: int = 0


def _number(text: str) -> Optional[float]:
    try:
        return float(text) if text not in ("", None) else None
    except ValueError:
        return None


def rank_rows(rows: List[Dict[str, str]], keys: Sequence[str], metric: str, higher: bool) -> List[PointStanding]:
    """Points in rank order: those without a diverged or failed run first, then by the mean best metric."""
    by_point: Dict[str, List[Dict[str, str]]] = {}
    for r in rows:
        by_point.setdefault(r["point"], []).append(r)
    standings = []
    for label, mine in by_point.items():
        ok = [r for r in mine if r["status"] not in ("diverged", "failed")]
        standings.append(PointStanding(
            label, {k: mine[0].get(k, "") for k in keys}, Stat.of([_number(r[f"best_{metric}"]) for r in ok]),
            Stat.of([_number(r[f"final_{metric}"]) for r in ok]), len(mine),
            sum(r["status"] == "diverged" for r in mine), sum(r["status"] == "failed" for r in mine),
            sum(_number(r["seconds"]) or 0.0 for r in mine)))

    def key(s: PointStanding):
        mean = s.best.mean if s.best.mean is not None else (-math.inf if higher else math.inf)
        return (s.diverged + s.failed > 0, s.best.mean is None, -mean if higher else mean)

    order = sorted(standings, key=key)
    for i, s in enumerate(order, start=1):
        s.rank = i
    return order


# --- running -------------------------------------------------------------------------------------------------

@dataclass
class SweepResult:
    sweep: Sweep
    out_dir: Path
    rows: List[Dict[str, str]]  # sweep.csv, in plan order
    ranking: List[PointStanding]
    ran: int  # runs trained by this call (a resumed sweep: the missing ones)
    workers: int
    seconds: float

    @property
    def best(self) -> Optional[PointStanding]:
        return self.ranking[0] if self.ranking else None


class SweepInterrupted(RaceInterrupted):
    """SIGINT / SIGTERM stopped the sweep; sweep.csv holds every run that finished."""


def default_out(config: Config) -> str:
    return f"runs/sweep-{config.name}"


def plan_dict(sweep: Sweep) -> Dict[str, Any]:
    return {"config": sweep.config.name, "keys": sweep.keys, "grid": sweep.grid, "seeds": sweep.seeds,
            "metric": sweep.metric, "higher_is_better": sweep.higher_is_better,
            "points": [{"label": p.label, "values": p.values} for p in sweep.points]}


def read_plan(out_dir: Path) -> Dict[str, Any]:
    path = out_dir / JSON_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{out_dir}: holds no {JSON_NAME}; is it a sweep directory?") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the sweep's plan ({exc})") from None


def finished_rows(sweep: Sweep, out_dir: Path) -> List[Dict[str, str]]:
    """--resume: the rows of DIR/sweep.csv that need not run again; refused when DIR holds a different sweep."""
    old = read_plan(out_dir)
    mine = plan_dict(sweep)
    for key in ("keys", "points", "seeds", "metric"):
        if old.get(key) != mine[key]:
            raise ConfigError(f"--resume {out_dir}: holds a different sweep ({key} differ: {old.get(key)!r} there, "
                              f"{mine[key]!r} now); give the same config and options, or a new --out")
    path = out_dir / CSV_NAME
    rows = read_csv(path) if path.is_file() else []
    return [r for r in rows if r.get("status") in FINISHED]


def run_sweep(sweep: Sweep, out: Optional[str] = None, overwrite: bool = False, workers: int = 1,
              cluster: Optional[str] = None, on_event: Optional[Listener] = None,
              resume: Optional[str] = None) -> SweepResult:
    """Run every point and seed not yet done on the executor ``workers`` / ``cluster`` choose, writing sweep.csv as
    rows arrive; rank the points and write sweep.json."""
    started = time.perf_counter()
    if resume is not None:
        out_dir = Path(resume)
        kept = finished_rows(sweep, out_dir)
    else:
        out_dir = rundir.prepare(out, default_out(sweep.config), overwrite)
        kept = []
    header = columns(sweep)
    rundir.save_json(out_dir / JSON_NAME, {**plan_dict(sweep), "ranking": None})
    order = {(p.label, s): i for i, (p, s) in enumerate((p, s) for p in sweep.points for s in sweep.seeds)}
    by_label = {p.label: p for p in sweep.points}
    rows: Dict[Tuple[str, int], Dict[str, str]] = {(r["point"], int(r["seed"])): r for r in kept}
    jobs = jobs_for(sweep, out_dir, list(rows))
    listener = on_event or (lambda event: None)

    def in_order() -> List[Dict[str, str]]:
        return [rows[k] for k in sorted(rows, key=order.__getitem__)]

    def record(event: RaceEvent) -> None:
        if event.kind == "done":
            o = event.outcome
            rows[(o.label, o.seed)] = row(sweep, by_label[o.label], o, out_dir)
            write_csv(out_dir / CSV_NAME, header, in_order())
        listener(event)

    write_csv(out_dir / CSV_NAME, header, in_order())
    n_workers = max(1, min(int(workers), len(jobs))) if cluster is None else 1
    try:
        with open_runner(n_workers, cluster, record) as runner:
            if jobs:
                runner.run(jobs, "sweep")
            n_workers = getattr(runner, "workers", n_workers)
    except RaceInterrupted as exc:
        done = sum(1 for r in rows.values() if r["status"] in FINISHED)
        raise SweepInterrupted(
            f"sweep interrupted by {_signal_name(exc.exit_code - 128)}: {done} of {sweep.runs} runs are finished and "
            f"in {out_dir / CSV_NAME}; run the same command with --resume {out_dir} to run the rest",
            exc.exit_code - 128) from None
    final_rows = in_order()
    ranking = rank_rows(final_rows, sweep.keys, sweep.metric, sweep.higher_is_better)
    result = SweepResult(sweep, out_dir, final_rows, ranking, len(jobs), n_workers, time.perf_counter() - started)
    rundir.save_json(out_dir / JSON_NAME, {**plan_dict(sweep), "ranking": [ranking_dict(s) for s in ranking],
                                           "workers": n_workers, "cluster": cluster,
                                           "seconds": round(result.seconds, 3)})
    return result


def ranking_dict(s: PointStanding) -> Dict[str, Any]:
    return {"rank": s.rank, "label": s.label, "values": s.values, "best": s.best.as_dict(),
            "final": s.final.as_dict(), "runs": s.runs, "diverged": s.diverged, "failed": s.failed}


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
