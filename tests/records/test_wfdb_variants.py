"""WFDB records as other tools write them (2026-12-07): what a probe of public sample records found.

Records written here with wfdb-python itself: headers without a sample count in any fixed-size format,
several samples per frame, a channel in degrees or an EDF annotation channel carried over from EDF, and
an annotation file given where the recording is expected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from conftest import shared_path
from ecgdesk.errors import RecordingError
from ecgdesk.records import open_recording


def _ecg(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(0.0, 0.3, n), 3)


def _write(folder: Path, name: str, signals: list[np.ndarray], units: list[str], fmt: str,
           names: list[str] | None = None, per_frame: list[int] | None = None) -> Path:
    per_frame = per_frame or [1] * len(signals)
    wfdb.wrsamp(name, fs=250, units=units, sig_name=names or [f"s{i}" for i in range(len(signals))],
                e_p_signal=signals, samps_per_frame=per_frame, fmt=[fmt] * len(signals),
                adc_gain=[200.0] * len(signals), baseline=[0] * len(signals), write_dir=str(folder))
    return folder / f"{name}.hea"


def _without_length(hea: Path) -> Path:
    lines = hea.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))
    lines[at] = " ".join(lines[at].split()[:3])  # name, signals, rate: no sample count
    hea.write_text("\n".join(lines) + "\n")
    return hea


@pytest.mark.parametrize("fmt", ["16", "24", "32"])
def test_a_header_without_a_sample_count_reads_like_one_with_it(tmp_path: Path, fmt: str) -> None:
    signals = [_ecg(2500, 1), _ecg(2500, 2)]
    full = open_recording(_write(tmp_path, "full", signals, ["mV", "mV"], fmt))
    short = open_recording(_without_length(_write(tmp_path, "short", signals, ["mV", "mV"], fmt)))
    assert short.n_samples == full.n_samples == 2500
    assert any("no sample count" in w for w in short.warnings)
    np.testing.assert_array_equal(short.read(1000, 1300), full.read(1000, 1300))


def test_a_format_212_header_without_a_sample_count(tmp_path: Path) -> None:
    shared = shared_path("mitdb", "100.hea")
    (tmp_path / "100.dat").symlink_to(shared.with_suffix(".dat"))
    (tmp_path / "100.hea").write_text(shared.read_text())
    _without_length(tmp_path / "100.hea")
    short, full = open_recording(tmp_path / "100.hea"), open_recording(shared)
    assert short.n_samples == full.n_samples == 650_000
    np.testing.assert_array_equal(short.read(649_000, 650_000), full.read(649_000, 650_000))


def test_a_record_without_a_sample_count_and_a_signal_left_out_reads(tmp_path: Path) -> None:
    # found on a public record: it opened, then every read failed inside wfdb (a TypeError)
    hea = _without_length(_write(tmp_path, "pleth", [_ecg(2000, 3), _ecg(2000, 4)], ["mV", "NU"], "16"))
    recording = open_recording(hea)
    assert [lead.name for lead in recording.leads] == ["s0"] and recording.n_samples == 2000
    assert recording.read(1990, 2000).shape == (10, 1)


def test_several_samples_per_frame_are_read_at_the_full_rate(tmp_path: Path) -> None:
    fast = [_ecg(5000, 5), _ecg(5000, 6)]
    recording = open_recording(_write(tmp_path, "frames", fast, ["mV", "mV"], "16", per_frame=[2, 2]))
    assert recording.fs == 500.0 and recording.n_samples == 5000
    np.testing.assert_allclose(recording.read(1001, 1301), np.column_stack(fast)[1001:1301], atol=0.003)


def test_mixed_samples_per_frame_are_averaged_and_said(tmp_path: Path) -> None:
    hea = _write(tmp_path, "mixed", [_ecg(2000, 7), _ecg(4000, 8)], ["mV", "mV"], "16", per_frame=[1, 2])
    recording = open_recording(hea)
    assert recording.fs == 250.0 and recording.n_samples == 2000
    assert any("several samples per frame" in w and "s1" in w for w in recording.warnings)


def test_ecg_leads_at_several_samples_per_frame_leave_a_slower_channel_out(tmp_path: Path) -> None:
    # as MIMIC writes them: ECG leads at 4 samples per frame, a respiration channel at 1
    ecg = [_ecg(4000, 16), _ecg(4000, 17)]
    hea = _write(tmp_path, "mimic", [*ecg, _ecg(1000, 18)], ["mV", "mV", "mV"], "16",
                 names=["II", "V", "RESP"], per_frame=[4, 4, 1])
    recording = open_recording(hea)
    assert [lead.name for lead in recording.leads] == ["II", "V"] and recording.fs == 1000.0
    assert any("RESP" in w and "left out" in w for w in recording.warnings)
    np.testing.assert_allclose(recording.read(0, 4000), np.column_stack(ecg), atol=0.003)


def test_a_channel_in_degrees_and_an_edf_annotation_channel_are_left_out(tmp_path: Path) -> None:
    hea = _write(tmp_path, "gen", [_ecg(1000, 9), _ecg(1000, 10), _ecg(1000, 11)], ["mV", "deg", "mV"], "16",
                 names=["ECG", "angle", "EDF Annotations"])
    hea.write_bytes(hea.read_bytes().replace(b"/deg", b"/\xb0"))  # a degree sign in Latin-1, as written
    assert b"/\xb0" in hea.read_bytes()
    recording = open_recording(hea)
    assert [lead.name for lead in recording.leads] == ["ECG"]
    assert sum("left out" in w for w in recording.warnings) == 2


def test_an_annotation_file_is_not_opened_as_the_recording(tmp_path: Path) -> None:
    hea = _write(tmp_path, "rec", [_ecg(1000, 12)], ["mV"], "16")
    wfdb.wrann("rec", "atr", np.array([100, 350]), np.array(["N", "N"]), write_dir=str(tmp_path))
    assert open_recording(tmp_path / "rec.dat").n_samples == open_recording(hea).n_samples == 1000
    with pytest.raises(RecordingError) as caught:
        open_recording(tmp_path / "rec.atr")
    assert caught.value.field == "file" and "rec.dat" in caught.value.reason


def test_a_variable_layout_multi_segment_record_reads_with_its_gaps(tmp_path: Path) -> None:
    # MIMIC-style: a layout header of null signals (format 0), segments with different signals, a gap
    first, second = [_ecg(500, 13), _ecg(500, 14)], [_ecg(500, 15)]
    _write(tmp_path, "seg1", first, ["mV", "mV"], "16", names=["II", "V"])
    _write(tmp_path, "seg2", second, ["mV"], "16", names=["II"])
    (tmp_path / "rec_layout.hea").write_text("rec_layout 2 250 0\n~ 0 200/mV 16 0 0 0 0 II\n"
                                             "~ 0 200/mV 16 0 0 0 0 V\n")
    (tmp_path / "rec.hea").write_text("rec/4 2 250 1200\nrec_layout 0\nseg1 500\n~ 200\nseg2 500\n")
    recording = open_recording(tmp_path / "rec.hea")
    assert [lead.name for lead in recording.leads] == ["II", "V"] and recording.n_samples == 1200
    data = recording.read(0, 1200)
    np.testing.assert_allclose(data[:500], np.column_stack(first), atol=0.003)
    assert np.isnan(data[500:700]).all() and np.isnan(data[700:, 1]).all()
    np.testing.assert_allclose(data[700:, 0], second[0], atol=0.003)
    with pytest.raises(RecordingError) as caught:  # a null signal names no file
        (tmp_path / "bad_layout.hea").write_text("bad_layout 1 250 0\nbad.dat 0 200/mV 16 0 0 0 0 II\n")
        open_recording(tmp_path / "bad_layout.hea")
    assert caught.value.field == "format[0]"


def test_a_fixed_layout_multi_segment_record_reads_its_null_segment_as_a_gap(tmp_path: Path) -> None:
    """WFDB allows a null segment (``~``) in a fixed layout too; wfdb's rdrecord failed on any read that
    reached it ("AttributeError: 'NoneType' object has no attribute 'p_signal'", so `analyze` refused the
    record). Segment lengths that disagree with the record line are refused naming it (wfdb: "ValueError:
    True is not in list" on the read)."""
    first, second = _ecg(500, 21), _ecg(500, 22)
    _write(tmp_path, "seg1", [first], ["mV"], "16", names=["II"])
    _write(tmp_path, "seg2", [second], ["mV"], "16", names=["II"])
    (tmp_path / "rec.hea").write_text("rec/3 1 250 1200 12:00:00 01/02/2020\nseg1 500\n~ 200\nseg2 500\n")
    data = open_recording(tmp_path / "rec.hea").read(400, 800)[:, 0]
    np.testing.assert_allclose(data[:100], first[400:], atol=0.003)
    assert np.isnan(data[100:300]).all()
    np.testing.assert_allclose(data[300:], second[:100], atol=0.003)
    for line, field in (("rec/2 1 250 2000\nseg1 500\nseg2 500\n", "sig_len"),
                        ("rec/2 1 250 1100\nseg1 600\nseg2 500\n", "segment[0]")):
        (tmp_path / "rec.hea").write_text(line)
        with pytest.raises(RecordingError) as caught:
            open_recording(tmp_path / "rec.hea")
        assert caught.value.field == field and caught.value.path.name == "rec.hea"
