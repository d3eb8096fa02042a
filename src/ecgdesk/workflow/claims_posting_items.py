"""Closing denial items when a remittance posts (used by ``claims_posting``'s flush): the denials a later
payment of the same payer overturned, and the items a reversal or a later payer's determination closes.
Each closed item names the claim payment that closed it, so a reversal of that payment finds it again.
Also what the posting of one claim payment reports (:func:`posted_answer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from ecgdesk.claims import RemitClaim
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.batches import in_batches
from ecgdesk.store.claims_models import ClaimRow, DenialItemRow, LedgerRow
from ecgdesk.workflow.claims_ledger import PAID_AFTER_WRITE_OFF, overturned_denials, reversed_determinations

_REOPENED = {"status": "open", "worked_action": None, "worked_by": None, "worked_at": None}


@dataclass
class ItemCloser:
    """Closes the items of one remittance's claim payments (``remittance_id``), audited into ``log``."""

    session: Session
    remittance_id: int
    actor: str
    stamp: Any
    log: list[NewAuditRow]

    def overturn_items(self, paying: dict[int, int]) -> None:
        """The open denial items of the denials a later payment of the same payer resolved (the lines it
        carries, :func:`overturned_denials`) close as overturned (paid on appeal or reprocessing), each
        audited; a denied line that payment does not carry keeps its item open. ``paying``: claim id -> the
        claim payment of this remittance, which each closed item names."""
        claim_ids = list(paying)
        if not claim_ids:
            return
        resolved = overturned_denials(self.session, claim_ids)
        found: dict[str, list[int]] = {"open": [], "worked": []}  # the items by their status now
        for chunk in in_batches(claim_ids):
            query = (
                select(DenialItemRow.id, DenialItemRow.status, LedgerRow.payment_id, LedgerRow.line_id)
                .join(LedgerRow, DenialItemRow.ledger_id == LedgerRow.id)
                .where(
                    DenialItemRow.claim_id.in_(chunk),
                    # a denial the biller wrote off and the payer paid after all: the item said the money
                    # was given up (its write-off no longer counts: claims_ledger.overturned_write_offs)
                    (DenialItemRow.status == "open")
                    | ((DenialItemRow.status == "worked") & (DenialItemRow.worked_action == "write_off")),
                    LedgerRow.kind == "denial",
                )
            )
            for item_id, status, payment_id, line_id in self.session.execute(query):
                if (payment_id, line_id) in resolved:
                    found[status].append(item_id)
        why = f"paid by remittance {self.remittance_id} after the payer's denial"
        for status, action in (("open", "overturned"), ("worked", PAID_AFTER_WRITE_OFF)):
            closed = {"status": "closed", "worked_action": action}
            for ids in in_batches(found[status]):
                self.session.execute(
                    update(DenialItemRow)
                    .where(DenialItemRow.id.in_(ids))
                    .values(
                        **closed,
                        worked_by=self.actor,
                        worked_at=self.stamp,
                        closed_by_payment_id=case(paying, value=DenialItemRow.claim_id),
                    )
                )
            before = {"status": status, **({} if status == "open" else {"worked_action": "write_off"})}
            self.log.extend(
                (self.actor, "denial:overturned", "denial_item", item_id, before, {**closed, "why": why})
                for item_id in found[status]
            )

    def restore_items(self, claim_ids: list[int]) -> None:
        """The items a payment the payer has now reversed had closed as overturned: its denial stands
        again, so an item closed while open is open again, and one the biller had written off is
        worked / write_off again (that write-off counts again), each audited."""
        if not claim_ids:
            return
        taken = reversed_determinations(self.session, claim_ids)
        rows: list[tuple[int, str | None]] = []
        for chunk in in_batches(claim_ids):
            rows += self.session.execute(
                select(DenialItemRow.id, DenialItemRow.worked_action).where(
                    DenialItemRow.claim_id.in_(chunk),
                    DenialItemRow.status == "closed",
                    DenialItemRow.worked_action.in_(("overturned", PAID_AFTER_WRITE_OFF)),
                    DenialItemRow.closed_by_payment_id.in_(taken),
                )
            ).all()
        why = f"the payment that overturned it reversed by remittance {self.remittance_id}"
        for item_id, action in rows:
            written = action == PAID_AFTER_WRITE_OFF
            values = {"status": "worked", "worked_action": "write_off"} if written else _REOPENED
            self.session.execute(
                update(DenialItemRow)
                .where(DenialItemRow.id == item_id)
                .values(**values, closed_by_payment_id=None)
            )
            after = {k: v for k, v in values.items() if k in ("status", "worked_action")}
            before = {"status": "closed", "worked_action": action}
            self.log.append(
                (self.actor, "denial:restored", "denial_item", item_id, before, {**after, "why": why})
            )

    def close_items(self, closing: dict[int, int], why: str, group: str | None = None) -> None:
        """Close the open items (of ``group``) of each claim in ``closing``, naming the claim payment of
        this remittance that closed them (claim id -> payment id): a reversal of it finds them by it."""
        claim_ids = list(closing)
        for chunk in in_batches(claim_ids):
            query = update(DenialItemRow).where(
                DenialItemRow.claim_id.in_(chunk), DenialItemRow.status == "open"
            )
            if group is not None:
                query = query.where(DenialItemRow.group_code == group)
            self.session.execute(
                query.values(
                    status="closed",
                    worked_action=why,
                    worked_by=self.actor,
                    worked_at=self.stamp,
                    closed_by_payment_id=case({c: closing[c] for c in chunk}, value=DenialItemRow.claim_id),
                )
            )


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def posted_answer(
    claim: ClaimRow,
    remit: RemitClaim,
    adjustments: list[dict[str, Any]],
    unmatched_lines: list[int],
    note: str | None = None,
) -> dict[str, Any]:
    """What the posting of one claim payment reports (one shape for every kind of answer)."""
    answer: dict[str, Any] = {
        "claim_id": claim.claim_number,
        "status": claim.status,
        "clp_status": remit.status,
        "paid": money(remit.paid),
        "patient_responsibility": money(remit.patient_responsibility),
        "crossover": remit.crossover,
        "adjustments": adjustments,
        "unmatched_lines": unmatched_lines,
    }
    if remit.interest:
        answer["interest"] = money(remit.interest)
    if remit.corrected_insured:
        answer["corrected_insured"] = remit.corrected_insured
    if note is not None:
        answer["note"] = note
    return answer
