"""EDF / EDF+ / BDF through ``pyedflib``, with a small header parser for files pyedflib refuses.

Channel rule: EDF files often carry several signal types at different rates (EEG, respiration, SpO2,
ECG). We keep the channels whose physical dimension is a voltage; among those, the ones whose label names
an ECG lead (``ECG``, ``EKG``, ``I`` ... ``V6``, ``MLII``, ``CM5`` ...) if there are any; then only the
channels at the most common sampling rate among them (ties go to the higher rate). EDF+ annotations
become :class:`EventMarker` of kind ``ANNOTATION``.

pyedflib (edflib) rejects files whose header text is not strict printable ASCII (e.g. a ``°`` unit);
such 16-bit EDF files are read by :class:`_RawEdf`, a header parser with a numpy memory map.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyedflib

from ecgdesk.errors import RecordingError
from ecgdesk.records._checks import check_fs, check_size
from ecgdesk.records.recording import EventKind, EventMarker, Lead, PatientInfo, Recording, RecordingFormat

_VOLTS = {"uv": "uV", "µv": "uV", "μv": "uV", "mv": "mV", "v": "V", "nv": "nV"}
_ECG_LABEL = re.compile(
    r"(ecg|ekg|^(lead\s*)?(i|ii|iii|avr|avl|avf|v[1-6]|mlii|ml2|cm[1-6]|x|y|z)$)", re.IGNORECASE
)
_ANNOTATION_LABEL = "EDF Annotations"


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


@dataclass(frozen=True)
class _Channel:
    index: int
    label: str
    unit: str
    fs: float
    n_samples: int
    phys_min: float
    phys_max: float
    dig_min: int
    dig_max: int

    @property
    def scale(self) -> float:
        return (self.phys_max - self.phys_min) / (self.dig_max - self.dig_min)


def _volt_unit(text: str) -> str | None:
    return _VOLTS.get(text.strip().lower())


def select_ecg_channels(channels: Sequence[_Channel]) -> list[_Channel]:
    """The documented rule: voltage channels, ECG-labelled ones if any, at the most common rate."""
    volts = [c for c in channels if _volt_unit(c.unit) and c.label != _ANNOTATION_LABEL]
    ecg = [c for c in volts if _ECG_LABEL.search(c.label.strip())]
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
            reader = pyedflib.EdfReader(str(self._path))
        except OSError as exc:
            raise RecordingError(self._path, "samples", f"cannot be read: {exc}") from None
        with contextlib.closing(reader):
            for j, index in enumerate(lead_indices):
                out[:, j] = reader.readSignal(self._channels[index], start, stop - start, digital=False)
        return out


class _RawEdf:
    """Minimal EDF(+) header parser and memory-mapped 16-bit data, for headers pyedflib refuses."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as file:
            fixed = file.read(256)
            if not looks_like_edf(fixed) or fixed[:1] != b"0":
                raise RecordingError(path, "header", "not a 16-bit EDF header")
            n = int(fixed[252:256].decode("ascii"))
            head = fixed + file.read(256 * n)
        self.fixed = fixed
        self.n_signals = n
        text = head[256:].decode("latin-1")
        pos = 0

        def field(width: int) -> list[str]:
            nonlocal pos
            values = [text[pos + i * width: pos + (i + 1) * width].strip() for i in range(n)]
            pos += width * n
            return values

        labels, _transducer, units = field(16), field(80), field(8)
        pmin, pmax, dmin, dmax = field(8), field(8), field(8), field(8)
        _prefilter, spr_text = field(80), field(8)
        try:
            self.record_seconds = float(fixed[244:252].decode("ascii").strip())
            n_records = int(fixed[236:244].decode("ascii").strip())
            spr = [int(v) for v in spr_text]
            phys = [(float(a), float(b)) for a, b in zip(pmin, pmax, strict=True)]
            digs = [(int(a), int(b)) for a, b in zip(dmin, dmax, strict=True)]
        except ValueError as exc:
            raise RecordingError(path, "header", f"a numeric header field is not a number: {exc}") from None
        self.record_width = sum(spr)
        if n_records < 0:  # allowed while recording; derive from the size
            n_records = (path.stat().st_size - len(head)) // (2 * max(self.record_width, 1))
        check_size(path, len(head) + 2 * n_records * self.record_width, "number_of_data_records",
                   f"{n_records} data records of {self.record_width} samples")
        self.n_records = n_records
        self.offsets = np.concatenate([[0], np.cumsum(spr)])
        self.channels = [
            _Channel(i, labels[i], units[i], spr[i] / self.record_seconds if self.record_seconds > 0 else 0.0,
                     spr[i] * n_records, phys[i][0], phys[i][1], digs[i][0], digs[i][1])
            for i in range(n)
        ]
        self.data: np.memmap | None = None
        if n_records and self.record_width:
            self.data = np.memmap(path, dtype="<i2", mode="r", offset=len(head),
                                  shape=(n_records, self.record_width))

    def digital(self, index: int, start: int, stop: int) -> np.ndarray:
        spr = int(self.offsets[index + 1] - self.offsets[index])
        first, last = start // spr, math.ceil(stop / spr)
        assert self.data is not None
        block = self.data[first:last, self.offsets[index]: self.offsets[index + 1]].reshape(-1)
        return np.asarray(block[start - first * spr: stop - first * spr])

    def annotations(self) -> list[tuple[float, float, str]]:
        found: list[tuple[float, float, str]] = []
        for channel in self.channels:
            if channel.label != _ANNOTATION_LABEL or self.data is None:
                continue
            raw = self.data[:, self.offsets[channel.index]: self.offsets[channel.index + 1]].tobytes()
            for tal in raw.split(b"\x00"):
                parts = tal.split(b"\x14")
                if len(parts) < 2:
                    continue
                onset, _, duration = parts[0].partition(b"\x15")
                for text in parts[1:]:
                    if text.strip():
                        found.append((float(onset), float(duration or 0), text.decode("utf-8", "replace")))
        return found


