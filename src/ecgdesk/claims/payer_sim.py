"""A simulated payer for the demo, training and tests: adjudicates our claims and writes its answers.

It prices each line from a fee schedule (allowed = the lower of charge and fee; the payer pays the
allowed amount less coinsurance; the rest of the charge is a CO-45 contractual adjustment), denies the
lines it is told to deny (e.g. CO-50 with N115), and writes the 999, 277CA and 835 files a payer and its
clearinghouse would send, in the layouts pyx12 validates (005010X231A1, 005010X214, 005010X221A1).
Reversals (CLP02 22, every amount negated, the original codes kept) and corrections can be produced for
the posting rules. Nothing here is used to post real money: posting reads whatever file it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from ecgdesk.claims.model import ProfessionalClaim
from ecgdesk.claims.remit import Adjustment, ProviderAdjustment, RemitClaim, RemitLine
from ecgdesk.claims.x12 import STANDARD, Delimiters, SegmentWriter, clean_text, d8, format_amount, isa_segment

CENT = Decimal("0.01")
# CLP06 has the 835's own code list (005010X221A1), narrower than the 837's SBR09: an 837 indicator outside
# it (11 other non-federal, BL Blue Cross/Blue Shield, CI commercial, FI federal employees) is written as the
# nearest 835 code, as payers do.
CLP06_FOR_SBR09 = {"11": "ZZ", "BL": "12", "CI": "15", "FI": "OF"}
PLB_PAIRS = 6  # PLB03-PLB14: a segment carries at most six adjustments of one provider and fiscal date


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Denial:
    """How the simulated payer denies a line: group, CARC and an optional RARC."""

    group: str = "CO"
    carc: str = "50"
    rarc: str | None = "N115"


@dataclass(frozen=True)
class PayerProfile:
    """The simulated payer: identity, fee schedule, coinsurance and the lines it denies."""

    name: str
    payer_id: str
    tax_id: str = "1999999999"
    fee_schedule: Mapping[str, Decimal] = field(default_factory=dict)
    coinsurance: Decimal = Decimal("0.20")
    deny: Mapping[str, Denial] = field(default_factory=dict)  # by line control number or code
    crossover_to: str | None = None
    claim_number_prefix: str = "22"


def adjudicate(claims: Sequence[ProfessionalClaim], payer: PayerProfile) -> list[RemitClaim]:
    """The payer's decision on each claim: one 835 claim payment with a service line per billed line."""
    decided: list[RemitClaim] = []
    for n, claim in enumerate(claims, start=1):
        lines: list[RemitLine] = []
        for line in claim.lines:
            denial = payer.deny.get(line.control) or payer.deny.get(line.code)
            adjustments: list[Adjustment]
            remarks: tuple[str, ...] = ()
            if denial is not None:
                paid = Decimal(0)
                allowed = Decimal(0)
                adjustments = [Adjustment(denial.group, denial.carc, line.charge)]
                remarks = (denial.rarc,) if denial.rarc else ()
            else:
                fee = payer.fee_schedule.get(line.code, line.charge) * line.units
                allowed = _money(min(line.charge, fee))
                patient = _money(allowed * payer.coinsurance)
                paid = allowed - patient
                adjustments = []
                if line.charge > allowed:
                    adjustments.append(Adjustment("CO", "45", line.charge - allowed))
                if patient:
                    adjustments.append(Adjustment("PR", "2", patient))
            lines.append(
                RemitLine(
                    "HC",
                    line.code,
                    line.modifiers,
                    line.charge,
                    paid,
                    Decimal(line.units),
                    None,
                    (),
                    line.control,
                    line.date_from,
                    line.date_to or line.date_from,
                    tuple(adjustments),
                    remarks,
                    allowed,
                    0,
                )
            )
        paid = sum((x.paid for x in lines), Decimal(0))
        patient = sum((a.amount for x in lines for a in x.adjustments if a.group == "PR"), Decimal(0))
        status = "19" if payer.crossover_to else "1"
        decided.append(
            RemitClaim(
                claim.claim_id,
                status,
                claim.total_charge,
                paid,
                patient,
                claim.payer.filing_indicator,
                f"{payer.claim_number_prefix}{n:011d}",
                (),
                tuple(lines),
                f"{claim.subscriber.last}, {claim.subscriber.first}",
                payer.crossover_to,
                (),
                min(x.date_from for x in claim.lines),
                max((x.date_to or x.date_from) for x in claim.lines),
                0,
            )
        )
    return decided


