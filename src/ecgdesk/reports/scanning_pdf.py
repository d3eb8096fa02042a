"""The scanning report as a multi-page A4 portrait PDF (matplotlib ``PdfPages``), laid out in millimetres.

Pages, in reading order: summary (header, summary tables, technician comments, interpretation, signature),
continuation of long text, heart-rate trend, event strips, patient-triggered events (table and strips),
the hourly table, representative templates. Each page has the footer (patient, study, report version,
page x of y) and, while unsigned, the "NOT SIGNED - preliminary" banner and watermark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ecgdesk.analysis.findings import PatientEvent, TemplateSummary
from ecgdesk.reports.context import ScanningReportContext, signature_lines
from ecgdesk.reports.events import EventStrip, report_event_strips, report_patient_strips, rhythm_name
from ecgdesk.reports.fonts import fit_fonts, report_fonts
from ecgdesk.reports.paper import MM_PER_INCH, STANDARD, mm_axes
from ecgdesk.reports.strips import (
    TEMPLATES_SHOWN,
    draw_event_strip,
    draw_templates,
    strip_height,
    templates_height,
)
from ecgdesk.reports.tables import (
    HOURLY_COLUMNS,
    Clock,
    HourlyRow,
    Section,
    clock_for,
    header_rows,
    hourly_rows,
    summary_sections,
    wrap,
)
from ecgdesk.reports.trend import TrendRow, draw_trend_row, trend_rows

PAGE_W, PAGE_H = 210.0, 297.0  # A4 portrait, mm
MARGIN = 15.0
CONTENT_W = PAGE_W - 2 * MARGIN
#: Seconds of signal on a full-width strip (the calibration pulse takes 7 mm).
STRIP_S = (CONTENT_W - 0.28 * STANDARD.mm_per_s) / STANDARD.mm_per_s
TEXT_WRAP = 112
LINE_MM = 3.9
SIGNATURE_ROW_MM = 9.5  # one signature in the box: meaning and name, then when and which version
BODY_TOP = 24.0  # first line under the page title on continuation pages
BODY_BOTTOM = PAGE_H - 20.0
RED = "#b00020"
TITLE = "Ambulatory ECG (Holter / patch) report"

PageDraw = Callable[[Axes], None]


@dataclass(frozen=True)
class Page:
    title: str
    draw: PageDraw
    figure_hook: Callable[[Figure], None] | None = None


def _top(ax: Axes, y_top: float, x: float, text: str, **kw: object) -> None:
    """Text at ``y_top`` mm from the top of the page."""
    ax.text(x, PAGE_H - y_top, text, va="top", **kw)  # type: ignore[arg-type]


def _rule(ax: Axes, y_top: float, color: str = "#999999") -> None:
    ax.plot([MARGIN, PAGE_W - MARGIN], [PAGE_H - y_top] * 2, color=color, linewidth=0.5)


def _fit(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters with an ellipsis (the HTML keeps the full text)."""
    return text if len(text) <= n else text[: n - 1].rstrip() + "\u2026"


def _page_title(ax: Axes, title: str) -> None:
    _top(ax, 12.0, MARGIN, title, fontsize=11, weight="bold")
    _rule(ax, 18.5)


# ---------------------------------------------------------------------------------------- page 1 flow
@dataclass(frozen=True)
class _Block:
    """A piece of the text flow: a heading with lines, or the signature box."""

    heading: str
    lines: tuple[str, ...]
    signature: bool = False
    refs: tuple[str, ...] = ()  # per line: the title of the strip it refers to ("" for none)

    @property
    def height(self) -> float:
        if self.signature:  # the box grows a row for each signature carried from an earlier version
            return 24.0 + SIGNATURE_ROW_MM * max(0, len(self.lines) - 1)
        return 6.0 + LINE_MM * len(self.lines) + 2.0


