"""DICOM: the encapsulated PDF and the 12-lead waveform read back with pydicom and our own reader."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from interop_builders import PDF, signed_result

from ecgdesk.errors import InputError
from ecgdesk.interop import authority, dicom
from ecgdesk.records import dicom_reader, open_recording

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def test_encapsulated_pdf_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "report.dcm"
    path.write_bytes(dicom.encapsulated_pdf(signed_result()))
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == dicom.ENCAPSULATED_PDF and ds.PatientID == "P|1"
    assert bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength] == PDF
    assert ds.StudyInstanceUID == dicom.study_uid(signed_result().uid_seed)


def test_twelve_lead_waveform_reads_back_with_pydicom_and_our_reader(tmp_path: Path) -> None:
    """Also the patient id's assigning authority: the namespace (IssuerOfPatientID) and, in the Issuer of
    Patient ID Qualifiers Sequence (0010,0024), its universal id and type (CX-4.2, 4.3), which were not
    written: two facilities' namespaces of one name could not be told apart on the PACS."""
    rng = np.random.default_rng(1)
    data = rng.normal(0, 0.8, size=(5000, 12))
    issuer = "WEST&2.16.840.1.113883.19.5&ISO"
    result = signed_result(service="resting_ecg")
    patient = replace(result.patient, id_authority="WEST", id_issuer=issuer)
    path = tmp_path / "ecg.dcm"
    path.write_bytes(dicom.twelve_lead_ecg(patient, "seed", dicom.Waveform(500.0, LEADS, data)))
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == dicom.TWELVE_LEAD_ECG
    np.testing.assert_allclose(ds.waveform_array(0) / 1000.0, data, atol=dicom.SENSITIVITY_UV / 2000 + 1e-9)
    assert ds.IssuerOfPatientID == "WEST" and ds[0x0010, 0x0024].VR == "SQ"
    item = ds.IssuerOfPatientIDQualifiersSequence[0]
    assert (item.UniversalEntityID, item.UniversalEntityIDType, item.IdentifierTypeCode) == (
        "2.16.840.1.113883.19.5", "ISO", "MR")
    recording = open_recording(path)
    assert [lead.name for lead in recording.leads] == list(LEADS) and recording.fs == 500.0
    np.testing.assert_allclose(recording.read(0, recording.n_samples), data, atol=0.0013)
    assert recording.patient.id_issuer == issuer and recording.summary()["patient"]["id_issuer"] == issuer


@pytest.mark.parametrize(("issuer", "name", "read"), [
    ("HOSP", "HOSP", "HOSP"),  # a namespace alone: no qualifiers
    ("urn:oid:1.2.3", "1.2.3", "1.2.3&1.2.3&ISO"),  # a FHIR order's system
    ("http://hospital.example.org/" + "m" * 60, None, "&http://hospital.example.org/" + "m" * 60 + "&URI"),
])
def test_an_authority_of_a_fhir_order_reads_back_as_the_same_authority(
    tmp_path: Path, issuer: str, name: str | None, read: str
) -> None:
    """A FHIR system longer than IssuerOfPatientID's 64 characters was left out altogether."""
    patient = replace(signed_result().patient, id_authority=authority.name(issuer), id_issuer=issuer)
    path = tmp_path / "report.dcm"
    path.write_bytes(dicom.encapsulated_pdf(signed_result(patient=patient)))
    ds = pydicom.dcmread(path)
    assert ds.get("IssuerOfPatientID") == name
    assert ("IssuerOfPatientIDQualifiersSequence" in ds) == ("&" in read)
    assert dicom_reader._issuer(path, ds, []) == read and authority.same(read, issuer)


def test_a_namespace_holding_the_lo_value_separator_is_not_written_split(tmp_path: Path) -> None:
    """An HD namespace ``EHR\\ONE`` (PID-3.4 ``EHR\\E\\ONE``) was written into the LO as is, which DICOM
    reads as two values: our reader gave "['EHR', 'ONE']&1.2.3&ISO". It is left out now (the qualifiers
    name the authority), and a file of another writer that split it reads as the one namespace."""
    issuer = "EHR\\ONE&1.2.3&ISO"
    patient = replace(signed_result().patient, id_authority=authority.name(issuer), id_issuer=issuer)
    path = tmp_path / "report.dcm"
    path.write_bytes(dicom.encapsulated_pdf(signed_result(patient=patient)))
    ds = pydicom.dcmread(path)
    assert "IssuerOfPatientID" not in ds and dicom_reader._issuer(path, ds, []) == "&1.2.3&ISO"
    ds.IssuerOfPatientID = "EHR\\ONE"
    ds.save_as(path)
    assert dicom_reader._issuer(path, pydicom.dcmread(path), []) == issuer


@pytest.mark.parametrize(("element", "value"), [
    ("UniversalEntityID", "9" * 1_000_000), ("UniversalEntityID", "1.2\x00\x07"),
    ("IssuerOfPatientID", "A&B"),
])
def test_an_authority_that_is_none_is_a_warning_and_the_waveform_reads(tmp_path: Path, element: str,
                                                                       value: str) -> None:
    """A megabyte universal id or control characters went into `ecgdesk info` as read; a namespace with an
    '&' shifted the parts (the namespace A, the universal id B)."""
    patient = replace(signed_result().patient, id_issuer="WEST&2.16.840.1&ISO")
    path = tmp_path / "ecg.dcm"
    waveform = dicom.Waveform(500.0, LEADS, np.zeros((500, 12)))
    path.write_bytes(dicom.twelve_lead_ecg(patient, "seed", waveform))
    ds = pydicom.dcmread(path)
    holder = ds if element == "IssuerOfPatientID" else ds.IssuerOfPatientIDQualifiersSequence[0]
    setattr(holder, element, value)
    ds.save_as(path)
    recording = open_recording(path)
    assert recording.patient.id_issuer is None and recording.n_samples == 500
    assert [w for w in recording.warnings if "IssuerOfPatientID: " in w and "ecg.dcm" in w]


@pytest.mark.parametrize(
    ("fs", "shape", "leads", "field"),
    [
        (100.0, (1000, 12), LEADS, "fs"),
        (500.0, (20000, 12), LEADS, "n_samples"),
        (500.0, (1000, 2), ("I", "X9"), "leads"),
        (500.0, (1000, 3), ("I", "II"), "leads"),
    ],
)
def test_waveform_limits_are_checked(
    fs: float, shape: tuple[int, int], leads: tuple[str, ...], field: str
) -> None:
    waveform = dicom.Waveform(fs, leads, np.zeros(shape))
    with pytest.raises(InputError) as caught:
        dicom.twelve_lead_ecg(signed_result().patient, "seed", waveform)
    assert caught.value.field == field
