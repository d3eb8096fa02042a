"""The resting 12-lead ECG report: measurements, statements, the 3x4 layout and a rhythm strip on ECG paper.

One landscape A4 page drawn in millimetres (:mod:`ecgdesk.reports.paper`): 25 mm/s and 10 mm/mV, 1 mm minor
and 5 mm major grid lines, a 1 mV calibration pulse on every row. The page carries the computer statements,
the physician's over-read and the signature block, or an "unconfirmed" banner while unsigned.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from ecgdesk.analysis.ecg12.resting import ALGORITHM_VERSION, RestingEcgResult, measurements_to_dict
from ecgdesk.reports.context import Addendum, ReportHeader, SignatureBlock, signature_lines
from ecgdesk.reports.continuation import continuation_pages, fits
from ecgdesk.reports.fonts import report_fonts
from ecgdesk.reports.paper import MM_PER_INCH, draw_12lead_3x4, mm_axes

PAGE_MM = (297.0, 210.0)  # A4 landscape
ROW_HEIGHT_MM = 35.0
UNSIGNED_BANNER = "UNCONFIRMED - computer interpretation, not signed"


@dataclass
class Ecg12ReportContext:
    """What one resting ECG report shows; ``signature`` is None until the physician signs."""

    result: RestingEcgResult
    header: ReportHeader = field(default_factory=ReportHeader)
    over_read: str = ""
    signature: SignatureBlock | None = None
    addenda: list[Addendum] = field(default_factory=list)
    earlier_signatures: list[SignatureBlock] = field(default_factory=list)  # see ScanningReportContext

    @property
    def interpretation(self) -> str:
        """The over-read under the name every report context uses for the physician's text."""
        return self.over_read


@dataclass(frozen=True)
class RenderedEcg12Report:
    pdf_path: Path
    png_path: Path
    content_sha256: str


def canonical_content(ctx: Ecg12ReportContext) -> dict[str, object]:
    """What a signature covers: identification, measurements and statements, over-read, addenda."""
    h = ctx.header
    return {
        "kind": "resting_ecg",
        "patient": [h.patient_name, h.patient_id, str(h.birth_date or ""), h.sex],
        "order": [h.ordering_physician, h.ordering_npi, list(h.indications)],
        "study_id": h.study_id,
        "report_version": h.report_version,
        "measurements": measurements_to_dict(ctx.result),
        "over_read": ctx.over_read,
        "addenda": [[a.text, a.author, a.at.isoformat()] for a in ctx.addenda],
    }


def report_content_digest(ctx: Ecg12ReportContext) -> str:
    """SHA-256 of :func:`canonical_content`; the signature block itself is not part of it."""
    return hashlib.sha256(json.dumps(canonical_content(ctx), sort_keys=True).encode()).hexdigest()


def _fmt(value: float | None, unit: str) -> str:
    return "--" if value is None or not np.isfinite(value) else f"{value:.0f} {unit}"


def _header_lines(ctx: Ecg12ReportContext) -> list[str]:
    m = ctx.result.measurements
    rec = ctx.result.recording
    h = ctx.header
    when = rec.start_time.strftime("%Y-%m-%d %H:%M:%S") if rec.start_time else "unknown time"
    return [
        f"{h.patient_name or 'Unnamed patient'}   ID {h.patient_id or '--'}   DOB {h.birth_date or '--'}   "
        f"Sex {h.sex or '--'}",
        f"Acquired {when}   Device {rec.device or h.device or '--'}   Study {h.study_id or '--'}",
        f"Ordering {h.ordering_physician or '--'}   Indication {', '.join(h.indications) or '--'}",
        f"HR {_fmt(m.hr_bpm, 'bpm')}   PR {_fmt(m.pr_ms, 'ms')}   QRS {_fmt(m.qrs_ms, 'ms')}   "
        f"QT {_fmt(m.qt_ms, 'ms')}   QTc(B) {_fmt(m.qtc.bazett if m.qtc else None, 'ms')}   "
        f"QTc(F) {_fmt(m.qtc.fridericia if m.qtc else None, 'ms')}",
        f"Axes P {_fmt(m.p_axis_deg, 'deg')}   QRS {_fmt(m.qrs_axis_deg, 'deg')}   "
        f"T {_fmt(m.t_axis_deg, 'deg')}   P {_fmt(m.p_ms, 'ms')}",
    ]


#: What the band between the header and the grid holds (11 mm): on the left, up to 143 mm wide (the
#: signatures start at 160 mm), the over-read and two addenda on one line each; on the right three signature
#: lines (a fourth would be drawn over the grid). Characters at about 1.4 mm each at 7 pt.
BAND_SIGNATURES = 3
BAND_ADDENDA = 2
OVER_READ_CHARS = 75
ADDENDUM_LINE_CHARS = 100
SIGNATURE_CHARS = 100  # from 160 mm to the page's right edge (297 mm) at 6.4-7.2 pt


def _addendum_line(i: int, addendum: Addendum) -> str:
    return f"Addendum {i} ({addendum.author}, {addendum.at:%Y-%m-%d}): {addendum.text.strip()}"


def on_first_page(ctx: Ecg12ReportContext) -> bool:
    """Whether the over-read, the addenda and the signatures fit page one's band whole."""
    n_signatures = (len(ctx.earlier_signatures) + 1) if ctx.signature is not None else 0
    return (
        fits(ctx.over_read, OVER_READ_CHARS)
        and len(ctx.addenda) <= BAND_ADDENDA
        and all(fits(_addendum_line(i, a), ADDENDUM_LINE_CHARS) for i, a in enumerate(ctx.addenda, 1))
        and n_signatures <= BAND_SIGNATURES
        and all(len(s.text) <= SIGNATURE_CHARS
                for s in signature_lines(ctx.signature, ctx.earlier_signatures, ctx.header.report_version))
    )


