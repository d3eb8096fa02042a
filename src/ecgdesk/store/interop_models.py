"""Tables of the hospital interfaces: delivery targets, the outbox of results, the log of inbound orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecgdesk.store.models import UTC_TIME, Base


class DeliveryTarget(Base):
    """Where signed results go: a folder, an MLLP peer (``host:port``) or a FHIR server base URL. ``senders``
    names the HL7 v2 senders (``APP^FACILITY`` of MSH-3/MSH-4, comma-separated) whose EHR it is: it takes
    their application ACKs and the results of their orders only; '' for none (every result, no application
    ACK; :mod:`ecgdesk.interop.senders`)."""

    __tablename__ = "delivery_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(Text)
    formats: Mapped[str] = mapped_column(String(60))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    senders: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class OutboxItem(Base):
    """One result message for one target: retried until sent, or failed after ``max_attempts``. An HL7 v2
    application acknowledgement (enhanced mode) is one too: no study or report version, the ACK as built
    when its order was stored in ``payload``, the inbound message it answers in ``inbound_message_id``."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("delivery_targets.id"))
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"))
    report_version_id: Mapped[int | None] = mapped_column(ForeignKey("report_versions.id"))
    format: Mapped[str] = mapped_column(String(12))
    corrected: Mapped[bool] = mapped_column(Boolean, default=False)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTC_TIME)
    last_error: Mapped[str | None] = mapped_column(Text)
    receipt: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    sent_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    payload: Mapped[str | None] = mapped_column(Text)
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))


class InboundMessage(Base):
    """Every order message received, once per control id: what we answered and what it did."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(Text)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    placer_order_number: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    ack_code: Mapped[str] = mapped_column(String(2))
    reason: Mapped[str] = mapped_column(Text, default="")
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"))
    received_at: Mapped[datetime] = mapped_column(UTC_TIME)
    #: enhanced acknowledgement mode: whether the application ACK was queued, and where, or why it could not
    #: be (None: none was asked for)
    app_ack: Mapped[str | None] = mapped_column(Text)
