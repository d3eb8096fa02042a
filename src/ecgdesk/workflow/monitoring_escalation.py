"""Escalation of emergent and urgent notifications nobody acknowledged in their tier's minutes (reference
section 5 rule 9), run by the service's timers and ``monitor escalate``.

A late notice goes to the next physician who has not been called about the item yet: the roster's
on-call physician of the moment (the latest-starting shift first, then any other shift on call at that
instant), then the ordering physician who signed the patient's criteria in force. Until 2026-12-08 it
went to the on-call physician whoever that was: a notice to the on-call physician who did not answer was
"escalated" to the same physician, and an unanswered escalation again, every pass of the night. When
everyone has been called (or nobody is on call) the notice stays late and an alarm is written once per
notice and reason (``monitor:escalation-alarm``): the technician sees it flagged in the queue screen's
notifications awaiting acknowledgement, and the first pass after a new physician is rostered escalates it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from ecgdesk.store import Store, append
from ecgdesk.store.models import AuditEntry, User
from ecgdesk.store.monitoring_models import CriteriaVersion, Notification, QueueItem, RosterShift
from ecgdesk.workflow.app_settings import escalation_minutes
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.monitoring_queue import NotificationRequest, _notify
from ecgdesk.workflow.monitoring_roster import shift_of
from ecgdesk.workflow.users import aware

ESCALATION_ALARM = "monitor:escalation-alarm"
#: The reasons of an alarm: no physician on call at all, or every one there is already called.
NO_ON_CALL = "no_on_call"
NO_ONE_LEFT = "no_one_left"


def _same(name: str) -> str:
    return " ".join(name.split()).casefold()


def _on_call_list(session: Session, when: datetime) -> list[str]:
    """Every physician on call at ``when``, the one :func:`~ecgdesk.monitoring.roster.on_call_at` gives
    (the latest-starting shift) first: overlapping shifts are each other's backup."""
    shifts = [
        shift_of(s)
        for s in session.scalars(select(RosterShift).where(RosterShift.start <= when, RosterShift.end > when))
    ]
    ordered = sorted((s for s in shifts if s.on_call_physician), key=lambda s: s.start, reverse=True)
    return [s.on_call_physician for s in ordered if s.on_call_physician]


def _ordering_physician(session: Session, item: QueueItem) -> tuple[str, set[str]] | None:
    """The physician who signed the patient's criteria in force (the ordering physician), as the recipient
    and the names a technician may have typed for them; None before a version is signed, or when that
    account is disabled."""
    if item.enrolment_id is None:
        return None
    signer = session.scalar(
        select(CriteriaVersion.signed_by)
        .where(CriteriaVersion.enrolment_id == item.enrolment_id)
        .order_by(CriteriaVersion.version.desc())
        .limit(1)
    )
    if signer is None:
        return None
    user = session.scalar(select(User).where(User.username == signer))
    if user is not None and user.disabled:  # left the practice: a call to nobody
        return None
    names = {_same(signer)} | ({_same(user.display_name)} if user is not None else set())
    return signer, names


def next_recipient(session: Session, item: QueueItem, when: datetime) -> tuple[str | None, list[str]]:
    """The first physician not yet called about ``item``, and those already called (the recipients of every
    notice of the item, compared without case or spacing)."""
    called = list(
        dict.fromkeys(
            session.scalars(select(Notification.recipient).where(Notification.queue_item_id == item.id))
        )
    )
    known = {_same(name) for name in called}
    candidates = [(name, {_same(name)}) for name in _on_call_list(session, when)]
    ordering = _ordering_physician(session, item)
    if ordering is not None:
        candidates.append(ordering)
    for name, names in candidates:
        if not names & known:
            return name, called
    return None, called


