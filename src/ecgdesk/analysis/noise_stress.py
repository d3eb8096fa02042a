"""Noise stress tests: real-looking ECG noise added to a clean recording at a known signal-to-noise ratio.

The MIT-BIH Noise Stress Test Database (Moody, Muldrow & Mark 1984) adds three kinds of recorded noise to
clean records in alternating two-minute blocks at 24 ... -6 dB; its ``nst`` program defines the SNR as
``S / N`` with ``S = (QRS peak-to-peak amplitude)^2 / 8`` (the power of a sine of that amplitude) and ``N``
the mean power of the added noise. This module synthesises the three kinds with their published
properties, so the stress can be made on any shared record:

- **baseline wander** (``bw``): respiration (0.12-0.4 Hz, drifting rate and depth) and slow electrode
  drift (a random walk low-passed below 0.5 Hz): almost all power below 1 Hz;
- **muscle artefact** (``ma``): EMG, broadband from about 10 Hz up (a coloured Gaussian process band-passed
  10-150 Hz, capped below Nyquist) whose level swells and fades over seconds (log-normal envelope);
- **electrode motion** (``em``): the hardest for detectors, since its power lies in the QRS band (1-15 Hz):
  bursts of deflections (a skin-stretch step that decays over 0.1-0.8 s, or a biphasic 30-200 ms wobble),
  clustered in time, over a band-limited 1-10 Hz floor.

Each generator returns unit-RMS noise; :func:`add_noise` scales it to the SNR, only where ``mask`` is set.
"""

from __future__ import annotations

import enum

import numpy as np
from scipy import signal

from ecgdesk.errors import InputError, check_positive

#: SNRs of the MIT-BIH noise stress records (dB).
NSTDB_SNRS_DB = (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)


class NoiseKind(enum.StrEnum):
    BASELINE_WANDER = "bw"
    MUSCLE = "ma"
    ELECTRODE_MOTION = "em"


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    rms = float(np.sqrt(np.mean(x * x)))
    return x / rms if rms > 0 else x


def _lowpass_noise(n: int, fs: float, cutoff: float, rng: np.random.Generator) -> np.ndarray:
    sos = signal.butter(2, min(cutoff, 0.45 * fs), btype="low", fs=fs, output="sos")
    lead_in = int(2 * fs)
    return np.asarray(signal.sosfiltfilt(sos, rng.standard_normal(n + 2 * lead_in))[lead_in: lead_in + n])


