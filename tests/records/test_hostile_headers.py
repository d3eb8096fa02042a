"""Hostile headers (issue 19): each is refused with one RecordingError naming the file, the field, the value
and the range allowed, or read with a warning that says what was guessed; never a traceback, a hang or a
confident reading of garbage. Every input is built here from the writers' output, never copied data."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from records_conformance import file_digest, ishne_file, patch_ishne

from ecgdesk.errors import RecordingError
from ecgdesk.records import EventKind, EventMarker, Lead, open_recording
from ecgdesk.records.edf_reader import read_edf
from ecgdesk.records.wfdb_reader import read_wfdb
from ecgdesk.records.writers import open_writer


def _refused(path: Path, field: str, *words: str,
             opener: Callable[[], object] | None = None) -> RecordingError:
    before = file_digest(path)
    with pytest.raises(RecordingError) as info:
        (opener or (lambda: open_recording(path)))()
    error = info.value
    assert error.field == field, str(error)
    for word in words:
        assert word in error.reason, str(error)
    assert file_digest(path) == before
    return error


def _wfdb(folder: Path, n: int = 1000, leads: int = 2, events: tuple[EventMarker, ...] = ()) -> Path:
    data = np.sin(np.linspace(0, 20, n))[:, None] * np.ones(leads)
    with open_writer(folder, "rec", "wfdb", 250, [Lead(f"L{i}") for i in range(leads)], events=events) as w:
        w.write(data)
    return folder / "rec.hea"


def _edit_signal(hea: Path, index: int, column: int, value: str) -> None:
    lines = hea.read_text().splitlines()
    parts = lines[1 + index].split()
    parts[column] = value
    lines[1 + index] = " ".join(parts)
    hea.write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------------------- WFDB
def test_one_lead_stored_in_another_format_is_refused(tmp_path: Path) -> None:
    """A LUDB lead changed from format 16 to 8 was read as 'AF, 107 bpm': the size check was skipped."""
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 1, 1, "8")
    _refused(hea, "format[1]", "format 8", "format 16", "one format")


def test_every_lead_in_format_310_is_refused_by_the_file_size(tmp_path: Path) -> None:
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 0, 1, "310")
    _edit_signal(hea, 1, 1, "310")
    _refused(tmp_path / "rec.dat", "sig_len", "format 310", opener=lambda: open_recording(hea))


@pytest.mark.parametrize(
    ("field", "value"), [("n_sig", "\u00b9"), ("n_sig", "\u00b2"), ("sig_len", "\u00b3600")]
)
def test_record_line_numbers_in_other_digits_are_refused(tmp_path: Path, field: str, value: str) -> None:
    # found by the property suite with more examples: a superscript digit passed str.isdigit, then int()
    # raised ValueError
    hea = _wfdb(tmp_path)
    lines = hea.read_text().splitlines()
    parts = lines[0].split()
    parts[1 if field == "n_sig" else 3] = value
    lines[0] = " ".join(parts)
    hea.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))  # one byte, as a flipped byte makes it
    _refused(hea, field, opener=lambda: read_wfdb(hea))  # the WFDB reader itself, as a .hea names it


@pytest.mark.parametrize("code", ["17", "999", "16y"])
def test_unknown_storage_format(tmp_path: Path, code: str) -> None:
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 0, 1, code)
    _refused(hea, "format[0]", "not one WFDB defines", "212")


def test_a_null_signal_names_no_file(tmp_path: Path) -> None:
    # format 0 is WFDB's null signal (a variable-layout record's layout header): no samples, file '~'
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 0, 1, "0")
    _refused(hea, "format[0]", "null signal", "'~'")


@pytest.mark.parametrize(("gain", "words"), [
    ("nan/mV", ("not a finite number",)), ("inf/mV", ("not a finite number",)),
    ("-inf/mV", ("not a finite number",)), ("abc/mV", ("not a number",)),
    ("1e30/mV", ("not plausible", "full scale")), ("1e-30/mV", ("not plausible", "at most 1 mV")),
    # found by the property suite: a byte flip that leaves the baseline's "(" unclosed
    ("1000.0(0\x00/mV", ("not gain(baseline)/units",)), ("200(0/mV", ("not gain(baseline)/units",)),
])
def test_absurd_gain_is_refused(tmp_path: Path, gain: str, words: tuple[str, ...]) -> None:
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 1, 2, gain)
    _refused(hea, "gain[1]", *words)


def test_zero_gain_reads_with_a_warning(tmp_path: Path) -> None:
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 0, 2, "0(0)/mV")
    recording = open_recording(hea)
    assert recording.n_leads == 2
    assert any("signal 1 has no calibration" in w and "200" in w for w in recording.warnings)


def test_absurd_baseline_is_refused(tmp_path: Path) -> None:
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 0, 2, "1000(99999999)/mV")
    _refused(hea, "baseline[0]", "99999999", "format 16")


def test_fewer_signal_lines_than_announced(tmp_path: Path) -> None:
    hea = _wfdb(tmp_path)
    hea.write_text(hea.read_text().splitlines()[0] + "\n")
    _refused(hea, "n_sig", "announces 2 signals", "0 signal lines")


@pytest.mark.parametrize(("fs", "words"), [("0.001", ("allowed 1 Hz",)), ("1e9", ("100000 Hz",)),
                                           ("nan", ("positive",)), ("-250", ("positive",))])
def test_sampling_rate_out_of_range(tmp_path: Path, fs: str, words: tuple[str, ...]) -> None:
    hea = _wfdb(tmp_path)
    lines = hea.read_text().splitlines()
    parts = lines[0].split()
    parts[2] = fs
    hea.write_text("\n".join([" ".join(parts), *lines[1:]]) + "\n")
    _refused(hea, "fs", *words)


@pytest.mark.parametrize("name", ["../rec.dat", "/etc/passwd", "sub/rec.dat"])
def test_signal_file_outside_the_folder(tmp_path: Path, name: str) -> None:
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 0, 0, name)
    _refused(hea, "file_name[0]", "plain name")


def test_corrupt_event_file_is_a_warning_not_the_end(tmp_path: Path) -> None:
    hea = _wfdb(tmp_path, events=(EventMarker(100, "chest pain", EventKind.PATIENT_TRIGGERED),))
    evt = tmp_path / "rec.evt"
    assert open_recording(hea).events
    evt.write_bytes(b"\xff\xfe\x00\x01" * 37 + b"\x01")
    recording = open_recording(hea)
    assert recording.events == ()
    assert any("rec.evt" in w and "ignored" in w for w in recording.warnings)
    assert recording.read().shape == (1000, 2)


def test_lead_not_in_volts_is_left_out_with_a_warning(tmp_path: Path) -> None:
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 1, 2, "1000(0)/mmHg")
    recording = open_recording(hea)
    assert recording.lead_names == ["L0"]
    assert any("signal 2" in w and "mmHg" in w for w in recording.warnings)


def _opens_at_once(action: Callable[[], object]) -> BaseException | None:
    """Run ``action`` in a thread; it must finish within 5 s (a FIFO opened for reading never would)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            action()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5.0)
    assert outcome, "hung on a named pipe"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_named_pipe_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "strip.edf"
    os.mkfifo(fifo)
    error = _opens_at_once(lambda: open_recording(fifo))
    assert isinstance(error, RecordingError) and "named pipe" in error.reason
    hea = _wfdb(tmp_path / "w")
    (tmp_path / "w" / "rec.dat").unlink()
    os.mkfifo(tmp_path / "w" / "rec.dat")
    error = _opens_at_once(lambda: open_recording(hea))
    assert isinstance(error, RecordingError) and error.field == "file_name[0]"
    assert "named pipe" in error.reason


