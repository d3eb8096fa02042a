"""QRS detection on one ECG lead: band-pass energy, adaptive thresholds, search-back, R-peak placement.

The method follows Pan & Tompkins (1985) and Hamilton & Tompkins (1986), vectorised with numpy/scipy:

1. NaN samples are no signal (set to zero; no beat is placed there). A 5-20 Hz band-pass keeps the QRS and
   drops wander, most of the P and T energy and mains hum.
2. The squared derivative is integrated over 120 ms: one smooth hump per QRS complex.
3. Candidates are the humps' maxima at least 200 ms apart (the refractory period). A candidate is a beat
   when it exceeds a fraction of the local QRS level: the 90th percentile of the hump maxima in a moving
   8 s window (a few strong beats set it; noise does not). A floor from the median absolute deviation of
   the whole block keeps flat or very quiet stretches free of beats.
4. Search-back: where an RR interval is longer than 1.35x the local median RR, the largest candidate inside
   it that reaches a lower threshold is added (a small or wide beat the first pass missed).
5. Each beat is placed on the R peak: the largest deviation from the local baseline within 80 ms of the
   hump on the 0.5-40 Hz signal, keeping the polarity that dominates the lead.

Amplitude does not matter (every threshold is relative) and any sampling rate from 125 to 1000 Hz works
(every width is in seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from ecgdesk.errors import InputError, check_positive

REFRACTORY_S = 0.2
INTEGRATION_S = 0.12
LEVEL_WINDOW_S = 8.0
THRESHOLD = 0.2
SEARCHBACK_RR = 1.35
SEARCHBACK_THRESHOLD = 0.12
PEAK_WINDOW_S = 0.08


@dataclass(frozen=True)
class QRSResult:
    """R-peak sample indices (sorted, unique) of one lead, and its sampling rate."""

    samples: np.ndarray
    fs: float

    @property
    def times_s(self) -> np.ndarray:
        return self.samples / self.fs

    def __len__(self) -> int:
        return int(self.samples.size)


def _bandpass(x: np.ndarray, fs: float, low: float, high: float) -> np.ndarray:
    high = min(high, 0.45 * fs)
    sos = signal.butter(2, [low, high], btype="band", fs=fs, output="sos")
    if x.size <= 3 * 2 * sos.shape[0]:
        return np.zeros_like(x)
    return signal.sosfiltfilt(sos, x)


def _energy(x: np.ndarray, fs: float) -> np.ndarray:
    band = _bandpass(x, fs, 5.0, 20.0)
    d = np.gradient(band) * fs
    width = max(1, int(round(INTEGRATION_S * fs)))
    return ndimage.uniform_filter1d(d * d, width, mode="nearest")


def _local_level(times: np.ndarray, heights: np.ndarray, window: float) -> np.ndarray:
    """For each candidate, the 90th percentile of the candidate heights within +/- window/2 seconds."""
    level = np.empty_like(heights)
    lo = np.searchsorted(times, times - window / 2)
    hi = np.searchsorted(times, times + window / 2, side="right")
    for i in range(heights.size):
        level[i] = np.percentile(heights[lo[i]:hi[i]], 90)
    return level


def _place_on_r(x: np.ndarray, fs: float, humps: np.ndarray) -> np.ndarray:
    if humps.size == 0:
        return humps
    wide = _bandpass(x, fs, 0.5, 40.0)
    half = max(1, int(round(PEAK_WINDOW_S * fs)))
    offsets = np.arange(-half, half + 1)
    idx = np.clip(humps[:, None] + offsets[None, :], 0, x.size - 1)
    seg = wide[idx]
    seg = seg - np.median(seg, axis=1, keepdims=True)
    # The lead's dominant polarity, decided over all beats, keeps the R peak on the same wave every beat.
    positive = np.median(seg.max(axis=1)) >= np.median(-seg.min(axis=1))
    pick = np.argmax(seg if positive else -seg, axis=1)
    return idx[np.arange(idx.shape[0]), pick]


def detect_qrs(ecg: np.ndarray, fs: float) -> QRSResult:
    """Detect the QRS complexes of a 1-D ECG (mV, any gain) sampled at ``fs`` Hz."""
    fs = check_positive("fs", fs)
    if not 50.0 <= fs <= 10_000.0:
        raise InputError("fs", f"must be a plausible ECG sampling rate (50-10000 Hz), got {fs:g}")
    x = np.asarray(ecg, dtype=np.float64)
    if x.ndim != 1:
        raise InputError("ecg", f"must be one lead (1-D), got shape {x.shape}")
    empty = QRSResult(np.zeros(0, dtype=np.int64), fs)
    if x.size < int(0.5 * fs):
        return empty
    finite = np.isfinite(x)
    if not finite.any():
        return empty
    x = np.where(finite, x, 0.0)
    energy = _energy(x, fs)
    energy[~finite] = 0.0
    distance = max(1, int(round(REFRACTORY_S * fs)))
    candidates, props = signal.find_peaks(energy, distance=distance, height=0.0)
    if candidates.size == 0:
        return empty
    heights = props["peak_heights"]
    # A floor: flat, railed or very quiet stretches must give no beats.
    mad = float(np.median(np.abs(energy - np.median(energy))))
    floor = max(2.0 * mad, 0.01 * float(np.percentile(heights, 99)), 1e-12)
    times = candidates / fs
    level = _local_level(times, heights, LEVEL_WINDOW_S)
    keep = (heights >= THRESHOLD * level) & (heights > floor)
    beats = candidates[keep]
    if beats.size >= 3:
        beats = _search_back(beats, candidates, heights, level, floor, fs)
    beats = _place_on_r(x, fs, beats)
    beats = np.unique(beats)
    if beats.size > 1:  # two humps placed on one R peak, or closer than a refractory period
        beats = beats[np.concatenate([[True], np.diff(beats) >= distance // 2])]
    return QRSResult(beats.astype(np.int64), fs)


def _search_back(beats: np.ndarray, candidates: np.ndarray, heights: np.ndarray, level: np.ndarray,
                 floor: float, fs: float) -> np.ndarray:
    rr = np.diff(beats)
    local = ndimage.median_filter(rr.astype(float), size=min(9, rr.size), mode="nearest")
    added = []
    for i in np.flatnonzero(rr > SEARCHBACK_RR * local):
        a, b = beats[i], beats[i + 1]
        margin = int(REFRACTORY_S * fs)
        inside = (candidates > a + margin) & (candidates < b - margin)
        ok = inside & (heights >= SEARCHBACK_THRESHOLD * level) & (heights > floor)
        if ok.any():
            added.append(candidates[ok][np.argmax(heights[ok])])
    if not added:
        return beats
    return np.sort(np.concatenate([beats, np.asarray(added, dtype=beats.dtype)]))
