"""WFDB records through ``wfdb``: header at open, samples on demand.

Format-16 signal files (one sample per frame, no skew) are memory-mapped with numpy, so opening and
slicing a 900 MB record costs only the header; every other format (212, 80, 24, 32, FLAC ...) and
multi-segment records are read through ``wfdb.rdrecord(sampfrom, sampto)``, which seeks to the range.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import wfdb
from wfdb.io import _header as wfdb_header_module

from ecgdesk.errors import RecordingError, is_digits
from ecgdesk.records._checks import (
    ECG_LABEL,
    check_fs,
    check_regular_file,
    check_size,
    clean_label,
    read_mapped_frames,
)
from ecgdesk.records._edf_header import ANNOTATION_LABELS
from ecgdesk.records._wfdb_header import (
    BYTES_PER_SAMPLE,
    DEFAULT_GAIN,
    MAX_HEADER_BYTES,
    HeaderText,
    expected_file_sizes,
    parse_header_text,
)
from ecgdesk.records.annotations import read_wfdb_annotations
from ecgdesk.records.recording import (
    EventKind,
    EventMarker,
    Lead,
    PatientInfo,
    Recording,
    RecordingFormat,
)
from ecgdesk.records.writers import EVENT_EXTENSION, WFDB_INVALID

_VOLT_UNITS = {"mv", "uv", "µv", "μv", "v", "nv", "volts", "volt"}


def record_base(path: Path) -> Path:
    """``/dir/100``, ``/dir/100.hea`` or ``/dir/100.dat`` -> ``/dir/100`` (the record path wfdb wants)."""
    if path.suffix.lower() in (".hea", ".dat"):
        return path.with_suffix("")
    return path


def looks_like_wfdb_header(text: str) -> bool:
    """True when the first non-comment line reads ``name[/segments] nsig [fs[/counter] [nsamp ...]]``."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split()
        if len(parts) < 2 or not is_digits(parts[1]):
            return False
        if len(parts) >= 3:
            try:
                float(parts[2].split("/")[0].split("(")[0])
            except ValueError:
                return False
        return "," not in parts[0] and ";" not in parts[0]
    return False


def read_header_text(hea: Path, segment: bool = False) -> HeaderText:
    """The header's own text, checked (see :mod:`ecgdesk.records._wfdb_header`) before wfdb parses it;
    ``segment``: a segment of a multi-segment record (its base time and date are not read)."""
    size = check_regular_file(hea)
    if size > MAX_HEADER_BYTES:
        raise RecordingError(hea, "file", f"a WFDB header of {size} bytes is not plausible (limit "
                                          f"{MAX_HEADER_BYTES} bytes)")
    try:
        text = hea.read_text(encoding="latin-1")
    except OSError as exc:
        raise RecordingError(hea, "file", f"cannot be read: {exc.strerror or exc}") from None
    return parse_header_text(hea, text, clock=not segment)


