"""Which EHR a delivery target belongs to: the HL7 v2 senders (MSH-3^MSH-4) it is given.

A target that names a sender takes that sender's application acknowledgements (HL7 v2 enhanced mode,
:mod:`ecgdesk.workflow.interop_acks`) and the signed results of its orders, and no other EHR's
(:func:`ecgdesk.workflow.interop_results.queue_results`); a site with one EHR gives its target that EHR's
sender, a site with two gives each EHR's target its own, so neither receives the other's. Changing them is
an administrator's act (``interface:admin``, where patient data may go), audited with the senders before
and after.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ecgdesk.errors import InputError
from ecgdesk.interop.senders import parse_senders, stored
from ecgdesk.store import Store, append
from ecgdesk.store.interop_models import DeliveryTarget, OutboxItem
from ecgdesk.workflow.interop_results import TargetInfo, target_info


def set_target_senders(store: Store, name: str, senders: list[str], actor: str) -> TargetInfo:
    """Give the target ``name`` the senders ``senders`` (``APP^FACILITY``; none: it belongs to no EHR)."""
    keys = parse_senders(senders)
    with store.transaction() as session:
        target = session.scalar(select(DeliveryTarget).where(DeliveryTarget.name == name))
        if target is None:
            raise InputError("name", f"no delivery target {name!r} (ecgdesk interop target list)")
        before = list(stored(target.senders))
        target.senders = ",".join(keys)
        append(session, actor, "interop:target-senders", "delivery_target", target.id,
               {"name": name, "senders": before}, {"name": name, "senders": list(keys)})
        return target_info(target)


def set_target_enabled(store: Store, name: str, enabled: bool, actor: str) -> tuple[TargetInfo, int]:
    """Enable or disable the target ``name``: (the target, the results and ACKs waiting for it). A disabled
    target is queued nothing at signing and sent nothing: what waits for it stays waiting, unsent and with
    no attempt counted, until it is enabled again (until 2026-12-07 only ``enabled`` in the database could
    disable one, and the deliverer sent it what was waiting all the same)."""
    with store.transaction() as session:
        target = session.scalar(select(DeliveryTarget).where(DeliveryTarget.name == name))
        if target is None:
            raise InputError("name", f"no delivery target {name!r} (ecgdesk interop target list)")
        before = target.enabled
        target.enabled = enabled
        waiting = session.scalar(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.target_id == target.id, OutboxItem.status.in_(["pending", "sending", "failed"])))
        append(session, actor, f"interop:target-{'enable' if enabled else 'disable'}", "delivery_target",
               target.id, {"name": name, "enabled": before}, {"name": name, "enabled": enabled,
                                                              "waiting": waiting})
        return target_info(target), int(waiting or 0)
