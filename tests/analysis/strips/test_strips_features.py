"""Strip features on synthetic strips with known beats and on hand-made RR sequences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps
from strips_synth import af_rr, sinus_rr, synth_strip

from ecgdesk.analysis.strips.features import FEATURE_NAMES, rr_features, strip_features, welch
from ecgdesk.analysis.strips.signal import FS, prepare


def _match(found_s: np.ndarray, truth_s: np.ndarray, tol: float = 0.05) -> tuple[int, int]:
    """True positives and false positives of detected beat times against the truth."""
    d = np.abs(found_s[:, None] - truth_s[None, :]).min(axis=1)
    return int(np.sum(d <= tol)), int(np.sum(d > tol))


@pytest.mark.parametrize("rr_maker", [sinus_rr, af_rr])
def test_detector_finds_every_synthetic_beat(rr_maker) -> None:
    x, truth = synth_strip(rr_maker(40, seed=3), f_waves=0.0, seed=3)
    strip = prepare(x, 300.0)
    tp, fp = _match(strip.peaks / FS, truth)
    assert tp >= truth.size - 1  # the first/last beat may sit within the filter edge
    assert fp == 0


@pytest.mark.parametrize("fs", [250.0, 500.0, 1000.0])
def test_detector_resamples_other_rates(fs: float) -> None:
    x, truth = synth_strip(sinus_rr(30, seed=1), fs=fs, seed=1)
    strip = prepare(x, fs)
    tp, fp = _match(strip.peaks / FS, truth)
    assert tp >= truth.size - 1 and fp == 0


def test_sinus_and_af_differ_where_a_technician_looks() -> None:
    x_n, _ = synth_strip(sinus_rr(40, seed=2), p_wave=True, seed=2)
    x_a, _ = synth_strip(af_rr(40, seed=2), p_wave=False, f_waves=0.05, seed=2)
    n = strip_features(prepare(x_n, 300.0))
    a = strip_features(prepare(x_a, 300.0))
    assert n.rr_cv < 0.05 < 0.2 < a.rr_cv
    assert n.rr_frac_near_median > 0.9 > 0.6 > a.rr_frac_near_median
    assert n.p_coherence > 0.5 > 0.2 > a.p_coherence
    assert n.p_amp_ratio > 2 * a.p_amp_ratio
    assert abs(n.hr_bpm - 70.0) < 3.0


def test_wide_qrs_is_measured_wider() -> None:
    narrow = strip_features(prepare(synth_strip(sinus_rr(20), qrs_sigma=0.010)[0], 300.0))
    wide = strip_features(prepare(synth_strip(sinus_rr(20), qrs_sigma=0.030)[0], 300.0))
    assert 40 <= narrow.qrs_width_ms < 110
    assert wide.qrs_width_ms > narrow.qrs_width_ms + 30


@pytest.mark.parametrize("gain", [1e-2, 1e2])
def test_ratio_features_do_not_depend_on_gain(gain: float) -> None:
    x, _ = synth_strip(af_rr(30, seed=5), p_wave=False, f_waves=0.05, seed=5)
    base = strip_features(prepare(x, 300.0))
    scaled = strip_features(prepare(gain * x, 300.0))
    for name in ("rr_cv", "rr_nrmssd", "p_coherence", "qrs_width_ms", "beat_corr_mean", "aa_power_4_9"):
        assert getattr(scaled, name) == pytest.approx(getattr(base, name), rel=1e-6, abs=1e-9), name
    assert scaled.r_amp_mv == pytest.approx(gain * base.r_amp_mv, rel=1e-6)


def test_rr_features_on_known_sequences() -> None:
    steady = rr_features(np.full(20, 0.8))
    assert steady.rr_cv == pytest.approx(0.0, abs=1e-12) and steady.rr_frac_near_median == 1.0
    assert steady.hr_bpm == pytest.approx(75.0)
    bigeminy = rr_features(np.tile([0.5, 1.0], 10))
    assert bigeminy.rr_drr_lag1_corr < -0.9  # short-long alternation
    assert bigeminy.rr_min_ratio < 0.7 and bigeminy.rr_local_cv_min > 0.2
    few = rr_features(np.array([0.8, 0.9]))
    assert few.hr_bpm == pytest.approx(60 / 0.85) and np.isnan(few.rr_cv)


def test_vector_follows_feature_names() -> None:
    feats = strip_features(prepare(synth_strip(sinus_rr(15))[0], 300.0))
    vec = feats.vector()
    assert vec.shape == (len(FEATURE_NAMES),)
    assert vec[FEATURE_NAMES.index("n_beats")] == feats.n_beats


@pytest.mark.parametrize("n", [300, 1023, 1024, 2700, 9001])
def test_welch_equals_scipy(n: int) -> None:
    x = np.random.default_rng(n).standard_normal(n).cumsum()
    freqs, power = welch(x)
    ref_freqs, ref_power = sps.welch(x, fs=300, nperseg=min(1024, n))
    assert np.array_equal(freqs, ref_freqs)
    assert np.abs(power - ref_power).max() <= 1e-12 * ref_power.max()
