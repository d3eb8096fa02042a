"""Demo billing set-up and a simulated payer, so the demo study can be claimed, exported and posted.

``demo_billing`` registers a demo IDTF as billing provider, the demo ordering clinician, a Medicare
Part B payer (test usage) and the demo patient's Medicare coverage. ``simulate_payer`` answers an
exported 837P the way a MAC and its clearinghouse would: a 999, a 277CA (claims accepted into
adjudication with payer claim numbers) and an 835 priced from the shipped CMS RVU table (80 % of the
allowed amount paid, 20 % coinsurance), optionally denying some codes, for training and tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from ecgdesk.claims.payer_sim import (
    ClaimStatus,
    Denial,
    Parties,
    PayerProfile,
    adjudicate,
    write_277ca,
    write_835,
    write_999,
)
from ecgdesk.claims.schemas import claim_from_dict
from ecgdesk.coding import Setting
from ecgdesk.coding.refdata import RefData
from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.store.claims_models import ClaimRow, PayerRow, X12Batch
from ecgdesk.workflow.claims_setup import (
    BillingSetup,
    CoverageSetup,
    PayerSetup,
    add_clinician,
    add_coverage,
    add_payer,
    setup_billing,
)
from ecgdesk.workflow.permissions import audit_read

DEMO_BILLING = BillingSetup(
    name="ECG Desk Demo IDTF",
    npi="1234567893",
    tin="99-1234567",
    taxonomy="261QD0000X",
    address1="100 Main Street",
    city="Springfield",
    state="IL",
    zip="62701-1234",
    contact_name="Demo Billing Office",
    contact_phone="217-555-0100",
    submitter_id="ECGDESKDEMO",
    claim_prefix="DEMO",
)
DEMO_PAYER = PayerSetup(
    "Medicare Part B (demo MAC)", "DEMOMAC", "MB", "medicare-mac", receiver_id="DEMOMAC", usage="T"
)


def demo_billing(store: Store, patient_id: str, ordering_npi: str, actor: str) -> None:
    """Billing provider, ordering clinician, Medicare payer and the demo patient's coverage."""
    setup_billing(store, DEMO_BILLING, actor)
    add_clinician(store, ordering_npi, "Order", "Oliver", "207R00000X", actor)
    add_payer(store, DEMO_PAYER, actor)
    add_coverage(
        store,
        CoverageSetup(
            patient_id,
            DEMO_PAYER.payer_id,
            "1EG4TE5MK73",
            "5 Elm Street",
            "Springfield",
            "IL",
            "62702",
            effective_from=date(2021, 1, 1),
        ),
        actor,
    )


@dataclass(frozen=True)
class SimulatedFiles:
    ack999: Path
    ack277: Path
    remit835: Path


def simulate_payer(
    store: Store,
    exported: Path,
    out_dir: Path,
    actor: str,
    deny: tuple[str, ...] = (),
    payment_date: date | None = None,
) -> SimulatedFiles:
    """The 999, 277CA and 835 a payer would send for one of our exported 837P files."""
    exported = Path(exported).resolve()
    with store.transaction() as session:
        batch = session.scalar(
            select(X12Batch).where(X12Batch.direction == "out", X12Batch.path == str(exported))
        )
        if batch is None:
            raise InputError("FILE", "not an 837P exported from this database", exported)
        payer = session.get(PayerRow, batch.payer_id)
        rows = list(
            session.scalars(select(ClaimRow).where(ClaimRow.batch_id == batch.id).order_by(ClaimRow.id))
        )
        claims = [claim_from_dict(json.loads(r.claim_json)["claim"]) for r in rows]
        audit_read(session, actor, "claims", "x12_batch", batch.id, {"simulated_payer": True})
    assert payer is not None
    day = payment_date or date.today()
    refdata = RefData.from_env()
    fees = {}
    for claim in claims:
        for line in claim.lines:
            row = refdata.rvu(Setting.PRACTITIONER, line.date_from).value(line.code)
            if row is not None:
                fees[line.code] = Decimal(str(row.payment_nonfacility))
    profile = PayerProfile(
        payer.name.upper(),
        payer.payer_id,
        fee_schedule=fees,
        deny={code: Denial("CO", "50", "N115") for code in deny},
    )
    parties = Parties(
        payer.name.upper(),
        "1" + "9" * 9,
        claims[0].billing.name,
        claims[0].billing.npi,
        sender_id=payer.receiver_id,
        receiver_id=claims[0].billing.name[:15].upper().replace(" ", ""),
    )
    decided = adjudicate(claims, profile)
    when = datetime.combine(day, datetime.min.time())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = SimulatedFiles(
        out_dir / f"999-{batch.id}.x12", out_dir / f"277CA-{batch.id}.x12", out_dir / f"835-{batch.id}.x12"
    )
    files.ack999.write_text(write_999(str(batch.id), ["0001"], True, parties, batch.id, when))
    statuses = [
        ClaimStatus(c, "A2", "20", payer_claim_number=d.payer_claim_number)
        for c, d in zip(claims, decided, strict=True)
    ]
    files.ack277.write_text(write_277ca(statuses, parties, batch.id, when))
    files.remit835.write_text(write_835(decided, parties, f"SIM{batch.id:07d}", day, batch.id, when=when))
    return files