def test_device_is_refused() -> None:
    with pytest.raises(RecordingError, match="character device"):
        open_recording("/dev/zero")


# ------------------------------------------------------------------------------------------------ EDF
def _edf(path: Path, n: int = 2000) -> Path:
    import pyedflib

    writer = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders([{"label": "ECG", "dimension": "uV", "sample_frequency": 100,
                              "physical_min": -3000.0, "physical_max": 3000.0,
                              "digital_min": -32768, "digital_max": 32767}])
    writer.writeSamples([np.sin(np.linspace(0, 50, n)) * 1000])
    writer.writeAnnotation(1.0, -1, "button pressed")
    writer.close()
    return path


def _edf_field(path: Path, offset: int, width: int, value: str) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset:offset + width] = value.ljust(width).encode("ascii")
    path.write_bytes(bytes(raw))


def _signal_field(path: Path, n_signals: int, signal: int, start: int, width: int, value: str) -> None:
    """Field at ``start`` bytes into the per-signal block (label 0, dimension 96, phys min 104 ...)."""
    _edf_field(path, 256 + start * n_signals + signal * width, width, value)


def test_edf_reads_with_its_annotation(tmp_path: Path) -> None:
    recording = open_recording(_edf(tmp_path / "a.edf"))
    assert recording.n_samples == 2000 and recording.warnings == ()
    assert [e.label for e in recording.events] == ["button pressed"]


