"""The professional claim as the 837P carries it: typed, immutable values built by the workflow.

Amounts are :class:`~decimal.Decimal` dollars (two places); dates are :class:`datetime.date`. Nothing here
knows the database: the workflow fills these from billing set-up, coverage, the study and its coding.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


class Frequency(enum.StrEnum):
    """CLM05-3, the claim frequency code."""

    ORIGINAL = "1"
    REPLACEMENT = "7"
    VOID = "8"


class Relationship(enum.StrEnum):
    """The patient's relationship to the subscriber (SBR02 ``18`` = self; otherwise PAT01)."""

    SELF = "18"
    SPOUSE = "01"
    CHILD = "19"
    OTHER = "G8"


#: Relationship names a user types, to codes.
RELATIONSHIPS: dict[str, Relationship] = {
    "self": Relationship.SELF,
    "spouse": Relationship.SPOUSE,
    "child": Relationship.CHILD,
    "other": Relationship.OTHER,
}


#: ST02 of our 837s: each functional group we send holds this one transaction set (a 999 naming
#: another set of our group is not about our claims).
SET_CONTROL = "0001"


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    state: str
    zip: str
    line2: str = ""


@dataclass(frozen=True)
class Person:
    """A patient or subscriber: name parts, birth date, sex (F, M or U) and address."""

    last: str
    first: str
    birth_date: date
    sex: str
    address: Address
    middle: str = ""


@dataclass(frozen=True)
class Provider:
    """A rendering, ordering or referring provider: a person (entity ``1``) or an organisation (``2``)."""

    npi: str
    last: str
    first: str = ""
    entity: str = "1"
    taxonomy: str = ""


@dataclass(frozen=True)
class BillingProvider:
    """The practice or IDTF that bills (2010AA): NPI, TIN (EIN), taxonomy and a street address."""

    name: str
    npi: str
    tin: str
    taxonomy: str
    address: Address
    contact_name: str = ""
    contact_phone: str = ""


@dataclass(frozen=True)
class PayerInfo:
    """The payer (2010BB) and what the subscriber loop says about the plan."""

    name: str
    payer_id: str
    filing_indicator: str
    responsibility: str = "P"  # SBR01: P primary, S secondary, T tertiary


@dataclass(frozen=True)
class ServiceLine:
    """One SV1 line with its line control number (REF*6R), echoed back by the 835."""

    control: str
    code: str
    charge: Decimal
    units: int
    date_from: date
    date_to: date | None = None
    modifiers: tuple[str, ...] = ()
    pointers: tuple[int, ...] = (1,)
    place_of_service: str | None = None  # SV105, only where it differs from CLM05-1
    ordering: Provider | None = None


@dataclass(frozen=True)
class CobAdjustment:
    """One adjustment an earlier payer's 835 made (CAS group, CARC, amount), copied into the 837P's
    2320 (claim level) or 2430 (line level) for the next payer."""

    group: str
    reason: str
    amount: Decimal


@dataclass(frozen=True)
class LineAdjudication:
    """An earlier payer's determination of one of our lines (loop 2430: SVD, CAS, DTP*573)."""

    control: str  # the line's REF*6R on this claim
    paid: Decimal
    units: int
    adjustments: tuple[CobAdjustment, ...] = ()


@dataclass(frozen=True)
class OtherPayer:
    """An earlier payer of the claim (loops 2320, 2330A subscriber, 2330B payer): who it is, the subscriber
    of that plan, what it paid (AMT*D), its claim-level CAS, its claim number (2330B REF*F8) and its line
    determinations (2430)."""

    name: str
    payer_id: str
    filing_indicator: str
    responsibility: str  # SBR01 of that payer: P primary (T tertiary ...)
    relationship: Relationship  # SBR02: the patient to that plan's subscriber
    subscriber_last: str
    subscriber_first: str
    member_id: str
    paid: Decimal
    adjudicated: date
    claim_number: str = ""
    group_number: str = ""
    adjustments: tuple[CobAdjustment, ...] = ()
    lines: tuple[LineAdjudication, ...] = ()


@dataclass(frozen=True)
class ProfessionalClaim:
    """One 2300 claim with its subscriber, patient and payer (the loops above it)."""

    claim_id: str
    billing: BillingProvider
    payer: PayerInfo
    subscriber_id: str
    subscriber: Person
    relationship: Relationship
    diagnoses: tuple[str, ...]
    lines: tuple[ServiceLine, ...]
    place_of_service: str
    patient: Person | None = None  # only when the patient is not the subscriber
    frequency: Frequency = Frequency.ORIGINAL
    payer_claim_number: str | None = None  # REF*F8, for frequency 7 and 8
    prior_authorization: str | None = None  # REF*G1
    rendering: Provider | None = None
    group_number: str = ""
    accept_assignment: bool = True
    benefits_assigned: bool = True
    other_payers: tuple[OtherPayer, ...] = ()  # earlier payers (COB): a secondary claim carries the primary

    @property
    def total_charge(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class Party:
    """The submitter (1000A, with its EDI contact) or the receiver (1000B)."""

    name: str
    identifier: str
    contact_name: str = ""
    contact_phone: str = ""


@dataclass(frozen=True)
class Envelope:
    """Interchange, group and set control numbers plus sender/receiver ids; control numbers never repeat
    because the workflow draws them from the database."""

    sender_id: str
    receiver_id: str
    interchange_control: int
    group_control: int
    created: datetime
    usage: str = "P"  # ISA15: P production, T test
    transaction_control: str = SET_CONTROL
    reference: str = ""  # BHT03, the batch's own id
