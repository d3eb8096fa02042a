"""One queue item and a patient's daily report over HTTP: the item with its strip (mV) and beat labels,
the daily report as JSON and as a PDF with each notified event's strip; unknown ids 404, bad dates 422,
other roles 403; every read audited."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
from service_builders import ORDERING_NPI, Api
from sqlalchemy import func, select

from ecgdesk.coding import Service
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_queue import NotificationRequest, review
from ecgdesk.workflow.signal import decode_int16

sys.path.insert(0, str(Path(__file__).parents[1] / "workflow"))
sys.path.insert(0, str(Path(__file__).parents[1] / "reports"))
from monitoring_builders import START, Strips, make_strips
from scanning_builders import pdf_text


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("monitoring-items-http"))


def _audited(api: Api, action: str) -> int:
    with api.store.transaction() as session:
        return int(
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))
            or 0
        )


def test_item_strip_and_daily_report_over_http(api: Api, strips: Strips) -> None:
    info = enroll(
        api.store,
        EnrolmentRequest(
            "M1",
            "Roe, Rita",
            date(1950, 5, 6),
            "F",
            "DEV-1",
            Service.MOBILE_TELEMETRY,
            START.date(),
            ORDERING_NPI,
            ("R00.2",),
        ),
        "tech.t",
    )
    ingest_file(api.store, strips.normal, "DEV-1", "device")
    pause = ingest_file(api.store, strips.pause, "DEV-1", "device").item_id
    assert pause is not None
    tech = api.login("tech.t")
    answer = api.client.get(f"/api/v1/monitoring/queue/{pause}", headers=tech)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    item = answer.json()
    strip = item["strip"]
    assert item["patient"] == "Roe, Rita" and strip["beats"]["source"] == "computed"
    assert decode_int16(strip["samples"]).size == int(strip["duration_s"] * strip["fs"])
    assert len(strip["beats"]["offsets"]) == len(strip["beats"]["labels"]) > 30
    again = api.client.get(f"/api/v1/monitoring/queue/{pause}", headers=api.login("dr.t")).json()
    assert again["strip"]["beats"]["source"] == "stored"
    assert _audited(api, "read:monitor-item") == 2

    review(
        api.store,
        pause,
        "notified",
        "tech.t",
        note="pause phoned through",
        notification=NotificationRequest("Dr Smith", "phone", read_back=True, outcome="seen today"),
    )
    # the period page lists the notification itself (until 2026-12-08 only the counts)
    period = api.client.get(f"/monitoring/periods/{info.id}").text
    assert 'data-testid="period-notices"' in period and "No notification was sent" not in period
    assert f"item {pause}" in period and "Dr Smith (phone, read back)" in period and "seen today" in period
    assert " by tech.t</td>" in period and "not yet" in period
    url = f"/api/v1/monitoring/enrolments/{info.id}/daily"
    day = api.client.get(url, params={"date": START.date().isoformat()}, headers=tech)
    assert day.status_code == 200 and day.headers["content-type"].startswith("application/json")
    assert day.json()["received"] == 2 and day.json()["events"][0]["item_id"] == pause
    assert day.json()["time_zone"] == "UTC"  # the enrolment's zone: the day is the patient's
    pdf = api.client.get(url, params={"date": START.date().isoformat(), "format": "pdf"}, headers=tech)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    text = " ".join(pdf_text(pdf.content))
    assert "Mobile cardiac telemetry: daily report" in text
    # matplotlib draws "fi" as one glyph: the runs are split there
    assert "ed and escalated events (1)" in text and "phone to Dr Smith" in text and "read back" in text
    assert "ed event strips (25 mm/s, 10 mm/mV)" in text and f"item {pause}   recorded 2026-12-01" in text
    assert _audited(api, "monitor:daily-report") == 2
    assert not list(api.store.home.glob("daily-*")), "temporary PDF folders left behind"
    before = api.client.get(url, params={"date": "2026-11-30"}, headers=tech)  # the day before the start
    assert before.status_code == 422 and "date" in before.text
    assert "outside the monitoring period" in before.text


def test_bad_requests(api: Api) -> None:
    tech = api.login("tech.t")
    assert api.client.get("/api/v1/monitoring/queue/999", headers=tech).status_code == 404
    assert api.client.get("/api/v1/monitoring/queue/0", headers=tech).status_code == 422
    daily = "/api/v1/monitoring/enrolments/{}/daily"
    assert api.client.get(daily.format(999), params={"date": "2026-12-01"}, headers=tech).status_code == 404
    assert api.client.get(daily.format(1), params={"date": "2026-13-01"}, headers=tech).status_code == 422
    assert api.client.get(daily.format(1), headers=tech).status_code == 422  # no date
    bad = api.client.get(daily.format(1), params={"date": "2026-12-01", "format": "docx"}, headers=tech)
    assert bad.status_code == 422
    biller = api.login("biller.t")
    assert api.client.get("/api/v1/monitoring/queue/999", headers=biller).status_code == 403
    assert api.client.get(daily.format(1), params={"date": "2026-12-01"}, headers=biller).status_code == 403


def test_device_swap_over_http(api: Api) -> None:
    """One route, the workflow's swap: technicians only; bad input 422 naming the field; audited."""
    info = enroll(
        api.store,
        EnrolmentRequest(
            "M1", "Roe, Rita", date(1950, 5, 6), "F", "DEV-1", Service.MOBILE_TELEMETRY, START.date(),
            ORDERING_NPI, ("R00.2",),
        ),
        "tech.t",
    )
    url = f"/api/v1/monitoring/enrolments/{info.id}/device-swap"
    body = {"device": "DEV-2", "at": "2026-12-02T10:00:00Z", "reason": "battery dead"}
    assert api.client.post(url, json=body, headers=api.login("dr.t")).status_code == 403
    tech = api.login("tech.t")
    outside = api.client.post(url, json={**body, "at": "2027-02-01T10:00:00Z"}, headers=tech)
    assert outside.status_code == 422 and "at" in outside.text
    assert "outside the monitoring period" in outside.text
    assert api.client.post(url, json={**body, "device": "DEV 2"}, headers=tech).status_code == 422
    assert api.client.post(url, json={**body, "reason": ""}, headers=tech).status_code == 422
    missing = "/api/v1/monitoring/enrolments/999/device-swap"
    assert api.client.post(missing, json=body, headers=tech).status_code == 422  # names 'enrolment'
    answer = api.client.post(url, json=body, headers=tech)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["old_device"], answer.json()["new_device"]) == ("DEV-1", "DEV-2")
    assert _audited(api, "monitor:device-swap") == 1
    # the old recorder is free for the next patient
    enroll(
        api.store,
        EnrolmentRequest(
            "M2", "Doe, Dan", date(1960, 1, 2), "M", "DEV-1", Service.MOBILE_TELEMETRY, START.date(),
            ORDERING_NPI, ("R00.2",),
        ),
        "tech.t",
    )


