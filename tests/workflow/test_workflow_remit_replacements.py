"""835 posting around a replacement claim (frequency 7) when the payer does not reverse the original
first (claims-lifecycle.md section 2): the replacement paid first, later reversals and PLB recoupments,
a denied replacement beside the original that stands, and money returned twice. Every 835 is written by
the simulated payer's writer and passes pyx12 (005010X221A1) before it is posted; the other posting cases
are in test_workflow_remit_cases.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("ecgdesk.reports.scanning")

from workflow_builders import tiny_record  # noqa: F401

from ecgdesk.claims.model import ProfessionalClaim
from ecgdesk.claims.payer_sim import ClaimStatus as AckStatus
from ecgdesk.claims.payer_sim import reverse, write_277ca, write_835
from ecgdesk.claims.remit import Adjustment, ProviderAdjustment, RemitClaim
from ecgdesk.errors import ConflictError, InputError
from ecgdesk.service.web import ENV
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.claims_acks import apply_ack
from ecgdesk.workflow.claims_denials import list_denials, work_denial
from ecgdesk.workflow.claims_export import correct_claim, export_claims
from ecgdesk.workflow.claims_inbound import post_remittance
from ecgdesk.workflow.claims_schemas import ClaimDetailOut
from ecgdesk.workflow.claims_views import ar_aging, list_claims, patient_balance, show_claim

sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
from claims_builders import pyx12_errors
from remit_builders import (
    ACME_PARTIES,
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


def _replaced(
    store: Store, tmp_path: Path
) -> tuple[ProfessionalClaim, ProfessionalClaim, RemitClaim, RemitClaim]:
    """Acme paid the claim 80.00 (CLP07 ...01; PR-2 20.00), the biller replaced it (frequency 7, a new CLM01)
    and Acme prices the replacement at 90.00 (CLP07 ...02; PR-2 20.00): the original, the replacement and
    the two claim payments."""
    (original,) = _export(store, tmp_path / "out", [3], "ACME1")
    first = _paid(original, "80.00", Adjustment("CO", "45", D("43.80")), Adjustment("PR", "2", D("20.00")))
    _post(store, tmp_path, [first], "EFT-1", ACME_PARTIES)
    replacement = correct_claim(store, original.claim_id, "biller")
    export_claims(store, tmp_path / "out2", "biller", payer="ACME1")
    (corrected,) = _claims(store, [replacement.claim_id])
    assert corrected.frequency == "7" and corrected.payer_claim_number == "2200000000001"
    priced = (Adjustment("CO", "45", D("33.80")), Adjustment("PR", "2", D("20.00")))
    again = _paid(corrected, "90.00", *priced, payer_claim_number="2200000000002")
    return original, corrected, first, again


def test_a_replacement_paid_before_the_reversal_bills_the_patient_share_once(
    store: Store, tmp_path: Path
) -> None:
    """The payer pays the replacement (frequency 7) without reversing the original first (claims-lifecycle.md
    section 2: the reversal should come first, but may come later or never). The replacement's determination
    supersedes the original's: the patient share is the replacement's PR-2 20.00, so the original's
    bill_patient item closes as replaced (audited), not left open beside the replacement's (20.00 billed
    twice)."""
    original, corrected, _, again = _replaced(store, tmp_path)
    _post(store, tmp_path, [again], "EFT-2", ACME_PARTIES)
    items = list_denials(store, "biller", status=None)
    shares = [i for i in items if i.category == "patient_responsibility"]
    assert [(i.claim_id, i.status, i.worked_action) for i in shares] == [
        (original.claim_id, "closed", "replaced"),
        (corrected.claim_id, "open", None),
    ]
    assert patient_balance(store, "P3")["patient_balance"] == "20.00"
    # the original's own page keeps its first determination's figures, and says they are superseded
    old = show_claim(store, original.claim_id, "biller")
    assert old.balance["patient_balance"] == "20.00" and old.summary.patient_balance == "0.00"
    assert old.superseded_by == corrected.claim_id
    assert old.superseded is not None and f"superseded by {corrected.claim_id}" in old.superseded
    assert ClaimDetailOut.model_validate(old.to_dict()).superseded_by == corrected.claim_id  # the API's shape
    page = ENV.get_template("_claims_panel.html.j2").render(claims=[old], clp_names={}, soon="", studies={})
    assert f"superseded by {corrected.claim_id}" in page
    assert show_claim(store, corrected.claim_id, "biller").superseded_by is None
    closed = shares[0]
    with store.transaction() as session:
        audited = session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity == "denial_item", AuditEntry.entity_id == str(closed.id)
            )
        ).all()
    assert "denial:replaced" in audited


@pytest.fixture
def sqlite_store(tmp_path: Path, template: Path) -> Iterator[Store]:
    yield from remit_store("sqlite", tmp_path, template)


@pytest.mark.parametrize("then", ["reversal", "recoupment", "deferred", "same_835"])
def test_a_replacement_paid_first_asks_for_the_original_payment_back_until_the_payer_takes_it(
    sqlite_store: Store, tmp_path: Path, then: str
) -> None:
    """Each order a payer may send after paying a replacement without reversing the original first
    (claims-lifecycle.md section 2, reversal + correction and PLB): its reversal in a later 835; no reversal,
    a PLB WO recoupment naming the original's CLP07; the reversal with a negative WO (the recovery deferred)
    and the positive WO later; the reversal after the correction in the same 835. Until the payer takes the
    original's 80.00 back, the biller sees it owed back (an overpayment item naming the replacement); once
    taken, the item closes, the original shows nothing paid and nothing is counted twice."""
    store = sqlite_store
    original, corrected, first, again = _replaced(store, tmp_path)
    fiscal = date.today()

    def plb(name: str, amount: str, *claims: RemitClaim) -> None:
        adjustment = ProviderAdjustment("1234567893", fiscal, "WO", "2200000000001", D(amount), 0)
        text = write_835(list(claims), ACME_PARTIES, name, fiscal, provider_adjustments=[adjustment])
        assert pyx12_errors(text, tmp_path) == []
        (tmp_path / f"{name}.835").write_text(text)
        post_remittance(store, tmp_path / f"{name}.835", "biller")

    if then == "same_835":
        _post(store, tmp_path, [again, reverse(first)], "EFT-2", ACME_PARTIES)
        assert [i.category for i in list_denials(store, "biller", claim=original.claim_id, status=None)] == [
            "patient_responsibility"
        ]
    else:
        _post(store, tmp_path, [again], "EFT-2", ACME_PARTIES)
        (owed,) = list_denials(store, "biller", claim=original.claim_id)
        assert (owed.category, owed.next_action, owed.amount) == ("overpayment", "refund", "80.00")
        assert corrected.claim_id in owed.reason and "not reversed" in owed.reason
        if then == "reversal":
            _post(store, tmp_path, [reverse(first)], "EFT-3", ACME_PARTIES)
        elif then == "recoupment":
            plb("PLB-WO", "80.00")
        else:
            plb("EFT-3", "-80.00", reverse(first))  # reversed now, the 80.00 taken back later
            assert list_denials(store, "biller", claim=original.claim_id) == []
            plb("PLB-WO", "80.00")
        (closed,) = [i for i in list_denials(store, "biller", status=None) if i.id == owed.id]
        assert closed.worked_action == ("recouped" if then == "recoupment" else "reversed")
    assert show_claim(store, original.claim_id, "biller").balance["paid"] == "0.00"
    new = show_claim(store, corrected.claim_id, "biller").balance
    assert (new["paid"], new["insurance_balance"], new["patient_balance"]) == ("90.00", "0.00", "20.00")
    assert [(i.claim_id, i.category) for i in list_denials(store, "biller")] == [
        (corrected.claim_id, "patient_responsibility")
    ]
    balance = patient_balance(store, "P3")
    assert (balance["insurance_balance"], balance["patient_balance"]) == ("0.00", "20.00")
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"


def test_a_replacement_the_payer_denies_leaves_the_original_standing(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """The payer refuses the replacement (CLP02 4, CO-129: prior processing information incorrect) and does
    not reverse the original: its first determination stands (claims-lifecycle.md section 2: only a
    reversal or a recoupment undoes it), so the original's patient share is still billed and nothing asks
    for its 80.00 back; the replacement's denial is the biller's work. The original carries the service
    then: A/R aging, the patient's balance and the claims list count its 80.00 paid and 20.00 patient share
    once, not the replacement's denied 143.80 as open A/R beside it (nor leave the share out); once the
    payer reverses the original, the replacement carries it (its denial is open A/R)."""
    store = sqlite_store
    original, corrected, first, _ = _replaced(store, tmp_path)
    refused = Adjustment("CO", "129", corrected.total_charge)
    denied = _paid(corrected, "0", refused, status="4", payer_claim_number="2200000000002")
    _post(store, tmp_path, [denied], "EFT-2", ACME_PARTIES)
    assert sorted((i.claim_id, i.category, i.amount) for i in list_denials(store, "biller")) == [
        (original.claim_id, "patient_responsibility", "20.00"),
        (corrected.claim_id, "other", "143.80"),
    ]
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    balance = patient_balance(store, "P3")
    assert (balance["insurance_balance"], balance["patient_balance"]) == ("0.00", "20.00")
    listed = {c.claim_id: (c.insurance_balance, c.patient_balance) for c in list_claims(store, "biller")}
    assert listed == {original.claim_id: ("0.00", "20.00"), corrected.claim_id: ("0.00", "0.00")}
    assert show_claim(store, corrected.claim_id, "biller").superseded_by == original.claim_id
    assert show_claim(store, original.claim_id, "biller").superseded_by is None  # it stands
    _post(store, tmp_path, [reverse(first)], "EFT-3", ACME_PARTIES)
    assert ar_aging(store).to_dict()["total"]["total"] == "143.80"
    balance = patient_balance(store, "P3")
    assert (balance["insurance_balance"], balance["patient_balance"]) == ("143.80", "0.00")


@pytest.mark.parametrize("waiting", ["accepted", "sent_again"])
def test_a_replacement_waiting_for_the_payer_leaves_the_original_counted(
    sqlite_store: Store, tmp_path: Path, waiting: str
) -> None:
    """The replacement (frequency 7) is exported and accepted by the payer's 277CA, or rejected there and
    sent again as a replacement of it, and no 835 has answered it yet: the payer has not decided it, so
    the original's determination (paid 80.00, PR-2 20.00, its bill_patient item open) stands and carries
    the service (claims-lifecycle.md section 2: only the payer's reversal, or its acceptance of the
    replacement, undoes it). A/R aging, the patient's balance and the claims list count it once, from
    the original: not the replacement's 143.80 as open A/R beside the 80.00 paid, nor the patient share
    left out. Once the payer pays the replacement (without reversing the original), it carries it."""
    store = sqlite_store
    original, corrected, _, again = _replaced(store, tmp_path)
    status = "A2" if waiting == "accepted" else "A7"
    ack = write_277ca(
        [AckStatus(corrected, status, "20" if status == "A2" else "562", "", "2200000000002")], ACME_PARTIES
    )
    assert pyx12_errors(ack, tmp_path) == []
    (tmp_path / "ack.277").write_text(ack)
    apply_ack(store, tmp_path / "ack.277", "biller")
    pending = corrected
    if waiting == "sent_again":  # the rejected replacement goes again as a replacement of the original
        pending = _claims(store, [correct_claim(store, corrected.claim_id, "biller").claim_id])[0]
        export_claims(store, tmp_path / "out3", "biller", payer="ACME1")
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    balance = patient_balance(store, "P3")
    assert (balance["insurance_balance"], balance["patient_balance"]) == ("0.00", "20.00")
    listed = {c.claim_id: (c.insurance_balance, c.patient_balance) for c in list_claims(store, "biller")}
    assert listed[original.claim_id] == ("0.00", "20.00") and listed[pending.claim_id] == ("0.00", "0.00")
    assert set(listed.values()) <= {("0.00", "20.00"), ("0.00", "0.00")}
    detail = show_claim(store, pending.claim_id, "biller")
    assert detail.superseded_by == original.claim_id
    assert detail.superseded is not None and "not decided" in detail.superseded
    assert show_claim(store, original.claim_id, "biller").superseded_by is None  # it stands
    if waiting == "accepted":  # the payer pays the replacement: it carries the service now
        _post(store, tmp_path, [again], "EFT-2", ACME_PARTIES)
        listed = {c.claim_id: (c.insurance_balance, c.patient_balance) for c in list_claims(store, "biller")}
        assert listed == {original.claim_id: ("0.00", "0.00"), corrected.claim_id: ("0.00", "20.00")}
        assert patient_balance(store, "P3")["patient_balance"] == "20.00"
        assert ar_aging(store).to_dict()["total"]["total"] == "0.00"


@pytest.mark.parametrize("returned", ["refund", "recoupment", "overpaid"])
def test_money_returned_twice_is_owed_by_the_payer_until_it_gives_it_back(
    sqlite_store: Store, tmp_path: Path, returned: str
) -> None:
    """The practice gives a payment back (the biller records a refund check, or the payer recoups it with a
    PLB WO naming the claim) and the payer then reverses that payment too (CLP02 22 takes it again:
    claims-lifecycle.md section 2, reversal + correction and PLB): the payer has taken it twice and owes it
    to the practice. A payer_owes item (next action recover, or write_off) names the claim, the amount and
    both events, and A/R aging and the patient's insurance balance count it, for a replaced original (the
    replacement paid before the reversal) as for an ordinary overpaid claim; the payer's money back (the
    biller's recover, or a negative PLB WO naming the claim) closes it."""
    store = sqlite_store
    fiscal = date.today()

    def plb(name: str, amount: str, reference: str, *claims: RemitClaim) -> None:
        adjustment = ProviderAdjustment("1234567893", fiscal, "WO", reference, D(amount), 0)
        text = write_835(list(claims), ACME_PARTIES, name, fiscal, provider_adjustments=[adjustment])
        assert pyx12_errors(text, tmp_path) == []
        (tmp_path / f"{name}.835").write_text(text)
        post_remittance(store, tmp_path / f"{name}.835", "biller")

    if returned == "overpaid":  # paid 6.20 over the charge (a negative OA-B13), refunded, then reversed
        (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
        first = _paid(claim, str(claim.total_charge + D("6.20")), Adjustment("OA", "B13", D("-6.20")))
        _post(store, tmp_path, [first], "EFT-1", ACME_PARTIES)
        owed, charge = "6.20", claim.total_charge
    else:  # the replacement paid first: the original's 80.00 is owed back, then given back
        claim, _, first, again = _replaced(store, tmp_path)
        _post(store, tmp_path, [again], "EFT-2", ACME_PARTIES)
        owed, charge = "80.00", D(0)  # the replacement carries the service and owes nothing
    (credit,) = list_denials(store, "biller", claim=claim.claim_id)
    if returned == "recoupment":
        plb("PLB-WO", owed, "2200000000001")
    else:
        work_denial(store, credit.id, "refund", "biller", note="check 1234")
    _post(store, tmp_path, [reverse(first)], "EFT-3", ACME_PARTIES)
    (item,) = list_denials(store, "biller", claim=claim.claim_id)
    assert (item.category, item.next_action, item.amount, item.actions) == (
        "payer_owes",
        "recover",
        owed,
        ["recover", "write_off"],
    )
    event = "PLB WO recoupment" if returned == "recoupment" else "refund the biller recorded"
    assert event in item.reason and "reversal (CLP02 22" in item.reason and item.deadline is not None
    assert show_claim(store, claim.claim_id, "biller").balance["paid"] == f"-{owed}"
    assert ar_aging(store).to_dict()["total"]["total"] == f"{charge + D(owed):.2f}"
    assert patient_balance(store, "P3")["insurance_balance"] == f"{charge + D(owed):.2f}"
    with pytest.raises(InputError, match="took back twice is recovered"):
        work_denial(store, item.id, "bill_patient", "biller")
    if returned == "overpaid":  # the payer's correction pays the claim its charge again: still short
        again = _paid(claim, str(charge), payer_claim_number="2200000000009")
        _post(store, tmp_path, [again], "EFT-4", ACME_PARTIES)
        (still,) = list_denials(store, "biller", claim=claim.claim_id)
        assert (still.id, still.amount) == (item.id, owed)
        charge = D(0)  # paid again: nothing open but what it owes
        assert ar_aging(store).to_dict()["total"]["total"] == owed
    if returned == "recoupment":  # the payer gives it back in its next 835
        plb("PLB-BACK", f"-{owed}", claim.claim_id)
        (closed,) = [i for i in list_denials(store, "biller", status=None) if i.id == item.id]
        assert (closed.status, closed.worked_action) == ("closed", "recovered")
    else:
        assert work_denial(store, item.id, "recover", "biller").item.status == "worked"
    paid = show_claim(store, claim.claim_id, "biller").balance["paid"]
    assert paid == (f"{claim.total_charge:.2f}" if returned == "overpaid" else "0.00")
    assert ar_aging(store).to_dict()["total"]["total"] == f"{charge:.2f}"
    assert [i for i in list_denials(store, "biller") if i.category == "payer_owes"] == []


@pytest.mark.parametrize("then", ["paid", "denied", "reversed"])
def test_a_recoupment_of_the_original_while_its_replacement_waits_is_taken_once(
    store: Store, tmp_path: Path, then: str
) -> None:
    """The replacement (frequency 7) is accepted by the 277CA and waits for its 835 when the payer takes the
    original's 80.00 back with a PLB WO naming its CLP07 (claims-lifecycle.md section 2: the payer recoups
    ahead of the correction). The money leaves the original (a refund row, audited claim:recouped): it
    shows 0.00 paid and 80.00 open with the payer, its patient share still billed (its determination
    stands). Once the payer pays the replacement, nothing is asked back (until 2026-12-07 the WO booked
    nothing on the claim, so the replacement's payment then opened a refund item for the 80.00 the payer
    had already taken); once it denies it, the original's 80.00 stays open A/R; a reversal of the original
    on top takes the 80.00 a second time, which the payer then owes (payer_owes)."""
    original, corrected, first, again = _replaced(store, tmp_path)
    ack = write_277ca([AckStatus(corrected, "A2", "20", "", "2200000000002")], ACME_PARTIES)
    (tmp_path / "ack.277").write_text(ack)
    apply_ack(store, tmp_path / "ack.277", "biller")
    fiscal = date.today()
    adjustment = ProviderAdjustment("1234567893", fiscal, "WO", "2200000000001", D("80.00"), 0)
    text = write_835([], ACME_PARTIES, "PLB-WO", fiscal, provider_adjustments=[adjustment])
    assert pyx12_errors(text, tmp_path) == []
    (tmp_path / "PLB-WO.835").write_text(text)
    post_remittance(store, tmp_path / "PLB-WO.835", "biller")
    old = show_claim(store, original.claim_id, "biller")
    assert (old.balance["paid"], old.balance["insurance_balance"]) == ("0.00", "80.00")
    assert ar_aging(store).to_dict()["total"]["total"] == "80.00"
    balance = patient_balance(store, "P3")
    assert (balance["insurance_balance"], balance["patient_balance"]) == ("80.00", "20.00")
    with store.transaction() as session:
        audited = session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity == "claim", AuditEntry.action == "claim:recouped"
            )
        ).all()
    assert audited == ["claim:recouped"]
    if then == "paid":
        _post(store, tmp_path, [again], "EFT-2", ACME_PARTIES)
        assert [(i.claim_id, i.category) for i in list_denials(store, "biller")] == [
            (corrected.claim_id, "patient_responsibility")
        ]
        expected = ("0.00", "20.00")
    elif then == "denied":
        refused = Adjustment("CO", "129", corrected.total_charge)
        denied = _paid(corrected, "0", refused, status="4", payer_claim_number="2200000000002")
        _post(store, tmp_path, [denied], "EFT-2", ACME_PARTIES)
        items = sorted(i.category for i in list_denials(store, "biller"))
        assert items == ["other", "patient_responsibility"]
        expected = ("80.00", "20.00")
    else:
        _post(store, tmp_path, [reverse(first)], "EFT-3", ACME_PARTIES)
        (owed,) = list_denials(store, "biller")
        assert (owed.claim_id, owed.category, owed.amount) == (original.claim_id, "payer_owes", "80.00")
        assert "PLB WO recoupment" in owed.reason
        expected = ("223.80", "0.00")  # the replacement's charge, and the 80.00 taken twice
    assert ar_aging(store).to_dict()["total"]["total"] == expected[0]
    balance = patient_balance(store, "P3")
    assert (balance["insurance_balance"], balance["patient_balance"]) == expected


