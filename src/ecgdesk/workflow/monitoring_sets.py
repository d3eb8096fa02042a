"""The 29-day rule where a monitoring set begins: a Holter, event or telemetry set is refused when it is
ordered or enrolled to complete within 29 days of another set of the patient (shared/reference/
monitoring.md section 5 rule 1; coding.md 2.3 and 4.4: Noridian, sets "cannot be completed within 29 days
of each other", checked nationwide, with no appeal rights).

Refusing only when the claim is scrubbed (CARC 119, :mod:`ecgdesk.coding.scrub.period`) came after the
patient had worn the recorder and the centre had done the work. The scrubber stays as the backstop (a
recording imported later, an early stop, a set billed elsewhere).

The override: the successor LCDs (L40243/L40254/L40256, reference section 1) say a repeat within 30 days
needs justification, so a repeat can be medically necessary. A documented medical-necessity reason lets the
set be ordered anyway; it is audited (``monitor:set-overlap-override``, with the prior set and the dates).
It does not make the set billable to Medicare: the claim is still held (CARC 119).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.coding.facts import Service
from ecgdesk.errors import InputError
from ecgdesk.monitoring.periods import OVERLAP_DAYS, Period, PriorSet, too_close
from ecgdesk.store import append
from ecgdesk.store.models import Order, RecordingBlob, Study
from ecgdesk.store.monitoring_models import Enrolment

#: Services that are one monitoring set each (Holter and patch recorders, event monitors, telemetry).
SET_SERVICES = frozenset({Service.AMBULATORY_ECG, Service.EVENT_MONITOR, Service.MOBILE_TELEMETRY})
REASON_MAX = 500
OVERRIDE_ACTION = "monitor:set-overlap-override"


def prior_sets(session: Session, patient_id: int, exclude_study: int | None = None) -> list[PriorSet]:
    """The patient's monitoring sets whose completion is known: every enrolment (closed, or running to its
    planned end) and every recorded Holter/ambulatory study whose order was not cancelled."""
    sets: list[PriorSet] = []
    enrolled: set[int] = {exclude_study} if exclude_study is not None else set()
    for enrolment in session.scalars(
        select(Enrolment).join(Study, Study.id == Enrolment.study_id).where(Study.patient_id == patient_id)
    ):
        if enrolment.study_id == exclude_study:
            continue
        period = Period(enrolment.start_date, enrolment.days, enrolment.stopped_early_on)
        enrolled.add(enrolment.study_id)
        what = f"{enrolment.service} enrolment {enrolment.id} (study {enrolment.study_id})"
        sets.append(PriorSet(what, period.start, period.end))
    rows = session.execute(
        select(Study.id, Order.service, RecordingBlob.start_time, RecordingBlob.duration_s, Study.created_at)
        .join(Order, Order.id == Study.order_id)
        .join(RecordingBlob, RecordingBlob.id == Study.recording_id)
        .where(
            Study.patient_id == patient_id,
            Order.service.in_([s.value for s in SET_SERVICES]),
            Order.cancelled_at.is_(None),
        )
    )
    for study_id, service, started, duration_s, created in rows:
        if study_id in enrolled:
            continue
        start = (started or created).date()
        # the last day recorded (as coding dates it, billing.derive_facts)
        end = ((started or created) + timedelta(seconds=max(0.0, duration_s - 1e-6))).date()
        sets.append(PriorSet(f"{service} study {study_id}", start, end))
    return sets


def estimated_completion(today: date, duration_days: float | None) -> date:
    """When a set ordered ``today`` completes at the earliest: hooked up today, worn its prescribed days."""
    return today + timedelta(days=max(0, math.ceil(duration_days or 1) - 1))


def check_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    text = reason.strip()
    if not text or len(text) > REASON_MAX or not text.isprintable():
        raise InputError(
            "overlap-reason",
            f"a documented medical-necessity reason is 1-{REASON_MAX} printable characters, got {reason!r}",
        )
    return text


@dataclass(frozen=True)
class Overlap:
    """A new set too close to ``prior``, let through by a documented ``reason``."""

    prior: PriorSet
    completes_on: date
    reason: str


def check_new_set(
    session: Session, patient_id: int, service: Service, completes_on: date, days: int,
    reason: str | None,
) -> Overlap | None:
    """Refuse a set completing on ``completes_on`` within 29 days of a prior set of the patient, unless a
    documented ``reason`` overrides it (then the overlap to audit once the study exists)."""
    text = check_reason(reason)
    if service not in SET_SERVICES:
        return None
    prior = too_close(completes_on, prior_sets(session, patient_id))
    if prior is None:
        return None
    if text is not None:
        return Overlap(prior, completes_on, text)
    earliest = prior.next_completion
    first_start = earliest - timedelta(days=days - 1)
    raise InputError(
        "overlap",
        f"the patient's {prior.what} ran {prior.start.isoformat()} to {prior.end.isoformat()}; this "
        f"{service.value} set would complete on {completes_on.isoformat()}, "
        f"{abs((completes_on - prior.end).days)} days from it: monitoring sets may not complete within "
        f"{OVERLAP_DAYS} days of each other (Medicare denies the second, with no appeal rights). The "
        f"earliest completion allowed is {earliest.isoformat()} (a {days}-day set starting on or after "
        f"{first_start.isoformat()}). Nothing was created. If a repeat is medically necessary, give the "
        "documented reason (overlap-reason) to order it anyway; its claim will still be held",
    )


def early_stop_note(session: Session, patient_id: int, study_id: int, end: date) -> str | None:
    """What closing a period stopped early on ``end`` means for its claim when that brings it within 29 days
    of another set of the patient (the stop happened: it is said, not refused; the scrubber holds the
    claim, CARC 119)."""
    prior = too_close(end, prior_sets(session, patient_id, exclude_study=study_id))
    if prior is None:
        return None
    days = abs((end - prior.end).days)
    return (
        f"stopped early on {end.isoformat()}, the period now completes {days} days from "
        f"the patient's {prior.what} ({prior.start.isoformat()} to {prior.end.isoformat()}): monitoring sets "
        f"may not complete within {OVERLAP_DAYS} days of each other, so its claim will be held (CARC 119)"
    )


def audit_override(session: Session, actor: str, study_id: int, overlap: Overlap) -> None:
    append(
        session,
        actor,
        OVERRIDE_ACTION,
        "study",
        study_id,
        None,
        {
            "reason": overlap.reason,
            "prior": overlap.prior.what,
            "prior_start": overlap.prior.start,
            "prior_end": overlap.prior.end,
            "completes_on": overlap.completes_on,
            "earliest_allowed": overlap.prior.next_completion,
        },
    )
