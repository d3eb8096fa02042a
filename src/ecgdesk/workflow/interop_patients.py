"""Patients from the EHR: ADT^A08/A31 update the demographics of a patient we keep; ADT^A40 merges two.

ECG Desk keeps only the patients its orders name, while the EHR's ADT feed sends every patient of the
hospital: an update of a patient we do not keep is acknowledged (AA) and creates nothing, as an ancillary
system filters its feed. An update is applied to the patient row, audited before/after; what was signed or
sent with the old demographics stays as it was (a signed report version and its PDF are immutable, a claim
sent is history); the next result message, report version and claim carry the new ones. A message held
because its demographics disagreed with ours is not released by an update (a person resolves holds): the
held list shows the patient as now recorded.

A merge moves the prior record's orders, studies (with their monitoring periods and reports) and claims to
the surviving patient in one transaction, audited with both ids and the counts; the prior row is kept,
marked merged (never deleted: history and the audit log name it), and takes no new order or update. Two
records whose birth dates or sexes disagree are not merged: the message is held for a person, as an order
whose demographics disagree is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from ecgdesk.errors import InputError
from ecgdesk.interop.model import PatientUpdate
from ecgdesk.store import append
from ecgdesk.store.claims_models import ClaimRow, CoverageRow
from ecgdesk.store.interop_models import InboundMessage
from ecgdesk.store.models import AuditEntry, Order, Patient, Study
from ecgdesk.store.monitoring_models import Enrolment
from ecgdesk.workflow.interop_issuer import check_issuer, issuer_field, same_patient
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.studies import lock_patient_id, merged_note

HELD = "held"
ACCEPTED = "accepted"
REFUSED = "refused"

#: The start of the reason an order is held with (interop_orders._patient_conflict): which patient it waits on
_HELD_FOR = re.compile(r"patient (.+?) exists as .*?; the order says (.+), born (\S+), sex (\S+): held",
                       re.DOTALL)


def demographics(patient: Patient) -> dict[str, Any]:
    """What an update may change, as the audit log records it before and after."""
    return {"name": patient.name, "birth_date": patient.birth_date.isoformat(), "sex": patient.sex}


def apply_patient_message(session: Session, update: PatientUpdate, actor: str) -> tuple[str, int | None, str]:
    """(status, study id, reason) of acting on a patient message inside the caller's transaction."""
    if update.event.is_merge:
        return _merge(session, update, actor)
    given = update.patient
    lock_patient_id(session, given.id)
    patient = _find(session, given.id)
    if patient is not None and patient.merged_into_id is not None:
        raise InputError(update.field_of("patient-id"), merged_note(session, patient))
    if patient is not None and not same_patient(patient, given.id_issuer):
        # the same number under another authority is another patient, whom we do not keep
        check_issuer(None, given.id_issuer, update.field_of("patient-id"), update.source)
        where = issuer_field(update.field_of("patient-id"))
        return ACCEPTED, None, (f"patient {given.id} of {where} {given.id_issuer!r} is not known here (the "
                                "number is on record under another assigning authority): nothing changed")
    if patient is None:
        # the EHR sends every patient's updates; we keep only those with orders (an AE would fill the
        # interface engine's error queue with patients who never had an ECG)
        return ACCEPTED, None, (f"patient {given.id} is not known here (ECG Desk keeps only patients who "
                                "have orders): nothing created")
    before = demographics(patient)
    after = {"name": given.display, "birth_date": given.birth_date.isoformat(), "sex": given.sex}
    if before == after:
        return ACCEPTED, None, f"patient {given.id}: demographics unchanged"
    patient.name, patient.birth_date, patient.sex = given.display, given.birth_date, given.sex
    append(session, actor, "patient:update", "patient", patient.id, {**before, "patient_id": given.id},
           {**after, "patient_id": given.id, "message_id": update.message_id, "event": update.event.value})
    changed = ", ".join(key.replace("_", " ") for key in after if before[key] != after[key])
    held = _held_for(session, given.id)
    waiting = f"; {held} held message(s) for this patient still wait for a person" if held else ""
    return ACCEPTED, None, (f"patient {given.id} updated ({changed}); signed reports and claims sent keep "
                            f"what they were signed and sent with{waiting}")


def _held_for(session: Session, patient_id: str) -> int:
    rows = session.scalars(select(InboundMessage.reason).where(InboundMessage.status == HELD))
    matches = (_HELD_FOR.match(reason or "") for reason in rows)
    return sum(1 for match in matches if match is not None and match.group(1) == patient_id)


def patient_now(session: Session, held_reason: str, received_at: datetime) -> str:
    """For a held message: the patient as now recorded when an update came after it was held (the hold is
    not released by it: a person resolves holds), and whether it now matches the held order; else ''."""
    match = _HELD_FOR.match(held_reason or "")
    if match is None:
        return ""
    patient = session.scalar(select(Patient).where(Patient.external_id == match.group(1)))
    if patient is None:
        return ""
    updates = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "patient:update", AuditEntry.entity == "patient",
               AuditEntry.entity_id == str(patient.id))
        .order_by(AuditEntry.seq.desc())
    )
    latest = next(iter(updates), None)
    held_at = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)  # SQLite: naive UTC
    if latest is None or datetime.fromisoformat(latest.at) < held_at:
        return ""
    order = (match.group(2), match.group(3), match.group(4))
    now = (patient.name, patient.birth_date.isoformat(), patient.sex)
    verdict = "now matches the held message" if order == now else "still differs from the held message"
    when = latest.at[:16].replace("T", " ")
    return (f"patient {match.group(1)} updated {when} UTC: {now[0]}, born {now[1]}, sex {now[2]} ({verdict}; "
            "the hold stays until a person resolves it)")


