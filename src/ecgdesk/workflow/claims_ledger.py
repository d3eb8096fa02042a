"""Claim states, the one function that moves them (audited), and balances derived from the ledger.

::

    created -> scrubbed -> exported -> accepted | rejected            (999 / 277CA)
    exported/accepted -> paid | partially_paid | denied | adjudicated (835)
    any adjudicated state -> reversed (CLP02 22) -> paid | ...        (the correction)
    corrected -> corrected (CLP02 22 of a claim replaced under a new CLM01: the replacement pays)
    paid | partially_paid | denied | adjudicated -> appealed | corrected | written_off | closed
    paid | partially_paid | denied | adjudicated -> secondary_billed (the patient share billed to the
        secondary payer on a claim of its own) -> closed (the secondary's 835 settled the share)
    rejected -> corrected (a new original claim replaces it) | paid | ... (the payer adjudicated it anyway)

Balances are never stored. From the ledger of a claim: insurance balance = charge - payer payments (less
refunds of overpayments; a claim's interest, AMT*I, is no payment of its charge) - routine contractual
adjustments - patient responsibility - write-offs (a denial stays open A/R until it is worked); patient
balance = patient responsibility - patient write-offs - the share a secondary claim took over (``transfer``
rows, booked when the secondary payer's 835 posts). A denial a later payment of the same payer overturned
(paid on appeal or reprocessing) is history: it is shown as overturned, not as a current denied amount
(:func:`overturned_denials`: only the lines that payment carries).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecgdesk.errors import ConflictError
from ecgdesk.store import append
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.batches import in_batches
from ecgdesk.store.claims_models import (
    ClaimLineRow,
    ClaimPaymentRow,
    ClaimRow,
    DenialItemRow,
    LedgerRow,
    RemittanceRow,
)
from ecgdesk.workflow.lifecycle import now


class ClaimStatus(enum.StrEnum):
    CREATED = "created"
    SCRUBBED = "scrubbed"
    EXPORTED = "exported"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ADJUDICATED = "adjudicated"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    REVERSED = "reversed"
    APPEALED = "appealed"
    CORRECTED = "corrected"
    WRITTEN_OFF = "written_off"
    CLOSED = "closed"
    SECONDARY_BILLED = "secondary_billed"  # the patient share went to the secondary payer's own claim


S = ClaimStatus
#: States a payer has answered in (an 835 may post on any of them, including corrections and closed claims).
ADJUDICATED = frozenset({S.ADJUDICATED, S.PAID, S.PARTIALLY_PAID, S.DENIED})
SENT = frozenset(
    {
        S.EXPORTED, S.ACCEPTED, S.REVERSED, S.APPEALED, S.CORRECTED, S.WRITTEN_OFF, S.CLOSED,
        S.SECONDARY_BILLED, *ADJUDICATED,
    }
)
WORKED = frozenset({S.APPEALED, S.CORRECTED, S.WRITTEN_OFF, S.CLOSED})
TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    S.CREATED: frozenset({S.CREATED, S.SCRUBBED}),
    S.SCRUBBED: frozenset({S.CREATED, S.SCRUBBED, S.EXPORTED}),
    S.EXPORTED: frozenset({S.ACCEPTED, S.REJECTED, S.REVERSED, *ADJUDICATED}),
    S.ACCEPTED: frozenset({S.ACCEPTED, S.REJECTED, S.REVERSED, *ADJUDICATED}),
    # a payer may adjudicate a claim its (or a clearinghouse's) 999/277CA rejected; its 835 is the
    # determination and posts, instead of refusing the whole remittance file
    S.REJECTED: frozenset({S.ACCEPTED, S.CORRECTED, S.REVERSED, *ADJUDICATED}),
    S.REVERSED: frozenset({S.REVERSED, *ADJUDICATED, *WORKED}),
    **{state: frozenset({S.REVERSED, *ADJUDICATED, *WORKED}) for state in ADJUDICATED | WORKED},
    # the secondary's 835 settles the share (closed); its reversal makes the share due again from it
    S.SECONDARY_BILLED: frozenset({S.SECONDARY_BILLED, S.REVERSED, *ADJUDICATED, *WORKED}),
}
for _state in (*ADJUDICATED, S.CLOSED):
    TRANSITIONS[_state] = TRANSITIONS[_state] | {S.SECONDARY_BILLED}


def move_claim(
    session: Session,
    claim: ClaimRow,
    new: ClaimStatus,
    actor: str,
    why: str,
    detail: dict[str, object] | None = None,
    log: list[NewAuditRow] | None = None,
) -> None:
    """Move ``claim`` to ``new`` (refused if the lifecycle does not allow it), with an audit row.

    With ``log`` the audit row is collected there for :func:`~ecgdesk.store.append_many` (bulk work).
    """
    current = ClaimStatus(claim.status)
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current]))
        raise ConflictError(
            "status",
            f"claim {claim.claim_number} in status '{current.value}' cannot move to '{new.value}' ({why}); "
            f"allowed next: {allowed}",
        )
    claim.status = new.value
    claim.updated_at = now()
    if current is not new or detail:
        row: NewAuditRow = (
            actor,
            f"claim:{why}",
            "claim",
            claim.id,
            {"status": current.value},
            {"status": new.value, **(detail or {})},
        )
        if log is None:
            append(session, *row)
        else:
            log.append(row)


@dataclass(frozen=True)
class Balance:
    """Money on one claim, in dollars, from its ledger."""

    charge: Decimal
    paid: Decimal
    contractual: Decimal
    denied: Decimal
    patient: Decimal
    written_off: Decimal
    patient_written_off: Decimal
    denied_overturned: Decimal = Decimal(0)  # denials a later payment of the same payer replaced
    transferred: Decimal = Decimal(0)  # the patient share a secondary claim's payer decided on since
    # the patient share billed to a secondary claim whose payer has not decided yet: not the patient's to
    # owe until then (the secondary claim shows it as its insurance balance), so shown apart
    pending_secondary: Decimal = Decimal(0)
    # write-offs of money the payer took back twice (a payer_owes item written off: no group code)
    owed_written_off: Decimal = Decimal(0)
    # the claim's interest (835 AMT*I): received with the payment but no part of it, so in no balance
    interest: Decimal = Decimal(0)

    @property
    def owed_by_payer(self) -> Decimal:
        """What the payer took back beyond what it paid (a refund or recoupment and then a reversal too: net
        payments below zero), less what the biller wrote off of it; the payer owes it to the practice."""
        return max(Decimal(0), -self.paid - self.owed_written_off)

    @property
    def insurance(self) -> Decimal:
        return self.charge - self.paid - self.contractual - self.patient - self.written_off

    @property
    def patient_balance(self) -> Decimal:
        return self.patient - self.patient_written_off - self.transferred - self.pending_secondary

    def to_dict(self) -> dict[str, str]:
        return {
            "charge": f"{self.charge:.2f}",
            "paid": f"{self.paid:.2f}",
            "contractual": f"{self.contractual:.2f}",
            "denied": f"{self.denied:.2f}",
            "denied_overturned": f"{self.denied_overturned:.2f}",
            "patient_responsibility": f"{self.patient:.2f}",
            "written_off": f"{self.written_off + self.patient_written_off:.2f}",
            "to_secondary_claim": f"{self.transferred:.2f}",
            "pending_secondary": f"{self.pending_secondary:.2f}",
            "insurance_balance": f"{self.insurance:.2f}",
            "patient_balance": f"{self.patient_balance:.2f}",
            "interest": f"{self.interest:.2f}",
        }


def dollars(cents: int) -> Decimal:
    return Decimal(cents) / 100


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


#: CLP02 that determine nothing new: a reversal undoes a payment, 23 / 25 are no determination
_NOT_DETERMINING = frozenset({"22", "23", "25"})
#: the ledger kind a denial an overturned payment booked is shown as
OVERTURNED = "denial_overturned"


def overturned_denials(session: Session, claim_ids: Iterable[int]) -> set[tuple[int, int | None]]:
    """The denials a later payment of the same payer (TRN03) resolved, as (claim payment id, line id or
    None for the claim level): the payer paid after denying (on appeal or reprocessing, without reversing
    the denial). Each claim payment is the payer's determination of the lines it carries
    (claims-lifecycle.md section 2), so an earlier denial of a line a later paying CLP carries again (paid,
    or re-determined beside a paid line) is history; a line the later CLP does not carry (a supplemental
    payment of one denied line of two) keeps its denial. A claim-level denial is history once the later
    payments carry every billed line, or when one answers at claim level only. A reversal (CLP02 22) takes
    the payment it undoes off the stack first, so a reversed appeal payment leaves the denial current
    again."""
    ids = list(claim_ids)
    stacks: dict[tuple[int, str], list[tuple[int, bool]]] = {}
    carried: dict[int, set[int | None]] = {}  # claim payment -> the lines its ledger rows are on
    billed: dict[int, set[int | None]] = {}
    for chunk in in_batches(ids):
        stacks.update(_determinations(session, chunk)[0])  # a chunk holds whole claims: no key twice
        rows = select(LedgerRow.payment_id, LedgerRow.line_id).where(
            LedgerRow.claim_id.in_(chunk), LedgerRow.payment_id.is_not(None)
        )
        for paying, line_id in session.execute(rows.distinct()):
            if paying is not None:
                carried.setdefault(paying, set()).add(line_id)
        for claim_id, line_id in session.execute(
            select(ClaimLineRow.claim_id, ClaimLineRow.id).where(ClaimLineRow.claim_id.in_(chunk))
        ):
            billed.setdefault(claim_id, set()).add(line_id)
    overturned: set[tuple[int, int | None]] = set()
    for (claim_id, _), stack in stacks.items():
        lines: set[int | None] = set()  # the lines the later paying determinations carry
        claim_level = False
        for payment_id, paid in reversed(stack):
            if lines or claim_level:
                whole = claim_level or billed.get(claim_id, set()) <= lines
                overturned.update((payment_id, line) for line in lines | ({None} if whole else set()))
            if paid:
                own = carried.get(payment_id, set())
                lines |= own - {None}
                claim_level = claim_level or own <= {None}
    return overturned


#: the ledger kind a biller's write-off of a denial the payer later paid is shown as
WRITE_OFF_OVERTURNED = "write_off_overturned"
#: the ledger kind of a claim's interest (835 AMT*I): money received that no balance counts as paid
INTEREST = "interest"
#: the worked action of a denial item the biller wrote off and the payer then paid (its write-off no longer
#: counts); a reversal of that payment makes it ``write_off`` again
PAID_AFTER_WRITE_OFF = "paid_after_write_off"


def overturned_write_offs(
    session: Session, claim_ids: Iterable[int], overturned: set[tuple[int, int | None]]
) -> list[tuple[int, int | None, str, str, int]]:
    """The biller's write-offs of denials a later payment of the same payer overturned, or its reversal
    took back, as (claim id, line id, group, CARC, cents): the denial no longer stands, so neither does
    giving it up (else a later payment shows as a credit and asks for a refund of the practice's money).
    A write-off books its item's group, CARC and amount on its line (``work_denial``), which finds its
    row; a reversal of the paying payment makes the denial, and so its write-off, current again."""
    ids = list(claim_ids)
    taken_back = reversed_determinations(session, ids)
    found: list[tuple[int, int | None, str, str, int]] = []
    for chunk in in_batches(ids):
        query = (
            select(
                DenialItemRow.claim_id,
                LedgerRow.payment_id,
                LedgerRow.line_id,
                DenialItemRow.group_code,
                DenialItemRow.carc,
                DenialItemRow.amount_cents,
            )
            .join(LedgerRow, DenialItemRow.ledger_id == LedgerRow.id)
            .where(
                DenialItemRow.claim_id.in_(chunk),
                DenialItemRow.worked_action.in_(("write_off", PAID_AFTER_WRITE_OFF)),
                LedgerRow.kind == "denial",
            )
            .order_by(DenialItemRow.id)
        )
        found += [
            (claim_id, line_id, group, carc, amount)
            for claim_id, payment_id, line_id, group, carc, amount in session.execute(query)
            if (payment_id, line_id) in overturned or payment_id in taken_back
        ]
    return found


def reversed_determinations(session: Session, claim_ids: Iterable[int]) -> set[int]:
    """The claim payments a reversal (CLP02 22) of the same payer took back, as :func:`overturned_denials`
    pairs them: each reversal undoes that payer's latest determination still standing."""
    taken: set[int] = set()
    for chunk in in_batches(list(claim_ids)):
        taken |= _determinations(session, chunk)[1]
    return taken


def _determinations(
    session: Session, claim_ids: Sequence[int]
) -> tuple[dict[tuple[int, str], list[tuple[int, bool]]], set[int]]:
    """Each payer's (TRN03) determinations of each of ``claim_ids`` still standing, oldest first, as (claim
    payment id, whether it paid), and the claim payments its reversals (CLP02 22) took back: a reversal
    undoes that payer's latest determination still standing."""
    query = (
        select(
            ClaimPaymentRow.id,
            ClaimPaymentRow.claim_id,
            RemittanceRow.payer_trace_id,
            ClaimPaymentRow.status_code,
            ClaimPaymentRow.paid_cents,
        )
        .join(RemittanceRow, ClaimPaymentRow.remittance_id == RemittanceRow.id)
        .where(ClaimPaymentRow.claim_id.in_(claim_ids))
        .order_by(ClaimPaymentRow.id)
    )
    stacks: dict[tuple[int, str], list[tuple[int, bool]]] = {}
    taken: set[int] = set()
    for payment_id, claim_id, payer, status, paid in session.execute(query):
        stack = stacks.setdefault((claim_id, payer), [])
        if status == "22":
            if stack:
                taken.add(stack.pop()[0])
        elif status not in _NOT_DETERMINING:
            stack.append((payment_id, paid > 0))
    return stacks, taken


def balances(session: Session, claims: Iterable[ClaimRow]) -> dict[int, Balance]:
    """The balance of each claim (one grouped query over the ledger)."""
    rows = {claim.id: claim for claim in claims}
    sums: dict[tuple[int, str, str], int] = {}
    ids = list(rows)
    overturned = overturned_denials(session, ids)
    for chunk in in_batches(ids):
        query = (
            select(
                LedgerRow.claim_id,
                LedgerRow.payment_id,
                LedgerRow.line_id,
                LedgerRow.kind,
                LedgerRow.group_code,
                func.sum(LedgerRow.amount_cents),
            )
            .where(LedgerRow.claim_id.in_(chunk))
            .group_by(
                LedgerRow.claim_id,
                LedgerRow.payment_id,
                LedgerRow.line_id,
                LedgerRow.kind,
                LedgerRow.group_code,
            )
        )
        for claim_id, payment_id, line_id, kind, group, total in session.execute(query):
            if kind == "denial" and (payment_id, line_id) in overturned:
                kind = OVERTURNED
            # PR (the patient's), no group (the biller's or a PLB's, not a CAS), or another group
            side = "PR" if group == "PR" else ("" if not group else "payer")
            key = (claim_id, kind, side)
            sums[key] = sums.get(key, 0) + int(total or 0)
    for claim_id, _, group, _, amount in overturned_write_offs(session, ids, overturned):
        side = "PR" if group == "PR" else ("" if not group else "payer")
        for kind, sign in (("write_off", -1), (WRITE_OFF_OVERTURNED, 1)):
            sums[(claim_id, kind, side)] = sums.get((claim_id, kind, side), 0) + sign * amount

    def get(claim_id: int, kind: str, *sides: str) -> Decimal:
        return dollars(sum(sums.get((claim_id, kind, side), 0) for side in sides or ("PR", "", "payer")))

    money = {
        claim_id: Balance(
            charge=dollars(rows[claim_id].charge_cents),
            paid=get(claim_id, "payment") - get(claim_id, "refund"),
            contractual=get(claim_id, "contractual"),
            denied=get(claim_id, "denial"),
            denied_overturned=get(claim_id, OVERTURNED),
            patient=get(claim_id, "patient"),
            written_off=get(claim_id, "write_off", "", "payer"),
            patient_written_off=get(claim_id, "write_off", "PR"),
            transferred=get(claim_id, "transfer"),
            owed_written_off=get(claim_id, "write_off", ""),
            interest=get(claim_id, INTEREST),
        )
        for claim_id in rows
    }
    for claim_id, claim in rows.items():
        if claim.status == ClaimStatus.SECONDARY_BILLED.value:
            # bill_secondary billed every share not yet transferred, and the secondary's determination
            # transfers it (the primary closes) or its reversal gives it back (secondary_billed again)
            balance = money[claim_id]
            money[claim_id] = replace(balance, pending_secondary=max(balance.patient_balance, Decimal(0)))
    return money
