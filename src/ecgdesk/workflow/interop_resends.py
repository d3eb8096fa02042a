"""A placer order sent again under a new control id (MSH-10): a resend, or a different order.

An EHR whose ACK was lost sends the order again, and an interface engine that re-queues it gives the copy a
new MSH-10, so the control id alone does not find it (a resend under the same control id is answered by
``interop_orders`` from the message log). The placer order number (ORC-2/OBR-2, the ServiceRequest's PLAC
identifier) names the order: the same number with the same content is the same order, answered AA and
nothing stored but the message's own log row (audited ``interop:order-duplicate``); the same number with
other content (another patient, another test) is not a resend but a second order under a number in use,
refused naming the field that differs. A change, cancel or hold of an order names its patient as well: one
naming another patient than the order's is refused too (it was applied to the order of whoever it was for).
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from ecgdesk.errors import InputError
from ecgdesk.interop.model import OrderRequest
from ecgdesk.store.models import Order, Patient, Study
from ecgdesk.workflow.studies import StudyRequest

DUPLICATE = "duplicate"

#: the field of each value an order is compared by, in an HL7 v2 order and in a FHIR ServiceRequest
_FIELDS = {
    "patient": ("PID-3", "Patient.identifier"),
    "service": ("OBR-4", "ServiceRequest.code"),
    "indications": ("DG1-3", "ServiceRequest.reasonCode"),
    "ordering": ("ORC-12", "ServiceRequest.requester"),
    "duration": ("TQ1-6", "ServiceRequest.occurrenceTiming"),
    "priority": ("TQ1-9", "ServiceRequest.priority"),
}


def field_of(order: OrderRequest, what: str) -> str:
    """Where ``order`` gave ``what``: an HL7 v2 order says where it read each value (``read_from``), a
    FHIR one does not (it has none)."""
    hl7, fhir = _FIELDS[what]
    if not order.read_from:
        return fhir
    if what == "ordering":
        return order.field_of("ordering-npi") or hl7
    if what == "indications" and order.indications:
        return order.field_of("indication", order.indications[0]) or hl7
    return hl7


def check_patient(session: Session, order: OrderRequest, study: Study) -> None:
    """Refuse an order that names its placer number under another patient than the order on record."""
    patient = session.get(Patient, study.patient_id)
    if patient is not None and patient.external_id != order.patient.id:
        # the patient on record is not named: the sender may not learn whose order the number is
        raise InputError(field_of(order, "patient"), (
            f"placer order {order.placer_order_number} (study {study.id}) is another patient's order; "
            "an order keeps its patient: check the placer number, or cancel it and order anew"), order.source)


def resent(session: Session, order: OrderRequest, request: StudyRequest, row: Order, study: Study
           ) -> tuple[str, int, str]:
    """A new order (NW) whose placer number is on record: (duplicate, study, reason) where it is the order
    on record sent again; raises :class:`InputError` naming the first field that differs where it is not."""
    check_patient(session, order, study)
    stored = (row.service, sorted(json.loads(row.indications_json)), row.ordering_npi, row.duration_days,
              row.priority)
    sent = (request.service.value, sorted(request.indications), request.ordering_npi, request.duration_days,
            request.priority.value)
    for what, before, now in zip(("service", "indications", "ordering", "duration", "priority"), stored, sent,
                                 strict=True):
        if before != now:
            raise InputError(field_of(order, what), (
                f"placer order {order.placer_order_number} exists already as study {study.id} with another "
                f"{_WORDS[what]}: a resend must be the same order (send XO to change it, or order under a "
                "new placer number)"), order.source)
    return DUPLICATE, study.id, (
        f"placer order {order.placer_order_number} is study {study.id} already, with the same content: "
        "a resend, nothing changed")


_WORDS = {"service": "service (test)", "indications": "indication (reason for study)",
          "ordering": "ordering provider", "duration": "duration", "priority": "priority"}
