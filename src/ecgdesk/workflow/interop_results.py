"""Signed results out: a signed study as HL7 v2, FHIR and DICOM, and the outbox that delivers it.

Signing (and each signed addendum) queues one outbox item per enabled delivery target and format, in the
signing transaction, so a result is never lost between the signature and the send; a target that belongs to
another EHR than the order's sender (``DeliveryTarget.senders``, ``Order.sender``) is left out.
``deliver_due`` claims due items (a lease, so two processes never send one item at once), builds each
message from the signed, immutable report version, sends it and records the outcome; a failure is retried
with a growing delay until the target's ``max_attempts``, then shown as failed. Every export and every send
is in the audit log.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ecgdesk.errors import EcgDeskError, InputError, check_option, is_digits
from ecgdesk.interop import dicom, fhir, fhir_server, hl7v2, mllp
from ecgdesk.interop.model import (
    SignedResult,
)
from ecgdesk.interop.senders import addressee, misaddressed, parse_senders, sender_parts, stored
from ecgdesk.store import Store, append
from ecgdesk.store.interop_models import DeliveryTarget, OutboxItem
from ecgdesk.store.models import (
    Order,
    RecordingBlob,
    ReportVersion,
    Study,
)
from ecgdesk.workflow.interop_signed import signed_result
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.studies import get_study, open_study_recording


class TargetKind(enum.StrEnum):
    FOLDER = "folder"
    MLLP = "mllp"
    FHIR = "fhir"


class ExportFormat(enum.StrEnum):
    HL7 = "hl7"
    FHIR = "fhir"
    DICOM = "dicom"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # never to be sent (an application ACK for a target not its sender's)


LEASE = timedelta(minutes=5)
SUFFIX = {ExportFormat.HL7: ".hl7", ExportFormat.FHIR: ".json", ExportFormat.DICOM: ".dcm"}


@dataclass(frozen=True)
class TargetInfo:
    name: str
    kind: str
    address: str
    formats: tuple[str, ...]
    enabled: bool
    max_attempts: int
    #: the HL7 v2 senders (APP^FACILITY) whose EHR this is: their application ACKs come here
    senders: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetAcks:
    """A target added or given senders, and the inbound messages (control ids) whose application ACK, not
    sendable before, it now takes."""

    target: TargetInfo
    acks: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeliveryInfo:
    id: int
    study_id: int | None  # None: an application acknowledgement (HL7 v2 enhanced mode), no result
    target: str
    format: str
    status: str
    attempts: int
    corrected: bool
    last_error: str | None
    next_attempt_at: str
    sent_at: str | None


def _twelve_lead(store: Store, session: Session, result: SignedResult) -> bytes | None:
    """The DICOM 12-lead waveform of a resting ECG study (None for other services)."""
    if result.service != "resting_ecg":
        return None
    study = get_study(session, result.study_id)
    row = session.get(RecordingBlob, study.recording_id) if study.recording_id else None
    if row is None:
        return None
    recording = open_study_recording(store, row)
    data = recording.read(0, recording.n_samples)
    waveform = dicom.Waveform(
        recording.fs, dicom.lead_names([lead.name for lead in recording.leads]), data, recording.start_time
    )
    return dicom.twelve_lead_ecg(result.patient, result.uid_seed, waveform, source=str(recording.path))


def render(
    store: Store, session: Session, result: SignedResult, fmt: ExportFormat, control_id: str,
    receiver: tuple[str, str] = ("", ""),
) -> list[tuple[str, bytes]]:
    """The files of one result in one format: (suffix, bytes), the DICOM waveform beside the PDF object;
    an ORU is addressed to ``receiver`` (MSH-5/MSH-6)."""
    if fmt is ExportFormat.HL7:
        return [(".hl7", hl7v2.build_oru(result, control_id, receiver).encode("utf-8"))]
    if fmt is ExportFormat.FHIR:
        return [(".json", json.dumps(fhir.build_bundle(result), indent=1).encode("utf-8"))]
    files = [(".dcm", dicom.encapsulated_pdf(result))]
    waveform = _twelve_lead(store, session, result)
    if waveform is not None:
        files.append(("-ecg.dcm", waveform))
    return files


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def result_files(store: Store, study_id: int, fmt: str, actor: str) -> tuple[int, list[tuple[str, bytes]]]:
    """(report version, [(suffix, bytes)]) of a signed study's result in one format, the read audited."""
    kind = ExportFormat(check_option("as", fmt, [f.value for f in ExportFormat]))
    with store.transaction() as session:
        result = signed_result(store, session, study_id)
        files = render(store, session, result, kind, f"ECGDESK-{study_id}-{result.report_version}-export")
        append(
            session,
            actor,
            "interop:export",
            "study",
            study_id,
            None,
            {"format": kind.value, "version": result.report_version, "files": [s for s, _ in files]},
        )
    return result.report_version, files


