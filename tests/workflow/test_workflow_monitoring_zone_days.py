"""The period's days are the patient's calendar days in the enrolment's zone everywhere, not UTC's: the
roster's coverage (closing and coding), the daily report, the wait before closing, the hours of the
period's days, and the times the period's view and report show."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import select
from workflow_builders import ORDERING_NPI

from ecgdesk.coding import Service
from ecgdesk.errors import InputError
from ecgdesk.records import Recording, write_recording
from ecgdesk.store import Store
from ecgdesk.store.models import AnalysisRun, Study
from ecgdesk.workflow.billing import derive_facts, study_facts
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_daily import daily_report
from ecgdesk.workflow.monitoring_devices import swap_device
from ecgdesk.workflow.monitoring_item import item_view
from ecgdesk.workflow.monitoring_period import close_period
from ecgdesk.workflow.monitoring_queue import list_queue, review
from ecgdesk.workflow.monitoring_roster import add_shift
from ecgdesk.workflow.monitoring_view import period_view

WAVE = np.sin(np.arange(20 * 250) / 15).astype(np.float32)


def _enrol(store: Store, device: str, start: date, zone: str | None, days: int = 3) -> int:
    request = EnrolmentRequest(
        patient_id=f"P-{device}", name="Roe, Rita", birth_date=date(1950, 5, 6), sex="F",
        device_serial=device, service=Service.EVENT_MONITOR, start=start, ordering_npi=ORDERING_NPI,
        indications=("R00.2",), days=days, time_zone=zone,
    )
    return enroll(store, request, "tech").id


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _roster_local_days(store: Store, first: date, days: int, zone: str) -> None:
    """Technicians and an on-call physician over the patient's days, midnight to midnight in ``zone``
    (two shifts a day: a day on which the clocks go back is 25 hours, and a shift at most 24)."""
    for n in range(days):
        day = first + timedelta(days=n)
        start, end = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
        middle = start + (end - start) / 2
        add_shift(store, start, middle, ["tech"], "dr.oncall", "admin")
        add_shift(store, middle, end, ["tech"], "dr.oncall", "admin")


def _strip(store: Store, folder: Path, device: str, local: datetime) -> int:
    """A strip of the recorder's local clock (WFDB, no zone), ingested and reviewed; its queue item."""
    path = write_recording(
        Recording.from_array(WAVE, 250.0, lead_names=["ECG"], start_time=local, record_name=device),
        folder, "wfdb", f"{device}-{local:%d%H%M}",
    )
    zone = ZoneInfo(_ZONES[device])
    received = local.replace(tzinfo=zone).astimezone(UTC) + timedelta(minutes=2)
    outcome = ingest_file(store, path, device, "device", received_at=received, classify=False)
    assert (outcome.status, outcome.flag) == ("queued", ""), outcome
    assert outcome.item_id is not None
    review(store, outcome.item_id, "reviewed", "tech")
    return outcome.item_id


_ZONES = {"T-1": "Asia/Tokyo", "L-1": "America/Los_Angeles", "B-1": "Europe/Berlin"}


@pytest.mark.parametrize(("device", "first", "hours"), [
    ("T-1", date(2026, 11, 10), 72),  # east of UTC
    ("L-1", date(2026, 10, 31), 73),  # west of UTC, over the night the clocks go back (1 November)
    ("B-1", date(2026, 3, 28), 71),  # the night the clocks go forward (29 March)
])
def test_a_period_covered_over_the_patients_days_has_no_gap_and_its_days_their_hours(
    store: Store, tmp_path: Path, device: str, first: date, hours: int
) -> None:
    """A roster covering the patient's three days, midnight to midnight in their zone, leaves no gap. Until
    2026-12-07 the coverage was checked over UTC's days: Tokyo's nine hours after the period and Los
    Angeles' eight hours before it were 'gaps' (the attended monitoring not billed), and the period's
    wear counted 72 hours whatever the clocks did. A strip of the first local morning counts on its day."""
    zone = _ZONES[device]
    enrolment = _enrol(store, device, first, zone)
    _roster_local_days(store, first, 3, zone)
    morning = _strip(store, tmp_path, device, datetime.combine(first, time(0, 30)))  # UTC's day before, Tokyo
    item = item_view(store, morning, "tech")  # the queue's panel: the strip on the patient's clock too
    assert (item.time_zone, (item.recorded_local or "")[:16]) == (zone, f"{first}T00:30")
    # received and due on the same clock, with the offset of the zone (until 2026-12-07 UTC's: for Tokyo
    # the day before), in the queue's list too (which names the zone)
    offset = datetime.combine(first, time(0, 32), tzinfo=ZoneInfo(zone)).isoformat()[-6:]
    assert item.received_at == f"{first}T00:32:00{offset}"
    due = datetime.fromisoformat(item.due_at)
    assert due.utcoffset() == due.astimezone(ZoneInfo(zone)).utcoffset()
    (row,) = [r for r in list_queue(store, include_closed=True) if r.id == morning]
    assert (row.time_zone, row.received_at, row.due_at) == (zone, item.received_at, item.due_at)
    _strip(store, tmp_path, device, datetime.combine(first + timedelta(days=2), time(23, 30)))
    closed = close_period(store, enrolment, "tech")
    assert (closed.coverage_gaps, closed.transmissions) == (0, 2)
    with store.transaction() as session:
        run = session.scalars(select(AnalysisRun).where(AnalysisRun.study_id == closed.study_id)).one()
        assert run.wear_s == hours * 3600.0
        assert json.loads(run.findings_json)["period"]["time_zone"] == zone  # the report's days and times
        # coding's monitored time is the same (until 2026-12-07 86,400 s a day), ending on the last day
        study = session.get(Study, closed.study_id)
        assert study is not None
        facts = study_facts(session, study)
        assert (facts.recording_s, derive_facts(facts).end) == (hours * 3600.0, first + timedelta(days=2))
    first_day = daily_report(store, enrolment, first, "tech")
    last_day = daily_report(store, enrolment, first + timedelta(days=2), "tech")
    assert (first_day.received, last_day.received) == (1, 1)  # by UTC's days one of them was another day's
    assert zone in first_day.text()
    assert daily_report(store, enrolment, first + timedelta(days=1), "tech").received == 0


