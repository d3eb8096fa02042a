"""Closing a monitoring period: refused while a strip is unreviewed (with the list), refused before the
planned end without the date monitoring stopped; once closed, the device is free, the strips are the
study's recording, and the signed period codes by its own dates."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from monitoring_builders import START, Strips, make_strips, restamp
from sqlalchemy import func, select
from workflow_builders import ORDERING_NPI, PHYSICIAN_NPI, PIN

from ecgdesk.coding import Service
from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.store.models import AnalysisRun, AuditEntry, Study
from ecgdesk.workflow.billing import CodingOutcome, code_study
from ecgdesk.workflow.monitoring import ACTIVE, EnrolmentRequest, enroll, get_enrolment, ingest_file
from ecgdesk.workflow.monitoring_period import close_period
from ecgdesk.workflow.monitoring_queue import review
from ecgdesk.workflow.monitoring_roster import add_shift
from ecgdesk.workflow.reporting import interpret, report_study, sign
from ecgdesk.workflow.users import add_user


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("monitoring-period"))


def _enrol(store: Store, device: str, start: date, patient: str = "M7") -> int:
    request = EnrolmentRequest(
        patient, "Roe, Rita", date(1950, 5, 6), "F", device, Service.EVENT_MONITOR, start, ORDERING_NPI,
        ("R00.2",),
    )
    return enroll(store, request, "tech").id


def _roster(store: Store, first: date, days: int, hole_hours: int = 0) -> None:
    """Shifts with a technician and an on-call physician over ``days`` days from ``first`` (UTC), but for
    ``hole_hours`` left without either on the first night."""
    day = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    for n in range(days):
        start = day + timedelta(days=n, hours=hole_hours if n == 0 else 0)
        add_shift(store, start, day + timedelta(days=n + 1), ["tech"], "dr.oncall", "admin")


def _sign_and_code(store: Store, study_id: int) -> CodingOutcome:
    add_user(store, "boss", "admin", PIN, actor="setup")
    add_user(store, "dr.a", "physician", PIN, npi=PHYSICIAN_NPI, actor="boss", admin_password=PIN)
    report_study(store, study_id, "tech")
    interpret(store, study_id, "dr.a", "Sinus rhythm throughout; no event.")
    sign(store, study_id, "dr.a", PIN)
    return code_study(store, study_id, "biller")


def _has_recording(store: Store, study_id: int) -> bool:
    with store.transaction() as session:
        study = session.get(Study, study_id)
        assert study is not None
        return study.recording_id is not None


def test_a_period_with_unreviewed_strips_is_refused_with_their_list_and_left_as_it_was(
    store: Store, strips: Strips
) -> None:
    enrolment = _enrol(store, "DEV-7", START.date())
    normal = ingest_file(store, strips.normal, "DEV-7", "device").item_id
    pause = ingest_file(store, strips.pause, "DEV-7", "device").item_id
    vt = ingest_file(store, strips.vt, "DEV-7", "device").item_id
    assert normal and pause and vt
    review(store, normal, "reviewed", "tech")
    with pytest.raises(InputError) as caught:
        close_period(store, enrolment, "tech", stopped_early_on=START.date())
    assert caught.value.field == "items"
    assert f"2 strip(s) of this period are not reviewed yet (queue items {pause}, {vt})" in str(caught.value)
    with store.transaction() as session:
        row = get_enrolment(session, enrolment)
        assert (row.status, row.active_device) == (ACTIVE, "DEV-7")
        study_id = row.study_id
        closes = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "monitor:close")
        )
    assert closes == 0 and not _has_recording(store, study_id)
    with pytest.raises(InputError, match="DEV-7"):  # the device is still the patient's
        _enrol(store, "DEV-7", START.date() + timedelta(days=1), patient="M8")

    next_day = restamp(strips.normal, START + timedelta(days=1), strips.folder, "next-day")
    for item in (pause, vt, ingest_file(store, next_day, "DEV-7", "device").item_id):
        review(store, item or 0, "reviewed", "tech")
    # a stop before a strip of the period: the report showed it, the claim billed it, dated the day before
    with pytest.raises(InputError, match=r"1 strip\(s\) of this period were recorded after 2026-12-01") as s:
        close_period(store, enrolment, "tech", stopped_early_on=START.date())
    assert s.value.field == "stopped-early"
    _roster(store, START.date(), 3)  # attended round the clock until the documented stop
    closed = close_period(store, enrolment, "tech", stopped_early_on=START.date() + timedelta(days=2))
    assert (closed.transmissions, closed.start, closed.end) == (4, "2026-12-01", "2026-12-03")
    assert _has_recording(store, study_id)  # the strips joined as the study's recording
    with store.transaction() as session:  # worn to the stop (3 days), not the 30 planned
        run = session.scalars(select(AnalysisRun).where(AnalysisRun.study_id == study_id)).one()
        assert run.wear_s == 3 * 86400
        document = json.loads(run.findings_json)  # "3 days of 30 planned": the report said "30 days"
    assert (document["period"]["days"], document["period"]["planned_days"]) == (3, 30)
    assert document["transmissions"]["days_with_data"] == 2
    _enrol(store, "DEV-7", START.date() + timedelta(days=3), patient="M8")  # the device is free again
    with pytest.raises(InputError, match="closed already"):
        close_period(store, enrolment, "tech", stopped_early_on=START.date())

    # the physician reads and signs; coding takes the period's dates
    add_user(store, "boss", "admin", PIN, actor="setup")
    add_user(store, "dr.a", "physician", PIN, npi=PHYSICIAN_NPI, actor="boss", admin_password=PIN)
    report_study(store, study_id, "tech")
    interpret(store, study_id, "dr.a", "Sinus rhythm; one pause; a run of VT, notified.")
    sign(store, study_id, "dr.a", PIN)
    coded = code_study(store, study_id, "biller")
    assert [line.code for line in coded.result.lines] == ["93268"]  # one entity did every part
    assert not any(f.rule == "attended_coverage" for f in coded.findings)
    # the global service is dated on the day the read was signed, never before the documented early stop
    # (reference section 5 rule 4; it was dated at the start of monitoring), its codes those in force then
    signed = datetime.now(UTC).date()
    (line,) = coded.claim.lines
    assert (line.date_of_service, line.period_end) == (signed, date(2026, 12, 3))
    assert coded.facts.date_of_service == date(2026, 12, 3)


def test_closing_before_the_planned_end_needs_the_date_monitoring_stopped(store: Store) -> None:
    today = datetime.now(UTC).date()
    enrolment = _enrol(store, "DEV-8", today)
    with pytest.raises(InputError) as caught:
        close_period(store, enrolment, "tech")
    assert caught.value.field == "stopped-early"
    assert f"runs until the end of {today + timedelta(days=29)}" in str(caught.value)
    with pytest.raises(InputError, match="outside the period"):
        close_period(store, enrolment, "tech", stopped_early_on=today - timedelta(days=1))
    closed = close_period(store, enrolment, "tech", stopped_early_on=today)
    assert closed.end == today.isoformat() and closed.transmissions == 0
    assert any("no transmission" in w for w in closed.warnings)


def test_a_stop_date_still_to_come_is_refused_and_the_period_left_open(store: Store) -> None:
    """Monitoring cannot have stopped on a day still to come. Before, a period begun two days ago closed
    'stopped early' five days from now: its end (the technical date of service) lay in the future, the
    device was freed while the patient still wore it, and the strips of the days left were flagged
    'after close', never billed."""
    today = datetime.now(UTC).date()
    enrolment = _enrol(store, "DEV-10", today - timedelta(days=2))
    with pytest.raises(InputError) as caught:
        close_period(store, enrolment, "tech", stopped_early_on=today + timedelta(days=5))
    assert caught.value.field == "stopped-early"
    assert f"{today + timedelta(days=5)} is still to come" in str(caught.value)
    with store.transaction() as session:
        row = get_enrolment(session, enrolment)
        assert (row.status, row.active_device, row.stopped_early_on) == (ACTIVE, "DEV-10", None)
    assert close_period(store, enrolment, "tech", stopped_early_on=today).end == today.isoformat()


def test_a_period_past_its_planned_end_closes_without_a_stop_date(store: Store) -> None:
    start = datetime.now(UTC).date() - timedelta(days=40)
    enrolment = _enrol(store, "DEV-9", start)
    closed = close_period(store, enrolment, "tech")
    assert (closed.start, closed.end) == (start.isoformat(), (start + timedelta(days=29)).isoformat())
    # on its 30th day the period runs to midnight: closed at noon, that afternoon's strips were "after close",
    # in neither its report nor its claim
    today = datetime.now(UTC).date()
    last_day = _enrol(store, "DEV-11", today - timedelta(days=29), patient="M9")
    with pytest.raises(InputError, match=f"runs until the end of {today}") as caught:
        close_period(store, last_day, "tech")
    assert caught.value.field == "stopped-early"
    assert close_period(store, last_day, "tech", stopped_early_on=today).end == today.isoformat()


@pytest.mark.parametrize(
    ("service", "codes"), [(Service.EVENT_MONITOR, ["93270", "93272"]), (Service.MOBILE_TELEMETRY, ["93228"])]
)
def test_a_period_with_unattended_hours_bills_no_attended_monitoring(
    store: Store, strips: Strips, service: Service, codes: list[str]
) -> None:
    """NCD 20.15 (reference section 1, rule 5): six hours of the first night without a technician or an
    on-call physician make the period not 24-hour attended; before, it coded 93268 (or 93229) anyway."""
    request = EnrolmentRequest(
        "M9", "Roe, Rita", date(1950, 5, 6), "F", "DEV-6", service, START.date(), ORDERING_NPI, ("R00.2",)
    )
    info = enroll(store, request, "tech")
    item = ingest_file(store, strips.normal, "DEV-6", "device").item_id
    assert item is not None
    review(store, item, "reviewed", "tech")
    _roster(store, START.date(), 3, hole_hours=6)
    closed = close_period(store, info.id, "tech", stopped_early_on=START.date() + timedelta(days=2))
    assert closed.coverage_gaps == 2 and any("not billable as such" in w for w in closed.warnings)
    coded = _sign_and_code(store, info.study_id)
    assert [line.code for line in coded.result.lines] == codes
    # the hook-up on the first day, the reading on the signature day (reference section 5 rule 4)
    signed = datetime.now(UTC).date()
    dates = {"93270": START.date(), "93272": signed, "93228": signed}
    assert [(line.code, line.date_of_service) for line in coded.claim.lines] == [(c, dates[c]) for c in codes]
    (finding,) = [f for f in coded.findings if f.rule == "attended_coverage"]
    assert "2026-12-01T00:00:00+00:00" in finding.message and "not billed" in finding.message


def test_shifts_added_to_the_roster_after_closing_bill_the_attended_part_when_coded_again(
    store: Store, strips: Strips
) -> None:
    """The first night's shift was worked but never entered: the period closed with six uncovered hours and
    coded without the attended part (93270 + 93272, no 93268), and the finding said to add the shifts
    worked to the roster and code again. The
    gaps were read from the summary written at closing, so coding again changed nothing; the roster is what
    coding now reads (reference section 5 rule 5)."""
    info = enroll(store, EnrolmentRequest(
        "M9", "Roe, Rita", date(1950, 5, 6), "F", "DEV-6", Service.EVENT_MONITOR, START.date(), ORDERING_NPI,
        ("R00.2",),
    ), "tech")
    item = ingest_file(store, strips.normal, "DEV-6", "device").item_id
    assert item is not None
    review(store, item, "reviewed", "tech")
    _roster(store, START.date(), 3, hole_hours=6)
    close_period(store, info.id, "tech", stopped_early_on=START.date() + timedelta(days=2))
    coded = _sign_and_code(store, info.study_id)
    assert [line.code for line in coded.result.lines] == ["93270", "93272"]
    (finding,) = [f for f in coded.findings if f.rule == "attended_coverage"]
    assert finding.fix is not None and "add the shifts worked to the roster" in finding.fix
    night = datetime.combine(START.date(), datetime.min.time(), tzinfo=UTC)
    add_shift(store, night, night + timedelta(hours=6), ["tech"], "dr.oncall", "admin")
    again = code_study(store, info.study_id, "biller")
    assert [line.code for line in again.result.lines] == ["93268"]  # every part furnished: the global code
    assert not [f for f in again.findings if f.rule == "attended_coverage"]


def test_a_strip_arriving_while_the_period_is_closed_stops_the_close(
    store: Store, strips: Strips, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing checks that every strip is reviewed, then joins the strips into the study's recording (a
    30-day period: many seconds) and closes in a later transaction. A strip the recorder sent meanwhile was
    taken by the still-active period: it stayed an open item of a closed period, counted billable, in
    neither the report nor the claim. Now the close is refused (field ``items``), nothing is attached to
    the study, and closing again after the strip is reviewed takes it."""
    from ecgdesk.workflow import monitoring_period

    enrolment = _enrol(store, "DEV-12", START.date())
    first = ingest_file(store, strips.normal, "DEV-12", "device", classify=False).item_id
    review(store, first or 0, "reviewed", "tech")
    joined = monitoring_period._join
    late: list[int] = []

    def join_while_a_strip_arrives(*args: object) -> object:
        result = joined(*args)  # type: ignore[arg-type]
        if not late:
            sent = restamp(strips.normal, START + timedelta(hours=5), strips.folder, "while-closing")
            late.append(ingest_file(store, sent, "DEV-12", "device", classify=False).item_id or 0)
        return result

    monkeypatch.setattr(monitoring_period, "_join", join_while_a_strip_arrives)
    with pytest.raises(InputError) as caught:
        close_period(store, enrolment, "tech", stopped_early_on=START.date())
    assert caught.value.field == "items" and f"queue items {late[0]}" in str(caught.value)
    with store.transaction() as session:
        row = get_enrolment(session, enrolment)
        assert (row.status, row.active_device) == (ACTIVE, "DEV-12")
        study_id = row.study_id
    assert not _has_recording(store, study_id)
    review(store, late[0], "reviewed", "tech")
    closed = close_period(store, enrolment, "tech", stopped_early_on=START.date())
    assert closed.transmissions == 2 and _has_recording(store, study_id)
