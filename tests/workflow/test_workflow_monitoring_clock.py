"""A strip's start by the recorder's clock: WFDB and EDF write local clock time without a zone, read in the
zone of the recorder's enrolment (``time_zone``); a start written with its offset is that instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from workflow_builders import ORDERING_NPI

from ecgdesk.coding import Service
from ecgdesk.errors import InputError
from ecgdesk.records import Recording, write_recording
from ecgdesk.store import Store
from ecgdesk.store.monitoring_models import Transmission
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.users import aware

WAVE = np.sin(np.arange(30 * 250) / 15).astype(np.float32)


def _enrol(store: Store, device: str, start: date, zone: str | None) -> int:
    request = EnrolmentRequest(
        patient_id=f"P-{device}", name="Roe, Rita", birth_date=date(1950, 5, 6), sex="F",
        device_serial=device, service=Service.EVENT_MONITOR, start=start, ordering_npi=ORDERING_NPI,
        indications=("R00.2",),
        days=30, time_zone=zone,
    )
    return enroll(store, request, "tech").id


def _wfdb(folder: Path, name: str, local: datetime) -> Path:
    strip = Recording.from_array(WAVE, 250.0, lead_names=["ECG"], start_time=local, record_name=name)
    return write_recording(strip, folder, "wfdb", name)


def _edf(folder: Path, name: str, local: datetime) -> Path:
    import pyedflib

    path = folder / f"{name}.edf"
    writer = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders([{"label": "ECG", "dimension": "mV", "sample_frequency": 250, "physical_max": 5,
                              "physical_min": -5, "digital_max": 32767, "digital_min": -32768,
                              "transducer": "", "prefilter": ""}])
    writer.setStartdatetime(local)
    writer.writeSamples([WAVE.astype(np.float64)])
    writer.close()
    return path


def _ingested(store: Store, path: Path, device: str, received: datetime) -> tuple[str, datetime]:
    outcome = ingest_file(store, path, device, "device", received_at=received, classify=False)
    assert outcome.status == "queued", outcome
    with store.transaction() as session:
        row = session.get(Transmission, outcome.transmission_id)
        assert row is not None
        return outcome.flag, aware(row.recorded_at)


@pytest.mark.parametrize(("zone", "local", "instant"), [
    # east of UTC: read as UTC the strip was an hour "in the future" on arrival (flagged, never billed)
    ("Europe/Berlin", datetime(2026, 11, 20, 10, 30), datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
    # west of UTC: read as UTC it was dated five hours early
    ("America/New_York", datetime(2026, 11, 20, 10, 30), datetime(2026, 11, 20, 15, 30, tzinfo=UTC)),
    # the night clocks go forward (02:00 CET -> 03:00 CEST): 01:50 and 03:10 local are 20 minutes apart
    ("Europe/Berlin", datetime(2026, 3, 29, 1, 50), datetime(2026, 3, 29, 0, 50, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 3, 29, 3, 10), datetime(2026, 3, 29, 1, 10, tzinfo=UTC)),
    # the night clocks go back (02:00 EDT -> 01:00 EST): 01:30 happens twice, read as the first (EDT)
    ("America/New_York", datetime(2026, 11, 1, 1, 30), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 11, 1, 2, 30), datetime(2026, 11, 1, 7, 30, tzinfo=UTC)),
])
def test_a_zoneless_strip_is_read_in_the_enrolment_zone(
    store: Store, tmp_path: Path, zone: str, local: datetime, instant: datetime
) -> None:
    """WFDB and EDF give the recorder's local clock time without a zone. Until 2026-12-07 ingest read it as
    UTC; it is read in the enrolment's zone now, and the same strip as WFDB and as EDF lands at the same
    instant."""
    _enrol(store, "W-1", local.date() - timedelta(days=3), zone)
    _enrol(store, "E-1", local.date() - timedelta(days=3), zone)
    received = instant + timedelta(minutes=3)
    assert _ingested(store, _wfdb(tmp_path, "w", local), "W-1", received) == ("", instant)
    assert _ingested(store, _edf(tmp_path, "e", local), "E-1", received) == ("", instant)


def test_a_start_with_its_offset_is_not_read_again_in_the_enrolment_zone(
    store: Store, tmp_path: Path
) -> None:
    """An aECG strip says its offset (+0000 here): the enrolment's zone does not move it; and an enrolment
    without a zone reads a WFDB strip as UTC, as before."""
    from ecgdesk.records.hl7aecg import write_hl7_aecg

    instant = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    _enrol(store, "A-1", date(2026, 11, 15), "Asia/Tokyo")
    _enrol(store, "U-1", date(2026, 11, 15), None)
    strip = Recording.from_array(WAVE, 250.0, lead_names=["II"], start_time=instant, record_name="a")
    received = instant + timedelta(minutes=1)
    assert _ingested(store, write_hl7_aecg(strip, tmp_path / "a.xml"), "A-1", received) == ("", instant)
    naive = _wfdb(tmp_path, "u", instant.replace(tzinfo=None))
    assert _ingested(store, naive, "U-1", received) == ("", instant)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "CET" * 30])
def test_a_time_zone_that_is_none_is_refused_naming_it(store: Store, zone: str) -> None:
    with pytest.raises(InputError) as info:
        _enrol(store, "Z-1", date(2026, 11, 15), zone)
    assert info.value.field == "time-zone" and "IANA" in info.value.reason
    assert ZoneInfo("Europe/Berlin")  # the zone database is there: the refusal is the name's


def test_the_period_days_are_the_patients_days_in_the_enrolment_zone(store: Store, tmp_path: Path) -> None:
    """Read in its zone, a strip from 08:00 in Tokyo on the period's first day is 23:00 UTC the day before,
    and one from 20:00 in Los Angeles on its last day 04:00 UTC the day after: by the UTC date the first was
    'outside_enrolment' and the second 'after_period', neither billed."""
    first = date(2026, 11, 20)
    tokyo = _enrol(store, "T-1", first, "Asia/Tokyo")
    los_angeles = _enrol(store, "L-1", first - timedelta(days=29), "America/Los_Angeles")
    morning, evening = datetime(2026, 11, 20, 8, 0), datetime(2026, 11, 20, 20, 0)
    for device, enrolment, local, zone in (("T-1", tokyo, morning, "Asia/Tokyo"),
                                           ("L-1", los_angeles, evening, "America/Los_Angeles")):
        instant = local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        assert instant.date() != first  # the UTC day is outside the period
        outcome = ingest_file(store, _wfdb(tmp_path, device, local), device, "device",
                              received_at=instant + timedelta(minutes=2), classify=False)
        assert (outcome.status, outcome.flag, outcome.enrolment_id) == ("queued", "", enrolment)


def test_a_late_strip_of_a_recorder_moved_to_a_patient_in_another_zone_stays_its_first_patient_s(
    store: Store, tmp_path: Path
) -> None:
    """DEV-T was worn in Tokyo, swapped out at 10:00 there on 2 December, and enrolled for a patient in Los
    Angeles from that day. A strip it recorded at 09:00 Tokyo time, before the swap, arrived late. Its
    zone-less start was read in the zone of the recorder's active enrolment, Los Angeles: 09:00 PST, 17:00
    UTC, after the swap, so the Tokyo patient's strip went to the Los Angeles patient. Now each enrolment
    of the recorder reads it in its own zone and the one whose swap bounds that instant takes it."""
    from ecgdesk.workflow.monitoring_devices import swap_device

    tokyo = _enrol(store, "DEV-T", date(2026, 12, 1), "Asia/Tokyo")
    swap = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    swap_device(store, tokyo, "DEV-U", swap, "battery dead", "tech")
    angeles = enroll(store, EnrolmentRequest(
        patient_id="P-LA", name="Doe, Dan", birth_date=date(1960, 1, 2), sex="M", device_serial="DEV-T",
        service=Service.EVENT_MONITOR, start=date(2026, 12, 2), ordering_npi=ORDERING_NPI,
        indications=("R00.2",), days=30, time_zone="America/Los_Angeles",
    ), "tech").id
    late = _wfdb(tmp_path, "late", datetime(2026, 12, 2, 9, 0))
    outcome = ingest_file(store, late, "DEV-T", "device", received_at=datetime(2026, 12, 3, tzinfo=UTC),
                          classify=False)
    assert (outcome.enrolment_id, outcome.flag) == (tokyo, ""), (outcome, angeles)
    with store.transaction() as session:
        row = session.get(Transmission, outcome.transmission_id)
        assert row is not None and aware(row.recorded_at) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    worn = _wfdb(tmp_path, "worn", datetime(2026, 12, 2, 18, 0))  # on the Los Angeles patient that evening
    outcome = ingest_file(store, worn, "DEV-T", "device", received_at=datetime(2026, 12, 3, 6, tzinfo=UTC),
                          classify=False)
    assert outcome.enrolment_id == angeles
