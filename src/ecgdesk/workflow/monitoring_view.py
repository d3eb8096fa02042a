"""One monitoring period as its users open it: the patient and study, the dates (start, planned end, early
stop), every recorder worn with the history of its swaps (who, when, why), the criteria versions that
governed it, the strip and notification counts with the notifications themselves (who was told, when, who
recorded the acknowledgement: the item panel's list, for the whole period), and where its billing stands.

Technicians, physicians and billers all open it (``monitor:period-read``): the CLI (``ecgdesk monitor
show``), ``GET /api/v1/monitoring/enrolments/{id}`` and the period page read this one function. The read
is of patient data and is audited (``read:monitor-period``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import NotFoundError
from ecgdesk.monitoring.periods import Period
from ecgdesk.store import Store
from ecgdesk.store.claims_models import ClaimRow, PayerRow
from ecgdesk.store.models import Patient, Study, User
from ecgdesk.store.monitoring_models import DeviceSwap, Enrolment, Notification, QueueItem, Transmission
from ecgdesk.workflow.monitoring import CLOSED, enrolment_spells
from ecgdesk.workflow.monitoring_days import local_clock, zone_name
from ecgdesk.workflow.monitoring_notices import NoticeOut, period_notices
from ecgdesk.workflow.monitoring_period import criteria_in_force
from ecgdesk.workflow.permissions import audit_read
from ecgdesk.workflow.schemas import Model
from ecgdesk.workflow.users import aware


class RecorderOut(Model):
    """A recorder as worn in the period: from the start (or its swap) to its swap (or the end)."""

    serial: str
    worn_from: str = Field(description="the period's start date, or the time of the swap that put it on")
    worn_to: str = Field(description="the time of the swap that took it off, or the period's end date")
    reason: str = Field(description="why it replaced the recorder before it ('' for the first)")


class SwapOut(Model):
    """One row of the swap history (``device_swaps``, never edited)."""

    old_device: str
    new_device: str
    at: str = Field(description="when the new recorder was put on")
    reason: str
    swapped_by: str = Field(description="the user who recorded the swap")
    swapped_by_name: str
    recorded_at: str = Field(description="when the swap was recorded")


class CriteriaStretch(Model):
    """A criteria version and the stretch of the period it governed (``version`` None: the defaults)."""

    version: int | None
    signed_by: str | None
    signer: str | None
    signed_at: str | None
    in_force_from: str
    in_force_to: str


class StripCounts(Model):
    received: int = Field(description="every strip given to this period, flagged ones included")
    billable: int = Field(description="strips with no flag: the ones the period's recording joins")
    flagged: int
    reviewed: int
    open: int = Field(description="queue items still waiting for a person")
    by_priority: dict[str, int]


class NotificationCounts(Model):
    sent: int = Field(description="every notification, escalations included")
    escalations: int
    unacknowledged: int


class ClaimOut(Model):
    claim_id: str
    payer: str
    status: str
    frequency: str = Field(description="1 original, 7 replacement, 8 void")
    exported_at: str | None
    replaced: bool = Field(description="a later corrected claim replaces it")


class BillingOut(Model):
    study_status: str
    summary: str = Field(description="where the billing of the period stands, in words")
    claims: list[ClaimOut]


class PeriodView(Model):
    enrolment_id: int
    study_id: int
    service: str
    status: str = Field(description="active or closed")
    patient: str
    patient_id: str
    start: str
    planned_end: str
    end: str = Field(description="the documented early stop, else the planned end")
    stopped_early_on: str | None
    days: int
    time_zone: str = Field(
        description="the IANA zone of the patient's recorder: the period's days are the patient's calendar "
        "days there, and the recorders' and criteria's times are on that clock (UTC where none was given)"
    )
    closed_at: str | None
    enrolled_by: str
    device: str = Field(description="the recorder worn now (the last one, once closed)")
    recorders: list[RecorderOut]
    swaps: list[SwapOut]
    criteria_versions: list[CriteriaStretch]
    strips: StripCounts
    notifications: NotificationCounts
    notices: list[NoticeOut] = Field(
        description="the period's notifications, first sent first: who was told, when and by whom, who "
        "recorded the acknowledgement and when (on the patient's clock)"
    )
    billing: BillingOut


def _names(session: Session, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    rows = session.execute(select(User.username, User.display_name).where(User.username.in_(usernames)))
    return {username: name for username, name in rows}


def _clock(moment: datetime, time_zone: str | None) -> str:
    return local_clock(moment, time_zone).isoformat()


def _swaps(session: Session, enrolment_id: int, time_zone: str | None) -> list[SwapOut]:
    rows = list(
        session.scalars(
            select(DeviceSwap)
            .where(DeviceSwap.enrolment_id == enrolment_id)
            .order_by(DeviceSwap.swapped_at, DeviceSwap.id)
        )
    )
    names = _names(session, {r.created_by for r in rows})
    return [
        SwapOut(
            old_device=r.old_serial,
            new_device=r.new_serial,
            at=_clock(r.swapped_at, time_zone),  # the patient's clock, as the recorders' times
            reason=r.reason,
            swapped_by=r.created_by,
            swapped_by_name=names.get(r.created_by, r.created_by),
            recorded_at=aware(r.created_at).isoformat(),
        )
        for r in rows
    ]


def _strips(session: Session, enrolment_id: int) -> StripCounts:
    flags = list(session.scalars(select(Transmission.flag).where(Transmission.enrolment_id == enrolment_id)))
    items = session.execute(
        select(QueueItem.status, QueueItem.priority).where(QueueItem.enrolment_id == enrolment_id)
    ).all()
    return StripCounts(
        received=len(flags),
        billable=sum(1 for f in flags if not f),
        flagged=sum(1 for f in flags if f),
        reviewed=sum(1 for status, _ in items if status == "closed"),
        open=sum(1 for status, _ in items if status == "open"),
        by_priority=dict(Counter(priority for _, priority in items).most_common()),
    )


def _notifications(session: Session, enrolment_id: int) -> NotificationCounts:
    rows = session.execute(
        select(Notification.escalated_from_id, Notification.acknowledged_at)
        .join(QueueItem, QueueItem.id == Notification.queue_item_id)
        .where(QueueItem.enrolment_id == enrolment_id)
    ).all()
    return NotificationCounts(
        sent=len(rows),
        escalations=sum(1 for escalated, _ in rows if escalated is not None),
        unacknowledged=sum(1 for _, acknowledged in rows if acknowledged is None),
    )


#: What the study's state means for the bill while no claim exists yet.
BEFORE_CLAIM = {
    "ordered": "not billable yet: the period is being recorded",
    "recorded": "not billable yet: the period is being recorded",
    "analyzed": "not billable yet: the report is to be written and signed",
    "reported": "not billable yet: the report awaits the physician's signature",
    "signed": "signed, not coded yet",
    "coded": "coded, no claim yet",
    "billed": "billed outside the claims desk (no claim here)",
}


def _billing(session: Session, study: Study, closed: bool = False) -> BillingOut:
    rows = list(
        session.scalars(select(ClaimRow).where(ClaimRow.study_id == study.id).order_by(ClaimRow.id))
    )
    payers = {p.id: p.name for p in session.scalars(select(PayerRow))} if rows else {}
    replaced = {r.original_claim_id for r in rows if r.original_claim_id is not None}
    claims = [
        ClaimOut(
            claim_id=r.claim_number,
            payer=payers.get(r.payer_id, "?"),
            status=r.status,
            frequency=r.frequency,
            exported_at=aware(r.exported_at).isoformat() if r.exported_at else None,
            replaced=r.id in replaced,
        )
        for r in rows
    ]
    current = [c for c in claims if not c.replaced]
    if current:
        summary = "; ".join(f"claim {c.claim_id} to {c.payer}: {c.status.replace('_', ' ')}" for c in current)
    else:
        summary = BEFORE_CLAIM.get(study.status, study.status)
        if closed and study.status == "ordered":
            # closing records the strips; none were (it said "being recorded" for ever)
            summary = "nothing to bill: the period was closed without a billable strip"
    return BillingOut(study_status=study.status, summary=summary, claims=claims)


def period_view(store: Store, enrolment_id: int, actor: str) -> PeriodView:
    """Everything a user needs to see of one monitoring period; the read is audited."""
    with store.transaction() as session:
        enrolment = session.get(Enrolment, enrolment_id)
        if enrolment is None:
            raise NotFoundError("enrolment", f"no monitoring period (enrolment) with id {enrolment_id}")
        study = session.get(Study, enrolment.study_id)
        assert study is not None  # enrolments.study_id is a foreign key
        patient = session.get(Patient, study.patient_id)
        assert patient is not None
        period = Period(enrolment.start_date, enrolment.days, enrolment.stopped_early_on)
        zone = enrolment.time_zone
        recorders = [
            RecorderOut(
                serial=spell.serial,
                worn_from=_clock(spell.start, zone) if spell.start else period.start.isoformat(),
                worn_to=_clock(spell.end, zone) if spell.end else period.end.isoformat(),
                reason=spell.reason,
            )
            for spell in enrolment_spells(session, enrolment)
        ]
        criteria = [
            CriteriaStretch(
                version=c["version"],
                signed_by=c["signed_by"],
                signer=c["signer"],
                signed_at=c["signed_at"],
                in_force_from=c["from"],
                in_force_to=c["to"],
            )
            for c in criteria_in_force(session, enrolment.id, period, zone)
        ]
        enrolled_by = _names(session, {enrolment.created_by}).get(enrolment.created_by, enrolment.created_by)
        view = PeriodView(
            enrolment_id=enrolment.id,
            study_id=study.id,
            service=enrolment.service,
            status=enrolment.status,
            patient=patient.name,
            patient_id=patient.external_id,
            start=period.start.isoformat(),
            planned_end=period.planned_end.isoformat(),
            end=period.end.isoformat(),
            stopped_early_on=period.stopped_early_on.isoformat() if period.stopped_early_on else None,
            days=period.days,
            time_zone=zone_name(zone),
            closed_at=aware(enrolment.closed_at).isoformat() if enrolment.closed_at else None,
            enrolled_by=enrolled_by,
            device=enrolment.device_serial,
            recorders=recorders,
            swaps=_swaps(session, enrolment.id, zone),
            criteria_versions=criteria,
            strips=_strips(session, enrolment.id),
            notifications=_notifications(session, enrolment.id),
            notices=period_notices(session, enrolment.id, zone),
            billing=_billing(session, study, enrolment.status == CLOSED),
        )
        audit_read(session, actor, "monitor-period", "enrolment", enrolment_id, {"study_id": study.id})
    return view


def period_of_study_id(store: Store, study_id: int) -> int | None:
    """The enrolment (monitoring period) a study records, None for a study of another service."""
    with store.transaction() as session:
        return session.scalar(select(Enrolment.id).where(Enrolment.study_id == study_id))  # unique
