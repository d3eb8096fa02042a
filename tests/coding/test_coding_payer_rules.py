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
