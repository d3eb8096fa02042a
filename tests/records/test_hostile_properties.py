"""Property: whatever bytes a recording file holds (flipped, truncated, a header field replaced), opening it
and reading it either works or raises one RecordingError/InputError; never another exception, a hang or a
change to the file. Every reader and format, from the shared records where present (copied into a scratch
folder, never into the repository) and from the writers' output otherwise; bounded examples in CI, the
long run is ``bench/fuzz_hostile.py``. Failures found here became the cases of test_hostile_headers.py."""

from __future__ import annotations

import hashlib
import shutil
import struct
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED_DATA
from ecgdesk.errors import InputError
from ecgdesk.records import Lead, Recording, open_recording, open_writer
from ecgdesk.records.hl7aecg import write_hl7_aecg

EXAMPLES = settings(max_examples=30, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
READ_LIMIT = 20_000  # samples read per example: enough to decode every block format, bounded time


def _signal(n: int = 3000, leads: int = 2) -> np.ndarray:
    t = np.arange(n) / 250.0
    return np.column_stack([np.sin(2 * np.pi * (1 + k) * t) ** 15 for k in range(leads)])


def _wfdb(folder: Path) -> Path:
    mit = SHARED_DATA / "mitdb" / "100.hea"
    if mit.exists():  # the real thing: format 212, two signals in one file
        n = 3600
        (folder / "rec.hea").write_text(f"rec 2 360 {n}\nrec.dat 212 200 11 1024 995 -22131 0 MLII\n"
                                        "rec.dat 212 200 11 1024 1011 20052 0 V5\n")
        (folder / "rec.dat").write_bytes((SHARED_DATA / "mitdb" / "100.dat").read_bytes()[: n * 3])
        return folder / "rec.hea"
    with open_writer(folder, "rec", "wfdb", 250, [Lead("I"), Lead("II")]) as writer:
        writer.write(_signal())
    return folder / "rec.hea"


def _edf(folder: Path) -> Path:
    import pyedflib

    path = folder / "rec.edf"
    writer = pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders([{"label": f"ECG {k}", "dimension": "uV", "sample_frequency": 250,
                              "physical_min": -3000.0, "physical_max": 3000.0, "digital_min": -32768,
                              "digital_max": 32767} for k in range(2)])
    data = _signal(2500) * 1000
    writer.writeSamples([np.ascontiguousarray(data[:, 0]), np.ascontiguousarray(data[:, 1])])
    writer.writeAnnotation(1.0, -1, "event")
    writer.close()
    return path


def _ishne(folder: Path) -> Path:
    with open_writer(folder, "rec", "ishne", 250, [Lead("I"), Lead("II")]) as writer:
        writer.write(_signal())
    return folder / "rec.ecg"


def _dicom(folder: Path) -> Path:
    from pydicom.data import get_testdata_file

    path = folder / "rec.dcm"
    shutil.copyfile(get_testdata_file("waveform_ecg.dcm"), path)
    return path


def _csv(folder: Path) -> Path:
    path = folder / "rec.csv"
    data = _signal(600)
    rows = "".join(f"{i / 250:.4f},{a:.4f},{b:.4f}\n" for i, (a, b) in enumerate(data))
    path.write_text("time,I,II\n" + rows)
    return path


def _aecg(folder: Path) -> Path:
    path = folder / "rec.xml"
    write_hl7_aecg(Recording.from_array(_signal(500).astype(np.float32), 250.0, ["I", "II"]), path)
    return path


BUILDERS: dict[str, Callable[[Path], Path]] = {"wfdb": _wfdb, "edf": _edf, "ishne": _ishne, "dicom": _dicom,
                                               "csv": _csv, "aecg": _aecg}


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: build(tmp_path_factory.mktemp(name)) for name, build in BUILDERS.items()}


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _open_and_read(path: Path) -> None:
    """The property: a named error or a recording whose samples read (or fail with a named error)."""
    before = _digest(path.parent)
    try:
        recording = open_recording(path)
        recording.read(0, min(recording.n_samples, READ_LIMIT))
        for chunk in recording.iter_chunks(seconds=4.0):
            if chunk.stop >= READ_LIMIT:
                break
    except InputError:  # RecordingError included: the documented refusal
        pass
    assert _digest(path.parent) == before, "the input was modified"


def _check_mutated(original: Path, edit: Callable[[bytearray], bytes],
                   check: Callable[[Path], None] = _open_and_read) -> None:
    """``check`` on a scratch copy of ``original``'s folder with ``edit`` applied; the copy removed after."""
    path = _mutated(original, edit)
    try:
        check(path)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def _mutated(original: Path, edit: Callable[[bytearray], bytes]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="hostile-"))
    for file in original.parent.iterdir():
        shutil.copyfile(file, folder / file.name)
    target = folder / original.name
    if original.suffix == ".hea" and (folder / "rec.dat").exists() and edit.__name__ == "data":
        target = folder / "rec.dat"
    target.write_bytes(edit(bytearray(target.read_bytes())))
    return folder / original.name


