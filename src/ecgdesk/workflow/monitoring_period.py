"""Closing a monitoring period: the end-of-service summary, the strips as the study's recording, the report.

A period closes only when every strip of it has been reviewed by a person (the open items are listed
otherwise). Closing joins the period's billable strips, in time order, into one recording of the study
(2 s of flat line between strips; strips at another sampling rate are resampled), stores the summary as the
study's analysis run, records the hook-up and the attended monitoring as components, and frees the device.
The physician then reads, interprets and signs the report through the usual report versions and
signatures; coding takes the period's dates (:func:`period_of_study`).
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ecgdesk.coding import Component
from ecgdesk.errors import InputError
from ecgdesk.monitoring.periods import Period
from ecgdesk.records import Recording, open_recording, write_recording
from ecgdesk.reports.context import SignatureBlock
from ecgdesk.reports.monitoring_report import EventStripImage, MonitoringReportContext
from ecgdesk.store import Store, append, canonical_json, serialise
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import Order, Study, User
from ecgdesk.store.monitoring_models import (
    CriteriaVersion,
    Enrolment,
    Notification,
    QueueItem,
    Transmission,
)
from ecgdesk.workflow.analysis import insert_run
from ecgdesk.workflow.lifecycle import move, now
from ecgdesk.workflow.monitoring import ACTIVE, CLOSED, enrolment_spells, get_enrolment
from ecgdesk.workflow.monitoring_days import (
    local_clock,
    local_today,
    period_day,
    period_seconds,
    period_span,
    zone_name,
)
from ecgdesk.workflow.monitoring_roster import period_gaps
from ecgdesk.workflow.monitoring_sets import early_stop_note
from ecgdesk.workflow.report_parts import report_parts
from ecgdesk.workflow.studies import get_study, import_recording, set_component
from ecgdesk.workflow.users import aware

ALGORITHM_VERSION = "ecgdesk-monitoring 0.1.0"
GAP_S = 2.0
MAX_REPORT_STRIPS = 12
REPORT_STRIP_S = 15.0  # two rows at 25 mm/s


@dataclass(frozen=True)
class ClosedPeriod:
    enrolment_id: int
    study_id: int
    start: str
    end: str
    transmissions: int
    notified_events: int
    coverage_gaps: int
    warnings: tuple[str, ...] = ()




def _join(
    store: Store, strips: list[Transmission], folder: Path, name: str
) -> tuple[Path, list[dict[str, Any]]]:
    """Write the strips as one WFDB record (each strip's lead the triage read); the index says where each
    strip starts in it."""
    from ecgdesk.analysis.strips.classify import read_strip_lead

    recordings = (open_recording(store.blob_root / t.blob_dir / t.main_file) for t in strips)
    first = next(recordings)
    fs = first.fs
    parts, index, names, cursor = [], [], [], 0
    for transmission, recording in zip(strips, itertools.chain([first], recordings), strict=True):
        lead, samples = read_strip_lead(recording)
        names.append(recording.leads[lead].name)
        signal = np.asarray(samples, dtype=np.float64)
        if recording.fs != fs:
            from scipy.signal import resample_poly

            ratio = Fraction(fs / recording.fs).limit_denominator(1000)
            signal = resample_poly(signal, ratio.numerator, ratio.denominator)
        signal = np.nan_to_num(signal)
        index.append(
            {
                "transmission_id": transmission.id,
                "start_sample": cursor,
                "n_samples": int(signal.size),
                "recorded_at": aware(transmission.recorded_at).isoformat(),
            }
        )
        parts += [signal, np.zeros(int(GAP_S * fs))]
        cursor += int(signal.size) + int(GAP_S * fs)
    joined = Recording.from_array(
        np.concatenate(parts).astype(np.float32),
        fs,
        lead_names=names[:1],  # the first strip's lead names the joined record
        start_time=aware(strips[0].recorded_at).replace(tzinfo=None),
        record_name=name,
    )
    return write_recording(joined, folder, "wfdb", name), index


def notified_events(
    session: Session, items: list[QueueItem], time_zone: str | None = None
) -> list[dict[str, Any]]:
    """Each event a physician was told of, with its notification log; times on the patient's clock
    (``time_zone``, UTC without one), with their offset."""
    events = []
    for item in items:
        if item.action not in {"notified", "escalated"}:
            continue
        notices = session.scalars(
            select(Notification).where(Notification.queue_item_id == item.id).order_by(Notification.id)
        )
        events.append(
            {
                "item_id": item.id,
                "transmission_id": item.transmission_id,
                "priority": item.priority,
                "onset_s": _onset(item),
                "received_at": _clock(item.received_at, time_zone),
                "reason": item.reason,
                "label": item.label,
                "action": item.action,
                "confirmed_rhythm": item.confirmed_rhythm,
                "note": item.note,
                "notifications": [
                    {
                        "recipient": n.recipient,
                        "channel": n.channel,
                        "tier": n.tier,
                        "sent_at": _clock(n.sent_at, time_zone),
                        "read_back": n.read_back,
                        "acknowledged_at": (
                            _clock(n.acknowledged_at, time_zone) if n.acknowledged_at else None
                        ),
                        "outcome": n.outcome,
                        "escalation": n.escalated_from_id is not None,
                    }
                    for n in notices
                ],
            }
        )
    return events


def _onset(item: QueueItem) -> float | None:
    """Where in its strip the earliest event that fired a rule begins (the report centres the strip there)."""
    kinds = {rule.get("event") for rule in json.loads(item.matched_json or "[]")}
    observed = json.loads(item.observation_json or "null") or {}
    starts = [
        e["start_s"]
        for e in observed.get("events", [])
        if e.get("kind") in kinds and e.get("start_s") is not None
    ]
    return min(starts) if starts else None


def rhythm_summary(items: list[QueueItem]) -> str:
    labels = Counter(i.label for i in items if i.label)
    rhythms = Counter((i.confirmed_rhythm or "").strip().lower() for i in items if i.confirmed_rhythm)
    names = {"N": "sinus rhythm", "A": "AF or flutter", "O": "other rhythm", "~": "unreadable"}
    text = "Strip classifier: " + ", ".join(f"{names.get(k, k)} {v}" for k, v in labels.most_common()) + "."
    if not labels:  # a day with no strip read "Strip classifier: ." in its daily report
        text = "No strip classified."
    if rhythms:
        text += (
            " Confirmed by the technicians: " + ", ".join(f"{k} {v}" for k, v in rhythms.most_common()) + "."
        )
    return text


def close_period(
    store: Store, enrolment_id: int, actor: str, stopped_early_on: date | None = None
) -> ClosedPeriod:
    """Close an enrolment's period (every strip reviewed first) and prepare its report."""
    with store.transaction() as session:
        enrolment = get_enrolment(session, enrolment_id)
        if enrolment.status != ACTIVE:
            raise InputError("enrolment", f"enrolment {enrolment_id} is {enrolment.status} already")
        period = Period(enrolment.start_date, enrolment.days, None)
        if stopped_early_on is not None and not period.start <= stopped_early_on <= period.planned_end:
            raise InputError(
                "stopped-early",
                f"{stopped_early_on} is outside the period {period.start} to {period.planned_end}",
            )
        # the patient's today: by UTC's, a Los Angeles period closed at 17:00 on its last day (01:00 UTC the
        # next) and its evening's strips came after the close; a Tokyo one waited nine hours past its end
        today = local_today(enrolment.time_zone, now())
        zone = zone_name(enrolment.time_zone)
        if stopped_early_on is not None and stopped_early_on > today:
            # a documented stop is one that happened: a later day would date the claim after today and free
            # the device while the patient still wears it (the strips of the days left never billed)
            raise InputError(
                "stopped-early",
                f"{stopped_early_on} is still to come (today is {today} in {zone}): give the day the "
                "monitoring stopped, or close the period once it has",
            )
        if stopped_early_on is None and today <= period.planned_end:
            # the period's end is its date of service: a claim must not be dated after the last strip; and
            # its last day runs to midnight (closed at noon, the afternoon's strips were "after close")
            raise InputError(
                "stopped-early",
                f"the period runs until the end of {period.planned_end} ({zone}); closing it on {today} "
                "needs the date the monitoring stopped",
            )
        open_items = list(
            session.scalars(
                select(QueueItem.id).where(QueueItem.enrolment_id == enrolment_id, QueueItem.status == "open")
            )
        )
        if open_items:
            shown = ", ".join(str(i) for i in open_items[:20]) + (" ..." if len(open_items) > 20 else "")
            raise InputError(
                "items",
                f"{len(open_items)} strip(s) of this period are not reviewed yet "
                f"(queue items {shown}): every strip is reviewed by a person before closing",
            )
        strips = list(
            session.scalars(
                select(Transmission)
                .where(Transmission.enrolment_id == enrolment_id, Transmission.flag == "")
                .order_by(Transmission.recorded_at, Transmission.id)
            )
        )
        stop = stopped_early_on
        late = [t for t in strips if stop and period_day(enrolment, t.recorded_at) > stop]
        if late:
            # the report would show, and the claim bill, strips from after the day its technical part is
            # dated; the technician gives the day it really stopped (strips are never dropped)
            raise InputError(
                "stopped-early",
                f"{len(late)} strip(s) of this period were recorded after {stopped_early_on} (transmission "
                f"{late[-1].id} at {local_clock(late[-1].recorded_at, enrolment.time_zone):%Y-%m-%d %H:%M} "
                f"{zone}): the monitoring had not "
                "stopped then; give the day it did",
            )
        study_id = enrolment.study_id
    period = Period(period.start, period.days, stopped_early_on)
    warnings: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="ecgdesk-period-"))
    joined = [t.id for t in strips]

    def finish(session: Session, index: list[dict[str, Any]]) -> ClosedPeriod:
        enrolment = _still_as_checked(session, enrolment_id, joined)
        study = get_study(session, study_id)
        if stopped_early_on is not None:  # reference monitoring.md 5 rule 1: said now, not at the claim
            note = early_stop_note(session, study.patient_id, study_id, period.end)
            warnings.extend([note] if note else [])
        document = _document(session, enrolment, period, index)
        if strips:
            run_folder = store.studies_root / str(study_id) / "runs" / f"period-{enrolment_id}"
            run_folder.mkdir(parents=True, exist_ok=True)
            main = run_folder / "period.json"
            main.write_text(canonical_json(document) + "\n", encoding="utf-8")
            insert_run(
                store,
                session,
                study,
                f"period-{enrolment_id}-{study_id}",
                algorithm_version=ALGORITHM_VERSION,
                findings_json=canonical_json(document),
                main_file=main,
                analyzable_s=document["transmissions"]["ecg_minutes"] * 60,
                wear_s=period_seconds(period, enrolment.time_zone),  # to a documented stop
                actor=actor,
            )
            move(session, study, StudyStatus.ANALYZED, actor, "close monitoring period")
            order = session.get(Order, study.order_id)
            assert order is not None
            set_component(
                session, study_id, Component.RECORDING, _name(session, enrolment.created_by), None, order
            )
            set_component(session, study_id, Component.MONITORING, _name(session, actor), None, order)
        enrolment.status, enrolment.active_device = CLOSED, None
        enrolment.closed_at, enrolment.stopped_early_on = now(), stopped_early_on
        append(
            session,
            actor,
            "monitor:close",
            "enrolment",
            enrolment_id,
            {"status": ACTIVE},
            {
                "status": CLOSED,
                "end": period.end,
                "transmissions": len(strips),
                "events": len(document["events"]),
                "coverage_gaps": len(document["coverage_gaps"]),
                "warnings": warnings,
            },
        )
        if document["coverage_gaps"]:
            warnings.append(
                f"{len(document['coverage_gaps'])} stretch(es) of the period had no technician or "
                "no on-call physician: the attended monitoring is not billable as such (coding bills "
                "the hook-up and the read of an event monitor, the read of telemetry)"
            )
        return ClosedPeriod(
            enrolment_id,
            study_id,
            period.start.isoformat(),
            period.end.isoformat(),
            len(strips),
            len(document["events"]),
            len(document["coverage_gaps"]),
            tuple(warnings),
        )

    try:
        if not strips:
            warnings.append("no transmission in the period: nothing to report or bill")
            with store.transaction() as session:
                return finish(session, [])
        path, index = _join(store, strips, folder, f"period-{enrolment_id}")
        closed: list[ClosedPeriod] = []
        # the recording is attached and the period closed in one transaction, after the strips are checked
        # again: one may have arrived while they were joined
        import_recording(store, study_id, path, actor,
                         attached=lambda session, _: closed.append(finish(session, index)))
        return closed[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _still_as_checked(session: Session, enrolment_id: int, joined: list[int]) -> Enrolment:
    """The enrolment, locked, once its recorders' ingests are done, refused unless it is still active with
    every strip reviewed and no strip but those ``joined``. Closing checks them, then joins the strips
    (seconds for a 30-day period) and closes in a later transaction: until 2026-12-07 a strip sent meanwhile
    went to the still-active period and stayed an open item of a closed one, counted billable, in neither
    its report nor its claim; a second close at the same moment imported and closed it twice."""
    enrolment = get_enrolment(session, enrolment_id)
    for serial in sorted({spell.serial for spell in enrolment_spells(session, enrolment)}):
        serialise(session, f"recorder:{serial}")  # an ingest of the recorder attributes under this lock
    session.refresh(enrolment, with_for_update=True)
    if enrolment.status != ACTIVE:
        raise InputError("enrolment", f"enrolment {enrolment_id} is {enrolment.status} already")
    arrived = list(session.scalars(
        select(QueueItem.id).join(Transmission, QueueItem.transmission_id == Transmission.id).where(
            QueueItem.enrolment_id == enrolment_id,
            or_(QueueItem.status == "open", (Transmission.flag == "") & Transmission.id.not_in(joined)),
        ).order_by(QueueItem.id)
    ))
    if arrived:
        raise InputError(
            "items",
            f"{len(arrived)} strip(s) of this period arrived while it was being closed "
            f"(queue items {', '.join(str(i) for i in arrived[:20])}): review them and close again",
        )
    return enrolment


def _clock(moment: datetime, time_zone: str | None) -> str:
    return local_clock(moment, time_zone).isoformat()


def _name(session: Session, username: str) -> str:
    user = session.scalar(select(User).where(User.username == username))
    return user.display_name if user else username


def _document(
    session: Session, enrolment: Enrolment, period: Period, index: list[dict[str, Any]]
) -> dict[str, Any]:
    items = list(
        session.scalars(
            select(QueueItem).where(QueueItem.enrolment_id == enrolment.id).order_by(QueueItem.received_at)
        )
    )
    all_strips = list(session.scalars(select(Transmission).where(Transmission.enrolment_id == enrolment.id)))
    version = session.scalar(
        select(CriteriaVersion)
        .where(CriteriaVersion.enrolment_id == enrolment.id)
        .order_by(CriteriaVersion.version.desc())
        .limit(1)
    )
    zone = enrolment.time_zone
    gaps = period_gaps(session, period, zone)
    billable = [t for t in all_strips if not t.flag]
    return {
        "kind": enrolment.service,
        "algorithm_version": ALGORITHM_VERSION,
        "enrolment_id": enrolment.id,
        "device": enrolment.device_serial,
        # every recorder the patient wore, in turn (one unless a recorder was swapped within the period)
        "devices": [
            {
                "serial": spell.serial,
                "from": _clock(spell.start, enrolment.time_zone) if spell.start else period.start.isoformat(),
                "to": _clock(spell.end, enrolment.time_zone) if spell.end else period.end.isoformat(),
                "reason": spell.reason,
            }
            for spell in enrolment_spells(session, enrolment)
        ],
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            # the days monitored: one stopped on its 3rd day read "30 days", "transmissions on 2 of 30"
            "days": period.monitored_days,
            "planned_days": period.days,
            "stopped_early": period.stopped_early_on is not None,
            # the patient's days, and the zone of every time below (a period closed before 2026-12-07: UTC)
            "time_zone": zone_name(enrolment.time_zone),
        },
        "criteria": f"signed version {version.version} by {version.signed_by} on {version.signed_at:%Y-%m-%d}"
        if version
        else "defaults, never signed by the ordering physician",
        "criteria_versions": criteria_in_force(session, enrolment.id, period, enrolment.time_zone),
        "transmissions": {
            "received": len(all_strips),
            "reviewed": sum(1 for i in items if i.status == "closed"),
            "flagged": sum(1 for t in all_strips if t.flag),
            "days_with_data": len({period_day(enrolment, aware(t.recorded_at)) for t in billable}),
            "ecg_minutes": round(sum(t.duration_s for t in billable) / 60.0, 2),
            "by_priority": dict(Counter(i.priority for i in items).most_common()),
            "by_label": dict(Counter(i.label or "?" for i in items).most_common()),
        },
        "rhythm_summary": rhythm_summary(items),
        "events": notified_events(session, items, zone),
        "technician_notes": [
            f"{_clock(i.closed_at, zone)[:16] if i.closed_at else ''} {i.closed_by}: {i.note}"
            for i in items
            if i.note
        ],
        "coverage_gaps": [
            {"start": _clock(g.start, zone), "end": _clock(g.end, zone), "missing": g.missing} for g in gaps
        ],
        "strip_index": index,
    }


