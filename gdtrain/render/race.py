"""``gdtrain compare-optimizers`` in the terminal, and a race directory drawn again (``gdtrain plot DIR``).

As the race runs: the header (what races, on what, under which protocol), its progress (a live bar naming the
running contestants on a terminal, one line per finished run when piped), the tuning grid, the fair-start check,
the ranked table (mean ± std over seeds, the winner starred), the overlaid loss curves and the files written.
The numbers come from the race package (gdtrain/race/).

Afterwards: a compare-optimizers directory, read back from its files by ``plot.read_race``, is drawn again by
``race_dir_charts`` / ``race_dir_png_bytes``: train loss, validation loss and the validation metric per epoch,
one line per contestant (the mean over its seeds, as the race printed it).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional, Tuple, Union

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import DataError
from ..optimizers import describe_optimizer
from ..plot import Chart, RaceRuns, chart, figure_png, has_values, panel_figure, read_race, write_png
from ..race import blas_threads, effective_workers
from ..race.charts import epoch_curves, time_curves, use_log_scale
from .describe import describe_mode
from .terminal import chart_width, fmt, fmt_stat, make_console, plain_output, plot_report


# --- the race as it runs ------------------------------------------------------------------------------------------

def describe_contestant(contestant) -> str:
    """'momentum = sgd(lr=0.001, momentum=0.9)'."""
    return f"{contestant.label} = {describe_optimizer(contestant.optimizer)}"


def race_header(race, out_dir, workers: int, console: Console) -> None:
    """What is about to race, on what, and under which protocol."""
    workers = effective_workers(race, workers)
    config, tc = race.config, race.config.training
    mode = describe_mode(tc)
    seeds = (f"seed {race.seeds[0]}" if len(race.seeds) == 1
             else f"{len(race.seeds)} seeds ({race.seeds[0]}-{race.seeds[-1]})")
    if race.kind == "modes":
        what = (f"{len(race.contestants)} modes ({', '.join(c.label for c in race.contestants)}) of "
                f"{describe_optimizer(race.contestants[0].optimizer)}")
    else:
        what = f"{len(race.contestants)} optimizers"
    console.print(f"race      {what} on {config.data.source} (config {config.name}), {tc.epochs} epochs"
                  + (f" of {mode}" if race.kind == "optimizers" else "") + f", {seeds}", soft_wrap=True)
    console.print("          within a seed every contestant starts from the same weights and sees the same data "
                  "split" + (" and the same mini-batches" if race.kind == "optimizers" else ""), soft_wrap=True)
    if race.kind == "optimizers":
        console.print("contestants " + "  ·  ".join(describe_contestant(c) for c in race.contestants), soft_wrap=True)
    if race.tune_lr:
        factors = ", ".join(f"{f:g}" for f in race.lr_grid)
        console.print(f"tuning    each lr × {factors} on seed {race.seeds[0]}, the best validation loss wins",
                      soft_wrap=True)
    elif race.untuned_defaults:
        console.print(f"untuned   {untuned_note(race)}", soft_wrap=True)
    if race.target is not None:
        console.print(f"target    {race.target} at the end of an epoch", soft_wrap=True)
    if workers > 1:
        threads = blas_threads(workers)
        share = (f"{threads} BLAS thread{'s' if threads != 1 else ''} each" if tc.threads == "auto" else
                 f"{tc.threads} BLAS thread{'s' if tc.threads != 1 else ''} each (requested)")
        if tc.threads == "auto" and threads > 1:
            share = f"up to {share} (auto: 1 for small products)"
        console.print(f"workers   {workers} processes, {share}", soft_wrap=True)
    console.print(f"out dir   {out_dir}", soft_wrap=True)


def _outcome_status(o) -> str:
    if o.status == "diverged":
        return f"diverged at epoch {o.diverged_epoch}"
    if o.status in ("completed", "failed"):
        return o.status
    return f"{o.status} at epoch {o.epochs}"


class RaceProgress:
    """Which runs are running and which are done. A terminal gets a progress bar naming the running contestants
    (finished runs print a line above it); plain output gets one line per finished run."""

    def __init__(self, console: Optional[Console] = None):
        self.console = console or make_console()
        self.progress = None
        self.task = None

    @staticmethod
    def _name(job) -> str:
        lr = f" lr={job.lr:g}" if job.phase == "tune" else ""
        return f"{job.label}{lr} (seed {job.seed})"

    def __call__(self, event) -> None:
        if event.kind == "phase":
            self.stop()
            if not plain_output():
                self.progress = Progress(TextColumn("tuning" if event.phase == "tune" else "racing"), BarColumn(),
                                         MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[status]}"),
                                         console=self.console, transient=True)
                self.task = self.progress.add_task(event.phase, total=event.total, status="")
                self.progress.start()
            return
        running = ", ".join(self._name(job) for job in event.running)
        if self.progress is not None:
            self.progress.update(self.task, completed=event.done, status=f"running: {running}" if running else "")
        if event.kind != "done":
            return
        o = event.outcome
        what = "tune " if event.phase == "tune" else ""
        numbers = [f"final train loss {fmt(o.final_train_loss)}"] if o.final_train_loss is not None else []
        if o.best_val_loss is not None:
            numbers.append(f"best val loss {fmt(o.best_val_loss)}")
        numbers.append(f"{o.seconds:.2f}s")
        line = f"[{event.done}/{event.total}] {what}{self._name(event.job)} {_outcome_status(o)}: {', '.join(numbers)}"
        if plain_output() and running:
            line += f"; running: {running}"
        self.console.print(line, soft_wrap=True)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def tuning_table(result, console: Console) -> None:
    """One row per contestant: each grid lr and its best validation loss, the chosen one starred."""
    race = result.race
    console.print(f"learning-rate tuning on seed {race.seeds[0]}: best validation loss for each lr (* chosen)",
                  soft_wrap=True)
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("contestant")
    for f in race.lr_grid:
        table.add_column(f"lr × {f:g}", justify="right")
    for t in result.tuning:
        cells = []
        for o in t.outcomes:
            value = "diverged" if o.status == "diverged" else "failed" if o.status == "failed" else fmt(o.best_val_loss)
            cells.append(f"{o.lr:g}: {value}" + (" *" if o.lr == t.chosen_lr else ""))
        cells += [""] * (len(race.lr_grid) - len(cells))
        table.add_row(t.label if t.chosen_lr is not None else f"{t.label} (all diverged: keeps {t.default_lr:g})", *cells)
    console.print(table)
    edge = [t.label for t in result.tuning if t.at_edge]
    if edge:
        console.print(f"chosen at the edge of the grid: {', '.join(edge)} (the best lr may lie beyond it; widen "
                      "compare.lr_grid)", soft_wrap=True)


def _to_target(standing, name: str, digits: int = 4) -> str:
    stat = standing.stats[name]
    if stat.n == 0:
        return "never"
    text = fmt_stat(stat, digits, "\n")
    runs = len(standing.outcomes)
    return text if stat.n == runs else f"{text}\n({stat.n}/{runs} seeds)"


def _standing_status(s) -> str:
    runs = len(s.outcomes)
    if runs == 1:
        return _outcome_status(s.outcomes[0])
    if len({o.status for o in s.outcomes}) == 1 and s.outcomes[0].ok:
        return s.outcomes[0].status
    parts = []
    if s.diverged:
        epochs = ", ".join(str(o.diverged_epoch) for o in s.diverged)
        parts.append(f"diverged {len(s.diverged)}/{runs} (epoch {epochs})")
    if s.failed:
        parts.append(f"failed {len(s.failed)}/{runs}")
    rest = [o.status for o in s.outcomes if o.ok]
    for status in dict.fromkeys(rest):
        parts.append(f"{status} {rest.count(status)}/{runs}")
    return ", ".join(parts)


def race_table(result, compact: bool = False) -> Table:
    """The ranked table: one row per contestant (over several seeds: the mean, and ± the std under it), the
    winner starred. ``compact``: one space between columns (for narrow terminals)."""
    race = result.race
    seeds = len(race.seeds)
    table = Table(show_edge=False, pad_edge=False, box=None, show_lines=seeds > 1, collapse_padding=compact)
    metric = "acc" if result.metric == "accuracy" else result.metric
    columns = ["rank", "mode" if race.kind == "modes" else "optimizer", "lr"]
    if race.kind == "modes":
        columns.append("updates/epoch")
    columns += ["final train loss"]
    if race.has_validation:
        columns += ["best val loss", f"best val {metric}"]
    if race.target is not None:
        columns += ["epochs→target", "s→target"]
        if race.kind == "modes":
            columns += ["updates→target", "grads→target"]
    columns += ["time", "status"]
    for col in columns:  # a narrow terminal folds the numbers rather than cutting them short
        table.add_column(col, justify="left" if col in ("optimizer", "mode", "status") else "right",
                         no_wrap=col in ("rank", "optimizer", "mode", "lr", "status"), overflow="fold")
    for s in result.standings:
        wins = f"\nwon {s.wins}/{seeds}" if seeds > 1 else ""
        row = [f"{s.rank}", s.label + (" ★" if s.winner else "") + wins, f"{s.lr:g}"]
        if race.kind == "modes":
            steps = [o.history["steps"][0] for o in s.outcomes if o.history.get("steps")]
            row.append(str(steps[0]) if steps else "-")
        row.append(fmt_stat(s.stats["final_train_loss"], sep="\n"))
        if race.has_validation:
            row += [fmt_stat(s.stats["best_val_loss"], sep="\n"), fmt_stat(s.stats["best_val_metric"], sep="\n")]
        if race.target is not None:
            row += [_to_target(s, "epochs_to_target", 3), _to_target(s, "seconds_to_target", 2)]
            if race.kind == "modes":
                row += [_to_target(s, "updates_to_target", 3), _to_target(s, "grads_to_target", 3)]
        time_stat = s.stats["seconds"]
        row.append("-" if time_stat.mean is None else f"{time_stat.mean:.2f}s"
                   + (f"\n± {time_stat.std:.2f}" if time_stat.std is not None else ""))
        row.append(_standing_status(s))
        table.add_row(*row)
    return table


def race_charts(result, width: int, height: int = 14) -> list:
    """The contestants' training-loss curves overlaid (mean over seeds); a mode race adds them against seconds."""
    curves = epoch_curves(result, "train_loss")
    n = max((len(v) for v in curves.values()), default=0)
    if n == 0:
        return []
    log = use_log_scale(curves)
    seeds = "" if len(result.race.seeds) == 1 else ", mean over seeds"
    out = [chart(list(range(1, n + 1)), curves, width, height, log=log,
                      title=f"train loss per epoch{seeds}{', log scale' if log else ''}")]
    if result.race.kind == "modes":
        grid, by_time, unit = time_curves(result)
        log = use_log_scale(by_time)
        by_time_chart = chart(grid, by_time, width, height, log=log, x_label=unit,
                                   title=f"train loss against training time in {unit} (seed {result.race.seeds[0]}; "
                                         f"a line ends where its run ended){', log scale' if log else ''}")
        # the NaNs after a run's end are there by construction: no "values not drawn" note for them
        by_time_chart.lines = [line for line in by_time_chart.lines if "not drawn" not in line]
        out.append(by_time_chart)
    return out


