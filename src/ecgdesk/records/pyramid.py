"""A min/max pyramid of a recording, for drawing any window of it at screen resolution.

A viewer that zooms from a 10 s strip to a whole 14-day recording cannot read 300 million samples to draw
1,200 pixels. The pyramid keeps, per lead, the minimum and maximum of every bucket of ``8**k`` samples
(k = 1, 2, ... up to a level with at most :data:`TOP_BUCKETS` buckets), so a window of any length is drawn
from at most ``8 x width`` stored pairs. Its cost is ``2 x (1/8 + 1/64 + ...) = 2/7`` of the samples, about
0.29 x a 16-bit recording.

Values are ``int16`` in a per-lead quantum (:func:`lead_quantum_mv`): the lead's ADC step when it has one
of at least 1 µV (WFDB, ISHNE, most EDF), else 1 µV, so the minima and maxima of ADC recordings are exact.
:data:`GAP` marks buckets with no valid sample (WFDB's invalid value, lead off stored as NaN).

Files (``pyramid.json`` + ``pyramid.i16``) are written into a temporary folder renamed into place when
complete, and read back through a read-only memory map: opening costs the header only.

:func:`signal_window` answers a query: for ``[start_s, end_s)`` and ``width_px`` pixels, either the raw
samples (when the window holds at most ``width_px`` samples) or one min/max pair per pixel, read from the
coarsest level whose buckets are no wider than a pixel. Pixel edges fall on that level's bucket edges
(each pixel covers whole buckets: less than a pixel of shift), and :attr:`SignalWindow.edges` says exactly
which samples each pixel covers, so the pairs are the exact min/max of those samples.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgdesk.errors import InputError
from ecgdesk.records.recording import Lead, Recording, unit_to_mv_factor

FORMAT = "ecgdesk-minmax-pyramid"
VERSION = 1
FACTOR = 8  # samples per bucket grow by this factor from one level to the next
TOP_BUCKETS = 2048  # the coarsest level has at most this many buckets
GAP = -32768  # int16 value of a bucket (or sample) without a valid value
MAX_VALUE = 32766  # valid values are clipped to +-32766: 32767 stands for a gap inside minima
MIN_QUANTUM_MV = 0.001  # 1 µV: finer ADC steps are rounded to it (int16 then spans +-32.8 mV)
MAX_WIDTH_PX = 10_000
HEADER_FILE = "pyramid.json"
DATA_FILE = "pyramid.i16"
_CHUNK_SAMPLES = 1 << 18  # samples per lead read at a time while building (17.5 min at 250 Hz)
_NO_MIN = MAX_VALUE + 1  # GAP as minima carry it while building: above every valid value, never wins

Progress = Callable[[float], object]


def lead_quantum_mv(lead: Lead) -> float:
    """The step (mV) of the lead's stored integers: its ADC step when >= 1 µV, else 1 µV.

    A gain of 1 is how readers say "no ADC" (CSV, float EDF), so it gives 1 µV too.
    """
    if lead.gain <= 0 or lead.gain == 1.0:
        return MIN_QUANTUM_MV
    return max(unit_to_mv_factor(lead.unit) / lead.gain, MIN_QUANTUM_MV)


def quantize(values_mv: np.ndarray, quanta_mv: np.ndarray) -> np.ndarray:
    """mV -> int16 in each column's quantum: rounded, clipped to +-32766, NaN to :data:`GAP`."""
    scaled = np.asarray(values_mv, dtype=np.float32) * (1.0 / np.asarray(quanta_mv)).astype(np.float32)
    np.rint(scaled, out=scaled)
    np.clip(scaled, -MAX_VALUE, MAX_VALUE, out=scaled)
    invalid = np.isnan(scaled)
    has_gaps = bool(invalid.any())
    if has_gaps:
        scaled[invalid] = 0.0
    out = scaled.astype(np.int16)
    if has_gaps:
        out[invalid] = GAP
    return out


