"""Signal quality per epoch: lead-off (flat, railed, missing) and noise, and the analyzable time.

Each ``epoch_s`` epoch (10 s by default) of the analysed lead gets one :class:`EpochState`, computed with
vectorised statistics over an ``(n_epochs, epoch_len)`` view of the samples:

- **lead off**: peak-to-peak range below ``flat_range_mv``, samples not finite, at least
  ``rail_fraction`` of the samples sitting on the epoch's extreme value (a railed amplifier), or any
  ``const_block_s`` stretch constant within ``const_range_mv`` (an electrode off for part of the epoch;
  recorded baseline, even in a long pause, always moves by more than that);
- **noise**: in either half of the epoch, kurtosis of the first difference below ``noise_kurtosis``
  while its RMS is above ``noise_min_mv`` and above ``noise_hf_ratio`` times the signal's RMS (broadband).
  A clean ECG's slopes are spiky (QRS slopes among quiet
  baseline: kurtosis 10-40 on MIT-BIH and CinC 2017 strips) while broadband muscle or electrode noise
  that swamps the QRS makes them Gaussian (kurtosis 3); the RMS guard keeps a quiet asystole or long
  pause (Gaussian too, but tiny) analyzable, and the broadband test keeps ventricular tachycardia (wide,
  smooth, fast complexes: Gaussian-like slopes too, but slow against its amplitude) analyzable. Or a
  range above ``wander_range_mv`` (motion).

Analyzable time is the length of the analyzable epochs; wear time is the length minus lead-off epochs.
"""

from __future__ import annotations

import numpy as np

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import Episode, EpisodeType, EpochState

#: State codes in the uint8 arrays (index into ``STATE_CHARS``).
ANALYZABLE, NOISE, LEAD_OFF = 0, 1, 2
STATE_CHARS = (EpochState.ANALYZABLE.value, EpochState.NOISE.value, EpochState.LEAD_OFF.value)


def epoch_length(fs: float, config: AnalysisConfig) -> int:
    return max(1, int(round(config.epoch_s * fs)))


