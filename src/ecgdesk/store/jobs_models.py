"""The job table: long work queued in the database, which stays the truth whatever executes it.

A job is identified by its *idempotency key* (kind, input hash, algorithm version): enqueueing the same
input again returns the existing job and its result. A worker takes a job with a *lease* (owner and
expiry) in one transaction and keeps it alive with heartbeats; a job whose lease expires (worker killed,
Dask scheduler restarted) is queued again. The operations are in :mod:`ecgdesk.jobs.queue`.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecgdesk.store.models import UTC_TIME, Base


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: A job in one of these states does not change again unless someone retries (or re-enqueues) it.
ENDED = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})


class Priority(enum.IntEnum):
    """Higher runs first: a transmitted strip's triage (a person may be waiting on an emergency) before a
    STAT resting ECG, before a routine Holter, before bulk work."""

    BATCH = 10
    ROUTINE = 50
    STAT = 90
    TRIAGE = 95


class Job(Base):
    """One unit of long work (see the module docstring); ``parent_id`` links the parts of a split job."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "input_hash", "algorithm_version"),
        Index("ix_jobs_status_priority", "status", "priority"),
        Index("ix_jobs_parent_id", "parent_id"),
        Index("ix_jobs_study_id", "study_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload_json: Mapped[str] = mapped_column(Text)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"))
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    input_hash: Mapped[str] = mapped_column(String(64))
    algorithm_version: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    result_json: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    updated_at: Mapped[datetime] = mapped_column(UTC_TIME)
    started_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    finished_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    #: A queued job is not leased before this time: the backoff after a transient error (None: at once).
    not_before: Mapped[datetime | None] = mapped_column(UTC_TIME)
