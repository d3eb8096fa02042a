"""Reference monitoring.md section 5 rule 9: "escalate to on-call when not acknowledged in N min (N
configurable)". N was only in the packaged queue_policy.json; now it is an application setting an
administrator changes (the permission table's settings:manage), audited, validated, and the escalation code
uses it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from monitoring_builders import START, Strips, make_strips
from sqlalchemy import select
from workflow_builders import ORDERING_NPI

from ecgdesk.coding import Service
from ecgdesk.errors import InputError, NotFoundError, PermissionDeniedError
from ecgdesk.store import Store
from ecgdesk.store.enums import Role
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.monitoring_models import Notification, QueueItem
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_queue import NotificationRequest, add_shift, escalate_unacknowledged, review
from ecgdesk.workflow.permissions import Principal

ADMIN = Principal(1, "admin.t", Role.ADMIN, "Ada", "test")
TECH = Principal(2, "tech.t", Role.TECHNICIAN, "Tom", "test")


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("app-settings"))


def test_the_escalation_minutes_are_an_audited_administrator_setting(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    from ecgdesk.workflow import app_settings

    enroll(store, EnrolmentRequest("M1", "Roe, Rita", date(1950, 5, 6), "F", "DEV-1", Service.EVENT_MONITOR,
                                   START.date(), ORDERING_NPI, ("R00.2",)), "tech")
    item_id = ingest_file(store, strips.vt, "DEV-1", "device").item_id or 0
    now = datetime.now(UTC)
    add_shift(store, now - timedelta(hours=1), now + timedelta(hours=7), ["tech"], "dr.oncall", "admin")
    with store.transaction() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        item.priority = "emergent"
    review(store, item_id, "notified", "tech", notification=NotificationRequest("Dr Smith", "phone"))
    with store.transaction() as session:
        for row in session.scalars(select(Notification)):
            row.sent_at = now - timedelta(minutes=4)
    assert escalate_unacknowledged(store) == []  # the packaged default: emergent after 10 minutes

    [emergent, urgent, *sign_in] = app_settings.list_settings(store, ADMIN)
    assert [s.name for s in sign_in] == ["lockout_attempts", "lockout_minutes", "idle_minutes"]
    assert (emergent.name, emergent.value, emergent.default, emergent.changed_by) == (
        "escalate_emergent_minutes", 10, 10, None)
    assert (urgent.name, urgent.value) == ("escalate_urgent_minutes", 60)
    with pytest.raises(PermissionDeniedError):
        app_settings.change_setting(store, TECH, "escalate_emergent_minutes", 3)
    for bad in (0, -5, 2.5, 1441, float("nan"), "soon", None, True):
        with pytest.raises(InputError) as caught:
            app_settings.change_setting(store, ADMIN, "escalate_emergent_minutes", bad)
        assert caught.value.field == "escalate_emergent_minutes", bad
    with pytest.raises(NotFoundError):
        app_settings.change_setting(store, ADMIN, "escalate_routine_minutes", 3)
    changed = app_settings.change_setting(store, ADMIN, "escalate_emergent_minutes", 3)
    assert (changed.value, changed.default, changed.changed_by) == (3, 10, "admin.t")

    (escalated,) = escalate_unacknowledged(store)  # 4 minutes late is now past the setting's 3
    with store.transaction() as session:
        row = session.get(Notification, escalated)
        assert row is not None and row.recipient == "dr.oncall"
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(
            ["settings:change", "auth:forbidden"])).order_by(AuditEntry.seq)).all()
        assert [(a.action, a.actor) for a in audits] == [("auth:forbidden", "tech.t"),
                                                          ("settings:change", "admin.t")]
        change = audits[-1]
        assert (change.entity, change.entity_id) == ("setting", "escalate_emergent_minutes")
        before, after = json.loads(change.before_json), json.loads(change.after_json)
        assert (before, after) == ({"value": 10}, {"value": 3})
