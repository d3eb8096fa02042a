"""Read views of claims (list, one claim with its states, remittances and denial items) and A/R aging.

Showing a claim is a read of patient data and is written to the audit log. Balances come from the
ledger (:func:`~ecgdesk.workflow.claims_ledger.balances`); A/R aging puts each claim's open insurance
balance in a bucket by days since it was first exported (0-30, 31-60, 61-90, 90+), per payer. Each service
counts once (:func:`counted`): claims replaced by a correction count only what their payer took back twice
(their replacement carries the service), unless the payer has not accepted the replacement (not decided
yet, or refused) while the original's determination stands: then the original carries it and the
replacement counts nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.claims.schemas import claim_from_dict, claim_to_dict
from ecgdesk.errors import ConflictError, NotFoundError, check_option
from ecgdesk.store import Store
from ecgdesk.store.claims_models import (
    ClaimAckRow,
    ClaimLineRow,
    ClaimPaymentRow,
    ClaimRow,
    LedgerRow,
    PayerRow,
    ProviderAdjustmentRow,
    RemittanceRow,
    X12Batch,
)
from ecgdesk.store.models import AuditEntry, Patient, Study
from ecgdesk.workflow.claims import find_claim
from ecgdesk.workflow.claims_denials import DenialView, list_denials
from ecgdesk.workflow.claims_export import correction_offer
from ecgdesk.workflow.claims_ledger import (
    OVERTURNED,
    SENT,
    WRITE_OFF_OVERTURNED,
    Balance,
    ClaimStatus,
    balances,
    dollars,
    overturned_denials,
    overturned_write_offs,
)
from ecgdesk.workflow.claims_replaced import NOT_DETERMINING, superseded, undecided_replacements
from ecgdesk.workflow.claims_secondary import primary_claims, secondary_claim_numbers
from ecgdesk.workflow.paging import Rows, paged
from ecgdesk.workflow.permissions import audit_read

BUCKETS = ("0-30", "31-60", "61-90", "90+")


def counted(claim: ClaimRow, balance: Balance, undecided: dict[int, int]) -> tuple[Decimal, Decimal]:
    """The (insurance, patient) balance the claims list, A/R aging and the patient's balance count for a
    claim, so that each service counts once. A corrected claim's service is its replacement's: it counts
    only what its payer took back twice (a refund or recoupment, then a reversal too:
    ``Balance.owed_by_payer``), which no replacement carries. But until the payer accepts the replacement
    (while it waits for the payer's answer, or after a refusal) and as long as the original is not
    reversed (``undecided``: replacement -> the claim carrying the service, from
    ``claims_replaced.undecided_replacements``), the original's determination stands and carries the
    service (its payment, its patient share); the replacement counts nothing (a denial of it stays
    work)."""
    if claim.id in undecided:
        return Decimal(0), Decimal(0)
    if claim.status == ClaimStatus.CORRECTED.value and claim.id not in undecided.values():
        return balance.owed_by_payer, Decimal(0)
    return balance.insurance, balance.patient_balance


@dataclass(frozen=True)
class ClaimSummary:
    claim_id: str
    id: int
    study_id: int | None
    patient: str
    payer: str
    status: str
    frequency: str
    charge: str
    exported_at: str | None
    insurance_balance: str
    patient_balance: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _summaries(session: Session, rows: list[ClaimRow]) -> list[ClaimSummary]:
    payers = {p.id: p.payer_id for p in session.scalars(select(PayerRow))}
    patients = (
        {
            p.id: p.external_id
            for p in session.scalars(select(Patient).where(Patient.id.in_({r.patient_id for r in rows})))
        }
        if rows
        else {}
    )
    money = balances(session, rows)
    # a corrected claim's money is its replacement's (A/R aging and the patient's balance leave it out):
    # shown with no balance of its own but what its payer owes back, so the list adds up to what aging says
    undecided = undecided_replacements(session, rows)
    shown = {r.id: counted(r, money[r.id], undecided) for r in rows}
    return [
        ClaimSummary(
            r.claim_number,
            r.id,
            r.study_id,
            patients.get(r.patient_id, "?"),
            payers.get(r.payer_id, "?"),
            r.status,
            r.frequency,
            f"{dollars(r.charge_cents):.2f}",
            r.exported_at.isoformat(timespec="seconds") if r.exported_at else None,
            f"{shown[r.id][0]:.2f}",
            f"{shown[r.id][1]:.2f}",
        )
        for r in rows
    ]


def list_claims(
    store: Store,
    actor: str,
    status: str | None = None,
    study_id: int | None = None,
    payer: str | None = None,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> Rows[ClaimSummary]:
    """Claims, newest first, optionally by status, study or payer id; one page of them with ``limit``."""
    if status is not None:
        check_option("status", status, [s.value for s in ClaimStatus])
    with store.transaction() as session:
        query = select(ClaimRow)
        if status is not None:
            query = query.where(ClaimRow.status == status)
        if study_id is not None:
            query = query.where(ClaimRow.study_id == study_id)
        if payer is not None:
            query = query.join(PayerRow, ClaimRow.payer_id == PayerRow.id).where(PayerRow.payer_id == payer)
        query, total = paged(session, query.order_by(ClaimRow.id.desc()), offset, limit)
        found = _summaries(session, list(session.scalars(query)))
        audit_read(
            session,
            actor,
            "claims",
            "claim",
            "*",
            {"status": status, "study": study_id, "payer": payer, "offset": offset, "claims": len(found)},
        )
        return Rows(found, total)


@dataclass
class ClaimDetail:
    summary: ClaimSummary
    balance: dict[str, str]
    lines: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    history: list[dict[str, Any]]
    acknowledgements: list[dict[str, Any]]
    remittances: list[dict[str, Any]]
    denials: list[DenialView]
    payer_claim_number: str | None
    replaces: str | None
    replaced_by: list[str] = field(default_factory=list)
    #: the claim as it is (or will be) sent: the claims member of the schema family (claims.schemas)
    claim: dict[str, Any] | None = None
    #: the primary claim whose patient share this secondary claim bills (COB), and the other way round
    secondary_of: str | None = None
    secondary_claims: list[str] = field(default_factory=list)
    #: what "correct" makes of it now (claims_export.correction_offer): replacement, new_original or None
    correction: str | None = None
    #: the claim whose determination counts instead of this one's (a replacement the payer accepted, or the
    #: original whose determination stands beside a replacement the payer has not accepted), and why: this
    #: claim's lines and ``balance`` are then its own first figures, kept as history, and its summary counts
    #: what is left
    superseded_by: str | None = None
    superseded: str | None = None
    #: the payer's provider-level adjustments (835 PLB) whose PLB03-2 names this claim (our number or its
    #: CLP07): interest (L6), a recoupment (WO) or a forwarding balance (FB) that moved money for it
    provider_adjustments: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.summary.to_dict()
        data["denials"] = [d.to_dict() for d in self.denials]
        return data


def _lines(session: Session, claim: ClaimRow) -> list[dict[str, Any]]:
    ledger: dict[tuple[int | None, str], int] = {}
    adjusted: dict[int | None, list[dict[str, Any]]] = {}
    overturned = overturned_denials(session, [claim.id])
    # the write-offs of those denials, each matched once to a write-off row of its line
    written_back = [w[1:] for w in overturned_write_offs(session, [claim.id], overturned)]
    for row in session.scalars(
        select(LedgerRow).where(LedgerRow.claim_id == claim.id).order_by(LedgerRow.id)
    ):
        # a denial the payer's later payment replaced is history, not a current denied amount
        overturned_here = row.payment_id is not None and (row.payment_id, row.line_id) in overturned
        kind = OVERTURNED if row.kind == "denial" and overturned_here else row.kind
        booked = (row.line_id, row.group_code, row.carc, row.amount_cents)
        if row.kind == "write_off" and row.payment_id is None and booked in written_back:
            written_back.remove(booked)
            kind = WRITE_OFF_OVERTURNED
        key = (row.line_id, kind)
        ledger[key] = ledger.get(key, 0) + row.amount_cents
        if kind != "payment":  # each adjustment as the payer (CAS) or the biller (write-off) booked it
            adjusted.setdefault(row.line_id, []).append(
                {
                    "kind": kind,
                    "group": row.group_code,
                    "carc": row.carc,
                    "rarc": [r for r in row.rarcs.split(",") if r],
                    "amount": f"{dollars(row.amount_cents):.2f}",
                }
            )
    lines = []
    for line in session.scalars(
        select(ClaimLineRow).where(ClaimLineRow.claim_id == claim.id).order_by(ClaimLineRow.line_number)
    ):
        lines.append(
            {
                "line": line.line_number,
                "control": line.control,
                "code": line.code,
                "modifiers": [m for m in line.modifiers.split(",") if m],
                "units": line.units,
                "charge": f"{dollars(line.charge_cents):.2f}",
                "date_from": line.date_from.isoformat(),
                "date_to": line.date_to.isoformat() if line.date_to else None,
                "pointers": [int(p) for p in line.pointers.split(",") if p],
                **{
                    kind: f"{dollars(ledger.get((line.id, kind), 0)):.2f}"
                    for kind in ("payment", "contractual", "denial", OVERTURNED, "patient", "write_off")
                },
                "adjustments": adjusted.get(line.id, []),
            }
        )
    return lines


def _document(claim: ClaimRow) -> dict[str, Any] | None:
    stored = json.loads(claim.claim_json).get("claim")
    if stored is None:  # a correction being built
        return None
    return claim_to_dict(claim_from_dict(stored, source=f"claim {claim.claim_number}"))


def _superseded(session: Session, claim: ClaimRow, summary: ClaimSummary) -> tuple[str | None, str | None]:
    """Whose determination counts instead of ``claim``'s, and the sentence its page shows."""
    counted_now = f"counted now: insurance {summary.insurance_balance}, patient {summary.patient_balance}"
    replacement = superseded(session, [claim]).get(claim.id)
    if replacement is not None:
        return replacement, (
            f"superseded by {replacement}: the payer accepted the replacement, whose determination counts "
            f"instead of this claim's; the lines and balance below are this claim's first determination, "
            f"kept as history ({counted_now})"
        )
    original = undecided_replacements(session, [claim]).get(claim.id)
    if original is not None:
        number = session.scalar(select(ClaimRow.claim_number).where(ClaimRow.id == original))
        answered = select(ClaimPaymentRow.id).where(
            ClaimPaymentRow.claim_id == claim.id, ClaimPaymentRow.status_code.not_in(NOT_DETERMINING)
        )
        if session.scalar(answered.limit(1)) is not None:
            return number, (
                f"not counted: the payer refused this replacement while the determination of {number} "
                f"stands, so {number} carries the service; the balance below is this claim's own denial "
                f"({counted_now})"
            )
        return number, (
            f"not counted yet: the payer has not decided this replacement ({claim.status}), so the "
            f"determination of {number} stands and carries the service until it does ({counted_now})"
        )
    return None, None


def _plbs_naming(session: Session, claim: ClaimRow) -> list[dict[str, Any]]:
    """The PLB adjustments whose reference (PLB03-2) is this claim's number or one of its CLP07s: posting
    books only a recoupment or return of an open overpayment on the claim, so the others were shown
    nowhere but in the posting's answer."""
    numbers = {claim.claim_number, claim.payer_claim_number or ""}
    numbers |= set(
        session.scalars(
            select(ClaimPaymentRow.payer_claim_number).where(ClaimPaymentRow.claim_id == claim.id)
        )
    )
    numbers.discard("")
    query = (
        select(ProviderAdjustmentRow, RemittanceRow)
        .join(RemittanceRow, ProviderAdjustmentRow.remittance_id == RemittanceRow.id)
        .where(ProviderAdjustmentRow.reference.in_(numbers))
        .order_by(ProviderAdjustmentRow.id)
    )
    return [
        {
            "reason": plb.reason,
            "reference": plb.reference,
            "amount": f"{dollars(plb.amount_cents):.2f}",
            "fiscal_date": plb.fiscal_date.isoformat(),
            "trace_number": remittance.trace_number,
            "payer": remittance.payer_name,
        }
        for plb, remittance in session.execute(query)
    ]


def show_claim(store: Store, claim_ref: str, actor: str) -> ClaimDetail:
    """One claim with its lines, findings, state history, acknowledgements, remittances and denials."""
    with store.transaction() as session:
        claim = find_claim(session, claim_ref)
        (summary,) = _summaries(session, [claim])
        history = [
            {
                "at": a.at,
                "actor": a.actor,
                "action": a.action,
                "before": json.loads(a.before_json),
                "after": json.loads(a.after_json),
            }
            for a in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity == "claim", AuditEntry.entity_id == str(claim.id))
                .order_by(AuditEntry.seq)
            )
            if not a.action.startswith("read:")
        ]
        acks = [
            {
                "kind": a.kind,
                "status": a.status,
                "detail": a.detail,
                "at": a.created_at.isoformat(timespec="seconds"),
            }
            for a in session.scalars(
                select(ClaimAckRow).where(ClaimAckRow.claim_id == claim.id).order_by(ClaimAckRow.id)
            )
        ]
        remits = [
            {
                "trace_number": r.trace_number,
                "payer": r.payer_name,
                "payment_date": r.payment_date.isoformat(),
                "clp_status": p.status_code,
                "paid": f"{dollars(p.paid_cents):.2f}",
                "patient_responsibility": f"{dollars(p.patient_cents):.2f}",
                "crossover": p.crossover,
                "corrected_insured": p.corrected_insured,
            }
            for p, r in session.execute(
                select(ClaimPaymentRow, RemittanceRow)
                .join(RemittanceRow, ClaimPaymentRow.remittance_id == RemittanceRow.id)
                .where(ClaimPaymentRow.claim_id == claim.id)
                .order_by(ClaimPaymentRow.id)
            )
        ]
        original = session.get(ClaimRow, claim.original_claim_id) if claim.original_claim_id else None
        replaced_by = list(
            session.scalars(select(ClaimRow.claim_number).where(ClaimRow.original_claim_id == claim.id))
        )
        detail = ClaimDetail(
            summary,
            balances(session, [claim])[claim.id].to_dict(),
            _lines(session, claim),
            json.loads(claim.scrub_json),
            history,
            acks,
            remits,
            [],
            claim.payer_claim_number,
            original.claim_number if original else None,
            replaced_by,
            _document(claim),
        )
        primary = primary_claims(session, [claim.id]).get(claim.id)
        detail.secondary_of = primary.claim_number if primary is not None else None
        detail.secondary_claims = secondary_claim_numbers(session, claim)
        detail.correction = correction_offer(session, claim)
        detail.superseded_by, detail.superseded = _superseded(session, claim, summary)
        detail.provider_adjustments = _plbs_naming(session, claim)
        audit_read(session, actor, "claim", "claim", claim.id, {"claim_number": claim.claim_number})
    detail.denials = list(list_denials(store, actor, status=None, claim=claim.claim_number, audit=False))
    return detail


