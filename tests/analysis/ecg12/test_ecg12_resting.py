"""Resting 12-lead analysis: delineation against LUDB's cardiologists, measurements, statements, outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from ecgdesk.analysis.ecg12.delineation import DelineationParams, WaveKind, delineate
from ecgdesk.analysis.ecg12.measure import AxisCategory, QTc
from ecgdesk.analysis.ecg12.resting import analyze_resting, read_waves_csv, write_outputs
from ecgdesk.analysis.ecg12.rhythm import Rhythm
from ecgdesk.analysis.ecg12.statements import Sex, interpret
from ecgdesk.errors import InputError
from ecgdesk.records.recording import Recording

wfdb = pytest.importorskip("wfdb")


def _ludb(record: int) -> tuple[Recording, dict[str, list[tuple[str, int, int, int]]]]:
    base = shared_path("ludb") / str(record)
    rec = wfdb.rdrecord(str(base))
    refs: dict[str, list[tuple[str, int, int, int]]] = {}
    symbols = {"p": "P", "N": "QRS", "t": "T"}
    for lead in rec.sig_name:
        ann = wfdb.rdann(str(base), lead)
        s, y = ann.sample, ann.symbol
        refs[lead] = [(symbols[y[i]], int(s[i - 1]), int(s[i]), int(s[i + 1])) for i in range(1, len(y) - 1)
                      if y[i] in symbols and y[i - 1] == "(" and y[i + 1] == ")"]
    return Recording.from_array(rec.p_signal.astype(np.float32), float(rec.fs), rec.sig_name), refs


@pytest.mark.shared_data
def test_boundaries_match_cardiologists():
    """Pooled over LUDB 1-20 (every lead, every annotated beat): the issue's bias target, looser spread."""
    errors: dict[str, list[float]] = {"QRS_on": [], "QRS_off": [], "P_on": [], "P_off": [], "T_off": []}
    for record in range(1, 21):
        recording, refs = _ludb(record)
        result = analyze_resting(recording)
        fs = recording.fs
        for lead in result.delineation.leads:
            ours = [w for beat in lead.beat_waves for w in beat]
            for kind, on, peak, off in refs[lead.lead]:
                candidates = [w for w in ours if w.kind.value == kind and abs(w.peak - peak) <= 0.15 * fs]
                if not candidates:
                    continue
                wave = min(candidates, key=lambda w: abs(w.peak - peak))
                if kind != "T":
                    errors[f"{kind}_on"].append((wave.onset - on) / fs * 1000)
                errors[f"{kind}_off"].append((wave.offset - off) / fs * 1000)
    for key, values in errors.items():
        assert len(values) > 500, key
        assert abs(float(np.mean(values))) <= 10.0, (key, np.mean(values))
        assert float(np.std(values)) <= 40.0, (key, np.std(values))


@pytest.mark.shared_data
def test_sinus_record_measurements():
    recording, _ = _ludb(3)  # LUDB: sinus rhythm, normal conduction
    result = analyze_resting(recording, sex=Sex.FEMALE)
    m = result.measurements
    assert result.rhythm_name in (Rhythm.SINUS_RHYTHM, Rhythm.SINUS_BRADYCARDIA)
    assert 55 < m.hr_bpm < 80
    assert m.pr_ms is not None and 100 < m.pr_ms < 220
    assert 60 < m.qrs_ms < 120
    assert m.qt_ms is not None and 320 < m.qt_ms < 460
    assert m.qtc is not None and m.qtc.bazett == pytest.approx(m.qt_ms / math.sqrt(m.rr_ms / 1000))


@pytest.mark.shared_data
def test_atrial_fibrillation_record():
    recording, _ = _ludb(38)  # LUDB: atrial fibrillation
    assert analyze_resting(recording).rhythm_name is Rhythm.ATRIAL_FIBRILLATION


def test_qtc_formulas():
    q = QTc.from_qt(400.0, 0.8)
    assert q.bazett == pytest.approx(400 / math.sqrt(0.8))
    assert q.fridericia == pytest.approx(400 / 0.8 ** (1 / 3))
    assert q.framingham == pytest.approx(400 + 154 * 0.2)
    assert q.hodges == pytest.approx(400 + 1.75 * 15)
    assert AxisCategory.of(-45) is AxisCategory.LEFT_DEVIATION
    assert AxisCategory.of(120) is AxisCategory.RIGHT_DEVIATION
    assert AxisCategory.of(50) is AxisCategory.NORMAL


