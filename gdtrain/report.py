"""All terminal rendering (rich). The library never prints; the CLI hands these functions its results.

On a terminal: a progress bar under the epoch lines. When piped, with ``CI`` set or ``NO_COLOR`` set:
plain text lines, no colour codes, no cursor movement.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Dict, List, Optional, Tuple

from rich.console import Console
from rich.table import Table
from rich.text import Text


def plain_output() -> bool:
    return (not sys.stdout.isatty()) or bool(os.environ.get("CI")) or "NO_COLOR" in os.environ


def make_console(stderr: bool = False) -> Console:
    if plain_output():
        return Console(stderr=stderr, no_color=True, highlight=False, force_terminal=False, markup=False,
                       width=200, emoji=False, color_system=None)
    return Console(stderr=stderr, highlight=False, markup=False)  # text is printed as is: "[W1 ...]" stays


def fmt(value: Optional[float], digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{max(digits - 2, 1)}e}"
    return f"{value:.{digits}g}"


def describe_layers(net) -> str:
    """'64 → 64 relu (dropout 0.2) → 10': input size, hidden layers, output size."""
    parts = [str(net.sizes[0])]
    for size, act, drop in zip(net.sizes[1:-1], net.activation_names[:-1], net.dropouts[:-1]):
        parts.append(f"{size} {act}" + (f" (dropout {drop:g})" if drop else ""))
    parts.append(str(net.sizes[-1]))
    return " → ".join(parts)


def describe_network(net, loss) -> str:
    """'64 → 64 relu → 10  [softmax + cross_entropy]'."""
    head = {"cross_entropy": "softmax + cross_entropy", "bce": "sigmoid + bce"}.get(loss.name, loss.name)
    return f"{describe_layers(net)}  [{head}]"


def describe_component(spec: Dict, defaults: Dict) -> str:
    """'sgd(lr=0.1, momentum=0.9)': the name and the options that differ from their defaults."""
    options = ", ".join(f"{k}={v}" for k, v in spec.items()
                        if k != "name" and (k == "lr" or k not in defaults or defaults[k].default != v))
    return f"{spec['name']}({options})"


def describe_training(config) -> str:
    """'sgd(lr=0.1, momentum=0.9)', or the line search that replaces the optimizer's step."""
    from .optimizers import OPTIMIZERS

    search = config.training.line_search
    if search is not None:
        from .linesearch import LINE_SEARCHES

        return f"gradient descent with {describe_component(search, LINE_SEARCHES.get(search['name']).options)} line search"
    return describe_component(config.optimizer, OPTIMIZERS.get(config.optimizer["name"]).OPTIONS)


def training_extras(config) -> List[str]:
    """The settings that differ from plain training: penalties, schedule, clipping, stopping rules, keep."""
    extras = [f"{name}={value:g}" for name, value in (("l2", config.regularization.l2), ("l1", config.regularization.l1))
              if value]
    if config.schedule["name"] != "constant" or config.schedule["warmup_epochs"]:
        from .schedules import COMMON_OPTIONS, SCHEDULES

        table = {**COMMON_OPTIONS, **SCHEDULES.get(config.schedule["name"]).OPTIONS}
        extras.append(f"schedule {describe_component(config.schedule, table)}")
    if config.clip.norm is not None:
        extras.append(f"clip norm {config.clip.norm:g}")
    if config.clip.value is not None:
        extras.append(f"clip value {config.clip.value:g}")
    tc = config.training
    extras += [f"{name} {value:g}" for name, value in (("tol_loss", tc.tol_loss), ("tol_grad", tc.tol_grad),
                                                        ("tol_step", tc.tol_step)) if value is not None]
    if tc.keep == "best":
        extras.append("keep best")
    return extras


def stop_line(s: Dict) -> str:
    """'completed after 40 epochs in 0.35s, best val_loss at epoch 40' (and why it stopped, when it stopped early)."""
    reason = s["stop_reason"]
    head = {"completed": "completed", "diverged": "diverged", "line_search": "stopped (line search)",
            "interrupted": "interrupted", "early_stopping": "stopped early"}.get(reason, f"converged ({reason})")
    best = f", best {s['best_by']} at epoch {s['best_epoch']}" if s["best_epoch"] else ""
    line = f"{head} after {s['epochs']} epochs in {s['seconds']:.2f}s{best}"
    if reason not in ("completed", "diverged") and s.get("message"):
        line += f"\n{s['message']}"
    if s.get("kept_epoch") not in (None, s["epochs"]) and reason != "diverged":
        why = f" (best {s['best_by']} {fmt(s.get('best_value'))})" if s["kept_epoch"] == s["best_epoch"] else ""
        line += f"\nkept the weights of epoch {s['kept_epoch']}{why}"
    return line


