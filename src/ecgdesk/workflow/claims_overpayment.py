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
the payer's reversal (the item closes as reversed) or WO recoupment (recouped) closes it. A WO recouping such
a claim before the payer decides its replacement (no item open yet) takes the money off it all the same.

Money returned twice: when the practice gave a payment back (the biller's refund, a PLB WO recoupment)
and the payer then reversed that payment too (CLP02 22 takes it back again, its correction in the same
835 or later), or recouped an ordinary claim's refunded overpayment again with its own PLB WO (no PLB 72
offsetting it), the claim's net payments fall below what it was paid and the payer owes the difference:
an item of category ``payer_owes`` (next action ``recover``; ``write_off`` if given up) opens naming both
events, and follows that money while open. It closes when the biller records the money received
(``recover``: a negative ``refund`` row), when a negative PLB WO naming the claim in the payer's
remittance returns it (``recovered``), or when later payments of the claim make it whole (``settled``:
nothing below zero, and no insurance balance left of it on a claim paid again).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from ecgdesk.claims.denials import Category, Triage, overpayment, payer_owes, superseded_payment
from ecgdesk.claims.remit import ProviderAdjustment
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.batches import in_batches
from ecgdesk.store.claims_models import ClaimPaymentRow, ClaimRow, DenialItemRow, LedgerRow, PayerRow
from ecgdesk.workflow.claims_ledger import ClaimStatus, balances, cents, dollars
from ecgdesk.workflow.claims_replaced import superseded
from ecgdesk.workflow.claims_setup import rules_of

#: PLB reasons that give an overpayment back to the payer: WO recovery, 72 authorized return (check)
RECOVERY = {"WO": "recouped", "72": "refunded"}
#: how a ledger ``refund`` row's PLB reason names the money's return in a payer_owes item
RETURNED_BY = {
    "": "a refund the biller recorded",
    "WO": "the payer's PLB WO recoupment",
    "72": "a PLB 72 return",
}


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
    items = _open_items(session, ids, Category.OVERPAYMENT)
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
        session.add(_claim_item(claim.id, found[0].id, amount, work, stamp))


def _returned(session: Session, claim_id: int) -> str:
    """The practice's returns of a claim's money (ledger ``refund`` rows), for a payer_owes item's reason."""
    query = select(LedgerRow).where(
        LedgerRow.claim_id == claim_id, LedgerRow.kind == "refund", LedgerRow.amount_cents > 0
    )
    said = [
        f"{RETURNED_BY.get(row.carc, row.carc)} of {dollars(row.amount_cents):.2f} "
        f"on {row.created_at:%Y-%m-%d}" + (f" by {row.actor}" if not row.carc else "")
        for row in session.scalars(query.order_by(LedgerRow.id))
    ]
    return "; ".join(said) or "a return of the payment"


