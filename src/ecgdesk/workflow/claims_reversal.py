"""A payer's standing claim payments (not reversed) and what a reversal of one undoes (used by
``claims_posting``).

A reversal (CLP02 22) undoes the payer's latest standing payment with its CLP07; a claim payment equal to a
standing one is a duplicate payment. A later payer's reversed payment reopens the items of the patient share
it had settled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ecgdesk.claims import RemitClaim
from ecgdesk.claims.remit import REVERSAL
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.batches import in_batches
from ecgdesk.store.claims_models import ClaimPaymentRow, ClaimRow, DenialItemRow, LedgerRow, RemittanceRow
from ecgdesk.workflow.claims_ledger import cents

#: CLP02 that determine nothing about the claim (claims-lifecycle.md section 2): recorded, never booked
NO_DETERMINATION = {
    "23": "not this payer's claim: forwarded to the payer it belongs to; nothing booked",
    "25": "predetermination pricing only: an estimate, no payment; nothing booked",
}


@dataclass(frozen=True)
class StandingPayment:
    """A payer's claim payment still standing (not reversed): a reversal may undo it, and the same claim
    payment sent again is a duplicate of it."""

    payment_id: int
    remittance_id: int
    payer_claim_number: str
    share_cents: int  # the patient share it took over from the earlier payers (0: it was posted as a first)
    amounts: tuple[str, int, int, int] = ("", 0, 0, 0)  # CLP02, charge, paid, patient (cents)
    position: int | None = None  # a claim payment earlier in the 835 being posted (no id before the flush)

    def named(self) -> str:
        where = (
            f"CLP {self.position + 1} of this remittance"
            if self.position is not None
            else f"remittance {self.remittance_id}"
        )
        number = f" {self.payment_id}" if self.payment_id else ""
        return f"claim payment{number} (CLP07 {self.payer_claim_number}, {where})"

    def repeated_by(self, remit: RemitClaim, claim_charge: int) -> bool:
        """``remit`` is this claim payment again: same CLP02 and amounts, and the same CLP07, or another
        paying the whole claim (CLP03 its charge, money paid: the payer paid the claim twice under two
        ICNs, e.g. a replaced original paid again while its replacement waits). A claim the payer split
        into CLPs for some of its lines, each with its own CLP07, has CLP03 below the claim's charge, and
        a second denial under a new ICN (e.g. CO-18 on a claim sent twice) pays nothing: not repeats."""
        again = (remit.status, cents(remit.charge), cents(remit.paid), cents(remit.patient_responsibility))
        if not (self.payer_claim_number and remit.payer_claim_number) or again != self.amounts:
            return False
        whole = again[1] == claim_charge and again[2] > 0
        return remit.payer_claim_number == self.payer_claim_number or whole


def standing_payments(session: Session, payer: str, claim_ids: list[int]) -> dict[int, list[StandingPayment]]:
    """Per claim, the payments of ``payer`` (TRN03) not yet reversed, oldest first: each CLP02 22 undid the
    latest standing one (with its CLP07 when one matches). A reversal undoes the payment it mirrors, so it
    must know whether that payment had settled an earlier payer's patient share; a claim payment equal to
    a standing one is a duplicate payment."""
    standing: dict[int, list[StandingPayment]] = {}
    for chunk in in_batches(claim_ids):
        query = (
            select(
                ClaimPaymentRow.id,
                ClaimPaymentRow.claim_id,
                ClaimPaymentRow.remittance_id,
                ClaimPaymentRow.status_code,
                ClaimPaymentRow.payer_claim_number,
                ClaimPaymentRow.charge_cents,
                ClaimPaymentRow.paid_cents,
                ClaimPaymentRow.patient_cents,
            )
            .join(RemittanceRow, ClaimPaymentRow.remittance_id == RemittanceRow.id)
            .where(
                RemittanceRow.payer_trace_id == payer,
                ClaimPaymentRow.claim_id.in_(chunk),
            )
            .order_by(ClaimPaymentRow.id)
        )
        for payment_id, claim_id, remittance_id, status, number, *money_ in session.execute(query):
            stack = standing.setdefault(claim_id, [])
            if status == REVERSAL:
                undo_latest(stack, number)
            elif status not in NO_DETERMINATION:
                amounts = (status, int(money_[0]), int(money_[1]), int(money_[2]))
                stack.append(StandingPayment(payment_id, remittance_id, number, 0, amounts))
    ids = [p.payment_id for stack in standing.values() for p in stack]
    shares: dict[int, int] = {}
    for chunk in in_batches(ids):
        # the share a later payer took over is the one PR row without a CARC (Posting._later_payer): a
        # negative patient row on the same claim, or a transfer row on the primary of a secondary claim
        share_query = select(LedgerRow.payment_id, LedgerRow.kind, LedgerRow.amount_cents).where(
            LedgerRow.payment_id.in_(chunk),
            LedgerRow.kind.in_(("patient", "transfer")),
            LedgerRow.group_code == "PR",
            LedgerRow.carc == "",
        )
        for paid_by, kind, amount in session.execute(share_query):
            shares[int(paid_by or 0)] = int(amount) if kind == "transfer" else -int(amount)
    return {
        claim_id: [replace(p, share_cents=shares.get(p.payment_id, 0)) for p in stack]
        for claim_id, stack in standing.items()
    }


def undo_latest(stack: list[StandingPayment], payer_claim_number: str) -> StandingPayment | None:
    """Take the standing payment a reversal undoes: the latest with its CLP07, else the latest."""
    for index in range(len(stack) - 1, -1, -1):
        if stack[index].payer_claim_number == payer_claim_number:
            return stack.pop(index)
    return stack.pop() if stack else None


def undo_repeat(stack: list[StandingPayment], payer_claim_number: str, claim_charge: int) -> str | None:
    """When the standing payment a reversal undoes (``undo_latest``) is one of two equal payments (the
    payer paid the claim twice, the same CLP07 or another on the whole claim), take it off ``stack`` and
    name the other, which stands with the determination; None (``stack`` unchanged) otherwise."""
    if not stack:
        return None
    numbers = [p.payer_claim_number for p in stack]
    index = max((i for i, n in enumerate(numbers) if n == payer_claim_number), default=len(stack) - 1)
    undone = stack[index]
    whole = undone.amounts[1] == claim_charge and undone.amounts[2] > 0
    for other_index, other in enumerate(stack):
        same_number = other.payer_claim_number == undone.payer_claim_number
        # as StandingPayment.repeated_by: without CLP07s the second was posted in full, no duplicate
        numbered = bool(other.payer_claim_number and undone.payer_claim_number)
        if other_index != index and numbered and other.amounts == undone.amounts and (same_number or whole):
            stack.pop(index)
            return other.named()
    return None


def repeated_reversal(
    session: Session,
    payer: str,
    claim_id: int,
    remit: RemitClaim,
    stack: list[StandingPayment],
    earlier: list[dict[str, Any]],
) -> str | None:
    """The reversal ``remit`` (CLP02 22) repeats, when it is one posted before sent again (another trace
    number, or twice in one 835: ``earlier`` holds this 835's claim payments of the claim so far): none of
    the payer's standing payments carries its CLP07 any more, and an earlier reversal of the claim has the
    same CLP07 and amounts. The payment it undoes was undone already, so its CAS must not be booked again
    (negative contractual and patient rows: the patient in credit, the charge open twice); its money is
    taken again all the same (the payer's BPR02 counts it). None: a reversal to post."""
    number = remit.payer_claim_number
    if not number or any(p.payer_claim_number == number for p in stack):
        return None
    amounts = (cents(remit.charge), cents(remit.paid), cents(remit.patient_responsibility))
    for payment in earlier:
        if (payment["status_code"], payment["payer_claim_number"]) == (REVERSAL, number) and (
            payment["charge_cents"],
            payment["paid_cents"],
            payment["patient_cents"],
        ) == amounts:
            return f"the reversal at segment {payment['position'] + 1} of this remittance (CLP07 {number})"
    query = (
        select(ClaimPaymentRow.id, ClaimPaymentRow.remittance_id)
        .join(RemittanceRow, ClaimPaymentRow.remittance_id == RemittanceRow.id)
        .where(
            RemittanceRow.payer_trace_id == payer,
            ClaimPaymentRow.claim_id == claim_id,
            ClaimPaymentRow.status_code == REVERSAL,
            ClaimPaymentRow.payer_claim_number == number,
            ClaimPaymentRow.charge_cents == amounts[0],
            ClaimPaymentRow.paid_cents == amounts[1],
            ClaimPaymentRow.patient_cents == amounts[2],
        )
        .order_by(ClaimPaymentRow.id)
    )
    found = session.execute(query).first()
    if found is None:
        return None
    return f"the reversal claim payment {found[0]} (CLP07 {number}, remittance {found[1]})"


def undo_items(
    session: Session,
    claim: ClaimRow,
    undone: StandingPayment,
    reversal_id: int,
    actor: str,
    stamp: datetime,
    log: list[NewAuditRow],
) -> None:
    """The items of a later payer's reversed payment: its own open items close as reversed (by the
    reversal, claim payment ``reversal_id``), and so do those a payer after it had settled (closed as
    later_payer): they belong to a payment that no longer stands, so that payer's own reversal, later,
    must not reopen them. The items of the share the reversed payment had settled (closed as later_payer
    by that payment, which they name) are open again."""
    own = select(LedgerRow.id).where(LedgerRow.payment_id == undone.payment_id)
    handed_on = list(
        session.scalars(
            select(DenialItemRow.id).where(
                DenialItemRow.ledger_id.in_(own),
                DenialItemRow.status == "closed",
                DenialItemRow.worked_action == "later_payer",
            )
        )
    )
    log.extend(
        (
            actor,
            "denial:reversed",
            "denial_item",
            item_id,
            {"status": "closed", "worked_action": "later_payer"},
            {
                "status": "closed",
                "worked_action": "reversed",
                "why": f"its payment {undone.payment_id} reversed by claim payment {reversal_id}",
            },
        )
        for item_id in handed_on
    )
    session.execute(
        update(DenialItemRow)
        .where(
            DenialItemRow.ledger_id.in_(own),
            (DenialItemRow.status == "open") | DenialItemRow.id.in_(handed_on),
        )
        .values(
            status="closed",
            worked_action="reversed",
            worked_by=actor,
            worked_at=stamp,
            closed_by_payment_id=reversal_id,
        )
    )
    settled = select(DenialItemRow.id).where(
        DenialItemRow.claim_id == claim.id,
        DenialItemRow.status == "closed",
        DenialItemRow.worked_action == "later_payer",
        DenialItemRow.closed_by_payment_id == undone.payment_id,
    )
    ids = list(session.scalars(settled))
    if not ids:
        return
    session.execute(
        update(DenialItemRow)
        .where(DenialItemRow.id.in_(ids))
        .values(status="open", worked_action=None, worked_by=None, worked_at=None, closed_by_payment_id=None)
    )
    log.extend(
        (
            actor,
            "denial:reopen",
            "denial_item",
            item_id,
            {"status": "closed", "worked_action": "later_payer"},
            {
                "status": "open",
                "why": f"payment {undone.payment_id} reversed by claim payment {reversal_id}",
            },
        )
        for item_id in ids
    )
