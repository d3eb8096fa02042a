"""Exercise test analysis on synthetic recordings with known rate, ST level and protocol."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from stress_synthetic import LEADS, synthetic_ecg

from ecgdesk.analysis.stress.exercise import (
    DukeRisk,
    StSlope,
    acsm_treadmill_mets,
    analyze_stress,
    bruce_mets,
    duke_treadmill_score,
    foster_bruce_mets,
    stress_to_dict,
)
from ecgdesk.analysis.stress.protocol import Angina, bruce_protocol, load_protocol, protocol_from_dict
from ecgdesk.errors import InputError
from ecgdesk.records.recording import Recording

FS = 500.0


def _hr(t: float) -> float:
    if t < 60:
        return 70.0
    if t < 600:
        return 70.0 + (t - 60) / 540 * 50
    return 120.0 - (t - 600) / 120 * 30


@pytest.fixture(scope="module")
def ischemic_test() -> tuple[Recording, object]:
    # 2 mm of ST depression in V4-V6 from minute 5 to the first minute of recovery.
    sig, _ = synthetic_ecg(720, FS, _hr, lambda t: -0.2 if 300 <= t < 660 else 0.0)
    protocol = bruce_protocol(55, "M", exercise_s=540, pretest_s=60, recovery_s=120)
    return Recording.from_array(sig, FS, list(LEADS)), protocol


def test_stage_table_rates_and_st(ischemic_test):
    recording, protocol = ischemic_test
    result = analyze_stress(recording, protocol)
    by_name = {m.stage.name: m for m in result.stages}
    # End-of-stage heart rate: the schedule's rate over the stage's last minute.
    assert by_name["rest"].hr_bpm == pytest.approx(70.0, abs=1.5)
    assert by_name["3"].hr_bpm == pytest.approx(_hr(570), abs=3.0)
    rest_st = {s.lead: s for s in by_name["rest"].st}
    assert all(abs(s.st_j60_mv) < 0.03 for s in rest_st.values())
    # The depression shows in V4-V6 only; V1-V3 keep their level (relative: the T wave nears J+60).
    stage2 = {s.lead: s for s in by_name["2"].st}
    assert stage2["V5"].st_j60_mv - stage2["V2"].st_j60_mv == pytest.approx(-0.2, abs=0.05)
    assert result.max_st_depression_mm >= 1.0
    assert result.max_st_depression_lead in ("V4", "V5", "V6")
    assert result.peak_hr_bpm == pytest.approx(120.0, abs=3.0)
    assert result.target_hr_bpm == pytest.approx(0.85 * 165)
    assert not result.target_reached


def test_summary_scores(ischemic_test):
    recording, protocol = ischemic_test
    result = analyze_stress(recording, protocol)
    assert result.exercise_time_s == 540
    assert result.mets == pytest.approx(foster_bruce_mets(9.0))
    expected = duke_treadmill_score(9.0, result.max_st_depression_mm, 0)
    assert result.duke_score == pytest.approx(expected)
    doc = stress_to_dict(result)
    json.dumps(doc)  # serialisable
    assert [s["name"] for s in doc["stages"]][:2] == ["rest", "1"]


def test_formulas():
    # Foster: 9 min of Bruce is about 30 mL/kg/min, 8.6 METs.
    assert foster_bruce_mets(9.0) == pytest.approx((14.8 - 1.379 * 9 + 0.451 * 81 - 0.012 * 729) / 3.5)
    assert 8.0 < foster_bruce_mets(9.0) < 9.5
    # ACSM walking: 3 mph flat ~ 3.3 METs.
    assert acsm_treadmill_mets(3.0, 0.0) == pytest.approx(3.3, abs=0.05)
    assert DukeRisk.of(duke_treadmill_score(12, 0, 0)) is DukeRisk.LOW
    assert DukeRisk.of(duke_treadmill_score(6, 2, 1)) is DukeRisk.MODERATE  # 6 - 10 - 4 = -8
    assert DukeRisk.of(duke_treadmill_score(3, 2.5, 2)) is DukeRisk.HIGH  # 3 - 12.5 - 8
    assert StSlope.of(-1.0) is StSlope.DOWNSLOPING and StSlope.of(0.0) is StSlope.HORIZONTAL


def test_protocol_validation(tmp_path: Path):
    good = bruce_protocol(60, "F", exercise_s=400).to_dict()
    good["symptoms"] = [{"time_s": 300, "text": "chest pressure", "angina": "limiting"}]
    parsed = protocol_from_dict(good)
    assert parsed.angina_index is Angina.LIMITING
    assert parsed.exercise_time_s == 400
    supervised = protocol_from_dict({**good, "supervisor": {"name": "Dr. S", "npi": "1234567893"}})
    assert (supervised.supervisor, supervised.supervisor_npi) == ("Dr. S", "1234567893")
    assert protocol_from_dict(supervised.to_dict()).supervisor == "Dr. S"
    bad_cases = [
        ({**good, "patient": {"age": -3, "sex": "F"}}, "patient.age"),
        ({**good, "patient": {"age": 50, "sex": "X"}}, "patient.sex"),
        ({**good, "stages": []}, "stages"),
        ({**good, "stages": [{**good["stages"][1], "end_s": 10}]}, "stages[0].end_s"),
        ({**good, "stages": [{**good["stages"][1], "bp": [500, 80]}]}, "stages[0].bp"),
        ({**good, "stages": [{**good["stages"][1], "phase": "warmup"}]}, "stages[0].phase"),
        ({**good, "angina_index": "severe"}, "angina_index"),
        ({**good, "supervisor": {"npi": "1234567893"}}, "supervisor"),
        ({**good, "supervisor": {"name": "Dr. S", "npi": "12"}}, "supervisor.npi"),
        # Phases out of their order: the recovery counted as exercise time, a later "rest" as resting HR.
        ({**good, "stages": [good["stages"][0], {**good["stages"][-1], "start_s": 120, "end_s": 180},
                             {**good["stages"][1], "start_s": 180, "end_s": 300}]}, "stages[2].phase"),
        ({**good, "stages": [good["stages"][1], {**good["stages"][0], "start_s": 300, "end_s": 360}]},
         "stages[1].phase"),
    ]
    # Listed out of order, the stages are still taken in the order of their times.
    assert protocol_from_dict({**good, "stages": good["stages"][::-1]}).stages == parsed.stages
    for data, field in bad_cases:
        with pytest.raises(InputError) as info:
            protocol_from_dict(data, "p.json")
        assert info.value.field == field, data
        assert "p.json" in str(info.value)
    path = tmp_path / "broken.json"
    path.write_text('{"stages": [', encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(InputError, match="invalid JSON"):
        load_protocol(path)
    assert path.read_bytes() == before


def test_recording_shorter_than_protocol():
    sig, _ = synthetic_ecg(60, FS, lambda t: 70.0)
    recording = Recording.from_array(sig, FS, list(LEADS))
    with pytest.raises(InputError, match="exercise phase ends"):
        analyze_stress(recording, bruce_protocol(50, "M", exercise_s=300))


def test_flat_signal_is_refused():
    recording = Recording.from_array(np.zeros((int(400 * FS), 3), dtype=np.float32), FS, ["I", "II", "V5"])
    with pytest.raises(InputError, match="QRS"):
        analyze_stress(recording, bruce_protocol(50, "M", exercise_s=120, pretest_s=60, recovery_s=60))


def test_avr_is_known_under_any_spelling_of_its_name() -> None:
    """aVR's ST depression (reciprocal to the lateral leads) is left out of the maximum depression and the
    ischemic response; the lead was found by ``name.lower() == "avr"``, so in a file naming its leads
    ``Lead aVR`` (``ECG aVR``, ``DII`` ...) it was counted: 2 mm in aVR alone read as an ischemic response
    (stress-1.2). Here only the aVR channel carries the depression, the leads written ``Lead X``."""
    sig, _ = synthetic_ecg(240, FS, lambda t: 70.0 + (t > 60) * 30.0, lambda t: -0.2 if t >= 120 else 0.0)
    column = {name: i for i, name in enumerate(LEADS)}
    data = sig.copy()
    data[:, column["aVR"]] = sig[:, column["V5"]]
    for lateral in ("V4", "V5", "V6"):
        data[:, column[lateral]] = sig[:, column["V3"]]
    protocol = bruce_protocol(55, "M", exercise_s=150, pretest_s=60, recovery_s=30)
    result = analyze_stress(Recording.from_array(data, FS, [f"Lead {n}" for n in LEADS]), protocol)
    stage = {m.stage.name: m for m in result.stages}["1"]
    (avr,) = [s for s in stage.st if s.lead == "Lead aVR"]
    assert avr.st_j80_mv < -0.1  # the depression is there, in aVR
    assert not result.ischemic_st_response
    assert result.max_st_depression_lead != "Lead aVR" and result.max_st_depression_mm < 1.0
    # Two names of aVR (V1's channel written "aVR" too): which is aVR is not ours to guess, so neither is
    # left out as aVR and a warning says so (until stress-1.5 both were, silently, whatever they held).
    names = [f"Lead {n}" for n in LEADS]
    names[column["V1"]] = "aVR"
    doubled = analyze_stress(Recording.from_array(data, FS, names), protocol)
    assert doubled.ischemic_st_response and doubled.max_st_depression_lead == "Lead aVR"
    assert ("leads Lead aVR, aVR are named as the same lead: neither is taken for it (each one's ST level "
            "counts, none is left out as aVR)") in doubled.warnings
    assert not any("same lead" in w for w in result.warnings)


def test_noise_stages_without_recording_and_a_two_second_stage_report_no_borrowed_figures() -> None:
    """Until 2026-12-07 10 s of noise during exercise (detected as "beats" at up to 300/min) set the peak
    heart rate (248 bpm, target reached); a stage after the recording's end was "measured" on the last
    8 s of the stage before it, and a 2 s exercise stage on the 6 s of rest before it (70 bpm). Now the
    noise is left out of the rates, such stages measure what lies inside them only, and each is said."""
    sig, _ = synthetic_ecg(240, FS, lambda t: 70.0 + (t > 60) * 40.0)
    t = np.arange(sig.shape[0]) / FS
    burst = (t > 150) & (t < 160)
    sig[burst] += np.random.default_rng(1).normal(0.0, 1.0, (int(burst.sum()), sig.shape[1]))
    stages = [("rest", "pretest", 0, 60), ("1", "exercise", 60, 62), ("2", "exercise", 62, 180),
              ("recovery 1", "recovery", 180, 240), ("recovery 2", "recovery", 300, 360)]
    protocol = protocol_from_dict({"protocol": "bruce", "patient": {"age": 55, "sex": "M"}, "stages": [
        {"name": n, "phase": p, "start_s": a, "end_s": b} for n, p, a, b in stages]}, "p.json")
    result = analyze_stress(Recording.from_array(sig, FS, list(LEADS)), protocol)
    assert result.peak_hr_bpm == pytest.approx(110.0, abs=2.0)
    by_name = {m.stage.name: m for m in result.stages}
    assert by_name["1"].hr_bpm == pytest.approx(110.0, abs=2.0) and by_name["1"].st == ()
    assert (by_name["recovery 2"].hr_bpm, by_name["recovery 2"].st) == (None, ())
    document = stress_to_dict(result)
    assert document["warnings"] == list(result.warnings) and result.warnings[1:] == (
        "stage '1' has 2.0 s of recording, under the 8 s a median beat needs: no ST level for it",
        "stage 'recovery 2' starts at 300 s, after the recording ends (240.0 s): nothing measured for it",
        "Bruce exercise time 2.0 min is outside the 3-21 min Foster's equation is read over (the first to "
        "the seventh stage's end): no METs estimate for the test or for a stage ending outside it")
    assert "unlike the dominant QRS (noise or ectopic beats): left out of the heart" in result.warnings[0]


def test_bruce_exercise_shorter_than_fosters_range_gives_no_mets() -> None:
    """Foster's cubic is no estimate under a completed first Bruce stage: it falls from 4.2 METs at 0 min
    to 4.0 at 1.6 min (its intercept). Until stress-1.5 two minutes of exercise read 4.0 METs, in the
    summary and the stage table, without a word; now there is no estimate and the warnings say why."""
    sig, _ = synthetic_ecg(200, FS, lambda t: 70.0 + (t > 60) * 30.0)
    recording = Recording.from_array(sig, FS, list(LEADS))
    result = analyze_stress(recording, bruce_protocol(55, "M", exercise_s=120, pretest_s=60, recovery_s=20))
    assert result.mets is None and [m.mets for m in result.stages] == [None, None, None]
    document = stress_to_dict(result)
    assert document["mets"] is None and document["warnings"] == [
        "Bruce exercise time 2.0 min is outside the 3-21 min Foster's equation is read over (the first to "
        "the seventh stage's end): no METs estimate for the test or for a stage ending outside it"]
    # The Duke score reads the minutes themselves.
    assert result.duke_score == pytest.approx(duke_treadmill_score(2.0, result.max_st_depression_mm, 0))
    # From the first stage's end on, Foster's figure; past the seventh stage none either.
    assert bruce_mets(3.0) == pytest.approx(foster_bruce_mets(3.0)) and bruce_mets(21.5) is None


def test_a_protocol_named_bruce_in_capitals_or_without_speeds_gives_no_wrong_mets() -> None:
    """``"protocol": "Bruce"`` was not the Bruce protocol: its METs came from the ACSM walking equation on
    the last stage (4.7 for a 3-minute test, Foster's 4.1); a custom protocol whose stages give no speed and
    grade read 1.0 METs (rest). Now "Bruce" is Bruce whatever its case, and no figure is printed where
    none can be estimated, with a warning."""
    sig, _ = synthetic_ecg(200, FS, lambda t: 70.0 + (t > 10) * 30.0)
    recording = Recording.from_array(sig, FS, list(LEADS))
    document = bruce_protocol(55, "M", exercise_s=180, pretest_s=10, recovery_s=10).to_dict()
    capitals = analyze_stress(recording, protocol_from_dict({**document, "protocol": "Bruce"}, "p.json"))
    assert capitals.mets == pytest.approx(foster_bruce_mets(3.0)) and capitals.warnings == ()
    stages = [{k: v for k, v in stage.items() if k not in ("speed_mph", "grade_pct")}
              for stage in document["stages"]]
    custom_protocol = protocol_from_dict({**document, "protocol": "custom", "stages": stages}, "p.json")
    custom = analyze_stress(recording, custom_protocol)
    assert custom.mets is None and custom.warnings == (
        "no exercise stage of the 'custom' protocol gives speed_mph and grade_pct: no METs estimate",)
