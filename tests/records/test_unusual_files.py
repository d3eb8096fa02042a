"""Files that are valid but unusual, or whose header lies about dates (task 52, readers): each is read
right or refused naming the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgdesk.errors import RecordingError
from ecgdesk.records import open_recording
from ecgdesk.records.lead_names import standard_lead_names

_ANNOTATIONS = "EDF Annotations"


def _text(value: object, width: int) -> str:
    return str(value).ljust(width)[:width]


def _edf_plus(path: Path, onsets: list[float], reserved: str = "EDF+D", spr: int = 250) -> Path:
    """An EDF+ file of 1-s records of one ECG lead (250 Hz, a ramp) and an annotation signal whose
    time-keeping entries start each record at ``onsets``; the second record also holds "beep"."""
    ann_width = 60
    labels = [("ECG I", "uV", -3276.8, 3276.7, -32768, 32767, spr),
              (_ANNOTATIONS, "", -1, 1, -32768, 32767, ann_width)]
    n = len(labels)
    fixed = ("0".ljust(8) + _text("X X X X", 80) + _text("Startdate 01-FEB-2003 X X X", 80) + "01.02.03"
             + "12.00.00" + _text(256 * (n + 1), 8) + _text(reserved, 44) + _text(len(onsets), 8)
             + _text(1, 8) + _text(n, 4))
    block = "".join(_text(s[0], 16) for s in labels) + _text("", 80) * n
    block += "".join(_text(s[1], 8) for s in labels)
    for column in (2, 3, 4, 5):
        block += "".join(_text(s[column], 8) for s in labels)
    block += _text("", 80) * n + "".join(_text(s[6], 8) for s in labels) + _text("", 32) * n
    body = bytearray()
    for record, onset in enumerate(onsets):
        body += (np.arange(spr) + record * spr).astype("<i2").tobytes()
        tal = f"+{onset:g}\x14\x14\x00".encode()
        if record == 1:
            tal += f"+{onset + 0.5:g}\x14beep\x14\x00".encode()
        body += tal.ljust(2 * ann_width, b"\x00")
    path.write_bytes((fixed + block).encode("latin-1") + bytes(body))
    return path


def test_an_edf_plus_d_file_reads_its_gaps_as_no_signal_each_record_at_its_time(tmp_path: Path) -> None:
    """edflib refuses every EDF+D file ('The file is discontinuous and cannot be read', a refusal of a
    valid file). Until 2026-12-07 our reader then joined the records back to back: the analysis saw the
    splice as one signal (a false beat or RR across it) and every sample and annotation after a gap came
    that much early. The gap now reads as NaN (no signal, as WFDB's null segments), the records and
    annotations after it at their own time."""
    path = _edf_plus(tmp_path / "d.edf", [0, 1, 2, 10, 11])
    keeping = b"+10\x14\x14" + bytes(20)  # the record's time-keeping entry, and room for one more
    late = b"+10\x14\x14\x00+10.5\x14late\x14".ljust(len(keeping), b"\x00")
    path.write_bytes(path.read_bytes().replace(keeping, late))
    recording = open_recording(path)
    assert recording.n_samples == 12 * 250
    samples = recording.read()[:, 0] * 1000 / 0.1  # mV -> ADC units of 0.1 uV: the ramp written
    assert np.allclose(samples[:750], np.arange(750), atol=0.1)
    assert np.isnan(samples[750:2500]).all()
    assert np.allclose(samples[2500:], np.arange(750, 1250), atol=0.1)
    assert np.allclose(recording.read(2400, 2600)[100:, 0] * 1e4, np.arange(750, 850), atol=0.1)
    assert [(e.sample, e.label) for e in recording.events] == [(375, "beep"), (2625, "late")]
    assert recording.warnings == ("d.edf: EDF+D (discontinuous) file: 1 gap between its data records "
                                  "(together 7 s; the first after 3 s of recording) read as no signal (NaN), "
                                  "each record at its own time",)


def test_an_edf_plus_d_file_without_gaps_reads_like_a_continuous_one(tmp_path: Path) -> None:
    continuous = open_recording(_edf_plus(tmp_path / "c.edf", [0, 1, 2], reserved="EDF+C"))
    discontinuous = open_recording(_edf_plus(tmp_path / "d.edf", [0, 1, 2]))
    assert discontinuous.warnings == continuous.warnings == ()
    assert np.allclose(discontinuous.read(), continuous.read(), atol=1e-6)
    assert [e.sample for e in discontinuous.events] == [e.sample for e in continuous.events] == [375]



@pytest.mark.parametrize(("onsets", "reserved", "start", "late"), [
    ([0.25, 1.25, 2.25], "EDF+C", "12:00:00.250000", False),  # pyedflib 0.1.42 gave 12:00:00.025
    ([5, 6, 7], "EDF+C", "12:00:05", True),  # edflib: start 12:00:00, the annotation at 6.5 s
    ([5.25, 6.25, 9.25], "EDF+D", "12:00:05.250000", True),  # our reader: start 12:00:00
    ([5.25, 6.25, 7.25], "EDF+D", "12:00:05.250000", True),  # no gap: "beep" was at 6.75 s, left out
])
def test_an_edf_plus_start_is_moved_by_its_first_record_onset(tmp_path: Path, onsets: list[float],
                                                             reserved: str, start: str, late: bool) -> None:
    """The first sample is taken at the first data record's time-keeping onset after the header's start;
    it was dropped or misread, so the start was silently wrong (and an annotation placed seconds late)."""
    recording = open_recording(_edf_plus(tmp_path / "e.edf", onsets, reserved=reserved))
    assert recording.start_time is not None and recording.start_time.time().isoformat() == start
    assert [(e.sample, e.label) for e in recording.events] == [(375, "beep")]
    assert any("first data record starts at" in w for w in recording.warnings) == late


@pytest.mark.parametrize(("onsets", "reason"), [
    ([0, 3, 1, 2], "before record"), ([0, 0.5, 1.5], "before record"),
    ([0, 1, 9e7], "data record 2 starts at 9e+07 s: the file would span 1041.7 days with its gaps"),
])
def test_edf_plus_d_records_out_of_order_overlapping_or_years_apart_are_refused(
        tmp_path: Path, onsets: list[float], reason: str) -> None:
    """They were read back to back with "gaps together -1 s" and the annotations placed by a search of
    unsorted onsets. A record years after the one before is a damaged onset, not years of NaN gap."""
    with pytest.raises(RecordingError) as caught:
        open_recording(_edf_plus(tmp_path / "d.edf", onsets))
    assert caught.value.field == "EDF Annotations" and reason in caught.value.reason



def test_edf_annotations_outside_the_recording_are_left_out_and_said(tmp_path: Path) -> None:
    """An onset before the first sample (EDF+ allows '-') or after the last marks nothing read: `info`
    showed it at "-1 day, 23:59:59.5" and `convert` dropped it unsaid."""
    import pyedflib

    path = tmp_path / "n.edf"
    writer = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders([{"label": "ECG", "dimension": "uV", "sample_frequency": 100,
                              "physical_min": -3000.0, "physical_max": 3000.0,
                              "digital_min": -32768, "digital_max": 32767}])
    writer.writeSamples([np.zeros(1000)])
    writer.writeAnnotation(1.0, 3, "kept")
    writer.writeAnnotation(20.0, -1, "after the end")
    writer.close()
    recording = open_recording(path)
    assert [(e.sample, e.label, e.duration_samples) for e in recording.events] == [(100, "kept", 300)]
    assert recording.warnings == ("n.edf: field 'EDF Annotations': 1 annotation outside the recording "
                                  "(0 to 10 s) left out: 'after the end' at 20 s",)
    raw = _edf_plus(tmp_path / "d.edf", [0, 1, 5])  # our reader: its "beep" moved to -0.5 s
    raw.write_bytes(raw.read_bytes().replace(b"+1.5\x14beep", b"-0.5\x14beep"))
    joined = open_recording(raw)
    assert joined.events == () and any("'beep' at -0.5 s" in w for w in joined.warnings)
    gapped = _edf_plus(tmp_path / "g.edf", [0, 1, 2, 10, 11])  # "beep" moved into the gap: 5.5 s
    gapped.write_bytes(gapped.read_bytes().replace(b"+1.5\x14beep", b"+5.5\x14beep"))
    recording = open_recording(gapped)  # until 2026-12-07 placed where the gap was joined (750), said
    assert [(e.sample, e.label) for e in recording.events] == [(1375, "beep")]  # within the NaN gap


def _wfdb_dated(folder: Path, when: str) -> Path:
    folder.mkdir()
    (folder / "r.dat").write_bytes((np.sin(np.arange(2500) / 20) * 200).astype("<i2").tobytes())
    (folder / "r.hea").write_text(f"r 1 250 2500 {when}\nr.dat 16 200 16 0 0 0 0 I\n")
    return folder / "r.hea"


@pytest.mark.parametrize(("when", "reason"), [
    ("23:59:59 31/12/9999", "is in the future"),  # its end time overflowed: analyze was an internal error
    ("12:00:00 01/01/2999", "is in the future"),
    ("10:00:00 01/01/1850", "is before 1900"),
    ("00:00:00 01/01/0001", "is before 1900"),
])
def test_a_start_date_no_ecg_can_have_is_read_as_unknown_with_a_warning(
    tmp_path: Path, when: str, reason: str
) -> None:
    recording = open_recording(_wfdb_dated(tmp_path / "r", when))
    assert recording.start_time is None and recording.end_time is None
    assert recording.summary()["end_time"] is None
    assert len(recording.warnings) == 1
    assert recording.warnings[0].startswith("r.hea: start date and time ") and reason in recording.warnings[0]


def test_a_plausible_start_date_is_kept(tmp_path: Path) -> None:
    recording = open_recording(_wfdb_dated(tmp_path / "r", "08:30:00 14/03/1999"))
    assert str(recording.start_time) == "1999-03-14 08:30:00" and recording.warnings == ()


def _dicom_with_trend(path: Path, *, rhythm_label: str = "RHYTHM") -> Path:
    """pydicom's 12-lead ECG (a RHYTHM group and the MEDIAN BEAT group, both 1000 Hz) with a third group: a
    heart-rate trend at 0.5 Hz, below any ECG rate."""
    import copy

    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    ds.WaveformSequence[0].MultiplexGroupLabel = rhythm_label
    trend = copy.deepcopy(ds.WaveformSequence[1])
    trend.MultiplexGroupLabel, trend.SamplingFrequency = "TREND", "0.5"
    trend.NumberOfWaveformChannels, trend.NumberOfWaveformSamples = 1, 20
    trend.ChannelDefinitionSequence = trend.ChannelDefinitionSequence[:1]
    trend.WaveformData = bytes(40)
    ds.WaveformSequence.append(trend)
    ds.save_as(str(path))
    return path


def test_a_dicom_group_beside_the_rhythm_at_another_rate_is_left_out_with_a_warning(tmp_path: Path) -> None:
    """A 0.5 Hz group beside the 1000 Hz rhythm refused the whole file (WaveformSequence[2].SamplingFrequency
    not plausible for an ECG); the rhythm is read now, and the group left out is said."""
    recording = open_recording(_dicom_with_trend(tmp_path / "t.dcm"))
    assert (recording.fs, recording.n_samples, recording.n_leads) == (1000.0, 10000, 12)
    assert recording.warnings == ("t.dcm: WaveformSequence[2].SamplingFrequency: sampling rate 0.5 Hz is not "
                                  "plausible for an ECG (allowed 1 Hz to 100000 Hz); that group (not the "
                                  "rhythm) is not read",)


def test_without_a_rhythm_label_every_dicom_group_must_check_out(tmp_path: Path) -> None:
    """Unlabelled, the longest group is the rhythm: a group skipped could be it, so it is still refused."""
    path = _dicom_with_trend(tmp_path / "t.dcm", rhythm_label="")
    with pytest.raises(RecordingError) as info:
        open_recording(path)
    assert info.value.field == "WaveformSequence[2].SamplingFrequency"



def test_lead_names_written_otherwise_get_their_standard_spelling() -> None:
    written = ["ECG I", "EKG-II", "Lead_III", "AVR", "avl", "Ableitung aVF", "v1", "MLII", "2", "Pleth"]
    assert standard_lead_names(written) == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "MLII", "2", "Pleth"]
    assert standard_lead_names(["DI", "dii", "D3"]) == ["I", "II", "III"]
    assert standard_lead_names(["II", "ECG II"]) == ["II", "ECG II"]  # which is lead II is not ours to guess
