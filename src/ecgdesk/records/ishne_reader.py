"""ISHNE 1.0 Holter files: our own reader (magic and CRC checked, samples memory-mapped)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ecgdesk.errors import RecordingError, is_digits
from ecgdesk.records import _ishne
from ecgdesk.records._checks import check_fs, check_regular_file, check_scale, check_size, read_mapped_frames
from ecgdesk.records.recording import EventKind, EventMarker, Lead, PatientInfo, Recording, RecordingFormat


class _IshneSource:
    """int16 samples interleaved by lead, mapped read-only; physical = ADC x resolution (nV) in mV."""

    def __init__(self, path: Path, offset: int, mv_per_adc: np.ndarray) -> None:
        self._path = path
        self._offset = offset
        self._scale = mv_per_adc

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        indices = list(lead_indices)
        frames = read_mapped_frames(self._path, self._offset, self._scale.size, start, stop)
        return frames[:, indices].astype(np.float32) * self._scale[indices]


def _var_block_fields(block: bytes) -> tuple[list[str] | None, list[EventMarker]]:
    """Lead names and events from our variable-block text (see :func:`writers.ishne_var_block`)."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        return None, []
    lines = text.splitlines()
    if not lines or lines[0].strip() != "ecgdesk 1":
        return None, []
    names: list[str] | None = None
    events: list[EventMarker] = []
    for line in lines[1:]:
        parts = line.split("\t")
        if parts[0] == "leads":
            names = parts[1:]
        elif parts[0] == "event" and len(parts) >= 5 and is_digits(parts[1]) and is_digits(parts[2]):
            kind = parts[3] if parts[3] in EventKind._value2member_map_ else EventKind.ANNOTATION.value
            events.append(EventMarker(sample=int(parts[1]), label="\t".join(parts[4:]), kind=EventKind(kind),
                                      duration_samples=int(parts[2])))
    return names, events


def _lead_names(header: _ishne.IshneHeader, stored: list[str] | None) -> list[str]:
    if stored is not None and len(stored) == header.n_leads and all(stored):
        return stored
    names: list[str] = []
    for i, code in enumerate(header.lead_codes):
        name = _ishne.LEAD_CODES.get(code)  # a code ISHNE does not define: chN, as its warning says
        names.append(f"ch{i + 1}" if code < 2 or name is None or name in names else name)
    return names


def read_ishne(path: str | Path) -> Recording:
    """Open an ISHNE 1.0 ``.ecg`` file: header parsed and checked now, samples mapped on demand."""
    path = Path(path)
    check_regular_file(path)
    with open(path, "rb") as file:
        head = file.read(_ishne.HEADER_SIZE)
        if len(head) == _ishne.HEADER_SIZE and head[:8] == _ishne.ECG_MAGIC:
            ecg_offset = int(np.frombuffer(head, dtype="<i4", count=1, offset=22)[0])
            if _ishne.HEADER_SIZE < ecg_offset < 64 * 1024 * 1024:
                head += file.read(ecg_offset - _ishne.HEADER_SIZE)
    try:
        header = _ishne.unpack_header(head)
    except _ishne.HeaderError as problem:
        raise RecordingError(path, problem.field, problem.reason) from None
    fs = check_fs(path, header.fs, "sample_rate")
    for i, resolution in enumerate(header.resolution_nv):
        if resolution <= 0:
            raise RecordingError(path, f"amplitude_resolution[{i}]",
                                 f"must be a positive number of nV, got {resolution}")
        check_scale(path, f"amplitude_resolution[{i}]", resolution * 1e-6, resolution * 1e-6 * 32767,
                    f"amplitude resolution {resolution} nV per ADC unit")
    check_size(path, header.ecg_offset + 2 * header.n_samples * header.n_leads, "ecg_size",
               f"{header.n_samples} samples x {header.n_leads} leads")
    mv_per_adc = np.array(header.resolution_nv, dtype=np.float32) * np.float32(1e-6)
    stored_names, events = _var_block_fields(header.var_block)
    leads = tuple(Lead(name=name, unit="mV", gain=1e6 / res)
                  for name, res in zip(_lead_names(header, stored_names), header.resolution_nv, strict=True))
    sex = {1: "M", 2: "F"}.get(header.sex)
    patient = PatientInfo(patient_id=header.patient_id or None, first_name=header.first_name or None,
                          last_name=header.last_name or None, sex=sex, birth_date=header.birth_date)
    return Recording(
        fs=fs, n_samples=header.n_samples, leads=leads,
        source=_IshneSource(path, header.ecg_offset, mv_per_adc),
        format=RecordingFormat.ISHNE, path=path, start_time=header.start_datetime,
        device=header.recorder or None, patient=patient, events=tuple(events), record_name=path.stem,
        warnings=tuple(f"{path.name}: {note}" for note in header.notes),
    )
