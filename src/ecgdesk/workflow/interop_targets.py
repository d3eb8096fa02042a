"""Which EHR a delivery target belongs to: the HL7 v2 senders (MSH-3^MSH-4) it is given.

A target that names a sender takes that sender's application acknowledgements (HL7 v2 enhanced mode,
:mod:`ecgdesk.workflow.interop_acks`) and the signed results of its orders, and no other EHR's
(:func:`ecgdesk.workflow.interop_results.queue_results`); a site with one EHR gives its target that EHR's
sender, a site with two gives each EHR's target its own, so neither receives the other's. Changing them is
an administrator's act (``interface:admin``, where patient data may go), audited with the senders before
and after.
"""

from __future__ import annotations

from sqlalchemy import select

from ecgdesk.errors import InputError
from ecgdesk.interop.senders import parse_senders, stored
from ecgdesk.store import Store, append
from ecgdesk.store.interop_models import DeliveryTarget
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