def reverse(claim: RemitClaim) -> RemitClaim:
    """The reversal of an earlier payment: CLP02 22, every amount negated, original codes kept."""

    def neg(adjustments: Sequence[Adjustment]) -> tuple[Adjustment, ...]:
        return tuple(replace(a, amount=-a.amount) for a in adjustments)

    return replace(
        claim,
        status="22",
        charge=-claim.charge,
        paid=-claim.paid,
        patient_responsibility=-claim.patient_responsibility,
        interest=-claim.interest,
        adjustments=neg(claim.adjustments),
        lines=tuple(
            replace(x, charge=-x.charge, paid=-x.paid, adjustments=neg(x.adjustments), allowed=None)
            for x in claim.lines
        ),
    )


@dataclass(frozen=True)
class Parties:
    """Who sends and receives the simulated files."""

    payer_name: str
    payer_id: str
    payee_name: str
    payee_npi: str
    sender_id: str = "PAYERSIM"
    receiver_id: str = "ECGDESK"


def _isa(w: SegmentWriter, parties: Parties, control: int, when: datetime) -> None:
    w.add_raw(
        isa_segment(
            w.delimiters,
            parties.sender_id,
            parties.receiver_id,
            control,
            (when.strftime("%y%m%d"), when.strftime("%H%M")),
            "P",
        )
    )


def _envelope(
    w: SegmentWriter, parties: Parties, control: int, when: datetime, fid: str, version: str
) -> None:
    _isa(w, parties, control, when)
    w.add(
        "GS",
        fid,
        parties.sender_id,
        parties.receiver_id,
        when.strftime("%Y%m%d"),
        when.strftime("%H%M"),
        str(control),
        "X",
        version,
    )


def _trailer(w: SegmentWriter, st_index: int, control: int) -> None:
    w.add("SE", str(len(w) - st_index + 1), "0001")
    w.add("GE", "1", str(control))
    w.add("IEA", "1", f"{control:09d}")


