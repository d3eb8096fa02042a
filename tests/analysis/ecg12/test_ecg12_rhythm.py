"""Rhythm naming: the printed rate decides sinus bradycardia, edge transients are no beats, wide paced QRS."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_path
from ecgdesk.analysis.ecg12.delineation import find_fiducials, lowpass, remove_baseline
from ecgdesk.analysis.ecg12.resting import analyze_resting
from ecgdesk.analysis.ecg12.rhythm import Rhythm
from ecgdesk.records.recording import Recording

FS = 500.0


def _sinus(hr: float, seconds: float = 10.0) -> Recording:
    """Three leads of regular P-QRS-T complexes at ``hr`` bpm."""
    n = int(seconds * FS)
    t = np.arange(n) / FS
    sig = np.zeros((n, 3))
    for r in np.arange(0.5, seconds - 0.2, 60.0 / hr):
        x = t - r
        beat = (0.12 * np.exp(-0.5 * ((x + 0.16) / 0.02) ** 2) + np.exp(-0.5 * (x / 0.01) ** 2)
                - 0.2 * np.exp(-0.5 * ((x - 0.025) / 0.01) ** 2)
                + 0.3 * np.exp(-0.5 * ((x - 0.3) / 0.05) ** 2))
        sig += np.outer(beat, [0.6, 1.0, 0.4])
    return Recording.from_array(sig.astype(np.float32), FS, ["I", "II", "III"])


@pytest.mark.parametrize(("hr", "expected"), [(57.0, Rhythm.SINUS_BRADYCARDIA),
                                              (59.7, Rhythm.SINUS_RHYTHM),
                                              (75.0, Rhythm.SINUS_RHYTHM),
                                              (100.4, Rhythm.SINUS_RHYTHM),
                                              (104.0, Rhythm.SINUS_TACHYCARDIA)])
def test_rate_limits_apply_to_the_printed_whole_bpm(hr: float, expected: Rhythm):
    result = analyze_resting(_sinus(hr, seconds=20.0))
    assert result.measurements.hr_bpm == pytest.approx(hr, abs=0.3)
    assert result.rhythm_name is expected
    # The rate in the rhythm's reason is the rate the measurements report.
    assert result.rhythm.features.hr_bpm == pytest.approx(result.measurements.hr_bpm)


def test_no_beat_on_the_recording_edges():
    recording = _sinus(60.0)
    data = np.asarray(recording.read(0, recording.n_samples), dtype=np.float64)
    data[-3:] += 2.0  # a step on the last samples: the filters turn it into a QRS-like transient
    filtered = lowpass(remove_baseline(data, FS), FS, 40.0)
    fiducials = find_fiducials(filtered, FS)
    edge = int(0.05 * FS)
    assert fiducials.size >= 9
    assert fiducials.min() >= edge and fiducials.max() < data.shape[0] - edge


@pytest.mark.shared_data
def test_biventricular_pacing_with_wide_qrs_is_paced():
    wfdb = pytest.importorskip("wfdb")
    rec = wfdb.rdrecord(str(shared_path("ludb") / "93"))  # LUDB: biventricular pacing, spikes ~130 ms early
    recording = Recording.from_array(rec.p_signal.astype(np.float32), float(rec.fs), rec.sig_name)
    assert analyze_resting(recording).rhythm_name is Rhythm.PACED
