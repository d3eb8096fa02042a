"""Posting the claim payments of one 835 remittance to the ledger (called by ``claims_inbound``).

All decisions are made in memory per claim payment (:meth:`Posting.post_claim`), then written in a few
bulk inserts (:meth:`Posting.flush`). Every paid amount and CAS amount becomes a ledger row (payment,
contractual, denial, patient, or prior_payer for a later payer's restatement of an earlier payer), every
non-routine one a denial item with its next action. A later payer's 835 (secondary, e.g. after a
crossover) settles the patient share the earlier payer left; so does the 835 of a secondary claim we
billed ourselves (``claims_secondary``), which posts on that claim and books the share it took over from
the primary claim as a ``transfer`` row on the primary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from ecgdesk.claims import RemitClaim, Remittance
from ecgdesk.claims.denials import DenialContext, is_routine, triage
from ecgdesk.claims.matching import BilledLine, LineMatch, match_lines
from ecgdesk.claims.remit import ZERO, Adjustment
from ecgdesk.coding.payer_rules import PayerRules
from ecgdesk.store import append_many
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.claims_models import (
    ClaimPaymentRow,
    ClaimRow,
    DenialItemRow,
    LedgerRow,
    PayerRow,
    RemittanceRow,
)
from ecgdesk.store.models import Base
from ecgdesk.workflow.claims_ledger import (
    INTEREST,
    ClaimStatus,
    balances,
    cents,
    dollars,
    move_claim,
)
from ecgdesk.workflow.claims_overpayment import open_overpayments, open_payer_owes
from ecgdesk.workflow.claims_posting_items import ItemCloser, money, posted_answer
from ecgdesk.workflow.claims_replaced import REPLACEMENT, accepts, close_replaced_items, replaced_originals
from ecgdesk.workflow.claims_reversal import (
    NO_DETERMINATION,
    StandingPayment,
    repeated_reversal,
    standing_payments,
    undo_items,
    undo_latest,
    undo_repeat,
)
from ecgdesk.workflow.claims_setup import rules_of

#: CLP02 of a payer that processed the claim after another one (secondary, tertiary; 20/21 also forwarded)
LATER_PAYER = frozenset({"2", "3", "20", "21"})


def _table(model: type[Base]) -> Table:
    """The Core table of a model: Core executemany inserts skip the ORM's per-row bookkeeping."""
    return cast(Table, model.__table__)


@dataclass
class _Pending:
    """One claim payment computed in memory, written in bulk by :meth:`Posting.flush`."""

    claim: ClaimRow
    payment: dict[str, Any]
    ledger: list[dict[str, Any]]
    triaged: list[dict[str, Any] | None]
    reversal: bool
    later_payer: bool = False
    undone: StandingPayment | None = None  # a later payer's payment this reversal undoes
    overturns: list[int] = field(default_factory=list)  # the payer's earlier payments this payment replaces


