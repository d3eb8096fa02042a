"""ECG strips on the standard paper grid, drawn with matplotlib at exact physical size.

Everything here is drawn in axes whose data units are millimetres on the printed page
(:func:`mm_axes`): 1 data unit prints as 1 mm whatever the DPI, so a PDF printed at 100 % has a true
25 mm/s, 10 mm/mV grid with 1 mm minor and 5 mm major lines.

- :func:`draw_strip` draws one lead (grid, 1 mV calibration pulse, trace, beat letters, time labels and an
  optional episode bar): the building block of Holter event strips, patient-event strips and templates.
- :func:`draw_12lead_3x4` draws the standard resting 12-lead layout (3 rows of 4 leads, 2.5 s each, plus a
  full-width rhythm strip) with the same conventions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ecgdesk.errors import InputError, check_positive
from ecgdesk.records.lead_names import lead_keys

MM_PER_INCH = 25.4
GRID_MINOR = "#f6c9c9"
GRID_MAJOR = "#e07a7a"
TRACE_COLOR = "#111111"
#: Colour of each beat letter: normal beats stay discreet, ectopic and unclassified beats stand out.
BEAT_COLORS = {"N": "#555555", "S": "#1f5fbf", "V": "#c8102e", "F": "#7b3fa0", "Q": "#c77800"}
LAYOUT_3X4: tuple[tuple[str, ...], ...] = (
    ("I", "aVR", "V1", "V4"),
    ("II", "aVL", "V2", "V5"),
    ("III", "aVF", "V3", "V6"),
)


@dataclass(frozen=True)
class PaperSpec:
    """Paper speed and gain, and the grid spacing (the defaults are the clinical standard)."""

    mm_per_s: float = 25.0
    mm_per_mv: float = 10.0
    minor_mm: float = 1.0
    major_mm: float = 5.0

    def __post_init__(self) -> None:
        for name in ("mm_per_s", "mm_per_mv", "minor_mm", "major_mm"):
            check_positive(name, getattr(self, name))


STANDARD = PaperSpec()


@dataclass(frozen=True)
class EpisodeMark:
    """A span to mark under a strip (e.g. a VT run), in seconds from the strip's first sample."""

    start_s: float
    end_s: float
    text: str
    color: str = "#c8102e"


@dataclass(frozen=True)
class StripLayout:
    """Where :func:`draw_strip` put things, in page millimetres of its axes."""

    x0: float
    trace_x0: float
    width: float
    baseline: float
    seconds_shown: float


def mm_axes(fig: Figure, x_mm: float, y_mm: float, width_mm: float, height_mm: float) -> Axes:
    """Axes at ``(x_mm, y_mm)`` from the page's bottom-left, ``width_mm`` x ``height_mm``, data in mm."""
    page_w = fig.get_figwidth() * MM_PER_INCH
    page_h = fig.get_figheight() * MM_PER_INCH
    ax = fig.add_axes((x_mm / page_w, y_mm / page_h, width_mm / page_w, height_mm / page_h))
    ax.set_xlim(0.0, width_mm)
    ax.set_ylim(0.0, height_mm)
    ax.set_axis_off()
    return ax


def draw_grid(ax: Axes, x0: float, y0: float, width: float, height: float,
              spec: PaperSpec = STANDARD) -> None:
    """ECG paper over the rectangle: minor lines every ``minor_mm``, major every ``major_mm``."""
    per_major = max(1, round(spec.major_mm / spec.minor_mm))
    minor: list[list[tuple[float, float]]] = []
    major: list[list[tuple[float, float]]] = []
    nx = int(np.floor(width / spec.minor_mm + 1e-9))
    ny = int(np.floor(height / spec.minor_mm + 1e-9))
    for i in range(nx + 1):
        x = x0 + i * spec.minor_mm
        (major if i % per_major == 0 else minor).append([(x, y0), (x, y0 + height)])
    for j in range(ny + 1):
        y = y0 + j * spec.minor_mm
        (major if j % per_major == 0 else minor).append([(x0, y), (x0 + width, y)])
    ax.add_collection(LineCollection(minor, colors=GRID_MINOR, linewidths=0.25, zorder=0))
    ax.add_collection(LineCollection(major, colors=GRID_MAJOR, linewidths=0.5, zorder=0))


def draw_calibration(ax: Axes, x0: float, baseline: float, spec: PaperSpec = STANDARD) -> float:
    """A 1 mV, 200 ms calibration pulse starting at ``x0``; returns the width it takes (mm)."""
    pulse = 0.2 * spec.mm_per_s
    lead_in = 0.04 * spec.mm_per_s
    top = baseline + spec.mm_per_mv
    a, b = x0 + lead_in, x0 + lead_in + pulse
    xs = [x0, a, a, b, b, b + lead_in]
    ys = [baseline, baseline, top, top, baseline, baseline]
    ax.plot(xs, ys, color=TRACE_COLOR, linewidth=0.6, zorder=2, solid_joinstyle="miter")
    return 2 * lead_in + pulse


