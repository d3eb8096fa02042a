"""A VT run at the END of a strip is ventricular (strips 1.8.0, issue 18). Event recorders store the
trigger, the arrhythmia's onset, near the strip's end; the run rules kept 1 s away from both ends (the
filters' start-up is at the start only) and the run unlike the narrow beat needed 6 beats, so a run of
4-8 wide beats in the last 2-3 s after sinus beats was called N, A or O."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from conftest import shared_path
from ecgdesk.analysis.beats import BeatFeatures, BeatTable
from ecgdesk.analysis.strips import StripLabel, classify_signal, ventricular


def _wave(t: np.ndarray, centre: float, width: float, amp: float) -> np.ndarray:
    return amp * np.exp(-0.5 * ((t - centre) / width) ** 2)


def sinus_then_run(n_sinus: int, run_beats: int | None = None, tail_sinus: int = 0, seconds: float = 10.0,
                   fs: float = 250.0, seed: int = 0) -> np.ndarray:
    """Sinus beats (P-QRS-T, 75 bpm) from 0.5 s, then wide beats of another shape (no P, QRS about
    150 ms) every 0.35 s (171 bpm), ``run_beats`` of them or to the strip's end, then ``tail_sinus``
    sinus beats."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = 0.01 * rng.standard_normal(t.size)
    r = 0.5
    for _ in range(n_sinus):
        x += (_wave(t, r - 0.16, 0.022, 0.15) + _wave(t, r - 0.02, 0.01, -0.15) + _wave(t, r, 0.012, 1.2)
              + _wave(t, r + 0.025, 0.01, -0.25) + _wave(t, r + 0.28, 0.045, 0.3))
        r += 0.8 * (1 + 0.02 * rng.standard_normal())
    r -= 0.45
    k = 0
    while r < seconds and (run_beats is None or k < run_beats):
        x += _wave(t, r, 0.035, -1.3) + _wave(t, r + 0.06, 0.035, 0.5) + _wave(t, r + 0.2, 0.05, 0.4)
        r, k = r + 0.35, k + 1
    r += 0.45
    for _ in range(tail_sinus):
        x += (_wave(t, r - 0.16, 0.022, 0.15) + _wave(t, r, 0.012, 1.2) + _wave(t, r + 0.28, 0.045, 0.3))
        r += 0.8
    return x


# MIT-BIH VT runs (the reference's `(VT` onset sample) on the 10 s strip ending 2 s after the onset, as
# bench/bench_ventricular_strips.py's "vt at end" group cuts them: 205 (8 beats at about 180 bpm after
# sinus beats) and 203 (7 beats in AF). strips 1.7.3 called them O and A.
@pytest.mark.parametrize(("record", "onset"), [("205", 107561), ("203", 577952)])
def test_mitdb_vt_runs_in_the_strips_last_two_seconds_are_ventricular(record: str, onset: int) -> None:
    base = str(shared_path("mitdb", f"{record}.hea").with_suffix(""))
    stop = onset + 2 * 360
    rec = wfdb.rdrecord(base, channels=[0], sampfrom=stop - 3600, sampto=stop)
    result = classify_signal(rec.p_signal[:, 0], 360.0)
    assert result.label is StripLabel.VENTRICULAR, result.reason
    assert result.reason.startswith("ventricular tachycardia from 8."), result.reason


def old_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits before strips 1.8.0: 1 s from both ends, and no shorter run at the end."""
    monkeypatch.setattr(ventricular, "END_EDGE_S", ventricular.EDGE_S)
    monkeypatch.setattr(ventricular, "UNLIKE_END_RUN_BEATS", ventricular.UNLIKE_RUN_BEATS)


def test_a_run_in_the_strips_last_two_seconds_is_ventricular(monkeypatch: pytest.MonkeyPatch) -> None:
    # ten sinus beats, then six wide beats at 171 bpm from 8.1 s to the strip's end
    x = sinus_then_run(10)
    result = classify_signal(x, 250.0)
    assert result.label is StripLabel.VENTRICULAR, result.reason
    assert result.reason.startswith("ventricular tachycardia from 8."), result.reason
    old_limits(monkeypatch)
    assert classify_signal(x, 250.0).label is not StripLabel.VENTRICULAR


@pytest.mark.parametrize("kind", ["sinus only", "three wide beats at the end"])
def test_sinus_and_a_short_end_are_not_ventricular(kind: str) -> None:
    # no run; and three wide beats in the last second (the last of them in the beat window's reach of the
    # end: fewer than 4 beats a run may count)
    x = sinus_then_run(12, run_beats=0) if kind == "sinus only" else sinus_then_run(11, run_beats=3)
    result = classify_signal(x, 250.0)
    assert result.label is not StripLabel.VENTRICULAR, result.reason


def _beats(rr: list[float], wide_from: int, fs: float = 300.0) -> tuple[BeatFeatures, BeatTable, np.ndarray]:
    """Beat features and table of a strip at ``fs``: narrow beats, then from beat ``wide_from`` wide beats
    of another shape (QRS 150 ms)."""
    from ecgdesk.analysis.beats import WAVE_T, classify_beats

    peaks = np.round((0.5 + np.concatenate([[0.0], np.cumsum(rr)])) * fs).astype(np.int64)
    wide = np.arange(peaks.size) >= wide_from
    rng = np.random.default_rng(4)
    narrow_wave = np.exp(-0.5 * (WAVE_T / 0.015) ** 2)
    wide_wave = -np.exp(-0.5 * ((WAVE_T - 0.02) / 0.045) ** 2)
    waves = (np.where(wide[:, None], wide_wave, narrow_wave)
             + 0.01 * rng.standard_normal((peaks.size, WAVE_T.size)))
    features = BeatFeatures(waves.astype(np.float32), np.where(wide, 150.0, 80.0).astype(np.float32))
    return features, classify_beats(features, peaks, fs), peaks


@pytest.mark.parametrize(("tail_s", "found"), [(0.3, (10, 4)), (1.2, None)])
def test_a_run_unlike_the_narrow_beat_needs_fewer_beats_where_it_reaches_the_end(
        tail_s: float, found: tuple[int, int] | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten narrow beats every 0.8 s, then four wide ones every 0.4 s. When the strip ends 0.3 s after the
    last (before the next beat of the run would come), the run goes on beyond the strip and its four beats
    are enough; when it ends 1.2 s after (three RR of the run with no beat), the run stopped short of 6
    beats and is not VT by this rule."""
    fs = 300.0
    features, table, peaks = _beats([0.8] * 9 + [0.4] * 4, wide_from=10)
    size = int(peaks[-1] + tail_s * fs)
    candidates = ventricular.run_candidates(peaks, fs, size)
    assert ventricular._run_unlike_narrow_beat(features, table, peaks, fs, candidates, size) == found
    old_limits(monkeypatch)
    candidates = ventricular.run_candidates(peaks, fs, size)
    assert ventricular._run_unlike_narrow_beat(features, table, peaks, fs, candidates, size) is None
