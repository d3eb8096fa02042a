"""ISHNE 1.0 Holter layout shared by the reader and the writer.

Layout (Badilini, Ann Noninvasive Electrocardiol 1998;3:263), little-endian: magic (8 B), CRC-16-CCITT
(u16) over bytes 10 .. ecg_offset, then the fixed header (512 B from offset 10), a variable block, and
int16 samples interleaved by lead. Annotation files share the header with the magic ``ANN  1.0``.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field
from datetime import date, datetime, time

ECG_MAGIC = b"ISHNE1.0"
ANN_MAGIC = b"ANN  1.0"
HEADER_SIZE = 522  # magic + CRC + 512 B fixed header; the variable block starts here
MAX_LEADS = 12
UNKNOWN = -9  # the ISHNE value for "not known" in numeric fields

# Lead specification codes of the ISHNE standard.
LEAD_CODES: dict[int, str] = {
    0: "unknown", 1: "bipolar", 2: "X", 3: "Y", 4: "Z", 5: "I", 6: "II", 7: "III", 8: "aVR", 9: "aVL",
    10: "aVF", 11: "V1", 12: "V2", 13: "V3", 14: "V4", 15: "V5", 16: "V6", 17: "ES", 18: "AS", 19: "AI",
}
LEAD_NAME_TO_CODE = {name.lower(): code for code, name in LEAD_CODES.items() if code >= 2}

# Fixed header after magic and CRC: var_block_size, ecg_size, var_block_offset, ecg_offset, version,
# first name, last name, id, sex, race, birth date (3), record date (3), file date (3), start time (3),
# n_leads, lead spec (12), lead quality (12), resolution (12), pacemaker, recorder, fs, proprietary,
# copyright, reserved.
_FIXED = struct.Struct("<iiiih40s40s20shh3h3h3h3hh12h12h12hh40sh80s80s88s")
assert _FIXED.size == HEADER_SIZE - 10


def crc16(data: bytes) -> int:
    """CRC-16-CCITT (polynomial 0x1021, initial value 0xFFFF, no reflection), as ISHNE specifies."""
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass
class IshneHeader:
    """The fields of an ISHNE 1.0 header, in our units (fs in Hz, resolution in nV per ADC unit)."""

    n_samples: int
    fs: int
    resolution_nv: list[int]
    lead_codes: list[int]
    var_block: bytes = b""
    first_name: str = ""
    last_name: str = ""
    patient_id: str = ""
    sex: int = 0
    race: int = 0
    birth_date: date | None = None
    record_date: date | None = None
    file_date: date | None = None
    start_time: time | None = None
    pacemaker: int = 0
    recorder: str = ""
    lead_quality: list[int] = field(default_factory=list)
    version: int = 1
    #: Fields that held a value but not a valid one (a 31 February), read as unknown: one note each.
    notes: list[str] = field(default_factory=list)

    @property
    def n_leads(self) -> int:
        return len(self.resolution_nv)

    @property
    def ecg_offset(self) -> int:
        return HEADER_SIZE + len(self.var_block)

    @property
    def start_datetime(self) -> datetime | None:
        """The start: the record date at the start time, None where either is unknown (until 2026-12-07 an
        unknown or impossible start time was taken as midnight, so a Holter's clock and hourly table were
        hours off while the warning said 'read as unknown')."""
        if self.record_date is None or self.start_time is None:
            return None
        return datetime.combine(self.record_date, self.start_time)


def _pad12(values: list[int]) -> list[int]:
    return (list(values) + [0] * MAX_LEADS)[:MAX_LEADS]


def _text(value: str, size: int) -> bytes:
    return value.encode("latin-1", errors="replace")[: size - 1].ljust(size, b"\0")


def _date3(value: date | None) -> tuple[int, int, int]:
    if value is None:
        return (UNKNOWN, UNKNOWN, UNKNOWN)
    return (value.day, value.month, value.year)


def pack_header(header: IshneHeader, magic: bytes = ECG_MAGIC) -> bytes:
    """Header bytes (magic, CRC, fixed header, variable block) with the CRC computed over bytes 10..."""
    start = header.start_time
    fixed = _FIXED.pack(
        len(header.var_block), header.n_samples, HEADER_SIZE, header.ecg_offset, header.version,
        _text(header.first_name, 40), _text(header.last_name, 40), _text(header.patient_id, 20),
        header.sex, header.race, *_date3(header.birth_date), *_date3(header.record_date),
        *_date3(header.file_date),
        *((start.hour, start.minute, start.second) if start else (UNKNOWN, UNKNOWN, UNKNOWN)),
        header.n_leads, *_pad12(header.lead_codes),
        *_pad12(header.lead_quality or [0] * header.n_leads), *_pad12(header.resolution_nv),
        header.pacemaker, _text(header.recorder, 40), header.fs, b"\0" * 80, b"\0" * 80, b"\0" * 88,
    )
    body = fixed + header.var_block
    return magic + struct.pack("<H", crc16(body)) + body


def _decode(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _unknown(values: tuple[int, ...]) -> bool:
    """All three parts unknown (-9) or all zero: no date (or time) given, which is no oddity."""
    return all(v == UNKNOWN for v in values) or all(v == 0 for v in values)


def _to_date(values: tuple[int, ...], name: str, notes: list[str]) -> date | None:
    day, month, year = values
    if _unknown(values):
        return None
    try:
        if UNKNOWN in values:  # part given and part unknown (-9/13/-9): not a date either way
            raise ValueError(name)
        return date(year, month, day)
    except ValueError:
        notes.append(f"{name} {day}/{month}/{year} (day/month/year) is not a valid date; read as unknown")
        return None


def _to_time(values: tuple[int, ...], notes: list[str]) -> time | None:
    hour, minute, second = values
    if all(v == UNKNOWN for v in values):
        return None
    try:
        if UNKNOWN in values:
            raise ValueError("start_time")
        return time(hour, minute, second)
    except ValueError:
        notes.append(f"start_time {hour}:{minute}:{second} is not a valid time of day; read as unknown")
        return None


def _check_codes(sex: int, codes: tuple[int, ...], notes: list[str]) -> None:
    """Coded fields with a value the standard does not define: read as unknown, said so."""
    if sex not in (0, 1, 2, UNKNOWN):
        notes.append(f"sex code {sex} is not one ISHNE defines (0 unknown, 1 male, 2 female); read as "
                     "unknown")
    for i, code in enumerate(codes):
        if code not in LEAD_CODES and code != UNKNOWN:
            notes.append(f"lead_specification[{i}] code {code} is not one ISHNE defines (0 to "
                         f"{max(LEAD_CODES)}); the lead is named ch{i + 1}")


class HeaderError(ValueError):
    """Raised by :func:`unpack_header` with the field name; the caller turns it into a RecordingError."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


