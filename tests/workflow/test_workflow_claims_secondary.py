"""Secondary claims we bill ourselves (COB): Medicare pays as primary without crossing over, the patient has
a secondary plan (Acme), and the PR item's bill_secondary builds the 837P to Acme with Medicare's
determination (2320/2330A/2330B/2430); Acme's 835 posts on that claim and settles the share. Every X12
file passes pyx12 (claims.md 1.2; claims-lifecycle.md: secondary 837s carry the primary's CAS by group
code and its claim number)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

pytest.importorskip("ecgdesk.reports.scanning")

from remit_builders import (  # it puts tests/claims on the path (claims_builders)
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
from workflow_builders import tiny_record  # noqa: F401

from backends import BACKENDS
from ecgdesk.claims.model import ProfessionalClaim
from ecgdesk.claims.payer_sim import reverse
from ecgdesk.claims.remit import Adjustment, RemitClaim
from ecgdesk.errors import ConflictError, InputError
from ecgdesk.store import Store
from ecgdesk.workflow.claims_denials import list_denials, work_denial
from ecgdesk.workflow.claims_export import export_claims
from ecgdesk.workflow.claims_setup import CoverageSetup, add_coverage
from ecgdesk.workflow.claims_views import ar_aging, patient_balance, show_claim


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    return remit_template(tmp_path_factory, tiny_record)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[Store]:
    yield from remit_store(request.param, tmp_path, template)


from claims_builders import pyx12_errors  # noqa: E402


def _with_secondary(store: Store) -> None:
    """P1 (Medicare primary) also has the Acme plan as secondary (commercial rules: 90 days filing)."""
    setup = CoverageSetup(
        "P1", "ACME1", "ACM55501", "5 Elm St", "Springfield", "IL", "62702", priority="secondary",
        group_number="GRP77", effective_from=date(2020, 1, 1),
    )
    add_coverage(store, setup, "admin")


def _segments(text: str) -> list[list[str]]:
    return [s.strip().split("*") for s in text.split("~") if s.strip()]


def test_bill_secondary_builds_the_cob_837p_and_the_secondarys_835_settles_the_share(
    store: Store, tmp_path: Path
) -> None:
    _with_secondary(store)
    (first,) = _export(store, tmp_path / "out", [1], "12345")
    medicare = _paid(
        first,
        "57.52",
        Adjustment("CO", "45", D("71.90")),
        Adjustment("PR", "2", D("14.38")),
        payer_claim_number="2200000000001",
    )
    _post(store, tmp_path, [medicare], "EFT-MC", MEDICARE_PARTIES)
    (item,) = list_denials(store, "biller", claim=first.claim_id)
    assert item.next_action == "bill_secondary"
    # the secondary payer's own limit (Acme, commercial: 90 days), not Medicare's 365
    assert item.deadline == (date.today() + timedelta(days=90)).isoformat()

    worked = work_denial(store, item.id, "bill_secondary", "biller")
    assert worked.claim_status == "secondary_billed" and worked.new_claim
    secondary = show_claim(store, worked.new_claim, "biller")
    assert secondary.summary.status == "scrubbed"
    assert secondary.balance["insurance_balance"] == "14.38"  # what Acme can owe: the share

    (exported,) = export_claims(store, tmp_path / "sec", "biller", payer="ACME1")
    text = exported.path.read_text()
    assert pyx12_errors(text, tmp_path) == []
    segments = _segments(text)
    ids = [s[0] for s in segments]
    sbr = [s for s in segments if s[0] == "SBR"]
    assert sbr[0][1] == "S" and sbr[1][1] == "P" and sbr[1][2] == "18" and sbr[1][9] == "MB"
    # 2320 after the claim's HI, before the lines: Medicare paid 57.52 (AMT*D), no claim-level CAS
    start = ids.index("SBR", ids.index("HI"))
    assert ids[start : start + 6] == ["SBR", "AMT", "OI", "NM1", "NM1", "REF"]
    assert segments[start + 1] == ["AMT", "D", "57.52"]
    assert segments[start + 3][1:3] == ["IL", "1"] and segments[start + 3][-1] == first.subscriber_id
    assert segments[start + 4][1:3] == ["PR", "2"] and segments[start + 4][-2:] == ["PI", "12345"]
    assert segments[start + 5] == ["REF", "F8", "2200000000001"]  # 2330B: Medicare's claim number
    # 2430 on the line: Medicare's SVD, its CAS by group code as the 835 gave them, DTP*573
    svd = ids.index("SVD")
    line = first.lines[0]
    assert segments[svd][:3] == ["SVD", "12345", "57.52"]
    assert segments[svd][3].split(":")[1] == line.code
    assert segments[svd + 1] == ["CAS", "CO", "45", "71.9"]
    assert segments[svd + 2] == ["CAS", "PR", "2", "14.38"]
    assert segments[svd + 3] == ["DTP", "573", "D8", date.today().strftime("%Y%m%d")]
    assert ["REF", "F8", "2200000000001"] not in segments[: ids.index("HI")]  # not a correction

    (claim,) = _claims(store, [worked.new_claim])
    acme = _paid(
        claim,
        "10.00",
        Adjustment("OA", "23", D("129.42")),
        Adjustment("PR", "2", D("4.38")),
        status="2",
        payer_claim_number="AC1",
    )
    posted = _post(store, tmp_path, [acme], "CHK-AC", ACME_PARTIES)
    assert [c["status"] for c in posted["claims"]] == ["paid"]
    after = show_claim(store, worked.new_claim, "biller").balance
    assert (after["paid"], after["insurance_balance"], after["patient_balance"]) == ("10.00", "0.00", "4.38")
    primary = show_claim(store, first.claim_id, "biller")
    assert primary.summary.status == "closed"
    assert primary.balance["patient_balance"] == "0.00" and primary.balance["insurance_balance"] == "0.00"
    assert patient_balance(store, "P1")["patient_balance"] == "4.38"
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    open_items = list_denials(store, "biller", claim=worked.new_claim)
    assert [(i.amount, i.next_action) for i in open_items] == [("4.38", "bill_patient")]


def test_a_crossed_over_claim_is_never_billed_to_the_secondary(store: Store, tmp_path: Path) -> None:
    _with_secondary(store)
    (first,) = _export(store, tmp_path / "out", [1], "12345")
    crossed = _paid(
        first,
        "57.52",
        Adjustment("CO", "45", D("71.90")),
        Adjustment("PR", "2", D("14.38")),
        status="19",
        crossover="ACME HEALTH PLAN",
    )
    _post(store, tmp_path, [crossed], "EFT-MC", MEDICARE_PARTIES)
    (item,) = list_denials(store, "biller", claim=first.claim_id)
    assert item.next_action == "bill_patient" and "bill_secondary" not in item.actions
    with pytest.raises(InputError, match="crossed the claim over"):
        work_denial(store, item.id, "bill_secondary", "biller")
    assert show_claim(store, first.claim_id, "biller").summary.status == "paid"
    assert [i.status for i in list_denials(store, "biller", claim=first.claim_id)] == ["open"]
    assert export_claims(store, tmp_path / "none", "biller", payer="ACME1") == []


def _billed_to_acme(store: Store, tmp_path: Path) -> tuple[ProfessionalClaim, ProfessionalClaim, str]:
    """Medicare paid P1's claim (PR-2 14.38 left), the share billed to Acme: (primary, secondary, item)."""
    _with_secondary(store)
    (first,) = _export(store, tmp_path / "out", [1], "12345")
    medicare = _paid(
        first,
        "57.52",
        Adjustment("CO", "45", D("71.90")),
        Adjustment("PR", "2", D("14.38")),
        payer_claim_number="2200000000001",
    )
    _post(store, tmp_path, [medicare], "EFT-MC", MEDICARE_PARTIES)
    (item,) = list_denials(store, "biller", claim=first.claim_id)
    worked = work_denial(store, item.id, "bill_secondary", "biller")
    assert worked.new_claim
    export_claims(store, tmp_path / "sec", "biller", payer="ACME1")
    (claim,) = _claims(store, [worked.new_claim])
    return first, claim, str(item.id)


