"""The 837P rules pyx12's maps do not check, on the claim before writing and on the written file.

pyx12 validates segment order, element lengths and code lists. It does not check the rules that make a
payer reject a structurally valid claim: the claim total equals the sum of its lines, diagnosis pointers
point at an HI entry, the billing provider has a street address (no PO box) with a 9-digit ZIP, a
replacement or void carries the payer's claim number, NPIs carry their check digit, and so on
(005010X222A1 TR3 sections 2.1 and the 2010AA/2300/2400 notes). :func:`claim_problems` checks a
:class:`ProfessionalClaim`; :func:`file_problems` re-reads a written 837P and checks the same totals and
references in the segments themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from ecgdesk.claims.model import Address, BillingProvider, Frequency, ProfessionalClaim, Provider
from ecgdesk.claims.x12 import Interchange, Segment
from ecgdesk.coding.facts import CODE_PATTERN, MODIFIER_PATTERN, POS_PATTERN
from ecgdesk.coding.scrub.documentation import npi_valid
from ecgdesk.errors import is_digits

PO_BOX = re.compile(r"\b(?:P\.?\s*O\.?\s*BOX|POST\s+OFFICE\s+BOX|POB|LOCK\s*BOX|DRAWER)\b", re.IGNORECASE)
ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
TAXONOMY = re.compile(r"^[0-9]{3}[0-9A-Z]{6}X$")
STATE = re.compile(r"^[A-Z]{2}$")
FILING_INDICATORS = frozenset(
    {
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "AM",
        "BL",
        "CH",
        "CI",
        "DS",
        "FI",
        "HM",
        "LM",
        "MA",
        "MB",
        "MC",
        "OF",
        "TV",
        "VA",
        "WC",
        "ZZ",
    }
)
MAX_LINES = 50
MAX_DIAGNOSES = 12


@dataclass(frozen=True)
class Problem:
    """One reason a claim cannot go out: the claim, the field (loop/element words) and why."""

    claim_id: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"claim {self.claim_id}: {self.field}: {self.reason}"


def _address(prefix: str, address: Address, nine_digit: bool, street: bool) -> Iterator[tuple[str, str]]:
    if not address.line1.strip():
        yield f"{prefix} N301 address", "missing"
    elif street and PO_BOX.search(f"{address.line1} {address.line2}"):
        yield (
            f"{prefix} N301 address",
            f"{address.line1!r} is a post office box; a street address is required",
        )
    if not address.city.strip():
        yield f"{prefix} N401 city", "missing"
    if not STATE.match(address.state):
        yield f"{prefix} N402 state", f"{address.state!r} is not a 2-letter state code"
    digits = address.zip.replace("-", "")
    if nine_digit and not re.fullmatch(r"\d{9}", digits):
        yield f"{prefix} N403 ZIP", f"{address.zip!r} must be the 9-digit ZIP+4"
    elif not re.fullmatch(r"\d{5}(?:\d{4})?", digits):
        yield f"{prefix} N403 ZIP", f"{address.zip!r} must be 5 or 9 digits"


def _provider(role: str, provider: Provider) -> Iterator[tuple[str, str]]:
    if not npi_valid(provider.npi):
        yield f"{role} NPI", f"{provider.npi!r} is not a valid NPI (10 digits, Luhn check digit over 80840)"
    if not provider.last.strip():
        yield f"{role} name", "missing"
    if provider.taxonomy and not TAXONOMY.match(provider.taxonomy):
        yield (
            f"{role} taxonomy",
            f"{provider.taxonomy!r} is not a provider taxonomy code (10 characters, ends X)",
        )


@lru_cache(maxsize=64)
def _billing_problems(billing: BillingProvider) -> tuple[tuple[str, str], ...]:
    """The billing provider's problems (the same provider is on every claim of a batch: checked once)."""
    return tuple(_billing(billing))


def _billing(billing: BillingProvider) -> Iterator[tuple[str, str]]:
    if not billing.name.strip():
        yield "2010AA billing provider name", "missing"
    if not npi_valid(billing.npi):
        yield (
            "2010AA billing provider NPI",
            f"{billing.npi!r} is not a valid NPI (Luhn check digit over 80840)",
        )
    if not re.fullmatch(r"\d{9}", billing.tin.replace("-", "")):
        yield "2010AA REF*EI tax id", f"{billing.tin!r} must be the 9-digit employer identification number"
    if billing.taxonomy and not TAXONOMY.match(billing.taxonomy):
        yield "2000A PRV taxonomy", f"{billing.taxonomy!r} is not a provider taxonomy code"
    yield from _address("2010AA billing provider", billing.address, nine_digit=True, street=True)


