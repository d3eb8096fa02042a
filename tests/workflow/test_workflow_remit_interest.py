"""835 posting of what payers add to or take from a claim beyond its charge and CAS: claim interest (AMT*I,
Medicare prompt-pay interest), the late filing penalty (CARC B4), and a payment after the biller wrote the
denial off. Every 835 is written by the simulated payer's writer and passes pyx12 (005010X221A1) before it
is posted (claims-lifecycle.md section 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("ecgdesk.reports.scanning")

from remit_builders import (
    ACME_PARTIES,
    MEDICARE_PARTIES,
    D,
    _export,
    _paid,
    _post,
    remit_store,
    remit_template,
)
from workflow_builders import tiny_record  # noqa: F401

from backends import BACKENDS
from ecgdesk.claims.grammar import X12ValidationError
from ecgdesk.claims.payer_sim import reverse, write_835
from ecgdesk.claims.remit import Adjustment, read_remittances
from ecgdesk.errors import InputError
from ecgdesk.service.web import ENV
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.claims_denials import list_denials, work_denial
from ecgdesk.workflow.claims_schemas import ClaimDetailOut
from ecgdesk.workflow.claims_views import ar_aging, patient_balance, show_claim


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    return remit_template(tmp_path_factory, tiny_record)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[Store]:
    yield from remit_store(request.param, tmp_path, template)


from claims_builders import pyx12_errors  # noqa: E402  (remit_builders put tests/claims on the path)


def test_claim_interest_is_income_not_a_payment_of_the_charge(store: Store, tmp_path: Path) -> None:
    """Medicare pays the claim late and adds prompt-pay interest at claim level (2100 AMT*I 1.23, no
    offsetting CAS): CLP04 = charge - adjustments + interest. Until 2026-12-07 the file was refused whole
    as unbalanced. Now it posts: the claim is paid, the interest is booked apart (with the audit row of
    the posting), the claim is not overpaid (no refund item) and the patient's balance is the coinsurance
    alone; its reversal takes the interest back too. A wrong AMT*I still fails the claim's balancing,
    naming the interest."""
    (claim,) = _export(store, tmp_path / "out", [1], "12345")
    priced = _paid(claim, "57.52", Adjustment("CO", "45", D("71.90")), Adjustment("PR", "2", D("14.38")))
    late = replace(priced, paid=D("58.75"), interest=D("1.23"))
    text = write_835([late], MEDICARE_PARTIES, "EFT-INT", date.today())
    assert "AMT*I*1.23~" in text
    with pytest.raises(X12ValidationError, match=r"\+ interest 1.24 \(AMT\*I\)"):
        read_remittances(tmp_path / "bad.835", text=text.replace("AMT*I*1.23", "AMT*I*1.24"))
    # a TA1 before the 835's group is not dropped by posting: refused, pointing to `claims ack`
    with_ta1 = text.replace("~\nGS*", "~\nTA1*000000001*260101*0000*A*000~\nGS*", 1)
    with pytest.raises(X12ValidationError, match=r"'segment 2 TA1': .* applied with `claims ack`"):
        read_remittances(tmp_path / "ta1.835", text=with_ta1)
    posted = _post(store, tmp_path, [late], "EFT-INT", MEDICARE_PARTIES)
    (answer,) = posted["claims"]
    assert (answer["status"], answer["paid"], answer["interest"]) == ("paid", "58.75", "1.23")
    shown = show_claim(store, claim.claim_id, "biller")
    assert (shown.balance["paid"], shown.balance["interest"]) == ("57.52", "1.23")
    assert (shown.balance["insurance_balance"], shown.balance["patient_balance"]) == ("0.00", "14.38")
    assert ClaimDetailOut.model_validate(shown.to_dict()).balance["interest"] == "1.23"  # the API's shape
    page = ENV.get_template("_claims_panel.html.j2").render(claims=[shown], clp_names={}, soon="", studies={})
    assert 'data-testid="interest">$1.23<' in page
    items = list_denials(store, "biller")
    assert [(i.category, i.amount) for i in items] == [("patient_responsibility", "14.38")]
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    assert patient_balance(store, "P1")["patient_balance"] == "14.38"
    with store.transaction() as session:
        moves = session.scalars(select(AuditEntry.after_json).where(AuditEntry.action == "claim:remit")).all()
    moved = [json.loads(m) for m in moves]
    assert [(m["status"], m["paid"], m["interest"]) for m in moved] == [("paid", "58.75", "1.23")]

    _post(store, tmp_path, [reverse(late)], "EFT-INT-REV", MEDICARE_PARTIES)
    undone = show_claim(store, claim.claim_id, "biller").balance
    assert (undone["paid"], undone["interest"], undone["insurance_balance"]) == ("0.00", "0.00", "143.80")


def test_a_late_filing_penalty_is_written_off_or_appealed_never_billed(store: Store, tmp_path: Path) -> None:
    """The payer pays the claim less a late filing penalty (CO-B4 10.00). Until 2026-12-07 B4 was not in
    the denial rules: its item said "CARC B4 is not in the denial rules" and asked for an appeal. Now it is
    a timely filing item whose next action is the write-off, saying why; unlike CO-29 (no initial
    determination) it may be appealed with proof of timely filing, and it is never billed to the patient."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    answer = _paid(
        claim,
        "70.00",
        Adjustment("CO", "45", D("43.80")),
        Adjustment("CO", "B4", D("10.00")),
        Adjustment("PR", "2", D("20.00")),
    )
    assert _post(store, tmp_path, [answer], "EFT-B4", ACME_PARTIES)["claims"][0]["status"] == "partially_paid"
    (item,) = list_denials(store, "biller", category="timely_filing")
    assert (item.carc, item.amount, item.next_action) == ("B4", "10.00", "write_off")
    assert "late filing penalty" in item.reason and "not in the denial rules" not in item.reason
    assert "appeal" in item.actions and "bill_patient" not in item.actions
    with pytest.raises(InputError, match="never billed to the patient"):
        work_denial(store, item.id, "bill_patient", "biller")
    work_denial(store, item.id, "write_off", "biller")
    balance = show_claim(store, claim.claim_id, "biller").balance
    assert (balance["insurance_balance"], balance["patient_balance"]) == ("0.00", "20.00")


