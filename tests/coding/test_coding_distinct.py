"""A study marked a distinct service (59 / X{EPSU}): the modifier goes on the line a PTP pair with
indicator 1 bundles, and only there (reference coding.md 2.4, 2.7)."""

from __future__ import annotations

import pytest
from coding_builders import VALID_NPI, claim, facts, line_data

from ecgdesk.coding import claim_for, scrub, select_codes
from ecgdesk.coding.distinct import apply_distinct
from ecgdesk.coding.facts import Claim
from ecgdesk.coding.results import CodingResult
from ecgdesk.errors import InputError

HOLTER = claim(line_data("93224", recorded_hours=24.0), claim_id="H1")


def _coded(modifier: str, history: tuple[Claim, ...], **changes: object) -> tuple[CodingResult, Claim]:
    f = facts(distinct_modifier=modifier, provider_id=VALID_NPI, **changes)
    first = select_codes(f)
    result = apply_distinct(modifier, first, claim_for(f, first), history)
    return result, claim_for(f, result)


ECG = {
    "service": "resting_ecg",
    "end": None,
    "recorded_hours": None,
    "components": ["recording", "interpretation"],
}


def test_the_ecg_at_a_holter_hook_up_gets_the_modifier_and_scrubs_clean() -> None:
    result, ecg = _coded("XU", (HOLTER,), **ECG)
    assert [(x.code, x.modifiers) for x in ecg.lines] == [("93000", ("XU",))]
    assert any("modifier XU" in e and "93224" in e for e in result.explanations)
    assert [f for f in scrub(ecg, (HOLTER,)) if f.rule in ("ptp_history", "distinct_modifier")] == []
    # another provider's Holter binds nothing: no modifier, and the mark is said to have done nothing
    other = claim(line_data("93224", recorded_hours=24.0), provider_id="1245319599")
    result, ecg = _coded("59", (other,), **ECG)
    assert [x.modifiers for x in ecg.lines] == [()]
    assert [f.rule for f in result.findings if f.rule == "distinct_mark"] == ["distinct_mark"]


def test_only_the_bundled_line_gets_it_and_never_over_an_indicator_0_edit() -> None:
    ecg = claim(line_data("93000"))
    result, holter = _coded("XU", (ecg,), end="2024-08-02", recorded_hours=24.0)
    assert [(x.code, x.modifiers) for x in holter.lines] == [("93224", ())]  # column 1: nothing to bypass
    assert any(f.rule == "distinct_mark" for f in result.findings)
    extended = claim(line_data("93241", recorded_hours=100.0))
    result, holter = _coded("XU", (extended,), end="2024-08-02", recorded_hours=24.0)
    assert [x.modifiers for x in holter.lines] == [()]
    (finding,) = [f for f in result.findings if f.rule == "distinct_mark"]
    assert "indicator-0" in finding.message and finding.code == "93224"
    # and a 59 put there by hand is still refused by the scrubber (CARC 236)
    by_hand = claim(line_data("93241", modifiers=["59"], recorded_hours=100.0))
    assert [f.carc for f in scrub(by_hand, (HOLTER,)) if f.rule == "ptp_history"] == ["236"]


def test_the_facts_field_takes_only_the_distinct_modifiers() -> None:
    assert facts(distinct_modifier="XS").distinct_modifier == "XS"
    with pytest.raises(InputError) as info:
        facts(distinct_modifier="25")
    assert info.value.field == "distinct_modifier"
