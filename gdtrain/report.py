"""All terminal rendering (rich). The library never prints; the CLI hands these functions its results.

On a terminal: a progress bar under the epoch lines. When piped, with ``CI`` set or ``NO_COLOR`` set:
plain text lines, no colour codes, no cursor movement.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Callable, Dict, List, Optional, Tuple

from rich.console import Console
from rich.table import Table
from rich.text import Text


# --- a terminal that cannot show Unicode (PYTHONIOENCODING=cp1252, a Windows console, LANG=C) ---------------

ASCII_SYMBOLS = {
    "−": "-", "–": "-", "—": "--", "→": "->", "←": "<-", "↦": "|->", "⟺": "<=>", "‖": "||", "∂": "d", "∇": "grad ",
    "θ": "theta", "η": "eta", "φ": "phi", "ε": "eps", "β": "beta", "σ": "sigma", "μ": "mu", "µ": "mu", "γ": "gamma",
    "λ": "lambda", "δ": "delta", "Δ": "Delta", "α": "alpha", "ψ": "psi", "π": "pi", "ρ": "rho", "Σ": "sum ",
    "ℓ": "l", "²": "^2", "₀": "0", "₁": "1", "₂": "2", "ⱼ": "j", "ᵢ": "i", "ᵀ": "^T", "ᵗ": "^t", "ᵏ": "^k",
    "·": "*", "×": "x", "⊙": "*", "√": "sqrt", "±": "+-", "∓": "-+", "≤": "<=", "≥": ">=", "≈": "~", "≠": "!=",
    "∈": " in ", "∞": "inf", "…": "...", "★": "*", "§": "S", "⌊": "floor(", "⌋": ")", "ŷ": "y_hat", "ȳ": "y_bar",
    "ḡ": "g_bar", "\u0302": "^", "─": "-", "│": "|", "┤": "|", "┬": "+", "└": "+",
}
ASCII_ERRORS = "gdtrain-ascii"
PROBE = "‖∂→"  # symbols every report uses


def _ascii_replace(exc: UnicodeError):
    """The codec error handler: each character the stream cannot encode becomes its ASCII spelling (else '?')."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    import unicodedata

    out = []
    for ch in exc.object[exc.start:exc.end]:
        if ch in ASCII_SYMBOLS:
            out.append(ASCII_SYMBOLS[ch])
        else:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
            out.append(base or "?")
    return "".join(out), exc.end


