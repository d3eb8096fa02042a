"""Claims from coded studies: create and scrub, export 837P files per payer, correct.

``create_claim`` turns a coded study into a :class:`~ecgdesk.claims.ProfessionalClaim` with the billing
set-up, the patient's coverage and the payer's rule set (line dates by its date-of-service convention,
charges at the practice's percentage of the Medicare national amount), then scrubs it three ways: the
coding scrubber's findings, the payer rules (timely filing, prior authorization, ABN modifiers, frequency
limits) and the TR3 rules. A claim with an error stays ``created`` and is never exported; running
``create_claim`` again after fixing the set-up rebuilds it. ``export_claims`` writes one 837P per payer
with control numbers drawn from the database, marks the claims ``exported`` and their studies ``billed``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.claims import (
    Address,
    BillingProvider,
    PayerInfo,
    Person,
    ProfessionalClaim,
    Provider,
    Relationship,
    ServiceLine,
    claim_problems,
)
from ecgdesk.claims.schemas import claim_to_dict
from ecgdesk.coding import Claim, ClaimLine, Finding, Setting, Severity
from ecgdesk.coding import claim_from_dict as coding_claim_from_dict
from ecgdesk.coding.payer_rules import PayerRules, payer_findings
from ecgdesk.coding.refdata import RefData
from ecgdesk.errors import ConflictError, InputError, NotFoundError, is_digits
from ecgdesk.store import Store, append, canonical_json
from ecgdesk.store.claims_models import (
    BillingProviderRow,
    ClaimLineRow,
    ClaimRow,
    CoverageRow,
    PayerRow,
)
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import Order, Patient, Study
from ecgdesk.workflow.billing import claim_to_dict as coding_claim_dict
from ecgdesk.workflow.billing import coding_changes, latest_coding, signed_on, store_coding
from ecgdesk.workflow.claims_ledger import ClaimStatus, cents, move_claim
from ecgdesk.workflow.claims_setup import clinician, coverage_for, default_billing, rules_of, split_name
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.studies import get_study

CENT = Decimal("0.01")
#: Claims of a study that block creating another one (the others were replaced or never sent).
ACTIVE = frozenset(s.value for s in ClaimStatus) - {ClaimStatus.CORRECTED.value, ClaimStatus.REJECTED.value}


# ------------------------------------------------------------------------------------------ building


def tagged_findings(source: str, found: Sequence[Finding]) -> list[dict[str, Any]]:
    return [{**f.to_dict(), "source": source} for f in found]


def _tr3(claim: ProfessionalClaim) -> list[dict[str, Any]]:
    return [
        {
            "rule": "tr3",
            "severity": "error",
            "line": None,
            "code": None,
            "carc": "16",
            "source": "tr3",
            "message": f"{p.field}: {p.reason}",
            "fix": "Correct the billing set-up, coverage or claim and run 'ecgdesk claims create' again.",
        }
        for p in claim_problems(claim)
    ]


def scrub_all(
    claim: ProfessionalClaim,
    coding: Claim,
    coding_findings: list[dict[str, Any]],
    rules: PayerRules,
    today: date,
    history: Sequence[Claim] = (),
) -> list[dict[str, Any]]:
    """Coding findings, payer-rule findings and TR3 problems of one claim, as stored with it."""
    payer = payer_findings(coding, rules, today, history, claim.prior_authorization)
    return [*coding_findings, *tagged_findings("payer", payer), *_tr3(claim)]


def has_errors(findings: Sequence[dict[str, Any]]) -> bool:
    return any(f["severity"] == Severity.ERROR.value for f in findings)


def scrubbed(session: Session, row: ClaimRow, findings: Sequence[dict[str, Any]], actor: str) -> None:
    """A claim just built (original, correction or secondary) moves by its scrub: ``created`` with an error
    (never exported), else ``scrubbed``; audited as ``claim:scrub`` with the number of errors (the count
    also makes the row when the claim is held where it was built, ``created`` to ``created``)."""
    status = ClaimStatus.CREATED if has_errors(findings) else ClaimStatus.SCRUBBED
    errors = sum(f["severity"] == "error" for f in findings)
    move_claim(session, row, status, actor, "scrub", {"errors": errors})


def _price(
    refdata: RefData, setting: Setting, code: str, modifiers: Sequence[str], day: date, pos: str, percent: int
) -> Decimal:
    table = refdata.rvu(setting, day)
    row = None
    for modifier in ("26", "TC"):
        if modifier in modifiers:
            row = table.value(code, modifier)
    row = row or table.value(code, "")
    if row is None:
        raise InputError(
            "charge",
            f"no fee schedule amount for {code} (contractor priced or unknown); "
            "it cannot be priced automatically",
        )
    facility = pos in {
        "19",
        "21",
        "22",
        "23",
        "24",
        "26",
        "31",
        "34",
        "41",
        "42",
        "51",
        "52",
        "53",
        "56",
        "61",
    }
    amount = (
        row.payment_facility if facility and row.payment_facility is not None else row.payment_nonfacility
    )
    return (Decimal(str(amount)) * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _line_dates(line: ClaimLine, convention: str, interpreted: date | None) -> tuple[date, date | None]:
    # only a line with a span (Holter, patch) follows the payer's convention: a monitoring period's lines
    # come dated part by part (hook-up, end, signed read) and keep that date for every payer
    end = line.date_of_service_end
    if end is None or end == line.date_of_service:
        return line.date_of_service, None
    if convention == "end":
        return end, None
    if convention == "interpretation":
        return (interpreted or end), None
    if convention == "period":
        return line.date_of_service, end
    return line.date_of_service, None


def _person(coverage: CoverageRow) -> Person:
    return Person(
        coverage.subscriber_last,
        coverage.subscriber_first,
        coverage.subscriber_birth_date,
        coverage.subscriber_sex,
        Address(coverage.address1, coverage.city, coverage.state, coverage.zip, coverage.address2),
    )


def _billing(row: BillingProviderRow) -> BillingProvider:
    return BillingProvider(
        row.name,
        row.npi,
        row.tin,
        row.taxonomy,
        Address(row.address1, row.city, row.state, row.zip, row.address2),
        row.contact_name,
        row.contact_phone,
    )


@dataclass(frozen=True)
class ClaimInputs:
    """What one claim is built from (rows of the store, read in one transaction)."""

    study: Study
    order: Order
    patient: Patient
    coverage: CoverageRow
    payer: PayerRow
    billing: BillingProviderRow
    coding: Claim
    coding_findings: list[dict[str, Any]]
    interpreted: date | None
    recoded: tuple[str, ...] = ()  # why the stored coding was out of date and coded again


def _inputs(session: Session, study_id: int, actor: str) -> ClaimInputs:
    # Locked: a second "create claim" of the study at the same moment waits, then finds this claim (on
    # PostgreSQL both saw none and made two claims of one study).
    study = get_study(session, study_id, for_update=True)
    if StudyStatus(study.status) not in (StudyStatus.CODED, StudyStatus.BILLED):
        raise InputError(
            "status", f"study {study_id} is '{study.status}'; code it first ('ecgdesk study code')"
        )
    record = latest_coding(session, study_id)
    if record is None:
        raise InputError("coding", f"study {study_id} has no coding result")
    recoded = coding_changes(session, study, record)
    if recoded:
        # a claim bills what coding gives now, not lines an older rule or an older state of the study gave
        # (the billing page shows why); coding again is the biller's own action (study:code and
        # claim:create are both the biller's), stored and audited as such, and the study keeps its status
        store_coding(session, study, actor, recoded)
        record = latest_coding(session, study_id)
        assert record is not None
    order = session.get(Order, study.order_id)
    patient = session.get(Patient, study.patient_id)
    assert order is not None and patient is not None
    coding = coding_claim_from_dict(json.loads(record.claim_json), source=f"study {study_id} coding")
    if not coding.lines:
        raise InputError("coding", f"study {study_id} has no billable line")
    day = min(line.date_of_service for line in coding.lines)
    coverage = coverage_for(session, patient.id, day)
    if coverage is None:
        raise InputError(
            "coverage",
            f"patient {patient.external_id} has no primary coverage in force on {day}; add it with "
            "'ecgdesk billing coverage add'",
        )
    payer = session.get(PayerRow, coverage.payer_id)
    assert payer is not None
    return ClaimInputs(
        study,
        order,
        patient,
        coverage,
        payer,
        default_billing(session),
        coding,
        [{**f, "source": "coding"} for f in json.loads(record.scrub_json)],
        signed_on(session, study_id),
        recoded,
    )


def build_claim(
    session: Session, inputs: ClaimInputs, claim_number: str, refdata: RefData
) -> ProfessionalClaim:
    """The 837P claim of a coded study (line dates and charges by the payer's rules and the set-up)."""
    coding, rules = inputs.coding, rules_of(inputs.payer)
    ordering_row = clinician(session, inputs.order.ordering_npi, inputs.order.ordering_name, "ordering")
    ordering = Provider(ordering_row.npi, ordering_row.last_name, ordering_row.first_name)
    rendering = None
    if coding.provider_id:
        row = clinician(session, coding.provider_id, None, "rendering")
        rendering = Provider(row.npi, row.last_name, row.first_name, taxonomy=row.taxonomy)
    lines = []
    for number, line in enumerate(coding.lines, start=1):
        start, end = _line_dates(line, rules.dos_convention(line.code), inputs.interpreted)
        price = _price(
            refdata,
            coding.setting,
            line.code,
            line.modifiers,
            start,
            coding.place_of_service,
            inputs.billing.charge_percent,
        )
        lines.append(
            ServiceLine(
                f"{claim_number}L{number}",
                line.code,
                price * line.units,
                line.units,
                start,
                end,
                line.modifiers,
                line.diagnosis_pointers,
                None,
                ordering,
            )
        )
    relationship = Relationship(inputs.coverage.relationship)
    patient = None
    if relationship is not Relationship.SELF:
        last, first = split_name(inputs.patient.name)
        cov = inputs.coverage
        patient = Person(
            last,
            first,
            inputs.patient.birth_date,
            inputs.patient.sex[:1],
            Address(cov.address1, cov.city, cov.state, cov.zip, cov.address2),
        )
    return ProfessionalClaim(
        claim_id=claim_number,
        billing=_billing(inputs.billing),
        payer=PayerInfo(
            inputs.payer.name, inputs.payer.payer_id, inputs.payer.filing_indicator, inputs.coverage.priority
        ),
        subscriber_id=inputs.coverage.member_id,
        subscriber=_person(inputs.coverage),
        relationship=relationship,
        diagnoses=coding.diagnoses,
        lines=tuple(lines),
        place_of_service=coding.place_of_service,
        patient=patient,
        rendering=rendering,
        group_number=inputs.coverage.group_number,
    )


def _store_lines(session: Session, row: ClaimRow, claim: ProfessionalClaim) -> None:
    for old in session.scalars(select(ClaimLineRow).where(ClaimLineRow.claim_id == row.id)):
        session.delete(old)
    session.flush()
    for number, line in enumerate(claim.lines, start=1):
        session.add(
            ClaimLineRow(
                claim_id=row.id,
                line_number=number,
                control=line.control,
                code=line.code,
                modifiers=",".join(line.modifiers),
                units=line.units,
                charge_cents=cents(line.charge),
                date_from=line.date_from,
                date_to=line.date_to,
                pointers=",".join(map(str, line.pointers)),
            )
        )


def patient_history(session: Session, claim: ClaimRow) -> list[Claim]:
    """The patient's other claims (as coding claims) for the payer frequency limits."""
    rows = session.scalars(
        select(ClaimRow).where(
            ClaimRow.patient_id == claim.patient_id, ClaimRow.id != claim.id, ClaimRow.status.in_(ACTIVE)
        )
    ).all()
    return [coding_claim_from_dict(json.loads(r.claim_json)["coding"]) for r in rows]


def save_claim(
    session: Session, row: ClaimRow, claim: ProfessionalClaim, coding: Claim, findings: list[dict[str, Any]]
) -> None:
    row.claim_json = canonical_json({"claim": claim_to_dict(claim), "coding": coding_claim_dict(coding)})
    row.scrub_json = canonical_json(findings)
    row.charge_cents = cents(claim.total_charge)
    row.frequency = claim.frequency.value
    row.payer_claim_number = claim.payer_claim_number or row.payer_claim_number
    row.prior_authorization = claim.prior_authorization
    row.place_of_service = claim.place_of_service
    _store_lines(session, row, claim)


@dataclass(frozen=True)
class CreatedClaim:
    claim_id: str
    id: int
    status: str
    errors: list[str]
    recoded: tuple[str, ...] = ()  # the stored coding was out of date and the study was coded again: why


def new_claim_row(
    session: Session,
    actor: str,
    stamp: datetime,
    placeholder: str,
    prefix: str,
    *,
    study_id: int | None,
    patient_id: int,
    payer_id: int,
    coverage_id: int,
    billing_provider_id: int,
    frequency: str = "1",
    original_claim_id: int | None = None,
    place_of_service: str = "",
) -> ClaimRow:
    """A new claim's row, numbered ``prefix`` and its id (seven digits) once the database has given the id;
    ``placeholder`` holds the unique claim number until then (an original, a correction and a secondary
    claim are all made this way)."""
    row = ClaimRow(
        claim_number=placeholder[-38:],
        study_id=study_id,
        patient_id=patient_id,
        payer_id=payer_id,
        coverage_id=coverage_id,
        billing_provider_id=billing_provider_id,
        status=ClaimStatus.CREATED.value,
        frequency=frequency,
        original_claim_id=original_claim_id,
        place_of_service=place_of_service,
        charge_cents=0,
        claim_json="{}",
        scrub_json="[]",
        created_by=actor,
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(row)
    session.flush()
    row.claim_number = f"{prefix}{row.id:07d}"
    return row


def create_claim(
    store: Store, study_id: int, actor: str, today: date | None = None, refdata: RefData | None = None
) -> CreatedClaim:
    """The claim of a coded study, built and scrubbed (``scrubbed`` when clean, else ``created``)."""
    today = today or date.today()
    refdata = refdata or RefData.from_env()
    with store.transaction() as session:
        inputs = _inputs(session, study_id, actor)
        row = session.scalar(
            select(ClaimRow)
            .where(ClaimRow.study_id == study_id, ClaimRow.status.in_(ACTIVE))
            .order_by(ClaimRow.id.desc())
        )
        if row is not None and ClaimStatus(row.status) not in (ClaimStatus.CREATED, ClaimStatus.SCRUBBED):
            raise ConflictError(
                "study",
                f"study {study_id} already has claim {row.claim_number} ({row.status}); "
                "use 'ecgdesk claims correct' to change it",
            )
        rebuilt = row is not None
        if row is None:
            stamp = now()
            row = new_claim_row(
                session, actor, stamp, f"NEW{os.getpid()}{stamp.timestamp():.6f}",
                inputs.billing.claim_prefix,
                study_id=study_id, patient_id=inputs.patient.id, payer_id=inputs.payer.id,
                coverage_id=inputs.coverage.id, billing_provider_id=inputs.billing.id,
            )
        else:
            row.payer_id, row.coverage_id = inputs.payer.id, inputs.coverage.id
            row.billing_provider_id = inputs.billing.id
        claim = build_claim(session, inputs, row.claim_number, refdata)
        rules = rules_of(inputs.payer, claim.lines[0].date_from)
        findings = scrub_all(
            claim, inputs.coding, inputs.coding_findings, rules, today, patient_history(session, row)
        )
        save_claim(session, row, claim, inputs.coding, findings)
        if not rebuilt:
            append(
                session,
                actor,
                "claim:create",
                "claim",
                row.id,
                None,
                {
                    "claim_number": row.claim_number,
                    "study_id": study_id,
                    "charge": f"{claim.total_charge:.2f}",
                    "payer": inputs.payer.payer_id,
                },
            )
        scrubbed(session, row, findings, actor)
        return CreatedClaim(
            row.claim_number,
            row.id,
            row.status,
            [f["message"] for f in findings if f["severity"] == "error"],
            inputs.recoded,
        )


def find_claim(session: Session, claim_ref: str | int, for_update: bool = False) -> ClaimRow:
    """A claim by its claim number (CLM01) or row id; ``for_update``: its row locked until the transaction
    ends, for a change that checks the claim's status first (PostgreSQL; see ``lifecycle.get_study``)."""
    text = str(claim_ref).strip()
    query = select(ClaimRow).where(ClaimRow.claim_number == text)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None and is_digits(text) and 0 < int(text) <= 2**31 - 1:
        # a row id beyond the column's range is no claim
        row = session.get(
            ClaimRow, int(text), with_for_update=for_update or None, populate_existing=for_update
        )
    if row is None:
        raise NotFoundError("claim", f"no claim {text!r}")
    return row
