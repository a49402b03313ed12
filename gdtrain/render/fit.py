"""``gdtrain fit`` in the terminal (and ``gdtrain.fit(..., verbose=True)``): the training loop's records as a person
reads them. The loop itself never prints; ``FitReporter`` receives its ``on_start`` and ``on_epoch`` calls.

    data      iris: 90 train / 30 validation / 30 test, 4 features, 3 classes       the header: on what, which
    network   4 → 16 tanh → 3  [softmax + cross_entropy]  (131 parameters, float64)  network, how it trains
    training  sgd(lr=0.5), full batch, 3 epochs                                      (describe.py)
    threads   1 (auto: small GEMMs, 0.0115 MFLOP per product)
    run dir   runs/iris
    epoch 1/3  train 1.795    acc 0.0778  val 0.6993   acc 0.8333  lr 0.5 ...       one line per epoch, about
    ...                                                                              30 in all (epoch_line.py)
    layers at epoch 3:                                                              the layer table: ‖∂J/∂W‖,
    layer      units  ‖∂J/∂W‖   ‖W‖  ‖ΔW‖/‖W‖  dead  saturated                      ‖W‖, the step, the units
    split         loss  accuracy                                                    the metrics of each split,
    completed after 3 epochs in 0.01s, best val_loss at epoch 3                     the charts, why it stopped

A terminal also gets a progress bar under the lines (transient) and, at the end, the loss and gradient charts.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..metrics import primary_metric
from ..monitor import tracked_names
from ..plot import charts, read_metrics
from ..rundir import METRICS
from .describe import describe_network, describe_run, describe_splits
from .epoch_line import TABLE_EVERY, EpochLine
from .terminal import fmt, make_console, plain_output, plot_report, whole_lines


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
    """The last epoch, tensor by tensor: what flows back (‖∂J/∂W‖), the weights, the step, the units' health."""
    table = Table(show_edge=False, pad_edge=False, box=None)
    for col in ("layer", "units", "‖∂J/∂W‖", "‖W‖", "‖ΔW‖/‖W‖", "dead", "saturated"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    stats = record.layer_stats
    owners = {spec.name: layer for layer in net.all_layers() for spec in layer.tensors()}
    last = net.dense_layers()[-1]
    for name in tracked_names(net):
        layer = owners[name]
        i = getattr(layer, "index", 0)
        dense = layer.kind == "dense"
        what = ("output" if layer is last else layer.role or layer.activation.name) if dense else layer.kind
        held = [t.name for t in layer.tensors() if t.is_parameter and not net.specs[t.name].trainable]
        frozen = "" if not held else " (frozen)" if name in held else f" ({', '.join(held)} frozen)"
        dead = stats.get(f"dead_fraction_{i}") if dense else None
        sat = stats.get(f"saturated_fraction_{i}") if dense else None
        table.add_row(f"{name} {what}{frozen}", str(layer.width_out),
                      fmt(record.grad_norms.get(f"grad_norm_{name}"), 2), fmt(stats.get(f"weight_norm_{name}"), 3),
                      fmt(stats.get(f"update_ratio_{name}"), 2), "-" if dead is None else f"{dead:.0%}",
                      "-" if sat is None else f"{sat:.0%}")
    return table


class FitReporter:
    """Renders a ``gdtrain fit`` run: header, one line per epoch (throttled), a progress bar on a TTY."""

    MAX_LINES = 30  # logging.every: auto — about this many epoch lines, plus the first and last epoch

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
        self.layout = None  # epoch_line.EpochLine, from start()
        self.since_table = 0  # epoch lines since the last layer table (narrow terminals)

    def start(self, info) -> None:
        c, data, config = self.console, info.data, info.config
        self.net = info.net
        self.metric = primary_metric(data.task)
        schedule = config.schedule
        lr_changes = (schedule["name"] != "constant" or bool(schedule.get("warmup_epochs"))
                      or config.training.line_search is not None)
        self.layout = EpochLine(config.training.epochs, self.metric, lr_changes)
        c.print(f"data      {data.source}: {describe_splits(data)}")
        c.print(f"network   {describe_network(info.net, info.loss)}  ({info.net.size} parameters, {config.dtype})")
        c.print(f"training  {describe_run(config)}")
        if info.threads is not None:
            c.print(f"threads   {info.threads.describe()}")
        c.print(f"run dir   {info.run_dir}")
        self.start_progress(info)

    def start_progress(self, info) -> None:
        """How often an epoch line is printed, the 'resuming' line, and the progress bar on a terminal."""
        self.epochs = info.config.training.epochs
        every = info.config.logging.every
        self.every = max(1, math.ceil(self.epochs / self.MAX_LINES)) if every == "auto" else every
        if info.resumed_from or info.resumed:
            self.console.print(f"resuming  after epoch {info.resumed_from} (from {info.run_dir / 'checkpoint.npz'})")
        if not plain_output() and self.epochs > 1:
            self.progress = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[status]}"), TimeRemainingColumn(),
                                     console=self.console, transient=True)
            self.task = self.progress.add_task("train", total=self.epochs, completed=info.resumed_from, status="")
            self.progress.start()

    def epoch_line(self, record) -> str:
        """The epoch's figures, laid out to fit the console's width (epoch_line.py)."""
        return self.layout.line(record, self.console.width)

    def epoch(self, record) -> None:
        self.unprinted = self.last = record
        if record.epoch == 1 or record.epoch == self.epochs or record.epoch % self.every == 0:
            self.print_epoch(record)
            self.unprinted = None
        for warning in record.warnings:
            self.console.print(f"warning (epoch {warning.epoch}): {warning.message}", style="yellow",
                               soft_wrap=whole_lines(self.console))
        if self.progress is not None:
            self.progress.update(self.task, completed=record.epoch, status=f"loss {fmt(record.train_loss)}")

    def print_epoch(self, record) -> None:
        """The epoch line; once a narrow terminal has pushed the per-layer gradient norms off it, the layer table
        every ``TABLE_EVERY`` lines instead (and a note saying so, the first time)."""
        had_layers = not self.layout.layers_in_table
        self.console.print(self.epoch_line(record), soft_wrap=True)
        if self.layout.layers_in_table and self.net is not None:
            if had_layers:
                self.console.print(f"(each layer's ‖∂J/∂W‖: in the layer table, every {TABLE_EVERY} lines)")
                self.since_table = TABLE_EVERY
            self.since_table += 1
            if self.since_table >= TABLE_EVERY and record.epoch != self.epochs:
                self.console.print(layer_table(self.net, record))
                self.since_table = 0

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
            c.print(s["message"], style="bold red", soft_wrap=whole_lines(c))
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
            rows = read_metrics(result.run_dir / METRICS)
            plot_report(charts(rows, max(24, min(c.width, 100)), 8), c)
        c.print(stop_line(s), soft_wrap=whole_lines(c))
        c.print(f"saved to  {result.run_dir}")
