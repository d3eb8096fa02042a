"""Batch signing over HTTP: the physician's queue of reviewed studies and one signature act for several.

Both routes are ``study:sign`` in the permission table (the single sign's action: a batch is signing) and
call :mod:`ecgdesk.workflow.signing_batch`, as ``ecgdesk study sign-batch`` and the ``/signing`` page do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from ecgdesk.errors import AuthenticationError
from ecgdesk.service.deps import SettingsDep, StoreDep, allowed
from ecgdesk.service.errors import ERRORS
from ecgdesk.service.paging import PAGED, Limit, Offset, page_headers
from ecgdesk.service.routers.actions import reauthenticated
from ecgdesk.workflow.permissions import Action, Principal
from ecgdesk.workflow.review_schemas import (
    BatchSignedOut,
    BatchSignIn,
    QueuedStudyOut,
    RefusedOut,
    SignedOut,
)
from ecgdesk.workflow.signing_batch import sign_batch, signing_queue

router = APIRouter(prefix="/api/v1/signing", tags=["study actions"], responses=ERRORS)


@router.get("/queue", responses=PAGED)
def queue(
    request: Request,
    response: Response,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.STUDY_SIGN)],
    offset: Offset = 0,
    limit: Limit = 100,
) -> list[QueuedStudyOut]:
    """A page of the reported studies whose latest version you reviewed, urgent orders first, each ready
    to sign or why not."""
    rows = signing_queue(store, who.username, who.actor, offset=offset, limit=limit)
    page_headers(request, response, rows, offset)
    return [QueuedStudyOut(**vars(q)) for q in rows]


@router.post("/batch")
def batch(
    body: BatchSignIn,
    store: StoreDep,
    settings: SettingsDep,
    who: Annotated[Principal, allowed(Action.STUDY_SIGN)],
) -> BatchSignedOut:
    """Sign the studies with one entry of the password (a wrong one signs nothing: 403); each is signed
    as ``POST /studies/{id}/sign`` would, and one that fails a check is listed with the reason."""
    try:
        done = sign_batch(store, body.study_ids, who.username, body.password, settings.policy)
    except AuthenticationError as error:
        raise reauthenticated(error, who, Action.STUDY_SIGN) from None
    return BatchSignedOut(
        meaning=done.meaning,
        signed=[
            SignedOut(study_id=s.study_id, version=s.version, printed_name=s.printed_name,
                      signed_at=s.signed_at, content_sha256=s.content_sha256)
            for s in done.signed
        ],
        refused=[RefusedOut(study_id=r.study_id, reason=r.reason) for r in done.refused],
    )
