"""Tertiary claims we bill ourselves (COB with three payers): Medicare pays as primary, Acme's secondary
claim (billed from Medicare's PR item) leaves a patient share, and the patient's third coverage (Medicaid)
is billed for it from Acme's PR item: SBR01 T with a 2320/2330A/2330B loop for each earlier payer (its
AMT*D and CAS as its 835 gave them, its claim number) and per line a 2430 per earlier payer. Medicaid's
835 posts on that claim and settles the share Acme left; every X12 file passes pyx12 (claims.md 1.2;
claims-lifecycle.md section 3: secondary 837s carry the earlier payer's CAS by group code and its claim
number)."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("ecgdesk.reports.scanning")

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
from workflow_builders import tiny_record  # noqa: F401

from backends import BACKENDS
from ecgdesk.claims.payer_sim import Parties
from ecgdesk.claims.remit import Adjustment
from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.workflow.claims_denials import list_denials, work_denial
from ecgdesk.workflow.claims_export import export_claims
from ecgdesk.workflow.claims_setup import CoverageSetup, PayerSetup, add_coverage, add_payer
from ecgdesk.workflow.claims_views import ar_aging, patient_balance, show_claim

sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
from claims_builders import pyx12_errors

MEDICAID = PayerSetup("State Medicaid", "MCD01", "MC", "medicaid-default")
MEDICAID_PARTIES = Parties("STATE MEDICAID", "1777777777", "HEART DIAGNOSTICS IDTF", "1234567893")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    return remit_template(tmp_path_factory, tiny_record)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[Store]:
    yield from remit_store(request.param, tmp_path, template)


def _coverage(store: Store, payer: str, member: str, priority: str) -> None:
    setup = CoverageSetup(
        "P1", payer, member, "5 Elm St", "Springfield", "IL", "62702", priority=priority,
        group_number="GRP77" if priority == "secondary" else "", effective_from=date(2020, 1, 1),
    )
    add_coverage(store, setup, "admin")


def _segments(text: str) -> list[list[str]]:
    return [s.strip().split("*") for s in text.split("~") if s.strip()]


def _secondary_paid(store: Store, tmp_path: Path) -> tuple[str, str]:
    """Medicare paid P1's claim (PR-2 14.38 left), billed to Acme, Acme paid 10.00 (PR-2 4.38 left):
    (the primary claim, the secondary claim)."""
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
    (secondary,) = _claims(store, [worked.new_claim])
    acme = _paid(
        secondary,
        "10.00",
        Adjustment("OA", "23", D("129.42")),
        Adjustment("PR", "2", D("4.38")),
        status="2",
        payer_claim_number="AC1",
    )
    _post(store, tmp_path, [acme], "CHK-AC", ACME_PARTIES)
    return first.claim_id, worked.new_claim


def test_the_share_the_secondary_left_is_billed_to_the_tertiary_payer_and_settled_by_its_835(
    store: Store, tmp_path: Path
) -> None:
    """P1 has Medicare, Acme and Medicaid. Acme's PR-2 4.38 is Medicaid's to see: its item's next action is
    bill_secondary (the next payer, by Medicaid's own filing limit), which builds the tertiary claim: SBR01
    T, a 2320 loop for Medicare (SBR01 P, AMT*D 57.52, 2330B REF*F8 its number) and one for Acme (SBR01 S,
    AMT*D 10.00, its CAS OA-23 and PR-2 as its 835 gave them, REF*F8 AC1), and per line two 2430 (SVD 57.52
    and 10.00). Its insurance balance is the 4.38; the secondary claim goes `secondary_billed` with the
    4.38 pending, not owed by the patient. Medicaid's 835 (CLP02 3) pays it: the secondary claim closes
    with the 4.38 transferred once, nobody owes anything, the A/R is 0. Before, the item said bill_patient
    and bill_secondary on it was refused ('itself billed to a S payer, not the primary')."""
    _coverage(store, "ACME1", "ACM55501", "secondary")
    add_payer(store, MEDICAID, "admin")
    _coverage(store, "MCD01", "MCD4444", "tertiary")
    first, second = _secondary_paid(store, tmp_path)
    (item,) = list_denials(store, "biller", claim=second)
    assert (item.amount, item.next_action) == ("4.38", "bill_secondary")

    worked = work_denial(store, item.id, "bill_secondary", "biller")
    assert worked.claim_status == "secondary_billed" and worked.new_claim
    third = show_claim(store, worked.new_claim, "biller")
    assert third.summary.status == "scrubbed"
    assert third.secondary_of == second
    assert third.balance["insurance_balance"] == "4.38"
    middle = show_claim(store, second, "biller")
    assert middle.secondary_claims == [worked.new_claim]
    assert (middle.balance["pending_secondary"], middle.balance["patient_balance"]) == ("4.38", "0.00")
    owed = patient_balance(store, "P1")
    assert (owed["insurance_balance"], owed["patient_balance"]) == ("4.38", "0.00")

    (exported,) = export_claims(store, tmp_path / "ter", "biller", payer="MCD01")
    assert ar_aging(store).to_dict()["total"]["total"] == "4.38"  # once, on the tertiary claim
    text = exported.path.read_text()
    assert pyx12_errors(text, tmp_path) == []
    segments = _segments(text)
    ids = [s[0] for s in segments]
    sbr = [s for s in segments if s[0] == "SBR"]
    assert [s[1] for s in sbr] == ["T", "P", "S"] and sbr[0][9] == "MC"
    assert (sbr[1][9], sbr[2][9]) == ("MB", "CI")
    medicare = ids.index("SBR", ids.index("HI"))
    assert ids[medicare : medicare + 6] == ["SBR", "AMT", "OI", "NM1", "NM1", "REF"]
    assert segments[medicare + 1] == ["AMT", "D", "57.52"]
    assert segments[medicare + 4][-2:] == ["PI", "12345"]
    assert segments[medicare + 5] == ["REF", "F8", "2200000000001"]
    acme = ids.index("SBR", medicare + 1)
    assert ids[acme : acme + 6] == ["SBR", "AMT", "OI", "NM1", "NM1", "REF"]
    assert segments[acme + 1] == ["AMT", "D", "10"]
    assert segments[acme + 3][-1] == "ACM55501"
    assert segments[acme + 4][-2:] == ["PI", "ACME1"]
    assert segments[acme + 5] == ["REF", "F8", "AC1"]
    svds = [n for n, s in enumerate(segments) if s[0] == "SVD"]
    assert [segments[n][1:3] for n in svds] == [["12345", "57.52"], ["ACME1", "10"]]
    assert segments[svds[0] + 1 : svds[0] + 3] == [["CAS", "CO", "45", "71.9"], ["CAS", "PR", "2", "14.38"]]
    assert segments[svds[1] + 1 : svds[1] + 3] == [["CAS", "OA", "23", "129.42"], ["CAS", "PR", "2", "4.38"]]

    (claim,) = _claims(store, [worked.new_claim])
    medicaid = _paid(
        claim, "4.38", Adjustment("OA", "23", D("139.42")), status="3", payer_claim_number="MD1"
    )
    posted = _post(store, tmp_path, [medicaid], "CHK-MD", MEDICAID_PARTIES)
    assert [c["status"] for c in posted["claims"]] == ["paid"]
    after = show_claim(store, worked.new_claim, "biller").balance
    assert (after["paid"], after["insurance_balance"], after["patient_balance"]) == ("4.38", "0.00", "0.00")
    middle = show_claim(store, second, "biller")
    assert middle.summary.status == "closed"
    assert (
        middle.balance["to_secondary_claim"],
        middle.balance["pending_secondary"],
        middle.balance["patient_balance"],
    ) == ("4.38", "0.00", "0.00")
    primary = show_claim(store, first, "biller")
    assert primary.summary.status == "closed" and primary.balance["patient_balance"] == "0.00"
    owed = patient_balance(store, "P1")
    assert (owed["insurance_balance"], owed["patient_balance"]) == ("0.00", "0.00")
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"
    assert list_denials(store, "biller", claim=worked.new_claim) == []


def test_without_a_third_payer_the_secondarys_share_is_the_patients(store: Store, tmp_path: Path) -> None:
    """P1 has Medicare and Acme only: Acme's PR-2 4.38 is the patient's (bill_patient), and bill_secondary
    on it is refused with the reason, nothing changed."""
    _coverage(store, "ACME1", "ACM55501", "secondary")
    _, second = _secondary_paid(store, tmp_path)
    (item,) = list_denials(store, "biller", claim=second)
    assert item.next_action == "bill_patient"
    with pytest.raises(InputError, match="no tertiary coverage"):
        work_denial(store, item.id, "bill_secondary", "biller")
    assert show_claim(store, second, "biller").summary.status == "paid"
    assert [i.status for i in list_denials(store, "biller", claim=second)] == ["open"]
