"""What every ``gdtrain`` command shares: the Typer ``app`` they are registered on (its help, ``--debug``,
``--version``), the guard that turns gdtrain's errors into one line and an exit code, reading a config, and the
arguments and options several commands take (a config, ``--set``, ``--threads``, a run directory)."""

from __future__ import annotations

import errno
import functools
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .. import __version__
from ..errors import GdtrainError

# lazy: start-up (`gdtrain --help` imports neither NumPy nor rich): the library and gdtrain.render are imported
# inside the functions that use them, here and in every command module

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Train neural networks with hand-written NumPy backpropagation and gradient descent, from one YAML file.\n\n"
         "\b\nExamples:\n"
         "  gdtrain init && gdtrain fit gdtrain.yaml     write a starter config, train it\n"
         "  gdtrain fit quickstart                       a shipped config, by name\n"
         "  gdtrain list optimizers                      what a config can name, with defaults\n"
         "  gdtrain explain adam                         an update rule, its options, a config that shows it\n"
         "  gdtrain COMMAND --help                       each command's options and examples\n"
         "  gdtrain --install-completion                 tab completion (bash, zsh, fish, PowerShell)",
)
_state = {"debug": False}


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"gdtrain {__version__}")
        raise typer.Exit()


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for internal errors.")] = False,
          version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                                help="Print gdtrain's version and exit.")] = False):
    _state["debug"] = debug
    from ..render.terminal import ascii_fallback

    ascii_fallback()  # a stdout/stderr that cannot encode Unicode gets ASCII spellings, not a UnicodeEncodeError


def fail(message: str, code: int) -> None:
    """The one line ``error: MESSAGE`` on stderr, and exit ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def guarded(command):
    """Turn gdtrain's errors into one line + exit code; never a traceback unless --debug."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except GdtrainError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except typer.Exit:
            raise
        except BrokenPipeError:  # the reader of stdout went away (`| head`): stop quietly, as Unix tools do
            from ..render.terminal import discard_output

            discard_output(sys.stdout)
            raise typer.Exit(141)
        except OSError as exc:  # a failed read or write: the file and the OS's reason, never "internal error"
            fail(os_error_message(exc), 2 if exc.errno in USAGE_ERRNOS else 1)
        except Exception as exc:  # a bug: one line, the traceback on request
            if _state["debug"]:
                raise
            fail(f"internal error: {exc.__class__.__name__}: {exc} (run with --debug for the traceback)", 1)

    return wrapper


# a write refused because of what was asked (a name too long, a read-only or forbidden folder): bad usage, exit 2;
# anything else (a full disk, a run directory deleted mid-run, an I/O error) fails the run: exit 1
USAGE_ERRNOS = {errno.ENAMETOOLONG, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR}


def os_error_message(exc: OSError) -> str:
    """'runs/x: No space left on device (ENOSPC); what was saved before is kept'."""
    name = errno.errorcode.get(exc.errno, "")
    reason = f"{exc.strerror or exc}" + (f" ({name})" if name else "")
    if exc.errno == errno.ENOENT and exc.filename and not Path(exc.filename).parent.exists():
        return f"{Path(exc.filename).parent}: {reason}; the folder was removed while gdtrain was writing in it"
    where = f"{exc.filename}: " if exc.filename else ""
    kept = "" if exc.errno in USAGE_ERRNOS else "; what was saved before is kept"
    return f"{where}{reason}{kept}" if where else f"a read or write failed: {reason}{kept}"


def need_matplotlib_for(png: Optional[str]) -> None:
    """--png: a clear error now, before any work, when matplotlib is not installed."""
    if png is not None:
        from ..plot import require_matplotlib

        try:
            require_matplotlib()
        except ImportError:
            fail("--png needs matplotlib (pip install matplotlib)", 2)


def read_config(config: str, overrides=None, assignments=None):
    """A config path as given, else a config shipped with gdtrain (``gdtrain fit quickstart``), loaded and checked,
    with the command's ``overrides`` (its options) and ``assignments`` (--set)."""
    from ..config import load_config
    from ..resources import find_config

    return load_config(find_config(config), overrides=overrides, assignments=assignments)


ConfigArg = Annotated[str, typer.Argument(help="YAML config file (or the name of a shipped one, e.g. quickstart).",
                                          show_default=False)]
SetOpt = Annotated[Optional[List[str]], typer.Option("--set", help="Override a key: --set optimizer.lr=0.05 (repeatable).")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, help="BLAS threads (overrides training.threads; "
                                                                         "default auto: 1 for small products).")]


RunDirArg = Annotated[str, typer.Argument(metavar="RUN_DIR", help="A run directory (holding model.npz), e.g. runs/iris.",
                                           show_default=False)]
