"""Two monitoring periods of one patient through the workflow (enrol, strips, review, close, sign, code,
claim): the 29-day rule (shared/reference/monitoring.md section 5 rule 1) judged on what the workflow
stores, not only on hand-made coding facts. A second period completing 29 days or more after the first
codes and scrubs clean; one completing within 29 days is flagged CARC 119 and its claim held. And a stored
coding record that coding now would change (older line dates, a component recorded since) is shown out of
date, refused by 'mark billed' and coded again when its claim is created."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from claims_workflow_builders import ACME, MEDICARE, add_people
from monitoring_builders import Strips, make_strips, restamp
from sqlalchemy import select
from workflow_builders import ORDERING_NPI, PIN, assert_pdf_carries_signatures

from ecgdesk.coding import Service
from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.store.claims_models import ClaimLineRow, ClaimRow
from ecgdesk.store.models import AuditEntry, Signature
from ecgdesk.store.monitoring_models import Enrolment
from ecgdesk.workflow.billing import CodingOutcome, code_study, latest_coding, mark_billed
from ecgdesk.workflow.billing_view import billing_view
from ecgdesk.workflow.claims import create_claim
from ecgdesk.workflow.claims_setup import (
    CoverageSetup,
    PayerSetup,
    add_clinician,
    add_coverage,
    add_payer,
    setup_billing,
)
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_period import close_period
from ecgdesk.workflow.monitoring_queue import review
from ecgdesk.workflow.monitoring_roster import add_shift
from ecgdesk.workflow.reporting import add_addendum, interpret, report_study, sign
from ecgdesk.workflow.studies import record_component

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


def _coverage(store: Store, payer: PayerSetup = MEDICARE) -> None:
    """Coverage of M5 by ``payer`` (the patient exists once enrolled)."""
    if payer is not MEDICARE:
        add_payer(store, payer, "admin")
    add_coverage(
        store,
        CoverageSetup("M5", payer.payer_id, "1EG4TE5MK75", "5 Elm St", "Springfield", "IL", "62702",
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


def _as_older_rules_wrote_it(store: Store, study_id: int) -> None:
    """The study's coding record as coding wrote a period before its lines were dated part by part: the
    global line dated at the start of monitoring, the period's end as the line's span, no ``period_end``."""
    with store.transaction() as session:
        record = latest_coding(session, study_id)
        assert record is not None
        claim = json.loads(record.claim_json)
        (line,) = claim["lines"]
        line.update(date_of_service=FIRST_START.isoformat(), date_of_service_end=FIRST_END.isoformat())
        line.pop("period_end", None)
        record.claim_json = json.dumps(claim)


def test_a_coding_record_with_older_line_dates_is_shown_out_of_date_and_coded_again_by_the_claim(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    """Coding records are never rewritten, so one written by an older rule kept the global service dated
    at the start of monitoring with the period as its span, and billing built the claim from it. Before, the
    billing page showed it as current, 'mark billed' accepted it, and the claim for a payer dating by the
    start put 2026-08-01 on the line (rule 4: the signed read, 2026-09-02) and was held past the 90-day
    filing limit on 15 November. Now the page says why the coding is out of date, 'mark billed' refuses it,
    and creating the claim codes the study again first (audited) and says so."""
    _setup(store)
    study_id, coded = _period(store, strips.normal, "DEV-54", FIRST_START, None, tmp_path, FIRST_SIGNED)
    _coverage(store, ACME)  # dates a line with a span by its start
    assert billing_view(store, study_id, "biller").stale == []  # coded just now: current
    _as_older_rules_wrote_it(store, study_id)
    stale = billing_view(store, study_id, "biller").stale
    assert stale == [
        "93268's date of service is now 2026-09-02 (coded as 2026-08-01)",
        "93268's end of service is now none (coded as 2026-08-30)",
        "93268's period end is now 2026-08-30 (coded as none)",
    ]
    with pytest.raises(InputError) as refused:
        mark_billed(store, study_id, "biller", "BATCH-1")
    assert refused.value.field == "coding" and "code it again" in str(refused.value)

    made = create_claim(store, study_id, "biller", today=date(2026, 11, 15))
    assert (made.recoded, made.errors, made.status) == (tuple(stale), [], "scrubbed")
    with store.transaction() as session:
        dates = session.execute(
            select(ClaimLineRow.code, ClaimLineRow.date_from)
            .join(ClaimRow)
            .where(ClaimRow.study_id == study_id)
        ).all()
        recode = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "coding:code", AuditEntry.entity_id == str(study_id))
            .order_by(AuditEntry.seq)
        ).all()
    assert [tuple(row) for row in dates] == [("93268", FIRST_SIGNED)]
    assert len(recode) == 2 and json.loads(recode[-1].after_json)["replaces_stale"] == list(stale)
    assert billing_view(store, study_id, "biller").stale == []
    assert [line.code for line in coded.claim.lines] == ["93268"]


def test_a_component_recorded_after_coding_makes_the_coding_out_of_date(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    _setup(store)
    study_id, _ = _period(store, strips.normal, "DEV-55", FIRST_START, None, tmp_path, FIRST_SIGNED)
    record_component(store, study_id, "supervision", "Ana Lee, MD", None, "biller")
    (why,) = billing_view(store, study_id, "biller").stale
    assert why == "the study's facts changed since it was coded: components"
    code_study(store, study_id, "biller")
    assert billing_view(store, study_id, "biller").stale == []


def test_an_addendum_leaves_the_read_s_date_of_service_where_it_was(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    """The professional and global lines are dated on the day the read was done (rule 4; Transmittal
    1873), which an addendum written later does not move. Before, coding took the signature of the latest
    report version, the addendum's: coding the period again after an addendum dated 93268 on the
    addendum's day, and (with the out-of-date check) the claim would have been coded again onto it."""
    _setup(store)
    study_id, coded = _period(store, strips.normal, "DEV-56", FIRST_START, None, tmp_path, FIRST_SIGNED)
    _coverage(store, ACME)
    amended = add_addendum(
        store, study_id, "dr.a", PIN, "Addendum: the strip of 2 August reviewed again, no change."
    )
    read_at = datetime.combine(FIRST_SIGNED, datetime.min.time(), tzinfo=UTC) + timedelta(hours=15)
    assert_pdf_carries_signatures(  # 21 CFR 11.50: the read's signature too, not only the addendum's
        amended.pdf_path,
        [
            ("Interpreted by", "Ana Lee, MD", amended.version - 1, read_at),
            ("Addendum by", "Ana Lee, MD", amended.version, amended.signed_at),
        ],
    )
    assert billing_view(store, study_id, "biller").stale == []
    again = code_study(store, study_id, "biller")
    assert [(x.code, x.date_of_service) for x in again.claim.lines] == [("93268", FIRST_SIGNED)]
    assert again.facts.signed_on == FIRST_SIGNED == coded.facts.signed_on
    made = create_claim(store, study_id, "biller", today=date(2026, 11, 15))
    assert (made.recoded, made.status) == ((), "scrubbed")
    with store.transaction() as session:
        (day,) = session.scalars(
            select(ClaimLineRow.date_from).join(ClaimRow).where(ClaimRow.study_id == study_id)
        ).all()
    assert day == FIRST_SIGNED


def test_a_coding_the_study_no_longer_allows_is_shown_out_of_date_with_why_not_refused(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    """A period whose dates were corrected after coding so that the read (2 September) now precedes its end
    (8 September) cannot be coded again. The billing page still opens and says why; the claim is refused
    with the same reason, and nothing is stored."""
    _setup(store)
    study_id, _ = _period(store, strips.normal, "DEV-57", FIRST_START, None, tmp_path, FIRST_SIGNED)
    _coverage(store, ACME)
    with store.transaction() as session:
        enrolment = session.scalar(select(Enrolment).where(Enrolment.study_id == study_id))
        assert enrolment is not None
        enrolment.start_date = date(2026, 8, 10)
    (why,) = billing_view(store, study_id, "biller").stale
    assert why.startswith("coding the study now fails") and "before the end of monitoring" in why
    with pytest.raises(InputError, match="before the end of monitoring"):
        create_claim(store, study_id, "biller", today=date(2026, 11, 15))
    with store.transaction() as session:
        assert session.scalars(select(ClaimRow)).all() == []
