"""A replacement claim (frequency 7) the payer accepted while the claim it replaces had not been reversed
(used by ``claims_posting``'s flush).

claims-lifecycle.md section 2 (reversal + correction): the payer should reverse the original decision
(CLP02 22) before the correction, ideally in the same 835, but it may pay the replacement first and
reverse later, recoup the original's payment with a PLB WO, or never reverse at all. Whatever the order,
the replacement's determination supersedes the original's once the payer has accepted it (paid it or
left a patient share: a denial of the replacement leaves the original standing): the original's own
open items (its patient share, its denials) are no longer work, since the replacement's 835 booked the
share and denials that stand. They close as ``replaced``, naming the replacement's claim payment. The
money the payer paid on the original is then owed back until the payer takes it (its reversal, or a PLB
WO recoupment naming the claim): :func:`superseded` tells ``claims_overpayment`` which claims are in that
state, so their refund item follows the money still paid on them, not their insurance balance.

A replacement the payer has not accepted (not decided yet: waiting for the 277CA or the 835, or rejected
at the 277CA and sent again; or refused: a denial) while the original's determination stands (not
reversed) supersedes nothing: the original carries the service, and :func:`undecided_replacements` tells
the views (A/R aging, the patient's balance, the claims list) to count the original's money and not the
replacement's charge beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from ecgdesk.claims.denials import Category
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.batches import in_batches
from ecgdesk.store.claims_models import ClaimPaymentRow, ClaimRow, DenialItemRow
from ecgdesk.workflow.claims_ledger import ClaimStatus

#: frequency of a replacement claim (CLM05-3): it carries REF*F8, the payer's number of the claim it replaces
REPLACEMENT = "7"
#: CLP02 that do not accept a replacement: a reversal, not our claim (forwarded), predetermination only, and a
#: denial (4): a payer refusing the replacement (e.g. CO-129, prior processing information incorrect) and not
#: reversing the original leaves the original's determination standing
NOT_ACCEPTING = ("4", "22", "23", "25")
#: CLP02 that determine nothing: a reversal (it undoes a determination), not our claim, predetermination only
NOT_DETERMINING = ("22", "23", "25")


def accepts(status: str, paid_cents: int, patient_cents: int) -> bool:
    """A claim payment on a replacement is the payer's acceptance of it: it paid something or left a patient
    share (a $0 claim fully applied to the deductible comes back as CLP02 1 too), and is no denial."""
    return status not in NOT_ACCEPTING and (paid_cents > 0 or patient_cents > 0)


@dataclass(frozen=True)
class Replaced:
    """An original claim whose replacement the payer accepted in this remittance."""

    original: ClaimRow
    replacement: ClaimRow
    payment_id: int  # the replacement's claim payment in this remittance


def superseded(session: Session, claims: Sequence[ClaimRow]) -> dict[int, str]:
    """Of ``claims``, the replaced (``corrected``) claims whose replacement the payer has accepted
    (:func:`accepts`): claim id -> the replacement's claim number. Whatever is still paid on such a claim
    is owed back."""
    # only a corrected claim has a replacement: a remittance of 10,000 first payments queries nothing
    claim_ids = [c.id for c in claims if c.status == ClaimStatus.CORRECTED.value]
    replacement = aliased(ClaimRow)
    determined = (
        select(ClaimPaymentRow.id)
        .where(  # accepts(), in SQL
            ClaimPaymentRow.claim_id == replacement.id,
            ClaimPaymentRow.status_code.not_in(NOT_ACCEPTING),
            or_(ClaimPaymentRow.paid_cents > 0, ClaimPaymentRow.patient_cents > 0),
        )
        .exists()
    )
    found: dict[int, str] = {}
    for chunk in in_batches(claim_ids):
        query = (
            select(ClaimRow.id, replacement.claim_number)
            .join(replacement, replacement.original_claim_id == ClaimRow.id)
            .where(
                ClaimRow.id.in_(chunk),
                ClaimRow.status == ClaimStatus.CORRECTED.value,
                replacement.frequency == REPLACEMENT,
                determined,
            )
            .order_by(replacement.id)
        )
        found.update((int(claim_id), number) for claim_id, number in session.execute(query))
    return found


def replaced_originals(session: Session, determined: dict[int, tuple[ClaimRow, int]]) -> list[Replaced]:
    """The originals (still ``corrected``) of the replacements ``determined`` maps them to: original claim id
    -> (the replacement, its claim payment in this remittance)."""
    ids = sorted(determined)
    found: list[Replaced] = []
    for chunk in in_batches(ids):
        query = select(ClaimRow).where(
            ClaimRow.id.in_(chunk), ClaimRow.status == ClaimStatus.CORRECTED.value
        )
        for original in session.scalars(query.order_by(ClaimRow.id)):
            replacement, payment_id = determined[original.id]
            found.append(Replaced(original, replacement, payment_id))
    return found


def close_replaced_items(
    session: Session, replaced: list[Replaced], actor: str, stamp: Any, log: list[NewAuditRow]
) -> None:
    """Close the open items of each replaced original as ``replaced`` (each audited): its patient share
    would otherwise be billed beside the replacement's. An overpayment item stays: it follows the money the
    payer has still to take back (``claims_overpayment``)."""
    for each in replaced:
        query = select(DenialItemRow.id).where(
            DenialItemRow.claim_id == each.original.id,
            DenialItemRow.status == "open",
            DenialItemRow.category != Category.OVERPAYMENT.value,
        )
        ids = list(session.scalars(query.order_by(DenialItemRow.id)))
        if not ids:
            continue
        session.execute(
            update(DenialItemRow)
            .where(DenialItemRow.id.in_(ids))
            .values(
                status="closed",
                worked_action="replaced",
                worked_by=actor,
                worked_at=stamp,
                closed_by_payment_id=each.payment_id,
            )
        )
        why = (
            f"claim {each.original.claim_number} replaced by {each.replacement.claim_number}, whose "
            f"determination (claim payment {each.payment_id}) supersedes this one"
        )
        log.extend(
            (
                actor,
                "denial:replaced",
                "denial_item",
                item_id,
                {"status": "open"},
                {"status": "closed", "worked_action": "replaced", "why": why},
            )
            for item_id in ids
        )


@dataclass(frozen=True)
class _Node:
    """One claim of a chain of replacements: the claim it replaces, its frequency and status."""

    original: int | None
    frequency: str
    status: str

    @property
    def replaces(self) -> bool:
        return self.frequency == REPLACEMENT and self.original is not None


def _chains(session: Session, claims: Sequence[ClaimRow]) -> dict[int, _Node]:
    """Every claim of the chains of replacements ``claims`` belong to (up to the first original, down to
    the newest replacement): a page holding only one link of a chain still sees who carries it."""
    nodes = {
        c.id: _Node(c.original_claim_id, c.frequency, c.status)
        for c in claims
        if c.status == ClaimStatus.CORRECTED.value or (c.frequency == REPLACEMENT and c.original_claim_id)
    }
    frontier = set(nodes)
    while frontier:  # each pass goes one link further each way; a chain is a few corrections long
        down = sorted(i for i in frontier if nodes[i].status == ClaimStatus.CORRECTED.value)
        up = sorted({o for i in frontier if (o := nodes[i].original) is not None and o not in nodes})
        wanted = [
            ClaimRow.original_claim_id.in_(chunk) & (ClaimRow.frequency == REPLACEMENT)
            for chunk in in_batches(down)
        ] + [ClaimRow.id.in_(chunk) for chunk in in_batches(up)]
        found: set[int] = set()
        for where in wanted:
            query = select(ClaimRow.id, ClaimRow.original_claim_id, ClaimRow.frequency, ClaimRow.status)
            for claim_id, original, frequency, status in session.execute(query.where(where)):
                if claim_id not in nodes:
                    nodes[claim_id] = _Node(original, frequency, status)
                    found.add(claim_id)
        frontier = found
    return nodes


def undecided_replacements(session: Session, claims: Sequence[ClaimRow]) -> dict[int, int]:
    """The replacements (frequency 7) of or among ``claims`` the payer has not accepted (:func:`accepts`),
    whether it has not decided them yet (not sent, waiting for the 277CA or the 835, rejected at the 277CA)
    or refused them (a denial), while an older claim of their chain still has a determination that stands:
    replacement id -> that claim's id. claims-lifecycle.md section 2: only the payer's reversal, or its
    acceptance of a replacement, undoes a determination; so the newest claim of a chain with a standing
    determination (the first original: any determination not reversed; a replacement: an accepted one
    not reversed) carries the service, and the replacements after it carry no money of their own (a
    refused one's denial stays the biller's work). Chains whose every determination was undone are left
    out: their newest claim carries its own charge."""
    nodes = _chains(session, claims)
    # a replacement of a claim no longer `corrected` (the payer answered that claim again) is no link
    parent = {
        i: n.original
        for i, n in nodes.items()
        if n.replaces and n.original in nodes and nodes[n.original].status == ClaimStatus.CORRECTED.value
    }
    if not parent:
        return {}
    accepted: set[int] = set()
    standing: dict[int, int] = {}  # claim -> its determinations not reversed
    ids = sorted(set(parent) | set(parent.values()))
    for chunk in in_batches(ids):
        query = (
            select(
                ClaimPaymentRow.claim_id,
                ClaimPaymentRow.status_code,
                ClaimPaymentRow.paid_cents,
                ClaimPaymentRow.patient_cents,
            )
            .where(ClaimPaymentRow.claim_id.in_(chunk))
            .order_by(ClaimPaymentRow.id)
        )
        for claim_id, status, paid, patient in session.execute(query):
            if status == "22":  # a reversal undoes the determination before it
                standing[claim_id] = max(0, standing.get(claim_id, 0) - 1)
            elif status not in NOT_DETERMINING:
                standing[claim_id] = standing.get(claim_id, 0) + 1
                if accepts(status, paid, patient):
                    accepted.add(claim_id)

    def stands(claim_id: int) -> bool:
        return standing.get(claim_id, 0) > 0 and (claim_id not in parent or claim_id in accepted)

    superseded_below: set[int] = set()  # claims a newer standing replacement supersedes
    for claim_id in parent:
        if stands(claim_id):
            above = parent.get(claim_id)
            while above is not None and above not in superseded_below:
                superseded_below.add(above)
                above = parent.get(above)
    carried: dict[int, int] = {}
    for claim_id in parent:
        if claim_id in accepted or claim_id in superseded_below:
            continue
        above = parent.get(claim_id)
        while above is not None and not stands(above):
            above = parent.get(above)
        if above is not None and above not in superseded_below:
            carried[claim_id] = above
    return carried
