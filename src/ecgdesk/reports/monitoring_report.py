"""The end-of-service report of an event-monitoring or telemetry period (A4 portrait PDF, in millimetres).

Page 1: who and what (patient, order, device, period, criteria version), the transmission statistics, the
rhythm summary, every notified or escalated event with its notification log, the technicians' notes, the
coverage of the attended monitoring, and the physician's interpretation and signature. Then each notified
event's strip on the ECG grid at 25 mm/s and 10 mm/mV. The content digest that a signature covers leaves the
signature block out, as the other reports do.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from ecgdesk.reports.context import Addendum, ReportHeader, SignatureBlock, signature_lines
from ecgdesk.reports.fonts import report_fonts
from ecgdesk.reports.paper import MM_PER_INCH, STANDARD, draw_strip, mm_axes

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 12.0
ROW_S = (PAGE_W - 2 * MARGIN - 8.0) / STANDARD.mm_per_s  # seconds of ECG in one row (with calibration)
STRIPS_PER_PAGE = 3
TITLES = {
    "event_monitor": "Event monitoring: end-of-service report",
    "mobile_telemetry": "Mobile cardiac telemetry: end-of-service report",
}


@dataclass(frozen=True)
class EventStripImage:
    """The signal of one notified event's strip (mV), with its caption."""

    caption: str
    signal: np.ndarray
    fs: float
    start_time: datetime | None


@dataclass
class MonitoringReportContext:
    header: ReportHeader
    service: str
    document: dict[str, Any]
    strips: list[EventStripImage] = field(default_factory=list)
    interpretation: str = ""
    signature: SignatureBlock | None = None
    addenda: list[Addendum] = field(default_factory=list)
    earlier_signatures: list[SignatureBlock] = field(default_factory=list)  # see ScanningReportContext


def _stop(period: dict[str, Any]) -> str:
    if not period.get("stopped_early"):
        return ""
    planned = period.get("planned_days")  # absent from a period closed before 2026-12-07
    return f" of {planned} planned, stopped early" if planned else ", stopped early"


