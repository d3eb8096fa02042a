"""The resting 12-lead ECG report: measurements, statements, the 3x4 layout and a rhythm strip on ECG paper.

One landscape A4 page drawn in millimetres: 25 mm/s and 10 mm/mV, 1 mm minor and 5 mm major grid lines,
a 1 mV calibration pulse at the start of every row. The page carries the computer statements, the
physician's over-read and the signature block (or an "unconfirmed" banner while unsigned).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ecgdesk.analysis.ecg12.resting import ALGORITHM_VERSION, RestingEcgResult, measurements_to_dict

PAGE_MM = (297.0, 210.0)  # A4 landscape
MM_PER_S = 25.0
MM_PER_MV = 10.0
MM_PER_INCH = 25.4
LAYOUT_3X4 = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
GRID_MINOR = "#f4c7c7"
GRID_MAJOR = "#e28a8a"


@dataclass(frozen=True)
class Signature:
    """Who interpreted the ECG and when; ``meaning`` is what the signature attests."""

    name: str
    signed_at: datetime
    meaning: str = "Interpreted by"
    credentials: str = ""


@dataclass
class Ecg12ReportContext:
    result: RestingEcgResult
    patient_name: str = ""
    patient_id: str = ""
    birth_date: date | None = None
    sex: str = ""
    study_id: str = ""
    ordering_physician: str = ""
    indication: str = ""
    over_read: str = ""
    signature: Signature | None = None
    addenda: list[str] = field(default_factory=list)
    version: int = 1


@dataclass(frozen=True)
class RenderedEcg12Report:
    pdf_path: Path
    png_path: Path
    content_sha256: str


def report_content_digest(ctx: Ecg12ReportContext) -> str:
    """SHA-256 of what a signature covers: measurements, statements, over-read, addenda; not the signature."""
    content = {
        "measurements": measurements_to_dict(ctx.result),
        "patient": [ctx.patient_name, ctx.patient_id, str(ctx.birth_date or ""), ctx.sex],
        "study_id": ctx.study_id,
        "over_read": ctx.over_read,
        "addenda": ctx.addenda,
        "version": ctx.version,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _mm_axes(fig: Figure, left: float, bottom: float, width: float, height: float) -> Axes:
    """Axes whose data units are millimetres on the page (so 1 data unit prints as 1 mm)."""
    w, h = PAGE_MM
    ax = fig.add_axes((left / w, bottom / h, width / w, height / h))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return ax


def draw_grid(ax: Axes, width: float, height: float) -> None:
    """Standard ECG paper: 1 mm minor and 5 mm major lines."""
    minor: list[list[tuple[float, float]]] = []
    major: list[list[tuple[float, float]]] = []
    for x in np.arange(0, width + 0.01, 1.0):
        (major if round(x) % 5 == 0 else minor).append([(x, 0), (x, height)])
    for y in np.arange(0, height + 0.01, 1.0):
        (major if round(y) % 5 == 0 else minor).append([(0, y), (width, y)])
    ax.add_collection(LineCollection(minor, colors=GRID_MINOR, linewidths=0.2, zorder=0))
    ax.add_collection(LineCollection(major, colors=GRID_MAJOR, linewidths=0.45, zorder=0))


def draw_trace(ax: Axes, samples: np.ndarray, fs: float, x0: float, y0: float, label: str = "") -> None:
    """One lead from page position (x0, y0) mm at 25 mm/s and 10 mm/mV."""
    x = x0 + np.arange(samples.size) / fs * MM_PER_S
    ax.plot(x, y0 + samples * MM_PER_MV, color="black", linewidth=0.55, zorder=2)
    if label:
        ax.text(x0 + 1.0, y0 + 7.0, label, fontsize=7, zorder=3)


def draw_calibration(ax: Axes, x0: float, y0: float) -> float:
    """A 1 mV, 200 ms calibration pulse; returns its width in mm."""
    ax.plot([x0, x0 + 1, x0 + 1, x0 + 4, x0 + 4, x0 + 5], [y0, y0, y0 + MM_PER_MV, y0 + MM_PER_MV, y0, y0],
            color="black", linewidth=0.6, zorder=2)
    return 5.0


def _lead_index(names: list[str], wanted: str) -> int | None:
    lowered = [n.lower() for n in names]
    return lowered.index(wanted.lower()) if wanted.lower() in lowered else None


def _centred(x: np.ndarray) -> np.ndarray:
    return x - float(np.median(x)) if x.size else x


def _header_lines(ctx: Ecg12ReportContext) -> tuple[list[str], list[str]]:
    m = ctx.result.measurements
    rec = ctx.result.recording

    def fmt(value: float | None, unit: str) -> str:
        return "--" if value is None or not np.isfinite(value) else f"{value:.0f} {unit}"

    when = rec.start_time.strftime("%Y-%m-%d %H:%M:%S") if rec.start_time else "unknown time"
    left = [
        f"{ctx.patient_name or 'Unnamed patient'}   ID {ctx.patient_id or '--'}   "
        f"DOB {ctx.birth_date or '--'}   Sex {ctx.sex or '--'}",
        f"Acquired {when}   Device {rec.device or '--'}   Study {ctx.study_id or '--'}",
        f"Ordering {ctx.ordering_physician or '--'}   Indication {ctx.indication or '--'}",
        f"HR {fmt(m.hr_bpm, 'bpm')}   PR {fmt(m.pr_ms, 'ms')}   QRS {fmt(m.qrs_ms, 'ms')}   "
        f"QT {fmt(m.qt_ms, 'ms')}   QTc(B) {fmt(m.qtc.bazett if m.qtc else None, 'ms')}   "
        f"QTc(F) {fmt(m.qtc.fridericia if m.qtc else None, 'ms')}",
        f"Axes P {fmt(m.p_axis_deg, 'deg')}   QRS {fmt(m.qrs_axis_deg, 'deg')}   "
        f"T {fmt(m.t_axis_deg, 'deg')}   P {fmt(m.p_ms, 'ms')}",
    ]
    right = [s.describe() if i else s.text for i, s in enumerate(ctx.result.statements)]
    return left, right


def render_ecg12_report(ctx: Ecg12ReportContext, out_dir: Path, basename: str = "ecg12-report"
                        ) -> RenderedEcg12Report:
    """Write the report as PDF (vector, exact scale) and PNG next to it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ctx.result
    fs = result.recording.fs
    names = [lead.name for lead in result.recording.leads]
    data = result.signal
    w, h = PAGE_MM
    fig = plt.figure(figsize=(w / MM_PER_INCH, h / MM_PER_INCH))
    left, right = _header_lines(ctx)
    for i, line in enumerate(left):
        fig.text(12 / w, 1 - (10 + 4.6 * i) / h, line, fontsize=7.5, family="monospace")
    fig.text(160 / w, 1 - 10 / h, "Computer statements", fontsize=7.5, weight="bold")
    for i, line in enumerate(right[:7]):
        fig.text(160 / w, 1 - (14.6 + 4.0 * i) / h, line[:80], fontsize=6.8)
    trace_width, row_height = 255.0, 35.0
    ax = _mm_axes(fig, 21.0, 12.0, trace_width, 4 * row_height)
    draw_grid(ax, trace_width, 4 * row_height)
    column_s = 2.5
    column_mm = column_s * MM_PER_S
    for row, leads in enumerate(LAYOUT_3X4):
        y0 = (3.5 - row) * row_height
        x = draw_calibration(ax, 0.0, y0)
        for col, lead in enumerate(leads):
            li = _lead_index(names, lead)
            start = int(col * column_s * fs)
            stop = min(data.shape[0], int((col + 1) * column_s * fs))
            if li is None or stop <= start:
                continue
            draw_trace(ax, _centred(data[start:stop, li]), fs, x + col * column_mm, y0, names[li])
            if col:
                ax.plot([x + col * column_mm] * 2, [y0 - 4, y0 + 4], color="black", linewidth=0.6)
    rhythm = _lead_index(names, "II")
    rhythm = 0 if rhythm is None else rhythm
    x = draw_calibration(ax, 0.0, 0.5 * row_height)
    stop = min(data.shape[0], int((trace_width - x) / MM_PER_S * fs))
    draw_trace(ax, _centred(data[:stop, rhythm]), fs, x, 0.5 * row_height, f"{names[rhythm]} (rhythm)")
    shown_s = min(result.recording.n_samples / fs, (trace_width - x) / MM_PER_S)
    fig.text(21 / w, 8 / h, f"25 mm/s   10 mm/mV   {fs:g} Hz   {shown_s:.1f} s shown   {ALGORITHM_VERSION}",
             fontsize=6.5)
    digest = report_content_digest(ctx)
    _signature_block(fig, ctx, digest)
    pdf = out_dir / f"{basename}.pdf"
    png = out_dir / f"{basename}.png"
    for path, dpi in ((pdf, 72), (png, 150)):
        tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
        fig.savefig(tmp, dpi=dpi)
        tmp.replace(path)
    plt.close(fig)
    return RenderedEcg12Report(pdf, png, digest)


def _signature_block(fig: Figure, ctx: Ecg12ReportContext, digest: str) -> None:
    w, h = PAGE_MM
    y = 1 - 45 / h
    text = ctx.over_read.strip() or "(no over-read yet)"
    fig.text(12 / w, y, f"Physician over-read: {text[:150]}", fontsize=7.2)
    for i, addendum in enumerate(ctx.addenda[:2]):
        fig.text(12 / w, y - (i + 1) * 3.6 / h, f"Addendum {i + 1}: {addendum[:140]}", fontsize=6.8)
    if ctx.signature is None:
        fig.text(0.5, 1 - 4.5 / h, "UNCONFIRMED - computer interpretation, not signed", fontsize=9,
                 color="#b00020", ha="center", weight="bold")
    else:
        s = ctx.signature
        fig.text(160 / w, y, f"{s.meaning}: {s.name}{', ' + s.credentials if s.credentials else ''}   "
                 f"{s.signed_at:%Y-%m-%d %H:%M}", fontsize=7.2, weight="bold")
    fig.text(1 - 12 / w, 4 / h, f"report v{ctx.version}  content {digest[:12]}", fontsize=5.5, ha="right",
             color="#555555")
