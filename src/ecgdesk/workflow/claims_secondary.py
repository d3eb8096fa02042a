"""Secondary claims (coordination of benefits): the patient share a primary payer left, billed to the
patient's secondary coverage on a claim of its own.

Working a patient-share item with ``bill_secondary`` (``claims_denials.work_denial``, the one workflow
function the CLI, the API and the billing page call) builds the secondary claim: the primary's service lines
and codes under a new CLM01 (their own REF*6R), SBR01 ``S`` for the secondary payer, and the primary's
determination as its 835 gave it (shared/reference/claims.md 1.2 "2320/2330x", claims-lifecycle.md: the
primary's CAS by group code and its claim number): 2320 SBR01 ``P`` with the primary's claim-level CAS,
AMT*D (what it paid) and OI; 2330A the primary's subscriber; 2330B the primary payer with REF*F8, its claim
control number (X222A1 2330B "Other Payer Claim Control Number", not a correction's 2300 REF*F8); per line
2430 SVD (its paid amount), CAS and DTP*573. The primary moves to ``secondary_billed``; its open PR items
are worked with the same action, and they link the two claims (``denial_items.result_claim_id``).

Money: the secondary claim's charge is the whole claim (CLM02 as billed), but what the secondary payer can
owe is the share: the primary's determination is booked on it once, as OA-23 (CARC 23, the impact of the
prior payer's adjudication), so its insurance balance is the share. Its 835 (CLP02 2) posts on it like a
crossover payer's (``claims_posting``): the share it decided on leaves the primary's patient balance as a
``transfer`` row there, and what it leaves to the patient is this claim's. Never for a claim the primary
crossed over (CLP02 19/20/21 or NM1*TT): that payer already sent it on (claims-lifecycle.md section 2).

The share a secondary claim's payer leaves goes the same way to the patient's tertiary coverage (the same
action on the secondary claim's PR item): SBR01 ``T``, a 2320/2330x loop and a 2430 per line for each
earlier payer (the primary's as the secondary claim carried it, the secondary's from its 835); the
secondary claim is then the tertiary claim's "primary" for linking, balances and posting.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecgdesk.claims.model import (
    Address,
    CobAdjustment,
    LineAdjudication,
    OtherPayer,
    PayerInfo,
    Person,
    ProfessionalClaim,
    Relationship,
)
from ecgdesk.claims.schemas import claim_from_dict
from ecgdesk.coding import claim_from_dict as coding_claim_from_dict
from ecgdesk.errors import ConflictError, InputError
from ecgdesk.store import append
from ecgdesk.store.batches import in_batches
from ecgdesk.store.claims_models import (
    BillingProviderRow,
    ClaimLineRow,
    ClaimPaymentRow,
    ClaimRow,
    CoverageRow,
    DenialItemRow,
    LedgerRow,
    PayerRow,
    RemittanceRow,
)
from ecgdesk.store.models import Patient
from ecgdesk.workflow.claims import new_claim_row, save_claim, scrub_all, scrubbed
from ecgdesk.workflow.claims_ledger import ADJUDICATED, INTEREST, ClaimStatus, dollars, move_claim
from ecgdesk.workflow.claims_setup import coverage_for, rules_of, split_name
from ecgdesk.workflow.lifecycle import now

#: ledger kinds that are the payer's CAS adjustments (what 2320/2430 CAS restate)
_ADJUSTMENTS = ("contractual", "denial", "patient")
#: the same on a claim a later payer decided (a secondary claim we billed): its non-PR CAS were booked as
#: restating the earlier payer (prior_payer), and a contractual/denial row there is the part of the share
#: the posting booked under the payer's own code, not a CAS of its 835
_LATER_ADJUSTMENTS = ("prior_payer", "patient")
#: the coverage billed after a claim's own (SBR01): the primary's share goes to the secondary, the
#: secondary's to the tertiary
NEXT_PAYER = {"P": "S", "S": "T"}
_PRIORITY_NAMES = {"S": "secondary", "T": "tertiary"}
#: CLP02 that determine nothing of their own (reversal; not ours; predetermination)
_NO_DETERMINATION = ("22", "23", "25")


#: corrections of one claim followed at most (a rejected claim sent again, rejected again, ...)
_MAX_CHAIN = 50


def _ancestors(session: Session, ids: list[int]) -> dict[int, list[int]]:
    """Each claim id -> itself and the claims it corrects, nearest first (``original_claim_id``)."""
    chains = {i: [i] for i in ids}
    tips = {i: i for i in ids}  # claim -> the chain's current end
    for _ in range(_MAX_CHAIN):
        ends = sorted(set(tips.values()))
        parents: dict[int, int] = {}
        for chunk in in_batches(ends):
            query = select(ClaimRow.id, ClaimRow.original_claim_id).where(
                ClaimRow.id.in_(chunk), ClaimRow.original_claim_id.is_not(None)
            )
            parents.update({int(i): int(o) for i, o in session.execute(query) if o is not None})
        tips = {claim: parents[end] for claim, end in tips.items() if end in parents}
        if not tips:
            break
        for claim, end in tips.items():
            chains[claim].append(end)
    return chains


def primary_claims(session: Session, claim_ids: Iterable[int]) -> dict[int, ClaimRow]:
    """Secondary claim id -> the primary claim it was billed for (by the items worked bill_secondary). A
    secondary claim sent again after a 277CA/999 rejection (or corrected) bills the same share: it is
    found through the claim it corrects."""
    return {claim: primary for claim, (primary, _) in _linked(session, claim_ids).items()}


def share_sources(session: Session, claim_ids: Iterable[int]) -> dict[int, list[int]]:
    """Secondary claim id -> the claims whose patient and transfer rows make the share it may settle: its
    primary's (the share, less what was transferred) and those of the secondary claims it replaces (a
    replacement's 835 comes after the payer's reversal of the claim it replaces, which gives back there
    what that claim's first payment had settled, possibly earlier in the same 835)."""
    return {
        claim: [*chain, primary.id] for claim, (primary, chain) in _linked(session, claim_ids).items()
    }


