"""Claims against claims-lifecycle.md: the payer's own timely filing limit (as set up) governs the scrubber
and the denial deadlines, and a replacement claim rejected at the 277CA is sent again as a replacement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("ecgdesk.reports.scanning")

from claims_workflow_builders import ACME, copy_store, three_coded_studies
from remit_builders import ACME_PARTIES, _post
from workflow_builders import tiny_record  # noqa: F401

from backends import BACKENDS
from ecgdesk.claims.payer_sim import Denial, PayerProfile, adjudicate
from ecgdesk.claims.schemas import claim_from_dict
from ecgdesk.store import Store
from ecgdesk.store.claims_models import ClaimRow
from ecgdesk.workflow.claims import create_claim
from ecgdesk.workflow.claims_denials import list_denials
from ecgdesk.workflow.claims_export import export_claims
from ecgdesk.workflow.claims_setup import add_payer


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    return three_coded_studies(tmp_path_factory.mktemp("claims-lifecycle"), tiny_record)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[Store]:
    opened = copy_store(template, tmp_path / "copy", request.param)
    yield opened
    opened.close()


def _claims_of(store: Store, ids: list[str]) -> list:
    with store.transaction() as session:
        rows = session.scalars(select(ClaimRow).where(ClaimRow.claim_number.in_(ids)).order_by(ClaimRow.id))
        return [claim_from_dict(json.loads(r.claim_json)["claim"]) for r in rows]


def test_the_payers_own_timely_filing_limit_governs_the_scrubber_and_the_deadlines(
    store: Store, tmp_path: Path
) -> None:
    """The biller sets Acme up with its contract's 30-day filing limit (`billing payer add
    --timely-filing-days 30`; the commercial rule set says 90). A claim 60 days after the service is late
    for Acme (CO-29, claims-lifecycle.md section 3: not appealable), so the scrubber holds it; a denial's
    correction is due 30 days after the service. Before, the stored limit was never read: the claim was
    scrubbed clean and sent, and the deadline said day 90."""
    add_payer(store, replace(ACME, timely_filing_days=30), "admin")
    made = create_claim(store, 3, "biller")
    (claim,) = _claims_of(store, [made.claim_id])
    service = claim.lines[0].date_from
    late = create_claim(store, 3, "biller", today=service + timedelta(days=60))
    assert late.status == "created"
    assert any("filing limit of 30 days" in e for e in late.errors), late.errors
    on_time = create_claim(store, 3, "biller", today=service + timedelta(days=20))
    assert on_time.status == "scrubbed", on_time.errors
    export_claims(store, tmp_path / "out", "biller", payer="ACME1")
    profile = PayerProfile("ACME HEALTH PLAN", "ACME1", deny={"93224": Denial("CO", "4", None)})
    _post(store, tmp_path, adjudicate(_claims_of(store, [made.claim_id]), profile), "CHK-ACME", ACME_PARTIES)
    (item,) = [i for i in list_denials(store, "biller") if i.carc == "4"]
    assert item.next_action == "correct"
    assert item.deadline == (service + timedelta(days=30)).isoformat()


def test_a_replacement_rejected_at_the_277ca_is_sent_again_as_a_replacement(
    store: Store, tmp_path: Path
) -> None:
    """Acme denies the claim (CO-4); the biller sends its replacement (frequency 7, REF*F8 = Acme's claim
    number 2200000000001); Acme's 277CA rejects the replacement (A7, with its own REF*1K). The replacement
    was never adjudicated, but the original was and still stands at Acme: fixed, it goes again as a
    replacement of that claim (frequency 7, the same REF*F8), not as a new original, which Acme would
    deny as a duplicate of the claim it already decided (CO-18; claims-lifecycle.md sections 1 and 3).
    Before, it was sent as frequency 1 without REF*F8."""
    import sys

    from ecgdesk.claims.payer_sim import ClaimStatus as AckStatus
    from ecgdesk.claims.payer_sim import write_277ca
    from ecgdesk.workflow.claims_acks import apply_ack
    from ecgdesk.workflow.claims_export import correct_claim
    from ecgdesk.workflow.claims_views import show_claim

    sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
    from claims_builders import pyx12_errors

    made = create_claim(store, 3, "biller")
    export_claims(store, tmp_path / "out", "biller", payer="ACME1")
    profile = PayerProfile("ACME HEALTH PLAN", "ACME1", deny={"93224": Denial("CO", "4", None)})
    _post(store, tmp_path, adjudicate(_claims_of(store, [made.claim_id]), profile), "CHK-ACME", ACME_PARTIES)
    replacement = correct_claim(store, made.claim_id, "biller")
    assert replacement.frequency == "7"
    export_claims(store, tmp_path / "out2", "biller", payer="ACME1")
    (sent,) = _claims_of(store, [replacement.claim_id])
    ack = tmp_path / "reject.277"
    ack.write_text(write_277ca([AckStatus(sent, "A7", "562", "85", "2200000000099")], ACME_PARTIES))
    assert [c["status"] for c in apply_ack(store, ack, "biller").claims] == ["rejected"]

    again = correct_claim(store, replacement.claim_id, "biller")
    assert (again.frequency, again.status) == ("7", "scrubbed"), again
    (exported,) = export_claims(store, tmp_path / "out3", "biller", payer="ACME1")
    text = exported.path.read_text()
    assert "11:B:7" in text and "REF*F8*2200000000001~" in text
    assert pyx12_errors(text, tmp_path) == []
    assert show_claim(store, replacement.claim_id, "biller").summary.status == "corrected"
    assert show_claim(store, made.claim_id, "biller").summary.status == "corrected"
