"""Stopping a run from outside at a safe point: Ctrl-C (SIGINT), SIGTERM or SIGHUP.

    with GracefulStop(on_first=lambda: print("stopping...")) as stop:
        fit(config, stop_requested=stop)

The first signal only sets a flag (and ``signum`` says which signal it was); training polls it after every
update and stops with the weights of the last completed epoch, and everything learned so far is saved
(checkpoint.npz, metrics.csv, model.npz, summary.json). A second Ctrl-C raises KeyboardInterrupt at once;
a second SIGTERM or SIGHUP is still only a request. ``exit_code`` is the shell's convention for the first
signal: 128 + its number (130 SIGINT, 143 SIGTERM, 129 SIGHUP). Outside the main thread (where Python
cannot install signal handlers) it does nothing.
"""

from __future__ import annotations

import signal
import threading
from typing import Callable, Optional, Sequence

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class GracefulStop:
    def __init__(self, on_first: Optional[Callable[[], None]] = None, signals: Sequence[int] = SIGNALS):
        self.requested = False
        self.signum: Optional[int] = None
        self.on_first = on_first
        self.signals = tuple(signals)
        self._previous = {}

    def __call__(self) -> bool:
        return self.requested

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.requested:
            return
        self.requested, self.signum = True, signum
        self.first(signum)

    def first(self, signum: int) -> None:
        """What the first signal does besides setting the flag (a race also tells its workers)."""
        if self.on_first is not None:
            self.on_first()

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
