"""Beat templates are a property of the beats, not of their positions in the array: one beat more or
fewer elsewhere in the recording leaves every other beat's template and label as they were, and the
S model's RR features of every beat but its neighbours."""

from __future__ import annotations

import numpy as np

from ecgdesk.analysis import beat_model
from ecgdesk.analysis.beat_rhythm import rr_context
from ecgdesk.analysis.beats import WAVE_T, BeatFeatures, rule_state

FS = 250.0


def _drifting_beats(n: int = 3000) -> tuple[BeatFeatures, np.ndarray]:
    """Beats whose QRS turns slowly from one shape to another (an axis drift over hours): a continuum,
    so where the templates split it depends on which beats seed them."""
    rng = np.random.default_rng(7)
    angle = rng.uniform(0.0, 1.3, n)
    first = np.exp(-0.5 * (WAVE_T / 0.015) ** 2)
    second = -(WAVE_T / 0.02) * np.exp(-0.5 * (WAVE_T / 0.02) ** 2)
    waves = np.cos(angle)[:, None] * first + np.sin(angle)[:, None] * second
    waves += 0.02 * rng.standard_normal(waves.shape)
    width = 90.0 + rng.uniform(-3, 3, n)
    samples = np.cumsum(rng.integers(190, 210, n)) + 100
    return BeatFeatures(waves.astype(np.float32), width.astype(np.float32)), samples


def _without(features: BeatFeatures, samples: np.ndarray, drop: int) -> tuple[BeatFeatures, np.ndarray]:
    keep = np.arange(samples.size) != drop
    return BeatFeatures(features.waveforms[keep], features.width_ms[keep]), samples[keep]


def test_removing_one_beat_leaves_the_other_templates():
    features, samples = _drifting_beats()
    whole = rule_state(features, samples, FS)
    assert np.unique(whole.ids).size >= 3  # the continuum is split into several templates
    for drop in range(100, 3000, 290):
        keep = np.arange(samples.size) != drop
        part = rule_state(*_without(features, samples, drop), FS)
        # a template's centre is the mean of its members, so a beat at the very edge of one may move;
        # seeds drawn by array index moved 71 to 1,015 of these 3,000 beats
        assert np.sum(part.ids != whole.ids[keep]) <= 5, drop


def test_a_missed_beat_changes_no_run_onset_feature_beyond_its_neighbours():
    # a sinus rate that drifts slowly (0.75 -> 1.0 s over 600 beats), with one beat missed at 200: the
    # long RR and the normal one after it look like an abrupt shortening, a run's onset; the run is over
    # at once, so beats further on keep comparing with their own rhythm (MIT-BIH 230, algorithm 0.5.19)
    rng = np.random.default_rng(4)
    rr = np.linspace(0.75, 1.0, 600) * (1 + 0.01 * rng.standard_normal(600))
    samples = np.round(np.concatenate([[1.0], 1.0 + np.cumsum(rr)]) * FS).astype(np.int64)
    names = beat_model.feature_names(0)
    columns = [names.index("pre_onset"), names.index("since_onset")]

    def features(beats: np.ndarray) -> np.ndarray:
        return beat_model.rhythm_features(beats, FS, rr_context(beats, FS)[1])[:, columns]

    whole = features(samples)
    keep = np.ones(samples.size, dtype=bool)
    keep[200] = False
    missed = features(samples[keep])
    later = np.flatnonzero(keep)[np.flatnonzero(keep) > 230]
    np.testing.assert_allclose(missed[np.searchsorted(np.flatnonzero(keep), later)], whole[later], rtol=1e-6)