def content_digest(ctx: MonitoringReportContext) -> str:
    """SHA-256 of everything the report shows except the signature block."""
    h = ctx.header
    content = {
        "header": [
            h.patient_name,
            h.patient_id,
            str(h.birth_date),
            h.sex,
            h.ordering_physician,
            h.ordering_npi,
            list(h.indications),
            h.device,
            h.study_id,
            h.report_version,
        ],
        "service": ctx.service,
        "document": ctx.document,
        "interpretation": ctx.interpretation,
        "addenda": [[a.text, a.author, a.at.isoformat()] for a in ctx.addenda],
        "strips": [
            [
                s.caption,
                s.fs,
                hashlib.sha256(np.ascontiguousarray(s.signal, dtype="<f4").tobytes()).hexdigest(),
            ]
            for s in ctx.strips
        ],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


class Writer:
    """Lines of text down a page, in mm from the top."""

    def __init__(self, ax: Axes) -> None:
        self.ax, self.y = ax, PAGE_H - MARGIN

    def line(self, text: str, size: float = 8.0, bold: bool = False, indent: float = 0.0) -> None:
        self.ax.text(
            MARGIN + indent,
            self.y,
            text,
            fontsize=size,
            fontweight="bold" if bold else "normal",
            va="top",
            ha="left",  # the family: report_fonts' (write_pages), with fallbacks for other scripts
        )
        self.y -= size * 0.5 + 1.6

    def wrapped(self, text: str, width: int = 110, size: float = 8.0, indent: float = 0.0) -> None:
        for paragraph in (text or "").splitlines() or [""]:
            for part in textwrap.wrap(paragraph, width) or [""]:
                self.line(part, size, indent=indent)

    def gap(self, mm: float = 2.0) -> None:
        self.y -= mm


def write_events(w: Writer, events: list[dict[str, Any]], shown: int = 18) -> None:
    """Each notified or escalated event with its notification log (the strips follow on later pages)."""
    w.line(f"Notified and escalated events ({len(events)})", 10, bold=True)
    for event in events[:shown]:
        w.line(
            f"{event['received_at'][:16].replace('T', ' ')}  {event['reason']}",
            7.5,
            indent=2,
        )
        if event.get("confirmed_rhythm") or event.get("note"):
            w.wrapped(
                f"confirmed: {event.get('confirmed_rhythm') or '-'}; {event.get('note') or ''}",
                120,
                7.0,
                indent=6,
            )
        for n in event["notifications"]:
            ack = f"acknowledged {n['acknowledged_at'][11:16]}" if n["acknowledged_at"] else "unacknowledged"
            w.line(
                f"{n['sent_at'][11:16]} {n['channel']} to {n['recipient']}, {ack}"
                f"{', read back' if n['read_back'] else ''}; {n['outcome']}",
                7.0,
                indent=6,
            )
    if len(events) > shown:
        w.line(f"... and {len(events) - shown} more (strips on the following pages)", 7.5, indent=2)


def _summary_page(ctx: MonitoringReportContext) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        w, h, doc = Writer(ax), ctx.header, ctx.document
        w.line(TITLES.get(ctx.service, "Monitoring report"), 13, bold=True)
        w.gap()
        w.line(f"Patient: {h.patient_name}   ID {h.patient_id}   born {h.birth_date}   sex {h.sex}")
        w.line(
            f"Ordering physician: {h.ordering_physician or '-'} (NPI {h.ordering_npi})   "
            f"Indications: {', '.join(h.indications)}"
        )
        period = doc["period"]
        w.line(
            f"Device {doc['device']}   Period {period['start']} to {period['end']} ({period['days']} days"
            f"{_stop(period)}; days and times {period.get('time_zone', 'UTC')})   Study {h.study_id}   "
            f"Report version {h.report_version}"
        )
        versions = doc.get("criteria_versions")
        if versions is None:  # a period closed before the versions were kept in its summary
            w.line(f"Notification criteria: {doc['criteria']}")
        else:
            w.line("Notification criteria in force:")
            for v in versions:
                stretch = f"{_when(v['from'])} to {_when(v['to'])}"
                if v["version"] is None:
                    w.line(f"  defaults (not signed) {stretch}")
                else:
                    w.line(
                        f"  version {v['version']} signed by {v['signer']} {_when(v['signed_at'])}: "
                        f"in force {stretch}"
                    )
        devices = doc.get("devices", [])
        if len(devices) > 1:  # a recorder was swapped within the period: which one was worn when
            w.line("Recorders:")
            for d in devices:  # one a line: three recorders on one line ran off the page
                w.line(
                    f"  {d['serial']} {_when(d['from'])} to {_when(d['to'])}"
                    + (f" (replaced the one before: {d['reason']})" if d["reason"] else "")
                )
        w.gap(3)
        stats = doc["transmissions"]
        w.line("Transmissions", 10, bold=True)
        w.line(
            f"{stats['received']} received, {stats['reviewed']} reviewed by a technician, "
            f"{stats['flagged']} flagged (not billable); days with transmissions {stats['days_with_data']} "
            f"of {period['days']}; ECG received {stats['ecg_minutes']:.1f} min"
        )
        w.line("By priority: " + ", ".join(f"{k} {v}" for k, v in stats["by_priority"].items()))
        w.line("By strip rhythm: " + ", ".join(f"{k} {v}" for k, v in stats["by_label"].items()))
        w.gap(3)
        w.line("Rhythm summary", 10, bold=True)
        w.wrapped(doc["rhythm_summary"])
        w.gap(3)
        write_events(w, doc["events"])
        w.gap(3)
        w.line("Attended monitoring coverage", 10, bold=True)
        gaps = doc["coverage_gaps"]
        w.wrapped(
            "Every hour covered by a technician and an on-call physician."
            if not gaps
            else "; ".join(f"{g['missing']} missing {g['start'][:16]} to {g['end'][:16]}" for g in gaps[:8])
        )
        if doc["technician_notes"]:
            w.gap(3)
            w.line("Technician notes", 10, bold=True)
            for note in doc["technician_notes"][:8]:
                w.wrapped(note, 120, 7.5, indent=2)
        w.gap(3)
        w.line("Interpretation", 10, bold=True)
        w.wrapped(ctx.interpretation or "(not yet interpreted)")
        for addendum in ctx.addenda:
            w.wrapped(f"Addendum ({addendum.author}, {addendum.at:%Y-%m-%d %H:%M}): {addendum.text}")
        w.gap(2)
        lines = signature_lines(ctx.signature, ctx.earlier_signatures, ctx.header.report_version)
        for sig in lines:  # every signature the version carries, its own last (21 CFR 11.50)
            w.line(sig.text, 8.5 if sig.current else 8.0, bold=sig.current)
        if ctx.signature is not None:
            w.line(f"Signature covers content {ctx.signature.content_sha256[:16]}", 7.0)
        else:
            w.line("Not signed.", 8.5, bold=True)

    return draw


def strip_page(strips: Sequence[EventStripImage]) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        y = PAGE_H - MARGIN
        ax.text(
            MARGIN, y, "Notified event strips (25 mm/s, 10 mm/mV)", fontsize=10, fontweight="bold", va="top"
        )
        y -= 8.0
        for strip in strips:
            ax.text(MARGIN, y, strip.caption, fontsize=7.5, va="top")
            y -= 4.0
            n = int(ROW_S * strip.fs)
            for row in range(2):
                part = strip.signal[row * n : (row + 1) * n]
                if part.size < strip.fs:
                    break
                y -= 32.0
                draw_strip(
                    ax,
                    np.asarray(part, dtype=float),
                    strip.fs,
                    x0=MARGIN,
                    y0=y,
                    height=30.0,
                    start_s=row * ROW_S,
                    start_time=strip.start_time,
                    calibration=row == 0,
                )
            y -= 6.0

    return draw


def render(ctx: MonitoringReportContext, folder: Path) -> Path:
    """Write ``monitoring-report.pdf`` into ``folder``; returns its path."""
    path = folder / "monitoring-report.pdf"
    pages = [_summary_page(ctx), *event_strip_pages(ctx.strips)]
    return write_pages(
        path, pages, TITLES.get(ctx.service, "Monitoring report"), f"study {ctx.header.study_id}"
    )


def event_strip_pages(strips: Sequence[EventStripImage]) -> list[Callable[[Axes], None]]:
    """The pages of the notified events' strips, :data:`STRIPS_PER_PAGE` to a page."""
    return [
        strip_page(strips[first : first + STRIPS_PER_PAGE])
        for first in range(0, len(strips), STRIPS_PER_PAGE)
    ]


@report_fonts()
def write_pages(path: Path, pages: Sequence[Callable[[Axes], None]], title: str, subject: str) -> Path:
    """An A4 portrait PDF of ``pages`` (each draws on a page-sized axes in mm), numbered, written
    atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with PdfPages(tmp, metadata={"Title": title, "Subject": subject, "Creator": "ecgdesk"}) as pdf:
            for number, draw in enumerate(pages, start=1):
                fig = Figure(figsize=(PAGE_W / MM_PER_INCH, PAGE_H / MM_PER_INCH))
                try:
                    ax = mm_axes(fig, 0.0, 0.0, PAGE_W, PAGE_H)
                    draw(ax)
                    ax.text(PAGE_W - MARGIN, 6.0, f"page {number} of {len(pages)}", fontsize=7, ha="right")
                    pdf.savefig(fig)
                finally:
                    fig.clear()
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _when(text: str) -> str:
    """A date as it is, a time to the minute (on the patient's clock, the period's ``time_zone``; UTC in
    a period closed before 2026-12-07)."""
    return text[:16].replace("T", " ")