def _linked(session: Session, claim_ids: Iterable[int]) -> dict[int, tuple[ClaimRow, list[int]]]:
    """Secondary claim id -> its primary claim and its chain of corrections up to the claim billed for
    that primary's share (itself first)."""
    chains = _ancestors(session, list(claim_ids))
    linked = sorted({i for chain in chains.values() for i in chain})
    by_result: dict[int, ClaimRow] = {}
    for chunk in in_batches(linked):
        query = (
            select(DenialItemRow.result_claim_id, ClaimRow)
            .join(ClaimRow, DenialItemRow.claim_id == ClaimRow.id)
            .where(
                DenialItemRow.result_claim_id.in_(chunk),
                DenialItemRow.worked_action == "bill_secondary",
            )
        )
        for secondary_id, primary in session.execute(query):
            if secondary_id is not None:
                by_result[int(secondary_id)] = primary
    found: dict[int, tuple[ClaimRow, list[int]]] = {}
    for claim, chain in chains.items():
        billed = next((n for n, i in enumerate(chain) if i in by_result), None)
        if billed is not None:
            found[claim] = (by_result[chain[billed]], chain[: billed + 1])
    return found


def secondary_claim_numbers(session: Session, primary: ClaimRow) -> list[str]:
    """The claims the primary's share was billed on, with those sent again in their place (corrections)."""
    ids = set(
        session.scalars(
            select(DenialItemRow.result_claim_id).where(
                DenialItemRow.claim_id == primary.id,
                DenialItemRow.worked_action == "bill_secondary",
                DenialItemRow.result_claim_id.is_not(None),
            )
        )
    )
    frontier = set(ids)
    for _ in range(_MAX_CHAIN):
        if not frontier:
            break
        frontier = set(session.scalars(select(ClaimRow.id).where(ClaimRow.original_claim_id.in_(frontier))))
        frontier -= ids
        ids |= frontier
    if not ids:
        return []
    return sorted(session.scalars(select(ClaimRow.claim_number).where(ClaimRow.id.in_(ids))))


