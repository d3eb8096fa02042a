"""What the monitoring routes take and answer (Pydantic models, in the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ecgdesk.workflow.schemas import InputModel, Model


class TransmissionOut(Model):
    """What became of one transmitted strip."""

    status: Literal["queued", "duplicate", "refused"]
    transmission_id: int | None = None
    item_id: int | None = None
    enrolment_id: int | None = None
    flag: str = ""
    reason: str = ""
    priority: str | None = None


class NotificationIn(InputModel):
    # blank for an escalation (the roster's on-call physician); a notice names its recipient (422 otherwise)
    recipient: str = Field(default="", max_length=200)
    channel: Literal["phone", "sms", "fax", "email", "portal", "in_person"] = "phone"
    read_back: bool = False
    outcome: str = Field(default="", max_length=2000)
    acknowledged: bool = False
    tier: Literal["emergent", "urgent", "routine"] | None = None  # None: the item's priority


class ReviewIn(InputModel):
    action: Literal["reviewed", "notified", "escalated", "patient_contacted"]
    note: str = Field(default="", max_length=10_000)
    confirmed_rhythm: str | None = Field(default=None, max_length=100)
    notification: NotificationIn | None = None


class ReviewOut(Model):
    item_id: int
    action: str
    notification_id: int | None = None
    recipient: str | None = None
    warnings: list[str] = Field(default_factory=list)


class AcknowledgeIn(InputModel):
    """The person notified answered: what they said or decided (printed in the end-of-service report)."""

    outcome: str = Field(default="", max_length=2000)


class AcknowledgeOut(Model):
    notification_id: int
    queue_item_id: int
    acknowledged_at: datetime
    outcome: str
    acknowledged_by: str = Field(description="who recorded the acknowledgement (with already: the first)")
    #: it had been acknowledged before: nothing changed
    already: bool = False


class DeviceSwapIn(InputModel):
    """A recorder replaced within the period: the new one's serial, when it was put on, and why."""

    device: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    at: datetime
    reason: str = Field(min_length=1, max_length=500)


class DeviceSwapOut(Model):
    enrolment_id: int
    old_device: str
    new_device: str
    at: str
    reason: str
    warnings: list[str] = Field(default_factory=list)
