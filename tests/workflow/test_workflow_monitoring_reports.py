"""The reports of a monitored patient opened as PDFs: the daily report and the end-of-service report each
list every notified event with its notification log and draw its strip on the grid."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from monitoring_builders import START, Strips, make_strips
from workflow_builders import ORDERING_NPI, PIN

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


def test_end_of_service_report_lists_every_criteria_version_in_force(store: Store, strips: Strips) -> None:
    """Which signed criteria governed which days: the defaults until the first signature, each version until
    the next, a version signed after the end not at all (monitoring.md section 5 rule 7)."""
    from sqlalchemy import select

    from ecgdesk.monitoring.criteria import default_criteria
    from ecgdesk.store.monitoring_models import CriteriaVersion
    from ecgdesk.workflow.monitoring import sign_criteria
    from ecgdesk.workflow.users import add_user

    add_user(store, "dr.order", "physician", PIN, "Smith, John", npi=ORDERING_NPI)
    info = enroll(
        store,
        EnrolmentRequest(
            "M8", "Roe, Rita", date(1950, 5, 6), "F", "DEV-8", Service.EVENT_MONITOR, START.date(),
            ORDERING_NPI, ("R00.2",),
        ),
        "tech",
    )
    for _ in range(3):
        sign_criteria(store, info.id, default_criteria().to_dict(), "dr.order", PIN)
    signed = {1: "2026-12-01T10:00:00+00:00", 2: "2026-12-03T08:30:00+00:00", 3: "2026-12-06T09:00:00+00:00"}
    with store.transaction() as session:  # signed on those days (the clock of this run is later)
        for row in session.scalars(select(CriteriaVersion).where(CriteriaVersion.enrolment_id == info.id)):
            row.signed_at = datetime.fromisoformat(signed[row.version])
    item = ingest_file(store, strips.normal, "DEV-8", "device").item_id
    assert item
    review(store, item, "reviewed", "tech")
    closed = close_period(store, info.id, "tech", stopped_early_on=date(2026, 12, 4))
    runs = " ".join(pdf_text(report_study(store, closed.study_id, "tech").pdf_path.read_bytes()))
    assert "defaults (not signed) 2026-12-01 to 2026-12-01 10:00" in runs
    first = "version 1 signed by Smith, John 2026-12-01 10:00: in force 2026-12-01 10:00 to 2026-12-03 08:30"
    assert first in runs
    assert "version 2 signed by Smith, John 2026-12-03 08:30: in force 2026-12-03 08:30 to 2026-12-04" in runs
    assert "version 3" not in runs  # signed after the period ended