def _acme_pays(claim: ProfessionalClaim, number: str = "AC1") -> RemitClaim:
    return _paid(
        claim,
        "10.00",
        Adjustment("OA", "23", D("129.42")),
        Adjustment("PR", "2", D("4.38")),
        status="2",
        payer_claim_number=number,
    )


def _items(store: Store, claim_id: str) -> list[tuple[str, str, str, str | None]]:
    found = list_denials(store, "biller", claim=claim_id, status=None)
    return sorted((i.group + "-" + i.carc, i.amount, i.status, i.worked_action) for i in found)


def test_the_secondary_payers_reversal_puts_the_share_back_on_the_secondary_claim(
    store: Store, tmp_path: Path
) -> None:
    """Acme pays the secondary claim (10.00, PR-2 4.38 left to the patient, worked bill_patient: the claim
    closes), then reverses that payment (CLP02 22, amounts negated, codes kept: claims-lifecycle.md section
    2, reversal + correction). The share is Acme's to decide again: the secondary claim is `reversed` with
    the share as its insurance balance (nothing paid, nothing left to the patient), the primary is
    `secondary_billed` again with the share on it not transferred, its PR item still worked bill_secondary
    (the secondary claim carries it), the secondary's worked item left as worked; the A/R counts the share
    once (on the secondary claim). Acme's correction then settles it once, as the first payment had."""
    first, claim, _ = _billed_to_acme(store, tmp_path)
    paid = _acme_pays(claim)
    _post(store, tmp_path, [paid], "CHK-AC", ACME_PARTIES)
    (own,) = list_denials(store, "biller", claim=claim.claim_id)
    assert work_denial(store, own.id, "bill_patient", "biller").claim_status == "closed"

    posted = _post(store, tmp_path, [reverse(paid)], "CHK-AC-R", ACME_PARTIES)
    assert [c["status"] for c in posted["claims"]] == ["reversed"]
    secondary = show_claim(store, claim.claim_id, "biller")
    assert secondary.summary.status == "reversed"
    balance = secondary.balance
    assert (balance["paid"], balance["insurance_balance"], balance["patient_balance"]) == (
        "0.00", "14.38", "0.00",
    )
    primary = show_claim(store, first.claim_id, "biller")
    assert primary.summary.status == "secondary_billed"
    assert primary.balance["to_secondary_claim"] == "0.00"
    assert primary.balance["insurance_balance"] == "0.00"
    assert _items(store, first.claim_id) == [("PR-2", "14.38", "worked", "bill_secondary")]
    # worked items stay as worked (a statement went out), as on any claim a reversal reaches
    assert _items(store, claim.claim_id) == [("PR-2", "4.38", "worked", "bill_patient")]
    assert ar_aging(store).to_dict()["total"]["total"] == "14.38"

    again = _acme_pays(claim, "AC2")
    _post(store, tmp_path, [again], "CHK-AC-2", ACME_PARTIES)
    assert show_claim(store, claim.claim_id, "biller").summary.status == "paid"
    assert show_claim(store, first.claim_id, "biller").summary.status == "closed"
    after = show_claim(store, claim.claim_id, "biller").balance
    assert (after["paid"], after["insurance_balance"], after["patient_balance"]) == ("10.00", "0.00", "4.38")
    assert show_claim(store, first.claim_id, "biller").balance["patient_balance"] == "0.00"
    assert patient_balance(store, "P1")["patient_balance"] == "4.38"
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    assert _items(store, claim.claim_id) == [
        ("PR-2", "4.38", "open", None),
        ("PR-2", "4.38", "worked", "bill_patient"),
    ]