def export_study(store: Store, study_id: int, fmt: str, out: Path, actor: str) -> list[Path]:
    """Write a signed study's result as ``hl7``, ``fhir`` or ``dicom`` to ``out`` (a file, or a folder)."""
    version, files = result_files(store, study_id, fmt, actor)
    if out.is_dir() or str(out).endswith(os.sep):
        base = out / f"study-{study_id}-v{version}"
        paths = [base.with_name(base.name + suffix) for suffix, _ in files]
    else:
        paths = [out] + [out.with_name(out.stem + suffix) for suffix, _ in files[1:]]
    for path, (_, data) in zip(paths, files, strict=True):
        _write_atomic(path, data)
    return paths


def add_target(
    store: Store, name: str, kind: str, address: str, formats: list[str], actor: str, max_attempts: int = 8,
    senders: list[str] | None = None,
) -> TargetAcks:
    """Register a delivery target; the address is checked for its kind, ``senders`` (``APP^FACILITY``,
    the EHR it belongs to) as :func:`ecgdesk.interop.senders.parse_sender` reads them; with the application
    ACKs to those senders it was queued."""
    kind = check_option("kind", kind, [k.value for k in TargetKind])
    belongs = parse_senders(senders or [])
    for fmt in formats:
        check_option("formats", fmt, [f.value for f in ExportFormat])
    if not formats:
        raise InputError("formats", "name at least one of hl7, fhir, dicom")
    if kind == TargetKind.MLLP and not _host_port(address):
        raise InputError("address", f"an MLLP target is host:port, got {address!r}")
    if kind == TargetKind.FHIR and not address.startswith(("http://", "https://")):
        raise InputError("address", f"a FHIR target is a base URL (http:// or https://), got {address!r}")
    # a FHIR server takes FHIR JSON and an MLLP peer HL7 v2 text: anything else was sent to them under the
    # wrong label (an ORU POSTed as application/fhir+json, a DICOM file framed as HL7), and never delivered
    only = {TargetKind.FHIR: ExportFormat.FHIR, TargetKind.MLLP: ExportFormat.HL7}.get(TargetKind(kind))
    if only is not None and set(formats) != {only.value}:
        raise InputError("formats", f"a {kind} target takes the {only} format only, got {','.join(formats)}")
    if not 1 <= max_attempts <= 100:
        raise InputError("max-attempts", f"must be 1-100, got {max_attempts}")
    with store.transaction() as session:
        if session.scalar(select(DeliveryTarget).where(DeliveryTarget.name == name)) is not None:
            raise InputError("name", f"a delivery target {name!r} exists already")
        target = DeliveryTarget(
            name=name,
            kind=kind,
            address=address,
            formats=",".join(formats),
            enabled=True,
            max_attempts=max_attempts,
            senders=",".join(belongs),
            created_at=now(),
        )
        session.add(target)
        session.flush()
        # imported here: interop_acks builds on this module (its targets, outbox statuses)
        from ecgdesk.workflow.interop_acks import queue_unsent_acks

        # the application ACKs recorded not sendable before its EHR's target existed: sent as a
        # sender's new target sends them (until 2026-12-08 they stayed not sendable for good)
        acks = queue_unsent_acks(session, target, actor, "sender_added") if belongs else []
        after = {"name": name, "kind": kind, "address": address, "formats": formats, "senders": list(belongs)}
        if acks:
            after["application_acks"] = acks
        append(session, actor, "interop:target-add", "delivery_target", target.id, None, after)
        return TargetAcks(target_info(target), tuple(acks))


