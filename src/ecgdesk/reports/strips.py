"""Event strips of a scanning report: the samples, beats and episode marks of one window, drawn on paper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from ecgdesk.analysis.findings import EpisodeType, TemplateSummary
from ecgdesk.reports.context import ScanningReportContext
from ecgdesk.reports.events import EventStrip
from ecgdesk.reports.paper import STANDARD, EpisodeMark, PaperSpec, draw_grid, draw_strip
from ecgdesk.reports.tables import clock_for, recording_start

#: Episode kinds marked with a bar under the strips (noise/lead-off are marked too: they explain gaps).
MARKED = {
    EpisodeType.AF: "AF", EpisodeType.FLUTTER: "Flutter", EpisodeType.PAUSE: "Pause", EpisodeType.VT: "VT",
    EpisodeType.SVT: "SVT", EpisodeType.AVB2: "AVB II?", EpisodeType.AVB3: "AVB III?",
    EpisodeType.NOISE: "Noise", EpisodeType.LEAD_OFF: "Lead off", EpisodeType.BRADY: "Brady",
    EpisodeType.TACHY: "Tachy", EpisodeType.VF: "VF",
}
TEMPLATES_SHOWN = 20
TEMPLATE_CELL_MM = (36.0, 36.0)
TEMPLATES_PER_ROW = 5
MARK_COLORS = {EpisodeType.NOISE: "#888888", EpisodeType.LEAD_OFF: "#888888", EpisodeType.AF: "#1f5fbf",
               EpisodeType.FLUTTER: "#1f5fbf", EpisodeType.SVT: "#1f5fbf"}


#: Height of each channel (mm) on a strip of 1, 2 or 3 channels.
CHANNEL_MM = (30.0, 25.0, 20.0)


@dataclass(frozen=True)
class StripData:
    signal: np.ndarray  # (n_samples, n_channels), mV
    fs: float
    start_s: float
    leads: tuple[str, ...]
    beat_samples: np.ndarray | None
    beat_labels: np.ndarray | None
    marks: tuple[EpisodeMark, ...]


def strip_lead(ctx: ScanningReportContext) -> int:
    """Index of the lead shown on strips: the context's, else the analysed lead, else the first."""
    rec = ctx.recording
    if rec is None:
        return 0
    wanted = ctx.lead or ctx.findings.summary.recording.lead
    if ctx.lead is not None:
        return rec.lead_index(ctx.lead)  # an unknown lead asked for is the caller's error: say so
    lowered = [n.lower() for n in rec.lead_names]
    return lowered.index(wanted.lower()) if wanted and wanted.lower() in lowered else 0


def strip_leads(ctx: ScanningReportContext) -> list[int]:
    """The leads on each strip: :func:`strip_lead` first, then the next ones, ``strip_channels`` in all."""
    if ctx.recording is None:
        return [0]
    first = strip_lead(ctx)
    others = [i for i in range(ctx.recording.n_leads) if i != first]
    return [first, *others][: ctx.strip_channels]


def strip_height(ctx: ScanningReportContext) -> float:
    """Height (mm) of one strip: all its channels."""
    n = len(strip_leads(ctx))
    return n * CHANNEL_MM[n - 1]


def strip_data(ctx: ScanningReportContext, strip: EventStrip) -> StripData | None:
    """Samples, beats and marks for ``strip``; ``None`` without a recording."""
    rec = ctx.recording
    if rec is None:
        return None
    fs = rec.fs
    a = max(0, int(round(strip.start_s * fs)))
    b = min(rec.n_samples, a + int(round(strip.duration_s * fs)))
    leads = strip_leads(ctx)
    signal = rec.read(a, b, leads)
    samples = labels = None
    if ctx.beats is not None:
        all_samples = np.asarray(ctx.beats.samples)
        lo, hi = np.searchsorted(all_samples, [a - int(3 * fs), b + int(3 * fs)])
        samples = all_samples[lo:hi] - a
        labels = np.asarray(ctx.beats.labels)[lo:hi]
    start_s = a / fs
    marks = []
    for e in ctx.findings.episodes:
        if e.type in MARKED and e.end_s > start_s and e.start_s < start_s + strip.duration_s:
            marks.append(EpisodeMark(e.start_s - start_s, e.end_s - start_s, MARKED[e.type],
                                     MARK_COLORS.get(e.type, "#c8102e")))
    names = tuple(rec.lead_names[i] for i in leads)
    return StripData(signal, fs, start_s, names, samples, labels, tuple(marks))


