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
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from threadpoolctl import threadpool_limits

from ecgdesk.analysis.strips.classify import StripLabel, classify_strip
from ecgdesk.errors import EcgDeskError, InputError
from ecgdesk.records import open_recording

CSV_HEADER = ("record", "label", "confidence", "heart_rate_bpm", "reason")
#: Longer recordings are not rhythm strips (a Holter given by mistake): a row says so, nothing is read.
MAX_STRIP_S = 30 * 60.0
#: Files picked up inside folders (a WFDB record by its header).
FOLDER_SUFFIXES = (".hea", ".edf", ".bdf", ".ecg", ".ishne", ".dcm", ".xml")
#: BLAS threads while a batch runs (its worker processes inherit it). A strip's vectors are too short to
#: share out: OpenBLAS's second thread mostly spun waiting, about a quarter of the batch's CPU time (500
#: CinC strips: 6.2-6.5 s user with one thread, 8.7-9.2 s with two). With one thread the features are
#: also summed as ``bench/train_strips.py`` sums them (it runs with OMP_NUM_THREADS=1): a dot product of
#: over 10,000 samples (the kurtosis of a strip over 33 s) is split across threads, and its last bit then
#: depended on the machine's core count.
BLAS_THREADS = 1


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


@dataclass(frozen=True)
class OpenOptions:
    """How strips are opened: the lead to classify and the CSV unit and rate (CSV strips only)."""

    lead: str | int | None = None
    csv_unit: str | None = None
    csv_fs: float | None = None


def _failed(name: str, reason: str) -> StripRow:
    return StripRow(name, StripLabel.NOISY, None, None, reason, RowStatus.FAILED)


def classify_file(path: Path, lead: str | int | None = None, options: OpenOptions | None = None) -> StripRow:
    """One file to one row; any problem with this file (unreadable, too long, even a bug in a reader or the
    classifier) becomes a ``~`` row whose reason says why, so one strip never stops the batch."""
    options = options or OpenOptions(lead)
    name = _record_name(path)
    try:
        recording = open_recording(path, csv_unit=options.csv_unit, csv_fs=options.csv_fs)
        if recording.duration_s > MAX_STRIP_S:
            return _failed(name, f"not a rhythm strip: {recording.duration_s / 60:.0f} min long (strips are "
                                 f"classified up to {MAX_STRIP_S / 60:.0f} min)")
        result = classify_strip(recording, options.lead)
    except EcgDeskError as error:
        return _failed(name, f"unreadable: {error}")
    except MemoryError:
        return _failed(name, f"unreadable: {path}: ran out of memory")
    except Exception as error:  # a reader library's own error, or a bug: this strip only
        return _failed(name, f"unreadable: {path}: {type(error).__name__}: {error}")
    status = RowStatus.NOISY if result.label is StripLabel.NOISY else RowStatus.CLASSIFIED
    conf = None if not result.probabilities else result.confidence
    reason = "; ".join([result.reason, *(f"warning: {w}" for w in recording.warnings)])
    return StripRow(name, result.label, conf, result.heart_rate_bpm, reason, status)


def _classify_alone(path: Path, options: OpenOptions) -> StripRow:
    """One strip in a worker process of its own: a crash of native code there gives a row, not an end."""
    try:
        with ProcessPoolExecutor(max_workers=1) as pool:
            return pool.submit(classify_file, path, options.lead, options).result()
    except BrokenProcessPool:
        return _failed(_record_name(path), f"unreadable: {path}: the worker process reading it died")


def classify_files(paths: Sequence[Path], jobs: int = 1, lead: str | int | None = None,
                   options: OpenOptions | None = None) -> Iterator[StripRow]:
    """Rows in input order; ``jobs > 1`` uses a process pool of that many workers.

    If a worker dies (native code crashing on one file), the rows already done are kept and each strip
    not yet done is classified in a process of its own, so the batch still gives one row per strip.
    """
    options = options or OpenOptions(lead)
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        yield from _classified(paths, jobs, options)


def _classified(paths: Sequence[Path], jobs: int, options: OpenOptions) -> Iterator[StripRow]:
    if jobs <= 1 or len(paths) < 8:
        for path in paths:
            yield classify_file(path, options.lead, options)
        return
    chunk = max(1, min(32, len(paths) // (4 * jobs)))
    done = 0
    try:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for row in pool.map(classify_file, paths, [options.lead] * len(paths), [options] * len(paths),
                                chunksize=chunk):
                done += 1
                yield row
    except BrokenProcessPool:
        for path in paths[done:]:
            yield _classify_alone(path, options)


def summarize(rows: Iterable[StripRow]) -> BatchSummary:
    counts = Counter(row.status for row in rows)
    return BatchSummary(counts[RowStatus.CLASSIFIED], counts[RowStatus.NOISY], counts[RowStatus.FAILED])


def write_rows(rows: Iterable[StripRow], out: Path, on_row: Callable[[StripRow], None] | None = None,
               inputs: Sequence[Path] = ()) -> list[StripRow]:
    """Write the CSV atomically (a temporary file renamed at the end); returns the rows written."""
    out = Path(out)
    target = out.resolve()
    records = {(p.resolve().parent, p.stem) for p in inputs}  # a WFDB record is every <stem>.* file
    if target in {p.resolve() for p in inputs} or (target.parent, target.stem) in records:
        raise InputError("--out", "would overwrite one of the input files (or a file of an input record)",
                         out)
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
