"""A recording's start as its header writes it: a date or time that is none leaves the start unknown
with a warning naming the file, the field and the value (the samples are read all the same)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgdesk.records import open_recording


def _wfdb(folder: Path, when: str, fmt: str = "16") -> Path:
    folder.mkdir()
    wave = np.sin(np.arange(2500) / 20)
    if fmt == "16":
        (folder / "r.dat").write_bytes((wave * 200).astype("<i2").tobytes())
        spec = "16 200 16 0 0 0 0 I"
    else:  # format 80 is read through wfdb.rdrecord, which parses the header again
        (folder / "r.dat").write_bytes((wave * 100 + 128).astype("u1").tobytes())
        spec = "80 100 8 0 0 0 0 I"
    (folder / "r.hea").write_text(f"r 1 250 2500 {when}\nr.dat {spec}\n")
    return folder / "r.hea"


@pytest.mark.parametrize(("when", "field", "value"), [
    ("10:30:00 31/02/2020", "base_date", "'31/02/2020' is not a date"),
    ("10:30:00 00/00/0000", "base_date", "'00/00/0000' is not a date"),
    ("10:30:00 xx/yy/zzzz", "base_date", "'xx/yy/zzzz' is not a date"),  # read as no date, without a word
    ("10:30:00", "base_date", "the header gives a base time (10:30:00) but no date"),
    ("25:61:00 02/01/2020", "base_time", "'25:61:00' is not a time of day"),
])
@pytest.mark.parametrize("fmt", ["16", "80"])
def test_a_wfdb_base_date_or_time_that_is_none_reads_the_signal_with_the_start_unknown(
    tmp_path: Path, when: str, field: str, value: str, fmt: str
) -> None:
    """Until 2026-12-07 wfdb's parsing refused the whole record ("not a valid WFDB header: day is out of
    range for month") for a date the samples do not depend on."""
    recording = open_recording(_wfdb(tmp_path / "r", when, fmt))
    assert recording.start_time is None and recording.implausible_start is None
    (warning,) = recording.warnings
    assert warning.startswith(f"r.hea: field '{field}': {value}")
    assert warning.endswith("; the recording start is read as unknown")
    assert recording.read().shape == (2500, 1)
    assert abs(float(recording.read(0, 100)[50, 0]) - np.sin(50 / 20)) < 0.02


def test_a_wfdb_base_time_and_date_read_as_written(tmp_path: Path) -> None:
    recording = open_recording(_wfdb(tmp_path / "r", "10:30:00.5 2/1/2020", "80"))
    assert str(recording.start_time) == "2020-01-02 10:30:00.500000" and recording.warnings == ()


def _edf(path: Path, startdate: str = "02.01.20", starttime: str = "10.30.00",
         plus_date: str = "02-JAN-2020") -> Path:
    """A plain EDF+C file (one ECG lead, 250 Hz, 10 s) written by pyedflib, its date fields then set."""
    import pyedflib

    writer = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders([{"label": "ECG II", "dimension": "mV", "sample_frequency": 250,
                              "physical_max": 10, "physical_min": -10, "digital_max": 32767,
                              "digital_min": -32768, "transducer": "", "prefilter": ""}])
    writer.setPatientCode("P-7")
    writer.writeSamples([np.sin(np.arange(2500) / 20)])
    writer.close()
    data = bytearray(path.read_bytes())
    data[88:168] = f"Startdate {plus_date} X X X".ljust(80).encode()
    data[168:184] = (startdate + starttime).encode()
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("fields", "warning"), [
    ({"startdate": "31.02.20", "plus_date": "X"}, "field 'startdate': '31.02.20' is not a date (dd.mm.yy)"),
    ({"startdate": "00.00.00", "plus_date": "X"}, "field 'startdate': '00.00.00' is not a date (dd.mm.yy)"),
    ({"starttime": "25.61.00"}, "field 'starttime': '25.61.00' is not a time of day (hh.mm.ss)"),
    ({"plus_date": "05-MAR-2021"}, "field 'recording': its EDF+ Startdate 05-MAR-2021 is not the startdate "
                                   "02.01.20"),
    ({"plus_date": "31-FEB-2020"}, "field 'recording': its EDF+ Startdate '31-FEB-2020' is not a date "
                                   "(dd-MMM-yyyy)"),
])
def test_an_edf_start_that_is_none_or_disagrees_reads_the_signal_with_the_start_unknown(
    tmp_path: Path, fields: dict[str, str], warning: str
) -> None:
    """Until 2026-12-07 an impossible startdate was said without the file or the field ("start date and
    time '31.02.2010.30.00' are not a valid dd.mm.yyhh.mm.ss"), and an EDF+ Startdate that disagreed with
    the startdate field was not looked at (pyedflib's date kept, without a word)."""
    recording = open_recording(_edf(tmp_path / "a.edf", **fields))
    assert recording.start_time is None
    assert recording.warnings == (f"a.edf: {warning}; the recording start is read as unknown",)
    assert abs(float(recording.read(0, 100)[50, 0]) - np.sin(50 / 20)) < 0.01


