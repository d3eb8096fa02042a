"""``GET /healthz``: liveness for the reverse proxy and the process manager (no session)."""

from __future__ import annotations

from fastapi import APIRouter

from ecgdesk.workflow.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    return Health(status="ok")
