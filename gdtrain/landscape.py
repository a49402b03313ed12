"""Optimizer paths over the contour map of a 2-D test function: as text in the terminal, as a PNG, as a GIF.

The text map is plain ASCII (no colour codes, no box drawing), drawn by ``path_map``, a pure function:

     3 |        .....                  the contours: the cells on the high side of a change of band, the
       |  ....   S11     .....         bands split at the deciles of f over the map (each band covers a
       |     ...  1111   ...           tenth of it: lines spread evenly, and a valley's floor shows)
       |          ...1111*..           S the start, * the known minimizers, 1 2 3 ... (or o) each path:
    -1 |             ...               its iterates joined by straight segments; later paths win a cell
       +-------------------------
       -2                      2

Each cell is a point (x, y) of the window ``Problem.window`` gives (the function's region, widened to hold
the start and the paths). ``gdtrain fit`` and ``compare-optimizers`` on a problem print this map at the end
(render/landscape.py); ``save_png`` and ``save_gif`` draw the same picture with matplotlib's contour plot
(imported only then: the ``[png]`` extra). ``path_from_rows`` reads a run's path back from its metrics.csv.
"""

from __future__ import annotations

import io
import math
import tempfile
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from .plot import Chart
from .problems import Problem
from .rundir import require_folder, write_file

LEVELS = 7
CONTOUR, START, MINIMUM = ".", "S", "*"
SERIES_MARKERS = "123456789abcdefghijklmnopqrstuvwxyz"


def contour_levels(values: np.ndarray, levels: int = LEVELS) -> np.ndarray:
    """The band (0 .. levels−1) of every value, the bands split at quantiles of the map's values, so each covers
    the same share of the map and the contour lines spread evenly over it (a steep wall gets no more lines than a
    flat floor); −1 where f is not finite."""
    finite = np.isfinite(values)
    if not finite.any():
        return np.full(values.shape, -1)
    edges = np.unique(np.quantile(values[finite], np.arange(1, levels) / levels))
    return np.where(finite, np.searchsorted(edges, np.where(finite, values, 0.0), side="right"), -1)


def grid_values(problem: Problem, window, columns: int, rows: int) -> np.ndarray:
    """f at the centre of every cell, rows from the top (largest y) down."""
    x0, x1, y0, y1 = window
    xs = x0 + (np.arange(columns) + 0.5) / columns * (x1 - x0)
    ys = y1 - (np.arange(rows) + 0.5) / rows * (y1 - y0)
    values = np.empty((rows, columns))
    with np.errstate(over="ignore", invalid="ignore"):
        for r, y in enumerate(ys):
            for c, x in enumerate(xs):
                values[r, c] = problem.value(np.array([x, y]))
    return values


def contour_stroke(values: np.ndarray, r: int, c: int) -> str:
    """The character that draws a contour line through cell (r, c): - | / or \\, along the level line, i.e. at
    right angles to the gradient of f estimated from the neighbouring cells (a cell is about twice as tall as
    it is wide on a terminal, which the slope takes into account)."""
    rows, columns = values.shape
    right, left = values[r, min(c + 1, columns - 1)], values[r, max(c - 1, 0)]
    up, down = values[max(r - 1, 0), c], values[min(r + 1, rows - 1), c]
    gx, gy = (right - left), (up - down) / 2.0  # per unit of screen width and height
    if not (math.isfinite(gx) and math.isfinite(gy)) or gx == gy == 0:
        return CONTOUR
    angle = math.degrees(math.atan2(gx, -gy)) % 180  # the tangent (−gy, gx) rotated: 0° is horizontal
    return "-" if angle < 22.5 or angle >= 157.5 else "/" if angle < 67.5 else "|" if angle < 112.5 else "\\"


