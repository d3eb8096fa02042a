"""Acknowledgements of our 837Ps: the 999 (005010X231A1) and the 277CA (005010X214).

* 999: per functional group (AK1-02 = our GS06) and transaction set (AK2-02 = our ST02), IK5 ``A``/``E``
  accepts the set and ``R``/``M``/``W``/``X`` rejects it, i.e. every claim in it; IK3/IK4 name the
  segment and element at fault. Without AK2 loops the group's AK9 speaks for every set.
* 277CA: per claim (2200D TRN02 = our CLM01) the STC01 category: A1/A2 received or accepted into
  adjudication, A3/A6/A7/A8 rejected (never adjudicated: fix and send as a new original), A4 not found
  (rejected as well: the payer has no record of it, so it is sent again), and the payer's claim number in
  REF*1K.
* TA1: per interchange (TA101 = our ISA13) TA104 ``A``/``E`` accepted, ``R`` rejected whole (no group of it
  was read, so none of its claims), TA105 the note code saying why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from ecgdesk.claims.grammar import Issue, X12ValidationError, check_interchange
from ecgdesk.claims.specs import ACKNOWLEDGMENT, CLAIM_ACKNOWLEDGMENT
from ecgdesk.claims.x12 import Interchange, Segment, parse_amount, parse_date, read_file, read_text

ACCEPTED_SET = frozenset({"A", "E"})
#: A4 (not found) too: the payer has no record of the claim, so it was never adjudicated either and is sent
#: again like a rejected one (claims-lifecycle.md section 1)
REJECTING_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})
ACCEPTING_CATEGORIES = frozenset({"A1", "A2"})

#: STC01-1 claim status categories, in our words.
CATEGORY_MEANING = {
    "A0": "forwarded to another entity",
    "A1": "received (not yet in adjudication)",
    "A2": "accepted into adjudication",
    "A3": "returned as unprocessable",
    "A4": "not found: the payer has no record of the claim; send it again",
    "A5": "split claim",
    "A6": "rejected for missing information",
    "A7": "rejected for invalid information",
    "A8": "rejected for relational field in error",
}

#: IK304 segment syntax error codes and IK403 element codes, in our words.
SEGMENT_ERRORS = {
    "1": "unrecognized segment",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs too many times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "segment not used in this implementation",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs too few times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent not used segment present",
}
ELEMENT_ERRORS = {
    "1": "required element missing",
    "2": "conditional element missing",
    "3": "too many elements",
    "4": "element too short",
    "5": "element too long",
    "6": "invalid character",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I10": "implementation not used element present",
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": "implementation dependent element missing",
    "I6": "code value not used in implementation",
    "I9": "implementation dependent element missing",
}


@dataclass(frozen=True)
class SetAck:
    """The acknowledgement of one of our transaction sets (every claim in it shares it)."""

    group_control: str
    set_control: str
    status: str
    errors: tuple[str, ...]
    #: each error with the position in the set of the segment it names (IK302; an IK4 its IK3's, 0 unknown)
    located: tuple[tuple[int, str], ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status in ACCEPTED_SET


@dataclass(frozen=True)
class FunctionalAck:
    """A 999: the sets of one of our functional groups, accepted or rejected."""

    group_control: str
    functional_id: str
    group_status: str
    sets: tuple[SetAck, ...]
    received_sets: int
    accepted_sets: int

    def set_status(self, set_control: str) -> SetAck:
        """The set's own IK5, or the group's AK9 where the 999 lists no AK2 for it."""
        for ack in self.sets:
            if ack.set_control == set_control:
                return ack
        status = "A" if self.group_status in ("A", "E") else "R"
        return SetAck(self.group_control, set_control, status, ())


@dataclass(frozen=True)
class StatusCode:
    """One claim status composite (STC01, STC10 or STC11): category, status code, entity."""

    category: str
    code: str
    entity: str

    def reason(self) -> str:
        meaning = CATEGORY_MEANING.get(self.category, "status category not known to ECG Desk")
        entity = f", entity {self.entity}" if self.entity else ""
        return f"{self.category} {meaning} (status code {self.code}{entity})"


@dataclass(frozen=True)
class ClaimAck:
    """A 277CA claim-level status: ``category``, ``status_code`` and ``entity`` are the deciding status
    (the first rejecting one, else the first), ``statuses`` every one the claim's STCs hold."""

    claim_id: str
    category: str
    status_code: str
    entity: str
    payer_claim_number: str | None
    amount: Decimal | None
    status_date: date | None
    position: int
    statuses: tuple[StatusCode, ...] = ()

    @property
    def rejected(self) -> bool:
        return self.category in REJECTING_CATEGORIES

    @property
    def accepted(self) -> bool:
        return self.category in ACCEPTING_CATEGORIES

    def reason(self) -> str:
        deciding = StatusCode(self.category, self.status_code, self.entity)
        return "; ".join(s.reason() for s in self.statuses or (deciding,))


