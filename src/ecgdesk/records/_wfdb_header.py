"""Our own check of a WFDB header's text, before ``wfdb`` parses it and before any sample is read.

``wfdb.rdheader`` accepts much that is not a recording: ``-250`` read as 250 Hz, a gain of ``nan`` read as
a unit (the lead then silently dropped), a storage format it cannot read, fewer signal lines than the
record line announces, signals of one file in different formats (the file-size check then cannot apply
and the samples are decoded with the wrong layout). Each of those is refused here with the field, the
value and what is allowed; what WFDB itself would guess (an uncalibrated gain taken as 200) is a warning.
Layout of the lines (WFDB ``header(5)``)::

    record[/segments] n_sig [fs[/counter[(base)]] [sig_len [time [date]]]]
    file format[xspf][:skew][+offset] [gain[(baseline)][/units] [adc_res [adc_zero [init [cksum [block
    [description]]]]]]]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from ecgdesk.errors import RecordingError, is_digits
from ecgdesk.records._checks import check_count, check_fs, check_scale
from ecgdesk.records.recording import unit_to_mv_factor

MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_SIGNALS = 4096
MAX_SAMPLES_PER_FRAME = 10_000
MAX_ADC_BITS = 32  # no ADC resolves more; 0 means unknown
DEFAULT_GAIN = 200.0  # WFDB: a gain of 0 (or none) means uncalibrated, taken as 200 adu per unit
#: Bits of one sample of each storage format wfdb reads (8 is first differences of any size: 32).
FORMAT_BITS = {"8": 32, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16, "212": 12, "310": 10,
               "311": 10, "508": 8, "516": 16, "524": 24}
#: Bytes per sample of the formats whose file size follows from the header (FLAC 5xx does not).
BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0, "160": 2.0, "212": 1.5,
                    "310": 4 / 3, "311": 4 / 3}
#: Formats whose stored value is offset (unsigned): their range is shifted, not signed.
_FORMAT_SPEC = re.compile(r"^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$")
_GAIN_SPEC = re.compile(r"^([-+]?[^(/]*)(?:\(([^)]*)\))?(?:/(.*))?$")
_FILE_NAME = re.compile(r"^~$|^[-\w][-\w.]*$")


@dataclass(frozen=True)
class SignalSpec:
    """One signal line, as written (the values our checks need)."""

    index: int
    file_name: str
    fmt: str
    samples_per_frame: int
    byte_offset: int
    gain: float  # ADC units per physical unit; DEFAULT_GAIN where the header gives none or 0
    calibrated: bool
    baseline: int | None
    units: str


@dataclass(frozen=True)
class HeaderText:
    """The record line and the signal lines of a single-segment header, checked."""

    n_sig: int
    fs: float | None
    sig_len: int | None
    segments: tuple[tuple[str, int], ...]  # multi-segment records: (name, length) per segment line
    signals: tuple[SignalSpec, ...]
    warnings: tuple[str, ...]
    #: The base time and date as written (no zone: the recorder's clock), None where either is missing or
    #: is no time or date (said in ``warnings``).
    start: datetime | None = None

    @property
    def multi_segment(self) -> bool:
        return bool(self.segments)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _number(hea: Path, field: str, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RecordingError(hea, field, f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise RecordingError(hea, field, f"{what} {text!r} is not a finite number")
    return value


def _signal(hea: Path, index: int, line: str, warnings: list[str]) -> SignalSpec:
    tokens = line.split()
    if len(tokens) < 2:
        raise RecordingError(hea, f"signal[{index}]", f"signal line {line!r} has no storage format")
    name, spec = tokens[0], tokens[1]
    if not _FILE_NAME.match(name):
        raise RecordingError(hea, f"file_name[{index}]", f"{name!r} is not a file name in the header's "
                                                         "folder (a plain name, no path)")
    match = _FORMAT_SPEC.match(spec)
    if match is not None and match.group(1) == "0" and name != "~":
        raise RecordingError(hea, f"format[{index}]", "format 0 is a null signal (no samples): its file name "
                                                      f"must be '~', not {name!r}")
    if match is None or (match.group(1) not in FORMAT_BITS and match.group(1) != "0"):
        code = match.group(1) if match else spec
        raise RecordingError(hea, f"format[{index}]", f"storage format {code!r} is not one WFDB defines "
                                                      f"(known: {', '.join(FORMAT_BITS)})")
    fmt = match.group(1)
    spf = check_count(hea, f"samples_per_frame[{index}]", int(match.group(2) or 1), 1, MAX_SAMPLES_PER_FRAME,
                      "samples per frame")
    offset = int(match.group(4) or 0)
    gain, calibrated, baseline, units = DEFAULT_GAIN, False, None, "mV"
    if len(tokens) > 2:
        parts = _GAIN_SPEC.match(tokens[2])
        if parts is None:  # an unclosed "(baseline", or a "(" after the units
            raise RecordingError(hea, f"gain[{index}]", f"{tokens[2]!r} is not gain(baseline)/units")
        gain_text, baseline_text, units_text = parts.group(1), parts.group(2), parts.group(3)
        value = _number(hea, f"gain[{index}]", gain_text, "gain") if gain_text else 0.0
        if value != 0:
            gain, calibrated = value, True
        if baseline_text is not None:
            try:
                baseline = int(baseline_text)
            except ValueError:
                raise RecordingError(hea, f"baseline[{index}]",
                                     f"baseline {baseline_text!r} is not a whole number") from None
        if units_text is not None and not units_text.strip():
            warnings.append(f"{hea.name}: signal {index + 1} has an empty unit after '/' in {tokens[2]!r}; "
                            "taken as mV, the WFDB default")
        units = units_text.strip() if units_text and units_text.strip() else "mV"
    if len(tokens) > 3:
        _check_adc_resolution(hea, index, fmt, tokens[3], warnings)
    if gain < 0:  # legal in WFDB, but it turns the lead upside down: a typo far more often than intended
        warnings.append(f"{hea.name}: signal {index + 1} has a negative gain ({gain:g}): the lead is read "
                        "inverted")
    if not calibrated:
        warnings.append(f"{hea.name}: signal {index + 1} has no calibration (gain 0 or none); taken as "
                        f"{DEFAULT_GAIN:g} ADC units per {units} as WFDB does, so amplitudes may be wrong")
    if baseline is None and len(tokens) > 4:
        baseline = int(_number(hea, f"adc_zero[{index}]", tokens[4], "ADC zero"))
    return SignalSpec(index, name, fmt, spf, offset, gain, calibrated, baseline, units)


def _check_adc_resolution(hea: Path, index: int, fmt: str, text: str, warnings: list[str]) -> None:
    """The ADC resolution in bits: 0 (unknown) to 32 as a whole number; more than the storage format
    holds is a warning (the header is wrong somewhere, the samples are still what the format stores)."""
    field = f"adc_res[{index}]"
    if not is_digits(text):
        raise RecordingError(hea, field, f"ADC resolution {text!r} is not a whole number of bits (allowed 0 "
                                         f"to {MAX_ADC_BITS})")
    bits = int(text)
    if bits > MAX_ADC_BITS:
        raise RecordingError(hea, field, f"ADC resolution {bits} bits is not plausible (allowed 0, for "
                                         f"unknown, to {MAX_ADC_BITS})")
    if fmt not in ("8", "0") and bits > FORMAT_BITS[fmt]:
        warnings.append(f"{hea.name}: signal {index + 1} claims an ADC resolution of {bits} bits but format "
                        f"{fmt} stores {FORMAT_BITS[fmt]}; the samples are read as the format stores them")


def _check_scaling(hea: Path, signal: SignalSpec) -> None:
    try:
        factor = unit_to_mv_factor(signal.units)
    except ValueError:
        return  # not a voltage: the reader leaves the signal out (with a warning)
    if signal.fmt == "0":
        return  # a null signal (the layout of a variable-layout record): it stores no samples
    bits = FORMAT_BITS[signal.fmt]
    mv_per_adu = factor / signal.gain
    check_scale(hea, f"gain[{signal.index}]", mv_per_adu, mv_per_adu * 2 ** (bits - 1),
                f"gain {signal.gain:g} ADC units per {signal.units} in format {signal.fmt}")
    if signal.baseline is not None and signal.fmt != "8" and abs(signal.baseline) > 2 ** bits:
        raise RecordingError(hea, f"baseline[{signal.index}]",
                             f"baseline {signal.baseline} is outside what format {signal.fmt} can store "
                             f"(allowed -{2 ** bits} to {2 ** bits})")


def _check_one_format_per_file(hea: Path, signals: tuple[SignalSpec, ...]) -> None:
    first: dict[str, SignalSpec] = {}
    for signal in signals:
        seen = first.setdefault(signal.file_name, signal)
        if signal.fmt != seen.fmt and signal.file_name != "~":
            raise RecordingError(hea, f"format[{signal.index}]",
                                 f"signal {signal.index + 1} is stored in {signal.file_name} in format "
                                 f"{signal.fmt} but signal {seen.index + 1} of the same file in format "
                                 f"{seen.fmt}; WFDB stores every signal of one file in one format")


def _time_of_day(text: str) -> time | None:
    """WFDB's base time: ``HH:MM:SS``, ``MM:SS`` or ``SS``, with an optional fraction, as wfdb reads it."""
    fmt = ("%S", "%M:%S", "%H:%M:%S")[text.count(":")] if text.count(":") <= 2 else ""
    if not fmt or not re.fullmatch(r"[\d:]+(\.\d{1,6})?", text):
        return None
    try:
        return datetime.strptime(text, fmt + (".%f" if "." in text else "")).time()
    except ValueError:
        return None