def can_encode_unicode(stream=None) -> bool:
    """Whether ``stream`` (stdout) can encode the symbols gdtrain prints."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "utf-8"
    try:
        PROBE.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def ascii_fallback() -> None:
    """When stdout or stderr cannot encode the symbols gdtrain prints, switch it to ASCII spellings of them
    ('→' as '->', '‖' as '||', others as their base letter or '?') instead of a UnicodeEncodeError."""
    import codecs

    try:
        codecs.lookup_error(ASCII_ERRORS)
    except LookupError:
        codecs.register_error(ASCII_ERRORS, _ascii_replace)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if not encoding or not hasattr(stream, "reconfigure"):
            continue
        try:
            PROBE.encode(encoding)
        except UnicodeEncodeError:
            try:
                stream.reconfigure(errors=ASCII_ERRORS)
            except (ValueError, OSError, TypeError):  # a closed or exotic stream: leave it
                pass
        except LookupError:
            pass


def plain_output() -> bool:
    return (not sys.stdout.isatty()) or bool(os.environ.get("CI")) or "NO_COLOR" in os.environ


def discard_output(stream) -> None:
    """Point the file descriptor under ``stream`` at /dev/null (what Python's docs advise once a pipe is closed):
    later writes, and the flush at exit, then succeed instead of failing again. A stream without a descriptor
    (a test's StringIO) is left as it is."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class PipeSafeConsole(Console):
    """A Console whose reader may go away (``gdtrain fit ... | head -3``, quitting ``less``): rich's default is
    to exit (SystemExit(1), silently, killing the run); this one stops printing (its output goes to /dev/null),
    remembers it (``closed``) and calls ``on_closed`` once, and the command carries on."""

    closed = False
    on_closed: Optional[Callable[[], None]] = None

    def on_broken_pipe(self) -> None:
        self.quiet = True  # rich then drops what it buffered, and everything printed from now on
        first, self.closed = not self.closed, True
        discard_output(self.file)
        if first and self.on_closed is not None:
            self.on_closed()


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def make_console(stderr: bool = False) -> Console:
    """Plain output (piped, CI, NO_COLOR) is 200 columns wide when it goes to a file or a pipe, the terminal's
    width when it goes to a terminal (NO_COLOR there: plain text that still fits)."""
    ascii_fallback()
    if plain_output():
        width = None if _is_tty(sys.stderr if stderr else sys.stdout) else 200
        return PipeSafeConsole(stderr=stderr, no_color=True, highlight=False, force_terminal=False, markup=False,
                               width=width, emoji=False, color_system=None)
    return PipeSafeConsole(stderr=stderr, highlight=False, markup=False)  # text is printed as is: "[W1 ...]" stays


def whole_lines(console: Console) -> bool:
    """Whether long messages stay on one line: yes into a file or a pipe (logs, grep), no on a terminal, which
    gets them wrapped at word boundaries to its width (rich's ``soft_wrap``)."""
    return not console.is_terminal


def table_box(console: Console):
    """A table's rules: rich's heavy head on a terminal, ASCII ('-', '|', '+') into a pipe or a file."""
    from rich import box

    return box.HEAVY_HEAD if console.is_terminal else box.ASCII


# box-drawing characters of the text charts (plot.py) and their ASCII stand-ins for output that is not a terminal
CHART_ASCII = str.maketrans({"┤": "+", "│": "|", "└": "+", "┬": "+", "─": "-"})


def chart_width(console: Console) -> int:
    """Text charts: the terminal's width up to 100 columns; 80 when the output goes to a pipe or a file."""
    return max(24, min(console.width, 100)) if console.is_terminal else 80


def fmt(value: Optional[float], digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{max(digits - 2, 1)}e}"
    return f"{value:.{digits}g}"


def describe_layers(net) -> str:
    """'64 → 64 relu (dropout 0.2) → batchnorm → 10': input size, then each layer (Network.describe)."""
    return net.describe()


def describe_network(net, loss) -> str:
    """'64 → 64 relu → 10  [softmax + cross_entropy]'."""
    return f"{describe_layers(net)}  [{loss.head()}]"


def describe_component(spec: Dict, defaults: Dict) -> str:
    """'sgd(lr=0.1, momentum=0.9)': the name and the options that differ from their defaults."""
    options = ", ".join(f"{k}={v}" for k, v in spec.items()
                        if k != "name" and (k == "lr" or k not in defaults or defaults[k].default != v))
    return f"{spec['name']}({options})"


def describe_optimizer(spec: Dict) -> str:
    """'sgd(lr=0.001, momentum=0.9)': a resolved optimizer spec and the options that differ from its defaults."""
    from .optimizers import OPTIMIZERS

    return describe_component(spec, OPTIMIZERS.get(spec["name"]).OPTIONS)


def describe_training(config) -> str:
    """'sgd(lr=0.1, momentum=0.9)', or the line search that replaces the optimizer's step."""
    search = config.training.line_search
    if search is not None:
        from .linesearch import LINE_SEARCHES

        return f"gradient descent with {describe_component(search, LINE_SEARCHES.get(search['name']).options)} line search"
    return describe_optimizer(config.optimizer)


def describe_mode(training) -> str:
    """'full batch', 'stochastic (batch 1)' or 'mini-batch 32'."""
    return {"batch": "full batch", "sgd": "stochastic (batch 1)"}.get(training.mode, f"mini-batch {training.batch_size}")


def describe_run(config) -> str:
    """'sgd(lr=0.1), mini-batch 32, 40 epochs, l2=0.001, ...': how the config trains."""
    return (f"{describe_training(config)}, {describe_mode(config.training)}, {config.training.epochs} epochs"
            + "".join(f", {extra}" for extra in training_extras(config)))


def describe_splits(data) -> str:
    """'1259 train / 269 validation / 269 test, 64 features, 10 classes'."""
    classes = f", {data.n_classes} classes" if data.classes is not None else ""
    scaling = getattr(data, "target_scaling", None)  # data.standardize_target: the loss is in these units
    target = "" if scaling is None else ", target standardized: " + "; ".join(
        f"μ {m:.4g}, σ {s:.4g}" for m, s in zip(scaling.mean, scaling.scale))
    return (f"{data.splits['train']} train / {data.splits['validation']} validation / {data.splits['test']} test, "
            f"{data.n_features} features{classes}{target}")


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
    """The last epoch, tensor by tensor: what flows back (‖∂J/∂W‖), the weights, the step, the units' health."""
    from .monitor import tracked_names

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
        from .epoch_line import EpochLine
        from .metrics import primary_metric

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
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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
        from .epoch_line import TABLE_EVERY

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
            from . import plot, rundir

            rows = plot.read_metrics(result.run_dir / rundir.METRICS)
            plot_report(plot.charts(rows, max(24, min(c.width, 100)), 8), c)
        c.print(stop_line(s), soft_wrap=whole_lines(c))
        c.print(f"saved to  {result.run_dir}")


def gradcheck_table(checks, console: Console, title: str = "") -> None:
    if title:
        console.print(title, soft_wrap=True)
    table = Table(show_edge=False, box=table_box(console))
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
    table = Table(show_edge=False, box=table_box(console))
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


def gradcheck_layers(results: Dict[str, list], console: Console, threshold: float) -> None:
    """One row per layer-type network (gradcheck.LAYER_NETWORKS): its tensors and the worst relative error (of
    the tensors judged by it: a gradient that is exactly 0, like a bias's before batch norm, passes by atol)."""
    from .gradcheck import LAYER_NETWORKS

    console.print("and a small network of each layer type, in training mode on one fixed batch:", soft_wrap=True)
    table = Table(show_edge=False, box=table_box(console))
    for col in ("network", "loss", "tensors", "worst rel error", ""):
        table.add_column(col, justify="left" if col in ("network", "loss", "tensors") else "right")
    for name, checks in results.items():
        ok = all(c.passed for c in checks)
        table.add_row(name, LAYER_NETWORKS[name][0], str(len(checks)),
                      f"{max((c.rel_error for c in checks if not c.passed or c.rel_error < threshold), default=0):.1e}",
                      Text("ok" if ok else "FAIL", style="" if ok else "red"))
    console.print(table)


def step_hint(diagnosis, console: Console) -> None:
    """After a failed gradient check: which error dominates, the step ε's or the gradient's (gradcheck.StepDiagnosis)."""
    console.print(f"hint: {diagnosis.message()}", soft_wrap=whole_lines(console))


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


def chart_text(chart, ascii_axes: bool = False) -> List[Text]:
    """A plot.Chart as rich Text lines, each series' markers in its own colour (plain on a non-TTY console);
    ``ascii_axes``: the axes drawn with '|', '+' and '-' instead of box-drawing characters."""
    texts = [Text(line.translate(CHART_ASCII) if ascii_axes else line) for line in chart.lines]
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
        for text in chart_text(chart, ascii_axes=not console.is_terminal):
            console.print(text, soft_wrap=True, no_wrap=True, overflow="ignore")


def race_plot_header(race) -> str:
    """'runs/compare-iris: a race of 2 optimizers on iris, seeds 0-1, won by adam ★ (summary.json)'."""
    what = "modes" if race.kind == "modes" else "optimizers"
    seeds = f"seed {race.seeds[0]}" if len(race.seeds) == 1 else f"seeds {race.seeds[0]}-{race.seeds[-1]}"
    winner = next((c.label for c in race.contestants if c.winner), None)
    won = f", won by {winner} ★" if winner else ", no winner"
    return f"{race.folder}: a race of {len(race.contestants)} {what} on {race.config}, {seeds}{won}"


# === compare-optimizers (issue 5) =================================================================
# Rendering for ``gdtrain compare-optimizers``: the race's header, its progress (a live line on a terminal,
# one line per finished run when piped), the tuning grid, the ranked table and the overlaid loss curves.
# The numbers come from the race package (gdtrain/race/).

def _stat(stat, digits: int = 4, sep: str = " ") -> str:
    """'0.1234' or, over several seeds, '0.1234 ± 0.0056' (``sep`` "\n": the spread on a line of its own)."""
    if stat.mean is None:
        return "-"
    return fmt(stat.mean, digits) + (f"{sep}± {fmt(stat.std, 2)}" if stat.std is not None else "")


def describe_contestant(contestant) -> str:
    """'momentum = sgd(lr=0.001, momentum=0.9)'."""
    return f"{contestant.label} = {describe_optimizer(contestant.optimizer)}"


def race_header(race, out_dir, workers: int, console: Console) -> None:
    """What is about to race, on what, and under which protocol."""
    from .race import blas_threads, effective_workers

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
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
    text = _stat(stat, digits, "\n")
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
        row.append(_stat(s.stats["final_train_loss"], sep="\n"))
        if race.has_validation:
            row += [_stat(s.stats["best_val_loss"], sep="\n"), _stat(s.stats["best_val_metric"], sep="\n")]
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
    from . import plot
    from .race.charts import epoch_curves, time_curves, use_log_scale

    curves = epoch_curves(result, "train_loss")
    n = max((len(v) for v in curves.values()), default=0)
    if n == 0:
        return []
    log = use_log_scale(curves)
    seeds = "" if len(result.race.seeds) == 1 else ", mean over seeds"
    out = [plot.chart(list(range(1, n + 1)), curves, width, height, log=log,
                      title=f"train loss per epoch{seeds}{', log scale' if log else ''}")]
    if result.race.kind == "modes":
        grid, by_time, unit = time_curves(result)
        log = use_log_scale(by_time)
        by_time_chart = plot.chart(grid, by_time, width, height, log=log, x_label=unit,
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


# === list / explain / init / validate / schema (issue 7) ==========================================
# Rendering for the discovery commands. The records come from catalog.py, which reads them from the
# registries and Option tables the code runs on; nothing here knows a component by name.

def option_list(options) -> str:
    """'lr=0.001, betas=[0.9, 0.999], step_size (required)': options with their defaults, as YAML writes them."""
    from .catalog import inline

    return ", ".join(f"{o.name} (required)" if o.required else f"{o.name}={inline(o.default)}" for o in options)


def _label(text: str, width: int) -> Text:
    return Text(f"{text:<{width}}", style="bold")


def _columns(console: Console, rows, styles=(), indent: str = "") -> None:
    """Rows of cells in aligned columns (the last one free), without a table's trailing padding."""
    rows = [[str(c) for c in row] for row in rows]
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows if len(row) > i) for i in range(max(len(r) for r in rows))]
    for row in rows:
        line = Text(indent)
        for i, cell in enumerate(row):
            last = i == len(row) - 1
            line.append(cell if last else f"{cell:<{widths[i]}}  ", style=styles[i] if i < len(styles) else None)
        console.print(line, soft_wrap=True)


def catalog_overview(families, keys, templates, console: Console) -> None:
    """`gdtrain list`: every family's names in one line each, where a config names them, and what to run next."""
    rows = [("list", "in a config", "names")]
    for fam in families:
        names = [e.name for e in fam.entries if not e.alias_of]
        aliases = [e.name for e in fam.entries if e.alias_of]
        text = ", ".join(names) + (f"; aliases {', '.join(aliases)}" if aliases else "")
        if fam.name == "early-stopping":
            text = option_list(fam.entries[0].options)
        rows.append((fam.name, fam.key, text))
    from .ideas import names as idea_names

    rows.append(("ideas", "gdtrain explain IDEA", ", ".join(idea_names())))
    rows.append(("config", "(every key)", ", ".join(k.path for k in keys if "." not in k.path)))
    rows.append(("templates", "gdtrain init -t NAME", ", ".join(t.name for t in templates)))
    _columns(console, rows, ("bold", "cyan"))
    console.print()
    console.print("gdtrain list WHAT: options, defaults and descriptions  ·  gdtrain explain NAME: the formula, "
                  "what each option means, the shipped configs that use it", soft_wrap=True)


def family_listing(fam, console: Console) -> None:
    """`gdtrain list optimizers`: one line per entry (name, description), its options and defaults under it."""
    width = max(len(e.name) for e in fam.entries) + 2
    how = {"optimizers": "optimizer: {name: NAME, option: value, ...}  (a bare name takes every default)",
           "schedules": "schedule: {name: NAME, option: value, ...}",
           "line-searches": "training: {mode: batch, line_search: {name: NAME, option: value, ...}}",
           "early-stopping": "training: {early_stopping: {option: value, ...}}  (or true: every default)"}
    console.print(f"{fam.name}  —  {how.get(fam.name, f'{fam.key}: NAME')}", soft_wrap=True)
    for e in fam.entries:
        line = Text("  ")
        line.append(_label(e.name, width))
        if e.alias_of:
            line.append(f"alias: {e.description}")
            console.print(line, soft_wrap=True)
            continue
        line.append(e.description)
        console.print(line, soft_wrap=True)
        if e.options:
            console.print(Text(" " * (width + 2) + option_list(e.options), style="dim"), soft_wrap=True)
    if fam.shared:
        console.print(f"  every {fam.kind} also takes: {option_list(fam.shared)}", soft_wrap=True)
    console.print()
    console.print("gdtrain explain NAME: the formula, what each option means, the shipped configs that use it",
                  soft_wrap=True)


def config_keys_listing(keys, console: Console) -> None:
    """`gdtrain list config`: every key with its default and doc (sections as headings)."""
    from .catalog import inline

    def shown(k) -> str:
        default = "(required)" if k.required else inline(k.default)
        return default if len(default) <= 40 else default[:37] + "..."

    width = max(len(k.path) for k in keys) + 2
    default_width = max(len(shown(k)) for k in keys if not k.section) + 2
    for k in keys:
        if k.section:
            console.print(Text(f"{k.path}:" + (f"  {k.doc}" if k.doc else ""), style="bold"), soft_wrap=True)
            continue
        line = Text(f"  {k.path:<{width}}")
        line.append(f"{shown(k):<{default_width}}", style="cyan")
        line.append(k.doc)
        console.print(line, soft_wrap=True)


def templates_listing(templates, console: Console, default: str = "") -> None:
    """`gdtrain init --template list`: the shipped configs, each with the first sentence of its header."""
    width = max(len(t.name) for t in templates) + 2
    console.print("templates (the shipped configs): gdtrain init --template NAME [PATH]")
    for t in templates:
        line = Text("  ")
        line.append(_label(t.name, width))
        line.append(t.description + ("  (default)" if t.name == default else ""))
        console.print(line, soft_wrap=True)


def _heading(console: Console, text: str) -> None:
    console.print()
    console.print(Text(text, style="bold underline"))


def _indented(console: Console, text: str, indent: str = "  ") -> None:
    for line in text.splitlines():
        console.print(indent + line if line.strip() else "", soft_wrap=True)


def explanation(ex, console: Console, max_usages: int = 8) -> None:
    """`gdtrain explain NAME`: the cheat sheet of one component, straight from the code's docstrings."""
    entry, fam = ex.entry, ex.family
    title = Text(entry.name, style="bold")
    title.append(f"  —  {fam.kind}" + (f" (alias of {entry.alias_of})" if entry.alias_of else ""))
    console.print(title)
    console.print(ex.summary, soft_wrap=True)
    if ex.formula and ex.formula not in ex.summary:
        _heading(console, {"optimizers": "update rule", "line-searches": "rule"}.get(fam.name, "formula"))
        _indented(console, ex.formula)
    if ex.block or ex.context:
        _heading(console, f"from {ex.source}")
    if ex.block:
        _indented(console, ex.block)
    for i, paragraph in enumerate(ex.context):
        if i or ex.block:
            console.print()
        _indented(console, paragraph)
    if ex.options or ex.shared:
        from .catalog import inline

        _heading(console, "options (default)")
        rows = [(o.name, "required" if o.required else inline(o.default), o.doc) for o in ex.options]
        rows += [(o.name, inline(o.default), f"{o.doc} (every {fam.kind})") for o in ex.shared]
        _columns(console, rows, ("bold", "cyan"), indent="  ")
    _heading(console, "in a config")
    _indented(console, ex.example)
    if ex.equivalent:
        _heading(console, "equivalent")
        _indented(console, ex.equivalent)
    if ex.notes:
        _heading(console, "notes")
        for note in ex.notes:
            console.print(f"  {note}", soft_wrap=True)
    _heading(console, "shipped configs")
    if not ex.usages:
        console.print(f"  no shipped config names {entry.name}; start from one (gdtrain init) and set {fam.key}",
                      soft_wrap=True)
    _columns(console, [(u.path, ", ".join(u.keys), u.command, u.about) for u in ex.usages[:max_usages]],
             ("bold", "cyan", "dim"), indent="  ")
    if len(ex.usages) > max_usages:
        rest = ex.usages[max_usages:]
        console.print(f"  and {len(rest)} more: {', '.join(u.path for u in rest)}", soft_wrap=True)


def explanations(items, console: Console) -> None:
    for i, ex in enumerate(items):
        if i:
            console.print()
            console.rule(characters="─" if console.is_terminal else "-")
        (idea_explanation if hasattr(ex, "idea") else explanation)(ex, console)


def _paragraph(console: Console, text: str, indent: str = "  ") -> None:
    """Prose wrapped to the terminal (at most 100 columns), indented."""
    import textwrap

    width = max(40, min(console.width, 100)) - len(indent)
    for line in textwrap.wrap(text, width, break_on_hyphens=False):
        console.print(indent + line, soft_wrap=True)


def idea_explanation(ex, console: Console) -> None:
    """`gdtrain explain IDEA`: an idea of the tour (ideas.py) — formula, what it does, keys, where to see it."""
    from .catalog import inline

    idea = ex.idea
    title = Text(idea.name, style="bold")
    title.append("  —  idea" + (f" (tour stop {', '.join(str(n) for n, _ in ex.tour)})" if ex.tour else ""))
    console.print(title)
    console.print(idea.title, soft_wrap=True)
    _heading(console, "formula")
    _indented(console, idea.formula)
    _heading(console, "what it does")
    _paragraph(console, idea.what)
    if ex.keys:
        _heading(console, "config keys (default)")
        _columns(console, [(k.path, inline(k.default), k.doc) for k in ex.keys], ("bold", "cyan"), indent="  ")
    _heading(console, "where to see it")
    rows = [(u.path, u.command, u.about) for u in ex.usages]
    rows += [(f"tour stop {n}", "docs/tour.md", title_) for n, title_ in ex.tour]
    if rows:
        _columns(console, rows, ("bold", "cyan", "dim"), indent="  ")
    for command in idea.commands:
        console.print(f"  try: {command}", soft_wrap=True)
    if idea.code:
        _heading(console, "in the code")
        console.print("  " + ", ".join(idea.code), soft_wrap=True)
    if idea.see:
        _heading(console, "see also")
        console.print("  " + ", ".join(f"gdtrain explain {name}" for name in idea.see), soft_wrap=True)
    if ex.reading:
        _heading(console, "further reading")
        for ref in ex.reading:
            _paragraph(console, ref, indent="  ")


def ideas_listing(ideas, console: Console) -> None:
    """`gdtrain list ideas`: each idea of the tour with its one-line title and tour stops."""
    width = max(len(idea.name) for idea in ideas) + 2
    console.print("ideas (the concepts the tour teaches): gdtrain explain IDEA")
    for idea in ideas:
        line = Text("  ")
        line.append(_label(idea.name, width))
        line.append(idea.title + (f"  (tour {', '.join(str(n) for n in idea.tour)})" if idea.tour else ""))
        console.print(line, soft_wrap=True)


def init_done(path, tpl, console: Console) -> None:
    console.print(f"wrote {path} from the '{tpl.name}' template: {tpl.description}", soft_wrap=True)
    console.print(f"next: gdtrain validate {path}    then: gdtrain fit {path}", soft_wrap=True)


def describe_hidden(config) -> str:
    """'64 relu → 32 relu', or 'linear model', from the config alone (no data needed)."""
    def text(layer) -> str:
        if layer.type == "batchnorm":
            return "batchnorm"
        if layer.type == "residual":
            inner = " → ".join(text(x) for x in layer.hidden)
            return f"residual({inner}{' + projection' if layer.projection else ''})"
        act = f"batchnorm → {layer.activation}" if layer.batchnorm else layer.activation
        return f"{layer.units} {act}" + (f" (dropout {layer.dropout:g})" if layer.dropout else "")

    layers = [text(layer) for layer in config.model.hidden]
    return " → ".join(layers) if layers else "linear model"


def config_summary(config, source: str, built=None) -> str:
    """One line: what the config trains, on what, with which optimizer (sizes and splits when ``built``)."""
    if config.problem is not None:  # a 2-D test function: no data, no network
        from .problems import make_problem

        return f"{source} is valid: problem {make_problem(config.problem).describe()}; {describe_run(config)}"
    if built is None:
        data = f"data {config.data.source}"
        network = f"network {describe_hidden(config)}, loss {config.loss}"
    else:
        data = f"data {built.data.source} ({describe_splits(built.data)})"
        network = f"network {describe_network(built.net, built.loss)} ({built.net.size} parameters)"
    return f"{source} is valid: {data}; {network}; {describe_run(config)}"


def validation_report(yaml_text: str, summary: str, console: Console, quiet: bool = False) -> None:
    """`gdtrain validate`: the resolved config (every default filled in) as YAML, the summary as its last line.

    The summary is a YAML comment, so the whole output can be saved and used as a config.
    """
    if quiet:
        console.print(summary, soft_wrap=True)
        return
    console.out(yaml_text.rstrip("\n"), highlight=False)
    console.print(f"# {summary}", soft_wrap=True)


def schema_written(path, console: Console) -> None:
    console.print(f"wrote the JSON Schema of the config to {path}; point an editor at it, e.g. with the first line "
                  f"'# yaml-language-server: $schema={path}' in a config", soft_wrap=True)
