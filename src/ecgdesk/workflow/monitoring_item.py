"""One attended-queue item as a technician opens it: the strip (mV, ready to draw on the grid) with its beat
labels, the classifier's reading and the rules that fired, the patient's criteria in force and the
patient's recent items.

The beat labels come from the ambulatory engine's beat classifier run on the strip **once**, at the first
view, and kept in ``strip_beats`` (the triage keeps the strip label, its reason and the rhythm events, not
the beats): opening the item again reads the stored labels. Every view is a read of patient data and is
audited.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecgdesk.errors import EcgDeskError, NotFoundError
from ecgdesk.monitoring.criteria import default_criteria, parse_criteria
from ecgdesk.records import Recording, open_recording
from ecgdesk.records.pyramid import GAP, lead_quantum_mv, quantize
from ecgdesk.store import Store
from ecgdesk.store.models import Patient, Study
from ecgdesk.store.monitoring_models import CriteriaVersion, Enrolment, QueueItem, Transmission
from ecgdesk.store.monitoring_strip_models import StripBeats
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.monitoring import current_criteria
from ecgdesk.workflow.monitoring_days import local_clock, zone_name
from ecgdesk.workflow.monitoring_notices import NoticeOut, item_notices
from ecgdesk.workflow.permissions import audit_read
from ecgdesk.workflow.signal import encode_int16
from ecgdesk.workflow.users import aware

#: The longest stretch of a strip sent to a viewer (s); event strips are 30 s to a few minutes.
MAX_VIEW_S = 300.0
#: Recent items of the same patient shown beside the open one.
RECENT_ITEMS = 12
ENGINE = "ecgdesk ambulatory beat classifier"


class StripBeatsOut(BaseModel):
    source: Literal["stored", "computed"] = Field(
        description="'stored': read from the labels kept at an earlier view; 'computed': labelled now, once"
    )
    engine: str
    offsets: list[int] = Field(description="each beat's sample, counted from the strip's first sample")
    labels: str = Field(description="each beat's class, one character per beat (N S V F Q)")
    counts: dict[str, int]
    note: str = ""


class StripOut(BaseModel):
    """The strip of one transmission, in the format of the study viewer's raw window (``docs/signal.md``)."""

    transmission_id: int
    lead: str
    fs: float
    duration_s: float
    recorded_at: str
    mode: Literal["raw"] = "raw"
    first_sample: int = 0
    unit: Literal["mV"] = "mV"
    scale_mv: float = Field(description="mV per integer step of the samples")
    encoding: Literal["int16-le-base64"] = "int16-le-base64"
    gap_value: int = GAP
    samples: str = Field(description="one value per sample from first_sample")
    truncated: bool = Field(description=f"the strip is longer than {MAX_VIEW_S:g} s and was cut there")
    beats: StripBeatsOut


class RecentItem(BaseModel):
    id: int
    received_at: str
    priority: str
    label: str | None
    reason: str
    status: str
    action: str | None
    confirmed_rhythm: str | None
    note: str


class CriteriaOut(BaseModel):
    source: str = Field(description="'signed version N' or the defaults, not yet signed")
    version: int | None
    signed_by: str | None
    signed_at: str | None
    rules: list[dict[str, Any]]


class ItemView(BaseModel):
    id: int
    status: str
    priority: str
    label: str | None
    reason: str
    received_at: str
    due_at: str
    overdue: bool
    action: str | None
    confirmed_rhythm: str | None
    note: str
    device: str
    flag: str
    enrolment_id: int | None
    patient: str | None
    patient_id: str | None
    time_zone: str | None = Field(
        default=None,
        description="the enrolment's zone (UTC where none was given; None: no enrolment): the zone of "
        "received_at, due_at and recorded_local",
    )
    recorded_local: str | None = Field(
        default=None, description="the strip's time on the patient's clock, with its offset: its period day"
    )
    observation: dict[str, Any] | None = Field(description="the triage's reading: label, rate, events")
    matched: list[dict[str, Any]] = Field(description="the criteria rules that set the priority")
    criteria: CriteriaOut | None
    recent: list[RecentItem]
    notifications: list[NoticeOut] = Field(
        default_factory=list, description="the item's notices, first sent first, with who acknowledged"
    )
    strip: StripOut | None
    strip_error: str = ""


def read_strip(store: Store, transmission: Transmission) -> Recording:
    return open_recording(store.blob_root / transmission.blob_dir / transmission.main_file)


