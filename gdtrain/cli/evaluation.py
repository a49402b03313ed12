"""A trained run used and looked at: ``gdtrain evaluate`` (its metrics on the test split or a labelled file),
``gdtrain predict`` (a CSV of predictions) and ``gdtrain plot`` (its charts again; a race's or a sweep's too).
the inference/ package and plot.py compute, render/evaluation.py (render/race.py, render/sweep.py) prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import DataError
from .common import RunDirArg, app, guarded, need_matplotlib_for

# lazy: start-up (`gdtrain --help` imports no NumPy): the library and gdtrain.render are imported in the commands,
# and `plot` imports the rendering of only the kind of directory it was given (a race's needs the race package)


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
    from ..inference import evaluate_run
    from ..render.evaluation import evaluation_report
    from ..render.terminal import make_console

    evaluation = evaluate_run(run_dir, data)
    _warn_if_diverged(run_dir)
    evaluation_report(evaluation, make_console())


def _warn_if_diverged(run_dir: str) -> None:
    """evaluate / predict on a diverged run: one warning line on stderr before the output."""
    from ..inference import diverged_notice
    from ..render.terminal import make_console

    notice = diverged_notice(run_dir)
    if notice is not None:
        make_console(stderr=True).print(notice, soft_wrap=True)


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
    from ..inference import predict_file, to_csv
    from ..render.evaluation import predictions_summary
    from ..render.terminal import make_console
    from ..rundir import require_folder, write_file

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
    predictions_summary(len(predictions.rows), out, make_console())


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
    from ..plot import is_race_dir
    from ..render.terminal import make_console

    need_matplotlib_for(png)
    folder = Path(run_dir)
    if not folder.is_dir():
        raise DataError(f"{run_dir}: no such run directory")
    if (folder / "sweep.csv").is_file():  # a sweep's directory: its ranking and chart again
        from ..render.sweep import redraw
    elif is_race_dir(folder):  # a compare-optimizers directory: the contestants' curves again
        from ..render.race import redraw
    else:
        from ..render.evaluation import redraw
    redraw(folder, make_console(), width, height, png)
