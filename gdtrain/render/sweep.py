"""``gdtrain sweep`` in the terminal (the numbers come from gdtrain/race/sweep.py): the header, the live progress
with the best point so far, the ranked summary (mean ± std over seeds) and the chart of the metric against the
swept key(s). A terminal gets a live table; plain output (a pipe, CI, NO_COLOR) one line per run. ``redraw`` shows
the ranking and the chart again from a sweep directory's files (``gdtrain plot DIR``)."""

from __future__ import annotations

import math
from typing import List, Optional

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..errors import DataError
from ..plot import chart
from ..race.charts import save_sweep_png, sweep_series
from ..race.sweep import metric_summary, rank_rows, read_csv, read_plan
from ..sweep_space import format_value
from .terminal import chart_width, fmt, fmt_stat, make_console, plain_output, plot_report

RECENT_ROWS = 8  # finished runs the live table shows


def sweep_header(sweep, out_dir, backend: str, console: Console) -> None:
    config = sweep.config
    seeds = (f"seed {sweep.seeds[0]}" if len(sweep.seeds) == 1
             else f"{len(sweep.seeds)} seeds ({sweep.seeds[0]}-{sweep.seeds[-1]})")
    console.print(f"sweep     {len(sweep.points)} points × {seeds} = {sweep.runs} runs of {config.data.source} "
                  f"(config {config.name}), {config.training.epochs} epochs each, on {backend}", soft_wrap=True)
    keys = "  ·  ".join(f"{k} ∈ {{{', '.join(format_value(v) for v in sweep.grid[k])}}}" for k in sweep.keys)
    console.print(f"grid      {keys}", soft_wrap=True)
    direction = "higher" if sweep.higher_is_better else "lower"
    console.print(f"ranked by the best {sweep.metric} of each run ({direction} is better), mean over seeds; "
                  f"writing {out_dir}/sweep.csv as runs finish", soft_wrap=True)


class SweepProgress:
    """Receives the executor's events (``record`` in run_sweep has written the row first) and shows them."""

    def __init__(self, sweep, console: Optional[Console] = None, done_before: int = 0):
        self.sweep = sweep
        self.console = console or make_console()
        self.done = done_before
        self.total = sweep.runs
        self.recent: List[tuple] = []
        self.best: Optional[tuple] = None  # (value, label, seed)
        self.live = None

    def _score(self, outcome):
        return metric_summary(outcome, self.sweep.metric, self.sweep.higher_is_better)[1]

    def _better(self, value) -> bool:
        if value is None:
            return False
        if self.best is None:
            return True
        return value > self.best[0] if self.sweep.higher_is_better else value < self.best[0]

    def _best_text(self) -> str:
        if self.best is None:
            return "best so far: -"
        value, label, seed = self.best
        return f"best so far: {label} (seed {seed}) {self.sweep.metric} {fmt(value)}"

    def _table(self):
        table = Table(show_edge=False, pad_edge=False, box=None)
        for name in ("run", "point", "seed", "status", f"best {self.sweep.metric}", "seconds"):
            table.add_column(name, justify="right" if name in ("run", "seed", "seconds") else "left")
        for cells in self.recent[-RECENT_ROWS:]:
            table.add_row(*cells)
        return Group(table, Text(f"{self.done}/{self.total} runs done · {self._best_text()}"))

    def __call__(self, event) -> None:
        if event.kind == "phase":
            self.total = self.done + event.total  # (a resumed sweep runs only the missing runs)
            if not plain_output() and self.live is None:
                self.live = Live(self._table(), console=self.console, refresh_per_second=4, transient=False)
                self.live.start()
            return
        if event.kind != "done":
            return
        o = event.outcome
        self.done += 1
        score = self._score(o)
        status = o.status if o.status != "failed" else f"failed: {o.message}"
        if o.ok and self._better(score):
            self.best = (score, o.label, o.seed)
        cells = (f"{self.done}/{self.total}", o.label, str(o.seed), status, fmt(score), f"{o.seconds:.2f}")
        self.recent.append(cells)
        if self.live is not None:
            self.live.update(self._table())
        else:
            self.console.print(f"[{cells[0]}] {o.label} seed {o.seed} {status}: best {self.sweep.metric} {cells[4]}, "
                               f"{cells[5]}s; {self._best_text()}", soft_wrap=True)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def ranking_table(ranking, keys, metric: str, limit: Optional[int] = None) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("rank", justify="right")
    table.add_column("point")
    for k in keys:
        table.add_column(k, justify="right")
    table.add_column(f"best {metric}", justify="right")
    table.add_column(f"final {metric}", justify="right")
    table.add_column("runs", justify="right")
    table.add_column("status")
    for s in ranking[:limit]:
        bad = ", ".join(part for part in (f"{s.diverged} diverged" if s.diverged else "",
                                          f"{s.failed} failed" if s.failed else "") if part)
        table.add_row(str(s.rank), s.label, *[s.values[k] for k in keys], fmt_stat(s.best), fmt_stat(s.final),
                      str(s.runs), bad or "ok")
    return table


