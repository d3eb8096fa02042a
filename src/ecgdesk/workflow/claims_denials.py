"""The denial work queue: list the items, work one (who did what is recorded), draft appeal letters.

Working an item: ``write_off`` books a write-off for its amount (CO items reduce the insurance balance,
PR items the patient's); ``bill_patient`` hands a PR amount to patient statements (refused for CO,
OA and PI); ``bill_secondary`` builds the secondary claim of the patient share (``claims_secondary``:
2320/2330A/2330B/2430 from the primary's 835; refused when the payer crossed the claim over) and moves
the claim to ``secondary_billed``; ``appeal`` and ``reopening`` draft the letter from the signed report,
the order's indications and the code's coverage policy and move the claim to ``appealed``; ``correct``
and ``new_original`` create the replacement (frequency 7) or a new original claim; ``refund``
(overpayment items only) records the credit returned to the payer; ``recover`` (payer_owes items only,
which also take ``write_off``) records money the payer took back twice and has returned. When no open
item is left the claim closes (or is ``written_off`` when its balance went to write-offs).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecgdesk.claims.denials import Action, AppealFacts, Category, allowed_actions, draft_appeal
from ecgdesk.claims.schemas import claim_from_dict
from ecgdesk.coding.codes import code_info
from ecgdesk.coding.necessity import indication_list, normalize_icd, screening_rule
from ecgdesk.coding.payer_rules import payer_rules
from ecgdesk.errors import ConflictError, InputError, NotFoundError, check_option
from ecgdesk.store import Store, append
from ecgdesk.store.claims_models import (
    ClaimLineRow,
    ClaimPaymentRow,
    ClaimRow,
    DenialItemRow,
    LedgerRow,
    PayerRow,
    RemittanceRow,
)
from ecgdesk.store.models import Interpretation, Order, ReportVersion, Signature, Study
from ecgdesk.workflow.claims_export import ClaimEdits, correct_in
from ecgdesk.workflow.claims_ledger import ClaimStatus, balances, dollars, move_claim
from ecgdesk.workflow.claims_overpayment import refund_row
from ecgdesk.workflow.claims_secondary import bill_secondary_in
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.paging import Rows, paged
from ecgdesk.workflow.permissions import audit_read


@dataclass(frozen=True)
class DenialView:
    id: int
    claim_id: str
    line: int | None
    code: str | None
    group: str
    carc: str
    rarc: list[str]
    amount: str
    category: str
    next_action: str
    deadline: str | None
    reason: str
    status: str
    worked_action: str | None
    worked_by: str | None
    worked_at: str | None
    note: str
    letter: str | None
    payer: str
    # the actions working this item accepts (what the work form offers): never an action it refuses
    actions: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _crossed(session: Session, claim_ids: set[int]) -> set[int]:
    """The claims a payer crossed over to the secondary itself (their PR items are not ours to bill on)."""
    if not claim_ids:
        return set()
    query = select(ClaimPaymentRow.claim_id).where(
        ClaimPaymentRow.claim_id.in_(claim_ids), ClaimPaymentRow.crossover.is_(True)
    )
    return set(session.scalars(query))


def _allowed(item: DenialItemRow, payer: PayerRow, crossover: bool) -> list[Action]:
    reopening = payer_rules(payer.rules_id).corrected_claim == "reopening"
    return allowed_actions(item.group_code, crossover, item.category, reopening, item.carc)


def _view(
    item: DenialItemRow, claim: ClaimRow, line: ClaimLineRow | None, payer: PayerRow, crossover: bool
) -> DenialView:
    return DenialView(
        item.id,
        claim.claim_number,
        line.line_number if line else None,
        line.code if line else None,
        item.group_code,
        item.carc,
        [r for r in item.rarcs.split(",") if r],
        f"{dollars(item.amount_cents):.2f}",
        item.category,
        item.next_action,
        item.deadline.isoformat() if item.deadline else None,
        item.reason,
        item.status,
        item.worked_action,
        item.worked_by,
        item.worked_at.isoformat() if item.worked_at else None,
        item.note,
        item.letter_path,
        payer.payer_id,
        [a.value for a in _allowed(item, payer, crossover)],
    )


def list_denials(
    store: Store,
    actor: str,
    status: str | None = "open",
    claim: str | None = None,
    category: str | None = None,
    audit: bool = True,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> Rows[DenialView]:
    """Denial items, by deadline (open ones by default); one page of them with ``limit``."""
    with store.transaction() as session:
        query = (
            select(DenialItemRow, ClaimRow, ClaimLineRow, PayerRow)
            .join(ClaimRow, DenialItemRow.claim_id == ClaimRow.id)
            .join(PayerRow, ClaimRow.payer_id == PayerRow.id)
            .outerjoin(ClaimLineRow, DenialItemRow.line_id == ClaimLineRow.id)
        )
        if status is not None:
            query = query.where(DenialItemRow.status == status)
        if claim is not None:
            query = query.where(ClaimRow.claim_number == claim)
        if category is not None:
            query = query.where(DenialItemRow.category == category)
        query, total = paged(session, query.order_by(DenialItemRow.deadline, DenialItemRow.id), offset, limit)
        rows = session.execute(query).all()
        if audit:
            audit_read(
                session,
                actor,
                "denials",
                "denial_item",
                "*",
                {
                    "status": status, "claim": claim, "category": category, "offset": offset,
                    "items": len(rows),
                },
            )
        crossed = _crossed(session, {c.id for _, c, _, _ in rows})
        return Rows([_view(item, c, line, payer, c.id in crossed) for item, c, line, payer in rows], total)


def _describe_icd(code: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm
    try:
        return str(simple_icd_10_cm.get_description(normalize_icd(code)))
    except ValueError:
        return "(not in the ICD-10-CM code set)"


def _policy(code: str, day: date) -> str:
    info = code_info(code)
    if info is not None:
        listed = indication_list(info.family, day)
        if listed is not None:
            return f"{listed.title} ({listed.id}): {listed.source}"
    rule = screening_rule()
    return (
        "NCD 20.15 Electrocardiographic Services: covered for documented signs, symptoms or indications "
        f"({rule.source})"
    )


def _appeal_facts(session: Session, item: DenialItemRow, claim: ClaimRow, payer: PayerRow) -> AppealFacts:
    stored = claim_from_dict(json.loads(claim.claim_json)["claim"])
    line = session.get(ClaimLineRow, item.line_id) if item.line_id else None
    code = line.code if line else stored.lines[0].code
    day = line.date_from if line else stored.lines[0].date_from
    study = session.get(Study, claim.study_id) if claim.study_id else None
    interpretation = session.scalar(select(Interpretation).where(Interpretation.study_id == claim.study_id))
    version = session.scalar(
        select(ReportVersion)
        .where(ReportVersion.study_id == claim.study_id)
        .order_by(ReportVersion.version.desc())
    )
    signature = (
        session.scalar(select(Signature).where(Signature.report_version_id == version.id))
        if version
        else None
    )
    if signature is None or interpretation is None or study is None:
        raise InputError("appeal", f"claim {claim.claim_number} has no signed report to appeal with")
    order = session.get(Order, study.order_id)
    assert order is not None
    remit_day = (
        session.scalar(
            select(RemittanceRow.payment_date)
            .join(ClaimPaymentRow, ClaimPaymentRow.remittance_id == RemittanceRow.id)
            .join(LedgerRow, LedgerRow.payment_id == ClaimPaymentRow.id)
            .where(LedgerRow.id == item.ledger_id)
        )
        or item.created_at.date()
    )
    rules = payer_rules(payer.rules_id)
    info = code_info(code)
    return AppealFacts(
        payer_name=payer.name,
        appeal_name=rules.appeal_name,
        billing_name=stored.billing.name,
        billing_npi=stored.billing.npi,
        patient_name=f"{stored.subscriber.last}, {stored.subscriber.first}"
        if stored.patient is None
        else f"{stored.patient.last}, {stored.patient.first}",
        member_id=stored.subscriber_id,
        claim_id=claim.claim_number,
        payer_claim_number=claim.payer_claim_number or "",
        service_date=day,
        code=code,
        code_meaning=info.paraphrase if info else code,
        modifiers=tuple(m for m in (line.modifiers.split(",") if line else ()) if m),
        charge=f"${dollars(line.charge_cents if line else claim.charge_cents):.2f}",
        adjustment=f"{item.group_code}-{item.carc} ${dollars(item.amount_cents):.2f}",
        remarks=tuple(r for r in item.rarcs.split(",") if r),
        indications=tuple((dx, _describe_icd(dx)) for dx in json.loads(order.indications_json)),
        policy=_policy(code, day),
        interpretation=interpretation.text,
        signed_by=signature.printed_name,
        signed_at=signature.signed_at.isoformat(timespec="seconds"),
        report_sha256=signature.content_sha256,
        determination=remit_day,
        deadline=item.deadline,
    )


@dataclass(frozen=True)
class WorkResult:
    item: DenialView
    claim_status: str
    letter: Path | None = None
    new_claim: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item.to_dict(),
            "claim_status": self.claim_status,
            "letter": str(self.letter) if self.letter else None,
            "new_claim": self.new_claim,
        }


def _settle(session: Session, claim: ClaimRow, actor: str) -> None:
    """Close the claim (or mark it written off) when no open item is left and the payer owes nothing."""
    still_open = session.scalar(
        select(func.count())
        .select_from(DenialItemRow)
        .where(DenialItemRow.claim_id == claim.id, DenialItemRow.status == "open")
    )
    waiting = (ClaimStatus.CORRECTED, ClaimStatus.APPEALED, ClaimStatus.SECONDARY_BILLED)
    if still_open or ClaimStatus(claim.status) in waiting:
        return
    balance = balances(session, [claim])[claim.id]
    if balance.insurance > 0:
        return
    target = ClaimStatus.WRITTEN_OFF if balance.written_off > 0 and balance.paid == 0 else ClaimStatus.CLOSED
    move_claim(
        session,
        claim,
        target,
        actor,
        "settle",
        {
            "insurance_balance": f"{balance.insurance:.2f}",
            "patient_balance": f"{balance.patient_balance:.2f}",
        },
    )


def work_denial(
    store: Store,
    item_id: int,
    action: str,
    actor: str,
    note: str = "",
    edits: ClaimEdits | None = None,
    today: date | None = None,
) -> WorkResult:
    """Work one open denial item (see the module doc); every step is audited."""
    today = today or date.today()
    chosen = Action(check_option("action", action, [a.value for a in Action]))
    letter: Path | None = None
    new_claim: str | None = None
    with store.transaction() as session:
        item = session.get(DenialItemRow, item_id)
        if item is None:
            raise NotFoundError("item", f"no denial item {item_id}")
        # Locked, the claim first (as a posting changes them): the same item worked at the same moment (two
        # billers, a double click) waits, then finds it worked; on PostgreSQL both saw it open and booked
        # two write-offs.
        claim = session.get(ClaimRow, item.claim_id, with_for_update=True, populate_existing=True)
        item = session.get(DenialItemRow, item_id, with_for_update=True, populate_existing=True)
        assert claim is not None and item is not None  # neither is ever deleted
        if item.status == "closed":
            # only a posting closes an item (the biller works one): say which, not as if the biller had
            raise ConflictError(
                "item",
                f"item {item_id} is already closed: the payer's remittance closed it as {item.worked_action} "
                f"(posted by {item.worked_by}"
                + (f" on {item.worked_at:%Y-%m-%d})" if item.worked_at is not None else ")"),
            )
        if item.status != "open":
            raise ConflictError(
                "item", f"item {item_id} is already {item.status} ({item.worked_action} by {item.worked_by})"
            )
        payer = session.get(PayerRow, claim.payer_id)
        assert payer is not None
        crossover = bool(_crossed(session, {claim.id}))
        if chosen not in _allowed(item, payer, crossover):
            if item.category == Category.OVERPAYMENT:
                why = "an overpayment is refunded (or the payer recoups it: PLB WO)"
            elif item.category == Category.PAYER_OWES:
                why = "money the payer took back twice is recovered from it, or written off"
            elif chosen is Action.RECOVER:
                why = "only money the payer took back twice (a payer_owes item) is recovered"
            elif chosen is Action.REFUND:
                why = "only an overpayment item is refunded"
            elif chosen is Action.APPEAL:
                why = (
                    "a timely filing denial (CARC 29) is not an initial determination and has no appeal "
                    "rights: write it off, or correct the claim if its date of service was wrong"
                )
            elif chosen is Action.CORRECT:
                why = f"{payer.name} takes corrections as reopenings, not frequency-7 claims: use 'reopening'"
            elif chosen is Action.BILL_SECONDARY and item.group_code == "PR":
                why = "the payer crossed the claim over to the secondary itself"
            elif chosen is Action.BILL_SECONDARY:
                why = f"only a patient share (PR) goes to the next payer, not {item.group_code}"
            else:
                why = f"{item.group_code} amounts are never billed to the patient"
            raise InputError("action", f"'{chosen.value}' is not allowed for item {item_id}: {why}")
        before = {"status": item.status, "claim_status": claim.status}
        if chosen is Action.REFUND:
            session.add(refund_row(claim.id, item.amount_cents, actor, now()))
        elif chosen is Action.RECOVER:  # the payer gave it back: a return the other way
            session.add(refund_row(claim.id, -item.amount_cents, actor, now()))
        elif chosen is Action.WRITE_OFF:
            session.add(
                LedgerRow(
                    claim_id=claim.id,
                    line_id=item.line_id,
                    payment_id=None,
                    kind="write_off",
                    group_code=item.group_code,
                    carc=item.carc,
                    rarcs=item.rarcs,
                    amount_cents=item.amount_cents,
                    actor=actor,
                    created_at=now(),
                )
            )
        elif chosen in (Action.APPEAL, Action.REOPENING):
            facts = _appeal_facts(session, item, claim, payer)
            if chosen is Action.REOPENING:
                facts = AppealFacts(**{**asdict(facts), "appeal_name": "clerical-error reopening"})
            folder = Path(store.home) / "claims" / "appeals"
            folder.mkdir(parents=True, exist_ok=True)
            letter = folder / f"{claim.claim_number}-item{item.id}-{chosen.value}.txt"
            letter.write_text(draft_appeal(facts, today), encoding="utf-8")
            item.letter_path = str(letter)
            move_claim(
                session,
                claim,
                ClaimStatus.APPEALED,
                actor,
                chosen.value,
                {"item": item.id, "letter": letter.name},
            )
        elif chosen is Action.BILL_SECONDARY:
            secondary = bill_secondary_in(session, claim, item, actor, today)
            new_claim, item.result_claim_id = secondary.claim_number, secondary.id
        elif chosen in (Action.CORRECT, Action.NEW_ORIGINAL):
            made = correct_in(
                session,
                claim,
                actor,
                edits or ClaimEdits(),
                today,
                new_original=chosen is Action.NEW_ORIGINAL,
            )
            new_claim = made.claim_id
            item.result_claim_id = session.scalar(
                select(ClaimRow.id).where(ClaimRow.claim_number == made.claim_id)
            )
        item.status = "worked"
        item.worked_action, item.worked_by, item.worked_at, item.note = (
            chosen.value,
            actor,
            now(),
            note.strip(),
        )
        session.flush()
        _settle(session, claim, actor)
        append(
            session,
            actor,
            f"denial:{chosen.value}",
            "denial_item",
            item.id,
            before,
            {
                "status": item.status,
                "claim_status": claim.status,
                "note": item.note,
                "letter": letter.name if letter else None,
                "new_claim": new_claim,
            },
        )
        line = session.get(ClaimLineRow, item.line_id) if item.line_id else None
        return WorkResult(_view(item, claim, line, payer, crossover), claim.status, letter, new_claim)
