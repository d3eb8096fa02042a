"""``POST /api/v1/studies/{id}/recording``: upload a recording (streamed, size-limited), then import and
analyse it in the background; ``GET /api/v1/studies/{id}`` shows the progress."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Request

from ecgdesk.service.deps import SettingsDep, StoreDep, allowed
from ecgdesk.service.errors import ERRORS
from ecgdesk.service.routers.studies import StudyId
from ecgdesk.service.streaming import receive_files
from ecgdesk.workflow.permissions import Action, Principal
from ecgdesk.workflow.schemas import UploadOut
from ecgdesk.workflow.uploads import accept_upload, check_study_open, enqueue_upload
from ecgdesk.workflow.views import upload_state

router = APIRouter(prefix="/api/v1/studies", tags=["uploads"], responses=ERRORS)

UPLOAD_BODY = {
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


@router.post(
    "/{study_id}/recording",
    status_code=202,
    openapi_extra=UPLOAD_BODY,
)
async def upload_recording(
    study_id: StudyId,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    who: Annotated[Principal, allowed(Action.RECORDING_IMPORT)],
) -> UploadOut:
    """The recording's files as ``files`` parts (a WFDB header and its signal files, or one EDF, ISHNE,
    DICOM, CSV or HL7 aECG file). A file that is not a readable ECG is refused with the reader's message and
    nothing is kept; otherwise import and analysis run in the background."""
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(check_study_open, store, study_id)
    folder = store.home / "uploads" / secrets.token_hex(16)
    await receive_files(request, folder, settings.upload_limit_bytes)
    accepted = await run_in_threadpool(accept_upload, store, study_id, folder, who.actor)
    job_id = await run_in_threadpool(enqueue_upload, store, accepted, who.actor)
    request.app.state.work.run_job(store, job_id, request.app.state.settings.jobs == "inline")
    return await run_in_threadpool(upload_state, store, accepted.upload_id)