def baseline_wander(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS baseline wander: breathing at a drifting 0.12-0.4 Hz plus a slow electrode drift."""
    rate = 0.25 + 0.08 * _unit(_lowpass_noise(n, fs, 0.01, rng))
    phase = 2 * np.pi * np.cumsum(np.clip(rate, 0.12, 0.4)) / fs
    depth = np.exp(0.3 * _unit(_lowpass_noise(n, fs, 0.02, rng)))
    breathing = depth * np.sin(phase + rng.uniform(0, 2 * np.pi))
    drift = np.cumsum(rng.standard_normal(n)) / np.sqrt(fs)
    sos = signal.butter(2, [0.02, min(0.5, 0.45 * fs)], btype="band", fs=fs, output="sos")
    drift = np.asarray(signal.sosfiltfilt(sos, drift))
    return _unit(_unit(breathing) + 0.8 * _unit(drift))


def muscle_artifact(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS EMG: 10-150 Hz (below Nyquist) Gaussian noise, tilted to the low end, with a level that
    swells and fades over seconds."""
    high = min(150.0, 0.45 * fs)
    sos = signal.butter(2, [10.0, high], btype="band", fs=fs, output="sos")
    emg = signal.sosfilt(sos, rng.standard_normal(n))
    tilt = signal.butter(1, min(60.0, 0.4 * fs), btype="low", fs=fs, output="sos")
    emg = 0.6 * _unit(np.asarray(emg)) + 0.4 * _unit(np.asarray(signal.sosfilt(tilt, emg)))
    envelope = np.exp(0.5 * _unit(_lowpass_noise(n, fs, 0.3, rng)))
    return _unit(emg * envelope)


def electrode_motion(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS electrode motion: clustered steps and wobbles in the QRS band over a 1-10 Hz floor."""
    out = np.zeros(n)
    duration = n / fs
    # bursts (a movement) every few seconds, each with several deflections
    t = rng.uniform(0, 3.0)
    while t < duration:
        for _ in range(int(rng.integers(1, 6))):
            at = t + rng.exponential(0.35)
            if at >= duration:
                break
            amp = rng.lognormal(0.0, 0.6) * rng.choice([-1.0, 1.0])
            i0 = int(at * fs)
            if rng.random() < 0.5:  # skin stretch: a fast step that decays
                rise, tau = rng.uniform(0.01, 0.04), rng.uniform(0.1, 0.8)
                length = int(min(n - i0, (rise + 5 * tau) * fs))
                s = np.arange(length) / fs
                shape = np.where(s < rise, s / rise, np.exp(-(s - rise) / tau))
            else:  # a biphasic wobble
                width = rng.uniform(0.03, 0.2)
                length = int(min(n - i0, 8 * width * fs))
                s = np.arange(length) / fs - 4 * width
                shape = -s / width * np.exp(-0.5 * (s / width) ** 2)
            out[i0:i0 + length] += amp * shape
        t += rng.exponential(2.5) + 0.5
    sos = signal.butter(2, [1.0, min(10.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
    floor = np.asarray(signal.sosfilt(sos, rng.standard_normal(n)))
    return _unit(_unit(out) + 0.35 * _unit(floor))


GENERATORS = {
    NoiseKind.BASELINE_WANDER: baseline_wander,
    NoiseKind.MUSCLE: muscle_artifact,
    NoiseKind.ELECTRODE_MOTION: electrode_motion,
}


def make_noise(kind: NoiseKind | str, n: int, fs: float, seed: int = 0) -> np.ndarray:
    """``n`` samples of unit-RMS noise of ``kind`` at ``fs`` Hz (reproducible from ``seed``)."""
    fs = check_positive("fs", fs)
    try:
        generator = GENERATORS[NoiseKind(kind)]
    except ValueError:
        raise InputError("kind", f"must be one of {[k.value for k in NoiseKind]}, got {kind!r}") from None
    if n <= 0:
        return np.zeros(0)
    warm = int(2 * fs)  # filter start-up transients fall in a dropped lead-in
    return _unit(generator(int(n) + warm, fs, np.random.default_rng(seed))[warm:])


def signal_power(x: np.ndarray, fs: float, beats: np.ndarray) -> float:
    """``S`` of the NSTDB SNR: (median QRS peak-to-peak amplitude)^2 / 8, over the beats at ``beats``."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64))
    beats = np.asarray(beats, dtype=np.int64)
    beats = beats[(beats >= 0) & (beats < x.size)]
    if beats.size == 0:
        raise InputError("beats", "no beat inside the signal: the QRS amplitude is unknown")
    half = max(1, int(round(0.06 * fs)))
    idx = np.clip(beats[:, None] + np.arange(-half, half + 1)[None, :], 0, x.size - 1)
    amplitude = float(np.median(np.ptp(x[idx], axis=1)))
    return amplitude * amplitude / 8.0


def add_noise(x: np.ndarray, fs: float, beats: np.ndarray, noise: np.ndarray, snr_db: float,
              mask: np.ndarray | None = None) -> np.ndarray:
    """``x`` plus ``noise`` (same length) scaled so that ``S / N`` is ``snr_db`` where ``mask`` is set
    (everywhere when ``None``); ``N`` is the noise's mean power (NSTDB's definition)."""
    x = np.asarray(x, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape != x.shape:
        raise InputError("noise", f"shape {noise.shape} differs from the signal's {x.shape}")
    on = np.ones(x.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    power = float(np.mean(noise[on] ** 2)) if on.any() else 0.0
    if power <= 0:
        return x.copy()
    gain = np.sqrt(signal_power(x, fs, beats) / power / 10.0 ** (snr_db / 10.0))
    return x + np.where(on, gain * noise, 0.0)


def alternating_mask(n: int, fs: float, first_s: float = 300.0, block_s: float = 120.0) -> np.ndarray:
    """NSTDB's layout: clean for ``first_s``, then noise and clean in alternating ``block_s`` blocks."""
    t = np.arange(n) / fs
    return (t >= first_s) & (((t - first_s) // block_s) % 2 == 0)
