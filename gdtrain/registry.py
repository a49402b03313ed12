"""Tables that map names to implementations, with errors that list the valid names.

Every component family (activations, losses, initializers, optimizers, schedules, datasets) keeps one
``Registry``. The config validator, the CLI's listings and the code all read the same table, so they
cannot drift apart.

What an entry tells about itself is fields of its record (a dataclass, or the class attributes of an
optimizer or schedule), with the same names in every family; catalog.py reads them for `gdtrain list` and
`explain`, schema.py for the descriptions, and no code reads a docstring (those are for people):

    formula     the rule in one line: the update rule, η_t, L and δ, φ and φ', f, the distribution
    summary     one line where the formula is not enough (an optimizer's; a layer type's; a dataset's
                ``description``)
    rule        the rule in full, with its variants and caveats, as `gdtrain explain NAME` prints it under
                "from gdtrain/<module>.py"
    equivalent  the PyTorch (or Keras) counterpart, dotted: torch.optim.Adam, torch.nn.functional.mse_loss
    context     further paragraphs `explain` prints after the rule (module constants that several entries share)
    references  where it comes from: keys of ideas.REFERENCES
"""

from __future__ import annotations

import difflib
from typing import Dict, Generic, Iterator, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def _text(name) -> str:
    try:
        return str(name)
    except ValueError:  # an integer beyond str()'s 4300 digits
        return f"an integer of {name.bit_length()} bits"


def nearest(name: str, candidates) -> str | None:
    """The candidate closest to a misspelt ``name`` (or None when nothing is close), ignoring case: 'ReLU' is
    'relu', 'LeakyReLU' is 'leaky_relu' (difflib's ratio on the lower-cased names, the first of equals)."""
    candidates = [str(c) for c in candidates]
    by_lower = {}
    for c in candidates:
        by_lower.setdefault(c.casefold(), c)
    text = _text(name).casefold()
    if text in by_lower:
        return by_lower[text]
    matches = difflib.get_close_matches(text, list(by_lower), n=1, cutoff=0.5)
    return by_lower[matches[0]] if matches else None


def shown(name, limit: int = 60) -> str:
    """A name from the user as a one-line message shows it: control characters escaped, long ones cut short."""
    if name is None or isinstance(name, bool):  # as YAML writes them
        return "null" if name is None else str(name).lower()
    text = _text(name)
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    if not text or text != text.strip():  # '' or ' seed': quoted, so the blank shows
        text = repr(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def quoted(name) -> str:
    """``shown(name)`` in quotes (once)."""
    text = shown(name)
    return text if text[:1] in ("'", '"') else f"'{text}'"


def unknown_name_message(kind: str, name, candidates) -> str:
    """``unknown optimizer 'adma'; did you mean 'adam'? (valid: adam, sgd)``."""
    candidates = sorted(candidates)
    guess = nearest(name, candidates)
    hint = f"; did you mean '{guess}'?" if guess else ""
    case = "names are lower case; " if guess and guess.casefold() == _text(name).casefold() and guess.islower() else ""
    return f"unknown {kind} {quoted(name)}{hint} ({case}valid: {', '.join(candidates)})"


class Registry(Generic[T]):
    """An ordered name -> implementation table for one kind of component."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' registered twice")
        self._items[name] = item
        return item

    def get(self, name: str, key_path: str | None = None) -> T:
        """The item called ``name``; a ConfigError naming ``key_path`` and the valid names otherwise."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            message = unknown_name_message(self.kind, name, self._items)
            raise ConfigError(f"{key_path}: {message}" if key_path else message) from None

    def __contains__(self, name) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def names(self) -> list[str]:
        return list(self._items)

    def items(self):
        return self._items.items()
