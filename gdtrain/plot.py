"""Charts of a run's metrics.csv: the loss curves and the per-layer gradient norms, as text or as a PNG.

The text charts are plain strings (no colour codes), drawn by ``chart``, a pure function:

    title
     1.1 ┤*                    y-axis: a few tick labels; each series one marker character
    0.55 ┤ ***oooo             (series drawn later win a shared cell)
       0 ┤    ****ooo
         └┬──────────┬──
          1         40 epoch   x-axis: epoch ticks
      * train_loss   o val_loss    legend

A series drawn over by later ones everywhere says so in the legend ("* W1 (hidden under o W2)").
Each column is one x position; with more epochs than columns, the points that fall in a column are
averaged (in the plotted scale, so on a log axis it is their geometric mean). Values that cannot be
drawn — NaN and ±inf, and on a log scale 0 and negatives — are skipped and counted in the legend. A
constant series gets a small band around its value; a single epoch is one column.

The gradient panel plots ‖∂J/∂W(ℓ)‖₂ (metrics.csv's grad_norm_W1, grad_norm_W2, ...: each layer's weight
gradient, averaged over the epoch's steps) on a log10 scale, one line per layer: vanishing gradients show
as the first layers' lines lying orders of magnitude below the last layer's, exploding ones as lines
that climb by decades from epoch to epoch.

The metric panel plots the accuracy (metrics.csv's train_accuracy — the share of training samples the epoch's
batches got right, as Keras's ``accuracy`` — and val_accuracy) or, for regression, val_r2.

``plot_lines(rows, width, height)`` gives the panels as lines (what ``gdtrain plot`` prints);
``save_png`` draws the same panels with matplotlib (imported only then, Agg, no global pyplot state).
A compare-optimizers directory (DIR/summary.json + DIR/comparison.csv, each contestant's run in
DIR/<label>/[seed-<s>/]) is read back by ``read_race`` — from the files only, so a race can be redrawn any
time later — into ``RaceRuns``, whose ``curves`` are the mean over each contestant's seeds, as the race printed
them; render/race.py draws them with ``chart`` (and so does render/sweep.py a sweep's metric against its key).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from .errors import DataError
from .rundir import refuse_special_file, require_folder, write_file

MARKERS = "*o+x#@%&=$~^"
MIN_WIDTH, MIN_HEIGHT = 24, 3
_GRAD_COLUMN = re.compile(r"^grad_norm_W(\d+)$")


@dataclass
class Chart:
    """A chart's text lines, and where each marker was drawn: (line, column, series index), for colouring."""

    lines: List[str]
    marks: List[Tuple[int, int, int]] = field(default_factory=list)


# --- reading metrics.csv --------------------------------------------------------------------------

def _float(text: str) -> float:
    text = (text or "").strip()
    return float(text) if text else math.nan


def read_metrics(path: Union[str, Path]) -> List[Dict[str, float]]:
    """metrics.csv as a list of rows of floats (an empty cell is NaN); a DataError when it cannot be read."""
    path = Path(path)
    refuse_special_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (is {path.parent} a run directory?)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "epoch" not in reader.fieldnames:
        raise DataError(f"{path}: not a metrics file (no 'epoch' column in the header)")
    rows = []
    for row in reader:
        try:
            rows.append({k: _float(v) for k, v in row.items() if k is not None})
        except (TypeError, ValueError):
            bad = next(k for k, v in row.items() if k is not None and not _is_float(v))
            raise DataError(f"{path}: line {reader.line_num}, column '{bad}': not a number: {row[bad]!r}") from None
    return rows


def _is_float(text) -> bool:
    try:
        _float(text)
        return True
    except (TypeError, ValueError):
        return False


def grad_columns(rows: Sequence[Dict[str, float]]) -> List[str]:
    """grad_norm_W1, grad_norm_W2, ... in layer order (W10 after W9)."""
    names = {k for row in rows[:1] for k in row if _GRAD_COLUMN.match(k)}
    return sorted(names, key=lambda k: int(_GRAD_COLUMN.match(k).group(1)))


def _column(rows, key) -> List[float]:
    return [row.get(key, math.nan) for row in rows]


def has_values(values: Sequence[float]) -> bool:
    return any(math.isfinite(v) for v in values)