def test_one_period_over_http_and_its_page(api: Api) -> None:
    """GET /api/v1/monitoring/enrolments/{id}: technicians, physicians and billers (the administrator is
    refused); the swap history with who and why; unknown 404, bad id 422; audited. The period page shows
    the same, and the study page of a monitored study links it."""
    info = enroll(
        api.store,
        EnrolmentRequest(
            "M1", "Roe, Rita", date(1950, 5, 6), "F", "DEV-1", Service.EVENT_MONITOR, START.date(),
            ORDERING_NPI, ("R00.2",),
        ),
        "tech.t",
    )
    swap = {"device": "DEV-2", "at": "2026-12-02T10:00:00Z", "reason": "battery dead"}
    tech = api.login("tech.t")
    assert api.client.post(
        f"/api/v1/monitoring/enrolments/{info.id}/device-swap", json=swap, headers=tech
    ).is_success
    url = f"/api/v1/monitoring/enrolments/{info.id}"
    for user in ("tech.t", "dr.t", "biller.t"):
        answer = api.client.get(url, headers=api.login(user))
        assert answer.status_code == 200, (user, answer.text)
        assert answer.headers["cache-control"] == "no-store"
    period = answer.json()
    assert (period["patient"], period["study_id"], period["status"]) == ("Roe, Rita", info.study_id, "active")
    assert [r["serial"] for r in period["recorders"]] == ["DEV-1", "DEV-2"]
    assert period["swaps"] == [
        {
            "old_device": "DEV-1",
            "new_device": "DEV-2",
            "at": "2026-12-02T10:00:00+00:00",
            "reason": "battery dead",
            "swapped_by": "tech.t",
            "swapped_by_name": period["swaps"][0]["swapped_by_name"],
            "recorded_at": period["swaps"][0]["recorded_at"],
        }
    ]
    assert period["criteria_versions"][0]["version"] is None
    assert period["time_zone"] == "UTC"  # none given at enrolment
    assert period["billing"]["summary"] == "not billable yet: the period is being recorded"
    assert _audited(api, "read:monitor-period") == 3
    assert api.client.get(url, headers=api.login("admin.t")).status_code == 403
    tech = api.login("tech.t")
    missing = api.client.get("/api/v1/monitoring/enrolments/999", headers=tech)
    assert missing.status_code == 404 and "enrolment" in missing.text
    assert api.client.get("/api/v1/monitoring/enrolments/0", headers=tech).status_code == 422

    page = api.client.get(f"/monitoring/periods/{info.id}")
    assert page.status_code == 200, page.text
    text = page.text
    assert 'data-testid="swaps"' in text and "battery dead" in text and "DEV-1" in text and "DEV-2" in text
    assert "2026-12-02 10:00" in text and "defaults (not signed)" in text
    assert 'data-testid="period-zone">UTC' in text and "No notification was sent in this period." in text
    assert f'href="/studies/{info.study_id}"' in text
    assert _audited(api, "read:monitor-period") == 4
    study = api.client.get(f"/studies/{info.study_id}").text
    assert f'href="/monitoring/periods/{info.id}"' in study
    assert api.client.get("/monitoring/periods/999").status_code == 404
    api.login("biller.t")
    assert "battery dead" in api.client.get(f"/monitoring/periods/{info.id}").text
    api.login("admin.t")
    assert api.client.get(f"/monitoring/periods/{info.id}").status_code == 403
