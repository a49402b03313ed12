"""CSV data files: a header row naming the columns, then one row per sample (blank rows are skipped).

``data.target`` names the target column(s), by default the last one; every other column is a feature and must
hold numbers (Python's float() is the judge) that are finite. A message names the file line and the column.
``read_csv_cells`` (the header and the cells, nothing chosen yet) is what ``gdtrain predict`` shares: it picks the
model's feature columns by name.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from ..errors import DataError
from ..options import describe
from .table import Table, check_finite, read_bytes


def read_csv_cells(path: Path, text: Optional[str] = None) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """(header, cells, lines) of a CSV with a header row: the stripped column names, the non-blank data rows as
    a 2-D array of strings, and the file line each row ends on (the header is line 1). Every row must have as
    many fields as the header, and the header must not repeat a name."""
    if text is None:
        try:
            text = read_bytes(path).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=None))  # \n, \r\n and a lone \r all end a line
    rows, lines = [], []
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise DataError(f"{path}: the file is empty; expected a header row and data rows")
    header = [h.strip() for h in rows[0]]
    body, lines = rows[1:], np.array(lines[1:])
    if len(header) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if sep in header[0]:
                raise DataError(f"{path}: the header is one column {describe(header[0], 60)}; its fields are "
                                f"separated by {name}, expected commas")
    empty = [i for i, h in enumerate(header) if not h]
    if empty:
        raise DataError(f"{path}: column {empty[0] + 1} of the header has no name; every column needs one")
    unprintable = [i for i, h in enumerate(header) if not h.isprintable()]
    if unprintable:
        raise DataError(f"{path}: column {unprintable[0] + 1} of the header, {describe(header[unprintable[0]], 40)}, "
                        "holds a line break or control character; a column name is one line of text")
    if not body:
        raise DataError(f"{path}: has a header but no data rows")
    for line, row in zip(lines, body):
        if len(row) != len(header):
            raise DataError(f"{path}: row {line} has {len(row)} fields, the header has {len(header)}")
    if len(set(header)) != len(header):
        twice = next(h for i, h in enumerate(header) if h in header[:i])
        raise DataError(f"{path}: the header repeats a column name ('{twice}')")
    return header, np.array(body, dtype=str), lines


def read_csv(path: Path, target=None, text: Optional[str] = None) -> Table:
    """A CSV with a header row; ``target`` names the target column(s), default the last one."""
    header, cells, lines = read_csv_cells(path, text)
    width = len(header)
    targets = [target] if isinstance(target, str) else list(target or [header[-1]])
    for name in targets:
        if name not in header:
            raise DataError(f"{path}: no target column '{name}' (columns: {', '.join(header)})")
    t_idx = [header.index(name) for name in targets]
    f_idx = [i for i in range(width) if i not in t_idx]
    if not f_idx:
        raise DataError(f"{path}: no feature columns besides the target")
    try:
        X = to_float(cells[:, f_idx], path, [header[i] for i in f_idx], lines)
    except DataError as exc:
        raise DataError(f"{exc}{_target_hint(cells, f_idx, header, target)}") from None
    y_cells = np.char.strip(cells[:, t_idx])
    blank = np.argwhere(y_cells == "")
    if len(blank):
        i, j = blank[0]
        raise DataError(f"{path}: row {lines[i]}, column '{targets[j]}': the target is empty; every row needs one")
    return Table(X, y_cells[:, 0] if len(t_idx) == 1 else y_cells, [header[i] for i in f_idx], targets, str(path),
                 named_columns=True, lines=lines)


def _target_hint(cells: np.ndarray, f_idx: List[int], header: List[str], target) -> str:
    """'; if 'fruit' holds what to predict, set data.target: fruit ...' when exactly one feature column is not
    numbers, and no row of it is (not a typo in a column of numbers): most likely the labels, read as a feature
    because the target is another column (by default the last)."""
    text = [i for i in f_idx if not _numeric(cells[:, i])]
    if len(text) != 1 or any(_is_float(cell) for cell in cells[:, text[0]]):  # labels: text in every row
        return ""
    now = f"data.target is {target!r}" if isinstance(target, str) else (
        f"the target is the last column, {header[-1]!r}" if not target else f"data.target is {list(target)}")
    name = header[text[0]]
    return f"; if '{name}' holds what to predict, set data.target: {name} ({now})"


def _numeric(column: np.ndarray) -> bool:
    """Every cell of a column of CSV strings reads as a number (float() is the judge, as in to_float)."""
    try:
        column.astype(np.float64)
        return True
    except ValueError:
        return all(_is_float(cell) for cell in column)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def to_float(cells: np.ndarray, path: Path, names: List[str], lines: np.ndarray) -> np.ndarray:
    try:
        X = cells.astype(np.float64)
    except ValueError:  # find the cell (Python's float() is the judge: it reads what NumPy may not)
        X = np.empty(cells.shape, np.float64)
        for i in range(cells.shape[0]):
            for j in range(cells.shape[1]):
                try:
                    X[i, j] = float(cells[i, j])
                except ValueError:
                    raise DataError(f"{path}: row {lines[i]}, column '{names[j]}': not a number: "
                                    f"{describe(str(cells[i, j]), 60)}") from None
    check_finite(X, path, names, lines)
    return X