def billed_share_cents(session: Session, secondary: ClaimRow) -> int:
    """The share a secondary claim bills: its charge less the primary's determination booked on it at
    billing (the OA-23 row of no payment)."""
    settled = session.scalar(
        select(func.coalesce(func.sum(LedgerRow.amount_cents), 0)).where(
            LedgerRow.claim_id == secondary.id,
            LedgerRow.payment_id.is_(None),
            LedgerRow.kind == "contractual",
            LedgerRow.group_code == "OA",
            LedgerRow.carc == "23",
        )
    )
    return secondary.charge_cents - int(settled or 0)


def book_prior_payer(
    session: Session, claim: ClaimRow, share_cents: int, actor: str, stamp: datetime
) -> None:
    """Book on a secondary claim what its primary settled (paid and adjusted) once, as OA-23: not the
    secondary payer's to owe, so its insurance balance is the share (CARC 23: the impact of the prior
    payer's adjudication)."""
    if claim.charge_cents <= share_cents:
        return
    session.add(
        LedgerRow(
            claim_id=claim.id,
            line_id=None,
            payment_id=None,
            kind="contractual",
            group_code="OA",
            carc="23",
            rarcs="",
            amount_cents=claim.charge_cents - share_cents,
            actor=actor,
            created_at=stamp,
        )
    )


def _subscriber(coverage: CoverageRow) -> Person:
    return Person(
        coverage.subscriber_last,
        coverage.subscriber_first,
        coverage.subscriber_birth_date,
        coverage.subscriber_sex,
        Address(coverage.address1, coverage.city, coverage.state, coverage.zip, coverage.address2),
    )


def _refuse(session: Session, claim: ClaimRow, item: DenialItemRow) -> CoverageRow:
    """Why this claim's share may not be billed to the next payer (raised), else the claim's coverage (the
    primary's, or the secondary's of a secondary claim whose share goes to the tertiary payer)."""
    if item.group_code != "PR":
        raise InputError(
            "action", f"only a patient share (PR) goes to the secondary payer, not {item.group_code}"
        )
    crossed = session.scalar(
        select(func.count())
        .select_from(ClaimPaymentRow)
        .where(ClaimPaymentRow.claim_id == claim.id, ClaimPaymentRow.crossover.is_(True))
    )
    if crossed:
        raise InputError(
            "action",
            f"claim {claim.claim_number}: the payer crossed the claim over to the secondary itself "
            "(CLP02 19/20/21 or NM1*TT); a secondary claim from us would be a duplicate",
        )
    if ClaimStatus(claim.status) not in ADJUDICATED:
        raise ConflictError(
            "status",
            f"claim {claim.claim_number} is '{claim.status}': only an adjudicated claim's patient share "
            "is billed to the secondary payer",
        )
    coverage = session.get(CoverageRow, claim.coverage_id)
    assert coverage is not None
    if coverage.priority not in NEXT_PAYER:
        raise InputError(
            "claim",
            f"claim {claim.claim_number} is billed to the patient's tertiary payer: no later payer is "
            "billed from here",
        )
    return coverage


def _determination(
    session: Session, claim: ClaimRow
) -> tuple[ClaimPaymentRow, RemittanceRow, list[LedgerRow]]:
    """The primary payer's standing determination: its latest claim payment and the ledger rows it booked."""
    payment = session.scalar(
        select(ClaimPaymentRow)
        .where(ClaimPaymentRow.claim_id == claim.id, ClaimPaymentRow.status_code.not_in(_NO_DETERMINATION))
        .order_by(ClaimPaymentRow.id.desc())
    )
    if payment is None:
        raise InputError(
            "claim", f"claim {claim.claim_number} has no determination of its payer to coordinate with"
        )
    remittance = session.get(RemittanceRow, payment.remittance_id)
    assert remittance is not None
    rows = list(
        session.scalars(
            select(LedgerRow).where(LedgerRow.payment_id == payment.id, LedgerRow.claim_id == claim.id)
        )
    )
    return payment, remittance, rows


