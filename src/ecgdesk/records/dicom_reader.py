"""DICOM ECG waveforms through ``pydicom`` (12-lead, General ECG and Ambulatory ECG SOP classes).

We read the multiplex group with the most channels (the first one on ties, e.g. the rhythm group rather
than the median beats). Values come from pydicom's ``waveform_array`` (channel sensitivity, correction
factor and baseline applied), in the unit of each channel's sensitivity units code (UCUM ``uV``, ``mV``).
The waveform bytes are read on the first :meth:`Recording.read`, not at open.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from ecgdesk.errors import RecordingError
from ecgdesk.records._checks import check_count, check_fs, check_regular_file, check_scale, clean_label
from ecgdesk.records.recording import Lead, PatientInfo, Recording, RecordingFormat, unit_to_mv_factor
from ecgdesk.utc_offset import split_offset, utc_offset

ECG_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.3": "Ambulatory ECG",
}
_LEAD_MEANING = re.compile(r"^lead\s+(\S+)", re.IGNORECASE)
_WAVEFORM_DATA = 0x54001010
MAX_CHANNELS = 1024
#: (bits allocated, sample interpretation) pairs of the DICOM waveform module that pydicom decodes.
_SAMPLE_TYPES = {(8, "SB"), (8, "UB"), (8, "MB"), (8, "AB"), (16, "SS"), (16, "US"), (32, "SL"), (32, "UL"),
                 (64, "SV"), (64, "UV")}


def looks_like_dicom(head: bytes) -> bool:
    return len(head) >= 132 and head[128:132] == b"DICM"


def _lead_name(channel: Any, index: int) -> str:
    try:
        meaning = str(channel.ChannelSourceSequence[0].CodeMeaning)
    except (AttributeError, IndexError):
        return f"ch{index + 1}"
    match = _LEAD_MEANING.match(meaning.strip())
    return match.group(1) if match else meaning.strip() or f"ch{index + 1}"


def _unit(channel: Any, field: str, path: Path, warnings: list[str]) -> str:
    try:
        unit = str(channel.ChannelSensitivityUnitsSequence[0].CodeValue)
    except (AttributeError, IndexError):
        warnings.append(f"{field}: no sensitivity unit; the values are taken as mV")
        return "mV"
    try:
        unit_to_mv_factor(unit)
    except ValueError:
        raise RecordingError(path, f"{field}.ChannelSensitivityUnits", f"unit {unit!r} is not a voltage") \
            from None
    return unit


def _decimal(path: Path, field: str, value: Any, default: float) -> float:
    """A DS attribute as a finite float (``default`` when absent)."""
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise RecordingError(path, field, f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise RecordingError(path, field, f"{value!r} is not a finite number")
    return number


@dataclass(frozen=True)
class _Group:
    """One multiplex group's counts, checked against its data."""

    index: int
    n_channels: int
    n_samples: int
    fs: float
    bits: int

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs


def _data_length(group: Any) -> int | None:
    element = group.get_item(_WAVEFORM_DATA)
    if element is None:
        return None
    length = getattr(element, "length", None)  # a deferred (raw) element knows its length unread
    if length is None:
        length = len(element.value or b"")
    return int(length)


def _check_group(path: Path, index: int, group: Any) -> _Group:
    """Counts, bit depth and sample interpretation of a group, against the length of its data."""
    where = f"WaveformSequence[{index}]"
    n_channels = check_count(path, f"{where}.NumberOfWaveformChannels",
                             group.get("NumberOfWaveformChannels", 0), 1, MAX_CHANNELS, "number of channels")
    n_samples = check_count(path, f"{where}.NumberOfWaveformSamples",
                            group.get("NumberOfWaveformSamples", 0), 1, 2**31 - 1, "number of samples")
    fs = check_fs(path, _decimal(path, f"{where}.SamplingFrequency", group.get("SamplingFrequency"), 0.0),
                  f"{where}.SamplingFrequency")
    bits = group.get("WaveformBitsAllocated")
    kind = str(group.get("WaveformSampleInterpretation", ""))
    if (bits, kind) not in _SAMPLE_TYPES:
        known = ", ".join(f"{b}-bit {k}" for b, k in _SAMPLE_TYPES)
        raise RecordingError(path, f"{where}.WaveformSampleInterpretation",
                             f"{bits}-bit samples of interpretation {kind!r} are not a waveform sample type "
                             f"(known: {known})")
    length = _data_length(group)
    expected = n_samples * n_channels * int(bits) // 8
    if length is None:
        raise RecordingError(path, f"{where}.WaveformData", "the group has no waveform data")
    if length not in (expected, expected + 1):  # one pad byte keeps an element's length even
        raise RecordingError(path, f"{where}.NumberOfWaveformSamples",
                             f"{n_samples} samples x {n_channels} channels of {bits} bits need {expected} "
                             f"bytes but the waveform data has {length}")
    return _Group(index, n_channels, n_samples, fs, int(bits))