def _cell(point, window, columns: int, rows: int) -> Optional[Tuple[int, int]]:
    x0, x1, y0, y1 = window
    x, y = float(point[0]), float(point[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    c = math.floor((x - x0) / (x1 - x0) * columns)
    r = math.floor((y1 - y) / (y1 - y0) * rows)
    c, r = min(c, columns - 1) if x == x1 else c, min(r, rows - 1) if y == y0 else r
    return (r, c) if 0 <= c < columns and 0 <= r < rows else None


def _segment(a: Tuple[float, float], b: Tuple[float, float], window, columns: int, rows: int):
    """The cells on the straight line from point a to point b (inside the window)."""
    x0, x1, y0, y1 = window
    ca = ((a[0] - x0) / (x1 - x0) * columns, (y1 - a[1]) / (y1 - y0) * rows)
    cb = ((b[0] - x0) / (x1 - x0) * columns, (y1 - b[1]) / (y1 - y0) * rows)
    steps = int(min(max(abs(cb[0] - ca[0]), abs(cb[1] - ca[1])) * 2, 4 * (columns + rows))) + 1
    for k in range(steps + 1):
        t = k / steps
        cell = _cell((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])), window, columns, rows)
        if cell is not None:
            yield cell


def _label(value: float) -> str:
    return f"{value:.3g}"


def path_map(problem: Problem, paths: Dict[str, np.ndarray], width: int = 72, height: int = 22,
             markers: Optional[Sequence[str]] = None) -> Chart:
    """The contour map with every path drawn on it (see the module docstring). ``paths``: label → array (n, 2)
    of the iterates θ₀, θ₁, ... . ``markers``: one character per path (default 1, 2, 3, ...)."""
    window = problem.window(list(paths.values()))
    x0, x1, y0, y1 = window
    labels_y = [_label(y1), _label(y0)]
    margin = max(len(s) for s in labels_y) + 1
    rows = max(height, 5)  # and as many columns as keep the map's proportions (a cell is about half as wide as tall; a little
    # wider than square reads best)
    columns = int(max(min(40, width - margin - 2), min(width - margin - 2, round(3 * rows * (x1 - x0) / (y1 - y0)))))
    values = grid_values(problem, window, columns, rows)
    levels = contour_levels(values)
    grid = [[" "] * columns for _ in range(rows)]
    for r in range(rows):
        for c in range(columns):
            here = levels[r, c]
            if (c + 1 < columns and levels[r, c + 1] < here) or (r + 1 < rows and levels[r + 1, c] < here) or (
                    c > 0 and levels[r, c - 1] < here) or (r > 0 and levels[r - 1, c] < here):
                grid[r][c] = contour_stroke(values, r, c)
    owner = [[-1] * columns for _ in range(rows)]
    markers = list(markers or SERIES_MARKERS)
    for i, points in enumerate(paths.values()):
        points = np.asarray(points, dtype=np.float64)
        mark = markers[i % len(markers)]
        for a, b in zip(points[:-1], points[1:]):
            if not (np.isfinite(a).all() and np.isfinite(b).all()):
                break
            for r, c in _segment(tuple(a), tuple(b), window, columns, rows):
                grid[r][c], owner[r][c] = mark, i
    for point, mark in [(problem.start, START)] + [(p, MINIMUM) for p in problem.reference_points]:
        cell = _cell(point, window, columns, rows)
        if cell is not None:
            grid[cell[0]][cell[1]], owner[cell[0]][cell[1]] = mark, -1
    lines, marks = [], []
    for r in range(rows):
        tick = labels_y[0] if r == 0 else labels_y[1] if r == rows - 1 else ""
        lines.append(f"{tick:>{margin - 1}} |" + "".join(grid[r]))
        marks += [(r, margin + 1 + c, owner[r][c]) for c in range(columns) if owner[r][c] >= 0]
    lines.append(" " * margin + "+" + "-" * columns)
    left, right = _label(x0), _label(x1)
    lines.append(" " * (margin + 1) + left + " " * max(columns - len(left) - len(right), 1) + right)
    kind = "minimizer" if problem.minimizers else "saddle point"
    legend = [f"{mark} {label}" for mark, label in zip(markers, paths)]
    lines.append("  ".join(legend + [f"{START} start", f"{MINIMUM} {kind}",
                                     "-|/\\ contours"]))
    return Chart(lines, marks)


