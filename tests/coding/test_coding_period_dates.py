"""Dates of service of a monitoring period's lines (shared/reference/monitoring.md section 5, rule 4, and the
edge case "code/LCD change mid-period"): the hook-up on the first day, the technical part at the end of
monitoring or its documented early stop, the reading and the global service on the signature day, never
before that end; the codes and the indication list are those in force when the period completes. Before,
every line was dated at the start and the codes were looked up on the start."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from coding_builders import BASELINE, claim, facts, line_data

from ecgdesk.coding.schemas import claim_from_dict, claim_to_dict
from ecgdesk.coding.scrub import scrub
from ecgdesk.coding.selection import claim_for, select_codes
from ecgdesk.errors import InputError

START = "2024-08-01"
FULL_END = date(2024, 8, 30)  # 30 days
EARLY_STOP = date(2024, 8, 10)  # stopped once diagnosed (L34573)
SIGNED = date(2024, 9, 3)
EVENT_PARTS = ["recording", "interpretation"]  # the hook-up and the reading: 93270 + 93272
EVERYTHING = ["recording", "monitoring", "interpretation"]


Dated = list[tuple[str, date, date | None]]


def _dated(service: str, components: list[str], end: date, **changes: Any) -> Dated:
    period = facts(
        service=service,
        start=START,
        end=end.isoformat(),
        components=components,
        recorded_hours=None,
        **({"signed_on": SIGNED.isoformat()} | changes),
    )
    claim = claim_for(period, select_codes(period))
    # the claim reads back from its JSON (the coding record, a history claim) with the same dates
    assert claim_from_dict(claim_to_dict(claim)) == claim
    return [(line.code, line.date_of_service, line.period_end) for line in claim.lines]


@pytest.mark.parametrize("end", [FULL_END, EARLY_STOP], ids=["full", "stopped-early"])
@pytest.mark.parametrize(
    ("service", "components", "parts"),
    [
        ("event_monitor", EVENT_PARTS, {"93270": "hookup", "93272": "signed"}),
        ("event_monitor", ["monitoring"], {"93271": "end"}),
        ("event_monitor", EVERYTHING, {"93268": "signed"}),
        ("mobile_telemetry", EVERYTHING, {"93228": "signed", "93229": "end"}),
    ],
)
def test_each_line_of_a_period_is_dated_by_its_part(
    service: str, components: list[str], parts: dict[str, str], end: date
) -> None:
    day = {"hookup": date(2024, 8, 1), "end": end, "signed": SIGNED}
    expected = [(code, day[which], end) for code, which in parts.items()]
    assert _dated(service, components, end) == expected


def test_a_reading_without_its_signature_day_is_dated_at_the_end_and_never_before_it() -> None:
    assert _dated("event_monitor", EVENT_PARTS, EARLY_STOP, signed_on=None) == [
        ("93270", date(2024, 8, 1), EARLY_STOP),
        ("93272", EARLY_STOP, EARLY_STOP),  # the earliest day the reading may carry
    ]
    assert _dated("event_monitor", EVENT_PARTS, EARLY_STOP, signed_on="2024-08-10")[1][1] == EARLY_STOP
    with pytest.raises(InputError) as refused:  # signed before the monitoring ended (SE17023)
        _dated("mobile_telemetry", EVERYTHING, FULL_END, signed_on="2024-08-29")
    assert refused.value.field == "signed" and "2024-08-30" in refused.value.reason


def test_a_period_longer_than_30_days_completes_on_its_30th_day() -> None:
    assert _dated("mobile_telemetry", EVERYTHING, date(2024, 9, 14)) == [
        ("93228", SIGNED, FULL_END),
        ("93229", FULL_END, FULL_END),
    ]


def test_the_codes_in_force_when_the_period_completes_apply() -> None:
    """A period that began in December 2010 and ended in January 2011 is coded with 93268-93272, the codes of
    its completion date; before, its start picked the deleted 93012/93014."""
    period = facts(
        service="event_monitor",
        start="2010-12-20",
        end="2011-01-08",
        components=EVERYTHING,
        recorded_hours=None,
        signed_on="2011-01-10",
    )
    result = select_codes(period)
    assert [line.code for line in result.lines] == ["93268"]
    assert not any("before 2011" in s for s in result.explanations)
    claim = claim_for(period, result)
    assert [(line.date_of_service, line.period_end) for line in claim.lines] == [
        (date(2011, 1, 10), date(2011, 1, 8))
    ]
    hookup = facts(
        service="event_monitor",
        start="2010-12-20",
        end="2011-01-08",
        components=EVENT_PARTS,
        recorded_hours=None,
        signed_on="2011-01-10",
    )
    lines = claim_for(hookup, select_codes(hookup)).lines
    assert [(line.code, line.date_of_service) for line in lines] == [
        ("93270", date(2010, 12, 20)),
        ("93272", date(2011, 1, 10)),
    ]
    # ended in 2010: the 2010 codes still apply
    assert [line.code for line in select_codes(facts(
        service="event_monitor", start="2010-12-01", end="2010-12-30", components=EVERYTHING,
        recorded_hours=None,
    )).lines] == ["93012", "93014"]


def test_the_indication_list_in_force_when_the_period_completes_applies() -> None:
    """The illustrative AECG list takes effect on 2023-06-11: a period that completes after it is judged by
    it, even though it began before (before, the start date found no list and said nothing)."""
    period = facts(
        service="mobile_telemetry",
        start="2023-06-01",
        end="2023-06-20",
        components=EVERYTHING,
        recorded_hours=None,
        diagnoses=["M54.50"],
        signed_on="2023-06-21",
    )
    result = select_codes(period)
    assert "indication_list" in {f.rule for f in result.findings}
    found = [f.rule for f in scrub(claim_for(period, result), (), refdata=BASELINE)]
    assert found.count("indication_list") == 2  # 93228 and 93229, the hook-up line no exception


def test_a_period_line_is_judged_by_the_codes_of_its_completion_date() -> None:
    """93012 was deleted after 2010-12-31: its hook-up-day line of a period that completed in 2011 is refused
    (judged on the completion date, not on the line's own 2010 date)."""
    line = line_data("93012", "2010-12-20", period_end="2011-01-08")
    found = scrub(claim(line), (), refdata=BASELINE, rules=["code_valid_on_dos"])
    assert [(f.rule, f.carc) for f in found] == [("code_valid_on_dos", "181")]
    assert "2011-01-08" in found[0].message
    ended_in_2010 = line_data("93012", "2010-12-01", period_end="2010-12-30")
    assert not scrub(claim(ended_in_2010), (), refdata=BASELINE, rules=["code_valid_on_dos"])


def test_holter_and_patch_lines_keep_the_start_and_their_span() -> None:
    patch = facts(signed_on="2024-08-20")  # a 10-day patch, 240 h
    lines = claim_for(patch, select_codes(patch)).lines
    dated = [(line.code, line.date_of_service, line.date_of_service_end, line.period_end) for line in lines]
    assert dated == [("93245", date(2024, 8, 1), date(2024, 8, 11), None)]
