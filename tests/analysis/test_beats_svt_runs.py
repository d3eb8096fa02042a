"""Paroxysmal SVT runs of any length are S; sinus rate changes (gradual, or slower than 100 bpm) are not."""

from __future__ import annotations

import numpy as np

from ecgdesk.analysis.beat_rhythm import PREMATURE_RR, brief_irregular, paroxysmal_runs, rr_context
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


def test_svt_run_goes_on_through_the_beats_its_own_onset_makes_look_irregular():
    # SVDB 809: sinus rhythm slowing to 95 bpm, then an SVT whose first beats alternate with near-sinus
    # RRs and which keeps a longer RR now and then; the 17-beat irregularity test flags two beats near
    # its onset (three at 250 Hz), and the run (80 beats at 150 bpm) was lost after them
    rng = np.random.default_rng(4)
    onset = [0.445, 0.61, 0.445, 0.44, 0.41, 0.595, 0.445, 0.41, 0.515, 0.545, 0.44, 0.43, 0.415, 0.42, 0.56]
    run = _jitter(0.40, 80, 0.02, rng)
    run[[5, 20, 50]] = 0.55
    rr = np.concatenate([_jitter(0.55, 200, 0.01, rng), np.linspace(0.55, 0.63, 25), onset, run, [0.89],
                         _jitter(0.70, 200, 0.01, rng)])
    svt = np.zeros(rr.size + 1, dtype=bool)
    svt[226:226 + len(onset) + run.size] = True
    features, samples = _beats(rr)
    state = rule_state(features, samples, FS)
    assert 1 <= np.count_nonzero(state.irregular[svt]) <= 3
    assert np.mean(state.labels[svt] == BeatClass.S.value) > 0.95
    assert not np.any(state.labels[~svt] == BeatClass.S.value)


def test_brief_irregular_is_up_to_three_flagged_beats_between_regular_ones():
    irregular = np.array([1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1], dtype=bool)
    expected = np.array([0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    assert np.array_equal(brief_irregular(irregular), expected)
    assert not brief_irregular(np.zeros(5, dtype=bool)).any()


def test_two_rrs_as_long_as_the_rhythm_before_end_a_run_whatever_follows_but_one_does_not():
    # MIT-BIH 220: a premature beat, two RRs at or above the sinus RR, then a 3-beat run; the look-ahead
    # over the next 5 RRs, meant for the odd longer RR inside a run, took the two long RRs into one
    rng = np.random.default_rng(6)
    rr = np.concatenate([_jitter(0.88, 60, 0.01, rng), [0.70, 1.075, 0.908, 0.48, 0.406, 0.408, 0.93],
                         _jitter(0.92, 60, 0.01, rng)])
    assert not _paroxysmal(rr)[60:64].any()
    # one RR that long inside a run is a missed beat: the run goes on
    rr = np.concatenate([_jitter(0.62, 60, 0.01, rng), _jitter(0.39, 15, 0.02, rng), [0.78],
                         _jitter(0.39, 15, 0.02, rng), _jitter(0.62, 60, 0.01, rng)])
    assert _paroxysmal(rr)[61:92].all()


def _paroxysmal(rr: np.ndarray) -> np.ndarray:
    samples = np.round(np.concatenate([[0.0], np.cumsum(rr)]) * FS).astype(np.int64)
    rr_prev, reference = rr_context(samples, FS)
    premature = rr_prev < PREMATURE_RR * reference
    return paroxysmal_runs(rr_prev, reference, premature, np.ones(samples.size, dtype=bool))


def test_a_sinus_rate_speeding_up_over_a_few_beats_is_not_a_run():
    # MIT-BIH 230 at 1,564 s: 85 -> 94 bpm over 6 beats, 5-7 % shorter each, and back. The reference RR
    # lags behind, so the fast beats fall under 80 % of it, but no RR is an abrupt step (algorithm 0.5.20)
    rng = np.random.default_rng(3)
    surge = np.array([0.82, 0.77, 0.73, 0.71, 0.66, 0.65, 0.64, 0.65, 0.67, 0.68, 0.71, 0.70, 0.72, 0.73,
                      0.72, 0.69, 0.68, 0.65, 0.66, 0.66, 0.69, 0.71, 0.71, 0.75, 0.77, 0.80])
    rr = np.concatenate([_jitter(SINUS_RR, 200, 0.01, rng), surge, _jitter(SINUS_RR, 200, 0.01, rng)])
    features, samples = _beats(rr)
    assert not np.any(rule_state(features, samples, FS).labels == BeatClass.S.value)


def test_a_run_whose_second_beat_is_slower_than_its_first_stays_a_run():
    # SVDB 801: a PAC 37 % early, then two more premature beats, the first of them longer than the PAC
    rng = np.random.default_rng(4)
    rr = np.concatenate([_jitter(0.79, 200, 0.005, rng), [0.5, 0.609, 0.523, 1.234],
                         _jitter(0.79, 200, 0.005, rng)])
    features, samples = _beats(rr)
    labels = rule_state(features, samples, FS).labels
    assert np.all(labels[201:204] == BeatClass.S.value)
    assert np.sum(labels == BeatClass.S.value) == 3
