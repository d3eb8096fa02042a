"""Orders in: an HL7 v2 ORM^O01/OMG^O19/OML^O21 or a FHIR ServiceRequest creates, changes or cancels an order;
an ADT^A08/A31 changes a patient and an A40 merges two (``interop_patients``), received, answered and logged
alike.

Each message is handled once per control id (a resend gets the first answer again and changes nothing),
answered with an ACK (AA accepted, AE received but not acted on, with the reason, AR refused: not an order
we take) and logged with what it did. A patient who exists with other demographics is never merged: the
message is held for a person to resolve, and nothing is created; its sender is told which fields differ,
never the stored patient's values (:mod:`ecgdesk.workflow.interop_holds`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecgdesk import jsonfile
from ecgdesk.coding.facts import Service
from ecgdesk.errors import InputError
from ecgdesk.interop import fhir, fhir_checks, fhir_patient, hl7v2, hl7v2_adt, hl7v2_batch
from ecgdesk.interop.model import OrderControl, OrderRequest, PatientUpdate
from ecgdesk.interop.senders import sender_key
from ecgdesk.store import Store, append
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.interop_models import InboundMessage
from ecgdesk.store.models import Order, Patient, Study
from ecgdesk.workflow.interop_acks import accept_answer, queue_application_ack
from ecgdesk.workflow.interop_holds import answer_of, differing
from ecgdesk.workflow.interop_issuer import check_issuer
from ecgdesk.workflow.interop_patients import ACCEPTED, HELD, REFUSED, apply_patient_message, patient_now
from ecgdesk.workflow.interop_resends import DUPLICATE, check_patient, field_of, resent
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.permissions import audit_read
from ecgdesk.workflow.studies import StudyRequest, add_study, check_request, unknown_indication


@dataclass(frozen=True)
class OrderOutcome:
    """What one inbound message did, and the ACK that answers it."""

    ack: hl7v2.AckResult
    status: str  # accepted, refused, held, duplicate
    study_id: int | None
    message_type: str
    ack_text: str  # the ER7 ACK for v2 peers (FHIR callers get the same facts as JSON); '' for none
    #: HL7 v2 enhanced mode: MSA-1 of the accept ACK (CA, CE, CR; ``ack`` is the application's answer)
    accept: str = ""
    #: what became of its application ACK (``inbound_messages.app_ack``): queued, not sendable, '' for none
    app_ack: str = ""


def _request(order: OrderRequest) -> StudyRequest:
    """The study the order asks for, checked; a refused value is named by the message field it was read
    from (ERR-2: OBR-31 or the second DG1, not always DG1-3; OBR-16, not always ORC-12)."""
    try:
        return _checked(order)
    except InputError as error:
        code = unknown_indication(order.indications) if error.field == "indication" else None
        where = order.field_of(error.field, code)
        if where is None:
            raise
        raise InputError(where, error.reason, error.source) from None


def _checked(order: OrderRequest) -> StudyRequest:
    return check_request(
        StudyRequest(
            patient_id=order.patient.id,
            name=order.patient.display,
            birth_date=order.patient.birth_date,
            sex=order.patient.sex,
            service=Service(order.service),
            ordering_npi=order.ordering.npi or "",
            indications=order.indications,
            duration_days=order.duration_days,
            ordering_name=order.ordering.display or None,
            placer_order_number=order.placer_order_number,
            priority=order.priority,
            patient_issuer=order.patient.id_issuer,
        )
    )


def _patient_conflict(session: Session, request: StudyRequest) -> str | None:
    patient = session.scalar(select(Patient).where(Patient.external_id == request.patient_id))
    if patient is None or not differing("hl7", (patient.name, str(patient.birth_date), patient.sex),
                                        (request.name, str(request.birth_date), request.sex)):
        return None
    return (
        f"patient {request.patient_id} exists as {patient.name}, born {patient.birth_date}, "
        f"sex {patient.sex}; the order says {request.name}, born {request.birth_date}, "
        f"sex {request.sex}: held for review, not merged"
    )


def _open_order(session: Session, placer: str) -> tuple[Order, Study] | None:
    row = session.execute(
        select(Order, Study)
        .join(Study, Study.order_id == Order.id)
        .where(Order.placer_order_number == placer, Order.cancelled_at.is_(None))
        .order_by(Order.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


#: What a refused control would have done to the order, for its AE (the others change it).
_VERBS = {OrderControl.CANCEL: "cancelled", OrderControl.HOLD: "put on hold",
          OrderControl.RELEASE: "released"}


def _apply(
    session: Session, order: OrderRequest, actor: str, sender: str | None
) -> tuple[str, int | None, str]:
    """(status, study id, reason) of acting on a checked order inside the caller's transaction; a new order
    keeps its HL7 v2 ``sender`` (MSH-3^MSH-4), whose targets alone take its results."""
    request = _request(order)
    on_record = session.scalar(select(Patient).where(Patient.external_id == request.patient_id))
    check_issuer(on_record, order.patient.id_issuer, field_of(order, "patient"), order.source)
    conflict = _patient_conflict(session, request)
    if conflict:
        return HELD, None, conflict
    existing = _open_order(session, order.placer_order_number)
    control = order.control
    if control is OrderControl.ACTIVE:  # FHIR: the order as it stands, new or changed
        control = OrderControl.NEW if existing is None else OrderControl.CHANGE
    if control is OrderControl.NEW:
        if existing is not None:  # the same order again (a lost ACK) or another one under its number
            return resent(session, order, request, *existing)
        study_id = add_study(session, request, actor)
        study_row = session.get(Study, study_id)
        assert study_row is not None
        created = session.get(Order, study_row.order_id)
        assert created is not None
        created.sender = sender
        return ACCEPTED, study_id, "order created"
    if existing is None:
        return REFUSED, None, f"no open order with placer number {order.placer_order_number}"
    row, study = existing
    check_patient(session, order, study)
    if study.status != StudyStatus.ORDERED.value:
        verb = _VERBS.get(control, "changed")
        return (
            REFUSED,
            study.id,
            f"study {study.id} is already {study.status}: the order can no longer be {verb}",
        )
    held = row.held_at is not None
    before = {
        "indications": json.loads(row.indications_json),
        "duration_days": row.duration_days,
        "ordering_npi": row.ordering_npi,
        "priority": row.priority,
        "cancelled": False,
        "held": held,
    }
    if control is OrderControl.CANCEL:
        row.cancelled_at = now()
        append(session, actor, "order:cancel", "study", study.id, before, {**before, "cancelled": True})
        return ACCEPTED, study.id, "order cancelled"
    if control in (OrderControl.HOLD, OrderControl.RELEASE):
        # a hold changes nothing of the order but whether it is worked; what it says is read when it is
        # active again (an on-hold ServiceRequest was applied as a change, and the study stayed workable)
        row.held_at = (row.held_at or now()) if control is OrderControl.HOLD else None
        after = {**before, "held": control is OrderControl.HOLD}
        append(session, actor, f"order:{control.name.lower()}", "study", study.id, before, after)
        if control is OrderControl.HOLD:
            return ACCEPTED, study.id, "order on hold: its study takes no recording until it is released"
        return ACCEPTED, study.id, "order released" if held else "order released (it was not on hold)"
    if row.service != request.service.value:
        # named by its field, as a resend of the number with another test is (an AE without ERR-2 before)
        raise InputError(field_of(order, "service"), f"an order cannot change its service ({row.service} -> "
                         f"{request.service.value}): cancel it and order anew", order.source)
    release = order.control is OrderControl.ACTIVE and held  # active again: the hold is over
    if release:
        row.held_at = None
    row.indications_json = json.dumps(list(request.indications))
    row.duration_days, row.ordering_npi, row.ordering_name, row.priority = (
        request.duration_days,
        request.ordering_npi,
        request.ordering_name,
        request.priority.value,
    )
    append(
        session,
        actor,
        "order:change",
        "study",
        study.id,
        before,
        {
            "indications": list(request.indications),
            "duration_days": request.duration_days,
            "ordering_npi": request.ordering_npi,
            "priority": request.priority.value,
            "cancelled": False,
            "held": held and not release,
        },
    )
    return ACCEPTED, study.id, "order changed and released from hold" if release else "order changed"


def _previous(session: Session, message_id: str) -> InboundMessage | None:
    return session.scalar(select(InboundMessage).where(InboundMessage.message_id == message_id))


def receive_order(store: Store, payload: str, source: str, actor: str) -> OrderOutcome:
    """Handle one HL7 v2 message or FHIR JSON document; never raises for bad content (the ACK says why).
    The ACK of a v2 message is addressed to its sender (MSH-5/MSH-6 from its MSH-3/MSH-4); one in enhanced
    mode (MSH-15/MSH-16) is answered by an accept ACK, if asked for, and its application ACK is queued
    (:mod:`ecgdesk.workflow.interop_acks`)."""
    outcome = _receive(store, payload, source, actor)
    if _is_json(payload):
        return outcome
    sender = hl7v2.message_sender(payload)
    if any(sender):
        outcome = replace(outcome, ack_text=hl7v2.build_ack(outcome.ack, outcome.message_type, sender))
    return accept_answer(outcome, payload, sender)


def _is_json(payload: str) -> bool:
    """A FHIR JSON body (an object; an array is JSON too, refused as such) rather than an HL7 v2 message."""
    text = payload.lstrip("\ufeff \t\r\n")
    return text.startswith(("{", "[")) or bool(fhir_checks.UTF16_JSON.match(payload))


def _sender_of(payload: str) -> str | None:
    """The MSH-3^MSH-4 an order's results are routed by (None without MSH-3). Cut to the column: a longer
    one matches no target's senders (at most 64 characters each), so its results still go to no other EHR."""
    application, facility = hl7v2.message_sender(payload)
    return sender_key(application, facility)[:200] if application else None


