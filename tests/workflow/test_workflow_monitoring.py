"""Event monitoring end to end: enrolment, signed criteria, strips in (classified once), the attended
queue closed only by people, escalation, reconciliation, coverage."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from monitoring_builders import START, Strips, make_strips, restamp
from sqlalchemy import func, select
from workflow_builders import ORDERING_NPI, PHYSICIAN_NPI, PIN

from ecgdesk.coding import Service
from ecgdesk.errors import AuthenticationError, InputError
from ecgdesk.monitoring.criteria import default_criteria
from ecgdesk.records import open_recording
from ecgdesk.store import Store, verify
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.monitoring_models import Notification, QueueItem, Transmission
from ecgdesk.workflow.monitoring import (
    EnrolmentRequest,
    classify_item,
    classify_pending,
    enroll,
    ingest_file,
    sign_criteria,
)
from ecgdesk.workflow.monitoring_escalation import escalate_unacknowledged
from ecgdesk.workflow.monitoring_queue import (
    NotificationRequest,
    acknowledge,
    list_queue,
    reconcile,
    review,
)
from ecgdesk.workflow.monitoring_roster import add_shift, coverage
from ecgdesk.workflow.users import add_user, aware


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("monitoring"))


def _request(**changes: object) -> EnrolmentRequest:
    values: dict[str, object] = dict(
        patient_id="M1",
        name="Roe, Rita",
        birth_date=date(1950, 5, 6),
        sex="F",
        device_serial="DEV-1",
        service=Service.EVENT_MONITOR,
        start=START.date(),
        ordering_npi=ORDERING_NPI,
        indications=("R00.2",),
        days=30,
    )
    values.update(changes)
    return EnrolmentRequest(**values)  # type: ignore[arg-type]


def _audit(store: Store, action: str) -> int:
    with store.transaction() as session:
        return int(
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))
            or 0
        )


def test_enrolment_defaults_unsigned_and_one_active_per_device(store: Store) -> None:
    info = enroll(store, _request(), "tech")
    assert info.criteria_version is None and info.end == (START.date() + timedelta(days=29)).isoformat()
    with pytest.raises(InputError, match="in use by enrolment"):
        enroll(store, _request(patient_id="M2", name="Poe, Ed"), "tech")
    with pytest.raises(InputError) as caught:
        enroll(store, _request(device_serial="DEV-2", days=31), "tech")
    assert caught.value.field == "days"
    with pytest.raises(InputError) as caught:
        enroll(store, _request(device_serial="DEV-3", service=Service.AMBULATORY_ECG), "tech")
    assert caught.value.field == "service"


def test_criteria_signed_by_the_ordering_physician_and_emergent_not_lowered_silently(store: Store) -> None:
    info = enroll(store, _request(), "tech")
    add_user(store, "dr.order", "physician", PIN, "Smith, John", npi=ORDERING_NPI)
    add_user(store, "dr.other", "physician", PIN, "Lee, Ana", npi=PHYSICIAN_NPI)
    rules = default_criteria().to_dict()
    with pytest.raises(InputError, match="ordering physician"):
        sign_criteria(store, info.id, rules, "dr.other", PIN)
    with pytest.raises(AuthenticationError):
        sign_criteria(store, info.id, rules, "dr.order", "wrong")
    assert sign_criteria(store, info.id, rules, "dr.order", PIN) == 1
    lowered = json.loads(json.dumps(rules))
    for rule in lowered["rules"]:
        if rule["id"] == "pause_10s":
            rule["min_duration_s"] = 15
    with pytest.raises(InputError, match="lowers emergent criteria"):
        sign_criteria(store, info.id, lowered, "dr.order", PIN)
    assert sign_criteria(store, info.id, lowered, "dr.order", PIN, lower_emergent=True) == 2
    with pytest.raises(InputError) as caught:
        sign_criteria(
            store, info.id, {"rules": [{"id": "x", "tier": "panic", "event": "vt"}]}, "dr.order", PIN
        )
    assert caught.value.field == "rules[0].tier"
    assert _audit(store, "monitor:criteria-sign") == 2


def test_a_strip_follows_the_criteria_in_force_when_it_arrived(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    """A strip waiting for a worker when the physician signed new criteria was triaged by the version
    signed after it arrived, and its item showed the latest version whatever version set its priority."""
    from ecgdesk.workflow.monitoring_item import item_view

    info = enroll(store, _request(), "tech")
    add_user(store, "dr.order", "physician", PIN, "Smith, John", npi=ORDERING_NPI)
    waiting = ingest_file(store, strips.pause, "DEV-1", "device", classify=False).item_id
    stricter = default_criteria().to_dict()
    for rule in stricter["rules"]:
        if rule["id"] == "pause_3s":
            rule["tier"] = "emergent"
    assert sign_criteria(store, info.id, stricter, "dr.order", PIN) == 1
    assert classify_pending(store) == 1
    second = restamp(strips.pause, START + timedelta(hours=1), tmp_path, "pause2")
    after = ingest_file(store, second, "DEV-1", "device")
    assert waiting is not None and after.item_id is not None and after.priority == "emergent"
    with store.transaction() as session:
        item = session.get(QueueItem, waiting)
        assert item is not None and (item.priority, item.criteria_version) == ("urgent", None)
    before_view = item_view(store, waiting, "tech").criteria
    after_view = item_view(store, after.item_id, "tech").criteria
    assert before_view is not None and before_view.version is None and "not yet signed" in before_view.source
    assert after_view is not None and after_view.version == 1 and after_view.signed_by == "dr.order"


def test_strips_are_queued_classified_and_ordered_by_priority(store: Store, strips: Strips) -> None:
    enroll(store, _request(), "tech")
    outcomes = [
        ingest_file(store, p, "DEV-1", "device", message_id=p.stem)
        for p in (strips.normal, strips.flat, strips.pause, strips.vt)
    ]
    assert [o.status for o in outcomes] == ["queued"] * 4
    assert {o.priority for o in outcomes} == {"routine", "unreadable", "urgent"}
    queue = list_queue(store)
    assert [r.priority for r in queue] == ["urgent", "urgent", "unreadable", "routine"]
    assert all(r.enrolment_id is not None and not r.flag for r in queue)
    flat = next(r for r in queue if r.priority == "unreadable")
    assert "flat line" in flat.reason
    assert _audit(store, "monitor:classify") == 4


def test_duplicates_by_message_id_and_by_content_change_nothing(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    enroll(store, _request(), "tech")
    first = ingest_file(store, strips.normal, "DEV-1", "device", message_id="m-1")
    again = ingest_file(store, strips.normal, "DEV-1", "device", message_id="m-2")
    # the same strip in files named otherwise
    renamed = restamp(strips.normal, open_recording(strips.normal).start_time, tmp_path, "resent")
    resent = ingest_file(store, renamed, "DEV-1", "device", message_id="m-1")
    assert first.status == "queued" and again.status == "duplicate" and resent.status == "duplicate"
    assert "content" in again.reason and "message id and waveform" in resent.reason
    assert len(list_queue(store)) == 1


def test_the_same_waveform_sent_again_under_a_new_message_id_is_a_duplicate(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    """A device that resends a strip it believes lost gives it a new message id and new files (the record is
    named after the message). The files' hash differs, so it was stored and queued a second time: a
    technician worked the same strip twice and the period counted it twice (reference section 5, edge case:
    de-duplicate on message id and waveform hash)."""
    enroll(store, _request(), "tech")
    first = ingest_file(store, strips.normal, "DEV-1", "device", message_id="m-1")
    when = open_recording(strips.normal).start_time
    resent = ingest_file(store, restamp(strips.normal, when, tmp_path, "m-7"), "DEV-1", "device",
                         message_id="m-7")
    assert resent.status == "duplicate" and resent.transmission_id == first.transmission_id
    assert "waveform" in resent.reason
    assert len(list_queue(store)) == 1
    # the same samples at another time, or from another recorder, are another strip
    later = ingest_file(store, restamp(strips.normal, when + timedelta(minutes=5), tmp_path, "m-8"), "DEV-1",
                        "device", message_id="m-8")
    assert later.status == "queued"
    assert len(list_queue(store)) == 2


def test_a_message_id_used_again_for_another_strip_loses_nothing(store: Store, strips: Strips) -> None:
    """A device whose message counter started again (a reset, a firmware update) sends a new strip under
    an old id: it was answered 'duplicate' and never stored, a pause nobody saw (reference section 5:
    de-duplicate on message id and waveform; brief case 1: every received strip is worked)."""
    enroll(store, _request(), "tech")
    first = ingest_file(store, strips.normal, "DEV-1", "device", message_id="m-1")
    pause = ingest_file(store, strips.pause, "DEV-1", "device", message_id="m-1")
    assert pause.status == "queued" and pause.priority == "urgent"
    assert any(f"used by transmission {first.transmission_id}" in w for w in pause.warnings)
    assert len(list_queue(store)) == 2
    again = ingest_file(store, strips.pause, "DEV-1", "device", message_id="m-1")  # its own retry
    assert again.status == "duplicate" and again.transmission_id == pause.transmission_id
    assert len(list_queue(store)) == 2


def test_unknown_device_and_after_period_are_flagged_never_billable_but_queued(
    store: Store, strips: Strips
) -> None:
    enroll(store, _request(start=START.date() - timedelta(days=40), days=30), "tech")
    late = ingest_file(store, strips.normal, "DEV-1", "device")
    unknown = ingest_file(store, strips.pause, "NOPE-9", "device")
    assert late.flag == "after_period" and unknown.flag == "unknown_device"
    assert {r.flag for r in list_queue(store)} == {"after_period", "unknown_device"}


def test_a_strip_stamped_after_it_arrived_is_held_at_its_arrival_and_flagged(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    """A device clock running days ahead put a strip into the period as an ordinary billable strip of a
    future day (case: bad input, future timestamp); it is now held, flagged, at the time it arrived."""
    today = datetime.now(UTC)
    info = enroll(store, _request(start=today.date() - timedelta(days=2)), "tech")
    ahead = restamp(strips.normal, (today + timedelta(days=3)).replace(tzinfo=None), tmp_path, "ahead")
    skewed = restamp(strips.pause, (today + timedelta(minutes=2)).replace(tzinfo=None), tmp_path, "skewed")
    held = ingest_file(store, ahead, "DEV-1", "device")
    fine = ingest_file(store, skewed, "DEV-1", "device")  # a clock two minutes fast is believed
    assert (held.status, held.flag, held.enrolment_id) == ("queued", "future_time", info.id)
    assert (fine.flag, fine.enrolment_id) == ("", info.id)
    with store.transaction() as session:
        row = session.get(Transmission, held.transmission_id)
        assert row is not None and not row.billable
        assert aware(row.recorded_at) - aware(row.received_at) <= timedelta(seconds=1)
        rows = session.scalars(
            select(AuditEntry.after_json).where(
                AuditEntry.action == "monitor:ingest", AuditEntry.entity_id == str(held.transmission_id)
            )
        )
        (logged,) = [json.loads(text) for text in rows]
    assert logged["flag"] == "future_time"
    assert logged["device_time"][:10] == (today + timedelta(days=3)).date().isoformat()
    assert {r.flag for r in list_queue(store)} == {"future_time", ""}


def test_a_strip_of_a_period_already_closed_is_flagged_never_billed_but_queued(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    """A strip recorded inside a period but received after the period was closed went in as an ordinary
    billable strip of it, though it is in neither the closed period's report nor its claim."""
    from ecgdesk.workflow.monitoring_period import close_period

    start = datetime.now(UTC).date() - timedelta(days=40)
    info = enroll(store, _request(start=start), "tech")
    close_period(store, info.id, "tech")
    day_four = datetime.combine(start + timedelta(days=3), datetime.min.time())
    inside = restamp(strips.pause, day_four, tmp_path, "late")
    late = ingest_file(store, inside, "DEV-1", "device")
    assert (late.status, late.flag, late.enrolment_id) == ("queued", "after_close", info.id)
    with store.transaction() as session:
        row = session.get(Transmission, late.transmission_id)
        assert row is not None and not row.billable
    (queued,) = list_queue(store)
    assert queued.flag == "after_close" and queued.patient == "Roe, Rita"


