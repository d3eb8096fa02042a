"""The hostile-input corpus of ``bench/fuzz_hostile.py``: base recordings cut from ../shared/data (copied into
a scratch folder, never into the repository) and the mutations applied to them.

Each :class:`Case` is a folder with the files of one recording, the file to open, the kind of analysis
that fits it (``holter``, ``twelve``, ``strip``) and whether the mutation must be *flagged*: refused, or
read with a warning. Random byte flips and truncations are not all garbage (a flipped sample is still a
signal), so they are not required to be flagged; every named header-field mutation is.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: the source records of the bases: ``dev`` while the guards were written, ``held-out`` never looked at then
SOURCES: dict[str, dict[str, str]] = {
    "dev": {"mitdb": "100", "ludb": "1", "cinc": "A00003"},
    "held-out": {"mitdb": "119", "ludb": "57", "cinc": "A00011"},
}
SOURCE = dict(SOURCES["dev"])


@dataclass
class Case:
    name: str
    base: str
    mutation: str
    folder: Path
    main: str
    kind: str
    must_flag: bool
    special: bool = False  # a FIFO, device or folder: its digest is not taken
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder / self.main


# ---------------------------------------------------------------------------------------------- bases
def _mitdb_minute(folder: Path, seconds: int = 60) -> str:
    import wfdb

    n, name = 360 * seconds, SOURCE["mitdb"]
    lines = [line for line in (DATA / "mitdb" / f"{name}.hea").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    lines[0] = f"rec 2 360 {n}"
    renamed = [line.replace(f"{name}.dat", "rec.dat") for line in lines]
    (folder / "rec.hea").write_text("\n".join(renamed) + "\n")
    (folder / "rec.dat").write_bytes((DATA / "mitdb" / f"{name}.dat").read_bytes()[: n * 3])
    wfdb.wrann("rec", "evt", np.array([3600, 10800]), symbol=['"', '"'], aux_note=["chest pain", "dizzy"],
               fs=360, write_dir=str(folder))
    return "rec.hea"


def _ludb(folder: Path) -> str:
    name = SOURCE["ludb"]
    text = (DATA / "ludb" / f"{name}.hea").read_text().replace(f"{name}.dat", "rec.dat")
    lines = text.splitlines()
    lines[0] = "rec" + lines[0][len(name):]
    (folder / "rec.hea").write_text("\n".join(lines) + "\n")
    shutil.copyfile(DATA / "ludb" / f"{name}.dat", folder / "rec.dat")
    return "rec.hea"


def _cinc(folder: Path) -> str:
    name = SOURCE["cinc"]
    text = (DATA / "cinc2017" / f"{name}.hea").read_text().replace(name, "rec")
    (folder / "rec.hea").write_text(text)
    shutil.copyfile(DATA / "cinc2017" / f"{name}.mat", folder / "rec.mat")
    return "rec.hea"


def _mit_signal(seconds: int = 60) -> np.ndarray:
    import wfdb

    record = wfdb.rdrecord(str(DATA / "mitdb" / SOURCE["mitdb"]), sampto=360 * seconds)
    return np.asarray(record.p_signal, dtype=np.float64)


def _edfplus(folder: Path) -> str:
    import pyedflib

    signal = _mit_signal() * 1000.0  # uV
    path = folder / "rec.edf"
    writer = pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders([{"label": name, "dimension": "uV", "sample_frequency": 360,
                              "physical_min": -5000.0, "physical_max": 5000.0,
                              "digital_min": -32768, "digital_max": 32767}
                             for name in ("ECG MLII", "ECG V5")])
    writer.writeSamples([signal[:, 0], signal[:, 1]])
    writer.writeAnnotation(10.0, -1, "button pressed")
    writer.writeAnnotation(30.0, 2.0, "dizzy")
    writer.close()
    return "rec.edf"


def _edf_generator(folder: Path) -> str:
    shutil.copyfile(DATA / "edf" / "test_generator_2.edf", folder / "rec.edf")
    return "rec.edf"


def _edf_plain(folder: Path) -> str:
    """Plain EDF (not EDF+) of the held-out 12-lead record: 10 one-second data records."""
    import pyedflib

    signal, names = _ludb_signal()
    path = folder / "rec.edf"
    writer = pyedflib.EdfWriter(str(path), len(names), file_type=pyedflib.FILETYPE_EDF)
    writer.setSignalHeaders([{"label": f"ECG {name.upper()}", "dimension": "mV", "sample_frequency": 500,
                              "physical_min": -10.0, "physical_max": 10.0,
                              "digital_min": -32768, "digital_max": 32767} for name in names])
    writer.writeSamples([signal[:, i].copy() for i in range(len(names))])
    writer.close()
    return "rec.edf"


def _ishne(folder: Path) -> str:
    from ecgdesk.records import Lead, open_writer

    with open_writer(folder, "rec", "ishne", 360, [Lead("MLII"), Lead("V5")]) as writer:
        writer.write(_mit_signal())
    return "rec.ecg"


def _dicom(folder: Path) -> str:
    from pydicom.data import get_testdata_file

    shutil.copyfile(get_testdata_file("waveform_ecg.dcm"), folder / "rec.dcm")
    return "rec.dcm"


def _ludb_signal() -> tuple[np.ndarray, list[str]]:
    import wfdb

    record = wfdb.rdrecord(str(DATA / "ludb" / SOURCE["ludb"]))
    return np.asarray(record.p_signal, dtype=np.float64), list(record.sig_name)


def _csv(folder: Path) -> str:
    signal, _names = _ludb_signal()
    rows = [f"{i / 500:.4f},{signal[i, 0]:.4f},{signal[i, 1]:.4f}" for i in range(2500)]
    (folder / "rec.csv").write_text("time,I,II\n" + "\n".join(rows) + "\n")
    return "rec.csv"


def _aecg(folder: Path) -> str:
    from ecgdesk.records import Recording
    from ecgdesk.records.hl7aecg import write_hl7_aecg

    signal, names = _ludb_signal()
    write_hl7_aecg(Recording.from_array(signal.astype(np.float32), 500.0, names), folder / "rec.xml")
    return "rec.xml"


#: name -> (builder, kind)
BASES: dict[str, tuple[Callable[[Path], str], str]] = {
    "wfdb212": (_mitdb_minute, "holter"), "wfdb16-12lead": (_ludb, "twelve"), "wfdb-mat": (_cinc, "strip"),
    "edf+": (_edfplus, "holter"), "edf": (_edf_generator, "holter"), "ishne": (_ishne, "holter"),
    "dicom": (_dicom, "twelve"), "csv": (_csv, "twelve"), "aecg": (_aecg, "twelve"),
}


# ------------------------------------------------------------------------------------------ mutations
Mutation = Callable[[Path, str, random.Random], None]


def _sub_line(path: Path, line: int, token: int, value: str) -> None:
    """Token ``token`` of the ``line``-th record or signal line (comments and blank lines not counted)."""
    lines = path.read_text(encoding="latin-1").splitlines()
    where = [i for i, text in enumerate(lines) if text.strip() and not text.startswith("#")][line]
    parts = lines[where].split()
    parts[token] = value
    lines[where] = " ".join(parts)
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")


def _wfdb_field(line: int, token: int, value: str) -> Mutation:
    return lambda folder, main, _rng: _sub_line(folder / main, line, token, value)


def _edf_field(offset: int, width: int, value: str, per_signal: bool = False) -> Mutation:
    def apply(folder: Path, main: str, _rng: random.Random) -> None:
        path = folder / main
        raw = bytearray(path.read_bytes())
        at = offset
        if per_signal:
            ns = int(raw[252:256])
            at = 256 + offset * ns
        raw[at: at + width] = value.ljust(width)[:width].encode("latin-1")
        path.write_bytes(bytes(raw))
    return apply


def _edf_phys_equal(folder: Path, main: str, _rng: random.Random) -> None:
    """Signal 0's physical maximum set to its physical minimum (a zero range), whatever the base's values."""
    path = folder / main
    raw = bytearray(path.read_bytes())
    ns = int(raw[252:256])
    low = 256 + 104 * ns
    raw[low + 8 * ns: low + 8 * ns + 8] = raw[low: low + 8]
    path.write_bytes(bytes(raw))


def _ishne_field(offset: int, fmt: str, value: int, fix_crc: bool = True) -> Mutation:
    def apply(folder: Path, main: str, _rng: random.Random) -> None:
        from ecgdesk.records import _ishne

        path = folder / main
        raw = bytearray(path.read_bytes())
        struct.pack_into(fmt, raw, offset, value)
        if fix_crc:
            end = struct.unpack_from("<i", raw, 22)[0]
            struct.pack_into("<H", raw, 8, _ishne.crc16(bytes(raw[10:end])))
        path.write_bytes(bytes(raw))
    return apply


def _dicom_attr(attribute: str, value: object, channel: int | None = None, group: int = 0) -> Mutation:
    def apply(folder: Path, main: str, _rng: random.Random) -> None:
        import pydicom

        ds = pydicom.dcmread(str(folder / main))
        target = ds.WaveformSequence[group]
        if channel is not None:
            target = target.ChannelDefinitionSequence[channel]
        setattr(target, attribute, value)
        ds.save_as(str(folder / main))
    return apply


def _text_replace(old: str, new: str, count: int = 1) -> Mutation:
    def apply(folder: Path, main: str, _rng: random.Random) -> None:
        path = folder / main
        path.write_bytes(path.read_bytes().replace(old.encode(), new.encode(), count))
    return apply


def _corrupt_side(name: str) -> Mutation:
    def apply(folder: Path, _main: str, rng: random.Random) -> None:
        (folder / name).write_bytes(bytes(rng.randrange(256) for _ in range(301)))
    return apply


def _edf_annotation_bytes(folder: Path, main: str, _rng: random.Random) -> None:
    path = folder / main
    raw = bytearray(path.read_bytes())
    at = raw.find(b"button pressed")
    raw[at - 6: at + 6] = b"\xff\x14\x15\x00\xfe\x14\xff\xfe\x00\x14\x14\x00"
    path.write_bytes(bytes(raw))


def _all_310(folder: Path, main: str, _rng: random.Random) -> None:
    _sub_line(folder / main, 1, 1, "310")
    _sub_line(folder / main, 2, 1, "310")


_ANNOT_BOMB = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">'
                                               for i in range(1, 10))
SPECIFIC: dict[str, dict[str, Mutation]] = {
    "wfdb212": {
        "fs=0.001": _wfdb_field(0, 2, "0.001"), "fs=1e9": _wfdb_field(0, 2, "1000000000"),
        "fs=-360": _wfdb_field(0, 2, "-360"), "fs=abc": _wfdb_field(0, 2, "abc"),
        "gain=0": _wfdb_field(1, 2, "0"), "gain=nan": _wfdb_field(1, 2, "nan"),
        "gain=inf": _wfdb_field(2, 2, "inf"), "gain=1e30": _wfdb_field(1, 2, "1e30"),
        "gain=1e-30": _wfdb_field(1, 2, "1e-30"), "fmt=17": _wfdb_field(1, 1, "17"),
        "fmt-mixed-16": _wfdb_field(2, 1, "16"), "fmt-all-310": _all_310,
        "sig_len=1e12": _wfdb_field(0, 3, "1000000000000"), "sig_len-half": _wfdb_field(0, 3, "10800"),
        "baseline=1e9": _wfdb_field(1, 4, "1000000000"), "file=missing": _wfdb_field(1, 0, "nothing.dat"),
        "file=../path": _wfdb_field(1, 0, "../rec.dat"), "nsig=5": _wfdb_field(0, 1, "5"),
        "nsig=0": _wfdb_field(0, 1, "0"), "evt-corrupt": _corrupt_side("rec.evt"),
        "date=31/02": lambda f, m, r: (f / m).write_text(
            (f / m).read_text().replace(" 21600", " 21600 10:00:00 31/02/2020", 1)),
    },
    "wfdb16-12lead": {
        "fmt-one-8": _wfdb_field(3, 1, "8"), "fmt-one-310": _wfdb_field(5, 1, "310"),
        "gain=nan-one": _wfdb_field(7, 2, "nan/mV"), "gain=0": _wfdb_field(2, 2, "0/mV"),
        "fs=0.001": _wfdb_field(0, 2, "0.001"), "units=mmHg": _wfdb_field(4, 2, "1000(0)/mmHg"),
        "lines-missing": lambda f, m, r: (f / m).write_text("\n".join(
            (f / m).read_text().splitlines()[:3]) + "\n"),
    },
    "wfdb-mat": {
        "fs=0.001": _wfdb_field(0, 2, "0.001"), "gain=1e30": _wfdb_field(1, 2, "1e30/mV"),
        "offset=1e9": _wfdb_field(1, 1, "16+1000000000"), "spf=1e6": _wfdb_field(1, 1, "16x1000000+24"),
    },
    "edf+": {
        "records=1": _edf_field(236, 8, "1"), "records=-1": _edf_field(236, 8, "-1"),
        "records=nan": _edf_field(236, 8, "nan"), "duration=0": _edf_field(244, 8, "0"),
        "duration=1e-9": _edf_field(244, 8, "1e-9"), "physmax=physmin": _edf_phys_equal,
        "physmin=nan": _edf_field(104, 8, "nan", True), "physmax=1e300": _edf_field(112, 8, "1e300", True),
        "digmax=digmin": _edf_field(128, 8, "-32768", True),
        "digmax=99999": _edf_field(128, 8, "99999", True),
        "spr=0": _edf_field(216, 8, "0", True), "date=31.02": _edf_field(168, 8, "31.02.21"),
        "nsignals=9": _edf_field(252, 4, "9"), "annotations-bytes": _edf_annotation_bytes,
    },
    "edf": {"records=1": _edf_field(236, 8, "1"), "physmax=physmin": _edf_phys_equal,
            "duration=0": _edf_field(244, 8, "0")},
    "ishne": {
        "fs=0": _ishne_field(272, "<h", 0), "fs=-1": _ishne_field(272, "<h", -1),
        "resolution=0": _ishne_field(206, "<h", 0), "resolution=1": _ishne_field(206, "<h", 1),
        "nleads=0": _ishne_field(156, "<h", 0), "nleads=13": _ishne_field(156, "<h", 13),
        "ecg_size=1e9": _ishne_field(14, "<i", 10**9), "ecg_offset=big": _ishne_field(22, "<i", 10**8),
        "date=31/02": lambda f, m, r: _ishne_field(138, "<h", 31)(f, m, r) or _ishne_field(
            140, "<h", 2)(f, m, r), "crc-stale": _ishne_field(28, "<B", 90, fix_crc=False),
    },
    "dicom": {
        "samples+2000": _dicom_attr("NumberOfWaveformSamples", 12000),
        "channels=11": _dicom_attr("NumberOfWaveformChannels", 11),
        "rhythm-channels=2": _dicom_attr("NumberOfWaveformChannels", 2),
        "bits=12": _dicom_attr("WaveformBitsAllocated", 12),
        "interpretation=XX": _dicom_attr("WaveformSampleInterpretation", "XX"),
        "fs=0.001": _dicom_attr("SamplingFrequency", "0.001"),
        "sensitivity=0": _dicom_attr("ChannelSensitivity", "0", channel=2),
        "sensitivity=1e30": _dicom_attr("ChannelSensitivity", "1e30", channel=2),
    },
    "csv": {
        "time-in-ms": lambda f, m, r: (f / m).write_text("time,I,II\n" + "".join(
            f"{2 * i},{np.sin(i / 40):.4f},{np.cos(i / 40):.4f}\n" for i in range(2500))),
        "huge-field": lambda f, m, r: (f / m).write_text("time,I\n0,1\n0.002,\"" + "9" * 300_000 + "\"\n"),
        "nan-cell": _text_replace("\n0.0100,", "\n0.0100,nan"),
        "not-utf8": lambda f, m, r: (f / m).write_bytes(b"time,I\n0,\xff\xfe\n0.002,1\n"),
        "one-row": lambda f, m, r: (f / m).write_text("time,I\n0,1\n"),
    },
    "aecg": {
        "xml-bomb": lambda f, m, r: (f / m).write_text(
            f'<?xml version="1.0"?><!DOCTYPE AnnotatedECG [{_ANNOT_BOMB}]>'
            '<AnnotatedECG xmlns="urn:hl7-org:v3"><id>&a9;</id></AnnotatedECG>'),
        "external-entity": lambda f, m, r: (f / m).write_text(
            '<?xml version="1.0"?><!DOCTYPE AnnotatedECG [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            '<AnnotatedECG xmlns="urn:hl7-org:v3"><id>&x;</id></AnnotatedECG>'),
        "increment=0": _text_replace('<increment value="0.002" unit="s"', '<increment value="0" unit="s"'),
        "increment=1e3": _text_replace('<increment value="0.002" unit="s"',
                                       '<increment value="1000" unit="s"'),
        "scale=0": _text_replace('<scale value="1.0" unit="uV"', '<scale value="0" unit="uV"'),
    },
}


def _wfdb_many_signals(folder: Path, main: str, _rng: random.Random) -> None:
    """A 9 MB header: the record line announces 200,000 signals and lists them all."""
    lines = (folder / main).read_text().splitlines()
    first = lines[0].split()
    first[1] = "200000"
    signal = lines[1]
    (folder / main).write_text(" ".join(first) + "\n" + "\n".join([signal] * 200_000) + "\n")


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _big_random(folder: Path, main: str, rng: random.Random) -> None:
    (folder / main).write_bytes(rng.randbytes(9 << 20))


def _csv_rows(rows: list[str]) -> Mutation:
    return lambda f, m, r: (f / m).write_text("time,I,II\n" + "\n".join(rows) + "\n")


_PARAM_BOMB = ('<!ENTITY % p0 "<!ENTITY b0 \'x\'>">%p0;' + "".join(
    f'<!ENTITY b{i} "{("&b" + str(i - 1) + ";") * 16}">' for i in range(1, 8)))
#: held-out mutations: other fields and other absurd values than those the guards were written against
HELD_OUT_SPECIFIC: dict[str, dict[str, Mutation]] = {
    "wfdb212": {
        "fs=1e-7": _wfdb_field(0, 2, "0.0000001"), "fs=0": _wfdb_field(0, 2, "0"),
        "fs=5e5": _wfdb_field(0, 2, "500000"), "gain=-200": _wfdb_field(1, 2, "-200"),
        "gain=1e-300": _wfdb_field(2, 2, "1e-300"), "fmt=999": _wfdb_field(2, 1, "999"),
        "fmt=212x1e9": _wfdb_field(1, 1, "212x1000000000"), "nsig=1e6": _wfdb_field(0, 1, "1000000"),
        "sig_len=-5": _wfdb_field(0, 3, "-5"), "sig_len=0": _wfdb_field(0, 3, "0"),
        "adcres=99": _wfdb_field(1, 3, "99"), "baseline=-1e12": _wfdb_field(2, 4, "-1000000000000"),
        "file=/dev/zero": _wfdb_field(1, 0, "/dev/zero"), "file=rec.hea": _wfdb_field(1, 0, "rec.hea"),
        "many-signals-9MB": _wfdb_many_signals, "time=25:61:61": lambda f, m, r: (f / m).write_text(
            (f / m).read_text().replace(" 21600", " 21600 25:61:61 01/01/2020", 1)),
        "evt-truncated": lambda f, m, r: (f / "rec.evt").write_bytes((f / "rec.evt").read_bytes()[:7]),
        "evt-fifo": lambda f, m, r: _fifo(f / "rec.evt"),
    },
    "wfdb16-12lead": {
        "fmt-one-80": _wfdb_field(4, 1, "80"), "gain=inf-one": _wfdb_field(9, 2, "inf/mV"),
        "gain=-0": _wfdb_field(6, 2, "-0/mV"), "nsig=11": _wfdb_field(0, 1, "11"),
        "fs=1e5+1": _wfdb_field(0, 2, "100001"), "units=none": _wfdb_field(3, 2, "1000(0)/"),
        "sig_len=5001": _wfdb_field(0, 3, "5001"),
    },
    "wfdb-mat": {
        "fs=1": _wfdb_field(0, 2, "1"), "gain=0/mV": _wfdb_field(1, 2, "0/mV"),
        "fmt=16+-24": _wfdb_field(1, 1, "16+-24"), "mat-random": lambda f, m, r: (f / "rec.mat").write_bytes(
            r.randbytes(18024)),
    },
    "edf+": {
        "records=999999999": _edf_field(236, 8, "99999999"), "spr=1e9": _edf_field(216, 8, "99999999", True),
        "nsignals=0": _edf_field(252, 4, "0"), "physmin=inf": _edf_field(104, 8, "inf", True),
        "digmin=digmax+1": _edf_field(120, 8, "32767", True), "header-bytes=1": _edf_field(184, 8, "1"),
        "version=XX": _edf_field(0, 8, "XX"), "time=99.99.99": _edf_field(176, 8, "99.99.99"),
        "label-utf8-junk": _edf_field(256, 16, "\xff\xfe\x00ECG", False),
    },
    "edf": {"records=2": _edf_field(236, 8, "2"), "duration=-1": _edf_field(244, 8, "-1"),
            "spr=1": _edf_field(216, 8, "1", True), "digmax=digmin": _edf_field(128, 8, "-32768", True),
            "big-random-9MB": _big_random},
    "ishne": {
        "nleads=-1": _ishne_field(156, "<h", -1), "fs=32767": _ishne_field(272, "<h", 32767),
        "resolution=-5": _ishne_field(206, "<h", -5), "var_length=1e9": _ishne_field(10, "<i", 10**9),
        "ecg_offset=-1": _ishne_field(22, "<i", -1), "date=0/13": lambda f, m, r: _ishne_field(
            140, "<h", 13)(f, m, r), "magic-wrong": lambda f, m, r: (f / m).write_bytes(
            b"XXXXXXXX" + (f / m).read_bytes()[8:]),
    },
    "dicom": {
        "samples=0": _dicom_attr("NumberOfWaveformSamples", 0),
        "channels=0": _dicom_attr("NumberOfWaveformChannels", 0),
        "bits=64": _dicom_attr("WaveformBitsAllocated", 64),
        "fs=1e9": _dicom_attr("SamplingFrequency", "1000000000"),
        "fs=-500": _dicom_attr("SamplingFrequency", "-500"),
        "sensitivity=-1e-30": _dicom_attr("ChannelSensitivity", "-1e-30", channel=0),
        "baseline=1e300": _dicom_attr("ChannelBaseline", "1e300", channel=1),
        "data-empty": _dicom_attr("WaveformData", b""),
    },
    "csv": {
        "time-decreasing": _csv_rows([f"{(2500 - i) / 500:.4f},{np.sin(i / 40):.4f},0" for i in range(2500)]),
        "time-repeated": _csv_rows([f"{(i // 2) / 500:.4f},{np.sin(i / 40):.4f},0" for i in range(2500)]),
        "value=1e308": _csv_rows([f"{i / 500:.4f},{1e308 if i % 7 else 0},0" for i in range(2500)]),
        "header-only": lambda f, m, r: (f / m).write_text("time,I,II\n"),
        "fs=1e6": _csv_rows([f"{i / 1e6:.7f},{np.sin(i / 40):.4f},0" for i in range(2500)]),
        "columns-ragged": _csv_rows([f"{i / 500:.4f}" + (",1" * (i % 5)) for i in range(2500)]),
        "nul-bytes": lambda f, m, r: (f / m).write_bytes(b"time,I\n0,1\x00\x00\n0.002,1\n"),
    },
    "aecg": {
        "parameter-entity-bomb": lambda f, m, r: (f / m).write_text(
            f'<?xml version="1.0"?><!DOCTYPE AnnotatedECG [{_PARAM_BOMB}]>'
            '<AnnotatedECG xmlns="urn:hl7-org:v3"><id>&b7;</id></AnnotatedECG>'),
        "external-dtd": lambda f, m, r: (f / m).write_text(
            '<?xml version="1.0"?><!DOCTYPE AnnotatedECG SYSTEM "http://127.0.0.1:9/x.dtd">'
            '<AnnotatedECG xmlns="urn:hl7-org:v3"/>'),
        "deep-nesting": lambda f, m, r: (f / m).write_text(
            '<AnnotatedECG xmlns="urn:hl7-org:v3">' + "<a>" * 200_000 + "</a>" * 200_000 + "</AnnotatedECG>"),
        "increment=-0.002": _text_replace('<increment value="0.002" unit="s"',
                                          '<increment value="-0.002" unit="s"'),
        "digits-garbage": _text_replace("<digits>", "<digits>x1e999 ", 3),
        "utf16": lambda f, m, r: (f / m).write_bytes((f / m).read_text().encode("utf-16")),
    },
}


def _truncate(fraction: float) -> Mutation:
    def apply(folder: Path, main: str, _rng: random.Random) -> None:
        target = _data_file(folder, main)
        raw = target.read_bytes()
        target.write_bytes(raw[: int(len(raw) * fraction)])
    return apply


def _data_file(folder: Path, main: str) -> Path:
    data = [p for p in folder.iterdir() if p.suffix in (".dat", ".mat")]
    return data[0] if data else folder / main


def _flip(region: str, count: int) -> Mutation:
    def apply(folder: Path, main: str, rng: random.Random) -> None:
        target = folder / main if region == "header" else _data_file(folder, main)
        raw = bytearray(target.read_bytes())
        span = min(len(raw), 600) if region == "header" else len(raw)
        start = 0 if region == "header" or target != folder / main else min(len(raw) - 1, 600)
        for _ in range(count):
            at = rng.randrange(start, max(start + 1, span))
            raw[at] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(raw))
    return apply


def _append(folder: Path, main: str, rng: random.Random) -> None:
    target = _data_file(folder, main)
    with open(target, "ab") as handle:
        handle.write(bytes(rng.randrange(256) for _ in range(4001)))


def build(work: Path, seed: int, random_per_base: int, held_out: bool = False) -> list[Case]:
    """Build (or reuse) the corpus under ``work``; returns every case. ``held_out``: bases from records,
    and header mutations, that were not used while the guards were written."""
    rng = random.Random(seed)
    SOURCE.update(SOURCES["held-out" if held_out else "dev"])
    bases_used = dict(BASES)
    if held_out:
        bases_used["edf"] = (_edf_plain, "twelve")
    bases = work / "bases"
    cases: list[Case] = []
    manifest = work / "cases.json"
    if manifest.exists():
        return [Case(**{**c, "folder": Path(c["folder"])}) for c in json.loads(manifest.read_text())]
    for name, (builder, kind) in bases_used.items():
        folder = bases / name
        folder.mkdir(parents=True, exist_ok=True)
        main = builder(folder)
        mutations: list[tuple[str, Mutation, bool]] = [("valid", lambda f, m, r: None, False)]
        if name not in ("csv", "aecg"):
            mutations += [("truncated-half", _truncate(0.5), True), ("garbage-appended", _append, True)]
        mutations += [("truncated-header", lambda f, m, r: (f / m).write_bytes((f / m).read_bytes()[:40]),
                       True),
                      ("empty", lambda f, m, r: (f / m).write_bytes(b""), True),
                      ("random-bytes", lambda f, m, r: (f / m).write_bytes(os.urandom(3000)), True)]
        specific = (HELD_OUT_SPECIFIC if held_out else SPECIFIC).get(name, {})
        mutations += [(label, mutation, True) for label, mutation in specific.items()]
        for i in range(random_per_base):
            mutations.append((f"flip-header-{i}", _flip("header", 1 + i), False))
            mutations.append((f"flip-data-{i}", _flip("data", 5 * (i + 1)), False))
            mutations.append((f"truncate-{i}", _truncate(rng.random()), False))
        for label, mutation, must_flag in mutations:
            case_dir = work / "cases" / f"{name}--{label}"
            shutil.rmtree(case_dir, ignore_errors=True)
            shutil.copytree(folder, case_dir)
            mutation(case_dir, main, random.Random(f"{seed}-{name}-{label}"))
            cases.append(Case(f"{name}--{label}", name, label, case_dir, main, kind, must_flag))
    cases += _specials(work, bases)
    manifest.write_text(json.dumps([{**c.__dict__, "folder": str(c.folder)} for c in cases], indent=1))
    return cases


def _specials(work: Path, bases: Path) -> list[Case]:
    """Named pipes, a device, a folder, a non-UTF-8 name, and inputs named like the outputs."""
    out: list[Case] = []
    special = work / "cases" / "special"
    special.mkdir(parents=True, exist_ok=True)
    if hasattr(os, "mkfifo"):
        os.mkfifo(special / "pipe.edf")
        out.append(Case("special--fifo", "special", "fifo", special, "pipe.edf", "holter", True, True))
        pipe_record = work / "cases" / "special-fifo-dat"
        pipe_record.mkdir()
        shutil.copyfile(bases / "wfdb212" / "rec.hea", pipe_record / "rec.hea")
        os.mkfifo(pipe_record / "rec.dat")
        out.append(Case("special--fifo-dat", "special", "fifo-dat", pipe_record, "rec.hea", "holter", True,
                        True))
    (special / "zero.edf").symlink_to("/dev/zero")
    out.append(Case("special--dev-zero", "special", "dev-zero", special, "zero.edf", "holter", True, True))
    (special / "folder.hea").mkdir()
    out.append(Case("special--folder", "special", "folder", special, "folder.hea", "holter", True, True))
    odd = work / "cases" / "special-name"
    odd.mkdir()
    name = os.fsdecode(b"rec-\xff\xfe.edf")
    shutil.copyfile(bases / "edf+" / "rec.edf", odd / name)
    out.append(Case("special--non-utf8-name", "special", "non-utf8-name", odd, name, "holter", False))
    for main, kind in (("beats.csv", "holter"), ("waves.csv", "twelve")):
        clash = work / "cases" / f"special-out-{main}"
        clash.mkdir()
        shutil.copyfile(bases / "csv" / "rec.csv", clash / main)
        out.append(Case(f"special--output-named-{main}", "special", f"named-{main}", clash, main, kind, False,
                        extra={"out": "same"}))
    return out
