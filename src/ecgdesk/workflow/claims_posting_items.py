"""Closing denial items when a remittance posts (used by ``claims_posting``'s flush): the denials a later
payment of the same payer overturned, and the items a reversal or a later payer's determination closes.
Each closed item names the claim payment that closed it, so a reversal of that payment finds it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.batches import in_batches
from ecgdesk.store.claims_models import DenialItemRow, LedgerRow
from ecgdesk.workflow.claims_ledger import overturned_denials


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
        ids: list[tuple[int, int]] = []  # (item, claim)
        for chunk in in_batches(claim_ids):
            query = (
                select(DenialItemRow.id, DenialItemRow.claim_id, LedgerRow.payment_id, LedgerRow.line_id)
                .join(LedgerRow, DenialItemRow.ledger_id == LedgerRow.id)
                .where(
                    DenialItemRow.claim_id.in_(chunk),
                    DenialItemRow.status == "open",
                    LedgerRow.kind == "denial",
                )
            )
            ids += [
                (i, claim_id)
                for i, claim_id, payment_id, line_id in self.session.execute(query)
                if (payment_id, line_id) in resolved
            ]
        if not ids:
            return
        closed = {"status": "closed", "worked_action": "overturned"}
        for pairs in in_batches(ids):
            self.session.execute(
                update(DenialItemRow)
                .where(DenialItemRow.id.in_([i for i, _ in pairs]))
                .values(
                    **closed,
                    worked_by=self.actor,
                    worked_at=self.stamp,
                    closed_by_payment_id=case(paying, value=DenialItemRow.claim_id),
                )
            )
        why = f"paid by remittance {self.remittance_id} after the payer's denial"
        self.log.extend(
            (
                self.actor,
                "denial:overturned",
                "denial_item",
                item_id,
                {"status": "open"},
                {**closed, "why": why},
            )
            for item_id, _ in ids
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
