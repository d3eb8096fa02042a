"""Detection and channel-selection rules that docs/formats.md states."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from ecgdesk.records import Lead, Recording, RecordingFormat, _ishne, detect_format, open_recording
from ecgdesk.records.edf_reader import _Channel, select_ecg_channels
from ecgdesk.records.hl7aecg import write_hl7_aecg


def _channel(index: int, label: str, unit: str, fs: float) -> _Channel:
    return _Channel(index, label, unit, fs, int(fs) * 10, -1.0, 1.0, -32768, 32767)


def test_edf_rule_prefers_ecg_labels_then_the_most_common_rate() -> None:
    channels = [
        _channel(0, "EEG Fz", "uV", 256), _channel(1, "ECG I", "uV", 512), _channel(2, "ECG II", "uV", 512),
        _channel(3, "ECG III", "mV", 128), _channel(4, "SpO2", "%", 1), _channel(5, "EDF Annotations", "", 0),
    ]
    assert [c.label for c in select_ecg_channels(channels)] == ["ECG I", "ECG II"]


def test_edf_rule_falls_back_to_voltage_channels_and_higher_rate_on_ties() -> None:
    channels = [_channel(0, "Chan A", "uV", 200), _channel(1, "Chan B", "mV", 500),
                _channel(2, "Resp", "Ohm", 500)]
    assert [c.label for c in select_ecg_channels(channels)] == ["Chan B"]
    assert select_ecg_channels([_channel(0, "Resp", "Ohm", 25)]) == []


def test_ishne_from_another_writer_names_leads_from_codes(tmp_path: Path) -> None:
    header = _ishne.IshneHeader(n_samples=400, fs=200, resolution_nv=[2500, 2500, 2500],
                                lead_codes=[15, 1, 15], record_date=datetime(2020, 2, 3).date(),
                                start_time=datetime(2020, 2, 3, 8, 0).time())
    samples = np.arange(1200, dtype="<i2").reshape(400, 3)
    path = tmp_path / "other.ecg"
    path.write_bytes(_ishne.pack_header(header) + samples.tobytes())
    recording = open_recording(path)
    assert recording.lead_names == ["V5", "ch2", "ch3"]
    np.testing.assert_allclose(recording.read(), samples * 2500e-6, rtol=1e-6)
    assert recording.start_time == datetime(2020, 2, 3, 8, 0) and recording.events == ()


def test_hl7_aecg_is_detected_by_content(tmp_path: Path) -> None:
    data = np.sin(np.linspace(0, 20, 5000))[:, None] * [1.0, 0.5]
    path = tmp_path / "resting.bin"
    write_hl7_aecg(Recording.from_array(data, 500, ["I", "II"]), path)
    assert detect_format(path) is RecordingFormat.HL7_AECG
    recording = open_recording(path)
    assert recording.lead_names == ["I", "II"]
    np.testing.assert_allclose(recording.read(), data, atol=0.001)


def test_wfdb_signal_file_with_other_suffix_opens_through_its_header(tmp_path: Path) -> None:
    import wfdb

    data = np.sin(np.linspace(0, 30, 3000))[:, None]
    wfdb.wrsamp("rec", fs=300, units=["mV"], sig_name=["ECG"], p_signal=data, fmt=["16"],
                write_dir=str(tmp_path))
    renamed = tmp_path / "rec.mat"
    (tmp_path / "rec.dat").rename(renamed)
    hea = tmp_path / "rec.hea"
    hea.write_text(hea.read_text().replace("rec.dat", "rec.mat"))
    assert detect_format(renamed) is RecordingFormat.WFDB
    np.testing.assert_allclose(open_recording(renamed).read(), data, atol=0.01)


def test_writer_leads_are_written_in_mv_regardless_of_lead_unit(tmp_path: Path) -> None:
    from ecgdesk.records import open_writer

    with open_writer(tmp_path, "u", "wfdb", 100, [Lead("I", unit="uV", gain=5.0)]) as writer:
        writer.write(np.full((20, 1), 1.5))
    recording = open_recording(tmp_path / "u")
    assert recording.leads[0].unit == "mV"
    np.testing.assert_allclose(recording.read(), 1.5)