def _text_blocks(ctx: ScanningReportContext, clock: Clock, strips: list[EventStrip]) -> list[_Block]:
    blocks = []
    if strips:
        lines = tuple(f"{clock.at(s.focus_s)}   {s.title}: {s.rhythm}"[:TEXT_WRAP] for s in strips)
        blocks.append(_Block("Notable events (strips follow)", lines, refs=tuple(s.title for s in strips)))
    notes = [f"[{m.level.value}] {m.text}" for m in ctx.findings.messages]
    tech = wrap(ctx.technician_comments, TEXT_WRAP) if ctx.technician_comments.strip() else ["(none)"]
    tech += [line for n in notes for line in wrap(n, TEXT_WRAP)]
    blocks.append(_Block("Technician comments", tuple(tech)))
    interp = wrap(ctx.interpretation, TEXT_WRAP) if ctx.interpretation.strip() else [
        "(no interpretation entered yet)"]
    blocks.append(_Block("Physician interpretation", tuple(interp)))
    signed = signature_lines(ctx.signature, ctx.earlier_signatures, ctx.header.report_version)
    blocks.append(_Block("", tuple(line.text for line in signed), signature=True))
    for i, add in enumerate(ctx.addenda, start=1):
        head = f"Addendum {i} - {add.author}, {add.at:%Y-%m-%d %H:%M}"
        blocks.append(_Block(head, tuple(wrap(add.text, TEXT_WRAP))))
    return blocks


