"""``gdtrain fit`` and ``gdtrain compare-optimizers`` on a 2-D test function (a ``problem:`` config), in the
terminal: the function and its minimizers, one line per step (x, y, f, ‖∇f‖, step length, distance), the path
(or every contestant's path, each its own number) over the contour map that landscape.py draws, and where it
ended. The rest of a fit's report (progress, throttled lines, the stop line) is fit.py's.
"""

from __future__ import annotations

from typing import Optional

from rich.table import Table

from ..landscape import SERIES_MARKERS, describe_function, path_from_rows, path_map
from ..plot import read_metrics
from ..rundir import METRICS
from .describe import describe_run
from .fit import FitReporter, stop_line
from .terminal import chart_text, chart_width, fmt, whole_lines


# --- gdtrain fit on a problem -------------------------------------------------------------------------------------

class ProblemReporter(FitReporter):
    """``gdtrain fit`` on a problem: the function, one line per step (x, y, f, ‖∇f‖, step, distance), then the
    path over the contour map and where it ended."""

    def start(self, info) -> None:
        self.net = None  # (no layer table)
        self.problem = info.net.problem
        c = self.console
        c.print(f"problem   {self.problem.describe()}", soft_wrap=whole_lines(c))
        c.print(f"          {describe_function(self.problem)}", soft_wrap=whole_lines(c))
        c.print(f"training  {describe_run(info.config).replace(' epochs', ' steps').replace(', full batch', '')}",
                soft_wrap=whole_lines(c))
        c.print(f"run dir   {info.run_dir}")
        self.start_progress(info)

    def epoch_line(self, record) -> str:
        s = record.layer_stats
        parts = [f"step {record.epoch:>{len(str(self.epochs))}}/{self.epochs}",
                 f"x {fmt(s['x'], 5):<10}", f"y {fmt(s['y'], 5):<10}", f"f {fmt(s['f']):<10}",
                 f"|grad f| {fmt(record.grad_norms['grad_norm'], 3):<9}", f"step {fmt(s['step_length'], 3):<9}",
                 f"distance {fmt(s['distance'], 3):<9}", f"lr {fmt(record.lr, 3)}"]
        # on a narrow terminal the line drops lr, then the step length, the distance and |grad f| (the point and f
        # stay): metrics.csv has them all
        for drop in (7, 5, 6, 4):
            if len("  ".join(parts).rstrip()) <= self.console.width:
                break
            parts[drop] = ""
        return "  ".join(part for part in parts if part).rstrip()

    def print_epoch(self, record) -> None:
        self.console.print(self.epoch_line(record), soft_wrap=True)

    def finish(self, result) -> None:
        self.stop_progress()
        c, s = self.console, result.summary
        if self.unprinted is not None:
            c.print(self.epoch_line(self.unprinted), soft_wrap=True)
        if s["stop_reason"] == "diverged":
            c.print(s["message"], style="bold red", soft_wrap=whole_lines(c))
        rows = read_metrics(result.run_dir / METRICS)
        path = path_from_rows(self.problem, rows)
        if self.chart:
            c.print()
            for text in chart_text(path_map(self.problem, {f"path ({len(path) - 1} steps)": path},
                                            max(40, min(c.width, 100)), 20, markers="o")):
                c.print(text, soft_wrap=True, no_wrap=True, overflow="ignore")
        p = s["problem"]
        gap = f", f - f* = {fmt(p['gap'])}" if p["gap"] is not None else ""
        nearest = p["nearest"]
        to = f"({nearest[0]:.4g}, {nearest[1]:.4g})" if nearest else "-"
        c.print(f"ended at  ({fmt(p['x'], 6)}, {fmt(p['y'], 6)}): f = {fmt(p['f'])}{gap}, |grad f| = "
                f"{fmt(p['grad_norm'], 3)}, distance to {to} = {fmt(p['distance'], 3)}", soft_wrap=whole_lines(c))
        c.print(stop_line(s).replace(" epochs", " steps").replace("epoch ", "step ").replace("the weights", "the point"),
                soft_wrap=whole_lines(c))
        c.print(f"saved to  {result.run_dir}")


# --- gdtrain compare-optimizers on a problem ----------------------------------------------------------------------

def race_header(race, out_dir, console) -> None:
    console.print(f"race      {len(race.contestants)} contestants on {race.problem.describe()}, "
                  f"{race.config.training.epochs} steps each, target f - f* < {race.tol:g}", soft_wrap=whole_lines(console))
    console.print(f"          {describe_function(race.problem)}", soft_wrap=whole_lines(console))
    console.print("contestants " + "  ·  ".join(c.describe() for c in race.contestants), soft_wrap=whole_lines(console))
    console.print(f"out dir   {out_dir}", soft_wrap=whole_lines(console))


def race_report(result, console, width: Optional[int] = None) -> None:
    """The ranked table, then every path on one contour map (each contestant's number is its marker)."""
    table = Table(show_edge=False, pad_edge=False, box=None)
    for col in ("", "contestant", "steps to target", "final f", "f - f*", "distance", "|grad f|", "status"):
        table.add_column(col, justify="left" if col in ("contestant", "status") else "right")
    for i, o in enumerate(result.standings, start=1):
        final = o.final
        table.add_row(SERIES_MARKERS[i - 1] if i <= len(SERIES_MARKERS) else "", o.label,
                      "never" if o.steps_to_target is None else str(o.steps_to_target), fmt(final.get("f")),
                      fmt(final.get("gap")), fmt(final.get("distance"), 3), fmt(final.get("grad_norm"), 3),
                      o.status if o.status != "diverged" else f"diverged at step {o.summary.get('epochs')}")
    console.print(table)
    console.print()
    paths = {f"{o.label}": o.path for o in result.standings}
    for text in chart_text(path_map(result.race.problem, paths, width or chart_width(console), 20)):
        console.print(text, soft_wrap=True, no_wrap=True, overflow="ignore")
    winner = result.standings[0] if result.standings else None
    if winner is not None:
        console.print(f"winner    {winner.label}" + (f" (f - f* < {result.race.tol:g} after {winner.steps_to_target} "
                                                     "steps)" if winner.steps_to_target is not None else ""),
                      soft_wrap=whole_lines(console))
    console.print(f"saved to  {result.out_dir} (comparison.csv, summary.json, one run directory per contestant)",
                  soft_wrap=whole_lines(console))
