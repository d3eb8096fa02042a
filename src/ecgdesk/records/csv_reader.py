"""CSV recordings: one column per lead, an optional time column in seconds, the unit given by the user.

The delimiter is sniffed (comma, semicolon, tab). A first row with any non-numeric cell is the header
(lead names); without one, leads are named ``ch1``, ``ch2`` ... A column named ``time``, ``t``,
``time_s``, ``seconds`` or ``sec`` is the time axis: the sampling rate is derived from it unless
``csv_fs`` is given, and it must be evenly spaced (within 1 %). CSV files are parsed whole at open (they
are short resting or strip recordings); every cell must be a finite number.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ecgdesk.errors import InputError, RecordingError
from ecgdesk.records._checks import check_fs, check_in_memory_size, check_regular_file, clean_label
from ecgdesk.records.recording import (
    MAX_FS,
    MIN_FS,
    ArraySource,
    Lead,
    Recording,
    RecordingFormat,
    unit_to_mv_factor,
)

TIME_COLUMNS = ("time", "t", "time_s", "seconds", "sec", "time (s)", "time[s]")
_SPACING_TOLERANCE = 0.01
_BLOCK_ROWS = 65_536
#: a line that is one number with a decimal comma, or two whole numbers on a comma: ``-0,125``
_COMMA_NUMBER = re.compile(r"\s*[+-]?\d+,\d+\s*")


def _number(cell: str, decimal_comma: bool = False) -> float:
    """The cell's value; with ``decimal_comma`` (a ';' or tab delimited file, as spreadsheets write it
    where the comma is the decimal mark) ``-0,125`` too. Raises ValueError when it is none."""
    if decimal_comma and "," in cell and "." not in cell:
        cell = cell.replace(",", ".", 1)
    return float(cell)


def _is_number(cell: str, decimal_comma: bool = False) -> bool:
    try:
        _number(cell, decimal_comma)
    except ValueError:
        return False
    return True


def looks_like_csv(head: bytes) -> bool:
    """Text whose first lines split into the same number (>= 1) of cells on one delimiter."""
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    lines = [line for line in text.splitlines()[:5] if line.strip()]
    if not lines or "\x00" in text:
        return False
    if len(lines) > 1 and len(head) >= 4096:
        lines = lines[:-1]  # the last line may be cut by the head size
    for delimiter in (",", ";", "\t"):
        counts = {len(line.split(delimiter)) for line in lines}
        if len(counts) == 1 and counts.pop() > 1:
            return True
    if len(lines) > 1 and "," not in lines[0] and all(_COMMA_NUMBER.fullmatch(line) for line in lines[1:]):
        return True  # a lead's name over one column of decimal commas
    return all(_is_number(line.strip()) for line in lines[1:]) and len(lines) > 1


def _one_column_of_decimal_commas(path: Path, lines: list[str], warnings: list[str]) -> bool:
    """Whether a file whose every line is ``digits,digits`` is one column with decimal commas (``0,125``
    per line) rather than two columns of whole numbers. It is where a header names one column, or where a
    row's first part is a signed zero (``-0,5``) or its second starts with a 0 (``1,05``): no integer
    column is written so. Otherwise both readings fit; it is read as two columns and that is said."""
    rows = [line for line in lines if line.strip()]
    if not rows:
        return False
    header = "," not in rows[0] and not _COMMA_NUMBER.fullmatch(rows[0])
    data = rows[1:] if header else rows
    if not data or not all(_COMMA_NUMBER.fullmatch(line) for line in data):
        return False
    if header:
        return True
    parts = [line.strip().split(",") for line in data]
    if any((whole[0] in "+-" and int(whole) == 0) or (len(fraction) > 1 and fraction[0] == "0")
           for whole, fraction in parts):
        return True
    warnings.append(f"{path.name}: every row is two whole numbers on a comma ({data[0].strip()!r}): read as "
                    "two columns; if it is one column with decimal commas, give it a header naming the "
                    "lead or write decimal points")
    return False


def _delimiter(lines: list[str]) -> str:
    """';' or tab where the first two lines hold it as often (their commas are then decimal marks:
    ``0,125;1,5`` has more commas than semicolons), else the most frequent of ',', ';' and tab in the
    first line (a ';' in a quoted name of a ',' file is not taken)."""
    first, second = ([line for line in lines if line.strip()] + ["", ""])[:2]
    for delimiter in sorted(";\t", key=first.count, reverse=True):
        if first.count(delimiter) and first.count(delimiter) == second.count(delimiter):
            return delimiter
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(path: str | Path, unit: str | None = None, fs: float | None = None) -> Recording:
    """Parse a CSV recording; NaN, empty or text cells raise :class:`RecordingError` naming row and column."""
    path = Path(path)
    warnings = [] if unit else ["the CSV gives no unit: its values are taken as mV (give --csv-unit)"]
    unit = unit or "mV"
    try:
        unit_to_mv_factor(unit)
    except InputError:
        raise InputError("csv_unit", f"unknown signal unit {unit!r}; known units are mV, uV, V, nV",
                         path) from None
    if fs is not None:
        fs = check_fs(path, fs, "csv_fs")
    check_in_memory_size(path, check_regular_file(path), "a CSV recording")
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise RecordingError(path, "file", "the CSV file has no rows")
    try:
        delimiter = _delimiter(lines[:50])
        if delimiter == "," and _one_column_of_decimal_commas(path, lines, warnings):
            delimiter = ";"  # on no line: each is one cell, its comma the decimal mark
        names, values = _parse(path, csv.reader(io.StringIO(text), delimiter=delimiter), delimiter != ",")
    except csv.Error as exc:  # e.g. a field over the csv module's size limit, a NUL byte
        raise RecordingError(path, "rows", f"not readable as CSV: {exc}") from None
    time_index = next((i for i, name in enumerate(names) if name.strip().lower() in TIME_COLUMNS), None)
    if time_index is not None:
        times = values[:, time_index]
        if fs is None:
            fs = _fs_from_time(path, names[time_index], times)
        values = np.delete(values, time_index, axis=1)
        names = [n for i, n in enumerate(names) if i != time_index]
    if fs is None:
        raise RecordingError(path, "csv_fs", "the CSV has no time column; give its sampling rate (--csv-fs)")
    if not names:
        raise RecordingError(path, "columns", "the CSV has a time column but no lead column")
    leads = tuple(Lead(name=clean_label(name or f"ch{i + 1}", f"column[{i}] name", f"ch{i + 1}", warnings),
                       unit=unit) for i, name in enumerate(names))
    return Recording(fs=fs, n_samples=int(values.shape[0]), leads=leads, source=ArraySource(values),
                     format=RecordingFormat.CSV, path=path, record_name=path.stem, warnings=tuple(warnings))


def _parse(path: Path, rows: Iterator[list[str]], comma: bool) -> tuple[list[str], np.ndarray]:
    """Lead names and the values of every non-empty row, one float64 block per 65,536 rows."""
    header: list[str] | None = None
    for row in rows:
        if any(cell.strip() for cell in row):
            header = [cell.strip() for cell in _trimmed(row)]
            break
    if header is None:
        raise RecordingError(path, "file", "the CSV file has no rows")
    has_header = not all(_is_number(cell, comma) for cell in header)
    names = header if has_header else [f"ch{i + 1}" for i in range(len(header))]
    blocks: list[np.ndarray] = []
    block: list[list[float]] = ([] if has_header
                                else [_row_values(path, rows_line(rows), header, names, comma)])
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        block.append(_row_values(path, rows_line(rows), _trimmed(row, len(names)), names, comma))
        if len(block) == _BLOCK_ROWS:
            blocks.append(np.array(block, dtype=np.float64))
            block = []
    if block:
        blocks.append(np.array(block, dtype=np.float64))
    if not blocks:
        raise RecordingError(path, "rows", "the CSV file has a header but no samples")
    return names, np.concatenate(blocks)


def _trimmed(row: list[str], width: int = 0) -> list[str]:
    """The row without empty cells at its end beyond ``width`` cells: some devices end every line with the
    delimiter (an empty cell within the width is still a missing value, named)."""
    end = len(row)
    while end > width and not row[end - 1].strip():
        end -= 1
    return row[:end]


def rows_line(rows: Iterator[list[str]]) -> int:
    """The line number the csv reader is at (the line of the row it returned last)."""
    return int(getattr(rows, "line_num", 0))


def _row_values(path: Path, line_number: int, row: list[str], names: list[str],
                comma: bool = False) -> list[float]:
    if len(row) != len(names):
        raise RecordingError(path, f"row {line_number}",
                             f"has {len(row)} cells, expected {len(names)} like the first row")
    out = []
    for c, cell in enumerate(row):
        try:
            value = _number(cell, comma)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise RecordingError(path, f"row {line_number}, column {names[c]!r}",
                                 f"cell {cell.strip()!r} is not a finite number")
        out.append(value)
    return out


def _fs_from_time(path: Path, column: str, times: np.ndarray) -> float:
    if times.size < 2:
        raise RecordingError(path, f"column {column!r}",
                             "needs at least two rows to derive the sampling rate")
    steps = np.diff(times)
    step = float(np.median(steps))
    if step <= 0:
        raise RecordingError(path, f"column {column!r}", "time must increase from row to row")
    worst = int(np.argmax(np.abs(steps - step)))
    if abs(steps[worst] - step) > _SPACING_TOLERANCE * step:
        raise RecordingError(path, f"column {column!r}",
                             f"time is not evenly spaced (step {steps[worst]:g} s after row {worst + 2} "
                             f"of the data, median step {step:g} s)")
    if step >= 1.0 and 1e3 / step >= MIN_FS:  # one sample a second or slower: not an ECG in seconds
        raise RecordingError(path, f"column {column!r}",
                             f"a time step of {step:g} gives {1.0 / step:g} Hz (allowed {MIN_FS:g} Hz to "
                             f"{MAX_FS:g} Hz); the time column must be in seconds, and this one looks like "
                             "milliseconds (divide it by 1000, or give --csv-fs)")
    return check_fs(path, 1.0 / step, f"column {column!r}")