def test_the_secondary_payers_reversal_and_correction_in_one_835_settle_the_share_once(
    store: Store, tmp_path: Path
) -> None:
    """Acme reverses its payment and pays again in the same 835 (the reversal first), PR-1 4.38 now: the
    correction settles the share once (the primary's patient balance 0, transferred 14.38 once), the
    secondary claim is paid with only the new PR-1 left to the patient."""
    first, claim, _ = _billed_to_acme(store, tmp_path)
    paid = _acme_pays(claim)
    _post(store, tmp_path, [paid], "CHK-AC", ACME_PARTIES)
    again = _paid(
        claim,
        "10.00",
        Adjustment("OA", "23", D("129.42")),
        Adjustment("PR", "1", D("4.38")),
        status="2",
        payer_claim_number="AC2",
    )
    posted = _post(store, tmp_path, [reverse(paid), again], "CHK-AC-2", ACME_PARTIES)
    assert [c["status"] for c in posted["claims"]] == ["reversed", "paid"]
    primary = show_claim(store, first.claim_id, "biller")
    assert primary.summary.status == "closed"
    assert primary.balance["to_secondary_claim"] == "14.38"
    assert primary.balance["patient_balance"] == "0.00"
    after = show_claim(store, claim.claim_id, "biller").balance
    assert (after["paid"], after["insurance_balance"], after["patient_balance"]) == ("10.00", "0.00", "4.38")
    assert patient_balance(store, "P1")["patient_balance"] == "4.38"
    assert _items(store, claim.claim_id) == [
        ("PR-1", "4.38", "open", None),
        ("PR-2", "4.38", "closed", "reversed"),
    ]