def open_payer_owes(
    session: Session,
    claims: Sequence[ClaimRow],
    payment_ids: dict[int, int],
    determination: date,
    actor: str,
    stamp: Any,
    why: dict[int, str] | None = None,
    repaid: dict[int, int] | None = None,
) -> None:
    """Open (or follow) the payer_owes item of every claim of ``claims`` whose net payments are below zero
    (the payer took a payment back after the practice had returned it, or reversed it twice); ``payment_ids``
    maps a claim to its reversal in this remittance (the claim payment the item points at); ``why`` says
    how a claim's money went back first when the payer itself took it (a duplicate reversal's note);
    ``repaid`` gives the cents the claim's other CLPs of this remittance paid (the correction sent with
    the reversal): what the payer took twice is counted at the reversal, before the correction pays the
    claim again (the correction does not give it back: it is short in the insurance balance then, as when
    the correction comes in a later 835)."""
    repaid = repaid or {}
    ids = [c.id for c in claims]
    items = _open_items(session, ids, Category.PAYER_OWES)
    # only a reversal takes money back, and an open item follows its claim: a remittance of payments
    # (10,000 first payments) reads no balance here
    claims = [c for c in claims if c.id in payment_ids or c.id in items]
    if not claims:
        return
    money = balances(session, claims)
    owed = {c.id: money[c.id].owed_by_payer for c in claims}
    for claim in claims:
        back = repaid.get(claim.id, 0)
        if back > 0 and claim.status != ClaimStatus.CORRECTED.value and claim.id in payment_ids:
            balance = money[claim.id]
            at_reversal = -(balance.paid - dollars(back)) - balance.owed_written_off
            owed[claim.id] = max(owed[claim.id], min(at_reversal, balance.insurance))
    owing = [c for c in claims if owed[c.id] > 0]
    for claim in claims:
        item = items.get(claim.id)
        if item is None:
            continue
        still = money[claim.id].owed_by_payer
        if claim.status != ClaimStatus.CORRECTED.value:
            # the payer's correction pays the claim again: what it took twice is then short in the claim's
            # own insurance balance (paid 137.60 of 143.80), still owed until paid or recovered
            still = max(still, min(dollars(item.amount_cents), money[claim.id].insurance))
        if still <= 0:
            item.status, item.worked_action = "closed", "settled"  # a later payment made it whole
            item.worked_by, item.worked_at = actor, stamp
        else:
            item.amount_cents = cents(still)
    payers = {p.id: p for p in session.scalars(select(PayerRow))}
    for claim in owing:
        if claim.id in items or claim.id not in payment_ids:
            continue
        reversal = session.get(ClaimPaymentRow, payment_ids[claim.id])
        rows = select(LedgerRow.id).where(
            LedgerRow.payment_id == payment_ids[claim.id], LedgerRow.kind == "payment"
        )
        ledger_id = session.scalar(rows.order_by(LedgerRow.id))
        if reversal is None or ledger_id is None:
            continue
        amount = owed[claim.id]
        taken = f"its reversal (CLP02 {reversal.status_code}, claim payment {reversal.id}, CLP07 " + (
            f"{reversal.payer_claim_number or '-'}, {dollars(-reversal.paid_cents):.2f} taken back"
        )
        if repaid.get(claim.id, 0) > 0:
            taken += f"; its correction in the same remittance paid {dollars(repaid[claim.id]):.2f})"
        else:
            taken += ")"
        work = payer_owes(
            f"{amount:.2f}",
            determination,
            rules_of(payers[claim.payer_id]),
            (why or {}).get(claim.id) or _returned(session, claim.id),
            taken,
        )
        session.add(_claim_item(claim.id, ledger_id, amount, work, stamp))


