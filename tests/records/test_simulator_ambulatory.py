"""The ambulatory simulator: determinism, truth that matches the written files, events where promised."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ecgdesk.cli.main import main
from ecgdesk.errors import InputError
from ecgdesk.records import open_recording, read_beat_annotations
from ecgdesk.records.simulator import SimulationConfig, parse_event_spec, simulate
from ecgdesk.records.simulator.events import EpisodeType

SPEC = "af:1x3m,pause:2x3.2s,vt:1x8,svt:1x12,couplet:2x2,pvc:120/h,pac:60/h,avb2:1x1m,avb3:1x1m,trigger:3," \
       "leadoff:2x1m,noise:1x1m"


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sim")
    config = SimulationConfig(days=1 / 24, leads=2, fs=250.0, seed=5, events=SPEC, name="h")
    return config, simulate(config, out)


def _beats(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(samples, symbols) of the beat annotations, without the rhythm ('+') annotations."""
    ann = read_beat_annotations(path)
    symbols = np.asarray(ann.symbol)
    return ann.sample[symbols != "+"], symbols[symbols != "+"]


def test_truth_matches_the_annotation_file(hour):
    config, result = hour
    truth = json.loads(result.truth.read_text())
    samples, beat_symbols = _beats(result.annotations)
    assert truth["summary"]["total_beats"] == result.n_beats == samples.size
    symbols, counts = np.unique(beat_symbols, return_counts=True)
    assert dict(zip(symbols.tolist(), counts.tolist(), strict=True)) == truth["summary"]["beats_by_symbol"]
    kinds = {e["type"] for e in truth["episodes"]}
    assert {"af", "pause", "vt", "svt", "couplet", "pvc", "pac", "avb2", "avb3", "lead_off", "noise"} <= kinds
    recording = open_recording(result.record)
    assert recording.n_samples == truth["n_samples"] == int(config.total_s * config.fs)
    assert len([e for e in recording.events if e.kind.value == "patient_triggered"]) == 3
    assert result.diary.read_text().splitlines()[0] == "time,symptom"


def test_events_are_where_the_truth_says(hour):
    config, result = hour
    truth = json.loads(result.truth.read_text())
    samples, symbols = _beats(result.annotations)
    times = samples / config.fs
    for ep in truth["episodes"]:
        if ep["type"] == "pause":  # no beat inside a pause, and the gap is the pause
            inside = (times > ep["start_s"] + 0.01) & (times < ep["end_s"] - 0.01)
            assert not inside.any()
            after = times[np.searchsorted(times, ep["end_s"] - 0.01)]
            gap = after - times[np.searchsorted(times, ep["start_s"]) - 1]
            assert gap >= 3.0
        if ep["type"] == "vt":
            span = (times >= ep["start_s"] - 0.01) & (times <= ep["end_s"] + 0.01)
            assert np.sum(span) == ep["beats"] == 8
            assert set(symbols[span]) == {"V"}
            assert ep["rate_bpm"] > 100
        if ep["type"] == "lead_off":
            data = open_recording(result.record).read(int(ep["start_s"] * config.fs) + 10,
                                                      int(ep["end_s"] * config.fs) - 10)
            level = 0.0 if ep["signal"] == "flat" else 5.0
            assert np.all(data == level), ep
        if ep["type"] == "avb2":  # P waves without QRS: some RR intervals are about two P-P cycles
            rr = np.diff(times[(times >= ep["start_s"] - 0.01) & (times <= ep["end_s"] + 0.01)])
            assert ep["blocked_p"] > 0 and np.sum(rr > 1.2) >= ep["blocked_p"] - 1
    af = next(e for e in truth["episodes"] if e["type"] == "af")
    rr = np.diff(times[(times >= af["start_s"]) & (times <= af["end_s"])])
    assert np.std(rr) / np.mean(rr) > 0.15  # irregularly irregular


def test_rhythm_annotations_bracket_the_episodes(hour):
    config, result = hour
    truth = json.loads(result.truth.read_text())
    ann = read_beat_annotations(result.annotations)
    rhythm = {int(s): a for s, sym, a in zip(ann.sample, ann.symbol, ann.aux_note, strict=True) if sym == "+"}
    assert rhythm[0] == "(N"
    labels = {"af": "(AFIB", "vt": "(VT", "svt": "(SVTA", "avb2": "(BII", "avb3": "(BIII"}
    for ep in truth["episodes"]:
        if ep["type"] in labels:
            assert rhythm[round(ep["start_s"] * config.fs)] == labels[ep["type"]]
            after = [s for s in rhythm if s > round(ep["start_s"] * config.fs)]
            assert rhythm[min(after)] == "(N" and min(after) > ep["end_s"] * config.fs
    assert {e["mobitz"] for e in truth["episodes"] if e["type"] == "avb2"} == {"I"}
    assert [e["signal"] for e in truth["episodes"] if e["type"] == "lead_off"] == ["flat", "railed"]


def test_mobitz_one_and_two(tmp_path: Path):
    config = SimulationConfig(days=1 / 48, leads=1, fs=250.0, seed=3, events="avb2:2x1m", name="m")
    result = simulate(config, tmp_path)
    truth = json.loads(result.truth.read_text())
    samples, _ = _beats(result.annotations)
    times = samples / config.fs
    kinds = set()
    for ep in (e for e in truth["episodes"] if e["type"] == "avb2"):
        kinds.add(ep["mobitz"])
        rr = np.diff(times[(times >= ep["start_s"] - 0.01) & (times <= ep["end_s"] + 0.01)])
        short = rr[rr < 1.2]
        # Mobitz I: the PR lengthens beat by beat, so conducted RRs vary; Mobitz II: constant PR and RR.
        spread = float(np.ptp(short))
        assert (spread > 0.03) if ep["mobitz"] == "I" else (spread < 0.01), ep
    assert kinds == {"I", "II"}