def criteria_in_force(
    session: Session, enrolment_id: int, period: Period, time_zone: str | None = None
) -> list[dict[str, Any]]:
    """Each criteria version that governed part of the period, with its signer and the stretch it governed:
    the defaults until the first signature, each version until the next one, to the end of the period (a
    strip is triaged by the version current when it is classified). A bound at the start or the end of the
    period is its date; one set by a signature is its time (on the patient's clock, with its offset). The
    period's days are the patient's, in ``time_zone`` (UTC without one)."""
    versions = list(
        session.scalars(
            select(CriteriaVersion)
            .where(CriteriaVersion.enrolment_id == enrolment_id)
            .order_by(CriteriaVersion.version)
        )
    )
    start, end = period_span(period, time_zone)
    signed = [aware(v.signed_at) for v in versions]
    stretches: list[tuple[CriteriaVersion | None, datetime, datetime]] = [
        (None, start, signed[0] if signed else end)
    ]
    following = [*signed[1:], end] if signed else []
    stretches += [(v, at, after) for v, at, after in zip(versions, signed, following, strict=True)]
    out = []
    for version, begins, ends in stretches:
        begins, ends = max(begins, start), min(ends, end)
        if begins >= ends:
            continue  # superseded before the period began, or signed after it ended
        out.append(
            {
                "version": version.version if version else None,
                "signed_by": version.signed_by if version else None,
                "signer": _name(session, version.signed_by) if version else None,
                "signed_at": local_clock(version.signed_at, time_zone).isoformat() if version else None,
                "from": period.start.isoformat() if begins == start else _clock(begins, time_zone),
                "to": period.end.isoformat() if ends == end else _clock(ends, time_zone),
            }
        )
    return out


