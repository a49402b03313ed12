"""The run directory's files, each written atomically (temp file in the same folder + rename).

What writing a file guarantees (``atomic_write``, and so every run file and every --out / --png / init PATH):

  - a symlink is written through: its target is replaced (atomically, the temp file in the target's folder),
    the link stays a link;
  - an existing file that is not a regular file (a device such as /dev/null, a FIFO, a socket) is never
    replaced: it is opened and written directly, as a shell redirection would (a FIFO waits for its reader);
  - a new file gets the mode a plain ``open(path, "w")`` would give it (0o666 less the umask), a rewritten one
    keeps its mode (and, when allowed, its owner).

Every file the user names for reading goes through ``refuse_special_file`` first: a FIFO, device or socket is
one "not a regular file" line (exit 2), never a read that waits forever.

    config.yaml     the resolved config            model.npz     the network's tensors + what prediction needs
    metrics.csv     one row per epoch, flushed     summary.json  how the run ended and its metrics
    checkpoint.npz  what --resume needs (checkpoint.py)
    .lock           while a run uses the directory: the pid of its process, locked with flock (``RunLock``);
                    removed when the run ends. Left by kill -9, it is taken over by the next run (saying so).

A kill -9 can also leave the temp files of an unfinished atomic write (``.checkpoint.npz.XXXX`` ...); the
next --resume or --overwrite of the directory removes them (``remove_leftovers``).

This module owns their names (``CONFIG``, ``METRICS``, ``MODEL``, ``SUMMARY``, ``CHECKPOINT``) and the
model.npz format, written by ``save_model`` and read by ``read_model``:

    W<k>, b<k>                      the k-th dense layer's weights (fan_out, fan_in) and biases, counting the
                                    layers in the order they run (those in residual blocks, and a block's
                                    projection after its layers, included)
    gamma<k>, beta<k>               the k-th batch norm's scale and shift (when affine)
    running_mean<k>, running_var<k> the k-th batch norm's running statistics
    model                           the config's ``model:`` section as JSON (the layers, their order and options)
    activations                     each dense layer's activation (as before the model section existed)
    loss, config                    the loss's name; the resolved config (YAML)
    feature_names, target_names     the input columns, the target column(s)
    classes                         class labels in index order (classification)
    x_mean, x_scale                 the training split's standardization z = (x − x_mean)/x_scale (if any)
    y_mean, y_scale                 data.standardize_target: the network predicts (y − y_mean)/y_scale (targets.py)

A model.npz written before the model section existed (Dense layers only) has no ``model`` array: the network is
then the Dense stack its ``activations`` and W shapes describe. inference.model_file.check_model (called by
load_model after ``read_model``) refuses a file that does not match itself, one DataError line naming the array.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Type, Union

import numpy as np

from .errors import ConfigError, DataError, GdtrainError


CONFIG, METRICS, MODEL, SUMMARY, CHECKPOINT = "config.yaml", "metrics.csv", "model.npz", "summary.json", "checkpoint.npz"
RUN_FILES = (METRICS, MODEL, SUMMARY, CHECKPOINT, CONFIG)
LOCK = ".lock"

try:
    import fcntl
except ImportError:  # (not on Windows: the pid in the lock file is all there is)
    fcntl = None


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells it (/proc/self/status); elsewhere
    os.umask is set and put back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _special_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def refuse_special_file(path: Union[str, Path], name: Optional[str] = None,
                        error: Type[GdtrainError] = DataError) -> None:
    """``error("NAME: not a regular file (a FIFO)")`` when ``path`` (followed through symlinks) exists and is
    neither a regular file nor a folder: reading a FIFO would wait forever, a device never ends. A missing
    file or a folder is left to the caller, whose own message says what was expected."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise error(f"{name or path}: not a regular file ({_special_kind(mode)}); give a regular file")


