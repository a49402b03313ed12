"""checkpoint.npz: everything needed to resume a run exactly where it stopped.

One atomically written .npz (a crash or kill -9 leaves the previous checkpoint intact) holding

    params                    the flat parameter vector (W1, b1, W2, ... as network.py lays them out)
    optimizer.<name>          each buffer of the optimizer's state_dict() (momentum_buffer, exp_avg, ...)
    best_params               the best epoch's weights (what keep: best and a diverged run keep)
    early_best_params         early stopping's best weights (restore_best)
    meta                      JSON: the epoch, the optimizer's step count, the schedule's state, the loop's
                              state (best epoch, losses, warnings given, early stopping), the state of the
                              shuffling and dropout random generators, and the resolved config

A resumed run reloads all of it, so the same batches, the same dropout masks, the same learning rates and
the same optimizer moments follow: it ends with exactly the weights of an uninterrupted run.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

from . import rundir
from .errors import ConfigError

FORMAT = 1
META_KEYS = ("epoch", "optimizer", "schedule", "loop", "rngs", "config")


def save(path: Union[str, Path], *, net, optimizer, schedule, rngs: Mapping[str, np.random.Generator], state,
         config_text: str, threads: Optional[int] = None) -> None:
    """Write the checkpoint for the end of ``state.epoch`` (atomically). ``threads``: the BLAS threads the run
    trains with, which a resumed run keeps (the thread count changes the order of some sums, so the last bits)."""
    loop_meta, loop_arrays = state.to_checkpoint()
    arrays: Dict[str, np.ndarray] = {"params": net.params}
    optimizer_state = optimizer.state_dict()
    arrays.update({f"optimizer.{name}": value for name, value in optimizer_state["buffers"].items()})
    arrays.update(loop_arrays)
    meta = {
        "format": FORMAT,
        "epoch": state.epoch,
        "optimizer": {"step": optimizer_state["step"]},
        "schedule": schedule.state_dict(),
        "loop": loop_meta,
        "rngs": {name: rng.bit_generator.state for name, rng in rngs.items()},
        "config": config_text,
    }
    if threads is not None:
        meta["threads"] = threads
    arrays["meta"] = np.array(json.dumps(meta))
    rundir.save_npz(path, arrays)


def load(path: Union[str, Path]) -> Dict[str, Any]:
    """The checkpoint's arrays and its ``meta`` (parsed); a ConfigError names an unreadable file."""
    path = Path(path)
    if path.parent.exists() and not path.parent.is_dir():
        raise ConfigError(f"--resume: {path.parent} is a file; expected a run directory (holding checkpoint.npz)")
    if not path.exists():
        raise ConfigError(f"--resume: {path} does not exist (a run directory has one after its first epoch)")
    rundir.refuse_special_file(path, f"--resume: {path}", ConfigError)
    try:
        if not zipfile.is_zipfile(path):  # np.load would try it as a pickle, and say so
            raise ValueError("not a zip file")
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        if "meta" not in arrays:
            raise KeyError("no 'meta' array")
        meta = json.loads(str(arrays.pop("meta")))
    except Exception as exc:
        raise ConfigError(f"--resume: {path} is not a readable checkpoint ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ConfigError(f"--resume: {path} has checkpoint format {found}, this gdtrain reads {FORMAT}")
    missing = [key for key in META_KEYS if key not in meta] + [key for key in ("params",) if key not in arrays]
    if missing or not isinstance(meta["config"], str):
        raise ConfigError(f"--resume: {path} is not a complete checkpoint (missing {', '.join(missing) or 'config'}); "
                          "was it written by gdtrain fit?")
    return {"arrays": arrays, "meta": meta, "path": path}


def restore(checkpoint: Mapping[str, Any], *, net, optimizer, schedule, rngs: Mapping[str, np.random.Generator],
            state) -> None:
    """Put the checkpoint back into freshly built objects of the same config."""
    arrays, meta = checkpoint["arrays"], checkpoint["meta"]
    where = checkpoint.get("path", "the checkpoint")
    if arrays["params"].shape != net.params.shape:
        raise ConfigError(f"--resume: {where} has {arrays['params'].size} parameters, the network of this config "
                          f"has {net.size}")
    try:
        net.params[...] = arrays["params"]
        optimizer.load_state_dict({"step": meta["optimizer"]["step"],
                                   "buffers": {name.split(".", 1)[1]: value for name, value in arrays.items()
                                               if name.startswith("optimizer.")}})
        schedule.load_state_dict(meta["schedule"])
        for name, rng in rngs.items():
            rng.bit_generator.state = meta["rngs"][name]
        state.load_checkpoint(meta["loop"], arrays)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # a damaged or edited file
        raise ConfigError(f"--resume: {where}: its saved state does not fit this run ({exc.__class__.__name__}: "
                          f"{exc}); it is damaged or was written by another version of gdtrain") from None
