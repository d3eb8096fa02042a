"""LUDB record 1 as other devices write it: leads named, doubled, flat or clipped otherwise."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conftest import shared_path
from ecgdesk.analysis.ecg12.resting import analyze_resting, measurements_to_dict, unusable_leads
from ecgdesk.records.recording import Recording

wfdb = pytest.importorskip("wfdb")

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


@pytest.fixture(scope="module")
def ludb1() -> np.ndarray:
    record = wfdb.rdrecord(str(shared_path("ludb") / "1"))
    return np.asarray(record.p_signal, dtype=np.float32)


def _analyse(data: np.ndarray, names: list[str]) -> dict[str, Any]:
    document = measurements_to_dict(analyze_resting(Recording.from_array(data, 500.0, names)))
    return document


def _figures(document: dict[str, Any]) -> tuple[Any, ...]:
    return (document["hr_bpm"], document["pr_ms"], document["qrs_ms"], document["qt_ms"],
            document["p_axis_deg"], document["qrs_axis_deg"], document["t_axis_deg"],
            [s["code"] for s in document["statements"]])


@pytest.mark.shared_data
def test_leads_named_by_aecg_code_or_dicom_meaning_give_the_same_answer(ludb1: np.ndarray) -> None:
    """``MDC_ECG_LEAD_I`` (an aECG's codes kept by an export), ``Lead I (Einthoven)`` (DICOM code
    meanings) and ``V1-C1`` were not known: the file had no axis and lost its low-voltage statement."""
    original = _analyse(ludb1, LEADS)
    assert original["qrs_axis_deg"] is not None and "low_voltage_precordial" in _figures(original)[-1]
    mdc = _analyse(ludb1, [f"MDC_ECG_LEAD_{n.upper()}" for n in LEADS])
    dicom = _analyse(ludb1, [f"Lead {n} ({'Einthoven' if i < 3 else 'Goldberger' if i < 6 else 'Wilson'})"
                             for i, n in enumerate(LEADS)])
    paired = _analyse(ludb1, LEADS[:6] + [f"{n}-C{n[1]}" for n in LEADS[6:]])
    for other in (mdc, dicom, paired):
        assert _figures(other) == _figures(original)
        assert other["warnings"] == []


@pytest.mark.shared_data
def test_a_flat_clipped_or_doubled_lead_is_left_out_and_named(ludb1: np.ndarray) -> None:
    """A zero lead I pulled the axis from 16 to 22 degrees, a lead clipped at +-0.05 mV to 21, and a second
    ``V5`` (V6 misnamed) overwrote the first's amplitudes; all without a word. Each is left out of the axis
    and the lead measurements now, and a warning names it."""
    def without(column: int) -> dict[str, Any]:
        keep = [i for i in range(12) if i != column]
        return _analyse(ludb1[:, keep], [LEADS[i] for i in keep])

    flat = ludb1.copy()
    flat[:, 0] = 0.0
    document = _analyse(flat, LEADS)
    assert document["warnings"] == ["recording: lead I is flat (its samples span 0.000 mV): left out of the "
                                    "axis and the lead measurements"]
    assert document["qrs_axis_deg"] == without(0)["qrs_axis_deg"] != 22
    clipped = ludb1.copy()
    clipped[:, 0] = np.clip(clipped[:, 0], -0.05, 0.05)
    document = _analyse(clipped, LEADS)
    assert document["warnings"][0].startswith("recording: lead I holds its extreme value for ")
    assert document["qrs_axis_deg"] == without(0)["qrs_axis_deg"]
    document = _analyse(ludb1, [*LEADS[:11], "V5"])
    assert document["warnings"] == ["recording: leads V5, V5 are named as the same lead: neither is taken "
                                    "for it (axis and lead measurements)"]
    # Without V5 and V6 the precordial leads are not all there: no low-voltage statement either way.
    assert "low_voltage_precordial" not in _figures(document)[-1]
    assert document["qrs_axis_deg"] == _analyse(ludb1, LEADS)["qrs_axis_deg"]


@pytest.mark.shared_data
def test_an_isoelectric_stretch_at_a_leads_minimum_is_not_clipping() -> None:
    """LUDB 100's V6 has no Q or S wave: its lowest value is its baseline, held for 92 ms. A rail lies
    beyond the waves, so that lead is used like any other (no lead of LUDB 1-100 is flat or clipped)."""
    record = wfdb.rdrecord(str(shared_path("ludb") / "100"))
    assert unusable_leads(record.p_signal, 500.0, record.sig_name, "100") == (frozenset(), [])