def target_info(target: DeliveryTarget) -> TargetInfo:
    return TargetInfo(
        target.name,
        target.kind,
        target.address,
        tuple(target.formats.split(",")),
        target.enabled,
        target.max_attempts,
        stored(target.senders),
    )


def list_targets(store: Store) -> list[TargetInfo]:
    with store.transaction() as session:
        return [target_info(t) for t in session.scalars(select(DeliveryTarget).order_by(DeliveryTarget.id))]


def _host_port(address: str) -> tuple[str, int] | None:
    host, _, port = address.rpartition(":")
    return (host, int(port)) if host and is_digits(port) and 0 < int(port) < 65536 else None


def takes_results_of(target: DeliveryTarget, sender: str | None) -> bool:
    """Whether ``target`` takes the results of an order from ``sender`` (its MSH-3^MSH-4; None: ordered here
    or by FHIR): a target that names senders takes their orders' results only."""
    belongs = stored(target.senders)
    return sender is None or not belongs or sender in belongs


def queue_for(session: Session, target: DeliveryTarget, study_id: int, version_id: int, corrected: bool,
              stamp: datetime) -> int:
    """Queue one signed version for ``target`` in each of its formats it has no item of yet (a message id
    is the same whenever the item is queued); the number queued."""
    count = 0
    for fmt in target.formats.split(","):
        key = f"{study_id}:{version_id}:{target.id}:{fmt}"
        message_id = "ECGDESK-" + hashlib.sha256(key.encode()).hexdigest()[:20].upper()
        if session.scalar(select(OutboxItem.id).where(OutboxItem.message_id == message_id)) is not None:
            continue
        session.add(
            OutboxItem(
                target_id=target.id,
                study_id=study_id,
                report_version_id=version_id,
                format=fmt,
                corrected=corrected,
                message_id=message_id,
                status=OutboxStatus.PENDING.value,
                attempts=0,
                next_attempt_at=stamp,
                created_at=stamp,
            )
        )
        count += 1
    return count


def queue_results(session: Session, study: Study, version: ReportVersion, actor: str, corrected: bool) -> int:
    """Queue the signed version for every enabled target and format (called in the signing transaction),
    except the targets of other EHRs: a target that names senders takes the results of their orders only."""
    stamp = now()
    count = 0
    order = session.get(Order, study.order_id)
    sender = order.sender if order is not None else None
    withheld: list[str] = []
    for target in session.scalars(select(DeliveryTarget).where(DeliveryTarget.enabled.is_(True))):
        if not takes_results_of(target, sender):
            withheld.append(target.name)  # another EHR's: it must not learn of this sender's patients
            continue
        count += queue_for(session, target, study.id, version.id, corrected, stamp)
    if count or withheld:
        detail = {"version": version.version, "items": count, "corrected": corrected}
        extra = {"sender": sender, "withheld_from": withheld} if withheld else {}
        append(session, actor, "interop:queue", "study", study.id, None, {**detail, **extra})
    return count


Sender = Callable[[DeliveryTarget, OutboxItem, list[tuple[str, bytes]]], str]


def _send(target: DeliveryTarget, item: OutboxItem, files: list[tuple[str, bytes]]) -> str:
    """Deliver the files of one item to its target; the receipt (ACK, HTTP status, paths) on success."""
    if target.kind == TargetKind.FOLDER:
        paths = []
        for suffix, data in files:
            path = Path(target.address) / f"{item.message_id}{suffix}"
            _write_atomic(path, data)
            paths.append(str(path))
        return "written " + ", ".join(paths)
    if target.kind == TargetKind.MLLP:
        if item.payload is None and item.format != ExportFormat.HL7:  # as for FHIR below
            raise mllp.DeliveryError(f"an MLLP target takes the hl7 format only, not {item.format}: remove "
                                     "the target and add it again with --formats hl7")
        address = _host_port(target.address)
        assert address is not None
        text = files[0][1].decode("utf-8")
        ack = hl7v2.read_ack_of(mllp.send(address[0], address[1], text, timeout_s=30.0), text)
        if ack.code not in {"AA", "CA"}:
            raise mllp.DeliveryError(f"peer answered {ack.code}: {ack.text}")
        return f"ACK {ack.code} {ack.control_id}"
    if item.format != ExportFormat.FHIR:
        # a target added before formats were checked against its kind: the FHIR server would be sent an
        # ORU or a DICOM file labelled application/fhir+json
        raise mllp.DeliveryError(f"a FHIR target takes the fhir format only, not {item.format}: remove the "
                                 "target and add it again with --formats fhir")
    return fhir_server.post(target.address, files[0][1])


