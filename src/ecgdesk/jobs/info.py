"""A job as the commands and screens show it (:class:`JobInfo`), read from its row and its parts'."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from ecgdesk.store.jobs_models import Job, JobStatus


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time in the job table is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


#: How the error of a job that failed on anything but its input reads (a bug, a transient failure, a
#: worker that kept dying: retried until its attempts ran out), also inside "part 3 failed: ...". A job
#: that failed on its input (an ``EcgDeskError``: a corrupt recording) failed at once with that message.
GAVE_UP = "gave up after {attempts} attempts: {error}"
_GAVE_UP = re.compile(r"gave up after \d+ attempts: ")


@dataclass(frozen=True)
class JobInfo:
    """A job as ``jobs list`` / ``jobs show`` and the study view see it."""

    id: int
    kind: str
    status: str
    priority: int
    attempts: int
    max_attempts: int
    progress: float
    study_id: int | None
    recording_id: int | None
    parent_id: int | None
    input_hash: str
    algorithm_version: str
    lease_owner: str | None
    lease_expires_at: str | None
    heartbeat_at: str | None
    result: dict[str, Any] | None
    error: str | None
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    payload: dict[str, Any]
    parts: dict[str, int] = field(default_factory=dict)
    #: queued after a transient error: not run before this time (ISO, UTC)
    not_before: str | None = None
    #: "retry after HH:MM:SS UTC (attempt k of n): reason" while it waits for that time, else None
    retry_wait: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def failed_on_input(self) -> bool:
        """Failed at once on bad input (not on a bug, a transient failure or lost workers)."""
        return self.status == JobStatus.FAILED.value and bool(self.error) and not _GAVE_UP.search(
            self.error or "")


def iso(value: datetime | None) -> str | None:
    value = aware(value)
    return value.isoformat() if value is not None else None


def retry_wait(job: Job, at: datetime | None = None) -> str | None:
    """What a job waiting for its retry time waits for: "retry after 06:12:40 UTC (attempt 2 of 3):
    <the error of the attempt that failed>" (k is the attempt it will run next); None unless it waits."""
    when = aware(job.not_before)
    if job.status != JobStatus.QUEUED or when is None or when <= (at or datetime.now(UTC)):
        return None
    reason = f": {job.error}" if job.error else ""
    return f"retry after {when:%H:%M:%S} UTC (attempt {job.attempts + 1} of {job.max_attempts}){reason}"


def info(session: Session, job: Job) -> JobInfo:
    parts: dict[str, int] = {}
    if session.scalar(select(exists().where(Job.parent_id == job.id))):
        rows = session.execute(
            select(Job.status, func.count()).where(Job.parent_id == job.id).group_by(Job.status)
        ).all()
        parts = {str(status): int(n) for status, n in rows}
    return JobInfo(
        id=job.id,
        kind=job.kind,
        status=job.status,
        priority=job.priority,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        progress=round(_progress_of(job, parts), 4),
        study_id=job.study_id,
        recording_id=job.recording_id,
        parent_id=job.parent_id,
        input_hash=job.input_hash,
        algorithm_version=job.algorithm_version,
        lease_owner=job.lease_owner,
        lease_expires_at=iso(job.lease_expires_at),
        heartbeat_at=iso(job.heartbeat_at),
        result=json.loads(job.result_json) if job.result_json else None,
        error=job.error,
        created_by=job.created_by,
        created_at=iso(job.created_at) or "",
        started_at=iso(job.started_at),
        finished_at=iso(job.finished_at),
        payload=json.loads(job.payload_json),
        parts=parts,
        not_before=iso(job.not_before) if job.status == JobStatus.QUEUED else None,
        retry_wait=retry_wait(job),
    )


def _progress_of(job: Job, parts: dict[str, int]) -> float:
    if job.status == JobStatus.DONE:
        return 1.0
    if parts and job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        # waiting for its parts: the share of parts done; merging them: the last 5 %
        share = 0.95 * parts.get(JobStatus.DONE, 0) / max(1, sum(parts.values()))
        if job.status == JobStatus.RUNNING:
            share += 0.05 * float(job.progress or 0.0)
        return share
    return float(job.progress or 0.0)


# ------------------------------------------------------------------------------ listing
def list_jobs(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    study_id: int | None = None,
    include_parts: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[JobInfo]:
    """Newest first; the parts of split jobs only with ``include_parts``."""
    query = _filtered(select(Job), status, kind, study_id, include_parts)
    query = query.order_by(Job.id.desc()).limit(limit).offset(offset)
    return [info(session, job) for job in session.scalars(query).all()]


def count_jobs(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    study_id: int | None = None,
    include_parts: bool = False,
) -> int:
    """How many jobs :func:`list_jobs` pages through with the same filters."""
    query = _filtered(select(func.count()).select_from(Job), status, kind, study_id, include_parts)
    return int(session.scalar(query) or 0)


def _filtered(query: Select[Any], status: str | None, kind: str | None, study_id: int | None,
              include_parts: bool) -> Select[Any]:
    if status is not None:
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if study_id is not None:
        query = query.where(Job.study_id == study_id)
    if not include_parts:
        query = query.where(Job.parent_id.is_(None))
    return query
