"""Stopping a run from outside at a safe point: Ctrl-C (SIGINT) or SIGTERM.

    with GracefulStop(on_first=lambda: print("stopping...")) as stop:
        fit(config, stop_requested=stop)

The first signal only sets a flag; training polls it after every update and stops with the weights of the
last completed epoch, and everything learned so far is saved (checkpoint.npz, metrics.csv, model.npz,
summary.json). A second Ctrl-C raises KeyboardInterrupt at once. Outside the main thread (where Python
cannot install signal handlers) it does nothing.
"""

from __future__ import annotations

import signal
import threading
from typing import Callable, Optional


class GracefulStop:
    def __init__(self, on_first: Optional[Callable[[], None]] = None):
        self.requested = False
        self.on_first = on_first
        self._previous = {}

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        if self.on_first is not None:
            self.on_first()

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