def _other_payer(
    session: Session, claim: ClaimRow, coverage: CoverageRow, controls: dict[int, str], units: dict[int, int]
) -> OtherPayer:
    payment, remittance, rows = _determination(session, claim)
    payer = session.get(PayerRow, claim.payer_id)
    assert payer is not None
    paid: dict[int, int] = {}
    # the primary's interest (AMT*I) is in its CLP04 but paid none of the charge: not in the 2320 AMT*D
    interest = sum(r.amount_cents for r in rows if r.kind == INTEREST)
    adjusted: dict[int | None, list[CobAdjustment]] = {}
    kinds = _LATER_ADJUSTMENTS if any(r.kind == "prior_payer" for r in rows) else _ADJUSTMENTS
    for row in rows:
        if row.kind == "payment" and row.line_id is not None:
            paid[row.line_id] = paid.get(row.line_id, 0) + row.amount_cents
        elif row.kind in kinds and row.group_code and row.carc:
            adjustment = CobAdjustment(row.group_code, row.carc, dollars(row.amount_cents))
            adjusted.setdefault(row.line_id, []).append(adjustment)
    lines = tuple(
        LineAdjudication(
            control, dollars(paid.get(line_id, 0)), units[line_id], tuple(adjusted.get(line_id, ()))
        )
        for line_id, control in controls.items()
    )
    return OtherPayer(
        name=payer.name,
        payer_id=payer.payer_id,
        filing_indicator=payer.filing_indicator,
        responsibility=coverage.priority,
        relationship=Relationship(coverage.relationship),
        subscriber_last=coverage.subscriber_last,
        subscriber_first=coverage.subscriber_first,
        member_id=coverage.member_id,
        paid=dollars(payment.paid_cents - interest),
        adjudicated=remittance.payment_date,
        claim_number=payment.payer_claim_number or claim.payer_claim_number or "",
        group_number=coverage.group_number,
        adjustments=tuple(adjusted.get(None, ())),
        lines=lines,
    )


def _share_cents(session: Session, claim: ClaimRow) -> int:
    """The patient share the claim's payers left that no secondary claim has taken over yet."""
    total = 0
    query = (
        select(LedgerRow.kind, func.sum(LedgerRow.amount_cents))
        .where(LedgerRow.claim_id == claim.id, LedgerRow.kind.in_(("patient", "transfer")))
        .group_by(LedgerRow.kind)
    )
    for kind, amount in session.execute(query):
        total += int(amount or 0) * (1 if kind == "patient" else -1)
    return total


def rekeyed(others: Iterable[OtherPayer], controls: dict[str, str]) -> tuple[OtherPayer, ...]:
    """The earlier payers' line determinations (2430) under the lines' new REF*6R: they name the line they
    decided by its control, which a new claim renumbers."""
    return tuple(
        replace(
            other,
            lines=tuple(
                replace(found, control=controls[found.control])
                for found in other.lines
                if found.control in controls
            ),
        )
        for other in others
    )


