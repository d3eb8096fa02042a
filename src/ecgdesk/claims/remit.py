"""Reading an 835 (005010X221A1) into typed remittances, and its three balancing rules.

:func:`read_remittances` checks the file first (envelopes, loops, required segments and elements; see
:mod:`ecgdesk.claims.grammar`), then the balancing of every line, claim and payment (TR3 section 1.10.2):

* line: SVC02 - sum of the line's CAS amounts = SVC03;
* claim: CLP03 - sum of the claim's and its lines' CAS amounts + the claim's interest (AMT*I) = CLP04;
* payment: sum of CLP04 - sum of PLB amounts = BPR02 (negated for a debit, BPR03 ``D``).

A file that fails any check is refused whole (:class:`~ecgdesk.claims.grammar.X12ValidationError`), so a
caller never posts part of an unbalanced remittance. A positive CAS or PLB amount lowers the payment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from ecgdesk.claims.grammar import Issue, X12ValidationError, check_interchange
from ecgdesk.claims.specs import REMITTANCE
from ecgdesk.claims.x12 import (
    Interchange,
    Segment,
    collector_paused,
    parse_amount,
    parse_date,
    read_file,
    read_text,
)

#: the elements of MIA and MOA that hold claim payment remark codes (RARC); the others are amounts,
#: quantities and percentages, which a remark list must never pick up (a negative amount included)
REMARK_ELEMENTS = {"MIA": (5, 20, 21, 22, 23, 24), "MOA": (3, 4, 5, 6, 7)}
REVERSAL = "22"
CROSSOVER = frozenset({"19", "20", "21"})
ZERO = Decimal(0)


@dataclass(frozen=True)
class Adjustment:
    """One CAS triplet: group (CO, OA, PI, PR), reason (CARC), amount, optional quantity."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True)
class RemitLine:
    """A 2110 service payment."""

    qualifier: str
    code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    paid: Decimal
    units: Decimal | None
    submitted_code: str | None
    submitted_modifiers: tuple[str, ...]
    control: str | None
    date_from: date | None
    date_to: date | None
    adjustments: tuple[Adjustment, ...]
    remarks: tuple[str, ...]
    allowed: Decimal | None
    position: int

    @property
    def adjusted(self) -> Decimal:
        return sum((a.amount for a in self.adjustments), ZERO)


