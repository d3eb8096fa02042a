"""DICOM: the encapsulated PDF and the 12-lead waveform read back with pydicom and our own reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from interop_builders import PDF, signed_result

from ecgdesk.errors import InputError
from ecgdesk.interop import dicom
from ecgdesk.records import open_recording

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def test_encapsulated_pdf_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "report.dcm"
    path.write_bytes(dicom.encapsulated_pdf(signed_result()))
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == dicom.ENCAPSULATED_PDF and ds.PatientID == "P|1"
    assert bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength] == PDF
    assert ds.StudyInstanceUID == dicom.study_uid(signed_result().uid_seed)


def test_twelve_lead_waveform_reads_back_with_pydicom_and_our_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(0, 0.8, size=(5000, 12))
    result = signed_result(service="resting_ecg")
    path = tmp_path / "ecg.dcm"
    path.write_bytes(dicom.twelve_lead_ecg(result.patient, "seed", dicom.Waveform(500.0, LEADS, data)))
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == dicom.TWELVE_LEAD_ECG
    np.testing.assert_allclose(ds.waveform_array(0) / 1000.0, data, atol=dicom.SENSITIVITY_UV / 2000 + 1e-9)
    recording = open_recording(path)
    assert [lead.name for lead in recording.leads] == list(LEADS) and recording.fs == 500.0
    np.testing.assert_allclose(recording.read(0, recording.n_samples), data, atol=0.0013)


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
