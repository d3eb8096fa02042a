"""The paper grid at exact physical size: 25 mm/s, 10 mm/mV, 1 and 5 mm lines, calibration, beat letters."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection

from ecgdesk.errors import InputError
from ecgdesk.reports.paper import (
    BEAT_COLORS,
    MM_PER_INCH,
    TRACE_COLOR,
    EpisodeMark,
    PaperSpec,
    draw_12lead_3x4,
    draw_strip,
    mm_axes,
)

DPI = 100.0


def _page(width_mm: float = 210.0, height_mm: float = 60.0):
    fig = plt.figure(figsize=(width_mm / MM_PER_INCH, height_mm / MM_PER_INCH), dpi=DPI)
    return fig, mm_axes(fig, 0.0, 0.0, width_mm, height_mm)


def _trace(ax):
    return [ln for ln in ax.lines if ln.get_color() == TRACE_COLOR and len(ln.get_xdata()) > 10]


def test_one_second_is_25_mm_and_one_mv_is_10_mm_on_the_page():
    fs = 500.0
    t = np.arange(int(fs)) / fs
    signal = np.where(t > 0.5, 1.0, 0.0)  # a 1 mV step in a 1 s strip
    fig, ax = _page()
    layout = draw_strip(ax, signal, fs, x0=10.0, y0=10.0, height=30.0)
    fig.canvas.draw()
    (line,) = _trace(ax)
    xy = ax.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
    px_per_mm = DPI / MM_PER_INCH
    width_mm = (xy[-1, 0] - xy[0, 0]) / px_per_mm + 1.0 / fs * 25.0  # last sample starts 1/fs before 1 s
    assert width_mm == pytest.approx(25.0, abs=0.05)
    step_mm = (xy[:, 1].max() - xy[:, 1].min()) / px_per_mm
    assert step_mm == pytest.approx(10.0, abs=0.05)
    assert layout.seconds_shown == pytest.approx(1.0, abs=1 / fs)
    plt.close(fig)


def test_grid_has_1_mm_minor_and_5_mm_major_lines():
    fig, ax = _page()
    draw_strip(ax, np.zeros(500), 250.0, x0=0.0, y0=0.0, width=50.0, height=20.0, time_labels=False)
    minor, major = [c for c in ax.collections if isinstance(c, LineCollection)][:2]
    vertical = sorted(seg[0][0] for seg in major.get_segments() if seg[0][0] == seg[1][0])
    assert np.allclose(np.diff(vertical), 5.0)
    vertical_minor = sorted(seg[0][0] for seg in minor.get_segments() if seg[0][0] == seg[1][0])
    assert np.allclose(np.diff(sorted(vertical_minor + vertical)), 1.0)
    horizontal = sorted(seg[0][1] for seg in major.get_segments() if seg[0][1] == seg[1][1])
    assert horizontal == [0.0, 5.0, 10.0, 15.0, 20.0]
    plt.close(fig)


def test_calibration_pulse_is_1_mv_for_200_ms():
    fig, ax = _page()
    draw_strip(ax, np.zeros(250), 250.0, x0=0.0, y0=0.0, height=30.0, time_labels=False)
    pulse = next(ln for ln in ax.lines if len(ln.get_xdata()) == 6)
    ys, xs = np.asarray(pulse.get_ydata()), np.asarray(pulse.get_xdata())
    assert ys.max() - ys.min() == pytest.approx(10.0)
    top = xs[ys == ys.max()]
    assert top.max() - top.min() == pytest.approx(5.0)  # 200 ms at 25 mm/s
    plt.close(fig)


def test_other_speed_and_gain_scale_the_trace():
    spec = PaperSpec(mm_per_s=50.0, mm_per_mv=20.0)
    fig, ax = _page(width_mm=210.0)
    signal = np.r_[np.zeros(125), np.ones(125)]
    draw_strip(ax, signal, 250.0, spec=spec, calibration=False, time_labels=False)
    (line,) = _trace(ax)
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    assert x[-1] - x[0] == pytest.approx(50.0 * 249 / 250)
    assert y.max() - y.min() == pytest.approx(20.0)
    plt.close(fig)
    with pytest.raises(InputError, match="mm_per_s"):
        PaperSpec(mm_per_s=0)


def test_beat_letters_coloured_and_pauses_labelled():
    fs = 250.0
    samples = np.array([100, 300, 500, 1400, 1600])  # a 3.6 s RR between the 3rd and 4th beat
    labels = np.array(["N", "V", "N", "S", "N"])
    fig, ax = _page()
    draw_strip(ax, np.zeros(2000), fs, beat_samples=samples, beat_labels=labels,
               marks=[EpisodeMark(2.0, 5.6, "Pause")], time_labels=False)
    letters = [t for t in ax.texts if t.get_text() in BEAT_COLORS]
    assert [t.get_text() for t in letters] == labels.tolist()
    assert {t.get_text(): t.get_color() for t in letters}["V"] == BEAT_COLORS["V"]
    x_v = letters[1].get_position()[0]
    assert x_v - letters[0].get_position()[0] == pytest.approx(200 / fs * 25.0)
    texts = [t.get_text() for t in ax.texts]
    assert "3.60 s" in texts and "Pause" in texts
    plt.close(fig)


def test_beat_labels_must_match_positions():
    fig, ax = _page()
    with pytest.raises(InputError, match="beat_labels"):
        draw_strip(ax, np.zeros(500), 250.0, beat_samples=np.array([1, 2]), beat_labels=np.array(["N"]))
    plt.close(fig)


def test_time_labels_use_the_clock():
    from datetime import datetime

    fig, ax = _page()
    draw_strip(ax, np.zeros(750), 250.0, start_s=59.5, start_time=datetime(2026, 1, 1, 23, 59, 0))
    labels = [t.get_text() for t in ax.texts if ":" in t.get_text()]
    assert labels == ["00:00:00", "00:00:01", "00:00:02"]  # whole seconds past midnight, not 59.5 s
    plt.close(fig)


def test_12lead_layout_places_every_lead():
    names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    fs = 500.0
    rng = np.random.default_rng(0)
    data = rng.normal(0, 0.05, (int(10 * fs), 12))
    fig, ax = _page(width_mm=297.0, height_mm=160.0)
    width = draw_12lead_3x4(ax, data, fs, names)
    assert width == pytest.approx(7.0 + 4 * 2.5 * 25.0)
    shown = {t.get_text() for t in ax.texts}
    assert set(names) <= shown and "II (rhythm)" in shown
    plt.close(fig)
    with pytest.raises(InputError, match="data"):
        draw_12lead_3x4(ax, data[:, :11], fs, names)
    # leads spelled as an EDF or a Spanish device writes them: found as the resting analysis finds them
    # (the page drew only the rhythm strip's fallback lead for them before)
    fig, ax = _page(width_mm=297.0, height_mm=160.0)
    other = [f"ECG {n}" for n in names[:6]] + [f"EKG-{n}" for n in names[6:]]
    other[1] = "DII"
    draw_12lead_3x4(ax, data, fs, other)
    shown = {t.get_text() for t in ax.texts}
    assert set(other) <= shown and "DII (rhythm)" in shown
    plt.close(fig)