def _receive(store: Store, payload: str, source: str, actor: str) -> OrderOutcome:
    kind = "fhir" if _is_json(payload) else "hl7"
    digest = hashlib.sha256(payload.encode("utf-8", "replace")).hexdigest()
    message_type, control = ("ServiceRequest", f"fhir:{digest[:32]}") if kind == "fhir" else ("", "")
    try:
        order: OrderRequest | PatientUpdate
        if kind == "hl7":
            message_type, control = hl7v2.message_header(payload, source)
            if hl7v2.is_patient_message(message_type):
                order = hl7v2_adt.parse_patient_message(payload, source)
            else:
                order = hl7v2.parse_order(payload, source)
        else:
            fhir_checks.refuse_utf16(payload, source)  # it was answered as an HL7 v2 message in UTF-16
            # depth, NaN, huge numbers and a key twice in one object too
            document = jsonfile.loads(payload.lstrip("\ufeff"), "json", source, unique_keys=True)
            if fhir_patient.is_patient_document(document):  # FHIR's ADT^A08: the Patient as it now stands
                message_type, order = "Patient", fhir_patient.parse_patient(document, source)
            else:
                order = fhir.parse_service_request(document, source)
            control = order.message_id
    except InputError as error:
        # the header says this receiver does not take the message at all: reject (AR), else an error (AE)
        refused = error.field in hl7v2.REJECTING_FIELDS
        return _record(
            store,
            kind,
            control or f"unparsed:{digest[:32]}",
            message_type,
            source,
            digest,
            None,
            REFUSED,
            "AR" if refused else "AE",
            str(error),
            None,
            hl7v2.REJECTING_FIELDS[error.field] if refused else _code(error),
            _location(kind, error),
            payload,
        )
    sender = _sender_of(payload) if kind == "hl7" else None
    for attempt in range(3):
        try:
            with store.transaction() as session:
                previous = _previous(session, control)
                if previous is not None:
                    return _outcome(previous, message_type, duplicate=True, digest=digest)
                if isinstance(order, PatientUpdate):
                    status, study_id, reason = apply_patient_message(session, order, actor)
                    placer, what, action = None, f"ADT^{order.event.value}", "patient"
                else:
                    status, study_id, reason = _apply(session, order, actor, sender)
                    placer, what, action = order.placer_order_number, order.control.value, "order"
                code = "AA" if status in (ACCEPTED, DUPLICATE) else "AE"
                row = _insert(session, kind, control, source, digest, placer, status, code, reason, study_id)
                ack = hl7v2.AckResult(code, control, answer_of(kind, status, reason))
                queue_application_ack(session, row, payload, ack, message_type, actor)
                app_ack = row.app_ack or ""
                append(
                    session,
                    actor,
                    f"interop:{action}-{status}",
                    "inbound_message",
                    row.id,
                    None,
                    {
                        "message_id": control,
                        "placer": placer,
                        "control": what,
                        "study_id": study_id,
                        "reason": reason,
                        "source": source,
                    },
                )
            break
        except InputError as error:
            return _record(
                store,
                kind,
                control,
                message_type,
                source,
                digest,
                order.placer_order_number if isinstance(order, OrderRequest) else None,
                REFUSED,
                "AE",
                str(error),
                None,
                _code(error),
                _location(kind, error),
                payload,
            )
        except IntegrityError:
            # Another process handled this control id, or created the same patient, at this instant
            # (PostgreSQL runs such transactions side by side): answer the first, or try again.
            with store.transaction() as session:
                previous = _previous(session, control)
                if previous is not None:
                    return _outcome(previous, message_type, duplicate=True, digest=digest)
            if attempt == 2:
                raise
    return OrderOutcome(ack, status, study_id, message_type, hl7v2.build_ack(ack, message_type), "", app_ack)


