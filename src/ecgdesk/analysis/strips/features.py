"""Features of one rhythm strip: RR irregularity, P waves, median-beat morphology, atrial activity, noise.

All features are computed on a :class:`~ecgdesk.analysis.strips.signal.PreparedStrip` (300 Hz, 0.5-40 Hz,
R peaks). A feature that cannot be computed (too few beats) is ``nan``; the tree model routes missing
values like any other. Amplitudes are in mV; ratios are unit-free so the strip gain does not matter.

Groups
------
RR irregularity
    CV, normalised RMSSD, successive-difference statistics, Poincaré SD1/SD2, the coefficient of sample
    entropy (COSEn, Lake & Moorman 2011), the share of intervals near the median (regular rhythm with
    ectopy), histogram entropy.
P waves
    On the median beat, the P window (250-60 ms before R) after a straight-line detrend: its amplitude
    relative to R, and its *coherence*: energy of the median P window over the mean energy of the single
    beats' P windows. Sinus P waves add up in the median; fibrillatory waves cancel.
Morphology
    QRS width of the median beat, T/R amplitude, correlation of each beat with the median beat.
Atrial activity
    QRST cancellation (median beat subtracted at each R); the residual's 4-9 Hz power share and its
    dominant frequency in 3-12 Hz.
Quality
    Power shares of the raw band-passed strip above 40 Hz and around the QRS, spectral entropy, kurtosis,
    clipping, gaps without beats.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from functools import lru_cache

import numpy as np

from ecgdesk.analysis.strips.signal import FS, PreparedStrip

NAN = float("nan")

# Beat window around R, seconds.
_PRE, _POST = 0.30, 0.50
# P window relative to R (seconds, before R).
_P_FROM, _P_TO = 0.25, 0.06


@dataclass(frozen=True)
class StripFeatures:
    """The feature vector of one strip, named. :data:`FEATURE_NAMES` gives the model's column order."""

    duration_s: float
    n_beats: float
    hr_bpm: float
    rr_cv: float
    rr_nrmssd: float
    rr_med_abs_drr: float
    rr_frac_drr50: float
    rr_frac_drr_rel12: float
    rr_sd1_sd2: float
    rr_cosen: float
    rr_frac_near_median: float
    rr_min_ratio: float
    rr_max_ratio: float
    rr_p90_p10: float
    rr_drr_lag1_corr: float
    rr_turning_ratio: float
    rr_hist_entropy: float
    rr_cv_trimmed: float
    rr_local_cv_min: float
    rr_local_cv_median: float
    rr_local_nrmssd_min: float
    p_amp_ratio: float
    p_coherence: float
    p_corr_mean: float
    qrs_width_ms: float
    r_amp_mv: float
    t_amp_ratio: float
    beat_corr_mean: float
    beat_corr_p10: float
    frac_beats_odd: float
    aa_power_4_9: float
    aa_dom_freq: float
    aa_rms_ratio: float
    hf_power_ratio: float
    qrs_band_ratio: float
    spectral_entropy: float
    kurtosis: float
    frac_clipped: float
    max_gap_s: float
    beats_per_s: float

    def vector(self) -> np.ndarray:
        return np.asarray(astuple(self), dtype=np.float64)


FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(StripFeatures))


@dataclass(frozen=True)
class RRFeatures:
    hr_bpm: float
    rr_cv: float
    rr_nrmssd: float
    rr_med_abs_drr: float
    rr_frac_drr50: float
    rr_frac_drr_rel12: float
    rr_sd1_sd2: float
    rr_cosen: float
    rr_frac_near_median: float
    rr_min_ratio: float
    rr_max_ratio: float
    rr_p90_p10: float
    rr_drr_lag1_corr: float
    rr_turning_ratio: float
    rr_hist_entropy: float
    rr_cv_trimmed: float
    rr_local_cv_min: float
    rr_local_cv_median: float
    rr_local_nrmssd_min: float


def _sample_entropy(rr: np.ndarray, r: float) -> float:
    """SampEn with m=1 and tolerance ``r`` (seconds); ``nan`` when undefined."""
    if rr.size < 4:
        return NAN
    x1 = rr[:-1]
    x2 = rr[1:]
    close1 = np.abs(x1[:, None] - x1[None, :]) <= r
    close2 = close1 & (np.abs(x2[:, None] - x2[None, :]) <= r)
    n = x1.size
    b = (close1.sum() - n) / 2
    a = (close2.sum() - n) / 2
    if a <= 0 or b <= 0:
        return NAN
    return float(-np.log(a / b))


