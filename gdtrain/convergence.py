"""Convergence criteria: when to stop iterating before ``epochs`` runs out.

Checked after every epoch e, in this order; the first one met stops the run (stop_reason = its name):

tol_grad   ‖∇J‖ < tol_grad            the epoch's gradient norm (mean over its steps, before clipping);
                                      in full-batch mode the exact ‖∇J(θ)‖ at the epoch's start — the
                                      first-order optimality condition ∇J(θ*) = 0
tol_step   ‖θ_e − θ_{e−1}‖ < tol_step  the parameters stopped moving (the Euclidean norm of the epoch's change)
tol_loss   |L_e − L_{e−p}| / max(|L_{e−p}|, 1e−12) < tol_loss
                                      the training loss changed by less than this fraction over the last
                                      p = ``patience`` epochs

Each criterion is off (null) unless set. Reaching ``epochs`` is stop_reason "completed".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple


@dataclass
class Criteria:
    tol_loss: Optional[float] = None
    tol_grad: Optional[float] = None
    tol_step: Optional[float] = None
    patience: int = 5

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.tol_loss, self.tol_grad, self.tol_step))

    def check(self, epoch: int, losses: List[float], grad_norm: float,
              step_norm: float) -> Optional[Tuple[str, str]]:
        """(stop_reason, message) when a criterion is met after ``epoch``, else None.

        ``losses`` are the training losses of epochs 1..epoch.
        """
        if self.tol_grad is not None and grad_norm < self.tol_grad:
            return "tol_grad", f"gradient norm {grad_norm:.2g} < tol_grad {self.tol_grad:g} at epoch {epoch}"
        if self.tol_step is not None and step_norm < self.tol_step:
            return "tol_step", f"parameter change {step_norm:.2g} < tol_step {self.tol_step:g} at epoch {epoch}"
        p = self.patience
        if self.tol_loss is not None and len(losses) > p:
            before, now = losses[-1 - p], losses[-1]
            change = abs(now - before) / max(abs(before), 1e-12)
            if change < self.tol_loss:
                return "tol_loss", (f"training loss changed by {change:.2g} (relative) over {p} epochs "
                                    f"< tol_loss {self.tol_loss:g} at epoch {epoch}")
        return None
