"""The ``gdtrain`` command: parse, call the library, print with report.py. Nothing else lives here.

Exit codes: 0 success; 1 training failed (diverged) or a check failed; 2 bad usage, config or data;
130 interrupted.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, List, Optional

import typer

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Train neural networks with hand-written NumPy backpropagation and gradient descent, from one YAML file.",
)
_state = {"debug": False}


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for internal errors.")] = False):
    _state["debug"] = debug


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
        except Exception as exc:  # a bug: one line, the traceback on request
            if _state["debug"]:
                raise
            _fail(f"internal error: {exc.__class__.__name__}: {exc} (run with --debug for the traceback)", 1)

    return wrapper


def find_config(name: str) -> Path:
    """A config path as given, else a config shipped with gdtrain (``gdtrain fit quickstart``)."""
    path = Path(name)
    if path.exists() or path.suffix not in ("", ".yaml", ".yml") or "/" in name:
        return path
    from .resources import shipped_file

    return shipped_file("configs", f"{path.stem}.yaml") or path


def read_config(config: str, overrides=None, assignments=None):
    from .config import load_config

    return load_config(find_config(config), overrides=overrides, assignments=assignments)


ConfigArg = Annotated[str, typer.Argument(help="YAML config file (or the name of a shipped one, e.g. quickstart).",
                                          show_default=False)]
SetOpt = Annotated[Optional[List[str]], typer.Option("--set", help="Override a key: --set optimizer.lr=0.05 (repeatable).")]


@app.command()
@guarded
def fit(
    config: ConfigArg,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Run directory (default: runs/<config name>).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Override training.epochs.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override seed.")] = None,
    set_: SetOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Reuse a non-empty --out directory.")] = False,
):
    """Train the network a config describes and save a run directory.

    Example: gdtrain fit configs/digits.yaml --epochs 20 --set optimizer.lr=0.05
    """
    from . import report
    from .experiment import fit as run_fit

    cfg = read_config(config, {"training.epochs": epochs, "seed": seed}, set_)
    reporter = report.FitReporter()
    try:
        result = run_fit(cfg, out=out, overwrite=overwrite, on_start=reporter.start, on_epoch=reporter.epoch)
    finally:
        reporter.stop_progress()
    reporter.finish(result)
    if result.summary["stop_reason"] == "diverged":
        raise typer.Exit(1)


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
):
    """Check backpropagation's gradients against central differences (float64).

    Examples: gdtrain gradcheck    |    gdtrain gradcheck configs/iris.yaml --samples 16
    """
    from . import report
    from .gradcheck import check_config, self_test

    console = report.make_console()
    if config is None:
        results = self_test(epsilon=epsilon, threshold=threshold, atol=atol)
        report.gradcheck_matrix(results, console, threshold)
        failed = [f"{a} x {l}" for (a, l), checks in results.items() if not all(c.passed for c in checks)]
        console.print(f"{len(results) - len(failed)}/{len(results)} networks pass"
                      + (f"; failed: {', '.join(failed)}" if failed else ""))
    else:
        cfg = read_config(config, assignments=set_)
        checks, info = check_config(cfg, samples=samples, epsilon=epsilon, threshold=threshold, atol=atol)
        report.gradcheck_table(checks, console, f"gradient check of {report.describe_network(info['net'], info['loss'])}"
                                                f" on {info['samples']} training samples, float64, ε={epsilon:g}")
        failed = [c.name for c in checks if not c.passed]
        console.print("all tensors pass" if not failed else f"FAILED: {', '.join(failed)}")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