@pytest.mark.parametrize("then", ["paid", "denied"])
def test_an_original_paid_again_while_its_replacement_waits_stays_replaced(
    sqlite_store: Store, tmp_path: Path, then: str
) -> None:
    """While the replacement (frequency 7) waits for its 835, the payer pays the original again: the same
    determination under a new CLP07 (it processed the claim twice). That is a duplicate payment (its money
    a credit to refund, its CO-45 and PR-2 not booked twice), and the original stays `corrected`, so the
    replacement's answer still decides who carries the service. Until 2026-12-07 the original moved to
    `paid` with a second 20.00 patient share: the replacement then paid carried it beside the original (the
    patient billed 60.00, the original 143.80 in credit)."""
    store = sqlite_store
    original, corrected, first, again = _replaced(store, tmp_path)
    twice = replace(first, payer_claim_number="2200000000003")
    posted = _post(store, tmp_path, [twice], "EFT-1B", ACME_PARTIES)["claims"][0]
    assert (posted["status"], posted["adjustments"]) == ("corrected", [])
    assert patient_balance(store, "P3") == {
        "patient": "P3",
        "insurance_balance": "-80.00",
        "patient_balance": "20.00",
    }
    if then == "paid":  # the replacement carries the service: all paid on the original is owed back
        _post(store, tmp_path, [again], "EFT-2", ACME_PARTIES)
        owed = {"patient": "P3", "insurance_balance": "0.00", "patient_balance": "20.00"}
        items = [
            (corrected.claim_id, "patient_responsibility", "20.00"),
            (original.claim_id, "overpayment", "160.00"),
        ]
    else:  # the original stands: its duplicate 80.00 is owed back
        refused = Adjustment("CO", "129", corrected.total_charge)
        _post(store, tmp_path, [_paid(corrected, "0", refused, status="4")], "EFT-2", ACME_PARTIES)
        owed = {"patient": "P3", "insurance_balance": "-80.00", "patient_balance": "20.00"}
        items = [
            (original.claim_id, "overpayment", "80.00"),
            (original.claim_id, "patient_responsibility", "20.00"),
            (corrected.claim_id, "other", "143.80"),
        ]
    assert patient_balance(store, "P3") == owed
    assert sorted((i.claim_id, i.category, i.amount) for i in list_denials(store, "biller")) == sorted(items)
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"