def rr_features(rr: np.ndarray) -> RRFeatures:
    """Irregularity statistics of RR intervals (seconds); ``nan`` where fewer than 3 intervals."""
    if rr.size < 3:
        hr = 60.0 / float(np.median(rr)) if rr.size else NAN
        return RRFeatures(hr, *([NAN] * 18))
    med = float(np.median(rr))
    mean = float(rr.mean())
    d = np.diff(rr)
    sd1 = float(np.std(d) / np.sqrt(2))
    sd2_sq = 2 * float(np.var(rr)) - sd1**2
    sd2 = float(np.sqrt(sd2_sq)) if sd2_sq > 0 else NAN
    sampen = _sample_entropy(rr, 0.03)
    cosen = sampen + np.log(2 * 0.03) - np.log(mean) if np.isfinite(sampen) else NAN
    lag1 = NAN
    if d.size >= 4 and np.std(d[:-1]) > 0 and np.std(d[1:]) > 0:
        lag1 = float(np.corrcoef(d[:-1], d[1:])[0, 1])
    turning = NAN
    if rr.size >= 3:
        mid = rr[1:-1]
        turns = ((mid > rr[:-2]) & (mid > rr[2:])) | ((mid < rr[:-2]) & (mid < rr[2:]))
        turning = float(turns.mean() / (2 / 3))
    hist, _ = np.histogram(rr, bins=np.arange(0.2, 3.0 + 0.04, 0.04))
    p = hist[hist > 0] / max(1, hist.sum())
    lo, hi = np.percentile(rr, [10, 90])
    inner = rr[(rr >= lo) & (rr <= hi)]
    return RRFeatures(
        hr_bpm=60.0 / med,
        rr_cv=float(np.std(rr) / mean),
        rr_nrmssd=float(np.sqrt(np.mean(d**2)) / mean),
        rr_med_abs_drr=float(np.median(np.abs(d)) / med),
        rr_frac_drr50=float(np.mean(np.abs(d) > 0.05)),
        rr_frac_drr_rel12=float(np.mean(np.abs(d) / rr[:-1] > 0.12)),
        rr_sd1_sd2=sd1 / sd2 if np.isfinite(sd2) and sd2 > 0 else NAN,
        rr_cosen=float(cosen),
        rr_frac_near_median=float(np.mean(np.abs(rr - med) <= 0.15 * med)),
        rr_min_ratio=float(rr.min() / med),
        rr_max_ratio=float(rr.max() / med),
        rr_p90_p10=float(hi / lo) if lo > 0 else NAN,
        rr_drr_lag1_corr=lag1,
        rr_turning_ratio=turning,
        rr_hist_entropy=float(-(p * np.log(p)).sum()),
        rr_cv_trimmed=float(np.std(inner) / np.mean(inner)) if inner.size >= 2 else NAN,
        **_local_irregularity(rr),
    )


def _local_irregularity(rr: np.ndarray, width: int = 8) -> dict[str, float]:
    """CV and normalised RMSSD in sliding windows of ``width`` intervals: AF stays irregular in every
    window, ectopy and sinus arrhythmia leave regular stretches."""
    if rr.size < width:
        return {"rr_local_cv_min": NAN, "rr_local_cv_median": NAN, "rr_local_nrmssd_min": NAN}
    win = np.lib.stride_tricks.sliding_window_view(rr, width)
    mean = win.mean(axis=1)
    cv = win.std(axis=1) / mean
    rmssd = np.sqrt(np.mean(np.diff(win, axis=1) ** 2, axis=1)) / mean
    return {
        "rr_local_cv_min": float(cv.min()),
        "rr_local_cv_median": float(np.median(cv)),
        "rr_local_nrmssd_min": float(rmssd.min()),
    }


