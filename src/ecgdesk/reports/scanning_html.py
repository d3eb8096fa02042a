"""The scanning report as one self-contained HTML file (jinja2; images embedded as PNG data URIs).

Same content as the PDF, computed by the same functions (:mod:`ecgdesk.reports.tables`,
:mod:`ecgdesk.reports.events`); strips are drawn on the same paper grid and sized in CSS millimetres so a
printout keeps 25 mm/s and 10 mm/mV.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import jinja2
from matplotlib.figure import Figure

from ecgdesk.reports.context import ScanningReportContext, signature_lines
from ecgdesk.reports.events import EventStrip, report_event_strips, report_patient_strips, rhythm_name
from ecgdesk.reports.fonts import fit_fonts, report_fonts
from ecgdesk.reports.paper import MM_PER_INCH, mm_axes
from ecgdesk.reports.scanning_pdf import CONTENT_W, STRIP_S, TITLE
from ecgdesk.reports.strips import (
    TEMPLATES_SHOWN,
    draw_event_strip,
    draw_templates,
    strip_caption,
    strip_height,
    templates_height,
)
from ecgdesk.reports.tables import HOURLY_COLUMNS, clock_for, header_rows, hourly_rows, summary_sections
from ecgdesk.reports.trend import draw_trend_row, trend_rows

STRIP_DPI = 110
TEMPLATE_DIR = Path(__file__).with_name("templates")
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=False)


@dataclass(frozen=True)
class HtmlStrip:
    title: str
    caption: str
    detail: str
    image: str | None
    anchor: str
    time: str
    rhythm: str


@dataclass(frozen=True)
class HtmlEvent:
    time: str
    source: str
    symptom: str
    rhythm: str
    hr: str


def _png_uri(fig: Figure, dpi: int) -> str:
    buffer = io.BytesIO()
    fit_fonts(fig)
    fig.savefig(buffer, format="png", dpi=dpi)
    fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _mm_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width / MM_PER_INCH, height / MM_PER_INCH))


def _strip_images(ctx: ScanningReportContext, strips: list[EventStrip], prefix: str) -> list[HtmlStrip]:
    out = []
    clock = clock_for(ctx)
    for i, strip in enumerate(strips, start=1):
        image = None
        if ctx.recording is not None:
            height = strip_height(ctx)
            fig = _mm_figure(CONTENT_W + 2, height + 7)
            ax = mm_axes(fig, 0.0, 0.0, CONTENT_W + 2, height + 7)
            draw_event_strip(ax, ctx, strip, 1.0, 3.0, CONTENT_W, height)
            image = _png_uri(fig, STRIP_DPI)
        out.append(HtmlStrip(strip.title, strip_caption(ctx, strip), strip.detail, image, f"{prefix}-{i}",
                             clock.at(strip.focus_s), strip.rhythm))
    return out


def _trend_images(ctx: ScanningReportContext) -> list[str]:
    clock = clock_for(ctx)
    rows = trend_rows(ctx.findings.summary.recording.duration_s, clock.start)
    images = []
    per_image = 8
    for p in range(0, len(rows), per_image):
        chunk = rows[p:p + per_image]
        row_h = 70.0 if len(rows) == 1 else 26.0
        fig = _mm_figure(180.0, row_h * len(chunk))
        for i, row in enumerate(chunk):
            ax = fig.add_axes((0.16, 1 - (i + 1) / len(chunk) + 0.2 / len(chunk), 0.82, 0.72 / len(chunk)))
            draw_trend_row(ax, ctx.findings, row, clock.start)
        images.append(_png_uri(fig, 100))
    return images


def _templates_image(ctx: ScanningReportContext) -> str | None:
    templates = sorted(ctx.findings.templates, key=lambda t: -t.n_beats)[:TEMPLATES_SHOWN]
    if not templates:
        return None
    height = templates_height(len(templates)) + 2.0
    fig = _mm_figure(180.0, height)
    ax = mm_axes(fig, 0.0, 0.0, 180.0, height)
    draw_templates(ax, templates, 0.0, height)
    return _png_uri(fig, 100)


def html_text(ctx: ScanningReportContext, digest: str) -> str:
    """The whole HTML document."""
    clock = clock_for(ctx)
    left, right = header_rows(ctx.header, clock, ctx.findings)
    sections = summary_sections(ctx.findings, clock)
    events = [
        HtmlEvent(clock.at(e.time_s), e.source.value, e.symptom or "-", rhythm_name(e),
                  f"{e.hr_bpm:.0f}" if e.hr_bpm is not None else "-")
        for e in ctx.findings.patient_events
    ]
    template = _ENV.get_template("scanning.html.j2")
    return template.render(
        title=TITLE, header=ctx.header, header_left=left, header_right=right,
        summary_columns=[sections[:2], sections[2:]],
        technician_comments=ctx.technician_comments.strip(), messages=ctx.findings.messages,
        interpretation=ctx.interpretation.strip(), signature=ctx.signature, digest=digest,
        signatures=signature_lines(ctx.signature, ctx.earlier_signatures, ctx.header.report_version),
        addenda=ctx.addenda, trend_images=_trend_images(ctx),
        event_strips=_strip_images(ctx, report_event_strips(ctx, STRIP_S), "event"),
        patient_events=events,
        patient_strips=_strip_images(ctx, report_patient_strips(ctx, STRIP_S), "patient-event"),
        hourly_columns=HOURLY_COLUMNS, hourly=hourly_rows(ctx.findings, clock),
        templates_image=_templates_image(ctx), strip_width_mm=f"{CONTENT_W + 2:.0f}",
    )


@report_fonts()
def write_html(ctx: ScanningReportContext, path: Path, digest: str) -> None:
    """Write the HTML to ``path`` atomically (temporary file renamed into place)."""
    text = html_text(ctx, digest)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
