"""Streaming writers: WFDB checked with wfdb itself, ISHNE with its header layout and CRC."""

from __future__ import annotations

import binascii
import struct
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgdesk.errors import InputError
from ecgdesk.records import EventKind, EventMarker, Lead, PatientInfo, Recording
from ecgdesk.records.writers import open_writer, write_beat_annotations, write_recording


def _signal(n: int = 5000, n_leads: int = 3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 250.0
    base = np.sin(2 * np.pi * 1.2 * t)[:, None] * np.arange(1, n_leads + 1)
    return (base + 0.05 * rng.standard_normal((n, n_leads))).astype(np.float32)


def test_wfdb_writer_streams_blocks_and_wfdb_reads_them(tmp_path: Path) -> None:
    data = _signal()
    start = datetime(2025, 3, 4, 8, 30, 15)
    events = [EventMarker(1200, "chest pain", EventKind.PATIENT_TRIGGERED)]
    writer = open_writer(tmp_path, "rec", "wfdb", 250, [Lead("CM5"), Lead("V1"), Lead("aVF")],
                         start_time=start, patient=PatientInfo(patient_id="P7"), device="sim",
                         events=events)
    with writer:
        for block in np.array_split(data, 7):
            writer.write(block)
    assert writer.path == tmp_path / "rec.hea"
    record = wfdb.rdrecord(str(tmp_path / "rec"))
    assert record.sig_len == len(data)
    assert record.sig_name == ["CM5", "V1", "aVF"]
    assert record.fs == 250
    assert datetime.combine(record.base_date, record.base_time) == start
    np.testing.assert_allclose(record.p_signal, data, atol=0.0006)
    assert "patient_id: P7" in record.comments
    ann = wfdb.rdann(str(tmp_path / "rec"), "evt")
    assert list(ann.sample) == [1200]
    assert ann.symbol == ['"']
    assert ann.aux_note == ["chest pain"]


def test_wfdb_writer_clips_instead_of_wrapping(tmp_path: Path) -> None:
    data = np.array([[40.0], [-40.0], [1.0]])
    with open_writer(tmp_path, "clip", "wfdb", 100, [Lead("II")]) as writer:
        writer.write(data)
    record = wfdb.rdrecord(str(tmp_path / "clip"))
    np.testing.assert_allclose(record.p_signal[:, 0], [32.767, -32.767, 1.0])


def test_ishne_writer_header_crc_and_samples(tmp_path: Path) -> None:
    data = _signal(n_leads=2)
    start = datetime(2025, 1, 2, 23, 59, 1)
    patient = PatientInfo(patient_id="ID9", first_name="Ann", last_name="Lee", sex="F",
                          birth_date=date(1950, 6, 7))
    with open_writer(tmp_path, "h", "ishne", 250, [Lead("V5"), Lead("X1")], start_time=start,
                     patient=patient) as writer:
        writer.write(data[:1000])
        writer.write(data[1000:])
    raw = (tmp_path / "h.ecg").read_bytes()
    assert raw[:8] == b"ISHNE1.0"
    ecg_offset = struct.unpack_from("<i", raw, 22)[0]
    assert struct.unpack_from("<H", raw, 8)[0] == binascii.crc_hqx(raw[10:ecg_offset], 0xFFFF)
    assert struct.unpack_from("<i", raw, 14)[0] == len(data)
    assert struct.unpack_from("<h", raw, 272)[0] == 250
    assert struct.unpack_from("<2h", raw, 206) == (1000, 1000)  # nV per ADC unit
    assert struct.unpack_from("<3h", raw, 138) == (2, 1, 2025)
    assert struct.unpack_from("<3h", raw, 150) == (23, 59, 1)
    assert raw[68:71] == b"Lee"
    samples = np.frombuffer(raw[ecg_offset:], dtype="<i2").reshape(-1, 2)
    np.testing.assert_allclose(samples / 1000.0, data, atol=0.0006)


def test_write_recording_streams_chunks_with_progress(tmp_path: Path) -> None:
    data = _signal(n=250 * 1300, n_leads=1)
    recording = Recording.from_array(data, 250, ["II"], record_name="r1")
    seen: list[int] = []
    path = write_recording(recording, tmp_path, "wfdb", progress=seen.append)
    assert path == tmp_path / "r1.hea"
    assert sum(seen) == len(data) and len(seen) == 3
    np.testing.assert_allclose(wfdb.rdrecord(str(tmp_path / "r1")).p_signal, data, atol=0.0006)


def test_write_beat_annotations_round_trip(tmp_path: Path) -> None:
    path = write_beat_annotations(tmp_path / "b", "atr", [10, 300, 600], ["N", "V", "N"], 360)
    assert path == tmp_path / "b.atr"
    ann = wfdb.rdann(str(tmp_path / "b"), "atr")
    assert list(ann.sample) == [10, 300, 600] and ann.symbol == ["N", "V", "N"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"fmt": "edf"}, "fmt"), ({"fs": 0}, "fs"), ({"leads": []}, "leads"),
     ({"record_name": "a b"}, "record_name")],
)
def test_open_writer_rejects_bad_parameters(tmp_path: Path, kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"out_dir": tmp_path, "record_name": "r", "fmt": "wfdb", "fs": 250,
                               "leads": [Lead("II")]}
    args.update(kwargs)
    with pytest.raises(InputError) as info:
        open_writer(**args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_ishne_writer_rejects_fractional_rate(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="whole number"):
        open_writer(tmp_path, "r", "ishne", 250.5, [Lead("II")])


def test_writer_rejects_wrong_block_shape(tmp_path: Path) -> None:
    with open_writer(tmp_path, "r", "wfdb", 250, [Lead("I"), Lead("II")]) as writer, \
            pytest.raises(InputError, match=r"shape \(n, 2\)"):
        writer.write(np.zeros((10, 3)))


def test_writer_leaving_with_on_error_deletes_the_partial_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), open_writer(tmp_path, "part", "ishne", 250, [Lead("II")]) as writer:
        writer.write(np.zeros((100, 1)))
        raise RuntimeError("simulated failure")
    assert not (tmp_path / "part.ecg").exists()


def test_write_recording_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    from ecgdesk.records import open_recording

    with open_writer(tmp_path, "src", "wfdb", 250, [Lead("II")]) as writer:
        writer.write(np.ones((500, 1)))
    before = (tmp_path / "src.dat").read_bytes()
    recording = open_recording(tmp_path / "src")
    with pytest.raises(InputError, match="would overwrite the input") as info:
        write_recording(recording, tmp_path, "wfdb")
    assert info.value.field == "record_name"
    assert (tmp_path / "src.dat").read_bytes() == before
    assert write_recording(recording, tmp_path, "ishne") == tmp_path / "src.ecg"


def test_ishne_output_is_deterministic(tmp_path: Path) -> None:
    data = _signal(n=1000, n_leads=2)
    for folder in ("a", "b"):
        with open_writer(tmp_path / folder, "r", "ishne", 250, [Lead("I"), Lead("II")],
                         start_time=datetime(2025, 1, 1, 10, 0, 0)) as writer:
            writer.write(data)
    assert (tmp_path / "a" / "r.ecg").read_bytes() == (tmp_path / "b" / "r.ecg").read_bytes()