def draw_event_strip(ax: Axes, ctx: ScanningReportContext, strip: EventStrip, x0: float, y0: float,
                     width: float, height: float, spec: PaperSpec = STANDARD) -> bool:
    """Draw ``strip`` in the mm-axes ``ax``, its channels stacked in ``height``; beat letters over the top
    channel, episode bars and time labels on the bottom one. Returns False (and draws a note) without a
    recording."""
    data = strip_data(ctx, strip)
    if data is None:
        ax.text(x0 + width / 2, y0 + height / 2, "no recording attached: strip not available",
                ha="center", va="center", fontsize=7, color="#777777")
        return False
    draw_strip_data(ax, data, recording_start(ctx), x0, y0, width, height, spec)
    return True


def draw_strip_data(ax: Axes, data: StripData, start_time: datetime | None, x0: float, y0: float,
                    width: float, height: float, spec: PaperSpec = STANDARD) -> None:
    """Draw the strip ``data`` (from :func:`strip_data`): what is drawn depends on these arguments only."""
    n = data.signal.shape[1]
    channel = height / n
    for c in range(n):
        top, bottom = c == 0, c == n - 1
        label = f"{data.leads[c]}  25 mm/s  10 mm/mV" if top else data.leads[c]
        draw_strip(ax, data.signal[:, c], data.fs, x0=x0, y0=y0 + (n - 1 - c) * channel, width=width,
                   height=channel, spec=spec, beat_samples=data.beat_samples if top else None,
                   beat_labels=data.beat_labels if top else None, start_s=data.start_s,
                   start_time=start_time, lead_label=label, marks=data.marks if bottom else (),
                   time_labels=bottom)


def strip_caption(ctx: ScanningReportContext, strip: EventStrip) -> str:
    return f"{clock_for(ctx).datetime_at(strip.focus_s)}   {strip.rhythm}"


def templates_height(n: int) -> float:
    """Height (mm) that :func:`draw_templates` needs for ``n`` templates."""
    rows = -(-n // TEMPLATES_PER_ROW)
    return rows * (TEMPLATE_CELL_MM[1] + 8.0)


def draw_templates(ax: Axes, templates: list[TemplateSummary], x0: float, y_top: float,
                   spec: PaperSpec = STANDARD) -> None:
    """Templates on small grids, ``TEMPLATES_PER_ROW`` per row, from ``y_top`` (mm, axes data) down."""
    cell_w, cell_h = TEMPLATE_CELL_MM
    for k, t in enumerate(templates):
        r, c = divmod(k, TEMPLATES_PER_ROW)
        cx = x0 + c * cell_w
        cy = y_top - (r + 1) * (cell_h + 8.0) + 2.0
        draw_grid(ax, cx, cy, cell_w - 2, cell_h, spec)
        w = np.asarray(t.waveform, dtype=float)
        if w.size and t.fs > 0:
            w = w - float(np.median(w))
            n = min(w.size, int((cell_w - 4) / spec.mm_per_s * t.fs))
            start = max(0, min(t.fiducial - n // 2, w.size - n))
            seg = w[start:start + n]
            xs = cx + 1 + np.arange(seg.size) / t.fs * spec.mm_per_s
            (line,) = ax.plot(xs, cy + cell_h * 0.4 + seg * spec.mm_per_mv, color="black", linewidth=0.6)
            line.set_clip_path(Rectangle((cx, cy), cell_w - 2, cell_h, transform=ax.transData))
        ax.text(cx, cy + cell_h + 1.0, f"T{t.template_id}  {t.label}  {t.n_beats:,} beats", fontsize=6.8,
                va="bottom", weight="bold" if t.label != "N" else "normal")
