"""The EDF / EDF+ / BDF header, parsed and checked by us before ``pyedflib`` (or our own reader) opens it.

Layout (Kemp et al. 1992; EDF+ 2003): a 256-byte fixed part (version, patient, recording, start date
``dd.mm.yy`` and time ``hh.mm.ss``, header size, reserved (``EDF+C``/``EDF+D``), number of data records,
record duration in s, number of signals), then per signal in blocks: label 16, transducer 80, physical
dimension 8, physical minimum 8, maximum 8, digital minimum 8, maximum 8, prefiltering 80, samples per
record 8, reserved 32. Samples are int16 (BDF: 24-bit) records of every signal in turn.

What is checked, each a :class:`RecordingError` naming the field and the value: numbers are numbers and
finite, the record duration and sample counts are not negative, the file size matches the number of data
records (a header claiming 1 of 600 records would hide 599). The scaling of a channel (physical and
digital range non-zero, plausible for an ECG) is checked by :func:`check_channel` for the channels read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from ecgdesk.errors import RecordingError
from ecgdesk.records._checks import check_regular_file, check_scale
from ecgdesk.records.recording import unit_to_mv_factor

#: The label of an EDF+ (BDF+) annotation channel: text, not samples.
ANNOTATION_LABELS = frozenset({"EDF Annotations", "BDF Annotations"})
MAX_SIGNALS = 4096
_DIGITAL_LIMITS = {2: (-32768, 32767), 3: (-8388608, 8388607)}


@dataclass(frozen=True)
class Channel:
    """One signal of the header (numbers as written; ``fs`` from samples per record / duration)."""

    index: int
    label: str
    unit: str
    fs: float
    n_samples: int
    phys_min: float
    phys_max: float
    dig_min: int
    dig_max: int

    @property
    def scale(self) -> float:
        return (self.phys_max - self.phys_min) / (self.dig_max - self.dig_min)


@dataclass(frozen=True)
class EdfHeader:
    """The checked header: sizes, channels, start time and what had to be guessed."""

    path: Path
    fixed: bytes
    header_bytes: int
    bytes_per_sample: int
    n_records: int
    record_seconds: float
    samples_per_record: tuple[int, ...]
    channels: tuple[Channel, ...]
    start_time: datetime | None
    warnings: tuple[str, ...]

    @property
    def record_width(self) -> int:
        return sum(self.samples_per_record)


def _number(path: Path, field: str, raw: str, integer: bool = False) -> float:
    text = raw.strip()
    try:
        value = float(int(text)) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise RecordingError(path, field, f"{text!r} is not {kind}") from None
    if not math.isfinite(value):
        raise RecordingError(path, field, f"{text!r} is not a finite number")
    return value


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_UNKNOWN = "the recording start is read as unknown"


def _two_digits(text: str, count: int) -> list[int] | None:
    parts = text.split(".")
    if len(parts) != count or not all(len(p) == 2 and p.isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def _plus_date(path: Path, fixed: bytes, warnings: list[str]) -> date | bool | None:
    """The EDF+ recording field's ``Startdate dd-MMM-yyyy`` (the date with its century); None where it
    gives none (``X``, or plain EDF), False where it is no date (said)."""
    if fixed[192:196] not in (b"EDF+", b"BDF+"):
        return None
    words = fixed[88:168].decode("latin-1").split()
    if len(words) < 2 or words[0] != "Startdate" or words[1] == "X":
        return None
    day, _, rest = words[1].partition("-")
    month, _, year = rest.partition("-")
    try:
        return date(int(year), _MONTHS.index(month.upper()) + 1, int(day))
    except ValueError:
        warnings.append(f"{path.name}: field 'recording': its EDF+ Startdate {words[1]!r} is not a date "
                        f"(dd-MMM-yyyy); {_UNKNOWN}")
        return False


def _start(path: Path, fixed: bytes, warnings: list[str]) -> datetime | None:
    """The start from ``startdate`` (``dd.mm.yy``: 85-99 are 1985-1999, 00-84 2000-2084) and ``starttime``
    (``hh.mm.ss``), and for EDF+ the recording field's ``Startdate``, which gives the century (``yy`` in
    ``startdate`` after 2084). A value that is no date or time, or the two dates disagreeing, leaves the
    start unknown with a warning naming the file, the field and the value."""
    day_text, time_text = fixed[168:176].decode("latin-1"), fixed[176:184].decode("latin-1")
    plus = _plus_date(path, fixed, warnings)
    clock = _two_digits(time_text, 3)
    if clock is None or clock[0] > 23 or clock[1] > 59 or clock[2] > 59:
        warnings.append(f"{path.name}: field 'starttime': {time_text!r} is not a time of day (hh.mm.ss); "
                        f"{_UNKNOWN}")
        return None
    if plus is False:
        return None
    if isinstance(plus, date) and day_text.endswith(".yy"):  # EDF+ after 2084: only the recording field says
        day_text = f"{day_text[:6]}{plus.year % 100:02d}"
    numbers = _two_digits(day_text, 3)
    try:
        if numbers is None:
            raise ValueError(day_text)
        dd, mm, yy = numbers
        header_day = date(yy + (1900 if yy >= 85 else 2000), mm, dd)
    except ValueError:
        warnings.append(f"{path.name}: field 'startdate': {day_text!r} is not a date (dd.mm.yy); {_UNKNOWN}")
        return None
    if isinstance(plus, date):
        written = (header_day.day, header_day.month, header_day.year % 100)
        if (plus.day, plus.month, plus.year % 100) != written:
            warnings.append(f"{path.name}: field 'recording': its EDF+ Startdate "
                            f"{plus.day:02d}-{_MONTHS[plus.month - 1]}-{plus.year} is not the "
                            f"startdate {day_text}; {_UNKNOWN}")
            return None
        header_day = plus
    return datetime.combine(header_day, time(clock[0], clock[1], clock[2]))


def read_edf_header(path: Path) -> EdfHeader:
    """Parse and check the header of the EDF/BDF file at ``path`` (see the module docstring)."""
    size = check_regular_file(path)
    with open(path, "rb") as file:
        fixed = file.read(256)
        if len(fixed) < 256:
            raise RecordingError(path, "header", f"file is {len(fixed)} bytes, shorter than the 256-byte "
                                                 "EDF header")
        n = int(_number(path, "number_of_signals", fixed[252:256].decode("latin-1"), integer=True))
        if not 0 <= n <= MAX_SIGNALS:
            raise RecordingError(path, "number_of_signals", f"{n} is out of range (allowed 0 to "
                                                            f"{MAX_SIGNALS})")
        header_bytes = 256 * (n + 1)
        declared = int(_number(path, "header_bytes", fixed[184:192].decode("latin-1"), integer=True))
        if declared != header_bytes:
            raise RecordingError(path, "header_bytes", f"{declared} does not match {n} signals (must be "
                                                       f"{header_bytes})")
        if size < header_bytes:
            raise RecordingError(path, "header_bytes", f"file is truncated: the header of {n} signals needs "
                                                       f"{header_bytes} bytes but the file has {size}")
        text = file.read(256 * n).decode("latin-1")
    pos = 0

    def field(width: int) -> list[str]:
        nonlocal pos
        values = [text[pos + i * width: pos + (i + 1) * width] for i in range(n)]
        pos += width * n
        return values

    labels, _transducer, units = field(16), field(80), field(8)
    pmin, pmax, dmin, dmax = field(8), field(8), field(8), field(8)
    _prefilter, spr_text = field(80), field(8)
    bytes_per_sample = 3 if fixed[:1] == b"\xff" else 2
    record_seconds = _number(path, "duration_of_data_record", fixed[244:252].decode("latin-1"))
    if record_seconds < 0:
        raise RecordingError(path, "duration_of_data_record", f"must be >= 0 s, got {record_seconds:g}")
    n_records = int(_number(path, "number_of_data_records", fixed[236:244].decode("latin-1"), integer=True))
    spr = tuple(int(_number(path, f"samples_per_record[{i}]", value, integer=True))
                for i, value in enumerate(spr_text))
    for i, value in enumerate(spr):
        if value < 0:
            raise RecordingError(path, f"samples_per_record[{i}]", f"must be >= 0, got {value}")
    warnings: list[str] = []
    width = sum(spr) * bytes_per_sample
    data_bytes = size - header_bytes
    if n_records == -1:  # allowed while recording: the count follows from the size
        n_records = data_bytes // width if width else 0
        warnings.append(f"the header gives no number of data records (-1); {n_records} read from the "
                        "file size")
    elif n_records < 0:
        raise RecordingError(path, "number_of_data_records", f"must be >= 0 (or -1), got {n_records}")
    expected = n_records * width
    what = f"{n_records} data records of {sum(spr)} samples"
    if data_bytes < expected:
        raise RecordingError(path, "number_of_data_records", f"file is truncated: {what} need "
                                                             f"{expected} bytes of data but the file has "
                                                             f"{data_bytes}")
    if data_bytes > expected:
        if width and data_bytes - expected < width:
            warnings.append(f"{data_bytes - expected} bytes after the last whole data record ignored")
        else:
            raise RecordingError(path, "number_of_data_records",
                                 f"header is inconsistent with the file size: {what} need {expected} bytes "
                                 f"of data but the file has {data_bytes}")
    channels = []
    for i in range(n):
        label = labels[i].strip(" ")  # the padding; a tab or line break in a label is said, not trimmed
        fs = spr[i] / record_seconds if record_seconds > 0 else 0.0
        if label in ANNOTATION_LABELS:
            phys, digs = (0.0, 1.0), (0, 1)  # not a signal: its range is not used
        else:
            phys = (_number(path, f"physical_minimum[{i}]", pmin[i]),
                    _number(path, f"physical_maximum[{i}]", pmax[i]))
            digs = (int(_number(path, f"digital_minimum[{i}]", dmin[i], integer=True)),
                    int(_number(path, f"digital_maximum[{i}]", dmax[i], integer=True)))
        channels.append(Channel(i, label, units[i].strip(), fs, spr[i] * n_records, phys[0], phys[1],
                                digs[0], digs[1]))
    return EdfHeader(path, fixed, header_bytes, bytes_per_sample, n_records, record_seconds, spr,
                     tuple(channels), _start(path, fixed, warnings), tuple(warnings))


def channel_problem(header: EdfHeader, channel: Channel) -> tuple[str, str] | None:
    """(field, reason) when the channel's samples cannot be scaled: a digital range outside the sample
    width, empty or reversed, or a zero physical range; None when they can."""
    i = channel.index
    low, high = _DIGITAL_LIMITS[header.bytes_per_sample]
    for name, value in (("digital_minimum", channel.dig_min), ("digital_maximum", channel.dig_max)):
        if not low <= value <= high:
            return f"{name}[{i}]", f"{value} is outside the sample range (allowed {low} to {high})"
    if channel.dig_max <= channel.dig_min:
        return (f"digital_maximum[{i}]", f"digital range {channel.dig_min}..{channel.dig_max} is empty or "
                "reversed (the maximum must exceed the minimum)")
    if channel.phys_max == channel.phys_min:
        return (f"physical_maximum[{i}]", f"physical range {channel.phys_min:g}..{channel.phys_max:g} "
                f"{channel.unit} is zero, so no sample value can be scaled")
    return None


def check_channel(header: EdfHeader, channel: Channel) -> None:
    """A channel that will be read: a non-zero digital and physical range, plausible for an ECG."""
    path, i = header.path, channel.index
    problem = channel_problem(header, channel)
    if problem is not None:
        raise RecordingError(path, *problem)
    factor = unit_to_mv_factor(channel.unit, path)
    check_scale(path, f"physical_maximum[{i}]", channel.scale * factor,
                max(abs(channel.phys_min), abs(channel.phys_max)) * factor,
                f"physical range {channel.phys_min:g}..{channel.phys_max:g} {channel.unit} over digital "
                f"{channel.dig_min}..{channel.dig_max}")
