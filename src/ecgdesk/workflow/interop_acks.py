"""HL7 v2 enhanced acknowledgement mode (v2.5 chapter 2.9.3) for orders and ADT in.

A sender that values MSH-15/MSH-16 asks for two answers: the accept ACK (CA/CE/CR) on the same connection,
file or HTTP exchange, once the message is in safe storage, and the application ACK (AA/AE/AR) as a message
of its own, later. The application ACK is queued in the transaction that stores the message, on the outbox
that already takes signed results back to the EHR, so it is sent, retried and audited as results are and
cannot be lost between the two. It goes back to its sender only: to each enabled MLLP or folder target taking
``hl7`` that names the message's MSH-3^MSH-4 among its senders (:mod:`ecgdesk.interop.senders`). It went
to every HL7 target, so on a site with two EHRs each received the other's acknowledgements, and with them
which orders the other placed. Where no target belongs to the sender it is recorded as not sendable, naming
the sender (``inbound_messages.app_ack``, the audit log, ``interop inbound``). Original mode (neither field
valued) is answered as before, with one ACK.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.interop import hl7v2
from ecgdesk.interop.hl7v2_ack import AckModes, ack_modes, commit_code
from ecgdesk.interop.senders import addressee, describe, misaddressed, sender_key, sender_parts, stored
from ecgdesk.store import Store, append
from ecgdesk.store.interop_models import DeliveryTarget, InboundMessage, OutboxItem
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.app_settings import late_ack_hours
from ecgdesk.workflow.interop_holds import answer_of
from ecgdesk.workflow.interop_results import DeliveryInfo, OutboxStatus, TargetKind, delivery_info
from ecgdesk.workflow.lifecycle import now

if TYPE_CHECKING:
    from ecgdesk.workflow.interop_orders import OrderOutcome

#: OutboxItem.format of an application acknowledgement (not a result format a target is set up with)
APP_ACK_FORMAT = "ack"
#: MSH-15/MSH-16 of our application ACK: the EHR answers it with an accept ACK (what the outbox's MLLP
#: send waits for), never with an application ACK of an acknowledgement
_APP_ACK_TYPES = "AL|NE"


def not_sendable(sender: tuple[str, str]) -> str:
    """Why the application ACK to ``sender`` (MSH-3, MSH-4) cannot be sent, and what sets it right."""
    return (f"not sendable: no enabled HL7 v2 delivery target belongs to sender {describe(*sender)} "
            "(MSH-3^MSH-4; give its EHR's MLLP or folder target taking hl7 that sender: "
            f"ecgdesk interop target senders NAME {sender_key(*sender) if sender[0] else 'APP^FACILITY'})")


def _targets(session: Session, sender: tuple[str, str]) -> list[DeliveryTarget]:
    """Where the application ACK to ``sender`` goes: the HL7 v2 targets (a FHIR server takes no v2 ACK) of
    that sender's EHR, none of another's."""
    key = sender_key(*sender)
    query = select(DeliveryTarget).where(DeliveryTarget.enabled.is_(True)).order_by(DeliveryTarget.id)
    return [target for target in session.scalars(query)
            if target.kind in (TargetKind.MLLP, TargetKind.FOLDER) and "hl7" in target.formats.split(",")
            and key in stored(target.senders)]


def queue_application_ack(
    session: Session, row: InboundMessage, payload: str, ack: hl7v2.AckResult, message_type: str, actor: str
) -> None:
    """In the transaction that stores ``row``: queue the application ACK ``ack`` of an enhanced-mode v2
    message when its MSH-16 asks for it, or record that it cannot be sent. A message the header rules out
    (AR: a commit reject) is answered by its accept ACK alone: it was not taken for processing."""
    modes = ack_modes(payload)
    if modes is None or ack.code == "AR" or not modes.application.wants(ack.code == "AA"):
        return
    sender = hl7v2.message_sender(payload)
    targets = _targets(session, sender)
    detail = {"message_id": row.message_id, "code": ack.code, "msh_16": modes.application.value,
              "sender": describe(*sender), "message_type": message_type}
    if not targets:
        row.app_ack = not_sendable(sender)
        append(session, actor, "interop:app-ack-unsendable", "inbound_message", row.id, None, detail)
        return
    _queue(session, row, ack, message_type, sender, targets)
    names = [target.name for target in targets]
    row.app_ack = f"{ack.code} queued for {', '.join(names)}"
    append(session, actor, "interop:app-ack-queued", "inbound_message", row.id, None,
           {**detail, "targets": names})


def _queue(session: Session, row: InboundMessage, ack: hl7v2.AckResult, message_type: str,
           sender: tuple[str, str], targets: list[DeliveryTarget]) -> None:
    """The application ACK ``ack`` of ``row`` queued for each of ``targets``, with a control id of its own
    per target."""
    stamp = now()
    for target in targets:
        digest = hashlib.sha256(f"app-ack:{row.id}:{target.id}".encode()).hexdigest()[:20].upper()
        control = f"ECGDESK-A{digest}"
        session.add(
            OutboxItem(
                target_id=target.id,
                study_id=None,
                report_version_id=None,
                format=APP_ACK_FORMAT,
                corrected=False,
                message_id=control,
                status=OutboxStatus.PENDING.value,
                attempts=0,
                next_attempt_at=stamp,
                created_at=stamp,
                payload=hl7v2.build_ack(ack, message_type, sender, control, _APP_ACK_TYPES),
                inbound_message_id=row.id,
            )
        )


def _type_of(session: Session, row: InboundMessage) -> str:
    """The message type of an inbound message recorded before its ``app-ack-unsendable`` entry named it:
    an ADT's from its audit entry, an order's left to the ACK's default trigger (O01)."""
    entries = session.scalars(select(AuditEntry.after_json).where(
        AuditEntry.entity == "inbound_message", AuditEntry.entity_id == str(row.id),
        AuditEntry.action.like("interop:patient-%")))
    return next((str(json.loads(after).get("control") or "") for after in entries), "")