@pytest.mark.parametrize(
    ("then", "backend"),
    [
        ("wo", "sqlite"),
        ("wo", "postgresql"),
        ("wo_with_72", "sqlite"),
        ("reversal_and_correction", "sqlite"),
        ("reversal_and_correction_with_72", "sqlite"),
        ("recovery_deferred", "sqlite"),
        ("recouped_then_reversal_and_correction", "sqlite"),
    ],
)
def test_an_ordinary_claims_returned_overpayment_taken_again_is_owed_by_the_payer(
    tmp_path: Path, template: Path, then: str, backend: str
) -> None:
    """An ordinary claim (no replacement) paid 6.20 over its charge: the biller records a refund check, or the
    payer recoups the credit with a PLB WO, and then the payer's own 835 takes the same money again: a
    PLB WO naming the claim (no PLB 72 acknowledging the check), or a reversal with its corrected payment
    in the same 835 (claims-lifecycle.md section 2). The payer has taken 6.20 twice: a payer_owes item
    says so, the claim shows 137.60 paid and 6.20 open with the payer (A/R aging, the patient's insurance
    balance), and the payer's money back closes it. A WO the payer pairs with a PLB 72 (the check
    received), or a PLB 72 handing the check back beside the reversal and correction, takes nothing more.
    Until 2026-12-07 the WO stayed a provider-level adjustment (the claim paid in full, nothing owed) and
    the same-835 correction left 6.20 open A/R with no item to work."""
    stores = remit_store(backend, tmp_path, template)
    store = next(stores)
    fiscal = date.today()

    def remit(name: str, plbs: list[tuple[str, str, str]], *claims: RemitClaim) -> None:
        adjustments = [ProviderAdjustment("1234567893", fiscal, r, ref, D(a), 0) for r, ref, a in plbs]
        text = write_835(list(claims), ACME_PARTIES, name, fiscal, provider_adjustments=adjustments)
        assert pyx12_errors(text, tmp_path) == []
        (tmp_path / f"{name}.835").write_text(text)
        post_remittance(store, tmp_path / f"{name}.835", "biller")

    try:
        (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
        first = _paid(claim, str(claim.total_charge + D("6.20")), Adjustment("OA", "B13", D("-6.20")))
        _post(store, tmp_path, [first], "EFT-1", ACME_PARTIES)
        (credit,) = list_denials(store, "biller", claim=claim.claim_id)
        corrected = _paid(claim, str(claim.total_charge), payer_claim_number="2200000000009")
        if then.startswith("recouped"):
            remit("PLB-WO", [("WO", "2200000000001", "6.20")])
            with pytest.raises(ConflictError, match="remittance closed it as recouped"):
                work_denial(store, credit.id, "refund", "biller")
        else:
            work_denial(store, credit.id, "refund", "biller", note="check 1234")
        if then == "wo":
            remit("PLB-WO", [("WO", "2200000000001", "6.20")])
        elif then == "wo_with_72":  # the payer received the check: its WO and 72 net to nothing
            remit("PLB-72", [("WO", "2200000000001", "6.20"), ("72", "2200000000001", "-6.20")])
        elif then.endswith("with_72"):  # it recovers by the correction and hands the check back (72)
            remit("EFT-2", [("72", "2200000000001", "-6.20")], reverse(first), corrected)
        elif then == "recovery_deferred":  # the 6.20 the correction took is given back now, taken later
            remit("EFT-2", [("WO", "2200000000001", "-6.20")], reverse(first), corrected)
            assert list_denials(store, "biller") == []
            remit("PLB-WO", [("WO", "2200000000001", "6.20")])
        else:
            remit("EFT-2", [], reverse(first), corrected)
        balance = patient_balance(store, "P3")
        if then.endswith("with_72"):
            assert list_denials(store, "biller") == []
            assert show_claim(store, claim.claim_id, "biller").balance["paid"] == "143.80"
            aging = ar_aging(store).to_dict()["total"]["total"]
            assert (balance["insurance_balance"], aging) == ("0.00", "0.00")
            return
        (item,) = list_denials(store, "biller", claim=claim.claim_id)
        assert (item.category, item.amount, item.actions) == ("payer_owes", "6.20", ["recover", "write_off"])
        first_return = "PLB WO recoupment" if then.startswith("recouped") else "refund the biller recorded"
        again = "correction in the same remittance paid 143.80"
        if then in ("wo", "recovery_deferred"):
            again = "PLB WO of 6.20"
        assert first_return in item.reason and again in item.reason
        money = show_claim(store, claim.claim_id, "biller").balance
        assert (money["paid"], money["insurance_balance"]) == ("137.60", "6.20")
        assert (balance["insurance_balance"], ar_aging(store).to_dict()["total"]["total"]) == ("6.20",) * 2
        if then == "wo":
            with store.transaction() as session:
                audited = session.scalars(
                    select(AuditEntry.action).where(AuditEntry.action == "claim:recouped")
                ).all()
            assert audited == ["claim:recouped"]
            remit("PLB-BACK", [("WO", claim.claim_id, "-6.20")])  # the payer gives it back
            (closed,) = [i for i in list_denials(store, "biller", status=None) if i.id == item.id]
            assert (closed.status, closed.worked_action) == ("closed", "recovered")
        else:
            assert work_denial(store, item.id, "recover", "biller").item.status == "worked"
        assert show_claim(store, claim.claim_id, "biller").balance["paid"] == "143.80"
        assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
        assert list_denials(store, "biller") == []
    finally:
        next(stores, None)  # closes the store
