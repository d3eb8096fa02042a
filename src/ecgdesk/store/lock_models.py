"""Study locks: at most one process changes a study's analysis or reports at a time.

A row is an exclusive claim on one study (``analyze``, ``edit``, ``report`` ...), taken in its own short
transaction, renewed (``acquired_at``) while the step runs and deleted when it ends. Another process
waits for it; a claim whose process is gone (same host, no such process) or that was not renewed for
:data:`ecgdesk.workflow.locks.STALE_AFTER_S` is taken over, so a killed run never leaves a study stuck.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ecgdesk.store.models import UTC_TIME, Base


class StudyLock(Base):
    """The process that is changing a study now."""

    __tablename__ = "study_locks"

    study_id: Mapped[int] = mapped_column(Integer, ForeignKey("studies.id"), primary_key=True)
    action: Mapped[str] = mapped_column(String(40))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTC_TIME)
