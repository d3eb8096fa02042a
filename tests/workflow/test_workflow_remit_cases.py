"""835 posting on the cases billers meet after the first payment: a reversal of a claim already replaced
by its correction, a remittance for a claim the 277CA had rejected, split lines, overpayments and their
refunds, duplicates, answers that determine nothing, claim-level adjustments and appeals (the second
payer's cases are in test_workflow_remit_secondary.py). Every 835 is written by the simulated payer's
writer and passes pyx12 (005010X221A1) before it is posted."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("ecgdesk.reports.scanning")

from claims_workflow_builders import BILLING
from workflow_builders import tiny_record  # noqa: F401

from ecgdesk.claims.model import ProfessionalClaim
from ecgdesk.claims.payer_sim import ClaimStatus as AckStatus
from ecgdesk.claims.payer_sim import reverse, write_277ca, write_835
from ecgdesk.claims.remit import Adjustment, ProviderAdjustment, RemitClaim, RemitLine
from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.claims_acks import apply_ack
from ecgdesk.workflow.claims_denials import list_denials, work_denial
from ecgdesk.workflow.claims_export import correct_claim, export_claims
from ecgdesk.workflow.claims_inbound import post_remittance
from ecgdesk.workflow.claims_setup import setup_billing
from ecgdesk.workflow.claims_views import ar_aging, patient_balance, show_claim

sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
from claims_builders import pyx12_errors
from remit_builders import (
    ACME_PARTIES,
    MEDICARE_PARTIES,
    D,
    _claims,
    _export,
    _paid,
    _post,
    remit_store,
    remit_template,
)

from backends import BACKENDS


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    return remit_template(tmp_path_factory, tiny_record)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[Store]:
    yield from remit_store(request.param, tmp_path, template)




def test_a_reversal_of_a_replaced_claim_leaves_the_balance_with_the_replacement(
    store: Store, tmp_path: Path
) -> None:
    """Frequency 7 with a new CLM01: the payer reverses the original under its own CLP01 and pays the
    replacement under the new one (claims-lifecycle.md section 2, matching and reversal + correction).
    The original stays replaced: its reversal must not reopen its charge as insurance A/R beside the
    replacement that carries it."""
    (original,) = _export(store, tmp_path / "out", [3], "ACME1")
    first = _paid(original, "80.00", Adjustment("CO", "45", D("43.80")), Adjustment("PR", "2", D("20.00")))
    _post(store, tmp_path, [first], "EFT-1", ACME_PARTIES)
    replacement = correct_claim(store, original.claim_id, "biller")
    assert replacement.frequency == "7"
    export_claims(store, tmp_path / "out2", "biller", payer="ACME1")
    (corrected,) = _claims(store, [replacement.claim_id])
    again = _paid(
        corrected,
        "90.00",
        Adjustment("CO", "45", D("33.80")),
        Adjustment("PR", "2", D("20.00")),
        payer_claim_number="2200000000002",
    )
    posted = _post(store, tmp_path, [reverse(first), again], "EFT-2", ACME_PARTIES)
    assert [(c["claim_id"], c["status"]) for c in posted["claims"]] == [
        (original.claim_id, "corrected"),
        (replacement.claim_id, "paid"),
    ]
    old = show_claim(store, original.claim_id, "biller")
    assert old.balance["paid"] == "0.00" and old.balance["patient_balance"] == "0.00"
    moves = [h for h in old.history if h["action"] == "claim:remit"]
    assert [(m["before"]["status"], m["after"]["status"], m["after"]["clp02"]) for m in moves] == [
        ("exported", "paid", "1"),
        ("corrected", "corrected", "22"),  # the reversal is on the record, the claim stays replaced
    ]
    assert show_claim(store, replacement.claim_id, "biller").balance["insurance_balance"] == "0.00"
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    assert patient_balance(store, "P3") == {
        "patient": "P3",
        "insurance_balance": "0.00",
        "patient_balance": "20.00",
    }
    items = list_denials(store, "biller", status=None)
    assert sorted((i.claim_id, i.status) for i in items) == [
        (original.claim_id, "closed"),
        (replacement.claim_id, "open"),
    ]


def test_an_835_for_a_claim_the_277ca_rejected_posts_with_the_rest_of_the_file(
    store: Store, tmp_path: Path
) -> None:
    """A 277CA rejected one claim of two (A7); the payer adjudicated it all the same and its 835 pays the
    other. The 835 is the payer's determination (claims-lifecycle.md section 1: paid / denied are moved by
    the CLP posted): it posts, it does not refuse the whole file because the claim was still 'rejected'."""
    first, second = _export(store, tmp_path / "out", [1, 2], "12345")
    ack = write_277ca(
        [
            AckStatus(first, "A2", "20", payer_claim_number="2200000000001"),
            AckStatus(second, "A7", "562", "85"),
        ],
        MEDICARE_PARTIES,
    )
    assert pyx12_errors(ack, tmp_path) == []
    (tmp_path / "ack.277").write_text(ack)
    assert [c["status"] for c in apply_ack(store, tmp_path / "ack.277", "biller").claims] == [
        "accepted",
        "rejected",
    ]
    paid = _paid(first, "57.52", Adjustment("CO", "45", D("71.90")), Adjustment("PR", "2", D("14.38")))
    denied = _paid(
        second,
        "0",
        Adjustment("CO", "16", D("143.80")),
        payer_claim_number="2200000000002",
        remarks=("MA130",),
    )
    posted = _post(store, tmp_path, [paid, denied], "EFT-3", MEDICARE_PARTIES)
    assert posted["posted"] == 2 and posted["unmatched"] == []
    assert [(c["claim_id"], c["status"]) for c in posted["claims"]] == [
        (first.claim_id, "paid"),
        (second.claim_id, "denied"),
    ]
    (item,) = list_denials(store, "biller", claim=second.claim_id)
    assert (item.carc, item.rarc, item.next_action) == ("16", ["MA130"], "new_original")
    detail = show_claim(store, second.claim_id, "biller")
    assert detail.payer_claim_number == "2200000000002"
    moves = [(h["before"]["status"], h["after"]["status"]) for h in detail.history if h["before"]]
    assert moves[-2:] == [("exported", "rejected"), ("rejected", "denied")]
    worked = work_denial(store, item.id, "new_original", "biller")  # CO-16: unprocessable, as rejected
    assert worked.new_claim is not None and worked.claim_status == "corrected"
    assert "11:B:1" in export_claims(store, tmp_path / "out2", "biller")[0].path.read_text()


def test_an_overpayment_balanced_by_a_negative_adjustment_is_paid_not_partially_paid(
    store: Store, tmp_path: Path
) -> None:
    """The payer pays more than the charge and balances the claim with a negative adjustment: nothing was
    denied, so the claim is paid (its insurance balance shows the credit to refund), and no denial item
    is opened for the negative amount."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    over = claim.total_charge + D("6.20")
    posted = _post(store, tmp_path, [_paid(claim, str(over), Adjustment("OA", "B13", D("-6.20")))], "EFT-9",
                   ACME_PARTIES)
    assert [c["status"] for c in posted["claims"]] == ["paid"]
    assert show_claim(store, claim.claim_id, "biller").balance["insurance_balance"] == "-6.20"
    items = [i for i in list_denials(store, "biller", status=None) if i.claim_id == claim.claim_id]
    # no denial item for the negative OA-B13; the credit is an overpayment to refund
    assert [(i.category, i.next_action, i.amount) for i in items] == [("overpayment", "refund", "6.20")]


