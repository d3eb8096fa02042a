"""The 837P writer (ASC X12 005010X222A1): one interchange, one group, one transaction set per file.

Loop layout (TR3 section 2.3): 1000A submitter, 1000B receiver, then per billing provider a 2000A
billing-provider level and, per claim, a 2000B subscriber level (SBR, 2010BA subscriber, 2010BB payer),
a 2000C patient level when the patient is not the subscriber, and the 2300 claim with HI (ICD-10-CM
``ABK``/``ABF``), 2310B rendering provider when it is not the billing provider, and 2400 lines (LX, SV1,
DTP*472, REF*6R, 2420E ordering provider). A claim that fails :func:`~ecgdesk.claims.tr3.claim_problems`
is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ecgdesk.claims.model import (
    BillingProvider,
    CobAdjustment,
    Envelope,
    Frequency,
    OtherPayer,
    Party,
    Person,
    ProfessionalClaim,
    Provider,
    ServiceLine,
)
from ecgdesk.claims.tr3 import Problem, claim_problems
from ecgdesk.claims.x12 import (
    STANDARD,
    Delimiters,
    SegmentWriter,
    clean_text,
    collector_paused,
    d8,
    format_amount,
    isa_segment,
)
from ecgdesk.errors import InputError

VERSION = "005010X222A1"


class ClaimRefusedError(InputError):
    """Claims that may not be written, with every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"claim {first.claim_id}: {first.field}", f"{first.reason}{more}")


@dataclass(frozen=True)
class Written:
    """A written 837P: its text, the claim ids in it and its control numbers."""

    text: str
    claim_ids: tuple[str, ...]
    interchange_control: int
    group_control: int
    segments: int


def _name(w: SegmentWriter, qualifier: str, provider: Provider) -> None:
    first = "" if provider.entity == "2" else provider.first
    w.name(qualifier, provider.entity, provider.last, first, "XX", provider.npi)


def _address(w: SegmentWriter, line1: str, line2: str, city: str, state: str, zip_code: str) -> None:
    w.add("N3", clean_text(line1, 55), clean_text(line2, 55) or None)
    w.add("N4", clean_text(city, 30), state, zip_code.replace("-", ""))


def _person(w: SegmentWriter, qualifier: str, person: Person, member_id: str | None) -> None:
    w.name(qualifier, "1", person.last, person.first, "MI", member_id, person.middle)
    a = person.address
    _address(w, a.line1, a.line2, a.city, a.state, a.zip)
    w.add("DMG", "D8", d8(person.birth_date), person.sex)


def _billing(w: SegmentWriter, billing: BillingProvider, hl: int) -> None:
    w.add("HL", str(hl), None, "20", "1")
    if billing.taxonomy:
        w.add("PRV", "BI", "PXC", billing.taxonomy)
    w.name("85", "2", billing.name, "", "XX", billing.npi)
    a = billing.address
    _address(w, a.line1, a.line2, a.city, a.state, a.zip)
    w.add("REF", "EI", billing.tin.replace("-", ""))


def _cas(w: SegmentWriter, adjustments: Sequence[CobAdjustment]) -> None:
    """CAS segments as the 835 gave them: one per group code (in the order met), six reasons a segment."""
    groups: dict[str, list[CobAdjustment]] = {}
    for adjustment in adjustments:
        groups.setdefault(adjustment.group, []).append(adjustment)
    for group, found in groups.items():
        for start in range(0, len(found), 6):
            triplets: list[str | None] = []
            for a in found[start : start + 6]:
                triplets += [a.reason, format_amount(a.amount), None]
            while triplets and triplets[-1] is None:
                triplets.pop()
            w.add("CAS", group, *triplets)


def _other_payer(w: SegmentWriter, other: OtherPayer, claim: ProfessionalClaim) -> None:
    """Loops 2320 (SBR, CAS, AMT*D, OI), 2330A (its subscriber) and 2330B (the payer, REF*F8 its claim
    number): the earlier payer's determination the next payer coordinates with."""
    w.add(
        "SBR",
        other.responsibility,
        other.relationship.value,
        clean_text(other.group_number, 50) or None,
        None,
        None,
        None,
        None,
        None,
        other.filing_indicator,
    )
    _cas(w, other.adjustments)
    w.add("AMT", "D", format_amount(other.paid))
    w.add("OI", None, None, "Y" if claim.benefits_assigned else "N", None, None, "Y")
    w.name("IL", "1", other.subscriber_last, other.subscriber_first, "MI", other.member_id)
    w.name("PR", "2", other.name, "", "PI", other.payer_id)
    if not other.lines:  # the date goes in 2430 when the lines carry the determination
        w.add("DTP", "573", "D8", d8(other.adjudicated))
    if other.claim_number:
        w.add("REF", "F8", other.claim_number)


def _line_adjudications(w: SegmentWriter, line: ServiceLine, claim: ProfessionalClaim) -> None:
    for other in claim.other_payers:
        for found in other.lines:
            if found.control != line.control:
                continue
            w.add(
                "SVD",
                other.payer_id,
                format_amount(found.paid),
                ["HC", line.code, *line.modifiers],
                None,
                str(found.units),
            )
            _cas(w, found.adjustments)
            w.add("DTP", "573", "D8", d8(other.adjudicated))


