"""The attended queue: most pressing first, closed only by a person, every notification logged.

A technician opens an item, confirms or changes the rhythm, and closes it as ``reviewed`` (no action),
``notified`` (who, channel, time, read-back, outcome), ``escalated`` (to the on-call physician of the
roster) or ``patient_contacted``. Emergent and urgent notifications not acknowledged in time are escalated
by :func:`~ecgdesk.workflow.monitoring_escalation.escalate_unacknowledged`; :func:`reconcile` counts
received vs reviewed strips of a shift and lists orphans (a strip without a queue item, an item never
classified, an item past its due time, a strip flagged as belonging to no current period).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ecgdesk.errors import InputError, NotFoundError, check_option
from ecgdesk.monitoring.policy import queue_policy
from ecgdesk.monitoring.roster import on_call_at
from ecgdesk.monitoring.triage import Priority
from ecgdesk.reports.fonts import check_printable
from ecgdesk.store import Store, append
from ecgdesk.store.models import AuditEntry, Patient, Study
from ecgdesk.store.monitoring_models import Enrolment, Notification, QueueItem, RosterShift, Transmission
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.monitoring import UNCLASSIFIED
from ecgdesk.workflow.monitoring_days import local_clock, zone_name
from ecgdesk.workflow.monitoring_roster import shift_of
from ecgdesk.workflow.monitoring_schemas import AcknowledgeOut
from ecgdesk.workflow.paging import MAX_PAGE, Rows, paged
from ecgdesk.workflow.permissions import audit_read
from ecgdesk.workflow.users import aware

_RANK = {p.value: p.rank for p in Priority} | {UNCLASSIFIED: -1}  # unclassified first: nobody has read it


class CloseAction(enum.StrEnum):
    REVIEWED = "reviewed"
    NOTIFIED = "notified"
    ESCALATED = "escalated"
    PATIENT_CONTACTED = "patient_contacted"


CHANNELS = ("phone", "sms", "fax", "email", "portal", "in_person")


@dataclass(frozen=True)
class QueueRow:
    id: int
    enrolment_id: int | None
    device: str
    patient: str | None
    priority: str
    label: str | None
    reason: str
    received_at: str
    due_at: str
    overdue: bool
    status: str
    flag: str
    #: the zone of received_at and due_at: the enrolment's (the patient's clock, as every other time of a
    #: period; until 2026-12-07 they were UTC), UTC for a strip of no enrolment or an enrolment without one
    time_zone: str = "UTC"


def _rows(session: Session, query: object, stamp: datetime) -> list[QueueRow]:
    rows = session.execute(query).all()  # type: ignore[call-overload]
    out = []
    for item, transmission, patient, time_zone in rows:
        out.append(
            QueueRow(
                item.id,
                item.enrolment_id,
                transmission.device_serial,
                patient.name if patient else None,
                item.priority,
                item.label,
                item.reason,
                local_clock(item.received_at, time_zone).isoformat(),  # with its offset, as the detail's
                local_clock(item.due_at, time_zone).isoformat(),
                item.status == "open" and aware(item.due_at) < stamp,
                item.status,
                transmission.flag,
                zone_name(time_zone),
            )
        )
    return out




def list_queue(
    store: Store,
    include_closed: bool = False,
    limit: int | None = MAX_PAGE,
    actor: str | None = None,
    *,
    offset: int = 0,
) -> Rows[QueueRow]:
    """Open items (or all), most pressing first: by priority, then the oldest; one page of them (``limit``
    None: every item from ``offset``), with how many there are in all. With ``actor`` (a person
    reading the queue, over HTTP or the command line) the read is audited with the items it showed, since
    each row names its patient; internal callers that only need the rows pass none."""
    stamp = now()
    with store.transaction() as session:
        query = (
            select(QueueItem, Transmission, Patient, Enrolment.time_zone)
            .join(Transmission, QueueItem.transmission_id == Transmission.id)
            .outerjoin(Enrolment, QueueItem.enrolment_id == Enrolment.id)
            .outerjoin(Study, Enrolment.study_id == Study.id)
            .outerjoin(Patient, Study.patient_id == Patient.id)
        )
        if not include_closed:
            query = query.where(QueueItem.status == "open")
        # ordered in the database: under a backlog the most pressing item may be the newest of thousands
        rank = case(_RANK, value=QueueItem.priority, else_=9)
        closed = case((QueueItem.status == "open", 0), else_=1)
        query, total = paged(
            session, query.order_by(closed, rank, QueueItem.received_at, QueueItem.id), offset, limit
        )
        rows = Rows(_rows(session, query, stamp), total)
        if actor is not None:
            detail = {"offset": offset, "items": len(rows), "ids": [r.id for r in rows]}
            audit_read(session, actor, "monitor-queue", "queue", "all" if include_closed else "open", detail)
        return rows


@dataclass(frozen=True)
class QueueCounts:
    """The open items of the whole queue by priority, and how many are past their due time (the queue
    screen shows one page of items; its counts are of every open item)."""

    open: int
    by_priority: dict[str, int]
    overdue: int


def queue_counts(store: Store) -> QueueCounts:
    """Counts only (no patient data: not a read to audit)."""
    stamp = now()
    with store.transaction() as session:
        groups = session.execute(
            select(QueueItem.priority, func.count())
            .where(QueueItem.status == "open")
            .group_by(QueueItem.priority)
        ).all()
        late = select(func.count()).select_from(QueueItem)
        overdue = session.scalar(late.where(QueueItem.status == "open", QueueItem.due_at < stamp))
    by_priority = {str(priority): int(n) for priority, n in groups}
    return QueueCounts(sum(by_priority.values()), by_priority, int(overdue or 0))


@dataclass(frozen=True)
class NotificationRequest:
    recipient: str
    channel: str
    read_back: bool = False
    outcome: str = ""
    acknowledged: bool = False
    tier: str | None = None  # what the technician found; never below the item's own priority


NOTICE_TIERS = ("emergent", "urgent", "routine")


def _tier(priority: str, asked: str | None) -> str:
    """A notice's tier: the item's priority (unreadable and routine items give ``routine``), raised to the
    technician's own reading when higher. A technician who sees VT on a strip the classifier found
    unreadable notifies it as emergent, and its escalation follows; a tier below the item's is not taken,
    since it would stop an emergent notice from escalating."""
    own = priority if priority in {"emergent", "urgent"} else "routine"
    if asked is None:
        return own
    check_option("tier", asked, list(NOTICE_TIERS))
    return min(own, asked, key=NOTICE_TIERS.index)


@dataclass(frozen=True)
class ReviewResult:
    item_id: int
    action: str
    notification_id: int | None = None
    recipient: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def review(
    store: Store,
    item_id: int,
    action: str,
    actor: str,
    note: str = "",
    confirmed_rhythm: str | None = None,
    notification: NotificationRequest | None = None,
) -> ReviewResult:
    """Close an item with what the technician did (the only way an item is ever closed)."""
    closing = CloseAction(check_option("action", action, [a.value for a in CloseAction]))
    if len(note) > 10_000:
        raise InputError("note", "at most 10,000 characters")
    # Both are printed in the signed end-of-service report: every character must show there.
    check_printable("note", note)
    if confirmed_rhythm is not None:
        check_printable("confirmed_rhythm", confirmed_rhythm)
    stamp = now()
    with store.transaction() as session:
        item = session.get(QueueItem, item_id, with_for_update=True)
        if item is None:
            raise NotFoundError("item", f"no queue item with id {item_id}")
        if item.status != "open":
            raise InputError("item", f"item {item_id} was closed by {item.closed_by} at {item.closed_at}")
        notification_id, recipient = None, None
        if closing is CloseAction.NOTIFIED:
            if notification is None or not notification.recipient.strip():
                raise InputError("recipient", "a notification names who was called or messaged")
            # the notification log is printed in the signed end-of-service report, as the note is
            if len(notification.recipient.strip()) > 200:  # the column's width (PostgreSQL refuses more)
                raise InputError("recipient", f"at most 200 characters, got {len(notification.recipient)}")
            check_printable("recipient", notification.recipient)
            _check_notice(notification, item)
            notification_id = _notify(session, item, notification, actor, stamp)
            recipient = notification.recipient
        elif closing is CloseAction.ESCALATED:
            recipient = _on_call(session, stamp)
            if recipient is None:
                raise InputError(
                    "roster",
                    "no on-call physician in the roster now: add a shift "
                    "('monitor roster add') before escalating",
                )
            # What the technician recorded of the call (the tier read above all: a VT run on a strip
            # triaged routine) was dropped until 2026-12-07: logged routine by phone, never escalated again.
            # The recipient is the roster's on-call physician whoever was named.
            told = notification or NotificationRequest("", "phone")
            _check_notice(told, item)
            notification_id = _notify(
                session,
                item,
                NotificationRequest(recipient, told.channel, told.read_back, told.outcome or "escalated",
                                    told.acknowledged, told.tier),
                actor,
                stamp,
            )
        before = {"status": "open", "priority": item.priority}
        item.status, item.action, item.closed_by, item.closed_at = "closed", closing.value, actor, stamp
        item.note = note
        item.confirmed_rhythm = confirmed_rhythm
        append(
            session,
            actor,
            "monitor:review",
            "queue_item",
            item.id,
            before,
            {
                "status": "closed",
                "action": closing.value,
                "note": note,
                "confirmed_rhythm": confirmed_rhythm,
                "notification_id": notification_id,
                "recipient": recipient,
            },
        )
    warnings = _repeated_unreadable(store, item_id) if closing is not CloseAction.PATIENT_CONTACTED else ()
    return ReviewResult(item_id, closing.value, notification_id, recipient, warnings)


def _check_notice(notice: NotificationRequest, item: QueueItem) -> None:
    check_printable("outcome", notice.outcome)  # printed in the signed end-of-service report
    check_option("channel", notice.channel, CHANNELS)
    if notice.tier is not None:
        check_option("tier", notice.tier, list(NOTICE_TIERS))
    elif item.priority == UNCLASSIFIED:
        # "the item's priority" is none yet: until 2026-12-07 such a notice was routine and never escalated,
        # even once the strip was classified emergent
        raise InputError(
            "tier",
            f"strip {item.id} is not classified yet: give the tier you read ({', '.join(NOTICE_TIERS)})",
        )


def _notify(
    session: Session,
    item: QueueItem,
    request: NotificationRequest,
    actor: str,
    stamp: datetime,
    escalated_from: int | None = None,
) -> int:
    tier = _tier(item.priority, request.tier)
    row = Notification(
        queue_item_id=item.id,
        tier=tier,
        recipient=request.recipient.strip(),
        channel=request.channel,
        sent_at=stamp,
        acknowledged_at=stamp if request.acknowledged else None,
        read_back=request.read_back,
        outcome=request.outcome,
        escalated_from_id=escalated_from,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    append(
        session,
        actor,
        "monitor:notify",
        "queue_item",
        item.id,
        None,
        {
            "notification_id": row.id,
            "tier": tier,
            "recipient": row.recipient,
            "channel": row.channel,
            "read_back": row.read_back,
            "acknowledged": request.acknowledged,
            "outcome": row.outcome,
            "escalated_from": escalated_from,
        },
    )
    return row.id


def acknowledge(store: Store, notification_id: int, actor: str, outcome: str = "") -> AcknowledgeOut:
    """Record that the person notified acknowledged it (stops its escalation); again changes nothing."""
    check_printable("outcome", outcome)  # printed in the signed end-of-service report
    with store.transaction() as session:
        # two technicians recording the same call-back at once: until 2026-12-08 both read it unacknowledged
        # on PostgreSQL, both were audited, and the second's outcome replaced the first's
        row = session.get(Notification, notification_id, with_for_update=True)
        if row is None:
            raise NotFoundError("notification", f"no notification with id {notification_id}")
        already = row.acknowledged_at is not None
        if not already:
            row.acknowledged_at = now()
            row.outcome = outcome or row.outcome
            append(
                session,
                actor,
                "monitor:acknowledge",
                "queue_item",
                row.queue_item_id,
                None,
                {"notification_id": row.id, "outcome": row.outcome},
            )
        assert row.acknowledged_at is not None
        # the one whose Acknowledge arrived second is told who got there first (until 2026-12-08 the
        # queue page just refreshed, their outcome silently dropped)
        by = acknowledgers(session, {row.queue_item_id}).get(row.id, row.created_by) if already else actor
        return AcknowledgeOut(notification_id=row.id, queue_item_id=row.queue_item_id,
                              acknowledged_at=aware(row.acknowledged_at), outcome=row.outcome or "",
                              acknowledged_by=by, already=already)


def acknowledgers(session: Session, item_ids: set[int]) -> dict[int, str]:
    """notification id -> the actor of its ``monitor:acknowledge`` audit row (the row is the record; a
    notice acknowledged as it was sent has none: its notifier recorded it)."""
    found: dict[int, str] = {}
    rows = session.execute(
        select(AuditEntry.actor, AuditEntry.after_json).where(
            AuditEntry.action == "monitor:acknowledge",
            AuditEntry.entity == "queue_item",
            AuditEntry.entity_id.in_([str(i) for i in item_ids]),
        )
    )
    for who, after in rows:
        found.setdefault(int(json.loads(after or "{}").get("notification_id", 0)), who)
    return found


def _on_call(session: Session, when: datetime) -> str | None:
    shifts = [
        shift_of(s)
        for s in session.scalars(select(RosterShift).where(RosterShift.start <= when, RosterShift.end > when))
    ]
    return on_call_at(shifts, when)


def on_call_now(store: Store) -> str | None:
    """The on-call physician of the roster now (None: nobody to escalate to)."""
    with store.transaction() as session:
        return _on_call(session, now())


def _repeated_unreadable(store: Store, item_id: int) -> tuple[str, ...]:
    """A warning when the patient's last strips were unreadable several times in a row (electrodes?)."""
    count = queue_policy().unreadable_for_contact
    with store.transaction() as session:
        item = session.get(QueueItem, item_id)
        if item is None or item.enrolment_id is None:
            return ()
        last = list(
            session.scalars(
                select(QueueItem.priority)
                .where(QueueItem.enrolment_id == item.enrolment_id)
                .order_by(QueueItem.received_at.desc())
                .limit(count)
            )
        )
    if len(last) == count and all(p == Priority.UNREADABLE.value for p in last):
        return (
            f"the last {count} strips of enrolment {item.enrolment_id} were unreadable: contact the patient "
            "about the electrodes (close the next one as patient_contacted)",
        )
    return ()


