"""The daily report of a monitored patient (mobile cardiac telemetry sends one to the physician every day):
what the monitoring saw on one day, from the strips recorded that day -- the patient's calendar day, in the
zone of the enrolment (UTC where none was given; until 2026-12-07 always UTC's) -- how many arrived and were
reviewed, the priorities and rhythm labels, each event a physician was told of with its notification log,
the technicians' notes, and what is still open. The same figures as the end-of-service report, for a day.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import EcgDeskError, InputError, NotFoundError
from ecgdesk.monitoring.periods import Period
from ecgdesk.store import Store, append
from ecgdesk.store.models import Patient, Study
from ecgdesk.store.monitoring_models import Enrolment, QueueItem, Transmission
from ecgdesk.workflow.monitoring import enrolment_spells
from ecgdesk.workflow.monitoring_days import days_span, local_clock, zone_name
from ecgdesk.workflow.monitoring_period import notified_events, rhythm_summary


@dataclass(frozen=True)
class DailyReport:
    enrolment_id: int
    patient: str
    patient_id: str
    device: str
    service: str
    day: str
    received: int
    reviewed: int
    open: int
    flagged: int
    ecg_minutes: float
    by_priority: dict[str, int]
    by_label: dict[str, int]
    rhythm_summary: str
    events: list[dict[str, Any]] = field(default_factory=list)
    technician_notes: list[str] = field(default_factory=list)
    time_zone: str = "UTC"  # the zone of the day and of the recorders' hours

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"

    def text(self) -> str:
        lines = [
            f"Daily monitoring report -- {self.patient} ({self.patient_id}), {self.day} ({self.time_zone})",
            f"Enrolment {self.enrolment_id}, device {self.device}, {self.service.replace('_', ' ')}",
            f"Strips recorded: {self.received} (reviewed {self.reviewed}, open {self.open}, "
            f"flagged {self.flagged}); ECG {self.ecg_minutes:g} min",
            "By priority: " + (", ".join(f"{k} {v}" for k, v in self.by_priority.items()) or "none"),
            self.rhythm_summary if self.received else "No strips were recorded on this day.",
            f"Events notified: {len(self.events)}",
        ]
        for event in self.events:
            what = f"{event['priority']}: {event['reason']} ({event['action']})"
            lines.append(f"  {event['received_at'][:16]} {what}")
            for notice in event["notifications"]:
                ack = f", acknowledged {notice['acknowledged_at'][:16]}" if notice["acknowledged_at"] else ""
                lines.append(
                    f"    {notice['sent_at'][:16]} {notice['channel']} to {notice['recipient']}"
                    f"{', read back' if notice['read_back'] else ''}{ack}"
                    f"{': ' + notice['outcome'] if notice['outcome'] else ''}"
                )
        if self.technician_notes:
            lines.append("Technician notes:")
            lines += [f"  {note}" for note in self.technician_notes]
        return "\n".join(lines) + "\n"


def _worn(session: Session, enrolment: Enrolment, start: datetime, end: datetime) -> str:
    """The recorders the patient wore on the day (several when one was swapped that day, with the time)."""
    worn = [
        s for s in enrolment_spells(session, enrolment)
        if (s.start is None or s.start < end) and (s.end is None or s.end > start)
    ]
    if len(worn) == 1:
        return worn[0].serial
    parts = []
    for spell in worn:
        bounds = []
        if spell.start is not None and spell.start > start:
            bounds.append(f"from {local_clock(spell.start, enrolment.time_zone):%H:%M}")
        if spell.end is not None and spell.end < end:
            bounds.append(f"to {local_clock(spell.end, enrolment.time_zone):%H:%M}")
        parts.append(" ".join([spell.serial, *bounds]))
    return ", ".join(parts)


def daily_report(store: Store, enrolment_id: int, day: date, actor: str) -> DailyReport:
    """The report of ``day`` for an enrolment; the read is audited (patient data)."""
    with store.transaction() as session:
        enrolment = session.get(Enrolment, enrolment_id)
        if enrolment is None:
            raise NotFoundError("enrolment", f"no enrolment with id {enrolment_id}")
        # the patient's day: a Tokyo morning's strips were the UTC day before's, a day on which the clocks
        # change 23 or 25 hours long
        start, end = days_span(day, day, enrolment.time_zone)
        period = Period(enrolment.start_date, enrolment.days, enrolment.stopped_early_on)
        if not period.contains(day):
            # A day the patient was not monitored would read as a day on which nothing was seen.
            raise InputError(
                "date",
                f"{day.isoformat()} is outside the monitoring period of enrolment {enrolment_id} "
                f"({period.start.isoformat()} to {period.end.isoformat()})",
            )
        study = session.get(Study, enrolment.study_id)
        patient = session.get(Patient, study.patient_id) if study else None
        rows = session.execute(
            select(QueueItem, Transmission)
            .join(Transmission, QueueItem.transmission_id == Transmission.id)
            .where(
                QueueItem.enrolment_id == enrolment_id,
                Transmission.recorded_at >= start,
                Transmission.recorded_at < end,
            )
            .order_by(Transmission.recorded_at, QueueItem.id)
        ).all()
        items = [item for item, _ in rows]
        strips = [strip for _, strip in rows]
        report = DailyReport(
            enrolment_id=enrolment.id,
            patient=patient.name if patient else "",
            patient_id=patient.external_id if patient else "",
            device=_worn(session, enrolment, start, end),
            service=enrolment.service,
            day=day.isoformat(),
            received=len(items),
            reviewed=sum(1 for i in items if i.status == "closed"),
            open=sum(1 for i in items if i.status != "closed"),
            flagged=sum(1 for s in strips if s.flag),
            ecg_minutes=round(sum(s.duration_s for s in strips) / 60.0, 2),
            by_priority=dict(Counter(i.priority for i in items).most_common()),
            by_label=dict(Counter(i.label or "?" for i in items).most_common()),
            rhythm_summary=rhythm_summary(items),
            events=notified_events(session, items, enrolment.time_zone),
            technician_notes=[
                f"{local_clock(i.closed_at, enrolment.time_zone).isoformat()[:16] if i.closed_at else ''} "
                f"{i.closed_by}: {i.note}"
                for i in items
                if i.note
            ],
            time_zone=zone_name(enrolment.time_zone),
        )
        append(
            session,
            actor,
            "monitor:daily-report",
            "enrolment",
            enrolment_id,
            None,
            {"day": day.isoformat(), "strips": len(items)},
        )
    return report


#: Seconds of each notified event's strip in the PDF (two rows at 25 mm/s, as the end-of-service report).
PDF_STRIP_S = 15.0
MAX_PDF_STRIPS = 24


def daily_report_pdf(store: Store, enrolment_id: int, day: date, actor: str, path: Path) -> DailyReport:
    """The daily report written as a PDF at ``path``: the day's figures, each notified event with its
    notification log and its strip on the grid (from 3 s before the event that fired the rule)."""
    from ecgdesk.reports.monitoring_daily import render_daily
    from ecgdesk.reports.monitoring_report import EventStripImage
    from ecgdesk.workflow.monitoring_item import strip_window

    if not path.parent.is_dir():
        raise InputError("out", f"{path.parent}: no such folder for the report")
    report = daily_report(store, enrolment_id, day, actor)
    images = []
    for event in report.events[:MAX_PDF_STRIPS]:
        with store.transaction() as session:
            transmission = session.get(Transmission, event["transmission_id"])
            assert transmission is not None
            session.expunge(transmission)
        try:
            signal, fs, start = strip_window(store, transmission, event.get("onset_s"), PDF_STRIP_S)
        except EcgDeskError:
            continue  # a strip that cannot be read is still listed with its notification log
        start = local_clock(start, report.time_zone).replace(tzinfo=None)  # the patient's clock, as the day
        images.append(
            EventStripImage(
                f"item {event['item_id']}   recorded {start:%Y-%m-%d %H:%M:%S}   {event['reason']}",
                signal,
                fs,
                start,
            )
        )
    render_daily(report.as_dict(), images, path)
    return report