def _synthetic_12lead(pr_s: float = 0.16, qrs_width: float = 0.010, hr: float = 60.0) -> Recording:
    fs = 500.0
    n = int(10 * fs)
    t = np.arange(n) / fs
    gains = np.array([0.6, 1.0, 0.4, -0.8, 0.3, 0.7, -0.5, 0.4, 0.8, 1.2, 1.1, 0.9])
    lags = np.array([4, 0, -4, 2, 8, -2, -8, -6, -3, 1, 5, 7]) / 1000.0
    sig = np.zeros((n, 12))
    for r in np.arange(0.6, 9.6, 60.0 / hr):
        for lead in range(12):
            x = t - r - lags[lead]
            wave = (0.12 * np.exp(-0.5 * ((x + pr_s) / 0.02) ** 2) + np.exp(-0.5 * (x / qrs_width) ** 2)
                    - 0.2 * np.exp(-0.5 * ((x - 2.5 * qrs_width) / qrs_width) ** 2)
                    + 0.3 * np.exp(-0.5 * ((x - 0.3) / 0.05) ** 2))
            sig[:, lead] += gains[lead] * wave
    names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    return Recording.from_array(sig.astype(np.float32), fs, names)


def test_first_degree_block_statement_carries_its_measurement():
    result = analyze_resting(_synthetic_12lead(pr_s=0.30))
    codes = {s.code: s for s in result.statements}
    assert "first_degree_av_block" in codes
    assert codes["first_degree_av_block"].value > 200
    assert codes["first_degree_av_block"].measurement == "pr_ms"
    normal = analyze_resting(_synthetic_12lead(pr_s=0.16))
    assert "first_degree_av_block" not in {s.code for s in normal.statements}


def test_wide_qrs_gives_bundle_branch_block():
    result = analyze_resting(_synthetic_12lead(qrs_width=0.035))
    assert result.measurements.qrs_ms >= 120
    assert "complete_bbb" in {s.code for s in result.statements}
    # Prolonged QTc is not called on a wide QRS (its QT is inflated by the depolarisation).
    assert not any(s.code.startswith("prolonged_qtc") for s in result.statements)


def test_statement_table_respects_sex_limits():
    result = analyze_resting(_synthetic_12lead())
    m = result.measurements
    assert m.qtc is not None
    m.qtc = QTc(bazett=455.0, fridericia=450.0, framingham=450.0, hodges=450.0)
    male = {s.code for s in interpret(m, result.rhythm, Sex.MALE)}
    female = {s.code for s in interpret(m, result.rhythm, Sex.FEMALE)}
    assert "prolonged_qtc_male" in male
    assert not any(code.startswith("prolonged_qtc") for code in female)


@pytest.mark.parametrize(("axis", "expected"), [
    (-98.0, "extreme_axis_deviation"), (-170.0, "extreme_axis_deviation"), (-60.0, "left_axis_deviation"),
    (120.0, "right_axis_deviation"), (45.0, None)])
def test_an_axis_in_the_northwest_quadrant_is_not_left_axis_deviation(axis: float, expected: str | None):
    # found on a public 15-lead record (PTB): -98 degrees was reported as left axis deviation
    result = analyze_resting(_synthetic_12lead())
    m = result.measurements
    m.qrs_axis_deg = axis
    axis_codes = {s.code for s in interpret(m, result.rhythm)} & {
        "extreme_axis_deviation", "left_axis_deviation", "right_axis_deviation"}
    assert axis_codes == ({expected} if expected else set())


def test_outputs_round_trip(tmp_path: Path):
    recording = _synthetic_12lead()
    result = analyze_resting(recording)
    waves_path, json_path = write_outputs(result, tmp_path)
    assert waves_path.read_text().splitlines()[0] == "lead,wave,onset,peak,offset"
    rows = read_waves_csv(waves_path)
    assert {r[1] for r in rows} == {"P", "QRS", "T"}
    assert {r[0] for r in rows} == set(recording.lead_names)
    assert all(r[2] <= r[3] <= r[4] for r in rows)
    doc = json.loads(json_path.read_text())
    for key in ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms", "p_axis_deg", "qrs_axis_deg", "t_axis_deg", "rhythm",
                "statements"):
        assert key in doc
    assert set(doc["qtc_ms"]) == {"bazett", "fridericia", "framingham", "hodges"}
    assert doc["hr_bpm"] == pytest.approx(60.0, abs=1.0)
    assert doc["rhythm"] in {r.value for r in Rhythm}