def _claim_level(claim: ProfessionalClaim) -> Iterator[tuple[str, str]]:
    if not 1 <= len(claim.claim_id) <= 38:
        yield "CLM01 claim id", "must be 1-38 characters"
    yield from _billing_problems(claim.billing)
    if not claim.payer.name.strip() or not claim.payer.payer_id.strip():
        yield "2010BB payer", "payer name and payer id are required"
    if claim.payer.filing_indicator not in FILING_INDICATORS:
        yield (
            "SBR09 claim filing indicator",
            f"{claim.payer.filing_indicator!r} is not a filing indicator code",
        )
    if not claim.subscriber_id.strip():
        yield "2010BA NM109 member id", "missing"
    yield from _address("2010BA subscriber", claim.subscriber.address, nine_digit=False, street=False)
    people = [("2010BA subscriber", claim.subscriber)]
    if claim.patient is not None:
        people.append(("2010CA patient", claim.patient))
        yield from _address("2010CA patient", claim.patient.address, nine_digit=False, street=False)
    for role, person in people:
        if not person.last.strip():
            yield f"{role} last name", "missing"
        if person.sex not in ("F", "M", "U"):
            yield f"{role} DMG03 sex", f"{person.sex!r} must be F, M or U"
    if (claim.patient is None) != (claim.relationship.value == "18"):
        yield (
            "SBR02/PAT01 relationship",
            "a patient loop is given exactly when the patient is not the subscriber",
        )
    if not POS_PATTERN.match(claim.place_of_service):
        yield "CLM05-1 place of service", f"{claim.place_of_service!r} must be a 2-digit code"
    if claim.frequency in (Frequency.REPLACEMENT, Frequency.VOID) and not claim.payer_claim_number:
        yield (
            "2300 REF*F8",
            f"frequency {claim.frequency.value} (replacement/void) needs the payer's claim control number",
        )
    if not 1 <= len(claim.diagnoses) <= MAX_DIAGNOSES:
        yield "HI diagnoses", f"{len(claim.diagnoses)} diagnosis codes; 1 to {MAX_DIAGNOSES} are allowed"
    for index, code in enumerate(claim.diagnoses, start=1):
        if not ICD10.match(code):
            yield f"HI diagnosis {index}", f"{code!r} is not an ICD-10-CM code"
    if claim.rendering is not None:
        yield from _provider("2310B rendering provider", claim.rendering)


def _lines(claim: ProfessionalClaim) -> Iterator[tuple[str, str]]:
    if not 1 <= len(claim.lines) <= MAX_LINES:
        yield "2400 lines", f"{len(claim.lines)} service lines; 1 to {MAX_LINES} are allowed"
    seen: set[str] = set()
    for number, line in enumerate(claim.lines, start=1):
        where = f"line {number}"
        if not line.control or len(line.control) > 50:
            yield f"{where} REF*6R", "the line control number must be 1-50 characters"
        elif line.control in seen:
            yield f"{where} REF*6R", f"line control number {line.control!r} repeats"
        seen.add(line.control)
        if not CODE_PATTERN.match(line.code):
            yield f"{where} SV101-2 code", f"{line.code!r} is not a CPT/HCPCS code"
        if len(line.modifiers) > 4:
            yield f"{where} SV101 modifiers", "at most 4 modifiers"
        for modifier in line.modifiers:
            if not MODIFIER_PATTERN.match(modifier):
                yield f"{where} SV101 modifier", f"{modifier!r} is not a 2-character modifier"
        if line.charge <= 0:
            yield f"{where} SV102 charge", f"{line.charge} must be more than 0"
        if line.units < 1:
            yield f"{where} SV104 units", f"{line.units} must be a whole number of at least 1"
        if not 1 <= len(line.pointers) <= 4:
            yield f"{where} SV107 pointers", "1 to 4 diagnosis pointers are required"
        for pointer in line.pointers:
            if not 1 <= pointer <= len(claim.diagnoses):
                yield (
                    f"{where} SV107 pointer",
                    f"{pointer} points past the {len(claim.diagnoses)} diagnosis codes in HI",
                )
        if line.date_to is not None and line.date_to < line.date_from:
            yield f"{where} DTP*472", "the service period ends before it starts"
        if line.ordering is not None:
            yield from _provider(f"{where} 2420E ordering provider", line.ordering)


def claim_problems(claim: ProfessionalClaim) -> list[Problem]:
    """Every reason ``claim`` would be rejected before adjudication (empty: it may be written)."""
    found = (*_claim_level(claim), *_lines(claim), *_other_payers(claim))
    return [Problem(claim.claim_id, f, r) for f, r in found]