def _choose_group(path: Path, groups: Any, warnings: list[str]) -> _Group:
    """The rhythm group: the one labelled RHYTHM, else the longest (never the 1.2 s median beats).

    Once a group labelled RHYTHM checks out, a damaged or unusual other group (a 0.5 Hz trend, a pressure
    group whose counts do not match its data) is not read and is said in a warning; it used to refuse the
    whole file. Without a label every group is a candidate, so each must check out: one skipped could be the
    rhythm, and the median beats would be read in its place."""
    rhythm = {i for i, g in enumerate(groups) if "RHYTHM" in str(g.get("MultiplexGroupLabel", "")).upper()}
    checked: list[_Group] = []
    problems: list[RecordingError] = []
    for i, group in enumerate(groups):
        try:
            checked.append(_check_group(path, i, group))
        except RecordingError as error:
            if not rhythm or i in rhythm:
                raise
            problems.append(error)
    labelled = [c for c in checked if c.index in rhythm]
    warnings.extend(f"{path.name}: {error.field}: {error.reason}; that group (not the rhythm) is not read"
                    for error in problems)
    return max(labelled or checked, key=lambda c: (c.duration_s, c.n_channels, -c.index))


def _lead(path: Path, group: _Group, i: int, channel: Any, warnings: list[str]) -> Lead:
    field = f"WaveformSequence[{group.index}].ChannelDefinitionSequence[{i}]"
    unit = _unit(channel, field, path, warnings)
    sensitivity = _decimal(path, f"{field}.ChannelSensitivity", channel.get("ChannelSensitivity"), 1.0)
    correction = _decimal(path, f"{field}.ChannelSensitivityCorrectionFactor",
                          channel.get("ChannelSensitivityCorrectionFactor"), 1.0)
    baseline = _decimal(path, f"{field}.ChannelBaseline", channel.get("ChannelBaseline"), 0.0)
    if abs(baseline) > 2 ** group.bits:  # added to every sample before scaling: beyond the sample range
        raise RecordingError(path, f"{field}.ChannelBaseline",  # it makes every value absurd
                             f"baseline {baseline:g} is outside what {group.bits}-bit samples hold (allowed "
                             f"-{2 ** group.bits} to {2 ** group.bits})")
    step = sensitivity * correction * unit_to_mv_factor(unit)
    check_scale(path, f"{field}.ChannelSensitivity", step, step * 2 ** (group.bits - 1),
                f"sensitivity {sensitivity:g} {unit} x correction {correction:g} per unit of {group.bits} "
                "bits")
    name = clean_label(_lead_name(channel, i), f"{field}.ChannelSourceSequence", f"ch{i + 1}", warnings)
    return Lead(name=name, unit=unit, gain=1.0 / (sensitivity * correction),
                baseline=int(round(baseline)))


class _DicomSource:
    """Decodes the chosen multiplex group on first use (pydicom reads the deferred bytes then)."""

    def __init__(self, dataset: Any, group: int, path: Path) -> None:
        self._dataset = dataset
        self._group = group
        self._path = path
        self._array: np.ndarray | None = None

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        if self._array is None:
            try:
                self._array = np.asarray(self._dataset.waveform_array(self._group), dtype=np.float32)
            except Exception as exc:  # the data changed since open, or pydicom cannot decode it
                raise RecordingError(self._path, f"WaveformSequence[{self._group}].WaveformData",
                                     f"cannot be decoded: {type(exc).__name__}: {exc}") from None
        return self._array[start:stop, list(lead_indices)]


def _offset(path: Path, field: str, text: str, warnings: list[str]) -> timedelta | None:
    """A DICOM UTC offset (``+ZZXX`` / ``-ZZXX``, :mod:`ecgdesk.utc_offset`), or None; one outside the
    offsets in use, or not of that form, is said in a warning naming the file and field and not applied."""
    try:
        return utc_offset(text)
    except ValueError as error:
        warnings.append(f"{path.name}: {field}: {error}; the time is read without it")
        return None


