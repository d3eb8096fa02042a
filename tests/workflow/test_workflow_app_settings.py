"""Reference monitoring.md section 5 rule 9: "escalate to on-call when not acknowledged in N min (N
configurable)". N was only in the packaged queue_policy.json; now it is an application setting an
administrator changes (the permission table's settings:manage), audited, validated, and the escalation code
uses it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from monitoring_builders import Strips, make_strips, notified_emergent
from sqlalchemy import select

from ecgdesk.errors import InputError, NotFoundError, PermissionDeniedError
from ecgdesk.store import Store
from ecgdesk.store.enums import Role
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.monitoring_models import Notification
from ecgdesk.workflow.monitoring_escalation import escalate_unacknowledged
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

    notified_emergent(store, strips, minutes_ago=4)
    assert escalate_unacknowledged(store) == []  # the packaged default: emergent after 10 minutes

    [emergent, urgent, *sign_in, late] = app_settings.list_settings(store, ADMIN)
    assert (late.name, late.value, late.low, late.high) == ("late_app_ack_hours", 24, 0, 168)
    with pytest.raises(InputError, match=r"late_app_ack_hours.*hours from 0 to 168"):
        app_settings.change_setting(store, ADMIN, "late_app_ack_hours", 169)
    assert [s.name for s in sign_in] == ["lockout_attempts", "lockout_minutes", "idle_minutes",
                                        "session_hours", "idle_minutes_technician",
                                        "idle_minutes_physician", "idle_minutes_biller",
                                        "idle_minutes_admin"]
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
    with store.transaction() as session:  # the late ACK window (interop_acks) reads what is set
        assert app_settings.late_ack_hours(session) == 24
    assert app_settings.change_setting(store, ADMIN, "late_app_ack_hours", 0).value == 0
    with store.transaction() as session:
        assert app_settings.late_ack_hours(session) == 0


def test_changes_made_at_the_same_moment_each_record_the_value_they_replaced(store: Store) -> None:
    """Administrators (or two tabs) changing a setting at the same moment: on PostgreSQL each read the
    value before without a lock, so several audit rows claimed to replace the same value and the audit
    trail of the setting did not chain (21 CFR 11.10(e): prior values kept); the first change of a
    setting, made twice at once, was refused 409 for all but one. Each change now waits for the other."""
    from ecgdesk.workflow import app_settings

    def change(value: int, barrier: threading.Barrier, failures: list[str]) -> None:
        barrier.wait()
        try:
            app_settings.change_setting(store, ADMIN, "escalate_urgent_minutes", value)
        except Exception as error:
            failures.append(repr(error))

    for round_ in range(2):  # the first change of the setting (no row yet), then changes of a stored one
        barrier, failures = threading.Barrier(6), list[str]()
        threads = [threading.Thread(target=change, args=(100 * round_ + i + 2, barrier, failures))
                   for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
    with store.transaction() as session:
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "settings:change")
                                 .order_by(AuditEntry.seq)).all()
        values = [(json.loads(a.before_json)["value"], json.loads(a.after_json)["value"]) for a in audits]
    assert len(values) == 12 and values[0][0] == 60, values
    assert all(values[i][0] == values[i - 1][1] for i in range(1, 12)), values  # each replaced the last
    assert app_settings.list_settings(store, ADMIN)[1].value == values[-1][1]


def test_a_value_written_as_text_must_be_plain_digits(store: Store) -> None:
    """Text went through Python's float(): `ecgdesk settings escalate_emergent_minutes 1e3` set 1000
    minutes, "1_0" 10, "٣" (an Arabic-Indic digit) 3: each a typo or a trick read as a valid number.
    Text must now be the digits 0-9 (spaces around allowed)."""
    from ecgdesk.workflow import app_settings

    for bad in ("1e3", "1_0", "\u0663", "0x10", "+5", "5.0", "-1"):
        with pytest.raises(InputError) as caught:
            app_settings.change_setting(store, ADMIN, "escalate_emergent_minutes", bad)
        assert caught.value.field == "escalate_emergent_minutes" and "digits" in caught.value.reason, bad
    assert app_settings.change_setting(store, ADMIN, "escalate_emergent_minutes", " 12 ").value == 12
