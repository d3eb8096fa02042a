"""Synthetic single-lead strips with known beats: sinus (P-QRS-T, steady RR) and AF (no P, f waves,
irregular RR). Seeded; amplitudes in mV."""

from __future__ import annotations

import numpy as np


def _wave(t: np.ndarray, centre: float, width: float, amp: float) -> np.ndarray:
    return amp * np.exp(-0.5 * ((t - centre) / width) ** 2)


def synth_strip(
    rr: np.ndarray,
    fs: float = 300.0,
    p_wave: bool = True,
    f_waves: float = 0.0,
    qrs_sigma: float = 0.012,
    noise: float = 0.01,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Signal and the true R-peak times (s) for the given RR intervals (s); 0.6 s lead-in."""
    rng = np.random.default_rng(seed)
    r_times = 0.6 + np.concatenate([[0.0], np.cumsum(rr)])
    duration = r_times[-1] + 0.8
    t = np.arange(int(duration * fs)) / fs
    x = np.zeros_like(t)
    for r in r_times:
        near = np.abs(t - r) < 0.8
        tt = t[near]
        beat = _wave(tt, r - 0.02, qrs_sigma * 0.8, -0.15) + _wave(tt, r, qrs_sigma, 1.2)
        beat += _wave(tt, r + 0.025, qrs_sigma * 0.8, -0.25) + _wave(tt, r + 0.28, 0.045, 0.3)
        if p_wave:
            beat += _wave(tt, r - 0.16, 0.022, 0.15)
        x[near] += beat
    if f_waves:
        freq = 6.0 + 0.5 * np.sin(2 * np.pi * 0.1 * t)
        x += f_waves * np.sin(2 * np.pi * np.cumsum(freq) / fs + rng.uniform(0, 2 * np.pi))
    x += noise * rng.standard_normal(t.size)
    return x, r_times


def sinus_rr(n: int, rate_bpm: float = 70.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 60.0 / rate_bpm * (1 + 0.02 * rng.standard_normal(n))


def af_rr(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.4, 1.1, n)
