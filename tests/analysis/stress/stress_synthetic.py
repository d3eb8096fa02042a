"""A small synthetic multi-lead ECG with a known heart-rate schedule and ST level, for exact checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# (centre s relative to R, width s, amplitude mV) of P, Q, R, S, T for a lead with gain 1.
WAVES = ((-0.16, 0.025, 0.12), (-0.025, 0.008, -0.10), (0.0, 0.010, 1.0), (0.025, 0.008, -0.25),
         (0.30, 0.050, 0.30))
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
GAINS = (0.6, 1.0, 0.4, -0.8, 0.3, 0.7, -0.5, 0.4, 0.8, 1.2, 1.1, 0.9)
LAGS_S = (0.004, 0.0, -0.004, 0.002, 0.008, -0.002, -0.008, -0.006, -0.003, 0.001, 0.005, 0.007)


def synthetic_ecg(duration_s: float, fs: float, hr: Callable[[float], float],
                  st_mv: Callable[[float], float] = lambda t: 0.0, seed: int = 0,
                  noise_mv: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Return (signal (n, 12) in mV, beat sample indices). ``st_mv(t)`` shifts the ST segment of V4-V6."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    t_axis = np.arange(n) / fs
    out = np.zeros((n, len(LEADS)))
    beats = []
    t = 0.5
    while t < duration_s - 0.6:
        beats.append(int(round(t * fs)))
        rr = 60.0 / hr(t)
        scale = min(1.0, np.sqrt(rr))  # QT shortens with rate
        lo, hi = int((t - 0.3) * fs), min(n, int((t + 0.6) * fs))
        seg_t = t_axis[lo:hi] - t
        shape = np.zeros(hi - lo)
        for centre, width, amp in WAVES:
            c = centre * scale if centre > 0.1 else centre
            shape += amp * np.exp(-0.5 * ((seg_t - c) / width) ** 2)
        # ST deviation: a plateau from J (40 ms) into the T wave, smooth edges.
        st = st_mv(t)
        rise = 1 / (1 + np.exp(-(seg_t - 0.045) / 0.004))
        fall = 1 / (1 + np.exp((seg_t - 0.22 * scale) / 0.02))
        plateau = st * rise * fall
        for i, gain in enumerate(GAINS):
            # Each lead sees the depolarisation a little earlier or later, as real leads do.
            lead_shape = np.interp(seg_t, seg_t + LAGS_S[i], shape)
            out[lo:hi, i] += gain * lead_shape + (plateau if LEADS[i] in ("V4", "V5", "V6") else 0.0)
        t += rr
    out += rng.normal(0.0, noise_mv, out.shape)
    return out.astype(np.float32), np.asarray(beats)