def _line(
    w: SegmentWriter, number: int, line: ServiceLine, claim_pos: str, claim: ProfessionalClaim
) -> None:
    w.add("LX", str(number))
    w.add(
        "SV1",
        ["HC", line.code, *line.modifiers],
        format_amount(line.charge),
        "UN",
        str(line.units),
        line.place_of_service if line.place_of_service not in (None, claim_pos) else None,
        None,
        [str(p) for p in line.pointers],
    )
    if line.date_to is not None and line.date_to != line.date_from:
        w.add("DTP", "472", "RD8", f"{d8(line.date_from)}-{d8(line.date_to)}")
    else:
        w.add("DTP", "472", "D8", d8(line.date_from))
    w.add("REF", "6R", line.control)
    if line.ordering is not None:
        _name(w, "DK", line.ordering)
    _line_adjudications(w, line, claim)


def _claim(w: SegmentWriter, claim: ProfessionalClaim) -> None:
    w.add(
        "CLM",
        claim.claim_id,
        format_amount(claim.total_charge),
        None,
        None,
        [claim.place_of_service, "B", claim.frequency.value],
        "Y",
        "A" if claim.accept_assignment else "C",
        "Y" if claim.benefits_assigned else "N",
        "Y",
    )
    if claim.prior_authorization:
        w.add("REF", "G1", claim.prior_authorization)
    if claim.frequency is not Frequency.ORIGINAL and claim.payer_claim_number:
        w.add("REF", "F8", claim.payer_claim_number)
    codes = [code.replace(".", "").upper() for code in claim.diagnoses]
    w.add("HI", *[["ABK" if i == 0 else "ABF", code] for i, code in enumerate(codes)])
    rendering = claim.rendering
    if rendering is not None and rendering.npi != claim.billing.npi:
        _name(w, "82", rendering)
        if rendering.taxonomy:
            w.add("PRV", "PE", "PXC", rendering.taxonomy)
    for other in claim.other_payers:
        _other_payer(w, other, claim)
    for number, line in enumerate(claim.lines, start=1):
        _line(w, number, line, claim.place_of_service, claim)


def write_837p(
    claims: Sequence[ProfessionalClaim],
    submitter: Party,
    receiver: Party,
    envelope: Envelope,
    delimiters: Delimiters = STANDARD,
) -> Written:
    """The 837P interchange of ``claims`` (all for one receiver), or :class:`ClaimRefusedError` naming every
    claim that fails the TR3 checks (nothing is written then)."""
    with collector_paused():
        return _write(claims, submitter, receiver, envelope, delimiters)


def _write(
    claims: Sequence[ProfessionalClaim],
    submitter: Party,
    receiver: Party,
    envelope: Envelope,
    delimiters: Delimiters,
) -> Written:
    if not claims:
        raise InputError("claims", "no claim to write")
    problems = [p for claim in claims for p in claim_problems(claim)]
    if problems:
        raise ClaimRefusedError(problems)
    ids = [c.claim_id for c in claims]
    if len(set(ids)) != len(ids):
        raise InputError("CLM01", "a claim id appears twice in one file")
    w = SegmentWriter(delimiters)
    stamp = envelope.created
    w.add_raw(
        isa_segment(
            delimiters,
            envelope.sender_id,
            envelope.receiver_id,
            envelope.interchange_control,
            (stamp.strftime("%y%m%d"), stamp.strftime("%H%M")),
            envelope.usage,
        )
    )
    w.add(
        "GS",
        "HC",
        envelope.sender_id,
        envelope.receiver_id,
        stamp.strftime("%Y%m%d"),
        stamp.strftime("%H%M"),
        str(envelope.group_control),
        "X",
        VERSION,
    )
    st_start = len(w)
    w.add("ST", "837", envelope.transaction_control, VERSION)
    w.add(
        "BHT",
        "0019",
        "00",
        envelope.reference or str(envelope.interchange_control),
        stamp.strftime("%Y%m%d"),
        stamp.strftime("%H%M"),
        "CH",
    )
    w.name("41", "2", submitter.name, "", "46", submitter.identifier)
    w.add("PER", "IC", clean_text(submitter.contact_name, 60), "TE", submitter.contact_phone)
    w.name("40", "2", receiver.name, "", "46", receiver.identifier)
    hl = 0
    by_billing: dict[BillingProvider, list[ProfessionalClaim]] = {}
    for claim in claims:
        by_billing.setdefault(claim.billing, []).append(claim)
    for billing, group in by_billing.items():
        hl += 1
        parent = hl
        _billing(w, billing, hl)
        for claim in group:
            hl += 1
            subscriber_hl = hl
            has_patient = claim.patient is not None
            w.add("HL", str(hl), str(parent), "22", "1" if has_patient else "0")
            w.add(
                "SBR",
                claim.payer.responsibility,
                "18" if not has_patient else None,
                clean_text(claim.group_number, 50) or None,
                None,
                None,
                None,
                None,
                None,
                claim.payer.filing_indicator,
            )
            _person(w, "IL", claim.subscriber, claim.subscriber_id)
            w.name("PR", "2", claim.payer.name, "", "PI", claim.payer.payer_id)
            if claim.patient is not None:
                hl += 1
                w.add("HL", str(hl), str(subscriber_hl), "23", "0")
                w.add("PAT", claim.relationship.value)
                _person(w, "QC", claim.patient, None)
            _claim(w, claim)
    w.add("SE", str(len(w) - st_start + 1), envelope.transaction_control)
    w.add("GE", "1", str(envelope.group_control))
    w.add("IEA", "1", f"{envelope.interchange_control:09d}")
    return Written(w.text(), tuple(ids), envelope.interchange_control, envelope.group_control, len(w))
