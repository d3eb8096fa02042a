"""Billing set-up, claims, acknowledgements, remittances, denials and A/R over HTTP (issue 16).

Each route calls the same workflow function as the ``ecgdesk billing|claims|remit|denials|ar`` command,
behind the one permission table. X12 files (999, 277CA, 835) are sent as the request body
(``text/plain``, ``application/edi-x12``); an 837P export is written to the service's home folder
(``claims/out``) and its text is returned as well.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam

from ecgdesk.service.deps import StoreDep, allowed
from ecgdesk.service.errors import ERRORS
from ecgdesk.service.paging import PAGED, Limit, Offset, page_headers
from ecgdesk.service.routers.studies import StudyId
from ecgdesk.workflow.claims import create_claim
from ecgdesk.workflow.claims_acks import apply_ack
from ecgdesk.workflow.claims_denials import DenialView, list_denials, work_denial
from ecgdesk.workflow.claims_export import ClaimEdits, LineEdit, correct_claim, export_claims
from ecgdesk.workflow.claims_inbound import post_remittance, unmatched
from ecgdesk.workflow.claims_schemas import (
    BillingIn,
    ClaimCreateIn,
    ClaimDetailOut,
    ClinicianIn,
    CorrectIn,
    CoverageIn,
    ExportedFileOut,
    ExportIn,
    ExportOut,
    PayerIn,
    WorkIn,
)
from ecgdesk.workflow.claims_setup import (
    add_clinician,
    add_coverage,
    add_payer,
    billing_overview,
    setup_billing,
)
from ecgdesk.workflow.claims_views import ar_aging, exported_837p, list_claims, show_claim, study_claims
from ecgdesk.workflow.permissions import Action, Principal
from ecgdesk.workflow.schemas import NoNul

router = APIRouter(prefix="/api/v1", tags=["claims"], responses=ERRORS)
Who = Principal
ClaimId = Annotated[str, PathParam(min_length=1, max_length=38, pattern=r"^[A-Za-z0-9-]+$")]
ItemId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


#: The request body of the routes that take an X12 file (999, 277CA, 835): its text, as
#: ``application/edi-x12`` (RFC 1767) or ``text/plain``. FastAPI cannot see a body the route reads itself,
#: so it is declared here, for clients and /openapi.json (as the interop orders route does for HL7 text).
X12_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The X12 interchange (ISA ... IEA), as sent by the payer or clearinghouse",
        "content": {
            "application/edi-x12": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


async def _x12_file(request: Request, store: StoreDep, kind: str) -> Path:
    """The request body saved under the home folder (the workflow reads X12 from files, like the CLI); its
    size is bounded (413) by service.body_limit before it is read."""
    data = await request.body()
    folder = Path(store.home) / "claims" / "inbound"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{hashlib.sha256(data).hexdigest()[:16]}.x12"
    # Written beside it and put in place whole: the same file sent twice at once (a double click) has the
    # same name, and rewriting it in place let the first request read it half-written (refused as broken).
    partial = folder / f".{path.name}.{secrets.token_hex(8)}"
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


@router.get("/billing")
def billing(store: StoreDep, who: Annotated[Who, allowed(Action.BILLING_READ)]) -> dict[str, Any]:
    """The billing set-up: billing provider, clinicians, payers."""
    return billing_overview(store).to_dict()


@router.put("/billing")
def billing_setup(
    body: BillingIn, store: StoreDep, who: Annotated[Who, allowed(Action.BILLING_SETUP)]
) -> dict[str, int]:
    """Create or update (by NPI) the default billing provider."""
    return {"billing_provider": setup_billing(store, body.to_setup(), who.actor)}


@router.post("/billing/clinicians", status_code=201)
def clinician(
    body: ClinicianIn, store: StoreDep, who: Annotated[Who, allowed(Action.BILLING_SETUP)]
) -> dict[str, int]:
    """Register a rendering or ordering clinician by NPI."""
    return {"clinician": add_clinician(store, body.npi, body.last, body.first, body.taxonomy, who.actor)}


@router.post("/billing/payers", status_code=201)
def payer(
    body: PayerIn, store: StoreDep, who: Annotated[Who, allowed(Action.BILLING_SETUP)]
) -> dict[str, int]:
    """Add or update a payer."""
    return {"payer": add_payer(store, body.to_setup(), who.actor)}


@router.post("/billing/coverages", status_code=201)
def coverage(
    body: CoverageIn, store: StoreDep, who: Annotated[Who, allowed(Action.COVERAGE_ADD)]
) -> dict[str, int]:
    """Add a patient's coverage."""
    return {"coverage": add_coverage(store, body.to_setup(), who.actor)}