@dataclass
class Posting:
    """Posts the claim payments of one remittance: all decisions in memory, then a few bulk inserts
    (payments, ledger rows, denial items, audit rows), so 10,000 claims cost seconds, not minutes."""

    session: Session
    remittance_row: RemittanceRow
    remittance: Remittance
    actor: str
    stamp: Any
    payers: dict[int, PayerRow]
    secondary: set[int]
    line_numbers: dict[int, int]
    patient_shares: dict[int, int]  # cents; the patient share earlier payers left, for LATER_PAYER claims
    standing: dict[int, list[StandingPayment]]  # this payer's payments not yet reversed, per claim
    # claim id -> the claim payment a duplicate payment repeats (said in its overpayment item)
    duplicates: dict[int, str] = field(default_factory=dict)
    # patient id -> the rules of their secondary payer (the bill_secondary deadline is that payer's)
    secondary_rules: dict[int, PayerRules] = field(default_factory=dict)
    # a secondary claim we billed (its id) -> the primary claim whose patient share it was billed for
    primaries: dict[int, ClaimRow] = field(default_factory=dict)
    # a claim whose rows make a share -> the claims in this 835 whose share it is (itself included)
    share_users: dict[int, set[int]] = field(default_factory=dict)
    # a secondary claim we billed (its id) -> the rules of the patient's tertiary payer, who sees the share
    # it leaves (bill_secondary there bills the tertiary claim, due within that payer's filing limit)
    next_rules: dict[int, PayerRules] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)
    log: list[NewAuditRow] = field(default_factory=list)

    def post_claim(self, claim: ClaimRow, billed: list[BilledLine], remit: RemitClaim) -> dict[str, Any]:
        payment = {
            "remittance_id": self.remittance_row.id,
            "claim_id": claim.id,
            "status_code": remit.status,
            "charge_cents": cents(remit.charge),
            "paid_cents": cents(remit.paid),
            "patient_cents": cents(remit.patient_responsibility),
            "payer_claim_number": remit.payer_claim_number[:50],
            "crossover": remit.crossover,
            "position": remit.position,
            "corrected_insured": remit.corrected_insured[:120],
        }
        if remit.status in NO_DETERMINATION:
            return self._no_determination(claim, remit, payment)
        stack = self.standing.get(claim.id, [])
        first = next((p.named() for p in stack if p.repeated_by(remit, claim.charge_cents)), None)
        if remit.reversal:  # a reversal repeats no payment, but may repeat an earlier reversal
            earlier = [p.payment for p in self.pending if p.claim.id == claim.id]
            payer = self.remittance.payer_trace_id
            first = repeated_reversal(self.session, payer, claim.id, remit, stack, earlier)
        if first is not None:
            return self._duplicate(claim, billed, remit, payment, first)
        if remit.reversal:
            # the payer taking back a payment it made twice: the other stands, and with it the determination
            # (until 2026-12-08 its CAS were undone: the claim reversed, its CO open A/R, its PR item closed)
            twin = undo_repeat(self.standing.get(claim.id, []), remit.payer_claim_number, claim.charge_cents)
            if twin is not None:
                return self._duplicate(claim, billed, remit, payment, twin, twin_reversed=True)
        if remit.payer_claim_number and not remit.reversal:
            claim.payer_claim_number = remit.payer_claim_number[:50]
        matches = match_lines(remit.lines, billed)
        # a secondary (or tertiary) payer's 835 on a claim an earlier payer already left a patient share
        # on (e.g. Medigap after a Medicare crossover): its CAS restate what the earlier payer settled
        # on a secondary claim we billed every determination is the secondary payer's on the share (a
        # denial, CLP02 4, too: its OA-23 restates the primary, booked on the claim once at billing)
        later_payer = remit.status in LATER_PAYER or (claim.id in self.primaries and not remit.reversal)
        share = dollars(self.patient_shares.get(claim.id, 0)) if later_payer else ZERO
        undone = (
            undo_latest(self.standing.get(claim.id, []), remit.payer_claim_number) if remit.reversal else None
        )
        if undone is not None and undone.share_cents > 0:
            # the reversal of such a payment mirrors it: its CAS restate the earlier payer again, and the
            # share that payment took over goes back to the patient (a negative share handed over)
            share = -dollars(undone.share_cents)
        else:
            undone = None
        later = share > 0 or undone is not None
        pending = _Pending(claim, payment, [], [], remit.reversal, later and undone is None, undone)
        if remit.charge_paid > 0 and not remit.reversal:
            # paid after the same payer's earlier determinations (e.g. on appeal): their denials are history
            pending.overturns = [p.payment_id for p in self.standing.get(claim.id, []) if p.payment_id]
        if not remit.reversal:
            # the same claim payment again later in this 835 is a duplicate payment, as across files
            patient = cents(remit.patient_responsibility)
            amounts = (remit.status, cents(remit.charge), cents(remit.paid), patient)
            clp07 = remit.payer_claim_number
            here = StandingPayment(0, self.remittance_row.id, clp07, 0, amounts, remit.position)
            self.standing.setdefault(claim.id, []).append(here)
        shown: list[dict[str, Any]] = []
        rules = rules_of(self.payers[claim.payer_id])
        service_day = min((b.date_from for b in billed), default=self.remittance.payment_date)
        if claim.id in self.primaries:  # a claim of ours to a later payer: the next one is the tertiary
            has_next = claim.id in self.next_rules and not remit.reversal
            next_rules = self.next_rules.get(claim.id)
        else:
            has_next = claim.patient_id in self.secondary and not later
            next_rules = self.secondary_rules.get(claim.patient_id)
        context = DenialContext(
            rules,
            self.remittance.payment_date,
            service_day,
            remit.crossover,
            has_next,
            secondary_rules=next_rules,
            later_claim=claim.id in self.primaries,
        )
        for match in matches:
            line_id = match.billed.key if match.billed else None
            number = self.line_numbers[line_id] if line_id is not None else None
            if match.remit.paid:
                self._entry(pending, claim, line_id, "payment", match.remit.paid)
            # the claim's MIA/MOA remarks (e.g. N115 on a denial adjusted at its lines) speak of each line too
            remarks = (*match.remit.remarks, *(r for r in remit.remarks if r not in match.remit.remarks))
            for adjustment in match.remit.adjustments:
                self._adjust(
                    pending,
                    claim,
                    line_id,
                    number,
                    adjustment.group,
                    adjustment.reason,
                    adjustment.amount,
                    remarks,
                    context,
                    remit,
                    shown,
                    restated=later,
                )
        for adjustment in remit.adjustments:
            self._adjust(
                pending,
                claim,
                None,
                None,
                adjustment.group,
                adjustment.reason,
                adjustment.amount,
                remit.remarks,
                context,
                remit,
                shown,
                restated=later,
            )
        if later:
            self._later_payer(pending, claim, remit, share, context, shown)
        self._claim_payment(pending, claim, remit, matches)
        self.pending.append(pending)
        # a later CLP in this file (a correction after its reversal, under the same CLM01 or its
        # replacement's) sees the share this one took over or gave back
        for row in pending.ledger:
            if row["kind"] in ("patient", "transfer"):
                amount = row["amount_cents"] * (1 if row["kind"] == "patient" else -1)
                for user in self.share_users.get(row["claim_id"], {claim.id}):
                    self.patient_shares[user] = self.patient_shares.get(user, 0) + amount
        detail = {"remittance": self.remittance_row.id, "clp02": remit.status, "paid": money(remit.paid)}
        if remit.interest:
            detail["interest"] = money(remit.interest)
        if undone is not None:
            detail["undoes_payment"] = undone.payment_id
        move_claim(
            self.session,
            claim,
            self._status(claim, remit, pending),
            self.actor,
            "remit",
            detail,
            log=self.log,
        )
        primary = self.primaries.get(claim.id)
        if primary is not None and later:
            # the secondary decided on the share (closed), or its reversal makes the share its again
            back = ClaimStatus.SECONDARY_BILLED if undone is not None else ClaimStatus.CLOSED
            if primary.status in (ClaimStatus.SECONDARY_BILLED.value, ClaimStatus.CLOSED.value):
                note = {"secondary_claim": claim.claim_number, "remittance": self.remittance_row.id}
                move_claim(self.session, primary, back, self.actor, "secondary_remit", note, log=self.log)
        return posted_answer(claim, remit, shown, [m.remit.position for m in matches if m.billed is None])

    def _duplicate(
        self,
        claim: ClaimRow,
        billed: list[BilledLine],
        remit: RemitClaim,
        payment: dict[str, Any],
        first: str,
        twin_reversed: bool = False,
    ) -> dict[str, Any]:
        """The same claim payment (or reversal) again under another trace: the money posts (a credit the
        overpayment item asks to refund; a reversal's, money the payer owes), the determination was booked
        (or undone) with the first, so no CAS row and no item. ``twin_reversed``: a reversal of one of two
        equal payments, the other (``first``) standing: it takes the money back, not the determination."""
        pending = _Pending(claim, payment, [], [], reversal=False)
        matches = match_lines(remit.lines, billed)
        for match in matches:
            if match.remit.paid:
                self._entry(
                    pending, claim, match.billed.key if match.billed else None, "payment", match.remit.paid
                )
        # the interest paid again was not earned again: it is money owed back with the payment (its
        # reversal takes it back the same way), so the overpayment item asks for it too
        self._claim_payment(pending, claim, remit, matches, interest_kind="payment")
        self.pending.append(pending)
        kind = "reversal" if remit.reversal else "payment"
        note = f"duplicate {kind}: {first} sent again; its adjustments are not booked twice"
        if twin_reversed:
            note = f"reversal of a duplicate payment: {first} stands, so do its adjustments"
        # a reversal's names the first one in its payer_owes item (the payer took the payment back twice)
        self.duplicates[claim.id] = first if remit.reversal else note
        status = {"status": claim.status}
        detail = {"remittance": self.remittance_row.id, "clp02": remit.status, "paid": money(remit.paid)}
        self.log.append(
            (self.actor, "claim:remit", "claim", claim.id, status, {**status, **detail, "note": note})
        )
        return posted_answer(claim, remit, [], [m.remit.position for m in matches if m.billed is None], note)

    def _claim_payment(
        self,
        pending: _Pending,
        claim: ClaimRow,
        remit: RemitClaim,
        matches: list[LineMatch],
        interest_kind: str = INTEREST,
    ) -> None:
        """What the payer paid beyond (or short of) its lines: the claim-level CAS lower the lines' SVC03 to
        CLP04 (CLP03 - claim and line CAS = CLP04), so the claim's payment rows add up to the money paid."""
        rest = remit.charge_paid - sum((m.remit.paid for m in matches), ZERO)
        if rest:
            self._entry(pending, claim, None, "payment", rest)
        if remit.interest:
            # income on the claim (AMT*I, e.g. Medicare prompt-pay interest), not a payment of its charge:
            # it settles nothing, so it can make the claim neither paid in full nor overpaid
            self._entry(pending, claim, None, interest_kind, remit.interest)

    def _no_determination(
        self, claim: ClaimRow, remit: RemitClaim, payment: dict[str, Any]
    ) -> dict[str, Any]:
        """CLP02 23 / 25: recorded (the claim payment and an audit row), nothing booked, state kept. The
        amounts are the payer's estimate or another payer's business: none is the claim's or the patient's,
        and the CLP07 is not the number a correction would cite."""
        self.pending.append(_Pending(claim, payment, [], [], reversal=False))
        status = {"status": claim.status}
        note = NO_DETERMINATION[remit.status]
        detail = {"remittance": self.remittance_row.id, "clp02": remit.status, "paid": money(remit.paid)}
        after = {**status, **detail, "note": note}
        self.log.append((self.actor, "claim:remit", "claim", claim.id, status, after))
        adjustments: list[dict[str, Any]] = [
            {"line": None, "group": a.group, "carc": a.reason, "rarc": [], "amount": money(a.amount)}
            for a in remit.all_adjustments()
        ]
        return posted_answer(claim, remit, adjustments, [], note)

    def _entry(
        self,
        pending: _Pending,
        claim: ClaimRow,
        line_id: int | None,
        kind: str,
        amount: Decimal,
        group: str = "",
        carc: str = "",
        rarcs: tuple[str, ...] = (),
        claim_id: int | None = None,
    ) -> dict[str, Any]:
        row = {
            "claim_id": claim.id if claim_id is None else claim_id,
            "line_id": line_id,
            "kind": kind,
            "group_code": group,
            "carc": carc,
            "rarcs": ",".join(rarcs)[:60],
            "amount_cents": cents(amount),
            "actor": self.actor,
            "created_at": self.stamp,
        }
        pending.ledger.append(row)
        pending.triaged.append(None)
        return row

    def _adjust(
        self,
        pending: _Pending,
        claim: ClaimRow,
        line_id: int | None,
        number: int | None,
        group: str,
        carc: str,
        amount: Decimal,
        remarks: tuple[str, ...],
        context: DenialContext,
        remit: RemitClaim,
        shown: list[dict[str, Any]],
        restated: bool = False,
    ) -> None:
        if restated and group != "PR":
            kind = "prior_payer"  # the earlier payer's payment and adjustments, already in the ledger
        elif group == "PR":
            kind = "patient"
        elif is_routine(group, carc):
            kind = "contractual"
        else:
            kind = "denial"
        row = self._entry(pending, claim, line_id, kind, amount, group, carc, remarks)
        shown.append(
            {"line": number, "group": group, "carc": carc, "rarc": list(remarks), "amount": money(amount)}
        )
        if amount <= 0 or remit.reversal or kind in ("contractual", "prior_payer"):
            return
        work = triage(group, carc, remarks, context)
        if work is not None:
            pending.triaged[-1] = {
                "claim_id": claim.id,
                "line_id": line_id,
                "group_code": group,
                "carc": carc,
                "rarcs": row["rarcs"],
                "amount_cents": row["amount_cents"],
                "category": work.category.value,
                "next_action": work.action.value,
                "deadline": work.deadline,
                "reason": work.reason,
                "status": "open",
                "note": "",
                "created_at": self.stamp,
            }

    def _later_payer(
        self,
        pending: _Pending,
        claim: ClaimRow,
        remit: RemitClaim,
        share: Decimal,
        context: DenialContext,
        shown: list[dict[str, Any]],
    ) -> None:
        """The patient share the earlier payers left (``share``) goes to this payer's decision: what it paid,
        what it leaves to the patient (its PR rows), and any rest as its own adjustment."""
        primary = self.primaries.get(claim.id)
        if primary is None:
            self._entry(pending, claim, None, "patient", -share, "PR")
        else:
            # the share sits on the primary claim: it leaves the patient's balance there (a transfer to
            # this claim), while this claim books what its payer paid and left, as a crossover payer's would
            self._entry(pending, claim, None, "transfer", share, "PR", claim_id=primary.id)
        left = sum((a.amount for a in remit.all_adjustments() if a.group == "PR"), ZERO)
        own = share - remit.charge_paid - left
        if own:
            # book it under this payer's own non-PR code (OA-23 only restates the earlier payer)
            code = next(
                (
                    a
                    for a in remit.all_adjustments()
                    if a.group != "PR" and f"{a.group}-{a.reason}" != "OA-23"
                ),
                Adjustment("OA", "23", own),
            )
            self._adjust(
                pending, claim, None, None, code.group, code.reason, own, remit.remarks, context, remit, shown
            )

    def _status(self, claim: ClaimRow, remit: RemitClaim, pending: _Pending) -> ClaimStatus:
        ledger = pending.ledger
        if pending.undone is not None and claim.id not in self.primaries:
            # a later payer undid its own payment: the earlier payers' determination stands (the claim
            # keeps its state); a claim closed since is open again, its patient share being owed again.
            # Not so a secondary claim we billed: its payer's was its only determination, and its reversal
            # leaves the share to decide again (reversed, awaiting the correction) like any reversal
            if claim.status != ClaimStatus.CLOSED.value:
                return ClaimStatus(claim.status)
            paid = balances(self.session, [claim])[claim.id].paid + remit.charge_paid
            return ClaimStatus.PAID if paid > 0 else ClaimStatus.ADJUDICATED
        if remit.reversal and claim.status == ClaimStatus.CORRECTED.value:
            # a replaced claim's reversal is the payer undoing it for its replacement (a new CLM01 keeps
            # the original CLP01 on the reversal): the replacement carries the balance, so the original
            # stays replaced instead of reopening its whole charge as insurance A/R
            return ClaimStatus.CORRECTED
        if remit.reversal:
            return ClaimStatus.REVERSED
        # a negative adjustment (the payer paying more than it adjusted) denies nothing
        denied = any(r["kind"] == "denial" and r["amount_cents"] > 0 for r in ledger)
        if remit.charge_paid > 0:
            return ClaimStatus.PARTIALLY_PAID if denied else ClaimStatus.PAID
        return ClaimStatus.DENIED if denied else ClaimStatus.ADJUDICATED

    def flush(self) -> None:
        """Write what :meth:`post_claim` decided: payments, ledger rows, denial items, audit rows.

        Plain executemany inserts (``RETURNING`` with a guaranteed order makes SQLite insert row by row);
        the new ids are read back by content, not by order: a payment by its CLP position in this
        remittance, a ledger row by its values (rows with equal values are interchangeable).
        """
        session = self.session
        if self.pending:
            payments = _table(ClaimPaymentRow)
            session.execute(insert(payments), [p.payment for p in self.pending])
            query = select(payments.c.position, payments.c.id).where(
                payments.c.remittance_id == self.remittance_row.id
            )
            by_position = {position: payment_id for position, payment_id in session.execute(query)}
            ledger: list[dict[str, Any]] = []
            triaged: list[dict[str, Any] | None] = []
            for pending in self.pending:
                payment_id = by_position[pending.payment["position"]]
                for row in pending.ledger:
                    row["payment_id"] = payment_id
                ledger += pending.ledger
                triaged += pending.triaged
            paid_by = {id(p): by_position[p.payment["position"]] for p in self.pending}
            self._items().close_items(
                {p.claim.id: paid_by[id(p)] for p in self.pending if p.reversal and p.undone is None},
                "reversed",
            )
            for pending in self.pending:
                if pending.undone is not None:
                    undo_items(
                        session,
                        pending.claim,
                        pending.undone,
                        paid_by[id(pending)],
                        self.actor,
                        self.stamp,
                        self.log,
                    )
            # the patient share a later payer decided again: its own PR rows open new items
            self._items().close_items(
                {self._share_claim(p.claim): paid_by[id(p)] for p in self.pending if p.later_payer},
                "later_payer",
                "PR",
            )
            # a replacement the payer accepted supersedes its original, reversed or not (yet)
            determined = {
                p.claim.original_claim_id: (p.claim, paid_by[id(p)])
                for p in self.pending
                if p.claim.frequency == REPLACEMENT
                and p.claim.original_claim_id is not None
                and accepts(p.payment["status_code"], p.payment["paid_cents"], p.payment["patient_cents"])
            }
            replaced = replaced_originals(session, determined)
            close_replaced_items(session, replaced, self.actor, self.stamp, self.log)
            if ledger:
                table = _table(LedgerRow)
                session.execute(insert(table), ledger)
                key_columns = (
                    table.c.payment_id,
                    table.c.line_id,
                    table.c.kind,
                    table.c.group_code,
                    table.c.carc,
                    table.c.amount_cents,
                )
                found: dict[tuple[Any, ...], list[int]] = {}
                query = (
                    select(table.c.id, *key_columns)
                    .join(payments, table.c.payment_id == payments.c.id)
                    .where(payments.c.remittance_id == self.remittance_row.id)
                    .order_by(table.c.id)
                )
                for found_row in session.execute(query):
                    found.setdefault(tuple(found_row[1:]), []).append(int(found_row[0]))
                items = []
                for row, item in zip(ledger, triaged, strict=True):
                    key = (
                        row["payment_id"],
                        row["line_id"],
                        row["kind"],
                        row["group_code"],
                        row["carc"],
                        row["amount_cents"],
                    )
                    ledger_id = found[key].pop(0)
                    if item is not None:
                        items.append({**item, "ledger_id": ledger_id})
                if items:
                    session.execute(insert(_table(DenialItemRow)), items)
            # a reversal of a payment that overturned denials makes them stand again; before the overturning
            # below, so a correction in this 835 that pays again closes them anew
            self._items().restore_items([p.claim.id for p in self.pending if p.reversal and p.undone is None])
            # after the ledger rows: which denials are resolved depends on the lines this payment carries
            self._items().overturn_items({p.claim.id: paid_by[id(p)] for p in self.pending if p.overturns})
            # a claim this remittance left with a credit balance gets its refund item
            claims = {p.claim.id: p.claim for p in self.pending}
            paid_in = {p.claim.id: by_position[p.payment["position"]] for p in self.pending}
            why = dict(self.duplicates)
            # so does the original of a replacement determined here whose payment the payer did not reverse
            owed_back = [r.original for r in replaced if r.original.id not in claims]
            payer = self.remittance.payer_trace_id
            for claim_id, stack in standing_payments(session, payer, [c.id for c in owed_back]).items():
                if stack:
                    paid_in[claim_id], why[claim_id] = stack[-1].payment_id, stack[-1].named()
            claims.update((c.id, c) for c in owed_back)
            open_overpayments(
                session,
                list(claims.values()),
                paid_in,
                self.remittance.payment_date,
                self.actor,
                self.stamp,
                why,
            )
            # a reversal of a payment the practice had already returned: the payer owes it back
            # once per claim: a claim with two CLPs here (a reversal sent twice) owes one item
            posted = list({p.claim.id: p.claim for p in self.pending}.values())
            reversals = {p.claim.id: paid_by[id(p)] for p in self.pending if p.payment["status_code"] == "22"}
            repaid: dict[int, int] = {}
            for p in self.pending:
                if p.claim.id in reversals and p.payment["status_code"] != "22":
                    repaid[p.claim.id] = repaid.get(p.claim.id, 0) + p.payment["paid_cents"]
            day = self.remittance.payment_date
            open_payer_owes(session, posted, reversals, day, self.actor, self.stamp, self.duplicates, repaid)
            self.pending.clear()
        append_many(session, self.log)
        self.log.clear()

    def _items(self) -> ItemCloser:
        return ItemCloser(self.session, self.remittance_row.id, self.actor, self.stamp, self.log)

    def _share_claim(self, claim: ClaimRow) -> int:
        """The claim whose patient share a later payer's payment settles (a secondary claim's primary)."""
        primary = self.primaries.get(claim.id)
        return claim.id if primary is None else primary.id