def layer_table(net, record) -> Table:
    """The last epoch, layer by layer: what flows back (‖∂J/∂W‖), the weights, the step, the units' health."""
    table = Table(show_edge=False, pad_edge=False, box=None)
    for col in ("layer", "units", "‖∂J/∂W‖", "‖W‖", "‖ΔW‖/‖W‖", "dead", "saturated"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    stats = record.layer_stats
    for i, (size, act) in enumerate(zip(net.sizes[1:], net.activation_names), start=1):
        name = f"W{i}"
        dead, sat = stats.get(f"dead_fraction_{i}"), stats.get(f"saturated_fraction_{i}")
        table.add_row(f"{name} {act if i < len(net.sizes) - 1 else 'output'}", str(size),
                      fmt(record.grad_norms.get(f"grad_norm_{name}"), 2), fmt(stats.get(f"weight_norm_{name}"), 3),
                      fmt(stats.get(f"update_ratio_{name}"), 2), "-" if dead is None else f"{dead:.0%}",
                      "-" if sat is None else f"{sat:.0%}")
    return table


class FitReporter:
    """Renders a ``gdtrain fit`` run: header, one line per epoch (throttled), a progress bar on a TTY."""

    MAX_LINES = 30  # about this many epoch lines for long runs, plus the first and last epoch

    def __init__(self, console: Optional[Console] = None, chart: Optional[bool] = None):
        self.console = console or make_console()
        self.chart = (not plain_output()) if chart is None else chart  # final loss / gradient charts
        self.progress = None
        self.task = None
        self.epochs = 0
        self.every = 1
        self.metric = "accuracy"
        self.unprinted = None  # the last epoch's record when its line was skipped (shown if the run stops there)
        self.last = None  # the last epoch's record
        self.net = None

    def start(self, info) -> None:
        from .monitor import primary_metric

        c, data, config = self.console, info.data, info.config
        self.net = info.net
        self.epochs = config.training.epochs
        self.every = max(1, math.ceil(self.epochs / self.MAX_LINES))
        self.metric = primary_metric(data.task)
        classes = f", {data.n_classes} classes" if data.classes is not None else ""
        c.print(f"data      {data.source}: {data.splits['train']} train / {data.splits['validation']} validation / "
                f"{data.splits['test']} test, {data.n_features} features{classes}")
        c.print(f"network   {describe_network(info.net, info.loss)}  ({info.net.size} parameters, {config.dtype})")
        tc = config.training
        mode = {"batch": "full batch", "sgd": "stochastic (batch 1)"}.get(tc.mode, f"mini-batch {tc.batch_size}")
        c.print(f"training  {describe_training(config)}, {mode}, {tc.epochs} epochs"
                + "".join(f", {extra}" for extra in training_extras(config)))
        c.print(f"run dir   {info.run_dir}")
        if info.resumed_from:
            c.print(f"resuming  after epoch {info.resumed_from} (from {info.run_dir / 'checkpoint.npz'})")
        if not plain_output() and self.epochs > 1:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[status]}"), TimeRemainingColumn(),
                                     console=self.console, transient=True)
            self.task = self.progress.add_task("train", total=self.epochs, completed=info.resumed_from, status="")
            self.progress.start()

    def epoch_line(self, record) -> str:
        val = record.val
        parts = [f"epoch {record.epoch:>{len(str(self.epochs))}}/{self.epochs}",
                 f"train {fmt(record.train_loss):<9}"]
        if val:
            parts.append(f"val {fmt(val['loss']):<9}")
            parts.append(f"{'acc' if self.metric == 'accuracy' else self.metric} {fmt(val.get(self.metric)):<7}")
        parts.append(f"lr {fmt(record.lr, 3):<7}")
        norms = record.grad_norms
        layers = " ".join(f"{k.removeprefix('grad_norm_')} {fmt(v, 2)}" for k, v in norms.items() if k != "grad_norm")
        parts.append(f"|g| {fmt(norms['grad_norm'], 3):<8} [{layers}]")
        if record.clip_fraction:
            parts.append(f"clipped {record.clip_fraction:.0%}")
        parts.append(f"{record.seconds:.1f}s")
        return "  ".join(parts)

    def epoch(self, record) -> None:
        self.unprinted = self.last = record
        if record.epoch == 1 or record.epoch == self.epochs or record.epoch % self.every == 0:
            self.console.print(self.epoch_line(record), soft_wrap=True)
            self.unprinted = None
        for warning in record.warnings:
            self.console.print(f"warning (epoch {warning.epoch}): {warning.message}", style="yellow", soft_wrap=True)
        if self.progress is not None:
            self.progress.update(self.task, completed=record.epoch, status=f"loss {fmt(record.train_loss)}")

    def stop_progress(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def finish(self, result) -> None:
        self.stop_progress()
        if self.unprinted is not None:  # stopped early between two printed lines: show where it ended
            self.console.print(self.epoch_line(self.unprinted), soft_wrap=True)
        if self.last is not None and self.net is not None:
            self.console.print(f"layers at epoch {self.last.epoch}:")
            self.console.print(layer_table(self.net, self.last))
        c, s = self.console, result.summary
        if s["stop_reason"] == "diverged":
            c.print(s["message"], style="bold red", soft_wrap=True)
        table = Table(show_edge=False, pad_edge=False, box=None)
        table.add_column("split")
        metrics: List[str] = []
        for split in ("train", "validation", "test"):
            for key in s.get(split, {}):
                if key not in metrics:
                    metrics.append(key)
        for key in metrics:
            table.add_column(key, justify="right")
        for split in ("train", "validation", "test"):
            if s.get(split):
                table.add_row(split, *[fmt(s[split].get(k)) for k in metrics])
        c.print(table)
        if self.chart and s["epochs"] >= 2:
            from . import plot

            rows = plot.read_metrics(result.run_dir / "metrics.csv")
            plot_report(plot.charts(rows, max(24, min(c.width, 100)), 8), c)
        c.print(stop_line(s), soft_wrap=True)
        c.print(f"saved to  {result.run_dir}")


def gradcheck_table(checks, console: Console, title: str = "") -> None:
    if title:
        console.print(title, soft_wrap=True)
    table = Table(show_edge=False)
    for col, justify in (("tensor", "left"), ("size", "right"), ("checked", "right"), ("kinks", "right"),
                         ("max |a−n|", "right"), ("rel error", "right"), ("", "left")):
        table.add_column(col, justify=justify)
    for c in checks:
        table.add_row(c.name, str(c.size), str(c.checked), str(c.kinks), f"{c.max_abs_error:.2e}",
                      f"{c.rel_error:.2e}", "pass" if c.passed else "FAIL")
    console.print(table)


def gradcheck_matrix(results: Dict[Tuple[str, str], list], console: Console, threshold: float) -> None:
    """Rows: activations; columns: losses; cells: the worst relative error of the network, pass/FAIL."""
    activations = list(dict.fromkeys(a for a, _ in results))
    losses = list(dict.fromkeys(l for _, l in results))
    console.print(f"gradient check of a 4-5-4-out network (L2 0.01, dropout 0.25 held fixed) for every "
                  f"activation x loss: the worst relative error of its tensors (threshold {threshold:g})",
                  soft_wrap=True)
    table = Table(show_edge=False)
    table.add_column("activation \\ loss")
    for loss in losses:
        table.add_column(loss, justify="right")
    for act in activations:
        cells = []
        for loss in losses:
            checks = results[(act, loss)]
            worst = max(c.rel_error for c in checks)
            ok = all(c.passed for c in checks)
            kinks = sum(c.kinks for c in checks)
            cell = f"{worst:.1e} {'ok' if ok else 'FAIL'}" + (f" ({kinks} kinks)" if kinks else "")
            cells.append(Text(cell, style="" if ok else "red"))
        table.add_row(act, *cells)
    console.print(table)


# === evaluate / predict / plot (issue 4) ==========================================================
# Rendering for ``gdtrain evaluate``, ``gdtrain predict`` and ``gdtrain plot``; the numbers come from
# inference.py and plot.py.

SERIES_STYLES = ("cyan", "magenta", "yellow", "green", "red", "blue", "bright_cyan", "bright_magenta")


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


def chart_text(chart) -> List[Text]:
    """A plot.Chart as rich Text lines, each series' markers in its own colour (plain on a non-TTY console)."""
    texts = [Text(line) for line in chart.lines]
    for line, col, series in chart.marks:
        if line < len(texts) and col < len(texts[line].plain):
            texts[line].stylize(SERIES_STYLES[series % len(SERIES_STYLES)], col, col + 1)
    return texts


def plot_report(charts, console: Console, header: str = "") -> None:
    """Print text charts one under the other (plot.charts), a blank line between them."""
    if header:
        console.print(header, soft_wrap=True)
    for i, chart in enumerate(charts):
        if i or header:
            console.print()
        for text in chart_text(chart):
            console.print(text, soft_wrap=True, no_wrap=True, overflow="ignore")
