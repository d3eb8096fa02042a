"""Which strips the report prints: one per kind of significant episode, windows inside the recording."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime

import pytest
from scanning_builders import synthetic_long_findings

from ecgdesk.analysis.findings import Episode, EpisodeType, HeartRatePoint
from ecgdesk.reports.events import patient_event_strips, select_event_strips, window_for


def test_window_centres_short_episodes_and_shows_the_onset_of_long_ones():
    assert window_for(100.0, 103.0, 7.0, 1000.0) == pytest.approx(98.0)  # centred
    assert window_for(100.0, 400.0, 10.0, 1000.0) == pytest.approx(98.0)  # onset, 2 s before
    assert window_for(100.0, 400.0, 7.0, 1000.0) == pytest.approx(98.25)  # a quarter of a short strip
    assert window_for(1.0, 2.0, 7.0, 1000.0) == 0.0  # clamped at the start
    assert window_for(998.0, 999.0, 7.0, 1000.0) == pytest.approx(993.0)  # and at the end


def test_most_significant_episode_of_each_kind_in_priority_order():
    f = synthetic_long_findings(days=3.0, start=datetime(2026, 3, 2, 9, 30))
    pause_long = Episode(EpisodeType.PAUSE, 5000.0, 5004.2, 1, 2, 2, evidence="RR 4.20 s")
    slow_vt = Episode(EpisodeType.VT, 9000.0, 9010.0, 3, 4, 20, 130.0, 140.0)
    fast_vt = Episode(EpisodeType.VT, 20000.0, 20001.5, 5, 6, 5, 200.0, 215.0)
    avb = Episode(EpisodeType.AVB3, 30000.0, 30060.0, 7, 8, 40, 35.0, 38.0, suspected=True)
    f = dataclasses.replace(f, episodes=sorted([*f.episodes, pause_long, slow_vt, fast_vt, avb],
                                               key=lambda e: e.start_s))
    strips = select_event_strips(f, strip_s=7.0)
    titles = [s.title for s in strips]
    assert titles[:4] == ["Longest pause", "Suspected complete AV block", "Fastest ventricular run",
                          "Longest ventricular run"]
    assert titles[4].startswith("AF onset (first episode)")
    # a minimum HR inside the longest pause's window: one strip, titled with both findings
    hr = dataclasses.replace(f.summary.heart_rate, min=HeartRatePoint(30.0, pause_long.start_s + 1.0))
    merged = dataclasses.replace(f, summary=dataclasses.replace(f.summary, heart_rate=hr))
    merged_titles = [s.title for s in select_event_strips(merged, strip_s=7.0)]
    assert merged_titles[0] == "Longest pause / Minimum heart rate"
    assert "Minimum heart rate" not in merged_titles
    assert strips[0].episode is pause_long and strips[2].episode is fast_vt and strips[3].episode is slow_vt
    duration = f.summary.recording.duration_s
    for s in strips:
        assert 0.0 <= s.start_s <= duration - s.duration_s
    starts = sorted(s.start_s for s in strips)
    assert all(b - a >= 3.5 for a, b in itertools.pairwise(starts))  # no overlapping repeats
    assert len(select_event_strips(f, strip_s=7.0, max_strips=2)) == 2


def test_one_strip_per_patient_event_centred_on_it():
    f = synthetic_long_findings(days=2.0)
    strips = patient_event_strips(f, strip_s=7.0)
    assert len(strips) == len(f.patient_events)
    for strip, event in zip(strips, f.patient_events, strict=True):
        assert strip.start_s <= event.time_s <= strip.start_s + strip.duration_s
        assert event.symptom in strip.title and "Sinus rhythm" in strip.rhythm