@pytest.mark.parametrize(("start", "value", "field", "words"), [
    (104, "3000", "physical_maximum[0]", ("zero",)),          # physical min = max
    (104, "nan", "physical_minimum[0]", ("not a finite number",)),
    (112, "1e300", "physical_maximum[0]", ("not plausible",)),
    (120, "32767", "digital_maximum[0]", ("empty or reversed",)),  # digital min = max
    (128, "99999", "digital_maximum[0]", ("outside the sample range",)),
])
def test_edf_scaling_fields(tmp_path: Path, start: int, value: str, field: str,
                            words: tuple[str, ...]) -> None:
    path = _edf(tmp_path / "a.edf")
    n = int(path.read_bytes()[252:256])
    _signal_field(path, n, 0, start, 8, value)
    _refused(path, field, *words)


def test_edf_claiming_fewer_records_than_it_holds(tmp_path: Path) -> None:
    """A header claiming 1 of its records analysed 1 s and reported 0 beats."""
    path = _edf(tmp_path / "a.edf")
    _edf_field(path, 236, 8, "1")
    _refused(path, "number_of_data_records", "inconsistent with the file size")


@pytest.mark.parametrize(("offset", "width", "value", "field"), [
    (244, 8, "0", "samples_per_record[0]"), (244, 8, "nan", "duration_of_data_record"),
    (236, 8, "-5", "number_of_data_records"), (252, 4, "x", "number_of_signals"),
])
def test_edf_numeric_header_fields(tmp_path: Path, offset: int, width: int, value: str, field: str) -> None:
    path = _edf(tmp_path / "a.edf")
    _edf_field(path, offset, width, value)
    _refused(path, field, opener=lambda: read_edf(path))


def test_edf_bad_start_date_and_annotations_are_warnings(tmp_path: Path) -> None:
    path = _edf(tmp_path / "a.edf")
    _edf_field(path, 168, 8, "31.02.21")
    raw = bytearray(path.read_bytes())
    at = raw.index(b"button pressed")
    raw[at - 4: at + 4] = b"\xff\x14\x15\x00\xfe\x14\xffx"  # the onset of the annotation made unreadable
    path.write_bytes(bytes(raw))
    recording = open_recording(path)
    assert recording.n_samples == 2000
    assert recording.warnings, "the guess must be said"


# ---------------------------------------------------------------------------------------------- DICOM
def _dicom(tmp_path: Path) -> Path:
    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    path = tmp_path / "ecg.dcm"
    ds.save_as(str(path))
    return path


def _edit_dicom(path: Path, change: Callable[[object], None]) -> None:
    import pydicom

    ds = pydicom.dcmread(str(path))
    change(ds)
    ds.save_as(str(path))


