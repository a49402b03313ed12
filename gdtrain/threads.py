"""How many BLAS threads a run uses: the policy, and the context that applies it (threadpoolctl).

A training step is a handful of matrix products (GEMMs) and a few element-wise passes. A second BLAS thread
only pays when a product is large enough to split: below that, waking the thread, splitting the work and
joining it cost more than the thread gives, and on a busy machine the spinning threads compete with every
other process for the same cores (a 40-100-100-10 MLP measured 20x slower with OpenBLAS's 2 threads on an
oversubscribed 2-core machine than with one). The policy:

    work   = 2 · batch · fan_in · fan_out   of the largest layer (floating-point operations of its forward
             product, the biggest GEMM of a step; the backward products are the same size)
    auto   = 1 thread                        if work < SMALL_GEMM_FLOPS
             min(ceiling, cores)             otherwise
    ceiling = the BLAS library's thread count when the policy is asked (all cores by default; what
             OPENBLAS_NUM_THREADS / OMP_NUM_THREADS said at start-up; cores // workers in a compare-optimizers
             worker; 1 inside a caller's ``threadpool_limits(1)``)

The choice depends on the work and the machine's cores, never on how busy the machine is at the moment: the
1-minute load average lags (it still counts the processes that just finished), so a load-based rule measured
one thread for W1 in a benchmark that runs its contestants one after the other (1.29 × the plain NumPy trainer's
time instead of ~1.0), and the thread count changes the last bits of the weights, so a load-based choice would
make the same config train differently from one run to the next. Small products, where oversubscription hurts
most (the quickstart, an MNIST-1D-sized MLP), are on one thread anyway; ``training.threads: 1`` is the answer
for a large network on a machine known to be busy.

SMALL_GEMM_FLOPS comes from timing one product at 1 and 2 threads on a quiet 2-core machine (OpenBLAS 0.3.31;
docs/performance.md has the table). Time with 2 threads / time with 1, by the product's MFLOP:

    MFLOP (shape)           0.8 (100x40x100)  2.0 (100³)  4.2 (128³)  8.4 (128x256x128)  ≥ 34
    float64 SkylakeX        0.99              0.89        0.76        0.63               0.50-0.56
    float64 Haswell         1.01              0.91        0.72        0.62               0.51-0.57
    float32 SkylakeX        1.00              1.70        0.82        0.76               0.54-0.66
    float32 Haswell         1.00              1.24        1.13        0.71               0.52-0.60

A second thread starts to pay at about 4 MFLOP (float32 with the Haswell kernels a little later), so the
threshold sits there: the quickstart (0.26 MFLOP) and a 40-100-100-10 MLP at batch 100 (2 MFLOP) train on one
thread, digits full-batch (1259x64x32, 5.2 MFLOP) and MNIST's 784-256 layer at batch 128 (51 MFLOP) on all.

``training.threads: N`` (or ``--threads N``) overrides the policy (the header says "N (requested)"). The chosen number is applied with
``threadpoolctl.threadpool_limits`` around the training only, so the process's BLAS is as it was afterwards
(environment variables would have to be set before NumPy is imported, and would hold for the whole process).
The thread count changes the order of some sums (the last bits of the weights), so a resumed run keeps the count
its checkpoint records (experiment.py) and ``training.threads: N`` pins it for bitwise reproducibility.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from typing import Iterator, Optional, Union

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

SMALL_GEMM_FLOPS = 4e6  # below this, one product's work is not worth a second thread (see the module doc)


@dataclass(frozen=True)
class ThreadChoice:
    """The BLAS thread count for a run and why (the header line ``fit`` prints)."""

    threads: int
    reason: str  # e.g. "auto: small GEMMs, 0.8 MFLOP per product" or "training.threads"

    def describe(self) -> str:
        return f"{self.threads} ({self.reason})"


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity; os.cpu_count() where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def blas_ceiling() -> int:
    """The largest thread count of the BLAS libraries NumPy loaded, as they are set now (see the module doc)."""
    counts = [pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") == "blas"]
    return max(counts) if counts else 1


def gemm_flops(net, batch: int) -> int:
    """2 · batch · fan_in · fan_out of the network's largest dense layer: the flops of a step's biggest GEMM
    (0 for a model without dense layers, such as a 2-D problem's point)."""
    layers = net.dense_layers() if hasattr(net, "dense_layers") else []
    sizes = [layer.W.shape for layer in layers]
    return 2 * batch * max((fan_out * fan_in for fan_out, fan_in in sizes), default=0)


def choose_threads(flops: float, ceiling: int, cores: int,
                   requested: Union[int, str, None] = "auto", source: str = "requested") -> ThreadChoice:
    """The policy as a pure function: the thread count for products of ``flops`` each (see the module doc).

    ``requested`` is the config's value: "auto" (or None) applies the policy, an integer overrides it (``source``
    names where it came from in the reason).
    """
    if requested not in (None, "auto"):
        return ThreadChoice(int(requested), source)
    mflop = f"{flops / 1e6:.3g} MFLOP per product"
    if flops < SMALL_GEMM_FLOPS or ceiling <= 1:
        why = "small GEMMs" if flops < SMALL_GEMM_FLOPS else "BLAS limited to 1 thread"
        return ThreadChoice(1, f"auto: {why}, {mflop}")
    return ThreadChoice(min(ceiling, cores), f"auto: large GEMMs, {mflop}")


def choose_for(net, batch: int, requested: Union[int, str, None] = "auto",
               source: str = "requested") -> ThreadChoice:
    """The policy for training ``net`` on batches of ``batch`` rows on this machine."""
    if requested not in (None, "auto"):
        return ThreadChoice(int(requested), source)
    return choose_threads(gemm_flops(net, batch), blas_ceiling(), available_cores())


@contextlib.contextmanager
def limited(choice: Optional[ThreadChoice]) -> Iterator[None]:
    """BLAS limited to ``choice.threads`` inside the block (nothing changed for None)."""
    if choice is None:
        yield
        return
    with threadpool_limits(limits=choice.threads, user_api="blas"):
        yield


@functools.lru_cache(maxsize=1)
def blas_controllers() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded (found once: the scan of the loaded libraries
    costs ~0.2 ms)."""
    return ThreadpoolController().select(user_api="blas").lib_controllers


SPLIT_ABOVE = 10_000  # entries: OpenBLAS splits a dot product of more entries over its threads


def squared_norm(x: np.ndarray) -> float:
    """‖x‖² = x·x, on one BLAS thread: for the gradient norms and the L2 penalty of every training step.

    OpenBLAS splits a float64 dot product of more than 10,000 entries over its threads (its float32 one ran on
    one thread here whatever the count). For a step's gradient (W1's ∂J/∂W1: 200,704 entries) that split costs more
    than it saves. Inside W1's float64 Adam training loop on the 2-core AMD EPYC of benchmarks/RESULTS.md, epochs
    alternated in one process (benchmarks/overhead.py), seconds per epoch with the split dot / on one thread / with
    no norms at all: 1.24-1.26 / 1.23-1.24 / 1.20-1.24 (native kernels, quiet), and in the virtual machine's slow
    periods 2.16-2.20 / 1.98-2.01 / 1.94-2.03 (Haswell kernels). So the dot is taken with the BLAS library held
    to one thread (a few µs each way, through threadpoolctl's controller) when x is large enough to be split and
    the library has more than one thread. One thread also makes the norms, and so clipping by norm, independent
    of the run's thread count.
    """
    blas = blas_controllers() if x.size > SPLIT_ABOVE and x.dtype == np.float64 else ()
    counts = [lib.get_num_threads() for lib in blas]
    if not counts or max(counts) <= 1:
        return float(np.vdot(x, x))
    for lib in blas:
        lib.set_num_threads(1)
    try:
        return float(np.vdot(x, x))
    finally:
        for lib, count in zip(blas, counts):
            lib.set_num_threads(count)
