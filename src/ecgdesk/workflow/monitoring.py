"""Event monitoring and mobile telemetry: enrolment, signed criteria, strips in, classified at once.

An enrolment is a study (service ``event_monitor`` or ``mobile_telemetry``) plus a device for one period
of at most 30 days; the database refuses a second active enrolment on a device. Strips arrive from a folder
or the HTTP endpoint, are stored read-only by content, attributed to the enrolment of their device and
time (flagged and still queued for a person when there is none, or when the period is over), de-duplicated
by device message id and by content, and queued with the job that classifies it (``monitor.classify``,
:mod:`ecgdesk.workflow.monitoring_jobs`) in one transaction; the job's triage then sets the queue item's
priority exactly once (:func:`classify_item`; :func:`classify_pending` runs the jobs of items still
unclassified here and now).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from sqlalchemy import case, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecgdesk.coding.facts import Service, Setting
from ecgdesk.errors import EcgDeskError, InputError
from ecgdesk.monitoring.criteria import lowered_emergent, parse_criteria
from ecgdesk.monitoring.devices import Spell, Swap, spells, worn_at
from ecgdesk.monitoring.periods import Period, check_period
from ecgdesk.monitoring.policy import queue_policy
from ecgdesk.monitoring.triage import Priority
from ecgdesk.records import Recording, open_recording
from ecgdesk.store import Store, append, append_many, put_files, serialise
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.enums import Role
from ecgdesk.store.models import Order, Study
from ecgdesk.store.monitoring_models import CriteriaVersion, DeviceSwap, Enrolment, QueueItem, Transmission
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.monitoring_classify import UNCLASSIFIED, current_criteria
from ecgdesk.workflow.monitoring_classify import classify_item as classify_item  # its home until 2026-12
from ecgdesk.workflow.monitoring_days import period_day, zone_of
from ecgdesk.workflow.monitoring_jobs import TRIAGE_ACTOR, classify_spec, enqueue_classification
from ecgdesk.workflow.policy import SecurityPolicy
from ecgdesk.workflow.studies import StudyRequest, add_study, record_files
from ecgdesk.workflow.users import authenticate, aware

MONITORING_SERVICES = (Service.EVENT_MONITOR, Service.MOBILE_TELEMETRY)
ACTIVE, CLOSED = "active", "closed"


@dataclass(frozen=True)
class EnrolmentRequest:
    patient_id: str
    name: str
    birth_date: date
    sex: str
    device_serial: str
    service: Service
    start: date
    ordering_npi: str
    indications: tuple[str, ...]
    days: int = 30
    setting: Setting = Setting.PRACTITIONER
    place_of_service: str | None = None
    #: a documented medical-necessity reason for a period completing within 29 days of another set of the
    #: patient (audited; workflow.monitoring_sets)
    overlap_reason: str | None = None
    #: the IANA zone the recorder's clock keeps (``Europe/Berlin``): a strip's start written without a zone
    #: (WFDB, EDF) is read in it; None: UTC
    time_zone: str | None = None


@dataclass(frozen=True)
class EnrolmentInfo:
    id: int
    study_id: int
    device_serial: str
    service: str
    start: str
    end: str
    status: str
    criteria_version: int | None  # None: the defaults apply, not yet signed
    time_zone: str | None = None  # the recorder's clock's zone; None: UTC


def _period(enrolment: Enrolment) -> Period:
    return Period(enrolment.start_date, enrolment.days, enrolment.stopped_early_on)


def _info(session: Session, enrolment: Enrolment) -> EnrolmentInfo:
    version = session.scalar(
        select(CriteriaVersion.version)
        .where(CriteriaVersion.enrolment_id == enrolment.id)
        .order_by(CriteriaVersion.version.desc())
        .limit(1)
    )
    period = _period(enrolment)
    return EnrolmentInfo(
        enrolment.id,
        enrolment.study_id,
        enrolment.device_serial,
        enrolment.service,
        period.start.isoformat(),
        period.end.isoformat(),
        enrolment.status,
        version,
        enrolment.time_zone,
    )


def check_time_zone(text: str | None) -> str | None:
    """An IANA zone name such as ``Europe/Berlin``, trimmed; None stays None (UTC)."""
    if text is None:
        return None
    name = text.strip()
    try:
        if not name or len(name) > 64:
            raise ValueError(name)
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise InputError("time-zone", f"{text[:70]!r} is not a time zone name (IANA, such as Europe/Berlin "
                                      "or America/New_York)") from None
    return name


def enroll(store: Store, req: EnrolmentRequest, actor: str) -> EnrolmentInfo:
    """Create the study and the enrolment; the default criteria apply (unsigned) until a physician signs."""
    if req.service not in MONITORING_SERVICES:
        raise InputError("service", f"expected event_monitor or mobile_telemetry, got {req.service.value!r}")
    period = check_period(req.start, req.days)
    zone = check_time_zone(req.time_zone)
    serial = req.device_serial.strip()
    if not serial or len(serial) > 64 or not serial.isprintable():
        raise InputError("device", f"a device serial is 1-64 printable characters, got {req.device_serial!r}")
    try:
        with store.transaction() as session:
            active = session.scalar(select(Enrolment).where(Enrolment.active_device == serial))
            if active is not None:
                raise InputError(
                    "device",
                    f"device {serial} is in use by enrolment {active.id} (period "
                    f"{active.start_date} + {active.days} days); close it first",
                )
            study_id = add_study(
                session,
                StudyRequest(
                    patient_id=req.patient_id,
                    name=req.name,
                    birth_date=req.birth_date,
                    sex=req.sex,
                    service=req.service,
                    ordering_npi=req.ordering_npi,
                    indications=req.indications,
                    duration_days=float(req.days),
                    setting=req.setting,
                    place_of_service=req.place_of_service,
                    completes_on=period.planned_end,  # refused here when within 29 days of another set
                    overlap_reason=req.overlap_reason,
                ),
                actor,
            )
            enrolment = Enrolment(
                study_id=study_id,
                device_serial=serial,
                active_device=serial,
                service=req.service.value,
                start_date=period.start,
                days=period.days,
                status=ACTIVE,
                created_by=actor,
                created_at=now(),
                time_zone=zone,
            )
            session.add(enrolment)
            session.flush()
            append(
                session,
                actor,
                "monitor:enroll",
                "enrolment",
                enrolment.id,
                None,
                {
                    "study_id": study_id,
                    "device": serial,
                    "service": req.service.value,
                    "start": period.start,
                    "days": period.days,
                    "criteria": "defaults, not yet signed",
                    "time_zone": zone or "UTC",
                },
            )
            return _info(session, enrolment)
    except IntegrityError:  # another process enrolled the device at this instant
        raise InputError("device", f"device {serial} is in use by another active enrolment") from None


def get_enrolment(session: Session, enrolment_id: int, for_update: bool = False) -> Enrolment:
    """The enrolment; ``for_update``: its row locked until the transaction ends (PostgreSQL), for a change
    that checks it first (``lifecycle.get_study``)."""
    enrolment = session.get(
        Enrolment, enrolment_id, with_for_update=for_update or None, populate_existing=for_update
    )
    if enrolment is None:
        raise InputError("enrolment", f"no enrolment with id {enrolment_id}")
    return enrolment


def sign_criteria(
    store: Store,
    enrolment_id: int,
    document: Any,
    username: str,
    password: str,
    lower_emergent: bool = False,
    policy: SecurityPolicy | None = None,
) -> int:
    """A new signed version of the criteria by the ordering physician (password re-entered; a wrong one
    counts towards ``policy``'s lockout)."""
    user = authenticate(store, username, password, Role.PHYSICIAN, policy)
    criteria = parse_criteria(document, "criteria")
    with store.transaction() as session:
        enrolment = get_enrolment(session, enrolment_id)
        study = session.get(Study, enrolment.study_id)
        order = session.get(Order, study.order_id) if study else None
        assert order is not None
        if user.npi != order.ordering_npi:
            raise InputError(
                "user",
                f"criteria are signed by the ordering physician (NPI {order.ordering_npi}); "
                f"{username} has NPI {user.npi}",
            )
        previous, version = current_criteria(session, enrolment_id)
        lowered = lowered_emergent(previous, criteria)
        if lowered and not lower_emergent:
            raise InputError(
                "criteria",
                "this version lowers emergent criteria ("
                + "; ".join(lowered)
                + "): sign it with the explicit lower-emergent confirmation",
            )
        number = (version or 0) + 1
        session.add(
            CriteriaVersion(
                enrolment_id=enrolment_id,
                version=number,
                rules_json=json.dumps(criteria.to_dict()),
                lowered_emergent_json=json.dumps(lowered),
                signed_by=username,
                signed_at=now(),
            )
        )
        append(
            session,
            username,
            "monitor:criteria-sign",
            "enrolment",
            enrolment_id,
            {"version": version, **previous.to_dict()},
            {"version": number, **criteria.to_dict(), "lowered_emergent": lowered},
        )
        return number


# ------------------------------------------------------------------------------------------- strips in
@dataclass(frozen=True)
class IngestOutcome:
    path: str
    status: str  # queued, duplicate, refused
    transmission_id: int | None = None
    item_id: int | None = None
    enrolment_id: int | None = None
    flag: str = ""
    reason: str = ""
    priority: str | None = None
    job_id: int | None = None  # the classification job (monitor.classify)
    warnings: tuple[str, ...] = ()  # what the reader had to guess about the strip (Recording.warnings)


#: How far a device's clock may run ahead of ours before its strip's time is not believed.
CLOCK_SKEW = timedelta(minutes=10)


def enrolment_spells(session: Session, enrolment: Enrolment) -> list[Spell]:
    """The recorders the enrolment's patient wore in turn (one, unless a recorder was swapped)."""
    rows = session.scalars(
        select(DeviceSwap).where(DeviceSwap.enrolment_id == enrolment.id).order_by(DeviceSwap.swapped_at)
    )
    swaps = [Swap(r.old_serial, r.new_serial, aware(r.swapped_at), r.reason) for r in rows]
    return spells(enrolment.device_serial, swaps)


def _of_device(serial: str) -> Any:
    """The condition of the enrolments that had the recorder ``serial`` (first or swapped in or out)."""
    swapped = select(DeviceSwap.enrolment_id).where(
        or_(DeviceSwap.old_serial == serial, DeviceSwap.new_serial == serial)
    )
    return or_(Enrolment.device_serial == serial, Enrolment.id.in_(swapped))


def device_time(store: Store, serial: str, recording: Recording) -> datetime | None:
    """The strip's start by the recorder's clock, as an instant (UTC); None where the header gives none.

    A start written with its offset (DICOM, aECG) is that instant. WFDB and EDF write the recorder's local
    clock time without a zone: it is read in the zone of the recorder's enrolment (the active one, else the
    latest), UTC where none was given. Until 2026-12-07 it was always read as UTC: a recorder on local time
    east of UTC sent strips "from the future" (flagged, never billed), one west of UTC strips hours early.
    An hour the clock skips or repeats at a change of daylight saving time is read with the offset before
    the change (``fold=0``)."""
    stamp = recording.start_time or recording.implausible_start
    if stamp is None:
        return None
    if stamp.tzinfo is not None:
        return stamp.astimezone(UTC)
    if recording.start_in_utc:
        return stamp.replace(tzinfo=UTC)
    with store.transaction() as session:
        enrolments = list(session.scalars(
            select(Enrolment)
            .where(_of_device(serial))
            .order_by(case((Enrolment.active_device == serial, 0), else_=1), Enrolment.start_date.desc(),
                      Enrolment.id.desc())
        ))
        # A recorder moved to a patient in another zone: a late strip of its earlier patient is in that
        # patient's clock. Read in the active enrolment's zone, it landed after the swap and went to the
        # next patient (until 2026-12-07). The enrolment whose swap bounds the strip read in its own zone
        # takes it, as in attribution (_attribute); else the active one's zone, else the latest's.
        for enrolment in enrolments:
            at = stamp.replace(tzinfo=zone_of(enrolment.time_zone)).astimezone(UTC)
            spell = worn_at(enrolment_spells(session, enrolment), at)
            if spell is not None and spell.serial == serial and spell.bounded and _period(enrolment).contains(
                period_day(enrolment, at)
            ):
                return at
        zone = enrolments[0].time_zone if enrolments else None
    return stamp.replace(tzinfo=zone_of(zone)).astimezone(UTC)


def _attribute(session: Session, serial: str, recorded: datetime) -> tuple[Enrolment | None, str]:
    """The enrolment a strip belongs to, and a flag when none fits (the strip still goes to a person)."""
    enrolments = list(
        session.scalars(select(Enrolment).where(_of_device(serial)).order_by(Enrolment.start_date.desc()))
    )
    if not enrolments:
        return None, "unknown_device"
    worn: list[tuple[Enrolment, Spell]] = []
    for enrolment in enrolments:
        spell = worn_at(enrolment_spells(session, enrolment), recorded)
        if spell is not None and spell.serial == serial and _period(enrolment).contains(
            period_day(enrolment, recorded)
        ):
            worn.append((enrolment, spell))
    # a swap's bounds say when the recorder was worn, to the minute; a period's dates only to the day (the
    # recorder freed by a swap may be worn by the next patient from the same day)
    worn.sort(key=lambda pair: not pair[1].bounded)
    if worn:
        enrolment = worn[0][0]
        # a strip of a period already closed is in neither its report nor its claim: a person sees it, it
        # is never billed (an addendum may be needed)
        return enrolment, "after_close" if enrolment.status == CLOSED else ""
    for enrolment in enrolments:
        if enrolment.device_serial != serial:
            continue  # a recorder swapped out: what it sends later is no longer this patient's
        day = period_day(enrolment, recorded)
        if day > _period(enrolment).end and day - _period(enrolment).end <= timedelta(days=30):
            return enrolment, "after_period"
    return None, "outside_enrolment"


def ingest_file(
    store: Store,
    path: Path,
    device: str,
    actor: str,
    message_id: str | None = None,
    received_at: datetime | None = None,
    classify: bool = True,
) -> IngestOutcome:
    """Store one strip, attribute it, queue it with its classification job, and run that job here and now
    unless ``classify`` is False (then a worker runs it: the service's way)."""
    received = received_at or now()
    received = received if received.tzinfo else received.replace(tzinfo=UTC)
    if message_id is not None and (not message_id.strip() or len(message_id) > 100):
        raise InputError("message-id", f"1-100 characters, got {message_id!r}")
    try:
        recording = open_recording(path)
        if recording.n_samples == 0:
            raise InputError("n_samples", "the strip holds no samples", path)
        from ecgdesk.analysis.strips.batch import MAX_STRIP_S

        if recording.duration_s > MAX_STRIP_S:  # a header error (or a Holter): never a monitor's strip
            raise InputError("duration", f"{recording.duration_s / 60:.0f} min is not a strip (at most "
                                         f"{MAX_STRIP_S / 60:.0f} min)", path)
        stored = record_files(Path(path), recording)
        blob = put_files(store.blob_root, stored.files)
    except EcgDeskError as error:
        return IngestOutcome(str(path), "refused", reason=str(error))
    # a device time the reader found implausible (it reads as unknown) still says the clock is wrong
    recorded = device_time(store, device, recording) or received
    clock = recorded
    # A strip cannot be recorded after it arrived: the device's clock is wrong, so its time says nothing
    # about the patient's period; it is held for a person (flagged, never billed) at the time it arrived,
    # the latest it can have been recorded, and the device's own time is kept in the audit row.
    future = recorded - received > CLOCK_SKEW
    if future:
        recorded = received
    try:
        with store.transaction() as session:
            # one ingest of a recorder at a time: a strip resent under two new message ids at once would
            # otherwise not see its twin (neither stored yet) and be stored twice
            serialise(session, f"recorder:{device}")
            same = [Transmission.sha256 == blob.sha256]
            if message_id:
                same.append(Transmission.message_id == message_id)
            earlier = list(
                session.scalars(select(Transmission).where(Transmission.device_serial == device, or_(*same)))
            )
            duplicate = next((t for t in earlier if t.sha256 == blob.sha256), None)
            why = "content"
            reused = next((t for t in earlier if t.sha256 != blob.sha256), None)  # the message id's
            if duplicate is None and reused is not None and _same_waveform(store, reused, recording):
                duplicate, why = reused, "message id and waveform"
            if duplicate is None and not future and recording.start_time is not None:
                # the same strip resent under a new message id, in files named after it: its bytes differ,
                # its samples and start time do not (reference section 5: message id and waveform hash)
                duplicate = _resent(store, session, device, recorded, recording)
                why = "waveform, resent under a new message id"
            if duplicate is not None:
                return IngestOutcome(
                    str(path),
                    "duplicate",
                    duplicate.id,
                    enrolment_id=duplicate.enrolment_id,
                    reason=f"same {why} as transmission {duplicate.id}",
                )
            warnings = list(recording.warnings)
            if reused is not None:
                # A message id seen before on another strip (a device's counter reset) is no duplicate:
                # dropping it would lose a strip nobody has seen (reference section 5: de-duplicate on
                # message id and waveform). It is kept without the id, which names the earlier strip.
                warnings.append(
                    f"message id {message_id} was used by transmission {reused.id} for another strip: this "
                    "one is stored and queued without it"
                )
            enrolment, flag = _attribute(session, device, recorded)
            if future:
                flag = "future_time"
            transmission = Transmission(
                enrolment_id=enrolment.id if enrolment else None,
                device_serial=device,
                message_id=None if reused is not None else message_id,
                sha256=blob.sha256,
                blob_dir=blob.relative_dir,
                main_file=stored.main,
                format=recording.format.value,
                recorded_at=recorded,
                received_at=received,
                duration_s=recording.duration_s,
                flag=flag,
                billable=enrolment is not None and not flag,
            )
            session.add(transmission)
            session.flush()
            item = QueueItem(
                transmission_id=transmission.id,
                enrolment_id=transmission.enrolment_id,
                priority=UNCLASSIFIED,
                reason="not yet classified",
                received_at=received,
                due_at=queue_policy().due_at(Priority.EMERGENT, received),
                status="open",
                note="",
            )
            session.add(item)
            session.flush()
            audit: list[NewAuditRow] = []  # the job's row and the strip's, written together
            job_id = enqueue_classification(session, item.id, transmission.id, blob.sha256, actor,
                                            fresh=True, audit=audit)
            audit.append((
                actor,
                "monitor:ingest",
                "transmission",
                transmission.id,
                None,
                {
                    "device": device,
                    "message_id": message_id,
                    "message_id_used_by": reused.id if reused is not None else None,
                    "sha256": blob.sha256,
                    "flag": flag,
                    "device_time": clock,
                    "enrolment_id": transmission.enrolment_id,
                    "queue_item": item.id,
                    "job": job_id,
                },
            ))
            append_many(session, audit)
            outcome = IngestOutcome(
                str(path), "queued", transmission.id, item.id, transmission.enrolment_id, flag,
                job_id=job_id, warnings=tuple(warnings),
            )
    except IntegrityError:  # the same strip from another process at the same instant
        return IngestOutcome(str(path), "duplicate", reason="received twice at the same time")
    if classify:
        outcome = IngestOutcome(**{**outcome.__dict__, "priority": _run_classification(store, job_id)})
    return outcome


def _resent(
    store: Store, session: Session, device: str, recorded: datetime, recording: Recording
) -> Transmission | None:
    """An earlier transmission of ``device`` with the samples of ``recording``, recorded at the same time."""
    candidates = session.scalars(
        select(Transmission).where(
            Transmission.device_serial == device,
            Transmission.recorded_at == recorded,
            Transmission.duration_s == recording.duration_s,
        )
    )
    return next((t for t in candidates if _same_waveform(store, t, recording)), None)


def _same_waveform(store: Store, earlier: Transmission, recording: Recording) -> bool:
    """Whether ``recording`` holds the samples of an earlier transmission (the same strip sent again in
    other files), whatever its file names."""
    try:
        stored = open_recording(store.blob_root / earlier.blob_dir / earlier.main_file)
    except EcgDeskError:
        return False
    if (stored.fs, stored.n_samples, len(stored.leads), stored.start_time) != (
        recording.fs, recording.n_samples, len(recording.leads), recording.start_time
    ):
        return False
    samples = stored.read(0, stored.n_samples)
    return bool(np.array_equal(samples, recording.read(0, recording.n_samples), equal_nan=True))


def ingest_received(
    store: Store, folder: Path, device: str, actor: str, message_id: str | None = None
) -> IngestOutcome:
    """Store the one strip received in ``folder`` (a device's upload) and queue its classification for
    the workers; more or fewer than one recording there is refused."""
    strips = collect([folder])
    if len(strips) != 1:
        raise InputError("files", f"send one strip per transmission; found {len(strips)} recordings")
    return ingest_file(store, strips[0], device, actor, message_id, classify=False)


def _run_classification(store: Store, job_id: int) -> str:
    """Run a classification job here (or wait for the worker running it); the item's priority."""
    from ecgdesk.workflow.jobs import job_failed, run_inline

    info = run_inline(store, job_id)
    if info.status != "done" or info.result is None:
        raise job_failed(f"classification job {job_id} ended {info.status}: {info.error}", info)
    return str(info.result["priority"])


def collect(paths: list[Path]) -> list[Path]:
    """The strips named: files, and the recordings in folders (by their header or single-file suffix)."""
    from ecgdesk.analysis.strips.batch import collect_strip_paths

    return collect_strip_paths(paths)


def classify_pending(store: Store, actor: str = TRIAGE_ACTOR) -> int:
    """Run here the classification jobs of the items still unclassified (queued, or held by a worker that
    stopped: they run once its lease expires); returns how many items there were."""
    from ecgdesk.jobs import queue

    with store.transaction() as session:
        pending = session.execute(
            select(QueueItem.id, Transmission.id, Transmission.sha256)
            .join(Transmission, Transmission.id == QueueItem.transmission_id)
            .where(QueueItem.classified_at.is_(None))
        ).all()
        jobs = [queue.enqueue(session, classify_spec(*row), actor)[0].id for row in pending]
    for job_id in jobs:
        _run_classification(store, job_id)
    return len(pending)
