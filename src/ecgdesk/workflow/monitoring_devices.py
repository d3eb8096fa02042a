"""Swapping a patient's recorder within the enrolment (it failed, its battery died, it was lost).

The period, its study and its bill stay one: strips of the new recorder recorded from the swap go to the
same enrolment, those of the old recorder recorded before it still do, and the old recorder is freed for
another patient at once (shared/reference/monitoring.md section 1: one service is every recording of a
continuous period; section 5: one active enrolment per recorder). Closing the period and enrolling again
would make a second billable set that the 29-day rule refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ecgdesk.errors import InputError
from ecgdesk.monitoring.periods import Period
from ecgdesk.store import Store, append
from ecgdesk.store.monitoring_models import DeviceSwap, Enrolment, Transmission
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.monitoring import ACTIVE, CLOCK_SKEW, enrolment_spells, get_enrolment
from ecgdesk.workflow.monitoring_days import period_day

MAX_REASON = 500


@dataclass(frozen=True)
class SwapResult:
    enrolment_id: int
    old_device: str
    new_device: str
    at: str
    reason: str
    warnings: tuple[str, ...] = ()


def _serial(text: str) -> str:
    serial = text.strip()
    if not serial or len(serial) > 64 or not serial.isprintable():
        raise InputError("device", f"a device serial is 1-64 printable characters, got {text!r}")
    return serial


def swap_device(
    store: Store, enrolment_id: int, new_device: str, at: datetime, reason: str, actor: str
) -> SwapResult:
    """Put the patient of an active enrolment on ``new_device`` from ``at``; audited."""
    serial = _serial(new_device)
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    why = reason.strip()
    if not why or len(why) > MAX_REASON:
        raise InputError("reason", f"say why the recorder was replaced (1-{MAX_REASON} characters)")
    try:
        with store.transaction() as session:
            # locked: a second swap at the same moment (a double click) waits, then comes after this one
            enrolment = get_enrolment(session, enrolment_id, for_update=True)
            if enrolment.status != ACTIVE:
                raise InputError(
                    "enrolment",
                    f"enrolment {enrolment_id} is closed: a recorder is swapped while it is active",
                )
            old = enrolment.device_serial
            if serial == old:
                raise InputError("device", f"the patient already wears device {serial}")
            period = Period(enrolment.start_date, enrolment.days, enrolment.stopped_early_on)
            if not period.contains(period_day(enrolment, at)):  # the patient's day (UTC's until 2026-12-07)
                raise InputError(
                    "at",
                    f"{at.isoformat()} is outside the monitoring period ({period.start} to {period.end})",
                )
            if at - now() > CLOCK_SKEW:
                raise InputError(
                    "at", f"{at.isoformat()} is in the future: give the time the recorder was put on"
                )
            last = enrolment_spells(session, enrolment)[-1]
            if last.start is not None and at <= last.start:
                raise InputError(
                    "at", f"device {old} was put on at {last.start.isoformat()}: a swap comes after it"
                )
            # strips of the old recorder already in this period from that time on would have to change
            # hands; the user's data are never moved silently: the technician gives the right time
            later = session.scalar(
                select(func.min(Transmission.recorded_at)).where(
                    Transmission.enrolment_id == enrolment_id,
                    Transmission.device_serial == old,
                    Transmission.recorded_at >= at,
                )
            )
            if later is not None:
                raise InputError(
                    "at",
                    f"device {old} sent a strip of this period recorded at {later:%Y-%m-%d %H:%M:%S}, after "
                    f"{at.isoformat()}: the swap is after its last strip",
                )
            other = session.scalar(select(Enrolment).where(Enrolment.active_device == serial))
            if other is not None:
                raise InputError(
                    "device", f"device {serial} is in use by enrolment {other.id}; close it first"
                )
            held = session.scalar(
                select(func.count(Transmission.id)).where(
                    Transmission.device_serial == serial,
                    Transmission.enrolment_id.is_(None),
                    Transmission.recorded_at >= at,
                )
            )
            session.add(
                DeviceSwap(
                    enrolment_id=enrolment_id,
                    old_serial=old,
                    new_serial=serial,
                    swapped_at=at,
                    reason=why,
                    created_by=actor,
                    created_at=now(),
                )
            )
            enrolment.device_serial, enrolment.active_device = serial, serial
            session.flush()
            append(
                session,
                actor,
                "monitor:device-swap",
                "enrolment",
                enrolment_id,
                {"device": old},
                {"device": serial, "at": at, "reason": why},
            )
    except IntegrityError:  # another process enrolled the recorder at this instant
        raise InputError("device", f"device {serial} is in use by another active enrolment") from None
    warnings: tuple[str, ...] = ()
    if held:
        warnings = (
            f"{held} strip(s) of device {serial} recorded since {at.isoformat()} arrived before the swap and "
            "stay flagged for a person (they are not billed)",
        )
    return SwapResult(enrolment_id, old, serial, at.isoformat(), why, warnings)
