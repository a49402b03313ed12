"""Overhead per task of the three executor backends (docs/scaling.md): N trivially small fits (iris, 1 epoch,
a 4-unit layer) run serially, in 2 local processes and on a 2-worker Dask LocalCluster at 127.0.0.1.

    python benchmarks/sweep_overhead.py [--tasks 60] [--repeats 3]

Prints, per backend, the start-up seconds (pool / cluster) and the tasks per second once started (median of the
repeats): what the backend costs per task when the task itself costs almost nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from gdtrain.config import from_dict
from gdtrain.race.backends import open_runner
from gdtrain.race.sweep import jobs_for, plan_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = from_dict({"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [4]},
                        "training": {"epochs": 1, "checkpoint_every": 100}, "monitor": {"warnings": False}})
    lrs = [round(0.01 + 0.001 * i, 4) for i in range(args.tasks)]
    sweep = plan_sweep(config, grid={"optimizer.lr": lrs})
    with tempfile.TemporaryDirectory() as out:
        jobs = jobs_for(sweep, __import__("pathlib").Path(out))
        for name, workers, cluster in (("serial", 1, None), ("2 local processes", 2, None),
                                       ("Dask LocalCluster, 2 workers", 1, "local:2")):
            started = time.perf_counter()
            with open_runner(workers, cluster) as runner:
                startup = time.perf_counter() - started
                rates = []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    runner.run(jobs, "sweep")
                    rates.append(len(jobs) / (time.perf_counter() - t))
            print(f"{name:30s} start-up {startup:6.2f} s   {statistics.median(rates):7.1f} tasks/s "
                  f"(runs {', '.join(f'{r:.1f}' for r in rates)}; {1000 / statistics.median(rates):.1f} ms per task)")


if __name__ == "__main__":
    main()
