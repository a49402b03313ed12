"""Gradient clipping, as torch.nn.utils does it, applied to the whole flat gradient in place.

norm:  g ← g · min(1, c / (‖g‖₂ + 1e−6))       (clip_grad_norm_: one global norm over all parameters)
value: g ← clamp(g, −v, v)                     (clip_grad_value_: each entry)

Clipping is the classic remedy for exploding gradients (Pascanu, Mikolov & Bengio, "On the difficulty of
training recurrent neural networks", 2013; Uma Mahesh, "Backpropagation and Gradient Descent", §20). It runs
after the gradient of (loss + L2) and before the optimizer.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def clip_by_norm(grad: np.ndarray, max_norm: float, norm: Optional[float] = None) -> Tuple[float, bool]:
    """Rescale ``grad`` in place; returns (the norm before clipping, whether it was rescaled)."""
    total = float(np.sqrt(np.vdot(grad, grad))) if norm is None else norm
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        grad *= grad.dtype.type(coef)
        return total, True
    return total, False


def clip_by_value(grad: np.ndarray, clip_value: float) -> bool:
    """Clamp ``grad`` in place to [−v, v]; returns whether any entry was clamped."""
    fired = bool(np.abs(grad).max(initial=0.0) > clip_value)
    if fired:
        np.clip(grad, -clip_value, clip_value, out=grad)
    return fired
