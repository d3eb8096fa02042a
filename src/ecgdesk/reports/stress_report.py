"""The exercise stress test report: summary, stage table, ST trend, interpretation and signature."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from ecgdesk.analysis.stress.exercise import (
    MV_PER_MM,
    StageMeasurement,
    StressResult,
    lead_key,
    st_keys,
    stress_to_dict,
    subject_of,
)
from ecgdesk.analysis.stress.protocol import Phase
from ecgdesk.reports.context import Addendum, ReportHeader, SignatureBlock, signature_lines
from ecgdesk.reports.continuation import continuation_pages, fits
from ecgdesk.reports.fonts import report_fonts
from ecgdesk.reports.paper import MM_PER_INCH, draw_grid, mm_axes

PAGE_MM = (210.0, 297.0)  # A4 portrait


@dataclass
class StressReportContext:
    result: StressResult
    header: ReportHeader = field(default_factory=ReportHeader)
    supervising_physician: str = ""
    interpretation: str = ""
    signature: SignatureBlock | None = None
    addenda: list[Addendum] = field(default_factory=list)
    earlier_signatures: list[SignatureBlock] = field(default_factory=list)  # see ScanningReportContext


@dataclass(frozen=True)
class RenderedStressReport:
    pdf_path: Path
    content_sha256: str


def _supervisor(ctx: StressReportContext) -> str:
    """Who supervised, as printed: the context's, else the one the protocol file names (with the NPI)."""
    if ctx.supervising_physician:
        return ctx.supervising_physician
    p = ctx.result.protocol
    return f"{p.supervisor} (NPI {p.supervisor_npi})" if p.supervisor and p.supervisor_npi else p.supervisor


def stress_report_digest(ctx: StressReportContext) -> str:
    """SHA-256 of what a signature covers (the signature block itself is not part of it)."""
    h = ctx.header
    content = {"kind": "stress_test", "result": stress_to_dict(ctx.result),
               "patient": [h.patient_name, h.patient_id, str(h.birth_date or ""), h.sex],
               "order": [h.ordering_physician, h.ordering_npi, list(h.indications)], "study_id": h.study_id,
               "supervising": _supervisor(ctx), "interpretation": ctx.interpretation,
               "addenda": [[a.text, a.author, a.at.isoformat()] for a in ctx.addenda],
               "report_version": h.report_version}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _summary_lines(r: StressResult) -> list[str]:
    minutes, seconds = divmod(int(round(r.exercise_time_s)), 60)
    mets = "--" if r.mets is None else f"{r.mets:.1f}"  # None: outside Foster's range, said in the warnings
    lines = [
        f"Protocol {r.protocol.protocol}   Exercise time {minutes}:{seconds:02d}   METs {mets}",
        f"Resting HR {r.resting_hr_bpm or 0:.0f} bpm   Peak HR {r.peak_hr_bpm:.0f} bpm = "
        f"{r.percent_of_predicted_max:.0f} % of age-predicted maximum ({r.age_predicted_max_hr:.0f}); "
        f"target (85 %) {r.target_hr_bpm:.0f} bpm {'reached' if r.target_reached else 'NOT reached'}",
        f"Max ST depression {r.max_st_depression_mm:.1f} mm ({r.max_st_depression_lead or '--'}) at J+80; "
        f"ischemic ST response: {'yes' if r.ischemic_st_response else 'no'}",
        f"Duke treadmill score {r.duke_score:.1f} ({r.duke_risk.value} risk); angina index "
        f"{int(r.protocol.angina_index)}",
        f"Reason stopped: {r.protocol.reason_stopped or '--'}",
    ]
    # where the protocol file's age or sex disagrees with the record, or stood in for it: said, not dropped
    lines[0:0] = list(subject_of(r).notes)
    kinds: dict[str, int] = {}
    for a in r.arrhythmias:
        kinds[f"{a.kind.replace('_', ' ')} ({a.phase.value})"] = kinds.get(
            f"{a.kind.replace('_', ' ')} ({a.phase.value})", 0) + 1
    lines.append("Arrhythmias: " + (", ".join(f"{k}: {v}" for k, v in kinds.items()) or "none detected"))
    if r.warnings:  # noise left out, a stage without recording: on the page the physician signs
        more = f" (+{len(r.warnings) - 1} more in stress.json)" if len(r.warnings) > 1 else ""
        lines.append(f"Warning: {r.warnings[0][:130]}{more}")
    return lines