def bill_secondary_in(
    session: Session, claim: ClaimRow, item: DenialItemRow, actor: str, today: date
) -> ClaimRow:
    """Build and scrub the claim of ``claim``'s patient share to the next payer (``item`` is the PR item
    worked): the secondary's, or the tertiary's when ``claim`` is itself a secondary claim (SBR01 T, a
    2320/2330x loop and a 2430 per line for each earlier payer). ``claim`` moves to ``secondary_billed``
    and its other open PR items are worked with it. Audited."""
    primary_coverage = _refuse(session, claim, item)
    priority = NEXT_PAYER[primary_coverage.priority]
    name = _PRIORITY_NAMES[priority]
    lines = list(
        session.scalars(
            select(ClaimLineRow).where(ClaimLineRow.claim_id == claim.id).order_by(ClaimLineRow.line_number)
        )
    )
    day = min(line.date_from for line in lines)
    coverage = coverage_for(session, claim.patient_id, day, priority)
    if coverage is None:
        raise InputError(
            "coverage",
            f"the patient of claim {claim.claim_number} has no {name} coverage in force on {day}; add it "
            f"with 'ecgdesk billing coverage add --priority {name}'",
        )
    share = _share_cents(session, claim)
    if share <= 0:
        raise InputError("claim", f"claim {claim.claim_number} leaves no patient share for a {name} payer")
    payer = session.get(PayerRow, coverage.payer_id)
    billing = session.get(BillingProviderRow, claim.billing_provider_id)
    assert payer is not None and billing is not None
    stored = json.loads(claim.claim_json)
    original = claim_from_dict(stored["claim"])
    coding = coding_claim_from_dict(stored["coding"])
    stamp = now()
    row = new_claim_row(
        session, actor, stamp, f"SEC{claim.id}-{stamp.timestamp():.6f}", billing.claim_prefix,
        study_id=claim.study_id, patient_id=claim.patient_id, payer_id=payer.id, coverage_id=coverage.id,
        billing_provider_id=claim.billing_provider_id,
    )
    controls = {line.id: f"{row.claim_number}L{line.line_number}" for line in lines}
    other = _other_payer(session, claim, primary_coverage, controls, {line.id: line.units for line in lines})
    by_control = {line.control: controls[line.id] for line in lines}
    # a secondary claim's own earlier payer (the primary) comes first, as its claim carried it
    earlier = rekeyed(original.other_payers, by_control)
    relationship = Relationship(coverage.relationship)
    patient = None
    if relationship is not Relationship.SELF:
        person = session.get(Patient, claim.patient_id)
        assert person is not None
        last, first = split_name(person.name)
        patient = Person(
            last,
            first,
            person.birth_date,
            person.sex[:1],
            Address(coverage.address1, coverage.city, coverage.state, coverage.zip, coverage.address2),
        )
    secondary = ProfessionalClaim(
        claim_id=row.claim_number,
        billing=original.billing,
        payer=PayerInfo(payer.name, payer.payer_id, payer.filing_indicator, priority),
        subscriber_id=coverage.member_id,
        subscriber=_subscriber(coverage),
        relationship=relationship,
        diagnoses=original.diagnoses,
        lines=tuple(replace(line, control=by_control[line.control]) for line in original.lines),
        place_of_service=original.place_of_service,
        patient=patient,
        prior_authorization=original.prior_authorization,
        rendering=original.rendering,
        group_number=coverage.group_number,
        accept_assignment=original.accept_assignment,
        benefits_assigned=original.benefits_assigned,
        other_payers=(*earlier, other),
    )
    coding_findings = [f for f in json.loads(claim.scrub_json) if f.get("source") == "coding"]
    # the service was billed once already (to the primary): no frequency-limit history against itself
    findings = scrub_all(secondary, coding, coding_findings, rules_of(payer, day), today)
    save_claim(session, row, secondary, coding, findings)
    charge = row.charge_cents
    book_prior_payer(session, row, share, actor, stamp)
    append(
        session,
        actor,
        "claim:create",
        "claim",
        row.id,
        None,
        {
            "claim_number": row.claim_number,
            "study_id": claim.study_id,
            "charge": f"{dollars(charge):.2f}",
            "payer": payer.payer_id,
            "secondary_of": claim.claim_number,
            "share": f"{dollars(share):.2f}",
        },
    )
    scrubbed(session, row, findings, actor)
    move_claim(
        session,
        claim,
        ClaimStatus.SECONDARY_BILLED,
        actor,
        "bill_secondary",
        {"secondary_claim": row.claim_number, "payer": payer.payer_id, "share": f"{dollars(share):.2f}"},
    )
    others = session.scalars(
        select(DenialItemRow).where(
            DenialItemRow.claim_id == claim.id,
            DenialItemRow.status == "open",
            DenialItemRow.group_code == "PR",
            DenialItemRow.id != item.id,
        )
    )
    for other_item in others:
        other_item.status, other_item.worked_action = "worked", "bill_secondary"
        other_item.worked_by, other_item.worked_at = actor, stamp
        other_item.result_claim_id = row.id
        append(
            session,
            actor,
            "denial:bill_secondary",
            "denial_item",
            other_item.id,
            {"status": "open"},
            {"status": "worked", "new_claim": row.claim_number, "with_item": item.id},
        )
    return row