@pytest.mark.parametrize(("attribute", "value", "field", "words"), [
    ("NumberOfWaveformSamples", 12000, "WaveformSequence[0].NumberOfWaveformSamples", ("240000",)),
    ("NumberOfWaveformChannels", 11, "WaveformSequence[0].NumberOfWaveformSamples", ("11 channels",)),
    ("WaveformBitsAllocated", 12, "WaveformSequence[0].WaveformSampleInterpretation", ("12-bit",)),
    ("WaveformSampleInterpretation", "XX", "WaveformSequence[0].WaveformSampleInterpretation", ("'XX'",)),
    ("SamplingFrequency", "0.001", "WaveformSequence[0].SamplingFrequency", ("allowed 1 Hz",)),
])
def test_dicom_counts_against_the_data(tmp_path: Path, attribute: str, value: object, field: str,
                                       words: tuple[str, ...]) -> None:
    path = _dicom(tmp_path)
    _edit_dicom(path, lambda ds: setattr(ds.WaveformSequence[0], attribute, value))  # type: ignore[attr-defined]
    _refused(path, field, *words)


def test_dicom_rhythm_group_chosen_by_label_not_channel_count(tmp_path: Path) -> None:
    path = _dicom(tmp_path)
    recording = open_recording(path)
    assert recording.n_samples == 10000  # the 10 s rhythm group, not the 1.2 s median beats
    _edit_dicom(path, lambda ds: setattr(ds.WaveformSequence[1], "MultiplexGroupLabel", "RHYTHM 2"))
    assert open_recording(path).n_samples == 10000  # two labelled: the longer


def test_dicom_zero_sensitivity(tmp_path: Path) -> None:
    path = _dicom(tmp_path)
    channel = "WaveformSequence[0].ChannelDefinitionSequence[3]"
    _edit_dicom(path, lambda ds: setattr(ds.WaveformSequence[0].ChannelDefinitionSequence[3],  # type: ignore[attr-defined]
                                         "ChannelSensitivity", "0"))
    _refused(path, f"{channel}.ChannelSensitivity", "finite and non-zero")


# ------------------------------------------------------------------------------------------ CSV, ISHNE
def test_csv_time_in_milliseconds_is_named(tmp_path: Path) -> None:
    """A time column in ms was read as 0.5 Hz and called 'sinus rhythm 30 bpm'."""
    path = tmp_path / "strip.csv"
    path.write_text("time,II\n" + "".join(f"{2 * i},{np.sin(i / 9):.3f}\n" for i in range(400)))
    _refused(path, "column 'time'", "milliseconds", "--csv-fs")


def test_csv_field_over_the_csv_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "strip.csv"
    path.write_text("time,II\n0,1\n0.004,\"" + "9" * 200_000 + "\"\n")
    _refused(path, "rows", "not readable as CSV")


def test_csv_without_rate_names_the_option(tmp_path: Path) -> None:
    path = tmp_path / "strip.csv"
    path.write_text("I,II\n1,2\n3,4\n")
    _refused(path, "csv_fs", "--csv-fs")


def test_ishne_resolution_of_one_nanovolt_is_refused(tmp_path: Path) -> None:
    path = ishne_file(tmp_path, 500)
    patch_ishne(path, 10 + 4 * 4 + 2 + 40 + 40 + 20 + 4 + 24 + 2 + 48, "<h", 1)  # resolution[0]
    _refused(path, "amplitude_resolution[0]", "not plausible")


def test_ishne_invalid_record_date_is_a_warning(tmp_path: Path) -> None:
    path = ishne_file(tmp_path, 500)
    patch_ishne(path, 10 + 4 * 4 + 2 + 40 + 40 + 20 + 4 + 6, "<3h", 31, 2, 2021)  # record date 31/2/2021
    recording = open_recording(path)
    assert recording.start_time is None
    assert any("record_date 31/2/2021" in w for w in recording.warnings)


