"""The scanning report as one self-contained HTML file (jinja2; images embedded as PNG data URIs).

Same content as the PDF, computed by the same functions (:mod:`ecgdesk.reports.tables`,
:mod:`ecgdesk.reports.events`); strips are drawn on the same paper grid and sized in CSS millimetres so a
printout keeps 25 mm/s and 10 mm/mV.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2
import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ecgdesk.analysis.findings import findings_to_dict
from ecgdesk.reports.context import ScanningReportContext, signature_lines
from ecgdesk.reports.events import EventStrip, report_event_strips, report_patient_strips, rhythm_name
from ecgdesk.reports.fonts import fallback, fit_fonts, report_fonts
from ecgdesk.reports.paper import MM_PER_INCH, mm_axes
from ecgdesk.reports.scanning_pdf import CONTENT_W, STRIP_S, TITLE
from ecgdesk.reports.strips import (
    TEMPLATES_SHOWN,
    StripData,
    draw_strip_data,
    draw_templates,
    strip_caption,
    strip_data,
    strip_height,
    templates_height,
)
from ecgdesk.reports.tables import (
    HOURLY_COLUMNS,
    clock_for,
    header_rows,
    hourly_rows,
    recording_start,
    summary_sections,
)
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
    fig.savefig(buffer, format="png", dpi=dpi)  # not cleared after: dropped, it is freed (see write_pdf)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _mm_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width / MM_PER_INCH, height / MM_PER_INCH))


class _ImageCache:
    """PNG data URIs of the images (strips, trend, templates) by the digest of all they are drawn from,
    the oldest dropped past ``limit`` characters. Each save and signature renders a new version whose
    images are those of the version before (only the text changed): drawing and encoding them again was
    a third of the time."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._images: OrderedDict[str, str] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # the service renders reports in several threads

    def get(self, key: str) -> str | None:
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
            return image

    def put(self, key: str, image: str) -> None:
        with self._lock:
            if key in self._images or len(image) > self.limit:
                return
            self._images[key] = image
            self._size += len(image)
            while self._size > self.limit:
                self._size -= len(self._images.popitem(last=False)[1])

    def clear(self) -> None:
        with self._lock:
            self._images.clear()
            self._size = 0


#: About 1,000 strips of one channel (30 kB each) in 32 MB.
IMAGES = _ImageCache(32 * 1024 * 1024)


def _strip_key(data: StripData, start_time: datetime | None, height: float) -> str:
    """A digest of everything :func:`_strip_image` draws from: samples, beats, marks, clock, size, fonts."""
    digest = hashlib.sha256()
    for array in (data.signal, data.beat_samples, data.beat_labels):
        if array is None:
            digest.update(b"none;")
        else:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape};".encode())
            digest.update(array.tobytes())
    digest.update(repr((data.fs, data.start_s, data.leads, data.marks, start_time, height, CONTENT_W,
                        STRIP_DPI, fallback().families, matplotlib.__version__)).encode())
    return digest.hexdigest()


def _strip_image(data: StripData, start_time: datetime | None, height: float) -> str:
    key = _strip_key(data, start_time, height)
    image = IMAGES.get(key)
    if image is None:
        fig = _mm_figure(CONTENT_W + 2, height + 7)
        ax = mm_axes(fig, 0.0, 0.0, CONTENT_W + 2, height + 7)
        draw_strip_data(ax, data, start_time, 1.0, 3.0, CONTENT_W, height)
        image = _png_uri(fig, STRIP_DPI)
        IMAGES.put(key, image)
    return image


def _strip_images(ctx: ScanningReportContext, strips: list[EventStrip], prefix: str) -> list[HtmlStrip]:
    out = []
    clock = clock_for(ctx)
    for i, strip in enumerate(strips, start=1):
        image = None
        data = strip_data(ctx, strip)
        if data is not None:
            image = _strip_image(data, recording_start(ctx), strip_height(ctx))
        out.append(HtmlStrip(strip.title, strip_caption(ctx, strip), strip.detail, image, f"{prefix}-{i}",
                             clock.at(strip.focus_s), strip.rhythm))
    return out


def _findings_key(ctx: ScanningReportContext) -> str:
    """A digest of the findings and clock start, which the trend and template images are drawn from."""
    text = json.dumps([findings_to_dict(ctx.findings), str(clock_for(ctx).start), fallback().families,
                       matplotlib.__version__], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _trend_images(ctx: ScanningReportContext, findings_key: str) -> list[str]:
    key = f"trend:{findings_key}"
    kept = IMAGES.get(key)
    if kept is not None:
        return kept.split("\n") if kept else []
    images = _draw_trend_images(ctx)
    IMAGES.put(key, "\n".join(images))  # a data URI has no line break
    return images


def _templates_image(ctx: ScanningReportContext, findings_key: str) -> str | None:
    key = f"templates:{findings_key}"
    kept = IMAGES.get(key)
    if kept is not None:
        return kept or None
    image = _draw_templates_image(ctx)
    IMAGES.put(key, image or "")
    return image


def _draw_trend_images(ctx: ScanningReportContext) -> list[str]:
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


def _draw_templates_image(ctx: ScanningReportContext) -> str | None:
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
    findings_key = _findings_key(ctx)
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
        addenda=ctx.addenda, trend_images=_trend_images(ctx, findings_key),
        event_strips=_strip_images(ctx, report_event_strips(ctx, STRIP_S), "event"),
        patient_events=events,
        patient_strips=_strip_images(ctx, report_patient_strips(ctx, STRIP_S), "patient-event"),
        hourly_columns=HOURLY_COLUMNS, hourly=hourly_rows(ctx.findings, clock),
        templates_image=_templates_image(ctx, findings_key), strip_width_mm=f"{CONTENT_W + 2:.0f}",
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
