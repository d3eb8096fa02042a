"""Rendering the planned beats into samples, one block at a time (vectorised template placement)."""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import signal

# (offset s from the wave's time, width s, amplitude mV): the QRS of each beat kind, and the P waves.
QRS = {
    "N": ((-0.03, 0.010, -0.10), (0.0, 0.011, 1.1), (0.03, 0.010, -0.25)),
    "A": ((-0.03, 0.010, -0.10), (0.0, 0.011, 1.05), (0.03, 0.010, -0.25)),
    "j": ((0.0, 0.012, 1.0), (0.03, 0.010, -0.2)),
    "V": ((-0.01, 0.03, 1.3), (0.05, 0.03, -0.6)),
}
P_NORMAL = ((0.0, 0.022, 0.12),)
P_ABNORMAL = ((0.0, 0.020, -0.08),)
RR_BINS = np.array([0.35, 0.45, 0.55, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0])


def _shape(bumps: tuple[tuple[float, float, float], ...], fs: float,
           span: float = 0.25, lo: float | None = None) -> tuple[np.ndarray, int]:
    """A template sampled at ``fs`` from ``lo`` (default -span) to +span s around its time, and the index
    of time 0."""
    half = int(round(span * fs))
    first = -half if lo is None else int(math.floor(lo * fs))
    t = np.arange(first, half + 1) / fs
    half = -first
    out = np.zeros(t.size)
    for off, width, amp in bumps:
        out += amp * np.exp(-0.5 * ((t - off) / width) ** 2)
    return out, half


def _t_wave(rr: float, kind: str, t_peak: float, fs: float) -> tuple[np.ndarray, int]:
    if kind == "V":
        return _shape(((t_peak + 0.04, 0.07, -0.45),), fs, span=0.75)
    return _shape(((t_peak, 0.05 * max(0.7, math.sqrt(rr)), 0.3),), fs, span=0.75)


def _place(out: np.ndarray, start: int, centres: np.ndarray, template: np.ndarray, zero: int) -> None:
    """Add ``template`` at each centre (sample index in the recording) into the block ``out``."""
    if centres.size == 0:
        return
    idx = centres[:, None] - start - zero + np.arange(template.size)[None, :]
    ok = (idx >= 0) & (idx < out.size)
    out += np.bincount(idx[ok], weights=np.broadcast_to(template, idx.shape)[ok], minlength=out.size)


def render_components(start: int, n: int, fs: float, beat_t: np.ndarray, beat_sym: np.ndarray,
                      beat_rr: np.ndarray, p_t: np.ndarray, p_abnormal: np.ndarray,
                      t_peak_of: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P, QRS, T) single-channel components of samples ``start .. start + n``."""
    lo_t, hi_t = (start - fs) / fs, (start + n + fs) / fs
    sel = (beat_t >= lo_t) & (beat_t < hi_t)
    centres = np.round(beat_t[sel] * fs).astype(np.int64)
    syms, rrs = beat_sym[sel], beat_rr[sel]
    p_comp, q_comp, t_comp = np.zeros(n), np.zeros(n), np.zeros(n)
    for kind, bumps in QRS.items():
        mine = syms == kind
        if mine.any():
            template, zero = _shape(bumps, fs, span=0.15)
            _place(q_comp, start, centres[mine], template, zero)
            bins = np.digitize(np.clip(rrs[mine], RR_BINS[0], RR_BINS[-1]), RR_BINS)
            for b in np.unique(bins):
                rr = float(RR_BINS[min(b, RR_BINS.size - 1)])
                template, zero = _t_wave(rr, kind, t_peak_of(rr), fs)  # type: ignore[operator]
                _place(t_comp, start, centres[mine][bins == b], template, zero)
    psel = (p_t >= lo_t) & (p_t < hi_t)
    for abnormal, bumps in ((False, P_NORMAL), (True, P_ABNORMAL)):
        mine = psel & (p_abnormal == abnormal)
        if mine.any():
            template, zero = _shape(bumps, fs, span=0.1)
            _place(p_comp, start, np.round(p_t[mine] * fs).astype(np.int64), template, zero)
    return p_comp, q_comp, t_comp


#: Atrial flutter cycle (300/min) and the delay from a flutter wave to the QRS it conducts.
FLUTTER_CYCLE_S = 0.2
FLUTTER_AV_S = 0.24


def shared_noise(start: int, n: int, fs: float, af_mask: np.ndarray,
                 flutter_mask: np.ndarray | None = None) -> np.ndarray:
    """Baseline wander (continuous in absolute time), AF fibrillatory waves and atrial flutter's sawtooth
    (0.15 mV, on the absolute FLUTTER_CYCLE_S grid), the same on every lead."""
    t = (start + np.arange(n)) / fs
    # Phases from absolute time (seconds, float64) so blocks join without a step. The wander (< 0.3 Hz) is
    # computed on an absolute 0.1 s grid and interpolated: the same values at the grid points in every block.
    grid = np.arange(math.floor(t[0] * 10.0), math.ceil(t[-1] * 10.0) + 1) / 10.0
    coarse = (0.08 * np.sin(2 * np.pi * 0.05 * grid + 1.3) + 0.05 * np.sin(2 * np.pi * 0.13 * grid + 0.4)
              + 0.03 * np.sin(2 * np.pi * 0.27 * grid + 2.1))
    wander = np.interp(t, grid, coarse)
    if af_mask.any():
        on = af_mask > 0
        wander[on] += 0.05 * np.sin(2 * np.pi * (6.0 * t[on] + 0.3 * np.sin(2 * np.pi * 0.7 * t[on])))
    if flutter_mask is not None and flutter_mask.any():
        on = flutter_mask > 0
        phase = np.mod(t[on] / FLUTTER_CYCLE_S, 1.0)
        # the sawtooth of lead II: a slow descent, then a quick return
        wander[on] += 0.15 * np.where(phase < 0.8, 0.5 - phase / 0.8, -0.5 + (phase - 0.8) / 0.2)
    return wander


@functools.lru_cache(maxsize=8)
def _emg_filter(fs: float) -> np.ndarray:
    sos = signal.butter(2, [20.0, min(100.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
    return np.asarray(sos, dtype=np.float32)


def lead_noise(n: int, fs: float, rng: np.random.Generator, noise_mask: np.ndarray) -> np.ndarray:
    """White instrument noise and muscle (EMG, 20-100 Hz) noise: short readable bursts (patient movement,
    1-3 a block, 2-8 s) and strong noise inside noise episodes."""
    emg = signal.sosfilt(_emg_filter(fs), rng.standard_normal(n, dtype=np.float32))
    level = 0.015 + 0.35 * noise_mask
    for _ in range(int(rng.integers(1, 4))):
        length = int(rng.uniform(2.0, 8.0) * fs)
        at = int(rng.integers(0, max(1, n - length)))
        ramp = np.sin(np.linspace(0.0, np.pi, min(length, n - at)))  # swells and fades
        level[at:at + ramp.size] += 0.05 * ramp
    return 0.012 * rng.standard_normal(n, dtype=np.float32) + emg * level


def span_mask(start: int, n: int, fs: float, spans: list[tuple[float, float]]) -> np.ndarray:
    mask = np.zeros(n)
    for a, b in spans:
        lo, hi = max(0, int(a * fs) - start), min(n, int(b * fs) - start)
        if hi > lo:
            mask[lo:hi] = 1.0
    return mask
