"""The daily report of a monitored patient as a PDF (A4 portrait, in millimetres), in the end-of-service
report's layout: page 1 the day's figures (strips recorded, reviewed, open, flagged, ECG minutes, priorities,
rhythm summary), every notified or escalated event with its notification log and the technicians' notes;
then each notified event's strip on the ECG grid at 25 mm/s and 10 mm/mV."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes

from ecgdesk.reports.monitoring_report import (
    EventStripImage,
    Writer,
    event_strip_pages,
    write_events,
    write_pages,
)

TITLES = {
    "event_monitor": "Event monitoring: daily report",
    "mobile_telemetry": "Mobile cardiac telemetry: daily report",
}


def _summary(report: dict[str, Any]) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        w = Writer(ax)
        w.line(
            f"{TITLES.get(report['service'], 'Monitoring daily report')} -- {report['day']}", 13, bold=True
        )
        w.gap()
        w.line(f"Patient: {report['patient']}   ID {report['patient_id']}")
        zone = report.get("time_zone", "UTC")
        w.line(
            f"Enrolment {report['enrolment_id']}   Device {report['device']}   Day ({zone}) {report['day']}"
        )
        w.gap(3)
        w.line("Transmissions", 10, bold=True)
        w.line(
            f"{report['received']} strips recorded, {report['reviewed']} reviewed by a technician, "
            f"{report['open']} still open, {report['flagged']} flagged; "
            f"ECG received {report['ecg_minutes']:g} min"
        )
        w.line("By priority: " + (", ".join(f"{k} {v}" for k, v in report["by_priority"].items()) or "none"))
        w.line("By strip rhythm: " + (", ".join(f"{k} {v}" for k, v in report["by_label"].items()) or "none"))
        w.gap(3)
        w.line("Rhythm summary", 10, bold=True)
        w.wrapped(report["rhythm_summary"] if report["received"] else "No strips were recorded on this day.")
        w.gap(3)
        write_events(w, report["events"])
        if report["technician_notes"]:
            w.gap(3)
            w.line("Technician notes", 10, bold=True)
            for note in report["technician_notes"][:20]:
                w.wrapped(note, 120, 7.5, indent=2)

    return draw


def render_daily(report: dict[str, Any], strips: Sequence[EventStripImage], path: Path) -> Path:
    """Write the daily report (a :class:`ecgdesk.workflow.monitoring_daily.DailyReport` as a dict)."""
    pages = [_summary(report), *event_strip_pages(strips)]
    title = TITLES.get(report["service"], "Monitoring daily report")
    return write_pages(path, pages, title, f"enrolment {report['enrolment_id']}, {report['day']}")
