"""One attended-queue item as a technician opens it, one monitoring period, and a patient's daily report.

``GET /api/v1/monitoring/queue/{item_id}``: the strip in mV with its beat labels (labelled once, at the
first view, then read back), the classifier's reading, the criteria in force and the patient's recent items.
``GET /api/v1/monitoring/enrolments/{enrolment_id}``: the period (dates, recorders and their swaps, criteria
versions, counts, billing state).
``GET /api/v1/monitoring/enrolments/{enrolment_id}/daily?date=D[&format=pdf]``: the day's report as JSON
or as the PDF (each notified event with its strip on the grid and its notification log). Both are reads of
patient data, audited in the workflow functions the CLI calls too.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ecgdesk.service.deps import StoreDep, allowed
from ecgdesk.service.errors import ERRORS
from ecgdesk.workflow.monitoring_item import ItemView, item_view
from ecgdesk.workflow.monitoring_view import PeriodView, period_view
from ecgdesk.workflow.permissions import Action, Principal

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"], responses=ERRORS)
ItemId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
EnrolmentId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@router.get("/queue/{item_id}")
def open_item(
    item_id: ItemId,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.MONITOR_QUEUE_READ)],
    response: Response,
) -> ItemView:
    """The item with its strip (samples in the viewer's raw format, ``docs/signal.md``) and beat labels,
    the classifier's reason and matched rules, the criteria in force and the patient's recent items."""
    response.headers.update(NO_STORE)
    return item_view(store, item_id, who.actor)


@router.get("/enrolments/{enrolment_id}")
def open_period(
    enrolment_id: EnrolmentId,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.MONITOR_PERIOD_READ)],
    response: Response,
) -> PeriodView:
    """One monitoring period: patient and study, dates, every recorder with its swap history, the criteria
    versions in force, strip and notification counts, and the billing state (404: no such period)."""
    response.headers.update(NO_STORE)
    return period_view(store, enrolment_id, who.actor)


@router.get(
    "/enrolments/{enrolment_id}/daily",
    responses={200: {"content": {"application/pdf": {}}, "description": "the report as JSON or PDF"}},
    response_model=None,
)
def daily(
    enrolment_id: EnrolmentId,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.MONITOR_QUEUE_READ)],
    day: Annotated[date, Query(alias="date", description="the day (UTC) the strips were recorded")],
    format: Literal["json", "pdf"] = "json",
) -> Any:
    """The daily report of one patient (mobile telemetry sends one every day)."""
    from ecgdesk.workflow.monitoring_daily import daily_report, daily_report_pdf

    if format == "json":
        return Response(
            daily_report(store, enrolment_id, day, who.actor).as_json(),
            media_type="application/json",
            headers=NO_STORE,
        )
    folder = Path(tempfile.mkdtemp(prefix="daily-", dir=store.home))
    path = folder / f"daily-{enrolment_id}-{day.isoformat()}.pdf"
    try:
        daily_report_pdf(store, enrolment_id, day, who.actor, path)
    except BaseException:
        _remove(folder)
        raise
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=path.name,
        headers=NO_STORE,
        background=BackgroundTask(_remove, folder),
    )


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