def write_835(
    claims: Sequence[RemitClaim],
    parties: Parties,
    trace_number: str,
    payment_date: date,
    control: int = 1,
    provider_adjustments: Sequence[ProviderAdjustment] = (),
    when: datetime | None = None,
    delimiters: Delimiters = STANDARD,
) -> str:
    """An 835 paying ``claims``; BPR02 is the claims' payments less the provider adjustments."""
    when = when or datetime.combine(payment_date, datetime.min.time())
    total = sum((c.paid for c in claims), Decimal(0)) - sum(
        (p.amount for p in provider_adjustments), Decimal(0)
    )
    w = SegmentWriter(delimiters)
    _envelope(w, parties, control, when, "HP", "005010X221A1")
    st = len(w)
    w.add("ST", "835", "0001")
    if total > 0:
        w.add("BPR", "I", format_amount(total), "C", "CHK", *([None] * 11), d8(payment_date))
    else:
        w.add(
            "BPR",
            "H",
            format_amount(abs(total)),
            "C" if total >= 0 else "D",
            "NON",
            *([None] * 11),
            d8(payment_date),
        )
    w.add("TRN", "1", trace_number, parties.payer_id)
    w.add("DTM", "405", d8(payment_date))
    w.add("N1", "PR", clean_text(parties.payer_name, 60))
    w.add("N3", "PO BOX 1000")
    w.add("N4", "ANYTOWN", "MD", "21201")
    w.add("PER", "BL", "EDI SUPPORT", "TE", "8005550100")
    w.add("N1", "PE", clean_text(parties.payee_name, 60), "XX", parties.payee_npi)
    if claims:
        w.add("LX", "1")
    for claim in claims:
        w.add(
            "CLP",
            claim.claim_id,
            claim.status,
            format_amount(claim.charge),
            format_amount(claim.paid),
            format_amount(claim.patient_responsibility) if claim.patient_responsibility else None,
            CLP06_FOR_SBR09.get(claim.filing_indicator, claim.filing_indicator) or "MB",
            claim.payer_claim_number,
        )
        _cas(w, claim.adjustments)
        last, _, first = claim.patient_name.partition(", ")
        w.name("QC", "1", last or "PATIENT", first)
        if claim.crossover_carrier:
            w.name("TT", "2", claim.crossover_carrier, "", "PI", "CROSSOVER1")
        if claim.date_from is not None:
            w.add("DTM", "232", d8(claim.date_from))
        if claim.interest:
            w.add("AMT", "I", format_amount(claim.interest))
        for line in claim.lines:
            procedure = [line.qualifier, line.code, *line.modifiers]
            w.add(
                "SVC",
                procedure,
                format_amount(line.charge),
                format_amount(line.paid),
                None,
                format_amount(line.units) if line.units is not None else None,
                [line.qualifier, line.submitted_code, *line.submitted_modifiers]
                if line.submitted_code
                else None,
            )
            if line.date_from is not None:
                w.add("DTM", "472", d8(line.date_from))
            _cas(w, line.adjustments)
            if line.control:
                w.add("REF", "6R", line.control)
            if line.allowed is not None and claim.status != "22":
                w.add("AMT", "B6", format_amount(line.allowed))
            for remark in line.remarks:
                w.add("LQ", "HE", remark)
    _plb(w, provider_adjustments)
    _trailer(w, st, control)
    return w.text()


def _plb(w: SegmentWriter, adjustments: Sequence[ProviderAdjustment]) -> None:
    """One PLB per provider and fiscal date, up to six adjustments each (a payer's layout; pyx12 also takes
    no more PLB segments than that needs)."""
    by_provider: dict[tuple[str, date], list[ProviderAdjustment]] = {}
    for plb in adjustments:
        by_provider.setdefault((plb.provider_id, plb.fiscal_date), []).append(plb)
    for (provider, fiscal), items in by_provider.items():
        for start in range(0, len(items), PLB_PAIRS):
            pairs: list[list[str] | str] = []
            for plb in items[start : start + PLB_PAIRS]:
                pairs += [[plb.reason, plb.reference], format_amount(plb.amount)]
            w.add("PLB", provider, d8(fiscal), *pairs)


def _cas(w: SegmentWriter, adjustments: Sequence[Adjustment]) -> None:
    by_group: dict[str, list[Adjustment]] = {}
    for adjustment in adjustments:
        by_group.setdefault(adjustment.group, []).append(adjustment)
    for group, items in by_group.items():
        for start in range(0, len(items), 6):
            elements: list[str | None] = [group]
            for a in items[start : start + 6]:
                elements += [a.reason, format_amount(a.amount), None]
            w.add("CAS", *elements)


def write_999(
    group_control: str,
    set_controls: Sequence[str],
    accepted: bool,
    parties: Parties,
    control: int = 1,
    when: datetime | None = None,
    error: tuple[str, int, str] = ("NM1", 8, "8"),
) -> str:
    """A 999 accepting or rejecting every set of one of our groups; a rejection names ``error``
    (segment id, its position in the set, IK304 code)."""
    when = when or datetime(2026, 1, 1)
    w = SegmentWriter()
    _envelope(w, parties, control, when, "FA", "005010X231A1")
    st = len(w)
    w.add("ST", "999", "0001", "005010X231A1")
    w.add("AK1", "HC", group_control, "005010X222A1")
    for set_control in set_controls:
        w.add("AK2", "837", set_control, "005010X222A1")
        if not accepted:
            w.add("IK3", error[0], str(error[1]), None, error[2])
        w.add("IK5", "A" if accepted else "R", None if accepted else "5")
    n = len(set_controls)
    w.add("AK9", "A" if accepted else "R", str(n), str(n), str(n if accepted else 0))
    _trailer(w, st, control)
    return w.text()


