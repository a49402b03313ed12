"""The ``gdtrain`` command: parse, call the library, print with report.py. Nothing else lives here.

Exit codes: 0 success; 1 training failed (diverged) or a check failed; 2 bad usage, config or data (or a run
directory in use by another run); 130 interrupted (Ctrl-C); 143 stopped by SIGTERM (fit, compare-optimizers),
129 by SIGHUP (fit); 141 stdout closed (broken pipe, commands other than fit).
"""

from __future__ import annotations

import errno
import functools
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Train neural networks with hand-written NumPy backpropagation and gradient descent, from one YAML file.\n\n"
         "\b\nExamples:\n"
         "  gdtrain init && gdtrain fit gdtrain.yaml     write a starter config, train it\n"
         "  gdtrain fit quickstart                       a shipped config, by name\n"
         "  gdtrain list optimizers                      what a config can name, with defaults\n"
         "  gdtrain explain adam                         an update rule, its options, a config that shows it\n"
         "  gdtrain COMMAND --help                       each command's options and examples\n"
         "  gdtrain --install-completion                 tab completion (bash, zsh, fish, PowerShell)",
)
_state = {"debug": False}


def _print_version(asked: bool) -> None:
    if asked:
        from . import __version__

        typer.echo(f"gdtrain {__version__}")
        raise typer.Exit()


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for internal errors.")] = False,
          version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                                help="Print gdtrain's version and exit.")] = False):
    _state["debug"] = debug
    from .report import ascii_fallback

    ascii_fallback()  # a stdout/stderr that cannot encode Unicode gets ASCII spellings, not a UnicodeEncodeError


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def guarded(command):
    """Turn gdtrain's errors into one line + exit code; never a traceback unless --debug."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from .errors import GdtrainError

        try:
            return command(*args, **kwargs)
        except GdtrainError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except typer.Exit:
            raise
        except BrokenPipeError:  # the reader of stdout went away (`| head`): stop quietly, as Unix tools do
            from .report import discard_output

            discard_output(sys.stdout)
            raise typer.Exit(141)
        except OSError as exc:  # a failed read or write: the file and the OS's reason, never "internal error"
            _fail(os_error_message(exc), 2 if exc.errno in USAGE_ERRNOS else 1)
        except Exception as exc:  # a bug: one line, the traceback on request
            if _state["debug"]:
                raise
            _fail(f"internal error: {exc.__class__.__name__}: {exc} (run with --debug for the traceback)", 1)

    return wrapper


# a write refused because of what was asked (a name too long, a read-only or forbidden folder): bad usage, exit 2;
# anything else (a full disk, a run directory deleted mid-run, an I/O error) fails the run: exit 1
USAGE_ERRNOS = {errno.ENAMETOOLONG, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR}


def os_error_message(exc: OSError) -> str:
    """'runs/x: No space left on device (ENOSPC); what was saved before is kept'."""
    name = errno.errorcode.get(exc.errno, "")
    reason = f"{exc.strerror or exc}" + (f" ({name})" if name else "")
    if exc.errno == errno.ENOENT and exc.filename and not Path(exc.filename).parent.exists():
        return f"{Path(exc.filename).parent}: {reason}; the folder was removed while gdtrain was writing in it"
    where = f"{exc.filename}: " if exc.filename else ""
    kept = "" if exc.errno in USAGE_ERRNOS else "; what was saved before is kept"
    return f"{where}{reason}{kept}" if where else f"a read or write failed: {reason}{kept}"


def _need_matplotlib_for(png: Optional[str]) -> None:
    """--png: a clear error now, before any work, when matplotlib is not installed."""
    if png is not None:
        from .plot import require_matplotlib

        try:
            require_matplotlib()
        except ImportError:
            _fail("--png needs matplotlib (pip install matplotlib)", 2)


def find_config(name: str) -> Path:
    """A config path as given, else a config shipped with gdtrain (``gdtrain fit quickstart``)."""
    from .resources import find_config as find

    return find(name)


def read_config(config: str, overrides=None, assignments=None):
    from .config import load_config

    return load_config(find_config(config), overrides=overrides, assignments=assignments)


ConfigArg = Annotated[str, typer.Argument(help="YAML config file (or the name of a shipped one, e.g. quickstart).",
                                          show_default=False)]
SetOpt = Annotated[Optional[List[str]], typer.Option("--set", help="Override a key: --set optimizer.lr=0.05 (repeatable).")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, help="BLAS threads (overrides training.threads; "
                                                                         "default auto: 1 for small products).")]


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
    from . import report
    from .experiment import fit as run_fit
    from .interrupt import GracefulStop

    if resume is not None and out is not None:
        _fail("use either --resume RUN_DIR (continue that run) or --out DIR (a new run), not both", 2)
    _need_matplotlib_for(png)
    cfg = read_config(config, {"training.epochs": epochs, "seed": seed, "training.threads": threads}, set_)
    if cfg.problem is not None:
        from .landscape import ProblemReporter

        reporter = ProblemReporter(chart=chart)
    else:
        reporter = report.FitReporter(chart=chart)
    notice = report.make_console(stderr=True)
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
        notice.print(f"{report.stop_line(result.summary).splitlines()[0]}; saved to {result.run_dir} "
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
    from . import plot as plots
    from . import rundir

    rows = plots.read_metrics(result.run_dir / rundir.METRICS)
    problem = getattr(result.net, "problem", None)
    if problem is not None:
        from .landscape import path_from_rows, save_png

        save_png(problem, {"path": path_from_rows(problem, rows)}, png)
    else:
        plots.save_png(rows, png, title=str(result.run_dir))
    console.print(f"saved {png}", soft_wrap=True)


@app.command()
@guarded
def gradcheck(
    config: Annotated[Optional[str], typer.Argument(help="Config to check; without one, a self-test of every "
                                                         "activation x loss.", show_default=False)] = None,
    epsilon: Annotated[float, typer.Option(help="Central-difference step ε.")] = 1e-6,
    threshold: Annotated[float, typer.Option(help="Largest relative error that passes.")] = 1e-6,
    atol: Annotated[float, typer.Option(help="An absolute error below this passes too (zero gradients).")] = 1e-8,
    samples: Annotated[int, typer.Option(help="Training rows to check on (with a config).")] = 32,
    set_: SetOpt = None,
    bug: Annotated[Optional[str], typer.Option("--bug", help="Plant a deliberate mistake in backpropagation to see "
                                                             "the check catch it: tanh-derivative, sigmoid-derivative, "
                                                             "relu-derivative, l2-gradient, output-delta.")] = None,
    threads: ThreadsOpt = None,
):
    """Check backpropagation's gradients against central differences (float64).

    \b
    Examples:
      gdtrain gradcheck
      gdtrain gradcheck configs/iris.yaml --samples 16
      gdtrain gradcheck configs/iris.yaml --bug tanh-derivative   (a wrong derivative is caught)
    """
    from . import report
    from .gradcheck import BUGS, check_config, diagnose_self_tests, layer_self_test, self_test

    if bug is not None and bug not in BUGS:
        from .registry import unknown_name_message

        _fail(f"--bug: {unknown_name_message('bug', bug, BUGS)}", 2)
    if bug is not None and config is None:
        _fail("--bug needs a CONFIG to plant it in (e.g. gdtrain gradcheck configs/iris.yaml --bug tanh-derivative)", 2)
    console = report.make_console()
    if config is None:
        from .threads import ThreadChoice, limited

        with limited(ThreadChoice(threads or 1, "requested" if threads else "auto: tiny networks")):
            results = self_test(epsilon=epsilon, threshold=threshold, atol=atol)
            layers = layer_self_test(epsilon=epsilon, threshold=threshold, atol=atol)
        report.gradcheck_matrix(results, console, threshold)
        failed = [f"{a} x {l}" for (a, l), checks in results.items() if not all(c.passed for c in checks)]
        report.gradcheck_layers(layers, console, threshold)
        failed += [name for name, checks in layers.items() if not all(c.passed for c in checks)]
        total = len(results) + len(layers)
        console.print(f"{total - len(failed)}/{total} networks pass" + (f"; failed: {', '.join(failed)}" if failed else ""))
        if failed:
            report.step_hint(diagnose_self_tests(results, layers, epsilon, threshold, atol), console)
    else:
        cfg = read_config(config, {"training.threads": threads}, set_)
        checks, info = check_config(cfg, samples=samples, epsilon=epsilon, threshold=threshold, atol=atol, bug=bug)
        if bug is not None:
            console.print(f"planted bug {bug}: {BUGS[bug][0]}", soft_wrap=True)
        report.gradcheck_table(checks, console, info.get("title") or  # (a problem's title says what was checked)
                               f"gradient check of {report.describe_network(info['net'], info['loss'])}"
                               f" on {info['samples']} training samples, float64, ε={epsilon:g}")
        failed = [c.name for c in checks if not c.passed]
        console.print(f"all {'points' if cfg.problem is not None else 'tensors'} pass" if not failed
                      else f"FAILED: {', '.join(failed)}")
        if info["diagnosis"] is not None:
            report.step_hint(info["diagnosis"], console)
    if failed:
        raise typer.Exit(1)


RunDirArg = Annotated[str, typer.Argument(metavar="RUN_DIR", help="A run directory (holding model.npz), e.g. runs/iris.",
                                           show_default=False)]


@app.command()
@guarded
def evaluate(
    run_dir: RunDirArg,
    data: Annotated[Optional[str], typer.Option("--data", help="Labelled .csv (header; features by name) or .npz "
                                                               "(X, y) to evaluate on instead of the run's test split.")] = None,
):
    """Loss and metrics of a trained model: accuracy, per-class precision / recall / F1 and the confusion
    matrix for classification; mse, mae, r2 for regression.

    Without --data: the run's own test split, rebuilt from RUN_DIR/config.yaml (same seed, same split).

    \b
    Examples:
      gdtrain evaluate runs/iris
      gdtrain evaluate runs/iris --data new_flowers.csv
    """
    from . import report
    from .inference import evaluate_run

    evaluation = evaluate_run(run_dir, data)
    _warn_if_diverged(run_dir)
    report.evaluation_report(evaluation, report.make_console())


def _warn_if_diverged(run_dir: str) -> None:
    """evaluate / predict on a diverged run: one warning line on stderr before the output."""
    from . import report
    from .inference import diverged_notice

    notice = diverged_notice(run_dir)
    if notice is not None:
        report.make_console(stderr=True).print(notice, soft_wrap=True)


@app.command()
@guarded
def predict(
    run_dir: RunDirArg,
    input_: Annotated[str, typer.Argument(metavar="INPUT", help="Rows to predict: .csv (header; features by name, "
                                                                "any order) or .npz (X).", show_default=False)],
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Write the CSV to this file (default: stdout).")] = None,
):
    """Predict every row of INPUT and write a CSV: the predicted class and prob_<class> per class
    (classification), or one column per target (regression). A target column in INPUT is ignored.

    \b
    Examples:
      gdtrain predict runs/iris flowers.csv > predictions.csv
      gdtrain predict runs/sine x.npz -o y.csv
    """
    from . import report
    from .errors import DataError
    from .inference import predict_file, to_csv
    from .rundir import require_folder, write_file

    if out is not None:
        target = Path(out)
        if target.exists() and Path(input_).exists() and target.resolve() == Path(input_).resolve():
            raise DataError(f"{out}: --out would overwrite INPUT; choose another file")
        if target.is_dir():
            raise DataError(f"{out}: is a directory; --out takes a file name such as predictions.csv")
        require_folder(out)
    predictions = predict_file(run_dir, input_)
    text = to_csv(predictions)
    _warn_if_diverged(run_dir)
    if out is None:
        typer.echo(text, nl=False)
        return
    write_file(out, text)
    report.predictions_summary(len(predictions.rows), out, report.make_console())


@app.command()
@guarded
def plot(
    run_dir: RunDirArg,
    png: Annotated[Optional[str], typer.Option("--png", help="Also save the panels as a PNG (needs matplotlib).")] = None,
    width: Annotated[Optional[int], typer.Option(min=24, help="Chart width in characters (default: the terminal's, "
                                                               "at most 100; 80 when piped).")] = None,
    height: Annotated[int, typer.Option(min=3, help="Rows of each chart's plot area.")] = 12,
):
    """Draw a run's loss curves, accuracy (or r2) and per-layer gradient norms (log scale) in the terminal, from
    metrics.csv; or, given a compare-optimizers directory, the race's curves again (one line per contestant).

    Vanishing gradients show as the first layers' lines lying orders of magnitude below the last one's.

    \b
    Examples:
      gdtrain plot runs/digits
      gdtrain plot runs/digits --png digits.png
      gdtrain plot runs/compare-digits --png race.png     (a compare-optimizers directory)
    """
    from . import plot as plots
    from . import report, rundir
    from .errors import DataError

    _need_matplotlib_for(png)
    folder = Path(run_dir)
    if not folder.is_dir():
        raise DataError(f"{run_dir}: no such run directory")
    if (folder / "sweep.csv").is_file():  # a sweep's directory: its ranking and chart again
        from .sweep_report import redraw

        return redraw(folder, report.make_console(), width, height, png)
    if plots.is_race_dir(folder):
        _plot_race(folder, png, width, height)
        return
    rows = plots.read_metrics(folder / rundir.METRICS)
    if not rows:
        raise DataError(f"{folder / rundir.METRICS}: no epochs recorded yet")
    console = report.make_console()
    if width is None:
        width = report.chart_width(console)
    report.plot_report(plots.charts(rows, width, height), console,
                       f"{folder / 'metrics.csv'}: {len(rows)} epoch{'s' if len(rows) != 1 else ''}")
    if png is not None:
        plots.save_png(rows, png, title=str(folder))
        console.print(f"saved {png}", soft_wrap=True)


def _plot_race(folder: Path, png: Optional[str], width: Optional[int], height: int) -> None:
    """``gdtrain plot RACE_DIR``: a compare-optimizers directory's curves, read back from its files."""
    from . import plot as plots
    from . import report
    from .errors import DataError

    race = plots.read_race(folder)
    console = report.make_console()
    charts = plots.race_charts(race, width or report.chart_width(console), height)
    if not charts:
        raise DataError(f"{folder}: no epochs recorded in the contestants' metrics.csv files")
    report.plot_report(charts, console, report.race_plot_header(race))
    if png is not None:
        plots.save_race_png(race, png)
        console.print(f"saved {png}", soft_wrap=True)


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
    from . import race as compare, report
    from .errors import ConfigError
    from .resources import shipped_file

    _need_matplotlib_for(png)
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
    console = report.make_console()
    report.race_header(race, out_dir, workers, console)
    if cluster is not None:
        console.print(f"workers   Dask cluster {cluster}, one BLAS thread per task", soft_wrap=True)
    progress = report.RaceProgress(console)
    notice = report.make_console(stderr=True)
    result = _until_stopped(lambda: compare.run(race, out=str(out_dir), overwrite=True, workers=workers,
                                                on_event=progress, cluster=cluster),
                            "stopping the race: the running runs stop at the end of their step", progress, notice)
    report.race_report(result, console)
    if png is not None:
        compare.save_png(result, png)
        console.print(f"saved {png}", soft_wrap=True)


