"""The streaming pipeline: chunk borders, lead choice, no analyzable signal, outputs and the CLI."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import wfdb
from ambulatory_engine import SIMPLE_ENGINE

from conftest import shared_path
from ecgdesk.analysis import pipeline
from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import EpisodeType
from ecgdesk.analysis.io import read_findings, write_outputs
from ecgdesk.analysis.pipeline import BeatEngine, analyze, default_engine
from ecgdesk.cli.main import main
from ecgdesk.errors import InputError
from ecgdesk.records import EventKind, EventMarker, Recording, open_recording

FS = 360.0


def real_engine() -> BeatEngine:
    """ecgdesk's detector and classifier, or skip (with the reason) where they are not installed."""
    try:
        return default_engine()
    except ImportError as error:
        pytest.skip(f"ecgdesk's QRS detector / beat classifier is not available: {error}")


def engines() -> list[object]:
    try:
        real: object = default_engine()
    except ImportError as error:
        reason = f"ecgdesk's engine is not available: {error}"
        real = pytest.param(None, marks=pytest.mark.skip(reason=reason))
    return [SIMPLE_ENGINE, real]


def mitdb(record: str) -> Path:
    return shared_path("mitdb", f"{record}.hea")


def cropped_100(seconds: float) -> tuple[Recording, int]:
    """MIT-BIH 100 from a start chosen so that a reference beat sits exactly on the 60 s chunk border."""
    stem = str(mitdb("100").with_suffix(""))
    ann = wfdb.rdann(stem, "atr")
    border = int(60 * FS)
    beat = int(ann.sample[(ann.sample > border + 1000)][0])
    start = beat - border
    x = wfdb.rdrecord(stem, sampfrom=start, sampto=start + int(seconds * FS)).p_signal.astype(np.float32)
    return Recording.from_array(x, FS, ["MLII", "V5"], record_name="crop100"), border


@pytest.mark.parametrize("engine", engines(), ids=["simple", "ecgdesk"])
def test_chunk_borders_lose_or_double_no_beat(engine: BeatEngine) -> None:
    rec, border = cropped_100(300)
    small = analyze(rec, lead="MLII", config=AnalysisConfig(chunk_s=60, overlap_s=2), engine=engine)
    whole = analyze(rec, lead="MLII", config=AnalysisConfig(chunk_s=600, overlap_s=2), engine=engine)
    assert np.array_equal(small.beats.samples, whole.beats.samples)
    assert np.all(np.diff(small.beats.samples) > 0)
    near = small.beats.samples[np.abs(small.beats.samples - border) < 0.1 * FS]
    assert near.size == 1  # the beat on the border, once


def test_lead_choice_and_unknown_lead() -> None:
    rec, _ = cropped_100(120)
    data = rec.read()
    data[:, 0] = 0.0  # MLII off: the quick look must pick V5
    flat_first = Recording.from_array(data, FS, ["MLII", "V5"])
    result = analyze(flat_first, engine=SIMPLE_ENGINE)
    assert result.findings.summary.recording.lead == "V5"
    assert "automatically" in result.findings.summary.recording.lead_choice
    with pytest.raises(InputError, match=r"no lead named 'II'; the leads are MLII, V5"):
        analyze(rec, lead="II", engine=SIMPLE_ENGINE)


def test_no_analyzable_signal_gives_zero_time_and_a_message(tmp_path: Path) -> None:
    rec = Recording.from_array(np.zeros(int(600 * 250), dtype=np.float32), 250.0, ["ch1"], record_name="flat")
    result = analyze(rec, engine=SIMPLE_ENGINE)
    s = result.findings.summary
    assert s.analyzable_time_s == 0 and s.analyzable_pct == 0 and s.total_beats == 0
    assert s.wear_time_s == 0
    assert [m.code for m in result.findings.messages] == ["no_analyzable_signal"]
    assert {e.type for e in result.findings.episodes} == {EpisodeType.LEAD_OFF}
    beats = result.beats
    findings, paths = write_outputs(result.findings, beats.samples, beats.labels, 250.0, tmp_path,
                                    "flat")
    assert paths.beats.read_text() == "sample,symbol\n"
    assert findings.annotation_file is None and not paths.annotation.exists()
    assert read_findings(paths.findings) == findings


@pytest.mark.shared_data
def test_outputs_agree_with_each_other_and_round_trip(tmp_path: Path) -> None:
    rec = open_recording(mitdb("208"))
    rec = dataclasses.replace(rec, n_samples=int(600 * FS))
    result = analyze(rec, lead="MLII", engine=real_engine())
    findings, paths = write_outputs(result.findings, result.beats.samples, result.beats.labels, FS, tmp_path,
                                    "208")
    with paths.beats.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["sample"]) for r in rows] == result.beats.samples.tolist()
    assert {r["symbol"] for r in rows} <= set("NSVFQ")
    ann = wfdb.rdann(str(tmp_path / "208"), "ecgdesk")
    assert ann.sample.tolist() == result.beats.samples.tolist()
    mit = {"N": "N", "S": "A", "V": "V", "F": "F", "Q": "Q"}
    assert ann.symbol == [mit[r["symbol"]] for r in rows]
    assert read_findings(paths.findings) == findings
    s = findings.summary
    assert s.total_beats == sum(s.beats_by_class.values()) == len(rows)
    assert s.ectopy.v_total == s.beats_by_class["V"]
    ref = wfdb.rdann(str(mitdb("208").with_suffix("")), "atr", sampto=int(600 * FS))
    n_ref = sum(sym in "NLRejAaJSVEF/fQ" for sym in ref.symbol)
    assert abs(s.total_beats - n_ref) <= 0.01 * n_ref


