"""Streaming writers: WFDB (format 16) and ISHNE 1.0, fed block by block so a 15-day recording never
sits in memory.

>>> writer = open_writer(out_dir, "holter1", "wfdb", fs=250, leads=[Lead("CM5"), Lead("V1")])
>>> with writer:
...     for block in blocks:          # (n, n_leads) float, mV
...         writer.write(block)
>>> writer.path                        # out_dir / "holter1.hea"

Samples are stored as int16 at :data:`ADC_GAIN` ADC units per mV (1 µV per unit): the range is
±32.767 mV, values beyond it are clipped (never wrapped). In WFDB a NaN becomes -32768, the format-16
"no sample" value, which readers return as NaN; ISHNE has no such value and stores 0.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

import numpy as np
import wfdb

from ecgdesk.errors import InputError, check_option, check_positive
from ecgdesk.records import _ishne
from ecgdesk.records.recording import EventKind, EventMarker, Lead, PatientInfo, Recording

ADC_GAIN = 1000.0  # ADC units per mV: int16 covers ±32.767 mV at 1 µV resolution
WFDB_INVALID = -32768  # format-16 "no sample" value
EVENT_EXTENSION = "evt"  # WFDB annotation file holding event markers
EVENT_SYMBOL = '"'  # WFDB comment annotation; aux_note carries the label
WRITE_FORMATS = ("wfdb", "ishne")
_CHUNK_SECONDS = 600.0


class RecordingWriter(Protocol):
    """A streaming writer; use as a context manager or call :meth:`close` once at the end."""

    @property
    def path(self) -> Path:
        """The main output file (``.hea`` for WFDB, ``.ecg`` for ISHNE)."""
        ...

    @property
    def n_written(self) -> int:
        """Samples (per lead) written so far."""
        ...

    def write(self, block: np.ndarray) -> None:
        """Append samples shaped ``(n, n_leads)`` (or ``(n,)`` for one lead), float, in mV."""
        ...

    def close(self) -> Path:
        """Finish the file (header with the final sample count) and return :attr:`path`."""
        ...

    def abort(self) -> None:
        """Give up: delete the partial sample file; leaving a ``with`` block on an exception does this."""
        ...

    def __enter__(self) -> RecordingWriter: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


def to_adc(block: np.ndarray, n_leads: int, where: str | Path, invalid: int = WFDB_INVALID) -> np.ndarray:
    """mV block -> int16 ADC units (clipped to ±32767, NaN -> ``invalid``), checked for shape."""
    array = np.asarray(block, dtype=np.float64)
    if array.ndim == 1 and n_leads == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != n_leads:
        raise InputError("block", f"expected shape (n, {n_leads}), got {array.shape}", where)
    scaled = np.rint(array * ADC_GAIN)
    nan = np.isnan(scaled)
    np.clip(scaled, -32767, 32767, out=scaled)
    if nan.any():
        scaled[nan] = invalid
    return scaled.astype("<i2")


class _BaseWriter:
    """Shared streaming logic: an open sample file that blocks are appended to."""

    def __init__(self, data_path: Path, main_path: Path, n_leads: int) -> None:
        self._data_path = data_path
        self._main_path = main_path
        self._n_leads = n_leads
        self._n_written = 0
        self._closed = False
        data_path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = open(data_path, "wb")  # noqa: SIM115 - closed in close()

    @property
    def path(self) -> Path:
        return self._main_path

    @property
    def n_written(self) -> int:
        return self._n_written

    def _encode(self, block: np.ndarray) -> np.ndarray:
        return to_adc(block, self._n_leads, self._main_path)

    def write(self, block: np.ndarray) -> None:
        if self._closed:
            raise InputError("writer", "write() after close()", self._main_path)
        adc = self._encode(block)
        self._accumulate(adc)
        self._file.write(adc.tobytes())
        self._n_written += int(adc.shape[0])

    def _accumulate(self, adc: np.ndarray) -> None:
        """Hook for per-block bookkeeping (checksums)."""

    def _finish(self) -> None:
        raise NotImplementedError

    def close(self) -> Path:
        if not self._closed:
            self._closed = True
            self._file.close()
            self._finish()
        return self._main_path

    def abort(self) -> None:
        """Stop without finishing: close and delete the partial sample file (no header is written)."""
        if not self._closed:
            self._closed = True
            self._file.close()
            self._data_path.unlink(missing_ok=True)

    def __enter__(self) -> _BaseWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _patient_comments(patient: PatientInfo | None, device: str | None) -> list[str]:
    comments = []
    if patient is not None:
        for key in ("patient_id", "first_name", "last_name", "sex"):
            value = getattr(patient, key)
            if value:
                comments.append(f"{key}: {value}")
        if patient.birth_date:
            comments.append(f"birth_date: {patient.birth_date.isoformat()}")
    if device:
        comments.append(f"device: {device}")
    return comments


def encode_event_note(event: EventMarker) -> str:
    """aux_note text of an event: the label, prefixed with ``[kind]`` unless patient-triggered."""
    text = event.label
    if event.kind is not EventKind.PATIENT_TRIGGERED:
        text = f"[{event.kind.value}] {text}"
    if event.duration_samples:
        text = f"{text} {{{event.duration_samples}}}"
    return text


class WfdbWriter(_BaseWriter):
    """WFDB record: format 16 ``.dat`` appended block by block, ``.hea`` (and ``.evt``) written at close."""

    def __init__(self, out_dir: Path, record_name: str, fs: float, leads: Sequence[Lead],
                 start_time: datetime | None, patient: PatientInfo | None, device: str | None,
                 events: Sequence[EventMarker]) -> None:
        super().__init__(out_dir / f"{record_name}.dat", out_dir / f"{record_name}.hea", len(leads))
        self._out_dir, self._name, self._fs = out_dir, record_name, fs
        self._leads, self._start, self._events = list(leads), start_time, list(events)
        self._comments = _patient_comments(patient, device)
        self._checksum = np.zeros(len(leads), dtype=np.int64)
        self._init: list[int] | None = None

    def _accumulate(self, adc: np.ndarray) -> None:
        if adc.shape[0] == 0:
            return
        if self._init is None:
            self._init = [int(v) for v in adc[0]]
        self._checksum += adc.sum(axis=0, dtype=np.int64)

    def _finish(self) -> None:
        n = len(self._leads)
        checksum = [int(((int(c) + 32768) % 65536) - 32768) for c in self._checksum]
        record = wfdb.Record(
            record_name=self._name, n_sig=n, fs=self._fs, sig_len=self._n_written,
            file_name=[self._data_path.name] * n, fmt=["16"] * n, adc_gain=[ADC_GAIN] * n,
            baseline=[0] * n, units=["mV"] * n, sig_name=[lead.name for lead in self._leads],
            adc_res=[16] * n, adc_zero=[0] * n, init_value=self._init or [0] * n, checksum=checksum,
            block_size=[0] * n, byte_offset=[None] * n, samps_per_frame=[1] * n, skew=[None] * n,
            base_date=self._start.date() if self._start else None,
            base_time=self._start.time() if self._start else None,
            comments=self._comments or None,
        )
        record.wrheader(write_dir=str(self._out_dir))
        events = [e for e in self._events if 0 <= e.sample < max(self._n_written, 1)]
        if events:
            write_beat_annotations(
                self._out_dir / self._name, EVENT_EXTENSION, [e.sample for e in events],
                [EVENT_SYMBOL] * len(events), self._fs, [encode_event_note(e) for e in events],
            )


def ishne_var_block(leads: Sequence[Lead], events: Sequence[EventMarker]) -> bytes:
    """Our text in the ISHNE variable block: lead names and event markers, which the fixed header lacks."""
    lines = ["ecgdesk 1", "leads\t" + "\t".join(lead.name for lead in leads)]
    lines += [f"event\t{e.sample}\t{e.duration_samples}\t{e.kind.value}\t{e.label}" for e in events]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _ishne_sex(sex: str | None) -> int:
    return {"m": 1, "male": 1, "f": 2, "female": 2}.get((sex or "").strip().lower(), 0)


class IshneWriter(_BaseWriter):
    """ISHNE 1.0 ``.ecg``: a placeholder header, samples appended, the real header and CRC at close."""

    def __init__(self, out_dir: Path, record_name: str, fs: float, leads: Sequence[Lead],
                 start_time: datetime | None, patient: PatientInfo | None, device: str | None,
                 events: Sequence[EventMarker]) -> None:
        path = out_dir / f"{record_name}.ecg"
        if float(fs) != int(fs) or not 0 < fs <= 32767:
            raise InputError(
                "fs", f"ISHNE stores the sampling rate as a whole number up to 32767 Hz, got {fs}", path
            )
        if len(leads) > _ishne.MAX_LEADS:
            raise InputError("leads", f"ISHNE holds at most {_ishne.MAX_LEADS} leads, got {len(leads)}", path)
        super().__init__(path, path, len(leads))
        patient = patient or PatientInfo()
        self._header = _ishne.IshneHeader(
            n_samples=0, fs=int(fs), resolution_nv=[int(round(1e6 / ADC_GAIN))] * len(leads),
            lead_codes=[_ishne.LEAD_NAME_TO_CODE.get(lead.name.lower(), 1) for lead in leads],
            var_block=ishne_var_block(leads, events),
            first_name=patient.first_name or "", last_name=patient.last_name or "",
            patient_id=patient.patient_id or "", sex=_ishne_sex(patient.sex), birth_date=patient.birth_date,
            record_date=start_time.date() if start_time else None,
            file_date=start_time.date() if start_time else None,  # deterministic output
            start_time=start_time.time().replace(microsecond=0) if start_time else None,
            recorder=device or "",
        )
        self._file.write(b"\0" * self._header.ecg_offset)

    def _encode(self, block: np.ndarray) -> np.ndarray:
        return to_adc(block, self._n_leads, self._main_path, invalid=0)

    def _finish(self) -> None:
        if self._n_written > 2**31 - 1:
            raise InputError("n_samples", "ISHNE counts samples in a 32-bit field; the recording is too long",
                             self._main_path)
        self._header.n_samples = self._n_written
        with open(self._data_path, "r+b") as file:
            file.write(_ishne.pack_header(self._header))


_WRITERS: dict[str, type[WfdbWriter] | type[IshneWriter]] = {"wfdb": WfdbWriter, "ishne": IshneWriter}


def open_writer(
    out_dir: Path,
    record_name: str,
    fmt: str,
    fs: float,
    leads: Sequence[Lead],
    start_time: datetime | None = None,
    patient: PatientInfo | None = None,
    device: str | None = None,
    events: Sequence[EventMarker] = (),
) -> RecordingWriter:
    """Open a streaming writer for ``fmt`` (``"wfdb"`` or ``"ishne"``) in ``out_dir``.

    Blocks passed to ``write`` are float mV shaped ``(n, len(leads))``; the header is written by
    ``close`` (or leaving the ``with`` block) with the final sample count. ``Lead.unit``/``gain`` of
    ``leads`` are ignored: files are always written in mV at :data:`ADC_GAIN`.
    """
    check_option("fmt", fmt, WRITE_FORMATS)
    check_positive("fs", fs)
    if not leads:
        raise InputError("leads", "a recording needs at least one lead")
    if not record_name or "/" in record_name or record_name.strip() != record_name or " " in record_name:
        raise InputError("record_name", f"must be a plain file name without spaces, got {record_name!r}")
    writer = _WRITERS[fmt](Path(out_dir), record_name, float(fs), leads, start_time, patient, device, events)
    return writer


def write_recording(
    recording: Recording,
    out_dir: Path,
    fmt: str,
    record_name: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write ``recording`` to ``out_dir`` as ``fmt``, streaming 10-minute chunks; returns the main path.

    ``progress`` is called after each chunk with the number of samples (per lead) just written.
    """
    name = record_name or recording.record_name or (recording.path.stem if recording.path else "record")
    _refuse_overwriting_input(recording, Path(out_dir), name, fmt)
    writer = open_writer(
        out_dir, name, fmt, recording.fs, recording.leads, start_time=recording.start_time,
        patient=recording.patient, device=recording.device, events=recording.events,
    )
    with writer:
        for chunk in recording.iter_chunks(seconds=_CHUNK_SECONDS):
            writer.write(chunk.data)
            if progress is not None:
                progress(int(chunk.data.shape[0]))
    return writer.path


