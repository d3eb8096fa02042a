"""Tables of billing set-up, claims, X12 files, remittances, the claim ledger and the denial queue.

Money is stored as integer cents (exact on every backend). A claim's balances are never stored: they are
sums over its ledger rows (payments, contractual and denial adjustments, patient responsibility,
write-offs), so they are always derivable and every posting is a row. Outbound X12 files draw their
interchange and group control numbers from ``x12_batches.id`` (never reused: AUTOINCREMENT on SQLite,
an identity sequence elsewhere).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecgdesk.store.models import UTC_TIME, Base


class BillingProviderRow(Base):
    """The practice or IDTF that bills: NPI, TIN, taxonomy, street address with ZIP+4, EDI ids."""

    __tablename__ = "billing_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    tin: Mapped[str] = mapped_column(String(9))
    taxonomy: Mapped[str] = mapped_column(String(10))
    address1: Mapped[str] = mapped_column(String(55))
    address2: Mapped[str] = mapped_column(String(55), default="")
    city: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(2))
    zip: Mapped[str] = mapped_column(String(9))
    contact_name: Mapped[str] = mapped_column(String(60))
    contact_phone: Mapped[str] = mapped_column(String(20))
    submitter_id: Mapped[str] = mapped_column(String(15))
    claim_prefix: Mapped[str] = mapped_column(String(8))
    charge_percent: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class ClinicianRow(Base):
    """A rendering, ordering or referring provider known by NPI (names as the 837P carries them)."""

    __tablename__ = "billing_clinicians"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    last_name: Mapped[str] = mapped_column(String(60))
    first_name: Mapped[str] = mapped_column(String(35), default="")
    taxonomy: Mapped[str] = mapped_column(String(10), default="")
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class PayerRow(Base):
    """A payer: name, payer id, claim filing indicator, timely filing, rule set and EDI receiver."""

    __tablename__ = "payers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    payer_id: Mapped[str] = mapped_column(String(80), unique=True)
    filing_indicator: Mapped[str] = mapped_column(String(2))
    timely_filing_days: Mapped[int] = mapped_column(Integer)
    rules_id: Mapped[str] = mapped_column(String(40))
    receiver_id: Mapped[str] = mapped_column(String(15))
    receiver_name: Mapped[str] = mapped_column(String(60))
    usage: Mapped[str] = mapped_column(String(1), default="P")
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class CoverageRow(Base):
    """A patient's coverage by a payer: member id, relationship, the subscriber and their address."""

    __tablename__ = "coverages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    priority: Mapped[str] = mapped_column(String(1))
    member_id: Mapped[str] = mapped_column(String(80))
    group_number: Mapped[str] = mapped_column(String(50), default="")
    relationship: Mapped[str] = mapped_column(String(2))
    subscriber_last: Mapped[str] = mapped_column(String(60))
    subscriber_first: Mapped[str] = mapped_column(String(35))
    subscriber_birth_date: Mapped[date] = mapped_column(Date)
    subscriber_sex: Mapped[str] = mapped_column(String(1))
    address1: Mapped[str] = mapped_column(String(55))
    address2: Mapped[str] = mapped_column(String(55), default="")
    city: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(2))
    zip: Mapped[str] = mapped_column(String(9))
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class X12Batch(Base):
    """One X12 file we wrote (837P) or read (999, 277CA, 835); outbound control numbers are its id."""

    __tablename__ = "x12_batches"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(4))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    claims_count: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class ClaimRow(Base):
    """One professional claim (CLM01 = ``claim_number``), its state and what was written for it."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_number: Mapped[str] = mapped_column(String(38), unique=True)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    coverage_id: Mapped[int] = mapped_column(ForeignKey("coverages.id"))
    billing_provider_id: Mapped[int] = mapped_column(ForeignKey("billing_providers.id"))
    status: Mapped[str] = mapped_column(String(20))
    frequency: Mapped[str] = mapped_column(String(1))
    original_claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    payer_claim_number: Mapped[str | None] = mapped_column(String(50))
    prior_authorization: Mapped[str | None] = mapped_column(String(50))
    place_of_service: Mapped[str] = mapped_column(String(2))
    charge_cents: Mapped[int] = mapped_column(Integer)
    claim_json: Mapped[str] = mapped_column(Text)
    scrub_json: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("x12_batches.id"))
    exported_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    updated_at: Mapped[datetime] = mapped_column(UTC_TIME)


class ClaimLineRow(Base):
    """A billed service line; ``control`` is the REF*6R line control number the 835 echoes."""

    __tablename__ = "claim_lines"
    __table_args__ = (UniqueConstraint("claim_id", "line_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    line_number: Mapped[int] = mapped_column(Integer)
    control: Mapped[str] = mapped_column(String(50), unique=True)
    code: Mapped[str] = mapped_column(String(5))
    modifiers: Mapped[str] = mapped_column(String(11), default="")
    units: Mapped[int] = mapped_column(Integer)
    charge_cents: Mapped[int] = mapped_column(Integer)
    date_from: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date | None] = mapped_column(Date)
    pointers: Mapped[str] = mapped_column(String(12))


class ClaimAckRow(Base):
    """What a 999 or 277CA said about one claim."""

    __tablename__ = "claim_acks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("x12_batches.id"))
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(4))
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class RemittanceRow(Base):
    """A posted 835 transaction set; (payer, trace number) and the file's hash are never posted twice."""

    __tablename__ = "remittances"
    __table_args__ = (UniqueConstraint("payer_trace_id", "trace_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("x12_batches.id"))
    payer_trace_id: Mapped[str] = mapped_column(String(80))
    trace_number: Mapped[str] = mapped_column(String(80))
    payer_name: Mapped[str] = mapped_column(String(60))
    payment_cents: Mapped[int] = mapped_column(Integer)
    credit: Mapped[bool] = mapped_column(Boolean)
    method: Mapped[str] = mapped_column(String(3))
    payment_date: Mapped[date] = mapped_column(Date)
    posted_by: Mapped[str] = mapped_column(String(64))
    posted_at: Mapped[datetime] = mapped_column(UTC_TIME)


class ClaimPaymentRow(Base):
    """One 835 claim payment (CLP) matched to our claim."""

    __tablename__ = "claim_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"))
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    status_code: Mapped[str] = mapped_column(String(2))
    charge_cents: Mapped[int] = mapped_column(Integer)
    paid_cents: Mapped[int] = mapped_column(Integer)
    patient_cents: Mapped[int] = mapped_column(Integer)
    payer_claim_number: Mapped[str] = mapped_column(String(50))
    crossover: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int] = mapped_column(Integer)
    # the insured as the payer corrected them (835 NM1*74), empty when it corrected nothing (migration 0031)
    corrected_insured: Mapped[str] = mapped_column(String(120), default="", server_default="")


