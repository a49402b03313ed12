"""``gdtrain gradcheck``: backpropagation's gradients against central differences, for one config's network or
problem (with a bug planted on request), or, without a config, the self-test of every activation x loss and
layer type (gradcheck.py computes, render/gradcheck.py prints)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import SetOpt, ThreadsOpt, app, fail, guarded, read_config

# lazy: start-up (`gdtrain --help` imports no NumPy): the library and gdtrain.render are imported in the command


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
    from ..gradcheck import BUGS, check_config, diagnose_self_tests, layer_self_test, self_test
    from ..registry import unknown_name_message
    from ..render.describe import describe_network
    from ..render.gradcheck import gradcheck_layers, gradcheck_matrix, gradcheck_table, step_hint
    from ..render.terminal import make_console
    from ..threads import ThreadChoice, limited

    if bug is not None and bug not in BUGS:
        fail(f"--bug: {unknown_name_message('bug', bug, BUGS)}", 2)
    if bug is not None and config is None:
        fail("--bug needs a CONFIG to plant it in (e.g. gdtrain gradcheck configs/iris.yaml --bug tanh-derivative)", 2)
    console = make_console()
    if config is None:
        with limited(ThreadChoice(threads or 1, "requested" if threads else "auto: tiny networks")):
            results = self_test(epsilon=epsilon, threshold=threshold, atol=atol)
            layers = layer_self_test(epsilon=epsilon, threshold=threshold, atol=atol)
        gradcheck_matrix(results, console, threshold)
        failed = [f"{a} x {l}" for (a, l), checks in results.items() if not all(c.passed for c in checks)]
        gradcheck_layers(layers, console, threshold)
        failed += [name for name, checks in layers.items() if not all(c.passed for c in checks)]
        total = len(results) + len(layers)
        console.print(f"{total - len(failed)}/{total} networks pass" + (f"; failed: {', '.join(failed)}" if failed else ""))
        if failed:
            step_hint(diagnose_self_tests(results, layers, epsilon, threshold, atol), console)
    else:
        cfg = read_config(config, {"training.threads": threads}, set_)
        checks, info = check_config(cfg, samples=samples, epsilon=epsilon, threshold=threshold, atol=atol, bug=bug)
        if bug is not None:
            console.print(f"planted bug {bug}: {BUGS[bug][0]}", soft_wrap=True)
        gradcheck_table(checks, console, info.get("title") or  # (a problem's title says what was checked)
                        f"gradient check of {describe_network(info['net'], info['loss'])}"
                        f" on {info['samples']} training samples, float64, ε={epsilon:g}")
        failed = [c.name for c in checks if not c.passed]
        console.print(f"all {'points' if cfg.problem is not None else 'tensors'} pass" if not failed
                      else f"FAILED: {', '.join(failed)}")
        if info["diagnosis"] is not None:
            step_hint(info["diagnosis"], console)
    if failed:
        raise typer.Exit(1)
