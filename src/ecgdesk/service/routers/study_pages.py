"""The pages of one study: summary, full-disclosure viewer, templates, report strips, report and signature.

Each page reads the study through :func:`ecgdesk.workflow.review.study_overview` (one audited read) after
the role check; the scripts of the page call the JSON API for the signal and every change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from ecgdesk.analysis.findings import BEAT_CLASSES
from ecgdesk.reports.events import RHYTHM_NAMES
from ecgdesk.service.deps import StoreDep
from ecgdesk.service.routers.pages import SERVICE_NAMES
from ecgdesk.service.routers.studies import StudyId
from ecgdesk.service.web import PageRoute, page_user, render
from ecgdesk.workflow.permissions import Action, allowed, authorize
from ecgdesk.workflow.review import study_overview
from ecgdesk.workflow.signing_batch import not_ready_to_sign

router = APIRouter(route_class=PageRoute, include_in_schema=False)
CLASS_NAMES = {
    "N": "Normal / sinus",
    "S": "Supraventricular ectopic",
    "V": "Ventricular ectopic",
    "F": "Fusion",
    "Q": "Unclassifiable / artefact",
}
BEAT_CLASS_LIST = [(c, CLASS_NAMES[c]) for c in BEAT_CLASSES]
EDITABLE = ("analyzed", "reported")


def _page(
    request: Request,
    store: StoreDep,
    study_id: int,
    action: Action,
    template: str,
    tab: str,
    **values: Any,
) -> HTMLResponse:
    who = page_user(request)
    authorize(store, who, action, "study", study_id)
    ov = study_overview(store, study_id, who)
    return render(
        request,
        template,
        who,
        ov=ov,
        tab=tab,
        service_names=SERVICE_NAMES,
        beat_classes=BEAT_CLASS_LIST,
        **values,
    )


@router.get("/studies/{study_id}")
def study_page(study_id: StudyId, request: Request, store: StoreDep) -> HTMLResponse:
    from ecgdesk.workflow.interop_results import list_deliveries
    from ecgdesk.workflow.monitoring_view import period_of_study_id

    # Where the signed results went (chart folder, interface engine, FHIR server) and in what state.
    deliveries = list_deliveries(store, study_id)
    return _page(
        request,
        store,
        study_id,
        Action.STUDY_READ,
        "study.html.j2",
        "summary",
        deliveries=deliveries,
        period_id=period_of_study_id(store, study_id),  # a monitored study links its period
    )


@router.get("/studies/{study_id}/viewer")
def viewer_page(
    study_id: StudyId,
    request: Request,
    store: StoreDep,
    t: Annotated[float, Query(ge=0, le=60 * 86400, description="open at this second")] = 0.0,
) -> HTMLResponse:
    who = page_user(request)
    authorize(store, who, Action.SIGNAL_READ, "study", study_id)
    ov = study_overview(store, study_id, who)
    episodes = [[e.type, round(e.start_s, 2), round(e.end_s, 2)] for e in ov.episodes]
    kinds = sorted({e.type for e in ov.episodes})
    names = {k.value: v for k, v in RHYTHM_NAMES.items()}
    return render(
        request,
        "viewer.html.j2",
        who,
        ov=ov,
        tab="viewer",
        service_names=SERVICE_NAMES,
        beat_classes=BEAT_CLASS_LIST,
        episodes=episodes,
        event_kinds=[(k, names.get(k, k)) for k in kinds],
        start_s=t,
    )


@router.get("/studies/{study_id}/templates")
def templates_page(study_id: StudyId, request: Request, store: StoreDep) -> HTMLResponse:
    who = page_user(request)
    editable = allowed(who.role, Action.BEATS_EDIT)
    return _page(
        request, store, study_id, Action.SIGNAL_READ, "templates.html.j2", "templates", editable=editable
    )


@router.get("/studies/{study_id}/strips")
def strips_page(study_id: StudyId, request: Request, store: StoreDep) -> HTMLResponse:
    return _page(request, store, study_id, Action.STUDY_READ, "strips.html.j2", "strips")


@router.get("/studies/{study_id}/report")
def report_page(study_id: StudyId, request: Request, store: StoreDep) -> HTMLResponse:
    who = page_user(request)
    authorize(store, who, Action.REPORT_READ, "study", study_id)
    ov = study_overview(store, study_id, who)
    latest = ov.study.reports[-1] if ov.study.reports else None
    signed = None
    if latest is not None and ov.study.signatures:
        last = ov.study.signatures[-1]
        signed = last if ov.study.signature_state == "valid" else None
    # why this physician cannot sign yet (the page says it in place of the button); None: they can
    sign_block = None
    if allowed(who.role, Action.STUDY_SIGN) and ov.study.status.value == "reported":
        if latest is not None and latest.reviewed_by is None and ov.changed_after_sending:
            # the analysis changed after sending (a beat edit, a re-analysis): the version shown has it
            sign_block = ("Changed after sending: the analysis changed (a beat edit or a re-analysis) and "
                          f"the report was rendered again as version {latest.version}. Read it and press "
                          "'Save and review' before signing: a signature covers a report version you "
                          "reviewed.")
        elif latest is None or latest.reviewed_by != who.username:
            sign_block = ("To sign, write your interpretation and press 'Save and review': a signature "
                          "covers a report version you reviewed.")
        elif reason := not_ready_to_sign(store, study_id, who.username):
            sign_block = f"Not ready to sign: {reason}."
    return render(
        request, "report.html.j2", who, ov=ov, tab="report", service_names=SERVICE_NAMES, signed=signed,
        sign_block=sign_block,
    )