_FLAGS = {
    "unknown_device": "belongs to no enrolment",
    "outside_enrolment": "was recorded outside every period of its device",
    "after_period": "was recorded after its period ended",
    "after_close": "came after its period was closed",
    "future_time": "is stamped later than it arrived (the device's clock)",
}


@dataclass(frozen=True)
class Reconciliation:
    start: str
    end: str
    received: int
    queued: int
    classified: int
    reviewed: int
    open: int
    orphans: tuple[str, ...]

    @property
    def alarm(self) -> bool:
        return bool(self.orphans)


def reconcile(store: Store, start: datetime, end: datetime, actor: str = "reconcile") -> Reconciliation:
    """Received vs reviewed strips of a shift; every strip without a person's review past its due time,
    never classified, or never queued is an orphan (and raises the alarm, in the audit log too)."""
    stamp = now()
    with store.transaction() as session:
        received = (
            session.scalar(
                select(func.count())
                .select_from(Transmission)
                .where(Transmission.received_at >= start, Transmission.received_at < end)
            )
            or 0
        )
        items = list(
            session.scalars(
                select(QueueItem).where(QueueItem.received_at >= start, QueueItem.received_at < end)
            )
        )
        missing = list(
            session.scalars(
                select(Transmission.id).where(
                    Transmission.received_at >= start,
                    Transmission.received_at < end,
                    Transmission.id.not_in(select(QueueItem.transmission_id)),
                )
            )
        )
        orphans = [f"transmission {t} has no queue item" for t in missing]
        # a strip with no current period of its device is queued, but whose it is (and whether it is billed)
        # needs a person: the alarm names it even once its rhythm was reviewed (reference section 5 rule 6)
        flagged = session.execute(
            select(Transmission.id, Transmission.device_serial, Transmission.flag).where(
                Transmission.received_at >= start, Transmission.received_at < end, Transmission.flag != ""
            ).order_by(Transmission.id)
        ).all()
        orphans += [
            f"transmission {t} from device {device} {_FLAGS.get(flag, flag)} ({flag})"
            for t, device, flag in flagged
        ]
        orphans += [
            # a shift's items are many patients': their times are UTC's, and say so
            f"item {i.id} never classified (received {aware(i.received_at).astimezone(UTC):%H:%M} UTC)"
            for i in items
            if i.classified_at is None and stamp - aware(i.received_at) > timedelta(minutes=5)
        ]
        orphans += [
            f"item {i.id} ({i.priority}) open past its due time "
            f"{aware(i.due_at).astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            for i in items
            if i.status == "open" and aware(i.due_at) < stamp
        ]
        result = Reconciliation(
            start.isoformat(),
            end.isoformat(),
            int(received),
            len(items),
            sum(1 for i in items if i.classified_at is not None),
            sum(1 for i in items if i.status == "closed"),
            sum(1 for i in items if i.status == "open"),
            tuple(orphans),
        )
        if result.alarm:
            append(
                session,
                actor,
                "monitor:orphan-alarm",
                "roster",
                start.isoformat(),
                None,
                {"end": end.isoformat(), "orphans": list(orphans)},
            )
        return result