def centre_signal(x: np.ndarray) -> np.ndarray:
    """The strip with its median removed, so the trace sits on the baseline; NaN (gaps) kept as gaps."""
    x = np.asarray(x, dtype=np.float64)
    finite = x[np.isfinite(x)]
    return x - float(np.median(finite)) if finite.size else x


def _time_labels(ax: Axes, trace_x0: float, y: float, seconds: float, start_time: datetime | None,
                 start_s: float, spec: PaperSpec) -> None:
    """Tick marks every second under the strip, labelled with the clock time (or seconds from start)."""
    ticks: list[list[tuple[float, float]]] = []
    t = float(np.ceil(start_s - 1e-9))
    while t <= start_s + seconds + 1e-9:
        x = trace_x0 + (t - start_s) * spec.mm_per_s
        ticks.append([(x, y), (x, y + 1.2)])
        if start_time is not None:
            label = (start_time + timedelta(seconds=t)).strftime("%H:%M:%S")
        else:
            label = f"{t:.0f} s"
        ax.text(x, y - 0.4, label, fontsize=4.6, ha="center", va="top", color="#333333", zorder=3)
        t += 1.0
    ax.add_collection(LineCollection(ticks, colors="#333333", linewidths=0.4, zorder=3))


def draw_strip(
    ax: Axes,
    signal: np.ndarray,
    fs: float,
    *,
    x0: float = 0.0,
    y0: float = 0.0,
    width: float | None = None,
    height: float = 30.0,
    spec: PaperSpec = STANDARD,
    beat_samples: np.ndarray | None = None,
    beat_labels: Sequence[str] | np.ndarray | None = None,
    start_s: float = 0.0,
    start_time: datetime | None = None,
    calibration: bool = True,
    lead_label: str = "",
    marks: Sequence[EpisodeMark] = (),
    time_labels: bool = True,
    pause_label_s: float = 2.0,
) -> StripLayout:
    """Draw one ECG lead on the paper grid inside the mm-axes ``ax``.

    Parameters
    ----------
    signal
        Samples in mV (1-D); drawn with its median removed. NaN samples are gaps.
    fs
        Sampling rate in Hz.
    x0, y0, width, height
        The strip rectangle in page mm; ``width`` defaults to what the signal needs (plus calibration).
    beat_samples, beat_labels
        Beat positions (sample indices into ``signal``) and their AAMI letters ``N S V F Q``; each letter
        is written over its beat in a 3 mm band just above the strip, non-N letters in colour. RR intervals
        of ``pause_label_s`` or more are written between their beats.
    start_s, start_time
        Time of ``signal[0]`` in seconds from the recording start, and the recording's clock start (for the
        time labels under the strip).
    marks
        Episode spans (seconds from ``signal[0]``) drawn as a bar with text under the trace.
    """
    fs = check_positive("fs", fs)
    x = centre_signal(np.asarray(signal).reshape(-1))
    cal_w = 0.28 * spec.mm_per_s if calibration else 0.0
    trace_w = x.size / fs * spec.mm_per_s
    if width is None:
        width = cal_w + trace_w + 1.0
    if width <= cal_w:
        raise InputError("width", f"a {width:.1f} mm strip leaves no room for the trace")
    draw_grid(ax, x0, y0, width, height, spec)
    baseline = y0 + height * 0.42
    trace_x0 = x0 + cal_w
    if calibration:
        draw_calibration(ax, x0 + 0.5, baseline, spec)
    n_shown = min(x.size, int(np.floor((width - cal_w) / spec.mm_per_s * fs)))
    xs = trace_x0 + np.arange(n_shown) / fs * spec.mm_per_s
    (line,) = ax.plot(xs, baseline + x[:n_shown] * spec.mm_per_mv, color=TRACE_COLOR, linewidth=0.5,
                      zorder=2)
    line.set_clip_path(Rectangle((x0, y0), width, height, transform=ax.transData))
    seconds = n_shown / fs
    if lead_label:
        ax.text(x0 + 1.0, y0 + height - 1.2, lead_label, fontsize=6, va="top", zorder=4,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.4, "alpha": 0.8})
    if beat_samples is not None and beat_labels is not None:
        _beat_letters(ax, np.asarray(beat_samples), np.asarray(beat_labels), fs, trace_x0, n_shown,
                      y0 + height + 0.5, baseline, spec, pause_label_s)
    for mark in marks:
        a = max(0.0, mark.start_s)
        b = min(seconds, mark.end_s)
        if b <= a:
            continue
        xa, xb = trace_x0 + a * spec.mm_per_s, trace_x0 + b * spec.mm_per_s
        ybar = y0 + 3.2
        ax.plot([xa, xb], [ybar, ybar], color=mark.color, linewidth=2.2, solid_capstyle="butt", zorder=3,
                alpha=0.8)
        ax.text(xa + 0.5, ybar + 1.0, mark.text, fontsize=5, color=mark.color, zorder=4, va="bottom")
    if time_labels:
        _time_labels(ax, trace_x0, y0, seconds, start_time, start_s, spec)
    return StripLayout(x0=x0, trace_x0=trace_x0, width=width, baseline=baseline, seconds_shown=seconds)