@dataclass(frozen=True)
class ClaimAckFile:
    """A 277CA: the payer (or clearinghouse) and each claim's status."""

    source_name: str
    claims: tuple[ClaimAck, ...]
    content_sha256: str


#: TA105 interchange note codes (X12 I18), in our words.
TA1_NOTES = {
    "000": "no error",
    "001": "the interchange control numbers in the ISA and IEA do not match",
    "002": "this standard (ISA11) is not supported",
    "003": "this version of the controls (ISA12) is not supported",
    "004": "the segment terminator is invalid",
    "005": "invalid interchange id qualifier for the sender",
    "006": "invalid interchange sender id",
    "007": "invalid interchange id qualifier for the receiver",
    "008": "invalid interchange receiver id",
    "009": "unknown interchange receiver id",
    "010": "invalid authorization information qualifier",
    "011": "invalid authorization information",
    "012": "invalid security information qualifier",
    "013": "invalid security information",
    "014": "invalid interchange date",
    "015": "invalid interchange time",
    "016": "invalid interchange standards identifier",
    "017": "invalid interchange version id",
    "018": "invalid interchange control number",
    "019": "invalid acknowledgment requested value",
    "020": "invalid test indicator value",
    "021": "invalid number of included groups",
    "022": "invalid control structure",
    "023": "improper (premature) end of file",
    "024": "invalid interchange content (e.g. an invalid GS segment)",
    "025": "duplicate interchange control number",
    "026": "invalid data element separator",
    "027": "invalid component element separator",
    "028": "invalid delivery date in a deferred delivery request",
    "029": "invalid delivery time in a deferred delivery request",
    "030": "invalid delivery time code in a deferred delivery request",
    "031": "invalid grade of service code",
}
TA1_STATUS = {"A": "accepted", "E": "accepted with errors", "R": "rejected"}


@dataclass(frozen=True)
class InterchangeAck:
    """A TA1: what the receiver said of one of our interchanges (``control`` = our ISA13) as a whole."""

    control: str
    status: str
    note: str
    position: int

    @property
    def rejected(self) -> bool:
        return self.status == "R"

    def reason(self) -> str:
        return (
            f"TA1 {self.status}: interchange {self.control} {TA1_STATUS[self.status]} "
            f"(note {self.note}: {TA1_NOTES.get(self.note, 'not known to ECG Desk')})"
        )


def read_ta1(interchange: Interchange) -> list[InterchangeAck]:
    """The TA1 segments of an interchange (checked with its envelope by ``check_interchange``)."""
    found = [s for s in interchange.segments if s.id == "TA1"]
    return [InterchangeAck(s.get(1), s.get(4), s.get(5), s.position) for s in found]


def check_ta1_only(interchange: Interchange) -> None:
    """An interchange holding TA1s and no group: its envelope and TA1s checked (refused whole when broken).
    A later interchange of the file holding a group is refused: applied as a TA1 file, it would be dropped."""
    group = next((s for s in interchange.segments if s.id == "GS"), None)
    if group is not None:
        reason = "a file starting with a TA1 interchange holds a functional group too: send each on its own"
        raise X12ValidationError(interchange.source, [Issue(group.position, "GS", None, reason)])
    issues = check_interchange(interchange, {})
    if issues:
        raise X12ValidationError(interchange.source, issues)


def _load(path: Path | str | None, text: str | None) -> Interchange:
    if text is not None:
        return read_text(text, path)
    assert path is not None
    return read_file(path)


def kind_of(interchange: Interchange) -> str:
    """``999`` or ``277`` from the functional group id (GS01 FA / HN)."""
    for segment in interchange.segments[:3]:
        if segment.id == "GS":
            return {"FA": "999", "HN": "277", "HP": "835", "HC": "837"}.get(segment.get(1), segment.get(1))
    return ""


def _ik_errors(segment: Segment, component: str) -> str:
    if segment.id == "IK3":
        meaning = SEGMENT_ERRORS.get(segment.get(4), f"code {segment.get(4)}")
        return f"{segment.get(1)} (segment {segment.get(2)}): {meaning}"
    element = segment.get(1).split(component)[0]
    meaning = ELEMENT_ERRORS.get(segment.get(3), f"code {segment.get(3)}")
    bad = f" {segment.get(4)!r}" if segment.get(4) else ""
    return f"element {element}: {meaning}{bad}"


