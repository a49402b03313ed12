"""A race's plan: who races on which config, with which seeds, tuning and target; every run's config checked first.

``plan`` turns a config's ``compare:`` section and the command line's options into a ``Race``; each contestant's
run is the base config with only its optimizer (or ``training.mode``) and the seed replaced
(``contestant_config``). Run directories: DIR/<label>/ (one seed) or DIR/<label>/seed-<s>/, tuning runs under
DIR/tuning/<label>/lr-<lr>/.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from .. import rundir
from ..config import DEFAULT_LR_GRID, CompareConfig, Config, from_dict, to_dict
from ..contestants import DEFAULT_OPTIMIZERS, Target, parse_optimizers, resolve_contestants, resolve_modes, \
    resolve_target_metric
from ..errors import ConfigError
from ..experiment import setup
from ..losses import LOSSES
from ..metrics import check_watchable
from ..optimizers import OPTIMIZERS
from ..options import describe
from .job import Job


@dataclass
class Contestant:
    label: str
    optimizer: Dict[str, Any]  # a resolved optimizer spec (alias expanded, defaults filled in)
    mode: str
    source: str = ""  # where it was defined, for error messages (compare.optimizers[1], --optimizers, ...)

    @property
    def lr(self) -> float:
        return self.optimizer["lr"]


@dataclass
class Race:
    """Who races on which config, with which seeds, tuning and target (see ``plan``)."""

    config: Config
    kind: str  # "optimizers" | "modes"
    contestants: List[Contestant]
    seeds: List[int]
    tune_lr: bool = False
    lr_grid: List[float] = field(default_factory=lambda: list(DEFAULT_LR_GRID))
    target: Optional[Target] = None

    @property
    def has_validation(self) -> bool:
        return self.config.data.validation_split > 0

    @property
    def untuned_defaults(self) -> List[str]:
        """The contestants racing at their optimizer's default lr, untuned: such a race ranks the defaults
        (one lr per optimizer, chosen for no problem in particular), not the optimizers."""
        if self.tune_lr:
            return []
        return [c.label for c in self.contestants if c.lr == OPTIMIZERS.get(c.optimizer["name"]).OPTIONS["lr"].default]


def task_of(config: Config) -> str:
    """classification or regression: the task of the config's loss."""
    return LOSSES.get(config.loss, "loss").task


def _target(config: Config, section: CompareConfig, target_loss, target_metric) -> Optional[Target]:
    if target_loss is not None and target_metric is not None:
        raise ConfigError("--target-loss: give either --target-loss or --target-metric, not both")
    if target_loss is not None or target_metric is not None:
        path = "--target-loss" if target_loss is not None else "--target-metric"
        if target_loss is not None:
            if not math.isfinite(target_loss):
                raise ConfigError(f"--target-loss: must be a finite number, got {target_loss}")
            spec = {"train_loss": float(target_loss)}
        else:
            spec = resolve_target_metric(target_metric, path)
    elif section.target_loss is not None and section.target_metric is not None:
        raise ConfigError("compare.target_metric: give either compare.target_loss or compare.target_metric, not both")
    elif section.target_loss is not None:
        path, spec = "compare.target_loss", {"train_loss": float(section.target_loss)}
    elif section.target_metric is not None:
        path, spec = "compare.target_metric", section.target_metric
    else:
        return None
    (name, value), = spec.items()
    check_watchable(name, path, task_of(config), config.data.validation_split > 0, config.loss)
    return Target(name, value)


