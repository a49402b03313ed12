"""Using a trained run: load model.npz, evaluate it on labelled data, predict on new rows.

``gdtrain evaluate`` and ``gdtrain predict`` call this module; a notebook can too:

    model = load_model("runs/iris")
    report = evaluate_run("runs/iris")                  # the run's own test split, rebuilt from config.yaml
    report = evaluate_run("runs/iris", "new.csv")       # any labelled .csv / .npz
    table = predict_file("runs/iris", "new.csv")        # table.header, table.rows; to_csv(table)

Modules, each one concern: ``model_file`` (every check that a model.npz matches itself), ``model`` (the Model
a run directory holds, load_model), ``inputs`` (reading a .csv / .npz / IDX file for a model: features matched,
targets encoded), ``evaluation`` (a split or a file scored: loss, metrics, per-class scores, confusion matrix)
and ``prediction`` (the predictions table, as CSV).
"""

from .evaluation import Evaluation, evaluate_run  # noqa: F401
from .model import Model, diverged_notice, load_model  # noqa: F401
from .prediction import Predictions, predict_file, to_csv  # noqa: F401