#: Where in an HL7 v2 order each value the study checks (``check_request``) usually comes from, for ERR-2 of
#: the refusals stored before orders said where they read each value (OrderRequest.read_from).
_V2_FIELDS = {
    "patient-id": "PID-3",
    "name": "PID-5",
    "birth-date": "PID-7",
    "sex": "PID-8",
    "ordering-npi": "ORC-12",
    "indication": "DG1-3",
    "duration-days": "TQ1-6",
}


def _location(kind: str, error: InputError) -> str:
    """ERR-2 of an error in an HL7 v2 message ('' for FHIR: its ACK names the element in the text)."""
    return hl7v2.error_location(_V2_FIELDS.get(error.field, error.field)) if kind == "hl7" else ""


def _code(error: InputError) -> str:
    """HL7 table 0357 for an error: 101 a required field missing, 103 a code not in its table, else 102."""
    if "missing" in error.reason or "empty" in error.reason or "needs" in error.reason:
        return "101"
    if "not an ICD-10-CM" in error.reason or "unknown" in error.reason or "NPI" in error.reason:
        return "103"
    return "102"


def _insert(
    session: Session,
    kind: str,
    control: str,
    source: str,
    digest: str,
    placer: str | None,
    status: str,
    code: str,
    reason: str,
    study_id: int | None,
) -> InboundMessage:
    row = InboundMessage(
        message_id=control[:100],
        kind=kind,
        source=source[:2000],
        payload_sha256=digest,
        placer_order_number=placer,
        status=status,
        ack_code=code,
        reason=reason,
        study_id=study_id,
        received_at=now(),
    )
    session.add(row)
    session.flush()
    return row


