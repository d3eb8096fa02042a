"""The one :class:`Recording` type every reader returns.

A recording is metadata plus a lazy signal source: nothing is read until :meth:`Recording.read` or
:meth:`Recording.iter_chunks` asks for samples, so opening a 14-day file costs only its header.
Samples come back in physical units (mV), ``float32``, shaped ``(n_samples, n_leads)``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np

from ecgdesk.errors import InputError, check_positive

MIN_FS = 1.0  # the plausible sampling rates of an ECG, as the readers check them (records._checks)
MAX_FS = 100_000.0

# Factors that turn a lead's physical unit into millivolts.
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}


def unit_to_mv_factor(unit: str, source: str | Path | None = None) -> float:
    """Factor that converts values in ``unit`` (mV, uV, V, nV; any case) to millivolts."""
    key = unit.strip().lower().replace("volts", "v").replace("volt", "v")
    if key not in _TO_MV:
        raise InputError("unit", f"unknown signal unit {unit!r}; known units are mV, uV, V, nV", source)
    return _TO_MV[key]


class RecordingFormat(enum.StrEnum):
    """File formats ECG Desk reads (and, for some, writes)."""

    WFDB = "wfdb"
    EDF = "edf"
    ISHNE = "ishne"
    DICOM = "dicom"
    CSV = "csv"
    HL7_AECG = "hl7-aecg"
    MEMORY = "memory"


class EventKind(enum.StrEnum):
    """What produced an event marker."""

    PATIENT_TRIGGERED = "patient_triggered"
    ANNOTATION = "annotation"
    DEVICE = "device"
    STAGE = "stage"


@dataclass(frozen=True)
class Lead:
    """One lead (channel): its name, the unit of its physical values, and the ADC scaling if any.

    ``gain`` is ADC units per physical unit and ``baseline`` the ADC value of 0, as in WFDB.
    Formats without an ADC (CSV, float EDF) use ``gain=1`` and ``baseline=0``.
    """

    name: str
    unit: str = "mV"
    gain: float = 1.0
    baseline: int = 0


@dataclass(frozen=True)
class EventMarker:
    """A time point (or span) marked in the recording, e.g. a patient-triggered event."""

    sample: int
    label: str
    kind: EventKind = EventKind.ANNOTATION
    duration_samples: int = 0


@dataclass(frozen=True)
class PatientInfo:
    """Patient fields where a format carries them; anything unknown is ``None``."""

    patient_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    sex: str | None = None
    birth_date: date | None = None
    #: the patient id's assigning authority as HL7 v2 CX-4 writes it (``namespace&universal id&type``,
    #: trailing empty parts left out), where the format names one (DICOM)
    id_issuer: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A block of samples from :meth:`Recording.iter_chunks`.

    ``start`` is the index of ``data[0]`` in the whole recording. ``core_start``/``core_stop`` bound the
    part of this chunk that is not overlap shared with a neighbour, so a consumer that keeps only events
    within ``[core_start, core_stop)`` sees every sample exactly once.
    """

    start: int
    data: np.ndarray
    core_start: int
    core_stop: int

    @property
    def stop(self) -> int:
        return self.start + int(self.data.shape[0])


class SignalSource(Protocol):
    """What a reader provides: physical values of a sample range for some leads."""

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        """Return samples ``[start, stop)`` of the given leads, physical units of each lead, float32."""
        ...


class ArraySource:
    """A signal source over an in-memory (or memory-mapped) array shaped ``(n_samples, n_leads)``."""

    def __init__(self, data: np.ndarray) -> None:
        if data.ndim == 1:
            data = data[:, None]
        self._data = data

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        return np.asarray(self._data[start:stop, list(lead_indices)], dtype=np.float32)