def sweep_charts(rows, keys, metric: str, width: int, height: int = 12) -> list:
    """The metric (mean best over seeds) against the first numeric swept key, one line per value of the other."""
    data = sweep_series(rows, keys, metric)
    if data is None:
        return []
    x_key, xs, series, log_x = data
    if log_x:
        xs = [math.log10(x) for x in xs]
    title = f"best {metric} against {x_key}" + (" (x: log10)" if log_x else "") + ", mean over seeds"
    return [chart(xs, series, width, height, title=title, x_label=f"log10 {x_key}" if log_x else x_key)]


def sweep_report(result, console: Console, width: Optional[int] = None) -> None:
    """After the sweep: the ranked points, the best one, the chart, the files."""
    sweep = result.sweep
    console.print()
    console.print(ranking_table(result.ranking, sweep.keys, sweep.metric, limit=20))
    if len(result.ranking) > 20:
        console.print(f"(the other {len(result.ranking) - 20} points are in {result.out_dir}/sweep.json)")
    best = result.best
    if best is not None and best.best.mean is not None and not (best.diverged or best.failed):
        console.print(f"best point: {best.label} ({sweep.metric} {fmt_stat(best.best)})", soft_wrap=True)
    else:
        console.print("no best point: every point diverged or failed at least once", style="bold red")
    charts = sweep_charts(result.rows, sweep.keys, sweep.metric, width or chart_width(console))
    if charts:
        console.print()
        plot_report(charts, console)
    runs = f"{result.out_dir}/<point>/" + ("" if len(sweep.seeds) == 1 else "seed-<s>/")
    console.print(f"wrote {result.out_dir / 'sweep.csv'} and {result.out_dir / 'sweep.json'}; each run's directory "
                  f"is {runs}", soft_wrap=True)
    console.print(f"sweep finished in {result.seconds:.1f}s ({result.ran} runs trained)", soft_wrap=True)


def redraw(folder, console: Console, width: Optional[int] = None, height: int = 12, png: Optional[str] = None) -> None:
    """``gdtrain plot DIR`` for a sweep directory: the ranking and the chart again, from sweep.csv and sweep.json."""
    plan = read_plan(folder)
    rows = [r for r in read_csv(folder / "sweep.csv")]
    if not rows:
        raise DataError(f"{folder / 'sweep.csv'}: no runs recorded yet")
    keys, metric = plan["keys"], plan["metric"]
    ranking = rank_rows(rows, keys, metric, plan["higher_is_better"])
    console.print(f"{folder / 'sweep.csv'}: {len(rows)} runs of {len(ranking)} points", soft_wrap=True)
    console.print(ranking_table(ranking, keys, metric, limit=20))
    charts = sweep_charts(rows, keys, metric, width or chart_width(console), height)
    if charts:
        console.print()
        plot_report(charts, console)
    else:
        console.print("(no chart: it needs one or two swept keys, one of them numeric)", soft_wrap=True)
    if png is not None and save_sweep_png(rows, keys, metric, png, title=str(folder)):
        console.print(f"saved {png}", soft_wrap=True)
