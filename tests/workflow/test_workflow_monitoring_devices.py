"""A recorder swapped within its enrolment (it failed, its battery died): the new recorder's strips go to the
same period from the swap, the old one's recorded before it still do, the old recorder is free for another
patient, the swap is audited and on the end-of-service report, and the period stays one study."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from monitoring_builders import START, Strips, make_strips, restamp
from sqlalchemy import func, select
from workflow_builders import ORDERING_NPI

from ecgdesk.coding import Service
from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry, Study
from ecgdesk.store.monitoring_models import Transmission
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_devices import swap_device
from ecgdesk.workflow.monitoring_period import close_period
from ecgdesk.workflow.monitoring_queue import review
from ecgdesk.workflow.reporting import report_study

sys.path.insert(0, str(Path(__file__).parents[1] / "reports"))
from scanning_builders import pdf_text

SWAP = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("monitoring-devices"))


def _enrol(store: Store, patient: str, device: str, start: date) -> int:
    return enroll(
        store,
        EnrolmentRequest(
            patient, "Roe, Rita", date(1950, 5, 6), "F", device, Service.MOBILE_TELEMETRY, start,
            ORDERING_NPI, ("R00.2",),
        ),
        "tech",
    ).id


def _strip(strips: Strips, at: datetime, tmp: Path) -> Path:
    name = f"s{at:%d%H%M}"
    return restamp(strips.normal, at.replace(tzinfo=None), tmp / name, name)


def _refused(field: str, *args: object) -> str:
    with pytest.raises(InputError) as caught:
        swap_device(*args)  # type: ignore[arg-type]
    assert caught.value.field == field, caught.value
    return str(caught.value)


def test_swap_keeps_one_period_frees_the_old_recorder_and_is_reported(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    patient = _enrol(store, "M1", "DEV-1", START.date())
    _enrol(store, "M2", "DEV-3", START.date())
    first = ingest_file(store, _strip(strips, datetime(2026, 12, 2, 9, 0), tmp_path), "DEV-1", "device")
    assert (first.enrolment_id, first.flag) == (patient, "")

    assert "outside the monitoring period" in _refused(
        "at", store, patient, "DEV-2", datetime(2026, 11, 30, 10, 0, tzinfo=UTC), "battery", "tech"
    )
    assert "after its last strip" in _refused(
        "at", store, patient, "DEV-2", datetime(2026, 12, 2, 8, 0, tzinfo=UTC), "battery", "tech"
    )
    assert "already wears" in _refused("device", store, patient, "DEV-1", SWAP, "battery", "tech")
    assert "in use by enrolment" in _refused("device", store, patient, "DEV-3", SWAP, "battery", "tech")
    _refused("reason", store, patient, "DEV-2", SWAP, "  ", "tech")
    _refused("at", store, patient, "DEV-2", datetime.now(UTC) + timedelta(hours=2), "battery", "tech")
    _refused("enrolment", store, 999, "DEV-2", SWAP, "battery", "tech")

    result = swap_device(store, patient, "DEV-2", SWAP, "battery dead", "tech")
    assert (result.old_device, result.new_device, result.warnings) == ("DEV-1", "DEV-2", ())
    assert "after" in _refused("at", store, patient, "DEV-4", SWAP, "again", "tech")  # not before the last

    # the old recorder is free: the next patient wears it from the same day
    other = _enrol(store, "M3", "DEV-1", SWAP.date())
    sent = {
        "new after": (timedelta(hours=1), "DEV-2"),
        "old before, sent late": (timedelta(minutes=-30), "DEV-1"),
        "old after": (timedelta(hours=2), "DEV-1"),
    }
    outcomes = {
        k: ingest_file(store, _strip(strips, SWAP + delta, tmp_path), device, "device")
        for k, (delta, device) in sent.items()
    }
    assert {k: (o.enrolment_id, o.flag) for k, o in outcomes.items()} == {
        "new after": (patient, ""),
        "old before, sent late": (patient, ""),
        "old after": (other, ""),
    }
    with store.transaction() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "monitor:device-swap")).all()
        assert len(audit) == 1 and audit[0].entity_id == str(patient)
        assert session.scalar(select(func.count()).select_from(Study)) == 3  # one study per enrolment
        billable = session.scalars(
            select(Transmission).where(Transmission.enrolment_id == patient, Transmission.flag == "")
        ).all()
        assert sorted(t.device_serial for t in billable) == ["DEV-1", "DEV-1", "DEV-2"]

    for outcome in (first, outcomes["new after"], outcomes["old before, sent late"]):
        assert outcome.item_id is not None
        review(store, outcome.item_id, "reviewed", "tech")
    closed = close_period(store, patient, "tech", stopped_early_on=SWAP.date())
    assert closed.transmissions == 3
    lines = pdf_text(report_study(store, closed.study_id, "tech").pdf_path.read_bytes())
    # one recorder a line: several on one line ran off the page
    assert any(line.strip().startswith("DEV-2 2026-12-02 10:00 to") for line in lines), lines
    runs = " ".join(lines)
    assert "DEV-1 2026-12-01 to 2026-12-02 10:00" in runs
    assert "DEV-2 2026-12-02 10:00 to 2026-12-02" in runs and "battery dead" in runs
    assert "closed" in _refused("enrolment", store, patient, "DEV-5", SWAP, "battery", "tech")


def test_daily_report_names_the_recorders_worn_that_day(store: Store) -> None:
    from ecgdesk.workflow.monitoring_daily import daily_report

    patient = _enrol(store, "M1", "DEV-1", START.date())
    swap_device(store, patient, "DEV-2", SWAP, "battery dead", "tech")
    swap_device(store, patient, "DEV-3", SWAP + timedelta(days=2), "strap broke", "tech")
    each = [date(2026, 12, n) for n in range(1, 6)]
    days = {d: daily_report(store, patient, d, "dr.a").device for d in each}
    assert days == {
        date(2026, 12, 1): "DEV-1",
        date(2026, 12, 2): "DEV-1 to 10:00, DEV-2 from 10:00",
        date(2026, 12, 3): "DEV-2",
        date(2026, 12, 4): "DEV-2 to 10:00, DEV-3 from 10:00",
        date(2026, 12, 5): "DEV-3",
    }


def test_one_strip_resent_under_two_new_message_ids_at_the_same_instant_is_stored_once(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    """A recorder (or two gateways relaying it) resending a strip under two new message ids at once: each
    ingest looked for the same waveform before either had stored it, and on PostgreSQL both stored it (the
    files differ, so no unique hash caught it): a technician worked one strip twice, the period counted it
    twice. Ingests of one recorder now take turns (SQLite's write lock did this already)."""
    import threading

    _enrol(store, "M1", "DEV-R", START.date())
    when = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    copies = [restamp(strips.normal, when, tmp_path, f"m-{n}") for n in (1, 2, 3)]
    barrier = threading.Barrier(len(copies))
    outcomes: list[str] = []

    def send(path: Path) -> None:
        barrier.wait()
        outcome = ingest_file(store, path, "DEV-R", "device", message_id=path.stem, classify=False)
        outcomes.append(outcome.status)

    threads = [threading.Thread(target=send, args=(path,)) for path in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate", "duplicate", "queued"], outcomes
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Transmission)) == 1


def test_two_swaps_of_one_recorder_at_once_are_one_after_the_other(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two technicians (or one double click) swap the patient's recorder at the same moment: on PostgreSQL
    both checked the enrolment's recorder (DEV-1) and both swapped it, each audited as replacing DEV-1, the
    patient left on whichever committed last. Now the second waits and is refused: it comes after the
    first's swap, which it names."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs writing transactions one at a time (race_builders)")
    from race_builders import race_in

    from ecgdesk.store.monitoring_models import DeviceSwap

    patient = _enrol(store, "M1", "DEV-1", START.date())
    out = race_in(
        store, monkeypatch, ("monitoring_devices",),
        lambda i: swap_device(store, patient, ("DEV-2", "DEV-4")[i], SWAP, "battery dead", f"tech{i}"),
    )
    refused = [o for o in out if isinstance(o, InputError)]
    assert len(refused) == 1 and "was put on at" in refused[0].reason, out
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DeviceSwap)) == 1