@dataclass
class Recording:
    """An ECG recording in any format, read lazily.

    Use :func:`ecgdesk.records.open_recording` to open a file, or :meth:`from_array` for samples already
    in memory.
    """

    fs: float
    n_samples: int
    leads: tuple[Lead, ...]
    source: SignalSource = field(repr=False)
    format: RecordingFormat = RecordingFormat.MEMORY
    path: Path | None = None
    start_time: datetime | None = None
    device: str | None = None
    patient: PatientInfo = field(default_factory=PatientInfo)
    events: tuple[EventMarker, ...] = ()
    record_name: str | None = None
    #: What the reader had to guess, drop or skip (a lead, a side file, a unit), one sentence each; the
    #: analyses carry these into their findings and reports.
    warnings: tuple[str, ...] = ()
    #: The header's start when ``open_recording`` found it implausible (before 1900 or in the future) and
    #: left ``start_time`` unknown: monitoring still holds a strip whose device clock runs ahead by it.
    implausible_start: datetime | None = field(default=None, repr=False)
    #: True where the header wrote the start with its UTC offset (DICOM, HL7 aECG) and the reader turned it
    #: into UTC; False where it carries no zone (WFDB, EDF, ISHNE, ...): the recorder's own clock time, which
    #: monitoring ingest reads in the enrolment's zone (workflow.monitoring).
    start_in_utc: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        where = self.path
        check_positive("fs", self.fs, source=where)
        if not MIN_FS <= self.fs <= MAX_FS:
            raise InputError("fs", f"sampling rate {self.fs:g} Hz is not plausible for an ECG (allowed "
                                   f"{MIN_FS:g} Hz to {MAX_FS:g} Hz)", where)
        if self.n_samples < 0:
            raise InputError("n_samples", f"must be >= 0, got {self.n_samples}", where)
        if not self.leads:
            raise InputError("leads", "a recording needs at least one lead", where)
        self._mv_factors = np.array(
            [unit_to_mv_factor(lead.unit, where) for lead in self.leads], dtype=np.float32
        )

    @classmethod
    def from_array(
        cls,
        data: np.ndarray,
        fs: float,
        lead_names: Sequence[str] | None = None,
        unit: str = "mV",
        **metadata: object,
    ) -> Recording:
        """Wrap an array shaped ``(n_samples,)`` or ``(n_samples, n_leads)`` as a recording."""
        array = np.asarray(data)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise InputError("data", f"must be 1-D or 2-D, got shape {array.shape}")
        names = list(lead_names) if lead_names is not None else [f"ch{i + 1}" for i in range(array.shape[1])]
        if len(names) != array.shape[1]:
            raise InputError("lead_names", f"{len(names)} names given for {array.shape[1]} leads")
        leads = tuple(Lead(name=name, unit=unit) for name in names)
        return cls(fs=float(fs), n_samples=int(array.shape[0]), leads=leads, source=ArraySource(array),
                   **metadata)  # type: ignore[arg-type]

    # ----------------------------------------------------------------------------------- metadata
    @property
    def lead_names(self) -> list[str]:
        return [lead.name for lead in self.leads]

    @property
    def n_leads(self) -> int:
        return len(self.leads)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def end_time(self) -> datetime | None:
        if self.start_time is None:
            return None
        return self.start_time + timedelta(seconds=self.duration_s)

    def lead_index(self, lead: str | int) -> int:
        """Index of a lead given by name (case-insensitive) or index; an unknown one lists the leads."""
        if isinstance(lead, int | np.integer):
            if 0 <= int(lead) < self.n_leads:
                return int(lead)
            raise InputError("lead", f"index {lead} out of range; this recording has {self.n_leads} leads",
                             self.path)
        for i, name in enumerate(self.lead_names):
            if name == lead:
                return i
        for i, name in enumerate(self.lead_names):
            if name.lower() == str(lead).lower():
                return i
        raise InputError(
            "lead", f"no lead named {lead!r}; the leads are {', '.join(self.lead_names)}", self.path
        )

    def _lead_indices(self, leads: Sequence[str | int] | str | int | None) -> list[int]:
        if leads is None:
            return list(range(self.n_leads))
        if isinstance(leads, str | int):
            return [self.lead_index(leads)]
        return [self.lead_index(lead) for lead in leads]

    # ------------------------------------------------------------------------------------ samples
    def read(
        self, start: int = 0, stop: int | None = None, leads: Sequence[str | int] | str | int | None = None
    ) -> np.ndarray:
        """Samples ``[start, stop)`` in mV, float32, shaped ``(n, n_leads_selected)``.

        Bounds are clipped to the recording, like Python slicing of non-negative indices.
        """
        stop = self.n_samples if stop is None else stop
        if start < 0 or stop < 0:
            raise InputError("start/stop", f"must be >= 0, got start={start}, stop={stop}", self.path)
        start, stop = min(start, self.n_samples), min(stop, self.n_samples)
        indices = self._lead_indices(leads)
        if stop <= start:
            return np.zeros((0, len(indices)), dtype=np.float32)
        data = self.source.read(start, stop, indices)
        factors = self._mv_factors[indices]
        if np.any(factors != 1.0):
            data = data * factors
        return np.ascontiguousarray(data, dtype=np.float32)

    def iter_chunks(
        self,
        seconds: float = 600.0,
        overlap: float = 0.0,
        leads: Sequence[str | int] | str | int | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[Chunk]:
        """Stream the recording in blocks of ``seconds``, each extended by ``overlap`` seconds both sides.

        The cores ``[core_start, core_stop)`` tile the recording exactly; overlap lets a detector see
        context across borders without losing or doubling anything. ``start``/``stop`` (samples) stream
        only the cores from ``start`` up to ``stop`` (a part of a split analysis: ``start`` a multiple of
        the block length); their overlap still reads the signal around them.
        """
        check_positive("seconds", seconds, self.path)
        if overlap < 0:
            raise InputError("overlap", f"must be >= 0, got {overlap}", self.path)
        step = max(1, int(round(seconds * self.fs)))
        pad = int(round(overlap * self.fs))
        end = self.n_samples if stop is None else min(int(stop), self.n_samples)
        for core_start in range(max(0, int(start)), end, step):
            core_stop = min(core_start + step, end)
            start = max(0, core_start - pad)
            stop = min(self.n_samples, core_stop + pad)
            yield Chunk(start=start, data=self.read(start, stop, leads), core_start=core_start,
                        core_stop=core_stop)

    def summary(self) -> dict[str, object]:
        """Plain metadata for ``ecgdesk info --json`` and logs."""
        return {
            "path": str(self.path) if self.path else None,
            "format": self.format.value,
            "record_name": self.record_name,
            "fs": self.fs,
            "n_samples": self.n_samples,
            "duration_s": round(self.duration_s, 3),
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "device": self.device,
            "patient": {
                "patient_id": self.patient.patient_id,
                "first_name": self.patient.first_name,
                "last_name": self.patient.last_name,
                "sex": self.patient.sex,
                "birth_date": self.patient.birth_date.isoformat() if self.patient.birth_date else None,
                "id_issuer": self.patient.id_issuer,
            },
            "leads": [
                {"name": lead.name, "unit": lead.unit, "gain": lead.gain, "baseline": lead.baseline}
                for lead in self.leads
            ],
            "events": [
                {"sample": e.sample, "time_s": round(e.sample / self.fs, 3), "label": e.label,
                 "kind": e.kind.value, "duration_samples": e.duration_samples}
                for e in self.events
            ],
            "warnings": list(self.warnings),
        }
