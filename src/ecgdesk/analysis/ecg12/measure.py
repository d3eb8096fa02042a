"""Interval, axis and amplitude measurements of a resting 12-lead ECG, from its median beat."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

from ecgdesk.analysis.ecg12.delineation import Delineation, Wave, WaveKind
from ecgdesk.records.lead_names import lead_keys


@dataclass(frozen=True)
class QTc:
    """Rate-corrected QT in ms by the four usual formulas (RR in seconds)."""

    bazett: float
    fridericia: float
    framingham: float
    hodges: float

    @classmethod
    def from_qt(cls, qt_ms: float, rr_s: float) -> QTc:
        hr = 60.0 / rr_s
        return cls(
            bazett=qt_ms / math.sqrt(rr_s),
            fridericia=qt_ms / rr_s ** (1.0 / 3.0),
            framingham=qt_ms + 154.0 * (1.0 - rr_s),
            hodges=qt_ms + 1.75 * (hr - 60.0),
        )


class AxisCategory(enum.StrEnum):
    """Frontal QRS axis position classes (the five-class scheme used by LUDB's cardiologists)."""

    LEFT_DEVIATION = "left_axis_deviation"  # below 0 degrees
    HORIZONTAL = "horizontal"  # 0 to 29
    NORMAL = "normal"  # 30 to 69
    VERTICAL = "vertical"  # 70 to 90
    RIGHT_DEVIATION = "right_axis_deviation"  # above 90

    @classmethod
    def of(cls, degrees: float) -> AxisCategory:
        if degrees > 90.0 or degrees <= -150.0:
            return cls.RIGHT_DEVIATION
        if degrees < 0.0:
            return cls.LEFT_DEVIATION
        if degrees < 30.0:
            return cls.HORIZONTAL
        if degrees < 70.0:
            return cls.NORMAL
        return cls.VERTICAL


@dataclass(frozen=True)
class LeadAmplitudes:
    """Amplitudes (mV, relative to the PR-segment level) of one lead's median beat."""

    lead: str
    r_mv: float
    s_mv: float
    q_mv: float
    p_mv: float
    t_mv: float
    st_j60_mv: float
    st_j80_mv: float
    qrs_peak_to_peak_mv: float


@dataclass
class Measurements:
    """Global intervals (ms), rate, axes (degrees) and per-lead amplitudes."""

    hr_bpm: float
    rr_ms: float
    rr_sdnn_ms: float
    p_ms: float | None
    pr_ms: float | None
    qrs_ms: float
    qt_ms: float | None
    qtc: QTc | None
    p_axis_deg: float | None
    qrs_axis_deg: float | None
    t_axis_deg: float | None
    amplitudes: dict[str, LeadAmplitudes] = field(default_factory=dict)

    @property
    def axis_category(self) -> AxisCategory | None:
        return None if self.qrs_axis_deg is None else AxisCategory.of(self.qrs_axis_deg)


def _global_wave(delineation: Delineation, kind: WaveKind) -> Wave | None:
    """The wave's global boundaries: earliest onset and latest offset found on the median beats."""
    found = [w for lead in delineation.leads for w in lead.median_waves if w.kind is kind]
    if not found:
        return None
    return Wave(kind, int(np.median([w.onset for w in found])), int(np.median([w.peak for w in found])),
                int(np.median([w.offset for w in found])))


#: Hexaxial direction (degrees) and relative gain of each limb lead. The augmented leads see the frontal
#: vector at sqrt(3)/2 of a bipolar lead's scale (aVF = (II + III) / 2 under Einthoven's law).
_AUGMENTED = math.sqrt(3.0) / 2.0
_LIMB_LEADS: dict[str, tuple[float, float]] = {
    "i": (0.0, 1.0), "ii": (60.0, 1.0), "iii": (120.0, 1.0),
    "avr": (-150.0, _AUGMENTED), "avl": (-30.0, _AUGMENTED), "avf": (90.0, _AUGMENTED),
}


def _keys(delineation: Delineation, skip: frozenset[int]) -> list[str]:
    """The names leads are looked up by; a lead in ``skip`` (flat, clipped) gets one nothing looks for."""
    keys = lead_keys(delineation.lead_names)
    return [f"{key}#{i + 1}" if i in skip and "#" not in key else key for i, key in enumerate(keys)]


def _frontal_axis(delineation: Delineation, lo: int, hi: int, baseline: np.ndarray,
                  skip: frozenset[int] = frozenset()) -> float | None:
    """Frontal axis of the mean vector over ``[lo, hi]``: least squares over the net areas of the limb leads.

    Each limb lead's net area is the projection of the mean frontal vector on that lead's hexaxial direction.
    When the leads obey Einthoven's law (III = II - I, aVF = (II + III) / 2, ...) this is exactly the
    classic axis from leads I and aVF; when one lead is noisy or mis-scaled, the other five outvote it
    instead of the answer resting on two leads. Any two non-parallel limb leads suffice.
    """
    data = delineation.median.data
    rows, values = [], []
    for i, key in enumerate(_keys(delineation, skip)):
        geometry = _LIMB_LEADS.get(key)
        if geometry is None:
            continue
        angle, gain = math.radians(geometry[0]), geometry[1]
        rows.append((gain * math.cos(angle), gain * math.sin(angle)))
        values.append(float(np.sum(data[lo:hi + 1, i] - baseline[i])))
    if len(rows) < 2:
        return None
    design = np.asarray(rows)
    if np.linalg.matrix_rank(design) < 2:
        return None  # e.g. only a lead and its mirror: no second direction
    vector, *_ = np.linalg.lstsq(design, np.asarray(values), rcond=None)
    if not np.any(vector):
        return None
    return math.degrees(math.atan2(float(vector[1]), float(vector[0])))


def _extreme(segment: np.ndarray) -> float:
    """The sample farthest from zero, with its sign (a wave's peak amplitude)."""
    return float(segment[np.argmax(np.abs(segment))]) if segment.size else 0.0


def _amplitudes(delineation: Delineation, qrs: Wave, p: Wave | None, t: Wave | None,
                baseline: np.ndarray, skip: frozenset[int]) -> dict[str, LeadAmplitudes]:
    data = delineation.median.data
    fs = delineation.fs
    out: dict[str, LeadAmplitudes] = {}
    keys = _keys(delineation, skip)
    for i, name in enumerate(delineation.lead_names):
        beat = data[:, i] - baseline[i]
        seg = beat[qrs.onset:qrs.offset + 1]
        peak_index = int(np.argmax(seg))
        r = float(max(seg.max(), 0.0))
        q = float(min(seg[:peak_index + 1].min(), 0.0)) if peak_index > 0 else 0.0
        s = float(min(seg[peak_index:].min(), 0.0))
        j60 = min(len(beat) - 1, qrs.offset + int(round(0.060 * fs)))
        j80 = min(len(beat) - 1, qrs.offset + int(round(0.080 * fs)))
        p_amp = 0.0 if p is None else _extreme(beat[p.onset:p.offset + 1])
        t_amp = 0.0 if t is None else _extreme(beat[t.onset:t.offset + 1])
        out[keys[i]] = LeadAmplitudes(
            lead=name, r_mv=r, s_mv=s, q_mv=q, p_mv=p_amp, t_mv=t_amp,
            st_j60_mv=float(beat[j60]), st_j80_mv=float(beat[j80]),
            qrs_peak_to_peak_mv=float(seg.max() - seg.min()),
        )
    return out


def measure(delineation: Delineation, skip: frozenset[int] = frozenset()) -> Measurements:
    """Measure the global intervals, axes and amplitudes of a delineated resting ECG.

    The leads in ``skip`` (column indices: flat or clipped) are left out of the axes and are not taken for
    the lead they are named after (Sokolow-Lyon, Cornell, low voltage); their ST level still counts."""
    fs = delineation.fs
    ms = 1000.0 / fs
    rr = np.diff(delineation.fiducials) / fs
    dominant_rr = rr[delineation.dominant[1:]] if rr.size and delineation.dominant[1:].any() else rr
    rr_s = float(np.mean(dominant_rr if dominant_rr.size else rr))
    qrs = _global_wave(delineation, WaveKind.QRS)
    if qrs is None:
        raise ValueError("delineation has no QRS complex")
    p = _global_wave(delineation, WaveKind.P)
    t = _global_wave(delineation, WaveKind.T)
    # The isoelectric reference of every lead: its level just before the QRS onset (PR segment).
    ref = max(0, qrs.onset - int(round(0.01 * fs)))
    baseline = delineation.median.data[max(0, ref - 2):ref + 1].mean(axis=0)
    qt = None if t is None else (t.offset - qrs.onset) * ms
    return Measurements(
        hr_bpm=60.0 / float(np.mean(rr)) if rr.size else float("nan"),
        rr_ms=rr_s * 1000.0,
        rr_sdnn_ms=float(np.std(rr) * 1000.0) if rr.size else 0.0,
        p_ms=None if p is None else (p.offset - p.onset) * ms,
        pr_ms=None if p is None else (qrs.onset - p.onset) * ms,
        qrs_ms=(qrs.offset - qrs.onset) * ms,
        qt_ms=qt,
        qtc=None if qt is None else QTc.from_qt(qt, rr_s),
        p_axis_deg=None if p is None else _frontal_axis(delineation, p.onset, p.offset, baseline, skip),
        qrs_axis_deg=_frontal_axis(delineation, qrs.onset, qrs.offset, baseline, skip),
        t_axis_deg=None if t is None else _frontal_axis(delineation, t.onset, t.offset, baseline, skip),
        amplitudes=_amplitudes(delineation, qrs, p, t, baseline, skip),
    )
