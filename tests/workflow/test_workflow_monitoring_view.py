"""One monitoring period as its users open it (``period_view``, read by ``ecgdesk monitor show``, the API
and the period page): dates with the early stop, every recorder with the swap history (who, when, why), the
criteria versions in force, strip and notification counts, the billing state; audited; an unknown period is
not found."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from monitoring_builders import START, Strips, make_strips
from sqlalchemy import select
from workflow_builders import ORDERING_NPI, PHYSICIAN_NPI, PIN

from ecgdesk.coding import Service
from ecgdesk.errors import NotFoundError
from ecgdesk.monitoring.criteria import default_criteria
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.billing import code_study
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file, sign_criteria
from ecgdesk.workflow.monitoring_devices import swap_device
from ecgdesk.workflow.monitoring_period import close_period
from ecgdesk.workflow.monitoring_queue import NotificationRequest, acknowledge, review
from ecgdesk.workflow.monitoring_view import period_of_study_id, period_view
from ecgdesk.workflow.reporting import interpret, report_study, sign
from ecgdesk.workflow.users import add_user

SWAP = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("monitoring-view"))


def test_a_period_shows_its_dates_recorders_swaps_criteria_counts_and_billing(
    store: Store, strips: Strips
) -> None:
    add_user(store, "boss", "admin", PIN, actor="setup")
    add_user(store, "tech", "technician", PIN, "Tan, Tess", actor="boss", admin_password=PIN)
    add_user(store, "dr.order", "physician", PIN, "Smith, John", npi=ORDERING_NPI, actor="boss",
             admin_password=PIN)
    add_user(store, "dr.a", "physician", PIN, npi=PHYSICIAN_NPI, actor="boss", admin_password=PIN)
    info = enroll(
        store,
        EnrolmentRequest(
            "M9", "Roe, Rita", date(1950, 5, 6), "F", "DEV-1", Service.EVENT_MONITOR, START.date(),
            ORDERING_NPI, ("R00.2",),
        ),
        "tech",
    )
    assert period_of_study_id(store, info.study_id) == info.id
    normal = ingest_file(store, strips.normal, "DEV-1", "device").item_id
    pause = ingest_file(store, strips.pause, "DEV-1", "device").item_id
    assert normal and pause
    swap_device(store, info.id, "DEV-2", SWAP, "battery dead", "tech")
    sign_criteria(store, info.id, default_criteria().to_dict(), "dr.order", PIN)

    opened = period_view(store, info.id, "biller")
    assert (opened.status, opened.patient, opened.patient_id) == ("active", "Roe, Rita", "M9")
    assert (opened.start, opened.planned_end, opened.stopped_early_on) == ("2026-12-01", "2026-12-30", None)
    assert opened.strips.open == 2 and opened.notifications.sent == 0
    assert opened.billing.summary == "not billable yet: the period is being recorded"

    review(store, normal, "reviewed", "tech")
    review(store, pause, "notified", "tech", note="pause phoned",
           notification=NotificationRequest("Dr Smith", "phone", read_back=True, outcome="seen"))
    close_period(store, info.id, "tech", stopped_early_on=date(2026, 12, 4))
    report_study(store, info.study_id, "tech")
    interpret(store, info.study_id, "dr.a", "Sinus rhythm with one pause.")
    sign(store, info.study_id, "dr.a", PIN)
    code_study(store, info.study_id, "biller")

    view = period_view(store, info.id, "dr.a")
    assert (view.status, view.end, view.stopped_early_on, view.planned_end) == (
        "closed", "2026-12-04", "2026-12-04", "2026-12-30"
    )
    assert view.closed_at is not None and view.enrolled_by == "Tan, Tess"
    assert [(r.serial, r.worn_from, r.worn_to, r.reason) for r in view.recorders] == [
        ("DEV-1", "2026-12-01", SWAP.isoformat(), ""),
        ("DEV-2", SWAP.isoformat(), "2026-12-04", "battery dead"),
    ]
    [swap] = view.swaps
    assert (swap.old_device, swap.new_device, swap.at, swap.reason) == ("DEV-1", "DEV-2", SWAP.isoformat(),
                                                                        "battery dead")
    assert (swap.swapped_by, swap.swapped_by_name) == ("tech", "Tan, Tess")
    # signed today (after the period ended): only the defaults governed it
    assert [(c.version, c.in_force_from, c.in_force_to) for c in view.criteria_versions] == [
        (None, "2026-12-01", "2026-12-04")
    ]
    assert (view.strips.received, view.strips.reviewed, view.strips.open, view.strips.flagged) == (2, 2, 0, 0)
    assert view.notifications.sent == 1 and view.notifications.unacknowledged == 1
    # until 2026-12-08 the period showed only these counts: now the notices themselves, as the item panel
    [notice] = view.notices
    assert (notice.queue_item_id, notice.recipient, notice.read_back, notice.sent_by, notice.outcome) == (
        pause, "Dr Smith", True, "tech", "seen"
    )
    assert notice.acknowledged_at is None and notice.time_zone == "UTC" and notice.sent_at.endswith("+00:00")
    first = acknowledge(store, notice.id, "dr.order", "sees her Monday")
    assert (first.already, first.acknowledged_by) == (False, "dr.order")
    # a second acknowledgement is told who got there first (it was not told who)
    second = acknowledge(store, notice.id, "tech", "my outcome")
    assert (second.already, second.acknowledged_by, second.outcome) == (True, "dr.order", "sees her Monday")
    [notice] = period_view(store, info.id, "dr.a").notices
    assert (notice.acknowledged_by, notice.outcome) == ("dr.order", "sees her Monday")
    assert notice.acknowledged_at is not None
    assert view.billing.study_status == "coded" and view.billing.summary == "coded, no claim yet"
    assert view.billing.claims == []
    json.dumps(view.to_dict())  # the CLI's and the API's JSON

    with store.transaction() as session:
        reads = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "read:monitor-period").order_by(AuditEntry.id)
        ).all()
        assert [r.actor for r in reads] == ["biller", "dr.a", "dr.a"]
        assert {r.entity_id for r in reads} == {str(info.id)}
    with pytest.raises(NotFoundError) as missing:
        period_view(store, 999, "tech")
    assert missing.value.field == "enrolment"
    assert period_of_study_id(store, 999) is None


def test_criteria_signed_within_the_period_are_listed_with_their_stretch(store: Store) -> None:
    add_user(store, "dr.order", "physician", PIN, "Smith, John", npi=ORDERING_NPI)
    info = enroll(
        store,
        EnrolmentRequest(
            "M8", "Roe, Rita", date(1950, 5, 6), "F", "DEV-8", Service.MOBILE_TELEMETRY, START.date(),
            ORDERING_NPI, ("R00.2",),
        ),
        "tech",
    )
    sign_criteria(store, info.id, default_criteria().to_dict(), "dr.order", PIN)
    from ecgdesk.store.monitoring_models import CriteriaVersion

    with store.transaction() as session:  # signed on the second day (the clock of this run is later)
        session.scalars(select(CriteriaVersion)).one().signed_at = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    view = period_view(store, info.id, "tech")
    assert [(c.version, c.signer, c.in_force_from, c.in_force_to) for c in view.criteria_versions] == [
        (None, None, "2026-12-01", "2026-12-02T08:30:00+00:00"),
        (1, "Smith, John", "2026-12-02T08:30:00+00:00", "2026-12-30"),
    ]
    assert [r.serial for r in view.recorders] == ["DEV-8"] and view.swaps == []


def test_a_period_closed_without_a_strip_says_there_is_nothing_to_bill(store: Store) -> None:
    """It said "not billable yet: the period is being recorded" after closing, for ever."""
    request = EnrolmentRequest("M9", "Roe, Rita", date(1950, 5, 6), "F", "DEV-1", Service.EVENT_MONITOR,
                               date(2026, 10, 1), ORDERING_NPI, ("R00.2",))
    info = enroll(store, request, "tech")
    close_period(store, info.id, "tech")
    view = period_view(store, info.id, "tech")
    assert view.billing.summary == "nothing to bill: the period was closed without a billable strip"
