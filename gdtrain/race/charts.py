"""A race's curves: per epoch (mean over seeds), against training time (a mode race), and the PNG of them."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Union

from .. import rundir
from .standings import RaceResult

def epoch_curves(result: RaceResult, key: str = "train_loss") -> Dict[str, List[float]]:
    """label → ``key`` per epoch, averaged over the seeds that reached the epoch (NaN where none did)."""
    n = max((len(o.history.get(key, [])) for o in result.outcomes), default=0)
    curves = {}
    for s in sorted(result.standings, key=lambda s: result.race.contestants.index(s.contestant)):
        values = []
        for i in range(n):
            xs = [o.history[key][i] for o in s.outcomes if len(o.history.get(key, [])) > i
                  and math.isfinite(o.history[key][i])]
            values.append(sum(xs) / len(xs) if xs else math.nan)
        curves[s.label] = values
    return curves


def time_curves(result: RaceResult, points: int = 60) -> tuple:
    """(times, label → train_loss, unit) on a common time grid from 0, for the first seed's runs: at time t, the
    train_loss of the last epoch finished by t (NaN before the first one and after the run ended). The unit is
    "ms" for races shorter than 10 s, else "s" (so the axis ends on a whole number). For comparing modes per second."""
    first = result.race.seeds[0]
    runs = {o.label: o for o in result.outcomes if o.seed == first}
    end = max((o.history["seconds"][-1] for o in runs.values() if o.history.get("seconds")), default=0.0)
    unit, scale = ("s", 1.0) if end >= 10 else ("ms", 1e-3)
    top = max(1, math.ceil(end / scale))
    grid = [top * k / (points - 1) for k in range(points)]
    curves = {}
    for c in result.race.contestants:
        o = runs.get(c.label)
        secs, losses = (o.history.get("seconds", []), o.history.get("train_loss", [])) if o else ([], [])
        values = []
        for x in grid:
            t = x * scale
            done = [i for i, s in enumerate(secs) if s <= t]
            previous = x - top / (points - 1)  # the run ended within this step: still show its last value
            values.append(losses[done[-1]] if done and previous * scale < secs[-1] else math.nan)
        curves[c.label] = values
    return grid, curves, unit


def use_log_scale(curves: Mapping[str, Sequence[float]]) -> bool:
    """A log y-axis when every value is positive and they span more than a factor of 10."""
    values = [v for vs in curves.values() for v in vs if math.isfinite(v)]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 10


def save_png(result: RaceResult, path: Union[str, Path]) -> None:
    """The overlaid curves as a PNG: train loss and (with validation data) val loss per epoch, mean over seeds with
    the seeds' range shaded; a mode race adds train loss against training seconds. Needs matplotlib."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: matplotlib is optional (gdtrain[png])
    from matplotlib.figure import Figure

    path = Path(path)
    rundir.require_folder(path)  # before the drawing
    keys = ["train_loss"] + (["val_loss"] if result.race.has_validation else [])
    panels = len(keys) + (1 if result.race.kind == "modes" else 0)
    fig = Figure(figsize=(8, 3.2 * panels), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    for ax, key in zip(axes, keys):
        curves = epoch_curves(result, key)
        for s in sorted(result.standings, key=lambda s: result.race.contestants.index(s.contestant)):
            values = curves[s.label]
            epochs = list(range(1, len(values) + 1))
            label = f"{s.label} (lr {s.lr:g})" + (" ★" if s.winner else "")
            line, = ax.plot(epochs, values, label=label)
            if len(s.outcomes) > 1:
                lo = [min((o.history[key][i] for o in s.outcomes if len(o.history.get(key, [])) > i), default=math.nan)
                      for i in range(len(values))]
                hi = [max((o.history[key][i] for o in s.outcomes if len(o.history.get(key, [])) > i), default=math.nan)
                      for i in range(len(values))]
                ax.fill_between(epochs, lo, hi, color=line.get_color(), alpha=0.15)
        if use_log_scale(curves):
            ax.set_yscale("log")
        ax.set_ylabel(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    if result.race.kind == "modes":
        ax = axes[-1]
        runs = [o for o in result.outcomes if o.seed == result.race.seeds[0]]
        for o in runs:  # each run's own epochs, at the time each ended
            ax.plot(o.history.get("seconds", []), o.history.get("train_loss", []), marker=".", label=o.label)
        if use_log_scale({o.label: o.history.get("train_loss", []) for o in runs}):
            ax.set_yscale("log")
        ax.set_ylabel("train_loss")
        ax.set_xlabel(f"training seconds (seed {result.race.seeds[0]})")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    seeds = result.race.seeds
    fig.suptitle(f"{result.race.config.name}: {len(result.standings)} contestants, "
                 + (f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}, mean and range"))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    rundir.write_file(path, buffer.getvalue())


# --- a sweep's metric against its swept keys ----------------------------------------------------------------

def _as_number(text: str):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def sweep_axes(rows: Sequence[Mapping[str, str]], keys: Sequence[str]):
    """(x key, series key or None) for a chart of a sweep, or None: the first key whose values are all numbers is
    the x-axis; with two swept keys the other one gives one line per value. More than two keys: no chart."""
    if not rows or not 1 <= len(keys) <= 2:
        return None
    numeric = [k for k in keys if all(_as_number(r[k]) is not None for r in rows)]
    if not numeric:
        return None
    x_key = numeric[0]
    other = [k for k in keys if k != x_key]
    return x_key, (other[0] if other else None)


def sweep_series(rows: Sequence[Mapping[str, str]], keys: Sequence[str], metric: str):
    """(x key, sorted x values, series name → mean best ``metric`` over seeds per x (NaN where no finished run),
    log x) from sweep.csv's rows, or None when the sweep has no chartable key (see ``sweep_axes``). Diverged and
    failed runs are left out of the means. Log x: positive values spanning more than a factor of 10 (an lr grid)."""
    axes = sweep_axes(rows, keys)
    if axes is None:
        return None
    x_key, by = axes
    xs = sorted({_as_number(r[x_key]) for r in rows})
    groups = [None] if by is None else list(dict.fromkeys(r[by] for r in rows))
    if by is not None and all(_as_number(g) is not None for g in groups):
        groups.sort(key=_as_number)  # (numbers in order; names in the grid's order)
    series: Dict[str, List[float]] = {}
    for g in groups:
        name = f"best {metric}" if by is None else f"{by}={g}"
        values = []
        for x in xs:
            picked = [_as_number(r[f"best_{metric}"]) for r in rows if _as_number(r[x_key]) == x
                      and (by is None or r[by] == g) and r["status"] not in ("diverged", "failed")]
            picked = [v for v in picked if v is not None]
            values.append(sum(picked) / len(picked) if picked else math.nan)
        series[name] = values
    log_x = min(xs) > 0 and max(xs) / min(xs) > 10
    return x_key, xs, series, log_x


def save_sweep_png(rows: Sequence[Mapping[str, str]], keys: Sequence[str], metric: str, path: Union[str, Path],
                   title: str = "") -> bool:
    """The metric (mean best over seeds) against the swept numeric key as a PNG; False when there is no chartable
    key. Needs matplotlib."""
    data = sweep_series(rows, keys, metric)
    if data is None:
        return False
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: matplotlib is optional (gdtrain[png])
    from matplotlib.figure import Figure

    path = Path(path)
    rundir.require_folder(path)
    x_key, xs, series, log_x = data
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for name, values in series.items():
        ax.plot(xs, values, marker="o", label=name)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(x_key)
    ax.set_ylabel(f"best {metric} (mean over seeds)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    rundir.write_file(path, buffer.getvalue())
    return True