def test_the_secondary_payers_denial_leaves_the_share_to_the_patient(store: Store, tmp_path: Path) -> None:
    """Acme denies the secondary claim (CLP02 4): its OA-23 restates Medicare's determination (booked on the
    claim once already, at billing), PR-27 (coverage ended) leaves the whole share to the patient. The share
    is the patient's: one bill_patient item on the secondary claim, the secondary claim's insurance balance
    0 (no credit, no overpayment item), the primary closed (not `secondary_billed` for ever), the patient
    owing 14.38 once and the A/R 0."""
    first, claim, _ = _billed_to_acme(store, tmp_path)
    denied = _paid(
        claim,
        "0.00",
        Adjustment("OA", "23", D("129.42")),
        Adjustment("PR", "27", D("14.38")),
        status="4",
        payer_claim_number="AC1",
    )
    posted = _post(store, tmp_path, [denied], "CHK-AC", ACME_PARTIES)
    assert [c["status"] for c in posted["claims"]] == ["adjudicated"]
    secondary = show_claim(store, claim.claim_id, "biller").balance
    assert (secondary["paid"], secondary["insurance_balance"], secondary["patient_balance"]) == (
        "0.00", "0.00", "14.38",
    )
    assert _items(store, claim.claim_id) == [("PR-27", "14.38", "open", None)]
    (item,) = list_denials(store, "biller", claim=claim.claim_id)
    assert item.next_action == "bill_patient"
    primary = show_claim(store, first.claim_id, "biller")
    assert primary.summary.status == "closed"
    assert primary.balance["patient_balance"] == "0.00" and primary.balance["to_secondary_claim"] == "14.38"
    owed = patient_balance(store, "P1")
    assert (owed["insurance_balance"], owed["patient_balance"]) == ("0.00", "14.38")
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    assert work_denial(store, item.id, "bill_patient", "biller").claim_status == "closed"