def _beat_matrix(clean: np.ndarray, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beats shaped ``(n, window)`` around R, each minus its own median; and the peaks used."""
    pre, post = int(_PRE * FS), int(_POST * FS)
    ok = peaks[(peaks >= pre) & (peaks + post < clean.size)]
    if ok.size == 0:
        return np.zeros((0, pre + post)), ok
    idx = ok[:, None] + np.arange(-pre, post)[None, :]
    beats = clean[idx]
    beats = beats - np.median(beats, axis=1, keepdims=True)
    return beats, ok


def _rowwise_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean()
    den = np.sqrt((a**2).sum(axis=1) * (b**2).sum())
    return np.where(den > 0, (a @ b) / np.where(den > 0, den, 1.0), 0.0)


def _detrend_rows(seg: np.ndarray) -> np.ndarray:
    """Remove the straight line through the first and last samples of each row."""
    n = seg.shape[-1]
    ramp = np.linspace(0.0, 1.0, n)
    first = seg[..., :1]
    last = seg[..., -1:]
    return seg - (first + (last - first) * ramp)


@lru_cache(maxsize=4)
def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (scipy's ``welch`` default)."""
    return np.asarray(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n))


def welch(x: np.ndarray, nperseg: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density at :data:`FS` (Hann, half overlap, mean removed per segment), equal to
    ``scipy.signal.welch(x, FS, nperseg=min(nperseg, x.size))``. Written out because scipy's own goes
    through a per-segment Python loop since 1.15 that cost 2-3 ms a strip, a third of the feature time."""
    n = min(nperseg, x.size)
    step = n - n // 2
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::step]
    frames = frames - frames.mean(axis=1, keepdims=True)
    win = _hann(n)
    spec = np.abs(np.fft.rfft(frames * win, axis=1)) ** 2
    power = spec.mean(axis=0) / (FS * float(win @ win))
    power[1: n // 2 + (n % 2)] *= 2  # one-sided: every bin but DC (and Nyquist for even n) twice
    return np.fft.rfftfreq(n, 1.0 / FS), power


def _band_share(freqs: np.ndarray, power: np.ndarray, lo: float, hi: float, tot_lo: float,
                tot_hi: float) -> float:
    total = power[(freqs >= tot_lo) & (freqs < tot_hi)].sum()
    if total <= 0:
        return NAN
    return float(power[(freqs >= lo) & (freqs < hi)].sum() / total)


def strip_features(strip: PreparedStrip) -> StripFeatures:
    """All features of a prepared strip."""
    clean, peaks = strip.clean, strip.peaks
    duration = clean.size / FS
    rr = np.diff(peaks) / FS
    rrf = rr_features(rr)

    beats, used = _beat_matrix(clean, peaks)
    pre = int(_PRE * FS)
    p_amp = p_coh = p_corr = qrs_w = r_amp = t_ratio = NAN
    corr_mean = corr_p10 = odd = NAN
    aa_49 = aa_dom = aa_rms = NAN
    if beats.shape[0] >= 3:
        median = np.median(beats, axis=0)
        r_amp = float(np.abs(median[pre]))
        # QRS of the median beat: the contiguous run around R where the slope exceeds 15 % of its peak.
        slope = np.abs(np.diff(median))
        lo_q, hi_q = pre - int(0.12 * FS), pre + int(0.12 * FS)
        seg = slope[lo_q:hi_q]
        above = seg > 0.15 * seg.max() if seg.max() > 0 else np.zeros_like(seg, dtype=bool)
        on = np.flatnonzero(above)
        centre = pre - lo_q
        if on.size:
            # Runs above threshold, merged across gaps up to 20 ms (the slope is 0 at the R peak itself).
            splits = np.flatnonzero(np.diff(on) > int(0.02 * FS)) + 1
            runs = np.split(on, splits)
            run = min(runs, key=lambda r: 0 if r[0] <= centre <= r[-1] else min(abs(r[0] - centre),
                                                                             abs(r[-1] - centre)))
            left, right = int(run[0]), int(run[-1])
        else:
            left = right = centre
        qrs_w = (right - left + 2) * 1000.0 / FS
        # Beat consistency over the QRS window.
        q0, q1 = pre - int(0.08 * FS), pre + int(0.12 * FS)
        corr = _rowwise_corr(beats[:, q0:q1], median[q0:q1])
        corr_mean = float(corr.mean())
        corr_p10 = float(np.percentile(corr, 10))
        odd = float(np.mean(corr < 0.8))
        # P waves.
        p0, p1 = pre - int(_P_FROM * FS), pre - int(_P_TO * FS)
        p_med = _detrend_rows(median[p0:p1])
        p_beats = _detrend_rows(beats[:, p0:p1])
        p_amp = float(np.ptp(p_med) / r_amp) if r_amp > 0 else NAN
        beat_energy = float(np.mean(np.mean(p_beats**2, axis=1)))
        p_coh = float(np.mean(p_med**2) / beat_energy) if beat_energy > 0 else NAN
        p_corr = float(np.mean(_rowwise_corr(p_beats, p_med)))
        t_seg = median[pre + int(0.15 * FS): pre + int(0.45 * FS)]
        t_ratio = float(np.max(np.abs(t_seg)) / r_amp) if r_amp > 0 else NAN
        # Atrial activity: QRST cancellation with the median beat (QRS onset to end of T).
        a0, a1 = pre - int(0.06 * FS), pre + int(0.45 * FS)
        template = median[a0:a1] - np.median(median)
        residual = clean.copy()
        idx = (used[:, None] + np.arange(a0 - pre, a1 - pre)[None, :]).ravel()
        np.subtract.at(residual, idx, np.tile(template, used.size))
        f, pw = welch(residual)
        aa_49 = _band_share(f, pw, 4.0, 9.0, 1.0, 40.0)
        band = (f >= 3.0) & (f <= 12.0)
        aa_dom = float(f[band][np.argmax(pw[band])]) if band.any() else NAN
        aa_rms = float(np.std(residual) / r_amp) if r_amp > 0 else NAN

    # Quality and spectrum of the whole strip.
    raw = strip.raw - np.mean(strip.raw)
    f, pw = welch(raw)
    hf = _band_share(f, pw, 40.0, 150.0, 0.5, 150.0)
    qrs_band = _band_share(f, pw, 5.0, 20.0, 0.5, 40.0)
    pn = pw / pw.sum() if pw.sum() > 0 else np.full_like(pw, 1.0 / pw.size)
    pn = pn[pn > 0]
    spec_ent = float(-(pn * np.log(pn)).sum() / np.log(max(2, pw.size)))
    centred_sq = (clean - clean.mean()) ** 2
    var = float(centred_sq.mean())
    kurt = float(np.dot(centred_sq, centred_sq) / centred_sq.size / var**2) if var > 0 else NAN
    lo_v, hi_v = float(raw.min()), float(raw.max())
    span = hi_v - lo_v
    clipped = float(np.mean((raw <= lo_v + 0.002 * span) | (raw >= hi_v - 0.002 * span))) if span > 0 else 1.0
    edges = np.concatenate([[0], peaks, [clean.size]])
    max_gap = float(np.max(np.diff(edges)) / FS)

    return StripFeatures(
        duration_s=duration,
        n_beats=float(peaks.size),
        hr_bpm=rrf.hr_bpm,
        rr_cv=rrf.rr_cv,
        rr_nrmssd=rrf.rr_nrmssd,
        rr_med_abs_drr=rrf.rr_med_abs_drr,
        rr_frac_drr50=rrf.rr_frac_drr50,
        rr_frac_drr_rel12=rrf.rr_frac_drr_rel12,
        rr_sd1_sd2=rrf.rr_sd1_sd2,
        rr_cosen=rrf.rr_cosen,
        rr_frac_near_median=rrf.rr_frac_near_median,
        rr_min_ratio=rrf.rr_min_ratio,
        rr_max_ratio=rrf.rr_max_ratio,
        rr_p90_p10=rrf.rr_p90_p10,
        rr_drr_lag1_corr=rrf.rr_drr_lag1_corr,
        rr_turning_ratio=rrf.rr_turning_ratio,
        rr_hist_entropy=rrf.rr_hist_entropy,
        rr_cv_trimmed=rrf.rr_cv_trimmed,
        rr_local_cv_min=rrf.rr_local_cv_min,
        rr_local_cv_median=rrf.rr_local_cv_median,
        rr_local_nrmssd_min=rrf.rr_local_nrmssd_min,
        p_amp_ratio=p_amp,
        p_coherence=p_coh,
        p_corr_mean=p_corr,
        qrs_width_ms=qrs_w,
        r_amp_mv=r_amp,
        t_amp_ratio=t_ratio,
        beat_corr_mean=corr_mean,
        beat_corr_p10=corr_p10,
        frac_beats_odd=odd,
        aa_power_4_9=aa_49,
        aa_dom_freq=aa_dom,
        aa_rms_ratio=aa_rms,
        hf_power_ratio=hf,
        qrs_band_ratio=qrs_band,
        spectral_entropy=spec_ent,
        kurtosis=kurt,
        frac_clipped=clipped,
        max_gap_s=max_gap,
        beats_per_s=peaks.size / duration if duration > 0 else NAN,
    )
