"""Each beat's window as the beat classifier reads it, and the QRS width measured on it.

:func:`beat_windows` gives the smoothed, baseline-corrected samples around each R peak from which
:func:`ecgdesk.analysis.beats.extract_beat_features` takes its 10 ms waveform grid and :func:`qrs_width_ms`
its width; :func:`steep_span_ms` is the width of algorithms up to 0.5.28, which the strips' fast
wide-complex rule was chosen on.
"""

from __future__ import annotations

import numpy as np

#: QRS width (:func:`qrs_width_ms`): the beat's window smoothed once more over WIDTH_SMOOTH_S, slope over
#: +-WIDTH_LAG_S, at least WIDTH_SLOPE_SHARE of the steepest within WIDTH_CORE_S of R; flat stretches up to
#: WIDTH_GAP_S are crossed (the apex of a slurred or notched ventricular QRS). Gap and smoothing chosen on
#: DS1 alone: V / N separation by width clean and with muscle noise at +12 dB, then the S model's
#: leave-one-record-out figures (docs/analysis.md, algorithm 0.5.29).
WIDTH_SMOOTH_S = 0.005
WIDTH_LAG_S = 0.004
WIDTH_SLOPE_SHARE = 0.15
WIDTH_CORE_S = 0.04
WIDTH_GAP_S = 0.04
WIDTH_REACH_S = 0.12


def window_half(fs: float) -> int:
    """Samples either side of R in a beat window: 200 ms and one more (the beat features' window)."""
    return int(np.ceil(0.2 * fs)) + 1


def beat_windows(x: np.ndarray, fs: float, samples: np.ndarray, half: int) -> np.ndarray:
    """Each beat's samples ``-half..+half`` around R as the beats see them: a 10 ms moving average (drops
    noise above ~40 Hz) minus the baseline (1 s moving mean, evaluated on 50 ms block means at the
    window's ends and drawn as a straight line between them). Costs O(beats x window), plus one cheap
    pass of block means, instead of a band-pass over the whole signal."""
    smooth = max(0, int(round(0.005 * fs)))
    offs = np.arange(-half - smooth, half + smooth + 1)
    raw = x[np.clip(samples[:, None] + offs[None, :], 0, x.size - 1)]
    if smooth:
        c = np.concatenate([np.zeros((raw.shape[0], 1)), np.cumsum(raw, axis=1)], axis=1)
        raw = (c[:, 2 * smooth + 1:] - c[:, : -2 * smooth - 1]) / (2 * smooth + 1)
    k = max(1, int(round(0.05 * fs)))
    m = max(1, x.size // k)
    blocks = x[: m * k].reshape(m, k) @ np.full(k, 1.0 / k) if x.size >= k else np.array([x.mean()])
    cb = np.concatenate([[0.0], np.cumsum(blocks)])
    reach = 10  # blocks either side: a 1 s mean

    def baseline(at: np.ndarray) -> np.ndarray:
        b = np.clip(at // k, 0, blocks.size - 1)
        lo, hi = np.maximum(b - reach, 0), np.minimum(b + reach + 1, blocks.size)
        return (cb[hi] - cb[lo]) / (hi - lo)

    start, end = baseline(samples - half), baseline(samples + half)
    ramp = np.linspace(0.0, 1.0, raw.shape[1])
    return raw - (start[:, None] + (end - start)[:, None] * ramp[None, :])


def steep_span_ms(ecg: np.ndarray, fs: float, samples: np.ndarray) -> np.ndarray:
    """Span (ms) from the first to the last sample within WIDTH_REACH_S of each beat's R whose slope is at
    least WIDTH_SLOPE_SHARE of the steepest there: the QRS width of algorithms up to 0.5.28. Continuous
    activity (fibrillation waves) fills the span where :func:`qrs_width_ms` follows one complex; the strips'
    fast wide-complex rule was chosen on it (``strips.ventricular.FAST_WIDE_QRS_MS``)."""
    x = np.nan_to_num(np.asarray(ecg, dtype=np.float64))
    samples = np.asarray(samples, dtype=np.int64)
    if samples.size == 0 or x.size == 0:
        return np.zeros(samples.size)
    half = window_half(fs)
    win = beat_windows(x, fs, samples, half)
    reach = int(round(WIDTH_REACH_S * fs))
    seg = win[:, half - reach - 1: half + reach + 2]
    slope = np.abs(seg[:, 2:] - seg[:, :-2])
    steep = slope >= WIDTH_SLOPE_SHARE * slope.max(axis=1, keepdims=True)
    first = np.argmax(steep, axis=1)
    last = steep.shape[1] - 1 - np.argmax(steep[:, ::-1], axis=1)
    return (last - first) / fs * 1000.0


def qrs_width_ms(win: np.ndarray, half: int, fs: float) -> np.ndarray:
    """QRS width of each beat window (R at column ``half``): the stretch of slope at least
    WIDTH_SLOPE_SHARE of the steepest slope within WIDTH_CORE_S of R, grown from that steepest point
    across flat stretches of at most WIDTH_GAP_S, never past WIDTH_REACH_S either side of R.

    The slope is taken over a fixed time (WIDTH_LAG_S), so a beat measures the same at any sampling rate.
    Grown rather than spanned: a steep sample anywhere in the window (a tall T wave, muscle noise) no
    longer stretches the width to the window's edge. Measured spanned, SVDB 854's normal beats were 70 ms
    wide at its own 128 Hz and 152 ms resampled to 250 Hz (algorithm 0.5.29, docs/analysis.md)."""
    more = int(round(WIDTH_SMOOTH_S / 2 * fs))  # the extra moving average's half-width
    lag = max(1, int(round(WIDTH_LAG_S * fs)))
    reach = int(round(WIDTH_REACH_S * fs))
    core = max(1, int(round(WIDTH_CORE_S * fs)))
    gap = max(1, int(round(WIDTH_GAP_S * fs)))
    span = 2 * (reach + lag) + 1
    wide = win[:, half - reach - lag - more: half + reach + lag + more + 1]
    seg = wide[:, :span].copy()
    for k in range(1, 2 * more + 1):
        seg += wide[:, k: k + span]
    seg /= 2 * more + 1
    slope = np.abs(seg[:, 2 * lag:] - seg[:, :-2 * lag])  # column j is R + (j - reach) samples
    n = slope.shape[1]
    centre = reach - core + np.argmax(slope[:, reach - core: reach + core + 1], axis=1)
    top = slope[np.arange(slope.shape[0]), centre]
    steep = slope >= WIDTH_SLOPE_SHARE * top[:, None]
    idx = np.arange(n, dtype=np.int16)  # a window is a few hundred samples at most: a quarter of int64
    before = np.maximum.accumulate(np.where(steep, idx, np.int16(-1)), axis=1)
    after = np.minimum.accumulate(np.where(steep, idx, np.int16(n))[:, ::-1], axis=1)[:, ::-1]
    joined = steep | ((before >= 0) & (after < n) & (after - before <= gap + 1))
    c = centre[:, None]
    first = np.where(~joined & (idx < c), idx, np.int16(-1)).max(axis=1).astype(np.int64) + 1
    last = np.where(~joined & (idx > c), idx, np.int16(n)).min(axis=1).astype(np.int64) - 1
    return (last - first) / fs * 1000.0
