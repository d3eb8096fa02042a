"""The biller's pages: a study's billing page (derived facts, selected codes with their explanations, the
scrubber's findings, then its claims with states, lines, remittances and denial items) and the claims desk
(the denial work queue, A/R aging, recent claims, posting payer files). Reads go through the workflow's
audited views; every button calls the JSON API, which calls the same workflow function as the CLI."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ecgdesk.service.deps import StoreDep
from ecgdesk.service.routers.pages import SERVICE_NAMES
from ecgdesk.service.routers.studies import StudyId
from ecgdesk.service.web import PageRoute, page_user, render
from ecgdesk.service.web.pager import PageOffset, Pager, page_url, pager, within
from ecgdesk.workflow.billing_view import billing_view
from ecgdesk.workflow.claims_denials import list_denials
from ecgdesk.workflow.claims_inbound import unmatched
from ecgdesk.workflow.claims_views import BUCKETS, ar_aging, claim_studies, list_claims, study_claims
from ecgdesk.workflow.paging import Rows
from ecgdesk.workflow.permissions import Action, authorize
from ecgdesk.workflow.review import study_overview

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: CLP02 claim status codes as a biller reads them.
CLP_NAMES = {
    "1": "processed as primary",
    "2": "processed as secondary",
    "3": "processed as tertiary",
    "4": "denied",
    "19": "primary, forwarded",
    "20": "secondary, forwarded",
    "21": "tertiary, forwarded",
    "22": "reversal",
    "23": "not our claim, forwarded",
}
#: Rows of each of the claims desk's lists on one page.
DESK_PAGE = 50


def _soon() -> str:
    """Deadlines within two weeks are shown as due soon."""
    return (date.today() + timedelta(days=14)).isoformat()


@router.get("/studies/{study_id}/billing")
def billing_page(study_id: StudyId, request: Request, store: StoreDep) -> HTMLResponse:
    who = page_user(request)
    authorize(store, who, Action.STUDY_BILLING, "study", study_id)
    authorize(store, who, Action.CLAIM_READ, "study", study_id)
    ov = study_overview(store, study_id, who)
    bill = billing_view(store, study_id, who.actor)
    claims = study_claims(store, study_id, who.actor)
    return render(
        request,
        "billing.html.j2",
        who,
        ov=ov,
        bill=bill,
        tab="billing",
        service_names=SERVICE_NAMES,
        claims=claims,
        can_create_claim=bill.status.value == "coded" and not claims,
        clp_names=CLP_NAMES,
        studies={},
        soon=_soon(),
    )


@router.get("/claims")
def claims_desk(
    request: Request,
    store: StoreDep,
    denials_offset: PageOffset = 0,
    claims_offset: PageOffset = 0,
    unmatched_offset: PageOffset = 0,
) -> Response:
    """The desk's three lists, each ``DESK_PAGE`` rows a page with its own offset (each list's links keep
    the others' offsets)."""
    who = page_user(request)
    authorize(store, who, Action.CLAIM_READ, "claim", "*")
    authorize(store, who, Action.AR_READ, "claim", "*")
    denials = list_denials(store, who.actor, offset=denials_offset, limit=DESK_PAGE)
    claims = list_claims(store, who.actor, offset=claims_offset, limit=DESK_PAGE)
    waiting = unmatched(store, who.actor, offset=unmatched_offset, limit=DESK_PAGE)
    at = {
        "denials_offset": denials_offset, "claims_offset": claims_offset, "unmatched_offset": unmatched_offset
    }
    lists: dict[str, Rows[Any]] = {
        "denials_offset": denials, "claims_offset": claims, "unmatched_offset": waiting
    }
    fitted = {key: within(at[key], rows.total, DESK_PAGE) for key, rows in lists.items()}
    if fitted != at:  # a list past its end (e.g. its last items worked): to its last page, keeping the others
        last = fitted["unmatched_offset"]  # (named last, so the link keeps the lists' order)
        return RedirectResponse(page_url("/claims", fitted, "unmatched_offset", last), 303)

    def pg(key: str, rows: Rows[Any]) -> Pager:
        return pager("/claims", at, key, at[key], len(rows), rows.total, DESK_PAGE)

    return render(
        request,
        "claims_desk.html.j2",
        who,
        nav="claims",
        denials=denials,
        denials_pg=pg("denials_offset", denials),
        aging=ar_aging(store),
        buckets=BUCKETS,
        claims=claims,
        claims_pg=pg("claims_offset", claims),
        # the denial items' claims need not be on this page of claims: their studies are looked up
        studies=claim_studies(store, [d.claim_id for d in denials]),
        unmatched=waiting,
        unmatched_pg=pg("unmatched_offset", waiting),
        soon=_soon(),
    )
