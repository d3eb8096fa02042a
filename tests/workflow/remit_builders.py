"""The remittance case tests' shared pieces: the store of three coded studies (both backends), the
claims exported to a payer, and the simulated payer's one-line answers posted through pyx12."""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("ecgdesk.reports.scanning")

from claims_workflow_builders import copy_store, three_coded_studies

from ecgdesk.claims.model import ProfessionalClaim
from ecgdesk.claims.payer_sim import Parties, write_835
from ecgdesk.claims.remit import Adjustment, RemitClaim, RemitLine
from ecgdesk.claims.schemas import claim_from_dict
from ecgdesk.store import Store
from ecgdesk.store.claims_models import ClaimRow
from ecgdesk.workflow.claims import create_claim
from ecgdesk.workflow.claims_export import export_claims
from ecgdesk.workflow.claims_inbound import post_remittance

sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
from claims_builders import pyx12_errors

MEDICARE_PARTIES = Parties("MEDICARE PART B", "1999999999", "HEART DIAGNOSTICS IDTF", "1234567893")
ACME_PARTIES = Parties("ACME HEALTH PLAN", "1888888888", "HEART DIAGNOSTICS IDTF", "1234567893")
D = Decimal


def remit_template(tmp_path_factory: pytest.TempPathFactory, record: Path) -> Path:
    """Three coded studies to copy for each test (a module-scoped fixture's body)."""
    return three_coded_studies(tmp_path_factory.mktemp("remit"), record)


def remit_store(backend: str, tmp_path: Path, template: Path) -> Iterator[Store]:
    """A copy of the template on ``backend`` (a fixture's body), closed afterwards."""
    opened = copy_store(template, tmp_path / "copy", backend)
    yield opened
    opened.close()


def _claims(store: Store, ids: Sequence[str]) -> list[ProfessionalClaim]:
    with store.transaction() as session:
        rows = session.scalars(select(ClaimRow).where(ClaimRow.claim_number.in_(ids)).order_by(ClaimRow.id))
        return [claim_from_dict(json.loads(r.claim_json)["claim"]) for r in rows]


def _export(store: Store, folder: Path, studies: Sequence[int], payer: str) -> list[ProfessionalClaim]:
    ids = [create_claim(store, s, "biller").claim_id for s in studies]
    export_claims(store, folder, "biller", payer=payer)
    return _claims(store, ids)


def _paid(
    claim: ProfessionalClaim,
    paid: str,
    *adjustments: Adjustment,
    status: str = "1",
    payer_claim_number: str = "2200000000001",
    crossover: str | None = None,
    remarks: tuple[str, ...] = (),
) -> RemitClaim:
    """The payer's answer on our one-line claim: the line paid ``paid`` with line-level ``adjustments``."""
    billed = claim.lines[0]
    line = RemitLine(
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
        remarks,
        None,
        0,
    )
    patient = sum((a.amount for a in adjustments if a.group == "PR"), D(0))
    return RemitClaim(
        claim.claim_id,
        status,
        claim.total_charge,
        D(paid),
        patient,
        # CLP06 has its own code list: the 837's CI (commercial) is not in it, 12 (PPO) is
        "MB" if claim.payer.filing_indicator == "MB" else "12",
        payer_claim_number,
        (),
        (line,),
        "DOE, JANE",
        crossover,
        (),
        billed.date_from,
        None,
        0,
    )


def _post(store: Store, folder: Path, claims: list[RemitClaim], trace: str, parties: Parties) -> dict:
    text = write_835(claims, parties, trace, date.today())
    assert pyx12_errors(text, folder) == []
    path = folder / f"{trace}.835"
    path.write_text(text)
    return post_remittance(store, path, "biller").to_dict()
