"""The ``gdtrain`` command: parse, call the library, print with gdtrain.render. Nothing else lives here.

Exit codes: 0 success; 1 training failed (diverged) or a check failed; 2 bad usage, config or data (or a run
directory in use by another run); 130 interrupted (Ctrl-C); 143 stopped by SIGTERM (fit, compare-optimizers),
129 by SIGHUP (fit); 141 stdout closed (broken pipe, commands other than fit).

One module per group of commands, each registering its commands on ``app`` (common.py: the app, the error guard,
the shared options) as it is imported, in the order ``gdtrain --help`` lists them: fit.py, gradcheck.py,
evaluation.py (evaluate, predict, plot), race.py (compare-optimizers, sweep), catalog.py (list, explain, init,
validate, schema). ``gdtrain --help`` imports no NumPy: every command imports the library in its own body.
"""

from __future__ import annotations

import sys

from . import fit, gradcheck, evaluation, race, catalog  # noqa: F401  (in this order: each registers its commands)
from .common import app

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C before a command could handle it (say, while Python imports gdtrain)
        print("error: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
