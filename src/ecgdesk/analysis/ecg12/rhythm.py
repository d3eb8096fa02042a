"""Rhythm of a resting ECG from RR regularity, P-wave consistency and pacing spikes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from scipy import signal

from ecgdesk.analysis.ecg12.delineation import Delineation, WaveKind
from ecgdesk.records.lead_names import lead_keys


class Rhythm(enum.StrEnum):
    """The rhythm names written to ``measurements.json`` (documented in docs/ecg12.md)."""

    SINUS_RHYTHM = "sinus_rhythm"
    SINUS_BRADYCARDIA = "sinus_bradycardia"
    SINUS_TACHYCARDIA = "sinus_tachycardia"
    SINUS_ARRHYTHMIA = "sinus_arrhythmia"
    ATRIAL_FIBRILLATION = "atrial_fibrillation"
    ATRIAL_FLUTTER = "atrial_flutter"
    PACED = "paced"
    OTHER = "other"


@dataclass(frozen=True)
class RhythmCriteria:
    """Decision limits; rates follow the AHA/ACC/HRS 2009 recommendations (60 and 100 bpm)."""

    bradycardia_bpm: float = 60.0
    tachycardia_bpm: float = 100.0
    # Median successive RR difference over median RR: sinus rhythm stays near 0.01-0.04.
    sinus_arrhythmia_irregularity: float = 0.05
    af_irregularity: float = 0.08
    af_strong_irregularity: float = 0.15
    # Median correlation of each beat's P window with the median P: a real P wave repeats beat to beat.
    p_consistent: float = 0.75
    p_absent: float = 0.5
    # Pacing spike: a slope this many times the steepest QRS slope of the band-limited signal.
    pacing_spike_ratio: float = 8.0
    pacing_beat_share: float = 0.5
    flutter_peak_share: float = 0.5


@dataclass(frozen=True)
class RhythmFeatures:
    hr_bpm: float
    rr_irregularity: float
    p_consistency: float
    pacing_spike_share: float
    flutter_peak_share: float
    flutter_rate_bpm: float


@dataclass(frozen=True)
class RhythmResult:
    rhythm: Rhythm
    features: RhythmFeatures
    reason: str


def _p_consistency(d: Delineation) -> float:
    p_waves = [w for lead in d.leads for w in lead.median_waves if w.kind is WaveKind.P]
    if not p_waves or d.filtered is None:
        return 0.0
    fid = d.median.fiducial_index
    margin = int(round(0.02 * d.fs))
    lo = max(-fid, min(w.onset for w in p_waves) - fid - margin)
    hi = max(w.offset for w in p_waves) - fid + margin
    if hi - lo < 4:
        return 0.0
    template = d.median.data[fid + lo:fid + hi]
    template = (template - template.mean(axis=0)).ravel()
    corr = []
    for f in d.fiducials:
        if f + lo < 0 or f + hi > d.filtered.shape[0]:
            continue
        seg = d.filtered[f + lo:f + hi]
        seg = (seg - seg.mean(axis=0)).ravel()
        denom = float(np.linalg.norm(seg) * np.linalg.norm(template))
        corr.append(float(seg @ template) / denom if denom > 0 else 0.0)
    return float(np.median(corr)) if corr else 0.0


def _pacing_spike_share(raw: np.ndarray, d: Delineation, ratio: float) -> float:
    """Share of beats with a spike steeper than ``ratio`` x the steepest filtered QRS slope before them."""
    if d.filtered is None or raw.shape[0] < 3:
        return 0.0
    steep = np.max(np.abs(np.diff(raw, axis=0)), axis=1)
    qrs_slope = float(np.median(np.max(np.abs(np.diff(d.filtered, axis=0)), axis=0)))
    if qrs_slope <= 0:
        return 0.0
    # The spike precedes the QRS onset; in a wide paced QRS (biventricular pacing) the fiducial, at the
    # steepest slope, can lie more than 120 ms after it, so the window reaches 60 ms before the onset.
    before, after = int(round(0.12 * d.fs)), int(round(0.03 * d.fs))
    qrs = d.leads[0].median_wave(WaveKind.QRS) if d.leads else None
    if qrs is not None:
        before = max(before, d.median.fiducial_index - qrs.onset + int(round(0.06 * d.fs)))
    hits = 0
    for f in d.fiducials:
        window = steep[max(0, f - before):min(steep.size, f + after)]
        hits += int(window.size > 0 and float(window.max()) > ratio * qrs_slope)
    return hits / max(1, d.fiducials.size)


def _flutter(d: Delineation) -> tuple[float, float]:
    """Share of atrial-band power (2-10 Hz) at the strongest 3.7-6 Hz peak after QRST cancellation."""
    if d.filtered is None:
        return 0.0, 0.0
    fid = d.median.fiducial_index
    names = lead_keys(d.lead_names)
    lead = names.index("ii") if "ii" in names else 0
    residual = d.filtered[:, lead].copy()
    width = d.median.data.shape[0]
    for f in d.fiducials:
        lo, hi = f - fid, f - fid + width
        if lo >= 0 and hi <= residual.size:
            residual[lo:hi] -= d.median.data[:, lead]
    freqs, psd = signal.welch(residual, fs=d.fs, nperseg=min(residual.size, int(4 * d.fs)))
    band = (freqs >= 2.0) & (freqs <= 10.0)
    flutter = (freqs >= 3.7) & (freqs <= 6.0)
    total = float(psd[band].sum())
    if total <= 0 or not flutter.any():
        return 0.0, 0.0
    peak = int(np.argmax(np.where(flutter, psd, 0.0)))
    share = float(psd[max(0, peak - 1):peak + 2].sum()) / total
    return share, float(freqs[peak] * 60.0)


def classify_rhythm(raw: np.ndarray, d: Delineation, criteria: RhythmCriteria | None = None) -> RhythmResult:
    """Classify the rhythm of a resting ECG (``raw``: the unfiltered signal, for pacing spikes)."""
    c = criteria or RhythmCriteria()
    rr = np.diff(d.fiducials) / d.fs
    # The rate that names the rhythm is the ventricular rate the report prints (Measurements.hr_bpm, the
    # mean RR): with the median RR a record could read "HR 62 bpm, sinus bradycardia".
    hr = 60.0 / float(np.mean(rr)) if rr.size else float("nan")
    irregularity = float(np.median(np.abs(np.diff(rr))) / np.median(rr)) if rr.size > 2 else 0.0
    p_cons = _p_consistency(d)
    paced = _pacing_spike_share(raw, d, c.pacing_spike_ratio)
    fl_share, fl_rate = _flutter(d)
    f = RhythmFeatures(hr, irregularity, p_cons, paced, fl_share, fl_rate)
    if paced >= c.pacing_beat_share:
        return RhythmResult(Rhythm.PACED, f, f"pacing spikes before {paced:.0%} of beats")
    if (irregularity >= c.af_irregularity and p_cons < c.p_consistent) or (
            irregularity >= c.af_strong_irregularity and p_cons < 0.9):
        return RhythmResult(Rhythm.ATRIAL_FIBRILLATION, f,
                            f"irregular RR (irregularity {irregularity:.2f}) without a consistent P wave "
                            f"(P consistency {p_cons:.2f})")
    if fl_share >= c.flutter_peak_share and p_cons < c.p_consistent:
        return RhythmResult(Rhythm.ATRIAL_FLUTTER, f, f"atrial waves at {fl_rate:.0f}/min")
    if p_cons < c.p_absent:
        return RhythmResult(Rhythm.OTHER, f, f"no consistent P wave (P consistency {p_cons:.2f})")
    # Rates are stated (and printed on the report) in whole bpm: 59.8 bpm reads "60 bpm", not bradycardia.
    if round(hr) < c.bradycardia_bpm:
        return RhythmResult(Rhythm.SINUS_BRADYCARDIA, f, f"sinus P waves, rate {hr:.0f} bpm")
    if round(hr) > c.tachycardia_bpm:
        return RhythmResult(Rhythm.SINUS_TACHYCARDIA, f, f"sinus P waves, rate {hr:.0f} bpm")
    if irregularity >= c.sinus_arrhythmia_irregularity:
        return RhythmResult(Rhythm.SINUS_ARRHYTHMIA, f,
                            f"sinus P waves with varying RR (irregularity {irregularity:.2f})")
    return RhythmResult(Rhythm.SINUS_RHYTHM, f, f"sinus P waves, rate {hr:.0f} bpm, regular")
