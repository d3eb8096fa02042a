"""Monitoring over HTTP: a device token sends strips (queued at once, classified in the background,
duplicates answered 200), a technician works the queue."""

from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from service_builders import ORDERING_NPI, POLICY, UPLOAD_LIMIT, Api, make_api
from sqlalchemy import select

from ecgdesk.coding import Service
from ecgdesk.errors import InputError
from ecgdesk.service.settings import MONITORING_TIMER_ENV, ServiceSettings
from ecgdesk.store import Store
from ecgdesk.store.enums import Role
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.monitoring_models import Notification
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll
from ecgdesk.workflow.permissions import Principal
from ecgdesk.workflow.sessions import create_token

sys.path.insert(0, str(Path(__file__).parents[1] / "workflow"))
from monitoring_builders import START, Strips, make_strips, notified_emergent


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("monitoring-http"))


def _device_token(api: Api) -> dict[str, str]:
    admin = Principal(1, "admin.t", Role.ADMIN, "Ada", "test")
    _, secret = create_token(api.store, admin, "tech.t", "DEV-1 gateway")
    return {"Authorization": f"Bearer {secret}"}


def _files(header: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [
        ("files", (p.name, p.read_bytes(), "application/octet-stream"))
        for p in sorted(header.parent.glob(f"{header.stem}.*"))
    ]


def test_device_sends_strips_and_technician_closes_them(api: Api, strips: Strips) -> None:
    enroll(
        api.store,
        EnrolmentRequest(
            "M1",
            "Roe, Rita",
            date(1950, 5, 6),
            "F",
            "DEV-1",
            Service.EVENT_MONITOR,
            START.date(),
            ORDERING_NPI,
            ("R00.2",),
        ),
        "tech.t",
    )
    token = _device_token(api)
    sent = api.client.post(
        "/api/v1/monitoring/transmissions",
        params={"device": "DEV-1", "message_id": "m1"},
        files=_files(strips.pause),
        headers=token,
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "queued" and sent.json()["enrolment_id"] == 1
    again = api.client.post(
        "/api/v1/monitoring/transmissions",
        params={"device": "DEV-1", "message_id": "m2"},
        files=_files(strips.pause),
        headers=token,
    )
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    api.wait()
    headers = api.login("tech.t")
    queue = api.client.get("/api/v1/monitoring/queue", headers=headers).json()
    assert [q["priority"] for q in queue] == ["urgent"]
    # ISO 8601 with the offset, as the item's own detail gives them (on SQLite the list gave none)
    for key in ("received_at", "due_at"):
        assert datetime.fromisoformat(queue[0][key]).utcoffset() == timedelta(0), (key, queue[0][key])
    with api.store.transaction() as session:  # the read names the items (and so the patients) it showed
        read = session.scalars(select(AuditEntry).where(AuditEntry.action == "read:monitor-queue")).one()
        shown = {"offset": 0, "items": 1, "ids": [queue[0]["id"]]}
        assert (read.actor, json.loads(read.after_json)) == ("tech.t", shown)
    # the queue screen's counts are of the whole queue, whatever page of it the screen shows
    counts = api.client.get("/api/v1/monitoring/queue/counts").json()
    assert counts == {"open": 1, "by_priority": {"urgent": 1}, "overdue": int(queue[0]["overdue"])}
    refused = api.client.post(
        f"/api/v1/monitoring/queue/{queue[0]['id']}/review", json={"action": "notified"}, headers=headers
    )
    assert refused.status_code == 422 and "recipient" in refused.text
    nobody = api.client.post(  # the recipient may be left out for an escalation (the on-call), not a notice
        f"/api/v1/monitoring/queue/{queue[0]['id']}/review", headers=headers,
        json={"action": "notified", "notification": {"channel": "sms"}},
    )
    assert nobody.status_code == 422 and "who was called" in nobody.text, nobody.text
    bad_tier = api.client.post(
        f"/api/v1/monitoring/queue/{queue[0]['id']}/review",
        headers=headers,
        json={"action": "notified", "notification": {"recipient": "Dr Smith", "tier": "critical"}},
    )
    assert bad_tier.status_code == 422 and "tier" in bad_tier.text
    closed = api.client.post(
        f"/api/v1/monitoring/queue/{queue[0]['id']}/review",
        headers=headers,
        json={"action": "notified", "notification": {"recipient": "Dr Smith", "read_back": True,
                                                     "tier": "emergent"}},
    )
    assert closed.status_code == 200 and closed.json()["notification_id"] == 1
    # waiting for Dr Smith's answer: listed for the queue screen, on the patient's clock
    (waiting,) = api.client.get("/api/v1/monitoring/notifications").json()
    shown = (waiting["id"], waiting["recipient"], waiting["tier"], waiting["flag"])
    assert shown == (1, "Dr Smith", "emergent", "")
    assert waiting["acknowledged_at"] is None and waiting["sent_by"] == "tech.t"
    assert datetime.fromisoformat(waiting["sent_at"]).utcoffset() is not None and waiting["patient"]
    # Dr Smith called back: acknowledged from the browser as with `monitor ack` (it had no route)
    ack = api.client.post("/api/v1/monitoring/notifications/1/ack", headers=headers,
                          json={"outcome": "patient sent to the ED"})
    assert ack.status_code == 200 and ack.json()["already"] is False, ack.text
    again = api.client.post("/api/v1/monitoring/notifications/1/ack", headers=headers, json={})
    assert again.json()["already"] is True and again.json()["outcome"] == "patient sent to the ED"
    assert ack.json()["acknowledged_by"] == again.json()["acknowledged_by"] == "tech.t"
    assert api.client.get("/api/v1/monitoring/notifications").json() == []  # answered: waits no more
    missing = api.client.post("/api/v1/monitoring/notifications/99/ack", headers=headers, json={})
    assert missing.status_code == 404 and "notification" in missing.text
    with api.store.transaction() as session:
        acked = session.scalars(select(AuditEntry).where(AuditEntry.action == "monitor:acknowledge")).all()
        assert [json.loads(a.after_json)["outcome"] for a in acked] == ["patient sent to the ED"]
        assert session.scalars(select(Notification.acknowledged_at)).one() is not None
    with api.store.transaction() as session:  # the technician read it as emergent: it escalates as such
        assert session.scalars(select(Notification.tier)).one() == "emergent"
    assert api.client.get("/api/v1/monitoring/queue", headers=headers).json() == []
    counts = api.client.get("/api/v1/monitoring/queue/counts").json()
    assert counts == {"open": 0, "by_priority": {}, "overdue": 0}


def test_bad_transmissions_are_4xx_naming_the_field(api: Api, tmp_path: Path) -> None:
    token = _device_token(api)
    no_device = api.client.post(
        "/api/v1/monitoring/transmissions", files=[("files", ("a.edf", b"x", "x"))], headers=token
    )
    assert no_device.status_code == 422 and "device" in no_device.text
    garbage = api.client.post(
        "/api/v1/monitoring/transmissions",
        params={"device": "DEV-9"},
        files=[("files", ("strip.edf", b"not an edf at all", "x"))],
        headers=token,
    )
    assert garbage.status_code == 422 and "files" in garbage.text and "incoming" not in garbage.text
    traversal = api.client.post(
        "/api/v1/monitoring/transmissions",
        params={"device": "DEV-9"},
        files=[("files", ("../x.edf", b"x", "x"))],
        headers=token,
    )
    assert traversal.status_code == 422
    assert api.client.post("/api/v1/monitoring/transmissions", params={"device": "DEV-9"}).status_code == 401


def test_service_escalates_late_notifications_by_itself(store: Store, strips: Strips) -> None:
    notified_emergent(store, strips, minutes_ago=30)
    settings = ServiceSettings(upload_limit_bytes=UPLOAD_LIMIT, policy=POLICY, monitoring_timer_s=0.05)
    for api in make_api(store, settings):  # no request is made: the service's own timer escalates
        deadline = time.monotonic() + 20
        while api.app.state.monitoring_timers.escalated == [] and time.monotonic() < deadline:
            time.sleep(0.05)
    with store.transaction() as session:
        rows = list(session.scalars(select(Notification).where(Notification.escalated_from_id.is_not(None))))
    assert len(rows) == 1 and rows[0].recipient == "dr.oncall"


def test_monitoring_timer_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MONITORING_TIMER_ENV, "0")
    assert ServiceSettings.from_env().monitoring_timer_s == 0
    monkeypatch.setenv(MONITORING_TIMER_ENV, "soon")
    with pytest.raises(InputError) as caught:
        ServiceSettings.from_env()
    assert caught.value.field == MONITORING_TIMER_ENV


def test_the_escalation_minutes_are_set_by_an_administrator_over_http_and_shown(api: Api) -> None:
    """Rule 9's N (reference monitoring.md section 5): an application setting, the administrator's only,
    a clear 422 for nonsense, audited, and on the settings page."""
    headers = api.login("tech.t")
    assert api.client.put("/api/v1/settings/escalate_emergent_minutes", json={"value": 3},
                          headers=headers).status_code == 403
    headers = api.login("admin.t")
    for bad in ({"value": 0}, {"value": 2.5}, {"value": "soon"}, {"value": 100000}, {}, {"value": 3, "x": 1}):
        answer = api.client.put("/api/v1/settings/escalate_emergent_minutes", json=bad, headers=headers)
        loc = answer.json()["detail"][0]["loc"]  # a value: the setting named; a body of another shape: body
        where = ["escalate_emergent_minutes"] if "value" in bad and "x" not in bad else ["body"]
        assert answer.status_code == 422 and loc[:1] == where, (bad, answer.text)
    assert api.client.put("/api/v1/settings/no_such_setting", json={"value": 3},
                          headers=headers).status_code == 404
    answer = api.client.put("/api/v1/settings/escalate_emergent_minutes", json={"value": "7"},
                            headers=headers)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert (out["value"], out["default"], out["changed_by"]) == (7, 10, "admin.t")
    listed = {s["name"]: s["value"] for s in api.client.get("/api/v1/settings").json()}
    # the sign-in settings: the app's policy
    assert listed == {"escalate_emergent_minutes": 7, "escalate_urgent_minutes": 60, "lockout_attempts": 3,
                      "lockout_minutes": 10, "idle_minutes": 10, "session_hours": 1,
                      **{f"idle_minutes_{role.value}": 10 for role in Role}, "late_app_ack_hours": 24}
    page = api.client.get("/admin/settings")
    assert page.status_code == 200
    row = page.text.split('data-setting="escalate_emergent_minutes"', 1)[1].split("</tr>", 1)[0]
    assert 'value="7"' in row and "admin.t" in row and "<td>10</td>" in row, row
    with api.store.transaction() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "settings:change")).all()
        assert [(a.actor, a.entity_id, a.after_json) for a in audit] == [
            ("admin.t", "escalate_emergent_minutes", '{"value":7}')]