@pytest.mark.parametrize("fmt", list(BUILDERS))
@EXAMPLES
@given(data=st.data())
def test_flipped_bytes(originals: dict[str, Path], fmt: str, data: st.DataObject) -> None:
    original = originals[fmt]
    size = original.stat().st_size
    positions = data.draw(st.lists(st.integers(0, max(0, min(size, 2048) - 1)), min_size=1, max_size=8))
    values = data.draw(st.lists(st.integers(0, 255), min_size=len(positions), max_size=len(positions)))

    def header(raw: bytearray) -> bytes:
        for at, value in zip(positions, values, strict=True):
            if at < len(raw):
                raw[at] = value
        return bytes(raw)

    _check_mutated(original, header)


@pytest.mark.parametrize("fmt", list(BUILDERS))
@EXAMPLES
@given(fraction=st.floats(0.0, 1.0), data_file=st.booleans())
def test_truncated(originals: dict[str, Path], fmt: str, fraction: float, data_file: bool) -> None:
    def cut(raw: bytearray) -> bytes:
        return bytes(raw[: int(len(raw) * fraction)])

    def data(raw: bytearray) -> bytes:
        return cut(raw)

    _check_mutated(originals[fmt], data if data_file else cut)


NUMBERS = st.sampled_from(["0", "-1", "1", "nan", "inf", "-inf", "1e30", "1e-30", "99999999999999999999",
                           "0.001", "abc", "", "-0", "65536", "3.5", "1e308", "١٢٣"])


@EXAMPLES
@given(line=st.integers(0, 2), token=st.integers(0, 8), value=NUMBERS)
def test_wfdb_header_fields(originals: dict[str, Path], line: int, token: int, value: str) -> None:
    def edit(raw: bytearray) -> bytes:
        lines = raw.decode("latin-1").splitlines()
        parts = lines[line].split() if line < len(lines) else []
        if token < len(parts):
            parts[token] = value
            lines[line] = " ".join(parts)
        return ("\n".join(lines) + "\n").encode("utf-8")

    _check_mutated(originals["wfdb"], edit)


# EDF fixed-header fields (offset, width) and per-signal fields (offset into the signal block, width).
EDF_FIELDS = [(168, 8), (176, 8), (184, 8), (236, 8), (244, 8), (252, 4)]
EDF_SIGNAL_FIELDS = [(96, 8), (104, 8), (112, 8), (120, 8), (128, 8), (216, 8)]


@EXAMPLES
@given(per_signal=st.booleans(), which=st.integers(0, 5), signal=st.integers(0, 2), value=NUMBERS)
def test_edf_header_fields(originals: dict[str, Path], per_signal: bool, which: int, signal: int,
                           value: str) -> None:
    def edit(raw: bytearray) -> bytes:
        if per_signal:
            offset, width = EDF_SIGNAL_FIELDS[which]
            ns = 3  # two ECG signals and the annotation signal
            at = 256 + offset * ns + signal * width
        else:
            at, width = EDF_FIELDS[which]
        raw[at: at + width] = value.encode("utf-8").ljust(width)[:width]
        return bytes(raw)

    _check_mutated(originals["edf"], edit)


ISHNE_FIELDS = [(14, "<i"), (22, "<i"), (156, "<h"), (206, "<h"), (208, "<h"), (272, "<h"), (138, "<h"),
                (140, "<h"), (142, "<h")]


@EXAMPLES
@given(which=st.integers(0, len(ISHNE_FIELDS) - 1), value=st.integers(-(2**15), 2**15 - 1),
       fix_crc=st.booleans())
def test_ishne_header_fields(originals: dict[str, Path], which: int, value: int, fix_crc: bool) -> None:
    from ecgdesk.records import _ishne

    def edit(raw: bytearray) -> bytes:
        offset, fmt = ISHNE_FIELDS[which]
        struct.pack_into(fmt, raw, offset, value)
        end = struct.unpack_from("<i", raw, 22)[0]
        if fix_crc and 0 < end <= len(raw):
            struct.pack_into("<H", raw, 8, _ishne.crc16(bytes(raw[10:end])))
        return bytes(raw)

    _check_mutated(originals["ishne"], edit)


DICOM_ATTRIBUTES = ["NumberOfWaveformSamples", "NumberOfWaveformChannels", "WaveformBitsAllocated",
                    "SamplingFrequency", "WaveformSampleInterpretation"]


@EXAMPLES
@given(which=st.sampled_from(DICOM_ATTRIBUTES), group=st.integers(0, 1),
       value=st.one_of(st.integers(-5, 2**31), st.sampled_from(["SS", "XX", "0", "nan", "1e30"])))