def _write_directly(path: Path, data: bytes) -> None:
    """Write to an existing device, FIFO or socket as ``open(path, "w")`` would: no temp file, no rename."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()


def atomic_write(path: Union[str, Path], data: Union[str, bytes]) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half of one.

    A symlink is written through (its target replaced, the temp file in the target's folder); an existing
    device, FIFO or socket is written directly, never replaced; the file gets the mode ``open(path, "w")``
    would give it, or keeps the mode (and owner) of the file it replaces."""
    path = Path(path)
    data = data.encode("utf-8") if isinstance(data, str) else data
    try:
        existing = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        _write_directly(path, data)  # the path as given: /dev/stdout's link through /proc is opened as is
        return
    target = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if existing is not None:
                if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                    try:  # before the chmod, which a chown would undo the set-id bits of
                        os.fchown(f.fileno(), existing.st_uid, existing.st_gid)
                    except OSError:  # not allowed (not root): the file becomes ours
                        pass
                os.fchmod(f.fileno(), stat.S_IMODE(existing.st_mode))
            else:
                os.fchmod(f.fileno(), 0o666 & ~current_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def require_folder(path: Union[str, Path], name: Optional[str] = None,
                   error: Type[GdtrainError] = DataError) -> None:
    """``error("NAME: no such folder ...")`` unless the folder a file the user named would go in exists."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise error(f"{name or path}: no such folder {folder}")


def write_file(path: Union[str, Path], data: Union[str, bytes], name: Optional[str] = None,
               error: Type[GdtrainError] = DataError) -> None:
    """``atomic_write`` of a file the user named (--out, --png, init's PATH): a missing folder or a failed write is
    one ``error`` line naming it (``name``, as the user gave it, else the path)."""
    require_folder(path, name, error)
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise error(f"{name or path}: cannot write ({exc.strerror or exc})") from None


def save_npz(path: Union[str, Path], arrays: Dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


def save_model(path: Union[str, Path], tensors: Dict[str, np.ndarray], *, model: Dict, activations: List[str],
               loss: str, config_text: str, feature_names: List[str], target_names: List[str],
               classes: Optional[np.ndarray] = None, x_mean: Optional[np.ndarray] = None,
               x_scale: Optional[np.ndarray] = None, target_scaling=None) -> None:
    """Write model.npz (the format in the module docstring); ``tensors``: every layer's arrays by name."""
    arrays: Dict[str, np.ndarray] = dict(tensors)
    arrays["activations"] = np.array(activations)
    arrays["model"] = np.array(json.dumps(model))
    arrays["loss"] = np.array(loss)
    arrays["feature_names"] = np.array(feature_names)
    arrays["target_names"] = np.array(target_names)
    arrays["config"] = np.array(config_text)
    if classes is not None:
        arrays["classes"] = classes
    if x_mean is not None:
        arrays["x_mean"], arrays["x_scale"] = x_mean, x_scale
    if target_scaling is not None:
        arrays["y_mean"], arrays["y_scale"] = target_scaling.mean, target_scaling.scale
    save_npz(path, arrays)


METADATA = ("activations", "model", "loss", "feature_names", "target_names", "config", "classes", "x_mean", "x_scale",
            "y_mean", "y_scale")


@dataclass
class ModelFile:
    """model.npz as read: the tensors by name, the ``model`` section (None in a Dense-only file written before
    it existed), and the other arrays as stored."""

    tensors: Dict[str, np.ndarray]
    model: Optional[Dict]
    arrays: Dict[str, np.ndarray]


def read_model(path: Union[str, Path]) -> ModelFile:
    """Read model.npz; a DataError for a file that is not a readable gdtrain model."""
    path = Path(path)
    refuse_special_file(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as exc:  # a truncated or foreign file
        raise DataError(f"{path}: not a readable model ({exc.__class__.__name__}: {exc})") from None
    if set(arrays) == {"xy"}:  # problem_model.py's point
        raise DataError(f"{path}: holds the point of a problem: run (a 2-D test function), not a network; "
                        "there is nothing to evaluate or predict (summary.json says where it ended)")
    for key in ("loss", "W1", "b1"):
        if key not in arrays:
            raise DataError(f"{path}: no '{key}' array; not a gdtrain model (found: {', '.join(sorted(arrays))})")
    if "model" not in arrays and "activations" not in arrays:
        raise DataError(f"{path}: no 'model' array; not a gdtrain model (found: {', '.join(sorted(arrays))})")
    model = None
    if "model" in arrays:
        if arrays["model"].ndim != 0 or arrays["model"].dtype.kind != "U":
            raise DataError(f"{path}: inconsistent model: 'model' must be one JSON string (the model section), got "
                            f"an array of shape {tuple(arrays['model'].shape)} and dtype {arrays['model'].dtype}")
        try:
            model = json.loads(str(arrays["model"]))
        except ValueError as exc:
            raise DataError(f"{path}: inconsistent model: 'model' is not the JSON of a model section ({exc})") from None
    tensors = {name: value for name, value in arrays.items() if name not in METADATA}
    return ModelFile(tensors, model, arrays)


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.floating, np.integer)):
        return _json_value(value.item())
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def save_json(path: Union[str, Path], data) -> None:
    atomic_write(path, json.dumps(_json_value(data), indent=2) + "\n")


def _holds_a_run(path: Path) -> bool:
    """Whether a folder holds anything besides a lock file."""
    return path.is_dir() and any(p.name != LOCK for p in path.iterdir())


def _check_out(path: Path, overwrite: bool) -> None:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output: {path} exists and is not a directory")
    if _holds_a_run(path) and not overwrite:
        raise ConfigError(f"output: {path} already holds a run; choose another --out or pass --overwrite")


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, no permission, a read-only disk
        raise ConfigError(f"output: {path}: cannot create the run directory ({exc.strerror or exc})") from None


def prepare(out: Optional[str], default: str, overwrite: bool = False) -> Path:
    """The run directory to use, created.

    An explicit ``out`` that exists and is not empty is refused unless ``overwrite``; the default
    (runs/<config name>) never overwrites: it moves on to runs/<name>-2, -3, ...
    (``claim`` does the same and locks the directory for the caller, as ``fit`` does.)
    """
    if out is not None:
        path = Path(out)
        _check_out(path, overwrite)
    else:
        path = Path(default)
        suffix = 1
        while _holds_a_run(path):
            suffix += 1
            path = Path(f"{default}-{suffix}")
    _mkdir(path)
    if overwrite:
        _remove_run_files(path)
    return path


def _remove_run_files(path: Path) -> None:
    """--overwrite: the earlier run's files go (other files in the folder stay)."""
    for name in RUN_FILES:
        (path / name).unlink(missing_ok=True)


def remove_leftovers(path: Path) -> List[str]:
    """Remove the temp files an interrupted atomic write of a run file left in ``path`` (kill -9 between
    mkstemp and the rename): ``.<run file>.XXXX``. Returns their names."""
    removed = []
    for entry in path.iterdir():
        if any(entry.name.startswith(f".{name}.") for name in RUN_FILES) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return sorted(removed)


def _protect(path: Path, source: Optional[Path]) -> None:
    """--overwrite deletes the run files; refuse when the config being run is one of them."""
    if source is None or not source.exists():
        return
    for name in RUN_FILES:
        target = path / name
        try:
            same = target.exists() and os.path.samefile(target, source)
        except OSError:
            same = False
        if same:
            raise ConfigError(f"output: --overwrite would delete {target}, the config this run was started from; "
                              f"copy it out of {path} first, or choose another --out")


def claim(out: Optional[str], default: str, overwrite: bool = False, source: Optional[Path] = None,
          notice=None) -> "tuple[Path, RunLock]":
    """``prepare``, and the directory locked (``RunLock``) for the caller, who releases it when the run ends.

    The emptiness check is made again once the lock is held, so two runs started together into one directory
    cannot both pass it; a directory locked by a live process is refused ("X is in use by pid N"), by default
    moving on to the next runs/<name>-N. ``source``: the config file being run, which --overwrite must not
    delete. ``overwrite`` also removes an earlier run's leftover temp files."""
    if out is not None:
        path = Path(out)
        _check_out(path, overwrite)
        if overwrite:
            _protect(path, source)
        _mkdir(path)
        held = lock(path, "output", notice)
        try:
            _check_out(path, overwrite)  # again, now that no one else can be writing here
        except BaseException:
            held.release()
            raise
    else:
        suffix = 1
        while True:
            path = Path(default if suffix == 1 else f"{default}-{suffix}")
            suffix += 1
            if _holds_a_run(path) or (path.exists() and not path.is_dir()):
                continue
            _mkdir(path)
            try:
                held = lock(path, "output", notice)
            except RunDirInUse:
                continue
            if _holds_a_run(path):
                held.release()
                continue
            break
    if overwrite:
        _remove_run_files(path)
        remove_leftovers(path)
    return path, held


class RunDirInUse(ConfigError):
    """The run directory is locked by another live process."""


class RunLock:
    """An exclusive lock on a run directory: DIR/.lock, holding the owner's pid and flock-ed while held.
    ``release()`` (idempotent) removes it. The kernel drops the flock when the process dies, however it dies,
    so a lock file left by kill -9 is recognized as stale and taken over."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self.fd)  # (closing drops the flock)
        self.fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> Optional[int]:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (EPERM: it exists, as another user's)
        return True
    return True


def _default_notice(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def lock(folder: Union[str, Path], what: str = "output", notice=None) -> RunLock:
    """Lock the run directory ``folder`` (which exists) for this process; see ``RunLock``. A ConfigError
    ``RunDirInUse`` ("WHAT: X is in use by pid N") when a live process holds it."""
    folder = Path(folder)
    path = folder / LOCK
    notice = notice or _default_notice
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"{what}: {folder}: cannot create its lock file {LOCK} ({exc.strerror or exc})") from None
        owner = _read_pid(fd)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            elif owner is not None and owner != os.getpid() and _alive(owner):
                raise BlockingIOError
        except BlockingIOError:
            owner = _read_pid(fd)
            os.close(fd)
            raise RunDirInUse(f"{what}: {folder} is in use by pid {owner if owner is not None else '(unknown)'} "
                              "(another gdtrain run); wait for it to end, or choose another directory") from None
        except OSError:  # a file system without flock: the pid check alone
            if owner is not None and owner != os.getpid() and _alive(owner):
                os.close(fd)
                raise RunDirInUse(f"{what}: {folder} is in use by pid {owner} (another gdtrain run); wait for it "
                                  "to end, or choose another directory") from None
        try:  # the holder may have released (and removed) the file between our open and flock
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:
            same = False
        if not same:
            os.close(fd)
            continue
        owner = _read_pid(fd)
        if owner is not None and owner != os.getpid():
            why = "which is no longer running" if not _alive(owner) else "which no longer holds it"
            notice(f"{folder}: taking over the stale lock {LOCK} left by pid {owner}, {why}")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return RunLock(path, fd)


def _complete_row(row: List[str], columns: List[str]) -> bool:
    """A row as ``MetricsWriter`` writes it: every column, the epoch a number, every other value a number (or
    empty, for a metric with no value)."""
    if len(row) != len(columns) or not row[0].isdigit():
        return False
    for value in row[1:]:
        if value:
            try:
                float(value)
            except ValueError:
                return False
    return True


def truncate_metrics(path: Union[str, Path], epoch: int, columns: List[str]) -> None:
    """Keep metrics.csv's rows up to ``epoch`` (a resumed run appends from there; a row written after the last
    checkpoint, or half-written by a crash, is dropped: a last line without its newline is half a row, even
    when it has all the columns). Rewritten atomically."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    complete = text if text.endswith("\n") else text[:text.rfind("\n") + 1]  # a half-written last line is dropped
    rows = list(csv.reader(io.StringIO(complete, newline="")))
    if not rows:  # killed before or while the header was written (or it lacks only its newline)
        header = ",".join(columns)
        rows = [columns] if header.startswith(text.rstrip("\r\n")) else list(csv.reader(io.StringIO(text, newline="")))
    if not rows or rows[0] != columns:
        raise ConfigError(f"--resume: {path} does not have the columns this run writes; was it made by another config?")
    kept = [row for row in rows[1:] if _complete_row(row, columns) and int(row[0]) <= epoch]
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(kept)
    atomic_write(path, out.getvalue())


