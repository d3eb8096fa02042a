"""Two humps closer than 250 ms: a P or T wave beside its QRS is dropped, a fast run of real beats is kept."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_path
from ecgdesk.analysis.detection import _weak_neighbour, detect_qrs
from ecgdesk.analysis.evaluation import BEAT_SYMBOLS, match_beats

FS = 100.0  # the detector's working rate


def _pairs(rr_s: list[float], heights: list[float]) -> np.ndarray:
    beats = np.round(np.concatenate([[0.0], np.cumsum(rr_s)]) * FS).astype(np.int64)
    return _weak_neighbour(beats, np.asarray(heights, dtype=float), FS)


def test_an_isolated_close_pair_loses_its_smaller_hump():
    # P wave 200 ms before each QRS, its hump 55 % of the QRS's: short-long-short-long intervals
    weak = _pairs([0.2, 0.8, 0.2, 0.8, 0.2], [0.55, 1.0, 0.6, 1.0, 0.5, 1.0])
    assert weak.tolist() == [True, False, True, False, True, False]
    # a T wave 230 ms after a lone QRS, on either side the same
    assert _pairs([0.9, 0.23, 0.9], [1.0, 1.0, 0.6, 1.0]).tolist() == [False, False, True, False]


def test_a_fast_run_and_humps_of_like_size_are_kept():
    # a run at 240 ms (SVDB 848's flutter-like runs): its neighbouring intervals are as short
    assert not _pairs([0.24, 0.24, 0.22, 0.24], [1.0, 0.6, 0.9, 0.55, 1.0]).any()
    # an isolated pair of like humps (a couplet of two real beats) stays
    assert not _pairs([0.9, 0.24, 0.9], [1.0, 0.8, 1.0, 1.0]).any()
    # the older rule still holds anywhere: a hump under 40 % of a neighbour 200 ms away is dropped
    assert _pairs([0.24, 0.2, 0.24], [1.0, 1.0, 0.3, 1.0]).tolist() == [False, False, True, False]


@pytest.mark.shared_data
def test_mitdb_108_p_waves_in_its_last_minutes():
    # large P waves (first-degree AV block) 200-250 ms before a small QRS on a noisy lead: until algorithm
    # 0.5.9 each QRS got a second beat on its P wave here (103 false beats of 278, +P 62.6 %)
    wfdb = pytest.importorskip("wfdb")
    base = str(shared_path("mitdb", "108.hea").with_suffix(""))
    start = 1650 * 360
    rec = wfdb.rdrecord(base, sampfrom=start, channels=[0])
    ann = wfdb.rdann(base, "atr")
    ref = ann.sample[[s in BEAT_SYMBOLS for s in ann.symbol]]
    ref = ref[ref >= start] - start
    m = match_beats(ref, detect_qrs(rec.p_signal[:, 0], 360.0).samples, 360.0)
    assert m.fp <= 40
    assert m.se >= 97.5
