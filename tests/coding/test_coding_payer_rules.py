"""Payer rule sets applied to monitoring claims: frequency limits count sets, not the parts of one set."""

from __future__ import annotations

from datetime import date

import pytest

from ecgdesk.coding.facts import Claim, ClaimLine, Setting
from ecgdesk.coding.payer_rules import payer_findings, payer_rules

TODAY = date(2024, 9, 1)


def _claim(code: str, day: date, provider: str = "1234567893") -> Claim:
    return Claim(Setting.PRACTITIONER, "11", (ClaimLine(code, day),), ("R00.2",), provider_id=provider)


@pytest.mark.parametrize(
    ("rules", "earlier", "later"),
    [
        # the medicare-mac convention dates the hook-up at the start and the reading at the review
        ("medicare-mac", _claim("93242", date(2024, 8, 1)), _claim("93244", date(2024, 8, 8))),
        # IDTF scans, another physician reads (coding.md 2.1: IDTF 93226 + physician 93227)
        ("medicare-mac", _claim("93226", date(2024, 8, 1), "IDTF"), _claim("93227", date(2024, 8, 3))),
        ("commercial-default", _claim("93229", date(2024, 8, 1)), _claim("93228", date(2024, 8, 15))),
    ],
)
def test_parts_of_one_monitoring_set_are_not_a_second_period(
    rules: str, earlier: Claim, later: Claim
) -> None:
    found = payer_findings(later, payer_rules(rules), TODAY, history=[earlier], authorization="A1")
    assert "frequency_limit" not in [f.rule for f in found]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (_claim("93244", date(2024, 8, 1)), _claim("93244", date(2024, 8, 20))),  # the same part twice
        (_claim("93224", date(2024, 8, 1)), _claim("93227", date(2024, 8, 20))),  # global, then a part
        (_claim("93224", date(2024, 8, 1)), _claim("93268", date(2024, 8, 20))),  # another family
    ],
)
def test_a_second_set_within_30_days_is_still_limited(earlier: Claim, later: Claim) -> None:
    found = payer_findings(later, payer_rules("medicare-mac"), TODAY, history=[earlier])
    assert [f.rule for f in found] == ["frequency_limit"]


def _period(code: str, day: date, end: date) -> Claim:
    line = ClaimLine(code, day, period_end=end)
    return Claim(Setting.PRACTITIONER, "11", (line,), ("R00.2",), provider_id="1234567893")


@pytest.mark.parametrize(("completed", "limited"), [(date(2024, 8, 2), False), (date(2024, 8, 1), True)])
def test_medicare_counts_sets_by_the_day_they_completed(completed: date, limited: bool) -> None:
    """Noridian (monitoring.md section 5 rule 1): a period stopped early on 2024-07-04, its read signed on
    07-08; a second one begun on 07-20 and read on the day it ended. Completing 29 days after the first is
    fine, 28 is not; before, the reading days (25 or 24 days apart) were compared, and 30 days were asked."""
    earlier = _period("93272", date(2024, 7, 8), date(2024, 7, 4))
    later = _period("93272", completed, completed)
    found = payer_findings(later, payer_rules("medicare-mac"), TODAY, [earlier])
    assert ("frequency_limit" in [f.rule for f in found]) is limited