def _problem_race(cfg, optimizers, modes, seeds, tune_lr, target_loss, target_metric, out, overwrite, png, gif):
    """compare-optimizers on a ``problem:`` config (race/problem_race.py): the table, the paths on one map."""
    from . import landscape, report
    from .race import problem_race
    from .interrupt import GracefulStop

    _need_matplotlib_for(gif)
    race = problem_race.plan(cfg, optimizers, modes, seeds, tune_lr, target_loss, target_metric)
    console = report.make_console()
    with GracefulStop() as stop:
        result = problem_race.run(race, out, overwrite, stop_requested=stop)
        landscape.race_header(race, result.out_dir, console)
        landscape.race_report(result, console)
        for path, save in ((png, landscape.save_png), (gif, landscape.save_gif)):
            if path is not None:
                save(race.problem, result.paths, path)
                console.print(f"saved {path}", soft_wrap=True)
    if stop.requested:
        raise typer.Exit(stop.exit_code)


def _one_backend(workers: int, cluster: Optional[str]) -> None:
    """--workers N and --cluster pick the same thing (where the runs go): one or the other."""
    from .errors import ConfigError

    if cluster is not None and workers != 1:
        raise ConfigError("--cluster: give either --workers N (local processes) or --cluster, not both")


def _reach_cluster(cluster: Optional[str]) -> None:
    """Before any work: no dask, or an unreachable scheduler, is one line and exit 2."""
    if cluster is not None:
        from .race.dask_backend import check_cluster

        check_cluster(cluster)


