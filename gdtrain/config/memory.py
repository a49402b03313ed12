"""Will the network fit in this machine's memory? An estimate from the config and the data's shape, checked before
anything is allocated.

validate.py refuses hidden layers too large for any machine (``MAX_HIDDEN_WEIGHTS``) without knowing the data;
once the data is read (experiment.setup), ``check_memory`` counts the whole network, the input and output layers
included: its parameters ×``MEMORY_COPIES`` (with their gradients and optimizer state) plus one batch's
activations ×``ACTIVATION_COPIES``, against the machine's physical memory.
"""

from __future__ import annotations

import math
import os
from typing import Optional, Tuple

import numpy as np

from ..errors import ConfigError
from ..layers import build_layers
from ..train import batch_size_for
from .sections import Config


MEMORY_COPIES = 4  # the parameters, their gradients and an optimizer's state (Adam: two), as one estimate
ACTIVATION_COPIES = 4  # per layer and batch row: its input, pre-activation, output and backward buffer


def machine_memory() -> Optional[int]:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError, TypeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB"


def memory_estimate(config: Config, n_inputs: int, n_outputs: int, n_train: int) -> Tuple[int, int, int]:
    """(parameters, bytes for them with gradients and optimizer state, bytes of one batch's activations) of the
    network ``config`` describes on data of ``n_inputs`` features and ``n_outputs`` outputs; nothing allocated."""
    layers = build_layers(config.model.hidden, n_inputs, n_outputs, config.model.output_activation)
    inner = [inner for layer in layers for inner in layer.walk()]
    n_params = sum(math.prod(spec.shape) for layer in inner for spec in layer.tensors())
    itemsize = np.dtype(config.dtype).itemsize
    rows = batch_size_for(config.training.mode, config.training.batch_size, max(n_train, 1))
    widths = n_inputs + sum(layer.width_out for layer in inner)
    return n_params, MEMORY_COPIES * n_params * itemsize, ACTIVATION_COPIES * rows * widths * itemsize


def check_memory(config: Config, n_inputs: int, n_outputs: int, n_train: int) -> None:
    """A ConfigError, before anything is allocated, when the whole network (the input and output layers included,
    which validate.py's size check cannot see before the data is read) will not fit in this machine's memory."""
    available = machine_memory()
    if not available:
        return
    n_params, params_bytes, batch_bytes = memory_estimate(config, n_inputs, n_outputs, n_train)
    if params_bytes + batch_bytes > available:
        raise ConfigError(f"model.hidden: the network needs about {_gib(params_bytes + batch_bytes)} of memory "
                          f"({n_params:,} parameters for {n_inputs} inputs and {n_outputs} outputs: "
                          f"{_gib(params_bytes)} with their gradients and optimizer state, plus {_gib(batch_bytes)} "
                          f"of activations per batch), more than this machine's {_gib(available)}; use fewer units "
                          "(or a smaller training.batch_size)")