def _tolerant_record_line(parse: Callable[[str], dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    """wfdb's record-line parser, retried without the base time and date when its ``strptime`` refuses
    them (``31/02/2020``, ``25:61:00``): our own check reads the start and says what is wrong with it
    (``_wfdb_header.base_clock``), and the samples do not depend on it. wfdb parses the header again on
    every ``rdrecord``, so its parser is wrapped once rather than the calls."""
    def parse_record_line(line: str) -> dict[str, Any]:
        try:
            return parse(line)
        except ValueError:
            tokens = line.split()
            if len(tokens) <= 4:
                raise
            return parse(" ".join(tokens[:4]))

    parse_record_line.__wrapped__ = parse  # type: ignore[attr-defined]
    return parse_record_line


# a private function of wfdb (pinned < 5): where a later wfdb has none, such a header is refused as before
_RECORD_LINE = getattr(wfdb_header_module, "_parse_record_line", None)
if callable(_RECORD_LINE) and not hasattr(_RECORD_LINE, "__wrapped__"):
    wfdb_header_module._parse_record_line = _tolerant_record_line(_RECORD_LINE)


@dataclass(frozen=True)
class _SignalFile:
    path: Path
    offset: int
    width: int


class _MemmapSource:
    """Format-16 signal files, the requested range memory-mapped read-only per read."""

    def __init__(self, files: list[_SignalFile], gains: np.ndarray, baselines: np.ndarray,
                 columns: list[tuple[int, int]]) -> None:
        self._columns = columns  # (file number, column in it) of each signal read
        self._files = files
        self._gains = gains
        self._baselines = baselines

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        out = np.empty((stop - start, len(lead_indices)), dtype=np.float32)
        frames: dict[int, np.ndarray] = {}
        for j, index in enumerate(lead_indices):
            number, col = self._columns[index]
            if number not in frames:
                f = self._files[number]
                frames[number] = read_mapped_frames(f.path, f.offset, f.width, start, stop)
            digital = frames[number][:, col]
            column = (digital.astype(np.float32) - self._baselines[index]) / self._gains[index]
            column[digital == WFDB_INVALID] = np.nan
            out[:, j] = column
        return out


class _RdrecordSource:
    """Any WFDB record (all formats, multi-segment) through ``wfdb.rdrecord`` with a sample range.

    ``per_frame`` > 1: every signal read carries that many samples per frame (the header's ``16x2``), read
    at the full rate (``smooth_frames=False``): sample indices are then of that rate, not of frames.
    ``known_length`` False: the header gives no sample count, and wfdb reckons it from the file size only
    when it reads to the end of the record.
    """

    def __init__(self, base: Path, channels: Sequence[int], per_frame: int = 1,
                 known_length: bool = True) -> None:
        self._base = base
        self._channels = list(channels)
        self._per_frame = per_frame
        self._known_length = known_length

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        wanted = [self._channels[i] for i in lead_indices]
        order = sorted(set(wanted))
        k = self._per_frame
        first, last = start // k, -(-stop // k)
        try:
            record = wfdb.rdrecord(str(self._base), sampfrom=first,
                                   sampto=last if self._known_length else None, channels=order,
                                   physical=True, m2s=True, smooth_frames=k == 1)
            if k == 1:
                signal = np.asarray(record.p_signal, dtype=np.float32)
            else:
                signal = np.column_stack([np.asarray(column, dtype=np.float32)
                                          for column in record.e_p_signal])
        except Exception as exc:  # any failure of wfdb's decoding is a bad file, named, not a crash
            raise RecordingError(self._base.with_name(self._base.name + ".hea"), "samples",
                                 f"cannot be read: {type(exc).__name__}: {exc}") from None
        signal = signal[start - first * k:stop - first * k]
        if signal.shape != (stop - start, len(order)):
            raise RecordingError(self._base.with_name(self._base.name + ".hea"), "samples",
                                 f"samples {start}..{stop} decode to {signal.shape[0]} frames of "
                                 f"{signal.shape[1] if signal.ndim == 2 else 0} signals, not "
                                 f"{stop - start} of {len(order)}")
        return signal[:, [order.index(c) for c in wanted]]


class _NullSegmentSource:
    """A fixed-layout multi-segment record with null segments (``~``, a gap: NaN), read segment by segment.

    wfdb's ``rdrecord`` fails on such a record with an AttributeError as soon as a read reaches the gap
    (it joins the segments' signals and a null segment has none), though WFDB allows ``~`` in either
    layout."""

    def __init__(self, hea: Path, segments: Sequence[tuple[str, int]], channels: Sequence[int]) -> None:
        self._hea = hea
        self._segments = list(segments)
        self._channels = list(channels)

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        wanted = [self._channels[i] for i in lead_indices]
        out = np.full((stop - start, len(wanted)), np.nan, dtype=np.float32)
        first = 0
        for name, length in self._segments:
            low, high = max(start, first), min(stop, first + length)
            if name != "~" and low < high:
                try:
                    part = wfdb.rdrecord(str(self._hea.with_name(name)), sampfrom=low - first,
                                         sampto=high - first, channels=wanted, physical=True).p_signal
                    out[low - start:high - start] = np.asarray(part, dtype=np.float32)
                except Exception as exc:  # wfdb's decoding of a bad segment: named, not a crash
                    raise RecordingError(self._hea.with_name(f"{name}.hea"), "samples",
                                         f"cannot be read: {type(exc).__name__}: {exc}") from None
            first += length
        return out


def _comment_fields(comments: Sequence[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for comment in comments:
        key, sep, value = comment.partition(":")
        if sep and key.strip() and " " not in key.strip():
            fields[key.strip().lower()] = value.strip()
    return fields


def _patient(fields: dict[str, str], warnings: list[str]) -> PatientInfo:
    birth = None
    if fields.get("birth_date"):
        try:
            birth = date.fromisoformat(fields["birth_date"])
        except ValueError:
            warnings.append(f"birth_date {fields['birth_date']!r} (a header comment) is not a valid "
                            "YYYY-MM-DD date; read as unknown")
    return PatientInfo(patient_id=fields.get("patient_id"), first_name=fields.get("first_name"),
                       last_name=fields.get("last_name"), sex=fields.get("sex"), birth_date=birth)


def decode_event_note(sample: int, note: str) -> EventMarker:
    """Inverse of :func:`ecgdesk.records.writers.encode_event_note`."""
    text, kind, duration = note.strip(), EventKind.PATIENT_TRIGGERED, 0
    if text.endswith("}") and "{" in text:
        head, _, tail = text[:-1].rpartition("{")
        if is_digits(tail):
            text, duration = head.rstrip(), int(tail)
    if text.startswith("[") and "]" in text:
        name, _, rest = text[1:].partition("]")
        if name in EventKind._value2member_map_:
            text, kind = rest.strip(), EventKind(name)
    return EventMarker(sample=sample, label=text, kind=kind, duration_samples=duration)


def _events(base: Path, warnings: list[str]) -> tuple[EventMarker, ...]:
    """Event markers of the ``.evt`` side file; a bad side file is a warning, never the recording's end."""
    side = base.with_name(f"{base.name}.{EVENT_EXTENSION}")
    if not side.exists():
        return ()
    try:
        check_regular_file(side)
        annotations = read_wfdb_annotations(base, EVENT_EXTENSION)
        rows = zip(annotations.sample, annotations.symbol, annotations.aux_note, strict=True)
        return tuple(decode_event_note(int(s), n or sym) for s, sym, n in rows)
    except RecordingError as error:
        warnings.append(f"event file {side.name} ignored: {error.reason}")
    except (ValueError, TypeError, IndexError, KeyError, UnicodeError) as error:  # wfdb's decoding
        warnings.append(f"event file {side.name} ignored: cannot be decoded ({error})")
    return ()


def _signal_header(header: Any) -> Any:
    """The header that carries signal specifications (itself, or the layout/first segment)."""
    if not isinstance(header, wfdb.MultiRecord):
        return header
    for segment in header.segments or []:
        if segment is not None:
            return segment
    return header


def _check_files(folder: Path, header: HeaderText, sig_len: int) -> None:
    """Every signal file is a regular file of the size the header implies (FLAC files: regular only)."""
    sizes = expected_file_sizes(header, sig_len)
    for index, signal in enumerate(header.signals):
        if signal.file_name == "~":
            continue
        path = folder / signal.file_name
        check_regular_file(path, f"file_name[{index}]")
        if signal.file_name in sizes:
            expected, what = sizes.pop(signal.file_name)
            check_size(path, expected, "sig_len", what)


#: MATLAB v4 matrix types (MOPT, little-endian numeric) wfdb2mat writes: double, single, int32, int16,
#: uint16, uint8
_MAT_TYPES = {0, 10, 20, 30, 40, 50}


def _mat_header_warnings(folder: Path, header: HeaderText, sig_len: int) -> list[str]:
    """A ``.mat`` signal file (wfdb2mat, the byte offset skipping its MATLAB v4 header) whose header is not
    the matrix of this record: its samples are read as the ``.hea`` says, but the file may be another
    record's or damaged, so it is said."""
    warnings = []
    for name in dict.fromkeys(s.file_name for s in header.signals if s.file_name.endswith(".mat")):
        first = next(s for s in header.signals if s.file_name == name)
        if first.byte_offset < 20:
            continue
        with open(folder / name, "rb") as handle:
            head = handle.read(20)
        if len(head) < 20:
            continue
        kind, rows, cols, imaginary, name_length = np.frombuffer(head[:20], dtype="<i4").tolist()
        width = sum(s.file_name == name for s in header.signals)
        if (kind not in _MAT_TYPES or imaginary != 0 or sorted((rows, cols)) != sorted((width, sig_len))
                or not 0 < name_length <= first.byte_offset - 20):
            warnings.append(f"{name}: field 'MAT header': not the {width} x {sig_len} matrix of this record "
                            f"(type {kind}, {rows} x {cols}, imaginary flag {imaginary}, name length "
                            f"{name_length}); the samples are read as the header says, but the file may be "
                            "damaged or another record's")
    return warnings


def _check_segments(hea: Path, header: HeaderText) -> list[str]:
    """Each segment header of a multi-segment record, checked as a header of its own, with its files."""
    warnings: list[str] = []
    total = sum(length for _, length in header.segments)
    if header.sig_len is not None and header.sig_len != total:
        # wfdb then fails on a read past the last segment with "ValueError: True is not in list"
        raise RecordingError(hea, "sig_len", f"the record line gives {header.sig_len} samples but its "
                                             f"segments hold {total}")
    for i, (name, length) in enumerate(header.segments):
        if name == "~":
            continue
        segment = read_header_text(hea.with_name(f"{name}.hea"), segment=True)
        warnings += segment.warnings
        if segment.sig_len is not None and segment.sig_len != length and not (i == 0 and length == 0):
            raise RecordingError(hea, f"segment[{i}]", f"segment {name} is listed with {length} samples "
                                                       f"but its header gives {segment.sig_len}")
        if not segment.multi_segment:
            _check_files(hea.parent, segment, segment.sig_len if segment.sig_len is not None else length)
    return warnings


def _memmap_source(base: Path, header: Any, channels: Sequence[int]) -> _MemmapSource | None:
    """Format-16 files read straight from a memory map; ``channels``: the signals read, in header order."""
    if any(f != "16" for f in header.fmt) or any((s or 1) != 1 for s in header.samps_per_frame):
        return None
    if any(s for s in (header.skew or []) if s):
        return None
    files: list[_SignalFile] = []
    order: list[str] = []
    for name in header.file_name:
        if not order or order[-1] != name:
            if name in order:
                return None  # signals of one file not contiguous in the header
            order.append(name)
    for name in order:
        width = header.file_name.count(name)
        offset = header.byte_offset[header.file_name.index(name)] or 0
        files.append(_SignalFile(base.parent / name, int(offset), width))
    gains = np.array([header.adc_gain[i] or DEFAULT_GAIN for i in channels], dtype=np.float32)
    baselines = np.array([header.baseline[i] for i in channels], dtype=np.float32)
    return _MemmapSource(files, gains, baselines, [_column(header.file_name, order, i) for i in channels])


def _column(file_names: Sequence[str], order: list[str], index: int) -> tuple[int, int]:
    """(file number, column in that file) of signal ``index``."""
    name = file_names[index]
    return order.index(name), index - file_names.index(name)


def _sig_len_from_size(hea: Path, text: HeaderText) -> int:
    """A header without a sample count: the count follows from the size of its one signal file, when every
    signal is stored in one fixed-size format (FLAC and mixed formats do not say)."""
    files = {s.file_name for s in text.signals}
    formats = {s.fmt for s in text.signals}
    fixed_size = len(formats) == 1 and next(iter(formats)) in BYTES_PER_SAMPLE
    if text.multi_segment or len(files) != 1 or not fixed_size:
        raise RecordingError(hea, "sig_len", "the header gives no sample count, and the signal files do not "
                                             "tell it (one file of one fixed-size format would)")
    first = text.signals[0]
    size = check_regular_file(hea.parent / first.file_name, "file_name[0]")
    per_frame = sum(s.samples_per_frame for s in text.signals)
    return int(max(0, size - first.byte_offset) // (per_frame * BYTES_PER_SAMPLE[first.fmt]))


#: Signal names of what is not a signal: an EDF+ annotation channel carried over into a WFDB record.
_NOT_SIGNALS = frozenset(label.lower() for label in ANNOTATION_LABELS)


def _volt_channels(hea: Path, signals: Any, text: HeaderText, warnings: list[str]) -> list[int]:
    """Indices of the signals in volts; any other signal (a pressure, a heart rate) is left out, said so.

    The units are read from the header's own text where it has the signal lines (wfdb reads a unit it cannot
    decode, such as a degree sign, as mV); an EDF annotation channel is no signal whatever its unit.
    """
    units = signals.units or ["mV"] * signals.n_sig
    if len(text.signals) == signals.n_sig:
        units = [s.units or "mV" for s in text.signals]
    channels = []
    for i, unit in enumerate(units):
        name = signals.sig_name[i] or "unnamed"
        if name.strip().lower() in _NOT_SIGNALS:
            warnings.append(f"{hea.name}: signal {i + 1} ({name}) left out: an annotation channel, not a "
                            "signal")
        elif (unit or "mV").strip().lower() in _VOLT_UNITS:
            channels.append(i)
        else:
            warnings.append(f"{hea.name}: signal {i + 1} ({name}) left out: its unit {unit!r} is not a "
                            "voltage")
    if not channels:
        raise RecordingError(hea, "units", f"no signal is in volts (units {units})")
    return channels


def _samples_per_frame(hea: Path, signals: Any, channels: list[int],
                       warnings: list[str]) -> tuple[int, list[int]]:
    """(samples a frame holds for each signal read, the signals read): the recording's rate is the frame
    rate times that count.

    Where the signals hold different counts, the ECG-labelled ones decide: when they share one count, the
    signals with another (a pressure or respiration channel at the frame rate, as MIMIC writes them) are left
    out. Otherwise every signal is averaged to the frame rate by wfdb, which is said.
    """
    per_frame = signals.samps_per_frame or [1] * signals.n_sig
    counts = {i: int(per_frame[i] or 1) for i in channels}
    if len(set(counts.values())) == 1:
        return counts[channels[0]], channels
    ecg = {counts[i] for i in channels if ECG_LABEL.search((signals.sig_name[i] or "").strip())}
    if len(ecg) == 1:
        (kept,) = ecg
        for i in channels:
            if counts[i] != kept:
                warnings.append(f"{hea.name}: signal {i + 1} ({signals.sig_name[i] or 'unnamed'}) left out: "
                                f"{counts[i]} samples per frame where the ECG leads have {kept}")
        return kept, [i for i in channels if counts[i] == kept]
    averaged = [signals.sig_name[i] or f"ch{i + 1}" for i in channels if counts[i] > 1]
    warnings.append(f"{hea.name}: signals {', '.join(averaged)} hold several samples per frame, the others "
                    "one: they are read averaged to the frame rate")
    return 1, channels


def read_wfdb(path: str | Path) -> Recording:
    """Open a WFDB record (header only); ``path`` may name the record, its ``.hea`` or its ``.dat``."""
    base = record_base(Path(path))
    hea = base.with_name(base.name + ".hea")
    if not hea.exists():
        raise RecordingError(hea, "file", "WFDB header not found")
    text = read_header_text(hea)
    warnings = list(text.warnings)
    if text.multi_segment:
        warnings += _check_segments(hea, text)
    try:
        header = wfdb.rdheader(str(base), rd_segments=True)
    except Exception as exc:  # wfdb raises bare Exception (and many others) for malformed headers
        raise RecordingError(hea, "header", f"not a valid WFDB header: {exc}") from None
    fs = check_fs(hea, header.fs)
    signals = _signal_header(header)
    if not getattr(signals, "n_sig", 0) or not getattr(signals, "fmt", None):
        raise RecordingError(hea, "n_sig", "the record has no signals")
    known_length = header.sig_len is not None
    sig_len = header.sig_len if known_length else _sig_len_from_size(hea, text)
    if sig_len < 0:
        raise RecordingError(hea, "sig_len", f"must be >= 0, got {sig_len}")
    channels = _volt_channels(hea, signals, text, warnings)
    per_frame, channels = _samples_per_frame(hea, signals, channels, warnings)
    source: _MemmapSource | _RdrecordSource | _NullSegmentSource | None = None
    if not text.multi_segment:
        _check_files(base.parent, text, sig_len)
        warnings += _mat_header_warnings(base.parent, text, sig_len)
        source = _memmap_source(base, signals, channels)
    elif per_frame == 1 and text.segments[0][1] > 0 and any(name == "~" for name, _ in text.segments):
        source = _NullSegmentSource(hea, text.segments, channels)  # fixed layout (no layout segment)
    if source is None:
        source = _RdrecordSource(base, channels, per_frame, known_length)
    if not known_length:
        warnings.append(f"{hea.name}: the header gives no sample count; {sig_len} frames from the size of "
                        f"the signal file")
    fs *= per_frame
    sig_len *= per_frame
    leads = tuple(
        Lead(name=clean_label(signals.sig_name[i] or f"ch{i + 1}", f"{hea.name}: description[{i}]",
                              f"ch{i + 1}", warnings),
             unit=(signals.units[i] or "mV") if signals.units else "mV",
             gain=float(signals.adc_gain[i] or DEFAULT_GAIN) if signals.adc_gain else 1.0,
             baseline=int(signals.baseline[i]) if signals.baseline else 0)
        for i in channels
    )
    fields = _comment_fields(header.comments or [])
    events = _events(base, warnings)
    patient = _patient(fields, warnings)
    return Recording(
        fs=fs, n_samples=int(sig_len), leads=leads, source=source, format=RecordingFormat.WFDB, path=hea,
        start_time=text.start, device=fields.get("device"), patient=patient,
        events=events, record_name=base.name, warnings=tuple(warnings),
    )
