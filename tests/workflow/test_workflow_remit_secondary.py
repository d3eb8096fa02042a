"""835 posting with a second payer: a crossover payer's own 835 after Medicare's, and the later reversal
of that payer's payment (alone, or with its correction in one 835). Every 835 passes pyx12 before
it is posted."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("ecgdesk.reports.scanning")

from remit_builders import (
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
from ecgdesk.claims.model import ProfessionalClaim
from ecgdesk.claims.payer_sim import Parties, reverse
from ecgdesk.claims.remit import Adjustment, RemitClaim
from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.store.claims_models import ClaimPaymentRow, DenialItemRow
from ecgdesk.workflow.claims_denials import list_denials, work_denial
from ecgdesk.workflow.claims_inbound import post_remittance
from ecgdesk.workflow.claims_views import ar_aging, patient_balance, show_claim


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    return remit_template(tmp_path_factory, tiny_record)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[Store]:
    yield from remit_store(request.param, tmp_path, template)




def test_the_crossover_payers_own_835_settles_the_patient_share_once(store: Store, tmp_path: Path) -> None:
    """Medicare pays as primary and crosses the claims over to the Medigap plan (CLP02 19, NM1*TT);
    the Medigap plan then sends its own 835 for the same CLP01 with CLP02 2 (processed as secondary),
    restating what Medicare settled as OA-23. Its payment settles the patient share Medicare left (PR-2),
    what it leaves to the patient stays the patient's, its own CO-45 is contractual; the restated OA-23
    is not booked a second time (claims-lifecycle.md section 2: CLP02, group codes, balancing). Posted
    before Medicare's 835 (the two files out of order), the Medigap 835 is refused whole, naming its first
    such CLP and saying to post the primary's first: until 2026-12-07 it posted as the claims' first
    determination and Medicare's then booked them again (each claim 143.80 in credit with a refund item
    for it, P1 billed the 14.38 the Medigap plan paid, P2 18.76 instead of 4.38)."""

    def medigap_first(first: ProfessionalClaim, second: ProfessionalClaim) -> None:
        with pytest.raises(InputError, match=r"segment \d+ CLP02.*processed as secondary.*primary payer's"):
            _post(store, tmp_path, _medigap(first, second), "CHK-MG", MEDIGAP)
        assert list_denials(store, "biller", status=None) == []
        assert show_claim(store, first.claim_id, "biller").balance["paid"] == "0.00"

    first, second, crossed = _crossed_over(store, tmp_path, medigap_first)
    assert [c["crossover"] for c in crossed["claims"]] == [True, True]
    assert {i.next_action for i in list_denials(store, "biller")} == {"bill_patient"}
    posted = _post(store, tmp_path, _medigap(first, second), "CHK-MG", MEDIGAP)
    assert [c["status"] for c in posted["claims"]] == ["paid", "paid"]
    assert show_claim(store, first.claim_id, "biller").balance == {
        "charge": "143.80",
        "paid": "71.90",
        "contractual": "71.90",
        "denied": "0.00",
        "denied_overturned": "0.00",
        "patient_responsibility": "0.00",
        "written_off": "0.00",
        "to_secondary_claim": "0.00",
        "pending_secondary": "0.00",
        "insurance_balance": "0.00",
        "patient_balance": "0.00",
        "interest": "0.00",
    }
    other = show_claim(store, second.claim_id, "biller").balance
    shares = (other["paid"], other["contractual"], other["patient_responsibility"])
    assert shares == ("63.52", "75.90", "4.38")
    assert other["insurance_balance"] == "0.00"
    assert patient_balance(store, "P1")["patient_balance"] == "0.00"
    assert patient_balance(store, "P2")["patient_balance"] == "4.38"
    items = list_denials(store, "biller", status=None)
    assert sorted((i.claim_id, i.amount, i.status, i.worked_action) for i in items) == [
        (first.claim_id, "14.38", "closed", "later_payer"),
        (second.claim_id, "14.38", "closed", "later_payer"),
        (second.claim_id, "4.38", "open", None),
    ]
    again = post_remittance(store, tmp_path / "CHK-MG.835", "biller").to_dict()
    assert again["posted"] == 0 and again["duplicates"]
    assert patient_balance(store, "P2")["patient_balance"] == "4.38"
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"


MEDIGAP = Parties("MEDIGAP PLAN", "1777777777", "HEART DIAGNOSTICS IDTF", "1234567893")


def _crossed_over(
    store: Store,
    folder: Path,
    before: Callable[[ProfessionalClaim, ProfessionalClaim], None] | None = None,
) -> tuple[ProfessionalClaim, ProfessionalClaim, dict]:
    """Medicare pays P1's and P2's claims as primary (PR-2 14.38 left) and crosses them over (CLP02 19);
    the claims and what posting Medicare's 835 answered (``before`` runs on the claims exported, before)."""
    first, second = _export(store, folder / "out", [1, 2], "12345")
    if before is not None:
        before(first, second)
    primary = [
        _paid(
            c,
            "57.52",
            Adjustment("CO", "45", D("71.90")),
            Adjustment("PR", "2", D("14.38")),
            status="19",
            payer_claim_number=f"220000000000{n}",
            crossover="MEDIGAP PLAN",
        )
        for n, c in enumerate((first, second), start=1)
    ]
    return first, second, _post(store, folder, primary, "EFT-MC", MEDICARE_PARTIES)