def test_an_edf_plus_start_takes_its_century_from_the_recording_field(tmp_path: Path) -> None:
    """yy 85-99 are 1985-1999 (EDF's clipping year), whatever Python's %y says; EDF+ gives the century."""
    assert str(open_recording(_edf(tmp_path / "a.edf", "02.01.86", plus_date="X")).start_time) == \
        "1986-01-02 10:30:00"
    assert str(open_recording(_edf(tmp_path / "b.edf", "02.01.20")).start_time) == "2020-01-02 10:30:00"


def test_an_edf_date_that_is_none_keeps_the_patient_fields(tmp_path: Path) -> None:
    """pyedflib opens a file dated 31.02.20 but its start date raises: until 2026-12-07 that dropped the
    patient and equipment fields too ("patient and equipment fields ignored ... day is out of range")."""
    recording = open_recording(_edf(tmp_path / "a.edf", "31.02.20", plus_date="X"))
    assert recording.patient.patient_id == "P-7" and len(recording.warnings) == 1


def test_an_aecg_start_written_with_its_offset_reads_back_as_that_instant(tmp_path: Path) -> None:
    """The writer put the fraction after the offset (``20261120103000+0000.000``), which no reader takes
    as an offset: the time read back as zone-less local time (monitoring then read it in the enrolment's
    zone)."""
    from datetime import UTC, datetime

    from ecgdesk.records import Recording
    from ecgdesk.records.hl7aecg import write_hl7_aecg

    instant = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    strip = Recording.from_array(np.zeros(500, np.float32), 250.0, lead_names=["II"], start_time=instant)
    back = open_recording(write_hl7_aecg(strip, tmp_path / "a.xml"))
    assert back.start_time == instant.replace(tzinfo=None) and back.start_in_utc


def _ishne(path: Path, start: tuple[int, int, int]) -> Path:
    """An ISHNE file dated 02/01/2020 by our writer, its start_time (hour, minute, second) then set."""
    import struct
    from datetime import datetime

    from ecgdesk.records import _ishne
    from ecgdesk.records.recording import Lead
    from ecgdesk.records.writers import open_writer

    with open_writer(path.parent, path.stem, "ishne", 250.0, [Lead("II")],
                     start_time=datetime(2020, 1, 2, 10, 30), patient=None, device=None, events=()) as writer:
        writer.write(np.zeros((2500, 1), np.float32))
    data = bytearray(path.read_bytes())
    data[150:156] = struct.pack("<3h", *start)  # after the record and file dates of the fixed header
    (ecg_offset,) = struct.unpack("<i", data[22:26])
    data[8:10] = struct.pack("<H", _ishne.crc16(bytes(data[10:ecg_offset])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("start", "warning"), [
    ((25, 61, 0), "start_time 25:61:0 is not a valid time of day; read as unknown"),
    ((-9, -9, -9), "record_date is given but start_time is not (-9); the recording start is read as unknown"),
])
def test_an_ishne_start_time_that_is_none_leaves_the_start_unknown(
    tmp_path: Path, start: tuple[int, int, int], warning: str
) -> None:
    """Until 2026-12-07 the record date was read at midnight: the warning said 'read as unknown' while the
    Holter's clock and hourly table ran from 00:00."""
    recording = open_recording(_ishne(tmp_path / "h.ecg", start))
    assert recording.start_time is None and recording.warnings == (f"h.ecg: {warning}",)
    assert str(open_recording(_ishne(tmp_path / "k.ecg", (10, 30, 0))).start_time) == "2020-01-02 10:30:00"
