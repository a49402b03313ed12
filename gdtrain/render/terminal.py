"""The terminal itself (rich): the console every command prints on, numbers as text, text charts in colour.

On a terminal: colour, and a progress bar under the epoch lines. When piped, with ``CI`` set or ``NO_COLOR`` set:
plain text lines, no colour codes, no cursor movement, 200 columns. A stream that cannot encode Unicode
(PYTHONIOENCODING=cp1252, a Windows console, LANG=C) gets ASCII spellings of the symbols ('→' as '->', '‖' as
'||'); a reader that goes away (``| head``) stops the printing, not the command.
"""

from __future__ import annotations

import codecs
import math
import os
import sys
import unicodedata
from typing import Callable, List, Optional

from rich import box
from rich.console import Console
from rich.text import Text


# --- a terminal that cannot show Unicode (PYTHONIOENCODING=cp1252, a Windows console, LANG=C) ---------------------

ASCII_SYMBOLS = {
    "−": "-", "–": "-", "—": "--", "→": "->", "←": "<-", "↦": "|->", "⟺": "<=>", "‖": "||", "∂": "d", "∇": "grad ",
    "θ": "theta", "η": "eta", "φ": "phi", "ε": "eps", "β": "beta", "σ": "sigma", "μ": "mu", "µ": "mu", "γ": "gamma",
    "λ": "lambda", "δ": "delta", "Δ": "Delta", "α": "alpha", "ψ": "psi", "π": "pi", "ρ": "rho", "Σ": "sum ",
    "ℓ": "l", "²": "^2", "₀": "0", "₁": "1", "₂": "2", "ⱼ": "j", "ᵢ": "i", "ᵀ": "^T", "ᵗ": "^t", "ᵏ": "^k",
    "·": "*", "×": "x", "⊙": "*", "√": "sqrt", "±": "+-", "∓": "-+", "≤": "<=", "≥": ">=", "≈": "~", "≠": "!=",
    "∈": " in ", "∞": "inf", "…": "...", "★": "*", "§": "S", "⌊": "floor(", "⌋": ")", "ŷ": "y_hat", "ȳ": "y_bar",
    "ḡ": "g_bar", "\u0302": "^", "─": "-", "│": "|", "┤": "|", "┬": "+", "└": "+",
}
ASCII_ERRORS = "gdtrain-ascii"
PROBE = "‖∂→"  # symbols every report uses


def ascii_replace(exc: UnicodeError):
    """The codec error handler: each character the stream cannot encode becomes its ASCII spelling (else '?')."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start:exc.end]:
        if ch in ASCII_SYMBOLS:
            out.append(ASCII_SYMBOLS[ch])
        else:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
            out.append(base or "?")
    return "".join(out), exc.end


def can_encode_unicode(stream=None) -> bool:
    """Whether ``stream`` (stdout) can encode the symbols gdtrain prints."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "utf-8"
    try:
        PROBE.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def ascii_fallback() -> None:
    """When stdout or stderr cannot encode the symbols gdtrain prints, switch it to ASCII spellings of them
    ('→' as '->', '‖' as '||', others as their base letter or '?') instead of a UnicodeEncodeError."""
    try:
        codecs.lookup_error(ASCII_ERRORS)
    except LookupError:
        codecs.register_error(ASCII_ERRORS, ascii_replace)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if not encoding or not hasattr(stream, "reconfigure"):
            continue
        try:
            PROBE.encode(encoding)
        except UnicodeEncodeError:
            try:
                stream.reconfigure(errors=ASCII_ERRORS)
            except (ValueError, OSError, TypeError):  # a closed or exotic stream: leave it
                pass
        except LookupError:
            pass


# --- the console: plain when piped, safe when the reader goes away ------------------------------------------------

def plain_output() -> bool:
    return (not sys.stdout.isatty()) or bool(os.environ.get("CI")) or "NO_COLOR" in os.environ


