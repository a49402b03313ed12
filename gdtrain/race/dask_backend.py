"""The Dask backend of the executor seam: the same jobs, run on a Dask cluster (``pip install 'gdtrain[dask]'``).

    --cluster local:N           a LocalCluster of N worker processes (one thread each) on 127.0.0.1, for this run
    --cluster tcp://HOST:8786   an existing scheduler (``dask scheduler`` + ``dask worker``, dask-jobqueue, ...)

What goes over the wire per task is a ``Job``: a validated config (a few kB), a seed and the run directory to
write, never the data: a worker loads the data itself, so a data file must be reachable from every worker by the
same path (or be a built-in set), and so must the run directory (a shared file system). A task returns the
run's ``Outcome`` (plain numbers and its per-epoch history).

Faults: a worker that dies mid-task is Dask's to handle: the scheduler gives the task to another worker (up to
``distributed.scheduler.allowed-failures`` times, then ``KilledWorker``); the retried run rewrites its run
directory from scratch, and since every run is deterministic the outcome is the one the first worker would have
returned. A scheduler that does not answer within ``CONNECT_TIMEOUT`` seconds is a ``ClusterError`` (exit 2)
before any work. On SIGINT / SIGTERM the driver starts nothing more: the tasks not yet finished
are cancelled and the driver stops waiting: the finished runs are kept. (Dask cannot interrupt a task that is
running: on a cluster given by address such a run trains to its end and its result is dropped, to be run again by
``--resume``; a ``local:N`` cluster's worker processes are closed with the driver.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from dataclasses import replace
from typing import Dict, List, Optional, Sequence

from threadpoolctl import threadpool_limits

from ..errors import ConfigError, TrainingFailed
from .executor import Listener, RaceEvent, interrupted, limited_blas_env
from .job import STOP, Job, Outcome, run_job

CONNECT_TIMEOUT = 5.0  # seconds to wait for a --cluster tcp://... scheduler before giving up
RESUBMITS = 3  # how often the driver submits a job again whose result was lost (not a failure of the run itself)


class ClusterError(ConfigError):
    """--cluster names something that cannot be used (no scheduler there, dask not installed): exit 2."""


def parse_cluster(text: str):
    """('local', N) for 'local:N', ('address', text) for tcp://HOST:PORT (or tls://, inproc://, ...)."""
    text = str(text).strip()
    if text.startswith("local:") or text == "local":
        count = text.partition(":")[2]
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"--cluster: expected local:N with N >= 1 worker processes, got {text!r}")
        return "local", int(count)
    if "://" not in text or not text.split("://", 1)[1]:
        raise ClusterError(f"--cluster: expected a scheduler address such as tcp://HOST:8786, or local:N, got {text!r}")
    return "address", text


def require_dask():
    """The distributed module, or a ClusterError saying how to install it."""
    try:
        import distributed  # lazy: dask is optional (pip install 'gdtrain[dask]')
    except ImportError:
        raise ClusterError("--cluster needs Dask's distributed scheduler: pip install 'gdtrain[dask]'") from None
    return distributed


def check_cluster(cluster: str) -> None:
    """A ClusterError now, before any work, when ``cluster`` is malformed, dask is missing or no scheduler answers
    at its address (a LocalCluster is started later, by the runner)."""
    kind, target = parse_cluster(cluster)
    distributed = require_dask()
    if kind == "address":
        client = _connect(distributed, target)
        client.close()


def _connect(distributed, address: str):
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"--cluster {address}: no Dask scheduler answered within {CONNECT_TIMEOUT:g} s "
                           f"({exc.__class__.__name__}); start one with `dask scheduler` and `dask worker ADDRESS`, "
                           "or use --cluster local:N") from None


def one_blas_thread():
    """The thread policy's hook for a task on a Dask worker: one BLAS thread per task (several tasks share a
    worker's cores). threadpoolctl limits the libraries already loaded."""
    return threadpool_limits(1)


def run_task(job: Job) -> Outcome:
    """What a Dask worker runs: ``run_job`` under one BLAS thread."""
    with one_blas_thread():
        return run_job(job)


class DaskRunner:
    """``Runner``'s interface on a Dask cluster: ``run(jobs, phase)`` → the outcomes in the jobs' order, a "done"
    event as each arrives. ``workers`` is the cluster's worker count once connected."""

    def __init__(self, cluster: str, on_event: Optional[Listener] = None):
        self.kind, self.target = parse_cluster(cluster)
        self.address = cluster
        self.on_event = on_event or (lambda event: None)
        self.client = None
        self.cluster = None
        self.workers = 0

    def __enter__(self) -> "DaskRunner":
        distributed = require_dask()
        if self.kind == "local":
            with limited_blas_env(1):  # the worker processes start with one BLAS thread each
                self.cluster = distributed.LocalCluster(
                    n_workers=self.target, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, silence_logs=logging.ERROR,
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})  # (its HTTP server on a free port)
            self.client = distributed.Client(self.cluster)
        else:
            self.client = _connect(distributed, self.target)
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()
            self.cluster = None

    def run(self, jobs: Sequence[Job], phase: str) -> List[Outcome]:
        from distributed import wait  # lazy: dask is optional (and loaded once a runner has connected)
        from distributed.client import FIRST_COMPLETED

        self.on_event(RaceEvent("phase", phase, total=len(jobs)))
        # the run directories as absolute paths (a worker's working directory may differ), given back as written
        sent = [replace(job, out=os.path.abspath(job.out)) for job in jobs]
        def submit(i: int):
            key = f"gdtrain-{phase}-{sent[i].label}-seed{sent[i].seed}-{uuid.uuid4().hex[:8]}"
            future = self.client.submit(run_task, sent[i], pure=False, key=key)
            futures[future] = i
            in_flight.add(future)

        futures: Dict[object, int] = {}
        in_flight: set = set()
        resubmitted: Dict[int, int] = {}
        for i in range(len(sent)):
            submit(i)
        results: Dict[int, Outcome] = {}
        while in_flight:
            if STOP.is_set():  # start nothing more; what is running cannot be interrupted, only dropped
                self.client.cancel(list(in_flight))
                break
            try:  # (a timeout, so that a signal's flag is seen while every task is busy)
                finished, _ = wait(list(in_flight), timeout=0.2, return_when=FIRST_COMPLETED)
            except TimeoutError:  # (distributed.wait raises it rather than return nothing)
                continue
            for future in sorted(finished, key=lambda f: futures[f]):
                in_flight.discard(future)
                i = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:
                    if STOP.is_set():
                        continue
                    if future.status != "error" and resubmitted.get(i, 0) < RESUBMITS:
                        # not the task's own error: its result was lost with a worker between the end of the task
                        # and the transfer (Dask reschedules it, but the wait can fail); the same job again
                        resubmitted[i] = resubmitted.get(i, 0) + 1
                        submit(i)
                        continue
                    raise TrainingFailed(f"the Dask task training {jobs[i].label} (seed {jobs[i].seed}) failed: "
                                         f"{exc.__class__.__name__}: {exc}") from None
                outcome.run_dir = jobs[i].out
                results[i] = outcome
                self.on_event(RaceEvent("done", phase, jobs[i], outcome, done=len(results), total=len(jobs)))
        if STOP.is_set():
            raise interrupted(phase, [results[i] for i in sorted(results)], len(jobs))
        return [results[i] for i in range(len(jobs))]
