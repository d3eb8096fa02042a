"""Two billers (or one biller's two tabs, or a double-clicked button) doing the same thing to the same claim
at the same moment, on PostgreSQL: each race has one winner; the other is refused in words (a 409 over
HTTP) or, where the action is idempotent, finds the winner's work. Never two claims for one study, a claim
in two 837P files, two replacements of one claim or a denial written off twice.

PostgreSQL only: SQLite's BEGIN IMMEDIATE (``store.db``) already runs writing transactions one at a time,
so there the second request always starts after the first committed (the sequential cases are in the
claims and denial work tests). Each race lets the first request wait, inside its transaction and past its
checks, until the second has either passed its checks too (the fault) or is waiting for a lock the first
holds (the mend); no timing decides the outcome (``race_builders.race_in``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from race_builders import race_in
from sqlalchemy import func, select
from workflow_builders import tiny_record  # noqa: F401

from ecgdesk.claims.payer_sim import write_835, write_999
from ecgdesk.claims.remit import Adjustment
from ecgdesk.errors import ConflictError
from ecgdesk.store import Store
from ecgdesk.store.claims_models import ClaimAckRow, ClaimRow, LedgerRow, RemittanceRow, X12Batch
from ecgdesk.store.enums import Role
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.billing import mark_billed
from ecgdesk.workflow.billing_distinct import mark_distinct
from ecgdesk.workflow.claims import create_claim
from ecgdesk.workflow.claims_acks import apply_ack
from ecgdesk.workflow.claims_denials import list_denials, work_denial
from ecgdesk.workflow.claims_export import correct_claim, export_claims
from ecgdesk.workflow.claims_inbound import post_remittance
from ecgdesk.workflow.claims_views import show_claim
from ecgdesk.workflow.permissions import Principal

sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
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

#: The modules whose first audit row of a request is where the race is held (past every check).
AUDITING = (
    "billing", "billing_distinct", "claims", "claims_acks", "claims_denials", "claims_export",
    "claims_inbound", "claims_ledger", "claims_secondary",
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    return remit_template(tmp_path_factory, tiny_record)


@pytest.fixture
def store(tmp_path: Path, template: Path) -> Iterator[Store]:
    yield from remit_store("postgresql", tmp_path, template)


def race(store: Store, monkeypatch: pytest.MonkeyPatch, call: Callable[[int], Any]) -> list[Any]:
    return race_in(store, monkeypatch, AUDITING, call)


def _count(store: Store, query: Any) -> int:
    with store.transaction() as session:
        return int(session.scalar(query) or 0)


def _refused(outcomes: list[Any]) -> list[ConflictError]:
    return [o for o in outcomes if isinstance(o, ConflictError)]


def test_one_claim_one_837p_per_study_when_two_billers_press_at_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Create claim twice at once made two claims of the study (both saw none); exporting the claim twice
    at once put it in two 837P files (both saw it scrubbed): billed twice. Marking a study billed twice
    at once recorded two submissions (two 'coding:billed' rows, each with its own reference); two
    distinct-service marks at once were both audited as replacing no mark (one was lost from the history)."""
    made = race(store, monkeypatch, lambda i: create_claim(store, 3, f"biller{i}"))
    assert _count(store, select(func.count()).select_from(ClaimRow)) == 1, made
    assert made[0].claim_id == made[1].claim_id  # the second rebuilt the first's claim, as one after another
    claim_id = made[0].claim_id
    sent = race(
        store, monkeypatch, lambda i: export_claims(store, tmp_path / f"out{i}", f"b{i}", None, [claim_id])
    )
    assert _count(store, select(func.count()).select_from(X12Batch)) == 1, sent
    (refused,) = _refused(sent)
    assert refused.field == f"claim {claim_id}" and "it is 'exported'" in refused.reason
    billed = race(store, monkeypatch, lambda i: mark_billed(store, 2, f"biller{i}", f"CLM-{i}"))
    (refused,) = _refused(billed)
    assert "cannot bill a study in status 'billed'" in refused.reason
    marks = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "coding:billed", AuditEntry.entity_id == "2"
    )
    assert _count(store, marks) == 1
    reasons = ("own order and tracing before the Holter hook-up", "separate encounter later that day")
    billers = [Principal(0, f"biller{i}", Role.BILLER, f"biller{i}", "test") for i in range(2)]
    race(store, monkeypatch, lambda i: mark_distinct(store, 1, ("XU", "XE")[i], reasons[i], billers[i]))
    with store.transaction() as session:
        query = select(AuditEntry).where(AuditEntry.action == "coding:distinct").order_by(AuditEntry.seq)
        rows = session.scalars(query).all()
        history = [(json.loads(r.before_json or "null"), json.loads(r.after_json)) for r in rows]
    # each mark names the one it replaced: the second is not recorded as replacing nothing
    assert history[0][0] is None and history[1][0] == history[0][1], history


