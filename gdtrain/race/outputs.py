"""What a race leaves in its directory: comparison.csv (one row per contestant and seed) and summary.json.

Both are written atomically (rundir); docs/compare.md documents the columns.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Dict, List

from .. import rundir
from .executor import blas_threads
from .standings import STAT_FIELDS, RaceResult

# comparison.csv: the documented columns first, then the extras (docs/compare.md).
COLUMNS = ("optimizer", "lr", "seed", "initial_loss", "final_train_loss", "best_val_loss", "best_val_metric",
           "epochs_to_target", "seconds_to_target", "seconds", "status")
EXTRA_COLUMNS = ("name", "mode", "batch_size", "epochs", "diverged_epoch", "updates_to_target", "grads_to_target",
                 "run_dir")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _relative(path: str, out_dir: Path) -> str:
    try:
        return str(Path(path).relative_to(out_dir))
    except ValueError:
        return path


def csv_rows(result: RaceResult) -> List[Dict[str, str]]:
    """comparison.csv's rows: one per contestant and seed, in the order they were run."""
    rows = []
    targeted = result.race.target is not None
    for o in result.outcomes:
        def to_target(value):
            return _cell(value) if value is not None else ("never" if targeted else "")

        rows.append({
            "optimizer": o.label, "lr": _cell(float(o.lr)), "seed": str(o.seed), "initial_loss": _cell(o.initial_loss),
            "final_train_loss": _cell(o.final_train_loss), "best_val_loss": _cell(o.best_val_loss),
            "best_val_metric": _cell(o.best_val_metric), "epochs_to_target": to_target(o.epochs_to_target),
            "seconds_to_target": to_target(o.seconds_to_target), "seconds": _cell(o.seconds), "status": o.status,
            "name": o.name, "mode": o.mode, "batch_size": str(o.batch_size), "epochs": str(o.epochs),
            "diverged_epoch": _cell(o.diverged_epoch), "updates_to_target": to_target(o.updates_to_target),
            "grads_to_target": to_target(o.grads_to_target), "run_dir": _relative(o.run_dir, result.out_dir),
        })
    return rows


def summary_dict(result: RaceResult) -> Dict[str, Any]:
    """summary.json: the protocol, the initial losses per seed, the ranked contestants' statistics, the tuning."""
    race = result.race
    winner = result.winner
    return {
        "config": race.config.name,
        "kind": race.kind,
        "seeds": race.seeds,
        "epochs": race.config.training.epochs,
        "target": None if race.target is None else {"name": race.target.name, "value": race.target.value,
                                                     "higher_is_better": race.target.higher_is_better},
        "ranked_by": result.ranked_by,
        "metric": result.metric,
        "winner": winner.label if winner else None,
        "fair": result.fair,
        "initial_loss": {str(seed): values for seed, values in result.initial_losses().items()},
        "contestants": [{
            "rank": s.rank, "label": s.label, "winner": s.winner, "optimizer": s.contestant.optimizer,
            "lr": s.lr, "mode": s.contestant.mode, "runs": len(s.outcomes), "wins": s.wins,
            "diverged": len(s.diverged), "failed": len(s.failed),
            "reached_target": s.reached if race.target is not None else None,
            **{name: s.stats[name].as_dict() for name in STAT_FIELDS},
            "status": [o.status for o in s.outcomes],
            "diverged_epochs": [o.diverged_epoch for o in s.diverged],
            "messages": [o.message for o in s.outcomes if o.message and not o.ok],
            "run_dirs": [_relative(o.run_dir, result.out_dir) for o in s.outcomes],
        } for s in result.standings],
        "untuned_defaults": race.untuned_defaults,
        "tuning": None if not race.tune_lr else {
            "seed": race.seeds[0], "factors": race.lr_grid, "chosen_by": "best_val_loss",
            "contestants": {t.label: t.as_dict() for t in result.tuning}},
        "workers": result.workers,
        "blas_threads_per_worker": blas_threads(result.workers) if result.workers > 1 else None,
        "seconds": round(result.seconds, 3),
    }


def write_outputs(result: RaceResult) -> None:
    """DIR/comparison.csv and DIR/summary.json (written atomically)."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS + EXTRA_COLUMNS))
    writer.writeheader()
    writer.writerows(csv_rows(result))
    rundir.atomic_write(result.out_dir / "comparison.csv", buffer.getvalue())
    rundir.save_json(result.out_dir / "summary.json", summary_dict(result))
