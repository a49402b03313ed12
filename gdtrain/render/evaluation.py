"""A trained run looked at: ``gdtrain evaluate`` (the loss and metrics, per-class scores and the confusion matrix),
``gdtrain predict``'s one line, and ``gdtrain plot RUN_DIR`` (the run's charts again, from its metrics.csv). The
numbers come from the inference/ package and plot.py."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.table import Table

from ..errors import DataError
from ..plot import charts, read_metrics, save_png
from ..rundir import METRICS
from .terminal import chart_width, fmt, plot_report


def evaluation_report(ev, console: Console) -> None:
    """Where the rows came from, the loss and metrics, then (classification) the per-class table and the
    confusion matrix with the stored class labels (rows: true class, columns: predicted)."""
    where = ev.source if ev.split == "file" else f"the {ev.split} split of {ev.source}"
    for note in ev.notes:
        console.print(f"note: {note}", soft_wrap=True)
    console.print(f"evaluated on {where}: {ev.rows} rows", soft_wrap=True)
    table = Table(show_edge=False, pad_edge=False, box=None)
    for key in ev.metrics:
        table.add_column(key, justify="right")
    table.add_row(*[fmt(v) for v in ev.metrics.values()])
    console.print(table)
    if ev.task != "classification":
        return
    console.print()
    scores = Table(show_edge=False, pad_edge=False, box=None)
    scores.add_column("class")
    for col in ("precision", "recall", "f1", "support"):
        scores.add_column(col, justify="right")
    for s in ev.per_class:
        scores.add_row(s.label, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", str(s.support))
    if ev.averages:
        scores.add_row()  # a blank line between the classes and the averages
    for s in ev.averages.values():
        scores.add_row(s.label, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", str(s.support))
    console.print(scores)
    console.print()
    console.print("confusion matrix (rows: true class, columns: predicted class)")
    matrix = Table(show_edge=False, pad_edge=False, box=None)
    matrix.add_column("true \\ predicted")
    for label in ev.labels:
        matrix.add_column(label, justify="right")
    for label, row in zip(ev.labels, ev.confusion):
        matrix.add_row(label, *[str(int(v)) for v in row])
    console.print(matrix)


def predictions_summary(count: int, path, console: Console) -> None:
    console.print(f"wrote {count} predictions to {path}", soft_wrap=True)


def redraw(folder: Path, console: Console, width: Optional[int] = None, height: int = 12,
           png: Optional[str] = None) -> None:
    """``gdtrain plot RUN_DIR``: the loss, accuracy (or r2) and gradient-norm charts of metrics.csv (plot.charts)."""
    rows = read_metrics(folder / METRICS)
    if not rows:
        raise DataError(f"{folder / METRICS}: no epochs recorded yet")
    plot_report(charts(rows, width or chart_width(console), height), console,
                f"{folder / 'metrics.csv'}: {len(rows)} epoch{'s' if len(rows) != 1 else ''}")
    if png is not None:
        save_png(rows, png, title=str(folder))
        console.print(f"saved {png}", soft_wrap=True)
