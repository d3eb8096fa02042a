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
from pathlib import Path

import numpy as np

from ecgdesk.errors import InputError, RecordingError
from ecgdesk.records._checks import check_fs
from ecgdesk.records.recording import ArraySource, Lead, Recording, RecordingFormat, unit_to_mv_factor

TIME_COLUMNS = ("time", "t", "time_s", "seconds", "sec", "time (s)", "time[s]")
_SPACING_TOLERANCE = 0.01


def _is_number(cell: str) -> bool:
    try:
        float(cell)
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
    return all(_is_number(line.strip()) for line in lines[1:]) and len(lines) > 1


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(path: str | Path, unit: str | None = None, fs: float | None = None) -> Recording:
    """Parse a CSV recording; NaN, empty or text cells raise :class:`RecordingError` naming row and column."""
    path = Path(path)
    unit = unit or "mV"
    try:
        unit_to_mv_factor(unit)
    except InputError:
        raise InputError("csv_unit", f"unknown signal unit {unit!r}; known units are mV, uV, V, nV",
                         path) from None
    if fs is not None:
        fs = check_fs(path, fs, "csv_fs")
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise RecordingError(path, "file", "the CSV file has no rows")
    rows = list(csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0])))
    first_row = 0
    while first_row < len(rows) and not any(cell.strip() for cell in rows[first_row]):
        first_row += 1
    header = [cell.strip() for cell in rows[first_row]]
    has_header = not all(_is_number(cell) for cell in header)
    names = header if has_header else [f"ch{i + 1}" for i in range(len(header))]
    data_start = first_row + 1 if has_header else first_row
    body = [(number, row) for number, row in enumerate(rows[data_start:], start=data_start + 1)
            if any(cell.strip() for cell in row)]
    if not body:
        raise RecordingError(path, "rows", "the CSV file has a header but no samples")
    values = np.empty((len(body), len(names)), dtype=np.float64)
    for r, (line_number, row) in enumerate(body):
        if len(row) != len(names):
            raise RecordingError(path, f"row {line_number}",
                                 f"has {len(row)} cells, expected {len(names)} like the first row")
        for c, cell in enumerate(row):
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise RecordingError(path, f"row {line_number}, column {names[c]!r}",
                                     f"cell {cell.strip()!r} is not a finite number")
            values[r, c] = value
    time_index = next((i for i, name in enumerate(names) if name.strip().lower() in TIME_COLUMNS), None)
    if time_index is not None:
        times = values[:, time_index]
        if fs is None:
            fs = _fs_from_time(path, names[time_index], times)
        values = np.delete(values, time_index, axis=1)
        names = [n for i, n in enumerate(names) if i != time_index]
    if fs is None:
        raise RecordingError(path, "csv_fs", "the CSV has no time column; give the sampling rate (csv_fs)")
    if not names:
        raise RecordingError(path, "columns", "the CSV has a time column but no lead column")
    leads = tuple(Lead(name=name or f"ch{i + 1}", unit=unit) for i, name in enumerate(names))
    return Recording(fs=fs, n_samples=int(values.shape[0]), leads=leads, source=ArraySource(values),
                     format=RecordingFormat.CSV, path=path, record_name=path.stem)


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
    return check_fs(path, 1.0 / step, f"column {column!r}")
