"""Tables of the HTTP service (issue 12): login sessions, API tokens and recording uploads.

Secrets are never stored: a session cookie and an API token are random values of which only the SHA-256 is
kept, so a copy of the database gives nobody a working login. The CSRF token of a session is not a
credential on its own (it is useless without the cookie), so it is stored as issued, to be handed back to a
page that reloads.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecgdesk.store import jobs_models  # noqa: F401  (uploads.job_id names jobs.id)
from ecgdesk.store.models import BIG_INT, UTC_TIME, Base


class LoginSession(Base):
    """A server-side session, created at each login (never reused: no session fixation)."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    last_seen_at: Mapped[datetime] = mapped_column(UTC_TIME)
    expires_at: Mapped[datetime] = mapped_column(UTC_TIME)
    ended_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    client: Mapped[str] = mapped_column(String(200), default="")


class ApiToken(Base):
    """A revocable bearer token of a device or integration client, acting as ``user_id`` with ``role``."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    last_used_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    revoked_at: Mapped[datetime | None] = mapped_column(UTC_TIME)


class LoginFailure(Base):
    """A refused login from a client address: the per-address limit (password spraying, one address
    trying many user names) counts these over a sliding window. Kept in the database, not in a worker's
    memory, so the limit holds across workers and restarts; rows past the window are deleted as new
    ones come."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_address_at", "address", "at"),
        Index("ix_login_failures_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTC_TIME)


class Upload(Base):
    """A recording uploaded over HTTP and its background import and analysis (state and progress)."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    state: Mapped[str] = mapped_column(String(20))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    files_json: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BIG_INT)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    updated_at: Mapped[datetime] = mapped_column(UTC_TIME)
    #: The analysis job queued after the import (issue 14): the upload's state follows it.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