def _until_stopped(run, stopping: str, progress, notice):
    """``run()`` a race or a sweep under RaceStop: the first Ctrl-C / SIGTERM says ``stopping``, the runs stop at
    a safe point and the command exits 130 / 143 with the line saying what is kept (RaceInterrupted)."""
    from .race import RaceInterrupted, RaceStop

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
    from . import report, rundir, sweep_report
    from .errors import ConfigError
    from .race.sweep import default_out, plan_sweep, run_sweep
    from .sweep_space import parse_grid_options

    _need_matplotlib_for(png)
    _one_backend(workers, cluster)
    if resume is not None and out is not None:
        raise ConfigError("--resume: continues the sweep in its own directory; leave out --out")
    if resume is not None and not Path(resume).is_dir():
        raise ConfigError(f"--resume {resume}: no such sweep directory")
    cfg = read_config(config, {"training.epochs": epochs}, set_)
    plan = plan_sweep(cfg, grid=parse_grid_options(grid) if grid else None, seeds=seeds, random=random, metric=metric)
    runner_text = cluster if cluster is not None else (f"{workers} local processes" if workers > 1 else "this process")
    _reach_cluster(cluster)
    console = report.make_console()
    out_dir = Path(resume) if resume is not None else rundir.prepare(out, default_out(cfg), overwrite)
    sweep_report.sweep_header(plan, out_dir, runner_text, console)
    progress = sweep_report.SweepProgress(plan, console)
    notice = report.make_console(stderr=True)
    stopping = ("the tasks not yet finished are cancelled" if cluster is not None
                else "the running runs stop at the end of their step")
    result = _until_stopped(lambda: run_sweep(plan, out=str(out_dir), overwrite=True, workers=workers,
                                              cluster=cluster, on_event=progress, resume=resume),
                            f"stopping the sweep: {stopping}", progress, notice)
    sweep_report.sweep_report(result, console)
    if png is not None:
        from .race.charts import save_sweep_png

        if save_sweep_png(result.rows, plan.keys, plan.metric, png, title=f"sweep of {cfg.name}"):
            console.print(f"saved {png}", soft_wrap=True)
        else:
            console.print("no --png: a chart needs one or two swept keys, one of them numeric", soft_wrap=True)


