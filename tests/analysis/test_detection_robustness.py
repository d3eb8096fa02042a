"""QRS detection on gaps, flat stretches, noise and odd input (MITDB 100, first 2 minutes)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_path
from ecgdesk.analysis.detection import detect_qrs
from ecgdesk.analysis.evaluation import match_beats
from ecgdesk.errors import InputError

wfdb = pytest.importorskip("wfdb")


def _record_100() -> tuple[np.ndarray, float, np.ndarray]:
    base = str(shared_path("mitdb", "100.hea").with_suffix(""))
    rec = wfdb.rdrecord(base, sampto=120 * 360)
    ann = wfdb.rdann(base, "atr", sampto=120 * 360)
    keep = np.array([s in "NAV" for s in ann.symbol])
    return rec.p_signal[:, 0].copy(), float(rec.fs), ann.sample[keep]


@pytest.mark.shared_data
def test_nan_and_flat_stretches_give_no_beats_and_the_rest_is_found():
    x, fs, ref = _record_100()
    nan_span, flat_span = (int(30 * fs), int(50 * fs)), (int(70 * fs), int(90 * fs))
    x[nan_span[0]:nan_span[1]] = np.nan  # NaN = no signal (lead off, gap)
    x[flat_span[0]:flat_span[1]] = x[flat_span[0] - 1]  # railed / disconnected: a constant
    det = detect_qrs(x, fs).samples
    margin = int(0.3 * fs)
    for lo, hi in (nan_span, flat_span):
        assert not np.any((det > lo + margin) & (det < hi - margin))
    outside = ~(((ref > nan_span[0] - margin) & (ref < nan_span[1] + margin))
                | ((ref > flat_span[0] - margin) & (ref < flat_span[1] + margin)))
    m = match_beats(ref[outside], det, fs)
    assert m.fn == 0
    assert np.all(np.diff(det) > 0) and det.dtype == np.int64


@pytest.mark.shared_data
def test_noise_added_to_a_real_lead():
    x, fs, ref = _record_100()
    rng = np.random.default_rng(3)
    noisy = x + rng.normal(0.0, 0.05, x.size) + 0.1 * np.sin(2 * np.pi * 60 * np.arange(x.size) / fs)
    m = match_beats(ref, detect_qrs(noisy, fs).samples, fs)
    assert m.se >= 99.5 and m.ppv >= 99.5
    # pure noise must not crash; whatever it finds is sorted and unique
    det = detect_qrs(rng.normal(0.0, 1.0, x.size), fs).samples
    assert np.all(np.diff(det) > 0)


def test_odd_input_and_argument_errors():
    fs = 360.0
    assert len(detect_qrs(np.zeros(0), fs)) == 0
    assert len(detect_qrs(np.full(int(20 * fs), 5.0), fs)) == 0  # constant
    assert len(detect_qrs(np.array([np.inf, -np.inf] * 4000), fs)) == 0
    with pytest.raises(InputError, match=r"fs.*10000"):
        detect_qrs(np.zeros(100), 20_000.0)
    with pytest.raises(InputError, match=r"ecg.*1-D"):
        detect_qrs(np.zeros((2, 100)), fs)