def _calendar_date(text: str) -> date | None:
    if not re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
        return None
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return None


def base_clock(hea: Path, record: list[str], warnings: list[str]) -> datetime | None:
    """The start from the record line's base time and date (``HH:MM:SS DD/MM/YYYY``).

    A time or date that is none (``31/02/2020``, ``00/00/0000``, ``25:61:00``), or a time without a date,
    leaves the start unknown with a warning naming the field and the value: the samples do not depend on
    it, and until 2026-12-07 wfdb's own parsing refused the whole record for it."""
    clock = record[4:6]
    if not clock:
        return None
    unknown = "the recording start is read as unknown"
    moment = _time_of_day(clock[0])
    if moment is None:
        warnings.append(f"{hea.name}: field 'base_time': {clock[0]!r} is not a time of day (HH:MM:SS); "
                        f"{unknown}")
        return None
    if len(clock) < 2:
        warnings.append(f"{hea.name}: field 'base_date': the header gives a base time ({clock[0]}) but no "
                        f"date; {unknown}")
        return None
    day = _calendar_date(clock[1])
    if day is None:
        warnings.append(f"{hea.name}: field 'base_date': {clock[1]!r} is not a date (DD/MM/YYYY); {unknown}")
        return None
    return datetime.combine(day, moment)


