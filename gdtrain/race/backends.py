"""Which executor runs a race's or a sweep's jobs: the one place that chooses between the three backends."""

from __future__ import annotations

from typing import Optional

from .dask_backend import DaskRunner
from .executor import Listener, Runner


def open_runner(workers: int = 1, cluster: Optional[str] = None, on_event: Optional[Listener] = None):
    """The backend the options ask for: a Dask cluster (``cluster``: tcp://HOST:PORT or local:N; dask imported only
    then), else N local processes (``workers`` > 1), else this process. Use it as a context manager; each has
    ``run(jobs, phase)`` → the outcomes in the jobs' order."""
    if cluster is not None:
        return DaskRunner(cluster, on_event)
    return Runner(workers, on_event)