def _service(
    billed: ProfessionalClaim,
    code: str,
    charge: str,
    paid: str,
    *adjustments: Adjustment,
    submitted: bool = True,
    control: bool = True,
    units: str = "1",
) -> RemitLine:
    """One SVC loop of the payer's answer on ``billed``'s one line, adjudicated as ``code``."""
    line = billed.lines[0]
    return RemitLine(
        "HC",
        code,
        (),
        D(charge),
        D(paid),
        D(units),
        line.code if submitted else None,
        (),
        line.control if control else None,
        line.date_from,
        line.date_from,
        adjustments,
        (),
        None,
        0,
    )


def _several(claim: ProfessionalClaim, *services: RemitLine) -> RemitClaim:
    paid = sum((s.paid for s in services), D(0))
    patient = sum((a.amount for s in services for a in s.adjustments if a.group == "PR"), D(0))
    return RemitClaim(
        claim.claim_id,
        "1",
        claim.total_charge,
        paid,
        patient,
        "15",
        "2200000000009",
        (),
        services,
        "DOE, JANE",
        None,
        (),
        claim.lines[0].date_from,
        None,
        0,
    )


@pytest.mark.parametrize("how", ["unbundled", "split"])
def test_every_svc_loop_of_a_billed_line_the_payer_split_posts_to_that_line(
    store: Store, tmp_path: Path, how: str
) -> None:
    """One billed line paid as two SVC loops (TR3 1.10.2.14, RFI 2283): unbundled, the first loop carries
    the billed charge and the next $0.00, both naming the billed code in SVC06 (no REF*6R echoed); split,
    the charge and units are shared between loops that echo REF*6R. Every loop posts to the billed line
    (claims-lifecycle.md section 2: lines by REF*6R, then SVC06), none is left unmatched, and the line and
    claim balances are those of the whole determination."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    charge = claim.total_charge
    if how == "unbundled":
        services = (
            _service(claim, "93225", str(charge), "40.00", Adjustment("CO", "45", charge - D("50.00")),
                     Adjustment("PR", "2", D("10.00")), control=False),
            _service(claim, "93226", "0", "24.00", Adjustment("OA", "94", D("-30.00")),
                     Adjustment("PR", "2", D("6.00")), control=False),
        )
    else:
        half = charge / 2
        services = (
            _service(claim, "93225", str(half), "40.00", Adjustment("CO", "45", half - D("50.00")),
                     Adjustment("PR", "2", D("10.00")), submitted=claim.lines[0].code != "93225"),
            _service(claim, "93226", str(half), "24.00", Adjustment("CO", "45", half - D("30.00")),
                     Adjustment("PR", "2", D("6.00")), submitted=claim.lines[0].code != "93226"),
        )
    posted = _post(store, tmp_path, [_several(claim, *services)], f"EFT-{how}", ACME_PARTIES)
    (result,) = posted["claims"]
    assert result["unmatched_lines"] == [] and result["status"] == "paid"
    assert [a["line"] for a in result["adjustments"]] == [1, 1, 1, 1]
    detail = show_claim(store, claim.claim_id, "biller")
    (line,) = detail.lines
    assert (line["payment"], line["patient"]) == ("64.00", "16.00")
    assert D(line["contractual"]) == charge - D("80.00")
    assert detail.balance["insurance_balance"] == "0.00" and detail.balance["patient_balance"] == "16.00"
    items = list_denials(store, "biller", claim=claim.claim_id)
    assert sorted((i.line, i.amount) for i in items) == [(1, "10.00"), (1, "6.00")]


@pytest.mark.parametrize("settled_by", ["WO", "72+WO", "biller"])
def test_an_overpayment_opens_a_refund_item_closed_by_its_refund_or_recoupment(
    store: Store, tmp_path: Path, settled_by: str
) -> None:
    """The payer pays 6.20 more than the claim's charge less its adjustments (a negative OA-B13): the
    insurance balance is a credit, and a biller must refund it or let the payer take it back. A refund
    item opens in the work queue with the amount and payer; it closes when the payer recoups it (PLB WO
    with the claim's payer claim number in PLB03-2), when the 72/WO pair of a refund check is posted
    (claims-lifecycle.md section 2, PLB), or when the biller records the refund; the claim's insurance
    balance is then zero."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    over = _paid(claim, str(claim.total_charge + D("6.20")), Adjustment("OA", "B13", D("-6.20")))
    _post(store, tmp_path, [over], "EFT-1", ACME_PARTIES)
    (item,) = list_denials(store, "biller")
    assert (item.claim_id, item.payer, item.amount, item.category, item.next_action) == (
        claim.claim_id,
        "ACME1",
        "6.20",
        "overpayment",
        "refund",
    )
    assert item.deadline is not None and "refund" in item.reason
    if settled_by == "biller":
        with pytest.raises(InputError, match="an overpayment is refunded"):
            work_denial(store, item.id, "write_off", "biller")
        worked = work_denial(store, item.id, "refund", "biller", note="check 1234")
        assert (worked.item.status, worked.claim_status) == ("worked", "closed")
    else:
        fiscal = date.today()
        plb = [ProviderAdjustment("1234567893", fiscal, "WO", "2200000000001", D("6.20"), 0)]
        if settled_by == "72+WO":  # the provider refunded by check: the payer offsets its recovery
            plb.insert(0, ProviderAdjustment("1234567893", fiscal, "72", "2200000000001", D("-6.20"), 0))
        # the payer's next 835: no claim, only the provider adjustments
        text = write_835([], ACME_PARTIES, f"PLB-{settled_by}", fiscal, provider_adjustments=plb)
        assert pyx12_errors(text, tmp_path) == []
        (tmp_path / "plb.835").write_text(text)
        post_remittance(store, tmp_path / "plb.835", "biller")
        (closed,) = list_denials(store, "biller", status=None)
        assert (closed.id, closed.status, closed.worked_action) == (
            item.id,
            "closed",
            "refunded" if settled_by == "72+WO" else "recouped",
        )
    balance = show_claim(store, claim.claim_id, "biller").balance
    assert (balance["paid"], balance["insurance_balance"]) == (str(claim.total_charge), "0.00")
    assert list_denials(store, "biller") == []


@pytest.mark.parametrize(
    ("code", "adjustments"),
    [
        # not our claim: the payer forwarded it to the payer it belongs to (CARC 109)
        ("23", (Adjustment("OA", "109", D("143.80")),)),
        # predetermination pricing only: what the payer would pay (CARC 101), no payment
        (
            "25",
            (
                Adjustment("CO", "45", D("43.80")),
                Adjustment("PR", "2", D("20.00")),
                Adjustment("OA", "101", D("80.00")),
            ),
        ),
    ],
)
def test_a_forwarded_or_predetermination_only_answer_books_nothing(
    store: Store, tmp_path: Path, code: str, adjustments: tuple[Adjustment, ...]
) -> None:
    """CLP02 23 (not our claim, forwarded) and 25 (predetermination pricing only) are no determination of
    the claim (claims-lifecycle.md section 2, CLP02): nothing is booked (no contractual amount, nothing
    billed to the patient, no denial item), the claim keeps its state and its open insurance balance,
    the answer is on the claim's record (its remittances and an audited claim:remit row)."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    assert claim.total_charge == D("143.80")
    answer = _paid(claim, "0", *adjustments, status=code, payer_claim_number="9900000000001")
    posted = _post(store, tmp_path, [answer], f"EFT-{code}", ACME_PARTIES)
    assert [(c["status"], c["clp_status"]) for c in posted["claims"]] == [("exported", code)]
    detail = show_claim(store, claim.claim_id, "biller")
    assert detail.summary.status == "exported"
    assert (detail.balance["insurance_balance"], detail.balance["patient_balance"]) == ("143.80", "0.00")
    assert detail.balance["contractual"] == "0.00" and detail.balance["denied"] == "0.00"
    assert detail.payer_claim_number != "9900000000001"  # not the number a correction must cite
    assert [r["clp_status"] for r in detail.remittances] == [code]
    assert [h["after"]["clp02"] for h in detail.history if h["action"] == "claim:remit"] == [code]
    assert list_denials(store, "biller", status=None) == []
    assert patient_balance(store, "P3")["patient_balance"] == "0.00"
    assert ar_aging(store).to_dict()["total"]["total"] == "143.80"


@pytest.mark.parametrize("icn", ["same", "another"])
def test_a_claim_payment_sent_again_under_another_trace_is_a_duplicate_payment(
    store: Store, tmp_path: Path, icn: str
) -> None:
    """The payer pays the same claim payment again (same status and amounts, not reversed; the same CLP07,
    or another on the whole claim: the payer processed it twice) in another 835 with its own trace number,
    so the file is not a duplicate (claims-lifecycle.md section 2, duplicates: TRN02 per payer). The money
    came twice, the determination once: the second payment posts (a credit to refund, with its
    overpayment item) but its adjustments are not booked again, so the patient is not billed the
    coinsurance twice (until 2026-12-07 another CLP07 booked them twice: the patient owed 40.00)."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    contractual = Adjustment("CO", "45", claim.total_charge - D("100.00"))
    paid = _paid(claim, "80.00", contractual, Adjustment("PR", "2", D("20.00")))
    _post(store, tmp_path, [paid], "EFT-1", ACME_PARTIES)
    number = "2200000000001" if icn == "same" else "2200000000003"
    posted = _post(store, tmp_path, [replace(paid, payer_claim_number=number)], "EFT-2", ACME_PARTIES)
    assert posted["duplicates"] == [] and posted["claims"][0]["adjustments"] == []
    balance = show_claim(store, claim.claim_id, "biller").balance
    assert (balance["paid"], balance["patient_responsibility"], balance["insurance_balance"]) == (
        "160.00",
        "20.00",
        "-80.00",
    )
    assert patient_balance(store, "P3")["patient_balance"] == "20.00"
    items = list_denials(store, "biller")
    assert sorted((i.category, i.amount) for i in items) == [
        ("overpayment", "80.00"),
        ("patient_responsibility", "20.00"),
    ]
    assert "duplicate" in next(i.reason for i in items if i.category == "overpayment")


def test_a_claim_payment_twice_in_one_835_is_a_duplicate_payment(store: Store, tmp_path: Path) -> None:
    """The same claim payment twice in one 835 (same CLP01, CLP07, status and amounts, neither reversed) is
    handled as the same payment sent again in another file (claims-lifecycle.md section 2, duplicates; the
    determination is the CLP): the money posts twice (a credit to refund), the adjustments once."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    contractual = Adjustment("CO", "45", claim.total_charge - D("100.00"))
    paid = _paid(claim, "80.00", contractual, Adjustment("PR", "2", D("20.00")))
    posted = _post(store, tmp_path, [paid, replace(paid, position=1)], "EFT-TWICE", ACME_PARTIES)
    assert [len(c["adjustments"]) for c in posted["claims"]] == [2, 0]
    assert "duplicate payment" in posted["claims"][1]["note"]
    balance = show_claim(store, claim.claim_id, "biller").balance
    assert (balance["paid"], balance["patient_responsibility"], balance["insurance_balance"]) == (
        "160.00",
        "20.00",
        "-80.00",
    )
    assert balance["contractual"] == "43.80"
    assert patient_balance(store, "P3")["patient_balance"] == "20.00"
    items = list_denials(store, "biller")
    assert sorted((i.category, i.amount) for i in items) == [
        ("overpayment", "80.00"),
        ("patient_responsibility", "20.00"),
    ]
    assert "duplicate" in next(i.reason for i in items if i.category == "overpayment")


def test_a_second_denial_under_a_new_icn_is_not_a_duplicate_payment(store: Store, tmp_path: Path) -> None:
    """A denial (nothing paid) and a second one of the same amounts under a new CLP07 (the claim went twice:
    CO-18, duplicate claim) are two determinations, not money sent twice: the second's CAS is booked and its
    item opens (only a payment of the whole claim under another ICN is a repeat)."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    denied = _paid(claim, "0", Adjustment("CO", "16", claim.total_charge), status="4")
    _post(store, tmp_path, [denied], "EFT-1", ACME_PARTIES)
    twice = replace(
        _paid(claim, "0", Adjustment("CO", "18", claim.total_charge), status="4"),
        payer_claim_number="2200000000003",
    )
    posted = _post(store, tmp_path, [twice], "EFT-2", ACME_PARTIES)["claims"][0]
    assert "note" not in posted and [a["carc"] for a in posted["adjustments"]] == ["18"]
    assert sorted(i.carc for i in list_denials(store, "biller")) == ["16", "18"]


@pytest.mark.parametrize("again", ["another_835", "same_835"])
def test_a_reversal_sent_twice_takes_the_money_not_the_adjustments_again(
    store: Store, tmp_path: Path, again: str
) -> None:
    """The payer's reversal (CLP02 22) of a payment comes twice: in a second 835 under another trace number,
    or twice in one 835 (claims-lifecycle.md section 2, duplicates and reversal + correction). The payment it
    undoes was undone once: the second posts its money (the payer's BPR02 took it again: the payer owes it,
    a payer_owes item naming the first reversal) but not its CAS again. Until 2026-12-07 it booked the
    negated CO-45 and PR-2 a second time: the patient 20.00 in credit and the claim 287.60 open on a
    143.80 charge."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    first = _paid(claim, "80.00", Adjustment("CO", "45", D("43.80")), Adjustment("PR", "2", D("20.00")))
    _post(store, tmp_path, [first], "EFT-1", ACME_PARTIES)
    if again == "another_835":
        _post(store, tmp_path, [reverse(first)], "EFT-2", ACME_PARTIES)
        posted = _post(store, tmp_path, [reverse(first)], "EFT-3", ACME_PARTIES)["claims"][0]
    else:
        twice = [reverse(first), replace(reverse(first), position=1)]
        posted = _post(store, tmp_path, twice, "EFT-2", ACME_PARTIES)["claims"][1]
    assert posted["adjustments"] == [] and "duplicate reversal" in posted["note"]
    balance = show_claim(store, claim.claim_id, "biller").balance
    assert (balance["paid"], balance["contractual"], balance["patient_responsibility"]) == (
        "-80.00",
        "0.00",
        "0.00",
    )
    assert balance["insurance_balance"] == "223.80"  # the charge, and the 80.00 taken twice
    assert patient_balance(store, "P3") == {
        "patient": "P3",
        "insurance_balance": "223.80",
        "patient_balance": "0.00",
    }
    assert ar_aging(store).to_dict()["total"]["total"] == "223.80"
    (owed,) = list_denials(store, "biller")
    assert (owed.category, owed.amount) == ("payer_owes", "80.00")
    assert "returned twice: the reversal" in owed.reason


def test_a_claim_level_adjustment_lowers_the_payment_not_the_lines(store: Store, tmp_path: Path) -> None:
    """The payer prices the line (SVC03 100.00 after CO-45) and takes the deductible at claim level (2100
    CAS PR-1 20.00), so it pays CLP04 80.00 (claims-lifecycle.md section 2, balancing: CLP03 - the claim's
    and lines' CAS = CLP04). The claim's payments are the 80.00 received, not the lines' 100.00: the
    insurance balance is zero, not a 20.00 credit (which would open an overpayment item)."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    line = _paid(claim, "100.00", Adjustment("CO", "45", claim.total_charge - D("100.00")))
    deductible = (Adjustment("PR", "1", D("20.00")),)
    answer = replace(line, paid=D("80.00"), patient_responsibility=D("20.00"), adjustments=deductible)
    _post(store, tmp_path, [answer], "EFT-CL", ACME_PARTIES)
    detail = show_claim(store, claim.claim_id, "biller")
    assert (detail.balance["paid"], detail.balance["patient_responsibility"]) == ("80.00", "20.00")
    assert detail.balance["insurance_balance"] == "0.00"
    assert detail.lines[0]["payment"] == "100.00"  # the line as the payer priced it
    items = list_denials(store, "biller")
    assert [(i.category, i.line, i.amount) for i in items] == [("patient_responsibility", None, "20.00")]


def test_a_denial_paid_on_appeal_is_overturned_not_a_current_denied_amount(
    store: Store, tmp_path: Path
) -> None:
    """The payer denies the claim (CLP02 4, CO-50 143.80) and pays it on appeal in a later 835 (CLP02 1).
    The later determination of the same payer replaces the denial (claims-lifecycle.md section 2: the
    determination is the CLP): the claim, its line and its balance show no current denied amount, the
    143.80 is shown as overturned, and the open denial item is closed as overturned (audited)."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    denied = _paid(claim, "0", Adjustment("CO", "50", claim.total_charge), status="4")
    _post(store, tmp_path, [denied], "EFT-DENY", ACME_PARTIES)
    (item,) = list_denials(store, "biller")
    contractual = Adjustment("CO", "45", claim.total_charge - D("100.00"))
    coinsurance = Adjustment("PR", "2", D("20.00"))
    appeal = _paid(claim, "80.00", contractual, coinsurance, payer_claim_number="2200000000002")
    posted = _post(store, tmp_path, [appeal], "EFT-APPEAL", ACME_PARTIES)
    assert posted["claims"][0]["status"] == "paid"
    detail = show_claim(store, claim.claim_id, "biller")
    assert (detail.balance["denied"], detail.balance["denied_overturned"]) == ("0.00", "143.80")
    assert (detail.balance["insurance_balance"], detail.balance["patient_balance"]) == ("0.00", "20.00")
    assert (detail.lines[0]["denial"], detail.lines[0]["denial_overturned"]) == ("0.00", "143.80")
    assert [a["kind"] for a in detail.lines[0]["adjustments"] if a["carc"] == "50"] == ["denial_overturned"]
    worked = {d.id: d for d in list_denials(store, "biller", status=None)}[item.id]
    assert (worked.status, worked.worked_action) == ("closed", "overturned")
    assert [i.category for i in list_denials(store, "biller")] == ["patient_responsibility"]
    with store.transaction() as session:
        audited = session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity == "denial_item", AuditEntry.entity_id == str(item.id)
            )
        ).all()
    assert "denial:overturned" in audited
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    # the payer reverses that payment: its denial stands again, and so does the item (until 2026-12-07 the
    # item stayed closed as overturned while the claim showed the 143.80 denied again)
    _post(store, tmp_path, [reverse(appeal)], "EFT-APPEAL-REV", ACME_PARTIES)
    assert show_claim(store, claim.claim_id, "biller").balance["denied"] == "143.80"
    assert [(i.id, i.status) for i in list_denials(store, "biller")] == [(item.id, "open")]


def test_a_claim_of_another_billing_provider_is_not_posted_to_this_payee(
    store: Store, tmp_path: Path
) -> None:
    """The practice bills as two providers (the IDTF, then a physician group with its own NPI) and the
    payer's 835 to the IDTF (N1*PE its NPI) also carries the group's claim: that money went to the IDTF's
    account, not the group's, so the group's claim is queued as unmatched saying why (until 2026-12-07 it
    was posted paid: the group's A/R closed on money it never received); the IDTF's claim posts, and the
    group's own 835 later posts its claim."""
    (idtf,) = _export(store, tmp_path / "out", [1], "12345")
    group_npi = "1245319599"
    setup_billing(store, replace(BILLING, name="Heart Group", npi=group_npi, claim_prefix="HRT"), "admin")
    (group,) = _export(store, tmp_path / "out2", [2], "12345")
    answers = [
        _paid(c, "57.52", Adjustment("CO", "45", D("71.90")), Adjustment("PR", "2", D("14.38")))
        for c in (idtf, group)
    ]
    posted = _post(store, tmp_path, answers, "EFT-IDTF", MEDICARE_PARTIES)
    assert [c["claim_id"] for c in posted["claims"]] == [idtf.claim_id]
    (queued,) = posted["unmatched"]
    assert queued["claim_id"] == group.claim_id
    assert f"billing provider Heart Group (NPI {group_npi})" in queued["reason"]
    assert "1234567893" in queued["reason"]
    assert show_claim(store, group.claim_id, "biller").balance["paid"] == "0.00"
    group_parties = replace(MEDICARE_PARTIES, payee_name="HEART GROUP", payee_npi=group_npi)
    again = _post(store, tmp_path, [answers[1]], "EFT-GROUP", group_parties)
    assert [c["status"] for c in again["claims"]] == ["paid"] and again["unmatched"] == []
    assert show_claim(store, group.claim_id, "biller").balance["paid"] == "57.52"


def test_a_timely_filing_denial_is_written_off_not_appealed(store: Store, tmp_path: Path) -> None:
    """CO-29 (the filing limit passed): not an initial determination, so no appeal (claims-lifecycle.md
    section 3); the item offers write_off, refuses appeal saying why (until 2026-12-07 appeal drafted a
    redetermination letter and moved the claim to appealed, its charge open A/R for good), and the write-off
    closes the claim with nothing billed to the patient."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    late = _paid(claim, "0", Adjustment("CO", "29", claim.total_charge))
    assert _post(store, tmp_path, [late], "EFT-29", ACME_PARTIES)["claims"][0]["status"] == "denied"
    (item,) = list_denials(store, "biller", claim=claim.claim_id)
    assert (item.category, item.next_action) == ("timely_filing", "write_off")
    assert "appeal" not in item.actions
    with pytest.raises(InputError, match="not an initial determination and has no appeal rights"):
        work_denial(store, item.id, "appeal", "biller")
    assert work_denial(store, item.id, "write_off", "biller").claim_status == "written_off"
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    balance = patient_balance(store, "P3")
    assert (balance["insurance_balance"], balance["patient_balance"]) == ("0.00", "0.00")