def test_a_denial_written_off_and_then_paid_says_it_was_paid(store: Store, tmp_path: Path) -> None:
    """The payer denies the claim (CO-50), the biller writes the denial off, and the payer pays it after
    all (reprocessing). The balances were right before (the write-off no longer counts), but the item
    still read worked / write_off, as if the money were given up; now it is closed as
    paid_after_write_off, naming the payment (audited). The payer's reversal of that payment makes the
    denial and its write-off current again: the item is worked / write_off once more."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    denied = _paid(claim, "0", Adjustment("CO", "50", claim.total_charge), status="4")
    _post(store, tmp_path, [denied], "EFT-DENY", ACME_PARTIES)
    (item,) = list_denials(store, "biller")
    work_denial(store, item.id, "write_off", "biller")
    paid = _paid(
        claim,
        "80.00",
        Adjustment("CO", "45", D("43.80")),
        Adjustment("PR", "2", D("20.00")),
        payer_claim_number="2200000000002",
    )
    _post(store, tmp_path, [paid], "EFT-LATE", ACME_PARTIES)
    balance = show_claim(store, claim.claim_id, "biller").balance
    assert (balance["insurance_balance"], balance["written_off"]) == ("0.00", "0.00")
    after = {i.id: i for i in list_denials(store, "biller", status=None)}[item.id]
    assert (after.status, after.worked_action) == ("closed", "paid_after_write_off")
    with store.transaction() as session:
        audited = session.scalars(
            select(AuditEntry.after_json).where(
                AuditEntry.entity == "denial_item",
                AuditEntry.entity_id == str(item.id),
                AuditEntry.action == "denial:overturned",
            )
        ).all()
    assert len(audited) == 1 and "paid by remittance" in json.loads(audited[0])["why"]

    _post(store, tmp_path, [reverse(paid)], "EFT-LATE-REV", ACME_PARTIES)
    again = {i.id: i for i in list_denials(store, "biller", status=None)}[item.id]
    assert (again.status, again.worked_action) == ("worked", "write_off")
    assert show_claim(store, claim.claim_id, "biller").balance["insurance_balance"] == "0.00"


def test_a_secondary_claim_after_claim_interest_bills_what_the_primary_paid_of_the_charge(
    store: Store, tmp_path: Path
) -> None:
    """Medicare pays late with interest (CLP04 58.75 = 57.52 + AMT*I 1.23) and the patient has a
    secondary plan: the secondary 837P's 2320 AMT*D is what Medicare paid of the charge (57.52, as its
    2430 SVD and CAS add up to the charge), not the 58.75 received with the interest. The file passes
    pyx12."""
    from ecgdesk.workflow.claims_export import export_claims
    from ecgdesk.workflow.claims_setup import CoverageSetup, add_coverage

    setup = CoverageSetup(
        "P1", "ACME1", "ACM55501", "5 Elm St", "Springfield", "IL", "62702", priority="secondary",
        group_number="GRP77", effective_from=date(2020, 1, 1),
    )  # fmt: skip
    add_coverage(store, setup, "admin")
    (claim,) = _export(store, tmp_path / "out", [1], "12345")
    priced = _paid(claim, "57.52", Adjustment("CO", "45", D("71.90")), Adjustment("PR", "2", D("14.38")))
    _post(store, tmp_path, [replace(priced, paid=D("58.75"), interest=D("1.23"))], "EFT-I", MEDICARE_PARTIES)
    (item,) = list_denials(store, "biller", claim=claim.claim_id)
    worked = work_denial(store, item.id, "bill_secondary", "biller")
    assert worked.new_claim and show_claim(store, worked.new_claim, "biller").summary.status == "scrubbed"
    (exported,) = export_claims(store, tmp_path / "sec", "biller", payer="ACME1")
    text = exported.path.read_text()
    assert pyx12_errors(text, tmp_path) == []
    segments = [s.strip().split("*") for s in text.split("~") if s.strip()]
    assert ["AMT", "D", "57.52"] in segments and ["AMT", "D", "58.75"] not in segments


def _ledger_sums(store: Store, claim_id: str) -> dict[str, int]:
    """The claim's ledger rows summed by kind, in cents, read from the table itself (not through balances)."""
    from ecgdesk.store.claims_models import ClaimRow, LedgerRow

    with store.transaction() as session:
        row_id = session.scalars(select(ClaimRow.id).where(ClaimRow.claim_number == claim_id)).one()
        rows = session.execute(
            select(LedgerRow.kind, LedgerRow.amount_cents).where(LedgerRow.claim_id == row_id)
        )
        sums: dict[str, int] = {}
        for kind, amount in rows:
            sums[kind] = sums.get(kind, 0) + amount
    return sums


