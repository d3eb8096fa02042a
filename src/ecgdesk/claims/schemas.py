"""The professional claim as a JSON document (Pydantic v2), the claims member of the schema family that
:mod:`ecgdesk.coding.schemas` started: one model for the claim stored with each claim row, the claim that
``claims show --json`` prints and the one ``GET /api/v1/claims/{id}`` returns (in the OpenAPI document).

Amounts are strings with two decimals (``"125.50"``) so no float rounding enters; a JSON number is
refused for an amount for the same reason. Dates are ISO ``YYYY-MM-DD``. Each refusal becomes one
:class:`~ecgdesk.errors.InputError` naming the field by its path in the document
(``lines[0].charge``) and the reason, as the coding documents do. Unknown keys are ignored (the stored
document also carries ``total_charge``, which is derived). The models convert to and from the frozen
dataclasses of :mod:`ecgdesk.claims.model`, which the 837P writer and the payer simulator work on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    computed_field,
    field_validator,
)

from ecgdesk.claims.model import (
    Address,
    BillingProvider,
    CobAdjustment,
    Frequency,
    LineAdjudication,
    OtherPayer,
    PayerInfo,
    Person,
    ProfessionalClaim,
    Provider,
    Relationship,
    ServiceLine,
)
from ecgdesk.coding.facts import (
    MAX_POINTERS,
    MAX_UNITS,
    MODIFIER_PATTERN,
    Source,
    parse_code,
    parse_date,
    parse_diagnoses,
    parse_pos,
)
from ecgdesk.coding.schemas import input_error
from ecgdesk.errors import InputError, check_option, is_digits

#: A line charge above this is a typing error, not a diagnostic ECG service (the 837P allows 18 digits).
MAX_CHARGE = Decimal("99999.99")
MAX_LINES = 50  # the 837P's 2400 loop repeats at most 50 times
EARLIEST = date(1900, 1, 1)


def _text(limit: int, minimum: int = 1) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise InputError("", f"must be text, got {type(value).__name__} {value!r}")
        text = value.strip()
        if len(text) < minimum:
            raise InputError("", "is required but empty")
        if len(text) > limit:
            raise InputError("", f"is {len(text)} characters long, at most {limit}")
        if not text.isprintable():
            raise InputError("", "has control characters")
        return text

    return check


def _digits(count: tuple[int, ...], what: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str):
            raise InputError("", f"must be text, got {type(value).__name__} {value!r}")
        text = text.strip()
        plain = text.replace("-", "")
        if not is_digits(plain) or len(plain) not in count:
            raise InputError("", f"{text!r} is not {what}")
        return text

    return check


def _money(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | Decimal):
        raise InputError("", f'must be an amount as text with two decimals such as "125.50", got {value!r}')
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise InputError("", f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise InputError("", f"{value!r} is not a finite amount")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InputError("", f"{value!r} has more than two decimals")
    if amount < 0 or amount > MAX_CHARGE:
        raise InputError("", f"{value} is out of range (0.00 to {MAX_CHARGE})")
    return amount.quantize(Decimal("0.01"))


def _whole(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError("", f"must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise InputError("", f"{value} is out of range ({low} to {high})")
        return value

    return check


def _born(value: Any) -> date:
    day = parse_date(value, "")
    if day < EARLIEST or day > date.today():
        raise InputError("", f"{day.isoformat()} is not a plausible birth date")
    return day


def _modifier(value: Any) -> str:
    text = value.strip().upper() if isinstance(value, str) else ""
    if not MODIFIER_PATTERN.match(text):
        raise InputError("", f"{value!r} is not a 2-character modifier")
    return text


def _list(low: int, high: int, what: str) -> BeforeValidator:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise InputError("", f"must be a list of {what}, got {type(value).__name__} {value!r}")
        if not low <= len(value) <= high:
            raise InputError("", f"has {len(value)} {what}, {low} to {high} are allowed")
        return list(value)

    return BeforeValidator(check)


def _pattern(pattern: str, what: str) -> BeforeValidator:
    compiled = re.compile(pattern, re.ASCII)

    def check(value: Any) -> str:
        if not isinstance(value, str) or not compiled.match(value):
            raise InputError("", f"{value!r} is not {what}")
        return value

    return BeforeValidator(check)


def _option(allowed: list[str]) -> BeforeValidator:
    return BeforeValidator(lambda value: check_option("", value, allowed))


def _enum_value(value: Any) -> Any:
    return getattr(value, "value", value)


Text = Annotated[str, BeforeValidator(_text(60))]
ShortText = Annotated[str, BeforeValidator(_text(35))]
OptionalText = Annotated[str, BeforeValidator(_text(60, minimum=0))]
Id = Annotated[str, BeforeValidator(_text(50))]
MaybeId = Annotated[str | None, BeforeValidator(lambda v: None if v is None else _text(50)(v))]
Npi = Annotated[str, BeforeValidator(_digits((10,), "a 10-digit NPI"))]
Day = Annotated[date, BeforeValidator(lambda value: parse_date(value, ""))]
MaybeDay = Annotated[date | None, BeforeValidator(lambda v: None if v is None else parse_date(v, ""))]
Money = Annotated[Decimal, BeforeValidator(_money), PlainSerializer(lambda v: f"{v:.2f}", return_type=str)]
Taxonomy = Annotated[
    str, _pattern(r"^([0-9A-Z]{9}X)?$", "a provider taxonomy code (10 characters ending in X)")
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AddressDocument(_Model):
    line1: Annotated[str, BeforeValidator(_text(55))]
    city: Annotated[str, BeforeValidator(_text(30))]
    state: Annotated[str, _pattern(r"^[A-Z]{2}$", "a 2-letter state code")]
    zip: Annotated[str, BeforeValidator(_digits((5, 9), "a 5- or 9-digit ZIP code"))]
    line2: Annotated[str, BeforeValidator(_text(55, minimum=0))] = ""

    def to_value(self) -> Address:
        return Address(self.line1, self.city, self.state, self.zip, self.line2)


class PersonDocument(_Model):
    last: Text
    first: ShortText
    birth_date: Annotated[date, BeforeValidator(_born)]
    sex: Annotated[str, _option(["F", "M", "U"])]
    address: AddressDocument
    middle: Annotated[str, BeforeValidator(_text(25, minimum=0))] = ""

    def to_value(self) -> Person:
        return Person(self.last, self.first, self.birth_date, self.sex, self.address.to_value(), self.middle)


class ProviderDocument(_Model):
    npi: Npi
    last: Text
    first: Annotated[str, BeforeValidator(_text(35, minimum=0))] = ""
    entity: Annotated[str, _option(["1", "2"])] = "1"
    taxonomy: Taxonomy = ""

    def to_value(self) -> Provider:
        return Provider(self.npi, self.last, self.first, self.entity, self.taxonomy)


class BillingProviderDocument(_Model):
    name: Text
    npi: Npi
    tin: Annotated[str, BeforeValidator(_digits((9,), "a 9-digit TIN (EIN)"))]
    taxonomy: Taxonomy
    address: AddressDocument
    contact_name: OptionalText = ""
    contact_phone: Annotated[str, BeforeValidator(_text(20, minimum=0))] = ""

    def to_value(self) -> BillingProvider:
        return BillingProvider(
            self.name,
            self.npi,
            self.tin,
            self.taxonomy,
            self.address.to_value(),
            self.contact_name,
            self.contact_phone,
        )


class PayerDocument(_Model):
    name: Text
    payer_id: Annotated[str, BeforeValidator(_text(80))]
    filing_indicator: Annotated[str, _pattern(r"^[0-9A-Z]{2}$", "a 2-character claim filing indicator")]
    responsibility: Annotated[str, _option(["P", "S", "T"])] = "P"

    def to_value(self) -> PayerInfo:
        return PayerInfo(self.name, self.payer_id, self.filing_indicator, self.responsibility)


class ServiceLineDocument(_Model):
    """One SV1 line; ``control`` is its line control number (REF*6R)."""

    control: Id
    code: Annotated[str, BeforeValidator(lambda value: parse_code(value, ""))]
    charge: Money
    units: Annotated[int, BeforeValidator(_whole(1, MAX_UNITS))]
    date_from: Day
    date_to: MaybeDay = None
    modifiers: Annotated[list[Annotated[str, BeforeValidator(_modifier)]], _list(0, 4, "modifiers")] = []
    pointers: Annotated[
        list[Annotated[int, BeforeValidator(_whole(1, MAX_POINTERS))]], _list(1, 4, "diagnosis pointers")
    ] = [1]
    place_of_service: Annotated[
        str | None, BeforeValidator(lambda v: None if v is None else parse_pos(v, ""))
    ] = None
    ordering: ProviderDocument | None = None

    @field_validator("date_to")
    @classmethod
    def _not_before_start(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("date_from")
        if end is not None and start is not None and end < start:
            raise InputError("", f"{end.isoformat()} is before date_from {start.isoformat()}")
        return end

    def to_value(self) -> ServiceLine:
        return ServiceLine(
            self.control,
            self.code,
            self.charge,
            self.units,
            self.date_from,
            self.date_to,
            tuple(self.modifiers),
            tuple(self.pointers),
            self.place_of_service,
            self.ordering.to_value() if self.ordering else None,
        )


def _signed_money(value: Any) -> Decimal:
    # an 835 adjustment may be negative (the payer paying more than it adjusted): kept with its sign
    if isinstance(value, str) and value.strip().startswith("-"):
        return -_money(value.strip()[1:])
    if isinstance(value, Decimal) and value < 0:
        return -_money(-value)
    return _money(value)


SignedMoney = Annotated[
    Decimal, BeforeValidator(_signed_money), PlainSerializer(lambda v: f"{v:.2f}", return_type=str)
]
Code = Annotated[str, _pattern(r"^[A-Z0-9]{1,5}$", "a code of 1 to 5 letters or digits")]


class CobAdjustmentDocument(_Model):
    group: Annotated[str, _option(["CO", "OA", "PI", "PR"])]
    reason: Code
    amount: SignedMoney

    def to_value(self) -> CobAdjustment:
        return CobAdjustment(self.group, self.reason, self.amount)


class LineAdjudicationDocument(_Model):
    control: Id
    paid: SignedMoney
    units: Annotated[int, BeforeValidator(_whole(0, MAX_UNITS))]
    adjustments: Annotated[list[CobAdjustmentDocument], _list(0, 30, "adjustments")] = []

    def to_value(self) -> LineAdjudication:
        return LineAdjudication(
            self.control, self.paid, self.units, tuple(a.to_value() for a in self.adjustments)
        )


class OtherPayerDocument(_Model):
    """An earlier payer of the claim (2320/2330A/2330B, and 2430 per line)."""

    name: Text
    payer_id: Annotated[str, BeforeValidator(_text(80))]
    filing_indicator: Annotated[str, _pattern(r"^[0-9A-Z]{2}$", "a 2-character claim filing indicator")]
    responsibility: Annotated[str, _option(["P", "S", "T"])]
    relationship: Annotated[str, BeforeValidator(_enum_value), _option([r.value for r in Relationship])]
    subscriber_last: Text
    subscriber_first: Annotated[str, BeforeValidator(_text(35, minimum=0))]
    member_id: Annotated[str, BeforeValidator(_text(80))]
    paid: SignedMoney
    adjudicated: Day
    claim_number: Annotated[str, BeforeValidator(_text(50, minimum=0))] = ""
    group_number: Annotated[str, BeforeValidator(_text(50, minimum=0))] = ""
    adjustments: Annotated[list[CobAdjustmentDocument], _list(0, 30, "adjustments")] = []
    lines: Annotated[list[LineAdjudicationDocument], _list(0, MAX_LINES, "line adjudications")] = []

    def to_value(self) -> OtherPayer:
        return OtherPayer(
            self.name,
            self.payer_id,
            self.filing_indicator,
            self.responsibility,
            Relationship(self.relationship),
            self.subscriber_last,
            self.subscriber_first,
            self.member_id,
            self.paid,
            self.adjudicated,
            self.claim_number,
            self.group_number,
            tuple(a.to_value() for a in self.adjustments),
            tuple(line.to_value() for line in self.lines),
        )


class ProfessionalClaimDocument(_Model):
    """One 837P claim (2300) with its billing provider, payer, subscriber, patient and lines."""

    claim_id: Annotated[str, _pattern(r"^[A-Za-z0-9-]{1,38}$", "a claim id (1 to 38 letters, digits or -)")]
    billing: BillingProviderDocument
    payer: PayerDocument
    subscriber_id: Annotated[str, BeforeValidator(_text(80))]
    subscriber: PersonDocument
    relationship: Annotated[str, BeforeValidator(_enum_value), _option([r.value for r in Relationship])]
    diagnoses: Annotated[
        list[str], BeforeValidator(lambda value: parse_diagnoses(value, "")), _list(1, 12, "diagnoses")
    ]
    lines: Annotated[list[ServiceLineDocument], _list(1, MAX_LINES, "service lines")]
    place_of_service: Annotated[str, BeforeValidator(lambda value: parse_pos(value, ""))]
    patient: PersonDocument | None = None
    frequency: Annotated[str, BeforeValidator(_enum_value), _option([f.value for f in Frequency])] = "1"
    payer_claim_number: MaybeId = None
    prior_authorization: MaybeId = None
    rendering: ProviderDocument | None = None
    group_number: Annotated[str, BeforeValidator(_text(50, minimum=0))] = ""
    accept_assignment: bool = True
    benefits_assigned: bool = True
    other_payers: Annotated[list[OtherPayerDocument], _list(0, 10, "other payers")] = []

    @field_validator("accept_assignment", "benefits_assigned", mode="before")
    @classmethod
    def _strict_flag(cls, value: Any) -> bool:
        if not isinstance(value, bool):
            raise InputError("", f"must be true or false, got {value!r}")
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_charge(self) -> str:
        """CLM02, the sum of the line charges (derived: ignored on input)."""
        return f"{sum((line.charge for line in self.lines), Decimal(0)):.2f}"

    def to_value(self) -> ProfessionalClaim:
        return ProfessionalClaim(
            self.claim_id,
            self.billing.to_value(),
            self.payer.to_value(),
            self.subscriber_id,
            self.subscriber.to_value(),
            Relationship(self.relationship),
            tuple(self.diagnoses),
            tuple(line.to_value() for line in self.lines),
            self.place_of_service,
            self.patient.to_value() if self.patient else None,
            Frequency(self.frequency),
            self.payer_claim_number,
            self.prior_authorization,
            self.rendering.to_value() if self.rendering else None,
            self.group_number,
            self.accept_assignment,
            self.benefits_assigned,
            tuple(other.to_value() for other in self.other_payers),
        )


def claim_document(claim: ProfessionalClaim) -> ProfessionalClaimDocument:
    """The document of a claim the workflow built (checked like any other input)."""
    try:
        return ProfessionalClaimDocument.model_validate(claim, from_attributes=True)
    except ValidationError as error:
        raise input_error(error, "<claim>", "", None) from None


def claim_to_dict(claim: ProfessionalClaim) -> dict[str, Any]:
    """The JSON object of ``claim`` (what :func:`claim_from_dict` reads back), with its total charge."""
    return claim_document(claim).model_dump(mode="json")


def claim_from_dict(data: Any, source: Source = None, prefix: str = "") -> ProfessionalClaim:
    """Parse a claim's JSON object; raise :class:`InputError` naming the field path and the reason."""
    try:
        return ProfessionalClaimDocument.model_validate(data).to_value()
    except ValidationError as error:
        raise input_error(error, "<claim>", prefix, source) from None