def raw_bytes(recording: Recording) -> int:
    """Bytes of the recording's samples at 16 bits each, the yardstick of the pyramid's cost."""
    return 2 * recording.n_samples * recording.n_leads


@dataclass(frozen=True)
class Level:
    """One decimation level: buckets of ``bucket`` samples, ``n_buckets`` of them per lead."""

    bucket: int
    n_buckets: int
    offset: int  # byte offset of this level's first lead in the data file

    @property
    def lead_bytes(self) -> int:
        return 4 * self.n_buckets  # a (min, max) pair of int16 per bucket


def plan_levels(n_samples: int) -> tuple[Level, ...]:
    """Levels for ``n_samples``, without their byte offsets filled in (see :func:`_with_offsets`)."""
    levels: list[Level] = []
    bucket = FACTOR
    while True:
        n_buckets = -(-n_samples // bucket)
        levels.append(Level(bucket, n_buckets, 0))
        if n_buckets <= TOP_BUCKETS:
            return tuple(levels)
        bucket *= FACTOR


def _with_offsets(levels: Sequence[Level], n_leads: int) -> tuple[Level, ...]:
    out, offset = [], 0
    for level in levels:
        out.append(Level(level.bucket, level.n_buckets, offset))
        offset += level.lead_bytes * n_leads
    return tuple(out)


@dataclass(frozen=True)
class PyramidHeader:
    """What ``pyramid.json`` holds: the recording's shape, each lead's quantum, the levels."""

    fs: float
    n_samples: int
    lead_names: tuple[str, ...]
    quanta_mv: tuple[float, ...]
    levels: tuple[Level, ...]
    metadata: Mapping[str, Any]

    @property
    def data_bytes(self) -> int:
        return sum(level.lead_bytes for level in self.levels) * len(self.lead_names)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "factor": FACTOR,
                "fs": self.fs,
                "n_samples": self.n_samples,
                "leads": [{"name": n, "quantum_mv": q} for n, q in zip(self.lead_names, self.quanta_mv,
                                                                       strict=True)],
                "levels": [{"bucket": lv.bucket, "n_buckets": lv.n_buckets, "offset": lv.offset}
                           for lv in self.levels],
                "data_bytes": self.data_bytes,
                "metadata": dict(self.metadata),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str, source: Path) -> PyramidHeader:
        try:
            doc = json.loads(text)
            if doc.get("format") != FORMAT or doc.get("version") != VERSION or doc.get("factor") != FACTOR:
                raise InputError("version", f"not an {FORMAT} version {VERSION} (factor {FACTOR})", source)
            return cls(
                fs=float(doc["fs"]),
                n_samples=int(doc["n_samples"]),
                lead_names=tuple(str(lead["name"]) for lead in doc["leads"]),
                quanta_mv=tuple(float(lead["quantum_mv"]) for lead in doc["leads"]),
                levels=tuple(Level(int(lv["bucket"]), int(lv["n_buckets"]), int(lv["offset"]))
                             for lv in doc["levels"]),
                metadata=dict(doc.get("metadata") or {}),
            )
        except (ValueError, KeyError, TypeError) as error:
            if isinstance(error, InputError):
                raise
            raise InputError("header", f"unreadable pyramid header ({error})", source) from None


def _halve(values: np.ndarray, op: np.ufunc, times: int) -> np.ndarray:
    """Reduce ``(leads, m * 2**times)`` to ``(leads, m)`` by ``op`` over each run of ``2**times`` values."""
    for _ in range(times):
        values = op(values[:, 0::2], values[:, 1::2])
    return values


