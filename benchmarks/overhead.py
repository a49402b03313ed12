"""What gdtrain's features cost on W1, measured inside one process (docs/performance.md).

    python benchmarks/overhead.py [--optimizer sgd-momentum|adam] [--dtype float32|float64] [--pairs 7]
    OPENBLAS_CORETYPE=Haswell python benchmarks/overhead.py      # the AVX2 kernel path

bench.py compares gdtrain's `fit` with the plain NumPy trainer in separate processes, seconds apart, and on a
virtual machine whose speed drifts by up to 2× for tens of seconds that ratio swings by as much. Here the three
epochs of a round run one after the other in one process, on the same data and the same BLAS threads, and the
rounds repeat, so each ratio compares epochs measured within a second or two:

  gdtrain train()   one epoch of gdtrain.train.train: the step, plus everything training shows and checks
                    (gradient norms global and per layer, training accuracy, divergence and stop checks,
                    the epoch's record)
  gdtrain step      the step alone: the batch gather, Network.loss_and_grad and Optimizer.step
  plain trainer     benchmarks/bench.py's plain NumPy trainer of the same network (no features)

Printed: the seconds of each epoch per round, then the median and min-max of train()/plain and step/plain.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (the W1 data, optimizers and the plain trainer, shared with bench.py)

from gdtrain.config import from_dict  # noqa: E402
from gdtrain.experiment import setup, train_settings  # noqa: E402
from gdtrain.optimizers import make_optimizer  # noqa: E402
from gdtrain.schedules import make_schedule  # noqa: E402
from gdtrain.train import train  # noqa: E402

plain_code: dict = {}
exec(bench.PLAIN_MLP, plain_code)  # defines PlainMLP and plain_epoch
PlainMLP, plain_epoch = plain_code["PlainMLP"], plain_code["plain_epoch"]

BATCH = 128  # W1's batch size (bench.w1_config)


def gdtrain_epochs(data: Path, dtype: str, optimizer: str):
    """(one train() epoch, one epoch of the step alone), both continuing the same network."""
    config = from_dict(bench.w1_config(data, dtype, optimizer, epochs=1))
    built = setup(config)
    net, loss, X, y = built.net, built.loss, built.data.X_train, built.data.y_train
    opt = make_optimizer(config.optimizer, net.n_trainable, net.dtype)
    schedule = make_schedule(config.schedule, config.optimizer["lr"], 1)
    settings = train_settings(config)
    rng = np.random.default_rng(1)
    xb, yb = np.empty((BATCH,) + X.shape[1:], X.dtype), np.empty(BATCH, y.dtype)

    def whole_epoch():
        train(net, loss, X, y, X[:0], y[:0], opt, schedule, settings)

    def step_only():
        order = rng.permutation(len(X))
        for start in range(0, len(X), BATCH):
            idx = order[start:start + BATCH]
            x, t = xb[:len(idx)], yb[:len(idx)]
            np.take(X, idx, axis=0, out=x, mode="clip")
            np.take(y, idx, axis=0, out=t, mode="clip")
            net.loss_and_grad(x, t, loss, training=True)
            opt.step(net.trainable, net.trainable_grad, schedule.lr)

    return whole_epoch, step_only


def plain_epoch_of(data: Path, dtype: str, optimizer: str):
    with np.load(data) as saved:
        X, y = saved["X"].astype(dtype), saved["y"].astype(np.intp)
    rng = np.random.default_rng(0)
    net = PlainMLP([784, *bench.W1_HIDDEN, 10], dtype, BATCH, optimizer,
                   bench.W1_OPTIMIZERS[optimizer]["lr"])
    net.params[...] = rng.normal(0, 0.05, net.params.size)
    xb, yb = np.empty((BATCH, 784), dtype), np.empty(BATCH, np.intp)
    return lambda: plain_epoch(net, X, y, rng, xb, yb)


def timed(epoch) -> float:
    start = time.perf_counter()
    epoch()
    return time.perf_counter() - start


def spread(values) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", choices=tuple(bench.W1_OPTIMIZERS), default="sgd-momentum")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--pairs", type=int, default=7, help="rounds of the three epochs (default 7)")
    parser.add_argument("--n", type=int, default=60000, help="training rows (default 60000, W1's)")
    args = parser.parse_args(argv)
    data = bench.w1_data(args.n, None)
    whole_epoch, step_only = gdtrain_epochs(data, args.dtype, args.optimizer)
    plain_epoch = plain_epoch_of(data, args.dtype, args.optimizer)
    kernels = sorted({i.get("architecture", "?") for i in threadpool_info() if i.get("user_api") == "blas"})
    print(f"W1 {args.dtype} {args.optimizer}, {args.n} rows, {bench.THREADS} BLAS threads, kernels: "
          f"{', '.join(kernels)}")
    print(f"{'round':>5}  {'train()':>8}  {'step':>8}  {'plain':>8}")
    whole, step = [], []
    with threadpool_limits(int(bench.THREADS)):
        whole_epoch(), step_only(), plain_epoch()  # warm-up: thread pools, page faults, buffers
        for r in range(1, args.pairs + 1):
            seconds = [timed(whole_epoch), timed(step_only), timed(plain_epoch)]
            whole.append(seconds[0] / seconds[2])
            step.append(seconds[1] / seconds[2])
            print(f"{r:>5}  " + "  ".join(f"{s:8.3f}" for s in seconds), flush=True)
    print(f"train() / plain: {spread(whole)}")
    print(f"step / plain:    {spread(step)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
