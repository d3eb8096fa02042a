"""DICOM ECG waveforms through ``pydicom`` (12-lead, General ECG and Ambulatory ECG SOP classes).

We read the multiplex group with the most channels (the first one on ties, e.g. the rhythm group rather
than the median beats). Values come from pydicom's ``waveform_array`` (channel sensitivity, correction
factor and baseline applied), in the unit of each channel's sensitivity units code (UCUM ``uV``, ``mV``).
The waveform bytes are read on the first :meth:`Recording.read`, not at open.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from ecgdesk.errors import RecordingError
from ecgdesk.records._checks import check_fs
from ecgdesk.records.recording import Lead, PatientInfo, Recording, RecordingFormat, unit_to_mv_factor

ECG_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.3": "Ambulatory ECG",
}
_LEAD_MEANING = re.compile(r"^lead\s+(\S+)", re.IGNORECASE)


def looks_like_dicom(head: bytes) -> bool:
    return len(head) >= 132 and head[128:132] == b"DICM"


def _lead_name(channel: Any, index: int) -> str:
    try:
        meaning = str(channel.ChannelSourceSequence[0].CodeMeaning)
    except (AttributeError, IndexError):
        return f"ch{index + 1}"
    match = _LEAD_MEANING.match(meaning.strip())
    return match.group(1) if match else meaning.strip() or f"ch{index + 1}"


def _unit(channel: Any, path: Path, index: int) -> str:
    try:
        unit = str(channel.ChannelSensitivityUnitsSequence[0].CodeValue)
    except (AttributeError, IndexError):
        return "mV"  # no sensitivity: values are taken as mV
    try:
        unit_to_mv_factor(unit)
    except ValueError:
        raise RecordingError(path, f"ChannelSensitivityUnits[{index}]",
                             f"unit {unit!r} is not a voltage") from None
    return unit


class _DicomSource:
    """Decodes the chosen multiplex group on first use (pydicom reads the deferred bytes then)."""

    def __init__(self, dataset: Any, group: int) -> None:
        self._dataset = dataset
        self._group = group
        self._array: np.ndarray | None = None

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        if self._array is None:
            self._array = np.asarray(self._dataset.waveform_array(self._group), dtype=np.float32)
        return self._array[start:stop, list(lead_indices)]


def _dicom_datetime(ds: Any) -> datetime | None:
    for value in (ds.get("AcquisitionDateTime"),
                  f"{ds.get('ContentDate', '')}{str(ds.get('ContentTime', '')).split('.')[0]}"):
        text = str(value or "")[:14]
        for fmt in ("%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d"):
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
    return None


def _patient(ds: Any) -> PatientInfo:
    name = ds.get("PatientName")
    birth: date | None = None
    try:
        birth = datetime.strptime(str(ds.get("PatientBirthDate", "")), "%Y%m%d").date()
    except ValueError:
        birth = None
    return PatientInfo(
        patient_id=str(ds.get("PatientID")) or None if ds.get("PatientID") else None,
        first_name=(name.given_name or None) if name else None,
        last_name=(name.family_name or None) if name else None,
        sex=str(ds.get("PatientSex")) or None if ds.get("PatientSex") else None, birth_date=birth,
    )


def read_dicom(path: str | Path) -> Recording:
    """Open a DICOM ECG waveform file; a DICOM without an ECG waveform is a :class:`RecordingError`."""
    path = Path(path)
    try:
        ds = pydicom.dcmread(str(path), defer_size="4 KB")
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise RecordingError(path, "header", f"not a readable DICOM file: {exc}") from None
    sop = str(ds.get("SOPClassUID", ""))
    groups = ds.get("WaveformSequence")
    if not groups:
        what = ECG_SOP_CLASSES.get(sop, f"SOP class {sop or 'unknown'}")
        raise RecordingError(path, "WaveformSequence", f"this DICOM ({what}) holds no waveform")
    if sop not in ECG_SOP_CLASSES:
        raise RecordingError(path, "SOPClassUID", f"{sop} is not an ECG waveform SOP class "
                                                  f"(readable: {', '.join(ECG_SOP_CLASSES.values())})")
    sizes = [int(g.get("NumberOfWaveformChannels", 0)) for g in groups]
    index = sizes.index(max(sizes))
    group = groups[index]
    fs = check_fs(path, group.get("SamplingFrequency", 0), f"WaveformSequence[{index}].SamplingFrequency")
    channels = group.get("ChannelDefinitionSequence") or []
    if not channels or len(channels) != sizes[index]:
        raise RecordingError(path, f"WaveformSequence[{index}].ChannelDefinitionSequence",
                             f"defines {len(channels)} channels for {sizes[index]} declared")
    leads = tuple(Lead(name=_lead_name(c, i), unit=_unit(c, path, i),
                       gain=1.0 / float(c.get("ChannelSensitivity", 1) or 1),
                       baseline=int(float(c.get("ChannelBaseline", 0) or 0)))
                  for i, c in enumerate(channels))
    device = " ".join(str(v) for v in (ds.get("Manufacturer"), ds.get("ManufacturerModelName")) if v) or None
    return Recording(
        fs=fs, n_samples=int(group.get("NumberOfWaveformSamples", 0)), leads=leads,
        source=_DicomSource(ds, index), format=RecordingFormat.DICOM, path=path,
        start_time=_dicom_datetime(ds), device=device, patient=_patient(ds), record_name=path.stem,
    )
