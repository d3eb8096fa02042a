"""``/api/v1/audit``: the audit trail (of one study or all) and the chain check; administrators only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ecgdesk.service.deps import StoreDep, allowed
from ecgdesk.service.errors import ERRORS
from ecgdesk.workflow.permissions import Action, Principal
from ecgdesk.workflow.schemas import AuditPage, AuditVerifyOut
from ecgdesk.workflow.views import MAX_PAGE, audit_page, verify_audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ERRORS)


@router.get("")
def audit_log(
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.AUDIT_READ)],
    study_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditPage:
    """Who did what, when, with before and after (reading it is audited too)."""
    return audit_page(store, who.actor, study_id, offset, limit)


@router.get("/verify")
def audit_verify(store: StoreDep, who: Annotated[Principal, allowed(Action.AUDIT_VERIFY)]) -> AuditVerifyOut:
    """Walk the hash chain; name the first edited or deleted row."""
    return verify_audit(store, who.actor)
