"""The reports of a monitored patient opened as PDFs: the daily report and the end-of-service report each
list every notified event with its notification log and draw its strip on the grid."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
from monitoring_builders import START, Strips, make_strips
from workflow_builders import ORDERING_NPI

from ecgdesk.coding import Service
from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_daily import daily_report_pdf
from ecgdesk.workflow.monitoring_period import close_period
from ecgdesk.workflow.monitoring_queue import NotificationRequest, review
from ecgdesk.workflow.reporting import report_study

sys.path.insert(0, str(Path(__file__).parents[1] / "reports"))
from scanning_builders import pdf_text


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("monitoring-reports"))


def _pages(data: bytes) -> int:
    import re

    return len(re.findall(rb"/Type\s*/Page[^s]", data))


def _notified_period(store: Store, strips: Strips) -> tuple[int, int, int]:
    """A telemetry enrolment with a normal strip (reviewed) and the pause and VT strips (notified)."""
    info = enroll(
        store,
        EnrolmentRequest(
            "M9", "Roe, Rita", date(1950, 5, 6), "F", "DEV-9", Service.MOBILE_TELEMETRY, START.date(),
            ORDERING_NPI, ("R00.2",),
        ),
        "tech",
    )
    normal = ingest_file(store, strips.normal, "DEV-9", "device").item_id
    pause = ingest_file(store, strips.pause, "DEV-9", "device").item_id
    vt = ingest_file(store, strips.vt, "DEV-9", "device").item_id
    assert normal and pause and vt
    review(store, normal, "reviewed", "tech", confirmed_rhythm="sinus rhythm")
    review(
        store, pause, "notified", "tech", note="pause phoned through", confirmed_rhythm="sinus pause",
        notification=NotificationRequest("Dr Smith", "phone", read_back=True, outcome="seen today"),
    )
    review(
        store, vt, "notified", "tech", note="VT run phoned through",
        notification=NotificationRequest("Dr Jones", "sms", acknowledged=True, outcome="to ED"),
    )
    return info.id, pause, vt


def _strips_drawn(runs: list[str], *items: int) -> None:
    text = " ".join(runs)
    # matplotlib draws "fi" as one glyph, so "Notified" is cut there
    assert "ed event strips (25 mm/s, 10 mm/mV)" in text
    assert "ed and escalated events (2)" in text
    for name in ("phone to Dr Smith", "sms to Dr Jones", "read back", "to ED"):
        assert name in text, name
    captions = [run for run in runs if "recorded 2026-12-01 " in run]  # one above each strip
    assert len(captions) == len(items), captions


def test_daily_and_end_of_service_pdfs_draw_each_notified_strip(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    enrolment, pause, vt = _notified_period(store, strips)
    daily = daily_report_pdf(store, enrolment, START.date(), "dr.a", tmp_path / "daily.pdf")
    assert sorted(e["item_id"] for e in daily.events) == sorted([pause, vt])
    data = (tmp_path / "daily.pdf").read_bytes()
    runs = pdf_text(data)
    assert "Mobile cardiac telemetry: daily report -- 2026-12-01" in runs
    _strips_drawn(runs, pause, vt)
    for item in (pause, vt):
        assert any(run.startswith(f"item {item}   recorded 2026-12-01 ") for run in runs), item
    assert _pages(data) == 2  # the summary, then both strips on one page
    with pytest.raises(InputError) as caught:
        daily_report_pdf(store, enrolment, START.date(), "dr.a", tmp_path / "no" / "daily.pdf")
    assert caught.value.field == "out"

    closed = close_period(store, enrolment, "tech", stopped_early_on=START.date())
    assert closed.notified_events == 2
    report = report_study(store, closed.study_id, "tech")
    data = report.pdf_path.read_bytes()
    runs = pdf_text(data)
    assert "Mobile cardiac telemetry: end-of-service report" in runs
    _strips_drawn(runs, pause, vt)
    assert _pages(data) == 2