def discard_output(stream) -> None:
    """Point the file descriptor under ``stream`` at /dev/null (what Python's docs advise once a pipe is closed):
    later writes, and the flush at exit, then succeed instead of failing again. A stream without a descriptor
    (a test's StringIO) is left as it is."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class PipeSafeConsole(Console):
    """A Console whose reader may go away (``gdtrain fit ... | head -3``, quitting ``less``): rich's default is
    to exit (SystemExit(1), silently, killing the run); this one stops printing (its output goes to /dev/null),
    remembers it (``closed``) and calls ``on_closed`` once, and the command carries on."""

    closed = False
    on_closed: Optional[Callable[[], None]] = None

    def on_broken_pipe(self) -> None:
        self.quiet = True  # rich then drops what it buffered, and everything printed from now on
        first, self.closed = not self.closed, True
        discard_output(self.file)
        if first and self.on_closed is not None:
            self.on_closed()


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def make_console(stderr: bool = False) -> Console:
    """Plain output (piped, CI, NO_COLOR) is 200 columns wide when it goes to a file or a pipe, the terminal's
    width when it goes to a terminal (NO_COLOR there: plain text that still fits)."""
    ascii_fallback()
    if plain_output():
        width = None if _is_tty(sys.stderr if stderr else sys.stdout) else 200
        return PipeSafeConsole(stderr=stderr, no_color=True, highlight=False, force_terminal=False, markup=False,
                               width=width, emoji=False, color_system=None)
    return PipeSafeConsole(stderr=stderr, highlight=False, markup=False)  # text is printed as is: "[W1 ...]" stays


def whole_lines(console: Console) -> bool:
    """Whether long messages stay on one line: yes into a file or a pipe (logs, grep), no on a terminal, which
    gets them wrapped at word boundaries to its width (rich's ``soft_wrap``)."""
    return not console.is_terminal


def table_box(console: Console):
    """A table's rules: rich's heavy head on a terminal, ASCII ('-', '|', '+') into a pipe or a file."""
    return box.HEAVY_HEAD if console.is_terminal else box.ASCII


# --- numbers ------------------------------------------------------------------------------------------------------

def fmt(value: Optional[float], digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{max(digits - 2, 1)}e}"
    return f"{value:.{digits}g}"


def fmt_stat(stat, digits: int = 4, sep: str = " ") -> str:
    """A mean over seeds (race.standings.Stat): '0.1234' or, over several seeds, '0.1234 ± 0.0056' (``sep`` "\\n":
    the spread on a line of its own)."""
    if stat.mean is None:
        return "-"
    return fmt(stat.mean, digits) + (f"{sep}± {fmt(stat.std, 2)}" if stat.std is not None else "")


# --- text charts (plot.Chart, landscape.path_map) -----------------------------------------------------------------

# box-drawing characters of the text charts (plot.py) and their ASCII stand-ins for output that is not a terminal
CHART_ASCII = str.maketrans({"┤": "+", "│": "|", "└": "+", "┬": "+", "─": "-"})
SERIES_STYLES = ("cyan", "magenta", "yellow", "green", "red", "blue", "bright_cyan", "bright_magenta")


def chart_width(console: Console) -> int:
    """Text charts: the terminal's width up to 100 columns; 80 when the output goes to a pipe or a file."""
    return max(24, min(console.width, 100)) if console.is_terminal else 80


def chart_text(chart, ascii_axes: bool = False) -> List[Text]:
    """A plot.Chart as rich Text lines, each series' markers in its own colour (plain on a non-TTY console);
    ``ascii_axes``: the axes drawn with '|', '+' and '-' instead of box-drawing characters."""
    texts = [Text(line.translate(CHART_ASCII) if ascii_axes else line) for line in chart.lines]
    for line, col, series in chart.marks:
        if line < len(texts) and col < len(texts[line].plain):
            texts[line].stylize(SERIES_STYLES[series % len(SERIES_STYLES)], col, col + 1)
    return texts


def plot_report(charts, console: Console, header: str = "") -> None:
    """Print text charts one under the other (plot.charts), a blank line between them."""
    if header:
        console.print(header, soft_wrap=True)
    for i, chart in enumerate(charts):
        if i or header:
            console.print()
        for text in chart_text(chart, ascii_axes=not console.is_terminal):
            console.print(text, soft_wrap=True, no_wrap=True, overflow="ignore")
