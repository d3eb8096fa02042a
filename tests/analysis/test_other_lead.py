"""Epochs the analysed lead loses to noise, read on another lead (``analysis.other_lead``, the pipeline)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.evaluation import match_beats
from ecgdesk.analysis.other_lead import read_on_other_leads
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.analysis.quality import ANALYZABLE, LEAD_OFF, NOISE
from ecgdesk.records import Recording

FS = 100.0
EPOCH = 1000  # samples of a 10 s epoch at 100 Hz


def _read(states: np.ndarray, beats: np.ndarray, other_states: np.ndarray, other: np.ndarray):
    calls: list[int] = []

    def read_lead(lead: int) -> tuple[np.ndarray, np.ndarray]:
        calls.append(lead)
        return other_states, other

    return read_on_other_leads(states, beats, EPOCH, FS, [1], read_lead), calls


def _every(rr: int, start: int = 10, stop: int = 3000) -> np.ndarray:
    return np.arange(start, stop, rr, dtype=np.int64)


def test_a_noisy_epoch_is_read_on_the_other_lead():
    states = np.array([ANALYZABLE, NOISE, ANALYZABLE], dtype=np.uint8)
    beats = _every(80)
    beats = beats[(beats < EPOCH) | (beats >= 2 * EPOCH)]  # its noise epoch's beats are not used
    got, calls = _read(states, beats, np.full(3, ANALYZABLE, dtype=np.uint8), _every(80, start=12))
    assert calls == [1]
    assert got.epochs.tolist() == [1]
    assert got.samples.tolist() == [s for s in _every(80, start=12) if EPOCH <= s < 2 * EPOCH]
    assert set(got.source.tolist()) == {1}


def test_lead_off_is_read_too_and_nothing_is_asked_when_no_epoch_is_lost():
    states = np.array([ANALYZABLE, LEAD_OFF, ANALYZABLE], dtype=np.uint8)
    beats = _every(80)
    got, _ = _read(states, beats, np.full(3, ANALYZABLE, dtype=np.uint8), _every(80, start=12))
    assert got.epochs.tolist() == [1]
    got, calls = _read(np.full(3, ANALYZABLE, dtype=np.uint8), beats, np.full(3, ANALYZABLE, np.uint8), beats)
    assert got.epochs.size == 0 and calls == []


def test_a_lead_that_disagrees_where_both_are_readable_is_not_trusted():
    states = np.array([ANALYZABLE, NOISE, ANALYZABLE], dtype=np.uint8)
    # the other lead counts every beat twice (a pacing spike and the QRS, or a tall T wave)
    twice = np.sort(np.concatenate([_every(80, start=12), _every(80, start=52)]))
    got, _ = _read(states, _every(80), np.full(3, ANALYZABLE, dtype=np.uint8), twice)
    assert got.epochs.size == 0


def test_no_pause_and_no_fast_rate_is_made_up_from_the_other_lead():
    states = np.array([ANALYZABLE, NOISE, ANALYZABLE], dtype=np.uint8)
    other = _every(80, start=12)
    paused = other[(other < 1100) | (other > 1900)]  # 8 s without a beat there: its detector lost them
    got, _ = _read(states, _every(80), np.full(3, ANALYZABLE, dtype=np.uint8), paused)
    assert got.epochs.size == 0
    fast = np.sort(np.concatenate([other, np.arange(1030, 2000, 80)]))  # every 30-50 samples in epoch 1
    got, _ = _read(states, _every(80), np.full(3, ANALYZABLE, dtype=np.uint8), fast)
    assert got.epochs.size == 0


def test_an_epoch_noisy_on_both_leads_stays_noise():
    states = np.array([ANALYZABLE, NOISE, ANALYZABLE], dtype=np.uint8)
    got, _ = _read(states, _every(80), np.array([ANALYZABLE, NOISE, ANALYZABLE], dtype=np.uint8),
                   _every(80, start=12))
    assert got.epochs.size == 0


def _two_lead_recording(seconds: float = 120.0, noisy: tuple[float, float] = (40.0, 60.0)):
    fs = 250.0
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * fs)) / fs
    beats = np.arange(0.6, seconds - 0.6, 0.8)
    beats = beats + 0.02 * rng.standard_normal(beats.size)
    x = np.zeros((t.size, 2))
    for b in beats:
        qrs = np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        p_wave = np.exp(-0.5 * ((t - b + 0.16) / 0.025) ** 2)
        t_wave = np.exp(-0.5 * ((t - b - 0.3) / 0.06) ** 2)
        x[:, 0] += 1.2 * qrs + 0.12 * p_wave + 0.25 * t_wave
        x[:, 1] += -0.8 * qrs + 0.08 * p_wave + 0.15 * t_wave
    x += 0.01 * rng.standard_normal(x.shape)
    burst = (t >= noisy[0]) & (t < noisy[1])
    x[burst, 0] += 0.8 * rng.standard_normal(int(burst.sum()))  # muscle noise on lead 0 only
    return Recording.from_array(x, fs, lead_names=["II", "V5"]), beats, fs


@pytest.mark.parametrize(("seconds", "noisy"), [(120.0, (40.0, 60.0)), (60.0, (20.0, 30.0))],
                         ids=["holter", "strip"])  # a strip of <= 60 s is its own quality reference
def test_the_pipeline_keeps_the_beats_of_a_noisy_stretch_from_the_other_lead(seconds, noisy):
    recording, beats, fs = _two_lead_recording(seconds, noisy)
    ref = np.round(beats * fs).astype(np.int64)
    inside = (beats >= noisy[0]) & (beats < noisy[1])
    lost = slice(int(noisy[0] // 10), int(noisy[1] // 10))

    alone = analyze(recording, lead=0, config=AnalysisConfig(backup_leads=False))
    assert set(alone.findings.quality.states[lost]) == {"N"}
    assert match_beats(ref[inside], alone.beats.samples, fs).tp == 0

    both = analyze(recording, lead=0)
    assert set(both.findings.quality.states) == {"A"}
    found = match_beats(ref, both.beats.samples, fs)
    assert found.fn == 0 and found.fp == 0
    read_elsewhere = (both.beats.samples >= noisy[0] * fs) & (both.beats.samples < noisy[1] * fs)
    assert set(both.beats.labels[read_elsewhere].tolist()) == {"Q"}
    assert set(both.beats.labels[~read_elsewhere].tolist()) == {"N"}
    # the beats read on lead 1 have no template and the classifier never saw them: the others' labels
    # and templates are those of the analysis without them
    assert np.all(both.beats.template_ids[read_elsewhere] == -1)
    kept = both.beats.samples[~read_elsewhere]
    assert np.array_equal(kept, alone.beats.samples)
    gained = both.findings.summary.analyzable_time_s - alone.findings.summary.analyzable_time_s
    assert gained == noisy[1] - noisy[0]


def test_a_missing_or_disagreeing_lead_is_passed_over_for_the_next():
    recording, beats, fs = _two_lead_recording()
    x = recording.read(0, recording.n_samples, [0, 1])
    dead = np.full(x.shape[0], np.nan)  # lead 1 never recorded (a loose connector): all samples missing
    three = Recording.from_array(np.column_stack([x[:, 0], dead, x[:, 1]]), fs, lead_names=["II", "V1", "V5"])
    result = analyze(three, lead=0)
    assert set(result.findings.quality.states) == {"A"}
    found = match_beats(np.round(beats * fs).astype(np.int64), result.beats.samples, fs)
    assert found.fn == 0 and found.fp == 0

    # lead 1 counts every beat twice: it is not trusted, so the noisy epochs lose their beats as before
    twice = x[:, 1] + np.roll(x[:, 1], int(0.4 * fs))
    untrusted = Recording.from_array(np.column_stack([x[:, 0], twice]), fs, lead_names=["II", "V1"])
    result = analyze(untrusted, lead=0)
    assert result.findings.quality.states[4:6] == "NN"
    inside = (result.beats.samples >= 40 * fs) & (result.beats.samples < 60 * fs)
    assert not inside.any()


def test_segments_carried_through_files_read_the_other_lead_as_one_run(tmp_path):
    from ecgdesk.analysis.findings import findings_to_dict
    from ecgdesk.analysis.split import analyze_segment, load_segment, merge_segments, plan_split, save_segment

    recording, _, _ = _two_lead_recording(seconds=180.0, noisy=(70.0, 90.0))
    config = AnalysisConfig(chunk_s=60.0)
    plan = plan_split(recording, 60.0, lead=0, config=config)
    files = [save_segment(analyze_segment(recording, plan, i, config), tmp_path / f"{i}.npz")
             for i in range(len(plan.segments))]
    merged = merge_segments(recording, plan, [load_segment(f) for f in files], config=config)
    whole = analyze(recording, lead=0, config=config)
    assert findings_to_dict(merged.findings) == findings_to_dict(whole.findings)
    assert set(whole.findings.quality.states) == {"A"}
    assert np.array_equal(merged.beats.samples, whole.beats.samples)
    assert np.array_equal(merged.beats.labels, whole.beats.labels)
    assert int(np.sum(whole.beats.labels == "Q")) == 25  # the 20 s at 0.8 s a beat, read on lead 1