def claim_studies(store: Store, claim_ids: list[str]) -> dict[str, int]:
    """The study of each of these claims (by claim number) that has one: a page's links to the billing
    page of the claims its other rows name (ids only, no patient data)."""
    if not claim_ids:
        return {}
    with store.transaction() as session:
        rows = session.execute(
            select(ClaimRow.claim_number, ClaimRow.study_id).where(ClaimRow.claim_number.in_(set(claim_ids)))
        ).all()
    return {number: study for number, study in rows if study is not None}


def study_claims(store: Store, study_id: int, actor: str) -> list[ClaimDetail]:
    """Every claim of a study (replacements included), newest first, each as :func:`show_claim` shows it."""
    with store.transaction() as session:
        if session.get(Study, study_id) is None:
            raise NotFoundError("study_id", f"no study {study_id}")
    return [show_claim(store, s.claim_id, actor) for s in list_claims(store, actor, study_id=study_id)]


def exported_837p(store: Store, claim_ref: str, actor: str) -> tuple[str, bytes]:
    """The name and bytes of the 837P file a claim last went out in (its whole interchange: the claims
    of one payer exported together); reading it is audited, since it carries patient data."""
    with store.transaction() as session:
        claim = find_claim(session, claim_ref)
        batch = session.get(X12Batch, claim.batch_id) if claim.batch_id is not None else None
        if batch is None:
            raise ConflictError("claim_id", f"claim {claim.claim_number} has not been exported yet")
        audit_read(session, actor, "837p", "x12_batch", batch.id, {"claim_number": claim.claim_number})
        path = Path(batch.path)
    try:
        return path.name, path.read_bytes()
    except OSError as error:
        raise NotFoundError(
            "claim_id", f"the 837P file of claim {claim_ref} cannot be read ({error.strerror})", path
        ) from None


