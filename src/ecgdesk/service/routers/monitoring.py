"""Event monitoring over HTTP: devices send strips (``POST /api/v1/monitoring/transmissions`` with an API
token of a technician-role device account), technicians work the attended queue.

A strip is stored, attributed and queued with its classification job before the answer (202); the job
(``monitor.classify``) runs on the job workers (``ecgdesk serve`` starts one), or in a thread here when the
service runs its jobs inline, and sets the item's priority once. The same strip sent again (same message
id or same content) answers 200 with ``duplicate`` and changes nothing."""

from __future__ import annotations

import secrets
import shutil
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from ecgdesk.service.deps import SettingsDep, StoreDep, allowed
from ecgdesk.service.errors import ERRORS
from ecgdesk.service.paging import PAGED, Limit, Offset, page_headers
from ecgdesk.service.streaming import receive_files
from ecgdesk.workflow.monitoring import ingest_received
from ecgdesk.workflow.monitoring_devices import swap_device
from ecgdesk.workflow.monitoring_notices import WAITING_MAX, NoticeOut, waiting_notices
from ecgdesk.workflow.monitoring_queue import (
    NotificationRequest,
    QueueCounts,
    QueueRow,
    acknowledge,
    list_queue,
    queue_counts,
    review,
)
from ecgdesk.workflow.monitoring_schemas import (
    AcknowledgeIn,
    AcknowledgeOut,
    DeviceSwapIn,
    DeviceSwapOut,
    ReviewIn,
    ReviewOut,
    TransmissionOut,
)
from ecgdesk.workflow.paging import MAX_PAGE
from ecgdesk.workflow.permissions import Action, Principal
from ecgdesk.workflow.schemas import NoNul

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"], responses=ERRORS)

STRIP_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}
Serial = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]
MessageId = Annotated[str | None, Query(min_length=1, max_length=100), NoNul]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EnrolmentId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("/transmissions", status_code=202, openapi_extra=STRIP_BODY)
async def transmit(
    request: Request,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    who: Annotated[Principal, allowed(Action.MONITOR_INGEST)],
    device: Serial,
    message_id: MessageId = None,
) -> TransmissionOut:
    """One strip (its file, or a WFDB header and signal file) as ``files`` parts."""
    from starlette.concurrency import run_in_threadpool

    from ecgdesk.errors import InputError

    folder = store.home / "incoming" / secrets.token_hex(16)
    try:
        await receive_files(request, folder, settings.upload_limit_bytes)
        outcome = await run_in_threadpool(ingest_received, store, folder, device, who.actor, message_id)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if outcome.status == "refused":
        raise InputError("files", outcome.reason.replace(str(folder), "strip"))
    if outcome.status == "duplicate":
        response.status_code = 200
    elif outcome.job_id is not None:
        request.app.state.work.run_job(store, outcome.job_id, request.app.state.settings.jobs == "inline")
    return TransmissionOut(
        status=outcome.status,  # type: ignore[arg-type]  # ingest_file answers one of the three
        transmission_id=outcome.transmission_id,
        item_id=outcome.item_id,
        enrolment_id=outcome.enrolment_id,
        flag=outcome.flag,
        reason=outcome.reason,
    )


@router.get("/queue", responses=PAGED)
def queue(
    request: Request,
    response: Response,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.MONITOR_QUEUE_READ)],
    include_closed: bool = False,
    offset: Offset = 0,
    limit: Limit = MAX_PAGE,
) -> list[QueueRow]:
    """A page of the open items (or all), most pressing first: by priority, then the oldest (the read is
    audited)."""
    rows = list_queue(store, include_closed=include_closed, limit=limit, actor=who.actor, offset=offset)
    page_headers(request, response, rows, offset)
    return rows


@router.get("/queue/counts")
def counts(
    store: StoreDep, who: Annotated[Principal, allowed(Action.MONITOR_QUEUE_READ)]
) -> QueueCounts:
    """The open items of the whole queue by priority and the overdue ones (the queue screen's counts: its
    list is one page)."""
    return queue_counts(store)


@router.post("/queue/{item_id}/review")
def close_item(
    item_id: ItemId,
    body: ReviewIn,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.MONITOR_REVIEW)],
) -> ReviewOut:
    """Close an item with what the technician did (the only way an item is ever closed)."""
    notice = None
    if body.notification is not None:
        n = body.notification
        notice = NotificationRequest(n.recipient, n.channel, n.read_back, n.outcome, n.acknowledged, n.tier)
    result = review(store, item_id, body.action, who.actor, body.note, body.confirmed_rhythm, notice)
    return ReviewOut(
        item_id=result.item_id,
        action=result.action,
        notification_id=result.notification_id,
        recipient=result.recipient,
        warnings=list(result.warnings),
    )


@router.get("/notifications", responses=PAGED)
def notices_waiting(
    request: Request,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.MONITOR_QUEUE_READ)],
    response: Response,
    offset: Offset = 0,
    limit: Limit = WAITING_MAX,
) -> list[NoticeOut]:
    """A page of the emergent and urgent notifications still waiting for a physician's answer, newest
    first, each flagged when there is no one left to escalate it to (the read is audited)."""
    response.headers["Cache-Control"] = "no-store"
    rows = waiting_notices(store, who.actor, offset=offset, limit=limit)
    page_headers(request, response, rows, offset)
    return rows


@router.post("/notifications/{notification_id}/ack")
def acknowledge_notification(
    notification_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: AcknowledgeIn,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.MONITOR_REVIEW)],
) -> AcknowledgeOut:
    """The physician notified acknowledged (stops the notice's escalation), with what they said or decided;
    the same as ``monitor ack`` (404: no such notification; again: ``already``, nothing changes)."""
    return acknowledge(store, notification_id, who.actor, body.outcome)


@router.post("/enrolments/{enrolment_id}/device-swap")
def device_swap(
    enrolment_id: EnrolmentId,
    body: DeviceSwapIn,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.MONITOR_DEVICE_SWAP)],
) -> DeviceSwapOut:
    """Replace the patient's recorder within the period (it failed, its battery died): one period, one bill;
    the old recorder is freed."""
    result = swap_device(store, enrolment_id, body.device, body.at, body.reason, who.actor)
    return DeviceSwapOut(
        enrolment_id=result.enrolment_id,
        old_device=result.old_device,
        new_device=result.new_device,
        at=result.at,
        reason=result.reason,
        warnings=list(result.warnings),
    )