def write_ta1(
    interchange_control: int,
    status: str,
    note: str,
    parties: Parties,
    control: int = 1,
    when: datetime | None = None,
) -> str:
    """A TA1 alone in its interchange, answering our interchange ``interchange_control`` (its ISA13)."""
    when = when or datetime(2026, 1, 1)
    w = SegmentWriter()
    _isa(w, parties, control, when)
    w.add("TA1", f"{interchange_control:09d}", when.strftime("%y%m%d"), when.strftime("%H%M"), status, note)
    w.add("IEA", "0", f"{control:09d}")
    return w.text()


@dataclass(frozen=True)
class ClaimStatus:
    """One claim's 277CA status: category (A1, A2, A3, A6, A7, A8), status code and entity."""

    claim: ProfessionalClaim
    category: str = "A2"
    status_code: str = "20"
    entity: str = ""
    payer_claim_number: str = ""


def write_277ca(
    statuses: Sequence[ClaimStatus], parties: Parties, control: int = 1, when: datetime | None = None
) -> str:
    """A 277CA with one 2200D claim status per claim (the billing provider of the first claim)."""
    when = when or datetime(2026, 1, 1)
    day = d8(when.date())
    w = SegmentWriter()
    _envelope(w, parties, control, when, "HN", "005010X214")
    st = len(w)
    w.add("ST", "277", "0001", "005010X214")
    w.add("BHT", "0085", "08", f"ACK{control}", day, when.strftime("%H%M"), "TH")
    w.add("HL", "1", None, "20", "1")
    w.name("PR", "2", parties.payer_name, "", "PI", parties.payer_id)
    w.add("TRN", "1", f"R{control}")
    w.add("DTP", "050", "D8", day)
    w.add("DTP", "009", "D8", day)
    w.add("HL", "2", "1", "21", "1")
    w.name("41", "2", parties.payee_name, "", "46", parties.receiver_id)
    w.add("TRN", "2", f"B{control}")
    w.add(
        "STC",
        ["A1", "19"],
        day,
        "WQ",
        format_amount(sum((s.claim.total_charge for s in statuses), Decimal(0))),
    )
    w.add("HL", "3", "2", "19", "1")
    first = statuses[0].claim.billing
    w.name("85", "2", first.name, "", "XX", first.npi)
    w.add("TRN", "1", f"P{control}")
    w.add(
        "STC",
        ["A1", "19"],
        None,
        "WQ",
        format_amount(sum((s.claim.total_charge for s in statuses), Decimal(0))),
    )
    hl = 3
    for status in statuses:
        hl += 1
        claim = status.claim
        w.add("HL", str(hl), "3", "PT")
        w.name("QC", "1", claim.subscriber.last, claim.subscriber.first, "MI", claim.subscriber_id)
        w.add("TRN", "2", claim.claim_id)
        w.add(
            "STC",
            [status.category, status.status_code, status.entity],
            day,
            "WQ" if status.category in ("A1", "A2") else "U",
            format_amount(claim.total_charge),
        )
        if status.payer_claim_number:
            w.add("REF", "1K", status.payer_claim_number)
        start = min(x.date_from for x in claim.lines)
        end = max((x.date_to or x.date_from) for x in claim.lines)
        w.add("DTP", "472", "RD8", f"{d8(start)}-{d8(end)}")
    _trailer(w, st, control)
    return w.text()
