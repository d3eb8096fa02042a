"""Request bodies of the claims routes (Pydantic v2): limits checked at the boundary, then the same
set-up dataclasses the CLI builds are handed to the workflow."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from ecgdesk.claims.schemas import ProfessionalClaimDocument
from ecgdesk.workflow.claims_denials import DenialView
from ecgdesk.workflow.claims_setup import BillingSetup, CoverageSetup, PayerSetup
from ecgdesk.workflow.claims_views import ClaimSummary
from ecgdesk.workflow.schemas import InputModel, Model

SHORT = Field(min_length=1, max_length=60)
NPI = Field(pattern=r"^\d{10}$")
ZIP = Field(pattern=r"^\d{5}(-?\d{4})?$")
STATE = Field(pattern=r"^[A-Za-z]{2}$")


class BillingIn(InputModel):
    name: str = SHORT
    npi: str = NPI
    tin: str = Field(pattern=r"^\d{2}-?\d{7}$")
    taxonomy: str = Field(pattern=r"^[0-9A-Z]{10}$")
    address1: str = Field(min_length=1, max_length=55)
    address2: str = Field(default="", max_length=55)
    city: str = Field(min_length=1, max_length=30)
    state: str = STATE
    zip: str = ZIP
    contact_name: str = SHORT
    contact_phone: str = Field(min_length=10, max_length=20)
    submitter_id: str = Field(min_length=1, max_length=15)
    claim_prefix: str = Field(default="ECG", pattern=r"^[A-Z]{1,8}$")
    charge_percent: int = Field(default=200, ge=100, le=1000)

    def to_setup(self) -> BillingSetup:
        return BillingSetup(**self.model_dump())


class ClinicianIn(InputModel):
    npi: str = NPI
    last: str = SHORT
    first: str = Field(default="", max_length=35)
    taxonomy: str = Field(default="", pattern=r"^([0-9A-Z]{10})?$")


class PayerIn(InputModel):
    name: str = SHORT
    payer_id: str = Field(min_length=1, max_length=80)
    filing_indicator: str = Field(min_length=2, max_length=2)
    rules_id: str = Field(min_length=1, max_length=40)
    timely_filing_days: int | None = Field(default=None, ge=1, le=3650)
    receiver_id: str | None = Field(default=None, max_length=15)
    receiver_name: str | None = Field(default=None, max_length=60)
    usage: Literal["P", "T"] = "P"

    def to_setup(self) -> PayerSetup:
        return PayerSetup(**self.model_dump())


class CoverageIn(InputModel):
    patient_id: str = Field(min_length=1, max_length=64)
    payer_id: str = Field(min_length=1, max_length=80)
    member_id: str = Field(min_length=1, max_length=80)
    address1: str = Field(min_length=1, max_length=55)
    city: str = Field(min_length=1, max_length=30)
    state: str = STATE
    zip: str = ZIP
    relationship: Literal["self", "spouse", "child", "other"] = "self"
    priority: Literal["primary", "secondary", "tertiary"] = "primary"
    group_number: str = Field(default="", max_length=50)
    address2: str = Field(default="", max_length=55)
    subscriber_last: str | None = Field(default=None, max_length=60)
    subscriber_first: str | None = Field(default=None, max_length=35)
    subscriber_birth_date: date | None = None
    subscriber_sex: Literal["F", "M", "U"] | None = None
    effective_from: date | None = None
    effective_to: date | None = None

    def to_setup(self) -> CoverageSetup:
        return CoverageSetup(**self.model_dump())


class ClaimCreateIn(InputModel):
    study_id: int = Field(ge=1, le=2**31 - 1)


class ExportIn(InputModel):
    payer: str | None = Field(default=None, max_length=80)
    claims: list[str] = Field(default_factory=list, max_length=10_000)


class LineEditIn(InputModel):
    line: int = Field(ge=1, le=50)
    code: str | None = Field(default=None, pattern=r"^[0-9A-Z]{5}$")
    modifiers: list[str] | None = Field(default=None, max_length=4)
    units: int | None = Field(default=None, ge=1, le=999)


class CorrectIn(InputModel):
    lines: list[LineEditIn] = Field(default_factory=list, max_length=50)
    drop_lines: list[int] = Field(default_factory=list, max_length=50)
    diagnoses: list[str] | None = Field(default=None, max_length=12)
    prior_authorization: str | None = Field(default=None, max_length=50)


class WorkIn(InputModel):
    action: Literal[
        "correct",
        "reopening",
        "new_original",
        "appeal",
        "bill_patient",
        "bill_secondary",
        "write_off",
        "refund",
        "recover",
    ]
    note: str = Field(default="", max_length=2000)


# ------------------------------------------------------------------------------------------ responses
class AdjustmentOut(Model):
    """One adjustment of a line: a payer's CAS (group, CARC, RARCs) or the biller's write-off."""

    kind: str
    group: str
    carc: str
    rarc: list[str]
    amount: str


class ClaimLineOut(Model):
    line: int
    control: str
    code: str
    modifiers: list[str]
    units: int
    charge: str
    date_from: date
    date_to: date | None
    pointers: list[int]
    payment: str
    contractual: str
    denial: str = Field(description="denied and still current")
    denial_overturned: str = Field(
        description="denied, then paid by the same payer's later determination (history, not owed)"
    )
    patient: str
    write_off: str
    adjustments: list[AdjustmentOut]


class StateMoveOut(Model):
    """One audited move of the claim: who, when, from and to which state."""

    at: datetime
    actor: str
    action: str
    before: dict[str, Any] | None = Field(description="none for the move that made the claim")
    after: dict[str, Any]


class AckOut(Model):
    kind: str
    status: str
    detail: str
    at: str


class RemittanceOut(Model):
    trace_number: str
    payer: str
    payment_date: date
    clp_status: str
    paid: str
    patient_responsibility: str
    crossover: bool
    corrected_insured: str = ""  # the insured as the payer corrected them (835 NM1*74): fix the coverage


class ClaimDetailOut(Model):
    summary: ClaimSummary  # the workflow's own dataclasses: one definition of each shape
    balance: dict[str, str]
    lines: list[ClaimLineOut]
    findings: list[dict[str, Any]]
    history: list[StateMoveOut]
    acknowledgements: list[AckOut]
    remittances: list[RemittanceOut]
    denials: list[DenialView]
    payer_claim_number: str | None
    replaces: str | None
    replaced_by: list[str]
    claim: ProfessionalClaimDocument | None
    secondary_of: str | None  # the primary claim whose patient share this one bills (COB)
    secondary_claims: list[str]  # the secondary claims this claim's patient share was billed on
    correction: Literal["replacement", "new_original"] | None = Field(
        default=None,
        description="What correcting the claim makes of it now: a replacement (frequency 7, REF*F8), a new "
        "original (a rejected claim), or null where correcting is refused (not yet decided, a payer "
        "taking reopenings, no payer claim number yet)",
    )
    superseded_by: str | None = Field(
        default=None,
        description="The claim whose determination counts instead of this one's: the replacement the payer "
        "accepted, or the original whose determination stands while the payer refused this replacement; "
        "this claim's lines and balance are then its own first figures, kept as history",
    )
    superseded: str | None = Field(default=None, description="Why, as the claim's page says it")
    provider_adjustments: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The payer's PLB adjustments naming this claim in PLB03-2 (reason, reference, amount: "
        "positive takes money from the practice, negative pays it, e.g. L6 interest), with the remittance",
    )


class ExportedFileOut(Model):
    """One 837P file of an export. The file stays under the server's home folder, whose layout is not the
    biller's business: its name, and the route that downloads it (``GET /api/v1/claims/{id}/837p``, by
    any of its claims: audited, ``claim:export``)."""

    name: str
    payer: str
    claims: list[str]
    interchange_control: int
    download_url: str
    x12: str


class ExportOut(Model):
    files: list[ExportedFileOut]