@pytest.mark.parametrize(("icn", "back"), [("same", "refund"), ("another", "reversal"), ("same", "reversal")])
def test_a_duplicate_payment_with_interest_is_given_back_whole(
    store: Store, tmp_path: Path, icn: str, back: str
) -> None:
    """Medicare pays the claim late with interest (58.75 = 57.52 + AMT*I 1.23) and sends the same claim
    payment again under another trace (the same CLP07, or another ICN). The practice received 58.75 twice and
    earned it once: the overpayment item asks back the whole 58.75 (until 2026-12-07 it asked 57.52 and the
    duplicated 1.23 stayed as interest for good). The money goes back by the biller's refund or by the
    payer's reversal (CLP02 22) of the duplicate; either leaves the claim paid 57.52 with interest 1.23, its
    coinsurance owed, and the ledger summed by hand reconciling with the claim's and the patient's balances.
    Until 2026-12-07 the reversal of a duplicate undid the determination the other payment still stands on:
    the claim `reversed`, 71.90 open A/R beside a standing payment, the coinsurance item closed."""
    (claim,) = _export(store, tmp_path / "out", [1], "12345")
    priced = _paid(claim, "57.52", Adjustment("CO", "45", D("71.90")), Adjustment("PR", "2", D("14.38")))
    late = replace(priced, paid=D("58.75"), interest=D("1.23"))
    _post(store, tmp_path, [late], "EFT-INT", MEDICARE_PARTIES)
    again = replace(late, payer_claim_number=late.payer_claim_number if icn == "same" else "2200000000099")
    posted = _post(store, tmp_path, [again], "EFT-INT-2", MEDICARE_PARTIES)
    assert "duplicate payment" in posted["claims"][0]["note"]
    balance = show_claim(store, claim.claim_id, "biller").balance
    assert (balance["interest"], balance["insurance_balance"]) == ("1.23", "-58.75")
    items = list_denials(store, "biller")
    assert sorted((i.category, i.amount) for i in items) == [
        ("overpayment", "58.75"),
        ("patient_responsibility", "14.38"),
    ]
    if back == "refund":
        work_denial(store, next(i.id for i in items if i.category == "overpayment"), "refund", "biller")
    else:
        (undone,) = _post(store, tmp_path, [reverse(again)], "EFT-INT-REV", MEDICARE_PARTIES)["claims"]
        assert (undone["status"], undone["adjustments"]) == ("paid", [])
        assert "reversal of a duplicate payment" in undone["note"]
    shown = show_claim(store, claim.claim_id, "biller")
    assert shown.summary.status == "paid"
    balance = shown.balance
    assert (balance["paid"], balance["interest"], balance["insurance_balance"]) == ("57.52", "1.23", "0.00")
    assert (balance["contractual"], balance["patient_balance"]) == ("71.90", "14.38")
    sums = _ledger_sums(store, claim.claim_id)
    # received 2 x 58.75, given back 58.75: kept 57.52 of the charge and the 1.23 interest once
    assert (sums["payment"] - sums.get("refund", 0), sums["interest"]) == (5752, 123)
    charge = int(claim.total_charge * 100)
    assert charge - (sums["payment"] - sums.get("refund", 0)) - sums["contractual"] - sums["patient"] == 0
    assert patient_balance(store, "P1") == {
        "patient": "P1",
        "insurance_balance": "0.00",
        "patient_balance": "14.38",
    }
    assert [(i.category, i.amount) for i in list_denials(store, "biller")] == [
        ("patient_responsibility", "14.38")
    ]
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