def _stage_rows(r: StressResult) -> list[list[str]]:
    rows = []
    for m in r.stages:
        worst = m.worst_depression()
        bp = f"{m.stage.systolic}/{m.stage.diastolic}" if m.stage.systolic is not None else "--"
        rows.append([
            m.stage.name, m.stage.phase.value, f"{m.stage.start_s / 60:.1f}-{m.stage.end_s / 60:.1f}",
            f"{m.stage.speed_mph:g}/{m.stage.grade_pct:g}" if m.stage.speed_mph is not None
            and m.stage.grade_pct is not None else "--",
            f"{m.hr_bpm:.0f}" if m.hr_bpm else "--", bp, f"{m.mets:.1f}" if m.mets else "--",
            f"{worst.lead} {worst.st_j60_mv / MV_PER_MM:+.1f}/{worst.st_j80_mv / MV_PER_MM:+.1f} "
            f"{worst.slope_class.value}" if worst else "--",
        ])
    return rows


def _representative_stages(r: StressResult) -> list[StageMeasurement]:
    """Rest, peak exercise, first recovery and the stage of the deepest ST depression, as readers compare."""
    with_beats = [m for m in r.stages if m.median_beat is not None]
    chosen: list[StageMeasurement] = []
    rest = [m for m in with_beats if m.stage.phase is Phase.PRETEST]
    exercise = [m for m in with_beats if m.stage.phase is Phase.EXERCISE]
    recovery = [m for m in with_beats if m.stage.phase is Phase.RECOVERY]
    for group in (rest[-1:], exercise[-1:], recovery[:1]):
        chosen.extend(group)
    deepest = min((m for m in with_beats if m.worst_depression() is not None),
                  key=lambda m: m.worst_depression().st_j80_mv, default=None)  # type: ignore[union-attr]
    if deepest is not None and all(deepest is not m for m in chosen):
        chosen.append(deepest)
    return chosen


def _complexes_page(ctx: StressReportContext) -> Figure | None:
    """Median complexes of the chosen stages, leads in rows, on the standard grid (25 mm/s, 10 mm/mV)."""
    r = ctx.result
    stages = _representative_stages(r)
    if not stages:
        return None
    names = [s.lead for s in stages[0].st]
    wanted = ["II", "V5", r.max_st_depression_lead or "aVF", "aVF", "V1"]
    leads: list[int] = []
    keys = st_keys(stages[0].st)  # a doubled name (two II) is drawn as neither
    for name in wanted:
        index = next((i for i, key in enumerate(keys) if key == lead_key(name)), None)
        if index is not None and index not in leads:
            leads.append(index)
    leads = leads[:4] or list(range(min(3, len(names))))
    w, h = PAGE_MM
    fig = Figure(figsize=(w / MM_PER_INCH, h / MM_PER_INCH))
    fig.text(0.5, 0.965, "Representative median complexes (ST at J+80 in mm)", ha="center", fontsize=11,
             weight="bold")
    cell_w, cell_h = 40.0, 32.0
    ax = mm_axes(fig, 18.0, h - 40.0 - cell_h * len(leads), 12.0 + cell_w * len(stages), cell_h * len(leads))
    draw_grid(ax, 12.0, 0.0, cell_w * len(stages), cell_h * len(leads))
    fs = r.fs
    for c, stage in enumerate(stages):
        ax.text(12.0 + c * cell_w + 1.0, cell_h * len(leads) + 1.5,
                f"{stage.stage.name} ({stage.hr_bpm or 0:.0f} bpm)", fontsize=6.5)
        beat = stage.median_beat
        assert beat is not None
        shown = beat[: int(min(beat.shape[0], cell_w / 25.0 * fs))]
        for row, li in enumerate(leads):
            y0 = cell_h * (len(leads) - row - 0.55)
            x = 12.0 + c * cell_w + np.arange(shown.shape[0]) / fs * 25.0
            ax.plot(x, y0 + shown[:, li] * 10.0, color="black", linewidth=0.6)
            st = stage.st[li]
            ax.text(12.0 + (c + 1) * cell_w - 1.0, y0 - 0.4 * cell_h + 1.0,
                    f"{st.st_j80_mv / MV_PER_MM:+.1f}", fontsize=5.5, ha="right")
            if c == 0:
                ax.text(0.5, y0, names[li], fontsize=7, va="center")
    return fig