class _Builder:
    """Streams quantized samples into every level, carrying each level's incomplete bucket forward.

    Minima travel with gaps as :data:`_NO_MIN` (so a gap never wins a minimum) and maxima with gaps as
    :data:`GAP`. Finished buckets are written with ``pwrite`` at their place in the lead-major layout, so
    the process holds one chunk, not the pages of the file written so far.
    """

    def __init__(self, fd: int, levels: Sequence[Level], n_leads: int) -> None:
        self._fd = fd
        self._levels = levels
        self._written = [0] * len(levels)
        empty = np.zeros((n_leads, 0), dtype=np.int16)
        self._pending = [(empty, empty) for _ in levels]
        self._halvings = FACTOR.bit_length() - 1

    def push(self, level: int, mins: np.ndarray, maxs: np.ndarray) -> None:
        """Add children (samples for level 0) of ``level``'s buckets, shaped ``(n_leads, m)``."""
        low, high = self._pending[level]
        if low.shape[1]:
            mins, maxs = np.concatenate([low, mins], axis=1), np.concatenate([high, maxs], axis=1)
        full = (mins.shape[1] // FACTOR) * FACTOR
        self._pending[level] = (mins[:, full:], maxs[:, full:])
        if full:
            self._emit(level, _halve(mins[:, :full], np.minimum, self._halvings),
                       _halve(maxs[:, :full], np.maximum, self._halvings))

    def _emit(self, level: int, mins: np.ndarray, maxs: np.ndarray) -> None:
        lv, at, count = self._levels[level], self._written[level], mins.shape[1]
        pairs = np.empty((mins.shape[0], count, 2), dtype="<i2")
        pairs[:, :, 0] = np.where(mins == _NO_MIN, GAP, mins)
        pairs[:, :, 1] = maxs
        for lead in range(mins.shape[0]):
            os.pwrite(self._fd, pairs[lead].tobytes(), lv.offset + lv.lead_bytes * lead + 4 * at)
        self._written[level] = at + count
        if level + 1 < len(self._levels):
            self.push(level + 1, mins, maxs)

    def finish(self) -> None:
        """Close each level's last, partial bucket (coarser levels receive it before they close)."""
        for level, lv in enumerate(self._levels):
            low, high = self._pending[level]
            if low.shape[1]:
                self._pending[level] = (low[:, :0], high[:, :0])
                self._emit(level, low.min(axis=1, keepdims=True), high.max(axis=1, keepdims=True))
            if self._written[level] != lv.n_buckets:
                raise AssertionError(f"level {level}: {self._written[level]} buckets written, "
                                     f"{lv.n_buckets} planned")


def build_pyramid(
    recording: Recording,
    folder: Path,
    progress: Progress | None = None,
    metadata: Mapping[str, Any] | None = None,
    chunk_samples: int = _CHUNK_SAMPLES,
) -> Pyramid:
    """Build the pyramid of every lead of ``recording`` into ``folder`` (created; must not exist).

    The recording is read once in chunks of ``chunk_samples``, so memory stays bounded whatever its
    length. ``progress`` receives the seconds of recording done after each chunk.
    """
    folder = Path(folder)
    if recording.n_samples == 0:
        raise InputError("n_samples", "the recording has no samples to draw", recording.path)
    n_leads = recording.n_leads
    quanta = tuple(lead_quantum_mv(lead) for lead in recording.leads)
    levels = _with_offsets(plan_levels(recording.n_samples), n_leads)
    header = PyramidHeader(recording.fs, recording.n_samples, tuple(recording.lead_names), quanta, levels,
                           dict(metadata or {}))
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        fd = os.open(tmp / DATA_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.ftruncate(fd, header.data_bytes)
            builder = _Builder(fd, levels, n_leads)
            quanta_row = np.asarray(quanta, dtype=np.float64)
            for chunk in recording.iter_chunks(seconds=chunk_samples / recording.fs):
                values = np.ascontiguousarray(quantize(chunk.data, quanta_row).T)
                builder.push(0, np.where(values == GAP, np.int16(_NO_MIN), values), values)
                if progress is not None:
                    progress(chunk.data.shape[0] / recording.fs)
            builder.finish()
            os.fsync(fd)
        finally:
            os.close(fd)
        (tmp / HEADER_FILE).write_text(header.to_json(), encoding="utf-8")
        for name in (DATA_FILE, HEADER_FILE):
            os.chmod(tmp / name, 0o444)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / HEADER_FILE).is_file():  # not a concurrent build of the same pyramid
                raise
            remove_pyramid(tmp)
    except BaseException:
        remove_pyramid(tmp)
        raise
    return Pyramid.open(folder)


def remove_pyramid(path: Path) -> None:
    """Delete a pyramid folder (its files are read-only)."""
    if path.exists():
        for child in path.iterdir():
            os.chmod(child, 0o644)
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class SignalWindow:
    """The answer to a window query.

    ``mode`` is ``"raw"`` (``values``: one int16 per sample from ``edges[0]``) or ``"minmax"`` (``mins``,
    ``maxs``: one pair per pixel, pixel ``i`` covering samples ``[edges[i], edges[i + 1])``). Values are in
    ``quantum_mv`` steps; :data:`GAP` is a sample or pixel without signal. ``bucket`` is the number of
    samples per stored bucket the pairs were read from (1: computed from the samples).
    """

    mode: str
    lead: str
    fs: float
    quantum_mv: float
    bucket: int
    edges: np.ndarray
    values: np.ndarray | None = None
    mins: np.ndarray | None = None
    maxs: np.ndarray | None = None

    @property
    def first_sample(self) -> int:
        return int(self.edges[0])

    @property
    def stop_sample(self) -> int:
        return int(self.edges[-1])

    @property
    def n_values(self) -> int:
        """How many numbers the window carries (samples, or 2 per pixel)."""
        if self.values is not None:
            return int(self.values.size)
        assert self.mins is not None and self.maxs is not None
        return int(self.mins.size + self.maxs.size)


class Pyramid:
    """An opened pyramid: the header and a read-only memory map of the data."""

    def __init__(self, folder: Path, header: PyramidHeader, data: np.ndarray) -> None:
        self.folder = folder
        self.header = header
        self._data = data

    @classmethod
    def open(cls, folder: Path) -> Pyramid:
        folder = Path(folder)
        path = folder / HEADER_FILE
        try:
            header = PyramidHeader.from_json(path.read_text(encoding="utf-8"), path)
        except OSError as error:
            raise InputError("pyramid", f"cannot be read: {error.strerror or error}", path) from None
        data_path = folder / DATA_FILE
        size = data_path.stat().st_size if data_path.is_file() else -1
        if size != header.data_bytes:
            raise InputError("pyramid", f"data file has {size} bytes, the header says {header.data_bytes}",
                             data_path)
        return cls(folder, header, np.memmap(data_path, dtype="<i2", mode="r"))

    @property
    def n_bytes(self) -> int:
        return self.header.data_bytes

    @property
    def duration_s(self) -> float:
        return self.header.n_samples / self.header.fs

    def lead_index(self, lead: str) -> int:
        """Index of a lead by name (exact, then case-insensitive); an unknown name lists the leads."""
        names = self.header.lead_names
        if lead in names:
            return names.index(lead)
        folded = [name.lower() for name in names]
        if lead.lower() in folded:
            return folded.index(lead.lower())
        raise InputError("lead", f"no lead named {lead!r}; the leads are {', '.join(names)}")

    def buckets(self, lead: int, level: int, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Stored (mins, maxs) of buckets ``[first, stop)`` of one lead at one level (views of the map)."""
        lv = self.header.levels[level]
        at = (lv.offset + lv.lead_bytes * lead) // 2
        pairs = self._data[at: at + 2 * lv.n_buckets].reshape(lv.n_buckets, 2)[first:stop]
        return pairs[:, 0], pairs[:, 1]


def check_window(duration_s: float, start_s: float, end_s: float, width_px: int) -> None:
    """Refuse a window that is not inside the recording, or a width out of range, naming the field."""
    if isinstance(width_px, bool) or not isinstance(width_px, int | np.integer) \
            or not 1 <= width_px <= MAX_WIDTH_PX:
        raise InputError("width_px", f"must be a whole number of pixels from 1 to {MAX_WIDTH_PX}, "
                                     f"got {width_px!r}")
    if not math.isfinite(start_s) or start_s < 0:
        raise InputError("start_s", f"must be a time >= 0 s, got {start_s!r}")
    if start_s >= duration_s:
        raise InputError("start_s", f"{start_s:g} s is past the end of the recording ({duration_s:g} s)")
    if not math.isfinite(end_s) or end_s <= start_s:
        raise InputError("end_s", f"must be a time after start_s ({start_s:g} s), got {end_s!r}")
    longest = max(2 * duration_s, 86400.0)
    if end_s - start_s > longest:
        raise InputError("end_s", f"a window may span at most {longest:g} s (twice the recording, or a "
                                  f"day), got {end_s - start_s:g} s")


def _sample_at(time_s: float, fs: float) -> int:
    """First sample at or after ``time_s`` (a microsecond of slack for decimal times such as 0.1 s)."""
    return math.ceil(time_s * fs - 1e-6)


def signal_window(
    pyramid: Pyramid,
    recording: Recording | Callable[[], Recording],
    lead: str,
    start_s: float,
    end_s: float,
    width_px: int,
) -> SignalWindow:
    """The samples, or per-pixel min/max pairs, of ``[start_s, end_s)`` of a lead for ``width_px`` pixels.

    ``recording`` (or a function opening it, called only when samples are needed) is the recording the
    pyramid was built from. A window may run past the end of the recording: the pixels beyond it are
    left out, so the answer may hold fewer than ``width_px`` pixels. Never more than ``2 x width_px``
    values come back.
    """
    header = pyramid.header
    check_window(pyramid.duration_s, start_s, end_s, width_px)
    index = pyramid.lead_index(lead)
    name, quantum, fs, n = header.lead_names[index], header.quanta_mv[index], header.fs, header.n_samples
    first = _sample_at(start_s, fs)
    if first >= n:
        raise InputError("start_s", f"{start_s:g} s is after the last sample ({(n - 1) / fs:g} s)")
    span = max(1, _sample_at(end_s, fs) - first)  # samples the requested window spans, past the end too

    def samples(a: int, b: int) -> np.ndarray:
        rec = recording() if callable(recording) else recording
        if rec.n_samples != n or rec.fs != fs:
            raise InputError("recording", "is not the recording this pyramid was built from", rec.path)
        return quantize(rec.read(a, b, leads=index)[:, 0], np.array(quantum))

    if span <= width_px:
        stop = min(first + span, n)
        return SignalWindow("raw", name, fs, quantum, 1, np.array([first, stop]),
                            values=samples(first, stop))
    per_pixel = span // width_px
    level = -1  # -1: buckets are single samples, read from the recording
    while level + 1 < len(header.levels) and header.levels[level + 1].bucket <= per_pixel:
        level += 1
    bucket = 1 if level < 0 else header.levels[level].bucket
    n_buckets = -(-n // bucket)
    # Pixel i spans samples [first + i*span//width, ...), snapped to whole buckets; >= 1 bucket each.
    sample_edges = first + (np.arange(width_px + 1, dtype=np.int64) * span) // width_px
    edges = sample_edges // bucket
    edges[-1] = -(-sample_edges[-1] // bucket)  # the last pixel reaches the end of the window
    edges = np.minimum(edges, n_buckets)
    n_pixels = int(np.searchsorted(edges, n_buckets, side="left"))  # pixels that start inside
    edges = edges[: n_pixels + 1]
    if level < 0:
        low = high = samples(int(edges[0]), int(edges[-1]))
    else:
        low, high = pyramid.buckets(index, level, int(edges[0]), int(edges[-1]))
    starts = edges[:-1] - edges[0]
    mins = np.minimum.reduceat(np.where(low == GAP, np.int16(_NO_MIN), low), starts)
    maxs = np.maximum.reduceat(high, starts)
    mins = np.where(mins == _NO_MIN, GAP, mins).astype(np.int16)
    return SignalWindow("minmax", name, fs, quantum, bucket, np.minimum(edges * bucket, n),
                        mins=mins, maxs=maxs.astype(np.int16))

