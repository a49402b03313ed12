"""Running many jobs: the executor seam of races and sweeps, and how a race stops.

One interface, three backends: ``Runner(workers=1)`` runs the jobs in this process, ``Runner(workers=N)`` in N
spawned processes (BLAS limited to cores // N threads each), and ``dask_backend.DaskRunner`` on a Dask cluster
(``--cluster tcp://HOST:PORT`` or ``local:N``); ``backends.open_runner`` picks one. Each takes a list of ``job.Job`` and
returns their ``Outcome``s in the jobs' order, reporting every start and end to ``on_event`` (a ``RaceEvent``) as
it happens, so the driver can write its CSV as rows arrive. Every job is the same deterministic computation
wherever it runs, so the outcomes are the same on every backend (only the seconds differ).

Stopping: SIGINT / SIGTERM in the driver (``RaceStop``) start nothing more, stop the running runs at a safe point
and raise ``RaceInterrupted`` (exit 130 / 143); a worker whose driver died stops its run and exits.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from ..errors import GdtrainError, TrainingFailed
from ..interrupt import GracefulStop
from ..threads import available_cores
from .job import IDLE, STOP, Job, Outcome, run_job

@dataclass
class RaceEvent:
    """Progress: ``kind`` is "phase" (a phase starts: "tune" or "race"), "start" or "done" (a run)."""

    kind: str
    phase: str
    job: Optional[Job] = None
    outcome: Optional[Outcome] = None
    done: int = 0
    total: int = 0
    running: List[Job] = field(default_factory=list)


Listener = Callable[[RaceEvent], None]
BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                  "NUMEXPR_NUM_THREADS")


def blas_threads(workers: int) -> int:
    """BLAS threads per worker, so that the workers together use the cores once: cores // workers (at least 1)."""
    return max(1, available_cores() // max(1, workers))


@contextlib.contextmanager
def limited_blas_env(threads: int) -> Iterator[None]:
    """The BLAS thread variables set to ``threads`` while worker processes are started (a BLAS library reads them
    when it is loaded, so they must be in a worker's environment before it imports NumPy); restored after."""
    saved = {name: os.environ.get(name) for name in BLAS_VARIABLES}
    os.environ.update({name: str(threads) for name in BLAS_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_STOPPED_BY: Dict[str, int] = {}  # "signum": the signal RaceStop caught
ORPHAN_POLL_SECONDS = 0.2  # how often a worker checks that the process that started it is alive
ORPHAN_GRACE_SECONDS = 30.0  # how long an orphaned worker may take to save its run before it exits anyway


class RaceInterrupted(GdtrainError):
    """SIGINT or SIGTERM stopped the race (exit code 128 + the signal: 130, 143); the message says what is kept."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class RaceStop(GracefulStop):
    """SIGINT (Ctrl-C) and SIGTERM during a race: the first stops every running run at a safe point (in this
    process, and by SIGTERM in each worker), starts nothing more, and ``run`` raises RaceInterrupted; a second
    Ctrl-C raises KeyboardInterrupt at once. Outside the main thread it does nothing.

        with RaceStop(on_first=lambda: print("stopping...")):
            compare.run(race, workers=2)
    """

    def __init__(self, on_first: Optional[Callable[[], None]] = None):
        super().__init__(on_first, signals=(signal.SIGINT, signal.SIGTERM))

    def first(self, signum: int) -> None:
        _STOPPED_BY["signum"] = signum
        STOP.set()
        super().first(signum)

    def __enter__(self) -> "RaceStop":
        STOP.clear()
        _STOPPED_BY.clear()
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        STOP.clear()
        _STOPPED_BY.clear()


def _stop_signal() -> int:
    """The signal that stopped the race (SIGINT when it was stopped without one, e.g. by a library caller)."""
    return _STOPPED_BY.get("signum") or signal.SIGINT


def _watch_parent(parent: int) -> None:
    """A worker's watchdog thread: once the process that started it is gone (killed, even with -9), stop the
    running run at a safe point (it saves what it learned) and exit, instead of training on as an orphan."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_SECONDS)
    STOP.set()
    IDLE.wait(ORPHAN_GRACE_SECONDS)
    os._exit(1)


def _worker_init(parent: int) -> None:
    """Each worker process, once: SIGINT / SIGTERM (from the race, or Ctrl-C reaching the process group) stop its
    run at a safe point; a watchdog ends it when its parent dies."""
    def stop(signum, frame) -> None:
        STOP.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    threading.Thread(target=_watch_parent, args=(parent,), name="gdtrain-orphan-watchdog", daemon=True).start()


def interrupted(phase: str, finished: List[Outcome], total: int) -> RaceInterrupted:
    """The RaceInterrupted a stopped phase raises: how many of its runs finished and where they are kept."""
    stopped = [o for o in finished if o.status == "interrupted"]
    done = len(finished) - len(stopped)
    where = sorted({str(Path(o.run_dir).parent) for o in finished}) if finished else []
    kept = (f"{done} of {total} {'tuning ' if phase == 'tune' else ''}runs finished"
            + (f", {len(stopped)} stopped at a safe point (resumable with gdtrain fit --resume)" if stopped else "")
            + (f"; their run directories are kept in {', '.join(where)}" if where else ""))
    signum = _stop_signal()
    return RaceInterrupted(f"race interrupted by {signal.Signals(signum).name}: the workers are stopped; {kept}; "
                           "nothing was ranked", signum)


class Runner:
    """Runs jobs in this process (workers = 1) or in a pool of spawned processes, reporting each start and end.

    Results come back in the jobs' order whatever order they finish in. A pool keeps at most ``workers`` jobs in
    flight, so "running" in the progress is what is running.
    """

    def __init__(self, workers: int = 1, on_event: Optional[Listener] = None):
        self.workers = max(1, int(workers))
        self.on_event = on_event or (lambda event: None)
        self.pool = None
        self._env = None

    def __enter__(self) -> "Runner":
        if self.workers > 1:
            self._env = limited_blas_env(blas_threads(self.workers))
            self._env.__enter__()
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_worker_init, initargs=(os.getpid(),))
        return self

    def _signal_workers(self, sig: int) -> None:
        for pid in list(getattr(self.pool, "_processes", None) or {}):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.pool is not None:
            if exc_type is not None:  # (a bug, a second Ctrl-C): no worker trains on unattended
                self._signal_workers(signal.SIGTERM)
            self.pool.shutdown(wait=exc_type is None, cancel_futures=True)
            self.pool = None
        if self._env is not None:
            self._env.__exit__(None, None, None)
            self._env = None

    def run(self, jobs: Sequence[Job], phase: str) -> List[Outcome]:
        self.on_event(RaceEvent("phase", phase, total=len(jobs)))
        return self._serial(jobs, phase) if self.pool is None else self._parallel(jobs, phase)

    def _serial(self, jobs, phase) -> List[Outcome]:
        outcomes = []
        for i, job in enumerate(jobs):
            if STOP.is_set():
                raise interrupted(phase, outcomes, len(jobs))
            self.on_event(RaceEvent("start", phase, job, done=i, total=len(jobs), running=[job]))
            outcomes.append(run_job(job))
            self.on_event(RaceEvent("done", phase, job, outcomes[-1], done=i + 1, total=len(jobs)))
        if STOP.is_set():
            raise interrupted(phase, outcomes, len(jobs))
        return outcomes

    def _parallel(self, jobs, phase) -> List[Outcome]:
        results: Dict[int, Outcome] = {}
        in_flight: Dict[Any, int] = {}
        pending = list(range(len(jobs)))
        signalled = False
        while pending or in_flight:
            if STOP.is_set():
                pending = []  # start nothing more; the running runs stop at a safe point and report back
                if not signalled:
                    self._signal_workers(signal.SIGTERM)
                    signalled = True
            while pending and len(in_flight) < self.workers:
                i = pending.pop(0)
                in_flight[self.pool.submit(run_job, jobs[i])] = i
                self.on_event(RaceEvent("start", phase, jobs[i], done=len(results), total=len(jobs),
                                        running=[jobs[k] for k in sorted(in_flight.values())]))
            if not in_flight:
                break
            # (a timeout, so that a signal's flag is seen while every worker is busy)
            finished, _ = wait(list(in_flight), timeout=0.1, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: in_flight[f]):
                i = in_flight.pop(future)
                try:
                    results[i] = future.result()  # a worker's exception (a bug) propagates
                except BrokenProcessPool as exc:
                    if STOP.is_set():  # a worker stopped while it was still starting
                        continue
                    raise TrainingFailed(f"a worker process stopped abruptly while training {jobs[i].label} "
                                         f"(seed {jobs[i].seed}): {exc}; try --workers 1") from None
                self.on_event(RaceEvent("done", phase, jobs[i], results[i], done=len(results), total=len(jobs),
                                        running=[jobs[k] for k in sorted(in_flight.values())]))
        if STOP.is_set():
            raise interrupted(phase, [results[i] for i in sorted(results)], len(jobs))
        return [results[i] for i in range(len(jobs))]
