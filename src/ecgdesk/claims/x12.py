"""X12 at the character level: reading an interchange into segments, writing segments, and one error voice.

An interchange starts with a fixed-width ISA segment whose 4th character is the element separator, whose
16th element is the component separator and whose next character ends every segment. Readers here take
the delimiters from the ISA itself (a file with other separators than ``*``/``:``/``~`` reads the same)
and name every problem by segment position (1 = the ISA), segment id, element and reason.

Writers refuse a value holding a delimiter rather than silently changing it: X12 has no escape
sequence, and a name containing ``*`` would shift every later element.
"""

from __future__ import annotations

import gc
import os
import re
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from ecgdesk.errors import InputError, is_digits

#: An interchange is read whole; a clearinghouse's largest 835 is a few MB, so more is not an X12 file.
MAX_FILE_BYTES = 256 * 1024 * 1024

SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_KNOWN_IDS: set[str] = set()  # ids already seen to be well formed (the regex is the slow part of reading)
# ISA element widths (ISA01..ISA16): the ISA is fixed width, 106 characters with its terminator.
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one bulk X12 job (restored afterwards).

    Reading or writing thousands of claims allocates millions of small acyclic objects (segments,
    element tuples, ORM rows); the cyclic collector rescanning them took a third of the time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class X12Error(InputError):
    """A defect in an X12 file: names the file, the segment (position and id), the element and the reason."""

    def __init__(
        self,
        source: str | Path | None,
        position: int | None,
        segment: str,
        element: str | None,
        reason: str,
    ) -> None:
        self.position = position
        self.segment = segment
        self.element = element
        where = f"segment {position}" if position is not None else "segment"
        name = element or segment or "?"
        super().__init__(f"{where} {name}".strip(), reason, source)


@dataclass(frozen=True)
class Delimiters:
    """The four separators of an interchange."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"

    def all(self) -> str:
        return self.element + self.component + self.repetition + self.segment


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its id, its elements (``elements[0]`` is element 01) and its 1-based position."""

    id: str
    elements: tuple[str, ...]
    position: int

    def get(self, index: int) -> str:
        """Element ``index`` (1-based, as in ``CLP02``); ``""`` where absent."""
        return self.elements[index - 1] if 0 < index <= len(self.elements) else ""

    def name(self, index: int) -> str:
        return f"{self.id}{index:02d}"


@dataclass(frozen=True)
class Interchange:
    """The segments of one file and the delimiters it declared."""

    delimiters: Delimiters
    segments: tuple[Segment, ...]
    source: str


