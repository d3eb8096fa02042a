"""The ECG of a study for the viewer: one window of one lead at screen resolution, with its beat labels.

One workflow function (:func:`ecgdesk.workflow.signal.signal_window`) behind the permission table; the
read is audited there. Format of the answer: ``docs/signal.md``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ecgdesk.records.pyramid import MAX_WIDTH_PX
from ecgdesk.service.deps import StoreDep, allowed
from ecgdesk.service.errors import ERRORS
from ecgdesk.service.routers.studies import StudyId
from ecgdesk.workflow.permissions import Action, Principal
from ecgdesk.workflow.signal import SignalWindowResult, signal_window

router = APIRouter(prefix="/api/v1/studies", tags=["signal"], responses=ERRORS)


@router.get("/{study_id}/signal")
def signal(
    study_id: StudyId,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.SIGNAL_READ)],
    response: Response,
    lead: Annotated[str, Query(min_length=1, max_length=64, description="lead name (any case)")],
    start_s: Annotated[float, Query(ge=0, description="window start, seconds from the recording's start")],
    end_s: Annotated[float, Query(gt=0, description="window end (s); may run past the recording's end")],
    width_px: Annotated[int, Query(ge=1, le=MAX_WIDTH_PX, description="pixels the window is drawn on")],
) -> SignalWindowResult:
    """Per-pixel min/max pairs of the window from the signal pyramid (never more than 2 x ``width_px``
    values), or the raw samples when the window holds no more samples than pixels; the beat labels of
    the current analysis (edits applied) alongside. The read is audited."""
    response.headers["Cache-Control"] = "no-store"  # patient data: not kept by the browser or a proxy
    return signal_window(store, study_id, lead, start_s, end_s, width_px, who.actor)