def _label_beats(recording: Recording, index: int) -> tuple[str, list[int], str, str]:
    """(lead, beat samples, labels, note) from the ambulatory engine's beat classifier, on lead ``index``
    (the one the triage read: :func:`~ecgdesk.analysis.strips.classify.reading_lead`)."""
    from ecgdesk.analysis.pipeline import analyze

    lead = recording.leads[index].name
    try:
        result = analyze(recording, lead=index)
    except EcgDeskError as error:
        return lead, [], "", f"no beats labelled: {error}"
    samples = [int(s) for s in np.asarray(result.beats.samples)]
    labels = "".join(str(label) for label in np.asarray(result.beats.labels))
    return lead, samples, labels, "" if samples else "no beats found in the strip"


def strip_beats(
    store: Store, transmission: Transmission, actor: str, opened: tuple[Recording, int] | None = None
) -> tuple[StripBeats, bool]:
    """The strip's beat labels: stored ones, or labelled now and stored (True) at the first view.
    ``opened``: the strip already open and the lead the triage read, so the first view opens it once."""
    from ecgdesk.analysis.strips.classify import reading_lead

    with store.transaction() as session:
        row = session.get(StripBeats, transmission.id)
        if row is not None:
            session.expunge(row)
            return row, False
    if opened is None:
        recording = read_strip(store, transmission)
        opened = recording, reading_lead(recording)
    lead, samples, labels, note = _label_beats(*opened)
    row = StripBeats(
        transmission_id=transmission.id,
        lead=lead,
        samples_json=json.dumps(samples),
        labels=labels,
        engine=ENGINE,
        note=note,
        computed_at=now(),
        computed_by=actor,
    )
    try:
        with store.transaction() as session:
            session.add(row)
            session.flush()
            session.expunge(row)
    except IntegrityError:  # two first views at once: the other one's labels stand
        with store.transaction() as session:
            stored = session.get(StripBeats, transmission.id)
            assert stored is not None
            session.expunge(stored)
            return stored, False
    return row, True


def _strip(store: Store, transmission: Transmission, actor: str) -> StripOut:
    from ecgdesk.analysis.strips.classify import read_strip_lead

    recording = read_strip(store, transmission)
    stop = min(recording.n_samples, int(MAX_VIEW_S * recording.fs))
    index, values = read_strip_lead(recording, stop=stop)  # the lead the triage read: the first unless flat
    quantum = lead_quantum_mv(recording.leads[index])
    ints = quantize(values[:, None], np.array([quantum]))[:, 0]
    beats, computed = strip_beats(store, transmission, actor, (recording, index))
    offsets = json.loads(beats.samples_json)
    kept = [(o, lab) for o, lab in zip(offsets, beats.labels, strict=True) if o < stop]
    labels = "".join(lab for _, lab in kept)
    return StripOut(
        transmission_id=transmission.id,
        lead=recording.leads[index].name,
        fs=recording.fs,
        duration_s=round(stop / recording.fs, 3),
        recorded_at=aware(transmission.recorded_at).isoformat(),
        scale_mv=quantum,
        samples=encode_int16(ints),
        truncated=stop < recording.n_samples,
        beats=StripBeatsOut(
            source="computed" if computed else "stored",
            engine=beats.engine,
            offsets=[o for o, _ in kept],
            labels=labels,
            counts={c: labels.count(c) for c in "NSVFQ" if c in labels},
            note=beats.note,
        ),
    )


def _criteria(session: Session, item: QueueItem) -> CriteriaOut | None:
    """The criteria the item's priority follows: the version its triage used (in force when the strip
    arrived), not one signed since, whose rules may not be the ones shown as fired."""
    enrolment_id = item.enrolment_id
    if enrolment_id is None:
        return None
    if item.classified_at is not None:
        version = item.criteria_version
        row = None if version is None else session.scalar(
            select(CriteriaVersion).where(
                CriteriaVersion.enrolment_id == enrolment_id, CriteriaVersion.version == version
            )
        )
        criteria = (
            parse_criteria(json.loads(row.rules_json), f"signed version {version}") if row is not None
            else default_criteria()
        )
    else:
        criteria, version = current_criteria(session, enrolment_id, aware(item.received_at))
    signed = None
    if version is not None:
        signed = session.scalar(
            select(CriteriaVersion).where(
                CriteriaVersion.enrolment_id == enrolment_id, CriteriaVersion.version == version
            )
        )
    return CriteriaOut(
        source=criteria.source if version is not None else f"{criteria.source} (not yet signed)",
        version=version,
        signed_by=signed.signed_by if signed else None,
        signed_at=aware(signed.signed_at).isoformat() if signed else None,
        rules=[rule.to_dict() for rule in criteria.rules],
    )