@router.get("/claims", responses=PAGED)
def claims(
    request: Request,
    response: Response,
    store: StoreDep,
    who: Annotated[Who, allowed(Action.CLAIM_READ)],
    status: Annotated[str | None, Query(max_length=30), NoNul] = None,
    payer: Annotated[str | None, Query(max_length=80), NoNul] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """A page of claims with status and balances, newest first (the read is audited)."""
    rows = list_claims(store, who.actor, status=status, payer=payer, offset=offset, limit=limit)
    page_headers(request, response, rows, offset)
    return [c.to_dict() for c in rows]


@router.post("/claims", status_code=201)
def create(
    body: ClaimCreateIn, store: StoreDep, who: Annotated[Who, allowed(Action.CLAIM_CREATE)]
) -> dict[str, Any]:
    """Build and scrub the claim of a coded study (``scrubbed`` when clean, else ``created`` with errors)."""
    made = create_claim(store, body.study_id, who.actor)
    return {
        "claim_id": made.claim_id, "status": made.status, "errors": made.errors, "recoded": list(made.recoded)
    }


@router.get("/claims/{claim_id}", response_model=ClaimDetailOut)
def claim(
    claim_id: ClaimId, store: StoreDep, who: Annotated[Who, allowed(Action.CLAIM_READ)]
) -> dict[str, Any]:
    """One claim: lines (with CARC/RARC adjustments), findings, state history (who, when), acknowledgements,
    remittances, denial items and balance."""
    return show_claim(store, claim_id, who.actor).to_dict()


@router.get("/studies/{study_id}/claims", response_model=list[ClaimDetailOut])
def claims_of_study(
    study_id: StudyId, store: StoreDep, who: Annotated[Who, allowed(Action.CLAIM_READ)]
) -> list[dict[str, Any]]:
    """Every claim of a study (replacements included), newest first, each in full (the reads are audited)."""
    return [c.to_dict() for c in study_claims(store, study_id, who.actor)]


@router.get(
    "/claims/{claim_id}/837p",
    response_class=Response,
    responses={200: {"content": {"application/edi-x12": {}}, "description": "The 837P file"}},
)
def claim_837p(
    claim_id: ClaimId, store: StoreDep, who: Annotated[Who, allowed(Action.CLAIM_EXPORT)]
) -> Response:
    """The 837P interchange the claim last went out in, as a download (the read is audited)."""
    name, data = exported_837p(store, claim_id, who.actor)
    return Response(
        data,
        media_type="application/edi-x12",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/claims/export")
def export(
    body: ExportIn, store: StoreDep, who: Annotated[Who, allowed(Action.CLAIM_EXPORT)]
) -> ExportOut:
    """Write one 837P per payer for every claim ready to go (or the named ones) and return them: each
    file's name, claims, X12 text and the URL that downloads it again (never the server's folders)."""
    files = export_claims(store, Path(store.home) / "claims" / "out", who.actor, body.payer, body.claims)
    return ExportOut(
        files=[
            ExportedFileOut(
                name=f.path.name,
                payer=f.payer,
                claims=f.claims,
                interchange_control=f.interchange_control,
                download_url=f"/api/v1/claims/{f.claims[0]}/837p",  # any claim of the file gives it
                x12=f.path.read_text(encoding="ascii"),
            )
            for f in files
        ]
    )


@router.post("/claims/{claim_id}/correct", status_code=201)
def correct(
    claim_id: ClaimId, body: CorrectIn, store: StoreDep, who: Annotated[Who, allowed(Action.CLAIM_CORRECT)]
) -> dict[str, Any]:
    """A replacement (frequency 7) of an adjudicated claim, or a new original of a rejected one."""
    edits = ClaimEdits(
        tuple(
            LineEdit(e.line, e.code, tuple(e.modifiers) if e.modifiers is not None else None, e.units)
            for e in body.lines
        ),
        tuple(body.drop_lines),
        tuple(body.diagnoses) if body.diagnoses else None,
        body.prior_authorization,
    )
    made = correct_claim(store, claim_id, who.actor, edits)
    return {
        "original": made.original,
        "claim_id": made.claim_id,
        "frequency": made.frequency,
        "status": made.status,
        "errors": made.errors,
    }


@router.post("/claims/acks", openapi_extra=X12_BODY)
async def ack(
    request: Request, store: StoreDep, who: Annotated[Who, allowed(Action.CLAIM_ACK)]
) -> dict[str, Any]:
    """Apply a TA1, 999 or 277CA (the X12 text is the request body)."""
    return apply_ack(store, await _x12_file(request, store, "ack"), who.actor).to_dict()


@router.post("/remittances", openapi_extra=X12_BODY)
async def remit(
    request: Request, store: StoreDep, who: Annotated[Who, allowed(Action.REMIT_POST)]
) -> dict[str, Any]:
    """Post an 835 (the X12 text is the request body); refused whole when it does not check or balance."""
    return post_remittance(store, await _x12_file(request, store, "835"), who.actor).to_dict()


@router.get("/remittances/unmatched", responses=PAGED)
def unmatched_remits(
    request: Request,
    response: Response,
    store: StoreDep,
    who: Annotated[Who, allowed(Action.CLAIM_READ)],
    include_resolved: bool = False,
    offset: Offset = 0,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """A page of the claim payments for claims we cannot find, oldest first."""
    rows = unmatched(store, who.actor, include_resolved, offset=offset, limit=limit)
    page_headers(request, response, rows, offset)
    return rows


@router.get("/denials", response_model=list[DenialView], responses=PAGED)
def denials(
    request: Request,
    response: Response,
    store: StoreDep,
    who: Annotated[Who, allowed(Action.CLAIM_READ)],
    include_worked: bool = False,
    category: Annotated[str | None, Query(max_length=30), NoNul] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """A page of the denial work queue by deadline."""
    status = None if include_worked else "open"
    rows = list_denials(store, who.actor, status=status, category=category, offset=offset, limit=limit)
    page_headers(request, response, rows, offset)
    return [d.to_dict() for d in rows]


@router.post("/denials/{item_id}/work")
def work(
    item_id: ItemId, body: WorkIn, store: StoreDep, who: Annotated[Who, allowed(Action.DENIAL_WORK)]
) -> dict[str, Any]:
    """Work one denial item (appeal and reopening draft a letter; correct creates the new claim)."""
    return work_denial(store, item_id, body.action, who.actor, note=body.note).to_dict()


@router.get("/ar/aging")
def aging(
    store: StoreDep, who: Annotated[Who, allowed(Action.AR_READ)], as_of: date | None = None
) -> dict[str, Any]:
    """Open insurance balances by payer: 0-30, 31-60, 61-90, 90+ days since export."""
    return ar_aging(store, as_of).to_dict()