# --- the chart ------------------------------------------------------------------------------------

def _tick(value: float, log: bool) -> str:
    text = f"{value:.2g}" if log else f"{value:.3g}"
    return "0" if text in ("-0", "0.0") else text


def chart(x: Sequence[float], series: Dict[str, Sequence[float]], width: int = 72, height: int = 10,
          log: bool = False, title: str = "", x_label: str = "epoch") -> Chart:
    """A text chart of ``series`` (name → y values, one per ``x``), ``width`` characters wide.

    Lines: the title (when given), ``height`` rows of plot area with the y-axis, the x-axis, its tick
    labels, then the legend. No line is longer than ``width``; the x-axis line is exactly ``width``.
    """
    width, height = max(int(width), MIN_WIDTH), max(int(height), MIN_HEIGHT)
    x = [float(v) for v in x]
    transform = (lambda v: math.log10(v)) if log else (lambda v: v)

    def drawable(v: float) -> bool:
        return math.isfinite(v) and (v > 0 or not log)

    skipped = {name: sum(1 for v in values if not drawable(v)) for name, values in series.items()}
    # (index, x, transformed y) of every drawable point; the index tells neighbours apart from gaps
    points = {name: [(i, xi, transform(v)) for i, (xi, v) in enumerate(zip(x, values))
                     if drawable(v) and math.isfinite(xi)]
              for name, values in series.items()}
    ts = [t for pts in points.values() for _, _, t in pts]
    if ts:
        lo, hi = min(ts), max(ts)
        if hi - lo < 1e-12 * max(1.0, abs(lo)):  # a constant: a band around it
            pad = 0.5 if log else (abs(lo) * 0.1 or 1.0)
            lo, hi = lo - pad, hi + pad
        elif log and hi - lo >= 1:  # whole decades, so the tick labels are powers of ten
            lo, hi = math.floor(lo), math.ceil(hi)
    else:
        lo, hi = 0.0, 1.0
    value_of = (lambda t: 10.0 ** t) if log else (lambda t: t)

    n_ticks = max(2, min(5, (height + 2) // 3))
    if log and ts and hi - lo >= 1 and float(lo).is_integer() and float(hi).is_integer():
        # every decade when they are 2+ rows apart, else every step-th from the bottom; the top one always
        step = max(1, math.ceil(2 * (hi - lo) / (height - 1)))
        labels = {height - 1: f"{10.0 ** hi:g}"}
        for k in range(int(lo), int(hi), step):
            r = round((k - lo) / (hi - lo) * (height - 1))
            if r < height - 2:
                labels[r] = f"{10.0 ** k:g}"
    else:
        tick_rows = sorted({round(i * (height - 1) / (n_ticks - 1)) for i in range(n_ticks)})
        labels = {r: _tick(value_of(lo + (hi - lo) * r / (height - 1)), log) for r in tick_rows} if ts else {}
    label_w = max((len(s) for s in labels.values()), default=1)
    plot_w = width - label_w - 2

    xs = [xi for xi in x if math.isfinite(xi)]
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 0.0)

    def column(xi: float) -> int:
        return 0 if x1 == x0 else round((xi - x0) / (x1 - x0) * (plot_w - 1))

    def row(t: float) -> int:
        return min(height - 1, max(0, round((t - lo) / (hi - lo) * (height - 1))))

    grid = [[" "] * plot_w for _ in range(height)]
    owner: Dict[Tuple[int, int], int] = {}
    wanted: Dict[int, List[Tuple[int, int]]] = {}
    for s, (name, pts) in enumerate(points.items()):
        by_column: Dict[int, List[float]] = {}
        for _, xi, t in pts:
            by_column.setdefault(column(xi), []).append(t)
        cells = {c: sum(values) / len(values) for c, values in by_column.items()}
        # fewer epochs than columns: join consecutive epochs by interpolating the columns between them
        for (i, xa, ta), (j, xb, tb) in zip(pts, pts[1:]):
            ca, cb = column(xa), column(xb)
            if j == i + 1 and cb > ca + 1:
                for c in range(ca + 1, cb):
                    cells.setdefault(c, ta + (tb - ta) * (c - ca) / (cb - ca))
        for c, t in cells.items():
            r = row(t)
            grid[height - 1 - r][c] = MARKERS[s % len(MARKERS)]
            owner[(height - 1 - r, c)] = s
            wanted.setdefault(s, []).append((height - 1 - r, c))

    lines: List[str] = []
    marks: List[Tuple[int, int, int]] = []
    if title:
        lines.extend(textwrap.wrap(title, width))
    top = len(lines)
    for i in range(height):
        r = height - 1 - i
        axis = f"{labels[r]:>{label_w}} ┤" if r in labels else f"{'':>{label_w}} │"
        lines.append((axis + "".join(grid[i])).rstrip())
    for (i, c), s in owner.items():
        marks.append((top + i, label_w + 2 + c, s))

    # x-axis: ticks at whole epochs, labels that do not collide
    ticks: List[Tuple[int, str]] = []
    if xs:
        n_xticks = 1 if x1 == x0 else max(2, min(8, plot_w // 10))
        seen = set()
        for k in range(n_xticks):
            xv = x0 if n_xticks == 1 else x0 + (x1 - x0) * k / (n_xticks - 1)
            xv = round(xv) if all(float(v).is_integer() for v in (x0, x1)) else xv
            c = column(xv)
            if c not in seen:
                seen.add(c)
                ticks.append((c, f"{xv:g}"))
    axis = ["─"] * plot_w
    for c, _ in ticks:
        axis[c] = "┬"
    lines.append(f"{'':>{label_w}} └" + "".join(axis))
    tick_line = [" "] * width
    order = ticks[:1] + ticks[-1:] + ticks[1:-1] if len(ticks) > 1 else ticks  # the ends first: they matter most
    for c, text in order:
        start = min(max(label_w + 2 + c - len(text) // 2, 0), width - len(text))
        span = range(max(start - 1, 0), min(start + len(text) + 1, width))  # keep a space either side
        if all(tick_line[i] == " " for i in span):
            tick_line[start:start + len(text)] = text
    end = len("".join(tick_line).rstrip())
    if x_label and end + 2 + len(x_label) <= width:
        tick_line[end + 2:end + 2 + len(x_label)] = x_label
    lines.append("".join(tick_line).rstrip())

    # legend, wrapped to the width
    entries = []
    for s, name in enumerate(series):
        entry = f"{MARKERS[s % len(MARKERS)]} {name}"
        if not points[name]:
            entry += " (nothing to draw)"
        elif all(owner[cell] != s for cell in wanted[s]):  # every point covered by later series
            covering = [owner[cell] for cell in wanted[s]]
            top_series = max(set(covering), key=covering.count)
            entry += f" (hidden under {MARKERS[top_series % len(MARKERS)]} {list(series)[top_series]})"
        entries.append((s, entry))
    legend, current, current_marks = [], "", []
    for s, entry in entries:
        if current and len(current) + 3 + len(entry) > width:
            legend.append((current, current_marks))
            current, current_marks = "", []
        pos = len(current) + (3 if current else 0)
        current = (current + "   " + entry) if current else entry
        current_marks.append((pos, s))
    if current:
        legend.append((current, current_marks))
    for text, entry_marks in legend:
        marks.extend((len(lines), pos, s) for pos, s in entry_marks)
        lines.append(text)
    n_skipped = sum(skipped.values())
    if n_skipped:
        what = "NaN, inf or ≤ 0" if log else "NaN or inf"
        lines.extend(textwrap.wrap(f"({n_skipped} {'value' if n_skipped == 1 else 'values'} not drawn: {what})",
                                   width))
    return Chart(lines, marks)


# --- the two panels of a run ----------------------------------------------------------------------

def loss_chart(rows: Sequence[Dict[str, float]], width: int = 72, height: int = 10) -> Chart:
    """train_loss and (when the run has a validation split) val_loss against the epoch, linear scale."""
    series = {"train_loss": _column(rows, "train_loss")}
    val = _column(rows, "val_loss")
    if has_values(val):
        series["val_loss"] = val
    return chart(_column(rows, "epoch"), series, width, height, title="loss")


def grad_chart(rows: Sequence[Dict[str, float]], width: int = 72, height: int = 10) -> Optional[Chart]:
    """‖∂J/∂W(ℓ)‖ per layer against the epoch on a log scale; None when metrics.csv has no such columns."""
    columns = grad_columns(rows)
    if not columns:
        return None
    series = {name.removeprefix("grad_norm_"): _column(rows, name) for name in columns}
    result = chart(_column(rows, "epoch"), series, width, height, log=True,
                   title="gradient norm per layer ‖∂J/∂W‖, log scale")
    ratio = layer_ratio(rows)
    if ratio is not None:
        result.lines.extend(textwrap.wrap(ratio, width))
    return result


def layer_ratio(rows: Sequence[Dict[str, float]]) -> Optional[str]:
    """'epoch 40: ‖∂J/∂W1‖ / ‖∂J/∂W3‖ = 1.2e-05' — how far the first layer's gradient is below the last one's."""
    columns = grad_columns(rows)
    if len(columns) < 2 or not rows:
        return None
    last = rows[-1]
    first, final = last.get(columns[0], math.nan), last.get(columns[-1], math.nan)
    if not (math.isfinite(first) and math.isfinite(final) and final > 0):
        return None
    a, b = columns[0].removeprefix("grad_norm_"), columns[-1].removeprefix("grad_norm_")
    return f"epoch {last.get('epoch', len(rows)):g}: ‖∂J/∂{a}‖ / ‖∂J/∂{b}‖ = {first / final:.2g}"


def metric_series(rows: Sequence[Dict[str, float]]) -> Tuple[str, Dict[str, List[float]]]:
    """('accuracy', {train_accuracy, val_accuracy}) or ('r2', {val_r2}): the columns metrics.csv has values in."""
    for name, keys in (("accuracy", ("train_accuracy", "val_accuracy")), ("r2", ("train_r2", "val_r2"))):
        series = {key: _column(rows, key) for key in keys}
        series = {key: values for key, values in series.items() if has_values(values)}
        if series:
            return name, series
    return "", {}


def metric_chart(rows: Sequence[Dict[str, float]], width: int = 72, height: int = 10) -> Optional[Chart]:
    """Accuracy (train and validation) or r2 against the epoch; None when metrics.csv has neither."""
    name, series = metric_series(rows)
    if not series:
        return None
    return chart(_column(rows, "epoch"), series, width, height, title=name)


def charts(rows: Sequence[Dict[str, float]], width: int = 72, height: int = 10) -> List[Chart]:
    """The loss chart, the accuracy (or r2) chart and (when metrics.csv has per-layer gradient norms) the
    gradient chart."""
    out = [loss_chart(rows, width, height)]
    metric = metric_chart(rows, width, height)
    if metric is not None:
        out.append(metric)
    grads = grad_chart(rows, width, height)
    if grads is not None:
        out.append(grads)
    return out


def plot_lines(rows: Sequence[Dict[str, float]], width: int = 72, height: int = 10) -> List[str]:
    """The panels as plain text lines, a blank line between them (what ``gdtrain plot`` prints)."""
    lines: List[str] = []
    for i, c in enumerate(charts(rows, width, height)):
        if i:
            lines.append("")
        lines.extend(c.lines)
    return lines


# --- PNG (matplotlib, optional) -------------------------------------------------------------------

def require_matplotlib() -> None:
    """Raise ImportError when matplotlib is not installed."""
    # lazy: matplotlib is an optional dependency (the [png] extra)
    import matplotlib  # noqa: F401


def panel_figure(panels: int):
    """A figure of ``panels`` axes one under the other, sharing the x-axis (Agg: no display, no pyplot state)."""
    # lazy: matplotlib is an optional dependency (the [png] extra), needed only for a PNG
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2 * panels + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]


def figure_png(fig, title: str) -> bytes:
    """The figure as PNG bytes, ``title`` above its panels."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def png_bytes(rows: Sequence[Dict[str, float]], title: str = "") -> bytes:
    """A PNG of the panels: the losses, the accuracy (or r2), the per-layer gradient norms on a log scale."""
    metric, metric_lines = metric_series(rows)
    fig, axes = panel_figure(3 if metric_lines else 2)
    ax_loss, ax_grad = axes[0], axes[-1]
    epochs = _column(rows, "epoch")
    ax_loss.plot(epochs, _column(rows, "train_loss"), label="train_loss")
    val = _column(rows, "val_loss")
    if has_values(val):
        ax_loss.plot(epochs, val, label="val_loss")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    if metric_lines:
        for name, values in metric_lines.items():
            axes[1].plot(epochs, values, label=name)
        axes[1].set_ylabel(metric)
        axes[1].legend()
        axes[1].grid(alpha=0.3)
    for name in grad_columns(rows):
        values = [v if math.isfinite(v) and v > 0 else math.nan for v in _column(rows, name)]
        ax_grad.plot(epochs, values, label=name.removeprefix("grad_norm_"))
    ax_grad.set_yscale("log")
    ax_grad.set_ylabel("‖∂J/∂W‖ per layer")
    ax_grad.set_xlabel("epoch")
    if grad_columns(rows):
        ax_grad.legend()
    ax_grad.grid(alpha=0.3, which="both")
    return figure_png(fig, title)


def save_png(rows: Sequence[Dict[str, float]], path: Union[str, Path], title: str = "") -> None:
    """Write ``png_bytes`` to ``path`` atomically; a DataError when the folder cannot be written."""
    write_png(path, lambda: png_bytes(rows, title))


def write_png(path: Union[str, Path], draw) -> None:
    """Write the PNG ``draw()`` returns to ``path`` atomically, the folder checked before the drawing."""
    path = Path(path)
    require_folder(path)  # before the drawing
    write_file(path, draw())


# --- a compare-optimizers directory, read back from its files ----------------------------------------

RACE_SUMMARY, RACE_TABLE = "summary.json", "comparison.csv"


@dataclass
class RaceRun:
    """One contestant of a race read back: its label and lr, whether it won, and each seed's metrics.csv rows."""

    label: str
    lr: float
    winner: bool
    seeds: List[List[Dict[str, float]]]


@dataclass
class RaceRuns:
    folder: Path
    config: str
    kind: str  # optimizers | modes
    metric: str  # accuracy | r2
    seeds: List[int]
    contestants: List[RaceRun]  # in the race's ranking order

    def curves(self, key: str) -> Dict[str, List[float]]:
        """label → ``key`` per epoch, averaged over the seeds whose run reached that epoch with a finite value (NaN
        where none did) — what compare-optimizers drew."""
        curves = {}
        for c in self.contestants:
            n = max((len(rows) for rows in c.seeds), default=0)
            values = []
            for i in range(n):
                xs = [rows[i].get(key, math.nan) for rows in c.seeds if len(rows) > i]
                xs = [v for v in xs if math.isfinite(v)]
                values.append(sum(xs) / len(xs) if xs else math.nan)
            curves[c.label + (" ★" if c.winner else "")] = values
        return curves


def is_race_dir(folder: Union[str, Path]) -> bool:
    """Whether ``folder`` holds a compare-optimizers race (its summary.json and comparison.csv)."""
    folder = Path(folder)
    return (folder / RACE_SUMMARY).is_file() and (folder / RACE_TABLE).is_file()


def read_race(folder: Union[str, Path]) -> RaceRuns:
    """A race directory's contestants and every run's metrics.csv; a DataError naming the file that is wrong."""
    folder = Path(folder)
    path = folder / RACE_SUMMARY
    refuse_special_file(path)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        contestants = [(c["label"], float(c["lr"]), bool(c["winner"]), list(c["run_dirs"]))
                       for c in summary["contestants"]]
        kind, metric, seeds = summary["kind"], summary["metric"], list(summary["seeds"])
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    except (KeyError, TypeError):
        raise DataError(f"{path}: not a compare-optimizers summary (it needs contestants with label, lr, winner "
                        "and run_dirs, and kind, metric, seeds)") from None
    runs = []
    for label, lr, winner, run_dirs in contestants:
        seeds_rows = []
        for run in run_dirs:
            metrics = folder / run / "metrics.csv"
            seeds_rows.append(read_metrics(metrics) if metrics.exists() else [])  # a run that failed at once: none
        runs.append(RaceRun(label, lr, winner, seeds_rows))
    return RaceRuns(folder, str(summary.get("config", folder.name)), kind, metric, seeds, runs)
