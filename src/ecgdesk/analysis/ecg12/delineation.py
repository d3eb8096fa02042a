"""Delineation of P, QRS and T waves on a resting multi-lead ECG.

Method (after the "median beat" practice of interpretive ECG programs):

1. Pacemaker stimuli cut out of the raw samples (:mod:`ecgdesk.analysis.pacing`, at 500 Hz or more; as
   ``ecgdesk delineate`` does since waves-1.9): the 40 Hz low-pass would smear each over some 20 ms, where
   it passes for the start of a paced QRS. Then the baseline removed with two cascaded median filters
   (200 ms, 600 ms; de Chazal et al. 2004), which keeps the ST segment intact unlike a high-pass filter,
   and a 40 Hz low-pass.
2. QRS fiducials from the spatial energy of all leads (sum of squared derivatives), so every lead shares the
   same beat positions.
3. A representative (median) beat per lead from the dominant beats (those that correlate with the median
   morphology and have no premature RR).
4. The QRS bounds are global: walking out from the fiducial, the first samples where the spatial velocity of
   all leads falls to a small fraction of its QRS maximum (the earliest onset and latest offset of any lead).
5. P and T on each lead (on the beat low-passed at 25 Hz): the most prominent extremum in a rate-dependent
   window is the peak; from the steepest slope on each side of it, walk outwards until the slope falls to a
   fraction of that steepest slope (the P onset: the trapezium-area rule of Zhang et al. 2006 instead). The
   median over the leads gives the global P and T boundaries, robust to the leads where the wave is small
   or noisy; each lead keeps half of its own deviation from them (at most 20 ms), since the waves do start
   and end at slightly different times in different leads.
6. Per-beat waves: a beat of the dominant QRS shape takes the median-beat waves placed at its fiducial; a
   beat of another shape (PVC, aberrant) is delineated on its own samples, without a P wave when premature.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, signal

from ecgdesk.analysis.mains import without_mains
from ecgdesk.analysis.pacing import without_spikes
from ecgdesk.errors import InputError, check_positive


class WaveKind(enum.StrEnum):
    P = "P"
    QRS = "QRS"
    T = "T"


@dataclass(frozen=True)
class Wave:
    """One delineated wave: sample indices into the recording (or into the median beat)."""

    kind: WaveKind
    onset: int
    peak: int
    offset: int


@dataclass(frozen=True)
class LeadDelineation:
    """Waves of one lead: on its median beat (indices relative to the beat's fiducial) and per beat."""

    lead: str
    median_waves: tuple[Wave, ...]
    beat_waves: tuple[tuple[Wave, ...], ...]

    def median_wave(self, kind: WaveKind) -> Wave | None:
        for wave in self.median_waves:
            if wave.kind is kind:
                return wave
        return None


@dataclass(frozen=True)
class MedianBeats:
    """Representative beats, shaped ``(n_samples, n_leads)``, with the fiducial at ``fiducial_index``."""

    data: np.ndarray
    fiducial_index: int
    fs: float
    n_beats_used: int


@dataclass
class Delineation:
    """Everything the measurements need: fiducials, dominant beats, median beats and waves per lead."""

    fs: float
    lead_names: list[str]
    fiducials: np.ndarray
    dominant: np.ndarray
    median: MedianBeats
    leads: list[LeadDelineation] = field(default_factory=list)
    filtered: np.ndarray | None = field(default=None, repr=False)


# ------------------------------------------------------------------------------------------ filtering
def remove_baseline(ecg: np.ndarray, fs: float) -> np.ndarray:
    """Subtract the baseline estimated by 200 ms then 600 ms median filters, lead by lead.

    The baseline is smooth, so the filters run on 10 ms block means and the result is interpolated back:
    two orders of magnitude faster than filtering every sample, and the same within a few microvolts.
    """
    step = max(1, int(round(0.01 * fs)))
    n = ecg.shape[0]
    blocks = n // step
    if blocks < 8:
        return ecg - np.median(ecg, axis=0)
    coarse = ecg[:blocks * step].reshape(blocks, step, -1).mean(axis=1)
    base = ndimage.median_filter(coarse, size=(21, 1), mode="nearest")
    base = ndimage.median_filter(base, size=(61, 1), mode="nearest")
    centres = np.arange(blocks) * step + (step - 1) / 2.0
    t = np.arange(n)
    full = np.column_stack([np.interp(t, centres, base[:, i]) for i in range(base.shape[1])])
    return ecg - full


@functools.lru_cache(maxsize=32)
def _lowpass_sos(cutoff: float, fs: float) -> np.ndarray:
    return signal.butter(4, min(cutoff, 0.45 * fs), btype="low", fs=fs, output="sos")


def lowpass(ecg: np.ndarray, fs: float, cutoff: float) -> np.ndarray:
    sos = _lowpass_sos(float(cutoff), float(fs))
    padlen = min(ecg.shape[0] - 1, 3 * int(fs))
    return signal.sosfiltfilt(sos, ecg, axis=0, padlen=padlen)


# ----------------------------------------------------------------------------------------- fiducials
def conditioned(ecg: np.ndarray, fs: float) -> np.ndarray:
    """What every delineation reads (``(n_samples, n_leads)``, finite): mains hum notched out, the baseline
    removed and a 40 Hz low-pass. The notch comes first because hum passes the low-pass in part (a seventh
    of 50 Hz): a resting ECG on a mains-powered cart with 0.1 mV of it was called "no repeating QRS
    complex" (LUDB record 45; ecg12-1.2, waves-1.3)."""
    return lowpass(remove_baseline(without_mains(ecg, fs), fs), fs, 40.0)


def find_fiducials(filtered: np.ndarray, fs: float) -> np.ndarray:
    """QRS fiducials: maxima of the smoothed spatial energy of the band-passed leads."""
    sos = signal.butter(2, [8.0, min(30.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
    band = signal.sosfiltfilt(sos, filtered, axis=0)
    energy = np.sum(np.gradient(band, axis=0) ** 2, axis=1)
    width = max(1, int(round(0.06 * fs)))
    smooth = ndimage.uniform_filter1d(energy, width)
    if not np.any(smooth > 0):
        return np.zeros(0, dtype=np.int64)
    level = np.percentile(smooth, 99.0)
    peaks, _ = signal.find_peaks(smooth, height=0.15 * level, distance=max(1, int(0.25 * fs)))
    if peaks.size == 0:
        return peaks.astype(np.int64)
    # Keep peaks that are a fair share of their neighbours' energy: drops T-wave energy bumps.
    heights = smooth[peaks]
    local = ndimage.median_filter(heights, size=min(7, heights.size), mode="nearest")
    peaks = peaks[heights >= 0.12 * local]
    # Move each fiducial to the largest absolute slope across leads within 40 ms: sharper than the energy.
    half = max(1, int(round(0.04 * fs)))
    slope = np.sqrt(np.sum(np.gradient(filtered, axis=0) ** 2, axis=1))
    refined = []
    for p in peaks:
        lo, hi = max(0, p - half), min(len(slope), p + half + 1)
        refined.append(lo + int(np.argmax(slope[lo:hi])))
    # A complex cut by the recording's edge is not counted: the filters' edge transients look like one
    # (a "beat" on the last sample), and a real one there adds no complete RR interval anyway.
    edge = max(1, int(round(0.05 * fs)))
    kept = [f for f in refined if edge <= f < len(slope) - edge]
    return np.unique(np.asarray(kept, dtype=np.int64))


# -------------------------------------------------------------------------------------- median beat
def _beat_window(fs: float, rr_median_s: float) -> tuple[int, int]:
    pre = min(0.40, 0.55 * rr_median_s)
    post = min(0.70, 0.85 * rr_median_s)
    return int(round(pre * fs)), int(round(post * fs))


def qrs_correlation(filtered: np.ndarray, fiducials: np.ndarray, fs: float) -> np.ndarray:
    """Each beat's multi-lead QRS correlation with the median QRS (0 where the window leaves the signal)."""
    n = fiducials.size
    half = int(round(0.06 * fs))
    valid = (fiducials - half >= 0) & (fiducials + half < filtered.shape[0])
    if not valid.any():
        return np.zeros(n)
    segments = np.zeros((n, 2 * half * filtered.shape[1]))
    for i in np.flatnonzero(valid):
        segments[i] = filtered[fiducials[i] - half:fiducials[i] + half].T.ravel()
    reference = np.median(segments[valid], axis=0)
    centred = segments - segments.mean(axis=1, keepdims=True)
    ref = reference - reference.mean()
    denom = np.linalg.norm(centred, axis=1) * np.linalg.norm(ref) + 1e-12
    return np.where(valid, centred @ ref / denom, 0.0)


def dominant_beats(filtered: np.ndarray, fiducials: np.ndarray, fs: float) -> np.ndarray:
    """Boolean mask of beats that share the dominant QRS morphology and are not premature."""
    n = fiducials.size
    if n < 3:
        return np.ones(n, dtype=bool)
    corr = qrs_correlation(filtered, fiducials, fs)
    rr = np.diff(fiducials).astype(float)
    premature = np.zeros(n, dtype=bool)
    premature[1:] = rr < 0.8 * float(np.median(rr))
    return (corr > 0.85) & ~premature


def median_beats(filtered: np.ndarray, fiducials: np.ndarray, mask: np.ndarray, fs: float) -> MedianBeats:
    rr = np.diff(fiducials) / fs if fiducials.size > 1 else np.array([1.0])
    pre, post = _beat_window(fs, float(np.median(rr)))
    chosen = [f for f, ok in zip(fiducials, mask, strict=True)
              if ok and f - pre >= 0 and f + post <= filtered.shape[0]]
    if not chosen:
        chosen = [f for f in fiducials if f - pre >= 0 and f + post <= filtered.shape[0]]
    if not chosen:
        raise InputError("signal", "no complete beat found to build a median beat")
    stack = np.stack([filtered[f - pre:f + post] for f in chosen])
    return MedianBeats(data=np.median(stack, axis=0), fiducial_index=pre, fs=fs, n_beats_used=len(chosen))


# ---------------------------------------------------------------------------------- boundary rules
def _ms(fs: float, ms: float) -> int:
    return int(round(ms * fs / 1000.0))


ONSET_NOTCH_MS = 8.0
ONSET_NOTCH_FACTOR = 4.0
#: An onset lies near the isoelectric line: a candidate whose spatial magnitude is above this share of the
#: complex's peak magnitude is the flat top of a broad R wave (QT Database sel37, QRS 130-170 ms), not the
#: start of the complex (waves-1.5).
ONSET_MAX_SHARE = 0.5


def qrs_bounds(beat: np.ndarray, fid: int, fs: float,
               on_xi: float = 0.05, off_xi: float = 0.05) -> tuple[int, int]:
    """Global QRS onset and offset on a multi-lead median beat from its spatial velocity.

    Walking out from the fiducial, each bound is the first sample where the spatial velocity falls to
    ``xi`` of its QRS maximum, so the earliest onset and the latest offset among the leads are found.
    """
    velocity = np.sqrt(np.sum(np.gradient(beat, axis=0) ** 2, axis=1))
    lo = max(1, fid - _ms(fs, 120))
    hi = min(len(velocity) - 2, fid + _ms(fs, 150))
    core = velocity[max(0, fid - _ms(fs, 40)):fid + _ms(fs, 40) + 1]
    vmax = float(core.max()) if core.size else float(velocity.max())
    # The noise floor is removed first, so a noisy recording does not stretch the QRS.
    floor = float(np.percentile(velocity, 5))
    on_level = floor + on_xi * (vmax - floor)
    off_level = floor + off_xi * (vmax - floor)
    # A bound needs the velocity to stay low for a while: within the QRS it may touch zero for an instant
    # (at a peak common to all leads) without the complex having ended.
    quiet = max(1, _ms(fs, 12))
    onset = fid
    while onset > lo and velocity[onset] > on_level:
        onset -= 1
    # A notch between a small initial deflection (septal q) and the R wave is not the onset: if the
    # velocity climbs well above the level again within a few ms before, the complex started earlier.
    notch = max(1, _ms(fs, ONSET_NOTCH_MS))
    while onset > lo:
        before = velocity[max(lo, onset - notch):onset]
        if before.size == 0 or before.max() <= ONSET_NOTCH_FACTOR * on_level:
            break
        onset = max(lo, onset - notch) + int(np.argmax(before))
        while onset > lo and velocity[onset] > on_level:
            onset -= 1
    # the walk only looks back from the fiducial: the magnitude up to the end of the peak's window
    reach = fid + _ms(fs, 60) + 1
    magnitude = np.sqrt(np.sum(beat[:reach] ** 2, axis=1))
    peak_magnitude = float(magnitude[max(0, fid - _ms(fs, 60)):reach].max())
    while onset > lo and magnitude[onset] > ONSET_MAX_SHARE * peak_magnitude:
        # Across the plateau, then down the slope before it.
        while onset > lo and velocity[onset] <= on_level:
            onset -= 1
        while onset > lo and velocity[onset] > on_level:
            onset -= 1
    offset = fid
    while offset < hi and np.any(velocity[offset:offset + quiet + 1] > off_level):
        offset += 1
    return onset, offset


def _wave_peak(x: np.ndarray, lo: int, hi: int, baseline: float, earliest: float = 0.0) -> int:
    """The most prominent extremum in ``[lo, hi)``; ramps running into the window's edges are no peaks.

    With ``earliest`` > 0: the earliest extremum scoring at least that share of the best one.
    """
    lo, hi = max(0, lo), min(len(x), hi)
    if hi - lo < 3:
        return lo
    seg = x[lo:hi]
    found: list[tuple[int, float]] = []
    for sign in (1.0, -1.0):
        peaks, props = signal.find_peaks(sign * seg, prominence=0.0)
        found.extend((int(pk), float(prom) + 0.5 * abs(float(seg[pk]) - baseline))
                     for pk, prom in zip(peaks, props["prominences"], strict=True))
    if not found:
        return lo + int(np.argmax(np.abs(seg - baseline)))
    best_score = max(score for _, score in found)
    if earliest > 0:
        return lo + min(pk for pk, score in found if score >= earliest * best_score)
    return lo + max(found, key=lambda item: item[1])[0]


class BoundaryRule(enum.StrEnum):
    """Where a wave ends: slope below a fraction of its steepest slope, or the trapezium-area maximum."""

    SLOPE = "slope"
    TRAPEZIUM = "trapezium"


@dataclass(frozen=True)
class DelineationParams:
    """Slope thresholds of the boundary rules, as fractions of the wave's steepest slope.

    Chosen on LUDB records 1-50 and checked on 51-100 (``bench/bench_ecg12.py``); they are ratios, so they
    do not depend on amplitude or sampling rate.
    """

    qrs_on_xi: float = 0.05
    qrs_off_xi: float = 0.05
    p_on_xi: float = 0.3
    p_off_xi: float = 0.6
    t_on_xi: float = 0.5
    t_off_xi: float = 0.2
    fuse: bool = True
    #: P and T boundaries are found on the beat low-passed here (QRS on the 40 Hz signal).
    wave_lowpass_hz: float = 25.0
    #: The T wave's own low-pass (0 = ``wave_lowpass_hz``): the T wave is slower than the P wave.
    t_lowpass_hz: float = 0.0
    #: The T peak: the earliest extremum scoring this share of the most prominent one (0: the most
    #: prominent), so that a U wave or the next P wave larger than a small T is not taken for it. On LUDB
    #: 1-50: T offset -> mean 2.3 -> 0.0 ms, SD 22.9 -> 22.8 ms, missed 11 -> 7.
    t_peak_earliest: float = 0.5
    #: Each lead keeps half its own P/T boundary deviation from the global one, at most 20 ms.
    lead_weight: float = 0.5
    lead_clip_ms: float = 20.0
    #: How the P boundaries and the T offset are placed from the wave's steepest points. On LUDB the
    #: trapezium rule gave the P onset a smaller spread (SD 17.1 -> 16.3 ms on 1-50, 18.4 -> 18.0 on 51-100);
    #: for the P offset it added bias at no gain in spread, for the T offset it widened the spread.
    p_on_rule: BoundaryRule = BoundaryRule.TRAPEZIUM
    p_off_rule: BoundaryRule = BoundaryRule.SLOPE
    t_off_rule: BoundaryRule = BoundaryRule.SLOPE
    #: The trapezium rule's reference point: this far beyond the steepest point of the limb (a P wave's
    #: rising limb lasts some 30-50 ms, so 50 ms before its steepest point lies before its onset).
    p_reach_ms: float = 50.0
    t_reach_ms: float = 150.0
    #: Cut pacemaker stimuli out of the raw samples before filtering (:mod:`ecgdesk.analysis.pacing`;
    #: ecg12-1.5). QRS onset SD on LUDB 1-50 12.7 -> 10.7 ms per lead, 9.9 -> 6.8 fused; on 51-100 (held
    #: out) 13.7 -> 12.7 and 10.3 -> 8.9 (docs/ecg12.md).
    pacing_spikes: bool = True


def _trapezium(x: np.ndarray, d: np.ndarray, steep: int, step: int, reach: int) -> int:
    """The wave's end (``step`` = 1) or start (-1) by the trapezium-area rule of Zhang et al. (2006).

    From the steepest point ``xm`` of the wave's limb to a point ``xr`` beyond the wave (``reach`` samples
    away), the end is the sample ``t`` that maximises the area of the trapezium (xm, x[xm]), (t, x[t]),
    (xr, x[t]), (xr, x[xm]). Unlike a slope threshold it needs neither the baseline level nor a threshold,
    and noise in the flat segment after the wave barely moves it.
    """
    n = len(x)
    far = int(np.clip(steep + step * reach, 0, n - 1))
    if abs(far - steep) < 2:
        return far
    t = np.arange(steep, far + step, step)
    # A positive wave's limb falls towards its end (rises towards its start); a negative wave's the reverse.
    sign = float(-np.sign(d[steep]) * step) or 1.0
    area = sign * (x[steep] - x[t]) * (np.abs(far - t) + abs(far - steep))
    return int(t[int(np.argmax(area))])


def _walk(d: np.ndarray, start: int, step: int, level: float, limit: int) -> int:
    """From ``start``, step (by ``step``) until ``|d|`` falls below ``level``, at most ``limit`` samples."""
    i = start
    n = len(d)
    while 0 < i < n - 1 and abs(i - start) < limit:
        nxt = i + step
        if abs(d[nxt]) < level:
            return nxt
        i = nxt
    return i


def delineate_median_lead(beat: np.ndarray, fid: int, fs: float, qrs_on: int, qrs_off: int,
                          rr_s: float, params: DelineationParams, has_p: bool = True,
                          smooth: np.ndarray | None = None, t_smooth: np.ndarray | None = None,
                          t_from: int | None = None) -> list[Wave]:
    """Waves of one lead's median beat, given the global (multi-lead) QRS bounds.

    ``smooth`` and ``t_smooth``: the beat already low-passed for the P and the T wave (by
    ``wave_lowpass_hz`` and ``t_lowpass_hz``), when the caller filtered the whole signal once.
    ``t_from``: where the T wave's search starts from (default: the QRS offset).
    """
    n = len(beat)
    on, off = qrs_on, qrs_off
    peak = on + int(np.argmax(np.abs(beat[on:off + 1] - beat[on]))) if off > on else fid
    if smooth is None:
        smooth = lowpass(beat[:, None], fs, params.wave_lowpass_hz)[:, 0] if n > 30 else beat
    ds = np.gradient(smooth) * fs
    waves: list[Wave] = [Wave(WaveKind.QRS, on, peak, off)]
    if has_p:
        p_lo = max(1, on - _ms(fs, 320))
        p_hi = on - _ms(fs, 30)
        if p_hi - p_lo > _ms(fs, 40):
            p_peak = _wave_peak(smooth, p_lo, p_hi, float(smooth[on]))
            rise_lo = max(1, p_peak - _ms(fs, 60))
            rise = rise_lo + int(np.argmax(np.abs(ds[rise_lo:p_peak + 1])))
            fall = p_peak + int(np.argmax(np.abs(ds[p_peak:min(n - 1, p_peak + _ms(fs, 60))])))
            if params.p_on_rule is BoundaryRule.TRAPEZIUM:
                p_on = _trapezium(smooth, ds, rise, -1, _ms(fs, params.p_reach_ms))
            else:
                p_on = _walk(ds, rise, -1, params.p_on_xi * abs(ds[rise]), _ms(fs, 80))
            if params.p_off_rule is BoundaryRule.TRAPEZIUM:
                # The reference point stays before the QRS: the PR segment is the P wave's flat tail.
                reach = min(_ms(fs, params.p_reach_ms), on - _ms(fs, 5) - fall)
                p_off = _trapezium(smooth, ds, fall, 1, reach) if reach > 2 else fall
            else:
                p_off = _walk(ds, fall, 1, params.p_off_xi * abs(ds[fall]), _ms(fs, 80))
            waves.insert(0, Wave(WaveKind.P, p_on, p_peak, min(p_off, on - 1)))
    if t_smooth is not None:
        smooth, ds = t_smooth, np.gradient(t_smooth) * fs
    elif params.t_lowpass_hz > 0 and n > 30:
        smooth = lowpass(beat[:, None], fs, params.t_lowpass_hz)[:, 0]
        ds = np.gradient(smooth) * fs
    anchor = off if t_from is None else t_from
    t_lo = anchor + _ms(fs, 80)
    t_hi = min(n - 2, fid + _ms(fs, min(600.0, 700.0 * rr_s)))
    if t_hi - t_lo > _ms(fs, 60):
        t_peak = _wave_peak(smooth, t_lo, t_hi, float(smooth[anchor]), params.t_peak_earliest)
        fall_hi = min(n - 1, t_peak + _ms(fs, 150))
        fall = t_peak + int(np.argmax(np.abs(ds[t_peak:fall_hi]))) if fall_hi > t_peak else t_peak
        rise_lo = max(anchor, t_peak - _ms(fs, 150))
        rise = rise_lo + int(np.argmax(np.abs(ds[rise_lo:t_peak + 1])))
        if params.t_off_rule is BoundaryRule.TRAPEZIUM:
            t_off = _trapezium(smooth, ds, fall, 1, _ms(fs, params.t_reach_ms))
        else:
            t_off = _walk(ds, fall, 1, params.t_off_xi * abs(ds[fall]), _ms(fs, 150))
        t_on = _walk(ds, rise, -1, params.t_on_xi * abs(ds[rise]), _ms(fs, 150))
        waves.append(Wave(WaveKind.T, max(t_on, off), t_peak, t_off))
    return waves


def fuse_boundaries(per_lead: list[list[Wave]], fs: float, weight: float = 0.0,
                    clip_ms: float = 0.0) -> list[list[Wave]]:
    """Pull each lead's P and T boundaries towards their median over the leads (the global boundary).

    One lead's boundary is at the mercy of that lead's amplitude and noise; the median over the leads that
    found the wave is robust. Each lead keeps ``weight`` of its own deviation from it, at most ``clip_ms``.
    """
    clip = clip_ms * fs / 1000.0
    fused: dict[WaveKind, tuple[float, float]] = {}
    for kind in (WaveKind.P, WaveKind.T):
        found = [w for waves in per_lead for w in waves if w.kind is kind]
        if len(found) >= 3:
            fused[kind] = (float(np.median([w.onset for w in found])),
                           float(np.median([w.offset for w in found])))

    def pull(own: int, centre: float) -> int:
        return int(round(centre + float(np.clip(weight * (own - centre), -clip, clip))))

    out = []
    for waves in per_lead:
        out.append([Wave(w.kind, pull(w.onset, fused[w.kind][0]), w.peak, pull(w.offset, fused[w.kind][1]))
                    if w.kind in fused else w for w in waves])
    return out


def _ectopic_beat(filtered: np.ndarray, f: int, fid: int, width: int, fs: float, rr_s: float,
                  params: DelineationParams, has_p: bool) -> list[list[Wave]] | None:
    """The waves of one beat of another shape, from its own samples (a premature one gets no P wave)."""
    lo, hi = f - fid, f - fid + width
    if lo < 0 or hi > filtered.shape[0]:
        return None
    segment = filtered[lo:hi]
    on, off = qrs_bounds(segment, fid, fs, params.qrs_on_xi, params.qrs_off_xi)
    out = []
    for li in range(segment.shape[1]):
        waves = delineate_median_lead(segment[:, li], fid, fs, on, off, rr_s, params, has_p=has_p)
        out.append([Wave(w.kind, w.onset + lo, w.peak + lo, w.offset + lo) for w in waves])
    return out


def delineate(ecg: np.ndarray, fs: float, lead_names: list[str],
              params: DelineationParams | None = None) -> Delineation:
    """Delineate P, QRS and T on every lead of a multi-lead resting ECG (``(n_samples, n_leads)``, mV)."""
    check_positive("fs", fs)
    data = np.asarray(ecg, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < int(2 * fs):
        raise InputError("signal", f"needs at least 2 s of a multi-lead signal, got shape {data.shape}")
    params = params or DelineationParams()
    data = np.nan_to_num(data, nan=0.0)
    if params.pacing_spikes:
        # the fixed cut only: the decay rule (waves-1.10) sees a decay on a clean lead and not under hum,
        # which changed LUDB 45's statements with 0.1 mV of hum (test_mains_hum_changes_no_statement)
        data = without_spikes(data, fs, decay=False)[0]
    filtered = conditioned(data, fs)
    fiducials = find_fiducials(filtered, fs)
    if fiducials.size < 2:
        raise InputError("signal", f"found {fiducials.size} QRS complexes; need at least 2 to delineate")
    mask = dominant_beats(filtered, fiducials, fs)
    median = median_beats(filtered, fiducials, mask, fs)
    fid = median.fiducial_index
    qrs_on, qrs_off = qrs_bounds(median.data, fid, fs, params.qrs_on_xi, params.qrs_off_xi)
    rr_s = float(np.median(np.diff(fiducials))) / fs
    per_lead = [delineate_median_lead(median.data[:, li], fid, fs, qrs_on, qrs_off, rr_s, params)
                for li in range(len(lead_names))]
    if params.fuse:
        per_lead = fuse_boundaries(per_lead, fs, params.lead_weight, params.lead_clip_ms)
    # Dominant beats take the median beat's waves; an ectopic beat is delineated on its own samples.
    beats: list[list[tuple[Wave, ...]]] = [[] for _ in lead_names]
    n = data.shape[0]
    # Premature beats of the dominant shape (sinus arrhythmia, most PACs) keep the median beat's waves.
    own_shape = qrs_correlation(filtered, fiducials, fs) > 0.85 if fiducials.size >= 3 else np.ones(1, bool)
    width = median.data.shape[0]
    for index, f in enumerate(fiducials):
        shift = int(f) - fid
        ectopic = fiducials.size >= 3 and not own_shape[index]
        premature = index > 0 and fiducials[index] - fiducials[index - 1] < 0.8 * rr_s * fs
        own = (_ectopic_beat(filtered, int(f), fid, width, fs, rr_s, params, has_p=not premature)
               if ectopic else None)
        for li in range(len(lead_names)):
            waves = own[li] if own is not None else [
                Wave(w.kind, w.onset + shift, w.peak + shift, w.offset + shift) for w in per_lead[li]]
            beats[li].append(tuple(w for w in waves if w.onset >= 0 and w.offset < n))
    leads = [LeadDelineation(lead=name, median_waves=tuple(waves), beat_waves=tuple(per_beat))
             for name, waves, per_beat in zip(lead_names, per_lead, beats, strict=True)]
    return Delineation(fs=fs, lead_names=list(lead_names), fiducials=fiducials, dominant=mask, median=median,
                       leads=leads, filtered=filtered)