def _refuse_overwriting_input(recording: Recording, out_dir: Path, name: str, fmt: str) -> None:
    """Inputs are never modified: refuse an output file that is the input or one of its files."""
    if recording.path is None:
        return
    source = recording.path
    wfdb_suffixes = (".hea", ".dat", f".{EVENT_EXTENSION}")
    inputs = {source, *(source.with_name(f"{source.stem}{ext}") for ext in wfdb_suffixes)}
    suffixes = wfdb_suffixes if fmt == "wfdb" else (".ecg",)
    for target in (out_dir / f"{name}{suffix}" for suffix in suffixes):
        if target.exists() and any(p.exists() and target.samefile(p) for p in inputs):
            raise InputError("record_name", f"writing {target} would overwrite the input; choose another "
                                            "name or output folder", source)


def write_beat_annotations(
    path_stem: Path,
    extension: str,
    samples: Sequence[int] | np.ndarray,
    symbols: Sequence[str],
    fs: float,
    aux_notes: Sequence[str] | None = None,
) -> Path:
    """Write a WFDB annotation file ``<path_stem>.<extension>`` (e.g. ``atr``, ``qrs``, ``evt``).

    ``samples`` must be non-decreasing; ``symbols`` are WFDB beat symbols (``N``, ``V``, ``"`` ...).
    """
    stem = Path(path_stem)
    target = stem.with_name(f"{stem.name}.{extension}")
    sample_array = np.asarray(samples, dtype=np.int64)
    if sample_array.ndim != 1 or len(sample_array) != len(symbols):
        raise InputError("samples", f"{sample_array.size} samples for {len(symbols)} symbols", target)
    if aux_notes is not None and len(aux_notes) != len(symbols):
        raise InputError("aux_notes", f"{len(aux_notes)} notes for {len(symbols)} symbols", target)
    if sample_array.size and (np.any(np.diff(sample_array) < 0) or sample_array[0] < 0):
        raise InputError("samples", "must be >= 0 and non-decreasing", target)
    check_positive("fs", fs, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    wfdb.wrann(
        stem.name, extension, sample_array, symbol=list(symbols),
        aux_note=list(aux_notes) if aux_notes is not None else None, fs=fs, write_dir=str(target.parent),
    )
    return target


def write_ishne_annotations(
    path: Path,
    samples: Sequence[int] | np.ndarray,
    labels: Sequence[str],
    fs: int,
    n_samples: int,
) -> Path:
    """Write an ISHNE ``ANN  1.0`` beat file: header, u32 first sample, then (label, 0, RR u16) per beat."""
    target = Path(path)
    sample_array = np.asarray(samples, dtype=np.int64)
    if len(sample_array) != len(labels):
        raise InputError("samples", f"{len(sample_array)} samples for {len(labels)} labels", target)
    rr = np.diff(sample_array, prepend=0)
    if rr.size and (rr.min() < 0 or rr.max() > 65535):
        raise InputError("samples", "must be non-decreasing with gaps under 65536 samples", target)
    header = _ishne.IshneHeader(n_samples=n_samples, fs=int(fs), resolution_nv=[0], lead_codes=[0])
    records = bytearray(struct.pack("<I", 0))
    for label, step in zip(labels, rr, strict=True):
        records += struct.pack("<ccH", label.encode("latin-1")[:1] or b"?", b"\0", int(step))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_ishne.pack_header(header, magic=_ishne.ANN_MAGIC) + bytes(records))
    return target