def test_sinus_tachycardia_speeds_up_and_slows_down_gradually(tmp_path: Path):
    config = SimulationConfig(days=1 / 48, leads=1, fs=250.0, seed=4, events="tachy:1x5m", name="t")
    result = simulate(config, tmp_path)
    ep = next(e for e in json.loads(result.truth.read_text())["episodes"] if e["type"] == "tachy")
    samples, _ = _beats(result.annotations)
    times = samples / config.fs
    rr = np.diff(times)
    at = np.searchsorted(times, ep["start_s"] - 0.01)
    end = np.searchsorted(times, ep["end_s"] + 0.01)
    before, after = float(np.median(rr[at - 10:at - 1])), float(np.median(rr[end:end + 9]))
    assert 60 / before < 90 and 60 / after < 90
    # no step as a paroxysmal SVT's: the first and last beats of the episode come at the rate around it
    assert np.all(rr[at - 1:at + 4] > 0.9 * before) and np.all(rr[end - 5:end] > 0.9 * after)
    inside = times[at:end] - ep["start_s"]
    peak = 60 / rr[at:end - 1][(inside[1:] > 60) & (inside[1:] < 200)]
    assert np.median(peak) > 115
    # about 30 s up to 122 bpm: 110 bpm is reached after 15 s, not in the first beats
    fast = 60 / rr[at:end - 1] > 110
    assert inside[1:][np.argmax(fast)] > 15


def test_deterministic_and_continuous_across_blocks(tmp_path: Path, hour):
    config, result = hour
    again = simulate(config, tmp_path)
    assert (tmp_path / "h.dat").read_bytes() == (result.record.parent / "h.dat").read_bytes()
    assert (tmp_path / "h.atr").read_bytes() == (result.record.parent / "h.atr").read_bytes()
    assert (tmp_path / "h.truth.json").read_bytes() == result.truth.read_bytes()
    data = open_recording(again.record).read(0, again.n_samples)
    for lead in range(data.shape[1]):
        steps = np.abs(np.diff(data[:, lead].astype(np.float64)))
        typical = float(np.percentile(steps, 99.9))
        for border in range(int(600 * config.fs), again.n_samples, int(600 * config.fs)):  # block borders
            assert steps[border - 1] <= typical, (lead, border)


def test_spec_errors_name_the_item():
    for spec, field in [("af:3", "events.af"), ("bogus:1x2m", "events"), ("pvc:12", "events.pvc"),
                        ("vt:2x1", "events.vt"), ("af:1x3q", "events.af"), ("trigger:x", "events.trigger")]:
        with pytest.raises(InputError) as info:
            parse_event_spec(spec)
        assert info.value.field == field, spec
    assert parse_event_spec("pvc:200/h").rates_per_h[EpisodeType.PVC] == 200.0


def test_cli_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["simulate", "--days", "0", "--out", str(tmp_path)]) == 2
    assert "days" in capsys.readouterr().err
    for fs in ("5", "0", "1e6"):
        assert main(["simulate", "--hours", "1", "--fs", fs, "--out", str(tmp_path)]) == 2
        assert "field '--fs'" in capsys.readouterr().err
    assert main(["simulate", "--hours", "1", "--events", "af:oops", "--out", str(tmp_path)]) == 2
    assert "events.af" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_cli_writes_an_ishne_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["simulate", "--hours", "0.25", "--leads", "1", "--seed", "2", "--format", "ishne",
                 "--out", str(tmp_path), "--name", "q"]) == 0
    assert "wrote" in capsys.readouterr().out
    recording = open_recording(tmp_path / "q.ecg")
    assert recording.format.value == "ishne" and recording.n_leads == 1


def test_cli_exercise_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["simulate", "--exercise", "--protocol", "bruce", "--age", "60", "--seed", "3",
                 "--exercise-min", "3", "--fs", "250", "--st-depression", "1.5", "--out", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    recording = open_recording(tmp_path / "stress.hea")
    assert recording.n_leads == 12 and recording.fs == 250.0
    protocol = json.loads((tmp_path / "stress.protocol.json").read_text())
    assert protocol and (tmp_path / "stress.truth.json").exists()
    assert main(["simulate", "--exercise", "--age", "0", "--out", str(tmp_path / "bad")]) == 2
    assert "age" in capsys.readouterr().err
    assert main(["simulate", "--exercise", "--leads", "3", "--out", str(tmp_path / "bad")]) == 2
    assert "leads" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_bad_event_file_is_named_and_left_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    events = tmp_path / "events.json"
    events.write_text('{"af": "2x5m", "vt": "1x2"}', encoding="utf-8")  # a VT run needs 3 beats or more
    before = events.read_bytes()
    out = tmp_path / "out"
    assert main(["simulate", "--hours", "1", "--events", str(events), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "events.vt" in err and "3 or more" in err
    assert events.read_bytes() == before
    events.write_text("{not json", encoding="utf-8")
    before = events.read_bytes()
    with pytest.raises(InputError) as info:
        simulate(SimulationConfig(days=1 / 24, events=events), out)
    message = str(info.value)
    assert info.value.field == "events" and str(events) in message and "invalid JSON" in message
    assert events.read_bytes() == before
    assert not out.exists()
