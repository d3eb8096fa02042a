"""findings.json round trip and schema errors."""

from __future__ import annotations

import json

import pytest

from ecgdesk.analysis.findings import (
    SCHEMA_VERSION,
    EctopySummary,
    Episode,
    EpisodeType,
    EventSource,
    Findings,
    HeartRatePoint,
    HeartRateSummary,
    HeartRateTrend,
    HourRow,
    HRVSummary,
    Message,
    MessageLevel,
    PatientEvent,
    PauseSummary,
    QualityEpochs,
    RecordingInfo,
    Rhythm,
    Summary,
    TemplateSummary,
    findings_from_dict,
    findings_to_dict,
)
from ecgdesk.errors import InputError


def make_findings() -> Findings:
    info = RecordingInfo(record_name="r1", path="/x/r1.hea", format="wfdb", fs=250.0, n_samples=900_000,
                         duration_s=3600.0, lead="ch1", leads=["ch1", "ch2"], lead_choice="given")
    summary = Summary(
        recording=info, start_time="2024-01-01T08:00:00", end_time="2024-01-01T09:00:00", wear_time_s=3600.0,
        analyzable_time_s=3500.0, analyzable_pct=97.2222, total_beats=4200,
        beats_by_class={"N": 4000, "S": 100, "V": 90, "F": 5, "Q": 5},
        heart_rate=HeartRateSummary(min=HeartRatePoint(48.5, 120.25, None), mean_bpm=70.1,
                                    max=HeartRatePoint(150.0, 1800.0, "2024-01-01T08:30:00")),
        ectopy=EctopySummary(v_total=90, v_isolated=80, v_couplets=2, v_triplets=1, v_runs=1,
                             v_fastest_run_bpm=180.0, v_burden_pct=2.14),
        af_burden_pct=12.5, af_time_s=437.5,
        pauses=PauseSummary(count=3, long_count=1, longest_s=3.2, longest_time_s=999.0),
        hrv=HRVSummary(n_nn=3900, sdnn_ms=80.0, sdann_ms=None, rmssd_ms=25.0, pnn50_pct=5.0),
    )
    return Findings(
        summary=summary,
        episodes=[Episode(EpisodeType.VT, 10.0, 12.0, 2500, 3000, 5, 170.0, 180.0, "5 V beats", False),
                  Episode(EpisodeType.AVB2, 20.0, 22.5, 5000, 5625, evidence="P wave in long RR",
                          suspected=True)],
        hourly=[HourRow(0, 0.0, "2024-01-01T08:00:00", 4200, 48.5, 70.1, 150.0, 90, 100, 437.5, 3500.0)],
        hr_trend=HeartRateTrend(60.0, [70.0, None, 71.5]),
        templates=[TemplateSummary(1, "N", 4000, [0.0, 0.5, 1.0], 250.0, 1)],
        patient_events=[PatientEvent(100.0, "palpitations", EventSource.DIARY, Rhythm.AF, 110.0, None,
                                     [EpisodeType.AF])],
        quality=QualityEpochs(10.0, "AANL"),
        messages=[Message(MessageLevel.WARNING, "noise", "2 epochs noisy")],
        beats_file="beats.csv",
        config={"pause_s": 2.0},
    )


def test_round_trip_through_json_is_exact() -> None:
    findings = make_findings()
    data = json.loads(json.dumps(findings_to_dict(findings)))
    assert data["schema_version"] == SCHEMA_VERSION
    assert list(data)[:2] == ["schema_version", "algorithm_version"]
    assert data["episodes"][0]["type"] == "vt"
    assert findings_from_dict(data) == findings


def test_wrong_type_names_field_path() -> None:
    data = findings_to_dict(make_findings())
    data["episodes"][1]["n_beats"] = "many"
    with pytest.raises(InputError, match=r"f\.json: field 'episodes\[1\]\.n_beats': expected an integer"):
        findings_from_dict(data, source="f.json")


def test_unknown_episode_type_lists_allowed() -> None:
    data = findings_to_dict(make_findings())
    data["episodes"][0]["type"] = "torsades"
    with pytest.raises(InputError, match=r"episodes\[0\]\.type.*'torsades'.*'af'"):
        findings_from_dict(data)


def test_missing_field_and_other_major_version() -> None:
    data = findings_to_dict(make_findings())
    del data["summary"]["total_beats"]
    with pytest.raises(InputError, match=r"summary\.total_beats': required field is missing"):
        findings_from_dict(data)
    data = findings_to_dict(make_findings())
    data["schema_version"] = "2.0"
    with pytest.raises(InputError, match="schema_version"):
        findings_from_dict(data)