class MetricsWriter:
    """Appends one row per epoch to metrics.csv, each row in one write(2) of the whole line, so a crash loses at
    most the current epoch and never leaves half a row behind a complete one (a kill -9 inside that write can
    still cut the last line, which ``truncate_metrics`` drops on --resume).

    With ``every`` = k > 1 (``logging.metrics_every``) only the rows of epochs k, 2k, ... are written as they
    come, and the run's last epoch when it is closed (however the run ended). The header is written when the
    file is opened, so even a run that completes no epoch has one.
    """

    def __init__(self, path: Union[str, Path], columns: List[str], every: int = 1):
        self.path = Path(path)
        self.every = every
        self.columns = list(columns)
        self._pending: Optional[Dict[str, float]] = None  # the last epoch's row, not written yet
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._fd: Optional[int] = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if new:
            self._line(self.columns)

    def _line(self, values: List) -> None:
        buffer = io.StringIO(newline="")
        csv.writer(buffer).writerow(values)
        data = buffer.getvalue().encode("utf-8")
        while data:  # (one write for a regular file; the loop only for a short write)
            data = data[os.write(self._fd, data):]

    def write(self, row: Dict[str, float]) -> None:
        """The row of one epoch (its "epoch" entry says which)."""
        self._pending = row
        if row["epoch"] % self.every == 0:
            self._write_pending()

    def _write_pending(self) -> None:
        row = self._pending
        self._line([(f"{v:.10g}" if isinstance(v, float) else v) if (v := row.get(c, "")) is not None else ""
                    for c in self.columns])
        self._pending = None

    def close(self) -> None:
        if self._fd is not None:
            try:
                if self._pending is not None:
                    self._write_pending()
            finally:
                os.close(self._fd)
                self._fd = None
