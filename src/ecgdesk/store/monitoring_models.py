"""Tables of event monitoring and mobile telemetry: enrolments, signed criteria, strips, the attended
queue, notifications and the coverage roster."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecgdesk.store.models import UTC_TIME, Base


class Enrolment(Base):
    """A patient on a device for one monitoring period (at most 30 days), tied to a study for its report,
    signature and claim. ``active_device`` holds the serial while the enrolment is active, so the database
    itself refuses a second active enrolment on one device."""

    __tablename__ = "enrolments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), unique=True)
    device_serial: Mapped[str] = mapped_column(String(64), index=True)
    active_device: Mapped[str | None] = mapped_column(String(64), unique=True)
    service: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    stopped_early_on: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    #: The IANA zone of the recorder's clock (migration 0024): a strip's start written without a zone (WFDB,
    #: EDF) is read in it; None: UTC.
    time_zone: Mapped[str | None] = mapped_column(String(64))


class CriteriaVersion(Base):
    """One signed version of a patient's notification criteria (never edited; a change is a new version)."""

    __tablename__ = "criteria_versions"
    __table_args__ = (UniqueConstraint("enrolment_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"))
    version: Mapped[int] = mapped_column(Integer)
    rules_json: Mapped[str] = mapped_column(Text)
    lowered_emergent_json: Mapped[str] = mapped_column(Text)
    signed_by: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTC_TIME)


class Transmission(Base):
    """A strip as received, stored read-only by content, given to its device's enrolment at that time."""

    __tablename__ = "transmissions"
    __table_args__ = (
        UniqueConstraint("device_serial", "message_id", name="uq_transmissions_device_message"),
        UniqueConstraint("device_serial", "sha256", name="uq_transmissions_device_content"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id"), index=True)
    device_serial: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    blob_dir: Mapped[str] = mapped_column(String(200))
    main_file: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(UTC_TIME)
    received_at: Mapped[datetime] = mapped_column(UTC_TIME)
    duration_s: Mapped[float] = mapped_column(Float)
    # "", unknown_device, outside_enrolment, after_period, after_close (its period was closed already),
    # future_time (recorded after it arrived, by the device's clock: held at its arrival)
    flag: Mapped[str] = mapped_column(String(20))
    billable: Mapped[bool] = mapped_column(Boolean)


class QueueItem(Base):
    """The attended queue's entry for one strip: classified once, closed only by a person."""

    __tablename__ = "queue_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transmission_id: Mapped[int] = mapped_column(ForeignKey("transmissions.id"), unique=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id"), index=True)
    priority: Mapped[str] = mapped_column(String(12))  # unclassified until the triage ran
    label: Mapped[str | None] = mapped_column(String(2))
    reason: Mapped[str] = mapped_column(Text)
    observation_json: Mapped[str | None] = mapped_column(Text)
    matched_json: Mapped[str | None] = mapped_column(Text)
    criteria_version: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTC_TIME, index=True)
    due_at: Mapped[datetime] = mapped_column(UTC_TIME)
    classified_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    status: Mapped[str] = mapped_column(String(10), index=True)
    action: Mapped[str | None] = mapped_column(String(20))
    confirmed_rhythm: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UTC_TIME)


class Notification(Base):
    """A call or message about a strip: who, how, when, read-back, outcome; an escalation names its cause."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue_item_id: Mapped[int] = mapped_column(ForeignKey("queue_items.id"), index=True)
    tier: Mapped[str] = mapped_column(String(12))
    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime] = mapped_column(UTC_TIME)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    read_back: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(Text, default="")
    escalated_from_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    created_by: Mapped[str] = mapped_column(String(64))


class RosterShift(Base):
    """Who attends the monitoring in a shift: technicians and the on-call physician."""

    __tablename__ = "roster_shifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[datetime] = mapped_column(UTC_TIME, index=True)
    end: Mapped[datetime] = mapped_column(UTC_TIME)
    technicians_json: Mapped[str] = mapped_column(Text)
    on_call_physician: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class DeviceSwap(Base):
    """A recorder replaced within its enrolment (failed, battery dead): strips of ``new_serial`` recorded from
    ``swapped_at`` belong to the same period, those of ``old_serial`` recorded before it still do, and the
    old recorder is free for another patient. Never edited: a later swap is a new row."""

    __tablename__ = "device_swaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), index=True)
    old_serial: Mapped[str] = mapped_column(String(64), index=True)
    new_serial: Mapped[str] = mapped_column(String(64), index=True)
    swapped_at: Mapped[datetime] = mapped_column(UTC_TIME)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