def epoch_states(x: np.ndarray, fs: float, config: AnalysisConfig, previous: int | None = None) -> np.ndarray:
    """State code (``ANALYZABLE``, ``NOISE``, ``LEAD_OFF``) of each epoch of ``x`` (mV, 1-D).

    The last epoch may be shorter; one under a second long takes the state of the one before it
    (``previous`` when ``x`` holds only that short epoch, e.g. the last chunk of a recording).
    """
    x = np.asarray(x, dtype=np.float32).ravel()
    n = x.shape[0]
    L = epoch_length(fs, config)
    n_ep = -(-n // L)
    if n == 0:
        return np.zeros(0, dtype=np.uint8)
    states = np.zeros(n_ep, dtype=np.uint8)
    n_full = n // L
    if n_full:
        states[:n_full] = _states_full(x[: n_full * L].reshape(n_full, L), config)
    if n_full < n_ep:
        tail = x[n_full * L :]
        if tail.shape[0] >= max(fs, 2):
            states[n_full] = _states_full(tail.reshape(1, -1), config)[0]
        elif n_full:
            states[n_full] = states[n_full - 1]
        elif previous is not None:
            states[n_full] = previous
        elif tail.shape[0] >= 2:
            states[n_full] = _states_full(tail.reshape(1, -1), config)[0]
        else:
            states[n_full] = LEAD_OFF  # a single sample: nothing to judge
    return states


def _states_full(ep: np.ndarray, config: AnalysisConfig) -> np.ndarray:
    finite = np.isfinite(ep).all(axis=1)
    if not finite.all():
        ep = np.where(np.isfinite(ep), ep, 0.0).astype(np.float32)
    hi = ep.max(axis=1)
    lo = ep.min(axis=1)
    rng = hi - lo
    at_rail = np.maximum((ep == hi[:, None]).mean(axis=1), (ep == lo[:, None]).mean(axis=1))
    d = np.diff(ep, axis=1)
    d *= d
    # statistics per half epoch, so noise filling half an epoch is not hidden by a clean half
    half = d.shape[1] // 2
    d = d[:, : 2 * half].reshape(d.shape[0], 2, half) if half >= 1 else d[:, None, :]
    m2 = d.mean(axis=2, dtype=np.float64)
    d *= d
    m4 = d.mean(axis=2, dtype=np.float64)
    kurtosis = m4 / np.maximum(m2 * m2, 1e-30)
    noisy_half = (kurtosis < config.noise_kurtosis) & (np.sqrt(m2) > config.noise_min_mv)
    if noisy_half.any():
        # broadband? slope RMS against signal RMS: ~1.4 for white noise, ~0.15 for wide, fast, smooth
        # complexes (ventricular tachycardia, which must never be called noise), ~0.3 for a clean ECG
        rows, halves = np.nonzero(noisy_half)
        h = max(half, 1)
        seg = np.stack(
            [ep[r, k * h : (k + 1) * h + 1] for r, k in zip(rows.tolist(), halves.tolist(), strict=True)]
        )
        ratio = np.sqrt(m2[rows, halves]) / np.maximum(seg.std(axis=1), 1e-12)
        noisy_half[rows, halves] = ratio > config.noise_hf_ratio
    # a constant stretch of ``const_block_s`` anywhere: electrode off (a real pause is never constant)
    L = ep.shape[1]
    k = max(2, int(round(config.const_block_s * L / config.epoch_s)))
    n_blocks = L // k
    if n_blocks:
        blocks = ep[:, : n_blocks * k].reshape(ep.shape[0], n_blocks, k)
        constant = ((blocks.max(axis=2) - blocks.min(axis=2)) < config.const_range_mv).any(axis=1)
    else:
        constant = np.zeros(ep.shape[0], dtype=bool)
    lead_off = ~finite | (rng < config.flat_range_mv) | (at_rail >= config.rail_fraction) | constant
    noise = noisy_half.any(axis=1) | (rng > config.wander_range_mv)
    out = np.where(noise, NOISE, ANALYZABLE).astype(np.uint8)
    out[lead_off] = LEAD_OFF
    return out


def is_noise(x: np.ndarray, config: AnalysisConfig) -> bool:
    """The epoch noise test on one short segment (e.g. the span of a run, to check it is not noise at
    the edge of a noisy stretch that its epoch's statistics did not catch)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 8 or not np.isfinite(x).all():
        return False
    d2 = np.diff(x) ** 2
    m2 = float(d2.mean())
    if m2 <= 0:
        return False
    kurtosis = float((d2 * d2).mean()) / (m2 * m2)
    ratio = np.sqrt(m2) / max(float(x.std()), 1e-12)
    return (
        kurtosis < config.noise_kurtosis
        and np.sqrt(m2) > config.noise_min_mv
        and ratio > config.noise_hf_ratio
    )


def states_to_string(states: np.ndarray) -> str:
    """Compact one-character-per-epoch form for :class:`~ecgdesk.analysis.findings.QualityEpochs`."""
    table = np.frombuffer("".join(STATE_CHARS).encode(), dtype=np.uint8)
    return table[np.asarray(states, dtype=np.intp)].tobytes().decode()


def epoch_seconds(states: np.ndarray, n_samples: int, fs: float, config: AnalysisConfig) -> np.ndarray:
    """Length in seconds of each epoch (the last one may be shorter)."""
    L = epoch_length(fs, config)
    lengths = np.full(states.shape[0], L / fs)
    if states.shape[0]:
        lengths[-1] = (n_samples - L * (states.shape[0] - 1)) / fs
    return lengths


def analyzable_seconds(states: np.ndarray, n_samples: int, fs: float, config: AnalysisConfig) -> float:
    lengths = epoch_seconds(states, n_samples, fs, config)
    return float(lengths[states == ANALYZABLE].sum())


def wear_seconds(states: np.ndarray, n_samples: int, fs: float, config: AnalysisConfig) -> float:
    lengths = epoch_seconds(states, n_samples, fs, config)
    return float(lengths[states != LEAD_OFF].sum())


def sample_analyzable(
    samples: np.ndarray, states: np.ndarray, fs: float, config: AnalysisConfig
) -> np.ndarray:
    """Whether each sample index lies in an analyzable epoch."""
    if states.shape[0] == 0:
        return np.zeros(np.shape(samples), dtype=bool)
    idx = np.minimum(np.asarray(samples, dtype=np.int64) // epoch_length(fs, config), states.shape[0] - 1)
    return np.asarray(states[idx] == ANALYZABLE)


def quality_episodes(states: np.ndarray, n_samples: int, fs: float, config: AnalysisConfig) -> list[Episode]:
    """NOISE and LEAD_OFF episodes: runs of epochs in those states."""
    L = epoch_length(fs, config)
    out: list[Episode] = []
    for code, kind in ((NOISE, EpisodeType.NOISE), (LEAD_OFF, EpisodeType.LEAD_OFF)):
        for a, b in runs(states == code):
            s0, s1 = a * L, min(b * L, n_samples)
            out.append(
                Episode(kind, s0 / fs, s1 / fs, s0, s1, evidence=f"{b - a} epochs of {config.epoch_s:g} s")
            )
    return out


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index pairs of the runs of True in a 1-D boolean array."""
    m = np.asarray(mask, dtype=np.int8)
    if m.size == 0:
        return []
    edges = np.diff(np.concatenate(([0], m, [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))
