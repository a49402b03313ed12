"""Files the user names: nothing lost, nobody surprised (issue 14).

  1. writing goes where the user pointed: a symlink is written through (its target replaced, the link kept),
     an existing device, FIFO or socket is written directly and never replaced by a regular file;
  2. reading never hangs: a FIFO (or device, socket) named as a config, a data file, --data, a predict input,
     model.npz, checkpoint.npz, model.init_from or metrics.csv is one "not a regular file" line, exit 2
     (each case in a subprocess with a timeout, so a hang fails the test instead of hanging the suite);
  3. modes follow the umask: a new file gets 0o666 & ~umask (as open(path, "w") would), a rewritten one keeps
     its mode (--resume rewriting metrics.csv, an --out written over).
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gdtrain import rundir
from gdtrain.cli import app
from gdtrain.config import from_dict
from gdtrain.errors import ConfigError, DataError
from gdtrain.experiment import fit

ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
TIMEOUT = 60  # seconds a CLI call may take before it counts as hung
IRIS_ROW = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
RAW = {"seed": 0, "data": {"source": "iris"}, "loss": "cross_entropy",
       "model": {"hidden": [{"units": 4, "activation": "tanh"}]},
       "optimizer": {"name": "sgd", "lr": 0.1}, "training": {"mode": "batch", "epochs": 3}}


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


def gdtrain(*args, cwd=None):
    """``python -m gdtrain ARGS`` in a subprocess; a call that does not end within TIMEOUT fails the test."""
    env = dict(os.environ, **ENV)
    try:
        return subprocess.run([sys.executable, "-m", "gdtrain", *map(str, args)], capture_output=True, text=True,
                              timeout=TIMEOUT, env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gdtrain {' '.join(map(str, args))} hung (no end within {TIMEOUT} s)")


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(folder: Path):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def umask():
    """Set the umask for the test (restored after): ``umask(0o027)``."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A small finished iris run."""
    return fit(from_dict(RAW, name="iris"), out=str(tmp_path_factory.mktemp("runs") / "iris")).run_dir


