"""Signal preparation and R-peak location for short rhythm strips.

Every strip is brought to :data:`FS` (300 Hz, the rate of the handheld recorders the model was trained
on) and band-passed 0.5-40 Hz. R peaks come from :func:`r_peaks`, a Pan-Tompkins style detector
(Pan & Tompkins 1985): 5-18 Hz band-pass, derivative, squaring, 150 ms moving integration, peaks at
least 200 ms apart above a threshold that follows the local signal level (so one large artefact does
not hide the beats of a whole strip), a search back at half threshold in long gaps, and each peak moved
to the largest deflection of the dominant polarity within 80 ms.

It is a strip detector, one call per strip; the ambulatory pipeline's streaming detector
(``ecgdesk.analysis.detection``) is the one to use on long recordings.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal as sps

#: Rate every strip is resampled to before features are computed.
FS = 300


@dataclass(frozen=True)
class PreparedStrip:
    """A strip at :data:`FS`: the raw and the 0.5-40 Hz signal in mV, and its R-peak sample indices."""

    raw: np.ndarray
    clean: np.ndarray
    peaks: np.ndarray
    fs: int = FS

    @property
    def duration_s(self) -> float:
        return self.clean.size / self.fs


@lru_cache(maxsize=8)
def _band(low: float, high: float, fs: int, order: int = 2) -> np.ndarray:
    return np.asarray(sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos"))


def resample_to_fs(ecg: np.ndarray, fs: float) -> np.ndarray:
    """The strip resampled to :data:`FS` (polyphase; unchanged when already at 300 Hz)."""
    x = np.asarray(ecg, dtype=np.float64)
    if abs(fs - FS) < 1e-6:
        return x
    from fractions import Fraction

    ratio = Fraction(FS / fs).limit_denominator(1000)
    return np.asarray(sps.resample_poly(x, ratio.numerator, ratio.denominator))


def clean_signal(x: np.ndarray) -> np.ndarray:
    """0.5-40 Hz zero-phase band-pass of a strip at :data:`FS`."""
    return np.asarray(sps.sosfiltfilt(_band(0.5, 40.0, FS), x))


def _local_level(integ: np.ndarray, fs: int) -> np.ndarray:
    """Per-sample reference level: the median of the 1-s block maxima in a 7-s neighbourhood."""
    block = fs
    n_blocks = max(1, integ.size // block)
    maxima = integ[: n_blocks * block].reshape(n_blocks, block).max(axis=1)
    if integ.size > n_blocks * block:
        maxima = np.append(maxima, integ[n_blocks * block:].max())
    half = 3
    padded = np.pad(maxima, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    level = np.median(windows, axis=1)
    return np.resize(np.repeat(level, block), integ.size)


def _drop_t_waves(peaks: np.ndarray, integ: np.ndarray, fs: int) -> np.ndarray:
    """Drop a peak within 360 ms of the previous kept one when its energy is under half of that beat's."""
    if peaks.size < 2:
        return peaks
    kept = [int(peaks[0])]
    for p in peaks[1:]:
        last = kept[-1]
        if p - last < 0.36 * fs and integ[p] < 0.5 * integ[last]:
            continue
        kept.append(int(p))
    return np.asarray(kept, dtype=peaks.dtype)


def r_peaks(clean: np.ndarray, fs: int = FS) -> np.ndarray:
    """R-peak sample indices of a band-passed strip (see the module docstring for the method)."""
    if clean.size < fs:
        return np.zeros(0, dtype=np.int64)
    qrs = sps.sosfiltfilt(_band(5.0, 18.0, fs), clean)
    slope = np.diff(qrs, prepend=qrs[0]) ** 2
    width = int(0.15 * fs)
    integ = np.convolve(slope, np.ones(width) / width, mode="same")
    level = _local_level(integ, fs)
    candidates, props = sps.find_peaks(integ, distance=int(0.2 * fs), height=0.0)
    heights = props["peak_heights"]
    keep = heights > 0.3 * level[candidates]
    peaks = _drop_t_waves(candidates[keep], integ, fs)
    # Search back in gaps longer than 1.66 median RR with half the threshold.
    if peaks.size >= 3:
        rr = np.diff(peaks)
        med = float(np.median(rr))
        extra: list[int] = []
        for a, b in itertools.pairwise(peaks):
            if b - a > 1.66 * med:
                inside = candidates[(candidates > a + 0.2 * fs) & (candidates < b - 0.2 * fs)]
                if inside.size:
                    best = inside[np.argmax(integ[inside])]
                    if integ[best] > 0.15 * level[best]:
                        extra.append(int(best))
        if extra:
            peaks = np.sort(np.concatenate([peaks, np.asarray(extra, dtype=peaks.dtype)]))
    if peaks.size == 0:
        return np.zeros(0, dtype=np.int64)
    # Move each peak to the largest deflection of the dominant polarity within +-80 ms.
    half = int(0.08 * fs)
    idx = np.clip(peaks[:, None] + np.arange(-half, half + 1)[None, :], 0, clean.size - 1)
    seg = clean[idx]
    base = np.median(clean)
    up = np.median(seg.max(axis=1) - base)
    down = np.median(base - seg.min(axis=1))
    pos = seg.argmax(axis=1) if up >= 0.7 * down else seg.argmin(axis=1)
    refined = idx[np.arange(idx.shape[0]), pos]
    refined = np.unique(refined)
    # A peak on the first or last 50 ms is a filter edge effect or a cut beat: not a beat to time.
    edge = int(0.05 * fs)
    refined = refined[(refined >= edge) & (refined < clean.size - edge)]
    # Two refined peaks closer than 200 ms: keep the larger.
    if refined.size > 1:
        close = np.diff(refined) < int(0.2 * fs)
        if close.any():
            amp = np.abs(clean[refined] - base)
            drop = np.zeros(refined.size, dtype=bool)
            for i in np.flatnonzero(close):
                drop[i if amp[i] < amp[i + 1] else i + 1] = True
            refined = refined[~drop]
    return refined.astype(np.int64)


def prepare(ecg: np.ndarray, fs: float) -> PreparedStrip:
    """Resample, band-pass and detect: what every strip feature starts from."""
    x = resample_to_fs(ecg, fs)
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    clean = clean_signal(x) if x.size > 30 else x - (x.mean() if x.size else 0.0)
    return PreparedStrip(raw=x, clean=clean, peaks=r_peaks(clean, FS))
