"""EDF / EDF+ / BDF through ``pyedflib``, with a small header parser for files pyedflib refuses.

Channel rule: EDF files often carry several signal types at different rates (EEG, respiration, SpO2,
ECG). We keep the channels whose physical dimension is a voltage; among those, the ones whose label names
an ECG lead (``ECG``, ``EKG``, ``I`` ... ``V6``, ``MLII``, ``CM5`` ...) if there are any; then only the
channels at the most common sampling rate among them (ties go to the higher rate). EDF+ annotations
become :class:`EventMarker` of kind ``ANNOTATION``.

pyedflib (edflib) rejects files whose header text is not strict printable ASCII (e.g. a ``°`` unit);
such EDF (16-bit) and BDF (24-bit) files are read by :class:`_RawEdf`, a header parser with a numpy memory
map.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyedflib

from ecgdesk.errors import RecordingError
from ecgdesk.records._checks import ECG_LABEL, check_fs, clean_label
from ecgdesk.records._edf_header import (
    ANNOTATION_LABELS,
    Channel,
    EdfHeader,
    channel_problem,
    check_channel,
    read_edf_header,
)
from ecgdesk.records.recording import (
    EventKind,
    EventMarker,
    Lead,
    PatientInfo,
    Recording,
    RecordingFormat,
    SignalSource,
)

_VOLTS = {"uv": "uV", "µv": "uV", "μv": "uV", "mv": "mV", "v": "V", "nv": "nV"}


def looks_like_edf(head: bytes) -> bool:
    """EDF version field ``0`` (or BDF's ``\\xffBIOSEMI``) and a header size of 256 x (signals + 1)."""
    if len(head) < 256 or head[:8] not in (b"0       ", b"\xffBIOSEMI"):
        return False
    try:
        n_signals = int(head[252:256].decode("ascii").strip())
        header_bytes = int(head[184:192].decode("ascii").strip())
    except ValueError:
        return False
    return n_signals >= 0 and header_bytes == 256 * (n_signals + 1)


_Channel = Channel  # the name the detection-rule tests use


def _volt_unit(text: str) -> str | None:
    return _VOLTS.get(text.strip().lower())


def select_ecg_channels(channels: Sequence[Channel]) -> list[Channel]:
    """The documented rule: voltage channels, ECG-labelled ones if any, at the most common rate."""
    volts = [c for c in channels if _volt_unit(c.unit) and c.label not in ANNOTATION_LABELS]
    ecg = [c for c in volts if ECG_LABEL.search(c.label.strip())]
    chosen = ecg or volts
    if not chosen:
        return []
    counts = Counter(c.fs for c in chosen)
    best = max(counts.items(), key=lambda item: (item[1], item[0]))[0]
    return [c for c in chosen if c.fs == best]


class _PyedflibSource:
    """Physical values through ``EdfReader.readSignal`` (seeks to the range).

    edflib lets a process open a file only once at a time, so the reader is opened per read and closed
    again: two recordings of one file (or a file also open elsewhere) never clash.
    """

    def __init__(self, path: Path, channels: Sequence[int]) -> None:
        self._path = path
        self._channels = list(channels)

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        out = np.empty((stop - start, len(lead_indices)), dtype=np.float32)
        try:
            reader = pyedflib.EdfReader(_edflib_name(self._path))
        except OSError as exc:
            raise RecordingError(self._path, "samples", f"cannot be read: {exc}") from None
        with contextlib.closing(reader):
            for j, index in enumerate(lead_indices):
                try:
                    out[:, j] = reader.readSignal(self._channels[index], start, stop - start, digital=False)
                except Exception as exc:  # pyedflib on a file that changed or lies about its records
                    raise RecordingError(self._path, "samples",
                                         f"cannot be read: {type(exc).__name__}: {exc}") from None
        return out


class _RawEdf:
    """Memory-mapped data of a checked header (16-bit EDF or 24-bit BDF), for files pyedflib refuses."""

    def __init__(self, header: EdfHeader) -> None:
        path = header.path
        if header.bytes_per_sample not in (2, 3):
            raise RecordingError(path, "header", f"{header.bytes_per_sample}-byte samples are neither EDF's "
                                                 "16 nor BDF's 24 bits")
        self.path = path
        self.width = header.bytes_per_sample
        self.fixed = header.fixed
        self.n_records = header.n_records
        self.record_width = header.record_width
        self.offsets = np.concatenate([[0], np.cumsum(header.samples_per_record)])
        self.channels = list(header.channels)
        self.warnings: list[str] = []
        self.data: np.memmap | None = None
        if self.n_records and self.record_width:
            # bytes, so that one map serves both sample widths; a record is record_width samples
            self.data = np.memmap(path, dtype=np.uint8, mode="r", offset=header.header_bytes,
                                  shape=(self.n_records, self.record_width * self.width))

    def _bytes(self, index: int) -> slice:
        return slice(int(self.offsets[index]) * self.width, int(self.offsets[index + 1]) * self.width)

    def digital(self, index: int, start: int, stop: int) -> np.ndarray:
        spr = int(self.offsets[index + 1] - self.offsets[index])
        first, last = start // spr, math.ceil(stop / spr)
        assert self.data is not None
        block = np.ascontiguousarray(self.data[first:last, self._bytes(index)]).reshape(-1, self.width)
        if self.width == 2:
            samples = block.view("<i2").reshape(-1).astype(np.int32)
        else:  # little-endian 24-bit two's complement
            samples = (block[:, 0].astype(np.int32) | (block[:, 1].astype(np.int32) << 8)
                       | (block[:, 2].astype(np.int32) << 16))
            samples = np.where(samples >= 1 << 23, samples - (1 << 24), samples)
        return samples[start - first * spr: stop - first * spr]

    def record_onsets(self, count: int | None = None) -> np.ndarray | None:
        """Each data record's start in seconds (the first ``count``), from the time-keeping annotation that
        opens it (EDF+ 2003, section 2.2.4); None when a record has none (then the records are taken as
        back to back)."""
        annotation = next((c for c in self.channels if c.label in ANNOTATION_LABELS), None)
        if annotation is None or self.data is None:
            return None
        count = self.n_records if count is None else min(count, self.n_records)
        onsets = np.empty(count)
        for record in range(count):
            first = self.data[record, self._bytes(annotation.index)].tobytes().split(b"\x14", 1)[0]
            try:
                onsets[record] = float(first)
            except ValueError:
                return None
        return onsets if np.all(np.isfinite(onsets)) else None

    def annotations(self) -> list[tuple[float, float, str]]:
        found: list[tuple[float, float, str]] = []
        skipped = 0
        for channel in self.channels:
            if channel.label not in ANNOTATION_LABELS or self.data is None:
                continue
            raw = self.data[:, self._bytes(channel.index)].tobytes()
            for tal in raw.split(b"\x00"):
                parts = tal.split(b"\x14")
                if len(parts) < 2:
                    continue
                onset, _, duration = parts[0].partition(b"\x15")
                try:
                    start, span = float(onset), float(duration or 0)
                except ValueError:
                    skipped += 1
                    continue
                if not (math.isfinite(start) and math.isfinite(span)):
                    skipped += 1
                    continue
                for text in parts[1:]:
                    if text.strip():
                        found.append((start, span, text.decode("utf-8", "replace")))
        if skipped:
            self.warnings.append(f"EDF+ annotations: {skipped} entries with an unreadable onset or duration "
                                 "ignored")
        return found


class _RawSource:
    def __init__(self, raw: _RawEdf, channels: Sequence[Channel]) -> None:
        self._raw = raw
        self._channels = list(channels)

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        out = np.empty((stop - start, len(lead_indices)), dtype=np.float32)
        for j, index in enumerate(lead_indices):
            channel = self._channels[index]
            digital = self._raw.digital(channel.index, start, stop).astype(np.float64)
            out[:, j] = channel.phys_min + (digital - channel.dig_min) * channel.scale
        return out


def _events(items: Sequence[tuple[float, float, str]], fs: float, n_samples: int, path: Path,
            warnings: list[str], joined: Callable[[float], float] = float) -> tuple[EventMarker, ...]:
    """The annotations on the samples; one whose onset lies before the first sample or after the last
    (EDF+ allows a negative onset) marks nothing read: left out, and said (``ecgdesk info`` showed
    "-1 day, 23:59:59.5", and ``convert`` dropped them unsaid)."""
    events, outside = [], []
    for onset, duration, text in items:
        sample = int(round(joined(onset) * fs))
        if 0 <= sample <= n_samples:
            events.append(EventMarker(sample=sample, label=text, kind=EventKind.ANNOTATION,
                                      duration_samples=int(round(max(duration, 0.0) * fs))))
        else:
            outside.append(f"{text!r} at {sample / fs:g} s")
    if outside:
        warnings.append(f"{path.name}: field 'EDF Annotations': {len(outside)} annotation"
                        f"{'s' * (len(outside) > 1)} outside the recording (0 to {n_samples / fs:g} s) "
                        f"left out: {', '.join(outside[:3])}{' ...' * (len(outside) > 3)}")
    return tuple(events)


#: The longest an EDF+D file may span with its gaps (a monitoring period is at most 30 days): a record
#: onset beyond it is a damaged time-keeping annotation, not a gap of months of NaN to analyse.
MAX_GAPPED_SPAN_S = 31 * 86400.0


class _GappedSource:
    """An EDF+D file's samples on the file's own time: each run of back-to-back records where it was
    recorded, NaN in the gaps between (as WFDB's null segments read), so the analysis sees no signal
    there and places every later beat and annotation at its true time."""

    def __init__(self, inner: _RawSource, runs: Sequence[tuple[int, int, int]]) -> None:
        self._inner = inner
        self._runs = list(runs)  # (first sample on the file's time, first sample in the file, length)

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        out = np.full((stop - start, len(lead_indices)), np.nan, dtype=np.float32)
        for at, first, length in self._runs:
            low, high = max(start, at), min(stop, at + length)
            if low < high:
                out[low - start:high - start] = self._inner.read(first + low - at, first + high - at,
                                                                 lead_indices)
        return out


def _discontinuous(raw: _RawEdf, header: EdfHeader, fs: float, spr: int,
                   warnings: list[str]) -> tuple[list[tuple[int, int, int]] | None, Callable[[float], float]]:
    """Where an EDF+D file's records lie on its own time: the runs of back-to-back records (as
    :class:`_GappedSource` takes them; None when there is no gap) and the map from an annotation's onset
    to its time after the first sample. The gaps are said (count, total, where the first is)."""
    onsets = raw.record_onsets()
    seconds = header.record_seconds
    if onsets is None:
        warnings.append(f"{header.path.name}: EDF+D (discontinuous) file whose data records do not all "
                        "start with a time-keeping annotation: they are read back to back, so any gaps "
                        "between them are not shown")
        return None, float
    gaps = np.diff(onsets) - seconds
    back = np.flatnonzero(gaps < -0.5 / fs)
    if len(back):  # the time of the samples after it would be made up: refused, naming the record
        k = int(back[0]) + 1
        raise RecordingError(header.path, "EDF Annotations", f"data record {k} starts at {onsets[k]:g} s, "
                             f"before record {k - 1} ends ({onsets[k - 1] + seconds:g} s): EDF+D records "
                             "must follow one another in time, without overlap")
    jumps = np.flatnonzero(np.abs(gaps) > 0.5 / fs)
    if not len(jumps):
        return None, lambda onset: onset - float(onsets[0])  # discontinuous in name only
    span = float(onsets[-1] - onsets[0]) + seconds
    if span > MAX_GAPPED_SPAN_S:
        k = int(jumps[-1]) + 1
        raise RecordingError(header.path, "EDF Annotations", f"data record {k} starts at {onsets[k]:g} s: "
                             f"the file would span {span / 86400:.1f} days with its gaps, more than the "
                             f"{MAX_GAPPED_SPAN_S / 86400:g} an ECG recording may; its time-keeping "
                             "annotation is damaged")
    # Each run of records starts at its first record's onset (in samples); a run after a gap shorter
    # than a sample's rounding still starts after the one before ends.
    starts = np.concatenate([[0], jumps + 1])
    runs: list[tuple[int, int, int]] = []
    for i, first in enumerate(starts):
        last = int(starts[i + 1]) if i + 1 < len(starts) else raw.n_records
        at = int(round(float(onsets[first] - onsets[0]) * fs))
        if runs:
            at = max(at, runs[-1][0] + runs[-1][2])
        runs.append((at, int(first) * spr, (last - int(first)) * spr))
    plural = "s" * (len(jumps) > 1)
    warnings.append(f"{header.path.name}: EDF+D (discontinuous) file: {len(jumps)} gap{plural} between "
                    f"its data records (together {float(np.sum(gaps[jumps])):g} s; the first after "
                    f"{(jumps[0] + 1) * seconds:g} s of recording) read as no signal (NaN), each record "
                    "at its own time")
    record_at = np.empty(len(onsets))
    for at, first, length in runs:
        count = length // spr
        record_at[first // spr:first // spr + count] = (at + np.arange(count) * spr) / fs

    def placed(onset: float) -> float:
        record = max(int(np.searchsorted(onsets, onset, side="right")) - 1, 0)
        return float(record_at[record]) + onset - float(onsets[record])

    return runs, placed


def _leads(chosen: Sequence[Channel], warnings: list[str]) -> tuple[Lead, ...]:
    return tuple(Lead(name=clean_label(c.label or f"ch{c.index + 1}", f"label[{c.index}]", f"ch{c.index + 1}",
                                       warnings, ascii_only=True), unit=_volt_unit(c.unit) or "mV",
                      gain=1.0 / c.scale if c.scale else 1.0,
                      baseline=int(round(c.dig_min - c.phys_min / c.scale)) if c.scale else 0)
                 for c in chosen)


def _no_ecg(path: Path, channels: Sequence[Channel]) -> RecordingError:
    described = ", ".join(f"{c.label!r} [{c.unit}]" for c in channels) or "none"
    return RecordingError(path, "signals", f"no ECG channel in volts; the signals are {described}")


def _first_onset(raw: _RawEdf, header: EdfHeader, warnings: list[str]) -> float:
    """When the first sample was taken, in seconds after the header's start date and time: the onset of
    the first data record's time-keeping annotation (EDF+; 0 for plain EDF or without one). EDF+ keeps it
    under 1 s (the start's fraction of a second); more is read as written, and said."""
    if header.fixed[192:196] not in (b"EDF+", b"BDF+"):
        return 0.0
    onsets = raw.record_onsets(1)
    onset = float(onsets[0]) if onsets is not None and len(onsets) else 0.0
    if not 0 <= onset < 1:
        warnings.append(f"{header.path.name}: field 'EDF Annotations': the first data record starts at "
                        f"{onset:+g} s from the header's start date and time (EDF+ allows 0 to 1 s); the "
                        "recording start is read as that time")
    return onset


def _shifted(start: datetime | None, seconds: float) -> datetime | None:
    if start is None or not seconds:
        return start
    try:
        return start + timedelta(seconds=seconds)
    except OverflowError:
        return None


def _read_raw(header: EdfHeader, chosen: Sequence[Channel], fs: float, warnings: list[str]) -> Recording:
    raw = _RawEdf(header)
    path = header.path
    offset = _first_onset(raw, header, warnings)
    placed: Callable[[float], float] = lambda onset: onset - offset  # noqa: E731
    n_samples = min(c.n_samples for c in chosen)
    source: SignalSource = _RawSource(raw, chosen)
    if header.fixed[192:197] in (b"EDF+D", b"BDF+D"):
        spr = int(round(chosen[0].fs * header.record_seconds))
        runs, placed = _discontinuous(raw, header, fs, spr, warnings)
        if runs is not None:
            n_samples = runs[-1][0] + runs[-1][2]
            source = _GappedSource(_RawSource(raw, chosen), runs)
    events = _events(raw.annotations(), fs, n_samples, path, warnings, placed)
    leads = _leads(chosen, warnings)
    return Recording(fs=fs, n_samples=n_samples, leads=leads,
                     source=source, format=RecordingFormat.EDF, path=path,
                     start_time=_shifted(header.start_time, offset), device=None, events=events,
                     record_name=path.stem,
                     warnings=tuple(warnings + raw.warnings))


def _patient(reader: Any) -> PatientInfo:
    sex = (reader.getSex() if hasattr(reader, "getSex") else reader.getGender()) or None
    name = reader.getPatientName() or ""
    last, _, first = name.partition("_")
    return PatientInfo(patient_id=reader.getPatientCode() or None, first_name=first or None,
                       last_name=last or None, sex=sex)


def _chosen(header: EdfHeader, warnings: list[str]) -> tuple[list[Channel], float]:
    """The channels to read (the module's rule), each checked, and their sampling rate."""
    path = header.path
    chosen = select_ecg_channels(header.channels)
    if not chosen:
        raise _no_ecg(path, header.channels)
    fs = check_fs(path, chosen[0].fs, f"samples_per_record[{chosen[0].index}]")
    for channel in chosen:
        check_channel(header, channel)
    for other in header.channels:  # not read, but a broken scale says the header is damaged: said, not hidden
        if other in chosen or other.label in ANNOTATION_LABELS:
            continue
        problem = channel_problem(header, other)
        if problem is not None:
            warnings.append(f"{header.path.name}: signal {other.index} ({other.label!r}, not read): "
                            f"{problem[0]}: {problem[1]}")
    left = [c for c in header.channels if c not in chosen and _volt_unit(c.unit) and
            ECG_LABEL.search(c.label)]
    if left:
        warnings.append("ECG channels at another sampling rate left out: "
                        + ", ".join(f"{c.label} ({c.fs:g} Hz)" for c in left))
    return chosen, fs


def _edflib_name(path: Path) -> str:
    """The name handed to pyedflib, which encodes it as UTF-8: a name that is not (Linux allows any bytes)
    is a named error, not a crash."""
    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordingError(path, "file name", "is not valid UTF-8, which the EDF library cannot open; "
                             "rename the file") from None
    return name


def read_edf(path: str | Path) -> Recording:
    """Open an EDF/EDF+/BDF file (header only); see the module docstring for the channel rule."""
    path = Path(path)
    header = read_edf_header(path)
    _edflib_name(path)
    warnings = list(header.warnings)
    chosen, fs = _chosen(header, warnings)
    try:
        reader = pyedflib.EdfReader(_edflib_name(path))
    except OSError as exc:
        message = str(exc)
        # edflib refuses every EDF+D file, gaps or not; our reader places its records on the file's time
        if "not EDF(+) or BDF(+) compliant" in message or "discontinuous" in message:
            return _read_raw(header, chosen, fs, warnings)
        raise RecordingError(path, "header", message.replace(f"{path}: ", "")) from None
    with contextlib.closing(reader):
        try:
            onsets, durations, texts = reader.readAnnotations()
            items = [(float(o), float(d), str(t)) for o, d, t in zip(onsets, durations, texts, strict=True)]
        except Exception as exc:  # pyedflib's decoding of a corrupt annotation signal
            items = []
            warnings.append(f"EDF+ annotations ignored: they cannot be decoded ({type(exc).__name__}: {exc})")
        # Our header's start (edflib's is not checked: a Startdate disagreeing) and our first onset:
        # pyedflib 0.1.42 gives a 0.25 s start fraction as 0.025 s, and edflib moves the annotations by
        # the fraction alone where the first record starts whole seconds late.
        offset = _first_onset(_RawEdf(header), header, warnings)
        start = _shifted(header.start_time, offset)
        items = [(onset - math.floor(offset), duration, text) for onset, duration, text in items]
        try:
            patient, device = _patient(reader), reader.getEquipment() or None
        except Exception as exc:  # undecodable patient or equipment text
            patient, device = PatientInfo(), None
            warnings.append(f"patient and equipment fields ignored: they cannot be decoded ({exc})")
    leads = _leads(chosen, warnings)
    n_samples = min(c.n_samples for c in chosen)
    events = _events(items, fs, n_samples, path, warnings)
    return Recording(
        fs=fs, n_samples=n_samples, leads=leads,
        source=_PyedflibSource(path, [c.index for c in chosen]), format=RecordingFormat.EDF,
        path=path, start_time=start, device=device, patient=patient, events=events,
        record_name=path.stem, warnings=tuple(warnings),
    )
