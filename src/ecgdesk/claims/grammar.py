"""A small table-driven X12 checker: envelopes, loop structure, required segments and elements.

pyx12 validates every TR3 rule but takes about 15 s for an 835 of 10,000 claims; posting must be quick
and must refuse a broken file *before* anything is posted. This checker reads the loop layout of the
transactions we receive (``specs``) and reports, by segment position, what a payer file gets wrong that
would make posting unsafe: broken envelopes and counts, segments out of place, required segments or
elements missing, bad dates, amounts and codes. pyx12 remains the full validator (``--strict``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from ecgdesk.claims.x12 import (
    Delimiters,
    Interchange,
    Segment,
    X12Error,
    is_x12_decimal,
    isa_width_problems,
)
from ecgdesk.errors import is_digits

ElementCheck = Callable[[Segment, Delimiters], Iterator[tuple[str, str]]]


@dataclass(frozen=True)
class Seg:
    """A segment slot: id, the element that tells same-id slots apart, usage, repeat and element rules."""

    id: str
    name: str
    key: tuple[int, frozenset[str]] | None = None
    required: bool = False
    repeat: int = 1  # 0: no limit
    elements: tuple[int, ...] = ()
    codes: Mapping[int, frozenset[str]] = field(default_factory=dict)
    dates: tuple[int, ...] = ()
    amounts: tuple[int, ...] = ()
    whole_numbers: tuple[int, ...] = ()  # X12 type N0, digits only: the readers count with them
    unused: tuple[int, ...] = ()
    check: ElementCheck | None = None

    def matches(self, segment: Segment) -> bool:
        return segment.id == self.id and (self.key is None or segment.get(self.key[0]) in self.key[1])

    def label(self) -> str:
        if self.key is None:
            return self.id
        return f"{self.id}*{'/'.join(sorted(self.key[1]))}" if self.key[0] == 1 else self.id


@dataclass(frozen=True)
class Loop:
    """A loop: its first item is the segment that starts it."""

    id: str
    name: str
    items: tuple[Seg | Loop, ...]
    required: bool = False
    repeat: int = 1

    @property
    def trigger(self) -> Seg:
        first = self.items[0]
        assert isinstance(first, Seg)
        return first

    @cached_property
    def position_of(self) -> tuple[int, ...]:
        """For each item, the index of the first item of its standard position: consecutive segment slots
        with one id share it. An X12 loop table gives each segment id a single position; a guide that
        splits it by qualifier (DTM*050 and DTM*232, NM1*QC and NM1*IL) keeps that one position, where
        the segments may come in any order."""
        found: list[int] = []
        for k, item in enumerate(self.items):
            previous = self.items[k - 1] if k else None
            same = isinstance(item, Seg) and isinstance(previous, Seg) and previous.id == item.id
            found.append(found[-1] if same else k)
        return tuple(found)

    @cached_property
    def by_id(self) -> dict[str, tuple[int, ...]]:
        """Item indexes (after the trigger) by the segment id that matches them (a loop by its trigger)."""
        found: dict[str, list[int]] = {}
        for k, item in enumerate(self.items[1:], start=1):
            found.setdefault(item.id if isinstance(item, Seg) else item.trigger.id, []).append(k)
        return {key: tuple(value) for key, value in found.items()}


@dataclass(frozen=True)
class Transaction:
    code: str
    functional_id: str
    versions: frozenset[str]
    body: Loop  # items between ST and SE; its own trigger is never matched


@dataclass(frozen=True)
class Issue:
    position: int
    segment: str
    element: str | None
    reason: str

    def __str__(self) -> str:
        return f"segment {self.position} {self.element or self.segment}: {self.reason}"


class X12ValidationError(X12Error):
    """An X12 file that fails the checks; ``issues`` lists every problem found, the first one is named."""

    def __init__(self, source: str, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        first = self.issues[0]
        rest = "; ".join(str(i) for i in self.issues[1:4])
        more = f" (also: {rest}{' ...' if len(self.issues) > 4 else ''})" if rest else ""
        super().__init__(source, first.position, first.segment, first.element, first.reason + more)


def codes(*values: str) -> frozenset[str]:
    return frozenset(values)


def valid_date(text: str) -> bool:
    if len(text) != 8 or not is_digits(text):
        return False
    try:
        day = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return 1900 <= day.year <= 2099


_TIME = re.compile(r"^([01]\d|2[0-3])[0-5]\d(?:[0-5]\d(?:\d{1,2})?)?$")


def _element_issues(spec: Seg, segment: Segment, delims: Delimiters) -> Iterator[tuple[str, str]]:
    for index in spec.elements:
        if not segment.get(index):
            yield segment.name(index), f"required element {segment.name(index)} of {spec.name} is missing"
    for index, allowed in spec.codes.items():
        value = segment.get(index)
        if value and value not in allowed:
            shown = ", ".join(sorted(allowed))
            yield segment.name(index), f"{value!r} is not a valid code here (allowed: {shown})"
    for index in spec.dates:
        value = segment.get(index)
        if value and not valid_date(value):
            yield segment.name(index), f"{value!r} is not a valid date CCYYMMDD"
    for index in spec.amounts:
        value = segment.get(index)
        if value and not is_x12_decimal(value):
            yield segment.name(index), f"{value!r} is not an amount (digits, an optional minus and point)"
    for index in spec.whole_numbers:
        value = segment.get(index)
        if value and not is_digits(value):
            yield segment.name(index), f"{value!r} is not a whole number (digits only)"
    for index in spec.unused:
        if segment.get(index):
            yield segment.name(index), f"{segment.name(index)} is not used in this transaction"
    if spec.check is not None:
        yield from spec.check(segment, delims)


@dataclass
class _Frame:
    loop: Loop
    index: int = -1
    counts: list[int] = field(default_factory=list)
    start: int = 0
    reported: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.loop.items)


def _find(frame: _Frame, segment: Segment) -> int | None:
    """The item of ``frame`` that ``segment`` continues: from the current position forwards, any slot of
    the current position included (the loop's own first segment starts a new instance in the parent,
    never continues this one)."""
    position = frame.loop.position_of
    for k in frame.loop.by_id.get(segment.id, ()):
        if position[k] < position[frame.index]:
            continue
        item = frame.loop.items[k]
        if (item if isinstance(item, Seg) else item.trigger).matches(segment):
            return k
    return None


def _missing(frame: _Frame, upto: int, at: Segment, issues: list[Issue]) -> None:
    """Report required items of ``frame`` before item ``upto`` that never occurred (once each)."""
    for i in range(1, upto):
        item = frame.loop.items[i]
        if frame.counts[i] or not item.required or i in frame.reported:
            continue
        frame.reported.add(i)
        if isinstance(item, Seg):
            what = f"required segment {item.label()} ({item.name})"
        else:
            what = f"required loop {item.id} ({item.name}, starting with {item.trigger.label()})"
        issues.append(
            Issue(
                at.position, at.id, None, f"{what} is missing from loop {frame.loop.id} ({frame.loop.name})"
            )
        )


def _close(frame: _Frame, at: Segment, issues: list[Issue]) -> None:
    _missing(frame, len(frame.loop.items), at, issues)


def _unexpected(stack: list[_Frame], segment: Segment) -> str:
    for frame in reversed(stack):
        same = [i for i in frame.loop.items if isinstance(i, Seg) and i.id == segment.id]
        same += [i.trigger for i in frame.loop.items if isinstance(i, Loop) and i.trigger.id == segment.id]
        if same and all(s.key is not None for s in same):
            index = same[0].key[0] if same[0].key else 1
            allowed = sorted({v for s in same if s.key for v in s.key[1]})
            if segment.get(index) in allowed:  # a known qualifier after a later position: say so
                current = frame.loop.items[frame.index]
                after = current.label() if isinstance(current, Seg) else f"loop {current.id}"
                return (
                    f"{segment.id}{index:02d} {segment.get(index)!r}: {segment.id} is out of order in loop "
                    f"{frame.loop.id} ({frame.loop.name}); it comes before {after}"
                )
            return (
                f"{segment.id}{index:02d} {segment.get(index)!r} is not expected in loop {frame.loop.id} "
                f"({frame.loop.name}); allowed: {', '.join(allowed)}"
            )
        if same:
            return f"{segment.id} is out of place in loop {frame.loop.id} ({frame.loop.name})"
    return f"segment {segment.id} is not part of this transaction at this place"


def check_body(body: Sequence[Segment], spec: Loop, st: Segment, delims: Delimiters) -> list[Issue]:
    """Loop structure, repeats and element rules of the segments between ST and SE."""
    issues: list[Issue] = []
    stack = [_Frame(spec, index=0)]
    stack[0].counts[0] = 1
    for segment in body:
        found = next(
            (
                (depth, k)
                for depth in range(len(stack) - 1, -1, -1)
                if (k := _find(stack[depth], segment)) is not None
            ),
            None,
        )
        if found is None:  # the stack stays as it is: one stray segment does not close the open loops
            issues.append(Issue(segment.position, segment.id, None, _unexpected(stack, segment)))
            continue
        depth, k = found
        while len(stack) > depth + 1:
            _close(stack.pop(), segment, issues)
        frame = stack[-1]
        item = frame.loop.items[k]
        _missing(frame, frame.loop.position_of[k], segment, issues)  # the slots of k's position may follow
        frame.index = k
        frame.counts[k] += 1
        limit = item.repeat
        if limit and frame.counts[k] > limit:
            label = item.label() if isinstance(item, Seg) else f"loop {item.id}"
            issues.append(
                Issue(segment.position, segment.id, None, f"{label} occurs more than {limit} time(s) here")
            )
        if isinstance(item, Loop):
            child = _Frame(item, index=0, start=segment.position)
            child.counts[0] = 1
            stack.append(child)
            seg_spec = item.trigger
        else:
            seg_spec = item
        for element, reason in _element_issues(seg_spec, segment, delims):
            issues.append(Issue(segment.position, segment.id, element, reason))
    while stack:
        _close(stack.pop(), st, issues)
    return issues


def _header_issues(segment: Segment, checks: Sequence[tuple[int, str, Callable[[str], bool]]]) -> list[Issue]:
    found = []
    for index, what, test in checks:
        value = segment.get(index)
        if not test(value):
            found.append(Issue(segment.position, segment.id, segment.name(index), f"{value!r} is not {what}"))
    return found


def _yymmdd(text: str) -> bool:
    return len(text) == 6 and is_digits(text) and valid_date(("20" if text[:2] < "50" else "19") + text)


#: TA1 (interchange acknowledgement, X12 005010 control segments): TA101 the ISA13 it answers, TA102/TA103
#: that interchange's date and time, TA104 A / E / R, TA105 the note code (000 no error ... 031)
TA1_CHECKS: tuple[tuple[int, str, Callable[[str], bool]], ...] = (
    (1, "a 9-digit interchange control number", lambda t: len(t) == 9 and is_digits(t)),
    (2, "a date YYMMDD", _yymmdd),
    (3, "a time HHMM", lambda t: bool(_TIME.match(t)) and len(t) == 4),
    (4, "A, E or R (accepted, accepted with errors, rejected)", lambda t: t in ("A", "E", "R")),
    (5, "a note code 000-031", lambda t: len(t) == 3 and is_digits(t) and int(t) <= 31),
)


#: the longest simple element of the 005010 transactions we read (MSG01, STC12 free text: 264 characters);
#: a longer element or component is a damaged file, refused before any of it is used or stored
MAX_ELEMENT_CHARS = 264


def _oversized(segments: Sequence[Segment], delims: Delimiters) -> Iterator[Issue]:
    for segment in segments:
        for index, value in enumerate(segment.elements, start=1):
            longest = max(map(len, value.split(delims.component))) if len(value) > MAX_ELEMENT_CHARS else 0
            if longest > MAX_ELEMENT_CHARS:
                yield Issue(segment.position, segment.id, segment.name(index),
                            f"{len(value)} characters: longer than any X12 005010 element allows (at most "
                            f"{MAX_ELEMENT_CHARS}); the file is damaged")


def check_interchange(interchange: Interchange, transactions: Mapping[str, Transaction]) -> list[Issue]:
    """Envelopes (ISA/GS/ST and their trailers and counts), element sizes and every transaction set's
    body, of every interchange in the file: clearinghouse downloads put several ISA...IEA one after the
    other, and each is checked on its own (positions stay those of the whole file)."""
    segments = interchange.segments
    starts = [0] + [i for i, segment in enumerate(segments) if i and segment.id == "ISA"]
    issues: list[Issue] = []
    for start, end in zip(starts, [*starts[1:], len(segments)], strict=True):
        if start:
            issues += _later_isa_issues(segments[start], interchange.delimiters)
        part = Interchange(interchange.delimiters, segments[start:end], interchange.source)
        issues += _check_one_interchange(part, transactions)
    return issues


def _later_isa_issues(isa: Segment, delims: Delimiters) -> list[Issue]:
    """A later ISA was split with the first one's separators: it must declare the same ones, or its
    composites and repetitions would be read with the wrong separator."""
    if len(isa.elements) != 16:
        reason = (f"the ISA has {len(isa.elements)} elements; it needs 16 (separated by the first "
                  f"interchange's {delims.element!r})")
        return [Issue(isa.position, "ISA", None, reason)]
    issues = [Issue(isa.position, "ISA", field, reason)
              for field, reason in isa_width_problems([isa.get(k) for k in range(1, 16)])]
    repetition = isa.get(11)
    if isa.get(16) != delims.component or (not repetition.isalnum() and repetition != delims.repetition):
        reason = "this interchange declares other separators than the file's first one; send it on its own"
        issues.append(Issue(isa.position, "ISA", "ISA16", reason))
    return issues


def _check_one_interchange(interchange: Interchange, transactions: Mapping[str, Transaction]) -> list[Issue]:
    segments = interchange.segments
    issues: list[Issue] = list(_oversized(segments, interchange.delimiters))
    isa = segments[0]
    issues += _header_issues(
        isa,
        [
            (9, "a date YYMMDD", _yymmdd),
            (10, "a time HHMM", lambda t: bool(_TIME.match(t)) and len(t) == 4),
            (12, "version 00501", lambda t: t == "00501"),
            (13, "a 9-digit control number", lambda t: len(t) == 9 and is_digits(t)),
        ],
    )
    groups = 0
    index = 1
    n = len(segments)
    acknowledgements = 0
    while index < n and segments[index].id == "TA1":  # interchange acknowledgements precede any group
        acknowledgements += 1
        issues += _header_issues(segments[index], TA1_CHECKS)
        index += 1
    while index < n and segments[index].id == "GS":
        gs = segments[index]
        groups += 1
        issues += _header_issues(
            gs,
            [
                (4, "a date CCYYMMDD", valid_date),
                (5, "a time HHMM[SS]", lambda t: bool(_TIME.match(t))),
                (6, "a group control number", lambda t: is_digits(t) and 0 < len(t) <= 9),
            ],
        )
        transaction = transactions.get(gs.get(1))
        if transaction is None:
            kinds = ", ".join(f"{t.functional_id} ({t.code})" for t in transactions.values())
            issues.append(Issue(gs.position, "GS", "GS01", f"{gs.get(1)!r} is not one of {kinds}"))
            return issues
        if gs.get(8) not in transaction.versions:
            issues.append(
                Issue(
                    gs.position,
                    "GS",
                    "GS08",
                    f"{gs.get(8)!r} is not {'/'.join(sorted(transaction.versions))}",
                )
            )
        index += 1
        sets = 0
        while index < n and segments[index].id == "ST":
            st = segments[index]
            sets += 1
            if st.get(1) != transaction.code:
                issues.append(Issue(st.position, "ST", "ST01", f"{st.get(1)!r} is not {transaction.code}"))
            end = index + 1
            while end < n and segments[end].id not in ("SE", "ST", "GE", "GS", "IEA"):
                end += 1
            issues += check_body(segments[index + 1 : end], transaction.body, st, interchange.delimiters)
            if end >= n or segments[end].id != "SE":
                at = segments[end] if end < n else segments[-1]
                issues.append(
                    Issue(
                        at.position, at.id, None, f"transaction set {st.get(2)} has no SE trailer before this"
                    )
                )
                index = end
                continue
            se = segments[end]
            if se.get(1) != str(end - index + 1):
                issues.append(
                    Issue(
                        se.position, "SE", "SE01", f"{se.get(1)!r} but the set has {end - index + 1} segments"
                    )
                )
            if se.get(2) != st.get(2):
                issues.append(
                    Issue(se.position, "SE", "SE02", f"{se.get(2)!r} does not match ST02 {st.get(2)!r}")
                )
            index = end + 1
        if index >= n or segments[index].id != "GE":
            at = segments[min(index, n - 1)]
            issues.append(Issue(at.position, at.id, None, f"functional group {gs.get(6)} has no GE trailer"))
            return issues
        ge = segments[index]
        if ge.get(1) != str(sets):
            issues.append(
                Issue(ge.position, "GE", "GE01", f"{ge.get(1)!r} but the group holds {sets} set(s)")
            )
        if ge.get(2) != gs.get(6):
            issues.append(
                Issue(ge.position, "GE", "GE02", f"{ge.get(2)!r} does not match GS06 {gs.get(6)!r}")
            )
        index += 1
    if groups == 0 and not acknowledgements:
        at = segments[min(1, n - 1)]
        issues.append(Issue(at.position, at.id, None, "a functional group (GS) must follow the ISA"))
        return issues
    if index >= n or segments[index].id != "IEA":
        at = segments[min(index, n - 1)]
        issues.append(Issue(at.position, at.id, None, "the interchange has no IEA trailer here"))
        return issues
    iea = segments[index]
    if iea.get(1) != str(groups):
        issues.append(Issue(iea.position, "IEA", "IEA01", f"{iea.get(1)!r} but the interchange has {groups}"))
    if iea.get(2) != isa.get(13):
        issues.append(
            Issue(iea.position, "IEA", "IEA02", f"{iea.get(2)!r} does not match ISA13 {isa.get(13)!r}")
        )
    if index + 1 < n:
        extra = segments[index + 1]
        issues.append(Issue(extra.position, extra.id, None, "segments after the IEA trailer"))
    return issues


def validate(interchange: Interchange, transactions: Mapping[str, Transaction]) -> None:
    """Raise :class:`X12ValidationError` (every issue, the first named) when the checks fail."""
    issues = check_interchange(interchange, transactions)
    if issues:
        raise X12ValidationError(interchange.source, issues)
