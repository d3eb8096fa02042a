"""Which EHR a delivery target belongs to: the HL7 v2 senders (MSH-3^MSH-4) it is given.

A target that names a sender takes that sender's application acknowledgements (HL7 v2 enhanced mode,
:mod:`ecgdesk.workflow.interop_acks`) and the signed results of its orders, and no other EHR's
(:func:`ecgdesk.workflow.interop_results.queue_results`); a site with one EHR gives its target that EHR's
sender, a site with two gives each EHR's target its own, so neither receives the other's. Changing them is
an administrator's act (``interface:admin``, where patient data may go), audited with the senders before
and after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecgdesk.errors import InputError
from ecgdesk.interop.senders import parse_senders, stored
from ecgdesk.store import Store, append
from ecgdesk.store.interop_models import DeliveryTarget, OutboxItem
from ecgdesk.store.models import AuditEntry, Order, ReportVersion, Signature, Study
from ecgdesk.workflow.interop_acks import queue_unsent_acks
from ecgdesk.workflow.interop_results import TargetAcks, TargetInfo, queue_for, takes_results_of, target_info
from ecgdesk.workflow.lifecycle import now


def set_target_senders(store: Store, name: str, senders: list[str], actor: str) -> TargetAcks:
    """Give the target ``name`` the senders ``senders`` (``APP^FACILITY``; none: it belongs to no EHR). An
    enabled one is queued the application ACKs to those senders recorded not sendable within the late ACK
    window (:func:`~ecgdesk.workflow.interop_acks.queue_unsent_acks`), listed in the audit entry."""
    keys = parse_senders(senders)
    with store.transaction() as session:
        target = session.scalar(select(DeliveryTarget).where(DeliveryTarget.name == name))
        if target is None:
            raise InputError("name", f"no delivery target {name!r} (ecgdesk interop target list)")
        before = list(stored(target.senders))
        target.senders = ",".join(keys)
        acks = queue_unsent_acks(session, target, actor, "sender_added")
        after: dict[str, object] = {"name": name, "senders": list(keys)}
        if acks:
            after["application_acks"] = acks
        append(session, actor, "interop:target-senders", "delivery_target", target.id,
               {"name": name, "senders": before}, after)
        return TargetAcks(target_info(target), tuple(acks))


@dataclass(frozen=True)
class EnabledTarget:
    """What enabling or disabling a target did: the target, the items waiting for it, and (on enabling a
    disabled one) the results signed meanwhile now queued for it, (study, report version) each, and the
    application ACKs recorded not sendable meanwhile."""

    target: TargetInfo
    waiting: int
    caught_up: tuple[tuple[int, int], ...] = ()
    #: the inbound messages (control ids) whose application ACK, not sendable while it was off, it now takes
    acks: tuple[str, ...] = ()


def set_target_enabled(store: Store, name: str, enabled: bool, actor: str) -> EnabledTarget:
    """Enable or disable the target ``name``. A disabled target is queued nothing at signing and sent
    nothing: what waits for it stays waiting, unsent and with no attempt counted, until it is enabled again
    (until 2026-12-07 only ``enabled`` in the database could disable one, and the deliverer sent it what was
    waiting all the same). Enabling it queues the results signed while it was off, the newest version of each
    study only (until 2026-12-07 they never reached it)."""
    with store.transaction() as session:
        target = session.scalar(select(DeliveryTarget).where(DeliveryTarget.name == name))
        if target is None:
            raise InputError("name", f"no delivery target {name!r} (ecgdesk interop target list)")
        before = target.enabled
        target.enabled = enabled
        caught_up: list[tuple[int, int]] = []
        acks: list[str] = []
        if enabled and not before:
            caught_up = _missed(session, target, actor)
            acks = queue_unsent_acks(session, target, actor, "missed_while_disabled")
        waiting = session.scalar(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.target_id == target.id, OutboxItem.status.in_(["pending", "sending", "failed"])))
        after: dict[str, object] = {"name": name, "enabled": enabled, "waiting": waiting}
        if caught_up:
            after["queued"] = [{"study": study, "version": version} for study, version in caught_up]
        if acks:
            after["application_acks"] = acks
        append(session, actor, f"interop:target-{'enable' if enabled else 'disable'}", "delivery_target",
               target.id, {"name": name, "enabled": before}, after)
        return EnabledTarget(target_info(target), int(waiting or 0), tuple(caught_up), tuple(acks))


def _disabled_since(session: Session, target: DeliveryTarget) -> datetime:
    """When the target went from enabled to disabled (its audit row; a ``disable`` of a disabled target does
    not move it); one disabled in the database alone, before the command existed, since it was added."""
    rows = session.execute(
        select(AuditEntry.at, AuditEntry.before_json)
        .where(AuditEntry.action == "interop:target-disable", AuditEntry.entity == "delivery_target",
               AuditEntry.entity_id == str(target.id))
        .order_by(AuditEntry.seq.desc()))
    at = next((at for at, before in rows if (json.loads(before) or {}).get("enabled")), None)
    return datetime.fromisoformat(at) if at else target.created_at


def _missed(session: Session, target: DeliveryTarget, actor: str) -> list[tuple[int, int]]:
    """Queue for ``target`` the results it was not queued while disabled: of each study signed (or amended)
    since, its newest signed version only, so an older one never goes after a newer. Audited as signing's
    queueing is, ``interop:queue`` on the study."""
    since = _disabled_since(session, target)
    studies = session.scalars(
        select(Signature.study_id).where(Signature.signed_at >= since).distinct()).all()
    stamp = now()
    queued: list[tuple[int, int]] = []
    for study_id in sorted(studies):
        newest = session.execute(
            select(ReportVersion.id, ReportVersion.version)
            .join(Signature, Signature.report_version_id == ReportVersion.id)
            .where(ReportVersion.study_id == study_id)
            .order_by(ReportVersion.version.desc()).limit(1)).one()
        study = session.get(Study, study_id)
        order = session.get(Order, study.order_id) if study is not None else None
        if not takes_results_of(target, order.sender if order is not None else None):
            continue  # another EHR's order: withheld at signing too
        corrected = newest.version > 1 and session.scalar(
            select(Signature.id).join(ReportVersion, Signature.report_version_id == ReportVersion.id)
            .where(ReportVersion.study_id == study_id, ReportVersion.version < newest.version).limit(1)
        ) is not None
        count = queue_for(session, target, study_id, newest.id, corrected, stamp)
        if count:
            queued.append((study_id, newest.version))
            append(session, actor, "interop:queue", "study", study_id, None,
                   {"version": newest.version, "items": count, "corrected": corrected,
                    "target": target.name, "missed_while_disabled": True})
    return queued