def _continued(ctx: Ecg12ReportContext, digest: str) -> list[Figure]:
    if on_first_page(ctx):
        return []
    h = ctx.header
    title = (f"Resting 12-lead ECG   {h.patient_name or 'Unnamed patient'}   ID {h.patient_id or '--'}   "
             f"Study {h.study_id or '--'}   report v{h.report_version}")
    return continuation_pages(
        PAGE_MM, title, "Physician over-read", ctx.over_read, ctx.addenda,
        signature_lines(ctx.signature, ctx.earlier_signatures, h.report_version),
        f"report v{h.report_version}  content {digest[:12]}",
    )


def _text_blocks(fig: Figure, ctx: Ecg12ReportContext, digest: str) -> None:
    w, h = PAGE_MM
    for i, line in enumerate(_header_lines(ctx)):
        fig.text(12 / w, 1 - (10 + 4.6 * i) / h, line, fontsize=7.5, family="monospace")
    fig.text(160 / w, 1 - 10 / h, "Computer statements", fontsize=7.5, weight="bold")
    for i, statement in enumerate(ctx.result.statements[:7]):
        line = statement.describe() if i else statement.text
        fig.text(160 / w, 1 - (14.6 + 4.0 * i) / h, line[:80], fontsize=6.8)
    y = 1 - 45 / h
    text = ctx.over_read.strip() or "(no over-read yet)"
    lines = signature_lines(ctx.signature, ctx.earlier_signatures, ctx.header.report_version)
    if on_first_page(ctx):
        fig.text(12 / w, y, f"Physician over-read: {text}", fontsize=7.2)
        for i, addendum in enumerate(ctx.addenda, 1):
            fig.text(12 / w, y - i * 3.6 / h, _addendum_line(i, addendum), fontsize=6.8)
    else:  # the band above the grid is too small: the whole text and every signature are on page 2
        start = text.splitlines()[0][: OVER_READ_CHARS - 3]
        fig.text(12 / w, y, f"Physician over-read: {start}{'...' if start != text else ''}", fontsize=7.2)
        more = f"{len(ctx.addenda)} addend{'um' if len(ctx.addenda) == 1 else 'a'}, " if ctx.addenda else ""
        fig.text(12 / w, y - 3.6 / h, f"Continued on page 2: the whole over-read, {more}every signature.",
                 fontsize=6.8, weight="bold")
        # the version's own signature here (unless its name is too long for the band); all on page 2
        lines = [s for s in lines[-1:] if len(s.text) <= SIGNATURE_CHARS]
        if ctx.earlier_signatures:
            n = len(ctx.earlier_signatures)
            fig.text(160 / w, y - 3.6 / h, f"and {n} earlier signature{'s' if n > 1 else ''}: page 2",
                     fontsize=6.4)
    if ctx.signature is None:
        fig.text(0.5, 1 - 4.5 / h, UNSIGNED_BANNER, fontsize=9, color="#b00020", ha="center", weight="bold")
    for i, sig in enumerate(lines):  # every signature the version carries, its own last and bold
        fig.text(160 / w, y - i * 3.6 / h, sig.text, fontsize=6.4 if len(lines) > 1 else 7.2,
                 weight="bold" if sig.current else "normal")
    fig.text(1 - 12 / w, 4 / h, f"report v{ctx.header.report_version}  content {digest[:12]}", fontsize=5.5,
             ha="right", color="#555555")
    warnings = ctx.result.warnings
    if warnings:  # what the reader had to guess or drop is on the page the physician signs
        more = f" (+{len(warnings) - 1} more in measurements.json)" if len(warnings) > 1 else ""
        fig.text(12 / w, 4 / h, f"Recording warning: {warnings[0][:140]}{more}", fontsize=6.2,
                 color="#b00020")


@report_fonts()
def render_ecg12_report(ctx: Ecg12ReportContext, out_dir: Path, basename: str = "ecg12-report"
                        ) -> RenderedEcg12Report:
    """Write the report as PDF (vector, exact scale) and PNG; each file appears whole or not at all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ctx.result
    fs = result.recording.fs
    names = result.lead_names  # with III, aVR, aVL and aVF where they were derived from I and II
    w, h = PAGE_MM
    fig = Figure(figsize=(w / MM_PER_INCH, h / MM_PER_INCH))
    ax = mm_axes(fig, 20.0, 14.0, 258.0, 4 * ROW_HEIGHT_MM)
    width = draw_12lead_3x4(ax, result.signal, fs, names, row_height=ROW_HEIGHT_MM)
    shown_s = min(result.recording.n_samples / fs, 10.0)
    fig.text(20 / w, 9 / h, f"25 mm/s   10 mm/mV   {fs:g} Hz   {shown_s:.1f} s shown   {ALGORITHM_VERSION}   "
             f"grid {width:.0f} mm wide", fontsize=6.5)
    digest = report_content_digest(ctx)
    _text_blocks(fig, ctx, digest)
    pdf = out_dir / f"{basename}.pdf"
    png = out_dir / f"{basename}.png"
    more = _continued(ctx, digest)
    for path, dpi in ((pdf, 72), (png, 150)):
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{path.stem}.", suffix=path.suffix)
        os.close(fd)
        try:
            if path is pdf and more:  # page one, then the text it could not hold
                with PdfPages(tmp) as pages:
                    for page in (fig, *more):
                        pages.savefig(page, dpi=dpi)
            else:
                fig.savefig(tmp, dpi=dpi)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return RenderedEcg12Report(pdf, png, digest)
