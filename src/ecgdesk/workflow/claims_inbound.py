"""What comes back, part two: 835 remittances posted to the ledger (acknowledgements: ``claims_acks``).

An 835 is read, checked and balanced whole before anything is written (one transaction): a file that
fails is refused and nothing is posted. A remittance already posted (same payer and trace number, or the
same file content) posts nothing again. Each claim payment is matched by CLP01 to our claim number; its
lines by REF*6R, then SVC06, then code + modifiers + date + charge. Every CAS amount becomes a ledger row
(contractual, denial or patient), every non-routine one a denial item with its next action; a claim
payment for a claim we never sent goes to the unmatched-remittance queue. PLB rows are recorded. A later
payer's 835 (secondary, e.g. after a crossover) settles the patient share the earlier payer left.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session, load_only

from ecgdesk.claims import RemitClaim, Remittance, read_remittances
from ecgdesk.claims.denials import DenialContext, is_routine, triage
from ecgdesk.claims.matching import BilledLine, match_lines
from ecgdesk.claims.remit import ZERO, Adjustment
from ecgdesk.claims.x12 import collector_paused
from ecgdesk.coding.payer_rules import payer_rules
from ecgdesk.store import Store, append, append_many
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.claims_models import (
    ClaimLineRow,
    ClaimPaymentRow,
    ClaimRow,
    CoverageRow,
    DenialItemRow,
    LedgerRow,
    PayerRow,
    ProviderAdjustmentRow,
    RemittanceRow,
    UnmatchedRemitRow,
    X12Batch,
)
from ecgdesk.store.models import Base
from ecgdesk.workflow.claims_ledger import ClaimStatus, cents, dollars, move_claim
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.permissions import audit_read

#: CLP02 of a payer that processed the claim after another one (secondary, tertiary; 20/21 also forwarded)
LATER_PAYER = frozenset({"2", "3", "20", "21"})


@dataclass
class PostResult:
    posted: int = 0
    claims: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    provider_adjustments: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "posted": self.posted,
            "claims": self.claims,
            "unmatched": self.unmatched,
            "duplicates": self.duplicates,
            "provider_adjustments": self.provider_adjustments,
        }


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def post_remittance(store: Store, path: Path, actor: str) -> PostResult:
    """Post every 835 set of ``path`` (refused whole when it does not check or balance)."""
    path = Path(path)
    remittances = read_remittances(path)
    result = PostResult()
    with collector_paused(), store.transaction() as session:
        for remittance in remittances:
            _post_one(session, path, remittance, actor, result)
    return result


def _post_one(session: Session, path: Path, remittance: Remittance, actor: str, result: PostResult) -> None:
    duplicate = session.scalar(
        select(RemittanceRow).where(
            RemittanceRow.payer_trace_id == remittance.payer_trace_id,
            RemittanceRow.trace_number == remittance.trace_number,
        )
    )
    digest = hashlib.sha256(f"{remittance.content_sha256}:{remittance.set_control}".encode()).hexdigest()
    same_file = session.scalar(
        select(X12Batch).where(X12Batch.direction == "in", X12Batch.kind == "835", X12Batch.sha256 == digest)
    )
    if duplicate is not None or same_file is not None:
        result.duplicates.append(
            {
                "payer": remittance.payer_trace_id,
                "trace_number": remittance.trace_number,
                "reason": "already posted (same payer and trace number, or the same file)",
            }
        )
        return
    batch = X12Batch(
        direction="in",
        kind="835",
        payer_id=None,
        path=str(path.resolve()),
        sha256=digest,
        claims_count=len(remittance.claims),
        created_by=actor,
        created_at=now(),
    )
    session.add(batch)
    session.flush()
    stamp = now()
    remit_row = RemittanceRow(
        batch_id=batch.id,
        payer_trace_id=remittance.payer_trace_id,
        trace_number=remittance.trace_number,
        payer_name=remittance.payer_name[:60],
        payment_cents=cents(remittance.payment),
        credit=remittance.credit,
        method=remittance.method[:3],
        payment_date=remittance.payment_date,
        posted_by=actor,
        posted_at=stamp,
    )
    session.add(remit_row)
    session.flush()
    numbers = sorted({c.claim_id for c in remittance.claims})
    claims: dict[str, ClaimRow] = {}
    needed = load_only(
        ClaimRow.id,
        ClaimRow.claim_number,
        ClaimRow.status,
        ClaimRow.payer_id,
        ClaimRow.patient_id,
        ClaimRow.payer_claim_number,
        ClaimRow.updated_at,
    )
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        claim_query = select(ClaimRow).options(needed).where(ClaimRow.claim_number.in_(chunk))
        claims.update((c.claim_number, c) for c in session.scalars(claim_query))
    lines: dict[int, list[BilledLine]] = {}
    numbers_of: dict[int, int] = {}
    ids = [c.id for c in claims.values()]
    columns = (
        ClaimLineRow.id,
        ClaimLineRow.claim_id,
        ClaimLineRow.line_number,
        ClaimLineRow.control,
        ClaimLineRow.code,
        ClaimLineRow.modifiers,
        ClaimLineRow.date_from,
        ClaimLineRow.charge_cents,
    )
    for start in range(0, len(ids), 500):
        query = select(*columns).where(ClaimLineRow.claim_id.in_(ids[start : start + 500]))
        for line_id, claim_id, number, control, code, modifiers, day, charge in session.execute(query):
            numbers_of[line_id] = number
            billed = BilledLine(
                line_id,
                control,
                code,
                tuple(m for m in modifiers.split(",") if m),
                day,
                Decimal(charge) / 100,
            )
            lines.setdefault(claim_id, []).append(billed)
    payers = {p.id: p for p in session.scalars(select(PayerRow))}
    secondary = set(session.scalars(select(CoverageRow.patient_id).where(CoverageRow.priority == "S")))
    later = [
        claims[c.claim_id].id for c in remittance.claims if c.status in LATER_PAYER and c.claim_id in claims
    ]
    shares: dict[int, int] = {}
    for start in range(0, len(later), 500):
        share_query = (
            select(LedgerRow.claim_id, func.sum(LedgerRow.amount_cents))
            .where(LedgerRow.claim_id.in_(later[start : start + 500]), LedgerRow.kind == "patient")
            .group_by(LedgerRow.claim_id)
        )
        shares.update((claim_id, int(total or 0)) for claim_id, total in session.execute(share_query))
    context = _Posting(session, remit_row, remittance, actor, stamp, payers, secondary, numbers_of, shares)
    for remit_claim in remittance.claims:
        claim = claims.get(remit_claim.claim_id)
        if claim is None or claim.status in (ClaimStatus.CREATED.value, ClaimStatus.SCRUBBED.value):
            reason = (
                "no claim with this number" if claim is None else f"claim was never sent ({claim.status})"
            )
            session.add(
                UnmatchedRemitRow(
                    remittance_id=remit_row.id,
                    claim_number=remit_claim.claim_id[:38],
                    status_code=remit_claim.status,
                    charge_cents=cents(remit_claim.charge),
                    paid_cents=cents(remit_claim.paid),
                    payer_claim_number=remit_claim.payer_claim_number[:50],
                    reason=reason,
                    created_at=stamp,
                )
            )
            result.unmatched.append(
                {
                    "claim_id": remit_claim.claim_id,
                    "status_code": remit_claim.status,
                    "paid": _money(remit_claim.paid),
                    "reason": reason,
                }
            )
            continue
        result.claims.append(context.post_claim(claim, lines.get(claim.id, []), remit_claim))
        result.posted += 1
    context.flush()
    for plb in remittance.provider_adjustments:
        session.add(
            ProviderAdjustmentRow(
                remittance_id=remit_row.id,
                provider_id=plb.provider_id[:50],
                fiscal_date=plb.fiscal_date,
                reason=plb.reason[:2],
                reference=plb.reference[:50],
                amount_cents=cents(plb.amount),
            )
        )
        result.provider_adjustments.append(
            {
                "provider": plb.provider_id,
                "reason": plb.reason,
                "reference": plb.reference,
                "amount": _money(plb.amount),
            }
        )
    append(
        session,
        actor,
        "remit:post",
        "remittance",
        remit_row.id,
        None,
        {
            "file": path.name,
            "payer": remittance.payer_trace_id,
            "trace_number": remittance.trace_number,
            "payment": _money(remittance.payment),
            "claims": len(remittance.claims),
            "unmatched": len(result.unmatched),
            "plb": len(remittance.provider_adjustments),
        },
    )


def _table(model: type[Base]) -> Table:
    """The Core table of a model: Core executemany inserts skip the ORM's per-row bookkeeping."""
    return cast(Table, model.__table__)