#: The band under the ST trend (from 47 mm above the page's foot down to 12 mm): the interpretation and
#: three addenda on one line each, then five signature lines; lines of at most these many characters fit
#: the 185 mm between the margins (about 1.45 mm a character at 7.5 pt).
BAND_ADDENDA = 3
BAND_SIGNATURES = 5
INTERPRETATION_CHARS = 100
LINE_CHARS = 115


def _addendum_line(i: int, addendum: Addendum) -> str:
    return f"Addendum {i} ({addendum.author}): {addendum.text.strip()}"


def on_first_page(ctx: StressReportContext) -> bool:
    """Whether the interpretation, the addenda and the signatures fit page one's band whole."""
    sigs = signature_lines(ctx.signature, ctx.earlier_signatures, ctx.header.report_version)
    return (
        fits(ctx.interpretation, INTERPRETATION_CHARS)
        and len(ctx.addenda) <= BAND_ADDENDA
        and all(fits(_addendum_line(i, a), LINE_CHARS) for i, a in enumerate(ctx.addenda, 1))
        and len(sigs) <= BAND_SIGNATURES
        and all(len(s.text) <= LINE_CHARS for s in sigs)
    )


def _text_band(fig: Figure, ctx: StressReportContext) -> None:
    text = ctx.interpretation.strip() or "(no interpretation yet)"
    sigs = signature_lines(ctx.signature, ctx.earlier_signatures, ctx.header.report_version)
    if on_first_page(ctx):
        fig.text(0.06, 0.16, f"Interpretation: {text}", fontsize=7.5)
        for i, addendum in enumerate(ctx.addenda, 1):
            fig.text(0.06, 0.145 - (i - 1) * 0.014, _addendum_line(i, addendum), fontsize=7)
    else:  # the rest is on the next page, whole: the interpretation, each addendum, every signature
        start = text.splitlines()[0][: INTERPRETATION_CHARS - 3]
        fig.text(0.06, 0.16, f"Interpretation: {start}{'...' if start != text else ''}", fontsize=7.5)
        more = f"{len(ctx.addenda)} addend{'um' if len(ctx.addenda) == 1 else 'a'}, " if ctx.addenda else ""
        fig.text(0.06, 0.145, f"Continued on page 2: the whole interpretation, {more}every signature.",
                 fontsize=7, weight="bold")
        if len(sigs) > 1:
            n = len(sigs) - 1
            fig.text(0.06, 0.078, f"and {n} earlier signature{'s' if n > 1 else ''}: page 2", fontsize=7)
        sigs = [s for s in sigs[-1:] if len(s.text) <= LINE_CHARS]  # a name too long to fit: page 2 only
    if ctx.signature is None:
        fig.text(0.5, 0.985, "UNCONFIRMED - not signed", ha="center", fontsize=9, color="#b00020",
                 weight="bold")
    for i, sig in enumerate(sigs):
        fig.text(0.06, 0.09 - i * 0.012, sig.text, fontsize=7.5, weight="bold" if sig.current else "normal")


