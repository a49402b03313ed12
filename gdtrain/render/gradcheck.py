"""``gdtrain gradcheck`` in the terminal: the tensors of one network checked against central differences, or
the self-test's matrix (every activation x loss) and its row per layer type, and the hint after a failure
(the numbers come from gradcheck.py)."""

from __future__ import annotations

from typing import Dict, Tuple

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..gradcheck import LAYER_NETWORKS
from .terminal import table_box, whole_lines


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
