"""A config, and what it builds, in words: the phrases every header and summary line is made of.

    describe_run        'sgd(lr=0.1, momentum=0.9), mini-batch 32, 40 epochs, l2=0.001, schedule cosine(...)'
    describe_network    '64 → 64 relu (dropout 0.2) → 10  [softmax + cross_entropy]'
    describe_hidden     '64 relu (dropout 0.2)', or 'linear model': the hidden layers, from the config alone
    describe_splits     '1259 train / 269 validation / 269 test, 64 features, 10 classes'

A component is written as its name and the options that differ from their defaults (``options.describe_component``,
``optimizers.describe_optimizer``: below the race package, which describes its contestants with them), read from the
same Option tables the config is validated with.
"""

from __future__ import annotations

from typing import List

from ..linesearch import LINE_SEARCHES
from ..optimizers import describe_optimizer
from ..options import describe_component
from ..schedules import COMMON_OPTIONS, SCHEDULES


def describe_layers(net) -> str:
    """'64 → 64 relu (dropout 0.2) → batchnorm → 10': input size, then each layer (Network.describe)."""
    return net.describe()


def describe_network(net, loss) -> str:
    """'64 → 64 relu → 10  [softmax + cross_entropy]'."""
    return f"{describe_layers(net)}  [{loss.head()}]"


def describe_hidden(config) -> str:
    """'64 relu → 32 relu', or 'linear model', from the config alone (no data needed)."""
    def text(layer) -> str:
        if layer.type == "batchnorm":
            return "batchnorm"
        if layer.type == "residual":
            inner = " → ".join(text(x) for x in layer.hidden)
            return f"residual({inner}{' + projection' if layer.projection else ''})"
        act = f"batchnorm → {layer.activation}" if layer.batchnorm else layer.activation
        return f"{layer.units} {act}" + (f" (dropout {layer.dropout:g})" if layer.dropout else "")

    layers = [text(layer) for layer in config.model.hidden]
    return " → ".join(layers) if layers else "linear model"


def describe_training(config) -> str:
    """'sgd(lr=0.1, momentum=0.9)', or the line search that replaces the optimizer's step."""
    search = config.training.line_search
    if search is not None:
        return f"gradient descent with {describe_component(search, LINE_SEARCHES.get(search['name']).options)} line search"
    return describe_optimizer(config.optimizer)


def describe_mode(training) -> str:
    """'full batch', 'stochastic (batch 1)' or 'mini-batch 32'."""
    return {"batch": "full batch", "sgd": "stochastic (batch 1)"}.get(training.mode, f"mini-batch {training.batch_size}")


def describe_run(config) -> str:
    """'sgd(lr=0.1), mini-batch 32, 40 epochs, l2=0.001, ...': how the config trains."""
    return (f"{describe_training(config)}, {describe_mode(config.training)}, {config.training.epochs} epochs"
            + "".join(f", {extra}" for extra in training_extras(config)))


def describe_splits(data) -> str:
    """'1259 train / 269 validation / 269 test, 64 features, 10 classes'."""
    classes = f", {data.n_classes} classes" if data.classes is not None else ""
    scaling = getattr(data, "target_scaling", None)  # data.standardize_target: the loss is in these units
    target = "" if scaling is None else ", target standardized: " + "; ".join(
        f"μ {m:.4g}, σ {s:.4g}" for m, s in zip(scaling.mean, scaling.scale))
    return (f"{data.splits['train']} train / {data.splits['validation']} validation / {data.splits['test']} test, "
            f"{data.n_features} features{classes}{target}")


def training_extras(config) -> List[str]:
    """The settings that differ from plain training: penalties, schedule, clipping, stopping rules, keep."""
    extras = [f"{name}={value:g}" for name, value in (("l2", config.regularization.l2), ("l1", config.regularization.l1))
              if value]
    if config.schedule["name"] != "constant" or config.schedule["warmup_epochs"]:
        table = {**COMMON_OPTIONS, **SCHEDULES.get(config.schedule["name"]).OPTIONS}
        extras.append(f"schedule {describe_component(config.schedule, table)}")
    if config.clip.norm is not None:
        extras.append(f"clip norm {config.clip.norm:g}")
    if config.clip.value is not None:
        extras.append(f"clip value {config.clip.value:g}")
    tc = config.training
    extras += [f"{name} {value:g}" for name, value in (("tol_loss", tc.tol_loss), ("tol_grad", tc.tol_grad),
                                                        ("tol_step", tc.tol_step)) if value is not None]
    if tc.keep == "best":
        extras.append("keep best")
    return extras