def untuned_note(race) -> str:
    """'every lr is its optimizer's default, untuned: ... --tune-lr ...' (race.untuned_defaults names them)."""
    labels = race.untuned_defaults
    who = ("every lr is its optimizer's default" if len(labels) == len(race.contestants)
           else f"the lr of {', '.join(labels)} is {'its' if len(labels) == 1 else 'their'} optimizer's default")
    return f"{who}, not tuned to this problem: this ranks the defaults; add --tune-lr to give each its best lr first"


def race_report(result, console: Console, width: Optional[int] = None) -> None:
    """After the race: the fairness check, the tuning grid, the ranked table, the winner, the curves, the files."""
    race = result.race
    for seed, losses in result.initial_losses().items():
        measured = [v for v in losses if v is not None]  # (a run that failed at once measured nothing)
        if len(set(measured)) == 1:
            console.print(f"fair start: J(θ₀) = {fmt(measured[0], 6)} for all {len(measured)} contestants "
                          f"(seed {seed})", soft_wrap=True)
        elif measured:
            console.print(f"NOT a fair start on seed {seed}: J(θ₀) = {', '.join(fmt(v, 6) for v in losses)}",
                          style="bold red", soft_wrap=True)
    if result.tuning:
        console.print()
        tuning_table(result, console)
    console.print()
    console.print(race_table(result, compact=console.width < 120))
    winner = result.winner
    if winner is not None:
        by = ("lowest mean best validation loss" if result.ranked_by == "best_val_loss"
              else "lowest mean final training loss")
        value = winner.stats[result.ranked_by].mean
        seeds = len(race.seeds)
        won = f"; won {winner.wins} of {seeds} seeds" if seeds > 1 else ""
        console.print(f"winner: {winner.label} ★ ({by}, {fmt(value)}{won})", soft_wrap=True)
    else:
        console.print("no winner: every contestant diverged or failed at least once", style="bold red")
    if race.untuned_defaults:
        console.print(f"note: {untuned_note(race)}", soft_wrap=True)
    for s in result.standings:
        bad = next((o for o in s.outcomes if not o.ok), None)
        if bad is not None:
            console.print(f"{s.label} (seed {bad.seed}): {bad.message}", style="yellow", soft_wrap=True)
    if width is None:
        width = chart_width(console)
    charts = race_charts(result, width)
    if charts:
        console.print()
        plot_report(charts, console)
    out = result.out_dir
    runs = f"{out}/<label>/" + ("" if len(race.seeds) == 1 else "seed-<s>/")
    console.print(f"wrote {out / 'comparison.csv'} and {out / 'summary.json'}; each run's directory is {runs}"
                  + (f", the tuning runs {out}/tuning/" if result.tuning else ""), soft_wrap=True)
    console.print(f"race finished in {result.seconds:.1f}s", soft_wrap=True)


