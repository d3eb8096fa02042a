"""Paroxysmal SVT runs of any length are S; sinus rate changes (gradual, or slower than 100 bpm) are not."""

from __future__ import annotations

import numpy as np

from ecgdesk.analysis.beats import WAVE_T, BeatClass, BeatFeatures, classify_beats, rule_state

FS = 250.0
SINUS_RR = 0.85
SVT_RR = 0.38


def _beats(rr: np.ndarray, seed: int = 5) -> tuple[BeatFeatures, np.ndarray]:
    """Narrow beats of one shape at the given RRs (s)."""
    rng = np.random.default_rng(seed)
    samples = np.round(np.concatenate([[1.0], 1.0 + np.cumsum(rr)]) * FS).astype(np.int64)
    normal = np.exp(-0.5 * (WAVE_T / 0.015) ** 2)
    waves = normal + 0.01 * rng.standard_normal((samples.size, WAVE_T.size))
    return BeatFeatures(waves.astype(np.float32), np.full(samples.size, 80.0, np.float32)), samples


def _jitter(rr: float, n: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    return rr * (1 + spread * rng.standard_normal(n))


def _ramp(start_rr: float, end_rr: float, seconds: float) -> np.ndarray:
    """RRs whose rate moves from 60 / start_rr to 60 / end_rr over ``seconds`` (raised cosine)."""
    out: list[float] = []
    t = 0.0
    while t < seconds:
        w = 0.5 - 0.5 * np.cos(np.pi * t / seconds)
        rr = 60.0 / (60.0 / start_rr + (60.0 / end_rr - 60.0 / start_rr) * w)
        out.append(rr)
        t += rr
    return np.asarray(out)


def _svt(run: int, tail: int = 200, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Sinus rhythm, then an SVT run of ``run`` beats that starts with one premature beat and stops with a
    short pause, then ``tail`` sinus beats. Returns the RRs and which beats (one more than RRs) are SVT."""
    rng = np.random.default_rng(seed)
    rr = np.concatenate([_jitter(SINUS_RR, 200, 0.01, rng), _jitter(SVT_RR, run, 0.02, rng),
                         [0.95] if tail else [], _jitter(SINUS_RR, max(tail - 1, 0), 0.01, rng)])
    svt = np.zeros(rr.size + 1, dtype=bool)
    svt[201:201 + run] = True
    return rr, svt


def test_long_svt_run_is_s_from_its_abrupt_onset_to_its_abrupt_end():
    # 250 beats at 158 bpm (95 s): longer than half the ~2-minute window, so the run sets the "rhythm"
    # the model's timing guard compares with, as in MIT-BIH 207 and 209
    rr, svt = _svt(250)
    features, samples = _beats(rr)
    state = rule_state(features, samples, FS)
    assert np.all(state.labels[svt] == BeatClass.S.value)
    assert not np.any(state.labels[~svt] == BeatClass.S.value)
    labels = classify_beats(features, samples, FS).labels
    assert np.all(labels[svt] == BeatClass.S.value)
    assert np.mean(labels[~svt] == BeatClass.S.value) < 0.01


def test_svt_run_still_going_at_the_recordings_end_is_s():
    rr, svt = _svt(250, tail=0)
    features, samples = _beats(rr)
    assert np.all(rule_state(features, samples, FS).labels[svt] == BeatClass.S.value)


def test_gradual_sinus_tachycardia_is_not_s():
    # 70 -> 122 bpm over 30 s, 5 minutes there, back over 60 s: the simulator's sinus tachycardia
    rng = np.random.default_rng(2)
    fast = 60.0 / 122.0
    rr = np.concatenate([_jitter(SINUS_RR, 200, 0.01, rng), _ramp(SINUS_RR, fast, 30.0),
                         _jitter(fast, 600, 0.02, rng), _ramp(fast, SINUS_RR, 60.0),
                         _jitter(SINUS_RR, 200, 0.01, rng)])
    features, samples = _beats(rr)
    assert not np.any(rule_state(features, samples, FS).labels == BeatClass.S.value)
    assert np.mean(classify_beats(features, samples, FS).labels == BeatClass.S.value) < 0.01


def test_fast_run_that_slows_down_gradually_or_is_under_100_bpm_is_not_s():
    rng = np.random.default_rng(3)
    fast = 60.0 / 122.0
    # a rate that jumps up but comes back over a minute: not a paroxysmal run (its end is not abrupt)
    rr = np.concatenate([_jitter(SINUS_RR, 200, 0.01, rng), _jitter(fast, 300, 0.02, rng),
                         _ramp(fast, SINUS_RR, 60.0), _jitter(SINUS_RR, 200, 0.01, rng)])
    features, samples = _beats(rr)
    assert np.mean(rule_state(features, samples, FS).labels == BeatClass.S.value) < 0.01
    # sinus rhythm at 70 bpm between two stretches at 44 bpm: abrupt both ways, but no tachycardia
    slow = 60.0 / 44.0
    rr = np.concatenate([_jitter(slow, 100, 0.01, rng), _jitter(SINUS_RR, 150, 0.01, rng),
                         _jitter(slow, 100, 0.01, rng)])
    features, samples = _beats(rr)
    assert not np.any(rule_state(features, samples, FS).labels == BeatClass.S.value)
