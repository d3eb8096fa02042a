"""835 posting of a payer's later payment on a claim of several lines it had denied: a supplemental
payment that pays some of the denied lines resolves only those (claims-lifecycle.md section 2: the
determination is the CLP, its lines are matched by REF*6R). The claim is a monitoring period's with
unattended hours, which bills the hook-up and the reading as two lines (93270, 93272). Every 835 is written
by the simulated payer's writer and passes pyx12 (005010X221A1) before it is posted."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from claims_workflow_builders import ACME, BILLING, add_people
from monitoring_builders import START, Strips, make_strips
from sqlalchemy import select
from workflow_builders import ORDERING_NPI, PIN

from ecgdesk.claims.model import ProfessionalClaim, ServiceLine
from ecgdesk.claims.payer_sim import write_835
from ecgdesk.claims.remit import Adjustment, RemitClaim, RemitLine
from ecgdesk.coding import Service
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.billing import code_study
from ecgdesk.workflow.claims_denials import list_denials
from ecgdesk.workflow.claims_inbound import post_remittance
from ecgdesk.workflow.claims_setup import CoverageSetup, add_clinician, add_coverage, add_payer, setup_billing
from ecgdesk.workflow.claims_views import show_claim
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_period import close_period
from ecgdesk.workflow.monitoring_queue import review
from ecgdesk.workflow.monitoring_roster import add_shift
from ecgdesk.workflow.reporting import interpret, report_study, sign

sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
from claims_builders import pyx12_errors
from remit_builders import ACME_PARTIES, _export

D = Decimal


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("remit-supplemental"))


def _two_line_claim(store: Store, strips: Strips, tmp_path: Path) -> ProfessionalClaim:
    """An event-monitor period of M9 with six unattended hours on its first night (so it bills 93270 and
    93272, not 93268), signed, coded and exported to Acme."""
    from datetime import UTC, datetime, timedelta

    add_people(store)
    setup_billing(store, BILLING, "admin")
    add_clinician(store, ORDERING_NPI, "Order", "Oliver", "", "admin")
    add_payer(store, ACME, "admin")
    request = EnrolmentRequest(
        "M9",
        "Roe, Rita",
        date(1950, 5, 6),
        "F",
        "DEV-6",
        Service.EVENT_MONITOR,
        START.date(),
        ORDERING_NPI,
        ("R00.2",),
    )
    info = enroll(store, request, "tech")
    add_coverage(
        store,
        CoverageSetup(
            "M9",
            "ACME1",
            "ACM123456789",
            "5 Elm St",
            "Springfield",
            "IL",
            "62702",
            effective_from=date(2020, 1, 1),
        ),
        "admin",
    )
    item = ingest_file(store, strips.normal, "DEV-6", "device").item_id
    assert item is not None
    review(store, item, "reviewed", "tech")
    day = datetime.combine(START.date(), datetime.min.time(), tzinfo=UTC)
    for n in range(3):
        begin = day + timedelta(days=n, hours=6 if n == 0 else 0)
        add_shift(store, begin, day + timedelta(days=n + 1), ["tech"], "dr.oncall", "admin")
    close_period(store, info.id, "tech", stopped_early_on=START.date() + timedelta(days=2))
    report_study(store, info.study_id, "tech")
    interpret(store, info.study_id, "dr.a", "Sinus rhythm throughout; no event.")
    sign(store, info.study_id, "dr.a", PIN)
    code_study(store, info.study_id, "biller")
    (claim,) = _export(store, tmp_path / "out", [info.study_id], "ACME1")
    assert [line.code for line in claim.lines] == ["93270", "93272"]
    return claim


def _line(billed: ServiceLine, paid: str, *adjustments: Adjustment) -> RemitLine:
    """The payer's SVC loop on one billed line (REF*6R echoed)."""
    return RemitLine(
        "HC",
        billed.code,
        billed.modifiers,
        billed.charge,
        D(paid),
        D(billed.units),
        None,
        (),
        billed.control,
        billed.date_from,
        billed.date_from,
        adjustments,
        (),
        None,
        0,
    )


def _answer(claim: ProfessionalClaim, status: str, *lines: RemitLine) -> RemitClaim:
    """One CLP on ``claim`` carrying ``lines`` (its charge theirs, as a supplemental payment's is)."""
    patient = sum((a.amount for line in lines for a in line.adjustments if a.group == "PR"), D(0))
    return RemitClaim(
        claim.claim_id,
        status,
        sum((line.charge for line in lines), D(0)),
        sum((line.paid for line in lines), D(0)),
        patient,
        "12",
        "2200000000077",
        (),
        lines,
        "ROE, RITA",
        None,
        (),
        claim.lines[0].date_from,
        None,
        0,
    )


def _post(store: Store, folder: Path, answer: RemitClaim, trace: str) -> dict:
    text = write_835([answer], ACME_PARTIES, trace, date.today())
    assert pyx12_errors(text, folder) == []
    path = folder / f"{trace}.835"
    path.write_text(text)
    return post_remittance(store, path, "biller").to_dict()


def test_a_supplemental_payment_of_one_denied_line_resolves_that_line_only(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    """Acme denies both lines (CO-50), then pays the hook-up alone in a later 835 (CLP02 1 carrying only
    that line: a supplemental payment). Only the paid line's denial is history (overturned, its item
    closed, audited); the reading stays denied, its amount a current denial and its item open. Before, every
    earlier denial of the payer was marked overturned, the reading's included."""
    claim = _two_line_claim(store, strips, tmp_path)
    hookup, reading = claim.lines
    denied = _answer(
        claim,
        "4",
        _line(hookup, "0", Adjustment("CO", "50", hookup.charge)),
        _line(reading, "0", Adjustment("CO", "50", reading.charge)),
    )
    _post(store, tmp_path, denied, "EFT-DENY2")
    items = {i.line: i for i in list_denials(store, "biller")}
    assert sorted(items) == [1, 2]
    allowed = hookup.charge - D("5.00")
    supplemental = _answer(
        claim,
        "1",
        _line(
            hookup,
            str(allowed - D("2.00")),
            Adjustment("CO", "45", D("5.00")),
            Adjustment("PR", "2", D("2.00")),
        ),
    )
    posted = _post(store, tmp_path, supplemental, "EFT-SUPP")
    assert posted["claims"][0]["status"] == "paid"
    detail = show_claim(store, claim.claim_id, "biller")
    assert (detail.balance["denied"], detail.balance["denied_overturned"]) == (
        f"{reading.charge:.2f}",
        f"{hookup.charge:.2f}",
    )
    assert detail.balance["insurance_balance"] == f"{reading.charge:.2f}"
    first, second = detail.lines
    assert (first["denial"], first["denial_overturned"]) == ("0.00", f"{hookup.charge:.2f}")
    assert (second["denial"], second["denial_overturned"]) == (f"{reading.charge:.2f}", "0.00")
    assert [a["kind"] for a in second["adjustments"]] == ["denial"]
    worked = {d.id: d for d in list_denials(store, "biller", status=None)}
    assert (worked[items[1].id].status, worked[items[1].id].worked_action) == ("closed", "overturned")
    assert worked[items[2].id].status == "open"
    assert sorted((i.line, i.category) for i in list_denials(store, "biller")) == [
        (1, "patient_responsibility"),
        (2, "necessity"),
    ]
    with store.transaction() as session:
        audited = session.scalars(
            select(AuditEntry.entity_id).where(AuditEntry.action == "denial:overturned")
        ).all()
    assert audited == [str(items[1].id)]
