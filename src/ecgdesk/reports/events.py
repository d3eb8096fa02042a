"""Which ECG strips a scanning report prints, and where each strip starts.

A cardiologist wants the most significant episode of each kind, not every one: the longest pause, any
suspected AV block, the fastest and the longest VT, the longest SVT, the onset of AF, the bradycardia and
tachycardia extremes and the minimum and maximum heart rate (:func:`select_event_strips`), then one strip
per patient-triggered event (:func:`patient_event_strips`). Strips whose windows overlap are printed once,
titled with every finding they show ("Longest pause / Minimum heart rate").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from ecgdesk.analysis.findings import Episode, EpisodeType, Findings, HeartRatePoint, PatientEvent
from ecgdesk.reports.tables import duration_text

#: Rhythm name printed for each kind of episode.
RHYTHM_NAMES = {
    EpisodeType.AF: "Atrial fibrillation",
    EpisodeType.FLUTTER: "Atrial flutter",
    EpisodeType.PAUSE: "Pause",
    EpisodeType.VT: "Ventricular tachycardia",
    EpisodeType.SVT: "Supraventricular tachycardia",
    EpisodeType.COUPLET: "Ventricular couplet",
    EpisodeType.TRIPLET: "Ventricular triplet",
    EpisodeType.BIGEMINY: "Ventricular bigeminy",
    EpisodeType.TRIGEMINY: "Ventricular trigeminy",
    EpisodeType.BRADY: "Bradycardia",
    EpisodeType.TACHY: "Tachycardia",
    EpisodeType.AVB2: "Suspected 2nd degree AV block",
    EpisodeType.AVB3: "Suspected 3rd degree (complete) AV block",
    EpisodeType.NOISE: "Noise",
    EpisodeType.LEAD_OFF: "Lead off",
    EpisodeType.VF: "Ventricular flutter / fibrillation",
}


@dataclass(frozen=True)
class EventStrip:
    """One strip to print: its title, the rhythm and detail text, and its window in the recording."""

    title: str
    rhythm: str
    detail: str
    start_s: float
    duration_s: float
    focus_s: float
    episode: Episode | None = None


def _rate(e: Episode) -> float:
    return e.max_rate_bpm or e.mean_rate_bpm or 0.0


def _detail(e: Episode) -> str:
    parts = []
    if e.type is EpisodeType.PAUSE:
        parts.append(f"RR {e.duration_s:.2f} s")
    else:
        parts.append(f"duration {e.duration_s:.1f} s" if e.duration_s < 60 else duration_text(e.duration_s))
        if e.n_beats:
            parts.append(f"{e.n_beats} beats")
        if e.mean_rate_bpm is not None:
            parts.append(f"mean {e.mean_rate_bpm:.0f} bpm")
        if e.max_rate_bpm is not None:
            parts.append(f"max {e.max_rate_bpm:.0f} bpm")
    if e.sustained:
        parts.append("sustained")
    if e.evidence and e.evidence not in parts:
        parts.append(e.evidence)
    return "; ".join(parts)


def window_for(focus_start: float, focus_end: float, strip_s: float, duration_s: float,
               onset: bool = False) -> float:
    """Start of a ``strip_s`` window showing ``[focus_start, focus_end]``: centred if it fits, else from
    just before its start (``onset`` always shows the start); clamped to the recording."""
    length = focus_end - focus_start
    if onset or length > strip_s - 1.0:
        start = focus_start - min(2.0, 0.25 * strip_s)
    else:
        start = 0.5 * (focus_start + focus_end) - 0.5 * strip_s
    return max(0.0, min(start, max(0.0, duration_s - strip_s)))


def _episode_strip(title: str, e: Episode, strip_s: float, duration_s: float, onset: bool = False
                   ) -> EventStrip:
    start = window_for(e.start_s, e.end_s, strip_s, duration_s, onset)
    return EventStrip(title, RHYTHM_NAMES[e.type], _detail(e), start, min(strip_s, duration_s), e.start_s, e)


def _point_strip(title: str, point: HeartRatePoint, strip_s: float, duration_s: float) -> EventStrip:
    start = window_for(point.time_s, point.time_s, strip_s, duration_s)
    return EventStrip(title, f"Heart rate {point.bpm:.0f} bpm", "averaged over the beats around this time",
                      start, min(strip_s, duration_s), point.time_s)


def _pick(episodes: list[Episode], key: Callable[[Episode], float]) -> Episode | None:
    return max(episodes, key=key, default=None)


def select_event_strips(findings: Findings, strip_s: float = 7.2, max_strips: int = 16) -> list[EventStrip]:
    """The most significant episodes of each kind, in clinical priority order, without repeats."""
    f = findings
    duration = f.summary.recording.duration_s
    chosen: list[EventStrip] = []

    def add(strip: EventStrip | None) -> None:
        if strip is None:
            return
        for k, other in enumerate(chosen):
            if abs(other.start_s - strip.start_s) < 0.5 * strip_s:  # the same strip: say it shows both
                chosen[k] = dataclasses.replace(other, title=f"{other.title} / {strip.title}")
                return
        if len(chosen) < max_strips:
            chosen.append(strip)

    def ep(title: str, e: Episode | None, onset: bool = False) -> None:
        if e is not None:
            add(_episode_strip(title, e, strip_s, duration, onset))

    vf = f.episodes_of(EpisodeType.VF)
    ep("Ventricular flutter / fibrillation (onset)", min(vf, key=lambda e: e.start_s, default=None),
       onset=True)
    ep("Longest pause", _pick(f.episodes_of(EpisodeType.PAUSE), lambda e: e.duration_s))
    ep("Suspected complete AV block", _pick(f.episodes_of(EpisodeType.AVB3), lambda e: e.duration_s))
    ep("Suspected 2nd degree AV block", _pick(f.episodes_of(EpisodeType.AVB2), lambda e: e.duration_s))
    vt = f.episodes_of(EpisodeType.VT)
    ep("Fastest ventricular run", _pick(vt, _rate))
    ep("Longest ventricular run", _pick(vt, lambda e: e.n_beats or e.duration_s))
    svt = f.episodes_of(EpisodeType.SVT)
    ep("Longest supraventricular run", _pick(svt, lambda e: e.n_beats or e.duration_s))
    ep("Fastest supraventricular run", _pick(svt, _rate))
    af = f.episodes_of(EpisodeType.AF, EpisodeType.FLUTTER)
    ep("AF onset (first episode)", min(af, key=lambda e: e.start_s, default=None), onset=True)
    ep("Longest AF episode (onset)", _pick(af, lambda e: e.duration_s), onset=True)
    ep("AF with the fastest ventricular rate", _pick(af, _rate))
    ep("Slowest bradycardia", min(f.episodes_of(EpisodeType.BRADY), key=lambda e: e.mean_rate_bpm or 1e9,
                                  default=None))
    ep("Fastest tachycardia", _pick(f.episodes_of(EpisodeType.TACHY), _rate))
    hr = f.summary.heart_rate
    if hr.max is not None:
        add(_point_strip("Maximum heart rate", hr.max, strip_s, duration))
    if hr.min is not None:
        add(_point_strip("Minimum heart rate", hr.min, strip_s, duration))
    ep("Ventricular bigeminy", _pick(f.episodes_of(EpisodeType.BIGEMINY), lambda e: e.duration_s))
    ep("Ventricular couplet", _pick(f.episodes_of(EpisodeType.COUPLET), _rate))
    return chosen


def rhythm_name(event: PatientEvent) -> str:
    names = {
        "sinus": "Sinus rhythm", "sinus_brady": "Sinus bradycardia", "sinus_tachy": "Sinus tachycardia",
        "af": "Atrial fibrillation", "flutter": "Atrial flutter", "vt": "Ventricular tachycardia",
        "svt": "Supraventricular tachycardia", "pause": "Pause", "av_block": "AV block (suspected)",
        "vf": "Ventricular flutter / fibrillation", "unanalyzable": "Unanalyzable (noise or lead off)",
    }
    return names.get(event.rhythm.value, event.rhythm.value)


def patient_event_strips(findings: Findings, strip_s: float = 7.2, max_strips: int = 24) -> list[EventStrip]:
    """One strip centred on each patient-triggered event (diary or marker), first ``max_strips``."""
    duration = findings.summary.recording.duration_s
    strips = []
    for ev in findings.patient_events[:max_strips]:
        start = window_for(ev.time_s, ev.time_s, strip_s, duration)
        hr = f", HR {ev.hr_bpm:.0f} bpm" if ev.hr_bpm is not None else ""
        also = ", ".join(RHYTHM_NAMES[t] for t in ev.episodes)
        detail = f"{ev.source.value}: {ev.symptom or 'no symptom given'}"
        detail += f"; during {also}" if also else ""
        strips.append(EventStrip(f"Patient event: {ev.symptom or 'marker'}", rhythm_name(ev) + hr, detail,
                                 start, min(strip_s, duration), ev.time_s))
    return strips
