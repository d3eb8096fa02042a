"""DICOM objects for PACS: the signed report as Encapsulated PDF, a 12-lead study as a 12-lead ECG waveform.

pydicom has no high-level waveform writer, so the Waveform Sequence is built here by the standard (PS3.3
C.10.9): one multiplex group ``RHYTHM`` of signed 16-bit samples interleaved by channel, each channel with
its lead code (MDC, as DICOM CID 3001 lists it), its sensitivity in uV and a baseline of 0. The 12-lead
IOD limits (PS3.3 A.34.3: 200-1000 Hz... at most 16,384 samples and 13 channels) are checked before
anything is written.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from ecgdesk.errors import InputError
from ecgdesk.interop import authority
from ecgdesk.interop.model import PatientInfo, SignedResult, in_utc

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
TWELVE_LEAD_ECG = "1.2.840.10008.5.1.4.1.1.9.1.1"
# MDC lead codes (DICOM CID 3001, "ECG Leads"): code value, meaning.
LEAD_CODES = {
    "I": ("2:1", "Lead I"),
    "II": ("2:2", "Lead II"),
    "V1": ("2:3", "Lead V1"),
    "V2": ("2:4", "Lead V2"),
    "V3": ("2:5", "Lead V3"),
    "V4": ("2:6", "Lead V4"),
    "V5": ("2:7", "Lead V5"),
    "V6": ("2:8", "Lead V6"),
    "III": ("2:61", "Lead III"),
    "AVR": ("2:62", "Lead aVR"),
    "AVL": ("2:63", "Lead aVL"),
    "AVF": ("2:64", "Lead aVF"),
}
MAX_SAMPLES_12LEAD = 16384
MAX_CHANNELS_12LEAD = 13
SENSITIVITY_UV = 2.5  # one stored unit = 2.5 uV: +-81.9 mV fits in int16 with resolution finer than any cart


@dataclass(frozen=True)
class Waveform:
    """A short multi-lead signal in mV, ``data`` shaped (samples, leads)."""

    fs: float
    leads: tuple[str, ...]
    data: np.ndarray
    start: datetime | None = None


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _common(patient: PatientInfo, sop_class: str, modality: str, when: datetime, study_uid: str) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = f"{patient.family}^{patient.given}"
    ds.PatientID = patient.id
    name = patient.id_authority or ""
    # LO: a longer FHIR system URL is left out, and a "\\" (LO's value separator) read back as two values
    if name and len(name) <= 64 and "\\" not in name:
        ds.IssuerOfPatientID = name
    qualifiers = _issuer_qualifiers(patient.id_issuer)
    if qualifiers is not None:
        ds.IssuerOfPatientIDQualifiersSequence = DicomSequence([qualifiers])
    ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d")
    ds.PatientSex = patient.sex if patient.sex in {"F", "M"} else "O"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.Modality = modality
    stamp = in_utc(when)
    ds.StudyDate = ds.ContentDate = stamp.strftime("%Y%m%d")
    ds.StudyTime = ds.ContentTime = stamp.strftime("%H%M%S")
    ds.TimezoneOffsetFromUTC = "+0000"
    ds.Manufacturer = "ECG Desk"
    ds.SeriesNumber = ds.InstanceNumber = 1
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = ""
    return ds


def _issuer_qualifiers(issuer: str | None) -> Dataset | None:
    """The item of the Issuer of Patient ID Qualifiers Sequence (0010,0024; PS3.3 C.7.1.1) naming the
    assigning authority's universal id (HL7 v2 CX-4.2, 4.3; a FHIR system) and the identifier type (CX-5):
    the namespace alone (IssuerOfPatientID) was written before, so two facilities' namespaces of one name,
    or a FHIR system longer than an LO, could not be told apart. None for an authority without one."""
    if not issuer:
        return None
    _, universal, kind = (*authority.hd(issuer), "", "")[:3]
    if not universal:
        return None
    item = Dataset()
    item.UniversalEntityID = universal
    kind = kind.upper()
    if re.fullmatch(r"[A-Z0-9_ ]{1,16}", kind):  # a CS; DNS, EUI64, ISO, URI, UUID, X400, X500 are defined
        item.UniversalEntityIDType = kind
    item.IdentifierTypeCode = "MR"  # the record number: what PID-3 carries as MR
    return item


def _bytes(ds: Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def study_uid(seed: str) -> str:
    """A Study Instance UID (the 2.25 UUID form, PS3.5 B.2) that every object of one study shares."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, seed).int}"