def build_monitoring_context(
    store: Store, session: Session, study: Study, version: int, signature: SignatureBlock | None = None
) -> MonitoringReportContext:
    """The end-of-service report of a monitoring study as stored now (for reporting and signing)."""
    parts = report_parts(store, session, study, version)
    document = json.loads(parts.run.findings_json)
    starts = {entry["transmission_id"]: entry for entry in document.get("strip_index", [])}
    zone = document["period"].get("time_zone")  # the patient's clock for the captions
    images = []
    for event in document.get("events", [])[:MAX_REPORT_STRIPS]:
        entry = starts.get(event["transmission_id"])
        if entry is None:
            continue
        fs = parts.recording.fs
        shown = int(REPORT_STRIP_S * fs)
        onset = event.get("onset_s")
        offset = 0 if onset is None else int(max(0.0, onset - 3.0) * fs)  # 3 s of what came before
        offset = max(0, min(offset, entry["n_samples"] - shown))
        first = entry["start_sample"] + offset
        data = parts.recording.read(first, first + min(shown, entry["n_samples"]))[:, 0]
        when = local_clock(datetime.fromisoformat(entry["recorded_at"]), zone).replace(tzinfo=None)
        when += timedelta(seconds=offset / fs)
        images.append(
            EventStripImage(
                f"recorded {when:%Y-%m-%d %H:%M:%S}   {event['reason']}",
                np.asarray(data, dtype=np.float64),
                fs,
                when,
            )
        )
    return MonitoringReportContext(
        parts.header,
        document["kind"],
        document,
        images,
        parts.interpretation,
        signature,
        [a for a in parts.addenda],
    )


def period_of_study(session: Session, study_id: int) -> Period | None:
    """The monitoring period of a study (None for other services): coding dates it by the period."""
    enrolment = session.scalar(select(Enrolment).where(Enrolment.study_id == study_id))
    if enrolment is None:
        return None
    return Period(enrolment.start_date, enrolment.days, enrolment.stopped_early_on)