def test_bad_signals_are_refused():
    with pytest.raises(InputError, match="at least 2 s"):
        analyze_resting(Recording.from_array(np.zeros((500, 12), dtype=np.float32), 500.0,
                                             [f"L{i}" for i in range(12)]))
    with pytest.raises(InputError, match="NaN"):
        analyze_resting(Recording.from_array(np.full((5000, 3), np.nan, dtype=np.float32), 500.0,
                                             ["I", "II", "III"]))
    with pytest.raises(InputError, match="QRS"):
        delineate(np.zeros((5000, 3)), 500.0, ["I", "II", "III"])
    noise = np.random.default_rng(3).normal(0, 0.1, (5000, 12)).astype(np.float32)
    with pytest.raises(InputError, match="noise"):
        analyze_resting(Recording.from_array(noise, 500.0, [f"L{i}" for i in range(12)]))
    with pytest.raises(InputError, match="fs"):
        delineate(np.zeros((5000, 3)), 0.0, ["I", "II", "III"])
    assert WaveKind("QRS") is WaveKind.QRS


@pytest.mark.shared_data
@pytest.mark.parametrize("record", [2, 18, 22, 45])
def test_mains_hum_changes_no_statement(record: int):
    # a mains-powered cart's hum: with 0.1 mV of it, ecg12-1.1 changed the rhythm or statements of 26 of
    # LUDB's first 100 records at 50 Hz and 10 at 60 Hz, and called record 45 (AF, low limb voltage) "no
    # repeating QRS complex"
    clean, _ = _ludb(record)
    signal = clean.read(0, clean.n_samples).astype(np.float64)
    names = [lead.name for lead in clean.leads]
    expected = analyze_resting(clean)
    for f0 in (50.0, 60.0):
        hum = 0.1 * np.sin(2 * np.pi * f0 * np.arange(signal.shape[0]) / clean.fs + 0.7)[:, None]
        noisy = Recording.from_array((signal + hum).astype(np.float32), clean.fs, names)
        result = analyze_resting(noisy)
        assert result.rhythm_name == expected.rhythm_name
        assert sorted(s.code for s in result.statements) == sorted(s.code for s in expected.statements)


@pytest.mark.shared_data
@pytest.mark.parametrize("record", [34, 74])
def test_ventricular_paced_qrs_onset_is_not_marked_before_the_stimulus(record: int):
    """LUDB 34 (tuning half) and 74 (held out), unipolar ventricular pacing: the global QRS onset against
    the median of the cardiologists' twelve lead marks of each beat was 41 and 45 ms early with the stimuli
    left in (``pacing_spikes=False``, ecg12-1.4: the onset on the low-passed stimulus), 25 and 26 ms since
    ecg12-1.5 (LUDB's marks lie 12-24 ms after the stimulus)."""
    recording, refs = _ludb(record)
    marks = np.sort([on for beats in refs.values() for kind, on, _, _ in beats if kind == "QRS"])
    mean_error_ms = {}
    for cut in (True, False):
        d = analyze_resting(recording, DelineationParams(pacing_spikes=cut)).delineation
        ours = np.asarray([w.onset for beat in d.leads[0].beat_waves for w in beat if w.kind is WaveKind.QRS])
        errors = []
        for onset in ours:
            near = marks[np.abs(marks - onset) <= 0.1 * recording.fs]
            if near.size >= 6:  # a beat the cardiologists marked in at least half the leads
                errors.append((onset - float(np.median(near))) * 1000.0 / recording.fs)
        assert len(errors) >= 7
        mean_error_ms[cut] = float(np.mean(errors))
    assert -30.0 <= mean_error_ms[True] <= 0.0, mean_error_ms
    assert mean_error_ms[False] < -35.0, mean_error_ms
