"""Boundary rules of the delineation on waves whose true boundaries are known."""

from __future__ import annotations

import numpy as np
import pytest

from ecgdesk.analysis.ecg12.delineation import DelineationParams, WaveKind, _trapezium, delineate, qrs_bounds


def _trapezoid_wave() -> np.ndarray:
    """Flat, linear rise over samples 100-140, plateau to 160, linear fall to 200, flat again."""
    x = np.zeros(300)
    x[100:140] = np.arange(40) / 40.0
    x[140:160] = 1.0
    x[160:200] = 1.0 - np.arange(40) / 40.0
    return x


@pytest.mark.parametrize("polarity", [1.0, -1.0])
def test_trapezium_rule_finds_the_corners_of_a_wave(polarity: float):
    x = polarity * _trapezoid_wave()
    d = np.gradient(x)
    assert _trapezium(x, d, 130, -1, 60) == 100  # onset, from a point on the rising limb
    assert _trapezium(x, d, 170, 1, 60) == 200  # offset, from a point on the falling limb
    # The answer does not hinge on how far the reference point lies, as long as it is past the wave.
    assert _trapezium(x, d, 130, -1, 90) == 100
    assert _trapezium(x, d, 170, 1, 100) == 200


def test_trapezium_rule_ignores_noise_after_the_wave():
    x = _trapezoid_wave() + np.random.default_rng(1).normal(0, 0.01, 300)
    end = _trapezium(x, np.gradient(x), 175, 1, 80)
    assert abs(end - 200) <= 3


def _broad_r_beat(fs: float = 250.0) -> tuple[np.ndarray, int]:
    """Two leads of one beat at 250 Hz: a P wave ending 40 ms before a wide QRS that starts at sample 100,
    rises for 60 ms, stays on a flat top for 32 ms, falls steeply for 20 ms and ends at sample 132
    (QT Database sel37's shape); the fiducial is on the falling slope, the steepest point."""
    x = np.zeros(int(fs))
    x[60:90] = 0.1 * np.sin(np.pi * np.arange(30) / 30)  # P wave, samples 60-90
    x[100:115] = 0.6 * np.arange(15) / 15
    x[115:123] = 0.6
    x[123:128] = 0.6 - 0.7 * np.arange(1, 6) / 5
    x[128:132] = -0.1 + 0.1 * np.arange(1, 5) / 4
    return np.column_stack([x, 1.4 * x]), 125


def test_the_flat_top_of_a_broad_r_wave_is_not_the_qrs_onset():
    """The spatial velocity is zero on the R wave's flat top, far from the isoelectric line: the onset
    walk crosses it and stops where the complex leaves the baseline (before waves-1.5: at the top's end,
    92 ms late), not in the P wave before it."""
    beat, fid = _broad_r_beat()
    onset, offset = qrs_bounds(beat, fid, 250.0)
    assert 98 <= onset <= 101
    assert 131 <= offset <= 134


def test_a_narrow_qrs_onset_is_where_it_was():
    """A narrow complex after a P wave: the onset rule for broad R waves leaves it alone."""
    fs = 250.0
    x = np.zeros(int(fs))
    x[60:90] = 0.1 * np.sin(np.pi * np.arange(30) / 30)
    x[100:120] = np.interp(np.arange(20), [0, 3, 10, 15, 19], [0, -0.1, 1.0, -0.2, 0])
    beat = np.column_stack([x, -0.5 * x])
    onset, _ = qrs_bounds(beat, 106, fs)
    assert 99 <= onset <= 101


def _resting_beats(fs: float = 500.0, seconds: float = 10.0, stimulus_ms: float | None = None
                   ) -> tuple[np.ndarray, list[int], list[int]]:
    """Six leads of sinus-like beats at 75 bpm (P, a 90 ms q-R-S, T) with their QRS onsets, plus white
    noise; with ``stimulus_ms``, a ventricular stimulus that long before every QRS: a one-sample 2 mV pulse
    and its half-size opposite recharge on the next sample, on every lead (as LUDB 34 and 74 show it)."""
    ms = fs / 1000.0
    n = int(seconds * fs)
    x = np.zeros(n)
    onsets = []
    for start in np.arange(0.5, seconds - 0.9, 0.8):
        on = int((start + 0.2) * fs)
        p = int(100 * ms)
        x[on - int(160 * ms):on - int(160 * ms) + p] += 0.15 * np.sin(np.pi * np.arange(p) / p)
        q = int(90 * ms)
        corners = [0, 15 * ms, 40 * ms, 60 * ms, q - 1]
        x[on:on + q] += np.interp(np.arange(q), corners, [0, -0.1, 1.2, -0.3, 0])
        tw = int(200 * ms)
        x[on + int(200 * ms):on + int(200 * ms) + tw] += 0.35 * np.sin(np.pi * np.arange(tw) / tw)
        onsets.append(on)
    gains = np.array([1.0, -0.6, 0.8, 0.4, -1.1, 0.7])
    data = x[:, None] * gains[None, :] + np.random.default_rng(5).normal(0, 0.01, (n, gains.size))
    stimuli = []
    if stimulus_ms is not None:
        for on in onsets:
            i = on - int(stimulus_ms * ms)
            data[i] += 2.0
            data[i + 1] -= 1.0
            stimuli.append(i)
    return data, onsets, stimuli


def test_a_paced_qrs_is_delineated_as_the_same_beat_without_its_stimulus():
    """ecg12-1.5: pacemaker stimuli are cut before filtering. With ``pacing_spikes=False`` (ecg12-1.4) the
    40 Hz low-pass smeared each stimulus over some 20 ms and the global QRS onset was marked on the smear,
    before the stimulus itself; now it is within a sample of the unpaced beats' onset."""
    fs = 500.0
    names = [f"L{i + 1}" for i in range(6)]
    clean = delineate(_resting_beats(fs)[0], fs, names).leads[0].median_wave(WaveKind.QRS)
    data, _, stimuli = _resting_beats(fs, stimulus_ms=12.0)
    assert clean is not None and len(stimuli) >= 10
    for params, cut in ((DelineationParams(), True), (DelineationParams(pacing_spikes=False), False)):
        d = delineate(data, fs, names, params)
        qrs = d.leads[0].median_wave(WaveKind.QRS)
        assert qrs is not None
        assert (abs(qrs.onset - clean.onset) <= 1) is cut, (qrs.onset, clean.onset)
        # Every beat's QRS starts after its stimulus (or, uncut, before it).
        beat_onsets = [w.onset for beat in d.leads[0].beat_waves for w in beat if w.kind is WaveKind.QRS]
        assert len(beat_onsets) == len(stimuli)
        assert all(on > s for on, s in zip(beat_onsets, stimuli, strict=True)) is cut