def _medigap(first: ProfessionalClaim, second: ProfessionalClaim) -> list[RemitClaim]:
    """The Medigap plan's own 835: it pays P1's share whole; on P2 it pays 6.00, CO-45 4.00, PR-2 4.38."""
    return [
        _paid(first, "14.38", Adjustment("OA", "23", D("129.42")), status="2", payer_claim_number="MG1"),
        _paid(
            second,
            "6.00",
            Adjustment("OA", "23", D("129.42")),
            Adjustment("CO", "45", D("4.00")),
            Adjustment("PR", "2", D("4.38")),
            status="2",
            payer_claim_number="MG2",
        ),
    ]


def _state(store: Store, claims: Sequence[ProfessionalClaim]) -> list[tuple[object, ...]]:
    """Balances, status and denial items of ``claims`` (what a biller sees)."""
    found: list[tuple[object, ...]] = []
    for claim in claims:
        detail = show_claim(store, claim.claim_id, "biller")
        items = list_denials(store, "biller", claim=claim.claim_id, status=None)
        found.append(
            (
                detail.summary.status,
                detail.balance,
                sorted((i.group, i.carc, i.amount, i.status, i.next_action) for i in items),
            )
        )
    return found


def test_a_secondary_payers_reversal_reopens_the_patient_share_it_had_settled(
    store: Store, tmp_path: Path
) -> None:
    """The Medigap plan (CLP02 2 after Medicare's crossover) later reverses its payment (CLP02 22, its
    amounts negated, its codes kept: claims-lifecycle.md section 2, reversal + correction). Its OA-23 restated
    Medicare's determination, so its reversal must not be booked as a contractual credit either; the claims
    must be exactly as after Medicare's payment: Medicare's paid and contractual amounts, the PR-2 share on
    the patient with its bill_patient item open. P2's claim had closed once its last item (the Medigap
    plan's PR-2) was worked: it is open again, as Medicare left it."""
    first, second, _ = _crossed_over(store, tmp_path)
    before = _state(store, (first, second))
    settled = _medigap(first, second)
    _post(store, tmp_path, settled, "CHK-MG", MEDIGAP)
    assert patient_balance(store, "P1")["patient_balance"] == "0.00"
    (left,) = list_denials(store, "biller", claim=second.claim_id)
    with pytest.raises(InputError, match="only an overpayment item is refunded"):
        work_denial(store, left.id, "refund", "biller")
    assert work_denial(store, left.id, "bill_patient", "biller").claim_status == "closed"
    posted = _post(store, tmp_path, [reverse(c) for c in settled], "CHK-MG-R", MEDIGAP)
    assert [c["status"] for c in posted["claims"]] == ["paid", "paid"]  # Medicare's determination stands
    after = _state(store, (first, second))
    assert [(status, balance) for status, balance, _ in after] == [(s, b) for s, b, _ in before]
    assert after[0][1]["patient_balance"] == "14.38" and after[0][1]["insurance_balance"] == "0.00"
    assert after[0][2] == [("PR", "2", "14.38", "open", "bill_patient")]
    assert after[1][2] == [
        ("PR", "2", "14.38", "open", "bill_patient"),
        ("PR", "2", "4.38", "worked", "bill_patient"),
    ]
    assert patient_balance(store, "P1")["patient_balance"] == "14.38"
    assert patient_balance(store, "P2")["patient_balance"] == "14.38"
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"


