"""The biller's page of a study: derived facts, selected codes with their explanations, the scrubber's
findings with fixes, and "mark billed" (the claims work of issue 16 extends this page)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ecgdesk.service.deps import StoreDep
from ecgdesk.service.routers.pages import SERVICE_NAMES
from ecgdesk.service.routers.studies import StudyId
from ecgdesk.service.web import PageRoute, page_user, render
from ecgdesk.workflow.billing_view import billing_view
from ecgdesk.workflow.permissions import Action, authorize
from ecgdesk.workflow.review import study_overview

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/studies/{study_id}/billing")
def billing_page(study_id: StudyId, request: Request, store: StoreDep) -> HTMLResponse:
    who = page_user(request)
    authorize(store, who, Action.STUDY_BILLING, "study", study_id)
    ov = study_overview(store, study_id, who.actor)
    bill = billing_view(store, study_id, who.actor)
    return render(
        request, "billing.html.j2", who, ov=ov, bill=bill, tab="billing", service_names=SERVICE_NAMES
    )