@dataclass(frozen=True)
class AgingRow:
    payer: str
    buckets: dict[str, str]
    claims: dict[str, int]
    total: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AgingReport:
    as_of: str
    rows: list[AgingRow]
    total: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "payers": [r.to_dict() for r in self.rows], "total": self.total}


def bucket(days: int) -> str:
    if days <= 30:
        return BUCKETS[0]
    if days <= 60:
        return BUCKETS[1]
    if days <= 90:
        return BUCKETS[2]
    return BUCKETS[3]


def ar_aging(store: Store, as_of: date | None = None) -> AgingReport:
    """Open insurance balances by payer and age since export."""
    as_of = as_of or date.today()
    with store.transaction() as session:
        rows = list(session.scalars(select(ClaimRow).where(ClaimRow.status.in_([s.value for s in SENT]))))
        payers = {p.id: p.payer_id for p in session.scalars(select(PayerRow))}
        money = balances(session, rows)
        undecided = undecided_replacements(session, rows)
    sums: dict[str, dict[str, Decimal]] = {}
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        open_balance = counted(row, money[row.id], undecided)[0]
        if open_balance <= 0 or row.exported_at is None:
            continue
        payer = payers.get(row.payer_id, "?")
        key = bucket(max(0, (as_of - row.exported_at.date()).days))
        sums.setdefault(payer, dict.fromkeys(BUCKETS, Decimal(0)))[key] += open_balance
        counts.setdefault(payer, dict.fromkeys(BUCKETS, 0))[key] += 1
    report = [
        AgingRow(
            payer,
            {k: f"{v:.2f}" for k, v in sums[payer].items()},
            counts[payer],
            f"{sum(sums[payer].values(), Decimal(0)):.2f}",
        )
        for payer in sorted(sums)
    ]
    total = {k: f"{sum((sums[p][k] for p in sums), Decimal(0)):.2f}" for k in BUCKETS}
    total["total"] = f"{sum((Decimal(v) for v in total.values()), Decimal(0)):.2f}"
    return AgingReport(as_of.isoformat(), report, total)


def patient_balance(store: Store, patient_external_id: str) -> dict[str, str]:
    """What a patient owes and what insurers still owe for the patient's claims."""
    with store.transaction() as session:
        patient = session.scalar(select(Patient).where(Patient.external_id == patient_external_id))
        rows = (
            list(session.scalars(select(ClaimRow).where(ClaimRow.patient_id == patient.id)))
            if patient
            else []
        )
        money = balances(session, rows)
        undecided = undecided_replacements(session, rows)
        owed = [counted(r, money[r.id], undecided) for r in rows]
    return {
        "patient": patient_external_id,
        "insurance_balance": f"{sum((o[0] for o in owed), Decimal(0)):.2f}",
        "patient_balance": f"{sum((o[1] for o in owed), Decimal(0)):.2f}",
    }
