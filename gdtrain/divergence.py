"""When a training run has diverged. train.py applies two tests and stops at the first that holds:

non-finite  after every update step: the step's loss or gradient norm is inf or NaN (or the weights after the
            epoch's last update are). That epoch is not completed: "diverged at epoch t" with t − 1 epochs done.
runaway     after every epoch t, its training loss J_t against the losses of the epochs before it:

                J_t > DIVERGENCE_FACTOR · min_{τ<t} J_τ     and     J_t > J_1        (DIVERGENCE_FACTOR = 1e4)

            A loss ten thousand times the lowest it reached is not noise: on a quadratic, a step η above 2/L
            multiplies the distance to the minimum by |1 − ηL| > 1 at every step, so the loss grows
            geometrically and only overflows (the non-finite test) hundreds of epochs later. η = 1 on
            configs/learning_rate.yaml passes the factor at epoch 5 (1.1e10 against 2.8e4 at epoch 1), where
            the non-finite test alone stopped at epoch 180, with the loss at 3.5e305. The second condition keeps
            a loss that wobbles near zero from counting: a classifier at 1e-5 whose loss spikes to 0.1 has risen
            1e4-fold, but it is still below where training started, and it recovers. (Measured on the shipped
            configs, the tour's variants and the default race with its tuning runs over 3 seeds: one tuning run
            jumps 28 000-fold over its lowest, to below its first epoch's loss, and recovers; above its first
            epoch's loss, no run rose past 360-fold.)

The run then stops with stop_reason "diverged" and keeps the weights of its best epoch (train.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional

DIVERGENCE_FACTOR = 1e4


@dataclass
class Runaway:
    """The runaway test: the first epoch's training loss and the lowest so far (with its epoch)."""

    first: float = math.nan
    lowest: float = math.inf
    lowest_epoch: int = 0

    @classmethod
    def of(cls, losses: Iterable[float]) -> "Runaway":
        """The test as it stands after these epoch losses (epochs 1, 2, ...): how a resumed run rebuilds it."""
        check = cls()
        for epoch, loss in enumerate(losses, start=1):
            check.update(epoch, loss)
        return check

    def update(self, epoch: int, loss: float) -> Optional[str]:
        """Add epoch ``epoch``'s training loss; what ran away (a phrase for the message), or None."""
        if not math.isfinite(loss):
            return None  # the non-finite test's
        ran_away = None
        if self.lowest_epoch and loss > DIVERGENCE_FACTOR * self.lowest and loss > self.first:
            ran_away = (f"the training loss grew to {loss:.2g}, more than {DIVERGENCE_FACTOR:.0e} x its lowest "
                        f"({self.lowest:.2g} at epoch {self.lowest_epoch})")
        if not self.lowest_epoch:
            self.first = loss
        if loss < self.lowest:
            self.lowest, self.lowest_epoch = loss, epoch
        return ran_away
