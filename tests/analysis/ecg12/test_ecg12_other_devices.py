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


@pytest.mark.shared_data
def test_a_file_with_the_eight_independent_leads_gets_iii_avr_avl_avf_derived(ludb1: np.ndarray) -> None:
    """A cart storing I, II and V1-V6 only had no III, aVR, aVL or aVF: the axis rested on two leads and the
    low-voltage-limb and Cornell values were missing, without a word. They are derived now (Einthoven and
    Goldberger) and said; the figures are those of the 12 leads whose limb leads obey Einthoven's law
    (LUDB's own do not: each lead was rescaled), and a lead the file has is never replaced."""
    i, ii = ludb1[:, 0].astype(np.float64), ludb1[:, 1].astype(np.float64)
    einthoven = ludb1.copy()
    einthoven[:, 2:6] = np.column_stack([ii - i, -(i + ii) / 2, i - ii / 2, ii - i / 2])
    eight = [0, 1, *range(6, 12)]
    document = _analyse(ludb1[:, eight], [LEADS[c] for c in eight])
    assert document["derived_leads"] == ["III", "aVR", "aVL", "aVF"]
    assert document["warnings"] == ["recording: leads III, aVR, aVL, aVF derived from I and II "
                                    "(Einthoven/Goldberger): the file has none of them"]
    full = _analyse(einthoven, LEADS)
    assert _figures(document) == _figures(full) and full["derived_leads"] == []
    assert document["amplitudes_mv"]["aVL"] == full["amplitudes_mv"]["aVL"]
    # With its own aVL the file keeps it; only the three it lacks are derived.
    nine = [0, 1, 4, *range(6, 12)]
    assert _analyse(ludb1[:, nine], [LEADS[c] for c in nine])["derived_leads"] == ["III", "aVR", "aVF"]


@pytest.mark.shared_data
def test_a_left_right_arm_reversal_is_warned_of_and_changes_no_statement(ludb1: np.ndarray) -> None:
    """The arm electrodes swapped (lead I inverted, II and III, aVR and aVL exchanged) moved LUDB 1's axis
    from 16 to 164 degrees, right axis deviation, without a word. A warning says so now (Batchvarov et al.
    2007: P and QRS negative in I; aVR's P above aVL's); the statements stay the measurements'. Unmodified,
    neither LUDB 1 nor ventricular-paced LUDB 74 (which tripped a leave-one-out check) is warned of."""
    swapped = ludb1.copy()
    swapped[:, 0] = -ludb1[:, 0]
    swapped[:, [1, 2, 3, 4]] = ludb1[:, [2, 1, 4, 3]]
    document = _analyse(swapped, LEADS)
    warning = ("recording: possible limb lead reversal (left/right arm) or dextrocardia: P wave and QRS "
               "negative in lead I")
    assert [w[:len(warning)] for w in document["warnings"]] == [warning]
    assert "right_axis_deviation" in _figures(document)[-1]
    # The 8 leads such a file keeps (I inverted, II the swapped III): the derived leads carry the swap too.
    eight = [0, 1, *range(6, 12)]
    i = ludb1[:, 0].astype(np.float64)
    as_stored = np.column_stack([-i, ludb1[:, 1] - i, ludb1[:, 6:]]).astype(np.float32)
    assert any(w.startswith(warning) for w in _analyse(as_stored, [LEADS[c] for c in eight])["warnings"])
    paced = wfdb.rdrecord(str(shared_path("ludb") / "74"))
    assert _analyse(np.asarray(paced.p_signal, dtype=np.float32), LEADS)["warnings"] == []