def test_the_secondary_payers_co_denial_is_worked_on_the_secondary_claim(
    store: Store, tmp_path: Path
) -> None:
    """Acme denies the secondary claim for missing information (CLP02 4, CO-16 on the share): the share is
    Acme's denial to work on the secondary claim (a denial stays open A/R until worked: 14.38 once, on the
    secondary), with its item; the primary is closed, nothing is counted twice and no credit appears."""
    first, claim, _ = _billed_to_acme(store, tmp_path)
    denied = _paid(
        claim,
        "0.00",
        Adjustment("OA", "23", D("129.42")),
        Adjustment("CO", "16", D("14.38")),
        status="4",
        payer_claim_number="AC1",
        remarks=("M51",),
    )
    posted = _post(store, tmp_path, [denied], "CHK-AC", ACME_PARTIES)
    assert [c["status"] for c in posted["claims"]] == ["denied"]
    secondary = show_claim(store, claim.claim_id, "biller").balance
    assert (secondary["denied"], secondary["insurance_balance"], secondary["patient_balance"]) == (
        "14.38", "14.38", "0.00",
    )
    assert _items(store, claim.claim_id) == [("CO-16", "14.38", "open", None)]
    primary = show_claim(store, first.claim_id, "biller")
    assert primary.summary.status == "closed"
    assert primary.balance["patient_balance"] == "0.00"
    owed = patient_balance(store, "P1")
    assert (owed["insurance_balance"], owed["patient_balance"]) == ("14.38", "0.00")
    assert ar_aging(store).to_dict()["total"]["total"] == "14.38"
    # a new original of a secondary claim its payer decided would post against a share already moved off
    # the primary: refused with the reason, nothing changed
    (item,) = list_denials(store, "biller", claim=claim.claim_id)
    with pytest.raises(ConflictError, match="secondary claim of"):
        work_denial(store, item.id, "new_original", "biller")
    assert show_claim(store, claim.claim_id, "biller").summary.status == "denied"
    assert _items(store, claim.claim_id) == [("CO-16", "14.38", "open", None)]
    # the item suggests what works there: a replacement (before, it suggested the refused new original)
    assert item.next_action == "correct" and "replacement" in item.reason
    # and the work form offers only what working a CO item accepts (before: bill_patient and refund too)
    assert item.next_action in item.actions
    assert not {"bill_patient", "bill_secondary", "refund"} & set(item.actions)
    worked = work_denial(store, item.id, item.next_action, "biller")
    assert worked.new_claim and show_claim(store, claim.claim_id, "biller").summary.status == "corrected"
    replacement = show_claim(store, worked.new_claim, "biller")
    assert replacement.summary.frequency == "7" and replacement.secondary_of == first.claim_id


def test_the_primary_and_its_secondary_claim_name_each_other(store: Store, tmp_path: Path) -> None:
    """After bill_secondary, `claims show` (and the API's claim view, its to_dict) names the secondary
    claim on the primary (`secondary_billed`) and the primary on the secondary, so a biller can follow the
    share from one to the other; the A/R counts the share once (on the secondary claim)."""
    first, claim, _ = _billed_to_acme(store, tmp_path)
    primary = show_claim(store, first.claim_id, "biller")
    assert primary.summary.status == "secondary_billed"
    assert primary.to_dict()["secondary_claims"] == [claim.claim_id]
    assert primary.to_dict()["secondary_of"] is None
    secondary = show_claim(store, claim.claim_id, "biller").to_dict()
    assert secondary["secondary_of"] == first.claim_id and secondary["secondary_claims"] == []
    assert primary.balance["insurance_balance"] == "0.00"
    assert ar_aging(store).to_dict()["total"]["total"] == "14.38"


