"""A UTC offset as DICOM (DT ``&ZZXX``, TimezoneOffsetFromUTC), HL7 v3 (aECG TS ``+ZZZZ``) and HL7 v2 (DTM)
write it, one reader for all: ``+HHMM`` or ``-HHMM`` within the offsets in use on Earth, -12:00 (Baker
Island) to +14:00 (Line Islands), minutes 00-59. Until 2026-12-07 the DICOM reader took -14:00 .. +14:00
and dropped any other offset without a word, the aECG reader applied any hours (``+9900`` moved a start
four days back) and an HL7 v2 order time any offset under 24 hours."""

from __future__ import annotations

import re
from datetime import timedelta

EARLIEST = -timedelta(hours=12)
LATEST = timedelta(hours=14)
_FORM = re.compile(r"([+-])(\d{2})(\d{2})")


def split_offset(value: str) -> tuple[str, str | None]:
    """A date-time's digits and the offset after them (None where it gives none): a date-time of these
    formats holds no sign before its offset."""
    for index, char in enumerate(value):
        if char in "+-":
            return value[:index], value[index:]
    return value, None


def utc_offset(text: str) -> timedelta:
    """``text`` (``+HHMM``/``-HHMM``) as the time to add to UTC; a ValueError saying why where it is none."""
    found = _FORM.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"UTC offset {text!r} is not of the form +HHMM or -HHMM")
    if int(found[3]) > 59:
        raise ValueError(f"UTC offset {text!r}: its minutes must be 00-59")
    offset = timedelta(hours=int(found[2]), minutes=int(found[3]))
    offset = offset if found[1] == "+" else -offset
    if not EARLIEST <= offset <= LATEST:
        raise ValueError(f"UTC offset {text!r} is outside -1200 .. +1400, the offsets in use")
    return offset