def test_one_write_off_and_one_replacement_when_two_billers_work_a_claim_at_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two write-offs of one denial at once both booked 143.80 (the claim showed 287.60 written off and
    an insurance credit of 143.80); two corrections at once made two replacement claims of one claim."""
    (denied_claim,) = _export(store, tmp_path / "out", [1], "12345")
    denied = _paid(denied_claim, "0", Adjustment("CO", "50", denied_claim.total_charge), status="4")
    _post(store, tmp_path, [denied], "EFT-DENY", MEDICARE_PARTIES)
    (paid_claim,) = _export(store, tmp_path / "out", [3], "ACME1")
    paid = _paid(
        paid_claim,
        "80.00",
        Adjustment("CO", "45", paid_claim.total_charge - D("100.00")),
        Adjustment("PR", "2", D("20.00")),
    )
    _post(store, tmp_path, [paid], "EFT-PAID", ACME_PARTIES)
    (item,) = list_denials(store, "biller", category="necessity")
    worked = race(store, monkeypatch, lambda i: work_denial(store, item.id, "write_off", f"biller{i}"))
    (refused,) = _refused(worked)
    assert refused.field == "item" and "already worked (write_off by biller" in refused.reason
    money = show_claim(store, denied_claim.claim_id, "biller").balance
    assert (money["written_off"], money["insurance_balance"]) == ("143.80", "0.00")
    writes = select(func.count()).select_from(LedgerRow).where(LedgerRow.kind == "write_off")
    assert _count(store, writes) == 1
    before = _count(store, select(func.count()).select_from(ClaimRow))
    fixed = race(store, monkeypatch, lambda i: correct_claim(store, paid_claim.claim_id, f"biller{i}"))
    assert _count(store, select(func.count()).select_from(ClaimRow)) == before + 1, fixed
    (refused,) = _refused(fixed)
    assert "is 'corrected': nothing to correct" in refused.reason


def test_a_payer_file_posted_twice_at_once_is_applied_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same 999 applied twice at once added two acknowledgement rows (both saw it new), and the same
    835 posted twice at once failed one of the two on the database's unique remittance (a 409 "retry"
    naming nothing). Each now waits for the other and answers as one after the other: the second is a
    duplicate, applied nothing."""
    (claim,) = _export(store, tmp_path / "out", [1], "12345")
    with store.transaction() as session:
        group = str(session.scalar(select(func.max(X12Batch.id)).where(X12Batch.direction == "out")))
    ack = tmp_path / "accepted.999"
    ack.write_text(write_999(group, ["0001"], True, MEDICARE_PARTIES))
    acked = race(store, monkeypatch, lambda i: apply_ack(store, ack, f"biller{i}"))
    assert sorted(a.duplicate for a in acked) == [False, True], acked
    assert _count(store, select(func.count()).select_from(ClaimAckRow)) == 1
    paid = _paid(claim, "80.00", Adjustment("CO", "45", claim.total_charge - D("80.00")))
    remit = tmp_path / "paid.835"
    remit.write_text(write_835([paid], MEDICARE_PARTIES, "EFT-TWICE", date.today()))
    posted = race(store, monkeypatch, lambda i: post_remittance(store, remit, f"biller{i}").to_dict())
    assert sorted(p["posted"] for p in posted) == [0, 1], posted
    (again,) = [p for p in posted if not p["posted"]]
    assert "already posted" in again["duplicates"][0]["reason"]
    assert _count(store, select(func.count()).select_from(RemittanceRow)) == 1