def isa_width_problems(elements: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(element, reason) for each of ISA01..ISA15 that is not its fixed width."""
    for index, (value, width) in enumerate(zip(elements, ISA_WIDTHS[:15], strict=False), start=1):
        if len(value) != width:
            yield f"ISA{index:02d}", f"must be {width} characters wide, got {len(value)}"


def _isa(text: str, source: str) -> tuple[Delimiters, str]:
    if not text.startswith("ISA"):
        shown = text[:20].replace("\n", " ")
        raise X12Error(source, 1, "ISA", None, f"an X12 interchange starts with 'ISA'; found {shown!r}")
    if len(text) < 106:
        raise X12Error(source, 1, "ISA", None, "the file ends inside the ISA segment (it is 106 characters)")
    separator = text[3]
    if separator.isalnum() or separator.isspace():
        raise X12Error(source, 1, "ISA", None, f"{separator!r} cannot be the element separator")
    fields = text[4:].split(separator, 16)
    if len(fields) < 16:
        raise X12Error(source, 1, "ISA", None, f"the ISA has {len(fields)} elements; it needs 16")
    for field, reason in isa_width_problems(fields[:15]):
        raise X12Error(source, 1, "ISA", field, reason)
    component = fields[15][:1]
    terminator = fields[15][1:2]
    if not component or not terminator or terminator.isalnum():
        raise X12Error(source, 1, "ISA", "ISA16", "no component separator and segment terminator after ISA15")
    repetition = fields[10]
    if repetition.isalnum():
        repetition = "^"  # 4010-style ISA11 (a standards id): no repetition separator in use
    delims = Delimiters(separator, component, repetition, terminator)
    if len(set(delims.all())) != 4:
        raise X12Error(source, 1, "ISA", "ISA16", f"the separators {delims.all()!r} must all differ")
    return delims, text


def read_text(text: str, source: str | Path | None = None) -> Interchange:
    """Split ``text`` into segments using the delimiters its ISA declares."""
    shown = str(source) if source is not None else "<text>"
    text = text.lstrip("\ufeff \t\r\n")
    delims, text = _isa(text, shown)
    segments: list[Segment] = []
    for part in text.split(delims.segment):
        raw = part.strip("\r\n\t ")
        if not raw:
            continue
        parts = raw.split(delims.element)
        seg_id = parts[0]
        if seg_id not in _KNOWN_IDS and not SEGMENT_ID.match(seg_id):
            raise X12Error(
                shown,
                len(segments) + 1,
                seg_id or "(empty)",
                None,
                f"{seg_id!r} is not a segment identifier (2-3 capital letters or digits); the segment "
                f"reads {raw[:30]!r}",
            )
        _KNOWN_IDS.add(seg_id)
        segments.append(Segment(seg_id, tuple(parts[1:]), len(segments) + 1))
    return Interchange(delims, tuple(segments), shown)


def read_file(path: Path | str) -> Interchange:
    """Read an X12 file (any of the usual encodings) into segments."""
    path = Path(path)
    try:
        # a named pipe would block for ever and /dev/zero never ends: regular files of a plausible size only
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InputError("FILE", "is not a regular file", path)
        if info.st_size > MAX_FILE_BYTES:
            raise InputError("FILE", f"{info.st_size} bytes: larger than an X12 file we read (at most "
                                     f"{MAX_FILE_BYTES})", path)
        raw = path.read_bytes()
    except OSError as error:
        raise InputError("FILE", f"cannot read ({error.strerror})", path) from None
    if not raw.strip():
        raise X12Error(path, 1, "ISA", None, "the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return read_text(text, path)


# ------------------------------------------------------------------------------------------ values


#: X12 type R as the 005010 guides allow it: an optional minus, digits, an optional decimal point; no plus
#: sign, exponent, spaces or digit separators (Python's Decimal takes "1e3" and "1_000").
_X12_DECIMAL = re.compile(r"-?(?:\d+\.?\d*|\.\d+)")


def is_x12_decimal(text: str) -> bool:
    """True when ``text`` is a number as X12 type R writes one."""
    return _X12_DECIMAL.fullmatch(text) is not None


def parse_amount(segment: Segment, index: int, source: str, *, required: bool = True) -> Decimal:
    """Element ``index`` as a decimal amount (X12 type R)."""
    text = segment.get(index)
    if not text:
        if required:
            raise X12Error(source, segment.position, segment.id, segment.name(index), "amount missing")
        return Decimal(0)
    if not is_x12_decimal(text):
        raise X12Error(source, segment.position, segment.id, segment.name(index),
                       f"{text!r} is not a number (digits, an optional minus and decimal point)")
    return Decimal(text)


def parse_date(segment: Segment, index: int, source: str, text: str | None = None) -> date:
    """Element ``index`` (or ``text``) as a CCYYMMDD date."""
    value = segment.get(index) if text is None else text
    if len(value) != 8 or not is_digits(value):
        raise X12Error(
            source, segment.position, segment.id, segment.name(index), f"{value!r} is not a date CCYYMMDD"
        )
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise X12Error(
            source, segment.position, segment.id, segment.name(index), f"{value!r} is not a calendar date"
        ) from None


def format_amount(value: Decimal) -> str:
    """An amount as X12 writes it: at most two decimals, no trailing zeros (``125``, ``12.5``)."""
    text = f"{value.quantize(Decimal('0.01')):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def d8(day: date) -> str:
    return day.strftime("%Y%m%d")


# ----------------------------------------------------------------------------------------- writing

Element = str | Sequence[str]


STANDARD = Delimiters()


class SegmentWriter:
    """Collects segments of one interchange; trailing empty elements and components are dropped."""

    def __init__(self, delimiters: Delimiters = STANDARD, line_break: bool = True) -> None:
        self.delimiters = delimiters
        self._delims = delimiters.all()
        self._element = delimiters.element
        self._component = delimiters.component
        self._parts: list[str] = []
        self._end = delimiters.segment + ("\n" if line_break else "")

    def _value(self, segment: str, index: int, value: str) -> str:
        for delimiter in self._delims:
            if delimiter in value:
                raise InputError(
                    f"{segment}{index:02d}",
                    f"{value!r} holds an X12 delimiter ({delimiter}); change the stored value",
                )
        return value

    def add(self, segment: str, *elements: Element | None) -> None:
        texts = [segment]
        value = self._value
        for index, element in enumerate(elements, start=1):
            if element is None:
                texts.append("")
            elif isinstance(element, str):
                texts.append(value(segment, index, element))
            else:
                parts = [value(segment, index, part) for part in element]
                while parts and not parts[-1]:
                    parts.pop()
                texts.append(self._component.join(parts))
        while len(texts) > 1 and not texts[-1]:
            texts.pop()
        self._parts.append(self._element.join(texts))

    def name(
        self,
        qualifier: str,
        entity: str,
        last: str,
        first: str = "",
        id_qualifier: str | None = None,
        identifier: str | None = None,
        middle: str = "",
    ) -> None:
        """An NM1 name segment (names cleaned of delimiters and cut to the TR3 lengths)."""
        self.add(
            "NM1",
            qualifier,
            entity,
            clean_text(last, 60),
            clean_text(first, 35) or None,
            clean_text(middle, 25) or None,
            None,
            None,
            id_qualifier if identifier else None,
            identifier,
        )

    def add_raw(self, text: str) -> None:
        """A segment already formatted (the fixed-width ISA)."""
        self._parts.append(text)

    def __len__(self) -> int:
        return len(self._parts)

    def text(self) -> str:
        return self._end.join(self._parts) + self._end


def isa_segment(
    delimiters: Delimiters,
    sender: str,
    receiver: str,
    control: int,
    when: tuple[str, str],
    usage: str,
    sender_qualifier: str = "ZZ",
    receiver_qualifier: str = "ZZ",
) -> str:
    """The fixed-width ISA (no authorization or security information)."""
    if not 0 < control < 10**9:
        raise InputError("ISA13", f"interchange control number {control} is outside 1-999999999")
    for name, value in (("ISA06", sender), ("ISA08", receiver)):
        if not value or len(value) > 15 or set(delimiters.all()) & set(value):
            raise InputError(name, f"{value!r} must be 1-15 characters without X12 delimiters")
    e = delimiters.element
    fields = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        sender_qualifier,
        sender.ljust(15),
        receiver_qualifier,
        receiver.ljust(15),
        when[0],
        when[1],
        delimiters.repetition,
        "00501",
        f"{control:09d}",
        "0",
        usage,
        delimiters.component,
    ]
    return e.join(fields)


_BLANKED = str.maketrans({c: " " for c in "*:^~>|" + "".join(chr(i) for i in range(32))})


def clean_text(value: str, limit: int) -> str:
    """Free text for a name or address element: X12 delimiters and control characters become spaces,
    runs of spaces collapse, and the value is cut to ``limit`` characters."""
    return " ".join(value.translate(_BLANKED).split())[:limit]