class _RawSource:
    def __init__(self, raw: _RawEdf, channels: Sequence[_Channel]) -> None:
        self._raw = raw
        self._channels = list(channels)

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        out = np.empty((stop - start, len(lead_indices)), dtype=np.float32)
        for j, index in enumerate(lead_indices):
            channel = self._channels[index]
            digital = self._raw.digital(channel.index, start, stop).astype(np.float64)
            out[:, j] = channel.phys_min + (digital - channel.dig_min) * channel.scale
        return out


def _edf_start(fixed: bytes) -> datetime | None:
    try:
        return datetime.strptime(fixed[168:184].decode("ascii"), "%d.%m.%y%H.%M.%S")
    except ValueError:
        return None


def _events(items: Sequence[tuple[float, float, str]], fs: float) -> tuple[EventMarker, ...]:
    return tuple(EventMarker(sample=int(round(onset * fs)), label=text, kind=EventKind.ANNOTATION,
                             duration_samples=int(round(max(duration, 0.0) * fs)))
                 for onset, duration, text in items)


def _leads(chosen: Sequence[_Channel]) -> tuple[Lead, ...]:
    return tuple(Lead(name=c.label or f"ch{c.index + 1}", unit=_volt_unit(c.unit) or "mV",
                      gain=1.0 / c.scale if c.scale else 1.0,
                      baseline=int(round(c.dig_min - c.phys_min / c.scale)) if c.scale else 0)
                 for c in chosen)


def _no_ecg(path: Path, channels: Sequence[_Channel]) -> RecordingError:
    described = ", ".join(f"{c.label!r} [{c.unit}]" for c in channels) or "none"
    return RecordingError(path, "signals", f"no ECG channel in volts; the signals are {described}")


def _read_raw(path: Path) -> Recording:
    raw = _RawEdf(path)
    chosen = select_ecg_channels(raw.channels)
    if not chosen:
        raise _no_ecg(path, raw.channels)
    fs = check_fs(path, chosen[0].fs, "samples_per_record")
    n_samples = min(c.n_samples for c in chosen)
    return Recording(fs=fs, n_samples=n_samples, leads=_leads(chosen), source=_RawSource(raw, chosen),
                     format=RecordingFormat.EDF, path=path, start_time=_edf_start(raw.fixed),
                     device=None, events=_events(raw.annotations(), fs), record_name=path.stem)


def _patient(reader: Any) -> PatientInfo:
    sex = (reader.getSex() if hasattr(reader, "getSex") else reader.getGender()) or None
    name = reader.getPatientName() or ""
    last, _, first = name.partition("_")
    return PatientInfo(patient_id=reader.getPatientCode() or None, first_name=first or None,
                       last_name=last or None, sex=sex)


def read_edf(path: str | Path) -> Recording:
    """Open an EDF/EDF+/BDF file (header only); see the module docstring for the channel rule."""
    path = Path(path)
    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as exc:
        message = str(exc)
        if "not EDF(+) or BDF(+) compliant" in message:
            return _read_raw(path)
        raise RecordingError(path, "header", message.replace(f"{path}: ", "")) from None
    with contextlib.closing(reader):
        channels = []
        for i in range(reader.signals_in_file):
            header = reader.getSignalHeader(i)
            channels.append(_Channel(
                i, str(header["label"]), str(header["dimension"]), float(reader.getSampleFrequency(i)),
                int(reader.getNSamples()[i]), float(header["physical_min"]), float(header["physical_max"]),
                int(header["digital_min"]), int(header["digital_max"]),
            ))
        chosen = select_ecg_channels(channels)
        if not chosen:
            raise _no_ecg(path, channels)
        fs = check_fs(path, chosen[0].fs, "sample_frequency")
        onsets, durations, texts = reader.readAnnotations()
        items = [(float(o), float(d), str(t)) for o, d, t in zip(onsets, durations, texts, strict=True)]
        start = reader.getStartdatetime()
        recording = Recording(
            fs=fs, n_samples=min(c.n_samples for c in chosen), leads=_leads(chosen),
            source=_PyedflibSource(path, [c.index for c in chosen]), format=RecordingFormat.EDF,
            path=path, start_time=start, device=reader.getEquipment() or None, patient=_patient(reader),
            events=_events(items, fs), record_name=path.stem,
        )
    return recording