# --- discovery: list, explain, init, validate, schema (issue 7) -------------------------------------

def _completer(names):
    """Shell completion for an argument: the names that start with what was typed."""

    def complete(incomplete: str):
        try:
            return [name for name in names() if name.startswith(incomplete)]
        except Exception:  # completion must never print a traceback into the shell
            return []

    return complete


def _list_names():
    from .catalog import list_names

    return list_names()


def _component_names():
    from .catalog import explain_names

    return explain_names()


def _template_names():
    from .shipped_configs import templates

    return [t.name for t in templates()] + ["list"]


@app.command("list", short_help="List components with their options and defaults.")
@guarded
def list_(
    what: Annotated[Optional[str], typer.Argument(
        metavar="[WHAT]", show_default=False, autocompletion=_completer(_list_names),
        help="datasets, activations, losses, initializers, optimizers, schedules, line-searches, early-stopping, "
             "config or templates (singular works too). Without it: every family in one line each.")] = None,
):
    """List what a config can name: each component's options with their defaults and a one-line description,
    read from the same tables the code runs on.

    \b
    Examples:
      gdtrain list                  every family, one line each
      gdtrain list optimizers       names, options=defaults, descriptions (aliases marked)
      gdtrain list schedules
      gdtrain list config           every config key with its default and meaning
    """
    from . import catalog, report
    from .config_keys import config_keys
    from .shipped_configs import DEFAULT_TEMPLATE, templates

    console = report.make_console()
    if what is None:
        report.catalog_overview(catalog.families(), config_keys(), templates(), console)
        return
    name = catalog.resolve_list_name(what)
    if name == "ideas":
        from .ideas import IDEAS

        report.ideas_listing(list(IDEAS.values()), console)
    elif name == "config":
        report.config_keys_listing(config_keys(), console)
    elif name == "templates":
        report.templates_listing(templates(), console, DEFAULT_TEMPLATE)
    else:
        report.family_listing(catalog.family(name), console)