def _continued(ctx: StressReportContext, digest: str) -> list[Figure]:
    if on_first_page(ctx):
        return []
    h = ctx.header
    title = (f"Exercise stress test   {h.patient_name or 'Unnamed patient'}   ID {h.patient_id or '--'}   "
             f"Study {h.study_id or '--'}   report v{h.report_version}")
    return continuation_pages(
        PAGE_MM, title, "Interpretation", ctx.interpretation, ctx.addenda,
        signature_lines(ctx.signature, ctx.earlier_signatures, h.report_version),
        f"report v{h.report_version}  content {digest[:12]}",
    )


@report_fonts()
def render_stress_report(ctx: StressReportContext, out_dir: Path, basename: str = "stress-report"
                         ) -> RenderedStressReport:
    out_dir.mkdir(parents=True, exist_ok=True)
    r = ctx.result
    digest = stress_report_digest(ctx)
    w, h = PAGE_MM
    pdf_path = out_dir / f"{basename}.pdf"
    tmp = out_dir / f".{basename}.tmp.pdf"
    with PdfPages(tmp) as pdf:
        fig = Figure(figsize=(w / MM_PER_INCH, h / MM_PER_INCH))
        fig.text(0.5, 0.965, "Exercise stress test report", ha="center", fontsize=13, weight="bold")
        h_ = ctx.header
        supervisor = _supervisor(ctx)
        subject = subject_of(r)  # the patient record's age at the test date and sex (see subject.py)
        fig.text(0.06, 0.94, f"{h_.patient_name or 'Unnamed patient'}   ID {h_.patient_id or '--'}   "
                             f"Age {subject.age}   Sex {subject.sex}   Study {h_.study_id or '--'}   "
                             f"Supervising {supervisor or '--'}", fontsize=7.5)
        for i, line in enumerate(_summary_lines(r)):
            fig.text(0.06, 0.915 - i * 0.017, line, fontsize=7.5)
        table_ax = fig.add_axes((0.06, 0.48, 0.88, 0.3))
        table_ax.set_axis_off()
        table = table_ax.table(
            cellText=_stage_rows(r) or [["--"] * 8],
            colLabels=["Stage", "Phase", "Min", "mph/%", "HR", "BP", "METs", "Worst ST mm J60/J80"],
            loc="upper center", cellLoc="center", colWidths=[0.1, 0.1, 0.1, 0.1, 0.07, 0.1, 0.08, 0.35])
        table.auto_set_font_size(False)
        table.set_fontsize(6.5)
        trend = fig.add_axes((0.1, 0.22, 0.82, 0.2))
        times = [(m.window_start_s + m.window_end_s) / 120.0 for m in r.stages if m.st]
        leads = [s.lead for s in r.stages[0].st] if r.stages and r.stages[0].st else []
        for lead in leads:
            values = [next(s.st_j80_mv for s in m.st if s.lead == lead) / MV_PER_MM for m in r.stages if m.st]
            trend.plot(times, values, marker="o", markersize=2, linewidth=0.8, label=lead)
        trend.axhline(-1.0, color="#b00020", linewidth=0.6, linestyle="--")
        trend.set_xlabel("minutes", fontsize=7)
        trend.set_ylabel("ST at J+80 (mm)", fontsize=7)
        trend.tick_params(labelsize=6)
        if leads:
            trend.legend(fontsize=5, ncol=6, loc="lower left")
        _text_band(fig, ctx)
        fig.text(0.94, 0.02, f"report v{h_.report_version}  content {digest[:12]}", ha="right", fontsize=5.5)
        pdf.savefig(fig)
        for page in _continued(ctx, digest):
            pdf.savefig(page)
        complexes = _complexes_page(ctx)
        if complexes is not None:
            pdf.savefig(complexes)
    tmp.replace(pdf_path)
    return RenderedStressReport(pdf_path, digest)