# --- a race directory drawn again (gdtrain plot DIR) --------------------------------------------------------------

def _race_dir_panels(race: RaceRuns) -> List[Tuple[str, str]]:
    """(metrics.csv column, title) of each panel that has values: train loss, val loss, val accuracy / r2."""
    seeds = "" if len(race.seeds) == 1 else ", mean over seeds"
    panels = [("train_loss", f"train loss per epoch{seeds}"), ("val_loss", f"validation loss per epoch{seeds}"),
              (f"val_{race.metric}", f"validation {race.metric} per epoch{seeds}")]
    return [(key, title) for key, title in panels
            if any(has_values(values) for values in race.curves(key).values())]


def race_dir_charts(race: RaceRuns, width: int = 72, height: int = 10) -> List[Chart]:
    """A race read back (plot.read_race): its curves as text charts, one line per contestant (the winner starred)."""
    out = []
    for key, title in _race_dir_panels(race):
        curves = race.curves(key)
        n = max(len(v) for v in curves.values())
        log = key.endswith("loss") and use_log_scale(curves)
        out.append(chart(list(range(1, n + 1)), curves, width, height, log=log,
                         title=title + (", log scale" if log else "")))
    return out


def race_dir_png_bytes(race: RaceRuns) -> bytes:
    """The same panels as ``race_dir_charts`` as a PNG, each contestant's seeds' range shaded."""
    panels = _race_dir_panels(race)
    fig, axes = panel_figure(max(1, len(panels)))
    for ax, (key, title) in zip(axes, panels):
        curves = race.curves(key)
        for c, (label, values) in zip(race.contestants, curves.items()):
            epochs = list(range(1, len(values) + 1))
            line, = ax.plot(epochs, values, label=f"{label} (lr {c.lr:g})")
            if len(c.seeds) > 1:
                per_seed = [[rows[i].get(key, math.nan) if len(rows) > i else math.nan for rows in c.seeds]
                            for i in range(len(values))]
                finite = [[x for x in v if math.isfinite(x)] for v in per_seed]
                ax.fill_between(epochs, [min(v, default=math.nan) for v in finite],
                                [max(v, default=math.nan) for v in finite], color=line.get_color(), alpha=0.15)
        if key.endswith("loss") and use_log_scale(curves):
            ax.set_yscale("log")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[-1].set_xlabel("epoch")
    seeds = race.seeds
    return figure_png(fig, f"{race.config}: {len(race.contestants)} contestants, "
                           + (f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}, mean and range"))


def save_race_dir_png(race: RaceRuns, path: Union[str, Path]) -> None:
    write_png(path, lambda: race_dir_png_bytes(race))


def race_dir_header(race: RaceRuns) -> str:
    """'runs/compare-iris: a race of 2 optimizers on iris, seeds 0-1, won by adam ★'."""
    what = "modes" if race.kind == "modes" else "optimizers"
    seeds = f"seed {race.seeds[0]}" if len(race.seeds) == 1 else f"seeds {race.seeds[0]}-{race.seeds[-1]}"
    winner = next((c.label for c in race.contestants if c.winner), None)
    won = f", won by {winner} ★" if winner else ", no winner"
    return f"{race.folder}: a race of {len(race.contestants)} {what} on {race.config}, {seeds}{won}"


def redraw(folder: Path, console: Console, width: Optional[int] = None, height: int = 12,
           png: Optional[str] = None) -> None:
    """``gdtrain plot RACE_DIR``: a compare-optimizers directory's curves, read back from its files."""
    race = read_race(folder)
    charts = race_dir_charts(race, width or chart_width(console), height)
    if not charts:
        raise DataError(f"{folder}: no epochs recorded in the contestants' metrics.csv files")
    plot_report(charts, console, race_dir_header(race))
    if png is not None:
        save_race_dir_png(race, png)
        console.print(f"saved {png}", soft_wrap=True)
