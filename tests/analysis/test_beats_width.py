"""The QRS width of a beat is a property of the QRS: the same at any sampling rate, and not stretched by
a steep T wave or muscle noise elsewhere in the beat's window (algorithm 0.5.29)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import wfdb
from scipy import signal

from conftest import shared_path
from ecgdesk.analysis.beats import extract_beat_features
from ecgdesk.analysis.detection import detect_qrs
from ecgdesk.analysis.evaluation import AAMI_CLASS, BEAT_SYMBOLS, match_beats
from ecgdesk.analysis.mains import without_mains


def _beat(fs: float, qrs_sd_s: float, t_at_s: float, t_sd_s: float, t_height: float) -> np.ndarray:
    t = np.arange(-0.4, 0.6, 1.0 / fs)
    qrs = np.exp(-0.5 * (t / qrs_sd_s) ** 2)
    wave = np.exp(-0.5 * ((t - t_at_s) / t_sd_s) ** 2)
    return qrs + t_height * wave


@pytest.mark.parametrize("fs", [250.0, 500.0, 1000.0])
def test_a_steep_t_wave_does_not_widen_the_qrs(fs):
    # a narrow QRS (SD 10 ms) and, 110 ms after R, a peaked T wave as tall as the QRS (SD 12 ms): its
    # upstroke lies within the 120 ms the width looks at, with 40+ ms of flat signal between them
    plain = np.tile(_beat(fs, 0.010, 0.25, 0.04, 0.3), 8)
    peaked = np.tile(_beat(fs, 0.010, 0.11, 0.012, 1.0), 8)
    beats = np.arange(8) * int(fs) + int(0.4 * fs)
    base = np.median(extract_beat_features(plain, fs, beats).width_ms[1:-1])
    with_t = np.median(extract_beat_features(peaked, fs, beats).width_ms[1:-1])
    assert 20 <= base <= 60
    assert abs(with_t - base) <= 5, (base, with_t)  # spanned, the width reached into the T wave: >= 120 ms


def _normal_beat_width(base: str, rate: int | None) -> float:
    record = wfdb.rdrecord(base, channels=[0])
    x, fs = np.nan_to_num(record.p_signal[:, 0]), float(record.fs)
    ann = wfdb.rdann(base, "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol])
    truth = np.array([AAMI_CLASS[s] for s in np.array(ann.symbol)[keep]])
    reference = ann.sample[keep]
    if rate is not None:
        step = Fraction(rate, int(fs))
        x = np.round(signal.resample_poly(x, step.numerator, step.denominator) / 0.005) * 0.005
        reference = np.round(reference * rate / fs).astype(np.int64)
        fs = float(rate)
    x = without_mains(x, fs)  # as the pipeline reads the lead
    detected = detect_qrs(x, fs).samples
    pairs = match_beats(reference, detected, fs).pairs
    normal = pairs[(pairs >= 0) & (truth == "N")]
    return float(np.median(extract_beat_features(x, fs, detected).width_ms[normal]))


def test_the_normal_beats_of_a_noisy_holter_measure_the_same_at_any_sampling_rate():
    # SVDB 854 (128 Hz) carries muscle noise; its normal beats measured 70 ms at their own rate and 152
    # / 180 ms resampled to 250 / 500 Hz while the width spanned every steep sample of the window (the
    # noise the 128 Hz rate hides is still there at 500 Hz, so some of it stays)
    base = str(shared_path("svdb") / "854")
    widths = [_normal_beat_width(base, rate) for rate in (None, 250, 500)]
    assert max(widths) - min(widths) <= 40, widths  # 0.5.29: 70, 72, 102 ms
    assert max(widths) <= 110, widths