#: The longest refusal reason kept and answered (ERR-8, inbound_messages.reason, the audit entry)
_MAX_REASON = 1000


def _record(
    store: Store,
    kind: str,
    control: str,
    message_type: str,
    source: str,
    digest: str,
    placer: str | None,
    status: str,
    code: str,
    reason: str,
    study_id: int | None,
    error_code: str,
    location: str = "",
    payload: str = "",
) -> OrderOutcome:
    # a reason quotes what was refused: a value of megabytes would be stored, audited and answered whole
    reason = reason if len(reason) <= _MAX_REASON else f"{reason[:_MAX_REASON]}... ({len(reason)} characters)"
    ack = hl7v2.AckResult(code, control, reason, error_code, location)
    app_ack = ""
    try:
        with store.transaction() as session:
            previous = _previous(session, control)
            if previous is not None:
                return _outcome(previous, message_type, duplicate=True, digest=digest)
            row = _insert(session, kind, control, source, digest, placer, status, code, reason, study_id)
            append(
                session,
                "interface",
                f"interop:order-{status}",
                "inbound_message",
                row.id,
                None,
                {"message_id": control, "reason": reason, "source": source},
            )
            queue_application_ack(session, row, payload, ack, message_type, "interface")
            app_ack = row.app_ack or ""
    except IntegrityError:
        pass
    return OrderOutcome(ack, status, study_id, message_type, hl7v2.build_ack(ack, message_type), "", app_ack)


_STORED_ERROR = re.compile(r"(?:.*?: )?field '([^']+)': (.*)", re.DOTALL)


def _stored_error(row: InboundMessage) -> tuple[str, str]:
    """(ERR-3 code, ERR-2 location) of a refused message as its first ACK gave them, read back from the
    reason it was stored with, so that a resend is answered the same."""
    match = _STORED_ERROR.fullmatch(answer_of(row.kind, row.status, row.reason or ""))
    if row.ack_code == "AA" or match is None:
        return "207", ""
    error = InputError(match.group(1), match.group(2))
    code = hl7v2.REJECTING_FIELDS.get(error.field, "200") if row.ack_code == "AR" else _code(error)
    return code, _location(row.kind, error)


def _outcome(row: InboundMessage, message_type: str, duplicate: bool, digest: str = "") -> OrderOutcome:
    when = f"{row.received_at:%Y-%m-%d %H:%M}"
    if duplicate and digest and digest != row.payload_sha256:
        # the same control id on a different message: a sender's error, never the first one's answer
        # (an accepted order must not hide a changed one, nor a refused one an order that is valid)
        reason = (f"field 'MSH-10': control id {row.message_id!r} was already used by a different message "
                  f"received {when}; not applied (send it with a new control id)")
        ack = hl7v2.AckResult("AE", row.message_id, reason, "205")
        return OrderOutcome(ack, "refused", None, message_type, hl7v2.build_ack(ack, message_type))
    answer = answer_of(row.kind, row.status, row.reason)  # a held one's without the patient on record
    reason = f"duplicate of message {row.message_id} received {when}: {answer}"
    code, location = _stored_error(row)
    ack = hl7v2.AckResult(row.ack_code, row.message_id, reason if duplicate else answer, code, location)
    return OrderOutcome(
        ack,
        "duplicate" if duplicate else row.status,
        row.study_id,
        message_type,
        hl7v2.build_ack(ack, message_type),
    )