@app.command(short_help="Formula, options and shipped configs of a component.")
@guarded
def explain(
    name: Annotated[str, typer.Argument(
        metavar="NAME", show_default=False, autocompletion=_completer(_component_names),
        help="An optimizer (or alias), schedule, line search, loss, activation, initializer or dataset, or an "
             "idea of the tour (dropout, l2, gradient_clipping, ...: gdtrain list ideas).")],
):
    """A learner's cheat sheet for one component, straight from the code's docstrings: the update rule or
    formula, its options with defaults and meanings, the PyTorch equivalent, and the shipped configs that
    use it. A misspelt name gets the nearest one (exit code 2).

    \b
    Examples:
      gdtrain explain adam          Adam's update rule, options, torch.optim.Adam, configs/adam.yaml
      gdtrain explain momentum      an alias: sgd with momentum 0.9
      gdtrain explain cosine        a schedule, with warm-up
      gdtrain explain cross_entropy
      gdtrain explain relu
      gdtrain explain dropout       an idea: formula, keys, configs and tour stops that show it
    """
    from . import catalog, report

    report.explanations(catalog.explain(name), report.make_console())


@app.command(short_help="Write a commented starter config.")
@guarded
def init(
    path: Annotated[Optional[str], typer.Argument(
        metavar="[PATH]", show_default=False,
        help="Where to write the config (default: gdtrain.yaml in the current folder; a folder gets "
             "gdtrain.yaml inside it).")] = None,
    template: Annotated[str, typer.Option(
        "--template", "-t", autocompletion=_completer(_template_names),
        help="The shipped config to start from; 'list' shows them all.")] = "quickstart",
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
):
    """Write a commented starter config, copied from a shipped one, and say what to run next.

    \b
    Examples:
      gdtrain init                                  gdtrain.yaml from the quickstart template
      gdtrain init --template list                  the templates (every shipped config)
      gdtrain init --template adam experiments/adam.yaml
      gdtrain init my.yaml --force                  overwrite my.yaml
    """
    from . import report, shipped_configs
    from .errors import ConfigError
    from .rundir import write_file

    console = report.make_console()
    if template == "list":
        report.templates_listing(shipped_configs.templates(), console, shipped_configs.DEFAULT_TEMPLATE)
        return
    chosen = shipped_configs.template(template)
    target = Path(path if path is not None else "gdtrain.yaml")
    if target.is_dir():
        target = target / "gdtrain.yaml"
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists; choose another PATH, or pass --force to overwrite it")
    write_file(target, shipped_configs.starter_text(chosen, str(target)), error=ConfigError)
    report.init_done(target, chosen, console)