def recover(
    session: Session,
    adjustments: Iterable[ProviderAdjustment],
    remittance_id: int,
    actor: str,
    stamp: Any,
    log: list[NewAuditRow],
    determination: date | None = None,
) -> None:
    """Close the refund items the remittance's PLB WO / 72 adjustments name (PLB03-2: our claim number or
    the payer's claim number), and the payer_owes items its negative WO name; a WO smaller than the item
    leaves the rest open. A positive WO naming a claim whose money the practice had returned already (the
    biller's refund check) takes it a second time: the payer owes it (:func:`_taken_again`), unless a PLB
    72 of the same remittance naming the claim offsets it (the check received: WO and 72 net to nothing)."""
    adjustments = list(adjustments)
    checks: dict[str, int] = {}
    for plb in adjustments:
        if plb.reason == "72" and plb.amount < 0 and plb.reference:
            checks[plb.reference] = checks.get(plb.reference, 0) + cents(-plb.amount)
    recouping = {plb.reference for plb in adjustments if plb.reason == "WO" and plb.amount > 0}
    for plb in adjustments:
        why = RECOVERY.get(plb.reason)
        # a negative WO is money the payer gives back: what it took twice (a payer_owes item of the claim
        # it names) or, with no such item, its recovery held back for later (a balance forward): nothing
        returning = plb.reason == "WO" and plb.amount < 0
        category = Category.PAYER_OWES if returning else Category.OVERPAYMENT
        if returning:
            why = "recovered"
        if why is None or not plb.reference or plb.amount == 0:
            continue
        paid_by = select(ClaimPaymentRow.claim_id).where(ClaimPaymentRow.payer_claim_number == plb.reference)
        claim_ids = select(ClaimRow.id).where(
            or_(
                ClaimRow.claim_number == plb.reference,
                ClaimRow.payer_claim_number == plb.reference,
                ClaimRow.id.in_(paid_by),
            )
        )
        if plb.reason == "72" and plb.amount < 0 and plb.reference not in recouping:
            waiting = select(DenialItemRow.id).where(
                DenialItemRow.claim_id.in_(claim_ids),
                DenialItemRow.category == Category.OVERPAYMENT.value,
                DenialItemRow.status == "open",
            )
            if session.scalar(waiting.limit(1)) is None:
                # no WO to offset and no refund item waiting for the check: the payer hands the check back
                # (it recovered the money by reversing and correcting the claim): what it took twice
                returning, category, why = True, Category.PAYER_OWES, "recovered"
        query = (
            select(DenialItemRow)
            .where(
                DenialItemRow.claim_id.in_(claim_ids),
                DenialItemRow.category == category.value,
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
            # money given back to the practice is a negative return
            session.add(refund_row(item.claim_id, -taken if returning else taken, actor, stamp, plb.reason))
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
        if plb.reason == "WO" and not returning and left > 0:
            left = _recoup_corrected(session, claim_ids, plb, left, remittance_id, actor, stamp, log)
            offset = min(left, checks.get(plb.reference, 0))
            checks[plb.reference] = checks.get(plb.reference, 0) - offset
            if left - offset > 0:
                day = determination or stamp.date()
                _taken_again(session, claim_ids, plb, left - offset, remittance_id, day, actor, stamp, log)


def _recoup_corrected(
    session: Session,
    claim_ids: Select[int],
    plb: ProviderAdjustment,
    left: int,
    remittance_id: int,
    actor: str,
    stamp: Any,
    log: list[NewAuditRow],
) -> int:
    """A positive PLB WO naming a claim we corrected (a replacement sent) with no refund item open: the
    payer takes the original's payment back ahead of deciding the replacement (claims-lifecycle.md section
    2: it recoups, or sends the WO now). The money leaves the claim (a ``refund`` row, up to what is still
    paid on it): otherwise the replacement's acceptance would ask for that payment back a second time, and
    a denial of it would leave the original showing money the payer has taken. An ordinary claim's WO with
    no item stays a provider-level adjustment only; so does a deferred recovery's positive WO, the reversal
    having taken the payment off the claim already (nothing still paid)."""
    corrected = list(
        session.scalars(
            select(ClaimRow)
            .where(ClaimRow.id.in_(claim_ids), ClaimRow.status == ClaimStatus.CORRECTED.value)
            .order_by(ClaimRow.id)
        )
    )
    money = balances(session, corrected)
    for claim in corrected:
        taken = min(left, cents(money[claim.id].paid))
        if taken <= 0:
            continue
        left -= taken
        session.add(refund_row(claim.id, taken, actor, stamp, plb.reason))
        log.append(
            (
                actor,
                "claim:recouped",
                "claim",
                claim.id,
                {"paid": f"{money[claim.id].paid:.2f}"},
                {
                    "paid": f"{money[claim.id].paid - dollars(taken):.2f}",
                    "recouped": f"{dollars(taken):.2f}",
                    "plb": f"{plb.reason}:{plb.reference}",
                    "remittance": remittance_id,
                },
            )
        )
    return left


def _taken_again(
    session: Session,
    claim_ids: Select[int],
    plb: ProviderAdjustment,
    left: int,
    remittance_id: int,
    determination: date,
    actor: str,
    stamp: Any,
    log: list[NewAuditRow],
) -> None:
    """A positive PLB WO naming an ordinary claim (not replaced) with no refund item open, whose money the
    practice returned already (``refund`` rows: the biller's refund check, a recoupment, claims-
    lifecycle.md section 2: 72 is the authorized return a payer pairs with its WO once the check is
    received): the payer recouped the same money a second time. It leaves the claim (a ``refund`` row, up
    to what was returned and not yet counted as taken again) and the payer owes it: a ``payer_owes`` item
    opens (or grows), so the claim's insurance balance, A/R aging and the work list show it. Until
    2026-12-07 such a WO stayed a provider-level adjustment: the claim showed nothing owed while the
    practice was short the money twice returned."""
    ordinary = list(
        session.scalars(
            select(ClaimRow)
            .where(ClaimRow.id.in_(claim_ids), ClaimRow.status != ClaimStatus.CORRECTED.value)
            .order_by(ClaimRow.id)
        )
    )
    if not ordinary:
        return
    ids = [c.id for c in ordinary]
    # every return counts, not net of the payer's money back: a deferred recovery (a negative WO beside
    # the reversal, the positive WO later) or a recoupment repeated takes the money again after that
    returned: dict[int, int] = {}
    for claim_id, amount in session.execute(
        select(LedgerRow.claim_id, LedgerRow.amount_cents).where(
            LedgerRow.claim_id.in_(ids), LedgerRow.kind == "refund", LedgerRow.amount_cents > 0
        )
    ):
        returned[claim_id] = returned.get(claim_id, 0) + amount
    owing = _open_items(session, ids, Category.PAYER_OWES)
    payers = {p.id: p for p in session.scalars(select(PayerRow))}
    for claim in ordinary:
        item = owing.get(claim.id)
        taken = min(left, returned.get(claim.id, 0) - (item.amount_cents if item is not None else 0))
        if taken <= 0:
            continue
        left -= taken
        before_paid = balances(session, [claim])[claim.id].paid
        earlier = _returned(session, claim.id)
        row = refund_row(claim.id, taken, actor, stamp, plb.reason)
        session.add(row)
        session.flush()
        shown = f"{dollars(taken):.2f}"
        if item is None:
            wo = f"the payer's PLB WO of {shown} (PLB03-2 {plb.reference}, remittance {remittance_id})"
            work = payer_owes(shown, determination, rules_of(payers[claim.payer_id]), earlier, wo)
            session.add(_claim_item(claim.id, row.id, dollars(taken), work, stamp))
        else:
            item.amount_cents += taken
        log.append(
            (
                actor,
                "claim:recouped",
                "claim",
                claim.id,
                {"paid": f"{before_paid:.2f}"},
                {
                    "paid": f"{before_paid - dollars(taken):.2f}",
                    "recouped": shown,
                    "taken_twice": True,
                    "plb": f"{plb.reason}:{plb.reference}",
                    "remittance": remittance_id,
                },
            )
        )
        if left <= 0:
            break


def _claim_item(claim_id: int, ledger_id: int, amount: Decimal, work: Triage, stamp: Any) -> DenialItemRow:
    """An open work item on the whole claim (no line, no adjustment codes) for ``amount``."""
    return DenialItemRow(
        claim_id=claim_id,
        line_id=None,
        ledger_id=ledger_id,
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


def _open_items(session: Session, claim_ids: Sequence[int], category: Category) -> dict[int, DenialItemRow]:
    """The open items of ``category`` of each claim (one per claim), read 500 claims at a time (the
    database's limit on bound parameters)."""
    items: dict[int, DenialItemRow] = {}
    for chunk in in_batches(claim_ids):
        query = select(DenialItemRow).where(
            DenialItemRow.claim_id.in_(chunk),
            DenialItemRow.category == category.value,
            DenialItemRow.status == "open",
        )
        items.update((item.claim_id, item) for item in session.scalars(query))
    return items
