"""Classify many strip files: one row per file, a bad file gives a row, never stops the batch.

:func:`collect_strip_paths` expands folders (WFDB headers and the other recording formats, sorted by
name; CSV files only when named, so a folder's ``REFERENCE.csv`` is not mistaken for a strip);
:func:`classify_files` yields one :class:`StripRow` per file, in input order, optionally from a process
pool; :func:`write_rows` writes ``record,label,confidence,heart_rate_bpm,reason``.
"""

from __future__ import annotations

import csv
import enum
import io
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ecgdesk.analysis.strips.classify import StripLabel, classify_strip
from ecgdesk.errors import EcgDeskError, InputError
from ecgdesk.records import open_recording

CSV_HEADER = ("record", "label", "confidence", "heart_rate_bpm", "reason")
#: Files picked up inside folders (a WFDB record by its header).
FOLDER_SUFFIXES = (".hea", ".edf", ".bdf", ".ecg", ".ishne", ".dcm", ".xml")


class RowStatus(enum.StrEnum):
    CLASSIFIED = "classified"
    NOISY = "noisy"
    FAILED = "failed"


@dataclass(frozen=True)
class StripRow:
    """One output row. ``confidence`` and ``heart_rate_bpm`` are ``None`` where there is none."""

    record: str
    label: StripLabel
    confidence: float | None
    heart_rate_bpm: float | None
    reason: str
    status: RowStatus

    def cells(self) -> list[str]:
        conf = "" if self.confidence is None else f"{self.confidence:.3f}"
        hr = "" if self.heart_rate_bpm is None else f"{self.heart_rate_bpm:.0f}"
        return [self.record, self.label.value, conf, hr, self.reason]


@dataclass(frozen=True)
class BatchSummary:
    classified: int
    noisy: int
    failed: int

    @property
    def total(self) -> int:
        return self.classified + self.noisy + self.failed

    def line(self) -> str:
        return (f"{self.total} strips: {self.classified} classified, {self.noisy} noisy (~), "
                f"{self.failed} failed")


def collect_strip_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, plus the recordings inside folders named (not recursive)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FOLDER_SUFFIXES)
            out.extend(found)
        elif path.exists() or path.with_suffix(".hea").exists():
            out.append(path)
        else:
            raise InputError("PATH", "no such file or folder", path)
    return out


def _record_name(path: Path) -> str:
    return path.stem if path.suffix else path.name


def classify_file(path: Path, lead: str | int | None = None) -> StripRow:
    """One file to one row; any read or signal problem becomes a ``~`` row whose reason says why."""
    name = _record_name(path)
    try:
        recording = open_recording(path)
        result = classify_strip(recording, lead)
    except EcgDeskError as error:
        return StripRow(name, StripLabel.NOISY, None, None, f"unreadable: {error}", RowStatus.FAILED)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:  # a reader library's own error
        return StripRow(name, StripLabel.NOISY, None, None,
                        f"unreadable: {path}: {type(error).__name__}: {error}", RowStatus.FAILED)
    status = RowStatus.NOISY if result.label is StripLabel.NOISY else RowStatus.CLASSIFIED
    conf = None if not result.probabilities else result.confidence
    return StripRow(name, result.label, conf, result.heart_rate_bpm, result.reason, status)


def classify_files(paths: Sequence[Path], jobs: int = 1, lead: str | int | None = None) -> Iterator[StripRow]:
    """Rows in input order; ``jobs > 1`` uses a process pool of that many workers."""
    if jobs <= 1 or len(paths) < 8:
        for path in paths:
            yield classify_file(path, lead)
        return
    chunk = max(1, min(32, len(paths) // (4 * jobs)))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(classify_file, paths, [lead] * len(paths), chunksize=chunk)


def summarize(rows: Iterable[StripRow]) -> BatchSummary:
    counts = Counter(row.status for row in rows)
    return BatchSummary(counts[RowStatus.CLASSIFIED], counts[RowStatus.NOISY], counts[RowStatus.FAILED])


def write_rows(rows: Iterable[StripRow], out: Path, on_row: Callable[[StripRow], None] | None = None,
               inputs: Sequence[Path] = ()) -> list[StripRow]:
    """Write the CSV atomically (a temporary file renamed at the end); returns the rows written."""
    out = Path(out)
    resolved = {p.resolve() for p in inputs}
    if out.resolve() in resolved:
        raise InputError("--out", "would overwrite one of the input files", out)
    if out.parent and not out.parent.exists():
        raise InputError("--out", f"folder {out.parent} does not exist", out)
    done: list[StripRow] = []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(row.cells())
        done.append(row)
        if on_row is not None:
            on_row(row)
    fd, tmp = tempfile.mkstemp(prefix=".strips-", suffix=".csv", dir=out.parent if str(out.parent) else ".")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            handle.write(buffer.getvalue())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return done