def test_a_secondary_claim_rejected_at_the_277ca_goes_again_as_a_secondary(
    store: Store, tmp_path: Path
) -> None:
    """Acme's 277CA rejects the secondary claim (A7, invalid information). It was never adjudicated, so it
    goes again as a new original (claims-lifecycle.md section 1), and still as Acme's secondary claim of the
    share Medicare left: SBR01 S, Medicare's determination in 2320/2330A/2330B and each line's 2430 (claims.md
    1.2; claims-lifecycle.md: secondary 837s carry the primary's CAS and its claim number), the share as its
    insurance balance, linked to the primary, and Acme's 835 on it settles the share as on the first one.
    Before, the new claim's lines took new REF*6R numbers while its 2430 loops still named the old ones, so
    the loops were dropped and the file no longer balanced (CLM02 - CAS != AMT*D); it had no OA-23 (the
    whole charge as Acme's balance) and no link to the primary, so Acme's 835 posted as a first payer's."""
    from ecgdesk.claims.payer_sim import ClaimStatus as AckStatus
    from ecgdesk.claims.payer_sim import write_277ca
    from ecgdesk.workflow.claims_acks import apply_ack
    from ecgdesk.workflow.claims_export import correct_claim

    first, claim, _ = _billed_to_acme(store, tmp_path)
    ack = tmp_path / "reject.277"
    ack.write_text(write_277ca([AckStatus(claim, "A7", "562", "85")], ACME_PARTIES))
    assert [c["status"] for c in apply_ack(store, ack, "biller").claims] == ["rejected"]

    again = correct_claim(store, claim.claim_id, "biller")
    assert (again.frequency, again.status, again.errors) == ("1", "scrubbed", [])
    (exported,) = export_claims(store, tmp_path / "again", "biller", payer="ACME1")
    text = exported.path.read_text()
    assert pyx12_errors(text, tmp_path) == []
    segments = _segments(text)
    ids = [s[0] for s in segments]
    clm = segments[ids.index("CLM")]
    assert clm[1] == again.claim_id and clm[5].endswith(":1")
    sbr = [s for s in segments if s[0] == "SBR"]
    assert [s[1] for s in sbr] == ["S", "P"] and sbr[1][9] == "MB"
    start = ids.index("SBR", ids.index("HI"))
    assert ids[start : start + 6] == ["SBR", "AMT", "OI", "NM1", "NM1", "REF"]
    assert segments[start + 1] == ["AMT", "D", "57.52"]
    assert segments[start + 3][1:3] == ["IL", "1"] and segments[start + 3][-1] == first.subscriber_id
    assert segments[start + 5] == ["REF", "F8", "2200000000001"]  # 2330B: Medicare's claim number
    assert ["REF", "6R", f"{again.claim_id}L1"] in segments
    svd = ids.index("SVD")
    assert segments[svd][:3] == ["SVD", "12345", "57.52"]
    assert segments[svd + 1 : svd + 3] == [["CAS", "CO", "45", "71.9"], ["CAS", "PR", "2", "14.38"]]
    assert segments[svd + 3][:2] == ["DTP", "573"]

    resent = show_claim(store, again.claim_id, "biller")
    assert resent.secondary_of == first.claim_id
    assert resent.balance["insurance_balance"] == "14.38"
    primary = show_claim(store, first.claim_id, "biller")
    assert primary.summary.status == "secondary_billed"
    assert again.claim_id in primary.secondary_claims
    assert ar_aging(store).to_dict()["total"]["total"] == "14.38"

    (sent,) = _claims(store, [again.claim_id])
    posted = _post(store, tmp_path, [_acme_pays(sent)], "CHK-AC", ACME_PARTIES)
    assert [c["status"] for c in posted["claims"]] == ["paid"]
    assert show_claim(store, first.claim_id, "biller").summary.status == "closed"
    after = show_claim(store, again.claim_id, "biller").balance
    assert (after["paid"], after["insurance_balance"], after["patient_balance"]) == ("10.00", "0.00", "4.38")
    assert patient_balance(store, "P1")["patient_balance"] == "4.38"
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"


def test_the_share_billed_to_the_secondary_is_not_owed_by_the_patient_until_it_decides(
    store: Store, tmp_path: Path
) -> None:
    """While Acme has not decided, the share (PR-2 14.38) is Acme's to owe on the secondary claim, and the
    patient owes nothing yet: the primary shows it as `pending_secondary`, not as patient balance, and the
    patient's balance counts it once, as insurance. Once Acme decides, only what it leaves (PR-2 4.38) is the
    patient's; Acme's reversal makes the share undecided, so pending again. Before, the primary showed
    14.38 owed by the patient beside the secondary claim's 14.38 owed by Acme (the share twice)."""
    first, claim, _ = _billed_to_acme(store, tmp_path)
    primary = show_claim(store, first.claim_id, "biller")
    assert primary.summary.status == "secondary_billed"
    assert (primary.balance["pending_secondary"], primary.balance["patient_balance"]) == ("14.38", "0.00")
    assert primary.summary.patient_balance == "0.00"
    owed = patient_balance(store, "P1")
    assert (owed["insurance_balance"], owed["patient_balance"]) == ("14.38", "0.00")

    paid = _acme_pays(claim)
    _post(store, tmp_path, [paid], "CHK-AC", ACME_PARTIES)
    after = show_claim(store, first.claim_id, "biller").balance
    assert (after["pending_secondary"], after["to_secondary_claim"], after["patient_balance"]) == (
        "0.00", "14.38", "0.00",
    )
    assert patient_balance(store, "P1")["patient_balance"] == "4.38"

    _post(store, tmp_path, [reverse(paid)], "CHK-AC-R", ACME_PARTIES)
    back = show_claim(store, first.claim_id, "biller").balance
    assert (back["pending_secondary"], back["patient_balance"]) == ("14.38", "0.00")
    owed = patient_balance(store, "P1")
    assert (owed["insurance_balance"], owed["patient_balance"]) == ("14.38", "0.00")