def parse_header_text(hea: Path, text: str, clock: bool = True) -> HeaderText:
    """Check the record line and the signal (or segment) lines of a header; see the module docstring.
    ``clock`` False: a segment's header, whose base time and date nothing reads (not checked)."""
    lines = _lines(text)
    if not lines:
        raise RecordingError(hea, "header", "the WFDB header has no record line")
    record = lines[0].split()
    if len(record) < 2:
        raise RecordingError(hea, "n_sig", f"the record line {lines[0]!r} gives no number of signals")
    name = record[0]
    n_seg = None
    if "/" in name:
        n_seg = check_count(hea, "n_seg", int(_number(hea, "n_seg", name.split("/", 1)[1], "segment count")),
                            1, 1_000_000, "number of segments")
    if not is_digits(record[1]):
        raise RecordingError(hea, "n_sig", f"number of signals {record[1]!r} is not a whole number")
    n_sig = check_count(hea, "n_sig", int(record[1]), 0, MAX_SIGNALS, "number of signals")
    fs = check_fs(hea, record[2].split("/")[0].split("(")[0]) if len(record) > 2 else None
    sig_len = None
    if len(record) > 3:
        if not is_digits(record[3]):
            raise RecordingError(hea, "sig_len", f"number of samples {record[3]!r} is not a whole number")
        sig_len = int(record[3])
    warnings: list[str] = []
    start = base_clock(hea, record, warnings) if clock else None
    body = lines[1:]
    if n_seg is not None:
        if len(body) != n_seg:
            raise RecordingError(hea, "n_seg", f"the record line announces {n_seg} segments but the header "
                                               f"lists {len(body)}")
        segments = []
        for i, line in enumerate(body):
            parts = line.split()
            if len(parts) != 2 or not _FILE_NAME.match(parts[0]) or not is_digits(parts[1]):
                raise RecordingError(hea, f"segment[{i}]", f"segment line {line!r} is not 'name length'")
            segments.append((parts[0], int(parts[1])))
        return HeaderText(n_sig, fs, sig_len, tuple(segments), (), tuple(warnings), start)
    if n_sig == 0:
        raise RecordingError(hea, "n_sig", "the record has no signals")
    if len(body) != n_sig:
        raise RecordingError(hea, "n_sig", f"the record line announces {n_sig} signals but the header has "
                                           f"{len(body)} signal lines")
    signals = tuple(_signal(hea, i, line, warnings) for i, line in enumerate(body))
    _check_one_format_per_file(hea, signals)
    for signal in signals:
        _check_scaling(hea, signal)
    return HeaderText(n_sig, fs, sig_len, (), signals, tuple(warnings), start)


def expected_file_sizes(header: HeaderText, sig_len: int) -> dict[str, tuple[int, str]]:
    """Size in bytes each signal file must have, with the words of the reckoning (FLAC files: none)."""
    out: dict[str, tuple[int, str]] = {}
    for name in dict.fromkeys(s.file_name for s in header.signals):
        if name == "~":
            continue
        members = [s for s in header.signals if s.file_name == name]
        fmt = members[0].fmt
        if fmt not in BYTES_PER_SAMPLE:
            continue
        per_frame = sum(s.samples_per_frame for s in members)
        size = members[0].byte_offset + math.ceil(sig_len * per_frame * BYTES_PER_SAMPLE[fmt])
        out[name] = (size, f"{sig_len} samples x {per_frame} signals in format {fmt}")
    return out