def queue_unsent_acks(session: Session, target: DeliveryTarget, actor: str, why: str) -> list[str]:
    """Once ``target`` takes application ACKs it did not (enabled, or given senders): queue for it those
    recorded not sendable to a sender it names, of messages received within the late ACK window
    (:data:`~ecgdesk.workflow.app_settings.LATE_ACK_HOURS`); the message ids. ``why`` (the audit detail's
    key): ``missed_while_disabled`` or ``sender_added``. Until 2026-12-08 they stayed unsent for good (the
    results signed meanwhile were queued), and the EHR waited for them; then only those recorded while the
    target was disabled went, on enabling it, however old, and none once a target was given their sender."""
    hours = late_ack_hours(session)
    if not target.enabled or hours == 0:
        return []
    if target.kind not in (TargetKind.MLLP, TargetKind.FOLDER) or "hl7" not in target.formats.split(","):
        return []
    rows = session.scalars(select(InboundMessage).where(
        InboundMessage.app_ack.like("not sendable%"),
        InboundMessage.received_at >= now() - timedelta(hours=hours))
        .order_by(InboundMessage.id))
    queued = []
    for row in rows:
        after = session.scalars(select(AuditEntry.after_json).where(
            AuditEntry.action == "interop:app-ack-unsendable", AuditEntry.entity == "inbound_message",
            AuditEntry.entity_id == str(row.id)).order_by(AuditEntry.seq.desc())).first()
        detail = json.loads(after) if after else {}
        key = str(detail.get("sender") or "")
        if key not in stored(target.senders):  # another EHR's, or no sender at all
            continue
        sender = sender_parts(key)
        message_type = str(detail.get("message_type") or _type_of(session, row))
        ack = hl7v2.AckResult(row.ack_code, row.message_id, answer_of(row.kind, row.status, row.reason))
        _queue(session, row, ack, message_type, sender, [target])
        row.app_ack = f"{row.ack_code} queued for {target.name}"
        append(session, actor, "interop:app-ack-queued", "inbound_message", row.id, None,
               {"message_id": row.message_id, "code": row.ack_code, "sender": key,
                "message_type": message_type, "targets": [target.name], why: True})
        queued.append(row.message_id)
    return queued


def _accept_text(outcome: OrderOutcome, modes: AckModes, commit: str) -> str:
    if commit != "CA":
        return outcome.ack.text
    if outcome.status == "duplicate" and not outcome.app_ack:  # a resend of this very message
        return "already stored (a resend); its application ACK was queued when first received"
    if outcome.app_ack.startswith("not sendable"):  # told, so the sender does not wait for it
        return "stored; no application ACK can be sent: no HL7 destination here is set up for this sender"
    if outcome.app_ack:
        return "stored; the application acknowledgement follows as a message of its own"
    return f"stored; no application acknowledgement (MSH-16 {modes.application.value})"


def accept_answer(outcome: OrderOutcome, payload: str, sender: tuple[str, str]) -> OrderOutcome:
    """``outcome`` answered as the sender's acknowledgement mode asks: unchanged in original mode; in
    enhanced mode the ACK text becomes the accept ACK (CA/CE/CR), or '' where MSH-15 wants none (nothing is
    sent back on the connection, no ACK file is written). ``outcome.ack`` keeps the application's answer
    (the HTTP status, the folder's done/refused and the command's exit status follow it)."""
    modes = ack_modes(payload)
    if modes is None:
        return outcome
    commit = commit_code(outcome.ack.code, outcome.ack.error)
    if not modes.accept.wants(commit == "CA"):
        return replace(outcome, ack_text="", accept=commit)
    accept = replace(outcome.ack, code=commit, text=_accept_text(outcome, modes, commit))
    return replace(outcome, ack_text=hl7v2.build_ack(accept, outcome.message_type, sender), accept=commit)


def misaddressed_acks(store: Store, actor: str, cancel: bool = False) -> list[DeliveryInfo]:
    """The application ACKs waiting to go (pending or failed) to a target that does not name their
    addressee, each with the reason, oldest first; with ``cancel`` they are cancelled, each audited
    ``interop:cancelled``. What an administrator runs on upgrading past migration 0022: the older version
    queued every application ACK for every HL7 target, another EHR's included (the deliverer sends none of
    them either way: it cancels each as it comes due)."""
    waiting = (OutboxStatus.PENDING.value, OutboxStatus.FAILED.value)
    with store.transaction() as session:
        query = (
            select(OutboxItem, DeliveryTarget)
            .join(DeliveryTarget, OutboxItem.target_id == DeliveryTarget.id)
            .where(OutboxItem.payload.is_not(None), OutboxItem.status.in_(waiting))
            .order_by(OutboxItem.id)
        )
        found = []
        for item, target in session.execute(query.with_for_update(of=OutboxItem) if cancel else query).all():
            reason = misaddressed(item.payload or "", target.name, target.senders)
            if reason is None:
                continue
            if cancel:
                detail = {"outbox_id": item.id, "target": target.name, "format": item.format,
                          "message_id": item.message_id, "sender": addressee(item.payload or ""),
                          "error": reason}
                append(session, actor, "interop:cancelled", "inbound_message", item.inbound_message_id,
                       {"status": item.status}, detail)
                item.status, item.last_error = OutboxStatus.CANCELLED.value, reason
            found.append(replace(delivery_info(item, target), last_error=reason))
        return found