class LedgerRow(Base):
    """One money movement on a claim (line): payment, contractual, denial, patient or write_off."""

    __tablename__ = "claim_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("claim_lines.id"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("claim_payments.id"))
    kind: Mapped[str] = mapped_column(String(12))
    group_code: Mapped[str] = mapped_column(String(2), default="")
    carc: Mapped[str] = mapped_column(String(5), default="")
    rarcs: Mapped[str] = mapped_column(String(60), default="")
    amount_cents: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class UnmatchedRemitRow(Base):
    """An 835 claim payment for a claim we never sent (or cannot find): kept for a person to resolve."""

    __tablename__ = "unmatched_remittances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"))
    claim_number: Mapped[str] = mapped_column(String(38))
    status_code: Mapped[str] = mapped_column(String(2))
    charge_cents: Mapped[int] = mapped_column(Integer)
    paid_cents: Mapped[int] = mapped_column(Integer)
    payer_claim_number: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class ProviderAdjustmentRow(Base):
    """A PLB provider-level adjustment (interest, recoupment, forwarding balance ...)."""

    __tablename__ = "provider_adjustments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"))
    provider_id: Mapped[str] = mapped_column(String(50))
    fiscal_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(2))
    reference: Mapped[str] = mapped_column(String(50))
    amount_cents: Mapped[int] = mapped_column(Integer)


class DenialItemRow(Base):
    """A denied or adjusted line to work: CARC/RARC, category, next action, deadline and who did what."""

    __tablename__ = "denial_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("claim_lines.id"))
    ledger_id: Mapped[int] = mapped_column(ForeignKey("claim_ledger.id"))
    group_code: Mapped[str] = mapped_column(String(2))
    carc: Mapped[str] = mapped_column(String(5))
    rarcs: Mapped[str] = mapped_column(String(60))
    amount_cents: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(30))
    next_action: Mapped[str] = mapped_column(String(20))
    deadline: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    worked_action: Mapped[str | None] = mapped_column(String(20))
    worked_by: Mapped[str | None] = mapped_column(String(64))
    worked_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    # the claim payment whose posting closed the item (later_payer, overturned, reversed): a reversal of
    # that payment reopens exactly these, whatever else was closed at the same time (migration 0017)
    closed_by_payment_id: Mapped[int | None] = mapped_column(ForeignKey("claim_payments.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    letter_path: Mapped[str | None] = mapped_column(Text)
    result_claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