def test_reconcile_raises_strips_of_no_current_period_as_orphans(store: Store, strips: Strips) -> None:
    """A strip from an unknown device or after its period was queued, but the shift's reconciliation
    counted it as any other and raised no alarm, even with nobody knowing whose strip it is."""
    enroll(store, _request(start=START.date() - timedelta(days=40)), "tech")
    late = ingest_file(store, strips.normal, "DEV-1", "device")
    unknown = ingest_file(store, strips.pause, "NOPE-9", "device")
    for outcome in (late, unknown):
        assert outcome.item_id is not None
        review(store, outcome.item_id, "reviewed", "tech")
    report = reconcile(store, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
    assert (report.received, report.reviewed, report.open) == (2, 2, 0) and report.alarm
    assert report.orphans == (
        f"transmission {late.transmission_id} from device DEV-1 was recorded after its period ended "
        "(after_period)",
        f"transmission {unknown.transmission_id} from device NOPE-9 belongs to no enrolment (unknown_device)",
    )
    assert _audit(store, "monitor:orphan-alarm") == 1


def test_corrupt_and_empty_files_are_refused_with_the_reason(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.hea"
    bad.write_text("this is not a header\n")
    empty = tmp_path / "empty.edf"
    empty.write_bytes(b"")
    for path in (bad, empty):
        outcome = ingest_file(store, path, "DEV-1", "device")
        assert outcome.status == "refused" and str(path) in outcome.reason
    assert list_queue(store) == []


def test_a_killed_classification_leaves_the_item_queued_and_classified_once(
    store: Store, strips: Strips
) -> None:
    enroll(store, _request(), "tech")
    outcome = ingest_file(store, strips.pause, "DEV-1", "device", classify=False)
    row = list_queue(store)[0]
    assert row.priority == "unclassified" and row.id == outcome.item_id
    assert (
        reconcile(store, START - timedelta(days=400), datetime.now(UTC) + timedelta(days=1)).classified == 0
    )
    assert classify_pending(store) == 1
    assert classify_item(store, row.id).priority.value == "urgent"  # a second run changes nothing
    assert _audit(store, "monitor:classify") == 1


def test_only_a_person_closes_and_every_notification_is_logged(store: Store, strips: Strips) -> None:
    enroll(store, _request(), "tech")
    item = ingest_file(store, strips.pause, "DEV-1", "device").item_id
    assert item is not None
    with pytest.raises(InputError) as caught:
        review(store, item, "notified", "tech")
    assert caught.value.field == "recipient"
    with pytest.raises(InputError, match="on-call"):
        review(store, item, "escalated", "tech")
    result = review(
        store,
        item,
        "notified",
        "tech",
        note="pause 4.5 s, patient asymptomatic",
        confirmed_rhythm="sinus pause",
        notification=NotificationRequest("Dr Smith", "phone", read_back=True, outcome="continue monitoring"),
    )
    assert result.notification_id is not None and list_queue(store) == []
    with pytest.raises(InputError, match="closed by tech"):
        review(store, item, "reviewed", "tech2")
    with pytest.raises(InputError) as caught:
        review(store, 999, "reviewed", "tech")
    assert caught.value.field == "item"
    with store.transaction() as session:
        assert verify(session).ok


def test_unacknowledged_emergent_notification_escalates_to_on_call(store: Store, strips: Strips) -> None:
    enroll(store, _request(), "tech")
    item_id = ingest_file(store, strips.vt, "DEV-1", "device").item_id
    now = datetime.now(UTC)
    add_shift(store, now - timedelta(hours=1), now + timedelta(hours=7), ["tech"], "dr.oncall", "admin")
    with store.transaction() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        item.priority = "emergent"  # as if the criteria had made this run emergent
    review(store, item_id or 0, "notified", "tech", notification=NotificationRequest("Dr Smith", "phone"))
    assert escalate_unacknowledged(store) == []  # not late yet
    with store.transaction() as session:
        for row in session.scalars(select(Notification)):
            row.sent_at = now - timedelta(minutes=30)
    escalated = escalate_unacknowledged(store)
    assert len(escalated) == 1 and escalate_unacknowledged(store) == []
    with store.transaction() as session:
        row = session.get(Notification, escalated[0])
        assert row is not None and row.recipient == "dr.oncall" and row.escalated_from_id is not None
    acknowledge(store, escalated[0], "dr.oncall", "will see the patient")


def test_a_late_notice_with_no_on_call_physician_raises_an_alarm_and_escalates_once_one_is_rostered(
    store: Store, strips: Strips
) -> None:
    """With no on-call physician in the roster, a late emergent notice was 'escalated' to a recipient named
    "no on-call physician in the roster: supervisor": nobody was called, and since the notice counted as
    escalated it never was, even once a physician was rostered (reference section 5 rules 5 and 9: the
    escalation goes to the on-call physician, never to nobody). Now the notice stays late, an alarm is
    written once, and the next pass escalates it to the physician rostered by then."""
    enroll(store, _request(), "tech")
    item_id = ingest_file(store, strips.vt, "DEV-1", "device").item_id
    assert item_id is not None
    with store.transaction() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        item.priority = "emergent"
    review(store, item_id, "notified", "tech", notification=NotificationRequest("Dr Smith", "phone"))
    with store.transaction() as session:
        for row in session.scalars(select(Notification)):
            row.sent_at = datetime.now(UTC) - timedelta(minutes=30)
    assert escalate_unacknowledged(store) == [] and escalate_unacknowledged(store) == []
    assert _audit(store, "monitor:escalation-alarm") == 1
    now = datetime.now(UTC)
    add_shift(store, now - timedelta(hours=1), now + timedelta(hours=7), ["tech"], "dr.oncall", "admin")
    (escalation,) = escalate_unacknowledged(store)
    with store.transaction() as session:
        row = session.get(Notification, escalation)
        assert row is not None and row.recipient == "dr.oncall"


@pytest.mark.parametrize(("priority", "escalates_after"), [("urgent", 60), ("routine", None)])
def test_an_unacknowledged_urgent_notification_escalates_later_a_routine_one_never(
    store: Store, strips: Strips, priority: str, escalates_after: int | None
) -> None:
    """Reference section 5 rule 9: a notification not acknowledged in N minutes goes to the on-call
    physician. Before, only emergent ones did: an urgent finding (complete AV block, a 3 s pause, NSVT)
    notified to a physician who never answered stayed unanswered, its item closed, with no alarm."""
    enroll(store, _request(), "tech")
    item_id = ingest_file(store, strips.pause, "DEV-1", "device").item_id or 0
    now = datetime.now(UTC)
    add_shift(store, now - timedelta(hours=1), now + timedelta(hours=7), ["tech"], "dr.oncall", "admin")
    with store.transaction() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        item.priority = priority
    review(store, item_id, "notified", "tech", notification=NotificationRequest("Dr Smith", "phone"))

    def sent(minutes_ago: float) -> list[int]:
        with store.transaction() as session:
            for row in session.scalars(select(Notification)):
                row.sent_at = now - timedelta(minutes=minutes_ago)
        return escalate_unacknowledged(store)

    assert sent(30) == []  # past the emergent minutes, not the urgent ones
    if escalates_after is None:
        assert sent(24 * 60) == []
        return
    assert sent(escalates_after - 1) == []
    escalated = sent(escalates_after + 1)
    (new_id,) = escalated
    with store.transaction() as session:
        row = session.get(Notification, new_id)
        assert row is not None and (row.recipient, row.tier) == ("dr.oncall", "urgent")
        assert row.escalated_from_id is not None and "unacknowledged" in row.outcome


def test_a_notice_takes_the_technician_s_tier_when_higher_never_lower(store: Store, strips: Strips) -> None:
    """Before, a notice's tier was the classifier's priority alone: a technician who saw a VT run on a strip
    triaged routine (or unreadable) and called the physician logged a routine notice, which never escalated
    however long it went unanswered. Now the technician gives the tier read (CLI --tier, API 'tier'); it
    raises the notice, and never lowers an emergent one below its item's priority."""
    enroll(store, _request(), "tech")
    routine = ingest_file(store, strips.normal, "DEV-1", "device").item_id or 0
    emergent = ingest_file(store, strips.vt, "DEV-1", "device").item_id or 0
    now = datetime.now(UTC)
    add_shift(store, now - timedelta(hours=3), now + timedelta(hours=7), ["tech"], "dr.oncall", "admin")
    with store.transaction() as session:
        for item_id, priority in ((routine, "routine"), (emergent, "emergent")):
            item = session.get(QueueItem, item_id)
            assert item is not None
            item.priority = priority
    with pytest.raises(InputError, match="tier"):
        review(store, routine, "notified", "tech", notification=NotificationRequest("Dr Smith", "phone",
                                                                                    tier="critical"))
    raised = review(store, routine, "notified", "tech", confirmed_rhythm="NSVT, 6 beats",
                    notification=NotificationRequest("Dr Smith", "phone", tier="urgent")).notification_id
    kept = review(store, emergent, "notified", "tech",
                  notification=NotificationRequest("Dr Jones", "phone", tier="routine")).notification_id
    with store.transaction() as session:
        tiers = {row.id: row.tier for row in session.scalars(select(Notification))}
        for row in session.scalars(select(Notification)):
            row.sent_at = now - timedelta(minutes=61)
    assert (tiers[raised or 0], tiers[kept or 0]) == ("urgent", "emergent")
    escalations = escalate_unacknowledged(store)  # both past their tier's minutes
    with store.transaction() as session:  # each at its notice's tier (the raised one was routine)
        assert sorted(session.get(Notification, n).tier for n in escalations) == ["emergent", "urgent"]


def test_reconcile_finds_orphans_and_coverage_finds_gaps(store: Store, strips: Strips) -> None:
    enroll(store, _request(), "tech")
    outcome = ingest_file(store, strips.normal, "DEV-1", "device")
    with store.transaction() as session:
        item = session.get(QueueItem, outcome.item_id)
        assert item is not None
        item.due_at = due = datetime.now(UTC) - timedelta(minutes=1)
    report = reconcile(store, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
    assert report.received == 1 and report.reviewed == 0 and report.alarm
    # a shift's items are many patients': UTC, and said (until 2026-12-07 unnamed)
    assert report.orphans[0].endswith(f"open past its due time {due:%Y-%m-%d %H:%M} UTC")
    day = datetime(2026, 12, 1, tzinfo=UTC)
    add_shift(store, day, day + timedelta(hours=8), ["tech"], "dr.a", "admin")
    add_shift(store, day + timedelta(hours=8), day + timedelta(hours=16), ["tech2"], None, "admin")
    gaps = coverage(store, day, day + timedelta(hours=24))
    assert [(g.missing, g.hours) for g in gaps] == [("on-call physician", 16.0), ("technician", 8.0)]
    with pytest.raises(InputError):
        add_shift(store, day, day - timedelta(hours=1), ["tech"], None, "admin")
    # blank names (`--technicians " , " --on-call " "`) covered the hours and were escalated to
    with pytest.raises(InputError, match="technicians"):
        add_shift(store, day + timedelta(hours=16), day + timedelta(hours=24), [" ", ""], " ", "admin")
    with pytest.raises(InputError, match="on-call"):
        add_shift(store, day + timedelta(hours=16), day + timedelta(hours=24), ["tech"], "d" * 65, "admin")
    add_shift(store, day + timedelta(hours=16), day + timedelta(hours=24), [" tech3 ", " "], "  ", "admin")
    gaps = coverage(store, day, day + timedelta(hours=24))
    assert [(g.missing, g.hours) for g in gaps] == [("on-call physician", 16.0)]


def test_times_given_with_a_utc_offset_across_a_dst_change_are_kept_as_the_same_instants(
    store: Store, strips: Strips
) -> None:
    """A night shift written in the clinic's local time across the change to daylight saving time (US
    Eastern, 2026-03-08: 00:00-05:00 to 12:00-04:00, i.e. 05:00 to 16:00 UTC). SQLite keeps no zone: the
    offset was dropped and the shift read back as 00:00 to 12:00 UTC, so coverage reported 4 uncovered hours
    the roster did cover (the period's technical claim then fails, reference section 5 rule 5), and a
    reconciliation asked with local bounds counted another shift's strips."""
    eastern_winter, eastern_summer = timezone(timedelta(hours=-5)), timezone(timedelta(hours=-4))
    start = datetime(2026, 3, 8, 0, 0, tzinfo=eastern_winter)
    end = datetime(2026, 3, 8, 12, 0, tzinfo=eastern_summer)
    add_shift(store, start, end, ["tech"], "dr.a", "admin")
    utc_start, utc_end = datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 3, 8, 16, tzinfo=UTC)
    assert coverage(store, utc_start, utc_end) == []
    assert coverage(store, start, end) == []
    gaps = coverage(store, utc_start - timedelta(hours=1), utc_end)
    assert [(g.start, g.end) for g in gaps] == [(utc_start - timedelta(hours=1), utc_start)] * 2
    enroll(store, _request(), "tech")
    ingest_file(store, strips.normal, "DEV-1", "device", received_at=datetime(2026, 3, 8, 14, 30, tzinfo=UTC))
    # 14:30 UTC is 10:30 in New York: inside the shift in local time, outside it read as 00:00-12:00 UTC
    assert reconcile(store, start, end).received == 1
    assert reconcile(store, utc_end, utc_end + timedelta(hours=12)).received == 0


def test_daily_report_of_a_telemetry_patient(store: Store, strips: Strips) -> None:
    from ecgdesk.workflow.monitoring_daily import daily_report

    info = enroll(store, _request(service=Service.MOBILE_TELEMETRY), "tech")
    ingest_file(store, strips.normal, "DEV-1", "device")
    pause = ingest_file(store, strips.pause, "DEV-1", "device").item_id
    assert pause is not None
    review(
        store,
        pause,
        "notified",
        "tech",
        note="pause phoned through",
        notification=NotificationRequest("Dr Smith", "phone", read_back=True, outcome="seen today"),
    )
    day = daily_report(store, info.id, START.date(), "dr.a")
    assert (day.received, day.reviewed, day.open, day.flagged) == (2, 1, 1, 0)
    assert day.patient == "Roe, Rita" and day.service == "mobile_telemetry" and day.ecg_minutes > 1
    (event,) = day.events
    assert event["item_id"] == pause and event["notifications"][0]["recipient"] == "Dr Smith"
    text = day.text()
    assert "Dr Smith" in text and "read back" in text and "pause phoned through" in text
    empty = daily_report(store, info.id, START.date() + timedelta(days=1), "dr.a")
    assert empty.received == 0 and "No strips were recorded" in empty.text()
    assert empty.rhythm_summary == "No strip classified."  # was "Strip classifier: ."
    assert _audit(store, "monitor:daily-report") == 2
    with pytest.raises(InputError) as caught:
        daily_report(store, 999, START.date(), "dr.a")
    assert caught.value.field == "enrolment"


def test_daily_report_refuses_a_day_outside_the_period(store: Store, strips: Strips) -> None:
    """A report of a day the patient was not monitored would read as a day with nothing seen."""
    from ecgdesk.workflow.monitoring_daily import daily_report

    info = enroll(store, _request(service=Service.MOBILE_TELEMETRY, days=7), "tech")
    assert daily_report(store, info.id, START.date() + timedelta(days=6), "dr.a").received == 0  # last day
    for day in (START.date() - timedelta(days=1), START.date() + timedelta(days=7)):
        with pytest.raises(InputError) as caught:
            daily_report(store, info.id, day, "dr.a")
        assert caught.value.field == "date" and day.isoformat() in str(caught.value)
        assert "outside the monitoring period" in str(caught.value)
    assert _audit(store, "monitor:daily-report") == 1  # a refused day reads nothing


def test_a_note_the_report_cannot_print_is_refused_when_the_item_is_closed(
    store: Store, strips: Strips, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The technician's note and confirmed rhythm are printed in the signed end-of-service report: text no
    report font has (here CJK, the fallback limited to DejaVu Sans as on a host without a CJK font) is
    refused naming the field and the character, and the item stays open."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from ecgdesk.reports import fonts

    only = fonts.Fallback(
        ("DejaVu Sans",), frozenset(FT2Font(font_manager.findfont("DejaVu Sans")).get_charmap())
    )
    monkeypatch.setattr(fonts, "fallback", lambda: only)
    enroll(store, _request(), "tech")
    item = ingest_file(store, strips.pause, "DEV-1", "device").item_id
    assert item is not None
    with pytest.raises(InputError) as caught:
        review(store, item, "reviewed", "tech", note="洞停止 4.5 s")
    assert caught.value.field == "note" and "U+6D1E" in caught.value.reason
    with pytest.raises(InputError) as caught:
        review(store, item, "reviewed", "tech", confirmed_rhythm="洞停止")
    assert caught.value.field == "confirmed_rhythm"
    # the notification log is printed there too: its recipient and outcome were taken as given
    for notice, field in ((NotificationRequest("王医生", "phone"), "recipient"),
                          (NotificationRequest("Dr Wang", "phone", outcome="已确认"), "outcome"),
                          (NotificationRequest("D" * 201, "phone"), "recipient")):  # PostgreSQL: 500
        with pytest.raises(InputError) as caught:
            review(store, item, "notified", "tech", notification=notice)
        assert caught.value.field == field
    assert [row.id for row in list_queue(store)] == [item]
    notified = review(store, item, "notified", "tech", note="pause 4.5 s, Ω é",
                      notification=NotificationRequest(" Dr Müller ", "phone"))
    with pytest.raises(InputError) as caught:
        acknowledge(store, notified.notification_id or 0, "dr", outcome="已确认")
    assert caught.value.field == "outcome"