def test_dicom_attributes(originals: dict[str, Path], which: str, group: int, value: object) -> None:
    import pydicom

    folder = Path(tempfile.mkdtemp(prefix="hostile-"))
    path = folder / "rec.dcm"
    try:
        ds = pydicom.dcmread(str(originals["dicom"]))
        try:
            with warnings.catch_warnings():  # pydicom warns about a value of the wrong type, then writes it
                warnings.simplefilter("ignore")
                setattr(ds.WaveformSequence[group], which, value)
                ds.save_as(str(path))
        except (ValueError, TypeError, OverflowError, KeyError, OSError, struct.error):  # pydicom will not
            return  # write it: not a case
        _open_and_read(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------ odd values: refused, or read with a warning naming them
def _refused_or_warned(*words: str) -> Callable[[Path], None]:
    """The property for a value known to be odd: a named refusal, or a reading whose warnings hold every
    word (never a reading without a word), the input unchanged either way."""
    def check(path: Path) -> None:
        before = _digest(path.parent)
        try:
            recording = open_recording(path)
        except InputError:
            pass
        else:
            assert any(all(word in text for word in words) for text in recording.warnings), recording.warnings
        assert _digest(path.parent) == before
    return check


CONTROL_TEXT = st.text(alphabet="\x00\x01\x07\x1b\x7fML", min_size=1, max_size=6).filter(
    lambda text: any(not char.isprintable() for char in text))
WFDB_ODD = st.one_of(
    st.tuples(st.just(3), st.integers(33, 10**9).map(str)),                   # ADC resolution in bits
    st.tuples(st.just(3), st.sampled_from(["-1", "x", "1e3", "3.5"])),
    st.tuples(st.just(2), st.sampled_from(["200(0)/", "-200/mV", "0/mV", "200(1e9)/mV"])),  # gain, unit
    st.tuples(st.just(8), CONTROL_TEXT),                                       # description
)


@EXAMPLES
@given(signal=st.integers(0, 1), odd=WFDB_ODD)
def test_wfdb_odd_values_are_refused_or_named(originals: dict[str, Path], signal: int,
                                             odd: tuple[int, str]) -> None:
    token, value = odd

    def edit(raw: bytearray) -> bytes:
        lines = raw.decode("latin-1").splitlines()
        parts = lines[1 + signal].split()
        parts[token:] = [value]  # the description is the rest of the line
        lines[1 + signal] = " ".join(parts)
        return ("\n".join(lines) + "\n").encode("latin-1")

    words = (f"description[{signal}]",) if token == 8 else (f"signal {signal + 1}",)
    _check_mutated(originals["wfdb"], edit, _refused_or_warned(*words))


@EXAMPLES
@given(day=st.integers(-10, 40), month=st.integers(-10, 14), year=st.integers(-10, 2100),
       sex=st.integers(-10, 5))
def test_ishne_dates_and_codes_are_valid_or_named(originals: dict[str, Path], day: int, month: int, year: int,
                                                  sex: int) -> None:
    from datetime import date, timedelta

    from ecgdesk.records import _ishne

    def edit(raw: bytearray) -> bytes:
        struct.pack_into("<h", raw, 128, sex)
        struct.pack_into("<3h", raw, 138, day, month, year)
        struct.pack_into("<3h", raw, 150, 10, 30, 0)  # a start time: a date alone is no start (2026-12-07)
        end = struct.unpack_from("<i", raw, 22)[0]
        struct.pack_into("<H", raw, 8, _ishne.crc16(bytes(raw[10:end])))
        return bytes(raw)

    def check(path: Path) -> None:
        recording = open_recording(path)
        try:
            given_date: date | None = date(year, month, day)
        except ValueError:
            given_date = None
        if given_date is not None and date.today() < given_date <= date.today() + timedelta(days=1):
            pass  # within the day a device clock may run ahead (time zones): kept
        elif given_date is not None and not date(1900, 1, 1) <= given_date <= date.today():
            # no ECG is dated before 1900 or in the future: unknown, said (task 52)
            assert recording.start_time is None, recording.start_time
            assert any("start date and time" in text for text in recording.warnings), recording.warnings
        elif given_date is not None:
            assert recording.start_time is not None and recording.start_time.date() == given_date
        elif (day, month, year) not in ((-9, -9, -9), (0, 0, 0)):
            assert any("record_date" in text for text in recording.warnings), recording.warnings
        if sex not in (0, 1, 2, -9):
            assert any(f"sex code {sex}" in text for text in recording.warnings), recording.warnings

    _check_mutated(originals["ishne"], edit, check)


@EXAMPLES
@given(label=st.binary(min_size=1, max_size=16))
def test_edf_lead_names_are_printable_or_named(originals: dict[str, Path], label: bytes) -> None:
    def edit(raw: bytearray) -> bytes:
        raw[256:272] = label.ljust(16, b" ")[:16]
        return bytes(raw)

    def check(path: Path) -> None:
        try:
            recording = open_recording(path)
        except InputError:
            return
        assert all(" " <= char <= "~" for name in recording.lead_names for char in name), recording.lead_names
        odd = any(not 32 <= byte <= 126 for byte in label)
        if odd and recording.n_leads == 2:  # the first signal read: what was odd in its label is said
            assert any("label[0]" in text for text in recording.warnings), recording.warnings

    _check_mutated(originals["edf"], edit, check)
