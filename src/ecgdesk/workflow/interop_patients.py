"""Patients from the EHR: ADT^A08/A31 (or a FHIR Patient) update the demographics of a patient we keep.

ECG Desk keeps only the patients its orders name, while the EHR's ADT feed sends every patient of the
hospital: an update of a patient we do not keep is acknowledged (AA) and creates nothing, as an ancillary
system filters its feed. An update is applied to the patient row, audited before/after; what was signed or
sent with the old demographics stays as it was (a signed report version and its PDF are immutable, a claim
sent is history); the next result message, report version and claim carry the new ones. A message held
because its demographics disagreed with ours is not released by an update (a person resolves holds): the
held list shows the patient as now recorded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.interop.model import PatientUpdate
from ecgdesk.store import append
from ecgdesk.store.interop_models import InboundMessage
from ecgdesk.store.models import AuditEntry, Patient
from ecgdesk.workflow.studies import lock_patient_id

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
    given = update.patient
    lock_patient_id(session, given.id)
    patient = session.scalar(select(Patient).where(Patient.external_id == given.id))
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
