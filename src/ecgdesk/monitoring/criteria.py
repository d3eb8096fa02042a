"""A patient's notification criteria: rules in tiers (emergent, urgent, routine), versioned and signed.

A rule names a rhythm event (``vf``, ``vt``, ``pause``, ``avb``, ``svt_af``, ``rate``) and the thresholds
that make it match (``min_duration_s``, ``min_rate_bpm``, ``max_rate_bpm``); a threshold the triage never
measures for the event (a duration of a heart rate, a rate of fibrillation) is refused, since the rule
would never fire. The defaults
(``data/default_criteria.json``) are a starting point the ordering physician confirms; a signed version is
never edited, a change is a new signed version, and one that lowers an emergent criterion (drops it, moves
it to a lower tier, or makes it match less) must say so explicitly.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

from ecgdesk.errors import InputError

EVENTS = ("vf", "vt", "pause", "avb", "svt_af", "rate")
_THRESHOLDS = ("min_duration_s", "min_rate_bpm", "max_rate_bpm")
#: Thresholds the triage never measures for an event (``monitoring/triage.py``, ``strip_events.py``).
_NEVER_MEASURED = {"rate": ("min_duration_s",), "vf": ("min_rate_bpm", "max_rate_bpm")}
_NEVER_MEASURED_WHY = {
    "rate": "a heart rate event has no duration (the rate is the strip's 8-beat mean, lowest and highest): "
    "give the rate alone, or a vt / svt_af / pause rule for a sustained rhythm",
    "vf": "VF has no rate the triage can always count (the strip classifier's VF carries none), so a rate "
    "limit would let fibrillation pass: give min_duration_s at most",
}


class Tier(enum.StrEnum):
    EMERGENT = "emergent"
    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        return {Tier.EMERGENT: 0, Tier.URGENT: 1, Tier.ROUTINE: 2}[self]


@dataclass(frozen=True)
class Rule:
    id: str
    tier: Tier
    event: str
    text: str
    min_duration_s: float | None = None
    min_rate_bpm: float | None = None
    max_rate_bpm: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, Tier) else v) for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Criteria:
    rules: tuple[Rule, ...]
    source: str  # "default 2026-12-04" or "signed version 3"

    def to_dict(self) -> dict[str, Any]:
        return {"rules": [r.to_dict() for r in self.rules]}


def _number(value: Any, field: str, source: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100_000:
        raise InputError(field, f"expected a number from 0 to 100000, got {value!r}", source)
    return float(value)


def parse_criteria(document: Any, source: str = "criteria") -> Criteria:
    """Criteria from their JSON form (``{"rules": [...]}``), every field checked and named in errors."""
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise InputError("rules", "expected an object with a list 'rules'", source)
    rules: list[Rule] = []
    seen: set[str] = set()
    for n, raw in enumerate(document["rules"]):
        where = f"rules[{n}]"
        if not isinstance(raw, dict):
            raise InputError(where, "expected an object", source)
        unknown = set(raw) - {"id", "tier", "event", "text", *_THRESHOLDS}
        if unknown:
            raise InputError(f"{where}.{sorted(unknown)[0]}", "unknown field", source)
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not rule_id.strip() or len(rule_id) > 40:
            raise InputError(f"{where}.id", f"expected a short name, got {rule_id!r}", source)
        if rule_id in seen:
            raise InputError(f"{where}.id", f"{rule_id!r} appears twice", source)
        seen.add(rule_id)
        try:
            tier = Tier(str(raw.get("tier")))
        except ValueError:
            raise InputError(
                f"{where}.tier", f"expected one of {', '.join(Tier)}, got {raw.get('tier')!r}", source
            ) from None
        if raw.get("event") not in EVENTS:
            raise InputError(
                f"{where}.event", f"expected one of {', '.join(EVENTS)}, got {raw.get('event')!r}", source
            )
        thresholds = {k: _number(raw.get(k), f"{where}.{k}", source) for k in _THRESHOLDS}
        for name in _NEVER_MEASURED.get(raw["event"], ()):
            if thresholds[name] is not None:
                # signed, such a rule would never fire, and the physician would believe it guards the patient
                raise InputError(f"{where}.{name}", _NEVER_MEASURED_WHY[raw["event"]], source)
        if (
            raw["event"] == "rate"
            and thresholds["min_rate_bpm"] is None
            and thresholds["max_rate_bpm"] is None
        ):
            raise InputError(where, "a rate rule needs min_rate_bpm or max_rate_bpm", source)
        text = raw.get("text") or rule_id
        if not isinstance(text, str):
            raise InputError(f"{where}.text", "expected text", source)
        rules.append(Rule(rule_id, tier, raw["event"], text, **thresholds))
    if not rules:
        raise InputError("rules", "at least one rule is needed", source)
    return Criteria(tuple(rules), source)


@cache
def _default_document() -> dict[str, Any]:
    text = resources.files("ecgdesk.monitoring").joinpath("data/default_criteria.json").read_text("utf-8")
    return dict(json.loads(text))


def default_criteria() -> Criteria:
    document = _default_document()
    return parse_criteria(document, f"default {document['version']}")


def _weaker(old: Rule, new: Rule) -> bool:
    """Whether ``new`` matches in fewer cases than ``old`` (a longer minimum, a stricter rate limit)."""
    if new.event != old.event:
        return True
    if (new.min_duration_s or 0) > (old.min_duration_s or 0):
        return True
    if (new.min_rate_bpm or 0) > (old.min_rate_bpm or 0):
        return True
    old_max = old.max_rate_bpm if old.max_rate_bpm is not None else float("inf")
    new_max = new.max_rate_bpm if new.max_rate_bpm is not None else float("inf")
    return new_max < old_max


def lowered_emergent(old: Criteria, new: Criteria) -> list[str]:
    """Emergent rules of ``old`` that ``new`` drops, moves down a tier or makes match less, in words."""
    by_id = {rule.id: rule for rule in new.rules}
    lowered = []
    for rule in old.rules:
        if rule.tier is not Tier.EMERGENT:
            continue
        replacement = by_id.get(rule.id)
        if replacement is None:
            lowered.append(f"{rule.id} ({rule.text}) removed")
        elif replacement.tier is not Tier.EMERGENT:
            lowered.append(f"{rule.id} ({rule.text}) moved to {replacement.tier.value}")
        elif _weaker(rule, replacement):
            lowered.append(f"{rule.id} ({rule.text}) made to match less")
    return lowered