def path_from_rows(problem: Problem, rows: Sequence[Dict[str, float]]) -> np.ndarray:
    """θ₀ (the start) and the x, y of every metrics.csv row: the path a run took."""
    points = [problem.start] + [(row["x"], row["y"]) for row in rows if "x" in row and "y" in row]
    return np.asarray(points, dtype=np.float64)


# --- matplotlib: PNG and GIF ------------------------------------------------------------------------------

def _figure(problem: Problem, paths: Dict[str, np.ndarray], title: str):
    # lazy: matplotlib is an optional dependency (the [png] extra), needed only for a PNG or a GIF
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    window = problem.window(list(paths.values()))
    x0, x1, y0, y1 = window
    xs, ys = np.linspace(x0, x1, 160), np.linspace(y0, y1, 130)
    X, Y = np.meshgrid(xs, ys)
    with np.errstate(over="ignore", invalid="ignore"):
        Z = np.vectorize(lambda a, b: problem.value(np.array([a, b])))(X, Y)
    low = float(np.nanmin(Z))
    delta = max((float(np.nanmax(Z)) - low) * 1e-3, 1e-12)
    fig = Figure(figsize=(7, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.contour(X, Y, np.log10(Z - low + delta), levels=20, cmap="viridis", linewidths=0.7)
    ax.plot(*problem.start, "ks", markersize=6, label="start")
    for mx, my in problem.reference_points:
        ax.plot(mx, my, "r*", markersize=12)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    return fig, ax


def png_bytes(problem: Problem, paths: Dict[str, np.ndarray], title: str = "") -> bytes:
    """A PNG of the contours (log scale) with every path, the start (square) and the minimizers (stars)."""
    fig, ax = _figure(problem, paths, title or problem.describe())
    for label, points in paths.items():
        points = np.asarray(points)
        ax.plot(points[:, 0], points[:, 1], ".-", linewidth=1.2, markersize=3, label=f"{label} ({len(points) - 1} steps)")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def save_png(problem: Problem, paths: Dict[str, np.ndarray], path: Union[str, Path], title: str = "") -> None:
    """Write ``png_bytes`` to ``path`` atomically."""
    require_folder(path)
    write_file(path, png_bytes(problem, paths, title))


def save_gif(problem: Problem, paths: Dict[str, np.ndarray], path: Union[str, Path], title: str = "",
             frames: int = 60, fps: int = 12) -> None:
    """An animated GIF of the race (matplotlib's Pillow writer): every path grows step by step, in step."""
    # lazy: matplotlib is an optional dependency (the [png] extra), needed only for a GIF
    from matplotlib.animation import FuncAnimation, PillowWriter

    require_folder(path)
    fig, ax = _figure(problem, paths, title or problem.describe())
    arrays = [np.asarray(p) for p in paths.values()]
    longest = max(len(p) for p in arrays)
    lines = [ax.plot([], [], ".-", linewidth=1.2, markersize=3, label=label)[0] for label in paths]
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    counts = sorted({round(k) for k in np.linspace(1, longest, min(frames, longest))})

    def draw(count):
        for line, points in zip(lines, arrays):
            shown = points[:count]
            line.set_data(shown[:, 0], shown[:, 1])
        return lines

    animation = FuncAnimation(fig, draw, frames=counts, blit=False)
    with tempfile.TemporaryDirectory() as folder:  # the writer wants a file name; the result is written atomically
        temporary = Path(folder) / "race.gif"
        animation.save(str(temporary), writer=PillowWriter(fps=fps))
        write_file(path, temporary.read_bytes())


# --- the function in words ---------------------------------------------------------------------------------

def describe_function(problem: Problem) -> str:
    """'f = (a − x)² + b (y − x²)², minimizer (1, 1), f* = 0'."""
    return f"f = {problem.function.formula}, {problem.describe_optimum()}"