def _beat_letters(ax: Axes, samples: np.ndarray, labels: np.ndarray, fs: float, trace_x0: float,
                  n_shown: int, y_letters: float, baseline: float, spec: PaperSpec,
                  pause_label_s: float) -> None:
    if samples.shape != labels.shape:
        raise InputError("beat_labels", f"{labels.size} labels for {samples.size} beat positions")
    keep = (samples >= 0) & (samples < n_shown)
    inside = samples[keep]
    for s, label in zip(inside.tolist(), labels[keep].tolist(), strict=True):
        xb = trace_x0 + s / fs * spec.mm_per_s
        color = BEAT_COLORS.get(str(label), "#000000")
        ax.text(xb, y_letters, str(label), fontsize=5.5, ha="center", va="bottom", color=color, zorder=4,
                weight="normal" if label == "N" else "bold")
    # RR intervals long enough to be pauses, written between their beats (neighbours outside count too).
    rr = np.diff(samples) / fs
    for k in np.flatnonzero(rr >= pause_label_s).tolist():
        a, b = max(int(samples[k]), 0), min(int(samples[k + 1]), n_shown)
        if b <= a:
            continue
        xm = trace_x0 + 0.5 * (a + b) / fs * spec.mm_per_s
        ax.text(xm, baseline + 6.0, f"{rr[k]:.2f} s", fontsize=5.5, ha="center", color="#c8102e",
                weight="bold", zorder=4)


def _lead_index(names: Sequence[str], wanted: str) -> int | None:
    """The column of lead ``wanted`` however the file spells it (``ECG II``, ``DII``): the names the resting
    analysis looks leads up by (records.lead_names), so the page draws every lead the analysis measured."""
    keys = lead_keys([n.strip() for n in names])
    key = wanted.lower()
    return keys.index(key) if key in keys else None


def draw_12lead_3x4(
    ax: Axes,
    data: np.ndarray,
    fs: float,
    lead_names: Sequence[str],
    *,
    x0: float = 0.0,
    y0: float = 0.0,
    row_height: float = 35.0,
    column_s: float = 2.5,
    rhythm_lead: str = "II",
    spec: PaperSpec = STANDARD,
    layout: tuple[tuple[str, ...], ...] = LAYOUT_3X4,
) -> float:
    """The resting ECG layout: 3 rows x 4 columns of ``column_s`` s each, then a full-width rhythm strip.

    ``data`` is ``(n_samples, n_leads)`` in mV with ``lead_names`` as in the recording (matched without
    regard to case); a lead that is missing leaves its cell blank. Returns the total width used (mm).
    """
    fs = check_positive("fs", fs)
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != len(lead_names):
        raise InputError("data", f"shape {data.shape} does not match {len(lead_names)} lead names")
    n_cols = max(len(row) for row in layout)
    cal_w = 0.28 * spec.mm_per_s
    col_mm = column_s * spec.mm_per_s
    width = cal_w + n_cols * col_mm
    n_rows = len(layout) + 1
    draw_grid(ax, x0, y0, width, n_rows * row_height, spec)
    for r, row in enumerate(layout):
        baseline = y0 + (n_rows - 1 - r) * row_height + 0.5 * row_height
        draw_calibration(ax, x0 + 0.5, baseline, spec)
        for c, name in enumerate(row):
            li = _lead_index(lead_names, name)
            start, stop = int(round(c * column_s * fs)), int(round((c + 1) * column_s * fs))
            stop = min(stop, data.shape[0])
            cx = x0 + cal_w + c * col_mm
            if c:
                ax.plot([cx, cx], [baseline - 3, baseline + 3], color=TRACE_COLOR, linewidth=0.6, zorder=3)
            if li is None or stop <= start:
                continue
            seg = centre_signal(data[start:stop, li])
            xs = cx + np.arange(seg.size) / fs * spec.mm_per_s
            (line,) = ax.plot(xs, baseline + seg * spec.mm_per_mv, color=TRACE_COLOR, linewidth=0.5, zorder=2)
            line.set_clip_path(Rectangle((x0, y0), width, n_rows * row_height, transform=ax.transData))
            ax.text(cx + 1.0, baseline + 0.36 * row_height, lead_names[li], fontsize=6.5, zorder=4)
    li = _lead_index(lead_names, rhythm_lead)
    li = 0 if li is None else li
    n = min(data.shape[0], int(np.floor(n_cols * column_s * fs)))
    draw_strip(ax, data[:n, li], fs, x0=x0, y0=y0, width=width, height=row_height, spec=spec,
               lead_label=f"{lead_names[li]} (rhythm)", time_labels=False)
    return width