def _dicom_datetime(path: Path, ds: Any, warnings: list[str]) -> datetime | None:
    """The start: aware (UTC) where the value or the data set gives its UTC offset, else naive (local)."""
    given = []
    general = str(ds.get("TimezoneOffsetFromUTC") or "").strip()
    general_zone = _offset(path, "TimezoneOffsetFromUTC", general, warnings) if general else None
    for name, value in (("AcquisitionDateTime", ds.get("AcquisitionDateTime")),
                        ("ContentDate", f"{ds.get('ContentDate', '')}"
                                        f"{str(ds.get('ContentTime', '')).split('.')[0]}")):
        full = str(value or "").strip()
        zone = None
        if name == "AcquisitionDateTime":  # the offset the DT value carries (&ZZXX), else the data set's
            full, own = split_offset(full)
            zone = _offset(path, name, own, warnings) if own is not None else None
        text = full.split(".")[0][:14]
        if text.strip():
            given.append(f"{name} {text!r}")
        zone = zone if zone is not None else general_zone
        # by length: strptime read "202612071030" as 10:03:00 with the seconds' format
        fmt = {14: "%Y%m%d%H%M%S", 12: "%Y%m%d%H%M", 10: "%Y%m%d%H", 8: "%Y%m%d"}.get(len(text), "")
        if fmt and text.isdigit():
            try:
                stamp = datetime.strptime(text, fmt)
            except ValueError:
                continue
            # a device's local time read as UTC put an event monitor's strip hours in the future (flagged
            # for the device's clock, never billed) or hours early
            return (stamp - zone).replace(tzinfo=UTC) if zone is not None and fmt != "%Y%m%d" else stamp
    if given:
        warnings.append(f"{' and '.join(given)}: not a valid DICOM date and time; the start is unknown")
    return None


def _patient(path: Path, ds: Any, warnings: list[str]) -> PatientInfo:
    name = ds.get("PatientName")
    birth: date | None = None
    given = str(ds.get("PatientBirthDate", "") or "").strip()
    if given:
        try:
            birth = datetime.strptime(given, "%Y%m%d").date()
        except ValueError:
            warnings.append(f"PatientBirthDate {given!r} is not a valid DICOM date (YYYYMMDD); read as "
                            "unknown")
    return PatientInfo(
        patient_id=str(ds.get("PatientID")) or None if ds.get("PatientID") else None,
        first_name=(name.given_name or None) if name else None,
        last_name=(name.family_name or None) if name else None,
        sex=str(ds.get("PatientSex")) or None if ds.get("PatientSex") else None, birth_date=birth,
        id_issuer=_issuer(path, ds, warnings),
    )


#: The longest assigning authority kept (as an order's, docs/interop.md): a longer one is no authority's name.
MAX_ISSUER = 200


def _issuer(path: Path, ds: Any, warnings: list[str]) -> str | None:
    """The patient id's assigning authority: IssuerOfPatientID (0010,0021), the namespace, with the universal
    id and its type of the Issuer of Patient ID Qualifiers Sequence (0010,0024), as CX-4 joins them. One that
    cannot be read, is over 200 characters, holds a control character or an ``&`` within a part (which would
    shift the parts) is said in a warning and left unknown; the waveform is read all the same."""
    try:
        namespace = ds.get("IssuerOfPatientID")
        if isinstance(namespace, MultiValue):  # VM 1, split at a "\\" in it: str() gave "['A', 'B']"
            namespace = "\\".join(str(value) for value in namespace)
        parts = [str(namespace or "").strip(), "", ""]
        qualifiers = ds.get("IssuerOfPatientIDQualifiersSequence")
        if qualifiers:
            item = qualifiers[0]
            parts[1] = str(item.get("UniversalEntityID") or "").strip()
            parts[2] = str(item.get("UniversalEntityIDType") or "").strip()
    except Exception as exc:  # pydicom parses a sequence when it is read: a damaged one raises anything
        warnings.append(f"{path.name}: IssuerOfPatientIDQualifiersSequence: cannot be read "
                        f"({type(exc).__name__}); the patient id's assigning authority is unknown")
        return None
    while parts and not parts[-1]:
        parts.pop()
    issuer = "&".join(parts)
    if len(issuer) > MAX_ISSUER or not issuer.isprintable() or any("&" in part for part in parts):
        warnings.append(f"{path.name}: IssuerOfPatientID: {issuer[:80]!r} is not an assigning authority "
                        f"(at most {MAX_ISSUER} printable characters, no '&' within a part); read as unknown")
        return None
    return issuer or None