def read_999(path: Path | str | None = None, text: str | None = None) -> list[FunctionalAck]:
    """Every 999 transaction set of a file, checked first (refused whole when broken)."""
    interchange = _load(path, text)
    issues = check_interchange(interchange, {ACKNOWLEDGMENT.functional_id: ACKNOWLEDGMENT})
    if issues:
        raise X12ValidationError(interchange.source, issues)
    component = interchange.delimiters.component
    acks: list[FunctionalAck] = []
    ak1: Segment | None = None
    sets: list[SetAck] = []
    ak2: Segment | None = None
    errors: list[tuple[int, str]] = []
    at = 0
    for segment in interchange.segments:
        if segment.id == "AK1":
            ak1, sets = segment, []
        elif segment.id == "AK2":
            ak2, errors = segment, []
        elif segment.id in ("IK3", "IK4"):
            if segment.id == "IK3":
                at = int(segment.get(2)) if segment.get(2).isdigit() else 0
            errors.append((at, _ik_errors(segment, component)))
        elif segment.id == "IK5" and ak1 is not None and ak2 is not None:
            texts = tuple(text for _, text in errors)
            sets.append(SetAck(ak1.get(2), ak2.get(2), segment.get(1), texts, tuple(errors)))
            ak2 = None
        elif segment.id == "AK9" and ak1 is not None:
            acks.append(
                FunctionalAck(
                    ak1.get(2),
                    ak1.get(1),
                    segment.get(1),
                    tuple(sets),
                    int(segment.get(3)),  # required and digits only: checked above (specs AK9)
                    int(segment.get(4)),
                )
            )
            ak1 = None
    return acks


def read_277ca(path: Path | str | None = None, text: str | None = None) -> ClaimAckFile:
    """The claim statuses of a 277CA, checked first (refused whole when broken)."""
    interchange = _load(path, text)
    issues = check_interchange(interchange, {CLAIM_ACKNOWLEDGMENT.functional_id: CLAIM_ACKNOWLEDGMENT})
    if issues:
        raise X12ValidationError(interchange.source, issues)
    raw = text.encode("utf-8") if text is not None else Path(path or "").read_bytes()
    component = interchange.delimiters.component
    claims: list[ClaimAck] = []
    level = ""
    trn: Segment | None = None
    stcs: list[Segment] = []  # the claim-level STCs (loop 2200D); a service line's (2220D) are not read
    in_line = False
    ref: str | None = None
    source_name = ""

    def flush() -> None:
        if trn is None or not stcs:
            return
        first = stcs[0]
        # STC01 and the further status composites STC10 and STC11 of every claim-level STC: a rejection
        # in any of them rejects the claim
        statuses = [
            StatusCode(parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "")
            for stc in stcs
            for index in (1, 10, 11)
            if (parts := stc.get(index).split(component))[0]
        ]
        deciding = next((s for s in statuses if s.category in REJECTING_CATEGORIES), statuses[0])
        when = first.get(2)
        claims.append(
            ClaimAck(
                trn.get(2),
                deciding.category,
                deciding.code,
                deciding.entity,
                ref,
                parse_amount(first, 4, interchange.source) if first.get(4) else None,
                parse_date(first, 2, interchange.source) if when else None,
                trn.position,
                tuple(statuses),
            )
        )

    for segment in interchange.segments:
        if segment.id == "HL":
            if level == "PT":
                flush()
            level, trn, stcs, ref, in_line = segment.get(3), None, [], None, False
        elif level == "20" and segment.id == "NM1":
            source_name = segment.get(3)
        elif level == "PT" and segment.id == "TRN":
            flush()
            trn, stcs, ref, in_line = segment, [], None, False
        elif level == "PT" and segment.id == "SVC":
            in_line = True
        elif level == "PT" and segment.id == "STC" and trn is not None and not in_line:
            stcs.append(segment)
        elif level == "PT" and segment.id == "REF" and segment.get(1) == "1K" and not in_line:
            ref = segment.get(2)
        elif segment.id == "SE" and level == "PT":
            flush()
            level = ""
    return ClaimAckFile(source_name, tuple(claims), hashlib.sha256(raw).hexdigest())


def set_errors(acks: Sequence[FunctionalAck]) -> dict[tuple[str, str], SetAck]:
    """Every listed set's acknowledgement by (group control, set control)."""
    return {(s.group_control, s.set_control): s for ack in acks for s in ack.sets}


def claims_in_set(interchange: Interchange) -> list[tuple[int, int, tuple[str, ...]]]:
    """Where the claims of our 837 (one transaction set) lie, for a 999's IK302 (a segment's position in
    the set, ST = 1): per subscriber loop (2000B, with its 2000C and 2300 claims) its first and last
    position and its claims' CLM01. Segments outside these (the header, 2000A) belong to every claim."""
    loops: list[tuple[int, int, tuple[str, ...]]] = []
    start: int | None = None
    current: tuple[int, list[str]] | None = None
    last = 0
    for segment in interchange.segments:
        if segment.id == "ST":
            start = segment.position
        if start is None:
            continue
        at = segment.position - start + 1
        if segment.id == "SE" or (segment.id == "HL" and segment.get(3) in ("20", "22")):
            if current is not None:
                loops.append((current[0], last, tuple(current[1])))
            current = (at, []) if segment.id == "HL" and segment.get(3) == "22" else None
        if current is not None and segment.id == "CLM":
            current[1].append(segment.get(1))
        last = at
        if segment.id == "SE":
            break
    return loops