def escalate_unacknowledged(store: Store, actor: str = "escalation") -> list[int]:
    """Escalate emergent and urgent notifications not acknowledged within their tier's minutes (the
    administrator's settings, workflow.app_settings) to the next physician not yet called (once each);
    returns the new notification ids."""
    stamp = now()
    created = []
    with store.transaction() as session:
        late_in_tier = [
            (Notification.tier == tier.value) & (Notification.sent_at <= stamp - timedelta(minutes=minutes))
            for tier, minutes in escalation_minutes(session).items()
        ]
        escalated = select(Notification.escalated_from_id).where(Notification.escalated_from_id.is_not(None))
        # An item's notices are one chain (its notice, the escalations of it): once a physician acknowledged
        # any of them the event is in hand. Until 2026-12-07 an escalation left unanswered because the
        # physician first called had answered was escalated again every pass of the night.
        answered = aliased(Notification)
        in_hand = select(answered.id).where(
            answered.queue_item_id == Notification.queue_item_id, answered.acknowledged_at.is_not(None)
        )
        late = list(
            session.scalars(
                select(Notification).where(
                    or_(*late_in_tier),
                    Notification.acknowledged_at.is_(None),
                    Notification.id.not_in(escalated),
                    ~in_hand.exists(),
                )
                # several service processes run the timers: each late notification is escalated once
                .with_for_update(skip_locked=True)
            )
        )
        if late:
            # A row this pass locked may have been escalated by a pass that committed while this one's
            # select ran: the row's lock is free again after that commit, but the select's own snapshot
            # does not see the new escalation (PostgreSQL's read committed). A second statement takes a
            # fresh snapshot.
            done = set(session.scalars(select(Notification.escalated_from_id).where(
                Notification.escalated_from_id.in_([row.id for row in late]))))
            late = [row for row in late if row.id not in done]
        for row in late:
            item = session.get(QueueItem, row.queue_item_id)
            assert item is not None
            recipient, called = next_recipient(session, item, stamp)
            if recipient is None:
                # calling no one, or the physician who did not answer, is no escalation (rules 5 and 9)
                _alarm(session, row, actor, NO_ONE_LEFT if _on_call_list(session, stamp) else NO_ON_CALL,
                       called)
                continue
            created.append(
                _notify(
                    session,
                    item,
                    NotificationRequest(
                        recipient,
                        "phone",
                        outcome=f"escalated: notification {row.id} to {row.recipient} unacknowledged",
                        # the notice's own tier: one the technician raised fell back to the item's
                        # priority (routine: logged so, and never escalated again)
                        tier=row.tier,
                    ),
                    actor,
                    stamp,
                    escalated_from=row.id,
                )
            )
    return created


def _why(reason: str, called: list[str]) -> str:
    if reason == NO_ON_CALL:
        return (
            "not acknowledged in time and no on-call physician in the roster: add one "
            "('monitor roster add'); the notice is escalated at the next pass after that"
        )
    return (
        f"no one left to escalate to: {', '.join(called)} called and not acknowledged, and no other "
        "physician on call or ordering: reach a physician yourself and record the acknowledgement, or "
        "add a physician to the roster ('monitor roster add'; the next pass escalates to them)"
    )


def alarms(session: Session, notification_ids: list[int]) -> dict[int, dict[str, str]]:
    """The escalation alarms raised for these notices: notice id -> reason -> why (in words)."""
    raised: dict[int, dict[str, str]] = {}
    rows = session.execute(
        select(AuditEntry.entity_id, AuditEntry.after_json).where(
            AuditEntry.action == ESCALATION_ALARM,
            AuditEntry.entity == "notification",
            AuditEntry.entity_id.in_([str(n) for n in notification_ids]),
        ).order_by(AuditEntry.seq)
    )
    for entity_id, after in rows:
        detail = json.loads(after or "{}")
        # alarms written before 2026-12-08 carry no reason: they were all for a roster without one on call
        raised.setdefault(int(entity_id), {})[detail.get("reason", NO_ON_CALL)] = str(detail.get("why", ""))
    return raised


def stranded(store: Store) -> dict[int, str]:
    """Late notices every physician there is has been called about, still in no one's hands: notice id ->
    why (the alarm's words). A physician rostered since is called at the next pass."""
    with store.transaction() as session:
        answered = aliased(Notification)
        in_hand = select(answered.id).where(
            answered.queue_item_id == Notification.queue_item_id, answered.acknowledged_at.is_not(None)
        )
        escalated = select(Notification.escalated_from_id).where(Notification.escalated_from_id.is_not(None))
        open_ids = list(session.scalars(select(Notification.id).where(
            Notification.acknowledged_at.is_(None), Notification.id.not_in(escalated), ~in_hand.exists())))
        raised = alarms(session, open_ids)
        return {n: why[NO_ONE_LEFT] for n, why in sorted(raised.items()) if NO_ONE_LEFT in why}


def _alarm(session: Session, row: Notification, actor: str, reason: str, called: list[str]) -> None:
    """An audit alarm, once per late notice and reason, that it could not be escalated."""
    if reason in alarms(session, [row.id]).get(row.id, {}):
        return
    append(
        session,
        actor,
        ESCALATION_ALARM,
        "notification",
        row.id,
        None,
        {
            "queue_item": row.queue_item_id,
            "tier": row.tier,
            "recipient": row.recipient,
            "sent_at": aware(row.sent_at),
            "reason": reason,
            "called": called,
            "why": _why(reason, called),
        },
    )
