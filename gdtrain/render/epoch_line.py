"""The line ``gdtrain fit`` prints per epoch, laid out to fit the terminal's width.

The widest layout shows every figure, each in a column of fixed width so that the lines of a run line up:

    epoch  1/40  train 1.078    acc 0.7037  val 0.4557   acc 0.8959  lr 0.1    |g| 1.59    [W1 1.1 W2 1.1]  0.0s
                 '--- training batches ---'  '---- validation ----'          ‖∇J‖      ‖∂J/∂W1‖, ‖∂J/∂W2‖

``train`` is the epoch's mean training objective and ``acc`` next to it the share of the training samples its
batches classified right (Keras's ``accuracy``, see monitor.py); ``val`` is the validation loss with the
validation accuracy (r2 for regression). When the line does not fit, figures give way in this order:

  1. the per-layer gradient norms shrink to the first and the last layer, ``[W1 6.9e-05 … W8 0.54]`` (those two
     tell vanishing and exploding gradients apart: the first layers' norm orders of magnitude below the last's);
  2. the seconds go, and the loss columns narrow from 8 characters to 6;
  3. the per-layer norms leave the line for the layer table, printed every ``TABLE_EVERY`` lines instead;
  4. the global gradient norm ``|g|`` goes, then the learning rate;
  5. the columns lose their padding.
A learning rate that never changes (constant schedule, no line search; the header shows it) goes first of all,
right after the seconds.

The epoch, the training loss (and accuracy) and the validation loss and metric are always there. A layout once
given up is not taken back within a run (a line with shorter numbers would otherwise shift the columns).
Piped output (plain, 200 columns) keeps the widest layout (unless even that is wider than 200).
"""

from __future__ import annotations

import math
from typing import List, Optional

from .terminal import fmt

TABLE_EVERY = 10  # epoch lines between two layer tables once the per-layer norms have left the line

# The layouts from the widest to the sparest: (per-layer norms "full" | "compact" | None, seconds, |g|, lr, the
# width of the loss columns: 8 holds nearly every loss fmt prints ("0.008729", "1.23e-05"), 6 the usual ones
# ("2.345", "0.4557"); 0: no padding).
# A learning rate that never changes (a constant schedule, no line search) is in the header already, so it goes
# before the per-layer norms; one that changes (a schedule) stays longest.
CONSTANT_LR_LAYOUTS = (
    ("full", True, True, True, 8),
    ("compact", True, True, True, 8),
    ("compact", False, True, True, 6),
    ("compact", False, True, False, 6),
    (None, False, True, False, 6),
    (None, False, False, False, 6),
    (None, False, False, False, 0),
)
CHANGING_LR_LAYOUTS = (
    ("full", True, True, True, 8),
    ("compact", True, True, True, 8),
    ("compact", False, True, True, 6),
    (None, False, True, True, 6),
    (None, False, False, True, 6),
    (None, False, False, False, 6),
    (None, False, False, False, 0),
)


def metric_text(name: str, value: Optional[float]) -> str:
    """An accuracy with 4 decimals ('0.8959', '1.0000': the same width on every line, as Keras prints it);
    other metrics (r2) as ``fmt``."""
    if name == "accuracy" and value is not None and math.isfinite(value):
        return f"{value:.4f}"
    return fmt(value)


def layer_norms(record, compact: bool) -> str:
    """'[W1 1.1 W2 1.1]' (each weight gradient's norm), or compact '[W1 6.9e-05 … W8 0.54]' beyond 3 layers
    (batch norm's γ and β are in the layer table and metrics.csv)."""
    norms = [(k.removeprefix("grad_norm_"), v) for k, v in record.grad_norms.items() if k.startswith("grad_norm_W")]
    if compact and len(norms) > 3:
        norms = [norms[0], None, norms[-1]]
    return "[" + " ".join("…" if item is None else f"{item[0]} {fmt(item[1], 2)}" for item in norms) + "]"


class EpochLine:
    """Lays out the epoch lines of one run (``epochs`` in all; ``metric``: accuracy or r2)."""

    def __init__(self, epochs: int, metric: str = "accuracy", lr_changes: bool = False):
        self.epochs = epochs
        self.metric = metric
        self.layouts = CHANGING_LR_LAYOUTS if lr_changes else CONSTANT_LR_LAYOUTS
        self.level = 0  # the sparest layout used so far (an index into ``layouts``)

    @property
    def layers_in_table(self) -> bool:
        """Whether the per-layer gradient norms have left the line (the reporter then prints the layer table)."""
        return self.layouts[self.level][0] is None

    def parts(self, record, layers: Optional[str], seconds: bool, grad: bool, lr: bool, loss_width: int) -> List[str]:
        padded = loss_width > 0

        def col(text: str, width: int) -> str:
            return f"{text:<{width}}" if padded else text

        label = "acc" if self.metric == "accuracy" else self.metric
        parts = [f"epoch {record.epoch:>{len(str(self.epochs)) if padded else 0}}/{self.epochs}"]
        train = f"train {col(fmt(record.train_loss), loss_width)}"
        if "accuracy" in record.train:
            train += f" acc {metric_text('accuracy', record.train['accuracy'])}"
        parts.append(train)
        if record.val:
            metric = metric_text(self.metric, record.val.get(self.metric))
            parts.append(f"val {col(fmt(record.val['loss']), loss_width)} {label} {col(metric, 6)}")
        if lr:
            parts.append(f"lr {col(fmt(record.lr, 3), 5)}")
        if grad:
            parts.append(f"|g| {col(fmt(record.grad_norms['grad_norm'], 3), 6)}")
        if layers is not None:
            parts.append(layer_norms(record, compact=layers == "compact"))
        if record.clip_fraction:
            parts.append(f"clipped {record.clip_fraction:.0%}")
        if seconds:
            parts.append(f"{record.seconds:.1f}s")
        return parts

    def line(self, record, width: int) -> str:
        """The widest layout (from the current level on) whose line fits ``width`` characters."""
        for level in range(self.level, len(self.layouts)):
            layers, seconds, grad, lr, loss_width = self.layouts[level]
            text = ("  " if loss_width else " ").join(self.parts(record, layers, seconds, grad, lr, loss_width)).rstrip()
            if len(text) <= width or level == len(self.layouts) - 1:
                self.level = level
                return text
        raise AssertionError("unreachable")