@pytest.fixture
def short_tmp():
    """A folder with a short path (a Unix socket's path is limited to about 100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="gdt", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# --- 1. writing replaces only what it should --------------------------------------------------------

def test_a_symlink_is_written_through_to_its_target(tmp_path, monkeypatch):
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "real" / "out.csv"
    target.write_text("old\n")
    link = tmp_path / "links" / "out.csv"
    link.symlink_to(target)
    folders = []
    mkstemp = tempfile.mkstemp
    monkeypatch.setattr(tempfile, "mkstemp", lambda **kw: folders.append(Path(kw["dir"])) or mkstemp(**kw))
    rundir.write_file(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new\n" and stat.S_ISREG(os.lstat(target).st_mode)
    assert folders == [target.parent]  # the temp file sits next to the target, so the rename stays atomic
    assert leftovers(tmp_path / "real") == leftovers(tmp_path / "links") == []


def test_a_relative_and_a_dangling_symlink_are_written_through(tmp_path):
    (tmp_path / "a.csv").write_text("old\n")
    (tmp_path / "rel.csv").symlink_to("a.csv")
    rundir.write_file(tmp_path / "rel.csv", "new\n")
    assert (tmp_path / "rel.csv").is_symlink() and (tmp_path / "a.csv").read_text() == "new\n"
    (tmp_path / "dangling.csv").symlink_to(tmp_path / "not-yet.csv")
    rundir.write_file(tmp_path / "dangling.csv", "made\n")
    assert (tmp_path / "dangling.csv").is_symlink() and (tmp_path / "not-yet.csv").read_text() == "made\n"


def test_schema_init_and_predict_out_write_through_a_symlink(tmp_path, run_dir):
    for name, args in (("schema.json", ("schema", "--out")), ("starter.yaml", ("init", "--force")),
                       ("pred.csv", None)):
        target = tmp_path / f"real-{name}"
        target.write_text("old\n")
        link = tmp_path / name
        link.symlink_to(target)
        if args is None:
            (tmp_path / "in.csv").write_text(IRIS_ROW)
            result = cli("predict", run_dir, tmp_path / "in.csv", "--out", link)
        else:
            result = cli(*args, link)
        assert result.exit_code == 0, result.output
        assert link.is_symlink(), name
        assert target.read_text() != "old\n" and stat.S_ISREG(os.lstat(target).st_mode), name
    assert leftovers(tmp_path) == []


@pytest.fixture
def char_device(tmp_path):
    """A private character device: a node of /dev/null's kind (1, 3) made in tmp_path (root only), so that a
    write that replaced it could not harm the real /dev/null."""
    path = tmp_path / "null"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("making a device node needs root")
    return path


def test_a_device_is_written_directly_and_stays_a_device(char_device):
    rundir.write_file(char_device, "a,b\n1,2\n")
    assert stat.S_ISCHR(os.lstat(char_device).st_mode)
    assert leftovers(char_device.parent) == []
    result = cli("schema", "--out", char_device)
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(char_device).st_mode)


def test_dev_null_stays_a_character_device(run_dir, tmp_path):
    rundir.write_file("/dev/null", "x\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    (tmp_path / "in.csv").write_text(IRIS_ROW)
    result = cli("predict", run_dir, tmp_path / "in.csv", "--out", "/dev/null")
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_fifo_is_written_to_its_reader_and_stays_a_fifo(tmp_path):
    """A FIFO as --out works as with a shell redirection: the write waits for a reader, which gets the data."""
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        rundir.write_file(fifo, "a,b\n1,2\n")
        out, _ = reader.communicate(timeout=TIMEOUT)
    finally:
        reader.kill()
        reader.wait()
    assert out == b"a,b\n1,2\n"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path) == []


def test_a_socket_is_never_replaced_and_the_failure_is_one_line(short_tmp):
    path = short_tmp / "s"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        with pytest.raises(DataError) as info:
            rundir.write_file(path, "x\n")
        assert str(info.value).startswith(f"{path}: cannot write (") and "\n" not in str(info.value)
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        server.close()


def test_a_folder_is_refused_not_replaced(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(ConfigError, match=r"dir: cannot write \(Is a directory\)"):
        rundir.write_file(tmp_path / "dir", "x\n", error=ConfigError)
    assert (tmp_path / "dir").is_dir()


# --- 2. reading a FIFO (or device) never hangs ------------------------------------------------------

def assert_refused(result, name):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a regular file (a FIFO)" in lines[0] and name in lines[0], result.stderr


def copy_run(run_dir, folder: Path, fifo: str) -> Path:
    """A copy of the run directory with its file ``fifo`` replaced by a FIFO."""
    copy = folder / "run"
    shutil.copytree(run_dir, copy)
    (copy / fifo).unlink()
    os.mkfifo(copy / fifo)
    return copy


def write_config(path: Path, **changes) -> Path:
    raw = yaml.safe_load(yaml.safe_dump(RAW))
    for key, value in changes.items():
        section, _, name = key.partition(".")
        raw.setdefault(section, {})[name] = value
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_fifo_config_is_refused(tmp_path):
    os.mkfifo(tmp_path / "fifo.yaml")
    assert_refused(gdtrain("fit", tmp_path / "fifo.yaml", "--out", tmp_path / "run"), "fifo.yaml")
    assert_refused(gdtrain("validate", tmp_path / "fifo.yaml"), "fifo.yaml")


@pytest.mark.parametrize("name", ["fifo.csv", "fifo.npz", "fifo-images-idx3-ubyte"])
def test_a_fifo_data_source_is_refused(tmp_path, name):
    os.mkfifo(tmp_path / name)
    config = write_config(tmp_path / "c.yaml", **{"data.source": str(tmp_path / name)})
    assert_refused(gdtrain("fit", config, "--out", tmp_path / "run"), name)


def test_a_fifo_init_from_is_refused(tmp_path):
    os.mkfifo(tmp_path / "w.npz")
    config = write_config(tmp_path / "c.yaml", **{"model.init_from": str(tmp_path / "w.npz")})
    assert_refused(gdtrain("fit", config, "--out", tmp_path / "run"), "w.npz")


@pytest.mark.parametrize("name", ["fifo.csv", "fifo.npz"])
def test_a_fifo_predict_input_or_evaluate_data_is_refused(tmp_path, run_dir, name):
    os.mkfifo(tmp_path / name)
    assert_refused(gdtrain("predict", run_dir, tmp_path / name), name)
    assert_refused(gdtrain("evaluate", run_dir, "--data", tmp_path / name), name)


def test_a_fifo_model_npz_is_refused(tmp_path, run_dir):
    run = copy_run(run_dir, tmp_path, "model.npz")
    (tmp_path / "in.csv").write_text(IRIS_ROW)
    assert_refused(gdtrain("predict", run, tmp_path / "in.csv"), "model.npz")
    assert_refused(gdtrain("evaluate", run), "model.npz")


def test_a_fifo_checkpoint_is_refused(tmp_path, run_dir):
    run = copy_run(run_dir, tmp_path, "checkpoint.npz")
    config = write_config(tmp_path / "c.yaml")
    assert_refused(gdtrain("fit", config, "--resume", run), "checkpoint.npz")


def test_a_fifo_metrics_csv_is_refused(tmp_path, run_dir):
    run = copy_run(run_dir, tmp_path, "metrics.csv")
    assert_refused(gdtrain("plot", run), "metrics.csv")


def test_a_device_as_input_is_refused_in_process(tmp_path):
    with pytest.raises(DataError, match=r"^/dev/null: not a regular file \(a character device\)"):
        rundir.refuse_special_file("/dev/null")
    rundir.refuse_special_file(tmp_path / "missing.csv")  # left to the caller's own message
    rundir.refuse_special_file(tmp_path)


# --- 3. modes follow the umask; a rewrite keeps the mode -----------------------------------------------

def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path, umask):
    for mask in (0o027, 0o002, 0o077):
        umask(mask)
        rundir.write_file(tmp_path / f"new-{mask:o}.csv", "x\n")
        with open(tmp_path / f"plain-{mask:o}.csv", "w"):
            pass
        assert mode_of(tmp_path / f"new-{mask:o}.csv") == mode_of(tmp_path / f"plain-{mask:o}.csv") == 0o666 & ~mask
    assert rundir.current_umask() == 0o077


def test_the_umask_is_read_without_proc_too(umask, monkeypatch):
    def no_proc(*args, **kwargs):
        raise OSError("no /proc")
    monkeypatch.setattr(rundir, "open", no_proc, raising=False)
    umask(0o037)
    assert rundir.current_umask() == 0o037
    assert os.umask(0o037) == 0o037  # and it is left as it was


def test_every_run_file_follows_the_umask(tmp_path, umask):
    umask(0o027)
    run = fit(from_dict(RAW, name="iris"), out=str(tmp_path / "run")).run_dir
    modes = {name: mode_of(run / name) for name in rundir.RUN_FILES}
    assert modes == dict.fromkeys(rundir.RUN_FILES, 0o640)


def test_a_rewritten_file_keeps_its_mode(tmp_path, umask, run_dir):
    umask(0o022)
    path = tmp_path / "pred.csv"
    path.write_text("old\n")
    os.chmod(path, 0o604)
    rundir.write_file(path, "new\n")
    assert mode_of(path) == 0o604 and path.read_text() == "new\n"
    os.chmod(path, 0o640)
    (tmp_path / "in.csv").write_text(IRIS_ROW)
    result = cli("predict", run_dir, tmp_path / "in.csv", "--out", path)
    assert result.exit_code == 0, result.output
    assert mode_of(path) == 0o640


def test_resume_keeps_metrics_csvs_mode(tmp_path, umask):
    umask(0o022)
    epochs = []
    stopped = fit(from_dict(RAW, name="iris"), out=str(tmp_path / "run"), on_epoch=lambda r: epochs.append(r.epoch),
                  stop_requested=lambda: len(epochs) >= 1)
    assert stopped.summary["stop_reason"] == "interrupted"
    run = stopped.run_dir
    assert mode_of(run / rundir.METRICS) == 0o644  # appended by a plain open
    for name in rundir.RUN_FILES:
        os.chmod(run / name, 0o640)
    resumed = fit(from_dict(RAW, name="iris"), resume=str(run))
    assert resumed.summary["stop_reason"] == "completed" and resumed.summary["resumed_from_epoch"] == 1
    assert {name: mode_of(run / name) for name in rundir.RUN_FILES} == dict.fromkeys(rundir.RUN_FILES, 0o640)
