"""The heart-rate trend over the whole recording: one row per day (or one row for a short recording).

Drawn from the per-minute array in ``Findings.hr_trend`` (21,600 points for 15 days), with AF/flutter
time shaded, pauses marked with a red tick and patient-triggered events with a blue triangle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from matplotlib.axes import Axes

from ecgdesk.analysis.findings import EpisodeType, Findings

DAY_S = 86400.0
HR_LIMITS = (30.0, 200.0)
AF_COLOR = "#9ec5f0"


@dataclass(frozen=True)
class TrendRow:
    """One row of the trend: seconds from the recording start ``[start_s, end_s)``, and its label."""

    start_s: float
    end_s: float
    label: str
    axis_start_s: float  # the x axis begins here (midnight of the day, or the row start)
    axis_span_s: float


def trend_rows(duration_s: float, start: datetime | None) -> list[TrendRow]:
    """Calendar days with a clock start (first and last partial), 24 h blocks without; a recording of up
    to 24 h gets a single row spanning just the recording."""
    if duration_s <= DAY_S:
        label = f"{start:%a %Y-%m-%d}" if start else "Recording"
        return [TrendRow(0.0, duration_s, label, 0.0, max(duration_s, 60.0))]
    rows = []
    if start is None:
        n = int(np.ceil(duration_s / DAY_S))
        for d in range(n):
            end = min(duration_s, (d + 1) * DAY_S)
            rows.append(TrendRow(d * DAY_S, end, f"Day {d + 1}", d * DAY_S, DAY_S))
        return rows
    midnight = datetime(start.year, start.month, start.day, tzinfo=start.tzinfo)
    offset = (start - midnight).total_seconds()
    d = 0
    while d * DAY_S - offset < duration_s:
        a = d * DAY_S - offset
        day = midnight + timedelta(days=d)
        rows.append(TrendRow(max(0.0, a), min(duration_s, a + DAY_S), f"Day {d + 1}  {day:%a %m-%d}",
                             a, DAY_S))
        d += 1
    return rows


def draw_trend_row(ax: Axes, findings: Findings, row: TrendRow, start: datetime | None,
                   show_xlabels: bool = True) -> None:
    """HR per minute in ``row``, AF shaded, pauses and patient events marked, hours on the x axis."""
    trend = findings.hr_trend
    step = trend.interval_s or 60.0
    bpm = np.array([np.nan if v is None else v for v in trend.bpm], dtype=float)
    t = (np.arange(bpm.size) + 0.5) * step
    sel = (t >= row.start_s) & (t < row.end_s)
    x = (t[sel] - row.axis_start_s) / 3600.0
    y = np.clip(bpm[sel], *HR_LIMITS)
    for e in findings.episodes_of(EpisodeType.AF, EpisodeType.FLUTTER):
        a, b = max(e.start_s, row.start_s), min(e.end_s, row.end_s)
        if b > a:
            ax.axvspan((a - row.axis_start_s) / 3600.0, (b - row.axis_start_s) / 3600.0, color=AF_COLOR,
                       lw=0, zorder=0)
    ax.plot(x, y, color="#222222", linewidth=0.6, zorder=2)
    pauses = [e for e in findings.episodes_of(EpisodeType.PAUSE) if row.start_s <= e.start_s < row.end_s]
    if pauses:
        px = [(e.start_s - row.axis_start_s) / 3600.0 for e in pauses]
        ax.plot(px, [HR_LIMITS[0] + 4] * len(px), "|", color="#c8102e", markersize=5, zorder=3)
    events = [ev for ev in findings.patient_events if row.start_s <= ev.time_s < row.end_s]
    if events:
        ex = [(ev.time_s - row.axis_start_s) / 3600.0 for ev in events]
        ax.plot(ex, [HR_LIMITS[1] - 8] * len(ex), "v", color="#1f5fbf", markersize=3.5, zorder=3)
    span_h = row.axis_span_s / 3600.0
    ax.set_xlim(0.0, span_h)
    ax.set_ylim(*HR_LIMITS)
    ax.set_yticks([40, 60, 100, 150])
    ax.grid(True, color="#dddddd", linewidth=0.4)
    ax.tick_params(labelsize=5.5, length=2, pad=1)
    ticks, labels = _hour_ticks(row, start, span_h)
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels if show_xlabels else [""] * len(ticks))
    ax.set_ylabel(row.label, fontsize=6, rotation=0, ha="right", va="center", labelpad=4)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _hour_ticks(row: TrendRow, start: datetime | None, span_h: float) -> tuple[list[float], list[str]]:
    if span_h >= 12:
        ticks = [float(h) for h in range(0, int(span_h) + 1, 2)]
    elif span_h >= 2:
        ticks = [float(h) for h in range(0, int(span_h) + 1)]
    else:
        ticks = [m / 60.0 for m in range(0, int(span_h * 60) + 1, 5 if span_h <= 1 else 15)]
    labels = []
    for h in ticks:
        seconds = row.axis_start_s + h * 3600.0
        if start is not None:
            labels.append(f"{start + timedelta(seconds=seconds):%H:%M}")
        else:
            labels.append(f"{int(seconds % DAY_S // 3600):02d}:{int(seconds % 3600 // 60):02d}")
    return ticks, labels