@pytest.mark.shared_data
def test_cli_analyze_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "default_engine", lambda: SIMPLE_ENGINE)  # the CLI, not the engine
    rec = mitdb("100")
    out = tmp_path / "out"
    diary = tmp_path / "diary.csv"
    diary.write_text("time,symptom\n60,palpitations\n", encoding="utf-8")
    assert main(["analyze", str(rec), "--out", str(out), "--lead", "MLII", "--diary", str(diary)]) == 0
    findings = read_findings(out / "findings.json")
    assert findings.patient_events[0].symptom == "palpitations"
    assert (out / "100.ecgdesk").exists() and (out / "beats.csv").exists()
    capsys.readouterr()
    assert main(["analyze", str(rec), "--out", str(tmp_path / "o2"), "--lead", "II"]) == 2
    err = capsys.readouterr().err
    assert "field 'lead'" in err and "MLII, V5" in err and "Traceback" not in err
    bad = tmp_path / "bad.csv"
    bad.write_text("time,symptom\nlater,x\n", encoding="utf-8")
    assert main(["analyze", str(rec), "--out", str(tmp_path / "o3"), "--diary", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "row 2.time" in err
    assert bad.read_text(encoding="utf-8") == "time,symptom\nlater,x\n"


@pytest.mark.parametrize("engine", engines(), ids=["simple", "ecgdesk"])
def test_pause_and_lead_off_spliced_into_a_real_record(engine: BeatEngine) -> None:
    stem = str(mitdb("100").with_suffix(""))
    x = wfdb.rdrecord(stem, sampto=int(300 * FS), channels=[0]).p_signal[:, 0].astype(np.float32)
    ann = wfdb.rdann(stem, "atr", sampto=int(300 * FS))
    beat = int(ann.sample[ann.sample > int(100 * FS)][0])
    cut = beat + int(0.55 * FS)  # after the T wave
    rng = np.random.default_rng(0)
    flat = (x[cut] + rng.normal(0, 0.01, int(2.6 * FS))).astype(np.float32)  # baseline, no beat
    off = np.zeros(int(60 * FS), dtype=np.float32)
    y = np.concatenate([x[:cut], flat, x[cut:int(200 * FS)], off, x[int(200 * FS):]])
    # the lead-off minute is 202.6-262.6 s: epochs 200-210 to 260-270 hold some of it, so 70 s go
    result = analyze(Recording.from_array(y, FS, ["MLII"]), engine=engine)
    f = result.findings
    pauses = f.episodes_of(EpisodeType.PAUSE)
    assert len(pauses) == 1 and abs(pauses[0].start_s - beat / FS) < 0.1
    rr_before = float(np.median(np.diff(ann.sample[:50]))) / FS
    assert abs(pauses[0].duration_s - (2.6 + (ann.sample[ann.sample > beat][0] - beat) / FS)) < 0.05
    assert pauses[0].duration_s > 2.6 + 0.5 * rr_before
    lead_off = f.episodes_of(EpisodeType.LEAD_OFF)
    assert len(lead_off) == 1 and lead_off[0].start_s <= 202.6 and lead_off[0].end_s >= 262.6
    assert f.summary.analyzable_time_s == pytest.approx(y.size / FS - 70)
    assert f.summary.wear_time_s == pytest.approx(f.summary.analyzable_time_s)
    assert f.summary.pauses.count == 1 and f.summary.pauses.long_count == 1


def test_patient_triggered_markers_get_the_rhythm_at_their_time(tmp_path: Path) -> None:
    rec, _ = cropped_100(120)
    marker = EventMarker(int(30 * FS), "dizzy", EventKind.PATIENT_TRIGGERED)
    other = EventMarker(int(40 * FS), "calibration", EventKind.DEVICE)
    marked = Recording.from_array(rec.read(), FS, rec.lead_names, events=(marker, other))
    diary = tmp_path / "diary.csv"
    diary.write_text("time,symptom\n90.5,short of breath\n", encoding="utf-8")
    events = analyze(marked, lead="MLII", diary=diary, engine=SIMPLE_ENGINE).findings.patient_events
    assert [(e.time_s, e.symptom, e.source.value, e.rhythm.value) for e in events] == [
        (30.0, "dizzy", "marker", "sinus"), (90.5, "short of breath", "diary", "sinus")]
    assert all(e.hr_bpm is not None and 60 < e.hr_bpm < 90 for e in events)


@pytest.mark.shared_data
def test_beats_cut_off_by_the_recordings_end_are_unclassifiable() -> None:
    # a crop of MIT-BIH 100 that ends 30 ms after an R peak: that beat's QRS is cut off, so its shape
    # cannot be read (Q); every other beat is classified
    stem = str(mitdb("100").with_suffix(""))
    ann = wfdb.rdann(stem, "atr")
    last = int(ann.sample[ann.sample > 140 * FS][0]) + int(0.03 * FS)
    x = wfdb.rdrecord(stem, sampfrom=int(20 * FS), sampto=last).p_signal.astype(np.float32)
    beats = analyze(Recording.from_array(x, FS, ["MLII", "V5"]), lead="MLII", engine=real_engine()).beats
    assert beats.samples[-1] > x.shape[0] - 0.1 * FS
    assert beats.labels[-1] == "Q"
    assert not np.any(beats.labels[:-1] == "Q")
