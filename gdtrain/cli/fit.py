"""``gdtrain fit``: train the network (or the path on a 2-D test function) a config describes, print it as it goes
(render/fit.py, render/landscape.py) and keep everything learned when Ctrl-C, SIGTERM or SIGHUP stops it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import ConfigArg, SetOpt, ThreadsOpt, app, fail, guarded, need_matplotlib_for, read_config

# lazy: start-up (`gdtrain --help` imports no NumPy): the library and gdtrain.render are imported in the command


@app.command()
@guarded
def fit(
    config: ConfigArg,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Run directory (default: runs/<config name>).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Override training.epochs.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override seed.")] = None,
    set_: SetOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Reuse a non-empty --out directory.")] = False,
    resume: Annotated[Optional[str], typer.Option("--resume", help="Continue the run in this directory from its "
                                                                   "checkpoint (same config; --epochs may grow).")] = None,
    chart: Annotated[Optional[bool], typer.Option("--chart/--no-chart", help="Draw the loss and gradient-norm charts "
                                                                         "at the end (default: on a terminal).")] = None,
    png: Annotated[Optional[str], typer.Option("--png", help="Also save a PNG at the end (needs matplotlib): a "
                                                             "problem's path over its contour map, else the loss and "
                                                             "gradient-norm charts.")] = None,
    threads: ThreadsOpt = None,
):
    """Train the network a config describes and save a run directory.

    Ctrl-C, SIGTERM and SIGHUP stop at a safe point and keep everything learned (a second Ctrl-C quits
    at once); --resume continues exactly where it stopped. The run directory is locked while a run
    uses it (DIR/.lock): a second run into it is refused.

    \b
    Examples:
      gdtrain fit quickstart
      gdtrain fit configs/digits.yaml --epochs 20 --set optimizer.lr=0.05
      gdtrain fit configs/digits.yaml --resume runs/digits
      gdtrain fit rosenbrock --png path.png          a 2-D problem: the path over its contour map
    """
    from ..experiment import fit as run_fit
    from ..interrupt import GracefulStop
    from ..render.fit import FitReporter, stop_line
    from ..render.terminal import make_console

    if resume is not None and out is not None:
        fail("use either --resume RUN_DIR (continue that run) or --out DIR (a new run), not both", 2)
    need_matplotlib_for(png)
    cfg = read_config(config, {"training.epochs": epochs, "seed": seed, "training.threads": threads}, set_)
    if cfg.problem is not None:
        from ..render.landscape import ProblemReporter

        reporter = ProblemReporter(chart=chart)
    else:
        reporter = FitReporter(chart=chart)
    notice = make_console(stderr=True)
    # a closed stdout (`| head`, quitting `less`) never loses the run: training goes on, printing nothing more
    reporter.console.on_closed = lambda: notice.print("stdout was closed (broken pipe): training goes on without "
                                                      "printing; Ctrl-C stops it at a safe point", soft_wrap=True)
    with GracefulStop(on_first=lambda: notice.print("stopping at the end of this step (Ctrl-C again to quit at once)")) as stop:
        started = {}

        def on_start(info):
            started["run_dir"] = info.run_dir
            reporter.start(info)

        try:
            result = run_fit(cfg, out=out, overwrite=overwrite, on_start=on_start, on_epoch=reporter.epoch,
                             resume=resume, stop_requested=stop)
        except OSError as exc:  # a full disk and the like name no file: name the run directory
            if exc.filename is None and "run_dir" in started and not isinstance(exc, BrokenPipeError):
                exc.filename = str(started["run_dir"])
            raise
        finally:
            reporter.stop_progress()
        reporter.finish(result)  # (a signal here, too, is only noted: the run's files are all written)
        if png is not None:
            _save_run_png(result, png, reporter.console)
    reason = result.summary["stop_reason"]
    if getattr(reporter.console, "closed", False):
        notice.print(f"{stop_line(result.summary).splitlines()[0]}; saved to {result.run_dir} "
                     f"(stdout was closed, so the rest was not printed)", soft_wrap=True)
    if reason == "interrupted":
        done = result.summary["epochs"]
        learned = (f"saved what epochs 1-{done} learned" if done else
                   "interrupted before any epoch was complete: nothing was learned yet; saved the starting state")
        notice.print(f"{learned} in {result.run_dir}; resume with: "
                     f"gdtrain fit {config} --resume {result.run_dir}", soft_wrap=True)
        raise typer.Exit(stop.exit_code)
    if stop.requested:  # the signal came after the last epoch, while the final files were written
        notice.print(f"the run had finished ({reason}) when the signal came; everything is saved in {result.run_dir}",
                     soft_wrap=True)
        raise typer.Exit(stop.exit_code)
    if reason == "diverged":
        raise typer.Exit(1)


def _save_run_png(result, png: str, console) -> None:
    """fit --png: a problem's path over its contour map (landscape.py), else the run's two chart panels (plot.py)."""
    from .. import plot as plots
    from .. import rundir

    rows = plots.read_metrics(result.run_dir / rundir.METRICS)
    problem = getattr(result.net, "problem", None)
    if problem is not None:
        from ..landscape import path_from_rows, save_png

        save_png(problem, {"path": path_from_rows(problem, rows)}, png)
    else:
        plots.save_png(rows, png, title=str(result.run_dir))
    console.print(f"saved {png}", soft_wrap=True)
