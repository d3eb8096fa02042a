"""The attended-monitoring queue screen: every open strip, most pressing first, refreshed by itself, with
the counts per priority and the overdue ones; a technician opens an item and closes it with what was done.
And one monitoring period's page (linked from an opened item and from the study page).

The queue page holds no data of its own: its script reads ``GET /api/v1/monitoring/queue`` and closes items
through ``POST /api/v1/monitoring/queue/{id}/review`` (the permission table and the audit log as for any
client). The period page shows :func:`~ecgdesk.workflow.monitoring_view.period_view`, the read the API and
``ecgdesk monitor show`` make (audited).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from ecgdesk.service.deps import StoreDep
from ecgdesk.service.web import PageRoute, page_user, render
from ecgdesk.service.web.pager import PageOffset
from ecgdesk.workflow.monitoring_queue import CHANNELS, NOTICE_TIERS
from ecgdesk.workflow.monitoring_view import period_view
from ecgdesk.workflow.permissions import Action, authorize

router = APIRouter(route_class=PageRoute, include_in_schema=False)
EnrolmentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
SERVICES = {"event_monitor": "Event monitor", "mobile_telemetry": "Mobile cardiac telemetry"}
#: Seconds between two reads of the queue: well inside the shortest due time (emergent, minutes).
REFRESH_S = 15
#: Items on one page of the queue screen (the counts above it are of the whole queue).
QUEUE_PAGE = 100
PRIORITIES = ("emergent", "urgent", "routine", "unreadable")
ACTIONS = {
    "reviewed": "Reviewed, no action",
    "notified": "Physician notified",
    "escalated": "Escalated to the on-call physician",
    "patient_contacted": "Patient contacted",
}
#: What the strip classifier's labels mean, offered as the rhythm a technician confirms (or changes).
RHYTHM_NAMES = {
    "N": "sinus rhythm",
    "A": "atrial fibrillation or flutter",
    "O": "other rhythm",
    "~": "unreadable",
}
RHYTHMS = (
    "sinus rhythm",
    "sinus bradycardia",
    "sinus tachycardia",
    "sinus pause",
    "atrial fibrillation",
    "atrial flutter",
    "supraventricular tachycardia",
    "ventricular tachycardia",
    "non-sustained ventricular tachycardia",
    "ventricular fibrillation",
    "second-degree AV block, Mobitz II",
    "complete heart block",
    "frequent PVCs",
    "artefact / lead off",
)


@router.get("/monitoring")
def queue_page(request: Request, store: StoreDep, offset: PageOffset = 0) -> HTMLResponse:
    """The queue screen; its script shows ``QUEUE_PAGE`` items from ``offset`` (``?offset=``)."""
    who = page_user(request)
    authorize(store, who, Action.MONITOR_QUEUE_READ)
    return render(
        request,
        "monitoring_queue.html.j2",
        who,
        nav="monitoring",
        priorities=PRIORITIES,
        actions=ACTIONS,
        channels=CHANNELS,
        tiers=NOTICE_TIERS,
        refresh_s=REFRESH_S,
        rhythms=RHYTHMS,
        rhythm_names=RHYTHM_NAMES,
        offset=offset,
        page_size=QUEUE_PAGE,
    )


@router.get("/monitoring/periods/{enrolment_id}")
def period_page(enrolment_id: EnrolmentId, request: Request, store: StoreDep) -> HTMLResponse:
    who = page_user(request)
    authorize(store, who, Action.MONITOR_PERIOD_READ, "enrolment", enrolment_id)
    view = period_view(store, enrolment_id, who.actor)
    return render(request, "monitoring_period.html.j2", who, nav="monitoring", p=view, service_names=SERVICES)
