"""The attended-monitoring queue screen: every open strip, most pressing first, refreshed by itself, with
the counts per priority and the overdue ones; a technician opens an item and closes it with what was done.

The page holds no data of its own: its script reads ``GET /api/v1/monitoring/queue`` and closes items
through ``POST /api/v1/monitoring/queue/{id}/review`` (the permission table and the audit log as for any
client).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ecgdesk.service.deps import StoreDep
from ecgdesk.service.web import PageRoute, page_user, render
from ecgdesk.workflow.monitoring_queue import CHANNELS, NOTICE_TIERS
from ecgdesk.workflow.permissions import Action, authorize

router = APIRouter(route_class=PageRoute, include_in_schema=False)
#: Seconds between two reads of the queue: well inside the shortest due time (emergent, minutes).
REFRESH_S = 15
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
def queue_page(request: Request, store: StoreDep) -> HTMLResponse:
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
    )
