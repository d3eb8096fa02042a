"""Signed notification criteria: a rule whose thresholds the triage never measures for its event is refused
when the physician signs it, rather than signed and silently never firing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ecgdesk.errors import InputError
from ecgdesk.monitoring.criteria import default_criteria, parse_criteria
from ecgdesk.monitoring.strip_events import RhythmEvent
from ecgdesk.monitoring.triage import Priority, StripObservation, match


def _rules(*extra: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [*default_criteria().to_dict()["rules"], *extra]}


@pytest.mark.parametrize(
    ("rule", "field", "why"),
    [
        # reference section 5 rule 8's auto-trigger "brady <40 for 60 s": the triage's rate is the strip's
        # 8-beat mean, an event with no duration, so the rule could never fire
        (
            {"id": "brady_60s", "tier": "urgent", "event": "rate", "max_rate_bpm": 40, "min_duration_s": 60},
            "min_duration_s",
            "a heart rate event has no duration",
        ),
        # the strip classifier's VF carries no rate (only the engine's flutter may): a VF strip would pass
        ({"id": "vf_fast", "tier": "emergent", "event": "vf", "min_rate_bpm": 200}, "min_rate_bpm", "rate"),
        ({"id": "vf_slow", "tier": "emergent", "event": "vf", "max_rate_bpm": 300}, "max_rate_bpm", "rate"),
    ],
)
def test_a_threshold_its_event_never_carries_is_refused_naming_the_field(
    rule: dict[str, Any], field: str, why: str
) -> None:
    """Before, these rules were accepted and signed; the brady one never fired (a 2-minute strip at 38 bpm
    stayed routine under an urgent 'under 40 bpm for 60 s' rule: only the default routine 'under 40'
    fired), the VF ones not on the strip classifier's VF (no rate)."""
    document = _rules(rule)
    with pytest.raises(InputError) as caught:
        parse_criteria(document, "criteria.json")
    assert caught.value.field == f"rules[{len(document['rules']) - 1}].{field}"
    assert why in str(caught.value)


def test_the_thresholds_each_event_carries_are_accepted_and_fire() -> None:
    criteria = parse_criteria(
        _rules(
            {"id": "slow", "tier": "emergent", "event": "rate", "max_rate_bpm": 30},
            {"id": "vt_fast", "tier": "emergent", "event": "vt", "min_rate_bpm": 100, "min_duration_s": 2},
            {"id": "long_pause", "tier": "emergent", "event": "pause", "min_duration_s": 5},
            {"id": "vf_long", "tier": "emergent", "event": "vf", "min_duration_s": 1},
        )
    )
    for event in (
        RhythmEvent("rate", 0.0, 28.0),
        RhythmEvent("vt", 3.0, 150.0),
        RhythmEvent("pause", 6.0, 10.0),
        RhythmEvent("vf", 4.0, None),
    ):
        observed = StripObservation("N", "test", 60.0, (event,))
        assert match(criteria, observed).priority is Priority.EMERGENT, event


def test_at_its_exact_threshold_a_duration_fires_and_a_rate_does_not() -> None:
    """A regular rhythm at 300 Hz puts a rate exactly on a threshold (RR 120 samples: 150.0 bpm; 100: 180.0)
    and a pause exactly on one (900 samples: 3.0 s). A duration is a minimum ("3 s or more"; sustained VT
    is 30 s or more); a rate limit is strict, as the rules' texts and the reference's criteria say ("over
    150 bpm", "under 35 bpm"). Probed 2026-12-07: the rules behave so; pinned so that neither drifts."""
    criteria = default_criteria()
    at = {
        "pause 3.0 s": (RhythmEvent("pause", 3.0, 20.0), Priority.URGENT),
        "pause 10.0 s": (RhythmEvent("pause", 10.0, 6.0), Priority.EMERGENT),
        "VT 30.0 s": (RhythmEvent("vt", 30.0, 180.0), Priority.EMERGENT),
        "rate 150.0": (RhythmEvent("rate", 0.0, 150.0), Priority.ROUTINE),
        "rate 35.0": (RhythmEvent("rate", 0.0, 35.0), Priority.ROUTINE),
        "SVT 180.0": (RhythmEvent("svt_af", 10.0, 180.0), Priority.ROUTINE),
        "SVT 180.1": (RhythmEvent("svt_af", 10.0, 180.1), Priority.URGENT),
        "rate 34.9": (RhythmEvent("rate", 0.0, 34.9), Priority.URGENT),
    }
    fired = {name: match(criteria, StripObservation("N", "", None, (event,))).priority for name, (event, _) in
             at.items()}
    assert fired == {name: priority for name, (_, priority) in at.items()}
    tachy = {r.id for r in match(criteria, StripObservation("N", "", None, (at["rate 150.0"][0],))).matched}
    assert "tachy_150" not in tachy


#: How a rule's text states each comparison: the triage's duration is a minimum (``>=``), its rate limits
#: are strict (``triage._fires``).
_SAID = (
    (r"(\d+(?:\.\d+)?) s or more", "min_duration_s", ">="),
    (r"(?:over|more than|above|longer than) (\d+(?:\.\d+)?) s\b", "min_duration_s", ">"),
    (r"(?:over|above|faster than) (\d+(?:\.\d+)?) bpm", "min_rate_bpm", ">"),
    (r"(\d+(?:\.\d+)?) bpm or (?:more|faster)", "min_rate_bpm", ">="),
    (r"(?:under|below|slower than) (\d+(?:\.\d+)?) bpm", "max_rate_bpm", "<"),
    (r"(\d+(?:\.\d+)?) bpm or (?:less|slower)", "max_rate_bpm", "<="),
)
_RULE_SAYS = {"min_duration_s": ">=", "min_rate_bpm": ">", "max_rate_bpm": "<"}


def _comparisons(text: str) -> set[tuple[str, str, float]]:
    said, rest = set(), text
    for pattern, field, op in _SAID:
        for found in re.finditer(pattern, rest):
            said.add((field, op, float(found.group(1))))
        rest = re.sub(pattern, "", rest)
    # a number the patterns did not read is a threshold said in words this check does not know
    assert not re.search(r"\d", rest), f"{text!r}: a number not read as a comparison"
    return said


def test_each_default_rule_says_the_comparison_it_makes() -> None:
    """The default "pause_3s" rule said "pause over 3 s" and fired at 3.0 s (a duration is a minimum), as
    "pause over 10 s" did at 10.0 s: the physician signing the defaults read a stricter rule than the one
    that ran. Until 2026-12-08; each default rule's text now states its own thresholds and comparisons
    (versions signed before keep their words: signed data is never rewritten)."""
    for rule in default_criteria().rules:
        made = {
            (field, op, float(getattr(rule, field)))
            for field, op in _RULE_SAYS.items()
            if getattr(rule, field) is not None
        }
        assert _comparisons(rule.text) == made, rule.id


def test_the_wording_check_reads_a_mismatch() -> None:
    assert _comparisons("pause over 3 s") == {("min_duration_s", ">", 3.0)}
    assert _comparisons("sustained VT (30 s or more)") == {("min_duration_s", ">=", 30.0)}
    assert _comparisons("heart rate under 35 bpm") == {("max_rate_bpm", "<", 35.0)}
