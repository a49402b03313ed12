"""Many runs of one config: ``gdtrain compare-optimizers`` (a race of optimizers or training modes on one problem;
on a 2-D test function, every path on one contour map) and ``gdtrain sweep`` (a grid or random search over config
keys). The race package runs them (in this process, local processes or on Dask); render/race.py,
render/sweep.py and render/landscape.py print them. Both stop at a safe point on Ctrl-C or SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ..errors import ConfigError
from .common import ConfigArg, SetOpt, ThreadsOpt, app, guarded, need_matplotlib_for, read_config

# lazy: start-up (`gdtrain --help` imports no NumPy): the library and gdtrain.render are imported in the commands


@app.command("compare-optimizers")
@guarded
def compare_optimizers(
    config: Annotated[Optional[str], typer.Argument(help="Config of the problem to race on (or a shipped one's name); "
                                                         "without one, the built-in demo (configs/compare.yaml).",
                                                    metavar="CONFIG", show_default=False)] = None,
    optimizers: Annotated[Optional[str], typer.Option(
        "--optimizers", help="Comma-separated contestants at their documented defaults, e.g. sgd,momentum,adam "
                             "(default: the config's compare.optimizers, else sgd,momentum,nesterov,adagrad,rmsprop,"
                             "adam,adamw).")] = None,
    modes: Annotated[Optional[str], typer.Option(
        "--modes", help="Race these training modes (batch,sgd,minibatch) with one optimizer instead.")] = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", min=1, help="Repeat the race with N seeds "
                                                                        "(seed, seed+1, ...): mean ± std and wins.")] = None,
    tune_lr: Annotated[Optional[bool], typer.Option("--tune-lr/--no-tune-lr", help="First choose each contestant's lr "
                                                    "from lr × 0.1, 0.3, 1, 3, 10 by best validation loss on the "
                                                    "first seed.")] = None,
    target_loss: Annotated[Optional[float], typer.Option("--target-loss", help="Report the epochs and seconds until "
                                                         "train_loss <= X.")] = None,
    target_metric: Annotated[Optional[str], typer.Option("--target-metric", help="Or until a validation metric "
                                                         "reaches a value, e.g. val_accuracy=0.95.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Run contestants in N parallel processes "
                                                                  "(same results as serial).")] = 1,
    cluster: Annotated[Optional[str], typer.Option("--cluster", help="Or run them on a Dask cluster: "
                                                   "tcp://HOST:8786, or local:N for N worker processes here "
                                                   "(pip install 'gdtrain[dask]').")] = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Race directory (default: "
                                                                   "runs/compare-<config name>).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Reuse a non-empty --out directory.")] = False,
    epochs: Annotated[Optional[int], typer.Option(help="Override training.epochs.")] = None,
    set_: SetOpt = None,
    png: Annotated[Optional[str], typer.Option("--png", help="Also save the overlaid curves as a PNG "
                                                             "(needs matplotlib).")] = None,
    gif: Annotated[Optional[str], typer.Option("--gif", help="A problem race: also save an animated GIF of the "
                                                             "paths (needs matplotlib).")] = None,
    threads: ThreadsOpt = None,
):
    """Race optimizers (or batch / stochastic / mini-batch modes) on one problem: same initial weights, same
    mini-batches, only the optimizer differs. Prints a ranked table and the overlaid loss curves; writes
    DIR/comparison.csv, DIR/summary.json and each contestant's run directory DIR/<label>/.

    \b
    Examples:
      gdtrain compare-optimizers
      gdtrain compare-optimizers configs/digits.yaml --optimizers sgd,momentum,adam
      gdtrain compare-optimizers quickstart --tune-lr --seeds 3 --workers 2 --target-loss 0.1
    """
    from .. import race as compare
    from ..render.race import RaceProgress, race_header, race_report
    from ..render.terminal import make_console
    from ..resources import shipped_file

    need_matplotlib_for(png)
    if config is None:
        demo = shipped_file("configs", "compare.yaml")
        if demo is None:
            raise ConfigError("compare-optimizers: the built-in demo config (configs/compare.yaml) is missing; "
                              "give a CONFIG")
        config = str(demo)
    _one_backend(workers, cluster)
    cfg = read_config(config, {"training.epochs": epochs, "training.threads": threads}, set_)
    if cfg.problem is not None:  # a 2-D test function: its own race, every path on one contour map
        if workers != 1 or cluster is not None:
            raise ConfigError(f"{'--cluster' if cluster is not None else '--workers'}: a problem race runs its "
                              "contestants one after the other (milliseconds each); leave it out")
        return _problem_race(cfg, optimizers, modes, seeds, tune_lr, target_loss, target_metric, out, overwrite,
                             png, gif)
    if gif is not None:
        raise ConfigError("--gif: animates the paths of a problem race; this config has no problem: (use --png)")
    _reach_cluster(cluster)
    race = compare.plan(cfg, optimizers=optimizers, modes=modes, seeds=seeds, tune_lr=tune_lr,
                        target_loss=target_loss, target_metric=target_metric)
    out_dir = compare.prepare_dir(race, out, overwrite)
    console = make_console()
    race_header(race, out_dir, workers, console)
    if cluster is not None:
        console.print(f"workers   Dask cluster {cluster}, one BLAS thread per task", soft_wrap=True)
    progress = RaceProgress(console)
    notice = make_console(stderr=True)
    result = _until_stopped(lambda: compare.run(race, out=str(out_dir), overwrite=True, workers=workers,
                                                on_event=progress, cluster=cluster),
                            "stopping the race: the running runs stop at the end of their step", progress, notice)
    race_report(result, console)
    if png is not None:
        compare.save_png(result, png)
        console.print(f"saved {png}", soft_wrap=True)


def _problem_race(cfg, optimizers, modes, seeds, tune_lr, target_loss, target_metric, out, overwrite, png, gif):
    """compare-optimizers on a ``problem:`` config (race/problem_race.py): the table, the paths on one map."""
    from ..race import problem_race
    from ..interrupt import GracefulStop
    from ..landscape import save_gif, save_png
    from ..render.landscape import race_header, race_report
    from ..render.terminal import make_console

    need_matplotlib_for(gif)
    race = problem_race.plan(cfg, optimizers, modes, seeds, tune_lr, target_loss, target_metric)
    console = make_console()
    with GracefulStop() as stop:
        result = problem_race.run(race, out, overwrite, stop_requested=stop)
        race_header(race, result.out_dir, console)
        race_report(result, console)
        for path, save in ((png, save_png), (gif, save_gif)):
            if path is not None:
                save(race.problem, result.paths, path)
                console.print(f"saved {path}", soft_wrap=True)
    if stop.requested:
        raise typer.Exit(stop.exit_code)


def _one_backend(workers: int, cluster: Optional[str]) -> None:
    """--workers N and --cluster pick the same thing (where the runs go): one or the other."""
    if cluster is not None and workers != 1:
        raise ConfigError("--cluster: give either --workers N (local processes) or --cluster, not both")


def _reach_cluster(cluster: Optional[str]) -> None:
    """Before any work: no dask, or an unreachable scheduler, is one line and exit 2."""
    if cluster is not None:
        from ..race.dask_backend import check_cluster

        check_cluster(cluster)


def _until_stopped(run, stopping: str, progress, notice):
    """``run()`` a race or a sweep under RaceStop: the first Ctrl-C / SIGTERM says ``stopping``, the runs stop at
    a safe point and the command exits 130 / 143 with the line saying what is kept (RaceInterrupted)."""
    from ..race import RaceInterrupted, RaceStop

    try:
        with RaceStop(on_first=lambda: notice.print(f"{stopping} (Ctrl-C again to quit at once)")):
            return run()
    except RaceInterrupted as exc:  # (SweepInterrupted is one too)
        progress.stop()
        notice.print(str(exc), soft_wrap=True)
        raise typer.Exit(exc.exit_code)
    finally:
        progress.stop()


@app.command("sweep")
@guarded
def sweep(
    config: ConfigArg,
    grid: Annotated[Optional[List[str]], typer.Option(
        "--grid", help="A key and the values to try: --grid optimizer.lr=0.001,0.01,0.1 (repeatable; every "
                       "combination is a point; adds to or replaces the config's sweep.grid).")] = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", min=1, help="Run every point with N seeds "
                                                                        "(seed, seed+1, ...): mean ± std.")] = None,
    random: Annotated[Optional[int], typer.Option("--random", min=1, help="Run only N points of the grid, drawn "
                                                                          "with the config's seed.")] = None,
    metric: Annotated[Optional[str], typer.Option("--metric", help="Rank by this epoch metric's best value "
                                                  "(default: val_accuracy / val_r2, else train_loss).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Run points in N local processes.")] = 1,
    cluster: Annotated[Optional[str], typer.Option("--cluster", help="Run points on a Dask cluster: "
                                                   "tcp://HOST:8786, or local:N for N worker processes here "
                                                   "(pip install 'gdtrain[dask]').")] = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Sweep directory (default: "
                                                                   "runs/sweep-<config name>).")] = None,
    resume: Annotated[Optional[str], typer.Option("--resume", help="Finish an interrupted sweep in DIR: run only "
                                                  "its missing or unfinished runs (same config and options).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Reuse a non-empty --out directory.")] = False,
    epochs: Annotated[Optional[int], typer.Option(help="Override training.epochs.")] = None,
    set_: SetOpt = None,
    png: Annotated[Optional[str], typer.Option("--png", help="Also save the metric against the swept key as a "
                                                             "PNG (needs matplotlib).")] = None,
):
    """Grid (or random) search over config keys: every point an ordinary run directory DIR/<point>/, one row per
    point and seed in DIR/sweep.csv (written as runs finish), a ranked summary and a chart of the metric.

    \b
    Examples:
      gdtrain sweep quickstart --grid optimizer.lr=0.01,0.1,1 --seeds 2
      gdtrain sweep configs/digits.yaml --grid optimizer.lr=0.001,0.01,0.1 --grid model.hidden.0.units=32,64,128
      gdtrain sweep digits --grid optimizer.lr=0.01,0.1 --cluster local:2
      gdtrain sweep digits --grid optimizer.lr=0.01,0.1 --resume runs/sweep-digits
    """
    from .. import rundir
    from ..race.charts import save_sweep_png
    from ..race.sweep import default_out, plan_sweep, run_sweep
    from ..render.sweep import SweepProgress, sweep_header, sweep_report
    from ..render.terminal import make_console
    from ..sweep_space import parse_grid_options

    need_matplotlib_for(png)
    _one_backend(workers, cluster)
    if resume is not None and out is not None:
        raise ConfigError("--resume: continues the sweep in its own directory; leave out --out")
    if resume is not None and not Path(resume).is_dir():
        raise ConfigError(f"--resume {resume}: no such sweep directory")
    cfg = read_config(config, {"training.epochs": epochs}, set_)
    plan = plan_sweep(cfg, grid=parse_grid_options(grid) if grid else None, seeds=seeds, random=random, metric=metric)
    runner_text = cluster if cluster is not None else (f"{workers} local processes" if workers > 1 else "this process")
    _reach_cluster(cluster)
    console = make_console()
    out_dir = Path(resume) if resume is not None else rundir.prepare(out, default_out(cfg), overwrite)
    sweep_header(plan, out_dir, runner_text, console)
    progress = SweepProgress(plan, console)
    notice = make_console(stderr=True)
    stopping = ("the tasks not yet finished are cancelled" if cluster is not None
                else "the running runs stop at the end of their step")
    result = _until_stopped(lambda: run_sweep(plan, out=str(out_dir), overwrite=True, workers=workers,
                                              cluster=cluster, on_event=progress, resume=resume),
                            f"stopping the sweep: {stopping}", progress, notice)
    sweep_report(result, console)
    if png is not None:
        if save_sweep_png(result.rows, plan.keys, plan.metric, png, title=f"sweep of {cfg.name}"):
            console.print(f"saved {png}", soft_wrap=True)
        else:
            console.print("no --png: a chart needs one or two swept keys, one of them numeric", soft_wrap=True)
