"""What comes back, part two: 835 remittances posted to the ledger (acknowledgements: ``claims_acks``).

An 835 is read, checked and balanced whole before anything is written (one transaction): a file that
fails is refused and nothing is posted. A remittance already posted (same payer and trace number, or the
same file content) posts nothing again. Each claim payment is matched by CLP01 to our claim number and
posted by :class:`~ecgdesk.workflow.claims_posting.Posting` (lines by REF*6R, then SVC06, then code +
modifiers + date + charge; ledger rows and denial items); a claim payment for a claim we never sent goes
to the unmatched-remittance queue. PLB rows are recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from ecgdesk.claims import Remittance, read_remittances
from ecgdesk.claims.matching import BilledLine
from ecgdesk.claims.x12 import X12Error, collector_paused
from ecgdesk.coding.payer_rules import PayerRules
from ecgdesk.store import Store, append, append_many, serialise
from ecgdesk.store.batches import in_batches
from ecgdesk.store.claims_models import (
    BillingProviderRow,
    ClaimLineRow,
    ClaimPaymentRow,
    ClaimRow,
    CoverageRow,
    LedgerRow,
    PayerRow,
    ProviderAdjustmentRow,
    RemittanceRow,
    UnmatchedRemitRow,
    X12Batch,
)
from ecgdesk.workflow.claims_ledger import ClaimStatus, cents
from ecgdesk.workflow.claims_overpayment import recover
from ecgdesk.workflow.claims_posting import LATER_PAYER, Posting, money
from ecgdesk.workflow.claims_reversal import standing_payments
from ecgdesk.workflow.claims_secondary import NEXT_PAYER, primary_claims, share_sources
from ecgdesk.workflow.claims_setup import rules_of
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.paging import Rows, paged
from ecgdesk.workflow.permissions import audit_read


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
    # the same remittance posted twice at once: the second waits here and finds it posted (on PostgreSQL
    # both found none and the second failed on the unique remittance: a 409 naming nothing)
    serialise(session, f"835:{remittance.payer_trace_id}:{remittance.trace_number}")
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
        ClaimRow.charge_cents,  # balances after posting (overpayments)
        ClaimRow.updated_at,
        ClaimRow.frequency,  # a replacement the payer accepts supersedes its original (claims_replaced)
        ClaimRow.original_claim_id,
        ClaimRow.billing_provider_id,  # paid to that provider (the 835's payee), or not ours to post
    )
    for claim_numbers in in_batches(numbers):
        claim_query = select(ClaimRow).options(needed).where(ClaimRow.claim_number.in_(claim_numbers))
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
    for chunk in in_batches(ids):
        query = select(*columns).where(ClaimLineRow.claim_id.in_(chunk))
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
    later_rules: dict[str, dict[int, PayerRules]] = {"S": {}, "T": {}}
    for patient_id, priority, payer_id in session.execute(
        select(CoverageRow.patient_id, CoverageRow.priority, CoverageRow.payer_id)
        .where(CoverageRow.priority.in_(list(later_rules)))
        .order_by(CoverageRow.id)
    ):
        later_rules[priority][patient_id] = rules_of(payers[payer_id])
    secondary_rules = later_rules["S"]
    # a secondary claim we billed settles the share its primary claim left: that claim's ledger has it
    primaries = primary_claims(session, ids)
    _refuse_later_payer_first(session, path, remittance, claims, primaries)
    later = sorted(
        {
            claims[c.claim_id].id
            for c in remittance.claims
            if c.claim_id in claims and (c.status in LATER_PAYER or claims[c.claim_id].id in primaries)
        }
    )
    linked = share_sources(session, [i for i in later if i in primaries])
    # the secondary claims we billed whose patient has a tertiary payer to see what they leave
    next_rules: dict[int, PayerRules] = {}
    ours = sorted(primaries)
    for chunk in in_batches(ours):
        billed_to = (
            select(ClaimRow.id, ClaimRow.patient_id, CoverageRow.priority)
            .join(CoverageRow, ClaimRow.coverage_id == CoverageRow.id)
            .where(ClaimRow.id.in_(chunk))
        )
        for claim_id, patient_id, priority in session.execute(billed_to):
            rules = later_rules.get(NEXT_PAYER.get(priority, ""), {}).get(patient_id)
            if rules is not None:
                next_rules[int(claim_id)] = rules
    # the claims whose share each claim's rows make (several in one 835: a secondary claim's reversal
    # gives back the share its replacement then settles)
    users: dict[int, set[int]] = {}
    for claim_id in later:
        for source in linked.get(claim_id, [claim_id]):
            users.setdefault(source, {source}).add(claim_id)
    shares: dict[int, int] = {}
    sources = sorted(users)
    for chunk in in_batches(sources):
        share_query = (
            select(LedgerRow.claim_id, LedgerRow.kind, func.sum(LedgerRow.amount_cents))
            .where(
                LedgerRow.claim_id.in_(chunk),
                LedgerRow.kind.in_(("patient", "transfer")),
            )
            .group_by(LedgerRow.claim_id, LedgerRow.kind)
        )
        for on_claim, kind, total in session.execute(share_query):
            amount = int(total or 0) * (1 if kind == "patient" else -1)
            for owned_by in users[int(on_claim)]:
                shares[owned_by] = shares.get(owned_by, 0) + amount
    # this payer's standing payments: what a reversal undoes, what a duplicate payment repeats
    standing = standing_payments(session, remittance.payer_trace_id, ids)
    context = Posting(
        session,
        remit_row,
        remittance,
        actor,
        stamp,
        payers,
        set(secondary_rules),
        numbers_of,
        shares,
        standing,
        secondary_rules=secondary_rules,
        primaries=primaries,
        share_users=users,
        next_rules=next_rules,
    )
    billed_by = {b.id: b for b in session.scalars(select(BillingProviderRow))}
    # the 835 pays one payee (N1*PE: an NPI, or a TIN several of our providers may share); a claim another
    # of our billing providers billed is that provider's money, which this payment did not go to
    payee = {i for i, b in billed_by.items() if remittance.payee_id in (b.npi, b.tin)}
    for remit_claim in remittance.claims:
        claim = claims.get(remit_claim.claim_id)
        reason = ""
        if claim is None or claim.status in (ClaimStatus.CREATED.value, ClaimStatus.SCRUBBED.value):
            reason = (
                "no claim with this number" if claim is None else f"claim was never sent ({claim.status})"
            )
        elif payee and claim.billing_provider_id not in payee:
            biller = billed_by[claim.billing_provider_id]
            reason = (
                f"claim of billing provider {biller.name} (NPI {biller.npi}), but this 835 pays payee "
                f"{remittance.payee_name} ({remittance.payee_id}): not posted to that provider's claim"
            )
        if claim is None or reason:
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
                    "paid": money(remit_claim.paid),
                    "reason": reason,
                }
            )
            continue
        result.claims.append(context.post_claim(claim, lines.get(claim.id, []), remit_claim))
        result.posted += 1
    context.flush()
    # PLB WO / 72 naming a claim give its overpayment back to the payer (its refund item closes)
    recover(
        session, remittance.provider_adjustments, remit_row.id, actor, stamp, context.log,
        remittance.payment_date,
    )
    append_many(session, context.log)
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
                "amount": money(plb.amount),
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
            "payment": money(remittance.payment),
            "claims": len(remittance.claims),
            "unmatched": len(result.unmatched),
            "plb": len(remittance.provider_adjustments),
        },
    )


#: how CLP02 names the payer's place in the order of payers
_ORDER = {"2": "secondary", "3": "tertiary", "20": "secondary", "21": "tertiary"}


def _refuse_later_payer_first(
    session: Session,
    path: Path,
    remittance: Remittance,
    claims: dict[str, ClaimRow],
    primaries: dict[int, ClaimRow],
) -> None:
    """Refuse the file when a later payer's answer (CLP02 2/3/20/21: a crossover payer's, e.g. Medigap after
    Medicare) comes for a claim of ours billed to its primary with no earlier payer's 835 posted for it yet
    (the two payers' files posted out of order). Its CAS restate the earlier payer (OA-23) and its
    payment settles a patient share not booked yet: posted first, it would be read as the claim's first
    determination, and the primary's 835 after it would then book the claim a second time (the whole
    charge in credit, a refund item for it, the patient billed the share the later payer paid). Our own
    secondary claims (billed with ``bill_secondary``) are answered by their payer first: not refused.

    Nor is the answer of the claim's own payer, known as the payer of this 835 (its TRN03) by an 835 of it
    posted before for another claim billed to that payer: a payer we billed as primary that processes the
    claim as secondary (Medicare as secondary payer, another coverage it knows of) is no file out of
    order, and refusing its 835 whole would hold every other patient's payment in it. It posts as
    before; its CLP02 says to set the patient's coverage order right."""
    own_payer = _payers_answering_as(session, remittance.payer_trace_id)
    waiting = {
        claims[c.claim_id].id: c
        for c in remittance.claims
        if c.status in _ORDER
        and c.claim_id in claims
        and claims[c.claim_id].id not in primaries
        and claims[c.claim_id].status not in (ClaimStatus.CREATED.value, ClaimStatus.SCRUBBED.value)
        and claims[c.claim_id].payer_id not in own_payer
    }
    answered: set[int] = set()
    for chunk in in_batches(sorted(waiting)):
        query = select(ClaimPaymentRow.claim_id).where(ClaimPaymentRow.claim_id.in_(chunk)).distinct()
        answered.update(int(claim_id) for claim_id in session.scalars(query))
    for claim_id, remit in sorted(waiting.items(), key=lambda item: item[1].position):
        if claim_id not in answered:
            raise X12Error(
                path,
                remit.position,
                "CLP",
                "CLP02",
                f"claim {remit.claim_id} was processed as {_ORDER[remit.status]} (CLP02 {remit.status}) but "
                "no earlier payer's 835 for it is posted: post the primary payer's remittance first, then "
                "this file (refused whole, nothing posted); if no other payer has answered, this payer holds "
                "another coverage primary: set the patient's coverage order right and bill that payer first",
            )


