"""Suspected Mobitz I (Wenckebach) block from grouped beating in the RR intervals."""

from __future__ import annotations

import numpy as np

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import Episode, EpisodeType
from ecgdesk.analysis.series import BeatSeries
from ecgdesk.analysis.wenckebach import wenckebach_episodes

FS = 250.0
CFG = AnalysisConfig()


def _series(rr: list[float], labels: list[str] | None = None) -> BeatSeries:
    times = 1.0 + np.concatenate([[0.0], np.cumsum(rr)])
    samples = np.round(times * FS).astype(np.int64)
    labs = np.asarray(labels if labels is not None else ["N"] * samples.size)
    return BeatSeries.build(samples, labs, FS, int(samples[-1]) + 500, None, CFG)


def _found(series: BeatSeries, exclude: list[Episode] | None = None) -> list[Episode]:
    return wenckebach_episodes(series, exclude or [])


def test_wenckebach_groups_are_found_with_their_spacing():
    rng = np.random.default_rng(0)
    sinus = list(0.8 + 0.01 * rng.standard_normal(40))
    # atria at 0.75 s, PR 0.16 -> 0.26 -> 0.32 s, then a blocked P: RR 0.85, 0.81, 1.34 (4:3)
    groups = [0.85, 0.81, 1.34] * 8
    found = _found(_series(sinus + groups + sinus))
    assert len(found) == 1 and found[0].type is EpisodeType.AVB2 and found[0].suspected
    assert "every 3 beats" in found[0].evidence
    start = 1.0 + sum(sinus)
    assert abs(found[0].start_s - start) < 2.0 and abs(found[0].end_s - (start + sum(groups))) < 2.0
    # 3:2 groups (one conducted RR, then the pause) are found too
    assert "every 2 beats" in _found(_series(sinus + [0.9, 1.35] * 6 + sinus))[0].evidence


def test_other_grouped_or_irregular_rhythms_are_not_wenckebach():
    rng = np.random.default_rng(1)
    sinus = list(0.8 + 0.01 * rng.standard_normal(40))
    # Mobitz II 3:2: the pause is exactly two P-P cycles
    assert _found(_series(sinus + [0.75, 1.5] * 8 + sinus)) == []
    # atrial trigeminy: the short RR is a premature (S) beat
    rr = sinus + [0.8, 0.5, 1.1] * 8 + sinus
    labels = ["N"] * (len(rr) + 1)
    for k in range(len(sinus) + 2, len(sinus) + 24, 3):
        labels[k] = "S"
    assert _found(_series(rr, labels)) == []
    # respiratory sinus arrhythmia and random irregularity (AF-like) have no fixed pause spacing
    rsa = list(0.85 + 0.12 * np.sin(np.arange(200) * 2 * np.pi / 5.3))
    assert _found(_series(rsa)) == []
    af = list(0.7 * (1 + 0.25 * rng.standard_normal(200)).clip(0.5, 2.0))
    assert _found(_series(af)) == []


def test_excluded_stretches_are_skipped():
    sinus = [0.8] * 40
    series = _series(sinus + [0.85, 0.81, 1.34] * 8 + sinus)
    whole = Episode(EpisodeType.AF, 0.0, 1e4, 0, 10**7)
    assert _found(series, [whole]) == []


def test_the_last_beat_of_a_group_called_s_is_still_conducted():
    # the S model calls the beat before each pause S (it comes before a longer RR); its RR is no shorter
    # than the one before it, so it is the group's conducted beat, not a premature atrial beat
    rng = np.random.default_rng(4)
    sinus = list(0.8 + 0.01 * rng.standard_normal(40))
    rr = sinus + [0.85, 0.81, 1.34] * 8 + sinus
    labels = ["N"] * (len(rr) + 1)
    for k in range(len(sinus) + 2, len(sinus) + 24, 3):
        labels[k] = "S"
    assert [rr[k - 1] for k in range(len(sinus) + 2, len(sinus) + 24, 3)] == [0.81] * 8
    found = _found(_series(rr, labels))
    assert len(found) == 1 and "every 3 beats" in found[0].evidence