def read_dicom(path: str | Path) -> Recording:
    """Open a DICOM ECG waveform file; a DICOM without an ECG waveform is a :class:`RecordingError`."""
    path = Path(path)
    check_regular_file(path)
    try:
        ds = pydicom.dcmread(str(path), defer_size="4 KB")
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise RecordingError(path, "header", f"not a readable DICOM file: {exc}") from None
    except Exception as exc:  # pydicom raises many kinds on a corrupt data set (KeyError, struct.error...)
        raise RecordingError(path, "header", f"not a readable DICOM file: {type(exc).__name__}: {exc}") \
            from None
    try:
        return _recording(path, ds, _drop_damaged_tail(path, ds))
    except RecordingError:
        raise
    except Exception as exc:  # an attribute pydicom cannot convert (a wrong VR, a bad value)
        raise RecordingError(path, "header", f"an attribute cannot be read: {type(exc).__name__}: {exc}") \
            from None


_UNDEFINED_LENGTH = 0xFFFFFFFF


def _damage(raw: RawDataElement, previous: Any, size: int) -> str | None:
    """Why a top-level element as pydicom read it cannot be one of the file's (None: it can)."""
    if raw.length != _UNDEFINED_LENGTH and raw.value_tell + raw.length > size:
        return (f"claims {raw.length} bytes from byte {raw.value_tell}, past the end of the file ({size} "
                "bytes)")
    if raw.VR is None and not raw.is_implicit_VR:
        return "has no valid value representation"
    if previous is not None and raw.tag <= previous:
        return f"comes after {previous} (a data set's tags ascend)"
    return None


def _drop_damaged_tail(path: Path, ds: Any) -> list[str]:
    """Warnings for the top-level elements after the data set's true end (bytes appended to the file, or a
    damaged tail), which are dropped: pydicom parses such bytes as elements without a word. The waveform
    lies before them, so the recording is still read, with the warning."""
    size = path.stat().st_size
    raw = sorted((e for e in (ds.get_item(t, keep_deferred=True) for t in list(ds.keys()))
                  if isinstance(e, RawDataElement)),
                 key=lambda e: e.value_tell)
    previous = None
    for n, element in enumerate(raw):
        why = _damage(element, previous, size)
        if why is not None:
            for rest in raw[n:]:
                del ds[rest.tag]
            return [f"{path.name}: {len(raw) - n} element(s) from byte {element.value_tell} on ignored, they "
                    f"are not DICOM (element {element.tag} {why}): bytes appended to the file or a damaged "
                    "end"]
        previous = element.tag
    last = raw[-1] if raw else None
    if last is not None and last.tag == max(ds.keys()) and last.length != _UNDEFINED_LENGTH:
        end = last.value_tell + last.length
        if end < size:
            return [f"{path.name}: {size - end} bytes after the last element (which ends at byte {end}) "
                    "ignored"]
    return []


def _recording(path: Path, ds: Any, warnings: list[str]) -> Recording:
    sop = str(ds.get("SOPClassUID", ""))
    groups = ds.get("WaveformSequence")
    if not groups:
        what = ECG_SOP_CLASSES.get(sop, f"SOP class {sop or 'unknown'}")
        raise RecordingError(path, "WaveformSequence", f"this DICOM ({what}) holds no waveform")
    if sop not in ECG_SOP_CLASSES:
        raise RecordingError(path, "SOPClassUID", f"{sop} is not an ECG waveform SOP class "
                                                  f"(readable: {', '.join(ECG_SOP_CLASSES.values())})")
    group = _choose_group(path, groups, warnings)
    channels = groups[group.index].get("ChannelDefinitionSequence") or []
    if len(channels) != group.n_channels:
        raise RecordingError(path, f"WaveformSequence[{group.index}].ChannelDefinitionSequence",
                             f"defines {len(channels)} channels for {group.n_channels} declared")
    leads = tuple(_lead(path, group, i, c, warnings) for i, c in enumerate(channels))
    device = " ".join(str(v) for v in (ds.get("Manufacturer"), ds.get("ManufacturerModelName")) if v) or None
    start, patient = _dicom_datetime(path, ds, warnings), _patient(path, ds, warnings)
    in_utc = start is not None and start.tzinfo is not None
    return Recording(
        fs=group.fs, n_samples=group.n_samples, leads=leads, source=_DicomSource(ds, group.index, path),
        format=RecordingFormat.DICOM, path=path, start_time=start.replace(tzinfo=None) if start else None,
        start_in_utc=in_utc, device=device,
        patient=patient, record_name=path.stem, warnings=tuple(warnings),
    )