# ------------------------------------------------------------------------------------------------ XML
def test_xml_bomb_and_external_entity_stay_inert(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xml"
    laughs = "".join(f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" * 10 if i else "lol"}">' for i in range(10))
    path.write_text(f'<?xml version="1.0"?><!DOCTYPE AnnotatedECG [{laughs}'
                    '<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
                    '<AnnotatedECG xmlns="urn:hl7-org:v3"><id>&l9;&ext;</id></AnnotatedECG>')
    error = _opens_at_once(lambda: open_recording(path))
    assert isinstance(error, RecordingError)
    assert "root:" not in str(error)


def test_ishne_variable_block_size_that_disagrees_with_the_data_offset_is_a_warning(tmp_path: Path) -> None:
    # found by the held-out fuzz run: a size of 1e9 was read without a word
    path = ishne_file(tmp_path, 500)
    patch_ishne(path, 10, "<i", 10**9)
    assert any("variable block size (1000000000)" in w for w in open_recording(path).warnings)


def test_wfdb_negative_gain_is_a_warning(tmp_path: Path) -> None:
    # found by the held-out fuzz run: a gain of -200 turned the lead upside down without a word
    with open_writer(tmp_path, "neg", "wfdb", 250, [Lead("II")]) as writer:
        writer.write(np.zeros((500, 1)))
    header = tmp_path / "neg.hea"
    lines = header.read_text().splitlines()
    fields = lines[1].split()
    fields[2] = "-" + fields[2]
    header.write_text("\n".join([lines[0], " ".join(fields), *lines[2:]]) + "\n")
    assert any("negative gain" in w for w in open_recording(header).warnings)


# ------------------------------------------------- odd values the held-out fuzz run found read silently
def _warned(recording_path: Path, *words: str) -> str:
    """The recording reads, unchanged on disk, with one warning holding every word; that warning."""
    before = file_digest(recording_path)
    recording = open_recording(recording_path)
    found = [w for w in recording.warnings if all(word in w for word in words)]
    assert found, f"no warning with {words}: {recording.warnings}"
    assert file_digest(recording_path) == before
    return found[0]


@pytest.mark.parametrize(("bits", "words"), [("99", ("99 bits", "allowed 0")),
                                             ("x", ("'x'", "whole number"))])
def test_wfdb_absurd_adc_resolution_is_refused(tmp_path: Path, bits: str, words: tuple[str, ...]) -> None:
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 0, 3, bits)
    _refused(hea, "adc_res[0]", *words)


def test_wfdb_adc_resolution_beyond_the_format_is_a_warning(tmp_path: Path) -> None:
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 1, 3, "24")
    _warned(hea, "signal 2", "24 bits", "format 16")


def test_wfdb_empty_unit_is_a_warning(tmp_path: Path) -> None:
    hea = _wfdb(tmp_path)
    _edit_signal(hea, 0, 2, "1000(0)/")
    _warned(hea, "signal 1", "empty unit", "mV")


def test_wfdb_control_bytes_in_a_description_and_a_bad_birth_date(tmp_path: Path) -> None:
    hea = _wfdb(tmp_path)
    lines = hea.read_text().splitlines()
    lines[1] = lines[1].rsplit(" ", 1)[0] + " \x07L0\x01"
    hea.write_text("\n".join([*lines, "# birth_date: 1950-13-40"]) + "\n")
    _warned(hea, "description[0]", "'L0'")
    _warned(hea, "birth_date", "1950-13-40")
    assert open_recording(hea).lead_names[0] == "L0"


@pytest.mark.parametrize(("offset", "value", "words"), [
    (140, 13, ("record_date -9/13/-9",)),        # only the month given, and 13 of them
    (128, 7, ("sex code 7",)),
    (158, 99, ("lead_specification[0]", "99")),
])
def test_ishne_odd_coded_fields_are_warnings(tmp_path: Path, offset: int, value: int,
                                             words: tuple[str, ...]) -> None:
    path = ishne_file(tmp_path, 500)
    patch_ishne(path, offset, "<h", value)
    _warned(path, *words)


@pytest.mark.parametrize("label", [b"\xff\xfe\x00ECG", b"ECG\t", b"\nECG", b"ECG\r"])
def test_edf_label_with_control_bytes_is_a_warning(tmp_path: Path, label: bytes) -> None:
    # tabs and line breaks at either end were trimmed as if padding (found by the property suite with
    # more examples); EDF pads a label with spaces only
    path = _edf(tmp_path / "a.edf")
    raw = bytearray(path.read_bytes())
    raw[256:272] = label.ljust(16)
    path.write_bytes(bytes(raw))
    _warned(path, "label[0]", "printable ASCII", "'ECG'")
    assert open_recording(path).lead_names == ["ECG"]


