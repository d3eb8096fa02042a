"""Fibrillation and flutter under muscle noise are ventricular arrhythmia, not noise (strips 1.6.0); the
same noise over a beating heart adds no ventricular call, and muscle noise the detector counts as fast wide
beats is not VT (strips 1.6.2) nor AF (strips 1.6.3; bench/bench_ventricular_robust.py)."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from scipy import signal

from conftest import shared_path
from ecgdesk.analysis.noise_stress import make_noise
from ecgdesk.analysis.strips import StripLabel, classify_signal, ventricular
from ecgdesk.analysis.strips import classify as classify_module
from ecgdesk.analysis.strips.signal import prepare
from ecgdesk.analysis.strips.ventricular import fibrillation_through_noise
from ecgdesk.analysis.ventricular import band_signal, is_vf, vf_measures


def with_noise(x: np.ndarray, fs: float, kind: str, snr_db: float) -> np.ndarray:
    """``x`` plus noise at ``snr_db``, the signal power taken as the strip's 1st-99th percentile span squared
    over 8 (as the robustness bench does: VF has no QRS amplitude to measure)."""
    span = float(np.subtract(*np.percentile(x, [99, 1])))
    return x + np.sqrt(span * span / 8.0 / 10.0 ** (snr_db / 10.0)) * make_noise(kind, x.size, fs, seed=3)


def strip(database: str, record: str, start: int, seconds: float = 10.0) -> tuple[np.ndarray, float]:
    base = str(shared_path(database, f"{record}.hea").with_suffix(""))
    rec = wfdb.rdrecord(base, channels=[0], sampfrom=start, sampto=start + int(seconds * 360))
    fs = float(rec.fs)
    return np.nan_to_num(rec.p_signal[: int(seconds * fs), 0]), fs


# MIT-BIH 207's flutter from 2 s before its onset with muscle noise at 12 dB, and Creighton cu02's VT from
# 2 s before its onset at 6 dB (the robustness bench's strips): strips 1.5.4 called both noisy ("no
# repeating QRS complex").
@pytest.mark.parametrize(("database", "record", "start", "snr_db"), [("mitdb", "207", 19760 - 720, 12.0),
                                                                     ("cudb", "cu02", 49227 - 500, 6.0)])
def test_flutter_and_vt_under_muscle_noise_are_ventricular_not_noise(database: str, record: str, start: int,
                                                                     snr_db: float) -> None:
    x, fs = strip(database, record, start)
    assert classify_signal(x, fs).label is StripLabel.VENTRICULAR
    result = classify_signal(with_noise(x, fs, "ma", snr_db), fs)
    assert result.label is StripLabel.VENTRICULAR, result.reason
    assert "fibrillation" in result.reason


@pytest.mark.parametrize("snr_db", [12.0, 6.0])
@pytest.mark.parametrize(("database", "record", "start"), [("mitdb", "100", 0), ("mitdb", "118", 36000),
                                                           ("svdb", "854", 38400)])
def test_muscle_noise_over_a_beating_heart_is_not_read_as_fibrillation(database: str, record: str,
                                                                       start: int, snr_db: float) -> None:
    x, fs = strip(database, record, start)
    prepared = prepare(with_noise(x, fs, "ma", snr_db), fs)
    assert fibrillation_through_noise(prepared) is None


def test_synthetic_flutter_under_high_frequency_noise_is_read_below_12_hz() -> None:
    # a 4.5 Hz flutter wave with a wandering amplitude, buried in 20-100 Hz noise of twice its size: the
    # strict VF test (its 12-30 Hz share) rejects it, the reading below 12 Hz does not
    fs = 250.0
    t = np.arange(int(10 * fs)) / fs
    wave = (1.0 + 0.3 * np.sin(2 * np.pi * 0.3 * t)) * np.sin(2 * np.pi * 4.5 * t)
    sos = signal.butter(4, [20.0, 100.0], btype="band", fs=fs, output="sos")
    hiss = signal.sosfiltfilt(sos, np.random.default_rng(4).standard_normal(t.size))
    hiss *= 2.0 * wave.std() / hiss.std()
    y, rate, _ = band_signal(wave + hiss, fs)
    assert not is_vf(vf_measures(y[None, :], rate))[0]
    finding = fibrillation_through_noise(prepare(wave + hiss, fs))
    assert finding is not None and finding.kind == "vf" and "under noise" in finding.reason
    # the noise alone holds no fibrillation below 12 Hz
    assert fibrillation_through_noise(prepare(hiss, fs)) is None


# 10 s of MIT-BIH 108 and 114 and SVDB 850 (56-65 bpm as recorded) with muscle noise at 6 dB: the detector
# counts the noise as fast wide beats and strips 1.6.1 called each one V (fast wide-complex rhythm, 160-190
# bpm). Low-passed at 15 Hz their beats come at 63-86 bpm (the heart's own and a few noise beats), under
# 100 bpm, so the rule stands down (strips 1.6.2).
@pytest.mark.parametrize(("database", "record", "start"), [("mitdb", "108", 432000), ("mitdb", "114", 432000),
                                                           ("svdb", "850", 115200)])
def test_muscle_noise_counted_as_fast_wide_beats_is_not_ventricular(database: str, record: str, start: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    x, fs = strip(database, record, start)
    noisy = with_noise(x, fs, "ma", 6.0)
    assert classify_signal(noisy, fs).label is not StripLabel.VENTRICULAR
    prepared = prepare(noisy, fs)
    assert ventricular._slow_below_qrs_band(prepared)
    monkeypatch.setattr(ventricular, "_slow_below_qrs_band", lambda _strip: False)
    before = classify_signal(noisy, fs)
    assert before.label is StripLabel.VENTRICULAR and "fast wide-complex" in before.reason


# Creighton VF strips under the same kind of noise that only the fast wide-complex rule calls V: below 15 Hz
# the fibrillation waves still come faster than 100 a minute, so the rule stands.
@pytest.mark.parametrize(("record", "onset", "snr_db"), [("cu04", 92430, 12.0), ("cu30", 87322, 12.0)])
def test_fibrillation_called_by_the_fast_wide_rule_under_noise_stays_ventricular(record: str, onset: int,
                                                                                  snr_db: float) -> None:
    x, fs = strip("cudb", record, onset - 500)
    noisy = with_noise(x, fs, "ma", snr_db)
    result = classify_signal(noisy, fs)
    assert result.label is StripLabel.VENTRICULAR and "fast wide-complex" in result.reason, result.reason
    assert not ventricular._slow_below_qrs_band(prepare(noisy, fs))


# Sinus rhythm with ectopy (MIT-BIH 108, 114) and SVDB 822's sinus minute with muscle noise at 6 dB: the
# detector counts the noise as beats, the RRs turn irregular and the P waves vanish, and strips 1.6.2 called
# each one AF. A quarter or more of those detections are not there once the strip is low-passed at 15 Hz:
# the strip is too noisy to read (strips 1.6.3). As recorded, the rule does not fire.
@pytest.mark.parametrize(("database", "record", "start"), [("mitdb", "108", 540000), ("mitdb", "114", 432000),
                                                           ("svdb", "822", 0)])
def test_muscle_noise_counted_as_beats_is_noisy_not_af(database: str, record: str, start: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    x, fs = strip(database, record, start)
    noisy = with_noise(x, fs, "ma", 6.0)
    result = classify_signal(noisy, fs)
    assert result.label is StripLabel.NOISY and "muscle noise" in result.reason, result.reason
    clean = classify_signal(x, fs)
    assert clean.label is not StripLabel.NOISY
    monkeypatch.setattr(classify_module, "EMG_POWER_SHARE", float("inf"))
    assert classify_signal(noisy, fs).label is StripLabel.AF
    assert classify_signal(x, fs).label is clean.label
