"""The 29-day rule where a set begins (shared/reference/monitoring.md section 5 rule 1): an enrolment or a
Holter order completing within 29 days of another set of the patient is refused, naming the prior set, its
dates and the earliest date allowed; a documented medical-necessity reason lets it through, audited."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from workflow_builders import ORDERING_NPI, request

from ecgdesk.coding import Service
from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry, Study
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll
from ecgdesk.workflow.monitoring_period import close_period
from ecgdesk.workflow.studies import create_study, import_recording

OVERRIDE_ACTION = "monitor:set-overlap-override"


def _enrol(store: Store, device: str, start: date, days: int = 30, reason: str | None = None) -> int:
    return enroll(
        store,
        EnrolmentRequest(
            "M9", "Roe, Rita", date(1950, 5, 6), "F", device, Service.EVENT_MONITOR, start, ORDERING_NPI,
            ("R00.2",), days=days, **({} if reason is None else {"overlap_reason": reason}),
        ),
        "tech",
    ).id


def _studies(store: Store) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(Study)) or 0


def _overrides(store: Store) -> list[dict[str, object]]:
    import json

    with store.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == OVERRIDE_ACTION))
        return [json.loads(r.after_json or "null") for r in rows]


def test_a_period_completing_within_29_days_of_the_last_is_refused_at_enrolment(store: Store) -> None:
    first = _enrol(store, "DEV-1", date(2026, 8, 1))  # 1-30 August
    before = _studies(store)
    with pytest.raises(InputError) as caught:
        _enrol(store, "DEV-2", date(2026, 8, 31), days=7)  # would complete on 6 September
    message = str(caught.value)
    assert caught.value.field == "overlap"
    for part in (f"event_monitor enrolment {first}", "2026-08-01 to 2026-08-30", "2026-09-06",
                 "earliest completion allowed is 2026-09-28", "starting on or after 2026-09-22"):
        assert part in message, message
    assert _studies(store) == before  # nothing was created
    # a full period begun the day after completes 30 days later: allowed (and the scrubber agrees)
    second = _enrol(store, "DEV-2", date(2026, 8, 31))
    assert second != first and _overrides(store) == []
    # stopped early on its 21st day, it completes 21 days after the first: said when it is closed
    closed = close_period(store, second, "tech", stopped_early_on=date(2026, 9, 20))
    [note] = [w for w in closed.warnings if "stopped early" in w]
    assert f"event_monitor enrolment {first}" in note and "21 days" in note and "CARC 119" in note, note

    with pytest.raises(InputError) as blank:
        _enrol(store, "DEV-3", date(2026, 9, 10), reason="  ")
    assert blank.value.field == "overlap-reason"
    reason = "new syncope after the last period; cardiology asks for repeat monitoring"
    third = _enrol(store, "DEV-3", date(2026, 9, 10), reason=reason)
    assert third > second
    [audit] = _overrides(store)
    assert audit["reason"] == reason
    assert str(audit["prior"]).startswith(f"event_monitor enrolment {second} (study ")
    assert (audit["prior_end"], audit["completes_on"], audit["earliest_allowed"]) == (
        "2026-09-20", "2026-10-09", "2026-10-19"
    )


def test_a_holter_ordered_within_29_days_of_a_recorded_one_is_refused(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = create_study(store, request(duration_days=1.0), "tech")
    import_recording(store, study, tiny_record, "tech")  # recorded on 2 November 2026
    monkeypatch.setattr("ecgdesk.workflow.studies.now", lambda: datetime(2026, 11, 20, 9, tzinfo=UTC))
    with pytest.raises(InputError) as caught:
        create_study(store, request(duration_days=1.0), "tech")
    message = str(caught.value)
    assert f"ambulatory_ecg study {study}" in message and "2026-11-02 to 2026-11-02" in message, message
    assert "earliest completion allowed is 2026-12-01" in message, message
    # another kind of study of the patient is no monitoring set; a later Holter is allowed
    assert create_study(store, request(service=Service.RESTING_ECG, duration_days=None), "tech") > study
    monkeypatch.setattr("ecgdesk.workflow.studies.now", lambda: datetime(2026, 12, 1, 9, tzinfo=UTC))
    assert create_study(store, request(duration_days=1.0), "tech") > study
    assert _overrides(store) == []