def _other_payers(claim: ProfessionalClaim) -> Iterator[tuple[str, str]]:
    """COB balancing (X222A1 1.4.1): for each earlier payer, CLM02 - its claim and line CAS = AMT*D, and
    per line SV102 - its 2430 CAS = SVD02, so the next payer reads the same money the 835 gave."""
    charges = {line.control: line.charge for line in claim.lines}
    for index, other in enumerate(claim.other_payers, start=1):
        where = f"2320 other payer {index} ({other.payer_id})"
        if other.responsibility == claim.payer.responsibility:
            yield f"{where} SBR01", f"{other.responsibility} is the billed payer's own responsibility"
        cas = sum((a.amount for a in other.adjustments), Decimal(0))
        for line in other.lines:
            charge = charges.get(line.control)
            if charge is None:
                yield f"{where} 2430", f"no service line {line.control!r} on the claim"
                continue
            own = sum((a.amount for a in line.adjustments), Decimal(0))
            if charge - own != line.paid:
                yield (
                    f"{where} 2430 SVD02 ({line.control})",
                    f"{line.paid} is not SV102 {charge} less the line's CAS {own}",
                )
            cas += own
        if claim.total_charge - cas != other.paid:
            yield f"{where} AMT*D", f"{other.paid} is not CLM02 {claim.total_charge} less the CAS {cas}"


# --------------------------------------------------------------------------- the written file itself


def _money(segment: Segment, index: int) -> Decimal | None:
    try:
        return Decimal(segment.get(index))
    except InvalidOperation:
        return None


@dataclass
class _OpenClaim:
    clm: Segment
    frequency: str
    diagnoses: int = 0
    lines: Decimal = Decimal(0)
    has_f8: bool = False
    pointers: list[tuple[Segment, int]] = field(default_factory=list)

    def problems(self) -> Iterator[Problem]:
        claim_id = self.clm.get(1)
        total = _money(self.clm, 2)
        if total is None or total != self.lines:
            yield Problem(claim_id, "CLM02", f"{self.clm.get(2)} is not the sum of SV102 ({self.lines})")
        if self.frequency in ("7", "8") and not self.has_f8:
            yield Problem(claim_id, "2300 REF*F8", f"frequency {self.frequency} needs REF*F8")
        for segment, pointer in self.pointers:
            if not 1 <= pointer <= self.diagnoses:
                yield Problem(claim_id, f"SV107 (segment {segment.position})", f"pointer {pointer} beyond HI")


def file_problems(interchange: Interchange) -> list[Problem]:
    """TR3 rules on a written 837P's segments: CLM02 = sum of SV102, SV107 pointers within HI, 9-digit
    ZIP and no PO box in 2010AA, REF*F8 on frequency 7/8 claims, SE01 equal to the segment count."""
    problems: list[Problem] = []
    component = interchange.delimiters.component
    current: _OpenClaim | None = None
    entity = ""  # NM101 of the name loop we are in: N3/N4 after NM1*85 are the billing address
    st_position = 0
    for segment in interchange.segments:
        if segment.id in ("CLM", "HL", "SE") and current is not None:
            problems.extend(current.problems())
            current = None
        if segment.id == "ST":
            st_position = segment.position
        elif segment.id == "SE" and segment.get(1) != str(segment.position - st_position + 1):
            counted = segment.position - st_position + 1
            problems.append(Problem("-", "SE01", f"{segment.get(1)} but the set has {counted} segments"))
        elif segment.id == "NM1":
            entity = segment.get(1)
        elif segment.id == "N3" and entity == "85" and PO_BOX.search(" ".join(segment.elements)):
            problems.append(Problem("-", "2010AA N301", f"{segment.get(1)!r} is a post office box"))
        elif segment.id == "N4" and entity == "85" and not re.fullmatch(r"\d{9}", segment.get(3)):
            problems.append(Problem("-", "2010AA N403", f"{segment.get(3)!r} is not a 9-digit ZIP"))
        elif segment.id == "CLM":
            parts = segment.get(5).split(component)
            current = _OpenClaim(segment, parts[2] if len(parts) > 2 else "")
        elif current is not None and segment.id == "HI" and segment.get(1).startswith(("ABK", "BK")):
            current.diagnoses = sum(1 for e in segment.elements if e)
        elif current is not None and segment.id == "REF" and segment.get(1) == "F8":
            current.has_f8 = True
        elif current is not None and segment.id == "SV1":
            current.lines += _money(segment, 2) or Decimal(0)
            for text in segment.get(7).split(component):
                current.pointers.append((segment, int(text) if is_digits(text) else 0))
    return problems
