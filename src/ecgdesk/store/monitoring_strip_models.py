"""The beat labels of a transmitted strip, computed once (at its first view) and kept, so opening an item
again never re-analyses the strip."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecgdesk.store import monitoring_models  # noqa: F401  (its foreign key names transmissions)
from ecgdesk.store.models import UTC_TIME, Base


class StripBeats(Base):
    """One row per transmission: the lead analysed, each beat's sample (JSON list) and class (one character
    per beat, N S V F Q), the engine that labelled them and why there are none when there are none."""

    __tablename__ = "strip_beats"

    transmission_id: Mapped[int] = mapped_column(ForeignKey("transmissions.id"), primary_key=True)
    lead: Mapped[str] = mapped_column(String(64))
    samples_json: Mapped[str] = mapped_column(Text)
    labels: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    computed_at: Mapped[datetime] = mapped_column(UTC_TIME)
    computed_by: Mapped[str] = mapped_column(String(64))