def encapsulated_pdf(result: SignedResult) -> bytes:
    """The signed report as a DICOM Encapsulated PDF (Part 10 file bytes)."""
    ds = _common(result.patient, ENCAPSULATED_PDF, "DOC", result.signed_at, study_uid(result.uid_seed))
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = f"ECG report, version {result.report_version}"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.ConceptNameCodeSequence = DicomSequence([])
    ds.AcquisitionDateTime = in_utc(result.signed_at).strftime("%Y%m%d%H%M%S")
    ds.VerificationFlag = "VERIFIED"
    pdf = result.pdf + (b"\0" if len(result.pdf) % 2 else b"")  # OB values are even in length
    ds.EncapsulatedDocument = pdf
    ds.EncapsulatedDocumentLength = len(result.pdf)
    return _bytes(ds)


def twelve_lead_ecg(patient: PatientInfo, uid_seed: str, waveform: Waveform, source: str = "") -> bytes:
    """A 12-lead ECG waveform object of a resting ECG (at most 16,384 samples per lead, 200-1000 Hz)."""
    n_samples, n_leads = waveform.data.shape
    if not 200 <= waveform.fs <= 1000:
        raise InputError(
            "fs", f"a DICOM 12-lead ECG holds 200-1000 Hz, the recording has {waveform.fs:g} Hz", source
        )
    if n_samples > MAX_SAMPLES_12LEAD:
        raise InputError(
            "n_samples",
            f"a DICOM 12-lead ECG holds at most {MAX_SAMPLES_12LEAD} samples per "
            f"lead, the recording has {n_samples}",
            source,
        )
    if not 1 <= n_leads <= MAX_CHANNELS_12LEAD or len(waveform.leads) != n_leads:
        raise InputError("leads", f"expected 1-{MAX_CHANNELS_12LEAD} named leads, got {n_leads}", source)
    unknown = [lead for lead in waveform.leads if lead.upper() not in LEAD_CODES]
    if unknown:
        raise InputError("leads", f"no DICOM lead code for {', '.join(unknown)}", source)
    when = waveform.start or datetime.now(UTC)
    ds = _common(patient, TWELVE_LEAD_ECG, "ECG", when, study_uid(uid_seed))
    ds.AcquisitionDateTime = in_utc(when).strftime("%Y%m%d%H%M%S")
    ds.WaveformSequence = DicomSequence([_multiplex_group(waveform)])
    return _bytes(ds)


def _multiplex_group(waveform: Waveform) -> Dataset:
    data = np.asarray(waveform.data, dtype=np.float64)
    scaled = np.round(np.nan_to_num(data) * 1000.0 / SENSITIVITY_UV)
    samples = np.clip(scaled, -32768, 32767).astype("<i2")
    group = Dataset()
    group.MultiplexGroupTimeOffset = 0.0
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = data.shape[1]
    group.NumberOfWaveformSamples = data.shape[0]
    group.SamplingFrequency = float(waveform.fs)
    group.MultiplexGroupLabel = "RHYTHM"
    group.ChannelDefinitionSequence = DicomSequence([_channel(lead) for lead in waveform.leads])
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    group.WaveformData = samples.tobytes()
    return group


def _channel(lead: str) -> Dataset:
    code, meaning = LEAD_CODES[lead.upper()]
    channel = Dataset()
    source = _code(code, "MDC", meaning)
    channel.ChannelSourceSequence = DicomSequence([source])
    channel.ChannelSensitivity = SENSITIVITY_UV
    channel.ChannelSensitivityUnitsSequence = DicomSequence([_code("uV", "UCUM", "microvolt")])
    channel.ChannelSensitivityCorrectionFactor = 1
    channel.ChannelBaseline = 0
    channel.ChannelSampleSkew = 0
    channel.WaveformBitsStored = 16
    return channel


def lead_names(names: Sequence[str]) -> tuple[str, ...]:
    """Our lead names as DICOM knows them (``aVR`` -> ``AVR`` for the code table)."""
    return tuple(name.upper() for name in names)
