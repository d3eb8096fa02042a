"""The attended queue's policy: due time per priority, escalation of unacknowledged emergent and urgent
notices (each tier after its own minutes), and
when repeated unreadable strips call for contacting the patient (``data/queue_policy.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

from ecgdesk.monitoring.triage import Priority


@dataclass(frozen=True)
class QueuePolicy:
    version: str
    due_minutes: dict[Priority, float]
    escalate_after_minutes: dict[Priority, float]  # per notification tier; a tier not named never escalates
    unreadable_for_contact: int

    def due_at(self, priority: Priority, received_at: datetime) -> datetime:
        return received_at + timedelta(minutes=self.due_minutes[priority])

    @staticmethod
    def order_key(priority: Priority, received_at: datetime) -> tuple[int, datetime]:
        """Most pressing first: by priority, then the oldest."""
        return priority.rank, received_at


@cache
def queue_policy() -> QueuePolicy:
    raw = json.loads(
        resources.files("ecgdesk.monitoring").joinpath("data/queue_policy.json").read_text("utf-8")
    )
    return QueuePolicy(
        version=raw["version"],
        due_minutes={Priority(k): float(v) for k, v in raw["due_minutes"].items()},
        escalate_after_minutes={
            Priority(k): float(v) for k, v in raw["escalate_unacknowledged_after_minutes"].items()
        },
        unreadable_for_contact=int(raw["repeated_unreadable_for_patient_contact"]),
    )
