"""Overpayments: a claim whose insurance balance is a credit gets a refund item in the work queue.

After a remittance is posted, every claim it touched whose insurance balance is below zero has one open
item (category ``overpayment``, next action ``refund``, the credit as its amount, 60 days to act); the
item follows the balance while it stays open. It closes when the payer takes the money back: a PLB WO
(overpayment recovery) naming the claim in PLB03-2, or a PLB 72 (authorized return: the provider's
refund check received, paired with a WO that offsets it), claims-lifecycle.md section 2; or when a
biller records the refund (``denials work ITEM --action refund``). Each of these books a ``refund``
ledger row, so the claim's payments and balance show the money returned, once.

A replaced claim whose replacement (frequency 7) the payer accepted without reversing it first
(``claims_replaced.superseded``) owes back all that is still paid on it: its item follows that money, and
the payer's reversal (the item closes as reversed) or WO recoupment (recouped) closes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ecgdesk.claims.denials import Category, overpayment, superseded_payment
from ecgdesk.claims.remit import ProviderAdjustment
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.claims_models import ClaimPaymentRow, ClaimRow, DenialItemRow, LedgerRow, PayerRow
from ecgdesk.workflow.claims_ledger import balances, cents, dollars
from ecgdesk.workflow.claims_replaced import superseded
from ecgdesk.workflow.claims_setup import rules_of

#: PLB reasons that give an overpayment back to the payer: WO recovery, 72 authorized return (check)
RECOVERY = {"WO": "recouped", "72": "refunded"}


def refund_row(claim_id: int, amount_cents: int, actor: str, stamp: Any, plb: str = "") -> LedgerRow:
    """The ledger row of money returned to the payer (it lowers the claim's payments); ``plb`` is the PLB
    reason (WO, 72) when the payer's remittance took it back, empty when the biller recorded a refund."""
    return LedgerRow(
        claim_id=claim_id,
        line_id=None,
        payment_id=None,
        kind="refund",
        group_code="",
        carc=plb,
        rarcs="",
        amount_cents=amount_cents,
        actor=actor,
        created_at=stamp,
    )


def open_overpayments(
    session: Session,
    claims: Sequence[ClaimRow],
    payment_ids: dict[int, int],
    determination: date,
    actor: str,
    stamp: Any,
    why: dict[int, str] | None = None,
) -> None:
    """Open (or follow) the refund item of every claim of ``claims`` whose insurance balance is a credit.

    ``payment_ids`` maps a claim to its claim payment in this remittance (for a replaced claim, the payment
    owed back): the item points at that payment's ledger row (the payment that made the credit); ``why``
    says how a claim got its credit (a duplicate payment; for a replaced claim, the payment owed back),
    for the item's reason."""
    if not claims:
        return
    money = balances(session, claims)
    ids = [c.id for c in claims]
    items: dict[int, DenialItemRow] = {}
    for start in range(0, len(ids), 500):
        query = select(DenialItemRow).where(
            DenialItemRow.claim_id.in_(ids[start : start + 500]),
            DenialItemRow.category == Category.OVERPAYMENT.value,
            DenialItemRow.status == "open",
        )
        items.update((item.claim_id, item) for item in session.scalars(query))
    # a replaced claim whose replacement the payer determined: its own determination no longer stands, so
    # what is still paid on it is owed back (the payer's reversal or recoupment takes it), whatever its
    # insurance balance says
    replaced = superseded(session, claims)
    owed = {c.id: money[c.id].paid if c.id in replaced else -money[c.id].insurance for c in claims}
    credit = [c for c in claims if owed[c.id] > 0]
    for claim in claims:
        item = items.get(claim.id)
        if item is not None and claim not in credit:
            item.status, item.worked_action = "closed", "settled"  # e.g. a reversal took the credit back
            item.worked_by, item.worked_at = actor, stamp
        elif item is not None:
            item.amount_cents = cents(owed[claim.id])
    payers = {p.id: p for p in session.scalars(select(PayerRow))}
    for claim in credit:
        if claim.id in items or claim.id not in payment_ids:
            continue
        rows = select(LedgerRow.id, LedgerRow.kind).where(LedgerRow.payment_id == payment_ids[claim.id])
        found = sorted(session.execute(rows), key=lambda r: (r.kind != "payment", r.id))
        if not found:
            continue  # a claim payment with no amount at all: nothing to point the item at
        amount = owed[claim.id]
        rules = rules_of(payers[claim.payer_id])
        cause, shown = (why or {}).get(claim.id, ""), f"{amount:.2f}"
        if claim.id in replaced:
            work = superseded_payment(shown, determination, rules, cause or "its payment", replaced[claim.id])
        else:
            work = overpayment(shown, determination, rules, cause)
        session.add(
            DenialItemRow(
                claim_id=claim.id,
                line_id=None,
                ledger_id=found[0].id,
                group_code="",
                carc="",
                rarcs="",
                amount_cents=cents(amount),
                category=work.category.value,
                next_action=work.action.value,
                deadline=work.deadline,
                reason=work.reason,
                status="open",
                note="",
                created_at=stamp,
            )
        )


def recover(
    session: Session,
    adjustments: Iterable[ProviderAdjustment],
    remittance_id: int,
    actor: str,
    stamp: Any,
    log: list[NewAuditRow],
) -> None:
    """Close the refund items the remittance's PLB WO / 72 adjustments name (PLB03-2: our claim number or
    the payer's claim number); a WO smaller than the credit leaves the rest open."""
    for plb in adjustments:
        why = RECOVERY.get(plb.reason)
        # a negative WO is money the payer holds back for later (a balance forward), not a recovery
        if why is None or not plb.reference or (plb.reason == "WO" and plb.amount <= 0):
            continue
        paid_by = select(ClaimPaymentRow.claim_id).where(ClaimPaymentRow.payer_claim_number == plb.reference)
        claim_ids = select(ClaimRow.id).where(
            or_(
                ClaimRow.claim_number == plb.reference,
                ClaimRow.payer_claim_number == plb.reference,
                ClaimRow.id.in_(paid_by),
            )
        )
        query = (
            select(DenialItemRow)
            .where(
                DenialItemRow.claim_id.in_(claim_ids),
                DenialItemRow.category == Category.OVERPAYMENT.value,
                DenialItemRow.status == "open",
            )
            .order_by(DenialItemRow.id)
        )
        left = cents(abs(plb.amount))
        for item in session.scalars(query):
            taken = min(left, item.amount_cents)
            if taken <= 0:
                break
            left -= taken
            session.add(refund_row(item.claim_id, taken, actor, stamp, plb.reason))
            before = {"status": item.status, "amount": f"{dollars(item.amount_cents):.2f}"}
            item.amount_cents -= taken
            if item.amount_cents == 0:
                item.status, item.worked_action, item.worked_by, item.worked_at = "closed", why, actor, stamp
            log.append(
                (
                    actor,
                    f"denial:{why}",
                    "denial_item",
                    item.id,
                    before,
                    {
                        "status": item.status,
                        "recovered": f"{dollars(taken):.2f}",
                        "plb": f"{plb.reason}:{plb.reference}",
                        "remittance": remittance_id,
                    },
                )
            )