def test_dicom_baseline_beyond_the_sample_range_is_refused(tmp_path: Path) -> None:
    path = _dicom(tmp_path)
    _edit_dicom(path, lambda ds: setattr(ds.WaveformSequence[0].ChannelDefinitionSequence[1],  # type: ignore[attr-defined]
                                         "ChannelBaseline", "1e300"))
    _refused(path, "WaveformSequence[0].ChannelDefinitionSequence[1].ChannelBaseline", "1e+300", "16-bit")


def test_dicom_invalid_dates_are_warnings(tmp_path: Path) -> None:
    path = _dicom(tmp_path)

    def dates(ds: object) -> None:
        for name, value in (("AcquisitionDateTime", "20241399250000"), ("ContentDate", "20241399"),
                            ("PatientBirthDate", "19501340")):
            setattr(ds, name, value)

    with warnings.catch_warnings():  # pydicom warns of the invalid values it is asked to write
        warnings.simplefilter("ignore")
        _edit_dicom(path, dates)
    _warned(path, "AcquisitionDateTime '20241399250000'", "start is unknown")
    _warned(path, "PatientBirthDate '19501340'")


def test_dicom_start_with_its_utc_offset_is_read_as_that_instant(tmp_path: Path) -> None:
    """A recorder's local time with its offset (the DT's &ZZXX, or TimezoneOffsetFromUTC) was read as UTC:
    an event monitor's strip from Berlin arrived two hours "in the future" and was never billed."""
    path = _dicom(tmp_path)
    for stamp, zone, utc in (("20261207103000.000000+0200", "-0500", datetime(2026, 12, 7, 8, 30)),
                             ("202612071030", "-0500", datetime(2026, 12, 7, 15, 30)),
                             ("20261207103000", "", datetime(2026, 12, 7, 10, 30)),
                             ("20261207103000-1200", "+1400", datetime(2026, 12, 7, 22, 30)),
                             # an offset no place has (DICOM took -14:00 and dropped +15:00 unsaid) is
                             # said, naming the file and field, and not applied
                             ("20261207103000+1500", "-0500", datetime(2026, 12, 7, 15, 30)),
                             ("20261207103000", "-1300", datetime(2026, 12, 7, 10, 30)),
                             ("20261207103000+0575", "", datetime(2026, 12, 7, 10, 30))):
        _edit_dicom(path, lambda ds, s=stamp, z=zone: (setattr(ds, "AcquisitionDateTime", s),  # type: ignore[func-returns-value]
                                                       setattr(ds, "TimezoneOffsetFromUTC", z)))
        recording = open_recording(path)
        assert recording.start_time == utc and len(recording.warnings) == (stamp[14:] in {"+1500", "+0575"}
                                                                         or zone == "-1300")
    _warned(path, f"{path.name}: AcquisitionDateTime: UTC offset '+0575'", "minutes must be 00-59")


def test_csv_column_name_with_control_bytes_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "strip.csv"
    path.write_text("time,I\x1b\x07,II\n" + "".join(f"{i / 250},{i % 7},{i % 5}\n" for i in range(500)))
    _warned(path, "column[0] name", "'I'")


def test_aecg_bad_timestamp_is_a_warning_and_overflowing_values_are_refused(tmp_path: Path) -> None:
    from ecgdesk.records import Recording
    from ecgdesk.records.hl7aecg import write_hl7_aecg

    path = tmp_path / "rest.xml"
    data = np.sin(np.linspace(0, 30, 1000))[:, None].astype(np.float32)
    write_hl7_aecg(Recording.from_array(data, 500.0, ["II"], start_time=datetime(2024, 1, 2, 3, 4, 5)), path)
    text = path.read_text()
    path.write_text(text.replace('head value="20240102030405', 'head value="20241399250000', 1))
    _warned(path, "TIME_ABSOLUTE.head '20241399250000.000'", "start is unknown")
    path.write_text(text.replace("<digits>", "<digits>1e300 ", 1))
    _refused(path, "II.digits", "overflow")