@app.command(short_help="Check a config and print the resolved one.")
@guarded
def validate(
    config: ConfigArg,
    set_: SetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the one-line summary.")] = False,
    data: Annotated[bool, typer.Option("--data", help="Also load the data and build the network (catches missing "
                                                      "files and bad columns; shows the splits and sizes).")] = False,
):
    """Check a config and print the resolved one: every default filled in, as YAML, ending with a one-line
    summary (a YAML comment, so the output is itself a config). A problem is one line naming the key, exit code 2.

    \b
    Examples:
      gdtrain validate gdtrain.yaml
      gdtrain validate configs/adam.yaml --set optimizer.lr=0.01 --quiet
      gdtrain validate configs/iris.yaml --data       also load the data
      gdtrain validate quickstart > resolved.yaml
    """
    from . import report
    from .config import dump_yaml

    cfg = read_config(config, assignments=set_)
    built = None
    if data:
        from .experiment import setup

        built = setup(cfg)
    console = report.make_console()
    report.validation_report(dump_yaml(cfg), report.config_summary(cfg, config, built), console, quiet)


@app.command(short_help="Print the JSON Schema of the config (for editors).")
@guarded
def schema(
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Write it to this file (default: stdout).")] = None,
):
    """Print the JSON Schema (draft 2020-12) of the config, generated from the validator's own tables, so
    editors can complete and check YAML configs as you type.

    \b
    Examples:
      gdtrain schema > gdtrain.schema.json
      gdtrain schema --out gdtrain.schema.json
      then, as the first line of a config (VS Code's YAML extension and others):
      # yaml-language-server: $schema=gdtrain.schema.json
    """
    import json

    from . import report
    from .errors import ConfigError
    from .rundir import write_file
    from .schema import config_schema

    text = json.dumps(config_schema(), indent=2, ensure_ascii=out is None and not report.can_encode_unicode()) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    target = Path(out)
    if target.is_dir():
        raise ConfigError(f"{out}: is a folder; --out takes a file name such as gdtrain.schema.json")
    write_file(target, text, out, ConfigError)
    report.schema_written(out, report.make_console())


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C before a command could handle it (say, while Python imports gdtrain)
        import sys

        print("error: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
