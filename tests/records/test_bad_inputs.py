"""Each bad input raises one RecordingError naming the file, the field and the reason, and the input
file is left unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from records_conformance import file_digest, ishne_file, patch_ishne

from conftest import shared_path  # at import: later test folders bring their own conftest modules
from ecgdesk.errors import InputError, RecordingError
from ecgdesk.records import Lead, open_recording
from ecgdesk.records.writers import open_writer


def _expect(path: Path, field: str, reason: str, opener: Callable[[], object] | None = None) -> None:
    """Opening ``path`` fails with ``field`` and ``reason`` in the message; the file is unchanged."""
    before = file_digest(path)
    with pytest.raises(RecordingError) as info:
        (opener or (lambda: open_recording(path)))()
    error = info.value
    assert error.field == field
    assert reason in error.reason
    assert str(path.name) in str(error)
    assert f"field '{field}'" in str(error)
    assert file_digest(path) == before


def _wfdb(tmp_path: Path, n: int = 1000) -> Path:
    with open_writer(tmp_path, "rec", "wfdb", 250, [Lead("I"), Lead("II")]) as writer:
        writer.write(np.zeros((n, 2)))
    return tmp_path / "rec"


def test_wfdb_truncated_signal_file(tmp_path: Path) -> None:
    base = _wfdb(tmp_path)
    dat = base.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:-100])
    _expect(dat, "sig_len", "truncated", lambda: open_recording(base))


def test_wfdb_header_inconsistent_with_file_size(tmp_path: Path) -> None:
    base = _wfdb(tmp_path)
    dat = base.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes() + b"\0" * 40)
    _expect(dat, "sig_len", "inconsistent with the file size", lambda: open_recording(base))


@pytest.mark.parametrize("fs", ["0", "-250"])
def test_wfdb_zero_or_negative_sampling_rate(tmp_path: Path, fs: str) -> None:
    hea = _wfdb(tmp_path).with_suffix(".hea")
    lines = hea.read_text().splitlines()
    parts = lines[0].split()
    parts[2] = fs
    hea.write_text("\n".join([" ".join(parts), *lines[1:]]) + "\n")
    _expect(hea, "fs", "positive")


def test_ishne_truncated(tmp_path: Path) -> None:
    path = ishne_file(tmp_path)
    path.write_bytes(path.read_bytes()[:-10])
    _expect(path, "ecg_size", "truncated")


def test_ishne_header_inconsistent_with_file_size(tmp_path: Path) -> None:
    path = ishne_file(tmp_path)
    patch_ishne(path, 14, "<i", 900)
    _expect(path, "ecg_size", "inconsistent with the file size")


def test_ishne_wrong_magic(tmp_path: Path) -> None:
    path = ishne_file(tmp_path)
    path.write_bytes(b"ISHNE2.0" + path.read_bytes()[8:])
    _expect(path, "magic", "expected 'ISHNE1.0'")


def test_ishne_wrong_crc(tmp_path: Path) -> None:
    path = ishne_file(tmp_path)
    patch_ishne(path, 28, "<B", ord("Z"), fix_crc=False)  # first name changed, CRC left stale
    _expect(path, "crc", "checksum")


@pytest.mark.parametrize("fs", [0, -200])
def test_ishne_zero_or_negative_sampling_rate(tmp_path: Path, fs: int) -> None:
    path = ishne_file(tmp_path)
    patch_ishne(path, 272, "<h", fs)
    _expect(path, "sample_rate", "positive")


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "mystery.bin"
    path.write_bytes(bytes(range(256)) * 4)
    _expect(path, "format", "not a recognised recording format")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.hea"
    path.write_bytes(b"")
    _expect(path, "file", "empty")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such file") as info:
        open_recording(tmp_path / "nothing")
    assert info.value.field == "file"


@pytest.mark.parametrize(("cell", "shown"), [("nan", "'nan'"), ("abc", "'abc'"), ("", "''")])
def test_csv_nan_or_text_cell(tmp_path: Path, cell: str, shown: str) -> None:
    path = tmp_path / "strip.csv"
    path.write_text(f"time,I,II\n0.000,1,2\n0.004,3,{cell}\n0.008,5,6\n")
    _expect(path, "row 3, column 'II'", f"cell {shown} is not a finite number")


@pytest.mark.parametrize("text", ["\ufefftime;I;II\n0,000;0,125;-1,5\n0,004;0,250;-1,25\n0,008;0,5;2\n",
                                  "0,000\t0,125\t-1,5\n0,004\t0,250\t-1,25\n0,008\t0,5\t2\n"])
def test_csv_with_decimal_commas_is_read(tmp_path: Path, text: str) -> None:
    """A spreadsheet's ';' (or tab) export where the comma is the decimal mark was refused ("cell '0,000'
    is not a finite number"), and without a header row its commas, outnumbering the semicolons, were
    taken for the delimiter."""
    path = tmp_path / "strip.csv"
    path.write_text(text, encoding="utf-8")
    recording = open_recording(path, csv_fs=None if "time" in text else 250)
    names = ["I", "II"] if "time" in text else ["ch1", "ch2", "ch3"]
    assert recording.fs == pytest.approx(250) and [lead.name for lead in recording.leads] == names
    np.testing.assert_allclose(recording.read()[:, -2:], [[0.125, -1.5], [0.25, -1.25], [0.5, 2]])
    path.write_text('"time","lead I; filtered"\n0.000,0.5\n0.004,0.25\n')  # a ';' within a name
    assert open_recording(path).read()[:, 0].tolist() == [0.5, 0.25]
    path.write_text("I;II\n1.234,5;2\n")  # thousands and decimal marks both: not guessed
    _expect(path, "row 2, column 'I'", "not a finite number", lambda: open_recording(path, csv_fs=250))


@pytest.mark.parametrize(("text", "names", "values"), [
    ("ECG\n0,125\n-0,5\n1,25\n", ["ECG"], [[0.125], [-0.5], [1.25]]),  # was "not a recognised format"
    ("0,125\n-0,5\n1,25\n", ["ch1"], [[0.125], [-0.5], [1.25]]),  # was two leads, 0 and 125, unsaid
    ("1,5\n1,05\n", ["ch1"], [[1.5], [1.05]]),
    ("512,498\n513,490\n", ["ch1", "ch2"], [[512, 498], [513, 490]]),  # both readings fit: said
])
def test_csv_of_one_column_with_decimal_commas_is_read_as_one(tmp_path: Path, text: str, names: list[str],
                                                               values: list[list[float]]) -> None:
    """"0,125" per line read as two columns (0 and 125) without a word, and with a header naming the lead
    the file was not recognised as CSV at all (the fix the docs gave)."""
    path = tmp_path / "one.csv"
    path.write_text(text)
    recording = open_recording(path, csv_unit="mV", csv_fs=250)
    assert [lead.name for lead in recording.leads] == names
    np.testing.assert_allclose(recording.read(), values, rtol=1e-6)
    assert recording.warnings == (() if len(names) == 1 else (
        "one.csv: every row is two whole numbers on a comma ('512,498'): read as two columns; if it is one "
        "column with decimal commas, give it a header naming the lead or write decimal points",))


def test_ishne_lead_code_ishne_does_not_define_is_named_as_its_warning_says(tmp_path: Path) -> None:
    """Code 99 in a file of another writer (no lead names of ours): the warning said "named ch1" while
    the lead was named "unknown"."""
    from ecgdesk.records import _ishne

    header = _ishne.IshneHeader(n_samples=500, fs=250, resolution_nv=[1000, 1000], lead_codes=[99, 6])
    path = tmp_path / "other.ecg"
    path.write_bytes(_ishne.pack_header(header) + np.zeros((500, 2), "<i2").tobytes())
    recording = open_recording(path)
    assert [lead.name for lead in recording.leads] == ["ch1", "II"]
    assert recording.warnings == ("other.ecg: lead_specification[0] code 99 is not one ISHNE defines (0 to "
                                  "19); the lead is named ch1",)


@pytest.mark.parametrize(
    ("csv_fs", "reason"), [(0.0, "positive"), (-5.0, "positive"), (1e9, "not plausible")]
)
def test_csv_bad_sampling_rate(tmp_path: Path, csv_fs: float, reason: str) -> None:
    path = tmp_path / "strip.csv"
    path.write_text("I,II\n1,2\n3,4\n5,6\n")
    _expect(path, "csv_fs", reason, lambda: open_recording(path, csv_fs=csv_fs))


def test_csv_absurd_rate_from_time_column(tmp_path: Path) -> None:
    path = tmp_path / "strip.csv"
    path.write_text("time,I\n0,1\n0.000000001,2\n0.000000002,3\n")
    _expect(path, "column 'time'", "not plausible")


def test_csv_unknown_unit_is_named(tmp_path: Path) -> None:
    path = tmp_path / "strip.csv"
    path.write_text("time,I\n0,1\n0.004,2\n")
    with pytest.raises(InputError) as info:
        open_recording(path, csv_unit="furlong")
    assert info.value.field == "csv_unit"


def test_dicom_without_waveform(tmp_path: Path) -> None:
    path = tmp_path / "image.dcm"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.9.1.1"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.PatientID = "X"
    dataset.save_as(str(path), enforce_file_format=True)
    _expect(path, "WaveformSequence", "holds no waveform")


def test_edf_truncated(tmp_path: Path) -> None:
    import pyedflib

    path = tmp_path / "short.edf"
    writer = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDF)
    writer.setSignalHeaders([{"label": "ECG", "dimension": "uV", "sample_frequency": 100,
                              "physical_min": -1000.0, "physical_max": 1000.0,
                              "digital_min": -32768, "digital_max": 32767}])
    writer.writeSamples([np.zeros(1000)])
    writer.close()
    path.write_bytes(path.read_bytes()[:-50])
    _expect(path, "number_of_data_records", "truncated")


@pytest.mark.shared_data
def test_edf_annotation_only_file_has_no_ecg_channel() -> None:
    import pyedflib

    path = shared_path("edf", "test_edfann.edf")
    with pyedflib.EdfReader(str(path)) as reader:
        assert reader.signals_in_file == 0  # only the EDF Annotations channel
    _expect(path, "signals", "no ECG channel in volts")
