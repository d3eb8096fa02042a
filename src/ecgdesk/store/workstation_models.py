"""Tables of the review workstation: the technician's choice of strips for a study's report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecgdesk.store.models import UTC_TIME, Base


class ReportStrip(Base):
    """One row of a study's strip selection: a proposed strip included or left out (``key`` names it,
    e.g. ``event:Longest pause``), or a strip a person added at any point of the recording (``manual:<id>``)
    with its caption. A study with no rows prints the proposed strips, as before the selection existed."""

    __tablename__ = "report_strips"
    __table_args__ = (UniqueConstraint("study_id", "key", name="uq_report_strips_study_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    included: Mapped[bool] = mapped_column(Boolean, default=True)
    start_s: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    caption: Mapped[str | None] = mapped_column(String(200))
    lead: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTC_TIME)
