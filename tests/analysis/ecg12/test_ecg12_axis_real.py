"""The frontal axes on recordings whose axis is known: pydicom's real 12-lead DICOM ECG (the recording
device's own P, QRS and T axes are in the file) and the exercise simulator (a dipole whose loops are known).

LUDB's axis labels cannot serve: every LUDB lead was rescaled to the same span, so the limb leads break
Einthoven's law and no axis read from them can follow the labels (docs/ecg12.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ecgdesk.analysis.ecg12.resting import analyze_resting
from ecgdesk.records import open_recording
from ecgdesk.records.recording import Recording


def _angle_gap(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _device_measurements(path: Path) -> dict[str, float]:
    """The recording device's numeric measurements in the DICOM waveform annotations (name -> value)."""
    import pydicom

    ds = pydicom.dcmread(path)
    out = {}
    for item in ds.get("WaveformAnnotationSequence", []):
        if "ConceptNameCodeSequence" in item and "NumericValue" in item:
            out[str(item.ConceptNameCodeSequence[0].CodeMeaning)] = float(item.NumericValue)
    return out


def test_axes_and_intervals_agree_with_the_recording_device():
    data = pytest.importorskip("pydicom.data")
    path = Path(data.get_testdata_file("waveform_ecg.dcm"))
    device = _device_measurements(path)
    assert device["QRS Axis"] == 52 and device["P Axis"] == 74 and device["T Axis"] == 57
    m = analyze_resting(open_recording(path)).measurements
    assert m.qrs_axis_deg is not None and _angle_gap(m.qrs_axis_deg, device["QRS Axis"]) <= 10
    assert m.p_axis_deg is not None and _angle_gap(m.p_axis_deg, device["P Axis"]) <= 15
    assert m.t_axis_deg is not None and _angle_gap(m.t_axis_deg, device["T Axis"]) <= 10
    assert abs(m.qrs_ms - device["QRS Duration"]) <= 15
    assert m.pr_ms is not None and abs(m.pr_ms - device["PR Interval"]) <= 20
    assert m.qt_ms is not None and abs(m.qt_ms - device["QT Interval"]) <= 25


def test_leads_named_as_an_edf_or_a_spanish_device_names_them_give_the_same_axes():
    """``ECG I`` ... ``ECG V6`` (EDF labels) named no limb lead: every axis was None without a word (and
    ``DI``/``DII``/``DIII`` left I to III out of it)."""
    data = pytest.importorskip("pydicom.data")
    path = Path(data.get_testdata_file("waveform_ecg.dcm"))
    device = _device_measurements(path)
    recording = open_recording(path)
    names = [("D" if name in ("I", "II", "III") else "ECG ") + name for name in recording.lead_names]
    renamed = Recording.from_array(recording.read(), recording.fs, names)
    m = analyze_resting(renamed).measurements
    assert m.qrs_axis_deg is not None and _angle_gap(m.qrs_axis_deg, device["QRS Axis"]) <= 10


def _dipole_axis(bumps) -> float:
    """Frontal angle of the mean vector of Gaussian bumps (area of each: amplitude x width x sqrt(2 pi))."""
    x = sum(width * vector[0] for _, width, vector in bumps)
    y = sum(width * vector[1] for _, width, vector in bumps)  # y points inferior: +90 deg on the hexaxial
    return math.degrees(math.atan2(y, x))


def test_axes_follow_the_exercise_simulators_dipole(tmp_path: Path):
    from ecgdesk.records.simulator import exercise

    config = exercise.ExerciseConfig(pretest_s=20.0, exercise_s=30.0, recovery_s=0.0, pvc_per_min=0.0, seed=4)
    out = exercise.simulate_exercise(config, tmp_path)
    recording = open_recording(out.record)
    rest = Recording.from_array(recording.read(0, int(10 * recording.fs)), recording.fs, recording.lead_names)
    m = analyze_resting(rest).measurements
    expected = {"qrs": _dipole_axis(exercise._QRS_NORMAL), "p": _dipole_axis(exercise._P),
                "t": _dipole_axis(exercise._T)}
    assert expected["qrs"] == pytest.approx(36.8, abs=0.1)
    assert m.qrs_axis_deg is not None and _angle_gap(m.qrs_axis_deg, expected["qrs"]) <= 5
    assert m.p_axis_deg is not None and _angle_gap(m.p_axis_deg, expected["p"]) <= 8
    assert m.t_axis_deg is not None and _angle_gap(m.t_axis_deg, expected["t"]) <= 5
    assert np.isfinite(m.hr_bpm)