def _split_block(block: _Block, room: float) -> tuple[_Block, _Block | None]:
    """The part of ``block`` that fits in ``room`` mm and the rest (or None)."""
    if block.signature or block.height <= room:
        return block, None
    n = max(1, int((room - 8.0) // LINE_MM))
    first = _Block(block.heading, block.lines[:n], refs=block.refs[:n])
    rest = _Block(f"{block.heading} (continued)", block.lines[n:], refs=block.refs[n:])
    return first, rest


def _draw_block(ax: Axes, ctx: ScanningReportContext, block: _Block, y: float, digest: str,
                page_of: dict[str, int]) -> None:
    if block.signature:
        _signature_box(ax, ctx, y, digest)
        return
    _top(ax, y, MARGIN, block.heading, fontsize=8.5, weight="bold")
    for i, line in enumerate(block.lines):
        _top(ax, y + 5.5 + i * LINE_MM, MARGIN, line, fontsize=7.5)
        if i < len(block.refs) and block.refs[i] in page_of:
            _top(ax, y + 5.5 + i * LINE_MM, PAGE_W - MARGIN, f"page {page_of[block.refs[i]]}", fontsize=7.5,
                 ha="right", color="#444444")


def _signature_box(ax: Axes, ctx: ScanningReportContext, y: float, digest: str) -> None:
    sig = ctx.signature
    edge = "#333333" if sig is not None else RED
    lines = signature_lines(sig, ctx.earlier_signatures, ctx.header.report_version)
    tall = 20.0 + SIGNATURE_ROW_MM * max(0, len(lines) - 1)
    ax.add_patch(Rectangle((MARGIN, PAGE_H - y - tall - 1.0), CONTENT_W, tall, fill=False, edgecolor=edge,
                           linewidth=0.8))
    if sig is None:
        _top(ax, y + 3.0, MARGIN + 3, "NOT SIGNED \u2014 preliminary report", fontsize=10, color=RED,
             weight="bold")
        _top(ax, y + 9.5, MARGIN + 3, "This report has not been reviewed and signed by a physician and must "
             "not be used for clinical decisions.", fontsize=7)
        _top(ax, y + 14.0, MARGIN + 3, f"Content SHA-256: {digest}", fontsize=6, family="monospace",
             color="#555555")
        return
    # Oldest first, this version's own last: who interpreted stays on every addendum's PDF (21 CFR 11.50).
    for i, line in enumerate(lines):
        row = y + 3.0 + SIGNATURE_ROW_MM * i
        _top(ax, row, MARGIN + 3, line.who, fontsize=9 if line.current else 8,
             weight="bold" if line.current else "normal")
        _top(ax, row + 4.3, MARGIN + 3, line.when, fontsize=7)
    bottom = y + 3.0 + SIGNATURE_ROW_MM * len(lines) + 0.5
    _top(ax, bottom, MARGIN + 3, f"Signature covers content SHA-256: {sig.content_sha256}", fontsize=6,
         family="monospace", color="#555555")
    if sig.content_sha256 != digest:
        _top(ax, y + 3.0, PAGE_W - MARGIN - 3, "CONTENT CHANGED SINCE SIGNING", fontsize=8, color=RED,
             weight="bold", ha="right")


def _summary_page(ctx: ScanningReportContext, clock: Clock, flow: list[_Block], digest: str,
                  page_of: dict[str, int]) -> tuple[Page, list[_Block]]:
    """Page 1 and the blocks of the text flow that did not fit on it."""
    left, right = header_rows(ctx.header, clock, ctx.findings)
    sections = summary_sections(ctx.findings, clock)
    col_w = CONTENT_W / 2

    def column_height(secs: list[Section]) -> float:
        return sum(5.5 + LINE_MM * len(s.rows) + 1.5 for s in secs)

    split = 2
    col_a, col_b = sections[:split], sections[split:]
    y_sum = 24.0 + 6 * 4.2 + 6.0
    y_text = y_sum + max(column_height(col_a), column_height(col_b)) + 3.0
    placed: list[tuple[_Block, float]] = []
    rest: list[_Block] = []
    y = y_text
    for i, block in enumerate(flow):
        first, remainder = _split_block(block, BODY_BOTTOM - y)
        if first.height > BODY_BOTTOM - y:
            rest = flow[i:]
            break
        placed.append((first, y))
        y += first.height
        if remainder is not None:
            rest = [remainder, *flow[i + 1:]]
            break

    def draw(ax: Axes) -> None:
        _top(ax, 10.0, MARGIN, TITLE, fontsize=13, weight="bold")
        if ctx.header.facility:
            _top(ax, 10.5, PAGE_W - MARGIN, ctx.header.facility, fontsize=8, ha="right")
        _rule(ax, 18.5)
        for col, rows in enumerate((left, right)):
            x = MARGIN + col * col_w
            for i, row in enumerate(rows):
                _top(ax, 21.5 + i * 4.2, x, f"{row.label}:", fontsize=7.5, color="#444444")
                _top(ax, 21.5 + i * 4.2, x + 31, _fit(row.value, 44), fontsize=7.5, weight="bold")
        _rule(ax, y_sum - 3.0)
        for col, secs in enumerate((col_a, col_b)):
            x = MARGIN + col * col_w
            yy = y_sum
            for sec in secs:
                _top(ax, yy, x, sec.title, fontsize=8.5, weight="bold", color="#7a0019")
                yy += 5.0
                for row in sec.rows:
                    _top(ax, yy, x + 1, row.label, fontsize=7.2, color="#333333")
                    _top(ax, yy, x + col_w - 4, row.value, fontsize=7.2, ha="right", weight="bold")
                    yy += LINE_MM
                yy += 2.0
        _rule(ax, y_text - 2.0)
        for block, yb in placed:
            _draw_block(ax, ctx, block, yb, digest, page_of)

    return Page("Summary", draw), rest


def _flow_pages(ctx: ScanningReportContext, blocks: list[_Block], digest: str, page_of: dict[str, int]
                ) -> list[Page]:
    pages: list[Page] = []
    pending = list(blocks)
    while pending:
        placed: list[tuple[_Block, float]] = []
        y = BODY_TOP
        while pending:
            first, remainder = _split_block(pending[0], BODY_BOTTOM - y)
            if first.height > BODY_BOTTOM - y and placed:
                break
            placed.append((first, y))
            y += first.height
            pending.pop(0)
            if remainder is not None:
                pending.insert(0, remainder)
                break

        def draw(ax: Axes, placed: list[tuple[_Block, float]] = placed) -> None:
            _page_title(ax, "Interpretation and comments (continued)")
            for block, yb in placed:
                _draw_block(ax, ctx, block, yb, digest, page_of)

        pages.append(Page("Interpretation (continued)", draw))
    return pages


# ---------------------------------------------------------------------------------------- other pages
def _trend_pages(ctx: ScanningReportContext, clock: Clock, strips: list[EventStrip]
                 ) -> tuple[list[Page], int]:
    """The trend pages, and how many of ``strips`` went under a single-row trend."""
    rows = trend_rows(ctx.findings.summary.recording.duration_s, clock.start)
    # Up to 10 days share one page (rows a little lower), so a 7-9 day patch needs no 1-row page.
    per_page = len(rows) if len(rows) <= 10 else 8
    day_h = min(28.0, (BODY_BOTTOM - 30.0) / per_page - 2.0)
    pages = []
    under = strips[:_fit_strips(ctx, 113.0)] if len(rows) == 1 else []
    for p in range(0, len(rows), per_page):
        chunk = rows[p:p + per_page]
        single = len(rows) == 1

        def hook(fig: Figure, chunk: list[TrendRow] = chunk, single: bool = single) -> None:
            row_h = 70.0 if single else day_h
            for i, row in enumerate(chunk):
                top = 30.0 + i * (row_h + 2.0)
                ax = fig.add_axes(((MARGIN + 18) / PAGE_W, 1 - (top + row_h - 4) / PAGE_H,
                                   (CONTENT_W - 18) / PAGE_W, (row_h - 6) / PAGE_H))
                draw_trend_row(ax, ctx.findings, row, clock.start)

        def draw(ax: Axes, first: bool = p == 0) -> None:
            _page_title(ax, "Heart-rate trend" + ("" if first else " (continued)"))
            _top(ax, 20.5, MARGIN, "Mean heart rate per minute (bpm). Blue shading: atrial fibrillation / "
                 "flutter; red ticks: pauses; blue triangles: patient-triggered events.", fontsize=7)
            if under:
                _top(ax, 104.0, MARGIN, "Event strips", fontsize=11, weight="bold")
                _rule(ax, 110.0)
                _draw_strips(ax, ctx, under, 113.0)

        pages.append(Page("Heart-rate trend", draw, hook))
    return pages, len(under)


STRIPS_TOP = 23.0


def _strip_pitch(ctx: ScanningReportContext) -> float:
    """Page height one strip takes: heading lines, beat letters, the channels and the time labels."""
    return strip_height(ctx) + 20.0


def _fit_strips(ctx: ScanningReportContext, top: float) -> int:
    """How many strips fit from ``top`` (mm from the page top) to the bottom of the body."""
    return max(0, int((BODY_BOTTOM - top) // _strip_pitch(ctx)))


def _draw_strips(ax: Axes, ctx: ScanningReportContext, strips: list[EventStrip], top0: float) -> None:
    clock = clock_for(ctx)
    pitch, height = _strip_pitch(ctx), strip_height(ctx)
    for i, strip in enumerate(strips):
        top = top0 + i * pitch
        _top(ax, top, MARGIN, _fit(strip.title, 72), fontsize=8.5, weight="bold", color="#7a0019")
        _top(ax, top, PAGE_W - MARGIN, clock.datetime_at(strip.focus_s), fontsize=8.5, weight="bold",
             ha="right")
        _top(ax, top + 4.3, MARGIN, _fit(f"{strip.rhythm}.  {strip.detail}", 150), fontsize=7,
             color="#222222")
        draw_event_strip(ax, ctx, strip, MARGIN, PAGE_H - (top + 11.5 + height), CONTENT_W, height)


def _strip_pages(ctx: ScanningReportContext, strips: list[EventStrip], title: str, continued: bool = False
                 ) -> list[Page]:
    pages = []
    per_page = _fit_strips(ctx, STRIPS_TOP)
    for p in range(0, len(strips), per_page):
        chunk = strips[p:p + per_page]

        def draw(ax: Axes, chunk: list[EventStrip] = chunk, first: bool = p == 0) -> None:
            _page_title(ax, title + ("" if first and not continued else " (continued)"))
            _draw_strips(ax, ctx, chunk, STRIPS_TOP)

        pages.append(Page(title, draw))
    return pages


EVENT_COLUMNS = (("Time", 0.0), ("Source", 36.0), ("Symptom", 52.0), ("Rhythm at the event", 105.0),
                 ("HR", 165.0))
EVENT_ROW_MM = 4.3


def _patient_event_pages(ctx: ScanningReportContext, clock: Clock) -> list[Page]:
    """The events table (55 rows a page); strips fill the room under its end, then pages of their own."""
    events = ctx.findings.patient_events
    if not events:
        return []
    strips = report_patient_strips(ctx, STRIP_S)
    per_page = 55
    pages = []
    leftover: list[EventStrip] = list(strips)
    for p in range(0, len(events), per_page):
        chunk = events[p:p + per_page]
        last = p + per_page >= len(events)
        below = 27.5 + len(chunk) * EVENT_ROW_MM + 4.0
        room = _fit_strips(ctx, below) if last else 0
        here, leftover = (leftover[:room], leftover[room:]) if last else ([], leftover)

        def draw(ax: Axes, chunk: list[PatientEvent] = chunk, first: bool = p == 0,
                 here: list[EventStrip] = here, below: float = below) -> None:
            _page_title(ax, "Patient-triggered events" + ("" if first else " (continued)"))
            for label, x in EVENT_COLUMNS:
                _top(ax, 22.0, MARGIN + x, label, fontsize=7.5, weight="bold")
            _rule(ax, 26.0)
            for i, ev in enumerate(chunk):
                y = 27.5 + i * EVENT_ROW_MM
                cells = (clock.at(ev.time_s), ev.source.value, ev.symptom[:30] or "-", rhythm_name(ev),
                         f"{ev.hr_bpm:.0f}" if ev.hr_bpm is not None else "-")
                for (_, x), cell in zip(EVENT_COLUMNS, cells, strict=True):
                    _top(ax, y, MARGIN + x, cell, fontsize=7.2)
            _draw_strips(ax, ctx, here, below)

        pages.append(Page("Patient-triggered events", draw))
    return pages + _strip_pages(ctx, leftover, "Patient-triggered event strips")


HOURLY_WIDTHS = (14, 12, 12, 12, 12, 12, 12, 12, 20)  # characters of each monospace column


def _hourly_line(cells: tuple[str, ...]) -> str:
    """One table row as fixed-width text: one text object a row keeps a 15-day table fast to draw."""
    first, *rest = cells
    return first.ljust(HOURLY_WIDTHS[0]) + "".join(c.rjust(w) for c, w in zip(rest, HOURLY_WIDTHS[1:],
                                                                              strict=True))


TEMPLATES_NOTE = "Median beats of each morphology class at 25 mm/s and 10 mm/mV, by number of beats."


def _draw_templates_section(ax: Axes, templates: list[TemplateSummary], top: float, heading: bool) -> None:
    if heading:
        _top(ax, top, MARGIN, "Representative beat templates", fontsize=8.5, weight="bold", color="#7a0019")
        top += 5.0
    _top(ax, top, MARGIN, TEMPLATES_NOTE, fontsize=7)
    draw_templates(ax, templates, MARGIN, PAGE_H - (top + 7.5))


def _hourly_and_template_pages(ctx: ScanningReportContext, clock: Clock) -> list[Page]:
    """The hourly table (58 rows a page), then the templates: under the table's end when they fit."""
    rows = hourly_rows(ctx.findings, clock)
    templates = sorted(ctx.findings.templates, key=lambda t: -t.n_beats)[:TEMPLATES_SHOWN]
    per_page = 58
    pages = []
    placed = False
    for p in range(0, len(rows), per_page):
        chunk = rows[p:p + per_page]
        below = 27.5 + len(chunk) * 4.3 + 6.0
        fits = bool(templates) and p + per_page >= len(rows) and (
            below + 12.5 + templates_height(len(templates)) <= BODY_BOTTOM)
        placed = placed or fits

        def draw(ax: Axes, chunk: list[HourlyRow] = chunk, first: bool = p == 0, fits: bool = fits,
                 below: float = below) -> None:
            _page_title(ax, "Hourly table" + ("" if first else " (continued)"))
            _top(ax, 22.0, MARGIN, _hourly_line(HOURLY_COLUMNS), fontsize=7.0, weight="bold",
                 family="monospace")
            _rule(ax, 26.0)
            for i, row in enumerate(chunk):
                y = 27.5 + i * 4.3
                if i % 2:
                    ax.axhspan(PAGE_H - y - 3.9, PAGE_H - y + 0.4, xmin=MARGIN / PAGE_W,
                               xmax=(PAGE_W - MARGIN) / PAGE_W, color="#f3f3f3", lw=0, zorder=0)
                _top(ax, y, MARGIN, _hourly_line(row.cells()), fontsize=7.0, family="monospace")
            if fits:
                _draw_templates_section(ax, templates, below, heading=True)

        pages.append(Page("Hourly table", draw))
    if templates and not placed:

        def draw_templates_page(ax: Axes) -> None:
            _page_title(ax, "Representative beat templates")
            _draw_templates_section(ax, templates, 20.5, heading=False)

        pages.append(Page("Templates", draw_templates_page))
    return pages


def _decorate(ax: Axes, ctx: ScanningReportContext, number: int, total: int) -> None:
    h = ctx.header
    who = h.patient_name or "Unnamed patient"
    ax.plot([MARGIN, PAGE_W - MARGIN], [13.0, 13.0], color="#999999", linewidth=0.4)
    ax.text(MARGIN, 9.0, f"{who}   ID {h.patient_id or '-'}", fontsize=6.8, va="center")
    ax.text(PAGE_W / 2, 9.0, f"Study {h.study_id or '-'}   Report version {h.report_version}", fontsize=6.8,
            ha="center", va="center")
    ax.text(PAGE_W - MARGIN, 9.0, f"Page {number} of {total}", fontsize=6.8, ha="right", va="center")
    if ctx.signature is None:
        ax.text(PAGE_W / 2, PAGE_H - 4.0, "NOT SIGNED \u2014 PRELIMINARY", fontsize=8, color="white",
                weight="bold", ha="center", va="center",
                bbox={"facecolor": RED, "edgecolor": "none", "pad": 1.5})
        ax.text(PAGE_W / 2, PAGE_H / 2, "PRELIMINARY", fontsize=70, color=RED, alpha=0.07, rotation=55,
                ha="center", va="center", weight="bold", zorder=10)


def build_pages(ctx: ScanningReportContext, digest: str) -> list[Page]:
    """Every page of the report, in order (drawn later, so page references can be filled in first)."""
    clock = clock_for(ctx)
    strips = report_event_strips(ctx, STRIP_S)
    page_of: dict[str, int] = {}
    first, rest = _summary_page(ctx, clock, _text_blocks(ctx, clock, strips), digest, page_of)
    pages = [first, *_flow_pages(ctx, rest, digest, page_of)]
    trend, n_under = _trend_pages(ctx, clock, strips)
    pages += trend
    for strip in strips[:n_under]:
        page_of[strip.title] = len(pages)
    for i, strip in enumerate(strips[n_under:]):
        page_of[strip.title] = len(pages) + 1 + i // _fit_strips(ctx, STRIPS_TOP)
    pages += _strip_pages(ctx, strips[n_under:], "Event strips", continued=n_under > 0)
    pages += _patient_event_pages(ctx, clock)
    pages += _hourly_and_template_pages(ctx, clock)
    return pages


@report_fonts()
def write_pdf(ctx: ScanningReportContext, path: Path, digest: str) -> int:
    """Write the PDF to ``path`` (through a temporary file renamed into place); returns the page count."""
    pages = build_pages(ctx, digest)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with PdfPages(tmp, metadata={"Title": TITLE, "Subject": f"study {ctx.header.study_id}",
                                     "Creator": "ecgdesk"}) as pdf:
            for number, page in enumerate(pages, start=1):
                # A bare Figure (no pyplot): nothing global is kept, so a server can render concurrently,
                # and it is freed with its axes once dropped (clearing it first rebuilt each axes' ticks).
                fig = Figure(figsize=(PAGE_W / MM_PER_INCH, PAGE_H / MM_PER_INCH))
                ax = mm_axes(fig, 0.0, 0.0, PAGE_W, PAGE_H)
                page.draw(ax)
                if page.figure_hook is not None:
                    page.figure_hook(fig)
                _decorate(ax, ctx, number, len(pages))
                fit_fonts(fig)
                pdf.savefig(fig)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(pages)
