"""The service's monitoring timers: a late, unacknowledged emergent notification reaches the on-call
physician without anyone running a command, once, even with two timers (two service processes) running;
and what a pass escalates: never an event a physician acknowledged, an escalation with the tier the
technician read (and a strip not yet classified only with one)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from monitoring_builders import Strips, make_strips, notified_emergent
from sqlalchemy import select
from workflow_builders import ORDERING_NPI, PIN

from ecgdesk.errors import InputError
from ecgdesk.monitoring.criteria import default_criteria
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry, User
from ecgdesk.store.monitoring_models import Notification, QueueItem
from ecgdesk.workflow.monitoring import ingest_file, sign_criteria
from ecgdesk.workflow.monitoring_escalation import ESCALATION_ALARM, next_recipient, stranded
from ecgdesk.workflow.monitoring_notices import item_notices, waiting_notices
from ecgdesk.workflow.monitoring_queue import NotificationRequest, acknowledge, review
from ecgdesk.workflow.monitoring_roster import add_shift
from ecgdesk.workflow.monitoring_timers import MonitoringTimers
from ecgdesk.workflow.users import add_user


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("timers"))


def _escalations(store: Store) -> list[Notification]:
    with store.transaction() as session:
        rows = session.scalars(select(Notification).where(Notification.escalated_from_id.is_not(None)))
        return list(rows)


def test_timers_escalate_a_late_notification_once_without_a_command(store: Store, strips: Strips) -> None:
    notified_emergent(store, strips, minutes_ago=30)
    timers = [MonitoringTimers(store, every_s=0.05).start() for _ in range(2)]
    try:
        deadline = time.monotonic() + 20
        while not _escalations(store) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # several more passes of both timers
    finally:
        for timer in timers:
            timer.stop()
    (escalation,) = _escalations(store)
    assert escalation.recipient == "dr.oncall" and escalation.tier == "emergent"
    assert sorted(t.escalated for t in timers) == [[], [escalation.id]]


def test_timers_leave_a_recent_notification_alone(store: Store, strips: Strips) -> None:
    notified_emergent(store, strips, minutes_ago=1)
    timer = MonitoringTimers(store, every_s=0.05).start()
    time.sleep(0.4)
    timer.stop()
    assert _escalations(store) == [] and timer.escalated == []
    with pytest.raises(ValueError, match="every_s"):
        MonitoringTimers(store, every_s=0)


def test_once_a_physician_acknowledged_the_event_its_escalation_is_not_escalated_again(
    store: Store, strips: Strips
) -> None:
    """Dr Smith, notified of an emergent strip, did not answer in time: it went to the on-call physician.
    Dr Smith then called back and acknowledged it (the event is in a physician's hands). Before, the
    escalation, unanswered since nobody needed to answer it, was escalated again every 10 minutes of the
    night, to the on-call physician each time, about an event already handled."""
    notified_emergent(store, strips, minutes_ago=30)
    timer = MonitoringTimers(store)
    (escalation,) = timer.tick()
    with store.transaction() as session:
        (original,) = session.scalars(select(Notification).where(Notification.escalated_from_id.is_(None)))
        late = session.get(Notification, escalation)
        assert late is not None
        late.sent_at = late.sent_at - timedelta(minutes=30)  # the escalation as late as its notice was
    acknowledge(store, original.id, "tech", "Dr Smith called back: patient sent to the ED")
    assert timer.tick() == [] and [e.id for e in _escalations(store)] == [escalation]


def test_an_escalation_the_technician_raises_keeps_the_tier_read_and_what_was_recorded(
    store: Store, strips: Strips
) -> None:
    """The technician reads a VT run on a strip the classifier called routine and escalates it straight to
    the on-call physician, with the tier read (the panel's "Tier read", CLI --tier), channel and outcome.
    Before, closing as 'escalated' dropped all of them: the notice was logged routine by phone, and, left
    unanswered by the on-call physician, never escalated again."""
    item_id = notified_emergent(store, strips, minutes_ago=0, notify=False)
    with store.transaction() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        item.priority = "routine"
    read = NotificationRequest("", "sms", read_back=True, outcome="paged, no answer yet", tier="emergent")
    result = review(store, item_id, "escalated", "tech", notification=read)
    with store.transaction() as session:
        row = session.get(Notification, result.notification_id)
        assert row is not None
        assert (row.recipient, row.tier, row.channel, row.read_back, row.outcome) == (
            "dr.oncall", "emergent", "sms", True, "paged, no answer yet"
        )
        row.sent_at = row.sent_at - timedelta(minutes=11)  # past the emergent minutes, unanswered
    now = datetime.now(UTC)  # a second physician on call: dr.oncall was the one who did not answer
    add_shift(store, now - timedelta(minutes=30), now + timedelta(hours=2), [], "dr.backup", "admin")
    (again,) = MonitoringTimers(store).tick()
    with store.transaction() as session:
        escalation = session.get(Notification, again)
        assert escalation is not None and escalation.tier == "emergent"
        assert escalation.recipient == "dr.backup"
        assert escalation.escalated_from_id == result.notification_id
    other = ingest_file(store, strips.pause, "DEV-1", "device", classify=False).item_id or 0
    with pytest.raises(InputError) as caught:
        review(store, other, "escalated", "tech", notification=NotificationRequest("", "pager"))
    assert caught.value.field == "channel"


def test_a_notice_on_a_strip_not_yet_classified_needs_the_tier_read(store: Store, strips: Strips) -> None:
    """On a night with a classification backlog the technician opens a strip still unclassified (they come
    first in the queue), sees VT and calls the physician without choosing a tier: the notice took "the
    item's priority", which is none yet, so it was logged routine and never escalated, even once the strip
    was classified emergent. Now a notice or an escalation of an unclassified strip is refused naming
    ``tier`` until the technician says what was read."""
    notified_emergent(store, strips, minutes_ago=0, notify=False)
    waiting = ingest_file(store, strips.pause, "DEV-1", "device", classify=False).item_id or 0
    for action, notice in (("notified", NotificationRequest("Dr Smith", "phone")), ("escalated", None)):
        with pytest.raises(InputError) as caught:
            review(store, waiting, action, "tech", notification=notice)
        assert caught.value.field == "tier" and "not classified yet" in str(caught.value)
    result = review(store, waiting, "notified", "tech", notification=NotificationRequest("Dr Smith", "phone",
                                                                                         tier="emergent"))
    with store.transaction() as session:
        row = session.get(Notification, result.notification_id)
        assert row is not None and row.tier == "emergent"


def _late(store: Store, minutes: float = 11) -> None:
    with store.transaction() as session:
        for row in session.scalars(select(Notification)):
            row.sent_at = row.sent_at - timedelta(minutes=minutes)


def test_an_escalation_goes_to_a_physician_not_yet_called_and_flags_when_none_is_left(
    store: Store, strips: Strips
) -> None:
    """The technician called the on-call physician, who did not answer. Until 2026-12-08 the escalation
    went to the on-call physician whoever that was: the same physician, and again at every pass after,
    a silent loop where nobody else was ever called. Now it goes to the next physician not yet called
    (another on call, then the ordering physician who signed the criteria) and, with none left, the
    notice stays late with one alarm saying so, until a physician is rostered."""
    item_id = notified_emergent(store, strips, minutes_ago=0, notify=False)
    add_user(store, "dr.order", "physician", PIN, "Smith, John", npi=ORDERING_NPI)
    with store.transaction() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None and item.enrolment_id is not None
        enrolment_id = item.enrolment_id
    sign_criteria(store, enrolment_id, default_criteria().to_dict(), "dr.order", PIN)
    # typed by the technician with other case and spacing: still the on-call physician already called
    review(store, item_id, "notified", "tech", notification=NotificationRequest(" Dr.OnCall", "phone"))
    _late(store)
    with store.transaction() as session:  # an ordering physician whose account is disabled is no one
        item = session.get(QueueItem, item_id)
        assert item is not None
        assert next_recipient(session, item, datetime.now(UTC))[0] == "dr.order"
        ordering = session.scalars(select(User).where(User.username == "dr.order")).one()
        ordering.disabled = True
        session.flush()
        assert next_recipient(session, item, datetime.now(UTC)) == (None, ["Dr.OnCall"])
        ordering.disabled = False
    timer = MonitoringTimers(store)
    (first,) = timer.tick()
    _late(store)
    assert timer.tick() == [] and timer.tick() == []
    with store.transaction() as session:
        assert session.get(Notification, first).recipient == "dr.order"  # type: ignore[union-attr]
        (alarm,) = session.scalars(select(AuditEntry).where(AuditEntry.action == ESCALATION_ALARM))
        assert alarm.entity_id == str(first)
        why = json.loads(alarm.after_json)
        assert why["reason"] == "no_one_left" and why["called"] == ["Dr.OnCall", "dr.order"]
        assert "no one left to escalate to" in why["why"]
    assert stranded(store) == {first: why["why"]}  # what `monitor escalate` warns of (exit 1)
    (flagged,) = waiting_notices(store, "tech")  # the queue screen's list: the escalation, flagged
    assert (flagged.id, flagged.recipient, flagged.flag) == (first, "dr.order", why["why"])
    now = datetime.now(UTC)
    add_shift(store, now - timedelta(minutes=5), now + timedelta(hours=2), [], "dr.backup", "admin")
    (last,) = timer.tick()
    with store.transaction() as session:
        row = session.get(Notification, last)
        assert row is not None and (row.recipient, row.escalated_from_id) == ("dr.backup", first)
    assert stranded(store) == {}
    acknowledge(store, last, "tech.night", "dr.backup will see the patient")
    assert waiting_notices(store, "tech") == []
    with store.transaction() as session:
        notices = item_notices(session, item_id, None)
    assert [(n.recipient, n.acknowledged_by) for n in notices] == [
        ("Dr.OnCall", None), ("dr.order", None), ("dr.backup", "tech.night")
    ]
    assert notices[2].acknowledged_at is not None and notices[2].acknowledged_at.endswith("+00:00")
