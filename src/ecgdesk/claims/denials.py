"""Denial work: which adjustments need work, their category, the next action and its deadline.

Categories follow what a biller does next: necessity, bundling/NCCI, modifier, missing information,
duplicate, frequency/MUE, timely filing, eligibility, patient responsibility. Routine contractual
adjustments (CO-45 and friends) need no work. The next action comes from ``data/denial_rules.json`` and
the payer's rule set: a correction is a frequency-7 replacement or, for Medicare, a reopening; an appeal
is due within the payer's window (Medicare redetermination: 120 days from the initial determination); a
patient balance is billed within the statement window; CO amounts are never billed to the patient.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

from ecgdesk.coding.payer_rules import PayerRules


class Category(enum.StrEnum):
    NECESSITY = "necessity"
    BUNDLING = "bundling"
    MODIFIER = "modifier"
    MISSING_INFORMATION = "missing_information"
    DUPLICATE = "duplicate"
    FREQUENCY_MUE = "frequency_mue"
    TIMELY_FILING = "timely_filing"
    ELIGIBILITY = "eligibility"
    PATIENT_RESPONSIBILITY = "patient_responsibility"
    OTHER = "other"
    OVERPAYMENT = "overpayment"  # the payer paid more than the claim's charge less its adjustments
    # the payer took money back twice (a refund or PLB WO recoupment, then a reversal too): it owes us
    PAYER_OWES = "payer_owes"


class Action(enum.StrEnum):
    """What a biller does with an item (``denials work ITEM --action ...``)."""

    CORRECT = "correct"
    REOPENING = "reopening"
    NEW_ORIGINAL = "new_original"
    APPEAL = "appeal"
    BILL_PATIENT = "bill_patient"
    BILL_SECONDARY = "bill_secondary"
    WRITE_OFF = "write_off"
    REFUND = "refund"  # an overpayment returned to the payer (by check; a PLB WO/72 closes it too)
    RECOVER = "recover"  # money the payer took back twice, returned by it (its check or EFT received)


#: Medicare: an overpayment is reported and returned within 60 days of being identified (42 CFR 401.305);
#: the same bound is kept for every payer (contracts and state laws set their own, seldom shorter)
REFUND_DAYS = 60


@dataclass(frozen=True)
class DenialRules:
    version: str
    source: str
    routine: Mapping[str, frozenset[str]]
    carc: Mapping[str, tuple[Category, Action, str]]
    groups: Mapping[str, tuple[Category, Action]]
    mue_mai: Mapping[int, Action]
    # the CARCs whose adjustment has no appeal rights (``"appeal": false``), e.g. CO-29
    no_appeal: frozenset[str] = frozenset()


@cache
def denial_rules() -> DenialRules:
    text = resources.files("ecgdesk.claims.data").joinpath("denial_rules.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return DenialRules(
        version=str(data["version"]),
        source=str(data["source"]),
        routine={g: frozenset(v) for g, v in data["routine"].items()},
        carc={
            code: (Category(v["category"]), Action(v["action"]), str(v["why"]))
            for code, v in data["carc"].items()
        },
        groups={g: (Category(v["category"]), Action(v["action"])) for g, v in data["groups"].items()},
        mue_mai={int(k): Action(v) for k, v in data["mue_mai"].items()},
        no_appeal=frozenset(code for code, v in data["carc"].items() if v.get("appeal") is False),
    )


def is_routine(group: str, carc: str) -> bool:
    """A contractual adjustment that needs no work (e.g. CO-45 charge above the fee schedule)."""
    return carc in denial_rules().routine.get(group, frozenset())


@dataclass(frozen=True)
class DenialContext:
    """What the next action depends on besides the code: the payer's rules and the claim's situation."""

    rules: PayerRules
    determination: date  # the remittance (initial determination) date
    service_date: date
    crossover: bool = False
    has_secondary: bool = False
    abn_on_file: bool = False
    mue_mai: int | None = None
    # the secondary payer's rules: the secondary claim is due within ITS timely filing, not the primary's
    secondary_rules: PayerRules | None = None
    # a secondary or tertiary claim we billed: it carries the earlier payers' determination of a share
    # already moved off the primary, so it is corrected by a replacement, never sent as a new original
    later_claim: bool = False


@dataclass(frozen=True)
class Triage:
    category: Category
    action: Action
    deadline: date | None
    reason: str


def _correction(context: DenialContext) -> tuple[Action, date, str]:
    rules = context.rules
    if rules.corrected_claim == "reopening":
        deadline = context.determination + timedelta(days=rules.reopening_days)
        return Action.REOPENING, deadline, f"corrections are reopenings within {rules.reopening_days} days"
    deadline = context.service_date + timedelta(days=rules.timely_filing_days)
    return Action.CORRECT, deadline, "corrected claim: frequency 7 with the payer claim number in REF*F8"


def triage(group: str, carc: str, rarcs: Sequence[str], context: DenialContext) -> Triage | None:
    """The work an adjustment needs, or ``None`` for a routine contractual adjustment."""
    if is_routine(group, carc):
        return None
    table = denial_rules()
    rules = context.rules
    known = table.carc.get(carc)
    if group == "PR":
        category, action = table.groups["PR"]
        why = known[2] if known else f"patient responsibility (CARC {carc})"
        if known and known[0] is not Category.PATIENT_RESPONSIBILITY:
            why = f"{why}; the payer made it the patient's (ABN or non-covered)"
            category = known[0]
    elif known is not None:
        category, action, why = known
    else:
        category, action, why = Category.OTHER, Action.APPEAL, f"CARC {carc} is not in the denial rules"
    if category is Category.FREQUENCY_MUE and carc == "151" and context.mue_mai is not None:
        action = table.mue_mai.get(context.mue_mai, action)
        why = f"{why}; MUE adjudication indicator {context.mue_mai}"
    if action is Action.BILL_SECONDARY and group != "PR":
        # only a patient share goes on to the next payer; a payer that holds another one primary (CO-22)
        # is sent the claim again once the patient's coverage order is set right with it
        action, why = Action.NEW_ORIGINAL, f"{why}; set the coverage order right with the payer"
    deadline: date | None
    if action is Action.BILL_PATIENT and group != "PR":
        action, why = Action.WRITE_OFF, f"{why}; contractual (CO) amounts are never billed to the patient"
    if action is Action.BILL_PATIENT and context.has_secondary and not context.crossover:
        action = Action.BILL_SECONDARY
    if action is Action.BILL_SECONDARY and context.crossover:
        action, why = Action.BILL_PATIENT, f"{why}; the payer crossed the claim over to the secondary itself"
    if action is Action.NEW_ORIGINAL and context.later_claim:
        # a new original would bill a share already moved off the primary a second time (refused)
        action, why = Action.CORRECT, f"{why}; a secondary or tertiary claim is corrected by a replacement"
    if action is Action.CORRECT:
        action, deadline, how = _correction(context)
        why = f"{why}; {how}"
    elif action is Action.APPEAL:
        deadline = context.determination + timedelta(days=rules.appeal_days)
        why = f"{why}; {rules.appeal_name} within {rules.appeal_days} days of the determination"
    elif action is Action.NEW_ORIGINAL:
        deadline = context.service_date + timedelta(days=rules.timely_filing_days)
        why = f"{why}; send a new original claim (frequency 1) within timely filing"
    elif action is Action.BILL_PATIENT:
        deadline = context.determination + timedelta(days=rules.patient_statement_days)
    elif action is Action.BILL_SECONDARY:
        # the secondary payer's own limit, counted from the primary's determination (its EOB date)
        other = context.secondary_rules or rules
        deadline = context.determination + timedelta(days=other.timely_filing_days)
        why = f"{why}; bill the secondary payer within its timely filing ({other.timely_filing_days} days)"
    else:
        deadline = context.determination
    remark = f" (RARC {', '.join(rarcs)})" if rarcs else ""
    return Triage(category, action, deadline, f"{group}-{carc}{remark}: {why} [{rules.citation}]")


def allowed_actions(
    group: str, crossover: bool, category: str = "", reopening: bool = False, carc: str | None = None
) -> list[Action]:
    """The actions a biller may take on an item of ``group`` (an overpayment item is only refunded): only a
    PR amount is billed to the patient or to the next payer (not after a crossover), and a payer taking
    corrections as reopenings (``reopening``) takes no frequency-7 correction, and an adjustment without
    appeal rights (CARC 29, the rules' ``"appeal": false``; a timely filing item whose ``carc`` is not
    given) is not appealed."""
    if category == Category.OVERPAYMENT:
        return [Action.REFUND]
    if category == Category.PAYER_OWES:
        # the payer returns it, or the practice gives it up: nothing here is billed, corrected or appealed
        return [Action.RECOVER, Action.WRITE_OFF]
    refused = {Action.REFUND, Action.RECOVER}
    if group != "PR":
        refused |= {Action.BILL_PATIENT, Action.BILL_SECONDARY}
    if crossover:
        refused.add(Action.BILL_SECONDARY)
    if reopening:
        refused.add(Action.CORRECT)
    if carc in denial_rules().no_appeal or (carc is None and category == Category.TIMELY_FILING):
        # CARC 29 is not an initial determination: there is nothing to appeal (claims-lifecycle.md section 3);
        # a late filing penalty (B4) is one, appealed with proof of timely filing
        refused.add(Action.APPEAL)
    return [a for a in Action if a not in refused]


def overpayment(amount: str, determination: date, rules: PayerRules, cause: str = "") -> Triage:
    """The work a credit insurance balance needs: refund it, or let the payer recoup it."""
    return Triage(
        Category.OVERPAYMENT,
        Action.REFUND,
        determination + timedelta(days=REFUND_DAYS),
        (f"{cause}; " if cause else "")
        + f"overpayment of {amount}: the payer paid more than the charge less its adjustments and the "
        f"patient share; refund it by check, or the payer recoups it (PLB WO, or 72 with WO once a check is "
        f"received); Medicare: within {REFUND_DAYS} days of identification (42 CFR 401.305) "
        f"[{rules.citation}]",
    )


def superseded_payment(
    amount: str, determination: date, rules: PayerRules, payment: str, replacement: str
) -> Triage:
    """The work of a payment on a claim whose replacement (frequency 7) the payer has accepted without
    reversing it: the money is owed back, as the reversal the payer should have sent first would take it."""
    return Triage(
        Category.OVERPAYMENT,
        Action.REFUND,
        determination + timedelta(days=REFUND_DAYS),
        f"{payment} not reversed although the payer has accepted its replacement {replacement}: {amount} "
        "is owed back; the payer takes it by a reversal (CLP02 22) or a recoupment (PLB WO naming the "
        "claim), which close this item; refund it by check only if the payer asks; Medicare: within "
        f"{REFUND_DAYS} days of identification (42 CFR 401.305) [{rules.citation}]",
    )


def payer_owes(amount: str, determination: date, rules: PayerRules, returned: str, reversal: str) -> Triage:
    """The work of money the payer took back twice: the practice returned it (``returned``: the biller's
    refund or the payer's PLB WO recoupment) and the payer then reversed the payment too (``reversal``)."""
    return Triage(
        Category.PAYER_OWES,
        Action.RECOVER,
        determination + timedelta(days=REFUND_DAYS),
        f"{amount} returned twice: {returned}, and then {reversal} took the same payment back; the payer "
        f"owes the practice {amount}: ask it to return it (a check, or a negative PLB WO naming the claim), "
        f"record it with 'recover' when received, or 'write_off' if it is given up [{rules.citation}]",
    )


# -------------------------------------------------------------------------------------- appeal letter


@dataclass(frozen=True)
class AppealFacts:
    """What an appeal letter is drafted from (all plain values gathered by the workflow)."""

    payer_name: str
    appeal_name: str
    billing_name: str
    billing_npi: str
    patient_name: str
    member_id: str
    claim_id: str
    payer_claim_number: str
    service_date: date
    code: str
    code_meaning: str
    modifiers: tuple[str, ...]
    charge: str
    adjustment: str
    remarks: tuple[str, ...]
    indications: tuple[tuple[str, str], ...]  # (ICD-10-CM code, its meaning)
    policy: str
    interpretation: str
    signed_by: str
    signed_at: str
    report_sha256: str
    determination: date
    deadline: date | None


def draft_appeal(facts: AppealFacts, today: date) -> str:
    """A plain-text appeal letter for the biller to review, sign and send with the records."""
    mods = f"-{'-'.join(facts.modifiers)}" if facts.modifiers else ""
    remarks = f" with remark code(s) {', '.join(facts.remarks)}" if facts.remarks else ""
    indications = "\n".join(f"  - {code}: {meaning}" for code, meaning in facts.indications) or "  - (none)"
    deadline = f" (requested by {facts.deadline})" if facts.deadline else ""
    return f"""{facts.billing_name} (NPI {facts.billing_npi})
{today.isoformat()}

To: {facts.payer_name}, appeals
Re: request for {facts.appeal_name}{deadline}
Patient: {facts.patient_name}, member id {facts.member_id}
Claim: {facts.claim_id}, payer claim number {facts.payer_claim_number or "(not given)"}
Service: {facts.code}{mods} on {facts.service_date.isoformat()}, billed {facts.charge}
Determination: {facts.determination.isoformat()}, adjustment {facts.adjustment}{remarks}

We ask you to reconsider the denial of this service. The test was ordered for the following indications,
which the attached physician report documents:
{indications}

The service billed: {facts.code_meaning}

Coverage policy: {facts.policy}

The physician's signed interpretation ({facts.signed_by}, signed {facts.signed_at}; report content
SHA-256 {facts.report_sha256[:16]}...):

{facts.interpretation}

The signed report, the order with its indications and the recording summary are enclosed. Please
reprocess the line and pay it under the policy above.

Sincerely,

______________________________
{facts.billing_name} billing office
"""