def test_closing_waits_for_the_end_of_the_last_day_in_the_patients_zone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 03:00 UTC the day after a Los Angeles period's last day it is still 19:00 there on that day: the
    period closed (by UTC's date) and the evening's strips came after the close. At 20:00 UTC on a Tokyo
    period's last day it is 05:00 the next day there: the period is over, and closing it was refused."""
    today = datetime.now(UTC).date()  # the old code read the real clock: these are days around it
    los_angeles = _enrol(store, "L-1", today - timedelta(days=3), "America/Los_Angeles")
    stopping = _enrol(store, "L-2", today - timedelta(days=1), "America/Los_Angeles", days=5)
    tokyo = _enrol(store, "T-1", today - timedelta(days=2), "Asia/Tokyo")
    evening_before = datetime.combine(today, time(3), tzinfo=UTC)  # 19:00 or 20:00 the day before, LA
    monkeypatch.setattr("ecgdesk.workflow.monitoring_period.now", lambda: evening_before)
    with pytest.raises(InputError) as info:
        close_period(store, los_angeles, "tech")
    assert info.value.field == "stopped-early" and "America/Los_Angeles" in info.value.reason
    # a stop on UTC's today is one still to come in Los Angeles
    with pytest.raises(InputError, match=r"still to come \(today is .* in America/Los_Angeles\)"):
        close_period(store, stopping, "tech", stopped_early_on=today)
    monkeypatch.setattr(
        "ecgdesk.workflow.monitoring_period.now", lambda: datetime.combine(today, time(20), tzinfo=UTC)
    )
    assert close_period(store, tokyo, "tech").end == today.isoformat()


def test_a_stop_date_is_judged_on_the_patients_day(store: Store, tmp_path: Path) -> None:
    """A Los Angeles strip of 20:00 on the day monitoring stopped is 04:00 UTC the next day: by its UTC
    date, closing with that stop was refused as 'recorded after' it."""
    enrolment = _enrol(store, "L-1", date(2026, 11, 10), "America/Los_Angeles", days=30)
    _strip(store, tmp_path, "L-1", datetime(2026, 11, 11, 20, 0))
    closed = close_period(store, enrolment, "tech", stopped_early_on=date(2026, 11, 11))
    assert (closed.end, closed.transmissions) == ("2026-11-11", 1)


def test_the_view_shows_the_zone_and_the_recorders_on_the_patients_clock(store: Store) -> None:
    """The period's view (CLI, API, page) says the zone of its days, UTC for an enrolment without one. A
    recorder put on at 08:00 in Tokyo on the first day (23:00 UTC the day before) is within the period:
    until 2026-12-07 the swap was refused as 'outside the monitoring period' by its UTC date."""
    tokyo = _enrol(store, "T-1", date(2026, 11, 10), "Asia/Tokyo")
    utc = _enrol(store, "U-1", date(2026, 11, 10), None)
    at = datetime(2026, 11, 10, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    swap_device(store, tokyo, "T-2", at, "battery failed", "tech")
    view = period_view(store, tokyo, "tech")
    assert (view.time_zone, period_view(store, utc, "tech").time_zone) == ("Asia/Tokyo", "UTC")
    assert [r.worn_from for r in view.recorders] == ["2026-11-10", "2026-11-10T08:00:00+09:00"]
    assert view.swaps[0].at == "2026-11-10T08:00:00+09:00" and view.to_dict()["time_zone"] == "Asia/Tokyo"