def _payers_answering_as(session: Session, payer_trace_id: str) -> set[int]:
    """Our payers whose claims earlier 835s with this TRN03 answered as the payer billed (CLP02 1/19)."""
    if not payer_trace_id:
        return set()
    query = (
        select(ClaimRow.payer_id)
        .join(ClaimPaymentRow, ClaimPaymentRow.claim_id == ClaimRow.id)
        .join(RemittanceRow, RemittanceRow.id == ClaimPaymentRow.remittance_id)
        .where(RemittanceRow.payer_trace_id == payer_trace_id, ClaimPaymentRow.status_code.in_(("1", "19")))
        .distinct()
    )
    return {int(payer_id) for payer_id in session.scalars(query)}


def unmatched(
    store: Store, actor: str, include_resolved: bool = False, *, offset: int = 0, limit: int | None = None
) -> Rows[dict[str, Any]]:
    """The unmatched-remittance queue, oldest first; one page of it with ``limit``."""
    with store.transaction() as session:
        query = select(UnmatchedRemitRow, RemittanceRow).join(
            RemittanceRow, UnmatchedRemitRow.remittance_id == RemittanceRow.id
        )
        if not include_resolved:
            query = query.where(UnmatchedRemitRow.resolved.is_(False))
        query, total = paged(session, query.order_by(UnmatchedRemitRow.id), offset, limit)
        audit_read(
            session, actor, "unmatched-remittances", "remittance", "*",
            {"resolved": include_resolved, "offset": offset},
        )
        return Rows([
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
            for u, r in session.execute(query)
        ], total)