@dataclass(frozen=True)
class RemitClaim:
    """A 2100 claim payment."""

    claim_id: str
    status: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    filing_indicator: str
    payer_claim_number: str
    adjustments: tuple[Adjustment, ...]
    lines: tuple[RemitLine, ...]
    patient_name: str
    crossover_carrier: str | None
    remarks: tuple[str, ...]
    date_from: date | None
    date_to: date | None
    position: int
    # 2100 AMT*I: interest the payer adds to CLP04 (Medicare prompt-pay interest), offset by no CAS; income
    # on the claim, not a payment of its charge
    interest: Decimal = ZERO
    # 2100 NM1*74: the insured's name and id as the payer corrected them (our claim carried others), empty
    # when the payer corrected nothing; the coverage is to be set right before the next claim
    corrected_insured: str = ""

    @property
    def charge_paid(self) -> Decimal:
        """What the payer paid of the charge: CLP04 less the interest it carries."""
        return self.paid - self.interest

    @property
    def reversal(self) -> bool:
        return self.status == REVERSAL

    @property
    def crossover(self) -> bool:
        """The payer forwarded the claim to the next payer itself: no secondary claim from us."""
        return self.status in CROSSOVER or self.crossover_carrier is not None

    def all_adjustments(self) -> Iterator[Adjustment]:
        yield from self.adjustments
        for line in self.lines:
            yield from line.adjustments


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB adjustment: reason (L6 interest, WO recovery, 72, FB ...), reference and amount."""

    provider_id: str
    fiscal_date: date
    reason: str
    reference: str
    amount: Decimal
    position: int


@dataclass(frozen=True)
class Remittance:
    """One 835 transaction set: the payment, its trace number and the claims it pays."""

    source: str
    handling: str
    payment: Decimal
    credit: bool
    method: str
    payment_date: date
    trace_number: str
    payer_trace_id: str
    payer_name: str
    payer_id: str
    payee_name: str
    payee_id: str
    production_date: date | None
    claims: tuple[RemitClaim, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    content_sha256: str = ""
    set_control: str = ""
    position: int = 0
    payer_contact: str = ""
    bpr_position: int = 0

    @property
    def key(self) -> tuple[str, str]:
        """The duplicate key of X12 RFI 1847: payer (TRN03) and check/EFT trace number (TRN02)."""
        return (self.payer_trace_id, self.trace_number)


def _adjustments(segment: Segment, source: str) -> list[Adjustment]:
    found = []
    for start in (2, 5, 8, 11, 14, 17):
        reason = segment.get(start)
        if not reason:
            continue
        quantity = segment.get(start + 2)
        found.append(
            Adjustment(
                segment.get(1),
                reason,
                parse_amount(segment, start + 1, source),
                parse_amount(segment, start + 2, source) if quantity else None,
            )
        )
    return found


def _procedure(text: str, component: str) -> tuple[str, str, tuple[str, ...]]:
    parts = text.split(component)
    return parts[0], parts[1] if len(parts) > 1 else "", tuple(p for p in parts[2:6] if p)


@dataclass
class _LineBuilder:
    svc: Segment
    source: str
    component: str
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    control: str | None = None
    dates: dict[str, date] = field(default_factory=dict)
    allowed: Decimal | None = None

    def build(self) -> RemitLine:
        qualifier, code, modifiers = _procedure(self.svc.get(1), self.component)
        submitted = self.svc.get(6)
        sub_code, sub_mods = (None, ()) if not submitted else _procedure(submitted, self.component)[1:]
        units_text = self.svc.get(5)
        start = self.dates.get("150") or self.dates.get("472")
        return RemitLine(
            qualifier,
            code,
            modifiers,
            parse_amount(self.svc, 2, self.source),
            parse_amount(self.svc, 3, self.source),
            parse_amount(self.svc, 5, self.source) if units_text else None,
            sub_code or None,
            tuple(sub_mods),
            self.control,
            start,
            self.dates.get("151") or start,
            tuple(self.adjustments),
            tuple(self.remarks),
            self.allowed,
            self.svc.position,
        )


@dataclass
class _ClaimBuilder:
    clp: Segment
    source: str
    adjustments: list[Adjustment] = field(default_factory=list)
    lines: list[RemitLine] = field(default_factory=list)
    line: _LineBuilder | None = None
    patient: str = ""
    crossover: str | None = None
    remarks: list[str] = field(default_factory=list)
    dates: dict[str, date] = field(default_factory=dict)
    interest: Decimal = ZERO
    corrected: str = ""

    def close_line(self) -> None:
        if self.line is not None:
            self.lines.append(self.line.build())
            self.line = None

    def build(self) -> RemitClaim:
        self.close_line()
        clp = self.clp
        return RemitClaim(
            clp.get(1),
            clp.get(2),
            parse_amount(clp, 3, self.source),
            parse_amount(clp, 4, self.source),
            parse_amount(clp, 5, self.source, required=False),
            clp.get(6),
            clp.get(7),
            tuple(self.adjustments),
            tuple(self.lines),
            self.patient,
            self.crossover,
            tuple(self.remarks),
            self.dates.get("232"),
            self.dates.get("233"),
            clp.position,
            self.interest,
            self.corrected,
        )


def _transaction(segments: Sequence[Segment], interchange: Interchange, digest: str) -> Remittance:
    source = interchange.source
    component = interchange.delimiters.component
    header: dict[str, Segment] = {}
    claims: list[RemitClaim] = []
    plbs: list[ProviderAdjustment] = []
    current: _ClaimBuilder | None = None
    party = ""
    for segment in segments:
        sid = segment.id
        if sid in ("BPR", "TRN", "ST") or (sid == "DTM" and segment.get(1) == "405" and current is None):
            header[sid] = segment
        elif sid == "N1":
            party = segment.get(1)
            header[f"N1{party}"] = segment
        elif sid == "PER" and segment.get(1) == "BL" and current is None:
            header.setdefault("PERBL", segment)
        elif sid == "CLP":
            if current is not None:
                claims.append(current.build())
            current = _ClaimBuilder(segment, source)
        elif current is None:
            if sid == "PLB":
                plbs.extend(_plb(segment, source, component))
            continue
        elif sid == "SVC":
            current.close_line()
            current.line = _LineBuilder(segment, source, component)
        elif sid == "CAS":
            target = current.line.adjustments if current.line is not None else current.adjustments
            target.extend(_adjustments(segment, source))
        elif sid == "NM1" and segment.get(1) == "QC":
            current.patient = f"{segment.get(3)}, {segment.get(4)}".strip(", ")
        elif sid == "NM1" and segment.get(1) == "74":
            name = ", ".join(n for n in (segment.get(3), segment.get(4)) if n)
            member = f"member id {segment.get(9)}" if segment.get(9) else ""
            current.corrected = "; ".join(n for n in (name, member) if n)
        elif sid == "NM1" and segment.get(1) == "TT":
            current.crossover = segment.get(3) or segment.get(9) or "crossover"
        elif sid in REMARK_ELEMENTS:
            current.remarks.extend(segment.get(i) for i in REMARK_ELEMENTS[sid] if segment.get(i))
        elif sid == "DTM" and current.line is not None:
            current.line.dates[segment.get(1)] = parse_date(segment, 2, source)
        elif sid == "DTM":
            current.dates[segment.get(1)] = parse_date(segment, 2, source)
        elif sid == "REF" and segment.get(1) == "6R" and current.line is not None:
            current.line.control = segment.get(2)
        elif sid == "AMT" and segment.get(1) == "B6" and current.line is not None:
            current.line.allowed = parse_amount(segment, 2, source)
        elif sid == "AMT" and segment.get(1) == "I" and current.line is None:
            current.interest += parse_amount(segment, 2, source)
        elif sid == "LQ" and segment.get(1) == "HE" and current.line is not None:
            current.line.remarks.append(segment.get(2))
        elif sid == "PLB":
            claims.append(current.build())
            current = None
            plbs.extend(_plb(segment, source, component))
    if current is not None:
        claims.append(current.build())
    bpr, trn = header["BPR"], header["TRN"]
    payer, payee = header["N1PR"], header["N1PE"]
    production = header.get("DTM")
    contact = header.get("PERBL")
    return Remittance(
        source=source,
        handling=bpr.get(1),
        payment=parse_amount(bpr, 2, source),
        credit=bpr.get(3) != "D",
        method=bpr.get(4),
        payment_date=parse_date(bpr, 16, source),
        trace_number=trn.get(2),
        payer_trace_id=trn.get(3),
        payer_name=payer.get(2),
        payer_id=payer.get(4) or trn.get(3),
        payee_name=payee.get(2),
        payee_id=payee.get(4),
        production_date=parse_date(production, 2, source) if production else None,
        claims=tuple(claims),
        provider_adjustments=tuple(plbs),
        content_sha256=digest,
        set_control=header["ST"].get(2),
        position=header["ST"].position,
        payer_contact=" ".join(e for e in contact.elements[1:] if e) if contact else "",
        bpr_position=bpr.position,
    )


def _plb(segment: Segment, source: str, component: str) -> Iterator[ProviderAdjustment]:
    fiscal = parse_date(segment, 2, source)
    for start in (3, 5, 7, 9, 11, 13):
        composite = segment.get(start)
        if not composite:
            continue
        reason, _, reference = composite.partition(component)
        yield ProviderAdjustment(
            segment.get(1),
            fiscal,
            reason,
            reference,
            parse_amount(segment, start + 1, source),
            segment.position,
        )


def balance_issues(remittance: Remittance) -> list[Issue]:
    """The three balancing rules; every failure with its segment position and the amounts."""
    issues: list[Issue] = []
    total = ZERO
    for claim in remittance.claims:
        total += claim.paid
        for line in claim.lines:
            if line.charge - line.adjusted != line.paid:
                issues.append(
                    Issue(
                        line.position,
                        "SVC",
                        "SVC03",
                        f"line does not balance: charge {line.charge} - adjustments {line.adjusted} = "
                        f"{line.charge - line.adjusted}, but paid {line.paid}",
                    )
                )
        adjusted = sum((a.amount for a in claim.all_adjustments()), ZERO)
        # CLP04 carries the claim's interest (AMT*I) on top of what the charge less the CAS leaves
        if claim.charge - adjusted + claim.interest != claim.paid:
            interest = f" + interest {claim.interest} (AMT*I)" if claim.interest else ""
            issues.append(
                Issue(
                    claim.position,
                    "CLP",
                    "CLP04",
                    f"claim {claim.claim_id} does not balance: charge {claim.charge} - adjustments "
                    f"{adjusted}{interest} = {claim.charge - adjusted + claim.interest}, but paid "
                    f"{claim.paid}",
                )
            )
    provider = sum((p.amount for p in remittance.provider_adjustments), ZERO)
    expected = total - provider
    stated = remittance.payment if remittance.credit else -remittance.payment
    if expected != stated:
        issues.append(
            Issue(
                remittance.bpr_position,
                "BPR",
                "BPR02",
                f"payment {remittance.payment} does not equal claims paid {total} - provider adjustments "
                f"{provider} = {expected}",
            )
        )
    return issues


def read_remittances(path: Path | str | None = None, text: str | None = None) -> list[Remittance]:
    """Every 835 transaction set of a file (or ``text``), checked and balanced; refused whole otherwise."""
    with collector_paused():
        return _read_remittances(path, text)


def _read_remittances(path: Path | str | None, text: str | None) -> list[Remittance]:
    if text is not None:
        interchange = read_text(text, path)
        raw = text.encode("utf-8")
    else:
        assert path is not None
        interchange = read_file(path)
        raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    issues = check_interchange(interchange, {REMITTANCE.functional_id: REMITTANCE})
    # an interchange acknowledgement answers one of our 837 interchanges: posting the 835 would drop it
    issues += [
        Issue(
            s.position,
            "TA1",
            None,
            "a TA1 (interchange acknowledgement) is applied with `claims ack`; "
            "send it in a file of its own, not with a remittance",
        )
        for s in interchange.segments
        if s.id == "TA1"
    ]
    if issues:
        raise X12ValidationError(interchange.source, issues)
    remittances: list[Remittance] = []
    segments = interchange.segments
    starts = [i for i, s in enumerate(segments) if s.id == "ST"]
    for start in starts:
        end = next(i for i in range(start, len(segments)) if segments[i].id == "SE")
        remittances.append(_transaction(segments[start:end], interchange, digest))
    problems = [issue for r in remittances for issue in balance_issues(r)]
    if problems:
        raise X12ValidationError(interchange.source, problems)
    return remittances