@dataclass(frozen=True)
class InboundInfo:
    message_id: str
    kind: str
    status: str
    ack_code: str
    reason: str
    study_id: int | None
    received_at: str
    #: for a held message, the patient as an update (ADT^A08/A31) recorded them since; '' when none came
    patient_now: str = ""
    #: enhanced acknowledgement mode: the application ACK queued (and where) or not sendable; '' for none
    app_ack: str = ""


def list_inbound(store: Store, status: str | None = None, actor: str | None = None) -> list[InboundInfo]:
    """Inbound messages, newest first (``held`` ones are the work list of whoever resolves patients).

    A held message's reason names the patient as stored and as ordered (name, birth date, sex), so with
    ``actor`` the listing is audited as a read of patient data (``read:inbound``: the status asked for, the
    number of messages and their control ids); internal callers pass no actor."""
    with store.transaction() as session:
        query = select(InboundMessage).order_by(InboundMessage.id.desc())
        if status is not None:
            query = query.where(InboundMessage.status == status)
        rows = [
            InboundInfo(
                m.message_id, m.kind, m.status, m.ack_code, m.reason, m.study_id, m.received_at.isoformat(),
                patient_now(session, m.reason, m.received_at) if m.status == HELD else "",
                m.app_ack or "",
            )
            for m in session.scalars(query)
        ]
        if actor is not None:
            detail = {"status": status, "rows": len(rows), "message_ids": [m.message_id for m in rows]}
            audit_read(session, actor, "inbound", "inbound", "*", detail)
        return rows


#: the refused messages of a batch named in its answer's text (each one's ACK names them all)
_SHOWN = 10


def receive_batch(store: Store, payload: str, source: str, actor: str) -> OrderOutcome:
    """Handle an HL7 v2 batch file (FHS/BHS ... BTS/FTS): each message as :func:`receive_order` handles it
    alone, answered together by a batch of their ACKs. A batch cut short or joined (trailer count, missing
    trailer) is refused whole with one AE, before any message is acted on. The outcome's ACK is AA when every
    message was accepted, else AE, with the counts."""
    digest = hashlib.sha256(payload.encode("utf-8", "replace")).hexdigest()
    try:
        batch = hl7v2_batch.read_batch(payload, source)
    except InputError as error:
        return _record(store, "hl7", f"batch:{digest[:32]}", "BHS", source, digest, None, REFUSED, "AE",
                       str(error), None, _code(error), hl7v2.error_location(error.field))
    outcomes = [receive_order(store, message, f"{source} (message {n})", actor)
                for n, message in enumerate(batch.messages, start=1)]
    accepted = sum(outcome.ack.code == "AA" for outcome in outcomes)
    # which ones and why, here too: over HTTP a refusal is a 422 whose message is this text, and no ACK
    not_taken = [f"message {n} ({o.ack.control_id or 'no MSH-10'}): {o.ack.code} {o.ack.text}"
                 for n, o in enumerate(outcomes, start=1) if o.ack.code != "AA"]
    more = len(not_taken) - _SHOWN
    shown = "; ".join(not_taken[:_SHOWN]) + (f"; and {more} more" if more > 0 else "")
    reason = (f"batch {batch.reference or '-'}: {len(outcomes)} message(s), {accepted} accepted, "
              f"{len(outcomes) - accepted} not" + (f": {shown}" if not_taken else ""))
    code = "AA" if accepted == len(outcomes) else "AE"
    ack = hl7v2.AckResult(code, batch.reference, reason)
    # a message in enhanced mode whose MSH-15 wants no accept ACK has none in the answer
    ack_text = hl7v2_batch.build_batch_ack(batch, [o.ack_text for o in outcomes if o.ack_text])
    return OrderOutcome(ack, ACCEPTED if code == "AA" else REFUSED, None, "BHS", ack_text)


def receive_message(store: Store, payload: str, source: str, actor: str) -> OrderOutcome:
    """One order message (:func:`receive_order`) or an HL7 v2 batch file of them (:func:`receive_batch`)."""
    if hl7v2_batch.is_batch(payload):
        return receive_batch(store, payload, source, actor)
    return receive_order(store, payload, source, actor)