def plan(config: Config, optimizers: Optional[Union[str, Sequence[str]]] = None,
         modes: Optional[Union[str, Sequence[str]]] = None, seeds: Optional[int] = None,
         tune_lr: Optional[bool] = None, target_loss: Optional[float] = None,
         target_metric: Optional[str] = None) -> Race:
    """The race ``config`` and the command line describe; every contestant's config is validated here.

    The arguments (the command line's options) override the config's ``compare:`` section. ``optimizers``: names
    at their documented defaults (a comma-separated string or a list). ``modes``: race these training modes with
    one optimizer (the config's ``optimizer``, or the single one ``optimizers`` names).
    """
    section = config.compare or CompareConfig()
    cli_optimizers = None
    if optimizers is not None:
        text = optimizers if isinstance(optimizers, str) else ",".join(optimizers)
        cli_optimizers = parse_optimizers(text)
    if modes is not None:
        mode_list = resolve_modes(modes if isinstance(modes, str) else list(modes), "--modes")
    elif cli_optimizers is None and section.modes is not None:
        if section.optimizers is not None:
            raise ConfigError("compare.modes: a mode race runs the optimizer section's optimizer; remove "
                              "compare.optimizers (or compare.modes)")
        mode_list = section.modes
    else:
        mode_list = None

    if mode_list is not None:
        if cli_optimizers is not None and len(cli_optimizers) != 1:
            raise ConfigError(f"--modes: races one optimizer in several modes; --optimizers names "
                              f"{len(cli_optimizers)} (give one, or leave it out to use the config's optimizer)")
        spec = ({k: v for k, v in cli_optimizers[0].items() if k != "label"} if cli_optimizers is not None
                else dict(config.optimizer))
        source = "--modes" if modes is not None else "compare.modes"
        contestants = [Contestant(mode, dict(spec), mode, source) for mode in mode_list]
        kind = "modes"
    else:
        if cli_optimizers is not None:
            specs, source = cli_optimizers, "--optimizers"
        elif section.optimizers is not None:
            specs, source = section.optimizers, "compare.optimizers"
        else:
            specs, source = resolve_contestants(list(DEFAULT_OPTIMIZERS), "compare.optimizers"), "default contestants"
        contestants = []
        for i, item in enumerate(specs):
            spec = {k: v for k, v in item.items() if k != "label"}
            where = f"{source}[{i}]" if source == "compare.optimizers" else source
            contestants.append(Contestant(item["label"], spec, config.training.mode, where))
        kind = "optimizers"

    n_seeds = section.seeds if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ConfigError(f"--seeds: must be an integer >= 1, got {describe(n_seeds)}")
    tune = section.tune_lr if tune_lr is None else bool(tune_lr)
    if tune and config.data.validation_split == 0:
        raise ConfigError("compare.tune_lr: choosing the learning rate by validation loss needs validation data "
                          "(data.validation_split > 0)")
    if tune and config.training.line_search is not None:
        raise ConfigError("compare.tune_lr: training.line_search picks every step's length; there is no lr to tune")
    race = Race(config, kind, contestants, [config.seed + i for i in range(n_seeds)], tune,
                list(section.lr_grid), _target(config, section, target_loss, target_metric))
    for c in contestants:  # every contestant's config is checked before anything trains
        contestant_config(race, c, race.seeds[0])
    setup(contestant_config(race, contestants[0], race.seeds[0]))  # and the data: a DataError now, not per run
    return race


def effective_workers(race: Race, workers: int) -> int:
    """No more worker processes than the largest phase has runs."""
    runs = len(race.contestants) * len(race.seeds)
    if race.tune_lr:
        runs = max(runs, len(race.contestants) * len(race.lr_grid))
    return max(1, min(int(workers), runs))


def contestant_config(race: Race, contestant: Contestant, seed: int, lr: Optional[float] = None) -> Config:
    """The base config with this contestant's optimizer (and mode) and ``seed``: what its run trains."""
    raw = to_dict(race.config)
    raw.pop("compare", None)
    raw.pop("sweep", None)
    raw["optimizer"] = dict(contestant.optimizer, **({"lr": lr} if lr is not None else {}))
    raw["training"]["mode"] = contestant.mode
    raw["seed"] = seed
    raw["output"] = None
    try:
        return from_dict(raw, base_dir=race.config.base_dir, name=race.config.name)
    except ConfigError as exc:
        raise ConfigError(f"{contestant.source} ({contestant.label}): {exc}") from None


def tuning_grid(lr: float, factors: Sequence[float]) -> List[float]:
    """lr × each factor, to 3 significant digits (0.001 × 0.3 = 0.0003), without repeats."""
    out: List[float] = []
    for f in factors:
        value = float(f"{lr * f:.3g}")
        if value not in out:
            out.append(value)
    return out


def default_out(config: Config) -> str:
    return "runs/compare" if config.name == "compare" else f"runs/compare-{config.name}"


def run_dir(out_dir: Path, label: str, seed: int, n_seeds: int) -> str:
    """A contestant's run directory: DIR/<label>/ with one seed, DIR/<label>/seed-<s>/ with several."""
    return str(out_dir / label if n_seeds == 1 else out_dir / label / f"seed-{seed}")


def make_job(race: Race, c: Contestant, seed: int, out: str, phase: str, lr: Optional[float] = None) -> Job:
    """The job that trains contestant ``c`` on ``seed`` (at ``lr`` when tuning) into ``out``."""
    config = contestant_config(race, c, seed, lr)
    return Job(phase, c.label, seed, config.optimizer["lr"], c.mode, c.optimizer["name"], config, out)


def prepare_dir(race: Race, out: Optional[str] = None, overwrite: bool = False) -> Path:
    """The race's directory, created: ``out``, refused when it holds files unless ``overwrite``; by default
    runs/compare-<config name> (runs/compare for the demo), moving on to -2, -3, ... rather than overwriting."""
    return rundir.prepare(out, default_out(race.config), overwrite)