def _recent(session: Session, item: QueueItem, time_zone: str | None) -> list[RecentItem]:
    if item.enrolment_id is None:
        return []
    rows = session.scalars(
        select(QueueItem)
        .where(QueueItem.enrolment_id == item.enrolment_id, QueueItem.id != item.id)
        .order_by(QueueItem.received_at.desc(), QueueItem.id.desc())
        .limit(RECENT_ITEMS)
    )
    return [
        RecentItem(
            id=r.id,
            received_at=local_clock(r.received_at, time_zone).isoformat(),
            priority=r.priority,
            label=r.label,
            reason=r.reason,
            status=r.status,
            action=r.action,
            confirmed_rhythm=r.confirmed_rhythm,
            note=r.note or "",
        )
        for r in rows
    ]


def item_view(store: Store, item_id: int, actor: str) -> ItemView:
    """Everything a technician needs to review one queue item; the read is audited."""
    with store.transaction() as session:
        item = session.get(QueueItem, item_id)
        if item is None:
            raise NotFoundError("item", f"no queue item with id {item_id}")
        transmission = session.get(Transmission, item.transmission_id)
        assert transmission is not None
        patient = None
        enrolment = session.get(Enrolment, item.enrolment_id) if item.enrolment_id is not None else None
        study = session.get(Study, enrolment.study_id) if enrolment is not None else None
        if study is not None:
            patient = session.get(Patient, study.patient_id)
        zone = enrolment.time_zone if enrolment is not None else None
        base = {
            "id": item.id,
            "status": item.status,
            "priority": item.priority,
            "label": item.label,
            "reason": item.reason,
            # on the patient's clock with its offset, as the strip's own time (until 2026-12-07 UTC's)
            "received_at": local_clock(item.received_at, zone).isoformat(),
            "due_at": local_clock(item.due_at, zone).isoformat(),
            "overdue": item.status == "open" and aware(item.due_at) < now(),
            "action": item.action,
            "confirmed_rhythm": item.confirmed_rhythm,
            "note": item.note or "",
            "device": transmission.device_serial,
            "flag": transmission.flag,
            "enrolment_id": item.enrolment_id,
            "patient": patient.name if patient else None,
            "patient_id": patient.external_id if patient else None,
            "time_zone": zone_name(enrolment.time_zone) if enrolment else None,
            "recorded_local": local_clock(transmission.recorded_at, enrolment.time_zone).isoformat()
            if enrolment
            else None,
            "observation": json.loads(item.observation_json or "null"),
            "matched": json.loads(item.matched_json or "[]"),
            "criteria": _criteria(session, item),
            "recent": _recent(session, item, zone),
            "notifications": item_notices(session, item.id, zone),
        }
        session.expunge(transmission)
    strip, error = None, ""
    try:
        strip = _strip(store, transmission, actor)
    except EcgDeskError as failure:  # a corrupt strip is still reviewed: the panel says why it has no trace
        error = str(failure)
    with store.transaction() as session:
        audit_read(
            session,
            actor,
            "monitor-item",
            "queue_item",
            item_id,
            {
                "transmission_id": transmission.id,
                "beats": None if strip is None else strip.beats.source,
            },
        )
    return ItemView(**base, strip=strip, strip_error=error)


def strip_window(
    store: Store, transmission: Transmission, onset_s: float | None, seconds: float
) -> tuple[np.ndarray, float, datetime]:
    """``seconds`` of a strip (mV) starting 3 s before ``onset_s`` (the report shows what came before), its
    rate and the clock time of its first sample; the lead the triage read (the first unless it is flat)."""
    from ecgdesk.analysis.strips.classify import read_strip_lead

    recording = read_strip(store, transmission)
    fs = recording.fs
    shown = min(int(seconds * fs), recording.n_samples)
    offset = 0 if onset_s is None else int(max(0.0, onset_s - 3.0) * fs)
    offset = max(0, min(offset, recording.n_samples - shown))
    data = read_strip_lead(recording, start=offset, stop=offset + shown)[1]
    start = aware(transmission.recorded_at).replace(tzinfo=None) + timedelta(seconds=offset / fs)
    return np.asarray(data, dtype=np.float64), fs, start