def test_a_secondary_payers_reversal_and_correction_in_one_835_settle_the_share_once(
    store: Store, tmp_path: Path
) -> None:
    """The Medigap plan reverses its payment on P2's claim (6.00 paid, CO-45 4.00, PR-2 4.38) and pays it
    again in the same 835 (CLP02 2: 10.00 paid, PR-1 4.38), the reversal first (claims-lifecycle.md
    section 2, reversal + correction): the correction settles Medicare's reopened share once, its own
    CO-45 is gone with the reversal, and only its new PR-1 is left to the patient."""
    first, second, _ = _crossed_over(store, tmp_path)
    settled = _medigap(first, second)
    _post(store, tmp_path, settled, "CHK-MG", MEDIGAP)
    again = _paid(
        second,
        "10.00",
        Adjustment("OA", "23", D("129.42")),
        Adjustment("PR", "1", D("4.38")),
        status="2",
        payer_claim_number="MG3",
    )
    _post(store, tmp_path, [reverse(settled[1]), again], "CHK-MG-2", MEDIGAP)
    (state,) = _state(store, (second,))
    assert state[1] == {
        "charge": "143.80",
        "paid": "67.52",
        "contractual": "71.90",
        "denied": "0.00",
        "denied_overturned": "0.00",
        "patient_responsibility": "4.38",
        "written_off": "0.00",
        "to_secondary_claim": "0.00",
        "pending_secondary": "0.00",
        "insurance_balance": "0.00",
        "patient_balance": "4.38",
        "interest": "0.00",
    }
    assert [(i[1], i[2], i[3]) for i in state[2]] == [
        ("1", "4.38", "open"),
        ("2", "14.38", "closed"),
        ("2", "4.38", "closed"),
    ]
    assert patient_balance(store, "P2")["patient_balance"] == "4.38"


def test_a_secondary_payers_reversal_reopens_only_what_its_payment_closed(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Medigap plan pays P2's claim (MG2: PR-2 4.38 left), then pays that 4.38 too (MG9, a later 835),
    which closes MG2's PR-2 item; then it reverses MG2. The reversal reopens Medicare's share that MG2 had
    settled, and nothing MG9 closed (claims-lifecycle.md section 2, reversal + correction). The 835s are
    posted within one reading of the clock (a coarse clock, or one set back): before, the items to reopen
    were found by their closing time equal to MG2's posting time, so MG9's closing of MG2's own item, at the
    same time, was undone as well."""
    clock = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    monkeypatch.setattr("ecgdesk.workflow.claims_inbound.now", lambda: clock)
    first, second, _ = _crossed_over(store, tmp_path)
    settled = _medigap(first, second)
    _post(store, tmp_path, [settled[1]], "CHK-MG", MEDIGAP)
    rest = _paid(second, "4.38", Adjustment("OA", "23", D("139.42")), status="2", payer_claim_number="MG9")
    _post(store, tmp_path, [rest], "CHK-MG-9", MEDIGAP)
    closed = list_denials(store, "biller", claim=second.claim_id, status=None)
    assert sorted((i.amount, i.worked_action) for i in closed) == [
        ("14.38", "later_payer"),
        ("4.38", "later_payer"),
    ]
    _post(store, tmp_path, [reverse(settled[1])], "CHK-MG-R", MEDIGAP)
    items = list_denials(store, "biller", claim=second.claim_id, status=None)
    # MG2's own item stays closed, now as reversed: its payment no longer stands, so a later reversal of
    # MG9 must not reopen it either (test_a_third_payers_reversal_reopens_nothing_of_...)
    assert sorted((i.amount, i.status, i.worked_action) for i in items) == [
        ("14.38", "open", None),
        ("4.38", "closed", "reversed"),
    ]


def test_a_database_at_0016_keeps_the_link_of_the_items_a_secondary_payment_closed(
    store: Store, tmp_path: Path
) -> None:
    """Revision 0017 adds denial_items.closed_by_payment_id. A database at 0016 holding the items the Medigap
    plan's payment closed (later_payer) is upgraded at open: each item names that payment (found once by
    the old rule, its closing time), so the plan's later reversal still reopens Medicare's share."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from ecgdesk.store import open_store
    from ecgdesk.store.db import MIGRATIONS

    first, second, _ = _crossed_over(store, tmp_path)
    settled = _medigap(first, second)
    _post(store, tmp_path, settled, "CHK-MG", MEDIGAP)
    url, home = store.engine.url, store.home
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0016")
    with store.engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("denial_items")}
    assert "closed_by_payment_id" not in columns
    store.close()
    reopened = open_store(url=url.render_as_string(hide_password=False), home=home)
    try:
        with reopened.transaction() as session:
            linked = session.execute(
                select(DenialItemRow.worked_action, ClaimPaymentRow.payer_claim_number)
                .join(ClaimPaymentRow, DenialItemRow.closed_by_payment_id == ClaimPaymentRow.id)
                .order_by(DenialItemRow.id)
            ).all()
        assert [tuple(row) for row in linked] == [("later_payer", "MG1"), ("later_payer", "MG2")]
        _post(reopened, tmp_path, [reverse(settled[0])], "CHK-MG-R", MEDIGAP)
        items = list_denials(reopened, "biller", claim=first.claim_id, status=None)
        assert [(i.amount, i.status) for i in items] == [("14.38", "open")]
    finally:
        reopened.close()


