"""Beat classes in muscle noise: normal beats that no template takes are not called ventricular wholesale
(algorithm 0.5.30)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_path
from ecgdesk.analysis.beats import BeatClass, analyze_beats
from ecgdesk.analysis.evaluation import AAMI_CLASS, BEAT_SYMBOLS, match_beats
from ecgdesk.analysis.noise_stress import add_noise, make_noise


@pytest.mark.shared_data
def test_mitdb_114_in_muscle_noise_keeps_its_normal_beats_normal():
    """MIT-BIH 114 lead 0 with synthetic muscle noise at +12 dB: the noisy normal beats exhaust the 40
    templates, and those left over were judged together from their mean. Algorithm 0.5.29 called 198 normal
    beats V; 0.5.30 attaches each to the template it correlates with at 0.85 or more: 90. Its PVCs stay V
    (42 of 43 both)."""
    wfdb = pytest.importorskip("wfdb")
    base = str(shared_path("mitdb", "114.hea").with_suffix(""))
    record = wfdb.rdrecord(base, channels=[0])
    fs, x = float(record.fs), record.p_signal[:, 0]
    ann = wfdb.rdann(base, "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol])
    truth = np.array([AAMI_CLASS[s] for s in np.array(ann.symbol)[keep]])
    reference = ann.sample[keep]
    noisy = add_noise(x, fs, reference, make_noise("ma", x.size, fs, seed=114), 12.0)
    table = analyze_beats(noisy, fs)
    pairs = match_beats(reference, table.samples, fs).pairs
    called = np.where(pairs >= 0, table.labels[np.maximum(pairs, 0)], "-")
    assert np.sum((called == BeatClass.V.value) & (truth == "N")) <= 130
    assert np.sum((called == BeatClass.V.value) & (truth == "V")) >= 40
