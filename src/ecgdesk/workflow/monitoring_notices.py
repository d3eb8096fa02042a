"""The notifications of the attended queue as the screens list them: an item's notices (who was called,
when, who recorded the acknowledgement and when, on the patient's clock), and every notice still waiting
for a physician's answer, the ones nobody is left to escalate to flagged. The acknowledgement itself is
:func:`~ecgdesk.workflow.monitoring_queue.acknowledge`, whatever calls it (API, ``monitor ack``, pages).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ecgdesk.store import Store
from ecgdesk.store.models import Patient, Study
from ecgdesk.store.monitoring_models import Enrolment, Notification, QueueItem
from ecgdesk.workflow.monitoring_days import local_clock, zone_name
from ecgdesk.workflow.monitoring_escalation import NO_ONE_LEFT, alarms
from ecgdesk.workflow.monitoring_queue import acknowledgers
from ecgdesk.workflow.paging import Rows, paged
from ecgdesk.workflow.permissions import audit_read

#: Notices listed as waiting at most (the oldest first would hide the newest: the newest come first).
WAITING_MAX = 200


class NoticeOut(BaseModel):
    id: int
    queue_item_id: int
    tier: str
    recipient: str
    channel: str
    read_back: bool
    outcome: str
    escalated_from_id: int | None
    sent_by: str
    sent_at: str = Field(description="on the patient's clock (time_zone), with its offset")
    acknowledged_at: str | None = Field(description="on the patient's clock, with its offset; None: not yet")
    acknowledged_by: str | None = Field(
        description="who recorded the acknowledgement (the technician, or the notifier when it was "
        "acknowledged as it was sent)"
    )
    time_zone: str
    patient: str | None = None
    flag: str = Field(default="", description="why it can be escalated to no one (empty: it can)")


def _out(session: Session, rows: list[Notification], zones: Mapping[int, str | None],
         patients: Mapping[int, str | None] | None = None) -> list[NoticeOut]:
    by = acknowledgers(session, {row.queue_item_id for row in rows})
    flags = alarms(session, [row.id for row in rows])
    out = []
    for row in rows:
        zone = zones.get(row.queue_item_id)
        acknowledged = row.acknowledged_at
        out.append(NoticeOut(
            id=row.id,
            queue_item_id=row.queue_item_id,
            tier=row.tier,
            recipient=row.recipient,
            channel=row.channel,
            read_back=row.read_back,
            outcome=row.outcome or "",
            escalated_from_id=row.escalated_from_id,
            sent_by=row.created_by,
            sent_at=local_clock(row.sent_at, zone).isoformat(),
            acknowledged_at=local_clock(acknowledged, zone).isoformat() if acknowledged else None,
            acknowledged_by=by.get(row.id, row.created_by) if acknowledged else None,
            time_zone=zone_name(zone),
            patient=(patients or {}).get(row.queue_item_id),
            flag="" if acknowledged else flags.get(row.id, {}).get(NO_ONE_LEFT, ""),
        ))
    return out


def item_notices(session: Session, item_id: int, time_zone: str | None) -> list[NoticeOut]:
    """Every notice of one item, first sent first."""
    rows = list(session.scalars(
        select(Notification).where(Notification.queue_item_id == item_id).order_by(Notification.id)
    ))
    return _out(session, rows, {item_id: time_zone})


def period_notices(session: Session, enrolment_id: int, time_zone: str | None) -> list[NoticeOut]:
    """Every notice of one monitoring period, first sent first, as the item panel lists an item's."""
    rows = list(session.scalars(
        select(Notification)
        .join(QueueItem, QueueItem.id == Notification.queue_item_id)
        .where(QueueItem.enrolment_id == enrolment_id)
        .order_by(Notification.sent_at, Notification.id)
    ))
    return _out(session, rows, {row.queue_item_id: time_zone for row in rows})


def waiting_notices(
    store: Store, actor: str, offset: int = 0, limit: int | None = WAITING_MAX
) -> Rows[NoticeOut]:
    """Emergent and urgent notices nobody has acknowledged, of items no physician has answered about yet
    (the last of each chain: an escalated notice is represented by its escalation), newest first, a page
    of them (``limit`` None: all from ``offset``); the read is audited (patients' names)."""
    with store.transaction() as session:
        answered = aliased(Notification)
        in_hand = select(answered.id).where(
            answered.queue_item_id == Notification.queue_item_id, answered.acknowledged_at.is_not(None)
        )
        escalated = select(Notification.escalated_from_id).where(Notification.escalated_from_id.is_not(None))
        query, total = paged(session, (
            select(Notification)
            .where(
                Notification.tier.in_(("emergent", "urgent")),
                Notification.acknowledged_at.is_(None),
                Notification.id.not_in(escalated),
                ~in_hand.exists(),
            )
            .order_by(Notification.sent_at.desc(), Notification.id.desc())
        ), offset, limit)
        rows = list(session.scalars(query))
        item_ids = {row.queue_item_id for row in rows}
        found = session.execute(
            select(QueueItem.id, Enrolment.time_zone, Patient.name)
            .join(Enrolment, Enrolment.id == QueueItem.enrolment_id, isouter=True)
            .join(Study, Study.id == Enrolment.study_id, isouter=True)
            .join(Patient, Patient.id == Study.patient_id, isouter=True)
            .where(QueueItem.id.in_(item_ids))
        ).all()
        zones = {item_id: zone for item_id, zone, _ in found}
        patients = {item_id: name for item_id, _, name in found}
        out = _out(session, rows, zones, patients)
        audit_read(session, actor, "monitor-notices", "notification", "waiting",
                   {"notifications": [n.id for n in out]})
        return Rows(out, total)