@dataclass
class _Pending:
    """One claim payment computed in memory, written in bulk by :meth:`_Posting.flush`."""

    claim: ClaimRow
    payment: dict[str, Any]
    ledger: list[dict[str, Any]]
    triaged: list[dict[str, Any] | None]
    reversal: bool
    later_payer: bool = False


@dataclass
class _Posting:
    """Posts the claim payments of one remittance: all decisions in memory, then a few bulk inserts
    (payments, ledger rows, denial items, audit rows), so 10,000 claims cost seconds, not minutes."""

    session: Session
    remittance_row: RemittanceRow
    remittance: Remittance
    actor: str
    stamp: Any
    payers: dict[int, PayerRow]
    secondary: set[int]
    line_numbers: dict[int, int]
    patient_shares: dict[int, int]  # cents; the patient share earlier payers left, for LATER_PAYER claims
    pending: list[_Pending] = field(default_factory=list)
    log: list[NewAuditRow] = field(default_factory=list)

    def post_claim(self, claim: ClaimRow, billed: list[BilledLine], remit: RemitClaim) -> dict[str, Any]:
        payment = {
            "remittance_id": self.remittance_row.id,
            "claim_id": claim.id,
            "status_code": remit.status,
            "charge_cents": cents(remit.charge),
            "paid_cents": cents(remit.paid),
            "patient_cents": cents(remit.patient_responsibility),
            "payer_claim_number": remit.payer_claim_number[:50],
            "crossover": remit.crossover,
            "position": remit.position,
        }
        if remit.payer_claim_number and not remit.reversal:
            claim.payer_claim_number = remit.payer_claim_number[:50]
        matches = match_lines(remit.lines, billed)
        # a secondary (or tertiary) payer's 835 on a claim an earlier payer already left a patient share
        # on (e.g. Medigap after a Medicare crossover): its CAS restate what the earlier payer settled
        share = dollars(self.patient_shares.get(claim.id, 0)) if remit.status in LATER_PAYER else ZERO
        later = share > 0
        pending = _Pending(claim, payment, [], [], remit.reversal, later)
        shown: list[dict[str, Any]] = []
        rules = payer_rules(self.payers[claim.payer_id].rules_id)
        service_day = min((b.date_from for b in billed), default=self.remittance.payment_date)
        context = DenialContext(
            rules,
            self.remittance.payment_date,
            service_day,
            remit.crossover,
            claim.patient_id in self.secondary and not later,
        )
        for match in matches:
            line_id = match.billed.key if match.billed else None
            number = self.line_numbers[line_id] if line_id is not None else None
            if match.remit.paid:
                self._entry(pending, claim, line_id, "payment", match.remit.paid)
            for adjustment in match.remit.adjustments:
                self._adjust(
                    pending,
                    claim,
                    line_id,
                    number,
                    adjustment.group,
                    adjustment.reason,
                    adjustment.amount,
                    match.remit.remarks,
                    context,
                    remit,
                    shown,
                    restated=later,
                )
        for adjustment in remit.adjustments:
            self._adjust(
                pending,
                claim,
                None,
                None,
                adjustment.group,
                adjustment.reason,
                adjustment.amount,
                remit.remarks,
                context,
                remit,
                shown,
                restated=later,
            )
        if later:
            self._later_payer(pending, claim, remit, share, context, shown)
        if not remit.lines and remit.paid:
            self._entry(pending, claim, None, "payment", remit.paid)
        self.pending.append(pending)
        move_claim(
            self.session,
            claim,
            self._status(claim, remit, pending.ledger),
            self.actor,
            "remit",
            {"remittance": self.remittance_row.id, "clp02": remit.status, "paid": _money(remit.paid)},
            log=self.log,
        )
        return {
            "claim_id": claim.claim_number,
            "status": claim.status,
            "clp_status": remit.status,
            "paid": _money(remit.paid),
            "patient_responsibility": _money(remit.patient_responsibility),
            "crossover": remit.crossover,
            "adjustments": shown,
            "unmatched_lines": [m.remit.position for m in matches if m.billed is None],
        }

    def _entry(
        self,
        pending: _Pending,
        claim: ClaimRow,
        line_id: int | None,
        kind: str,
        amount: Decimal,
        group: str = "",
        carc: str = "",
        rarcs: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        row = {
            "claim_id": claim.id,
            "line_id": line_id,
            "kind": kind,
            "group_code": group,
            "carc": carc,
            "rarcs": ",".join(rarcs)[:60],
            "amount_cents": cents(amount),
            "actor": self.actor,
            "created_at": self.stamp,
        }
        pending.ledger.append(row)
        pending.triaged.append(None)
        return row

    def _adjust(
        self,
        pending: _Pending,
        claim: ClaimRow,
        line_id: int | None,
        number: int | None,
        group: str,
        carc: str,
        amount: Decimal,
        remarks: tuple[str, ...],
        context: DenialContext,
        remit: RemitClaim,
        shown: list[dict[str, Any]],
        restated: bool = False,
    ) -> None:
        if restated and group != "PR":
            kind = "prior_payer"  # the earlier payer's payment and adjustments, already in the ledger
        elif group == "PR":
            kind = "patient"
        elif is_routine(group, carc):
            kind = "contractual"
        else:
            kind = "denial"
        row = self._entry(pending, claim, line_id, kind, amount, group, carc, remarks)
        shown.append(
            {"line": number, "group": group, "carc": carc, "rarc": list(remarks), "amount": _money(amount)}
        )
        if amount <= 0 or remit.reversal or kind in ("contractual", "prior_payer"):
            return
        work = triage(group, carc, remarks, context)
        if work is not None:
            pending.triaged[-1] = {
                "claim_id": claim.id,
                "line_id": line_id,
                "group_code": group,
                "carc": carc,
                "rarcs": row["rarcs"],
                "amount_cents": row["amount_cents"],
                "category": work.category.value,
                "next_action": work.action.value,
                "deadline": work.deadline,
                "reason": work.reason,
                "status": "open",
                "note": "",
                "created_at": self.stamp,
            }

    def _later_payer(
        self,
        pending: _Pending,
        claim: ClaimRow,
        remit: RemitClaim,
        share: Decimal,
        context: DenialContext,
        shown: list[dict[str, Any]],
    ) -> None:
        """The patient share the earlier payers left (``share``) goes to this payer's decision: what it paid,
        what it leaves to the patient (its PR rows), and any rest as its own adjustment."""
        self._entry(pending, claim, None, "patient", -share, "PR")
        left = sum((a.amount for a in remit.all_adjustments() if a.group == "PR"), ZERO)
        own = share - remit.paid - left
        if own:
            # book it under this payer's own non-PR code (OA-23 only restates the earlier payer)
            code = next(
                (
                    a
                    for a in remit.all_adjustments()
                    if a.group != "PR" and f"{a.group}-{a.reason}" != "OA-23"
                ),
                Adjustment("OA", "23", own),
            )
            self._adjust(
                pending, claim, None, None, code.group, code.reason, own, remit.remarks, context, remit, shown
            )

    @staticmethod
    def _status(claim: ClaimRow, remit: RemitClaim, ledger: list[dict[str, Any]]) -> ClaimStatus:
        if remit.reversal and claim.status == ClaimStatus.CORRECTED.value:
            # a replaced claim's reversal is the payer undoing it for its replacement (a new CLM01 keeps
            # the original CLP01 on the reversal): the replacement carries the balance, so the original
            # stays replaced instead of reopening its whole charge as insurance A/R
            return ClaimStatus.CORRECTED
        if remit.reversal:
            return ClaimStatus.REVERSED
        # a negative adjustment (the payer paying more than it adjusted) denies nothing
        denied = any(r["kind"] == "denial" and r["amount_cents"] > 0 for r in ledger)
        if remit.paid > 0:
            return ClaimStatus.PARTIALLY_PAID if denied else ClaimStatus.PAID
        return ClaimStatus.DENIED if denied else ClaimStatus.ADJUDICATED

    def flush(self) -> None:
        """Write what :meth:`post_claim` decided: payments, ledger rows, denial items, audit rows.

        Plain executemany inserts (``RETURNING`` with a guaranteed order makes SQLite insert row by row);
        the new ids are read back by content, not by order: a payment by its CLP position in this
        remittance, a ledger row by its values (rows with equal values are interchangeable).
        """
        session = self.session
        if self.pending:
            payments = _table(ClaimPaymentRow)
            session.execute(insert(payments), [p.payment for p in self.pending])
            query = select(payments.c.position, payments.c.id).where(
                payments.c.remittance_id == self.remittance_row.id
            )
            by_position = {position: payment_id for position, payment_id in session.execute(query)}
            ledger: list[dict[str, Any]] = []
            triaged: list[dict[str, Any] | None] = []
            for pending in self.pending:
                payment_id = by_position[pending.payment["position"]]
                for row in pending.ledger:
                    row["payment_id"] = payment_id
                ledger += pending.ledger
                triaged += pending.triaged
            self._close_items([p.claim.id for p in self.pending if p.reversal], "reversed")
            # the patient share a later payer decided again: its own PR rows open new items
            self._close_items([p.claim.id for p in self.pending if p.later_payer], "later_payer", "PR")
            if ledger:
                table = _table(LedgerRow)
                session.execute(insert(table), ledger)
                key_columns = (
                    table.c.payment_id,
                    table.c.line_id,
                    table.c.kind,
                    table.c.group_code,
                    table.c.carc,
                    table.c.amount_cents,
                )
                found: dict[tuple[Any, ...], list[int]] = {}
                query = (
                    select(table.c.id, *key_columns)
                    .join(payments, table.c.payment_id == payments.c.id)
                    .where(payments.c.remittance_id == self.remittance_row.id)
                    .order_by(table.c.id)
                )
                for found_row in session.execute(query):
                    found.setdefault(tuple(found_row[1:]), []).append(int(found_row[0]))
                items = []
                for row, item in zip(ledger, triaged, strict=True):
                    key = (
                        row["payment_id"],
                        row["line_id"],
                        row["kind"],
                        row["group_code"],
                        row["carc"],
                        row["amount_cents"],
                    )
                    ledger_id = found[key].pop(0)
                    if item is not None:
                        items.append({**item, "ledger_id": ledger_id})
                if items:
                    session.execute(insert(_table(DenialItemRow)), items)
            self.pending.clear()
        append_many(session, self.log)
        self.log.clear()

    def _close_items(self, claim_ids: list[int], why: str, group: str | None = None) -> None:
        for start in range(0, len(claim_ids), 500):
            query = update(DenialItemRow).where(
                DenialItemRow.claim_id.in_(claim_ids[start : start + 500]), DenialItemRow.status == "open"
            )
            if group is not None:
                query = query.where(DenialItemRow.group_code == group)
            self.session.execute(
                query.values(status="closed", worked_action=why, worked_by=self.actor, worked_at=self.stamp)
            )


def unmatched(store: Store, actor: str, include_resolved: bool = False) -> list[dict[str, Any]]:
    """The unmatched-remittance queue."""
    with store.transaction() as session:
        query = select(UnmatchedRemitRow, RemittanceRow).join(
            RemittanceRow, UnmatchedRemitRow.remittance_id == RemittanceRow.id
        )
        if not include_resolved:
            query = query.where(UnmatchedRemitRow.resolved.is_(False))
        audit_read(session, actor, "unmatched-remittances", "remittance", "*", {"resolved": include_resolved})
        return [
            {
                "id": u.id,
                "claim_id": u.claim_number,
                "status_code": u.status_code,
                "paid": f"{u.paid_cents / 100:.2f}",
                "payer_claim_number": u.payer_claim_number,
                "reason": u.reason,
                "payer": r.payer_name,
                "trace_number": r.trace_number,
                "payment_date": r.payment_date.isoformat(),
                "resolved": u.resolved,
            }
            for u, r in session.execute(query.order_by(UnmatchedRemitRow.id))
        ]
