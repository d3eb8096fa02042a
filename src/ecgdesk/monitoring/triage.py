"""Triage of one transmitted strip: what the engines see in it, and the priority the patient's criteria give.

:func:`observe` runs the strip classifier (N/A/O/~ with its reason) and reads pauses, the heart-rate range
and wide-complex runs (suspected VT) from the classifier's own beats (:mod:`.strip_events`). The
ambulatory engine (V runs and VT, AF/flutter/SVT episodes with rates, suspected AV block, VF) is run on
the strip only when it could still raise the priority under the patient's criteria
(:func:`engine_could_add`): a strip already emergent, or a sinus strip at a normal rate, is not read twice.
:func:`match` turns the reading into a priority with the rules that fired. The classifier only ever
*sets* a priority: every strip still goes to a person, and an unreadable strip keeps its reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ecgdesk.analysis.av_block import BLOCKED_P_MIN_RR_S
from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.errors import EcgDeskError
from ecgdesk.monitoring.criteria import Criteria, Rule, Tier
from ecgdesk.monitoring.strip_events import BeatReading, RhythmEvent, read_beats, ventricular_events
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
class StripObservation:
    label: str  # N, A, O, ~ (the strip classifier's)
    reason: str
    heart_rate_bpm: float | None
    events: tuple[RhythmEvent, ...] = ()
    duration_s: float = 0.0
    engine: str = ""  # whether and why the ambulatory engine read the strip too
    shapeless: float = 0.0  # share of the strip's beats with no repeated shape (strip_events' groups)

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "reason": self.reason,
            "heart_rate_bpm": self.heart_rate_bpm,
            "duration_s": self.duration_s,
            "engine": self.engine,
            "shapeless": round(self.shapeless, 3),
            "events": [
                {
                    "kind": e.kind,
                    "duration_s": round(e.duration_s, 2),
                    "rate_bpm": None if e.rate_bpm is None else round(float(e.rate_bpm), 1),
                    "evidence": e.evidence,
                    "start_s": None if e.start_s is None else round(e.start_s, 2),
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
#: Below this lowest rate (bpm), or with an RR this many times the median (a dropped beat), the
#: engine's AV-block reading may find high-grade block (complete block escapes at 20-50 bpm; Mobitz II
#: drops a beat, doubling an interval). It may also find one in any RR at least as long as the shortest
#: it reads a blocked P wave in (``BLOCKED_P_MIN_RR_S``): its test is against the RRs around in its own
#: beats, which may be shorter than the strip's median (CinC A07776: no RR over 1.22 x the median, lowest
#: rate 61 bpm, a blocked P read in an RR of 1.00 s; the triage without the engine called it routine,
#: with it urgent).
AVB_SUSPECT_BPM, AVB_SUSPECT_RR_RATIO = 60.0, 1.5
#: The ambulatory engine's VT rate: no 3 beats faster than this, no VT run for it to find.
VT_RATE_BPM = AnalysisConfig().vt_rate_bpm
#: More than this share of beats without a shape: chaos the engine's VF reading should see.
VF_SUSPECT_UNGROUPED = 0.3
#: More than this share of beats without a repeated shape (most of them) on a strip labelled A or O, and no
#: rule above routine fired: the irregular rhythm the label names was read from noise or chaos, so the
#: strip is unreadable (a person looks within the hour), not routine. Creighton VF strips with shocks,
#: clipping or compressions over the fibrillation, which the classifier calls A or O, and sinus strips
#: under heavy muscle noise called O land here; clean strips almost never do. A strip labelled N keeps its
#: regular RR as evidence for the label, however noisy its beats (docs/monitoring.md).
SHAPELESS_UNREADABLE = 0.5
SHAPELESS_LABELS = ("A", "O")


def _engine_events(recording: Recording, lead: str | int | None) -> list[RhythmEvent]:
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
    return events


def _suspected(label: str, beats: BeatReading) -> dict[str, str]:
    """Event kinds the engine might find that the beats alone cannot show, with why."""
    kinds: dict[str, str] = {}
    if beats.low_bpm is not None and beats.low_bpm < AVB_SUSPECT_BPM:
        kinds["avb"] = f"lowest rate {beats.low_bpm:.0f} bpm"
    elif beats.longest_rr_ratio is not None and beats.longest_rr_ratio >= AVB_SUSPECT_RR_RATIO:
        kinds["avb"] = f"an RR {beats.longest_rr_ratio:.1f}x the median"
    elif beats.longest_rr_s is not None and beats.longest_rr_s >= BLOCKED_P_MIN_RR_S:
        kinds["avb"] = f"an RR of {beats.longest_rr_s:.2f} s"
    if label == "~" or beats.ungrouped > VF_SUSPECT_UNGROUPED:
        kinds["vf"] = "no consistent beats" if label != "~" else "unreadable to the classifier"
    if beats.fastest_bpm is not None and beats.fastest_bpm > VT_RATE_BPM:
        kinds["vt"] = f"3 beats at {beats.fastest_bpm:.0f} bpm"
    if label in ("A", "O"):
        kinds["svt_af"] = f"label {label}"
    return kinds


def engine_could_add(
    criteria: Criteria, current: Priority, label: str, beats: BeatReading
) -> str | None:
    """Why the ambulatory engine could still raise ``current`` (None: it cannot, under these criteria)."""
    if current is Priority.EMERGENT:
        return None
    for kind, why in _suspected(label, beats).items():
        for rule in criteria.rules:
            if rule.event != kind or Priority(rule.tier.value).rank >= current.rank:
                continue
            if rule.min_rate_bpm is not None and (beats.high_bpm or 0) < 0.9 * rule.min_rate_bpm:
                continue  # the engine's episode rates come from the same beats
            return f"{kind} possible ({why}): rule {rule.id}"
    return None


def observe(
    recording: Recording, lead: str | int | None = None, criteria: Criteria | None = None
) -> StripObservation:
    """Classify a strip and list its rhythm events (the engines' reading; a person confirms it).

    With ``criteria``, the ambulatory engine runs only when it could raise the priority they give the
    cheap reading; without, it always runs."""
    from ecgdesk.analysis.strips import classify_strip

    strip = classify_strip(recording, lead)
    label = str(strip.label)
    prepared = strip.strip
    beats = read_beats(prepared) if prepared is not None else BeatReading()
    shapeless = beats.ungrouped if prepared is not None else 0.0
    events = list(beats.events)
    if label == "V":
        events.extend(ventricular_events(strip.reason, prepared, recording.duration_s))
    if label == "A":
        events.append(RhythmEvent("svt_af", recording.duration_s, strip.heart_rate_bpm, strip.reason))
    low = beats.low_bpm if beats.low_bpm is not None else strip.heart_rate_bpm
    high = beats.high_bpm if beats.high_bpm is not None else strip.heart_rate_bpm
    if low is not None and label != "~":  # rates of an unreadable strip are the noise's
        events.append(RhythmEvent("rate", 0.0, low, "lowest heart rate (8-beat mean)"))
        if high is not None and high != low:
            events.append(RhythmEvent("rate", 0.0, high, "highest heart rate (8-beat mean)"))
    engine = "always (no criteria given)"
    if criteria is not None:
        cheap = match(criteria, StripObservation(label, strip.reason, strip.heart_rate_bpm, tuple(events),
                                                 shapeless=shapeless))
        engine = engine_could_add(criteria, cheap.priority, label, beats) or ""
    if engine:
        try:
            found = _engine_events(recording, lead)
        except EcgDeskError:
            found = []  # too short or no beats for the ambulatory engine: the strip label and reason stand
        events.extend(e for e in found if e.kind != "pause")  # the beats' own pauses are already there
    return StripObservation(
        label, strip.reason, strip.heart_rate_bpm, tuple(events), recording.duration_s, engine, shapeless
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
    read (noise, lead off) and nothing fired, or when only routine rules fired (or none) on an irregular
    rhythm read from beats that are mostly shapeless (:data:`SHAPELESS_UNREADABLE`); routine otherwise."""
    fired = tuple(rule for rule in criteria.rules if any(_fires(rule, e) for e in observation.events))
    by_rules = _by_rules(fired)
    if by_rules is not None and by_rules.priority.rank < Priority.UNREADABLE.rank:
        return by_rules
    if observation.label == "~" and not fired:
        return Triage(Priority.UNREADABLE, (), f"unreadable: {observation.reason}")
    if observation.label in SHAPELESS_LABELS and observation.shapeless > SHAPELESS_UNREADABLE:
        return Triage(Priority.UNREADABLE, fired, (
            f"unreadable: {100 * observation.shapeless:.0f} % of the beats found have no repeated shape "
            f"(noise, or fibrillation under it), so the label {observation.label} ({observation.reason}) "
            "is not reliable"))
    return by_rules or Triage(Priority.ROUTINE, (), f"routine: {observation.reason}")


def _by_rules(fired: tuple[Rule, ...]) -> Triage | None:
    """The priority of the highest tier among the rules that fired, with their texts (None: none fired)."""
    if not fired:
        return None
    top = min(fired, key=lambda r: r.tier.rank)
    same = [r.text for r in fired if r.tier is top.tier]
    return Triage(Priority(top.tier.value), fired, f"{top.tier.value}: {'; '.join(same)}")


__all__ = ["Priority", "RhythmEvent", "StripObservation", "Tier", "Triage", "match", "observe"]
