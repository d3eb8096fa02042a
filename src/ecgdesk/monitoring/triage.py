"""Triage of one transmitted strip: what the engines see in it, and the priority the patient's criteria give.

:func:`observe` runs the strip classifier (N/A/O/~ with its reason) and the ambulatory engine (pauses, V
runs and VT, AF/flutter/SVT with rates, suspected AV block, the heart-rate range) on the strip;
:func:`match` turns that into a priority with the rules that fired. The classifier only ever *sets* a
priority: every strip still goes to a person, and an unreadable strip keeps its reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ecgdesk.errors import EcgDeskError
from ecgdesk.monitoring.criteria import Criteria, Rule, Tier
from ecgdesk.records.recording import Recording


class Priority(enum.StrEnum):
    EMERGENT = "emergent"
    URGENT = "urgent"
    UNREADABLE = "unreadable"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """Queue order: emergent first, then urgent, unreadable (a person must look), routine."""
        return {Priority.EMERGENT: 0, Priority.URGENT: 1, Priority.UNREADABLE: 2, Priority.ROUTINE: 3}[self]


@dataclass(frozen=True)
class RhythmEvent:
    """One event seen in a strip, in the vocabulary of the criteria (``vf``, ``vt``, ``pause``, ...)."""

    kind: str
    duration_s: float = 0.0
    rate_bpm: float | None = None
    evidence: str = ""
    start_s: float | None = None  # where in the strip it begins (None: the whole strip)


@dataclass(frozen=True)
class StripObservation:
    label: str  # N, A, O, ~ (the strip classifier's)
    reason: str
    heart_rate_bpm: float | None
    events: tuple[RhythmEvent, ...] = ()
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "reason": self.reason,
            "heart_rate_bpm": self.heart_rate_bpm,
            "duration_s": self.duration_s,
            "events": [
                {
                    "kind": e.kind,
                    "duration_s": round(e.duration_s, 2),
                    "rate_bpm": e.rate_bpm,
                    "evidence": e.evidence,
                    "start_s": e.start_s,
                }
                for e in self.events
            ],
        }


@dataclass(frozen=True)
class Triage:
    priority: Priority
    matched: tuple[Rule, ...] = field(default_factory=tuple)
    reason: str = ""


_EPISODE_EVENTS = {
    "vt": "vt",
    "pause": "pause",
    "af": "svt_af",
    "flutter": "svt_af",
    "svt": "svt_af",
    "avb3": "avb",
    "vf": "vf",
    "vfl": "vf",
    "ventricular_fibrillation": "vf",
}


def _events_of(
    recording: Recording, lead: str | int | None
) -> tuple[list[RhythmEvent], float | None, float | None]:
    from ecgdesk.analysis.pipeline import analyze

    result = analyze(recording, lead=lead)
    events = []
    for episode in result.findings.episodes:
        kind = _EPISODE_EVENTS.get(str(episode.type))
        if str(episode.type) == "avb2" and "wenckebach" not in episode.evidence.lower():
            kind = "avb"  # Mobitz I (Wenckebach grouped beating) is not high-grade block
        if kind is None:
            continue
        rate = episode.max_rate_bpm or episode.mean_rate_bpm
        events.append(
            RhythmEvent(kind, float(episode.duration_s), rate, episode.evidence, float(episode.start_s))
        )
    heart = result.findings.summary.heart_rate
    low = heart.min.bpm if heart.min is not None else None
    high = heart.max.bpm if heart.max is not None else None
    return events, low, high


def observe(recording: Recording, lead: str | int | None = None) -> StripObservation:
    """Classify a strip and list its rhythm events (the engines' reading; a person confirms it)."""
    from ecgdesk.analysis.strips import classify_strip

    strip = classify_strip(recording, lead)
    events: list[RhythmEvent] = []
    low = high = strip.heart_rate_bpm
    try:
        found, found_low, found_high = _events_of(recording, lead)
        events.extend(found)
        low = found_low if found_low is not None else low
        high = found_high if found_high is not None else high
    except EcgDeskError:
        pass  # too short or no beats for the ambulatory engine: the strip label and its reason stand
    if str(strip.label) == "A" and not any(e.kind == "svt_af" for e in events):
        events.append(RhythmEvent("svt_af", recording.duration_s, strip.heart_rate_bpm, strip.reason))
    if low is not None:
        events.append(RhythmEvent("rate", 0.0, low, "lowest heart rate"))
    if high is not None and high != low:
        events.append(RhythmEvent("rate", 0.0, high, "highest heart rate"))
    return StripObservation(
        str(strip.label), strip.reason, strip.heart_rate_bpm, tuple(events), recording.duration_s
    )


def _fires(rule: Rule, event: RhythmEvent) -> bool:
    if rule.event != event.kind:
        return False
    if rule.min_duration_s is not None and event.duration_s < rule.min_duration_s:
        return False
    if rule.min_rate_bpm is not None and (event.rate_bpm is None or event.rate_bpm <= rule.min_rate_bpm):
        return False
    return not (
        rule.max_rate_bpm is not None and (event.rate_bpm is None or event.rate_bpm >= rule.max_rate_bpm)
    )


def match(criteria: Criteria, observation: StripObservation) -> Triage:
    """The priority the criteria give a strip: its highest tier that fired; unreadable when nothing could be
    read (noise, lead off) and nothing fired; routine otherwise."""
    fired = tuple(rule for rule in criteria.rules if any(_fires(rule, e) for e in observation.events))
    if fired:
        top = min(fired, key=lambda r: r.tier.rank)
        same = [r.text for r in fired if r.tier is top.tier]
        return Triage(Priority(top.tier.value), fired, f"{top.tier.value}: {'; '.join(same)}")
    if observation.label == "~":
        return Triage(Priority.UNREADABLE, (), f"unreadable: {observation.reason}")
    return Triage(Priority.ROUTINE, (), f"routine: {observation.reason}")


__all__ = ["Priority", "RhythmEvent", "StripObservation", "Tier", "Triage", "match", "observe"]