def _claim(store: Store, limit: int, retry_failed: bool) -> list[tuple[int, datetime]]:
    """Lease due items to this process (SKIP LOCKED on PostgreSQL; SQLite serialises the transaction): each
    with the end of its lease, which names the lease as this process's (:func:`_leased`)."""
    stamp = now()
    with store.transaction() as session:
        due = or_(
            OutboxItem.status == OutboxStatus.PENDING.value, OutboxItem.status == OutboxStatus.SENDING.value
        )
        if retry_failed:
            due = or_(due, OutboxItem.status == OutboxStatus.FAILED.value)
        # a disabled target's items wait for it, unsent (they were sent to it all the same)
        enabled = select(DeliveryTarget.id).where(DeliveryTarget.enabled.is_(True))
        query = (
            select(OutboxItem)
            .where(
                due, or_(OutboxItem.next_attempt_at <= stamp, OutboxItem.status == OutboxStatus.FAILED.value),
                OutboxItem.target_id.in_(enabled),
            )
            .order_by(OutboxItem.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        items = list(session.scalars(query))
        for item in items:
            if item.status == OutboxStatus.FAILED.value:
                item.attempts = 0
            item.status = OutboxStatus.SENDING.value
            item.next_attempt_at = stamp + LEASE
        return [(item.id, item.next_attempt_at) for item in items]


def _leased(session: Session, item_id: int, lease: datetime) -> OutboxItem | None:
    """The item, locked for its send, while the lease on it is still ours; None where another deliverer took
    it since (slow sends outlast a batch's lease) or it was settled: a send now would be its second."""
    return session.scalar(select(OutboxItem).where(
        OutboxItem.id == item_id, OutboxItem.status == OutboxStatus.SENDING.value,
        OutboxItem.next_attempt_at == lease).with_for_update())


def _files(store: Store, session: Session, item: OutboxItem) -> list[tuple[str, bytes]]:
    """What one item sends: its payload as built when queued (an application ACK), else the signed
    result rendered from the immutable report version."""
    if item.payload is not None:
        return [(".hl7", item.payload.encode("utf-8"))]
    assert item.study_id is not None and item.report_version_id is not None
    result = signed_result(store, session, item.study_id, item.report_version_id)
    study = get_study(session, item.study_id)
    receiver = result_receiver(session.get(Order, study.order_id))
    return render(store, session, result, ExportFormat(item.format), item.message_id, receiver)


def _built(store: Store, session: Session, item: OutboxItem) -> list[tuple[str, bytes]]:
    """:func:`_files`, where a message that cannot be built is a failed attempt of its item: a builder's
    refusal (hl7apy's, say) raised out of the deliverer before 2026-12-07, which left the item leased and
    stopped every later run at it, so the items after it were never sent."""
    try:
        return _files(store, session, item)
    except (EcgDeskError, ValueError, OSError):
        raise
    except Exception as failure:  # whatever a builder raises, the other items still go
        raise mllp.DeliveryError(f"the message could not be built ({type(failure).__name__}: "
                                 f"{str(failure)[:300]}); nothing was sent") from None


def _superseded(session: Session, item: OutboxItem) -> str | None:
    """Why a result is no longer to be sent: a later version of its report went to the same target in the
    same format while this one waited for a retry (both due at once, they go in order). That one carries
    everything this one does; sent after it, this one would replace the correction with what it corrected
    on the EHR (a FHIR server updates the report in place). None where it is still to be sent."""
    later = session.scalar(
        select(func.max(ReportVersion.version))
        .join(OutboxItem, OutboxItem.report_version_id == ReportVersion.id)
        .where(OutboxItem.study_id == item.study_id, OutboxItem.target_id == item.target_id,
               OutboxItem.format == item.format,
               OutboxItem.status == OutboxStatus.SENT.value,
               ReportVersion.version > select(ReportVersion.version)
               .where(ReportVersion.id == item.report_version_id).scalar_subquery()))
    if later is None:
        return None
    return (f"superseded: report version {later} of this study was sent to this target since, with all this "
            "version holds (sent now, it would replace the correction on the receiver); not sent")


def result_receiver(order: Order | None) -> tuple[str, str]:
    """MSH-5/MSH-6 of the ORU that answers ``order``: its sender's MSH-3/MSH-4 (unescaped; the builder
    escapes them once), so an engine that routes by them can; ('', '') for an order not made over HL7 v2."""
    return sender_parts(order.sender) if order is not None and order.sender else ("", "")


def deliver_due(
    store: Store, actor: str, retry_failed: bool = False, limit: int = 100, sender: Sender = _send
) -> list[DeliveryInfo]:
    """Send every due item once; failures are rescheduled (or failed after max attempts). Returns outcomes."""
    return deliver_claimed(store, _claim(store, limit, retry_failed), actor, sender)


def deliver_claimed(store: Store, claimed: list[tuple[int, datetime]], actor: str, sender: Sender = _send,
                    ) -> list[DeliveryInfo]:
    """Send the items this process leased (:func:`_claim`), each only while its lease is still ours."""
    outcomes = []
    for item_id, lease in claimed:
        with store.transaction() as session:
            item = _leased(session, item_id, lease)
            if item is None:
                continue
            target = session.get(DeliveryTarget, item.target_id)
            assert target is not None
            if not target.enabled:  # disabled after the claim: the item waits for it, unsent, no attempt
                item.status, item.next_attempt_at = OutboxStatus.PENDING.value, now()
                continue
            error: str | None = None
            receipt = ""
            # an application ACK only to its sender's target, wherever and whenever it was queued; a result
            # only while no later version of its report went there
            cancelled = (misaddressed(item.payload, target.name, target.senders) if item.payload
                         else _superseded(session, item))
            try:
                receipt = sender(target, item, _built(store, session, item)) if cancelled is None else ""
            except (EcgDeskError, ValueError, OSError) as failure:
                error = str(failure)
            stamp = now()
            item.attempts += cancelled is None
            if cancelled is not None:
                item.status, item.last_error, error = OutboxStatus.CANCELLED.value, cancelled, cancelled
                action = "interop:cancelled"
            elif error is None:
                item.status, item.sent_at, item.receipt, item.last_error = (
                    OutboxStatus.SENT.value,
                    stamp,
                    receipt,
                    None,
                )
                action = "interop:sent"
            else:
                item.last_error = error
                failed = item.attempts >= target.max_attempts
                item.status = (OutboxStatus.FAILED if failed else OutboxStatus.PENDING).value
                item.next_attempt_at = stamp + timedelta(minutes=min(2 ** (item.attempts - 1), 60))
                action = "interop:failed" if failed else "interop:retry"
            # an application ACK answers an inbound message: its audit row names that message
            entity = ("study", item.study_id) if item.payload is None else ("inbound_message",
                                                                             item.inbound_message_id)
            append(
                session,
                actor,
                action,
                *entity,
                None,
                {
                    "outbox_id": item.id,
                    "target": target.name,
                    "format": item.format,
                    "attempt": item.attempts,
                    "message_id": item.message_id,
                    "error": error,
                    "receipt": receipt,
                    **({"sender": addressee(item.payload)} if cancelled and item.payload else {}),
                },
            )
            outcomes.append(delivery_info(item, target))
    return outcomes


def delivery_info(item: OutboxItem, target: DeliveryTarget) -> DeliveryInfo:
    return DeliveryInfo(item.id, item.study_id, target.name, item.format, item.status, item.attempts,
                        item.corrected, item.last_error, item.next_attempt_at.isoformat(),
                        item.sent_at.isoformat() if item.sent_at else None)


def list_deliveries(store: Store, study_id: int | None = None) -> list[DeliveryInfo]:
    """The outbox, newest first (one study's deliveries when ``study_id`` is given)."""
    with store.transaction() as session:
        query = select(OutboxItem, DeliveryTarget).join(
            DeliveryTarget, OutboxItem.target_id == DeliveryTarget.id
        )
        if study_id is not None:
            query = query.where(OutboxItem.study_id == study_id)
        rows = session.execute(query.order_by(OutboxItem.id.desc())).all()
        return [delivery_info(item, target) for item, target in rows]
