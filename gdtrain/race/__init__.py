"""Races and sweeps: many ``fit`` runs of one problem, planned, executed (serially, in local processes or on a
Dask cluster), ranked and written out.

    from gdtrain import race
    r = race.plan(load_config("configs/compare.yaml"), optimizers=["sgd", "momentum", "adam"], seeds=3)
    result = race.run(r, out="runs/race", workers=2)       # or cluster="local:2" / "tcp://host:8786"
    result.winner, result.standings[0].stats["best_val_loss"]

Modules, each one concern: ``plan`` (who races, every config checked first), ``job`` (the unit of work: a config
and a seed → a run directory and a result row), ``executor`` (one seam: serial and local processes; stopping),
``dask_backend`` (the Dask backend), ``backends`` (which one runs), ``standings`` (statistics and ranking), ``outputs`` (comparison.csv,
summary.json), ``charts`` (curves, PNG), ``compare`` (the race itself) and ``sweep`` (grid and random search).
The contestants and targets are ``gdtrain.contestants``, the watchable metrics ``gdtrain.metrics``.
``problem_race`` races optimizers on a 2-D test function (a ``problem:`` config), one run after the other; it
draws on the rendering modules, so it is not imported here: ``from gdtrain.race import problem_race``.
"""

from ..contestants import (DEFAULT_OPTIMIZERS, LABEL, MODES, TARGETS, TUNING_DIR, Target, optimizer_names,  # noqa: F401
                           parse_list, parse_optimizers, resolve_contestants, resolve_modes, resolve_target_metric)
from ..metrics import HIGHER_IS_BETTER  # noqa: F401
from .charts import epoch_curves, save_png, time_curves, use_log_scale  # noqa: F401
from .compare import run  # noqa: F401
from .executor import (BLAS_VARIABLES, Listener, RaceEvent, RaceInterrupted, RaceStop, Runner,  # noqa: F401
                       available_cores, blas_threads, limited_blas_env)
from .backends import open_runner  # noqa: F401
from .job import Job, Outcome, apply_target, run_job  # noqa: F401
from .outputs import COLUMNS, EXTRA_COLUMNS, csv_rows, summary_dict, write_outputs  # noqa: F401
from .plan import (Contestant, Race, contestant_config, default_out, effective_workers, plan,  # noqa: F401
                   prepare_dir, tuning_grid)
from .standings import STAT_FIELDS, RaceResult, Stat, Standing, Tuning, choose_lr, rank  # noqa: F401
