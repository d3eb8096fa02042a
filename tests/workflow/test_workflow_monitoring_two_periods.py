"""Two monitoring periods of one patient through the workflow (enrol, strips, review, close, sign, code,
claim): the 29-day rule (shared/reference/monitoring.md section 5 rule 1) judged on what the workflow
stores, not only on hand-made coding facts. A second period completing 29 days or more after the first
codes and scrubs clean; one completing within 29 days is flagged CARC 119 and its claim held."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from claims_workflow_builders import MEDICARE, add_people
from monitoring_builders import Strips, make_strips, restamp
from sqlalchemy import select
from workflow_builders import ORDERING_NPI, PIN

from ecgdesk.coding import Service
from ecgdesk.store import Store
from ecgdesk.store.models import Signature
from ecgdesk.workflow.billing import CodingOutcome, code_study
from ecgdesk.workflow.claims import create_claim
from ecgdesk.workflow.claims_setup import CoverageSetup, add_clinician, add_coverage, add_payer, setup_billing
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_period import close_period
from ecgdesk.workflow.monitoring_queue import add_shift, review
from ecgdesk.workflow.reporting import interpret, report_study, sign

FIRST_START = date(2026, 8, 1)  # a full 30-day period: 1-30 August
FIRST_END = date(2026, 8, 30)
FIRST_SIGNED = date(2026, 9, 2)  # the first period's read, signed three days after it ended


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("two-periods"))


def _setup(store: Store) -> None:
    from claims_workflow_builders import BILLING

    add_people(store)
    setup_billing(store, BILLING, "admin")
    add_clinician(store, ORDERING_NPI, "Order", "Oliver", "", "admin")
    add_payer(store, MEDICARE, "admin")


def _coverage(store: Store) -> None:
    """Medicare coverage of M5 (the patient exists once enrolled)."""
    add_coverage(
        store,
        CoverageSetup("M5", MEDICARE.payer_id, "1EG4TE5MK75", "5 Elm St", "Springfield", "IL", "62702",
                      effective_from=date(2020, 1, 1)),
        "admin",
    )


def _period(
    store: Store,
    strip: Path,
    device: str,
    start: date,
    stopped_early_on: date | None,
    folder: Path,
    signed_on: date | None = None,
) -> tuple[int, CodingOutcome]:
    """One period of patient M5: enrolled, a strip recorded on its second day (sent an hour later), reviewed,
    attended round the clock, closed, read, signed and coded as the CLI and API do. ``signed_on``: the day
    the read was signed when not today (the signature's time is moved there: signing takes no clock)."""
    request = EnrolmentRequest(
        "M5", "Roe, Rita", date(1950, 5, 6), "F", device, Service.EVENT_MONITOR, start, ORDERING_NPI,
        ("R00.2",),
    )
    info = enroll(store, request, "tech")
    recorded = datetime.combine(start + timedelta(days=1), datetime.min.time()) + timedelta(hours=10)
    stamped = restamp(strip, recorded, folder, f"strip-{start:%Y%m%d}")
    arrived = recorded.replace(tzinfo=UTC) + timedelta(hours=1)
    item = ingest_file(store, stamped, device, "device", received_at=arrived)
    assert item.enrolment_id == info.id and not item.flag and item.item_id
    review(store, item.item_id, "reviewed", "tech")
    end = stopped_early_on or start + timedelta(days=29)
    day = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    for n in range((end - start).days + 1):
        add_shift(store, day + timedelta(days=n), day + timedelta(days=n + 1), ["tech"], "dr.oncall", "admin")
    closed = close_period(store, info.id, "tech", stopped_early_on=stopped_early_on)
    assert (closed.end, closed.coverage_gaps) == (end.isoformat(), 0)
    report_study(store, info.study_id, "tech")
    interpret(store, info.study_id, "dr.a", "Sinus rhythm throughout.")
    sign(store, info.study_id, "dr.a", PIN)
    if signed_on is not None:
        with store.transaction() as session:
            signature = session.scalar(select(Signature).where(Signature.study_id == info.study_id))
            assert signature is not None
            signature.signed_at = datetime.combine(signed_on, datetime.min.time(), tzinfo=UTC) + timedelta(
                hours=15
            )
    return info.study_id, code_study(store, info.study_id, "biller")


@pytest.mark.parametrize(
    ("second_start", "second_stop", "apart"),
    [
        (date(2026, 8, 31), None, 30),  # back to back, both full: the second completes 30 days later
        (date(2026, 8, 31), date(2026, 9, 28), 29),  # stopped early exactly 29 days after: still fine
    ],
)
def test_a_second_period_completing_29_days_or_more_after_the_first_codes_clean(
    store: Store, strips: Strips, tmp_path: Path, second_start: date, second_stop: date | None, apart: int
) -> None:
    _setup(store)
    first_id, first = _period(store, strips.normal, "DEV-51", FIRST_START, None, tmp_path, FIRST_SIGNED)
    _coverage(store)
    assert [(line.code, line.date_of_service, line.period_end) for line in first.claim.lines] == [
        ("93268", FIRST_SIGNED, FIRST_END)
    ]
    second_id, second = _period(store, strips.normal, "DEV-51", second_start, second_stop, tmp_path)
    (line,) = second.claim.lines
    assert line.code == "93268" and (line.period_end - FIRST_END).days == apart
    assert not [f for f in second.findings if f.rule.startswith("monitoring_")]
    for study_id in (first_id, second_id):
        claim = create_claim(store, study_id, "biller", today=date(2026, 12, 7))
        assert claim.errors == [] and claim.status == "scrubbed"


@pytest.mark.parametrize("first_signed", [FIRST_SIGNED, None], ids=["signed-apart", "signed-same-day"])
def test_a_second_period_completing_within_29_days_of_the_first_is_flagged_119_and_held(
    store: Store, strips: Strips, tmp_path: Path, first_signed: date | None
) -> None:
    """Begun the day after a full period ended and stopped early on its 28th day: it completes 28 days
    after the first, so Medicare denies it as a second set in the period (CARC 119). Both reads signed on
    the same day (a backlog) is no resubmission of the first: before, the scrubber called it a duplicate
    of the first claim (CARC 18, 'correct the earlier claim instead'), since both lines carry that day."""
    _setup(store)
    first_id, _ = _period(store, strips.normal, "DEV-52", FIRST_START, None, tmp_path, first_signed)
    _coverage(store)
    second_id, second = _period(
        store, strips.normal, "DEV-53", date(2026, 8, 31), date(2026, 9, 27), tmp_path
    )
    (finding,) = [f for f in second.findings if f.rule.startswith("monitoring_")]
    assert (finding.rule, finding.carc, finding.code) == ("monitoring_period", "119", "93268")
    assert "2026-09-27" in finding.message and "28 days" in finding.message
    first = create_claim(store, first_id, "biller", today=date(2026, 12, 7))
    assert first.status == "scrubbed"
    held = create_claim(store, second_id, "biller", today=date(2026, 12, 7))
    assert held.status == "created" and any("second set in the period" in e for e in held.errors)