def _find(session: Session, external_id: str) -> Patient | None:
    return session.scalar(select(Patient).where(Patient.external_id == external_id))


def _compatible(a: Patient, b: Patient) -> bool:
    """Whether two records may be one person: the same birth date, and the same sex where both know it."""
    return a.birth_date == b.birth_date and (a.sex == b.sex or "U" in (a.sex, b.sex))


def _merge(session: Session, update: PatientUpdate, actor: str) -> tuple[str, int | None, str]:
    given, prior_id = update.patient, update.prior_id or ""
    prior_field, surviving_field = update.field_of("prior-id"), update.field_of("patient-id")
    if prior_id == given.id:
        raise InputError(prior_field, f"the prior id {prior_id!r} is the surviving id ({surviving_field}): "
                                      "nothing to merge")
    for external_id in sorted((prior_id, given.id)):  # one order of locks: two merges never deadlock
        lock_patient_id(session, external_id)
    prior = _find(session, prior_id)
    if prior is not None and not same_patient(prior, update.prior_issuer):
        raise InputError(issuer_field(prior_field), (
            f"no patient {prior_id!r} of assigning authority {update.prior_issuer!r} here to merge (the "
            "number is on record under another authority)"))
    if prior is None:
        raise InputError(prior_field, f"no patient {prior_id!r} here to merge into {given.id} (ECG Desk "
                                      "keeps only patients who have orders)")
    if prior.merged_into_id is not None:
        into = session.get(Patient, prior.merged_into_id)
        if into is not None and into.external_id == given.id:
            return ACCEPTED, None, f"{merged_note(session, prior)}: nothing to do"
        raise InputError(prior_field, merged_note(session, prior))
    survivor = _find(session, given.id)
    check_issuer(survivor, given.id_issuer, surviving_field, update.source)
    if survivor is not None and survivor.merged_into_id is not None:
        raise InputError(surviving_field, merged_note(session, survivor))
    candidate = survivor or Patient(external_id=given.id, name=given.display, birth_date=given.birth_date,
                                    sex=given.sex, created_at=now(), id_issuer=given.id_issuer)
    if not _compatible(prior, candidate):
        return HELD, None, (
            f"patients {prior_id} (born {prior.birth_date}, sex {prior.sex}) and {given.id} (born "
            f"{candidate.birth_date}, sex {candidate.sex}) differ in birth date or sex: merge held for "
            "review, not merged"
        )
    if survivor is None:  # the prior record goes on under the surviving id (A40 to an id we never saw)
        survivor = candidate
        session.add(survivor)
        session.flush()
        append(session, actor, "patient:create", "patient", survivor.id, None,
               {**demographics(survivor), "patient_id": given.id, "message_id": update.message_id})
    counts = _move(session, prior, survivor)
    prior.merged_into_id, prior.merged_at = survivor.id, now()
    ids = {"prior": prior_id, "prior_row": prior.id, "surviving": given.id, "surviving_row": survivor.id}
    after = {**ids, **counts, "message_id": update.message_id, "event": update.event.value}
    append(session, actor, "patient:merge", "patient", prior.id, {**ids, "merged": False},
           {**after, "merged": True})
    append(session, actor, "patient:merge-into", "patient", survivor.id, None, after)
    moved = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items())
    return ACCEPTED, None, (f"patient {prior_id} merged into {given.id}: moved {moved}; {prior_id} is kept "
                            "as merged")


def _move(session: Session, prior: Patient, survivor: Patient) -> dict[str, int]:
    """Give the prior patient's orders, studies, claims and coverages to the survivor: counts of each."""
    studies = list(session.scalars(select(Study.id).where(Study.patient_id == prior.id)))
    periods = session.scalar(
        select(func.count()).select_from(Enrolment).where(Enrolment.study_id.in_(studies))
    )
    counts = {}
    for name, table in (("orders", Order), ("studies", Study), ("claims", ClaimRow)):
        moved = sql_update(table).where(table.patient_id == prior.id).values(patient_id=survivor.id)
        result = session.execute(moved)
        counts[name] = int(getattr(result, "rowcount", 0) or 0)
    counts["monitoring_periods"] = int(periods or 0)
    # a coverage moves unless the survivor has one of that priority (two primaries would make the payer of a
    # new claim a guess); one left behind stays with the claims that were billed under it
    taken = set(session.scalars(select(CoverageRow.priority).where(CoverageRow.patient_id == survivor.id)))
    coverages = list(session.scalars(select(CoverageRow).where(CoverageRow.patient_id == prior.id)))
    for coverage in coverages:
        if coverage.priority not in taken:
            coverage.patient_id = survivor.id
            taken.add(coverage.priority)
    counts["coverages"] = sum(c.patient_id == survivor.id for c in coverages)
    counts["coverages_left"] = len(coverages) - counts["coverages"]
    return counts