TERTIARY = Parties("TERTIARY PLAN", "1666666666", "HEART DIAGNOSTICS IDTF", "1234567893")


def test_a_third_payers_reversal_reopens_nothing_of_a_second_payment_reversed_since(
    store: Store, tmp_path: Path
) -> None:
    """A third payer (CLP02 3) pays the 4.38 the Medigap plan left on P2's claim, closing the plan's PR-2
    item; the Medigap plan then reverses its payment (Medicare's 14.38 share is the patient's again), and
    later the third payer reverses its own. The third payer's reversal gives back the share it had taken
    over, but the item it had closed belongs to a payment that no longer stands: it stays closed
    (reversed), and the patient's open items are Medicare's share alone, equal to what the patient owes
    (claims-lifecycle.md section 2, reversal + correction; each reversal undoes its own payment only).
    Before, the third payer's reversal reopened the Medigap plan's 4.38 beside Medicare's 14.38."""
    first, second, _ = _crossed_over(store, tmp_path)
    settled = _medigap(first, second)
    _post(store, tmp_path, [settled[1]], "CHK-MG", MEDIGAP)
    third = _paid(second, "4.38", Adjustment("OA", "23", D("139.42")), status="3", payer_claim_number="T1")
    assert [c["status"] for c in _post(store, tmp_path, [third], "CHK-T", TERTIARY)["claims"]] == ["paid"]
    assert [(i.amount, i.worked_action) for i in list_denials(store, "biller", claim=second.claim_id,
                                                                status=None)] == [
        ("14.38", "later_payer"),
        ("4.38", "later_payer"),
    ]
    _post(store, tmp_path, [reverse(settled[1])], "CHK-MG-R", MEDIGAP)
    _post(store, tmp_path, [reverse(third)], "CHK-T-R", TERTIARY)
    items = list_denials(store, "biller", claim=second.claim_id, status=None)
    assert sorted((i.amount, i.status, i.worked_action) for i in items) == [
        ("14.38", "open", None),
        ("4.38", "closed", "reversed"),
    ]
    assert patient_balance(store, "P2")["patient_balance"] == "14.38"
    balance = show_claim(store, second.claim_id, "biller").balance
    assert (balance["paid"], balance["patient_balance"], balance["insurance_balance"]) == (
        "57.52",
        "14.38",
        "0.00",
    )


def test_the_payer_billed_as_primary_answering_as_secondary_is_posted(store: Store, tmp_path: Path) -> None:
    """Medicare, billed as the primary payer, processes P2's claim as secondary (CLP02 2: it knows of
    another coverage primary, Medicare as secondary payer). That 835 came from the claim's own payer (its
    TRN03 paid P1's claim as primary before): it is no crossover file posted out of order, and refusing it
    whole (as the out-of-order check did at first) held every other patient's payment in it. It posts."""
    first, second = _export(store, tmp_path / "out", [1, 2], "12345")
    share = Adjustment("PR", "2", D("14.38"))
    _post(store, tmp_path, [_paid(first, "57.52", Adjustment("CO", "45", D("71.90")), share)], "EFT-1",
          MEDICARE_PARTIES)
    answer = _paid(second, "0.00", Adjustment("OA", "23", D("143.80")), status="2", payer_claim_number="M2")
    posted = _post(store, tmp_path, [answer], "EFT-2", MEDICARE_PARTIES)
    assert posted["posted"] == 1 and posted["claims"][0]["claim_id"] == second.claim_id, posted
    assert posted["claims"][0]["clp_status"] == "2"  # (another payer's such file first: the test above)
