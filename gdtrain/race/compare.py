"""``compare-optimizers``: tune (when asked), race every contestant on every seed, rank, write the outputs."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import List, Optional

from ..contestants import TUNING_DIR
from ..metrics import primary_metric
from .backends import open_runner
from .executor import Listener
from .job import apply_target
from .outputs import write_outputs
from .plan import Race, effective_workers, make_job, prepare_dir, run_dir, task_of, tuning_grid
from .standings import RaceResult, Tuning, choose_lr, rank


def run(race: Race, out: Optional[str] = None, overwrite: bool = False, workers: int = 1,
        on_event: Optional[Listener] = None, cluster: Optional[str] = None) -> RaceResult:
    """Tune (when asked), race every contestant on every seed, rank them and write comparison.csv and
    summary.json to the race's directory (see ``prepare_dir``); each run's directory is DIR/<label>[/seed-<s>].
    The runs go to the executor ``workers`` and ``cluster`` choose (``executor.open_runner``)."""
    started = time.perf_counter()
    out_dir = prepare_dir(race, out, overwrite)
    workers = effective_workers(race, workers) if cluster is None else 1
    tunings: List[Tuning] = []
    with open_runner(workers, cluster, on_event) as runner:
        if race.tune_lr:
            jobs, grids = [], []
            for c in race.contestants:
                grid = tuning_grid(c.lr, race.lr_grid)
                grids.append(grid)
                tuning_dir = out_dir / TUNING_DIR / c.label
                jobs += [make_job(race, c, race.seeds[0], str(tuning_dir / f"lr-{lr:g}"), "tune", lr) for lr in grid]
            outcomes = runner.run(jobs, "tune")
            contestants = []
            for c, grid in zip(race.contestants, grids):
                mine = [o for o in outcomes if o.label == c.label]
                chosen = choose_lr(mine)
                tunings.append(Tuning(c.label, c.lr, grid, mine, chosen))
                contestants.append(c if chosen is None else replace(c, optimizer={**c.optimizer, "lr": chosen}))
            race = replace(race, contestants=contestants)
        jobs = [make_job(race, c, seed, run_dir(out_dir, c.label, seed, len(race.seeds)), "race")
                for seed in race.seeds for c in race.contestants]
        outcomes = runner.run(jobs, "race")
    for o in outcomes:
        apply_target(o, race.target)
    result = RaceResult(race, out_dir, outcomes, rank(race, outcomes), tunings, workers,
                        time.perf_counter() - started, primary_metric(task_of(race.config)))
    write_outputs(result)
    return result
