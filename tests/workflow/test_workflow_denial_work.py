"""Denial work against what the payer does next (claims-lifecycle.md sections 1 and 3): a denial the
biller wrote off and the payer paid anyway. Every 835 passes pyx12 (005010X221A1) before it is posted."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ecgdesk.reports.scanning")

from workflow_builders import tiny_record  # noqa: F401

from backends import BACKENDS
from ecgdesk.claims.payer_sim import reverse
from ecgdesk.claims.remit import Adjustment
from ecgdesk.store import Store
from ecgdesk.workflow.claims_denials import list_denials, work_denial
from ecgdesk.workflow.claims_views import ar_aging, show_claim

sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
from remit_builders import ACME_PARTIES, D, _export, _paid, _post, remit_store, remit_template


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    return remit_template(tmp_path_factory, tiny_record)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[Store]:
    yield from remit_store(request.param, tmp_path, template)


def test_a_denial_written_off_and_then_paid_keeps_the_payment_and_asks_no_refund(
    store: Store, tmp_path: Path
) -> None:
    """Acme denies the claim (CLP02 4, CO-50 143.80), the biller writes the denial off, and Acme pays it
    after all on reprocessing (CLP02 1: 80.00 paid, CO-45 43.80, PR-2 20.00). The payment is the
    practice's: the write-off of a denial the payer overturned no longer counts (shown on the line as
    `write_off_overturned`), so nothing is open with the payer and no refund is asked. Before, the
    write-off stayed: the claim showed a 143.80 credit (insurance balance -143.80) and an overpayment
    item asked the biller to refund 143.80 the payer never overpaid. A reversal of that payment makes the
    denial, and so its write-off, current again."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    denied = _paid(claim, "0", Adjustment("CO", "50", claim.total_charge), status="4")
    _post(store, tmp_path, [denied], "EFT-DENY", ACME_PARTIES)
    (item,) = list_denials(store, "biller")
    assert work_denial(store, item.id, "write_off", "biller").claim_status == "written_off"
    paid = _paid(
        claim,
        "80.00",
        Adjustment("CO", "45", claim.total_charge - D("100.00")),
        Adjustment("PR", "2", D("20.00")),
        payer_claim_number="2200000000002",
    )
    assert _post(store, tmp_path, [paid], "EFT-PAID", ACME_PARTIES)["claims"][0]["status"] == "paid"
    detail = show_claim(store, claim.claim_id, "biller")
    money = detail.balance
    assert (money["paid"], money["written_off"], money["denied_overturned"]) == ("80.00", "0.00", "143.80")
    assert (money["insurance_balance"], money["patient_balance"]) == ("0.00", "20.00")
    assert detail.lines[0]["write_off"] == "0.00"
    assert [a["kind"] for a in detail.lines[0]["adjustments"] if a["carc"] == "50"] == [
        "denial_overturned",
        "write_off_overturned",
    ]
    assert [i.category for i in list_denials(store, "biller")] == ["patient_responsibility"]
    assert ar_aging(store).to_dict()["total"]["total"] == "0.00"

    _post(store, tmp_path, [reverse(paid)], "EFT-REVERSE", ACME_PARTIES)
    money = show_claim(store, claim.claim_id, "biller").balance
    assert (money["paid"], money["written_off"], money["insurance_balance"]) == ("0.00", "143.80", "0.00")


def test_a_denial_written_off_then_reversed_and_paid_in_one_835_asks_no_refund(
    store: Store, tmp_path: Path
) -> None:
    """The payer's reprocessing as the TR3 writes it (claims-lifecycle.md section 2): the denial the
    biller wrote off is reversed (CLP02 22, CO-50 -143.80) and the claim paid in the same 835. The
    reversed denial no longer stands, so its write-off no longer counts; before, the claim showed a
    143.80 credit and an overpayment item to refund it."""
    (claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    denied = _paid(claim, "0", Adjustment("CO", "50", claim.total_charge), status="4")
    _post(store, tmp_path, [denied], "EFT-DENY", ACME_PARTIES)
    (item,) = list_denials(store, "biller")
    work_denial(store, item.id, "write_off", "biller")
    paid = _paid(
        claim,
        "80.00",
        Adjustment("CO", "45", claim.total_charge - D("100.00")),
        Adjustment("PR", "2", D("20.00")),
        payer_claim_number="2200000000002",
    )
    posted = _post(store, tmp_path, [reverse(denied), paid], "EFT-REPROCESS", ACME_PARTIES)
    assert [c["status"] for c in posted["claims"]] == ["reversed", "paid"]
    money = show_claim(store, claim.claim_id, "biller").balance
    assert (money["paid"], money["written_off"], money["insurance_balance"]) == ("80.00", "0.00", "0.00")
    assert [i.category for i in list_denials(store, "biller")] == ["patient_responsibility"]