def test_claims_show_in_plain_text_names_the_primary_and_its_secondary_claim(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`claims show` without --json names the link its --json and the API give: the secondary claim on the
    primary and the primary on the secondary claim, and a claim sent again in place of a rejected one.
    Before, the plain text said neither, so a biller at the terminal saw a `secondary_billed` claim with no
    claim to follow."""
    from workflow_builders import PIN

    from ecgdesk.cli.main import main

    first, claim, _ = _billed_to_acme(store, tmp_path)
    monkeypatch.setenv("ECGDESK_HOME", str(tmp_path / "copy" / "home"))
    monkeypatch.setenv("ECGDESK_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ECGDESK_USER", "biller")
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)
    monkeypatch.delenv("ECGDESK_TOKEN", raising=False)
    capsys.readouterr()
    assert main(["claims", "show", first.claim_id]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert f"  share billed to the secondary on {claim.claim_id}" in shown
    assert "  balance: pending_secondary 14.38" in shown
    assert main(["claims", "show", claim.claim_id]) == 0
    assert f"  secondary claim of {first.claim_id}" in capsys.readouterr().out.splitlines()

    from ecgdesk.claims.payer_sim import ClaimStatus as AckStatus
    from ecgdesk.claims.payer_sim import write_277ca
    from ecgdesk.workflow.claims_acks import apply_ack
    from ecgdesk.workflow.claims_export import correct_claim

    ack = tmp_path / "reject.277"
    ack.write_text(write_277ca([AckStatus(claim, "A3", "21", "")], ACME_PARTIES))
    apply_ack(store, ack, "biller")
    again = correct_claim(store, claim.claim_id, "biller").claim_id
    assert main(["claims", "show", again]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert f"  replaces {claim.claim_id}" in shown and f"  secondary claim of {first.claim_id}" in shown
    assert main(["claims", "show", claim.claim_id]) == 0
    assert f"  replaced by {again}" in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("one_file", [True, False], ids=["one_835", "two_835s"])
def test_a_secondary_claim_its_payer_decided_is_corrected_by_a_replacement(
    store: Store, tmp_path: Path, one_file: bool
) -> None:
    """Acme paid the secondary claim on a wrong modifier. The biller corrects it: a replacement (CLM05-3 7,
    2300 REF*F8 = Acme's claim number) that keeps Medicare's determination (2320/2330A/2330B REF*F8
    Medicare's number, 2430), so the share is still what Acme can owe (claims-lifecycle.md section 3, route
    C; claims.md 1.2). Acme's reversal of its first payment and its payment of the replacement (in one 835
    or two, the reversal first: claims-lifecycle.md section 2) settle the share once: the primary closed
    with the share transferred once (no pending_secondary, no patient balance), the replacement paid with
    only its PR-2 left to the patient, the A/R 0. Before, the correction was refused ('its payer has
    decided it')."""
    from ecgdesk.workflow.claims_export import ClaimEdits, LineEdit, correct_claim

    first, claim, _ = _billed_to_acme(store, tmp_path)
    paid = _acme_pays(claim)
    _post(store, tmp_path, [paid], "CHK-AC", ACME_PARTIES)
    modifiers = ("52", "GA")
    edits = ClaimEdits(lines=(LineEdit(1, modifiers=modifiers),))
    made = correct_claim(store, claim.claim_id, "biller", edits)
    assert (made.frequency, made.status, made.errors) == ("7", "scrubbed", [])
    assert show_claim(store, claim.claim_id, "biller").summary.status == "corrected"
    replacement = show_claim(store, made.claim_id, "biller")
    assert replacement.secondary_of == first.claim_id
    assert made.claim_id in show_claim(store, first.claim_id, "biller").secondary_claims
    assert replacement.balance["insurance_balance"] == "14.38"

    (exported,) = export_claims(store, tmp_path / "fix", "biller", payer="ACME1")
    text = exported.path.read_text()
    assert pyx12_errors(text, tmp_path) == []
    segments = _segments(text)
    ids = [s[0] for s in segments]
    clm = segments[ids.index("CLM")]
    assert clm[1] == made.claim_id and clm[5].endswith(":7")
    assert segments[ids.index("CLM") + 1] == ["REF", "F8", "AC1"]  # 2300: Acme's own claim number
    assert [s[1] for s in segments if s[0] == "SBR"] == ["S", "P"]
    start = ids.index("SBR", ids.index("HI"))
    assert segments[start + 1] == ["AMT", "D", "57.52"]
    assert segments[start + 5] == ["REF", "F8", "2200000000001"]  # 2330B: Medicare's
    assert segments[ids.index("SV1")][1].split(":")[2:] == list(modifiers)
    svd = ids.index("SVD")
    assert segments[svd][:3] == ["SVD", "12345", "57.52"]
    assert segments[svd + 1 : svd + 3] == [["CAS", "CO", "45", "71.9"], ["CAS", "PR", "2", "14.38"]]

    (fixed,) = _claims(store, [made.claim_id])
    again = _paid(
        fixed,
        "12.00",
        Adjustment("OA", "23", D("129.42")),
        Adjustment("PR", "2", D("2.38")),
        status="2",
        payer_claim_number="AC2",
    )
    if one_file:
        posted = _post(store, tmp_path, [reverse(paid), again], "CHK-AC-2", ACME_PARTIES)
        assert [c["status"] for c in posted["claims"]] == ["corrected", "paid"]
    else:
        _post(store, tmp_path, [reverse(paid)], "CHK-AC-R", ACME_PARTIES)
        assert show_claim(store, claim.claim_id, "biller").summary.status == "corrected"
        waiting = show_claim(store, first.claim_id, "biller")
        assert waiting.summary.status == "secondary_billed"
        assert (waiting.balance["pending_secondary"], waiting.balance["patient_balance"]) == ("14.38", "0.00")
        owed = patient_balance(store, "P1")
        assert (owed["insurance_balance"], owed["patient_balance"]) == ("14.38", "0.00")
        posted = _post(store, tmp_path, [again], "CHK-AC-2", ACME_PARTIES)
        assert [c["status"] for c in posted["claims"]] == ["paid"]
    after = show_claim(store, made.claim_id, "biller").balance
    assert (after["paid"], after["insurance_balance"], after["patient_balance"]) == ("12.00", "0.00", "2.38")
    old = show_claim(store, claim.claim_id, "biller")
    assert old.summary.status == "corrected"
    assert (old.balance["paid"], old.balance["patient_balance"]) == ("0.00", "0.00")
    primary = show_claim(store, first.claim_id, "biller")
    assert primary.summary.status == "closed"
    assert (
        primary.balance["to_secondary_claim"],
        primary.balance["pending_secondary"],
        primary.balance["patient_balance"],
    ) == ("14.38", "0.00", "0.00")
    owed = patient_balance(store, "P1")
    assert (owed["insurance_balance"], owed["patient_balance"]) == ("0.00", "2.38")
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    assert _items(store, claim.claim_id) == [("PR-2", "4.38", "closed", "reversed")]
    assert _items(store, made.claim_id) == [("PR-2", "2.38", "open", None)]