# ------------------------------------------------------- session 5: the last cases of the full fuzz run
def _edf_two_signals(path: Path) -> Path:
    """An EDF+ file with an ECG and a second, non-ECG signal (not read by the channel rule)."""
    import pyedflib

    writer = pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders([
        {"label": "ECG", "dimension": "uV", "sample_frequency": 100, "physical_min": -3000.0,
         "physical_max": 3000.0, "digital_min": -32768, "digital_max": 32767},
        {"label": "Resp", "dimension": "%", "sample_frequency": 100, "physical_min": -100.0,
         "physical_max": 100.0, "digital_min": -32768, "digital_max": 32767}])
    writer.writeSamples([np.sin(np.linspace(0, 50, 2000)) * 1000, np.cos(np.linspace(0, 5, 2000)) * 50])
    writer.close()
    return path


@pytest.mark.parametrize(("start", "value", "field", "words"), [
    (112, "-100", "physical_maximum[1]", ("-100..-100 %", "zero")),   # physical max = min
    (128, "-32768", "digital_maximum[1]", ("empty or reversed",)),    # digital max = min
])
def test_edf_unread_signal_with_a_broken_scale_is_a_warning(tmp_path: Path, start: int, value: str,
                                                            field: str, words: tuple[str, ...]) -> None:
    """A signal that is not read (not an ECG) with a range that cannot be scaled was read without a word:
    the header is damaged, so it is said, naming the file, the signal and the field; the ECG still reads."""
    path = _edf_two_signals(tmp_path / "two.edf")
    assert open_recording(path).warnings == ()
    n = int(path.read_bytes()[252:256])
    _signal_field(path, n, 1, start, 8, value)
    warning = _warned(path, "two.edf", "signal 1 ('Resp', not read)", field, *words)
    assert warning.startswith("two.edf: ")
    assert open_recording(path).lead_names == ["ECG"]


def test_dicom_garbage_after_the_data_set_is_a_warning(tmp_path: Path) -> None:
    """Bytes appended to a DICOM file were parsed by pydicom as elements without a word."""
    path = _dicom(tmp_path)
    clean = open_recording(path)
    size = path.stat().st_size
    with open(path, "ab") as handle:  # a tag, a 4-byte length past the end of the file, then noise
        handle.write(b"\x05\x74\x5a\x54\xa0\xb0\x7d\xd3" + bytes(range(256)) * 4)
    warning = _warned(path, "ecg.dcm", "from byte", "not DICOM", "(7405,545A)", "past the end of the file")
    assert str(size) in warning or str(size + 8) in warning
    again = open_recording(path)
    assert again.n_samples == clean.n_samples
    assert np.array_equal(again.read(0, 100), clean.read(0, 100))


def test_dicom_short_tail_after_the_last_element_is_a_warning(tmp_path: Path) -> None:
    path = _dicom(tmp_path)
    with open(path, "ab") as handle:  # under one element header: pydicom stops there without a word
        handle.write(b"\x01\x02\x03\x04\x05")
    _warned(path, "ecg.dcm", "5 bytes after the last element")


def _mat_record(folder: Path, head: bytes) -> Path:
    """A one-lead WFDB record whose signal file is a wfdb2mat ``.mat`` (format 16, 24-byte MATLAB v4
    header skipped by the byte offset) with ``head`` as that header."""
    (folder / "rec.hea").write_text("rec 1 300 600\nrec.mat 16+24 1000/mV 16 0 0 0 0 ECG\n")
    samples = (np.sin(np.linspace(0, 40, 600)) * 1000).astype("<i2").tobytes()
    (folder / "rec.mat").write_bytes(head + samples)
    return folder / "rec.hea"


def test_wfdb_mat_file_whose_matlab_header_is_not_the_record_is_a_warning(tmp_path: Path) -> None:
    """A ``.mat`` whose bytes were all replaced (header included) read without a word."""
    import struct

    good = _mat_record(tmp_path, struct.pack("<5i", 30, 1, 600, 0, 4) + b"val\0")
    assert open_recording(good).warnings == ()
    bad = _mat_record(tmp_path, bytes(range(200, 224)))
    warning = _warned(bad, "rec.mat", "'MAT header'", "not the 1 x 600 matrix")
    assert "samples are read as the header says" in warning
    assert open_recording(bad).n_samples == 600
