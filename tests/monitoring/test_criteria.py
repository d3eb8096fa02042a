"""Signed notification criteria: a rule whose thresholds the triage never measures for its event is refused
when the physician signs it, rather than signed and silently never firing."""

from __future__ import annotations

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
