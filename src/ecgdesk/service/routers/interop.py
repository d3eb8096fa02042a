"""Hospital interfaces over HTTP: a signed study's result in HL7 v2, FHIR or DICOM, its deliveries, and
orders in (an HL7 v2 ORM/OMG/OML message or a FHIR ServiceRequest in the body) and patient updates (HL7 v2
ADT^A08/A31/A40), answered like the MLLP listener answers them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ecgdesk.service.deps import StoreDep, allowed
from ecgdesk.service.errors import ERRORS, ServiceError
from ecgdesk.workflow.interop_results import DeliveryInfo
from ecgdesk.workflow.interop_schemas import OrderAckOut
from ecgdesk.workflow.permissions import Action, Principal

router = APIRouter(prefix="/api/v1", tags=["interop"], responses=ERRORS)
StudyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="study id")]
MAX_ORDER_BYTES = 16 * 1024 * 1024
MEDIA = {"hl7": "x-application/hl7-v2+er7", "fhir": "application/fhir+json", "dicom": "application/dicom"}


@router.get("/studies/{study_id}/deliveries")
def deliveries(
    study_id: StudyId, store: StoreDep, who: Annotated[Principal, allowed(Action.STUDY_READ)]
) -> list[DeliveryInfo]:
    """Where the study's signed results went, and in what state (pending, sending, sent, failed)."""
    from ecgdesk.workflow.interop_results import list_deliveries
    from ecgdesk.workflow.permissions import audit_read
    from ecgdesk.workflow.studies import get_study

    with store.transaction() as session:
        get_study(session, study_id)
        audit_read(session, who.actor, "deliveries", "study", study_id)
    return list_deliveries(store, study_id)


@router.get(
    "/studies/{study_id}/result",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA.values()}}},
)
def result(
    study_id: StudyId,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.RESULT_EXPORT)],
    as_: Annotated[Literal["hl7", "fhir", "dicom"], Query(alias="as")] = "fhir",
) -> Response:
    """The signed result as an ORU^R01, a FHIR Bundle or a DICOM Encapsulated PDF (409 until signed)."""
    from ecgdesk.workflow.interop_results import result_files

    version, files = result_files(store, study_id, as_, who.actor)
    suffix, data = files[0]
    return Response(
        data,
        media_type=MEDIA[as_],
        headers={
            "Content-Disposition": f'attachment; filename="study-{study_id}-v{version}{suffix}"',
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/interop/orders",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "x-application/hl7-v2+er7": {"schema": {"type": "string"}},
                "application/fhir+json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def order(
    request: Request, store: StoreDep, who: Annotated[Principal, allowed(Action.ORDER_RECEIVE)]
) -> OrderAckOut:
    """One order or patient (ADT) message; 200 with the ACK when accepted (or a resend of one), 422 with
    the reason."""
    from starlette.concurrency import run_in_threadpool

    from ecgdesk.errors import InputError
    from ecgdesk.interop.mllp import decode
    from ecgdesk.workflow.interop_orders import receive_message

    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_ORDER_BYTES:
            raise ServiceError(
                413, "body", f"an order message is at most {MAX_ORDER_BYTES} bytes", "too_large"
            )
    if not data.strip():
        raise InputError("body", "empty: send an HL7 v2 order or a FHIR ServiceRequest")
    outcome = await run_in_threadpool(
        receive_message, store, decode(bytes(data)), f"http:{who.actor}", who.actor
    )
    if outcome.ack.code != "AA":
        raise InputError("body", f"{outcome.ack.code}: {outcome.ack.text}")
    return OrderAckOut(
        code=outcome.ack.code,
        control_id=outcome.ack.control_id,
        text=outcome.ack.text,
        status=outcome.status,
        study_id=outcome.study_id,
        ack=outcome.ack_text,
    )