def unpack_header(head: bytes, magic: bytes = ECG_MAGIC) -> IshneHeader:
    """Parse and check the header at the start of ``head`` (which must reach ecg_offset)."""
    if len(head) < HEADER_SIZE:
        raise HeaderError("header", f"file is {len(head)} bytes, shorter than the {HEADER_SIZE}-byte "
                                    "header")
    if head[:8] != magic:
        raise HeaderError("magic", f"expected {magic.decode()!r}, found {head[:8]!r}")
    values = _FIXED.unpack_from(head, 10)
    var_size, n_samples, var_offset, ecg_offset, version = values[:5]
    if var_size < 0 or ecg_offset < HEADER_SIZE or var_offset != HEADER_SIZE:
        raise HeaderError("ecg_block_offset", f"offsets are inconsistent (variable block at {var_offset} "
                                                f"size {var_size}, data at {ecg_offset})")
    if len(head) < ecg_offset:
        raise HeaderError("ecg_block_offset", f"data offset {ecg_offset} is past the end of the file")
    stored_crc = struct.unpack_from("<H", head, 8)[0]
    actual = crc16(head[10:ecg_offset])
    if stored_crc != actual:
        raise HeaderError("crc", f"header checksum is 0x{stored_crc:04X} but the header gives "
                                 f"0x{actual:04X}")
    first, last, pid, sex, race = values[5:10]
    birth, record, filed, start = values[10:13], values[13:16], values[16:19], values[19:22]
    n_leads = values[22]
    codes, quality, resolution = values[23:35], values[35:47], values[47:59]
    pacemaker, recorder, fs = values[59], values[60], values[61]
    if not 1 <= n_leads <= MAX_LEADS:
        raise HeaderError("n_leads", f"must be 1..{MAX_LEADS}, got {n_leads}")
    if n_samples < 0:
        raise HeaderError("ecg_size", f"must be >= 0, got {n_samples}")
    notes: list[str] = []
    if var_size != ecg_offset - HEADER_SIZE:  # the data offset is what is read; the size only disagrees
        notes.append(f"the variable block size ({var_size}) disagrees with the data offset ({ecg_offset}); "
                     "the data offset is used")
    _check_codes(sex, codes[:n_leads], notes)
    record_date, start_time = _to_date(record, "record_date", notes), _to_time(start, notes)
    if record_date is not None and all(v == UNKNOWN for v in start):
        notes.append("record_date is given but start_time is not (-9); the recording start is read as "
                     "unknown")
    if start_time is not None and _unknown(record):
        notes.append("start_time is given but record_date is not; the recording start is read as unknown")
    return IshneHeader(
        n_samples=n_samples, fs=fs, resolution_nv=list(resolution[:n_leads]),
        lead_codes=list(codes[:n_leads]), var_block=bytes(head[HEADER_SIZE:ecg_offset]),
        first_name=_decode(first), last_name=_decode(last), patient_id=_decode(pid), sex=sex, race=race,
        birth_date=_to_date(birth, "birth_date", notes), record_date=record_date,
        file_date=_to_date(filed, "file_date", notes), start_time=start_time,
        pacemaker=pacemaker, recorder=_decode(recorder), lead_quality=list(quality[:n_leads]),
        version=version, notes=notes,
    )
